"""examples/quickstart.ipynb runs top to bottom in a real Jupyter kernel (nbclient + ipykernel),
offline on the bundled corpus, and shows the rendered report with its claims table and the figures;
exported to HTML with nbconvert, the page carries the report's sections and its figures inline."""

from __future__ import annotations

from notebooks import code_cells, data, execute, inline_pngs, outputs, stdout, to_html

from sovereign_kernel.publishing.literature_figure import LITERATURE_FIGURE_SIZE_PX

CLAIMS_HEADER_MD = "| # | Claim | Grounded (own source) | Corroborated by |"
TRIBUNAL_PX = (900, 360)
SECTIONS = ("<h3>Answer</h3>", "<h3>Findings</h3>", "<h3>Comparison</h3>", "<h3>Limitations</h3>", "<h3>Tribunal</h3>",
            "<h3>Claims</h3>", "<h3>Uncertainties</h3>", "<h3>References</h3>")


def test_quickstart_notebook_executes_and_renders_the_report(sovereign_home, tmp_path):
    # A fresh kernel; its cwd is a temp dir (the notebook writes out/), its data dir the session's.
    nb = execute("quickstart.ipynb", tmp_path, sovereign_home)
    run, show, claims, figure, html_cell = code_cells(nb)[:5]

    assert "ResearchResult(" in stdout(run) and "claims corroborated" in stdout(run)

    # `result` displays itself: the Markdown report with its claims table, and HTML with both figures inline.
    md = data(show, "text/markdown")
    html_out = data(show, "text/html")
    assert CLAIMS_HEADER_MD in md
    assert ">Claim</th>" in html_out and ">Grounded (own source)</th>" in html_out
    assert inline_pngs(html_out) == [LITERATURE_FIGURE_SIZE_PX, TRIBUNAL_PX]
    assert "<em>Figure: 8 papers by first-version year, coloured by theme; " in html_out

    # The first claims, as data.
    text = stdout(claims)
    assert text.count("grounded=") == 3 and "source=arXiv:" in text
    assert "Claim(" in data(claims, "text/plain")

    # The figures are shown and saved next to the report, which links them.
    assert len([o for o in outputs(figure) if "image/png" in o.get("data", {})]) == 2
    assert "8 papers by first-version year, coloured by theme; " in stdout(figure)
    out = tmp_path / "out"
    assert (out / "manifest.json").is_file()
    report_md = (out / "report.md").read_text()
    assert "](figure.png)" in report_md and "](literature.png)" in report_md
    for name in ("figure.png", "literature.png"):
        assert (out / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"

    # The HTML rendering: the claims table and the tribunal scores, with the figure inline.
    page = data(html_cell, "text/html")
    assert ">Claim</th>" in page and ">Corroboration</th>" in page and ">Reviewer</th>" in page
    assert "SKEPTIC" in page and inline_pngs(page) == [LITERATURE_FIGURE_SIZE_PX, TRIBUNAL_PX]

    # Exported with nbconvert: every section of the report, every figure inline (no file beside the page).
    exported = to_html(nb)
    for section in SECTIONS:
        assert exported.count(section) == 2, section  # the result's own display, and report_html's
    pngs = inline_pngs(exported)
    assert pngs.count(LITERATURE_FIGURE_SIZE_PX) == 3 and pngs.count(TRIBUNAL_PX) == 3, pngs  # 3 cells show both
    assert 'src="figure.png"' not in exported and 'src="out/' not in exported
