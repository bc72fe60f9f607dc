"""The parts of an LLM session, each on its own: ClientPool (clients, runnables, retries),
UsageMeter (counters, budget, snapshots) and LLMSession over an injected fake chat model and
a response cache in tmp_path. No network."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from types import SimpleNamespace
from typing import Any

import pytest
from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
from langchain_core.messages import AIMessage, HumanMessage
from langchain_core.outputs import ChatGeneration, LLMResult
from langchain_core.runnables import RunnableLambda

from sovereign_kernel.domain.settings import LLM_ROLES, LLMSettings
from sovereign_kernel.llm.clients import ClientPool, TransientLLMError
from sovereign_kernel.llm.response_cache import ResponseCache
from sovereign_kernel.llm.schemas import ExtractedClaims, PlannedQueries
from sovereign_kernel.llm.session import BUDGET_SPENT, CACHE_MISS, LLMSession
from sovereign_kernel.llm.usage import STAT_KEYS, BudgetSpent, UsageHandler, UsageMeter

SECRET = "plain-secret-value-42"  # a key given in code: only LLMSettings.secrets() knows it
FAST = {"backoff_initial_s": 0.001, "backoff_max_s": 0.002}


class RecordingChat(GenericFakeChatModel):
    """The fake chat model, keeping the messages of every request it answered."""

    seen: list = []

    def _generate(self, messages, stop=None, run_manager=None, **kwargs):
        self.seen.append([m.content for m in messages])
        return super()._generate(messages, stop=stop, run_manager=run_manager, **kwargs)


class FailingChat(GenericFakeChatModel):
    """Every request fails with ``error``."""

    error: str = "[400] bad request"
    seen: list = []

    def _generate(self, messages, stop=None, run_manager=None, **kwargs):
        self.seen.append(messages)
        raise Exception(self.error)


class NativeStructured(GenericFakeChatModel):
    """A model with its own ``with_structured_output`` (counted)."""

    built: list = []

    def with_structured_output(self, schema, **kwargs):
        self.built.append(schema)
        return RunnableLambda(lambda messages: schema(queries=["native"]))


def chat(*answers: Any, cls=RecordingChat, **fields) -> GenericFakeChatModel:
    return cls(messages=iter(answers), seen=[], **fields)


def ask(session: LLMSession, *prompts: str, schema=PlannedQueries, role="planner") -> list:
    async def go():
        return [await session.structured(role, schema, p, item=p) for p in prompts]
    return asyncio.run(go())


# ---- ClientPool -------------------------------------------------------------------------------

def test_pool_builds_one_client_per_model_also_across_threads():
    settings = LLMSettings(chat_model="m-a", role_models={"extractor": "m-b", "verifier": "m-b"})
    calls, lock = [], threading.Lock()

    def factory(role: str):
        time.sleep(0.02)  # a slow build: every thread arrives while the first is still building
        with lock:
            calls.append(settings.model_for(role))
        return SimpleNamespace(model=settings.model_for(role))

    pool = ClientPool(factory, settings)
    start = threading.Barrier(12)
    got: list = []

    def worker(i: int):
        start.wait()
        got.extend((role, pool.chat(role)) for role in (LLM_ROLES[i % 7:] + LLM_ROLES[:i % 7]))

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(12)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(calls) == ["m-a", "m-b"]  # once per distinct model, not per role or thread
    assert len({id(c) for _, c in got}) == 2
    assert pool.chat("extractor") is pool.chat("verifier") is not pool.chat("planner")
    assert [pool.model_name(r) for r in ("planner", "extractor", "reviser")] == ["m-a", "m-b", "m-a"]


def test_pool_names_models_per_role():
    assert ClientPool(chat(), LLMSettings()).model_name("planner") == "RecordingChat"

    def broken(role: str):
        raise RuntimeError("cannot build")

    pool = ClientPool(broken, LLMSettings(role_models={"skeptic": "m-s"}))
    assert pool.model_name("skeptic") == "m-s" and pool.model_name("planner") == "meta/llama-3.3-70b-instruct"
    with pytest.raises(RuntimeError):
        pool.chat("planner")
    assert asyncio.run(pool.cached_model_name("skeptic")) == "m-s"


def test_pool_falls_back_to_json_prompting_without_structured_output():
    fake = chat('Sure: {"queries": ["typographic attack"]}')
    pool = ClientPool(fake, LLMSettings())
    runnable = pool.runnable("planner", PlannedQueries)
    assert pool.runnable("planner", PlannedQueries) is runnable  # built once per (role, schema)
    out = asyncio.run(runnable.ainvoke([HumanMessage("plan")]))
    assert out == PlannedQueries(queries=["typographic attack"])
    [sent] = fake.seen
    assert sent[0] == "plan" and "JSON Schema" in sent[1] and '"queries"' in sent[1]


def test_pool_uses_the_models_own_structured_output_once_per_role_and_schema():
    fake = NativeStructured(messages=iter([]), built=[])
    pool = ClientPool(fake, LLMSettings())
    threads = [threading.Thread(target=pool.runnable, args=("planner", PlannedQueries)) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    pool.runnable("extractor", ExtractedClaims)
    assert fake.built == [PlannedQueries, ExtractedClaims]
    out = asyncio.run(pool.arunnable("planner", PlannedQueries))
    assert asyncio.run(out.ainvoke([HumanMessage("x")])) == PlannedQueries(queries=["native"])


def test_pool_guard_retries_transient_errors_only_and_redacts():
    attempts: list[str] = []

    def answering(errors):
        def structured(schema, **kwargs):
            async def call(messages):
                attempts.append("x")
                if errors:
                    raise Exception(errors.pop(0))
                return schema(queries=["ok"])
            return RunnableLambda(call)
        return structured

    settings = LLMSettings(max_retries=2, api_key=SECRET, **FAST)
    fake = SimpleNamespace(model="m", with_structured_output=answering(["[429] slow down", "[503] busy"]))
    out = asyncio.run(ClientPool(fake, settings).runnable("planner", PlannedQueries).ainvoke([]))
    assert out == PlannedQueries(queries=["ok"]) and len(attempts) == 3

    attempts.clear()
    fake.with_structured_output = answering([f"[500] key {SECRET}"] * 5)
    with pytest.raises(TransientLLMError) as err:
        asyncio.run(ClientPool(fake, settings).runnable("planner", PlannedQueries).ainvoke([]))
    assert len(attempts) == 3 and str(err.value) == "[500] key ***"

    attempts.clear()
    fake.with_structured_output = answering(["[400] bad request"])
    with pytest.raises(Exception, match=r"\[400\]"):
        asyncio.run(ClientPool(fake, settings).runnable("planner", PlannedQueries).ainvoke([]))
    assert len(attempts) == 1  # not transient: not retried


# ---- UsageMeter -------------------------------------------------------------------------------

def test_meter_counts_per_role_and_totals():
    meter = UsageMeter()
    meter.add("planner", calls=2, prompt_tokens=30, completion_tokens=5)
    meter.add("extractor", calls=1, prompt_tokens=10, estimated_tokens=7)
    meter.add("planner", calls=1)
    report = meter.report(lambda role: f"model-{role}")
    assert list(report["roles"]) == ["extractor", "planner"]  # sorted
    assert report["roles"]["planner"] == {**dict.fromkeys(STAT_KEYS, 0), "calls": 3, "prompt_tokens": 30,
                                          "completion_tokens": 5, "model": "model-planner"}
    assert report["totals"]["calls"] == 4 and report["totals"]["prompt_tokens"] == 40
    assert report["totals"]["total_tokens"] == 45  # estimated tokens are not reported ones
    assert meter.tokens_used == 52 and report["budget"] == {"token_budget": None, "tokens_used": 52, "spent": False}


def test_meter_record_distinct_counts_a_key_once():
    meter = UsageMeter()
    assert meter.add_distinct("extractor", "rejected", ["k1", "k2", "k1"]) == 2
    assert meter.add_distinct("extractor", "rejected", ["k2", "k3"]) == 1
    assert meter.add_distinct("extractor", "rejected", ["k3"]) == 0
    assert meter.stats("extractor")["rejected"] == 3


def test_meter_budget_is_spent_at_the_threshold_and_stops_requests():
    meter = UsageMeter(token_budget=10)
    meter.request_started("planner", "r1", [[HumanMessage("12345678")]])  # 8 chars
    meter.request_ended("planner", "r1", LLMResult(generations=[[ChatGeneration(message=AIMessage("abcd"))]]))
    assert meter.stats("planner")["estimated_tokens"] == (8 + 4 + 3) // 4 == 3  # nothing was reported
    meter.add("planner", prompt_tokens=6)
    assert meter.tokens_used == 9 and not meter.budget_spent
    reported = AIMessage("x", usage_metadata={"input_tokens": 1, "output_tokens": 0, "total_tokens": 1})
    meter.request_started("planner", "r2", [[HumanMessage("hi")]])
    meter.request_ended("planner", "r2", LLMResult(generations=[[ChatGeneration(message=reported)]]))
    assert meter.tokens_used == 10 and meter.budget_spent
    with pytest.raises(BudgetSpent):
        meter.request_started("planner", "r3", [[HumanMessage("more")]])
    meter.request_failed("planner", "r3")
    stats = meter.stats("planner")
    assert stats["calls"] == 2 and stats["errors"] == 1 and stats["prompt_tokens"] == 7


def test_usage_handler_feeds_the_meter_from_a_real_call():
    meter = UsageMeter()
    fake = chat(AIMessage("hi", usage_metadata={"input_tokens": 4, "output_tokens": 2, "total_tokens": 6}))
    fake.invoke("hello", config={"callbacks": [UsageHandler(meter, "skeptic")]})
    stats = meter.stats("skeptic")
    assert (stats["calls"], stats["prompt_tokens"], stats["completion_tokens"]) == (1, 4, 2)


def test_meter_fallbacks_are_redacted_and_counted():
    meter = UsageMeter(secrets=(SECRET,))
    meter.fallback("planner", f"item {SECRET}", f"error: [400] {SECRET}")
    assert meter.fallbacks == [{"role": "planner", "item": "item ***", "reason": "error: [400] ***"}]
    assert meter.stats("planner")["fallbacks"] == 1


def test_meter_snapshot_restore_round_trips():
    meter = UsageMeter()
    meter.add("planner", calls=2, items=1, prompt_tokens=9)
    meter.add_distinct("extractor", "rejected", ["p1#0", "p2#1"])
    meter.fallback("verifier", "c1", "no judgement")
    snap = json.loads(json.dumps(meter.snapshot()))  # as the response cache stores it
    restored = UsageMeter()
    restored.restore(snap)
    assert restored.snapshot() == meter.snapshot()
    assert restored.report(str) == meter.report(str)
    assert restored.add_distinct("extractor", "rejected", ["p1#0"]) == 0  # the seen keys came back too


# ---- LLMSession over a fake chat model ----------------------------------------------------------

def test_session_returns_a_validated_object():
    fake = chat('{"queries": ["clip typographic"]}')
    session = LLMSession(fake, LLMSettings())
    assert ask(session, "plan a") == [PlannedQueries(queries=["clip typographic"])]
    stats = session.usage_report()["roles"]["planner"]
    assert (stats["calls"], stats["items"], stats["fallbacks"]) == (1, 1, 0) and session.fallbacks == []
    assert session.tag("planner") == "llm-planner:RecordingChat" == f"llm-planner:{session.model_name('planner')}"


def test_session_reasks_once_on_an_invalid_answer():
    fake = chat("I think the queries are clip and ocr.", '{"queries": ["clip"]}')
    session = LLMSession(fake, LLMSettings())
    assert ask(session, "plan a") == [PlannedQueries(queries=["clip"])]
    first, second = fake.seen
    assert "previous answer" not in " ".join(first) and "previous answer" in " ".join(second)
    assert session.usage_report()["roles"]["planner"]["calls"] == 2 and session.fallbacks == []


def test_session_falls_back_with_a_reason_after_invalid_answers():
    session = LLMSession(chat("no", '{"queries": []}'), LLMSettings())
    assert ask(session, "plan a") == [None]
    assert session.fallbacks == [{"role": "planner", "item": "plan a",
                                  "reason": "invalid or incomplete output after 2 attempts"}]


def test_session_redacts_a_key_given_in_code_and_disables_after_401():
    fake = chat(cls=FailingChat, error=f"[401] key {SECRET} rejected")
    session = LLMSession(fake, LLMSettings(api_key=SECRET))
    assert ask(session, "a", "b") == [None, None]
    assert len(fake.seen) == 1  # the second item was never sent
    assert [f["reason"] for f in session.fallbacks] == [
        "error: [401] key *** rejected", "LLM disabled for this run after [401] key *** rejected"]
    assert session.disabled and SECRET not in json.dumps(session.usage_report())


def test_session_budget_stops_further_calls():
    answer = AIMessage('{"queries": ["q"]}', usage_metadata={"input_tokens": 5, "output_tokens": 1, "total_tokens": 6})
    fake = chat(answer)
    session = LLMSession(fake, LLMSettings(token_budget=6))
    assert ask(session, "a", "b") == [PlannedQueries(queries=["q"]), None]
    assert len(fake.seen) == 1 and session.tokens_used == 6 and session.budget_spent
    assert session.fallbacks[-1]["reason"] == BUDGET_SPENT


def test_session_answers_from_the_response_cache(tmp_path):
    cache = ResponseCache(tmp_path / "responses.sqlite")
    fake = chat('{"queries": ["cached"]}')  # one answer: a second model call would fail
    session = LLMSession(fake, LLMSettings()).attach_cache(cache, "run-1")
    assert ask(session, "plan a", "plan a") == [PlannedQueries(queries=["cached"])] * 2
    assert len(fake.seen) == 1 and cache.count("run-1") == 1
    stats = session.usage_report()["roles"]["planner"]
    assert (stats["calls"], stats["items"], stats["cache_hits"]) == (1, 2, 1)
    assert session.usage_report()["response_cache"] == {"run_id": "run-1", "cache_only": False}
    resumed = LLMSession(chat(), LLMSettings()).attach_cache(cache, "run-1")  # the usage snapshot too
    assert resumed.usage_report()["totals"] == session.usage_report()["totals"]
    assert ask(resumed, "plan a") == [PlannedQueries(queries=["cached"])]


def test_cache_only_replay_answers_hits_and_falls_back_on_a_miss(tmp_path):
    cache = ResponseCache(tmp_path / "responses.sqlite")
    recorder = LLMSession(chat('{"queries": ["recorded"]}'), LLMSettings()).attach_cache(cache, "run-1")
    ask(recorder, "plan a")
    replay = LLMSession.replay(LLMSettings(role_models={"planner": "RecordingChat"}), cache, "run-1")
    assert replay.cache_only and replay.run_id == "run-1"
    assert ask(replay, "plan a", "plan b") == [PlannedQueries(queries=["recorded"]), None]
    assert replay.fallbacks == [{"role": "planner", "item": "plan b", "reason": CACHE_MISS}]
    stats = replay.usage_report()["roles"]["planner"]
    assert (stats["calls"], stats["cache_hits"], stats["items"]) == (0, 1, 2)
    assert cache.count("run-1") == 1  # a replay records nothing


def test_cache_answer_validates_against_the_schema(tmp_path):
    cache = ResponseCache(tmp_path / "responses.sqlite")
    cache.put("run-1", "m", "k", "planner", '{"queries": ["q"]}')
    cache.put("run-1", "m", "old", "planner", '{"query": "q"}')  # stored under an earlier schema
    assert cache.answer("run-1", "m", "k", PlannedQueries) == PlannedQueries(queries=["q"])
    assert cache.answer("run-1", "m", "old", PlannedQueries) is None
    assert cache.answer("run-2", "m", "k", PlannedQueries) is None
