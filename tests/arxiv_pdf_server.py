"""arXiv's ``/pdf/`` endpoint, served next to the replayed query API on one local server.

``ArxivPdfServer`` is an :class:`ArxivReplayServer` (same 127.0.0.1 port, so the API and the
PDFs are one host, as ``arxiv.org`` and ``export.arxiv.org`` are one site for arXiv's rate
rule) that also answers ``GET /pdf/<id>[vN]`` with the real PDF bytes of
``tests/fixtures/arxiv_pdf/<id>vN.pdf`` (an unversioned id gets the highest version held).
It can be scripted to misbehave first: an HTTP status (503, 429 with Retry-After, ...), an
HTML page with status 200, a truncated body (with or without a Content-Length that says so)
or a connection reset. Every PDF request's arrival time (``time.monotonic``) is recorded in
``pdf_requests``; in-flight counting is shared with the API requests.
"""

from __future__ import annotations

import re
import socket
import struct
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from urllib.parse import urlsplit

from arxiv_replay_server import ArxivReplayServer

PDF_FIXTURES = Path(__file__).parent / "fixtures" / "arxiv_pdf"
ARXIV_HTML = b"""<!DOCTYPE html>
<html lang="en"><head><title>arXiv PDF not available</title></head>
<body><h1>PDF unavailable</h1><p>The PDF for this paper is being generated. Please try again later.</p></body></html>
"""
_PATH_RE = re.compile(r"^/pdf/(?P<id>.+?)(?:v(?P<version>\d+))?$")


@dataclass
class PdfRequest:
    arrived: float
    path: str
    status: int = 0
    answered_by: str = ""


@dataclass
class _PdfScript:
    kind: str  # "status" | "html" | "truncate" | "reset"
    times: int
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    when: str | None = None  # only requests for this path (e.g. "/pdf/2501.10120v1")
    content_length: bool = True


class ArxivPdfServer(ArxivReplayServer):
    def __init__(self, pdf_root: Path = PDF_FIXTURES, **kwargs) -> None:
        super().__init__(**kwargs)
        self.pdfs: dict[str, bytes] = {p.stem: p.read_bytes() for p in sorted(pdf_root.glob("*.pdf"))}
        self.pdf_requests: list[PdfRequest] = []
        self._pdf_scripts: list[_PdfScript] = []
        self._pdf_lock = threading.Lock()

    # scripting -------------------------------------------------------------------------
    def add_pdf(self, name: str, data: bytes) -> None:
        """Serve ``data`` as ``/pdf/<name>`` (``name`` with its version, e.g. ``2501.00001v1``)."""
        self.pdfs[name] = data

    def pdf_fail(self, status: int = 503, times: int = 1, retry_after: float | None = None, when: str | None = None):
        headers = {"Retry-After": str(retry_after)} if retry_after is not None else {}
        self._pdf_scripts.append(_PdfScript("status", times, status, headers, when))

    def pdf_html(self, times: int = 1, when: str | None = None):
        """HTTP 200 with an HTML page, as arXiv answers while a PDF is being generated."""
        self._pdf_scripts.append(_PdfScript("html", times, when=when))

    def pdf_truncate(self, times: int = 1, content_length: bool = True, when: str | None = None):
        """Half the PDF, then the connection closes; the Content-Length header (if sent) promises it all."""
        self._pdf_scripts.append(_PdfScript("truncate", times, when=when, content_length=content_length))

    def pdf_reset(self, times: int = 1, when: str | None = None):
        """Close the connection with a TCP reset before answering."""
        self._pdf_scripts.append(_PdfScript("reset", times, when=when))

    @property
    def pdf_url(self) -> str:
        assert self._httpd is not None, "server not started"
        return f"http://127.0.0.1:{self._httpd.server_address[1]}/pdf/"

    def arrivals(self) -> list[float]:
        """Arrival times of every request, API and PDF, in order."""
        return sorted([r.arrived for r in self.requests] + [r.arrived for r in self.pdf_requests])

    # serving ---------------------------------------------------------------------------
    def _find(self, path: str) -> tuple[str, bytes] | None:
        m = _PATH_RE.match(path)
        if not m:
            return None
        if m.group("version"):
            name = f"{m.group('id')}v{m.group('version')}"
            return (name, self.pdfs[name]) if name in self.pdfs else None
        versions = [(int(k.rsplit("v", 1)[1]), k) for k in self.pdfs if k.rsplit("v", 1)[0] == m.group("id")]
        return (max(versions)[1], self.pdfs[max(versions)[1]]) if versions else None

    def _script(self, path: str) -> _PdfScript | None:
        with self._pdf_lock:
            for script in self._pdf_scripts:
                if script.times > 0 and script.when in (None, path):
                    script.times -= 1
                    return script
        return None

    def _handle(self, handler: BaseHTTPRequestHandler) -> None:
        path = urlsplit(handler.path).path
        if not path.startswith("/pdf/"):
            return super()._handle(handler)
        record = PdfRequest(time.monotonic(), path)
        with self._lock:
            self.pdf_requests.append(record)
            self._in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self._in_flight)
        try:
            self._serve_pdf(handler, path, record)
        finally:
            with self._lock:
                self._in_flight -= 1

    def _serve_pdf(self, handler: BaseHTTPRequestHandler, path: str, record: PdfRequest) -> None:
        script, found = self._script(path), self._find(path)
        if self.response_delay:
            time.sleep(self.response_delay)
        headers: dict[str, str] = {}
        if script is not None and script.kind == "reset":
            record.answered_by = "script:reset"
            handler.close_connection = True
            handler.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            handler.connection.close()  # linger 0: the client sees ECONNRESET
            return
        if script is not None and script.kind == "status":
            status, body, ctype, headers = script.status, f"{script.status} replay failure".encode(), "text/plain", script.headers
        elif script is not None and script.kind == "html":
            status, body, ctype = 200, ARXIV_HTML, "text/html; charset=utf-8"
        elif found is None:
            status, body, ctype = 404, b"<html><body>404 not found</body></html>", "text/html"
        else:
            status, body, ctype = 200, found[1], "application/pdf"
        record.status = status
        record.answered_by = f"script:{script.kind}" if script is not None else (found[0] if found else "none")
        full_length = len(body)
        if script is not None and script.kind == "truncate":
            body = body[: len(body) // 2]
        handler.send_response(status)
        handler.send_header("Content-Type", ctype)
        if script is None or script.kind != "truncate" or script.content_length:
            handler.send_header("Content-Length", str(full_length))
        for k, v in headers.items():
            handler.send_header(k, v)
        handler.send_header("Connection", "close")
        handler.end_headers()
        handler.close_connection = True
        try:
            handler.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):  # the client stopped reading (too large, not a PDF)
            pass
