"""PDF libraries: a folder of PDFs read into page-anchored full texts, cached on disk by file hash.

    parsed = parse_pdf("paper.pdf")                      # ParsedPdf, or raises PdfSkippedError
    ok, skipped = parse_library(paths, ParsedPdfCache(dir), workers=2, on_progress=print)

Reading uses pypdfium2 (PDFium; Apache-2.0/BSD), one page at a time: each page and its text page
are closed before the next is opened, so a 500-page file costs one page of PDFium memory. The text
work (cleaning, sections, references) is ``pdf_text``; the metadata heuristics are ``pdf_meta``.
A file that cannot be used is never silently dropped: it becomes a :class:`SkippedFile` with a
reason ("not a PDF", "encrypted", "scanned, no text", "truncated or corrupt", "too many pages",
"unreadable") and a one-line detail.
"""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import json
import logging
import os
import re
import sys
import uuid
import zlib
from collections.abc import Callable, Sequence
from pathlib import Path

import pypdfium2 as pdfium
import pypdfium2.raw as pdfium_c

from sovereign_kernel.domain.errors import PdfSkippedError
from sovereign_kernel.domain.fulltext import FULLTEXT_PARSER, FullText, ParsedPdf, PdfMetadata, SkippedFile
from sovereign_kernel.sources.pdf_meta import extract_metadata
from sovereign_kernel.sources.pdf_text import layout, normalize, page_lines, split_references
from sovereign_kernel.sources.pdf_worker import WorkerUnavailable, parse_in_subprocesses

log = logging.getLogger(__name__)

MAX_PAGES = 300
MIN_TEXT_CHARS = 100  # fewer non-space characters in the whole file: a scan without a text layer
MIN_CHARS_PER_PAGE = 20  # ... or fewer on average per page (a scan with a stamped header)
_HEAD_BYTES = 1024  # "%PDF-" must occur this early (PDF readers accept a little junk before it)

Progress = Callable[[int, int, str], None]


def paper_id_for(metadata: PdfMetadata, sha256: str) -> str:
    """The paper's id: its DOI (lower-case) when found, else its arXiv id, else ``pdf-`` + 16 hex
    digits of the file's hash (stable for the same bytes wherever the file lives)."""
    if metadata.doi:
        return metadata.doi.lower()
    if metadata.arxiv_id:
        return metadata.arxiv_id
    return f"pdf-{sha256[:16]}"


def file_sha256(path: str | os.PathLike) -> str:
    """sha256 of a file's bytes, read in 1 MiB blocks."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _skip(path: Path, reason: str, detail: str) -> PdfSkippedError:
    return PdfSkippedError(SkippedFile(file=path.name, reason=reason, detail=detail[:300]))


def _read_pages(path: Path, max_pages: int) -> tuple[list[str], dict[str, str]]:
    """Each page's raw text and the info dictionary; raises PdfSkippedError for a bad file."""
    try:
        with open(path, "rb") as fh:
            head = fh.read(_HEAD_BYTES)
    except OSError as exc:
        raise _skip(path, "unreadable", f"{type(exc).__name__}: {exc.strerror or exc}") from exc
    if b"%PDF-" not in head:
        raise _skip(path, "not a PDF", f"no %PDF- header in the first {_HEAD_BYTES} bytes")
    try:
        pdf = pdfium.PdfDocument(path)
    except pdfium.PdfiumError as exc:
        if exc.err_code in (pdfium_c.FPDF_ERR_PASSWORD, pdfium_c.FPDF_ERR_SECURITY):
            raise _skip(path, "encrypted", "a password is needed to open it") from exc
        raise _skip(path, "truncated or corrupt", f"PDFium cannot load it: {exc}") from exc
    except OSError as exc:
        raise _skip(path, "unreadable", f"{type(exc).__name__}: {exc}") from exc
    with pdf:
        n_pages = len(pdf)
        if n_pages > max_pages:  # decided before any page is read
            raise _skip(path, "too many pages", f"{n_pages} pages > max_pdf_pages {max_pages}")
        if n_pages == 0:
            raise _skip(path, "truncated or corrupt", "the file has no pages")
        info = {k: str(v) for k, v in pdf.get_metadata_dict(skip_empty=True).items()}
        pages = []
        for i in range(n_pages):
            page = textpage = None
            try:
                page = pdf[i]
                textpage = page.get_textpage()
                pages.append(textpage.get_text_range())
            except pdfium.PdfiumError as exc:
                raise _skip(path, "truncated or corrupt", f"page {i + 1} cannot be read: {exc}") from exc
            finally:  # free PDFium's page memory now, not at garbage collection
                if textpage is not None:
                    textpage.close()
                if page is not None:
                    page.close()
    chars = sum(len(p) - p.count(" ") - p.count("\n") - p.count("\r") for p in pages)
    if chars < MIN_TEXT_CHARS or chars < MIN_CHARS_PER_PAGE * n_pages:
        raise _skip(path, "scanned, no text", f"{chars} characters of text on {n_pages} pages (no text layer: OCR it)")
    return pages, info


