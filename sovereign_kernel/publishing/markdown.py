"""Render a ``Report`` (plus its manifest) as Markdown.

Paper text is untrusted: titles, claims and spans are escaped so that markup or HTML in an
abstract cannot break the table or inject into a rendered page.
"""

from __future__ import annotations

import re

from sovereign_kernel.domain.ids import claim_labels, source_label, source_url
from sovereign_kernel.domain.schemas import Answer, Claim, Evidence, Report
from sovereign_kernel.domain.units import corroborated_by, where
from sovereign_kernel.verification.scoring import contradiction_checked

_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")
_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]<>|#])")


def escape_md(text: str, limit: int | None = None) -> str:
    text = _CONTROL.sub(" ", text).replace("\n", " ").strip()
    if limit and len(text) > limit:
        text = text[: limit - 1].rstrip() + "…"
    return _MD_SPECIAL.sub(r"\\\1", text)


def corroborating_evidence(claim: Claim) -> Evidence | None:
    """The best passage of another paper for the claim; else, read in full, another section of its own
    paper that states it (its own sentence never corroborates it)."""
    return next((e for e in claim.evidence if e.paper_id != claim.paper_id and e.paper_id in claim.corroborated_by),
                claim.corroborated_in_paper)


def corroborators(claim: Claim) -> str:
    """Who corroborates a claim: other papers, and (full text) its own paper's other section."""
    by = [source_label(p) for p in claim.corroborated_by[:3]] + (["…"] if len(claim.corroborated_by) > 3 else [])
    if (own := claim.corroborated_in_paper) is not None:
        by.append(f"its own {own.section or 'full text'}" + (f" (p. {own.page})" if own.page else ""))
    return ", ".join(by)


def source_md(paper_id: str, url: str = "") -> str:
    """A source as a Markdown link (plain text when there is nowhere to link to)."""
    link = source_url(paper_id, url)
    return f"[{escape_md(source_label(paper_id))}]({link})" if link else escape_md(source_label(paper_id))


CLAIMS_NOTE = ("Grounded: its own source states it at the cited span (a quote always does). Corroborated: another "
               "paper, no author in common, supports it at the calibrated threshold — for a claim about its own "
               "paper's work (“our method”, “we propose”), only a paper that names that work. The column to read.")


def answer_method(answer: Answer) -> str:
    """How the Answer was made, in a sentence: extractive, or generated and audited (how many cut)."""
    if answer.status == "unanswerable":
        how = "What the corpus cannot answer, from the joint coverage of the question's facets."
    elif answer.status == "single-source":
        how = ("Extractive, one paper's word: kept papers join the question's facets, but no finding is corroborated "
               "by a second paper, so each sentence is one paper's grounded finding, marked so.")
    elif answer.method.startswith("llm-"):
        how = (f"Written by {answer.method.removeprefix('llm-writer:')} from corroborated claims and audited: "
               f"{len(answer.sentences)} sentence{'s' if len(answer.sentences) != 1 else ''} kept")
        how += f", {len(answer.cut)} cut." if answer.cut else "."
    else:
        how = ("Extractive: corroborated claims chosen to cover the question's facets, each citing its claim row; "
               "a finding only one paper states is marked as such.")
        if answer.cut:
            how += f" (A generated answer was audited and all {len(answer.cut)} of its sentences were cut.)"
    return how


def gaps_note(answer: Answer) -> str | None:
    """The facets of the question an Answer's findings leave out, in a sentence (None when none are)."""
    if not answer.gaps or answer.status == "unanswerable":
        return None
    which = "any corroborated claim" if answer.status == "answered" else "these findings"
    return f"Not addressed by {which}: " + ", ".join(answer.gaps) + "."


def answer_lines(report: Report) -> list[str]:
    """The Answer section the report opens with (a report without one, from an earlier version, has none)."""
    answer = report.answer
    if answer is None:
        return []
    lines = ["## Answer", "", f"*{escape_md(answer_method(answer))}*", ""]
    lines.append(" ".join(escape_md(s.text) for s in answer.sentences) or "No sentence of the answer survived.")
    if (note := gaps_note(answer)) is not None:
        lines += ["", escape_md(note)]
    if answer.cut:
        lines += ["", "Cut by the audit:"]
        lines += [f"- “{escape_md(c.text, 200)}” ({escape_md(', '.join(c.rows)) or 'no rows'}): {escape_md(c.reason)}"
                  for c in answer.cut]
    return lines + [""]


