"""retriever agent: plan diverse queries, search them in parallel, rank and gate.

Offline, the planner is keyphrase extraction plus pseudo-relevance feedback
(``retrieval.planning``); search is BM25 over the local corpus and/or the arXiv API; ranking is
a hybrid of question-abstract embedding similarity and aspect coverage
(``retrieval.ranking``); papers below the relevance gate are dropped with the reason recorded.
With an LLM, the model plans the first round's queries.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from langgraph.runtime import Runtime

from sovereign_kernel.domain.errors import SourceError, SourceUnavailableError
from sovereign_kernel.domain.schemas import Paper, SearchHit
from sovereign_kernel.graph.state import RetrieverState, SearchTask
from sovereign_kernel.llm.schemas import PlannedQueries
from sovereign_kernel.prompts import render_prompt
from sovereign_kernel.retrieval.dense import DENSE_QUERY
from sovereign_kernel.retrieval.facets import joint_coverage, joint_papers, question_facets
from sovereign_kernel.retrieval.passages import PassageIndex
from sovereign_kernel.retrieval.planning import arxiv_query, clean_queries, plan_queries_offline
from sovereign_kernel.retrieval.ranking import score_candidates
from sovereign_kernel.runtime.context import RunContext
from sovereign_kernel.runtime.progress import progress
from sovereign_kernel.runtime.workspace import Resources
from sovereign_kernel.sources.corpus import corpus_note

ARXIV_FAILED = "Live arXiv source failed"
FULL_TEXT_FAILED = "Full text unavailable"


async def plan_queries(state: RetrieverState, runtime: Runtime[RunContext]) -> dict[str, Any]:
    res = await runtime.context.aresources()
    n_queries = runtime.context.settings.retriever.n_queries
    round_ = state.get("round", 0)
    queries = None
    if round_ > 0 and state.get("refined_queries"):
        queries = state["refined_queries"][:n_queries]
    elif runtime.context.llm_session is not None:
        queries = await plan_queries_llm(runtime, state["question"], res, n_queries, round_)
    if queries is None:
        queries = await asyncio.to_thread(offline_queries, runtime.context, res, state["question"], n_queries)
    progress("plan", round=round_, queries=queries)
    return {"queries": queries, "round": round_}


def offline_queries(ctx: RunContext, res: Resources, question: str, n_queries: int) -> list[str]:
    """The offline planner, its feedback documents chosen by the run's embedder (blocking)."""
    return ctx.vectors(res).consistent(lambda vectors: plan_queries_offline(
        question, res.bm25, res.corpus.papers, n_queries, embed=lambda texts, kind: vectors.embed(texts, kind=kind)),
        "plan")


async def plan_queries_llm(runtime: Runtime[RunContext], question: str, res: Resources, n_queries: int,
                           round_: int) -> list[str] | None:
    """The LLM planner's ``n_queries`` diverse keyword queries, topped up from the offline planner
    when it gives fewer distinct ones; None to fall back to the offline planner."""
    answer = await runtime.context.llm_session.structured(
        "planner", PlannedQueries, render_prompt("planner", question=question, n_queries=n_queries),
        item=f"round {round_}")
    queries = clean_queries(answer.queries, n_queries) if answer is not None else []
    if not queries:
        return None
    if len(queries) < n_queries:
        offline = await asyncio.to_thread(offline_queries, runtime.context, res, question, n_queries)
        queries = clean_queries([*queries, *offline], n_queries)
    return queries


async def search(task: SearchTask, runtime: Runtime[RunContext]) -> dict[str, Any]:
    """One query against every configured source (one ``Send`` branch).

    A failing live source does not fail the branch: it leaves a note, and ``rank_and_gate``
    decides whether any source is left.
    """
    res = await runtime.context.aresources()
    settings = runtime.context.settings
    k = settings.retriever.hits_per_query
    found: list[tuple[Paper, float]] = []
    notes: list[str] = []
    for source in settings.source_list:
        if source == "local":
            hits = await asyncio.to_thread(res.bm25.search, task["query"], k)
            found += [(res.corpus.papers[idx], score) for idx, score in hits]
            if res.passages is not None and settings.retriever.read_full_text:  # the papers whose passages match
                in_text = await asyncio.to_thread(res.passages.search_papers, task["query"], k)
                found += [(res.corpus.by_id[pid], score) for pid, score in in_text]
        elif source == "arxiv":
            try:
                papers = await res.arxiv.search(arxiv_query(task["query"]), k)
            except SourceError as exc:
                notes.append(f"{ARXIV_FAILED}: {exc}")
                continue
            # arXiv returns relevance order without scores: a decreasing pseudo-score keeps the order.
            found += [(p, round(1.0 / (1 + r), 4)) for r, p in enumerate(papers)]
    hits = [
        SearchHit(query=task["query"], query_index=task["query_index"], round=task["round"],
                  paper_id=paper.id, lexical_score=round(score, 4), rank=rank)
        for rank, (paper, score) in enumerate(found)
    ]
    progress("search", query=task["query"], hits=len(hits), of=task.get("of"))
    return {"hits": hits, "candidates": {p.id: p for p, _ in found}, "notes": notes}


