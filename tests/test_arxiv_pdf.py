"""arXiv PDF downloads with the real ``requests`` stack against a local server replaying a real
arXiv PDF (tests/fixtures/arxiv_pdf, see PROVENANCE.md) next to the replayed query API. Nothing
is mocked on the client side; nothing touches the network beyond 127.0.0.1."""

from __future__ import annotations

import asyncio
import hashlib
import itertools
import os

import pytest
from arxiv_pdf_server import PDF_FIXTURES, ArxivPdfServer
from arxiv_replay_server import closed_port_url

from sovereign_kernel.domain.errors import SourceUnavailableError
from sovereign_kernel.sources.arxiv import ArxivSource, RateLimiters
from sovereign_kernel.sources.arxiv_pdf import (
    DEFAULT_PDF_URL,
    PDF_URL_ENV,
    ArxivPdfFetcher,
    pdf_cache_path,
)

PASA = "2501.10120"
PASA_BYTES = (PDF_FIXTURES / "2501.10120v1.pdf").read_bytes()
FAST = {"min_interval": 0.0, "backoff": 0.01}


@pytest.fixture
def server():
    with ArxivPdfServer() as srv:
        yield srv


def fetcher(server, tmp_path, **kwargs) -> ArxivPdfFetcher:
    return ArxivPdfFetcher(server.pdf_url, tmp_path / "pdfs", **{**FAST, **kwargs})


def test_fixture_is_the_real_arxiv_pdf():
    assert len(PASA_BYTES) == 681779 and PASA_BYTES.startswith(b"%PDF-1.5")
    assert hashlib.sha256(PASA_BYTES).hexdigest() == "3979809118c8636e3148d836da89dffd6716afa616f458a1111d76e2301cfc85"


def test_download_gives_the_exact_bytes_and_the_second_fetch_is_cached(server, tmp_path):
    f = fetcher(server, tmp_path)
    path = asyncio.run(f.fetch(PASA, 1))
    assert path.read_bytes() == PASA_BYTES
    url = f"{server.pdf_url}{PASA}v1"
    assert path == pdf_cache_path(tmp_path / "pdfs", url)
    digest = hashlib.sha256(url.encode()).hexdigest()
    assert path.relative_to(tmp_path / "pdfs").as_posix() == f"{digest[:2]}/{digest}.pdf"
    assert [(r.path, r.status) for r in server.pdf_requests] == [(f"/pdf/{PASA}v1", 200)]
    assert (f.requests_made, f.cache_hits, len(f.request_starts)) == (1, 0, 1)
    assert [p.name for p in path.parent.iterdir()] == [path.name]  # no temp file left behind
    # the same fetcher, and a new one on the same cache (a new process): no request
    assert asyncio.run(f.fetch(PASA, 1)) == path
    again = fetcher(server, tmp_path)
    assert asyncio.run(again.fetch(f"{PASA}v1")) == path  # a version inside the id counts too
    assert len(server.pdf_requests) == 1 and again.requests_made == 0
    assert (f.cache_hits, again.cache_hits) == (1, 1)


def test_pdf_urls():
    f = ArxivPdfFetcher("https://arxiv.org/pdf/")
    assert f.pdf_url(PASA, 1) == "https://arxiv.org/pdf/2501.10120v1"
    assert f.pdf_url(PASA) == "https://arxiv.org/pdf/2501.10120"
    assert f.pdf_url("2501.10120v2") == "https://arxiv.org/pdf/2501.10120v2"
    assert f.pdf_url("2501.10120v2", 3) == "https://arxiv.org/pdf/2501.10120v3"
    assert ArxivPdfFetcher("https://mirror.example/pdf").pdf_url("astro-ph/0601001", 1) == (
        "https://mirror.example/pdf/astro-ph/0601001v1")
    for bad in ("", "../etc/passwd", "2501.10120?x=1", "a b"):
        with pytest.raises(ValueError):
            f.pdf_url(bad)


def test_unversioned_id_gets_the_latest_and_is_cached_apart(server, tmp_path):
    f = fetcher(server, tmp_path)
    latest = asyncio.run(f.fetch(PASA))
    pinned = asyncio.run(f.fetch(PASA, 1))
    assert latest != pinned and latest.read_bytes() == pinned.read_bytes() == PASA_BYTES
    assert [r.answered_by for r in server.pdf_requests] == [f"{PASA}v1", f"{PASA}v1"]


def test_503_then_success_is_retried_with_backoff(server, tmp_path):
    server.pdf_fail(503, times=2)
    f = fetcher(server, tmp_path, backoff=0.05, max_retries=3)
    assert asyncio.run(f.fetch(PASA, 1)).read_bytes() == PASA_BYTES
    assert [r.status for r in server.pdf_requests] == [503, 503, 200]
    gaps = [b.arrived - a.arrived for a, b in zip(server.pdf_requests, server.pdf_requests[1:])]
    assert gaps[0] >= 0.05 and gaps[1] >= 0.10, gaps  # exponential: backoff, 2 * backoff
    assert f.requests_made == 3 and len(f.request_starts) == 3


