"""SciFact-format evaluation of the kernel's retriever and verifier, with the seed baseline alongside.

``sovereign-kernel eval scifact --corpus CORPUS.jsonl --claims CLAIMS.jsonl [--mode offline|nim] [--json]``

Input is the SciFact format (Wadden et al., 2020): a corpus of ``{"doc_id", "title", "abstract":
[sentence, ...]}`` and claims ``{"id", "claim", "evidence": {"<doc_id>": [{"sentences", "label"}]},
"cited_doc_ids"}``. Only claims with evidence are evaluated (an empty ``evidence`` has no relevant
document to find).

* retrieval — each claim is the question; the kernel's own retriever ranks the corpus: the
  planner's queries (``plan_queries_offline``) searched with BM25 (``BM25Index``), the candidates
  ranked by ``score_candidates`` (the same function the retriever agent calls), the top 12 reordered
  by the verifier's reading (``verification.rerank``). Relevant = the claim's evidence documents.
  nDCG@10 (binary gains), Recall@10, Recall@100, averaged over claims; also for the first stage alone.
* grounding — positives: every (claim, evidence abstract); negatives: for each claim, the
  highest-ranked non-evidence abstract of the kernel's first-stage ranking (a hard negative). Each pair is
  scored by ``SentenceVerifier`` on that one abstract; AUROC of its calibrated confidence, and
  precision / recall of ``verified`` (confidence >= ``settings.verification.verify_threshold``).
* labels — SUPPORT / CONTRADICT for the positives (their gold label), NOT_ENOUGH_INFO for the
  negatives; see :func:`predict_label` for what the offline mode can judge.
* baseline — the seed method on the same claims and pairs: retrieval ranks the corpus by TF-IDF
  word 1-2-gram cosine (the seed's scorer, vectorizer fitted on the corpus); grounding is
  ``baseline_score`` (TF-IDF 1-2-gram cosine fitted on the pair) at ``settings.verification.baseline_threshold``.
  The seed cannot judge labels, so its ``labels`` is null.

Vectors go through the ``VectorCache`` under the settings' home, so a rerun embeds nothing.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from sovereign_kernel.app.metrics import auroc, ndcg_at_k, precision_recall, recall_at_k
from sovereign_kernel.domain.errors import EvalError
from sovereign_kernel.domain.ids import paper_content_hash
from sovereign_kernel.domain.schemas import Paper, SearchHit, paper_text
from sovereign_kernel.domain.settings import Settings
from sovereign_kernel.domain.text import content_tokens
from sovereign_kernel.retrieval.dense import DENSE_QUERY
from sovereign_kernel.retrieval.planning import plan_queries_offline
from sovereign_kernel.retrieval.ranking import score_candidates
from sovereign_kernel.runtime.workspace import Resources, Workspace
from sovereign_kernel.sources.corpus import Corpus, corpus_content_hash, normalise_whitespace
from sovereign_kernel.verification.baseline import BASELINE_METHOD, baseline_score, seed_analyzer
from sovereign_kernel.verification.calibration import load_calibration
from sovereign_kernel.verification.sentence_verifier import DEFAULT_METHOD, SentenceVerifier

SUPPORT, CONTRADICT, NEI = "SUPPORT", "CONTRADICT", "NOT_ENOUGH_INFO"
RETRIEVAL_DEPTH = 100  # the ranking is cut here (Recall@100 is the deepest metric)


__all__ = ["auroc", "ndcg_at_k", "precision_recall", "recall_at_k", "run_scifact_eval", "format_table",
           "run_eval_command", "EvalError"]


# --------------------------------------------------------------------------------------------
# data
# --------------------------------------------------------------------------------------------
@dataclass
class ClaimItem:
    id: str
    text: str
    evidence: dict[str, str]  # doc id -> SUPPORT | CONTRADICT (doc-level label)


@dataclass
class SciFactData:
    papers: list[Paper]
    claims: list[ClaimItem]  # only claims with evidence
    n_claims_read: int = 0
    skipped_evidence: int = 0  # evidence doc ids not in the corpus (still counted as relevant)
    by_id: dict[str, Paper] = field(default_factory=dict)


def _read_jsonl(path: Path) -> list[dict]:
    try:
        with open(path, encoding="utf-8") as fh:
            rows = [json.loads(line) for line in fh if line.strip()]
    except OSError as exc:
        raise EvalError(f"cannot read {path}: {exc}") from exc
    except ValueError as exc:
        raise EvalError(f"{path} is not JSONL: {exc}") from exc
    return rows


def load_scifact(corpus_path: str | Path, claims_path: str | Path, limit: int | None = None) -> SciFactData:
    """Papers (id = str(doc_id), abstract = its sentences joined) and the claims with evidence."""
    papers: dict[str, Paper] = {}
    for rec in _read_jsonl(Path(corpus_path)):
        try:
            pid = str(rec["doc_id"])
            title = normalise_whitespace(str(rec.get("title") or ""))
            abstract = rec["abstract"]
            abstract = normalise_whitespace(" ".join(abstract) if isinstance(abstract, list) else str(abstract))
        except (KeyError, TypeError) as exc:
            raise EvalError(f"{corpus_path}: not a SciFact corpus record ({exc!r})") from exc
        if abstract:
            papers[pid] = Paper(id=pid, title=title or pid, abstract=abstract,
                                content_hash=paper_content_hash(pid, title, abstract))
    if not papers:
        raise EvalError(f"{corpus_path}: no abstracts")
    rows = _read_jsonl(Path(claims_path))
    claims: list[ClaimItem] = []
    missing = 0
    for rec in rows:
        try:
            evidence = rec.get("evidence") or {}
            labels = {str(d): sets[0]["label"] for d, sets in evidence.items() if sets}
            text = str(rec["claim"])
        except (KeyError, TypeError, IndexError, AttributeError) as exc:
            raise EvalError(f"{claims_path}: not a SciFact claim record ({exc!r})") from exc
        if not labels:
            continue
        if any(lab not in (SUPPORT, CONTRADICT) for lab in labels.values()):
            raise EvalError(f"{claims_path}: claim {rec.get('id')}: labels must be SUPPORT or CONTRADICT")
        missing += sum(d not in papers for d in labels)
        claims.append(ClaimItem(id=str(rec.get("id", len(claims))), text=text, evidence=labels))
        if limit is not None and len(claims) >= limit:
            break
    ordered = sorted(papers.values(), key=lambda p: p.id)
    return SciFactData(ordered, claims, len(rows), missing, {p.id: p for p in ordered})


# --------------------------------------------------------------------------------------------
# the kernel's retriever and verifier, and the seed baseline
# --------------------------------------------------------------------------------------------
def build_resources(data: SciFactData, settings: Settings, workspace: Workspace, label: str = "scifact") -> Resources:
    """The retriever's ``Resources`` over the SciFact corpus: cached BM25 and vector caches."""
    digest = corpus_content_hash(data.papers)
    corpus = Corpus(papers=data.papers, by_id=data.by_id, content_hash=digest, label=label)
    return workspace.resources_for(corpus, settings)


