"""Per-run LLM response cache: what makes a resumed run and the reproduction gate replayable.

Every validated structured answer is stored under ``(run_id, model, prompt hash)`` in
``<SOVEREIGN_HOME>/llm_responses.sqlite``, where the prompt hash covers the role, the answer
schema and every message. Asking the same prompt again in the same run (a node re-run after a
crash, a re-extraction in a revision round) returns the stored answer with zero server calls;
a *cache-only* session (the replay switch) never calls a model at all and falls back to the
offline algorithm on a miss, exactly as the original run did where it had fallen back.

Alongside, the session's usage counters are snapshotted per run, so the manifest of a resumed
run still counts the calls made before the interruption. Prompts and keys are never stored:
only hashes, model names and the models' answers.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import sqlite3
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from functools import lru_cache
from pathlib import Path

from pydantic import BaseModel, ValidationError

RESPONSE_CACHE_FILE = "llm_responses.sqlite"


@lru_cache(maxsize=64)  # a pure function of a class: a memo, not state
def _schema_json(schema: type[BaseModel]) -> str:
    return json.dumps(schema.model_json_schema(), sort_keys=True)


def prompt_key(role: str, model: str, schema: type[BaseModel], messages: list) -> str:
    """sha256 over the role, model, answer schema and every message (type + content)."""
    payload = [role, model, schema.__name__, _schema_json(schema),
               [(getattr(m, "type", ""), m.content if isinstance(m.content, str) else json.dumps(m.content))
                for m in messages]]
    return hashlib.sha256(json.dumps(payload, sort_keys=True, ensure_ascii=False).encode("utf-8")).hexdigest()


class ResponseCache:
    """SQLite store of validated answers and usage snapshots, keyed by run (thread-safe).

    Sessions use the ``a...`` methods: they run the SQLite calls on this cache's own single I/O
    thread, so an event loop never blocks on the disk and the calls do not queue behind CPU-bound
    work in the default executor (each is sub-millisecond)."""

    def __init__(self, path: Path):
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._io = ThreadPoolExecutor(max_workers=1, thread_name_prefix="llm-response-cache")
        self._lock = threading.Lock()
        self._db = sqlite3.connect(str(path), check_same_thread=False)
        with self._lock:
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.execute("CREATE TABLE IF NOT EXISTS responses (run_id TEXT, model TEXT, key TEXT, role TEXT,"
                             " answer TEXT, created REAL, PRIMARY KEY (run_id, model, key))")
            self._db.execute("CREATE TABLE IF NOT EXISTS usage (run_id TEXT PRIMARY KEY, snapshot TEXT, updated REAL)")
            self._db.commit()

    def get(self, run_id: str, model: str, key: str) -> str | None:
        with self._lock:
            row = self._db.execute("SELECT answer FROM responses WHERE run_id=? AND model=? AND key=?",
                                   (run_id, model, key)).fetchone()
        return row[0] if row else None

    def answer(self, run_id: str, model: str, key: str, schema: type[BaseModel]) -> BaseModel | None:
        """The stored answer as ``schema``; None on a miss or when the schema changed since."""
        if (hit := self.get(run_id, model, key)) is None:
            return None
        try:
            return schema.model_validate_json(hit)
        except ValidationError:
            return None

    def put(self, run_id: str, model: str, key: str, role: str, answer: str) -> None:
        with self._lock:
            self._db.execute("INSERT OR REPLACE INTO responses VALUES (?,?,?,?,?,?)",
                             (run_id, model, key, role, answer, time.time()))
            self._db.commit()

    def record(self, run_id: str, snapshot: dict, answer: tuple[str, str, str, str] | None = None) -> None:
        """The run's usage snapshot and, when given, a new answer (model, key, role, json), in one commit."""
        with self._lock:
            if answer is not None:
                self._db.execute("INSERT OR REPLACE INTO responses VALUES (?,?,?,?,?,?)",
                                 (run_id, *answer, time.time()))
            self._db.execute("INSERT OR REPLACE INTO usage VALUES (?,?,?)",
                             (run_id, json.dumps(snapshot, sort_keys=True), time.time()))
            self._db.commit()

    def count(self, run_id: str) -> int:
        with self._lock:
            return self._db.execute("SELECT COUNT(*) FROM responses WHERE run_id=?", (run_id,)).fetchone()[0]

    def save_usage(self, run_id: str, snapshot: dict) -> None:
        with self._lock:
            self._db.execute("INSERT OR REPLACE INTO usage VALUES (?,?,?)",
                             (run_id, json.dumps(snapshot, sort_keys=True), time.time()))
            self._db.commit()

    def discard_run(self, run_id: str) -> None:
        """Forget a run's answers and counters (the run is started over under its id)."""
        with self._lock:
            self._db.execute("DELETE FROM responses WHERE run_id=?", (run_id,))
            self._db.execute("DELETE FROM usage WHERE run_id=?", (run_id,))
            self._db.commit()

    def load_usage(self, run_id: str) -> dict | None:
        with self._lock:
            row = self._db.execute("SELECT snapshot FROM usage WHERE run_id=?", (run_id,)).fetchone()
        return json.loads(row[0]) if row else None

    async def aanswer(self, run_id: str, model: str, key: str, schema: type[BaseModel]) -> BaseModel | None:
        return await asyncio.get_running_loop().run_in_executor(self._io, self.answer, run_id, model, key, schema)

    async def arecord(self, run_id: str, snapshot: dict, answer: tuple[str, str, str, str] | None = None) -> None:
        await asyncio.get_running_loop().run_in_executor(self._io, self.record, run_id, snapshot, answer)

    def close(self) -> None:
        self._io.shutdown(wait=True)
        with self._lock:
            self._db.close()
