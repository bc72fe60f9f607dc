"""A ``Report`` as HTML for Jupyter (``ResearchResult._repr_html_``).

Paper text is untrusted: every title, claim, span, author, reason and id that reaches the page
goes through ``html.escape`` (quotes included), and a link is only made from an ``http(s)`` URL.
The markup is plain tables and lists with inline styles, so it renders the same in JupyterLab,
classic Notebook, VS Code and nbconvert without leaking CSS into the rest of the page.
"""

from __future__ import annotations

import base64
import html
import re
from pathlib import Path

from sovereign_kernel.domain.ids import claim_labels, source_label, source_url
from sovereign_kernel.domain.schemas import Report
from sovereign_kernel.domain.settings import recorded
from sovereign_kernel.domain.units import corroborated_by, where
from sovereign_kernel.publishing.figures import TRIBUNAL_CAPTION
from sovereign_kernel.publishing.literature_figure import literature_plan
from sovereign_kernel.publishing.markdown import (
    answer_method,
    gaps_note,
    corroborating_evidence,
    corroborators,
)

__all__ = ["report_html"]

_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")
_TABLE = 'style="border-collapse:collapse;margin:0.4em 0;font-size:0.92em"'
_CELL = 'style="border:1px solid #ccc;padding:3px 6px;text-align:left;vertical-align:top"'
_NUM = 'style="border:1px solid #ccc;padding:3px 6px;text-align:right;vertical-align:top;white-space:nowrap"'


def _e(value: object, limit: int | None = None) -> str:
    """Escape untrusted text for HTML (control characters blanked, optionally shortened)."""
    text = _CONTROL.sub(" ", str(value)).strip()
    if limit and len(text) > limit:
        text = text[: limit - 1].rstrip() + "…"
    return html.escape(text, quote=True)


def _source(paper_id: str) -> str:
    """A source's label, linked where there is somewhere to link to."""
    link = source_url(paper_id)
    return _link(link, source_label(paper_id)) if link else _e(source_label(paper_id))


def _link(url: str, text: str) -> str:
    """``<a>`` for an http(s) URL; anything else (``javascript:``, ``data:``) stays plain text."""
    if re.match(r"^https?://", str(url).strip(), flags=re.IGNORECASE):
        return f'<a href="{_e(url.strip())}" target="_blank" rel="noopener noreferrer">{_e(text)}</a>'
    return _e(text)


def _row(cells: list[str], header: bool = False, numeric: set[int] | frozenset = frozenset()) -> str:
    tag = "th" if header else "td"
    return "<tr>" + "".join(f"<{tag} {_NUM if i in numeric else _CELL}>{c}</{tag}>"
                            for i, c in enumerate(cells)) + "</tr>"


def _threshold(manifest: dict, key: str, default: float) -> float:
    settings = ((manifest or {}).get("provenance") or {}).get("settings") or {}
    try:
        return float(recorded(settings, key, default))
    except (TypeError, ValueError):
        return default


def _figure_tag(figure: str | Path | bytes | None, alt: str = TRIBUNAL_CAPTION, caption: str = "") -> str:
    """A PNG inline, as a ``data:`` URI (nothing is fetched), with its caption under it when given."""
    if figure is None:
        return ""
    data = figure if isinstance(figure, bytes) else Path(figure).read_bytes()
    b64 = base64.b64encode(data).decode("ascii")
    img = f'<img alt="{_e(alt)}" src="data:image/png;base64,{b64}" style="max-width:100%"/>'
    if caption:
        return (f'<figure style="margin:0.6em 0">{img}<figcaption style="color:#555;font-size:0.9em">'
                f"<em>Figure: {_e(caption)}</em></figcaption></figure>")
    return f"<p>{img}</p>"


def _answer(report: Report) -> list[str]:
    """The Answer the report opens with: how it was made, its sentences, what it does not cover, what was cut."""
    answer = report.answer
    if answer is None:
        return []
    out = ["<h3>Answer</h3>", f'<p style="color:#555"><em>{_e(answer_method(answer))}</em></p>',
           "<p>" + (" ".join(_e(s.text) for s in answer.sentences) or "No sentence of the answer survived.") + "</p>"]
    return out + answer_notes(answer)


