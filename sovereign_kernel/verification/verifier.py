"""Claim verification against retrieved text.

Two verifiers, both kept so every run can show them side by side:

* ``baseline`` — the seed method: TF-IDF cosine on word 1-2-grams between the claim and a
  whole abstract (vectorizer fitted on the pair), verified at >= 0.15.
* ``sentence-hybrid`` (default) — the claim against every sentence of every retrieved paper.
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

import json
import math
import re
import threading
from collections import Counter, OrderedDict
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from typing import Callable, Mapping, Protocol, Sequence

import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer

from sovereign_kernel.retrieval.index import paper_text
from sovereign_kernel.domain.schemas import Evidence, Paper
from sovereign_kernel.domain.text import NEGATION_RE, Sentence, content_tokens, numbers_in, split_sentences, stem

BASELINE_METHOD = "baseline-tfidf-1-2gram"
DEFAULT_METHOD = "sentence-hybrid"

# Every feature the verifier measures, in the order the calibration script tabulates them.
FEATURES = (
    "lexical", "dense", "number_mismatch", "negation_mismatch", "maxsim", "maxsim_min",
    "dense_doc", "dense_title", "coverage", "entity_mismatch", "has_entity",
)
# The features of the first calibration (kept so old positional calls still mean the same).
_POSITIONAL = ("lexical", "dense", "number_mismatch", "negation_mismatch")


_SEED_ANALYZER = TfidfVectorizer(ngram_range=(1, 2), lowercase=True).build_analyzer()


def baseline_score(claim: str, document: str) -> float:
    """The seed verifier: TF-IDF word 1-2-gram cosine, vectorizer fitted on the pair.

    Computed in closed form — exactly sklearn's TfidfVectorizer(ngram_range=(1, 2)) fitted on the
    two texts (smooth idf over n=2: 1 for a term in both, ln(3/2)+1 for a term in one; l2 norm) —
    because fitting a vectorizer per pair cost ~2 ms, ~0.3 s per run, all of it holding the GIL.
    """
    if not claim.strip() or not document.strip():
        return 0.0
    a, b = Counter(_SEED_ANALYZER(claim)), Counter(_SEED_ANALYZER(document))
    if not a or not b:
        return 0.0
    one_side = math.log(1.5) + 1.0

    def weights(counts: Counter, other: Counter) -> dict[str, float]:
        return {t: n * (1.0 if t in other else one_side) for t, n in counts.items()}

    wa, wb = weights(a, b), weights(b, a)
    dot = sum(w * wb[t] for t, w in wa.items() if t in wb)
    norm = math.sqrt(sum(w * w for w in wa.values())) * math.sqrt(sum(w * w for w in wb.values()))
    return dot / norm if norm else 0.0


# --------------------------------------------------------------------------------------------
# calibration (data, not code)
# --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Calibration:
    """Logistic map from named features to P(the paper is evidence for the claim).

    ``weights`` maps feature names (see ``FEATURES``) to coefficients on the raw feature values;
    features a file does not name weigh nothing. Parameters come from a data file.
    """

    weights: Mapping[str, float]
    bias: float
    fitted_on: str
    sentence_dense_weight: float = 0.7  # picks each paper's best sentence: w*dense + (1-w)*lexical
    method: str = "logistic (Platt)"
    notes: str = ""

    @classmethod
    def from_dict(cls, data: Mapping) -> "Calibration":
        if "weights" in data:
            weights = dict(data["weights"])
        else:  # the first format: one key per feature
            weights = {f: data[f"weight_{f}"] for f in _POSITIONAL if f"weight_{f}" in data}
        unknown = sorted(set(weights) - set(FEATURES))
        if unknown:
            raise ValueError(f"calibration names unknown features: {unknown}")
        return cls(
            weights=weights, bias=float(data["bias"]), fitted_on=data["fitted_on"],
            sentence_dense_weight=float(data.get("sentence_dense_weight", 0.7)),
            method=data.get("method", "logistic (Platt)"), notes=data.get("notes", ""),
        )

    @property
    def uses_tokens(self) -> bool:
        return any(self.weights.get(f) for f in ("maxsim", "maxsim_min"))

    def confidence_of(self, features: Mapping[str, float]) -> float:
        z = self.bias + sum(w * float(features.get(f, 0.0)) for f, w in self.weights.items())
        return 1.0 / (1.0 + math.exp(-max(-60.0, min(60.0, z))))

    def confidence(self, lexical: float = 0.0, dense: float = 0.0, number_mismatch: float = 0.0,
                   negation_mismatch: float = 0.0, **features: float) -> float:
        """P(evidence) from feature values (unnamed features count as 0)."""
        return self.confidence_of({"lexical": lexical, "dense": dense, "number_mismatch": number_mismatch,
                                   "negation_mismatch": negation_mismatch, **features})

    def describe(self) -> str:
        """One line for a report's methodology: the method and the features that carry weight."""
        used = ", ".join(f for f in FEATURES if self.weights.get(f))
        return f"{self.method} over [{used}], fit on {self.fitted_on}"


