"""The layers hold: import-linter's contracts (pyproject.toml) pass on the tree, and an upward
import — the core reaching into an agent, an agent into the graph's wiring — fails them."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / ".ci" / "lint-imports"


def lint(tree: Path) -> subprocess.CompletedProcess:
    env_bin = str(Path(sys.executable).parent)
    return subprocess.run(["bash", str(tree / ".ci" / "lint-imports")], capture_output=True, text=True, timeout=300,
                          env={"PATH": f"{env_bin}:/usr/bin:/bin"})


def copy_tree(dest: Path) -> Path:
    for name in ("sovereign_kernel", "agents", "graph", "prompts", ".ci"):
        # symlinks kept: sovereign_kernel/agents etc. point at the top-level packages, as in the tree
        shutil.copytree(ROOT / name, dest / name, symlinks=True, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", dest / "pyproject.toml")
    return dest


def test_the_contracts_pass_on_the_tree():
    out = lint(ROOT)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "Contracts: 5 kept, 0 broken." in out.stdout


def test_a_plain_lint_imports_at_the_root_sees_the_installed_layout():
    env_bin = Path(sys.executable).parent
    out = subprocess.run([str(env_bin / "lint-imports"), "--no-cache"], cwd=ROOT, capture_output=True, text=True,
                         timeout=300, env={"PATH": f"{env_bin}:/usr/bin:/bin"})
    assert out.returncode == 0 and "Contracts: 5 kept, 0 broken." in out.stdout, out.stdout + out.stderr
    for pkg in ("agents", "graph", "prompts"):
        link = ROOT / "sovereign_kernel" / pkg
        assert link.is_symlink() and link.resolve() == (ROOT / pkg).resolve()


@pytest.mark.parametrize(("probe", "contract"), [
    ("sovereign_kernel/verification/_probe.py", "The core never imports the agents"),
    ("agents/_probe.py", "Agents never import the graph's wiring"),
])
def test_an_upward_import_breaks_a_contract(tmp_path, probe, contract):
    tree = copy_tree(tmp_path)
    target = {"sovereign_kernel": "from sovereign_kernel.agents import retriever\n",
              "agents": "from sovereign_kernel.graph import build\n"}[probe.split("/")[0]]
    (tree / probe).write_text(target)
    out = lint(tree)
    assert out.returncode != 0
    assert contract in out.stdout and "BROKEN" in out.stdout
