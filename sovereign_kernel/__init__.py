"""SOVEREIGN Research Kernel: a research question in, an audited literature synthesis out.

Public API (imported lazily so ``import sovereign_kernel.domain.schemas`` does not build the graph)::

    from sovereign_kernel import research, aresearch, build_graph
    report = research("How vulnerable is CLIP to typographic attacks?")
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"
__all__ = ["research", "aresearch", "stream", "resume", "review", "build_graph", "ResearchResult", "Settings",
           "__version__"]

if TYPE_CHECKING:  # pragma: no cover
    from sovereign_kernel.app.api import ResearchResult, aresearch, build_graph, research, resume, review, stream
    from sovereign_kernel.domain.settings import Settings


def __getattr__(name: str) -> Any:
    if name in {"research", "aresearch", "stream", "resume", "review", "build_graph", "ResearchResult"}:
        from sovereign_kernel.app import api

        return getattr(api, name)
    if name == "Settings":
        from sovereign_kernel.domain.settings import Settings

        return Settings
    raise AttributeError(f"module 'sovereign_kernel' has no attribute {name!r}")
