"""The dense candidate stage (``retrieval.dense``): the corpus papers nearest a question in meaning join
the candidates, so a question that words its topic differently from its paper still reaches it.

The paraphrased question and its paper are from ``bench/data/paraphrase_heldout.jsonl`` (written for
the arXiv corpus; the paper is also in the bundled demo corpus): the planned queries' words never
find it, its lead (title + first sentence) lies nearest the question."""

from __future__ import annotations

import numpy as np
import pytest

from conftest import SMALL_CORPUS
from sovereign_kernel.domain.settings import Settings
from sovereign_kernel.retrieval.dense import LeadIndex, lead_text, leads_digest, load_prebuilt
from sovereign_kernel.retrieval.vectors import VectorCache
from sovereign_kernel.sources.corpus import load_corpus

PARAPHRASED = "How can clinics run image-and-text foundation models for medicine locally without leaking patient records?"
ITS_PAPER = "2508.20345"


def demo_resources(workspace, tmp_path, **overrides):
    settings = Settings(home=tmp_path, corpus=None).with_overrides(**overrides)
    return workspace.resources(settings), settings


def test_the_shipped_demo_leads_are_the_local_models_vectors_of_the_demo_corpus(workspace, tmp_path):
    res, _ = demo_resources(workspace, tmp_path)
    papers, model = res.corpus.papers, res.verifier_vectors.model_id
    shipped = load_prebuilt(leads_digest(papers), model)
    assert shipped is not None and shipped.shape == (len(papers), 384)
    rows = np.random.default_rng(7).choice(len(papers), 12, replace=False)
    fresh = np.asarray(workspace.local_embedder().embed_documents([lead_text(papers[i]) for i in rows]))
    fresh /= np.linalg.norm(fresh, axis=1, keepdims=True)
    assert np.min(np.sum(fresh * shipped[rows], axis=1)) > 0.999  # float16 rounding only
    assert np.allclose(res.leads.matrix, shipped)  # the run reads them: it embeds no lead
    # a changed paper, or another model, and the shipped vectors are not used
    edited = [papers[0].model_copy(update={"title": papers[0].title + " (v2)"}), *papers[1:]]
    assert load_prebuilt(leads_digest(edited), model) is None
    assert load_prebuilt(leads_digest(papers), model + "-other") is None


class CountingEmbedder:
    """Deterministic 8-d vectors from the text's hash; counts what it embeds, fails on the call ``fail_on``."""

    def __init__(self, fail_on: int | None = None):
        self.calls: list[int] = []
        self.fail_on = fail_on

    def embed_documents(self, texts):
        self.calls.append(len(texts))
        if len(self.calls) == self.fail_on:
            raise RuntimeError("killed")
        return [np.random.default_rng(abs(hash(t)) % 2**32).normal(size=8).tolist() for t in texts]

    def embed_query(self, text):
        return self.embed_documents([text])[0]


def test_a_corpus_without_shipped_leads_is_embedded_by_chunks_through_the_cache(tmp_path):
    """A first run killed while embedding keeps the chunks it finished: the next embeds only the rest."""
    papers = load_corpus(str(SMALL_CORPUS)).papers
    assert len(papers) == 40
    dying = VectorCache(tmp_path / "v.sqlite", CountingEmbedder(fail_on=2), "m")
    with pytest.raises(RuntimeError, match="killed"):
        LeadIndex.build(papers, lambda t: dying.embed(t), "m", chunk=16)
    dying.close()
    healthy = CountingEmbedder()
    cache = VectorCache(tmp_path / "v.sqlite", healthy, "m")
    beats = []
    index = LeadIndex.build(papers, lambda t: cache.embed(t), "m", on_progress=lambda *b: beats.append(b), chunk=16)
    assert healthy.calls == [16, 8]  # the first chunk came from the cache
    assert beats == [(0, 40), (16, 40), (32, 40), (40, 40)]
    assert index.matrix.shape == (40, 8)
    assert np.allclose(index.matrix, cache.embed([lead_text(p) for p in papers]))
    q = index.matrix[3]
    assert index.nearest(q, 2)[0] == 3 and index.nearest(q, 0) == []


