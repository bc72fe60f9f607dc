"""The Python API as users embed it: sync inside a running loop (Jupyter), async with progress, streaming."""

import asyncio

from conftest import COVERED_QUESTION, SMALL_CORPUS


def test_sync_research_works_inside_a_running_event_loop(sovereign_home):
    from sovereign_kernel import research

    async def notebook_cell():
        # Jupyter runs cells inside an event loop; research() must not need nest_asyncio.
        return research(COVERED_QUESTION, corpus=str(SMALL_CORPUS))

    result = asyncio.run(notebook_cell())
    assert result.report.claims and result.status == "PUBLISHED"
    assert "<table" in result._repr_html_() and "## Claims" in result._repr_markdown_()


def test_stream_yields_progress_events_then_the_result(sovereign_home):
    from sovereign_kernel import stream

    async def consume():
        kinds, stages, result = [], [], None
        async for kind, payload in stream(COVERED_QUESTION, corpus=str(SMALL_CORPUS)):
            kinds.append(kind)
            if kind == "progress":
                stages.append(payload["stage"])
            else:
                result = payload
        return kinds, stages, result

    kinds, stages, result = asyncio.run(consume())
    assert kinds[-1] == "result" and kinds.count("result") == 1
    for stage in ("plan", "search", "rank", "extract", "verify", "draft", "review", "judge", "policy", "publish"):
        assert stage in stages, stage
    assert stages.count("search") == 4  # one event per parallel query branch
    assert result.report.report_id.startswith("SRK-")


def test_importing_the_schemas_does_not_build_the_graph():
    import subprocess
    import sys

    code = "import sys, sovereign_kernel.domain.schemas; print('sovereign_kernel.graph.build' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True).stdout.strip() == "False"
