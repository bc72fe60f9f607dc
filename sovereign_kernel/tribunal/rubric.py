"""The measured signals the three reviewers score, and the arithmetic they share.

Offline, a review is a rubric: each item maps one measurement to points, and the review's
reasons say which measurement gave which points. With an LLM, each reviewer first computes
its rubric (the floor, kept as ``rubric_score``), then the LLM reviewer gets the same measured
signals as context and answers a score with reasons (``llm_score``, ``llm_reasons``). The
review's score, which the judge averages and routes on, is

    score = min((1 - w) x rubric + w x llm, rubric + max_raise)

(``llm_review_weight`` w = 0.5, ``llm_review_max_raise`` = 1.0), so the LLM can lower a score
freely (a defect the measurements miss) but never put it more than 1 point above what the
measurements support.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Sequence

from sovereign_kernel.domain.aspects import Aspect
from sovereign_kernel.domain.facets import JointCoverage
from sovereign_kernel.domain.schemas import Claim, Draft, Paper, Review, RubricItem, ScoredPaper, Verdict
from sovereign_kernel.domain.settings import TribunalSettings
from sovereign_kernel.domain.text import HEDGE_RE
from sovereign_kernel.verification.scoring import span_at_offsets


@dataclass(frozen=True)
class Signals:
    n_candidates: int
    n_kept: int
    mean_kept_relevance: float
    n_claims: int
    n_grounded: int  # supported by their own source at the recorded span (a quote always is)
    mean_confidence_grounded: float
    n_corroborated: int  # supported by another paper too: the signal that carries information
    mean_corroboration: float  # of the corroborated claims: the best other paper's confidence
    corroborated_sources: int  # papers whose claims another paper corroborates
    spans_exact: int
    off_topic_claims: int
    hedged_claims: int
    grounded_only: int  # grounded, not corroborated
    n_aspects: int
    aspects_covered: int
    terms_absent_from_corpus: tuple[str, ...]
    grounded_sources: int
    mean_relevance_findings: float
    findings_cited: int
    n_findings: int
    joint_share: float  # pairs of joined facets some kept paper addresses together
    facet_pairs: int
    missing_pairs: tuple[str, ...]  # "A + B" for each joined pair no kept paper addresses
    required_facets: int
    facets_covered: int
    best_paper_facets: int  # required facets the best single kept paper addresses
    n_contradicted: int = 0  # claims a model verifier labelled CONTRADICTED (offline: none are)
    n_contested: int = 0  # grounded claims another kept paper contradicts (the trained cross-encoder)
    contested_sources: int = 0  # papers whose claims another kept paper contradicts


def measure(claims: Sequence[Claim], papers: Sequence[Paper], ranked: Sequence[ScoredPaper], draft: Draft | None,
            aspects: Sequence[Aspect], off_topic_below: float, coverage: JointCoverage | None = None) -> Signals:
    """What the reviewers score, measured on this round's claims (``current_claims``), draft and the
    joint coverage of the question's facets."""
    grounded = [c for c in claims if c.grounded]
    corroborated = [c for c in grounded if c.is_corroborated]
    by_id = {p.id: p for p in papers}
    kept = [s for s in ranked if s.kept]
    used_ids = {cid for ids in (draft.finding_claims if draft else []) for cid in ids}
    used = [c for c in claims if c.id in used_ids]
    coverage = coverage or JointCoverage()
    required = coverage.required
    # A facet or aspect is absent from the corpus when none of its words is in any paper ("smoes-based
    # moe-vlms", "blueberries"); one word of several missing ("hammering" rows, British "behaviours")
    # is a wording the corpus does not use, not a topic it lacks.
    absent = {s for a in aspects if a.missing_from_corpus and set(a.missing_from_corpus) >= set(a.stems)
              for s in a.missing_from_corpus}
    absent |= {w for f in required if f.missing_from_corpus and set(f.missing_from_corpus) >= set(f.words)
               for w in f.missing_from_corpus}
    return Signals(
        n_candidates=len(ranked),
        n_kept=len(kept),
        mean_kept_relevance=_mean(s.relevance for s in kept),
        n_claims=len(claims),
        n_grounded=len(grounded),
        mean_confidence_grounded=_mean(c.confidence for c in grounded),
        n_corroborated=len(corroborated),
        mean_corroboration=_mean(c.corroboration for c in corroborated),
        corroborated_sources=len({c.paper_id for c in corroborated}),
        spans_exact=sum(1 for c in claims if c.paper_id in by_id and span_at_offsets(c, by_id[c.paper_id])),
        off_topic_claims=sum(1 for c in claims if c.relevance < off_topic_below),
        hedged_claims=sum(1 for c in claims if HEDGE_RE.search(c.text)),
        grounded_only=len(grounded) - len(corroborated),
        n_aspects=len(aspects),
        aspects_covered=len(draft.aspects_covered) if draft else 0,
        terms_absent_from_corpus=tuple(sorted(absent)),
        grounded_sources=len({c.paper_id for c in grounded}),
        mean_relevance_findings=_mean(c.relevance for c in used),
        findings_cited=sum(1 for ids in (draft.finding_claims if draft else []) if ids),
        n_findings=len(draft.findings) if draft else 0,
        joint_share=coverage.share,
        facet_pairs=len(coverage.pairs),
        missing_pairs=tuple(" + ".join(p.facets) for p in coverage.missing_pairs),
        required_facets=len(required),
        facets_covered=sum(1 for f in required if f.covered_by),
        best_paper_facets=coverage.best_paper_facets,
        n_contradicted=sum(c.label == "CONTRADICTED" for c in claims),
        n_contested=sum(1 for c in grounded if c.contradicted_by),
        contested_sources=len({c.paper_id for c in grounded if c.contradicted_by}),
    )


