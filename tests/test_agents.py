"""Each agent's offline algorithm (in the core packages), on real fixture records."""

import pytest

from sovereign_kernel.domain.schemas import SearchHit
from sovereign_kernel.domain.settings import Settings, TribunalSettings
from sovereign_kernel.retrieval.planning import plan_queries_offline
from sovereign_kernel.retrieval.ranking import score_candidates
from sovereign_kernel.tribunal.judgement import combine
from sovereign_kernel.tribunal.reviews import skeptic_review, synthesizer_review, validator_review
from sovereign_kernel.tribunal.rubric import Signals
from sovereign_kernel.verification.claim_cues import claim_text, cue_score
from sovereign_kernel.verification.claim_extraction import extract_offline

from conftest import COVERED_QUESTION, SMALL_CORPUS

TRIBUNAL = TribunalSettings()


@pytest.fixture(scope="module")
def res(workspace):
    return workspace.resources(Settings(corpus=str(SMALL_CORPUS)))


def plan(res, question=COVERED_QUESTION, n=4):
    return plan_queries_offline(question, res.bm25, res.corpus.papers, n)


def test_planner_gives_four_distinct_queries_led_by_the_question(res):
    queries = plan(res)
    assert len(queries) == 4 and len(set(queries)) == 4
    assert "typographic attacks" in queries[0]
    # Every aspect of the question is searched by at least one query.
    for aspect in ("vision-language models", "clip", "typographic attacks", "defenses"):
        assert sum(aspect in q for q in queries) >= 1, aspect
    assert len({q.split()[0] for q in queries[1:]}) == 1  # the rarest aspect anchors the focused queries


def test_ranking_keeps_typographic_papers_and_drops_unrelated_ones(res):
    found = [(i, q, r, res.corpus.papers[idx], s) for i, q in enumerate(plan(res))
             for r, (idx, s) in enumerate(res.bm25.search(q, 30))]
    hits = [SearchHit(query=q, query_index=i, paper_id=p.id, lexical_score=s, rank=r) for i, q, r, p, s in found]
    scored, aspects = score_candidates(COVERED_QUESTION, hits, {p.id: p for *_, p, _ in found}, index=res.bm25,
                                       vectors=res.vectors, corpus_stems=res.corpus_stems,
                                       settings=Settings().retriever)
    kept = [s for s in scored if s.kept]
    dropped = [s for s in scored if not s.kept]
    assert kept and all("typographic" in (s.paper.title + s.paper.abstract).lower() for s in kept[:5])
    assert any("Point Cloud Denoising" in s.paper.title for s in dropped)
    assert all(s.reason for s in dropped)
    assert [s.relevance for s in scored] == sorted((s.relevance for s in scored), reverse=True)
    assert {a.phrase for a in aspects} >= {"typographic attacks", "clip"}


def test_extraction_spans_are_exact_offsets_and_prefer_findings(res):
    paper = res.corpus.by_id["2304.04512"]  # Defense-Prefix for Preventing Typographic Attacks on CLIP
    claims = extract_offline(COVERED_QUESTION, paper, res.vectors, Settings().extraction)
    assert 1 <= len(claims) <= 3
    for c in claims:
        assert paper.abstract[c.source_span.start:c.source_span.end] == c.source_span.text
        assert c.paper_id == paper.id and c.id.startswith(paper.id + "#s")
    assert any("typographic" in c.text.lower() for c in claims)


def test_cue_score_separates_findings_from_background():
    finding = "Our method improves accuracy by 19.6% over the baseline on ImageNet-100."
    background = "Recently, vision-language models have become widely used in many applications."
    assert cue_score(finding, 3) > cue_score(background, 0) + 0.3
    assert claim_text("Moreover, the attack transfers to GPT-4V.") == "The attack transfers to GPT-4V."
    # An aim statement says what was done, not found; the same frame reporting a result is a finding.
    aim = "In this study, we addressed the reduction of the impact of typographic attacks on CLIP."
    result = "In this study, we show that the impact of typographic attacks on CLIP is reduced by half."
    assert cue_score(aim, 2) <= cue_score(result, 2) - 0.2


