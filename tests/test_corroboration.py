"""Corroboration is independent and about the same thing: a paper's own work is corroborated only by a
paper that names it, and a paper sharing an author never corroborates.

The sentences are real arXiv abstract sentences from the corroboration audit
(``bench/data/corroboration_audit.jsonl``, each judged by a reader); the last test reads the bundled
demo corpus.
"""

from __future__ import annotations

import pytest

from sovereign_kernel.domain.schemas import Paper
from sovereign_kernel.verification.corroboration import (
    can_corroborate,
    corroborates,
    own_work,
    shared_authors,
    work_names,
)


@pytest.fixture(scope="module")
def demo_corpus():
    from sovereign_kernel.sources.corpus import load_corpus

    return load_corpus()  # the bundled demo corpus


def paper(pid: str, title: str, abstract: str = "", authors: tuple[str, ...] = ()) -> Paper:
    return Paper(id=pid, title=title, abstract=abstract, authors=list(authors), source="test")


@pytest.mark.parametrize("claim, sentence", [
    # arXiv "Adversarial Example Defense via Perturbation Grading Strategy" vs "Direction-Aggregated Attack ...":
    # two papers' own methods, judged "topic"
    ("Experimental results show that the proposed method effectively improves defense performance.",
     "The best averaged attack success rates of our proposed method reaches 94.6% against three adversarial "
     "trained models and 94.8% against five defense methods."),
    # the other paper announces its own defence; the claim is about the world: judged "topic"
    ("Recent research indicates that NR-IQA models are susceptible to adversarial attacks, which can significantly "
     "alter predicted scores with visually imperceptible perturbations.",
     "In this paper, we propose a defense method to improve the stability in predicted scores when attacked by "
     "small perturbations, thus enhancing the adversarial robustness of NR-IQA models."),
    # self-assessments of two different studies: judged "topic"
    ("Our study offers valuable insights into the adversarial robustness of NR-IQA models and provides a "
     "foundation for future research in this area.",
     "Our method provides a new perspective on the robustness of NR-IQA models."),
])
def test_a_paper_speaking_of_its_own_work_corroborates_no_other_papers_work(claim, sentence):
    assert not corroborates(claim, [], sentence, [])


def test_a_statement_about_the_world_is_corroborated_by_another_paper_stating_it():
    # arXiv AdaSteer vs Robust Prompt Optimization: judged "states"
    claim = "Despite extensive efforts in safety alignment, large language models (LLMs) remain vulnerable to jailbreak attacks."
    sentence = ("Despite advances in AI alignment, large language models (LLMs) remain vulnerable to adversarial attacks "
                "or jailbreaking, in which adversaries can modify prompts to induce unwanted behavior.")
    assert not own_work(claim) and not own_work(sentence)
    assert corroborates(claim, [], sentence, [])


def test_a_papers_own_work_is_corroborated_by_a_sentence_that_names_it():
    claim = ("We show that ours can render layouts resilient, with reasonable overheads, against Trojan insertion in "
             "general and also against second-order attacks.")
    sentence = "We show that TroLLoc successfully renders layouts resilient, with reasonable overheads, against Trojan insertion."
    assert own_work(claim)
    assert corroborates(claim, ["TroLLoc"], sentence, ["TroLLoc"])
    assert not corroborates(claim, [], sentence, ["TroLLoc"])  # a claim whose paper names no work: nothing can
    # names compare with case and hyphens folded: "MultiFaceted Attack" is "Multi-Faceted Attack"
    assert corroborates("MultiFaceted Attack achieves a 61.56% attack success rate.", ["MultiFaceted Attack"],
                        "We introduce Multi-Faceted Attack (MFA), a framework that exposes safety vulnerabilities.",
                        ["Multi-Faceted Attack"])
    assert not corroborates("PatchCensor is able to achieve high certified accuracy.", ["PatchCensor"],
                            "Remarkably, PatchCleanser achieves 83.9% top-1 clean accuracy.", ["PatchCleanser"])


