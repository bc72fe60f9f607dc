"""The other example notebooks, run top to bottom in a real Jupyter kernel, offline, each with a data
directory of its own, then exported to HTML with nbconvert:

- examples/review_escalated_run.ipynb: a question the bundled corpus cannot answer escalates to the
  owner; the notebook shows the pending review, resumes the run with the owner's edit through the
  Python API, and shows the published report;
- examples/pdf_folder.ipynb: research over a folder of PDFs, reached the way a clone has it
  (``../tests/fixtures/pdf`` from ``examples/``); its claims come from those PDFs.
"""

from __future__ import annotations

import json
import re
import shutil

from notebooks import code_cells, data, execute, inline_pngs, stdout, to_html

from conftest import FIXTURES
from sovereign_kernel.publishing.literature_figure import LITERATURE_FIGURE_SIZE_PX

TRIBUNAL_PX = (900, 360)
PDF_DOIS = ("10.1038/s41467-024-44806-1", "10.1101/2024.02.13.580051")


def _words(text: str) -> str:
    return " ".join(text.split())


def test_escalated_run_notebook_reviews_and_publishes(tmp_path):
    from sovereign_kernel.publishing.store import Store

    home = tmp_path / "home"  # its own store: the pending list and the published list are this notebook's
    nb = execute("review_escalated_run.ipynb", tmp_path, home)
    run, request, pending, decision, show, write = code_cells(nb)

    # The run stops for the owner: the corpus joins neither topic with the other.
    text = stdout(run)
    assert "status: PENDING_REVIEW" in text and "Watchlist" in text
    run_id = re.search(r"run id: (\S+)", text).group(1)

    asked = stdout(request)
    assert "Why it escalated:" in asked and "insufficient evidence" in asked and "Weakest claims:" in asked
    weakest = re.search(r"Weakest claims:\n  (\S+)", asked).group(1)
    assert "approve; reject (with a reason); edit" in asked

    # Pending in the store (what the CLI's list --pending reads), its draft Answer saying what is missing.
    assert stdout(pending).startswith(f"{run_id} PENDING_REVIEW SRK-") and stdout(pending).count("\n") == 1
    draft = data(pending, "text/markdown")
    assert "## Answer" in draft and "cannot answer" in draft and "## Claims" not in draft

    # The owner's edit resumes the checkpointed run, which publishes without the dropped claim.
    done = stdout(decision)
    assert "status: PUBLISHED | tier: Watchlist" in done
    assert "'action': 'edit'" in done and weakest in done
    drafted, published = map(int, re.search(r"claims: (\d+) in the draft, (\d+) published", done).groups())
    assert published == drafted - 1 > 0
    store = Store(home / "store.sqlite")
    assert store.get_run(run_id).status == "PUBLISHED"

    # The published report as the notebook shows it: the owner's note, both figures inline.
    shown = data(show, "text/html")
    assert "Owner&#x27;s note: Published as a watchlist entry" in shown
    assert inline_pngs(shown) == [LITERATURE_FIGURE_SIZE_PX, TRIBUNAL_PX]

    # Written beside the notebook: the manifest records the decision; the store lists the report.
    manifest = json.loads((tmp_path / "out" / "manifest.json").read_text())
    assert manifest["owner_review"]["action"] == "edit" and manifest["owner_review"]["drop_claims"] == [weakest]
    assert weakest not in manifest["claim_ids"].values()
    assert "run: PUBLISHED" in stdout(write)
    assert f"{manifest['report_id']} Watchlist How robust are sign language" in stdout(write)
    assert [f["file"] for f in manifest["figures"]] == ["figure.png", "literature.png"]
    assert (tmp_path / "out" / "literature.png").is_file()

    exported = to_html(nb)
    assert "<h3>Answer</h3>" in exported and "<h3>Claims</h3>" in exported and "<h3>Uncertainties</h3>" in exported
    assert inline_pngs(exported) == [LITERATURE_FIGURE_SIZE_PX, TRIBUNAL_PX]


def test_pdf_folder_notebook_researches_the_pdfs_from_a_clone_layout(tmp_path):
    from sovereign_kernel.sources.pdf import parse_pdf

    # A clone's layout: the notebook in examples/, the PDFs at ../tests/fixtures/pdf from it.
    (tmp_path / "examples").mkdir()
    shutil.copytree(FIXTURES / "pdf", tmp_path / "tests" / "fixtures" / "pdf")
    nb = execute("pdf_folder.ipynb", tmp_path / "examples", tmp_path / "home")
    params, listing, run, claims, papers, show, write = code_cells(nb)
    assert "parameters" in params.metadata.get("tags", [])

    assert "2 PDFs in ../tests/fixtures/pdf:" in stdout(listing)
    assert "ResearchResult(" in stdout(run) and "PUBLISHED" in stdout(run)

    # Every claim comes from one of the PDFs, at offsets of the text parsed from it.
    parsed = {}
    for pdf in sorted((FIXTURES / "pdf").glob("*.pdf")):
        doc = parse_pdf(pdf)
        parsed[doc.full_text.paper_id] = _words(doc.metadata.abstract + " " + doc.full_text.body)
    assert sorted(parsed) == sorted(PDF_DOIS)
    lines = stdout(claims).splitlines()
    heads, texts = lines[0::2], lines[1::2]
    assert heads and len(heads) == len(texts)
    for head, text in zip(heads, texts):
        label, source, where = re.match(r"\s*(C\d+)\s+doi:(\S+)\s+(.*)", head).groups()
        assert source in PDF_DOIS, head
        assert _words(text) in parsed[source], (head, text)
    assert any(re.match(r"p\. \d+ \[\d+:\d+\]", h.split(maxsplit=2)[2]) for h in heads), heads  # a body claim

    manifest = json.loads((tmp_path / "examples" / "out" / "manifest.json").read_text())
    assert {s["id"] for s in manifest["provenance"]["sources"]} <= set(PDF_DOIS)
    assert all(cid.split("#")[0] in PDF_DOIS for cid in manifest["claim_ids"].values())
    assert any("#b" in cid for cid in manifest["claim_ids"].values())  # anchored in a PDF's body
    assert "doi:10.1038/s41467-024-44806-1" in stdout(papers) and "https://doi.org/" in stdout(papers)
    assert "out/report.md" in stdout(write)

    shown = data(show, "text/html")
    assert "<h3>Claims</h3>" in shown and inline_pngs(shown) == [LITERATURE_FIGURE_SIZE_PX, TRIBUNAL_PX]
    exported = to_html(nb)
    assert "<h3>Findings</h3>" in exported and inline_pngs(exported) == [LITERATURE_FIGURE_SIZE_PX, TRIBUNAL_PX]
