"""PDF libraries (sources.pdf): real CC-BY PDFs parsed into page-anchored full texts, bad files
skipped with a reason, and the on-disk parse cache. Bad files are generated here, in tmp_path,
from the fixtures (tests/fixtures/PROVENANCE.md); nothing outside the repo is read."""

from __future__ import annotations

import errno
import gzip
import json
import logging
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path
from unittest.mock import ANY

import pypdf
import pypdfium2 as pdfium
import pytest

from sovereign_kernel.domain.errors import CorpusError, PdfSkippedError
from sovereign_kernel.domain.fulltext import FULLTEXT_PARSER, ParsedPdf, PdfMetadata, SkippedFile
from sovereign_kernel.sources import pdf as pdf_module
from sovereign_kernel.sources import pdf_worker
from sovereign_kernel.sources.pdf import ParsedPdfCache, file_sha256, paper_id_for, parse_library, parse_pdf
from sovereign_kernel.sources.pdf_meta import extract_metadata, split_authors
from sovereign_kernel.sources.pdf_text import layout, page_lines, split_references

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = Path(__file__).parent / "fixtures" / "pdf"
NATURE = FIXTURES / "10.1038_s41467-024-44806-1.pdf"  # Nat. Commun., 7 pages, CC BY 4.0
BIORXIV = FIXTURES / "10.1101_2024.02.13.580051.pdf"  # bioRxiv preprint, 31 pages, aCC-BY 4.0


@pytest.fixture(scope="module")
def nature() -> ParsedPdf:
    return parse_pdf(NATURE)


@pytest.fixture(scope="module")
def biorxiv() -> ParsedPdf:
    return parse_pdf(BIORXIV)


def raw_page(path: Path, index: int) -> str:
    with pdfium.PdfDocument(path) as pdf:
        return pdf[index].get_textpage().get_text_range()


# --- a real journal article -------------------------------------------------------------------

def test_journal_article_metadata(nature):
    meta, ft = nature.metadata, nature.full_text
    assert meta.doi == "10.1038/s41467-024-44806-1"
    assert ft.paper_id == "10.1038/s41467-024-44806-1"
    assert meta.title.startswith("Evolution of optimal growth temperature in Asgard archaea")
    assert meta.year == 2024
    assert meta.authors == ["Zhongyi Lu"]  # the info dictionary names only the first author
    # no "Abstract" heading in this journal: page 1's first sentence after the title and authors
    assert meta.abstract.startswith("The archaeal ancestor of eukaryotes apparently belonged")
    assert ft.n_pages == 7 and len(ft.page_starts) == 7
    assert ft.file == NATURE.name and ft.sha256 == file_sha256(NATURE) and ft.parser == FULLTEXT_PARSER


def test_a_phrase_is_found_on_its_page(nature):
    ft = nature.full_text
    # printed mid-page 4, hyphenated there as "mod-erate" across a line end
    at = ft.body.find("the transition from the moderate thermophilic to the mesophilic lifestyle")
    assert at > 0
    assert ft.page_at(at) == 4
    assert ft.section_at(at) == "Results"
    assert ft.section_at(ft.body.find("we hypothesize that the temperature for eukaryogenesis")) == "Discussion"


def test_page_starts_point_at_each_pages_text(nature):
    ft = nature.full_text
    # the first line of pages 2-6 as pypdfium2 prints it (no running header on top of these pages)
    for index in range(1, 6):
        first_line = raw_page(NATURE, index).split("\r\n")[0]
        assert ft.body[ft.page_starts[index]:].startswith(first_line[:40]), index
    assert ft.body.startswith("Evolution of optimal growth temperature")  # page 1's header line dropped
    assert ft.page_starts == sorted(ft.page_starts) and ft.page_starts[-1] <= len(ft.body)


def test_words_split_at_line_ends_are_rejoined(nature):
    raw = raw_page(NATURE, 0)
    assert "tem\ufffeperature" in raw and "mole\ufffecular" in raw and "EF\ufffe1A sequences" in raw
    body = nature.full_text.body
    assert "the optimal GDP-binding temperature of EF-1A" in body
    assert "affects molecular and cellular properties" in body
    assert "ancestral EF-1A sequences" in body  # a hyphen before a digit is part of the name
    assert "Heimdallarchaeia-Kariarchaeia-Gerdarchaeia" in body  # "Kar-" + "iarchaeia" in a compound
    assert "\ufffe" not in body and "\r" not in body and "tem-perature" not in body


