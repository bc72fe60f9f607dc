"""Structured LLM calls for the agents: bounded, retried, metered, and never fatal.

``LLMSession.structured`` returns a validated pydantic object or ``None``; on ``None`` the caller
runs its offline algorithm for that item, and the session has recorded why (manifest). One
session serves one run: its counters, budget and fallbacks are that run's.
"""

from __future__ import annotations

import asyncio
import json
import logging
import threading
from typing import Any, Callable

from langchain_core.exceptions import OutputParserException
from langchain_core.language_models import BaseLanguageModel
from langchain_core.messages import HumanMessage, convert_to_messages
from langchain_core.runnables import RunnableLambda
from langchain_core.runnables.config import ensure_config, merge_configs
from pydantic import BaseModel, ValidationError

from sovereign_kernel.llm.answers import UsageHandler, coerce, json_prompt_runnable, parse_json_answer, reported_usage  # noqa: F401
from sovereign_kernel.llm.response_cache import ResponseCache, prompt_key
from sovereign_kernel.prompts import UNTRUSTED_FIELDS, load_prompt, render_prompt, wrap_untrusted  # noqa: F401 (re-exported)
from sovereign_kernel.llm.providers import LLMSettings, backoff_params, detect_mode, is_transient, make_chat, redact, status_of

logger = logging.getLogger(__name__)

BUDGET_SPENT = "token budget spent"
CACHE_MISS = "not in the run's response cache (cache-only replay)"
_REASK = ("Your previous answer was empty, incomplete or did not match the required JSON schema. "
          "Answer again with only the complete JSON object.")


# ---- error classes -------------------------------------------------------------------------

class BudgetSpent(Exception):
    """Raised before a request once the run's token budget is used up."""


class TransientLLMError(Exception):
    """A 408/429/5xx, timeout or dropped connection, re-raised as a type (message redacted) so
    ``with_retry(retry_if_exception_type=...)`` can select it: the NIM client raises a bare
    ``Exception("[429] ...")``."""


def _is_invalid_output(exc: BaseException) -> bool:
    return isinstance(exc, (OutputParserException, ValidationError, json.JSONDecodeError))


def _short(exc: BaseException) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return redact(text[:300])


# ---- the session ---------------------------------------------------------------------------

# cache_hits: answers replayed from the run's response cache (no server call); rejected: answers
# an agent's own check refused (e.g. claims whose source span is not in the abstract).
STAT_KEYS = ("calls", "errors", "prompt_tokens", "completion_tokens", "estimated_tokens", "items", "fallbacks",
             "cache_hits", "rejected")


