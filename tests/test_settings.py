"""One configuration model: grouped settings, each with a flat name that is its environment variable,
its keyword and its Studio field; records that replay; ids that ignore how a run talks to the world."""

from __future__ import annotations

import pytest

from sovereign_kernel.domain.settings import FLAT_NAMES, GROUPS, OPERATIONAL_FIELDS, Settings, recorded


def test_environment_variables_keep_their_flat_names(monkeypatch):
    monkeypatch.setenv("SOVEREIGN_MAX_PAPERS", "5")
    monkeypatch.setenv("SOVEREIGN_ARXIV_URL", "http://127.0.0.1:9/api/query")
    monkeypatch.setenv("SOVEREIGN_CHAT_MODEL", "some/model")
    monkeypatch.setenv("SOVEREIGN_OFF_TOPIC_CLAIM_RELEVANCE", "0.25")
    s = Settings()
    assert (s.retriever.max_papers, s.arxiv.url, s.llm.chat_model) == (5, "http://127.0.0.1:9/api/query", "some/model")
    assert s.tribunal.off_topic_claim_relevance == 0.25
    # A group given in code still reads the rest of itself from the environment.
    assert Settings(retriever={"relevance_gate": 0.3}).retriever.max_papers == 5


def test_every_flat_name_is_unique_and_a_misspelt_one_names_the_closest():
    assert len(FLAT_NAMES) == len(set(FLAT_NAMES))
    assert sum(len(g.model_fields) for g in GROUPS.values()) + len(Settings.model_fields) - len(GROUPS) == \
        len(FLAT_NAMES)
    with pytest.raises(TypeError, match="did you mean 'max_papers'"):
        Settings().with_overrides(max_paper=3)
    with pytest.raises(ValueError):
        Settings(relevance_gat=0.3)  # a typo in code is an error too, not a silent default


def test_overrides_go_to_their_group_and_none_means_not_given():
    s = Settings().with_overrides(max_papers=3, revision_threshold=7.0, arxiv_cache_only=True, corpus=None)
    assert (s.retriever.max_papers, s.tribunal.revision_threshold, s.arxiv.cache_only, s.corpus) == (3, 7.0, True, None)


def test_the_record_replays_and_the_id_ignores_operational_settings():
    s = Settings(max_papers=3, arxiv_min_interval=0.1, timeout_s=5.0)
    assert Settings.from_record(s.record("nim")).flat() == s.flat()
    assert "llm" not in s.record("offline") and "llm" in s.record("nim") and "api_key" not in s.record("nim")["llm"]
    slow = s.with_overrides(arxiv_min_interval=3.0, timeout_s=60.0, keep_checkpoint_history=True)
    assert slow.identity("nim") == s.identity("nim") and slow.record("nim") != s.record("nim")
    assert s.with_overrides(max_papers=4).identity("offline") != s.identity("offline")
    assert {"arxiv_min_interval", "timeout_s", "home", "cache_dir"} <= OPERATIONAL_FIELDS
    assert "relevance_gate" not in OPERATIONAL_FIELDS


def test_records_of_earlier_versions_still_read():
    flat = {"mode": "offline", "corpus": None, "max_papers": 3, "verify_threshold": 0.6, "arxiv_cache_only": False}
    s = Settings.from_record(flat, arxiv_cache_only=True)
    assert (s.retriever.max_papers, s.verification.verify_threshold, s.arxiv.cache_only) == (3, 0.6, True)
    assert recorded(flat, "max_papers") == 3 == recorded(Settings(max_papers=3).record(), "max_papers")


def test_studio_lists_every_setting_but_the_models_and_secrets():
    from sovereign_kernel.graph.studio import StudioContext

    fields = set(StudioContext.model_fields)
    expected = {name for name, (group, _) in FLAT_NAMES.items() if group != "llm"} - {"postgres_url"}
    assert fields == expected
    ctx = StudioContext(corpus="/x.jsonl", max_papers=5, review_pass_score=7.0)
    assert (ctx.settings.corpus, ctx.settings.retriever.max_papers, ctx.settings.tribunal.review_pass_score) == \
        ("/x.jsonl", 5, 7.0)
    assert ctx.llm_session is None and ctx.mode == "offline"
