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
            calls = {"pairs": 0, "cpu_s": 0.0}
            inner = xenc.probabilities

            def counted(pairs):
                t = time.process_time()
                out = inner(pairs)
                calls["cpu_s"] += time.process_time() - t
                calls["pairs"] += len(pairs)
                return out

            xenc.probabilities = counted
            wall, cpu, model = [], [], []
            for _ in range(args.repeats + 1):  # the first call warms caches and the ONNX session
                xenc._memo.clear()
                calls.update(pairs=0, cpu_s=0.0)
                t, c = time.perf_counter(), time.process_time()
                sentence_verify(claims, papers, vectors=res.verifier_vectors, tokens=res.tokens,
                                calibration=res.calibration, threshold=0.5, cross_encoder=xenc)
                wall.append(time.perf_counter() - t)
                cpu.append(time.process_time() - c)
                model.append(dict(calls))
    timings = {"verify step": {"wall_s": min(wall[1:]), "cpu_s": min(cpu[1:])}}
    last = model[-1]
    out = {"question": args.question, "claims": len(claims), "kept_papers": len(papers),
           "pairs_possible": len(claims) * len(papers) * XENC_TOP, "pairs_read": last["pairs"], "timings": timings,
           "cross_encoder_cpu_s": last["cpu_s"],
           "cross_encoder_cpu_s_per_claim": last["cpu_s"] / max(1, len(claims)),
           "cross_encoder_cpu_ms_per_pair": 1000 * last["cpu_s"] / max(1, last["pairs"])}
    for name, t in timings.items():
        print(f"{name:24s} wall {t['wall_s']:.2f} s, CPU {t['cpu_s']:.2f} s for {len(claims)} claims x {len(papers)} papers")
    print(f"cross-encoder: {last['pairs']} of {out['pairs_possible']} possible pairs read (the rest could not reach "
          f"the threshold), {out['cross_encoder_cpu_s_per_claim'] * 1000:.0f} ms CPU per claim, "
          f"{out['cross_encoder_cpu_ms_per_pair']:.1f} ms per pair")
    print(json.dumps(out))


def result_settings(kernel, corpus):
    from sovereign_kernel.domain.settings import Settings

    return Settings(corpus=corpus) if corpus else Settings()


if __name__ == "__main__":
    main()
