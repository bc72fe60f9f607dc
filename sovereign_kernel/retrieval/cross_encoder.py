"""The trained cross-encoder: P(SUPPORT), P(CONTRADICT), P(NOT ENOUGH INFO) for a (claim, sentence).

all-MiniLM-L6-v2 with a 3-way head, fine-tuned on SciFact train claim-sentence pairs by
``train/train_verifier.py`` and shipped as int8 ONNX in ``data/`` (its card, with data, metrics
and licence, is ``data/VERIFIER_CARD.md``). Runtime needs onnxruntime and tokenizers only — no
torch. The word-piece tokenizer is the embedder's (the same vocabulary), encoding the pair as
``[CLS] claim [SEP] sentence [SEP]`` with segment ids 0 / 1, as the model was trained.

It lives in ``retrieval`` because the lowest layer that uses it is here (the reranker); the
verifier weighs its probabilities as calibrated features.
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
from collections import OrderedDict
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from sovereign_kernel.retrieval.embeddings import TOKENIZER_PATH

LABELS = ("SUPPORT", "CONTRADICT", "NEI")
MODEL_FILE = "verifier_xenc.int8.onnx"
MODEL_ID = "minilm-l6-scifact-xenc-int8"


def model_card() -> dict:
    """The shipped model's card (``data/verifier_card.json``): its training record and the
    measurements reports quote; empty when no model is shipped."""
    path = Path(__file__).resolve().parents[1] / "data" / "verifier_card.json"
    return json.loads(path.read_text()) if path.is_file() else {}


def contradiction_measure(threshold: float) -> dict | None:
    """Precision and recall of the contradiction rule at ``threshold``, measured out of fold on SciFact
    train (``bench/verifier_cv.py``); None when the card has no measurement at that threshold."""
    rule = (model_card().get("cross_validation") or {}).get("contradiction_rule") or {}
    found = rule.get(str(threshold)) or rule.get(f"{threshold:g}")
    return dict(found) if found else None


def default_model_path() -> Path:
    """``SOVEREIGN_VERIFIER_ONNX`` (a fold model, in the benchmarks) or the shipped model."""
    env = os.environ.get("SOVEREIGN_VERIFIER_ONNX")
    return Path(env) if env else Path(__file__).resolve().parents[1] / "data" / MODEL_FILE


class CrossEncoder:
    """Lazily loaded, thread-safe; a bounded memo of scored pairs (a run asks again for the pairs its
    revision round re-checks).

    One pair per model call by default (``batch_tokens=1``): the int8 model quantises its activations
    per call, so in a padded batch a pair's probabilities depend on the other pairs beside it (up to
    0.13 apart, measured on 400 SciFact pairs). One at a time, a pair always gets the same numbers, at
    ~9 ms a pair instead of ~6 ms on this machine's 2 cores."""

    def __init__(self, model_path: str | Path | None = None, max_length: int = 128, batch_tokens: int = 1,
                 threads: int | None = None, memo_size: int = 8192):
        self.model_path = Path(model_path) if model_path else default_model_path()
        self.max_length = max_length
        self.batch_tokens = batch_tokens
        # one thread: a single pair is too small to split, and a second thread only doubles the CPU spent
        # (measured: 200 pairs in 1.75 s wall either way, 1.76 s CPU on one thread, 3.38 s on two)
        self.threads = threads or 1
        self._session = None
        self._model_id: str | None = None
        self._tokenizer = None
        self._lock = threading.Lock()
        self._memo: OrderedDict[tuple[str, str], np.ndarray] = OrderedDict()
        self._memo_size = memo_size

    @property
    def available(self) -> bool:
        return self.model_path.is_file()

    @property
    def model_id(self) -> str:
        """The model file's sha256 (read once): what a cache of its outputs is keyed by, so a retrained
        model never reads another's probabilities."""
        if self._model_id is None:
            if not self.model_path.is_file():
                raise FileNotFoundError(f"cross-encoder model file missing: {self.model_path}")
            digest = hashlib.sha256()
            with open(self.model_path, "rb") as fh:
                for block in iter(lambda: fh.read(1 << 20), b""):
                    digest.update(block)
            self._model_id = f"{MODEL_ID}:{digest.hexdigest()[:16]}"
        return self._model_id

    def _load(self) -> None:
        if self._session is not None:
            return
        with self._lock:
            if self._session is not None:
                return
            import onnxruntime as ort
            from tokenizers import Tokenizer

            if not self.model_path.is_file():
                raise FileNotFoundError(f"cross-encoder model file missing: {self.model_path}")
            tok = Tokenizer.from_file(str(TOKENIZER_PATH))
            tok.enable_truncation(max_length=self.max_length, strategy="longest_first")
            tok.no_padding()
            opts = ort.SessionOptions()
            opts.intra_op_num_threads = self.threads
            opts.enable_cpu_mem_arena = False
            self._tokenizer = tok
            self._session = ort.InferenceSession(str(self.model_path), opts, providers=["CPUExecutionProvider"])

    def probabilities(self, pairs: Sequence[tuple[str, str]]) -> np.ndarray:
        """(n, 3) probabilities in ``LABELS`` order, one row per (claim, sentence)."""
        out = np.zeros((len(pairs), 3), dtype=np.float32)
        if not pairs:
            return out
        with self._lock:
            known = {i: self._memo[p] for i, p in enumerate(pairs) if p in self._memo}
        todo = [i for i in range(len(pairs)) if i not in known]
        for i, row in known.items():
            out[i] = row
        if todo:
            self._load()
            encs = self._tokenizer.encode_batch([(str(pairs[i][0]), str(pairs[i][1])) for i in todo])
            order = sorted(range(len(todo)), key=lambda k: len(encs[k].ids))
            batch: list[int] = []
            for k in order + [None]:
                if k is not None and (not batch or (len(batch) + 1) * len(encs[k].ids) <= self.batch_tokens):
                    batch.append(k)
                    continue
                if batch:
                    probs = self._run([encs[j] for j in batch])
                    for j, row in zip(batch, probs):
                        out[todo[j]] = row
                batch = [k] if k is not None else []
            with self._lock:
                for i in todo:
                    self._memo[pairs[i]] = out[i].copy()
                while len(self._memo) > self._memo_size:
                    self._memo.popitem(last=False)
        return out

    def _run(self, encodings) -> np.ndarray:
        width = max(len(e.ids) for e in encodings)
        ids = np.zeros((len(encodings), width), dtype=np.int64)
        mask, types = np.zeros_like(ids), np.zeros_like(ids)
        for row, e in enumerate(encodings):
            n = len(e.ids)
            ids[row, :n], mask[row, :n], types[row, :n] = e.ids, e.attention_mask, e.type_ids
        logits = self._session.run(None, {"input_ids": ids, "attention_mask": mask, "token_type_ids": types})[0]
        z = logits - logits.max(axis=1, keepdims=True)
        p = np.exp(z)
        return p / p.sum(axis=1, keepdims=True)
