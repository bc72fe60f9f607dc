"""Faults of the model endpoints (issue 14, findings 1-3), with the real ChatNVIDIA /
NVIDIAEmbeddings clients against the NIM-protocol test server (tests/nim_server.py):

1. a failing embeddings endpoint: retried, then the run switches to the local embedder and says so;
2. a 429 costs one request per attempt (no structured-output format fallback on it), and its
   ``Retry-After`` is waited;
3. the token budget is reserved before a call is admitted (overshoot at most one call), and
   embedding requests are metered and counted in it.
"""

from __future__ import annotations

import asyncio
import json
import threading

import numpy as np
import pytest
from nim_server import CHAT, EMBED, NIMServer, Reply
from scripted_llm import ResearchNIMServer

from conftest import COVERED_QUESTION, SMALL_CORPUS
from sovereign_kernel.app.api import research
from sovereign_kernel.domain.settings import LLMSettings
from sovereign_kernel.llm.providers import make_embeddings
from sovereign_kernel.llm.remote_embeddings import EmbeddingsUnavailable, RetryingEmbeddings
from sovereign_kernel.llm.schemas import PlannedQueries
from sovereign_kernel.llm.session import BUDGET_SPENT, LLMSession
from sovereign_kernel.llm.usage import UsageMeter
from sovereign_kernel.runtime.run_vectors import RunVectors

KEY = "nvapi" + "-CANARY-0123456789faultsXYZ"  # split so no key-shaped literal is committed


@pytest.fixture
def srv():
    with NIMServer() as server:
        yield server


@pytest.fixture(scope="module")
def research_srv():
    with ResearchNIMServer() as server:
        yield server


def nim(srv, **overrides) -> LLMSettings:
    overrides.setdefault("backoff_initial_s", 0.01)
    overrides.setdefault("backoff_max_s", 0.05)
    return LLMSettings(nim_base_url=srv.base_url, **overrides)


def run(session: LLMSession, *prompts: str):
    async def go():
        return await asyncio.gather(*(session.structured("planner", PlannedQueries, p, item=p[:12]) for p in prompts))
    return asyncio.run(go())


def reset(srv) -> None:
    srv.requests.clear()
    srv.usage_totals.clear()
    srv.responder = srv.fault = None


# ---- finding 2: one request per attempt, Retry-After honoured ---------------------------------------

def test_a_429_costs_one_request_per_attempt_and_its_retry_after_is_waited(srv):
    srv.script(CHAT, Reply(status=429, headers={"Retry-After": "0.4"}), Reply(status=503, headers={"Retry-After": "0.2"}))
    session = LLMSession.create(nim(srv))
    [out] = run(session, "plan for a")
    assert isinstance(out, PlannedQueries) and session.fallbacks == []
    chats = srv.requests_to(CHAT)
    assert [r.status for r in chats] == [429, 503, 200]  # no guided_json re-sends of a refused request
    assert {r.structured_style for r in chats} == {"response_format"}
    assert chats[1].t - chats[0].t >= 0.4 and chats[2].t - chats[1].t >= 0.2  # backoff_max_s is 0.05
    stats = session.usage_report()["roles"]["planner"]
    assert stats["calls"] == 3 and stats["errors"] == 2


def test_format_fallback_happens_on_a_format_error_and_the_working_format_is_kept(srv):
    srv.fault = lambda rec: (Reply(status=422, error="response_format is not supported")
                             if rec.path == CHAT and rec.structured_style == "response_format" else None)
    session = LLMSession.create(nim(srv))
    assert all(isinstance(o, PlannedQueries) for o in run(session, "plan for a"))
    assert all(isinstance(o, PlannedQueries) for o in run(session, "plan for b"))
    styles = [(r.structured_style, r.status) for r in srv.requests_to(CHAT)]
    assert styles == [("response_format", 422), ("guided_json", 200), ("guided_json", 200)]


def test_a_null_answer_is_re_asked_in_the_format_that_worked_one_request_each(srv):
    session = LLMSession.create(nim(srv))
    run(session, "plan for ok")
    srv.script(CHAT, Reply(null=True), Reply(null=True))
    [out] = run(session, "plan for BAD")
    assert out is None
    bad = [r for r in srv.requests_to(CHAT) if "BAD" in r.text]
    assert len(bad) == 2 and {r.structured_style for r in bad} == {"response_format"}  # attempt + re-ask


