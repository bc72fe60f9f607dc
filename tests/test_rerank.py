"""``verification.rerank`` on real SciFact abstracts (tests/fixtures/scifact_contradiction.jsonl, see
PROVENANCE.md): the calibrated verifier reads the abstracts on hypothalamic glutamate and energy
balance as speaking to the question and the unrelated ones as not, and the rerank moves them up by
as much as ``beta`` gives the reading."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from sovereign_kernel.domain.schemas import Paper
from sovereign_kernel.verification.rerank import (
    rerank_order,
    reranked,
    verifier_confidences,
)
from sovereign_kernel.verification.sentence_verifier import SentenceVerifier

CORPUS = Path(__file__).parent / "fixtures" / "scifact_contradiction.jsonl"
QUESTION = "Is hypothalamic glutamate neurotransmission involved in energy balance and body weight regulation?"
ON_TOPIC = {"scifact-45154987", "scifact-11886686"}  # SciFact's evidence for claim 541


def papers() -> list[Paper]:
    rows = [json.loads(line) for line in CORPUS.read_text().splitlines() if line.strip()]
    return [Paper(id=r["id"], title=r["title"], abstract=r["abstract"]) for r in rows if r["id"] != "scifact-claim-541"]


def test_the_verifier_reads_the_on_topic_abstracts_higher_and_the_rerank_moves_them_up(workspace):
    local = workspace.local_embedder()

    def embed(texts):
        v = np.asarray(local.embed_documents(list(texts)), dtype=np.float32)
        return v / np.linalg.norm(v, axis=1, keepdims=True)

    make = lambda ps: SentenceVerifier(ps, embed, token_encoder=workspace.token_encoder(),
                                       cross_encoder=workspace.cross_encoder(), xenc_gate=0.0)
    candidates = sorted(papers(), key=lambda p: (p.id in ON_TOPIC, p.id))  # the first stage got it backwards
    conf = verifier_confidences(QUESTION, candidates, make)
    on = [c for p, c in zip(candidates, conf) if p.id in ON_TOPIC]
    unrelated = [c for p, c in zip(candidates, conf) if p.id not in ON_TOPIC and "glutamate" not in p.abstract.lower()]
    assert len(on) == 2 and unrelated and min(on) > max(unrelated), (on, unrelated)
    assert all(0.0 <= c <= 1.0 for c in conf)
    # beta 0: the first stage's order; beta 1: the reading's order; in between, a blend
    assert [p.id for p in reranked(candidates, conf, 0.0)] == [p.id for p in candidates]
    by_reading = [p.id for p in reranked(candidates, conf, 1.0)]
    assert set(by_reading[:2]) <= ON_TOPIC | {p.id for p in candidates if "glutamate" in p.abstract.lower()}
    assert by_reading.index(min(ON_TOPIC, key=by_reading.index)) < len(candidates) - 2


def test_only_the_read_head_moves_and_ties_keep_their_order():
    items = list("abcdef")
    assert reranked(items, [0.1, 0.9, 0.5], 1.0) == ["b", "c", "a", "d", "e", "f"]  # the tail stays put
    assert rerank_order([0.5, 0.5, 0.5], 1.0) == [0, 1, 2]
    # a small beta moves a paper only past neighbours its reading beats by more than the position step
    assert rerank_order([0.0, 1.0, 0.0, 0.0], 0.2) == [0, 1, 2, 3]
    assert rerank_order([0.0, 1.0, 0.0, 0.0], 0.5) == [1, 0, 2, 3]


def test_the_retriever_reranks_its_head_by_the_verifiers_reading(workspace, tmp_path):
    """The product's path: ``Resources.rerank`` (what ``score_candidates`` calls before its gate) reorders
    the first stage's head by the calibrated verifier's reading and records each reading."""
    from sovereign_kernel.domain.schemas import ScoredPaper
    from sovereign_kernel.domain.settings import Settings

    settings = Settings(home=tmp_path)
    res = workspace.resources_for(workspace.corpus(str(CORPUS), settings), settings)
    backwards = sorted(papers(), key=lambda p: (p.id in ON_TOPIC, p.id))  # the on-topic papers last
    scored = [ScoredPaper(paper=p, relevance=round(1 - i / 100, 4)) for i, p in enumerate(backwards)]
    rerank = res.rerank(QUESTION, settings.retriever)
    assert rerank is not None and 0 < settings.retriever.rerank_beta < 1
    after = rerank([s.model_copy() for s in scored])
    assert sorted(s.paper.id for s in after) == sorted(s.paper.id for s in scored)
    readings = {s.paper.id: s.reading for s in after}
    assert all(r is not None and 0.0 <= r <= 1.0 for r in readings.values())
    expected = verifier_confidences(QUESTION, backwards, res.reader)
    assert np.allclose([readings[p.id] for p in backwards], expected, atol=1e-4)
    ids = [s.paper.id for s in after]
    # both on-topic papers were last; the reading moves each of them up (at most by what beta allows)
    assert all(ids.index(p) < [s.paper.id for s in scored].index(p) for p in ON_TOPIC), ids
    # switched off: the first stage's order stands
    off = settings.retriever.model_copy(update={"rerank_depth": 0})
    assert res.rerank(QUESTION, off) is None


def test_eval_ranks_with_the_rerank_and_takes_hard_negatives_from_the_first_stage(workspace, tmp_path):
    from sovereign_kernel.app.evaluation import kernel_rankings
    from sovereign_kernel.domain.settings import Settings

    settings = Settings(home=tmp_path)
    res = workspace.resources_for(workspace.corpus(str(CORPUS), settings), settings)
    first, after = kernel_rankings(QUESTION, res, settings)
    assert first and sorted(first) == sorted(after)
    head = settings.retriever.rerank_depth
    top = [res.corpus.by_id[d] for d in first[:head]]
    assert after == reranked(first, verifier_confidences(QUESTION, top, res.reader), settings.retriever.rerank_beta)
    plain = settings.model_copy(update={"retriever": settings.retriever.model_copy(update={"rerank_beta": 0.0})})
    assert kernel_rankings(QUESTION, res, plain) == (first, first)
