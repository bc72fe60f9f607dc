"""SOVEREIGN Research Kernel: a research question in, an audited literature synthesis out.

The public API (imported lazily, so ``import sovereign_kernel.domain.schemas`` builds no graph)::

    from sovereign_kernel import research, Kernel
    result = research("How vulnerable is CLIP to typographic attacks?")   # a fresh Kernel per call
    with Kernel() as kernel:                                             # corpora and models kept
        kernel.research("…", max_papers=5)

Errors are one tree under ``SovereignError`` (see ``sovereign_kernel.domain.errors``).

The layers, top to bottom (an import-linter contract in pyproject.toml enforces them):
``app`` → ``graph`` → ``agents`` → ``graph.state`` / ``prompts`` → ``runtime`` → ``publishing`` | ``llm``
→ ``tribunal`` → ``synthesis`` | ``verification`` → ``retrieval`` | ``sources`` → ``domain``.
"""

from __future__ import annotations

from importlib import import_module
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

# name -> module that defines it
_EXPORTS = MappingProxyType({
    "research": "sovereign_kernel.app.api", "aresearch": "sovereign_kernel.app.api",
    "stream": "sovereign_kernel.app.api", "stream_events": "sovereign_kernel.app.api",
    "resume": "sovereign_kernel.app.api", "review": "sovereign_kernel.app.api",
    "build_graph": "sovereign_kernel.graph.build", "Kernel": "sovereign_kernel.app.kernel",
    "ResearchResult": "sovereign_kernel.app.result", "Settings": "sovereign_kernel.domain.settings",
    "LLMSettings": "sovereign_kernel.domain.settings", "Workspace": "sovereign_kernel.runtime.workspace",
    "SovereignError": "sovereign_kernel.domain.errors", "InvalidQuestionError": "sovereign_kernel.domain.errors",
    "RunError": "sovereign_kernel.domain.errors", "CorpusError": "sovereign_kernel.domain.errors",
    "SourceError": "sovereign_kernel.domain.errors", "SourceUnavailableError": "sovereign_kernel.domain.errors",
    "StoreError": "sovereign_kernel.domain.errors", "EvalError": "sovereign_kernel.domain.errors",
})
__all__ = [*_EXPORTS, "__version__"]

if TYPE_CHECKING:  # pragma: no cover
    from sovereign_kernel.app.api import aresearch, research, resume, review, stream, stream_events
    from sovereign_kernel.app.kernel import Kernel
    from sovereign_kernel.app.result import ResearchResult
    from sovereign_kernel.domain.errors import (
        CorpusError,
        EvalError,
        InvalidQuestionError,
        RunError,
        SourceError,
        SourceUnavailableError,
        SovereignError,
        StoreError,
    )
    from sovereign_kernel.domain.settings import LLMSettings, Settings
    from sovereign_kernel.graph.build import build_graph
    from sovereign_kernel.runtime.workspace import Workspace


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'sovereign_kernel' has no attribute {name!r}")
