"""The arXiv API source, with the real ``arxiv`` client talking HTTP to a local replay server.

The server (tests/arxiv_replay_server.py) answers with real recorded arXiv responses
(tests/fixtures/arxiv_api, see PROVENANCE.md) and can be told to fail. Nothing is mocked on
the client side; nothing touches the network beyond 127.0.0.1.
"""

from __future__ import annotations

import asyncio
import time
import xml.etree.ElementTree as ET

import pytest
from arxiv_replay_server import FIXTURES, ArxivReplayServer, closed_port_url

from sovereign_kernel.sources.arxiv import (
    DEFAULT_ARXIV_URL,
    URL_ENV,
    ArxivQueryError,
    ArxivSource,
    SourceUnavailableError,
    RateLimiters,
)
from sovereign_kernel.sources.corpus import paper_content_hash

ATOM = "{http://www.w3.org/2005/Atom}"
FAST = dict(min_interval=0.0, backoff=0.01)  # spacing is tested on its own, with 0.2 s


@pytest.fixture
def server():
    with ArxivReplayServer() as srv:
        yield srv


def recorded_ids(*files: str) -> list[str]:
    """Entry ids (without version) of recorded responses, read with the stdlib, not arxiv."""
    ids = []
    for name in files:
        root = ET.parse(FIXTURES / "arxiv_py_2026" / name).getroot()
        ids += [e.findtext(f"{ATOM}id").split("/abs/")[1].rsplit("v", 1)[0] for e in root.iter(f"{ATOM}entry")]
    return ids


PAGES = ("q_testing_s0_m10_bc5a6c384fe9.xml", "q_testing_s10_m10_34e56e15aaac.xml", "q_testing_s20_m10_348a237fecab.xml")


def test_current_format_maps_to_paper_contract(server):
    src = ArxivSource(server.url, **FAST)
    [p] = asyncio.run(src.lookup(["1605.08386"]))
    assert p.id == "1605.08386" and p.version == 1
    assert p.title == "Heat-bath random walks with Markov bases"
    assert p.abstract.startswith("Graphs on lattice points are studied whose edges come from a finite set")
    assert p.abstract.endswith("is an expander in fixed dimension.")
    assert p.authors == ["Caprice Stanley", "Tobias Windisch"]
    assert p.categories == ["math.CO", "math.ST"]
    assert p.published == "2016-05-26"
    assert p.url == "https://arxiv.org/abs/1605.08386" and p.source == "arxiv"
    assert p.content_hash == paper_content_hash(p.id, p.title, p.abstract)
    # the request the real client sent is the one arXiv was recorded answering
    assert [r.answered_by for r in server.requests] == ["id_1605.08386_s0_m100_199195aa31ad.xml"]
    assert src.requests_made == 1 and src.cache_hits == 0


def test_two_ids_one_missing_and_utf8_author(server):
    [p] = asyncio.run(ArxivSource(server.url, **FAST).lookup(["0808.05394", "1707.08567"]))
    assert p.id == "1707.08567"
    assert p.title == "Proceedings of Workshop AEW10: Concepts in Information Theory and Communications"
    assert "Dirk Wübben" in p.authors and p.published == "2017-07-27"
    assert server.requests[0].params["id_list"] == "0808.05394,1707.08567"


def test_old_style_ids(server):
    src = ArxivSource(server.url, **FAST)
    [a] = asyncio.run(src.lookup(["astro-ph/0601001"]))
    assert (a.id, a.version, a.url) == ("astro-ph/0601001", 1, "https://arxiv.org/abs/astro-ph/0601001")
    assert a.title.startswith("Frequency of Hot Jupiters and Very Hot Jupiters from the OGLE-III")
    assert a.authors == ["Andrew Gould", "Susan Dorsher", "B. Scott Gaudi", "Andrzej Udalski"]
    assert a.categories == ["astro-ph"] and a.published == "2006-01-02"
    assert "Gould & Morgan (2003)" in a.abstract and "V_max<17.5" in a.abstract  # XML entities decoded
    [q] = asyncio.run(src.lookup(["quant-ph/0201082v1"]))
    assert (q.id, q.version) == ("quant-ph/0201082", 1)
    assert q.title.startswith("Quantum Computers and Quantum Computer Languages")
    assert q.categories == ["quant-ph", "cs.PL"] and q.authors == ["Stephen Blaha"]


