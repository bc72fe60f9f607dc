"""publisher: the Report, its Markdown and its ``paper-manifest-v1.1`` manifest.

Uncertainties are computed from this run's measurements, never boilerplate: a reader sees
exactly which checks fired (thin evidence, single sources, low confidence, drops, mode).
"""

from __future__ import annotations

import asyncio
import hashlib
from collections import Counter
from datetime import datetime, timezone

from langgraph.config import get_config
from langgraph.runtime import Runtime

from sovereign_kernel.agents.common import current_claims, progress
from sovereign_kernel.agents.drafter import order_claims
from sovereign_kernel.agents.llm_helpers import NEAR_VERBATIM
from sovereign_kernel.agents.rubric import LLM_MAX_RAISE, LLM_WEIGHT, Signals, measure
from sovereign_kernel.publishing.manifest import build_manifest, canonical_json, tier
from sovereign_kernel.llm.providers import ROLES
from sovereign_kernel.publishing.markdown import render_markdown
from sovereign_kernel.runtime.resources import RunContext, aget_resources
from sovereign_kernel.domain.schemas import Reference, Report, RunResults
from sovereign_kernel.domain.settings import OPERATIONAL_FIELDS
from sovereign_kernel.publishing.store import Store
from sovereign_kernel.verification.verifier import BASELINE_METHOD, DEFAULT_METHOD, load_calibration


def report_id(question: str, corpus_hash: str, settings: dict, content: Report) -> str:
    """Derived from the inputs *and* the content: the same run gives the same id (publishing is
    idempotent), while different content — say, after a software change — never takes an old id."""
    body = content.model_dump(mode="json", exclude={"report_id", "created_at"})
    digest = hashlib.sha256(canonical_json([question, corpus_hash, settings, body]).encode()).hexdigest()
    return f"SRK-{digest[:12]}"


def run_mode(ctx: RunContext) -> str:
    """``settings.mode`` as ``make_context`` set it; offline for a context with no model at all."""
    if ctx.llm_session is None and ctx.llm is None and ctx.embeddings is None:
        return "offline"
    return ctx.settings.mode


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


def uncertainties(s: Signals, state: dict, settings, mode: str, insufficient: bool, llm_usage: dict | None = None) -> list[str]:
    out = []
    if insufficient:
        why = []
        if s.terms_absent_from_corpus:
            why.append("no paper in the corpus mentions " + ", ".join(repr(t) for t in s.terms_absent_from_corpus))
        if state["draft"].aspects_missing:
            why.append("no verified claim addresses: " + ", ".join(state["draft"].aspects_missing))
        out.append("Insufficient evidence: " + "; ".join(why or ["no verified claims"]) + ".")
    if s.n_verified < settings.doi_min_verified_claims:
        out.append(f"Thin evidence: {s.n_verified} verified claims (DOI grade needs {settings.doi_min_verified_claims}).")
    if s.single_source_verified:
        out.append(f"Single-source findings: {s.single_source_verified} of {s.n_verified} verified claims are "
                   "supported only by the paper they came from.")
    low = sum(1 for c in current_claims(state) if c.confidence < settings.verify_threshold)
    if low:
        out.append(f"Low confidence: {low} of {s.n_claims} claims fall below the verification threshold "
                   f"{settings.verify_threshold:.2f}.")
    dropped = s.n_candidates - s.n_kept
    if dropped:
        out.append(f"Off-topic drops: {dropped} of {s.n_candidates} candidate papers were dropped by the relevance "
                   f"gate ({settings.relevance_gate:.2f}) or the {settings.max_papers}-paper limit.")
    if s.off_topic_claims:
        n = s.off_topic_claims
        out.append(f"Off-question claims: {n} of {s.n_claims} claims {'has' if n == 1 else 'have'} low "
                   "similarity to the question (cosine < 0.30).")
    if llm_usage is not None:
        out += llm_uncertainties(mode, llm_usage)
    else:  # offline, or custom embeddings without a chat model
        out.append(f"{mode.capitalize()} mode: claims are sentences quoted from abstracts, so 'verified' confirms the "
                   "quote at its offsets and corroboration by other papers is the informative signal; reviews are "
                   "measured rubrics; no language model read the papers, and only abstracts (not full texts) were "
                   "searched.")
    for note in state.get("notes", []):
        out.append(note)
    return out


async def publish(state: dict, runtime: Runtime[RunContext]) -> dict:
    res = await aget_resources(runtime.context)
    update = render(state, runtime.context, res)
    progress("publish", report_id=update["report"].report_id, tier=update["report"].quality_tier)
    return update


