"""Ids and content hashes: what makes the same input give the same id, and any change a new one."""

from __future__ import annotations

import hashlib
import json
import re
from typing import Any, Iterable

_VERSION_RE = re.compile(r"^(?P<base>.+?)v(?P<version>\d+)$")
_ARXIV_PREFIXES = ("http://arxiv.org/abs/", "https://arxiv.org/abs/", "arXiv:", "arxiv:")


def split_arxiv_version(raw_id: str) -> tuple[str, int | None]:
    """``2405.18770v6`` -> (``2405.18770``, 6); ``astro-ph/0601001`` -> (itself, None)."""
    raw_id = raw_id.strip()
    for prefix in _ARXIV_PREFIXES:
        if raw_id.startswith(prefix):
            raw_id = raw_id[len(prefix):]
    m = _VERSION_RE.match(raw_id)
    if m and (m.group("base")[-1].isdigit()):
        return m.group("base"), int(m.group("version"))
    return raw_id, None


def canonical_json(data: Any) -> str:
    """Sorted keys, no whitespace: equal data, equal text, equal hash."""
    return json.dumps(data, sort_keys=True, ensure_ascii=False, separators=(",", ":"))


def paper_content_hash(paper_id: str, title: str, abstract: str) -> str:
    """First 16 hex chars of sha256 over the canonical JSON of (id, title, abstract)."""
    canonical = json.dumps([paper_id, title, abstract], ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()[:16]


def corpus_content_hash(content_hashes: Iterable[tuple[str, str]]) -> str:
    """sha256 over (paper id, content hash) pairs' hashes in id order: same content -> same hash."""
    h = hashlib.sha256()
    for _, digest in sorted(content_hashes):
        h.update(digest.encode("ascii"))
        h.update(b"\n")
    return h.hexdigest()


def document_hash(data: Any) -> str:
    """``sha256:<hex>`` over a JSON document's canonical form (a report minus its timestamps)."""
    return "sha256:" + hashlib.sha256(canonical_json(data).encode("utf-8")).hexdigest()


def report_id(question: str, corpus_hash: str, settings: dict, body: dict) -> str:
    """Derived from the inputs *and* the content: the same run gives the same id (publishing is
    idempotent), while different content — say, after a software change — never takes an old id."""
    digest = hashlib.sha256(canonical_json([question, corpus_hash, settings, body]).encode()).hexdigest()
    return f"SRK-{digest[:12]}"


def is_doi(paper_id: str) -> bool:
    """A library paper's id is its DOI when the PDF gave one (``10.1128/msphere.00109-24``)."""
    return paper_id.startswith("10.") and "/" in paper_id


def normal_doi(value: object) -> str | None:
    """A DOI as ids hold it — lower-case, without ``https://doi.org/`` — or None when it is not one."""
    if not isinstance(value, str):
        return None
    doi = value.strip().lower()
    for prefix in ("https://doi.org/", "http://doi.org/", "https://dx.doi.org/", "doi:"):
        doi = doi.removeprefix(prefix)
    return doi if is_doi(doi) else None


_ARXIV_ID = re.compile(r"^(\d{4}\.\d{4,5}|[a-z][a-z\-]*(\.[A-Z]{2})?/\d{7})$")


def is_arxiv_id(paper_id: str) -> bool:
    """``2402.19150`` or ``astro-ph/0601001`` (without version)."""
    return bool(_ARXIV_ID.match(paper_id))


def source_label(paper_id: str) -> str:
    """How a report names a source: ``arXiv:2402.19150``, ``doi:10.1128/…``, or the id itself (a PDF
    that printed neither, ``pdf-3f2a…``; a record of the user's own)."""
    if is_doi(paper_id):
        return f"doi:{paper_id}"
    return f"arXiv:{paper_id}" if is_arxiv_id(paper_id) else paper_id


def source_url(paper_id: str, url: str = "") -> str:
    """A link that works for the source: its recorded URL, else the DOI resolver or arXiv's abstract
    page; empty when there is neither (a link to nowhere is worse than none)."""
    if url:
        return url
    if is_doi(paper_id):
        return f"https://doi.org/{paper_id}"
    return f"https://arxiv.org/abs/{paper_id}" if is_arxiv_id(paper_id) else ""


def claim_number(position: int) -> str:
    """A claim's number in its report, as report.md prints it: the first claim is ``C1``."""
    return f"C{position + 1}"


def claim_labels(claims) -> dict[str, str]:
    """Claim id → its number (C1, C2, ...) in the order of the report's claims table."""
    return {c.id: claim_number(i) for i, c in enumerate(claims)}


def resolve_claim(name: str, claim_ids: list[str]) -> str | None:
    """The id of the claim ``name`` names among a report's ``claim_ids`` (in report order): its id, or
    its number in the report (``C3``, any case); None when it names none of them."""
    name = name.strip()
    if name in claim_ids:
        return name
    m = re.fullmatch(r"[Cc](\d+)", name)
    if m and 1 <= int(m.group(1)) <= len(claim_ids):
        return claim_ids[int(m.group(1)) - 1]
    return None


def first_version_month(arxiv_id: str, dated: str | None = None) -> str | None:
    """``YYYY-MM`` of a new-scheme arXiv id's first version (arXiv numbers a paper by the month it
    was first submitted: ``2311.05608`` → ``2023-11``), or None for other ids. With ``dated`` (a
    later version's date) it is None when that date is already in the id's month."""
    m = re.fullmatch(r"(\d{2})(\d{2})\.\d{4,5}", split_arxiv_version(arxiv_id)[0])
    if not m or not 1 <= int(m.group(2)) <= 12:
        return None
    month = f"20{m.group(1)}-{m.group(2)}"
    return None if dated and dated.startswith(month) else month
