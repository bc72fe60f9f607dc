"""A remote embeddings client made safe for a run: retried, metered, budgeted, and failing with
one typed error the run can fall back on.

``RetryingEmbeddings`` wraps any LangChain ``Embeddings`` (the NIM client has no retry of its
own). Every request is one attempt: 429/5xx/timeouts are retried with backoff, honouring
``Retry-After`` (``llm.retries``); when retries are exhausted, or the server refuses outright,
it raises ``EmbeddingsUnavailable`` — the run then switches to its local embedder
(``runtime.run_vectors``) instead of ending with a traceback. Each request reports its tokens to
the run's meter (``llm.usage.metering_embeddings``): the server's ``usage`` block when it sends
one, else ~4 characters a token; a request the budget cannot admit is not sent.
"""

from __future__ import annotations

import time
from typing import Any

from langchain_core.callbacks import BaseCallbackHandler
from langchain_core.embeddings import Embeddings

from sovereign_kernel.domain.settings import LLMSettings
from sovereign_kernel.llm.providers import redact
from sovereign_kernel.llm.retries import RetryableError, observe_transport, retry_sync
from sovereign_kernel.llm.usage import BUDGET_SPENT, UsageMeter, embedding_meter

_WAIT_POLL_S = 0.02  # a reservation is released from another thread or the event loop: waiters poll


class EmbeddingsUnavailable(RuntimeError):
    """The remote embedder could not embed (retries exhausted, refused, or the budget is spent);
    the message is one redacted line."""


class _UsageCapture(BaseCallbackHandler):
    """Receives the usage block NVIDIAEmbeddings passes to its usage callback variable: once per HTTP
    request, and the client splits a long list of texts into several (50 texts each), so both add up."""

    def __init__(self) -> None:
        self.tokens: int | None = None
        self.responses = 0

    def on_llm_end(self, response, **kwargs: Any) -> None:
        self.responses += 1
        usage = (response.llm_output or {}).get("usage") or {}
        if isinstance(usage, dict) and isinstance(usage.get("prompt_tokens", usage.get("total_tokens")), int):
            self.tokens = (self.tokens or 0) + int(usage.get("prompt_tokens", usage.get("total_tokens")))


def _reported_tokens(call):
    """``call()`` with the NIM client's usage callback variable set, the tokens it reported and the
    number of HTTP responses they came in (0: none reported)."""
    capture = _UsageCapture()
    try:
        from langchain_nvidia_ai_endpoints.callbacks import usage_callback_var
    except ImportError:  # another provider: nothing reported, the tokens are estimated
        return call(), None, 0
    token = usage_callback_var.set(capture)
    try:
        return call(), capture.tokens, capture.responses
    finally:
        usage_callback_var.reset(token)


def _admit(meter: UsageMeter, estimate: int) -> None:
    while (decision := meter.reserve(estimate)) == "wait":
        time.sleep(_WAIT_POLL_S)
    if decision == "refuse":
        raise EmbeddingsUnavailable(BUDGET_SPENT)


class RetryingEmbeddings(Embeddings):
    """``inner`` with retries, metering and a typed failure (see the module doc)."""

    def __init__(self, inner: Any, llm_settings: LLMSettings):
        self.inner = observe_transport(inner)
        self.model = getattr(inner, "model", None) or type(inner).__name__  # the vector cache's id
        self.base_url = getattr(inner, "base_url", None)  # ... with the endpoint (see Workspace.resources_for)
        self.settings = llm_settings

    def _call(self, fn, texts: list[str]):
        meter = embedding_meter()
        chars = sum(len(t) for t in texts)
        estimate = (chars + 3) // 4

        def one_request():
            try:
                vectors, tokens, responses = _reported_tokens(lambda: fn(texts))
            except Exception:
                if meter is not None:
                    meter.embedding_request(len(texts), None, chars, ok=False)
                raise
            if meter is not None:
                meter.embedding_request(len(texts), tokens, chars, requests=max(1, responses))
            if len(vectors) != len(texts):  # an answer that lost vectors would misalign every row after it
                raise RetryableError(f"embeddings answer holds {len(vectors)} vectors for {len(texts)} texts")
            return vectors

        if meter is not None:
            _admit(meter, estimate)
        try:
            return retry_sync(one_request, self.settings)
        except Exception as exc:  # no key in tracebacks: one redacted line
            raise EmbeddingsUnavailable(f"embeddings failed: {redact(exc, self.settings.secrets())}") from None
        finally:
            if meter is not None:
                meter.settle(estimate)

    def embed_query(self, text: str) -> list[float]:
        return self._call(lambda ts: [self.inner.embed_query(ts[0])], [text])[0]

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return self._call(self.inner.embed_documents, list(texts))

    # The run embeds in worker threads (the vector cache is blocking); the async forms run the
    # same metered, retried path there rather than a second copy of it.
    async def aembed_query(self, text: str) -> list[float]:
        import asyncio

        return await asyncio.to_thread(self.embed_query, text)

    async def aembed_documents(self, texts: list[str]) -> list[list[float]]:
        import asyncio

        return await asyncio.to_thread(self.embed_documents, texts)
