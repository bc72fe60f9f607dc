"""Progress events on LangGraph's custom stream: the CLI's live line, notebooks and Studio show them."""

from __future__ import annotations

from langgraph.config import get_stream_writer


def progress(stage: str, **data) -> None:
    """Emit ``{"stage": stage, **data}`` on the run's custom stream (a no-op outside a graph run)."""
    try:
        writer = get_stream_writer()
    except RuntimeError:  # outside a graph run, e.g. a unit test calling a node's helper directly
        return
    writer({"stage": stage, **data})
