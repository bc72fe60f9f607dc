"""Measure the verifier's features on SciFact train, choose a feature set, fit the calibration.

    python bench/calibrate_verifier.py [--scifact ../shared/data/scifact] [--home DIR] [--write]

Pairs are exactly the eval's (``sovereign_kernel.app.evaluation``): every (claim, evidence abstract) as a
positive and, per claim, the highest-ranked non-evidence abstract of the kernel's own retriever
(planner queries -> BM25 -> ``score_candidates``) as a hard negative. Each pair is scored by
``SentenceVerifier`` on that one abstract, which measures every feature in
``verification.calibration.FEATURES``. Then:

1. each feature's AUROC on its own, and the seed baseline's;
2. nested feature sets, each a logistic regression (standardised features, C=1) scored by
   grouped 5-fold cross-validation by claim (out-of-sample AUROC, precision / recall at 0.5);
   the set with the best CV AUROC wins, a smaller set winning ties within 0.002;
3. Platt (the logistic itself) vs isotonic recalibration of the chosen set: AUROC, Brier, ECE;
4. contradiction cues (negation / direction-word disagreement) among the evidence pairs: can
   they tell CONTRADICT from SUPPORT well enough to beat the trivial 3-way label rule?

The final fit uses all of train; ``--write`` stores it in
sovereign_kernel/data/verifier_calibration.json (raw-feature weights + bias, as data). Only the
train split is used. The last line printed is one JSON object with every number.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import time
from datetime import date
from pathlib import Path

import numpy as np
from sklearn.isotonic import IsotonicRegression
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import brier_score_loss, roc_auc_score
from sklearn.model_selection import GroupKFold
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from sovereign_kernel.app.evaluation import CONTRADICT, build_resources, grounding_pairs, kernel_ranking, load_scifact  # noqa: E402
from sovereign_kernel.domain.settings import Settings  # noqa: E402
from sovereign_kernel.domain.text import NEGATION_RE  # noqa: E402
from sovereign_kernel.runtime.workspace import Workspace  # noqa: E402
from sovereign_kernel.verification.baseline import baseline_score  # noqa: E402
from sovereign_kernel.verification.calibration import FEATURES, Calibration  # noqa: E402
from sovereign_kernel.verification.sentence_verifier import SentenceVerifier  # noqa: E402

CAL_PATH = REPO / "sovereign_kernel" / "data" / "verifier_calibration.json"
SENTENCE_DENSE_WEIGHT = 0.7  # best-sentence pick; measured in bench/embedders_scifact.py (w=0.7 best)

FEATURE_SETS = {  # nested, in order of size; the first is the previous calibration
    "first calibration: lexical+dense+number+negation": ["lexical", "dense", "number_mismatch", "negation_mismatch"],
    "+ token maxsim": ["lexical", "dense", "number_mismatch", "negation_mismatch", "maxsim"],
    "dense + maxsim": ["dense", "maxsim"],
    "dense + maxsim + doc/title cosine": ["dense", "maxsim", "dense_doc", "dense_title"],
    "... + coverage": ["dense", "maxsim", "dense_doc", "dense_title", "coverage"],
    "... + entity agreement": ["dense", "maxsim", "dense_doc", "dense_title", "coverage", "entity_mismatch", "has_entity"],
    "... + maxsim_min": ["dense", "maxsim", "dense_doc", "dense_title", "coverage", "entity_mismatch", "has_entity",
                         "maxsim_min"],
    "all features": list(FEATURES),
}
TIE = 0.002

UP_RE = re.compile(r"\b(increas\w*|higher|more|greater|enhanc\w*|promot\w*|induc\w*|activat\w*|elevat\w*|improv\w*"
                   r"|rais\w*|upregulat\w*|stimulat\w*|accelerat\w*)\b", re.I)
DOWN_RE = re.compile(r"\b(decreas\w*|lower|less|fewer|reduc\w*|inhibit\w*|suppress\w*|impair\w*|prevent\w*|block\w*"
                     r"|attenuat\w*|diminish\w*|downregulat\w*|declin\w*|impede\w*)\b", re.I)


def direction(text: str) -> int:
    return int(np.sign(len(UP_RE.findall(text)) - len(DOWN_RE.findall(text))))


def ece(p: np.ndarray, y: np.ndarray, bins: int = 10) -> float:
    idx = np.minimum((p * bins).astype(int), bins - 1)
    return float(sum(abs(p[idx == b].mean() - y[idx == b].mean()) * (idx == b).mean() for b in range(bins) if (idx == b).any()))


def pr(y: np.ndarray, p: np.ndarray, t: float = 0.5) -> tuple[float, float]:
    hit = p >= t
    tp = int((hit & (y == 1)).sum())
    return (tp / hit.sum() if hit.any() else 0.0), tp / max(1, int(y.sum()))


def model() -> object:
    return make_pipeline(StandardScaler(), LogisticRegression(C=1.0, max_iter=2000))


def cross_validate(X: np.ndarray, y: np.ndarray, groups: np.ndarray) -> np.ndarray:
    oof = np.zeros(len(y))
    for tr, te in GroupKFold(n_splits=5).split(X, y, groups):
        oof[te] = model().fit(X[tr], y[tr]).predict_proba(X[te])[:, 1]
    return oof


SIGN = {"lexical": 1, "dense": 1, "maxsim": 1, "maxsim_min": 1, "dense_doc": 1, "dense_title": 1, "coverage": 1,
        "number_mismatch": -1, "negation_mismatch": -1, "entity_mismatch": -1}


def monotone_logistic(X: np.ndarray, y: np.ndarray, names: list[str], C: float = 1.0) -> tuple[np.ndarray, float]:
    """L2 logistic regression (standardised, as ``model``) with each weight's sign bounded by SIGN."""
    from scipy.optimize import minimize

    mu, sd = X.mean(axis=0), X.std(axis=0) + 1e-12
    Z = (X - mu) / sd

    def loss(wb):
        w, b = wb[:-1], wb[-1]
        z = Z @ w + b
        p = 1.0 / (1.0 + np.exp(-z))
        value = float((np.logaddexp(0.0, z) - y * z).sum() + 0.5 * (w @ w) / C)
        return value, np.append(Z.T @ (p - y) + w / C, (p - y).sum())

    bounds = [(0, None) if SIGN.get(n) == 1 else (None, 0) if SIGN.get(n) == -1 else (None, None) for n in names]
    r = minimize(loss, np.zeros(len(names) + 1), jac=True, method="L-BFGS-B", bounds=bounds + [(None, None)])
    w = r.x[:-1] / sd
    return w, float(r.x[-1] - (r.x[:-1] * mu / sd).sum())


