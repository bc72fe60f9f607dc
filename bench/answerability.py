"""Answerability on labelled questions: does each answerable question cite its target paper and end
DOI grade, and does each unanswerable one end Watchlist (or a clear error)?

    python bench/answerability.py [--questions FILE ...] [--corpus ../shared/data/arxiv] [--json]

Questions are JSONL: {"q", "answerable", "target": [arXiv ids] | "why", "error_ok"?}. The default set
is the shared calibration file plus the project's own (bench/data/answerability_*.jsonl). One kernel
serves every question, so the corpus and models load once. Prints one line per question and totals.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from sovereign_kernel import Kernel, SovereignError  # noqa: E402

SHARED = REPO.parent / "shared" / "data"
DEFAULT_QUESTIONS = [SHARED / "questions" / "calibration_train.jsonl"]


def load(paths: list[Path]) -> list[dict]:
    rows = []
    for path in paths:
        for line in path.read_text().splitlines():
            if line.strip():
                rows.append({**json.loads(line), "file": path.name})
    return rows


def run(rows: list[dict], corpus: str, home: str | None) -> list[dict]:
    out = []
    with Kernel() as kernel:
        for r in rows:
            t0 = time.perf_counter()
            entry = {"q": r["q"], "answerable": r["answerable"], "file": r["file"]}
            try:
                result = kernel.research(r["q"], corpus=corpus, **({"home": home} if home else {}))
            except SovereignError as exc:
                entry.update(outcome="error", error=str(exc), ok=not r["answerable"] and bool(r.get("error_ok")))
                out.append(entry)
                continue
            report, manifest = result.report, result.manifest
            cited = {ref.id for ref in report.references}
            target = set(r.get("target") or [])
            suff = (manifest.get("evidence_sufficiency") or {}).get("score")
            entry.update(
                outcome=report.quality_tier, policy=report.results.policy, tribunal=report.results.tribunal_score,
                sufficiency=suff, cites_target=bool(target & cited) if target else None,
                seconds=round(time.perf_counter() - t0, 1),
                answer_status=report.answer.status if report.answer else None,
                answer=" ".join(s.text for s in report.answer.sentences)[:600] if report.answer else None,
            )
            if r["answerable"]:
                entry["ok"] = entry["cites_target"] and report.quality_tier == "DOI grade"
            else:
                entry["ok"] = report.quality_tier == "Watchlist"
            out.append(entry)
            print(f"{'ok ' if entry['ok'] else 'BAD'} {'A' if r['answerable'] else 'U'} {entry['outcome']:9s} "
                  f"tribunal {entry['tribunal']:.1f} suff {suff if suff is not None else '-'} "
                  f"target {'cited' if entry['cites_target'] else ('MISSED' if target else '-')} "
                  f"answer {entry['answer_status']} | {r['q'][:90]}", flush=True)
            if not r["answerable"]:
                print(f"    answer: {entry['answer'][:300]}", flush=True)
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--questions", nargs="*", type=Path)
    ap.add_argument("--corpus", default=str(SHARED / "arxiv"))
    ap.add_argument("--home", default=None)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    paths = args.questions or [*DEFAULT_QUESTIONS, *sorted((REPO / "bench" / "data").glob("answerability_*.jsonl")),
                               REPO / "bench" / "data" / "issue12_examples.jsonl"]
    rows = run(load(paths), args.corpus, args.home)
    for name in sorted({r["file"] for r in rows}):
        print(name, json.dumps(summarise([r for r in rows if r["file"] == name])))
    print("all", json.dumps(summarise(rows)))
    if args.json:
        print(json.dumps(rows, indent=1))
    return 0


def summarise(rows: list[dict]) -> dict:
    answerable = [r for r in rows if r["answerable"]]
    unanswerable = [r for r in rows if not r["answerable"]]
    return {
        "answerable": len(answerable), "answerable_ok": sum(bool(r["ok"]) for r in answerable),
        "answerable_cite_target": sum(bool(r.get("cites_target")) for r in answerable),
        "answerable_doi": sum(r.get("outcome") == "DOI grade" for r in answerable),
        # the Answer's status for answerable questions: answered (corroborated), single-source (one paper's
        # word: the facets joined, nothing corroborated) or unanswerable (a facet pair no kept paper joins)
        **{f"answerable_answer_{k}": sum(r.get("answer_status") == k for r in answerable)
           for k in ("answered", "single-source", "unanswerable")},
        "unanswerable": len(unanswerable), "unanswerable_ok": sum(bool(r["ok"]) for r in unanswerable),
        "unanswerable_doi": sum(r.get("outcome") == "DOI grade" for r in unanswerable),
        "unanswerable_error": sum(r.get("outcome") == "error" for r in unanswerable),
        "unanswerable_answer_says_so": sum(r.get("answer_status") == "unanswerable" for r in unanswerable),
    }


if __name__ == "__main__":
    sys.exit(main())