def test_429_retry_after_is_honoured(server, tmp_path):
    server.pdf_fail(429, times=1, retry_after=0.3)
    f = fetcher(server, tmp_path, backoff=0.01)
    asyncio.run(f.fetch(PASA, 1))
    assert [r.status for r in server.pdf_requests] == [429, 200]
    assert server.pdf_requests[1].arrived - server.pdf_requests[0].arrived >= 0.3


def test_persistent_503_is_bounded_then_unavailable(server, tmp_path):
    server.pdf_fail(503, times=99)
    f = fetcher(server, tmp_path, max_retries=2)
    with pytest.raises(SourceUnavailableError) as err:
        asyncio.run(f.fetch(PASA, 1))
    assert str(err.value) == f"arXiv PDF at {server.pdf_url}{PASA}v1 unavailable after 3 attempt(s): HTTP 503"
    assert len(server.pdf_requests) == 3 and not any((tmp_path / "pdfs").rglob("*.pdf"))


@pytest.mark.parametrize("misbehave", ["reset", "truncate", "truncate_unannounced"])
def test_broken_transfers_are_retried(server, tmp_path, misbehave):
    {"reset": lambda: server.pdf_reset(),
     "truncate": lambda: server.pdf_truncate(content_length=True),
     "truncate_unannounced": lambda: server.pdf_truncate(content_length=False)}[misbehave]()
    f = fetcher(server, tmp_path)
    path = asyncio.run(f.fetch(PASA, 1))
    assert path.read_bytes() == PASA_BYTES
    assert [r.answered_by for r in server.pdf_requests] == [f"script:{misbehave.split('_')[0]}", f"{PASA}v1"]
    assert f.requests_made == 2
    assert [p.name for p in path.parent.iterdir()] == [path.name]  # the partial file was removed


def test_html_answer_is_not_a_pdf_and_not_retried(server, tmp_path):
    server.pdf_html(times=5)
    f = fetcher(server, tmp_path)
    with pytest.raises(SourceUnavailableError, match=r"not a PDF \(text/html\)") as err:
        asyncio.run(f.fetch(PASA, 1))
    assert "\n" not in str(err.value) and len(server.pdf_requests) == 1
    assert not any(p.is_file() for p in (tmp_path / "pdfs").rglob("*"))


def test_404_fails_without_retry(server, tmp_path):
    f = fetcher(server, tmp_path, max_retries=3)
    with pytest.raises(SourceUnavailableError) as err:
        asyncio.run(f.fetch("2501.99999", 1))
    assert str(err.value) == f"arXiv PDF at {server.pdf_url}2501.99999v1 answered HTTP 404"
    assert len(server.pdf_requests) == 1 and f.requests_made == 1


def test_too_large_fails_without_keeping_a_file(server, tmp_path):
    f = fetcher(server, tmp_path, max_bytes=100_000)
    with pytest.raises(SourceUnavailableError, match="larger than 100000 bytes"):
        asyncio.run(f.fetch(PASA, 1))
    server.pdf_truncate(content_length=False)  # no Content-Length: the streamed size is what stops it
    with pytest.raises(SourceUnavailableError, match="larger than 100000 bytes"):
        asyncio.run(f.fetch(PASA, 1))
    assert len(server.pdf_requests) == 2
    assert not any(p.is_file() for p in (tmp_path / "pdfs").rglob("*"))


def test_unreachable_server_is_unavailable(tmp_path):
    url = closed_port_url().replace("/api/query", "/pdf/")
    f = ArxivPdfFetcher(url, tmp_path, max_retries=1, **FAST)
    with pytest.raises(SourceUnavailableError) as err:
        asyncio.run(f.fetch(PASA, 1))
    assert str(err.value) == f"arXiv PDF at {url}{PASA}v1 unavailable after 2 attempt(s): ConnectionError"


def test_cache_only_without_a_cached_pdf_fails_in_one_line(server, tmp_path):
    cold = fetcher(server, tmp_path, cache_only=True)
    with pytest.raises(SourceUnavailableError) as err:
        asyncio.run(cold.fetch(PASA, 1))
    assert str(err.value) == f"cache-only mode and no cached PDF for arXiv:{PASA}v1"
    assert server.pdf_requests == [] and cold.requests_made == 0
    asyncio.run(fetcher(server, tmp_path).fetch(PASA, 1))  # warm it
    assert asyncio.run(cold.fetch(PASA, 1)).read_bytes() == PASA_BYTES and cold.cache_hits == 1
    with pytest.raises(ValueError):
        ArxivPdfFetcher(server.pdf_url, cache_only=True)


def test_corrupt_cached_file_is_a_miss_and_downloaded_again(server, tmp_path):
    f = fetcher(server, tmp_path)
    path = pdf_cache_path(tmp_path / "pdfs", f.pdf_url(PASA, 1))
    path.parent.mkdir(parents=True)
    path.write_bytes(b"<html>captive portal</html>")
    assert asyncio.run(f.fetch(PASA, 1)) == path and path.read_bytes() == PASA_BYTES
    assert (f.requests_made, f.cache_hits) == (1, 0)
    path.write_bytes(b"")  # an empty file too
    asyncio.run(f.fetch(PASA, 1))
    assert f.requests_made == 2 and path.read_bytes() == PASA_BYTES