def raw_weights(fitted, names: list[str]) -> tuple[dict[str, float], float]:
    """Fold the standardisation into the logistic weights so the data file takes raw features."""
    scaler, lr = fitted[0], fitted[-1]
    coef = lr.coef_[0] / scaler.scale_
    bias = float(lr.intercept_[0] - (coef * scaler.mean_).sum())
    return {n: round(float(c), 5) for n, c in zip(names, coef)}, round(bias, 5)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--scifact", type=Path, default=REPO.parent / "shared" / "data" / "scifact")
    ap.add_argument("--home", default=os.environ.get("SOVEREIGN_HOME", "/tmp/sovereign-bench-eval"))
    ap.add_argument("--limit", type=int, default=None, help="only the first N claims with evidence")
    ap.add_argument("--write", action="store_true")
    args = ap.parse_args()
    t0 = time.monotonic()
    settings = Settings(home=args.home)
    data = load_scifact(args.scifact / "corpus.jsonl", args.scifact / "claims_train.jsonl", args.limit)
    claims = data.claims
    workspace = Workspace()
    res = build_resources(data, settings, workspace)
    rankings = [kernel_ranking(c.text, res, settings, rerank=False) for c in claims]
    pairs = grounding_pairs(claims, rankings)
    y = np.array([p[2] for p in pairs])
    groups = np.array([p[0] for p in pairs])
    embed = lambda texts: res.verifier_vectors.embed(texts, kind="passage")  # noqa: E731
    encoder = res.tokens  # the local MiniLM's token vectors, cached on disk under --home (a rerun encodes nothing)
    neutral = Calibration(weights={}, bias=0.0, fitted_on="-", sentence_dense_weight=SENTENCE_DENSE_WEIGHT)
    rows, base, sentences = [], [], []
    for ci, doc, _, _ in pairs:
        paper, claim = data.by_id[doc], claims[ci].text
        s = SentenceVerifier([paper], embed, calibration=neutral, token_encoder=encoder).score([claim])[0][0]
        rows.append([s.features[f] for f in FEATURES])
        sentences.append(s.sentence.text)
        base.append(baseline_score(claim, paper.abstract))
    workspace.close()
    X = np.array(rows)
    base = np.array(base)
    print(f"SciFact train: {len(claims)} claims, {len(pairs)} pairs ({int(y.sum())} evidence, "
          f"{int((1 - y).sum())} hard negatives from the kernel's ranking); features in {time.monotonic() - t0:.0f}s")
    out: dict = {"n_claims": len(claims), "n_pairs": len(pairs), "n_positive": int(y.sum())}

    # 1. single features
    bp, br = pr(y, base, 0.15)
    out["seed baseline"] = {"auroc": roc_auc_score(y, base), "precision@0.15": bp, "recall@0.15": br}
    print(f"\n(1) single features, AUROC (in-sample, no fit)\n  {'seed baseline (tfidf 1-2g pair)':34s} "
          f"{out['seed baseline']['auroc']:.3f}   P/R at 0.15: {bp:.3f} / {br:.3f}")
    out["single"] = {}
    for j, f in enumerate(FEATURES):
        a = roc_auc_score(y, X[:, j])
        out["single"][f] = a
        print(f"  {f:34s} {a:.3f}" + ("  (lower = evidence)" if a < 0.5 else ""))

    # 2. nested sets by grouped CV
    print("\n(2) logistic calibration, grouped 5-fold CV by claim      AUROC   P@0.5  R@0.5")
    out["sets"] = {}
    best = None
    for name, cols in FEATURE_SETS.items():
        Xs = X[:, [FEATURES.index(c) for c in cols]]
        oof = cross_validate(Xs, y, groups)
        a = roc_auc_score(y, oof)
        p, r = pr(y, oof)
        out["sets"][name] = {"features": cols, "cv_auroc": a, "precision@0.5": p, "recall@0.5": r}
        print(f"  {name:52s} {a:.3f}   {p:.3f}  {r:.3f}")
        if best is None or a > best[1] + TIE:
            best = (name, a, cols, oof)
    name, cv_auc, cols, oof = best
    # The same set with similarity weights held >= 0 and mismatch weights <= 0: what the free fit
    # gains from negative weights on whole-abstract similarity (see the notes in the output).
    Xs = X[:, [FEATURES.index(c) for c in cols]]
    mono = np.zeros(len(y))
    for tr, te in GroupKFold(n_splits=5).split(Xs, y, groups):
        w, b = monotone_logistic(Xs[tr], y[tr], cols)
        mono[te] = Xs[te] @ w + b
    out["monotone"] = {"features": cols, "cv_auroc": roc_auc_score(y, mono)}
    print(f"  {'same set, sign-constrained (similarity >= 0)':52s} {out['monotone']['cv_auroc']:.3f}")
    print(f"  chosen: {name} (CV AUROC {cv_auc:.3f})")

    # 3. Platt vs isotonic on the chosen set
    iso_oof = np.zeros(len(y))
    for tr, te in GroupKFold(n_splits=5).split(Xs, y, groups):
        m = model().fit(Xs[tr], y[tr])
        iso = IsotonicRegression(out_of_bounds="clip").fit(m.predict_proba(Xs[tr])[:, 1], y[tr])
        iso_oof[te] = iso.predict(m.predict_proba(Xs[te])[:, 1])
    out["calibration"] = {}
    print("\n(3) calibration of the chosen set (out of fold)   AUROC  Brier   ECE    P@0.5  R@0.5")
    for cname, p_ in (("Platt (logistic)", oof), ("isotonic on the logistic", iso_oof)):
        p5, r5 = pr(y, p_)
        out["calibration"][cname] = {"auroc": roc_auc_score(y, p_), "brier": brier_score_loss(y, p_),
                                     "ece": ece(p_, y), "precision@0.5": p5, "recall@0.5": r5}
        c = out["calibration"][cname]
        print(f"  {cname:45s} {c['auroc']:.3f}  {c['brier']:.3f}  {c['ece']:.3f}  {p5:.3f}  {r5:.3f}")
    print("  kept: Platt — isotonic's steps tie scores and lose AUROC for a small ECE gain; the logistic is data.")

    # 4. contradiction cues among the evidence pairs
    posi = np.array([p[2] == 1 for p in pairs])
    contra = np.array([p[3] == CONTRADICT for p in pairs])
    cues = {  # every pair gets the cue (as deployment would); its AUROC is measured on the evidence pairs
        "negation disagreement (best sentence)": X[:, FEATURES.index("negation_mismatch")] > 0,
        "negation in the claim": np.array([bool(NEGATION_RE.search(claims[p[0]].text)) for p in pairs]),
        "direction disagreement (best sentence)": np.array(
            [direction(claims[p[0]].text) * direction(s) < 0 for p, s in zip(pairs, sentences)]),
        "number disagreement (best sentence)": X[:, FEATURES.index("number_mismatch")] > 0,
    }
    print(f"\n(4) contradiction cues on the {int(posi.sum())} evidence pairs ({int(contra.sum())} CONTRADICT):"
          "   AUROC  P(CONTRADICT | cue)  cue rate")
    out["contradiction"] = {}
    for cname, v in cues.items():
        vp, cp = v[posi], contra[posi]
        prec = float(cp[vp].mean()) if vp.any() else 0.0
        out["contradiction"][cname] = {"auroc": roc_auc_score(cp, vp), "p_contradict_given_cue": prec,
                                       "rate": float(vp.mean())}
        print(f"  {cname:40s} {out['contradiction'][cname]['auroc']:.3f}   {prec:.3f}               {vp.mean():.3f}")
    # 3-way accuracy, out of fold: the trivial rule (verified -> SUPPORT, else NOT_ENOUGH_INFO) vs
    # the same rule turning verified pairs with a cue into CONTRADICT, the cue chosen on the
    # training folds (the most precise cue, only if it is right more often than not).
    gold = np.array([p[3] for p in pairs])
    verified = oof >= 0.5
    trivial = np.where(verified, "SUPPORT", "NOT_ENOUGH_INFO")
    with_cue = trivial.copy()
    chosen_cues = []
    for tr, te in GroupKFold(n_splits=5).split(X, y, groups):
        trp = np.zeros(len(pairs), dtype=bool)
        trp[tr] = True
        prec = {k: contra[trp & posi & v].mean() if (trp & posi & v).any() else 0.0 for k, v in cues.items()}
        k = max(prec, key=prec.get)
        if prec[k] > 0.5:
            chosen_cues.append(k)
            with_cue[te] = np.where(verified[te] & cues[k][te], "CONTRADICT", trivial[te])
        else:
            chosen_cues.append(None)
    acc_trivial, acc_cue = float((trivial == gold).mean()), float((with_cue == gold).mean())
    out["labels"] = {"trivial_accuracy": acc_trivial, "with_cue_accuracy": acc_cue, "cues_chosen": chosen_cues,
                     "majority_accuracy": float(max((gold == g).mean() for g in set(gold)))}
    n_gain = int(((with_cue == gold) & (trivial != gold)).sum()) - int(((with_cue != gold) & (trivial == gold)).sum())
    print(f"  3-way accuracy out of fold (CV confidence >= 0.5): trivial rule {acc_trivial:.3f}; with the cue chosen "
          f"per fold {acc_cue:.3f} (net {n_gain:+d} of {len(pairs)} pairs); majority class "
          f"{out['labels']['majority_accuracy']:.3f}")
    helps = acc_cue - acc_trivial >= 0.01
    out["labels"]["judged_offline"] = helps
    print("  => " + ("the cue helps: offline labels are reported" if helps else
                     "no cue beats the trivial rule by a point: the offline verifier does not judge labels "
                     "(labels: null)"))

    # final fit on all of train
    fitted = model().fit(Xs, y)
    weights, bias = raw_weights(fitted, cols)
    cal = {
        "method": "logistic (Platt)",
        "weights": weights,
        "bias": bias,
        "sentence_dense_weight": SENTENCE_DENSE_WEIGHT,
        "fitted_on": f"SciFact train ({len(pairs)} claim-abstract pairs, {len(claims)} claims; negatives = the "
                     f"kernel retriever's top non-evidence abstract), {date.today()}",
        "notes": f"bench/calibrate_verifier.py; features: {name}; grouped 5-fold CV AUROC {cv_auc:.3f}; "
                 f"first calibration (lexical+dense+number+negation) "
                 f"{out['sets'][next(iter(FEATURE_SETS))]['cv_auroc']:.3f}; seed baseline AUROC "
                 f"{out['seed baseline']['auroc']:.3f}",
    }
    Calibration.from_dict(cal)  # the file must load
    print("\n" + json.dumps(cal, indent=2))
    if args.write:
        CAL_PATH.write_text(json.dumps(cal, indent=2) + "\n")
        print(f"wrote {CAL_PATH}")
    out.update({"chosen": name, "cv_auroc": cv_auc, "runtime_s": time.monotonic() - t0})
    print(json.dumps(out, sort_keys=True, default=float))


if __name__ == "__main__":
    main()
