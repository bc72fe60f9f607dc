"""The report's Answer: 2-5 sentences that answer the question from corroborated evidence — or say
plainly that the corpus cannot, and why.

A claim answers only when another paper corroborates it (``Claim.corroborated_by``): a quote
always grounds itself. The question is answerable when every pair of facets it joins is joined by
one kept paper (``JointCoverage``) and some finding is corroborated. When the facets are joined but
nothing is corroborated, the Answer is "single-source": one paper's grounded findings, each marked
as that paper's word — not "the corpus cannot answer", which a paper that does would make false.

- ``extractive_answer`` (offline): corroborated findings chosen greedily to cover the question's
  facets — a claim whose own words address a facet covers it, one whose paper does covers half —
  each sentence the claim as stated ("our method" named) citing its row; a claim that repeats
  one already chosen is skipped.
- ``single_source_answer``: the findings of the paper addressing most facets, each marked.
- ``cannot_answer``: which facets no paper in the corpus mentions, which pairs no paper joins
  (with the corpus counts checked), and the closest partial evidence: for each facet, the most
  relevant kept paper addressing it (or a candidate below the relevance gate).
- ``audit`` (a generated answer): a sentence survives only if every row it cites exists and is a
  corroborated finding, its numbers are the cited claims', every facet it speaks of is addressed
  by a cited claim or its paper, and the cited claims hold its content words (or the calibrated
  verifier supports it against them). The rest is cut, with the reason recorded.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from typing import Callable, Mapping, Sequence

from sovereign_kernel.domain.ids import source_label
from sovereign_kernel.domain.facets import Facet, JointCoverage, addresses, text_words
from sovereign_kernel.domain.schemas import Answer, AnswerSentence, Claim, CutSentence, Paper, ScoredPaper, paper_text
from sovereign_kernel.domain.text import clip, content_tokens, numbers_in, stem
from sovereign_kernel.domain.naming import name_own_method, short_title

MIN_SENTENCES = 2
FILL_TO = 3  # after the facets are covered, corroborated claims of further papers, up to this many sentences
_REPEATS = 0.5  # share of the shorter claim's content words another chosen claim holds: a repeat
# Words an answer frames its claims with ("several papers report that ..."): not content to audit.
_FRAMING = frozenset(stem(w) for w in """paper papers study studies report reports reported find finds found show shows
shown showed evidence author authors work works corpus according research researcher researchers demonstrate
demonstrates demonstrated suggest suggests indicate indicates several multiple both also however although whereas
while overall respectively one two""".split())
_CITATION = re.compile(r"\s*[\[(](?:C\d+[\s,;]*|and\s+)+[\])]")


@dataclass(frozen=True)
class AnswerInputs:
    """What an answer is built from: the claims in claims-table order with their row labels."""

    question: str
    claims: Sequence[Claim]
    labels: Mapping[str, str]
    papers: Mapping[str, Paper]
    findings: frozenset[str]  # ids of claims that are findings: grounded, neither background nor an aim
    coverage: JointCoverage | None = None
    ranked: Sequence[ScoredPaper] = ()
    facet_counts: Mapping[str, int] = field(default_factory=dict)  # corpus papers holding each facet's words

    def named(self, claim: Claim) -> str:
        return name_own_method(claim.text, self.papers.get(claim.paper_id), claim.paper_id)

    def corroborated(self) -> list[Claim]:
        return [c for c in self.claims if c.id in self.findings and c.grounded and c.is_corroborated]

    @property
    def facets(self) -> list[Facet]:
        return list(self.coverage.facets) if self.coverage is not None else []


def cited(claims: Sequence[Claim], labels: Mapping[str, str]) -> str:
    return "[" + ", ".join(labels[c.id] for c in claims) + "]"


def _stems(text: str) -> set[str]:
    return {stem(t) for t in content_tokens(text)} - _FRAMING


def _reach(inp: AnswerInputs, claim: Claim) -> dict[str, float]:
    """Facets a claim covers: 1 when its own words (method named) address one, 0.5 when only its paper does."""
    text = inp.named(claim)
    words = text_words(text)
    paper = inp.papers.get(claim.paper_id)
    ptext = paper_text(paper) if paper else ""
    pwords = text_words(ptext)
    out = {}
    for f in inp.facets:
        if addresses(f, text, words):
            out[f.phrase] = 1.0
        elif ptext and addresses(f, ptext, pwords):
            out[f.phrase] = 0.5
    return out


def facets_unjoined(inp: AnswerInputs) -> bool:
    """Does the question join facets no kept paper joins (or name one no kept paper addresses)?"""
    cov = inp.coverage
    return cov is not None and bool(cov.missing_pairs or any(not f.covered_by for f in cov.required))


def unanswerable_reasons(inp: AnswerInputs) -> bool:
    return facets_unjoined(inp) or not inp.corroborated()


def build_answer(inp: AnswerInputs, max_sentences: int) -> Answer:
    if facets_unjoined(inp):
        return cannot_answer(inp)
    if not inp.corroborated():
        return single_source_answer(inp, max_sentences) or cannot_answer(inp)
    return extractive_answer(inp, max_sentences)


def single_source_answer(inp: AnswerInputs, max_sentences: int) -> Answer | None:
    """Kept papers join the question's facets, but no finding is corroborated by a second paper: the
    grounded findings of the paper that addresses most of the facets (``JointCoverage.best_paper``; any
    kept paper's when it has none) — the one closest to the question first, then those covering facets
    it leaves out — each marked as one paper's word (None when there is no grounded finding). Saying
    "the corpus cannot answer" here would be false: a paper does; it is the corroboration that is
    missing, and the tier says so (no DOI grade without it)."""
    # the paper that addresses most of the question's facets: where the facets are joined, it is the one
    # that answers (its findings may word the facets otherwise than the question does)
    best = inp.coverage.best_paper if inp.coverage is not None else None

    def usable(claims: Sequence[Claim]) -> list[Claim]:
        return [c for c in claims if c.id in inp.findings and c.grounded and not c.is_corroborated]

    pool = usable([c for c in inp.claims if c.paper_id == best]) or usable(inp.claims)
    if not pool:
        return None
    # its finding closest to the question leads; then findings for the facets it leaves out
    lead = max(pool, key=lambda c: round(c.relevance, 4))
    reach = {lead.id: _reach(inp, lead)}
    rest = single_source(replace(inp, claims=pool), [lead], dict(reach[lead.id]), min(FILL_TO, max_sentences) - 1,
                         reach)
    chosen = [lead, *rest]
    sentences = [AnswerSentence(text=f"{inp.named(c).rstrip('.')} {cited([c], inp.labels)} ({single_note(c)}).",
                                claim_ids=[c.id]) for c in chosen]
    return Answer(status="single-source", sentences=sentences, gaps=gaps(inp, chosen), method="extractive-v1")


def extractive_answer(inp: AnswerInputs, max_sentences: int) -> Answer:
    candidates = inp.corroborated()
    order = {c.id: i for i, c in enumerate(inp.claims)}
    reach = {c.id: _reach(inp, c) for c in candidates}
    weight = {f.phrase: 1.0 if f.generic else 2.0 for f in inp.facets}
    stems = {c.id: _stems(c.text) for c in candidates}
    chosen: list[Claim] = []
    covered: dict[str, float] = {}

    def repeats(c: Claim) -> bool:
        return any(len(stems[c.id] & stems[o.id]) > _REPEATS * max(1, min(len(stems[c.id]), len(stems[o.id])))
                   for o in chosen)

    while len(chosen) < max_sentences:
        scored = []
        for c in candidates:
            if c in chosen or repeats(c):
                continue
            gain = sum(weight[f] * max(0.0, r - covered.get(f, 0.0)) for f, r in reach[c.id].items())
            scored.append((-round(gain, 6), -len(c.corroborated_by), -round(c.corroboration, 4), order[c.id], c))
        if not scored or scored[0][0] == 0:
            break
        best = min(scored, key=lambda s: s[:4])[4]
        chosen.append(best)
        for f, r in reach[best.id].items():
            covered[f] = max(covered.get(f, 0.0), r)
    cited_papers = {c.paper_id for c in chosen}
    for c in sorted(candidates, key=lambda c: (-round(c.relevance, 4), -len(c.corroborated_by), order[c.id])):
        if len(chosen) >= min(FILL_TO, max_sentences):
            break
        if c not in chosen and c.paper_id not in cited_papers and not repeats(c):
            chosen.append(c)
            cited_papers.add(c.paper_id)
    single = single_source(inp, chosen, covered, max_sentences - len(chosen), reach)
    facet_index = {f.phrase: i for i, f in enumerate(inp.facets)}

    def place(c: Claim) -> tuple:
        own = [facet_index[f] for f, r in reach[c.id].items() if r == 1.0]
        return (c in single, min(own, default=len(facet_index)), order[c.id])

    sentences = [AnswerSentence(text=f"{inp.named(c).rstrip('.')} {cited([c], inp.labels)}"
                                     + (f" ({single_note(c)})." if c in single else f" ({n})." if (n := within(c)) else "."),
                                claim_ids=[c.id])
                 for c in sorted([*chosen, *single], key=place)]
    return Answer(status="answered", sentences=sentences, gaps=gaps(inp, candidates), method="extractive-v1")


SINGLE_SOURCE = "one paper's finding: no other kept paper corroborates it"
OWN_WORK = "its paper's own work: no other kept paper names it"


def single_note(c: Claim) -> str:
    """Why a finding rests on one paper: no other paper states it, or it is that paper's own work
    (``Claim.own_work``: only a paper naming the work could corroborate it)."""
    return OWN_WORK if c.own_work else SINGLE_SOURCE


def within(c: Claim) -> str:
    """For a claim only its own paper's full text corroborates, say so: one paper, stated twice."""
    ev = c.corroborated_in_paper
    if ev is None or c.corroborated_by:
        return ""
    place = f"its {ev.section}" if ev.section else ("its abstract" if ev.location == "abstract" else "its full text")
    return f"one paper's finding, stated again in {place}" + (f", p. {ev.page}" if ev.page else "")


def single_source(inp: AnswerInputs, chosen: Sequence[Claim], covered: dict[str, float], room: int,
                  reach: dict[str, dict[str, float]]) -> list[Claim]:
    """Grounded findings no other paper corroborates, for what the corroborated ones leave out: the
    required facets no chosen claim states in its own words, then up to two sentences in all. Each
    is said to rest on one paper; the Answer's gaps still name what no corroborated claim addresses.
    ``reach`` (claim id -> facets it reaches) gains the entries of the claims read here."""
    required = {f.phrase for f in (inp.coverage.required if inp.coverage is not None else [])}
    pool = [c for c in inp.claims if c.id in inp.findings and c.grounded and not c.is_corroborated]
    reach.update({c.id: _reach(inp, c) for c in pool})
    order = {c.id: i for i, c in enumerate(inp.claims)}
    out: list[Claim] = []
    have = dict(covered)
    stems = {c.id: _stems(c.text) for c in [*chosen, *pool]}

    def repeats(c: Claim) -> bool:
        return any(len(stems[c.id] & stems[o.id]) > _REPEATS * max(1, min(len(stems[c.id]), len(stems[o.id])))
                   for o in [*chosen, *out])

    while len(out) < room:
        scored = [(-sum(max(0.0, r - have.get(f, 0.0)) for f, r in reach[c.id].items() if f in required and r == 1.0),
                   -round(c.relevance, 4), order[c.id], c) for c in pool if c not in out and not repeats(c)]
        scored = [s for s in scored if s[0] < 0 or len(chosen) + len(out) < MIN_SENTENCES]
        if not scored:
            break
        best = min(scored, key=lambda s: s[:3])[3]
        out.append(best)
        for f, r in reach[best.id].items():
            have[f] = max(have.get(f, 0.0), r)
    return out


def gaps(inp: AnswerInputs, candidates: Sequence[Claim]) -> list[str]:
    """Required facets no corroborated finding addresses (neither in its words nor through its paper)."""
    reached = {f for c in candidates for f in _reach(inp, c)}
    required = inp.coverage.required if inp.coverage is not None else []
    return [f.phrase for f in required if f.phrase not in reached]


# ---- the question the corpus cannot answer ----------------------------------------------------

def _pair_sentence(inp: AnswerInputs, a: str, b: str, in_corpus: int | None) -> str:
    if in_corpus is None:
        return f"No kept paper addresses {a} together with {b}."
    if in_corpus > 0:
        return (f"{in_corpus} corpus paper{'s' if in_corpus != 1 else ''} address{'es' if in_corpus == 1 else ''} "
                f"{a} together with {b}, but none passed the relevance gate.")
    n_a, n_b = inp.facet_counts.get(a), inp.facet_counts.get(b)
    checked = (f" (checked: {n_a} corpus paper{'s' if n_a != 1 else ''} mention{'s' if n_a == 1 else ''} the first, "
               f"{n_b} the second, none addresses both)") if n_a is not None and n_b is not None else \
        " (checked across the corpus: none addresses both)"
    return f"No paper in the corpus studies {a} together with {b}{checked}."


def cannot_answer(inp: AnswerInputs) -> Answer:
    """The Answer of a question the evidence cannot answer: why, and the closest partial evidence."""
    cov = inp.coverage
    sentences: list[str] = []
    if cov is not None:
        absent = [f.phrase for f in cov.facets if f.missing_from_corpus]
        words = sorted({w for f in cov.facets for w in f.missing_from_corpus})
        if words:
            sentences.append("No paper in the corpus mentions " + " or ".join(repr(w) for w in words) + ".")
        pairs = [p for p in cov.missing_pairs if not set(p.facets) & set(absent)]
        pairs.sort(key=lambda p: (p.in_corpus is None, p.in_corpus or 0))
        for p in pairs[:2]:
            sentences.append(_pair_sentence(inp, p.facets[0], p.facets[1], p.in_corpus))
        if len(pairs) > 2:
            rest = pairs[2:]
            sentences.append(f"{len(rest)} further pair{'s' if len(rest) != 1 else ''} of the question's facets "
                             f"{'are' if len(rest) != 1 else 'is'} joined by no kept paper either: "
                             + "; ".join(" + ".join(p.facets) for p in rest[:4])
                             + (f" (and {len(rest) - 4} more)" if len(rest) > 4 else "") + ".")
        if not cov.pairs:
            sentences += [f"No kept paper addresses {f.phrase}." for f in cov.required if not f.covered_by]
    if not inp.corroborated():
        sentences.append("No finding is corroborated by a second paper, so none can be given as an answer.")
    lead = "The corpus cannot answer this question as asked"
    sentences = sentences or ["the retrieved evidence does not join the question's facets."]
    first = sentences[0]
    sentences[0] = f"{lead}: {first[0].lower()}{first[1:]}"
    closest, ids = closest_evidence(inp)
    out = [AnswerSentence(text=s) for s in sentences[:4]]
    if closest:
        out.append(AnswerSentence(text=closest, claim_ids=ids))
    joined = {f for p in (cov.missing_pairs if cov else []) for f in p.facets}
    missing = [f.phrase for f in inp.facets if f.phrase in joined or (not f.generic and not f.covered_by)]
    return Answer(status="unanswerable", sentences=out, gaps=missing, method="extractive-v1")


def closest_evidence(inp: AnswerInputs, max_papers: int = 4) -> tuple[str, list[str]]:
    """"Closest partial evidence: <facets> — arXiv:<id> “<title>” [C3]; ...": papers chosen greedily to
    address the most facets still unaddressed — kept papers first, then candidates below the gate,
    the more relevant first — for facets some corpus paper mentions."""
    cov = inp.coverage
    if cov is None:
        return "", []
    facets = [f for f in (cov.required or cov.facets) if not f.missing_from_corpus]
    pool = sorted(inp.ranked, key=lambda sp: (not sp.kept, -sp.relevance, sp.paper.id))
    reach: dict[str, list[str]] = {}
    for sp in pool:
        if sp.kept:
            reach[sp.paper.id] = [f.phrase for f in facets if sp.paper.id in f.covered_by]
        else:
            t = paper_text(sp.paper)
            w = text_words(t)
            reach[sp.paper.id] = [f.phrase for f in facets if addresses(f, t, w)]
    left = {f.phrase for f in facets}
    picks: list[tuple[ScoredPaper, list[str]]] = []
    while left and len(picks) < max_papers:
        best = max(pool, key=lambda sp: (len(left & set(reach[sp.paper.id])), sp.kept, sp.relevance), default=None)
        if best is None or not left & set(reach[best.paper.id]):
            break
        got = [f for f in reach[best.paper.id] if f in left]
        picks.append((best, got))
        left -= set(got)
    parts, ids = [], []
    for sp, phrases in picks:
        rows = [c for c in inp.claims if c.paper_id == sp.paper.id and c.grounded][:2]
        ids += [c.id for c in rows]
        parts.append(" and ".join(repr(p) for p in phrases) + f" — {source_label(sp.paper.id)} “{short_title(sp.paper)}”"
                     + (f" {cited(rows, inp.labels)}" if rows else "")
                     + ("" if sp.kept else " (below the relevance gate)"))
    return ("Closest partial evidence: " + "; ".join(parts) + ".", ids) if parts else ("", [])


# ---- the audit of a generated answer ---------------------------------------------------------

Supports = Callable[[str, Sequence[Claim]], bool]


def audit(drafts: Sequence[tuple[str, Sequence[str]]], inp: AnswerInputs, min_overlap: float,
          supports: Supports | None = None) -> tuple[list[AnswerSentence], list[CutSentence]]:
    """The generated sentences that survive the audit (with their rows cited), and those cut, with why."""
    by_label = {label: c for c in inp.claims if (label := inp.labels.get(c.id))}
    kept, cut = [], []
    for raw, raw_rows in drafts:
        text = _CITATION.sub("", clip(raw, 500)).strip()
        rows = list(dict.fromkeys(r.strip().upper() if r.strip().upper().startswith("C") else f"C{r.strip()}"
                                  for r in raw_rows if r.strip()))
        reason = _audit_one(text, rows, by_label, inp, min_overlap, supports)
        if reason:
            cut.append(CutSentence(text=text, rows=rows, reason=reason))
        else:
            claims = [by_label[r] for r in rows]
            kept.append(AnswerSentence(text=f"{text.rstrip('.')} {cited(claims, inp.labels)}.",
                                       claim_ids=[c.id for c in claims]))
    return kept, cut


def _audit_one(text: str, rows: list[str], by_label: Mapping[str, Claim], inp: AnswerInputs, min_overlap: float,
               supports: Supports | None) -> str:
    if not text:
        return "empty sentence"
    if not rows:
        return "cites no claim row"
    if unknown := [r for r in rows if r not in by_label]:
        return f"cites {', '.join(unknown)}, which {'is' if len(unknown) == 1 else 'are'} not a claim row"
    claims = [by_label[r] for r in rows]
    if weak := [r for r, c in zip(rows, claims) if not (c.id in inp.findings and c.grounded and c.is_corroborated)]:
        return f"cites {', '.join(weak)}, which {'is' if len(weak) == 1 else 'are'} not a corroborated finding"
    sources = [inp.named(c) for c in claims]
    if extra := sorted(numbers_in(text) - set().union(*(numbers_in(s) for s in sources))):
        return f"states {', '.join(extra)}, which no cited claim reports"
    for f in inp.facets:
        if addresses(f, text) and not any(r.get(f.phrase) for r in (_reach(inp, c) for c in claims)):
            return f"speaks of {f.phrase!r}, which no cited claim (or its paper) addresses"
    words = _stems(text)
    held = set().union(*(_stems(s) for s in sources))
    share = len(words & held) / len(words) if words else 1.0
    if share >= min_overlap:
        return ""
    if supports is not None and share >= min_overlap / 2 and supports(text, claims):
        return ""
    return (f"the cited claims hold {share:.0%} of its content words (the audit needs {min_overlap:.0%}, or the "
            "calibrated verifier's support)")
