"""What makes a question researchable: text, at most 2,000 characters, at least 3 words with a topic."""

from __future__ import annotations

from typing import Any

from sovereign_kernel.domain.errors import InvalidQuestionError
from sovereign_kernel.domain.settings import MAX_QUESTION_CHARS, MIN_QUESTION_WORDS
from sovereign_kernel.domain.text import content_tokens


def validate_question(question: Any) -> str:
    """The question on one line, or ``InvalidQuestionError`` saying what is wrong with it."""
    if not isinstance(question, str):
        raise InvalidQuestionError(f"the question must be text, got {type(question).__name__}")
    q = " ".join(question.split())
    if not q:
        raise InvalidQuestionError("the question is empty")
    if len(q) > MAX_QUESTION_CHARS:
        raise InvalidQuestionError(f"the question is {len(q)} characters long; the limit is {MAX_QUESTION_CHARS}")
    if len(content_tokens(q)) < 1 or len(q.split()) < MIN_QUESTION_WORDS:
        raise InvalidQuestionError(f"the question needs at least {MIN_QUESTION_WORDS} words with a topic: {q!r}")
    return q
