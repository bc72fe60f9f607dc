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


# Direction words: a claim that something rises and a sentence that it falls disagree in direction.
_UP_RE = re.compile(r"\b(increas\w*|higher|more|greater|enhanc\w*|promot\w*|induc\w*|activat\w*|elevat\w*|improv\w*"
                    r"|rais\w*|upregulat\w*|stimulat\w*|accelerat\w*)\b", re.I)
_DOWN_RE = re.compile(r"\b(decreas\w*|lower|less|fewer|reduc\w*|inhibit\w*|suppress\w*|impair\w*|prevent\w*|block\w*"
                      r"|attenuat\w*|diminish\w*|downregulat\w*|declin\w*|imped\w*)\b", re.I)
# Denials of an association, beyond plain negation ("is unrelated to", "independent of")
_NOT_ONLY_RE = re.compile(r"\bnot only\b|\bno (?:less|fewer|more) than\b", re.I)
_DENIAL_RE = re.compile(r"\b(unrelated|unaffected|unchanged|independent of|irrelevant)\b", re.I)


def direction(text: str) -> int:
    """+1 when the text's up-words outnumber its down-words, -1 the reverse, 0 otherwise."""
    return int(np.sign(len(_UP_RE.findall(text)) - len(_DOWN_RE.findall(text))))


def disagreement(claim: str, sentence: str) -> str | None:
    """What visibly opposes a claim and a sentence: a negation or denial on one side only, opposite
    directions, or numbers on both sides with none in common; None when nothing does."""
    def denies(t: str) -> bool:
        t = _NOT_ONLY_RE.sub(" ", t)  # "not only X but also Y" asserts both
        return bool(NEGATION_RE.search(t) or _DENIAL_RE.search(t))

    if denies(claim) != denies(sentence):
        return "negation"
    if direction(claim) * direction(sentence) < 0:
        return "direction"
    claimed, stated = numbers_in(claim), numbers_in(sentence)
    if claimed and stated and not claimed & stated:
        return "numbers"
    return None