def test_legacy_2019_atom_format(server):
    src = ArxivSource(server.url, **FAST)
    [p] = asyncio.run(src.lookup(["astro-ph/9812133"]))
    assert (p.id, p.version, p.published) == ("astro-ph/9812133", 1, "1998-12-08")
    assert p.title == "Measurements of Omega and Lambda from 42 High-Redshift Supernovae"
    assert p.categories == ["astro-ph", "hep-ex", "hep-ph"]
    assert len(p.authors) == 32 and p.authors[:2] == ["S. Perlmutter", "G. Aldering"]
    assert "\n" not in p.abstract and "  " not in p.abstract  # the 2019 body is hard-wrapped
    assert p.abstract.startswith("We report measurements of the mass density, Omega_M, and cosmological-constant")
    assert server.requests[0].answered_by == "id_list=astro-ph_9812133.xml"
    [m] = asyncio.run(src.lookup(["math/0211159"]))
    assert m.id == "math/0211159" and m.url == "https://arxiv.org/abs/math/0211159" and m.source == "arxiv"


def test_empty_result(server):
    src = ArxivSource(server.url, **FAST)
    assert asyncio.run(src.lookup(["0000.0000"])) == []
    assert [r.status for r in server.requests] == [200] and src.requests_made == 1


@pytest.mark.parametrize("bad_id", ["abc", "INVALIDID"])  # 2026 and 2019 error feeds
def test_http_400_error_feed_is_a_clear_error_and_not_retried(server, bad_id):
    src = ArxivSource(server.url, **FAST)
    with pytest.raises(ArxivQueryError, match=f"HTTP 400.*incorrect id format for {bad_id}"):
        asyncio.run(src.lookup([bad_id]))
    assert len(server.requests) == 1 and server.requests[0].status == 400


def test_paging_fetches_each_page_once_in_order(server):
    src = ArxivSource(server.url, page_size=10, **FAST)
    papers = asyncio.run(src.search("testing", 25))
    assert [p.id for p in papers] == recorded_ids(*PAGES)[:25]
    assert [(r.params["start"], r.params["max_results"]) for r in server.requests] == [("0", "10"), ("10", "10"), ("20", "10")]
    assert [r.answered_by for r in server.requests] == list(PAGES)
    assert src.requests_made == 3


def test_503_then_success_is_retried_with_backoff(server):
    server.fail(503, times=2)
    src = ArxivSource(server.url, min_interval=0.0, backoff=0.05, max_retries=3)
    [p] = asyncio.run(src.lookup(["1605.08386"]))
    assert p.title == "Heat-bath random walks with Markov bases"
    assert [r.status for r in server.requests] == [503, 503, 200]
    gaps = [b.arrived - a.arrived for a, b in zip(server.requests, server.requests[1:])]
    assert gaps[0] >= 0.05 and gaps[1] >= 0.10  # exponential: backoff, 2 * backoff
    assert src.requests_made == 3


def test_persistent_429_is_bounded_then_unavailable(server):
    server.fail(429, times=99, retry_after=0)
    src = ArxivSource(server.url, max_retries=2, **FAST)
    with pytest.raises(SourceUnavailableError, match=r"after 3 attempt\(s\): HTTP 429") as err:
        asyncio.run(src.search("testing", 5))
    assert "\n" not in str(err.value)
    assert [r.status for r in server.requests] == [429, 429, 429]


def test_spuriously_empty_page_is_retried_from_where_it_stopped(server):
    server.empty(times=1, when={"start": "10"})
    src = ArxivSource(server.url, page_size=10, **FAST)
    papers = asyncio.run(src.search("testing", 20))
    assert [p.id for p in papers] == recorded_ids(*PAGES[:2])
    assert [(r.params["start"], r.answered_by) for r in server.requests] == [
        ("0", PAGES[0]), ("10", "script:200"), ("10", PAGES[1])
    ]


