"""Reranking by the calibrated verifier on research questions: where does each answerable labelled
question's target paper rank, before and after (``verification.rerank``)?

    python bench/rerank_questions.py [--corpus ../shared/data/arxiv] [--depth N] [--beta B] [--home DIR]
                                     [--questions FILE ...]

The questions are the answerable ones of the shared calibration file and of the project's own
(``bench/data/answerability_*.jsonl``); ``--questions bench/data/paraphrase_questions.jsonl`` takes
the 24 that name a paper's topic without its key terms (issue 16: retrieval that survives paraphrase). The first stage is the retriever agent's path
(``app.evaluation.kernel_ranking``: planned queries, BM25, the hybrid); the rerank reads the top
``depth`` with the shipped calibration and cross-encoder. Prints one line per question (target rank
before -> after) and the totals: the target among the 8 papers a run keeps (``max_papers``), and MRR.
SciFact's numbers for the same rerank are ``bench/verifier_cv.py``'s section 3.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from sovereign_kernel.app.evaluation import kernel_rankings
from sovereign_kernel.domain.settings import Settings
from sovereign_kernel.runtime.workspace import Workspace

SHARED = REPO.parent / "shared" / "data"
QUESTIONS = [SHARED / "questions" / "calibration_train.jsonl", *sorted((REPO / "bench" / "data").glob("answerability_*.jsonl"))]


def rank_of(ids: list[str], targets: set[str]) -> int | None:
    return next((i + 1 for i, d in enumerate(ids) if d in targets), None)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--corpus", default=str(SHARED / "arxiv"))
    ap.add_argument("--depth", type=int, default=None, help="default: the retriever's rerank_depth setting")
    ap.add_argument("--beta", type=float, default=None, help="default: the retriever's rerank_beta setting")
    ap.add_argument("--home", default=None)
    ap.add_argument("--questions", nargs="+", type=Path, default=QUESTIONS, help="question files (JSONL)")
    args = ap.parse_args()
    settings = Settings(**({"home": args.home} if args.home else {}))
    rows = [json.loads(line) for path in args.questions for line in path.read_text().splitlines() if line.strip()]
    rows = [r for r in rows if r.get("answerable") and r.get("target")]
    workspace = Workspace()
    res = workspace.resources_for(workspace.corpus(args.corpus, settings), settings)
    beta = args.beta if args.beta is not None else settings.retriever.rerank_beta
    args.depth = args.depth if args.depth is not None else settings.retriever.rerank_depth
    settings = settings.model_copy(update={"retriever": settings.retriever.model_copy(
        update={"rerank_beta": beta, "rerank_depth": args.depth})})
    out, t0 = [], time.monotonic()
    try:
        for r in rows:
            # the retriever's own path: the first stage, then its rerank (``score_candidates``' reorder)
            first, after = kernel_rankings(r["q"], res, settings)
            target = set(r["target"])
            out.append((rank_of(first, target), rank_of(after, target)))
            print(f"target rank {out[-1][0]} -> {out[-1][1]} | {r['q'][:90]}", flush=True)
    finally:
        workspace.close()
    keep = settings.retriever.max_papers
    for name, i in (("first stage", 0), (f"reranked (depth {args.depth}, beta {beta})", 1)):
        ranks = [o[i] for o in out]
        inside = sum(1 for k in ranks if k is not None and k <= keep)
        mrr = sum(1 / k for k in ranks if k) / len(ranks)
        print(f"{name}: target in the top {keep} for {inside}/{len(ranks)}, MRR {mrr:.3f}")
    print(json.dumps({"questions": len(out), "ranks": out, "beta": beta, "depth": args.depth,
                      "seconds": round(time.monotonic() - t0, 1)}))


if __name__ == "__main__":
    main()
