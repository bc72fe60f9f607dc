"""The local corpus: arXiv-style JSONL records loaded into :class:`~sovereign_kernel.domain.schemas.Paper`.

A corpus is a ``.jsonl`` file, a ``.jsonl.gz`` file or a folder of them; ``None`` means the
bundled demo corpus (``sovereign_kernel/data/demo_corpus.jsonl.gz``). One JSON object a line::

    {"id": "2405.18770v6", "title": ..., "abstract": ..., "authors": [...], "categories": [...],
     "published": "YYYY-MM-DD", "version": 6, ...any extra fields, ignored}

or a record of the arXiv metadata snapshot (``sources.records`` reads both layouts).

Loading is forgiving about the data and strict about the request: a line that is no paper is
skipped and counted by its reason ("not JSON", "no title", ...), a repeated id is counted by what
happened to it (the same record again; an older version replaced by a newer one; the same id with
other content, where the *first* record is kept, not silently the last), and the run reports both
(``corpus_notes``: the report's uncertainties; ``corpus_record``: the manifest). A missing path, a
folder without JSONL files or a corpus without a single valid record raises :class:`CorpusError`.
"""

from __future__ import annotations

import gzip
import json
import logging
import os
import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

from sovereign_kernel.domain.errors import CorpusError
from sovereign_kernel.domain.ids import corpus_content_hash as _hash_pairs
from sovereign_kernel.domain.ids import paper_content_hash, split_arxiv_version  # noqa: F401 (paper_content_hash: re-exported)
from sovereign_kernel.domain.fulltext import FullText, SkippedFile
from sovereign_kernel.domain.schemas import Paper
from sovereign_kernel.sources.library import Library, load_library
from sovereign_kernel.sources.records import Skip, normalise_whitespace, parse_record  # noqa: F401 (re-exported)

logger = logging.getLogger(__name__)

DEMO_CORPUS_FILE = "demo_corpus.jsonl.gz"
_SUFFIXES = (".jsonl", ".jsonl.gz")
PDF_SUFFIX = ".pdf"
_ISO_DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}")
_MAX_LINES_LISTED = 5
_MAX_FILES_LISTED = 10


@dataclass
class Corpus:
    """Papers sorted by id, with an order-independent content hash."""

    papers: list[Paper]
    by_id: dict[str, Paper]
    content_hash: str
    skipped_lines: int = 0
    duplicates: int = 0
    label: str = ""
    files: list[str] = field(default_factory=list)
    skipped_by_file: dict[str, list[int]] = field(default_factory=dict)
    full_texts: dict[str, FullText] = field(default_factory=dict)  # paper id -> parsed PDF body
    skipped_files: list[SkippedFile] = field(default_factory=list)  # PDFs counted, named and skipped
    duplicate_files: list[str] = field(default_factory=list)  # PDFs of a paper another file gave
    skipped: list[tuple[str, int, str]] = field(default_factory=list)  # (file, line, reason) of each line skipped
    duplicate_ids: list[tuple[str, str]] = field(default_factory=list)  # (reason, id) of each repeated id

    @property
    def skipped_reasons(self) -> dict[str, list[int]]:
        """Reason -> the line numbers skipped for it (see ``skipped`` for their files)."""
        return {r: [line for _, line, _ in v] for r, v in _by_reason(self.skipped).items()}

    @property
    def duplicate_reasons(self) -> dict[str, list[str]]:
        """Reason -> the ids repeated for it, in the order met."""
        return {r: [pid for _, pid in v] for r, v in _by_reason(self.duplicate_ids, key=0).items()}

    def __len__(self) -> int:
        return len(self.papers)

    def __iter__(self) -> Iterator[Paper]:
        return iter(self.papers)

    def __contains__(self, paper_id: object) -> bool:
        if not isinstance(paper_id, str):
            return False
        return split_arxiv_version(paper_id)[0] in self.by_id

    def get(self, paper_id: str) -> Paper | None:
        """Look a paper up by id, with or without version suffix / ``arXiv:`` prefix."""
        return self.by_id.get(split_arxiv_version(paper_id)[0])


