"""Claim verification against retrieved text.

Two verifiers, both kept so every run can show them side by side:

* ``baseline`` — the seed method: TF-IDF cosine on word 1-2-grams between the claim and a
  whole abstract (vectorizer fitted on the pair), verified at >= 0.15.
* ``sentence-hybrid`` (default) — the claim against every sentence of every retrieved paper:
  TF-IDF 1-2-gram cosine and MiniLM cosine combined, minus penalties when numbers or
  negation disagree; the best sentence is the evidence, and a logistic calibration stored
  as data (``data/verifier_calibration.json``, fit on SciFact train) turns the score into a
  confidence in [0, 1].
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from typing import Callable, Sequence

import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer

from sovereign_kernel.schemas import Evidence, Paper
from sovereign_kernel.text import NEGATION_RE, Sentence, numbers_in, split_sentences

BASELINE_METHOD = "baseline-tfidf-1-2gram"
DEFAULT_METHOD = "sentence-hybrid"


def baseline_score(claim: str, document: str) -> float:
    """The seed verifier: TF-IDF word 1-2-gram cosine, vectorizer fitted on the pair."""
    if not claim.strip() or not document.strip():
        return 0.0
    vec = TfidfVectorizer(ngram_range=(1, 2), lowercase=True)
    try:
        m = vec.fit_transform([claim, document])
    except ValueError:  # only stop words / no tokens
        return 0.0
    return float((m[0] @ m[1].T).toarray()[0, 0])


@dataclass(frozen=True)
class Calibration:
    """Logistic map from features to P(supported); parameters come from a data file."""

    weight_lexical: float
    weight_dense: float
    weight_number_mismatch: float
    weight_negation_mismatch: float
    bias: float
    fitted_on: str
    sentence_dense_weight: float = 0.5  # picks each paper's best sentence: w*dense + (1-w)*lexical
    notes: str = ""

    def confidence(self, lexical: float, dense: float, number_mismatch: float, negation_mismatch: float) -> float:
        z = (
            self.weight_lexical * lexical
            + self.weight_dense * dense
            + self.weight_number_mismatch * number_mismatch
            + self.weight_negation_mismatch * negation_mismatch
            + self.bias
        )
        return 1.0 / (1.0 + math.exp(-z))


@lru_cache(maxsize=1)
def load_calibration() -> Calibration:
    text = resources.files("sovereign_kernel.data").joinpath("verifier_calibration.json").read_text()
    data = json.loads(text)
    return Calibration(**{k: data[k] for k in Calibration.__dataclass_fields__ if k in data})


@dataclass
class SentenceScore:
    paper_id: str
    sentence: Sentence
    lexical: float
    dense: float
    number_mismatch: float
    negation_mismatch: float
    confidence: float


def number_mismatch(claim: str, evidence: str) -> float:
    """1.0 when the claim states numbers the evidence does not contain."""
    claimed = numbers_in(claim)
    if not claimed:
        return 0.0
    return 0.0 if claimed & numbers_in(evidence) else 1.0


def negation_mismatch(claim: str, evidence: str) -> float:
    return float(bool(NEGATION_RE.search(claim)) != bool(NEGATION_RE.search(evidence)))


class SentenceVerifier:
    """Scores claims against all sentences of a set of papers in one vectorised pass."""

    def __init__(
        self,
        papers: Sequence[Paper],
        embed: Callable[[list[str]], np.ndarray],
        calibration: Calibration | None = None,
    ):
        self.calibration = calibration or load_calibration()
        self.embed = embed
        self.sentences: list[tuple[str, Sentence]] = [
            (p.id, s) for p in papers for s in split_sentences(p.abstract)
        ]

    def score(self, claims: Sequence[str]) -> list[list[SentenceScore]]:
        """For each claim, every paper's best sentence, best first."""
        if not claims or not self.sentences:
            return [[] for _ in claims]
        texts = [s.text for _, s in self.sentences]
        vec = TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True, stop_words="english")
        try:
            m = vec.fit_transform(list(claims) + texts)
            lexical = (m[: len(claims)] @ m[len(claims) :].T).toarray()
        except ValueError:
            lexical = np.zeros((len(claims), len(texts)))
        dense = self.embed(list(claims)) @ self.embed(texts).T
        cal = self.calibration
        w = cal.sentence_dense_weight
        raw = w * dense + (1 - w) * lexical
        out: list[list[SentenceScore]] = []
        for ci, claim in enumerate(claims):
            # Each paper's evidence is its best sentence by the raw hybrid score; the
            # calibration (fit the same way) turns that sentence's features into P(evidence).
            best_idx: dict[str, int] = {}
            for si, (pid, _) in enumerate(self.sentences):
                if pid not in best_idx or raw[ci, si] > raw[ci, best_idx[pid]]:
                    best_idx[pid] = si
            scores = []
            for pid, si in best_idx.items():
                sent = self.sentences[si][1]
                num, neg = number_mismatch(claim, sent.text), negation_mismatch(claim, sent.text)
                lex, den = float(lexical[ci, si]), float(dense[ci, si])
                scores.append(SentenceScore(pid, sent, lex, den, num, neg, cal.confidence(lex, den, num, neg)))
            out.append(sorted(scores, key=lambda s: (-s.confidence, s.paper_id)))
        return out


def to_evidence(scores: Sequence[SentenceScore], limit: int = 3) -> list[Evidence]:
    return [
        Evidence(
            paper_id=s.paper_id,
            span=s.sentence.text,
            start=s.sentence.start,
            end=s.sentence.end,
            score=round(s.confidence, 4),
        )
        for s in scores[:limit]
    ]
