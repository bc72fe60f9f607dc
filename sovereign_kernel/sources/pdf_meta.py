"""What a PDF says about itself: title, authors, year, DOI, arXiv id and abstract, from its info
dictionary and its first pages' text. Pure string heuristics (``sources.pdf`` does the reading).

Order of trust: the info dictionary when its value looks real (a Title that is not a file name, a
DOI in the Subject), then page 1, then page 2. A DOI found only in the reference list is never the
paper's own (a two-page letter can cite on page 2).
"""

from __future__ import annotations

import html
import re
from collections.abc import Mapping, Sequence

from sovereign_kernel.domain.fulltext import PdfMetadata
from sovereign_kernel.sources.pdf_text import Body, Layout, heading

ABSTRACT_MAX = 3000  # characters of an abstract found under its heading
ABSTRACT_FALLBACK = 1500  # characters of page 1's text used when no abstract heading is found

_DOI = re.compile(r"10\.\d{4,9}/[^\s\"<>]+")
_ARXIV = re.compile(r"arXiv:\s?(\d{4}\.\d{4,5}|[a-z][a-z.\-]+/\d{7})(?:v\d+)?", re.IGNORECASE)
_YEAR = r"((?:19|20)\d\d)"
_YEAR_PATTERNS = (
    re.compile(rf"(?:\u00a9|\(c\)|copyright)\s*(?:the\s+authors?\s*)?(?:\(s\)\s*)?{_YEAR}", re.IGNORECASE),
    re.compile(rf"posted\s+(?:on\s+)?[A-Z][a-z]+\.?\s+\d{{1,2}},?\s+{_YEAR}"),
    re.compile(rf"published(?:\s+online)?:?\s+(?:\d{{1,2}}\s+)?[A-Z][a-z]+\.?\s+(?:\d{{1,2}},?\s+)?{_YEAR}", re.IGNORECASE),
)
_JUNK_TITLE = re.compile(r"^(?:untitled|microsoft\s+\w+\s*-|document\d*$|title$|slide\s*\d)|"
                         r"\.(?:docx?|pdf|tex|dvi|indd|rtf|odt|ps|qxd)$|\d+\.\.\d+|10\.\d{4,9}/", re.IGNORECASE)
_TRAILING_STOPWORD = re.compile(r"\b(?:in|of|the|and|for|to|a|an|with|on|by|from|at|or|via)$", re.IGNORECASE)
_NOT_TITLE_LINE = re.compile(r"https?:|www\.|doi|@|\u00a9|copyright|licen[cs]e|open access|journal|preprint|"
                             r"received|accepted|published|volume|vol\.|issn|citation|check for updates|"
                             r"^(?:research\s+)?article$|^(?:original\s+)?research|^letter$|^report$", re.IGNORECASE)
_AUTHOR_LINE = re.compile(r"[a-z\u00e0-\u00ff][\d*\u2020\u2021#]+(?:[,\s]|$)|&|\*|\u2020|@")
_CAPITALISED = re.compile(r"(?<![\w,.])[A-Z][a-z]+\b")
_NOT_A_NAME = re.compile(r"^(?:administrator|admin|user|owner|author|unknown|anonymous|editor)$", re.IGNORECASE)


def extract_metadata(info: Mapping[str, str], pages: Sequence[str], lay: Layout, body: Body) -> PdfMetadata:
    """The paper's metadata. ``pages``: every page's normalised text, running headers included
    (a journal's header often carries the DOI)."""
    info = {k: html.unescape(v) for k, v in info.items()}
    info_text = " ".join(info.get(k, "") for k in ("Subject", "Title", "Keywords"))
    refs = body.references.lower()
    everywhere = "\n".join(pages).lower()

    def uncited(found: str) -> bool:  # printed somewhere besides the reference list
        return everywhere.count(found.lower()) > refs.count(found.lower())

    title = _info_title(info.get("Title", "")) or _first_page_title(lay.first_page_lines)
    doi = _first_not_cited(_DOI, info_text, pages[:2], uncited, _clean_doi) or _doi_line(pages)
    return PdfMetadata(
        title=title,
        authors=split_authors(info.get("Author", "")),
        year=_year(info, pages[:2]),
        doi=doi,
        arxiv_id=_first_not_cited(_ARXIV, info_text, pages[:2], uncited, lambda m: m),
        abstract=_abstract(body, title),
    )


def _clean_doi(doi: str) -> str:
    doi = doi.rstrip(".,;:'\u2019\"")
    for opening, closing in ("()", "[]", "{}"):  # "(doi:10.1/x)": the bracket closes the sentence, not the DOI
        while doi.endswith(closing) and doi.count(closing) > doi.count(opening):
            doi = doi[:-1].rstrip(".,;:")
    return doi.lower()


def _first_not_cited(pattern: re.Pattern, info_text: str, pages: Sequence[str], uncited, clean) -> str | None:
    """The first match in the info dictionary, else on page 1, else page 2 — skipping a match
    printed only in the reference list (someone else's paper, on a short paper's page 2)."""
    if m := pattern.search(info_text):
        return clean(m.group(1) if pattern.groups else m.group(0))
    for text in pages[:2]:
        for m in pattern.finditer(text):
            found = clean(m.group(1) if pattern.groups else m.group(0))
            if uncited(found):
                return found
    return None


