"""The contracts: every object that crosses a node boundary, a file or the public API.

They are pydantic models so that the offline and the LLM paths produce the same shapes,
LangGraph can checkpoint them, and ``schemas/`` can carry their JSON Schemas. The manifest's
contract lives in ``manifest_contract`` and is re-exported here.
"""

from __future__ import annotations

from types import MappingProxyType
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from sovereign_kernel.domain.fulltext import Passage
from sovereign_kernel.domain.manifest_contract import (  # re-exported: the manifest is a contract too
    CORRECTION_CONTRACT,  # noqa: F401
    MANIFEST_CONTRACT,  # noqa: F401
    PROVENANCE_CONTRACT,  # noqa: F401
    CorrectionEntry,  # noqa: F401
    CorrectionRecord,  # noqa: F401
    Level,  # noqa: F401
    Manifest,  # noqa: F401
    Provenance,  # noqa: F401
    QualityDimension,  # noqa: F401
    SourceRecord,  # noqa: F401
)

Mode = Literal["offline", "nim", "custom"]  # offline: no model; nim: NVIDIA NIM; custom: models passed from Python
VerifierLabel = Literal["SUPPORTED", "CONTRADICTED", "NOT_ENOUGH_INFO"]
Verdict = Literal["PUBLISH", "REVISE", "REJECT"]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=False)


class Paper(_Model):
    """One source document. ``id`` is the arXiv id without version, or for a PDF of a library its
    DOI (else its arXiv id, else ``pdf-<hash>``)."""

    id: str
    title: str
    abstract: str
    authors: list[str] = Field(default_factory=list)
    categories: list[str] = Field(default_factory=list)
    published: str | None = None
    version: int | None = None
    url: str = ""
    source: str = "local"
    content_hash: str = ""
    doi: str | None = Field(None, description="The paper's DOI, when known (lower-case, no https://doi.org/).")
    venue: str | None = Field(None, description="Where the paper appeared, as its arXiv record states it: its "
                                                "journal_ref, else the venue its comment names ('Accepted at "
                                                "NeurIPS 2023' -> 'NeurIPS 2023'); None when it states none.")
    full_text: bool = Field(False, description="Its full text (a parsed PDF) is available to read.")
    passages: list[Passage] = Field(
        default_factory=list, description="The passages of its full text this run reads: the question's best, "
                                          "chosen by the retriever (empty for a paper read from its abstract).")


def paper_text(paper: Paper) -> str:
    """What retrieval indexes and embeds for a paper: its title and abstract."""
    return f"{paper.title}. {paper.abstract}"


def evidence_text(paper: Paper) -> str:
    """What a run reads of a paper: its title and abstract, and the passages of its full text it chose."""
    if not paper.passages:
        return paper_text(paper)
    return paper_text(paper) + "\n" + "\n".join(p.text for p in paper.passages)


def paper_units(paper: Paper) -> list[str]:
    """The texts a question's facets must meet together in: the title with the abstract, and the title
    with each passage read — so that two facets a paper mentions 20 pages apart are not a join."""
    return [paper_text(paper)] + [f"{paper.title}. {p.text}" for p in paper.passages]


class ScoredPaper(_Model):
    """A paper with the relevance measurements the retriever made for it."""

    paper: Paper
    relevance: float = Field(description="Hybrid relevance to the question, 0..1.")
    lexical: float = 0.0
    semantic: float = 0.0
    queries: list[str] = Field(default_factory=list, description="Planned queries that found it.")
    reading: float | None = Field(None, description="The calibrated verifier's confidence that the paper states the "
                                                    "question's content (the rerank's), when it read the paper.")
    kept: bool = True
    reason: str = ""


class SearchHit(_Model):
    """One search result. The paper itself travels once per run (the retriever's candidates and
    then ``ranked``), not once per hit: checkpoints serialise the state at every step."""

    query: str
    query_index: int
    round: int = 0
    paper_id: str
    lexical_score: float
    rank: int


