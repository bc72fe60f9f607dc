"""The SciFact-format eval: metric helpers on hand-computed cases, and a run on real records."""

import json
import math
from pathlib import Path

import numpy as np
import pytest
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.metrics import roc_auc_score

from sovereign_kernel.app.evaluation import (
    EvalError,
    auroc,
    format_table,
    ndcg_at_k,
    precision_recall,
    recall_at_k,
    run_eval_command,
    run_scifact_eval,
)
from sovereign_kernel.app.cli import _parser
from sovereign_kernel.verification.baseline import baseline_score

TINY = Path(__file__).parent / "fixtures" / "scifact_tiny"
CORPUS, CLAIMS = TINY / "corpus.jsonl", TINY / "claims.jsonl"


def test_ndcg_and_recall_on_a_hand_computed_ranking():
    ranked = ["a", "b", "c", "d"]
    # relevant b (rank 2) and d (rank 4): DCG = 1/log2(3) + 1/log2(5); ideal = 1 + 1/log2(3)
    expected = (1 / math.log2(3) + 1 / math.log2(5)) / (1 + 1 / math.log2(3))
    assert ndcg_at_k(ranked, {"b", "d"}, 10) == pytest.approx(expected) == pytest.approx(0.6509, abs=1e-4)
    assert ndcg_at_k(ranked, {"a"}, 10) == 1.0
    assert ndcg_at_k(ranked, {"d"}, 3) == 0.0  # below the cut
    assert ndcg_at_k(ranked, {"z"}, 10) == 0.0  # never retrieved
    # 12 relevant docs: the ideal DCG counts only the 10 that fit in the top 10
    many = [str(i) for i in range(12)]
    assert ndcg_at_k(many, set(many), 10) == pytest.approx(1.0)
    assert recall_at_k(ranked, {"b", "d"}, 1) == 0.0
    assert recall_at_k(ranked, {"b", "d"}, 2) == 0.5
    assert recall_at_k(ranked, {"b", "d", "z"}, 100) == pytest.approx(2 / 3)


def test_auroc_counts_ordered_pairs_with_ties_as_half():
    # positives 0.9, 0.4 vs negatives 0.5, 0.1: 3 of 4 pairs ordered correctly
    assert auroc([1, 1, 0, 0], [0.9, 0.4, 0.5, 0.1]) == 0.75
    assert auroc([1, 0], [0.5, 0.5]) == 0.5
    assert auroc([1, 1, 0], [0.2, 0.2, 0.2]) == 0.5
    assert auroc([1, 1], [0.3, 0.4]) is None  # one class only: undefined
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 200)
    s = np.round(rng.random(200) + 0.3 * y, 1)  # many ties
    assert auroc(y, s) == pytest.approx(roc_auc_score(y, s))


def test_precision_recall_of_boolean_predictions():
    assert precision_recall([1, 1, 0, 0], [True, False, True, False]) == (0.5, 0.5)
    assert precision_recall([1, 0], [False, False]) == (0.0, 0.0)
    assert precision_recall([1, 1, 0], [True, True, True]) == (pytest.approx(2 / 3), 1.0)


@pytest.fixture(scope="module")
def tiny_result():
    return run_scifact_eval(CORPUS, CLAIMS, keep_pairs=True)


def test_tiny_scifact_eval_has_the_documented_shape(tiny_result):
    r = tiny_result
    assert {"retrieval", "grounding", "labels", "baseline", "n_claims"} <= set(r)
    for block in (r, r["baseline"]):
        assert set(block["retrieval"]) == {"ndcg@10", "recall@10", "recall@100"}
        assert set(block["grounding"]) == {"auroc", "precision", "recall"}
        for v in (*block["retrieval"].values(), *block["grounding"].values()):
            assert 0.0 <= v <= 1.0
    assert r["labels"] is None or 0.0 <= r["labels"]["accuracy"] <= 1.0
    assert r["baseline"]["labels"] is None
    assert r["n_claims"] == 6  # claim 0 has no evidence: nothing to retrieve, skipped
    json.dumps(r)  # JSON-serialisable as printed by --json


