"""Semantic + lexical index over a corpus.

Two stages, because embedding a 16.5k-paper corpus up front costs ~18 minutes on 2 cores:
1. a BM25 index over title + abstract (built once per corpus content hash, cached on disk);
2. dense vectors for the candidates only, computed on demand and cached in SQLite keyed by
   model, input type and text hash, so a warm run embeds nothing.
"""

from __future__ import annotations

import hashlib
import json
import logging
import sqlite3
import threading
from pathlib import Path
from typing import Protocol, Sequence

import numpy as np
from scipy import sparse
from sklearn.feature_extraction.text import CountVectorizer

from sovereign_kernel.domain.schemas import Paper
from sovereign_kernel.domain.text import STOP_WORDS

log = logging.getLogger(__name__)

BM25_K1 = 1.2
BM25_B = 0.75
INDEX_FORMAT = "bm25-v1"


class Embedder(Protocol):
    """What the index needs of an embeddings object (LangChain's ``Embeddings`` fits)."""

    def embed_documents(self, texts: list[str]) -> list[list[float]]: ...
    def embed_query(self, text: str) -> list[float]: ...


def paper_text(paper: Paper) -> str:
    return f"{paper.title}. {paper.abstract}"


def _analyzer():
    return CountVectorizer(
        lowercase=True,
        token_pattern=r"(?u)\b[a-zA-Z0-9][a-zA-Z0-9\-]*[a-zA-Z0-9]\b|\b[a-zA-Z]\b",
        stop_words=sorted(STOP_WORDS),
        ngram_range=(1, 1),
        dtype=np.float32,
    )


class BM25Index:
    """Okapi BM25 as one sparse matrix: a query's scores are a column sum."""

    def __init__(self, weights: sparse.csc_matrix, vocabulary: dict[str, int], ids: list[str]):
        self.weights = weights
        self.vocabulary = vocabulary
        self.ids = ids
        self._analyze = _analyzer().build_analyzer()

    @classmethod
    def build(cls, papers: Sequence[Paper]) -> "BM25Index":
        vec = _analyzer()
        tf = vec.fit_transform([paper_text(p) for p in papers]).tocsr().astype(np.float32)
        n_docs = tf.shape[0]
        doc_len = np.asarray(tf.sum(axis=1)).ravel()
        avg_len = float(doc_len.mean()) if n_docs else 1.0
        df = np.bincount(tf.indices, minlength=tf.shape[1])
        idf = np.log1p((n_docs - df + 0.5) / (df + 0.5)).astype(np.float32)
        # Saturate term frequencies row by row: tf*(k1+1) / (tf + k1*(1-b+b*len/avg)).
        norm = BM25_K1 * (1 - BM25_B + BM25_B * doc_len / avg_len)
        rows = np.repeat(np.arange(n_docs), np.diff(tf.indptr))
        data = tf.data * (BM25_K1 + 1) / (tf.data + norm[rows]) * idf[tf.indices]
        weights = sparse.csr_matrix((data, tf.indices, tf.indptr), shape=tf.shape).tocsc()
        vocab = {term: int(i) for term, i in vec.vocabulary_.items()}
        return cls(weights, vocab, [p.id for p in papers])

    def document_frequency(self, term: str) -> int:
        col = self.vocabulary.get(term.lower())
        if col is None:
            return 0
        return int(self.weights.indptr[col + 1] - self.weights.indptr[col])

    def scores(self, query: str) -> np.ndarray:
        cols = [self.vocabulary[t] for t in self._analyze(query) if t in self.vocabulary]
        if not cols:
            return np.zeros(self.weights.shape[0], dtype=np.float32)
        return np.asarray(self.weights[:, cols].sum(axis=1)).ravel()

    def search(self, query: str, k: int) -> list[tuple[int, float]]:
        scores = self.scores(query)
        k = min(k, len(scores))
        if k == 0:
            return []
        top = np.argpartition(-scores, k - 1)[:k]
        # Ties broken by position so results are deterministic.
        order = sorted(top, key=lambda i: (-scores[i], i))
        return [(int(i), float(scores[i])) for i in order if scores[i] > 0]

    def save(self, directory: Path) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        tmp = directory / "bm25.npz.tmp"
        with open(tmp, "wb") as fh:
            sparse.save_npz(fh, self.weights)
        tmp.replace(directory / "bm25.npz")
        meta = {"format": INDEX_FORMAT, "vocabulary": self.vocabulary, "ids": self.ids}
        (directory / "meta.json.tmp").write_text(json.dumps(meta))
        (directory / "meta.json.tmp").replace(directory / "meta.json")

    @classmethod
    def load(cls, directory: Path) -> "BM25Index | None":
        try:
            meta = json.loads((directory / "meta.json").read_text())
            if meta.get("format") != INDEX_FORMAT:
                return None
            weights = sparse.load_npz(directory / "bm25.npz").tocsc()
        except (OSError, ValueError, KeyError) as exc:
            log.info("index cache at %s unusable (%s); rebuilding", directory, exc)
            return None
        return cls(weights, meta["vocabulary"], meta["ids"])


