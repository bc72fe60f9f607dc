"""The reproduction gate: replay a published run from its recorded inputs and compare.

The replay uses the question and settings the run recorded, with no network (arXiv answers
come from the response cache only), in a throw-away checkpointer, and without writing to the
store. If the replayed sources, claims, verdicts, scores and content hash all equal the
published ones — and the replay's report.md is the stored one, character for character, its timestamp
aside — the report's truth gate becomes REPRODUCED (verification level L4) with the replay's evidence
attached; otherwise every difference is listed and recorded as DIFFERS. The store's hash chain is
audited first: a problem in this report's rows is a difference too (a replay must not certify stored
text someone edited), a problem elsewhere a warning in the outcome.
"""

from __future__ import annotations

import asyncio

from langgraph.checkpoint.memory import InMemorySaver
from langgraph.types import Command

from sovereign_kernel.app.kernel import Kernel
from sovereign_kernel.domain.settings import Settings, recorded
from sovereign_kernel.publishing.assembly import source_hashes
from sovereign_kernel.publishing.store import STORE_FILE, Store, utc_now
from sovereign_kernel.runtime.checkpoints import SERDE


def _claims(report) -> dict:
    return {c.id: (c.text, c.grounded, round(c.confidence, 4), tuple(c.corroborated_by)) for c in report.claims}


def compare(published, replayed_state: dict, recorded_sources: list) -> list[str]:
    diffs: list[str] = []
    replay_sources = source_hashes(replayed_state.get("ranked", []))
    recorded = {tuple(s) for s in recorded_sources}
    for pid, digest in sorted(recorded - set(replay_sources)):
        diffs.append(f"source {pid}: recorded content {digest} not found in the replay")
    for pid, digest in sorted(set(replay_sources) - recorded):
        diffs.append(f"source {pid}: replay found content {digest} that was not recorded")
    a, b = _claims(published.report), _claims(replayed_state["report"])
    for cid in sorted(set(a) | set(b)):
        if a.get(cid) != b.get(cid):
            diffs.append(f"claim {cid}: published {a.get(cid)} vs replay {b.get(cid)}")
    pr, rr = published.report, replayed_state["report"]
    for name, x, y in [
        ("tribunal score", pr.tribunal.score, rr.tribunal.score),
        ("tribunal verdict", pr.tribunal.verdict, rr.tribunal.verdict),
        ("policy", pr.results.policy, rr.results.policy),
        ("quality tier", pr.quality_tier, rr.quality_tier),
        ("content hash", published.manifest["content_hash"], replayed_state["manifest"]["content_hash"]),
    ]:
        if x != y:
            diffs.append(f"{name}: published {x} vs replay {y}")
    diffs += markdown_differences(published.published_markdown, replayed_state.get("report_markdown", ""), pr, rr)
    return diffs


def markdown_differences(stored: str, replayed: str, published_report, replayed_report) -> list[str]:
    """report.md as stored vs as the replay renders it; the header's creation time is the one thing a
    replay cannot repeat, so the replay's is set to the published one before comparing."""
    replayed = replayed.replace(f" · {replayed_report.created_at} · ", f" · {published_report.created_at} · ", 1)
    if stored == replayed:
        return []
    a, b = stored.splitlines(), replayed.splitlines()
    line = next((i for i, (x, y) in enumerate(zip(a, b)) if x != y), min(len(a), len(b)))
    near = (a[line] if line < len(a) else "(end)")[:120], (b[line] if line < len(b) else "(end)")[:120]
    return [f"markdown: report.md differs from line {line + 1}: stored {near[0]!r} vs replay {near[1]!r}"]


async def areproduce(report_id: str, settings: Settings | None = None, kernel: Kernel | None = None) -> dict:
    """Replay a published report from its recorded inputs (no network, nothing written but the
    verdict) and record REPRODUCED or DIFFERS with every difference."""
    base = settings or Settings()
    store = await asyncio.to_thread(lambda: Store(base.data_dir() / STORE_FILE))
    published = await asyncio.to_thread(store.get, report_id)
    audit = await asyncio.to_thread(store.audit)
    inputs = await asyncio.to_thread(store.inputs, report_id)
    replay_settings = Settings.from_record(inputs["settings"], home=base.home, cache_dir=base.cache_dir,
                                           arxiv_cache_only=True)
    # The mode the run had (recorded since this version; earlier records kept it in the settings).
    mode = inputs.get("mode") or recorded(inputs["settings"], "mode") or published.manifest["provenance"]["mode"]
    owned = kernel is None
    kernel = kernel or Kernel()
    try:
        # Cache-only LLM session: recorded answers are replayed, a miss falls back offline; no model is called.
        context = await asyncio.to_thread(
            kernel.context, replay_settings, run_id=published.run_id, replay_mode=mode,
            llm_models=(published.manifest["provenance"]["models"] or {}).get("llm"))
        graph = kernel.graph.copy({"checkpointer": InMemorySaver(serde=SERDE)})
        config = {"configurable": {"thread_id": f"replay-{report_id}"}}
        await graph.ainvoke({"question": inputs["question"]}, config=config, context=context)
        state = (await graph.aget_state(config)).values
        if inputs.get("owner_decision") and "publication" not in state:
            await graph.ainvoke(Command(resume=inputs["owner_decision"]), config=config, context=context)
            state = (await graph.aget_state(config)).values
    finally:
        if owned:
            kernel.close()
    diffs = compare(published, state, inputs["sources"]) + [f"store: {p}" for p in audit.about(report_id)]
    verdict = "REPRODUCED" if not diffs else "DIFFERS"
    evidence = {
        "replayed_at": utc_now(),
        "replay_content_hash": state["manifest"]["content_hash"],
        "compared": ["sources and their content hashes", "claims (text, grounded, confidence, corroborated by)",
                     "tribunal score and verdict", "policy", "quality tier", "manifest content hash",
                     "report.md as stored", "the store's hash chain"],
        "differences": diffs,
        "store_audit": {"intact": audit.intact, "head": audit.head, "problems": audit.problems[:5]},
    }
    await asyncio.to_thread(store.add_reproduction, report_id, verdict, evidence)
    return {"report_id": report_id, "verdict": verdict, **evidence}
