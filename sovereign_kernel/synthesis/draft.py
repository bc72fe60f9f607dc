"""The synthesis the tribunal reviews, built only from grounded claims.

Offline the synthesis is extractive: for each aspect of the question, the strongest grounded
claims that address it, each cited by its claim number; then what the evidence does not
cover. Every sentence is traceable to claim rows, and through them to source spans.
"""

from __future__ import annotations

from typing import Iterable, Sequence

from sovereign_kernel.domain.aspects import Aspect, covers, text_stems
from sovereign_kernel.domain.schemas import Claim, Draft, Paper, paper_text


def current_claims(claims: Iterable[Claim], papers: Iterable[Paper], dropped: Iterable[str] = ()) -> list[Claim]:
    """Claims of the papers that passed the gate this round, minus those dropped (reviser, owner)."""
    kept = {p.id for p in papers}
    gone = set(dropped)
    return [c for c in claims if c.paper_id in kept and c.id not in gone]


MAX_CLAIMS_PER_ASPECT = 2


def claim_labels(claims: list[Claim]) -> dict[str, str]:
    """C1, C2, ... in the order of the claims table."""
    return {c.id: f"C{i}" for i, c in enumerate(claims, 1)}


def order_claims(claims: list[Claim]) -> list[Claim]:
    """Claims-table order: grounded first, then by how finding-like and on-question they are."""
    return sorted(claims, key=lambda c: (not c.grounded, -round(c.confidence, 2), -c.extraction_score, c.id))


def build_draft(question: str, claims: Sequence[Claim], papers: dict[str, Paper], aspects: Sequence[Aspect],
                n_candidates: int) -> Draft:
    ordered = order_claims(claims)
    labels = claim_labels(ordered)
    verified = [c for c in ordered if c.grounded]
    findings: list[str] = []
    finding_claims: list[list[str]] = []
    used: set[str] = set()
    covered_phrases, missing_phrases = [], []
    paper_stems = {pid: text_stems(paper_text(papers[pid])) for pid in {c.paper_id for c in verified} if pid in papers}
    claim_stems = {c.id: text_stems(c.text) for c in verified}
    for aspect in aspects:
        addressing = [c for c in verified if c.paper_id in paper_stems and covers(aspect, paper_stems[c.paper_id])]
        if not addressing:
            missing_phrases.append(aspect.phrase)
            continue
        covered_phrases.append(aspect.phrase)
        # Claims that name the aspect themselves come first; then claims of papers that cover it.
        addressing.sort(key=lambda c: (not covers(aspect, claim_stems[c.id]), -c.extraction_score, c.id))
        picked = [c for c in addressing if c.id not in used][:MAX_CLAIMS_PER_ASPECT] or addressing[:1]
        used.update(c.id for c in picked)
        body = " ".join(f"{c.text.rstrip('.')} [{labels[c.id]}, arXiv:{c.paper_id}]." for c in picked)
        findings.append(f"On {aspect.phrase}: {body}")
        finding_claims.append([c.id for c in picked])
    rest = [c for c in verified if c.id not in used][:3]
    if rest:
        findings.append("Further grounded findings: " + " ".join(
            f"{c.text.rstrip('.')} [{labels[c.id]}, arXiv:{c.paper_id}]." for c in rest
        ))
        finding_claims.append([c.id for c in rest])

    sources = sorted({c.paper_id for c in verified})
    parts = [
        f"This synthesis answers the question from {len(papers)} of {n_candidates} candidate papers that passed "
        f"the relevance gate; {len(claims)} claims were extracted and {len(verified)} grounded in their own source "
        f"text, from {len(sources)} distinct papers."
    ]
    if aspects:
        parts.append(
            f"The grounded evidence addresses {len(covered_phrases)} of the question's {len(aspects)} aspects"
            + (f" ({', '.join(covered_phrases)})" if covered_phrases else "")
            + (f" and does not address {', '.join(missing_phrases)}." if missing_phrases else ".")
        )
    if verified:
        lead = verified[: 2]
        parts.append("Strongest findings: " + " ".join(f"{c.text.rstrip('.')} [{labels[c.id]}]." for c in lead))
    absent = sorted({s for a in aspects for s in a.missing_from_corpus})
    if not verified or absent or len(missing_phrases) > len(aspects) / 2:
        parts.append(
            "The retrieved evidence is insufficient to answer the question as asked"
            + (f": no paper in the corpus mentions {', '.join(repr(s) for s in absent)}" if absent else "")
            + "; read the findings as related work, not as an answer."
        )
    return Draft(
        abstract=" ".join(parts),
        findings=findings,
        finding_claims=finding_claims,
        aspects_covered=covered_phrases,
        aspects_missing=missing_phrases,
    )
