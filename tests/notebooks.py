"""Running the example notebooks as a reader would: a fresh Jupyter kernel (nbclient + ipykernel) in a
working directory of the test's choosing, offline, then the executed notebook converted to HTML with
nbconvert — what a reader who exports it (or a docs site) gets."""

from __future__ import annotations

import base64
import os
import struct
from html.parser import HTMLParser
from pathlib import Path

import nbformat
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"


def execute(name: str, cwd: Path, home: Path, timeout: int = 300) -> nbformat.NotebookNode:
    """Run ``examples/<name>`` top to bottom with ``cwd`` as its directory and ``home`` as SOVEREIGN_HOME;
    a failing cell raises ``CellExecutionError``."""
    nb = nbformat.read(EXAMPLES / name, as_version=4)
    nbformat.validate(nb)
    assert not [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])], \
        f"{name} is committed with outputs"
    env = {**os.environ, "SOVEREIGN_HOME": str(home), "MPLBACKEND": "module://matplotlib_inline.backend_inline"}
    env.pop("NVIDIA_API_KEY", None)
    client = NotebookClient(nb, timeout=timeout, kernel_name="python3", allow_errors=False,
                            resources={"metadata": {"path": str(cwd)}})
    client.execute(env=env)
    return nb


def code_cells(nb) -> list:
    return [c for c in nb.cells if c.cell_type == "code"]


def outputs(cell) -> list[dict]:
    return [o for o in cell.get("outputs", []) if o.get("output_type") in {"display_data", "execute_result", "stream"}]


def data(cell, mime: str) -> str:
    return "\n".join(str(o.get("data", {}).get(mime, "")) for o in outputs(cell))


def stdout(cell) -> str:
    return "".join(o.get("text", "") for o in outputs(cell) if o.get("output_type") == "stream")


def to_html(nb) -> str:
    """The executed notebook as one HTML page (nbconvert's HTMLExporter, its default template)."""
    from nbconvert import HTMLExporter

    body, _ = HTMLExporter().from_notebook_node(nb)
    return body


class _Images(HTMLParser):
    def __init__(self):
        super().__init__()
        self.srcs: list[str] = []

    def handle_starttag(self, tag, attrs):
        if tag == "img":
            self.srcs.append(dict(attrs).get("src") or "")


def inline_pngs(page: str) -> list[tuple[int, int]]:
    """(width, height) of every PNG the page carries inline as a ``data:`` URI, in page order."""
    parser = _Images()
    parser.feed(page)
    sizes = []
    for src in parser.srcs:
        if src.startswith("data:image/png;base64,"):
            png = base64.b64decode(src.split(",", 1)[1])
            assert png[:8] == b"\x89PNG\r\n\x1a\n" and png[12:16] == b"IHDR"
            sizes.append(struct.unpack(">II", png[16:24]))
    return sizes