def _mean(values: Iterable[float]) -> float:
    values = list(values)
    return sum(values) / len(values) if values else 0.0


def ratio(num: float, den: float) -> float:
    return num / den if den else 0.0


def scaled(value: float, lo: float, hi: float) -> float:
    """``value`` mapped linearly from [lo, hi] onto [0, 1], clipped."""
    if hi == lo:
        return 1.0 if value >= hi else 0.0
    return min(1.0, max(0.0, (value - lo) / (hi - lo)))


def item(signal: str, measured: str, fraction: float, max_points: float) -> RubricItem:
    return RubricItem(signal=signal, measured=measured, points=round(fraction * max_points, 2), max_points=max_points)


def verdict_for(score: float, s: TribunalSettings) -> Verdict:
    return "PUBLISH" if score >= s.review_pass_score else ("REVISE" if score >= s.review_reject_below else "REJECT")


def make_review(role: str, round_: int, items: list[RubricItem], issues: list[str], recommendations: list[str],
                s: TribunalSettings) -> Review:
    total = sum(i.points for i in items)
    max_total = sum(i.max_points for i in items)
    score = round(10.0 * total / max_total, 2) if max_total else 0.0
    reasons = [f"{i.signal}: {i.measured} -> {i.points:g}/{i.max_points:g}" for i in items]
    return Review(
        role=role, round=round_, score=score, verdict=verdict_for(score, s),
        issues=issues + reasons, recommendations=recommendations, rubric=items, rubric_score=score,
    )


def combined_score(rubric: float, llm: float, s: TribunalSettings) -> float:
    """A reviewer's score from its measured rubric and its LLM's score (see the module doc)."""
    w = s.llm_review_weight
    return round(min((1 - w) * rubric + w * llm, rubric + s.llm_review_max_raise), 2)


def with_llm_assessment(review: Review, llm_score: float, reasons: list[str], recommendations: list[str],
                        model_tag: str, s: TribunalSettings) -> Review:
    """The rubric review with an LLM reviewer's score and reasons folded in (bounded, see above)."""
    llm = round(llm_score, 2)
    score = combined_score(review.score, llm, s)
    w, raise_ = s.llm_review_weight, s.llm_review_max_raise
    summary = (f"LLM reviewer {llm:g}/10; score = min({1 - w:g} x rubric {review.score:g} + {w:g} x LLM "
               f"{llm:g}, rubric + {raise_:g}) = {score:g}")
    return review.model_copy(update={
        "score": score, "verdict": verdict_for(score, s), "llm_score": llm, "llm_reasons": reasons,
        "llm_recommendations": recommendations, "issues": [*review.issues, summary, *(f"LLM: {r}" for r in reasons)],
        "method": f"{review.method}+{model_tag}",
    })
