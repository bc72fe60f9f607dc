"""The publication store: published reports, their corrections record and the run log, in one SQLite file.

Schema changes are ordered migrations in code (``MIGRATIONS``), tracked with ``PRAGMA user_version``.
The published record — reports, their replay inputs, corrections (``correction-record-v1``) and
reproductions — is append-only: triggers refuse every UPDATE, DELETE and REPLACE of its rows, whoever
connects, and every appended row is chained in ``ledger`` (``publishing/ledger.py``), so an edit
made with the triggers dropped still shows in ``audit()``. Each call opens its own short-lived connection (WAL mode, foreign
keys on, busy timeout), so several processes can share the file and nothing is left open.
"""

from __future__ import annotations

import json
import sqlite3
from contextlib import closing, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

from sovereign_kernel.domain.dbfiles import (
    corrupt_advice,
    data_file_error,
    is_sqlite_error,
    kind,
)
from sovereign_kernel.domain.errors import (
    ClaimNotFound,
    DataFileError,
    InvalidEntry,
    ReportConflict,
    ReportNotFound,
    ReportRetracted,
    SchemaError,
    StoreError,
)
from sovereign_kernel.domain.ids import resolve_claim
from sovereign_kernel.domain.schemas import CorrectionEntry, Report
from sovereign_kernel.publishing import ledger
from sovereign_kernel.publishing.corrections import (
    correction_record,
    render_corrections,
)
from sovereign_kernel.publishing.ledger import Audit
from sovereign_kernel.publishing.manifest import content_hash
from sovereign_kernel.publishing.run_log import RunLog, RunRecord, utc_now

__all__ = ["Store", "StoredReport", "Audit", "ReportSummary", "RunRecord", "CorrectionEntry", "STORE_FILE", "StoreError",
           "SchemaError", "ReportNotFound", "ReportConflict", "ClaimNotFound", "ReportRetracted", "InvalidEntry"]

STORE_FILE = "store.sqlite"


# MIGRATIONS[i] takes a file from user_version i to i + 1. Append new versions; never edit a shipped one.
# A step is an SQL statement or a function of the connection (run in the same transaction).
MIGRATIONS: tuple[tuple, ...] = (
    (  # v1
        """CREATE TABLE reports (
            report_id TEXT PRIMARY KEY, run_id TEXT, question TEXT NOT NULL, created_at TEXT NOT NULL,
            published_at TEXT NOT NULL, quality_tier TEXT NOT NULL, policy TEXT NOT NULL,
            content_hash TEXT NOT NULL, report_json TEXT NOT NULL, manifest_json TEXT NOT NULL,
            markdown TEXT NOT NULL)""",
        """CREATE TABLE corrections (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            report_id TEXT NOT NULL REFERENCES reports(report_id) ON DELETE RESTRICT,
            created_at TEXT NOT NULL,
            kind TEXT NOT NULL CHECK (kind IN ('CORRECTION', 'RETRACTION')),
            claim_id TEXT,
            reason TEXT NOT NULL CHECK (length(trim(reason)) > 0),
            CHECK (kind = 'RETRACTION' OR claim_id IS NOT NULL))""",
        "CREATE INDEX corrections_by_report ON corrections(report_id, id)",
        """CREATE TRIGGER reports_immutable BEFORE UPDATE OF report_id, content_hash, report_json, manifest_json,
            markdown ON reports BEGIN SELECT RAISE(ABORT, 'published reports are immutable: append a correction'); END""",
        """CREATE TRIGGER reports_keep_corrected BEFORE DELETE ON reports
            WHEN EXISTS (SELECT 1 FROM corrections WHERE report_id = OLD.report_id)
            BEGIN SELECT RAISE(ABORT, 'corrections are append-only: a corrected report cannot be deleted'); END""",
        """CREATE TRIGGER corrections_no_update BEFORE UPDATE ON corrections
            BEGIN SELECT RAISE(ABORT, 'corrections are append-only: UPDATE refused'); END""",
        """CREATE TRIGGER corrections_no_delete BEFORE DELETE ON corrections
            BEGIN SELECT RAISE(ABORT, 'corrections are append-only: DELETE refused'); END""",
        """CREATE TABLE runs (
            run_id TEXT PRIMARY KEY, question TEXT NOT NULL, status TEXT NOT NULL,
            created_at TEXT NOT NULL, updated_at TEXT NOT NULL, report_id TEXT, reason TEXT)""",
        "CREATE INDEX runs_by_status ON runs(status, created_at)",
    ),
    (  # v2: what resume and the reproduction gate need
        "ALTER TABLE runs ADD COLUMN settings_json TEXT",
        "ALTER TABLE runs ADD COLUMN out_dir TEXT",
        """CREATE TABLE run_inputs (
            report_id TEXT PRIMARY KEY REFERENCES reports(report_id), inputs_json TEXT NOT NULL)""",
        """CREATE TABLE reproductions (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            report_id TEXT NOT NULL REFERENCES reports(report_id), created_at TEXT NOT NULL,
            verdict TEXT NOT NULL CHECK (verdict IN ('REPRODUCED', 'DIFFERS')), evidence_json TEXT NOT NULL)""",
        """CREATE TRIGGER reproductions_no_update BEFORE UPDATE ON reproductions
            BEGIN SELECT RAISE(ABORT, 'reproduction results are append-only: UPDATE refused'); END""",
        """CREATE TRIGGER reproductions_no_delete BEFORE DELETE ON reproductions
            BEGIN SELECT RAISE(ABORT, 'reproduction results are append-only: DELETE refused'); END""",
    ),
    (  # v3: one run id is one run — the lease of the process running it (publishing/leases.py)
        "ALTER TABLE runs ADD COLUMN owner TEXT",
        "ALTER TABLE runs ADD COLUMN heartbeat REAL",
    ),
    (  # v4: the whole published record append-only (v1 left some report columns and REPLACE open) and chained
        "DROP TRIGGER reports_immutable",
        "DROP TRIGGER reports_keep_corrected",
        "DROP TRIGGER corrections_no_update",
        "DROP TRIGGER corrections_no_delete",
        "DROP TRIGGER reproductions_no_update",
        "DROP TRIGGER reproductions_no_delete",
        ledger.LEDGER_TABLE,
        *ledger.append_only("reports", "published reports", ("report_id",)),
        *ledger.append_only("run_inputs", "recorded run inputs", ("report_id",)),
        *ledger.append_only("corrections", "corrections", ("id",)),
        *ledger.append_only("reproductions", "reproduction results", ("id",)),
        *ledger.append_only("ledger", "hash chain rows", ("seq",), ("kind", "key")),
        ledger.chain_existing,  # the rows written before v4, chained in the order they were written
    ),
)
SCHEMA_VERSION = len(MIGRATIONS)


