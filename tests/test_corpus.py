"""Local corpus loading: files, folders, gzip, versions, corrupt lines, hashes, the demo corpus.

Uses only the fixtures in tests/fixtures (real arXiv records, see PROVENANCE.md) and tmp_path.
"""

from __future__ import annotations

import gzip
import json
import logging
import re
import shutil
from pathlib import Path

import pytest

from sovereign_kernel.domain.ids import split_arxiv_version
from sovereign_kernel.domain.schemas import Paper
from sovereign_kernel.sources.corpus import Corpus, CorpusError, load_corpus
from sovereign_kernel.sources.latex_text import latex_to_text

FIXTURES = Path(__file__).parent / "fixtures"
SMALL = FIXTURES / "arxiv_small.jsonl"
CORRUPT = FIXTURES / "arxiv_corrupt.jsonl"
TARGETS = ("2405.18770", "2403.10883", "2601.03594")


def _lines(path: Path) -> list[str]:
    return [line for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def _write(path: Path, lines: list[str]) -> Path:
    path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    return path


def _record(line: str, **changes) -> str:
    rec = json.loads(line)
    rec.update(changes)
    return json.dumps(rec, ensure_ascii=False)


# --- a single file ----------------------------------------------------------------------------


def test_load_fixture_file():
    corpus = load_corpus(SMALL)
    raw = [json.loads(line) for line in _lines(SMALL)]
    assert isinstance(corpus, Corpus)
    assert len(corpus) == len(raw) == 40
    assert corpus.skipped_lines == 0 and corpus.duplicates == 0
    assert [p.id for p in corpus.papers] == sorted(r["id"] for r in raw)
    assert set(corpus.by_id) == {r["id"] for r in raw}
    assert all(isinstance(p, Paper) for p in corpus.papers)
    assert str(SMALL) in corpus.label
    for tid in TARGETS:
        assert tid in corpus

    p = corpus.by_id["2405.18770"]
    assert p.title.startswith("Multimodal Adversarial Defense for Vision-Language Models")
    assert p.version == 6
    # v6 is dated 2026-01-05; the paper first appeared in the month its id names
    assert p.published == "2024-05"
    assert p.authors[0] == "Futa Waseda"
    assert p.categories == ["cs.CV"]
    assert p.url == "https://arxiv.org/abs/2405.18770"
    assert p.source == "local:arxiv_small.jsonl"
    assert re.fullmatch(r"[0-9a-f]{16}", p.content_hash)
    assert len({q.content_hash for q in corpus.papers}) == len(corpus)
    assert re.fullmatch(r"[0-9a-f]{64}", corpus.content_hash)


def test_whitespace_in_title_and_abstract_is_normalised():
    corpus = load_corpus(SMALL)
    raw = {json.loads(line)["id"]: json.loads(line) for line in _lines(SMALL)}
    # the daily-listing records keep arXiv's hard line breaks in the abstract
    assert any("\n" in r["abstract"] for r in raw.values())
    for p in corpus.papers:
        assert "\n" not in p.abstract and "  " not in p.abstract and p.abstract == p.abstract.strip()
        assert "\n" not in p.title and "  " not in p.title
        assert p.abstract == latex_to_text(" ".join(raw[p.id]["abstract"].split()))
    assert any("\\%" in r["abstract"] for r in raw.values()) and not any("\\%" in p.abstract for p in corpus.papers)


def test_extra_fields_are_ignored():
    # fixture lines carry comment / topics / source / selection, which Paper does not have
    assert any("selection" in json.loads(line) for line in _lines(SMALL))
    corpus = load_corpus(SMALL)
    assert all(p.source == "local:arxiv_small.jsonl" for p in corpus.papers)


def test_get_and_contains_accept_versions_and_prefixes():
    corpus = load_corpus(SMALL)
    assert "2405.18770v6" in corpus and "arXiv:2405.18770" in corpus
    assert corpus.get("2405.18770v1").id == "2405.18770"
    assert corpus.get("9999.99999") is None
    assert 2405.18770 not in corpus


# --- folders and gzip ---------------------------------------------------------------------------


def test_directory_of_jsonl_and_gz_files(tmp_path):
    lines = _lines(SMALL)
    _write(tmp_path / "b_part.jsonl", lines[:25])
    with gzip.open(tmp_path / "a_part.jsonl.gz", "wt", encoding="utf-8") as fh:
        fh.write("\n".join(lines[25:]) + "\n")
    (tmp_path / "notes.txt").write_text("not a corpus file\n")
    (tmp_path / "ignored.json").write_text('{"id": "0000.00000"}\n')
    sub = tmp_path / "sub"
    sub.mkdir()
    _write(sub / "nested.jsonl", [_record(lines[0], id="1111.11111")])

    corpus = load_corpus(tmp_path)
    single = load_corpus(SMALL)
    assert len(corpus) == 40
    assert corpus.content_hash == single.content_hash
    assert [Path(f).name for f in corpus.files] == ["a_part.jsonl.gz", "b_part.jsonl"]
    assert "1111.11111" not in corpus  # not recursive
    sources = {p.source for p in corpus.papers}
    assert sources == {"local:a_part.jsonl.gz", "local:b_part.jsonl"}
    assert corpus.by_id[json.loads(lines[0])["id"]].source == "local:b_part.jsonl"


def test_gz_file(tmp_path):
    gz = tmp_path / "small.jsonl.gz"
    with open(SMALL, "rb") as src, gzip.open(gz, "wb") as dst:
        shutil.copyfileobj(src, dst)
    corpus = load_corpus(str(gz))  # str paths work too
    plain = load_corpus(SMALL)
    assert len(corpus) == 40
    assert corpus.content_hash == plain.content_hash
    assert corpus.by_id["2405.18770"].source == "local:small.jsonl.gz"
    assert corpus.by_id["2405.18770"].abstract == plain.by_id["2405.18770"].abstract


def test_broken_gzip_is_a_corpus_error(tmp_path):
    bad = tmp_path / "broken.jsonl.gz"
    bad.write_bytes(b"this is not gzip data at all")
    with pytest.raises(CorpusError, match="broken.jsonl.gz"):
        load_corpus(bad)


# --- versions and duplicates ---------------------------------------------------------------------


def test_version_collapse_keeps_highest_version_even_if_earlier_line(tmp_path):
    line = _lines(SMALL)[0]
    base = json.loads(line)["id"]
    path = _write(
        tmp_path / "versions.jsonl",
        [
            _record(line, id=f"{base}v3", abstract="Version three abstract."),
            _record(line, id=f"{base}v1", abstract="Version one abstract."),
            _record(line, id=f"arXiv:{base}v2", abstract="Version two abstract."),
        ],
    )
    corpus = load_corpus(path)
    assert len(corpus) == 1 and corpus.duplicates == 2
    p = corpus.papers[0]
    assert p.id == base and split_arxiv_version(p.id) == (base, None)
    assert p.version == 3
    assert p.abstract == "Version three abstract."
    assert p.url == f"https://arxiv.org/abs/{base}"


def test_version_field_is_used_when_id_has_no_suffix(tmp_path):
    line = _lines(SMALL)[0]
    base = json.loads(line)["id"]
    path = _write(
        tmp_path / "versions.jsonl",
        [
            _record(line, id=base, version=4, abstract="Four."),
            _record(line, id=base, version=2, abstract="Two."),
        ],
    )
    p = load_corpus(path).by_id[base]
    assert (p.version, p.abstract) == (4, "Four.")


def test_unknown_versions_first_record_is_kept_and_the_conflict_counted(tmp_path):
    # Issue 14, finding 10: the later line used to replace the first silently; now the first stays
    # and the conflict is counted by reason (the report and the manifest list it).
    line = _lines(SMALL)[0]
    base = json.loads(line)["id"]
    rec = json.loads(line)
    rec.pop("version", None)
    rec.pop("published", None)
    first = json.dumps({**rec, "abstract": "First listing."})
    second = json.dumps({**rec, "abstract": "Second listing."})
    corpus = load_corpus(_write(tmp_path / "dup.jsonl", [first, second]))
    assert corpus.duplicates == 1
    assert corpus.by_id[base].abstract == "First listing."
    assert corpus.duplicate_reasons == {"same id, different content (first kept)": [base]}


def test_unknown_version_falls_back_to_later_published_date(tmp_path):
    # a listing without version vs. a versioned one: the later listing date wins, whatever the line order
    line = _lines(SMALL)[0]
    base = json.loads(line)["id"]
    newer = _record(line, id=base, version=2, published="2025-08-25", abstract="Revised.")
    older = json.dumps({**json.loads(_record(line, id=base, published="2025-07-21", abstract="Original.")), "version": None})
    corpus = load_corpus(_write(tmp_path / "mixed.jsonl", [newer, older]))
    assert corpus.by_id[base].abstract == "Revised." and corpus.by_id[base].version == 2


# --- corrupt lines -------------------------------------------------------------------------------


def test_corrupt_lines_are_counted_skipped_and_logged(caplog):
    with caplog.at_level(logging.WARNING, logger="sovereign_kernel.sources.corpus"):
        corpus = load_corpus(CORRUPT)
    # line 10's authors as one string is the arXiv snapshot's format: read, not corrupt (issue 14)
    assert sorted(corpus.by_id) == ["2311.05608", "2405.18770", "2412.00114", "2505.24600", "2510.16295"]
    assert corpus.skipped_lines == 4  # blank / whitespace-only lines are not corrupt
    assert corpus.skipped_by_file == {"arxiv_corrupt.jsonl": [2, 4, 6, 7]}
    assert corpus.skipped_reasons == {"not JSON": [2], "not a JSON object": [4], "no abstract": [6], "no id": [7]}
    assert corpus.by_id["2311.05608"].authors[:2] == ["Yichen Gong", "Delong Ran"]
    assert corpus.duplicates == 1
    # 2510.16295v2 (line 3) beats the later 2510.16295v1 (line 9), whose abstract differs
    kept = corpus.by_id["2510.16295"]
    assert kept.version == 2
    assert "designed to be transparent and unbiased benchmark" in kept.abstract
    assert "By offering a transparent" not in kept.abstract

    warnings = [r for r in caplog.records if r.name == "sovereign_kernel.sources.corpus" and r.levelno == logging.WARNING]
    assert len(warnings) == 2  # the skipped lines, and the duplicate ids
    msg = warnings[0].getMessage()
    assert "4" in msg and "arxiv_corrupt.jsonl" in msg and "not JSON: 1" in msg
    assert "2, 4, 6, 7" in msg
    assert "older version replaced by a newer one: 1" in warnings[1].getMessage()


def test_clean_file_logs_no_warning(caplog):
    with caplog.at_level(logging.WARNING, logger="sovereign_kernel.sources.corpus"):
        load_corpus(SMALL)
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]