def answer_notes(answer) -> list[str]:
    """What an Answer does not cover and what its audit cut, as HTML (the notebook's and the page's)."""
    out = []
    if (note := gaps_note(answer)) is not None:
        out.append(f"<p>{_e(note)}</p>")
    if answer.cut:
        out += ["<p>Cut by the audit:</p>", "<ul>"]
        out += [f"<li>“{_e(c.text, 200)}” ({_e(', '.join(c.rows)) or 'no rows'}): {_e(c.reason)}</li>"
                for c in answer.cut]
        out.append("</ul>")
    return out


def _synthesis(report: Report, labels: dict[str, str], literature: str | Path | bytes | None = None) -> list[str]:
    """Findings by theme, the comparison table (when the question compares methods), the literature
    figure (when given), limitations."""
    out = ["<h3>Findings</h3>", "<ul>"]
    if report.themes:
        out += [f"<li><strong>{_e(t.name)}</strong> ({len(t.claim_ids)} claim{'s' if len(t.claim_ids) != 1 else ''}, "
                f"{t.corroborated} corroborated): {_e(t.text)}</li>" for t in report.themes]
    else:
        out += [f"<li>{_e(f)}</li>" for f in report.findings] or ["<li>No grounded finding addresses the question.</li>"]
    out.append("</ul>")
    if report.comparison:
        out += ["<h3>Comparison</h3>",
                "<p>Reported effects, as each claim states them (not re-measured; settings differ).</p>",
                f"<table {_TABLE}>", _row(["Method", "Paper", "Setting", "Reported effect", "Claim"], header=True)]
        out += [_row([_e(r.method, 60), _source(r.paper_id) + " "
                      + _e(r.paper_title, 70), _e(r.setting, 100) or "—", _e(r.effect, 220),
                      _e(labels.get(r.claim_id, "?")) + (" (corroborated)" if r.corroborated else "")])
                for r in report.comparison]
        out.append("</table>")
    if literature is not None:
        caption = literature_plan(report).caption
        out.append(_figure_tag(literature, alt=caption, caption=caption))
    out += ["<h3>Limitations</h3>", "<ul>"]
    out += [f"<li>{_e(x.method) + ' — ' if x.method else ''}{_e(x.paper_title)} ({_e(source_label(x.paper_id))} "
            f"{where(x.span)}): “{_e(x.span.text, 300)}”</li>" for x in report.limitations] \
        or ["<li>No kept paper states a limitation of its own method in its abstract.</li>"]
    out.append("</ul>")
    return out


