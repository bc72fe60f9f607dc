"""Assembling a run's report: the ``Report``, its ``paper-manifest-v1.1`` manifest and its Markdown.

A pure function of what the run produced (``ReportInputs``) and what it ran with (``RunFacts``),
so the owner's edit can re-assemble the report. The methodology states what ran — the real
settings, the models, the corpus — and the uncertainties are computed from this run's
measurements, never boilerplate: a reader sees exactly which checks fired.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Sequence

from sovereign_kernel.domain.aspects import Aspect
from sovereign_kernel.domain.facets import JointCoverage
from sovereign_kernel.domain.ids import report_id, source_label, source_url
from sovereign_kernel.domain.schemas import (
    Claim,
    Draft,
    OwnerDecision,
    Paper,
    Policy,
    Reference,
    Report,
    RunResults,
    ScoredPaper,
    Sufficiency,
    TribunalResult,
)
from sovereign_kernel.domain.settings import Settings
from sovereign_kernel.domain.units import corroborated_by
from sovereign_kernel.publishing.manifest import build_manifest, tier
from sovereign_kernel.publishing.markdown import render_markdown
from sovereign_kernel.publishing.methodology import (
    RunFacts,
    embedder_uncertainty,
    llm_uncertainties,
    methodology,
)
from sovereign_kernel.synthesis.draft import order_claims
from sovereign_kernel.tribunal.judgement import evidence_insufficient
from sovereign_kernel.tribunal.rubric import Signals, measure
from sovereign_kernel.verification.calibration import load_calibration
from sovereign_kernel.verification.sentence_verifier import DEFAULT_METHOD


@dataclass(frozen=True)
class ReportInputs:
    """What a run produced, up to the policy's decision (and the owner's, when there was one)."""

    question: str
    claims: Sequence[Claim]  # this round's claims (``current_claims``)
    papers: Sequence[Paper]  # kept by the gate
    ranked: Sequence[ScoredPaper]  # every candidate, kept or dropped
    aspects: Sequence[Aspect]
    draft: Draft
    tribunal: TribunalResult
    policy: Policy
    policy_reasons: Sequence[str]
    round: int = 0
    queries: Sequence[str] = ()
    revision_notes: Sequence[str] = ()
    notes: Sequence[str] = ()  # run-level warnings (a live source failed, the owner's note)
    owner_decision: OwnerDecision | None = None
    coverage: JointCoverage | None = None
    sufficiency: Sufficiency | None = None


def uncertainties(s: Signals, run: ReportInputs, settings: Settings, facts: RunFacts, insufficient: bool) -> list[str]:
    out = []
    t, v, r = settings.tribunal, settings.verification, settings.retriever
    if insufficient:
        why = []
        if s.missing_pairs:
            why.append(missing_pairs_sentence(run.coverage))
        if s.terms_absent_from_corpus:
            why.append("no paper in the corpus mentions " + ", ".join(repr(x) for x in s.terms_absent_from_corpus))
        if run.draft.aspects_missing:
            why.append("no grounded claim addresses: " + ", ".join(run.draft.aspects_missing))
        if run.sufficiency is not None:
            why.append(f"evidence sufficiency {run.sufficiency.score:.2f} (publishing needs "
                       f"{t.sufficiency_threshold:.2f})")
        out.append("Insufficient evidence: " + "; ".join(why or ["no grounded claims"]) + ".")
    if s.n_corroborated < t.doi_min_corroborated_claims:
        out.append(f"Thin evidence: {s.n_corroborated} claims are corroborated by {corroborated_by(run.claims)} (DOI grade needs "
                   f"{t.doi_min_corroborated_claims}).")
    if s.grounded_only:
        out.append(f"Uncorroborated findings: {s.grounded_only} of {s.n_grounded} grounded claims are supported only "
                   "by the paper they came from.")
    own = sum(1 for c in run.claims if c.grounded and c.own_work and not c.is_corroborated)
    if own:
        out.append(f"Own work: {own} of those speak of their own paper's work (“our method”, “we propose”); a "
                   "paper on the same topic does not corroborate one unless it names that work, and none here does.")
    low = sum(1 for c in run.claims if c.confidence < v.verify_threshold)
    if low:
        out.append(f"Low confidence: {low} of {s.n_claims} claims fall below the verification threshold "
                   f"{v.verify_threshold:.2f} against their own source.")
    dropped = s.n_candidates - s.n_kept
    if dropped:
        out.append(f"Off-topic drops: {dropped} of {s.n_candidates} candidate papers were dropped by the relevance "
                   f"gate ({r.relevance_gate:.2f}) or the {r.max_papers}-paper limit.")
    if s.off_topic_claims:
        n = s.off_topic_claims
        out.append(f"Off-question claims: {n} of {s.n_claims} claims {'has' if n == 1 else 'have'} low "
                   f"similarity to the question (cosine < {t.off_topic_claim_relevance:.2f}).")
    full = sum(1 for p in run.papers if p.passages)
    if facts.llm_usage is not None:
        out += llm_uncertainties(facts.mode, facts.llm_usage, full)
    else:  # offline, or custom embeddings without a chat model
        read = (f"abstracts and full-text passages (of {full} paper{'s' if full != 1 else ''} read in full)" if full
                else "abstracts")
        out.append(f"{facts.mode.capitalize()} mode: claims are sentences quoted from {read}, so 'grounded' only "
                   "confirms the quote at its offsets; corroboration by other papers is the informative signal; "
                   "reviews are measured rubrics; no language model read the papers"
                   + (", and only abstracts (not full texts) were searched." if not full else "."))
    out += embedder_uncertainty(facts)
    out += [n for n in run.notes if not _stale(n, run.papers)]
    return out


def _stale(note: str, papers) -> bool:
    """A "full text unavailable" note of an earlier round for a paper a later round did read in full."""
    return note.startswith("Full text unavailable: ") and any(
        p.passages and note.startswith(f"Full text unavailable: {source_label(p.id)} ") for p in papers)


def missing_pairs_sentence(coverage: JointCoverage | None) -> str:
    """"no kept paper addresses A together with B (none in the corpus does)", for each missing pair."""
    if coverage is None:
        return ""
    parts = []
    for p in coverage.missing_pairs:
        where = {None: "", 0: " (no paper in the corpus does)"}.get(p.in_corpus, f" ({p.in_corpus} corpus papers do, "
                                                                                  "none of them kept)")
        parts.append(f"{p.facets[0]!r} together with {p.facets[1]!r}{where}")
    return "no kept paper addresses " + "; ".join(parts)


def title_of(question: str) -> str:
    q = " ".join(question.split()).rstrip("?")
    return q if len(q) <= 120 else q[:117].rstrip() + "…"


def assemble_report(run: ReportInputs, settings: Settings, facts: RunFacts) -> tuple[Report, dict, str]:
    """(Report, manifest, Markdown) for a run."""
    signals = measure(run.claims, run.papers, run.ranked, run.draft, run.aspects,
                      settings.tribunal.off_topic_claim_relevance, run.coverage)
    claims = order_claims(list(run.claims))
    kept = [sp for sp in run.ranked if sp.kept]
    cited = {c.paper_id for c in claims}
    insufficient = evidence_insufficient(run.policy_reasons)
    sufficiency = run.sufficiency.score if run.sufficiency is not None else 0.0
    results = RunResults(
        papers_retrieved=len(run.ranked), papers_kept=len(kept), papers_dropped=len(run.ranked) - len(kept),
        claims_extracted=len(claims), claims_grounded=sum(c.grounded for c in claims),
        claims_corroborated=sum(bool(c.grounded and c.is_corroborated) for c in claims),
        tribunal_score=run.tribunal.score, tribunal_verdict=run.tribunal.verdict, revision_round=run.round,
        policy=run.policy, policy_reasons=list(run.policy_reasons),
    )
    references = [
        Reference(id=sp.paper.id, title=sp.paper.title, authors=sp.paper.authors, published=sp.paper.published,
                  url=source_url(sp.paper.id, sp.paper.url), relevance=sp.relevance, doi=sp.paper.doi,
                  venue=sp.paper.venue)
        for sp in kept if sp.paper.id in cited
    ]
    report = Report(
        report_id="", title=title_of(run.question), abstract=run.draft.abstract, question=run.question,
        methodology=methodology(run, settings, facts), results=results, findings=run.draft.findings,
        uncertainties=uncertainties(signals, run, settings, facts, insufficient),
        claims=claims, references=references, tribunal=run.tribunal, quality_tier="Watchlist",
        created_at=datetime.now(timezone.utc).replace(microsecond=0).isoformat(),
        answer=run.draft.answer, themes=run.draft.themes, comparison=run.draft.comparison,
        limitations=run.draft.limitations,
        passages_read=[p for sp in kept if sp.paper.id in cited for p in sp.paper.passages],
    )
    joint_complete = run.coverage is not None and run.coverage.complete
    tier_name, basis = tier(report, settings.tribunal, insufficient, sufficiency, joint_complete)
    report = report.model_copy(update={"quality_tier": tier_name})
    body = report.model_dump(mode="json", exclude={"report_id", "created_at"})
    report = report.model_copy(update={
        "report_id": report_id(run.question, facts.corpus_hash, settings.identity(facts.mode), body)})
    cal = load_calibration()
    manifest = build_manifest(
        report, settings=settings.record(facts.mode), tribunal=settings.tribunal, mode=facts.mode,
        corpus={"label": facts.corpus_label, "content_hash": facts.corpus_hash, "papers": facts.corpus_size,
                **(facts.corpus_issues or {})},
        models={"embedder": facts.embedder_id, "verifier": DEFAULT_METHOD, "calibration": cal.fitted_on,
                "verifier_embedder": facts.verifier_embedder_id, "llm": facts.llm_models, **embedder_record(facts)},
        insufficient=insufficient, tier_basis=basis, papers=[sp.paper for sp in kept if sp.paper.id in cited],
        owner_review=run.owner_decision.model_dump() if run.owner_decision else None, llm_usage=facts.llm_usage,
        fallbacks=facts.llm_usage["fallbacks"] if facts.llm_usage is not None else [],
        sufficiency=run.sufficiency.model_dump() if run.sufficiency is not None else None,
        joint_coverage=coverage_record(run.coverage),
    )
    return report, manifest, render_markdown(report, manifest)


def embedder_record(facts: RunFacts) -> dict:
    """The manifest's models, beyond the configured embedder: its fallback, when the run switched,
    and its usage when no LLM session's usage report carries it (custom embeddings only)."""
    out = {}
    if facts.embedder_fallback:
        out["embedder_fallback"] = facts.embedder_fallback
    if facts.embedding_usage is not None and facts.llm_usage is None:
        out["embedder_usage"] = facts.embedding_usage
    return out


def coverage_record(coverage: JointCoverage | None) -> dict | None:
    """The manifest's joint coverage: facets (with what addresses them) and the pair matrix."""
    if coverage is None:
        return None
    return {
        "rule": "a pair of the question's facets is covered when one kept paper addresses both; generic facets "
                "(held by most of the corpus) are listed but not joined",
        "share": coverage.share, "complete": coverage.complete,
        "facets": [{"phrase": f.phrase, "generic": f.generic, "corpus_share": f.corpus_share,
                    "covered_by": f.covered_by, "missing_from_corpus": f.missing_from_corpus} for f in coverage.facets],
        "pairs": [p.model_dump() for p in coverage.pairs],
    }


def source_hashes(ranked: Sequence[ScoredPaper]) -> list[tuple[str, str]]:
    """(id, content hash) of every paper any search returned: ``ranked`` holds each candidate."""
    return sorted({(sp.paper.id, sp.paper.content_hash) for sp in ranked})
