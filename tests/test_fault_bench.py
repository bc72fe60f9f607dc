"""The fault bench's fast variant (bench/faults.py --fast): research runs through the CLI against the
local NIM-protocol and arXiv replay servers under 429 bursts, non-JSON bodies, failing embeddings and a
SIGKILL mid-run. No traceback, no lost run, and the canary key in no file or output (issue 14, finding 13)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_fast_fault_bench_has_no_traceback_and_loses_no_run(tmp_path):
    proc = subprocess.run([sys.executable, str(ROOT / "bench" / "faults.py"), "--fast", "--verbose",
                           "--json", str(tmp_path / "rows.json")], capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stdout + proc.stderr[-3000:]
    import json

    rows = json.loads((tmp_path / "rows.json").read_text())
    assert len(rows) == 4 and all(r["runs"] == 1 for r in rows)
    assert sum(r["tracebacks"] for r in rows) == 0 and sum(r["lost"] for r in rows) == 0
    assert all(r["completed"] == r["runs"] for r in rows)
    assert all(r["injected"] > 0 for r in rows)  # every kind did inject its fault
    assert [r["canary_leaks"] for r in rows] == [[]] * 4
    assert "canary key found in: no file or output" in proc.stdout
    assert next(r for r in rows if r["kind"].startswith("SIGKILL"))["resumed"] == 1