@pytest.mark.parametrize(
    "bad",
    [
        '{"id": "2401.00001", "title": "T", "abstract": 42}',
        '{"id": 24.01, "title": "T", "abstract": "A"}',  # a number, but no arXiv id (2401.00001 is one: read)
        '{"id": "2401.00001", "title": "   ", "abstract": "A"}',
        '{"id": "2401.00001", "title": "T", "abstract": "A", "categories": {"cs": "CV"}}',  # a string is read
        '{"id": "2401.00001", "title": "T", "abstract": "A", "published": 20240101}',
        '{"id": "2401.00001", "title": "T", "abstract": "A", "version": "two"}',
        '"just a string"',
        "null",
    ],
)
def test_wrong_types_are_corrupt(tmp_path, bad):
    good = _lines(SMALL)[0]
    corpus = load_corpus(_write(tmp_path / "x.jsonl", [good, bad]))
    assert len(corpus) == 1 and corpus.skipped_lines == 1
    assert corpus.skipped_by_file == {"x.jsonl": [2]}


def test_invalid_utf8_line_is_corrupt_not_fatal(tmp_path):
    good = _lines(SMALL)[0].encode("utf-8")
    path = tmp_path / "bytes.jsonl"
    path.write_bytes(b'{"id": "2401.00001", "title": "\xff\xfe", "abstract": "A"}\n' + good + b"\n")
    corpus = load_corpus(path)
    assert len(corpus) == 1 and corpus.skipped_by_file == {"bytes.jsonl": [1]}