def parse_pdf(path: str | os.PathLike, *, max_pages: int = MAX_PAGES) -> ParsedPdf:
    """Parse one PDF into its metadata and full text; raises :class:`PdfSkippedError` (with
    ``.skipped``) when the file cannot be used."""
    path = Path(path)
    raw_pages, info = _read_pages(path, max_pages)
    try:
        sha = file_sha256(path)
    except OSError as exc:
        raise _skip(path, "unreadable", f"{type(exc).__name__}: {exc}") from exc
    lay = layout(page_lines(raw_pages))
    body = split_references(lay)
    metadata = extract_metadata(info, [normalize(p) for p in raw_pages], lay, body)
    full = FullText(paper_id=paper_id_for(metadata, sha), file=path.name, sha256=sha, parser=FULLTEXT_PARSER,
                    n_pages=len(raw_pages), body=body.body, page_starts=body.page_starts,
                    sections=body.sections, references=body.references)
    return ParsedPdf(metadata=metadata, full_text=full)


class ParsedPdfCache:
    """Parses (and skips) on disk, by file hash: ``<dir>/<sha[:2]>/<sha>.json.gz``, each entry
    stamped with the parser version, so a parser change re-parses. Writes are atomic (a temp file
    unique to the writer, then ``os.replace``); a corrupt entry is deleted and read as a miss; a
    read-only or full disk is logged once and the library is parsed anyway."""

    def __init__(self, directory: str | os.PathLike) -> None:
        self.directory = Path(directory)
        self._write_failed = False

    def path_for(self, sha256: str) -> Path:
        return self.directory / sha256[:2] / f"{sha256}.json.gz"

    def get(self, sha256: str) -> ParsedPdf | SkippedFile | None:
        path = self.path_for(sha256)
        try:
            with gzip.open(path, "rt", encoding="utf-8") as fh:
                entry = json.load(fh)
        except FileNotFoundError:
            return None
        except (gzip.BadGzipFile, EOFError, zlib.error, ValueError) as exc:  # a torn or foreign file: rebuild it
            log.warning("PDF cache entry %s is corrupt (%s); re-parsing", path.name, exc)
            self._discard(path)
            return None
        except OSError:  # the cache directory itself cannot be read: parse as if empty
            return None
        if not isinstance(entry, dict) or entry.get("parser") != FULLTEXT_PARSER:
            return None  # an older parser's text: re-parse (put overwrites it)
        try:
            if entry.get("kind") == "skipped":
                return SkippedFile.model_validate(entry["record"])
            return ParsedPdf.model_validate(entry["record"])
        except (KeyError, ValueError) as exc:
            log.warning("PDF cache entry %s does not validate (%s); re-parsing", path.name, exc)
            self._discard(path)
            return None

    @staticmethod
    def _discard(path: Path) -> None:
        with contextlib.suppress(OSError):
            path.unlink(missing_ok=True)

    def put(self, sha256: str, result: ParsedPdf | SkippedFile) -> None:
        kind = "skipped" if isinstance(result, SkippedFile) else "parsed"
        entry = {"parser": FULLTEXT_PARSER, "kind": kind, "record": result.model_dump(mode="json")}
        path = self.path_for(sha256)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.{uuid.uuid4().hex}.tmp")
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            with gzip.open(tmp, "wt", encoding="utf-8", compresslevel=5) as fh:
                json.dump(entry, fh, ensure_ascii=False)
            os.replace(tmp, path)
        except OSError as exc:
            with contextlib.suppress(OSError):
                tmp.unlink(missing_ok=True)
            if not self._write_failed:
                log.warning("PDF cache %s is not writable (%s); parses are not being cached", self.directory, exc)
                self._write_failed = True


def _parse_or_skip(path: str, max_pages: int) -> ParsedPdf | SkippedFile:
    """One file, never raising: what a worker subprocess runs."""
    try:
        return parse_pdf(path, max_pages=max_pages)
    except PdfSkippedError as exc:
        return exc.skipped
    except Exception as exc:  # noqa: BLE001 - a parser bug on one file must not sink the library
        log.warning("parsing %s failed: %r", path, exc)
        return SkippedFile(file=Path(path).name, reason="truncated or corrupt",
                           detail=f"parser failed: {type(exc).__name__}: {exc}"[:300])


