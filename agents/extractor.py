"""extractor agent: atomic claims from each kept paper, then verification of every claim.

Offline extraction segments the abstract into sentences and scores each for claim cues
(findings, comparisons, numbers) and for relevance to the question; the best become claims
whose source span is the exact character range of the abstract they came from.

With an LLM (``runtime.context.llm_session``), the model writes atomic claims, each with the
span of the abstract that states it; a span must be found in the abstract verbatim (after
whitespace normalisation) or near-verbatim (difflib >= 0.9), and the claim then stores the real
offsets and text of the abstract. Claims with invented spans are dropped and counted; when
the model answers nothing usable for a paper, that paper falls back to the offline algorithm.
The extractor subgraph then runs ``verifier.verify`` over every claim.
"""

from __future__ import annotations

import asyncio
import hashlib
import re

import numpy as np
from langgraph.runtime import Runtime

from sovereign_kernel.agents.common import progress
from sovereign_kernel.agents.llm_helpers import clip, find_span, session
from sovereign_kernel.llm.session import render_prompt
from sovereign_kernel.llm.schemas import ExtractedClaims
from sovereign_kernel.runtime.resources import Resources, RunContext, aget_resources
from sovereign_kernel.domain.schemas import Claim, Paper, SourceSpan
from sovereign_kernel.domain.text import HEDGE_RE, NUMBER_RE, split_sentences

EXTRACT_METHOD = "offline-cue-v1"
LLM_EXTRACT_METHOD = "llm-extract-v1"

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
# Aim and scope statements ("In this paper, we study ...", "To determine whether ...") say what was
# done, not what was found, unless they report a result ("... we show that"). On SciFact train's
# rationales (bench/extraction_scifact.py) this penalty lifts top-3 hits 0.863 -> 0.869.
_AIM = re.compile(
    r"\b((in )?this (study|paper|work|article|review)|we (aim|aimed|sought|address|addressed|investigate|investigated"
    r"|study|studied|explore|explored|examine|examined|hypothesi[sz]ed?)|to (investigate|determine|assess|evaluate"
    r"|examine|explore|test whether|identify))\b",
    re.I,
)
_REPORTS_RESULT = re.compile(r"\b(we (show|find|found|demonstrate|observe|reveal|prove)|(shows?|showed|demonstrated?|reveal(s|ed)?) that)\b", re.I)
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
    score -= 0.2 if _AIM.search(sentence) and not _REPORTS_RESULT.search(sentence) else 0.0
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


def claims_from_answer(question: str, paper: Paper, answer: ExtractedClaims, res: Resources,
                       settings) -> tuple[list[Claim], list[str]]:
    """The model's claims whose spans are in the abstract (real offsets stored), and a key per
    claim rejected because its span is not. Ids are ``<paper>#l<index in the answer>``."""
    sentences = split_sentences(paper.abstract)
    kept, rejected, seen = [], [], set()
    for i, extracted in enumerate(answer.claims):
        found = find_span(paper.abstract, extracted.source_span)
        if found is None:
            rejected.append(f"{paper.id}:{hashlib.sha256(extracted.source_span.encode()).hexdigest()[:16]}")
            continue
        text = clip(extracted.text, 600)
        if text.lower() in seen:
            continue
        seen.add(text.lower())
        kept.append((i, text, *found))
    kept = kept[: settings.claims_per_paper]
    if not kept:
        return [], rejected
    qvec = res.vectors.embed([question], kind="query")[0]
    cvecs = res.vectors.embed([text for _, text, *_ in kept], kind="passage")
    claims = []
    for (i, text, start, end, match), vec in zip(kept, cvecs):
        rel = float(vec @ qvec)
        position = next((k for k, s in enumerate(sentences) if s.start <= start < s.end), 0)
        score = 0.5 * cue_score(paper.abstract[start:end], position) + 0.5 * float(np.clip((rel - 0.1) / 0.5, 0.0, 1.0))
        claims.append(Claim(
            id=f"{paper.id}#l{i}", text=text, paper_id=paper.id,
            source_span=SourceSpan(start=start, end=end, text=paper.abstract[start:end]),
            extraction_score=round(score, 4), relevance=round(rel, 4), method=LLM_EXTRACT_METHOD, span_match=match,
        ))
    return claims, rejected


async def extract_llm(sess, question: str, paper: Paper, res: Resources, settings) -> list[Claim] | None:
    """The LLM's claims for one paper, or None to fall back to ``extract_offline`` for it."""
    prompt = render_prompt("extractor", question=question, paper_id=paper.id, max_claims=settings.claims_per_paper,
                           abstract=paper.abstract)
    answer = await sess.structured("extractor", ExtractedClaims, prompt, item=paper.id)
    if answer is None:
        return None
    claims, rejected = await asyncio.to_thread(claims_from_answer, question, paper, answer, res, settings)
    sess.record_distinct("extractor", "rejected", rejected)  # once per run, however often replayed
    if answer.claims and not claims:
        sess.fallback("extractor", paper.id, f"no source span ({len(rejected)}) was found in the abstract")
        return None
    return claims


async def extract(task: dict, runtime: Runtime[RunContext]) -> dict:
    """Claims from one paper (one ``Send`` branch: question, paper)."""
    res = await aget_resources(runtime.context)
    paper, settings = task["paper"], runtime.context.settings
    claims = None
    if (sess := session(runtime)) is not None:
        claims = await extract_llm(sess, task["question"], paper, res, settings)
    if claims is None:
        claims = await asyncio.to_thread(extract_offline, task["question"], paper, res, settings)
    progress("extract", paper=paper.id, claims=len(claims))
    return {"claims": claims}
