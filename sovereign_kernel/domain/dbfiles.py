"""The SQLite files a run keeps — the store, the checkpoints, the caches — and their errors as one
line each: what failed, which file, what to do. sqlite3's own messages ("unable to open database
file") name neither the file nor a remedy, and a traceback is no answer for a user.

A corrupt *cache* is moved aside and rebuilt (``move_aside``); a corrupt store or checkpoint
database holds what cannot be recomputed, so it is named and never replaced.
"""

from __future__ import annotations

import logging
import sqlite3
import time
from pathlib import Path

from sovereign_kernel.domain.errors import DataFileError

log = logging.getLogger(__name__)

_CORRUPT = ("file is not a database", "malformed", "not a database", "file is encrypted")


def kind(exc: BaseException) -> str:
    """corrupt | locked | full | readonly | cantopen | other, from a sqlite3 error."""
    msg = str(exc).lower()
    if any(m in msg for m in _CORRUPT):
        return "corrupt"
    if "locked" in msg or "busy" in msg:
        return "locked"
    if "disk is full" in msg or "database or disk is full" in msg:
        return "full"
    if "readonly" in msg or "read-only" in msg:
        return "readonly"
    if "unable to open" in msg:
        return "cantopen"
    return "other"


def corrupt_advice(path: Path) -> str:
    return (f"it is never replaced automatically: move it aside (mv {path} {path}.bad) to start a new one, "
            "or restore it from a backup")


def describe(exc: BaseException, path: str | Path, what: str, *, timeout: float | None = None,
             env: str = "SOVEREIGN_HOME") -> str:
    """One line for ``exc`` raised on ``path`` (``what``: "the store", "the checkpoint database", …)."""
    path = Path(path)
    msg = " ".join(str(exc).split()) or type(exc).__name__
    k = kind(exc)
    if k == "corrupt":
        return f"{what} {path} is corrupt ({msg}); {corrupt_advice(path)}"
    if k == "locked":
        waited = f" (waited {timeout:g} s)" if timeout is not None else ""
        return f"{what} {path} is locked by another process{waited}; retry when that process has finished"
    if k == "full":
        return f"cannot write {what} {path}: the disk is full ({msg}); free some space and retry"
    if k == "readonly":
        return (f"cannot write {what} {path}: it is read-only; make {path.parent} writable or set {env} to a "
                "writable directory")
    if k == "cantopen":
        return (f"cannot open {what} {path}: its directory is missing, not writable or not readable; make "
                f"{path.parent} writable or set {env} to a writable directory")
    return f"{what} {path}: {msg}"


def data_file_error(exc: BaseException, path: str | Path, what: str, **kw) -> DataFileError:
    return DataFileError(describe(exc, path, what, **kw))


def move_aside(path: Path) -> Path:
    """Move a corrupt cache file (and its -wal/-shm) to ``<name>.corrupt-<time>`` so a new one is built."""
    aside = path.with_name(f"{path.name}.corrupt-{time.strftime('%Y%m%d-%H%M%S')}")
    path.replace(aside)
    for suffix in ("-wal", "-shm"):
        side = path.with_name(path.name + suffix)
        if side.exists():
            side.replace(aside.with_name(aside.name + suffix))
    return aside


def is_sqlite_error(exc: BaseException) -> bool:
    """A database error about the file (IntegrityError is a refused statement, not a file problem)."""
    return isinstance(exc, sqlite3.DatabaseError) and not isinstance(exc, sqlite3.IntegrityError)
