"""Model providers: which mode a run is in, and the NVIDIA NIM clients for ``nim`` mode.

``LLMSettings`` is separate from the run ``Settings`` so the pipeline's thresholds stay free of
transport details; both share the ``SOVEREIGN_`` env prefix. The API key is only ever held as a
``SecretStr`` and every string we build from an error goes through ``redact`` first.
"""

from __future__ import annotations

import asyncio
import logging
import os
import re
from typing import Any, Literal

from langchain_core.embeddings import Embeddings
from pydantic import AliasChoices, Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

Mode = Literal["offline", "nim", "custom"]
ROLES = ("planner", "extractor", "verifier", "skeptic", "validator", "synthesizer", "reviser")
API_KEY_ENV = "NVIDIA_API_KEY"

# Keys given programmatically (not via env) are remembered here so ``redact`` knows them too.
_known_secrets: set[str] = set()
_NVAPI_RE = re.compile(r"nvapi-[A-Za-z0-9_\-]+")
_BEARER_RE = re.compile(r"(?i)(bearer\s+)[A-Za-z0-9_\-\.=~+/]{8,}")
_STATUS_RE = re.compile(r"^\s*\[(\d{3})\]")  # ChatNVIDIA raises a bare Exception("[429] Too Many ...")


def redact(text: Any) -> str:
    """``text`` as a string with every NVIDIA key (``nvapi-...``), bearer token and the
    configured key replaced by ``***``. Use it on every message built from an exception."""
    out = str(text)
    secrets = set(_known_secrets)
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

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a malformed record must not break logging
            return True
        clean = redact(message)
        if clean != message or record.exc_info:
            record.msg, record.args = clean, None
            if record.exc_info:  # formatted tracebacks would otherwise carry the raw text
                record.exc_text = redact(logging.Formatter().formatException(record.exc_info))
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
                            requests.ConnectionError, requests.Timeout)):
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


class LLMSettings(BaseSettings):
    """Transport and model settings for ``nim`` / ``custom`` mode (env prefix ``SOVEREIGN_``)."""

    model_config = SettingsConfigDict(env_prefix="SOVEREIGN_", extra="ignore")

    nim_base_url: str | None = Field(
        None,
        validation_alias=AliasChoices("SOVEREIGN_NIM_BASE_URL", "NVIDIA_BASE_URL"),
        description="Self-hosted NIM root or /v1 URL; None = NVIDIA's hosted API.",
    )
    embed_base_url: str | None = Field(
        None, description="Embedding NIM URL when it runs apart from the chat NIM; None = nim_base_url."
    )
    chat_model: str = "meta/llama-3.3-70b-instruct"
    role_models: dict[str, str] = Field(default_factory=dict, description="Per-role model override, role -> model.")
    embed_model: str = "nvidia/nv-embedqa-e5-v5"
    temperature: float = Field(0.0, ge=0.0, le=2.0)
    max_completion_tokens: int = Field(1024, ge=16)
    timeout_s: float = Field(60.0, gt=0)
    max_concurrency: int = Field(
        8, ge=1, le=64,
        description="LLM requests in flight at once. 8 = the default max_papers: extraction and verification "
                    "each take one round trip; lower it for a small self-hosted NIM.")
    max_retries: int = Field(3, ge=0, le=10, description="Retries of 429/5xx/timeouts, after the first attempt.")
    invalid_retries: int = Field(1, ge=0, le=5, description="Re-asks after a None/invalid structured answer.")
    backoff_initial_s: float = Field(1.0, ge=0.0)
    backoff_max_s: float = Field(20.0, ge=0.0)
    token_budget: int | None = Field(None, ge=0, description="Prompt+completion tokens per run; None = unlimited.")
    usage_telemetry: bool = Field(False, description="The NVIDIA client's aggregate usage telemetry (hosted only).")
    # Read from NVIDIA_API_KEY only: a generic API_KEY (or SOVEREIGN_API_KEY) variable meant for
    # something else must never be sent to NVIDIA. ``LLMSettings(api_key=...)`` works via _by_name.
    api_key: SecretStr | None = Field(None, validation_alias=API_KEY_ENV, repr=False, exclude=True)

    @model_validator(mode="before")
    @classmethod
    def _by_name(cls, data: Any) -> Any:
        # Keyword names for the aliased fields, without populate_by_name (which would also make
        # the env source read SOVEREIGN_API_KEY).
        if isinstance(data, dict):
            data = dict(data)
            for name, alias in (("api_key", API_KEY_ENV), ("nim_base_url", "SOVEREIGN_NIM_BASE_URL")):
                if name in data:
                    data[alias] = data.pop(name)
        return data

    @field_validator("role_models")
    @classmethod
    def _known_roles(cls, value: dict[str, str]) -> dict[str, str]:
        unknown = sorted(set(value) - set(ROLES))
        if unknown:  # a typo would otherwise silently fall back to the default model
            raise ValueError(f"unknown roles in role_models: {unknown}; known: {list(ROLES)}")
        return value

    @model_validator(mode="after")
    def _remember_key(self) -> "LLMSettings":
        if self.api_key is not None and self.api_key.get_secret_value():
            _known_secrets.add(self.api_key.get_secret_value())
        return self

    def model_for(self, role: str) -> str:
        return self.role_models.get(role, self.chat_model)

    def key(self) -> str | None:
        return self.api_key.get_secret_value() if self.api_key is not None else None

    def public_dict(self) -> dict:
        """For reports and manifests: no key, only whether one was set."""
        data = self.model_dump(mode="json", exclude={"api_key"})
        data["api_key_set"] = bool(self.key())
        return data


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


class RetryingEmbeddings(Embeddings):
    """Any LangChain ``Embeddings`` with 429/5xx/timeout retries (exponential backoff + jitter,
    bounded) and redacted errors: the NIM embeddings client has no retry of its own."""

    def __init__(self, inner: Any, llm_settings: LLMSettings):
        import tenacity

        self.inner = inner
        self.model = getattr(inner, "model", None) or type(inner).__name__  # the vector cache's id
        s = llm_settings
        self._retry = dict(
            stop=tenacity.stop_after_attempt(1 + s.max_retries),
            wait=tenacity.wait_exponential_jitter(**backoff_params(s.backoff_initial_s, s.backoff_max_s)),
            retry=tenacity.retry_if_exception(is_transient),
            reraise=True,
        )

    def _call(self, fn, arg):
        import tenacity

        try:
            return tenacity.Retrying(**self._retry)(fn, arg)
        except Exception as exc:
            raise RuntimeError(f"embeddings failed: {redact(exc)}") from None  # no key in tracebacks

    async def _acall(self, fn, arg):
        import tenacity

        try:
            return await tenacity.AsyncRetrying(**self._retry)(fn, arg)
        except Exception as exc:
            raise RuntimeError(f"embeddings failed: {redact(exc)}") from None

    def embed_query(self, text: str) -> list[float]:
        return self._call(self.inner.embed_query, text)

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return self._call(self.inner.embed_documents, texts)

    async def aembed_query(self, text: str) -> list[float]:
        return await self._acall(self.inner.aembed_query, text)

    async def aembed_documents(self, texts: list[str]) -> list[list[float]]:
        return await self._acall(self.inner.aembed_documents, texts)
