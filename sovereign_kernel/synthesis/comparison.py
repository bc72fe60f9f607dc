"""What the papers report in numbers, side by side, and what they say their methods cannot do.

- ``comparison_rows``: for a question that asks which method works, or compares methods
  (``compares_methods``), one row per grounded claim that reports an effect in numbers — a
  percentage, a factor, a metric with its value: the method (named: ``naming``), the paper, the
  setting it was measured in and the reported effect, as the claim states them.
- ``reported_values``: the numbers a claim reports with a unit (%, percentage points, a factor ×),
  each as a float, so that values of one unit can be set side by side (the literature figure).
- ``stated_limitations``: sentences of a kept paper's abstract that state a limitation or cost of
  the paper's *own* method ("..., while reducing standard accuracy by less than 1%"; "our method
  cannot ..."), quoted at their offsets. Sentences about earlier work ("existing methods fail")
  are background, not the paper's limitation.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Callable, Sequence

from sovereign_kernel.domain.schemas import Claim, ComparisonRow, Limitation, Paper, SourceSpan
from sovereign_kernel.domain.text import clip, split_sentences
from sovereign_kernel.domain.naming import OWN_METHOD, method_name, short_title

COMPARES = re.compile(r"\b(which|what works|works? best|compare[sd]?|comparison|comparing|versus|vs\.?|better|best|"
                      r"outperform\w*|most effective|more effective|trade-?offs?)\b", re.I)
_PERCENT = r"\d+(?:[.,]\d+)?\s?(?:%|\\%|percent\b|percentage points?\b|pp\b)"
_FACTOR = r"\d+(?:\.\d+)?\s?(?:x|×)(?![\w])"
_METRIC = (r"\b(?:accuracy|success rates?|ASR|AUC|AUROC|F1|BLEU|mAP|top-1|top-5|error rates?|robust accuracy|"
           r"precision|recall)\b[^.;,]{0,25}?\b\d+(?:\.\d+)?\b")
EFFECT = re.compile(rf"({_PERCENT}|{_FACTOR}|{_METRIC})", re.I)
_SETTING = re.compile(r"\b(?:on|across|using|against|in)\s+((?:the |a |an )?[^,;:.()]{3,70}?)(?=\s*(?:,|;|:|\.|\(|\bwhile\b|"
                      r"\bwith\b|\bwhen\b|\bby\b|\bcompared\b|\bover\b|$))", re.I)
_CLAUSES = re.compile(r"\s*(?:;|,\s*(?:while|whereas|and|but)\b|\bwhile\b|\bwhereas\b|,)\s*", re.I)
_LEAD = re.compile(r"^.*?\b(?:indicate|show|demonstrate|reveal|find|found|suggest)s?\s+that\s+", re.I)

# A limitation or cost, stated as one — not a cost a method cuts ("while reducing latency"), not a
# trade-off it balances, not a limitation of earlier work it "addresses" (on the bundled corpus
# those made most of the false hits). A cost may be stated anywhere in a sentence about the
# paper's own method; a failure verb must follow the method's mention ("our method fails to ...",
# not "detectors cannot detect our attack").
_COST = re.compile(
    r"\b(limitations? of (?:our|this|the proposed)|(?:is|are|remains?) limited to|only (?:works?|applies|applicable|"
    r"effective|valid|holds?)\b|at the (?:cost|expense) of|(?:while|by) (?:reducing|decreasing|lowering|sacrificing|"
    r"degrading|hurting) (?:the |its |their )?(?:[\w-]+ ){0,2}?(?:accuracy|performance|utility|quality|fidelity)\b"
    r"(?! (?:drop|loss|degradation|gap))|(?:slight|small|minor|marginal|modest) (?:drop|decrease|loss|reduction|"
    r"degradation|increase in (?:error|perplexity|latency))|(?:is|are) left (?:to|for) future work)", re.I)
_FAILS = r"(?:fails? to|failed to|cannot|can not|(?:does|do|did) not (?:generali[sz]e|scale|transfer|work|apply|handle|" \
         r"cover|guarantee|hold|extend)|remains? vulnerable|is (?:not|less) (?:robust|effective))"
_OWN_FAILS = re.compile(rf"(?:{OWN_METHOD.pattern})\W+(?:[\w-]+\W+){{0,5}}?{_FAILS}", re.I)
_ADDRESSES = re.compile(r"\b(?:address|overcome|tackle|alleviate|mitigate|resolve|solve|circumvent|remedy)\w* "
                        r"(?:\w+ ){0,2}?(?:limitations?|shortcomings?|drawbacks?)\b", re.I)
_OTHERS = re.compile(r"\b(?:existing|previous|prior|earlier|current|other|these|their) (?:\w+ ){0,2}?(?:methods?|"
                     r"approaches|defen[cs]es|works?|studies|models?|techniques|attacks)\b", re.I)


# A number with its unit: "42.07%", "+20.11 %", "12 percent", "3 percentage points", "3.5x", "2×"; a range
# "34--96%" / "10 to 12%" gives both ends. A number inside a word ("ImageNet-100", "GPT-4o") or with no
# unit (counts, sizes, correlations) is no effect; "2x2" is a shape, not a factor.
_NUMBER = r"[+\-−]?(?:\d{1,3}(?:,\d{3})+(?![\d.])|\d+(?:\.\d+)?)"
_VALUE = re.compile(
    rf"(?<![\w.,\-−+])({_NUMBER})(?:\s?(?:--?|–|—|to)\s?({_NUMBER}))?"
    r"(?:\s?(%|\\%|percent\b)|\s(percentage points?\b|pp\b)|\s?(×)|(x)(?![\w]))", re.I)


@dataclass(frozen=True)
class ReportedValue:
    value: float
    unit: str  # "%", "pp" (percentage points) or "×" (a factor)
    text: str  # as the claim states it


def _number(text: str) -> float:
    return float(text.replace(",", "").replace("−", "-"))


def reported_values(text: str) -> list[ReportedValue]:
    """The values a claim states with a unit, in the order it states them (both ends of a range)."""
    out = []
    for m in _VALUE.finditer(text):
        unit = "%" if m.group(3) else "pp" if m.group(4) else "×"
        out += [ReportedValue(_number(n), unit, m.group(0)) for n in (m.group(1), m.group(2)) if n is not None]
    return out


def compares_methods(question: str) -> bool:
    """Does the question ask which method works, or compare methods?"""
    return bool(COMPARES.search(question))


def method_of(claim: Claim, paper: Paper | None) -> str:
    """The method a claim reports on: the paper's name for it, else the claim's own description
    ("our text-image similarity approach" -> "text-image similarity approach"; a bare "our method"
    -> "the paper's own (unnamed)"), else "—" (a result the claim does not attribute to a method)."""
    name = method_name(paper)
    if name:
        return name
    if (m := OWN_METHOD.search(claim.text)) is not None:
        words = m.group(0).split()[1:] if m.group(0).lower().startswith("our") else m.group(0).split()[2:]
        return " ".join(words) if len(words) > 1 else "the paper's own (unnamed)"  # a description, or the bare noun
    return "—"


def _effect(text: str) -> str:
    """The claim's clauses that carry a number, without the reporting frame ("results indicate that")."""
    body = _LEAD.sub("", text.rstrip("."))
    clauses = [c for c in _CLAUSES.split(body) if c and EFFECT.search(c)]
    return clip("; ".join(clauses) or body, 200)


