"""Fit the evidence-sufficiency calibration on labelled questions (answerable / not).

    python bench/calibrate_sufficiency.py [--questions FILE ...] [--corpus ../shared/data/arxiv] [--write]

Runs each tuning question through the kernel (one Kernel; offline), reads the sufficiency features
the run measured (``manifest["evidence_sufficiency"]["features"]``), and fits a logistic map from
them to "the corpus answers this question" (L2, class-balanced, each weight held to its meaningful sign). Prints leave-one-out
accuracy and AUROC next to the weights in use; ``--write`` stores the fit in
``sovereign_kernel/data/sufficiency_calibration.json``. Tune only on the shared calibration file
and ``bench/data/answerability_train.jsonl``; the held-out file is for the final measurement.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import numpy as np
from scipy.optimize import minimize
from sklearn.metrics import roc_auc_score

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from sovereign_kernel import Kernel, SovereignError  # noqa: E402
from sovereign_kernel.tribunal.sufficiency import FEATURES, load_sufficiency_model  # noqa: E402

SHARED = REPO.parent / "shared" / "data"
DEFAULT = [SHARED / "questions" / "calibration_train.jsonl", REPO / "bench" / "data" / "answerability_train.jsonl"]
OUT = REPO / "sovereign_kernel" / "data" / "sufficiency_calibration.json"
C = 1.0  # L2 strength: a few dozen questions, six features
# Features the labelled (offline) runs cannot fit: they are 0 on every one of them. Their weight is
# set by hand and kept through every refit, and the data file says so.
FIXED = {"contradicted": (-3.0, "hand-set, not fit: offline runs label no claim CONTRADICTED; a model verifier's "
                                "contradictions lower sufficiency")}
FIT = tuple(f for f in FEATURES if f not in FIXED)


def measure(paths: list[Path], corpus: str) -> list[dict]:
    rows = []
    with Kernel() as kernel:
        for path in paths:
            for line in path.read_text().splitlines():
                if not line.strip():
                    continue
                q = json.loads(line)
                try:
                    result = kernel.research(q["q"], corpus=corpus)
                except SovereignError as exc:  # a non-question: nothing to fit on
                    print(f"skip ({exc}) | {q['q'][:70]}", flush=True)
                    continue
                m = result.manifest
                feats = m["evidence_sufficiency"]["features"]
                cited = {c.paper_id for c in result.report.claims} | {r.id for r in result.report.references}
                rows.append({"q": q["q"], "answerable": bool(q["answerable"]), "features": feats, "file": path.name,
                             # what the run ended as, to read beside the fit (the held-out measurement re-runs)
                             "tier": m["quality_tier"], "policy": result.report.results.policy,
                             "sufficiency": m["evidence_sufficiency"]["score"],
                             "tribunal": result.report.tribunal.score,
                             "checks": {c["check"]: c["passed"] for c in m["quality_tier_basis"]["checks"]},
                             "cites_target": bool(set(q.get("target") or []) & cited)})
                print(f"{'A' if q['answerable'] else 'U'} {json.dumps(feats)} | {q['q'][:70]}", flush=True)
    return rows


def matrix(rows: list[dict]) -> tuple[np.ndarray, np.ndarray]:
    return (np.array([[r["features"].get(f, 0.0) for f in FIT] for r in rows]),
            np.array([r["answerable"] for r in rows]))


# The sign each weight may take: more joint coverage, facets, relevance or corroboration never
# lowers sufficiency, a facet absent from the corpus never raises it. On a few dozen questions an
# unconstrained fit gave corroboration a negative weight (related papers corroborate each facet of
# an unanswerable question apart); the constraint keeps the score meaning what the manifest says.
SIGNS = {"joint": 1, "facets": 1, "best_paper": 1, "relevance": 1, "corroboration": 1, "absent": -1}


@dataclass
class SignedLogistic:
    """Class-balanced L2 logistic regression with sign-constrained weights (scipy L-BFGS-B)."""

    coef_: np.ndarray
    intercept_: np.ndarray

    def predict_proba(self, x: np.ndarray) -> np.ndarray:
        p = 1.0 / (1.0 + np.exp(-(x @ self.coef_[0] + self.intercept_[0])))
        return np.column_stack([1 - p, p])


def fit(x: np.ndarray, y: np.ndarray) -> SignedLogistic:
    weight = np.where(y, len(y) / (2 * max(1, y.sum())), len(y) / (2 * max(1, (~y).sum())))  # class-balanced
    t = y.astype(float)

    def loss(theta: np.ndarray) -> tuple[float, np.ndarray]:
        w, b = theta[:-1], theta[-1]
        z = x @ w + b
        p = 1.0 / (1.0 + np.exp(-z))
        nll = np.sum(weight * (np.logaddexp(0, z) - t * z))
        g = weight * (p - t)
        return nll + np.dot(w, w) / (2 * C), np.append(x.T @ g + w / C, g.sum())

    bounds = [(0, None) if SIGNS.get(f, 0) > 0 else (None, 0) if SIGNS.get(f, 0) < 0 else (None, None) for f in FIT]
    res = minimize(loss, np.zeros(x.shape[1] + 1), jac=True, method="L-BFGS-B", bounds=[*bounds, (None, None)])
    return SignedLogistic(res.x[None, :-1], res.x[-1:])


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--questions", nargs="*", type=Path)
    ap.add_argument("--corpus", default=str(SHARED / "arxiv"))
    ap.add_argument("--features", type=Path, default=REPO / "bench" / "results" / "sufficiency_features.json",
                    help="measured features: reused when present (delete it to re-measure)")
    ap.add_argument("--write", action="store_true")
    args = ap.parse_args()
    paths = args.questions or [p for p in DEFAULT if p.is_file()]
    if args.features.is_file():
        rows = json.loads(args.features.read_text())
    else:
        rows = measure(paths, args.corpus)
        args.features.write_text(json.dumps(rows, indent=1) + "\n")
    x, y = matrix(rows)
    shipped = load_sufficiency_model()
    current = np.array([shipped.score(r["features"]) for r in rows])
    loo = []
    for i in range(len(rows)):  # leave one question out: the fit never scores a question it saw
        keep = np.arange(len(rows)) != i
        loo.append(fit(x[keep], y[keep]).predict_proba(x[i : i + 1])[0, 1])
    loo = np.array(loo)
    model = fit(x, y)
    print(f"{len(rows)} questions ({int(y.sum())} answerable)")
    print(f"shipped ({shipped.fitted_on}): accuracy at 0.5 {np.mean((current >= 0.5) == y):.3f}, "
          f"AUROC {roc_auc_score(y, current):.3f}")
    print(f"refit, leave-one-out: accuracy at 0.5 {np.mean((loo >= 0.5) == y):.3f}, AUROC {roc_auc_score(y, loo):.3f}")
    weights = {f: round(float(w), 4) for f, w in zip(FIT, model.coef_[0])} | {f: w for f, (w, _) in FIXED.items()}
    print("refit weights:", json.dumps(weights), "bias", round(float(model.intercept_[0]), 4))
    for r, p in sorted(zip(rows, loo), key=lambda t: t[1]):
        wrong = (p >= 0.5) != r["answerable"]
        print(f"{'WRONG ' if wrong else '      '}{'A' if r['answerable'] else 'U'} loo {p:.2f} | {r['q'][:80]}")
    if args.write:
        data = {"method": f"logistic (L2 C={C}, class-balanced, weights sign-constrained; scipy L-BFGS-B)",
                "fitted_on": f"{len(rows)} labelled questions ({int(y.sum())} answerable): "
                             + ", ".join(sorted({r['file'] for r in rows})) + f"; {date.today().isoformat()}",
                "bias": round(float(model.intercept_[0]), 4), "weights": weights,
                "fixed": {f: why for f, (_, why) in FIXED.items()},
                "leave_one_out": {"accuracy": round(float(np.mean((loo >= 0.5) == y)), 4),
                                  "auroc": round(float(roc_auc_score(y, loo)), 4)}}
        OUT.write_text(json.dumps(data, indent=2) + "\n")
        print(f"wrote {OUT}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
