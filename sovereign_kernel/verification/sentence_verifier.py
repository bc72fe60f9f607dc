"""The calibrated sentence verifier (``sentence-hybrid``): the claim against every sentence of
every retrieved paper.

Each paper's evidence is its best sentence by ``w x MiniLM cosine + (1 - w) x TF-IDF 1-2-gram
cosine``. The paper's confidence is a logistic calibration (stored as data in
``data/verifier_calibration.json``, fit on SciFact train by ``bench/calibrate_verifier.py``)
over measured features of the claim and the paper:

- ``maxsim`` / ``maxsim_min``: token-level late interaction — every claim token's best cosine
  to any token of the paper (its sentences and title, each encoded in context by the local
  MiniLM), averaged / the weakest claim token. The strongest single signal on SciFact.
- ``dense``: the best sentence's MiniLM cosine; ``dense_doc`` / ``dense_title``: the claim
  against the whole "title. abstract" / the title (pooled vectors, as the retriever embeds).
- ``entity_mismatch`` / ``has_entity``: share of the claim's entity-like tokens (gene names,
  acronyms, mixed letters and digits) the paper never mentions.
- ``xenc_evidence`` / ``xenc_support`` / ``xenc_contradict``: the trained cross-encoder
  (``retrieval.cross_encoder``) on the paper's sentences closest to the claim (``XENC_TOP``, by the
  hybrid score): the best P(SUPPORT) + P(CONTRADICT), and that sentence's P(SUPPORT) and
  P(CONTRADICT) — what lets the verifier say "contradicts" offline.
- also measured and reported (weighted only if the fit keeps them): ``lexical`` (TF-IDF at
  the best sentence), ``coverage`` (share of the claim's content stems in the paper),
  ``number_mismatch`` and ``negation_mismatch`` at the best sentence.

Which features carry weight, and how much, is decided by the fit, not here.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

from sovereign_kernel.domain.schemas import Evidence, Paper, paper_text
from sovereign_kernel.domain.units import TextUnit, near_copy, paper_units
from sovereign_kernel.verification.calibration import Calibration, load_calibration
from sovereign_kernel.verification.features import (
    entity_mismatch,
    maxsim,
    negation_mismatch,
    number_mismatch,
    stem_coverage,
)

DEFAULT_METHOD = "sentence-hybrid"
XENC_TOP = 3  # sentences per (claim, paper) the cross-encoder reads: the hybrid score's best few


class PairClassifier(Protocol):
    """(claim, sentence) -> probabilities of SUPPORT, CONTRADICT, NEI (``retrieval.cross_encoder``)."""

    def probabilities(self, pairs: Sequence[tuple[str, str]]) -> np.ndarray: ...


class TokenEncoder(Protocol):
    """Contextual token vectors: for each text, an (n_tokens, dim) array of unit rows."""

    def encode_tokens(self, texts: Sequence[str]) -> list[np.ndarray]: ...


@dataclass(frozen=True)
class OwnSpan:
    """Where a claim's own sentence is: left out when another section of its paper is checked."""

    paper_id: str
    location: str
    start: int
    end: int
    text: str


@dataclass
class SentenceScore:
    paper_id: str
    sentence: TextUnit
    lexical: float
    dense: float
    number_mismatch: float
    negation_mismatch: float
    confidence: float
    features: dict[str, float] = field(default_factory=dict)  # every measured feature, by name
    xenc_sentence: TextUnit | None = None  # the sentence the cross-encoder found most decisive

    @property
    def contradicts(self) -> bool:
        """The cross-encoder's call at its most decisive sentence: CONTRADICT over SUPPORT."""
        f = self.features
        return f.get("xenc_contradict", 0.0) > f.get("xenc_support", 0.0)


