"""The workspace: the long-lived resources runs stand on, built by one explicit factory.

Corpora, indexes, embedders and caches are costly, so a ``Workspace`` builds them once and
shares them between the runs it serves. It is owned by whatever serves runs — a ``Kernel`` (the
Python API and the CLI) or the Studio graph — never by a module: two workspaces share nothing.

Resources are keyed by *content*: each run checks its corpus files' size and modification time
(a stat per file), reloads a file that changed, and keys the index, the vectors and the run's
resources by the corpus content hash. A corpus rewritten between two runs in one process is
therefore seen by the second run. Everything blocking here runs in a worker thread.
"""

from __future__ import annotations

import asyncio
import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any, Callable, Hashable, Sequence

from sovereign_kernel.domain.aspects import text_stems
from sovereign_kernel.domain.fulltext import FullText, SkippedFile
from sovereign_kernel.domain.progress import ProgressSink
from sovereign_kernel.domain.schemas import Paper, ScoredPaper
from sovereign_kernel.domain.settings import LLMSettings, RetrieverSettings, Settings
from sovereign_kernel.llm.providers import make_embeddings
from sovereign_kernel.llm.remote_embeddings import RetryingEmbeddings
from sovereign_kernel.llm.response_cache import RESPONSE_CACHE_FILE, ResponseCache
from sovereign_kernel.retrieval.bm25 import BM25Index, load_or_build_bm25
from sovereign_kernel.retrieval.cross_encoder import CrossEncoder
from sovereign_kernel.retrieval.dense import LeadIndex
from sovereign_kernel.retrieval.embeddings import LocalMiniLMEmbeddings, MiniLMTokenEncoder
from sovereign_kernel.retrieval.facets import CorpusTerms
from sovereign_kernel.retrieval.passages import PassageIndex, library_texts, load_or_build_passages
from sovereign_kernel.retrieval.vectors import Embedder, PairScoreCache, TokenVectorCache, VectorCache
from sovereign_kernel.sources.arxiv import ArxivSource, RateLimiters
from sovereign_kernel.sources.arxiv_pdf import ArxivPdfFetcher
from sovereign_kernel.sources.pdf import ParsedPdfCache, parse_library
from sovereign_kernel.sources.corpus import Corpus, corpus_fingerprint, load_corpus
from sovereign_kernel.runtime.progress import file_progress, progress
from sovereign_kernel.verification.calibration import Calibration, load_calibration
from sovereign_kernel.verification.rerank import rerank_enabled, rerank_scored
from sovereign_kernel.verification.sentence_verifier import SentenceVerifier

VECTORS_FILE = "vectors.sqlite"
PDF_CACHE_DIR = "pdf"  # parsed PDF text by file hash
ARXIV_PDF_DIR = "arxiv_pdf"  # downloaded arXiv PDFs by URL
ARXIV_CACHE_FILE = "arxiv_cache.sqlite"
# The calibrated verifier's token vectors always come from this MiniLM shape: the calibration was fit on it.
TOKEN_ENCODER_SHAPE = (256, 32)
KEEP_CORPORA = 4  # corpora (and their resources) kept per workspace, least recently used dropped first
KEEP_VERIFIED = 32  # verify results remembered (a revision round that found nothing new re-asks the same)


