"""A library of PDFs as papers: each readable PDF a :class:`Paper` with its full text beside it.

The parse (``sources.pdf``) is cached on disk by file hash, so a library is parsed once; a file
that cannot be read (not a PDF, encrypted, scanned without a text layer, truncated, too long) is
counted, named with its reason and skipped — never silently. Two files of the same paper (the
same DOI) are one paper: the first file by name is read, the other counted as a duplicate.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Sequence

from sovereign_kernel.domain.fulltext import FullText, ParsedPdf, SkippedFile
from sovereign_kernel.domain.ids import paper_content_hash, source_url
from sovereign_kernel.domain.schemas import Paper
from sovereign_kernel.sources.pdf import ParsedPdfCache, parse_library

logger = logging.getLogger(__name__)

ABSTRACT_FALLBACK_CHARS = 1500  # a PDF that prints no abstract is represented by its opening text


@dataclass
class Library:
    papers: list[Paper] = field(default_factory=list)
    full_texts: dict[str, FullText] = field(default_factory=dict)
    skipped: list[SkippedFile] = field(default_factory=list)
    duplicates: list[str] = field(default_factory=list)  # files of a paper another file already gave
    files: list[Path] = field(default_factory=list)  # the PDF files read


def paper_from_pdf(parsed: ParsedPdf) -> Paper:
    """The paper a parsed PDF is: metadata from the file, its abstract (or opening text) as abstract."""
    meta, ft = parsed.metadata, parsed.full_text
    title = " ".join(meta.title.split()) or Path(ft.file).stem
    abstract = " ".join(meta.abstract.split()) or " ".join(ft.body[:ABSTRACT_FALLBACK_CHARS].split())
    return Paper(
        id=ft.paper_id, title=title, abstract=abstract, authors=list(meta.authors),
        published=str(meta.year) if meta.year else None, url=source_url(ft.paper_id), source=f"pdf:{ft.file}",
        # the file's hash is part of the content: a corrected PDF under the same DOI is new content
        content_hash=paper_content_hash(ft.paper_id, title, abstract + "\n" + ft.sha256),
        doi=meta.doi, full_text=True,
    )


def load_library(paths: Sequence[Path], cache_dir: Path | None, *, max_pages: int = 300,
                 on_progress: Callable[[int, int, str], None] | None = None) -> Library:
    """Parse (or read from the cache) every PDF; papers in file-name order, duplicates counted."""
    cache = ParsedPdfCache(cache_dir) if cache_dir is not None else None
    parsed, skipped = parse_library(list(paths), cache, max_pages=max_pages, on_progress=on_progress)
    lib = Library(skipped=list(skipped))
    for item in parsed:
        paper = paper_from_pdf(item)
        if paper.id in lib.full_texts:
            lib.duplicates.append(item.full_text.file)
            continue
        lib.papers.append(paper)
        lib.full_texts[paper.id] = item.full_text
    if lib.skipped:
        logger.warning("PDF library: skipped %d file(s): %s", len(lib.skipped),
                       "; ".join(f"{s.file} ({s.reason})" for s in lib.skipped[:5]))
    return lib
