"""The report's figures. ``REPORT_FIGURES`` lists every one — its file, its caption, how it is drawn,
the manifest's record of it and where report.md links it: ``ResearchResult`` draws each once and
reuses the PNG for the file saved next to report.md (linked there, ``link_figures``), the report page
(``report_page``, inline) and the notebook HTML; the manifest's ``figures`` is ``figure_records`` —
so a figure added to the list reaches every output.

The first, drawn here: the tribunal against its threshold, and the claims' corroboration (the best
calibrated confidence of a paper other than their own) by source paper. The second: the literature
— papers by year and theme, reported effects (``literature_figure``).

Both are drawn by ``png.render_png`` (a fixed size, dpi and font, no ``Software`` stamp: the same
report gives the same bytes; matplotlib is imported only when drawing, so importing
``sovereign_kernel`` stays fast) and saved by ``png.write_png``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, NamedTuple

from sovereign_kernel.domain.schemas import Report
from sovereign_kernel.domain.settings import recorded
from sovereign_kernel.publishing.literature_figure import LITERATURE_FIGURE_NAME, literature_plan, literature_png
from sovereign_kernel.publishing.png import FIGURE_DPI, render_png, write_png

__all__ = ["tribunal_and_confidence_figure", "tribunal_png", "tribunal_figure_record", "render_png", "write_png",
           "FIGURE_SIZE_PX", "DEFAULT_FIGURE_NAME", "TRIBUNAL_CAPTION", "REPORT_FIGURES", "ReportFigure",
           "report_figures", "figure_records", "link_figures"]

FIGURE_SIZE_IN = (9.0, 3.6)
FIGURE_SIZE_PX = (int(FIGURE_SIZE_IN[0] * FIGURE_DPI), int(FIGURE_SIZE_IN[1] * FIGURE_DPI))  # (width, height)
DEFAULT_FIGURE_NAME = "figure.png"
TRIBUNAL_CAPTION = "Tribunal scores against the threshold; claim confidence by paper"
MAX_PAPERS_SHOWN = 12
REVIEWER_ORDER = ("SKEPTIC", "VALIDATOR", "SYNTHESIZER")

_PASS, _FAIL, _COMBINED_PASS, _COMBINED_FAIL = "#4d9221", "#c51b7d", "#276419", "#8e0152"
_VERIFIED, _UNVERIFIED, _GUIDE = "#1a9850", "#d73027", "#555555"


def _thresholds(manifest: dict | None, threshold: float | None, verify_threshold: float | None) -> tuple[float, float]:
    settings = ((manifest or {}).get("provenance") or {}).get("settings") or {}
    if threshold is None:
        threshold = float(recorded(settings, "publish_threshold", recorded(settings, "revision_threshold", 6.5)))
    if verify_threshold is None:
        verify_threshold = float(recorded(settings, "verify_threshold", 0.5))
    return float(threshold), float(verify_threshold)


def _latest_reviews(report: Report) -> dict[str, float]:
    """Score per role from the tribunal's latest round (reviews of earlier rounds may linger)."""
    reviews = report.tribunal.reviews
    if not reviews:
        return {}
    last = max(r.round for r in reviews)
    return {r.role: r.score for r in reviews if r.round == last}


def _paper_order(report: Report) -> list[str]:
    """Papers in reference (relevance) order, then any other cited paper in claim order."""
    cited = list(dict.fromkeys(c.paper_id for c in report.claims))
    ranked = [ref.id for ref in report.references if ref.id in cited]
    return ranked + [p for p in cited if p not in ranked]


def _label(text: str, limit: int = 22) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _threshold_label(ax: Any, x: float) -> None:
    ax.text(x, 0.985, f"threshold {x:g}", transform=ax.get_xaxis_transform(), ha="center", va="top",
            color=_GUIDE, fontsize=7.5, bbox={"boxstyle": "square,pad=0.15", "facecolor": "white", "edgecolor": "none"})


