"""Durable runs, owner review, corrections and the reproduction gate — real SQLite files, real processes."""

import json
import os
import signal
import subprocess
import sys

import pytest

from conftest import COVERED_QUESTION, SMALL_CORPUS, UNANSWERABLE_QUESTION


def cli(*args, home, check=True, env_extra=None):
    env = {**os.environ, "SOVEREIGN_HOME": str(home), **(env_extra or {})}
    env.pop("NVIDIA_API_KEY", None)
    proc = subprocess.run([sys.executable, "-m", "sovereign_kernel", *args], capture_output=True, text=True,
                          env=env, timeout=300)
    if check:
        assert proc.returncode == 0, proc.stderr
    return proc


def test_escalated_run_waits_then_approve_publishes(tmp_path):
    out = tmp_path / "out"
    first = cli("research", UNANSWERABLE_QUESTION, "--corpus", str(SMALL_CORPUS), "--out", str(out),
                "--run-id", "esc-1", "--quiet", home=tmp_path, check=False)
    assert first.returncode == 3, first.stderr  # waiting for the owner's review
    assert "PENDING_REVIEW" in first.stdout and "sovereign-kernel review esc-1" in first.stdout
    assert json.loads((out / "manifest.json").read_text())["quality_tier"] == "Watchlist"
    pending = cli("list", "--pending", "--json", home=tmp_path)
    assert [r["run_id"] for r in json.loads(pending.stdout)] == ["esc-1"]
    assert "no published reports" in cli("list", home=tmp_path).stdout

    cli("review", "esc-1", "--approve", "--quiet", home=tmp_path)
    assert json.loads(cli("list", "--pending", "--json", home=tmp_path).stdout) == []
    published = json.loads(cli("list", "--json", home=tmp_path).stdout)
    assert len(published) == 1 and published[0]["run_id"] == "esc-1"
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["owner_review"]["action"] == "approve"


def test_reject_archives_with_the_reason(tmp_path):
    from sovereign_kernel.app.api import research, review
    from sovereign_kernel.publishing.store import Store

    paused = research(UNANSWERABLE_QUESTION, corpus=str(SMALL_CORPUS), home=str(tmp_path), run_id="esc-2")
    assert paused.status == "PENDING_REVIEW"
    assert paused.review_request["policy_reasons"] and "tribunal" in paused.review_request
    with pytest.raises(ValueError, match="reason"):
        review("esc-2", "reject", home=str(tmp_path))
    done = review("esc-2", "reject", reason="the corpus cannot answer this", home=str(tmp_path))
    assert done.status == "ARCHIVED"
    run = Store(tmp_path / "store.sqlite").get_run("esc-2")
    assert run.status == "ARCHIVED" and run.reason == "the corpus cannot answer this"
    assert Store(tmp_path / "store.sqlite").list_reports() == []


def test_owner_edit_drops_a_claim_and_publishes(tmp_path):
    from sovereign_kernel.app.api import research, review

    # A publish threshold no draft reaches forces the escalation of a run that has claims.
    paused = research(COVERED_QUESTION, corpus=str(SMALL_CORPUS), home=str(tmp_path), run_id="esc-3",
                      publish_threshold=10.0, max_revision_rounds=0)
    assert paused.status == "PENDING_REVIEW"
    victim = paused.report.claims[0].id
    done = review("esc-3", "edit", drop_claims=[victim], note="C1 overstates the paper", home=str(tmp_path))
    assert done.status == "PUBLISHED"
    assert victim not in {c.id for c in done.report.claims}
    assert len(done.report.claims) == len(paused.report.claims) - 1
    assert any("C1 overstates the paper" in u for u in done.report.uncertainties)
    assert done.manifest["owner_review"]["drop_claims"] == [victim]
    with pytest.raises(ValueError, match="no such claim"):
        research(COVERED_QUESTION, corpus=str(SMALL_CORPUS), home=str(tmp_path), run_id="esc-4",
                 publish_threshold=10.0, max_revision_rounds=0)
        review("esc-4", "edit", drop_claims=["nope#s1"], home=str(tmp_path))


def test_review_takes_the_claim_numbers_report_md_shows(tmp_path):
    out = tmp_path / "out"
    paused_run = cli("research", COVERED_QUESTION, "--corpus", str(SMALL_CORPUS), "--out", str(out), "--json",
                     "--run-id", "esc-5", "--max-revision-rounds", "0", home=tmp_path, check=False,
                     env_extra={"SOVEREIGN_PUBLISH_THRESHOLD": "10"})
    shown = json.loads(paused_run.stdout)
    assert paused_run.returncode == 3 and shown["status"] == "PENDING_REVIEW" and shown["run_id"] == "esc-5"
    paused = json.loads((out / "manifest.json").read_text())
    md = (out / "report.md").read_text()
    c2 = next(line for line in md.splitlines() if line.startswith("| C2 |"))
    bad = cli("review", "esc-5", "--edit", "--drop-claim", "C99", home=tmp_path, check=False)
    assert bad.returncode != 0 and "no such claim(s) in this run: C99" in bad.stderr and "Traceback" not in bad.stderr
    cli("review", "esc-5", "--edit", "--drop-claim", "c2", "--quiet", home=tmp_path)
    manifest = json.loads((out / "manifest.json").read_text())
    dropped = manifest["owner_review"]["drop_claims"]
    assert len(dropped) == 1 and dropped[0] == paused["claim_ids"]["C2"] and manifest["report_id"] != paused["report_id"]
    assert list(paused["claim_ids"]) == [f"C{i}" for i in range(1, len(paused["claim_ids"]) + 1)]
    assert c2.split(" | ")[1] not in (out / "report.md").read_text()  # C2's text is gone from the report


