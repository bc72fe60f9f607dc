"""``ResearchResult``: a finished (or paused) run, ready to read, render and write."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

from sovereign_kernel.domain.errors import OutputError
from sovereign_kernel.domain.schemas import Report
from sovereign_kernel.publishing.export import export_report, write_atomic
from sovereign_kernel.publishing.figures import DEFAULT_FIGURE_NAME, TRIBUNAL_CAPTION, tribunal_png, write_png
from sovereign_kernel.publishing.html import report_html
from sovereign_kernel.publishing.literature_figure import LITERATURE_FIGURE_NAME, literature_plan, literature_png

FIGURE_LINK = "\n![" + TRIBUNAL_CAPTION + "]({name})\n"
# The literature figure under its caption, which says what is plotted and from what.
LITERATURE_LINK = "![{caption}]({name})\n\n*Figure: {caption}*\n\n"
OUTPUT_FILES = ("report.md", "manifest.json", DEFAULT_FIGURE_NAME, LITERATURE_FIGURE_NAME)


class ResearchResult:
    """A run's ``Report``, its manifest and Markdown.

    ``status`` is PUBLISHED, ARCHIVED, or PENDING_REVIEW when the policy escalated to the owner
    (then ``review_request`` says what the owner is asked, and the report is the draft).
    """

    def __init__(self, report: Report, manifest: dict, markdown: str, tribunal_history: list | None = None,
                 run_id: str | None = None, status: str = "PUBLISHED", review_request: dict | None = None):
        self.report = report
        self.manifest = manifest
        self.markdown = markdown
        self.tribunal_history = tribunal_history or []
        self.run_id = run_id
        self.status = status
        self.review_request = review_request
        self._figures: tuple[bytes, bytes] | None = None

    def figures(self) -> tuple[bytes, bytes]:
        """The report's two PNGs, drawn once: the tribunal figure and the literature figure."""
        if self._figures is None:
            self._figures = (tribunal_png(self.report, manifest=self.manifest), literature_png(self.report))
        return self._figures

    def write(self, out_dir: str | Path) -> tuple[Path, Path]:
        """``report.md``, ``manifest.json``, ``figure.png`` (the tribunal) and ``literature.png`` in
        ``out_dir`` (each replaced atomically); report.md links both figures."""
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        md, mf = out / "report.md", out / "manifest.json"
        tribunal, literature = self.figures()
        write_png(tribunal, out / DEFAULT_FIGURE_NAME)
        write_png(literature, out / LITERATURE_FIGURE_NAME)
        figure = FIGURE_LINK.format(name=DEFAULT_FIGURE_NAME)
        markdown = self.markdown.replace("\n### Tribunal\n", f"{figure}\n### Tribunal\n", 1)
        picture = LITERATURE_LINK.format(caption=literature_plan(self.report).caption, name=LITERATURE_FIGURE_NAME)
        markdown = markdown.replace("\n## Limitations\n", f"\n{picture}## Limitations\n", 1)
        write_atomic(md, markdown)
        write_atomic(mf, json.dumps(self.manifest, indent=2, ensure_ascii=False) + "\n")
        return md, mf

    def export(self, fmt: str, path: str | Path | None = None) -> str:
        """The report as ``bibtex``, ``ris``, ``csv`` (the claims), ``json`` or ``html`` (a page); written to
        ``path`` too when given."""
        text = export_report(self.report, self.manifest, fmt)
        if path is not None:
            write_atomic(Path(path), text)
        return text

    def to_json(self) -> dict:
        return self.report.model_dump(mode="json")

    def _repr_markdown_(self) -> str:
        return self.markdown

    def _repr_html_(self) -> str:
        tribunal, literature = self.figures()  # inline (data: URIs): the notebook's HTML stands alone
        return report_html(self.report, self.manifest, figure=tribunal, literature=literature)

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

