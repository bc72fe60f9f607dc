"""owner_review: the human in the loop for escalated runs.

The graph pauses here with ``interrupt()``, carrying what the owner needs to decide (tribunal
scores and reasons, the policy's reasons, the weakest claims). The owner resumes the run with
``Command(resume={"action": "approve" | "reject" | "edit", "reason": ..., "drop_claims": [...],
"note": ...})``. Nothing happens before ``interrupt()``, so re-running this node on resume is safe.
"""

from __future__ import annotations

from typing import Literal

from langgraph.runtime import Runtime
from langgraph.types import interrupt
from pydantic import BaseModel, Field

from sovereign_kernel.agents.common import current_claims, progress
from sovereign_kernel.agents.drafter import build_draft
from sovereign_kernel.agents.publisher import render
from sovereign_kernel.domain.aspects import Aspect
from sovereign_kernel.runtime.resources import RunContext, aget_resources


class OwnerDecision(BaseModel):
    action: Literal["approve", "reject", "edit"]
    reason: str = ""
    drop_claims: list[str] = Field(default_factory=list)
    note: str = ""


def review_request(state: dict) -> dict:
    report, tribunal = state["report"], state["tribunal"]
    weak = sorted(current_claims(state), key=lambda c: (c.verified, c.confidence))[:5]
    return {
        "report_id": report.report_id,
        "question": state["question"],
        "quality_tier": report.quality_tier,
        "policy_reasons": state.get("policy_reasons", []),
        "tribunal": {"score": tribunal.score, "verdict": tribunal.verdict,
                     "reviews": [{"role": r.role, "score": r.score, "issues": r.issues} for r in tribunal.reviews]},
        "weak_claims": [{"id": c.id, "text": c.text, "verified": c.verified, "confidence": c.confidence} for c in weak],
        "actions": ["approve", "reject (with a reason)", "edit (drop_claims and/or a note)"],
    }


async def owner_review(state: dict, runtime: Runtime[RunContext]) -> dict:
    progress("owner_review", report_id=state["report"].report_id, status="waiting for the owner")
    decision = OwnerDecision.model_validate(interrupt(review_request(state)))
    if decision.action == "reject" and not decision.reason.strip():
        raise ValueError("rejecting a run needs a reason")
    known = {c.id for c in current_claims(state)}
    unknown = sorted(set(decision.drop_claims) - known)
    if unknown:
        raise ValueError(f"no such claim(s) in this run: {', '.join(unknown)}")
    updated = {**state, "owner_decision": decision.model_dump()}
    update: dict = {"owner_decision": decision.model_dump()}
    if decision.action == "edit":
        updated["dropped_claim_ids"] = sorted(set(state.get("dropped_claim_ids", [])) | set(decision.drop_claims))
        if decision.note:
            updated["notes"] = [*state.get("notes", []), f"Owner's note: {decision.note}"]
        papers = {p.id: p for p in state.get("papers", [])}
        aspects = [Aspect(**a) for a in state.get("aspects", [])]
        updated["draft"] = build_draft(state["question"], current_claims(updated), papers, aspects,
                                       len(state.get("ranked", [])))
        update.update({"dropped_claim_ids": decision.drop_claims, "draft": updated["draft"],
                       "notes": updated.get("notes", [])})
    res = await aget_resources(runtime.context)
    update.update(render(updated, runtime.context, res))  # the manifest records the owner's decision
    progress("owner_review", decision=decision.action)
    return update
