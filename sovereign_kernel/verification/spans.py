"""Span matching: where a model's quoted source span really is in the text it quotes.

An LLM's claim must carry the span of the abstract that states it. The span is accepted only
when it is found there verbatim (after whitespace normalisation) or near-verbatim, and the claim
then stores the real offsets and text of the source — never the model's copy.
"""

from __future__ import annotations

import re
from difflib import SequenceMatcher

_WORD_RE = re.compile(r"\S+")
_EDGE_PUNCT = "\"'“”‘’«»()[]{}.,;:"


def _norm(word: str) -> str:
    return word.strip(_EDGE_PUNCT).casefold()


def find_span(text: str, span: str, *, min_ratio: float = 0.9, min_words: int = 4) -> tuple[int, int, float] | None:
    """Where ``span`` is in ``text``: (start, end, match) with the real offsets of the matched
    text, or None when it is not there (an invented span) or shorter than ``min_words`` words (a
    term or a model name states no claim).

    Verbatim after whitespace normalisation gives match 1.0. Otherwise near-verbatim: windows of
    words aligned with the span's matching word runs are compared word by word (difflib, case and
    edge punctuation ignored), the best window is refined by a word at each end, and accepted when
    its character-level difflib ratio to the span (whitespace-normalised) is >= ``min_ratio``.
    """
    target = span.split()
    if len(target) < min_words or not text.strip():
        return None
    joined_target = " ".join(target)
    if joined_target in " ".join(text.split()):  # verbatim (whitespace-normalised): locate it
        verbatim = re.search(r"\s+".join(map(re.escape, target)), text)
        return verbatim.start(), verbatim.end(), 1.0
    words = list(_WORD_RE.finditer(text))
    texts = [w.group() for w in words]
    n, m = len(texts), len(target)
    norm_words = [_norm(t) for t in texts]
    matcher = SequenceMatcher(None, norm_words, [_norm(t) for t in target], autojunk=False)
    # Only windows aligned with a run of >= 2 matching words can reach the threshold: start
    # there (+-2 words for edits) instead of sliding over the whole text (~10x faster).
    anchors = {blk.a - blk.b for blk in matcher.get_matching_blocks() if blk.size >= 2}
    starts = sorted({i for a in anchors for i in range(a - 2, a + 3) if 0 <= i < n})
    best: tuple[float, int, int] | None = None
    for i in starts:
        for size in (m - 1, m, m + 1):
            j = i + size
            if size < 1 or j > n:
                continue
            matcher.set_seq1(norm_words[i:j])
            if matcher.real_quick_ratio() < min_ratio - 0.1 or matcher.quick_ratio() < min_ratio - 0.1:
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
    if ratio < min_ratio:
        return None
    return words[i].start(), words[j - 1].end(), round(ratio, 4)
