"""nim mode end to end: the real ChatNVIDIA / NVIDIAEmbeddings clients against the scripted
NIM server (tests/scripted_llm.py), through every LLM role of the graph."""

from __future__ import annotations

import asyncio
import json

import pytest
from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
from langchain_core.messages import AIMessage
from langgraph.checkpoint.memory import InMemorySaver
from nim_server import CHAT
from scripted_llm import INVENTED_SPAN, ResearchNIMServer, role_of

from conftest import COVERED_QUESTION, SMALL_CORPUS
from sovereign_kernel.agents.extractor import extract_llm
from sovereign_kernel.app.api import research, resume
from sovereign_kernel.app.kernel import Kernel
from sovereign_kernel.domain.settings import LLM_ROLES as ROLES
from sovereign_kernel.domain.settings import LLMSettings, Settings, TribunalSettings
from sovereign_kernel.domain.text import clip, split_sentences
from sovereign_kernel.graph.build import build_graph
from sovereign_kernel.llm.session import BUDGET_SPENT, LLMSession
from sovereign_kernel.runtime.checkpoints import SERDE
from sovereign_kernel.sources.corpus import load_corpus
from sovereign_kernel.tribunal.rubric import combined_score
from sovereign_kernel.verification.spans import find_span

ABSTRACTS = {p.id: p.abstract for p in load_corpus(str(SMALL_CORPUS)).papers}


@pytest.fixture(scope="module")
def srv():
    with ResearchNIMServer() as server:
        yield server


@pytest.fixture(scope="module")
def home(tmp_path_factory):
    return tmp_path_factory.mktemp("nim-home")


def settings_for(srv, **overrides) -> LLMSettings:
    return LLMSettings(nim_base_url=srv.base_url, max_concurrency=16, backoff_initial_s=0.01, backoff_max_s=0.05,
                       **overrides)


def reset(srv) -> None:
    srv.requests.clear()
    srv.usage_totals.clear()
    srv.responder = None


def chat_requests(srv, role: str | None = None) -> list:
    return [r for r in srv.requests_to(CHAT) if role is None or role_of(r.text) == role]


@pytest.fixture(scope="module")
def full_run(srv, home):
    """One nim run forced through a revision round (threshold 10), so every role is called."""
    reset(srv)
    result = research(COVERED_QUESTION, corpus=str(SMALL_CORPUS), home=str(home), revision_threshold=10.0,
                      max_revision_rounds=1, llm_settings=settings_for(srv))
    return result, list(srv.requests), dict(srv.usage_totals)


def test_full_run_goes_through_every_llm_role(full_run):
    result, requests, _ = full_run
    manifest, report = result.manifest, result.report
    roles = manifest["llm_usage"]["roles"]
    assert set(ROLES) <= set(roles) and all(roles[r]["calls"] >= 1 for r in ROLES), roles
    assert {role_of(r.text) for r in requests if r.path == CHAT} == set(ROLES)
    assert manifest["provenance"]["mode"] == "nim" == report.methodology["mode"]
    assert manifest["provenance"]["models"]["llm"] == {r: "meta/llama-3.3-70b-instruct" for r in ROLES}
    assert manifest["provenance"]["models"]["embedder"] == "nvidia/nv-embedqa-e5-v5"
    assert manifest["fallbacks"] == [] and manifest["llm_usage"]["fallbacks"] == []
    assert report.results.revision_round == 1 and "LLM reviser" in report.methodology["revision"]
    assert "LLM planner" in report.methodology["queries"] and "LLM atomic claims" in report.methodology["extraction"]


def test_report_claims_come_from_the_scripted_answers_with_checked_spans(full_run):
    result, requests, _ = full_run
    answered = [json.loads(r.answer) for r in requests if r.path == CHAT and role_of(r.text) == "extractor"]
    scripted = {clip(c["text"], 600) for a in answered for c in a["claims"]}  # long claims are cut at 600
    claims = result.report.claims
    assert len(claims) >= 6
    for c in claims:
        assert c.method.startswith("llm-extract-v1") and "#l" in c.id
        assert c.text in scripted
        assert ABSTRACTS[c.paper_id][c.source_span.start:c.source_span.end] == c.source_span.text
        assert c.span_match is not None and c.span_match >= 0.9
        assert c.label in ("SUPPORTED", "CONTRADICTED", "NOT_ENOUGH_INFO")
        assert c.label_method == "llm-verifier:meta/llama-3.3-70b-instruct"
        assert c.grounded <= (c.label == "SUPPORTED")  # a claim not labelled SUPPORTED is never verified
        assert c.baseline_score >= 0.0  # the TF-IDF baseline is kept alongside
    assert any(c.span_match < 1.0 for c in claims)  # a near-verbatim span, stored at its real offsets
    assert all(INVENTED_SPAN not in c.source_span.text for c in claims)
    # One invented span per extracted paper, each rejected and counted once (round 1 replays from the cache).
    extracted_papers = {r.text.split("Paper ", 1)[1].split(",", 1)[0] for r in requests
                        if r.path == CHAT and role_of(r.text) == "extractor"}
    usage = result.manifest["llm_usage"]["roles"]["extractor"]
    assert usage["rejected"] == len(extracted_papers) and usage["cache_hits"] >= 1
    assert any(u.startswith("Invented spans:") for u in result.report.uncertainties)


