"""From a PDF's raw page texts to a clean body: pure string work, no PDF library (``sources.pdf``
does the reading).

The steps, in order: characters are normalised (line ends, ligatures, pdfium's hyphen marks, odd
spaces, control characters); manuscript line numbers are stripped; running headers and footers
(lines that recur at the top or bottom of many pages) and bare page numbers are dropped; lines are
joined into paragraphs (words split across a line end re-joined) with one ``"\\n"`` between
paragraphs and around headings; the headings become sections; the reference list is cut out of the
body. Offsets are tracked throughout, so ``page_starts`` stays exact.
"""

from __future__ import annotations

import re
import statistics
from collections import Counter
from collections.abc import Sequence
from itertools import pairwise
from math import ceil
from types import MappingProxyType
from typing import NamedTuple

from sovereign_kernel.domain.fulltext import Section

EDGE_LINES = 3  # a running header/footer sits in the first or last 3 lines of a page
RUNNING_SHARE = 0.3  # ... and recurs on at least 30 % of pages (and at least 3)
REFS_MIN_SHARE = 0.4  # a reference heading counts only past 40 % of the text (not a "References" in a TOC)

_CHAR_MAP = MappingProxyType(str.maketrans({
    "\ufb00": "ff", "\ufb01": "fi", "\ufb02": "fl", "\ufb03": "ffi", "\ufb04": "ffl", "\ufb05": "st", "\ufb06": "st",
    # pdfium marks a hyphen that ended a line with U+FFFE (older builds: \x02) and drops the line end
    "\ufffe": "-\n", "\x02": "-\n", "\u2010": "-", "\u2011": "-",  # (non-breaking) hyphens as the ASCII one
    "\u00a0": " ", "\u2002": " ", "\u2003": " ", "\u2004": " ", "\u2005": " ", "\u2006": " ", "\u2007": " ",
    "\u2008": " ", "\u2009": " ", "\u200a": " ", "\u202f": " ", "\u205f": " ", "\u3000": " ", "\t": " ",
    "\u200b": None, "\u200c": None, "\u200d": None, "\u2060": None, "\ufeff": None,
}))
_ODD_CHARS = re.compile("[" + "".join(map(chr, _CHAR_MAP)) + "]")  # rare: sub() beats translate()
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
_SOFT_HYPHEN_EOL = re.compile(r"\u00ad[ ]*\n")
_SPACES = re.compile(r" {2,}")
_PAGE_NUMBER = re.compile(r"(?:page\s*)?\d{1,4}(?:\s*(?:of|/)\s*\d{1,4})?", re.IGNORECASE)
_LINE_NUMBER = re.compile(r"(\d{1,5})(?:\s+|$)")

_NAMES = (r"abstract|summary|author summary|summary statement|significance statement|introduction|background|"
          r"results|results and discussion|discussion|conclusions?|concluding remarks|methods|materials? and methods|methods and materials|"
          r"experimental(?: procedures| section)?|star\W?methods|online methods|acknowledge?ments?|"
          r"references|bibliography|literature cited|references and notes|works cited|"
          r"supplementary (?:materials?|information|data|figures|text)|supporting information|appendix|"
          r"author contributions|competing interests|conflicts? of interest|declaration of interests|"
          r"funding|data availability|code availability|data and code availability|significance|"
          r"figure legends|figures|tables|abbreviations|key ?words|limitations(?: of the study)?")
_NAMED = re.compile(rf"(?:(?:\d{{1,2}}|[IVX]{{1,4}})\.?\s+)?(?:{_NAMES})\s*[.:]?", re.IGNORECASE)
_NUMBERED = re.compile(r"(\d{1,2}(?:\.\d{1,2}){0,3})\.?\s+([A-Z][^:;@]{1,80})")
_INLINE_ABSTRACT = re.compile(r"(Abstract|ABSTRACT)(?:\s*[.:\u2014-]\s*|\s+(?=[A-Z]))(?=\S)")
_REFS = re.compile(r"(?:\d{1,2}\.?\s+)?(?:references(?: and notes)?|bibliography|literature cited|works cited)\s*:?",
                   re.IGNORECASE)
_AFTER_REFS = re.compile(r"(?:\d{1,2}\.?\s+)?(?:supplementary|supporting|appendix|extended data|figure legends|"
                         r"figures|tables|(?:online |star\W?)?methods|materials? and methods)", re.IGNORECASE)
