"""Model outputs on disk: pooled sentence vectors, the verifier's token vectors, and the
cross-encoder's probabilities for (claim, sentence) pairs.

All are keyed by model and a hash of the text, so a warm run embeds (and classifies) nothing and a
cold one only what it has not seen; several data dirs may share one cache directory.
"""

from __future__ import annotations

import hashlib
import logging
import sqlite3
import threading
from pathlib import Path
from typing import Protocol, Sequence

import numpy as np

from sovereign_kernel.domain.dbfiles import describe, is_sqlite_error, kind, move_aside
from sovereign_kernel.domain.progress import ProgressSink, StepProgress

log = logging.getLogger(__name__)

# A cache must never stop a run: waiting this long for another process's write lock is enough,
# after which this process keeps its vectors in memory (or skips writing them) and says so.
CACHE_TIMEOUT_S = 10.0  # the default of ``Settings.cache_lock_timeout``


def open_cache(path: Path, ddl: Sequence[str], timeout: float = CACHE_TIMEOUT_S) -> sqlite3.Connection:
    """The cache file with its tables. A corrupt file is moved aside and rebuilt (vectors are
    recomputed, nothing is lost); a file locked or unwritable past the timeout is replaced, for
    this process only, by an in-memory cache."""
    path.parent.mkdir(parents=True, exist_ok=True)
    for attempt in range(2):
        db = sqlite3.connect(str(path), check_same_thread=False, timeout=timeout)
        try:
            db.execute("PRAGMA journal_mode=WAL")
            for statement in ddl:
                db.execute(statement)
            db.commit()
            return db
        except sqlite3.DatabaseError as exc:
            db.close()
            if not is_sqlite_error(exc):
                raise
            if kind(exc) == "corrupt" and attempt == 0:
                aside = move_aside(path)
                log.warning("vector cache %s was corrupt (%s): moved to %s and rebuilt", path, exc, aside.name)
                continue
            log.warning("%s; this run keeps its vectors in memory",
                        describe(exc, path, "the vector cache", timeout=timeout, env="SOVEREIGN_CACHE_DIR"))
            break
    db = sqlite3.connect(":memory:", check_same_thread=False)
    for statement in ddl:
        db.execute(statement)
    return db


def _rows_by_key(db: sqlite3.Connection, select: str, params: Sequence, keys: Sequence[str]) -> dict[str, tuple]:
    """The rows of ``select`` (its first column the key, ending ``key IN ({marks})``) for ``keys``,
    queried 500 keys at a time (SQLite's bound-parameter limit), by key."""
    found: dict[str, tuple] = {}
    unique = list(dict.fromkeys(keys))
    for i in range(0, len(unique), 500):
        chunk = unique[i : i + 500]
        for row in db.execute(select.format(marks=",".join("?" * len(chunk))), [*params, *chunk]):
            found[row[0]] = row[1:]
    return found


class _Writes:
    """Writes to a cache file that give up (once, with a warning) when the file will not take them."""

    def __init__(self, path: Path, timeout: float = CACHE_TIMEOUT_S):
        self.path, self.failed, self.timeout = path, False, timeout

    def run(self, db: sqlite3.Connection, sql: str, rows: list) -> None:
        if self.failed:
            return
        try:
            db.executemany(sql, rows)
            db.commit()
        except sqlite3.DatabaseError as exc:
            if not is_sqlite_error(exc):
                raise
            db.rollback()
            self.failed = True
            log.warning("%s; vectors are computed without caching them", describe(
                exc, self.path, "the vector cache", timeout=self.timeout, env="SOVEREIGN_CACHE_DIR"))


class Embedder(Protocol):
    """What the vector cache needs of an embeddings object (LangChain's ``Embeddings`` fits)."""

    def embed_documents(self, texts: list[str]) -> list[list[float]]: ...
    def embed_query(self, text: str) -> list[float]: ...


class VectorCache:
    """Dense vectors in SQLite, keyed by (model, input type, sha256 of the text).

    ``on_progress``: heartbeats (``{"stage": "embed", "done", "total"}``, at most one a second) while
    texts the cache misses are embedded by an embedder that reports its batches (the local MiniLM's
    ``embed_with_progress``); called in the embedding thread, so a sink that finds its run from the
    calling context (``runtime.progress.progress``) reaches the run that asked, though the cache is
    shared between runs."""

    def __init__(self, path: Path, embedder: Embedder, model_id: str, on_progress: ProgressSink | None = None,
                 lock_timeout: float = CACHE_TIMEOUT_S):
        self.embedder = embedder
        self.model_id = model_id
        self.on_progress = on_progress
        self._lock = threading.Lock()
        # several processes may share one cache directory (and its writes): see open_cache
        self._db = open_cache(path, ["CREATE TABLE IF NOT EXISTS vectors (model TEXT, kind TEXT, key TEXT, vec BLOB,"
                                     " PRIMARY KEY (model, kind, key))"], lock_timeout)
        self._writes = _Writes(path, lock_timeout)
        self.computed = 0

    @staticmethod
    def _key(text: str) -> str:
        return hashlib.sha256(text.encode("utf-8")).hexdigest()[:32]

    def embed(self, texts: Sequence[str], kind: str = "passage") -> np.ndarray:
        """Unit-norm vectors for ``texts`` (rows in order); only cache misses are computed."""
        keys = [self._key(t) for t in texts]
        with self._lock:
            rows = _rows_by_key(self._db, "SELECT key, vec FROM vectors WHERE model=? AND kind=? AND key IN ({marks})",
                                [self.model_id, kind], keys)
        found = {k: np.frombuffer(blob, dtype=np.float32) for k, (blob,) in rows.items()}
        missing = list({k: t for k, t in zip(keys, texts) if k not in found}.items())  # input order
        if missing:
            miss_texts = [t for _, t in missing]
            batched = getattr(self.embedder, "embed_with_progress", None)
            if kind == "query":
                vecs = [self.embedder.embed_query(t) for t in miss_texts]
            elif batched is not None and self.on_progress is not None:
                step = StepProgress(self.on_progress, "embed", len(miss_texts))
                vecs = batched(miss_texts, step.update)
                step.finish()
            else:
                vecs = self.embedder.embed_documents(miss_texts)
            arr = _normalise(np.asarray(vecs, dtype=np.float32))
            if arr.ndim != 2 or len(arr) != len(miss_texts):  # never zip a short answer onto the wrong texts
                raise ValueError(f"embedder {self.model_id} gave {len(arr)} vectors for {len(miss_texts)} texts")
            with self._lock:
                self._writes.run(self._db, "INSERT OR REPLACE INTO vectors VALUES (?,?,?,?)",
                                 [(self.model_id, kind, k, v.tobytes()) for (k, _), v in zip(missing, arr)])
            found.update({k: v for (k, _), v in zip(missing, arr)})
            self.computed += len(missing)
        if not texts:
            return np.zeros((0, 0), dtype=np.float32)
        return np.stack([found[k] for k in keys])

    def close(self) -> None:
        self._db.close()


