"""publisher: the report of a run, then its publication.

- ``render_report``: the ``Report``, its ``paper-manifest-v1.1`` manifest and its Markdown
  (``publishing.assembly``), written to the state — an escalated run's owner reviews this draft.
- ``publish``: the report into the store (or archived, when the owner rejected it), with what the
  reproduction gate needs to replay it. Idempotent, so a resumed run may repeat it.
"""

from __future__ import annotations

import asyncio
from typing import Any

from langgraph.config import get_config
from langgraph.runtime import Runtime

from sovereign_kernel.agents.common import round_claims
from sovereign_kernel.domain.schemas import Publication
from sovereign_kernel.domain.settings import LLM_ROLES
from sovereign_kernel.graph.state import ResearchState
from sovereign_kernel.publishing.assembly import ReportInputs, RunFacts, assemble_report, source_hashes
from sovereign_kernel.publishing.store import STORE_FILE, Store
from sovereign_kernel.runtime.context import RunContext
from sovereign_kernel.runtime.progress import progress
from sovereign_kernel.sources.corpus import corpus_issues


async def render_report(state: ResearchState, runtime: Runtime[RunContext]) -> dict[str, Any]:
    update = await report_update(state, runtime.context)
    progress("report", report_id=update["report"].report_id, tier=update["report"].quality_tier)
    return update


async def report_update(state: ResearchState, ctx: RunContext) -> dict[str, Any]:
    """``report``, ``manifest`` and ``report_markdown`` for the state as it is (the owner's edit re-renders)."""
    res = await ctx.aresources()
    sess = ctx.llm_session

    def facts() -> RunFacts:  # naming a model may build its client (a blocking call): off the loop
        return RunFacts(
            mode=ctx.mode, corpus_label=res.corpus.label, corpus_hash=res.corpus.content_hash,
            corpus_size=len(res.corpus), embedder_id=res.embedder_id, verifier_embedder_id=res.verifier_vectors.model_id,
            llm_usage=sess.usage_report(state.get("llm_outcomes") or {}) if sess is not None else None,
            llm_models={role: sess.model_name(role) for role in LLM_ROLES} if sess is not None else None,
            embedding_usage=ctx.vectors(res).meter.embedding_report() if ctx.vectors(res).meter else None,
            corpus_issues=corpus_issues(res.corpus))

    run = ReportInputs(
        question=state["question"], claims=round_claims(state), papers=state.get("papers", []),
        ranked=state.get("ranked", []), aspects=state.get("aspects", []), draft=state["draft"],
        tribunal=state["tribunal"], policy=state["policy"], policy_reasons=state.get("policy_reasons", []),
        round=state.get("round", 0), queries=state.get("queries", []), revision_notes=state.get("revision_notes", []),
        notes=state.get("notes", []), owner_decision=state.get("owner_decision"),
        coverage=state.get("coverage"), sufficiency=state.get("sufficiency"),
    )
    # CPU work (claims ordering, hashing, the manifest's package versions on first use): off the loop.
    report, manifest, markdown = await asyncio.to_thread(lambda: assemble_report(run, ctx.settings, facts()))
    return {"report": report, "manifest": manifest, "report_markdown": markdown}


async def publish(state: ResearchState, runtime: Runtime[RunContext]) -> dict[str, Any]:
    """Publish to the store (or archive a rejected run). Idempotent, so a resumed run may repeat it."""
    ctx = runtime.context
    report, decision = state["report"], state.get("owner_decision")
    if ctx.replay:
        return {"publication": Publication(status="REPLAYED", report_id=report.report_id)}
    store = await asyncio.to_thread(lambda: Store(ctx.settings.data_dir() / STORE_FILE))
    run_id = _thread_id()
    if decision is not None and decision.action == "reject":
        if run_id:
            await asyncio.to_thread(store.upsert_run, run_id, state["question"], "ARCHIVED",
                                    report.report_id, decision.reason or "rejected by the owner")
        progress("publish", status="ARCHIVED", report_id=report.report_id)
        return {"publication": Publication(status="ARCHIVED", report_id=report.report_id)}
    await asyncio.to_thread(store.publish, report, state["manifest"], state["report_markdown"], run_id)
    await asyncio.to_thread(store.save_inputs, report.report_id, run_inputs(state, ctx))
    progress("publish", status="PUBLISHED", report_id=report.report_id)
    return {"publication": Publication(status="PUBLISHED", report_id=report.report_id)}


def run_inputs(state: ResearchState, ctx: RunContext) -> dict:
    """What the reproduction gate replays: the question, settings, mode and every source's content hash."""
    decision = state.get("owner_decision")
    return {
        "question": state["question"],
        "settings": ctx.settings.record(ctx.mode),
        "mode": ctx.mode,
        "sources": source_hashes(state.get("ranked", [])),
        "owner_decision": decision.model_dump() if decision is not None else None,
        "content_hash": state["manifest"]["content_hash"],
    }


def _thread_id() -> str | None:
    try:
        return get_config().get("configurable", {}).get("thread_id")
    except RuntimeError:
        return None
