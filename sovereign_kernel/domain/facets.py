"""The question's facets, and which texts address them — alone and jointly.

A facet is one thing the question is about: a task or domain (*sign language recognition*), a
threat or intervention (*adversarial examples*, *randomized smoothing*), a model family, a setting.
A question *joins* its facets: it asks about them together. Evidence addresses the question only
where one paper (or passage) addresses the joined facets together — matching each facet in a
different paper, word by word, is not coverage. ``JointCoverage`` records, for every pair of
facets the question joins, which kept papers address both.

A text addresses a facet (``addresses``) when it holds the facet's distinctive word, most of its
weight (IDF: rare words weigh more), and its collocations as phrases: *sign language* must occur
as a phrase, so *traffic sign recognition* does not address *sign language recognition*.
Facets are built against a corpus by ``retrieval.facets``.
"""

from __future__ import annotations

import re
from functools import cached_property

from pydantic import BaseModel, ConfigDict, Field

from sovereign_kernel.domain.aspects import text_stems
from sovereign_kernel.domain.text import stem

MIN_WEIGHT_SHARE = 2 / 3  # of a facet's IDF weight a text must hold (facets of three or more words)


class Facet(BaseModel):
    """One facet of a question, with what addressing it takes."""

    model_config = ConfigDict(extra="forbid")

    phrase: str
    words: list[str] = Field(description="Its content words, lowercase, in the question's order.")
    weights: list[float] = Field(description="Each word's IDF in the corpus (a word no paper holds weighs the most).")
    collocations: list[list[int]] = Field(
        default_factory=list, description="Pairs of adjacent words (indexes) the corpus uses as a phrase: a text "
                                          "must hold them as a phrase too.")
    generic: bool = Field(False, description="So common in the corpus that it does not distinguish papers, or a single "
                                             "word papers rarely name in their titles (a verb, a quantifier): listed, "
                                             "but not required to be joined with the others.")
    corpus_share: float = Field(0.0, description="Share of corpus papers holding all its words.")
    missing_from_corpus: list[str] = Field(default_factory=list, description="Its words no corpus paper holds.")
    covered_by: list[str] = Field(default_factory=list, description="Kept papers that address it.")

    @cached_property
    def _groups(self) -> list[list[str]]:
        return [[stem(p) for p in w.split("-") if p] or [stem(w)] for w in self.words]

    @cached_property
    def _phrases(self) -> list[re.Pattern]:
        return [phrase_pattern(self.words[i], self.words[j]) for i, j in self.collocations]


class FacetPair(BaseModel):
    """Two facets the question joins, and the kept papers that address both."""

    model_config = ConfigDict(extra="forbid")

    facets: list[str] = Field(description="The two facets' phrases.")
    papers: list[str] = Field(default_factory=list)
    in_corpus: int | None = Field(None, description="Corpus papers addressing both (None: not counted, e.g. a "
                                                    "live source only).")


class JointCoverage(BaseModel):
    """Which kept papers address the question's facets, alone and pairwise."""

    model_config = ConfigDict(extra="forbid")

    facets: list[Facet] = Field(default_factory=list)
    pairs: list[FacetPair] = Field(default_factory=list, description="Every pair of facets the question joins.")
    share: float = Field(0.0, description="Joined pairs some kept paper addresses, over all joined pairs (with one "
                                          "required facet: 1 if a kept paper addresses it).")
    best_paper: str | None = Field(None, description="The kept paper that addresses most of the required facets.")
    best_paper_facets: int = 0

    @property
    def required(self) -> list[Facet]:
        return [f for f in self.facets if not f.generic]

    @property
    def missing_pairs(self) -> list[FacetPair]:
        return [p for p in self.pairs if not p.papers]

    @property
    def complete(self) -> bool:
        """Every required facet is addressed and every joined pair by one paper."""
        return all(f.covered_by for f in self.required) and not self.missing_pairs and bool(self.required)


_INFLECTION = r"(?:s|es|ies|ied|ed|d|ing)?"


def phrase_pattern(first: str, second: str) -> re.Pattern:
    """Two words as a phrase, either inflected: 'sign language', 'adversarial examples', 'logic-locking'."""
    a, b = (re.escape(stem(w).removesuffix("y") if stem(w).endswith("y") else stem(w)) for w in (first, second))
    return re.compile(rf"\b{a}{_INFLECTION}[\s\-]+{b}{_INFLECTION}\b", re.I)


def text_words(text: str) -> set[str]:
    """The stems a text holds, hyphen parts included ('moe-vlms' gives moe-vlm, moe and vlm)."""
    return text_stems(text)


def addresses(facet: Facet, text: str, words: set[str] | None = None) -> bool:
    """Does ``text`` address ``facet``? Its rarest word, every collocation as a phrase, and all of a
    one- or two-word facet's words, or two thirds of a longer one's weight. ``words``: the text's
    ``text_words``, when the caller has them."""
    words = text_words(text) if words is None else words
    present = [all(s in words for s in group) for group in facet._groups]
    if not present:
        return False
    rarest = max(range(len(facet.weights)), key=lambda i: facet.weights[i])
    if not present[rarest]:
        return False
    if len(present) <= 2:
        if not all(present):
            return False
    elif sum(w for w, ok in zip(facet.weights, present) if ok) < MIN_WEIGHT_SHARE * sum(facet.weights):
        return False
    return all(p.search(text) for p in facet._phrases)