class TokenVectorCache:
    """Contextual token vectors (the verifier's ``maxsim`` features) on disk, float16, keyed by
    (encoder model, sha256 of the text): a warm run re-encodes only text it has not seen.
    Wraps any ``encode_tokens`` encoder; its ``model_id`` names the vectors it gives."""

    def __init__(self, path: Path, encoder, lock_timeout: float = CACHE_TIMEOUT_S):
        self.encoder = encoder
        self.model_id = str(getattr(encoder, "model_id", type(encoder).__name__))
        self._lock = threading.Lock()
        self._db = open_cache(path, ["CREATE TABLE IF NOT EXISTS token_vectors (model TEXT, key TEXT, dim INTEGER,"
                                     " vec BLOB, PRIMARY KEY (model, key))"], lock_timeout)
        self._writes = _Writes(path, lock_timeout)
        self.computed = 0

    def encode_tokens(self, texts: Sequence[str]) -> list[np.ndarray]:
        keys = [VectorCache._key(t) for t in texts]
        with self._lock:
            rows = _rows_by_key(self._db, "SELECT key, dim, vec FROM token_vectors WHERE model=? AND key IN ({marks})",
                                [self.model_id], keys)
        found = {k: np.frombuffer(blob, dtype=np.float16).reshape(-1, dim).astype(np.float32)
                 for k, (dim, blob) in rows.items()}
        missing = list({k: t for k, t in zip(keys, texts) if k not in found}.items())
        if missing:
            arrays = self.encoder.encode_tokens([t for _, t in missing])
            with self._lock:
                self._writes.run(self._db, "INSERT OR REPLACE INTO token_vectors VALUES (?,?,?,?)",
                                 [(self.model_id, k, a.shape[1], a.astype(np.float16).tobytes())
                                  for (k, _), a in zip(missing, arrays)])
            found.update({k: a.astype(np.float16).astype(np.float32) for (k, _), a in zip(missing, arrays)})
            self.computed += len(missing)
        return [found[k] for k in keys]

    def close(self) -> None:
        with self._lock:
            self._db.close()


class PairScoreCache:
    """A pair classifier's probabilities (the cross-encoder's, ~9 ms a pair) in SQLite, keyed by
    the model file's sha256 and a hash of the pair: a rerun of a question, or a revision round in
    another process, reads them back. Same interface as the classifier (``probabilities``)."""

    def __init__(self, path: Path, classifier, lock_timeout: float = CACHE_TIMEOUT_S):
        self.classifier = classifier
        self._lock = threading.Lock()
        self._db = open_cache(path, ["CREATE TABLE IF NOT EXISTS pair_scores (model TEXT, key TEXT, probs BLOB,"
                                     " PRIMARY KEY (model, key))"], lock_timeout)
        self._writes = _Writes(path, lock_timeout)
        self.computed = 0

    @property
    def available(self) -> bool:
        return bool(getattr(self.classifier, "available", True))

    def probabilities(self, pairs: Sequence[tuple[str, str]]) -> np.ndarray:
        if not pairs:
            return self.classifier.probabilities(pairs)
        model = self.classifier.model_id
        keys = [VectorCache._key(f"{a}\x00{b}") for a, b in pairs]
        with self._lock:
            rows = _rows_by_key(self._db, "SELECT key, probs FROM pair_scores WHERE model=? AND key IN ({marks})",
                                [model], keys)
        found = {k: np.frombuffer(blob, dtype=np.float32) for k, (blob,) in rows.items()}
        missing = list({k: p for k, p in zip(keys, pairs) if k not in found}.items())
        if missing:
            probs = np.asarray(self.classifier.probabilities([p for _, p in missing]), dtype=np.float32)
            with self._lock:
                self._writes.run(self._db, "INSERT OR REPLACE INTO pair_scores VALUES (?,?,?)",
                                 [(model, k, row.tobytes()) for (k, _), row in zip(missing, probs)])
            found.update({k: row for (k, _), row in zip(missing, probs)})
            self.computed += len(missing)
        return np.stack([found[k] for k in keys])

    def close(self) -> None:
        with self._lock:
            self._db.close()


def _normalise(arr: np.ndarray) -> np.ndarray:
    if arr.ndim != 2 or arr.size == 0:
        return arr
    norms = np.linalg.norm(arr, axis=1, keepdims=True)
    return arr / np.maximum(norms, 1e-12)