def test_a_paper_sharing_an_author_never_corroborates():
    a = paper("2408.00001", "Adversarial Training of Self-supervised Monocular Depth Estimation",
              authors=("Zhiyuan Cheng", "Cheng Han", "James Liang"))
    b = paper("2408.00002", "Self-supervised Adversarial Training of Monocular Depth Estimation",
              authors=("Zhiyuan  Cheng", "Hongjun Choi"))
    c = paper("2408.00003", "Physical 3D Adversarial Attacks against Monocular Depth Estimation", authors=("Junhao Zheng",))
    claim = ("Traditional adversarial training method requires ground-truth labels hence cannot be directly applied to "
             "self-supervised MDE that does not have ground-truth depth.")
    sentence = ("Traditional adversarial training methods, which require ground-truth labels, are not directly "
                "applicable to MDE models that lack ground-truth depth.")
    assert shared_authors(a, b) == {"zhiyuan cheng"}
    assert not can_corroborate(claim, a, sentence, b)
    assert can_corroborate(claim, a, sentence, c)


def test_a_dataset_a_paper_contributes_is_its_work(demo_corpus):
    typographic = demo_corpus.get("2402.19150")  # "Unveiling Typographic Deceptions ..."
    assert "Typographic Dataset" in work_names(typographic)
    claim = ("The Typographic Dataset not only considers the evaluation of typographic attacks under various "
             "multi-modal tasks but also evaluates the effects of typographic attacks.")
    other = demo_corpus.get("2512.11899")
    sentence = ("Large vision-language models (LVLMs) are vulnerable to typographic attacks, where misleading text "
                "within an image overrides visual understanding.")
    assert own_work(claim, work_names(typographic))
    assert not can_corroborate(claim, typographic, sentence, other)


def test_the_verify_step_counts_only_independent_corroboration_of_the_same_thing():
    """``sentence_verify`` end to end (the run's own function): a statement three papers make is
    corroborated by the one without a shared author; a result of "our method" by none."""
    import numpy as np

    from sovereign_kernel.domain.schemas import Claim, SourceSpan
    from sovereign_kernel.retrieval.cross_encoder import CrossEncoder
    from sovereign_kernel.verification.calibration import load_calibration
    from sovereign_kernel.verification.scoring import sentence_verify

    world = "Large language models remain vulnerable to jailbreak attacks."
    result = "Our method reduces the attack success rate to 6%."
    papers = [paper("a", "Defending LLMs", f"{world} {result}", ("Ada Lovelace", "Alan Turing")),
              paper("b", "Jailbreaks again", f"{world} We study prompts.", ("Alan Turing",)),
              paper("c", "Jailbreak survey", f"{world} We review attacks.", ("Grace Hopper",)),
              paper("d", "Another defence", f"Alignment is hard. {result}", ("Edsger Dijkstra",))]
    vocab = sorted({w for p in papers for w in (p.title + " " + p.abstract).lower().split()})

    class BagVectors:
        def embed(self, texts, kind="passage"):
            m = np.array([[t.lower().split().count(w) for w in vocab] + [1] for t in texts], dtype=float)
            return m / np.linalg.norm(m, axis=1, keepdims=True)

    class OneHotTokens:
        def encode_tokens(self, texts):
            eye = np.eye(len(vocab) + 1)
            return [eye[[vocab.index(w) if w in vocab else len(vocab) for w in t.lower().split()]] for t in texts]

    def claim(cid, text):
        start = papers[0].abstract.index(text)
        return Claim(id=cid, text=text, paper_id="a", source_span=SourceSpan(start=start, end=start + len(text), text=text))

    out = sentence_verify([claim("c1", world), claim("c2", result)], papers, vectors=BagVectors(),
                          tokens=OneHotTokens(), calibration=load_calibration(), threshold=0.5,
                          cross_encoder=CrossEncoder())
    by_id = {c.id: c for c in out}
    stated, ours = by_id["c1"], by_id["c2"]
    assert stated.grounded and ours.grounded
    assert stated.corroborated_by == ["c"]  # "b" states it too, but shares an author
    assert not stated.own_work
    assert ours.own_work and ours.corroborated_by == []  # "d"'s "our method" is another method
    assert "d" not in ours.supporting_papers and "a" in ours.supporting_papers


