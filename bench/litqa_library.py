"""Speed over a PDF library: the first run (parse, index, research) and a warm question.

    python bench/litqa_library.py [--library ../shared/data/litqa2/library] [--questions ...]

Prints: the cold first run in a fresh cache dir (every PDF parsed, passages indexed, the first
question researched), then warm questions in the same process (caches in memory and on disk), then
one question in a new process against the warm disk caches (what `sovereign-kernel research` pays).
Targets (issue 13, this 2-core machine): first run < 60 s, warm question < 5 s.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data" / "litqa2"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--library", default=str(SHARED / "library"))
    ap.add_argument("--questions", default=str(SHARED / "questions_train.jsonl"))
    ap.add_argument("--warm", type=int, default=5, help="warm questions to time")
    args = ap.parse_args()
    qs = [json.loads(line) for line in Path(args.questions).read_text().splitlines() if line.strip()]
    inside = [q["question"] for q in qs if q.get("in_library")]
    with tempfile.TemporaryDirectory(prefix="bench-litqa-") as home:
        os.environ["SOVEREIGN_HOME"] = home
        from sovereign_kernel import Kernel

        n_pdfs = len(list(Path(args.library).glob("*.pdf")))
        with Kernel() as kernel:
            t = time.perf_counter()
            first = kernel.research(inside[0], corpus=args.library)
            cold = time.perf_counter() - t
            print(f"first run, cold cache ({n_pdfs} PDFs parsed and indexed + 1 question): {cold:.1f} s "
                  f"-> {first.report.quality_tier}")
            times = []
            for q in inside[1:1 + args.warm]:
                t = time.perf_counter()
                kernel.research(q, corpus=args.library)
                times.append(time.perf_counter() - t)
            print(f"warm questions in one process ({len(times)}): mean {sum(times) / len(times):.1f} s, "
                  f"max {max(times):.1f} s")
        q = inside[1 + args.warm] if len(inside) > 1 + args.warm else inside[-1]
        t = time.perf_counter()
        subprocess.run([sys.executable, "-m", "sovereign_kernel", "research", q, "--corpus", args.library, "--quiet",
                        "--out", str(Path(home) / "out")], check=False, capture_output=True)
        print(f"one question in a new process, warm disk caches: {time.perf_counter() - t:.1f} s (imports included)")


if __name__ == "__main__":
    main()