def test_corrections_append_and_show_in_report_and_manifest(tmp_path):
    out = tmp_path / "out"
    cli("research", COVERED_QUESTION, "--corpus", str(SMALL_CORPUS), "--out", str(out), "--quiet",
        "--run-id", "corr-1", home=tmp_path)
    manifest = json.loads((out / "manifest.json").read_text())
    assert cli("show", "corr-1", home=tmp_path).stdout == cli("show", manifest["report_id"], home=tmp_path).stdout
    rid, claim = manifest["report_id"], json.loads(cli("show", manifest["report_id"], "--format", "json",
                                                       home=tmp_path).stdout)["report"]["claims"][1]["id"]
    # the claim as report.md numbers it (C2): the correction records its id
    cli("correct", rid, "--claim", "C2", "--reason", "the number is from a different table", home=tmp_path)
    shown = json.loads(cli("show", rid, "--format", "json", home=tmp_path).stdout)["manifest"]["corrections"]
    assert shown["status"] == "CORRECTED" and shown["count"] == 1 and shown["entries"][0]["claim_id"] == claim
    unknown = cli("correct", rid, "--claim", "C99", "--reason", "no such row", home=tmp_path, check=False)
    assert unknown.returncode != 0 and "has no claim 'C99'" in unknown.stderr
    assert "## Corrections" in cli("show", rid, home=tmp_path).stdout
    cli("correct", rid, "--retract", "--reason", "superseded", home=tmp_path)
    refused = cli("correct", rid, "--claim", claim, "--reason", "again", home=tmp_path, check=False)
    assert refused.returncode != 0 and "retracted" in refused.stderr


def test_reproduce_matches_then_detects_a_tampered_source(tmp_path):
    corpus = tmp_path / "corpus.jsonl"
    corpus.write_text(SMALL_CORPUS.read_text())
    out = tmp_path / "out"
    cli("research", COVERED_QUESTION, "--corpus", str(corpus), "--out", str(out), "--quiet", home=tmp_path)
    manifest = json.loads((out / "manifest.json").read_text())
    rid = manifest["report_id"]
    ok = cli("reproduce", rid, "--json", home=tmp_path)
    assert json.loads(ok.stdout)["verdict"] == "REPRODUCED"
    gate = json.loads(cli("show", rid, "--format", "json", home=tmp_path).stdout)["manifest"]
    assert gate["truth_gate"]["verdict"] == "REPRODUCED" and gate["verification_level"]["level"] == "L4"

    cited = manifest["provenance"]["sources"][0]["id"]
    lines = [json.loads(line) for line in corpus.read_text().splitlines() if line.strip()]
    for rec in lines:
        if rec["id"].split("v")[0] == cited:
            rec["abstract"] = rec["abstract"].replace("typographic", "adversarial", 1) + " Tampered."
    corpus.write_text("\n".join(json.dumps(r) for r in lines) + "\n")
    bad = cli("reproduce", rid, "--json", home=tmp_path, check=False)
    assert bad.returncode == 1
    outcome = json.loads(bad.stdout)
    assert outcome["verdict"] == "DIFFERS"
    assert any(d.startswith(f"source {cited}") for d in outcome["differences"])
    latest = json.loads(cli("show", rid, "--format", "json", home=tmp_path).stdout)["manifest"]["truth_gate"]
    assert latest["verdict"] == "DIFFERS"


def test_sigkilled_run_resumes_without_rerunning_finished_nodes(tmp_path):
    home, out = tmp_path / "home", tmp_path / "out"
    env = {**os.environ, "SOVEREIGN_HOME": str(home)}
    env.pop("NVIDIA_API_KEY", None)
    proc = subprocess.Popen([sys.executable, "-m", "sovereign_kernel", "research", COVERED_QUESTION,
                             "--corpus", str(SMALL_CORPUS), "--out", str(out), "--run-id", "kill-1"],
                            stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True, env=env)
    seen = []
    for line in proc.stderr:
        seen.append(line)
        if "[verify]" in line:  # the extractor is done; kill before the tribunal finishes
            proc.send_signal(signal.SIGKILL)
            break
    proc.wait(timeout=60)
    assert proc.returncode == -signal.SIGKILL and not (out / "report.md").exists()

    resumed = cli("resume", "kill-1", home=home)
    assert "[search" not in resumed.stderr and "[plan]" not in resumed.stderr  # the retriever did not run again
    assert "[publish]" in resumed.stderr
    manifest = json.loads((out / "manifest.json").read_text())

    # The same question, uninterrupted, in a fresh data directory: the same report.
    clean = tmp_path / "clean"
    cli("research", COVERED_QUESTION, "--corpus", str(SMALL_CORPUS), "--out", str(clean), "--quiet",
        home=tmp_path / "home2")
    reference = json.loads((clean / "manifest.json").read_text())
    assert manifest["report_id"] == reference["report_id"]
    assert manifest["content_hash"] == reference["content_hash"]


