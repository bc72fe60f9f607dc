"""owner_review: the human in the loop for escalated runs.

The graph pauses here with ``interrupt()``, carrying what the owner needs to decide (tribunal
scores and reasons, the policy's reasons, the weakest claims). The owner resumes the run with
``Command(resume={"action": "approve" | "reject" | "edit", "reason": ..., "drop_claims": [...],
"note": ...})``. Nothing happens before ``interrupt()``, so re-running this node on resume is safe.
"""

from __future__ import annotations

from typing import Any

from langgraph.runtime import Runtime
from langgraph.types import interrupt
from pydantic import ValidationError

from sovereign_kernel.agents.common import round_claims
from sovereign_kernel.agents.drafter import make_draft
from sovereign_kernel.agents.publisher import report_update
from sovereign_kernel.domain.ids import resolve_claim
from sovereign_kernel.domain.schemas import OwnerDecision
from sovereign_kernel.graph.state import ResearchState
from sovereign_kernel.runtime.context import RunContext
from sovereign_kernel.runtime.progress import progress


def review_request(state: ResearchState) -> dict:
    report, tribunal = state["report"], state["tribunal"]
    weak = sorted(round_claims(state), key=lambda c: (c.grounded, c.confidence))[:5]
    return {
        "report_id": report.report_id,
        "question": state["question"],
        "quality_tier": report.quality_tier,
        "policy_reasons": state.get("policy_reasons", []),
        "tribunal": {"score": tribunal.score, "verdict": tribunal.verdict,
                     "reviews": [{"role": r.role, "score": r.score, "issues": r.issues} for r in tribunal.reviews]},
        "weak_claims": [{"id": c.id, "text": c.text, "grounded": c.grounded, "confidence": c.confidence} for c in weak],
        "actions": ["approve", "reject (with a reason)", "edit (drop_claims and/or a note)"],
    }


def claim_ids(state: ResearchState, named: list[str]) -> list[str]:
    """Claims named by their number in the report (``C3``, as report.md prints them) or by their id,
    as ids; a name that is neither stays as given (``decision_errors`` names it)."""
    known = [c.id for c in round_claims(state)]
    in_report = [c.id for c in state["report"].claims] if state.get("report") else []
    return [name if name in known else (resolve_claim(name, in_report) or name) for name in named]


def decision_errors(state: ResearchState, decision: OwnerDecision) -> list[str]:
    """Why a decision cannot be applied to this run (empty: it can)."""
    errors = []
    if decision.action == "reject" and not decision.reason.strip():
        errors.append("rejecting a run needs a reason")
    unknown = sorted(set(decision.drop_claims) - {c.id for c in round_claims(state)})
    if unknown:
        errors.append(f"no such claim(s) in this run: {', '.join(unknown)}")
    return errors


def read_decision(state: ResearchState, answer: Any) -> tuple[OwnerDecision | None, str]:
    """The owner's answer as a decision that applies to this run, or why it does not."""
    try:
        decision = OwnerDecision.model_validate(answer)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(x) for x in first.get("loc", ())) or "decision"
        return None, f"invalid decision ({where}: {first.get('msg', 'invalid')}); expected {{\"action\": " \
                     f"\"approve\" | \"reject\" | \"edit\", \"reason\": ..., \"drop_claims\": [...], \"note\": ...}}"
    decision = decision.model_copy(update={"drop_claims": claim_ids(state, decision.drop_claims)})
    errors = decision_errors(state, decision)
    return (None, "; ".join(errors)) if errors else (decision, "")


async def owner_review(state: ResearchState, runtime: Runtime[RunContext]) -> dict[str, Any]:
    progress("owner_review", report_id=state["report"].report_id, status="waiting for the owner")
    request = review_request(state)
    decision, error = read_decision(state, interrupt(request))
    while decision is None:  # ask again, saying why: the thread stays resumable
        progress("owner_review", report_id=state["report"].report_id, status=f"decision refused: {error}")
        decision, error = read_decision(state, interrupt({**request, "error": error}))
    updated: ResearchState = {**state, "owner_decision": decision}
    update: dict[str, Any] = {"owner_decision": decision}
    if decision.action == "edit":
        updated["dropped_claim_ids"] = sorted(set(state.get("dropped_claim_ids", [])) | set(decision.drop_claims))
        if decision.note:
            updated["notes"] = [*state.get("notes", []), f"Owner's note: {decision.note}"]
        updated["draft"] = await make_draft(updated, runtime.context)
        update.update({"dropped_claim_ids": decision.drop_claims, "draft": updated["draft"],
                       "notes": updated.get("notes", [])})
    update.update(await report_update(updated, runtime.context))  # the manifest records the owner's decision
    progress("owner_review", decision=decision.action)
    return update
