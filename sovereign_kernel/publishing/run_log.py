"""The run log: every run's row (question, status, settings, where it writes) and the lease of the
process running it, in the store's SQLite file (``runs``; not part of the chained, append-only
record, since a run's status is meant to change).

``RunLog`` is the run half of ``Store``: it uses the store's ``_connect`` / ``_write`` connections.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass
from datetime import datetime, timezone

from sovereign_kernel.domain.errors import InvalidEntry, RunError
from sovereign_kernel.publishing.leases import owner_alive

RUN_STATUSES = ("RUNNING", "PENDING_REVIEW", "PUBLISHED", "ARCHIVED", "FAILED")


def utc_now() -> str:
    return datetime.now(timezone.utc).replace(microsecond=0).isoformat()


@dataclass(frozen=True)
class RunRecord:
    run_id: str
    question: str
    status: str
    created_at: str
    updated_at: str
    report_id: str | None
    reason: str | None
    settings_json: str | None = None
    out_dir: str | None = None
    owner: str | None = None  # host:pid:token of the process running it, while it runs
    heartbeat: float | None = None  # when that process last said so (unix time)

    def to_dict(self) -> dict:
        return asdict(self)

    @property
    def running(self) -> bool:
        """Held by a live process (its lease is alive)."""
        return owner_alive(self.owner, self.heartbeat)


class RunLog:
    """The ``runs`` table's operations (mixed into ``Store``)."""

    def upsert_run(self, run_id: str, question: str, status: str, report_id: str | None = None,
                   reason: str | None = None, settings: dict | None = None, out_dir: str | None = None) -> RunRecord:
        """Create or move a run; ``report_id``/``reason`` left as None keep their stored values."""
        with self._write() as con:
            if settings is not None or out_dir is not None:
                self._upsert_run(con, run_id, question, status, report_id, reason)
                con.execute("UPDATE runs SET settings_json = COALESCE(?, settings_json), out_dir = COALESCE(?, out_dir)"
                            " WHERE run_id = ?", (json.dumps(settings) if settings is not None else None, out_dir, run_id))
            return self._upsert_run(con, run_id, question, status, report_id, reason)

    def create_run(self, run_id: str, question: str, *, owner: str, settings: dict | None = None,
                   out_dir: str | None = None, restart: bool = False) -> RunRecord:
        """A new RUNNING run held by ``owner``, in one transaction: an id that exists is refused
        (two processes starting one id: exactly one gets it). ``restart``: an existing run that no
        live process holds and that published nothing starts over under its id."""
        with self._write() as con:
            row = con.execute("SELECT * FROM runs WHERE run_id = ?", (run_id,)).fetchone()
            if row is not None:
                old = RunRecord(**dict(row))
                if old.running or not restart:
                    raise RunError(self._taken(old))
                if old.status == "PUBLISHED":
                    raise RunError(f"run {run_id} published report {old.report_id}: a published run is not started "
                                   "over; pick another id")
                con.execute("DELETE FROM runs WHERE run_id = ?", (run_id,))
            now = utc_now()
            con.execute("INSERT INTO runs (run_id, question, status, created_at, updated_at, settings_json, out_dir,"
                        " owner, heartbeat) VALUES (?, ?, 'RUNNING', ?, ?, ?, ?, ?, ?)",
                        (run_id, question, now, now, json.dumps(settings) if settings is not None else None, out_dir,
                         owner, time.time()))
            return RunRecord(**dict(con.execute("SELECT * FROM runs WHERE run_id = ?", (run_id,)).fetchone()))

    def acquire_lease(self, run_id: str, owner: str) -> RunRecord:
        """Hold an existing run (resume, review): refused while another live process holds it; a
        lease its owner left behind (killed, frozen for ``STALE_AFTER_S``) is taken over."""
        with self._write() as con:
            row = con.execute("SELECT * FROM runs WHERE run_id = ?", (run_id,)).fetchone()
            if row is None:
                raise RunError(f"no run {run_id!r} in {self.path}")
            old = RunRecord(**dict(row))
            if old.owner not in (None, owner) and old.running:
                raise RunError(self._taken(old))
            con.execute("UPDATE runs SET owner = ?, heartbeat = ?, updated_at = ?,"
                        " status = CASE status WHEN 'FAILED' THEN 'RUNNING' ELSE status END,"
                        " reason = CASE status WHEN 'FAILED' THEN NULL ELSE reason END WHERE run_id = ?",
                        (owner, time.time(), utc_now(), run_id))
            return RunRecord(**dict(con.execute("SELECT * FROM runs WHERE run_id = ?", (run_id,)).fetchone()))

    def heartbeat(self, run_id: str, owner: str) -> bool:
        """Refresh ``owner``'s lease; False when another process has taken the run over."""
        with self._write() as con:
            return con.execute("UPDATE runs SET heartbeat = ? WHERE run_id = ? AND owner = ?",
                               (time.time(), run_id, owner)).rowcount == 1

    def release_lease(self, run_id: str, owner: str, *, failed: str | None = None) -> None:
        """Let go of the run; ``failed``: the error (one line) that ended it, and the run is FAILED."""
        with self._write() as con:
            if failed is not None:
                con.execute("UPDATE runs SET status = 'FAILED', reason = ?, updated_at = ? WHERE run_id = ? AND owner = ?",
                            (failed, utc_now(), run_id, owner))
            con.execute("UPDATE runs SET owner = NULL, heartbeat = NULL WHERE run_id = ? AND owner = ?", (run_id, owner))

    @staticmethod
    def _taken(run: RunRecord) -> str:
        if run.running:
            age = max(0.0, time.time() - (run.heartbeat or 0))
            return (f"run {run.run_id} is already running in process {run.owner} (last heartbeat {age:.0f} s ago); "
                    "wait for it to finish, or resume it once that process has stopped")
        state = run.status + (f": {run.reason}" if run.status == "FAILED" and run.reason else "")
        if run.status == "RUNNING":
            state += ", its process is gone"
        return (f"run {run.run_id} already exists ({state}); resume it (sovereign-kernel resume {run.run_id}), "
                "start it over with --restart, or pick another id")

    def _upsert_run(self, con, run_id, question, status, report_id, reason) -> RunRecord:
        if status not in RUN_STATUSES:
            raise InvalidEntry(f"unknown run status {status!r}; expected one of {', '.join(RUN_STATUSES)}")
        if status == "ARCHIVED" and not (reason or "").strip():
            raise InvalidEntry(f"archiving run {run_id} needs a reason")
        now = utc_now()
        con.execute(
            "INSERT INTO runs (run_id, question, status, created_at, updated_at, report_id, reason)"
            " VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT(run_id) DO UPDATE SET"
            " status = excluded.status, updated_at = excluded.updated_at,"
            " report_id = COALESCE(excluded.report_id, runs.report_id), reason = COALESCE(excluded.reason, runs.reason)",
            (run_id, question, status, now, now, report_id, reason))
        return RunRecord(**dict(con.execute("SELECT * FROM runs WHERE run_id = ?", (run_id,)).fetchone()))

    def get_run(self, run_id: str) -> RunRecord | None:
        with self._connect() as con:
            row = con.execute("SELECT * FROM runs WHERE run_id = ?", (run_id,)).fetchone()
        return RunRecord(**dict(row)) if row else None

    def list_runs(self, status: str | None = None) -> list[RunRecord]:
        if status is not None and status not in RUN_STATUSES:
            raise InvalidEntry(f"unknown run status {status!r}; expected one of {', '.join(RUN_STATUSES)}")
        with self._connect() as con:
            rows = con.execute("SELECT * FROM runs WHERE ?1 IS NULL OR status = ?1 ORDER BY created_at, run_id",
                               (status,)).fetchall()
        return [RunRecord(**dict(r)) for r in rows]
