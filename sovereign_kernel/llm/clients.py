"""The chat clients of a run: ``ClientPool`` holds one client per model and, per (role, answer
schema), the structured runnable built on it, wrapped in the retry/timeout guard.

One attempt is one request. ChatNVIDIA's structured runnable tries up to three request formats
(``response_format``, then ``guided_json``, then ``nvext.guided_json``) on *any* failure — a 429
became three requests with no pause between them. ``FormatFallback`` takes over its formats:
the next format is tried only on a format error (the server refused the request's shape: 400/
415/422, or answered without a parsable object) and only until one format has worked on that
client, which is then kept; a 429, a 5xx or a timeout goes straight to the retry guard, which
backs off (``llm.retries``).

Also here: ``TransientLLMError`` (retries exhausted) and ``short_error`` (an exception as one
redacted line, for fallback reasons).
"""

from __future__ import annotations

import asyncio
import threading
from typing import Any, Callable, Iterable, Sequence

from langchain_core.language_models import BaseLanguageModel
from langchain_core.runnables import Runnable, RunnableLambda
from pydantic import BaseModel

from sovereign_kernel.domain.settings import LLMSettings
from sovereign_kernel.llm.answers import json_prompt_runnable
from sovereign_kernel.llm.providers import redact, status_of
from sovereign_kernel.llm.retries import RetryableError, bounded, observe_transport, retry_async
from sovereign_kernel.llm.schemas import ROLE_SCHEMAS

FORMAT_ERRORS = frozenset({400, 415, 422})  # the server refused the request's shape, not its load

# Retries exhausted: the last retryable failure (redacted), with the server's Retry-After if any.
TransientLLMError = RetryableError


def short_error(exc: BaseException, secrets: Iterable[str] = ()) -> str:
    """``exc`` on one line, at most 300 characters, with ``secrets`` and key-shaped text redacted."""
    text = " ".join(str(exc).split()) or type(exc).__name__
    return redact(text[:300], secrets)


class FormatFallback:
    """The structured-output formats of one client, tried in order only on a format error, the
    first that worked kept for every later call (see the module doc). Each request is bounded by
    ``timeout_s`` (+1 s for the client's own ceiling to fire first)."""

    def __init__(self, chains: Sequence[Runnable], timeout_s: float):
        self.chains = list(chains)
        self.timeout_s = timeout_s
        self.kept: int | None = None  # index of the format that produced an answer

    async def ainvoke(self, messages, config=None):
        start = self.kept if self.kept is not None else 0
        last: BaseException | None = None
        for i in range(start, len(self.chains)):
            try:
                result = await bounded(self.chains[i].ainvoke(messages, config), self.timeout_s + 1.0)
            except Exception as exc:
                if self.kept is None and status_of(exc) in FORMAT_ERRORS:
                    last = exc
                    continue
                raise
            if result is not None:
                self.kept = i
                return result
            if self.kept is not None:  # a known-good format answered nothing usable: a re-ask, not a new format
                return None
        if last is not None:
            raise last
        return None


def structured_runnable(chat: Any, schema: type[BaseModel], settings: LLMSettings):
    """``chat``'s structured runnable for ``schema``, one request per attempt when it is the NIM
    client's multi-format one (its ``chains``), as is otherwise; JSON prompting without support."""
    try:
        inner = chat.with_structured_output(schema)
    except NotImplementedError:  # e.g. a model without tool/JSON support
        return json_prompt_runnable(chat, schema), 1
    chains = getattr(inner, "chains", None)
    if isinstance(chains, (list, tuple)) and chains and all(isinstance(c, Runnable) for c in chains):
        return FormatFallback(chains, settings.timeout_s), len(chains)
    return inner, 1


def guarded(inner: Any, settings: LLMSettings, requests_per_attempt: int = 1):
    """``inner`` with a per-attempt time ceiling and retries of transient errors (exponential backoff
    with jitter, or the server's Retry-After), as ``settings`` bounds them."""
    # A custom model without its own timeout must not hang the run: bound each attempt too.
    ceiling = requests_per_attempt * (settings.timeout_s + 1.0) + 1.0

    async def call(messages, config):
        return await retry_async(lambda: bounded(inner.ainvoke(messages, config), ceiling), settings)

    return RunnableLambda(call, name="structured_attempt")


class ClientPool:
    """Clients and structured runnables, each built once, from any thread. ``chat``: one
    injected chat model, or a factory ``role -> chat model`` called once per distinct model
    (``settings.model_for(role)``): ChatNVIDIA lists the server's models once per client."""

    def __init__(self, chat: Any, settings: LLMSettings):
        self.settings = settings
        if isinstance(chat, BaseLanguageModel) or not callable(chat):
            self._factory: Callable[[str], Any] = lambda role, _chat=chat: _chat
        else:
            self._factory = chat
        self._lock = threading.RLock()  # re-entered: a runnable's build gets its client
        self._clients: dict[str, Any] = {}  # model -> client
        self._runnables: dict[tuple[str, type], Any] = {}
        self._names: dict[str, str] = {}  # role -> model name, as the response cache keys it
        self._warm: Any = None

    def chat(self, role: str):
        """The role's client; raises what the factory raised (nothing is kept then)."""
        model = self.settings.model_for(role)
        if model not in self._clients:
            with self._lock:
                if model not in self._clients:
                    # Each response's status and Retry-After noted for the retry guard (NIM clients only).
                    self._clients[model] = observe_transport(self._factory(role))
        return self._clients[model]

    def model_name(self, role: str) -> str:
        """What the role's client says its model is; the configured name if it cannot be built."""
        try:
            chat = self.chat(role)
        except Exception:
            return self.settings.model_for(role)
        return str(getattr(chat, "model", None) or getattr(chat, "model_name", None) or type(chat).__name__)

    async def cached_model_name(self, role: str) -> str:
        """``model_name``, resolved once per role (off the loop: building a hosted client may list
        its models)."""
        if role not in self._names:
            self._names[role] = await asyncio.to_thread(self.model_name, role)
        return self._names[role]

    def runnable(self, role: str, schema: type[BaseModel]):
        """The guarded structured runnable for ``schema`` on the role's client. Blocking."""
        key = (role, schema)
        if key not in self._runnables:
            with self._lock:
                if key not in self._runnables:
                    inner, requests = structured_runnable(self.chat(role), schema, self.settings)
                    self._runnables[key] = guarded(inner, self.settings, requests)
        return self._runnables[key]

    async def arunnable(self, role: str, schema: type[BaseModel]):
        """``runnable`` from the event loop: ChatNVIDIA lists the server's models while it is
        built (one blocking GET /v1/models per client), so a first build runs in a thread."""
        key = (role, schema)
        if key not in self._runnables:
            await asyncio.to_thread(self.runnable, role, schema)
        return self._runnables[key]

    def prepare_all(self) -> None:
        """Every role's model name, client and structured runnable (errors surface on real use)."""
        for role, schema in ROLE_SCHEMAS.items():
            try:
                self._names.setdefault(role, self.model_name(role))
                self.runnable(role, schema)
            except Exception:
                continue

    def warm_up(self) -> None:
        """Start ``prepare_all`` in a thread, once: the other roles' clients are then built while
        the first call waits on the server, not on later stages' critical path. Call from a loop."""
        if self._warm is None:
            self._warm = asyncio.ensure_future(asyncio.to_thread(self.prepare_all))
