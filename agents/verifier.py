"""verifier: every claim of the run checked against the retrieved text (the extractor subgraph's
second step, after extraction).

Three signals per claim, all kept in the report:
- the calibrated sentence verifier (``verification.scoring.sentence_verify``): a confidence that
  the best sentence of any kept abstract states the claim, the evidence spans, and ``verified``;
- the seed system's TF-IDF 1-2-gram cosine with threshold 0.15, kept as a baseline;
- with an LLM, a label per claim (SUPPORTED / CONTRADICTED / NOT_ENOUGH_INFO) against passages
  the index selects for it. One request per paper judges that paper's claims together (each
  against its own passages): a few calls instead of one per claim, which is what the rate
  limits and the bill count. A label can only take verification away, never grant it.
"""

from __future__ import annotations

import asyncio
from typing import Any

from langgraph.runtime import Runtime

from sovereign_kernel.domain.schemas import Claim, Paper
from sovereign_kernel.domain.settings import Settings
from sovereign_kernel.graph.state import EncodeTask, ExtractorState
from sovereign_kernel.llm.schemas import VerifierJudgements
from sovereign_kernel.llm.session import LLMSession
from sovereign_kernel.prompts import render_prompt
from sovereign_kernel.runtime.context import RunContext
from sovereign_kernel.runtime.progress import progress
from sovereign_kernel.runtime.workspace import Resources, Workspace
from sovereign_kernel.verification.baseline import baseline_scores, with_baselines
from sovereign_kernel.verification.scoring import (
    NO_JUDGEMENT,
    Passages,
    encode_papers_side,
    index_passages,
    labels_from_judgements,
    sentence_verify,
    verifier_batch,
    with_labels,
)


async def verify(state: ExtractorState, runtime: Runtime[RunContext]) -> dict[str, Any]:
    ctx = runtime.context
    res = await ctx.aresources()
    papers = state.get("papers", [])
    kept = {p.id for p in papers}
    claims = [c for c in state.get("claims", []) if c.paper_id in kept]
    if (sess := ctx.llm_session) is None:
        verified = await calibrated_scores(claims, papers, res, ctx.settings, ctx.workspace)
    else:  # the LLM labels (one request per paper, concurrent, bounded by the session) start at
        # once; the calibrated verifier and the baseline are computed while they are in flight
        passages = await asyncio.to_thread(ctx.vectors(res).consistent, lambda v: index_passages(
            claims, papers, v, ctx.settings.verification.verifier_passages), "verify")
        by_paper: dict[str, list[Claim]] = {}
        for c in claims:
            by_paper.setdefault(c.paper_id, []).append(c)
        judged = asyncio.gather(*(judge_paper(sess, pid, group, passages) for pid, group in by_paper.items()))
        scored = await calibrated_scores(claims, papers, res, ctx.settings, ctx.workspace)
        labels = {c.id: lab for group, labs in zip(by_paper.values(), await judged) for c, lab in zip(group, labs)}
        verified = with_labels(scored, [labels[c.id] for c in claims])
    progress("verify", claims=len(verified), verified=sum(c.grounded for c in verified))
    return {"claims": verified}


async def encode_papers(task: EncodeTask, runtime: Runtime[RunContext]) -> dict[str, Any]:
    """With an LLM, a branch beside the extract branches: the verify step's work on the papers'
    side (cold: seconds of MiniLM) is done while the models write claims, not after."""
    res = await runtime.context.aresources()
    await asyncio.to_thread(runtime.context.vectors(res).consistent, lambda v: encode_papers_side(
        task["papers"], verifier_vectors=res.verifier_vectors, run_vectors=v, tokens=res.tokens,
        calibration=res.calibration), "encode")
    return {}


async def calibrated_scores(claims: list[Claim], papers: list[Paper], res: Resources, settings: Settings,
                            workspace: Workspace) -> list[Claim]:
    """Every claim against every sentence of the kept papers (the calibrated verifier) with the
    seed baseline beside it, the two computed concurrently. The same claims against the same
    papers (a revision round that found nothing new, a notebook re-run) are answered from the
    workspace's memory: the whole call is the unit, since the TF-IDF part is fit on the batch."""
    v, cal = settings.verification, res.calibration
    key = (tuple((c.id, c.text, c.paper_id, c.source_span.start, c.source_span.end, c.method) for c in claims),
           tuple((p.id, p.title, p.abstract, tuple((x.start, x.end) for x in p.passages)) for p in papers), v.verify_threshold, v.baseline_threshold, cal.fitted_on, v.contradict_threshold,
           id(res.verifier_vectors))
    if (known := workspace.verify_results.get(key)) is not None:
        return known
    scored, bases = await asyncio.gather(
        asyncio.to_thread(lambda: sentence_verify(claims, papers, vectors=res.verifier_vectors, tokens=res.tokens,
                                                  calibration=cal, threshold=v.verify_threshold,
                                                  cross_encoder=res.cross_encoder if res.cross_encoder is not None
                                                  and res.cross_encoder.available else None,
                                                  contradict_threshold=v.contradict_threshold)),
        asyncio.to_thread(baseline_scores, claims, papers, True))
    return workspace.verify_results.put(key, with_baselines(scored, bases, v.baseline_threshold))


async def judge_paper(sess: LLMSession, paper_id: str, claims: list[Claim], passages: Passages) -> list[dict | None]:
    """The LLM verifier's label, method and rationale for each claim of one paper, in one
    request; None for a claim without passages, without a judgement in the answer, or when the
    whole answer fell back (the claim then keeps its calibrated verdict alone)."""
    asked, batch = verifier_batch(claims, passages)
    if not asked:
        return [None] * len(claims)
    answer = await sess.structured("verifier", VerifierJudgements,
                                   render_prompt("verifier", claims=batch, n_claims=len(asked)), item=paper_id)
    if answer is None:
        return [None] * len(claims)
    labels = labels_from_judgements(asked, passages, answer.judgements, sess.tag("verifier"),
                                    on_missing=lambda c: sess.fallback("verifier", c.id, NO_JUDGEMENT))
    return [labels.get(c.id) for c in claims]
