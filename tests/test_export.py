"""Exports (issue 15): references as BibTeX and RIS that reference managers read back, the claims as
CSV numbered as in report.md, JSON, a self-contained HTML page; through the CLI and the Python API."""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys

import bibtexparser
import pytest
import rispy

from sovereign_kernel.domain.schemas import Reference
from sovereign_kernel.publishing.export import bibtex, claims_csv, export_report, ris


@pytest.fixture(scope="module")
def published(run_research):
    from conftest import COVERED_QUESTION

    return run_research(COVERED_QUESTION)


def test_bibtex_round_trips_every_reference_with_its_arxiv_eprint_and_first_version_year(published):
    refs = published.report.references
    assert refs
    lib = bibtexparser.parse_string(published.export("bibtex"))
    assert not lib.failed_blocks
    assert len(lib.entries) == len(refs) and len({e.key for e in lib.entries}) == len(refs)
    for ref, entry in zip(refs, lib.entries):
        fields = {f.key: f.value for f in entry.fields}
        assert fields["eprint"] == ref.id and fields["archivePrefix"] == "arXiv"
        assert fields["year"] == ref.published[:4]
        assert fields["author"].split(" and ")[0] == ref.authors[0]
        assert fields["url"] == f"https://arxiv.org/abs/{ref.id}"


def test_ris_round_trips_every_reference(published):
    refs = published.report.references
    records = rispy.loads(published.export("ris"))
    assert [r["title"] for r in records] == [r.title for r in refs]
    assert records[0]["authors"] == refs[0].authors and records[0]["year"] == refs[0].published[:4]
    assert records[0]["type_of_reference"] == "UNPB"


def test_claims_csv_numbers_claims_as_report_md_does(published):
    report = published.report
    rows = list(csv.DictReader(io.StringIO(claims_csv(report))))
    assert [r["claim"] for r in rows] == [f"C{i}" for i in range(1, len(report.claims) + 1)]
    first = report.claims[0]
    assert rows[0]["id"] == first.id and rows[0]["quoted_span"] == " ".join(first.source_span.text.split())
    assert f"| C1 | {first.text[:20]}" in published.markdown.replace("\\", "")  # the same C1 as report.md
    assert [r["own_work"] == "yes" for r in rows] == [c.own_work for c in report.claims]


def test_untrusted_text_cannot_break_a_format():
    hostile = Reference(id="10.1/x", title="Evil} @misc{injected,\ntitle={x}\nTY  - JOUR", authors=["=HYPERLINK(\"x\")"],
                        published="2024-05-01", url="https://doi.org/10.1/x", relevance=0.5)
    lib = bibtexparser.parse_string(bibtex([hostile]))
    assert len(lib.entries) == 1 and not lib.failed_blocks
    assert lib.entries[0].entry_type == "article" and {f.key: f.value for f in lib.entries[0].fields}["doi"] == "10.1/x"
    records = rispy.loads(ris([hostile]))
    assert len(records) == 1 and records[0]["type_of_reference"] == "JOUR"  # the newline started no record


def test_csv_cells_never_start_a_formula(published):
    report = published.report
    claim = report.claims[0].model_copy(update={"text": "=cmd|' /C calc'!A0"})
    rows = list(csv.DictReader(io.StringIO(claims_csv(report.model_copy(update={"claims": [claim]})))))
    assert rows[0]["text"].startswith("'=")


def test_html_page_is_self_contained_and_json_is_the_stored_pair(published):
    page = published.export("html")
    assert page.startswith("<!DOCTYPE html>") and "<script" not in page and 'src="http' not in page
    assert "default-src 'none'" in page and published.report.claims[0].id.split("#")[0] in page
    data = json.loads(published.export("json"))
    assert data["report"]["report_id"] == published.report.report_id and "verification_level" in data["manifest"]
    with pytest.raises(ValueError, match="unknown export format 'docx'"):
        export_report(published.report, published.manifest, "docx")


def test_cli_exports_a_published_report_by_id(published, sovereign_home, tmp_path):
    env = {**os.environ, "SOVEREIGN_HOME": str(sovereign_home)}
    out = tmp_path / "refs.bib"
    done = subprocess.run([sys.executable, "-m", "sovereign_kernel", "export", published.report.report_id,
                           "--format", "bibtex", "--out", str(out)], capture_output=True, text=True, env=env)
    assert done.returncode == 0, done.stderr
    assert bibtexparser.parse_string(out.read_text()).entries
    assert not list(tmp_path.glob("*.tmp")) and not list(tmp_path.glob(".refs.bib.*"))
    done = subprocess.run([sys.executable, "-m", "sovereign_kernel", "export", published.report.report_id,
                           "--format", "csv"], capture_output=True, text=True, env=env)
    assert done.returncode == 0 and done.stdout.startswith("claim,id,text")
    done = subprocess.run([sys.executable, "-m", "sovereign_kernel", "export", "SRK-000000000000", "--format", "csv"],
                          capture_output=True, text=True, env=env)
    assert done.returncode != 0 and "Traceback" not in done.stderr and len(done.stderr.strip().splitlines()) == 1
