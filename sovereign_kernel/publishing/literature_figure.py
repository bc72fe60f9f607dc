"""A picture of the literature behind a report, beside the tribunal figure (both in ``figures.REPORT_FIGURES``).

Left: the kept papers the report cites (its references), by the year of their first version,
stacked by theme — a paper's theme is the one most of its claims are findings of (ties: the theme
the report lists first). Right, when claims carry numbers: the reported effects, one row per claim,
a dot per value it states in the unit most such claims share (%, percentage points or ×; values in
another unit are not comparable and are left out), rows grouped by paper, dots filled when another
paper corroborates the claim. With fewer than 2 claims in one unit there is nothing to set side by
side, and the panel is omitted; the caption says so.

``literature_plan`` is the data and caption (no matplotlib: the manifest records it);
``literature_png`` / ``literature_figure`` draw it the way the tribunal figure is drawn (a fixed
size, no ``Software`` stamp: the same report gives the same bytes).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sovereign_kernel.domain.ids import claim_labels
from sovereign_kernel.domain.schemas import Paper, Report
from sovereign_kernel.publishing.png import FIGURE_DPI, render_png, write_png
from sovereign_kernel.synthesis.comparison import reported_values
from sovereign_kernel.domain.naming import method_name

__all__ = ["literature_plan", "literature_png", "literature_figure", "LiteraturePlan", "EffectRow",
           "LITERATURE_FIGURE_NAME", "LITERATURE_FIGURE_SIZE_PX"]

LITERATURE_FIGURE_NAME = "literature.png"
SIZE_IN = (9.0, 4.2)
LITERATURE_FIGURE_SIZE_PX = (int(SIZE_IN[0] * FIGURE_DPI), int(SIZE_IN[1] * FIGURE_DPI))  # (width, height)
NO_THEME = "in no finding"
NO_DATE = "n.d."
UNIT_ORDER = ("%", "pp", "×")  # ties between units: the first
MAX_EFFECT_ROWS = 12
MAX_SPAN = 30  # years on a continuous axis
# Okabe–Ito (colour-blind safe), then three of Tol's muted; grey: a paper in no finding.
PALETTE = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#882255", "#44AA99", "#999933",
           "#F0E442")
NO_THEME_COLOR, _GUIDE = "#9a9a9a", "#555555"


@dataclass(frozen=True)
class EffectRow:
    label: str  # the claim's number, C4
    name: str  # what the row is called: the method's name, else the paper's id
    paper_id: str
    values: tuple[float, ...]
    theme: str
    corroborated: bool


@dataclass(frozen=True)
class LiteraturePlan:
    papers: int
    years: tuple[str, ...]  # the x axis: every year from the first to the last, then n.d. when a date is missing
    themes: tuple[str, ...]  # in the report's order, NO_THEME last; only those with a paper
    counts: tuple[tuple[str, str, int], ...]  # (year, theme, papers)
    unit: str | None
    effects: tuple[EffectRow, ...] | None  # None: the panel is omitted
    unit_claims: tuple[tuple[str, int], ...]  # claims with values per unit, as counted
    caption: str
    omitted: str | None = None  # why there is no effects panel

    def record(self) -> dict:
        """The manifest's record: the file, its size and caption, and what it plots."""
        by_year: dict[str, dict[str, int]] = {}
        for year, theme, n in self.counts:
            by_year.setdefault(year, {})[theme] = n
        effects = None
        if self.effects is not None:
            effects = {"unit": self.unit, "claims": sorted((r.label for r in self.effects), key=lambda c: int(c[1:])),
                       "values": sum(len(r.values) for r in self.effects),
                       "rows_shown": min(len(self.effects), MAX_EFFECT_ROWS)}
        return {"file": LITERATURE_FIGURE_NAME, "size_px": list(LITERATURE_FIGURE_SIZE_PX), "caption": self.caption,
                "papers": self.papers, "papers_by_year": by_year, "effects": effects, "effects_omitted": self.omitted}