def kernel_ranking(claim: str, res: Resources, settings: Settings, expand: bool = True,
                   depth: int | None = None, rerank: bool = True) -> list[str]:
    """The retriever agent's path for one question: plan queries, BM25 search each, then
    ``score_candidates`` over the union, its top reordered by the verifier (``rerank``: False for the
    first stage alone); returns paper ids best first."""
    return kernel_rankings(claim, res, settings, expand, depth, rerank)[1]


def kernel_rankings(claim: str, res: Resources, settings: Settings, expand: bool = True,
                    depth: int | None = None, rerank: bool = True) -> tuple[list[str], list[str]]:
    """(the first stage's order, the order after the verifier's rerank) of one search: the planned
    queries' hits and the dense candidates (``retrieval.dense``), as the retriever takes them."""
    r = settings.retriever
    if expand:
        queries = plan_queries_offline(claim, res.bm25, res.corpus.papers, r.n_queries,
                                       embed=lambda texts, kind: res.vectors.embed(texts, kind=kind))
    else:
        queries = [" ".join(content_tokens(claim)) or claim]
    k = depth or r.hits_per_query
    found = [(qi, q, rank, res.corpus.papers[idx], score)
             for qi, q in enumerate(queries) for rank, (idx, score) in enumerate(res.bm25.search(q, k))]
    found += [(len(queries), DENSE_QUERY, rank, p, 0.0)
              for rank, p in enumerate(res.dense_candidates(claim, r.dense_candidates))]
    hits = [SearchHit(query=q, query_index=qi, paper_id=p.id, lexical_score=round(score, 4), rank=rank)
            for qi, q, rank, p, score in found]
    second = res.rerank(claim, r) if rerank else None
    first: list[str] = []

    def reorder(scored):
        first.extend(s.paper.id for s in scored)
        return second(scored) if second is not None else scored

    scored, _ = score_candidates(claim, hits, {p.id: p for *_, p, _ in found}, index=res.bm25, vectors=res.vectors,
                                 corpus_stems=res.corpus_stems, settings=r, reorder=reorder)
    return first, [s.paper.id for s in scored]


