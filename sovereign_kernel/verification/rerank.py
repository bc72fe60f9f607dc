"""Rerank the retriever's best candidates by the calibrated verifier's reading of them (the second
stage of the retriever and of ``eval scifact``'s ranking: ``rerank_scored``).

The first stage (BM25 over planned queries, then the hybrid of ``retrieval.ranking``) finds papers
that share words and meaning with the question; it cannot tell a paper that *speaks to* the question
from one that only shares its topic. The calibrated sentence verifier (``sentence_verifier``: dense
and token MaxSim features plus the trained cross-encoder) reads each of the top ``depth`` papers
sentence by sentence and gives its confidence that the paper states the question's content.

The new order is ``(1 - beta) x position score + beta x confidence`` (position score 1 for the first,
falling by 1/depth a place): the first stage keeps its say, the reading moves a paper some places.
Why the verifier's confidence and not the cross-encoder alone: read alone, the cross-encoder made the
first stage's order worse on SciFact (fold 0: nDCG@10 0.836 -> 0.835 at beta 0.2, 0.808 at 0.35), the
calibrated combination improved it (``bench/verifier_cv.py``, section 3).

``beta`` is the retriever's ``rerank_beta`` (0.5, over its top ``rerank_depth`` = 12): the largest beta
of the grid at which the labelled research questions' MRR does not drop (0.950 -> 0.952: one target moves
up two places, two move down one; 48 of 49 stay among the 8 a run keeps, as before; at 0.65 it drops).
Research questions are not claims: on SciFact alone a larger beta would be chosen. SciFact nDCG@10, out
of fold: 0.862 -> 0.888 (``bench/rerank_questions.py``, ``bench/verifier_cv.py``). Depth 12, not 20: the
same MRR and SciFact within 0.001 (0.889 at 20), at 60% of the reading's cost (~1 s less a cold run).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TypeVar

import numpy as np

from sovereign_kernel.domain.schemas import Paper, ScoredPaper
from sovereign_kernel.domain.settings import RetrieverSettings
from sovereign_kernel.verification.sentence_verifier import SentenceVerifier

T = TypeVar("T")


def verifier_confidences(question: str, papers: Sequence[Paper],
                         make_verifier: Callable[[Sequence[Paper]], SentenceVerifier]) -> np.ndarray:
    """The verifier's confidence that each paper states the question's content (0 for a paper
    without a sentence to read)."""
    if not papers:
        return np.zeros(0)
    best = {s.paper_id: s.confidence for s in make_verifier(papers).score([question])[0]}
    return np.array([best.get(p.id, 0.0) for p in papers], dtype=float)


def rerank_order(confidences: Sequence[float], beta: float) -> list[int]:
    """Indices of the candidates in their new order (stable on ties)."""
    n = len(confidences)
    position = 1.0 - np.arange(n) / max(n, 1)
    score = (1 - beta) * position + beta * np.asarray(confidences, dtype=float)
    return [int(i) for i in np.lexsort((np.arange(n), -score))]


def reranked(items: Sequence[T], confidences: Sequence[float], beta: float) -> list[T]:
    """The first ``len(confidences)`` items reordered, the rest after them as they were."""
    head = [items[i] for i in rerank_order(confidences, beta)]
    return head + list(items[len(confidences):])


def rerank_enabled(settings: RetrieverSettings) -> bool:
    """Does the retriever rerank with these settings (depth and beta both above 0)?"""
    return settings.rerank_depth > 0 and settings.rerank_beta > 0


def rerank_scored(question: str, scored: Sequence[ScoredPaper], make_verifier: Callable[[Sequence[Paper]], SentenceVerifier],
                  depth: int, beta: float) -> list[ScoredPaper]:
    """The first stage's sorted candidates with the top ``depth`` reordered by the verifier's reading
    (each read paper records it in ``reading``); the rest after them as they were."""
    top = list(scored[:depth])
    if len(top) < 2:
        return list(scored)
    conf = verifier_confidences(question, [s.paper for s in top], make_verifier)
    for s, c in zip(top, conf):
        s.reading = round(float(c), 4)
    return reranked(list(scored), conf, beta)
