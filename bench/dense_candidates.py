"""The dense candidate stage (``retrieval.dense``): do the papers nearest the question in meaning,
added to the lexical candidates, bring a paraphrased question's paper into the 8 kept?

    python bench/dense_candidates.py [--corpus ../shared/data/arxiv] [--k 30] [--home DIR]

Ranks through the retriever's path (``app.evaluation.kernel_rankings``: planned queries, BM25, the
dense candidates, the hybrid score, the verifier's rerank) twice: with ``dense_candidates`` 0 (the
lexical candidates alone) and ``k``. The dense stage embeds the whole corpus's leads (title + first
sentence) once: on this machine's 2 cores the 16.5k took 313 s beside another job, whole abstracts
would take 24 s a 400 (~16 min). They go into the local vector cache, so a second run reads them
back. Three question sets:
- the 24 paraphrased ones (``bench/data/paraphrase_questions.jsonl``), the 35 held out
  (``bench/data/paraphrase_heldout.jsonl``) and 36 more for tuning (``bench/data/paraphrase_tuning2.jsonl``;
  ``bench/data/PARAPHRASE_QUESTIONS.md``);
- the 49 answerable labelled ones (the shared calibration file and ``bench/data/answerability_*.jsonl``).
Prints, per set and variant: the target among the 8 kept, and MRR, before and after the rerank.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from sovereign_kernel.app.evaluation import kernel_rankings  # noqa: E402
from sovereign_kernel.domain.settings import Settings  # noqa: E402
from sovereign_kernel.runtime.workspace import Workspace  # noqa: E402

SHARED = REPO.parent / "shared" / "data"
SETS = {
    "paraphrased (24)": [REPO / "bench" / "data" / "paraphrase_questions.jsonl"],
    "held-out para. (35)": [REPO / "bench" / "data" / "paraphrase_heldout.jsonl"],
    "para. tuning 2 (36)": [REPO / "bench" / "data" / "paraphrase_tuning2.jsonl"],
    "labelled (49)": [SHARED / "questions" / "calibration_train.jsonl",
                      *sorted((REPO / "bench" / "data").glob("answerability_*.jsonl"))],
}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--corpus", default=str(SHARED / "arxiv"))
    ap.add_argument("--k", type=int, default=30, help="papers the dense stage adds")
    ap.add_argument("--home", default=None)
    args = ap.parse_args()
    settings = Settings(**({"home": args.home} if args.home else {}))
    workspace = Workspace()
    try:
        res = workspace.resources_for(workspace.corpus(args.corpus, settings), settings)
        keep = settings.retriever.max_papers
        out = {}
        for name, files in SETS.items():
            rows = [json.loads(line) for f in files for line in f.read_text().splitlines() if line.strip()]
            rows = [r for r in rows if r.get("answerable") and r.get("target")]
            for variant, k in (("lexical candidates", 0), (f"+ {args.k} dense", args.k)):
                ranks = []
                for r in rows:
                    lists = kernel_rankings(r["q"], res, settings.with_overrides(dense_candidates=k))
                    target = set(r["target"])
                    ranks.append([next((i + 1 for i, d in enumerate(ids) if d in target), None) for ids in lists])
                for stage, j in (("first stage", 0), ("reranked", 1)):
                    got = [x[j] for x in ranks]
                    inside = sum(1 for x in got if x and x <= keep)
                    mrr = sum(1 / x for x in got if x) / len(got)
                    print(f"{name:19s} {variant:18s} {stage:11s}: target in the top {keep} for {inside}/{len(got)}, "
                          f"MRR {mrr:.3f}", flush=True)
                out[f"{name} / {variant}"] = ranks
        print(json.dumps(out))
    finally:
        workspace.close()


if __name__ == "__main__":
    main()