@pytest.mark.parametrize("blob", [b"not an npz", b"PK\x03\x04 truncated zip"])
def test_a_damaged_shipped_leads_file_is_ignored_not_fatal(workspace, tmp_path, monkeypatch, blob):
    import sovereign_kernel.retrieval.dense as dense

    res, _ = demo_resources(workspace, tmp_path)
    papers, model = res.corpus.papers, res.verifier_vectors.model_id

    class Damaged:
        def files(self, package):
            return self

        def joinpath(self, name):
            return self

        def read_bytes(self):
            return blob

    monkeypatch.setattr(dense, "resources", Damaged())
    assert load_prebuilt(leads_digest(papers), model) is None
    embedded = []
    index = LeadIndex.build(papers[:5], lambda t: embedded.append(t) or np.eye(len(t), 4), model)
    assert embedded == [[lead_text(p) for p in papers[:5]]] and index.matrix.shape == (5, 4)


def test_a_paraphrased_question_reaches_its_paper_only_through_the_dense_stage(workspace, tmp_path):
    from sovereign_kernel.app.evaluation import kernel_rankings

    res, settings = demo_resources(workspace, tmp_path, rerank_depth=0)  # the first stage: candidates and hybrid
    near = res.dense_candidates(PARAPHRASED, settings.retriever.dense_candidates)
    assert len(near) == settings.retriever.dense_candidates == 30 and near[0].id == ITS_PAPER
    _, ranked = kernel_rankings(PARAPHRASED, res, settings)
    assert ranked.index(ITS_PAPER) < settings.retriever.max_papers  # kept
    _, lexical = kernel_rankings(PARAPHRASED, res, settings.with_overrides(dense_candidates=0))
    assert ITS_PAPER not in lexical  # no planned query's words find it
    assert res.dense_candidates(PARAPHRASED, 0) == []


def test_a_research_run_keeps_the_paper_the_dense_stage_found_and_says_so(run_research):
    result = run_research(PARAPHRASED, corpus=None)
    assert ITS_PAPER in {p.id for p in result.papers}
    assert "30 corpus papers whose title + first sentence lie nearest the question" in \
        result.report.methodology["queries"]
    assert f"arXiv:{ITS_PAPER}" in result.markdown
    off = run_research(PARAPHRASED, corpus=None, dense_candidates=0)
    assert ITS_PAPER not in {p.id for p in off.papers}
    assert "nearest the question" not in off.report.methodology["queries"]


def test_the_index_command_builds_a_corpus_s_leads_before_its_first_question(workspace, tmp_path):
    """``sovereign-kernel index``: what the first run would embed is on disk, so a run embeds no lead."""
    import os
    import shutil
    import subprocess
    import sys

    corpus = tmp_path / "papers.jsonl"
    shutil.copy(SMALL_CORPUS, corpus)
    env = {**os.environ, "SOVEREIGN_HOME": str(tmp_path / "home")}
    env.pop("SOVEREIGN_CACHE_DIR", None)
    proc = subprocess.run([sys.executable, "-m", "sovereign_kernel", "index", "--corpus", str(corpus)],
                          capture_output=True, text=True, env=env, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert "indexed" in proc.stdout and "40 papers" in proc.stdout
    assert "[index 0/40] what=dense leads" in proc.stderr and "[index 40/40] what=dense leads" in proc.stderr
    settings = Settings(home=tmp_path / "home")
    model = workspace.resources_for(workspace.corpus(str(corpus), settings), settings).verifier_vectors.model_id
    cache = VectorCache(tmp_path / "home" / "vectors.sqlite", CountingEmbedder(fail_on=1), model)
    index = LeadIndex.build(load_corpus(str(corpus)).papers, lambda t: cache.embed(t), model)
    assert index.matrix.shape == (40, 384)  # every lead read back: the failing embedder was never called
    bad = subprocess.run([sys.executable, "-m", "sovereign_kernel", "index", "--corpus", str(tmp_path / "none")],
                         capture_output=True, text=True, env=env, timeout=300)
    assert bad.returncode == 2 and bad.stderr.strip().count("\n") == 0 and "not found" in bad.stderr
