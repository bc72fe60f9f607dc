"""Contradictions across papers, offline: a run over a corpus where one paper's claim is contradicted
by other papers' evidence lists the contradiction (both sides, both passages), never counts the
contradicting paper as corroboration, the SKEPTIC scores it and the manifest counts it; the same run
without the contradicting papers lists none — and says the check ran.

The corpus (tests/fixtures/scifact_birth_weight.jsonl, see PROVENANCE.md) is SciFact train: claim
178 ("Birth-weight is negatively associated with breast cancer.") as a one-sentence paper, the four
abstracts SciFact labels CONTRADICT for it, two more abstracts on birth weight and breast density, and
six unrelated SciFact abstracts. (Until the second verifier model this test used claim 541, whose
rationales that model reads as SUPPORT: one claim tests the pipeline, bench/verifier_cv.py the model.)"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

CORPUS = Path(__file__).parent / "fixtures" / "scifact_birth_weight.jsonl"
QUESTION = "Is birth weight associated with the risk of breast cancer?"
CONTRADICTING = {"scifact-16322674", "scifact-17450673", "scifact-27123743", "scifact-23557241"}
CLAIM_PAPER = "scifact-claim-178"


def research(corpus: Path, out: Path, home: Path) -> tuple[dict, dict, str]:
    env = {**os.environ, "SOVEREIGN_HOME": str(home)}
    env.pop("NVIDIA_API_KEY", None)
    env.pop("SOVEREIGN_VERIFIER_ONNX", None)  # the shipped model
    proc = subprocess.run([sys.executable, "-m", "sovereign_kernel", "research", QUESTION, "--corpus", str(corpus),
                           "--out", str(out), "--json"], capture_output=True, text=True, env=env, timeout=300)
    assert proc.returncode in (0, 3), proc.stderr  # published, or waiting for the owner's review
    report = json.loads(proc.stdout)
    return report, json.loads((out / "manifest.json").read_text()), (out / "report.md").read_text()


def test_a_contradicted_claim_is_listed_scored_and_counted_and_never_corroborated(tmp_path, sovereign_home):
    report, manifest, md = research(CORPUS, tmp_path / "out", sovereign_home)
    record = manifest["contradictions"]
    assert record is not None and record["count"] >= 1
    sides = {(p["paper_id"], p["contradicted_by"]) for p in record["pairs"]}
    # the claim paper against a contradicting abstract, in either direction
    assert any((a == CLAIM_PAPER and b in CONTRADICTING) or (b == CLAIM_PAPER and a in CONTRADICTING)
               for a, b in sides), sides
    assert all(record["threshold"] <= p["p_contradict"] <= 1.0 for p in record["pairs"])
    # a paper contradicting a claim is never among its corroborators or supporters
    for claim in report["claims"]:
        against = {e["paper_id"] for e in claim["contradicted_by"]}
        assert not against & set(claim["corroborated_by"]) and not against & set(claim["supporting_papers"])
    # the report lists each one: the claim's number, its passage, and the contradicting passage
    section = md.split("## Contradictions", 1)[1].split("\n## ", 1)[0]
    for p in record["pairs"]:
        assert f"**{p['claim']}**" in section and p["passage"][:50] in section.replace("\\", "")
    # the SKEPTIC scored it: its rubric item lost points and its issues name it
    skeptic = next(r for r in report["tribunal"]["reviews"] if r["role"] == "SKEPTIC")
    item = next(i for i in skeptic["rubric"] if i["signal"] == "contradictions between papers")
    assert item["points"] < item["max_points"]
    assert any("contradicted by another kept paper" in issue for issue in skeptic["issues"])


def test_without_the_contradicting_papers_none_is_listed_and_the_check_is_stated(tmp_path, sovereign_home):
    rows = [r for r in CORPUS.read_text().splitlines() if json.loads(r)["id"] not in CONTRADICTING]
    corpus = tmp_path / "corpus.jsonl"
    corpus.write_text("\n".join(rows) + "\n")
    report, manifest, md = research(corpus, tmp_path / "out", sovereign_home)
    record = manifest["contradictions"]
    assert record is not None  # the check ran
    assert not {p["contradicted_by"] for p in record["pairs"]} & CONTRADICTING
    assert "## Contradictions" in md
    if not record["pairs"]:
        assert "flags no kept paper as contradicting" in md


def test_a_flag_needs_a_visible_disagreement():
    from sovereign_kernel.verification.features import disagreement

    # SciFact claim 541 against its CONTRADICT rationale: a denial on one side only
    assert disagreement("Hypothalamic glutamate neurotransmission is unrelated to energy balance.",
                        "Selective disruption of glutamate release from adult PVH neurons led to rapid obesity.") == "negation"
    assert disagreement("Vitamin D increases the risk of fractures.", "Vitamin D reduced the fracture risk.") == "direction"
    assert disagreement("Accuracy drops by 12% under attack.", "Accuracy drops by 40% under attack.") == "numbers"
    # "not only ... but also" asserts both sides; the same direction and shared numbers oppose nothing
    assert disagreement("The dataset not only covers attacks but also defenses.", "Attacks exploit multi-modal systems.") is None
    assert disagreement("Accuracy improves by 12%.", "Training improved accuracy by 12%.") is None