def test_the_calibrated_verifier_scores_with_the_embedder_it_was_fit_with(full_run, home, srv):
    import sqlite3

    result, _, _ = full_run
    models = result.manifest["provenance"]["models"]
    assert models["embedder"] == "nvidia/nv-embedqa-e5-v5"  # retrieval ranks with NIM ...
    local = models["verifier_embedder"]
    assert local.startswith("all-MiniLM-L6-v2")  # ... the calibration's features use its own MiniLM
    assert f"(sentence vectors: {local})" in result.report.methodology["verification"]
    with sqlite3.connect(Settings(home=home).caches / "vectors.sqlite") as db:
        stored = {m for (m,) in db.execute("SELECT DISTINCT model FROM vectors WHERE kind = 'passage'")}
    # NIM vectors are cached per endpoint (model@base_url): two servers may serve different vectors. (The
    # cache may hold other servers' vectors: outside xdist the session cache outlives the session.)
    assert local in stored and f"nvidia/nv-embedqa-e5-v5@{srv.base_url}" in stored
    assert "nvidia/nv-embedqa-e5-v5" not in stored  # never under the bare model name


def test_the_papers_side_of_verification_is_encoded_while_the_models_extract(srv, tmp_path, monkeypatch):
    import sovereign_kernel.agents.verifier as verifier

    reset(srv)
    seen = {}
    real_side, real_verify = verifier.encode_papers_side, verifier.sentence_verify

    def side(papers, **caches):
        seen["side_papers"] = sorted(p.id for p in papers)
        real_side(papers, **caches)

    def scored(claims, papers, **kw):  # at verify time: what is still to encode?
        tokens, vectors = kw["tokens"], kw["vectors"]
        before = tokens.computed, vectors.computed
        out = real_verify(claims, papers, **kw)
        seen["encoded_in_verify"] = (tokens.computed - before[0], vectors.computed - before[1])
        paper_texts = {s.text for p in papers for s in split_sentences(p.abstract)} | {p.title for p in papers}
        seen["new_claim_texts"] = len({c.text for c in claims} - paper_texts)
        seen["verify_papers"] = sorted(p.id for p in papers)
        return out

    monkeypatch.setattr(verifier, "encode_papers_side", side)
    monkeypatch.setattr(verifier, "sentence_verify", scored)
    # A fresh kernel (nothing verified yet) and its own cache dir (nothing encoded yet); no rerank, which
    # would read the papers before the extraction, and 3 papers (the time of a cold run).
    result = research(COVERED_QUESTION, corpus=str(SMALL_CORPUS), home=str(tmp_path), cache_dir=str(tmp_path),
                      max_revision_rounds=0, max_papers=3, rerank_depth=0, llm_settings=settings_for(srv))
    assert result.report.claims and seen["side_papers"] == seen["verify_papers"]
    # Only claim text that is no sentence of a paper was encoded in the verify step; every
    # sentence, abstract and title was ready from the branch beside the extraction requests.
    assert seen["encoded_in_verify"] == (seen["new_claim_texts"], seen["new_claim_texts"])


def test_reviews_keep_the_rubric_score_beside_the_llm_score(full_run):
    result, _, _ = full_run
    tribunal = result.manifest["tribunal"]
    for review in result.report.tribunal.reviews:
        assert review.rubric_score is not None and review.llm_score is not None and review.llm_reasons
        assert review.score == combined_score(review.rubric_score, review.llm_score, TribunalSettings())
        assert review.score <= review.rubric_score + TribunalSettings().llm_review_max_raise
    for entry in tribunal["reviews"]:
        assert entry["rubric_score"] is not None and entry["llm_score"] is not None
    assert "min(0.5 x rubric + 0.5 x LLM, rubric + 1.0)" in tribunal["rule"]
    assert "LLM reviewer" in result.markdown