def _cacheable(result: ParsedPdf | SkippedFile) -> bool:
    return not (isinstance(result, SkippedFile) and result.detail.startswith("parser failed"))


def _renamed(result: ParsedPdf | SkippedFile, name: str) -> ParsedPdf | SkippedFile:
    """The same content under another file name (the cache is keyed by bytes, not by name)."""
    if isinstance(result, SkippedFile):
        return result if result.file == name else result.model_copy(update={"file": name})
    if result.full_text.file == name:
        return result
    return result.model_copy(update={"full_text": result.full_text.model_copy(update={"file": name})})


def _fits(result: ParsedPdf | SkippedFile, max_pages: int) -> bool:
    """Whether a cached answer holds under this page limit (it may have been made under another):
    a parse or a skip of a file with P pages must be "too many pages" exactly when P > max_pages."""
    if isinstance(result, ParsedPdf):
        return result.full_text.n_pages <= max_pages
    m = re.search(r"(\d+) pages", result.detail)  # "512 pages > max_pdf_pages 300", "... on 40 pages"
    if m is None:
        return True  # not a PDF, encrypted, corrupt: the page limit changes nothing
    return (result.reason == "too many pages") == (int(m.group(1)) > max_pages)


def _parse_misses(misses: dict[str, str], max_pages: int, workers: int, done: Callable[[str, object], None]) -> None:
    """Parse {sha: path} misses, in-process for one file, else in ``pdf_worker`` subprocesses (in
    here after all if those cannot run); ``done(sha, result)`` as each result arrives."""
    left = dict(misses)
    if len(misses) > 1 and workers > 1 and sys.executable:
        def answered(sha: str, result: ParsedPdf | SkippedFile) -> None:
            del left[sha]
            done(sha, result)

        try:
            parse_in_subprocesses(misses, max_pages, workers, answered)
        except WorkerUnavailable as exc:
            log.warning("PDF parser subprocesses cannot run (%s); parsing %d file(s) in-process", exc, len(left))
    for sha, path in list(left.items()):
        done(sha, _parse_or_skip(path, max_pages))


def parse_library(paths: Sequence[str | os.PathLike], cache: ParsedPdfCache | None, *, max_pages: int = MAX_PAGES,
                  workers: int = 2, on_progress: Progress | None = None) -> tuple[list[ParsedPdf], list[SkippedFile]]:
    """Parse a library of PDFs: answers from the cache where it has them, the rest in parser
    subprocesses (≤ ``workers`` and ≤ the CPU count), every result — skips included — stored back.
    The same bytes under two names are parsed once. Returns (parsed, skipped), each in input order;
    ``on_progress(done, total, file_name)`` is called after each file."""
    paths = [str(p) for p in paths]
    total, count = len(paths), 0
    results: dict[str, ParsedPdf | SkippedFile] = {}  # by sha256 (by path for a file that cannot be read)
    shas: list[str | None] = []
    misses: dict[str, str] = {}

    def progress(name: str) -> None:
        nonlocal count
        count += 1
        if on_progress is not None:
            on_progress(count, total, name)

    for path in paths:
        try:
            sha = file_sha256(path)
        except OSError as exc:
            shas.append(None)
            results[path] = SkippedFile(file=Path(path).name, reason="unreadable", detail=f"{type(exc).__name__}: "
                                        f"{exc.strerror or exc}")
            progress(Path(path).name)
            continue
        shas.append(sha)
        if sha in results or sha in misses:
            continue
        cached = cache.get(sha) if cache is not None else None
        if cached is not None and _fits(cached, max_pages):
            results[sha] = cached
        else:
            misses[sha] = path
    for path, sha in zip(paths, shas):  # cache hits (and duplicates of them) report first
        if sha is not None and sha in results:
            progress(Path(path).name)

    names_by_sha: dict[str, list[str]] = {}
    for path, sha in zip(paths, shas):
        if sha is not None:
            names_by_sha.setdefault(sha, []).append(Path(path).name)

    def done(sha: str, result: ParsedPdf | SkippedFile) -> None:
        results[sha] = result
        if cache is not None and _cacheable(result):
            cache.put(sha, result)
        for name in names_by_sha[sha]:  # every copy of these bytes is done
            progress(name)

    n_workers = max(1, min(workers, os.cpu_count() or 1, len(misses)))
    _parse_misses(misses, max_pages, n_workers, done)

    parsed: list[ParsedPdf] = []
    skipped: list[SkippedFile] = []
    for path, sha in zip(paths, shas):
        result = _renamed(results[sha if sha is not None else path], Path(path).name)
        (skipped if isinstance(result, SkippedFile) else parsed).append(result)
    return parsed, skipped
