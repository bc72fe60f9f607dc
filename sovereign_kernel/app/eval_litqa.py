"""``sovereign-kernel eval litqa``: research over a PDF library for every LitQA2 question, measured.

For each question the kernel runs offline over the library, as a user's run would, and is scored on
what its report shows:

- **evidence recall** (questions whose source paper is in the library): the key passage counts as
  found when >= 50 % of its word 8-grams (lower-cased, punctuation stripped) are in the report's
  claims and evidence — the claims' source spans, their evidence spans, the in-paper corroborating
  spans and the full-text passages the report shows it read; the stricter recall over the claims
  and their evidence alone is reported beside it;
- **selective answering**: the share of in-library questions that end DOI grade, and of
  not-in-library questions that end Watchlist (the honest answer: the library cannot say);
- **source rank**: the source paper's rank among the kept papers (None when it was not kept).

The same runs with ``read_full_text=False`` (each PDF read from its first page's abstract only) are
the baseline beside it. Runs are published into a temporary data dir; the parse, index and vector
caches are the user's, so a second evaluation is warm.
"""

from __future__ import annotations

import json
import re
import sys
import tempfile
import time
from pathlib import Path
from typing import Callable

from sovereign_kernel.domain.errors import EvalError
from sovereign_kernel.domain.ids import normal_doi
from sovereign_kernel.domain.schemas import Report

NGRAM = 8
FOUND_SHARE = 0.5
_PUNCT = re.compile(r"[^\w\s]")


def words(text: str) -> list[str]:
    """Lower-cased words with punctuation stripped (how LitQA2 key passages are compared)."""
    return _PUNCT.sub(" ", text.lower()).split()


def ngrams(text: str, n: int = NGRAM) -> set[tuple[str, ...]]:
    w = words(text)
    if len(w) < n:  # a passage shorter than n words is one n-gram of its own length
        return {tuple(w)} if w else set()
    return {tuple(w[i:i + n]) for i in range(len(w) - n + 1)}


def report_evidence(report: Report, passages: bool = True) -> list[str]:
    """Every piece of source text the report shows: claims' spans, their evidence, in-paper
    corroboration, and (``passages``) the full-text passages it read."""
    out = []
    for c in report.claims:
        out.append(c.source_span.text)
        out += [e.span for e in c.evidence]
        if c.corroborated_in_paper is not None:
            out.append(c.corroborated_in_paper.span)
    return out + ([p.text for p in report.passages_read] if passages else [])


def key_passage_share(key_passage: str, pieces: list[str]) -> float:
    """Share of the key passage's word 8-grams found in the pieces (counted per piece: text of two
    pieces is never stitched into an n-gram neither holds)."""
    key = ngrams(key_passage, min(NGRAM, max(1, len(words(key_passage)))))
    if not key:
        return 0.0
    n = len(next(iter(key)))
    found: set[tuple[str, ...]] = set()
    for piece in pieces:
        found |= ngrams(piece, n) & key
    return len(found) / len(key)


def score_question(q: dict, report: Report) -> dict:
    """One question's row: evidence share, tier, and the source paper's rank among the kept papers."""
    sources = {normal_doi(s) or s.lower() for s in q.get("sources", [])}
    kept = [r.id.lower() for r in report.references]
    rank = next((i + 1 for i, pid in enumerate(kept) if pid in sources), None)
    share = claims_share = None
    if q.get("in_library"):
        share = key_passage_share(q.get("key_passage", ""), report_evidence(report))
        claims_share = key_passage_share(q.get("key_passage", ""), report_evidence(report, passages=False))
    return {"id": q["id"], "in_library": bool(q.get("in_library")), "tier": report.quality_tier,
            "policy": report.results.policy, "evidence_share": None if share is None else round(share, 3),
            "evidence_found": None if share is None else share >= FOUND_SHARE,
            "in_claims": None if claims_share is None else claims_share >= FOUND_SHARE, "source_rank": rank,
            "kept": len(kept), "claims": len(report.claims)}


