"""extractor agent: atomic claims from each kept paper (one parallel branch per paper).

Offline, the abstract's sentences are scored for claim cues and relevance to the question
(``verification.claim_extraction``); the best become claims whose source span is the exact
character range they came from. With an LLM, the model writes atomic claims, each with the span
of the abstract that states it; a span must be found in the abstract verbatim or near-verbatim,
and the claim then stores the real offsets. Claims with invented spans are dropped and counted;
when the model answers nothing usable for a paper, that paper falls back to the offline extractor.
The extractor subgraph then runs ``verifier.verify`` over every claim.
"""

from __future__ import annotations

import asyncio
from typing import Any

from langgraph.runtime import Runtime

from sovereign_kernel.domain.schemas import Claim, Paper
from sovereign_kernel.domain.settings import ExtractionSettings
from sovereign_kernel.graph.state import ExtractTask
from sovereign_kernel.llm.schemas import ExtractedClaims
from sovereign_kernel.llm.session import LLMSession
from sovereign_kernel.prompts import render_prompt
from sovereign_kernel.runtime.context import RunContext
from sovereign_kernel.runtime.progress import progress
from sovereign_kernel.runtime.run_vectors import RunVectors
from sovereign_kernel.runtime.workspace import Resources
from sovereign_kernel.verification.claim_extraction import claims_from_spans, extract_offline, paper_for_prompt


async def extract(task: ExtractTask, runtime: Runtime[RunContext]) -> dict[str, Any]:
    """Claims from one paper."""
    res = await runtime.context.aresources()
    paper, settings = task["paper"], runtime.context.settings.extraction
    claims = None
    if (sess := runtime.context.llm_session) is not None:
        claims = await extract_llm(sess, task["question"], paper, res, settings, runtime.context.vectors(res))
    if claims is None:
        vectors = runtime.context.vectors(res)
        claims = await asyncio.to_thread(vectors.consistent, lambda v: extract_offline(task["question"], paper, v, settings),
                                         "extract")
    progress("extract", paper=paper.id, claims=len(claims), of=task.get("of"))
    return {"claims": claims}


async def extract_llm(sess: LLMSession, question: str, paper: Paper, res: Resources,
                      settings: ExtractionSettings, vectors: RunVectors | None = None) -> list[Claim] | None:
    """The LLM's claims for one paper, or None to fall back to ``extract_offline`` for it."""
    prompt = render_prompt("extractor", question=question, paper_id=paper.id,
                           max_claims=settings.claims_per_paper + (settings.body_claims_per_paper if paper.passages else 0),
                           abstract=paper_for_prompt(paper))
    answer = await sess.structured("extractor", ExtractedClaims, prompt, item=paper.id)
    if answer is None:
        return None
    proposed = [(c.text, c.source_span) for c in answer.claims]
    vectors = vectors or RunVectors(res.vectors, res.verifier_vectors, None)
    claims, rejected = await asyncio.to_thread(
        vectors.consistent, lambda v: claims_from_spans(question, paper, proposed, v, settings), "extract")
    sess.record_distinct("extractor", "rejected", rejected)  # once per run, however often replayed
    if answer.claims and not claims:
        sess.fallback("extractor", paper.id, f"no source span ({len(rejected)}) was found in the paper's text")
        return None
    return claims
