"""A scripted NIM/OpenAI-protocol server on 127.0.0.1 for tests (test code, not product).

The real ``ChatNVIDIA`` / ``NVIDIAEmbeddings`` talk to it through ``base_url``. It serves
``GET /v1/models``, ``POST /v1/chat/completions`` and ``POST /v1/embeddings``.

Chat answers follow the request's structured-output style: ``response_format`` (json_schema),
top-level ``guided_json``, ``nvext.guided_json`` -> JSON in ``message.content``; ``tools`` ->
``message.tool_calls``. Without a script, the default responder answers a minimal valid
instance of the requested schema. Tests script replies per route (``script``), optionally only
for requests whose body contains a marker (``when``), to inject latency, 429/500, truncated
JSON or ``null`` content. Every request is recorded (headers without Authorization) and every
sent ``usage`` block is totalled, so tests can compare it with what the client counted.

Transport faults for the fault tests and ``bench/faults.py``: a reply may carry ``headers``
(e.g. ``Retry-After``), ``reset`` the connection without answering, send a ``raw`` body (not
JSON) or ``cut`` its body short of the Content-Length it announced. ``fault`` (a callable
``Recorded -> Reply | None``) is asked first for every chat and embeddings request: it injects
faults without replacing the normal answers.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
import socket
import struct
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable

CHAT, EMBED, MODELS = "/v1/chat/completions", "/v1/embeddings", "/v1/models"
DIM = 1024


@dataclass
class Reply:
    """One scripted answer. ``content``: dict/list (sent as JSON text) or str; ``None`` = the
    default responder's answer. ``null``: ``content: null``. ``truncate``: cut the answer in
    half with finish_reason "length". ``status`` != 200: an error with ``error`` as detail.
    ``echo_auth``: put the request's Authorization header into the error (a leaky upstream)."""

    content: Any = None
    status: int = 200
    null: bool = False
    truncate: bool = False
    delay: float = 0.0
    error: str = "scripted error"
    echo_auth: bool = False
    headers: dict | None = None  # extra response headers, e.g. {"Retry-After": "1"}
    reset: bool = False  # close the connection without an answer (a dropped connection)
    raw: bytes | None = None  # the body as is, status 200 (not JSON: a proxy's error page)
    cut: bool = False  # send half the body with the full Content-Length (a truncated transfer)
    scripted: bool = False  # set by the server: the reply came from a script or the responder


@dataclass
class Recorded:
    path: str
    method: str
    headers: dict[str, str]
    body: Any
    had_auth: bool
    status: int = 0
    answer: str | None = None
    usage: dict | None = None
    t: float = 0.0  # time.monotonic() when the request arrived
    reply: Reply | None = None

    @property
    def text(self) -> str:
        """Every message's text, for matching and word counts."""
        if not isinstance(self.body, dict):
            return ""
        parts = [m.get("content") for m in self.body.get("messages", []) if isinstance(m, dict)]
        inp = self.body.get("input")
        parts += inp if isinstance(inp, list) else [inp]
        return "\n".join(p if isinstance(p, str) else json.dumps(p) for p in parts if p)

    @property
    def structured_style(self) -> str | None:
        b = self.body if isinstance(self.body, dict) else {}
        if (b.get("response_format") or {}).get("type") == "json_schema":
            return "response_format"
        if "guided_json" in b:
            return "guided_json"
        if "guided_json" in (b.get("nvext") or {}):
            return "nvext.guided_json"
        return "tools" if b.get("tools") else None

    @property
    def schema(self) -> dict | None:
        b = self.body if isinstance(self.body, dict) else {}
        return {
            "response_format": lambda: b["response_format"]["json_schema"]["schema"],
            "guided_json": lambda: b["guided_json"],
            "nvext.guided_json": lambda: b["nvext"]["guided_json"],
            "tools": lambda: b["tools"][0]["function"].get("parameters"),
            None: lambda: None,
        }[self.structured_style]()


def words(text: str | None) -> int:
    return len((text or "").split())


def example(schema: dict | None, root: dict | None = None) -> Any:
    """A minimal instance of a JSON Schema (pydantic-style $defs/$ref, anyOf, bounds)."""
    if not schema:
        return {}
    root = root or schema
    if "$ref" in schema:
        return example(root.get("$defs", {}).get(schema["$ref"].rsplit("/", 1)[-1], {}), root)
    for key in ("anyOf", "oneOf", "allOf"):
        if key in schema:
            return example(next((s for s in schema[key] if s.get("type") != "null"), schema[key][0]), root)
    if "enum" in schema:
        return schema["enum"][0]
    kind = schema.get("type", "object")
    if kind == "object":
        props = schema.get("properties", {})
        return {k: example(v, root) for k, v in props.items()}
    if kind == "array":
        return [example(schema.get("items", {}), root) for _ in range(max(1, schema.get("minItems", 1)))]
    if kind in ("number", "integer"):
        value = max(schema.get("minimum", 0), 0)
        return int(value) if kind == "integer" else float(value)
    return {"boolean": False, "null": None}.get(kind, "example")


