"""retriever agent: plan 4 diverse queries, search them in parallel, rank and gate.

Offline, the planner is keyphrase extraction plus pseudo-relevance feedback; search is BM25
over the local corpus; ranking is a hybrid of question-abstract embedding similarity and
aspect coverage; papers below the relevance gate are dropped with the reason recorded.
"""

from __future__ import annotations

import asyncio
import math
from collections import Counter

import numpy as np
from langgraph.runtime import Runtime

from sovereign_kernel.agents.common import progress
from sovereign_kernel.agents.llm_helpers import clean_queries, session
from sovereign_kernel.domain.aspects import Aspect, covers, question_aspects, text_stems
from sovereign_kernel.retrieval.index import paper_text
from sovereign_kernel.llm.session import render_prompt
from sovereign_kernel.llm.schemas import PlannedQueries
from sovereign_kernel.runtime.resources import Resources, RunContext, aget_resources
from sovereign_kernel.sources.arxiv import ArxivSourceError, SourceUnavailableError
from sovereign_kernel.domain.schemas import Paper, ScoredPaper, SearchHit
from sovereign_kernel.domain.text import content_tokens, keyphrases

ARXIV_FAILED = "Live arXiv source failed"

# MiniLM question-abstract cosines: ~0.15 for unrelated cs papers, ~0.7 for the closest ones.
# Semantic relevance is this range stretched to 0..1.
SEMANTIC_FLOOR = 0.15
SEMANTIC_CEIL = 0.70


def plan_queries_offline(question: str, res: Resources, n_queries: int) -> list[str]:
    """Diverse queries: the question's content words, its rarest aspects, a pseudo-relevance
    feedback expansion, then the rarest aspect paired with each other aspect."""
    phrases = keyphrases(question)
    cleaned = " ".join(content_tokens(question)) or question
    n_docs = max(1, len(res.corpus))
    df = res.bm25.document_frequency
    # Rarest first: rare aspects carry the question's specificity (absent terms count as rarest).
    rarity = {p: min((df(t) for t in content_tokens(p)), default=n_docs) for p in phrases}
    rare = sorted(phrases, key=lambda p: (rarity[p], p))
    candidates = [cleaned, " ".join(rare[:2])]
    # Pseudo-relevance feedback: distinctive terms shared by the top documents, skipping
    # terms so common (> 5% of papers) that they would only add noise.
    counts: Counter[str] = Counter()
    question_terms = set(content_tokens(question))
    for idx, _ in res.bm25.search(cleaned, 8):
        counts.update(
            t for t in set(content_tokens(paper_text(res.corpus.papers[idx])))
            if t not in question_terms and not t[0].isdigit() and 2 <= df(t) <= 0.05 * n_docs
        )
    expansion = [t for t, c in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])) if c >= 3][:4]
    candidates.append(" ".join(rare[:2] + expansion))
    candidates += [f"{rare[0]} {p}" for p in phrases if rare and p != rare[0]]
    queries: list[str] = []
    for q in candidates:
        q = " ".join(q.split())
        if q and q not in queries:
            queries.append(q)
        if len(queries) == n_queries:
            break
    return queries


async def plan_queries_llm(sess, question: str, res: Resources, n_queries: int, round_: int) -> list[str] | None:
    """The LLM planner's ``n_queries`` diverse keyword queries, topped up from the offline planner
    when it gives fewer distinct ones; None to fall back to the offline planner."""
    answer = await sess.structured("planner", PlannedQueries, render_prompt("planner", question=question, n_queries=n_queries),
                                   item=f"round {round_}")
    queries = clean_queries(answer.queries, n_queries) if answer is not None else []
    if not queries:
        return None
    if len(queries) < n_queries:
        offline = await asyncio.to_thread(plan_queries_offline, question, res, n_queries)
        queries = clean_queries([*queries, *offline], n_queries)
    return queries


async def plan_queries(state: dict, runtime: Runtime[RunContext]) -> dict:
    res = await aget_resources(runtime.context)
    settings = runtime.context.settings
    round_ = state.get("round", 0)
    queries = None
    if round_ > 0 and state.get("refined_queries"):
        queries = state["refined_queries"][: settings.n_queries]
    elif (sess := session(runtime)) is not None:
        queries = await plan_queries_llm(sess, state["question"], res, settings.n_queries, round_)
    if queries is None:
        queries = await asyncio.to_thread(plan_queries_offline, state["question"], res, settings.n_queries)
    progress("plan", round=round_, queries=queries)
    return {"queries": queries, "round": round_}


def arxiv_query(query: str, max_terms: int = 4) -> str:
    """A planned keyword query in arXiv's search syntax: its first content terms, all required."""
    terms = list(dict.fromkeys(content_tokens(query)))[:max_terms]
    return " AND ".join(f'all:"{t}"' if "-" in t else f"all:{t}" for t in terms)


async def search(task: dict, runtime: Runtime[RunContext]) -> dict:
    """One query against every configured source (one ``Send`` branch: query, query_index, round).

    A failing live source does not fail the branch: it leaves a note, and ``rank_and_gate``
    decides whether any source is left.
    """
    res = await aget_resources(runtime.context)
    settings = runtime.context.settings
    k = settings.hits_per_query
    found: list[tuple[Paper, float]] = []
    notes: list[str] = []
    for source in settings.source_list:
        if source == "local":
            hits = await asyncio.to_thread(res.bm25.search, task["query"], k)
            found += [(res.corpus.papers[idx], score) for idx, score in hits]
        elif source == "arxiv":
            try:
                papers = await res.arxiv.search(arxiv_query(task["query"]), k)
            except ArxivSourceError as exc:
                notes.append(f"{ARXIV_FAILED}: {exc}")
                continue
            # arXiv returns relevance order without scores: a decreasing pseudo-score keeps the order.
            found += [(p, round(1.0 / (1 + r), 4)) for r, p in enumerate(papers)]
    hits = [
        SearchHit(query=task["query"], query_index=task["query_index"], round=task["round"],
                  paper_id=paper.id, lexical_score=round(score, 4), rank=rank)
        for rank, (paper, score) in enumerate(found)
    ]
    progress("search", query=task["query"], hits=len(hits))
    return {"hits": hits, "candidates": {p.id: p for p, _ in found}, "notes": notes}


