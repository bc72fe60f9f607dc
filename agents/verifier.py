"""verifier: every claim of the run checked against the retrieved text (the extractor
subgraph's second step, after extraction).

Three signals per claim, all kept in the report:
- the calibrated sentence verifier (``verification.SentenceVerifier``): a confidence that the
  best sentence of any kept abstract states the claim, the evidence spans, and ``verified``;
- the seed system's TF-IDF 1-2-gram cosine with threshold 0.15, kept as a baseline;
- with an LLM, a label per claim (SUPPORTED / CONTRADICTED / NOT_ENOUGH_INFO) against passages
  the index selects for it. One request per paper judges that paper's claims together (each
  against its own passages): a few calls instead of one per claim, which is what the rate
  limits and the bill count. A label can only take verification away, never grant it.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections import OrderedDict

import sklearn
from langgraph.runtime import Runtime

from sovereign_kernel.agents.common import progress
from sovereign_kernel.agents.llm_helpers import clip, model_tag, session
from sovereign_kernel.llm.session import render_prompt
from sovereign_kernel.llm.schemas import VerifierJudgements
from sovereign_kernel.runtime.resources import Resources, RunContext, aget_resources
from sovereign_kernel.domain.schemas import Claim, Paper
from sovereign_kernel.retrieval.index import paper_text
from sovereign_kernel.domain.text import split_sentences
from sovereign_kernel.verification.verifier import (
    DEFAULT_METHOD,
    SentenceVerifier,
    baseline_score,
    load_calibration,
    to_evidence,
)

NO_JUDGEMENT = "the answer had no judgement for this claim"
MEMO_SIZE = 32  # verify calls remembered per process (claims x kept papers -> scored claims)
_memo: OrderedDict[tuple, list[Claim]] = OrderedDict()
_memo_lock = threading.Lock()


def encode_papers_side(papers: list[Paper], res: Resources) -> None:
    """Fill the caches ``verify`` reads for the papers' side: their sentences', abstracts' and
    titles' vectors (the calibrated verifier's, and the run embedder's for the LLM verifier's
    passages) and their token vectors, each in one batch."""
    sentences = [s.text for p in papers for s in split_sentences(p.abstract)]
    if not sentences:
        return
    res.verifier_vectors.embed(sentences + [paper_text(p) for p in papers] + [p.title or p.id for p in papers],
                               kind="passage")
    if res.vectors is not res.verifier_vectors:
        res.vectors.embed(sentences, kind="passage")
    if load_calibration().uses_tokens:
        res.tokens.encode_tokens(sentences + [p.title for p in papers if p.title.strip()])


async def encode_papers(task: dict, runtime: Runtime[RunContext]) -> dict:
    """With an LLM, a branch beside the extract branches: the verify step's work on the papers'
    side (cold: seconds of MiniLM) is done while the models write claims, not after."""
    res = await aget_resources(runtime.context)
    await asyncio.to_thread(encode_papers_side, task["papers"], res)
    return {}


async def calibrated_scores(claims: list[Claim], papers: list[Paper], res: Resources, settings) -> list[Claim]:
    """Every claim against every sentence of the kept papers (the calibrated verifier) with the
    seed baseline beside it, the two computed concurrently. The same claims against the same
    papers (a revision round that found nothing new, a notebook re-run) are answered from
    memory: the whole call is the unit, since the TF-IDF part is fit on the batch."""
    key = (tuple((c.id, c.text, c.paper_id, c.source_span.start, c.source_span.end, c.method) for c in claims),
           tuple((p.id, p.title, p.abstract) for p in papers),
           settings.verify_threshold, settings.baseline_threshold, load_calibration().fitted_on)
    with _memo_lock:
        if key in _memo:
            _memo.move_to_end(key)
            return _memo[key]
    scored, bases = await asyncio.gather(asyncio.to_thread(sentence_verify, claims, papers, res, settings),
                                         asyncio.to_thread(baseline_scores, claims, papers, True))
    out = with_baselines(scored, bases, settings)
    with _memo_lock:
        _memo[key] = out
        while len(_memo) > MEMO_SIZE:
            _memo.popitem(last=False)
    return out


def sentence_verify(claims: list[Claim], papers: list[Paper], res: Resources, settings) -> list[Claim]:
    """The calibrated sentence verifier: confidence, verified, evidence passages, supporters."""
    by_id = {p.id: p for p in papers}
    tokens = res.tokens if load_calibration().uses_tokens else None  # on disk: a warm run re-encodes nothing
    verifier = SentenceVerifier(papers, lambda texts: res.verifier_vectors.embed(texts, kind="passage"),
                                token_encoder=tokens)
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


async def judge_paper(sess, paper_id: str, claims: list[Claim],
                      passages: dict[str, list[tuple[str, str]]]) -> list[dict | None]:
    """The LLM verifier's label, method and rationale for each claim of one paper, in one
    request; None for a claim without passages, without a judgement in the answer, or when the
    whole answer fell back (the claim then keeps its calibrated verdict alone)."""
    asked = [c for c in claims if passages.get(c.id)]
    if not asked:
        return [None] * len(claims)
    batch = "\n\n".join(
        f"Claim {n}: {clip(c.text, 600)}\n" + "\n".join(f"  [{i}] {' '.join(text.split())}"
                                                    for i, (_, text) in enumerate(passages[c.id]))
        for n, c in enumerate(asked))
    answer = await sess.structured("verifier", VerifierJudgements,
                                   render_prompt("verifier", claims=batch, n_claims=len(asked)), item=paper_id)
    if answer is None:
        return [None] * len(claims)
    by_number = {}
    for j in answer.judgements:
        by_number.setdefault(j.claim, j)  # the first judgement of a claim counts
    labels: dict[str, dict] = {}
    for n, claim in enumerate(asked):
        if (j := by_number.get(n)) is None:
            sess.fallback("verifier", claim.id, NO_JUDGEMENT)
            continue
        options = passages[claim.id]
        label, rationale = j.label, clip(j.rationale, 300)
        if 0 <= j.evidence_index < len(options):
            rationale = f"arXiv:{options[j.evidence_index][0]}: {rationale}"
        elif label == "SUPPORTED":
            label, rationale = "NOT_ENOUGH_INFO", f"SUPPORTED without a valid passage index ({j.evidence_index})"
        labels[claim.id] = {"label": label, "label_method": model_tag(sess, "verifier"), "label_rationale": rationale}
    return [labels.get(c.id) for c in claims]


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
        verified = await calibrated_scores(claims, papers, res, settings)
    else:  # the LLM labels (one request per paper, concurrent, bounded by the session) start at
        # once; the calibrated verifier and the baseline are computed while they are in flight
        passages = await asyncio.to_thread(index_passages, claims, papers, res)
        by_paper: dict[str, list[Claim]] = {}
        for c in claims:
            by_paper.setdefault(c.paper_id, []).append(c)
        judged = asyncio.gather(*(judge_paper(sess, pid, group, passages) for pid, group in by_paper.items()))
        scored = await calibrated_scores(claims, papers, res, settings)
        labels = {c.id: lab for group, labs in zip(by_paper.values(), await judged) for c, lab in zip(group, labs)}
        verified = with_labels(scored, [labels[c.id] for c in claims])
    progress("verify", claims=len(verified), verified=sum(c.verified for c in verified))
    return {"claims": verified}
