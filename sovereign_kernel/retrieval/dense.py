"""Dense candidates: the corpus papers nearest a question in meaning, whatever words it uses.

BM25 and the planned queries find only papers that share the question's words. A question that
names its topic by a paraphrase (a verb for the paper's noun, a description of its technical term)
never reaches the paper it is about, and no later stage can rank a paper that was never a
candidate. So the retriever also takes the ``k`` papers whose *lead* — title and the abstract's
first sentence, what a paper is about in few word pieces — lies closest to the question (the local
MiniLM, cosine), as one more query's hits; the hybrid score, the rerank and the gate then judge
them like any other candidate.

Leads, not whole abstracts, because the whole corpus is embedded once per corpus: on a 2-core
machine ~6.5 ms a lead (3,500 in ~27 s, 16.5k in ~2 min), whole abstracts ~4x that. The vectors go
into the vector cache, so every later run reads them back. The bundled demo corpus ships its lead
vectors (``demo_leads.npz``, float16, checked against the model in the tests), so a first run on it
embeds nothing. Measured (``bench/dense_candidates.py``, 30 leads, the 16.5k arXiv corpus): the
target paper of 35 held-out paraphrased questions among the 8 kept 15 -> 22, MRR 0.350 -> 0.417.
"""

from __future__ import annotations

import hashlib
import io
import zipfile
from collections.abc import Callable, Sequence
from importlib import resources

import numpy as np

from sovereign_kernel.domain.schemas import Paper

PREBUILT_LEADS = "demo_leads.npz"
DENSE_QUERY = "nearest in meaning (title + first sentence)"  # how the candidates' hits name their "query"
LEADS_PER_CHUNK = 1024  # leads embedded (and cached) at a time: ~8 s of work on 2 cores


def lead_text(paper: Paper) -> str:
    """Title and the abstract's first sentence (its first 300 characters when no sentence ends early)."""
    a = paper.abstract
    cut = a.find(". ")
    return f"{paper.title}. {a[: cut + 1] if 0 < cut < 400 else a[:300]}"


def leads_digest(papers: Sequence[Paper]) -> str:
    """What a lead matrix was built from: every paper's id and lead, in corpus order."""
    h = hashlib.sha256()
    for p in papers:
        h.update(f"{p.id}\x1f{lead_text(p)}\x1e".encode())
    return h.hexdigest()


class LeadIndex:
    """Unit-norm lead vectors, one row per corpus paper (corpus order)."""

    def __init__(self, matrix: np.ndarray):
        self.matrix = matrix

    @classmethod
    def build(cls, papers: Sequence[Paper], embed: Callable[[list[str]], np.ndarray], model_id: str,
              on_progress: Callable[[int, int], None] | None = None, chunk: int = LEADS_PER_CHUNK) -> LeadIndex:
        """The corpus's leads embedded by ``embed`` — or the shipped vectors when they were built from these
        very leads by this very model. ``embed`` goes through the vector cache, a chunk at a time, so a
        first run killed while embedding a large corpus keeps the chunks it finished. ``on_progress(done,
        total)``: before the first chunk and after each (a heartbeat: 16.5k leads take minutes)."""
        prebuilt = load_prebuilt(leads_digest(papers), model_id)
        if prebuilt is not None:
            return cls(prebuilt)
        texts = [lead_text(p) for p in papers]
        rows: list[np.ndarray] = []
        for start in range(0, len(texts), chunk):
            if on_progress is not None:
                on_progress(start, len(texts))
            rows.append(np.asarray(embed(texts[start:start + chunk]), dtype=np.float32))
        if on_progress is not None and texts:
            on_progress(len(texts), len(texts))
        return cls(np.concatenate(rows) if rows else np.zeros((0, 0), dtype=np.float32))

    def nearest(self, query_vector: np.ndarray, k: int) -> list[int]:
        """The corpus indexes of the ``k`` leads closest to ``query_vector``, closest first (ties: corpus order)."""
        if k <= 0 or not len(self.matrix):
            return []
        return [int(i) for i in np.argsort(-(self.matrix @ query_vector), kind="stable")[:k]]


def load_prebuilt(digest: str, model_id: str) -> np.ndarray | None:
    """The shipped lead vectors when they match ``digest`` and ``model_id``; None otherwise — also when the
    file is missing or unreadable (a damaged install then embeds the leads, as for any other corpus)."""
    try:
        blob = resources.files("sovereign_kernel.data").joinpath(PREBUILT_LEADS).read_bytes()
        with np.load(io.BytesIO(blob)) as data:
            if str(data["digest"]) != digest or str(data["model"]) != model_id:
                return None
            m = data["vectors"].astype(np.float32)
    except (OSError, ValueError, KeyError, zipfile.BadZipFile):
        return None
    if m.ndim != 2 or not np.isfinite(m).all():
        return None
    return m / np.maximum(np.linalg.norm(m, axis=1, keepdims=True), 1e-12)  # float16 rounding: renormalise


def save_prebuilt(path, papers: Sequence[Paper], vectors: np.ndarray, model_id: str) -> None:
    """Write the shipped lead vectors of ``papers`` (``train/build_demo_leads.py``)."""
    np.savez_compressed(path, vectors=np.asarray(vectors, dtype=np.float16), digest=leads_digest(papers),
                        model=model_id)
