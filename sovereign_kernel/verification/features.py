"""Measured features of a (claim, evidence) pair that the calibration weighs."""

from __future__ import annotations

import re

import numpy as np

from sovereign_kernel.domain.text import NEGATION_RE, content_tokens, numbers_in, stem


def number_mismatch(claim: str, evidence: str) -> float:
    """1.0 when the claim states numbers the evidence does not contain."""
    claimed = numbers_in(claim)
    if not claimed:
        return 0.0
    return 0.0 if claimed & numbers_in(evidence) else 1.0


def negation_mismatch(claim: str, evidence: str) -> float:
    return float(bool(NEGATION_RE.search(claim)) != bool(NEGATION_RE.search(evidence)))


# Entity-like tokens: letters and digits mixed (PPM1D, Ly49Q, IL-6, COVID-19) or an acronym
# of two or more capitals (HIV, BRCA, ART), optionally with a trailing lower-case letter (MoE-style).
_ENTITY_RE = re.compile(
    r"\b(?=[A-Za-z0-9\-]*[0-9])(?=[A-Za-z0-9\-]*[A-Za-z])[A-Za-z0-9\-]+\b|\b[A-Z][A-Z0-9\-]{1,}[a-z]?\b"
)


def entities_in(text: str) -> set[str]:
    return {e.lower() for e in _ENTITY_RE.findall(text)}


def entity_mismatch(claim: str, document: str) -> tuple[float, float]:
    """(share of the claim's entities absent from the document, 1.0 if the claim has any)."""
    claimed = entities_in(claim)
    if not claimed:
        return 0.0, 0.0
    return len(claimed - entities_in(document)) / len(claimed), 1.0


def stem_coverage(claim: str, document: str) -> float:
    """Share of the claim's content-word stems that occur in the document."""
    claimed = {stem(t) for t in content_tokens(claim)}
    if not claimed:
        return 0.0
    return len(claimed & {stem(t) for t in content_tokens(document)}) / len(claimed)


def maxsim(claim_tokens: np.ndarray, doc_tokens: np.ndarray) -> tuple[float, float]:
    """(mean, min) over claim tokens of the best cosine to any document token."""
    if claim_tokens.size == 0 or doc_tokens.size == 0:
        return 0.0, 0.0
    best = (claim_tokens @ doc_tokens.T).max(axis=1)
    return float(best.mean()), float(best.min())
