"""Revision: what changes before the tribunal looks again.

Claims the reviewers flag (ungrounded, or not about the question) are dropped and, when aspects
of the question are unaddressed, refined queries are planned for them so the next round searches
again; otherwise the draft is rebuilt from the remaining claims. An LLM reviser's advice is merged
on top (``merge_advice``): its drops are limited to this round's claims and added to the offline
ones; a grounded claim goes only with a stated reason (a drop without one is ignored, and the notes
say so), since a reviser dropping every claim would leave nothing to publish; its queries replace
the offline ones (an empty list means searching again cannot help).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Sequence

from sovereign_kernel.domain.aspects import Aspect
from sovereign_kernel.domain.schemas import Claim, Draft
from sovereign_kernel.domain.text import clip


@dataclass(frozen=True)
class RevisionPlan:
    drop: list[str]  # claim ids, sorted
    queries: list[str]  # refined queries for the next search round; empty: re-draft only
    notes: list[str] = field(default_factory=list)  # what was done and why, for the methodology


def plan_revision(claims: Sequence[Claim], draft: Draft | None, aspects: Sequence[Aspect],
                  previous_queries: Sequence[str], n_queries: int, off_topic_below: float) -> RevisionPlan:
    """The offline revision: drop ungrounded and off-question claims, search for missing aspects."""
    drop = sorted(c.id for c in claims if not c.grounded or c.relevance < off_topic_below)
    notes = []
    if drop:
        notes.append(f"dropped {len(drop)} claims that were ungrounded or off the question")
    by_phrase = {a.phrase: a for a in aspects}
    covered = draft.aspects_covered if draft else []
    anchor = " ".join(covered[:2])
    queries = []
    for phrase in (draft.aspects_missing if draft else []):
        aspect = by_phrase.get(phrase)
        if aspect and aspect.missing_from_corpus:
            continue  # no paper mentions it: searching again cannot help
        queries.append(f"{phrase} {anchor}".strip())
    queries = [q for q in dict.fromkeys(queries) if q not in previous_queries][:n_queries]
    if queries:
        notes.append("searched again for unaddressed aspects: " + "; ".join(queries))
    return RevisionPlan(drop, queries, notes)


# A reason that says nothing ("none", "n/a", "-") is no reason.
_EMPTY_REASON = re.compile(r"^\W*(none|no reason|n/?a|null|unknown|nothing)?\W*$", re.I)
MAX_NOTED_DROPS = 5  # drops listed with their reasons in the notes; the rest are counted


def stated(reason: str | None) -> bool:
    """Does a reviser's drop carry a reason (not blank, not a placeholder)?"""
    return bool(reason) and not _EMPTY_REASON.match(reason)


def merge_advice(offline: RevisionPlan, claims: Sequence[Claim], advised_drops: Sequence[tuple[str, str]],
                 advised_queries: Sequence[str], advice_notes: Sequence[str]) -> RevisionPlan:
    """An LLM reviser's advice on top of the offline floor (ungrounded or off-question claims always
    go). ``advised_drops``: (claim id, reason); a grounded claim goes only with a stated reason.
    ``advised_queries`` are already cleaned and exclude the previous round's."""
    by_id = {c.id: c for c in claims}
    floor = set(offline.drop)
    taken: dict[str, str] = {}  # claim id -> reason, beyond the offline floor
    ignored: list[str] = []
    for claim_id, reason in advised_drops:
        claim = by_id.get(claim_id)
        if claim is None or claim_id in floor or claim_id in taken:
            continue
        if claim.grounded and not stated(reason):
            if claim_id not in ignored:
                ignored.append(claim_id)
            continue
        taken[claim_id] = clip(reason, 160) if stated(reason) else "ungrounded"
    drop = sorted(floor | set(taken))
    queries = list(advised_queries)
    notes = []
    if drop:
        notes.append(f"dropped {len(drop)} claims ({len(floor)} ungrounded or off the question, "
                     f"{len(taken)} more on the LLM reviser's advice)")
    if taken:
        listed = [f"{cid} ({reason})" for cid, reason in sorted(taken.items())[:MAX_NOTED_DROPS]]
        more = len(taken) - len(listed)
        notes.append("the LLM reviser's drops: " + "; ".join(listed) + (f"; and {more} more" if more else ""))
    if ignored:
        notes.append(f"ignored the LLM reviser's drop of {len(ignored)} grounded claims without a stated reason: "
                     + ", ".join(sorted(ignored)))
    if queries:
        notes.append("searched again for unaddressed aspects: " + "; ".join(queries))
    notes += [f"LLM reviser: {n}" for n in advice_notes]
    return RevisionPlan(drop, queries, notes)