def test_concurrent_searches_share_one_limiter(server):
    server.response_delay = 0.05  # so that overlapping requests would be seen overlapping
    limiters = RateLimiters()  # what a workspace holds for all its runs
    sources = [ArxivSource(server.url, min_interval=0.2, limiters=limiters, **{"backoff": 0.01}) for _ in range(4)]
    assert len({id(s.limiter) for s in sources}) == 1 and sources[0].limiter is limiters.for_url(server.url)

    async def branches():
        return await asyncio.gather(
            sources[0].lookup(["1605.08386"]),
            sources[1].lookup(["astro-ph/0601001"]),
            sources[2].lookup(["quant-ph/0201082v1"]),
            sources[3].lookup(["astro-ph/9812133"]),
        )

    results = asyncio.run(branches())
    assert [r[0].id for r in results] == ["1605.08386", "astro-ph/0601001", "quant-ph/0201082", "astro-ph/9812133"]
    assert len(server.requests) == 4 and server.max_in_flight == 1
    starts = sorted(t for s in sources for t in s.request_starts)
    assert starts == sources[0].limiter.starts  # all four went through the one limiter
    assert all(b - a >= 0.2 for a, b in zip(starts, starts[1:]))  # client side: exact
    # measured at the server: a loaded machine delays one arrival by tens of ms (CI saw 0.189 s)
    arrivals = sorted(r.arrived for r in server.requests)
    gaps = [b - a for a, b in zip(arrivals, arrivals[1:])]
    assert min(gaps) >= 0.15, gaps
    assert [s.requests_made for s in sources] == [1, 1, 1, 1]


def test_cache_hits_make_no_request(server, tmp_path):
    cache = tmp_path / "arxiv.sqlite"
    first = ArxivSource(server.url, cache_path=cache, page_size=10, **FAST)
    papers = asyncio.run(first.search("testing", 15))
    assert len(papers) == 15 and len(server.requests) == 2
    again = asyncio.run(first.search("testing", 15))
    rerun = ArxivSource(server.url, cache_path=cache, page_size=10, **FAST)  # a new process, same cache
    from_disk = asyncio.run(rerun.search("testing", 15))
    assert again == papers and from_disk == papers and from_disk[0].id == recorded_ids(PAGES[0])[0]
    assert len(server.requests) == 2 and rerun.requests_made == 0
    assert (first.cache_hits, rerun.cache_hits) == (1, 1)
    # the key is the exact query: another max_results is another request
    assert len(asyncio.run(rerun.search("testing", 10))) == 10 and rerun.requests_made == 1


def test_cache_ttl_expiry_makes_a_new_request(server, tmp_path):
    src = ArxivSource(server.url, cache_path=tmp_path / "c.sqlite", ttl_seconds=0.3, **FAST)
    [p] = asyncio.run(src.lookup(["1605.08386"]))
    asyncio.run(src.lookup(["1605.08386"]))
    assert (src.requests_made, src.cache_hits) == (1, 1)
    time.sleep(0.35)
    [q] = asyncio.run(src.lookup(["1605.08386"]))
    assert q == p and (src.requests_made, src.cache_hits) == (2, 1) and len(server.requests) == 2


def test_cache_only_mode(server, tmp_path):
    cache = tmp_path / "c.sqlite"
    cold = ArxivSource(server.url, cache_path=cache, cache_only=True, **FAST)
    with pytest.raises(SourceUnavailableError, match="cache-only mode and no cached arXiv response for ids 1605.08386"):
        asyncio.run(cold.lookup(["1605.08386"]))
    assert server.requests == [] and cold.requests_made == 0
    asyncio.run(ArxivSource(server.url, cache_path=cache, **FAST).lookup(["1605.08386"]))  # warm it
    time.sleep(0.05)
    offline = ArxivSource(server.url, cache_path=cache, cache_only=True, ttl_seconds=0.01, **FAST)
    [p] = asyncio.run(offline.lookup(["1605.08386"]))  # stale entries still serve offline runs
    assert p.title == "Heat-bath random walks with Markov bases"
    assert len(server.requests) == 1 and offline.requests_made == 0 and offline.cache_hits == 1


def test_unreachable_url_raises_source_unavailable():
    url = closed_port_url()
    src = ArxivSource(url, max_retries=1, **FAST)
    t0 = time.monotonic()
    with pytest.raises(SourceUnavailableError) as err:
        asyncio.run(src.search("all:clip AND ti:attack", 5))
    message = str(err.value)
    assert message == f"arXiv at {url} unavailable after 2 attempt(s): ConnectionError"
    assert src.requests_made == 2 and time.monotonic() - t0 < 5


def test_url_comes_from_env_then_default(server, monkeypatch):
    monkeypatch.setenv(URL_ENV, server.url)
    src = ArxivSource(**FAST)
    assert src.url == server.url
    assert asyncio.run(src.lookup(["1605.08386"]))[0].id == "1605.08386"
    monkeypatch.delenv(URL_ENV)
    assert ArxivSource().url == DEFAULT_ARXIV_URL == "https://export.arxiv.org/api/query"
    with pytest.raises(ValueError):
        ArxivSource("ftp://example.org/api/query")