def seed_rankings(papers: Sequence[Paper], claims: Sequence[str], depth: int = RETRIEVAL_DEPTH) -> list[list[str]]:
    """The seed scorer as a ranker: TF-IDF word 1-2-gram cosine (its default vectorizer,
    fitted on the corpus) between the claim and title + abstract."""
    from sklearn.feature_extraction.text import TfidfVectorizer

    vec = TfidfVectorizer(ngram_range=(1, 2), lowercase=True)
    docs = vec.fit_transform([paper_text(p) for p in papers])
    q = vec.transform(list(claims))
    out = []
    for row in range(q.shape[0]):
        s = (q[row] @ docs.T).toarray().ravel()
        top = np.argsort(-s, kind="stable")[:depth]
        out.append([papers[i].id for i in top])
    return out


def grounding_pairs(claims: Sequence[ClaimItem], rankings: Sequence[Sequence[str]]) -> list[tuple[int, str, int, str]]:
    """(claim index, doc id, 1 = evidence / 0 = hard negative, gold label) for every claim."""
    pairs = []
    for ci, (c, ranked) in enumerate(zip(claims, rankings)):
        for doc in sorted(c.evidence):
            pairs.append((ci, doc, 1, c.evidence[doc]))
        neg = next((d for d in ranked if d not in c.evidence), None)
        if neg is not None:
            pairs.append((ci, neg, 0, NEI))
    return pairs


def predict_label(score, settings: Settings) -> str | None:
    """3-way label of one verified pair: the trained cross-encoder's call at its most decisive
    sentence (CONTRADICT when its P(CONTRADICT) beats P(SUPPORT)); ``None`` when no cross-encoder
    read the pair (the hand-made contradiction cues measured before it never beat the trivial rule
    by a point: bench/results/calibrate_verifier.txt, section 4)."""
    if score is None or "xenc_contradict" not in score.features:
        return None
    return CONTRADICT if score.contradicts else SUPPORT


def label_metrics(gold: Sequence[str], pred: Sequence[str]) -> dict:
    """Accuracy, macro-F1 over SUPPORT / CONTRADICT / NOT_ENOUGH_INFO, and each label's recall."""
    labels = (SUPPORT, CONTRADICT, NEI)
    out = {"accuracy": sum(p == g for p, g in zip(pred, gold)) / max(1, len(gold)), "recall": {}, "f1": {}}
    for lab in labels:
        tp = sum(p == g == lab for p, g in zip(pred, gold))
        n_gold, n_pred = sum(g == lab for g in gold), sum(p == lab for p in pred)
        recall = tp / n_gold if n_gold else 0.0
        precision = tp / n_pred if n_pred else 0.0
        out["recall"][lab] = recall
        out["f1"][lab] = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    out["macro_f1"] = sum(out["f1"].values()) / len(labels)
    return out


