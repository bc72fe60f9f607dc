"""The research graph as LangGraph Studio / ``langgraph dev`` serves it (see ``langgraph.json``).

The server hands a run's context to the graph as a plain JSON object and builds the graph's
context schema from it (``context_schema(**context)``); its form in Studio lists the schema's
top-level fields, and keys outside them are dropped. So the Studio context is *flat*: every
setting by its flat name (``corpus``, ``max_papers``, ``relevance_gate``, ``arxiv_url``, …),
generated from ``Settings`` so the two never drift, e.g. ``{"corpus": "/abs/path/papers.jsonl",
"max_papers": 5}``. Unset fields fall back to ``SOVEREIGN_*`` environment variables and then to
the defaults, exactly as ``Settings()`` does. Studio runs are offline (no model objects can come
through JSON), so the ``llm`` group is not in the form.

``make_graph`` builds one ``Workspace`` for the graph it returns: every Studio run of this server
shares its loaded corpora, index and models, and nothing else does.
"""

from __future__ import annotations

from typing import Any, ClassVar

from langgraph.graph.state import CompiledStateGraph
from pydantic import PrivateAttr, create_model
from pydantic_settings import BaseSettings, SettingsConfigDict

from sovereign_kernel.domain.settings import FLAT_NAMES, GROUPS, Settings
from sovereign_kernel.graph.build import build_graph
from sovereign_kernel.runtime.run_vectors import RunVectors
from sovereign_kernel.runtime.workspace import Resources, ResourceSlot, Workspace

__all__ = ["StudioContext", "graph", "make_graph"]

_NOT_IN_FORM = frozenset({"postgres_url"})  # secrets: environment only


def _studio_fields() -> dict[str, Any]:
    """Every setting a Studio user may set per run, by flat name, with its type, default and description."""
    fields: dict[str, Any] = {}
    for name, (group, field) in FLAT_NAMES.items():
        if group == "llm" or name in _NOT_IN_FORM:
            continue
        info = (GROUPS[group] if group else Settings).model_fields[field]
        fields[name] = (info.annotation, info)
    return fields


class _StudioBase(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="SOVEREIGN_", extra="ignore")


class StudioContext(create_model("StudioSettings", __base__=_StudioBase, **_studio_fields())):
    """Run context for the LangGraph server: the run's settings, flat (offline mode; no injected models).

    It answers what nodes read from a ``RunContext``: ``settings``, ``workspace``, ``mode``,
    ``embeddings``, ``llm_session``, ``replay``, ``aresources()`` and ``vectors()``.
    """

    workspace: ClassVar[Workspace | None] = None  # set by make_graph on the subclass it makes
    mode: ClassVar[str] = "offline"
    embeddings: ClassVar[None] = None
    llm_session: ClassVar[None] = None
    replay: ClassVar[bool] = False
    _settings: Settings | None = PrivateAttr(None)
    _resources: ResourceSlot = PrivateAttr(default_factory=ResourceSlot)

    @property
    def settings(self) -> Settings:
        if self._settings is None:
            self._settings = Settings(**{name: getattr(self, name) for name in type(self).model_fields})
        return self._settings

    async def aresources(self) -> Resources:
        return await self._resources.get(self.workspace, self.settings, None)

    def vectors(self, res: Resources) -> RunVectors:
        """The run's vectors: offline, the local MiniLM's (nothing to switch from)."""
        return RunVectors(res.vectors, res.verifier_vectors, None)


def make_graph(workspace: Workspace | None = None, checkpointer=None) -> CompiledStateGraph:
    """``build_graph()`` with a flat Studio context bound to ``workspace`` (a new one by default).

    The subgraphs keep ``RunContext`` as their declared schema: they receive the parent's
    context object unchanged, and only read what both context types provide.
    """
    bound = workspace or Workspace()

    class BoundStudioContext(StudioContext):
        workspace: ClassVar[Workspace | None] = bound

    BoundStudioContext.__name__ = BoundStudioContext.__qualname__ = "StudioContext"
    return build_graph(checkpointer=checkpointer).copy(update={"context_schema": BoundStudioContext})


# The server supplies its own checkpointer and store; this module-level graph has neither.
graph = make_graph()
