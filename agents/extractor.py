"""extractor agent: atomic claims from each kept paper, then verification of every claim.

Offline extraction segments the abstract into sentences and scores each for claim cues
(findings, comparisons, numbers) and for relevance to the question; the best become claims
whose source span is the exact character range of the abstract they came from.

With an LLM (``runtime.context.llm_session``), the model writes atomic claims, each with the
span of the abstract that states it; a span must be found in the abstract verbatim (after
whitespace normalisation) or near-verbatim (difflib >= 0.9), and the claim then stores the real
offsets and text of the abstract. Claims with invented spans are dropped and counted; when
the model answers nothing usable for a paper, that paper falls back to the offline algorithm.
Verification keeps the calibrated sentence verifier's confidence and the TF-IDF baseline; the
LLM verifier adds a label per claim, and CONTRADICTED / NOT_ENOUGH_INFO mark it unverified.
"""

from __future__ import annotations

import asyncio
import hashlib
import re
import time

import numpy as np
import sklearn
from langgraph.runtime import Runtime

from sovereign_kernel.agents.common import progress
from sovereign_kernel.agents.llm_helpers import clip, find_span, model_tag, session
from sovereign_kernel.llm import render_prompt
from sovereign_kernel.llm_schemas import ExtractedClaims, VerifierJudgement
from sovereign_kernel.resources import Resources, RunContext, aget_resources
from sovereign_kernel.schemas import Claim, Paper, SourceSpan
from sovereign_kernel.text import HEDGE_RE, NUMBER_RE, split_sentences
from sovereign_kernel.verification import (
    DEFAULT_METHOD,
    SentenceVerifier,
    baseline_score,
    to_evidence,
)

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


def verify_claims(claims: list[Claim], papers: list[Paper], res: Resources, settings) -> list[Claim]:
    """Every claim against every sentence of the kept papers, plus the seed baseline."""
    return with_baselines(sentence_verify(claims, papers, res, settings), baseline_scores(claims, papers), settings)


def sentence_verify(claims: list[Claim], papers: list[Paper], res: Resources, settings) -> list[Claim]:
    """The calibrated sentence verifier: confidence, verified, evidence passages, supporters."""
    by_id = {p.id: p for p in papers}
    verifier = SentenceVerifier(papers, lambda texts: res.vectors.embed(texts, kind="passage"))
    scores = verifier.score([c.text for c in claims])
    out = []
    for claim, ranked in zip(claims, scores):
        source = by_id.get(claim.paper_id)
        span_ok = source is not None and source.abstract[claim.source_span.start : claim.source_span.end] == claim.source_span.text
        confidence = ranked[0].confidence if ranked and span_ok else 0.0
        supporting = sorted({s.paper_id for s in ranked if s.confidence >= settings.verify_threshold})
        out.append(claim.model_copy(update={
            "verified": span_ok and confidence >= settings.verify_threshold,
            "confidence": round(confidence, 4),
            "evidence": to_evidence(ranked),
            "supporting_papers": supporting,
            "method": f"{claim.method}+{DEFAULT_METHOD}",
            "label": None, "label_method": None, "label_rationale": None,  # the LLM verifier's, set after
        }))
    return out


def baseline_scores(claims: list[Claim], papers: list[Paper], yield_gil: bool = False) -> list[float]:
    """The seed method per claim: its best TF-IDF 1-2-gram cosine with any kept abstract.
    ``yield_gil``: release the GIL after each claim, so an event loop sending LLM requests
    meanwhile is not held up by this CPU-bound thread."""
    out = []
    # The seed method fits a vectorizer per pair: skip sklearn's per-fit parameter validation
    # (same results, ~20% less time; the setting is thread-local).
    with sklearn.config_context(skip_parameter_validation=True):
        for c in claims:
            best = 0.0
            for p in papers:
                best = max(best, baseline_score(c.text, p.abstract))
                if yield_gil:
                    time.sleep(0)
            out.append(best)
    return out


