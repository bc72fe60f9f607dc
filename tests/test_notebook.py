"""examples/quickstart.ipynb runs top to bottom in a real Jupyter kernel (nbclient + ipykernel),
offline on the bundled corpus, and shows the rendered report with its claims table and the figure."""

from __future__ import annotations

import os
from pathlib import Path

import nbformat
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK = ROOT / "examples" / "quickstart.ipynb"
CLAIMS_HEADER_MD = "| # | Claim | Grounded (own source) | Corroborated by |"


def _outputs(cell) -> list[dict]:
    return [o for o in cell.get("outputs", []) if o.get("output_type") in {"display_data", "execute_result", "stream"}]


def _data(cell, mime: str) -> str:
    return "\n".join(str(o.get("data", {}).get(mime, "")) for o in _outputs(cell))


def _stdout(cell) -> str:
    return "".join(o.get("text", "") for o in _outputs(cell) if o.get("output_type") == "stream")


def test_quickstart_notebook_executes_and_renders_the_report(sovereign_home, tmp_path):
    nb = nbformat.read(NOTEBOOK, as_version=4)
    nbformat.validate(nb)
    # A fresh kernel; its cwd is a temp dir (the notebook writes out/), its data dir the session's.
    env = {**os.environ, "SOVEREIGN_HOME": str(sovereign_home), "MPLBACKEND": "module://matplotlib_inline.backend_inline"}
    env.pop("NVIDIA_API_KEY", None)
    client = NotebookClient(nb, timeout=240, kernel_name="python3", allow_errors=False,
                            resources={"metadata": {"path": str(tmp_path)}})
    client.execute(env=env)  # raises CellExecutionError on any failing cell

    code = [c for c in nb.cells if c.cell_type == "code"]
    run, show, claims, figure, html_cell = code[0], code[1], code[2], code[3], code[4]

    assert "ResearchResult(" in _stdout(run) and "claims corroborated" in _stdout(run)

    # `result` displays itself: the Markdown report with its claims table (and HTML once wired).
    md = _data(show, "text/markdown")
    html_out = _data(show, "text/html")
    assert CLAIMS_HEADER_MD in md or ">Claim</th>" in html_out, show.get("outputs")
    if html_out.strip():
        assert ">Claim</th>" in html_out and ">Grounded (own source)</th>" in html_out

    # The first claims, as data.
    text = _stdout(claims)
    assert text.count("grounded=") == 3 and "source=arXiv:" in text
    assert "Claim(" in _data(claims, "text/plain")

    # The figure is shown and saved next to the report.
    assert _data(figure, "image/png").strip()
    out = tmp_path / "out"
    assert (out / "report.md").is_file() and (out / "manifest.json").is_file()
    assert (out / "figure.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"

    # The HTML rendering: the claims table and the tribunal scores, with the figure inline.
    page = _data(html_cell, "text/html")
    assert ">Claim</th>" in page and ">Corroboration</th>" in page and ">Reviewer</th>" in page
    assert "SKEPTIC" in page and "data:image/png;base64," in page
