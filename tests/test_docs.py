"""The README tells the truth about the code: its layout names every module, and its pipeline
diagram names every node of the graph (so a new module or node fails here until it is documented)."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()


def section(title: str) -> str:
    return README.split(f"## {title}\n", 1)[1].split("\n## ", 1)[0]


def test_the_layout_names_every_package_and_module():
    layout = section("Layout")
    core = ROOT / "sovereign_kernel"
    # (sovereign_kernel/agents, graph, prompts are symlinks to the top-level packages, checked below)
    for package in sorted(p for p in core.iterdir() if (p / "__init__.py").is_file() and not p.is_symlink()):
        assert f"{package.name}/" in layout, package.name
        for module in sorted(package.glob("*.py")):
            if module.name != "__init__.py":
                assert module.name in layout, f"{package.name}/{module.name} is not in the README's layout"
    for top in ("agents", "graph", "prompts"):
        for module in sorted((ROOT / top).glob("*.py")):
            stem = module.stem
            if stem not in ("__init__", "common", "blocks"):
                assert re.search(rf"\b{stem}\b", layout), f"{top}/{module.name} is not in the README's layout"


def test_the_pipeline_diagram_names_every_node():
    from sovereign_kernel.graph.build import build_extractor, build_graph, build_retriever

    diagram = section("The pipeline").split("```")[1]
    nodes = set(build_graph().get_graph().nodes) | set(build_retriever().nodes) | set(build_extractor().nodes)
    for node in sorted(nodes - {"__start__", "__end__"}):
        if node in ("skeptic", "validator", "synthesizer"):
            node = node.upper()
        assert node in diagram, f"node {node!r} is not in the README's pipeline diagram"
