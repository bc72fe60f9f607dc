"""``LLMSession``: structured LLM calls for the agents, bounded, retried, metered, never fatal.

``structured`` returns a validated pydantic object or ``None``; on ``None`` the caller runs its
offline algorithm for that item, and the session has recorded why (manifest). One session serves
one run. It holds the concurrency bound, the re-ask loop and the 401/403 switch, over three
parts: ``ClientPool`` (clients, retries), ``UsageMeter`` (counters, budget), ``ResponseCache``.
"""

from __future__ import annotations

import asyncio
from typing import Any

from langchain_core.messages import HumanMessage, convert_to_messages
from pydantic import BaseModel

from sovereign_kernel.domain.settings import LLMSettings
from sovereign_kernel.llm.answers import coerce, is_invalid_output
from sovereign_kernel.llm.clients import ClientPool, TransientLLMError, short_error
from sovereign_kernel.llm.providers import detect_mode, make_chat, status_of
from sovereign_kernel.llm.response_cache import ResponseCache, prompt_key
from sovereign_kernel.llm.usage import BUDGET_SPENT, BudgetSpent, UsageMeter, call_config

_ADMIT_POLL_S = 0.02
CACHE_MISS = "not in the run's response cache (cache-only replay)"
_REASK = ("Your previous answer was empty, incomplete or did not match the required JSON schema. "
          "Answer again with only the complete JSON object.")


