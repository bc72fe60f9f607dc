"""``paper-manifest-v1.1``: how much to trust a report, each statement backed by a measurement."""

from __future__ import annotations

from functools import cache
from importlib import metadata

from sovereign_kernel.domain.ids import claim_number, document_hash
from sovereign_kernel.domain.schemas import (
    CORRECTION_CONTRACT,
    MANIFEST_CONTRACT,
    PROVENANCE_CONTRACT,
    Manifest,
    Report,
)
from sovereign_kernel.domain.settings import TribunalSettings
from sovereign_kernel.retrieval.cross_encoder import contradiction_measure
from sovereign_kernel.verification.features import disagreement
from sovereign_kernel.verification.scoring import contradiction_checked
from sovereign_kernel.verification.corroboration import AUDIT
from sovereign_kernel.publishing.figures import figure_records

PUBLISHER = "SOVEREIGN Research Kernel"
_VOLATILE = frozenset({"created_at"})
SOFTWARE = ("sovereign-kernel", "langgraph", "langchain-core", "scikit-learn", "onnxruntime")


def content_hash(report: Report) -> str:
    """sha256 over the report's content, timestamps excluded, so equal runs hash equal."""
    return document_hash(report.model_dump(mode="json", exclude=set(_VOLATILE)))


def verification_level(report: Report) -> dict:
    claims = report.claims
    grounded = [c for c in claims if c.grounded]
    corroborated = [c for c in grounded if c.is_corroborated]
    if not claims:
        level, label = "L0", "No claims"
    elif not grounded:
        level, label = "L1", "Claims with source spans, none grounded"
    elif len(corroborated) * 2 >= len(grounded) and len(grounded) >= 2:
        level, label = "L3", "Source-grounded and cross-source corroborated claims"
    else:
        level, label = "L2", "Source-grounded claims"
    return {
        "level": level,
        "label": label,
        "source_grounded_claims": len(grounded),
        "corroborated_claims": len(corroborated),
        "claims": len(claims),
        "basis": "L1: every claim has a source span; L2: >= 1 claim grounded (its own source supports it at its "
                 "offsets, at the calibrated threshold); L3: at least half of >= 2 grounded claims corroborated by "
                 "another paper (no author in common; a claim about its paper's own work only by a paper naming "
                 "that work); L4: the reproduction gate passed (replay).",
        "corroboration_audited": AUDIT.statement(),
    }


def _level(value: float, high: float, medium: float) -> str:
    return "HIGH" if value >= high else ("MEDIUM" if value >= medium else "LOW")


def quality_dimensions(report: Report, t: TribunalSettings, insufficient: bool, mode: str = "offline") -> dict:
    claims = report.claims
    corroborated = [c for c in claims if c.grounded and c.is_corroborated]
    mean_corr = sum(c.corroboration for c in corroborated) / len(corroborated) if corroborated else 0.0
    want = t.doi_min_corroborated_claims
    strength = mean_corr * min(1.0, len(corroborated) / want)
    at_offsets = sum(1 for c in claims if c.source_span.text) / len(claims) if claims else 0.0
    ref_ids = {r.id for r in report.references}
    cited_ok = all(c.paper_id in ref_ids for c in claims)
    return {
        "evidence_strength": {
            "level": "LOW" if insufficient else _level(strength, 0.75, 0.4),
            "value": round(strength, 3),
            "measurement": f"mean confidence of the corroborating papers for {len(corroborated)} claims another "
                           f"paper corroborates ({mean_corr:.2f}) x min(1, corroborated / {want}); a claim its own "
                           "source alone supports adds nothing"
                           + ("; capped LOW: insufficient evidence for the question" if insufficient else ""),
        },
        "citation_grounding": {
            "level": _level(at_offsets if cited_ok else 0.0, 1.0, 0.8),
            "value": round(at_offsets, 3),
            "measurement": "share of claims with an exact source span at recorded offsets"
                           + ("" if cited_ok else "; some claims cite papers missing from the references"),
        },
        "uncertainty_disclosure": {
            "level": "HIGH" if report.uncertainties else "LOW",
            "value": len(report.uncertainties),
            "measurement": "uncertainties computed from this run's measurements and listed in the report",
        },
        "reproducibility_status": {
            "level": "MEDIUM",
            "value": "deterministic-not-replayed" if mode == "offline" else "llm-answers-recorded-not-replayed",
            "measurement": "deterministic offline pipeline with hashed inputs; not yet replayed by the reproduction gate"
            if mode == "offline" else
            "hashed inputs and every LLM answer recorded in the run's response cache (replayable cache-only); "
            "not yet replayed by the reproduction gate",
        },
    }


def corroboration_check(claims, minimum: int) -> str:
    """The corroboration check as measured: by another paper, and — when the run read full text and
    found any — by another section of a claim's own paper (never its own sentence)."""
    if any(c.corroborated_in_paper for c in claims):
        return f"claims corroborated by another paper or another section of their own paper's full text >= {minimum}"
    return f"claims corroborated by another paper >= {minimum}"


