"""Lexical vs MiniLM-int8 vs hybrid, for retrieval and for claim grounding, on SciFact TRAIN.

Usage: python bench/embedders_scifact.py [--scifact DIR] [--limit N] [--cache-dir /tmp]

a. Retrieval: claim -> 5,183 abstracts (title + abstract); relevant = evidence doc ids;
   claims with empty evidence are skipped. nDCG@10, Recall@10, Recall@100.
b. Grounding: positives = (claim, evidence doc); negative = the top-BM25 non-evidence doc
   of the same claim (a hard negative). AUROC per scorer; the seed baseline is also scored
   at its fixed 0.15 threshold. "rationale@1" = share of positives whose best-scoring
   sentence is a gold rationale sentence (does the scorer point at the right span?).
Corpus and sentence vectors are cached as .npy under --cache-dir so reruns are fast.
The last line printed is one JSON object with every number.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import time
from pathlib import Path

import numpy as np
from sklearn.feature_extraction.text import CountVectorizer, TfidfVectorizer
from sklearn.metrics import precision_score, recall_score, roc_auc_score

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
from sovereign_kernel.retrieval.embeddings import LocalMiniLMEmbeddings  # noqa: E402

WEIGHTS = (0.3, 0.5, 0.7)  # weight of the dense score in a hybrid


def load(d: Path, limit: int | None):
    corpus = [json.loads(line) for line in open(d / "corpus.jsonl")]
    claims = [json.loads(line) for line in open(d / "claims_train.jsonl")]
    claims = [c for c in claims if c["evidence"]]
    return corpus, claims[:limit] if limit else claims


def cached_encode(emb, texts, cache_dir: Path, tag: str):
    """Encode with an on-disk cache keyed by the texts and the embedder settings."""
    h = hashlib.sha256(("\x1e".join(texts) + f"|{emb.max_length}").encode()).hexdigest()[:16]
    path, meta = cache_dir / f"minilm_{tag}_{h}.npy", cache_dir / f"minilm_{tag}_{h}.json"
    if path.exists() and meta.exists():
        return np.load(path), json.loads(meta.read_text())["per_s"], True
    t0 = time.perf_counter()
    v = emb.encode(texts)
    per_s = len(texts) / (time.perf_counter() - t0)
    np.save(path, v)
    meta.write_text(json.dumps({"n": len(texts), "per_s": per_s}))
    return v, per_s, False


def bm25_matrix(docs, k1=1.2, b=0.75):
    """Doc-term BM25 weights (sparse); score(q, d) = query term counts @ weights.T."""
    cv = CountVectorizer(stop_words="english")
    tf = cv.fit_transform(docs).tocsr().astype(np.float64)
    n = tf.shape[0]
    df = np.bincount(tf.indices, minlength=tf.shape[1])
    idf = np.log1p((n - df + 0.5) / (df + 0.5))  # Lucene variant: never negative
    dl = np.asarray(tf.sum(axis=1)).ravel()
    norm = k1 * (1 - b + b * dl / dl.mean())
    rows = np.repeat(np.arange(n), np.diff(tf.indptr))
    tf.data = tf.data * (k1 + 1) / (tf.data + norm[rows]) * idf[tf.indices]
    return cv, tf


def minmax(s):  # per-row (per-query) min-max so lexical and dense scales are comparable
    lo, hi = s.min(axis=1, keepdims=True), s.max(axis=1, keepdims=True)
    return (s - lo) / np.where(hi > lo, hi - lo, 1.0)


def rrf(*scores, k=60):
    out = 0
    for s in scores:
        ranks = np.argsort(np.argsort(-s, axis=1), axis=1)
        out = out + 1.0 / (k + 1 + ranks)
    return out


def retrieval_metrics(scores, rel_sets):
    ndcg, r10, r100 = [], [], []
    disc = 1.0 / np.log2(np.arange(2, 12))
    for s, rel in zip(scores, rel_sets):
        top = np.argsort(-s, kind="stable")[:100]
        hits = np.array([i in rel for i in top])
        ndcg.append((hits[:10] * disc).sum() / disc[: min(len(rel), 10)].sum())
        r10.append(hits[:10].sum() / len(rel))
        r100.append(hits.sum() / len(rel))
    return {"ndcg@10": float(np.mean(ndcg)), "recall@10": float(np.mean(r10)), "recall@100": float(np.mean(r100))}


def rerank(first, second_dense, first_lex, k, w):
    """Top-k of `first`, reordered by w*dense + (1-w)*lex (min-max within the k candidates)."""
    out = np.full_like(first, -np.inf)
    for q in range(first.shape[0]):
        cand = np.argsort(-first[q], kind="stable")[:k]
        d, l = second_dense[q, cand], first_lex[q, cand]
        d = (d - d.min()) / ((d.max() - d.min()) or 1.0)
        l = (l - l.min()) / ((l.max() - l.min()) or 1.0)
        out[q, cand] = w * d + (1 - w) * l
    return out


def seed_baseline(claim, doc):  # exactly the seed: vectorizer fitted on the pair
    m = TfidfVectorizer(ngram_range=(1, 2)).fit_transform([claim, doc])
    return float((m[0] @ m[1].T).toarray()[0, 0])


def local_sentence_tfidf(claim, sents):  # as sovereign_kernel.verification.sentence_verifier fits it
    vec = TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True, stop_words="english")
    try:
        m = vec.fit_transform([claim] + sents)
    except ValueError:
        return np.zeros(len(sents))
    return (m[0] @ m[1:].T).toarray().ravel()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--scifact", type=Path, default=REPO.parent / "shared" / "data" / "scifact")
    ap.add_argument("--limit", type=int, default=None, help="evaluate only the first N claims with evidence")
    ap.add_argument("--cache-dir", type=Path, default=Path("/tmp/sovereign_bench_cache"))
    args = ap.parse_args()
    args.cache_dir.mkdir(parents=True, exist_ok=True)
    t_start = time.perf_counter()
    corpus, claims = load(args.scifact, args.limit)
    ids = [str(d["doc_id"]) for d in corpus]
    pos = {d: i for i, d in enumerate(ids)}
    docs = [(d["title"] + " " + " ".join(d["abstract"])).strip() for d in corpus]
    queries = [c["claim"] for c in claims]
    rel_sets = [{pos[d] for d in c["evidence"]} for c in claims]
    res: dict = {"n_docs": len(docs), "n_claims": len(claims), "split": "train"}
    print(f"SciFact train: {len(docs)} abstracts, {len(claims)} claims with evidence")

    # ---- scores over the whole corpus ---------------------------------------------------
    tfv = TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True, stop_words="english")
    D = tfv.fit_transform(docs)
    s_tfidf = (tfv.transform(queries) @ D.T).toarray()
    cv, W = bm25_matrix(docs)
    s_bm25 = (cv.transform(queries) @ W.T).toarray()
    emb = LocalMiniLMEmbeddings()
    dv, per_s, hit = cached_encode(emb, docs, args.cache_dir, "scifact_corpus")
    res["abstracts_per_s"] = per_s
    print(f"MiniLM-int8 corpus embedding: {per_s:.1f} abstracts/s" + (" (cached run)" if hit else ""))
    qv = emb.encode(queries)
    s_dense = qv @ dv.T

    methods = {"tfidf": s_tfidf, "bm25": s_bm25, "minilm": s_dense}
    for lex_name, lex in (("bm25", s_bm25), ("tfidf", s_tfidf)):
        nl, nd = minmax(lex), minmax(s_dense)
        for w in WEIGHTS:
            methods[f"{lex_name}+minilm w={w}"] = w * nd + (1 - w) * nl
        methods[f"rrf({lex_name},minilm)"] = rrf(lex, s_dense)
    for k in (30, 100):
        for w in (*WEIGHTS, 1.0):
            methods[f"bm25 top{k} -> rerank w={w}"] = rerank(s_bm25, s_dense, s_bm25, k, w)
    retrieval = {m: retrieval_metrics(s, rel_sets) for m, s in methods.items()}
    res["retrieval"] = retrieval
    print("\n(a) Retrieval (claim -> abstracts)          nDCG@10  R@10   R@100")
    for m, r in retrieval.items():
        print(f"  {m:40s} {r['ndcg@10']:.3f}   {r['recall@10']:.3f}  {r['recall@100']:.3f}")

    # ---- grounding pairs ----------------------------------------------------------------
    pairs = []  # (claim idx, doc idx, label, gold rationale sentence ids)
    for qi, c in enumerate(claims):
        for d, ev in c["evidence"].items():
            pairs.append((qi, pos[d], 1, {s for e in ev for s in e["sentences"]}))
        neg = next(i for i in np.argsort(-s_bm25[qi], kind="stable") if i not in rel_sets[qi])
        pairs.append((qi, int(neg), 0, set()))
    y = np.array([p[2] for p in pairs])
    need = sorted({p[1] for p in pairs})
    sents = [s for di in need for s in corpus[di]["abstract"]]
    sv, sent_per_s, _ = cached_encode(emb, sents, args.cache_dir, "scifact_sentences")
    offs, o = {}, 0
    for di in need:
        offs[di] = (o, o + len(corpus[di]["abstract"]))
        o = offs[di][1]
    tf_corpus_q = tfv.transform(queries)
    feats: dict[str, list] = {k: [] for k in ("seed", "dense_abs", "sent_tfidf_corpus", "sent_tfidf_local", "sent_dense")}
    per_sent: list = []
    for qi, di, _, _ in pairs:
        abs_sents = corpus[di]["abstract"]
        a, b = offs[di]
        feats["seed"].append(seed_baseline(queries[qi], " ".join(abs_sents)))
        feats["dense_abs"].append(float(s_dense[qi, di]))
        tc = (tf_corpus_q[qi] @ tfv.transform(abs_sents).T).toarray().ravel()
        tl = local_sentence_tfidf(queries[qi], abs_sents)
        dn = sv[a:b] @ qv[qi]
        per_sent.append((tc, tl, dn))
        feats["sent_tfidf_corpus"].append(tc.max())
        feats["sent_tfidf_local"].append(tl.max())
        feats["sent_dense"].append(dn.max())
    scorers = {
        "seed: tfidf 1-2g whole abstract (pair fit)": (feats["seed"], None),
        "minilm cosine whole abstract": (feats["dense_abs"], None),
        "sent-max tfidf (corpus idf)": (feats["sent_tfidf_corpus"], lambda t: t[0]),
        "sent-max tfidf (local fit)": (feats["sent_tfidf_local"], lambda t: t[1]),
        "sent-max minilm": (feats["sent_dense"], lambda t: t[2]),
    }
    for lex_i, lex_name in ((1, "local"), (0, "corpus")):
        for w in WEIGHTS:
            f = lambda t, w=w, li=lex_i: w * t[2] + (1 - w) * t[li]  # per-sentence hybrid, then max
            scorers[f"sent-max hybrid {lex_name} w={w}"] = ([f(t).max() for t in per_sent], f)
    grounding = {}
    pos_idx = [i for i, p in enumerate(pairs) if p[2] == 1]
    for name, (scores, fn) in scorers.items():
        s = np.asarray(scores, dtype=float)
        g = {"auroc": float(roc_auc_score(y, s))}
        prec, rec, thr = _best_f1(y, s)
        g.update({"best_f1_threshold": thr, "best_f1_precision": prec, "best_f1_recall": rec})
        if fn is not None:
            g["rationale@1"] = float(np.mean([int(np.argmax(fn(per_sent[i]))) in pairs[i][3] for i in pos_idx]))
        grounding[name] = g
    seed = np.asarray(feats["seed"]) >= 0.15
    base = {"threshold": 0.15, "precision": float(precision_score(y, seed, zero_division=0)),
            "recall": float(recall_score(y, seed)), "predicted_positive_rate": float(seed.mean())}
    res.update({"grounding": grounding, "baseline_at_0.15": base, "n_pairs": len(pairs),
                "n_positive_pairs": int(y.sum()), "sentences_per_s": sent_per_s})
    print(f"\n(b) Grounding: {int(y.sum())} positive (claim, evidence doc) pairs, {int((1 - y).sum())} hard negatives")
    print("  scorer                                      AUROC  rationale@1  best-F1 thr  P     R")
    for m, g in grounding.items():
        r1 = f"{g['rationale@1']:.3f}" if "rationale@1" in g else "  -  "
        print(f"  {m:43s} {g['auroc']:.3f}  {r1:>8s}     {g['best_f1_threshold']:.3f}     "
              f"{g['best_f1_precision']:.3f} {g['best_f1_recall']:.3f}")
    print(f"  seed baseline at 0.15: precision {base['precision']:.3f}  recall {base['recall']:.3f}"
          f"  (flags {base['predicted_positive_rate']:.1%} of pairs)")
    res["runtime_s"] = time.perf_counter() - t_start
    print(f"\nruntime {res['runtime_s']:.0f}s; sentence embedding {sent_per_s:.1f} sentences/s")
    print(json.dumps(res, sort_keys=True))


def _best_f1(y, s):
    """Threshold with the best F1 (on this same data: descriptive, not a held-out choice)."""
    order = np.argsort(-s, kind="stable")
    tp = np.cumsum(y[order])
    k = np.arange(1, len(y) + 1)
    prec, rec = tp / k, tp / y.sum()
    f1 = 2 * prec * rec / np.clip(prec + rec, 1e-12, None)
    i = int(np.argmax(f1))
    return float(prec[i]), float(rec[i]), float(s[order][i])


if __name__ == "__main__":
    main()