def embed(text: str) -> list[float]:
    """Deterministic unit vector: hashed bag of words (shared words -> higher cosine)."""
    vec = [0.0] * DIM
    for w in re.findall(r"\w+", text.lower()) or ["<empty>"]:
        h = int.from_bytes(hashlib.blake2b(w.encode(), digest_size=8).digest(), "big")
        vec[h % DIM] += 1.0 if (h >> 20) & 1 else -1.0
    norm = math.sqrt(sum(v * v for v in vec)) or 1.0
    return [v / norm for v in vec]


@dataclass
class _Scripted:
    reply: Reply
    when: str | None


class NIMServer:
    """``with NIMServer() as srv: ChatNVIDIA(base_url=srv.base_url, model=...)``."""

    def __init__(self, models: tuple[str, ...] = ("meta/llama-3.3-70b-instruct", "nvidia/nv-embedqa-e5-v5")):
        self.models = models
        self.requests: list[Recorded] = []
        self.responder: Callable[[Recorded], Reply | Any] | None = None
        self.fault: Callable[[Recorded], Reply | None] | None = None
        self.usage_totals: dict[str, dict[str, int]] = {}  # path -> summed usage blocks sent
        self.in_flight = self.max_in_flight = 0
        self._queues: dict[str, list[_Scripted]] = {}
        self._lock = threading.Lock()
        self._httpd: ThreadingHTTPServer | None = None

    # -- scripting ------------------------------------------------------------------------
    def script(self, path: str, *replies: Reply, when: str | None = None) -> None:
        """Queue replies for ``path``; with ``when``, only for requests whose text contains it."""
        with self._lock:
            self._queues.setdefault(path, []).extend(_Scripted(r, when) for r in replies)

    def requests_to(self, path: str) -> list[Recorded]:
        with self._lock:
            return [r for r in self.requests if r.path == path]

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self._httpd.server_address[1]}/v1"

    def __enter__(self) -> "NIMServer":
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self._httpd.daemon_threads = True
        threading.Thread(target=self._httpd.serve_forever, args=(0.05,), daemon=True).start()
        return self

    def __exit__(self, *exc) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()

    # -- answering ------------------------------------------------------------------------
    def _next_reply(self, rec: Recorded) -> Reply:
        if self.fault is not None and (injected := self.fault(rec)) is not None:
            return injected
        with self._lock:
            queue = self._queues.get(rec.path, [])
            for i, s in enumerate(queue):
                if s.when is None or s.when in rec.text:
                    reply = queue.pop(i).reply
                    reply.scripted = True
                    return reply
        if self.responder is not None:
            out = self.responder(rec)
            reply = out if isinstance(out, Reply) else Reply(content=out)
            reply.scripted = True
            return reply
        return Reply()

    def embeddings_payload(self, rec: Recorded, body: dict, texts: list) -> dict:
        n = sum(words(t) for t in texts)
        return {"object": "list", "model": body.get("model"),
                "data": [{"object": "embedding", "index": i, "embedding": embed(t)} for i, t in enumerate(texts)],
                "usage": {"prompt_tokens": n, "total_tokens": n}}

    def answer(self, rec: Recorded, auth: str) -> tuple[int, dict]:
        if rec.path == MODELS:
            return 200, {"object": "list", "data": [
                {"id": m, "object": "model", "owned_by": "test", "root": m} for m in self.models]}
        reply = rec.reply = self._next_reply(rec)
        if reply.delay:
            time.sleep(reply.delay)
        if reply.reset or reply.raw is not None:
            return reply.status, {}
        if reply.status != 200:
            detail = reply.error + (f" (received Authorization: {auth})" if reply.echo_auth else "")
            return reply.status, {"status": reply.status, "title": f"HTTP {reply.status}", "detail": detail}
        body = rec.body if isinstance(rec.body, dict) else {}
        if rec.path == EMBED:
            texts = body.get("input") if isinstance(body.get("input"), list) else [body.get("input", "")]
            payload = self.embeddings_payload(rec, body, texts)
            rec.usage = payload.get("usage")
            return 200, payload
        if rec.path != CHAT:
            return 404, {"status": 404, "title": "Not Found", "detail": rec.path}
        content = reply.content if reply.content is not None else example(rec.schema)
        text = content if isinstance(content, str) else json.dumps(content)
        finish = "stop"
        if reply.truncate:
            text, finish = text[: max(1, len(text) // 2)], "length"
        message: dict[str, Any] = {"role": "assistant", "content": None if reply.null else text}
        if rec.structured_style == "tools" and not reply.null:
            name = body["tools"][0]["function"]["name"]
            message = {"role": "assistant", "content": None, "tool_calls": [
                {"id": "call_0", "type": "function", "function": {"name": name, "arguments": text}}]}
        completion = 0 if reply.null else words(text)
        usage = {"prompt_tokens": words(rec.text), "completion_tokens": completion,
                 "total_tokens": words(rec.text) + completion}
        rec.answer, rec.usage = (None if reply.null else text), usage
        return 200, {"id": f"chatcmpl-{len(self.requests)}", "object": "chat.completion", "created": int(time.time()),
                     "model": body.get("model"), "usage": usage,
                     "choices": [{"index": 0, "message": message, "finish_reason": finish}]}


def _sse(payload: dict) -> bytes:
    """A chat completion as an OpenAI stream: one delta chunk, a usage chunk, [DONE]."""
    choice = payload["choices"][0]
    delta = {k: v for k, v in choice["message"].items() if v is not None}
    base = {k: payload[k] for k in ("id", "created", "model")} | {"object": "chat.completion.chunk"}
    chunks = [base | {"choices": [{"index": 0, "delta": delta, "finish_reason": choice["finish_reason"]}]},
              base | {"choices": [], "usage": payload["usage"]}]
    return "".join(f"data: {json.dumps(c)}\n\n" for c in chunks).encode() + b"data: [DONE]\n\n"


def _handler(server: NIMServer):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.0"  # one request per connection; no keep-alive bookkeeping

        def log_message(self, *args) -> None:  # keep test output clean
            pass

        def _serve(self, method: str) -> None:
            raw = self.rfile.read(int(self.headers.get("Content-Length") or 0)) if method == "POST" else b""
            try:
                body = json.loads(raw) if raw else None
            except json.JSONDecodeError:
                body = raw.decode("utf-8", "replace")
            auth = self.headers.get("Authorization", "")
            headers = {k: v for k, v in self.headers.items() if k.lower() != "authorization"}
            rec = Recorded(self.path.split("?")[0], method, headers, body, bool(auth), t=time.monotonic())
            with server._lock:
                server.requests.append(rec)
                server.in_flight += 1
                server.max_in_flight = max(server.max_in_flight, server.in_flight)
            try:
                try:
                    status, payload = server.answer(rec, auth)
                finally:  # in flight = being answered; the client may send the next one as we write
                    with server._lock:
                        server.in_flight -= 1
                rec.status = status
                reply = rec.reply or Reply()
                if reply.reset:  # RST, not FIN: the client sees a reset connection, not an empty answer
                    self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                    self.close_connection = True
                    return
                if reply.raw is not None:
                    self.send_response(status)
                    self.send_header("Content-Type", "text/html")
                    self.send_header("Content-Length", str(len(reply.raw)))
                    self.end_headers()
                    self.wfile.write(reply.raw)
                    return
                streamed = status == 200 and isinstance(body, dict) and body.get("stream") and rec.path == CHAT
                data = _sse(payload) if streamed else json.dumps(payload).encode()
                if status == 200 and isinstance(payload.get("usage"), dict) and not reply.cut:
                    # Totals of what is sent, counted *before* the bytes go out: once the client has
                    # the answer, a test may read the totals at once (counting after raced it).
                    with server._lock:
                        totals = server.usage_totals.setdefault(rec.path, {})
                        for k, v in payload["usage"].items():
                            totals[k] = totals.get(k, 0) + v
                self.send_response(status)
                self.send_header("Content-Type", "text/event-stream" if streamed else "application/json")
                self.send_header("Content-Length", str(len(data)))
                for k, v in (reply.headers or {}).items():
                    self.send_header(k, v)
                self.end_headers()
                self.wfile.write(data[: len(data) // 2] if reply.cut else data)
            except (BrokenPipeError, ConnectionResetError):  # the client gave up (timeout test)
                pass

        def do_GET(self) -> None:
            self._serve("GET")

        def do_POST(self) -> None:
            self._serve("POST")

    return Handler
