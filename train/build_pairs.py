"""Training pairs for the cross-encoder verifier, from SciFact train and the kernel's own retriever.

    python train/build_pairs.py [--scifact ../shared/data/scifact] [--out train/work] [--home DIR]

Runs in the project's own environment (it needs the kernel's retriever, not torch). Writes
``OUT/pairs.jsonl`` — one (claim, sentence, label) pair a line, with the claim's fold — and
``OUT/rankings.json`` — the kernel's top-30 abstracts for every claim with evidence (the reranker's
candidates, scored later by ``bench/verifier_cv.py``).

Pairs, per claim (SciFact train, 809 claims):
- every rationale sentence of an evidence abstract -> that abstract's label (SUPPORT / CONTRADICT);
- the two non-rationale sentences of each evidence abstract closest to the claim (TF-IDF) -> NEI;
- hard negatives: the three highest-ranked *non-evidence* abstracts of the kernel's retriever
  (planner queries -> BM25 -> ``score_candidates``, as a research run ranks), their two sentences
  closest to the claim and their most result-like sentence (numbers, CIs, p-values) -> NEI;
- other claims' rationales: a rationale sentence of one of the claim's top-5 retrieved non-evidence
  abstracts (evidence for a different claim) -> NEI;
- negation: the claim negated (``negate``) with each SUPPORT rationale -> CONTRADICT;
- claims without evidence: the two closest sentences of each cited abstract -> NEI.

Why the result-like and other-claim negatives and the negations (version 2 of the pairs): the first
model, trained without them, read any on-topic sentence with a hazard ratio as evidence (P(CONTRADICT)
0.6 for "ticagrelor reduced ... with similar bleeding rates" against a claim about bleeding in
diabetics): 45% of the hard-negative abstracts had a sentence above 0.5.

The shipped model's pairs were built before the retriever took dense candidates (``retrieval.dense``):
their hard negatives are the lexical retriever's. ``rank_all`` ranks as the retriever does now, so a
rebuild would draw them from the dense-candidate retriever; ``bench/verifier_cv.py`` scores that
retriever's rankings (``OUT/rankings.json``, re-ranked 2026-12-07).

Tried and not kept (2026-12-07, ``bench/results/verifier_pairs_v3.txt``): leaving out the NEI pairs of
each claim's *top* non-evidence abstract, which is often evidence SciFact did not label
(``bench/data/SCIFACT_AUDIT.md``). The cross-encoder's out-of-fold AUROC moved by fold +0.035, +0.019,
-0.077 (a stalled fit), -0.030; the calibrated verifier's by +0.002, +0.006, -0.008, -0.011.

Folds: ``fold_of(claim id)`` — sha256 of the id mod 5 — so every script (training, calibration,
reranking) splits the same way and no claim is in both the fit and the score of a fold.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import sys
import time
from pathlib import Path

import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from sovereign_kernel.app.evaluation import (
    build_resources,
    kernel_ranking,
    load_scifact,
)
from sovereign_kernel.domain.settings import Settings
from sovereign_kernel.runtime.workspace import Workspace

FOLDS = 5
LABELS = ("SUPPORT", "CONTRADICT", "NEI")


def fold_of(claim_id: str | int) -> int:
    return int(hashlib.sha256(str(claim_id).encode()).hexdigest(), 16) % FOLDS


def closest(claim: str, sentences: list[str], k: int, exclude: set[int] = frozenset()) -> list[int]:
    """The k sentences (indices) closest to the claim by TF-IDF 1-2-gram cosine, ties by position."""
    idx = [i for i in range(len(sentences)) if i not in exclude]
    if not idx:
        return []
    vec = TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True)
    try:
        m = vec.fit_transform([claim] + [sentences[i] for i in idx])
        sim = (m[0] @ m[1:].T).toarray().ravel()
    except ValueError:
        sim = np.zeros(len(idx))
    order = np.lexsort((np.arange(len(idx)), -sim))[:k]
    return [idx[i] for i in order]


RESULT = re.compile(r"\d|\bCI\b|\bp\s*[<=>]|\bOR\b|\bHR\b|\bRR\b|%", re.I)
NEGATED = re.compile(r"\b(is|are|was|were|does|do|did|has|have|had|can|could|will|may|might|should)\s+not\b|\bno\b", re.I)
AUX = re.compile(r"(?<!\bwho )(?<!\bthat )(?<!\bwhich )\b(is|are|was|were|can|could|will|may|might|should|has|have|had)\b")
SWAPS = {"increases": "decreases", "decreases": "increases", "increased": "decreased", "decreased": "increased",
         "increase": "decrease", "decrease": "increase", "reduces": "increases", "reduced": "increased",
         "higher": "lower", "lower": "higher", "more": "less", "less": "more", "positively": "negatively",
         "negatively": "positively", "promotes": "inhibits", "inhibits": "promotes", "improves": "worsens",
         "enhances": "reduces", "upregulates": "downregulates", "downregulates": "upregulates",
         "activates": "inhibits", "elevated": "reduced", "greater": "smaller", "better": "worse", "worse": "better"}
# third-person verb endings; plural-noun-like endings (-ents, -ers, -ies) are left out: "patients" is no verb
VERB_S = re.compile(r"(?<!\bthe )(?<!\ba )(?<!\bof )\b([a-z]{3,}(?:ates|izes|ises|uces|ects|ences|ibits|otes|oves|"
                    r"ances|ults|ucts|eads|ives|ires|orms|uses))\b")


def negate(claim: str) -> str | None:
    """The claim negated, or None when no rule applies (already negated claims are left alone).

    In order: swap a direction word (increases -> decreases, higher -> lower); else "not" after the
    first auxiliary (is, are, can, has, ...); else "does not" before the first third-person verb
    (influences -> does not influence). SciFact's own CONTRADICT claims were written this way."""
    if NEGATED.search(claim):
        return None
    words = claim.split()
    for i, w in enumerate(words):
        core = w.strip(".,;:").lower()
        if core in SWAPS and i > 0:
            before = words[:i]
            if before[-1].lower() == "an" and SWAPS[core][0] not in "aeiou":
                before = before[:-1] + [before[-1][:-1]]  # "an increased" -> "a decreased"
            return " ".join(before + [w.lower().replace(core, SWAPS[core])] + words[i + 1:])
    m = AUX.search(claim)
    if m and m.start() > 0:
        return claim[:m.end()] + " not" + claim[m.end():]
    m = VERB_S.search(claim, 1)
    if m and m.start() > 0:
        verb = m.group(1)
        lemma = verb[:-3] + "y" if verb.endswith("ies") else verb[:-2] if re.search(r"(ss|sh|ch|x)es$", verb) \
            else verb[:-1]
        return claim[:m.start()] + "does not " + lemma + claim[m.end():]
    return None


