"""Query planning: from a question, a few diverse keyword queries.

Offline, the planner is keyphrase extraction plus pseudo-relevance feedback: the question's
content words, its rarest aspects, an expansion with terms the top documents share, then the
rarest aspect paired with each other aspect. The queries of an LLM planner or a reviser pass
through ``clean_queries`` before they are searched.
"""

from __future__ import annotations

import re
from collections import Counter
from typing import Callable, Iterable, Sequence

import numpy as np

from sovereign_kernel.domain.schemas import Paper, paper_text
from sovereign_kernel.domain.text import content_tokens, keyphrases
from sovereign_kernel.retrieval.bm25 import BM25Index
from sovereign_kernel.retrieval.expansion import acronym_variants, dense_feedback

MAX_QUERY_WORDS = 12


def plan_queries_offline(question: str, index: BM25Index, papers: Sequence[Paper], n_queries: int,
                         embed: Callable[[list[str], str], np.ndarray] | None = None) -> list[str]:
    """Diverse queries: the question's content words (with the corpus's acronyms or long forms of
    its terms), its rarest aspects, a pseudo-relevance feedback expansion, then the rarest aspect
    paired with each other aspect. ``papers`` are the index's documents, in its order. With
    ``embed(texts, kind)``, the feedback documents are the candidates closest to the question in
    meaning (``expansion.dense_feedback``), not the ones sharing most of its words."""
    phrases = keyphrases(question)
    cleaned = " ".join(content_tokens(question)) or question
    variants = acronym_variants(question, index, papers)
    if variants:
        cleaned = " ".join([cleaned, *variants])
    n_docs = max(1, len(papers))
    df = index.document_frequency
    # Rarest first: rare aspects carry the question's specificity (absent terms count as rarest).
    rarity = {p: min((df(t) for t in content_tokens(p)), default=n_docs) for p in phrases}
    rare = sorted(phrases, key=lambda p: (rarity[p], p))
    candidates = [cleaned, " ".join(rare[:2])]
    # Pseudo-relevance feedback: distinctive terms shared by the top documents, skipping
    # terms so common (> 5% of papers) that they would only add noise.
    if embed is not None:
        expansion = dense_feedback(question, index, papers, embed)
    else:
        counts: Counter[str] = Counter()
        question_terms = set(content_tokens(question))
        for idx, _ in index.search(cleaned, 8):
            counts.update(
                t for t in set(content_tokens(paper_text(papers[idx])))
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


def clean_queries(queries: Iterable[str], n: int, exclude: Iterable[str] = ()) -> list[str]:
    """Distinct, non-empty keyword queries (at most 12 words each), none from ``exclude``."""
    excluded = set(exclude)
    out: list[str] = []
    for q in queries:
        q = " ".join(re.sub(r"[\"'`]", " ", str(q)).split()[:MAX_QUERY_WORDS])
        if q and q.lower() not in {o.lower() for o in out} and q not in excluded:
            out.append(q)
    return out[:n]


def arxiv_query(query: str, max_terms: int = 4) -> str:
    """A planned keyword query in arXiv's search syntax: its first content terms, all required."""
    terms = list(dict.fromkeys(content_tokens(query)))[:max_terms]
    return " AND ".join(f'all:"{t}"' if "-" in t else f"all:{t}" for t in terms)
