"""arXiv PDFs, downloaded politely and cached on disk: the live source's full text.

Every download goes through the same process-wide limiter as the arXiv API source (arXiv's
3-second, one-connection rule covers ``arxiv.org`` and ``export.arxiv.org`` alike; see
:class:`RateLimiters`), and the slot is held for the whole transfer. A PDF is cached by its URL
(``<cache_dir>/<sha256[:2]>/<sha256>.pdf``, written atomically), and a cached file is served
without a request. Failures raise :class:`SourceUnavailableError` with a one-line reason; the
caller falls back to the abstract.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import os
import re
import tempfile
import threading
from pathlib import Path
from urllib.parse import urlsplit

import requests

from sovereign_kernel.domain.errors import SourceUnavailableError
from sovereign_kernel.domain.ids import split_arxiv_version
from sovereign_kernel.domain.progress import ProgressSink, wait_beating
from sovereign_kernel.sources.arxiv import (
    _MAX_RETRY_AFTER,
    _RETRY_STATUSES,
    RateLimiters,
    _endpoint_label,
)

logger = logging.getLogger(__name__)

PDF_URL_ENV = "SOVEREIGN_ARXIV_PDF_URL"
DEFAULT_PDF_URL = "https://arxiv.org/pdf/"
PDF_MAGIC = b"%PDF-"
_CHUNK = 64 * 1024
_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9.\-/]*$")  # 2501.10120, astro-ph/0601001, math.GT/0309136


class _Retry(Exception):
    """An attempt failed in a way another attempt may fix (HTTP 429/5xx, a truncated body)."""

    def __init__(self, reason: str, retry_after: float | None = None) -> None:
        super().__init__(reason)
        self.reason, self.retry_after = reason, retry_after


def pdf_cache_path(cache_dir: Path, url: str) -> Path:
    """Where the PDF at ``url`` is cached: ``<cache_dir>/<hex[:2]>/<hex>.pdf``, hex = sha256(url)."""
    digest = hashlib.sha256(url.encode("utf-8")).hexdigest()
    return Path(cache_dir) / digest[:2] / f"{digest}.pdf"


def _is_cached_pdf(path: Path, max_bytes: int) -> bool:
    """A usable cached file: present, within the size bound, starting with ``%PDF-``."""
    try:
        if not 0 < path.stat().st_size <= max_bytes:
            return False
        with path.open("rb") as f:
            return f.read(len(PDF_MAGIC)) == PDF_MAGIC
    except OSError:
        return False


class ArxivPdfFetcher:
    """Download arXiv PDFs (or a mirror's, or a test server's) into an on-disk cache."""

    def __init__(
        self,
        url: str | None = None,
        cache_dir: Path | None = None,
        *,
        limiters: RateLimiters | None = None,
        min_interval: float = 3.0,
        max_retries: int = 3,
        backoff: float = 1.0,
        timeout: float = 60.0,
        max_bytes: int = 50_000_000,
        cache_only: bool = False,
        on_progress: ProgressSink | None = None,
    ) -> None:
        self.url = (url or os.environ.get(PDF_URL_ENV) or DEFAULT_PDF_URL).strip()
        parts = urlsplit(self.url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"arXiv PDF URL must be http(s): {_endpoint_label(self.url)}")
        if parts.query or parts.fragment:
            raise ValueError(f"arXiv PDF URL must not carry a query string: {_endpoint_label(self.url)}")
        if cache_only and cache_dir is None:
            raise ValueError("cache_only=True needs a cache_dir")
        # without a cache_dir, a private temporary directory (made on first use) holds this instance's PDFs
        self.cache_dir = Path(cache_dir).expanduser() if cache_dir is not None else None
        self.min_interval, self.backoff, self.timeout = float(min_interval), float(backoff), float(timeout)
        self.max_retries, self.max_bytes, self.cache_only = max(0, int(max_retries)), int(max_bytes), cache_only
        self.limiter = (limiters or RateLimiters()).for_url(self.url)
        self.requests_made = 0  # HTTP requests sent by this instance (retries included)
        self.cache_hits = 0
        self.request_starts: list[float] = []  # time.monotonic() of this instance's requests
        self._dir_lock = threading.Lock()
        self.on_progress = on_progress  # a retry's wait is announced there (see ArxivSource)

    def pdf_url(self, paper_id: str, version: int | None = None) -> str:
        """``<base>/<id>v<version>``, or ``<base>/<id>`` (arXiv's latest) when the version is unknown.
        A version in ``paper_id`` itself (``2501.10120v1``) counts when ``version`` is None."""
        base_id, own_version = split_arxiv_version(paper_id)
        version = version if version is not None else own_version
        if not base_id or not _ID_RE.match(base_id) or ".." in base_id or (version is not None and version < 1):
            raise ValueError(f"not an arXiv id: {paper_id!r}")
        return f"{self.url.rstrip('/')}/{base_id}{f'v{version}' if version is not None else ''}"

    async def fetch(self, paper_id: str, version: int | None = None) -> Path:
        """The path of the paper's PDF in the cache, downloading it if needed."""
        url = self.pdf_url(paper_id, version)
        label = url[len(self.url.rstrip("/")) + 1:]  # the id as requested: 2501.10120v1, astro-ph/0601001
        cache_dir = self.cache_dir or await asyncio.to_thread(self._temp_dir)
        dest = pdf_cache_path(cache_dir, url)
        if await asyncio.to_thread(_is_cached_pdf, dest, self.max_bytes):
            self.cache_hits += 1
            return dest
        if self.cache_only:
            raise SourceUnavailableError(f"cache-only mode and no cached PDF for arXiv:{label}")
        cancelled = threading.Event()
        try:
            await asyncio.to_thread(self._download, url, dest, asyncio.get_running_loop(), cancelled)
        except asyncio.CancelledError:
            cancelled.set()
            raise
        return dest

    # blocking: worker threads only -------------------------------------------------------------
    def _temp_dir(self) -> Path:
        with self._dir_lock:
            if self.cache_dir is None:
                self.cache_dir = Path(tempfile.mkdtemp(prefix="sovereign-arxiv-pdf-"))
            return self.cache_dir

    def _download(self, url: str, dest: Path, loop: asyncio.AbstractEventLoop, cancelled: threading.Event) -> None:
        """Attempts with status-aware retries and exponential backoff (Retry-After honoured, capped)."""
        where = _endpoint_label(url)
        failures = 0
        with requests.Session() as session:
            while True:
                retry_after = None
                try:
                    return self._attempt(session, url, dest, loop, cancelled)
                except _Retry as exc:
                    reason, retry_after = exc.reason, exc.retry_after
                except requests.RequestException as exc:
                    reason = type(exc).__name__  # ConnectionError, ReadTimeout, ...: no URLs/secrets
                except OSError as exc:  # the cache's disk, not the network: another attempt will not help
                    raise SourceUnavailableError(
                        f"arXiv PDF cache {dest.parent} not writable: {exc.strerror or type(exc).__name__}") from None
                failures += 1
                if failures > self.max_retries:
                    raise SourceUnavailableError(f"arXiv PDF at {where} unavailable after {failures} attempt(s): {reason}")
                delay = self.backoff * 2 ** (failures - 1)
                if retry_after is not None:
                    delay = max(delay, min(retry_after, _MAX_RETRY_AFTER))
                logger.info("arXiv PDF %s (attempt %d); retrying in %.2fs", reason, failures, delay)
                label = url[len(self.url.rstrip("/")) + 1:]
                if wait_beating(self.on_progress, "arxiv", delay,  # the limiter slot is free meanwhile
                                f"PDF {label}: {reason}, retry {failures}/{self.max_retries}", sleep=cancelled.wait):
                    raise asyncio.CancelledError()

    def _attempt(
        self, session: requests.Session, url: str, dest: Path, loop: asyncio.AbstractEventLoop, cancelled: threading.Event
    ) -> None:
        """One request under the shared limiter's slot, held until the body is on disk."""
        where = _endpoint_label(url)
        asyncio.run_coroutine_threadsafe(self.limiter.acquire(self.min_interval), loop).result()
        tmp: str | None = None
        try:
            if cancelled.is_set():  # the awaiting fetch() was cancelled: send nothing more
                raise asyncio.CancelledError()
            self.request_starts.append(self.limiter.started())  # under the slot: no concurrent updates
            self.requests_made += 1
            headers = {"Accept": "application/pdf", "User-Agent": "sovereign-kernel (arXiv full text)"}
            with session.get(url, stream=True, timeout=self.timeout, headers=headers, allow_redirects=True) as resp:
                if resp.status_code != 200:
                    if resp.status_code in _RETRY_STATUSES:
                        retry_after = None
                        with contextlib.suppress(TypeError, ValueError):
                            retry_after = max(0.0, float(resp.headers.get("Retry-After")))
                        raise _Retry(f"HTTP {resp.status_code}", retry_after)
                    raise SourceUnavailableError(f"arXiv PDF at {where} answered HTTP {resp.status_code}")
                with contextlib.suppress(TypeError, ValueError):
                    if int(resp.headers.get("Content-Length")) > self.max_bytes:
                        raise SourceUnavailableError(f"arXiv PDF at {where} is larger than {self.max_bytes} bytes")
                dest.parent.mkdir(parents=True, exist_ok=True)
                fd, tmp = tempfile.mkstemp(dir=dest.parent, prefix=f".{dest.stem[:16]}.", suffix=".part")
                size, head, tail = 0, b"", b""
                with os.fdopen(fd, "wb") as out:
                    for chunk in resp.iter_content(_CHUNK):
                        if cancelled.is_set():
                            raise asyncio.CancelledError()
                        if len(head) < len(PDF_MAGIC):
                            head += chunk[: len(PDF_MAGIC) - len(head)]
                            if len(head) >= len(PDF_MAGIC) and head != PDF_MAGIC:
                                kind = (resp.headers.get("Content-Type") or "no content type").split(";")[0].strip()
                                raise SourceUnavailableError(f"arXiv PDF at {where}: the answer is not a PDF ({kind})")
                        size += len(chunk)
                        if size > self.max_bytes:
                            raise SourceUnavailableError(f"arXiv PDF at {where} is larger than {self.max_bytes} bytes")
                        out.write(chunk)
                        tail = (tail + chunk)[-1024:]
                if head != PDF_MAGIC:  # shorter than the magic itself
                    raise SourceUnavailableError(f"arXiv PDF at {where}: the answer is not a PDF ({size} bytes)")
                if b"%%EOF" not in tail:  # the connection ended early and nothing said so
                    raise _Retry("truncated PDF (no %%EOF)")
                os.replace(tmp, dest)  # atomic: readers see the old file or the whole new one
                tmp = None
        finally:
            self.limiter.release()
            if tmp is not None:
                with contextlib.suppress(OSError):
                    os.unlink(tmp)
