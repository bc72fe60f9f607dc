"""revise: apply the reviewers' recommendations before the tribunal looks again.

Drops claims the reviewers flagged (unverified, or not about the question) and, when aspects
of the question are unaddressed, plans refined queries for them so the next round searches
again; otherwise the draft is simply rebuilt from the remaining claims.

With an LLM, the reviser reads the reviews and claims and answers which claims to drop and
which queries to search next. Its drops are limited to ids of this round's claims and added to
the offline drops (unverified or off-question claims always go); its queries replace the
offline ones (an empty list means searching again cannot help). Without a usable answer the
offline revision is used.
"""

from __future__ import annotations

from langgraph.runtime import Runtime

from sovereign_kernel.agents.common import current_claims, progress
from sovereign_kernel.agents.llm_helpers import claims_block, clean_list, clean_queries, reviews_block, session
from sovereign_kernel.agents.rubric import OFF_TOPIC_CLAIM_RELEVANCE
from sovereign_kernel.domain.aspects import Aspect
from sovereign_kernel.llm.session import render_prompt
from sovereign_kernel.llm.schemas import Revision
from sovereign_kernel.runtime.resources import RunContext


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


async def plan_revision_llm(sess, state: dict, n_queries: int) -> tuple[list[str], list[str], list[str]] | None:
    """(drops, queries, notes) from the LLM reviser merged with the offline floor; None to fall back."""
    round_ = state.get("round", 0)
    claims = current_claims(state)
    draft = state.get("draft")
    prompt = render_prompt(
        "reviser", question=state["question"], n_queries=n_queries,
        reviews=reviews_block([r for r in state.get("reviews", []) if r.round == round_]),
        claims=claims_block(claims), aspects_missing=", ".join(draft.aspects_missing) if draft else "",
        previous_queries=" | ".join(state.get("queries", [])),
    )
    answer = await sess.structured("reviser", Revision, prompt, item=f"round {round_}")
    if answer is None:
        return None
    offline_drop, _, _ = plan_revision(state, n_queries)
    known = {c.id for c in claims}
    llm_drop = sorted(set(answer.drop_claim_ids) & known)
    drop = sorted(set(offline_drop) | set(llm_drop))
    queries = clean_queries(answer.refined_queries, n_queries, exclude=set(state.get("queries", [])))
    notes = []
    if drop:
        notes.append(f"dropped {len(drop)} claims ({len(offline_drop)} unverified or off the question, "
                     f"{len(set(llm_drop) - set(offline_drop))} more on the LLM reviser's advice)")
    if queries:
        notes.append("searched again for unaddressed aspects: " + "; ".join(queries))
    notes += [f"LLM reviser: {n}" for n in clean_list(answer.notes, 3)]
    return drop, queries, notes


async def revise(state: dict, runtime: Runtime[RunContext]) -> dict:
    n_queries = runtime.context.settings.n_queries
    planned = None
    if (sess := session(runtime)) is not None:
        planned = await plan_revision_llm(sess, state, n_queries)
    drop, queries, notes = planned or plan_revision(state, n_queries)
    round_ = state.get("round", 0) + 1
    progress("revise", round=round_, dropped=len(drop), queries=queries)
    return {
        "round": round_,
        "dropped_claim_ids": drop,
        "refined_queries": queries,
        "revision_notes": notes or ["re-drafted without changes: no recommendation applied"],
    }
