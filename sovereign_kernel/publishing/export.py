"""A report in the formats researchers carry elsewhere: BibTeX, RIS, CSV, JSON, HTML.

- **bibtex** / **ris** — one entry per reference (reference managers: Zotero, JabRef, EndNote):
  arXiv papers as ``@misc`` with ``eprint`` / ``archivePrefix`` (what arXiv's own "Export BibTeX
  citation" gives), papers with a DOI as ``@article`` with ``doi``; the year is that of the first
  version (``Reference.published``); the venue its arXiv record states, when it states one, as
  ``note`` (BibTeX) and ``N1`` (RIS). Written with bibtexparser and rispy.
- **csv** — the claims table, a row per claim, numbered ``C1…Cn`` as in ``report.md``.
- **json** — the report and its manifest, as stored.
- **html** — the report as one self-contained page.

Titles, authors and claims are paper text, so untrusted: a value is reduced to one line (a newline
in an RIS value would start a new tag), BibTeX loses the characters that could close its braces
early, and a CSV cell that a spreadsheet would run as a formula is prefixed with ``'``.
"""

from __future__ import annotations

import csv
import io
import json
import os
import re
import tempfile
import unicodedata
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Literal

from sovereign_kernel.domain.ids import (
    claim_number,
    is_arxiv_id,
    is_doi,
    source_label,
    source_url,
)
from sovereign_kernel.domain.schemas import Paper, Reference, Report
from sovereign_kernel.domain.units import where
from sovereign_kernel.publishing.figures import ReportFigure, report_figures
from sovereign_kernel.publishing.report_page import report_page

FORMATS = ("bibtex", "ris", "csv", "json", "html")
ExportFormat = Literal["bibtex", "ris", "csv", "json", "html"]

_SPACE = re.compile(r"\s+")
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def export_report(report: Report, manifest: dict, fmt: str, *, papers: Iterable[Paper] = (),
                  figures: Sequence[ReportFigure] | None = None) -> str:
    """The report as ``fmt`` (one of ``FORMATS``). ``papers`` (the run's kept papers) give the html page
    each abstract claim's passage; without them it quotes the span alone. ``figures``: the report's
    figures already drawn (``report_figures``) for the html page; drawn here when not given."""
    if fmt not in FORMATS:
        raise ValueError(f"unknown export format {fmt!r}: use one of {', '.join(FORMATS)}")
    if fmt == "bibtex":
        return bibtex(report.references)
    if fmt == "ris":
        return ris(report.references)
    if fmt == "csv":
        return claims_csv(report)
    if fmt == "json":
        return json.dumps({"report": report.model_dump(mode="json"), "manifest": manifest},
                          indent=2, ensure_ascii=False) + "\n"
    if figures is None:
        figures = report_figures(report, manifest)
    return report_page(report, manifest, papers=papers, figures=figures)


def one_line(value: object) -> str:
    """Untrusted text as one line: control characters and runs of whitespace become one space."""
    return _SPACE.sub(" ", _CONTROL.sub(" ", str(value))).strip()


def _doi(ref: Reference) -> str | None:
    return ref.doi or (ref.id if is_doi(ref.id) else None)


def _year(ref: Reference) -> str | None:
    return ref.published[:4] if ref.published and ref.published[:4].isdigit() else None


def citation_key(ref: Reference, taken: set[str]) -> str:
    """``<first author's surname><year><first title word>``, ASCII, unique within the file."""
    def ascii_word(text: str) -> str:
        plain = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
        return re.sub(r"[^a-z0-9]", "", plain.lower())

    name = ref.authors[0] if ref.authors else ""
    surname = ascii_word(name.split(",")[0] if "," in name else (name.split() or [""])[-1])
    first_word = next((w for w in (ascii_word(x) for x in ref.title.split()) if len(w) > 3), "")
    base = f"{surname or 'anon'}{_year(ref) or ''}{first_word}" or "ref"
    key, n = base, 1
    while key in taken:
        n += 1
        key = f"{base}{chr(ord('a') + n - 2) if n <= 27 else n}"
    taken.add(key)
    return key