@dataclass
class Resources:
    """What the nodes of one run read: the corpus, its index, the vector caches, the live source."""

    corpus: Corpus
    bm25: BM25Index
    vectors: VectorCache  # the run's embedder (local MiniLM, NIM or injected) for retrieval
    embedder_id: str
    # The calibrated verifier's sentence vectors: the local MiniLM its calibration was fit with,
    # whatever embeds for retrieval (NIM cosines have another scale; fed to a MiniLM-fitted
    # calibration they would give confidences that mean nothing).
    verifier_vectors: VectorCache
    tokens: TokenVectorCache  # the verifier's token vectors (local MiniLM), on disk
    calibration: Calibration  # the calibrated verifier's (package data, read off the event loop)
    arxiv: ArxivSource | None = None  # when the run's sources include arxiv
    passages: PassageIndex | None = None  # a library's full texts, as passages (None: abstracts only)
    arxiv_pdf: ArxivPdfFetcher | None = None  # with --full-text: the kept arXiv papers' PDFs
    pdf_cache: Path | None = None  # parsed PDF text by file hash
    max_pdf_pages: int = 300

    def parse_pdfs(self, paths: Sequence[Path]) -> list[tuple[FullText | None, SkippedFile | None]]:
        """Each PDF's parsed full text, or why it was skipped (blocking: parsing is CPU work)."""
        parsed, skipped = parse_library(list(paths), ParsedPdfCache(self.pdf_cache) if self.pdf_cache else None,
                                        max_pages=self.max_pdf_pages, on_progress=file_progress("parse"))
        by_file = {p.full_text.file: (p.full_text, None) for p in parsed} | {s.file: (None, s) for s in skipped}
        return [by_file.get(Path(p).name, (None, None)) for p in paths]

    full_index: tuple[BM25Index, list[str]] | None = None  # a library's papers, each title + abstract + body
    # the trained claim-sentence verifier (lazy: loads on first use), its outputs cached on disk
    cross_encoder: CrossEncoder | PairScoreCache | None = None
    _leads: LeadIndex | None = field(default=None, repr=False)  # built on first use (``leads``)
    _leads_lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @cached_property
    def terms(self) -> CorpusTerms:
        """Which corpus papers hold which words (facets are built against it): in their title and
        abstract, or in a library read in full, anywhere in their text."""
        if self.full_index is not None:
            return CorpusTerms(self.full_index[0], self.corpus.papers, self.full_index[1])
        return CorpusTerms(self.bm25, self.corpus.papers)

    @cached_property
    def corpus_stems(self) -> set[str]:
        """Every stem in the corpus vocabulary, hyphen parts included (for aspect checks)."""
        return text_stems(" ".join(self.bm25.vocabulary))

    @property
    def leads(self) -> LeadIndex:
        """Every corpus paper's lead vector (``retrieval.dense``), by the local MiniLM whatever embeds for
        retrieval: one model for every mode, and nothing sent to a remote embedder corpus-wide."""
        return self.build_leads()

    def build_leads(self, report: ProgressSink = progress) -> LeadIndex:
        """``leads``, built once (blocking), with a heartbeat per chunk embedded through ``report`` (by
        default the run's stream). Two runs starting at once embed the corpus once."""
        with self._leads_lock:
            if self._leads is None:
                vectors = self.verifier_vectors
                self._leads = LeadIndex.build(
                    self.corpus.papers, lambda texts: vectors.embed(texts, kind="passage"), vectors.model_id,
                    on_progress=lambda done, total: report("index", what="dense leads", done=done, total=total))
            return self._leads

    def dense_candidates(self, question: str, k: int) -> list[Paper]:
        """The ``k`` corpus papers whose leads lie closest to ``question`` (blocking; ``k`` 0: none)."""
        if k <= 0:
            return []
        qvec = self.verifier_vectors.embed([question], kind="query")[0]
        return [self.corpus.papers[i] for i in self.leads.nearest(qvec, k)]

    def rerank(self, question: str, settings: RetrieverSettings) -> Callable[[list[ScoredPaper]], list[ScoredPaper]] | None:
        """The retriever's second stage for ``question`` (``verification.rerank``): the calibrated verifier
        reads the top ``rerank_depth`` candidates and reorders them; None when it is switched off."""
        if not rerank_enabled(settings):
            return None
        return lambda scored: rerank_scored(question, scored, self.reader, settings.rerank_depth, settings.rerank_beta)

    def reader(self, papers: Sequence[Paper]) -> SentenceVerifier:
        """The calibrated verifier over ``papers``, as the rerank reads them: every candidate's reading
        includes the cross-encoder (``xenc_gate`` 0), as the benches measured it."""
        return SentenceVerifier(papers, lambda texts: self.verifier_vectors.embed(texts, kind="passage"),
                                calibration=self.calibration,
                                token_encoder=self.tokens if self.calibration.uses_tokens else None,
                                cross_encoder=self.cross_encoder if self.calibration.uses_cross_encoder else None,
                                xenc_gate=0.0)


class _LRU:
    """A small thread-safe least-recently-used map."""

    def __init__(self, size: int):
        self.size, self._items, self._lock = size, OrderedDict(), threading.Lock()

    def get(self, key: Hashable) -> Any:
        with self._lock:
            if key in self._items:
                self._items.move_to_end(key)
                return self._items[key]
        return None

    def put(self, key: Hashable, value: Any) -> Any:
        with self._lock:
            self._items[key] = value
            self._items.move_to_end(key)
            while len(self._items) > self.size:
                self._items.popitem(last=False)
        return value