def score_candidates(question: str, hits: list[SearchHit], candidates: dict[str, Paper], res: Resources,
                     settings) -> tuple[list[ScoredPaper], list[Aspect]]:
    """Every distinct candidate paper (``candidates``: by id, the papers ``hits`` name) with
    its hybrid relevance and the gate's decision.

    relevance = w x semantic + (1 - w) x lexical (w = ``settings.semantic_weight``), where
    semantic is the MiniLM question-abstract cosine stretched from [SEMANTIC_FLOOR, SEMANTIC_CEIL]
    to 0..1 and lexical is the mean of two absolute coverages of the question: the IDF-weighted
    share of its content words the paper contains (IDF from the local index; a word no paper
    contains weighs the most, so an unanswerable question's neighbours stay low) and the share
    of its aspects the paper covers. On SciFact train (bench/eval_scifact.py) this lexical part
    lifts nDCG@10 from 0.852 (aspects alone) to 0.862, with the gate's scale unchanged.
    """
    papers, found_by = {}, {}
    for h in hits:
        papers.setdefault(h.paper_id, candidates[h.paper_id])
        found_by.setdefault(h.paper_id, set()).add(h.query)
    ids = sorted(papers)
    # "In the corpus" = in the local index or in any paper a source returned.
    known_stems = set().union(*(text_stems(paper_text(p)) for p in papers.values()))
    if "local" in settings.source_list:
        known_stems |= res.corpus_stems
    aspects = question_aspects(question, known_stems)
    if not ids:
        return [], aspects
    qvec = res.vectors.embed([question], kind="query")[0]
    pvecs = res.vectors.embed([paper_text(papers[i]) for i in ids], kind="passage")
    cos = pvecs @ qvec
    n_docs = max(1, len(res.bm25.ids))
    idf = {t: math.log1p((n_docs - df + 0.5) / (df + 0.5))
           for t in dict.fromkeys(content_tokens(question)) for df in (res.bm25.document_frequency(t),)}
    idf_total = sum(idf.values())
    scored = []
    for pid, c in zip(ids, cos):
        text = paper_text(papers[pid])
        stems = text_stems(text)
        covered = [a for a in aspects if covers(a, stems)]
        for a in covered:
            a.covered_by.append(pid)
        aspect_share = len(covered) / len(aspects) if aspects else 0.0
        words = set(content_tokens(text))
        term_share = sum(w for t, w in idf.items() if t in words) / idf_total if idf_total else 0.0
        lexical = (aspect_share + term_share) / 2
        semantic = float(np.clip((c - SEMANTIC_FLOOR) / (SEMANTIC_CEIL - SEMANTIC_FLOOR), 0.0, 1.0))
        relevance = settings.semantic_weight * semantic + (1 - settings.semantic_weight) * lexical
        scored.append(ScoredPaper(
            paper=papers[pid], relevance=round(relevance, 4), lexical=round(lexical, 4),
            semantic=round(float(c), 4), queries=sorted(found_by[pid]),
        ))
    # Ties (both semantic scores clipped at 1, same lexical) go to the closer embedding.
    scored.sort(key=lambda s: (-s.relevance, -s.semantic, s.paper.id))
    kept = 0
    for s in scored:
        if s.relevance < settings.relevance_gate:
            s.kept, s.reason = False, f"relevance {s.relevance:.2f} below the gate {settings.relevance_gate:.2f}"
        elif kept >= settings.max_papers:
            s.kept, s.reason = False, f"beyond the {settings.max_papers} most relevant papers"
        else:
            kept += 1
            s.reason = f"relevance {s.relevance:.2f} (semantic {s.semantic:.2f}, lexical {s.lexical:.2f})"
    kept_ids = {s.paper.id for s in scored if s.kept}
    for a in aspects:
        a.covered_by = sorted(p for p in a.covered_by if p in kept_ids)
    return scored, aspects


async def rank_and_gate(state: dict, runtime: Runtime[RunContext]) -> dict:
    res = await aget_resources(runtime.context)
    failures = [n for n in state.get("notes", []) if n.startswith(ARXIV_FAILED)]
    if not state.get("hits") and failures and "local" not in runtime.context.settings.source_list:
        # Never an empty "successful" report: with no source left the run stops here.
        raise SourceUnavailableError(f"no source left to search: {failures[0]}")
    # Candidates of earlier rounds come back with ``ranked``; this round's, from its searches.
    candidates = {sp.paper.id: sp.paper for sp in state.get("ranked", [])} | state.get("candidates", {})
    scored, aspects = await asyncio.to_thread(
        score_candidates, state["question"], state.get("hits", []), candidates, res, runtime.context.settings
    )
    kept = [s.paper for s in scored if s.kept]
    progress("rank", candidates=len(scored), kept=len(kept), dropped=len(scored) - len(kept))
    return {"ranked": scored, "papers": kept, "aspects": [a.model_dump() for a in aspects]}
