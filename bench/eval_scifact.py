"""The SciFact eval (``sovereign-kernel eval scifact``) on full SciFact train, plus the variants tried.

    python bench/eval_scifact.py [--scifact ../shared/data/scifact] [--home DIR] [--limit N] [--no-variants]

1. ``run_scifact_eval`` exactly as the CLI runs it: the kernel's retriever and verifier vs the
   seed baseline, printed as the table and as the JSON object.
2. Variants (unless ``--no-variants``), on the same claims:
   retrieval — seed TF-IDF 1-2-gram; BM25 alone; MiniLM over the whole corpus; BM25 + MiniLM
   min-max hybrid over the whole corpus (needs every abstract embedded, which the kernel avoids);
   the kernel's candidates (planner queries x BM25 ``hits_per_query``) ranked by the previous
   formula (0.7 x semantic + 0.3 x aspect coverage), by IDF-weighted term coverage instead, and by
   the final formula (both coverages; must equal the eval's number); the final ranking without
   the planner's expansion (the claim as the only query) and with 100 hits per query.
   grounding — on the eval's pairs: the seed, the first calibration as it shipped (lexical +
   dense + number + negation), and the final calibration.
Vectors come from the VectorCache under --home, so a rerun embeds nothing new.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from sovereign_kernel.domain.aspects import covers, question_aspects, text_stems  # noqa: E402
from sovereign_kernel.app.evaluation import (  # noqa: E402
    auroc,
    build_resources,
    format_table,
    kernel_ranking,
    load_scifact,
    ndcg_at_k,
    precision_recall,
    recall_at_k,
    run_scifact_eval,
    seed_rankings,
)
from sovereign_kernel.domain.schemas import paper_text  # noqa: E402
from sovereign_kernel.domain.settings import Settings  # noqa: E402
from sovereign_kernel.domain.text import content_tokens  # noqa: E402
from sovereign_kernel.retrieval.planning import plan_queries_offline  # noqa: E402
from sovereign_kernel.runtime.workspace import Workspace  # noqa: E402
from sovereign_kernel.verification.calibration import Calibration  # noqa: E402
from sovereign_kernel.verification.sentence_verifier import SentenceVerifier  # noqa: E402

# The calibration that shipped before this benchmark (fit on BM25 hard negatives), for comparison.
FIRST_CALIBRATION = {
    "weight_lexical": 1.106, "weight_dense": 6.8158, "weight_number_mismatch": -0.5249,
    "weight_negation_mismatch": 0.3347, "bias": -4.3475, "sentence_dense_weight": 0.7,
    "fitted_on": "SciFact train (1069 claim-abstract pairs, 505 claims; BM25 negatives), 2026-11-22",
}


def retrieval_metrics(rankings, claims) -> dict:
    return {
        "ndcg@10": float(np.mean([ndcg_at_k(r, c.evidence, 10) for r, c in zip(rankings, claims)])),
        "recall@10": float(np.mean([recall_at_k(r, c.evidence, 10) for r, c in zip(rankings, claims)])),
        "recall@100": float(np.mean([recall_at_k(r, c.evidence, 100) for r, c in zip(rankings, claims)])),
    }


def _rank(ids: list[str], scores: np.ndarray, k: int = 100) -> list[str]:
    order = np.lexsort((np.arange(len(ids)), -scores))[:k]
    return [ids[i] for i in order]


def _minmax(x: np.ndarray) -> np.ndarray:
    lo, hi = x.min(), x.max()
    return (x - lo) / (hi - lo) if hi > lo else np.zeros_like(x)


def retrieval_variants(data, res, settings) -> dict:
    claims, papers = data.claims, data.papers
    r = settings.retriever
    ids = [p.id for p in papers]
    P = res.vectors.embed([paper_text(p) for p in papers], kind="passage")
    Q = res.vectors.embed([c.text for c in claims], kind="query")
    n_docs = len(res.bm25.ids)
    out: dict[str, list] = {k: [] for k in (
        "seed: TF-IDF 1-2-gram (corpus fit)", "BM25 (claim)", "MiniLM, whole corpus",
        "BM25 + MiniLM min-max w=0.7, whole corpus",
        "kernel candidates, previous: 0.7 sem + 0.3 aspects",
        "kernel candidates, 0.7 sem + 0.3 IDF term coverage",
        "kernel candidates, final: 0.7 sem + 0.3 mean(aspects, IDF terms)",
        "final, no planner expansion (claim only)",
        f"final, {max(100, r.hits_per_query)} hits per query",
    )}
    out["seed: TF-IDF 1-2-gram (corpus fit)"] = seed_rankings(papers, [c.text for c in claims])
    stems_cache: dict[int, tuple[set, set]] = {}
    deep = settings.with_overrides(hits_per_query=max(100, r.hits_per_query))
    for qi, c in enumerate(claims):
        bm = res.bm25.scores(c.text)
        dense = P @ Q[qi]
        out["BM25 (claim)"].append(_rank(ids, bm))
        out["MiniLM, whole corpus"].append(_rank(ids, dense))
        out["BM25 + MiniLM min-max w=0.7, whole corpus"].append(_rank(ids, 0.7 * _minmax(dense) + 0.3 * _minmax(bm)))
        # the kernel's candidate set, scored three ways (the formulas of score_candidates)
        cand: set[int] = set()
        for q in plan_queries_offline(c.text, res.bm25, res.corpus.papers, r.n_queries):
            cand |= {i for i, _ in res.bm25.search(q, r.hits_per_query)}
        idx = sorted(cand, key=lambda i: ids[i])
        aspects = question_aspects(c.text, None)
        idf = {t: math.log1p((n_docs - df + 0.5) / (df + 0.5))
               for t in dict.fromkeys(content_tokens(c.text)) for df in (res.bm25.document_frequency(t),)}
        total = sum(idf.values()) or 1.0
        sem, asp, term = [], [], []
        for i in idx:
            if i not in stems_cache:
                text = paper_text(papers[i])
                stems_cache[i] = (text_stems(text), set(content_tokens(text)))
            stems, words = stems_cache[i]
            sem.append(float(np.clip((dense[i] - r.semantic_floor) / (r.semantic_ceil - r.semantic_floor), 0, 1)))
            asp.append(sum(covers(a, stems) for a in aspects) / len(aspects) if aspects else 0.0)
            term.append(sum(w for t, w in idf.items() if t in words) / total)
        sem, asp, term = map(np.array, (sem, asp, term))
        cids = [ids[i] for i in idx]
        w = r.semantic_weight
        out["kernel candidates, previous: 0.7 sem + 0.3 aspects"].append(_rank(cids, np.round(w * sem + (1 - w) * asp, 4)))
        out["kernel candidates, 0.7 sem + 0.3 IDF term coverage"].append(_rank(cids, np.round(w * sem + (1 - w) * term, 4)))
        out["kernel candidates, final: 0.7 sem + 0.3 mean(aspects, IDF terms)"].append(kernel_ranking(c.text, res, settings, rerank=False))
        out["final, no planner expansion (claim only)"].append(kernel_ranking(c.text, res, settings, expand=False, rerank=False))
        out[f"final, {max(100, r.hits_per_query)} hits per query"].append(kernel_ranking(c.text, res, deep, rerank=False))
    return {k: retrieval_metrics(v, claims) for k, v in out.items()}


def grounding_variants(data, res, settings, pairs: list[dict]) -> dict:
    embed = lambda texts: res.verifier_vectors.embed(texts, kind="passage")  # noqa: E731 (as the eval does)
    first = Calibration.from_dict(FIRST_CALIBRATION)  # weighs no token feature: no token encoding needed
    by_claim = {c.id: c for c in data.claims}
    y = [p["label"] for p in pairs]
    first_conf = []
    for p in pairs:
        s = SentenceVerifier([data.by_id[p["doc_id"]]], embed, calibration=first)
        first_conf.append(s.score([by_claim[p["claim_id"]].text])[0][0].confidence)
    out = {}
    v = settings.verification
    for name, scores, t in (
        (f"seed baseline (>= {v.baseline_threshold})", [p["baseline"] for p in pairs], v.baseline_threshold),
        (f"first calibration as shipped (>= {v.verify_threshold})", first_conf, v.verify_threshold),
        (f"final calibration (>= {v.verify_threshold})", [p["confidence"] for p in pairs], v.verify_threshold),
    ):
        precision, recall = precision_recall(y, [s >= t for s in scores])
        out[name] = {"auroc": auroc(y, scores), "precision": precision, "recall": recall}
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--scifact", type=Path, default=REPO.parent / "shared" / "data" / "scifact")
    ap.add_argument("--home", default=os.environ.get("SOVEREIGN_HOME", "/tmp/sovereign-bench-eval"))
    ap.add_argument("--limit", type=int, default=None)
    ap.add_argument("--no-variants", action="store_true")
    args = ap.parse_args()
    settings = Settings(home=args.home)
    corpus, claims_file = args.scifact / "corpus.jsonl", args.scifact / "claims_train.jsonl"
    t0 = time.monotonic()

    def progress(stage, done, total):
        if done == total or done % 250 == 0:
            print(f"  [{time.monotonic() - t0:5.0f}s] {stage} {done}/{total}", file=sys.stderr, flush=True)

    result = run_scifact_eval(corpus, claims_file, settings=settings, limit=args.limit,
                              on_progress=progress, keep_pairs=not args.no_variants)
    pairs = result.pop("pairs", [])
    print(format_table(result))
    print(f"(eval runtime {time.monotonic() - t0:.0f}s)")
    print(json.dumps(result, sort_keys=True))
    if args.no_variants:
        return
    t1 = time.monotonic()
    data = load_scifact(corpus, claims_file, args.limit)
    workspace = Workspace()
    try:
        res = build_resources(data, settings, workspace)
        retrieval = retrieval_variants(data, res, settings)
        grounding = grounding_variants(data, res, settings, pairs)
    finally:
        workspace.close()
    print(f"\nVariants on the same {len(data.claims)} claims ({time.monotonic() - t1:.0f}s)")
    print(f"  {'retrieval':66s} nDCG@10  R@10   R@100")
    for name, m in retrieval.items():
        print(f"  {name:66s} {m['ndcg@10']:.3f}   {m['recall@10']:.3f}  {m['recall@100']:.3f}")
    print(f"  {'grounding (the eval pairs)':66s} AUROC   P      R")
    for name, m in grounding.items():
        print(f"  {name:66s} {m['auroc']:.3f}   {m['precision']:.3f}  {m['recall']:.3f}")
    print(json.dumps({"variants": {"retrieval": retrieval, "grounding": grounding}}, sort_keys=True))


if __name__ == "__main__":
    main()