def corpus_content_hash(papers: list[Paper]) -> str:
    """sha256 over the papers' content hashes in id order: same content -> same hash."""
    return _hash_pairs((p.id, p.content_hash) for p in papers)


# What happened to a record whose id an earlier one had: the reasons a corpus counts.
SAME_RECORD = "same record repeated"
NEWER_VERSION = "older version replaced by a newer one"
CONFLICT = "same id, different content (first kept)"
FROM_PDF = "also in a PDF of the library (the PDF kept)"


def _newer(new: Paper, old: Paper) -> bool | None:
    """Is ``new`` a later version of ``old`` (same id)? By version numbers when both have one, else by
    ISO ``published`` dates (a later listing is a later version); None when neither decides."""
    if new.version is not None and old.version is not None and new.version != old.version:
        return new.version > old.version
    if (new.published and old.published and new.published != old.published
            and _ISO_DATE_RE.match(new.published) and _ISO_DATE_RE.match(old.published)):
        return new.published > old.published
    return None


def _duplicate(new: Paper, old: Paper) -> tuple[str, bool]:
    """(reason, whether ``new`` replaces ``old``) for a record whose id is already there."""
    if old.full_text:
        return FROM_PDF, False
    if new.content_hash == old.content_hash and new.version == old.version:
        return SAME_RECORD, False
    newer = _newer(new, old)
    if newer is None:
        return CONFLICT, False
    return NEWER_VERSION, newer


@dataclass
class _Tally:
    """What loading met besides papers: skipped lines and duplicate ids, each with its reason."""

    skipped: list[tuple[str, int, str]] = field(default_factory=list)  # (file, line, reason)
    duplicates: list[tuple[str, str]] = field(default_factory=list)  # (reason, paper id)


def _read_file(path: Path, seen: dict[str, Paper], tally: _Tally) -> None:
    """Add the records of one file to ``seen``, counting what is skipped or repeated in ``tally``."""
    source = f"local:{path.name}"
    opener = gzip.open if path.name.endswith(".gz") else open
    try:
        with opener(path, "rb") as fh:
            for lineno, raw in enumerate(fh, start=1):
                if not raw.strip():
                    continue
                try:
                    paper = parse_record(raw, source)
                except Skip as why:
                    tally.skipped.append((path.name, lineno, str(why)))
                    continue
                old = seen.get(paper.id)
                if old is not None:
                    reason, replaces = _duplicate(paper, old)
                    tally.duplicates.append((reason, paper.id))
                    if not replaces:
                        continue
                seen[paper.id] = paper
    except (OSError, EOFError) as exc:  # unreadable file, bad or truncated gzip
        raise CorpusError(f"cannot read corpus file {path}: {exc}") from exc


def _corpus_files(path: Path) -> list[Path]:
    if not path.exists():
        raise CorpusError(f"corpus path not found: {path}")
    if path.is_dir():
        files = sorted(
            (p for p in path.iterdir() if p.is_file() and p.name.lower().endswith((*_SUFFIXES, PDF_SUFFIX))),
            key=lambda p: p.name,
        )
        if not files:
            raise CorpusError(f"no *.jsonl, *.jsonl.gz or *.pdf files in corpus folder: {path}")
        return files
    return [path]


def _is_pdf(path: Path) -> bool:
    return path.name.lower().endswith(PDF_SUFFIX)


