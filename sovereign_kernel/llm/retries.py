"""Retries of model requests: which failures are worth another request, how long to wait, and
what the server said about it.

One attempt is one HTTP request. A failure worth retrying (408/429/5xx, a timeout, a dropped
connection or truncated body) is re-raised as ``RetryableError``, carrying the server's
``Retry-After`` when it sent one: the NIM client raises a bare ``Exception("[429] ...")`` and
keeps no response headers, so ``observe_transport`` hooks its HTTP sessions and notes each
response's status and ``Retry-After`` in a per-call ``ResponseNote`` (a context variable: the
note belongs to the task or thread that made the request, never to a shared client).

The wait before retry ``n`` is ``initial * 2**n + U(0, initial)`` capped at ``backoff_max_s``
(the decorrelating jitter keeps parallel callers from retrying in lock step) — or the server's
``Retry-After`` when it asks for longer. A ``Retry-After`` above ``RETRY_AFTER_CAP_S`` ends the
retries at once: the caller falls back instead of blocking a run for minutes. LangChain's
``with_retry`` and LangGraph's ``RetryPolicy`` cannot read a wait off the exception, hence tenacity.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import ssl
import time
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from typing import Any, Awaitable, Callable, Iterator, TypeVar

import tenacity

from sovereign_kernel.domain.settings import LLMSettings
from sovereign_kernel.llm.providers import (
    backoff_params,
    is_transient,
    redact,
    status_of,
)

T = TypeVar("T")
RETRY_AFTER_CAP_S = 60.0  # a server asking for a longer pause gets no retry from this run


class RetryableError(Exception):
    """A failure worth another request (message redacted); ``retry_after``: the seconds the server
    asked for, when it did; ``status``: the HTTP status, when there was one."""

    def __init__(self, message: str, retry_after: float | None = None, status: int | None = None):
        super().__init__(message)
        self.retry_after, self.status = retry_after, status


@dataclass
class ResponseNote:
    """What the transport saw of the last response of one call."""

    status: int | None = None
    retry_after: float | None = None


_NOTE: contextvars.ContextVar[ResponseNote | None] = contextvars.ContextVar("sovereign_response_note", default=None)


def retry_after_s(value: str | None) -> float | None:
    """A ``Retry-After`` header in seconds: delay-seconds (a fraction tolerated) or an HTTP date."""
    if not value:
        return None
    try:
        return max(0.0, float(value.strip()))
    except ValueError:
        pass
    try:
        return max(0.0, parsedate_to_datetime(value).timestamp() - time.time())
    except (TypeError, ValueError, IndexError, OverflowError):
        return None


def _note(status: int, headers: Any) -> None:
    if (note := _NOTE.get()) is not None:
        note.status, note.retry_after = status, retry_after_s(headers.get("Retry-After"))


def observe_transport(client: Any) -> Any:
    """Make the NIM client ``client`` (ChatNVIDIA, NVIDIAEmbeddings) note each response's status and
    ``Retry-After`` in the calling context's ``ResponseNote``. Its two transports are rebuilt with
    the same settings they had (TLS verification, timeouts); returns ``client``."""
    sync, async_ = getattr(client, "_client", None), getattr(client, "_async_client", None)
    if sync is not None and hasattr(sync, "get_session_fn"):
        make = sync.get_session_fn

        def session():
            s = make()
            s.hooks["response"].append(lambda response, **_: _note(response.status_code, response.headers))
            return s

        sync.get_session_fn = session
    if async_ is not None and hasattr(async_, "get_async_session_fn"):
        import aiohttp

        trace = aiohttp.TraceConfig()

        async def on_end(_session, _ctx, params) -> None:
            _note(params.response.status, params.response.headers)

        trace.on_request_end.append(on_end)

        def async_session():
            verify = async_.verify_ssl
            tls = ssl.create_default_context(cafile=verify) if isinstance(verify, str) else verify
            t = async_.timeout  # connect/read (inactivity) timeouts, as the client sets them
            return aiohttp.ClientSession(connector=aiohttp.TCPConnector(ssl=tls), trace_configs=[trace],
                                         timeout=aiohttp.ClientTimeout(connect=t, sock_connect=t, sock_read=t))

        async_.get_async_session_fn = async_session
    return client


def as_retryable(exc: BaseException, note: ResponseNote, secrets=()) -> RetryableError | None:
    """``exc`` as a ``RetryableError`` (with the noted ``Retry-After``) when worth a retry, else None."""
    if isinstance(exc, RetryableError):
        return exc
    if not is_transient(exc):
        return None
    status = status_of(exc) or note.status
    text = " ".join(str(exc).split())[:300] or type(exc).__name__
    return RetryableError(redact(text, secrets), note.retry_after if status in (429, 503) else None, status)


def _policy(settings: LLMSettings) -> dict:
    backoff = tenacity.wait_exponential_jitter(**backoff_params(settings.backoff_initial_s, settings.backoff_max_s))

    def wait(state: tenacity.RetryCallState) -> float:
        exc = state.outcome.exception() if state.outcome else None
        asked = getattr(exc, "retry_after", None) or 0.0
        return max(backoff(state), asked)

    def too_long(state: tenacity.RetryCallState) -> bool:
        exc = state.outcome.exception() if state.outcome else None
        return (getattr(exc, "retry_after", None) or 0.0) > RETRY_AFTER_CAP_S

    return dict(stop=tenacity.stop_after_attempt(1 + settings.max_retries) | too_long, wait=wait,
                retry=tenacity.retry_if_exception_type(RetryableError), reraise=True)


@contextlib.contextmanager
def _attempt(secrets) -> Iterator[None]:
    """One attempt: a fresh ``ResponseNote`` for the transport to fill, and a failure worth a retry
    turned into ``RetryableError`` (shared by the async and the blocking retry loops)."""
    note = ResponseNote()
    token = _NOTE.set(note)
    try:
        yield
    except Exception as exc:
        if (retryable := as_retryable(exc, note, secrets)) is not None:
            raise retryable from None
        raise
    finally:
        _NOTE.reset(token)


async def retry_async(call: Callable[[], Awaitable[T]], settings: LLMSettings) -> T:
    """``await call()``, one request per attempt, retried as the module doc says. Each attempt
    runs with a fresh ``ResponseNote``; a failure worth a retry leaves as ``RetryableError``."""
    secrets = settings.secrets()

    async def attempt() -> T:
        with _attempt(secrets):
            return await call()

    return await tenacity.AsyncRetrying(**_policy(settings))(attempt)


def retry_sync(call: Callable[[], T], settings: LLMSettings) -> T:
    """``retry_async`` for blocking calls (the embeddings client in a worker thread)."""
    secrets = settings.secrets()

    def attempt() -> T:
        with _attempt(secrets):
            return call()

    return tenacity.Retrying(**_policy(settings))(attempt)


async def bounded(awaitable: Awaitable[T], seconds: float) -> T:
    """``awaitable`` with a time ceiling; its ``TimeoutError`` is transient (retried)."""
    return await asyncio.wait_for(awaitable, seconds)