def render(state: dict, ctx: RunContext, res) -> dict:
    """Report, manifest and Markdown from the state: a pure function, so the owner's edit can re-render."""
    settings = ctx.settings
    s = measure(state)
    mode = run_mode(ctx)
    sess = ctx.llm_session
    llm_usage = sess.usage_report() if sess is not None else None
    llm_models = {role: sess.model_name(role) for role in ROLES} if sess is not None else None
    tribunal = state["tribunal"]
    claims = order_claims(current_claims(state))
    ranked = state.get("ranked", [])
    kept = [sp for sp in ranked if sp.kept]
    cited = {c.paper_id for c in claims}
    aspect_coverage = s.aspects_covered / s.n_aspects if s.n_aspects else 0.0
    insufficient = any(r.startswith("insufficient evidence") or r == "no verified claims"
                       for r in state.get("policy_reasons", []))
    public_settings = settings.public_dict()
    cal = load_calibration()
    methodology = {
        "mode": mode,
        "corpus": f"{res.corpus.label}; content hash {res.corpus.content_hash[:16]}",
        "queries": f"{len(state.get('queries', []))} planned queries (keyphrases, rarest aspects, pseudo-relevance "
                   f"feedback), searched in parallel with BM25 ({settings.hits_per_query} hits each): "
                   + " | ".join(state.get("queries", [])),
        "ranking": f"hybrid relevance = {settings.semantic_weight:.2f} x embedding similarity "
                   f"({res.embedder_id}) + {1 - settings.semantic_weight:.2f} x lexical coverage (mean of IDF-weighted "
                   f"question-word coverage and question-aspect coverage); gate "
                   f"{settings.relevance_gate:.2f}, at most {settings.max_papers} papers",
        "extraction": f"sentence segmentation + claim-cue scoring, up to {settings.claims_per_paper} claims per paper "
                      f"(min score {settings.min_claim_score:.2f}); spans are character offsets into the abstract",
        "verification": f"{DEFAULT_METHOD}: each retrieved paper's best sentence for the claim, scored by "
                        f"{cal.describe()} (sentence vectors: {res.verifier_vectors.model_id}); verified at "
                        f"confidence >= {settings.verify_threshold:.2f}. Baseline {BASELINE_METHOD} at "
                        f">= {settings.baseline_threshold:.2f} shown alongside",
        "tribunal": f"SKEPTIC, VALIDATOR, SYNTHESIZER in parallel (measured rubrics); revision round when the score "
                    f"< {settings.revision_threshold:.1f}, at most {settings.max_revision_rounds}; publish needs "
                    f">= {settings.publish_threshold:.1f} and sufficient evidence",
    }
    if llm_models is not None:
        methodology.update(llm_methodology(methodology, llm_models, settings, len(state.get("queries", []))))
    if state.get("revision_notes"):
        methodology["revision"] = "; ".join(state["revision_notes"])
    results = RunResults(
        papers_retrieved=len(ranked), papers_kept=len(kept), papers_dropped=len(ranked) - len(kept),
        claims_extracted=len(claims), claims_verified=sum(c.verified for c in claims),
        tribunal_score=tribunal.score, tribunal_verdict=tribunal.verdict, revision_round=state.get("round", 0),
        policy=state["policy"], policy_reasons=state.get("policy_reasons", []),
    )
    references = [
        Reference(id=sp.paper.id, title=sp.paper.title, authors=sp.paper.authors, published=sp.paper.published,
                  url=sp.paper.url or f"https://arxiv.org/abs/{sp.paper.id}", relevance=sp.relevance)
        for sp in kept if sp.paper.id in cited
    ]
    draft_ = state["draft"]
    report = Report(
        report_id="", title=_title(state["question"]), abstract=draft_.abstract, question=state["question"],
        methodology=methodology, results=results, findings=draft_.findings,
        uncertainties=uncertainties(s, state, settings, mode, insufficient, llm_usage),
        claims=claims, references=references, tribunal=tribunal, quality_tier="Watchlist",
        created_at=datetime.now(timezone.utc).replace(microsecond=0).isoformat(),
    )
    tier_name, basis = tier(report, public_settings, insufficient, aspect_coverage)
    report = report.model_copy(update={"quality_tier": tier_name})
    rid = report_id(state["question"], res.corpus.content_hash,
                    {k: v for k, v in public_settings.items() if k not in OPERATIONAL_FIELDS}, report)
    report = report.model_copy(update={"report_id": rid})
    manifest = build_manifest(
        report, settings=public_settings, mode=mode,
        corpus={"label": res.corpus.label, "content_hash": res.corpus.content_hash, "papers": len(res.corpus)},
        models={"embedder": res.embedder_id, "verifier": DEFAULT_METHOD, "calibration": cal.fitted_on,
                "verifier_embedder": res.verifier_vectors.model_id, "llm": llm_models},
        insufficient=insufficient, tier_basis=basis, papers=[sp.paper for sp in kept if sp.paper.id in cited],
        owner_review=state.get("owner_decision"), llm_usage=llm_usage,
        fallbacks=llm_usage["fallbacks"] if llm_usage is not None else [],
    )
    return {"report": report, "manifest": manifest, "report_markdown": render_markdown(report, manifest)}


