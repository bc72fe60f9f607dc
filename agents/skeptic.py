"""SKEPTIC: is the evidence really about the question, and does it answer it?

Scores off-topic material, claims that are not about the question, single-source findings,
hedging, and — most heavily — aspects of the question no evidence addresses.
"""

from __future__ import annotations

from langgraph.runtime import Runtime

from sovereign_kernel.agents.common import progress
from sovereign_kernel.agents.rubric import Signals, item, make_review, measure, ratio, scaled, with_llm_review
from sovereign_kernel.runtime.resources import RunContext
from sovereign_kernel.domain.schemas import Review


def skeptic_review(s: Signals, round_: int) -> Review:
    coverage = ratio(s.aspects_covered, s.n_aspects)
    off_topic = ratio(s.off_topic_claims, s.n_claims)
    single = ratio(s.single_source_verified, s.n_verified)
    hedged = ratio(s.hedged_claims, s.n_claims)
    items = [
        item("relevance of kept papers", f"mean {s.mean_kept_relevance:.2f} over {s.n_kept} papers",
             scaled(s.mean_kept_relevance, 0.4, 0.8), 2.0),
        item("claims about the question", f"{s.off_topic_claims}/{s.n_claims} claims below cosine 0.30",
             1.0 - off_topic if s.n_claims else 0.0, 2.0),
        item("aspects of the question addressed", f"{s.aspects_covered}/{s.n_aspects}", coverage, 4.0),
        item("independent corroboration", f"{s.single_source_verified}/{s.n_verified} verified claims single-source",
             1.0 - single if s.n_verified else 0.0, 1.0),
        item("hedging", f"{s.hedged_claims}/{s.n_claims} claims hedged", 1.0 - hedged if s.n_claims else 0.0, 1.0),
    ]
    issues, recs = [], []
    if s.terms_absent_from_corpus:
        terms = ", ".join(repr(t) for t in s.terms_absent_from_corpus)
        issues.append(f"insufficient evidence: no paper in the corpus mentions {terms}")
        # Nothing in the corpus can answer the core of the question: cap the review.
        items.append(item("question terms found in the corpus", f"missing: {terms}", 0.0, 2.0))
    if coverage < 1.0:
        recs.append("search again for the aspects no verified claim addresses")
    if off_topic > 0.25:
        recs.append("drop claims that are not about the question")
    review = make_review("SKEPTIC", round_, items, issues, recs)
    return review


async def skeptic(state: dict, runtime: Runtime[RunContext]) -> dict:
    review = skeptic_review(measure(state), state.get("round", 0))
    review = await with_llm_review(runtime, review, state)  # + the LLM reviewer, when there is one
    progress("review", role="SKEPTIC", score=review.score)
    return {"reviews": [review]}
