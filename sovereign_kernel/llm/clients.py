"""The chat clients of a run: ``ClientPool`` holds one client per model and, per (role, answer
schema), the structured runnable built on it, wrapped in the retry/timeout guard.

Also here: ``TransientLLMError`` (what the guard retries) and ``short_error`` (an exception as
one redacted line, for fallback reasons).
"""

from __future__ import annotations

import asyncio
import threading
from typing import Any, Callable, Iterable

from langchain_core.language_models import BaseLanguageModel
from langchain_core.runnables import RunnableLambda
from pydantic import BaseModel

from sovereign_kernel.domain.settings import LLMSettings
from sovereign_kernel.llm.answers import json_prompt_runnable
from sovereign_kernel.llm.providers import backoff_params, is_transient, redact
from sovereign_kernel.llm.schemas import ROLE_SCHEMAS


class TransientLLMError(Exception):
    """A 408/429/5xx, timeout or dropped connection, re-raised as a type (message redacted) so
    ``with_retry(retry_if_exception_type=...)`` can select it: the NIM client raises a bare
    ``Exception("[429] ...")``."""


def short_error(exc: BaseException, secrets: Iterable[str] = ()) -> str:
    """``exc`` on one line, at most 300 characters, with ``secrets`` and key-shaped text redacted."""
    text = " ".join(str(exc).split()) or type(exc).__name__
    return redact(text[:300], secrets)


def guarded(inner: Any, settings: LLMSettings):
    """``inner`` with a per-attempt time ceiling and retries (exponential backoff + jitter) of
    transient errors only, as ``settings`` bounds them."""
    secrets = settings.secrets()
    # ChatNVIDIA's structured runnable may send up to 3 requests (response_format, then
    # guided_json, then nvext.guided_json) each bounded by timeout_s: bound the attempt too,
    # so a custom model without its own timeout cannot hang the run.
    ceiling = 3 * settings.timeout_s + 1.0

    async def attempt(messages, config):
        try:
            return await asyncio.wait_for(inner.ainvoke(messages, config), ceiling)
        except Exception as exc:
            if is_transient(exc):
                raise TransientLLMError(short_error(exc, secrets)) from None
            raise

    return RunnableLambda(attempt, name="structured_attempt").with_retry(
        retry_if_exception_type=(TransientLLMError,),
        wait_exponential_jitter=True,
        exponential_jitter_params=backoff_params(settings.backoff_initial_s, settings.backoff_max_s),
        stop_after_attempt=1 + settings.max_retries,
    )


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
                    self._clients[model] = self._factory(role)
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
                    chat = self.chat(role)
                    try:
                        inner = chat.with_structured_output(schema)
                    except NotImplementedError:  # e.g. a model without tool/JSON support
                        inner = json_prompt_runnable(chat, schema)
                    self._runnables[key] = guarded(inner, self.settings)
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
