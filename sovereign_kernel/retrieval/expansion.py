"""Query expansion from the corpus itself, for questions worded differently from the papers.

- ``acronym_variants``: an acronym in the question gains the long form the corpus defines for it
  ("RAG" -> "retrieval augmented generation", read from "... generation (RAG)" in the papers that
  use it), and a long form gains its acronym — so a question and a paper that name one thing two
  ways still meet in BM25.
- ``dense_feedback``: pseudo-relevance feedback whose feedback documents are chosen by meaning, not
  by shared words: of BM25's candidates, the ones closest to the question's embedding lend their
  distinctive terms. A question that paraphrases a paper's technical term reaches the term through
  the papers that are about the same thing.
"""

from __future__ import annotations

import re
from collections import Counter
from typing import Callable, Sequence

import numpy as np

from sovereign_kernel.domain.schemas import Paper, paper_text
from sovereign_kernel.domain.text import content_tokens, keyphrases
from sovereign_kernel.retrieval.bm25 import BM25Index

_ACRONYM = re.compile(r"\b([A-Z][A-Za-z0-9]*[A-Z][A-Za-z0-9]*?)s?\b")
_DEFINED = re.compile(r"((?:[A-Za-z][A-Za-z0-9'-]*\s+){1,8})\(\s*([A-Z][A-Za-z0-9-]{1,9}?)s?\s*\)")
DOCS_READ = 40  # papers read for an acronym's definition: enough to see the usual one, cheap


def _initials(words: Sequence[str]) -> str:
    return "".join(part[0] for w in words for part in w.split("-") if part).lower()


def _long_form(acronym: str, words: list[str]) -> str | None:
    """The shortest run of words ending just before "(ACRONYM)" whose initials spell it (letters only)."""
    letters = re.sub(r"[^a-z]", "", acronym.lower())
    for n in range(1, min(len(words), 8) + 1):
        run = words[-n:]
        if _initials(run) == letters or "".join(w[0] for w in run).lower() == letters:
            return " ".join(run).lower()
    return None


def acronym_variants(question: str, index: BM25Index, papers: Sequence[Paper]) -> list[str]:
    """Long forms of the question's acronyms, and acronyms of its long forms, as the corpus defines them."""
    out: list[str] = []
    asked = {a for a in _ACRONYM.findall(question) if sum(ch.isupper() for ch in a) >= 2}
    for acronym in sorted(asked):
        forms: Counter[str] = Counter()
        for idx in index.documents(acronym.lower())[:DOCS_READ]:
            for words, defined in _DEFINED.findall(paper_text(papers[idx])):
                if defined.lower() == acronym.lower() and (form := _long_form(defined, words.split())):
                    forms[form] += 1
        if forms:
            out.append(max(forms.items(), key=lambda kv: (kv[1], kv[0]))[0])
    for phrase in keyphrases(question):
        words = phrase.split()
        runs = [words[i:j] for i in range(len(words)) for j in range(i + 2, len(words) + 1)]
        if not runs:
            continue
        found: Counter[str] = Counter()
        texts = [paper_text(papers[idx]) for idx, _ in index.search(phrase, DOCS_READ // 2)]
        for run in runs:
            letters = _initials(run)
            pattern = re.compile(r"\b" + r"[\s-]+".join(re.escape(w) + r"\w*" for w in run)
                                 + r"\s*\(\s*([A-Z][A-Za-z0-9-]{1,9}?)s?\s*\)", re.I)
            for text in texts:
                for m in pattern.finditer(text):
                    if re.sub(r"[^a-z]", "", m.group(1).lower()) == letters:
                        found[m.group(1)] += 1
        if found:
            out.append(max(found.items(), key=lambda kv: (kv[1], kv[0]))[0])
    return [v for v in dict.fromkeys(out) if v.lower() not in question.lower()]


def dense_feedback(question: str, index: BM25Index, papers: Sequence[Paper],
                   embed: Callable[[list[str], str], np.ndarray], *, candidates: int = 30, neighbours: int = 5,
                   terms: int = 4) -> list[str]:
    """Distinctive terms shared by the ``neighbours`` BM25 candidates closest to the question in
    embedding space (each term in >= 2 of them, in 2 to 5% of the corpus, not in the question)."""
    cleaned = " ".join(content_tokens(question)) or question
    found = [idx for idx, _ in index.search(cleaned, candidates)]
    if len(found) < 2:
        return []
    qvec = embed([question], "query")[0]
    pvecs = embed([paper_text(papers[i]) for i in found], "passage")
    order = np.lexsort((np.arange(len(found)), -(pvecs @ qvec)))[:neighbours]
    n_docs = max(1, len(papers))
    df = index.document_frequency
    asked = set(content_tokens(question))
    counts: Counter[str] = Counter()
    for j in order:
        counts.update(t for t in set(content_tokens(paper_text(papers[found[j]])))
                      if t not in asked and not t[0].isdigit() and 2 <= df(t) <= 0.05 * n_docs)
    return [t for t, c in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])) if c >= 2][:terms]