def test_manifest_token_counts_equal_what_the_server_saw(full_run):
    result, requests, server_totals = full_run
    totals = result.manifest["llm_usage"]["totals"]
    assert totals["prompt_tokens"] == server_totals[CHAT]["prompt_tokens"] > 0
    assert totals["completion_tokens"] == server_totals[CHAT]["completion_tokens"] > 0
    assert totals["total_tokens"] == server_totals[CHAT]["total_tokens"]
    assert totals["calls"] == len([r for r in requests if r.path == CHAT])
    per_role = {r: s["prompt_tokens"] for r, s in result.manifest["llm_usage"]["roles"].items()}
    for role in ROLES:
        assert per_role[role] == sum(r.usage["prompt_tokens"] for r in requests
                                     if r.path == CHAT and role_of(r.text) == role)


def test_verifier_asks_once_per_paper_and_a_missing_judgement_degrades_that_claim_only(full_run, srv):
    from nim_server import Reply
    from sovereign_kernel.agents.verifier import NO_JUDGEMENT, judge_paper

    result, requests, _ = full_run
    asked = [r for r in requests if r.path == CHAT and role_of(r.text) == "verifier"]
    judged = [len(json.loads(r.answer)["judgements"]) for r in asked]
    claims = result.report.claims
    assert len(asked) <= len({c.paper_id for c in claims}) + 4 < len(claims)  # per paper, not per claim
    assert max(judged) >= 2 and sum(judged) >= len(claims)

    # An answer that skips claim 0: claim 1 gets its label, claim 0 keeps its calibrated verdict
    # alone and the fallback names it; one request for both.
    two = [claims[0], claims[1].model_copy(update={"paper_id": claims[0].paper_id})]
    passages = {c.id: [(c.paper_id, c.source_span.text)] for c in two}
    reset(srv)
    srv.script(CHAT, Reply(content={"judgements": [
        {"claim": 1, "label": "SUPPORTED", "rationale": "It says so.", "evidence_index": 0}]}))
    sess = LLMSession.create(settings_for(srv))
    labels = asyncio.run(judge_paper(sess, two[0].paper_id, two, passages))
    assert len(chat_requests(srv, "verifier")) == 1
    assert labels[0] is None and labels[1]["label"] == "SUPPORTED"
    assert labels[1]["label_rationale"].startswith(f"arXiv:{two[1].paper_id}: ")
    assert [(f["item"], f["reason"]) for f in sess.usage_report()["fallbacks"]] == [(two[0].id, NO_JUDGEMENT)]


def test_cache_only_replay_makes_zero_llm_calls_and_reproduces_the_report(full_run, srv, home):
    result, _, _ = full_run
    reset(srv)
    recorded = Settings.from_record(result.manifest["provenance"]["settings"], home=str(home))
    assert recorded.llm.nim_base_url == srv.base_url  # a model run records its llm settings (never the key)
    context = Kernel().context(recorded, run_id=result.run_id, replay_mode="nim",
                               llm_models=result.manifest["provenance"]["models"]["llm"])
    assert context.llm_session.cache_only and context.mode == "nim" and context.replay

    async def replay():
        graph = build_graph(checkpointer=InMemorySaver(serde=SERDE))
        config = {"configurable": {"thread_id": "replay"}}
        await graph.ainvoke({"question": COVERED_QUESTION}, config=config, context=context)
        return (await graph.aget_state(config)).values

    state = asyncio.run(replay())
    assert chat_requests(srv) == []  # every answer came from the run's response cache
    assert state["manifest"]["content_hash"] == result.manifest["content_hash"]
    assert state["manifest"]["llm_usage"]["totals"]["calls"] == 0
    # every item the run asked (no fallbacks) is answered from the cache
    assert state["manifest"]["llm_usage"]["totals"]["cache_hits"] == result.manifest["llm_usage"]["totals"]["items"]


def test_budget_stops_llm_calls_and_the_run_finishes_offline(srv, home):
    reset(srv)
    result = research(COVERED_QUESTION, corpus=str(SMALL_CORPUS), home=str(home),
                      llm_settings=settings_for(srv, token_budget=100))
    usage = result.manifest["llm_usage"]
    # The planner's one call (~150 tokens) spends the budget; no other request reaches the server.
    assert [role_of(r.text) for r in chat_requests(srv)] == ["planner"]
    assert usage["budget"]["spent"] and usage["budget"]["tokens_used"] == srv.usage_totals[CHAT]["total_tokens"]
    for role in ("extractor", "verifier", "skeptic", "validator", "synthesizer"):
        assert usage["roles"][role]["calls"] == 0 and usage["roles"][role]["fallbacks"] == usage["roles"][role]["items"] > 0
    assert {f["reason"] for f in result.manifest["fallbacks"]} == {BUDGET_SPENT}
    claims = result.report.claims
    assert claims and all(c.method.startswith("offline-cue-v1") and c.label is None for c in claims)
    assert all(r.llm_score is None and r.score == r.rubric_score for r in result.report.tribunal.reviews)
    assert any(u.startswith("LLM fallbacks:") for u in result.report.uncertainties)
    # the methodology says where the budget stopped calls, and describes the stages as the offline ones that ran
    m = result.report.methodology
    assert "token budget 100 tokens: spent; it stopped calls from the extractor on" in m["llm"], m["llm"]
    assert "LLM atomic claims" not in m["extraction"] and "was configured but not used" in m["extraction"]
    assert "token budget spent" in m["extraction"]
    assert "LLM planner" in m["queries"]  # the one stage the model did answer


