"""No node does blocking I/O on the event loop, in any mode, even on a data dir that does not
exist yet: whole runs under blockbuster, configured as ``langgraph dev`` configures it (a blocking
call on the loop raises ``BlockingError`` and fails the run)."""

from __future__ import annotations

import asyncio

import pytest
from blockbuster import BlockBuster
from scripted_llm import ResearchNIMServer, ScriptedChat

from conftest import COVERED_QUESTION, SMALL_CORPUS
from sovereign_kernel.domain.settings import LLMSettings


def blockbuster() -> BlockBuster:
    """The dev server's configuration (langgraph_runtime_inmem): every module watched, logging allowed."""
    bb = BlockBuster(excluded_modules=[])
    for module, func in (("logging/__init__.py", "flush"), ("logging/__init__.py", "emit")):
        bb.functions["io.TextIOWrapper.write"].can_block_in(module, func)
        bb.functions["io.BufferedWriter.write"].can_block_in(module, func)
    return bb


def run_guarded(kernel, **kwargs):
    async def run():
        bb = blockbuster()
        bb.activate()
        try:
            stages, result = [], None
            async for kind, payload in kernel.stream(COVERED_QUESTION, corpus=str(SMALL_CORPUS), **kwargs):
                if kind == "progress":
                    stages.append(payload["stage"])
                else:
                    result = payload
            return stages, result
        finally:
            bb.deactivate()

    return asyncio.run(run())


def test_an_offline_run_on_a_data_dir_that_does_not_exist_yet(kernel, tmp_path):
    home = tmp_path / "new" / "home"  # a new user's first run (tests/test_studio.py: caches there too)
    stages, result = run_guarded(kernel, home=str(home))
    assert result.status == "PUBLISHED" and result.report.claims
    assert {"plan", "extract", "verify", "report", "publish"} <= set(stages)
    assert (home / "store.sqlite").is_file() and (home / "checkpoints.sqlite").is_file()


@pytest.mark.parametrize("mode", ["nim", "custom"])
def test_llm_runs_keep_the_loop_free(kernel, tmp_path, mode):
    if mode == "custom":
        stages, result = run_guarded(kernel, home=str(tmp_path / "h"), llm=ScriptedChat(), max_revision_rounds=0)
    else:
        with ResearchNIMServer() as srv:
            settings = LLMSettings(nim_base_url=srv.base_url, backoff_initial_s=0.01, backoff_max_s=0.05)
            stages, result = run_guarded(kernel, home=str(tmp_path / "h"), llm_settings=settings, max_revision_rounds=0)
    assert result.manifest["provenance"]["mode"] == mode
    assert result.manifest["llm_usage"]["totals"]["calls"] > 0 and result.manifest["fallbacks"] == []