def test_only_corrupt_lines_is_a_corpus_error(tmp_path):
    path = _write(tmp_path / "bad.jsonl", ["{not json", "[1, 2]", ""])
    with pytest.raises(CorpusError, match="no valid records"):
        load_corpus(path)


# --- errors --------------------------------------------------------------------------------------


def test_missing_path_is_a_corpus_error(tmp_path):
    missing = tmp_path / "nope" / "corpus.jsonl"
    with pytest.raises(CorpusError) as exc:
        load_corpus(missing)
    assert isinstance(exc.value, ValueError)
    assert str(missing) in str(exc.value)
    assert "\n" not in str(exc.value)


def test_empty_directory_is_a_corpus_error(tmp_path):
    with pytest.raises(CorpusError, match="no \\*.jsonl"):
        load_corpus(tmp_path)
    (tmp_path / "readme.txt").write_text("nothing here")
    with pytest.raises(CorpusError) as exc:
        load_corpus(tmp_path)
    assert str(tmp_path) in str(exc.value)


def test_empty_file_is_a_corpus_error(tmp_path):
    empty = tmp_path / "empty.jsonl"
    empty.write_text("\n\n")
    with pytest.raises(CorpusError):
        load_corpus(empty)


# --- content hash --------------------------------------------------------------------------------


