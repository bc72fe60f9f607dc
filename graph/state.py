"""The research graph's state and the reducers its parallel branches write through.

Parallel branches (4 searches, N extractions, 3 reviewers) never overwrite each other: each
list field merges by a stable key and sorts, so the merged order does not depend on which
branch finished first — that is what keeps runs byte-identical.
"""

from __future__ import annotations

import operator
from typing import Annotated, Any

from typing_extensions import NotRequired, TypedDict  # typing.TypedDict on 3.11 defeats langgraph-api's schemas

from sovereign_kernel.domain.aspects import Aspect
from sovereign_kernel.domain.facets import JointCoverage
from sovereign_kernel.domain.rounds import KeptRound
from sovereign_kernel.domain.schemas import (
    Claim,
    Draft,
    OwnerDecision,
    Paper,
    Policy,
    Publication,
    Report,
    Review,
    ScoredPaper,
    SearchHit,
    Sufficiency,
    TribunalResult,
)


def _merge(left: list | None, right: list | None, key) -> list:
    merged = {key(x): x for x in (left or [])}
    merged.update({key(x): x for x in (right or [])})
    return [merged[k] for k in sorted(merged)]


def merge_hits(left: list[SearchHit] | None, right: list[SearchHit] | None) -> list[SearchHit]:
    return _merge(left, right, lambda h: (h.round, h.query_index, h.rank, h.paper_id))


def merge_papers(left: dict[str, Paper] | None, right: dict[str, Paper] | None) -> dict[str, Paper]:
    merged = {**(left or {}), **(right or {})}
    return {k: merged[k] for k in sorted(merged)}


def merge_claims(left: list[Claim] | None, right: list[Claim] | None) -> list[Claim]:
    return _merge(left, right, lambda c: c.id)


def merge_reviews(left: list[Review] | None, right: list[Review] | None) -> list[Review]:
    return _merge(left, right, lambda r: (r.round, r.role))


def merge_outcomes(left: dict | None, right: dict | None) -> dict:
    """LLM outcome ledgers, one per node execution under a unique key (``llm.usage.node_outcomes``):
    a union, so a subgraph handing back ledgers its parent already holds adds nothing twice."""
    return {**(left or {}), **(right or {})}


def append_unique(left: list[str] | None, right: list[str] | None) -> list[str]:
    out = list(left or [])
    out.extend(x for x in (right or []) if x not in out)
    return out


class ResearchInput(TypedDict):
    question: str


class ResearchState(TypedDict, total=False):
    question: str
    round: int  # revision round, 0 for the first pass
    queries: list[str]  # this round's planned queries
    refined_queries: list[str]  # set by revise for the next search round
    hits: Annotated[list[SearchHit], merge_hits]
    ranked: list[ScoredPaper]  # every candidate with its relevance, kept or dropped
    papers: list[Paper]  # what passed the relevance gate
    claims: Annotated[list[Claim], merge_claims]  # extracted, then verified in place
    dropped_claim_ids: Annotated[list[str], append_unique]
    aspects: list[Aspect]  # the question's aspects and which kept papers cover them
    coverage: JointCoverage  # the question's facets, and which kept papers address them together
    draft: Draft
    reviews: Annotated[list[Review], merge_reviews]
    tribunal: TribunalResult
    tribunal_history: Annotated[list[TribunalResult], operator.add]
    kept_round: KeptRound  # the best round judged so far (score, then sufficiency): what is published
    revision_notes: Annotated[list[str], operator.add]
    sufficiency: Sufficiency  # calibrated P(the evidence answers the question), set by the policy
    policy: Policy
    policy_reasons: list[str]
    owner_decision: OwnerDecision  # the owner's review of an escalated run (approve | reject | edit)
    report: Report
    report_markdown: str
    publication: Publication  # where the run ended: PUBLISHED in the store, ARCHIVED, or REPLAYED
    manifest: dict[str, Any]  # the paper-manifest-v1.1 document, validated against the Manifest contract when built
    notes: Annotated[list[str], append_unique]  # run-level warnings for the uncertainties
    llm_outcomes: Annotated[dict[str, dict], merge_outcomes]  # what the models did, per node execution


class RetrieverOutput(TypedDict, total=False):
    """What the retriever subgraph hands back (only keys it owns, so list reducers don't double)."""

    round: int
    queries: list[str]
    hits: Annotated[list[SearchHit], merge_hits]
    ranked: list[ScoredPaper]
    papers: list[Paper]
    aspects: list[Aspect]
    coverage: JointCoverage
    notes: Annotated[list[str], append_unique]
    llm_outcomes: Annotated[dict[str, dict], merge_outcomes]


class RetrieverState(RetrieverOutput, total=False):
    """The retriever subgraph's own state: what it hands back, what it reads (the question, a
    revision's refined queries) and ``candidates`` (every paper a search returned, once), which
    stays inside the subgraph."""

    question: str
    refined_queries: list[str]
    candidates: Annotated[dict[str, Paper], merge_papers]


class ExtractorState(TypedDict, total=False):
    """The extractor subgraph's own state: its checkpoints carry these keys, not the whole run."""

    question: str
    papers: list[Paper]
    claims: Annotated[list[Claim], merge_claims]
    llm_outcomes: Annotated[dict[str, dict], merge_outcomes]


class ExtractorOutput(TypedDict, total=False):
    claims: Annotated[list[Claim], merge_claims]
    llm_outcomes: Annotated[dict[str, dict], merge_outcomes]


class SearchTask(TypedDict):
    """Payload of one ``Send("search", ...)`` branch."""

    query: str
    query_index: int
    round: int
    of: NotRequired[int]  # branches in this fan-out: progress says "search 2/4"


class ExtractTask(TypedDict):
    """Payload of one ``Send("extract", ...)`` branch."""

    question: str
    paper: Paper
    of: NotRequired[int]  # papers in this fan-out: progress says "extract 3/8"


class EncodeTask(TypedDict):
    """Payload of the ``Send("encode_papers", ...)`` branch (LLM modes)."""

    papers: list[Paper]