def test_references_are_kept_apart(nature):
    ft = nature.full_text
    entry = "Zaremba-Niedzwiedzka, K. et al. Asgard archaea illuminate the origin of eukaryotic cellular complexity"
    assert entry in ft.references
    assert entry not in ft.body and "Zaremba-Niedzwiedzka" not in ft.body
    assert ft.references.startswith("References")
    assert ft.body.rstrip().endswith("(https://doi.org/10.5281/zenodo. 8433221).")  # Code availability, last


def test_running_headers_and_footers_are_dropped(nature):
    raw_pages = [raw_page(NATURE, i) for i in range(7)]
    assert all("Nature Communications | (2024) 15:515" in p for p in raw_pages)
    body = nature.full_text.body
    assert "Nature Communications |" not in body
    assert "Article https://doi.org/10.1038/s41467-024-44806-1" not in body


def test_sections(nature):
    titles = [s.title for s in nature.full_text.sections]
    assert titles[:3] == ["Results", "Discussion", "Methods"]
    assert all(s.start < t.start for s, t in zip(nature.full_text.sections, nature.full_text.sections[1:]))


# --- a preprint: no info-dict title, a licence footer on every page, figure legends after references

def test_preprint_metadata(biorxiv):
    meta = biorxiv.metadata
    assert meta.doi == "10.1101/2024.02.13.580051"
    assert meta.title == ("REV1 Coordinates a Multi-Faceted Tolerance Response to DNA Alkylation Damage and "
                          "Prevents Chromosome Shattering in Drosophila melanogaster")  # page 1: no Title in the file
    assert meta.authors == ["Mitch McVey"]  # "McVey, Mitch" is one name
    assert meta.year == 2024
    assert meta.abstract.startswith("When replication forks encounter damaged DNA, cells utilize")
    assert meta.abstract.endswith("to prevent genome instability.")


def test_preprint_footer_sections_and_references(biorxiv):
    ft = biorxiv.full_text
    assert "aCC-BY 4.0 International license" not in ft.body  # the footer of all 31 pages
    assert "bioRxiv preprint doi" not in ft.body
    titles = [s.title for s in ft.sections]
    for name in ("Abstract", "Introduction", "Results", "DISCUSSION", "Materials and Methods"):
        assert name in titles
    entry = "Eichman BF. Repair and tolerance of DNA damage at the replication fork"
    assert entry in ft.references and entry not in ft.body
    # the figure legends printed after the reference list return to the body, on their own pages
    legend = ft.body.find("Figure 4: The CTD of REV1 and translesion polymerases")
    assert legend > 0 and ft.page_at(legend) == 30
    assert "double-strand breaks" in ft.body  # "double-" + "strand": the compound is printed so elsewhere


# --- text cleaning on made-up pages -------------------------------------------------------------

def _parse_text(pages: list[str], info: dict | None = None):
    lay = layout(page_lines(pages))
    body = split_references(lay)
    return body, extract_metadata(info or {}, pages, lay, body)


def test_cleaning_rules():
    page = ("A Study of Things\r\n"
            "The re\ufb01ned model of gene regu-\r\nlation uses the CRISPR-\r\nCas9 system and a\u00a0well-known\r\n"
            "e\ufb00ect of soft\u00adware on the so-\r\ncalled so-called factor.\r\n")
    body, _ = _parse_text([page])
    text = body.body
    assert "refined model of gene regulation uses the CRISPR-Cas9 system and a well-known effect of software" in text
    assert "so-called so-called" in text  # "so-" + "called" keeps its hyphen: printed so on the same page
    assert "\r" not in text and "\u00a0" not in text and "\u00ad" not in text


def test_a_word_split_across_a_page_break_is_completed_on_the_first_page():
    pages = ["Intro text about the gene regu-", "lation of cell growth continues here on page two."]
    body, _ = _parse_text(pages)
    assert body.body.startswith("Intro text about the gene regulation\n")
    assert body.body[body.page_starts[1]:] == "of cell growth continues here on page two."


