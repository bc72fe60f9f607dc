"""The trained cross-encoder verifier: the shipped int8 ONNX model loads without torch, reads
(claim, sentence) pairs in the order it was trained on, and its probabilities mean something.

The pairs are real SciFact train rationales (tests/fixtures/scifact_birth_weight.jsonl and
PROVENANCE.md); the model was fit on SciFact train, so these check the runtime's loading and
encoding, not generalisation (bench/verifier_cv.py measures that, out of fold)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest

from sovereign_kernel.retrieval.cross_encoder import LABELS, CrossEncoder, default_model_path

CLAIM = "Birth-weight is negatively associated with breast cancer."  # SciFact train claim 178
# SciFact doc 16322674, sentence 5: a CONTRADICT rationale of claim 178 (tests/fixtures/scifact_birth_weight.jsonl).
# The first model read claim 541's rationale right and this one wrong; the shipped one the other way round
# (bench/verifier_cv.py measures the rate, out of fold): this pair checks the runtime, not the model.
CONTRA = ("Birth weight was positively associated with breast cancer risk in studies based on birth records (pooled "
          "relative risk [RR] per one standard deviation [SD] [= 0.5 kg] increment in birth weight: 1.06; 95% confidence "
          "interval [CI] 1.02-1.09) and parental recall when the participants were children (1.02; 95% CI 0.99-1.05), "
          "but not in those based on adult self-reports, or maternal recall during the woman's adulthood (0.98; 95% CI "
          "0.95-1.01) (p for heterogeneity between data sources = 0.003).")
UNRELATED = "Carcinoma cells hijack this program for tumor dissemination."


@pytest.fixture(scope="module")
def xenc() -> CrossEncoder:
    model = CrossEncoder()
    assert model.available, f"the shipped model is missing: {default_model_path()}"
    return model


def test_the_shipped_model_is_in_the_package_and_has_a_card():
    path = default_model_path()
    assert path.parent.name == "data" and path.stat().st_size > 1_000_000
    card = json.loads((path.parent / "verifier_card.json").read_text())
    assert card["labels"] == list(LABELS)
    import hashlib

    assert hashlib.sha256(path.read_bytes()).hexdigest() == card["int8_sha256"]


def test_probabilities_are_a_distribution_per_pair(xenc):
    p = xenc.probabilities([(CLAIM, CONTRA), (CLAIM, UNRELATED), ("", "")])
    assert p.shape == (3, 3)
    assert np.allclose(p.sum(axis=1), 1.0, atol=1e-5)
    assert (p >= 0).all()


def test_a_contradicting_rationale_reads_as_contradict_and_an_unrelated_sentence_as_nei(xenc):
    contra, unrelated = xenc.probabilities([(CLAIM, CONTRA), (CLAIM, UNRELATED)])
    assert contra[LABELS.index("CONTRADICT")] > contra[LABELS.index("SUPPORT")]
    assert contra[LABELS.index("CONTRADICT")] > contra[LABELS.index("NEI")]
    assert unrelated[LABELS.index("NEI")] > 0.5
    # segment order matters: the model reads [CLS] claim [SEP] sentence [SEP]
    enc = xenc._tokenizer.encode(CLAIM, CONTRA)
    assert enc.ids[0] == 101 and enc.ids.count(102) == 2
    first_sep = enc.ids.index(102)
    assert set(enc.type_ids[: first_sep + 1]) == {0} and set(enc.type_ids[first_sep + 1:]) == {1}


def test_a_pair_gets_the_same_numbers_whatever_is_scored_beside_it(xenc):
    pairs = [(CLAIM, CONTRA), (CLAIM, UNRELATED), (CLAIM, CONTRA + " " + UNRELATED * 3)]
    alone = [CrossEncoder().probabilities([p])[0] for p in pairs]
    assert np.array_equal(np.vstack(alone), CrossEncoder().probabilities(pairs))
    assert np.array_equal(xenc.probabilities(pairs[::-1])[::-1], xenc.probabilities(pairs))  # the memo too


def test_runtime_needs_no_torch(tmp_path):
    import subprocess

    code = ("import sys; sys.modules['torch'] = None; "
            "from sovereign_kernel.retrieval.cross_encoder import CrossEncoder; "
            f"print(CrossEncoder().probabilities([({CLAIM!r}, {CONTRA!r})]).shape)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "(1, 3)"


def test_a_missing_model_file_is_a_clear_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="cross-encoder model file missing"):
        CrossEncoder(tmp_path / "nope.onnx").probabilities([("a", "b")])


def test_a_second_process_reads_the_pairs_back_from_the_cache(tmp_path, xenc):
    from sovereign_kernel.retrieval.vectors import PairScoreCache

    pairs = [(CLAIM, CONTRA), (CLAIM, UNRELATED), (CLAIM, CONTRA)]
    first = PairScoreCache(tmp_path / "vectors.sqlite", xenc)
    computed = first.probabilities(pairs)
    assert first.computed == 2  # the repeated pair once
    first.close()
    fresh = CrossEncoder()  # another process: no in-memory memo, the session never loads
    again = PairScoreCache(tmp_path / "vectors.sqlite", fresh)
    assert np.array_equal(again.probabilities(pairs), computed) and again.computed == 0
    assert fresh._session is None
    # another model file (a retrained verifier) never reads these
    class Other:
        model_id = "another-model"

        def probabilities(self, p):
            return np.full((len(p), 3), 1 / 3, dtype=np.float32)

    other = PairScoreCache(tmp_path / "vectors.sqlite", Other())
    assert np.allclose(other.probabilities(pairs), 1 / 3) and other.computed == 2