class Evidence(_Model):
    paper_id: str
    span: str
    start: int = Field(description="Offset in the abstract, or in the body for body evidence (location).")
    end: int
    score: float
    location: Literal["abstract", "body"] = "abstract"
    page: int | None = Field(None, description="Page of the PDF (body evidence).")
    section: str | None = None


class SourceSpan(_Model):
    start: int = Field(description="Offset in the abstract, or in the paper's full-text body (location 'body').")
    end: int
    text: str
    location: Literal["abstract", "body"] = "abstract"
    page: int | None = Field(None, description="Page of the PDF the span is on (body spans).")
    section: str | None = Field(None, description="Heading of the section the span is in, when the text shows one.")


class Claim(_Model):
    id: str
    text: str
    paper_id: str
    source_span: SourceSpan
    extraction_score: float = 0.0
    relevance: float = Field(0.0, description="Similarity of the claim to the research question.")
    grounded: bool = Field(
        False, description="Its own source supports it at the recorded span: the span is at its offsets and the "
                           "calibrated confidence against the source is >= the threshold (and, when a model judged "
                           "it, the LLM verifier said SUPPORTED). A quote always grounds itself: necessary, not "
                           "sufficient.")
    corroborated_by: list[str] = Field(
        default_factory=list, description="Other papers whose text supports the claim at the calibrated threshold, "
                                          "independently: no author in common with the claim's paper, and for a claim "
                                          "about its own paper's work (own_work) only a paper whose sentence names that "
                                          "work. Empty for a claim only its own paper states.")
    own_work: bool = Field(
        False, description="The claim speaks of its own paper's work ('our method', 'we propose', the method's name): "
                           "a paper on the same topic reads close to it without stating it, so only a paper that names "
                           "the work corroborates it.")
    corroborated_in_paper: Evidence | None = Field(
        None, description="Full text: another section of its own paper that supports it at the calibrated threshold "
                          "(e.g. an abstract claim the results state again); never the claim's own sentence or a "
                          "near-copy of it.")
    confidence: float = Field(0.0, ge=0.0, le=1.0, description="Calibrated confidence against its own source.")
    corroboration: float = Field(0.0, ge=0.0, le=1.0,
                                 description="The best calibrated confidence for the claim of any other paper that "
                                             "could corroborate it (see corroborated_by).")
    baseline_score: float = Field(0.0, description="Seed TF-IDF 1-2-gram cosine (baseline).")
    baseline_verified: bool = False
    evidence: list[Evidence] = Field(default_factory=list)
    supporting_papers: list[str] = Field(default_factory=list, description="Every paper (its own included) whose "
                                                                         "text supports the claim at the threshold.")
    method: str = "offline-cue-v1"
    span_match: float | None = Field(
        None, description="LLM-extracted claims: similarity of the model's source span to the abstract text stored "
                          "at the offsets (1.0 = verbatim after whitespace normalisation; >= 0.9 near-verbatim).")
    contradicted_by: list[Evidence] = Field(
        default_factory=list, description="Passages of other kept papers the trained cross-encoder reads as "
                                          "contradicting the claim: P(CONTRADICT) >= the threshold and above "
                                          "P(SUPPORT) (score = P(CONTRADICT)).")
    label: VerifierLabel | None = Field(
        None, description="LLM verifier's label against the evidence passages; CONTRADICTED or NOT_ENOUGH_INFO "
                          "take grounding and corroboration away. None when no LLM judged it.")
    label_method: str | None = Field(None, description="Who gave the label, e.g. 'llm-verifier:<model>'.")
    label_rationale: str | None = Field(None, description="The LLM verifier's one- or two-sentence rationale.")

    @property
    def is_corroborated(self) -> bool:
        """Another paper supports it, or (full text) another section of its own paper does."""
        return bool(self.corroborated_by) or self.corroborated_in_paper is not None


