"""Evidence sufficiency: how likely it is that the retrieved evidence answers the question, as a number.

A logistic map from measured features of a run to P(the corpus answers the question), fit on
labelled questions (answerable / not; ``bench/calibrate_sufficiency.py``) and stored as data
(``data/sufficiency_calibration.json``). The policy and the quality tier use the score; the manifest
states the features, the weights and the number.

Features (each in [0, 1]):
- ``joint``: pairs of the question's joined facets some kept paper addresses together;
- ``facets``: required facets some kept paper addresses;
- ``best_paper``: required facets the single best kept paper addresses;
- ``relevance``: mean hybrid relevance of the three most relevant kept papers;
- ``corroboration``: grounded claims another paper corroborates;
- ``absent``: 1 when a word of a required facet is in no corpus paper at all;
- ``contradicted``: claims a model verifier labelled CONTRADICTED. Offline no claim is, so the
  labelled (offline) runs cannot fit its weight: it is set by hand, stated as such in the data file
  (``fixed``), and kept through every refit.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from types import MappingProxyType
from typing import Mapping, Sequence

from sovereign_kernel.domain.schemas import ScoredPaper
from sovereign_kernel.tribunal.rubric import Signals, ratio

FEATURES = ("joint", "facets", "best_paper", "relevance", "corroboration", "absent", "contradicted")


@dataclass(frozen=True)
class SufficiencyModel:
    weights: Mapping[str, float]
    bias: float
    fitted_on: str
    method: str = "logistic"
    fixed: tuple[str, ...] = ()  # features whose weight is hand-set, not fit

    def score(self, features: Mapping[str, float]) -> float:
        z = self.bias + sum(w * float(features.get(f, 0.0)) for f, w in self.weights.items())
        return 1.0 / (1.0 + math.exp(-max(-60.0, min(60.0, z))))

    def describe(self) -> str:
        terms = " ".join(f"{w:+.2f} x {f}" for f, w in self.weights.items())
        hand = f"; hand-set, not fit: {', '.join(self.fixed)}" if self.fixed else ""
        return f"{self.method}: sigmoid({self.bias:+.2f} {terms}), fit on {self.fitted_on}{hand}"


@lru_cache(maxsize=1)  # package data, read once: a memo of a constant, not state
def load_sufficiency_model() -> SufficiencyModel:
    data = json.loads(resources.files("sovereign_kernel.data").joinpath("sufficiency_calibration.json").read_text())
    unknown = sorted(set(data["weights"]) - set(FEATURES))
    if unknown:
        raise ValueError(f"sufficiency calibration names unknown features: {unknown}")
    return SufficiencyModel(MappingProxyType(dict(data["weights"])), float(data["bias"]), data["fitted_on"],
                            data.get("method", "logistic"), tuple(sorted(data.get("fixed", {}))))


def sufficiency_features(s: Signals, ranked: Sequence[ScoredPaper]) -> dict[str, float]:
    top = sorted((sp.relevance for sp in ranked if sp.kept), reverse=True)[:3]
    return {
        "joint": s.joint_share if s.facet_pairs else ratio(s.facets_covered, s.required_facets),
        "facets": ratio(s.facets_covered, s.required_facets),
        "best_paper": ratio(s.best_paper_facets, s.required_facets),
        "relevance": sum(top) / len(top) if top else 0.0,
        "corroboration": ratio(s.n_corroborated, s.n_grounded),
        "absent": 1.0 if s.terms_absent_from_corpus else 0.0,
        "contradicted": ratio(s.n_contradicted, s.n_claims),
    }


def evidence_sufficiency(s: Signals, ranked: Sequence[ScoredPaper], model: SufficiencyModel | None = None) -> dict:
    """The score with what it rests on, as the manifest records it."""
    model = model or load_sufficiency_model()
    features = sufficiency_features(s, ranked)
    return {"score": round(model.score(features), 4), "features": {k: round(v, 4) for k, v in features.items()},
            "model": model.describe()}
