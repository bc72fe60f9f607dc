"""Public Python API: ``research``, ``aresearch``, ``stream_events``, ``build_graph``."""

from __future__ import annotations

import asyncio
import concurrent.futures
import json
from pathlib import Path
from typing import Any, AsyncIterator, Callable

from sovereign_kernel.graph.build import build_graph
from sovereign_kernel.resources import RunContext
from sovereign_kernel.schemas import Report
from sovereign_kernel.settings import MAX_QUESTION_CHARS, MIN_QUESTION_WORDS, Settings
from sovereign_kernel.text import content_tokens

__all__ = ["research", "aresearch", "stream_events", "build_graph", "ResearchResult", "InvalidQuestionError"]


class InvalidQuestionError(ValueError):
    """The question cannot be researched (empty, too long, or without content words)."""


class ResearchResult:
    """A finished run: the ``Report``, its manifest and its Markdown, ready to write."""

    def __init__(self, report: Report, manifest: dict, markdown: str, tribunal_history: list | None = None):
        self.report = report
        self.manifest = manifest
        self.markdown = markdown
        self.tribunal_history = tribunal_history or []

    def write(self, out_dir: str | Path) -> tuple[Path, Path]:
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        md, mf = out / "report.md", out / "manifest.json"
        _atomic_write(md, self.markdown)
        _atomic_write(mf, json.dumps(self.manifest, indent=2, ensure_ascii=False) + "\n")
        return md, mf

    def to_json(self) -> dict:
        return self.report.model_dump(mode="json")

    def _repr_markdown_(self) -> str:
        return self.markdown

    def __repr__(self) -> str:
        r = self.report
        return (f"ResearchResult({r.report_id}: {r.results.claims_verified}/{r.results.claims_extracted} claims "
                f"verified, tribunal {r.results.tribunal_score:.1f}, {r.quality_tier})")


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


async def stream_events(question: str, *, settings: Settings | None = None, llm=None, embeddings=None,
                        graph=None, config: dict | None = None, **overrides) -> AsyncIterator[tuple[str, Any]]:
    """Yield ``("progress", event)`` while the graph runs, then ``("result", ResearchResult)``."""
    q = validate_question(question)
    context = make_context(settings, llm, embeddings, **overrides)
    graph = graph or build_graph()
    final: dict = {}
    # subgraphs=True: the retriever and extractor are subgraphs, and their progress events
    # only reach the caller's stream this way.
    async for namespace, mode, chunk in graph.astream({"question": q}, config=config, context=context,
                                                      stream_mode=["custom", "values"], subgraphs=True):
        if mode == "custom":
            yield "progress", chunk
        elif not namespace:  # the parent graph's state, not a subgraph's
            final = chunk
    if "report" not in final:
        raise RuntimeError("the run ended without a report")
    yield "result", ResearchResult(final["report"], final["manifest"], final["report_markdown"],
                                   final.get("tribunal_history", []))


async def aresearch(question: str, *, on_progress: Callable[[dict], None] | None = None, **kwargs) -> ResearchResult:
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
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(aresearch(question, **kwargs))
    # A loop is running (notebook): run ours in a worker thread instead of nesting loops.
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, aresearch(question, **kwargs)).result()


def _atomic_write(path: Path, text: str) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(path)
