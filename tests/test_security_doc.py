"""SECURITY.md exists and says what the issue asks (issue 14, finding 12): what is trusted and what is
not, how keys are handled, what ``audit`` proves and what it cannot; the README points to it."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_security_md_covers_trust_keys_and_audit():
    text = (ROOT / "SECURITY.md").read_text()
    lower = text.lower()
    for subject in ("paper text", "pdf", "llm output", "corpus files", "the store", "nvidia_api_key",
                    "sovereign-kernel audit", "head hash", "control characters"):
        assert subject in lower, f"SECURITY.md does not cover {subject!r}"
    assert "## What is not trusted" in text and "## What `audit` proves" in text and "## What `audit` cannot" in text
    assert "recompute" in lower  # a full, consistent rewrite of the chain is only caught by an anchored head


def test_readme_links_security_md_and_documents_audit():
    readme = (ROOT / "README.md").read_text()
    assert "SECURITY.md" in readme
    assert "sovereign-kernel audit" in readme
