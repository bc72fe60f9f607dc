"""PNG bytes that depend on the drawing alone (``render_png``), and their atomic write (``write_png``):
what every figure of a report (``figures.REPORT_FIGURES``) is drawn and saved with.

Drawn with matplotlib's object API on an Agg canvas (no pyplot, no display, the caller's backend
untouched), under matplotlib's default style with a fixed size, dpi and font, and saved without a
``Software`` stamp, so the same drawing gives the same bytes. matplotlib is imported inside
``render_png`` so that importing ``sovereign_kernel`` stays fast.
"""

from __future__ import annotations

import io
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from types import MappingProxyType
from typing import Any

__all__ = ["render_png", "write_png", "FIGURE_DPI"]

FIGURE_DPI = 100

# Applied on top of matplotlib's defaults: nothing in a user's matplotlibrc changes the bytes, and
# paper ids are never parsed as mathtext (a ``$`` in untrusted text stays a ``$``).
_RC = MappingProxyType({
    "font.family": "DejaVu Sans",
    "font.size": 9,
    "text.parse_math": False,
    "svg.hashsalt": "sovereign",
    "path.simplify": True,
})


def render_png(draw: Callable[[Any], None], size_in: tuple[float, float], dpi: int = FIGURE_DPI) -> bytes:
    """PNG bytes of a figure ``draw(fig)`` fills: matplotlib's default style under ``_RC``, a fixed
    size and dpi, no ``Software`` stamp — the same drawing gives the same bytes."""
    import matplotlib
    import matplotlib.style
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    with matplotlib.style.context("default"), matplotlib.rc_context(dict(_RC)):
        fig = Figure(figsize=size_in, dpi=dpi)
        FigureCanvasAgg(fig)
        draw(fig)
        buf = io.BytesIO()
        fig.savefig(buf, format="png", dpi=dpi, metadata={"Software": None})
    return buf.getvalue()


def write_png(path: str | Path, data: bytes) -> Path:
    """Write ``data`` to ``path`` (path first, like ``export.write_atomic``), replaced atomically, its
    parent made when missing; returns the path."""
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    # A temporary name of this writer's own: two runs writing one directory must not share it.
    fd, tmp = tempfile.mkstemp(dir=out.parent, prefix=f".{out.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.chmod(tmp, 0o644)
        os.replace(tmp, out)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return out