class AnswerSentence(_Model):
    """One sentence of the report's Answer and the claims (by id) it rests on."""

    text: str = Field(description="The sentence as the report shows it, its claim rows cited as [C1, C2].")
    claim_ids: list[str] = Field(default_factory=list, description="Claims it cites (empty for a statement of what "
                                                                   "the corpus does not hold).")


class CutSentence(_Model):
    """A generated answer sentence the audit removed, and why."""

    text: str
    rows: list[str] = Field(default_factory=list, description="The claim rows it cited.")
    reason: str


class Answer(_Model):
    """The report's Answer: 2-5 sentences from corroborated claims, or what the corpus cannot answer and why."""

    status: Literal["answered", "single-source", "unanswerable"] = Field(
        description="answered: corroborated claims answer it (a finding only one paper states is marked); "
                    "single-source: kept papers join the question's facets but no finding is corroborated by a "
                    "second paper — each sentence is one paper's grounded finding, marked so; unanswerable: the "
                    "question joins facets no kept paper joins (or nothing is grounded) — the sentences say which "
                    "and list the closest partial evidence.")
    sentences: list[AnswerSentence] = Field(default_factory=list)
    gaps: list[str] = Field(default_factory=list, description="Facets of the question no corroborated claim addresses.")
    method: str = Field("extractive-v1", description="extractive-v1 (claims chosen to cover the question's facets) "
                                                    "or llm-writer:<model> (generated, then audited).")
    cut: list[CutSentence] = Field(default_factory=list, description="Generated sentences the audit removed.")


class Theme(_Model):
    """Findings grouped by what they are about (claims clustered), named from their shared terms."""

    name: str
    claim_ids: list[str] = Field(description="Its claims, in the order the finding cites them.")
    corroborated: int = Field(0, description="How many of its claims another paper corroborates.")
    text: str = Field(description="The finding: its claims, each cited by row, 'our method' named.")


class ComparisonRow(_Model):
    """One method's reported effect, from a claim that carries a number."""

    method: str
    paper_id: str
    paper_title: str
    setting: str = Field(description="Where it was measured (datasets, models), as the claim states it; may be empty.")
    effect: str = Field(description="The reported effect: the claim's clause that carries the number.")
    claim_id: str
    corroborated: bool = False


class Limitation(_Model):
    """A limitation a paper states of its own method, quoted at its offsets in the abstract."""

    paper_id: str
    paper_title: str = ""
    method: str = Field("", description="The paper's method, when it names one.")
    span: SourceSpan


class Draft(_Model):
    abstract: str
    findings: list[str] = Field(default_factory=list, description="Synthesis sentences.")
    finding_claims: list[list[str]] = Field(default_factory=list, description="Claim ids per finding.")
    aspects_covered: list[str] = Field(default_factory=list)
    aspects_missing: list[str] = Field(default_factory=list)
    answer: Answer | None = None
    themes: list[Theme] = Field(default_factory=list, description="The findings by theme (``findings`` is their text).")
    comparison: list[ComparisonRow] = Field(default_factory=list)
    limitations: list[Limitation] = Field(default_factory=list)


Role = Literal["SKEPTIC", "VALIDATOR", "SYNTHESIZER"]


class RubricItem(_Model):
    signal: str
    measured: str
    points: float
    max_points: float


class Review(_Model):
    role: Role
    round: int = 0
    score: float = Field(ge=0.0, le=10.0)
    verdict: Verdict
    issues: list[str] = Field(default_factory=list)
    recommendations: list[str] = Field(default_factory=list)
    rubric: list[RubricItem] = Field(default_factory=list)
    method: str = "offline-rubric-v1"
    rubric_score: float | None = Field(None, ge=0.0, le=10.0, description="The measured rubric's score (the floor).")
    llm_score: float | None = Field(None, ge=0.0, le=10.0, description="The LLM reviewer's own score, when one answered.")
    llm_reasons: list[str] = Field(default_factory=list, description="The LLM reviewer's reasons.")
    llm_recommendations: list[str] = Field(default_factory=list, description="The LLM reviewer's recommendations.")