def _draw_tribunal(ax: Any, report: Report, threshold: float) -> None:
    scores = _latest_reviews(report)
    names = [r for r in REVIEWER_ORDER if r in scores] + sorted(set(scores) - set(REVIEWER_ORDER))
    values = [scores[n] for n in names]
    labels = [n.capitalize() for n in names] + ["Tribunal"]
    values.append(float(report.tribunal.score))
    colors = [(_PASS if v >= threshold else _FAIL) for v in values[:-1]]
    colors.append(_COMBINED_PASS if values[-1] >= threshold else _COMBINED_FAIL)
    y = list(range(len(values)))[::-1]  # first reviewer at the top, the combined score last
    ax.barh(y, values, color=colors, height=0.62, edgecolor="none")
    ax.barh([0], [values[-1]], color="none", height=0.62, edgecolor="black", linewidth=1.0)
    for yi, v in zip(y, values):
        inside = v > 8.6
        ax.text(v - 0.15 if inside else v + 0.15, yi, f"{v:.1f}", va="center",
                ha="right" if inside else "left", color="white" if inside else "black", fontsize=8.5)
    ax.axvline(threshold, color=_GUIDE, linestyle="--", linewidth=1.2)
    _threshold_label(ax, threshold)
    ax.set_yticks(y)
    ax.set_yticklabels(labels)
    ax.set_xlim(0, 10)
    ax.set_ylim(-0.6, len(values) - 0.05)
    ax.set_xlabel("score (0–10)")
    ax.set_title(f"Tribunal: {report.tribunal.verdict} (round {report.tribunal.round})", fontsize=10, pad=15)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)


def _draw_confidence(ax: Any, report: Report, verify_threshold: float) -> None:
    papers = _paper_order(report)
    shown, hidden = papers[:MAX_PAPERS_SHOWN], len(papers) - MAX_PAPERS_SHOWN
    ax.set_xlim(-0.03, 1.03)
    ax.set_xlabel("corroboration: best other paper's calibrated confidence")
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    if not shown:
        ax.set_yticks([])
        ax.text(0.5, 0.5, "no claims extracted", ha="center", va="center", color=_GUIDE, transform=ax.transAxes)
        ax.set_title("Claims' corroboration by source paper", fontsize=10)
        return
    row = {p: len(shown) - 1 - i for i, p in enumerate(shown)}  # first paper at the top
    pts = {True: ([], []), False: ([], [])}
    for pid in shown:
        claims = [c for c in report.claims if c.paper_id == pid]
        n = len(claims)
        for k, c in enumerate(claims):  # small fixed offsets so claims with equal values stay visible
            offset = 0.0 if n == 1 else -0.22 + 0.44 * k / (n - 1)
            # A claim's own paper always grounds a quote: what the dot shows is another paper's support.
            xs, ys = pts[bool(c.grounded and c.is_corroborated)]
            xs.append(float(c.corroboration))
            ys.append(row[pid] + offset)
    n_ver, n_unv = len(pts[True][0]), len(pts[False][0])
    if n_ver:
        ax.scatter(*pts[True], s=34, color=_VERIFIED, marker="o", edgecolors="white", linewidths=0.6,
                   label=f"corroborated ({n_ver})", zorder=3)
    if n_unv:
        ax.scatter(*pts[False], s=38, color=_UNVERIFIED, marker="X", edgecolors="white", linewidths=0.4,
                   label=f"own source only ({n_unv})", zorder=3)
    ax.axvline(verify_threshold, color=_GUIDE, linestyle="--", linewidth=1.2)
    ax.set_yticks(list(row.values()))
    ax.set_yticklabels([_label(p) for p in shown])
    ax.set_ylim(-0.6, len(shown) - 0.15)
    for r in range(len(shown)):
        ax.axhline(r, color="#dddddd", linewidth=0.6, zorder=0)
    title = "Claims' corroboration by source paper"
    if hidden > 0:
        title += f" (top {len(shown)}; {hidden} more)"
    ax.set_title(title, fontsize=10, pad=15)
    _threshold_label(ax, verify_threshold)
    ax.legend(loc="lower center", bbox_to_anchor=(0.5, 0.99), ncol=2, fontsize=7.5, frameon=False,
              handletextpad=0.2, columnspacing=1.2, borderaxespad=0.0)