def test_resume_on_the_postgres_checkpointer(tmp_path):
    from pg_server import find_bin, postgres_server

    if not find_bin("initdb") and not os.environ.get("CI"):
        pytest.skip("PostgreSQL server binaries are not installed (apt-get install postgresql); CI installs them")
    from sovereign_kernel.app.api import research, review

    with postgres_server() as url:
        os.environ["SOVEREIGN_POSTGRES_URL"] = url
        try:
            paused = research(UNANSWERABLE_QUESTION, corpus=str(SMALL_CORPUS), home=str(tmp_path), run_id="pg-1")
            assert paused.status == "PENDING_REVIEW"
            assert not (tmp_path / "checkpoints.sqlite").exists()  # the run lives in Postgres
            done = review("pg-1", "approve", home=str(tmp_path))
            assert done.status == "PUBLISHED" and done.report.report_id == paused.report.report_id
            import psycopg

            with psycopg.connect(url) as conn:  # ended: LangGraph's keep_latest prune left one per namespace
                counts = conn.execute("SELECT checkpoint_ns, COUNT(*) FROM checkpoints WHERE thread_id = 'pg-1'"
                                      " GROUP BY 1").fetchall()
            assert counts and {n for _, n in counts} == {1}
        finally:
            del os.environ["SOVEREIGN_POSTGRES_URL"]


def test_sigkilled_nim_run_resumes_with_no_finished_llm_call_repeated(tmp_path):
    """nim mode against the scripted NIM server: kill the process after the verifier finished,
    resume it in a new process, and count what the server saw."""
    from collections import Counter

    from nim_server import CHAT
    from scripted_llm import ResearchNIMServer, role_of

    home, out = tmp_path / "home", tmp_path / "out"
    with ResearchNIMServer() as srv:
        env = {**os.environ, "SOVEREIGN_HOME": str(home), "SOVEREIGN_NIM_BASE_URL": srv.base_url}
        env.pop("NVIDIA_API_KEY", None)
        proc = subprocess.Popen([sys.executable, "-m", "sovereign_kernel", "research", COVERED_QUESTION,
                                 "--corpus", str(SMALL_CORPUS), "--out", str(out), "--run-id", "kill-nim"],
                                stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True, env=env)
        for line in proc.stderr:
            if "[verify]" in line:  # every planner, extractor and verifier answer is in hand
                proc.send_signal(signal.SIGKILL)
                break
        proc.wait(timeout=60)
        assert proc.returncode == -signal.SIGKILL
        before = len(srv.requests_to(CHAT))

        resumed = subprocess.run([sys.executable, "-m", "sovereign_kernel", "resume", "kill-nim"],
                                 capture_output=True, text=True, env=env, timeout=300)
        assert resumed.returncode == 0, resumed.stderr
        chats = srv.requests_to(CHAT)

    roles = Counter(role_of(r.text) for r in chats)
    assert roles["planner"] >= 1 and roles["extractor"] >= 1 and roles["verifier"] >= 1
    assert len(chats) > before and {"skeptic", "validator", "synthesizer"} <= set(roles)  # resume finished it
    finished = [r.text for r in chats if role_of(r.text) in ("planner", "extractor", "verifier")]
    repeated = [t[:80] for t, n in Counter(finished).items() if n > 1]
    assert repeated == []  # no finished LLM call was sent again
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["provenance"]["mode"] == "nim"


def test_a_finished_run_keeps_one_checkpoint_per_namespace_unless_history_is_asked_for(tmp_path):
    import sqlite3

    from sovereign_kernel.app.api import research, resume

    def checkpoints(home, run_id):
        with sqlite3.connect(home / "checkpoints.sqlite") as db:
            return dict(db.execute("SELECT checkpoint_ns, COUNT(*) FROM checkpoints WHERE thread_id=? GROUP BY 1",
                                   (run_id,)).fetchall())

    pruned, kept = tmp_path / "pruned", tmp_path / "kept"
    done = research(COVERED_QUESTION, corpus=str(SMALL_CORPUS), home=str(pruned), run_id="last-only")
    per_ns = checkpoints(pruned, "last-only")
    assert "" in per_ns and len(per_ns) >= 3 and set(per_ns.values()) == {1}  # root + retriever + extractor
    again = resume("last-only", home=str(pruned))  # the final state is what remains, whole
    assert again.report.report_id == done.report.report_id and again.markdown == done.markdown

    full = research(COVERED_QUESTION, corpus=str(SMALL_CORPUS), home=str(kept), run_id="all-kept",
                    keep_checkpoint_history=True)
    assert sum(checkpoints(kept, "all-kept").values()) > 10
    assert full.report.report_id == done.report.report_id  # an operational setting: same report
