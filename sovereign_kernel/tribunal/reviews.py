"""The tribunal's three reviews as measured rubrics.

- SKEPTIC: is the evidence really about the question, and does it answer it? Off-topic material,
  claims that are not about the question, single-source findings, hedging, and — most heavily —
  aspects of the question no evidence addresses.
- VALIDATOR: are the claims grounded in the retrieved text? The verification rate, the calibrated
  confidence of verified claims, and whether each claim's span is at its offsets in its source.
- SYNTHESIZER: does the draft make a coherent answer from diverse sources? Coverage of the
  question's aspects, diversity of sources, how on-question the cited claims are, traceability.
"""

from __future__ import annotations

from sovereign_kernel.domain.schemas import Review
from sovereign_kernel.domain.settings import TribunalSettings
from sovereign_kernel.tribunal.rubric import Signals, item, make_review, ratio, scaled


def skeptic_review(s: Signals, round_: int, t: TribunalSettings) -> Review:
    coverage = ratio(s.aspects_covered, s.n_aspects)
    off_topic = ratio(s.off_topic_claims, s.n_claims)
    single = ratio(s.single_source_verified, s.n_verified)
    hedged = ratio(s.hedged_claims, s.n_claims)
    items = [
        item("relevance of kept papers", f"mean {s.mean_kept_relevance:.2f} over {s.n_kept} papers",
             scaled(s.mean_kept_relevance, 0.4, 0.8), 2.0),
        item("claims about the question", f"{s.off_topic_claims}/{s.n_claims} claims below cosine {t.off_topic_claim_relevance:.2f}",
             1.0 - off_topic if s.n_claims else 0.0, 2.0),
        item("aspects of the question addressed", f"{s.aspects_covered}/{s.n_aspects}", coverage, 4.0),
        item("independent corroboration", f"{s.single_source_verified}/{s.n_verified} verified claims single-source",
             1.0 - single if s.n_verified else 0.0, 1.0),
        item("hedging", f"{s.hedged_claims}/{s.n_claims} claims hedged", 1.0 - hedged if s.n_claims else 0.0, 1.0),
    ]
    issues, recs = [], []
    if s.terms_absent_from_corpus:
        terms = ", ".join(repr(t) for t in s.terms_absent_from_corpus)
        issues.append(f"insufficient evidence: no paper in the corpus mentions {terms}")
        # Nothing in the corpus can answer the core of the question: cap the review.
        items.append(item("question terms found in the corpus", f"missing: {terms}", 0.0, 2.0))
    if coverage < 1.0:
        recs.append("search again for the aspects no verified claim addresses")
    if off_topic > 0.25:
        recs.append("drop claims that are not about the question")
    return make_review("SKEPTIC", round_, items, issues, recs, t)


def validator_review(s: Signals, round_: int, t: TribunalSettings) -> Review:
    min_verified = t.doi_min_verified_claims
    rate = ratio(s.n_verified, s.n_claims)
    items = [
        item("verification rate", f"{s.n_verified}/{s.n_claims} claims verified", rate, 4.0),
        item("confidence of verified claims", f"mean {s.mean_confidence_verified:.2f}",
             scaled(s.mean_confidence_verified, 0.5, 0.95), 2.0),
        item("source spans found at their offsets", f"{s.spans_exact}/{s.n_claims}",
             ratio(s.spans_exact, s.n_claims), 2.0),
        item("amount of verified evidence", f"{s.n_verified} verified claims (want >= {min_verified})",
             min(1.0, ratio(s.n_verified, min_verified)), 2.0),
    ]
    issues, recs = [], []
    if s.n_claims and rate < 0.5:
        issues.append("fewer than half of the claims are supported by the retrieved text")
        recs.append("drop unverified claims")
    if s.spans_exact < s.n_claims:
        issues.append(f"{s.n_claims - s.spans_exact} claims cite spans that do not occur in their source")
    return make_review("VALIDATOR", round_, items, issues, recs, t)


def synthesizer_review(s: Signals, round_: int, t: TribunalSettings) -> Review:
    min_sources = t.doi_min_sources
    items = [
        item("coverage of the question's aspects", f"{s.aspects_covered}/{s.n_aspects}",
             ratio(s.aspects_covered, s.n_aspects), 4.0),
        item("diversity of sources", f"{s.verified_sources} papers behind verified claims (want >= {min_sources})",
             min(1.0, ratio(s.verified_sources, min_sources)), 3.0),
        item("coherence: cited claims on the question", f"mean cosine {s.mean_relevance_findings:.2f}",
             scaled(s.mean_relevance_findings, 0.3, 0.6), 2.0),
        item("traceability: findings citing claims", f"{s.findings_cited}/{s.n_findings}",
             ratio(s.findings_cited, s.n_findings), 1.0),
    ]
    issues, recs = [], []
    if s.verified_sources < min_sources:
        issues.append(f"the synthesis rests on {s.verified_sources} source(s)")
        recs.append("search for more sources")
    return make_review("SYNTHESIZER", round_, items, issues, recs, t)