def test_tiny_pairs_are_the_evidence_plus_one_hard_negative_per_claim(tiny_result):
    pairs = tiny_result["pairs"]
    claims = [json.loads(line) for line in CLAIMS.read_text().splitlines()]
    evidence = {(str(c["id"]), d) for c in claims for d in c["evidence"]}
    assert {(p["claim_id"], p["doc_id"]) for p in pairs if p["label"] == 1} == evidence
    negatives = [p for p in pairs if p["label"] == 0]
    assert len(negatives) == 6 and all((p["claim_id"], p["doc_id"]) not in evidence for p in negatives)
    assert tiny_result["n_pairs"] == len(evidence) + 6 == 14


def test_tiny_baseline_equals_the_seed_method_computed_directly(tiny_result):
    pairs = tiny_result["pairs"]
    corpus = {str(r["doc_id"]): r for r in map(json.loads, CORPUS.read_text().splitlines())}
    claims = {str(c["id"]): c for c in map(json.loads, CLAIMS.read_text().splitlines())}
    seed = [baseline_score(claims[p["claim_id"]]["claim"], " ".join(corpus[p["doc_id"]]["abstract"])) for p in pairs]
    y = [p["label"] for p in pairs]
    flagged = [s >= 0.15 for s in seed]
    tp = sum(f and l for f, l in zip(flagged, y))
    g = tiny_result["baseline"]["grounding"]
    assert g["auroc"] == pytest.approx(roc_auc_score(y, seed))
    assert g["precision"] == pytest.approx(tp / sum(flagged))
    assert g["recall"] == pytest.approx(tp / sum(y))
    # Seed retrieval: TF-IDF 1-2-gram fitted on the corpus, claim vs "title. abstract".
    ids = sorted(corpus)
    vec = TfidfVectorizer(ngram_range=(1, 2))
    docs = vec.fit_transform([f"{corpus[i]['title']}. {' '.join(corpus[i]['abstract'])}" for i in ids])
    with_evidence = [c for c in claims.values() if c["evidence"]]
    ndcgs = []
    for c in with_evidence:
        s = (vec.transform([c["claim"]]) @ docs.T).toarray().ravel()
        ranked = [ids[i] for i in np.argsort(-s, kind="stable")]
        ndcgs.append(ndcg_at_k(ranked, c["evidence"], 10))
    assert tiny_result["baseline"]["retrieval"]["ndcg@10"] == pytest.approx(np.mean(ndcgs))
    # The kernel's own confidences are probabilities and agree with its precision / recall.
    conf = [p["confidence"] for p in pairs]
    assert all(0.0 <= c <= 1.0 for c in conf)
    assert tiny_result["grounding"]["auroc"] == pytest.approx(roc_auc_score(y, conf))


def test_the_table_shows_kernel_and_seed_side_by_side(tiny_result):
    table = format_table(tiny_result)
    assert "retrieval nDCG@10" in table and "grounding AUROC" in table
    assert f"{tiny_result['retrieval']['ndcg@10']:.3f}" in table
    assert f"{tiny_result['baseline']['retrieval']['ndcg@10']:.3f}" in table


def _parse(argv):
    return _parser().parse_args(argv)


def test_cli_entry_prints_json_and_rejects_nim_for_now(capsys):
    args = _parse(["eval", "scifact", "--corpus", str(CORPUS), "--claims", str(CLAIMS), "--json", "--limit", "2"])
    assert run_eval_command(args) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["n_claims"] == 2 and set(out["baseline"]) == {"retrieval", "grounding", "labels"}
    args = _parse(["eval", "scifact", "--corpus", str(CORPUS), "--claims", str(CLAIMS), "--mode", "nim"])
    assert run_eval_command(args) == 2
    assert "not available yet" in capsys.readouterr().err
    with pytest.raises(EvalError):
        run_scifact_eval(CORPUS, CORPUS)  # a corpus is not a claims file
