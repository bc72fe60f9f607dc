"""Evaluation metrics: small pure functions, tested on hand-computed cases."""

from __future__ import annotations

import math
from typing import Iterable, Sequence

import numpy as np
from sklearn.metrics import roc_auc_score


def ndcg_at_k(ranked: Sequence[str], relevant: Iterable[str], k: int = 10) -> float:
    """Binary-gain nDCG@k: sum 1/log2(rank+1) over relevant hits in the top k, divided by the
    same sum for an ideal ranking (all relevant documents first, at most k of them)."""
    rel = set(relevant)
    if not rel:
        return 0.0
    dcg = sum(1.0 / math.log2(i + 2) for i, d in enumerate(ranked[:k]) if d in rel)
    ideal = sum(1.0 / math.log2(i + 2) for i in range(min(len(rel), k)))
    return dcg / ideal


def recall_at_k(ranked: Sequence[str], relevant: Iterable[str], k: int) -> float:
    """Share of the relevant documents found in the top k."""
    rel = set(relevant)
    if not rel:
        return 0.0
    return len(rel & set(ranked[:k])) / len(rel)


def auroc(labels: Sequence[int], scores: Sequence[float]) -> float | None:
    """Area under the ROC curve (ties count 1/2); ``None`` when one class is missing."""
    y = np.asarray(labels, dtype=int)
    if y.size == 0 or y.min() == y.max():
        return None
    return float(roc_auc_score(y, np.asarray(scores, dtype=float)))


def precision_recall(labels: Sequence[int], predicted: Sequence[bool]) -> tuple[float, float]:
    """Precision and recall of boolean predictions (precision 0.0 when nothing is predicted)."""
    y = np.asarray(labels, dtype=bool)
    p = np.asarray(predicted, dtype=bool)
    tp = int((y & p).sum())
    precision = tp / int(p.sum()) if p.any() else 0.0
    recall = tp / int(y.sum()) if y.any() else 0.0
    return precision, recall
