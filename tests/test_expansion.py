"""Query expansion from the corpus (retrieval/expansion.py) on real arXiv records
(tests/fixtures/arxiv_small.jsonl): acronyms meet their long forms as the papers define them, and
dense-neighbour feedback brings in terms of the papers closest in meaning."""

from __future__ import annotations

import numpy as np

from conftest import SMALL_CORPUS
from sovereign_kernel.retrieval.bm25 import BM25Index
from sovereign_kernel.retrieval.expansion import acronym_variants, dense_feedback
from sovereign_kernel.retrieval.planning import plan_queries_offline
from sovereign_kernel.sources.corpus import load_corpus


def corpus():
    c = load_corpus(str(SMALL_CORPUS))
    return c.papers, BM25Index.build(c.papers)


def test_an_acronym_gains_the_long_form_the_corpus_defines():
    papers, index = corpus()
    variants = acronym_variants("Are LVLMs robust to typographic attacks?", index, papers)
    assert "large vision-language models" in variants
    assert acronym_variants("How do MoE models route tokens?", index, papers)[0] in ("mixture-of-experts",
                                                                                   "mixture of experts")


def test_a_long_form_gains_its_acronym_and_nothing_is_invented():
    papers, index = corpus()
    assert "CLIP" in acronym_variants("Is contrastive language-image pretraining robust?", index, papers)
    # no definition in the corpus: no variant
    assert acronym_variants("Does the XYZQ protocol converge?", index, papers) == []
    # a variant already in the question is not repeated
    assert "MoE" not in acronym_variants("Is a mixture of experts (MoE) robust?", index, papers)


def test_the_planner_searches_the_variants():
    papers, index = corpus()
    queries = plan_queries_offline("Are LVLMs robust to typographic attacks?", index, papers, 4)
    assert "large vision-language models" in queries[0]


def test_dense_feedback_takes_terms_from_the_papers_closest_in_meaning():
    papers, index = corpus()
    typographic = {p.id for p in papers if "typograph" in p.title.lower()}

    def embed(texts, kind):
        # a stand-in embedding that knows which papers are about typographic attacks: the feedback
        # must come from those (closest to the question), not from the BM25 order
        return np.array([[1.0, 0.0] if (kind == "query" or "typograph" in t.lower()) else [0.0, 1.0] for t in texts])

    terms = dense_feedback("attacks that put text into images to fool vision models", index, papers, embed)
    assert terms
    texts = [f"{p.title} {p.abstract}".lower() for p in papers if p.id in typographic]
    assert all(sum(t in x for x in texts) >= 2 for t in terms)
