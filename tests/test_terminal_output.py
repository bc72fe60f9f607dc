"""Nothing the CLI prints can drive the terminal (issue 14, finding 11): stored questions, report text,
correction reasons and ids are printed without control characters or escape sequences."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from conftest import COVERED_QUESTION
from sovereign_kernel.publishing.manifest import content_hash
from sovereign_kernel.publishing.store import STORE_FILE, Store

HOSTILE = "What \x00is\x1b[2J this \x1b]0;owned\x07CLIP\x9b31m question\r about \x1b[31mtypographic\x7f attacks?"


def cli(*args, home):
    env = {**os.environ, "SOVEREIGN_HOME": str(home)}
    env.pop("NVIDIA_API_KEY", None)
    return subprocess.run([sys.executable, "-m", "sovereign_kernel", *args], capture_output=True, text=True,
                          env=env, timeout=300)


def assert_inert(text: str) -> None:
    bad = [c for c in text if (ord(c) < 32 and c not in "\n\t") or 0x7F <= ord(c) < 0xA0]
    assert not bad, f"control characters printed: {bad!r}"


@pytest.mark.parametrize("raw, shown", [
    (HOSTILE, "What is this CLIP question about typographic attacks?"),
    ("tab\tand\nnewline stay", "tab\tand\nnewline stay"),
    ("a\r\nb", "a\nb"),
    ("bidi \u202eevil\u202c override", "bidi evil override"),
    ("\x1bP1;2q\x1b\\ dcs and \x1b(B charset", " dcs and  charset"),
    ("unicode stays: “é” ✓ 中文", "unicode stays: “é” ✓ 中文"),
])
def test_printable(raw, shown):
    from sovereign_kernel.app.terminal import printable

    assert printable(raw) == shown


def test_list_show_and_correct_print_no_control_characters(run_research, tmp_path):
    sample = run_research(COVERED_QUESTION)
    store = Store(tmp_path / STORE_FILE)
    store.upsert_run("pending-\x1b[2J1", HOSTILE, "PENDING_REVIEW", report_id="SRK-\x00x")
    report = sample.report.model_copy(update={"question": HOSTILE})
    manifest = {**sample.manifest, "content_hash": content_hash(report)}
    rid = store.publish(report, manifest, sample.markdown.replace("## Abstract", "## Abstract\n\n\x1b[2J\x00"))
    store.correct(rid, report.claims[0].id, "the \x1b]0;owned\x07 span \x1b[2Jis wrong")

    pending = cli("list", "--pending", home=tmp_path)
    assert pending.returncode == 0, pending.stderr
    assert_inert(pending.stdout)
    assert "pending-1" in pending.stdout and "What is this CLIP question" in pending.stdout
    assert "[2J" not in pending.stdout and "owned" not in pending.stdout  # whole sequences go, not just ESC
    listed = cli("list", home=tmp_path)
    assert_inert(listed.stdout)
    assert "What is this CLIP question" in listed.stdout
    shown = cli("show", rid, home=tmp_path)
    assert shown.returncode == 0, shown.stderr
    assert_inert(shown.stdout)
    assert "span" in shown.stdout and "is wrong" in shown.stdout and "## Corrections" in shown.stdout
    for args in (("list", "--json"), ("list", "--pending", "--json"), ("show", rid, "--format", "json")):
        out = cli(*args, home=tmp_path)
        assert_inert(out.stdout)
        json.loads(out.stdout)  # JSON keeps the text, escaped
    corrected = cli("correct", rid, "--claim", report.claims[1].id, "--reason", "bad \x1b[2J row", home=tmp_path)
    assert corrected.returncode == 0, corrected.stderr
    assert_inert(corrected.stdout)
    missing = cli("show", "SRK-\x1b[2Jnope", home=tmp_path)
    assert missing.returncode == 2 and "nope" in missing.stderr
    assert_inert(missing.stderr)