VERBATIM_FIELDS = frozenset({"url", "doi", "eprint"})  # read verbatim by biblatex and the url package


def _bib_value(value: object, verbatim: bool = False) -> str:
    """A BibTeX field's content: one line, no braces (an unbalanced one would end the field), and,
    outside the verbatim fields, LaTeX's special characters escaped."""
    text = one_line(value).replace("{", "").replace("}", "").replace("\\", "")
    if verbatim:
        return text
    return re.sub(r"([&%$#_])", r"\\\1", text).replace("~", r"\~{}").replace("^", r"\^{}")


def bibtex(references: list[Reference]) -> str:
    """A BibTeX entry per reference."""
    import bibtexparser
    from bibtexparser import model

    lib, taken = bibtexparser.Library(), set()
    for ref in references:
        fields = [("title", ref.title), ("author", " and ".join(ref.authors)), ("year", _year(ref))]
        doi = _doi(ref)
        if is_arxiv_id(ref.id):
            fields += [("eprint", ref.id), ("archivePrefix", "arXiv")]
        # the venue as its authors state it (free text: "CVPR 2025 Workshop on ..."), so a note, not a booktitle
        fields += [("doi", doi), ("url", source_url(ref.id) or ref.url), ("note", ref.venue)]
        entry_type = "article" if doi else "misc"
        lib.add(model.Entry(entry_type, citation_key(ref, taken),
                            [model.Field(k, _bib_value(v, k in VERBATIM_FIELDS)) for k, v in fields if v]))
    return bibtexparser.write_string(lib)


def ris(references: list[Reference]) -> str:
    """An RIS record per reference (``UNPB`` for a preprint, ``JOUR`` for a paper with a DOI)."""
    import rispy

    class _Writer(rispy.RisWriter):
        def set_header(self, count):  # rispy numbers records ("1."); RIS readers expect none
            return None

    records = []
    for ref in references:
        doi = _doi(ref)
        record = {"type_of_reference": "JOUR" if doi else "UNPB", "title": one_line(ref.title),
                  "authors": [one_line(a) for a in ref.authors if a.strip()]}
        if _year(ref):
            record["year"] = _year(ref)
        if doi:
            record["doi"] = one_line(doi)
        if is_arxiv_id(ref.id):
            record["notes"] = [f"arXiv:{one_line(ref.id)}"]
        if ref.venue:
            record["notes"] = [*record.get("notes", []), one_line(ref.venue)]
        record["urls"] = [one_line(source_url(ref.id) or ref.url)]
        records.append(record)
    return rispy.dumps(records, implementation=_Writer)


CSV_COLUMNS = ("claim", "id", "text", "source", "source_url", "where", "page", "section", "quoted_span",
               "grounded", "confidence", "corroborated_by", "corroborated_in_paper", "own_work", "supporting_papers",
               "method")


def _cell(value: object) -> str:
    """A CSV cell a spreadsheet shows as text: a leading ``= + - @`` (a formula) gets a ``'``."""
    text = one_line(value)
    return "'" + text if text[:1] in ("=", "+", "-", "@") else text


def claims_csv(report: Report) -> str:
    """The claims table, ``C1…Cn`` in report order."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for i, c in enumerate(report.claims, 1):
        span = c.source_span
        inside = c.corroborated_in_paper
        writer.writerow([_cell(x) for x in (
            claim_number(i - 1), c.id, c.text, source_label(c.paper_id), source_url(c.paper_id) or "", where(span),
            span.page or "", span.section or "", span.text, "yes" if c.grounded else "no", f"{c.confidence:.3f}",
            "; ".join(source_label(p) for p in c.corroborated_by), where(inside) if inside else "",
            "yes" if c.own_work else "no", "; ".join(source_label(p) for p in c.supporting_papers), c.method)])
    return out.getvalue()


def write_atomic(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` through a temporary file unique to this writer (two writers of one
    path never share a temporary name), then replace ``path`` in one step."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        os.chmod(tmp, 0o644)  # mkstemp's 0600 is for secrets; an export is meant to be read
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