class TribunalResult(_Model):
    score: float
    verdict: Verdict
    round: int
    reviews: list[Review] = Field(default_factory=list)


Policy = Literal["PUBLISH", "ESCALATE_TO_OWNER"]


class OwnerDecision(_Model):
    """The owner's decision on an escalated run."""

    action: Literal["approve", "reject", "edit"]
    reason: str = ""
    drop_claims: list[str] = Field(default_factory=list)
    note: str = ""


class Sufficiency(_Model):
    """Evidence sufficiency: calibrated P(the retrieved evidence answers the question), with what it rests on."""

    score: float = Field(ge=0.0, le=1.0)
    features: dict[str, float] = Field(default_factory=dict)
    model: str = Field("", description="The calibrated map from the features to the score.")


class Publication(_Model):
    """Where a run ended: PUBLISHED in the store, ARCHIVED by the owner, or REPLAYED (reproduction gate)."""

    status: Literal["PUBLISHED", "ARCHIVED", "REPLAYED"]
    report_id: str


class RunResults(_Model):
    papers_retrieved: int
    papers_kept: int
    papers_dropped: int
    claims_extracted: int
    claims_grounded: int
    claims_corroborated: int = 0
    tribunal_score: float
    tribunal_verdict: str
    revision_round: int
    policy: Policy
    policy_reasons: list[str] = Field(default_factory=list)


class Reference(_Model):
    id: str
    title: str
    authors: list[str] = Field(default_factory=list)
    published: str | None = None
    url: str
    relevance: float
    doi: str | None = Field(None, description="The paper's DOI, when known.")
    venue: str | None = Field(None, description="Where the paper appeared, as its arXiv record states it.")


class Report(_Model):
    """The rendered document, as data. ``report.md`` is rendered from it."""

    report_id: str
    title: str
    abstract: str
    question: str
    methodology: dict
    results: RunResults
    findings: list[str]
    uncertainties: list[str]
    claims: list[Claim]
    references: list[Reference]
    tribunal: TribunalResult
    quality_tier: Literal["DOI grade", "Watchlist"]
    created_at: str
    answer: Answer | None = Field(None, description="The Answer the report opens with.")
    themes: list[Theme] = Field(default_factory=list, description="Findings grouped by theme.")
    comparison: list[ComparisonRow] = Field(
        default_factory=list, description="Methods and their reported effects, for questions that compare methods.")
    limitations: list[Limitation] = Field(default_factory=list, description="Limitations papers state of their own "
                                                                            "methods.")
    passages_read: list[Passage] = Field(
        default_factory=list, description="Full text: the passages of the kept papers the run read (the question's "
                                          "best, page-anchored) — the text its body claims come from.")


EXPORTED = MappingProxyType({
    "paper": Paper, "claim": Claim, "review": Review, "tribunal-result": TribunalResult,
    "report": Report, "paper-manifest-v1.1": Manifest, "correction-record-v1": CorrectionRecord,
    "source-provenance-v1": Provenance,
})


def json_schemas() -> dict[str, dict]:
    return {name: model.model_json_schema() for name, model in EXPORTED.items()}


def export_json_schemas(directory) -> list:
    """Write ``<name>.schema.json`` for every contract (``python -m sovereign_kernel.domain.schemas DIR``)."""
    import json
    from pathlib import Path

    out = Path(directory)
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for name, schema in json_schemas().items():
        path = out / f"{name}.schema.json"
        path.write_text(json.dumps(schema, indent=2, sort_keys=True) + "\n")
        written.append(path)
    return written


if __name__ == "__main__":
    import sys

    for p in export_json_schemas(sys.argv[1] if len(sys.argv) > 1 else "schemas"):
        print(p)
