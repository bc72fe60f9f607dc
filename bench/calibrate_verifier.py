"""Fit the default verifier's calibration on SciFact train and write it as data.

    python bench/calibrate_verifier.py [--scifact ../shared/data/scifact] [--write]

Pairs: every (claim, evidence abstract) as a positive and, as its negative, the highest-BM25
non-evidence abstract for the same claim (a hard negative). Each abstract is represented by
its best sentence under the raw hybrid score (exactly as ``SentenceVerifier`` picks it), and a
logistic regression on that sentence's features [TF-IDF 1-2-gram cosine, MiniLM cosine,
number mismatch, negation mismatch] gives P(evidence). Grouped 5-fold cross-validation by claim
reports out-of-sample AUROC; the final fit uses all of train. ``--write`` stores the parameters
in sovereign_kernel/data/verifier_calibration.json. Only the train split is used.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from datetime import date
from pathlib import Path

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import precision_score, recall_score, roc_auc_score
from sklearn.model_selection import GroupKFold

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from sovereign_kernel.embeddings import LocalMiniLMEmbeddings  # noqa: E402
from sovereign_kernel.index import BM25Index, VectorCache  # noqa: E402
from sovereign_kernel.schemas import Paper  # noqa: E402
from sovereign_kernel.verification import baseline_score, negation_mismatch, number_mismatch  # noqa: E402
from sklearn.feature_extraction.text import TfidfVectorizer  # noqa: E402

CAL_PATH = REPO / "sovereign_kernel" / "data" / "verifier_calibration.json"


def load(d: Path):
    corpus = {str(r["doc_id"]): r for r in map(json.loads, open(d / "corpus.jsonl"))}
    claims = [c for c in map(json.loads, open(d / "claims_train.jsonl")) if c["evidence"]]
    return corpus, claims


def pairs(corpus, claims):
    ids = sorted(corpus)
    papers = [Paper(id=i, title=corpus[i]["title"], abstract=" ".join(corpus[i]["abstract"])) for i in ids]
    bm25 = BM25Index.build(papers)
    out = []  # (claim index, doc id, label)
    for ci, c in enumerate(claims):
        ev = set(c["evidence"])
        for doc in sorted(ev):
            out.append((ci, doc, 1))
        neg = next((ids[i] for i, _ in bm25.search(c["claim"], 50) if ids[i] not in ev), None)
        if neg:
            out.append((ci, neg, 0))
    return out


def features(claims, corpus, pair_list, vectors, w):
    rows = []
    for ci, doc, _ in pair_list:
        claim = claims[ci]["claim"]
        sents = corpus[doc]["abstract"]
        vec = TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True, stop_words="english")
        try:
            m = vec.fit_transform([claim] + sents)
            lex = (m[0] @ m[1:].T).toarray()[0]
        except ValueError:
            lex = np.zeros(len(sents))
        dense = vectors.embed(sents, kind="passage") @ vectors.embed([claim], kind="passage")[0]
        best = int(np.argmax(w * dense + (1 - w) * lex))
        s = sents[best]
        rows.append([lex[best], dense[best], number_mismatch(claim, s), negation_mismatch(claim, s)])
    return np.array(rows)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--scifact", default=str(REPO.parent / "shared" / "data" / "scifact"))
    ap.add_argument("--home", default=os.environ.get("SOVEREIGN_HOME", "/tmp/sovereign-bench"))
    ap.add_argument("--write", action="store_true")
    args = ap.parse_args()
    corpus, claims = load(Path(args.scifact))
    pair_list = pairs(corpus, claims)
    y = np.array([p[2] for p in pair_list])
    groups = np.array([p[0] for p in pair_list])
    vectors = VectorCache(Path(args.home) / "vectors.sqlite", LocalMiniLMEmbeddings(), "all-MiniLM-L6-v2-int8-onnx-t256")
    t0 = time.monotonic()
    results = {}
    base = np.array([baseline_score(claims[ci]["claim"], " ".join(corpus[d]["abstract"])) for ci, d, _ in pair_list])
    results["baseline"] = {"auroc": roc_auc_score(y, base), "precision": precision_score(y, base >= 0.15),
                           "recall": recall_score(y, base >= 0.15)}
    best = None
    for w in (0.3, 0.5, 0.7):
        X = features(claims, corpus, pair_list, vectors, w)
        oof = np.zeros(len(y))
        for tr, te in GroupKFold(n_splits=5).split(X, y, groups):
            oof[te] = LogisticRegression(C=1.0).fit(X[tr], y[tr]).predict_proba(X[te])[:, 1]
        auc = roc_auc_score(y, oof)
        results[f"sentence-hybrid w={w}"] = {"auroc_cv": auc, "precision@0.5": precision_score(y, oof >= 0.5),
                                             "recall@0.5": recall_score(y, oof >= 0.5)}
        for name, col in (("lexical only", 0), ("dense only", 1)):
            results.setdefault(f"{name} (best sentence, w={w})", {"auroc": roc_auc_score(y, X[:, col])})
        if best is None or auc > best[0]:
            best = (auc, w, X)
    auc, w, X = best
    model = LogisticRegression(C=1.0).fit(X, y)
    coef = model.coef_[0]
    print(f"{len(pair_list)} pairs ({int(y.sum())} evidence, {int((1 - y).sum())} hard negatives) from "
          f"{len(claims)} claims; features in {time.monotonic() - t0:.0f}s")
    for name, r in results.items():
        print(f"  {name:45s} " + "  ".join(f"{k}={v:.3f}" for k, v in r.items()))
    cal = {
        "weight_lexical": round(float(coef[0]), 4), "weight_dense": round(float(coef[1]), 4),
        "weight_number_mismatch": round(float(coef[2]), 4), "weight_negation_mismatch": round(float(coef[3]), 4),
        "bias": round(float(model.intercept_[0]), 4), "sentence_dense_weight": w,
        "fitted_on": f"SciFact train ({len(pair_list)} claim-abstract pairs, {len(claims)} claims), {date.today()}",
        "notes": f"bench/calibrate_verifier.py; grouped 5-fold CV AUROC {auc:.3f}; baseline AUROC "
                 f"{results['baseline']['auroc']:.3f}",
    }
    print(json.dumps(cal))
    if args.write:
        CAL_PATH.write_text(json.dumps(cal, indent=2) + "\n")
        print(f"wrote {CAL_PATH}")
    print(json.dumps({"results": results, "chosen_w": w}))


if __name__ == "__main__":
    main()
