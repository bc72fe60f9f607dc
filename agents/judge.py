"""judge and policy: the tribunal's combined score, the round a run reports, and the publication
decision (``tribunal.judgement``).

The judge combines this round's reviews (an LLM reviewer's raise counts only for a role the model
really answered) and keeps the best round judged so far (``domain.rounds``: tribunal score, then
evidence sufficiency). When the rounds are over and an earlier round was better, it puts that
round's state back — claims in play, dropped ids, draft, tribunal, papers, ranking, aspects,
coverage, queries — so the policy and the report use it and a revision that made the report worse
is never the one published; the methodology's revision line says which round was kept and why.
The policy publishes only when the tribunal passes *and* the evidence is sufficient; otherwise it
escalates to the owner.
"""

from __future__ import annotations

from typing import Any

from langgraph.runtime import Runtime
from langgraph.types import Overwrite

from sovereign_kernel.agents.common import round_claims, round_signals
from sovereign_kernel.domain.rounds import KeptRound, better, kept_round_note
from sovereign_kernel.domain.schemas import Sufficiency, TribunalResult
from sovereign_kernel.graph.state import ResearchState
from sovereign_kernel.publishing.methodology import answered_roles
from sovereign_kernel.runtime.context import RunContext
from sovereign_kernel.runtime.progress import progress
from sovereign_kernel.tribunal.judgement import combine, decide, llm_raises_where_answered, revise_again
from sovereign_kernel.tribunal.sufficiency import evidence_sufficiency


async def judge(state: ResearchState, runtime: Runtime[RunContext]) -> dict[str, Any]:
    settings, sess = runtime.context.settings, runtime.context.llm_session
    round_ = state.get("round", 0)
    reviews = [r for r in state.get("reviews", []) if r.round == round_]
    if sess is not None:
        reviews = llm_raises_where_answered(reviews, answered_roles(sess.usage_report(state.get("llm_outcomes") or {})), settings.tribunal)
    result = combine(reviews, round_, settings.tribunal)
    this_round = snapshot(state, runtime, result)
    previous = state.get("kept_round")
    kept = this_round if better(this_round, previous) else previous
    update: dict[str, Any] = {"tribunal": result, "tribunal_history": [result], "kept_round": kept}
    final = not revise_again(result, settings.tribunal.max_revision_rounds)
    if final and previous is not None:
        update["revision_notes"] = [kept_round_note(this_round, previous)]
    if final and kept is not this_round:
        update.update(restore(kept))
    progress("judge", round=round_, score=result.score, verdict=result.verdict, kept_round=kept.round)
    return update


def snapshot(state: ResearchState, runtime: Runtime[RunContext], result: TribunalResult) -> KeptRound:
    """This round as the policy and the report would read it, with its sufficiency (the tie-break)."""
    sufficiency = evidence_sufficiency(round_signals(state, runtime), state.get("ranked", []))["score"]
    return KeptRound(
        round=result.round, score=result.score, sufficiency=sufficiency, claims=round_claims(state),
        dropped_claim_ids=list(state.get("dropped_claim_ids", [])), draft=state["draft"], tribunal=result,
        papers=state.get("papers", []), ranked=state.get("ranked", []), aspects=state.get("aspects", []),
        coverage=state.get("coverage"), queries=state.get("queries", []),
    )


def restore(kept: KeptRound) -> dict[str, Any]:
    """The state update that puts ``kept`` back. ``claims`` and ``dropped_claim_ids`` have merging
    reducers (a later round's drops would stay dropped): ``Overwrite`` replaces them outright."""
    update: dict[str, Any] = {
        "round": kept.round, "tribunal": kept.tribunal, "draft": kept.draft, "papers": kept.papers,
        "ranked": kept.ranked, "aspects": kept.aspects, "queries": kept.queries,
        "claims": Overwrite(kept.claims), "dropped_claim_ids": Overwrite(kept.dropped_claim_ids),
    }
    if kept.coverage is not None:
        update["coverage"] = kept.coverage
    return update


async def policy(state: ResearchState, runtime: Runtime[RunContext]) -> dict[str, Any]:
    signals = round_signals(state, runtime)
    sufficiency = Sufficiency(**evidence_sufficiency(signals, state.get("ranked", [])))
    decision, reasons = decide(state["tribunal"], signals, sufficiency.score, runtime.context.settings.tribunal)
    progress("policy", decision=decision, sufficiency=sufficiency.score)
    return {"policy": decision, "policy_reasons": reasons, "sufficiency": sufficiency}
