"""What a run's LLM calls cost and where they fell back: ``UsageMeter`` (per-role counters,
fallbacks, the token budget, snapshots for the response cache), ``UsageHandler``, the LangChain
callback that feeds it every model request, and ``call_config``, which installs that callback.

The budget binds before a call, not after: a call is admitted only with an estimate of its
tokens reserved (``reserve``), so parallel calls cannot all be admitted against the same
"tokens used so far"; when no estimate fits, one call may still go if none is in flight, so a
run overshoots its budget by at most one call. Embedding requests are metered here too
(``embedding_request``; the remote embeddings client reports to the meter installed with
``metering_embeddings``) and count in the budget.
"""

from __future__ import annotations

import contextlib
import contextvars
import logging
import threading
import uuid
from typing import Any, Callable, Iterable, Iterator, Literal

from langchain_core.callbacks import BaseCallbackHandler
from langchain_core.runnables.config import ensure_config, merge_configs

from sovereign_kernel.llm.providers import redact

logger = logging.getLogger(__name__)

BUDGET_SPENT = "token budget spent"

# cache_hits: answers replayed from the run's response cache (no server call); rejected: answers
# an agent's own check refused (e.g. claims whose source span is not in the abstract).
STAT_KEYS = ("calls", "errors", "prompt_tokens", "completion_tokens", "estimated_tokens", "items", "fallbacks",
             "cache_hits", "rejected")


# What a run *did* with the models — items asked, fallbacks, distinct-counted stats (rejected spans)
# — is written into the checkpointed graph state by the node that did it (``node_outcomes``), so a
# node that crashed and re-ran after ``resume`` is counted once, like in an uninterrupted run, and
# a replay counts the same. The meter's own totals (calls, tokens) stay what was really spent.
# A ContextVar, not a module global: each node execution runs in its own context (asyncio tasks
# and worker threads copy it), so concurrent nodes each fill their own ledger.
_LEDGER: contextvars.ContextVar[dict | None] = contextvars.ContextVar("sovereign_llm_ledger", default=None)


def _new_ledger() -> dict:
    return {"items": {}, "fallbacks": [], "distinct": {}}


@contextlib.contextmanager
def node_outcomes() -> Iterator[dict]:
    """Collect what the LLM session does inside one node execution; yields ``{id: ledger}`` (empty
    when the node used no model) for the node to return in the state's ``llm_outcomes``."""
    ledger = _new_ledger()
    token = _LEDGER.set(ledger)
    out: dict = {}
    try:
        yield out
    finally:
        _LEDGER.reset(token)
    if ledger["items"] or ledger["fallbacks"] or ledger["distinct"]:
        out[uuid.uuid4().hex] = ledger  # one key per execution: merging twice is a no-op


def merge_outcomes(outcomes: dict | None) -> dict:
    """The run's outcome counts from its checkpointed ledgers: items and fallbacks summed, distinct
    stats counted over the union of their keys."""
    items: dict[str, int] = {}
    fallbacks: list[dict[str, str]] = []
    distinct: dict[str, dict[str, set]] = {}
    for ledger in (outcomes or {}).values():
        for role, n in ledger.get("items", {}).items():
            items[role] = items.get(role, 0) + n
        fallbacks.extend(ledger.get("fallbacks", []))
        for role, stats in ledger.get("distinct", {}).items():
            for stat, keys in stats.items():
                distinct.setdefault(role, {}).setdefault(stat, set()).update(keys)
    fallbacks.sort(key=lambda f: (f["role"], f["item"], f["reason"]))  # concurrent nodes: a stable order
    return {"items": items, "fallbacks": fallbacks,
            "distinct": {r: {s: len(k) for s, k in stats.items()} for r, stats in distinct.items()}}


EMBED_KEYS = ("requests", "texts", "prompt_tokens", "estimated_tokens", "errors")
Admission = Literal["admit", "wait", "refuse"]


class BudgetSpent(Exception):
    """Raised before a request once the run's token budget is used up."""


