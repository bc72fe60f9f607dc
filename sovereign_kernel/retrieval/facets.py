"""The question's facets, built against the corpus, and which kept papers join them.

A question's content words form runs between stop words and punctuation ("sign language
recognition models", "adversarial examples"). A run is one facet unless two neighbouring words
never occur in the same corpus paper — then it is two ("randomized smoothing certify" | "seismic").
Each word weighs its IDF; neighbouring words the corpus uses as a phrase (most papers holding
both hold them side by side: "sign language", "point cloud") must be a phrase in a text that
addresses the facet. A facet held by more than ``generic_share`` of the corpus ("adversarial
attacks" in an adversarial-robustness corpus, "robust") does not distinguish papers: it is listed
but not required to be joined with the others. So is a single word the corpus rarely makes a topic
of ("happens", "handful", "bypassed", "planted"): of the papers that use it, few name it in their
title (``CorpusTerms.topicality``); a question's verbs and quantifiers are not what a paper must
join.
"""

from __future__ import annotations

import math
import re
from functools import cached_property
from itertools import combinations
from typing import Sequence

from sovereign_kernel.domain.facets import Facet, FacetPair, JointCoverage, addresses, phrase_pattern, text_words
from sovereign_kernel.domain.schemas import Paper, paper_text, paper_units
from sovereign_kernel.domain.text import STOP_WORDS, stem, tokenize
from sovereign_kernel.retrieval.bm25 import BM25Index

# Verbs and adverbs that link a question's topics without being one ("Can patches *fool* crowd
# counting models?", "get *past* the guardrails"): they split facets and are not facets themselves.
LINK_WORDS = frozenset({
    "fool", "fools", "fooled", "fooling", "defend", "defends", "defended", "defending", "break", "breaks", "broken",
    "breaking", "keep", "keeps", "kept", "get", "gets", "got", "past", "made", "survive", "survives", "withstand",
    "withstands", "resist", "resists", "evade", "evades", "bypass", "bypasses", "hold", "holds", "stay", "stays",
    "remain", "remains", "lead", "leads", "cause", "causes", "caused", "need", "needs", "still", "really", "actually",
    "generally", "typically", "reliably", "successfully", "also", "even",
})
# Outcomes a question asks about ("how robust", "are ... vulnerable"): a facet of these words alone is
# generic — the answer may well say "fragile" or "fails" instead.
OUTCOME_WORDS = frozenset({
    "robust", "robustness", "effective", "effectiveness", "vulnerable", "vulnerability", "susceptible", "resilient",
    "secure", "safe", "safety", "reliable", "accurate", "accuracy", "successful", "efficient", "practical", "possible",
    "feasible", "useful", "beneficial", "harmful",
})
# A single-word facet is a topic when papers name it in their titles: the share of the papers using
# the word that have it in the title, smoothed towards TOPIC_PRIOR with TOPIC_PRIOR_PAPERS papers'
# weight (few papers say little). Below TOPICAL_MIN it is listed but not joined.
TOPIC_PRIOR, TOPIC_PRIOR_PAPERS, TOPICAL_MIN = 0.2, 5, 0.1
PHRASE_SHARE = 0.5  # of the papers holding two neighbouring words, hold them as a phrase: a collocation
PHRASE_MIN_PAPERS = 3
PHRASE_SAMPLE = 300  # papers read to measure it (the first ones by index: deterministic)
_NUMBER = re.compile(r"\d+(\.\d+)?%?")


def content_runs(question: str) -> list[list[str]]:
    """Runs of content words, split at stop words, numbers, one-letter tokens and punctuation."""
    runs: list[list[str]] = []
    for chunk in re.split(r"[,;:()?!\[\]\"]|\.\s", question):
        run: list[str] = []
        for tok in tokenize(chunk):
            if tok in STOP_WORDS or tok in LINK_WORDS or _NUMBER.fullmatch(tok) or len(tok) < 2:
                if run:
                    runs.append(run)
                run = []
            else:
                run.append(tok)
        if run:
            runs.append(run)
    return runs


# British spellings the corpus (mostly American English) writes otherwise: "behaviours", "neutralised".
_BRITISH = ((re.compile(r"(?<=\w\w)our(s?)$"), r"or\1"),
            (re.compile(r"(?<=\w\w\w)is(e|ed|es|ing|ation|ations)$"), r"iz\1"),
            (re.compile(r"(?<=\w\w)ys(e|ed|es|ing)$"), r"yz\1"))


