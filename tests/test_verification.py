import numpy as np

from sovereign_kernel.schemas import Paper
from sovereign_kernel.verification import (
    SentenceVerifier,
    baseline_score,
    load_calibration,
    negation_mismatch,
    number_mismatch,
)


def test_baseline_is_the_seed_tfidf_pair_cosine():
    assert baseline_score("typographic attacks fool CLIP", "typographic attacks fool CLIP") > 0.99
    assert baseline_score("typographic attacks fool CLIP", "protein folding in yeast cells") == 0.0
    mid = baseline_score("typographic attacks fool CLIP models", "CLIP models are robust to noise")
    assert 0.0 < mid < 0.9
    assert baseline_score("", "anything") == 0.0


def test_number_and_negation_agreement():
    assert number_mismatch("accuracy drops by 12%", "accuracy dropped by 12% on ImageNet") == 0.0
    assert number_mismatch("accuracy drops by 40%", "accuracy dropped by 12% on ImageNet") == 1.0
    assert number_mismatch("accuracy drops", "by 12%") == 0.0
    assert negation_mismatch("the defense does not work", "the defense works") == 1.0
    assert negation_mismatch("the defense works", "the defense works well") == 0.0


def bag_embed(texts):
    """A deterministic bag-of-words embedder, so this test does not depend on MiniLM."""
    vocab = sorted({w for t in texts for w in t.lower().split()})
    m = np.array([[t.lower().split().count(w) for w in vocab] for t in texts], dtype=float)
    m = np.hstack([m, np.ones((len(texts), 1))])
    return m / np.linalg.norm(m, axis=1, keepdims=True)


PAPERS = [
    Paper(id="a", title="A", abstract="CLIP models are fooled by typographic attacks. Accuracy drops by 12% under attack."),
    Paper(id="b", title="B", abstract="Protein folding is studied in yeast. The method is slow."),
]


def test_sentence_verifier_finds_the_supporting_sentence_and_ranks_unrelated_low():
    claims = ["Accuracy drops by 12% under attack.", "Accuracy drops by 40% under attack.",
              "Quantum chromodynamics predicts gluon jets."]
    sentences = ["CLIP models are fooled by typographic attacks.", "Accuracy drops by 12% under attack.",
                 "Protein folding is studied in yeast.", "The method is slow."]
    table = bag_embed(claims + sentences)  # one vocabulary for every text

    def embed(texts):
        return np.stack([table[(claims + sentences).index(t)] for t in texts])

    supported, wrong_number, unrelated = SentenceVerifier(PAPERS, embed).score(claims)
    best = supported[0]
    assert best.paper_id == "a" and best.sentence.text == "Accuracy drops by 12% under attack."
    assert PAPERS[0].abstract[best.sentence.start:best.sentence.end] == best.sentence.text
    assert [s.paper_id for s in supported] == ["a", "b"]  # every paper's best sentence, best first
    assert wrong_number[0].number_mismatch == 1.0 and best.number_mismatch == 0.0
    assert best.confidence > wrong_number[0].confidence  # same words, a different number
    assert best.confidence > unrelated[0].confidence
    assert all(0.0 <= s.confidence <= 1.0 for row in (supported, wrong_number, unrelated) for s in row)


def test_calibration_is_data_with_its_origin():
    cal = load_calibration()
    assert cal.fitted_on
    assert cal.confidence(1.0, 1.0, 0.0, 0.0) > cal.confidence(0.0, 0.0, 0.0, 0.0)
