"""The judge and the policy: the tribunal's combined score, and the publication decision.

The judge averages this round's three reviews. With LLM reviewers, each review's score is
already the bounded combination of its measured rubric and its LLM's score (``rubric.py``: at
most ``llm_review_max_raise`` above the rubric), so the tribunal can never pass on the LLM's
word alone — and an LLM reviewer's raise counts only for a role the model really answered
(``llm_raises_where_answered``: most of that role's items, not a few amid fallbacks). The policy
publishes only when the tribunal passes *and* the evidence is sufficient; otherwise it escalates
to the owner. ``revise_again`` is the judge's edge: below the threshold with rounds left.
"""

from __future__ import annotations

from typing import Collection, Sequence

from sovereign_kernel.domain.schemas import Policy, Review, TribunalResult
from sovereign_kernel.domain.settings import TribunalSettings
from sovereign_kernel.tribunal.rubric import Signals, verdict_for

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


def revise_again(latest: TribunalResult, max_rounds: int) -> bool:
    """After judging round ``latest.round``: revise (below the threshold, rounds left) or end."""
    return latest.verdict != "PUBLISH" and latest.round < max_rounds


def llm_raises_where_answered(reviews: Sequence[Review], answered_roles: Collection[str],
                              s: TribunalSettings) -> list[Review]:
    """The reviews, with the raise of an LLM reviewer whose role the model mostly did not answer
    (``answered_roles``: lower-case roles; most items of the others fell back) taken back to the
    rubric score. Its lowering stands: a model's doubt costs nothing, its praise must be earned."""
    out = []
    for r in reviews:
        role = r.role.lower()
        if r.llm_score is None or role in answered_roles or r.rubric_score is None or r.score <= r.rubric_score:
            out.append(r)
            continue
        out.append(r.model_copy(update={
            "score": r.rubric_score, "verdict": verdict_for(r.rubric_score, s),
            "issues": [*r.issues, f"LLM raise not counted (score {r.score:g} -> rubric {r.rubric_score:g}): most "
                                  f"of the {role}'s items fell back to the offline algorithm"]}))
    return out


def decide(tribunal: TribunalResult, signals: Signals, sufficiency: float, s: TribunalSettings) -> tuple[Policy, list[str]]:
    """PUBLISH, or ESCALATE_TO_OWNER with every reason that fired."""
    reasons = []
    if tribunal.score < s.publish_threshold:
        reasons.append(f"tribunal score {tribunal.score:.1f} < {s.publish_threshold:.1f}")
    if sufficiency < s.sufficiency_threshold:
        reasons.append(f"{INSUFFICIENT}: sufficiency {sufficiency:.2f} < {s.sufficiency_threshold:.2f}")
    # The question's joined facets must meet in one kept paper: a report stitched from papers that
    # each match one facet answers a different question, however high its scores.
    if signals.missing_pairs:
        reasons.append(f"{INSUFFICIENT}: no kept paper addresses {'; '.join(signals.missing_pairs)} together")
    if signals.facets_covered < signals.required_facets:
        missed = signals.required_facets - signals.facets_covered
        reasons.append(f"{INSUFFICIENT}: {missed} of the question's {signals.required_facets} facets addressed by no "
                       "kept paper")
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
