"""Model providers: which mode a run is in, and the NVIDIA NIM clients for ``nim`` mode.

Their configuration is ``Settings.llm`` (``domain.settings.LLMSettings``). The API key is only
ever held as a ``SecretStr``, and every string built from an error goes through ``redact`` first.
"""

from __future__ import annotations

import asyncio
import logging
import os
import re
from typing import Any, Iterable

from sovereign_kernel.domain.schemas import Mode
from sovereign_kernel.domain.settings import API_KEY_ENV, LLM_ROLES, LLMSettings

ROLES = LLM_ROLES
_NVAPI_RE = re.compile(r"nvapi-[A-Za-z0-9_\-]+")
_BEARER_RE = re.compile(r"(?i)(bearer\s+)[A-Za-z0-9_\-\.=~+/]{8,}")
_STATUS_RE = re.compile(r"^\s*\[(\d{3})\]")  # ChatNVIDIA raises a bare Exception("[429] Too Many ...")


def redact(text: Any, secrets: Iterable[str] = ()) -> str:
    """``text`` as a string with every NVIDIA key (``nvapi-...``), bearer token, the key in
    ``NVIDIA_API_KEY`` and each of ``secrets`` (a key given in code: ``LLMSettings.secrets()``)
    replaced by ``***``. Use it on every message built from an exception."""
    out = str(text)
    secrets = set(secrets)
    if env_key := os.environ.get(API_KEY_ENV):
        secrets.add(env_key)
    for secret in sorted(secrets, key=len, reverse=True):  # longest first: no partial leftovers
        if len(secret) >= 8:
            out = out.replace(secret, "***")
    out = _NVAPI_RE.sub("nvapi-***", out)
    return _BEARER_RE.sub(r"\1***", out)


class RedactFilter(logging.Filter):
    """Logging filter that redacts keys from records. Install it on *handlers* (a filter on a
    logger does not see records propagated from child loggers)."""

    def __init__(self, secrets: Iterable[str] = ()):
        super().__init__()
        self.secrets = tuple(secrets)

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a malformed record must not break logging
            return True
        clean = redact(message, self.secrets)
        if clean != message or record.exc_info:
            record.msg, record.args = clean, None
            if record.exc_info:  # formatted tracebacks would otherwise carry the raw text
                record.exc_text = redact(logging.Formatter().formatException(record.exc_info), self.secrets)
                record.exc_info = None
        return True


# ---- transport errors: what is worth a retry ----------------------------------------------------

def status_of(exc: BaseException) -> int | None:
    """HTTP status of a client error: attribute (openai, httpx, aiohttp) or ChatNVIDIA's ``[NNN]``."""
    for obj in (exc, getattr(exc, "response", None)):
        for attr in ("status_code", "status"):
            value = getattr(obj, attr, None)
            if isinstance(value, int):
                return value
    m = _STATUS_RE.match(str(exc))
    return int(m.group(1)) if m else None


def is_transient(exc: BaseException) -> bool:
    """Worth retrying with backoff: 408/429/5xx, timeouts, dropped connections."""
    if isinstance(exc, (TimeoutError, asyncio.TimeoutError, ConnectionError)):
        return True
    try:  # the NIM client's transports (both are its dependencies)
        import aiohttp
        import requests

        if isinstance(exc, (aiohttp.ClientConnectionError, aiohttp.ClientPayloadError,
                            requests.ConnectionError, requests.Timeout,
                            requests.exceptions.ChunkedEncodingError)):  # a body cut short
            return True
    except ImportError:
        pass
    status = status_of(exc)
    return status is not None and (status in (408, 429) or 500 <= status < 600)


def backoff_params(initial: float, maximum: float) -> dict:
    """Backoff ``initial * 2**n + U(0, initial)``, capped. tenacity >= 9.1 renamed ``initial``
    to ``multiplier`` (the old name warns)."""
    import inspect

    import tenacity

    name = "multiplier" if "multiplier" in inspect.signature(tenacity.wait_exponential_jitter).parameters else "initial"
    return {name: initial, "max": maximum, "jitter": initial}


def detect_mode(llm_settings: LLMSettings, llm: Any = None, embeddings: Any = None) -> Mode:
    """``custom`` when the caller injected a model; ``nim`` with a key or a self-hosted NIM URL
    (which needs no key); ``offline`` otherwise."""
    if llm is not None or embeddings is not None:
        return "custom"
    if llm_settings.key() or llm_settings.nim_base_url:
        return "nim"
    return "offline"


def _client_kwargs(llm_settings: LLMSettings, base_url: str | None) -> dict:
    kwargs: dict[str, Any] = {"usage_telemetry_enabled": llm_settings.usage_telemetry}
    if base_url:
        kwargs["base_url"] = base_url
    if key := llm_settings.key():
        kwargs["api_key"] = key
    return kwargs


def make_chat(llm_settings: LLMSettings, role: str):
    """``ChatNVIDIA`` for ``role``. No network call at init for a self-hosted NIM, nor for a
    hosted model the client knows; an unknown hosted name makes it list the models once."""
    from langchain_nvidia_ai_endpoints import ChatNVIDIA

    return ChatNVIDIA(
        model=llm_settings.model_for(role),
        temperature=llm_settings.temperature,
        max_completion_tokens=llm_settings.max_completion_tokens,
        timeout=llm_settings.timeout_s,
        # Structured calls want one complete JSON answer with its usage block; without this a
        # LangGraph "messages" stream would switch the client to SSE.
        disable_streaming=True,
        **_client_kwargs(llm_settings, llm_settings.nim_base_url),
    )


def make_embeddings(llm_settings: LLMSettings):
    """``NVIDIAEmbeddings``: ``embed_query`` sends input_type=query, ``embed_documents``
    input_type=passage; truncate=END so an over-long abstract is cut, not an error."""
    from langchain_nvidia_ai_endpoints import NVIDIAEmbeddings

    emb = NVIDIAEmbeddings(
        model=llm_settings.embed_model,
        truncate="END",
        **_client_kwargs(llm_settings, llm_settings.embed_base_url or llm_settings.nim_base_url),
    )
    # NVIDIAEmbeddings has no timeout argument; its two transport clients carry the field.
    for client in (getattr(emb, "_client", None), getattr(emb, "_async_client", None)):
        if client is not None and hasattr(client, "timeout"):
            client.timeout = llm_settings.timeout_s
    return emb
