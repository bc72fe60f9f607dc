"""SYNTHESIZER: does the draft make a coherent answer from diverse sources?

Scores coverage of the question's aspects, diversity of the sources behind verified claims,
how on-question the cited claims are, and whether every finding cites claim rows.
"""

from __future__ import annotations

from langgraph.runtime import Runtime

from sovereign_kernel.agents.common import progress
from sovereign_kernel.agents.rubric import Signals, item, make_review, measure, ratio, scaled, with_llm_review
from sovereign_kernel.runtime.resources import RunContext
from sovereign_kernel.domain.schemas import Review


def synthesizer_review(s: Signals, round_: int, min_sources: int) -> Review:
    items = [
        item("coverage of the question's aspects", f"{s.aspects_covered}/{s.n_aspects}",
             ratio(s.aspects_covered, s.n_aspects), 4.0),
        item("diversity of sources", f"{s.verified_sources} papers behind verified claims (want >= {min_sources})",
             min(1.0, ratio(s.verified_sources, min_sources)), 3.0),
        item("coherence: cited claims on the question", f"mean cosine {s.mean_relevance_findings:.2f}",
             scaled(s.mean_relevance_findings, 0.3, 0.6), 2.0),
        item("traceability: findings citing claims", f"{s.findings_cited}/{s.n_findings}",
             ratio(s.findings_cited, s.n_findings), 1.0),
    ]
    issues, recs = [], []
    if s.verified_sources < min_sources:
        issues.append(f"the synthesis rests on {s.verified_sources} source(s)")
        recs.append("search for more sources")
    return make_review("SYNTHESIZER", round_, items, issues, recs)


async def synthesizer(state: dict, runtime: Runtime[RunContext]) -> dict:
    review = synthesizer_review(measure(state), state.get("round", 0), runtime.context.settings.doi_min_sources)
    review = await with_llm_review(runtime, review, state)  # + the LLM reviewer, when there is one
    progress("review", role="SYNTHESIZER", score=review.score)
    return {"reviews": [review]}