def signals(**kw):
    base = dict(n_candidates=50, n_kept=8, mean_kept_relevance=0.8, n_claims=20, n_grounded=18,
                mean_confidence_grounded=0.9, n_corroborated=10, mean_corroboration=0.8, corroborated_sources=5,
                spans_exact=20, off_topic_claims=1, hedged_claims=1, grounded_only=8, n_aspects=4, aspects_covered=4,
                terms_absent_from_corpus=(), grounded_sources=6, mean_relevance_findings=0.6, findings_cited=5,
                n_findings=5, joint_share=1.0, facet_pairs=3, missing_pairs=(), required_facets=3, facets_covered=3,
                best_paper_facets=3)
    base.update(kw)
    return Signals(**base)


def test_reviews_state_which_measurement_gave_which_points():
    good = skeptic_review(signals(), 0, TRIBUNAL)
    unjoined = signals(joint_share=1 / 3, missing_pairs=("sign language + adversarial examples",) * 2,
                       terms_absent_from_corpus=("smoe",))
    weak = skeptic_review(unjoined, 0, TRIBUNAL)
    assert good.score >= 6.5 > weak.score
    assert any("insufficient evidence" in i and "'smoe'" in i for i in weak.issues)
    assert any("no kept paper addresses sign language + adversarial examples" in i for i in weak.issues)
    assert any(r.signal == "facets of the question joined by one paper" and r.points == round(4 / 3, 2)
               for r in weak.rubric)
    assert all(any(r.signal in i for i in good.issues) for r in good.rubric)


def test_the_validator_rests_on_corroboration_not_self_grounding():
    quotes = signals(n_grounded=20, n_corroborated=0, mean_corroboration=0.0, grounded_only=20)
    corroborated = signals(n_grounded=20, n_corroborated=12, mean_corroboration=0.85, grounded_only=8)
    low, high = validator_review(quotes, 0, TRIBUNAL), validator_review(corroborated, 0, TRIBUNAL)
    assert low.score < 6.5 <= high.score  # every claim quotes its own source: that alone does not pass
    assert any("no claim is corroborated by another paper" in i for i in low.issues)
    thin = synthesizer_review(signals(grounded_sources=1), 0, TRIBUNAL)
    assert any("1 source" in i for i in thin.issues) and thin.score < 10


def test_judge_averages_reviews_against_the_threshold():
    reviews = [review(signals(), 0, TRIBUNAL) for review in (skeptic_review, validator_review, synthesizer_review)]
    result = combine(reviews, 0, TRIBUNAL)
    assert result.score == round(sum(r.score for r in reviews) / 3, 2) and result.verdict == "PUBLISH"
    assert combine(reviews, 0, TribunalSettings(revision_threshold=10.0)).verdict == "REVISE"


def test_the_same_claims_against_the_same_papers_are_verified_once(monkeypatch, res):
    import asyncio

    import sovereign_kernel.agents.verifier as verifier
    from sovereign_kernel.runtime.workspace import Workspace

    settings, workspace = Settings(), Workspace()  # its own memory: nothing verified yet
    papers = [p for p in res.corpus.papers if "typographic" in p.abstract.lower()][:3]
    claims = [c for p in papers for c in extract_offline(COVERED_QUESTION, p, res.vectors, settings.extraction)]
    calls = []
    real = verifier.sentence_verify
    monkeypatch.setattr(verifier, "sentence_verify", lambda *a, **k: calls.append(1) or real(*a, **k))
    first = asyncio.run(verifier.calibrated_scores(claims, papers, res, settings, workspace))
    again = asyncio.run(verifier.calibrated_scores(claims, papers, res, settings, workspace))
    assert len(calls) == 1 and again == first and all(c.confidence > 0 for c in first)
    # Another abstract (a corrected record): computed afresh, never served stale.
    edited = [papers[0].model_copy(update={"abstract": papers[0].abstract + " We also find nothing."}), *papers[1:]]
    asyncio.run(verifier.calibrated_scores(claims, edited, res, settings, workspace))
    assert len(calls) == 2
    # Another workspace remembers nothing of this one's.
    asyncio.run(verifier.calibrated_scores(claims, papers, res, settings, Workspace()))
    assert len(calls) == 3
