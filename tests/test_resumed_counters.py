"""A run's LLM counters (items, fallbacks, rejected spans) live in its checkpointed state: a run
that crashed and was resumed reports what an uninterrupted run reports, and `reproduce` agrees."""

import asyncio

import pytest
from scripted_llm import ResearchNIMServer

from conftest import COVERED_QUESTION, SMALL_CORPUS
from sovereign_kernel.app.api import research, resume
from sovereign_kernel.app.reproduce import areproduce
from sovereign_kernel.domain.settings import LLMSettings, Settings


@pytest.fixture(scope="module")
def srv():
    with ResearchNIMServer() as server:
        yield server


def test_a_crash_between_extraction_and_verification_loses_no_rejected_span(srv, tmp_path, monkeypatch):
    import sovereign_kernel.agents.verifier as verifier

    ls = LLMSettings(nim_base_url=srv.base_url, max_concurrency=16, backoff_initial_s=0.01, backoff_max_s=0.05)
    home = tmp_path / "home"
    real = verifier.index_passages

    def crash(*a, **k):  # every extraction (and its rejected span) is done; no later LLM call has run
        raise RuntimeError("simulated crash before the verifier")

    monkeypatch.setattr(verifier, "index_passages", crash)
    with pytest.raises(RuntimeError, match="simulated crash"):
        research(COVERED_QUESTION, corpus=str(SMALL_CORPUS), home=str(home), run_id="crash-count", llm_settings=ls)
    monkeypatch.setattr(verifier, "index_passages", real)
    done = resume("crash-count", home=str(home), llm_settings=ls)

    usage = done.manifest["llm_usage"]["roles"]["extractor"]
    # The scripted extractor invents one span per paper it is asked about: every one is counted once.
    assert usage["rejected"] == usage["items"] == done.report.results.papers_kept > 0
    assert f"Invented spans: {usage['rejected']} LLM-extracted claims" in done.markdown

    outcome = asyncio.run(areproduce(done.report.report_id, Settings(home=str(home))))
    assert outcome["verdict"] == "REPRODUCED", outcome["differences"]