def _year(published: str | None) -> str:
    text = (published or "").strip()
    return text[:4] if len(text) >= 4 and text[:4].isdigit() else NO_DATE


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def literature_plan(report: Report) -> LiteraturePlan:
    """What the literature figure plots, and its caption (see the module doc)."""
    theme_of = {cid: t.name for t in report.themes for cid in t.claim_ids}
    theme_rank = {t.name: i for i, t in enumerate(report.themes)}
    theme_rank[NO_THEME] = len(theme_rank)
    paper_theme = {}
    for ref in report.references:
        named = Counter(theme_of[c.id] for c in report.claims if c.paper_id == ref.id and c.id in theme_of)
        paper_theme[ref.id] = min(named, key=lambda t: (-named[t], theme_rank[t])) if named else NO_THEME
    dated = Counter((_year(ref.published), paper_theme[ref.id]) for ref in report.references)
    known = sorted({int(y) for y, _ in dated if y != NO_DATE})
    # Every year of the span, so that a gap shows as a gap — unless a stray date stretches it past MAX_SPAN.
    span = range(known[0], known[-1] + 1) if known and known[-1] - known[0] <= MAX_SPAN else known
    years = tuple(str(y) for y in span)
    years += (NO_DATE,) if any(y == NO_DATE for y, _ in dated) else ()
    themes = tuple(sorted({t for _, t in dated}, key=theme_rank.__getitem__))
    counts = tuple((y, t, dated[(y, t)]) for y in years for t in themes if dated[(y, t)])

    labels = claim_labels(report.claims)
    values = {c.id: reported_values(c.text) for c in report.claims}
    per_unit = Counter(u for vs in values.values() for u in {v.unit for v in vs})
    unit_claims = tuple((u, per_unit[u]) for u in UNIT_ORDER if per_unit[u])
    unit = max(unit_claims, key=lambda x: x[1])[0] if unit_claims else None  # max keeps the first of a tie
    papers = f"{_plural(len(report.references), 'paper')} by first-version year, coloured by theme"
    if unit is None or per_unit[unit] < 2:
        why = ("no claim reports a value with a unit" if unit is None else "fewer than 2 claims report values in one "
               "unit (" + ", ".join(f"{n} with {u}" for u, n in unit_claims) + ")")
        return LiteraturePlan(len(report.references), years, themes, counts, None, None, unit_claims,
                              f"{papers}; no effects panel: {why}", why)
    ref_rank = {ref.id: i for i, ref in enumerate(report.references)}
    names = {r.claim_id: r.method for r in report.comparison}
    titles = {ref.id: ref.title for ref in report.references}
    rows = []
    position = {c.id: i for i, c in enumerate(report.claims)}
    for c in sorted(report.claims, key=lambda c: (ref_rank.get(c.paper_id, len(ref_rank)), position[c.id])):
        vs = tuple(v.value for v in values[c.id] if v.unit == unit)
        if vs:
            rows.append(EffectRow(labels[c.id], _name(names.get(c.id), c.paper_id, titles.get(c.paper_id)), c.paper_id,
                                  vs, theme_of.get(c.id, NO_THEME), bool(c.grounded and c.is_corroborated)))
    caption = f"{papers}; {_plural(len(rows), 'claim')} with {unit} values (a dot per value, grouped by paper)"
    return LiteraturePlan(len(report.references), years, themes, counts, unit, tuple(rows), unit_claims, caption)


def _name(method: str | None, paper_id: str, title: str | None) -> str:
    """A row's name: the method the comparison table names, else the name the title leads with, else the paper."""
    if method and method != "—" and not method.startswith("the paper's own"):
        return method
    return method_name(Paper(id=paper_id, title=title or "", abstract="")) or paper_id


def _short(text: str, limit: int) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _theme_colors(themes: tuple[str, ...]) -> dict[str, str]:
    named = [t for t in themes if t != NO_THEME]
    colors = {t: PALETTE[i % len(PALETTE)] for i, t in enumerate(named)}
    colors[NO_THEME] = NO_THEME_COLOR
    return colors


def _clean(ax: Any) -> None:
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)


