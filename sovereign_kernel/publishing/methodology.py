"""What a run says it did: the methodology (with the real settings, models and corpus) and what a
reader must know about the models' part (rejected spans, fallbacks). Every statement is derived
from what ran: the run's settings, its resources and the LLM session's usage report.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import TYPE_CHECKING

from sovereign_kernel.domain.settings import Settings
from sovereign_kernel.verification.baseline import BASELINE_METHOD
from sovereign_kernel.verification.calibration import load_calibration
from sovereign_kernel.verification.sentence_verifier import DEFAULT_METHOD

if TYPE_CHECKING:  # the run's inputs, for type checkers only (assembly imports this module)
    from sovereign_kernel.publishing.assembly import ReportInputs


@dataclass(frozen=True)
class RunFacts:
    """What a run ran with, as its methodology and provenance state it."""

    mode: str
    corpus_label: str
    corpus_hash: str
    corpus_size: int
    embedder_id: str
    verifier_embedder_id: str
    llm_usage: dict | None = None  # the session's usage report; None: no model was used
    llm_models: dict[str, str] | None = None  # role -> model


def llm_uncertainties(mode: str, usage: dict) -> list[str]:
    """What the LLM did that a reader must know: rejected spans and offline fallbacks, by role."""
    roles = usage["roles"]
    out = [f"LLM mode ({mode}): claims, labels and reviews come from language models reading abstracts only "
           "(not full texts); every claim's source span was checked against its abstract and the measured "
           "rubric bounds every review score."]
    rejected = roles.get("extractor", {}).get("rejected", 0)
    if rejected:
        out.append(f"Invented spans: {rejected} LLM-extracted claims were rejected because their source span "
                   "was not found in the abstract.")
    fell_back = Counter(role for role, _ in {(f["role"], f["item"]) for f in usage["fallbacks"]})  # distinct items
    if fell_back:
        out.append(f"LLM fallbacks: {sum(fell_back.values())} items used the offline algorithm instead ("
                   + ", ".join(f"{r}: {n}" for r, n in sorted(fell_back.items())) + ").")
    return out



def methodology(run: ReportInputs, settings: Settings, facts: RunFacts) -> dict[str, str]:
    """What ran, with the real settings of this run."""
    r, x, v, t = settings.retriever, settings.extraction, settings.verification, settings.tribunal
    cal = load_calibration()
    out = {
        "mode": facts.mode,
        "corpus": f"{facts.corpus_label}; content hash {facts.corpus_hash[:16]}",
        "queries": f"{len(run.queries)} planned queries (keyphrases, rarest aspects, pseudo-relevance "
                   f"feedback), searched in parallel with BM25 ({r.hits_per_query} hits each): "
                   + " | ".join(run.queries),
        "ranking": f"hybrid relevance = {r.semantic_weight:.2f} x embedding similarity "
                   f"({facts.embedder_id}) + {1 - r.semantic_weight:.2f} x lexical coverage (mean of IDF-weighted "
                   f"question-word coverage and question-aspect coverage); gate "
                   f"{r.relevance_gate:.2f}, at most {r.max_papers} papers",
        "extraction": f"sentence segmentation + claim-cue scoring, up to {x.claims_per_paper} claims per paper "
                      f"(min score {x.min_claim_score:.2f}); spans are character offsets into the abstract",
        "verification": f"{DEFAULT_METHOD}: each retrieved paper's best sentence for the claim, scored by "
                        f"{cal.describe()} (sentence vectors: {facts.verifier_embedder_id}); verified at "
                        f"confidence >= {v.verify_threshold:.2f}. Baseline {BASELINE_METHOD} at "
                        f">= {v.baseline_threshold:.2f} shown alongside",
        "tribunal": f"SKEPTIC, VALIDATOR, SYNTHESIZER in parallel (measured rubrics); revision round when the score "
                    f"< {t.revision_threshold:.1f}, at most {t.max_revision_rounds}; publish needs "
                    f">= {t.publish_threshold:.1f} and sufficient evidence",
    }
    if facts.llm_models is not None:
        out.update(llm_methodology(out, facts.llm_models, settings, len(run.queries)))
    if run.revision_notes:
        out["revision"] = "; ".join(run.revision_notes)
    return out



def llm_methodology(m: dict, models: dict, settings: Settings, n_queries: int) -> dict:
    """The methodology lines that change when models are used (names from the session)."""
    x, v, t = settings.extraction, settings.verification, settings.tribunal
    w = t.llm_review_weight
    reviewers = ", ".join(f"{r.upper()} {models[r]}" for r in ("skeptic", "validator", "synthesizer"))
    return {
        "queries": f"{n_queries} queries (first round: the LLM planner, {models['planner']}, or the offline planner "
                   "where it fell back; a revision round: the reviser's refined queries), searched in parallel with "
                   "BM25" + m["queries"].split("searched in parallel with BM25", 1)[-1],
        "extraction": f"LLM atomic claims ({models['extractor']}), up to {x.claims_per_paper} per paper; each "
                      f"source span must occur in the abstract verbatim (whitespace-normalised) or near-verbatim "
                      f"(difflib >= {x.span_match_min:.2f}) and is stored at its real offsets; claims with spans not "
                      "found are rejected; a paper without a usable answer is extracted offline",
        "verification": m["verification"] + f"; the LLM verifier ({models['verifier']}) labels each claim SUPPORTED, "
                        "CONTRADICTED or NOT_ENOUGH_INFO against the passages the index selects for it (the most "
                        f"similar sentence of each of the {v.verifier_passages} closest kept papers), and only "
                        "SUPPORTED claims stay verified",
        "tribunal": m["tribunal"].replace("(measured rubrics)", f"(measured rubrics, then LLM reviewers: {reviewers}, "
                                          f"given the measured signals; review score = min({1 - w:g} x rubric "
                                          f"+ {w:g} x LLM, rubric + {t.llm_review_max_raise:g}))"),
    }


