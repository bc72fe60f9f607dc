"""The judge and the policy: the tribunal's combined score, and the publication decision.

The judge averages this round's three reviews. With LLM reviewers, each review's score is
already the bounded combination of its measured rubric and its LLM's score (``rubric.py``: at
most ``llm_review_max_raise`` above the rubric), so the tribunal can never pass on the LLM's
word alone. The policy publishes only when the tribunal passes *and* the evidence is sufficient;
otherwise it escalates to the owner.
"""

from __future__ import annotations

from typing import Sequence

from sovereign_kernel.domain.schemas import Policy, Review, TribunalResult
from sovereign_kernel.domain.settings import TribunalSettings
from sovereign_kernel.tribunal.rubric import Signals

INSUFFICIENT = "insufficient evidence"
NO_GROUNDED_CLAIMS = "no grounded claims"


def combine(reviews: Sequence[Review], round_: int, s: TribunalSettings) -> TribunalResult:
    """Mean of the reviews; PUBLISH at the revision threshold, REJECT well below it with a REJECT review."""
    threshold = s.revision_threshold
    score = round(sum(r.score for r in reviews) / len(reviews), 2) if reviews else 0.0
    if score >= threshold:
        verdict = "PUBLISH"
    elif any(r.verdict == "REJECT" for r in reviews) and score < threshold - s.reject_margin:
        verdict = "REJECT"
    else:
        verdict = "REVISE"
    return TribunalResult(score=score, verdict=verdict, round=round_, reviews=list(reviews))


def decide(tribunal: TribunalResult, signals: Signals, sufficiency: float, s: TribunalSettings) -> tuple[Policy, list[str]]:
    """PUBLISH, or ESCALATE_TO_OWNER with every reason that fired."""
    reasons = []
    if tribunal.score < s.publish_threshold:
        reasons.append(f"tribunal score {tribunal.score:.1f} < {s.publish_threshold:.1f}")
    if sufficiency < s.sufficiency_threshold:
        why = f" (no kept paper addresses {'; '.join(signals.missing_pairs)} together)" if signals.missing_pairs else ""
        reasons.append(f"{INSUFFICIENT}: sufficiency {sufficiency:.2f} < {s.sufficiency_threshold:.2f}{why}")
    if signals.terms_absent_from_corpus:
        reasons.append(f"{INSUFFICIENT}: question terms absent from the corpus: "
                       + ", ".join(signals.terms_absent_from_corpus))
    if not signals.n_grounded:
        reasons.append(NO_GROUNDED_CLAIMS)
    if reasons:
        return "ESCALATE_TO_OWNER", reasons
    return "PUBLISH", [f"tribunal score {tribunal.score:.1f} >= {s.publish_threshold:.1f} and evidence sufficient "
                       f"({sufficiency:.2f} >= {s.sufficiency_threshold:.2f})"]


def evidence_insufficient(policy_reasons: Sequence[str]) -> bool:
    """Did the policy find the evidence insufficient for the question (not merely a low score)?"""
    return any(r.startswith(INSUFFICIENT) or r == NO_GROUNDED_CLAIMS for r in policy_reasons)
