"""The publication store: real SQLite files in tmp_path, a report from one real pipeline run per session.

The report comes from ``research(...)`` over the fixture corpus tests/fixtures/arxiv_small.jsonl
(real arXiv records, see PROVENANCE.md), with SOVEREIGN_HOME in a temporary directory.
"""

from __future__ import annotations

import os
import sqlite3
from contextlib import closing
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from sovereign_kernel.publishing import store as store_mod
from sovereign_kernel.publishing.manifest import content_hash
from sovereign_kernel.publishing.store import (
    SCHEMA_VERSION, ClaimNotFound, InvalidEntry, ReportConflict, ReportNotFound, ReportRetracted, SchemaError,
    Store, StoreError,
)

CORPUS = Path(__file__).parent / "fixtures" / "arxiv_small.jsonl"
QUESTION = "How vulnerable are vision-language models such as CLIP to typographic attacks?"


@pytest.fixture(scope="session")
def sample(tmp_path_factory):
    """One real pipeline run for the whole session (reuses the session SOVEREIGN_HOME when conftest set one)."""
    from sovereign_kernel.app.api import research

    with pytest.MonkeyPatch.context() as mp:
        home = os.environ.get("SOVEREIGN_HOME", "")
        if not home.startswith(str(tmp_path_factory.getbasetemp())):
            mp.setenv("SOVEREIGN_HOME", str(tmp_path_factory.mktemp("sovereign-home")))
        result = research(QUESTION, corpus=str(CORPUS))
    assert len(result.report.claims) >= 2, "the fixture run should extract claims"
    return result


@pytest.fixture
def db(tmp_path) -> Path:
    return tmp_path / "store.sqlite"


@pytest.fixture
def published(sample, db):
    s = Store(db)
    s.publish(sample.report, sample.manifest, sample.markdown, run_id="run-1")
    return s


def _raw(db: Path) -> sqlite3.Connection:
    con = sqlite3.connect(db)
    con.execute("PRAGMA foreign_keys = ON")
    return con


def _as_utc(ts: str) -> datetime:
    parsed = datetime.fromisoformat(ts)
    assert parsed.utcoffset() == timedelta(0)
    return parsed


def test_errors_are_value_errors():
    for cls in (SchemaError, ReportNotFound, ReportConflict, ClaimNotFound, ReportRetracted, InvalidEntry):
        assert issubclass(cls, StoreError) and issubclass(cls, ValueError)


def test_publish_get_round_trip(sample, published):
    rid = sample.report.report_id
    got = published.get(rid)
    assert got.report == sample.report
    assert got.report.model_dump() == sample.report.model_dump()
    assert got.manifest == sample.manifest  # no corrections yet: the manifest is returned as published
    assert got.manifest["corrections"] == {"contract": "correction-record-v1", "status": "CURRENT",
                                           "count": 0, "entries": []}
    assert got.markdown == sample.markdown
    assert got.status == "CURRENT" and got.corrections == [] and got.run_id == "run-1"
    assert got.content_hash == sample.manifest["content_hash"] == content_hash(sample.report)
    _as_utc(got.published_at)
    [summary] = published.list_reports()
    assert (summary.report_id, summary.question, summary.status, summary.corrections) == (rid, sample.report.question, "CURRENT", 0)
    assert summary.quality_tier == sample.report.quality_tier and summary.policy == sample.report.results.policy
    run = published.get_run("run-1")
    assert run.status == "PUBLISHED" and run.report_id == rid and run.question == sample.report.question


def test_republish_same_content_is_a_noop(sample, published, db):
    rid = sample.report.report_id
    before = published.get(rid)
    later = sample.report.model_copy(update={"created_at": "2031-01-01T00:00:00+00:00"})  # timestamps are not content
    assert published.publish(sample.report, sample.manifest, sample.markdown) == rid
    assert Store(db).publish(later, sample.manifest, sample.markdown) == rid
    after = published.get(rid)
    assert after.published_at == before.published_at and after.report == sample.report
    with closing(_raw(db)) as con:
        assert con.execute("SELECT COUNT(*) FROM reports").fetchone()[0] == 1


