"""How close a nim-mode run comes to its LLM critical path.

    python bench/llm_latency.py [--latency 0.3] [--repeat 3] [--corpus PATH] [--max-concurrency N] [--revision]

Runs the real nim path (ChatNVIDIA + NVIDIAEmbeddings clients) against the scripted local NIM
server of the tests (tests/scripted_llm.py: every role answered from its prompt; embeddings
by the local MiniLM), with a fixed latency added to every chat request. The server runs in its
own process, as a NIM would, so its CPU does not compete with the pipeline's. A warm-up run
(no latency) fills the corpus, index and vector caches first; the measured run is a fresh run
id, so its LLM response cache is empty and every LLM call really goes to the server. All runs
share one ``Kernel`` (its Workspace keeps what the warm-up loaded). The measured run is repeated
(``--repeat``, each a fresh run id) and the median wall time is used.

The critical-path lower bound is the graph's LLM depth x the latency: the LLM calls that must
follow one another (planner -> extraction per paper -> verification per paper -> the three
reviewers, plus reviser -> ... per revision round, counted from the requests the server saw);
everything else (search, ranking, the
offline verifier, drafting, checkpoints) is overhead on top. Target: wall / bound <= 1.25.
Prints the run's calls and tokens (checked against what the server counted); JSON last.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

QUESTION = "How vulnerable are vision-language models such as CLIP to typographic attacks, and which defenses work?"


REVIEWERS = {"skeptic", "validator", "synthesizer"}


def llm_depth(roles_in_order: list[str]) -> int:
    """LLM levels on the longest chain, from the roles of the requests the server received, in
    arrival order: a level is a run of requests of one stage (the three reviewers are one
    stage), e.g. planner | extractor x8 | verifier x8 | reviewers x3 -> 4. A stage answered
    from the run's response cache (a revision round re-extracting the same papers) sent no
    request, so it adds no level."""
    stages = ["reviewers" if r in REVIEWERS else r for r in roles_in_order]
    return sum(1 for i, s in enumerate(stages) if i == 0 or s != stages[i - 1])


def serve(conn) -> None:
    """The server process: answer commands (latency, stats, stop) over a pipe."""
    sys.path.insert(0, str(ROOT / "tests"))
    from nim_server import CHAT
    from scripted_llm import ResearchNIMServer, role_of

    with ResearchNIMServer(latency=0.0) as srv:
        conn.send(srv.base_url)
        while True:
            cmd, arg = conn.recv()
            if cmd == "latency":
                srv.latency = arg
                srv.requests.clear()
                srv.usage_totals.clear()
                srv.max_in_flight = 0
                conn.send("ok")
            elif cmd == "stats":
                chats = srv.requests_to(CHAT)
                conn.send({"chat_requests": len(chats), "usage": srv.usage_totals.get(CHAT, {}),
                           "max_in_flight": srv.max_in_flight, "roles": [role_of(r.text) for r in chats]})
            else:
                conn.send("bye")
                return


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--latency", type=float, default=0.3, help="seconds added to every chat request")
    ap.add_argument("--corpus", default=str(ROOT / "tests" / "fixtures" / "arxiv_small.jsonl"))
    ap.add_argument("--question", default=QUESTION)
    ap.add_argument("--max-concurrency", type=int, default=None, help="default: LLMSettings' (8)")
    ap.add_argument("--repeat", type=int, default=3, help="measured runs; the median wall time is reported")
    ap.add_argument("--revision", action="store_true", help="force one revision round (the longest LLM chain)")
    args = ap.parse_args()
    os.environ.pop("NVIDIA_API_KEY", None)

    from sovereign_kernel import Kernel
    from sovereign_kernel.domain.settings import LLMSettings

    ctx = multiprocessing.get_context("spawn")
    conn, child_conn = ctx.Pipe()
    server_proc = ctx.Process(target=serve, args=(child_conn,), daemon=True)
    server_proc.start()
    try:
        base_url = conn.recv()
        # One Kernel for every run: the warm-up loads the corpus, index, models and clients into its
        # Workspace, and the measured runs reuse them (``research()`` would build a fresh Kernel per call).
        with tempfile.TemporaryDirectory() as home, Kernel() as kernel:
            llm = LLMSettings(nim_base_url=base_url, **({"max_concurrency": args.max_concurrency}
                                                        if args.max_concurrency else {}))
            args.max_concurrency = llm.max_concurrency
            kwargs = dict(corpus=args.corpus, home=home, llm_settings=llm)
            if args.revision:  # no draft reaches 10: one revision round, searched again (the reviser's queries)
                kwargs.update(revision_threshold=10.0, max_revision_rounds=1)
            t0 = time.monotonic()
            kernel.research(args.question, **kwargs)  # warm-up: corpus, BM25, vectors, clients
            warm = time.monotonic() - t0
            walls = []
            for _ in range(max(1, args.repeat)):
                conn.send(("latency", args.latency))  # also resets the server's counters
                conn.recv()
                t0 = time.monotonic()
                result = kernel.research(args.question, **kwargs)
                walls.append(time.monotonic() - t0)
                conn.send(("stats", None))
                stats = conn.recv()  # of the last run
        wall = sorted(walls)[len(walls) // 2]
        conn.send(("stop", None))
        conn.recv()
    finally:
        server_proc.join(timeout=5)

    usage = result.manifest["llm_usage"]
    totals = usage["totals"]
    server, chat_requests = stats["usage"], stats["chat_requests"]
    rounds = result.report.results.revision_round
    depth = llm_depth(stats["roles"])
    critical = depth * args.latency
    ratio = wall / critical if critical else float("inf")
    print(f"corpus: {args.corpus}")
    print(f"warm-up run (no latency): {warm:.2f}s")
    print(f"report: {result.report.report_id} {result.report.quality_tier}, {result.report.results.claims_grounded}/"
          f"{result.report.results.claims_extracted} claims verified, revision rounds {rounds}")
    print(f"latency per chat call: {args.latency * 1000:.0f} ms; max concurrency {args.max_concurrency} "
          f"(server saw at most {stats['max_in_flight']} in flight)")
    print(f"wall per run: {', '.join(f'{w:.2f}s' for w in walls)} (median {wall:.2f}s)")
    print(f"LLM depth: {depth} -> critical path {critical:.2f}s; wall {wall:.2f}s; ratio {ratio:.3f} (target <= 1.25)")
    for role, st in usage["roles"].items():
        print(f"  {role:12s} calls {st['calls']:3d}  prompt {st['prompt_tokens']:6d}  completion "
              f"{st['completion_tokens']:5d}  cache hits {st['cache_hits']:3d}  fallbacks {st['fallbacks']}")
    print(f"calls {totals['calls']} (server saw {chat_requests}); tokens {totals['total_tokens']} "
          f"(server sent {server.get('total_tokens', 0)})")
    print(json.dumps({"wall_s": round(wall, 3), "critical_path_s": round(critical, 3), "ratio": round(ratio, 3),
                      "calls": totals["calls"], "tokens": totals["total_tokens"]}))


if __name__ == "__main__":
    main()