@lru_cache(maxsize=1)
def load_calibration() -> Calibration:
    text = resources.files("sovereign_kernel.data").joinpath("verifier_calibration.json").read_text()
    return Calibration.from_dict(json.loads(text))


# --------------------------------------------------------------------------------------------
# features
# --------------------------------------------------------------------------------------------
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


class TokenEncoder(Protocol):
    """Contextual token vectors: for each text, an (n_tokens, dim) array of unit rows."""

    def encode_tokens(self, texts: Sequence[str]) -> list[np.ndarray]: ...


_PUNCT_RE = re.compile(r"^\W+$")
_SPECIAL = frozenset({"[CLS]", "[SEP]", "[PAD]", "[UNK]"})


def _minilm_token_encoder_class():
    from sovereign_kernel.retrieval.embeddings import LocalMiniLMEmbeddings

    class MiniLMTokenEncoder(LocalMiniLMEmbeddings):
        """The local MiniLM's last hidden states per word piece (special tokens and pure
        punctuation dropped), L2-normalised and rounded through float16 (what the on-disk
        cache stores, so a fresh and a cached vector are the same numbers); a bounded
        in-memory cache per text."""

        model_id = "all-MiniLM-L6-v2-int8-onnx-tokens-f16"

        def __init__(self, cache_size: int = 4096, **kwargs):
            super().__init__(**kwargs)
            self._token_cache: OrderedDict[str, np.ndarray] = OrderedDict()
            self._cache_size = cache_size
            self._cache_lock = threading.Lock()

        def _token_batch(self, texts: list[str]) -> list[np.ndarray]:
            encs, hidden, mask = self.token_states(texts)
            out = []
            for enc, h, m in zip(encs, hidden, mask):
                keep = [j for j, (tok, on) in enumerate(zip(enc.tokens, m))
                        if on and tok not in _SPECIAL and not _PUNCT_RE.match(tok)]
                v = h[keep] if keep else h[:1]  # an all-punctuation text keeps its [CLS]
                unit = v / np.clip(np.linalg.norm(v, axis=1, keepdims=True), 1e-12, None)
                out.append(unit.astype(np.float16).astype(np.float32))
            return out

        def encode_tokens(self, texts: Sequence[str]) -> list[np.ndarray]:
            texts = [t if isinstance(t, str) else str(t) for t in texts]
            with self._cache_lock:
                found = {t: self._token_cache[t] for t in texts if t in self._token_cache}
            missing = list(dict.fromkeys(t for t in texts if t not in found))
            if missing:
                self._load()
                order = sorted(missing, key=len)  # similar lengths together: less padding
                for start in range(0, len(order), self.batch_size):
                    batch = order[start : start + self.batch_size]
                    found.update(zip(batch, self._token_batch(batch)))
                with self._cache_lock:
                    for t in missing:
                        self._token_cache[t] = found[t]
                    while len(self._token_cache) > self._cache_size:
                        self._token_cache.popitem(last=False)
            return [found[t] for t in texts]

    return MiniLMTokenEncoder


_default_encoder: TokenEncoder | None = None
_encoder_lock = threading.Lock()


def default_token_encoder() -> TokenEncoder:
    """The process-wide local MiniLM token encoder (loaded on first use)."""
    global _default_encoder
    with _encoder_lock:
        if _default_encoder is None:
            _default_encoder = _minilm_token_encoder_class()()
        return _default_encoder


def maxsim(claim_tokens: np.ndarray, doc_tokens: np.ndarray) -> tuple[float, float]:
    """(mean, min) over claim tokens of the best cosine to any document token."""
    if claim_tokens.size == 0 or doc_tokens.size == 0:
        return 0.0, 0.0
    best = (claim_tokens @ doc_tokens.T).max(axis=1)
    return float(best.mean()), float(best.min())


# --------------------------------------------------------------------------------------------
# the verifier
# --------------------------------------------------------------------------------------------
class SentenceVerifier:
    """Scores claims against all sentences of a set of papers in one vectorised pass.

    ``embed`` gives pooled unit vectors (the run's embedder, usually through the vector cache);
    ``token_encoder`` gives contextual token vectors for the ``maxsim`` features (default: the
    local MiniLM, loaded only if the calibration weighs those features).
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
            if not self.calibration.uses_tokens:
                return {}
            encoder = default_token_encoder()
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
