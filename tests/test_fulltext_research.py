"""Research over a PDF library, offline, through the Python API: the two CC-BY fixture papers of
``tests/fixtures/pdf`` (see PROVENANCE.md) plus bad files generated here (not a PDF, truncated,
encrypted, no text layer). One run is shared by most tests (module scope); its caches are private
to this module, so what the parse cache holds is this module's doing alone.

Also: a library of bad files only (a one-line CorpusError), the abstract-only baseline, and the
in-paper corroboration check of ``sentence_verify`` on hand-made papers with the real MiniLM
vectors and calibration.
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pypdf
import pytest
from pdf_pages import pages_holding
from conftest import FIXTURES

PDF_DIR = FIXTURES / "pdf"
NATURE = PDF_DIR / "10.1038_s41467-024-44806-1.pdf"
BIORXIV = PDF_DIR / "10.1101_2024.02.13.580051.pdf"
DOI = "10.1038/s41467-024-44806-1"
QUESTION = ("What optimal growth temperature is inferred for the Asgard archaea ancestor of eukaryotes from the "
            "GDP-binding temperature of EF-1A?")
# Full-text settings of every run here: fewer passages embedded per paper than the default 12 (MiniLM
# over 1,200-character passages is what a cold run spends its time on)
FAST = {"passages_per_paper": 6}
BAD = {"notes.pdf": "not a PDF", "truncated.pdf": "truncated or corrupt", "locked.pdf": "encrypted",
       "scan.pdf": "scanned, no text"}


# --- helpers -----------------------------------------------------------------------------------

def write_bad_files(directory: Path) -> None:
    """The four kinds of unusable file, generated from the Nature fixture (nothing outside the repo is read)."""
    (directory / "notes.pdf").write_text("These are my reading notes, not a PDF at all.\n" * 40)
    data = NATURE.read_bytes()
    (directory / "truncated.pdf").write_bytes(data[: int(len(data) * 0.3)])
    locked = pypdf.PdfWriter(clone_from=NATURE)
    locked.encrypt(user_password="secret", owner_password="owner", algorithm="AES-256")
    with open(directory / "locked.pdf", "wb") as fh:
        locked.write(fh)
    blank = pypdf.PdfWriter()
    for _ in range(2):
        blank.add_blank_page(width=612, height=792)
    with open(directory / "scan.pdf", "wb") as fh:
        blank.write(fh)


def body_claims(report):
    return [c for c in report.claims if c.source_span.location == "body"]


# --- the shared run ----------------------------------------------------------------------------

@pytest.fixture(scope="module")
def library(tmp_path_factory) -> Path:
    lib = tmp_path_factory.mktemp("pdf-library")
    for f in (NATURE, BIORXIV):
        shutil.copy(f, lib / f.name)
    write_bad_files(lib)
    return lib


@pytest.fixture(scope="module")
def caches(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("fulltext-caches")


@pytest.fixture(scope="module")
def run(kernel, library, caches):
    return kernel.research(QUESTION, corpus=str(library), cache_dir=str(caches), **FAST)


def test_the_doi_paper_is_kept_with_its_doi_and_a_doi_link(run):
    refs = {r.id: r for r in run.report.references}
    assert DOI in refs, list(refs)
    ref = refs[DOI]
    assert ref.doi == DOI
    assert ref.url == f"https://doi.org/{DOI}"
    assert ref.title.startswith("Evolution of optimal growth temperature in Asgard archaea")
    # no arXiv link or label is made up for a paper that is not on arXiv
    everything = run.markdown + json.dumps(run.manifest) + run.report.model_dump_json()
    assert "arxiv.org/abs/10." not in everything
    assert f"arXiv:{DOI}" not in everything
    assert f"[doi:{DOI}](https://doi.org/{DOI})" in run.markdown


def test_body_claims_are_page_anchored_and_on_that_page_of_the_pdf(run):
    claims = body_claims(run.report)
    assert claims, [c.id for c in run.report.claims]
    assert any(c.source_span.page >= 2 for c in claims if c.paper_id == DOI), [(c.id, c.source_span.page)
                                                                               for c in claims]
    from sovereign_kernel.sources.pdf import parse_pdf

    full = parse_pdf(NATURE).full_text
    assert full.paper_id == DOI
    for c in claims:
        span = c.source_span
        assert c.paper_id == DOI  # the bioRxiv paper is off the question
        assert c.id == f"{DOI}#b{span.start}"
        assert span.page is not None and 1 <= span.page <= 7
        assert full.body[span.start:span.end] == span.text  # the offsets are into the parsed body
        assert full.page_at(span.start) == span.page
        assert span.page in pages_holding(NATURE, span.text), (span.page, span.text)


def test_body_spans_are_what_the_passages_read_hold_at_those_offsets(run):
    report = run.report
    assert report.passages_read
    assert all(p.page >= 1 and p.end_page >= p.page and p.end - p.start == len(p.text) for p in report.passages_read)
    assert {p.paper_id for p in report.passages_read} <= {r.id for r in report.references}
    for c in body_claims(report):
        span = c.source_span
        holding = [p for p in report.passages_read
                   if p.paper_id == c.paper_id and p.start <= span.start and span.end <= p.end]
        assert holding, c.id
        for p in holding:
            assert p.text[span.start - p.start:span.end - p.start] == span.text
            assert p.page_at(span.start) == span.page


def test_report_cites_the_doi_with_a_page(run):
    assert re.search(rf"\[C\d+, doi:{re.escape(DOI)}, p\. \d+\]", run.markdown.replace("\\", "")), run.markdown


def test_each_skipped_file_is_named_with_its_reason(run):
    notes = [u for u in run.report.uncertainties if u.startswith("Library files skipped:")]
    assert len(notes) == 1, run.report.uncertainties
    note = notes[0]
    assert "4 PDF file(s)" in note
    for name, reason in BAD.items():
        assert f"{name} ({reason}" in note, (name, note)
    assert "\n" not in note
    for name in (NATURE.name, BIORXIV.name):  # the good files are not in it
        assert name not in note
    assert note in run.markdown.replace("\\", "")


def test_manifest_provenance_carries_the_pdf_paper(run):
    sources = {s["id"]: s for s in run.manifest["provenance"]["sources"]}
    assert DOI in sources
    assert sources[DOI]["url"] == f"https://doi.org/{DOI}"
    assert sources[DOI]["source"] == f"pdf:{NATURE.name}"
    assert sources[DOI]["content_hash"]
    assert run.manifest["provenance"]["corpus"]["papers"] == 2  # the two readable PDFs, the bad files left out


def place(location: str, section: str | None) -> str:
    """A span's section as 'another section corroborates' reads it: the abstract, or a body section."""
    return "Abstract" if location == "abstract" else (section or "body")


