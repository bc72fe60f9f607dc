"""One run id is one run: atomic creation, a lease while it runs, FAILED runs that can be listed,
restarted or resumed, and an output directory checked before the run starts — real processes."""

import json
import contextlib
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time

import pytest

from conftest import COVERED_QUESTION, SMALL_CORPUS

OTHER_QUESTION = "Which defenses protect CLIP against typographic attacks?"


def env_for(home):
    env = {**os.environ, "SOVEREIGN_HOME": str(home)}
    env.pop("NVIDIA_API_KEY", None)
    return env


def cli(*args, home, check=True):
    proc = subprocess.run([sys.executable, "-m", "sovereign_kernel", *args], capture_output=True, text=True,
                          env=env_for(home), timeout=300)
    if check:
        assert proc.returncode == 0, proc.stderr
    return proc


def start(*args, home):
    return subprocess.Popen([sys.executable, "-m", "sovereign_kernel", *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=env_for(home))


def one_error_line(proc) -> str:
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), proc.stderr
    assert "Traceback" not in proc.stderr
    return lines[0]


def run_row(home, run_id):
    with sqlite3.connect(home / "store.sqlite") as db:
        db.row_factory = sqlite3.Row
        return dict(db.execute("SELECT * FROM runs WHERE run_id = ?", (run_id,)).fetchone())


# ---- finding 6: one run id, one run ----------------------------------------------------------

def test_resume_is_refused_while_the_run_is_running_in_another_process(tmp_path):
    home, out = tmp_path / "home", tmp_path / "out"
    first = start("research", COVERED_QUESTION, "--corpus", str(SMALL_CORPUS), "--out", str(out),
                  "--run-id", "busy-1", home=home)
    try:
        for line in first.stderr:
            if "[search" in line:  # the run is under way: freeze it while it holds the run
                first.send_signal(signal.SIGSTOP)
                break
        second = cli("resume", "busy-1", "--quiet", home=home, check=False)
        assert second.returncode != 0
        line = one_error_line(second)
        assert "busy-1" in line and "already running in process" in line and f":{first.pid}:" in line
    finally:
        first.send_signal(signal.SIGCONT)
    rest = first.communicate(timeout=300)
    assert first.returncode == 0, rest[1]
    assert "[plan]" not in second.stderr and not second.stdout  # the loser ran nothing
    row = run_row(home, "busy-1")
    assert row["status"] == "PUBLISHED" and row["owner"] is None  # the lease is released at the end


def test_the_same_run_id_started_twice_at_once_runs_once(tmp_path):
    home = tmp_path / "home"
    procs = [start("research", q, "--corpus", str(SMALL_CORPUS), "--out", str(tmp_path / f"out{i}"), "--quiet",
                   "--run-id", "twin", home=home) for i, q in enumerate((COVERED_QUESTION, OTHER_QUESTION))]
    results = [(p, *p.communicate(timeout=300)) for p in procs]
    won = [i for i, (p, _, _) in enumerate(results) if p.returncode in (0, 3)]  # published or waiting for review
    assert len(won) == 1, [r[2] for r in results]
    loser = results[1 - won[0]]
    assert loser[0].returncode == 2
    line = " ".join(loser[2].split())
    assert loser[2].strip().count("\n") == 0 and "twin" in line and ("already running" in line or "already exists" in line)
    assert not (tmp_path / f"out{1 - won[0]}").exists()
    winner_question = (COVERED_QUESTION, OTHER_QUESTION)[won[0]]
    row = run_row(home, "twin")
    assert row["question"] == winner_question  # the run row and its report are the same run
    manifest = json.loads((tmp_path / f"out{won[0]}" / "manifest.json").read_text())
    assert row["report_id"] == manifest["report_id"]
    assert winner_question in (tmp_path / f"out{won[0]}" / "report.md").read_text()


