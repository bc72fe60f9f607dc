"""What a run says it did: the methodology (with the real settings, models and corpus) and what a
reader must know about the models' part (rejected spans, fallbacks). Every statement is derived
from what ran: the run's settings, its resources and the LLM session's usage report.

Per role the usage report says how many items the agents asked the model and how many fell back
to the offline algorithm, and why (``role_usage``). A stage whose model answered most of its items
is described as the model's; a stage whose items mostly fell back (or were never asked) is
described as the offline algorithm that really ran, saying the model was configured but not used
and why (a refused key, a spent token budget, invalid answers, errors). Where a token budget
stopped calls is stated (``llm_summary``).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import TYPE_CHECKING

from sovereign_kernel.domain.settings import LLM_ROLES, Settings
from sovereign_kernel.domain.text import clip
from sovereign_kernel.verification.baseline import BASELINE_METHOD
from sovereign_kernel.verification.calibration import load_calibration
from sovereign_kernel.verification.rerank import rerank_enabled
from sovereign_kernel.verification.scoring import NO_JUDGEMENT
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
    # The remote embedder's requests and tokens (``UsageMeter.embedding_report``; also inside
    # llm_usage when there is a session), and its fallback: {from, to, stage, reason}.
    embedding_usage: dict | None = None
    corpus_issues: dict | None = None  # lines skipped and ids repeated, by reason (``corpus_issues``)

    @property
    def embedder_fallback(self) -> dict | None:
        return (self.embedding_usage or {}).get("fallback")


REVIEWERS = ("skeptic", "validator", "synthesizer")
# Fallbacks an agent records for part of an item whose answer it still used (one claim of a
# paper's batch had no judgement): they do not make the item a fallback.
PARTIAL_REASONS = frozenset({NO_JUDGEMENT})


@dataclass(frozen=True)
class RoleUsage:
    """One role's items, as the session counted them: asked of the model (answers replayed from the
    run's response cache included), how many fell back to the offline algorithm, and why."""

    role: str
    items: int
    fell_back: int
    reasons: tuple[tuple[str, int], ...] = ()  # (why, how many items), most frequent first
    partial: int = 0  # parts of answered items the agent handled offline (e.g. a claim without a judgement)

    @property
    def answered(self) -> int:
        return self.items - self.fell_back

    @property
    def used(self) -> bool:
        """The model answered most of this role's items (half or more); otherwise the stage is offline."""
        return self.items > 0 and self.answered * 2 >= self.items

    def counts(self) -> str:
        """"answered 6 of 7 items; 1 fell back (invalid answers: 1)"."""
        if not self.items:
            return "asked no item"
        out = f"answered {self.answered} of {self.items} items"
        if self.fell_back:
            out += f"; {self.fell_back} fell back to the offline algorithm (" + ", ".join(
                f"{why}: {n}" for why, n in self.reasons) + ")"
        if self.partial:
            out += f"; {self.partial} claims of answered items had no judgement and kept the offline verdict"
        return out


def reason_kind(reason: str, disabled: str | None) -> str:
    """A fallback's reason as a reader groups it (the session's texts carry per-item details)."""
    if reason.startswith("LLM disabled") or (disabled and reason == f"error: {disabled}"):
        return f"the endpoint refused the key ({clip(disabled or reason, 90)}), so the model was disabled"
    if "token budget" in reason:
        return "token budget spent"
    if reason.startswith("invalid"):
        return "invalid answers"
    if reason.startswith("retries exhausted"):
        return "endpoint errors after retries"
    if reason.startswith("error:"):
        return "errors"
    if "cache-only replay" in reason:
        return "not in the run's response cache (replay)"
    if reason.startswith("no source span"):
        return "every quoted span was not in the abstract"
    return clip(reason, 90)


def role_usage(usage: dict | None) -> dict[str, RoleUsage]:
    """Per role of the usage report, what the model answered and what fell back (and why)."""
    if not usage:
        return {}
    disabled = usage.get("disabled")
    whole: dict[str, Counter] = {}
    partial: Counter = Counter()
    for f in usage.get("fallbacks", []):
        if f["reason"] in PARTIAL_REASONS:
            partial[f["role"]] += 1
        else:
            whole.setdefault(f["role"], Counter())[reason_kind(f["reason"], disabled)] += 1
    out = {}
    for role, stats in usage.get("roles", {}).items():
        kinds = whole.get(role, Counter())
        fell_back = min(stats.get("items", 0), sum(kinds.values()))
        out[role] = RoleUsage(role, stats.get("items", 0), fell_back,
                              tuple(sorted(kinds.items(), key=lambda kv: (-kv[1], kv[0]))), partial[role])
    return out