def test_corroboration_in_the_paper_is_another_section_never_the_claims_own_sentence(run):
    inside = [c for c in run.report.claims if c.corroborated_in_paper is not None]
    assert inside, "the fixture run gave no claim corroborated in its own paper"
    for c in inside:
        ev, span = c.corroborated_in_paper, c.source_span
        assert ev.paper_id == c.paper_id and ev.score >= 0.5 and c.is_corroborated
        assert " ".join(ev.span.split()) != " ".join(span.text.split())  # not its own sentence
        assert place(ev.location, ev.section) != place(span.location, span.section)  # another section
        if ev.location == span.location:
            assert ev.end <= span.start or span.end <= ev.start  # not overlapping its own span
        if ev.location == "body":  # the evidence is what the run read at those offsets, on that page
            held = [p for p in run.report.passages_read
                    if p.paper_id == c.paper_id and p.start <= ev.start and ev.end <= p.end]
            assert held, ev
            assert held[0].text[ev.start - held[0].start:ev.end - held[0].start] == ev.span
            assert held[0].page_at(ev.start) == ev.page


def test_parse_cache_is_reused_by_a_second_load(run, library, caches, monkeypatch):
    """A second workspace (a new process, in effect) reads the library from the parse cache: no file
    is parsed again, no cache entry is rewritten, and the papers and skips are the same."""
    from sovereign_kernel.domain.settings import Settings
    from sovereign_kernel.runtime.workspace import Workspace
    from sovereign_kernel.sources import pdf as pdf_module

    cache = pdf_module.ParsedPdfCache(caches / "pdf")
    entries = [cache.path_for(pdf_module.file_sha256(f)) for f in sorted(library.iterdir())]
    assert len(set(entries)) == 6 and all(p.is_file() for p in entries)  # 2 parses, 4 skips: each file's bytes
    before = {p: (p.stat().st_mtime_ns, p.stat().st_size) for p in entries}
    parsed_again: list[dict] = []
    real = pdf_module._parse_misses
    monkeypatch.setattr(pdf_module, "_parse_misses",
                        lambda misses, *a, **k: (parsed_again.append(dict(misses)), real(misses, *a, **k))[1])
    workspace = Workspace()
    try:
        corpus = workspace.corpus(str(library), Settings(cache_dir=caches))
    finally:
        workspace.close()
    assert parsed_again == [{}]  # parse_library ran once and found nothing to parse
    assert {p: (p.stat().st_mtime_ns, p.stat().st_size) for p in entries} == before  # none rewritten
    assert corpus.content_hash == run.manifest["provenance"]["corpus"]["content_hash"]
    assert sorted(corpus.full_texts) == sorted([DOI, "10.1101/2024.02.13.580051"])
    assert {s.file: s.reason for s in corpus.skipped_files} == BAD