def test_a_lease_left_by_a_killed_process_is_taken_over_by_resume(tmp_path):
    from sovereign_kernel.publishing.store import Store

    home = tmp_path / "home"
    store = Store(home / "store.sqlite")
    store.create_run("dead-1", COVERED_QUESTION, owner="somehost:1:x", settings={"corpus": str(SMALL_CORPUS)})
    # The same host and a pid that no longer exists: the owner is dead.
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    import socket

    with sqlite3.connect(home / "store.sqlite") as db:
        db.execute("UPDATE runs SET owner = ? WHERE run_id = 'dead-1'", (f"{socket.gethostname()}:{dead.stdout.strip()}:t",))
    refused = cli("research", COVERED_QUESTION, "--run-id", "dead-1", "--quiet", "--out", str(tmp_path / "o"),
                  home=home, check=False)
    assert refused.returncode != 0 and "already exists" in one_error_line(refused)
    taken = store.acquire_lease("dead-1", "me:2:y")
    assert taken.owner == "me:2:y"


# ---- finding 7: failed runs ------------------------------------------------------------------

def test_a_failed_run_is_marked_listed_and_resumed_after_fixing_the_cause(tmp_path):
    home, out = tmp_path / "home", tmp_path / "out"
    corpus = tmp_path / "papers.jsonl"  # a typo'd path: it does not exist yet
    bad = cli("research", COVERED_QUESTION, "--corpus", str(corpus), "--out", str(out), "--quiet",
              "--run-id", "typo-1", home=home, check=False)
    assert bad.returncode == 2 and str(corpus) in one_error_line(bad)
    row = run_row(home, "typo-1")
    assert row["status"] == "FAILED" and str(corpus) in row["reason"] and "\n" not in row["reason"]
    assert row["owner"] is None
    failed = json.loads(cli("list", "--failed", "--json", home=home).stdout)
    assert [(r["run_id"], r["status"]) for r in failed] == [("typo-1", "FAILED")] and str(corpus) in failed[0]["reason"]
    assert "typo-1" in cli("list", "--failed", home=home).stdout

    corpus.write_text(SMALL_CORPUS.read_text())  # fix the cause, then resume
    resumed = cli("resume", "typo-1", "--quiet", home=home)
    assert "PUBLISHED" in resumed.stdout and (out / "report.md").exists()
    assert run_row(home, "typo-1")["status"] == "PUBLISHED"
    assert json.loads(cli("list", "--failed", "--json", home=home).stdout) == []


def test_restart_starts_a_failed_run_over_under_the_same_id(tmp_path):
    home, out = tmp_path / "home", tmp_path / "out"
    missing = tmp_path / "nope.jsonl"
    cli("research", COVERED_QUESTION, "--corpus", str(missing), "--out", str(out), "--quiet", "--run-id", "again",
        home=home, check=False)
    taken = cli("research", COVERED_QUESTION, "--corpus", str(SMALL_CORPUS), "--out", str(out), "--quiet",
                "--run-id", "again", home=home, check=False)
    line = one_error_line(taken)
    assert "already exists" in line and "FAILED" in line and "--restart" in line
    done = cli("research", OTHER_QUESTION, "--corpus", str(SMALL_CORPUS), "--out", str(out), "--quiet",
               "--run-id", "again", "--restart", home=home, check=False)
    row = run_row(home, "again")
    assert done.returncode == (3 if row["status"] == "PENDING_REVIEW" else 0), done.stderr
    assert f"run again: {row['status']}" in done.stdout and row["status"] in ("PUBLISHED", "PENDING_REVIEW")
    assert row["question"] == OTHER_QUESTION and row["owner"] is None
    assert json.loads((out / "manifest.json").read_text())["report_id"] == row["report_id"]


# ---- finding 8: the output directory ---------------------------------------------------------

@pytest.mark.parametrize("kind", ["file", "figure-is-a-dir"])
def test_a_bad_out_is_refused_before_the_run_starts(tmp_path, kind):
    home = tmp_path / "home"
    out = tmp_path / "out"
    if kind == "file":
        out.write_text("not a directory")
    else:
        (out / "figure.png").mkdir(parents=True)
    proc = cli("research", COVERED_QUESTION, "--corpus", str(SMALL_CORPUS), "--out", str(out), "--run-id", "o-1",
               home=home, check=False)
    assert proc.returncode == 2
    line = one_error_line(proc)
    assert str(out) in line
    assert "[plan]" not in proc.stderr  # nothing ran
    assert not (home / "store.sqlite").exists() or cli("list", "--json", home=home).stdout.strip() == "[]"


