"""SKEPTIC: is the evidence really about the question, and does it answer it?
Off-topic material, claims that are not about the question, single-source findings, hedging,
and — most heavily — aspects of the question no evidence addresses (``tribunal.reviews``).

With an LLM, the reviewer model reads the measured signals and may lower the score freely or
raise it by at most one point (``agents.common.with_llm_review``)."""

from __future__ import annotations

from typing import Any

from langgraph.runtime import Runtime

from sovereign_kernel.agents.common import round_signals, with_llm_review
from sovereign_kernel.graph.state import ResearchState
from sovereign_kernel.runtime.context import RunContext
from sovereign_kernel.runtime.progress import progress
from sovereign_kernel.tribunal.reviews import skeptic_review


async def skeptic(state: ResearchState, runtime: Runtime[RunContext]) -> dict[str, Any]:
    review = skeptic_review(round_signals(state, runtime), state.get("round", 0), runtime.context.settings.tribunal)
    review = await with_llm_review(runtime, review, state)
    progress("review", role="SKEPTIC", score=review.score)
    return {"reviews": [review]}
