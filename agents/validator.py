"""VALIDATOR: are the claims grounded in the retrieved text? The verification rate, the
calibrated confidence of verified claims, and whether each claim's span is at its offsets in its
source (``tribunal.reviews``).

With an LLM, the reviewer model reads the measured signals and may lower the score freely or
raise it by at most one point (``agents.common.with_llm_review``)."""

from __future__ import annotations

from typing import Any

from langgraph.runtime import Runtime

from sovereign_kernel.agents.common import round_signals, with_llm_review
from sovereign_kernel.graph.state import ResearchState
from sovereign_kernel.runtime.context import RunContext
from sovereign_kernel.runtime.progress import progress
from sovereign_kernel.tribunal.reviews import validator_review


async def validator(state: ResearchState, runtime: Runtime[RunContext]) -> dict[str, Any]:
    review = validator_review(round_signals(state, runtime), state.get("round", 0), runtime.context.settings.tribunal)
    review = await with_llm_review(runtime, review, state)
    progress("review", role="VALIDATOR", score=review.score)
    return {"reviews": [review]}
