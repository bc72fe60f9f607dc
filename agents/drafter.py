"""draft: the synthesis the tribunal reviews, built only from grounded claims
(``synthesis.draft.build_draft``): the Answer, the findings by theme, the comparison of reported
effects and the papers' stated limitations.

What this node adds to the algorithm: which claims are background or aim statements rather than
findings (the extraction's claim cues), the claims' sentence vectors (the local MiniLM the verifier
uses, so themes cluster the same way in every mode), how many corpus papers hold each facet's words
(the Answer's "checked: ..."), and, with an LLM, the ``writer`` role: a generated Answer, audited
sentence by sentence (``synthesis.answer.audit``, with the calibrated verifier as a second
opinion); a sentence that fails is cut, and if none survives the extractive Answer stands.
"""

from __future__ import annotations

import asyncio
from typing import Any, Sequence

from langgraph.runtime import Runtime

from sovereign_kernel.domain.ids import source_label
from sovereign_kernel.agents.common import round_claims
from sovereign_kernel.domain.schemas import Answer, Claim, Draft, Paper
from sovereign_kernel.domain.text import clip, split_sentences
from sovereign_kernel.graph.state import ResearchState
from sovereign_kernel.llm.schemas import WrittenAnswer
from sovereign_kernel.prompts import render_prompt
from sovereign_kernel.runtime.context import RunContext
from sovereign_kernel.runtime.progress import progress
from sovereign_kernel.runtime.workspace import Resources
from sovereign_kernel.synthesis.answer import AnswerInputs, audit, build_answer, gaps, unanswerable_reasons
from sovereign_kernel.synthesis.draft import answer_inputs, build_draft
from sovereign_kernel.verification.claim_cues import states_no_finding
from sovereign_kernel.verification.sentence_verifier import SentenceVerifier

async def draft(state: ResearchState, runtime: Runtime[RunContext]) -> dict[str, Any]:
    result = await make_draft(state, runtime.context)
    progress("draft", findings=len(result.findings), themes=[t.name for t in result.themes],
             answer=result.answer.status if result.answer else None, aspects_missing=len(result.aspects_missing))
    return {"draft": result}


async def make_draft(state: ResearchState, ctx: RunContext) -> Draft:
    """The draft of the state as it is (the owner's edit re-drafts with it too)."""
    res = await ctx.aresources()
    papers = {p.id: p for p in state.get("papers", [])}
    claims = round_claims(state)
    coverage = state.get("coverage")
    background = not_findings(claims, papers)
    findings = [c for c in claims if c.grounded and c.id not in background]
    vectors = await asyncio.to_thread(
        lambda: dict(zip([c.id for c in findings], res.verifier_vectors.embed([c.text for c in findings],
                                                                               kind="passage")))
        if findings else {})
    counts = await asyncio.to_thread(facet_counts, state, res)
    common = dict(coverage=coverage, ranked=state.get("ranked", []), background=background, facet_counts=counts)
    answer = None
    if ctx.llm_session is not None:
        inp = answer_inputs(state["question"], claims, papers, **common)
        if not unanswerable_reasons(inp):  # what the corpus cannot answer is said, not generated
            answer = await written_answer(state, ctx, res, inp)
    cfg = ctx.settings.synthesis
    return await asyncio.to_thread(lambda: build_draft(
        state["question"], claims, papers, state.get("aspects", []), len(state.get("ranked", [])),
        vectors=vectors, settings=cfg, answer=answer, **common))


def not_findings(claims: Sequence[Claim], papers: dict[str, Paper]) -> set[str]:
    """Claims that state background, motivation or an aim, not a finding (``states_no_finding``)."""
    out = set()
    for c in claims:
        paper = papers.get(c.paper_id)
        opening = paper is not None and next(
            (i for i, s in enumerate(split_sentences(paper.abstract)) if s.start <= c.source_span.start < s.end + 1),
            None) == 0
        if states_no_finding(c.text, opening):
            out.add(c.id)
    return out


def facet_counts(state: ResearchState, res: Resources) -> dict[str, int]:
    """Corpus papers holding each facet's words, when the coverage counted pairs in the corpus."""
    coverage = state.get("coverage")
    if coverage is None or not any(p.in_corpus is not None for p in coverage.pairs):
        return {}
    return {f.phrase: len(res.terms.joint(f.words)) for f in coverage.facets}


def writer_block(inp: AnswerInputs) -> str:
    """The facets, then one line per claim row the answer may cite (corroborated findings only)."""
    facets = "; ".join(f.phrase for f in inp.facets) or "(none recorded)"
    rows = [f"{inp.labels[c.id]} | corroborated by {len(c.corroborated_by)} other paper"
            f"{'s' if len(c.corroborated_by) != 1 else ''} | {source_label(c.paper_id)} | {clip(inp.named(c), 400)}"
            for c in inp.corroborated()]
    return "\n".join([f"Facets of the question: {facets}", *rows])


async def written_answer(state: ResearchState, ctx: RunContext, res: Resources, inp: AnswerInputs) -> Answer | None:
    """The writer's Answer, audited; None (the extractive Answer) when it did not answer or nothing survived."""
    sess, cfg = ctx.llm_session, ctx.settings.synthesis
    item = f"round {state.get('round', 0)}"
    prompt = render_prompt("writer", question=state["question"], claims=writer_block(inp),
                           max_sentences=cfg.answer_max_sentences)
    written = await sess.structured("writer", WrittenAnswer, prompt, item=item)
    if written is None:
        return None
    threshold = ctx.settings.verification.verify_threshold

    def supports(sentence: str, claims: Sequence[Claim]) -> bool:
        # The calibrated verifier, the cited claims (method named) standing in for the papers.
        sources = [Paper(id=c.id, title="", abstract=inp.named(c)) for c in claims]
        verifier = SentenceVerifier(sources, lambda texts: res.verifier_vectors.embed(texts, kind="passage"),
                                    calibration=res.calibration,
                                    token_encoder=res.tokens if res.calibration.uses_tokens else None,
                                    cross_encoder=res.cross_encoder if res.calibration.uses_cross_encoder else None)
        return any(s.confidence >= threshold for s in verifier.score([sentence])[0])

    drafts = [(s.text, s.rows) for s in written.sentences]
    kept, cut = await asyncio.to_thread(audit, drafts, inp, cfg.answer_min_overlap, supports)
    if cut:
        sess.record_distinct("writer", "rejected", [f"{item}:{i}:{c.text}" for i, c in enumerate(cut)])
    if not kept:
        sess.fallback("writer", item, f"the audit cut all {len(cut)} sentences")
        return build_answer(inp, cfg.answer_max_sentences).model_copy(update={"cut": cut})
    return Answer(status="answered", sentences=kept[: cfg.answer_max_sentences], gaps=gaps(inp, inp.corroborated()),
                  method=sess.tag("writer"), cut=cut)
