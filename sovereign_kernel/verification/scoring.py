"""Every claim of a run checked against the kept papers: the calibrated verdict, the passages an
LLM verifier is shown, and the labels it may give.

- ``sentence_verify``: the calibrated sentence verifier per claim — confidence, ``verified``,
  evidence passages and the papers that support it. A claim whose span is not at its recorded
  offsets in its own paper gets confidence 0.
- ``index_passages``: for the LLM verifier, the best sentence of each of the closest kept papers.
- ``labels_from_judgements`` / ``with_labels``: an LLM label can only take verification away
  (``verified`` needs SUPPORTED), never grant it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Protocol

import numpy as np

from sovereign_kernel.domain.ids import source_label
from sovereign_kernel.domain.schemas import Claim, Evidence, Paper, paper_text
from sovereign_kernel.domain.text import clip
from sovereign_kernel.domain.units import paper_units, text_at
from sovereign_kernel.verification.calibration import Calibration
from sovereign_kernel.verification.corroboration import can_corroborate, own_work, work_names
from sovereign_kernel.verification.features import disagreement
from sovereign_kernel.verification.sentence_verifier import (
    DEFAULT_METHOD,
    OwnSpan,
    PairClassifier,
    SentenceScore,
    SentenceVerifier,
    TokenEncoder,
    to_evidence,
)

NO_JUDGEMENT = "the answer had no judgement for this claim"
Passages = Mapping[str, list[tuple[str, str]]]  # claim id -> [(paper id, passage text)]


class Vectors(Protocol):
    def embed(self, texts: Sequence[str], kind: str = "passage") -> np.ndarray: ...


def span_at_offsets(claim: Claim, source: Paper | None) -> bool:
    """Is the claim's quoted span exactly what its source holds at the recorded offsets (in the
    abstract, or in the passage of the body it was read from)?"""
    return source is not None and text_at(source, claim.source_span) == claim.source_span.text


def sentence_verify(claims: Sequence[Claim], papers: Sequence[Paper], *, vectors: Vectors, tokens: TokenEncoder | None,
                    calibration: Calibration, threshold: float, cross_encoder: PairClassifier | None = None,
                    contradict_threshold: float = 0.4) -> list[Claim]:
    """The calibrated sentence verifier: confidence, verified, evidence passages, supporters, and
    (with the cross-encoder) the other papers' passages that contradict the claim."""
    by_id = {p.id: p for p in papers}
    verifier = SentenceVerifier(papers, lambda texts: vectors.embed(texts, kind="passage"), calibration=calibration,
                                token_encoder=tokens if calibration.uses_tokens else None, cross_encoder=cross_encoder,
                                xenc_gate=threshold)
    spans = [OwnSpan(c.paper_id, c.source_span.location, c.source_span.start, c.source_span.end, c.source_span.text)
             if by_id.get(c.paper_id) is not None and by_id[c.paper_id].passages else None for c in claims]
    scores, elsewhere = verifier.score_with_elsewhere([c.text for c in claims], spans)
    work = {p.id: work_names(p) for p in papers}  # what each paper calls its own work (its method, its dataset)
    out = []
    for claim, ranked, inside in zip(claims, scores, elsewhere):
        span_ok = span_at_offsets(claim, by_id.get(claim.paper_id))
        own = next((s.confidence for s in ranked if s.paper_id == claim.paper_id), 0.0) if span_ok else 0.0
        against = contradictions(claim.text, [s for s in ranked if s.paper_id != claim.paper_id], contradict_threshold)
        # a paper that contradicts the claim is evidence about it, not for it: it never corroborates; nor
        # does one that shares an author with the claim's paper, or one that speaks of another work
        # (``verification.corroboration``)
        contra_ids = {e.paper_id for e in against}
        source = by_id.get(claim.paper_id)
        others = [s for s in ranked if s.paper_id != claim.paper_id and s.paper_id not in contra_ids
                  and can_corroborate(claim.text, source, s.sentence.text, by_id.get(s.paper_id), work)]
        corroboration = max((s.confidence for s in others), default=0.0) if span_ok else 0.0
        may_support = {claim.paper_id} | {s.paper_id for s in others}
        supporting = sorted({s.paper_id for s in ranked if s.confidence >= threshold and s.paper_id in may_support})
        out.append(claim.model_copy(update={
            "grounded": span_ok and own >= threshold,
            "confidence": round(own, 4),
            "corroboration": round(corroboration, 4),
            "corroborated_by": sorted(s.paper_id for s in others if s.confidence >= threshold) if span_ok else [],
            "evidence": to_evidence(ranked),
            # full text: another section of its own paper states it too (its own sentence left out)
            "corroborated_in_paper": inside.sentence.evidence(inside.confidence)
            if span_ok and inside is not None and inside.confidence >= threshold else None,
            "supporting_papers": supporting,
            "own_work": own_work(claim.text, work.get(claim.paper_id, ())),
            "contradicted_by": against if span_ok else [],
            "method": f"{claim.method}+{DEFAULT_METHOD}" + (f"+{XENC_METHOD}" if cross_encoder is not None else ""),
            "label": None, "label_method": None, "label_rationale": None,  # the LLM verifier's, set after
        }))
    return out