def test_headings_sections_and_unheaded_numbered_references():
    prose = "This sentence describes what was done in some detail, as papers do at length. " * 6
    page1 = [prose, "MATERIALS AND METHODS", prose, "2.3 Cell culture", prose, "DAPI", "Merge",
             "2.4 mM of the buffer was added to", "the cells before imaging them."]
    page2 = [prose, "We thank our colleagues.", "1. A. Author, A first paper. Nature 1, 2 (2019).",
             "2. B. Author, A second paper. Cell 3, 4 (2020).", "3. C. Author, A third one. Science 5, 6 (2021)."]
    body, _ = _parse_text(["\r\n".join(page1), "\r\n".join(page2)])
    assert [s.title for s in body.sections] == ["MATERIALS AND METHODS", "2.3 Cell culture"]
    assert body.references.startswith("1. A. Author, A first paper.")  # PNAS-style: a list without a heading
    assert "A second paper" not in body.body and body.body.rstrip().endswith("We thank our colleagues.")
    at = body.body.find("2.4 mM of the buffer was added to the cells")  # a number opening a sentence, not a heading
    assert at > 0


def test_pages_are_read_one_at_a_time(monkeypatch):
    """Memory stays bounded: each page (and its text page) is closed before the next is opened."""
    open_pages: list[int] = []
    peak = [0]
    real_get, real_close = pdfium.PdfDocument.get_page, pdfium.PdfPage.close

    def get_page(self, index):
        open_pages.append(index)
        peak[0] = max(peak[0], len(open_pages))
        return real_get(self, index)

    def close(self, *args, **kwargs):
        if open_pages:
            open_pages.pop()
        return real_close(self, *args, **kwargs)

    monkeypatch.setattr(pdfium.PdfDocument, "get_page", get_page)
    monkeypatch.setattr(pdfium.PdfPage, "close", close)
    assert parse_pdf(BIORXIV).full_text.n_pages == 31
    assert peak[0] == 1 and open_pages == []


def test_line_numbers_headers_and_page_numbers_go():
    pages = []
    for p in range(5):
        lines = [f"{p * 10 + i + 1} sentence number {i} of page {p} in a manuscript with numbered lines." for i in range(8)]
        pages.append("\r\n".join(["Journal of Examples 2024, vol. 3", *lines, f"{p + 1}"]))
    body, _ = _parse_text(pages)
    assert "Journal of Examples" not in body.body
    assert "sentence number 0 of page 0 in a manuscript" in body.body
    assert "numbered lines. 2 sentence" not in body.body and "\n12 sentence" not in body.body
    assert not body.body.rstrip().endswith("5")


def test_metadata_fallbacks_and_rules():
    filler = " ".join(["Some body text about results that are described here at length."] * 30)
    page1 = f"Learning to Search Papers\r\nAda Lovelace1, Alan Turing2\r\narXiv:2501.10120v1 [cs.IR] 17 Jan 2025\r\n{filler}"
    page2 = (f"{filler}\r\nReferences\r\n1. A. Author, A paper. Nature 1, 2 (2019). doi:10.1000/cited.1\r\n"
             "2. B. Author, Another. Cell 3, 4 (2020).\r\n3. C. Author, More. Science 5, 6 (2021).\r\n")
    _, meta = _parse_text([page1, page2], {"Title": "Microsoft Word - draft_v3.docx", "Author": "Administrator"})
    assert meta.title == "Learning to Search Papers"  # the info title is a file name
    assert meta.authors == []
    assert meta.arxiv_id == "2501.10120"
    assert meta.doi is None  # the only DOI is a reference's
    assert paper_id_for(meta, "ab" * 32) == "2501.10120"
    assert split_authors("A. One; B. Two") == ["A. One", "B. Two"]
    assert split_authors("Sam Cox and Andrew D. White") == ["Sam Cox", "Andrew D. White"]


def test_paper_id_fallbacks():
    sha = "0123456789abcdef" * 4
    assert paper_id_for(PdfMetadata(doi="10.1038/ABC", arxiv_id="2501.10120"), sha) == "10.1038/abc"
    assert paper_id_for(PdfMetadata(arxiv_id="2501.10120"), sha) == "2501.10120"
    assert paper_id_for(PdfMetadata(), sha) == "pdf-0123456789abcdef"


# --- bad files ---------------------------------------------------------------------------------