def synthesis_lines(report: Report) -> list[str]:
    """Findings by theme, the comparison table (when the question compares methods), limitations."""
    lines = ["## Findings", ""]
    if report.themes:
        for t in report.themes:
            n = len(t.claim_ids)
            lines.append(f"- **{escape_md(t.name)}** ({n} claim{'s' if n != 1 else ''}, {t.corroborated} "
                         f"corroborated): {escape_md(t.text)}")
    else:
        lines += [f"- {escape_md(f)}" for f in report.findings] or ["- No grounded finding addresses the question."]
    lines.append("")
    if report.comparison:
        labels = claim_labels(report.claims)
        lines += ["## Comparison", "", "Reported effects, as each claim states them (not re-measured; settings differ).",
                  "", "| Method | Paper | Setting | Reported effect | Claim |", "|---|---|---|---|---|"]
        lines += [f"| {escape_md(r.method, 60)} | {source_md(r.paper_id)} {escape_md(r.paper_title, 70)} | {escape_md(r.setting, 100) or '—'} | "
                  f"{escape_md(r.effect, 220)} | {labels.get(r.claim_id, '?')}{' (corroborated)' if r.corroborated else ''} |"
                  for r in report.comparison]
        lines.append("")
    lines += ["## Limitations", ""]
    lines += [f"- {escape_md(x.method) + ' — ' if x.method else ''}{escape_md(x.paper_title)} "
              f"({escape_md(source_label(x.paper_id))} {where(x.span)}): “{escape_md(x.span.text, 300)}”"
              for x in report.limitations] \
        or ["- No kept paper states a limitation of its own method in its abstract."]
    return lines + [""]


def passages_lines(report: Report) -> list[str]:
    """Full text: the passages the run read of each cited paper, page-anchored (their text, escaped,
    is in report.json; here the opening of each, so a reader can find it in the PDF)."""
    if not report.passages_read:
        return []
    lines = ["", "## Full text read", "",
             "The passages of each paper's body the run read (its best for the question); body claims quote them."]
    for paper_id in dict.fromkeys(p.paper_id for p in report.passages_read):
        lines += ["", f"- {source_md(paper_id)}:"]
        for p in (x for x in report.passages_read if x.paper_id == paper_id):
            pages = f"p. {p.page}" if p.end_page == p.page else f"pp. {p.page}–{p.end_page}"
            section = f" ({escape_md(p.section, 40)})" if p.section else ""
            lines.append(f"  - {pages}{section} [{p.start}:{p.end}]: “{escape_md(p.text, 240)}”")
    return lines


def contradiction_note(manifest: dict) -> str:
    """How far to trust a flagged contradiction: the rule's measured precision and recall, when known."""
    measured = (manifest.get("contradictions") or {}).get("measured")
    if not measured:
        return "The rule's precision has not been measured: read both passages."
    return (f"On SciFact train, out of fold, {measured['precision']:.0%} of the pairs this rule flags are "
            f"contradictions and it finds {measured['recall']:.0%} of them: a flag asks you to read both "
            "passages, it does not settle which side is right.")


def contradiction_lines(report: Report, labels: dict[str, str], manifest: dict) -> list[str]:
    """Each grounded claim another kept paper may contradict: both sides, both passages, P(CONTRADICT)."""
    if not contradiction_checked(report.claims):
        return []
    contested = [c for c in report.claims if c.grounded and c.contradicted_by]
    lines = ["", "## Contradictions", ""]
    if not contested:
        return lines + ["The trained cross-encoder flags no kept paper as contradicting another's grounded claim "
                        "(it read each claim against every other kept paper's closest sentences)."]
    lines.append("Claims another kept paper may contradict, as the trained cross-encoder reads them (P(CONTRADICT) "
                 "of the contradicting passage); such a paper is not counted as corroborating the claim. "
                 + escape_md(contradiction_note(manifest)))
    for c in contested:
        lines += ["", f"- **{labels[c.id]}** {source_md(c.paper_id)} {where(c.source_span)}: "
                      f"“{escape_md(c.source_span.text, 300)}”"]
        lines += [f"  - contradicted by {source_md(e.paper_id)} {where(e)} (P(CONTRADICT) {e.score:.2f}): "
                  f"“{escape_md(e.span, 300)}”" for e in c.contradicted_by]
    return lines