class LLMSession:
    """Structured calls for one run. ``chat``: one injected chat model (custom mode) or a
    factory ``role -> chat model``; ``LLMSession.create`` picks by mode."""

    def __init__(self, chat: Any, llm_settings: LLMSettings | None = None):
        self.settings = llm_settings or LLMSettings()
        self.clients = ClientPool(chat, self.settings)
        self.meter = UsageMeter(self.settings.token_budget, self.settings.secrets())
        self.disabled: str | None = None  # set after a 401/403: the key is wrong for every item
        self.run_id: str | None = None
        self.cache_only = False
        self._cache: ResponseCache | None = None
        self._sem: asyncio.Semaphore | None = None
        self._sem_loop: Any = None  # the event loop _sem belongs to

    @classmethod
    def create(cls, llm_settings: LLMSettings, llm: Any = None) -> "LLMSession | None":
        """The session for a run's mode: injected model, NIM, or None (offline)."""
        if llm is not None:
            return cls(llm, llm_settings)
        if detect_mode(llm_settings) == "nim":
            return cls(lambda role: make_chat(llm_settings, role), llm_settings)
        return None

    @classmethod
    def replay(cls, llm_settings: LLMSettings, cache: ResponseCache, run_id: str) -> "LLMSession":
        """A cache-only session: answers come from ``run_id``'s response cache, a miss falls back
        offline, and no model is ever called (the reproduction gate's switch). Model names, which
        key the cache, are ``llm_settings.model_for(role)``: pass the recorded ones as role_models."""
        def unavailable(role: str):
            raise RuntimeError("cache-only replay: no model is called")

        return cls(unavailable, llm_settings).attach_cache(cache, run_id, cache_only=True)

    def attach_cache(self, cache: ResponseCache, run_id: str, cache_only: bool = False) -> "LLMSession":
        """Record (and replay) every validated answer of run ``run_id``. A normal session also
        restores the run's usage snapshot, so a resumed run keeps counting from where it stopped."""
        self._cache, self.run_id, self.cache_only = cache, run_id, cache_only
        if not cache_only and (snapshot := cache.load_usage(run_id)):
            self.meter.restore(snapshot)
        return self

    def record(self, role: str, **counts: int) -> None:
        """Count what an agent did with the answers (e.g. ``rejected=2``) in this role's stats."""
        self.meter.add(role, **counts)

    def record_distinct(self, role: str, stat: str, keys) -> int:
        """Count ``keys`` in ``stat`` once per run: a replayed answer (a revision round re-extracting
        a paper, a node re-run on resume) is not counted again."""
        return self.meter.add_distinct(role, stat, keys)

    def fallback(self, role: str, item: str, reason: str) -> None:
        """Record that an agent used its offline algorithm for ``item`` although the LLM answered."""
        self.meter.fallback(role, item, reason)

    async def structured(self, role: str, schema: type[BaseModel], prompt: str | list, item: str = "") -> BaseModel | None:
        """A validated ``schema`` instance, or None after recording a fallback {role, item, reason}.

        With a response cache attached, a prompt this run already had answered is answered from
        the cache (no server call, no tokens); a cache-only session never calls the model."""
        messages = [HumanMessage(prompt)] if isinstance(prompt, str) else convert_to_messages(prompt)
        self.meter.add(role, items=1)
        if not self.cache_only:
            self.clients.warm_up()
        if self._cache is None:
            return await self._ask(role, schema, messages, item)
        model = await self.clients.cached_model_name(role)
        key = prompt_key(role, model, schema, messages)
        fresh = None
        if (parsed := await self._cache.aanswer(self.run_id, model, key, schema)) is not None:
            self.meter.add(role, cache_hits=1)
        elif self.cache_only:
            self.meter.fallback(role, item, CACHE_MISS)
        elif (parsed := await self._ask(role, schema, messages, item)) is not None:
            fresh = (model, key, role, parsed.model_dump_json())
        if not self.cache_only:  # the answer and the usage snapshot, in one transaction
            await self._cache.arecord(self.run_id, self.meter.snapshot(), fresh)
        return parsed

    async def _ask(self, role: str, schema: type[BaseModel], messages: list, item: str) -> BaseModel | None:
        attempts = 1 + self.settings.invalid_retries
        reason = "invalid or incomplete output"
        for attempt in range(attempts):
            if self.disabled:
                return self.meter.fallback(role, item, f"LLM disabled for this run after {self.disabled}")
            if self.meter.budget_spent:
                return self.meter.fallback(role, item, BUDGET_SPENT)
            try:
                runnable = await self.clients.arunnable(role, schema)
            except Exception as exc:  # e.g. a malformed base_url, or the model listing failed
                return self.meter.fallback(role, item, f"error: {self._short(exc)}")
            try:
                asked = messages if attempt == 0 else [*messages, HumanMessage(_REASK)]
                async with self._semaphore():  # held through backoff too: under 429s, don't add load
                    estimate = self._estimate(asked)
                    if not await self._admit(estimate):
                        return self.meter.fallback(role, item, BUDGET_SPENT)
                    try:
                        result = await runnable.ainvoke(asked, config=call_config(self.meter, role, item))
                    finally:
                        self.meter.settle(estimate)
            except BudgetSpent:
                return self.meter.fallback(role, item, BUDGET_SPENT)
            except TransientLLMError as exc:
                return self.meter.fallback(role, item, f"retries exhausted ({self.settings.max_retries}): {exc}")
            except Exception as exc:  # one bad answer must never crash the run
                if is_invalid_output(exc):
                    reason = f"invalid output ({type(exc).__name__})"
                    continue
                if status_of(exc) in (401, 403):  # no point sending every other item to fail too
                    self.disabled = self._short(exc)
                return self.meter.fallback(role, item, f"error: {self._short(exc)}")
            if (parsed := coerce(result, schema)) is not None:
                return parsed
        return self.meter.fallback(role, item, f"{reason} after {attempts} attempts")

    def _estimate(self, messages: list) -> int:
        """What a call may cost: its prompt at ~4 characters a token plus the longest answer allowed."""
        chars = sum(len(m.content if isinstance(m.content, str) else str(m.content)) for m in messages)
        return (chars + 3) // 4 + self.settings.max_completion_tokens

    async def _admit(self, estimate: int) -> bool:
        """Reserve ``estimate`` tokens of the budget (``UsageMeter.reserve``), waiting while calls in
        flight hold what is left; False once the budget is spent."""
        while (decision := self.meter.reserve(estimate)) == "wait":
            # Reservations are released by other tasks and by embedding requests in worker
            # threads: a short poll sees both without a condition shared across threads and loops.
            await asyncio.sleep(_ADMIT_POLL_S)
        return decision == "admit"

    def save_usage(self) -> None:
        """Store the usage snapshot now (blocking), e.g. after the run switched embedders, so a
        resumed run continues with what this one decided."""
        if self._cache is not None and not self.cache_only and self.run_id:
            self._cache.save_usage(self.run_id, self.meter.snapshot())

    def _short(self, exc: BaseException) -> str:
        return short_error(exc, self.settings.secrets())

    def _semaphore(self) -> asyncio.Semaphore:
        loop = asyncio.get_running_loop()
        if self._sem is None or self._sem_loop is not loop:  # a semaphore is bound to one loop
            self._sem, self._sem_loop = asyncio.Semaphore(self.settings.max_concurrency), loop
        return self._sem

    def model_name(self, role: str) -> str:
        return self.clients.model_name(role)

    def tag(self, role: str) -> str:
        """How a report marks what this role's model produced, e.g. ``llm-extractor:<model>``."""
        return f"llm-{role}:{self.model_name(role)}"

    @property
    def fallbacks(self) -> list[dict[str, str]]:
        return self.meter.fallbacks

    @property
    def tokens_used(self) -> int:
        return self.meter.tokens_used

    @property
    def budget_spent(self) -> bool:
        return self.meter.budget_spent

    def usage_report(self, outcomes: dict | None = None) -> dict:
        """Per role + totals + fallbacks + budget, for the manifest (no secrets in it); ``outcomes``:
        the run's checkpointed ledgers (``UsageMeter.report``)."""
        cache = {"run_id": self.run_id, "cache_only": self.cache_only} if self._cache else None
        return {**self.meter.report(self.model_name, outcomes), "max_concurrency": self.settings.max_concurrency,
                "disabled": self.disabled, "response_cache": cache}