async def rank_and_gate(state: RetrieverState, runtime: Runtime[RunContext]) -> dict[str, Any]:
    res = await runtime.context.aresources()
    settings = runtime.context.settings
    failures = [n for n in state.get("notes", []) if n.startswith(ARXIV_FAILED)]
    if not state.get("hits") and failures and "local" not in settings.source_list:
        # Never an empty "successful" report: with no source left the run stops here.
        raise SourceUnavailableError(f"no source left to search: {failures[0]}")
    # Candidates of earlier rounds come back with ``ranked``; this round's, from its searches.
    candidates = {sp.paper.id: sp.paper for sp in state.get("ranked", [])} | state.get("candidates", {})
    local = "local" in settings.source_list

    def rank():
        facets = question_facets(state["question"], res.terms, settings.retriever.facet_generic_share)
        hits = list(state.get("hits", []))
        if local:  # the papers that join the question's facets, and those nearest it in meaning, are
            # candidates whatever words the queries used (``retrieval.dense``: paraphrased questions)
            joined = [res.corpus.papers[i] for i in joint_papers(facets, res.terms)]
            near = res.dense_candidates(state["question"], settings.retriever.dense_candidates)
            n, round_ = len(state.get("queries", [])), state.get("round", 0)
            for qi, (query, papers) in enumerate(
                    (("facets: " + " + ".join(f.phrase for f in facets if not f.generic), joined), (DENSE_QUERY, near))):
                hits += [SearchHit(query=query, query_index=n + qi, round=round_, paper_id=p.id, lexical_score=0.0,
                                   rank=r) for r, p in enumerate(papers)]
                candidates.update({p.id: p for p in papers})
        if res.passages is not None and settings.retriever.read_full_text:  # read the best-matching full texts
            r = settings.retriever
            candidates.update(res.passages.read(list(candidates.values()), state["question"],
                                                max_papers=2 * r.max_papers, keep=r.passages_per_paper))
        scored, aspects = runtime.context.vectors(res).consistent(lambda vectors: score_candidates(
            state["question"], hits, candidates, index=res.bm25, vectors=vectors,
            corpus_stems=res.corpus_stems if local else None, settings=settings.retriever, facets=facets,
            reorder=res.rerank(state["question"], settings.retriever)), stage="rank")
        kept = [s.paper for s in scored if s.kept]
        return scored, aspects, kept, joint_coverage(facets, kept, res.terms if local else None)

    scored, aspects, kept, coverage = await asyncio.to_thread(rank)
    progress("rank", candidates=len(scored), kept=len(kept), dropped=len(scored) - len(kept),
             joint_coverage=coverage.share)
    return {"ranked": scored, "papers": kept, "aspects": aspects, "coverage": coverage,
            "notes": library_notes(res.corpus) if local else []}


def library_notes(corpus) -> list[str]:
    """What a corpus could not give: its lines skipped and ids repeated (by reason), the PDFs skipped
    (each named with its reason) and duplicates."""
    notes = [note] if (note := corpus_note(corpus)) else []
    if skipped := corpus.skipped_files:
        listed = "; ".join(f"{s.file} ({s.reason}{': ' + s.detail if s.detail else ''})" for s in skipped[:8])
        notes.append(f"Library files skipped: {len(skipped)} PDF file(s) could not be read and were left out: "
                      f"{listed}{' …' if len(skipped) > 8 else ''}.")
    if dupes := corpus.duplicate_files:
        notes.append(f"Library duplicates: {len(dupes)} PDF file(s) repeat a paper another file gives (read once): "
                     f"{', '.join(dupes[:8])}{' …' if len(dupes) > 8 else ''}.")
    return notes


async def read_full_text(state: RetrieverState, runtime: Runtime[RunContext]) -> dict[str, Any]:
    """With ``--source arxiv --full-text``: download the kept arXiv papers' PDFs (through the same
    3-second limiter as the searches, cached by URL), parse them and read each one's best passages.
    A PDF that cannot be had or read leaves its paper read from the abstract, and the report says so.
    A library's PDFs were read before ranking (``rank_and_gate``): nothing to do for them here."""
    res = await runtime.context.aresources()
    settings = runtime.context.settings
    todo = [p for p in state.get("papers", []) if not p.full_text and p.source.startswith("arxiv")]
    if not settings.arxiv.full_text or res.arxiv_pdf is None or not todo:
        return {}
    notes: list[str] = []
    paths: dict[str, Path] = {}
    for paper, got in zip(todo, await asyncio.gather(*(res.arxiv_pdf.fetch(p.id, p.version) for p in todo),
                                                     return_exceptions=True)):
        if isinstance(got, BaseException):
            if not isinstance(got, SourceError):
                raise got
            notes.append(f"{FULL_TEXT_FAILED}: arXiv:{paper.id} read from its abstract ({got})")
        else:
            paths[paper.id] = got
        progress("download", paper=paper.id, ok=paper.id in paths, done=len(paths), total=len(todo))
    texts = await asyncio.to_thread(res.parse_pdfs, list(paths.values()))
    full = {}
    for pid, (ft, skipped) in zip(paths, texts):
        if ft is None:
            notes.append(f"{FULL_TEXT_FAILED}: arXiv:{pid} read from its abstract (its PDF: {skipped.reason})")
        else:
            full[pid] = ft.model_copy(update={"paper_id": pid})
    read: dict[str, Paper] = {}
    if full:
        r = settings.retriever
        index = await asyncio.to_thread(PassageIndex.build, list(full.values()))
        readable = [p.model_copy(update={"full_text": True}) for p in todo if p.id in full]
        read = await asyncio.to_thread(lambda: index.read(readable, state["question"], max_papers=len(readable),
                                                          keep=r.passages_per_paper))
    papers = [read.get(p.id, p) for p in state["papers"]]
    ranked = [sp.model_copy(update={"paper": read[sp.paper.id]}) if sp.paper.id in read else sp
              for sp in state.get("ranked", [])]
    facets = [f.model_copy(update={"covered_by": []}) for f in state["coverage"].facets]
    coverage = joint_coverage(facets, papers, res.terms if "local" in settings.source_list else None)
    progress("full_text", read=len(read), failed=len(todo) - len(read))
    return {"papers": papers, "ranked": ranked, "coverage": coverage, "notes": notes}
