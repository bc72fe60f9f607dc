"""revise: apply the reviewers' recommendations before the tribunal looks again
(``synthesis.revision``): drop flagged claims and, when aspects of the question are unaddressed,
plan refined queries so the next round searches again; otherwise re-draft.

With an LLM, the reviser reads the reviews and claims and answers which claims to drop (each with
its reason) and which queries to search next; its advice is merged on top of the offline revision
(ungrounded or off-question claims always go; a grounded claim only with a stated reason). Without
a usable answer the offline revision is used. Whatever the revision does, the judge keeps the best
round, so a revision that makes the report worse is not the one published.
"""

from __future__ import annotations

from typing import Any

from langgraph.runtime import Runtime

from sovereign_kernel.agents.common import round_claims
from sovereign_kernel.domain.text import clean_list
from sovereign_kernel.graph.state import ResearchState
from sovereign_kernel.llm.schemas import Revision
from sovereign_kernel.prompts import render_prompt
from sovereign_kernel.prompts.blocks import claims_block, reviews_block
from sovereign_kernel.retrieval.planning import clean_queries
from sovereign_kernel.runtime.context import RunContext
from sovereign_kernel.runtime.progress import progress
from sovereign_kernel.synthesis.revision import RevisionPlan, merge_advice, plan_revision


async def revise(state: ResearchState, runtime: Runtime[RunContext]) -> dict[str, Any]:
    settings = runtime.context.settings
    claims, draft = round_claims(state), state.get("draft")
    plan = plan_revision(claims, draft, state.get("aspects", []), state.get("queries", []),
                         settings.retriever.n_queries, settings.tribunal.off_topic_claim_relevance)
    if runtime.context.llm_session is not None:
        plan = await with_llm_advice(runtime, state, plan) or plan
    round_ = state.get("round", 0) + 1
    progress("revise", round=round_, dropped=len(plan.drop), queries=plan.queries)
    return {
        "round": round_,
        "dropped_claim_ids": plan.drop,
        "refined_queries": plan.queries,
        "revision_notes": plan.notes or ["re-drafted without changes: no recommendation applied"],
    }


async def with_llm_advice(runtime: Runtime[RunContext], state: ResearchState, offline: RevisionPlan) -> RevisionPlan | None:
    """The LLM reviser's advice merged with the offline floor; None to keep the offline revision."""
    round_, claims, draft = state.get("round", 0), round_claims(state), state.get("draft")
    n_queries = runtime.context.settings.retriever.n_queries
    prompt = render_prompt(
        "reviser", question=state["question"], n_queries=n_queries,
        reviews=reviews_block([r for r in state.get("reviews", []) if r.round == round_]),
        claims=claims_block(claims), aspects_missing=", ".join(draft.aspects_missing) if draft else "",
        previous_queries=" | ".join(state.get("queries", [])),
    )
    answer = await runtime.context.llm_session.structured("reviser", Revision, prompt, item=f"round {round_}")
    if answer is None:
        return None
    queries = clean_queries(answer.refined_queries, n_queries, exclude=set(state.get("queries", [])))
    drops = [(d.claim_id, d.reason) for d in answer.drops]
    return merge_advice(offline, claims, drops, queries, clean_list(answer.notes, 3))