def _draw_years(ax: Any, plan: LiteraturePlan, colors: dict[str, str]) -> None:
    from matplotlib.ticker import MaxNLocator

    _clean(ax)
    ax.set_title("Kept papers by first-version year", fontsize=10, pad=8)
    if not plan.papers:
        ax.set_xticks([])
        ax.set_yticks([])
        ax.text(0.5, 0.5, "no kept paper is cited", ha="center", va="center", color=_GUIDE, transform=ax.transAxes)
        return
    x = list(range(len(plan.years)))
    bottom = [0] * len(x)
    for theme in plan.themes:
        heights = [next((n for y, t, n in plan.counts if y == year and t == theme), 0) for year in plan.years]
        ax.bar(x, heights, bottom=bottom, color=colors[theme], width=0.7, edgecolor="white", linewidth=0.6)
        bottom = [b + h for b, h in zip(bottom, heights)]
    for xi, total in zip(x, bottom):
        if total:
            ax.text(xi, total + 0.05, str(total), ha="center", va="bottom", fontsize=8)
    step = -(-len(x) // 12)  # at most 12 year labels
    ax.set_xticks(x[::step])
    ax.set_xticklabels(plan.years[::step], rotation=45 if len(x) > 8 else 0, ha="right" if len(x) > 8 else "center")
    extra = max(0, 4 - len(x)) / 2  # at least four bars' room: one year is a bar, not a wall
    ax.set_xlim(-0.6 - extra, len(x) - 0.4 + extra)
    ax.set_ylim(0, max(bottom) * 1.18 + 0.2)
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_ylabel("papers")


def _draw_effects(ax: Any, plan: LiteraturePlan, colors: dict[str, str]) -> None:
    rows = list(plan.effects or ())[:MAX_EFFECT_ROWS]
    hidden = len(plan.effects or ()) - len(rows)
    _clean(ax)
    y = {i: len(rows) - 1 - i for i in range(len(rows))}  # the first row at the top
    for i, r in enumerate(rows):
        color = colors.get(r.theme, NO_THEME_COLOR)
        if len(r.values) > 1:
            ax.plot([min(r.values), max(r.values)], [y[i], y[i]], color=color, linewidth=1.2, alpha=0.6, zorder=2)
        ax.scatter(r.values, [y[i]] * len(r.values), s=40, zorder=3, linewidths=1.3, edgecolors=color,
                   facecolors=color if r.corroborated else "white")
        if i and rows[i - 1].paper_id != r.paper_id:  # a new paper's rows begin below this line
            ax.axhline(y[i] + 0.5, color="#bbbbbb", linewidth=0.7, zorder=0)
    for i in range(len(rows)):
        ax.axhline(y[i], color="#eeeeee", linewidth=0.6, zorder=0)
    values = [v for r in rows for v in r.values]
    lo, hi = min(0.0, *values), max(0.0, *values)
    pad = (hi - lo) * 0.06 or 1.0
    ax.set_xlim(lo - pad, hi + pad)
    ax.set_ylim(-0.6, len(rows) - 0.4)
    ax.set_yticks([y[i] for i in range(len(rows))])
    ax.set_yticklabels([f"{r.label} · {_short(r.name, 22)}" for r in rows], fontsize=8)
    ax.set_xlabel(f"value ({plan.unit}) as each claim states it; settings differ")
    title = f"Reported effects in {plan.unit}, by paper"
    if hidden > 0:
        title += f" (first {len(rows)}; {hidden} more)"
    ax.set_title(title, fontsize=10, pad=15)
    ax.scatter([], [], s=34, facecolors="#444444", edgecolors="#444444", label="corroborated")
    ax.scatter([], [], s=34, facecolors="white", edgecolors="#444444", linewidths=1.3, label="own source only")
    ax.legend(loc="lower center", bbox_to_anchor=(0.5, 0.99), ncol=2, fontsize=7.5, frameon=False,
              handletextpad=0.2, columnspacing=1.2, borderaxespad=0.0)


def literature_png(report: Report) -> bytes:
    """The ``LITERATURE_FIGURE_SIZE_PX`` PNG of ``literature_plan(report)``, as bytes."""
    from matplotlib.patches import Patch

    plan = literature_plan(report)
    order = {t.name: i for i, t in enumerate(report.themes)}
    colors = _theme_colors(tuple(t.name for t in report.themes))

    def draw(fig: Any) -> None:
        shown = set(plan.themes) | {r.theme for r in plan.effects or ()}  # a dot's theme is its claim's
        handles = [Patch(facecolor=colors[t], edgecolor="none", label=_short(t, 44))
                   for t in sorted(shown, key=lambda t: (t == NO_THEME, order.get(t, 0)))]
        if plan.effects is not None:
            _draw_years(fig.add_axes((0.065, 0.42, 0.36, 0.46)), plan, colors)
            _draw_effects(fig.add_axes((0.62, 0.14, 0.36, 0.72)), plan, colors)
            legend = {"loc": "upper left", "bbox_to_anchor": (0.02, 0.25), "ncol": 2 if len(handles) > 3 else 1}
        else:
            _draw_years(fig.add_axes((0.065, 0.14, 0.5, 0.74)), plan, colors)
            legend = {"loc": "upper left", "bbox_to_anchor": (0.6, 0.88), "ncol": 1}
            fig.text(0.61, 0.14, f"No effects panel: {plan.omitted}.", fontsize=8, color=_GUIDE, wrap=True)
        if handles:
            fig.legend(handles=handles, title="theme (of most of a paper's claims)", fontsize=7.5, title_fontsize=8,
                       frameon=False, handlelength=1.0, columnspacing=1.0, alignment="left", **legend)

    return render_png(draw, SIZE_IN)


def literature_figure(report: Report, path: str | Path) -> Path:
    """Write the literature figure (``literature_png``) to ``path``; returns the path."""
    return write_png(path, literature_png(report))
