"""The arXiv API as a paper source: abstracts (never PDFs) mapped to :class:`Paper`.

arXiv's terms: at most one request every 3 s and one connection at a time. The real ``arxiv``
client builds URLs, pages and parses Atom; this module adds a rate limiter per endpoint, shared
by every source of one workspace (``RateLimiters``), that every HTTP request (pages, retries) passes through, bounded status-aware
retries with backoff, an SQLite cache with TTL and a cache-only mode, and errors the caller can
act on: :class:`SourceUnavailableError` (fall back to the local corpus) and
:class:`ArxivQueryError` (arXiv rejected the query; retrying will not help).
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import html
import json
import logging
import os
import re
import sqlite3
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from urllib.parse import urlsplit

import arxiv
import requests

from sovereign_kernel.domain.errors import ArxivQueryError, SourceError, SourceUnavailableError
from sovereign_kernel.domain.ids import paper_content_hash, split_arxiv_version
from sovereign_kernel.domain.progress import ProgressSink, wait_beating
from sovereign_kernel.domain.schemas import Paper
from sovereign_kernel.sources.corpus import normalise_whitespace
from sovereign_kernel.sources.latex_text import latex_to_text
from sovereign_kernel.sources.venue import paper_venue

logger = logging.getLogger(__name__)

URL_ENV = "SOVEREIGN_ARXIV_URL"
DEFAULT_ARXIV_URL = "https://export.arxiv.org/api/query"
_RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
_MAX_RETRY_AFTER = 60.0  # never let a server's Retry-After park a run for longer
_CACHE_FORMAT = "arxiv-papers-v2"  # bump when the mapping changes: old rows become misses (v2: venue)
_SUMMARY_RE = re.compile(r"<summary[^>]*>(.*?)</summary>", re.S)


ArxivSourceError = SourceError  # the arXiv source's errors: SourceUnavailableError, ArxivQueryError


class RateLimiter:
    """>= ``min_interval`` between request starts and at most one request in flight.

    Thread-safe and not bound to one event loop (each ``asyncio.run`` makes a new loop, and a
    process may run several), so it really is process-wide. Waiters are served FIFO; the slot
    is handed over directly on release so nobody can barge in between.
    """

    def __init__(self) -> None:
        self._mutex = threading.Lock()
        self._busy = False
        self._waiters: collections.deque[tuple[asyncio.AbstractEventLoop, asyncio.Future]] = collections.deque()
        self._last_start: float | None = None
        self.starts: list[float] = []  # time.monotonic() of every request start, for tests/audit

    async def acquire(self, min_interval: float) -> None:
        """Wait for the slot and the spacing. Then call ``started()`` when sending, ``release()`` after."""
        loop = asyncio.get_running_loop()
        with self._mutex:
            waiter = None
            if self._busy or self._waiters:
                waiter = (loop, loop.create_future())
                self._waiters.append(waiter)
            else:
                self._busy = True
        if waiter is not None:
            try:
                await waiter[1]
            except asyncio.CancelledError:
                with self._mutex:
                    if waiter in self._waiters:  # not handed the slot yet: just leave the queue
                        self._waiters.remove(waiter)
                        raise
                self.release()  # the slot was already ours: pass it on
                raise
        try:
            while True:
                with self._mutex:
                    now = time.monotonic()
                    wait = 0.0 if self._last_start is None else self._last_start + min_interval - now
                    if wait <= 0:  # the holder stamps its real send time with started()
                        return
                await asyncio.sleep(wait)
        except BaseException:
            self.release()
            raise

    def started(self) -> float:
        """The slot holder is sending now (from its worker thread, after the hop from the loop):
        spacing counts from here, so thread-switch jitter can only widen the gaps."""
        with self._mutex:
            self._last_start = now = time.monotonic()
            self.starts.append(now)
            return now

    def release(self) -> None:
        """Free the slot (callable from any thread): hand it to the next live waiter, FIFO."""
        with self._mutex:
            while self._waiters:
                loop, fut = self._waiters.popleft()
                try:  # a waiter cancelled meanwhile finds the slot passed to it and passes it on
                    loop.call_soon_threadsafe(lambda f=fut: f.done() or f.set_result(None))
                    return
                except RuntimeError:  # that waiter's loop is closed: skip it
                    continue
            self._busy = False


class RateLimiters:
    """One :class:`RateLimiter` per endpoint host for every source that shares this registry. A
    workspace holds one, so all its runs (and their parallel query branches) share arXiv's
    budget; a source made without one gets a limiter of its own.

    Keys (``key_for``): arXiv's 3-second rule covers the whole site, so every arXiv host
    (``export.arxiv.org`` for the API, ``arxiv.org`` for PDFs, any ``*.arxiv.org``) maps to one
    key, ``arxiv.org``; any other endpoint (a mirror, a test server) keys by ``host:port``."""

    def __init__(self) -> None:
        self._by_url: dict[str, RateLimiter] = {}
        self._lock = threading.Lock()

    @staticmethod
    def key_for(url: str) -> str:
        parts = urlsplit(url)
        host = (parts.hostname or "").lower().rstrip(".")
        if host == "arxiv.org" or host.endswith(".arxiv.org"):
            return "arxiv.org"
        try:
            port = parts.port or {"http": 80, "https": 443}.get(parts.scheme, 0)
        except ValueError:
            port = 0
        return f"{host}:{port}"

    def for_url(self, url: str) -> RateLimiter:
        with self._lock:
            return self._by_url.setdefault(self.key_for(url), RateLimiter())


def _endpoint_label(url: str) -> str:
    """scheme://host[:port]/path: no credentials or query string in messages."""
    parts = urlsplit(url)
    host = parts.hostname or "?"
    return f"{parts.scheme}://{host}{f':{parts.port}' if parts.port else ''}{parts.path}"


