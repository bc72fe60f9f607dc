"""Check the labelled answerability questions against the arXiv corpus by facet co-occurrence.

    python bench/data/check_questions.py [--corpus DIR] [--write] [--quiet]

Reads bench/data/answerability_{train,heldout}.jsonl and the facet patterns in
bench/data/answerability_facets.json ({question: {"file", "kind", "facets": {name: [patterns]},
"counts": {name: n}, "joint": [ids]}}). For every question it counts the corpus papers whose
title + abstract match each facet and the papers that match ALL facets, then applies the rules:

  answerable    every target id is in the corpus and among the joint matches; 1 <= joint <= 5
  join          (unanswerable, "no paper joins X with Y") >= 2 facets, every facet count >= 3, joint == 0
  off_domain    (unanswerable, "off the corpus's domain") joint == 0
  non_question  error_ok is true, no facets, the text has no "?"; at most 2 per file

plus file-level rules: 25 + 25 questions in train and 15 + 15 in heldout, >= 18 / >= 10 join
questions, no duplicate questions, no held-out target shared with the train file or with
/work/shared/data/questions/calibration_train.jsonl, no question text shared between files,
and the stored counts/joint in the facets file equal the recomputed ones (--write refreshes them).

Matching: a paper's text is its title + abstract, lowercased (records sharing an id, version
suffix removed, are merged). A pattern matches when it occurs at the START of a word: it must
not be preceded by a letter or digit, but may run on (so "watermark" matches "watermarking",
"watermarked", "anti-watermark"; "gnn" matches "gnns"; but "ocr" does not match "mediocre").
A facet matches when any of its patterns does. Prints a table; exits 1 if any rule fails.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
SHARED = REPO.parent / "shared" / "data"
FILES = {"train": HERE / "answerability_train.jsonl", "heldout": HERE / "answerability_heldout.jsonl"}
FACETS = HERE / "answerability_facets.json"
CALIBRATION = SHARED / "questions" / "calibration_train.jsonl"
EXPECTED = {"train": (25, 25, 18), "heldout": (15, 15, 10)}  # answerable, unanswerable, min joins
MAX_JOINT_ANSWERABLE = 5
MIN_FACET_COUNT = 3
MAX_NON_QUESTIONS = 2


def load_corpus(corpus_dir: Path) -> dict[str, str]:
    docs: dict[str, str] = {}
    for path in sorted(corpus_dir.glob("*.jsonl")):
        with path.open() as fh:
            for line in fh:
                if not line.strip():
                    continue
                rec = json.loads(line)
                pid = re.sub(r"v\d+$", "", rec["id"])
                text = f"{rec.get('title') or ''} \n {rec.get('abstract') or ''}".lower()
                docs[pid] = docs[pid] + " \n " + text if pid in docs else text
    return docs


class Matcher:
    """Word-start pattern matching over the corpus, cached per pattern."""

    def __init__(self, docs: dict[str, str]):
        self.docs = docs
        self.cache: dict[str, frozenset[str]] = {}

    def pattern(self, pat: str) -> frozenset[str]:
        pat = pat.lower()
        if pat not in self.cache:
            rx = re.compile(r"(?<![a-z0-9])" + re.escape(pat))
            # cheap substring prefilter, then the word-start regex
            self.cache[pat] = frozenset(i for i, t in self.docs.items() if pat in t and rx.search(t))
        return self.cache[pat]

    def facet(self, pats: list[str]) -> frozenset[str]:
        out: set[str] = set()
        for p in pats:
            out |= self.pattern(p)
        return frozenset(out)


def read_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def kind_of(row: dict) -> str:
    if row.get("answerable"):
        return "answerable"
    if row.get("error_ok"):
        return "non_question"
    if str(row.get("why", "")).startswith("off the corpus"):
        return "off_domain"
    return "join"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--corpus", default=str(SHARED / "arxiv"))
    ap.add_argument("--write", action="store_true", help="store the recomputed counts/joint in the facets file")
    ap.add_argument("--quiet", action="store_true", help="print only failures and the summary")
    args = ap.parse_args()

    docs = load_corpus(Path(args.corpus))
    match = Matcher(docs)
    facets = json.loads(FACETS.read_text())
    rows = {name: read_jsonl(path) for name, path in FILES.items()}
    calib_targets = {t for r in read_jsonl(CALIBRATION) for t in r.get("target") or []} if CALIBRATION.exists() else set()

    failures: list[str] = []
    seen_q: dict[str, str] = {}
    print(f"corpus: {len(docs)} papers from {args.corpus}")
    print(f"{'file':8} {'kind':12} {'ok':3} {'facet counts':44} {'joint':>5}  question")
    for fname, rs in rows.items():
        for r in rs:
            q = r["q"]
            kind = kind_of(r)
            errs: list[str] = []
            if q in seen_q:
                errs.append(f"duplicate question (also in {seen_q[q]})")
            seen_q[q] = fname
            entry = facets.get(q)
            if entry is None:
                failures.append(f"[{fname}] no facets entry: {q}")
                print(f"{fname:8} {kind:12} NO  {'-':44} {'-':>5}  {q}")
                continue
            if entry.get("kind") != kind or entry.get("file") != fname:
                errs.append(f"facets entry says {entry.get('file')}/{entry.get('kind')}, row is {fname}/{kind}")
            fac = entry.get("facets") or {}
            sets = {name: match.facet(pats) for name, pats in fac.items()}
            counts = {name: len(s) for name, s in sets.items()}
            joint = sorted(frozenset.intersection(*sets.values())) if sets else []

            if kind == "answerable":
                targets = r.get("target") or []
                if not targets:
                    errs.append("no target")
                for t in targets:
                    if t not in docs:
                        errs.append(f"target {t} not in corpus")
                    elif t not in joint:
                        errs.append(f"target {t} not among joint matches")
                    if re.search(r"v\d+$", t):
                        errs.append(f"target {t} keeps a version suffix")
                if not 1 <= len(joint) <= MAX_JOINT_ANSWERABLE:
                    errs.append(f"joint {len(joint)} not in 1..{MAX_JOINT_ANSWERABLE}")
                if len(fac) < 1:
                    errs.append("no facets")
                for t in targets:
                    title = docs.get(t, "").split(" \n ")[0].strip()
                    if title and title in q.lower():
                        errs.append(f"question copies the title of {t}")
            elif kind == "join":
                if len(fac) < 2:
                    errs.append("a join needs >= 2 facets")
                low = [n for n, c in counts.items() if c < MIN_FACET_COUNT]
                if low:
                    errs.append(f"facet(s) {low} match < {MIN_FACET_COUNT} papers")
                if joint:
                    errs.append(f"joint {len(joint)} != 0: {joint[:5]}")
                if not str(r.get("why", "")).startswith("no paper joins"):
                    errs.append("why should say 'no paper joins X with Y'")
            elif kind == "off_domain":
                if not fac:
                    errs.append("no facets")
                if joint:
                    errs.append(f"joint {len(joint)} != 0: {joint[:5]}")
            else:  # non_question
                if fac:
                    errs.append("a non-question has no facets")
                if "?" in q:
                    errs.append("a non-question should not contain '?'")
                if r.get("error_ok") is not True:
                    errs.append("error_ok must be true")

            stored = {k: entry.get(k) for k in ("counts", "joint")}
            if args.write:
                entry["counts"], entry["joint"] = counts, joint
            elif stored != {"counts": counts, "joint": joint}:
                errs.append("stored counts/joint differ from recomputed (run with --write)")

            ok = not errs
            if not ok or not args.quiet:
                cstr = ", ".join(f"{k}={v}" for k, v in counts.items())
                cstr = cstr if len(cstr) <= 44 else cstr[:41] + "..."
                print(f"{fname:8} {kind:12} {'ok' if ok else 'NO':3} {cstr:44} {len(joint):>5}  {q}")
            for e in errs:
                failures.append(f"[{fname}] {q}: {e}")
                print(f"{'':26}! {e}")

    # file-level rules
    summary = {}
    for fname, rs in rows.items():
        kinds = [kind_of(r) for r in rs]
        n_ans = kinds.count("answerable")
        n_un = len(kinds) - n_ans
        summary[fname] = {k: kinds.count(k) for k in ("answerable", "join", "off_domain", "non_question")}
        want_a, want_u, min_join = EXPECTED[fname]
        if (n_ans, n_un) != (want_a, want_u):
            failures.append(f"[{fname}] has {n_ans} answerable + {n_un} unanswerable, want {want_a} + {want_u}")
        if kinds.count("join") < min_join:
            failures.append(f"[{fname}] has {kinds.count('join')} join questions, want >= {min_join}")
        if kinds.count("non_question") > MAX_NON_QUESTIONS:
            failures.append(f"[{fname}] has {kinds.count('non_question')} non-questions, want <= {MAX_NON_QUESTIONS}")
    train_t = {t for r in rows["train"] for t in r.get("target") or []}
    held_t = {t for r in rows["heldout"] for t in r.get("target") or []}
    if held_t & train_t:
        failures.append(f"held-out targets shared with train: {sorted(held_t & train_t)}")
    if held_t & calib_targets:
        failures.append(f"held-out targets shared with calibration_train: {sorted(held_t & calib_targets)}")
    if train_t & calib_targets:
        failures.append(f"train targets shared with calibration_train: {sorted(train_t & calib_targets)}")
    extra = set(facets) - set(seen_q)
    if extra:
        failures.append(f"facets file has {len(extra)} entries for questions in no file")

    if args.write:
        FACETS.write_text(json.dumps(facets, indent=1, ensure_ascii=False) + "\n")
        print(f"wrote counts/joint to {FACETS}")

    print()
    for fname, s in summary.items():
        print(f"{fname:8} answerable={s['answerable']} unanswerable={s['join'] + s['off_domain'] + s['non_question']} "
              f"(join={s['join']}, off_domain={s['off_domain']}, non_question={s['non_question']})")
    if failures:
        print(f"\nFAIL: {len(failures)} problem(s)")
        for f in failures:
            print("  -", f)
        return 1
    print(f"\nPASS: all {sum(len(v) for v in rows.values())} questions meet the rules")
    return 0


if __name__ == "__main__":
    sys.exit(main())
