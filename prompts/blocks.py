"""The blocks of run data that prompts carry: claims, the draft, a review's measured signals."""

from __future__ import annotations

from typing import Sequence

from sovereign_kernel.domain.schemas import Claim, Draft, Review
from sovereign_kernel.domain.text import clip


def claims_block(claims: Sequence[Claim]) -> str:
    """One line per claim: id, grounded in its own source, corroborated by how many other papers, text."""
    return "\n".join(
        f"{c.id} | {'grounded' if c.grounded else 'ungrounded'} (confidence {c.confidence:.2f}) | "
        f"corroborated by {len(c.corroborated_by)} other papers | {clip(c.text, 300)}"
        for c in claims
    ) or "(no claims)"


def draft_block(draft: Draft | None) -> str:
    if draft is None:
        return "(no draft)"
    return "\n".join([draft.abstract, *(f"- {f}" for f in draft.findings)])


def signals_block(review: Review) -> str:
    """The rubric's measured lines ("signal: measured -> points/max") and its other findings."""
    lines = [f"{i.signal}: {i.measured} -> {i.points:g}/{i.max_points:g}" for i in review.rubric]
    lines += [i for i in review.issues if not any(i.startswith(r.signal + ":") for r in review.rubric)]
    return "\n".join(lines)


def reviews_block(reviews: Sequence[Review]) -> str:
    return "\n".join(
        f"{r.role} ({r.score:.1f}/10, {r.verdict}): " + "; ".join([*r.issues, *r.llm_reasons])
        + (" | recommends: " + "; ".join([*r.recommendations, *r.llm_recommendations])
           if r.recommendations or r.llm_recommendations else "")
        for r in reviews
    ) or "(no reviews)"