def answered_roles(usage: dict | None) -> set[str]:
    """The roles the model really answered (most of their items)."""
    return {role for role, u in role_usage(usage).items() if u.used}


def _usage_of(roles: dict[str, RoleUsage], role: str) -> RoleUsage:
    return roles.get(role) or RoleUsage(role, 0, 0)


def not_used(role: str, model: str, u: RoleUsage) -> str:
    """"the LLM extractor (m) was configured but not used: answered 0 of 7 items; 7 fell back (...)"."""
    return f"the LLM {role} ({model}) was configured but not used: {u.counts()}"


def reading(full_text: int) -> str:
    """What the run read of the papers: abstracts, or (``full_text`` papers) passages of bodies too."""
    if not full_text:
        return "abstracts only (not full texts)"
    return f"abstracts and the passages read of {full_text} paper{'s' if full_text != 1 else ''}' full text"


def embedder_used(facts: RunFacts) -> str:
    """The ranking's embedder, and where the run switched from it to the local one."""
    fb = facts.embedder_fallback
    if not fb:
        return facts.embedder_id
    return f"{facts.embedder_id}, then {fb['to']} from the {fb['stage']} step on: the remote embedder failed"


def embedder_uncertainty(facts: RunFacts) -> list[str]:
    """The embedder switch a reader must know of: which steps' similarities came from which model."""
    fb = facts.embedder_fallback
    if not fb:
        return []
    name = fb.get("from") or facts.embedder_id
    why = (f"was stopped by the token budget at the {fb['stage']} step" if "budget" in fb["reason"]
           else f"failed at the {fb['stage']} step ({clip(fb['reason'], 200)})")
    return [f"Embedder fallback: the remote embedder {name} {why}; that step and every later one used the local "
            f"{fb['to']} (each similarity is computed within one model, never across the two)."]


def llm_uncertainties(mode: str, usage: dict, full_text: int = 0) -> list[str]:
    """What the LLM did that a reader must know: which parts came from models (only the roles the
    model really answered), rejected spans and offline fallbacks, by role."""
    roles = role_usage(usage)
    part = {"extractor": "the claims", "verifier": "the support labels",
            **{r: f"the {r.upper()} review" for r in REVIEWERS}}
    used = [r for r in part if _usage_of(roles, r).used]
    if len(used) == len(part):
        out = [f"LLM mode ({mode}): claims, labels and reviews come from language models reading "
               f"{reading(full_text)}; every claim's source span was checked against "
               f"{'the text' if full_text else 'its abstract'} and the measured rubric bounds every review score."]
    elif used:
        offline = [r for r in part if r not in used]
        out = [f"LLM mode ({mode}): from language models ("
               + ("reading abstracts only, not full texts" if not full_text else f"reading {reading(full_text)}") + "): "
               + ", ".join(part[r] for r in used) + "; every model claim's source span was checked against "
               f"{'the text' if full_text else 'its abstract'} and the measured rubric bounds every review score. "
               "From the offline algorithm, because "
               "the model answered too few of their items: " + ", ".join(part[r] for r in offline) + "."]
    else:
        out = [f"LLM mode ({mode}), but no language model produced the claims, labels or reviews: a model was "
               "configured, yet most of every role's items fell back to the offline algorithm, so claims are "
               "sentences quoted from abstracts, 'grounded' only confirms the quote at its offsets, corroboration "
               "by other papers is the informative signal, reviews are measured rubrics, and "
               + ("only abstracts (not full texts) were searched." if not full_text else
                  f"the run read {reading(full_text)}.")]
    rejected = usage["roles"].get("extractor", {}).get("rejected", 0)
    if rejected:
        out.append(f"Invented spans: {rejected} LLM-extracted claims were rejected because their source span "
                   "was not found in the abstract.")
    fell_back = Counter(role for role, _ in {(f["role"], f["item"]) for f in usage["fallbacks"]})  # distinct items
    if fell_back:
        out.append(f"LLM fallbacks: {sum(fell_back.values())} items used the offline algorithm instead ("
                   + ", ".join(f"{r}: {n}" for r, n in sorted(fell_back.items())) + ").")
    return out