def _blank_pdf(path: Path, pages: int) -> Path:
    writer = pypdf.PdfWriter()
    for _ in range(pages):
        writer.add_blank_page(width=612, height=792)
    with open(path, "wb") as fh:
        writer.write(fh)
    return path


def _skip_reason(path: Path, **kw) -> SkippedFile:
    with pytest.raises(PdfSkippedError) as info:
        parse_pdf(path, **kw)
    assert isinstance(info.value, CorpusError) and info.value.skipped.file == path.name
    assert path.name in str(info.value)
    return info.value.skipped


def test_not_a_pdf(tmp_path):
    path = tmp_path / "notes.pdf"
    path.write_text("These are my notes, not a PDF.\n" * 50)
    assert _skip_reason(path).reason == "not a PDF"


def test_truncated(tmp_path):
    data = NATURE.read_bytes()
    path = tmp_path / "truncated.pdf"
    path.write_bytes(data[: int(len(data) * 0.3)])
    assert _skip_reason(path).reason == "truncated or corrupt"


def test_encrypted(tmp_path):
    writer = pypdf.PdfWriter(clone_from=NATURE)
    writer.encrypt(user_password="secret", owner_password="owner", algorithm="AES-256")
    path = tmp_path / "locked.pdf"
    with open(path, "wb") as fh:
        writer.write(fh)
    assert _skip_reason(path).reason == "encrypted"


def test_no_text_layer(tmp_path):
    skipped = _skip_reason(_blank_pdf(tmp_path / "scan.pdf", 3))
    assert skipped.reason == "scanned, no text" and "3 pages" in skipped.detail


def test_too_many_pages_is_decided_before_reading(tmp_path, monkeypatch):
    path = _blank_pdf(tmp_path / "long.pdf", 40)
    monkeypatch.setattr(pdfium.PdfDocument, "get_page", lambda *a: pytest.fail("a page was read"))
    skipped = _skip_reason(path, max_pages=30)
    assert skipped.reason == "too many pages" and skipped.detail == "40 pages > max_pdf_pages 30"


def test_unreadable(tmp_path):
    path = tmp_path / "folder.pdf"
    path.mkdir()
    assert _skip_reason(path).reason == "unreadable"


def test_the_error_survives_pickling():
    import pickle

    err = PdfSkippedError(SkippedFile(file="x.pdf", reason="encrypted", detail="a password is needed"))
    again = pickle.loads(pickle.dumps(err))
    assert again.skipped == err.skipped and str(again) == str(err)


# --- libraries and the cache -------------------------------------------------------------------

@pytest.fixture()
def library(tmp_path) -> list[Path]:
    """Two real papers, the first again under another name, and a non-PDF, in a folder."""
    folder = tmp_path / "library"
    folder.mkdir()
    paths = [folder / NATURE.name, folder / "junk.pdf", folder / BIORXIV.name, folder / "copy-of-nature.pdf"]
    shutil.copy(NATURE, paths[0])
    paths[1].write_bytes(b"<html>not a pdf</html>")
    shutil.copy(BIORXIV, paths[2])
    shutil.copy(NATURE, paths[3])
    return paths


def _count_parses(monkeypatch) -> list[str]:
    calls: list[str] = []
    real = pdf_module._parse_or_skip

    def counting(path, max_pages):
        calls.append(Path(path).name)
        return real(path, max_pages)

    monkeypatch.setattr(pdf_module, "_parse_or_skip", counting)
    return calls


def test_library_parses_once_then_answers_from_the_cache(library, tmp_path, monkeypatch):
    cache = ParsedPdfCache(tmp_path / "cache")
    calls = _count_parses(monkeypatch)
    progress: list[tuple[int, int, str]] = []
    parsed, skipped = parse_library(library, cache, workers=1, on_progress=lambda *a: progress.append(a))
    assert sorted(calls) == sorted([NATURE.name, "junk.pdf", BIORXIV.name])  # the copy is not parsed again
    assert [p.full_text.file for p in parsed] == [NATURE.name, BIORXIV.name, "copy-of-nature.pdf"]
    assert parsed[2].full_text.paper_id == parsed[0].full_text.paper_id == "10.1038/s41467-024-44806-1"
    assert [(s.file, s.reason) for s in skipped] == [("junk.pdf", "not a PDF")]
    assert [p[0] for p in progress] == [1, 2, 3, 4] and {p[1] for p in progress} == {4}
    assert sorted(p[2] for p in progress) == sorted(p.name for p in library)
    assert cache.path_for(file_sha256(NATURE)).is_file()

    calls.clear()
    again, skipped_again = parse_library(library, cache, workers=2)
    assert calls == []  # everything, the skip included, came from the cache
    assert [p.model_dump() for p in again] == [p.model_dump() for p in parsed]
    assert skipped_again == skipped