def test_a_question_one_paper_answers_gets_that_papers_finding_marked_not_a_false_cannot_answer():
    """When kept papers join the question's facets but nothing is corroborated, the Answer gives the
    grounded findings as one paper's word ("single-source"), never "the corpus cannot answer"; one
    corroborated finding makes it an ordinary answer."""
    from sovereign_kernel.domain.schemas import Claim, SourceSpan
    from sovereign_kernel.synthesis.answer import OWN_WORK, SINGLE_SOURCE, AnswerInputs, build_answer

    sabre = paper("2405.03672", "Cutting through buggy adversarial example defenses: fixing 1 line of code breaks Sabre",
                  "Sabre is a defense to adversarial examples that was accepted at IEEE S&P 2024. By fixing a single "
                  "line of code in the original repository, we reduce Sabre's robust accuracy to 0%.")
    texts = ["By fixing a single line of code in the original repository, we reduce Sabre's robust accuracy to 0%.",
             "Sabre is a defense to adversarial examples that was accepted at IEEE S&P 2024."]
    claims = [Claim(id=f"c{i}", text=t, paper_id=sabre.id, grounded=True, relevance=0.6 - i / 10, own_work=i == 0,
                    source_span=SourceSpan(start=sabre.abstract.index(t), end=sabre.abstract.index(t) + len(t), text=t))
              for i, t in enumerate(texts)]
    inp = AnswerInputs(question="Can a one-line bug fix break the Sabre defense against adversarial examples?",
                       claims=claims, labels={"c0": "C1", "c1": "C2"}, papers={sabre.id: sabre},
                       findings=frozenset({"c0", "c1"}))
    answer = build_answer(inp, max_sentences=5)
    assert answer.status == "single-source"
    assert [s.claim_ids for s in answer.sentences] == [["c0"], ["c1"]]
    assert answer.sentences[0].text.endswith(f"[C1] ({OWN_WORK}).")
    assert answer.sentences[1].text.endswith(f"[C2] ({SINGLE_SOURCE}).")
    assert not any("cannot answer" in s.text for s in answer.sentences)

    # the finding closest to the question leads
    swapped = [claims[0].model_copy(update={"relevance": 0.3}), claims[1]]
    assert [s.claim_ids for s in build_answer(AnswerInputs(**{**inp.__dict__, "claims": swapped}), 5).sentences][0] \
        == ["c1"]

    corroborated = [claims[0], claims[1].model_copy(update={"corroborated_by": ["2106.09947"]})]
    assert build_answer(AnswerInputs(**{**inp.__dict__, "claims": corroborated}), max_sentences=5).status == "answered"


def test_an_opening_sentence_dated_by_a_year_is_background_not_a_finding():
    from sovereign_kernel.verification.claim_cues import states_no_finding

    assert states_no_finding("Sabre is a defense to adversarial examples that was accepted at IEEE S&P 2024.", True)
    assert not states_no_finding("The corpus, released in 2023, holds 12 000 attack images.", True)  # a count
    assert not states_no_finding("Accuracy drops by 2024.5 points on the benchmark.", True)  # a number, not a year


def test_the_audited_precision_the_manifest_states_is_what_the_rule_scores_on_the_audit_file():
    """The manifest's ``corroboration_audited`` (``AUDIT``) recomputed from the judged pairs with the
    shipped rule: a change to the rule that moves it fails here until the audit is re-scored."""
    import json
    from pathlib import Path

    from sovereign_kernel.verification.corroboration import AUDIT

    path = Path(__file__).parents[1] / "bench" / "data" / "corroboration_audit.jsonl"
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    held_out = [r for r in rows if r["set"] == "held-out"]
    called: dict[tuple, list[dict]] = {}
    for r in held_out:
        if r["before"] and not r["shared_authors"] and corroborates(r["claim"], r["claim_work"], r["sentence"],
                                                                     r["other_work"]):
            called.setdefault((r["question"], r["claim_id"]), []).append(r)
    right = sum(any(r["judgement"] in ("states", "partial") for r in v) for v in called.values())
    assert (AUDIT.called, AUDIT.right) == (len(called), right)
    questions = path.parent / "answerability_heldout.jsonl"  # the runs the held-out rows came from
    answerable = [json.loads(x) for x in questions.read_text(encoding="utf-8").splitlines() if '"answerable": true' in x]
    assert AUDIT.questions == len(answerable) and {r["question"] for r in held_out} <= {q["q"] for q in answerable}
    assert "0.62" in AUDIT.statement()
