"""A whole research run against the arXiv replay server (real `arxiv` client, no internet)."""

import pytest

from arxiv_replay_server import ArxivReplayServer, closed_port_url
from conftest import SMALL_CORPUS

QUESTION = "How are software testing methods evaluated in practice?"
RECORDED = "q_testing_s0_m10_bc5a6c384fe9.xml"  # arXiv's answer to search_query=testing


def recorded_ids(server):
    import re

    body = next(r.body for r in server.recordings if r.name == RECORDED).decode()
    return {re.sub(r"v\d+$", "", m) for m in re.findall(r"<id>https?://arxiv.org/abs/([^<]+)</id>", body)}


def test_arxiv_source_run_cites_only_replayed_papers(tmp_path):
    from sovereign_kernel.app.api import research

    with ArxivReplayServer(default_search=RECORDED) as server:
        result = research(QUESTION, sources="arxiv", arxiv_url=server.url, arxiv_min_interval=0.05,
                          home=str(tmp_path), relevance_gate=0.0)
        queries = {r.params.get("search_query") for r in server.requests}
        url = server.url
    refs = {r.id for r in result.report.references}
    assert refs and refs <= recorded_ids(server)
    assert all(p["source"] == "arxiv" for p in result.manifest["provenance"]["sources"])
    assert 1 <= len(queries) <= 4  # the planned queries, in arXiv syntax
    assert all(q.startswith("all:") for q in queries)

    # A re-run is served from the response cache alone: the server is gone, cache-only is on.
    again = research(QUESTION, sources="arxiv", arxiv_url=url, arxiv_min_interval=0.05,
                     home=str(tmp_path), relevance_gate=0.0, arxiv_cache_only=True)
    assert {r.id for r in again.report.references} == refs


def test_unreachable_arxiv_falls_back_to_local_and_says_so(tmp_path):
    from sovereign_kernel.app.api import research

    result = research("How vulnerable is CLIP to typographic attacks?", sources="arxiv,local",
                      arxiv_url=closed_port_url(), arxiv_min_interval=0.0, arxiv_max_retries=0,
                      corpus=str(SMALL_CORPUS), home=str(tmp_path))
    assert result.report.references
    assert any(u.startswith("Live arXiv source failed") for u in result.report.uncertainties)


def test_unreachable_arxiv_with_no_other_source_is_a_clear_error(tmp_path):
    from sovereign_kernel.app.api import research
    from sovereign_kernel.sources.arxiv import SourceUnavailableError

    with pytest.raises(SourceUnavailableError, match="no source left"):
        research("How vulnerable is CLIP to typographic attacks?", sources="arxiv",
                 arxiv_url=closed_port_url(), arxiv_min_interval=0.0, arxiv_max_retries=0, home=str(tmp_path))