def result_to_paper(result: arxiv.Result) -> Paper | None:
    """One ``arxiv.Result`` -> Paper with the corpus conventions; ``None`` if it has no text."""
    paper_id, version = split_arxiv_version(result.get_short_id())
    # authors' LaTeX (42.07\%, $\ell_2$) shown as the text it renders to
    title = latex_to_text(normalise_whitespace(result.title or ""))
    abstract = latex_to_text(normalise_whitespace(result.summary or ""))
    if not paper_id or not title or not abstract:
        return None
    published = result.published
    return Paper(
        id=paper_id,
        title=title,
        abstract=abstract,
        authors=[a.name.strip() for a in result.authors if a.name and a.name.strip()],
        # primary category first, as in the corpus; no duplicates
        categories=list(dict.fromkeys(c for c in [result.primary_category, *result.categories] if c)),
        published=published.date().isoformat() if published and published.year > 1 else None,
        version=version,
        url=f"https://arxiv.org/abs/{paper_id}",
        source="arxiv",
        content_hash=paper_content_hash(paper_id, title, abstract),
        venue=paper_venue(result.journal_ref, result.comment),
    )


class _ResponseCache:
    """SQLite: canonical query key -> (fetched_at wall-clock, papers JSON). One connection per
    call, so worker threads never share one; corrupt rows or files degrade to cache misses."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path).expanduser()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self._connect() as db:
            db.execute(
                "CREATE TABLE IF NOT EXISTS responses (key TEXT PRIMARY KEY, fetched_at REAL NOT NULL, papers TEXT NOT NULL)"
            )

    @contextlib.contextmanager
    def _connect(self):
        with contextlib.closing(sqlite3.connect(self.path, timeout=10)) as db, db:
            yield db

    def get(self, key: str) -> tuple[float, list[Paper]] | None:
        try:
            with self._connect() as db:
                row = db.execute("SELECT fetched_at, papers FROM responses WHERE key = ?", (key,)).fetchone()
            return None if row is None else (row[0], [Paper.model_validate(p) for p in json.loads(row[1])])
        except (sqlite3.Error, ValueError) as exc:
            logger.warning("arXiv cache %s unreadable for one key (%s); treating as a miss", self.path, exc)
            return None

    def put(self, key: str, papers: list[Paper]) -> None:
        body = json.dumps([p.model_dump(mode="json") for p in papers], ensure_ascii=False)
        try:
            with self._connect() as db:
                db.execute("INSERT OR REPLACE INTO responses VALUES (?, ?, ?)", (key, time.time(), body))
        except sqlite3.Error as exc:
            logger.warning("arXiv cache %s not written (%s)", self.path, exc)


class _GatedSession(requests.Session):
    """The client's HTTP session: every request waits for the shared limiter (on the caller's
    event loop), gets the timeout the client never sets, and keeps the error details the
    client's ``HTTPError`` drops (the 400 error feed's message, Retry-After)."""

    def __init__(self, source: ArxivSource, loop: asyncio.AbstractEventLoop, cancelled: threading.Event):
        super().__init__()
        self._source, self._loop, self._cancelled = source, loop, cancelled
        self.error_text = ""
        self.retry_after: float | None = None

    def request(self, method, url, *args, **kwargs):
        kwargs.setdefault("timeout", self._source.timeout)
        src, limiter = self._source, self._source.limiter
        # the limiter is async and lives on the caller's loop; this worker thread waits for it
        asyncio.run_coroutine_threadsafe(limiter.acquire(src.min_interval), self._loop).result()
        try:
            # the awaiting search() was cancelled meanwhile (a thread cannot be stopped): send
            # nothing more; no retries or further pages either, as they all come through here
            if self._cancelled.is_set():
                raise asyncio.CancelledError()
            # under the slot, so one instance's counters are never updated concurrently
            src.request_starts.append(limiter.started())
            src.requests_made += 1
            resp = super().request(method, url, *args, **kwargs)
        finally:
            limiter.release()
        self.error_text, self.retry_after = "", None
        if resp.status_code != 200:
            m = _SUMMARY_RE.search(resp.text[:20000])
            self.error_text = normalise_whitespace(html.unescape(m.group(1))) if m else ""
            with contextlib.suppress(TypeError, ValueError):
                self.retry_after = float(resp.headers.get("Retry-After"))
        elif b"<feed" not in resp.content[:4096]:  # a proxy/captive portal/HTML page, not the API
            raise SourceUnavailableError(f"{_endpoint_label(url)} did not answer with an Atom feed")
        return resp


class ArxivSource:
    """Search arXiv (or a mirror, or a test server) and return :class:`Paper` records."""

    def __init__(
        self,
        url: str | None = None,
        cache_path: Path | None = None,
        ttl_seconds: float = 7 * 24 * 3600,
        min_interval: float = 3.0,
        max_retries: int = 3,
        backoff: float = 1.0,
        cache_only: bool = False,
        timeout: float = 30.0,
        page_size: int = 100,
        limiters: RateLimiters | None = None,
        on_progress: ProgressSink | None = None,
    ) -> None:
        self.url = (url or os.environ.get(URL_ENV) or DEFAULT_ARXIV_URL).strip().rstrip("?")
        if urlsplit(self.url).scheme not in ("http", "https"):
            raise ValueError(f"arXiv URL must be http(s): {_endpoint_label(self.url)}")
        if cache_only and cache_path is None:
            raise ValueError("cache_only=True needs a cache_path")
        self.cache = _ResponseCache(cache_path) if cache_path is not None else None
        self.ttl_seconds, self.min_interval = float(ttl_seconds), float(min_interval)
        self.max_retries, self.backoff = max(0, int(max_retries)), float(backoff)
        self.cache_only, self.timeout, self.page_size = cache_only, float(timeout), max(1, int(page_size))
        self.limiter = (limiters or RateLimiters()).for_url(self.url)
        self.requests_made = 0  # HTTP requests sent by this instance (retries and pages included)
        self.cache_hits = 0
        self.request_starts: list[float] = []  # time.monotonic() of this instance's requests
        # a retry's wait is announced here (``[arxiv waiting 2 s: HTTP 503, retry 2/3]``): a run
        # parked on Retry-After for up to a minute is otherwise a frozen screen
        self.on_progress = on_progress

    async def search(self, query: str, max_results: int) -> list[Paper]:
        """Up to ``max_results`` papers for an arXiv ``search_query`` (e.g. ``all:clip AND ti:attack``)."""
        if not query or not query.strip():
            raise ValueError("empty arXiv query")
        # a page never larger than needed: less for arXiv to render, less to download
        page = min(self.page_size, max_results)
        return await self._run(arxiv.Search(query=query.strip(), max_results=max_results), max_results, page)

    async def lookup(self, ids: Sequence[str]) -> list[Paper]:
        """The papers with these arXiv ids (``2405.18770``, ``astro-ph/0601001``, ``...v2``)."""
        ids = [i.strip() for i in ids if i and i.strip()]
        if not ids:
            return []
        # arXiv answers at most one entry per id whatever max_results says; the full page size
        # keeps the request identical to arxiv.py's default one (and to the recorded fixtures)
        return await self._run(arxiv.Search(id_list=ids, max_results=len(ids)), len(ids), self.page_size)

    async def _run(self, search: arxiv.Search, max_results: int, page_size: int) -> list[Paper]:
        if max_results <= 0:
            return []
        key = json.dumps([_CACHE_FORMAT, self.url, search.query, search.id_list, max_results])
        if self.cache is not None:
            cached = await asyncio.to_thread(self.cache.get, key)
            # cache-only serves stale entries too: an offline re-run beats no run
            if cached is not None and (self.cache_only or time.time() - cached[0] <= self.ttl_seconds):
                self.cache_hits += 1
                return cached[1]
        if self.cache_only:
            what = f"query {search.query!r}" if search.query else f"ids {','.join(search.id_list)}"
            raise SourceUnavailableError(f"cache-only mode and no cached arXiv response for {what}")
        cancelled = threading.Event()
        try:
            papers = await asyncio.to_thread(self._fetch, search, page_size, asyncio.get_running_loop(), cancelled)
        except asyncio.CancelledError:
            cancelled.set()
            raise
        if self.cache is not None:
            await asyncio.to_thread(self.cache.put, key, papers)
        return papers

    def _fetch(
        self, search: arxiv.Search, page_size: int, loop: asyncio.AbstractEventLoop, cancelled: threading.Event
    ) -> list[Paper]:
        """Blocking (worker thread): page through the results with the real client, retrying."""
        where = _endpoint_label(self.url)
        # spacing and retries are ours (shared limiter, backoff, status-aware), so the client's
        # own per-instance delay and blind retries are switched off
        client = arxiv.Client(page_size=page_size, delay_seconds=0.0, num_retries=0)
        sep = "&" if "?" in self.url else "?"
        client.query_url_format = self.url.replace("{", "{{").replace("}", "}}") + sep + "{}"
        session = _GatedSession(self, loop, cancelled)
        client._session = session  # the client has no public hook for its session
        results: list[arxiv.Result] = []
        failures = 0
        while True:
            retry_after = None
            try:
                # resume after what we already have, so a retry never re-fetches earlier pages
                for result in client.results(search, offset=len(results)):
                    results.append(result)
                break
            except arxiv.HTTPError as exc:
                if exc.status == 400:
                    raise ArxivQueryError(f"arXiv rejected the query (HTTP 400): {session.error_text or search}") from None
                if exc.status not in _RETRY_STATUSES:
                    raise SourceUnavailableError(f"arXiv at {where} answered HTTP {exc.status}") from None
                reason, retry_after = f"HTTP {exc.status}", session.retry_after
            except arxiv.UnexpectedEmptyPageError:
                reason = f"empty page at offset {len(results)}"
            except requests.RequestException as exc:
                reason = type(exc).__name__  # ConnectionError, ReadTimeout, ...: no URLs/secrets
            failures += 1
            if failures > self.max_retries:
                raise SourceUnavailableError(f"arXiv at {where} unavailable after {failures} attempt(s): {reason}")
            delay = self.backoff * 2 ** (failures - 1)
            if retry_after is not None:
                delay = max(delay, min(retry_after, _MAX_RETRY_AFTER))
            logger.info("arXiv %s (attempt %d); retrying in %.2fs", reason, failures, delay)
            # worker thread; the limiter slot is free meanwhile
            wait_beating(self.on_progress, "arxiv", delay, f"{reason}, retry {failures}/{self.max_retries}")
        papers: dict[str, Paper] = {}
        for result in results:
            if "/api/errors" in result.entry_id:  # an error feed served with HTTP 200
                raise ArxivQueryError(f"arXiv rejected the query: {normalise_whitespace(result.summary)}")
            paper = result_to_paper(result)
            if paper is not None:
                papers.setdefault(paper.id, paper)  # pages can overlap when arXiv's index shifts
        return list(papers.values())
