"""Public Python API: ``research``, ``aresearch``, ``stream_events``, ``build_graph``."""

from __future__ import annotations

import asyncio
import concurrent.futures
import json
import uuid
from pathlib import Path
from typing import Any, AsyncIterator, Callable

from langgraph.types import Command

from sovereign_kernel.checkpoints import open_checkpointer
from sovereign_kernel.graph.build import build_graph
from sovereign_kernel.resources import RunContext
from sovereign_kernel.schemas import Report
from sovereign_kernel.settings import MAX_QUESTION_CHARS, MIN_QUESTION_WORDS, Settings
from sovereign_kernel.store import Store
from sovereign_kernel.text import content_tokens

__all__ = ["research", "aresearch", "resume", "review", "stream", "stream_events", "build_graph", "ResearchResult",
           "InvalidQuestionError"]


class InvalidQuestionError(ValueError):
    """The question cannot be researched (empty, too long, or without content words)."""


class ResearchResult:
    """A finished (or paused) run: the ``Report``, its manifest and Markdown, ready to write.

    ``status`` is PUBLISHED, ARCHIVED, or PENDING_REVIEW when the policy escalated to the owner
    (then ``review_request`` says what the owner is asked, and the report is the draft).
    """

    def __init__(self, report: Report, manifest: dict, markdown: str, tribunal_history: list | None = None,
                 run_id: str | None = None, status: str = "PUBLISHED", review_request: dict | None = None):
        self.report = report
        self.manifest = manifest
        self.markdown = markdown
        self.tribunal_history = tribunal_history or []
        self.run_id = run_id
        self.status = status
        self.review_request = review_request

    def write(self, out_dir: str | Path) -> tuple[Path, Path]:
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        md, mf = out / "report.md", out / "manifest.json"
        from sovereign_kernel.figures import DEFAULT_FIGURE_NAME, tribunal_and_confidence_figure

        tribunal_and_confidence_figure(self.report, out / DEFAULT_FIGURE_NAME, manifest=self.manifest)
        figure = f"\n![Tribunal scores against the threshold; claim confidence by paper]({DEFAULT_FIGURE_NAME})\n"
        _atomic_write(md, self.markdown.replace("\n### Tribunal\n", f"{figure}\n### Tribunal\n", 1))
        _atomic_write(mf, json.dumps(self.manifest, indent=2, ensure_ascii=False) + "\n")
        return md, mf

    def to_json(self) -> dict:
        return self.report.model_dump(mode="json")

    def _repr_markdown_(self) -> str:
        return self.markdown

    def _repr_html_(self) -> str:
        from sovereign_kernel.notebook import report_html

        return report_html(self.report, self.manifest)

    def __repr__(self) -> str:
        r = self.report
        return (f"ResearchResult({r.report_id}: {r.results.claims_verified}/{r.results.claims_extracted} claims "
                f"verified, tribunal {r.results.tribunal_score:.1f}, {r.quality_tier}, {self.status})")


def validate_question(question: Any) -> str:
    if not isinstance(question, str):
        raise InvalidQuestionError(f"the question must be text, got {type(question).__name__}")
    q = " ".join(question.split())
    if not q:
        raise InvalidQuestionError("the question is empty")
    if len(q) > MAX_QUESTION_CHARS:
        raise InvalidQuestionError(f"the question is {len(q)} characters long; the limit is {MAX_QUESTION_CHARS}")
    if len(content_tokens(q)) < 1 or len(q.split()) < MIN_QUESTION_WORDS:
        raise InvalidQuestionError(f"the question needs at least {MIN_QUESTION_WORDS} words with a topic: {q!r}")
    return q


def make_context(settings: Settings | None = None, llm=None, embeddings=None, **overrides) -> RunContext:
    base = settings or Settings()
    if overrides:
        base = base.model_copy(update={k: v for k, v in overrides.items() if v is not None})
        base = Settings.model_validate(base.model_dump())  # re-validate the overrides
    return RunContext(settings=base, llm=llm, embeddings=embeddings)


def new_run_id() -> str:
    return f"run-{uuid.uuid4().hex[:12]}"


