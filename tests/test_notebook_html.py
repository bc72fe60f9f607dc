"""``report_html``: the report as HTML for notebooks, with every piece of paper text escaped."""

from __future__ import annotations

from html.parser import HTMLParser

import pytest

from conftest import COVERED_QUESTION
from sovereign_kernel.publishing.html import report_html

HOSTILE = '<script>alert("x")</script><img src=x onerror=alert(1)>'


class TagCollector(HTMLParser):
    def __init__(self):
        super().__init__()
        self.tags: list[tuple[str, dict]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data):
        self.text.append(data)


def parse(page: str) -> TagCollector:
    p = TagCollector()
    p.feed(page)
    p.close()
    return p


@pytest.fixture(scope="module")
def covered(run_research):
    return run_research(COVERED_QUESTION)


def test_claims_table_and_tribunal_scores_are_present(covered):
    report, manifest = covered.report, covered.manifest
    page = report_html(report, manifest)
    for header in ("#", "Claim", "Grounded (own source)", "Corroborated by", "Corroboration", "Baseline (seed TF-IDF)",
                   "Source", "Corroborating evidence"):
        assert f">{header}</th>" in page
    for header in ("Reviewer", "Score", "Verdict", "Reasons"):
        assert f">{header}</th>" in page
    for review in report.tribunal.reviews:
        assert f">{review.role}</td>" in page
        assert f">{review.score:.1f}</td>" in page
    assert f"<strong>{report.tribunal.score:.1f}</strong>" in page
    comparison = len(report.comparison) + 1 if report.comparison else 0  # "which defenses work" compares
    assert report.comparison and page.count("<tr>") == (1 + len(report.claims) + 1 + len(report.tribunal.reviews) + 1
                                                        + comparison)
    assert f">C{len(report.claims)}</td>" in page
    assert report.report_id in page and manifest["verification_level"]["level"] in page
    tags = parse(page).tags
    assert [t for t, _ in tags].count("table") == 3
    assert all(a.get("href", "").startswith("https://") for t, a in tags if t == "a")


def test_hostile_paper_text_is_escaped(covered):
    report = covered.report
    claims = [report.claims[0].model_copy(update={"text": "Claim " + HOSTILE, "paper_id": 'x" onmouseover="alert(1)'}),
              *report.claims[1:]]
    refs = [report.references[0].model_copy(update={"title": HOSTILE, "url": "javascript:alert(1)",
                                                     "authors": [HOSTILE]}), *report.references[1:]]
    answer = report.answer.model_copy(update={"sentences": [s.model_copy(update={"text": HOSTILE})
                                                             for s in report.answer.sentences]})
    themes = [t.model_copy(update={"name": HOSTILE, "text": HOSTILE}) for t in report.themes]
    comparison = [r.model_copy(update={"method": HOSTILE, "effect": HOSTILE}) for r in report.comparison]
    assert answer.sentences and themes and comparison  # the hostile text reaches every synthesis block
    hostile = report.model_copy(update={"title": HOSTILE, "abstract": HOSTILE, "claims": claims, "references": refs,
                                        "uncertainties": [HOSTILE], "findings": [HOSTILE], "answer": answer,
                                        "themes": themes, "comparison": comparison})
    page = report_html(hostile, covered.manifest)

    assert "<script" not in page and "<img src=x" not in page
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in page
    assert 'href="javascript:' not in page
    parsed = parse(page)
    assert not [t for t, _ in parsed.tags if t in {"script", "img", "iframe", "object"}]
    assert not [a for _, a in parsed.tags if any(k.startswith("on") for k in a)]
    assert any(HOSTILE in t for t in parsed.text)  # shown to the reader as text, verbatim


def test_figure_is_embedded_and_missing_manifest_is_tolerated(covered, tmp_path):
    from sovereign_kernel.publishing.figures import tribunal_and_confidence_figure

    png = tribunal_and_confidence_figure(covered.report, tmp_path / "f.png")
    page = report_html(covered.report, None, figure=png)
    assert page.count('src="data:image/png;base64,') == 1
    assert ">Claim</th>" in page and "Manifest" not in page


def test_the_results_html_embeds_both_figures_inline(covered):
    """What a notebook shows for ``result``: the tribunal figure before the tribunal's table and the
    literature figure after the findings and comparison, under its caption, both as data: URIs."""
    import base64

    from sovereign_kernel.publishing.literature_figure import LITERATURE_FIGURE_SIZE_PX, literature_plan
    from test_figures import png_size

    page = covered._repr_html_()
    images = [a for t, a in parse(page).tags if t == "img"]
    assert len(images) == 2 and all(a["src"].startswith("data:image/png;base64,") for a in images)
    literature, tribunal = (base64.b64decode(a["src"].split(",", 1)[1]) for a in images)
    assert png_size(literature) == LITERATURE_FIGURE_SIZE_PX and png_size(tribunal) == (900, 360)
    # the figures the result drew once (REPORT_FIGURES' order), the same ones write() and report.html use
    assert [f.png for f in covered.figures()] == [tribunal, literature] and covered.figures() is covered.figures()
    caption = literature_plan(covered.report).caption
    assert images[0]["alt"] == caption and f"<em>Figure: {caption}</em>" in page
    assert page.index("<h3>Comparison</h3>") < page.index(caption) < page.index("<h3>Limitations</h3>")
    assert page.index("<h3>Results</h3>") < page.index(images[1]["src"][:80]) < page.index("<h3>Tribunal</h3>")
    assert "Software" not in page


def test_each_figure_is_drawn_once_and_reused_by_every_output(covered, tmp_path, monkeypatch):
    """``REPORT_FIGURES`` drawn once per result: the files beside report.md, report.html, ``export("html")``
    and the notebook HTML all carry the same PNG bytes."""
    import base64

    from sovereign_kernel.app import result as result_module
    from sovereign_kernel.app.result import ResearchResult
    from sovereign_kernel.publishing.figures import REPORT_FIGURES

    fresh = ResearchResult(covered.report, covered.manifest, covered.markdown, papers=covered.papers)
    calls = []
    real = result_module.report_figures
    monkeypatch.setattr(result_module, "report_figures", lambda *a, **k: calls.append(a) or real(*a, **k))
    notebook = fresh._repr_html_()
    fresh.write(tmp_path)
    exported = fresh.export("html")
    assert len(calls) == 1
    figures = fresh.figures()
    assert [f.name for f in figures] == [spec.name for spec in REPORT_FIGURES]
    page = (tmp_path / "report.html").read_text()
    for f in figures:
        assert (tmp_path / f.name).read_bytes() == f.png
        b64 = base64.b64encode(f.png).decode("ascii")
        assert b64 in notebook and b64 in page and b64 in exported