class SentenceVerifier:
    """Scores claims against all sentences of a set of papers in one vectorised pass.

    ``embed`` gives pooled unit vectors (the run's embedder, usually through the vector cache);
    ``token_encoder`` gives contextual token vectors for the ``maxsim`` features (the local
    MiniLM's, needed only when the calibration weighs those features).
    """

    def __init__(
        self,
        papers: Sequence[Paper],
        embed: Callable[[list[str]], np.ndarray],
        calibration: Calibration | None = None,
        token_encoder: TokenEncoder | None = None,
        cross_encoder: PairClassifier | None = None,
        xenc_gate: float = 0.5,
    ):
        self.xenc_gate = xenc_gate
        self.calibration = calibration or load_calibration()
        if cross_encoder is None and self.calibration.uses_cross_encoder:
            raise ValueError("this calibration weighs cross-encoder features: pass a cross_encoder")
        self.cross_encoder = cross_encoder
        self.embed = embed
        self.papers = list(papers)
        self.token_encoder = token_encoder
        # every sentence the run read: abstracts, and the passages read of full texts
        self.sentences: list[tuple[str, TextUnit]] = [(p.id, u) for p in self.papers for u in paper_units(p)]

    def _paper_tokens(self) -> dict[str, list[np.ndarray]]:
        """Per paper, the token vectors of each of its sentences (in ``self.sentences`` order), then its title."""
        encoder = self.token_encoder
        if encoder is None:
            if self.calibration.uses_tokens:
                raise ValueError("this calibration weighs token features: pass a token_encoder")
            return {}
        out = {}
        for p in self.papers:
            parts = [u.text for pid, u in self.sentences if pid == p.id] + ([p.title] if p.title.strip() else [])
            if parts:
                out[p.id] = list(encoder.encode_tokens(parts))
        return out

    def score(self, claims: Sequence[str]) -> list[list[SentenceScore]]:
        """For each claim, every paper's best sentence, best first."""
        return self.score_with_elsewhere(claims, [None] * len(claims))[0]

    def score_with_elsewhere(self, claims: Sequence[str], own: Sequence[OwnSpan | None]
                             ) -> tuple[list[list[SentenceScore]], list[SentenceScore | None]]:
        """For each claim, every paper's best sentence (best first); and, for a claim whose own
        span is given, its own paper's best sentence in *another section* than the span (not
        overlapping it, not a near-copy of it), scored with the span's sentence left out of every
        feature — the check that another part of the paper states it too."""
        if not claims or not self.sentences:
            return [[] for _ in claims], [None for _ in claims]
        texts = [u.text for _, u in self.sentences]
        from sklearn.feature_extraction.text import TfidfVectorizer  # here: commands that only read runs skip sklearn's import

        vec = TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True, stop_words="english")
        try:
            m = vec.fit_transform(list(claims) + texts)
            lexical = (m[: len(claims)] @ m[len(claims) :].T).toarray()
        except ValueError:
            lexical = np.zeros((len(claims), len(texts)))
        claim_vecs = self.embed(list(claims))
        dense = claim_vecs @ self.embed(texts).T
        have_sentences = {pid for pid, _ in self.sentences}
        with_text = [p for p in self.papers if p.id in have_sentences]
        doc_cos = claim_vecs @ self.embed([paper_text(p) for p in with_text]).T
        title_cos = claim_vecs @ self.embed([p.title or p.id for p in with_text]).T
        col = {p.id: j for j, p in enumerate(with_text)}
        by_id = {p.id: p for p in with_text}
        paper_tokens = self._paper_tokens()
        claim_tokens = self.token_encoder.encode_tokens(list(claims)) if paper_tokens else []
        local, counts = {}, {}  # sentence index -> its position among its paper's parts
        for si, (pid, _) in enumerate(self.sentences):
            local[si] = counts[pid] = counts.get(pid, -1) + 1
        cal = self.calibration
        w = cal.sentence_dense_weight
        raw = w * dense + (1 - w) * lexical

        mine = {pid: [si for si, (q, _) in enumerate(self.sentences) if q == pid] for pid in by_id}
        whole_text = {pid: " ".join([by_id[pid].title, *(self.sentences[k][1].text for k in mine[pid])])
                      for pid in by_id}
        # each paper's token matrix once, with the part (sentence, then title) each row belongs to
        doc_rows = {pid: (np.vstack(parts), np.repeat(np.arange(len(parts)), [len(t) for t in parts]))
                    for pid, parts in paper_tokens.items() if parts}

        def xenc_rows(ci: int, pid: str, drop: set[int]) -> list[int]:
            rows = [k for k in mine[pid] if k not in drop]
            return sorted(rows, key=lambda k: (-raw[ci, k], k))[:XENC_TOP]

        xenc = self.cross_encoder
        # The cross-encoder reads a (claim, paper) pair only where its reading can change a verdict: where
        # the confidence could reach ``xenc_gate`` with it. Elsewhere its features count as 0 (a pair that
        # far below costs nothing; in a warm run the model's calls are most of the verifier's CPU).
        reachable = cal.cross_encoder_gain()
        gate_logit = math.log(self.xenc_gate / (1 - self.xenc_gate)) if 0 < self.xenc_gate < 1 else -math.inf

        def xenc_features(ci: int, pid: str, drop: set[int]) -> tuple[dict[str, float], TextUnit | None]:
            rows = xenc_rows(ci, pid, drop)
            if xenc is None or not rows:
                return {}, None
            probs = xenc.probabilities([(claims[ci], self.sentences[k][1].text) for k in rows])
            best = int(np.argmax(probs[:, 0] + probs[:, 1]))
            return ({"xenc_evidence": float(probs[best, 0] + probs[best, 1]), "xenc_support": float(probs[best, 0]),
                     "xenc_contradict": float(probs[best, 1])}, self.sentences[rows[best]][1])

        def features(ci: int, si: int, drop: set[int], doc_dense: float) -> dict[str, float]:
            pid, sent = self.sentences[si]
            whole = whole_text[pid] if not drop else " ".join(
                [by_id[pid].title, *(self.sentences[k][1].text for k in mine[pid] if k not in drop)])
            ent_missing, has_ent = entity_mismatch(claims[ci], whole)
            ms = (0.0, 0.0)
            if pid in doc_rows:
                rows, part = doc_rows[pid]
                if drop:
                    rows = rows[~np.isin(part, [local[k] for k in drop])]
                ms = maxsim(claim_tokens[ci], rows) if len(rows) else (0.0, 0.0)
            return {
                "lexical": float(lexical[ci, si]), "dense": float(dense[ci, si]),
                "number_mismatch": number_mismatch(claims[ci], sent.text),
                "negation_mismatch": negation_mismatch(claims[ci], sent.text),
                "maxsim": ms[0], "maxsim_min": ms[1],
                "dense_doc": doc_dense, "dense_title": float(title_cos[ci, col[pid]]),
                "coverage": stem_coverage(claims[ci], whole),
                "entity_mismatch": ent_missing, "has_entity": has_ent,
            }

        def scored(ci: int, si: int, f: dict[str, float], drop: set[int] = frozenset()) -> SentenceScore:
            pid, sent = self.sentences[si]
            x, decisive = xenc_features(ci, pid, drop) if cal.logit_of(f) + reachable >= gate_logit else ({}, None)
            f = f | x
            return SentenceScore(pid, sent, f["lexical"], f["dense"], f["number_mismatch"], f["negation_mismatch"],
                                 cal.confidence_of(f), f, decisive)

        def elsewhere_plan(ci: int, span: OwnSpan) -> tuple[int, set[int], str] | None:
            """Another section's best sentence for the claim, the sentences left out, and the paper's
            text without them (for its pooled vector)."""
            if span.paper_id not in mine:
                return None
            own = {si for si in mine[span.paper_id] if self.sentences[si][1].location == span.location
                   and self.sentences[si][1].start < span.end and span.start < self.sentences[si][1].end}
            places = {self.sentences[si][1].place for si in own}
            # the claim's own sentence and every near-copy of it (a Discussion repeating the Results)
            # are left out of every feature: a paper saying one thing twice is not corroboration
            drop = own | {si for si in mine[span.paper_id] if near_copy(self.sentences[si][1].text, span.text)}
            others = [si for si in mine[span.paper_id] if si not in drop and self.sentences[si][1].place not in places]
            if not own or not others:
                return None
            paper = by_id[span.paper_id]
            rest = [self.sentences[k][1].text for k in mine[paper.id]
                    if k not in drop and self.sentences[k][1].location == "abstract"]
            return max(others, key=lambda k: (raw[ci, k], -k)), drop, " ".join([f"{paper.title}.", *rest])

        plans = {ci: plan for ci in range(len(claims)) if own[ci] is not None
                 and (plan := elsewhere_plan(ci, own[ci])) is not None}
        rest_vecs = dict(zip(plans, self.embed([p[2] for p in plans.values()]))) if plans else {}
        out: list[list[SentenceScore]] = []
        elsewhere: list[SentenceScore | None] = []
        for ci in range(len(claims)):
            # Each paper's evidence is its best sentence by the raw hybrid score; the
            # calibration (fit the same way) turns the pair's features into P(evidence).
            best_idx: dict[str, int] = {}
            for si, (pid, _) in enumerate(self.sentences):
                if pid not in best_idx or raw[ci, si] > raw[ci, best_idx[pid]]:
                    best_idx[pid] = si
            ranked = [scored(ci, si, features(ci, si, set(), float(doc_cos[ci, col[pid]]))) for pid, si in best_idx.items()]
            out.append(sorted(ranked, key=lambda x: (-x.confidence, x.paper_id)))
            if ci in plans:
                si, drop, _ = plans[ci]
                elsewhere.append(scored(ci, si, features(ci, si, drop, float(rest_vecs[ci] @ claim_vecs[ci])), drop))
            else:
                elsewhere.append(None)
        return out, elsewhere


def to_evidence(scores: Sequence[SentenceScore], limit: int = 3) -> list[Evidence]:
    return [s.sentence.evidence(s.confidence) for s in scores[:limit]]