_CAPTION = re.compile(r"(?:supplementary\s+|extended\s+data\s+)?(?:fig(?:ure)?\.?|table)\s*S?\d+[A-Za-z]?\s*[.:|]",
                      re.IGNORECASE)
_SENTENCE_END = re.compile(r"[.!?:][\"'\u201d)\]]?$")
_BULLET = re.compile(r"^[\u25a0-\u25ff\u2022\u2023\u25b6\u25ba\u2605\u2606*]+\s*")
_TRAILING_STOPWORD = re.compile(r"\b(?:in|of|the|and|for|to|a|an|with|on|by|from|at|or|via)$", re.IGNORECASE)
_YEAR = re.compile(r"\b(?:19|20)\d\d\b")
_WORD = re.compile(r"[^\W\d_]+")
_HYPHEN_END = re.compile(r"([^\W\d_]+)-$")
_COMPOUND = re.compile(r"[^\W\d_]+-[^\W\d_]+")


class Layout(NamedTuple):
    """The cleaned text of every page, joined; references still inside."""

    text: str
    page_starts: list[int]
    headings: list[tuple[int, str]]  # (offset, heading as printed)
    first_page_lines: list[str]  # page 1 after cleaning, line by line (for the title)


class Body(NamedTuple):
    body: str
    page_starts: list[int]
    sections: list[Section]
    references: str


def normalize(raw: str) -> str:
    """Line ends, ligatures, hyphen marks, odd spaces and control characters of one page's text."""
    text = raw.replace("\r\n", "\n").replace("\r", "\n")
    text = _SOFT_HYPHEN_EOL.sub("-\n", text).replace("\u00ad", "")  # a soft hyphen only matters at a line end
    text = _CONTROL.sub("", _ODD_CHARS.sub(lambda m: _CHAR_MAP[ord(m.group())] or "", text))
    return _SPACES.sub(" ", text)


def page_lines(raw_pages: Sequence[str]) -> list[list[str]]:
    """Each page's non-empty lines, normalised, line numbers stripped, running headers/footers dropped."""
    pages = [[ln.strip() for ln in normalize(raw).split("\n")] for raw in raw_pages]
    pages = [_strip_line_numbers([ln for ln in lines if ln]) for lines in pages]
    return _drop_running_lines(pages)


def _strip_line_numbers(lines: list[str]) -> list[str]:
    """Drop the line numbers of a numbered manuscript (bioRxiv, journal submissions): most lines of
    the page start with an integer, and those integers mostly count up."""
    nums = [(i, int(m.group(1))) for i, ln in enumerate(lines) if (m := _LINE_NUMBER.match(ln))]
    if len(nums) < 5 or len(nums) < 0.5 * len(lines):
        return lines
    rising = sum(1 for (_, a), (_, b) in pairwise(nums) if 0 < b - a <= 3)
    if rising < 0.7 * (len(nums) - 1):
        return lines
    out = list(lines)
    for i, _ in nums:
        out[i] = _LINE_NUMBER.sub("", out[i], count=1)
    return [ln for ln in out if ln]


def _shape(line: str) -> str:
    """A line with its digits masked: "Nature Communications | (2024) 15:515 3" recurs as one shape."""
    return " ".join(re.sub(r"\d+", "#", line.lower()).split())


def _edges(lines: list[str]) -> list[int]:
    n = len(lines)
    return sorted(set(range(min(EDGE_LINES, n))) | set(range(max(0, n - EDGE_LINES), n)))


def _drop_running_lines(pages: list[list[str]]) -> list[list[str]]:
    """Drop lines at a page's top or bottom whose shape recurs there on >= 30 % of pages (min 3)
    and rarely inside pages (a templated sentence such as "Source data are provided as a Source
    Data file." is content), and bare page numbers there. Repeated, since a dropped footer can
    uncover another (a journal line above a licence line above a page number)."""
    need = max(3, ceil(RUNNING_SHARE * len(pages)))
    for _ in range(3):
        at_edges, inside = Counter(), Counter()
        for lines in pages:
            edges = _edges(lines)
            at_edges.update({_shape(lines[i]) for i in edges})
            inside.update({_shape(ln) for i, ln in enumerate(lines) if i not in edges})
        running = {s for s, c in at_edges.items() if c >= need and c >= 2 * inside[s]} if len(pages) >= 3 else set()
        changed, out = False, []
        for lines in pages:
            drop = {i for i in _edges(lines) if _shape(lines[i]) in running or _PAGE_NUMBER.fullmatch(lines[i])}
            changed |= bool(drop)
            out.append([ln for i, ln in enumerate(lines) if i not in drop])
        pages = out
        if not changed:
            break
    return pages