def test_process_pool_matches_in_process(library):
    pooled, skipped = parse_library(library[:3], None, workers=2)
    assert [p.full_text.file for p in pooled] == [NATURE.name, BIORXIV.name]
    assert pooled[0].model_dump() == parse_pdf(library[0]).model_dump()
    assert [s.reason for s in skipped] == ["not a PDF"]


def test_a_script_without_a_main_guard_can_use_workers(tmp_path):
    """The workers are plain subprocesses: they never re-run the caller's script (multiprocessing's
    "spawn" did, and a script without an ``if __name__ == "__main__":`` guard got every file back
    "truncated or corrupt")."""
    script = tmp_path / "unguarded.py"
    script.write_text(textwrap.dedent(f"""\
        import json, sys
        sys.path.insert(0, {str(ROOT)!r})
        from sovereign_kernel.sources.pdf import ParsedPdfCache, parse_library
        parsed, skipped = parse_library([{str(NATURE)!r}, {str(BIORXIV)!r}],
                                        ParsedPdfCache({str(tmp_path / "cache")!r}), workers=2)
        print(json.dumps({{"parsed": len(parsed), "skipped": [s.detail for s in skipped]}}))
        """))
    run = subprocess.run([sys.executable, str(script)], check=False, cwd=tmp_path, capture_output=True, text=True,
                         timeout=300)
    assert run.returncode == 0, run.stderr
    assert json.loads(run.stdout.splitlines()[-1]) == {"parsed": 2, "skipped": []}


def _recording_popen(monkeypatch) -> list[subprocess.Popen]:
    started: list[subprocess.Popen] = []
    real = subprocess.Popen

    def popen(*args, **kwargs):
        started.append(real(*args, **kwargs))
        return started[-1]

    monkeypatch.setattr(pdf_worker.subprocess, "Popen", popen)
    return started


def test_a_file_that_crashes_its_worker_is_skipped_and_the_rest_parse(tmp_path, monkeypatch, caplog):
    """A worker that dies on a file (PDFium crashing, as ``os._exit`` does here) is replaced; the
    file is tried once more in a fresh worker, then skipped; every other file parses."""
    attempts = tmp_path / "attempts.txt"
    crashing = tmp_path / "crashing_worker.py"  # the real worker, but it dies on any "crash.pdf"
    crashing.write_text(textwrap.dedent(f"""\
        import os, sys
        sys.path.insert(0, {str(ROOT)!r})
        from sovereign_kernel.sources import pdf, pdf_worker
        parse = pdf._parse_or_skip
        def parse_or_die(path, max_pages):
            if path.endswith("crash.pdf"):
                with open({str(attempts)!r}, "a") as fh:
                    fh.write(path + "\\n")
                os._exit(139)
            return parse(path, max_pages)
        pdf._parse_or_skip = parse_or_die
        sys.exit(pdf_worker.main(sys.argv[1:]))
        """))
    monkeypatch.setattr(pdf_worker, "_worker_command", lambda pages: [sys.executable, str(crashing), str(pages)])
    started = _recording_popen(monkeypatch)
    bad = _blank_pdf(tmp_path / "crash.pdf", 2)
    junk = tmp_path / "junk.pdf"
    junk.write_bytes(b"<html>not a pdf</html>")
    cache = ParsedPdfCache(tmp_path / "cache")
    with caplog.at_level(logging.WARNING, logger="sovereign_kernel.sources.pdf_worker"):
        parsed, skipped = parse_library([NATURE, bad, BIORXIV, junk], cache, workers=2)
    assert [p.full_text.file for p in parsed] == [NATURE.name, BIORXIV.name]
    assert parsed[0].model_dump() == parse_pdf(NATURE).model_dump()
    assert [(s.file, s.reason, s.detail) for s in skipped] == [
        ("crash.pdf", "truncated or corrupt", "parser failed: PDFium crashed on it"), ("junk.pdf", "not a PDF", ANY)]
    assert len(attempts.read_text().splitlines()) == 2  # a second, fresh worker for it alone
    assert len([r for r in caplog.records if "worker died on crash.pdf" in r.message]) == 2
    assert cache.get(file_sha256(bad)) is None  # a crash is not cached: it is tried again next time
    assert len(started) >= 3 and all(p.returncode is not None for p in started)  # every worker reaped


