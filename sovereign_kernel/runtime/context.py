"""The run context: what one graph run is configured with and stands on.

It travels with the run as LangGraph's runtime context (``context_schema`` of the graph), never in
the checkpointed state: it holds the settings, the workspace that builds the resources, and — in
``nim`` and ``custom`` mode — the LLM session with its clients, counters and response cache.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any

from sovereign_kernel.domain.schemas import Mode
from sovereign_kernel.domain.settings import Settings
from sovereign_kernel.llm.session import LLMSession
from sovereign_kernel.llm.usage import UsageMeter
from sovereign_kernel.runtime.run_vectors import RunVectors
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
    _vectors: RunVectors | None = field(default=None, repr=False)
    _own_meter: UsageMeter | None = field(default=None, repr=False)
    _lock: Any = field(default_factory=threading.RLock, repr=False)

    async def aresources(self) -> Resources:
        """This run's resources: built (or found) once, in a worker thread, by the workspace."""
        return await self._resources.get(self.workspace, self.settings, self.embeddings)

    @property
    def meter(self) -> UsageMeter:
        """Where the run's model usage is counted: the LLM session's meter, or (embeddings without a
        chat model) one of the run's own."""
        if self.llm_session is not None:
            return self.llm_session.meter
        with self._lock:
            if self._own_meter is None:
                self._own_meter = UsageMeter(self.settings.llm.token_budget, self.settings.llm.secrets())
            return self._own_meter

    def vectors(self, res: Resources) -> RunVectors:
        """The run's retrieval vectors (``runtime.run_vectors``): the configured embedder's until it
        fails, then the local MiniLM's. Use ``.consistent(fn, stage)`` for every computation."""
        with self._lock:
            if self._vectors is None:
                save = self.llm_session.save_usage if self.llm_session is not None else None
                self._vectors = RunVectors(res.vectors, res.verifier_vectors, self.meter
                                           if res.vectors is not res.verifier_vectors else None, save)
            return self._vectors
