"""The report as one standalone page (``report.html`` beside report.md; ``export --format html``).

What a reader gets that report.md cannot give: every ``[C3]`` in the Answer and the findings is a link
to its claim row; each claim opens (``<details>``, no script) onto its source passage — the paper's
abstract, or the body passage it was read from — with the quoted span highlighted (``<mark>``), and
its corroborating evidence the same way; every figure of ``figures.REPORT_FIGURES`` is inline.

Nothing is fetched: no script, stylesheet, font or image from anywhere (the figures are ``data:``
URIs, the style is inline, the fonts are the reader's own), and a Content-Security-Policy says so to
the browser too. Paper text is untrusted: every title, claim, passage, author, reason and id is
escaped, and a link is only made from an ``http(s)`` URL.

The passage around an abstract span needs the paper's abstract, which a run has (``papers``) but the
store does not keep: a page made from the store shows an abstract claim's quoted span alone, and
says so. Body spans are always shown in their passage (the report carries the passages it read).
"""

from __future__ import annotations

import base64
import html
import re
from collections.abc import Iterable, Mapping, Sequence

from sovereign_kernel.domain.fulltext import Passage
from sovereign_kernel.domain.ids import claim_labels, source_label, source_url
from sovereign_kernel.domain.schemas import Claim, Evidence, Paper, Report, SourceSpan
from sovereign_kernel.domain.units import corroborated_by, where
from sovereign_kernel.publishing.figures import ReportFigure
from sovereign_kernel.publishing.html import _e, _link, _threshold, answer_notes
from sovereign_kernel.publishing.markdown import CLAIMS_NOTE, answer_method, contradiction_note, corroborating_evidence
from sovereign_kernel.verification.scoring import contradiction_checked

__all__ = ["report_page"]

CONTEXT_CHARS = 500  # of the source text shown on either side of a quoted span
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")
_BRACKET = re.compile(r"\[([^\[\]]{1,400})\]")
_LABEL = re.compile(r"\bC\d+\b")

_STYLE = """
:root{color-scheme:light}
body{margin:0;background:#eef0f3;color:#1f2328;font:16px/1.55 system-ui,-apple-system,"Segoe UI",Roboto,
"Helvetica Neue",Arial,sans-serif}
main{max-width:76rem;margin:0 auto;padding:2rem 2rem 2.5rem;background:#fff;min-height:100vh;box-sizing:border-box}
h1{font-size:1.65rem;line-height:1.25;margin:0 0 .5rem}
h2{font-size:1.2rem;margin:2rem 0 .6rem;padding-bottom:.25rem;border-bottom:1px solid #d8dee4}
.meta{color:#59636e;font-size:.88rem;margin:.2rem 0}
.badge{display:inline-block;padding:0 .55rem;border-radius:1rem;font-size:.8rem;font-weight:600;border:1px solid;
margin-right:.35rem;white-space:nowrap}
.good{color:#1a7f37;border-color:#4ac26b;background:#dafbe1}.warn{color:#9a6700;border-color:#d4a72c;background:#fff8c5}
.plain{color:#424a53;border-color:#d0d7de;background:#f6f8fa}
nav{font-size:.85rem;margin:1rem 0 0;padding:.5rem 0;border-top:1px solid #d8dee4;border-bottom:1px solid #d8dee4}
nav a{margin-right:.9rem;white-space:nowrap}
a{color:#0969da;text-decoration:none}a:hover{text-decoration:underline}
a.cite{font-weight:600}
.answer p.text{font-size:1.06rem;background:#f0f6ff;border-left:4px solid #0969da;padding:.75rem 1rem;margin:.4rem 0;
border-radius:0 4px 4px 0}
.note{color:#59636e;font-size:.88rem;font-style:italic}
ul{padding-left:1.3rem}li{margin:.25rem 0}
table{border-collapse:collapse;width:100%;font-size:.88rem;margin:.5rem 0}
th,td{border-bottom:1px solid #d8dee4;padding:.4rem .5rem;text-align:left;vertical-align:top}
th{background:#f6f8fa;font-weight:600;border-top:1px solid #d8dee4}
td.num{text-align:right;white-space:nowrap;font-variant-numeric:tabular-nums}th.num{text-align:right}
tr:target{background:#fff8c5}
#claims{table-layout:fixed}#claims td:last-child{overflow-wrap:anywhere}
#claims th:nth-child(1){width:2.6rem}#claims th:nth-child(3){width:5.6rem}#claims th:nth-child(4){width:8rem}
#claims th:nth-child(5){width:6.6rem}#claims th:nth-child(6){width:6rem}#claims th:nth-child(7){width:8rem}
details>summary{cursor:pointer}
details[open]>summary{font-weight:600;margin-bottom:.3rem}
.where{color:#59636e;font-size:.82rem;margin:.45rem 0 .15rem}
blockquote{margin:0 0 .4rem;padding:.45rem .75rem;background:#f6f8fa;border-left:3px solid #afb8c1;color:#424a53;
font:.9rem/1.5 Georgia,"Times New Roman",serif}
mark{color:#1f2328;padding:0 .1em;border-radius:2px}
mark.span{background:#ffe58a}mark.evidence{background:#c8f0d0}
.ok{color:#1a7f37}.no{color:#cf222e}
figure{margin:1rem 0}figure img{max-width:100%;height:auto;border:1px solid #d8dee4}
figcaption{color:#59636e;font-size:.85rem}
code{font-size:.85em;background:#f6f8fa;padding:0 .2em;border-radius:3px}
footer{margin-top:2.5rem;color:#59636e;font-size:.85rem}
@media print{body{background:#fff}main{padding:0}nav{display:none}}
"""

