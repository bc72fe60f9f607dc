"""The revision round a run reports: ``KeptRound``, the state of the best round the tribunal has
judged, and the order that picks it (``better``: tribunal score, then evidence sufficiency).

A revision round can make a report worse (an LLM reviser dropping every claim); the judge keeps
the best round so far, and when the rounds are over the policy and the report use that round —
so a round that scores lower than the one before is never the one published. ``kept_round_note``
says which round was kept and why, for the methodology.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from sovereign_kernel.domain.aspects import Aspect
from sovereign_kernel.domain.facets import JointCoverage
from sovereign_kernel.domain.schemas import Claim, Draft, Paper, ScoredPaper, TribunalResult


class KeptRound(BaseModel):
    """What the policy and the report read of one judged round (the state fields it restores)."""

    model_config = ConfigDict(extra="forbid")

    round: int
    score: float = Field(description="The round's tribunal score.")
    sufficiency: float = Field(description="The round's evidence sufficiency (the tie-break).")
    claims: list[Claim] = Field(default_factory=list, description="The claims in play that round.")
    dropped_claim_ids: list[str] = Field(default_factory=list)
    draft: Draft
    tribunal: TribunalResult
    papers: list[Paper] = Field(default_factory=list)
    ranked: list[ScoredPaper] = Field(default_factory=list)
    aspects: list[Aspect] = Field(default_factory=list)
    coverage: JointCoverage | None = None
    queries: list[str] = Field(default_factory=list)


def better(candidate: KeptRound, kept: KeptRound | None) -> bool:
    """Does ``candidate`` (a later round) replace ``kept``? A higher tribunal score wins, then a
    higher sufficiency; a full tie keeps the later round (it is not worse, and the revision stands)."""
    if kept is None:
        return True
    # Rounded as reported, so float noise in the last digits never decides which round is published.
    return (round(candidate.score, 2), round(candidate.sufficiency, 4)) >= (round(kept.score, 2),
                                                                           round(kept.sufficiency, 4))


def kept_round_note(latest: KeptRound, previous: KeptRound) -> str:
    """Why the reported round is the one it is, after ``latest`` was judged against the best
    round before it (``previous``), e.g. "round 1 scored 1.03 < round 0's 6.71: round 0 is the
    one reported"."""
    kept = latest if better(latest, previous) else previous
    if round(latest.score, 2) != round(previous.score, 2):
        cmp = ">" if latest.score > previous.score else "<"
        why = f"round {latest.round} scored {latest.score:.2f} {cmp} round {previous.round}'s {previous.score:.2f}"
    else:
        cmp = ">=" if kept is latest else "<"
        why = (f"round {latest.round} scored {latest.score:.2f} = round {previous.round}'s, with evidence "
               f"sufficiency {latest.sufficiency:.2f} {cmp} {previous.sufficiency:.2f}")
    return f"{why}: round {kept.round} is the one reported"
