"""Time one research run, cold and warm, on the bundled corpus and on a larger one.

    python bench/research_timing.py                       # bundled demo corpus
    python bench/research_timing.py --corpus ../shared/data/arxiv   # the full 16.5k-paper set

Cold = a fresh data directory (BM25 index built, every needed vector embedded);
warm = the same data directory again in a fresh process (index and vectors cached).
Targets on the 2-core reference machine: warm < 10 s, cold < 60 s. Prints JSON last.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

QUESTION = "How vulnerable are vision-language models such as CLIP to typographic attacks, and which defenses work?"


def one_run(home: str, corpus: str | None, question: str) -> float:
    env = {**os.environ, "SOVEREIGN_HOME": home}
    env.pop("NVIDIA_API_KEY", None)
    env.pop("SOVEREIGN_CACHE_DIR", None)  # caches in the fresh home: cold must build the index and vectors
    cmd = [sys.executable, "-m", "sovereign_kernel", "research", question, "--out", os.path.join(home, "out"), "--quiet"]
    if corpus:
        cmd += ["--corpus", corpus]
    start = time.monotonic()
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True)
    elapsed = time.monotonic() - start
    if proc.returncode != 0:
        sys.exit(f"run failed: {proc.stderr.strip()}")
    print(f"  {elapsed:6.2f}s  {proc.stdout.strip().splitlines()[0]}")
    return elapsed


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--corpus", default=None)
    ap.add_argument("--question", default=QUESTION)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as home:
        print(f"corpus: {args.corpus or 'bundled demo corpus'}")
        cold = one_run(home, args.corpus, args.question)
        warm = one_run(home, args.corpus, args.question)
    result = {"corpus": args.corpus or "bundled", "cold_s": round(cold, 2), "warm_s": round(warm, 2),
              "cold_target_s": 60, "warm_target_s": 10}
    print(json.dumps(result))


if __name__ == "__main__":
    main()
