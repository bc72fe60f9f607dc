"""The synthesis the tribunal reviews and the report opens with, built only from grounded claims.

- the **Answer** (``synthesis.answer``): 2-5 sentences from corroborated findings chosen to cover
  the question's facets, or what the corpus cannot answer and why; with an LLM the drafter agent
  swaps in a generated answer that survived the audit;
- the **findings by theme** (``synthesis.themes``): grounded findings — background and aim
  sentences are not findings — clustered, named from their shared terms, the best-corroborated
  first; each cites its claim rows and names "our method" (``domain.naming``);
- a **comparison** of reported effects for a question that compares methods, and the papers' own
  stated **limitations** (``synthesis.comparison``);
- the abstract: what the synthesis rests on and how it is organised.

Every sentence is traceable to claim rows, and through them to source spans. Which aspects of the
question the grounded evidence covers is measured as before (the reviewers score it).
"""

from __future__ import annotations

from typing import Collection, Iterable, Mapping, Sequence

import numpy as np

from sovereign_kernel.domain.aspects import Aspect, covers, text_stems
from sovereign_kernel.domain.facets import JointCoverage
from sovereign_kernel.domain.ids import claim_labels
from sovereign_kernel.domain.schemas import (
    Answer,
    Claim,
    Draft,
    Paper,
    ScoredPaper,
    Theme,
    paper_text,
)
from sovereign_kernel.domain.settings import SynthesisSettings
from sovereign_kernel.domain.units import citation, corroborated_by
from sovereign_kernel.synthesis.answer import AnswerInputs, build_answer
from sovereign_kernel.synthesis.comparison import (
    compares_methods,
    comparison_rows,
    stated_limitations,
)
from sovereign_kernel.domain.naming import name_own_method
from sovereign_kernel.synthesis.themes import group_findings


def current_claims(claims: Iterable[Claim], papers: Iterable[Paper], dropped: Iterable[str] = ()) -> list[Claim]:
    """Claims of the papers that passed the gate this round, minus those dropped (reviser, owner)."""
    kept = {p.id for p in papers}
    gone = set(dropped)
    return [c for c in claims if c.paper_id in kept and c.id not in gone]


def order_claims(claims: list[Claim]) -> list[Claim]:
    """Claims-table order: grounded first, then by how finding-like and on-question they are."""
    return sorted(claims, key=lambda c: (not c.grounded, -round(c.confidence, 2), -c.extraction_score, c.id))


def strength(c: Claim) -> tuple:
    """Which of a theme's claims it cites first: corroborated, then by corroboration and confidence."""
    return (not c.is_corroborated, -len(c.corroborated_by), -round(c.corroboration, 4), -round(c.confidence, 2), c.id)


def answer_inputs(question: str, claims: Sequence[Claim], papers: Mapping[str, Paper], *,
                  coverage: JointCoverage | None = None, ranked: Sequence[ScoredPaper] = (),
                  background: Collection[str] = (), facet_counts: Mapping[str, int] | None = None) -> AnswerInputs:
    """What the Answer is built (and a generated one audited) from, in claims-table order."""
    ordered = order_claims(list(claims))
    findings = frozenset(c.id for c in ordered if c.grounded and c.id not in set(background))
    return AnswerInputs(question=question, claims=ordered, labels=claim_labels(ordered), papers=papers,
                        findings=findings, coverage=coverage, ranked=ranked, facet_counts=facet_counts or {})


