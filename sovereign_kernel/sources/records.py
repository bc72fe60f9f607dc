"""One corpus line -> a ``Paper``, or the reason it cannot be one.

Two record layouts are read:

- this project's: ``{"id", "title", "abstract", "authors": [...], "categories": [...],
  "published": "YYYY-MM-DD", "version"?, "doi"?, "url"?, "venue"? | "journal_ref"? | "comment"?}``;
- the arXiv metadata snapshot users download (``arxiv-metadata-oai-snapshot.json``): ``authors``
  as one string (``authors_parsed`` [[last, first, suffix]] preferred when present), ``categories``
  space-separated, ``versions`` [{"version": "v2", "created": RFC 2822 date}] (the paper's date is
  its first version's, its version the latest), ``update_date`` (the date when no version dates it),
  ``journal-ref`` and ``comments`` (the venue, ``sources.venue``).

Ids written as JSON numbers (a spreadsheet or dataframe export turns ``0704.0001`` into
``704.0001`` and ``2405.18770`` into ``2405.1877``) are recovered from the number's literal text —
never through a binary float, which could not tell ``2405.1877`` from ``2405.18770`` apart from its
printing — by restoring the dropped zeros the arXiv scheme implies: a 4-digit YYMM (left-padded),
then 4 digits (up to 1412) or 5 (from 1501) after the dot (right-padded). A number with more digits
than the scheme allows, or without a valid YYMM, is no arXiv id: the line is skipped, with that reason.
"""

from __future__ import annotations

import json
import re
from datetime import timezone
from email.utils import parsedate_to_datetime

from sovereign_kernel.domain.ids import (
    first_version_month,
    normal_doi,
    paper_content_hash,
    source_url,
    split_arxiv_version,
)
from sovereign_kernel.domain.schemas import Paper
from sovereign_kernel.sources.latex_text import latex_to_text
from sovereign_kernel.sources.venue import paper_venue

NUMBER_ID = "id is a number that is not an arXiv id"
_ISO_DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}")
_SHORT_YYMM_RE = re.compile(r"^(\d{3})\.(\d{4,5})((?:v\d+)?)$")  # a string id that lost its leading zero


class _Number:
    """A JSON number as its literal text (``parse_float``/``parse_int``): an id must not pass through
    a float. Not a ``str``, so a number where text belongs (a title, a date) is still refused."""

    __slots__ = ("text",)

    def __init__(self, text: str):
        self.text = text


class Skip(Exception):
    """Why a line is not a paper (the reason is what the corpus counts and reports)."""


def normalise_whitespace(text: str) -> str:
    """Collapse every run of whitespace (incl. newlines) to one space and strip."""
    return " ".join(text.split())


def arxiv_id_from_number(literal: str) -> str | None:
    """The arXiv id a JSON number stood for (see the module doc), or None."""
    yymm, dot, num = literal.partition(".")
    if not dot or not yymm.isdigit() or not num.isdigit() or len(yymm) > 4:
        return None
    yymm = yymm.zfill(4)
    year, month = int(yymm[:2]), int(yymm[2:])
    if not (1 <= month <= 12) or not (7 <= year):  # the YYMM.NNNN scheme began in April 2007
        return None
    width = 4 if yymm < "1501" else 5
    if len(num) > width:
        return None
    return f"{yymm}.{num.ljust(width, '0')}"


def _paper_id(raw: object) -> tuple[str, int | None]:
    if isinstance(raw, _Number):
        if (fixed := arxiv_id_from_number(raw.text)) is None:
            raise Skip(NUMBER_ID)
        return fixed, None
    if not isinstance(raw, str) or not raw.strip():
        raise Skip("no id")
    if m := _SHORT_YYMM_RE.match(raw.strip()):  # "704.0001" kept as text after a number round trip
        raw = (arxiv_id_from_number(f"{m.group(1)}.{m.group(2)}") or raw.strip()) + m.group(3)
    paper_id, version = split_arxiv_version(raw)
    if not paper_id:
        raise Skip("no id")
    return paper_id, version


def _names(rec: dict) -> list[str]:
    parsed = rec.get("authors_parsed")
    if isinstance(parsed, list) and parsed and all(isinstance(a, list) and a and all(isinstance(x, str) for x in a)
                                                   for a in parsed):
        # [last, first, suffix]: "first last suffix"
        return [normalise_whitespace(" ".join([*a[1:2], a[0], *a[2:3]])) for a in parsed if a[0].strip()]
    value = rec.get("authors")
    if value is None:
        return []
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return [v.strip() for v in value if v.strip()]
    if isinstance(value, str):  # the snapshot's "A. One, B. Two and C. Three"
        return [n.strip() for n in re.split(r",|\band\b", normalise_whitespace(value)) if n.strip()]
    raise Skip("authors neither a list nor a string")


