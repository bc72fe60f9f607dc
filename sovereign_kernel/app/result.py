"""``ResearchResult``: a finished (or paused) run, ready to read, render and write."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

from sovereign_kernel.domain.errors import OutputError
from sovereign_kernel.domain.schemas import Paper, Report
from sovereign_kernel.publishing.export import export_report, write_atomic
from sovereign_kernel.publishing.figures import (
    DEFAULT_FIGURE_NAME,
    REPORT_FIGURES,
    ReportFigure,
    link_figures,
    report_figures,
    write_png,
)
from sovereign_kernel.publishing.html import report_html
from sovereign_kernel.publishing.literature_figure import LITERATURE_FIGURE_NAME
from sovereign_kernel.publishing.report_page import report_page

OUTPUT_FILES = ("report.md", "report.html", "manifest.json", *(f.name for f in REPORT_FIGURES))


class ResearchResult:
    """A run's ``Report``, its manifest and Markdown.

    ``status`` is PUBLISHED, ARCHIVED, or PENDING_REVIEW when the policy escalated to the owner
    (then ``review_request`` says what the owner is asked, and the report is the draft).
    """

    def __init__(self, report: Report, manifest: dict, markdown: str, tribunal_history: list | None = None,
                 run_id: str | None = None, status: str = "PUBLISHED", review_request: dict | None = None,
                 papers: list[Paper] | None = None):
        self.report = report
        self.manifest = manifest
        self.markdown = markdown
        self.tribunal_history = tribunal_history or []
        self.run_id = run_id
        self.status = status
        self.review_request = review_request
        self.papers = papers or []  # the kept papers: their text shows each claim's source passage in report.html
        self._figures: tuple[ReportFigure, ...] | None = None

    def figures(self) -> tuple[ReportFigure, ...]:
        """The report's figures (``REPORT_FIGURES``: the tribunal figure, the literature figure), each PNG
        drawn once, on first use, and reused by ``write`` (the files, report.html), ``export("html")`` and
        the notebook HTML."""
        if self._figures is None:
            self._figures = report_figures(self.report, self.manifest)
        return self._figures

    def write(self, out_dir: str | Path) -> tuple[Path, Path]:
        """``report.md``, ``report.html`` (the standalone page), ``manifest.json`` and the report's figures
        (``figure.png``: the tribunal, ``literature.png``) in ``out_dir``, each replaced atomically; report.md
        links every figure and report.html shows each inline. Returns report.md's and manifest.json's paths."""
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        md, mf = out / "report.md", out / "manifest.json"
        figures = self.figures()
        for f in figures:
            write_png(out / f.name, f.png)
        write_atomic(md, link_figures(self.markdown, figures))
        write_atomic(out / "report.html", report_page(self.report, self.manifest, papers=self.papers, figures=figures))
        write_atomic(mf, json.dumps(self.manifest, indent=2, ensure_ascii=False) + "\n")
        return md, mf

    def export(self, fmt: str, path: str | Path | None = None) -> str:
        """The report as ``bibtex``, ``ris``, ``csv`` (the claims), ``json`` or ``html`` (a page); written to
        ``path`` too when given."""
        text = export_report(self.report, self.manifest, fmt, papers=self.papers,
                             figures=self.figures() if fmt == "html" else None)
        if path is not None:
            write_atomic(Path(path), text)
        return text

    def to_json(self) -> dict:
        return self.report.model_dump(mode="json")

    def _repr_markdown_(self) -> str:
        return self.markdown

    def _repr_html_(self) -> str:
        png = {f.name: f.png for f in self.figures()}  # inline (data: URIs): the notebook's HTML stands alone
        return report_html(self.report, self.manifest, figure=png[DEFAULT_FIGURE_NAME],
                           literature=png[LITERATURE_FIGURE_NAME])

    def __repr__(self) -> str:
        r = self.report
        return (f"ResearchResult({r.report_id}: {r.results.claims_corroborated}/{r.results.claims_extracted} claims "
                f"corroborated, tribunal {r.results.tribunal_score:.1f}, {r.quality_tier}, {self.status})")


def check_out_dir(out_dir: str | Path) -> Path:
    """Refuse, before a run starts, an output directory ``write`` could not fill: a file in its
    place, one of its files a directory, or nowhere writable (probed with a real temporary file:
    permission bits do not tell what root, ACLs or a read-only mount allow)."""
    out = Path(out_dir).expanduser().absolute()
    if out.exists() and not out.is_dir():
        raise OutputError(f"--out {out} exists and is not a directory; pick another --out")
    for name in OUTPUT_FILES:
        if (out / name).exists() and not (out / name).is_file():
            raise OutputError(f"--out {out}: {out / name} exists and is not a file; move it or pick another --out")
    probe = out
    while not probe.exists():
        probe = probe.parent
    if not probe.is_dir():
        raise OutputError(f"--out {out}: {probe} is not a directory; pick another --out")
    try:
        fd, name = tempfile.mkstemp(dir=probe, prefix=".sovereign-probe-")
        os.close(fd)
        os.unlink(name)
    except OSError as exc:
        raise OutputError(f"cannot write to --out {out}: {probe} is not writable ({exc.strerror}); make it writable "
                          "or pick another --out") from None
    return out