def build_draft(question: str, claims: Sequence[Claim], papers: dict[str, Paper], aspects: Sequence[Aspect],
                n_candidates: int, *, coverage: JointCoverage | None = None, ranked: Sequence[ScoredPaper] = (),
                background: Collection[str] = (), vectors: Mapping[str, Sequence[float]] | None = None,
                facet_counts: Mapping[str, int] | None = None, settings: SynthesisSettings | None = None,
                answer: Answer | None = None) -> Draft:
    """The draft. ``background``: ids of claims that state background or an aim (not findings);
    ``vectors``: claim id -> sentence vector (themes cluster on them; term vectors without);
    ``facet_counts``: corpus papers holding each facet's words; ``answer``: a generated answer
    that passed the audit (else the extractive one)."""
    cfg = settings or SynthesisSettings()
    inp = answer_inputs(question, claims, papers, coverage=coverage, ranked=ranked, background=background,
                        facet_counts=facet_counts)
    ordered, labels = list(inp.claims), inp.labels
    verified = [c for c in ordered if c.grounded]
    covered_phrases, missing_phrases = aspect_coverage(verified, papers, aspects)
    findings_ = [c for c in ordered if c.id in inp.findings]
    vecs = np.array([vectors[c.id] for c in findings_]) if vectors and all(c.id in vectors for c in findings_) else None
    groups = group_findings(findings_, question, vecs, cfg.theme_similarity, cfg.max_themes, strength,
                            cfg.claims_per_theme)
    themes = []
    for g in groups:
        cited = g.claims
        text = " ".join(f"{inp.named(c).rstrip('.')} [{citation(labels[c.id], c.paper_id, c.source_span)}]." for c in cited)
        themes.append(Theme(name=g.name, claim_ids=[c.id for c in cited], text=text,
                            corroborated=sum(c.is_corroborated for c in cited)))
    answer = answer or build_answer(inp, cfg.answer_max_sentences)
    comparison = []
    if compares_methods(question):
        reach = {pid: sum(pid in f.covered_by for f in coverage.required) for pid in papers} if coverage else {}
        order = {c.id: i for i, c in enumerate(ordered)}
        comparison = comparison_rows(findings_, papers, lambda c: (-reach.get(c.paper_id, 0), not c.is_corroborated,
                                                                   order[c.id]), cfg.comparison_max_rows)
    limitations = stated_limitations([papers[pid] for pid in sorted(papers)])
    return Draft(
        abstract=abstract(inp, len(papers), n_candidates, themes, comparison, aspects, covered_phrases,
                          missing_phrases, answer),
        findings=[f"{t.name}: {t.text}" for t in themes],
        finding_claims=[t.claim_ids for t in themes],
        aspects_covered=covered_phrases,
        aspects_missing=missing_phrases,
        answer=answer, themes=themes, comparison=comparison, limitations=limitations,
    )


def aspect_coverage(verified: Sequence[Claim], papers: Mapping[str, Paper],
                    aspects: Sequence[Aspect]) -> tuple[list[str], list[str]]:
    """The question's aspects some grounded claim's paper covers, and those none does."""
    paper_stems = {pid: text_stems(paper_text(papers[pid])) for pid in {c.paper_id for c in verified} if pid in papers}
    covered, missing = [], []
    for aspect in aspects:
        if any(c.paper_id in paper_stems and covers(aspect, paper_stems[c.paper_id]) for c in verified):
            covered.append(aspect.phrase)
        else:
            missing.append(aspect.phrase)
    return covered, missing


def abstract(inp: AnswerInputs, n_kept: int, n_candidates: int, themes: Sequence[Theme], comparison: Sequence,
             aspects: Sequence[Aspect], covered: Sequence[str], missing: Sequence[str], answer: Answer) -> str:
    """What the synthesis rests on and how it is organised (the Answer says what it concludes)."""
    grounded = [c for c in inp.claims if c.grounded]
    corroborated = [c for c in grounded if c.is_corroborated]
    parts = [
        f"This synthesis draws on {n_kept} of {n_candidates} candidate papers that passed the relevance gate: "
        f"{len(inp.claims)} claims were extracted, {len(grounded)} grounded in their own source text and "
        f"{len(corroborated)} corroborated by {corroborated_by(inp.claims)}."
    ]
    if themes:
        parts.append(f"Its findings fall into {len(themes)} theme{'s' if len(themes) != 1 else ''}: " + "; ".join(
            f"{t.name} ({len(t.claim_ids)} claim{'s' if len(t.claim_ids) != 1 else ''}, {t.corroborated} "
            "corroborated)" for t in themes) + ".")
    if comparison:
        parts.append(f"{len(comparison)} reported effects are compared side by side.")
    if aspects:
        parts.append(
            f"The grounded evidence addresses {len(covered)} of the question's {len(aspects)} aspects"
            + (f" ({', '.join(covered)})" if covered else "")
            + (f" and does not address {', '.join(missing)}." if missing else "."))
    if answer.status == "unanswerable":
        parts.append("The retrieved evidence is insufficient to answer the question as asked (see the Answer); read "
                     "the findings as related work, not as an answer.")
    elif answer.status == "single-source":
        parts.append("No finding is corroborated by a second paper: the Answer gives single papers' findings; read "
                     "them as one paper's word.")
    return " ".join(parts)


def named_text(claim: Claim, papers: Mapping[str, Paper]) -> str:
    """A claim's text with "our method" named (for blocks that show claims outside their paper)."""
    return name_own_method(claim.text, papers.get(claim.paper_id), claim.paper_id)
