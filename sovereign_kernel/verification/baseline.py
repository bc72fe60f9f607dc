"""The seed system's verifier, kept as a baseline beside the calibrated one in every run.

TF-IDF cosine on word 1-2-grams between the claim and a whole abstract (vectorizer fitted on
the pair), verified at >= ``settings.verification.baseline_threshold`` (0.15).
"""

from __future__ import annotations

import math
import time
from collections import Counter
from typing import Sequence

from sovereign_kernel.domain.schemas import Claim, Paper

BASELINE_METHOD = "baseline-tfidf-1-2gram"


def seed_analyzer():
    """sklearn's TfidfVectorizer(ngram_range=(1, 2)) analyzer, imported only here: commands that only
    read runs (list, show, export) never import sklearn (~1 s a process)."""
    from sklearn.feature_extraction.text import TfidfVectorizer

    return TfidfVectorizer(ngram_range=(1, 2), lowercase=True).build_analyzer()


def baseline_score(claim: str, document: str, analyzer=None) -> float:
    """The seed verifier: TF-IDF word 1-2-gram cosine, vectorizer fitted on the pair.

    Computed in closed form — exactly sklearn's TfidfVectorizer(ngram_range=(1, 2)) fitted on the
    two texts (smooth idf over n=2: 1 for a term in both, ln(3/2)+1 for a term in one; l2 norm) —
    because fitting a vectorizer per pair cost ~2 ms, ~0.3 s per run, all of it holding the GIL.
    """
    if not claim.strip() or not document.strip():
        return 0.0
    analyze = analyzer or seed_analyzer()
    a, b = Counter(analyze(claim)), Counter(analyze(document))
    if not a or not b:
        return 0.0
    one_side = math.log(1.5) + 1.0

    def weights(counts: Counter, other: Counter) -> dict[str, float]:
        return {t: n * (1.0 if t in other else one_side) for t, n in counts.items()}

    wa, wb = weights(a, b), weights(b, a)
    dot = sum(w * wb[t] for t, w in wa.items() if t in wb)
    norm = math.sqrt(sum(w * w for w in wa.values())) * math.sqrt(sum(w * w for w in wb.values()))
    return dot / norm if norm else 0.0


def baseline_scores(claims: Sequence[Claim], papers: Sequence[Paper], yield_gil: bool = False) -> list[float]:
    """The seed method per claim: its best TF-IDF 1-2-gram cosine with any kept abstract.
    ``yield_gil``: release the GIL after each claim, so an event loop sending LLM requests
    meanwhile is not held up by this CPU-bound thread."""
    out = []
    # The seed method fits a vectorizer per pair: skip sklearn's per-fit parameter validation
    # (same results, ~20% less time; the setting is thread-local).
    import sklearn

    analyze = seed_analyzer()
    with sklearn.config_context(skip_parameter_validation=True):
        for c in claims:
            best = 0.0
            for p in papers:
                best = max(best, baseline_score(c.text, p.abstract, analyze))
                if yield_gil:
                    time.sleep(0)
            out.append(best)
    return out


def with_baselines(claims: Sequence[Claim], bases: Sequence[float], threshold: float) -> list[Claim]:
    """Claims with their baseline score and whether it clears the seed's threshold."""
    return [c.model_copy(update={"baseline_score": round(b, 4), "baseline_verified": b >= threshold})
            for c, b in zip(claims, bases)]