class LLMSession:
    """Structured calls for one run. ``chat``: one injected chat model (custom mode) or a
    factory ``role -> chat model``; ``LLMSession.create`` picks by mode."""

    def __init__(self, chat: Any, llm_settings: LLMSettings | None = None):
        self.settings = llm_settings or LLMSettings()
        if isinstance(chat, BaseLanguageModel) or not callable(chat):
            self._factory: Callable[[str], Any] = lambda role, _chat=chat: _chat
        else:
            self._factory = chat
        self._chats: dict[str, Any] = {}
        self._runnables: dict[tuple[str, type], Any] = {}
        self._lock = threading.Lock()
        self._build_lock = threading.RLock()  # clients and runnables are built once, from any thread
        self._stats: dict[str, dict[str, int]] = {}
        self._prompt_chars: dict[Any, int] = {}
        self.fallbacks: list[dict[str, str]] = []
        self.disabled: str | None = None  # set after a 401/403: the key is wrong for every item
        self._sem: asyncio.Semaphore | None = None
        self._sem_loop: Any = None
        self._cache: ResponseCache | None = None
        self.run_id: str | None = None
        self.cache_only = False
        self._model_names: dict[str, str] = {}
        self._seen: set[str] = set()  # keys already counted by record_distinct
        self._warm: Any = None  # background build of every role's client and runnable

    @classmethod
    def create(cls, llm_settings: LLMSettings, llm: Any = None) -> "LLMSession | None":
        """The session for a run's mode: injected model, NIM, or None (offline)."""
        if llm is not None:
            return cls(llm, llm_settings)
        if detect_mode(llm_settings) == "nim":
            chats: dict[str, Any] = {}

            def factory(role: str):  # one client per model: ChatNVIDIA lists models once per client
                model = llm_settings.model_for(role)
                if model not in chats:
                    chats[model] = make_chat(llm_settings, role)
                return chats[model]

            return cls(factory, llm_settings)
        return None

    @classmethod
    def replay(cls, llm_settings: LLMSettings, cache: ResponseCache, run_id: str) -> "LLMSession":
        """A cache-only session: answers come from ``run_id``'s response cache, a miss falls back
        offline, and no model is ever called (the reproduction gate's switch). Model names, which
        key the cache, are ``llm_settings.model_for(role)``: pass the recorded ones as role_models."""
        def unavailable(role: str):
            raise RuntimeError("cache-only replay: no model is called")

        session = cls(unavailable, llm_settings)
        session.attach_cache(cache, run_id, cache_only=True)
        return session

    def attach_cache(self, cache: ResponseCache, run_id: str, cache_only: bool = False) -> "LLMSession":
        """Record (and replay) every validated answer of run ``run_id``. A normal session also
        restores the run's usage snapshot, so a resumed run keeps counting from where it stopped."""
        self._cache, self.run_id, self.cache_only = cache, run_id, cache_only
        if not cache_only and (snapshot := cache.load_usage(run_id)):
            with self._lock:
                for role, stats in snapshot.get("stats", {}).items():
                    self._stats[role] = {**dict.fromkeys(STAT_KEYS, 0), **stats}
                self.fallbacks = list(snapshot.get("fallbacks", []))
                self._seen = set(snapshot.get("seen", []))
        return self

    def record(self, role: str, **counts: int) -> None:
        """Count what an agent did with the answers (e.g. ``rejected=2``) in this role's stats."""
        self._add(role, **counts)

    def record_distinct(self, role: str, stat: str, keys) -> int:
        """Count ``keys`` in ``stat`` once per run: an answer replayed from the cache (a revision
        round re-extracting a paper, a node re-run on resume) is not counted again."""
        with self._lock:
            new = [k for k in dict.fromkeys(keys) if k not in self._seen]
            self._seen.update(new)
        if new:
            self._add(role, **{stat: len(new)})
        return len(new)

    def fallback(self, role: str, item: str, reason: str) -> None:
        """Record that an agent used its offline algorithm for ``item`` although the LLM answered
        (e.g. every claim's span was invented)."""
        self._fallback(role, item, reason)

    # -- public ---------------------------------------------------------------------------
    async def structured(self, role: str, schema: type[BaseModel], prompt: str | list, item: str = "") -> BaseModel | None:
        """A validated ``schema`` instance, or None after recording a fallback {role, item, reason}.

        With a response cache attached, a prompt this run already had answered is answered from
        the cache (no server call, no tokens); a cache-only session never calls the model."""
        messages = [HumanMessage(prompt)] if isinstance(prompt, str) else convert_to_messages(prompt)
        self._add(role, items=1)
        if self._warm is None and not self.cache_only:
            # Build the other roles' clients and structured runnables while this first call waits
            # on the server, so later stages do not pay for it on their critical path.
            self._warm = asyncio.ensure_future(asyncio.to_thread(self._prepare_all))
        if self._cache is None:
            return await self._ask(role, schema, messages, item)
        if role not in self._model_names:  # building a hosted client may list its models: off the loop
            self._model_names[role] = await asyncio.to_thread(self.model_name, role)
        model = self._model_names[role]
        key = prompt_key(role, model, schema, messages)
        # The cache's reads and writes are sub-millisecond SQLite (WAL) calls: done inline, as a
        # hop through the default executor costs more and queues behind CPU-bound node work.
        hit = self._cache.get(self.run_id, model, key)
        parsed = None
        if hit is not None:
            try:
                parsed = schema.model_validate_json(hit)
                self._add(role, cache_hits=1)
            except ValidationError:  # the schema changed since: ask again
                parsed = None
        fresh = None
        if parsed is None and self.cache_only:
            self._fallback(role, item, CACHE_MISS)
        elif parsed is None:
            parsed = await self._ask(role, schema, messages, item)
            if parsed is not None:
                fresh = (model, key, role, parsed.model_dump_json())
        if not self.cache_only:  # the answer and the usage snapshot, in one transaction
            self._cache.record(self.run_id, self._snapshot(), fresh)
        return parsed

    async def _ask(self, role: str, schema: type[BaseModel], messages: list, item: str) -> BaseModel | None:
        attempts = 1 + self.settings.invalid_retries
        reason = "invalid or incomplete output"
        for attempt in range(attempts):
            if self.disabled:
                return self._fallback(role, item, f"LLM disabled for this run after {self.disabled}")
            if self.budget_spent:
                return self._fallback(role, item, BUDGET_SPENT)
            try:
                runnable = await self._runnable(role, schema)
            except Exception as exc:  # e.g. a malformed base_url, or the model listing failed
                return self._fallback(role, item, f"error: {_short(exc)}")
            try:
                asked = messages if attempt == 0 else [*messages, HumanMessage(_REASK)]
                async with self._semaphore():  # held through backoff too: under 429s, don't add load
                    result = await runnable.ainvoke(asked, config=self._config(role, item))
            except BudgetSpent:
                return self._fallback(role, item, BUDGET_SPENT)
            except TransientLLMError as exc:
                return self._fallback(role, item, f"retries exhausted ({self.settings.max_retries}): {exc}")
            except Exception as exc:  # one bad answer must never crash the run
                if _is_invalid_output(exc):
                    reason = f"invalid output ({type(exc).__name__})"
                    continue
                if status_of(exc) in (401, 403):  # no point sending every other item to fail too
                    self.disabled = _short(exc)
                return self._fallback(role, item, f"error: {_short(exc)}")
            if (parsed := coerce(result, schema)) is not None:
                return parsed
        return self._fallback(role, item, f"{reason} after {attempts} attempts")

    def model_name(self, role: str) -> str:
        try:
            chat = self._chat(role)
        except Exception:  # the client could not be built; say what was configured
            return self.settings.model_for(role)
        return str(getattr(chat, "model", None) or getattr(chat, "model_name", None) or type(chat).__name__)

    @property
    def tokens_used(self) -> int:
        with self._lock:
            return sum(s["prompt_tokens"] + s["completion_tokens"] + s["estimated_tokens"] for s in self._stats.values())

    @property
    def budget_spent(self) -> bool:
        budget = self.settings.token_budget
        return budget is not None and self.tokens_used >= budget

    def usage_report(self) -> dict:
        """Per role + totals + fallbacks + budget, for the manifest (no secrets in it)."""
        with self._lock:
            roles = {r: dict(s) for r, s in sorted(self._stats.items())}
            fallbacks = [dict(f) for f in self.fallbacks]
        for role, stats in roles.items():
            stats["model"] = redact(self.model_name(role))
        totals = {k: sum(s[k] for s in roles.values()) for k in STAT_KEYS}
        totals["total_tokens"] = totals["prompt_tokens"] + totals["completion_tokens"]
        return {
            "roles": roles,
            "totals": totals,
            "fallbacks": fallbacks,
            "budget": {"token_budget": self.settings.token_budget, "tokens_used": self.tokens_used,
                       "spent": self.budget_spent},
            "max_concurrency": self.settings.max_concurrency,
            "disabled": self.disabled,
            "response_cache": {"run_id": self.run_id, "cache_only": self.cache_only} if self._cache else None,
        }

    def _snapshot(self) -> dict:
        with self._lock:
            return {"stats": {r: dict(s) for r, s in self._stats.items()}, "fallbacks": [dict(f) for f in self.fallbacks],
                    "seen": sorted(self._seen)}

    # -- internals ------------------------------------------------------------------------
    def _chat(self, role: str):
        if role not in self._chats:
            with self._build_lock:
                if role not in self._chats:
                    self._chats[role] = self._factory(role)
        return self._chats[role]

    async def _runnable(self, role: str, schema: type[BaseModel]):
        key = (role, schema)
        if key not in self._runnables:
            # ChatNVIDIA lists the server's models here (one blocking GET /v1/models per
            # client, cached by it), so build off the event loop.
            await asyncio.to_thread(self._build_runnable, role, schema)
        return self._runnables[key]

    def _build_runnable(self, role: str, schema: type[BaseModel]) -> None:
        key = (role, schema)
        with self._build_lock:
            if key in self._runnables:
                return
            chat = self._chat(role)
            try:
                inner = chat.with_structured_output(schema)
            except NotImplementedError:  # e.g. a model without tool/JSON support: prompt for JSON
                inner = json_prompt_runnable(chat, schema)
            self._runnables[key] = self._guarded(inner)

    def _prepare_all(self) -> None:
        """Every role's model name, client and structured runnable (errors surface on real use)."""
        from sovereign_kernel.llm.schemas import ROLE_SCHEMAS

        for role, schema in ROLE_SCHEMAS.items():
            try:
                self._model_names.setdefault(role, self.model_name(role))
                self._build_runnable(role, schema)
            except Exception:
                continue

    def _guarded(self, inner):
        s = self.settings
        # ChatNVIDIA's structured runnable may send up to 3 requests (response_format, then
        # guided_json, then nvext.guided_json) each bounded by timeout_s: bound the attempt too,
        # so a custom model without its own timeout cannot hang the run.
        ceiling = 3 * s.timeout_s + 1.0

        async def attempt(messages, config):
            try:
                return await asyncio.wait_for(inner.ainvoke(messages, config), ceiling)
            except Exception as exc:
                if is_transient(exc):
                    raise TransientLLMError(_short(exc)) from None
                raise

        return RunnableLambda(attempt, name="structured_attempt").with_retry(
            retry_if_exception_type=(TransientLLMError,),
            wait_exponential_jitter=True,
            exponential_jitter_params=backoff_params(s.backoff_initial_s, s.backoff_max_s),
            stop_after_attempt=1 + s.max_retries,
        )

    def _config(self, role: str, item: str) -> dict:
        # Merge with the surrounding (LangGraph node) config so tracing and streams still see
        # the call; an explicit callbacks list alone would replace the parent's handlers.
        extra = {"callbacks": [UsageHandler(self, role)], "tags": [f"sovereign:{role}"],
                 "metadata": {"sovereign_role": role, "sovereign_item": item}}
        return merge_configs(ensure_config(), extra)

    def _semaphore(self) -> asyncio.Semaphore:
        loop = asyncio.get_running_loop()
        if self._sem is None or self._sem_loop is not loop:  # a semaphore is bound to one loop
            self._sem, self._sem_loop = asyncio.Semaphore(self.settings.max_concurrency), loop
        return self._sem

    def _add(self, role: str, **counts: int) -> None:
        with self._lock:
            stats = self._stats.setdefault(role, dict.fromkeys(STAT_KEYS, 0))
            for key, n in counts.items():
                stats[key] += n

    def _fallback(self, role: str, item: str, reason: str) -> None:
        entry = {"role": role, "item": redact(item), "reason": redact(reason)}
        with self._lock:
            self.fallbacks.append(entry)
        self._add(role, fallbacks=1)
        logger.warning("LLM %s fell back to the offline algorithm for %s: %s", role, entry["item"], entry["reason"])
        return None

    def _on_start(self, role: str, run_id, messages) -> None:
        if self.budget_spent:  # mid-call: a retry or the client's next format fallback
            raise BudgetSpent(BUDGET_SPENT)
        self._prompt_chars[run_id] = sum(len(str(m.content)) for batch in messages for m in batch)
        self._add(role, calls=1)

    def _on_end(self, role: str, run_id, response) -> None:
        chars = self._prompt_chars.pop(run_id, 0)
        if (usage := reported_usage(response)) is not None:  # what the server reported
            self._add(role, prompt_tokens=usage[0], completion_tokens=usage[1])
        else:  # provider reported nothing: ~4 chars a token, so the budget still binds
            out = sum(len(g.text) for gens in response.generations for g in gens)
            self._add(role, estimated_tokens=(chars + out + 3) // 4)

    def _on_error(self, role: str, run_id) -> None:
        self._prompt_chars.pop(run_id, None)
        self._add(role, errors=1)
