"""Where a paper appeared, when its arXiv record says so: its ``journal_ref``, else its comment.

Conservative by design — a venue shown in a report's references is taken at the authors' word, so
it is read only where they state it:

1. ``journal_ref`` (arXiv's field for the published version), as written;
2. in the comment (``"Accepted at NeurIPS 2023"``, ``"ACL 2024 camera-ready"``), one clause at a
   time (clauses split at ``;`` and sentence ends): ``accepted / published / to appear / presented
   at|to|in|by|for <venue>``, the venue a known acronym, a year or a journal's name; or a known
   venue acronym followed by a year (``"ECCV 2022"``, ``"ICML2024"``).

A clause that says the paper is *submitted*, *under review*, *withdrawn*, *rejected*, that it
compares or extends another version (``"an extension of our ICML 2023 paper"``), names a paper
style (``"NeurIPS 2024 style"``) or a challenge won (``"first place in CVPR 2024 Workshop
Challenge"``) gives no venue;
neither do page and figure counts, links, or a bare name with no year or statement
(``"It can be accepted IJCNN"``). None when nothing qualifies.
"""

from __future__ import annotations

import re
from types import MappingProxyType

MAX_VENUE_CHARS = 120  # a longer "venue" is a sentence, not a venue name

# Venue acronyms as authors write them (matched case-insensitively, shown in this spelling).
ACRONYMS = (
    "NeurIPS", "NIPS", "ICML", "ICLR", "CVPR", "ICCV", "ECCV", "WACV", "BMVC", "ACCV", "AAAI", "IJCAI", "ECAI",
    "ACL", "EMNLP", "NAACL", "COLING", "EACL", "AACL", "LREC", "INTERSPEECH", "ICASSP", "KDD", "WWW", "SIGIR",
    "CIKM", "WSDM", "ICDM", "SDM", "RecSys", "CCS", "NDSS", "ACSAC", "ESORICS", "AsiaCCS", "EuroS&P", "USENIX Security",
    "MICCAI", "ISBI", "ICME", "ACM MM", "ACMMM", "SIGGRAPH", "SIGGRAPH Asia", "ICRA", "IROS", "CoRL", "RSS",
    "AISTATS", "UAI", "COLT", "ALT", "ICIP", "IJCNN", "ECML", "PAKDD", "TPAMI", "IJCV", "TIP", "TIFS", "TNNLS",
    "TMLR", "JMLR", "TDSC", "TKDE", "TMM", "TCSVT", "FSE", "ICSE", "ASE", "ISSTA", "DAC", "MLSys", "CHI", "UIST",
    "ICWSM", "3DV", "ICPR", "ICONIP", "PRCV", "ACML", "ECIR", "AAMAS", "INFOCOM", "Findings of EMNLP",
    "Findings of ACL",
)
_ACRONYM_ALT = "|".join(re.escape(a).replace(r"\ ", r"\s*") for a in sorted(ACRONYMS, key=len, reverse=True))
_CANONICAL = MappingProxyType({re.sub(r"\s+", "", a).lower(): a for a in ACRONYMS})
_YEAR = r"(?:19|20)\d\d"

# "<ACRONYM> 2024", "ICML2024", "AAAI'2026", "AAAI-25" is not a year: left alone
# (the acronym may close a parenthesis: "Machine Learning (ICML) 2025")
_ACRONYM_YEAR_RE = re.compile(rf"(?<![\w-])({_ACRONYM_ALT})\)?\s*'?\s*({_YEAR})(?!\d)", re.I)
# the statement, words that may stand before its preposition ("accepted for presentation at",
# "to appear as a full paper in", "accepted to be published as part of"), then the venue
_STATED_RE = re.compile(
    r"\b(?:accepted|to\s+appear|appear(?:s|ing)?|published|presented)"
    r"(?:\s+(?:and|will|to|be|appear|publish|published|presented|as|a|an|full|short|long|form|main|conference|paper"
    r"|for|publication|presentation"
    r"|oral|poster|spotlight))*"
    r"\s+(?:at|to|in|by|for|on|as\s+part\s+of)\s+(?:the\s+)?(?P<venue>.+)", re.I)
_NEGATIVE_RE = re.compile(
    r"\b(?:submitted|submission|under\s+review|in\s+review|review(?:ing)?\s+(?:at|for|of)|withdrawn|rejected"
    r"|extension\s+of|extended\s+(?:version|from)|compared\s+to|version\s+of\s+(?:our|the)|initially|previous"
    r"|preliminary|earlier|style|template|formatted|rolling\s+review|ARR|won|winner|winning|place|challenge"
    r"|competition)\b", re.I)
