"""The ``Kernel``: what serves research runs from Python and the CLI.

A kernel owns a ``Workspace`` (corpora, indexes, models and caches, built once and shared by its
runs) and the compiled research graph. Hold one to run several questions without reloading
anything; the module functions in ``sovereign_kernel.app.api`` make a fresh one per call::

    with Kernel() as kernel:
        first = kernel.research("How vulnerable is CLIP to typographic attacks?")
        second = kernel.research("Which defenses against typographic attacks work?", max_papers=5)
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import json
import logging
import time
import uuid
from typing import Any, AsyncIterator, Callable

from langgraph.graph.state import CompiledStateGraph
from langgraph.types import Command

from sovereign_kernel.agents.owner_review import read_decision
from sovereign_kernel.app.result import ResearchResult
from sovereign_kernel.domain.errors import RunError, SovereignError
from sovereign_kernel.domain.question import validate_question
from sovereign_kernel.domain.settings import LLMSettings, Settings
from sovereign_kernel.graph.build import build_graph
from sovereign_kernel.llm.providers import detect_mode, redact
from sovereign_kernel.llm.session import LLMSession
from sovereign_kernel.publishing.leases import Heartbeat, new_owner
from sovereign_kernel.publishing.store import STORE_FILE, Store
from sovereign_kernel.runtime.checkpoints import open_checkpointer, prune_history
from sovereign_kernel.runtime.context import RunContext
from sovereign_kernel.runtime.workspace import Workspace
from sovereign_kernel.sources.corpus import corpus_folder

log = logging.getLogger(__name__)
CORPORA_DIR = "corpora"  # corpora given as lists (paths, Paper objects, dicts), one folder each


def new_run_id() -> str:
    return f"run-{uuid.uuid4().hex[:12]}"


class Kernel:
    """Runs research questions on one ``Workspace`` (see the module doc). Thread-safe; runs may overlap."""

    def __init__(self, workspace: Workspace | None = None):
        self.workspace = workspace or Workspace()
        self.graph: CompiledStateGraph = build_graph()  # compiled once; each run attaches its checkpointer

    def __enter__(self) -> "Kernel":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        self.workspace.close()

    # -- contexts ------------------------------------------------------------------------------
    def context(self, settings: Settings, llm=None, embeddings=None, *, run_id: str | None = None,
                replay_mode: str | None = None, llm_models: dict[str, str] | None = None) -> RunContext:
        """A run's context: its mode, LLM session and embeddings (blocking: opens the response cache).

        Modes: ``custom`` when ``llm`` and/or ``embeddings`` are passed; ``nim`` when ``NVIDIA_API_KEY``
        or a NIM base URL is configured (``settings.llm``); else ``offline``. With ``run_id`` every
        validated LLM answer is recorded in the run's response cache, so a resumed run repeats no
        finished LLM call. ``replay_mode`` is the reproduction gate's switch: the recorded mode, and
        for a model run a cache-only session over ``run_id``'s answers (no model is called; a miss
        falls back offline); ``llm_models`` ({role: model}) names the models that keyed the cache.
        """
        ls = settings.llm
        if replay_mode is not None:
            mode, session = replay_mode, None
            if mode != "offline" and run_id:
                recorded = ls.model_copy(update={"role_models": dict(llm_models or {})})
                session = LLMSession.replay(recorded, self.workspace.response_cache(settings.data_dir()), run_id)
        else:
            mode = detect_mode(ls, llm, embeddings)
            session = LLMSession.create(ls, llm)
            if session is not None and run_id:
                session.attach_cache(self.workspace.response_cache(settings.data_dir()), run_id)
        if embeddings is None and mode == "nim":
            embeddings = self.workspace.nim_embeddings(ls)
        return RunContext(settings=settings, workspace=self.workspace, mode=mode, embeddings=embeddings,
                          llm_session=session, replay=replay_mode is not None)

    # -- runs ----------------------------------------------------------------------------------
    async def stream(self, question: str | None = None, *, settings: Settings | None = None, llm=None,
                     embeddings=None, run_id: str | None = None, out_dir: str | None = None, resume: Any = None,
                     restart: bool = False, llm_settings: LLMSettings | None = None,
                     **overrides) -> AsyncIterator[tuple[str, Any]]:
        """Yield ``("progress", event)`` while the graph runs, then ``("result", ResearchResult)``.

        Every run is checkpointed under ``run_id`` (LangGraph thread id). ``question=None`` with a
        ``run_id`` continues a stopped run; ``resume`` (the owner's decision) answers a paused one.
        ``llm`` / ``embeddings``: LangChain objects for ``custom`` mode; ``llm_settings``: NIM
        transport and models (default: ``settings.llm``, from the environment). ``overrides`` are
        settings by flat name (``max_papers=5``); an unknown one is a ``TypeError``.

        One run id is one run: a new id is created atomically and the run is held by this process
        (a lease, refreshed while it runs); another process asking for it is refused with a
        ``RunError`` until it ends or its process is gone. ``restart`` starts an existing,
        unpublished run over (its checkpoints and recorded answers discarded). A run that raises
        is marked FAILED with the error; fix the cause and resume it.
        """
        if isinstance(overrides.get("corpus"), (list, tuple)):  # paths, Paper objects, dicts: one folder
            items = overrides.pop("corpus")
            home = (settings or Settings()).with_overrides(**overrides).data_dir()
            overrides["corpus"] = str(await asyncio.to_thread(corpus_folder, items, home / CORPORA_DIR))
        base = (settings or Settings()).with_overrides(**overrides)
        if llm_settings is not None:
            base = base.model_copy(update={"llm": llm_settings})
        store = await asyncio.to_thread(lambda: Store(base.data_dir() / STORE_FILE))
        owner, record = new_owner(), None
        if question is None:  # resume: the run's own settings, as recorded when it started
            if not run_id:
                raise RunError("resuming needs a run id")
            record = await asyncio.to_thread(store.acquire_lease, run_id, owner)  # refused while another runs it
            question, out_dir = record.question, out_dir or record.out_dir
        else:
            question = validate_question(question)
            run_id = run_id or new_run_id()
            # One transaction: of two processes starting this id, one gets it, the other an error.
            await asyncio.to_thread(store.create_run, run_id, question, owner=owner, restart=restart,
                                    settings=base.record(detect_mode(base.llm, llm, embeddings)),
                                    out_dir=str(out_dir) if out_dir else None)
        beat = await asyncio.to_thread(Heartbeat(store, run_id, owner).start)  # thread start/join block: off the loop
        failed, started = None, []
        try:
            async for item in self._run(store, base, record, question, run_id, resume, restart, llm, embeddings,
                                        llm_settings, started):
                yield item
        except (Exception, asyncio.CancelledError, KeyboardInterrupt) as exc:  # the run stays, FAILED with why
            if started or not isinstance(exc, RunError):  # a refused decision leaves the run as it was
                failed = redact(" ".join(str(exc).split())[:500] or type(exc).__name__, base.llm.secrets())
            raise
        finally:
            await asyncio.to_thread(beat.stop)
            try:
                await asyncio.to_thread(store.release_lease, run_id, owner, failed=failed)
            except SovereignError as exc:  # e.g. a full disk: the run's own error is the one to see
                log.warning("run %s: its lease could not be released (%s); resume takes it over", run_id, exc)

    async def _run(self, store: Store, base: Settings, record, question: str, run_id: str, resume: Any,
                   restart: bool, llm, embeddings, llm_settings, started: list) -> AsyncIterator[tuple[str, Any]]:
        """The run itself, once this process holds it (``stream``); ``started`` is appended to when
        the graph starts."""
        if record is not None:  # resumed: the settings it recorded
            recorded = Settings.from_record(json.loads(record.settings_json or "{}"), home=base.home,
                                            cache_dir=base.cache_dir)
            recorded = recorded.model_copy(update={"llm": base.llm} if llm_settings is not None else {})
            context = await asyncio.to_thread(self.context, recorded, llm, embeddings, run_id=run_id)
            graph_input: Any = Command(resume=resume) if resume is not None else None
        else:
            if restart:  # nothing of the earlier attempt is reused: not its answers, not its counters
                await asyncio.to_thread(lambda: self.workspace.response_cache(base.data_dir()).discard_run(run_id))
            context = await asyncio.to_thread(self.context, base, llm, embeddings, run_id=run_id)
            graph_input = {"question": question}
        config = {"configurable": {"thread_id": run_id}}
        async with open_checkpointer(context.settings) as saver:
            if restart:
                await saver.adelete_thread(run_id)
            graph = self.graph.copy({"checkpointer": saver})
            if resume is not None:  # check the decision before it enters the run's history
                check_decision(await graph.aget_state(config), resume, run_id)
            started.append(True)
            # subgraphs=True: the retriever and extractor are subgraphs, and their progress events
            # only reach the caller's stream this way.
            async for _namespace, _mode, chunk in graph.astream(graph_input, config=config, context=context,
                                                                stream_mode=["custom"], subgraphs=True):
                yield "progress", chunk
            snapshot = await graph.aget_state(config)
            ended = not snapshot.next and not any(t.interrupts for t in snapshot.tasks)
            if ended and not context.settings.keep_checkpoint_history:
                await prune_history(saver, run_id)
        final = snapshot.values
        if "report" not in final:
            raise RunError(f"run {run_id} stopped before it produced a report")
        pending = [i.value for t in snapshot.tasks for i in t.interrupts]
        if pending:
            status = "PENDING_REVIEW"
            await asyncio.to_thread(store.upsert_run, run_id, question, status, final["report"].report_id)
        else:
            publication = final.get("publication")
            status = publication.status if publication is not None else "PUBLISHED"
        yield "result", ResearchResult(final["report"], final["manifest"], final["report_markdown"],
                                       final.get("tribunal_history", []), run_id, status,
                                       pending[0] if pending else None, final.get("papers", []))

    async def aresearch(self, question: str | None, *, on_progress: Callable[[dict], None] | None = None,
                        **kwargs) -> ResearchResult:
        result = None
        async for kind, payload in self.stream(question, **kwargs):
            if kind == "progress" and on_progress:
                on_progress(payload)
            elif kind == "result":
                result = payload
        assert result is not None
        return result

    def research(self, question: str, **kwargs) -> ResearchResult:
        """Synchronous ``aresearch``; also safe inside a running event loop (Jupyter)."""
        validate_question(question)  # fail fast, before any thread or loop is started
        return run_sync(self.aresearch(question, **kwargs))

    def resume(self, run_id: str, **kwargs) -> ResearchResult:
        """Finish a stopped run from its last checkpoint (finished nodes are not run again)."""
        return run_sync(self.aresearch(None, run_id=run_id, **kwargs))

    def review(self, run_id: str, action: str, *, reason: str = "", drop_claims: list[str] | None = None,
               note: str = "", **kwargs) -> ResearchResult:
        """The owner's decision on an escalated run: approve, reject (with a reason) or edit."""
        decision = {"action": action, "reason": reason, "drop_claims": drop_claims or [], "note": note}
        return run_sync(self.aresearch(None, run_id=run_id, resume=decision, **kwargs))

    def index(self, corpus: str | None = None, *, on_progress: Callable[[dict], None] | None = None,
              **settings) -> dict:
        """Build what a first run on ``corpus`` would build — its parsed PDFs, BM25 index, a library's passages
        and every paper's lead vector for the dense candidates — so the first question does not wait for it.
        Blocking; ``on_progress`` gets ``{"stage": "index", "what": "dense leads", "done", "total"}`` a chunk."""
        started = time.monotonic()
        base = Settings().with_overrides(corpus=corpus, **settings)
        res = self.workspace.resources(base)
        res.build_leads((lambda stage, **data: on_progress({"stage": stage, **data})) if on_progress
                        else (lambda stage, **data: None))
        return {"corpus": res.corpus.label, "papers": len(res.corpus.papers), "caches": str(base.caches),
                "full_texts": len(res.corpus.full_texts), "seconds": round(time.monotonic() - started, 2)}


def check_decision(snapshot, decision: dict, run_id: str) -> None:
    """Refuse a decision before it enters the run: the run must be waiting, the decision valid (the
    same check the owner_review node makes, which asks again instead of failing)."""
    if not any(t.interrupts for t in snapshot.tasks):
        raise RunError(f"run {run_id} is not waiting for the owner's review")
    decided, why = read_decision(snapshot.values, decision)
    if decided is None:
        raise RunError(f"run {run_id}: {why}")


def run_sync(coro):
    """Run a coroutine to completion from sync code, inside a running loop (a notebook) or not."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coro)
    # A loop is running (notebook): run ours in a worker thread instead of nesting loops.
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, coro).result()
