"""The run context: what one graph run is configured with and stands on.

It travels with the run as LangGraph's runtime context (``context_schema`` of the graph), never in
the checkpointed state: it holds the settings, the workspace that builds the resources, and — in
``nim`` and ``custom`` mode — the LLM session with its clients, counters and response cache.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sovereign_kernel.domain.schemas import Mode
from sovereign_kernel.domain.settings import Settings
from sovereign_kernel.llm.session import LLMSession
from sovereign_kernel.runtime.workspace import Resources, ResourceSlot, Workspace


@dataclass
class RunContext:
    """One run's context. ``llm_session`` is None offline: agents then run their offline algorithm."""

    settings: Settings
    workspace: Workspace
    mode: Mode = "offline"
    embeddings: Any = None  # an injected LangChain embeddings object (custom mode) or NIM's; None: local MiniLM
    llm_session: LLMSession | None = None
    replay: bool = False  # a reproduction-gate replay: compute everything, write nothing to the store
    _resources: ResourceSlot = field(default_factory=ResourceSlot, repr=False)

    async def aresources(self) -> Resources:
        """This run's resources: built (or found) once, in a worker thread, by the workspace."""
        return await self._resources.get(self.workspace, self.settings, self.embeddings)
