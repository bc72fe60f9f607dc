"""VALIDATOR: are the claims grounded in the retrieved text?

Scores the verification rate, the calibrated confidence of verified claims, and whether each
claim's source span really occurs at its offsets in the source abstract.
"""

from __future__ import annotations

from langgraph.runtime import Runtime

from sovereign_kernel.agents.common import progress
from sovereign_kernel.agents.rubric import Signals, item, make_review, measure, ratio, scaled, with_llm_review
from sovereign_kernel.runtime.resources import RunContext
from sovereign_kernel.domain.schemas import Review


def validator_review(s: Signals, round_: int, min_verified: int) -> Review:
    rate = ratio(s.n_verified, s.n_claims)
    items = [
        item("verification rate", f"{s.n_verified}/{s.n_claims} claims verified", rate, 4.0),
        item("confidence of verified claims", f"mean {s.mean_confidence_verified:.2f}",
             scaled(s.mean_confidence_verified, 0.5, 0.95), 2.0),
        item("source spans found at their offsets", f"{s.spans_exact}/{s.n_claims}",
             ratio(s.spans_exact, s.n_claims), 2.0),
        item("amount of verified evidence", f"{s.n_verified} verified claims (want >= {min_verified})",
             min(1.0, ratio(s.n_verified, min_verified)), 2.0),
    ]
    issues, recs = [], []
    if s.n_claims and rate < 0.5:
        issues.append("fewer than half of the claims are supported by the retrieved text")
        recs.append("drop unverified claims")
    if s.spans_exact < s.n_claims:
        issues.append(f"{s.n_claims - s.spans_exact} claims cite spans that do not occur in their source")
    return make_review("VALIDATOR", round_, items, issues, recs)


async def validator(state: dict, runtime: Runtime[RunContext]) -> dict:
    review = validator_review(measure(state), state.get("round", 0), runtime.context.settings.doi_min_verified_claims)
    review = await with_llm_review(runtime, review, state)  # + the LLM reviewer, when there is one
    progress("review", role="VALIDATOR", score=review.score)
    return {"reviews": [review]}
