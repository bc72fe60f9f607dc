"""Findings grouped by theme: the grounded findings clustered, each cluster named from its claims'
shared terms, the best-corroborated themes first.

Every claim of a run is about the question, so what claims share with the question says nothing
about which belong together: the clustering works on what *distinguishes* them. Claim vectors
(the run's sentence embeddings, or else term vectors of the words the question does not use) are
centred on their mean before the cosine, then merged by average linkage while the closest two
groups are still alike. A theme is named from the terms most of its claims share and the other
themes' claims do not — never from the question's own words, which every theme shares.
Deterministic: ties break by claims-table order.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np

from sovereign_kernel.domain.schemas import Claim
from sovereign_kernel.domain.text import STOP_WORDS, stem, tokenize

OTHER = "Other findings"
# Words every research claim uses: a theme named by them says nothing.
_DULL = frozenset(stem(w) for w in """
model models method methods approach approaches result results show shows shown showing paper work works propose proposed
introduce introduced demonstrate demonstrates find finding findings reveal reveals revealed significant significantly
large novel new existing current state-of-the-art art data task tasks also various different well effective
achieve achieves achieving improve improves improved performance strong experiments experimental extensive evaluation
further first second one two three based via across while without within however including particular specific
remain remains provide provides providing enable enables highlight highlighting study studies analysis insights use
using used simple yet notably overall comprehensive need comparable competitive
""".split())


@dataclass(frozen=True)
class Group:
    name: str
    claims: list[Claim]


_ACRONYM = re.compile(r"((?:[A-Za-z][\w-]*\s+){1,6})\(([A-Z][A-Za-z]{1,9})\)")


def question_terms(question: str, texts: Sequence[str] = ()) -> set[str]:
    """Stems of the question's words (hyphen parts too), plus acronyms the texts define from them:
    "Large Vision-Language Models (LVLMs)" makes LVLMs a question word when the question says
    vision-language models."""
    skip = set()
    for tok in tokenize(question):
        skip.add(stem(tok))
        skip.update(stem(p) for p in tok.split("-") if p)
    for text in texts:
        for m in _ACRONYM.finditer(text):
            words = [p for w in m.group(1).split() for p in w.split("-") if p]
            letters = m.group(2).rstrip("s").lower()
            tail = words[-len(letters):]
            if len(tail) == len(letters) and "".join(w[0].lower() for w in tail) == letters \
                    and sum(stem(w.lower()) in skip for w in tail) * 2 >= len(tail):
                skip.add(stem(m.group(2).lower()))
    return skip


def _terms(text: str, skip: set[str] = frozenset()) -> tuple[set[str], dict[str, str]]:
    """A claim's theme terms (stems, and adjacent pairs of them) but those in ``skip``, with a surface form of each."""
    words = re.findall(r"[A-Za-z][A-Za-z0-9\-]*[A-Za-z0-9]|\d+(?:\.\d+)?%?|[.,;:()]", text)
    terms: set[str] = set()
    surface: dict[str, str] = {}
    prev: tuple[str, str] | None = None
    for w in words:
        low = w.lower()
        s = stem(low)
        if not w[0].isalpha() or low in STOP_WORDS or len(low) < 3 or s in _DULL:
            prev = None
            continue
        if s not in skip:
            terms.add(s)
            surface.setdefault(s, w)
        if prev is not None and not (prev[0] in skip and s in skip):
            pair = f"{prev[0]} {s}"
            terms.add(pair)
            surface.setdefault(pair, f"{prev[1]} {w}")
        prev = (s, w)
    return terms, surface


def term_vectors(claims: Sequence[Claim], question: str) -> np.ndarray:
    """TF-IDF rows over the claims' terms the question does not use (when no sentence vectors are given)."""
    skip = question_terms(question, [c.text for c in claims])
    sets = [_terms(c.text, skip)[0] for c in claims]
    vocab = sorted({t for s in sets for t in s})
    index = {t: i for i, t in enumerate(vocab)}
    df = Counter(t for s in sets for t in s)
    out = np.zeros((len(claims), max(1, len(vocab))))
    for r, s in enumerate(sets):
        for t in s:
            out[r, index[t]] = math.log((1 + len(claims)) / (1 + df[t])) + 1.0
    return out