def test_an_interrupted_call_leaves_no_worker_running(library, monkeypatch):
    started = _recording_popen(monkeypatch)

    def interrupt(done, total, name):
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        parse_library(library[:3], None, workers=2, on_progress=interrupt)
    assert started and all(p.returncode is not None for p in started)


def test_workers_that_cannot_start_fall_back_to_in_process(library, monkeypatch, caplog):
    monkeypatch.setattr(pdf_worker, "_worker_command", lambda max_pages: [sys.executable, "-c", "raise SystemExit(3)"])
    with caplog.at_level(logging.WARNING, logger="sovereign_kernel.sources.pdf"):
        parsed, skipped = parse_library(library[:3], None, workers=2)
    assert [p.full_text.file for p in parsed] == [NATURE.name, BIORXIV.name] and len(skipped) == 1
    assert any("cannot run" in r.message for r in caplog.records)


def test_corrupt_or_stale_cache_entries_are_rebuilt(tmp_path, monkeypatch):
    cache = ParsedPdfCache(tmp_path / "cache")
    sha = file_sha256(NATURE)
    entry = cache.path_for(sha)
    entry.parent.mkdir(parents=True)
    entry.write_bytes(b"\x1f\x8b not really gzip")
    assert cache.get(sha) is None and not entry.exists()  # deleted: a miss

    calls = _count_parses(monkeypatch)
    parsed, _ = parse_library([NATURE], cache)
    assert calls == [NATURE.name] and isinstance(cache.get(sha), ParsedPdf)

    with gzip.open(entry, "wt", encoding="utf-8") as fh:  # written by an older parser
        json.dump({"parser": "pdf-text-v0", "kind": "parsed", "record": parsed[0].model_dump(mode="json")}, fh)
    assert cache.get(sha) is None
    parse_library([NATURE], cache)
    assert len(calls) == 2 and cache.get(sha) == parsed[0]


def test_an_unwritable_cache_is_not_fatal(tmp_path, caplog):
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("a file where the cache directory should be")
    with caplog.at_level(logging.WARNING, logger="sovereign_kernel.sources.pdf"):
        parsed, skipped = parse_library([NATURE, BIORXIV, tmp_path / "missing.pdf"], ParsedPdfCache(blocker), workers=1)
    assert len(parsed) == 2 and [s.reason for s in skipped] == ["unreadable"]
    assert len([r for r in caplog.records if "not writable" in r.message]) == 1  # said once


def test_a_full_disk_is_not_fatal(tmp_path, monkeypatch, caplog):
    def full(*_a, **_k):
        raise OSError(errno.ENOSPC, "No space left on device")

    cache = ParsedPdfCache(tmp_path / "cache")
    monkeypatch.setattr(pdf_module.os, "replace", full)
    with caplog.at_level(logging.WARNING, logger="sovereign_kernel.sources.pdf"):
        parsed, _ = parse_library([NATURE], cache)
    assert len(parsed) == 1 and cache.get(parsed[0].full_text.sha256) is None
    assert not list((tmp_path / "cache").rglob("*.tmp"))  # no temp file left behind
    assert any("not writable" in r.message for r in caplog.records)


def test_a_cached_page_limit_skip_is_redone_under_a_higher_limit(tmp_path):
    path = _blank_pdf(tmp_path / "long.pdf", 40)
    cache = ParsedPdfCache(tmp_path / "cache")
    _, skipped = parse_library([path], cache, max_pages=30)
    assert skipped[0].reason == "too many pages"
    _, skipped = parse_library([path], cache, max_pages=50)
    assert skipped[0].reason == "scanned, no text"  # re-read: 40 pages fit now (and have no text)
    _, skipped = parse_library([path], cache, max_pages=30)
    assert skipped[0].reason == "too many pages"