def _categories(value: object) -> list[str]:
    if value is None:
        return []
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return [v.strip() for v in value if v.strip()]
    if isinstance(value, str):  # the snapshot's "cs.CV cs.LG"
        return value.split()
    raise Skip("categories neither a list nor a string")


def _rfc_date(value: object) -> str | None:
    if not isinstance(value, str):
        return None
    try:
        return parsedate_to_datetime(value).astimezone(timezone.utc).date().isoformat()
    except (TypeError, ValueError, IndexError):
        return None


def _dated_versions(rec: dict) -> tuple[str | None, int | None]:
    """(first version's date, latest version number) of a snapshot record's ``versions``."""
    versions = rec.get("versions")
    if not isinstance(versions, list) or not versions:
        return None, None
    numbers = [int(v["version"].strip().lstrip("v")) for v in versions
               if isinstance(v, dict) and isinstance(v.get("version"), str) and v["version"].strip().lstrip("v").isdigit()]
    # only v1's date says when the paper appeared (a snapshot trimmed to its latest version lists no v1)
    first = next((v.get("created") for v in versions if isinstance(v, dict) and v.get("version") == "v1"), None)
    return _rfc_date(first), max(numbers) if numbers else None


def _version(rec: dict) -> int | None:
    version = rec.get("version")
    if isinstance(version, str) and version.strip().lstrip("v").isdigit():
        return int(version.strip().lstrip("v"))
    if isinstance(version, _Number) and version.text.isdigit():
        return int(version.text)
    if version is not None:
        raise Skip("version not a number")
    return None


def _url(value: object) -> str:
    """A record's own link, when it is an http(s) URL (anything else is not a link to show)."""
    return value.strip() if isinstance(value, str) and re.match(r"^https?://\S+$", value.strip()) else ""


def _venue(rec: dict) -> str | None:
    """A record's ``venue`` (the demo corpus keeps the one its comment states), else the one its
    ``journal_ref`` / ``comment`` (the snapshot's ``journal-ref`` / ``comments``) states."""
    if isinstance(rec.get("venue"), str) and (venue := normalise_whitespace(rec["venue"])):
        return venue
    text = {k: v if isinstance(v, str) else None for k, v in
            (("ref", rec.get("journal_ref", rec.get("journal-ref"))), ("comment", rec.get("comment", rec.get("comments"))))}
    return paper_venue(text["ref"], text["comment"])


def parse_record(raw: bytes, source: str) -> Paper:
    """One JSONL line -> Paper; raises ``Skip`` with the reason it is not one."""
    try:
        rec = json.loads(raw, parse_float=_Number, parse_int=_Number)
    except UnicodeDecodeError:
        raise Skip("not UTF-8") from None
    except ValueError:
        raise Skip("not JSON") from None
    if not isinstance(rec, dict):
        raise Skip("not a JSON object")
    paper_id, id_version = _paper_id(rec.get("id"))
    title, abstract = rec.get("title"), rec.get("abstract")
    # authors' LaTeX (42.07\%, $\ell_2$) shown as the text it renders to; offsets index this text
    title = latex_to_text(normalise_whitespace(title)) if isinstance(title, str) else ""
    abstract = latex_to_text(normalise_whitespace(abstract)) if isinstance(abstract, str) else ""
    if not title:
        raise Skip("no title")
    if not abstract:
        raise Skip("no abstract")
    authors, categories = _names(rec), _categories(rec.get("categories"))
    published = rec.get("published")
    if published is not None and not isinstance(published, str):
        raise Skip("published not a string")
    first_date, latest = _dated_versions(rec)
    published = (published or "").strip() or first_date
    if not published and isinstance(rec.get("update_date"), str) and _ISO_DATE_RE.match(rec["update_date"]):
        published = rec["update_date"].strip()
    version = id_version if id_version is not None else (_version(rec) or latest)
    if not first_date and version and version > 1:
        # a later version's date is not when the paper appeared: a new-scheme arXiv id is the month of
        # its first version (2311.05608v3, dated 2025-01-19, first appeared 2023-11)
        published = first_version_month(paper_id, published) or published
    doi = normal_doi(rec.get("doi"))
    return Paper(venue=_venue(rec),
        id=paper_id, title=title, abstract=abstract, authors=authors, categories=categories,
        published=published or None, version=version,
        url=_url(rec.get("url")) or source_url(paper_id) or (source_url(doi) if doi else ""),
        source=source, doi=doi, content_hash=paper_content_hash(paper_id, title, abstract),
    )