def _centred(vectors: np.ndarray) -> np.ndarray:
    x = np.asarray(vectors, dtype=np.float64)
    if len(x) > 1:
        x = x - x.mean(axis=0, keepdims=True)
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    return x / np.where(norms > 0, norms, 1.0)


def cluster(vectors: np.ndarray, threshold: float) -> list[list[int]]:
    """Average-linkage clusters of the rows (centred cosine), merged while the best pair is >= threshold."""
    n = len(vectors)
    if n == 0:
        return []
    x = _centred(vectors)
    sims = np.round(x @ x.T, 6)  # rounded: float noise in the last bits must not change a merge
    groups = [[i] for i in range(n)]
    while len(groups) > 1:
        best, pair = -2.0, (0, 0)
        for a in range(len(groups)):
            for b in range(a + 1, len(groups)):
                s = float(sims[np.ix_(groups[a], groups[b])].mean())
                if s > best + 1e-9:
                    best, pair = s, (a, b)
        if best < threshold:
            break
        a, b = pair
        groups[a] = sorted(groups[a] + groups[b])
        del groups[b]
    return sorted(groups, key=lambda g: g[0])


def theme_name(members: Sequence[Claim], others: Sequence[Claim], question: str) -> str:
    """The terms the theme's claims share and the other claims use least, in the claims' words: a
    term's share of the theme's claims x how rare it is among the other claims (pairs of words
    count more; the question's words much less — every theme is about them). A term one claim
    alone holds names only a theme of one or two claims; a name is never the question's words alone."""
    qwords = question_terms(question, [c.text for c in [*members, *others]])
    mine = [_terms(c.text) for c in members]
    df_in = Counter(t for terms, _ in mine for t in terms)
    df_out = Counter(t for c in others for t in _terms(c.text)[0])
    need = 1 if len(members) <= 2 else 2
    scored = []
    for term, k in df_in.items():
        parts = term.split()
        asked = sum(p in qwords for p in parts)
        if k < need:
            continue
        score = (k / len(members)) * (math.log((1 + len(others)) / (1 + df_out[term])) + 1.0)
        score *= (1.3 if len(parts) > 1 else 1.0) * (0.6 if asked else 1.0)
        scored.append((-round(score, 6), asked == len(parts), term))
    scored.sort()
    lead = next(((neg, term) for neg, only_asked, term in scored if not only_asked), None)
    if lead is None:
        return ""
    chosen = [lead]
    for neg, only_asked, term in scored:
        if -neg < 0.6 * -lead[0]:
            break
        if not only_asked and term != lead[1] and not set(term.split()) & set(lead[1].split()):
            chosen.append((neg, term))  # not 'attack success' then 'success rate'
            break
    surfaces = [Counter(s[t] for _, s in mine if t in s).most_common(1)[0][0] for _, t in chosen]
    name = " and ".join(surfaces)
    return name[:1].upper() + name[1:]


def group_findings(claims: Sequence[Claim], question: str, vectors: np.ndarray | None, threshold: float,
                   max_themes: int, strength: Callable[[Claim], tuple], per_theme: int) -> list[Group]:
    """Themes of ``claims`` (findings, in claims-table order), best-corroborated first, each with its
    ``per_theme`` strongest claims (what the report cites, and what names the theme). Clusters past
    ``max_themes``, and those whose claims share no distinctive term, go to one "Other findings"."""
    claims = list(claims)
    if not claims:
        return []
    vecs = vectors if vectors is not None and len(vectors) == len(claims) else term_vectors(claims, question)
    clusters = cluster(vecs, threshold)

    def corroboration(group: list[int]) -> tuple:
        members = [claims[i] for i in group]
        return (-sum(c.is_corroborated for c in members), -round(sum(c.corroboration for c in members), 4),
                -len(members), group[0])

    clusters.sort(key=corroboration)
    named: list[Group] = []
    rest: list[Claim] = []
    for group in clusters:
        members = sorted((claims[i] for i in group), key=strength)[:per_theme]
        others = [c for c in claims if c not in members]
        name = theme_name(members, others, question) if len(named) < max_themes else ""
        if name and (len(members) > 1 or len(named) < max_themes - 1):
            named.append(Group(name, members))
        else:
            rest.extend(members)
    if rest:
        named.append(Group(OTHER, sorted(rest, key=strength)[:per_theme]))
    return named
