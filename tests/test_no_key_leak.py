"""The NVIDIA API key never appears in a log line, exception, report, manifest, checkpoint,
response cache or store -- even when the upstream echoes it back in its error messages."""

from __future__ import annotations

import json
import logging
import traceback
from pathlib import Path

import pytest
from nim_server import CHAT, EMBED, Reply
from scripted_llm import ResearchNIMServer

from conftest import COVERED_QUESTION, SMALL_CORPUS
from sovereign_kernel.app.api import research

KEY = "nvapi" + "-TESTKEY-leakcheck-0123456789abcdefXYZ"  # split so no key-shaped literal is committed
NEEDLES = (KEY.encode(), b"TESTKEY", b"leakcheck-0123456789")


def leaks_in(root: Path) -> list[str]:
    """Every file under ``root`` (SQLite files and their WAL included) that contains the key."""
    found = []
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        data = path.read_bytes()
        found += [f"{path.name}: {needle!r}" for needle in NEEDLES if needle in data]
    return found


@pytest.fixture
def nim_env(tmp_path, monkeypatch):
    """nim mode the way a user configures it: key and self-hosted URL from the environment."""
    with ResearchNIMServer() as srv:
        home = tmp_path / "home"
        for var, value in {"NVIDIA_API_KEY": KEY, "SOVEREIGN_NIM_BASE_URL": srv.base_url, "SOVEREIGN_HOME": str(home),
                           "SOVEREIGN_MAX_RETRIES": "1", "SOVEREIGN_BACKOFF_INITIAL_S": "0.01",
                           "SOVEREIGN_BACKOFF_MAX_S": "0.02"}.items():
            monkeypatch.setenv(var, value)
        yield srv, home


def test_no_key_in_logs_reports_manifests_checkpoints_or_store(nim_env, tmp_path, caplog):
    srv, home = nim_env
    caplog.set_level(logging.DEBUG)
    log_file = tmp_path / "run.log"
    handler = logging.FileHandler(log_file)
    handler.setLevel(logging.DEBUG)
    logging.getLogger().addHandler(handler)
    # A leaky upstream: verifier and synthesizer requests fail with the Authorization header echoed.
    srv.responder = lambda rec: (Reply(status=500, echo_auth=True) if "You check claims against" in rec.text
                                 else Reply(status=401, echo_auth=True) if "You are the SYNTHESIZER" in rec.text
                                 else None)
    events = []
    try:
        result = research(COVERED_QUESTION, corpus=str(SMALL_CORPUS), on_progress=events.append)
    finally:
        logging.getLogger().removeHandler(handler)
        handler.close()
    out = tmp_path / "out"
    result.write(out)

    assert result.manifest["provenance"]["mode"] == "nim"
    sent = srv.requests_to(CHAT)
    assert sent and all(r.had_auth for r in sent)  # the key was used, as a header
    assert any(r.status == 500 for r in sent) and any(r.status == 401 for r in sent)  # and echoed back
    reasons = [f["reason"] for f in result.manifest["fallbacks"]]
    assert any("[500]" in r for r in reasons) and any("[401]" in r or "disabled" in r for r in reasons)

    texts = {"report.md": result.markdown, "manifest": json.dumps(result.manifest), "events": json.dumps(events),
             "caplog": caplog.text, "records": "\n".join(r.getMessage() for r in caplog.records),
             "log file": log_file.read_text(), "repr": repr(result) + result.report.model_dump_json()}
    for name, text in texts.items():
        assert all(n.decode() not in text for n in NEEDLES), name
    assert leaks_in(out) == []
    assert (home / "checkpoints.sqlite").exists() and (home / "store.sqlite").exists()
    assert (home / "llm_responses.sqlite").exists()
    assert leaks_in(home) == []


def test_no_key_in_the_error_or_the_embedder_fallback_of_a_run(nim_env):
    """The embeddings service fails, echoing the key: the client's typed error carries none, and the
    run, which falls back to its local embedder (issue 14, finding 1), records the reason without it."""
    from sovereign_kernel.domain.settings import LLMSettings
    from sovereign_kernel.llm.providers import make_embeddings
    from sovereign_kernel.llm.remote_embeddings import RetryingEmbeddings

    srv, home = nim_env
    srv.script(EMBED, *[Reply(status=500, echo_auth=True)] * 2)
    with pytest.raises(Exception) as failure:
        RetryingEmbeddings(make_embeddings(LLMSettings()), LLMSettings()).embed_query("q")
    text = "".join(traceback.format_exception(failure.value))
    assert "embeddings failed" in text and "[500]" in text
    assert all(n.decode() not in text for n in NEEDLES)

    srv.script(EMBED, *[Reply(status=500, echo_auth=True)] * 4)
    result = research("Which defenses protect CLIP models against typographic attacks in images?", corpus=str(SMALL_CORPUS))
    fallback = result.manifest["provenance"]["models"]["embedder_fallback"]
    assert "[500]" in fallback["reason"] and "Bearer ***" in fallback["reason"]
    text = json.dumps(result.manifest) + result.markdown
    assert all(n.decode() not in text for n in NEEDLES)
    assert any(r.path == EMBED and r.had_auth for r in srv.requests)
    assert leaks_in(home) == []
