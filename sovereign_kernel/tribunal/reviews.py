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

from sovereign_kernel.domain.schemas import Review, RubricItem
from sovereign_kernel.domain.settings import TribunalSettings
from sovereign_kernel.tribunal.rubric import Signals, item, make_review, ratio, scaled


def skeptic_review(s: Signals, round_: int, t: TribunalSettings) -> Review:
    off_topic = ratio(s.off_topic_claims, s.n_claims)
    corroborated = ratio(s.n_corroborated, s.n_grounded)
    hedged = ratio(s.hedged_claims, s.n_claims)
    items = [
        item("relevance of kept papers", f"mean {s.mean_kept_relevance:.2f} over {s.n_kept} papers",
             scaled(s.mean_kept_relevance, 0.4, 0.8), 2.0),
        item("claims about the question",
             f"{s.off_topic_claims}/{s.n_claims} claims below cosine {t.off_topic_claim_relevance:.2f}",
             1.0 - off_topic if s.n_claims else 0.0, 2.0),
        joint_item(s),
        item("independent corroboration", f"{s.n_corroborated}/{s.n_grounded} grounded claims corroborated by "
                                          "another paper", corroborated, 1.0),
        item("hedging", f"{s.hedged_claims}/{s.n_claims} claims hedged", 1.0 - hedged if s.n_claims else 0.0, 1.0),
        item("contradictions between papers", f"{s.n_contested}/{s.n_grounded} grounded claims contradicted by "
                                              "another kept paper", 1.0 - ratio(s.n_contested, s.n_grounded)
             if s.n_grounded else 1.0, 1.0),
    ]
    issues, recs = [], []
    if s.n_contested:
        issues.append(f"{s.n_contested} grounded claim(s) from {s.contested_sources} paper(s) are contradicted by "
                      "another kept paper (listed under Contradictions)")
        recs.append("weigh both sides of each contradiction; do not state a contested claim as settled")
    if s.missing_pairs:
        issues.append("insufficient evidence: no kept paper addresses " + "; ".join(s.missing_pairs) + " together")
        recs.append("search for papers that join the question's facets, or say that none does")
    if s.terms_absent_from_corpus:
        terms = ", ".join(repr(x) for x in s.terms_absent_from_corpus)
        issues.append(f"insufficient evidence: no paper in the corpus mentions {terms}")
        # Nothing in the corpus can answer the core of the question: cap the review.
        items.append(item("question terms found in the corpus", f"missing: {terms}", 0.0, 2.0))
    if off_topic > 0.25:
        recs.append("drop claims that are not about the question")
    return make_review("SKEPTIC", round_, items, issues, recs, t)


def joint_item(s: Signals) -> RubricItem:
    """Joint coverage: the question's joined facets, addressed together by one kept paper."""
    if s.facet_pairs:
        return item("facets of the question joined by one paper",
                    f"{s.facet_pairs - len(s.missing_pairs)}/{s.facet_pairs} pairs", s.joint_share, 4.0)
    return item("facets of the question addressed", f"{s.facets_covered}/{s.required_facets}",
                ratio(s.facets_covered, s.required_facets), 4.0)


def validator_review(s: Signals, round_: int, t: TribunalSettings) -> Review:
    """Grounding is necessary and weighs little (a quote always grounds itself); corroboration by
    other papers is what the score rests on."""
    want = t.doi_min_corroborated_claims
    grounded, corroborated = ratio(s.n_grounded, s.n_claims), ratio(s.n_corroborated, s.n_claims)
    items = [
        item("grounding: supported by its own source at the recorded span", f"{s.n_grounded}/{s.n_claims} claims",
             grounded, 1.0),
        item("source spans found at their offsets", f"{s.spans_exact}/{s.n_claims}",
             ratio(s.spans_exact, s.n_claims), 1.0),
        item("corroboration: supported by another paper", f"{s.n_corroborated}/{s.n_claims} claims",
             corroborated, 4.0),
        item("confidence of the corroborating evidence", f"mean {s.mean_corroboration:.2f}",
             scaled(s.mean_corroboration, 0.5, 0.95), 2.0),
        item("amount of corroborated evidence", f"{s.n_corroborated} corroborated claims (want >= {want})",
             min(1.0, ratio(s.n_corroborated, want)), 2.0),
    ]
    issues, recs = [], []
    if s.n_claims and grounded < 0.5:
        issues.append("fewer than half of the claims are supported by their own source")
        recs.append("drop ungrounded claims")
    if s.n_grounded and not s.n_corroborated:
        issues.append("no claim is corroborated by another paper: every finding rests on its own source alone")
    if s.spans_exact < s.n_claims:
        issues.append(f"{s.n_claims - s.spans_exact} claims cite spans that do not occur in their source")
    return make_review("VALIDATOR", round_, items, issues, recs, t)


def synthesizer_review(s: Signals, round_: int, t: TribunalSettings) -> Review:
    breadth = t.breadth_sources
    items = [
        item("coverage of the question's aspects", f"{s.aspects_covered}/{s.n_aspects}",
             ratio(s.aspects_covered, s.n_aspects), 4.0),
        item("diversity of sources", f"{s.grounded_sources} papers behind grounded claims (want >= {breadth})",
             min(1.0, ratio(s.grounded_sources, breadth)), 3.0),
        item("coherence: cited claims on the question", f"mean cosine {s.mean_relevance_findings:.2f}",
             scaled(s.mean_relevance_findings, 0.3, 0.6), 2.0),
        item("traceability: findings citing claims", f"{s.findings_cited}/{s.n_findings}",
             ratio(s.findings_cited, s.n_findings), 1.0),
    ]
    issues, recs = [], []
    if s.grounded_sources < breadth:
        issues.append(f"the synthesis rests on {s.grounded_sources} source(s)")
        recs.append("search for more sources")
    return make_review("SYNTHESIZER", round_, items, issues, recs, t)