def test_content_hash_is_stable_across_file_order(tmp_path):
    lines = _lines(SMALL)
    forward = load_corpus(_write(tmp_path / "forward.jsonl", lines))
    backward = load_corpus(_write(tmp_path / "backward.jsonl", lines[::-1]))
    assert forward.content_hash == backward.content_hash == load_corpus(SMALL).content_hash
    assert [p.id for p in forward.papers] == [p.id for p in backward.papers]


def test_content_hash_changes_with_an_abstract_but_not_with_whitespace_or_extras(tmp_path):
    lines = _lines(SMALL)
    base = load_corpus(SMALL).content_hash
    rec = json.loads(lines[5])

    changed = lines.copy()
    changed[5] = _record(lines[5], abstract=rec["abstract"] + " An extra sentence.")
    assert load_corpus(_write(tmp_path / "changed.jsonl", changed)).content_hash != base

    reflowed = lines.copy()
    reflowed[5] = _record(lines[5], abstract="  " + rec["abstract"].replace(" ", "\n", 3) + "\n")
    assert load_corpus(_write(tmp_path / "reflowed.jsonl", reflowed)).content_hash == base

    extras = lines.copy()
    extras[5] = _record(lines[5], comment="changed comment", authors=["Someone Else"])
    assert load_corpus(_write(tmp_path / "extras.jsonl", extras)).content_hash == base


# --- the bundled demo corpus ---------------------------------------------------------------------


def test_bundled_demo_corpus_loads():
    corpus = load_corpus()
    assert len(corpus) > 2000
    assert corpus.skipped_lines == 0 and corpus.duplicates == 0
    assert corpus.label == f"bundled demo corpus ({len(corpus)} papers)"
    for tid in TARGETS:
        assert tid in corpus.by_id
    assert corpus.by_id["2405.18770"].version == 6
    for p in corpus.papers:
        assert split_arxiv_version(p.id) == (p.id, None)
        assert not re.search(r"v\d+$", p.id)
        assert p.title and p.abstract and p.source == "local:demo_corpus.jsonl.gz"
    assert [p.id for p in corpus.papers] == sorted(corpus.by_id)
    assert load_corpus().content_hash == corpus.content_hash


def test_demo_corpus_covers_the_demo_topics():
    corpus = load_corpus()
    text = [f"{p.title} {p.abstract}" for p in corpus.papers]
    typographic = [t for t in text if re.search(r"typographic", t, re.I)]
    assert len(typographic) >= 30
    assert sum(bool(re.search(r"mixture[- ]of[- ]experts|\bMoE\b", t, re.I)) for t in text) >= 100
    assert sum(bool(re.search(r"\bCLIP\b", t)) for t in text) >= 100
