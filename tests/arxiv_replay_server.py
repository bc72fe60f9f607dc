"""A local stand-in for arXiv's query API that replays recorded real responses.

``ArxivReplayServer`` listens on 127.0.0.1 (ephemeral port), answers ``GET /api/query`` from
the fixtures in ``tests/fixtures/arxiv_api`` by matching the request's ``search_query``,
``id_list``, ``start`` and ``max_results`` against the recorded request URLs, and can be
scripted to misbehave (``fail`` with 503/429/..., ``empty`` feeds) before replaying. It records
every request's arrival time (``time.monotonic``) and query parameters, and the highest
number of requests it had in flight at once. ``closed_port_url()`` gives an endpoint where
nothing listens (connection refused), for "arXiv is down".
"""

from __future__ import annotations

import json
import socket
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

FIXTURES = Path(__file__).parent / "fixtures" / "arxiv_api"
MATCH_KEYS = ("search_query", "id_list", "start", "max_results")

EMPTY_FEED = b"""<?xml version='1.0' encoding='UTF-8'?>
<feed xmlns:opensearch="http://a9.com/-/spec/opensearch/1.1/" xmlns:arxiv="http://arxiv.org/schemas/atom" xmlns="http://www.w3.org/2005/Atom">
  <id>https://arxiv.org/api/replay-empty</id>
  <title>arXiv Query: replayed empty page</title>
  <updated>2026-04-12T22:09:26Z</updated>
  <opensearch:itemsPerPage>0</opensearch:itemsPerPage>
  <opensearch:totalResults>0</opensearch:totalResults>
  <opensearch:startIndex>0</opensearch:startIndex>
</feed>
"""


@dataclass
class Recording:
    """One recorded exchange: the parameters of the recorded URL, status and raw body."""

    name: str
    params: dict[str, str]
    status: int
    body: bytes

    def matches(self, params: dict[str, str]) -> bool:
        # a parameter absent from the recorded URL (the 2019 set has only id_list) matches anything
        return all(params.get(k, "") == v for k, v in self.params.items())


@dataclass
class Request:
    arrived: float
    params: dict[str, str]
    status: int = 0
    answered_by: str = ""


@dataclass
class _Script:
    status: int
    body: bytes
    times: int
    when: dict[str, str] = field(default_factory=dict)
    headers: dict[str, str] = field(default_factory=dict)


def _params(url: str) -> dict[str, str]:
    query = parse_qs(urlsplit(url).query, keep_blank_values=True)
    return {k: v[0] for k, v in query.items() if k in MATCH_KEYS}


def load_recordings(root: Path = FIXTURES) -> list[Recording]:
    """Every ``index.json`` under ``root``: arxiv.py's (``xml`` key) and pubs' (``file`` key)."""
    out = []
    for index in sorted(root.glob("*/index.json")):
        for entry in json.loads(index.read_text(encoding="utf-8")):
            path = index.parent / (entry.get("xml") or entry["file"])
            if path.is_file():
                out.append(Recording(path.name, _params(entry["url"]), int(entry["status_code"]), path.read_bytes()))
    return out


class ArxivReplayServer:
    def __init__(self, root: Path = FIXTURES, response_delay: float = 0.0, default_search: str | None = None) -> None:
        self.recordings = load_recordings(root)
        # For whole research runs, whose planned queries were never recorded: any other
        # search's first page replays this recording (by file name), later pages are empty.
        self.default_search = default_search
        self.response_delay = response_delay  # seconds each answer takes, to expose overlaps
        self.requests: list[Request] = []
        self.max_in_flight = 0
        self._in_flight = 0
        self._scripts: list[_Script] = []
        self._lock = threading.Lock()
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # scripting -------------------------------------------------------------------------
    def fail(self, status: int = 503, times: int = 1, when: dict[str, str] | None = None, retry_after: float | None = None):
        """The next ``times`` matching requests get HTTP ``status`` (with arXiv's plain body)."""
        headers = {"Retry-After": str(retry_after)} if retry_after is not None else {}
        body = f"<html><body>{status} replay failure</body></html>".encode()
        self._scripts.append(_Script(status, body, times, dict(when or {}), headers))

    def empty(self, times: int = 1, when: dict[str, str] | None = None):
        """The next ``times`` matching requests get a 200 feed without entries."""
        self._scripts.append(_Script(200, EMPTY_FEED, times, dict(when or {})))

    # lifecycle -------------------------------------------------------------------------
    @property
    def url(self) -> str:
        assert self._httpd is not None, "server not started"
        return f"http://127.0.0.1:{self._httpd.server_address[1]}/api/query"

    def start(self) -> ArxivReplayServer:
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802 (http.server API)
                server._handle(self)

            def log_message(self, *args):  # keep pytest output clean
                pass

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        # a short poll interval: shutdown() waits for it, once per test
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.02}, name="arxiv-replay", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None

    def __enter__(self) -> ArxivReplayServer:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    # serving ---------------------------------------------------------------------------
    def _answer(self, params: dict[str, str]) -> tuple[int, bytes, dict[str, str], str]:
        with self._lock:
            for script in self._scripts:
                if script.times > 0 and all(params.get(k) == v for k, v in script.when.items()):
                    script.times -= 1
                    return script.status, script.body, script.headers, f"script:{script.status}"
        hits = [r for r in self.recordings if r.matches(params)]
        if not hits and self.default_search and params.get("search_query"):
            if params.get("start", "0") != "0":
                return 200, EMPTY_FEED, {}, "default-empty"
            hits = [r for r in self.recordings if r.name == self.default_search]
        if not hits:
            return 404, f"no recording for {params}".encode(), {}, "none"
        best = max(hits, key=lambda r: len(r.params))  # the most specific recording wins
        return best.status, best.body, {}, best.name

    def _handle(self, handler: BaseHTTPRequestHandler) -> None:
        arrived = time.monotonic()
        params = _params(handler.path)
        record = Request(arrived, params)
        with self._lock:
            self.requests.append(record)
            self._in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self._in_flight)
        try:
            if urlsplit(handler.path).path != "/api/query":
                status, body, headers, name = 404, b"not found", {}, "none"
            else:
                status, body, headers, name = self._answer(params)
            if self.response_delay:
                time.sleep(self.response_delay)
            record.status, record.answered_by = status, name
            handler.send_response(status)
            handler.send_header("Content-Type", "application/atom+xml; charset=utf-8")
            handler.send_header("Content-Length", str(len(body)))
            for k, v in headers.items():
                handler.send_header(k, v)
            handler.end_headers()
            handler.wfile.write(body)
        finally:
            with self._lock:
                self._in_flight -= 1


def closed_port_url() -> str:
    """An http URL on 127.0.0.1 where nothing listens: connecting is refused at once."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}/api/query"
