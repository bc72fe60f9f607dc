"""Scripted LLM answers for whole research runs (test and bench code, not product).

``answer(text)`` plays every LLM role from the prompt it was sent, the way a well-behaved
model would, so a full run goes through every agent's LLM path:

- planner: four keyword queries from the question;
- extractor: up to three finding sentences of the abstract in the prompt as claims, their
  spans copied verbatim, with mangled whitespace, and near-verbatim (an edited word), plus
  one claim whose span is invented (the agent must reject it);
- verifier: per claim of the batch, SUPPORTED on passage 0 (NOT_ENOUGH_INFO without passages,
  CONTRADICTED when the claim contains ``CONTRADICT_MARKER``);
- writer: the first two claim rows it may cite, each restated as a sentence citing its row, plus
  one sentence the rows do not support and one citing a row that does not exist (the audit must
  cut both);
- reviewers: the rubric score they were given + 0.5; reviser: one refined query, no drops
  (``ScriptedChat(drop_every_claim=reason)``: every claim dropped, with that reason or none).

``ResearchNIMServer`` is the scripted NIM server answering chat with ``answer`` (optionally
after a fixed latency) and embeddings with the local MiniLM, so a nim-mode run ranks and
verifies like an offline one. ``ScriptedChat`` is the same script as a LangChain chat model
(custom mode).
"""

from __future__ import annotations

import json
import re
import threading
from typing import Any

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage
from langchain_core.outputs import ChatGeneration, ChatResult
from pydantic import Field
from http.server import ThreadingHTTPServer

from nim_server import CHAT, EMBED, NIMServer, Reply, _handler, words

from sovereign_kernel.domain.text import content_tokens, keyphrases, split_sentences

INVENTED_SPAN = "Our scripted method achieves perfect robustness against every conceivable attack."
CONTRADICT_MARKER = "zero-shot"
_FINDING = re.compile(r"\d|\b(show|find|outperform|achiev|improv|vulnerab|reduc|robust|success|drop|degrad)", re.I)
ROLE_MARKERS = {
    "planner": "query planner",
    "extractor": "You extract atomic claims",
    "verifier": "You check claims against",
    "writer": "You write the Answer that opens",
    "skeptic": "You are the SKEPTIC",
    "validator": "You are the VALIDATOR",
    "synthesizer": "You are the SYNTHESIZER",
    "reviser": "You revise an automatically written",
}


def role_of(text: str) -> str | None:
    """The role whose system-prompt marker comes first (data blocks come after the system prompt)."""
    found = [(text.find(marker), role) for role, marker in ROLE_MARKERS.items() if marker in text]
    return min(found)[1] if found else None


def block(text: str, label: str) -> str:
    m = re.search(rf"<<<BEGIN {label}>>>\n(.*?)\n<<<END {label}>>>", text, re.S)
    return m.group(1) if m else ""


