"""Shared fixtures: one data directory per test session (warm caches across tests), the
real fixture corpus, and memoised pipeline runs so several tests can inspect one run."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

FIXTURES = Path(__file__).parent / "fixtures"
SMALL_CORPUS = FIXTURES / "arxiv_small.jsonl"
COVERED_QUESTION = "How vulnerable are vision-language models such as CLIP to typographic attacks, and which defenses work?"
UNANSWERABLE_QUESTION = (
    "What is the robustness of SMoES-based MoE-VLMs to distribution shift compared to dense VLMs "
    "of equivalent inference FLOPs?"
)


@pytest.fixture(scope="session", autouse=True)
def sovereign_home(tmp_path_factory) -> Path:
    home = tmp_path_factory.mktemp("sovereign-home")
    os.environ["SOVEREIGN_HOME"] = str(home)
    os.environ.pop("NVIDIA_API_KEY", None)
    return home


_runs: dict = {}


@pytest.fixture(scope="session")
def run_research(sovereign_home):
    """``run_research(question, **settings)`` → ResearchResult, memoised per arguments."""
    from sovereign_kernel.app.api import research

    def run(question: str, **overrides):
        overrides.setdefault("corpus", str(SMALL_CORPUS))
        key = (question, tuple(sorted(overrides.items())))
        if key not in _runs:
            _runs[key] = research(question, **overrides)
        return _runs[key]

    return run
