"""``--source arxiv --full-text`` end to end, offline: the real ``arxiv`` client against the replayed
query API, and the kept papers' PDFs downloaded from the same local server (``arxiv_pdf_server``),
which serves the real PaSa PDF (tests/fixtures/arxiv_pdf, see PROVENANCE.md) under every recorded
id. The run is forced into one revision round (``revision_threshold=10``). Of the two kept papers,
the first whose PDF is asked for never gets one (arXiv's "PDF being generated" HTML page, every
time): it is read from its abstract and the report says so. The second's PDF fails once, in the
first round, and is downloaded and read in full in the revision round."""

from __future__ import annotations

import re
from itertools import pairwise

import pytest
from pdf_pages import pages_holding
from arxiv_pdf_server import PDF_FIXTURES, ArxivPdfServer, _PdfScript

QUESTION = "How are software testing methods evaluated in practice?"
RECORDED = "q_testing_s0_m10_bc5a6c384fe9.xml"  # arXiv's answer to search_query=testing
PASA = PDF_FIXTURES / "2501.10120v1.pdf"
INTERVAL = 0.1  # arxiv_min_interval for the test (arXiv's own is 3 s)
MAX_PAPERS = 2


class FlakyPdfServer(ArxivPdfServer):
    """The first PDF path asked for always answers HTML; the second answers HTML the first time only."""

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.order: list[str] = []

    def _script(self, path: str):
        with self._pdf_lock:
            first_time = path not in self.order
            if first_time:
                self.order.append(path)
            rank = self.order.index(path)
        if rank == 0 or (rank == 1 and first_time):
            return _PdfScript("html", 1)
        return super()._script(path)


@pytest.fixture(scope="module")
def arxiv_run(kernel, tmp_path_factory):
    home = tmp_path_factory.mktemp("arxiv-fulltext")
    with FlakyPdfServer(default_search=RECORDED) as server:
        data = PASA.read_bytes()
        for rec in server.recordings:  # every recorded id (with its version) serves the PaSa PDF
            for name in re.findall(r"<id>https?://arxiv.org/abs/([^<]+)</id>", rec.body.decode()):
                server.add_pdf(name, data)
        result = kernel.research(QUESTION, sources="arxiv", arxiv_url=server.url, arxiv_pdf_url=server.pdf_url,
                                 arxiv_full_text=True, arxiv_min_interval=INTERVAL, relevance_gate=0.0,
                                 max_papers=MAX_PAPERS, passages_per_paper=3,
                                 revision_threshold=10.0, max_revision_rounds=1, home=str(home),
                                 cache_dir=str(home / "cache"))
        urls = (server.url, server.pdf_url)
    never, later = (pdf_id(p) for p in server.order)
    return result, server, home, never, later, urls


def pdf_id(path: str) -> str:
    return re.sub(r"v\d+$", "", path.removeprefix("/pdf/"))


def test_kept_papers_pdfs_are_requested_through_the_server(arxiv_run):
    result, server, home, never, later, _ = arxiv_run
    assert result.report.results.revision_round == 1
    kept = {r.id for r in result.report.references}
    assert kept == {never, later}
    # round 0 asks for both (the first asked for is, by definition, the one that never comes); the
    # revision round asks again for both (neither was read), in either order
    got = [(pdf_id(r.path), r.answered_by.removeprefix("script:")) for r in server.pdf_requests]
    assert got[:2] == [(never, "html"), (later, "html")]
    assert sorted(got[2:]) == sorted([(never, "html"), (later, server.order[1].removeprefix("/pdf/"))])
    assert all(r.status == 200 for r in server.pdf_requests)
    # the one download that succeeded is cached (by URL) under the run's caches
    assert len(list((home / "cache" / "arxiv_pdf").rglob("*.pdf"))) == 1


def test_api_and_pdf_requests_share_one_limiter(arxiv_run, kernel):
    _, server, *_, (api_url, pdf_url) = arxiv_run
    assert len(server.requests) >= 1 and len(server.pdf_requests) == 4
    # every request, searches and downloads alike, took its slot from the one limiter of that host
    limiters = kernel.workspace.arxiv_limiters
    assert limiters.for_url(api_url) is limiters.for_url(pdf_url)
    starts = limiters.for_url(pdf_url).starts
    assert len(starts) == len(server.requests) + len(server.pdf_requests)
    sent = [b - a for a, b in pairwise(starts)]
    assert min(sent) >= INTERVAL - 1e-6, sent  # spaced by arxiv_min_interval where they were sent
    # (arrival times at the server are not asserted: on a loaded 2-core machine the server's accept
    # thread can be scheduled late for one request and early for the next)
    assert server.max_in_flight == 1  # one connection at a time


def test_a_pdf_that_never_comes_leaves_the_paper_read_from_its_abstract_and_says_so(arxiv_run):
    result, _, _, never, _, _ = arxiv_run
    notes = [u for u in result.report.uncertainties if u.startswith(f"Full text unavailable: arXiv:{never} ")]
    assert len(notes) == 1, result.report.uncertainties
    assert notes[0].startswith(f"Full text unavailable: arXiv:{never} read from its abstract (")
    assert "not a PDF" in notes[0] and "\n" not in notes[0]
    mine = [c for c in result.report.claims if c.paper_id == never]
    assert mine and all(c.source_span.location == "abstract" for c in mine)
    assert not [p for p in result.report.passages_read if p.paper_id == never]
    assert result.report.report_id and result.markdown  # the run completed, from the abstract


def test_a_pdf_had_in_the_revision_round_is_read_in_full_with_pages(arxiv_run):
    result, _, _, _, read, _ = arxiv_run
    passages = [p for p in result.report.passages_read if p.paper_id == read]
    assert passages and all(1 <= p.page <= p.end_page <= 15 for p in passages)
    body = [c for c in result.report.claims if c.paper_id == read and c.source_span.location == "body"]
    assert body, [c.id for c in result.report.claims]
    for c in body:
        span = c.source_span
        assert c.id == f"{read}#b{span.start}"
        held = [p for p in passages if p.start <= span.start and span.end <= p.end]
        assert held and held[0].text[span.start - held[0].start:span.end - held[0].start] == span.text
        assert span.page in pages_holding(PASA, span.text), (span.page, span.text)
    markdown = result.markdown.replace("\\", "")
    assert re.search(rf"\[C\d+, arXiv:{re.escape(read)}, p\. \d+\]", markdown), markdown
    ref = next(r for r in result.report.references if r.id == read)
    assert ref.url == f"https://arxiv.org/abs/{read}" or ref.url.startswith(f"http://arxiv.org/abs/{read}")


def test_no_full_text_unavailable_note_for_a_paper_read_in_full(arxiv_run):
    result, _, _, _, read, _ = arxiv_run
    assert any(c.paper_id == read and c.source_span.location == "body" for c in result.report.claims)
    assert not [u for u in result.report.uncertainties if u.startswith(f"Full text unavailable: arXiv:{read} ")], \
        result.report.uncertainties