def tribunal_png(report: Report, *, manifest: dict | None = None, threshold: float | None = None,
                 verify_threshold: float | None = None) -> bytes:
    """A ``FIGURE_SIZE_PX`` PNG: left, the three reviewers' scores and the combined tribunal score
    against the publish threshold; right, every claim's corroboration (the best other paper's
    calibrated confidence) by source paper (corroborated ● vs own source only ✕) against the
    verification threshold.

    Thresholds come from ``threshold``/``verify_threshold``, else from the manifest's recorded
    settings, else the defaults (6.5, 0.5).
    """
    tribunal_threshold, claim_threshold = _thresholds(manifest, threshold, verify_threshold)

    def draw(fig: Any) -> None:
        left, right = fig.subplots(1, 2, gridspec_kw={"width_ratios": [1, 1.25], "wspace": 0.42})
        _draw_tribunal(left, report, tribunal_threshold)
        _draw_confidence(right, report, claim_threshold)
        fig.subplots_adjust(left=0.11, right=0.98, top=0.88, bottom=0.15)

    return render_png(draw, FIGURE_SIZE_IN)


def tribunal_and_confidence_figure(report: Report, path: str | Path, *, manifest: dict | None = None,
                                   threshold: float | None = None, verify_threshold: float | None = None) -> Path:
    """``tribunal_png`` written to ``path`` (replaced atomically). Returns the path."""
    return write_png(path, tribunal_png(report, manifest=manifest, threshold=threshold,
                                        verify_threshold=verify_threshold))


def tribunal_figure_record(report: Report | None = None) -> dict:
    """The manifest's record of the tribunal figure: its file beside report.md, size and caption (the
    same for every report; ``report`` is taken so every figure's record is made alike)."""
    return {"file": DEFAULT_FIGURE_NAME, "size_px": list(FIGURE_SIZE_PX), "caption": TRIBUNAL_CAPTION}


class ReportFigure(NamedTuple):
    """One figure of a report, drawn: its file name next to report.md, its caption (the alt text
    everywhere), its PNG, the report.md heading it is linked above, and whether report.md also prints
    the caption under it."""

    name: str
    alt: str
    png: bytes
    before: str = "### Tribunal"
    caption_below: bool = False

    def markdown(self) -> str:
        """report.md's link to the figure (and its caption line)."""
        return f"![{self.alt}]({self.name})\n" + (f"\n*Figure: {self.alt}*\n" if self.caption_below else "")


class _FigureSpec(NamedTuple):
    name: str
    caption: Callable[[Report], str]
    draw: Callable[[Report, dict | None], bytes]  # (report, manifest) -> PNG bytes
    record: Callable[[Report], dict]  # the manifest's `figures` entry
    before: str  # the report.md heading the figure is linked above
    caption_below: bool  # report.md prints "*Figure: caption*" under the link


def _tribunal_caption(report: Report) -> str:
    return TRIBUNAL_CAPTION


def _draw_tribunal_figure(report: Report, manifest: dict | None) -> bytes:
    return tribunal_png(report, manifest=manifest)


def _literature_caption(report: Report) -> str:
    return literature_plan(report).caption


def _draw_literature_figure(report: Report, manifest: dict | None) -> bytes:
    return literature_png(report)


def _literature_record(report: Report) -> dict:
    return literature_plan(report).record()


REPORT_FIGURES: tuple[_FigureSpec, ...] = (
    _FigureSpec(DEFAULT_FIGURE_NAME, _tribunal_caption, _draw_tribunal_figure, tribunal_figure_record,
                "### Tribunal", False),
    # under its caption, which says what is plotted and from what
    _FigureSpec(LITERATURE_FIGURE_NAME, _literature_caption, _draw_literature_figure, _literature_record,
                "## Limitations", True),
)


def report_figures(report: Report, manifest: dict | None = None) -> tuple[ReportFigure, ...]:
    """Every figure in ``REPORT_FIGURES``, drawn for ``report`` (each PNG drawn here: draw once, reuse)."""
    return tuple(ReportFigure(f.name, f.caption(report), f.draw(report, manifest), f.before, f.caption_below)
                 for f in REPORT_FIGURES)


def figure_records(report: Report) -> list[dict]:
    """The manifest's ``figures``: each figure's record, in ``REPORT_FIGURES`` order (no drawing)."""
    return [f.record(report) for f in REPORT_FIGURES]


def link_figures(markdown: str, figures: Sequence[ReportFigure]) -> str:
    """report.md with each figure linked above its heading (the first occurrence; a report without
    that heading goes without the link)."""
    for f in figures:
        markdown = markdown.replace(f"\n{f.before}\n", f"\n{f.markdown()}\n{f.before}\n", 1)
    return markdown