def with_baselines(claims: list[Claim], bases: list[float], settings) -> list[Claim]:
    return [c.model_copy(update={"baseline_score": round(b, 4), "baseline_verified": b >= settings.baseline_threshold})
            for c, b in zip(claims, bases)]


def index_passages(claims: list[Claim], papers: list[Paper], res: Resources, k: int = 3) -> dict[str, list[tuple[str, str]]]:
    """The passages the LLM verifier judges a claim against, selected by the index: the best
    sentence (embedding cosine, the run's vector cache) of each of the ``k`` closest kept papers.
    Cheap, so the LLM calls start at once while the calibrated verifier runs beside them."""
    sentences = [(p.id, s.text) for p in papers for s in split_sentences(p.abstract)]
    if not claims or not sentences:
        return {c.id: [] for c in claims}
    sims = res.vectors.embed([c.text for c in claims], kind="passage") @ \
        res.vectors.embed([t for _, t in sentences], kind="passage").T
    out = {}
    for ci, claim in enumerate(claims):
        best: dict[str, int] = {}
        for si, (pid, _) in enumerate(sentences):
            if pid not in best or sims[ci, si] > sims[ci, best[pid]]:
                best[pid] = si
        top = sorted(best.items(), key=lambda kv: (-float(sims[ci, kv[1]]), kv[0]))[:k]
        out[claim.id] = [(pid, sentences[si][1]) for pid, si in top]
    return out


async def judge_claim(sess, claim: Claim, passages: list[tuple[str, str]]) -> dict | None:
    """The LLM verifier's label, method and rationale for one claim, or None (no passages, or a
    fallback: the claim keeps its calibrated verdict alone)."""
    if not passages:
        return None
    evidence = "\n".join(f"[{i}] {text}" for i, (_, text) in enumerate(passages))
    judgement = await sess.structured("verifier", VerifierJudgement, render_prompt("verifier", claim=claim.text,
                                      evidence=evidence), item=claim.id)
    if judgement is None:
        return None
    label, rationale = judgement.label, clip(judgement.rationale, 300)
    if 0 <= judgement.evidence_index < len(passages):
        rationale = f"arXiv:{passages[judgement.evidence_index][0]}: {rationale}"
    elif label == "SUPPORTED":
        label, rationale = "NOT_ENOUGH_INFO", f"SUPPORTED without a valid passage index ({judgement.evidence_index})"
    return {"label": label, "label_method": model_tag(sess, "verifier"), "label_rationale": rationale}


def with_labels(claims: list[Claim], labels: list[dict | None]) -> list[Claim]:
    """Apply the LLM labels: they can only take verification away (verified needs SUPPORTED)."""
    return [c if lab is None else c.model_copy(update={**lab, "verified": c.verified and lab["label"] == "SUPPORTED"})
            for c, lab in zip(claims, labels)]


async def verify(state: dict, runtime: Runtime[RunContext]) -> dict:
    res = await aget_resources(runtime.context)
    papers = state.get("papers", [])
    kept = {p.id for p in papers}
    claims = [c for c in state.get("claims", []) if c.paper_id in kept]
    settings = runtime.context.settings
    if (sess := session(runtime)) is None:
        verified = await asyncio.to_thread(verify_claims, claims, papers, res, settings)
    else:  # the LLM labels (one request per claim, concurrent, bounded by the session) start at once;
        # the calibrated verifier and the baseline are computed while they are in flight
        passages = await asyncio.to_thread(index_passages, claims, papers, res)
        labels = asyncio.gather(*(judge_claim(sess, c, passages[c.id]) for c in claims))
        scored = asyncio.to_thread(sentence_verify, claims, papers, res, settings)
        bases = asyncio.to_thread(baseline_scores, claims, papers, True)
        scored, bases = await asyncio.gather(scored, bases)
        verified = with_labels(with_baselines(scored, bases, settings), await labels)
    progress("verify", claims=len(verified), verified=sum(c.verified for c in verified))
    return {"claims": verified}
