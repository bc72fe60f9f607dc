"""Full text: a paper's parsed body with page anchors, its passages, and the files a library skipped.

A PDF becomes a :class:`FullText` (``sources.pdf``): the body as one string — pages joined in
order, de-hyphenated, ligatures expanded, repeated headers and footers dropped — with the
character offset where each page starts, the section headings found in it, and the reference
list kept apart (it states no findings of the paper's own). Offsets into ``body`` are what body
claims and passages store, so any span can be checked against the text and shown with its page.
"""

from __future__ import annotations

from bisect import bisect_right
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

FULLTEXT_PARSER = "pdf-text-v1"  # bump when parsing changes what a PDF's text is: cached parses are redone


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Section(_Model):
    start: int = Field(description="Offset in the body where the heading starts.")
    title: str = Field(description="The heading as printed, e.g. 'Results' or '2.3 Cell culture'.")


class FullText(_Model):
    """One paper's parsed body (references apart), anchored to pages."""

    paper_id: str
    file: str = Field(description="The file's name (not its path: a library can move).")
    sha256: str = Field(description="sha256 of the file's bytes: the parse cache's key.")
    parser: str = FULLTEXT_PARSER
    n_pages: int
    body: str = Field(description="The body text, pages joined in order (references excluded).")
    page_starts: list[int] = Field(description="page_starts[i] = offset in body where page i + 1 starts.")
    sections: list[Section] = Field(default_factory=list)
    references: str = Field("", description="The reference list, kept apart from the body.")

    def page_at(self, offset: int) -> int:
        """The 1-based page an offset of the body is on."""
        return max(1, bisect_right(self.page_starts, offset))

    def section_at(self, offset: int) -> str | None:
        """The heading of the section an offset of the body is in (None before the first heading)."""
        starts = [s.start for s in self.sections]
        i = bisect_right(starts, offset)
        return self.sections[i - 1].title if i else None


class PdfMetadata(_Model):
    """What a PDF says about itself (its info dictionary and first page)."""

    title: str = ""
    authors: list[str] = Field(default_factory=list)
    year: int | None = None
    doi: str | None = Field(None, description="Lower-cased, without the https://doi.org/ prefix.")
    arxiv_id: str | None = Field(None, description="Without version, e.g. '2501.10120'.")
    abstract: str = Field("", description="The abstract as printed; else the start of the first page's text.")


class ParsedPdf(_Model):
    metadata: PdfMetadata
    full_text: FullText


SkipReason = Literal["not a PDF", "encrypted", "scanned, no text", "truncated or corrupt", "too many pages",
                     "unreadable"]


class SkippedFile(_Model):
    """A library file that was counted, named and skipped (never silently)."""

    file: str
    reason: SkipReason
    detail: str = Field("", description="One line: what was found, e.g. '512 pages > max_pdf_pages 300'.")


class Passage(_Model):
    """An overlapping window of a paper's body: what the index searches and the extractor reads."""

    paper_id: str
    index: int = Field(description="Position among the paper's passages.")
    start: int = Field(description="Offset of the first character in the paper's body.")
    end: int
    page: int = Field(description="Page (1-based) the passage starts on.")
    end_page: int
    page_breaks: list[int] = Field(default_factory=list,
                                   description="Body offsets inside the passage where the next page starts.")
    section: str | None = None
    text: str

    def page_at(self, offset: int) -> int:
        """The page a body offset inside this passage is on."""
        return self.page + bisect_right(self.page_breaks, offset)
