"""Run context and the heavy, shared resources the nodes stand on.

The context (settings + optional injected models) travels with each graph run as LangGraph's
runtime context, never in the checkpointed state. Corpora, indexes and embedders are costly,
so they are built once per process and shared by every run that asks for the same ones.
"""

from __future__ import annotations

import asyncio
import threading
from dataclasses import dataclass, field
from functools import cached_property, lru_cache
from pathlib import Path
from typing import Any

from sovereign_kernel.domain.aspects import text_stems
from sovereign_kernel.sources.corpus import Corpus, load_corpus
from sovereign_kernel.retrieval.index import BM25Index, Embedder, TokenVectorCache, VectorCache, load_or_build_bm25
from sovereign_kernel.domain.settings import Settings


@dataclass
class RunContext:
    """LangGraph runtime context of one run (``context_schema`` of the graph).

    ``llm_session`` (``sovereign_kernel.llm.session.LLMSession``) is set in ``nim`` and ``custom`` mode and
    None offline: agents use their LLM variant when it is set. It holds the key (via its clients),
    counters and the response cache, so it lives here, never in the checkpointed state.
    """

    settings: Settings = field(default_factory=Settings)
    llm: Any = None
    embeddings: Any = None
    replay: bool = False  # a reproduction-gate replay: compute everything, write nothing to the store
    llm_session: Any = None


@dataclass
class Resources:
    corpus: Corpus
    bm25: BM25Index
    vectors: VectorCache
    embedder_id: str
    arxiv: object | None = None  # ArxivSource when the run's sources include arxiv
    home: Path | None = None  # the data directory: on-disk caches live there
    # The calibrated verifier's sentence vectors: the local MiniLM its calibration was fit with,
    # whatever embeds for retrieval (NIM cosines have another scale; fed to a MiniLM-fitted
    # calibration they would give confidences that mean nothing). None: ``vectors`` is that MiniLM.
    local_vectors: VectorCache | None = None
    _tokens: TokenVectorCache | None = field(default=None, repr=False)

    @property
    def tokens(self) -> TokenVectorCache:
        """The verifier's token vectors (local MiniLM, loaded on first miss), cached on disk."""
        from sovereign_kernel.verification.verifier import default_token_encoder

        with _tokens_lock:
            if self._tokens is None:
                self._tokens = TokenVectorCache(self.home / "vectors.sqlite", default_token_encoder())
            return self._tokens

    @property
    def verifier_vectors(self) -> VectorCache:
        return self.local_vectors or self.vectors

    def close(self) -> None:
        self.vectors.close()
        if self.local_vectors is not None:
            self.local_vectors.close()
        if self._tokens is not None:
            self._tokens.close()

    @cached_property
    def corpus_stems(self) -> set[str]:
        """Every stem in the corpus vocabulary, hyphen parts included (for aspect checks)."""
        return text_stems(" ".join(self.bm25.vocabulary))


_cache: dict[tuple, Resources] = {}
_lock = threading.Lock()
_tokens_lock = threading.Lock()


@lru_cache(maxsize=4)
def _offline_embedder(max_tokens: int, batch_size: int) -> tuple[Embedder, str]:
    """One MiniLM session per process and shape: every run and data directory shares it."""
    from sovereign_kernel.retrieval.embeddings import LocalMiniLMEmbeddings

    embedder = LocalMiniLMEmbeddings(max_length=max_tokens, batch_size=batch_size)
    return embedder, f"all-MiniLM-L6-v2-int8-onnx-t{max_tokens}"


def _arxiv_source(settings: Settings):
    if "arxiv" not in settings.source_list:
        return None
    from sovereign_kernel.sources.arxiv import ArxivSource

    return ArxivSource(
        url=settings.arxiv_url, cache_path=settings.resolved_home() / "arxiv_cache.sqlite",
        ttl_seconds=settings.arxiv_cache_ttl, min_interval=settings.arxiv_min_interval,
        max_retries=settings.arxiv_max_retries, cache_only=settings.arxiv_cache_only,
    )


def _key(context: RunContext) -> tuple:
    settings = context.settings
    return (settings.corpus, str(settings.resolved_home()), settings.embed_max_tokens, id(context.embeddings),
            settings.sources, settings.arxiv_url, settings.arxiv_cache_only, settings.arxiv_min_interval)


def get_resources(context: RunContext) -> Resources:
    """Corpus + BM25 index + vector cache for this context (blocking; call via a thread)."""
    settings = context.settings
    key = _key(context)
    with _lock:
        if key in _cache:
            return _cache[key]
        corpus = load_corpus(settings.corpus)
        bm25 = load_or_build_bm25(corpus.papers, corpus.content_hash, settings.resolved_home())
        local, local_id = _offline_embedder(settings.embed_max_tokens, settings.embed_batch_size)  # loads lazily
        path = settings.resolved_home() / "vectors.sqlite"
        local_vectors = None
        if context.embeddings is not None:
            embedder = context.embeddings
            embedder_id = getattr(embedder, "model", None) or type(embedder).__name__
            local_vectors = VectorCache(path, local, local_id)
        else:
            embedder, embedder_id = local, local_id
        vectors = VectorCache(path, embedder, str(embedder_id))
        res = Resources(corpus, bm25, vectors, str(embedder_id), _arxiv_source(settings), settings.resolved_home(),
                        local_vectors)
        _cache[key] = res
        return res


async def aget_resources(context: RunContext) -> Resources:
    # Already built (every node after the first): no thread hop, which under load queues behind
    # CPU-bound work in the default executor and delays the node's LLM requests.
    if _lock.acquire(blocking=False):
        try:
            res = _cache.get(_key(context))
        finally:
            _lock.release()
        if res is not None:
            return res
    return await asyncio.to_thread(get_resources, context)


def clear_resource_cache() -> None:
    with _lock:
        for res in _cache.values():
            res.close()
        _cache.clear()
