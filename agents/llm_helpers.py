"""What the LLM variants of the agents share: the session, span checking, prompt blocks.

Nothing here calls a model; ``session(runtime)`` is None offline and the agents then run
their offline algorithm unchanged.
"""

from __future__ import annotations

import re
from difflib import SequenceMatcher

from sovereign_kernel.domain.schemas import Claim, Draft, Review

NEAR_VERBATIM = 0.9  # difflib ratio a model's span needs against the abstract text it is matched to
MIN_SPAN_WORDS = 4  # shorter "spans" (a term, a model name) state no claim
MAX_TEXT_CHARS = 400  # a model's reason, note or claim text is cut here before it enters a report
MAX_ITEMS = 6  # reasons / recommendations / notes kept from one answer
_WORD_RE = re.compile(r"\S+")
_EDGE_PUNCT = "\"'“”‘’«»()[]{}.,;:"


def session(runtime):
    """The run's ``LLMSession``, or None (offline, or a context without one, e.g. Studio's)."""
    return getattr(runtime.context, "llm_session", None)


def model_tag(sess, role: str) -> str:
    return f"llm-{role}:{sess.model_name(role)}"


# ---- source spans ------------------------------------------------------------------------------

def _norm(word: str) -> str:
    return word.strip(_EDGE_PUNCT).casefold()


def find_span(abstract: str, span: str) -> tuple[int, int, float] | None:
    """Where the model's ``span`` is in ``abstract``: (start, end, match) with the real offsets of
    the matched abstract text, or None when it is not there (an invented span).

    Verbatim after whitespace normalisation gives match 1.0. Otherwise near-verbatim: windows
    of abstract words aligned with the span's matching word runs are compared word by word (difflib, case and edge punctuation
    ignored), the best window is refined by a word at each end, and accepted when its
    character-level difflib ratio to the span (whitespace-normalised) is >= 0.9.
    """
    target = span.split()
    if len(target) < MIN_SPAN_WORDS or not abstract.strip():
        return None
    joined_target = " ".join(target)
    if joined_target in " ".join(abstract.split()):  # verbatim (whitespace-normalised): locate it
        verbatim = re.search(r"\s+".join(map(re.escape, target)), abstract)
        return verbatim.start(), verbatim.end(), 1.0
    words = list(_WORD_RE.finditer(abstract))
    texts = [w.group() for w in words]
    n, m = len(texts), len(target)
    norm_words = [_norm(t) for t in texts]
    matcher = SequenceMatcher(None, norm_words, [_norm(t) for t in target], autojunk=False)
    # Only windows aligned with a run of >= 2 matching words can reach the threshold: start
    # there (+-2 words for edits) instead of sliding over the whole abstract (~10x faster).
    anchors = {blk.a - blk.b for blk in matcher.get_matching_blocks() if blk.size >= 2}
    starts = sorted({i for a in anchors for i in range(a - 2, a + 3) if 0 <= i < n})
    best: tuple[float, int, int] | None = None
    for i in starts:
        for size in (m - 1, m, m + 1):
            j = i + size
            if size < 1 or j > n:
                continue
            matcher.set_seq1(norm_words[i:j])
            if matcher.real_quick_ratio() < NEAR_VERBATIM - 0.1 or matcher.quick_ratio() < NEAR_VERBATIM - 0.1:
                continue
            r = matcher.ratio()
            if best is None or r > best[0]:
                best = (r, i, j)
    if best is None:
        return None
    _, i0, j0 = best
    # Refine by a word at each end on characters; quick_ratio bounds ratio from above, so the
    # windows that cannot beat the best so far are skipped without the quadratic comparison.
    chars = SequenceMatcher(None, autojunk=False)
    chars.set_seq2(joined_target)
    bounded = []
    for i in (i0 - 1, i0, i0 + 1):
        for j in (j0 - 1, j0, j0 + 1):
            if 0 <= i < j <= n:
                chars.set_seq1(" ".join(texts[i:j]))
                bounded.append((chars.quick_ratio(), -(j - i), i, j))
    top: tuple[float, int, int, int] | None = None
    for bound, neg_len, i, j in sorted(bounded, reverse=True):
        if top is not None and bound < top[0]:
            break
        chars.set_seq1(" ".join(texts[i:j]))
        top = max(top or (-1.0, 0, 0, 0), (chars.ratio(), neg_len, i, j))
    ratio, _, i, j = top
    if ratio < NEAR_VERBATIM:
        return None
    return words[i].start(), words[j - 1].end(), round(ratio, 4)


# ---- prompt blocks -----------------------------------------------------------------------------

def clip(text: str, limit: int = MAX_TEXT_CHARS) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def clean_list(values, limit: int = MAX_ITEMS) -> list[str]:
    out = []
    for v in values:
        v = clip(v)
        if v and v not in out:
            out.append(v)
    return out[:limit]


def clean_queries(queries, n: int, exclude=()) -> list[str]:
    """Distinct, non-empty keyword queries (at most 12 words each), none from ``exclude``."""
    out: list[str] = []
    for q in queries:
        q = " ".join(re.sub(r"[\"'`]", " ", str(q)).split()[:12])
        if q and q.lower() not in {o.lower() for o in out} and q not in exclude:
            out.append(q)
    return out[:n]


def claims_block(claims: list[Claim]) -> str:
    """One line per claim: id, verified, confidence, text."""
    return "\n".join(
        f"{c.id} | {'verified' if c.verified else 'unverified'} | confidence {c.confidence:.2f} | {clip(c.text, 300)}"
        for c in claims
    ) or "(no claims)"


def draft_block(draft: Draft | None) -> str:
    if draft is None:
        return "(no draft)"
    parts = [draft.abstract, *(f"- {f}" for f in draft.findings)]
    return "\n".join(parts)


def signals_block(review: Review) -> str:
    """The rubric's measured lines ("signal: measured -> points/max") and its other findings."""
    lines = [f"{i.signal}: {i.measured} -> {i.points:g}/{i.max_points:g}" for i in review.rubric]
    lines += [i for i in review.issues if not any(i.startswith(r.signal + ":") for r in review.rubric)]
    return "\n".join(lines)


def reviews_block(reviews: list[Review]) -> str:
    return "\n".join(
        f"{r.role} ({r.score:.1f}/10, {r.verdict}): " + "; ".join([*r.issues, *r.llm_reasons])
        + (" | recommends: " + "; ".join([*r.recommendations, *r.llm_recommendations])
           if r.recommendations or r.llm_recommendations else "")
        for r in reviews
    ) or "(no reviews)"
