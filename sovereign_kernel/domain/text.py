"""Small, dependency-free text utilities shared by the core.

Sentence segmentation keeps character offsets, so every claim can point at the exact
span of the abstract it came from.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from sovereign_kernel.domain.stopwords import ENGLISH_STOP_WORDS

# Question words and research-question boilerplate that say nothing about the topic.
QUESTION_STOP_WORDS = frozenset(
    {
        "what", "which", "how", "why", "when", "does", "do", "is", "are", "can", "could",
        "would", "should", "compared", "compare", "comparison", "versus", "vs", "effect",
        "effects", "impact", "role", "evaluated", "evaluate", "evaluation", "measured",
        "using", "based", "eg", "ie", "etc", "respect", "terms", "equivalent",
        "relative", "known", "current", "state", "art", "approaches", "methods", "existing",
        "study", "studies", "research", "question", "literature", "papers", "recent",
        # verbs that link a question's topics without being one
        "improve", "improves", "affect", "affects", "work", "works", "perform", "performs", "help", "helps",
        "make", "makes", "use", "uses", "used", "achieve", "achieves", "change", "changes", "influence",
        "relate", "related", "differ", "exist", "extent", "degree", "way", "ways", "far", "good", "better", "best",
    }
)
STOP_WORDS = frozenset(ENGLISH_STOP_WORDS) | QUESTION_STOP_WORDS

_TOKEN_RE = re.compile(r"[A-Za-z][A-Za-z0-9\-]*[A-Za-z0-9]|[A-Za-z]|\d+(?:\.\d+)?%?")
# Abbreviations after which a period does not end a sentence.
_ABBREV = ("e.g.", "i.e.", "et al.", "etc.", "vs.", "Fig.", "fig.", "Eq.", "eq.", "Sec.", "cf.", "resp.", "approx.", "No.", "Tab.")
_SENT_END_RE = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9\"'(\[])")


@dataclass(frozen=True)
class Sentence:
    text: str
    start: int
    end: int


def tokenize(text: str) -> list[str]:
    return [t.lower() for t in _TOKEN_RE.findall(text)]


def content_tokens(text: str) -> list[str]:
    return [t for t in tokenize(text) if t not in STOP_WORDS and len(t) > 1]


def stem(token: str) -> str:
    """A light suffix stripper: enough to match 'attacks'/'attack', 'models'/'model'."""
    if len(token) <= 3 or token.endswith(("ss", "us", "is")):
        return token
    if token.endswith("ies") and len(token) > 4:
        return token[:-3] + "y"
    if token.endswith(("sses", "xes", "zes", "ches", "shes")):
        return token[:-2]
    if token.endswith("s"):
        return token[:-1]
    return token


def split_sentences(text: str) -> list[Sentence]:
    """Split an abstract into sentences with exact character offsets into ``text``."""
    sentences: list[Sentence] = []
    start = 0
    for m in _SENT_END_RE.finditer(text):
        candidate = text[start : m.start()]
        if candidate.rstrip().endswith(_ABBREV):
            continue
        _append(sentences, text, start, m.start())
        start = m.end()
    _append(sentences, text, start, len(text))
    return sentences


def body_sentences(text: str, offset: int = 0) -> list[Sentence]:
    """Sentences of full text with offsets (plus ``offset``): paragraphs and headings, which the PDF
    parser keeps on lines of their own, never run into one sentence."""
    out: list[Sentence] = []
    pos = 0
    for line in text.split("\n"):
        for s in split_sentences(line):
            out.append(Sentence(s.text, offset + pos + s.start, offset + pos + s.end))
        pos += len(line) + 1
    return out


def _append(out: list[Sentence], text: str, start: int, end: int) -> None:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    if end > start:
        out.append(Sentence(text[start:end], start, end))


def keyphrases(text: str, max_words: int = 4) -> list[str]:
    """Maximal runs of content words, split at stop words and punctuation.

    'robustness of SMoES-based MoE-VLMs to distribution shift' ->
    ['robustness', 'smoes-based moe-vlms', 'distribution shift'].
    """
    phrases: list[str] = []
    for chunk in re.split(r"[,;:()?!\[\]\"]|\.\s", text):
        run: list[str] = []
        for tok in tokenize(chunk):
            if tok in STOP_WORDS or re.fullmatch(r"\d+(\.\d+)?%?", tok):
                if run:
                    phrases.append(" ".join(run[:max_words]))
                run = []
            else:
                run.append(tok)
        if run:
            phrases.append(" ".join(run[:max_words]))
    seen: set[str] = set()
    unique = []
    for p in phrases:
        if p not in seen:
            seen.add(p)
            unique.append(p)
    return unique


NUMBER_RE = re.compile(r"(?<![\w.])\d+(?:\.\d+)?\s?(?:%|x|×)?")
HEDGE_RE = re.compile(
    r"\b(may|might|could|possibly|potentially|suggests?|appears?|likely|unclear|preliminary|we hypothesi[sz]e)\b",
    re.I,
)
NEGATION_RE = re.compile(r"\b(not|no|never|fails?|failed|cannot|without|neither|nor|lack|lacks|unable)\b", re.I)


def clip(text: str, limit: int = 400) -> str:
    """``text`` on one line, cut at ``limit`` characters with an ellipsis (model output entering a report)."""
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def clean_list(values, limit: int = 6) -> list[str]:
    """Distinct, clipped, non-empty strings, at most ``limit`` (a model's reasons or notes)."""
    out: list[str] = []
    for v in values:
        v = clip(v)
        if v and v not in out:
            out.append(v)
    return out[:limit]


def numbers_in(text: str) -> set[str]:
    return {re.sub(r"\s", "", n) for n in NUMBER_RE.findall(text)}
