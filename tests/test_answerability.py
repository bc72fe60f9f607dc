"""Answerability (issue 12): a question that joins topics no paper in the corpus joins ends Watchlist
with an Answer that names the facets no paper joins; one the corpus answers is published, and the
manifest states the joint coverage and the sufficiency score with its rule. Bundled demo corpus."""

from __future__ import annotations

import re

import pytest

from conftest import COVERED_QUESTION
from sovereign_kernel.domain.settings import Settings
from sovereign_kernel.retrieval.facets import outcomes_apart, question_facets
from sovereign_kernel.tribunal.sufficiency import FEATURES, SufficiencyModel, load_sufficiency_model

# Each joins two topics the bundled corpus holds apart (issue 12's examples; counted in the corpus:
# 7 papers on sign language, none on adversarial inputs; 10 on music, none on typographic attacks).
JOINS_NOTHING = {
    "How robust are sign language recognition models to adversarial examples?":
        ("sign language recognition models", "adversarial examples"),
    "Are music generation models vulnerable to typographic attacks?": ("music generation models", "typographic attacks"),
}


@pytest.mark.parametrize("question", sorted(JOINS_NOTHING))
def test_a_question_joining_what_no_paper_joins_ends_watchlist_and_says_so(question, run_research):
    result = run_research(question, corpus=None)  # the bundled demo corpus
    report, manifest = result.report, result.manifest
    first, second = JOINS_NOTHING[question]
    assert report.quality_tier == "Watchlist" and report.results.policy == "ESCALATE_TO_OWNER"
    coverage = manifest["joint_coverage"]
    assert coverage["complete"] is False and coverage["share"] == 0.0
    missing = [p for p in coverage["pairs"] if not p["papers"]]
    assert [p["facets"] for p in missing] == [[first, second]] and missing[0]["in_corpus"] == 0
    answer = report.answer
    assert answer.status == "unanswerable"
    text = " ".join(s.text for s in answer.sentences)
    assert f"no paper in the corpus studies {first} together with {second}" in text
    assert "Closest partial evidence" in text and re.search(r"arXiv:\d{4}\.\d{4,5}", text)
    sufficiency = manifest["evidence_sufficiency"]
    assert sufficiency["features"]["joint"] == 0.0 and sufficiency["score"] < Settings().tribunal.sufficiency_threshold
    checks = {c["check"]: c["passed"] for c in manifest["quality_tier_basis"]["checks"]}
    assert checks["the question's joined facets addressed together by a kept paper"] is False
    skeptic = next(r for r in report.tribunal.reviews if r.role == "SKEPTIC")
    assert any(i.startswith("facets of the question joined by one paper: 0/1 pairs -> 0/4") for i in skeptic.issues)


def test_a_question_the_corpus_answers_is_published_with_its_joint_coverage(run_research):
    result = run_research(COVERED_QUESTION)
    manifest = result.manifest
    coverage = manifest["joint_coverage"]
    assert coverage["complete"] is True and coverage["pairs"] and all(p["papers"] for p in coverage["pairs"])
    sufficiency = manifest["evidence_sufficiency"]
    assert sufficiency["score"] >= Settings().tribunal.sufficiency_threshold
    assert set(sufficiency["features"]) == set(FEATURES) and "sigmoid(" in sufficiency["model"]
    assert result.report.quality_tier == "DOI grade"
    assert all(c["passed"] for c in manifest["quality_tier_basis"]["checks"])
    # what no corroborated claim addresses is reported beside the tier (the Answer marks single-source findings)
    measured = manifest["quality_tier_basis"]["measured"]
    assert measured["answer_facets_without_corroboration"] == result.report.answer.gaps


def test_outcome_words_at_the_end_of_a_run_are_a_facet_of_their_own():
    assert outcomes_apart(["music", "generation", "models", "vulnerable"]) == [["music", "generation", "models"],
                                                                             ["vulnerable"]]
    assert outcomes_apart(["robust", "models"]) == [["robust"], ["models"]]
    assert outcomes_apart(["vulnerable"]) == [["vulnerable"]]  # a run of one outcome word stays (a generic facet)


def test_facets_split_where_the_corpus_never_joins_two_words(workspace):
    terms = workspace.resources(Settings()).terms
    facets = {f.phrase: f for f in question_facets("How robust are sign language recognition models to adversarial "
                                                   "examples?", terms, Settings().retriever.facet_generic_share)}
    assert "sign language recognition models" in facets and "adversarial examples" in facets
    assert facets["robust"].generic and not facets["adversarial examples"].generic


def test_contradictions_lower_sufficiency_and_the_hand_set_weight_is_stated():
    shipped = load_sufficiency_model()
    assert "contradicted" in shipped.fixed and "hand-set, not fit: contradicted" in shipped.describe()
    answered = {"joint": 1.0, "facets": 1.0, "best_paper": 1.0, "relevance": 0.8, "corroboration": 0.3, "absent": 0.0}
    assert shipped.score({**answered, "contradicted": 0.5}) < shipped.score({**answered, "contradicted": 0.0})
    assert shipped.score({**answered, "joint": 0.0, "best_paper": 0.5}) < shipped.score(answered)
    toy = SufficiencyModel({"joint": 2.0}, -1.0, "toy")
    assert toy.score({"joint": 1.0}) == pytest.approx(1 / (1 + 2.718281828459045 ** -1.0))


def test_a_word_papers_rarely_name_in_titles_is_not_a_facet_to_join(workspace):
    terms = workspace.resources(Settings()).terms
    # "typographic" names its papers (a third of those using it have it in the title); "recently" names none
    assert terms.topicality("typographic") > 0.3 > 0.1 > terms.topicality("recently")
    facets = {f.phrase: f for f in question_facets("Recently, have typographic attacks fooled CLIP?", terms,
                                                   Settings().retriever.facet_generic_share)}
    assert facets["recently"].generic and not facets["typographic attacks"].generic
    assert facets["recently"].corpus_share < 0.2  # not common: rarely a topic


def test_a_british_spelling_finds_the_papers_that_spell_it_otherwise(workspace):
    from sovereign_kernel.retrieval.facets import spellings

    assert spellings("behaviours") == ["behaviours", "behaviors"] and spellings("neutralised")[-1] == "neutralized"
    assert spellings("four") == ["four"] and spellings("noise") == ["noise"] and spellings("colour")[-1] == "color"
    terms = workspace.resources(Settings()).terms
    assert terms.docs("characterised") == terms.docs("characterized") != frozenset()  # no paper here writes -ised
    assert terms.docs("colour") != terms.docs("color")  # the other spelling is tried only when no paper uses this one