_SECTIONS = (("answer", "Answer"), ("abstract", "Abstract"), ("findings", "Findings"), ("comparison", "Comparison"),
             ("limitations", "Limitations"), ("results", "Results"), ("tribunal", "Tribunal"), ("claims", "Claims"),
             ("uncertainties", "Uncertainties"), ("references", "References"), ("methodology", "Methodology"),
             ("manifest", "Manifest"))


def _t(text: str) -> str:
    """Untrusted text as it is (not stripped, not shortened: a span must read exactly), escaped."""
    return html.escape(_CONTROL.sub(" ", text), quote=True)


def _cited(escaped: str, known: Iterable[str]) -> str:
    """Claim numbers in the brackets of escaped text (``[C3]``, ``[C4, arXiv:…]``) as links to their rows."""
    known = set(known)

    def link(m: re.Match) -> str:
        return "[" + _LABEL.sub(lambda n: (f'<a class="cite" href="#claim-{n.group()}">{n.group()}</a>'
                                           if n.group() in known else n.group()), m.group(1)) + "]"
    return _BRACKET.sub(link, escaped)


def _source(paper_id: str) -> str:
    link = source_url(paper_id)
    return _link(link, source_label(paper_id)) if link else _e(source_label(paper_id))


def _around(text: str, start: int, end: int) -> str:
    """``text`` around ``[start:end]`` (cut at words, with ``…``), the span in ``<mark class="span">``."""
    lo, hi = max(0, start - CONTEXT_CHARS), min(len(text), end + CONTEXT_CHARS)
    if lo > 0:
        lo = text.find(" ", lo, start) + 1 or lo
    if hi < len(text) and (cut := text.rfind(" ", end, hi)) > end:
        hi = cut
    before, span, after = text[lo:start], text[start:end], text[end:hi]
    return (("… " if lo > 0 else "") + _t(before) + f'<mark class="span">{_t(span)}</mark>' + _t(after)
            + (" …" if hi < len(text) else ""))


