"""The sentences a run reads of a paper, each with where it is: the abstract, or a page of the body.

Extraction and verification read the same units: the abstract's sentences (offsets into the
abstract) and, for a paper read in full, the sentences of the passages the retriever chose
(offsets into the body, with page and section). A span is checked against the text it claims to
quote at exactly those offsets.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from sovereign_kernel.domain.ids import source_label
from sovereign_kernel.domain.schemas import Evidence, Paper, SourceSpan
from sovereign_kernel.domain.text import body_sentences, content_tokens, split_sentences

ABSTRACT = "Abstract"  # the section name of the abstract's sentences


@dataclass(frozen=True)
class TextUnit:
    paper_id: str
    text: str
    start: int
    end: int
    location: Literal["abstract", "body"] = "abstract"
    page: int | None = None
    section: str | None = None

    def span(self) -> SourceSpan:
        return SourceSpan(start=self.start, end=self.end, text=self.text, location=self.location, page=self.page,
                          section=self.section)

    def evidence(self, score: float) -> Evidence:
        return Evidence(paper_id=self.paper_id, span=self.text, start=self.start, end=self.end, score=round(score, 4),
                        location=self.location, page=self.page, section=self.section)

    @property
    def place(self) -> str:
        """The unit's section for 'another section corroborates': the abstract, or a body section."""
        return ABSTRACT if self.location == "abstract" else (self.section or "body")


NEAR_COPY = 0.6  # token-set Jaccard above which a sentence restates another rather than says more


def near_copy(a: str, b: str) -> bool:
    """Is one sentence a near-copy of the other (an abstract sentence printed again on page 1)?"""
    x, y = set(content_tokens(a)), set(content_tokens(b))
    return bool(x and y) and len(x & y) / len(x | y) >= NEAR_COPY


def paper_units(paper: Paper) -> list[TextUnit]:
    """The abstract's sentences, then those of each passage read — a sentence two overlapping
    passages share is read once, and the abstract printed again in the body is not read twice."""
    units = [TextUnit(paper.id, s.text, s.start, s.end) for s in split_sentences(paper.abstract)]
    abstract = [set(content_tokens(u.text)) for u in units]
    title = " ".join(paper.title.lower().split()) if len(paper.title) >= 20 else ""
    seen: set[int] = set()
    for p in paper.passages:
        for s in body_sentences(p.text, p.start):
            if s.start in seen:
                continue
            seen.add(s.start)
            words = set(content_tokens(s.text))
            if words and any(len(words & a) / len(words | a) >= NEAR_COPY for a in abstract if a):
                continue
            if title and title in " ".join(s.text.lower().split()):  # the title block of page 1, not a finding
                continue
            units.append(TextUnit(paper.id, s.text, s.start, s.end, "body", p.page_at(s.start), p.section))
    return units


def text_at(paper: Paper, span: SourceSpan) -> str | None:
    """What the paper holds at a span's offsets, in the text the span's location names (None when
    the run did not read that part of the body)."""
    if span.location == "abstract":
        return paper.abstract[span.start:span.end]
    for p in paper.passages:
        if p.start <= span.start and span.end <= p.end:
            return p.text[span.start - p.start:span.end - p.start]
    return None


def where(span: SourceSpan | Evidence) -> str:
    """A span's place as a report prints it: ``[120:245]`` in an abstract, ``p. 7 [5120:5301]`` in a body."""
    page = f"p. {span.page} " if span.location == "body" and span.page else ""
    return f"{page}[{span.start}:{span.end}]"


def citation(label: str, claim_paper: str, span: SourceSpan) -> str:
    """How a finding cites its claim row: ``C3, arXiv:2402.19150`` or ``C3, doi:10.1128/…, p. 7``."""
    page = f", p. {span.page}" if span.location == "body" and span.page else ""
    return f"{label}, {source_label(claim_paper)}{page}"


def corroborated_by(claims) -> str:
    """What "corroborated" was measured against in a run: another paper, and — when any claim was
    corroborated in its own full text — another section of its own paper."""
    if any(c.corroborated_in_paper is not None for c in claims):
        return "another paper or another section of its own paper"
    return "another paper"