def _load_files(files: list[Path], label: str, library: Library | None = None) -> Corpus:
    seen: dict[str, Paper] = {p.id: p for p in library.papers} if library else {}
    tally = _Tally()
    for f in files:
        _read_file(f, seen, tally)
    skipped_by_file: dict[str, list[int]] = {}
    for name, line, _ in tally.skipped:
        skipped_by_file.setdefault(name, []).append(line)
    skipped_lines = len(tally.skipped)
    if skipped_lines:
        parts = []
        for name, lines in skipped_by_file.items():
            listed = ", ".join(map(str, lines[:_MAX_LINES_LISTED]))
            more = ", ..." if len(lines) > _MAX_LINES_LISTED else ""
            parts.append(f"{len(lines)} in {name} (line {listed}{more})")
        logger.warning("corpus %s: skipped %d line(s) (%s): %s", label, skipped_lines,
                       ", ".join(f"{r}: {len(v)}" for r, v in _by_reason(tally.skipped).items()), "; ".join(parts))
    if not seen:
        why = [f"{skipped_lines} line(s) skipped: " + ", ".join(
            f"{r}: {len(v)}" for r, v in _by_reason(tally.skipped).items())] if skipped_lines else []
        if library is not None and library.skipped:
            listed = "; ".join(f"{s.file}: {s.reason}" for s in library.skipped[:_MAX_FILES_LISTED])
            more = " …" if len(library.skipped) > _MAX_FILES_LISTED else ""
            why.append(f"{len(library.skipped)} PDF file(s) skipped — {listed}{more}")
        raise CorpusError(f"no valid records in corpus {label}" + (f" ({'; '.join(why)})" if why else ""))
    if tally.duplicates:
        logger.warning("corpus %s: %d duplicate id(s): %s", label, len(tally.duplicates),
                       ", ".join(f"{r}: {len(v)}" for r, v in _by_reason(tally.duplicates, key=0).items()))
    papers = sorted(seen.values(), key=lambda p: p.id)
    return Corpus(
        papers=papers,
        by_id={p.id: p for p in papers},
        content_hash=corpus_content_hash(papers),
        skipped_lines=skipped_lines,
        duplicates=len(tally.duplicates) + (len(library.duplicates) if library else 0),  # PDFs: duplicate_files
        label=label,
        files=[str(f) for f in files] + [str(f) for f in (library.files if library else [])],
        skipped_by_file=skipped_by_file,
        full_texts=dict(library.full_texts) if library else {},
        skipped_files=list(library.skipped) if library else [],
        duplicate_files=list(library.duplicates) if library else [],
        skipped=list(tally.skipped),
        duplicate_ids=list(tally.duplicates),
    )


def corpus_issues(corpus: Corpus) -> dict | None:
    """For the manifest: lines skipped and ids repeated, each counted by reason; None when clean."""
    if not corpus.skipped and not corpus.duplicate_ids:
        return None
    return {"skipped_lines": {r: len(v) for r, v in corpus.skipped_reasons.items()},
            "duplicates": {r: len(v) for r, v in corpus.duplicate_reasons.items()}}


def corpus_note(corpus: Corpus, listed: int = _MAX_LINES_LISTED) -> str | None:
    """For the report's uncertainties: what loading left out or replaced, by reason, with where."""
    if not corpus.skipped and not corpus.duplicate_ids:
        return None
    parts = []
    if corpus.skipped:
        reasons = []
        for reason, items in _by_reason(corpus.skipped).items():
            where = ", ".join(f"{f} line {n}" for f, n, _ in items[:listed]) + (" …" if len(items) > listed else "")
            reasons.append(f"{reason}: {len(items)} — {where}")
        parts.append(f"{len(corpus.skipped)} line(s) skipped ({'; '.join(reasons)})")
    if corpus.duplicate_ids:
        reasons = []
        for reason, ids in corpus.duplicate_reasons.items():
            reasons.append(f"{reason}: {len(ids)} — {', '.join(ids[:listed])}{' …' if len(ids) > listed else ''}")
        parts.append(f"{len(corpus.duplicate_ids)} duplicate id(s) ({'; '.join(reasons)})")
    return "Corpus records left out: " + "; ".join(parts) + "."


def _by_reason(items, key: int = 2) -> dict[str, list]:
    """Items grouped by the reason at index ``key``, in first-seen order."""
    out: dict[str, list] = {}
    for item in items:
        out.setdefault(item[key], []).append(item)
    return out