def heading(line: str, prev: str | None = None, nxt: str | None = None) -> str | None:
    """The line as a section heading (its title), or None: a known section name, optionally
    numbered ("3. Results", "■ REFERENCES"); or, where the line stands alone — the line before ends
    a sentence and the next does not continue one in lower case — a numbered title ("2.3 Cell
    culture") or a short ALL-CAPS line of two or more words ("MATERIALS AND METHODS")."""
    line = _BULLET.sub("", line.strip())
    if len(line) > 90 or len(line) < 4:
        return None
    if _NAMED.fullmatch(line):
        return line.rstrip(".:").strip()
    if not (_numbered_title(line) or _caps_title(line)):
        return None
    if (nxt and nxt[0].islower()) or (prev and not _SENTENCE_END.search(prev) and heading(prev) is None):
        return None
    return line


def _numbered_title(line: str) -> bool:
    m = _NUMBERED.fullmatch(line)
    return bool(m) and _title_like(m.group(2), multi_level="." in m.group(1))


def _caps_title(line: str) -> bool:
    """Two to eight ALL-CAPS words, one of 5+ letters (a single capitalised word is mostly a
    figure's label: "DAPI", "ANTI")."""
    if not line.isupper() or line.endswith(".") or _TRAILING_STOPWORD.search(line):
        return False
    words = line.split()
    return (2 <= len(words) <= 8 and len({w for w in words if w.isalpha()}) >= 2
            and not any(c.isdigit() for c in line) and any(len(w) >= 5 and w.isalpha() for w in words)
            and sum(c.isalpha() for c in line) >= 0.7 * len(line.replace(" ", "")))


def _title_like(rest: str, *, multi_level: bool) -> bool:
    words = rest.split()
    if len(words) > 12 or rest.count(",") > 1 or rest[-1] in ".,;" or _TRAILING_STOPWORD.search(rest) \
            or not any(len(w) >= 4 and w.isalpha() for w in words):
        return False  # (a heading never ends in "of": "2. Department of Structures, Delft University of")
    # "2.3 Cell culture" is a heading as is; after a bare "2 ", only a title-cased line is one
    return multi_level or all(w[0].isupper() for w in words if len(w) >= 4 and w[0].isalpha())


def _vocabulary(pages: list[list[str]]) -> tuple[frozenset[str], frozenset[str]]:
    """The document's words and its hyphenated compounds (inside lines): they decide whether a
    word split at a line end is re-joined ("regu-lation") or keeps its hyphen ("well-known")."""
    text = "\n".join(ln for lines in pages for ln in lines).lower()
    # a compound needs a letter right after its hyphen: "regu-\nlation" (split at a line end) is not one
    return frozenset(_WORD.findall(text)), frozenset(_COMPOUND.findall(text))


def _join(a: str, b: str, words: frozenset[str], compounds: frozenset[str]) -> str:
    """Join two lines of one paragraph."""
    if a.endswith("-") and (m := _HYPHEN_END.search(a, max(0, len(a) - 80))):
        left, right = m.group(1), (r.group(0) if (r := _WORD.match(b)) else "")
        if right and left[-1].islower() and b[0].islower() and (
                (left + right).lower() in words or f"{left}-{right}".lower() not in compounds):
            return a[:-1] + b  # "regu-" + "lation": most line-end hyphens are hyphenation
        return a + b  # "CRISPR-" + "Cas9", "EF-" + "1A", "well-" + "known" (printed so elsewhere)
    if b[0] in ",.;:)]}" or a[-1] in "([{/\u2013\u2014":
        return a + b  # a citation's superscript split from its punctuation, a range "5\u2013" + "10"
    return a + " " + b