def _passage(paper_id: str, span: SourceSpan | Evidence, papers: Mapping[str, Paper],
             passages: Sequence[Passage]) -> str | None:
    """The source text around a span, the span marked; None when this page has no text it is in."""
    text = span.text if isinstance(span, SourceSpan) else span.span
    if span.location == "body":
        texts = [(p.start, p.text) for p in passages if p.paper_id == paper_id]
    else:
        texts = [(0, papers[paper_id].abstract)] if paper_id in papers else []
    wanted = " ".join(text.split())
    for base, body in texts:  # at its recorded offsets
        s, e = span.start - base, span.end - base
        if 0 <= s < e <= len(body) and " ".join(body[s:e].split()) == wanted:
            return _around(body, s, e)
    for _, body in texts:  # else wherever the text is
        if text and (i := body.find(text)) >= 0:
            return _around(body, i, i + len(text))
    return None


def _quote(paper_id: str, span: SourceSpan | Evidence, papers: Mapping[str, Paper], passages: Sequence[Passage],
           what: str, mark: str) -> list[str]:
    title = papers[paper_id].title if paper_id in papers else ""
    place = "abstract" if span.location == "abstract" else (span.section or "body")
    head = (f'<p class="where">{what} — {_source(paper_id)}{" · “" + _e(title, 120) + "”" if title else ""} · '
            f"{_e(place, 60)} {where(span)}</p>")
    body = _passage(paper_id, span, papers, passages)
    if body is None:
        text = span.text if isinstance(span, SourceSpan) else span.span
        return [head, f'<blockquote><mark class="{mark}">{_t(text)}</mark></blockquote>',
                '<p class="note">The quoted span alone: this page was made without the paper\'s text (the store '
                "keeps reports, not papers).</p>"]
    return [head, "<blockquote>" + body.replace('<mark class="span">', f'<mark class="{mark}">', 1) + "</blockquote>"]


def _corroborators(c: Claim) -> str:
    """Who corroborates a claim, one per line: the other papers (linked), and its own paper's other section."""
    by = [_source(p) for p in c.corroborated_by]
    if (own := c.corroborated_in_paper) is not None:
        by.append(_e(f"its own {own.section or 'full text'}" + (f" (p. {own.page})" if own.page else "")))
    return "<br/>".join(by) or "—"


def _claim_row(c: Claim, label: str, papers: Mapping[str, Paper], passages: Sequence[Passage]) -> str:
    inside = _quote(c.paper_id, c.source_span, papers, passages, "Source passage", "span")
    ev = corroborating_evidence(c)
    if ev is not None:
        inside += _quote(ev.paper_id, ev, papers, passages, "Corroborating evidence", "evidence")
    if c.label:
        inside.append(f'<p class="where">Verifier: {_e(c.label)}{" — " + _e(c.label_rationale, 400) if c.label_rationale else ""}'
                      f"{' (' + _e(c.label_method) + ')' if c.label_method else ''}</p>")
    grounded = (f'<span class="ok">✓ {c.confidence:.2f}</span>' if c.grounded
                else f'<span class="no">× {c.confidence:.2f}</span>')
    cells = [f'<td class="num"><a href="#claim-{label}">{label}</a></td>',
             f'<td class="claim"><details><summary>{_e(c.text)}</summary>{"".join(inside)}</details></td>',
             f'<td class="num">{grounded}</td>', f"<td>{_corroborators(c)}</td>",
             f'<td class="num">{c.corroboration:.2f}</td>',
             f'<td class="num">{c.baseline_score:.2f} {"✓" if c.baseline_verified else "×"}</td>',
             f"<td>{_source(c.paper_id)} {where(c.source_span)}</td>"]
    return f'<tr id="claim-{label}">' + "".join(cells) + "</tr>"


def _table(headers: Sequence[str], rows: Iterable[str], numeric: frozenset[int] = frozenset(), **attrs: str) -> list[str]:
    head = "".join(f'<th{" class=num" if i in numeric else ""}>{h}</th>' for i, h in enumerate(headers))
    extra = "".join(f' {k}="{_e(v)}"' for k, v in attrs.items())
    return [f"<table{extra}>", f"<thead><tr>{head}</tr></thead>", "<tbody>", *rows, "</tbody>", "</table>"]


