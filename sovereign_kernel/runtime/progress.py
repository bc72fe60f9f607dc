"""Progress events on LangGraph's custom stream: the CLI's live line, notebooks and Studio show them.

Lower layers (retrieval, sources) cannot import this module: their long steps take a
``domain.progress.ProgressSink``, and the workspace hands them ``progress`` (see there).
"""

from __future__ import annotations

from collections.abc import Callable

from langgraph.config import get_stream_writer

from sovereign_kernel.domain.progress import StepProgress


def progress(stage: str, **data) -> None:
    """Emit ``{"stage": stage, **data}`` on the run's custom stream (a no-op outside a graph run).
    The run is found from the calling context, so worker threads started with ``asyncio.to_thread``
    (which copies it) report to the run that started them."""
    try:
        writer = get_stream_writer()
    except RuntimeError:  # outside a graph run, e.g. a unit test calling a node's helper directly
        return
    writer({"stage": stage, **data})


def file_progress(stage: str) -> Callable[[int, int, str], None]:
    """An ``on_progress(done, total, file_name)`` for a step over files (parsing PDFs): its first file
    shows at once, then one heartbeat a second at most, and the last (``done == total``)."""
    steps: list[StepProgress] = []  # the step, made when its total is first known

    def on_progress(done: int, total: int, name: str) -> None:
        if not steps:
            steps.append(StepProgress(progress, stage, total, first_after=0))
        steps[0].update(done, file=name)
        if done >= total:
            steps[0].finish()

    return on_progress
