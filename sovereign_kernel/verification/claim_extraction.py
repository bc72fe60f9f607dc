"""Claims from a paper: the offline extractor, and the check that turns an LLM's claims into claims.

Offline, the abstract is segmented into sentences with exact offsets, and each sentence is
scored ``w x claim-cue score + (1 - w) x relevance to the question``; the best become claims
whose source span is the exact character range they came from. A model's claims are kept only
when their quoted span is found in the abstract (``spans.find_span``), at the real offsets.
"""

from __future__ import annotations

import hashlib
from typing import Protocol, Sequence

import numpy as np

from sovereign_kernel.domain.schemas import Claim, Paper, SourceSpan
from sovereign_kernel.domain.settings import ExtractionSettings
from sovereign_kernel.domain.text import clip, split_sentences
from sovereign_kernel.domain.units import paper_units
from sovereign_kernel.verification.claim_cues import claim_text, cue_score
from sovereign_kernel.verification.spans import find_span

EXTRACT_METHOD = "offline-cue-v1"
LLM_EXTRACT_METHOD = "llm-extract-v1"
MAX_CLAIM_CHARS = 600
BODY_POSITION = 1  # a body sentence is scored as an abstract's second one: no "opens with motivation" penalty


class Vectors(Protocol):
    """Unit vectors for texts (``retrieval.vectors.VectorCache`` fits)."""

    def embed(self, texts: Sequence[str], kind: str = "passage") -> np.ndarray: ...


def relevance(cos, s: ExtractionSettings):
    """Claim-question cosine(s) mapped onto 0..1 (arrays stay arrays, in their own dtype)."""
    return np.clip((cos - s.claim_relevance_floor) / s.claim_relevance_span, 0.0, 1.0)


def claim_score(sentence: str, position: int, rel: float, s: ExtractionSettings) -> float:
    """``w x cue score + (1 - w) x relevance`` of one sentence at ``position`` in its abstract."""
    w = s.claim_cue_weight
    return w * cue_score(sentence, position) + (1 - w) * float(rel)


def extract_offline(question: str, paper: Paper, vectors: Vectors, s: ExtractionSettings) -> list[Claim]:
    """Up to ``claims_per_paper`` claims from the abstract and, for a paper read in full, up to
    ``body_claims_per_paper`` from the passages read: the best-scored sentences above
    ``min_claim_score``."""
    units = paper_units(paper)
    if not units:
        return []
    qvec = vectors.embed([question], kind="query")[0]
    cos = vectors.embed([u.text for u in units], kind="passage") @ qvec
    rel = relevance(cos, s)
    scored = [(claim_score(u.text, i if u.location == "abstract" else BODY_POSITION, rel[i], s), i, u, float(cos[i]))
              for i, u in enumerate(units)]
    best = []
    for location, limit in (("abstract", s.claims_per_paper), ("body", s.body_claims_per_paper)):
        mine = [t for t in scored if t[2].location == location]
        best += sorted(mine, key=lambda t: (-t[0], t[1]))[:limit]
    claims = []
    for total, i, u, cosine in sorted(best, key=lambda t: t[1]):
        if total < s.min_claim_score:
            continue
        claims.append(Claim(
            id=f"{paper.id}#s{i}" if u.location == "abstract" else f"{paper.id}#b{u.start}",
            text=claim_text(u.text),
            paper_id=paper.id,
            source_span=u.span(),
            extraction_score=round(total, 4),
            relevance=round(cosine, 4),
            method=EXTRACT_METHOD,
        ))
    return claims


def paper_for_prompt(paper: Paper) -> str:
    """The text a model extracts from: the abstract, then each passage read, marked with its page."""
    if not paper.passages:
        return paper.abstract
    return "\n\n".join([paper.abstract, *(f"[full text, p. {p.page}] {p.text}" for p in paper.passages)])


def locate_span(paper: Paper, span: str, s: ExtractionSettings) -> tuple[SourceSpan, float] | None:
    """Where a model's quoted span is in the paper, and how closely it matches: the abstract, else
    one passage read (offsets into the body, with its page)."""
    found = find_span(paper.abstract, span, min_ratio=s.span_match_min, min_words=s.span_min_words)
    if found is not None:
        start, end, match = found
        return SourceSpan(start=start, end=end, text=paper.abstract[start:end]), match
    for p in paper.passages:
        found = find_span(p.text, span, min_ratio=s.span_match_min, min_words=s.span_min_words)
        if found is not None:
            start, end, match = found
            return SourceSpan(start=p.start + start, end=p.start + end, text=p.text[start:end], location="body",
                              page=p.page_at(p.start + start), section=p.section), match
    return None


def claims_from_spans(question: str, paper: Paper, proposed: Sequence[tuple[str, str]], vectors: Vectors,
                      s: ExtractionSettings) -> tuple[list[Claim], list[str]]:
    """A model's (claim text, quoted span) pairs as claims whose spans are in the paper's text read
    (real offsets stored), and a key per claim rejected because its span is not. Ids are
    ``<paper>#l<index in the answer>``."""
    sentences = split_sentences(paper.abstract)
    kept, rejected, seen = [], [], set()
    for i, (claim, span) in enumerate(proposed):
        found = locate_span(paper, span, s)
        if found is None:
            rejected.append(f"{paper.id}:{hashlib.sha256(span.encode()).hexdigest()[:16]}")
            continue
        text = clip(claim, MAX_CLAIM_CHARS)
        if text.lower() in seen:
            continue
        seen.add(text.lower())
        kept.append((i, text, *found))
    kept = kept[: s.claims_per_paper + (s.body_claims_per_paper if paper.passages else 0)]
    if not kept:
        return [], rejected
    qvec = vectors.embed([question], kind="query")[0]
    cvecs = vectors.embed([text for _, text, *_ in kept], kind="passage")
    claims = []
    for (i, text, span, match), vec in zip(kept, cvecs):
        cosine = float(vec @ qvec)
        position = (next((k for k, x in enumerate(sentences) if x.start <= span.start < x.end), 0)
                    if span.location == "abstract" else BODY_POSITION)
        score = claim_score(span.text, position, relevance(cosine, s), s)
        claims.append(Claim(
            id=f"{paper.id}#l{i}", text=text, paper_id=paper.id, source_span=span,
            extraction_score=round(score, 4), relevance=round(cosine, 4), method=LLM_EXTRACT_METHOD, span_match=match,
        ))
    return claims, rejected
