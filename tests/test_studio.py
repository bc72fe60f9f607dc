"""LangGraph Studio: ``langgraph dev`` serves the graph from ``langgraph.json`` and a real
``langgraph-sdk`` client runs it with per-run settings, streaming its progress events.

The server runs with blockbuster on (no ``--allow-blocking``), so a blocking call in a node
would fail the run.
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from langgraph_sdk import get_client

from conftest import COVERED_QUESTION, SMALL_CORPUS

ROOT = Path(__file__).resolve().parents[1]
LANGGRAPH = Path(sys.executable).with_name("langgraph")
READY_TIMEOUT = 90.0
RUN_TIMEOUT = 120.0


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _tail(path: Path, n: int = 60) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-n:])
    except OSError:
        return ""


@pytest.fixture
def dev_server(tmp_path):
    """``langgraph dev`` on 127.0.0.1:<free port>, cwd in tmp, SOVEREIGN_HOME a directory that does
    not exist yet (a new user's first run: caches, store and all go there); always stopped."""
    assert LANGGRAPH.exists(), f"langgraph CLI not found next to {sys.executable} (install langgraph-cli[inmem])"
    port = _free_port()
    home = tmp_path / "new-user" / "sovereign-home"
    workdir = tmp_path / "server"  # langgraph dev keeps its .langgraph_api/ store in its cwd
    workdir.mkdir()
    log = tmp_path / "langgraph-dev.log"
    env = {
        **os.environ,
        "SOVEREIGN_HOME": str(home),
        "LANGGRAPH_CLI_NO_ANALYTICS": "1",
        "LANGGRAPH_NO_VERSION_CHECK": "true",
        "LANGSMITH_TRACING": "false",
        "LANGCHAIN_TRACING_V2": "false",
        "PYTHONUNBUFFERED": "1",
    }
    env.pop("NVIDIA_API_KEY", None)
    env.pop("SOVEREIGN_CACHE_DIR", None)
    cmd = [str(LANGGRAPH), "dev", "--config", str(ROOT / "langgraph.json"), "--host", "127.0.0.1",
           "--port", str(port), "--no-browser", "--no-reload"]
    with log.open("wb") as out:
        proc = subprocess.Popen(cmd, cwd=workdir, env=env, stdout=out, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + READY_TIMEOUT
        while True:
            if proc.poll() is not None:
                pytest.fail(f"langgraph dev exited with {proc.returncode}:\n{_tail(log)}")
            try:
                if httpx.get(f"{url}/ok", timeout=2.0).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"langgraph dev not ready after {READY_TIMEOUT:.0f} s:\n{_tail(log)}")
            time.sleep(0.3)
        yield url, log, home
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)  # our own session: the server and anything it started
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=5)


async def _run_in_studio(url: str) -> dict:
    client = get_client(url=url)
    assistants = await client.assistants.search(graph_id="sovereign")
    assert assistants, "the graph from langgraph.json is not registered"
    schemas = await client.assistants.get_schemas(assistants[0]["assistant_id"])
    context_fields = (schemas.get("context_schema") or {}).get("properties", {})

    thread = await client.threads.create()
    progress, errors, last_values = [], [], None
    context = {"corpus": str(SMALL_CORPUS), "max_papers": 5}  # per-run settings, as Studio sends them
    async for part in client.runs.stream(
        thread["thread_id"], "sovereign", input={"question": COVERED_QUESTION}, context=context,
        stream_mode=["custom", "values"], stream_subgraphs=True,
    ):
        mode = part.event.split("|", 1)[0]
        if mode == "custom":
            progress.append(part.data)
        elif part.event == "values":  # the parent graph's state (subgraph values come as values|ns)
            last_values = part.data
        elif mode == "error":
            errors.append(part.data)
    state = await client.threads.get_state(thread["thread_id"])
    return {"context_fields": context_fields, "progress": progress, "errors": errors,
            "last_values": last_values, "state": state}


