"""The research graph as LangGraph Studio / ``langgraph dev`` serves it (see ``langgraph.json``).

The server hands a run's context to the graph as a plain JSON object and builds the graph's
context schema from it (``context_schema(**context)``); its form in Studio lists the schema's
top-level fields, and keys outside them are dropped. ``RunContext`` nests a ``Settings`` object
(and holds Python-only ``llm``/``embeddings``), so here the context is *flat*: ``StudioContext``
is the ``Settings`` model itself, every setting a field Studio can edit per assistant or per
run, e.g. ``{"corpus": "/abs/path/papers.jsonl", "max_papers": 5}``. Unset fields fall back to
``SOVEREIGN_*`` environment variables and then to the defaults, exactly as ``Settings()`` does.

It exposes every attribute nodes read from a ``RunContext`` (``settings``, ``llm``, ``embeddings``,
``replay``), so the same compiled graph runs with either context.
"""

from __future__ import annotations

from dataclasses import MISSING, fields
from pathlib import Path

from sovereign_kernel.graph.build import build_graph
from sovereign_kernel.runtime.resources import RunContext
from sovereign_kernel.domain.settings import Settings

__all__ = ["StudioContext", "graph", "make_graph"]


class StudioContext(Settings):
    """Run context for the LangGraph server: the run's settings, flat (offline mode; no injected models).

    Every other ``RunContext`` field (``llm``, ``embeddings``, ``replay``, …) reads as its default,
    so the server cannot be handed Python objects through JSON.
    """

    @property
    def settings(self) -> Settings:
        return self

    def resolved_home(self) -> Path:
        """``Settings.resolved_home`` without an ``os.mkdir`` on every call: a node may call it on the
        event loop, where ``langgraph dev`` (blockbuster) refuses blocking calls; ``os.stat`` is fine."""
        path = Path(self.home).expanduser()
        if not path.is_dir():
            path.mkdir(parents=True, exist_ok=True)
        return path


def _runcontext_defaults() -> None:
    for f in fields(RunContext):
        if f.name == "settings" or hasattr(StudioContext, f.name):
            continue
        default = f.default if f.default is not MISSING else f.default_factory()  # type: ignore[misc]
        setattr(StudioContext, f.name, property(lambda self, _value=default: _value, doc=f"RunContext.{f.name} default"))


_runcontext_defaults()


def make_graph(checkpointer=None):
    """``build_graph()`` with the flat ``StudioContext`` as its context schema.

    The subgraphs keep ``RunContext`` as their declared schema: they receive the parent's
    context object unchanged, and only read ``settings``/``llm``/``embeddings`` from it.
    """
    compiled = build_graph(checkpointer=checkpointer)
    return compiled.copy(update={"context_schema": StudioContext})


# The server supplies its own checkpointer and store; this module-level graph has neither.
graph = make_graph()
