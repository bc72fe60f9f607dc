"""Naming a paper's method, so a claim that says "our method" says whose.

A claim is quoted as its paper states it ("Our method significantly improves ..."); out of its
abstract, "our method" names nothing. The name comes from the paper itself:

- its title, when the title leads with a name: "FigStep: Jailbreaking ..." -> FigStep,
  "Defense-Prefix for Preventing Typographic Attacks on CLIP" -> Defense-Prefix. Only a
  name-like lead counts (an acronym, a hyphenated or camel-case word), so "Reading Between the
  Pixels: ..." is a title, not a name;
- else a name the abstract defines where it says what it proposes: "we introduce our method:
  Defense-Prefix (DP)", "we propose FigStep, a ...".

A paper that names nothing is referred to by its title. The name is inserted into the finding's
text after the phrase ("Our method (Defense-Prefix) improves ..."); the claim's quoted span is
never edited.
"""

from __future__ import annotations

import re

from sovereign_kernel.domain.ids import source_label
from sovereign_kernel.domain.schemas import Paper

# A word that reads as a name: an acronym (SCAM, DP), camel case (FigStep, EAQuant), capitals
# joined by hyphens (Defense-Prefix, T-VSS, RIO-Bench), or letters with digits (GPT-4o).
_NAME_WORD = r"(?:[A-Z][A-Za-z0-9]*[A-Z0-9][A-Za-z0-9]*|[A-Z][a-z0-9]+(?:-[A-Za-z0-9]+)+|[A-Z]+[a-z]*-[A-Za-z0-9-]+)"
_TITLE_LEAD = re.compile(rf"^\s*({_NAME_WORD}(?:[ -]{_NAME_WORD}){{0,2}})\s*(?::|\s+(?:for|against|via|with|in|on)\s)")
# What a paper says it proposes, in one sentence: "we introduce a novel attack, called Collaborative
# Multimodal Interaction Attack (CMI-Attack)", "our simple yet effective method: Defense-Prefix (DP)",
# "we propose FigStep, a ...". A bare name counts only right after the verb or after a method noun
# ("we propose a framework for ... MLLMs" names nothing).
_KIND = r"(?:method|approach|framework|technique|defen[cs]e|attack|algorithm|model|system|pipeline|strategy|benchmark|dataset|task|tool)"
_LONG = r"[A-Z][\w-]*(?:[ -](?:(?:of|and|for|via|with|in|on|the) )?[A-Z][\w-]*){0,5}"
_DEFINES = re.compile(
    r"\b(?:we|this (?:paper|work)) (?:propose|introduce|present|develop|design|call)s?\b"
    rf"(?:[^.;]{{0,120}}?\b({_LONG})\s*\(({_NAME_WORD})\)"
    rf"|\s+(?:(?:a|an|the|our)\s+(?:[\w-]+\s+){{0,4}}?{_KIND}s?\s*[:,]?\s*(?:(?:called|named|dubbed|termed)\s+)?)?"
    rf"({_NAME_WORD}(?: [A-Z][\w-]*){{0,3}})(?=[,:;.)]|\s+[a-z(]))")
# "our (training-free) method", "the proposed approach": the phrase a name is inserted after.
OWN_METHOD = re.compile(
    r"\b(?:our|the proposed)\s+(?:[\w-]+\s+){0,3}?(?:method|approach|framework|model|technique|defen[cs]e|attack|"
    r"algorithm|system|pipeline|strategy|scheme|architecture)s?\b", re.I)
_GENERIC_NAMES = frozenset({"LLM", "LLMs", "VLM", "VLMs", "LVLM", "LVLMs", "CLIP", "AI", "GPT", "VQA", "NLP", "CNN",
                            "CNNs", "DNN", "DNNs", "ML", "RL"})


def method_name(paper: Paper | None) -> str | None:
    """The name a paper gives its method: from the title's lead, else the abstract's definition."""
    if paper is None:
        return None
    if (m := _TITLE_LEAD.match(paper.title)) and m.group(1) not in _GENERIC_NAMES:
        return m.group(1)
    for m in _DEFINES.finditer(paper.abstract):
        long_name, acronym, single = m.group(1), m.group(2), m.group(3)
        if acronym and long_name:
            name = long_name if len(long_name) <= 40 else acronym
            if name not in _GENERIC_NAMES:
                return name
        if single and single not in _GENERIC_NAMES:
            return single
    return None


def short_title(paper: Paper | None, limit: int = 60) -> str:
    if paper is None:
        return ""
    title = " ".join(paper.title.split())
    return title if len(title) <= limit else title[: limit - 1].rstrip() + "…"


def method_label(paper: Paper | None, paper_id: str) -> str:
    """What to call a paper's method in a report: its name, or 'the method of "<title>"'."""
    name = method_name(paper)
    if name:
        return name
    title = short_title(paper)
    return f"the method of “{title}”" if title else f"the method of {source_label(paper_id)}"


def says_own_method(text: str) -> bool:
    return bool(OWN_METHOD.search(text))


def name_own_method(text: str, paper: Paper | None, paper_id: str) -> str:
    """``text`` with the paper's method named after its first "our method"-like phrase (unchanged
    when it has none, or already says the name)."""
    m = OWN_METHOD.search(text)
    if m is None:
        return text
    label = method_label(paper, paper_id)
    if label in text:
        return text
    return f"{text[: m.end()]} ({label}){text[m.end():]}"
