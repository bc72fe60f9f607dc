"""custom mode: a LangChain chat model passed from Python drives the same agents."""

from __future__ import annotations

import itertools
import json

from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
from langchain_core.messages import AIMessage
from scripted_llm import ScriptedChat

from conftest import COVERED_QUESTION, SMALL_CORPUS
from sovereign_kernel.app.api import research
from sovereign_kernel.llm.providers import ROLES


def test_a_custom_chat_model_drives_every_llm_agent(tmp_path):
    chat = ScriptedChat()
    result = research(COVERED_QUESTION, corpus=str(SMALL_CORPUS), home=str(tmp_path), llm=chat,
                      revision_threshold=10.0, max_revision_rounds=1)
    manifest, report = result.manifest, result.report
    assert manifest["provenance"]["mode"] == "custom" == report.methodology["mode"]
    assert manifest["provenance"]["models"]["llm"] == {r: "scripted-chat" for r in ROLES}
    assert manifest["provenance"]["models"]["embedder"].startswith("all-MiniLM")  # no embeddings passed: local
    assert {role for role, _ in chat.calls} == set(ROLES)
    usage = manifest["llm_usage"]
    assert all(usage["roles"][r]["calls"] >= 1 for r in ROLES) and manifest["fallbacks"] == []
    # the model reports usage_metadata: the manifest counts exactly what it reported
    assert usage["totals"]["calls"] == len(chat.calls)
    assert usage["totals"]["prompt_tokens"] > 0 and usage["totals"]["estimated_tokens"] == 0
    assert report.claims and all(c.method.startswith("llm-extract-v1") for c in report.claims)
    assert all(c.label_method == "llm-verifier:scripted-chat" for c in report.claims)
    assert all(r.llm_score is not None for r in report.tribunal.reviews)


def test_generic_fake_chat_model_runs_the_graph_and_falls_back_where_its_answers_do_not_fit(tmp_path):
    # One answer that validates against every role's schema (pydantic ignores the other keys).
    universal = {"queries": ["typographic attacks CLIP", "CLIP typographic attack defense"],
                 "claims": [{"text": "CLIP can be fooled.", "source_span": "A span that is in no abstract at all."}],
                 "judgements": [{"claim": n, "label": "SUPPORTED", "rationale": "Passage [0].", "evidence_index": 0}
                                for n in range(3)],  # claims_per_paper: one per claim of a paper
                 "score": 7.0, "reasons": ["fine"], "recommendations": [],
                 "drops": [], "refined_queries": [], "notes": ["nothing to change"]}
    fake = GenericFakeChatModel(messages=itertools.repeat(AIMessage(json.dumps(universal))))
    result = research(COVERED_QUESTION, corpus=str(SMALL_CORPUS), home=str(tmp_path), llm=fake)
    manifest, report = result.manifest, result.report
    assert manifest["provenance"]["mode"] == "custom"
    assert manifest["provenance"]["models"]["llm"]["planner"] == "GenericFakeChatModel"
    # its two queries first, topped up to four by the offline planner
    assert ": typographic attacks CLIP | CLIP typographic attack defense | " in report.methodology["queries"]
    # its claims' span is in no abstract: rejected, and every paper was extracted offline instead
    assert report.claims and all(c.method.startswith("offline-cue-v1") for c in report.claims)
    extractor = manifest["llm_usage"]["roles"]["extractor"]
    assert extractor["fallbacks"] == extractor["items"] == extractor["rejected"] > 0  # one invented claim per paper
    # the writer's answer has no sentences: invalid, so the Answer is the extractive one
    assert {f["role"] for f in manifest["fallbacks"]} == {"extractor", "writer"}
    assert [f["reason"] for f in manifest["fallbacks"] if f["role"] == "writer"] == [
        "invalid or incomplete output after 2 attempts"]
    assert report.answer.method == "extractive-v1"
    assert all(c.label == "SUPPORTED" for c in report.claims)
    assert all(r.llm_score == 7.0 for r in report.tribunal.reviews)
    # no usage reported by this model: tokens are estimated (~4 characters a token)
    assert manifest["llm_usage"]["totals"]["estimated_tokens"] > 0