def spellings(word: str) -> list[str]:
    """The word, then its American spelling when it looks British ("behaviours" -> "behaviors")."""
    out = [word]
    for pattern, american in _BRITISH:
        if pattern.search(word) and pattern.sub(american, word) not in out:
            out.append(pattern.sub(american, word))
    return out


class CorpusTerms:
    """Which corpus papers hold a word (any simple inflection of it), from a BM25 index over their texts.

    A paper's text is its title and abstract, or in a library read in full (``texts``: one per
    paper, in ``papers`` order) its title, abstract and whole body: a paper that studies X in its
    results and Y in its methods studies them together; two papers that each mention one do not."""

    def __init__(self, index: BM25Index, papers: Sequence[Paper], texts: Sequence[str] | None = None):
        self.index, self.papers, self._texts, self.n = index, papers, texts, max(1, len(papers))
        self._docs: dict[str, frozenset[int]] = {}

    def text(self, i: int) -> str:
        return self._texts[i] if self._texts is not None else paper_text(self.papers[i])

    @cached_property
    def _row(self) -> dict[str, int]:
        return {p.id: i for i, p in enumerate(self.papers)}

    def units_of(self, paper: Paper) -> list[str]:
        """The texts of a kept paper a question's facets must meet in: its whole text when the corpus
        holds it in full, else its title with its abstract and with each passage read."""
        if self._texts is not None and paper.id in self._row:
            return [self._texts[self._row[paper.id]]]
        return paper_units(paper)

    def docs(self, word: str) -> frozenset[int]:
        if word not in self._docs:
            self._docs[word] = frozenset()
            for spelling in spellings(word):  # the word as written first; its American spelling if no paper uses it
                s = stem(spelling)
                found: set[int] = set()
                for variant in {spelling, s, s + "s", s + "es", s[:-1] + "ies" if s.endswith("y") else s}:
                    found.update(self.index.documents(variant))
                if found:
                    self._docs[word] = frozenset(found)
                    break
        return self._docs[word]

    @cached_property
    def _title_words(self) -> dict[str, frozenset[int]]:
        found: dict[str, set[int]] = {}
        for i in range(len(self.papers)):
            for tok in tokenize(self.papers[i].title):
                for w in {tok, stem(tok)}:
                    found.setdefault(w, set()).add(i)
        return {w: frozenset(ids) for w, ids in found.items()}

    def topicality(self, word: str) -> float:
        """Smoothed share of the papers using ``word`` that name it in their title."""
        docs = self.docs(word)
        titled: set[int] = set()
        for spelling in spellings(word):
            s = stem(spelling)
            for variant in {spelling, s, s + "s", s + "es"}:
                titled |= self._title_words.get(variant, frozenset())
        return (len(titled & docs) + TOPIC_PRIOR * TOPIC_PRIOR_PAPERS) / (len(docs) + TOPIC_PRIOR_PAPERS)

    def idf(self, word: str) -> float:
        df = len(self.docs(word))
        return math.log1p((self.n - df + 0.5) / (df + 0.5))

    def joint(self, words: Sequence[str]) -> frozenset[int]:
        out: frozenset[int] | None = None
        for w in words:
            out = self.docs(w) if out is None else out & self.docs(w)
        return out or frozenset()

    def is_phrase(self, first: str, second: str) -> bool:
        both = sorted(self.docs(first) & self.docs(second))
        if len(both) < PHRASE_MIN_PAPERS:
            return False
        sample = both[:PHRASE_SAMPLE]
        pattern = phrase_pattern(first, second)
        return sum(bool(pattern.search(self.text(i))) for i in sample) >= PHRASE_SHARE * len(sample)


def outcomes_apart(words: list[str]) -> list[list[str]]:
    """Outcome words at either end of a run are a facet of their own (a generic one): in "are music
    generation models vulnerable to ..." the subject is "music generation models", and a paper
    about it need not say "vulnerable"."""
    lead = 0
    while lead < len(words) - 1 and words[lead] in OUTCOME_WORDS:
        lead += 1
    tail = len(words)
    while tail > lead + 1 and words[tail - 1] in OUTCOME_WORDS:
        tail -= 1
    return [[w] for w in words[:lead]] + [words[lead:tail]] + [[w] for w in words[tail:]]


