"""The calibrated verifier's calibration: data (``data/verifier_calibration.json``), not code.

A logistic map from named, measured features of a (claim, paper) pair to P(the paper is evidence
for the claim), fit on SciFact train by ``bench/calibrate_verifier.py``. Which features carry
weight, and how much, is decided by the fit.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from types import MappingProxyType

# Every feature the verifier measures, in the order the calibration script tabulates them.
FEATURES = (
    "lexical", "dense", "number_mismatch", "negation_mismatch", "maxsim", "maxsim_min",
    "dense_doc", "dense_title", "coverage", "entity_mismatch", "has_entity",
    "xenc_evidence", "xenc_support", "xenc_contradict",
)
XENC_FEATURES = ("xenc_evidence", "xenc_support", "xenc_contradict")
# The features of the first calibration (kept so old positional calls still mean the same).
_POSITIONAL = ("lexical", "dense", "number_mismatch", "negation_mismatch")


@dataclass(frozen=True)
class Calibration:
    """Logistic map from named features to P(the paper is evidence for the claim).

    ``weights`` maps feature names (see ``FEATURES``) to coefficients on the raw feature values;
    features a file does not name weigh nothing. Parameters come from a data file.
    """

    weights: Mapping[str, float]
    bias: float
    fitted_on: str
    sentence_dense_weight: float = 0.7  # picks each paper's best sentence: w*dense + (1-w)*lexical
    method: str = "logistic (Platt)"
    notes: str = ""

    @classmethod
    def from_dict(cls, data: Mapping) -> Calibration:
        if "weights" in data:
            weights = dict(data["weights"])
        else:  # the first format: one key per feature
            weights = {f: data[f"weight_{f}"] for f in _POSITIONAL if f"weight_{f}" in data}
        unknown = sorted(set(weights) - set(FEATURES))
        if unknown:
            raise ValueError(f"calibration names unknown features: {unknown}")
        return cls(
            weights=MappingProxyType(weights), bias=float(data["bias"]), fitted_on=data["fitted_on"],
            sentence_dense_weight=float(data.get("sentence_dense_weight", 0.7)),
            method=data.get("method", "logistic (Platt)"), notes=data.get("notes", ""),
        )

    @property
    def uses_cross_encoder(self) -> bool:
        return any(self.weights.get(f) for f in XENC_FEATURES)

    @property
    def uses_tokens(self) -> bool:
        return any(self.weights.get(f) for f in ("maxsim", "maxsim_min"))

    def logit_of(self, features: Mapping[str, float]) -> float:
        return self.bias + sum(w * float(features.get(f, 0.0)) for f, w in self.weights.items())

    def confidence_of(self, features: Mapping[str, float]) -> float:
        z = self.logit_of(features)
        return 1.0 / (1.0 + math.exp(-max(-60.0, min(60.0, z))))

    def cross_encoder_gain(self) -> float:
        """The most the cross-encoder's features (each in [0, 1]) can add to the logit."""
        return sum(max(0.0, self.weights.get(f, 0.0)) for f in XENC_FEATURES)

    def confidence(self, lexical: float = 0.0, dense: float = 0.0, number_mismatch: float = 0.0,
                   negation_mismatch: float = 0.0, **features: float) -> float:
        """P(evidence) from feature values (unnamed features count as 0)."""
        return self.confidence_of({"lexical": lexical, "dense": dense, "number_mismatch": number_mismatch,
                                   "negation_mismatch": negation_mismatch, **features})

    def describe(self) -> str:
        """One line for a report's methodology: the method and the features that carry weight."""
        used = ", ".join(f for f in FEATURES if self.weights.get(f))
        return f"{self.method} over [{used}], fit on {self.fitted_on}"


@lru_cache(maxsize=1)  # package data, read once: a memo of a constant, not state
def load_calibration() -> Calibration:
    text = resources.files("sovereign_kernel.data").joinpath("verifier_calibration.json").read_text()
    return Calibration.from_dict(json.loads(text))
