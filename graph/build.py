"""The research graph, wired to read like the pipeline diagram.

START → retriever [plan_queries → search ×4 (Send) → rank_and_gate → read_full_text]
      → extractor [extract ×N papers (Send) (+ encode_papers, with an LLM) → verify] → draft
      → skeptic | validator | synthesizer (parallel) → judge
judge ── score < threshold and rounds left ──→ revise → retriever (refined queries) | draft
judge ── otherwise ──→ policy → render_report ── PUBLISH ──→ publish (store) → END
                                              └─ ESCALATE_TO_OWNER → owner_review (interrupt) → publish → END

When the rounds are over, the judge puts the best round it judged back in the state (a revision
that scored lower is never the one published). The retriever and the extractor are subgraphs, so
the drawn graph shows the five agents the user names, and ``get_graph(xray=True)`` shows their
parallel insides.
"""

from __future__ import annotations

import functools
from typing import Any, Literal

from langgraph.graph import END, START, StateGraph
from langgraph.graph.state import CompiledStateGraph
from langgraph.runtime import get_runtime
from langgraph.types import Send

from sovereign_kernel.agents.drafter import draft
from sovereign_kernel.agents.extractor import extract
from sovereign_kernel.agents.judge import judge, policy
from sovereign_kernel.agents.owner_review import owner_review
from sovereign_kernel.agents.publisher import publish, render_report
from sovereign_kernel.agents.retriever import plan_queries, rank_and_gate, read_full_text, search
from sovereign_kernel.agents.reviser import revise
from sovereign_kernel.agents.skeptic import skeptic
from sovereign_kernel.agents.synthesizer import synthesizer
from sovereign_kernel.agents.validator import validator
from sovereign_kernel.agents.verifier import encode_papers, verify
from sovereign_kernel.graph.state import (
    EncodeTask,
    ExtractorOutput,
    ExtractorState,
    ExtractTask,
    ResearchInput,
    ResearchState,
    RetrieverOutput,
    RetrieverState,
    SearchTask,
)
from sovereign_kernel.llm.usage import node_outcomes
from sovereign_kernel.runtime.context import RunContext
from sovereign_kernel.tribunal.judgement import revise_again

REVIEWERS = ("skeptic", "validator", "synthesizer")


def counted(node):
    """``node`` returning, beside its update, what the LLM session did during it (``llm_outcomes``):
    the counts then live in the node's checkpoint, so a resumed run counts a re-run node once."""
    @functools.wraps(node)  # keeps the signature LangGraph reads (state type, runtime)
    async def run(state, runtime) -> Any:
        with node_outcomes() as outcomes:
            update = await node(state, runtime)
        if outcomes and isinstance(update, dict):
            update = {**update, "llm_outcomes": outcomes}
        return update

    return run


def _add(g: StateGraph, name: str, node) -> None:
    g.add_node(name, counted(node))


def fan_out_searches(state: RetrieverState) -> list[Send]:
    """One parallel search branch per planned query."""
    queries = state["queries"]
    return [Send("search", SearchTask(query=q, query_index=i, round=state.get("round", 0), of=len(queries)))
            for i, q in enumerate(queries)]


def fan_out_extraction(state: ExtractorState) -> list[Send] | Literal["verify"]:
    """One parallel extraction branch per kept paper (with an LLM, plus one that prepares the
    papers' side of verification while the models answer); nothing kept → straight to verify."""
    papers = state.get("papers", [])
    if not papers:
        return "verify"
    sends = [Send("extract", ExtractTask(question=state["question"], paper=p, of=len(papers))) for p in papers]
    if get_runtime(RunContext).context.llm_session is not None:
        sends.append(Send("encode_papers", EncodeTask(papers=papers)))
    return sends


def route_after_judge(state: ResearchState) -> Literal["revise", "policy"]:
    """Below the threshold with rounds left → revise; otherwise → policy. Decided on the round just
    judged (the last of ``tribunal_history``): when the rounds are over the judge may have put an
    earlier, better round back into ``tribunal`` and ``round``."""
    max_rounds = get_runtime(RunContext).context.settings.tribunal.max_revision_rounds
    return "revise" if revise_again(state["tribunal_history"][-1], max_rounds) else "policy"


def route_after_revise(state: ResearchState) -> Literal["retriever", "draft"]:
    """Refined queries → search again; otherwise re-draft from the remaining claims."""
    return "retriever" if state.get("refined_queries") else "draft"


def route_after_report(state: ResearchState) -> Literal["owner_review", "publish"]:
    """Escalated runs wait for the owner; the others go straight to the store."""
    return "owner_review" if state["policy"] == "ESCALATE_TO_OWNER" else "publish"


def build_retriever() -> StateGraph:
    """retriever: plan → search ×N (parallel) → rank and gate → read the kept arXiv papers' full text
    (with ``--full-text``; a library's PDFs are read before ranking)."""
    g = StateGraph(RetrieverState, context_schema=RunContext, output_schema=RetrieverOutput)
    _add(g, "plan_queries", plan_queries)
    _add(g, "search", search)
    _add(g, "rank_and_gate", rank_and_gate)
    _add(g, "read_full_text", read_full_text)
    g.add_edge(START, "plan_queries")
    g.add_conditional_edges("plan_queries", fan_out_searches, ["search"])
    g.add_edge("search", "rank_and_gate")
    g.add_edge("rank_and_gate", "read_full_text")
    g.add_edge("read_full_text", END)
    return g


def build_extractor() -> StateGraph:
    """extractor: extract ×N papers (parallel) → verify every claim."""
    g = StateGraph(ExtractorState, context_schema=RunContext, output_schema=ExtractorOutput)
    _add(g, "extract", extract)
    _add(g, "encode_papers", encode_papers)
    _add(g, "verify", verify)
    g.add_conditional_edges(START, fan_out_extraction, ["extract", "encode_papers", "verify"])
    g.add_edge("extract", "verify")
    g.add_edge("encode_papers", "verify")
    g.add_edge("verify", END)
    return g


def build_graph(checkpointer=None, **compile_kwargs) -> CompiledStateGraph:
    """Compile the research graph. ``checkpointer`` makes runs durable and resumable."""
    g = StateGraph(ResearchState, context_schema=RunContext, input_schema=ResearchInput)
    g.add_node("retriever", build_retriever().compile())
    g.add_node("extractor", build_extractor().compile())
    _add(g, "draft", draft)
    _add(g, "skeptic", skeptic)
    _add(g, "validator", validator)
    _add(g, "synthesizer", synthesizer)
    _add(g, "judge", judge)
    _add(g, "revise", revise)
    _add(g, "policy", policy)
    _add(g, "render_report", render_report)
    _add(g, "owner_review", owner_review)
    _add(g, "publish", publish)

    g.add_edge(START, "retriever")
    g.add_edge("retriever", "extractor")
    g.add_edge("extractor", "draft")
    for reviewer in REVIEWERS:  # the tribunal reviews in parallel
        g.add_edge("draft", reviewer)
    g.add_edge(list(REVIEWERS), "judge")
    g.add_conditional_edges("judge", route_after_judge, ["revise", "policy"])
    g.add_conditional_edges("revise", route_after_revise, ["retriever", "draft"])
    g.add_edge("policy", "render_report")
    g.add_conditional_edges("render_report", route_after_report, ["owner_review", "publish"])
    g.add_edge("owner_review", "publish")
    g.add_edge("publish", END)
    return g.compile(checkpointer=checkpointer, **compile_kwargs)