def _paragraphs(lines: list[str], words: frozenset[str], compounds: frozenset[str]) -> list[tuple[str, str | None]]:
    """A page's lines joined into paragraphs: (text, heading title or None)."""
    lengths = [len(ln) for ln in lines if len(ln) >= 25]
    typical = statistics.median(lengths) if lengths else 60.0
    out: list[tuple[str, str | None]] = []
    current, last = "", ""
    lines = _split_inline_abstract(lines)
    for i, line in enumerate(lines):
        title = heading(line, lines[i - 1] if i else None, lines[i + 1] if i + 1 < len(lines) else None)
        if title is not None:
            if current:
                out.append((current, None))
            out.append((line, title))
            current, last = "", line + "."  # what follows a heading starts afresh
            continue
        # a paragraph ends on a short line that ends a sentence, or before a figure/table caption
        if current and _SENTENCE_END.search(last) and (len(last) < 0.85 * typical or _CAPTION.match(line)):
            out.append((current, None))
            current = ""
        current = _join(current, line, words, compounds) if current else line
        last = line
    if current:
        out.append((current, None))
    return out


def _split_inline_abstract(lines: list[str]) -> list[str]:
    """"Abstract: We show ..." on one line becomes the heading and its text."""
    out = []
    for line in lines:
        m = _INLINE_ABSTRACT.match(line)
        out.extend([m.group(1), line[m.end():]] if m and len(line) > m.end() + 20 else [line])
    return out


def layout(pages: list[list[str]]) -> Layout:
    """Pages of lines -> one text (pages joined with "\\n"), page offsets and headings."""
    words, compounds = _vocabulary(pages)
    paged = [_paragraphs(lines, words, compounds) for lines in pages]
    _mend_page_breaks(paged)
    text_parts, page_starts, headings, pos = [], [], [], 0
    for paras in paged:
        page_starts.append(pos)
        for para, title in paras:
            if title is not None:
                headings.append((pos, title))
            text_parts.append(para)
            pos += len(para) + 1
        if not paras:
            text_parts.append("")
            pos += 1
    return Layout("\n".join(text_parts), page_starts, headings, pages[0] if pages else [])


def _mend_page_breaks(paged: list[list[tuple[str, str | None]]]) -> None:
    """A word hyphenated across a page break ("regu-" | "lation ...") is completed on the first page."""
    for prev, nxt in pairwise(paged):
        if not prev or not nxt or prev[-1][1] is not None or nxt[0][1] is not None:
            continue
        tail, head = prev[-1][0], nxt[0][0]
        if re.search(r"[^\W\d_]-$", tail) and head[:1].islower():
            word, _, rest = head.partition(" ")
            prev[-1] = (tail[:-1] + word, None)
            if rest:
                nxt[0] = (rest, None)
            else:
                del nxt[0]


def split_references(lay: Layout) -> Body:
    """Cut the reference list out: from the last reference heading past 40 % of the text to the
    next supplementary/appendix/methods heading or figure-caption page (else the end)."""
    text = lay.text
    lo = int(REFS_MIN_SHARE * len(text))
    # a heading followed by a list (years in it): not a publisher's cover page with a "References" link
    heads = [o for o, t in lay.headings if _REFS.fullmatch(t) and o >= lo and len(_YEAR.findall(text, o, o + 1500)) >= 3]
    start = heads[-1] if heads else _numbered_list(text, lo)
    if start is None:
        return Body(text, lay.page_starts, [Section(start=o, title=t) for o, t in lay.headings], "")
    ends = [o for o, t in lay.headings if o > start and _AFTER_REFS.match(t) and not _REFS.fullmatch(t)]
    ends += [p for p in lay.page_starts if p > start and _CAPTION.match(text[p:p + 40])]
    end = min(ends, default=len(text))
    cut = end - start

    def moved(offset: int) -> int:
        return offset if offset <= start else start if offset <= end else offset - cut

    body = text[:start] + text[end:]
    sections = [Section(start=moved(o), title=t) for o, t in lay.headings if not start <= o < end]
    return Body(body, [moved(p) for p in lay.page_starts], sections, text[start:end].strip())


def _numbered_list(text: str, lo: int) -> int | None:
    """Where an unheaded numbered reference list starts (PNAS prints none): the last "1. X" past
    ``lo`` that is followed within a few lines by "2. " and "3. ", each entry with a year."""
    found = None
    for m in re.finditer(r"(?<!\S)1\.\s+[A-Z]", text[lo:]):
        pos = lo + m.start()
        entry = pos
        for k in (2, 3):
            nxt = re.compile(rf"(?<!\S){k}\.\s+[A-Z]").search(text, entry + 4, entry + 1200)
            if nxt is None or not _YEAR.search(text, entry, nxt.start()):
                break
            entry = nxt.start()
        else:
            found = pos
    return found
