"""Passages of full texts: page anchors, overlap, which passages a question reads, the units a run reads."""

from __future__ import annotations

import pytest

from sovereign_kernel.domain.errors import CorpusError
from sovereign_kernel.domain.fulltext import FullText, Section
from sovereign_kernel.domain.ids import source_label, source_url
from sovereign_kernel.domain.schemas import Paper, SourceSpan
from sovereign_kernel.domain.units import paper_units, text_at
from sovereign_kernel.retrieval.passages import PassageIndex, split_passages
from sovereign_kernel.sources.corpus import corpus_folder, load_corpus

PAGES = [
    "Results\nWe measured the growth of strain A at 30 degrees. Strain A grew twice as fast as strain B. "
    "The difference held in three replicates.",
    "Deletion of katE made cells sensitive to desiccation. Survival fell from 80 percent to 8 percent after "
    "two days. Catalase activity was absent in the mutant.",
    "Discussion\nOur results show that catalase protects against drying. Future work will test other stresses. "
    "We thank the facility for sequencing.",
]


def full_text(paper_id: str = "10.1/x") -> FullText:
    body, starts = "", []
    for page in PAGES:
        starts.append(len(body))
        body += page + "\n"
    sections = [Section(start=0, title="Results"), Section(start=body.index("Discussion"), title="Discussion")]
    return FullText(paper_id=paper_id, file="x.pdf", sha256="0" * 64, n_pages=3, body=body, page_starts=starts,
                    sections=sections)


def test_passages_are_exact_slices_of_the_body_with_their_pages_and_overlap():
    ft = full_text()
    passages = split_passages(ft, size=160, overlap=60)
    assert len(passages) >= 4
    for p in passages:
        assert p.text == ft.body[p.start:p.end]
        assert p.page == ft.page_at(p.start) and p.end_page == ft.page_at(p.end - 1)
        for b in p.page_breaks:  # a sentence after a page break is on the next page
            assert p.page_at(b) == ft.page_at(b)
    # windows overlap (the next starts before this one ends) and together cover every sentence
    assert all(b.start < a.end for a, b in zip(passages, passages[1:]))
    covered = "".join(ft.body[p.start:p.end] for p in passages)
    for sentence in ("Survival fell from 80 percent to 8 percent after two days.", "We thank the facility"):
        assert sentence in covered
    assert passages[-1].section == "Discussion"


def test_a_question_reads_the_passages_that_answer_it_in_body_order():
    ft = full_text()
    index = PassageIndex.build([ft], size=160, overlap=60)
    paper = Paper(id=ft.paper_id, title="Catalase and desiccation", abstract="We study catalase.", full_text=True)
    other = Paper(id="2401.00001", title="Unrelated", abstract="Nothing here.")
    read = index.read([paper, other], "How sensitive to desiccation is a katE mutant?", max_papers=5, keep=1)
    assert set(read) == {ft.paper_id}  # a paper without full text is not read
    (passage,) = read[ft.paper_id].passages
    assert "katE" in passage.text and passage.page_at(passage.start + passage.text.index("Deletion")) == 2
    assert index.search_papers("katE desiccation", 3)[0][0] == ft.paper_id


def test_units_skip_the_abstract_printed_again_and_the_title_block_and_spans_check_against_passages():
    ft = full_text()
    abstract = "Deletion of katE made cells sensitive to desiccation."
    title = "Catalase protects bacteria against drying"
    body_paper = Paper(id=ft.paper_id, title=title, abstract=abstract, full_text=True,
                       passages=split_passages(ft.model_copy(update={
                           "body": ft.body.replace("Results\n", f"{title} A. Author\n")}), size=400, overlap=0))
    units = paper_units(body_paper)
    body = [u for u in units if u.location == "body"]
    assert sum(u.text == abstract for u in units) == 1  # the body's copy of the abstract sentence is not read again
    assert not any(title in u.text for u in body)  # nor the title block
    survival = next(u for u in body if u.text.startswith("Survival fell"))
    assert survival.page == 2
    span = SourceSpan(start=survival.start, end=survival.end, text=survival.text, location="body", page=2)
    assert text_at(body_paper, span) == survival.text
    assert text_at(body_paper.model_copy(update={"passages": []}), span) is None  # the body was not read


@pytest.mark.parametrize("pid, label, url", [
    ("2402.19150", "arXiv:2402.19150", "https://arxiv.org/abs/2402.19150"),
    ("astro-ph/0601001", "arXiv:astro-ph/0601001", "https://arxiv.org/abs/astro-ph/0601001"),
    ("10.1128/msphere.00109-24", "doi:10.1128/msphere.00109-24", "https://doi.org/10.1128/msphere.00109-24"),
    ("pdf-3f2a9c0d1e2b4a5c", "pdf-3f2a9c0d1e2b4a5c", ""),
    ("p1", "p1", ""),  # a record of the user's own: no link to nowhere
])
def test_sources_are_labelled_and_linked_by_what_their_id_is(pid, label, url):
    assert source_label(pid) == label and source_url(pid) == url


def test_a_corpus_list_of_records_papers_and_files_is_one_content_named_folder(tmp_path):
    jsonl = tmp_path / "mine.jsonl"
    jsonl.write_text('{"id": "2401.00002", "title": "From a file", "abstract": "A file abstract."}\n')
    items = [Paper(id="p1", title="Own paper", abstract="An abstract of my own.", doi="10.5/abc"),
             {"id": "p2", "title": "A dict", "abstract": "Another abstract.", "url": "https://example.org/p2"},
             str(jsonl)]
    folder = corpus_folder(items, tmp_path / "corpora")
    assert corpus_folder(items, tmp_path / "corpora") == folder  # same list, same folder
    corpus = load_corpus(folder)
    assert {p.id for p in corpus} == {"p1", "p2", "2401.00002"}
    assert corpus.get("p1").url == "https://doi.org/10.5/abc" and corpus.get("p1").doi == "10.5/abc"
    assert corpus.get("p2").url == "https://example.org/p2"
    with pytest.raises(CorpusError, match="not found"):
        corpus_folder([str(tmp_path / "missing.pdf")], tmp_path / "corpora")


def test_ranking_embeds_the_window_of_the_passages_read_that_holds_most_question_words():
    from sovereign_kernel.domain.text import content_tokens
    from sovereign_kernel.retrieval.ranking import closest_window

    ft = full_text()
    passages = split_passages(ft, size=160, overlap=60)
    paper = Paper(id="10.1/x", title="Catalase", abstract="An abstract.", passages=passages)
    asked = set(content_tokens("Does deletion of katE change survival after desiccation?"))
    window = closest_window(paper, asked, width=2)
    assert "Deletion of katE made cells sensitive to desiccation." in window
    assert "Survival fell" in window
    assert "Strain A" not in window and len(window) < len(max((p.text for p in passages), key=len)) + 1