def _header(report: Report, manifest: dict) -> list[str]:
    r, vl = report.results, manifest.get("verification_level") or {}
    tier = "good" if report.quality_tier == "DOI grade" else "warn"
    policy = "good" if r.policy == "PUBLISH" else "warn"
    badges = [f'<span class="badge {tier}">{_e(report.quality_tier)}</span>',
              f'<span class="badge {policy}">policy {_e(r.policy)}</span>',
              f'<span class="badge plain">tribunal {report.tribunal.score:.1f}/10 {_e(report.tribunal.verdict)}</span>',
              f'<span class="badge plain">{r.claims_corroborated}/{r.claims_extracted} claims corroborated</span>']
    if vl.get("level"):
        badges.append(f'<span class="badge plain">verification {_e(vl["level"])}</span>')
    present = {"answer": report.answer is not None, "comparison": bool(report.comparison)}
    nav = " ".join(f'<a href="#{k}">{v}</a>' for k, v in _SECTIONS if present.get(k, True))
    return ["<header>", f"<h1>{_e(report.title)}</h1>", f'<p class="meta">{"".join(badges)}</p>',
            f'<p class="meta">SOVEREIGN Research Kernel · report <code>{_e(report.report_id)}</code> · '
            f"{_e(report.created_at)}</p>", f"<nav>{nav}</nav>", "</header>"]


def _answer(report: Report, known: Iterable[str]) -> list[str]:
    answer = report.answer
    if answer is None:
        return []
    text = " ".join(_cited(_e(s.text), known) for s in answer.sentences) or "No sentence of the answer survived."
    out = ['<section id="answer" class="answer">', "<h2>Answer</h2>", f'<p class="note">{_e(answer_method(answer))}</p>',
           f'<p class="text">{text}</p>', *answer_notes(answer)]
    return out + ["</section>"]


def _synthesis(report: Report, labels: dict[str, str]) -> list[str]:
    known = labels.values()
    out = ['<section id="abstract">', "<h2>Abstract</h2>", f"<p>{_e(report.abstract)}</p>",
           f"<p><strong>Research question:</strong> {_e(report.question)}</p>", "</section>",
           '<section id="findings">', "<h2>Findings</h2>", "<ul>"]
    if report.themes:
        out += [f"<li><strong>{_e(t.name)}</strong> ({len(t.claim_ids)} claim{'s' if len(t.claim_ids) != 1 else ''}, "
                f"{t.corroborated} corroborated): {_cited(_e(t.text), known)}</li>" for t in report.themes]
    else:
        out += [f"<li>{_cited(_e(f), known)}</li>" for f in report.findings] \
            or ["<li>No grounded finding addresses the question.</li>"]
    out += ["</ul>", "</section>"]
    if report.comparison:
        def claim_cell(claim_id: str, corroborated: bool) -> str:
            label = labels.get(claim_id)
            link = f'<a class="cite" href="#claim-{label}">{label}</a>' if label else "?"
            return link + (" (corroborated)" if corroborated else "")
        rows = [f"<tr><td>{_e(r.method, 60)}</td><td>{_source(r.paper_id)} {_e(r.paper_title, 70)}</td>"
                f"<td>{_e(r.setting, 100) or '—'}</td><td>{_e(r.effect, 220)}</td>"
                f"<td>{claim_cell(r.claim_id, r.corroborated)}</td></tr>" for r in report.comparison]
        out += ['<section id="comparison">', "<h2>Comparison</h2>",
                '<p class="note">Reported effects, as each claim states them (not re-measured; settings differ).</p>',
                *_table(["Method", "Paper", "Setting", "Reported effect", "Claim"], rows), "</section>"]
    out += ['<section id="limitations">', "<h2>Limitations</h2>", "<ul>"]
    out += [f"<li>{_e(x.method) + ' — ' if x.method else ''}{_e(x.paper_title)} ({_e(source_label(x.paper_id))} "
            f"{where(x.span)}): “{_e(x.span.text, 300)}”</li>" for x in report.limitations] \
        or ["<li>No kept paper states a limitation of its own method in its abstract.</li>"]
    return out + ["</ul>", "</section>"]