def _setting(text: str) -> str:
    found = []
    for m in _SETTING.finditer(text):
        phrase = m.group(1).strip()
        if not EFFECT.search(phrase) and phrase.lower() not in found:
            found.append(phrase)
    return clip("; ".join(found[:2]), 100)


def comparison_rows(claims: Sequence[Claim], papers: dict[str, Paper], order: Callable[[Claim], tuple],
                    limit: int) -> list[ComparisonRow]:
    """One row per claim (grounded findings, in ``order``) that reports an effect in numbers."""
    rows = []
    for c in sorted((c for c in claims if EFFECT.search(c.text)), key=order)[:limit]:
        paper = papers.get(c.paper_id)
        rows.append(ComparisonRow(
            method=method_of(c, paper), paper_id=c.paper_id, paper_title=short_title(paper) or c.paper_id,
            setting=_setting(c.text), effect=_effect(c.text), claim_id=c.id, corroborated=c.is_corroborated))
    return rows


def stated_limitations(papers: Sequence[Paper], limit_per_paper: int = 2) -> list[Limitation]:
    """Each paper's sentences that state a limitation or cost of its own method — said of "our
    method", "the proposed approach" or the method's name — at their offsets."""
    out = []
    for paper in papers:
        name = method_name(paper)
        own_fails = _OWN_FAILS if not name else re.compile(
            rf"(?:{OWN_METHOD.pattern}|\b{re.escape(name)}\b)\W+(?:[\w-]+\W+){{0,5}}?{_FAILS}", re.I)
        found = 0
        for s in split_sentences(paper.abstract):
            text = s.text
            if found == limit_per_paper or _ADDRESSES.search(text) or _OTHERS.search(text):
                continue
            own = OWN_METHOD.search(text) or (name and name in text) or re.search(r"\bof (?:our|this)\b", text, re.I)
            if not (own and _COST.search(text)) and not own_fails.search(text):
                continue
            out.append(Limitation(paper_id=paper.id, paper_title=short_title(paper), method=name or "",
                                  span=SourceSpan(start=s.start, end=s.end, text=text)))
            found += 1
    return out
