"""The public Python API: ``research``, ``aresearch``, ``stream``, ``resume``, ``review``, ``build_graph``.

Each function serves its call with a fresh ``Kernel`` and closes it after, like ``httpx.get``
does with a client: nothing is kept between calls. To run several questions in one process
without reloading the corpus, index and models, hold a ``Kernel``::

    from sovereign_kernel import Kernel
    with Kernel() as kernel:
        kernel.research(q1); kernel.research(q2, max_papers=5)
"""

from __future__ import annotations

from typing import Any, AsyncIterator, Callable

from sovereign_kernel.app.kernel import Kernel, validate_question
from sovereign_kernel.app.result import ResearchResult
from sovereign_kernel.domain.errors import InvalidQuestionError
from sovereign_kernel.graph.build import build_graph

__all__ = ["research", "aresearch", "resume", "review", "stream", "stream_events", "build_graph", "ResearchResult",
           "InvalidQuestionError", "Kernel"]


async def stream_events(question: str | None = None, **kwargs) -> AsyncIterator[tuple[str, Any]]:
    """Yield ``("progress", event)`` while the graph runs, then ``("result", ResearchResult)``
    (arguments: ``Kernel.stream``)."""
    with Kernel() as kernel:
        async for item in kernel.stream(question, **kwargs):
            yield item


stream = stream_events  # the name for it: events, then the result


async def aresearch(question: str | None, *, on_progress: Callable[[dict], None] | None = None,
                    **kwargs) -> ResearchResult:
    with Kernel() as kernel:
        return await kernel.aresearch(question, on_progress=on_progress, **kwargs)


def research(question: str, **kwargs) -> ResearchResult:
    """Synchronous ``aresearch``; also safe inside a running event loop (Jupyter)."""
    validate_question(question)  # fail fast, before anything is built
    with Kernel() as kernel:
        return kernel.research(question, **kwargs)


def resume(run_id: str, **kwargs) -> ResearchResult:
    """Finish a stopped run from its last checkpoint (finished nodes are not run again)."""
    with Kernel() as kernel:
        return kernel.resume(run_id, **kwargs)


def review(run_id: str, action: str, **kwargs) -> ResearchResult:
    """The owner's decision on an escalated run: ``approve``, ``reject`` (with ``reason=``) or ``edit``
    (``drop_claims=[...]``, ``note=``)."""
    with Kernel() as kernel:
        return kernel.review(run_id, action, **kwargs)
