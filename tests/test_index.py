import numpy as np

from sovereign_kernel.sources.corpus import load_corpus
from sovereign_kernel.retrieval.bm25 import BM25Index, load_or_build_bm25
from sovereign_kernel.retrieval.vectors import VectorCache

from conftest import SMALL_CORPUS


def test_bm25_ranks_topical_papers_first_and_is_deterministic():
    corpus = load_corpus(SMALL_CORPUS)
    index = BM25Index.build(corpus.papers)
    hits = index.search("typographic attacks CLIP", 5)
    titles = [corpus.papers[i].title.lower() for i, _ in hits]
    assert all("typographic" in t for t in titles[:3])
    assert hits == index.search("typographic attacks CLIP", 5)
    assert index.search("zzzz-not-a-word", 5) == []


def test_bm25_index_is_cached_by_corpus_hash(tmp_path):
    corpus = load_corpus(SMALL_CORPUS)
    built = load_or_build_bm25(corpus.papers, corpus.content_hash, tmp_path)
    cached_dirs = list((tmp_path / "index").iterdir())
    assert len(cached_dirs) == 1 and corpus.content_hash[:24] in cached_dirs[0].name
    loaded = BM25Index.load(cached_dirs[0])
    assert loaded is not None
    q = "mixture of experts adversarial robustness"
    assert loaded.search(q, 10) == built.search(q, 10)


class CountingEmbedder:
    def __init__(self):
        self.calls = []

    def embed_documents(self, texts):
        self.calls.append(("doc", list(texts)))
        return [[float(len(t)), 1.0, 0.0] for t in texts]

    def embed_query(self, text):
        self.calls.append(("query", [text]))
        return [0.0, 1.0, float(len(text))]


def test_vector_cache_embeds_only_misses_and_keeps_query_and_passage_apart(tmp_path):
    emb = CountingEmbedder()
    cache = VectorCache(tmp_path / "v.sqlite", emb, "counting")
    first = cache.embed(["a", "bb"])
    again = cache.embed(["bb", "a", "ccc"])
    assert emb.calls == [("doc", ["a", "bb"]), ("doc", ["ccc"])]
    assert np.allclose(again[1], first[0]) and np.allclose(np.linalg.norm(again, axis=1), 1.0)
    q = cache.embed(["a"], kind="query")
    assert emb.calls[-1] == ("query", ["a"]) and not np.allclose(q[0], first[0])
    # A new cache object on the same file computes nothing.
    emb2 = CountingEmbedder()
    VectorCache(tmp_path / "v.sqlite", emb2, "counting").embed(["a", "bb", "ccc"])
    assert emb2.calls == []


def test_token_vectors_are_cached_on_disk_and_equal_the_fresh_ones(tmp_path):
    from sovereign_kernel.retrieval.vectors import TokenVectorCache

    class CountingEncoder:
        model_id = "counting-f16"

        def __init__(self):
            self.encoded = []

        def encode_tokens(self, texts):
            self.encoded += texts
            rng = np.random.default_rng(len(self.encoded))
            return [rng.standard_normal((len(t.split()), 8)).astype(np.float32) for t in texts]

    texts = ["CLIP reads the text in an image.", "Typographic attacks fool it.", "CLIP reads the text in an image."]
    first_encoder = CountingEncoder()
    first = TokenVectorCache(tmp_path / "vectors.sqlite", first_encoder).encode_tokens(texts)
    assert first_encoder.encoded == texts[:2]  # the repeated text is encoded once
    assert [a.shape for a in first] == [(7, 8), (4, 8), (7, 8)] and first[0].dtype == np.float32

    # A new process (a new cache object on the same file): nothing is encoded again, and the
    # vectors are the very numbers the first run used (float16 on disk, rounded the same way).
    again_encoder = CountingEncoder()
    again = TokenVectorCache(tmp_path / "vectors.sqlite", again_encoder).encode_tokens(texts)
    assert again_encoder.encoded == []
    assert all(np.array_equal(a, b) for a, b in zip(first, again))
    other = CountingEncoder()
    other.model_id = "another-model"  # vectors of another encoder are never mixed in
    TokenVectorCache(tmp_path / "vectors.sqlite", other).encode_tokens(texts[:1])
    assert other.encoded == texts[:1]
