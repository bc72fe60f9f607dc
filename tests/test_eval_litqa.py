"""``sovereign-kernel eval litqa``: the key-passage measure (word 8-grams, lower-cased, punctuation
stripped, >= 50 %), one question's row and the summary on hand-made reports, the questions file's
checks, and one end-to-end evaluation through the CLI over the two fixture PDFs (tests/fixtures/pdf,
see PROVENANCE.md) with a questions file written here — never the shared data set outside the repo."""

from __future__ import annotations

import json
from types import SimpleNamespace

import pytest
from conftest import FIXTURES

from sovereign_kernel.app.eval_litqa import (
    FOUND_SHARE,
    key_passage_share,
    load_questions,
    ngrams,
    report_evidence,
    score_question,
    summarise,
    words,
)
from sovereign_kernel.domain.errors import EvalError

LIBRARY = FIXTURES / "pdf"
DOI = "10.1038/s41467-024-44806-1"
# page 3 of the Nature fixture, as printed (the extracted text breaks lines and hyphenates)
KEY_PASSAGE = ("Given the strong correlation between the temperature optimum for GDP binding and OGT, these results "
               "suggest that the Asgard ancestor of eukaryotes was a moderate thermophile, with OGT around 53 °C.")
IN_LIBRARY = {
    "id": "fixture-asgard", "in_library": True, "sources": [f"https://doi.org/{DOI}"], "key_passage": KEY_PASSAGE,
    "question": "Based on the temperature optimum of GDP binding by reconstructed EF-1A, what was the approximate "
                "optimal growth temperature of the Asgard archaea ancestor of eukaryotes?",
    "ideal": "about 53 °C", "distractors": ["about 30 °C", "about 75 °C", "about 90 °C"]}
NOT_IN_LIBRARY = {
    "id": "fixture-mandarin", "in_library": False, "sources": ["https://doi.org/10.1000/absent.mandarin.genome"],
    "key_passage": "The mandarin genome assembly spans 344 Mb and contains 29,000 protein-coding genes.",
    "question": "How many protein-coding genes were annotated in the chromosome-level genome assembly of the "
                "citrus mandarin Citrus reticulata?",
    "ideal": "about 29,000", "distractors": ["about 12,000", "about 45,000"]}

TEN = "one two three four five six seven eight nine ten"  # 10 words: three 8-grams


# --- n-grams and the key-passage share ---------------------------------------------------------

def test_words_are_lower_cased_without_punctuation():
    assert words("Asgard's OGT: ~53 °C (90% CI), EF-1A!") == ["asgard", "s", "ogt", "53", "c", "90", "ci", "ef", "1a"]
    assert words("  ") == []


def test_ngrams():
    assert len(ngrams(TEN)) == 3 and ("one", "two", "three", "four", "five", "six", "seven", "eight") in ngrams(TEN)
    assert ngrams(TEN, 10) == {tuple(TEN.split())}
    assert ngrams("Short, passage.") == {("short", "passage")}  # shorter than 8 words: one n-gram of its length
    assert ngrams("") == set() and ngrams("!!! ...") == set()
    assert ngrams("a b a b a b a b a b") == {("a", "b", "a", "b", "a", "b", "a", "b"),
                                             ("b", "a", "b", "a", "b", "a", "b", "a")}  # a set: repeats once


def test_share_ignores_case_and_punctuation():
    piece = "ONE, two; three (four) five-six SEVEN eight: nine ten!"
    assert key_passage_share(TEN, [piece]) == 1.0
    assert key_passage_share(TEN.upper(), ["one two three four five six seven eight nine ten"]) == 1.0


def test_share_is_the_fraction_of_8_grams_found_and_found_means_half():
    nine = "one two three four five six seven eight nine"  # 2 of the 3 8-grams
    eight = "one two three four five six seven eight"  # 1 of 3
    assert key_passage_share(TEN, [nine]) == pytest.approx(2 / 3)
    assert key_passage_share(TEN, [eight]) == pytest.approx(1 / 3)
    assert key_passage_share(TEN, [f"unrelated words then {nine} and more"]) == pytest.approx(2 / 3)
    assert FOUND_SHARE == 0.5
    assert key_passage_share(TEN, [nine]) >= FOUND_SHARE > key_passage_share(TEN, [eight])


def test_share_never_stitches_two_pieces():
    halves = ["one two three four five", "six seven eight nine ten"]
    assert key_passage_share(TEN, halves) == 0.0
    assert key_passage_share(TEN, [" ".join(halves)]) == 1.0
    # n-grams found in different pieces add up (each found whole in one of them)
    pieces = ["one two three four five six seven eight", "three four five six seven eight nine ten"]
    assert key_passage_share(TEN, pieces) == pytest.approx(2 / 3)