class Workspace:
    """Builds and shares the resources of the runs it serves (see the module doc). Thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.RLock()
        self._corpora = _LRU(KEEP_CORPORA)  # fingerprint -> Corpus
        self._resources = _LRU(KEEP_CORPORA)  # content key -> Resources
        self._embedders: dict[tuple[int, int], LocalMiniLMEmbeddings] = {}
        self._token_encoder: MiniLMTokenEncoder | None = None
        self._cross_encoder: CrossEncoder | None = None
        self._files: dict[tuple, Any] = {}  # (kind..., path) -> an open SQLite-backed cache
        self._nim_embeddings: dict[tuple, RetryingEmbeddings] = {}
        self.arxiv_limiters = RateLimiters()  # one per endpoint for all runs here: arXiv's 3 s rule
        self.verify_results = _LRU(KEEP_VERIFIED)  # verify-call key -> scored claims

    # -- per run -------------------------------------------------------------------------------
    def resources(self, settings: Settings, embeddings: Embedder | None = None) -> Resources:
        """The resources for a run with these settings (blocking: call from a worker thread)."""
        return self.resources_for(self.corpus(settings.corpus, settings), settings, embeddings)

    def resources_for(self, corpus: Corpus, settings: Settings, embeddings: Embedder | None = None) -> Resources:
        """The resources over an already loaded corpus (the evaluation builds its own from SciFact)."""
        caches = settings.caches
        caches.mkdir(parents=True, exist_ok=True)
        r = settings.retriever
        key = (corpus.content_hash, corpus.label, str(caches), r.embed_max_tokens, r.embed_batch_size,
               id(embeddings), settings.sources, settings.arxiv.model_dump_json())
        with self._lock:
            found = self._resources.get(key)
            if found is not None:
                return found
            bm25 = load_or_build_bm25(corpus.papers, corpus.content_hash, caches)
            local = self.local_embedder(r.embed_max_tokens, r.embed_batch_size)
            local_id = f"all-MiniLM-L6-v2-int8-onnx-t{r.embed_max_tokens}"
            # progress resolves the run from the calling context: one shared cache, each run its heartbeats
            verifier_vectors = self._file(("vectors", local_id), caches / VECTORS_FILE,
                                          lambda p: VectorCache(p, local, local_id, on_progress=progress,
                                                                lock_timeout=settings.cache_lock_timeout))
            if embeddings is not None:
                embedder_id = str(getattr(embeddings, "model", None) or type(embeddings).__name__)
                # Cached per endpoint too: two servers may serve different vectors under one model name
                # (a self-hosted NIM of another version, a test server), and mixing them breaks every cosine.
                endpoint = getattr(embeddings, "base_url", None)
                vectors = VectorCache(caches / VECTORS_FILE, embeddings,
                                      f"{embedder_id}@{endpoint}" if endpoint else embedder_id, on_progress=progress,
                                      lock_timeout=settings.cache_lock_timeout)
            else:
                embedder_id, vectors = local_id, verifier_vectors
            tokens = self._file(("tokens",), caches / VECTORS_FILE, lambda p: TokenVectorCache(p, self.token_encoder(),
                                                                                 settings.cache_lock_timeout))
            # the cross-encoder's outputs beside the vectors: a rerun of a question classifies no pair again
            pair_scores = self._file(("pair_scores",), caches / VECTORS_FILE,
                                     lambda p: PairScoreCache(p, self.cross_encoder(), settings.cache_lock_timeout))
            passages = units = None
            if corpus.full_texts:
                progress("index", what="passages", papers=len(corpus.full_texts))
                passages = load_or_build_passages([corpus.full_texts[k] for k in sorted(corpus.full_texts)],
                                                  corpus.content_hash, caches)
                units = library_texts(corpus.papers, corpus.full_texts, corpus.content_hash, caches)
            return self._resources.put(key, Resources(
                corpus, bm25, vectors, embedder_id, verifier_vectors, tokens, load_calibration(), self._arxiv(settings),
                passages, self._arxiv_pdf(settings), caches / PDF_CACHE_DIR, r.max_pdf_pages, units,
                pair_scores))

    def corpus(self, path: str | None, settings: Settings | None = None) -> Corpus:
        """The corpus at ``path`` (None: the bundled demo), reloaded when a file's size or mtime changed.
        A library's PDFs are parsed once: their text is cached under the settings' caches."""
        fingerprint = corpus_fingerprint(path)
        found = self._corpora.get(fingerprint)
        if found is not None:
            return found
        pdf_cache = settings.caches / PDF_CACHE_DIR if settings is not None else None
        max_pages = settings.retriever.max_pdf_pages if settings is not None else 300
        return self._corpora.put(fingerprint, load_corpus(
            path, pdf_cache=pdf_cache, max_pdf_pages=max_pages,
            on_progress=file_progress("parse")))

    # -- models and files ----------------------------------------------------------------------
    def local_embedder(self, max_tokens: int = 256, batch_size: int = 32) -> LocalMiniLMEmbeddings:
        """The local MiniLM for this shape (loads its ONNX model on first use)."""
        with self._lock:
            key = (max_tokens, batch_size)
            if key not in self._embedders:
                self._embedders[key] = LocalMiniLMEmbeddings(max_length=max_tokens, batch_size=batch_size)
            return self._embedders[key]

    def token_encoder(self) -> MiniLMTokenEncoder:
        with self._lock:
            if self._token_encoder is None:
                self._token_encoder = MiniLMTokenEncoder(self.local_embedder(*TOKEN_ENCODER_SHAPE))
            return self._token_encoder

    def cross_encoder(self) -> CrossEncoder:
        """The trained verifier, one per workspace (its ONNX session loads on first use)."""
        with self._lock:
            if self._cross_encoder is None:
                self._cross_encoder = CrossEncoder()
            return self._cross_encoder

    def response_cache(self, home: Path) -> ResponseCache:
        """The LLM response cache of a data dir (one connection per file; blocking on first use)."""
        return self._file(("responses",), Path(home) / RESPONSE_CACHE_FILE, ResponseCache)

    def nim_embeddings(self, llm: LLMSettings) -> RetryingEmbeddings:
        """One NIM embeddings client per endpoint, model and key, so resources keyed by the
        embeddings object are reused across runs. The key stays in the client's memory only."""
        key = (llm.embed_model, llm.embed_base_url or llm.nim_base_url, llm.api_key, llm.timeout_s, llm.max_retries,
               llm.backoff_initial_s, llm.backoff_max_s)
        with self._lock:
            if key not in self._nim_embeddings:
                self._nim_embeddings[key] = RetryingEmbeddings(make_embeddings(llm), llm)
            return self._nim_embeddings[key]

    def _file(self, kind: tuple, path: Path, open_: Any) -> Any:
        with self._lock:
            key = (*kind, path)
            if key not in self._files:
                self._files[key] = open_(path)
            return self._files[key]

    def _arxiv(self, settings: Settings) -> ArxivSource | None:
        if "arxiv" not in settings.source_list:
            return None
        a = settings.arxiv
        return ArxivSource(url=a.url, cache_path=settings.caches / ARXIV_CACHE_FILE, ttl_seconds=a.cache_ttl,
                           min_interval=a.min_interval, max_retries=a.max_retries, cache_only=a.cache_only,
                           limiters=self.arxiv_limiters, on_progress=progress)

    def _arxiv_pdf(self, settings: Settings) -> ArxivPdfFetcher | None:
        a = settings.arxiv
        if "arxiv" not in settings.source_list or not a.full_text:
            return None
        return ArxivPdfFetcher(url=a.pdf_url, cache_dir=settings.caches / ARXIV_PDF_DIR, limiters=self.arxiv_limiters,
                               min_interval=a.min_interval, max_retries=a.max_retries, cache_only=a.cache_only,
                               on_progress=progress)

    def close(self) -> None:
        """Close every file this workspace opened; runs still using it would fail."""
        with self._lock:
            for cache in self._files.values():
                cache.close()
            self._files.clear()


class ResourceSlot:
    """A run's resources, resolved once per run (the first node that asks does the stat and the
    build in a worker thread; parallel branches asking meanwhile wait for the same result)."""

    def __init__(self) -> None:
        self._task: asyncio.Future | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    async def get(self, workspace: Workspace, settings: Settings, embeddings: Any) -> Resources:
        task, loop = self._task, asyncio.get_running_loop()
        if task is not None and task.done() and not task.cancelled() and task.exception() is None:
            return task.result()
        if task is None or self._loop is not loop or task.done():  # first ask, another loop, or a failed try
            self._task = task = asyncio.ensure_future(asyncio.to_thread(workspace.resources, settings, embeddings))
            self._loop = loop
        return await asyncio.shield(task)
