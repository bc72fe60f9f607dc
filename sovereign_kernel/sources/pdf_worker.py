"""PDF parser subprocesses for ``sources.pdf.parse_library``: the worker and the parent side that feeds it.

    python -m sovereign_kernel.sources.pdf_worker MAX_PAGES

Plain subprocesses, not ``multiprocessing`` children: a worker never imports the caller's
``__main__``, so a script without an ``if __name__ == "__main__":`` guard can parse a library (the
"spawn" start method re-ran such a script in every child, and every file came back "corrupt"), and
nothing is forked from a caller that holds threads.

Protocol (bytes, one JSON document per line): the worker first writes ``{"ready": true}``; then it
reads absolute file paths from stdin, each a JSON string (so that any file name survives: a newline
in it, bytes that are not UTF-8), and answers each with ``{"path": ..., "parsed": ParsedPdf}`` or
``{"path": ..., "skipped": SkippedFile}``, until stdin closes. A parser exception on one file is a
"truncated or corrupt" skip ("parser failed: <Type>: <msg>") and the worker goes on; only a crash
inside PDFium ends it early, and the parent then sees stdout close before the answer.

The parent (:func:`parse_in_subprocesses`) runs one thread per worker, each sending the next file
only when its worker has answered, so the files go to whichever worker is free. A worker that dies
is replaced, and its file is tried once more, alone, in the fresh worker; a file that kills that
one too is skipped ("parser failed: PDFium crashed on it"). Workers are always reaped, and killed
if the call is interrupted.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import queue
import signal
import subprocess
import sys
import tempfile
import threading
from collections.abc import Callable
from pathlib import Path
from typing import IO

from sovereign_kernel.domain.fulltext import ParsedPdf, SkippedFile

log = logging.getLogger(__name__)

CRASHED = "parser failed: PDFium crashed on it"
_READY = b'{"ready": true}\n'
_ROOT = str(Path(__file__).resolve().parents[2])  # the folder holding sovereign_kernel/: the worker's cwd


class WorkerUnavailable(RuntimeError):
    """A parser subprocess could not be started, or died before it was ready (the files not yet
    done are the caller's to parse in-process)."""


def _worker_command(max_pages: int) -> list[str]:
    """The worker's command line (a seam: the tests put a crashing worker in its place)."""
    return [sys.executable, "-m", "sovereign_kernel.sources.pdf_worker", str(max_pages)]


class _Workers:
    """The running workers: started, asked one file at a time, stopped, and all killed by ``close``."""

    def __init__(self, max_pages: int) -> None:
        self.max_pages = max_pages
        self.lock = threading.Lock()
        self.errors: dict[subprocess.Popen, IO[bytes]] = {}  # each running worker's stderr, a temp file
        self.closed = False

    def start(self) -> subprocess.Popen | None:
        """A fresh worker, ready for paths; None once closed. Its cwd is the package's folder, so
        ``-m`` finds this very package and nothing in the caller's cwd shadows a module."""
        errors = tempfile.TemporaryFile()  # noqa: SIM115 - closed by stop(); not a pipe: a chatty worker never blocks
        with self.lock:
            if self.closed:
                errors.close()
                return None
            try:
                proc = subprocess.Popen(_worker_command(self.max_pages), stdin=subprocess.PIPE,
                                        stdout=subprocess.PIPE, stderr=errors, cwd=_ROOT)  # env: inherited as is
            except OSError as exc:
                errors.close()
                raise WorkerUnavailable(f"{type(exc).__name__}: {exc}") from exc
            self.errors[proc] = errors
        if proc.stdout.readline() == _READY:
            return proc
        tail = self.stop(proc)
        if self.closed:
            return None
        raise WorkerUnavailable(tail or f"exit code {proc.returncode}")

    @staticmethod
    def ask(proc: subprocess.Popen, path: str) -> ParsedPdf | SkippedFile | None:
        """The worker's answer for one file; None when it died on it."""
        try:
            proc.stdin.write(json.dumps(path).encode("ascii") + b"\n")
            proc.stdin.flush()
            record = json.loads(proc.stdout.readline())  # b"": the worker is gone
            if "parsed" in record:
                return ParsedPdf.model_validate(record["parsed"])
            return SkippedFile.model_validate(record["skipped"])
        except (OSError, ValueError, KeyError, TypeError):  # a broken pipe, no line, a torn line
            return None

    def stop(self, proc: subprocess.Popen) -> str:
        """End a worker (stdin closed first: a healthy one exits by itself), reap it, and return
        the tail of its stderr."""
        with contextlib.suppress(OSError):
            proc.stdin.close()
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        proc.stdout.close()
        with self.lock:
            errors = self.errors.pop(proc)
        with errors:
            errors.seek(0)
            return errors.read()[-800:].decode("utf-8", "replace").strip()

    def close(self) -> None:
        """Kill and reap every worker still running; no new one starts after this."""
        with self.lock:
            self.closed = True
            running = list(self.errors)
        for proc in running:
            with contextlib.suppress(OSError):
                proc.kill()
            proc.wait()

    def serve(self, todo: queue.SimpleQueue, answers: queue.SimpleQueue) -> None:
        """One thread's loop over one worker at a time: (key, path) from ``todo`` until it is empty,
        (key, result) onto ``answers`` — or the exception that ended the loop."""
        proc = None
        try:
            while not self.closed:
                try:
                    key, path = todo.get_nowait()
                except queue.Empty:
                    return
                result = None
                for _ in range(2):  # a file that kills a worker gets one more, fresh, worker to itself
                    if proc is None and (proc := self.start()) is None:
                        return
                    if (result := self.ask(proc, path)) is not None:
                        break
                    tail, proc = self.stop(proc), None
                    if self.closed:
                        return
                    log.warning("a PDF parser worker died on %s%s", Path(path).name, f": {tail}" if tail else "")
                if result is None:
                    result = SkippedFile(file=Path(path).name, reason="truncated or corrupt", detail=CRASHED)
                elif isinstance(result, SkippedFile) and result.detail.startswith("parser failed"):
                    log.warning("parsing %s failed: %s", path, result.detail)
                answers.put((key, result))
        except BaseException as exc:  # noqa: BLE001 - handed to the caller's thread, which raises it
            answers.put(exc)
        finally:
            if proc is not None:
                self.stop(proc)


def parse_in_subprocesses(files: dict[str, str], max_pages: int, workers: int,
                          done: Callable[[str, ParsedPdf | SkippedFile], None]) -> None:
    """Parse {key: path} in ``workers`` subprocesses; ``done(key, result)`` is called in the
    caller's thread as each result arrives. Raises :class:`WorkerUnavailable` when a worker cannot
    run at all. Every worker is reaped before this returns or raises."""
    todo: queue.SimpleQueue = queue.SimpleQueue()
    for key, path in files.items():
        todo.put((key, os.path.abspath(path)))  # the worker's cwd is not the caller's
    answers: queue.SimpleQueue = queue.SimpleQueue()
    pool = _Workers(max_pages)
    threads = [threading.Thread(target=pool.serve, args=(todo, answers), name=f"pdf-worker-{i}", daemon=True)
               for i in range(workers)]
    try:
        for thread in threads:
            thread.start()
        for _ in files:
            item = answers.get()
            if isinstance(item, BaseException):
                raise item
            done(*item)
    finally:
        pool.close()
        for thread in threads:
            thread.join(timeout=10)


def main(argv: list[str]) -> int:
    """The worker: paths in on stdin, answers out on stdout (see the module's docstring)."""
    from sovereign_kernel.sources.pdf import _parse_or_skip  # here: sources.pdf imports this module

    max_pages = int(argv[0])
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle: it kills us
    # the protocol gets a private copy of stdout; fd 1 goes to stderr, so nothing a library prints
    # (C code included) can fall into the answers
    answers = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    answers.write(_READY)
    answers.flush()
    for line in sys.stdin.buffer:
        if not line.strip():
            continue
        path = json.loads(line)
        result = _parse_or_skip(path, max_pages)
        kind = "skipped" if isinstance(result, SkippedFile) else "parsed"
        answers.write(json.dumps({"path": path, kind: result.model_dump(mode="json")}).encode("ascii") + b"\n")
        answers.flush()
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv[1:]))
    except BrokenPipeError:  # the parent has gone
        sys.exit(1)
