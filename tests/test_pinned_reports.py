"""Pinned reports: the same question, corpus and settings give the same report, part by part.

Written before the core was restructured (issue 11) so that a move which changes behaviour fails
here, naming the part that changed. The bundled demo corpus is used because its label, unlike a
file path, is the same in every checkout. If a change is *meant* to alter a report, update the
pins in the same commit and say why in its message.
"""

from __future__ import annotations

import hashlib
import json

import pytest
from scripted_llm import ScriptedChat

from conftest import COVERED_QUESTION, UNANSWERABLE_QUESTION

# part -> first 16 hex digits of sha256 over the part's canonical JSON
PINS = {
    "custom-llm-revision": {
        "report_id": "SRK-7141222eec8e",
        "content_hash": "sha256:47a44dd7e094d8b297169420eb8aa113ad2979bef47c4a9c11af1a85a945c975",
        "claims": "910a0cf4f6b542b5", "synthesis": "16ab98ef332611b9", "tribunal": "5c438e9f5748a5e1",
        "references": "151ad0ab14aa62f9", "manifest": "5e48c50a6c558d53", "sources": "71bb94c350913dd8",
        "llm_usage": "a9372187c7af522c",
    },
    "offline-covered": {
        "report_id": "SRK-f9e90d111c22",
        "content_hash": "sha256:a70a5e0fd04d54ed24385cc8c7a0cd4bfb39a1880f17b5b42bc1badbc4d718a3",
        "claims": "cb65061ed56440dd", "synthesis": "dab6b81ce10d2c87", "tribunal": "c0c2f573ceda1b84",
        "references": "151ad0ab14aa62f9", "manifest": "cc254cd6c15bf9dc", "sources": "71bb94c350913dd8",
        "llm_usage": "74234e98afe7498f",
    },
    "offline-unanswerable": {
        "report_id": "SRK-e815a9827238",
        "content_hash": "sha256:778e8358f20be8fe623efd182112418642519068b1ac748243cd34be962e76d7",
        "claims": "4f53cda18c2baa0c", "synthesis": "af4a6d632208dfe5", "tribunal": "ce16d4829a1d89b5",
        "references": "4f53cda18c2baa0c", "manifest": "d062eca767399ad0", "sources": "4f53cda18c2baa0c",
        "llm_usage": "74234e98afe7498f",
    },
}


def digest(data) -> str:
    return hashlib.sha256(json.dumps(data, sort_keys=True, ensure_ascii=False).encode()).hexdigest()[:16]


def parts(result) -> dict[str, str]:
    """What a reader and an auditor see, split so that a failure names what moved."""
    report, manifest = result.report.model_dump(mode="json"), result.manifest
    return {
        "report_id": result.report.report_id,
        "content_hash": manifest["content_hash"],
        "claims": digest(report["claims"]),
        "synthesis": digest([report["abstract"], report["findings"], report["uncertainties"]]),
        "tribunal": digest([report["tribunal"], report["results"], report["quality_tier"]]),
        "references": digest(report["references"]),
        "manifest": digest({k: manifest[k] for k in ("verification_level", "quality_tier_basis",
                                                     "quality_dimensions", "tribunal", "policy", "fallbacks")}),
        "sources": digest(manifest["provenance"]["sources"]),
        "llm_usage": digest((manifest["llm_usage"] or {}).get("totals")),
    }


RUNS = {
    "offline-covered": (COVERED_QUESTION, dict),
    "offline-unanswerable": (UNANSWERABLE_QUESTION, dict),
    "custom-llm-revision": (COVERED_QUESTION,
                            lambda: dict(llm=ScriptedChat(), revision_threshold=10.0, max_revision_rounds=1)),
}


@pytest.mark.parametrize("name", sorted(RUNS))
def test_pinned_report_is_unchanged(name, sovereign_home):
    from sovereign_kernel.app.api import research

    question, kwargs = RUNS[name]
    got = parts(research(question, **kwargs()))  # corpus=None: the bundled demo corpus
    pinned = PINS[name]
    changed = {k: (pinned[k], got[k]) for k in pinned if pinned[k] != got[k]}
    assert not changed, f"{name}: changed parts (pinned, now): {changed}; all now: {got}"
