"""Training pairs for the cross-encoder verifier, from SciFact train and the kernel's own retriever.

    python train/build_pairs.py [--scifact ../shared/data/scifact] [--out train/work] [--home DIR]

Runs in the project's own environment (it needs the kernel's retriever, not torch). Writes
``OUT/pairs.jsonl`` — one (claim, sentence, label) pair a line, with the claim's fold — and
``OUT/rankings.json`` — the kernel's top-30 abstracts for every claim with evidence (the reranker's
candidates, scored later by ``bench/verifier_cv.py``).

Pairs, per claim (SciFact train, 809 claims):
- every rationale sentence of an evidence abstract -> that abstract's label (SUPPORT / CONTRADICT);
- the two non-rationale sentences of each evidence abstract closest to the claim (TF-IDF) -> NEI;
- hard negatives: the two highest-ranked *non-evidence* abstracts of the kernel's retriever
  (planner queries -> BM25 -> ``score_candidates``, as a research run ranks), their two sentences
  closest to the claim -> NEI;
- claims without evidence: the two closest sentences of each cited abstract -> NEI.

Folds: ``fold_of(claim id)`` — sha256 of the id mod 5 — so every script (training, calibration,
reranking) splits the same way and no claim is in both the fit and the score of a fold.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import time
from pathlib import Path

import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from sovereign_kernel.app.evaluation import (
    build_resources,
    kernel_ranking,
    load_scifact,
)
from sovereign_kernel.domain.settings import Settings
from sovereign_kernel.runtime.workspace import Workspace

FOLDS = 5
LABELS = ("SUPPORT", "CONTRADICT", "NEI")


def fold_of(claim_id: str | int) -> int:
    return int(hashlib.sha256(str(claim_id).encode()).hexdigest(), 16) % FOLDS


def closest(claim: str, sentences: list[str], k: int, exclude: set[int] = frozenset()) -> list[int]:
    """The k sentences (indices) closest to the claim by TF-IDF 1-2-gram cosine, ties by position."""
    idx = [i for i in range(len(sentences)) if i not in exclude]
    if not idx:
        return []
    vec = TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True)
    try:
        m = vec.fit_transform([claim] + [sentences[i] for i in idx])
        sim = (m[0] @ m[1:].T).toarray().ravel()
    except ValueError:
        sim = np.zeros(len(idx))
    order = np.lexsort((np.arange(len(idx)), -sim))[:k]
    return [idx[i] for i in order]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--scifact", default=str(REPO.parent / "shared" / "data" / "scifact"))
    ap.add_argument("--out", default=str(REPO / "train" / "work"))
    args = ap.parse_args()
    src, out = Path(args.scifact), Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    corpus = {}
    for line in open(src / "corpus.jsonl", encoding="utf-8"):
        rec = json.loads(line)
        corpus[str(rec["doc_id"])] = [s.strip() for s in rec["abstract"]]
    raw_claims = [json.loads(line) for line in open(src / "claims_train.jsonl", encoding="utf-8")]
    data = load_scifact(src / "corpus.jsonl", src / "claims_train.jsonl")
    settings = Settings()
    workspace = Workspace()
    res = build_resources(data, settings, workspace)
    t0 = time.time()
    rankings: dict[str, list[str]] = {}
    try:
        for i, c in enumerate(data.claims):
            rankings[c.id] = kernel_ranking(c.text, res, settings)[:30]
            if (i + 1) % 50 == 0:
                print(f"ranked {i + 1}/{len(data.claims)} ({time.time() - t0:.0f} s)", file=sys.stderr, flush=True)
    finally:
        workspace.close()
    pairs = []
    for rec in raw_claims:
        cid, claim = str(rec["id"]), rec["claim"]
        fold = fold_of(cid)

        def add(doc: str, si: int, label: str, kind: str) -> None:
            pairs.append({"claim_id": cid, "fold": fold, "claim": claim, "doc_id": doc, "sentence_index": si,
                          "sentence": corpus[doc][si], "label": label, "kind": kind})

        evidence = rec.get("evidence") or {}
        for doc, sets in sorted(evidence.items()):
            if doc not in corpus:
                continue
            label = sets[0]["label"]
            rationale = sorted({i for s in sets for i in s["sentences"]})
            for si in rationale:
                add(doc, si, label, "rationale")
            for si in closest(claim, corpus[doc], 2, set(rationale)):
                add(doc, si, "NEI", "same-abstract")
        if evidence:
            negatives = [d for d in rankings.get(cid, []) if d not in evidence][:2]
        else:
            negatives = [str(d) for d in rec.get("cited_doc_ids", []) if str(d) in corpus]
        for doc in negatives:
            for si in closest(claim, corpus[doc], 2):
                add(doc, si, "NEI", "retrieved" if evidence else "cited-nei")
    with open(out / "pairs.jsonl", "w", encoding="utf-8") as fh:
        fh.writelines(json.dumps(p, sort_keys=True) + "\n" for p in pairs)
    (out / "rankings.json").write_text(json.dumps(rankings, sort_keys=True))
    digest = hashlib.sha256((out / "pairs.jsonl").read_bytes()).hexdigest()
    counts = {lab: sum(p["label"] == lab for p in pairs) for lab in LABELS}
    print(json.dumps({"pairs": len(pairs), "labels": counts, "claims": len(raw_claims),
                      "ranked_claims": len(rankings), "pairs_sha256": digest,
                      "seconds": round(time.time() - t0, 1)}))


if __name__ == "__main__":
    main()
