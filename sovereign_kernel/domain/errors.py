"""Every error the kernel raises on purpose, in one tree. Messages are one line, name what was
wrong and, where there is one, what to do; none carries a key or a traceback's worth of text.

    SovereignError
    ├── InvalidQuestionError   the question is empty, too long or has no topic   (also ValueError)
    ├── RunError               no such run, a run id already taken, not waiting for review (ValueError)
    ├── CorpusError            a corpus path, file or record set that cannot be used (ValueError)
    │   └── PdfSkippedError      a library PDF skipped: not a PDF, encrypted, no text, corrupt, too long
    ├── SourceError            a live source could not answer                      (also RuntimeError)
    │   ├── SourceUnavailableError   unreachable, or nothing cached in cache-only mode: fall back
    │   └── ArxivQueryError          arXiv rejected the query itself: retrying will not help
    ├── StoreError             the publication store refused a request            (also ValueError)
    │   ├── SchemaError, ReportNotFound, ReportConflict, ClaimNotFound, ReportRetracted, InvalidEntry
    ├── EvalError              an evaluation cannot run (bad files, unsupported mode) (ValueError)
    ├── DataFileError          a SQLite file is read-only, full, locked or corrupt     (RuntimeError)
    └── OutputError            the output directory cannot take the report        (also OSError)

A keyword that is not a setting is a plain ``TypeError`` (as Python does for any bad keyword).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the error carries the record; errors.py itself stays import-free
    from sovereign_kernel.domain.fulltext import SkippedFile


class SovereignError(Exception):
    """Base of every error the kernel raises on purpose."""


class InvalidQuestionError(SovereignError, ValueError):
    """The question cannot be researched (empty, too long, or without content words)."""


class RunError(SovereignError, ValueError):
    """A run id that does not exist, is already taken, or is not in the state the request needs."""


class CorpusError(SovereignError, ValueError):
    """The corpus cannot be loaded (missing path, no JSONL files, no valid record)."""


class PdfSkippedError(CorpusError):
    """A library PDF that cannot be used; ``.skipped`` says which file, why, and what was found."""

    def __init__(self, skipped: SkippedFile) -> None:
        detail = f" ({skipped.detail})" if skipped.detail else ""
        super().__init__(f"{skipped.file}: skipped, {skipped.reason}{detail}")
        self.skipped = skipped

    def __reduce__(self):  # picklable across processes despite the one-argument __init__
        return (type(self), (self.skipped,))


class SourceError(SovereignError, RuntimeError):
    """A live source (arXiv) could not answer."""


ArxivSourceError = SourceError  # the name earlier versions used


class SourceUnavailableError(SourceError):
    """arXiv (or the cache, in cache-only mode) cannot serve the request; one-line reason."""


class ArxivQueryError(SourceError):
    """arXiv rejected the query itself (HTTP 400 error feed); retrying will not help."""


class StoreError(SovereignError, ValueError):
    """Base class of every error the store raises on purpose."""


class SchemaError(StoreError):
    """Not a store file, or one whose schema is newer than this software."""


class ReportNotFound(StoreError):
    """No published report has this id."""


class ReportConflict(StoreError):
    """Different content under an already published report id."""


class ClaimNotFound(StoreError):
    """The report has no claim with this id."""


class ReportRetracted(StoreError):
    """A retracted report takes no further corrections or retractions."""


class InvalidEntry(StoreError):
    """An empty reason, an unknown run status, a manifest that does not match its report."""


class EvalError(SovereignError, ValueError):
    """The evaluation cannot run (bad input files, unsupported mode)."""


class DataFileError(SovereignError, RuntimeError):
    """A SQLite file of the data or cache directory cannot be opened or written: read-only, disk
    full, locked too long, or corrupt. One line: what failed, which file, what to do."""


class OutputError(SovereignError, OSError):
    """The output directory (``--out``) cannot take the report: not a directory, not writable."""
