"""Build the bundled demo corpus ``sovereign_kernel/data/demo_corpus.jsonl.gz``.

Reads the real arXiv metadata in ``../shared/data/arxiv`` (not shipped with the repo) and
selects, with fixed regular expressions and a hash-ordered sample, about 3.5k records on
adversarial robustness of vision-language / multimodal / mixture-of-experts models plus
neighbouring and background papers. The output is deterministic: records sorted by id,
keys sorted, gzip header without file name and with mtime 0. Rerunning it on the same input
gives a byte-identical file.

    python bench/build_demo_corpus.py [--src ../shared/data/arxiv] [--out sovereign_kernel/data/demo_corpus.jsonl.gz]

Tiers (a record is assigned to the first tier that matches; text = title + " " + abstract with
whitespace collapsed; all regexes case-insensitive):

1. target   -- every record of target_papers.jsonl.
2. core     -- TYPOGRAPHIC, or MOE, or (VL_MODEL and ATTACK); from both source files.
3. robust   -- VL_MODEL and ROBUSTNESS (robustness without an attack: neighbouring).
4. adv_nb   -- adv_attack_digest records matching none of the above: the N_ADV_NEIGHBOURS
               with the smallest sha256(id) among those whose ``topics`` include
               "large language model attack", and as many among the rest (image/audio/
               graph attacks ...): adversarial work on other model families.
5. background -- daily_cs_sample records with ``selection == "random_background"`` matching
               none of the above: the N_BACKGROUND with the smallest sha256(id).

An id present in several files is written once, as the record ``load_corpus`` would keep:
higher ``version`` if both are known, else the later ISO ``published`` date, else the record
of the later file (adv_attack_digest < daily_cs_sample < target_papers).

The records' arXiv ``comment`` is not kept; the venue it states (``"Accepted at NeurIPS 2023"``),
when it states one, is, as ``venue`` (``sovereign_kernel.sources.venue.venue_from_comment``; the
source has no ``journal_ref``).
"""

from __future__ import annotations

import argparse
import collections
import gzip
import hashlib
import io
import json
import re
import sys
from pathlib import Path

from sovereign_kernel.sources.venue import venue_from_comment

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_SRC = ROOT.parent / "shared" / "data" / "arxiv"
DEFAULT_OUT = ROOT / "sovereign_kernel" / "data" / "demo_corpus.jsonl.gz"
FILES = ("adv_attack_digest.jsonl", "daily_cs_sample.jsonl", "target_papers.jsonl")
KEEP_FIELDS = ("id", "title", "abstract", "authors", "categories", "published", "version")

N_ADV_NEIGHBOURS = 200  # per digest topic group (LLM attacks / other attacks)
N_BACKGROUND = 300

VL_MODEL = re.compile(
    r"vision[- ]language|visual[- ]language|\b(?:L|M)?VLMs?\b|\bVLP\b|\bVLAs?\b|\bCLIP\b"
    r"|image[- ]text|text[- ]to[- ]image|multi-?modal|\bMLLMs?\b|\bLMMs?\b",
    re.I,
)
MOE = re.compile(r"mixture[- ]of[- ]experts?|\bS?MoEs?\b|sparse(?:ly)?[- ]gated|expert routing", re.I)
TYPOGRAPHIC = re.compile(r"typograph", re.I)
ATTACK = re.compile(
    r"adversarial|jailbreak|attack|backdoor|red[- ]teaming|distribution shifts?"
    r"|out[- ]of[- ]distribution|\bOOD\b",
    re.I,
)
ROBUSTNESS = re.compile(r"robustness|perturbation|corruption|poison|certified", re.I)


def _text(rec: dict) -> str:
    return " ".join(f"{rec.get('title', '')} {rec.get('abstract', '')}".split())


def _h(rec: dict) -> str:
    return hashlib.sha256(rec["id"].encode("utf-8")).hexdigest()


def _tier(rec: dict, file: str) -> str | None:
    if file == "target_papers.jsonl":
        return "target"
    t = _text(rec)
    if TYPOGRAPHIC.search(t) or MOE.search(t) or (VL_MODEL.search(t) and ATTACK.search(t)):
        return "core"
    if VL_MODEL.search(t) and ROBUSTNESS.search(t):
        return "robust"
    return None


def _supersedes(new: dict, old: dict) -> bool:
    nv, ov = new.get("version"), old.get("version")
    if nv is not None and ov is not None:
        return nv >= ov
    np_, op = new.get("published") or "", old.get("published") or ""
    if np_ and op and np_ != op:
        return np_ > op
    return True


def select(src: Path) -> tuple[list[dict], collections.Counter]:
    records: dict[str, list[tuple[int, dict]]] = {}
    for order, name in enumerate(FILES):
        with open(src / name, encoding="utf-8") as fh:
            for line in fh:
                if line.strip():
                    rec = json.loads(line)
                    records.setdefault(name, []).append((order, rec))

    chosen: dict[str, str] = {}  # id -> tier
    for name in FILES:
        for _, rec in records[name]:
            tier = _tier(rec, name)
            if tier and rec["id"] not in chosen:
                chosen[rec["id"]] = tier
            elif tier == "target":
                chosen[rec["id"]] = tier

    def sample(pool: list[dict], n: int, tier: str) -> None:
        pool = sorted({r["id"]: r for r in pool if r["id"] not in chosen}.values(), key=_h)
        for r in pool[:n]:
            chosen[r["id"]] = tier

    digest = [r for _, r in records["adv_attack_digest.jsonl"]]
    llm = [r for r in digest if "large language model attack" in (r.get("topics") or [])]
    other = [r for r in digest if "large language model attack" not in (r.get("topics") or [])]
    sample(llm, N_ADV_NEIGHBOURS, "adv_nb")
    sample(other, N_ADV_NEIGHBOURS, "adv_nb")
    background = [r for _, r in records["daily_cs_sample.jsonl"] if r.get("selection") == "random_background"]
    sample(background, N_BACKGROUND, "background")

    kept: dict[str, dict] = {}
    for name in FILES:
        for _, rec in records[name]:
            if rec["id"] in chosen and (rec["id"] not in kept or _supersedes(rec, kept[rec["id"]])):
                kept[rec["id"]] = rec
    out = [{k: kept[i][k] for k in KEEP_FIELDS if kept[i].get(k) is not None} for i in sorted(kept)]
    for rec in out:
        if venue := venue_from_comment(kept[rec["id"]].get("comment")):
            rec["venue"] = venue
    return out, collections.Counter(chosen.values())


def write(records: list[dict], out: Path) -> bytes:
    buf = io.BytesIO()
    with gzip.GzipFile(filename="", mode="wb", fileobj=buf, compresslevel=9, mtime=0) as gz:
        for rec in records:
            gz.write((json.dumps(rec, ensure_ascii=False, sort_keys=True) + "\n").encode("utf-8"))
    data = buf.getvalue()
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(data)
    return data


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--src", type=Path, default=DEFAULT_SRC)
    ap.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = ap.parse_args(argv)
    records, tiers = select(args.src)
    data = write(records, args.out)
    print(f"wrote {len(records)} records to {args.out} ({len(data)} bytes)")
    print("tiers:", dict(sorted(tiers.items())))
    print("with a venue:", sum("venue" in r for r in records))
    print("sha256:", hashlib.sha256(data).hexdigest())
    return 0


if __name__ == "__main__":
    sys.exit(main())