def test_conflicting_republish_raises(sample, published):
    rid = sample.report.report_id
    changed = sample.report.model_copy(update={"findings": sample.report.findings + ["An extra finding."]})
    manifest = {**sample.manifest, "content_hash": content_hash(changed)}
    with pytest.raises(ReportConflict, match=rid):
        published.publish(changed, manifest, sample.markdown)
    assert published.get(rid).report == sample.report
    with pytest.raises(InvalidEntry, match="manifest"):  # a manifest of other content is refused too
        published.publish(changed, sample.manifest, sample.markdown)


def test_correct_a_claim(sample, published):
    rid, claim = sample.report.report_id, sample.report.claims[1]
    reason = "The cited span overstates the attack success rate; see Table 2 of the source."
    entry = published.correct(rid, claim.id, reason)
    assert (entry.kind, entry.claim_id, entry.reason) == ("CORRECTION", claim.id, reason)
    assert published.corrections(rid) == [entry]  # the entry is the report's, as stored
    _as_utc(entry.created_at)
    got = published.get(rid)
    record = got.manifest["corrections"]
    assert record["contract"] == "correction-record-v1"
    assert record["status"] == "CORRECTED" and record["count"] == 1 and got.status == "CORRECTED"
    assert record["entries"] == [{"id": entry.id, "created_at": entry.created_at, "kind": "CORRECTION",
                                  "claim_id": claim.id, "reason": reason}]
    assert {k: v for k, v in got.manifest.items() if k != "corrections"} == \
        {k: v for k, v in sample.manifest.items() if k != "corrections"}
    assert got.markdown.startswith(sample.markdown.split("\n## Manifest summary")[0])
    assert "\n## Corrections\n" in got.markdown and "C2" in got.markdown.split("## Corrections")[1]
    assert "overstates the attack success rate" in got.markdown
    assert "- Corrections: CORRECTED, 1 entries (correction-record-v1)." in got.markdown
    second = published.correct(rid, sample.report.claims[0].id, "Second correction.")
    entries = published.corrections(rid)
    assert [e.id for e in entries] == [entry.id, second.id] and second.id > entry.id
    assert published.get(rid).manifest["corrections"]["count"] == 2
    [summary] = published.list_reports()
    assert (summary.status, summary.corrections) == ("CORRECTED", 2)


def test_invalid_corrections_are_refused(sample, published):
    rid = sample.report.report_id
    with pytest.raises(ClaimNotFound, match="no claim 'nope#s9'"):
        published.correct(rid, "nope#s9", "a reason")
    with pytest.raises(InvalidEntry, match="non-empty reason"):
        published.correct(rid, sample.report.claims[0].id, "   ")
    with pytest.raises(InvalidEntry, match="non-empty reason"):
        published.retract(rid, "")
    with pytest.raises(ReportNotFound, match="SRK-missing"):
        published.correct("SRK-missing", sample.report.claims[0].id, "a reason")
    with pytest.raises(ReportNotFound):
        published.get("SRK-missing")
    assert published.corrections(rid) == []
    assert published.get(rid).status == "CURRENT"


def test_retraction(sample, published):
    rid = sample.report.report_id
    published.correct(rid, sample.report.claims[0].id, "Typo in the claim.")
    retraction = published.retract(rid, "The corpus snapshot was corrupted.")
    assert retraction.kind == "RETRACTION" and retraction.claim_id is None
    got = published.get(rid)
    record = got.manifest["corrections"]
    assert record["status"] == "RETRACTED" and record["count"] == 2
    assert [e["kind"] for e in record["entries"]] == ["CORRECTION", "RETRACTION"]
    assert "**RETRACTED**" in got.markdown.split("\n## ")[0]  # banner before the first section
    assert "The corpus snapshot was corrupted." in got.markdown.split("## Corrections")[1]
    with pytest.raises(ReportRetracted, match="retracted"):
        published.correct(rid, sample.report.claims[1].id, "Too late.")
    with pytest.raises(ReportRetracted):
        published.retract(rid, "Again.")
    assert len(published.corrections(rid)) == 2
    assert published.list_reports()[0].status == "RETRACTED"


