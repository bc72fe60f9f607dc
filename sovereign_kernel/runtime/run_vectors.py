"""One run's retrieval vectors: the configured embedder's until it fails, then the local MiniLM's.

A remote embedder (NIM, or one injected in custom mode) that cannot embed — retries exhausted,
refused, or the token budget spent — raises ``EmbeddingsUnavailable``. Instead of ending the run,
``RunVectors`` switches *this run* to the local MiniLM for the rest of it (the shared embedder
and other runs are untouched), records the switch in the run's meter (manifest, uncertainties;
the meter's snapshot makes a resumed run keep the switch) and redoes the computation that
failed with the local model.

Vectors of two models must never meet in one comparison, so every computation that embeds runs
through ``consistent(fn)``: ``fn`` gets one model's vectors for all its calls; when they fail
part-way, its partial results are dropped and ``fn`` runs again, wholly on the local model. Each
result a run keeps was therefore computed within one model; vectors are cached per model id.
"""

from __future__ import annotations

import threading
from typing import Callable, Sequence, TypeVar

import numpy as np

from sovereign_kernel.llm.remote_embeddings import EmbeddingsUnavailable
from sovereign_kernel.llm.usage import UsageMeter, metering_embeddings
from sovereign_kernel.retrieval.vectors import VectorCache

T = TypeVar("T")


class _Metered:
    """A vector cache whose embedder's requests report to the run's meter (in the calling thread)."""

    def __init__(self, cache: VectorCache, meter: UsageMeter | None):
        self.cache, self.meter = cache, meter
        self.model_id = cache.model_id

    def embed(self, texts: Sequence[str], kind: str = "passage") -> np.ndarray:
        with metering_embeddings(self.meter):
            return self.cache.embed(texts, kind=kind)


class RunVectors:
    """See the module doc. ``primary``: the configured embedder's cache; ``local``: the local MiniLM's
    (the same object offline: nothing to switch); ``on_switch``: called once after a switch."""

    def __init__(self, primary: VectorCache, local: VectorCache, meter: UsageMeter | None,
                 on_switch: Callable[[], None] | None = None):
        self.primary, self.local, self.meter = primary, local, meter
        self.remote = primary is not local
        self._on_switch = on_switch
        self._lock = threading.Lock()
        self._switched = False
        if self.remote and meter is not None:
            meter.embedding_model(str(getattr(primary.embedder, "model", None) or primary.model_id))
            self._switched = meter.embedder_fallback is not None  # a resumed run that had switched

    @property
    def switched(self) -> bool:
        with self._lock:
            return self._switched

    @property
    def model_id(self) -> str:
        """The model whose vectors this run's computations get now."""
        return self.current().model_id

    def current(self):
        if not self.remote or self.switched:
            return self.local
        return _Metered(self.primary, self.meter)

    def consistent(self, fn: Callable[[object], T], stage: str) -> T:
        """``fn(vectors)`` on one model's vectors; redone on the local model when the remote one
        fails part-way (``stage`` names where, for the record). Blocking: call from a worker thread."""
        vectors = self.current()
        if vectors is self.local:
            return fn(vectors)
        try:
            return fn(vectors)
        except EmbeddingsUnavailable as exc:
            self.switch(str(exc), stage)
            return fn(self.local)

    def switch(self, reason: str, stage: str) -> None:
        """Use the local model for the rest of the run, recorded once with ``reason`` and ``stage``."""
        with self._lock:
            if self._switched:
                return
            self._switched = True
        recorded = self.meter.embedding_fallback(self.local.model_id, reason, stage) if self.meter else True
        if recorded and self._on_switch is not None:
            self._on_switch()