def question_facets(question: str, terms: CorpusTerms, generic_share: float) -> list[Facet]:
    """The question's facets, each with its weights, collocations, corpus share and genericity."""
    facets: list[Facet] = []
    for run in content_runs(question):
        parts = [[run[0]]]
        for a, b in zip(run, run[1:]):
            if terms.docs(a) & terms.docs(b):
                parts[-1].append(b)
            else:  # never in the same paper: two facets the question joins
                parts.append([b])
        for words in (piece for part in parts for piece in outcomes_apart(part)):
            share = len(terms.joint(words)) / terms.n
            facets.append(Facet(
                phrase=" ".join(words), words=words, weights=[round(terms.idf(w), 4) for w in words],
                collocations=[[i, i + 1] for i in range(len(words) - 1) if terms.is_phrase(words[i], words[i + 1])],
                generic=share > generic_share or all(w in OUTCOME_WORDS for w in words)
                or (len(words) == 1 and bool(terms.docs(words[0])) and terms.topicality(words[0]) < TOPICAL_MIN),
                corpus_share=round(share, 4),
                missing_from_corpus=[w for w in words if not terms.docs(w)],
            ))
    return list({f.phrase: f for f in facets}.values())


def joint_coverage(facets: Sequence[Facet], kept: Sequence[Paper], terms: CorpusTerms | None = None) -> JointCoverage:
    """Which kept papers address each facet and each pair of required facets (every non-generic
    facet; all of them when every facet is generic). With ``terms``, a pair no kept paper joins is
    also counted in the whole corpus, so a report can say whether *any* paper joins them."""
    # per paper, the facets each of its texts addresses (see ``CorpusTerms.units_of``)
    texts = terms.units_of if terms is not None else paper_units
    units = {p.id: [{f.phrase for f in facets if addresses(f, t, w)} for t in texts(p) for w in (text_words(t),)]
             for p in kept}
    covered = [f.model_copy(update={"covered_by": sorted(pid for pid, us in units.items() if any(f.phrase in u for u in us))})
               for f in facets]
    required = [f for f in covered if not f.generic] or covered
    pairs = []
    for a, b in combinations(required, 2):
        both = sorted(pid for pid, us in units.items() if any(a.phrase in u and b.phrase in u for u in us))
        pairs.append(FacetPair(facets=[a.phrase, b.phrase], papers=both,
                               in_corpus=_in_corpus(a, b, terms) if terms is not None and not both else None))
    if pairs:
        share = sum(bool(p.papers) for p in pairs) / len(pairs)
    else:
        share = 1.0 if required and required[0].covered_by else 0.0
    best, best_n = None, 0
    for pid in sorted(units):
        n = sum(pid in f.covered_by for f in required)
        if n > best_n:
            best, best_n = pid, n
    return JointCoverage(facets=covered, pairs=pairs, share=round(share, 4), best_paper=best, best_paper_facets=best_n)


def _in_corpus(a: Facet, b: Facet, terms: CorpusTerms) -> int:
    """Corpus papers addressing both facets: read only those holding each facet's rarest word."""
    return len(_addressing([a, b], terms))


def joint_papers(facets: Sequence[Facet], terms: CorpusTerms, limit: int = 10) -> list[int]:
    """Corpus papers (indexes) that join the question's required facets — all of them, or else two
    at a time — whatever words the planned queries used: the papers a question that joins its
    facets is most about. Only papers holding each facet's rarest word are read."""
    required = [f for f in facets if not f.generic] or list(facets)
    if len(required) < 2:
        return []
    every = _addressing(required, terms)
    if every:
        return every[:limit]
    found: list[int] = []
    for a, b in combinations(required, 2):
        found += [i for i in _addressing([a, b], terms)[: max(1, limit // 3)] if i not in found]
    return found[:limit]


def _addressing(group: Sequence[Facet], terms: CorpusTerms) -> list[int]:
    rare = [f.words[max(range(len(f.weights)), key=lambda i: f.weights[i])] for f in group]
    out = []
    for i in sorted(terms.joint(rare)):
        text = terms.text(i)
        seen = text_words(text)
        if all(addresses(f, text, seen) for f in group):
            out.append(i)
    return out
