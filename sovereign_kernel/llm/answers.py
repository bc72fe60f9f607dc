"""Reading model answers: JSON parsing into the role's schema, coercion of a structured result,
which errors mean "the answer was invalid", and structured output by instruction for models
without ``with_structured_output``. (The token meter is ``llm.usage``.)"""

from __future__ import annotations

import json
from typing import Any

from langchain_core.exceptions import OutputParserException
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
    """A structured runnable's result (the schema, a dict, another model) as ``schema``, else None."""
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


def is_invalid_output(exc: BaseException) -> bool:
    """The model answered, but not in the schema: worth a re-ask, not a fallback at once."""
    return isinstance(exc, (OutputParserException, ValidationError, json.JSONDecodeError))


def json_prompt_runnable(chat, schema: type[BaseModel]):
    """Structured output by instruction + parsing, for models without ``with_structured_output``."""
    instruction = ("Answer with only one JSON object (no prose, no code fence) that validates "
                   "against this JSON Schema:\n" + json.dumps(schema.model_json_schema()))

    async def call(messages, config):
        reply = await chat.ainvoke([*messages, HumanMessage(instruction)], config)
        content = reply.content if isinstance(reply.content, str) else str(reply.text)
        return parse_json_answer(content, schema)

    return RunnableLambda(call, name=f"json_prompt_{schema.__name__}")
