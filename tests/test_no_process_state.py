"""No hidden process-wide state: what decides a run's behaviour lives on an object someone holds
(a ``Kernel``, its ``Workspace``, a run's context), never in a module.

Scanned statically, every module of the package: no module-level mutable containers, no
``global`` rebinding, no ``setattr`` on import, and ``lru_cache`` only on the few pure loaders of
constant data listed here (package files and installed versions, which cannot change under a run).
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = [ROOT / "sovereign_kernel", ROOT / "agents", ROOT / "graph", ROOT / "prompts"]
MUTABLE_CALLS = {"dict", "list", "set", "defaultdict", "OrderedDict", "deque", "Counter", "WeakValueDictionary"}
PURE_MEMOS = {
    "sovereign_kernel/verification/calibration.py:load_calibration",  # package data file
    "sovereign_kernel/publishing/manifest.py:_version",  # installed package versions
    "sovereign_kernel/llm/response_cache.py:_schema_json",  # a pydantic class's JSON Schema
    "sovereign_kernel/tribunal/sufficiency.py:load_sufficiency_model",  # package data file
}


def modules():
    for base in PACKAGES:
        for path in sorted(base.rglob("*.py")):
            yield path, ast.parse(path.read_text(), str(path))


def _mutable(value: ast.AST) -> bool:
    if isinstance(value, (ast.Dict, ast.List, ast.Set, ast.DictComp, ast.ListComp, ast.SetComp)):
        return True
    if isinstance(value, ast.Call):
        func = value.func
        name = func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else ""
        return name in MUTABLE_CALLS
    return False


def violations() -> list[str]:
    found = []
    for path, tree in modules():
        rel = path.relative_to(ROOT).as_posix()
        for node in tree.body:
            targets = node.targets if isinstance(node, ast.Assign) else [node.target] if isinstance(node, ast.AnnAssign) else []
            value = getattr(node, "value", None)
            if targets and value is not None and _mutable(value):
                names = [t.id for t in targets if isinstance(t, ast.Name)]
                if names != ["__all__"]:
                    found.append(f"{rel}:{node.lineno} module-level mutable {names}")
            if isinstance(node, ast.Expr) and isinstance(node.value, ast.Call) and \
                    getattr(node.value.func, "id", "") == "setattr":
                found.append(f"{rel}:{node.lineno} setattr at import")
        for node in ast.walk(tree):
            if isinstance(node, ast.Global):
                found.append(f"{rel}:{node.lineno} global {node.names}")
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                for dec in node.decorator_list:
                    target = dec.func if isinstance(dec, ast.Call) else dec
                    name = target.id if isinstance(target, ast.Name) else getattr(target, "attr", "")
                    if name in ("lru_cache", "cache") and f"{rel}:{node.name}" not in PURE_MEMOS:
                        found.append(f"{rel}:{node.lineno} {name} on {node.name}")
    return found


def test_no_module_holds_mutable_state():
    assert violations() == []


def test_the_scan_finds_what_it_forbids(tmp_path, monkeypatch):
    probe = tmp_path / "probe"
    probe.mkdir()
    (probe / "bad.py").write_text("import functools\n_cache = {}\nseen: list = []\n_lock = dict()\n"
                                  "def f():\n    global _cache\n\n@functools.lru_cache\ndef g(x):\n    return x\n")
    monkeypatch.setattr(__import__(__name__), "PACKAGES", [probe])
    monkeypatch.setattr(__import__(__name__), "ROOT", tmp_path)
    got = violations()
    assert len(got) == 5, got