def llm_methodology(m: dict, models: dict, settings, n_queries: int) -> dict:
    """The methodology lines that change when models are used (names from the session)."""
    reviewers = ", ".join(f"{r.upper()} {models[r]}" for r in ("skeptic", "validator", "synthesizer"))
    return {
        "queries": f"{n_queries} queries (first round: the LLM planner, {models['planner']}, or the offline planner "
                   "where it fell back; a revision round: the reviser's refined queries), searched in parallel with "
                   "BM25" + m["queries"].split("searched in parallel with BM25", 1)[-1],
        "extraction": f"LLM atomic claims ({models['extractor']}), up to {settings.claims_per_paper} per paper; each "
                      f"source span must occur in the abstract verbatim (whitespace-normalised) or near-verbatim "
                      f"(difflib >= {NEAR_VERBATIM:.2f}) and is stored at its real offsets; claims with spans not "
                      "found are rejected; a paper without a usable answer is extracted offline",
        "verification": m["verification"] + f"; the LLM verifier ({models['verifier']}) labels each claim SUPPORTED, "
                        "CONTRADICTED or NOT_ENOUGH_INFO against the passages the index selects for it (the most "
                        "similar sentence of each of the 3 closest kept papers), and only SUPPORTED claims stay verified",
        "tribunal": m["tribunal"].replace("(measured rubrics)", f"(measured rubrics, then LLM reviewers: {reviewers}, "
                                          f"given the measured signals; review score = min({1 - LLM_WEIGHT:g} x rubric "
                                          f"+ {LLM_WEIGHT:g} x LLM, rubric + {LLM_MAX_RAISE:g}))"),
    }


async def record(state: dict, runtime: Runtime[RunContext]) -> dict:
    """Publish to the store (or archive a rejected run). Idempotent, so a resumed run may repeat it."""
    settings = runtime.context.settings
    store = await asyncio.to_thread(lambda: Store(settings.resolved_home() / "store.sqlite"))
    report, decision = state["report"], state.get("owner_decision") or {}
    if runtime.context.replay:
        return {"publication": {"status": "REPLAYED", "report_id": report.report_id}}
    run_id = _thread_id()
    if decision.get("action") == "reject":
        if run_id:
            await asyncio.to_thread(store.upsert_run, run_id, state["question"], "ARCHIVED",
                                    report.report_id, decision.get("reason") or "rejected by the owner")
        progress("record", status="ARCHIVED", report_id=report.report_id)
        return {"publication": {"status": "ARCHIVED", "report_id": report.report_id}}
    await asyncio.to_thread(store.publish, report, state["manifest"], state["report_markdown"], run_id)
    await asyncio.to_thread(store.save_inputs, report.report_id, run_inputs(state, settings))
    progress("record", status="PUBLISHED", report_id=report.report_id)
    return {"publication": {"status": "PUBLISHED", "report_id": report.report_id}}


def run_inputs(state: dict, settings) -> dict:
    """What the reproduction gate replays: the question, settings and every source's content hash."""
    return {
        "question": state["question"],
        "settings": settings.public_dict(),
        "sources": sources(state),
        "owner_decision": state.get("owner_decision"),
        "content_hash": state["manifest"]["content_hash"],
    }


def sources(state: dict) -> list[tuple[str, str]]:
    """(id, content hash) of every paper any search returned: ``ranked`` holds each candidate."""
    return sorted({(sp.paper.id, sp.paper.content_hash) for sp in state.get("ranked", [])})


def _thread_id() -> str | None:
    try:
        return get_config().get("configurable", {}).get("thread_id")
    except RuntimeError:
        return None


def _title(question: str) -> str:
    q = " ".join(question.split()).rstrip("?")
    return q if len(q) <= 120 else q[:117].rstrip() + "…"
