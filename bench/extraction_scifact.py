"""Does the offline extractor pick finding sentences? Measured on SciFact train's rationales.

    python bench/extraction_scifact.py [--scifact ../shared/data/scifact] [--home DIR]

SciFact marks, for each claim and each abstract that supports or contradicts it, the rationale
sentences: the sentences that state the finding. The offline extractor scores each sentence of
an abstract as w x claim-cue score (``cue_score``: finding / comparison / number cues up,
background / motivation down) + (1 - w) x relevance to the question (w = ``claim_cue_weight``,
0.5), and keeps the top ``claims_per_paper`` (3). Here the claim plays the question. Printed:

- cue AUROC: rationale vs other sentences of the same abstracts, by ``cue_score`` alone (how
  finding-like; question-independent, which is what matters when a broad question makes every
  sentence of an on-topic abstract similarly relevant);
- top-3 hit rate: share of (claim, abstract) pairs whose top 3 contain a rationale, ranked by
  relevance alone, by cue alone, and by the extractor's combination;
- the same for the first-sentence baseline (the first 3 sentences) as a floor.
Sentences are SciFact's own segmentation (index-aligned with the rationales). JSON last.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
from sklearn.metrics import roc_auc_score

ROOT = Path(__file__).resolve().parent.parent
TOP = 3


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--scifact", default=str(ROOT.parent / "shared" / "data" / "scifact"))
    ap.add_argument("--home", default=str(Path.home() / ".cache" / "sovereign-bench"))
    args = ap.parse_args()
    from sovereign_kernel.domain.settings import Settings
    from sovereign_kernel.retrieval.vectors import VectorCache
    from sovereign_kernel.runtime.workspace import Workspace
    from sovereign_kernel.verification.claim_cues import cue_score
    from sovereign_kernel.verification.claim_extraction import relevance

    corpus = {}
    for line in open(Path(args.scifact) / "corpus.jsonl", encoding="utf-8"):
        rec = json.loads(line)
        corpus[rec["doc_id"]] = [" ".join(s.split()) for s in rec["abstract"]]
    pairs = []  # (claim, sentences, rationale indices)
    for line in open(Path(args.scifact) / "claims_train.jsonl", encoding="utf-8"):
        rec = json.loads(line)
        for doc, sets in (rec.get("evidence") or {}).items():
            rationale = {i for s in sets for i in s["sentences"]}
            sentences = corpus.get(int(doc))
            if sentences and rationale and len(sentences) > TOP:
                pairs.append((rec["claim"], sentences, rationale))
    settings = Settings()  # the defaults: the extractor's weights and the local MiniLM's shape
    ext, r = settings.extraction, settings.retriever
    w = ext.claim_cue_weight
    extractor = f"extractor ({w:g} cue + {1 - w:g} relevance)"
    # the local MiniLM and its vector ids, as a run's Workspace makes them
    embedder = Workspace().local_embedder(r.embed_max_tokens, r.embed_batch_size)
    model_id = f"all-MiniLM-L6-v2-int8-onnx-t{r.embed_max_tokens}"
    vectors = VectorCache(Path(args.home) / "vectors.sqlite", embedder, model_id)
    labels, cues = [], []
    hits = {"relevance": 0, "cue": 0, extractor: 0, "first 3 sentences": 0}
    for claim, sentences, rationale in pairs:
        cue = np.array([cue_score(s, i) for i, s in enumerate(sentences)])
        cos = vectors.embed(sentences, kind="passage") @ vectors.embed([claim], kind="query")[0]
        rel = relevance(cos, ext)  # (cos - claim_relevance_floor) / claim_relevance_span, clipped to 0..1
        for name, score in (("relevance", cos), ("cue", cue), (extractor, w * cue + (1 - w) * rel),
                            ("first 3 sentences", -np.arange(len(sentences), dtype=float))):
            top = np.argsort(-score, kind="stable")[:TOP]
            hits[name] += bool(rationale & set(top.tolist()))
        labels += [i in rationale for i in range(len(sentences))]
        cues += cue.tolist()
    n = len(pairs)
    auroc = float(roc_auc_score(labels, cues))
    print(f"SciFact train: {n} (claim, evidence abstract) pairs, {len(labels)} sentences, {sum(labels)} rationales")
    print(f"cue AUROC (rationale vs other sentences): {auroc:.3f}")
    for name, h in hits.items():
        print(f"top-{TOP} hit rate, {name:38s} {h / n:.3f}")
    print(json.dumps({"pairs": n, "cue_auroc": round(auroc, 4), **{f"hit@{TOP} {k}": round(h / n, 4) for k, h in hits.items()}}))


if __name__ == "__main__":
    sys.exit(main())