def test_resumed_run_repeats_no_finished_llm_call(srv, home, monkeypatch):
    import sovereign_kernel.agents.verifier as verifier

    reset(srv)
    real_progress = verifier.progress

    def crash_after_verifying(stage, **data):
        if stage == "verify":
            raise RuntimeError("simulated crash after the LLM verifier answered")
        real_progress(stage, **data)

    monkeypatch.setattr(verifier, "progress", crash_after_verifying)
    ls = settings_for(srv)
    with pytest.raises(RuntimeError, match="simulated crash"):
        research(COVERED_QUESTION, corpus=str(SMALL_CORPUS), home=str(home), run_id="run-crash-verify",
                 llm_settings=ls)
    verifier_calls = len(chat_requests(srv, "verifier"))
    assert verifier_calls >= 6
    monkeypatch.setattr(verifier, "progress", real_progress)

    result = resume("run-crash-verify", home=str(home), llm_settings=ls)
    assert len(chat_requests(srv, "verifier")) == verifier_calls  # the re-run verify node asked the cache
    usage = result.manifest["llm_usage"]
    assert usage["roles"]["verifier"]["cache_hits"] == verifier_calls
    assert usage["roles"]["verifier"]["calls"] == verifier_calls  # counted before the crash, restored
    assert usage["totals"]["calls"] == len(chat_requests(srv))
    assert usage["totals"]["total_tokens"] == srv.usage_totals[CHAT]["total_tokens"]
    assert {role_of(r.text) for r in chat_requests(srv)} >= {"skeptic", "validator", "synthesizer"}


# ---- span checking, unit level ---------------------------------------------------------------

ABSTRACT = ("Vision-language models are widely used. We show that CLIP is highly vulnerable to typographic "
            "attacks, with accuracy dropping from 90.1% to 12.4% on ImageNet. A simple prefix defense restores "
            "most of the accuracy.")


def test_find_span_accepts_verbatim_and_near_verbatim_and_rejects_invented():
    exact = "We show that CLIP is highly vulnerable to typographic attacks"
    start, end, match = find_span(ABSTRACT, exact)
    assert ABSTRACT[start:end] == exact and match == 1.0
    start, end, match = find_span(ABSTRACT, "We show that  CLIP is highly\nvulnerable to typographic attacks")
    assert ABSTRACT[start:end] == exact and match == 1.0  # whitespace-normalised
    start, end, match = find_span(ABSTRACT, "with accuracy dropping from 90.1% to 12.4% on Imagenet")
    assert ABSTRACT[start:end].startswith("with accuracy dropping") and 0.9 <= match < 1.0
    assert find_span(ABSTRACT, "We prove that CLIP is robust to all typographic attacks on every dataset") is None
    assert find_span(ABSTRACT, "CLIP") is None  # a term is not a claim's span


def _session(*answers: dict) -> LLMSession:
    fake = GenericFakeChatModel(messages=iter([AIMessage(json.dumps(a)) for a in answers]))
    return LLMSession(fake, LLMSettings(invalid_retries=0))


def test_invented_spans_are_rejected_and_a_paper_with_only_invented_spans_falls_back(workspace):
    res = workspace.resources(Settings(corpus=str(SMALL_CORPUS)))
    paper = res.corpus.by_id["2304.04512"]
    real = paper.abstract.split(". ")[2]
    invented = "Our defense makes CLIP provably immune to every typographic attack."
    sess = _session({"claims": [{"text": "A claim.", "source_span": invented},
                                {"text": "A real claim.", "source_span": real}]},
                    {"claims": [{"text": "Invented.", "source_span": invented}]})
    claims = asyncio.run(extract_llm(sess, COVERED_QUESTION, paper, res, Settings().extraction))
    [claim] = claims
    assert claim.text == "A real claim." and claim.id == f"{paper.id}#l1"
    assert paper.abstract[claim.source_span.start:claim.source_span.end] == claim.source_span.text == real
    assert sess.usage_report()["roles"]["extractor"]["rejected"] == 1
    assert asyncio.run(extract_llm(sess, COVERED_QUESTION, paper, res, Settings().extraction)) is None  # -> offline
    assert sess.usage_report()["roles"]["extractor"]["rejected"] == 1  # the same invented span counts once
    assert sess.fallbacks[-1]["item"] == paper.id and "no source span" in sess.fallbacks[-1]["reason"]