def extractor_answer(abstract: str) -> dict:
    sentences = [s.text for s in split_sentences(abstract) if len(s.text.split()) >= 6]
    findings = [s for s in sentences if _FINDING.search(s)][:3] or sentences[-2:]
    claims = []
    for i, s in enumerate(findings):
        if i == 1:
            span = s.replace(" ", "  \n ", 3)  # whitespace differs: found after normalisation
        elif i == 2 and len(s.split()) >= 12:
            ws = s.split()
            ws[len(ws) // 2] = ws[len(ws) // 2].upper() + "s"  # one word edited: near-verbatim
            span = " ".join(ws)
        else:
            span = s
        claims.append({"text": s[0].upper() + s[1:], "source_span": span})
    claims.append({"text": "The scripted method is perfectly robust.", "source_span": INVENTED_SPAN})
    return {"claims": claims}


def verifier_judgement(number: str, claim: str, passages: str) -> dict:
    """SUPPORTED on passage 0; NOT_ENOUGH_INFO without passages; CONTRADICTED for a marked claim."""
    if "[0]" not in passages:
        return {"claim": int(number), "label": "NOT_ENOUGH_INFO", "rationale": "No passage.", "evidence_index": -1}
    if CONTRADICT_MARKER in claim.lower():
        return {"claim": int(number), "label": "CONTRADICTED", "rationale": "Passage [0] disagrees (scripted).",
                "evidence_index": 0}
    return {"claim": int(number), "label": "SUPPORTED", "rationale": "Passage [0] states the claim (scripted).",
            "evidence_index": 0}


WRITER_UNSUPPORTED = "Every defense fully eliminates typographic attacks in all deployed systems."
WRITER_MISSING_ROW = "C999"


def writer_answer(claims: str) -> dict:
    """Sentences restating the first two citable rows, one unsupported sentence, one citing no real row."""
    rows = re.findall(r"^(C\d+) \| [^|]*\| [^|]*\| (.*)$", claims, re.M)
    sentences = [{"text": text.rstrip("."), "rows": [row]} for row, text in rows[:2]]
    if rows:
        sentences.append({"text": WRITER_UNSUPPORTED, "rows": [rows[0][0]]})
        sentences.append({"text": rows[0][1], "rows": [WRITER_MISSING_ROW]})
    return {"sentences": sentences or [{"text": "Nothing to cite.", "rows": ["C1"]}]}


def answer(text: str) -> dict | None:
    """The scripted answer for a prompt (None: a prompt this script does not know)."""
    role = role_of(text)
    if role == "planner":
        question = block(text, "QUESTION")
        phrases = keyphrases(question)
        terms = content_tokens(question)
        queries = [" ".join(terms[:6]), *(f"{phrases[0]} {p}" for p in phrases[1:])]
        queries += [" ".join(terms[i : i + 3]) for i in range(0, len(terms), 3)]
        return {"queries": list(dict.fromkeys(q for q in queries if q))[:4]}
    if role == "extractor":
        return extractor_answer(block(text, "ABSTRACT"))
    if role == "verifier":
        return {"judgements": [verifier_judgement(n, claim, passages) for n, claim, passages in
                               re.findall(r"^Claim (\d+): (.*)\n((?:  \[\d+\] .*\n?)*)", block(text, "CLAIMS"), re.M)]}
    if role == "writer":
        return writer_answer(block(text, "CLAIMS"))
    if role in ("skeptic", "validator", "synthesizer"):
        m = re.search(r"rubric score derived from them is ([\d.]+)/10", text)
        rubric = float(m.group(1)) if m else 5.0
        return {"score": min(10.0, rubric + 0.5), "reasons": [f"scripted {role}: rubric {rubric:g} holds up"],
                "recommendations": ["keep every claim tied to its span"]}
    if role == "reviser":
        missing = re.search(r"no verified claim addresses: (.*)", text)
        question = block(text, "QUESTION")
        base = (missing.group(1).strip() if missing else "") or " ".join(content_tokens(question)[:3])
        return {"drops": [], "refined_queries": [f"{base} evaluation benchmark"],
                "notes": ["scripted: searched again for the missing aspects"]}
    return None


def reviser_dropping_every_claim(text: str, reason: str) -> dict:
    """A reviser that drops every claim of the prompt (each with ``reason``; "" states none) and
    searches nothing: the measured failure of issue 12, where round 1 was left with no claim."""
    ids = re.findall(r"^(\S+) \| (?:grounded|ungrounded) ", block(text, "CLAIMS"), re.M)
    return {"drops": [{"claim_id": cid, "reason": reason} for cid in ids], "refined_queries": [],
            "notes": ["scripted: dropped every claim"]}


class ResearchNIMServer(NIMServer):
    """NIM server answering chat with the script (after ``latency`` seconds) and embeddings with
    the local MiniLM. Scripted replies (``script``) and a ``responder`` still take precedence."""

    _embedder = None
    _embedder_lock = threading.Lock()

    def __init__(self, latency: float = 0.0, **kwargs):
        super().__init__(**kwargs)
        self.latency = latency

    def __enter__(self) -> "ResearchNIMServer":
        # socketserver's listen backlog is 5: a burst of concurrent connections (21 verifier calls)
        # overflows it and the kernel's SYN retry adds a full second. A real server queues more.
        class Server(ThreadingHTTPServer):
            request_queue_size = 256
            daemon_threads = True

        self._httpd = Server(("127.0.0.1", 0), _handler(self))
        threading.Thread(target=self._httpd.serve_forever, args=(0.05,), daemon=True).start()
        return self

    @classmethod
    def embedder(cls):
        with cls._embedder_lock:
            if cls._embedder is None:
                from sovereign_kernel.retrieval.embeddings import LocalMiniLMEmbeddings

                cls._embedder = LocalMiniLMEmbeddings()
            return cls._embedder

    def _next_reply(self, rec) -> Reply:
        reply = super()._next_reply(rec)
        if rec.path == CHAT and reply.content is None and reply.status == 200 and not reply.null:
            reply.content = answer(rec.text)
        if rec.path == CHAT and not reply.delay:
            reply.delay = self.latency
        return reply

    def embeddings_payload(self, rec, body: dict, texts: list) -> dict:
        if rec.reply is not None and rec.reply.scripted:  # a test scripted the embeddings: the base's vectors
            return super().embeddings_payload(rec, body, texts)
        vectors = self.embedder().embed_documents([str(t) for t in texts])
        n = sum(words(t) for t in texts)
        return {"object": "list", "model": body.get("model"),
                "data": [{"object": "embedding", "index": i, "embedding": v} for i, v in enumerate(vectors)],
                "usage": {"prompt_tokens": n, "total_tokens": n}}


class ScriptedChat(BaseChatModel):
    """The script as a LangChain chat model (no tool calling: the session prompts it for JSON)."""

    model_name: str = "scripted-chat"
    calls: list = Field(default_factory=list)
    # None: the script's reviser; a string: the reviser drops every claim with this reason ("": none).
    drop_every_claim: str | None = None

    @property
    def _llm_type(self) -> str:
        return "scripted-chat"

    def _generate(self, messages, stop=None, run_manager=None, **kwargs: Any) -> ChatResult:
        text = "\n".join(m.content if isinstance(m.content, str) else json.dumps(m.content) for m in messages)
        reply = answer(text)
        if self.drop_every_claim is not None and role_of(text) == "reviser":
            reply = reviser_dropping_every_claim(text, self.drop_every_claim)
        content = json.dumps(reply) if reply is not None else "I do not know."
        self.calls.append((role_of(text), content))
        usage = {"input_tokens": words(text), "output_tokens": words(content),
                 "total_tokens": words(text) + words(content)}
        return ChatResult(generations=[ChatGeneration(message=AIMessage(content, usage_metadata=usage))])