def render_markdown(report: Report, manifest: dict) -> str:
    r = report.results
    labels = claim_labels(report.claims)
    m = report.methodology
    lines = [
        f"# {escape_md(report.title)}",
        "",
        f"*SOVEREIGN Research Kernel · report `{report.report_id}` · {report.created_at} · "
        f"quality tier **{report.quality_tier}** · policy **{r.policy}***",
        "",
        *answer_lines(report),
        "## Abstract",
        "",
        escape_md(report.abstract),
        "",
        "## Research question",
        "",
        escape_md(report.question),
        "",
        *synthesis_lines(report),
        "## Methodology",
        "",
    ]
    lines += [f"- **{escape_md(k)}**: {escape_md(str(v))}" for k, v in m.items()]
    lines += [
        "",
        "## Results",
        "",
        f"- Papers retrieved: {r.papers_retrieved} candidates; {r.papers_kept} passed the relevance gate, "
        f"{r.papers_dropped} dropped as off-topic or beyond the limit.",
        f"- Claims extracted: {r.claims_extracted}; grounded in their own source: {r.claims_grounded}; "
        f"corroborated by {corroborated_by(report.claims)}: {r.claims_corroborated}.",
        f"- Tribunal: {r.tribunal_score:.1f}/10 → {r.tribunal_verdict} (revision round {r.revision_round}).",
        f"- Policy: {r.policy} — {escape_md('; '.join(r.policy_reasons))}.",
        "",
        "### Tribunal",
        "",
        "| Reviewer | Score | Verdict | Reasons |",
        "|---|---|---|---|",
    ]
    for rev in report.tribunal.reviews:
        lines.append(f"| {rev.role} | {rev.score:.1f} | {rev.verdict} | {escape_md('; '.join(rev.issues))} |")
    lines += ["", "## Uncertainties", ""]
    lines += [f"- {escape_md(u)}" for u in report.uncertainties]
    lines += [
        "",
        "## Claims",
        "",
        CLAIMS_NOTE,
        "",
        "| # | Claim | Grounded (own source) | Corroborated by | Corroboration | Baseline (seed TF-IDF) | Source "
        "| Corroborating evidence |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for c in report.claims:
        ev = corroborating_evidence(c)
        ev_text = f"{escape_md(source_label(ev.paper_id))} {where(ev)} “{escape_md(ev.span, 90)}”" if ev else "—"
        by = escape_md(corroborators(c))
        lines.append(
            f"| {labels[c.id]} | {escape_md(c.text, 220)} | {'✓' if c.grounded else '×'} {c.confidence:.2f} | "
            f"{by or '—'} | {c.corroboration:.2f} | "
            f"{c.baseline_score:.2f} {'✓' if c.baseline_verified else '×'} | "
            f"{source_md(c.paper_id)} {where(c.source_span)} | {ev_text} |"
        )
    lines += contradiction_lines(report, labels, manifest)
    lines += ["", "## References", ""]
    for ref in report.references:
        authors = ", ".join(ref.authors[:3]) + (" et al." if len(ref.authors) > 3 else "")
        lines.append(
            f"- {source_md(ref.id, ref.url)} {escape_md(ref.title)} — {escape_md(authors)}"
            f"{' (' + ref.published + ')' if ref.published else ''}{'; ' + escape_md(ref.venue) if ref.venue else ''}"
            f"; relevance {ref.relevance:.2f}"
        )
    lines += passages_lines(report)
    vl, qd = manifest["verification_level"], manifest["quality_dimensions"]
    lines += [
        "",
        "## Manifest summary",
        "",
        f"- Verification level: **{vl['level']}** — {vl['label']} ({vl['source_grounded_claims']} source-grounded, "
        f"{vl['corroborated_claims']} corroborated claims).",
        f"- Truth gate: {manifest['truth_gate']['verdict']} — {manifest['truth_gate']['reason']}",
        f"- Quality tier: **{report.quality_tier}** — "
        + "; ".join(f"{c['check']}: {'yes' if c['passed'] else 'no'}" for c in manifest["quality_tier_basis"]["checks"]),
    ]
    lines += [f"- {k.replace('_', ' ').capitalize()}: **{v['level']}** — {escape_md(v['measurement'])}" for k, v in qd.items()]
    corr = manifest["corrections"]
    lines += [
        f"- Corrections: {corr['status']}, {corr['count']} entries ({corr['contract']}).",
        f"- Content hash: `{manifest['content_hash']}` ({manifest['contract']}).",
        "",
        "*Machine-generated synthesis of existing literature; not primary research.*",
        "",
    ]
    return "\n".join(lines)