def _doi_line(pages: Sequence[str]) -> str | None:
    """Last resort: the last line that is a DOI alone ("10.1126/science.aaw1219" under Science's
    "accepted" date), unless the line before ends in "doi.org/" (a reference's DOI wrapped)."""
    found = None
    for text in pages:
        lines = text.split("\n")
        for prev, line in zip([""] + lines, lines):
            line = line.strip()
            if _DOI.fullmatch(line.rstrip(".")) and not prev.rstrip().endswith(("/", "doi:", "doi", "DOI:")):
                found = _clean_doi(line)
    return found


def _year(info: Mapping[str, str], pages: Sequence[str]) -> int | None:
    """The printed year (copyright, posted, published) on the first pages, else the file's dates."""
    text = "\n".join(pages[:2])
    for pattern in _YEAR_PATTERNS:
        if m := pattern.search(text):
            return int(m.group(1))
    for key in ("CreationDate", "ModDate"):
        if m := re.match(r"(?:D:)?((?:19|20)\d\d)", info.get(key, "").strip()):
            return int(m.group(1))
    return None


def _info_title(title: str) -> str:
    """The info dictionary's Title when it looks like a paper's title (not a file name, a job
    ticket like "OP-GENE210101 1..14", a DOI, or a cut-off "A loss-of-function mutation in")."""
    title = " ".join(title.split())
    if len(title) < 12 or " " not in title or _JUNK_TITLE.search(title) or _TRAILING_STOPWORD.search(title):
        return ""
    return title if sum(c.isalpha() for c in title) >= 0.6 * len(title) else ""


def _first_page_title(lines: Sequence[str]) -> str:
    """The first substantial line of page 1 (not a journal banner, a URL, a date or a heading),
    continued over the next lines until an author line."""
    parts: list[str] = []
    for line in lines[:25]:
        if not parts:
            if len(line.split()) >= 3 and len(line) >= 15 and not _NOT_TITLE_LINE.search(line) \
                    and heading(line) is None and sum(c.isalpha() for c in line) >= 0.6 * len(line):
                parts.append(line)
            continue
        if _AUTHOR_LINE.search(line) or line.count(",") >= 2 or heading(line) is not None or \
                _NOT_TITLE_LINE.search(line) or parts[-1].endswith(".") or len(" ".join(parts)) + len(line) > 300:
            break
        parts.append(line)
    return " ".join(parts).rstrip(".").strip()


def split_authors(author: str) -> list[str]:
    """The info dictionary's Author as names: split on ";" or else on "," / "and" / "&"; a single
    "Last, First" is one name."""
    author = " ".join(author.split())
    if ";" in author:
        names = author.split(";")
    elif author.count(",") == 1 and all(1 <= len(p.split()) <= 2 for p in author.split(",")) and " and " not in author:
        last, first = (p.strip() for p in author.split(","))
        names = [f"{first} {last}"]
    else:
        names = re.split(r",|\band\b|&", author)
    names = [n.strip(" .") for n in names]
    return [n for n in names if n and any(c.isalpha() for c in n) and not _NOT_A_NAME.match(n)]


def _abstract(body: Body, title: str) -> str:
    """The text under an "Abstract"/"Summary" heading in the first pages (up to the next heading),
    else page 1's text after the title, from its first plain sentence (past the author lines)."""
    text, starts = body.body, body.page_starts
    early = starts[3] if len(starts) > 3 else len(text)
    for i, sec in enumerate(body.sections):
        if sec.start <= early and re.fullmatch(r"abstract|summary", sec.title.strip(), re.IGNORECASE):
            head_end = text.find("\n", sec.start) + 1
            nxt = body.sections[i + 1].start if i + 1 < len(body.sections) else len(text)
            found = " ".join(text[head_end:nxt].split())
            if len(found) >= 100:
                return found[:ABSTRACT_MAX]
    page1 = text[: starts[1]] if len(starts) > 1 else text
    words = title.split()
    if words and (first := page1.find(words[0])) >= 0 and (last := page1.find(words[-1], first)) >= 0:
        page1 = page1[last + len(words[-1]):]  # the text after the title
    return " ".join(page1[_prose_start(page1):].split())[:ABSTRACT_FALLBACK]


def _prose_start(text: str) -> int:
    """Where the first plain sentence starts, past author and affiliation lines: a capitalised
    word followed by mostly lower-case words ("Ubiquitously expressed aminoacyl-tRNA synthetases
    play", not "Zhongyi Lu1,2,4, Runyue Xia" or "Department of Biology, Tufts University")."""
    for m in _CAPITALISED.finditer(text):
        following = text[m.end():m.end() + 80].split()[:5]
        if sum(w.strip(",;()").isalpha() and w.strip(",;()").islower() for w in following) >= 4:
            return m.start()
    return 0
