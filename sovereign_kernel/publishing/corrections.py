"""``correction-record-v1``: the append-only corrections of a published report, as manifest
data and as the report's ``## Corrections`` section. The store keeps the rows; this renders them."""

from __future__ import annotations

import re

from sovereign_kernel.domain.ids import claim_labels
from sovereign_kernel.domain.schemas import CORRECTION_CONTRACT, CorrectionEntry, Report
from sovereign_kernel.publishing.markdown import escape_md

_SUMMARY_LINE = re.compile(r"^- Corrections: .*\(" + re.escape(CORRECTION_CONTRACT) + r"\)\.$", re.M)


def correction_status(kinds: list[str]) -> str:
    return "RETRACTED" if "RETRACTION" in kinds else ("CORRECTED" if kinds else "CURRENT")


def correction_record(entries: list[CorrectionEntry]) -> dict:
    """The manifest's ``corrections`` object for these entries (in id order)."""
    return {"contract": CORRECTION_CONTRACT, "status": correction_status([e.kind for e in entries]),
            "count": len(entries), "entries": [e.model_dump(mode="json") for e in entries]}


def render_corrections(markdown: str, report: Report, entries: list[CorrectionEntry]) -> str:
    """Update the manifest-summary line; add a retraction banner and a ``## Corrections`` section."""
    rec = correction_record(entries)
    line = f"- Corrections: {rec['status']}, {rec['count']} entries ({CORRECTION_CONTRACT})."
    markdown = _SUMMARY_LINE.sub(lambda _: line, markdown, count=1)
    if not entries:
        return markdown
    labels = claim_labels(report.claims)
    retraction = next((e for e in entries if e.kind == "RETRACTION"), None)
    if retraction:
        title, _, rest = markdown.partition("\n")
        banner = f"> **RETRACTED** on {retraction.created_at}: {escape_md(retraction.reason)} — see Corrections."
        markdown = f"{title}\n\n{banner}\n{rest}"
    out = [markdown.rstrip("\n"), "", "## Corrections", "",
           f"Status: **{rec['status']}**, {rec['count']} entries ({CORRECTION_CONTRACT}, append-only).", ""]
    for n, e in enumerate(entries, 1):
        what = (f"correction of claim {labels.get(e.claim_id, '?')} (`{e.claim_id}`)"
                if e.kind == "CORRECTION" else "retraction of the whole report")
        out.append(f"{n}. {e.created_at} — {what}: {escape_md(e.reason)}")
    return "\n".join(out) + "\n"