def tier(report: Report, t: TribunalSettings, insufficient: bool, sufficiency: float,
         joint_complete: bool) -> tuple[str, dict]:
    """DOI grade only on earned evidence: the policy published, the evidence is sufficient (calibrated),
    one paper addresses the facets the question joins, and other papers corroborate claims.
    Self-grounding never counts; breadth (distinct sources) is reported, not required."""
    grounded = [c for c in report.claims if c.grounded]
    corroborated = [c for c in grounded if c.is_corroborated]
    checks = {
        "policy is PUBLISH": report.results.policy == "PUBLISH",
        f"evidence sufficiency >= {t.sufficiency_threshold:.2f}": sufficiency >= t.sufficiency_threshold,
        "the question's joined facets addressed together by a kept paper": joint_complete,
        corroboration_check(report.claims, t.doi_min_corroborated_claims): len(corroborated) >= t.doi_min_corroborated_claims,
        "evidence sufficient for the question": not insufficient,
    }
    name = "DOI grade" if all(checks.values()) else "Watchlist"
    basis = {
        "rule": "DOI grade when every check passes, else Watchlist",
        "checks": [{"check": k, "passed": v} for k, v in checks.items()],
        "measured": {
            "tribunal_score": report.results.tribunal_score,
            "evidence_sufficiency": round(sufficiency, 4),
            "grounded_claims": len(grounded),
            "corroborated_claims": len(corroborated),
            **({"corroborated_within_own_full_text": sum(1 for c in corroborated if not c.corroborated_by)}
               if any(c.corroborated_in_paper for c in report.claims) else {}),
            "breadth_distinct_sources": len({c.paper_id for c in grounded}),
            # reported, not required: a niche result is often stated by one paper only (the Answer marks it)
            "answer_facets_without_corroboration": list(report.answer.gaps) if report.answer else [],
        },
    }
    return name, basis


def tribunal_record(report: Report, s: TribunalSettings) -> dict:
    """Score, verdict, round, and per reviewer the measured rubric score beside the LLM's."""
    t, w = report.tribunal, s.llm_review_weight
    return {
        "score": t.score, "verdict": t.verdict, "round": t.round,
        "reviews": [{"role": r.role, "score": r.score, "verdict": r.verdict, "rubric_score": r.rubric_score,
                     "llm_score": r.llm_score, "method": r.method} for r in t.reviews],
        "rule": "tribunal score = mean of the reviews; a review's score is its measured rubric score, or with an "
                f"LLM reviewer min({1 - w:g} x rubric + {w:g} x LLM, rubric + {s.llm_review_max_raise:.1f})",
    }


def contradiction_record(report: Report, settings: dict) -> dict | None:
    """What the cross-encoder found contradicting the claims — None when it did not read them."""
    if not contradiction_checked(report.claims):
        return None
    numbers = {c.id: claim_number(i) for i, c in enumerate(report.claims)}
    pairs = [{"claim": numbers[c.id], "claim_id": c.id, "paper_id": c.paper_id, "contradicted_by": e.paper_id,
              "passage": e.span, "p_contradict": e.score, "disagreement": disagreement(c.text, e.span)}
             for c in report.claims if c.grounded for e in c.contradicted_by]
    threshold = (settings.get("verification") or {}).get("contradict_threshold")
    return {"count": len({p["claim_id"] for p in pairs}), "pairs": pairs, "threshold": threshold,
            "method": "trained cross-encoder (data/VERIFIER_CARD.md): P(CONTRADICT) >= threshold and > P(SUPPORT) "
                      "at another kept paper's most decisive sentence, which also visibly opposes the claim (a "
                      "negation or denial on one side only, opposite directions, or different numbers)",
            # how far to trust a flag: the rule's out-of-fold precision and recall on SciFact train
            "measured": contradiction_measure(threshold) if threshold is not None else None}


def build_manifest(report: Report, *, settings: dict, tribunal: TribunalSettings, mode: str, corpus: dict, models: dict,
                   insufficient: bool, tier_basis: dict, papers, owner_review: dict | None = None,
                   llm_usage: dict | None = None, fallbacks: list | None = None, sufficiency: dict | None = None,
                   joint_coverage: dict | None = None) -> dict:
    manifest = {
        "contract": MANIFEST_CONTRACT,
        "report_id": report.report_id,
        "content_hash": content_hash(report),
        "created_at": report.created_at,
        "question": report.question,
        "verification_level": verification_level(report),
        "truth_gate": {
            "gate": "Gate 2 - reproduction",
            "verdict": "UNVERIFIED",
            "reason": "No replay of this run has been attempted yet.",
        },
        "quality_tier": report.quality_tier,
        "quality_tier_basis": tier_basis,
        "quality_dimensions": quality_dimensions(report, tribunal, insufficient, mode),
        "tribunal": tribunal_record(report, tribunal),
        "policy": {"decision": report.results.policy, "reasons": report.results.policy_reasons},
        "provenance": {
            "contract": PROVENANCE_CONTRACT,
            "publisher": PUBLISHER,
            "mode": mode,
            "corpus": corpus,
            "sources": [
                {"id": p.id, "version": p.version, "url": p.url, "source": p.source, "content_hash": p.content_hash}
                for p in papers
            ],
            "models": models,
            "settings": settings,
            "software": {name: _version(name) for name in SOFTWARE},
        },
        "corrections": {"contract": CORRECTION_CONTRACT, "status": "CURRENT", "count": 0, "entries": []},
        "owner_review": owner_review,
        "llm_usage": llm_usage,
        "fallbacks": list(fallbacks or []),
        "evidence_sufficiency": sufficiency,
        "joint_coverage": joint_coverage,
        "claim_ids": {claim_number(i): c.id for i, c in enumerate(report.claims)},
        "contradictions": contradiction_record(report, settings),
        "figures": figure_records(report),
    }
    # Validate against the contract so a drift in this builder fails loudly, not downstream.
    return Manifest.model_validate(manifest).model_dump(mode="json")


@cache  # installed versions, read once per process: a memo, not state
def _version(dist: str) -> str:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return "unknown"
