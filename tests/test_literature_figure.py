"""The literature figure: the kept papers by first-version year, coloured by theme, and the reported
effects per claim where claims carry numbers in one unit. Written beside report.md, linked under a
caption whose counts are the report's, recorded in the manifest; byte-identical for the same report."""

from __future__ import annotations

import json
import re

import pytest
from test_figures import png_chunks, png_size

from conftest import COVERED_QUESTION
from sovereign_kernel.domain.ids import claim_labels
from sovereign_kernel.publishing.literature_figure import (
    LITERATURE_FIGURE_NAME,
    LITERATURE_FIGURE_SIZE_PX,
    literature_figure,
    literature_plan,
)
from sovereign_kernel.synthesis.comparison import reported_values

# On the fixture corpus this question's 24 claims carry no number at all (checked in the test).
NO_NUMBERS_QUESTION = "Does adversarial training make sparse mixture-of-experts CNNs more robust?"
PERCENT = re.compile(r"\d\s?(?:%|percent\b)")


@pytest.fixture(scope="module")
def covered(run_research):
    return run_research(COVERED_QUESTION)


@pytest.fixture(scope="module")
def written(covered, tmp_path_factory):
    out = tmp_path_factory.mktemp("literature-out")
    covered.write(out)
    return out


def _figure_record(manifest: dict, name: str) -> dict:
    return next(f for f in manifest["figures"] if f["file"] == name)


def test_reported_values_parse_numbers_with_their_units():
    def vals(text):
        return [(v.value, v.unit) for v in reported_values(text)]

    assert vals("we reduce the degradation from 42.07% to 13.90%.") == [(42.07, "%"), (13.9, "%")]
    assert vals("reduce ASR by 34--96%, while rotation drops 50%") == [(34.0, "%"), (96.0, "%"), (50.0, "%")]
    assert vals("an average accuracy gain of +20.11% across LVLMs") == [(20.11, "%")]
    assert vals("a drop of 3 percentage points and 12 percent overall") == [(3.0, "pp"), (12.0, "%")]
    assert vals("3.5x faster and 2× smaller") == [(3.5, "×"), (2.0, "×")]
    # numbers without a unit are not effects: sizes, counts, model names, font sizes, correlations
    assert vals("1,000 prompts on ImageNet-100 with GPT-4o, fonts (6--28px), a 2x2 grid, r = -0.71") == []


def test_the_figure_is_written_beside_the_report_as_a_png_of_the_stated_size(covered, written):
    data = (written / LITERATURE_FIGURE_NAME).read_bytes()
    assert png_size(data) == LITERATURE_FIGURE_SIZE_PX
    assert b"Software" not in b"".join(body for kind, body in png_chunks(data) if kind in {b"tEXt", b"iTXt", b"zTXt"})
    assert not list(written.glob("*.tmp"))
    manifest = json.loads((written / "manifest.json").read_text())
    record = _figure_record(manifest, LITERATURE_FIGURE_NAME)
    assert record["size_px"] == list(LITERATURE_FIGURE_SIZE_PX)
    assert _figure_record(manifest, "figure.png")["size_px"] == [900, 360]  # the tribunal figure beside it


def test_the_caption_counts_are_the_reports_papers_and_claims(covered, written):
    report = covered.report
    md = (written / "report.md").read_text()
    manifest = json.loads((written / "manifest.json").read_text())
    record = _figure_record(manifest, LITERATURE_FIGURE_NAME)

    # Every kept paper the report cites, by the year of its first version, each under one theme.
    papers = len(report.references)
    assert papers == 8
    assert record["papers"] == papers
    by_year = record["papers_by_year"]
    assert sum(sum(t.values()) for t in by_year.values()) == papers
    assert sorted(by_year) == sorted({r.published[:4] for r in report.references})
    themes = {t.name for t in report.themes} | {"in no finding"}
    assert {name for t in by_year.values() for name in t} <= themes

    # The claims with % values, as counted independently of the parser.
    labels = claim_labels(report.claims)
    with_percent = [labels[c.id] for c in report.claims if PERCENT.search(c.text)]
    assert len(with_percent) >= 2
    assert record["effects"]["unit"] == "%" and record["effects"]["claims"] == with_percent

    caption = record["caption"]
    assert caption.startswith(f"{papers} papers by first-version year, coloured by theme; "
                              f"{len(with_percent)} claims with % values")
    # Linked in report.md under its caption, after the findings (and comparison), before the limitations.
    link = f"![{caption}]({LITERATURE_FIGURE_NAME})"
    assert md.count(link) == 1
    assert md.index("## Findings") < md.index(link) < md.index("## Limitations")
    assert f"*Figure: {caption}*" in md
    assert md.count("](figure.png)") == 1