def test_a_read_only_out_is_refused_before_the_run_starts(tmp_path):
    home, parent = tmp_path / "home", tmp_path / "ro"
    with read_only(parent):
        proc = unprivileged(["research", COVERED_QUESTION, "--corpus", str(SMALL_CORPUS), "--out",
                             str(parent / "out")], home=home)
    assert proc.returncode == 2, proc.stderr
    line = one_error_line(proc)
    assert str(parent / "out") in line and "[plan]" not in proc.stderr


@contextlib.contextmanager
def read_only(directory):
    """``directory`` (created) without write permission for the duration, then writable again."""
    directory.mkdir(exist_ok=True)
    directory.chmod(0o555)
    try:
        yield directory
    finally:
        directory.chmod(0o755)


def unprivileged(args, home):
    """The CLI without the power to ignore file permissions (as root: CAP_DAC_OVERRIDE dropped)."""
    import shutil

    prefix = []
    if os.geteuid() == 0:
        # setpriv is util-linux (essential on Debian): without it these tests would prove nothing, so fail
        assert shutil.which("setpriv"), "running as root without setpriv: file permissions cannot be enforced"
        caps = "-dac_override,-dac_read_search,-fowner"
        prefix = ["setpriv", f"--inh-caps={caps}", f"--bounding-set={caps}"]
    return subprocess.run([*prefix, sys.executable, "-m", "sovereign_kernel", *args], capture_output=True, text=True,
                          env=env_for(home), timeout=300)


def test_writers_of_one_out_dir_use_their_own_temporary_files(run_research, tmp_path, monkeypatch):
    """Two writers of the same --out, synchronised at every rename: with one shared temporary name
    the second rename finds its file already moved away."""
    result = run_research(COVERED_QUESTION)
    out = tmp_path / "shared"
    barrier = threading.Barrier(2, timeout=20)
    real_replace = os.replace

    def synchronised_replace(src, dst, *a, **k):
        barrier.wait()
        return real_replace(src, dst, *a, **k)

    monkeypatch.setattr(os, "replace", synchronised_replace)
    errors = []

    def write():
        try:
            result.write(out)
        except Exception as exc:  # noqa: BLE001 - recorded for the assertion
            errors.append(exc)
            barrier.abort()

    threads = [threading.Thread(target=write) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert errors == []
    assert sorted(p.name for p in out.iterdir()) == ["figure.png", "literature.png", "manifest.json", "report.html",
                                                     "report.md"]
    assert json.loads((out / "manifest.json").read_text())["report_id"] == result.report.report_id


# ---- helpers used by the lease tests ---------------------------------------------------------

def test_heartbeat_keeps_a_lease_and_a_stale_one_can_be_taken(tmp_path):
    from sovereign_kernel.domain.errors import RunError
    from sovereign_kernel.publishing.store import Store

    store = Store(tmp_path / "store.sqlite")
    import socket

    me = f"{socket.gethostname()}:{os.getpid()}:a"
    store.create_run("hb", COVERED_QUESTION, owner=me)
    with pytest.raises(RunError, match=f"already running in process {me}"):
        store.acquire_lease("hb", f"{socket.gethostname()}:{os.getpid()}:b")
    assert store.heartbeat("hb", me) is True
    with sqlite3.connect(tmp_path / "store.sqlite") as db:  # a heartbeat long ago: stale
        db.execute("UPDATE runs SET heartbeat = ? WHERE run_id = 'hb'", (time.time() - 3600,))
    assert store.acquire_lease("hb", "other:1:c").owner == "other:1:c"
    assert store.heartbeat("hb", me) is False  # the old owner learns it lost the run
