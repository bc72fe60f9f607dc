"""SYNTHESIZER: does the draft make a coherent answer from diverse sources? Coverage of the
question's aspects, diversity of sources, how on-question the cited claims are, and whether
every finding cites claim rows (``tribunal.reviews``).

With an LLM, the reviewer model reads the measured signals and may lower the score freely or
raise it by at most one point (``agents.common.with_llm_review``)."""

from __future__ import annotations

from typing import Any

from langgraph.runtime import Runtime

from sovereign_kernel.agents.common import round_signals, with_llm_review
from sovereign_kernel.graph.state import ResearchState
from sovereign_kernel.runtime.context import RunContext
from sovereign_kernel.runtime.progress import progress
from sovereign_kernel.tribunal.reviews import synthesizer_review


async def synthesizer(state: ResearchState, runtime: Runtime[RunContext]) -> dict[str, Any]:
    review = synthesizer_review(round_signals(state, runtime), state.get("round", 0), runtime.context.settings.tribunal)
    review = await with_llm_review(runtime, review, state)
    progress("review", role="SYNTHESIZER", score=review.score)
    return {"reviews": [review]}
