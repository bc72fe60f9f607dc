"""judge and policy: the tribunal's combined score, and the publication decision
(``tribunal.judgement``). The policy publishes only when the tribunal passes *and* the evidence
is sufficient; otherwise it escalates to the owner."""

from __future__ import annotations

from typing import Any

from langgraph.runtime import Runtime

from sovereign_kernel.agents.common import round_signals
from sovereign_kernel.domain.schemas import Sufficiency
from sovereign_kernel.graph.state import ResearchState
from sovereign_kernel.runtime.context import RunContext
from sovereign_kernel.runtime.progress import progress
from sovereign_kernel.tribunal.judgement import combine, decide
from sovereign_kernel.tribunal.sufficiency import evidence_sufficiency


async def judge(state: ResearchState, runtime: Runtime[RunContext]) -> dict[str, Any]:
    round_ = state.get("round", 0)
    reviews = [r for r in state.get("reviews", []) if r.round == round_]
    result = combine(reviews, round_, runtime.context.settings.tribunal)
    progress("judge", round=round_, score=result.score, verdict=result.verdict)
    return {"tribunal": result, "tribunal_history": [result]}


async def policy(state: ResearchState, runtime: Runtime[RunContext]) -> dict[str, Any]:
    signals = round_signals(state, runtime)
    sufficiency = Sufficiency(**evidence_sufficiency(signals, state.get("ranked", [])))
    decision, reasons = decide(state["tribunal"], signals, sufficiency.score, runtime.context.settings.tribunal)
    progress("policy", decision=decision, sufficiency=sufficiency.score)
    return {"policy": decision, "policy_reasons": reasons, "sufficiency": sufficiency}
