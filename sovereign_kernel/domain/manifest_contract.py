"""The ``paper-manifest-v1.1`` contract: how much to trust a report, each statement with its
measurement, with its corrections record (``correction-record-v1``) and the provenance of every
source (``source-provenance-v1``). ``schemas`` re-exports it beside the run's contracts.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

MANIFEST_CONTRACT = "paper-manifest-v1.1"
CORRECTION_CONTRACT = "correction-record-v1"
PROVENANCE_CONTRACT = "source-provenance-v1"

Level = Literal["LOW", "MEDIUM", "HIGH"]


class QualityDimension(BaseModel):
    level: Level
    value: float | int | str
    measurement: str = Field(description="What was measured to give this level.")


class CorrectionEntry(BaseModel):
    """One row of a report's append-only corrections record."""

    id: int
    created_at: str
    kind: Literal["CORRECTION", "RETRACTION"]
    claim_id: str | None = None
    reason: str


class CorrectionRecord(BaseModel):
    contract: Literal["correction-record-v1"] = CORRECTION_CONTRACT
    status: Literal["CURRENT", "CORRECTED", "RETRACTED"] = "CURRENT"
    count: int = 0
    entries: list[CorrectionEntry] = Field(default_factory=list)


class SourceRecord(BaseModel):
    id: str
    version: int | None = None
    url: str
    source: str
    content_hash: str


class Provenance(BaseModel):
    contract: Literal["source-provenance-v1"] = PROVENANCE_CONTRACT
    publisher: str
    mode: str
    corpus: dict
    sources: list[SourceRecord]
    models: dict
    settings: dict
    software: dict[str, str]


class Manifest(BaseModel):
    """``paper-manifest-v1.1``: how much to trust a report, each statement with its measurement."""

    contract: Literal["paper-manifest-v1.1"] = MANIFEST_CONTRACT
    report_id: str
    content_hash: str
    created_at: str
    question: str
    verification_level: dict
    truth_gate: dict
    quality_tier: Literal["DOI grade", "Watchlist"]
    quality_tier_basis: dict
    quality_dimensions: dict[str, QualityDimension]
    tribunal: dict
    policy: dict
    provenance: Provenance
    corrections: CorrectionRecord = Field(default_factory=CorrectionRecord)
    owner_review: dict | None = Field(None, description="The owner's decision when the run was escalated.")
    llm_usage: dict | None = Field(
        None, description="LLM calls, prompt/completion tokens, cache hits, rejected claims and fallbacks per role, "
                          "totals, the remote embedder's requests, tokens and fallback (embeddings) and the token "
                          "budget (chat and embedding tokens); None in offline mode.")
    fallbacks: list[dict] = Field(
        default_factory=list, description="Items (role, item, reason) where the LLM answer was unusable or not asked "
                                          "and the offline algorithm was used instead.")
    evidence_sufficiency: dict | None = Field(
        None, description="Calibrated P(the retrieved evidence answers the question): score, features, model.")
    joint_coverage: dict | None = Field(
        None, description="The question's facets and, for every pair it joins, the kept papers addressing both "
                          "(and how many corpus papers do, when none of the kept ones does).")
    contradictions: dict | None = Field(
        None, description="Claims another kept paper contradicts, by the trained cross-encoder: count, the "
                          "threshold, and each (claim number, claim id, contradicting paper, P(CONTRADICT)); None when "
                          "no cross-encoder read the claims (nothing was checked).")
    figures: list[dict] = Field(
        default_factory=list, description="The figures written beside report.md (file, size in pixels, the caption "
                                          "report.md shows under it, and what it plots: papers by year and theme, the "
                                          "claims whose values the effects panel shows, or why it has none).")
    claim_ids: dict[str, str] = Field(
        default_factory=dict, description="Each claim's number in report.md (C1, C2, ...) and its id; `review "
                                          "--drop-claim` and `correct --claim` take either.")
