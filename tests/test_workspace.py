"""The workspace keys resources by content: in one process (a notebook, ``langgraph dev``), a corpus
file rewritten between two runs is what the second run reads, cites and records."""

from __future__ import annotations

import json

from conftest import COVERED_QUESTION, SMALL_CORPUS
from sovereign_kernel.domain.settings import Settings
from sovereign_kernel.sources.corpus import load_corpus


def records() -> list[dict]:
    return [json.loads(line) for line in SMALL_CORPUS.read_text().splitlines() if line.strip()]


def test_a_rewritten_corpus_is_seen_by_the_next_run_in_the_same_process(kernel, tmp_path):
    corpus = tmp_path / "papers.jsonl"
    corpus.write_text(SMALL_CORPUS.read_text())
    first = kernel.research(COVERED_QUESTION, corpus=str(corpus), home=str(tmp_path / "home"))
    first_ids = {r.id for r in first.report.references}
    assert first_ids and first.manifest["provenance"]["corpus"]["content_hash"] == load_corpus(corpus).content_hash

    # The same file, rewritten: every paper under a new id (and one abstract edited).
    renamed = [{**r, "id": f"9{i:03d}.{i:05d}"} for i, r in enumerate(records())]
    renamed[0]["abstract"] += " Rewritten."
    corpus.write_text("".join(json.dumps(r) + "\n" for r in renamed))
    second = kernel.research(COVERED_QUESTION, corpus=str(corpus), home=str(tmp_path / "home"))
    new_ids = {r["id"] for r in renamed}
    cited = {r.id for r in second.report.references} | {c.paper_id for c in second.report.claims}
    assert cited and cited <= new_ids and not cited & first_ids
    assert {s["id"] for s in second.manifest["provenance"]["sources"]} <= new_ids
    new_hash = load_corpus(corpus).content_hash
    assert second.manifest["provenance"]["corpus"]["content_hash"] == new_hash != \
        first.manifest["provenance"]["corpus"]["content_hash"]
    assert new_hash[:16] in second.report.methodology["corpus"]


def test_resources_follow_content_not_the_path(workspace, tmp_path):
    corpus = tmp_path / "papers.jsonl"
    corpus.write_text(SMALL_CORPUS.read_text())
    settings = Settings(corpus=str(corpus))
    first = workspace.resources(settings)
    assert workspace.resources(settings) is first  # nothing changed: nothing rebuilt
    corpus.write_text(SMALL_CORPUS.read_text() + "\n")  # a new mtime and size, the same papers
    again = workspace.resources(settings)
    assert again.corpus.content_hash == first.corpus.content_hash and again.bm25 is first.bm25
    kept = [line for line in SMALL_CORPUS.read_text().splitlines() if line.strip()][:-5]
    corpus.write_text("\n".join(kept) + "\n")  # fewer papers: new content, new index
    smaller = workspace.resources(settings)
    assert len(smaller.corpus) == len(first.corpus) - 5 and smaller.bm25 is not first.bm25
