"""SQLite files that cannot be used: one line that says what failed, which file and what to do —
never a traceback. A corrupt cache is rebuilt; a corrupt store or checkpoint database never is."""

import os
import sqlite3
import subprocess
import sys

import pytest
from test_run_lifecycle import one_error_line, read_only, unprivileged

from conftest import COVERED_QUESTION, SMALL_CORPUS


def cli(*args, home, cache=None, check=False, env=None):
    env = {**os.environ, "SOVEREIGN_HOME": str(home), **(env or {})}
    if cache is not None:
        env["SOVEREIGN_CACHE_DIR"] = str(cache)
    env.pop("NVIDIA_API_KEY", None)
    proc = subprocess.run([sys.executable, "-m", "sovereign_kernel", *args], capture_output=True, text=True,
                          env=env, timeout=300)
    if check:
        assert proc.returncode == 0, proc.stderr
    return proc


GARBAGE = b"this is not a database, it is a torn copy " * 200
# The cache tests run cold by design (a locked or corrupt cache): fewer papers and no rerank keep them
# short, and the cache's handling, all they check, is the same.
SMALL_RUN = {"SOVEREIGN_MAX_PAPERS": "3", "SOVEREIGN_RERANK_DEPTH": "0"}


def test_a_read_only_data_directory_is_one_line(tmp_path):
    with read_only(tmp_path / "home") as home:
        proc = unprivileged(["research", COVERED_QUESTION, "--corpus", str(SMALL_CORPUS), "--out",
                             str(tmp_path / "o")], home=home)
    line = one_error_line(proc)
    assert proc.returncode == 2
    assert "store.sqlite" in line and "not a SQLite store" not in line
    assert "writable" in line and "SOVEREIGN_HOME" in line


def test_list_works_in_a_read_only_home_with_a_valid_store(tmp_path):
    from sovereign_kernel.publishing.store import Store

    home = tmp_path / "home"
    Store(home / "store.sqlite").upsert_run("r1", COVERED_QUESTION, "PENDING_REVIEW", report_id="SRK-1")
    with read_only(home):
        listed = unprivileged(["list", "--pending"], home=home)
    assert listed.returncode == 0, listed.stderr
    assert "r1" in listed.stdout and "not a SQLite store" not in listed.stderr


def test_a_corrupt_checkpoint_database_is_named_and_never_replaced(tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    (home / "checkpoints.sqlite").write_bytes(GARBAGE)
    proc = cli("research", COVERED_QUESTION, "--corpus", str(SMALL_CORPUS), "--out", str(tmp_path / "o"), "--quiet",
               "--run-id", "cp-1", home=home)
    line = one_error_line(proc)
    assert proc.returncode == 2 and "checkpoints.sqlite" in line and "corrupt" in line and "move it aside" in line
    assert (home / "checkpoints.sqlite").read_bytes() == GARBAGE  # untouched


def test_a_corrupt_store_is_named_and_never_replaced(tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    (home / "store.sqlite").write_bytes(GARBAGE)
    proc = cli("list", home=home)
    line = one_error_line(proc)
    assert "store.sqlite" in line and "move it aside" in line
    assert (home / "store.sqlite").read_bytes() == GARBAGE


def test_a_corrupt_vector_cache_is_rebuilt(tmp_path):
    home, cache = tmp_path / "home", tmp_path / "cache"
    cache.mkdir()
    (cache / "vectors.sqlite").write_bytes(GARBAGE)
    proc = cli("research", COVERED_QUESTION, "--corpus", str(SMALL_CORPUS), "--out", str(tmp_path / "o"), "--quiet",
               home=home, cache=cache, env=SMALL_RUN)
    assert proc.returncode == 0, proc.stderr
    assert "vectors.sqlite" in proc.stderr and "rebuilt" in proc.stderr  # said, once, as a warning
    aside = [p for p in cache.iterdir() if p.name.startswith("vectors.sqlite.corrupt")]
    assert len(aside) == 1 and aside[0].read_bytes() == GARBAGE
    with sqlite3.connect(cache / "vectors.sqlite") as db:
        assert db.execute("SELECT COUNT(*) FROM vectors").fetchone()[0] > 0


def test_a_locked_vector_cache_does_not_stop_the_run(tmp_path):
    home, cache = tmp_path / "home", tmp_path / "cache"
    cache.mkdir()
    holder = sqlite3.connect(cache / "vectors.sqlite", isolation_level=None)
    holder.execute("PRAGMA journal_mode=WAL")
    holder.execute("CREATE TABLE IF NOT EXISTS vectors (model TEXT, kind TEXT, key TEXT, vec BLOB,"
                   " PRIMARY KEY (model, kind, key))")
    holder.execute("BEGIN IMMEDIATE")  # another process writing, for longer than any timeout
    try:
        # a 1 s wait, not the default 10 s: three caches in the file each wait once (the suite's time)
        proc = cli("research", COVERED_QUESTION, "--corpus", str(SMALL_CORPUS), "--out", str(tmp_path / "o"),
                   "--quiet", home=home, cache=cache, env={"SOVEREIGN_CACHE_LOCK_TIMEOUT": "1", **SMALL_RUN})
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr and "vectors.sqlite" in proc.stderr and "locked" in proc.stderr
    assert "waited 1 s" in proc.stderr  # the setting reached the caches


def test_a_store_locked_too_long_is_one_line(tmp_path):
    from sovereign_kernel.domain.errors import SovereignError
    from sovereign_kernel.publishing.store import Store

    path = tmp_path / "store.sqlite"
    Store(path)
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    try:
        with pytest.raises(SovereignError) as err:
            Store(path, timeout=0.3).upsert_run("r", COVERED_QUESTION, "RUNNING")
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    message = str(err.value)
    assert "\n" not in message and str(path) in message and "locked" in message and "retry" in message


def test_disk_full_and_readonly_errors_say_which_file_and_what_to_do(tmp_path):
    from sovereign_kernel.domain.dbfiles import describe

    db = sqlite3.connect(tmp_path / "x.sqlite")
    db.execute("CREATE TABLE t (x BLOB)")
    db.execute("PRAGMA max_page_count = 3")
    with pytest.raises(sqlite3.OperationalError) as full:
        db.execute("INSERT INTO t VALUES (?)", (b"x" * 100_000,))
    line = describe(full.value, tmp_path / "x.sqlite", "the store")
    assert str(tmp_path / "x.sqlite") in line and "disk is full" in line and "free" in line
    ro = describe(sqlite3.OperationalError("attempt to write a readonly database"), tmp_path / "x.sqlite", "the store")
    assert "read-only" in ro and "SOVEREIGN_HOME" in ro


def test_an_unexpected_sqlite_error_reaching_the_cli_is_one_line(monkeypatch, capsys, tmp_path):
    from sovereign_kernel.app import cli as cli_module
    from sovereign_kernel.app import cli_runs

    async def broken(*a, **k):
        raise sqlite3.OperationalError("database or disk is full")

    monkeypatch.setattr(cli_runs, "run", broken)
    assert cli_module.main(["list"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("error: ") and "disk is full" in err
