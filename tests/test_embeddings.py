"""LocalMiniLMEmbeddings: real model, real sentences (no mocks)."""

from __future__ import annotations

import numpy as np
import pytest

from sovereign_kernel.retrieval.embeddings import DIM, LocalMiniLMEmbeddings

SENTENCES = [
    "Vitamin D supplementation reduces the risk of fractures in elderly people.",
    "Older adults who take vitamin D have fewer broken bones.",
    "The central bank raised interest rates to curb inflation.",
    "A man is playing a guitar on stage.",
    "Someone is performing a song with a guitar.",
    "Mitochondria produce most of the cell's ATP through oxidative phosphorylation.",
]


@pytest.fixture(scope="module")
def emb() -> LocalMiniLMEmbeddings:
    return LocalMiniLMEmbeddings()


def test_shape_dtype_and_unit_norm(emb):
    v = emb.encode(SENTENCES)
    assert v.shape == (len(SENTENCES), DIM)
    assert v.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(v, axis=1), 1.0, atol=1e-5)
    assert np.isfinite(v).all()


def test_langchain_interface(emb):
    docs = emb.embed_documents(SENTENCES[:2])
    q = emb.embed_query(SENTENCES[0])
    assert len(docs) == 2 and all(len(d) == DIM for d in docs)
    assert isinstance(q, list) and len(q) == DIM and isinstance(q[0], float)
    np.testing.assert_allclose(q, docs[0], atol=1e-6)


def test_paraphrase_closer_than_unrelated(emb):
    v = emb.encode(SENTENCES)
    para_vit, para_guitar = float(v[0] @ v[1]), float(v[3] @ v[4])
    unrelated = [float(v[0] @ v[2]), float(v[0] @ v[3]), float(v[2] @ v[5])]
    assert para_vit > 0.6 and para_guitar > 0.6
    assert max(unrelated) < 0.3
    assert min(para_vit, para_guitar) > max(unrelated) + 0.3


def test_deterministic(emb):
    a = emb.encode(SENTENCES)
    b = emb.encode(SENTENCES)
    assert np.array_equal(a, b)
    assert np.array_equal(a, LocalMiniLMEmbeddings().encode(SENTENCES))  # fresh session too


def test_batching_does_not_change_results(emb):
    texts = SENTENCES + ["short", "word " * 300]  # mixed lengths -> different padding
    many = LocalMiniLMEmbeddings(batch_size=64).encode(texts)
    ones = np.vstack([emb.encode([t]) for t in texts])
    threes = LocalMiniLMEmbeddings(batch_size=3).encode(texts)
    np.testing.assert_allclose(ones, many, atol=1e-5)
    np.testing.assert_allclose(threes, many, atol=1e-5)


def test_long_input_is_truncated(emb):
    long_text = " ".join(["photosynthesis converts light energy into chemical energy"] * 715)
    assert len(long_text.split()) >= 5000
    v = emb.encode([long_text])
    assert v.shape == (1, DIM)
    np.testing.assert_allclose(np.linalg.norm(v), 1.0, atol=1e-5)
    # Truncation keeps only the first max_length tokens, so appending text changes nothing.
    w = emb.encode([long_text + " the stock market crashed"])
    np.testing.assert_allclose(v, w, atol=1e-6)


def test_max_length_is_respected():
    short = LocalMiniLMEmbeddings(max_length=8)
    a = short.encode(["one two three four five six seven eight nine ten"])
    b = short.encode(["one two three four five six completely different ending here"])
    np.testing.assert_allclose(a, b, atol=1e-6)  # identical first 6 word tokens + CLS/SEP


def test_empty_inputs(emb):
    assert emb.embed_documents([]) == []
    assert emb.encode([]).shape == (0, DIM)
    v = emb.encode([""])  # empty string is [CLS][SEP]: still a valid unit vector
    np.testing.assert_allclose(np.linalg.norm(v), 1.0, atol=1e-5)


def test_missing_model_file_gives_clear_error(tmp_path):
    e = LocalMiniLMEmbeddings(model_path=tmp_path / "nope.onnx")
    with pytest.raises(FileNotFoundError, match="ONNX model"):
        e.encode(["hello"])


def test_invalid_args():
    with pytest.raises(ValueError):
        LocalMiniLMEmbeddings(max_length=1000)
    with pytest.raises(ValueError):
        LocalMiniLMEmbeddings(batch_size=0)
