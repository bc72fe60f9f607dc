"""Shared fixtures: one data directory and one cache directory per test session (warm caches
across tests, and across the xdist workers), one ``Kernel`` the tests share (corpora, index and
models loaded once), the real fixture corpus, and memoised pipeline runs so several tests can
inspect one run."""

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
    """``SOVEREIGN_HOME`` for the session; ``SOVEREIGN_CACHE_DIR`` shared by every worker and every
    test's own data dir (indexes and vectors are content-keyed, so sharing them changes no result)."""
    home = tmp_path_factory.mktemp("sovereign-home")
    shared = tmp_path_factory.getbasetemp().parent / "sovereign-cache"  # the same for all xdist workers
    shared.mkdir(exist_ok=True)
    os.environ["SOVEREIGN_HOME"] = str(home)
    os.environ["SOVEREIGN_CACHE_DIR"] = str(shared)
    os.environ.pop("NVIDIA_API_KEY", None)
    return home


@pytest.fixture(scope="session")
def kernel(sovereign_home):
    """One ``Kernel`` for the session: its workspace loads each corpus, index and model once."""
    from sovereign_kernel.app.kernel import Kernel

    with Kernel() as k:
        yield k


@pytest.fixture(scope="session")
def workspace(kernel):
    return kernel.workspace


@pytest.fixture(scope="session")
def run_research(kernel):
    """``run_research(question, **settings)`` → ResearchResult, memoised per arguments."""
    runs: dict = {}

    def run(question: str, **overrides):
        overrides.setdefault("corpus", str(SMALL_CORPUS))
        key = (question, tuple(sorted(overrides.items())))
        if key not in runs:
            runs[key] = kernel.research(question, **overrides)
        return runs[key]

    return run