def report_html(report: Report, manifest: dict | None = None, *, figure: str | Path | bytes | None = None,
                literature: str | Path | bytes | None = None) -> str:
    """HTML of the report: title, the Answer, abstract, findings by theme, comparison, limitations,
    results, tribunal scores, claims (grounded in their own source, corroborated by which papers,
    source and corroborating evidence spans), uncertainties, references and a manifest summary.

    ``figure`` (a PNG path or bytes, e.g. from ``tribunal_and_confidence_figure``) is embedded inline
    before the tribunal's table; ``literature`` (``literature_png``) after the findings and comparison,
    under its caption.
    """
    manifest = manifest or {}
    r = report.results
    publish_at = _threshold(manifest, "publish_threshold", 6.5)
    verify_at = _threshold(manifest, "verify_threshold", 0.5)
    labels = claim_labels(report.claims)
    out = [
        '<div class="sovereign-report" style="max-width:72em">',
        f"<h2>{_e(report.title)}</h2>",
        f'<p style="color:#555"><em>SOVEREIGN Research Kernel · report <code>{_e(report.report_id)}</code> · '
        f"{_e(report.created_at)} · quality tier <strong>{_e(report.quality_tier)}</strong> · "
        f"policy <strong>{_e(r.policy)}</strong></em></p>",
        *_answer(report),
        "<h3>Abstract</h3>",
        f"<p>{_e(report.abstract)}</p>",
        f"<p><strong>Research question:</strong> {_e(report.question)}</p>",
        *_synthesis(report, labels, literature),
        "<h3>Results</h3>",
        "<ul>",
        f"<li>Papers: {r.papers_retrieved} candidates, {r.papers_kept} kept, {r.papers_dropped} dropped.</li>",
        f"<li>Claims: {r.claims_extracted} extracted, {r.claims_grounded} grounded in their own source, "
        f"{r.claims_corroborated} corroborated by {corroborated_by(report.claims)} (confidence ≥ {verify_at:g}).</li>",
        f"<li>Tribunal: {report.tribunal.score:.1f}/10 → {_e(r.tribunal_verdict)} "
        f"(revision round {r.revision_round}; publish threshold {publish_at:g}).</li>",
        f"<li>Policy: {_e(r.policy)} — {_e('; '.join(r.policy_reasons))}.</li>",
        "</ul>",
        _figure_tag(figure),
        "<h3>Tribunal</h3>",
        f"<table {_TABLE}>",
        _row(["Reviewer", "Score", "Verdict", "Reasons"], header=True),
    ]
    for rev in report.tribunal.reviews:
        out.append(_row([_e(rev.role), f"{rev.score:.1f}", _e(rev.verdict), _e("; ".join(rev.issues)) or "—"],
                        numeric={1}))
    out.append(_row(["<strong>Tribunal</strong>", f"<strong>{report.tribunal.score:.1f}</strong>",
                     f"<strong>{_e(report.tribunal.verdict)}</strong>",
                     f"combined score vs threshold {publish_at:g}"], numeric={1}))
    out.append("</table>")

    out += ["<h3>Claims</h3>", f"<table {_TABLE}>",
            _row(["#", "Claim", "Grounded (own source)", "Corroborated by", "Corroboration", "Baseline (seed TF-IDF)",
                  "Source", "Corroborating evidence"], header=True)]
    for c in report.claims:
        ev = corroborating_evidence(c)
        ev_cell = (f"{_e(source_label(ev.paper_id))} {where(ev)} “{_e(ev.span, 160)}”" if ev else "—")
        source = _source(c.paper_id) + f" {where(c.source_span)}"
        grounded = (f'<span style="color:#1a9850">✓ {c.confidence:.2f}</span>' if c.grounded
                    else f'<span style="color:#d73027">× {c.confidence:.2f}</span>')
        by = _e(corroborators(c)) or "—"
        out.append(_row([labels[c.id], _e(c.text, 400), grounded, by, f"{c.corroboration:.2f}",
                         f"{c.baseline_score:.2f} {'✓' if c.baseline_verified else '×'}", source, ev_cell],
                        numeric={4}))
    if not report.claims:
        out.append(f'<tr><td {_CELL} colspan="8">No claims were extracted.</td></tr>')
    out.append("</table>")

    out += ["<h3>Uncertainties</h3>", "<ul>"]
    out += [f"<li>{_e(u)}</li>" for u in report.uncertainties] or ["<li>None recorded.</li>"]
    out += ["</ul>", "<h3>References</h3>", "<ol>"]
    for ref in report.references:
        authors = ", ".join(ref.authors[:3]) + (" et al." if len(ref.authors) > 3 else "")
        out.append(f"<li>{_link(ref.url, ref.id)} {_e(ref.title)} — {_e(authors)}"
                   f"{' (' + _e(ref.published) + ')' if ref.published else ''}{'; ' + _e(ref.venue) if ref.venue else ''}"
                   f"; relevance {ref.relevance:.2f}</li>")
    out.append("</ol>")

    vl, gate = manifest.get("verification_level") or {}, manifest.get("truth_gate") or {}
    if vl or gate:
        out += ["<h3>Manifest</h3>", "<ul>"]
        if vl:
            out.append(f"<li>Verification level: <strong>{_e(vl.get('level', '?'))}</strong> — "
                       f"{_e(vl.get('label', ''))}</li>")
        if gate:
            out.append(f"<li>Truth gate: {_e(gate.get('verdict', '?'))} — {_e(gate.get('reason', ''))}</li>")
        if manifest.get("content_hash"):
            out.append(f"<li>Content hash: <code>{_e(manifest['content_hash'])}</code> "
                       f"({_e(manifest.get('contract', ''))})</li>")
        out.append("</ul>")
    out += ['<p style="color:#555"><em>Machine-generated synthesis of existing literature; '
            "not primary research.</em></p>", "</div>"]
    return "\n".join(x for x in out if x)