def _metrics_retrieval(rankings, claims) -> dict:
    n = max(1, len(claims))
    return {
        "ndcg@10": sum(ndcg_at_k(r, c.evidence, 10) for r, c in zip(rankings, claims)) / n,
        "recall@10": sum(recall_at_k(r, c.evidence, 10) for r, c in zip(rankings, claims)) / n,
        "recall@100": sum(recall_at_k(r, c.evidence, 100) for r, c in zip(rankings, claims)) / n,
    }


def _metrics_grounding(labels, scores, threshold) -> dict:
    precision, recall = precision_recall(labels, [s >= threshold for s in scores])
    return {"auroc": auroc(labels, scores), "precision": precision, "recall": recall}


def run_scifact_eval(
    corpus_path: str | Path,
    claims_path: str | Path,
    *,
    settings: Settings | None = None,
    mode: str = "offline",
    limit: int | None = None,
    on_progress: Callable[[str, int, int], None] | None = None,
    keep_pairs: bool = False,
) -> dict:
    """Evaluate retriever, verifier and seed baseline on SciFact-format files (shape: module doc).

    ``on_progress(stage, done, total)`` is called as claims and pairs are scored; ``keep_pairs``
    adds every grounding pair with both scores under ``"pairs"``.
    """
    if mode == "nim":
        raise EvalError("eval --mode nim is not available yet (the NIM verifier is being built); use --mode offline")
    if mode != "offline":
        raise EvalError(f"unknown mode {mode!r}: use offline (nim: not available yet)")
    settings = settings or Settings()
    progress = on_progress or (lambda stage, done, total: None)
    data = load_scifact(corpus_path, claims_path, limit)
    if not data.claims:
        raise EvalError(f"{claims_path}: no claim with evidence to evaluate")
    claims = data.claims
    workspace = Workspace()
    res = build_resources(data, settings, workspace)
    try:
        # -- retrieval --------------------------------------------------------------------
        first_stage, rankings = [], []
        for i, c in enumerate(claims):
            first, ranked = kernel_rankings(c.text, res, settings)
            first_stage.append(first[:RETRIEVAL_DEPTH])
            rankings.append(ranked[:RETRIEVAL_DEPTH])
            progress("retrieval", i + 1, len(claims))
        seed = seed_rankings(data.papers, [c.text for c in claims])
        # -- grounding: the same pairs for both verifiers --------------------------------
        # The hard negative is the first stage's best non-evidence abstract: taken after the verifier's
        # rerank, it would be the abstract the verifier itself reads highest (the test grading itself).
        pairs = grounding_pairs(claims, first_stage)
        embed = lambda texts: res.verifier_vectors.embed(texts, kind="passage")  # noqa: E731 (as the verifier agent does)
        tokens = res.tokens if load_calibration().uses_tokens else None  # on disk, as in a run: a re-run encodes nothing
        xenc = res.cross_encoder if load_calibration().uses_cross_encoder else None
        y, conf, base, gold, pred = [], [], [], [], []
        analyze = seed_analyzer()
        for i, (ci, doc, label, gold_label) in enumerate(pairs):
            paper, claim = data.by_id.get(doc), claims[ci].text
            best = SentenceVerifier([paper], embed, token_encoder=tokens, cross_encoder=xenc).score([claim])[0][0] if paper else None
            y.append(label)
            conf.append(best.confidence if best else 0.0)
            base.append(baseline_score(claim, paper.abstract, analyze) if paper else 0.0)
            gold.append(gold_label)
            verified = best is not None and best.confidence >= settings.verification.verify_threshold
            pred.append(predict_label(best, settings) if verified else NEI)
            progress("grounding", i + 1, len(pairs))
    finally:
        workspace.close()
    labels = label_metrics(gold, pred) if pred and all(p is not None for p in pred) else None
    result = {
        "retrieval": _metrics_retrieval(rankings, claims),
        "retrieval_first_stage": _metrics_retrieval(first_stage, claims),
        "grounding": _metrics_grounding(y, conf, settings.verification.verify_threshold),
        "labels": labels,
        "baseline": {
            "retrieval": _metrics_retrieval(seed, claims),
            "grounding": _metrics_grounding(y, base, settings.verification.baseline_threshold),
            "labels": None,
        },
        "n_claims": len(claims),
        "n_pairs": len(pairs),
        "meta": {
            "mode": mode,
            "verifier": DEFAULT_METHOD,
            "verify_threshold": settings.verification.verify_threshold,
            "baseline": BASELINE_METHOD,
            "baseline_threshold": settings.verification.baseline_threshold,
            "embedder": res.embedder_id,
            "n_positive_pairs": int(sum(y)),
            "n_abstracts": len(data.papers),
        },
    }
    if keep_pairs:
        result["pairs"] = [
            {"claim_id": claims[ci].id, "doc_id": doc, "label": label, "gold": g, "confidence": c, "baseline": b, "predicted": p}
            for (ci, doc, label, g), c, b, p in zip(pairs, conf, base, pred)
        ]
    return result


