"""CPU cost of the cross-encoder per verified claim, in a real offline run.

    python bench/verifier_cost.py [--question Q] [--corpus PATH] [--repeats 3]

Runs one research on the bundled corpus (or ``--corpus``), then re-scores that run's claims against
its kept papers with ``verification.scoring.sentence_verify`` — the verify step's own function —
with and without the cross-encoder, warm (vectors and token vectors cached, the ONNX session loaded,
the cross-encoder's pair memo cleared before each timing). Prints seconds per claim and per
(claim, sentence) pair the cross-encoder read, and the wall and CPU time of the whole step.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from sovereign_kernel.app.kernel import Kernel  # noqa: E402
from sovereign_kernel.retrieval.cross_encoder import CrossEncoder  # noqa: E402
from sovereign_kernel.verification.scoring import sentence_verify  # noqa: E402
from sovereign_kernel.verification.sentence_verifier import XENC_TOP  # noqa: E402

QUESTION = "How vulnerable are vision-language models such as CLIP to typographic attacks, and which defenses work?"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--question", default=QUESTION)
    ap.add_argument("--corpus", default=None)
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as home:
        os.environ["SOVEREIGN_HOME"] = home
        os.environ.pop("NVIDIA_API_KEY", None)
        with Kernel() as kernel:
            result = kernel.research(args.question, corpus=args.corpus)
            claims, papers = result.report.claims, result.papers
            res = kernel.workspace.resources(result_settings(kernel, args.corpus))
            xenc = CrossEncoder()
            timings = {}
            for name, encoder in (("without cross-encoder", None), ("with cross-encoder", xenc)):
                wall, cpu = [], []
                for _ in range(args.repeats + 1):  # the first call warms caches and the ONNX session
                    xenc._memo.clear()
                    t, c = time.perf_counter(), time.process_time()
                    sentence_verify(claims, papers, vectors=res.verifier_vectors, tokens=res.tokens,
                                    calibration=res.calibration, threshold=0.5, cross_encoder=encoder)
                    wall.append(time.perf_counter() - t)
                    cpu.append(time.process_time() - c)
                timings[name] = {"wall_s": min(wall[1:]), "cpu_s": min(cpu[1:])}
    n_pairs = len(claims) * len(papers) * XENC_TOP
    extra = timings["with cross-encoder"]["cpu_s"] - timings["without cross-encoder"]["cpu_s"]
    out = {"question": args.question, "claims": len(claims), "kept_papers": len(papers),
           "pairs_read_at_most": n_pairs, "timings": timings,
           "cross_encoder_cpu_s_per_claim": extra / max(1, len(claims)),
           "cross_encoder_cpu_ms_per_pair": 1000 * extra / max(1, n_pairs)}
    for name, t in timings.items():
        print(f"{name:24s} wall {t['wall_s']:.2f} s, CPU {t['cpu_s']:.2f} s for {len(claims)} claims x {len(papers)} papers")
    print(f"cross-encoder: {out['cross_encoder_cpu_s_per_claim'] * 1000:.0f} ms CPU per claim "
          f"({out['cross_encoder_cpu_ms_per_pair']:.1f} ms per pair, <= {XENC_TOP} sentences a paper)")
    print(json.dumps(out))


def result_settings(kernel, corpus):
    from sovereign_kernel.domain.settings import Settings

    return Settings(corpus=corpus) if corpus else Settings()


if __name__ == "__main__":
    main()