_JOURNALISH_RE = re.compile(r"\b(?:transactions|journal|proceedings|conference|symposium|workshop|letters)\b", re.I)
# what ends a venue inside its clause: "as a spotlight", a link, a presentation type
_VENUE_END_RE = re.compile(r"\s+as\s+an?\s+|\s+with\s+|\s+https?://|\s+\(?(?:oral|spotlight|poster|highlight)\b"
                           r"|\s+/\s+|\s+and\s+(?:will|is|has)\b", re.I)
# after a comma, the venue's name goes on ("Transactions on Audio, Speech, and Language Processing")
# only with a capitalised word that starts no new item
_GOES_ON_RE = re.compile(r"\s*(?:and\s+)?(?!(?:Code|Project|Page|Website|GitHub|Oral|Spotlight|Poster|Camera|Personal"
                         r"|Copyright|Link|URL|DOI|Final|Full|Extended|Main|This|The|Findings|Volume|Vol|Article"
                         r"|Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)[a-z]*\b)[A-Z]")
_CLAUSE_SPLIT_RE = re.compile(r";|\.\s+(?=[A-Za-z0-9\[])")


def _tidy(text: str) -> str:
    text = " ".join(text.split()).strip(" .,:;-")
    # ICML2024 / AAAI'2026 -> ICML 2024 / AAAI 2026
    return re.sub(rf"([A-Za-z])\s*'?\s*({_YEAR})(?!\d)", r"\1 \2", text)


def _known(text: str) -> bool:
    return bool(re.search(rf"(?<![\w-])(?:{_ACRONYM_ALT})(?![\w-])", text, re.I) or re.search(_YEAR, text)
                or _JOURNALISH_RE.search(text))


def _stated(clause: str) -> str | None:
    """The venue of an ``accepted at <venue>`` clause, if it names one."""
    m = _STATED_RE.search(clause)
    if not m:
        return None
    first, *rest = _VENUE_END_RE.split(m.group("venue"), maxsplit=1)[0].split(",")
    venue = first
    for part in rest:  # a year ends a venue's name; so does a comma before a new item ("5 pages", "code ...")
        if re.search(_YEAR, venue) or venue.rstrip().endswith(")") or not _GOES_ON_RE.match(part):
            break
        venue += "," + part
    venue = re.sub(r"\s*\((?:oral|spotlight|poster|highlight|doi)[^)]*\)\s*$", "", venue, flags=re.I)
    venue = re.sub(r"\s*\([^)]*$", "", venue)  # a parenthesis the clause cut open: "(v2", "(Springer"
    venue = _tidy(venue)
    if not venue or len(venue) > MAX_VENUE_CHARS or not _known(venue) or re.search(r"\bpages?\b", venue, re.I):
        return None
    return venue


def _acronym_year(clause: str) -> str | None:
    """``ICML 2025`` in a clause that makes no statement; a workshop or the Findings track it names
    is kept (``"... (NeurIPS 2025) Workshop"`` is no NeurIPS paper)."""
    m = _ACRONYM_YEAR_RE.search(clause)
    if not m:
        return None
    name = _CANONICAL.get(re.sub(r"\s+", "", m.group(1)).lower(), m.group(1))
    venue = f"{name} {m.group(2)}"
    if re.search(r"\bworkshops?\b", clause, re.I):
        return f"{venue} Workshop"
    if re.search(r"\bfindings\b", clause, re.I) and not name.startswith("Findings"):
        return f"Findings of {venue}"
    return venue


def venue_from_comment(comment: str | None) -> str | None:
    """The venue an arXiv comment states (see the module doc), or None."""
    if not isinstance(comment, str) or not comment.strip():
        return None
    for clause in _CLAUSE_SPLIT_RE.split(" ".join(comment.split())):  # arXiv wraps comments: lines mean nothing
        if not clause or _NEGATIVE_RE.search(clause):
            continue
        # a statement whose venue does not qualify (too long, a shared task) is not searched for an
        # acronym either: "accepted at a shared task colocated with EACL 2026" is no EACL paper
        venue = _stated(clause) if _STATED_RE.search(clause) else _acronym_year(clause)
        if venue:
            return venue
    return None


def paper_venue(journal_ref: str | None, comment: str | None) -> str | None:
    """``journal_ref`` when arXiv has one (as written, one line), else the comment's venue, else None."""
    if isinstance(journal_ref, str) and (ref := " ".join(journal_ref.split())):
        return ref[:MAX_VENUE_CHARS * 2]
    return venue_from_comment(comment)
