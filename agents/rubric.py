"""The measured signals the three reviewers score, and the arithmetic they share.

Offline, a review is a rubric: each item maps one measurement to points, and the review's
reasons say which measurement gave which points. With an LLM, each reviewer first computes
its rubric (the floor, kept as ``rubric_score``), then the LLM reviewer gets the same measured
signals as context and answers a score with reasons (``llm_score``, ``llm_reasons``). The
review's score, which the judge averages and routes on, is

    score = min(0.5 x rubric + 0.5 x llm, rubric + 1.0)

so the LLM can lower a score freely (a defect the measurements miss) but can never put it
more than LLM_MAX_RAISE = 1.0 point above what the measurements support.
"""

from __future__ import annotations

from dataclasses import dataclass

from sovereign_kernel.agents.common import current_claims
from sovereign_kernel.agents.llm_helpers import claims_block, clean_list, draft_block, model_tag, session, signals_block
from sovereign_kernel.domain.aspects import Aspect
from sovereign_kernel.llm.session import render_prompt
from sovereign_kernel.llm.schemas import ReviewerAssessment
from sovereign_kernel.domain.text import HEDGE_RE
from sovereign_kernel.domain.schemas import Review, RubricItem

OFF_TOPIC_CLAIM_RELEVANCE = 0.3  # MiniLM cosine of a claim to the question
PASS_SCORE = 6.5
REJECT_BELOW = 4.0
LLM_WEIGHT = 0.5  # the LLM reviewer's share of a review's score
LLM_MAX_RAISE = 1.0  # points an LLM reviewer may add above the measured rubric, at most


@dataclass(frozen=True)
class Signals:
    n_candidates: int
    n_kept: int
    mean_kept_relevance: float
    n_claims: int
    n_verified: int
    mean_confidence_verified: float
    spans_exact: int
    off_topic_claims: int
    hedged_claims: int
    single_source_verified: int
    n_aspects: int
    aspects_covered: int
    terms_absent_from_corpus: tuple[str, ...]
    verified_sources: int
    mean_relevance_findings: float
    findings_cited: int
    n_findings: int


def measure(state: dict) -> Signals:
    claims = current_claims(state)
    verified = [c for c in claims if c.verified]
    papers = {p.id: p for p in state.get("papers", [])}
    kept = [s for s in state.get("ranked", []) if s.kept]
    draft = state.get("draft")
    aspects = [Aspect(**a) for a in state.get("aspects", [])]
    used_ids = {cid for ids in (draft.finding_claims if draft else []) for cid in ids}
    used = [c for c in claims if c.id in used_ids]
    return Signals(
        n_candidates=len(state.get("ranked", [])),
        n_kept=len(kept),
        mean_kept_relevance=_mean(s.relevance for s in kept),
        n_claims=len(claims),
        n_verified=len(verified),
        mean_confidence_verified=_mean(c.confidence for c in verified),
        spans_exact=sum(
            1 for c in claims
            if c.paper_id in papers
            and papers[c.paper_id].abstract[c.source_span.start : c.source_span.end] == c.source_span.text
        ),
        off_topic_claims=sum(1 for c in claims if c.relevance < OFF_TOPIC_CLAIM_RELEVANCE),
        hedged_claims=sum(1 for c in claims if HEDGE_RE.search(c.text)),
        single_source_verified=sum(1 for c in verified if set(c.supporting_papers) <= {c.paper_id}),
        n_aspects=len(aspects),
        aspects_covered=len(draft.aspects_covered) if draft else 0,
        terms_absent_from_corpus=tuple(sorted({s for a in aspects for s in a.missing_from_corpus})),
        verified_sources=len({c.paper_id for c in verified}),
        mean_relevance_findings=_mean(c.relevance for c in used),
        findings_cited=sum(1 for ids in (draft.finding_claims if draft else []) if ids),
        n_findings=len(draft.findings) if draft else 0,
    )


def _mean(values) -> float:
    values = list(values)
    return sum(values) / len(values) if values else 0.0


def ratio(num: float, den: float) -> float:
    return num / den if den else 0.0


def scaled(value: float, lo: float, hi: float) -> float:
    """``value`` mapped linearly from [lo, hi] onto [0, 1], clipped."""
    if hi == lo:
        return 1.0 if value >= hi else 0.0
    return min(1.0, max(0.0, (value - lo) / (hi - lo)))


def item(signal: str, measured: str, fraction: float, max_points: float) -> RubricItem:
    return RubricItem(signal=signal, measured=measured, points=round(fraction * max_points, 2), max_points=max_points)


def make_review(role: str, round_: int, items: list[RubricItem], issues: list[str], recommendations: list[str]) -> Review:
    total = sum(i.points for i in items)
    max_total = sum(i.max_points for i in items)
    score = round(10.0 * total / max_total, 2) if max_total else 0.0
    reasons = [f"{i.signal}: {i.measured} -> {i.points:g}/{i.max_points:g}" for i in items]
    return Review(
        role=role, round=round_, score=score, verdict=verdict_for(score),
        issues=issues + reasons, recommendations=recommendations, rubric=items, rubric_score=score,
    )


def verdict_for(score: float) -> str:
    return "PUBLISH" if score >= PASS_SCORE else ("REVISE" if score >= REJECT_BELOW else "REJECT")


def combined_score(rubric: float, llm: float) -> float:
    """A reviewer's score from its measured rubric and its LLM's score (see the module doc)."""
    return round(min((1 - LLM_WEIGHT) * rubric + LLM_WEIGHT * llm, rubric + LLM_MAX_RAISE), 2)


async def with_llm_review(runtime, review: Review, state: dict) -> Review:
    """The rubric review, plus the LLM reviewer's score and reasons when a session is set and
    answers; the rubric review unchanged otherwise (offline, or a fallback)."""
    sess = session(runtime)
    if sess is None:
        return review
    role = review.role.lower()
    prompt = render_prompt(role, question=state["question"], round=review.round, signals=signals_block(review),
                           rubric_score=f"{review.score:.2f}", draft=draft_block(state.get("draft")),
                           claims=claims_block(current_claims(state)))
    answer = await sess.structured(role, ReviewerAssessment, prompt, item=f"round {review.round}")
    if answer is None:
        return review
    llm = round(answer.score, 2)
    score = combined_score(review.score, llm)
    reasons, recs = clean_list(answer.reasons), clean_list(answer.recommendations)
    summary = (f"LLM reviewer {llm:g}/10; score = min({1 - LLM_WEIGHT:g} x rubric {review.score:g} + {LLM_WEIGHT:g} x LLM "
               f"{llm:g}, rubric + {LLM_MAX_RAISE:g}) = {score:g}")
    return review.model_copy(update={
        "score": score, "verdict": verdict_for(score), "llm_score": llm, "llm_reasons": reasons,
        "llm_recommendations": recs, "issues": [*review.issues, summary, *(f"LLM: {r}" for r in reasons)],
        "method": f"{review.method}+{model_tag(sess, role)}",
    })