def _results(report: Report, manifest: dict, figures: Sequence[ReportFigure]) -> list[str]:
    r = report.results
    publish_at = _threshold(manifest, "publish_threshold", 6.5)
    verify_at = _threshold(manifest, "verify_threshold", 0.5)
    out = ['<section id="results">', "<h2>Results</h2>", "<ul>",
           f"<li>Papers: {r.papers_retrieved} candidates, {r.papers_kept} kept, {r.papers_dropped} dropped.</li>",
           f"<li>Claims: {r.claims_extracted} extracted, {r.claims_grounded} grounded in their own source, "
           f"{r.claims_corroborated} corroborated by {corroborated_by(report.claims)} (confidence ≥ {verify_at:g}).</li>",
           f"<li>Policy: {_e(r.policy)} — {_e('; '.join(r.policy_reasons))}.</li>", "</ul>"]
    for f in figures:
        data = base64.b64encode(f.png).decode("ascii")
        out.append(f'<figure><img alt="{_e(f.alt)}" src="data:image/png;base64,{data}"/>'
                   f"<figcaption>{_e(f.alt)}</figcaption></figure>")
    rows = [f"<tr><td>{_e(v.role)}</td><td class=num>{v.score:.1f}</td><td>{_e(v.verdict)}</td>"
            f"<td>{_e('; '.join(v.issues)) or '—'}</td></tr>" for v in report.tribunal.reviews]
    rows.append(f"<tr><td><strong>Tribunal</strong></td><td class=num><strong>{report.tribunal.score:.1f}</strong></td>"
                f"<td><strong>{_e(report.tribunal.verdict)}</strong></td>"
                f"<td>combined score vs threshold {publish_at:g} (revision round {r.revision_round})</td></tr>")
    return out + ["</section>", '<section id="tribunal">', "<h2>Tribunal</h2>",
                  *_table(["Reviewer", "Score", "Verdict", "Reasons"], rows, frozenset({1})), "</section>"]


def _claims(report: Report, labels: dict[str, str], papers: Mapping[str, Paper]) -> list[str]:
    passages = list(report.passages_read) + [p for paper in papers.values() for p in paper.passages]
    rows = [_claim_row(c, labels[c.id], papers, passages) for c in report.claims] \
        or ['<tr><td colspan="7">No claims were extracted.</td></tr>']
    return ['<section id="claims">', "<h2>Claims</h2>",
            f'<p class="note">{_e(CLAIMS_NOTE)} Open a claim for its source passage, the quoted span highlighted.</p>',
            *_table(["#", "Claim", "Grounded (own source)", "Corroborated by", "Corroboration", "Baseline (seed TF-IDF)",
                     "Source"], rows, frozenset({0, 2, 4, 5}), id="claims"), "</section>"]


def _contradictions(report: Report, labels: dict[str, str], manifest: dict) -> list[str]:
    """Each grounded claim another kept paper contradicts (the cross-encoder's reading), both passages."""
    if not contradiction_checked(report.claims):
        return []
    contested = [c for c in report.claims if c.grounded and c.contradicted_by]
    out = ['<section id="contradictions">', "<h2>Contradictions</h2>"]
    if not contested:
        return out + ['<p class="note">The trained cross-encoder flags no kept paper as contradicting another\'s '
                      "grounded claim (it read each claim against every other kept paper's closest sentences).</p>",
                      "</section>"]
    out += ['<p class="note">Claims another kept paper may contradict, as the trained cross-encoder reads them; '
            f"such a paper is not counted as corroborating the claim. {_e(contradiction_note(manifest))}</p>", "<ul>"]
    for c in contested:
        against = "".join(f"<li>contradicted by {_source(e.paper_id)} (P(CONTRADICT) {e.score:.2f}): "
                          f"<q>{_e(e.span, 400)}</q></li>" for e in c.contradicted_by)
        out.append(f'<li><a href="#claim-{labels[c.id]}">{labels[c.id]}</a> {_source(c.paper_id)}: '
                   f"<q>{_e(c.source_span.text, 400)}</q><ul>{against}</ul></li>")
    return out + ["</ul>", "</section>"]


