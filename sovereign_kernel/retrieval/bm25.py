"""BM25 over title + abstract: the lexical first stage of retrieval.

Embedding a 16.5k-paper corpus up front costs ~18 minutes on 2 cores, so retrieval is two
stages: this index (built once per corpus content hash, cached on disk) finds candidates, and
only those are embedded (``vectors.VectorCache``).
"""

from __future__ import annotations

import json
import logging
import os
import threading
from pathlib import Path
from typing import Callable, Sequence

import numpy as np
from scipy import sparse
from sklearn.feature_extraction.text import CountVectorizer

from sovereign_kernel.domain.schemas import Paper, paper_text
from sovereign_kernel.domain.text import STOP_WORDS

log = logging.getLogger(__name__)

BM25_K1 = 1.2
BM25_B = 0.75
INDEX_FORMAT = "bm25-v1"


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
        return cls.build_texts([paper_text(p) for p in papers], [p.id for p in papers])

    @classmethod
    def build_texts(cls, texts: Sequence[str], ids: Sequence[str]) -> "BM25Index":
        """An index over any texts (a library's passages), each under its id."""
        vec = _analyzer()
        tf = vec.fit_transform(list(texts)).tocsr().astype(np.float32)
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
        return cls(weights, vocab, list(ids))

    def document_frequency(self, term: str) -> int:
        col = self.vocabulary.get(term.lower())
        if col is None:
            return 0
        return int(self.weights.indptr[col + 1] - self.weights.indptr[col])

    def documents(self, term: str) -> np.ndarray:
        """Indexes of the documents holding ``term`` (the BM25 matrix's column, read as is)."""
        col = self.vocabulary.get(term.lower())
        if col is None:
            return np.zeros(0, dtype=np.int32)
        return self.weights.indices[self.weights.indptr[col] : self.weights.indptr[col + 1]]

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
        """Write the index; each file is replaced atomically (a unique temp name per writer), so
        processes sharing a cache directory never read a half-written index."""
        directory.mkdir(parents=True, exist_ok=True)
        tag = f"{os.getpid()}.{threading.get_ident()}.tmp"
        tmp = directory / f"bm25.npz.{tag}"
        with open(tmp, "wb") as fh:
            sparse.save_npz(fh, self.weights)
        tmp.replace(directory / "bm25.npz")
        meta = {"format": INDEX_FORMAT, "vocabulary": self.vocabulary, "ids": self.ids}
        (directory / f"meta.json.{tag}").write_text(json.dumps(meta))
        (directory / f"meta.json.{tag}").replace(directory / "meta.json")

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


def cached_index(directory: Path, texts: Callable[[], Sequence[str]], ids: Sequence[str]) -> BM25Index:
    """The index of ``texts`` (a thunk: read only on a miss) under ``ids``, from ``directory`` when it
    holds one of that size, else built and saved there (a read-only cache must not stop a run)."""
    index = BM25Index.load(directory)
    if index is not None and len(index.ids) == len(ids):
        return index
    index = BM25Index.build_texts(texts(), ids)
    try:
        index.save(directory)
    except OSError as exc:
        log.warning("could not cache the index in %s: %s", directory, exc)
    return index


def load_or_build_bm25(papers: Sequence[Paper], corpus_hash: str, home: Path) -> BM25Index:
    return cached_index(home / "index" / f"{INDEX_FORMAT}-{corpus_hash[:24]}", lambda: [paper_text(p) for p in papers],
                        [p.id for p in papers])
