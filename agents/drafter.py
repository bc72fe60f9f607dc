"""draft: the synthesis the tribunal reviews, built only from verified claims
(``synthesis.draft.build_draft``): per aspect of the question, the strongest verified claims
that address it, each cited by its claim number; then what the evidence does not cover."""

from __future__ import annotations

from typing import Any

from langgraph.runtime import Runtime

from sovereign_kernel.agents.common import round_claims
from sovereign_kernel.graph.state import ResearchState
from sovereign_kernel.runtime.context import RunContext
from sovereign_kernel.runtime.progress import progress
from sovereign_kernel.synthesis.draft import build_draft


async def draft(state: ResearchState, runtime: Runtime[RunContext]) -> dict[str, Any]:
    papers = {p.id: p for p in state.get("papers", [])}
    result = build_draft(state["question"], round_claims(state), papers, state.get("aspects", []),
                         len(state.get("ranked", [])))
    progress("draft", findings=len(result.findings), aspects_missing=len(result.aspects_missing))
    return {"draft": result}