def llm_summary(usage: dict) -> str:
    """The run's model use in one line: per role answered / asked, the calls and tokens, a refused
    key, and where a token budget stopped calls."""
    roles = role_usage(usage)
    order = [r for r in LLM_ROLES if r in roles] + sorted(set(roles) - set(LLM_ROLES))
    n_items = sum(u.items for u in roles.values())
    n_answered = sum(u.answered for u in roles.values())
    # Requests and tokens are in the manifest's llm_usage, not here: a replay from the run's response
    # cache makes none, yet must reproduce this text (the content hash covers it).
    parts = [f"the model answered {n_answered} of {n_items} items ("
             + ", ".join(f"{r} {roles[r].answered}/{roles[r].items}" for r in order) + ")"]
    if not_answered := [r for r in order if not roles[r].used]:
        parts.append("configured but not used (most items fell back): " + ", ".join(not_answered))
    if usage.get("disabled"):
        parts.append(f"the endpoint refused the key ({clip(usage['disabled'], 90)}): the model was disabled for "
                     "the rest of the run and every later item ran offline")
    budget = usage.get("budget") or {}
    if budget.get("token_budget") is not None:
        stopped = Counter(f["role"] for f in usage.get("fallbacks", []) if "token budget" in f["reason"])
        if budget.get("spent"):
            where = [r for r in LLM_ROLES if stopped.get(r)] + sorted(set(stopped) - set(LLM_ROLES))
            parts.append(f"token budget {budget['token_budget']} tokens: spent"
                         + (f"; it stopped calls from the {where[0]} on, and "
                            + ", ".join(f"{r} {stopped[r]}" for r in where) + " items ran offline" if where
                            else "; no later call was stopped"))
        else:
            parts.append(f"token budget {budget['token_budget']} tokens: no call stopped")
    return "; ".join(parts)


def methodology(run: ReportInputs, settings: Settings, facts: RunFacts) -> dict[str, str]:
    """What ran, with the real settings of this run."""
    r, x, v, t = settings.retriever, settings.extraction, settings.verification, settings.tribunal
    cal = load_calibration()
    searched = (f"searched in parallel with BM25 ({r.hits_per_query} hits each): " + " | ".join(run.queries))
    if r.dense_candidates and "local" in settings.source_list:
        searched += (f"; with the {r.dense_candidates} corpus papers whose title + first sentence lie nearest the "
                     "question in meaning (local MiniLM), whatever words they use")
    out = {
        "mode": facts.mode,
        "corpus": f"{facts.corpus_label}; content hash {facts.corpus_hash[:16]}",
        "queries": f"{len(run.queries)} planned queries (keyphrases, rarest aspects, pseudo-relevance "
                   f"feedback), " + searched if not run.round else
                   f"{len(run.queries)} refined queries of revision round {run.round} (for the aspects the "
                   f"earlier round left unaddressed), " + searched,
        "ranking": f"hybrid relevance = {r.semantic_weight:.2f} x embedding similarity "
                   f"({embedder_used(facts)}) + {1 - r.semantic_weight:.2f} x lexical coverage (mean of IDF-weighted "
                   f"question-word coverage and question-aspect coverage)"
                   + (f"; the top {r.rerank_depth} reordered by {1 - r.rerank_beta:.2f} x first-stage position + "
                      f"{r.rerank_beta:.2f} x the calibrated verifier's reading of each paper against the question"
                      if rerank_enabled(r) else "")
                   + f"; gate {r.relevance_gate:.2f}, at most {r.max_papers} papers",
        "extraction": f"sentence segmentation + claim-cue scoring, up to {x.claims_per_paper} claims per paper "
                      f"(min score {x.min_claim_score:.2f}); spans are character offsets into the abstract"
                      + (f"; for the {full} paper{'s' if full != 1 else ''} read in full, up to "
                         f"{x.body_claims_per_paper} more from the passages read, spans as offsets into the body with "
                         "their page" if (full := sum(1 for p in run.papers if p.passages)) else ""),
        "verification": f"{DEFAULT_METHOD}: each retrieved paper's best sentence for the claim, scored by "
                        f"{cal.describe()} (sentence vectors: {facts.verifier_embedder_id}); verified at "
                        f"confidence >= {v.verify_threshold:.2f}. Baseline {BASELINE_METHOD} at "
                        f">= {v.baseline_threshold:.2f} shown alongside",
        "tribunal": f"SKEPTIC, VALIDATOR, SYNTHESIZER in parallel (measured rubrics); revision round when the score "
                    f"< {t.revision_threshold:.1f}, at most {t.max_revision_rounds}; publish needs "
                    f">= {t.publish_threshold:.1f} and sufficient evidence",
    }
    if facts.llm_models is not None:
        out.update(llm_methodology(out, facts.llm_models, settings, run, facts.llm_usage))
    if run.revision_notes:
        out["revision"] = "; ".join(run.revision_notes)
        if facts.llm_models is not None:
            u = _usage_of(role_usage(facts.llm_usage), "reviser")
            model = facts.llm_models.get("reviser", "?")
            out["revision"] += (f"; the LLM reviser ({model}) {u.counts()}" if u.used else
                                f"; {not_used('reviser', model, u)}, so the offline revision ran")
    if facts.llm_usage is not None:
        out["llm"] = llm_summary(facts.llm_usage)
    return out


