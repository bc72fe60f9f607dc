"""The store is append-only and tamper-evident (issue 14, finding 5).

Tampering is done the way an attacker with the file would: ``sqlite3`` on the file directly —
``INSERT OR REPLACE`` (which deletes and re-inserts without firing UPDATE/DELETE triggers), plain
UPDATE and DELETE, and raw edits with the triggers dropped, which only the hash chain catches.
The report comes from one real pipeline run over the fixture corpus (conftest's memoised run).
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from contextlib import closing
from pathlib import Path

import pytest

from conftest import COVERED_QUESTION
from sovereign_kernel.publishing import store as store_mod
from sovereign_kernel.publishing.store import STORE_FILE, Store


@pytest.fixture(scope="module")
def sample(run_research):
    result = run_research(COVERED_QUESTION)
    assert result.status == "PUBLISHED" and len(result.report.claims) >= 2
    return result


@pytest.fixture
def home(tmp_path) -> Path:
    return tmp_path / "home"


@pytest.fixture
def published(sample, home):
    """A store with the report, a correction, its replay inputs and a reproduction on record."""
    s = Store(home / STORE_FILE)
    rid = sample.report.report_id
    s.publish(sample.report, sample.manifest, sample.markdown, run_id="run-1")
    s.save_inputs(rid, {"question": sample.report.question, "settings": {}, "sources": []})
    s.correct(rid, sample.report.claims[0].id, "Original reason.")
    s.add_reproduction(rid, "REPRODUCED", {"differences": []})
    return s


def raw(path: Path) -> sqlite3.Connection:
    """A plain connection, as the ``sqlite3`` shell opens one (foreign keys off, autocommit)."""
    return sqlite3.connect(path, isolation_level=None)


def drop_triggers(con: sqlite3.Connection) -> None:
    """What someone with write access to the file can always do."""
    for (name,) in con.execute("SELECT name FROM sqlite_master WHERE type = 'trigger'").fetchall():
        con.execute(f"DROP TRIGGER {name}")


def cli(*args, home):
    env = {**os.environ, "SOVEREIGN_HOME": str(home)}
    env.pop("NVIDIA_API_KEY", None)
    return subprocess.run([sys.executable, "-m", "sovereign_kernel", *args], capture_output=True, text=True,
                          env=env, timeout=300)


# -- the database refuses rewrites --------------------------------------------------------------

def test_insert_or_replace_cannot_rewrite_a_correction(sample, published, home):
    rid = sample.report.report_id
    [entry] = published.corrections(rid)
    with closing(raw(home / STORE_FILE)) as con:
        with pytest.raises(sqlite3.DatabaseError, match="append-only"):
            con.execute("INSERT OR REPLACE INTO corrections (id, report_id, created_at, kind, claim_id, reason)"
                        " VALUES (?, ?, '1999-01-01T00:00:00+00:00', 'CORRECTION', ?, 'rewritten')",
                        (entry.id, rid, entry.claim_id))
        with pytest.raises(sqlite3.DatabaseError, match="append-only"):
            con.execute("REPLACE INTO reproductions SELECT id, report_id, created_at, 'DIFFERS', evidence_json"
                        " FROM reproductions")
    assert published.corrections(rid) == [entry]


def test_insert_or_replace_cannot_replace_a_reports_markdown(sample, published, home):
    rid = sample.report.report_id
    with closing(raw(home / STORE_FILE)) as con:
        with pytest.raises(sqlite3.DatabaseError, match="append-only"):
            con.execute("INSERT OR REPLACE INTO reports SELECT report_id, run_id, question, created_at, published_at,"
                        " quality_tier, policy, content_hash, report_json, manifest_json, 'all is fine'"
                        " FROM reports WHERE report_id = ?", (rid,))
        with pytest.raises(sqlite3.DatabaseError, match="append-only"):
            con.execute("INSERT OR REPLACE INTO run_inputs VALUES (?, '{}')", (rid,))
        with pytest.raises(sqlite3.DatabaseError):  # an upsert is an UPDATE, refused as well
            con.execute("INSERT INTO reports SELECT * FROM reports WHERE report_id = ?"
                        " ON CONFLICT(report_id) DO UPDATE SET markdown = 'x'", (rid,))
    assert published.get(rid).markdown.startswith(sample.markdown.split("\n## Manifest summary")[0])


@pytest.mark.parametrize("column, value", [("question", "Another question?"), ("quality_tier", "DOI grade"),
                                           ("policy", "PUBLISH"), ("published_at", "1999-01-01T00:00:00+00:00"),
                                           ("run_id", "someone-else"), ("created_at", "1999-01-01")])
def test_no_column_of_a_published_report_can_be_updated(sample, published, home, column, value):
    with closing(raw(home / STORE_FILE)) as con:
        with pytest.raises(sqlite3.DatabaseError, match="immutable"):
            con.execute(f"UPDATE reports SET {column} = ?", (value,))


def test_published_rows_cannot_be_deleted_nor_their_records_edited(sample, published, home):
    other = sample.report.model_copy(update={"report_id": "SRK-000000000000"})  # an uncorrected report
    from sovereign_kernel.publishing.manifest import content_hash

    published.publish(other, {**sample.manifest, "report_id": other.report_id, "content_hash": content_hash(other)},
                      "# other\n")
    with closing(raw(home / STORE_FILE)) as con:
        for sql in ("DELETE FROM reports WHERE report_id = 'SRK-000000000000'", "DELETE FROM run_inputs",
                    "UPDATE run_inputs SET inputs_json = '{}'", "UPDATE reproductions SET verdict = 'DIFFERS'",
                    "DELETE FROM reproductions", "UPDATE ledger SET row_hash = 'x'", "DELETE FROM ledger",
                    "INSERT OR REPLACE INTO ledger SELECT * FROM ledger"):
            with pytest.raises(sqlite3.DatabaseError, match="append-only|immutable"):
                con.execute(sql)
    assert Store(home / STORE_FILE).audit().intact


# -- the hash chain ----------------------------------------------------------------------------

def test_every_appended_row_is_chained_and_audit_is_clean(sample, published, home):
    result = published.audit()
    assert result.intact and result.problems == []
    assert result.rows == 4  # report, inputs, correction, reproduction — in the order they were appended
    with closing(raw(home / STORE_FILE)) as con:
        rows = con.execute("SELECT seq, kind, key, prev_hash, row_hash FROM ledger ORDER BY seq").fetchall()
    assert [(r[1], r[2]) for r in rows][:2] == [("reports", sample.report.report_id),
                                              ("run_inputs", sample.report.report_id)]
    assert [r[1] for r in rows][2:] == ["corrections", "reproductions"]
    assert all(rows[i][3] == rows[i - 1][4] for i in range(1, len(rows)))  # each row links the previous one
    assert result.head == rows[-1][4] and result.head.startswith("sha256:")
    # publishing the same content again appends nothing
    published.publish(sample.report, sample.manifest, sample.markdown)
    published.save_inputs(sample.report.report_id, {"question": "again"})
    assert published.audit().rows == 4 and published.audit().head == result.head


TAMPERS = {
    "markdown": ("UPDATE reports SET markdown = 'all is fine'", "reports row {rid}: content changed (markdown)"),
    "question": ("UPDATE reports SET question = 'x'", "reports row {rid}: content changed (question)"),
    "reason": ("UPDATE corrections SET reason = 'rewritten', created_at = '1999-01-01'",
               "corrections row 1: content changed (created_at, reason)"),
    "verdict": ("UPDATE reproductions SET verdict = 'DIFFERS'", "reproductions row 1: content changed (verdict)"),
    "deleted": ("DELETE FROM corrections", "corrections row 1: missing"),
    "smuggled": ("INSERT INTO corrections (report_id, created_at, kind, reason) SELECT report_id, created_at,"
                 " 'RETRACTION', 'smuggled in' FROM reports", "corrections row 2: not in the chain"),
    "relinked": ("UPDATE ledger SET prev_hash = 'sha256:' || hex(randomblob(32)) WHERE seq = 3",
                 "ledger row 3 (corrections 1): does not link to the row before it"),
    "unlinked": ("DELETE FROM ledger WHERE seq = 2", "ledger row 3 (corrections 1): does not follow row 1"),
}


@pytest.mark.parametrize("tamper", sorted(TAMPERS))
def test_audit_names_the_first_row_a_raw_edit_broke(sample, published, home, tamper):
    sql, first = TAMPERS[tamper]
    with closing(raw(home / STORE_FILE)) as con:
        drop_triggers(con)
        con.execute(sql)
    result = Store(home / STORE_FILE).audit()
    assert not result.intact
    assert result.problems[0] == first.format(rid=sample.report.report_id)


def test_an_anchored_head_catches_a_consistent_rewrite(sample, published, home):
    from sovereign_kernel.publishing import ledger

    before = published.audit()
    anchor = (before.rows, before.head)
    assert published.audit(anchor).intact
    published.correct(sample.report.report_id, sample.report.claims[1].id, "Appended after the anchor.")
    assert published.audit(anchor).intact  # appending keeps the anchored prefix
    with closing(raw(home / STORE_FILE)) as con:
        drop_triggers(con)
        con.execute("UPDATE corrections SET reason = 'rewritten' WHERE id = 1")
        con.execute("DELETE FROM ledger")
        ledger.chain_existing(con)  # every hash recomputed: the chain is valid again
    assert Store(home / STORE_FILE).audit().intact
    rewritten = Store(home / STORE_FILE).audit(anchor)
    assert not rewritten.intact and "is not the recorded head" in rewritten.problems[0]
    out = cli("audit", "--anchor", f"{anchor[0]}:{anchor[1]}", home=home)
    assert out.returncode == 1 and "the chain was rewritten" in out.stdout.splitlines()[0]
    with closing(raw(home / STORE_FILE)) as con:
        drop_triggers(con)
        con.execute("DELETE FROM ledger WHERE seq > 2")
        con.execute("DELETE FROM corrections")
        con.execute("DELETE FROM reproductions")
    truncated = Store(home / STORE_FILE).audit((4, "sha256:" + "0" * 64))
    assert truncated.problems == ["ledger: ends at row 2, before the recorded head at row 4: rows were removed"]
    bad = cli("audit", "--anchor", "four", home=home)
    assert bad.returncode == 2 and bad.stderr.startswith("error: --anchor takes ROWS:HEAD")


def test_a_dropped_ledger_is_a_broken_store(published, home):
    with closing(raw(home / STORE_FILE)) as con:
        con.execute("DROP TABLE ledger")
    result = Store(home / STORE_FILE).audit()
    assert result.problems == ["store: cannot be audited (no such table: ledger)"]
    out = cli("audit", home=home)
    assert out.returncode == 1 and out.stdout.splitlines()[0].endswith("BROKEN at store: cannot be audited "
                                                                       "(no such table: ledger)")


def test_audit_rechecks_the_report_content_hash(sample, published, home):
    """A consistent rewrite of one row and its ledger entry still leaves the report's own hash wrong."""
    from sovereign_kernel.publishing import ledger

    rid = sample.report.report_id
    doc = json.loads(published.get(rid).report.model_dump_json())
    doc["abstract"] = "A different abstract."
    with closing(raw(home / STORE_FILE)) as con:
        drop_triggers(con)
        con.execute("UPDATE reports SET report_json = ? WHERE report_id = ?", (json.dumps(doc), rid))
        con.execute("DELETE FROM ledger")
        ledger.chain_existing(con)  # the whole chain recomputed: only the reports' own hashes can tell
    problems = Store(home / STORE_FILE).audit().problems
    assert problems == [f"reports row {rid}: the report does not hash to its content hash {sample.manifest['content_hash']}"]


