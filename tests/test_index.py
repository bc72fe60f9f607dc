import numpy as np

from sovereign_kernel.corpus import load_corpus
from sovereign_kernel.index import BM25Index, VectorCache, load_or_build_bm25

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