@dataclass(frozen=True)
class StoredReport:
    report_id: str
    run_id: str | None
    published_at: str
    content_hash: str
    report: Report
    manifest: dict  # with the current corrections record merged in
    markdown: str  # with the corrections section when there are entries
    corrections: list[CorrectionEntry]
    published_markdown: str = ""  # report.md as published, without the corrections

    @property
    def status(self) -> str:
        return self.manifest["corrections"]["status"]


@dataclass(frozen=True)
class ReportSummary:
    report_id: str
    run_id: str | None
    question: str
    created_at: str
    published_at: str
    quality_tier: str
    policy: str
    content_hash: str
    status: str
    corrections: int


def _check_report(kind: str, row: dict) -> str | None:
    """A report row's own consistency, beyond the chain: its JSON still hashes to its content hash, and
    its manifest names that report and hash (a chain rewritten from scratch cannot hide a report edit
    that leaves these wrong)."""
    if kind != "reports":
        return None
    try:
        report = Report.model_validate_json(row["report_json"])
        manifest = json.loads(row["manifest_json"])
    except ValueError:
        return "the report or its manifest is not valid JSON of its contract"
    if content_hash(report) != row["content_hash"]:
        return f"the report does not hash to its content hash {row['content_hash']}"
    if report.report_id != row["report_id"] or not isinstance(manifest, dict) or \
            (manifest.get("report_id"), manifest.get("content_hash")) != (row["report_id"], row["content_hash"]):
        return "the manifest does not describe the report"
    return None


