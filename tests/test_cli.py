"""The command line as a user runs it: a real subprocess."""

import json
import os
import subprocess
import sys

import pytest

from conftest import COVERED_QUESTION, SMALL_CORPUS


def cli(*args, home):
    env = {**os.environ, "SOVEREIGN_HOME": str(home)}
    env.pop("NVIDIA_API_KEY", None)
    return subprocess.run([sys.executable, "-m", "sovereign_kernel", *args], capture_output=True, text=True,
                          env=env, timeout=300)


def test_research_writes_report_and_manifest_and_prints_json(tmp_path, sovereign_home):
    out = tmp_path / "out"
    proc = cli("research", COVERED_QUESTION, "--corpus", str(SMALL_CORPUS), "--out", str(out), "--json",
               home=sovereign_home)
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)
    assert report["references"] and all("id" in r and "v" not in r["id"].split(".")[-1] for r in report["references"])
    assert {"text", "paper_id", "grounded", "corroborated_by", "confidence"} <= set(report["claims"][0])
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["contract"] == "paper-manifest-v1.1"
    assert manifest["quality_tier"] in ("DOI grade", "Watchlist")
    md = (out / "report.md").read_text()
    for section in ("## Abstract", "## Research question", "## Methodology", "## Results", "## Uncertainties",
                    "## Claims", "## References"):
        assert section in md
    assert "[plan]" in proc.stderr and "[publish]" in proc.stderr  # progress lines
    # parallel stages count their branches: "[extract 3/8]"
    import re

    extracted = [(int(k), int(n)) for k, n in re.findall(r"\[extract (\d+)/(\d+)\]", proc.stderr)]
    assert extracted and extracted[-1][0] == extracted[-1][1] and all(1 <= k <= n for k, n in extracted)
    assert "[search 4/4]" in proc.stderr


@pytest.mark.parametrize("question, message", [
    ("", "empty"),
    ("   \n\t ", "empty"),
    ("x" * 5000, "limit"),
    ("why?", "at least"),
])
def test_bad_questions_fail_fast_with_one_line(question, message, tmp_path, sovereign_home):
    proc = cli("research", question, "--out", str(tmp_path / "o"), home=sovereign_home)
    assert proc.returncode != 0
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error:") and message in lines[0]
    assert not (tmp_path / "o").exists()


def test_missing_corpus_is_a_clear_error(tmp_path, sovereign_home):
    missing = tmp_path / "nope.jsonl"
    proc = cli("research", COVERED_QUESTION, "--corpus", str(missing), "--out", str(tmp_path / "o"),
               "--quiet", home=sovereign_home)
    assert proc.returncode != 0
    assert str(missing) in proc.stderr and len(proc.stderr.strip().splitlines()) == 1


def test_progress_is_a_live_status_line_on_a_terminal(tmp_path, sovereign_home):
    """Run the CLI in a real pseudo-terminal, as a user at a shell would."""
    import pty
    import select

    env = {**os.environ, "SOVEREIGN_HOME": str(sovereign_home), "COLUMNS": "120"}
    env.pop("NVIDIA_API_KEY", None)
    pid, fd = pty.fork()
    if pid == 0:  # child: the CLI with the pty as its terminal
        os.execve(sys.executable, [sys.executable, "-m", "sovereign_kernel", "research", COVERED_QUESTION,
                                   "--corpus", str(SMALL_CORPUS), "--out", str(tmp_path / "o")], env)
    chunks = []
    while True:
        ready, _, _ = select.select([fd], [], [], 120)
        if not ready:
            break
        try:
            data = os.read(fd, 4096)
        except OSError:  # the child closed the terminal
            break
        if not data:
            break
        chunks.append(data)
    _, status = os.waitpid(pid, 0)
    text = b"".join(chunks).decode(errors="replace")
    assert os.waitstatus_to_exitcode(status) == 0
    assert "\r\x1b[K" in text  # status lines rewritten in place
    assert "[search " in text and "[verify]" in text  # search counts its branches: [search 4/4]
    assert "claims corroborated" in text and "PUBLISHED" in text  # then the summary


def test_every_argument_has_help_and_every_command_an_example():
    import argparse

    from sovereign_kernel.app.cli import _parser

    def walk(parser, name):
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                for sub_name, sub in action.choices.items():
                    yield from walk(sub, f"{name} {sub_name}")
            elif not isinstance(action, argparse._HelpAction):
                yield name, action.dest, bool(action.help)
        if name != "sovereign-kernel":
            yield name, "(example)", "example: sovereign-kernel" in (parser.epilog or "")

    missing = [f"{cmd}: {dest}" for cmd, dest, ok in walk(_parser(), "sovereign-kernel") if not ok]
    assert not missing, missing


def test_version_and_help_answer_at_once():
    for flag in ("--version", "--help"):
        proc = subprocess.run([sys.executable, "-m", "sovereign_kernel", flag], capture_output=True, text=True,
                              timeout=60)
        assert proc.returncode == 0 and "sovereign-kernel" in proc.stdout
    assert "exit codes: 0 published" in " ".join(proc.stdout.split())
