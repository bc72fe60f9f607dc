"""Reading model answers: JSON parsing into the role's schema, structured output by instruction for
models without ``with_structured_output``, and the callback that meters every request's tokens."""

from __future__ import annotations

import json
from typing import Any

from langchain_core.callbacks import BaseCallbackHandler
from langchain_core.messages import HumanMessage
from langchain_core.runnables import RunnableLambda
from pydantic import BaseModel, ValidationError


def parse_json_answer(text: str, schema: type[BaseModel]) -> BaseModel | None:
    """The first JSON object in a free-text answer (code fences allowed), validated; else None."""
    start, end = text.find("{"), text.rfind("}")
    if start < 0 or end <= start:
        return None
    try:
        return schema.model_validate_json(text[start : end + 1])
    except ValidationError:
        return None


def coerce(result: Any, schema: type[BaseModel]) -> BaseModel | None:
    if isinstance(result, schema):
        return result
    try:
        if isinstance(result, dict):
            return schema.model_validate(result)
        if isinstance(result, BaseModel):
            return schema.model_validate(result.model_dump())
    except ValidationError:
        pass
    return None



class UsageHandler(BaseCallbackHandler):
    """Sees every model request of one structured call, retries and the client's own format
    fallbacks included, and takes the token counts from the response the server sent."""

    run_inline = True  # update counters in the calling loop, in order, not in an executor
    raise_error = True  # so BudgetSpent raised at request start stops the request

    def __init__(self, session, role: str):
        self.session, self.role = session, role

    def on_chat_model_start(self, serialized, messages, *, run_id, **kwargs) -> None:
        self.session._on_start(self.role, run_id, messages)

    def on_llm_end(self, response, *, run_id, **kwargs) -> None:
        self.session._on_end(self.role, run_id, response)

    def on_llm_error(self, error, *, run_id, **kwargs) -> None:
        self.session._on_error(self.role, run_id)


def reported_usage(response) -> tuple[int, int] | None:
    for generations in response.generations:
        for gen in generations:
            usage = getattr(getattr(gen, "message", None), "usage_metadata", None)
            if usage:
                return int(usage.get("input_tokens", 0)), int(usage.get("output_tokens", 0))
    raw = (response.llm_output or {}).get("token_usage") or (response.llm_output or {}).get("usage")
    if isinstance(raw, dict) and raw:
        return int(raw.get("prompt_tokens", 0)), int(raw.get("completion_tokens", 0))
    return None


def json_prompt_runnable(chat, schema: type[BaseModel]):
    """Structured output by instruction + parsing, for models without ``with_structured_output``."""
    instruction = ("Answer with only one JSON object (no prose, no code fence) that validates "
                   "against this JSON Schema:\n" + json.dumps(schema.model_json_schema()))

    async def call(messages, config):
        reply = await chat.ainvoke([*messages, HumanMessage(instruction)], config)
        content = reply.content if isinstance(reply.content, str) else str(reply.text)
        return parse_json_answer(content, schema)

    return RunnableLambda(call, name=f"json_prompt_{schema.__name__}")