def test_uncertainties_do_not_say_only_abstracts_were_read_when_full_text_was(run):
    assert body_claims(run.report)
    assert not any("only abstracts (not full texts)" in u for u in run.report.uncertainties), \
        run.report.uncertainties


# --- abstract-only baseline, and a library of bad files only ----------------------------------

def test_abstract_only_baseline_reads_no_body(kernel, library, caches, run):
    base = kernel.research(QUESTION, corpus=str(library), cache_dir=str(caches), read_full_text=False, **FAST)
    assert DOI in {r.id for r in base.report.references}
    assert base.report.claims
    assert not body_claims(base.report)
    assert base.report.passages_read == []
    assert all(c.corroborated_in_paper is None for c in base.report.claims)
    assert ", p. " not in base.markdown
    # the skipped files are reported whether or not the bodies are read
    assert any(u.startswith("Library files skipped: 4 PDF file(s)") for u in base.report.uncertainties)


@pytest.fixture(scope="module")
def bad_library(tmp_path_factory) -> Path:
    lib = tmp_path_factory.mktemp("bad-library")
    write_bad_files(lib)
    return lib


def test_a_library_of_bad_files_only_is_a_one_line_corpus_error(kernel, bad_library, caches):
    from sovereign_kernel.domain.errors import CorpusError

    with pytest.raises(CorpusError) as err:
        kernel.research(QUESTION, corpus=str(bad_library), cache_dir=str(caches))
    message = str(err.value)
    assert "\n" not in message
    assert "4 PDF file(s) skipped" in message
    assert str(bad_library) in message
    named = [name for name in BAD if name in message]
    assert len(named) >= 3, message
    for name in named:
        assert f"{name}: {BAD[name]}" in message


def test_a_library_of_bad_files_only_fails_the_cli_with_one_error_line(bad_library, tmp_path, capsys):
    from sovereign_kernel.app.cli import main

    code = main(["research", QUESTION, "--corpus", str(bad_library), "--quiet", "--out", str(tmp_path / "out")])
    err = capsys.readouterr().err
    assert code == 2
    lines = [line for line in err.splitlines() if line.startswith("error:")]
    assert len(lines) == 1 and "4 PDF file(s) skipped" in lines[0]
    assert "Traceback" not in err


def test_the_corpus_error_names_every_skipped_file(kernel, bad_library, caches):
    from sovereign_kernel.domain.errors import CorpusError

    with pytest.raises(CorpusError) as err:
        kernel.research(QUESTION, corpus=str(bad_library), cache_dir=str(caches))
    assert all(name in str(err.value) for name in BAD), str(err.value)


# --- in-paper corroboration, unit level ---------------------------------------------------------

FINDING = "Flies lacking REV1 were hypersensitive to methyl methanesulfonate and died as larvae at low doses."
ABSTRACT = f"Alkylating agents damage DNA in dividing cells. {FINDING} We discuss implications for cancer therapy."
FILLER = ["Sequencing libraries were prepared with a commercial kit.", "Wing discs were dissected in PBS.",
          "The stocks were kept at 25 degrees on standard cornmeal food."]
RESTATED = "rev1 mutant larvae were hypersensitive to MMS and failed to survive to adulthood at low doses."
PAPER_ID = "10.5555/rev1.test"