def test_corrections_are_append_only_in_the_database(sample, published, db):
    rid = sample.report.report_id
    entry = published.correct(rid, sample.report.claims[0].id, "Original reason.")
    con = _raw(db)
    try:
        with pytest.raises(sqlite3.IntegrityError, match="append-only"):
            con.execute("UPDATE corrections SET reason = 'rewritten' WHERE id = ?", (entry.id,))
        with pytest.raises(sqlite3.DatabaseError, match="append-only"):
            con.execute("DELETE FROM corrections WHERE id = ?", (entry.id,))
        with pytest.raises(sqlite3.DatabaseError, match="append-only"):
            con.execute("DELETE FROM corrections")
        with pytest.raises(sqlite3.DatabaseError, match="append-only"):  # nor by deleting the report
            con.execute("DELETE FROM reports WHERE report_id = ?", (rid,))
        with pytest.raises(sqlite3.DatabaseError, match="immutable"):
            con.execute("UPDATE reports SET markdown = 'x' WHERE report_id = ?", (rid,))
        con.rollback()
    finally:
        con.close()
    assert published.corrections(rid) == [entry]


def test_migrations(db, sample, monkeypatch):
    s = Store(db)
    assert s.schema_version() == SCHEMA_VERSION == len(store_mod.MIGRATIONS) >= 1
    with closing(_raw(db)) as con:
        tables = {r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type IN ('table', 'trigger')")}
        assert con.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert {"reports", "corrections", "runs", "corrections_no_update", "corrections_no_delete"} <= tables
    s.publish(sample.report, sample.manifest, sample.markdown)
    assert Store(db).schema_version() == SCHEMA_VERSION  # reopening does not re-run v1 (CREATE TABLE would fail)
    assert Store(db).get(sample.report.report_id).report == sample.report

    v2 = ("CREATE TABLE migration_log (note TEXT)", "INSERT INTO migration_log VALUES ('v2 ran')")
    monkeypatch.setattr(store_mod, "MIGRATIONS", [*store_mod.MIGRATIONS, v2])
    monkeypatch.setattr(store_mod, "SCHEMA_VERSION", SCHEMA_VERSION + 1)
    for _ in range(2):
        assert Store(db).schema_version() == SCHEMA_VERSION + 1
    with closing(_raw(db)) as con:
        assert con.execute("SELECT note FROM migration_log").fetchall() == [("v2 ran",)]
    monkeypatch.undo()
    with pytest.raises(SchemaError, match=f"v{SCHEMA_VERSION + 1}"):
        Store(db)  # a file from newer software is not touched


def test_not_a_store(tmp_path):
    bad = tmp_path / "junk.sqlite"
    bad.write_bytes(b"this is not a database file at all, not even a little" * 20)
    with pytest.raises(SchemaError, match="not a SQLite store"):
        Store(bad)


def test_runs(db):
    s = Store(db)
    first = s.upsert_run("r1", "Question one?", "RUNNING")
    s.upsert_run("r2", "Question two?", "RUNNING")
    s.upsert_run("r3", "Question three?", "PENDING_REVIEW", report_id="SRK-3")
    moved = s.upsert_run("r1", "Question one?", "PENDING_REVIEW", report_id="SRK-1")
    assert moved.created_at == first.created_at and moved.report_id == "SRK-1"
    _as_utc(moved.updated_at)
    with pytest.raises(InvalidEntry, match="needs a reason"):
        s.upsert_run("r2", "Question two?", "ARCHIVED")
    archived = s.upsert_run("r2", "Question two?", "ARCHIVED", reason="Tribunal REJECT: 2 verified claims")
    assert archived.reason == "Tribunal REJECT: 2 verified claims"
    with pytest.raises(InvalidEntry, match="unknown run status"):
        s.upsert_run("r4", "Question four?", "DONE")
    assert [r.run_id for r in s.list_runs("PENDING_REVIEW")] == ["r1", "r3"]
    assert [(r.run_id, r.status) for r in Store(db).list_runs("ARCHIVED")] == [("r2", "ARCHIVED")]
    assert [r.run_id for r in s.list_runs()] == ["r1", "r2", "r3"]
    assert s.list_runs("RUNNING") == [] and s.get_run("nope") is None
    assert s.get_run("r3").to_dict()["report_id"] == "SRK-3"
