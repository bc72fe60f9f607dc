"""What every agent shares: this round's claims, and the LLM reviewer step of the three reviews."""

from __future__ import annotations

from langgraph.runtime import Runtime

from sovereign_kernel.domain.schemas import Claim, Review
from sovereign_kernel.domain.text import clean_list
from sovereign_kernel.graph.state import ResearchState
from sovereign_kernel.llm.schemas import ReviewerAssessment
from sovereign_kernel.prompts import render_prompt
from sovereign_kernel.prompts.blocks import claims_block, draft_block, signals_block
from sovereign_kernel.runtime.context import RunContext
from sovereign_kernel.synthesis.draft import current_claims
from sovereign_kernel.tribunal.rubric import Signals, measure, with_llm_assessment


def round_claims(state: ResearchState) -> list[Claim]:
    """Claims of the papers that passed the gate this round, minus those the reviser dropped."""
    return current_claims(state.get("claims", []), state.get("papers", []), state.get("dropped_claim_ids", []))


def round_signals(state: ResearchState, runtime: Runtime[RunContext]) -> Signals:
    """What the reviewers score, measured on this round's claims and draft."""
    return measure(round_claims(state), state.get("papers", []), state.get("ranked", []), state.get("draft"),
                   state.get("aspects", []), runtime.context.settings.tribunal.off_topic_claim_relevance,
                   state.get("coverage"))


async def with_llm_review(runtime: Runtime[RunContext], review: Review, state: ResearchState) -> Review:
    """The rubric review, plus the LLM reviewer's score and reasons when a session is set and
    answers (bounded by the rubric: ``tribunal.rubric``); the rubric review unchanged otherwise."""
    sess = runtime.context.llm_session
    if sess is None:
        return review
    role = review.role.lower()
    prompt = render_prompt(role, question=state["question"], round=review.round, signals=signals_block(review),
                           rubric_score=f"{review.score:.2f}", draft=draft_block(state.get("draft")),
                           claims=claims_block(round_claims(state)))
    answer = await sess.structured(role, ReviewerAssessment, prompt, item=f"round {review.round}")
    if answer is None:
        return review
    return with_llm_assessment(review, answer.score, clean_list(answer.reasons), clean_list(answer.recommendations),
                               sess.tag(role), runtime.context.settings.tribunal)