class Store(RunLog):
    """``Store(path)`` creates or migrates the file; every method opens and closes its own connection."""

    def __init__(self, path: str | Path, *, timeout: float = 30.0):
        self.path = Path(path).expanduser()
        self.timeout = timeout
        self._immutable = False  # a valid store in a read-only directory: read it as it is
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise DataFileError(f"cannot create the data directory {self.path.parent} ({exc.strerror}); make its "
                                "parent writable or set SOVEREIGN_HOME to a writable directory") from None
        try:
            self._migrate()
        except DataFileError as exc:
            # WAL needs its -shm beside the file; where nothing can be created, a store that exists
            # and is current can still be read (list, show) — a write then says it is read-only.
            if kind(exc) not in ("readonly", "cantopen") or not self.path.is_file():
                raise
            self._immutable = True
            if self.schema_version() != SCHEMA_VERSION:
                self._immutable = False
                raise

    # -- connections ------------------------------------------------------------------------------
    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        try:
            target = f"file:{self.path}?immutable=1" if self._immutable else str(self.path)
            with closing(sqlite3.connect(target, timeout=self.timeout, isolation_level=None,
                                         uri=self._immutable)) as con:
                con.row_factory = sqlite3.Row
                con.execute("PRAGMA foreign_keys = ON")
                con.execute(f"PRAGMA busy_timeout = {int(self.timeout * 1000)}")
                yield con
        except sqlite3.DatabaseError as exc:  # the file, not the statement: one line naming it
            if not is_sqlite_error(exc):
                raise
            if kind(exc) == "corrupt":
                raise SchemaError(f"{self.path} is not a SQLite store ({exc}); {corrupt_advice(self.path)}") from None
            raise data_file_error(exc, self.path, "the store", timeout=self.timeout) from None

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        with self._connect() as con:
            con.execute("BEGIN IMMEDIATE")
            try:
                yield con
            except BaseException:
                con.execute("ROLLBACK")
                raise
            con.execute("COMMIT")

    def _migrate(self) -> None:
        with self._connect() as con:
            con.execute("PRAGMA journal_mode = WAL")
        with self._write() as con:
            version = con.execute("PRAGMA user_version").fetchone()[0]
            if version > SCHEMA_VERSION:
                raise SchemaError(f"{self.path} has schema v{version}; this software knows up to v{SCHEMA_VERSION}")
            for target in range(version + 1, SCHEMA_VERSION + 1):
                for step in MIGRATIONS[target - 1]:
                    step(con) if callable(step) else con.execute(step)
                con.execute(f"PRAGMA user_version = {target}")

    def schema_version(self) -> int:
        with self._connect() as con:
            return con.execute("PRAGMA user_version").fetchone()[0]

    # -- reports ----------------------------------------------------------------------------------
    def publish(self, report: Report | dict, manifest: dict, markdown: str, run_id: str | None = None) -> str:
        """Store a report; the same content again is a no-op, other content under its id is an error."""
        report = report if isinstance(report, Report) else Report.model_validate(report)
        digest = content_hash(report)
        if manifest.get("report_id") != report.report_id or manifest.get("content_hash", digest) != digest:
            raise InvalidEntry(f"the manifest does not describe report {report.report_id} ({digest})")
        with self._write() as con:
            row = con.execute("SELECT content_hash FROM reports WHERE report_id = ?", (report.report_id,)).fetchone()
            if row is not None and row["content_hash"] != digest:
                raise ReportConflict(f"report {report.report_id} is already published with content "
                                     f"{row['content_hash']}, not {digest}")
            if row is None:
                con.execute(
                    "INSERT INTO reports VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (report.report_id, run_id, report.question, report.created_at, utc_now(), report.quality_tier,
                     report.results.policy, digest, report.model_dump_json(),
                     json.dumps(manifest, ensure_ascii=False), markdown))
                ledger.append(con, "reports", report.report_id)
            if run_id is not None:
                self._upsert_run(con, run_id, report.question, "PUBLISHED", report.report_id, None)
        return report.report_id

    def get(self, report_id: str) -> StoredReport:
        with self._connect() as con:
            row = self._report_row(con, report_id)
            entries = self._entries(con, report_id)
            gate = con.execute("SELECT * FROM reproductions WHERE report_id = ? ORDER BY id DESC LIMIT 1",
                               (report_id,)).fetchone()
        report = Report.model_validate_json(row["report_json"])
        manifest = json.loads(row["manifest_json"])
        manifest["corrections"] = correction_record(entries)
        if gate is not None:  # the latest replay decides the truth gate; earlier ones stay on record
            manifest["truth_gate"] = {**manifest["truth_gate"], "verdict": gate["verdict"],
                                      "evaluated": gate["created_at"], "evidence": json.loads(gate["evidence_json"]),
                                      "reason": "replayed offline from the recorded inputs"}
            if gate["verdict"] == "REPRODUCED":
                manifest["verification_level"] = {**manifest["verification_level"], "level": "L4",
                                                  "label": "Reproduced: the replay matched"}
                manifest["quality_dimensions"]["reproducibility_status"] = {
                    "level": "HIGH", "value": "reproduced",
                    "measurement": f"offline replay on {gate['created_at']} matched sources, claims, scores and hash"}
        return StoredReport(report_id=report_id, run_id=row["run_id"], published_at=row["published_at"],
                            content_hash=row["content_hash"], report=report, manifest=manifest,
                            markdown=render_corrections(row["markdown"], report, entries), corrections=entries,
                            published_markdown=row["markdown"])

    def list_reports(self) -> list[ReportSummary]:
        with self._connect() as con:
            rows = con.execute(
                "SELECT r.report_id, r.run_id, r.question, r.created_at, r.published_at, r.quality_tier, r.policy,"
                " r.content_hash, COUNT(c.id) AS n, COALESCE(SUM(c.kind = 'RETRACTION'), 0) AS retractions"
                " FROM reports r LEFT JOIN corrections c ON c.report_id = r.report_id"
                " GROUP BY r.report_id ORDER BY r.published_at, r.report_id").fetchall()
        return [ReportSummary(
            report_id=r["report_id"], run_id=r["run_id"], question=r["question"], created_at=r["created_at"],
            published_at=r["published_at"], quality_tier=r["quality_tier"], policy=r["policy"],
            content_hash=r["content_hash"], corrections=r["n"],
            status="RETRACTED" if r["retractions"] else ("CORRECTED" if r["n"] else "CURRENT")) for r in rows]

    # -- corrections (append-only) ----------------------------------------------------------------
    def correct(self, report_id: str, claim_id: str, reason: str) -> CorrectionEntry:
        """Append a correction of one claim of a published report."""
        return self._append(report_id, "CORRECTION", claim_id, reason)

    def retract(self, report_id: str, reason: str) -> CorrectionEntry:
        """Append the retraction of the whole report; it takes no further entries afterwards."""
        return self._append(report_id, "RETRACTION", None, reason)

    def corrections(self, report_id: str) -> list[CorrectionEntry]:
        with self._connect() as con:
            self._report_row(con, report_id)
            return self._entries(con, report_id)

    def _append(self, report_id: str, kind: str, claim_id: str | None, reason: str) -> CorrectionEntry:
        reason = reason.strip() if isinstance(reason, str) else ""
        if not reason:
            raise InvalidEntry(f"a {kind.lower()} needs a non-empty reason")
        with self._write() as con:
            row = self._report_row(con, report_id)
            if any(e.kind == "RETRACTION" for e in self._entries(con, report_id)):
                raise ReportRetracted(f"report {report_id} is retracted; no further {kind.lower()}s are accepted")
            if kind == "CORRECTION":  # named by its id or by its number in report.md (C3)
                named = resolve_claim(claim_id or "", [c["id"] for c in json.loads(row["report_json"])["claims"]])
                if named is None:
                    raise ClaimNotFound(f"report {report_id} has no claim {claim_id!r}")
                claim_id = named
            created = utc_now()
            cur = con.execute("INSERT INTO corrections (report_id, created_at, kind, claim_id, reason)"
                              " VALUES (?, ?, ?, ?, ?)", (report_id, created, kind, claim_id, reason))
            ledger.append(con, "corrections", cur.lastrowid)
        return CorrectionEntry(id=cur.lastrowid, created_at=created, kind=kind, claim_id=claim_id, reason=reason)

    @staticmethod
    def _report_row(con: sqlite3.Connection, report_id: str) -> sqlite3.Row:
        row = con.execute("SELECT * FROM reports WHERE report_id = ?", (report_id,)).fetchone()
        if row is None:
            raise ReportNotFound(f"no published report {report_id!r}")
        return row

    @staticmethod
    def _entries(con: sqlite3.Connection, report_id: str) -> list[CorrectionEntry]:
        rows = con.execute("SELECT id, created_at, kind, claim_id, reason FROM corrections"
                           " WHERE report_id = ? ORDER BY id", (report_id,)).fetchall()
        return [CorrectionEntry(**dict(r)) for r in rows]

    # -- reproduction gate ------------------------------------------------------------------------
    def save_inputs(self, report_id: str, inputs: dict) -> None:
        """What a replay needs (question, settings, sources with hashes); written once per report."""
        with self._write() as con:
            self._report_row(con, report_id)
            if con.execute("SELECT 1 FROM run_inputs WHERE report_id = ?", (report_id,)).fetchone() is None:
                con.execute("INSERT INTO run_inputs VALUES (?, ?)", (report_id, json.dumps(inputs, sort_keys=True)))
                ledger.append(con, "run_inputs", report_id)

    def inputs(self, report_id: str) -> dict:
        with self._connect() as con:
            self._report_row(con, report_id)
            row = con.execute("SELECT inputs_json FROM run_inputs WHERE report_id = ?", (report_id,)).fetchone()
        if row is None:
            raise InvalidEntry(f"report {report_id} has no recorded inputs to replay")
        return json.loads(row["inputs_json"])

    def add_reproduction(self, report_id: str, verdict: str, evidence: dict) -> None:
        with self._write() as con:
            self._report_row(con, report_id)
            cur = con.execute("INSERT INTO reproductions (report_id, created_at, verdict, evidence_json)"
                              " VALUES (?, ?, ?, ?)", (report_id, utc_now(), verdict, json.dumps(evidence, sort_keys=True)))
            ledger.append(con, "reproductions", cur.lastrowid)

    # -- tamper evidence --------------------------------------------------------------------------
    def audit(self, anchor: tuple[int, str] | None = None) -> Audit:
        """Walk the hash chain and recompute every published report's content hash; the findings in chain
        order (the first is the first bad row) and the head hash to record elsewhere. ``anchor``: a
        (rows, head) recorded from an earlier audit, which the chain must still pass through."""
        with self._connect() as con:
            return ledger.verify(con, _check_report, anchor)