def _demo_corpus_ref():
    """The bundled demo corpus as an importlib.resources Traversable (or a plain path)."""
    try:
        return resources.files("sovereign_kernel").joinpath("data").joinpath(DEMO_CORPUS_FILE)
    except (TypeError, NotADirectoryError, ModuleNotFoundError):
        # e.g. sovereign_kernel imported as a namespace package through an editable-install hook
        return Path(__file__).resolve().parents[1] / "data" / DEMO_CORPUS_FILE


def corpus_fingerprint(path: str | Path | None = None) -> tuple:
    """What identifies a corpus's files as they are now: each file's path, size and modification
    time (a stat per file, no reading). A rewritten file gets a new fingerprint, so a cache keyed by
    it reloads the file; ``None`` is the bundled demo corpus."""
    if path is None:
        with resources.as_file(_demo_corpus_ref()) as demo:
            files = [demo]
    else:
        files = _corpus_files(Path(path).expanduser())
    stats = []
    for f in files:
        try:
            st = f.stat()
        except OSError as exc:
            raise CorpusError(f"cannot read corpus file {f}: {exc}") from exc
        stats.append((str(f), st.st_size, st.st_mtime_ns))
    return (None if path is None else str(path), tuple(stats))


def load_corpus(path: str | Path | None = None, *, pdf_cache: Path | None = None, max_pdf_pages: int = 300,
                on_progress: Callable[[int, int, str], None] | None = None) -> Corpus:
    """Load a JSONL / JSONL.gz / PDF file or a folder of them (PDFs and JSONL may mix); ``None`` =
    the bundled demo corpus. PDFs are parsed once: ``pdf_cache`` keeps their text by file hash."""
    if path is None:
        with resources.as_file(_demo_corpus_ref()) as demo:
            if not demo.is_file():
                raise CorpusError(f"bundled demo corpus is missing: {demo}")
            corpus = _load_files([demo], "bundled demo corpus")
        corpus.label = f"bundled demo corpus ({len(corpus)} papers)"
        return corpus
    p = Path(path).expanduser()
    files = _corpus_files(p)
    pdfs = [f for f in files if _is_pdf(f)]
    library = load_library(pdfs, pdf_cache, max_pages=max_pdf_pages, on_progress=on_progress) if pdfs else None
    if library is not None:
        library.files = pdfs
    return _load_files([f for f in files if not _is_pdf(f)], str(p), library)


def corpus_folder(items: Sequence[object], directory: Path) -> Path:
    """A corpus given as a list — paths of PDF / JSONL files, :class:`Paper` objects, record dicts —
    as one folder the loader reads: links to the files and a JSONL of the records, under a name
    derived from the content (the same list gives the same folder; nothing is copied)."""
    records, files = [], []
    for item in items:
        if isinstance(item, Paper):
            records.append(item.model_dump(mode="json", exclude={"passages", "content_hash"}))
        elif isinstance(item, dict):
            records.append(item)
        elif isinstance(item, (str, Path)):
            path = Path(item).expanduser().resolve()
            if not path.is_file():
                raise CorpusError(f"corpus file not found: {item}")
            files.append(path)
        else:
            raise CorpusError(f"a corpus list holds paths, Paper objects or dicts, not {type(item).__name__}")
    lines = [json.dumps(r, sort_keys=True, ensure_ascii=False, default=str) for r in records]
    key = _hash_pairs([(str(f), str(f)) for f in files] + [(line, line) for line in lines])[:16]
    folder = directory / key
    folder.mkdir(parents=True, exist_ok=True)
    names: set[str] = set()
    for f in files:
        name = f.name if f.name not in names else f"{len(names)}-{f.name}"
        names.add(name)
        link = folder / name
        if not link.is_symlink():
            link.symlink_to(f)
    if lines:
        target = folder / "records.jsonl"
        if not target.exists():
            tmp = folder / f"records.jsonl.{os.getpid()}.tmp"
            tmp.write_text("\n".join(lines) + "\n", encoding="utf-8")
            tmp.replace(target)
    return folder