def llm_methodology(m: dict, models: dict, settings: Settings, run: ReportInputs, usage: dict | None) -> dict:
    """The methodology lines of the stages a model really ran (names from the session, counts from its
    usage report); a stage whose model was not used keeps its offline line and says why."""
    x, v, t = settings.extraction, settings.verification, settings.tribunal
    w = t.llm_review_weight
    roles = role_usage(usage)
    out = {}
    planner = _usage_of(roles, "planner")
    # A revision round's queries are the reviser's refined ones (the revision line says whose): the
    # planner's line describes the first round only.
    if not run.round and planner.used:
        out["queries"] = (f"{len(run.queries)} queries from the LLM planner ({models['planner']}; {planner.counts()}), "
                          "topped up by the offline planner when it gave fewer, searched in parallel with BM25"
                          + m["queries"].split("searched in parallel with BM25", 1)[-1])
    elif not run.round:
        out["queries"] = m["queries"] + f"; {not_used('planner', models['planner'], planner)}"
    elif planner.used:
        out["queries"] = m["queries"] + (f"; round 0's queries came from the LLM planner ({models['planner']}; "
                                         f"{planner.counts()})")
    else:
        out["queries"] = m["queries"] + f"; round 0: {not_used('planner', models['planner'], planner)}"
    extractor = _usage_of(roles, "extractor")
    if extractor.used:
        out["extraction"] = (
            f"LLM atomic claims ({models['extractor']}; {extractor.counts()}), up to {x.claims_per_paper} per paper; "
            f"each source span must occur in the abstract verbatim (whitespace-normalised) or near-verbatim "
            f"(difflib >= {x.span_match_min:.2f}) and is stored at its real offsets; claims with spans not found are "
            "rejected; a paper without a usable answer is extracted offline")
    else:
        out["extraction"] = m["extraction"] + f"; {not_used('extractor', models['extractor'], extractor)}"
    verifier = _usage_of(roles, "verifier")
    if verifier.used:
        out["verification"] = (
            m["verification"] + f"; the LLM verifier ({models['verifier']}; {verifier.counts()}) labels each claim "
            "SUPPORTED, CONTRADICTED or NOT_ENOUGH_INFO against the passages the index selects for it (the most "
            f"similar sentence of each of the {v.verifier_passages} closest kept papers), and only SUPPORTED claims "
            "stay verified")
    else:
        out["verification"] = m["verification"] + f"; {not_used('verifier', models['verifier'], verifier)}"
    used = [r for r in REVIEWERS if _usage_of(roles, r).used]
    unused = [f"{not_used(r.upper(), models[r], _usage_of(roles, r))}" for r in REVIEWERS if r not in used]
    tribunal = m["tribunal"]
    if used:
        reviewers = ", ".join(f"{r.upper()} {models[r]} ({_usage_of(roles, r).counts()})" for r in used)
        tribunal = tribunal.replace("(measured rubrics)", f"(measured rubrics, then LLM reviewers: {reviewers}, "
                                    f"given the measured signals; review score = min({1 - w:g} x rubric "
                                    f"+ {w:g} x LLM, rubric + {t.llm_review_max_raise:g}))")
    out["tribunal"] = "; ".join([tribunal, *unused])
    return out