def test_migration_chains_the_rows_an_older_store_holds(sample, home, monkeypatch):
    path = home / STORE_FILE
    monkeypatch.setattr(store_mod, "MIGRATIONS", store_mod.MIGRATIONS[:3])
    monkeypatch.setattr(store_mod, "SCHEMA_VERSION", 3)
    monkeypatch.setattr(store_mod.ledger, "append", lambda *args: None)  # the code before the chain
    old = Store(path)
    rid = sample.report.report_id
    old.publish(sample.report, sample.manifest, sample.markdown, run_id="run-1")
    old.correct(rid, sample.report.claims[0].id, "Before the chain existed.")
    monkeypatch.undo()
    s = Store(path)
    assert s.schema_version() == store_mod.SCHEMA_VERSION
    result = s.audit()
    assert result.intact and result.rows == 2
    s.correct(rid, sample.report.claims[1].id, "After.")
    assert s.audit().intact and s.audit().rows == 3


# -- the command line ----------------------------------------------------------------------------

def test_audit_command_exit_codes_and_show_warns(sample, published, home):
    ok = cli("audit", home=home)
    assert ok.returncode == 0, ok.stderr
    head = published.audit().head
    assert "intact" in ok.stdout and head in ok.stdout and "4 rows" in ok.stdout and f"--anchor 4:{head}" in ok.stdout
    assert json.loads(cli("audit", "--json", home=home).stdout) == {
        "store": str(home / STORE_FILE), "intact": True, "rows": 4, "head": head, "problems": []}
    assert cli("show", sample.report.report_id, home=home).stderr == ""

    with closing(raw(home / STORE_FILE)) as con:
        drop_triggers(con)
        con.execute("UPDATE reports SET markdown = 'Everything in this report is fine.\n'")
    bad = cli("audit", home=home)
    assert bad.returncode == 1 and "Traceback" not in bad.stderr
    assert bad.stdout.splitlines()[0].endswith(f"reports row {sample.report.report_id}: content changed (markdown)")
    shown = cli("show", sample.report.report_id, home=home)
    assert shown.returncode == 0 and "Everything in this report is fine." in shown.stdout
    [warning] = shown.stderr.splitlines()
    assert warning.startswith("warning:") and "content changed (markdown)" in warning and "audit" in warning


def _copy_store(src: Path, dst: Path) -> None:
    dst.parent.mkdir(parents=True, exist_ok=True)
    with closing(sqlite3.connect(src)) as a, closing(sqlite3.connect(dst)) as b:
        a.backup(b)


def test_reproduce_compares_the_markdown_and_warns_on_a_broken_chain(sample, sovereign_home, home):
    """The session's store holds the memoised run with its replay inputs; a copy of it is tampered."""
    _copy_store(sovereign_home / STORE_FILE, home / STORE_FILE)
    rid = sample.report.report_id
    with closing(raw(home / STORE_FILE)) as con:
        drop_triggers(con)
        con.execute("UPDATE reports SET markdown = replace(markdown, '## Answer', '## Answer\n\nTrust me.')"
                    " WHERE report_id = ?", (rid,))
    out = cli("reproduce", rid, "--json", home=home)
    assert out.returncode == 1, out.stderr
    outcome = json.loads(out.stdout)
    assert outcome["verdict"] == "DIFFERS"
    assert any(d.startswith("markdown:") for d in outcome["differences"])
    assert any(d == f"store: reports row {rid}: content changed (markdown)" for d in outcome["differences"])
    assert "warning:" in out.stderr and "content changed (markdown)" in out.stderr