def test_share_of_a_short_or_empty_key_passage():
    assert key_passage_share("Moderate thermophile!", ["the ancestor was a moderate thermophile at 53 C"]) == 1.0
    assert key_passage_share("Moderate thermophile", ["a thermophile, moderate"]) == 0.0  # order matters
    assert key_passage_share("", ["anything"]) == 0.0
    assert key_passage_share("...", ["anything"]) == 0.0
    assert key_passage_share(TEN, []) == 0.0


# --- one question's row, and the summary, on hand-made reports -------------------------------------

def fake_report(*, refs=(), claims=(), passages=(), tier="Watchlist", policy="ESCALATE_TO_OWNER"):
    return SimpleNamespace(references=[SimpleNamespace(id=r) for r in refs], claims=list(claims),
                           passages_read=[SimpleNamespace(text=t) for t in passages], quality_tier=tier,
                           results=SimpleNamespace(policy=policy))


def fake_claim(span: str, evidence=(), inside: str | None = None):
    return SimpleNamespace(source_span=SimpleNamespace(text=span), evidence=[SimpleNamespace(span=e) for e in evidence],
                           corroborated_in_paper=SimpleNamespace(span=inside) if inside is not None else None)


def test_report_evidence_lists_every_source_text_the_report_shows():
    report = fake_report(claims=[fake_claim("span A", ["ev 1", "ev 2"], inside="inside A"), fake_claim("span B")],
                         passages=["passage 1"])
    assert report_evidence(report) == ["span A", "ev 1", "ev 2", "inside A", "span B", "passage 1"]
    assert report_evidence(report, passages=False) == ["span A", "ev 1", "ev 2", "inside A", "span B"]


def test_score_question_in_library_found_in_a_passage_read_only():
    report = fake_report(refs=["10.1/other", DOI.upper(), "2501.10120"], claims=[fake_claim("unrelated claim text")],
                         passages=["some text before. " + KEY_PASSAGE.replace("°", "degrees ") + " and after"],
                         tier="DOI grade", policy="PUBLISH")
    q = dict(IN_LIBRARY, sources=[f"https://doi.org/{DOI.upper()}"])
    row = score_question(q, report)
    assert row["source_rank"] == 2  # DOIs compared lower-cased, rank 1-based among the kept papers
    assert row["evidence_found"] is True and row["evidence_share"] >= 0.9
    assert row["in_claims"] is False  # it is in a passage read, not in a claim or its evidence
    assert (row["id"], row["in_library"], row["tier"], row["policy"], row["kept"], row["claims"]) == (
        "fixture-asgard", True, "DOI grade", "PUBLISH", 3, 1)


def test_score_question_in_library_found_in_corroborating_evidence():
    report = fake_report(refs=[DOI], claims=[fake_claim("a claim", inside=KEY_PASSAGE)])
    row = score_question(IN_LIBRARY, report)
    assert row["evidence_share"] == 1.0 and row["evidence_found"] and row["in_claims"]
    missing = score_question(IN_LIBRARY, fake_report(refs=["10.1/other"], claims=[fake_claim("a claim")]))
    assert missing["evidence_share"] == 0.0 and missing["evidence_found"] is False and missing["source_rank"] is None


def test_score_question_not_in_library_has_no_evidence_measure():
    row = score_question(NOT_IN_LIBRARY, fake_report(refs=[DOI], passages=[NOT_IN_LIBRARY["key_passage"]]))
    assert row["in_library"] is False
    assert row["evidence_share"] is None and row["evidence_found"] is None and row["in_claims"] is None
    assert row["source_rank"] is None and row["tier"] == "Watchlist"


def row(in_library, tier, found=None, in_claims=None, rank=None):
    return {"in_library": in_library, "tier": tier, "evidence_found": found, "in_claims": in_claims,
            "source_rank": rank}


def test_summarise():
    rows = [row(True, "DOI grade", True, True, 1), row(True, "Watchlist", True, False, 3),
            row(True, "Watchlist", False, False, None), row(True, "DOI grade", False, False, 2),
            row(False, "Watchlist"), row(False, "DOI grade"), row(False, "Watchlist")]
    s = summarise(rows)
    assert (s["questions"], s["in_library"], s["not_in_library"]) == (7, 4, 3)
    assert s["evidence_recall"] == 0.5 and s["evidence_recall_claims_only"] == 0.25
    assert s["in_library_doi_grade"] == 0.5
    assert s["not_in_library_watchlist"] == 0.667
    assert s["source_kept"] == 0.75 and s["source_rank_mean"] == 2.0


