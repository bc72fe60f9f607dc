"""Parse the LitQA2 PDF library, cold and warm, and check that the parsed text holds the key passages.

    python bench/pdf_library.py                      # ../shared/data/litqa2/library, 2 workers
    python bench/pdf_library.py --workers 1 --show-misses

Cold = a fresh temporary parse cache (every PDF parsed in the process pool); warm = the same
cache again (every PDF answered from disk). Prints files, pages, characters, seconds, skips by
reason, DOIs found vs the file names (file name = DOI with "/" -> "_"), and the key-passage check:
for each train question whose source PDF is in the library, the share of the key passage's word
8-grams (lower-cased, punctuation stripped, whitespace-split) found in the parsed text of its
``library_file``; a question counts when the share is >= 50 %. Target: >= 38 of the 40. Prints
JSON last.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sovereign_kernel.sources.pdf import ParsedPdfCache, parse_library

SHARED = ROOT.parent / "shared" / "data" / "litqa2"
NGRAM = 8


def words(text: str, punctuation: str = "") -> list[str]:
    """Lower-cased, punctuation stripped, whitespace-split (as the LitQA2 evidence check reads).
    ``punctuation=" "`` reads punctuation as a space instead: "20,352" = "20, 352", "S3B,C" = "S3B, C"."""
    return re.sub(r"[^\w\s]", punctuation, text.lower()).split()


def ngrams(tokens: list[str]) -> set[tuple[str, ...]]:
    return {tuple(tokens[i:i + NGRAM]) for i in range(len(tokens) - NGRAM + 1)}


def coverage(passage: str, text_grams: set[tuple[str, ...]], punctuation: str = "") -> float:
    grams = ngrams(words(passage, punctuation))
    return len(grams & text_grams) / len(grams) if grams else 0.0


def timed_parse(paths, cache_dir: Path, workers: int, max_pages: int):
    start = time.monotonic()
    parsed, skipped = parse_library(paths, ParsedPdfCache(cache_dir), workers=workers, max_pages=max_pages)
    return parsed, skipped, time.monotonic() - start


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--library", type=Path, default=SHARED / "library")
    ap.add_argument("--questions", type=Path, default=SHARED / "questions_train.jsonl")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--max-pages", type=int, default=300)
    ap.add_argument("--show-misses", action="store_true", help="print each question below 50 %%")
    args = ap.parse_args()

    paths = sorted(args.library.glob("*.pdf"))
    with tempfile.TemporaryDirectory() as cache_dir:
        parsed, skipped, cold = timed_parse(paths, Path(cache_dir), args.workers, args.max_pages)
        _, _, warm = timed_parse(paths, Path(cache_dir), args.workers, args.max_pages)

    by_file = {p.full_text.file: p for p in parsed}
    pages = sum(p.full_text.n_pages for p in parsed)
    chars = sum(len(p.full_text.body) for p in parsed)
    ref_chars = sum(len(p.full_text.references) for p in parsed)
    reasons = Counter(s.reason for s in skipped)
    doi_ok = sum(p.metadata.doi == p.full_text.file[:-4].replace("_", "/").lower() for p in parsed)
    print(f"files {len(paths)}  parsed {len(parsed)}  skipped {len(skipped)} {dict(reasons)}")
    print(f"pages {pages}  body characters {chars:,}  reference characters {ref_chars:,}")
    print(f"seconds cold {cold:.1f}  warm {warm:.2f}  (workers {args.workers})")
    print(f"DOI found = file name's DOI: {doi_ok}/{len(parsed)}")

    questions = [json.loads(line) for line in args.questions.read_text().splitlines() if line.strip()]
    in_library = [q for q in questions if q.get("in_library")]
    grams: dict[str, tuple[set, set, set]] = {}
    with_abstract = body_only = spaced = 0
    for q in in_library:
        doc = by_file.get(q["library_file"])
        if doc is None:
            print(f"  missing or skipped: {q['library_file']}")
            continue
        if doc.full_text.file not in grams:
            body = ngrams(words(doc.full_text.body))
            text = doc.full_text.body + "\n" + doc.metadata.abstract
            grams[doc.full_text.file] = (body | ngrams(words(doc.metadata.abstract)), body, ngrams(words(text, " ")))
        full, body, full_spaced = grams[doc.full_text.file]
        share, share_body = coverage(q["key_passage"], full), coverage(q["key_passage"], body)
        with_abstract += share >= 0.5
        body_only += share_body >= 0.5
        spaced += coverage(q["key_passage"], full_spaced, " ") >= 0.5
        if args.show_misses and share < 0.5:
            print(f"  {share:.2f}  {q['library_file']}: {q['key_passage'][:120]}")
    n = len(in_library)
    print(f"key passage >= 50 % of 8-grams: body+abstract {with_abstract}/{n}  body alone {body_only}/{n}"
          f"  (punctuation read as a space: {spaced}/{n})")
    print(json.dumps({"files": len(paths), "parsed": len(parsed), "skipped": dict(reasons), "pages": pages,
                      "body_chars": chars, "cold_s": round(cold, 2), "warm_s": round(warm, 2),
                      "workers": args.workers, "doi_matches": doi_ok, "key_passage_hits": with_abstract,
                      "key_passage_hits_body_only": body_only, "key_passage_hits_punct_as_space": spaced,
                      "in_library_questions": n}))


if __name__ == "__main__":
    main()