def result_like(sentences: list[str], exclude: set[int]) -> list[int]:
    """The sentence with the most numbers / CIs / p-values (at least two), the kind a lazy verifier takes for evidence."""
    scored = [(len(RESULT.findall(s)), -i) for i, s in enumerate(sentences) if i not in exclude]
    best = max(scored, default=(0, 0))
    return [-best[1]] if best[0] >= 2 else []


def rank_all(src: Path) -> dict[str, list[str]]:
    """The kernel's top-30 abstracts for every claim with evidence, as a research run ranks them."""
    data = load_scifact(src / "corpus.jsonl", src / "claims_train.jsonl")
    settings = Settings()
    workspace = Workspace()
    res = build_resources(data, settings, workspace)
    t0 = time.time()
    rankings: dict[str, list[str]] = {}
    try:
        for i, c in enumerate(data.claims):
            rankings[c.id] = kernel_ranking(c.text, res, settings, rerank=False)[:30]
            if (i + 1) % 50 == 0:
                print(f"ranked {i + 1}/{len(data.claims)} ({time.time() - t0:.0f} s)", file=sys.stderr, flush=True)
    finally:
        workspace.close()
    return rankings


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--scifact", default=str(REPO.parent / "shared" / "data" / "scifact"))
    ap.add_argument("--out", default=str(REPO / "train" / "work"))
    ap.add_argument("--rankings", help="reuse an earlier rankings.json instead of ranking again (~10 min)")
    args = ap.parse_args()
    src, out = Path(args.scifact), Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    corpus = {}
    for line in open(src / "corpus.jsonl", encoding="utf-8"):
        rec = json.loads(line)
        corpus[str(rec["doc_id"])] = [s.strip() for s in rec["abstract"]]
    raw_claims = [json.loads(line) for line in open(src / "claims_train.jsonl", encoding="utf-8")]
    t0 = time.time()
    rankings = json.loads(Path(args.rankings).read_text()) if args.rankings else rank_all(src)
    rationale_of: dict[str, dict[str, list[int]]] = {}  # doc -> claim id -> its rationale sentences
    for rec in raw_claims:
        for doc, sets in (rec.get("evidence") or {}).items():
            rationale_of.setdefault(str(doc), {})[str(rec["id"])] = sorted({i for s in sets for i in s["sentences"]})
    pairs = []
    for rec in raw_claims:
        cid, claim = str(rec["id"]), rec["claim"]
        fold = fold_of(cid)

        def add(doc: str, si: int, label: str, kind: str) -> None:
            pairs.append({"claim_id": cid, "fold": fold, "claim": claim, "doc_id": doc, "sentence_index": si,
                          "sentence": corpus[doc][si], "label": label, "kind": kind})

        evidence = rec.get("evidence") or {}
        for doc, sets in sorted(evidence.items()):
            if doc not in corpus:
                continue
            label = sets[0]["label"]
            rationale = sorted({i for s in sets for i in s["sentences"]})
            negated = negate(claim) if label == "SUPPORT" else None
            for si in rationale:
                add(doc, si, label, "rationale")
                if negated:
                    pairs.append({"claim_id": cid, "fold": fold, "claim": negated, "doc_id": doc, "sentence_index": si,
                                  "sentence": corpus[doc][si], "label": "CONTRADICT", "kind": "negated-claim"})
            for si in closest(claim, corpus[doc], 2, set(rationale)):
                add(doc, si, "NEI", "same-abstract")
        if evidence:
            ranked = [d for d in rankings.get(cid, []) if d not in evidence and d in corpus]
            for doc in ranked[:3]:
                near = closest(claim, corpus[doc], 2)
                for si in near:
                    add(doc, si, "NEI", "retrieved")
                for si in result_like(corpus[doc], set(near)):
                    add(doc, si, "NEI", "retrieved-result")
            for doc in ranked[:5]:
                others = sorted({i for c2, rat in rationale_of.get(doc, {}).items() if c2 != cid for i in rat})
                for si in others:
                    add(doc, si, "NEI", "other-claim-rationale")
        else:
            for doc in [str(d) for d in rec.get("cited_doc_ids", []) if str(d) in corpus]:
                for si in closest(claim, corpus[doc], 2):
                    add(doc, si, "NEI", "cited-nei")
    seen: set[tuple[str, str, int, str]] = set()  # a sentence picked twice (closest and other-claim) counts once
    pairs = [p for p in pairs if (k := (p["claim"], p["doc_id"], p["sentence_index"], p["label"])) not in seen
             and not seen.add(k)]
    with open(out / "pairs.jsonl", "w", encoding="utf-8") as fh:
        fh.writelines(json.dumps(p, sort_keys=True) + "\n" for p in pairs)
    (out / "rankings.json").write_text(json.dumps(rankings, sort_keys=True))
    digest = hashlib.sha256((out / "pairs.jsonl").read_bytes()).hexdigest()
    kinds = {k: sum(p["kind"] == k for p in pairs) for k in sorted({p["kind"] for p in pairs})}
    counts = {lab: sum(p["label"] == lab for p in pairs) for lab in LABELS}
    print(json.dumps({"pairs": len(pairs), "labels": counts, "kinds": kinds, "claims": len(raw_claims),
                      "ranked_claims": len(rankings), "pairs_sha256": digest,
                      "seconds": round(time.time() - t0, 1)}))


if __name__ == "__main__":
    main()