# --------------------------------------------------------------------------------------------
# output and CLI
# --------------------------------------------------------------------------------------------
def _fmt(v) -> str:
    return "  n/a" if v is None else f"{v:.3f}"


def format_table(result: dict) -> str:
    """The kernel and the seed baseline side by side, one metric a row."""
    meta = result.get("meta", {})
    base = result["baseline"]
    rows = [
        ("retrieval nDCG@10", result["retrieval"]["ndcg@10"], base["retrieval"]["ndcg@10"]),
        ("  first stage (no rerank)", (result.get("retrieval_first_stage") or {}).get("ndcg@10"), None),
        ("retrieval Recall@10", result["retrieval"]["recall@10"], base["retrieval"]["recall@10"]),
        ("retrieval Recall@100", result["retrieval"]["recall@100"], base["retrieval"]["recall@100"]),
        ("grounding AUROC", result["grounding"]["auroc"], base["grounding"]["auroc"]),
        ("grounding precision", result["grounding"]["precision"], base["grounding"]["precision"]),
        ("grounding recall", result["grounding"]["recall"], base["grounding"]["recall"]),
        ("label accuracy", (result["labels"] or {}).get("accuracy"), (base["labels"] or {}).get("accuracy")),
        ("label macro-F1", (result["labels"] or {}).get("macro_f1"), (base["labels"] or {}).get("macro_f1")),
        ("CONTRADICT recall", ((result["labels"] or {}).get("recall") or {}).get(CONTRADICT), None),
    ]
    kernel = f"kernel ({meta.get('verifier', 'default')} >= {meta.get('verify_threshold', '?')})"
    seed = f"seed ({meta.get('baseline', 'baseline')} >= {meta.get('baseline_threshold', '?')})"
    width = max(len(kernel), 10)
    lines = [
        f"SciFact-format eval: {result['n_claims']} claims with evidence, {result.get('n_pairs', '?')} grounding pairs"
        f" ({meta.get('n_positive_pairs', '?')} evidence, the rest hard negatives), mode {meta.get('mode', '?')}",
        f"{'metric':22s} {kernel:>{width}s}   {seed}",
    ]
    lines += [f"{name:22s} {_fmt(k):>{width}s}   {_fmt(b)}" for name, k, b in rows]
    if result["labels"] is None:
        lines.append("labels: n/a (no cross-encoder read the pairs: the calibration in use does not weigh it)")
    return "\n".join(lines)


def run_eval_command(args) -> int:
    """Run ``eval scifact`` from parsed arguments: the table (or one JSON object) on stdout,
    progress at every quarter on stderr; 0 on success, 2 on bad input or an unsupported mode."""
    import sys

    def progress(stage: str, done: int, total: int) -> None:
        if done == total or (total >= 8 and done % (total // 4) == 0):
            print(f"eval {stage}: {done}/{total}", file=sys.stderr, flush=True)

    try:
        result = run_scifact_eval(args.corpus, args.claims, mode=args.mode, limit=args.limit, on_progress=progress)
    except EvalError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(json.dumps(result, sort_keys=True) if args.json else format_table(result))
    return 0
