"""The question's aspects, and which texts cover them.

An aspect is a keyphrase of the question ('typographic attacks', 'dense vlms'). Coverage is
measured on stems, so 'attack' covers 'attacks', and hyphenated terms count by their parts
('moe-vlms' needs 'moe' and 'vlm'). A question whose central aspect no retrieved paper
covers cannot be answered from that evidence, whatever the similarity scores say.
"""

from __future__ import annotations

from pydantic import BaseModel, Field

from sovereign_kernel.domain.text import keyphrases, stem, tokenize

# Words that carry no topic on their own inside a keyphrase.
_GENERIC = frozenset({"based", "using", "via", "new", "novel", "different", "various", "large", "work", "works"})


class Aspect(BaseModel):
    phrase: str
    groups: list[list[str]] = Field(description="One group of stems per word; hyphen parts share a group.")
    covered_by: list[str] = Field(default_factory=list, description="Paper ids whose text covers it.")
    missing_from_corpus: list[str] = Field(default_factory=list, description="Stems no corpus paper contains.")

    @property
    def stems(self) -> list[str]:
        return [s for g in self.groups for s in g]


def text_stems(text: str) -> set[str]:
    out: set[str] = set()
    for tok in tokenize(text):
        out.add(stem(tok))
        if "-" in tok:
            out.update(stem(part) for part in tok.split("-") if part)
    return out


def phrase_groups(phrase: str) -> list[list[str]]:
    groups: list[list[str]] = []
    for tok in tokenize(phrase):
        parts = [p for p in tok.split("-") if p] if "-" in tok else [tok]
        group = [stem(p) for p in parts if stem(p) not in _GENERIC and len(p) > 1]
        if group and group not in groups:
            groups.append(group)
    return groups


def question_aspects(question: str, corpus_stems: set[str] | None = None) -> list[Aspect]:
    aspects = []
    for phrase in keyphrases(question):
        groups = phrase_groups(phrase)
        if not groups:
            continue
        missing = [s for g in groups for s in g if corpus_stems is not None and s not in corpus_stems]
        aspects.append(Aspect(phrase=phrase, groups=groups, missing_from_corpus=missing))
    return aspects


def covers(aspect: Aspect, stems: set[str]) -> bool:
    """Every word of a one- or two-word aspect must occur, two thirds of a longer one's.

    A word counts when all its hyphen parts occur, so 'MoE' and 'VLM' alone do not cover
    'SMoES-based MoE-VLMs'.
    """
    groups = aspect.groups
    if not groups:
        return False
    present = sum(1 for g in groups if all(s in stems for s in g))
    needed = len(groups) if len(groups) <= 2 else -(-2 * len(groups) // 3)
    return present >= needed


def coverage_fraction(aspects: list[Aspect], text: str) -> float:
    if not aspects:
        return 0.0
    stems = text_stems(text)
    return sum(1 for a in aspects if covers(a, stems)) / len(aspects)
