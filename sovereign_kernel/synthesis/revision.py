"""Revision: what changes before the tribunal looks again.

Claims the reviewers flag (ungrounded, or not about the question) are dropped and, when aspects
of the question are unaddressed, refined queries are planned for them so the next round searches
again; otherwise the draft is rebuilt from the remaining claims. An LLM reviser's advice is merged
on top (``merge_advice``): its drops are limited to this round's claims and added to the offline
ones; its queries replace them (an empty list means searching again cannot help).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Sequence

from sovereign_kernel.domain.aspects import Aspect
from sovereign_kernel.domain.schemas import Claim, Draft


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


def merge_advice(offline: RevisionPlan, claims: Sequence[Claim], advised_drops: Sequence[str],
                 advised_queries: Sequence[str], advice_notes: Sequence[str]) -> RevisionPlan:
    """An LLM reviser's advice on top of the offline floor (ungrounded or off-question claims always
    go); ``advised_queries`` are already cleaned and exclude the previous round's."""
    known = {c.id for c in claims}
    llm_drop = set(advised_drops) & known
    drop = sorted(set(offline.drop) | llm_drop)
    queries = list(advised_queries)
    notes = []
    if drop:
        notes.append(f"dropped {len(drop)} claims ({len(offline.drop)} ungrounded or off the question, "
                     f"{len(llm_drop - set(offline.drop))} more on the LLM reviser's advice)")
    if queries:
        notes.append("searched again for unaddressed aspects: " + "; ".join(queries))
    notes += [f"LLM reviser: {n}" for n in advice_notes]
    return RevisionPlan(drop, queries, notes)
