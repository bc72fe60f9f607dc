"""Fault bench: research runs through the CLI against misbehaving servers, counted by outcome.

    python bench/faults.py [--runs N] [--fast] [--kinds a,b] [--json PATH]

Each trial is one ``sovereign-kernel research`` process (nim mode, ``--source arxiv,local``) against
the local NIM-protocol server (tests/scripted_llm.py: every role answered from its prompt, embeddings
by the local MiniLM) and the arXiv replay server (tests/arxiv_replay_server.py), both in this process,
with one kind of fault injected:

- chat: bursts of 429 and of 503 (with ``Retry-After``), timeouts (answers slower than the client's
  timeout), connection resets, truncated bodies (half the announced Content-Length), non-JSON bodies
  (a proxy's HTML page), null structured output;
- embeddings: 500 on 60 % of requests, and the embeddings service gone (every request reset);
- arXiv: bursts of 429 and 503;
- SIGKILL at each node boundary in turn (the progress line of that stage), then ``resume``.

A run that ends without a report (a clean error, or killed) is resumed once with the faults off.
Columns: injected (faults the servers injected), runs, completed (a report written, by the run or its
resume), degraded (completed with fallbacks: items answered offline, the embedder switched, a source
failed), clean errors (the process failed with a one-line error), tracebacks (a Python traceback on
stderr), resumed (completed by ``resume``), lost (no report after the resume either). Every process
gets a canary ``NVIDIA_API_KEY`` that failing servers echo back; the bench then searches every file it
wrote and every output for it. Exit status 1 when any traceback, lost run or canary is found.
``tests/test_fault_bench.py`` runs ``--fast`` (a few kinds, one run each) in CI. The fast trials share
one cache directory (corpus index, vectors, PDFs), which the canary search covers too. The faults are in
the services, not the cache, and a warm cache saves the CI ~10 s a trial. The embeddings trial runs
first, so its faults still meet a cold cache.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from arxiv_replay_server import ArxivReplayServer  # noqa: E402 (after the path insert)
from nim_server import CHAT, EMBED, Reply  # noqa: E402
from scripted_llm import ResearchNIMServer  # noqa: E402

FINISHED = (0, 3)  # the CLI's exit codes for a run that ended: published/archived, waiting for review

QUESTION = "How vulnerable are vision-language models such as CLIP to typographic attacks, and which defenses work?"
CORPUS = ROOT / "tests" / "fixtures" / "arxiv_small.jsonl"
ARXIV_RECORDING = "q_testing_s0_m10_bc5a6c384fe9.xml"  # any planned query replays arXiv's answer to "testing"
CANARY = "nvapi" + "-CANARY-faultbench-0123456789XYZ"  # split: no key-shaped literal in the repository
NODES = ("plan", "search", "rank", "extract", "verify", "draft", "review", "judge", "policy", "report")
TIMEOUT_S = 2.0  # the client's timeout in the "chat timeout" trials (answers then take 1.5 s longer)
HTML = b"<html><head><title>502 Bad Gateway</title></head><body><h1>502 Bad Gateway</h1></body></html>"


class Injector:
    """A NIM-server fault hook: ``decide(rec)`` -> a faulty Reply or None; counts what it injected."""

    def __init__(self, path: str, decide: Callable[[object, int], Reply | None]):
        self.path, self.decide = path, decide
        self.seen = self.injected = 0
        self._lock = threading.Lock()

    def __call__(self, rec) -> Reply | None:
        if rec.path != self.path:
            return None
        with self._lock:
            n = self.seen
            self.seen += 1
        reply = self.decide(rec, n)
        if reply is not None:
            with self._lock:
                self.injected += 1
        return reply


def burst(reply: Callable[[], Reply], every: int = 6, length: int = 3) -> Callable:
    """The first ``length`` of every ``every`` requests fail."""
    return lambda rec, n: reply() if n % every < length else None


def chance(reply: Callable[[], Reply], p: float, seed: int) -> Callable:
    rng, lock = random.Random(seed), threading.Lock()

    def decide(rec, n):
        with lock:
            hit = rng.random() < p
        return reply() if hit else None
    return decide


# kind -> (what it injects, on which path, extra environment); None: an arXiv or SIGKILL kind
CHAT_FAULTS: dict[str, Callable[[int], Injector]] = {
    "chat 429 burst": lambda s: Injector(CHAT, burst(lambda: Reply(status=429, headers={"Retry-After": "0.2"}))),
    "chat 503 burst": lambda s: Injector(CHAT, burst(lambda: Reply(status=503, headers={"Retry-After": "0.1"},
                                                                   echo_auth=True))),
    "chat timeout": lambda s: Injector(CHAT, burst(lambda: Reply(delay=TIMEOUT_S + 1.5), every=5, length=1)),
    "chat connection reset": lambda s: Injector(CHAT, burst(lambda: Reply(reset=True), every=4, length=1)),
    "chat truncated body": lambda s: Injector(CHAT, burst(lambda: Reply(cut=True), every=4, length=1)),
    "chat non-JSON body": lambda s: Injector(CHAT, burst(lambda: Reply(raw=HTML), every=4, length=1)),
    "chat null output": lambda s: Injector(CHAT, burst(lambda: Reply(null=True), every=3, length=1)),
    "embeddings 500 (60%)": lambda s: Injector(EMBED, chance(lambda: Reply(status=500, echo_auth=True), 0.6, s)),
    "embeddings gone": lambda s: Injector(EMBED, lambda rec, n: Reply(reset=True)),
}
ARXIV_FAULTS = {"arxiv 429 burst": 429, "arxiv 503 burst": 503}
KILL_KINDS = {f"SIGKILL at {node}": node for node in NODES}
ALL_KINDS = [*CHAT_FAULTS, *ARXIV_FAULTS, *KILL_KINDS]
FAST_KINDS = ["embeddings 500 (60%)", "chat 429 burst", "chat non-JSON body", "SIGKILL at extract"]


@dataclass
class Row:
    kind: str
    injected: int = 0
    runs: int = 0
    completed: int = 0
    degraded: int = 0
    clean_errors: int = 0
    tracebacks: int = 0
    resumed: int = 0
    lost: int = 0
    canary_leaks: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def cli(args: list[str], env: dict, kill_at: str | None = None, timeout: float = 600) -> tuple[int, str, str, bool]:
    """(return code, stdout, stderr, killed) of one CLI process; ``kill_at``: SIGKILL it when the
    progress line of that stage appears."""
    proc = subprocess.Popen([sys.executable, "-m", "sovereign_kernel", *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=env)
    if kill_at is None:
        out, err = proc.communicate(timeout=timeout)
        return proc.returncode, out, err, False
    err_lines, killed = [], False
    for line in proc.stderr:
        err_lines.append(line)
        if f"[{kill_at}]" in line or f"[{kill_at} " in line:  # parallel stages print [search 2/4]
            proc.send_signal(signal.SIGKILL)
            killed = True
            break
    out, rest = proc.communicate(timeout=timeout)
    return proc.returncode, out, "".join(err_lines) + rest, killed


def leaks(paths: list[Path], texts: list[str]) -> list[str]:
    """Where the canary key (or its distinctive part) appears: files under ``paths``, or outputs."""
    needles = (CANARY, "faultbench-0123456789")
    found = [f"output {i}" for i, t in enumerate(texts) if any(n in t for n in needles)]
    for root in paths:
        for path in (p for p in root.rglob("*") if p.is_file()):
            data = path.read_bytes()
            if any(n.encode() in data for n in needles):
                found.append(str(path.relative_to(root.parent)))
    return found


def degraded(manifest: dict) -> bool:
    usage = manifest.get("llm_usage") or {}
    embeddings = usage.get("embeddings") or {}
    return bool(manifest.get("fallbacks") or embeddings.get("fallback")
                or manifest.get("provenance", {}).get("models", {}).get("embedder_fallback"))


def trial(kind: str, seed: int, nim: ResearchNIMServer, arxiv: ArxivReplayServer, work: Path, row: Row,
          verbose: bool = False, max_papers: int | None = None, cache: Path | None = None) -> None:
    """One run under one fault; ``cache``: a cache directory shared with other trials (else its own)."""
    tag = f"{ALL_KINDS.index(kind)}-{seed}"
    home = work / f"t{tag}"
    shutil.rmtree(home, ignore_errors=True)
    out = home / "out"
    env = {**os.environ, "SOVEREIGN_HOME": str(home), "SOVEREIGN_CACHE_DIR": str(cache or home / "cache"),
           "NVIDIA_API_KEY": CANARY, "SOVEREIGN_NIM_BASE_URL": nim.base_url, "SOVEREIGN_ARXIV_URL": arxiv.url,
           "SOVEREIGN_ARXIV_MIN_INTERVAL": "0.05", "SOVEREIGN_BACKOFF_INITIAL_S": "0.05",
           "SOVEREIGN_BACKOFF_MAX_S": "0.5", "SOVEREIGN_MAX_REVISION_ROUNDS": "0", "PYTHONPATH": str(ROOT),
           **({"SOVEREIGN_TIMEOUT_S": str(TIMEOUT_S)} if kind == "chat timeout" else {}),
           **({"SOVEREIGN_MAX_PAPERS": str(max_papers)} if max_papers else {})}
    run_id = f"fault-{tag}"
    args = ["research", QUESTION, "--corpus", str(CORPUS), "--source", "arxiv,local", "--out", str(out),
            "--run-id", run_id]
    injector, kill_at = None, KILL_KINDS.get(kind)
    if kind in CHAT_FAULTS:
        injector = nim.fault = CHAT_FAULTS[kind](seed)
    elif kind in ARXIV_FAULTS:
        arxiv.fail(ARXIV_FAULTS[kind], times=3, retry_after=0.1)
    arxiv_before = len(arxiv.requests)
    try:
        rc, stdout, stderr, killed = cli(args, env, kill_at)
    finally:
        nim.fault = None
    row.runs += 1
    if injector is not None:
        row.injected += injector.injected
    elif kind in ARXIV_FAULTS:
        row.injected += sum(1 for r in arxiv.requests[arxiv_before:] if r.answered_by.startswith("script:"))
        arxiv._scripts.clear()  # what the run did not consume must not fault the next trial
    elif killed:
        row.injected += 1
    outputs = [stdout, stderr]
    if "Traceback (most recent call last)" in stderr:
        row.tracebacks += 1
        row.notes.append(stderr[stderr.index("Traceback (most recent call last)"):][-4000:] if verbose
                         else stderr.strip().splitlines()[-1][:200])
    elif rc not in (*FINISHED, -signal.SIGKILL):
        row.clean_errors += 1
        row.notes.append(stderr.strip().splitlines()[-1][:200] if stderr.strip() else f"rc {rc}")
    manifest_path = out / "manifest.json"
    if rc not in FINISHED or not manifest_path.is_file():  # resume once, the faults off
        rc2, stdout2, stderr2, _ = cli(["resume", run_id], env)
        outputs += [stdout2, stderr2]
        if "Traceback (most recent call last)" in stderr2:
            row.tracebacks += 1
            row.notes.append("resume: " + stderr2.strip().splitlines()[-1][:200])
        if rc2 in FINISHED and manifest_path.is_file():
            row.resumed += 1
        else:
            row.lost += 1
            row.notes.append(f"resume rc {rc2}: " + (stderr2.strip().splitlines() or [""])[-1][:200])
    if manifest_path.is_file():
        row.completed += 1
        row.degraded += degraded(json.loads(manifest_path.read_text()))
    row.canary_leaks += leaks([home, *([cache] if cache else [])], outputs)


def table(rows: list[Row]) -> str:
    cols = ("fault kind", "injected", "runs", "completed", "degraded", "clean errors", "tracebacks", "resumed",
            "lost")
    data = [(r.kind, r.injected, r.runs, r.completed, r.degraded, r.clean_errors, r.tracebacks, r.resumed, r.lost)
            for r in rows]
    total = ("total", *(sum(r[i] for r in data) for i in range(1, len(cols))))
    widths = [max(len(str(x)) for x in col) for col in zip(cols, *data, total)]
    line = lambda cells: "  ".join(str(c).ljust(w) if i == 0 else str(c).rjust(w)  # noqa: E731
                                   for i, (c, w) in enumerate(zip(cells, widths)))
    return "\n".join([line(cols), line(["-" * w for w in widths]), *map(line, data), line(total)])


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--runs", type=int, default=1, help="runs per fault kind")
    p.add_argument("--fast", action="store_true",
                   help=f"only {', '.join(FAST_KINDS)}, at most 4 papers a run (the CI variant)")
    p.add_argument("--kinds", help="comma-separated fault kinds (default: all)")
    p.add_argument("--json", help="also write the rows as JSON here")
    p.add_argument("--verbose", action="store_true", help="print whole tracebacks")
    args = p.parse_args(argv)
    kinds = FAST_KINDS if args.fast else (args.kinds.split(",") if args.kinds else ALL_KINDS)
    unknown = [k for k in kinds if k not in ALL_KINDS]
    if unknown:
        p.error(f"unknown fault kinds {unknown}; known: {ALL_KINDS}")
    rows = [Row(k) for k in kinds]
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="sovereign-faults-") as tmp, ResearchNIMServer() as nim, \
            ArxivReplayServer(default_search=ARXIV_RECORDING) as arxiv:
        nim.embedder()  # load the server's MiniLM before the first trial times anything
        for row in rows:
            for seed in range(args.runs):
                trial(row.kind, seed, nim, arxiv, Path(tmp), row, args.verbose, 4 if args.fast else None,
                      Path(tmp) / "shared-cache" if args.fast else None)
                print(f"{time.monotonic() - started:7.1f}s  {row.kind} #{seed + 1}: completed {row.completed}, "
                      f"degraded {row.degraded}, tracebacks {row.tracebacks}, lost {row.lost}",
                      file=sys.stderr, flush=True)
    print(table(rows))
    leaked = [f"{r.kind}: {where}" for r in rows for where in r.canary_leaks]
    print(f"canary key found in: {', '.join(leaked) if leaked else 'no file or output'}")
    for r in rows:
        for note in dict.fromkeys(r.notes):
            print(f"  {r.kind}: {note}")
    if args.json:
        Path(args.json).write_text(json.dumps([asdict(r) for r in rows], indent=2))
    bad = sum(r.tracebacks + r.lost for r in rows) + len(leaked)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