def test_langgraph_dev_runs_the_graph_with_per_run_settings(dev_server):
    url, log, home = dev_server
    assert not home.exists()
    out = asyncio.run(asyncio.wait_for(_run_in_studio(url), RUN_TIMEOUT))
    server_log = log.read_text(errors="replace")
    assert not out["errors"], f"run failed: {out['errors']}\n{_tail(log)}"
    assert "BlockingError" not in server_log, _tail(log, 120)

    # Studio's settings form: every setting is a top-level, editable context field.
    for name in ("corpus", "max_papers", "relevance_gate", "revision_threshold", "sources"):
        assert name in out["context_fields"], sorted(out["context_fields"])

    # Progress events from the parent graph and from inside the retriever/extractor subgraphs.
    stages = [e.get("stage") for e in out["progress"] if isinstance(e, dict)]
    for stage in ("plan", "search", "rank", "extract", "verify", "draft", "review", "judge", "publish"):
        assert stage in stages, stages
    assert any(e.get("stage") == "search" and e.get("hits", 0) > 0 for e in out["progress"])

    # The final state holds the report, and the per-run settings were the ones used.
    values = out["state"]["values"]
    report, manifest = values["report"], values["manifest"]
    assert report["claims"], "the report has no claims"
    assert all(c["source_span"]["text"] for c in report["claims"])
    assert report["question"] == COVERED_QUESTION
    assert values["report_markdown"].startswith("# ")
    assert "| # | Claim | Grounded (own source) | Corroborated by |" in values["report_markdown"]
    assert str(SMALL_CORPUS) in report["methodology"]["corpus"]
    assert manifest["provenance"]["settings"]["retriever"]["max_papers"] == 5
    assert report["results"]["papers_kept"] <= 5
    assert out["last_values"] and out["last_values"].get("report", {}).get("report_id") == report["report_id"]
    # The data directory was created off the event loop, and holds the run's caches and the store.
    assert (home / "store.sqlite").is_file() and (home / "vectors.sqlite").is_file()


async def _review_in_studio(url: str) -> dict:
    """An escalated run in Studio, resumed first with decisions that cannot apply, then with one that can."""
    client = get_client(url=url)
    thread = await client.threads.create()
    context = {"corpus": str(SMALL_CORPUS), "publish_threshold": 10.0, "max_revision_rounds": 0}
    await client.runs.wait(thread["thread_id"], "sovereign", input={"question": COVERED_QUESTION}, context=context)

    async def waiting_for() -> list:
        state = await client.threads.get_state(thread["thread_id"])
        return [i["value"] for t in state["tasks"] for i in t.get("interrupts", [])]

    asked = [await waiting_for()]
    for bad in ({"action": "reject"}, {"action": "edit", "drop_claims": ["nope#s1"]}, {"action": "shred"}):
        await client.runs.wait(thread["thread_id"], "sovereign", command={"resume": bad}, context=context)
        asked.append(await waiting_for())
    final = await client.runs.wait(thread["thread_id"], "sovereign", context=context,
                                   command={"resume": {"action": "edit", "drop_claims": ["C1"], "note": "C1 overstates"}})
    return {"asked": asked, "final": final, "after": await waiting_for()}


def test_a_bad_owner_decision_in_studio_asks_again_and_a_good_one_still_publishes(dev_server):
    url, log, _home = dev_server
    out = asyncio.run(asyncio.wait_for(_review_in_studio(url), RUN_TIMEOUT * 2))
    first, *refused = out["asked"]
    assert len(first) == 1 and "error" not in first[0] and first[0]["report_id"].startswith("SRK-")
    errors = [r[0].get("error", "") for r in refused]
    assert "rejecting a run needs a reason" in errors[0]
    assert "no such claim(s) in this run: nope#s1" in errors[1]
    assert errors[2].startswith("invalid decision (action:")
    assert out["after"] == []  # the valid decision ended the wait: the thread is not in error
    final = out["final"]
    assert final["manifest"]["owner_review"]["action"] == "edit"
    dropped = final["manifest"]["owner_review"]["drop_claims"]
    assert len(dropped) == 1 and "#" in dropped[0]  # "C1" became the claim's id
    assert dropped[0] not in {c["id"] for c in final["report"]["claims"]}
    assert "Traceback" not in log.read_text(errors="replace")
