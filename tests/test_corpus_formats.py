"""Corpus records in the arXiv metadata snapshot's format, ids written as JSON numbers, duplicates
and skipped lines reported by reason (issue 14, finding 10). Fixtures: tests/fixtures (PROVENANCE.md)."""

from __future__ import annotations

import json
from pathlib import Path

from sovereign_kernel.sources.corpus import load_corpus
from sovereign_kernel.sources.latex_text import latex_to_text

FIXTURES = Path(__file__).parent / "fixtures"
SMALL = FIXTURES / "arxiv_small.jsonl"
SNAPSHOT = FIXTURES / "arxiv_snapshot.jsonl"


def _write(path: Path, lines: list[str]) -> Path:
    path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    return path


def _small() -> dict[str, dict]:
    return {r["id"]: r for r in (json.loads(x) for x in SMALL.read_text().splitlines() if x.strip())}


def test_snapshot_records_load_as_the_papers_they_are():
    corpus = load_corpus(SNAPSHOT)
    small = load_corpus(SMALL)
    assert corpus.skipped_lines == 0 and len(corpus) == 5
    for p in corpus.papers:
        q = small.by_id[p.id]
        assert (p.title, p.abstract, p.authors, p.categories, p.version, p.published) == \
            (q.title, q.abstract, q.authors, q.categories, q.version or 1, q.published)  # the fixture says v1
        assert p.content_hash == q.content_hash


def test_snapshot_versions_give_the_first_version_date_and_the_latest_version(tmp_path):
    rec = {"id": "0704.0001", "authors": "C. Bal\\'azs, E. L. Berger, P. M. Nadolsky and C.-P. Yuan",
           "title": "A title\n  over two lines", "abstract": "  An abstract.\n", "categories": "hep-ph  hep-ex",
           "doi": "10.1103/PhysRevD.76.013009",
           "versions": [{"version": "v1", "created": "Mon, 2 Apr 2007 19:18:42 GMT"},
                        {"version": "v2", "created": "Tue, 24 Jul 2007 20:10:27 GMT"}],
           "update_date": "2008-11-13"}
    [p] = load_corpus(_write(tmp_path / "s.jsonl", [json.dumps(rec)])).papers
    assert p.id == "0704.0001" and p.version == 2 and p.published == "2007-04-02"
    assert p.authors == ["C. Bal\\'azs", "E. L. Berger", "P. M. Nadolsky", "C.-P. Yuan"]
    assert p.categories == ["hep-ph", "hep-ex"] and p.title == "A title over two lines"
    assert p.doi == "10.1103/physrevd.76.013009"
    no_versions = {k: v for k, v in rec.items() if k != "versions"}
    [q] = load_corpus(_write(tmp_path / "u.jsonl", [json.dumps(no_versions)])).papers
    assert q.published == "2008-11-13" and q.version is None  # the update date, when nothing else dates it


def test_ids_written_as_json_numbers_are_read_from_their_literal_text(tmp_path):
    base = {"title": "T", "abstract": "A finding."}
    lines = ['{"id": 704.0001, "title": "T1", "abstract": "A."}',  # leading zero dropped: 0704.0001
             '{"id": 1501.0001, "title": "T2", "abstract": "B."}',  # trailing zero dropped: 1501.00010
             '{"id": 2405.1877, "title": "T3", "abstract": "C."}',  # 2405.18770
             '{"id": 2405.18771, "title": "T4", "abstract": "D."}',  # exact: kept as written
             '{"id": 704.00011, "title": "T5", "abstract": "E."}',  # 5 digits after 0704: no such id
             json.dumps({"id": 42, **base})]
    corpus = load_corpus(_write(tmp_path / "n.jsonl", lines))
    assert sorted(corpus.by_id) == ["0704.0001", "1501.00010", "2405.18770", "2405.18771"]
    assert corpus.skipped_reasons == {"id is a number that is not an arXiv id": [5, 6]}


def test_skipped_lines_are_counted_by_reason(tmp_path):
    good = json.dumps({"id": "2401.00001", "title": "T", "abstract": "A."})
    lines = [good, "{not json", json.dumps({"id": "2401.00002", "abstract": "A."}),
             json.dumps({"id": "2401.00003", "title": "T"}), "[1, 2]",
             json.dumps({"id": "2401.00004", "title": "T", "abstract": "A.", "authors": 7})]
    corpus = load_corpus(_write(tmp_path / "bad.jsonl", lines))
    assert len(corpus) == 1 and corpus.skipped_lines == 5
    assert corpus.skipped_reasons == {"not JSON": [2], "no title": [3], "no abstract": [4],
                                      "not a JSON object": [5], "authors neither a list nor a string": [6]}


def test_duplicate_ids_keep_the_first_record_and_are_counted_by_reason(tmp_path):
    small = _small()
    a, b = small["2304.04512"], small["2403.10883"]
    same = json.dumps(a)
    changed = json.dumps({**b, "abstract": "Another abstract under the same id."})
    newer = json.dumps({**a, "version": a["version"] + 1, "abstract": "The next version's abstract."})
    corpus = load_corpus(_write(tmp_path / "d.jsonl", [same, json.dumps(b), same, changed, newer]))
    assert corpus.by_id["2403.10883"].abstract == latex_to_text(b["abstract"])  # the first record stays
    assert corpus.by_id["2304.04512"].version == a["version"] + 1  # a newer version replaces the older
    assert corpus.duplicates == 3
    assert corpus.duplicate_reasons == {"same record repeated": ["2304.04512"],
                                        "same id, different content (first kept)": ["2403.10883"],
                                        "older version replaced by a newer one": ["2304.04512"]}


def test_a_run_reports_skipped_lines_and_duplicates_in_uncertainties_and_manifest(tmp_path, run_research):
    lines = SMALL.read_text().splitlines()
    rec = json.loads(lines[3])
    corpus = _write(tmp_path / "c.jsonl", [*lines, "{cut", json.dumps({**rec, "abstract": "Different."}),
                                           json.dumps({k: v for k, v in rec.items() if k != "title"})])
    from conftest import COVERED_QUESTION

    result = run_research(COVERED_QUESTION, corpus=str(corpus), home=str(tmp_path / "home"))
    corpus_record = result.manifest["provenance"]["corpus"]
    assert corpus_record["skipped_lines"] == {"not JSON": 1, "no title": 1}
    assert corpus_record["duplicates"] == {"same id, different content (first kept)": 1}
    notes = [u for u in result.report.uncertainties if u.startswith("Corpus records left out:")]
    assert len(notes) == 1
    assert "2 line(s) skipped (not JSON: 1 — c.jsonl line 41; no title: 1 — c.jsonl line 43)" in notes[0]
    assert f"1 duplicate id(s) (same id, different content (first kept): 1 — {rec['id']})" in notes[0]
