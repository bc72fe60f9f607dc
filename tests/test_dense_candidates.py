"""The dense candidate stage (``retrieval.dense``): the corpus papers nearest a question in meaning join
the candidates, so a question that words its topic differently from its paper still reaches it.

The paraphrased question and its paper are from ``bench/data/paraphrase_heldout.jsonl`` (written for
the arXiv corpus; the paper is also in the bundled demo corpus): the planned queries' words never
find it, its lead (title + first sentence) lies nearest the question."""

from __future__ import annotations

import numpy as np

from conftest import SMALL_CORPUS
from sovereign_kernel.domain.settings import Settings
from sovereign_kernel.retrieval.dense import LeadIndex, lead_text, leads_digest, load_prebuilt
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


def test_a_corpus_without_shipped_leads_is_embedded_once_and_announced():
    papers = load_corpus(str(SMALL_CORPUS)).papers
    calls, announced = [], []

    def embed(texts):
        calls.append(list(texts))
        return np.eye(len(texts), 8, dtype=np.float32)

    index = LeadIndex.build(papers, embed, "any-model", announce=lambda: announced.append(True))
    assert announced == [True] and calls == [[lead_text(p) for p in papers]]
    assert index.nearest(np.eye(1, 8, 3, dtype=np.float32)[0], 2)[0] == 3
    assert index.nearest(np.ones(8, dtype=np.float32), 0) == []


def test_a_paraphrased_question_reaches_its_paper_only_through_the_dense_stage(workspace, tmp_path):
    from sovereign_kernel.app.evaluation import kernel_rankings

    res, settings = demo_resources(workspace, tmp_path)
    near = res.dense_candidates(PARAPHRASED, settings.retriever.dense_candidates)
    assert len(near) == settings.retriever.dense_candidates == 30 and near[0].id == ITS_PAPER
    first, ranked = kernel_rankings(PARAPHRASED, res, settings)
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