def _references(report: Report) -> list[str]:
    out = ['<section id="uncertainties">', "<h2>Uncertainties</h2>", "<ul>"]
    out += [f"<li>{_e(u)}</li>" for u in report.uncertainties] or ["<li>None recorded.</li>"]
    out += ["</ul>", "</section>", '<section id="references">', "<h2>References</h2>", "<ol>"]
    for ref in report.references:
        authors = ", ".join(ref.authors[:3]) + (" et al." if len(ref.authors) > 3 else "")
        out.append(f"<li>{_link(ref.url, source_label(ref.id))} {_e(ref.title)} — {_e(authors)}"
                   f"{' (' + _e(ref.published) + ')' if ref.published else ''}; relevance {ref.relevance:.2f}</li>")
    return out + ["</ol>", "</section>"]


def _methodology(report: Report, manifest: dict) -> list[str]:
    out = ['<section id="methodology">', "<h2>Methodology</h2>", "<ul>"]
    out += [f"<li><strong>{_e(k)}</strong>: {_e(v)}</li>" for k, v in report.methodology.items()]
    out += ["</ul>", "</section>", '<section id="manifest">', "<h2>Manifest</h2>", "<ul>"]
    vl, gate = manifest.get("verification_level") or {}, manifest.get("truth_gate") or {}
    if vl:
        out.append(f"<li>Verification level: <strong>{_e(vl.get('level', '?'))}</strong> — {_e(vl.get('label', ''))}</li>")
    if gate:
        out.append(f"<li>Truth gate: {_e(gate.get('verdict', '?'))} — {_e(gate.get('reason', ''))}</li>")
    checks = (manifest.get("quality_tier_basis") or {}).get("checks") or []
    if checks:
        out.append(f"<li>Quality tier: <strong>{_e(report.quality_tier)}</strong> — "
                   + "; ".join(f"{_e(c.get('check', ''))}: {'yes' if c.get('passed') else 'no'}" for c in checks) + "</li>")
    for k, v in (manifest.get("quality_dimensions") or {}).items():
        out.append(f"<li>{_e(k.replace('_', ' ').capitalize())}: <strong>{_e(v.get('level', ''))}</strong> — "
                   f"{_e(v.get('measurement', ''))}</li>")
    if manifest.get("content_hash"):
        out.append(f"<li>Content hash: <code>{_e(manifest['content_hash'])}</code> ({_e(manifest.get('contract', ''))})</li>")
    return out + ["</ul>", "</section>"]


def report_page(report: Report, manifest: dict | None = None, *, papers: Iterable[Paper] = (),
                figures: Sequence[ReportFigure] = ()) -> str:
    """The report as one self-contained HTML document. ``papers``: the run's kept papers (their text
    gives each abstract claim its passage); ``figures``: the report's figures (``report_figures``)."""
    manifest = manifest or {}
    by_id = {p.id: p for p in papers}
    labels = claim_labels(report.claims)
    body = [*_header(report, manifest), *_answer(report, labels.values()), *_synthesis(report, labels),
            *_results(report, manifest, figures), *_claims(report, labels, by_id), *_contradictions(report, labels, manifest), *_references(report),
            *_methodology(report, manifest),
            "<footer>Machine-generated synthesis of existing literature; not primary research.</footer>"]
    return "\n".join([
        "<!DOCTYPE html>", '<html lang="en">', "<head>", '<meta charset="utf-8"/>',
        # nothing on the page may load or run anything: paper text is untrusted
        "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; img-src data:; "
        "style-src 'unsafe-inline'\"/>",
        '<meta name="viewport" content="width=device-width, initial-scale=1"/>',
        f"<title>{_e(report.title, 200)}</title>", f"<style>{_STYLE}</style>", "</head>", "<body>", "<main>",
        *body, "</main>", "</body>", "</html>", ""])