def test_same_report_same_bytes_and_the_plan_matches_the_manifest(covered, tmp_path):
    a = literature_figure(covered.report, tmp_path / "a.png").read_bytes()
    b = literature_figure(covered.report, tmp_path / "b.png").read_bytes()
    assert a == b
    plan = literature_plan(covered.report)
    assert plan.record() == _figure_record(covered.manifest, LITERATURE_FIGURE_NAME)
    # Another report (its numeric claims gone): another picture of the same size.
    report = covered.report
    kept = [c for c in report.claims if not reported_values(c.text)]
    c = literature_figure(report.model_copy(update={"claims": kept}), tmp_path / "c.png").read_bytes()
    assert c != a and png_size(c) == LITERATURE_FIGURE_SIZE_PX


def test_a_question_without_numeric_claims_omits_the_effects_panel(run_research, tmp_path):
    result = run_research(NO_NUMBERS_QUESTION)
    report = result.report
    assert report.claims and not [c for c in report.claims if PERCENT.search(c.text) or reported_values(c.text)]
    result.write(tmp_path)
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    record = _figure_record(manifest, LITERATURE_FIGURE_NAME)
    assert record["effects"] is None
    assert record["caption"] == (f"{len(report.references)} papers by first-version year, coloured by theme; "
                                 "no effects panel: no claim reports a value with a unit")
    assert f"*Figure: {record['caption']}*" in (tmp_path / "report.md").read_text()
    assert png_size((tmp_path / LITERATURE_FIGURE_NAME).read_bytes()) == LITERATURE_FIGURE_SIZE_PX


def test_one_numeric_claim_is_not_a_panel(covered):
    report = covered.report
    first = next(c for c in report.claims if reported_values(c.text))
    kept = [c for c in report.claims if c is first or not reported_values(c.text)]
    plan = literature_plan(report.model_copy(update={"claims": kept}))
    assert plan.effects is None
    assert plan.caption.endswith("no effects panel: fewer than 2 claims report values in one unit (1 with %)")


def test_a_run_without_papers_still_draws(run_research, tmp_path):
    from conftest import UNANSWERABLE_QUESTION

    empty = run_research(UNANSWERABLE_QUESTION).report
    assert not empty.references
    plan = literature_plan(empty)
    assert plan.caption.startswith("0 papers") and plan.effects is None
    assert png_size(literature_figure(empty, tmp_path / "e.png").read_bytes()) == LITERATURE_FIGURE_SIZE_PX


def test_hostile_theme_and_title_text_draws_as_text(covered, tmp_path):
    report = covered.report
    themes = [t.model_copy(update={"name": "$\\frac{1}{0}$ <script>" + t.name}) for t in report.themes]
    refs = [r.model_copy(update={"title": "$x^{$ " + r.title, "published": None if i == 0 else r.published})
            for i, r in enumerate(report.references)]
    hostile = report.model_copy(update={"themes": themes, "references": refs})
    plan = literature_plan(hostile)
    assert "n.d." in plan.record()["papers_by_year"]
    assert png_size(literature_figure(hostile, tmp_path / "h.png").read_bytes()) == LITERATURE_FIGURE_SIZE_PX


def test_a_long_span_of_years_stays_readable(covered, tmp_path):
    """Thirty years of papers on a continuous axis; a stray date far outside it does not stretch the axis."""
    report = covered.report
    refs = [r.model_copy(update={"published": f"{1995 + 4 * i}-01"}) for i, r in enumerate(report.references)]
    plan = literature_plan(report.model_copy(update={"references": refs}))
    assert plan.years[0] == "1995" and plan.years[-1] == "2023" and len(plan.years) == 29
    stray = [refs[0].model_copy(update={"published": "0001-01"}), *refs[1:]]
    plan = literature_plan(report.model_copy(update={"references": stray}))
    assert plan.years[0] == "1" and len(plan.years) == len(refs)  # only the years papers have
    png = literature_figure(report.model_copy(update={"references": refs}), tmp_path / "span.png")
    assert png_size(png.read_bytes()) == LITERATURE_FIGURE_SIZE_PX