XENC_METHOD = "xenc"  # in a claim's method: the cross-encoder read it (so "no contradiction" is a measurement)


def contradiction_checked(claims: Sequence[Claim]) -> bool:
    """Did the cross-encoder read these claims against the other papers?"""
    return any(f"+{XENC_METHOD}" in c.method for c in claims)


def contradictions(claim: str, others: Sequence[SentenceScore], threshold: float) -> list[Evidence]:
    """Other papers whose most decisive sentence the cross-encoder reads as contradicting the claim
    (P(CONTRADICT) >= threshold, above P(SUPPORT)) *and* that visibly opposes it — a negation on one
    side only, opposite directions, or different numbers (``features.disagreement``)."""
    out = []
    for s in others:
        p_contradict = s.features.get("xenc_contradict", 0.0)
        if (s.xenc_sentence is not None and s.contradicts and p_contradict >= threshold
                and disagreement(claim, s.xenc_sentence.text) is not None):
            out.append(s.xenc_sentence.evidence(round(p_contradict, 4)))
    return sorted(out, key=lambda e: (-e.score, e.paper_id))


def encode_papers_side(papers: Sequence[Paper], *, verifier_vectors: Vectors, run_vectors: Vectors,
                       tokens: TokenEncoder | None, calibration: Calibration) -> None:
    """Fill the caches ``sentence_verify`` and ``index_passages`` read for the papers' side — their
    sentences', abstracts' and titles' vectors and their token vectors — each in one batch, so it
    can run while models write claims (blocking: call it from a worker thread)."""
    sentences = [u.text for p in papers for u in paper_units(p)]
    if not sentences:
        return
    verifier_vectors.embed(sentences + [paper_text(p) for p in papers] + [p.title or p.id for p in papers],
                           kind="passage")
    if run_vectors is not verifier_vectors:
        run_vectors.embed(sentences, kind="passage")
    if calibration.uses_tokens and tokens is not None:
        tokens.encode_tokens(sentences + [p.title for p in papers if p.title.strip()])


def index_passages(claims: Sequence[Claim], papers: Sequence[Paper], vectors: Vectors,
                   k: int = 3) -> dict[str, list[tuple[str, str]]]:
    """The passages the LLM verifier judges a claim against, selected by the index: the best
    sentence (embedding cosine) of each of the ``k`` closest kept papers."""
    sentences = [(p.id, u.text) for p in papers for u in paper_units(p)]
    if not claims or not sentences:
        return {c.id: [] for c in claims}
    sims = vectors.embed([c.text for c in claims], kind="passage") @ \
        vectors.embed([t for _, t in sentences], kind="passage").T
    out = {}
    for ci, claim in enumerate(claims):
        best: dict[str, int] = {}
        for si, (pid, _) in enumerate(sentences):
            if pid not in best or sims[ci, si] > sims[ci, best[pid]]:
                best[pid] = si
        top = sorted(best.items(), key=lambda kv: (-float(sims[ci, kv[1]]), kv[0]))[:k]
        out[claim.id] = [(pid, sentences[si][1]) for pid, si in top]
    return out


def verifier_batch(claims: Sequence[Claim], passages: Passages) -> tuple[list[Claim], str]:
    """The claims that have passages, and the prompt block that lists each with its own passages."""
    asked = [c for c in claims if passages.get(c.id)]
    block = "\n\n".join(
        f"Claim {n}: {clip(c.text, 600)}\n" + "\n".join(f"  [{i}] {' '.join(text.split())}"
                                                    for i, (_, text) in enumerate(passages[c.id]))
        for n, c in enumerate(asked))
    return asked, block


def labels_from_judgements(asked: Sequence[Claim], passages: Passages, judgements: Sequence, method: str,
                           on_missing: Callable[[Claim], None]) -> dict[str, dict]:
    """Each asked claim's label, method and rationale from the verifier's judgements (numbered as
    in the batch; the first judgement of a claim counts). SUPPORTED without a valid passage index
    is NOT_ENOUGH_INFO; a claim without a judgement is reported to ``on_missing`` and gets none."""
    by_number = {}
    for j in judgements:
        by_number.setdefault(j.claim, j)
    labels: dict[str, dict] = {}
    for n, claim in enumerate(asked):
        if (j := by_number.get(n)) is None:
            on_missing(claim)
            continue
        options = passages[claim.id]
        label, rationale = j.label, clip(j.rationale, 300)
        if 0 <= j.evidence_index < len(options):
            rationale = f"{source_label(options[j.evidence_index][0])}: {rationale}"
        elif label == "SUPPORTED":
            label, rationale = "NOT_ENOUGH_INFO", f"SUPPORTED without a valid passage index ({j.evidence_index})"
        labels[claim.id] = {"label": label, "label_method": method, "label_rationale": rationale}
    return labels


def with_labels(claims: Sequence[Claim], labels: Sequence[dict | None]) -> list[Claim]:
    """Apply the LLM labels: they can only take verification away (verified needs SUPPORTED)."""
    return [c if lab is None else c.model_copy(update={**lab, "grounded": c.grounded and lab["label"] == "SUPPORTED"})
            for c, lab in zip(claims, labels)]