@pytest.mark.parametrize("fault", [Reply(reset=True), Reply(cut=True), Reply(raw=b"<html>502 Bad Gateway</html>"),
                                   Reply(status=502, headers={"Retry-After": "Wed, 21 Oct 2015 07:28:00 GMT"})],
                         ids=["connection reset", "truncated body", "non-JSON body", "502 with a past HTTP date"])
def test_transport_faults_cost_a_retry_or_a_re_ask_not_the_item(srv, fault):
    session = LLMSession.create(nim(srv))
    run(session, "plan for ok")
    srv.script(CHAT, fault)
    [out] = run(session, "plan for x")
    assert isinstance(out, PlannedQueries) and session.fallbacks == []
    assert len([r for r in srv.requests_to(CHAT) if "plan for x" in r.text]) == 2


@pytest.mark.parametrize("fault", [Reply(reset=True), Reply(cut=True)], ids=["connection reset", "truncated body"])
def test_embedding_transport_faults_are_retried(srv, fault):
    s = nim(srv, max_retries=2)
    emb = RetryingEmbeddings(make_embeddings(s), s)
    srv.script(EMBED, fault)
    assert len(emb.embed_documents(["a", "b"])) == 2 and len(srv.requests_to(EMBED)) == 2


def test_embeddings_honour_retry_after_and_raise_a_typed_error(srv):
    s = nim(srv, max_retries=2)
    emb = RetryingEmbeddings(make_embeddings(s), s)
    srv.script(EMBED, Reply(status=429, headers={"Retry-After": "0.3"}))
    assert len(emb.embed_documents(["a"])) == 1
    first, second = srv.requests_to(EMBED)
    assert second.t - first.t >= 0.3
    srv.script(EMBED, *[Reply(status=500)] * 3)
    with pytest.raises(EmbeddingsUnavailable, match=r"\[500\]"):
        emb.embed_query("q")


# ---- finding 3: the budget is reserved at admission; embeddings are metered -------------------------

def test_a_long_list_the_client_splits_is_metered_request_by_request(srv):
    # langchain-nvidia-ai-endpoints sends at most 50 texts a request: 60 texts are two requests, two usage
    # blocks; the meter once kept only the last block's tokens (found when a run embedded 59 texts at once)
    from sovereign_kernel.llm.usage import UsageMeter, metering_embeddings

    s = nim(srv)
    emb = RetryingEmbeddings(make_embeddings(s), s)
    meter = UsageMeter()
    meter.embedding_model(emb.model)
    with metering_embeddings(meter):
        assert len(emb.embed_documents([f"text number {i} about typographic attacks" for i in range(60)])) == 60
    sent = srv.requests_to(EMBED)
    report = meter.embedding_report()
    assert len(sent) == 2 and report["requests"] == 2 and report["texts"] == 60
    assert report["prompt_tokens"] == srv.usage_totals[EMBED]["prompt_tokens"] > 0


def test_parallel_calls_overshoot_the_budget_by_at_most_one_call(srv):
    session = LLMSession.create(nim(srv, token_budget=2000, max_concurrency=8))
    prompts = [f"plan for item{i} " + "word " * 600 for i in range(8)]
    out = run(session, *prompts)
    chats = srv.requests_to(CHAT)
    per_call = max(r.usage["total_tokens"] for r in chats)
    used = session.tokens_used
    assert used == srv.usage_totals[CHAT]["total_tokens"]
    assert 2000 <= used <= 2000 + per_call, (used, per_call)  # was 8 calls: 4,800+ tokens
    assert sum(o is None for o in out) == 8 - len(chats)
    assert {f["reason"] for f in session.fallbacks} == {BUDGET_SPENT}


def test_meter_reservations_bound_admission():
    meter = UsageMeter(token_budget=1000)
    assert meter.reserve(600) == "admit"
    assert meter.reserve(600) == "wait"  # 600 reserved + 600 > 1000, and a call is in flight
    meter.settle(600)
    assert meter.reserve(1500) == "admit"  # nothing in flight and budget left: one call may overshoot
    meter.add("planner", prompt_tokens=1200)
    meter.settle(1500)
    assert meter.reserve(10) == "refuse"