def test_summarise_without_one_kind_of_question():
    s = summarise([row(False, "Watchlist")])
    assert s["evidence_recall"] is None and s["in_library_doi_grade"] is None and s["source_rank_mean"] is None
    assert s["not_in_library_watchlist"] == 1.0
    assert summarise([])["questions"] == 0


# --- the questions file ------------------------------------------------------------------------

def test_load_questions_skips_blank_lines_and_limits(tmp_path):
    path = tmp_path / "q.jsonl"
    path.write_text(json.dumps(IN_LIBRARY) + "\n\n" + json.dumps(NOT_IN_LIBRARY) + "\n   \n", encoding="utf-8")
    assert [q["id"] for q in load_questions(path)] == ["fixture-asgard", "fixture-mandarin"]
    assert [q["id"] for q in load_questions(path, limit=1)] == ["fixture-asgard"]


@pytest.mark.parametrize("text, message", [
    (json.dumps(IN_LIBRARY) + "\n{not json\n", "line 2 is not JSON"),
    (json.dumps({"id": "x"}) + "\n", "line 1 has no 'id' and 'question'"),
    (json.dumps({"question": "What?"}) + "\n", "line 1 has no 'id' and 'question'"),
    ("[1, 2]\n", "line 1 has no 'id' and 'question'"),
])
def test_load_questions_rejects_a_bad_file(tmp_path, text, message):
    path = tmp_path / "q.jsonl"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(EvalError, match=message):
        load_questions(path)


def test_cli_bad_questions_file_is_exit_2_with_one_error_line(tmp_path, capsys):
    from sovereign_kernel.app.cli import main

    path = tmp_path / "q.jsonl"
    path.write_text("this is not JSON\n", encoding="utf-8")
    assert main(["eval", "litqa", "--questions", str(path), "--library", str(LIBRARY), "--json"]) == 2
    out = capsys.readouterr()
    assert out.out == ""
    assert out.err.strip() == f"error: {path}: line 1 is not JSON"


def test_cli_missing_questions_or_library_is_exit_2(tmp_path, capsys):
    from sovereign_kernel.app.cli import main

    questions = tmp_path / "q.jsonl"
    questions.write_text(json.dumps(IN_LIBRARY) + "\n", encoding="utf-8")
    assert main(["eval", "litqa", "--questions", str(tmp_path / "none.jsonl"), "--library", str(LIBRARY)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: cannot read questions") and "\n" not in err
    assert main(["eval", "litqa", "--questions", str(questions), "--library", str(tmp_path / "nowhere")]) == 2
    err = capsys.readouterr().err.strip()
    assert err == f"error: library folder not found: {tmp_path / 'nowhere'}"


# --- end to end --------------------------------------------------------------------------------

def test_cli_eval_over_the_fixture_library(tmp_path, capsys, monkeypatch):
    from sovereign_kernel.app.cli import main

    # fewer passages embedded per paper than the default 12 (settings from the environment, as a user's)
    monkeypatch.setenv("SOVEREIGN_PASSAGES_PER_PAPER", "6")
    questions = tmp_path / "questions.jsonl"
    third = dict(NOT_IN_LIBRARY, id="beyond-the-limit")
    questions.write_text("\n".join(json.dumps(q) for q in (IN_LIBRARY, NOT_IN_LIBRARY, third)) + "\n",
                         encoding="utf-8")
    code = main(["eval", "litqa", "--questions", str(questions), "--library", str(LIBRARY), "--json", "--limit", "2",
                 "--no-baseline"])
    out = capsys.readouterr()
    assert code == 0, out.err
    result = json.loads(out.out)
    assert "abstract_only" not in result  # --no-baseline
    assert result["library"] == str(LIBRARY) and result["questions_file"] == str(questions)
    summary, rows = result["full_text"]["summary"], result["full_text"]["rows"]
    assert (summary["questions"], summary["in_library"], summary["not_in_library"]) == (2, 1, 1)  # --limit 2
    assert [r["id"] for r in rows] == ["fixture-asgard", "fixture-mandarin"]
    inside, outside = rows
    assert isinstance(inside["evidence_share"], float) and 0.0 <= inside["evidence_share"] <= 1.0
    assert inside["evidence_found"] == (inside["evidence_share"] >= 0.5)
    # the key passage is on page 3 and the question asks for it: the full-text run reads it
    assert inside["evidence_found"] is True, inside
    assert inside["source_rank"] == 1 and inside["kept"] >= 1 and inside["claims"] >= 1
    assert summary["evidence_recall"] == 1.0 and summary["source_kept"] == 1.0
    assert outside["tier"] == "Watchlist" and outside["evidence_share"] is None and outside["source_rank"] is None
    assert summary["not_in_library_watchlist"] == 1.0
    assert summary["seconds"] >= 0
    assert "eval litqa full_text: 2/2" in out.err
