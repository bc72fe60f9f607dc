"""Sentence-level check of fold models: each fold's model on its own held-out pairs (project env).

    python train/pair_eval.py train/work/fold0 [train/work/fold1 ...]

Prints, per model and pooled: 3-way accuracy, macro-F1, CONTRADICT recall, and AUROC of
P(SUPPORT) + P(CONTRADICT) for rationale vs NEI sentences. The grounding numbers that matter
(claim vs abstract, with the retriever's hard negatives) are bench/verifier_cv.py's.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
from sklearn.metrics import f1_score, roc_auc_score

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from sovereign_kernel.retrieval.cross_encoder import LABELS, CrossEncoder  # noqa: E402


def main() -> None:
    pairs = [json.loads(line) for line in (REPO / "train" / "work" / "pairs.jsonl").read_text().splitlines()]
    gold_all, prob_all = [], []
    for d in sys.argv[1:]:
        d = Path(d)
        card = json.loads((d / "card.json").read_text())
        fold = int(card["fold"])
        held = [p for p in pairs if p["fold"] == fold]
        probs = CrossEncoder(d / "verifier.int8.onnx").probabilities([(p["claim"], p["sentence"]) for p in held])
        gold = np.array([p["label"] for p in held])
        gold_all.append(gold)
        prob_all.append(probs)
        report(f"fold {fold} ({d.name}, {card['hyperparameters']['train_layers']} layers, "
               f"{card['seconds']} s)", gold, probs)
    if len(gold_all) > 1:
        report("pooled", np.concatenate(gold_all), np.vstack(prob_all))


def report(name: str, gold: np.ndarray, probs: np.ndarray) -> None:
    pred = np.array(LABELS)[probs.argmax(axis=1)]
    acc = float((pred == gold).mean())
    f1 = f1_score(gold, pred, labels=list(LABELS), average="macro")
    crec = float((pred[gold == "CONTRADICT"] == "CONTRADICT").mean())
    auc = roc_auc_score(gold != "NEI", probs[:, 0] + probs[:, 1])
    print(f"{name}: n={len(gold)} accuracy {acc:.3f} macro-F1 {f1:.3f} CONTRADICT recall {crec:.3f} "
          f"evidence AUROC {auc:.3f}")


if __name__ == "__main__":
    main()
