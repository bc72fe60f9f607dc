"""extractor agent: atomic claims from each kept paper, then verification of every claim.

Offline extraction segments the abstract into sentences and scores each for claim cues
(findings, comparisons, numbers) and for relevance to the question; the best become claims
whose source span is the exact character range of the abstract they came from.
"""

from __future__ import annotations

import asyncio
import re

import numpy as np
from langgraph.runtime import Runtime

from sovereign_kernel.agents.common import progress
from sovereign_kernel.resources import Resources, RunContext, aget_resources
from sovereign_kernel.schemas import Claim, Paper, SourceSpan
from sovereign_kernel.text import HEDGE_RE, NUMBER_RE, split_sentences
from sovereign_kernel.verification import (
    BASELINE_METHOD,
    DEFAULT_METHOD,
    SentenceVerifier,
    baseline_score,
    to_evidence,
)

EXTRACT_METHOD = "offline-cue-v1"

_FINDING = re.compile(
    r"\b(we (show|find|found|demonstrate|observe|reveal|prove)|results? (show|demonstrate|indicate|reveal|suggest)"
    r"|experiments? (show|demonstrate|reveal)|outperform\w*|achiev\w*|improv\w*|reduc\w*|increas\w*|decreas\w*"
    r"|significant\w*|vulnerab\w*|susceptib\w*|fail\w*|degrad\w*|drop\w*|superior|state-of-the-art|effective\w*"
    r"|robust\w*|success rates?|accuracy|boost\w*|mitigat\w*)\b",
    re.I,
)
_COMPARISON = re.compile(r"\b(than|compared (to|with)|relative to|versus|vs\.?|over the|outperform\w*|better|worse)\b", re.I)
_METHOD = re.compile(r"\b(we (propose|introduce|present|develop|design)|this (paper|work) (proposes|introduces|presents))\b", re.I)
_BACKGROUND = re.compile(
    r"\b(recent(ly)?|have (been|shown|become)|has (been|become)|remains? (a |an )?(open|challenging|unclear|unexplored)"
    r"|is (widely|commonly|increasingly)|however, (existing|current|prior)|existing (methods|approaches|works?))\b",
    re.I,
)
_OPENS_CONTRAST = re.compile(r"^(however|although|while|despite|yet)\b", re.I)
_LEADING_MARKER = re.compile(
    r"^(moreover|furthermore|in addition|additionally|finally|specifically|overall|importantly|notably"
    r"|as a result|in particular|consequently|thus|therefore|besides|further|first|firstly|second|secondly|third|thirdly|lastly|then),\s+",
    re.I,
)


def cue_score(sentence: str, position: int) -> float:
    """0..1: how much a sentence reads like a finding rather than background or method."""
    words = len(sentence.split())
    score = 0.15
    score += 0.35 if _FINDING.search(sentence) else 0.0
    score += 0.2 if _COMPARISON.search(sentence) else 0.0
    score += 0.2 if NUMBER_RE.search(sentence) else 0.0
    score += 0.1 if _METHOD.search(sentence) else 0.0
    score -= 0.25 if _BACKGROUND.search(sentence) else 0.0
    score -= 0.1 if _OPENS_CONTRAST.match(sentence) else 0.0  # 'However, X ...' sets up a gap, not a result
    score -= 0.15 if position == 0 else 0.0  # abstracts open with motivation
    score -= 0.05 if HEDGE_RE.search(sentence) else 0.0
    score -= 0.3 if words < 8 else (0.1 if words > 70 else 0.0)
    return float(np.clip(score, 0.0, 1.0))


def claim_text(span_text: str) -> str:
    """The claim as stated: the sentence without a leading discourse marker."""
    text = _LEADING_MARKER.sub("", span_text)
    return text[:1].upper() + text[1:]


def extract_offline(question: str, paper: Paper, res: Resources, settings) -> list[Claim]:
    sentences = split_sentences(paper.abstract)
    if not sentences:
        return []
    qvec = res.vectors.embed([question], kind="query")[0]
    svecs = res.vectors.embed([s.text for s in sentences], kind="passage")
    relevance = np.clip((svecs @ qvec - 0.1) / 0.5, 0.0, 1.0)
    scored = []
    for i, s in enumerate(sentences):
        total = 0.5 * cue_score(s.text, i) + 0.5 * float(relevance[i])
        scored.append((total, i, s, float(svecs[i] @ qvec)))
    best = sorted(scored, key=lambda t: (-t[0], t[1]))[: settings.claims_per_paper]
    claims = []
    for total, i, s, rel in sorted(best, key=lambda t: t[1]):
        if total < settings.min_claim_score:
            continue
        claims.append(Claim(
            id=f"{paper.id}#s{i}",
            text=claim_text(s.text),
            paper_id=paper.id,
            source_span=SourceSpan(start=s.start, end=s.end, text=s.text),
            extraction_score=round(total, 4),
            relevance=round(rel, 4),
            method=EXTRACT_METHOD,
        ))
    return claims


async def extract(task: dict, runtime: Runtime[RunContext]) -> dict:
    """Claims from one paper (one ``Send`` branch: question, paper)."""
    res = await aget_resources(runtime.context)
    paper = task["paper"]
    claims = await asyncio.to_thread(extract_offline, task["question"], paper, res, runtime.context.settings)
    progress("extract", paper=paper.id, claims=len(claims))
    return {"claims": claims}


def verify_claims(claims: list[Claim], papers: list[Paper], res: Resources, settings) -> list[Claim]:
    """Every claim against every sentence of the kept papers, plus the seed baseline."""
    by_id = {p.id: p for p in papers}
    verifier = SentenceVerifier(papers, lambda texts: res.vectors.embed(texts, kind="passage"))
    scores = verifier.score([c.text for c in claims])
    out = []
    for claim, ranked in zip(claims, scores):
        source = by_id.get(claim.paper_id)
        span_ok = source is not None and source.abstract[claim.source_span.start : claim.source_span.end] == claim.source_span.text
        confidence = ranked[0].confidence if ranked and span_ok else 0.0
        base = max((baseline_score(claim.text, p.abstract) for p in papers), default=0.0)
        supporting = sorted({s.paper_id for s in ranked if s.confidence >= settings.verify_threshold})
        out.append(claim.model_copy(update={
            "verified": span_ok and confidence >= settings.verify_threshold,
            "confidence": round(confidence, 4),
            "baseline_score": round(base, 4),
            "baseline_verified": base >= settings.baseline_threshold,
            "evidence": to_evidence(ranked),
            "supporting_papers": supporting,
            "method": f"{claim.method}+{DEFAULT_METHOD}",
        }))
    return out


async def verify(state: dict, runtime: Runtime[RunContext]) -> dict:
    res = await aget_resources(runtime.context)
    papers = state.get("papers", [])
    kept = {p.id for p in papers}
    claims = [c for c in state.get("claims", []) if c.paper_id in kept]
    verified = await asyncio.to_thread(verify_claims, claims, papers, res, runtime.context.settings)
    progress("verify", claims=len(verified), verified=sum(c.verified for c in verified))
    return {"claims": verified}