async def stream_events(question: str | None = None, *, settings: Settings | None = None, llm=None, embeddings=None,
                        run_id: str | None = None, out_dir: str | None = None, resume: Any = None,
                        **overrides) -> AsyncIterator[tuple[str, Any]]:
    """Yield ``("progress", event)`` while the graph runs, then ``("result", ResearchResult)``.

    Every run is checkpointed under ``run_id`` (LangGraph thread id). ``question=None`` with a
    ``run_id`` continues a stopped run; ``resume`` (the owner's decision) answers a paused one.
    """
    base = make_context(settings, **overrides).settings
    store = Store(base.resolved_home() / "store.sqlite")
    if question is None:  # resume: the run's own settings, as recorded when it started
        if not run_id:
            raise ValueError("resuming needs a run id")
        record = store.get_run(run_id)
        if record is None:
            raise ValueError(f"no run {run_id!r} in {store.path}")
        recorded = json.loads(record.settings_json or "{}")
        context = make_context(Settings(**{**recorded, "home": base.home}), llm, embeddings)
        graph_input: Any = Command(resume=resume) if resume is not None else None
        question, out_dir = record.question, out_dir or record.out_dir
    else:
        q = validate_question(question)
        context = make_context(base, llm, embeddings)
        run_id = run_id or new_run_id()
        existing = store.get_run(run_id)
        if existing is not None:
            raise ValueError(f"run {run_id!r} already exists ({existing.status}); resume it or pick another id")
        store.upsert_run(run_id, q, "RUNNING", settings=context.settings.model_dump(mode="json", exclude={"home", "postgres_url"}),
                         out_dir=str(out_dir) if out_dir else None)
        graph_input = {"question": q}
    config = {"configurable": {"thread_id": run_id}}
    async with open_checkpointer(context.settings) as saver:
        graph = build_graph(checkpointer=saver)
        if resume is not None:  # check the decision before it enters the run's history
            validate_decision(await graph.aget_state(config), resume, run_id)
        # subgraphs=True: the retriever and extractor are subgraphs, and their progress events
        # only reach the caller's stream this way.
        async for namespace, mode, chunk in graph.astream(graph_input, config=config, context=context,
                                                          stream_mode=["custom"], subgraphs=True):
            yield "progress", chunk
        snapshot = await graph.aget_state(config)
    final = snapshot.values
    if "report" not in final:
        raise RuntimeError(f"run {run_id} stopped before it produced a report")
    pending = [i.value for t in snapshot.tasks for i in t.interrupts]
    if pending:
        status = "PENDING_REVIEW"
        store.upsert_run(run_id, question, status, final["report"].report_id)
    else:
        status = final.get("publication", {}).get("status", "PUBLISHED")
    yield "result", ResearchResult(final["report"], final["manifest"], final["report_markdown"],
                                   final.get("tribunal_history", []), run_id, status, pending[0] if pending else None)


def validate_decision(snapshot, decision: dict, run_id: str) -> None:
    from sovereign_kernel.agents.owner_review import OwnerDecision

    if not any(t.interrupts for t in snapshot.tasks):
        raise ValueError(f"run {run_id} is not waiting for the owner's review")
    d = OwnerDecision.model_validate(decision)
    if d.action == "reject" and not d.reason.strip():
        raise ValueError("rejecting a run needs a reason (--reason)")
    claims = {c.id for c in snapshot.values.get("report").claims}
    unknown = sorted(set(d.drop_claims) - claims)
    if unknown:
        raise ValueError(f"no such claim(s) in run {run_id}: {', '.join(unknown)}")


async def aresearch(question: str | None, *, on_progress: Callable[[dict], None] | None = None, **kwargs) -> ResearchResult:
    result = None
    async for kind, payload in stream_events(question, **kwargs):
        if kind == "progress" and on_progress:
            on_progress(payload)
        elif kind == "result":
            result = payload
    assert result is not None
    return result


def research(question: str, **kwargs) -> ResearchResult:
    """Synchronous ``aresearch``; also safe inside a running event loop (Jupyter)."""
    validate_question(question)  # fail fast, before any thread or loop is started
    return _run_sync(aresearch(question, **kwargs))


def resume(run_id: str, **kwargs) -> ResearchResult:
    """Finish a stopped run from its last checkpoint (finished nodes are not run again)."""
    return _run_sync(aresearch(None, run_id=run_id, **kwargs))


def review(run_id: str, action: str, *, reason: str = "", drop_claims: list[str] | None = None,
           note: str = "", **kwargs) -> ResearchResult:
    """The owner's decision on an escalated run: approve, reject (with a reason) or edit."""
    decision = {"action": action, "reason": reason, "drop_claims": drop_claims or [], "note": note}
    return _run_sync(aresearch(None, run_id=run_id, resume=decision, **kwargs))


stream = stream_events  # the name for it: events, then the result


def _run_sync(coro):
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coro)
    # A loop is running (notebook): run ours in a worker thread instead of nesting loops.
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, coro).result()


def _atomic_write(path: Path, text: str) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(path)
