"""What a PDF's pages say, read with pypdfium2 directly (not through the kernel's parser): the tests'
independent check that a claim's page is the page its text is on."""

from __future__ import annotations

import re
import unicodedata
from pathlib import Path

import pypdfium2 as pdfium


def squash(text: str) -> str:
    """Letters and digits only, lower-cased, ligatures expanded: line breaks, hyphenation and the
    PDF's soft-hyphen marks (U+FFFE in PDFium's text) cannot make two renderings differ."""
    return re.sub(r"[^0-9a-z]", "", unicodedata.normalize("NFKC", text).lower())


def page_texts(pdf_path: Path) -> list[str]:
    pdf = pdfium.PdfDocument(pdf_path)
    try:
        out = []
        for i in range(len(pdf)):
            page = pdf[i]
            textpage = page.get_textpage()
            out.append(textpage.get_text_range())
            textpage.close()
            page.close()
        return out
    finally:
        pdf.close()


def pages_holding(pdf_path: Path, text: str, chars: int = 40) -> list[int]:
    """The 1-based pages whose text holds the first ``chars`` letters/digits of ``text``."""
    probe = squash(text)[:chars]
    assert len(probe) >= 20, text
    return [i + 1 for i, t in enumerate(page_texts(pdf_path)) if probe in squash(t)]
