"""Heartbeats of long silent steps (issue 15 #7): embedding on a cold cache, arXiv retry waits, PDF
parsing — on the CLI's line and in the stream events Studio and notebooks see.

The runs here use fresh caches (a cold vector cache is what made the screen freeze during ranking);
timings are asserted loosely, as the machine is shared."""

from __future__ import annotations

import asyncio
import itertools
import os
import re
import shutil
import subprocess
import sys

from arxiv_replay_server import ArxivReplayServer
from conftest import COVERED_QUESTION, FIXTURES, SMALL_CORPUS

from sovereign_kernel.domain.progress import StepProgress, wait_beating


class Clock:
    def __init__(self):
        self.now = 100.0

    def __call__(self):
        return self.now


def test_a_step_beats_at_most_once_a_second_and_closes_with_its_total():
    events, clock = [], Clock()
    step = StepProgress(lambda stage, **d: events.append({"stage": stage, **d}), "embed", 100, clock=clock)
    for done in range(1, 101):
        clock.now += 0.25  # an item every quarter second: 25 s in all
        step.update(done)
    step.finish()
    assert events[0] == {"stage": "embed", "done": 4, "total": 100}  # silent for its first second
    assert events[-1] == {"stage": "embed", "done": 100, "total": 100}
    assert 24 <= len(events) <= 26  # one a second, not one an item
    assert all(b["done"] - a["done"] == 4 for a, b in itertools.pairwise(events))


def test_a_quick_step_stays_silent_and_a_counted_one_can_show_at_once():
    events, clock = [], Clock()
    quick = StepProgress(lambda stage, **d: events.append(d), "embed", 10, clock=clock)
    for done in range(1, 11):
        clock.now += 0.05
        quick.update(done)
    quick.finish()
    assert events == []
    parse = StepProgress(lambda stage, **d: events.append(d), "parse", 2, first_after=0, clock=clock)
    parse.update(1, file="a.pdf")
    clock.now += 0.1
    parse.update(2, file="b.pdf")
    parse.finish()
    assert events == [{"done": 1, "total": 2, "file": "a.pdf"}, {"done": 2, "total": 2}]
    # a step done in one piece (one model batch that took seconds) has no heartbeat to give
    whole = StepProgress(lambda stage, **d: events.append(d), "embed", 8, clock=clock)
    clock.now += 3
    whole.update(8)
    whole.finish()
    assert len(events) == 2


def test_a_wait_says_how_long_is_left_every_two_seconds():
    events, clock, slept = [], Clock(), []

    def sleep(s):
        slept.append(s)
        clock.now += s

    stopped = wait_beating(lambda stage, **d: events.append((stage, d)), "arxiv", 5.0, "HTTP 503, retry 1/3",
                           sleep=sleep, clock=clock)
    assert not stopped and slept == [2.0, 2.0, 1.0]
    assert events == [("arxiv", {"waiting": 5.0, "reason": "HTTP 503, retry 1/3"}),
                      ("arxiv", {"waiting": 3.0, "reason": "HTTP 503, retry 1/3"}),
                      ("arxiv", {"waiting": 1.0, "reason": "HTTP 503, retry 1/3"})]
    # a wait that is told to stop (a cancelled run) says so and stops
    assert wait_beating(None, "arxiv", 5.0, "x", sleep=lambda s: True, clock=clock)


def test_the_cli_shows_counts_and_waits_on_its_line():
    from sovereign_kernel.app.cli import _describe

    assert _describe({"stage": "embed", "done": 24, "total": 61}) == "[embed 24/61]"
    assert _describe({"stage": "arxiv", "waiting": 3.0, "reason": "HTTP 503, retry 2/4"}) == \
        "[arxiv waiting 3 s: HTTP 503, retry 2/4]"
    assert _describe({"stage": "arxiv", "waiting": 0.4, "reason": "HTTP 429, retry 1/3"}) == \
        "[arxiv waiting 0.4 s: HTTP 429, retry 1/3]"
    assert _describe({"stage": "parse", "done": 1, "total": 2, "file": "a.pdf"}) == "[parse 1/2] file=a.pdf"
    assert _describe({"stage": "extract", "paper": "x", "of": 8}, 3) == "[extract 3/8] paper=x"


def test_a_cold_cache_run_shows_embedding_heartbeats_with_counts(tmp_path):
    """The screen froze for ~15-30 s in ranking on a cold cache: now the embedding says how far it is."""
    env = {**os.environ, "SOVEREIGN_HOME": str(tmp_path / "home"), "SOVEREIGN_CACHE_DIR": str(tmp_path / "cache"),
           "SOVEREIGN_MAX_PAPERS": "3", "SOVEREIGN_RERANK_DEPTH": "0"}  # the ranking's embedding is what is shown
    env.pop("NVIDIA_API_KEY", None)
    proc = subprocess.run([sys.executable, "-m", "sovereign_kernel", "research", COVERED_QUESTION, "--corpus",
                           str(SMALL_CORPUS), "--out", str(tmp_path / "out")], capture_output=True, text=True,
                          env=env, timeout=600)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stderr.splitlines()
    beats = [(i, int(k), int(n)) for i, line in enumerate(lines) for k, n in re.findall(r"\[embed (\d+)/(\d+)\]", line)]
    assert beats, proc.stderr
    assert all(0 < k <= n for _, k, n in beats)
    rank = next(i for i, line in enumerate(lines) if "[rank]" in line)
    before_rank = [(k, n) for i, k, n in beats if i < rank]
    assert before_rank and before_rank[-1][0] == before_rank[-1][1]  # ranking's embedding, counted to its end
    assert len(beats) < 60  # heartbeats, not one line per text


def stream_events(kernel, question, **overrides):
    async def go():
        return [payload async for kind, payload in kernel.stream(question, **overrides) if kind == "progress"]

    return asyncio.run(go())


def test_an_arxiv_retry_wait_is_in_the_stream_events(kernel, tmp_path):
    with ArxivReplayServer(default_search="q_testing_s0_m10_bc5a6c384fe9.xml") as server:
        server.fail(503, times=1)
        events = stream_events(kernel, "How are software testing methods evaluated in practice?", sources="arxiv",
                               arxiv_url=server.url, arxiv_min_interval=0.05, home=str(tmp_path / "home"),
                               cache_dir=str(tmp_path / "cache"), relevance_gate=0.0)
    waits = [e for e in events if e["stage"] == "arxiv"]
    assert waits and waits[0]["reason"] == "HTTP 503, retry 1/3" and 0 < waits[0]["waiting"] <= 1.0
    assert events.index(waits[0]) < next(i for i, e in enumerate(events) if e["stage"] == "rank")


def test_a_pdf_folder_run_shows_its_parsing(kernel, tmp_path):
    library = tmp_path / "library"
    library.mkdir()
    for pdf in (FIXTURES / "pdf").glob("*.pdf"):
        shutil.copy(pdf, library / pdf.name)
    events = stream_events(kernel, "What optimal growth temperature is inferred for the Asgard archaea ancestor?",
                           corpus=str(library), home=str(tmp_path / "home"), cache_dir=str(tmp_path / "cache"),
                           passages_per_paper=6)
    parsed = [e for e in events if e["stage"] == "parse"]
    assert parsed and parsed[-1]["done"] == parsed[-1]["total"] == 2
    assert all("of" not in e for e in parsed)  # a count, not a fan-out of branches
