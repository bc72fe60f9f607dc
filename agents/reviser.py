"""revise: apply the reviewers' recommendations before the tribunal looks again.

Drops claims the reviewers flagged (unverified, or not about the question) and, when aspects
of the question are unaddressed, plans refined queries for them so the next round searches
again; otherwise the draft is simply rebuilt from the remaining claims.
"""

from __future__ import annotations

from langgraph.runtime import Runtime

from sovereign_kernel.agents.common import current_claims, progress
from sovereign_kernel.agents.rubric import OFF_TOPIC_CLAIM_RELEVANCE
from sovereign_kernel.aspects import Aspect
from sovereign_kernel.resources import RunContext


def plan_revision(state: dict, n_queries: int) -> tuple[list[str], list[str], list[str]]:
    """(claim ids to drop, refined queries, notes saying what was done and why)."""
    claims = current_claims(state)
    drop = sorted(c.id for c in claims if not c.verified or c.relevance < OFF_TOPIC_CLAIM_RELEVANCE)
    notes = []
    if drop:
        notes.append(f"dropped {len(drop)} claims that were unverified or off the question")
    draft = state.get("draft")
    aspects = {a["phrase"]: Aspect(**a) for a in state.get("aspects", [])}
    covered = draft.aspects_covered if draft else []
    anchor = " ".join(covered[:2])
    queries = []
    for phrase in (draft.aspects_missing if draft else []):
        aspect = aspects.get(phrase)
        if aspect and aspect.missing_from_corpus:
            continue  # no paper mentions it: searching again cannot help
        queries.append(f"{phrase} {anchor}".strip())
    queries = [q for q in dict.fromkeys(queries) if q not in state.get("queries", [])][:n_queries]
    if queries:
        notes.append("searched again for unaddressed aspects: " + "; ".join(queries))
    return drop, queries, notes


async def revise(state: dict, runtime: Runtime[RunContext]) -> dict:
    drop, queries, notes = plan_revision(state, runtime.context.settings.n_queries)
    round_ = state.get("round", 0) + 1
    progress("revise", round=round_, dropped=len(drop), queries=queries)
    return {
        "round": round_,
        "dropped_claim_ids": drop,
        "refined_queries": queries,
        "revision_notes": notes or ["re-drafted without changes: no recommendation applied"],
    }