def reported_usage(response) -> tuple[int, int] | None:
    """(prompt, completion) tokens as the server reported them in an ``LLMResult``, else None."""
    for generations in response.generations:
        for gen in generations:
            usage = getattr(getattr(gen, "message", None), "usage_metadata", None)
            if usage:
                return int(usage.get("input_tokens", 0)), int(usage.get("output_tokens", 0))
    raw = (response.llm_output or {}).get("token_usage") or (response.llm_output or {}).get("usage")
    if isinstance(raw, dict) and raw:
        return int(raw.get("prompt_tokens", 0)), int(raw.get("completion_tokens", 0))
    return None


class UsageMeter:
    """One run's counters (thread-safe). ``token_budget``: prompt + completion (+ estimated)
    tokens after which requests stop; ``secrets``: what fallback texts are redacted of."""

    def __init__(self, token_budget: int | None = None, secrets: Iterable[str] = ()):
        self.token_budget = token_budget
        self._secrets = tuple(secrets)
        self._lock = threading.Lock()
        self._stats: dict[str, dict[str, int]] = {}
        self._fallbacks: list[dict[str, str]] = []
        self._seen: set[str] = set()  # keys already counted by add_distinct
        self._prompt_chars: dict[Any, int] = {}  # request run id -> prompt size, until it ends
        self._reserved = 0  # tokens reserved by admitted calls still in flight
        self._in_flight = 0
        self._embed_model: str | None = None  # the remote embedder metered here (None: none)
        self._embed = dict.fromkeys(EMBED_KEYS, 0)
        self._embed_fallback: dict | None = None

    # -- counting -------------------------------------------------------------------------------
    def add(self, role: str, **counts: int) -> None:
        if "items" in counts and (ledger := _LEDGER.get()) is not None:
            ledger["items"][role] = ledger["items"].get(role, 0) + counts["items"]
        with self._lock:
            stats = self._stats.setdefault(role, dict.fromkeys(STAT_KEYS, 0))
            for key, n in counts.items():
                stats[key] += n

    def add_distinct(self, role: str, stat: str, keys) -> int:
        """Count in ``stat`` only the ``keys`` not counted before; returns how many were new."""
        if (ledger := _LEDGER.get()) is not None:  # all of them: the ledgers are deduplicated when merged
            bucket = ledger["distinct"].setdefault(role, {}).setdefault(stat, [])
            bucket.extend(k for k in dict.fromkeys(keys) if k not in bucket)
        with self._lock:
            new = [k for k in dict.fromkeys(keys) if k not in self._seen]
            self._seen.update(new)
        if new:
            self.add(role, **{stat: len(new)})
        return len(new)

    def fallback(self, role: str, item: str, reason: str) -> None:
        """Record (redacted), count and log that ``role`` used the offline algorithm for ``item``."""
        entry = {"role": role, "item": redact(item, self._secrets), "reason": redact(reason, self._secrets)}
        if (ledger := _LEDGER.get()) is not None:
            ledger["fallbacks"].append(entry)
        with self._lock:
            self._fallbacks.append(entry)
        self.add(role, fallbacks=1)
        logger.warning("LLM %s fell back to the offline algorithm for %s: %s", role, entry["item"], entry["reason"])

    @property
    def fallbacks(self) -> list[dict[str, str]]:
        with self._lock:
            return list(self._fallbacks)

    def stats(self, role: str) -> dict[str, int]:
        with self._lock:
            return dict(self._stats.get(role) or dict.fromkeys(STAT_KEYS, 0))

    @property
    def tokens_used(self) -> int:
        with self._lock:
            return self._used()

    def _used(self) -> int:  # under the lock
        chat = sum(s["prompt_tokens"] + s["completion_tokens"] + s["estimated_tokens"] for s in self._stats.values())
        return chat + self._embed["prompt_tokens"] + self._embed["estimated_tokens"]

    @property
    def budget_spent(self) -> bool:
        return self.token_budget is not None and self.tokens_used >= self.token_budget

    # -- admission against the budget -------------------------------------------------------------
    def reserve(self, estimate: int) -> Admission:
        """Admit a call estimated at ``estimate`` tokens (reserved until ``settle``), ask it to
        ``wait`` for calls in flight to settle, or ``refuse`` it: the budget is spent."""
        with self._lock:
            if self.token_budget is None:
                self._in_flight += 1
                return "admit"
            used = self._used()
            if used >= self.token_budget:
                return "refuse"
            if used + self._reserved + estimate > self.token_budget and self._in_flight:
                return "wait"
            # It fits, or it is the only call: the one call by which a run may overshoot.
            self._reserved += estimate
            self._in_flight += 1
            return "admit"

    def settle(self, estimate: int) -> None:
        """Release an admitted call's reservation (its real tokens are counted as they come in)."""
        with self._lock:
            if self.token_budget is not None:
                self._reserved = max(0, self._reserved - estimate)
            self._in_flight = max(0, self._in_flight - 1)

    # -- embeddings -------------------------------------------------------------------------------
    def embedding_model(self, model: str) -> None:
        """Meter the run's remote embedder ``model`` (its section appears in the report)."""
        with self._lock:
            self._embed_model = self._embed_model or model

    def embedding_request(self, texts: int, tokens: int | None, chars: int, ok: bool = True, requests: int = 1) -> None:
        """One embeddings call (``requests`` HTTP requests: the client splits long lists): its tokens as
        the server reported them, else ~4 characters a token."""
        with self._lock:
            e = self._embed
            e["requests"] += requests
            if not ok:
                e["errors"] += 1
                return
            e["texts"] += texts
            if tokens is not None:
                e["prompt_tokens"] += tokens
            else:
                e["estimated_tokens"] += (chars + 3) // 4

    def embedding_fallback(self, to: str, reason: str, stage: str) -> bool:
        """Record that the run switched to the embedder ``to`` (once: the first switch stands);
        True when this call recorded it."""
        with self._lock:
            if self._embed_fallback is not None:
                return False
            self._embed_fallback = {"from": self._embed_model, "to": to, "stage": stage,
                                    "reason": redact(reason, self._secrets)}
        logger.warning("embeddings: the run switched from %s to %s at %s: %s", self._embed_model, to, stage,
                       self._embed_fallback["reason"])
        return True

    @property
    def embedder_fallback(self) -> dict | None:
        with self._lock:
            return dict(self._embed_fallback) if self._embed_fallback else None

    def embedding_report(self) -> dict | None:
        """The remote embedder's requests, texts, tokens, errors and fallback; None without one."""
        with self._lock:
            if self._embed_model is None and self._embed_fallback is None:
                return None
            return {"model": self._embed_model, **self._embed,
                    "fallback": dict(self._embed_fallback) if self._embed_fallback else None}

    # -- one model request (UsageHandler) ---------------------------------------------------------
    def request_started(self, role: str, run_id: Any, messages) -> None:
        """Count a request about to be sent; raises ``BudgetSpent`` instead once the budget is
        spent (mid-call too: a retry, or the client's next structured-output format)."""
        if self.budget_spent:
            raise BudgetSpent(BUDGET_SPENT)
        chars = sum(len(str(m.content)) for batch in messages for m in batch)
        with self._lock:
            self._prompt_chars[run_id] = chars
        self.add(role, calls=1)

    def request_ended(self, role: str, run_id: Any, response) -> None:
        """Count the tokens of a response: as reported, else estimated (~4 characters a token, so
        the budget still binds for a provider that reports nothing)."""
        with self._lock:
            chars = self._prompt_chars.pop(run_id, 0)
        if (usage := reported_usage(response)) is not None:
            self.add(role, prompt_tokens=usage[0], completion_tokens=usage[1])
        else:
            out = sum(len(g.text) for gens in response.generations for g in gens)
            self.add(role, estimated_tokens=(chars + out + 3) // 4)

    def request_failed(self, role: str, run_id: Any) -> None:
        with self._lock:
            self._prompt_chars.pop(run_id, None)
        self.add(role, errors=1)

    # -- persistence and reporting ----------------------------------------------------------------
    def snapshot(self) -> dict:
        """Counters, fallbacks and counted keys as JSON-ready data (the response cache stores it)."""
        with self._lock:
            return {"stats": {r: dict(s) for r, s in self._stats.items()},
                    "fallbacks": [dict(f) for f in self._fallbacks], "seen": sorted(self._seen),
                    "embeddings": {"model": self._embed_model, **self._embed, "fallback": self._embed_fallback}}

    def restore(self, snapshot: dict) -> None:
        """Continue from a ``snapshot`` (a resumed run): its roles' counters, fallbacks, keys."""
        with self._lock:
            for role, stats in snapshot.get("stats", {}).items():
                self._stats[role] = {**dict.fromkeys(STAT_KEYS, 0), **stats}
            self._fallbacks = list(snapshot.get("fallbacks", []))
            self._seen = set(snapshot.get("seen", []))
            embed = dict(snapshot.get("embeddings") or {})
            self._embed_model = embed.pop("model", None) or self._embed_model
            self._embed_fallback = embed.pop("fallback", None)  # a resumed run keeps the embedder it switched to
            self._embed = {k: int(embed.get(k, 0)) for k in EMBED_KEYS}

    def report(self, model_name: Callable[[str], str], outcomes: dict | None = None) -> dict:
        """Per role (with ``model_name(role)``, redacted), totals, fallbacks and the budget.
        ``outcomes``: the run's checkpointed ledgers (state ``llm_outcomes``); when given, items,
        fallbacks and distinct stats come from them (see ``node_outcomes``), the rest from the meter."""
        with self._lock:
            roles = {r: dict(s) for r, s in sorted(self._stats.items())}
            fallbacks = [dict(f) for f in self._fallbacks]
        if outcomes is not None:
            merged = merge_outcomes(outcomes)
            fallbacks = merged["fallbacks"]
            for role in set(merged["items"]) | set(merged["distinct"]) | {f["role"] for f in fallbacks}:
                roles.setdefault(role, dict.fromkeys(STAT_KEYS, 0))
            for role, stats in roles.items():
                stats["items"] = merged["items"].get(role, 0)
                stats["fallbacks"] = sum(f["role"] == role for f in fallbacks)
                for stat in ("rejected",):
                    stats[stat] = merged["distinct"].get(role, {}).get(stat, 0)
            roles = dict(sorted(roles.items()))
        for role, stats in roles.items():
            stats["model"] = redact(model_name(role), self._secrets)
        totals = {k: sum(s[k] for s in roles.values()) for k in STAT_KEYS}
        totals["total_tokens"] = totals["prompt_tokens"] + totals["completion_tokens"]
        return {"roles": roles, "totals": totals, "fallbacks": fallbacks, "embeddings": self.embedding_report(),
                "budget": {"token_budget": self.token_budget, "tokens_used": self.tokens_used,
                           "spent": self.budget_spent}}


class UsageHandler(BaseCallbackHandler):
    """Sees every model request of one structured call, retries and the client's own format
    fallbacks included, and passes it to the meter under ``role``."""

    run_inline = True  # update counters in the calling loop, in order, not in an executor
    raise_error = True  # so BudgetSpent raised at request start stops the request

    def __init__(self, meter: UsageMeter, role: str):
        self.meter, self.role = meter, role

    def on_chat_model_start(self, serialized, messages, *, run_id, **kwargs) -> None:
        self.meter.request_started(self.role, run_id, messages)

    def on_llm_end(self, response, *, run_id, **kwargs) -> None:
        self.meter.request_ended(self.role, run_id, response)

    def on_llm_error(self, error, *, run_id, **kwargs) -> None:
        self.meter.request_failed(self.role, run_id)


def call_config(meter: UsageMeter, role: str, item: str) -> dict:
    """The config of one structured call: the surrounding (LangGraph node) config, so tracing and
    streams still see the call, plus a ``UsageHandler`` for ``meter`` and the role/item labels."""
    # Merged, not set: an explicit callbacks list alone would replace the parent's handlers.
    extra = {"callbacks": [UsageHandler(meter, role)], "tags": [f"sovereign:{role}"],
             "metadata": {"sovereign_role": role, "sovereign_item": item}}
    return merge_configs(ensure_config(), extra)


_EMBEDDING_METER: contextvars.ContextVar[UsageMeter | None] = contextvars.ContextVar("sovereign_embedding_meter",
                                                                                      default=None)


@contextlib.contextmanager
def metering_embeddings(meter: UsageMeter | None):
    """Within this block (this thread or task), remote embedding requests report to ``meter``: the
    embeddings client is shared by the runs of a workspace, the meter is one run's."""
    token = _EMBEDDING_METER.set(meter)
    try:
        yield meter
    finally:
        _EMBEDDING_METER.reset(token)


def embedding_meter() -> UsageMeter | None:
    """The meter ``metering_embeddings`` installed here, if any."""
    return _EMBEDDING_METER.get()
