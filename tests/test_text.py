from sovereign_kernel.domain.aspects import covers, question_aspects, text_stems
from sovereign_kernel.domain.text import keyphrases, split_sentences, stem


def test_sentences_carry_exact_offsets_and_respect_abbreviations():
    text = ("We show that CLIP is vulnerable (e.g. to typographic attacks). Accuracy drops by 12.5% on "
            "ImageNet, as Goh et al. observed.  Defenses help.")
    sents = split_sentences(text)
    assert [s.text for s in sents] == [
        "We show that CLIP is vulnerable (e.g. to typographic attacks).",
        "Accuracy drops by 12.5% on ImageNet, as Goh et al. observed.",
        "Defenses help.",
    ]
    assert all(text[s.start:s.end] == s.text for s in sents)


def test_keyphrases_drop_question_words_and_split_at_stop_words():
    q = "What is the robustness of SMoES-based MoE-VLMs to distribution shift compared to dense VLMs?"
    assert keyphrases(q) == ["robustness", "smoes-based moe-vlms", "distribution shift", "dense vlms"]


def test_stem_matches_plural_forms_only():
    assert [stem(w) for w in ["attacks", "defenses", "studies", "robustness", "classes", "clip"]] == [
        "attack", "defense", "study", "robustness", "class", "clip"]


def test_hyphenated_aspect_needs_all_of_its_parts():
    aspect = [a for a in question_aspects("robustness of SMoES-based MoE-VLMs") if "moe" in a.phrase][0]
    assert not covers(aspect, text_stems("We evaluate MoE models and VLMs under attack."))
    assert covers(aspect, text_stems("Sparse SMoEs applied to MoE-VLMs are studied."))


def test_the_stop_words_are_scikit_learns():
    from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS

    from sovereign_kernel.domain.stopwords import ENGLISH_STOP_WORDS as copied

    assert copied == ENGLISH_STOP_WORDS
