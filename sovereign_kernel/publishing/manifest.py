"""``paper-manifest-v1.1``: how much to trust a report, each statement backed by a measurement."""

from __future__ import annotations

from functools import lru_cache
from importlib import metadata

from sovereign_kernel.domain.ids import document_hash
from sovereign_kernel.domain.schemas import (
    CORRECTION_CONTRACT,
    MANIFEST_CONTRACT,
    PROVENANCE_CONTRACT,
    Manifest,
    Report,
)
from sovereign_kernel.domain.settings import TribunalSettings

PUBLISHER = "SOVEREIGN Research Kernel"
_VOLATILE = frozenset({"created_at"})
SOFTWARE = ("sovereign-kernel", "langgraph", "langchain-core", "scikit-learn", "onnxruntime")


def content_hash(report: Report) -> str:
    """sha256 over the report's content, timestamps excluded, so equal runs hash equal."""
    return document_hash(report.model_dump(mode="json", exclude=set(_VOLATILE)))


def verification_level(report: Report) -> dict:
    claims = report.claims
    verified = [c for c in claims if c.verified]
    corroborated = [c for c in verified if len(set(c.supporting_papers) - {c.paper_id}) >= 1]
    if not claims:
        level, label = "L0", "No claims"
    elif not verified:
        level, label = "L1", "Claims with source spans, none verified"
    elif len(corroborated) * 2 >= len(verified) and len(verified) >= 2:
        level, label = "L3", "Source-grounded and cross-source corroborated claims"
    else:
        level, label = "L2", "Source-grounded claims"
    return {
        "level": level,
        "label": label,
        "source_grounded_claims": len(verified),
        "corroborated_claims": len(corroborated),
        "claims": len(claims),
        "basis": "L1: every claim has a source span; L2: >= 1 claim verified against retrieved text at the "
                 "calibrated threshold; L3: at least half of >= 2 verified claims also supported by another "
                 "paper; L4: the reproduction gate passed (replay).",
    }


def _level(value: float, high: float, medium: float) -> str:
    return "HIGH" if value >= high else ("MEDIUM" if value >= medium else "LOW")


def quality_dimensions(report: Report, t: TribunalSettings, insufficient: bool, mode: str = "offline") -> dict:
    claims = report.claims
    verified = [c for c in claims if c.verified]
    mean_conf = sum(c.confidence for c in verified) / len(verified) if verified else 0.0
    strength = mean_conf * min(1.0, len(verified) / t.doi_min_verified_claims)
    grounded = sum(1 for c in claims if c.source_span.text) / len(claims) if claims else 0.0
    ref_ids = {r.id for r in report.references}
    cited_ok = all(c.paper_id in ref_ids for c in claims)
    return {
        "evidence_strength": {
            "level": "LOW" if insufficient else _level(strength, 0.75, 0.4),
            "value": round(strength, 3),
            "measurement": f"mean calibrated confidence of {len(verified)} verified claims ({mean_conf:.2f}) x "
                           f"min(1, verified / {t.doi_min_verified_claims})"
                           + ("; capped LOW: insufficient evidence for the question" if insufficient else ""),
        },
        "citation_grounding": {
            "level": _level(grounded if cited_ok else 0.0, 1.0, 0.8),
            "value": round(grounded, 3),
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


def tier(report: Report, t: TribunalSettings, insufficient: bool, aspect_coverage: float) -> tuple[str, dict]:
    verified = [c for c in report.claims if c.verified]
    checks = {
        "policy is PUBLISH": report.results.policy == "PUBLISH",
        f"verified claims >= {t.doi_min_verified_claims}": len(verified) >= t.doi_min_verified_claims,
        f"distinct verified sources >= {t.doi_min_sources}": len({c.paper_id for c in verified}) >= t.doi_min_sources,
        f"aspect coverage >= {t.doi_min_aspect_coverage}": aspect_coverage >= t.doi_min_aspect_coverage,
        "evidence sufficient for the question": not insufficient,
    }
    name = "DOI grade" if all(checks.values()) else "Watchlist"
    basis = {
        "rule": "DOI grade when every check passes, else Watchlist",
        "checks": [{"check": k, "passed": v} for k, v in checks.items()],
        "measured": {
            "tribunal_score": report.results.tribunal_score,
            "verified_claims": len(verified),
            "distinct_sources": len({c.paper_id for c in verified}),
            "aspect_coverage": round(aspect_coverage, 3),
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


def build_manifest(report: Report, *, settings: dict, tribunal: TribunalSettings, mode: str, corpus: dict, models: dict,
                   insufficient: bool, tier_basis: dict, papers, owner_review: dict | None = None,
                   llm_usage: dict | None = None, fallbacks: list | None = None) -> dict:
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
    }
    # Validate against the contract so a drift in this builder fails loudly, not downstream.
    return Manifest.model_validate(manifest).model_dump(mode="json")


@lru_cache(maxsize=None)  # installed versions, read once per process: a memo, not state
def _version(dist: str) -> str:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return "unknown"