class VectorCache:
    """Dense vectors in SQLite, keyed by (model, input type, sha256 of the text)."""

    def __init__(self, path: Path, embedder: Embedder, model_id: str):
        path.parent.mkdir(parents=True, exist_ok=True)
        self.embedder = embedder
        self.model_id = model_id
        self._lock = threading.Lock()
        self._db = sqlite3.connect(str(path), check_same_thread=False)
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS vectors (model TEXT, kind TEXT, key TEXT, vec BLOB,"
            " PRIMARY KEY (model, kind, key))"
        )
        self.computed = 0

    @staticmethod
    def _key(text: str) -> str:
        return hashlib.sha256(text.encode("utf-8")).hexdigest()[:32]

    def embed(self, texts: Sequence[str], kind: str = "passage") -> np.ndarray:
        """Unit-norm vectors for ``texts`` (rows in order); only cache misses are computed."""
        keys = [self._key(t) for t in texts]
        found: dict[str, np.ndarray] = {}
        with self._lock:
            for i in range(0, len(keys), 500):
                chunk = keys[i : i + 500]
                marks = ",".join("?" * len(chunk))
                for key, blob in self._db.execute(
                    f"SELECT key, vec FROM vectors WHERE model=? AND kind=? AND key IN ({marks})",
                    [self.model_id, kind, *chunk],
                ):
                    found[key] = np.frombuffer(blob, dtype=np.float32)
        missing = list({k: t for k, t in zip(keys, texts) if k not in found}.items())  # input order
        if missing:
            miss_texts = [t for _, t in missing]
            if kind == "query":
                vecs = [self.embedder.embed_query(t) for t in miss_texts]
            else:
                vecs = self.embedder.embed_documents(miss_texts)
            arr = _normalise(np.asarray(vecs, dtype=np.float32))
            with self._lock:
                self._db.executemany(
                    "INSERT OR REPLACE INTO vectors VALUES (?,?,?,?)",
                    [(self.model_id, kind, k, v.tobytes()) for (k, _), v in zip(missing, arr)],
                )
                self._db.commit()
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

    def __init__(self, path: Path, encoder):
        path.parent.mkdir(parents=True, exist_ok=True)
        self.encoder = encoder
        self.model_id = str(getattr(encoder, "model_id", type(encoder).__name__))
        self._lock = threading.Lock()
        self._db = sqlite3.connect(str(path), check_same_thread=False)
        with self._lock:
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("CREATE TABLE IF NOT EXISTS token_vectors (model TEXT, key TEXT, dim INTEGER, vec BLOB,"
                             " PRIMARY KEY (model, key))")
            self._db.commit()
        self.computed = 0

    def encode_tokens(self, texts: Sequence[str]) -> list[np.ndarray]:
        keys = [VectorCache._key(t) for t in texts]
        found: dict[str, np.ndarray] = {}
        with self._lock:
            for i in range(0, len(keys), 500):
                chunk = list(dict.fromkeys(keys[i : i + 500]))
                marks = ",".join("?" * len(chunk))
                for key, dim, blob in self._db.execute(
                        f"SELECT key, dim, vec FROM token_vectors WHERE model=? AND key IN ({marks})",
                        [self.model_id, *chunk]):
                    found[key] = np.frombuffer(blob, dtype=np.float16).reshape(-1, dim).astype(np.float32)
        missing = list({k: t for k, t in zip(keys, texts) if k not in found}.items())
        if missing:
            arrays = self.encoder.encode_tokens([t for _, t in missing])
            with self._lock:
                self._db.executemany("INSERT OR REPLACE INTO token_vectors VALUES (?,?,?,?)",
                                     [(self.model_id, k, a.shape[1], a.astype(np.float16).tobytes())
                                      for (k, _), a in zip(missing, arrays)])
                self._db.commit()
            found.update({k: a.astype(np.float16).astype(np.float32) for (k, _), a in zip(missing, arrays)})
            self.computed += len(missing)
        return [found[k] for k in keys]

    def close(self) -> None:
        with self._lock:
            self._db.close()


def _normalise(arr: np.ndarray) -> np.ndarray:
    if arr.ndim != 2 or arr.size == 0:
        return arr
    norms = np.linalg.norm(arr, axis=1, keepdims=True)
    return arr / np.maximum(norms, 1e-12)


def load_or_build_bm25(papers: Sequence[Paper], corpus_hash: str, home: Path) -> BM25Index:
    directory = home / "index" / f"{INDEX_FORMAT}-{corpus_hash[:24]}"
    index = BM25Index.load(directory)
    if index is not None and len(index.ids) == len(papers):
        return index
    index = BM25Index.build(papers)
    try:
        index.save(directory)
    except OSError as exc:  # a read-only home must not stop a run
        log.warning("could not cache the index in %s: %s", directory, exc)
    return index
