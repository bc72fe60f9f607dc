"""When another paper's sentence may corroborate a claim, beyond the calibrated confidence.

The calibrated verifier asks "does this sentence state the claim?" and was fit on SciFact, where a
claim is a statement about the world. A paper's abstract also reports its *own work*: "our method
improves accuracy by 19.6%", "we propose the largest Typographic Dataset", "PatchCensor achieves
67.1% certified accuracy". Another paper on the same topic reads close to such a claim ("our attacks
are effective", "we propose a defense") without stating anything about that work. A second version
of a paper by the same authors restates its claims word for word without corroborating them.

So another paper corroborates a claim only when
- it shares no author with the claim's paper, and
- if either side speaks of its own paper's work, the other sentence names that work: the claim's
  paper's method, dataset or benchmark name (``work_names``).

A claim about the world ("LLMs remain vulnerable to jailbreak attacks") is corroborated as before, by
the confidence alone.

Read by a person (``bench/data/CORROBORATION_AUDIT.md``), the share of claims called corroborated
that had an independent paper stating them went 0.38 -> 0.62 on held-out questions, with none of the
right ones lost.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from sovereign_kernel.domain.naming import OWN_METHOD, method_name
from sovereign_kernel.domain.schemas import Paper


@dataclass(frozen=True)
class Audit:
    """How often "corroborated" was right when a reader checked it: claims the rule calls corroborated on
    held-out questions' runs, and how many of them another (independent) paper was judged to state.
    ``tests/test_corroboration.py`` recomputes it from ``bench/data/corroboration_audit.jsonl`` with
    this module's rule, so it cannot drift from the rule unnoticed."""

    called: int
    right: int
    questions: int
    source: str = "bench/data/CORROBORATION_AUDIT.md"

    @property
    def precision(self) -> float:
        return self.right / self.called if self.called else 0.0

    def statement(self) -> str:
        return (f"{self.precision:.2f} of the claims this rule called corroborated in the runs of {self.questions} "
                f"held-out questions had another paper stating them ({self.right}/{self.called}, judged by one "
                f"reader; {self.source})")


AUDIT = Audit(called=24, right=15, questions=15)

# "we propose ...", "this paper introduces ...", "in this work ...", "we evaluate ...", "to the best of our
# knowledge, ... the first ...": a paper describing its own contribution or what it did. Findings ("we show
# that X", "we find X", "our results indicate X") are not here: X is a statement about the world that
# another paper can state too.
_ANNOUNCES = re.compile(
    r"\bwe\s+(?:\w+\s+){0,2}?"
    r"(?:propose|introduce|present|release|develop|design|build|construct|curate|contribute|devise|formulate|"
    r"evaluate|examine|investigate|explore|analy[sz]e|conduct|formali[sz]e|make the first)\w*\b"
    r"|\bthis (?:paper|work|study|article|survey)\b|\bto the best of our knowledge\b"
    r"|\bthe first (?:attempt|work|study|method|approach)\b|\bours\b"
    r"|^\s*(?:the|this) (?:approach|method|framework|technique|algorithm|system|tool|attack|defen[cs]e)\b",
    re.I)
# "our adversarial patches", "our objective", "our study": the paper's own artefacts and work beyond the
# method nouns ``OWN_METHOD`` already covers.
_OWN_ARTEFACT = re.compile(
    r"\b(?:our|the proposed)\s+(?:[\w-]+\s+){0,3}?(?:patch(?:es)?|objective|loss|dataset|benchmark|tool|study|"
    r"work|paper|design|solution|attacks|defen[cs]es|methods|approaches|models|metric|protocol|system)\b", re.I)
# "we propose the most comprehensive and largest-scale Typographic Dataset to date": a named dataset or
# benchmark a paper contributes (``method_name`` names methods; a claim about the dataset is its own work too).
_DEFINED_ARTEFACT = re.compile(
    r"\bwe\s+(?:\w+\s+){0,2}?(?:propose|introduce|present|release|construct|build|curate|create|collect)\w*\s+"
    r"(?:(?:a|an|the|our)\s+)?(?:[\w-]+\s+){0,4}?((?:[A-Z][\w-]*\s+){1,3}(?:Dataset|Benchmark|Corpus|Suite))\b")


def work_names(paper: Paper | None) -> list[str]:
    """What a paper calls its own work: its method's name, and the datasets or benchmarks it names."""
    if paper is None:
        return []
    names = [n for n in [method_name(paper)] if n]
    return names + [m.group(1) for m in _DEFINED_ARTEFACT.finditer(paper.abstract) if m.group(1) not in names]


def _folded(text: str) -> str:
    """Lower case, hyphens dropped, runs of space one: "Multi-Faceted Attack" ~ "MultiFaceted Attack"."""
    return " ".join(text.lower().replace("-", "").split())


def own_work(text: str, work: Sequence[str] = ()) -> bool:
    """Does the sentence speak of its own paper's work: "our method", "we propose", "ours", or a name
    the paper gives its work (``work_names``)?"""
    if OWN_METHOD.search(text) or _ANNOUNCES.search(text) or _OWN_ARTEFACT.search(text):
        return True
    return any(names(text, n) for n in work)


def names(text: str, name: str) -> bool:
    return re.search(rf"(?<!\w){re.escape(_folded(name))}(?!\w)", _folded(text)) is not None


def corroborates(claim: str, claim_work: Sequence[str], sentence: str, other_work: Sequence[str]) -> bool:
    """Can ``sentence`` of another paper corroborate ``claim``, whatever its confidence? Yes, unless
    either side speaks of its own paper's work; then only when the sentence names the claim's paper's
    work (``claim_work``: ``work_names`` of the claim's paper; ``other_work``: the other paper's)."""
    if not (own_work(claim, claim_work) or own_work(sentence, other_work)):
        return True
    return any(names(sentence, n) for n in claim_work)


def shared_authors(a: Paper | None, b: Paper | None) -> set[str]:
    """Authors two papers have in common (names as the corpus gives them, case and spacing folded)."""
    if a is None or b is None:
        return set()
    fold = lambda names: {" ".join(n.lower().split()) for n in names if n.strip()}  # noqa: E731
    return fold(a.authors) & fold(b.authors)


def can_corroborate(claim: str, claim_paper: Paper | None, sentence: str, other_paper: Paper | None,
                    work: Mapping[str, Sequence[str]] | None = None) -> bool:
    """Is ``sentence`` of ``other_paper`` *independent* corroboration of ``claim`` when the confidence
    says it states it: no author in common (a second version of a work by the same people restates it
    without corroborating it), and ``corroborates`` for the claim's paper's own work. ``work``: the
    papers' ``work_names`` by id, when the caller has them."""
    if shared_authors(claim_paper, other_paper):
        return False

    def named(p: Paper | None) -> Sequence[str]:
        return work[p.id] if work is not None and p is not None and p.id in work else work_names(p)

    return corroborates(claim, named(claim_paper), sentence, named(other_paper))
