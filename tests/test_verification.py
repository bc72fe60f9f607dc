import numpy as np

from sovereign_kernel.domain.schemas import Paper
from sovereign_kernel.verification.baseline import baseline_score
from sovereign_kernel.verification.calibration import FEATURES, load_calibration
from sovereign_kernel.verification.features import entity_mismatch, negation_mismatch, number_mismatch, stem_coverage
from sovereign_kernel.verification.sentence_verifier import SentenceVerifier


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


PAPERS = [
    Paper(id="a", title="A", abstract="CLIP models are fooled by typographic attacks. Accuracy drops by 12% under attack."),
    Paper(id="b", title="B", abstract="Protein folding is studied in yeast. The method is slow."),
]
CLAIMS = ["Accuracy drops by 12% under attack.", "Accuracy drops by 40% under attack.",
          "Quantum chromodynamics predicts gluon jets."]
VOCAB = sorted({w for t in CLAIMS + [p.title + " " + p.abstract for p in PAPERS] for w in t.lower().split()})


def bag_embed(texts):
    """A deterministic bag-of-words embedder, so this test does not depend on MiniLM."""
    m = np.array([[t.lower().split().count(w) for w in VOCAB] for t in texts], dtype=float)
    m = np.hstack([m, np.ones((len(texts), 1))])
    return m / np.linalg.norm(m, axis=1, keepdims=True)


class OneHotTokens:
    """Token vectors without MiniLM: one one-hot row per word (maxsim = share of claim words found)."""

    def encode_tokens(self, texts):
        return [np.eye(len(VOCAB) + 1)[[VOCAB.index(w) if w in VOCAB else len(VOCAB) for w in t.lower().split()]]
                for t in texts]


def test_sentence_verifier_finds_the_supporting_sentence_and_ranks_unrelated_low():
    from sovereign_kernel.retrieval.cross_encoder import CrossEncoder

    verifier = SentenceVerifier(PAPERS, bag_embed, token_encoder=OneHotTokens(), cross_encoder=CrossEncoder())
    supported, wrong_number, unrelated = verifier.score(CLAIMS)
    best = supported[0]
    assert best.paper_id == "a" and best.sentence.text == "Accuracy drops by 12% under attack."
    assert PAPERS[0].abstract[best.sentence.start:best.sentence.end] == best.sentence.text
    assert [s.paper_id for s in supported] == ["a", "b"]  # every paper's best sentence, best first
    assert wrong_number[0].number_mismatch == 1.0 and best.number_mismatch == 0.0
    assert best.features["maxsim"] == 1.0 and wrong_number[0].features["maxsim"] < 1.0
    assert best.confidence > wrong_number[0].confidence  # same words, a different number
    assert best.confidence > unrelated[0].confidence
    assert best.confidence > 0.5 > unrelated[0].confidence
    assert all(0.0 <= s.confidence <= 1.0 for row in (supported, wrong_number, unrelated) for s in row)


def test_calibration_is_data_with_its_origin():
    cal = load_calibration()
    assert "SciFact train" in cal.fitted_on
    assert set(cal.weights) <= set(FEATURES) and cal.weights
    matched = dict(dense=0.8, maxsim=0.9, maxsim_min=0.6, dense_doc=0.6, dense_title=0.5, coverage=1.0)
    # token-level agreement raises the confidence; a claim entity the paper never names lowers it
    assert cal.confidence_of(matched) > cal.confidence_of({**matched, "maxsim": 0.6})
    assert cal.confidence_of(matched) > cal.confidence_of({**matched, "entity_mismatch": 1.0, "has_entity": 1.0})
    assert cal.confidence(0.5, 0.8, 0.0, 0.0, maxsim=0.9) == cal.confidence_of(
        {"lexical": 0.5, "dense": 0.8, "maxsim": 0.9})  # the first format's positional order still holds


def test_entity_and_coverage_agreement():
    assert entity_mismatch("PPM1D activation enhances p53 function", "PPM1D truncating mutations and p53") == (0.0, 1.0)
    assert entity_mismatch("Ly49Q induces polarization", "Neutrophils polarize") == (1.0, 1.0)
    assert entity_mismatch("folate lowers homocysteine", "anything") == (0.0, 0.0)  # no entity to check
    assert stem_coverage("folate lowers homocysteine", "Folate supplementation lowered homocysteine levels") == 2 / 3
