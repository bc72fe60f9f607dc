"""Passages of a library's full texts: split with page anchors, indexed lexically, chosen per question.

A paper's body is cut into overlapping windows of whole sentences (``PASSAGE_CHARS`` long, the
last sentences of one window opening the next, so a finding split by a window edge is whole in
one of them). Every passage keeps its page and character offsets in the body. All passages of a
library go into one BM25 index, cached on disk by the library's content hash, which chooses what a
question reads; nothing is embedded up front — only the sentences of the passages a run reads are,
when it reads them (``VectorCache`` keeps their vectors on disk) — so a library of thousands of
PDFs stays interactive.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Mapping, Sequence

import numpy as np

from sovereign_kernel.domain.fulltext import FullText, Passage
from sovereign_kernel.domain.schemas import Paper, paper_text
from sovereign_kernel.domain.text import body_sentences
from sovereign_kernel.retrieval.bm25 import BM25Index, cached_index

PASSAGE_CHARS = 1200  # ~200 words: a paragraph or two, what a finding and its conditions take
PASSAGE_OVERLAP = 250  # characters of whole sentences the next window repeats
PASSAGE_INDEX_FORMAT = "passages-v1"
DEEP_PAPERS = 3  # papers whose passages match the question best, read to full depth (the rest to half)


def split_passages(ft: FullText, size: int = PASSAGE_CHARS, overlap: int = PASSAGE_OVERLAP) -> list[Passage]:
    """Overlapping windows of whole sentences over the body, each with its pages and section."""
    sentences = body_sentences(ft.body)
    passages: list[Passage] = []
    i = 0
    while i < len(sentences):
        j = i
        while j < len(sentences) and (j == i or sentences[j].end - sentences[i].start <= size):
            j += 1
        start, end = sentences[i].start, sentences[j - 1].end
        passages.append(Passage(
            paper_id=ft.paper_id, index=len(passages), start=start, end=end, page=ft.page_at(start),
            end_page=ft.page_at(end - 1), page_breaks=[b for b in ft.page_starts if start < b < end],
            section=ft.section_at(start), text=ft.body[start:end]))
        if j >= len(sentences):
            break
        # the next window opens with the last sentences of this one (up to ``overlap`` characters)
        k = j
        while k - 1 > i and end - sentences[k - 1].start <= overlap:
            k -= 1
        i = k if k > i else j
    return passages


@dataclass
class PassageIndex:
    """Every passage of a library's full texts, with BM25 over their text."""

    passages: list[Passage]
    index: BM25Index | None
    by_paper: dict[str, list[int]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for i, p in enumerate(self.passages):
            self.by_paper.setdefault(p.paper_id, []).append(i)

    @classmethod
    def build(cls, full_texts: Iterable[FullText], size: int = PASSAGE_CHARS,
              overlap: int = PASSAGE_OVERLAP) -> "PassageIndex":
        passages = [p for ft in full_texts for p in split_passages(ft, size, overlap)]
        return cls(passages, BM25Index.build_texts([p.text for p in passages], _ids(passages)) if passages else None)

    def __len__(self) -> int:
        return len(self.passages)

    def of_paper(self, paper_id: str) -> list[int]:
        """Indexes of a paper's passages, in body order."""
        return self.by_paper.get(paper_id, [])

    def search_papers(self, query: str, k: int) -> list[tuple[str, float]]:
        """The ``k`` papers whose best passage scores highest for ``query`` (paper id, that score)."""
        if self.index is None:
            return []
        best: dict[str, float] = {}
        for i, score in self.index.search(query, max(k * 8, 50)):
            pid = self.passages[i].paper_id
            if pid not in best:
                best[pid] = score
            if len(best) >= k:
                break
        return list(best.items())

    def read(self, papers: Sequence[Paper], question: str, *, max_papers: int, keep: int) -> dict[str, Paper]:
        """The papers with full text, the ``max_papers`` whose passages answer the question best
        (BM25), each copied with its best passages attached (in body order): ``keep`` for the
        ``DEEP_PAPERS`` closest papers, half as many for the others.

        Passages are ranked by BM25 for the question alone. On LitQA2 train (36 questions whose key
        passage lies in one passage of its paper) BM25 puts it among a paper's 6 / 8 best for 29 / 31,
        ``0.5 x MiniLM cosine + 0.5 x BM25`` for 27 / 30 at the cost of embedding every candidate, and
        adding the planned queries moved it down (24 / 27); nothing is embedded here."""
        readable = [p for p in papers if p.full_text and self.of_paper(p.id)]
        if not readable or self.index is None:
            return {}
        scores = self.index.scores(question)
        best = {p.id: float(scores[self.of_paper(p.id)].max()) for p in readable}
        readable = sorted(readable, key=lambda p: (-best[p.id], p.id))[:max_papers]
        out = {}
        for rank, p in enumerate(readable):
            mine = np.asarray(self.of_paper(p.id))
            depth = keep if rank < DEEP_PAPERS else max(1, keep // 2)  # the closest papers are read deeper
            top = mine[np.argsort(-scores[mine], kind="stable")[:depth]]
            out[p.id] = p.model_copy(update={"passages": [self.passages[i] for i in sorted(top.tolist())]})
        return out


def load_or_build_passages(full_texts: Sequence[FullText], library_hash: str, home: Path) -> PassageIndex:
    """The library's passage index, from the disk cache when its content hash matches."""
    passages = [p for ft in full_texts for p in split_passages(ft)]
    if not passages:  # no full text: nothing to index (and every search finds nothing)
        return PassageIndex([], None)
    return PassageIndex(passages, cached_index(home / "index" / f"{PASSAGE_INDEX_FORMAT}-{library_hash[:24]}",
                                               lambda: [p.text for p in passages], _ids(passages)))


def _ids(passages: Sequence[Passage]) -> list[str]:
    return [f"{p.paper_id}#{p.index}" for p in passages]


def library_texts(papers: Sequence[Paper], full_texts: Mapping[str, FullText], library_hash: str,
                  home: Path) -> tuple[BM25Index, list[str]]:
    """Each paper of a library as one text — title, abstract and the whole body — indexed (cached on
    disk): what a question's facets must meet in to be addressed together by a paper read in full."""
    texts = [paper_text(p) + (f"\n{full_texts[p.id].body}" if p.id in full_texts else "") for p in papers]
    index = cached_index(home / "index" / f"fulltext-{PASSAGE_INDEX_FORMAT}-{library_hash[:24]}", lambda: texts,
                         [p.id for p in papers])
    return index, texts
