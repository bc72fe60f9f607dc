"""The report's figure: a real PNG of a fixed size, byte-identical for the same report, different
for a different one, and matplotlib stays out of ``import sovereign_kernel``."""

from __future__ import annotations

import struct
import subprocess
import sys
import zlib

import pytest

from conftest import COVERED_QUESTION, UNANSWERABLE_QUESTION
from sovereign_kernel.publishing.figures import FIGURE_SIZE_PX, tribunal_and_confidence_figure

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def png_chunks(data: bytes) -> list[tuple[bytes, bytes]]:
    assert data[:8] == PNG_SIGNATURE, "not a PNG"
    chunks, pos = [], 8
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos:pos + 4])
        kind, body = data[pos + 4:pos + 8], data[pos + 8:pos + 8 + length]
        (crc,) = struct.unpack(">I", data[pos + 8 + length:pos + 12 + length])
        assert zlib.crc32(kind + body) == crc, f"bad CRC in {kind!r}"
        chunks.append((kind, body))
        pos += 12 + length
    assert chunks[0][0] == b"IHDR" and chunks[-1][0] == b"IEND"
    return chunks


def png_size(data: bytes) -> tuple[int, int]:
    ihdr = png_chunks(data)[0][1]
    return struct.unpack(">II", ihdr[:8])


@pytest.fixture(scope="module")
def covered(run_research):
    return run_research(COVERED_QUESTION)


def test_figure_is_a_png_of_the_fixed_size_without_a_software_stamp(covered, tmp_path):
    path = tribunal_and_confidence_figure(covered.report, tmp_path / "sub" / "figure.png", manifest=covered.manifest)
    assert path == tmp_path / "sub" / "figure.png" and path.is_file()
    data = path.read_bytes()
    assert png_size(data) == FIGURE_SIZE_PX
    assert b"Software" not in b"".join(body for kind, body in png_chunks(data) if kind in {b"tEXt", b"iTXt", b"zTXt"})
    assert not list(tmp_path.glob("sub/*.tmp"))


def test_same_report_gives_identical_bytes_and_another_report_differs(covered, run_research, tmp_path):
    a = tribunal_and_confidence_figure(covered.report, tmp_path / "a.png", manifest=covered.manifest).read_bytes()
    b = tribunal_and_confidence_figure(covered.report, tmp_path / "b.png", manifest=covered.manifest).read_bytes()
    assert a == b

    # The same run with half its claims unverified at lower confidence: a different picture.
    claims = [c.model_copy(update={"grounded": i % 2 == 0, "confidence": c.confidence if i % 2 == 0 else 0.2})
              for i, c in enumerate(covered.report.claims)]
    changed = covered.report.model_copy(update={"claims": claims})
    c = tribunal_and_confidence_figure(changed, tmp_path / "c.png", manifest=covered.manifest).read_bytes()
    assert c != a and png_size(c) == FIGURE_SIZE_PX

    # A run that found nothing (no claims, tribunal 0): still a figure of the same size, and different.
    empty = run_research(UNANSWERABLE_QUESTION)
    d = tribunal_and_confidence_figure(empty.report, tmp_path / "d.png", manifest=empty.manifest).read_bytes()
    assert d != a and png_size(d) == FIGURE_SIZE_PX


def test_untrusted_paper_ids_and_many_papers_draw(covered, tmp_path):
    claims = []
    for i, c in enumerate(covered.report.claims):
        pid = "$\\frac{1}{0}$ <script>" if i == 0 else f"paper-{i:02d}"  # mathtext would fail on this
        claims.append(c.model_copy(update={"paper_id": pid}))
    hostile = covered.report.model_copy(update={"claims": claims})
    data = tribunal_and_confidence_figure(hostile, tmp_path / "h.png", threshold=9.9,
                                          verify_threshold=0.99).read_bytes()
    assert png_size(data) == FIGURE_SIZE_PX


def test_importing_the_package_does_not_import_matplotlib():
    code = ("import sys, sovereign_kernel, sovereign_kernel.publishing.figures, sovereign_kernel.publishing.html, "
            "sovereign_kernel.publishing.literature_figure, sovereign_kernel.publishing.manifest; "
            "assert 'matplotlib' not in sys.modules, 'matplotlib imported eagerly'")
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)
