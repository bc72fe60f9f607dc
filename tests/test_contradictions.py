"""Contradictions across papers, offline: a run over a corpus where one paper's claim is contradicted
by other papers' evidence lists the contradiction (both sides, both passages), the SKEPTIC scores it
and the manifest counts it; the same run without the contradicting papers lists none — and says the
check ran.

The corpus (tests/fixtures/scifact_contradiction.jsonl, see PROVENANCE.md) is SciFact train: claim
541 ("Hypothalamic glutamate neurotransmission is unrelated to energy balance.") as a one-sentence
paper, the abstracts SciFact labels as contradicting it (45154987, 11886686), two more abstracts on
hypothalamic glutamate and energy balance, and six unrelated SciFact abstracts."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

CORPUS = Path(__file__).parent / "fixtures" / "scifact_contradiction.jsonl"
QUESTION = "Is hypothalamic glutamate neurotransmission involved in energy balance and body weight regulation?"
CONTRADICTING = {"scifact-45154987", "scifact-11886686"}
CLAIM_PAPER = "scifact-claim-541"


def research(corpus: Path, out: Path, home: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "SOVEREIGN_HOME": str(home)}
    env.pop("NVIDIA_API_KEY", None)
    return subprocess.run([sys.executable, "-m", "sovereign_kernel", "research", QUESTION, "--corpus", str(corpus),
                           "--out", str(out), "--quiet"], capture_output=True, text=True, env=env, timeout=300)


def test_a_contradicted_claim_is_listed_scored_and_counted(tmp_path, sovereign_home):
    proc = research(CORPUS, tmp_path / "out", sovereign_home)
    assert proc.returncode in (0, 3), proc.stderr
    manifest = json.loads((tmp_path / "out" / "manifest.json").read_text())
    record = manifest["contradictions"]
    assert record is not None and record["count"] >= 1
    sides = {(p["paper_id"], p["contradicted_by"]) for p in record["pairs"]}
    # the claim paper against a contradicting abstract, in either direction
    assert any((a == CLAIM_PAPER and b in CONTRADICTING) or (b == CLAIM_PAPER and a in CONTRADICTING)
               for a, b in sides), sides
    assert all(record["threshold"] <= p["p_contradict"] <= 1.0 for p in record["pairs"])
    md = (tmp_path / "out" / "report.md").read_text()
    section = md.split("## Contradictions", 1)[1].split("\n## ", 1)[0]
    assert "contradicted by" in section
    for p in record["pairs"]:
        assert p["claim"] in section and p["passage"][:60] in section.replace("\\", "")
    report = json.loads((tmp_path / "out" / "report.json").read_text()) if (tmp_path / "out" / "report.json").exists() else None
    skeptic = next(r for r in manifest_reviews(md))
    assert skeptic  # the SKEPTIC's reasons name the contradiction
    assert report is None or any(c["contradicted_by"] for c in report["claims"])


def manifest_reviews(md: str):
    table = md.split("### Tribunal", 1)[1].split("\n## ", 1)[0]
    yield from (line for line in table.splitlines() if line.startswith("| SKEPTIC") and "contradicted by another kept paper" in line)


def test_without_the_contradicting_papers_none_is_listed_and_the_check_is_stated(tmp_path, sovereign_home):
    rows = [r for r in CORPUS.read_text().splitlines() if json.loads(r)["id"] not in CONTRADICTING]
    corpus = tmp_path / "corpus.jsonl"
    corpus.write_text("\n".join(rows) + "\n")
    proc = research(corpus, tmp_path / "out", sovereign_home)
    assert proc.returncode in (0, 3), proc.stderr
    manifest = json.loads((tmp_path / "out" / "manifest.json").read_text())
    assert manifest["contradictions"] is not None
    assert not any(p["contradicted_by"] in CONTRADICTING for p in manifest["contradictions"]["pairs"])
    md = (tmp_path / "out" / "report.md").read_text()
    assert "## Contradictions" in md
