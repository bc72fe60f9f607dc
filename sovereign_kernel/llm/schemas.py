"""What each LLM role must answer: pydantic models passed to ``with_structured_output``.

Their JSON Schemas go to the server (NIM guided decoding / ``response_format``), so every field
is required (no defaults: guided decoders may otherwise omit them) and described. Bounds are
validated on parse; an answer outside them counts as invalid and is re-asked, then falls back.
These are the raw model answers; the agents turn them into ``schemas.Claim`` etc. and check
them (e.g. that a source span really occurs in the abstract).
"""

from __future__ import annotations

from types import MappingProxyType
from typing import Mapping

from pydantic import BaseModel, Field

from sovereign_kernel.domain.schemas import VerifierLabel
from sovereign_kernel.domain.settings import LLM_ROLES


class PlannedQueries(BaseModel):
    """planner: diverse search queries for the research question."""

    queries: list[str] = Field(min_length=1, max_length=8, description="Short keyword search queries, most specific first.")


class ExtractedClaim(BaseModel):
    text: str = Field(min_length=1, description="One atomic claim, as a self-contained sentence.")
    source_span: str = Field(min_length=1, description="The exact text copied verbatim from the abstract that states the claim.")


class ExtractedClaims(BaseModel):
    """extractor: atomic claims from one abstract, each with its verbatim source span."""

    claims: list[ExtractedClaim] = Field(max_length=10, description="Claims, in the order they appear in the abstract.")


class VerifierJudgement(BaseModel):
    """verifier: does the evidence support one claim of the batch?"""

    claim: int = Field(ge=0, description="Number of the claim judged, as given in the prompt.")
    label: VerifierLabel = Field(description="SUPPORTED, CONTRADICTED or NOT_ENOUGH_INFO.")
    rationale: str = Field(description="One or two sentences citing the passage.")
    evidence_index: int = Field(ge=-1, description="Index of the passage the label rests on; -1 if none.")


class VerifierJudgements(BaseModel):
    """verifier: one judgement per claim of one paper, each against that claim's own passages."""

    judgements: list[VerifierJudgement] = Field(max_length=20, description="One judgement per claim, in claim order.")


class AnswerSentenceDraft(BaseModel):
    text: str = Field(min_length=1, description="One sentence of the answer, without citation markers.")
    rows: list[str] = Field(min_length=1, max_length=6,
                            description="The claim rows (C1, C2, ...) that state what the sentence says.")


class WrittenAnswer(BaseModel):
    """writer: the report's Answer, 2 to 5 sentences, each citing the claim rows it rests on."""

    sentences: list[AnswerSentenceDraft] = Field(min_length=1, max_length=5,
                                                 description="The answer's sentences, most direct first.")


class ReviewerAssessment(BaseModel):
    """skeptic / validator / synthesizer: a score with its reasons."""

    score: float = Field(ge=0.0, le=10.0, description="0 (unusable) to 10 (publishable as is).")
    reasons: list[str] = Field(description="Why this score, each reason tied to a measured signal or a claim.")
    recommendations: list[str] = Field(description="Concrete changes that would raise the score.")


class ClaimDrop(BaseModel):
    claim_id: str = Field(min_length=1, description="Id of a claim to drop, from the given list.")
    reason: str = Field(description="Why it must go: the reviewer's point or the measured signal it fails. "
                                    "A grounded claim dropped without a reason is kept.")


class Revision(BaseModel):
    """reviser: what to change before the tribunal looks again (each drop with its reason)."""

    drops: list[ClaimDrop] = Field(description="Claims to drop, each with its reason (only ids from the given list).")
    refined_queries: list[str] = Field(max_length=8, description="New search queries for unaddressed aspects; empty if none.")
    notes: list[str] = Field(description="What was changed and why.")


ROLE_SCHEMAS: Mapping[str, type[BaseModel]] = MappingProxyType({
    "planner": PlannedQueries,
    "extractor": ExtractedClaims,
    "verifier": VerifierJudgements,
    "writer": WrittenAnswer,
    "skeptic": ReviewerAssessment,
    "validator": ReviewerAssessment,
    "synthesizer": ReviewerAssessment,
    "reviser": Revision,
})
if tuple(ROLE_SCHEMAS) != LLM_ROLES:  # one list of roles: domain.settings.LLM_ROLES
    raise AssertionError(f"ROLE_SCHEMAS roles {tuple(ROLE_SCHEMAS)} != LLM_ROLES {LLM_ROLES}")