def test_two_papers_are_spaced_and_never_overlap(server, tmp_path):
    server.add_pdf("2501.00001v1", PASA_BYTES)
    server.response_delay = 0.05
    limiters = RateLimiters()
    a = fetcher(server, tmp_path, limiters=limiters, min_interval=0.3)
    b = fetcher(server, tmp_path, limiters=limiters, min_interval=0.3)
    assert a.limiter is b.limiter

    async def both():
        return await asyncio.gather(a.fetch(PASA, 1), b.fetch("2501.00001", 1))

    paths = asyncio.run(both())
    assert paths[0] != paths[1] and all(p.read_bytes() == PASA_BYTES for p in paths)
    arrivals = server.arrivals()
    assert len(arrivals) == 2 and server.max_in_flight == 1
    assert arrivals[1] - arrivals[0] >= 0.3 - 0.01, arrivals
    starts = sorted(a.request_starts + b.request_starts)
    assert starts == a.limiter.starts and starts[1] - starts[0] >= 0.3


def test_arxiv_hosts_share_one_limiter_and_others_key_by_host_and_port():
    limiters = RateLimiters()
    api = limiters.for_url("https://export.arxiv.org/api/query")
    assert limiters.for_url("https://arxiv.org/pdf/") is api
    assert limiters.for_url("http://export.arxiv.org/api/query?x=1") is api
    assert limiters.for_url("https://www.arxiv.org/pdf/2501.10120v1") is api
    assert ArxivPdfFetcher(limiters=limiters).limiter is api  # the default endpoint
    assert ArxivSource(limiters=limiters).limiter is api
    assert limiters.for_url("https://notarxiv.org/pdf/") is not api
    assert limiters.for_url("https://evilarxiv.org/pdf/") is not api
    local = limiters.for_url("http://127.0.0.1:8001/api/query")
    assert limiters.for_url("http://127.0.0.1:8001/pdf/") is local
    assert limiters.for_url("http://127.0.0.1:8002/pdf/") is not local


def test_api_search_and_pdf_fetch_share_the_limiter(server, tmp_path):
    """One host (as arXiv is one site): an API lookup and a PDF download are spaced too."""
    server.response_delay = 0.05
    limiters = RateLimiters()
    api = ArxivSource(server.url, min_interval=0.3, backoff=0.01, limiters=limiters)
    pdf = fetcher(server, tmp_path, limiters=limiters, min_interval=0.3)
    assert api.limiter is pdf.limiter

    async def together():
        return await asyncio.gather(api.lookup(["1605.08386"]), pdf.fetch(PASA, 1), api.lookup(["astro-ph/0601001"]))

    [p], path, [q] = asyncio.run(together())
    assert (p.id, q.id) == ("1605.08386", "astro-ph/0601001") and path.read_bytes() == PASA_BYTES
    arrivals = server.arrivals()
    assert len(arrivals) == 3 and server.max_in_flight == 1
    # the limiter's own record is exact; arrivals at the server are spaced too, less whatever a busy
    # machine delays one request's arrival (seen: 0.277 s under CI load), never run together
    starts = sorted(api.request_starts + pdf.request_starts)
    assert starts == api.limiter.starts and all(b - a >= 0.3 for a, b in itertools.pairwise(starts))
    gaps = [b - a for a, b in itertools.pairwise(arrivals)]
    assert min(gaps) >= 0.2, gaps


def test_url_comes_from_env_then_default(server, tmp_path, monkeypatch):
    monkeypatch.setenv(PDF_URL_ENV, server.pdf_url)
    f = ArxivPdfFetcher(cache_dir=tmp_path, **FAST)
    assert f.url == server.pdf_url and asyncio.run(f.fetch(PASA, 1)).read_bytes() == PASA_BYTES
    monkeypatch.delenv(PDF_URL_ENV)
    assert ArxivPdfFetcher().url == DEFAULT_PDF_URL == "https://arxiv.org/pdf/"
    for bad in ("ftp://arxiv.org/pdf/", "https://arxiv.org/pdf/?key=secret"):
        with pytest.raises(ValueError) as err:
            ArxivPdfFetcher(bad)
        assert "secret" not in str(err.value)


def test_without_cache_dir_a_private_temp_dir_is_used(server):
    f = ArxivPdfFetcher(server.pdf_url, **FAST)
    path = asyncio.run(f.fetch(PASA, 1))
    try:
        assert path.read_bytes() == PASA_BYTES and f.cache_dir is not None and path.is_relative_to(f.cache_dir)
        assert asyncio.run(f.fetch(PASA, 1)) == path and f.requests_made == 1
    finally:
        os.unlink(path)
        os.rmdir(path.parent)
        os.rmdir(f.cache_dir)
