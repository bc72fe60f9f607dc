"""Public Python API: ``research``, ``aresearch``, ``stream_events``, ``build_graph``."""

from __future__ import annotations

import asyncio
import concurrent.futures
import functools
import hashlib
import json
import threading
import uuid
from pathlib import Path
from typing import Any, AsyncIterator, Callable

from langgraph.types import Command

from sovereign_kernel.runtime.checkpoints import open_checkpointer, prune_history
from sovereign_kernel.graph.build import build_graph
from sovereign_kernel.llm.session import LLMSession
from sovereign_kernel.llm.response_cache import response_cache
from sovereign_kernel.llm.providers import LLMSettings, RetryingEmbeddings, detect_mode, make_embeddings
from sovereign_kernel.runtime.resources import RunContext
from sovereign_kernel.domain.schemas import Report
from sovereign_kernel.domain.settings import MAX_QUESTION_CHARS, MIN_QUESTION_WORDS, Settings
from sovereign_kernel.publishing.store import Store
from sovereign_kernel.domain.text import content_tokens

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
        from sovereign_kernel.publishing.figures import DEFAULT_FIGURE_NAME, tribunal_and_confidence_figure

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
        from sovereign_kernel.publishing.html import report_html

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


def with_overrides(settings: Settings | None, overrides: dict) -> Settings:
    base = settings or Settings()
    if overrides:
        base = base.model_copy(update={k: v for k, v in overrides.items() if v is not None})
        base = Settings.model_validate(base.model_dump())  # re-validate the overrides
    return base


_nim_embeddings: dict[tuple, RetryingEmbeddings] = {}
_nim_lock = threading.Lock()


def nim_embeddings(llm_settings: LLMSettings) -> RetryingEmbeddings:
    """One NIM embeddings client per endpoint, model and key, so the shared resources (keyed by
    the embeddings object) are reused across runs. The key is held in memory only, hashed here."""
    s = llm_settings
    key_hash = hashlib.sha256(s.key().encode()).hexdigest() if s.key() else None
    cache_key = (s.embed_model, s.embed_base_url or s.nim_base_url, key_hash, s.timeout_s, s.max_retries,
                 s.backoff_initial_s, s.backoff_max_s)
    with _nim_lock:
        if cache_key not in _nim_embeddings:
            _nim_embeddings[cache_key] = RetryingEmbeddings(make_embeddings(s), s)
        return _nim_embeddings[cache_key]


def make_context(settings: Settings | None = None, llm=None, embeddings=None, *, llm_settings: LLMSettings | None = None,
                 run_id: str | None = None, replay: bool = False, llm_models: dict[str, str] | None = None,
                 **overrides) -> RunContext:
    """The run's context: settings (``mode`` set from ``detect_mode``), the LLM session and embeddings.

    Modes: ``custom`` when ``llm`` and/or ``embeddings`` are passed; ``nim`` when ``NVIDIA_API_KEY``
    or a NIM base URL is configured (``LLMSettings``, env prefix ``SOVEREIGN_``); else ``offline``.
    The chat model is the injected one, else NIM when configured, else none (offline agents);
    the embeddings are the injected ones, else NIM's in ``nim`` mode, else the local MiniLM.
    With ``run_id`` every validated LLM answer is recorded in the run's response cache under
    ``SOVEREIGN_HOME``, so a resumed run repeats no finished LLM call.

    ``replay=True`` is the reproduction gate's switch: the mode is the recorded ``settings.mode``,
    and a non-offline run gets a cache-only session over ``run_id``'s responses (no model is
    called; a miss falls back offline). ``llm_models`` ({role: model}, the manifest's
    ``provenance.models.llm``) names the models that keyed the cache.
    """
    base = with_overrides(settings, overrides)
    ls = llm_settings or LLMSettings()
    if replay:
        mode = base.mode
        session = None
        if mode != "offline" and run_id:
            replay_settings = ls.model_copy(update={"role_models": dict(llm_models or {})})
            session = LLMSession.replay(replay_settings, response_cache(base.resolved_home()), run_id)
    else:
        mode = detect_mode(ls, llm, embeddings)
        session = LLMSession.create(ls, llm)
        if session is not None and run_id:
            session.attach_cache(response_cache(base.resolved_home()), run_id)
    if embeddings is None and mode == "nim":
        embeddings = nim_embeddings(ls)
    base = base.model_copy(update={"mode": mode})
    return RunContext(settings=base, llm=llm, embeddings=embeddings, replay=replay, llm_session=session)


@functools.lru_cache(maxsize=1)
def compiled_graph():
    """The research graph, compiled once per process (~20 ms a run otherwise); each run attaches
    its own checkpointer to a shallow copy (compiled graphs are reusable across threads)."""
    return build_graph()


def new_run_id() -> str:
    return f"run-{uuid.uuid4().hex[:12]}"


async def stream_events(question: str | None = None, *, settings: Settings | None = None, llm=None, embeddings=None,
                        run_id: str | None = None, out_dir: str | None = None, resume: Any = None,
                        llm_settings: LLMSettings | None = None, **overrides) -> AsyncIterator[tuple[str, Any]]:
    """Yield ``("progress", event)`` while the graph runs, then ``("result", ResearchResult)``.

    Every run is checkpointed under ``run_id`` (LangGraph thread id). ``question=None`` with a
    ``run_id`` continues a stopped run; ``resume`` (the owner's decision) answers a paused one.
    ``llm`` / ``embeddings``: LangChain objects for ``custom`` mode; ``llm_settings``: NIM
    transport and model settings (default: ``LLMSettings()`` from the environment).
    """
    base = with_overrides(settings, overrides)
    store = Store(base.resolved_home() / "store.sqlite")
    if question is None:  # resume: the run's own settings, as recorded when it started
        if not run_id:
            raise ValueError("resuming needs a run id")
        record = store.get_run(run_id)
        if record is None:
            raise ValueError(f"no run {run_id!r} in {store.path}")
        recorded = json.loads(record.settings_json or "{}")
        context = make_context(Settings(**{**recorded, "home": base.home}), llm, embeddings,
                               llm_settings=llm_settings, run_id=run_id)
        graph_input: Any = Command(resume=resume) if resume is not None else None
        question, out_dir = record.question, out_dir or record.out_dir
    else:
        q = validate_question(question)
        run_id = run_id or new_run_id()
        context = make_context(base, llm, embeddings, llm_settings=llm_settings, run_id=run_id)
        existing = store.get_run(run_id)
        if existing is not None:
            raise ValueError(f"run {run_id!r} already exists ({existing.status}); resume it or pick another id")
        store.upsert_run(run_id, q, "RUNNING", settings=context.settings.model_dump(mode="json", exclude={"home", "postgres_url"}),
                         out_dir=str(out_dir) if out_dir else None)
        graph_input = {"question": q}
    config = {"configurable": {"thread_id": run_id}}
    async with open_checkpointer(context.settings) as saver:
        graph = compiled_graph().copy({"checkpointer": saver})
        if resume is not None:  # check the decision before it enters the run's history
            validate_decision(await graph.aget_state(config), resume, run_id)
        # subgraphs=True: the retriever and extractor are subgraphs, and their progress events
        # only reach the caller's stream this way.
        async for namespace, mode, chunk in graph.astream(graph_input, config=config, context=context,
                                                          stream_mode=["custom"], subgraphs=True):
            yield "progress", chunk
        snapshot = await graph.aget_state(config)
        ended = not snapshot.next and not any(t.interrupts for t in snapshot.tasks)
        if ended and not context.settings.keep_checkpoint_history:
            await prune_history(saver, run_id)
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
