"""judge and policy: the tribunal's combined score, and the publication decision.

The judge averages this round's three reviews. With LLM reviewers, each review's score is
already the bounded combination of its measured rubric and its LLM's score (agents/rubric.py:
at most 1 point above the rubric), so the tribunal can never pass on the LLM's word alone.
The policy publishes only when the tribunal passes *and* the evidence is sufficient;
otherwise it escalates to the owner.
"""

from __future__ import annotations

from langgraph.runtime import Runtime

from sovereign_kernel.agents.common import progress, verified_claims
from sovereign_kernel.agents.rubric import measure
from sovereign_kernel.runtime.resources import RunContext
from sovereign_kernel.domain.schemas import TribunalResult


def combine(reviews: list, round_: int, threshold: float) -> TribunalResult:
    score = round(sum(r.score for r in reviews) / len(reviews), 2) if reviews else 0.0
    if score >= threshold:
        verdict = "PUBLISH"
    elif any(r.verdict == "REJECT" for r in reviews) and score < threshold - 2.5:
        verdict = "REJECT"
    else:
        verdict = "REVISE"
    return TribunalResult(score=score, verdict=verdict, round=round_, reviews=reviews)


async def judge(state: dict, runtime: Runtime[RunContext]) -> dict:
    round_ = state.get("round", 0)
    reviews = [r for r in state.get("reviews", []) if r.round == round_]
    result = combine(reviews, round_, runtime.context.settings.revision_threshold)
    progress("judge", round=round_, score=result.score, verdict=result.verdict)
    return {"tribunal": result, "tribunal_history": [result]}


def decide(state: dict, settings) -> tuple[str, list[str]]:
    tribunal = state["tribunal"]
    s = measure(state)
    reasons = []
    if tribunal.score < settings.publish_threshold:
        reasons.append(f"tribunal score {tribunal.score:.1f} < {settings.publish_threshold:.1f}")
    if s.terms_absent_from_corpus:
        reasons.append("insufficient evidence: question terms absent from the corpus: "
                       + ", ".join(s.terms_absent_from_corpus))
    if s.n_aspects and s.aspects_covered / s.n_aspects < 0.5:
        reasons.append(f"insufficient evidence: {s.aspects_covered}/{s.n_aspects} aspects addressed")
    if not verified_claims(state):
        reasons.append("no verified claims")
    if reasons:
        return "ESCALATE_TO_OWNER", reasons
    return "PUBLISH", [f"tribunal score {tribunal.score:.1f} >= {settings.publish_threshold:.1f} and evidence sufficient"]


async def policy(state: dict, runtime: Runtime[RunContext]) -> dict:
    decision, reasons = decide(state, runtime.context.settings)
    progress("policy", decision=decision)
    return {"policy": decision, "policy_reasons": reasons}