@pytest.fixture(scope="module")
def verify(kernel, tmp_path_factory):
    """``verify(passages, claim=None, abstract=ABSTRACT)`` -> the claim (default: the abstract's REV1
    finding) as ``sentence_verify`` scores it against a paper with that abstract and these passages,
    each ``(start, page, section, sentences)``."""
    from sovereign_kernel.domain.fulltext import Passage
    from sovereign_kernel.domain.schemas import Claim, Paper, SourceSpan
    from sovereign_kernel.retrieval.vectors import VectorCache
    from sovereign_kernel.runtime.workspace import TOKEN_ENCODER_SHAPE
    from sovereign_kernel.verification.calibration import load_calibration
    from sovereign_kernel.verification.scoring import sentence_verify

    ws = kernel.workspace
    vectors = VectorCache(tmp_path_factory.mktemp("unit-vectors") / "vectors.sqlite",
                          ws.local_embedder(*TOKEN_ENCODER_SHAPE), "all-MiniLM-L6-v2-int8-onnx-t256")
    start = ABSTRACT.index(FINDING)
    abstract_claim = Claim(id=f"{PAPER_ID}#s1", text=FINDING, paper_id=PAPER_ID,
                           source_span=SourceSpan(start=start, end=start + len(FINDING), text=FINDING))

    def run_(passages, claim=None, abstract=ABSTRACT):
        read = [Passage(paper_id=PAPER_ID, index=i, start=at, end=at + len(" ".join(sents)), page=page, end_page=page,
                        section=section, text=" ".join(sents)) for i, (at, page, section, sents) in enumerate(passages)]
        paper = Paper(id=PAPER_ID, title="REV1 and alkylation damage tolerance in Drosophila", abstract=abstract,
                      full_text=True, passages=read, doi=PAPER_ID)
        [out] = sentence_verify([claim or abstract_claim], [paper], vectors=vectors, tokens=ws.token_encoder(),
                                calibration=load_calibration(), threshold=0.5, cross_encoder=ws.cross_encoder())
        return out

    yield run_
    vectors.close()


def body_claim(text: str, start: int, page: int, section: str):
    from sovereign_kernel.domain.schemas import Claim, SourceSpan

    return Claim(id=f"{PAPER_ID}#b{start}", text=text, paper_id=PAPER_ID, source_span=SourceSpan(
        start=start, end=start + len(text), text=text, location="body", page=page, section=section))


def test_a_restatement_in_the_results_corroborates_the_abstract_claim(verify):
    out = verify([(5000, 4, "Results", [RESTATED, *FILLER])])
    assert out.grounded and out.corroborated_by == []
    ev = out.corroborated_in_paper
    assert ev is not None
    assert (ev.location, ev.page, ev.section, ev.span) == ("body", 4, "Results", RESTATED)
    assert (ev.start, ev.end) == (5000, 5000 + len(RESTATED))
    assert ev.score >= 0.5
    assert out.is_corroborated


def test_a_body_without_the_finding_does_not_corroborate(verify):
    out = verify([(5000, 4, "Methods", FILLER)])
    assert out.grounded and out.corroborated_in_paper is None and not out.is_corroborated


def test_the_abstract_sentence_printed_again_in_the_body_does_not_corroborate(verify):
    """Page 1 of a PDF prints the abstract again: that copy (verbatim, or nearly) is not another
    section stating the finding, and no other sentence may borrow its words either."""
    for copy in (FINDING, FINDING.replace("at low doses.", "at low doses of it.")):
        out = verify([(300, 1, "Introduction", [copy, *FILLER])])
        assert out.grounded and out.corroborated_in_paper is None, (copy, out.corroborated_in_paper)


def test_a_body_finding_repeated_nearly_verbatim_in_the_discussion_does_not_corroborate_itself(verify):
    abstract_free = "Alkylating agents damage DNA in dividing cells. We discuss implications for cancer therapy."
    assert FINDING not in abstract_free
    claim = body_claim(FINDING, 5000, 3, "Results")
    copy = FINDING.replace("at low doses.", "at low doses of it.")
    out = verify([(5000, 3, "Results", [FINDING, FILLER[0]]), (9000, 6, "Discussion", [copy, *FILLER[1:]])], claim,
                 abstract=abstract_free)
    assert out.grounded
    assert out.corroborated_in_paper is None, out.corroborated_in_paper