def test_embedding_tokens_are_metered_and_counted_in_the_budget(research_srv, tmp_path):
    reset(research_srv)
    result = research(COVERED_QUESTION, corpus=str(SMALL_CORPUS), home=str(tmp_path), cache_dir=str(tmp_path),
                      max_revision_rounds=0, llm_settings=nim(research_srv, max_concurrency=16))
    usage = result.manifest["llm_usage"]
    sent = research_srv.usage_totals[EMBED]["prompt_tokens"]
    assert usage["embeddings"]["prompt_tokens"] == sent > 0
    assert usage["embeddings"]["requests"] == len(research_srv.requests_to(EMBED))
    assert usage["embeddings"]["model"] == "nvidia/nv-embedqa-e5-v5" and usage["embeddings"]["fallback"] is None
    assert usage["budget"]["tokens_used"] == research_srv.usage_totals[CHAT]["total_tokens"] + sent


# ---- finding 1: a failing embeddings endpoint: retried, then the local embedder ------------------

@pytest.mark.parametrize("failure", ["60% of requests", "server gone"])
def test_failing_embeddings_fall_back_to_the_local_embedder_for_the_run(research_srv, tmp_path, monkeypatch, failure):
    monkeypatch.setenv("NVIDIA_API_KEY", KEY)
    reset(research_srv)
    seen, lock = [0], threading.Lock()

    def fault(rec):  # 60 %: three of every five requests, in a row (deterministic: 3 = 1 + max_retries)
        if rec.path != EMBED:
            return None
        with lock:
            n, seen[0] = seen[0], seen[0] + 1
        fails = failure == "server gone" or n % 5 < 3
        return Reply(status=500, error="embeddings backend down") if fails else None

    research_srv.fault = fault
    # a cold cache (the embeddings must be requested); 3 papers and no rerank: the fallback is the same
    result = research(COVERED_QUESTION, corpus=str(SMALL_CORPUS), home=str(tmp_path), cache_dir=str(tmp_path),
                      max_revision_rounds=0, max_papers=3, rerank_depth=0, llm_settings=nim(research_srv, max_retries=2))
    m = result.manifest
    fallback = m["llm_usage"]["embeddings"]["fallback"]
    assert fallback["to"].startswith("all-MiniLM-L6-v2") and "[500]" in fallback["reason"]
    assert m["provenance"]["models"]["embedder_fallback"] == fallback
    assert any(u.startswith("Embedder fallback:") for u in result.report.uncertainties)
    assert result.report.claims and m["llm_usage"]["embeddings"]["errors"] >= 3
    text = json.dumps(m) + result.markdown
    assert "CANARY" not in text


def test_a_computation_whose_embeddings_fail_is_redone_with_the_local_model_only(tmp_path):
    class Failing:
        model = "remote"

        def __init__(self):
            self.calls = 0

        def embed_documents(self, texts):
            self.calls += 1
            if self.calls > 1:
                raise EmbeddingsUnavailable("embeddings failed: [500] down")
            return [[1.0, 0.0]] * len(texts)

        def embed_query(self, text):
            return self.embed_documents([text])[0]

    class Local:
        def embed_documents(self, texts):
            return [[0.0, 1.0, 0.0]] * len(texts)

        def embed_query(self, text):
            return [0.0, 1.0, 0.0]

    from sovereign_kernel.retrieval.vectors import VectorCache

    remote = VectorCache(tmp_path / "v.sqlite", Failing(), "remote")
    local = VectorCache(tmp_path / "v.sqlite", Local(), "local")
    meter = UsageMeter()
    vectors = RunVectors(remote, local, meter)
    seen = []

    def compare(v):
        q = v.embed(["question"], kind="query")[0]
        p = v.embed(["a", "b"])
        seen.append((v.model_id, q.shape, p.shape))
        return p @ q

    scores = vectors.consistent(compare, stage="rank")
    assert seen == [("local", (3,), (2, 3))]  # the remote query vector was never compared with local ones
    assert np.allclose(scores, [1.0, 1.0]) and vectors.model_id == "local"
    assert meter.embedding_report()["fallback"]["stage"] == "rank"
    assert vectors.consistent(compare, stage="extract") is not None and seen[-1][0] == "local"