def summarise(rows: list[dict]) -> dict:
    inside = [r for r in rows if r["in_library"]]
    outside = [r for r in rows if not r["in_library"]]

    def share(xs, pred):
        return round(sum(1 for x in xs if pred(x)) / len(xs), 3) if xs else None

    ranks = [r["source_rank"] for r in inside if r["source_rank"] is not None]
    return {
        "questions": len(rows), "in_library": len(inside), "not_in_library": len(outside),
        "evidence_recall": share(inside, lambda r: r["evidence_found"]),
        "evidence_recall_claims_only": share(inside, lambda r: r["in_claims"]),
        "in_library_doi_grade": share(inside, lambda r: r["tier"] == "DOI grade"),
        "not_in_library_watchlist": share(outside, lambda r: r["tier"] == "Watchlist"),
        "source_kept": share(inside, lambda r: r["source_rank"] is not None),
        "source_rank_mean": round(sum(ranks) / len(ranks), 2) if ranks else None,
    }


def load_questions(path: str | Path, limit: int | None = None) -> list[dict]:
    try:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise EvalError(f"cannot read questions {path}: {exc.strerror or exc}") from None
    out = []
    for n, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            q = json.loads(line)
        except ValueError:
            raise EvalError(f"{path}: line {n} is not JSON") from None
        if not isinstance(q, dict) or not isinstance(q.get("question"), str) or "id" not in q:
            raise EvalError(f"{path}: line {n} has no 'id' and 'question'")
        out.append(q)
    return out[:limit] if limit else out


def run_litqa_eval(questions: str | Path, library: str | Path, *, limit: int | None = None, baseline: bool = True,
                   full_text: bool = True, on_progress: Callable[[str, int, int], None] | None = None,
                   **settings) -> dict:
    """Research every question over the library (full text, then the abstract-only baseline)."""
    from sovereign_kernel.app.kernel import Kernel
    from sovereign_kernel.domain.settings import Settings

    if not Path(library).is_dir():
        raise EvalError(f"library folder not found: {library}")
    qs = load_questions(questions, limit)
    caches = Settings().caches  # the user's caches: a library is parsed and embedded once
    out: dict = {"library": str(library), "questions_file": str(questions)}
    variants = ([("full_text", True)] if full_text else []) + ([("abstract_only", False)] if baseline else [])
    if not variants:
        raise EvalError("nothing to run: both the full-text runs and the baseline are switched off")
    with tempfile.TemporaryDirectory(prefix="sovereign-litqa-") as home, Kernel() as kernel:
        for name, full in variants:
            rows, started = [], time.perf_counter()
            for i, q in enumerate(qs, 1):
                result = kernel.research(q["question"], corpus=str(library), home=home, cache_dir=str(caches),
                                         read_full_text=full, **settings)
                rows.append(score_question(q, result.report))
                if on_progress:
                    on_progress(name, i, len(qs))
            out[name] = {"summary": summarise(rows) | {"seconds": round(time.perf_counter() - started, 1)},
                         "rows": rows}
    return out


def format_table(result: dict) -> str:
    names = [n for n in ("full_text", "abstract_only") if n in result]
    keys = ("evidence_recall", "evidence_recall_claims_only", "in_library_doi_grade", "not_in_library_watchlist", "source_kept", "source_rank_mean",
            "seconds")
    first = result[names[0]]["summary"]  # the same questions in every variant
    lines = [f"LitQA2 over {result['library']}: {first['questions']} questions ({first['in_library']} in the "
             f"library, {first['not_in_library']} not)", "", f"{'':28}" + "".join(f"{n:>16}" for n in names)]
    for k in keys:
        cells = "".join(f"{'n/a' if (v := result[n]['summary'][k]) is None else v:>16}" for n in names)
        lines.append(f"{k:28}{cells}")
    return "\n".join(lines)


def run_litqa_command(args) -> int:
    def progress(stage: str, done: int, total: int) -> None:
        if done == total or (total >= 8 and done % max(1, total // 8) == 0):
            print(f"eval litqa {stage}: {done}/{total}", file=sys.stderr, flush=True)

    try:
        result = run_litqa_eval(args.questions, args.library, limit=args.limit, baseline=not args.no_baseline,
                                full_text=not args.baseline_only, on_progress=progress)
    except EvalError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(json.dumps(result, sort_keys=True) if args.json else format_table(result))
    return 0
