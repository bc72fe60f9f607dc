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
- also measured and reported (weighted only if the fit keeps them): ``lexical`` (TF-IDF at
  the best sentence), ``coverage`` (share of the claim's content stems in the paper),
  ``number_mismatch`` and ``negation_mismatch`` at the best sentence.

Which features carry weight, and how much, is decided by the fit, not here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Protocol, Sequence

import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer

from sovereign_kernel.domain.schemas import Evidence, Paper, paper_text
from sovereign_kernel.domain.text import Sentence, split_sentences
from sovereign_kernel.verification.calibration import Calibration, load_calibration
from sovereign_kernel.verification.features import (
    entity_mismatch,
    maxsim,
    negation_mismatch,
    number_mismatch,
    stem_coverage,
)

DEFAULT_METHOD = "sentence-hybrid"


class TokenEncoder(Protocol):
    """Contextual token vectors: for each text, an (n_tokens, dim) array of unit rows."""

    def encode_tokens(self, texts: Sequence[str]) -> list[np.ndarray]: ...


@dataclass
class SentenceScore:
    paper_id: str
    sentence: Sentence
    lexical: float
    dense: float
    number_mismatch: float
    negation_mismatch: float
    confidence: float
    features: dict[str, float] = field(default_factory=dict)  # every measured feature, by name


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
    ):
        self.calibration = calibration or load_calibration()
        self.embed = embed
        self.papers = list(papers)
        self.token_encoder = token_encoder
        self.sentences: list[tuple[str, Sentence]] = [
            (p.id, s) for p in self.papers for s in split_sentences(p.abstract)
        ]

    def _token_features(self, claims: Sequence[str]) -> dict[tuple[int, str], tuple[float, float]]:
        encoder = self.token_encoder
        if encoder is None:
            if self.calibration.uses_tokens:
                raise ValueError("this calibration weighs token features: pass a token_encoder")
            return {}
        claim_tokens = encoder.encode_tokens(list(claims))
        out = {}
        for p in self.papers:
            parts = [s.text for s in split_sentences(p.abstract)] + ([p.title] if p.title.strip() else [])
            if not parts:
                continue
            doc = np.vstack(encoder.encode_tokens(parts))
            for ci, ct in enumerate(claim_tokens):
                out[(ci, p.id)] = maxsim(ct, doc)
        return out

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
        claim_vecs = self.embed(list(claims))
        dense = claim_vecs @ self.embed(texts).T
        have_sentences = {pid for pid, _ in self.sentences}
        with_text = [p for p in self.papers if p.id in have_sentences]
        doc_cos = claim_vecs @ self.embed([paper_text(p) for p in with_text]).T
        title_cos = claim_vecs @ self.embed([p.title or p.id for p in with_text]).T
        col = {p.id: j for j, p in enumerate(with_text)}
        by_id = {p.id: p for p in with_text}
        tokens = self._token_features(claims)
        cal = self.calibration
        w = cal.sentence_dense_weight
        raw = w * dense + (1 - w) * lexical
        out: list[list[SentenceScore]] = []
        for ci, claim in enumerate(claims):
            # Each paper's evidence is its best sentence by the raw hybrid score; the
            # calibration (fit the same way) turns the pair's features into P(evidence).
            best_idx: dict[str, int] = {}
            for si, (pid, _) in enumerate(self.sentences):
                if pid not in best_idx or raw[ci, si] > raw[ci, best_idx[pid]]:
                    best_idx[pid] = si
            scores = []
            for pid, si in best_idx.items():
                sent, paper = self.sentences[si][1], by_id[pid]
                whole = f"{paper.title} {paper.abstract}"
                ent_missing, has_ent = entity_mismatch(claim, whole)
                ms, ms_min = tokens.get((ci, pid), (0.0, 0.0))
                f = {
                    "lexical": float(lexical[ci, si]),
                    "dense": float(dense[ci, si]),
                    "number_mismatch": number_mismatch(claim, sent.text),
                    "negation_mismatch": negation_mismatch(claim, sent.text),
                    "maxsim": ms,
                    "maxsim_min": ms_min,
                    "dense_doc": float(doc_cos[ci, col[pid]]),
                    "dense_title": float(title_cos[ci, col[pid]]),
                    "coverage": stem_coverage(claim, whole),
                    "entity_mismatch": ent_missing,
                    "has_entity": has_ent,
                }
                scores.append(SentenceScore(
                    pid, sent, f["lexical"], f["dense"], f["number_mismatch"], f["negation_mismatch"],
                    cal.confidence_of(f), f,
                ))
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
