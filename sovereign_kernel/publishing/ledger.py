"""The store's hash chain: every row appended to the published record, in order, each hash covering the
row before it — so an edit of the file that bypasses the store shows in ``sovereign-kernel audit``.

A ledger row is ``(seq, kind, key, fields_json, content_hash, prev_hash, row_hash)``: ``kind`` and ``key``
name the chained row (``reports`` SRK-…, ``corrections`` 3, …); ``fields_json`` maps each of its
columns to the sha256 of the column's canonical JSON value (so an audit can say *which* column
changed); ``content_hash`` is the hash of that map and ``row_hash`` the hash of
``[seq, kind, key, content_hash, prev_hash]``, ``prev_hash`` being the previous row's ``row_hash``.

What this proves, and what it cannot: any edit, deletion or insertion that does not recompute every
later hash breaks the chain at the first row it touched. Whoever can write the file can recompute the
whole chain consistently; only a head hash recorded somewhere else (``audit`` prints it) shows that.
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass
from types import MappingProxyType
from typing import Callable

from sovereign_kernel.domain.ids import canonical_json, document_hash

# The chained tables and their keys. ``runs`` is not chained: a run's status moves by design.
CHAINED = MappingProxyType({"reports": "report_id", "run_inputs": "report_id", "corrections": "id",
                            "reproductions": "id"})
GENESIS = "sha256:" + "0" * 64  # prev_hash of the first row

# The schema of store migration v4 (LEDGER_TABLE, append_only): a shipped migration, so change it with a
# new migration in store.py, never here.
LEDGER_TABLE = """CREATE TABLE ledger (
    seq INTEGER PRIMARY KEY, kind TEXT NOT NULL, key TEXT NOT NULL, fields_json TEXT NOT NULL,
    content_hash TEXT NOT NULL, prev_hash TEXT NOT NULL, row_hash TEXT NOT NULL, UNIQUE (kind, key))"""

# A check of one chained row's own content beyond its hashes (the store checks a report's content
# hash): returns what is wrong, or None.
RowCheck = Callable[[str, dict], "str | None"]


@dataclass(frozen=True)
class Problem:
    table: str
    key: str
    what: str
    report_id: str | None = None  # the published report the row belongs to, when known

    def __str__(self) -> str:
        return f"{self.table} row {self.key}: {self.what}" if self.key else f"{self.table}: {self.what}"


@dataclass(frozen=True)
class Audit:
    rows: int  # ledger rows walked
    head: str  # the last row's hash: record it elsewhere to detect a rewrite of the whole chain
    findings: tuple[Problem, ...]

    @property
    def intact(self) -> bool:
        return not self.findings

    @property
    def problems(self) -> list[str]:
        """One line each, in chain order: the first is the first bad row."""
        return [str(p) for p in self.findings]

    def about(self, report_id: str) -> list[str]:
        return [str(p) for p in self.findings if p.report_id == report_id]

    def to_dict(self) -> dict:
        return {"intact": self.intact, "rows": self.rows, "head": self.head, "problems": self.problems}


def append_only(table: str, what: str, *keys: tuple[str, ...]) -> tuple[str, ...]:
    """Triggers refusing UPDATE, DELETE and an INSERT over an existing key (each of ``keys`` a column
    group). The last one is what stops ``INSERT OR REPLACE``: REPLACE deletes the old row without firing
    DELETE triggers (unless the writer turns ``recursive_triggers`` on), but BEFORE INSERT fires first."""
    clash = " OR ".join("EXISTS (SELECT 1 FROM {t} WHERE {c})".format(
        t=table, c=" AND ".join(f"{k} = NEW.{k}" for k in group)) for group in keys)
    return (
        f"""CREATE TRIGGER {table}_no_update BEFORE UPDATE ON {table}
            BEGIN SELECT RAISE(ABORT, '{what} are immutable and append-only: UPDATE refused'); END""",
        f"""CREATE TRIGGER {table}_no_delete BEFORE DELETE ON {table}
            BEGIN SELECT RAISE(ABORT, '{what} are append-only: DELETE refused'); END""",
        f"""CREATE TRIGGER {table}_no_replace BEFORE INSERT ON {table} WHEN {clash}
            BEGIN SELECT RAISE(ABORT, '{what} are append-only: a row with this key exists (REPLACE refused)'); END""",
    )


def field_hashes(row: dict) -> dict[str, str]:
    return {name: document_hash(value) for name, value in row.items()}


def row_hash(seq: int, kind: str, key: str, content: str, prev: str) -> str:
    return document_hash([seq, kind, key, content, prev])


def append(con: sqlite3.Connection, kind: str, key: str | int) -> str:
    """Chain the row just written, in the caller's write transaction (so both commit or neither); returns
    the new head hash."""
    row = _row(con, kind, str(key))
    if row is None:
        raise LookupError(f"{kind} row {key} does not exist")
    last = con.execute("SELECT seq, row_hash FROM ledger ORDER BY seq DESC LIMIT 1").fetchone()
    seq, prev = (last[0] + 1, last[1]) if last else (1, GENESIS)
    fields = field_hashes(row)
    content = document_hash(fields)
    digest = row_hash(seq, kind, str(key), content, prev)
    con.execute("INSERT INTO ledger (seq, kind, key, fields_json, content_hash, prev_hash, row_hash)"
                " VALUES (?, ?, ?, ?, ?, ?, ?)", (seq, kind, str(key), canonical_json(fields), content, prev, digest))
    return digest


def chain_existing(con: sqlite3.Connection) -> None:
    """Migration to the chained schema: the rows a store already holds are chained in the order they were
    written (publication or creation time; a report before its inputs, corrections and reproductions
    of the same second). Nothing vouches for rows written before the chain existed: their hashes
    prove they have not changed since this migration, not before it."""
    order = con.execute(
        "SELECT 'reports', report_id, published_at, 0, rowid FROM reports"
        " UNION ALL SELECT 'run_inputs', i.report_id, COALESCE(r.published_at, ''), 1, i.rowid"
        "   FROM run_inputs i LEFT JOIN reports r ON r.report_id = i.report_id"
        " UNION ALL SELECT 'corrections', id, created_at, 2, id FROM corrections"
        " UNION ALL SELECT 'reproductions', id, created_at, 3, id FROM reproductions"
        " ORDER BY 3, 4, 5").fetchall()
    for kind, key, *_ in order:
        append(con, kind, key)


def verify(con: sqlite3.Connection, check: RowCheck | None = None, anchor: tuple[int, str] | None = None) -> Audit:
    """Walk the chain from its first row: links, hashes, each chained row's current content, then the rows
    the chain does not hold. Read in one transaction, so a concurrent writer cannot make it see half.
    ``anchor`` = (rows, head) an earlier audit printed and someone recorded: row ``rows`` must still
    hash to ``head`` — the one check a consistent rewrite of the chain cannot pass."""
    con.execute("BEGIN")
    try:
        return _verify(con, check, anchor)
    except sqlite3.DatabaseError as exc:  # a dropped or altered table: the store cannot vouch for anything
        return Audit(rows=0, head=GENESIS, findings=(Problem("store", "", f"cannot be audited ({exc})"),))
    finally:
        con.execute("COMMIT")


def _verify(con: sqlite3.Connection, check: RowCheck | None, anchor: tuple[int, str] | None) -> Audit:
    found: list[Problem] = []
    prev_seq, prev_hash, rows = 0, GENESIS, 0
    seen: set[tuple[str, str]] = set()
    for seq, kind, key, fields_json, content, prev, digest in con.execute(
            "SELECT seq, kind, key, fields_json, content_hash, prev_hash, row_hash FROM ledger ORDER BY seq").fetchall():
        rows += 1
        seen.add((kind, key))
        row = _row(con, kind, key) if kind in CHAINED else None
        owner = _owner(kind, key, row)
        label = f"{seq} ({kind} {key})"
        broken = ("does not follow row %d" % prev_seq if seq != prev_seq + 1
                  else "does not link to the row before it" if prev != prev_hash
                  else "its hash does not match its content" if digest != row_hash(seq, kind, key, content, prev)
                  else "its column hashes do not match its content hash" if document_hash(_load(fields_json)) != content
                  else f"unknown kind {kind!r}" if kind not in CHAINED else None)
        if broken:
            found.append(Problem("ledger", label, broken, owner))
        prev_seq, prev_hash = seq, digest
        if anchor is not None and seq == anchor[0] and digest != anchor[1]:
            found.append(Problem("ledger", label, f"is not the recorded head {anchor[1]}: the chain was rewritten", owner))
        if kind not in CHAINED:
            continue
        if row is None:
            found.append(Problem(kind, key, "missing", owner))
            continue
        recorded, now = _load(fields_json), field_hashes(row)
        changed = sorted(name for name in recorded.keys() | now.keys() if recorded.get(name) != now.get(name))
        if changed:
            found.append(Problem(kind, key, f"content changed ({', '.join(changed)})", owner))
        elif check is not None and (wrong := check(kind, row)):
            found.append(Problem(kind, key, wrong, owner))
    for kind, column in CHAINED.items():
        for key, owner in con.execute(f"SELECT {column}, report_id FROM {kind} ORDER BY rowid").fetchall():
            if (kind, str(key)) not in seen:
                found.append(Problem(kind, str(key), "not in the chain", owner))
    if anchor is not None and anchor[0] > prev_seq:
        found.append(Problem("ledger", "", f"ends at row {prev_seq}, before the recorded head at row {anchor[0]}: "
                                           "rows were removed"))
    return Audit(rows=rows, head=prev_hash, findings=tuple(found))


def _row(con: sqlite3.Connection, kind: str, key: str) -> dict | None:
    column = CHAINED[kind]
    value: str | int = key
    if column == "id":  # integer keys: compare as integers, as they are stored
        try:
            value = int(key)
        except ValueError:
            return None
    cur = con.execute(f"SELECT * FROM {kind} WHERE {column} = ?", (value,))
    values = cur.fetchone()
    return None if values is None else dict(zip([d[0] for d in cur.description], tuple(values)))


def _owner(kind: str, key: str, row: dict | None) -> str | None:
    if kind in ("reports", "run_inputs"):
        return key
    return row.get("report_id") if row else None


def _load(fields_json: str) -> dict:
    try:
        fields = json.loads(fields_json)
    except ValueError:
        return {}
    return fields if isinstance(fields, dict) else {}
