"""How often is "corroborated" right? The report's headline column, read against a person's judgement.

    python bench/corroboration_audit.py collect [--questions FILE] [--corpus ../shared/data/arxiv] --out F
    python bench/corroboration_audit.py score bench/data/corroboration_audit.jsonl

``collect`` runs offline research on each answerable labelled question (the shared calibration file by
default) and writes, for every grounded claim and every *other* kept paper whose calibrated confidence for
it reaches 0.35, one row: the claim, the other paper's best sentence (the one the verifier scored), the
calibrated confidence, the cross-encoder's reading of that paper (P(SUPPORT), P(CONTRADICT) at its most
decisive sentence), what each paper calls its own work (``verification.corroboration.work_names``), the
authors the two share, and ``set`` (``--set``: tuning or held-out, by the question file it came from).
Rows at confidence >= 0.5 (what the confidence alone called corroborating) are the ones to judge.

``score`` reads the judged file (each row's ``judgement``: ``states`` — the other paper states the claim
or the same finding; ``partial`` — a part of it, or a more general version; ``topic`` — the same topic,
not the claim; ``opposite``) and prints, per set, the precision of "corroborated" with the confidence
alone, with the own-work rule, and with the shipped rule (own work named, no author in common), on
pairs and on claims.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from sovereign_kernel.app.kernel import Kernel  # noqa: E402
from sovereign_kernel.domain.settings import Settings  # noqa: E402
from sovereign_kernel.domain.units import paper_units  # noqa: E402
from sovereign_kernel.verification.corroboration import corroborates, shared_authors, work_names  # noqa: E402
from sovereign_kernel.verification.sentence_verifier import SentenceVerifier  # noqa: E402

SHARED = REPO.parent / "shared" / "data"
FLOOR = 0.35


def collect(questions: Path, corpus: str, out: Path, part: str) -> None:
    rows = [json.loads(x) for x in questions.read_text().splitlines() if x.strip()]
    rows = [r for r in rows if r.get("answerable")]
    os.environ.pop("NVIDIA_API_KEY", None)
    written = 0
    with Kernel() as kernel, out.open("w", encoding="utf-8") as fh:
        res = kernel.workspace.resources(Settings(corpus=corpus))
        for qi, r in enumerate(rows):
            result = kernel.research(r["q"], corpus=corpus)
            papers = {p.id: p for p in result.papers}
            claims = [c for c in result.report.claims if c.grounded]
            verifier = SentenceVerifier(result.papers, lambda t: res.verifier_vectors.embed(t, kind="passage"),
                                        calibration=res.calibration, token_encoder=res.tokens,
                                        cross_encoder=res.cross_encoder, xenc_gate=0.5)
            for claim, ranked in zip(claims, verifier.score([c.text for c in claims])):
                for s in ranked:
                    if s.paper_id == claim.paper_id or s.confidence < FLOOR:
                        continue
                    fh.write(json.dumps({
                        "question": r["q"], "set": part, "questions_file": questions.name, "claim_id": claim.id, "claim": claim.text,
                        "claim_paper": claim.paper_id, "claim_title": papers[claim.paper_id].title,
                        "other_paper": s.paper_id, "other_title": papers[s.paper_id].title,
                        "sentence": s.sentence.text, "xenc_sentence": s.xenc_sentence.text if s.xenc_sentence else None,
                        "confidence": round(s.confidence, 4),
                        "xenc_support": round(s.features.get("xenc_support", 0.0), 4),
                        "xenc_contradict": round(s.features.get("xenc_contradict", 0.0), 4),
                        "claim_work": work_names(papers[claim.paper_id]),
                        "other_work": work_names(papers[s.paper_id]),
                        # what the run called it: corroborating at the confidence (contradicting papers excluded)
                        "before": s.confidence >= 0.5 and not any(e.paper_id == s.paper_id
                                                                  for e in claim.contradicted_by),
                        "shared_authors": sorted(shared_authors(papers[claim.paper_id], papers[s.paper_id])),
                        "n_sentences": len(paper_units(papers[s.paper_id])),
                    }) + "\n")
                    written += 1
            print(f"[{qi + 1}/{len(rows)}] {written} rows; {r['q'][:70]}", flush=True)


RULES = {
    "before: confidence >= 0.5 alone": lambda r: r["before"],
    "+ own work named": lambda r: r["before"] and corroborates(r["claim"], r["claim_work"], r["sentence"],
                                                             r["other_work"]),
    "+ no author in common (shipped)": lambda r: r["before"] and corroborates(
        r["claim"], r["claim_work"], r["sentence"], r["other_work"]) and not r["shared_authors"],
}


def score(path: Path) -> None:
    """Precision of each rule against the judgements: pairs (a claim, another paper) and claims (is
    a claim called corroborated by at least one paper that states it?). "Right" counts ``states`` and
    ``partial``; "independent" also needs no author in common (a second version of the same work by
    the same people restates it without corroborating it)."""
    rows = [json.loads(x) for x in path.read_text().splitlines() if x.strip()]
    good = {"states", "partial"}
    for part in ("tuning", "held-out"):
        judged = [r for r in rows if r["set"] == part and r.get("judgement")]
        print(f"{part}: {len(judged)} judged pairs, {len({(r['question'], r['claim_id']) for r in judged})} claims")
        for name, keep in RULES.items():
            called = [r for r in judged if keep(r)]
            right = [r for r in called if r["judgement"] in good]
            indep = [r for r in right if not r["shared_authors"]]
            claims: dict[tuple, list[dict]] = {}
            for r in called:
                claims.setdefault((r["question"], r["claim_id"]), []).append(r)
            claims_right = sum(any(r["judgement"] in good and not r["shared_authors"] for r in v)
                               for v in claims.values())
            print(f"  {name:46s} pairs called {len(called):3d}: right {len(right):3d} "
                  f"({len(right) / max(1, len(called)):.2f}), independent and right {len(indep):3d} "
                  f"({len(indep) / max(1, len(called)):.2f}); claims called {len(claims):3d}, "
                  f"with an independent right one {claims_right:3d} ({claims_right / max(1, len(claims)):.2f})")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    c = sub.add_parser("collect")
    c.add_argument("--questions", type=Path, default=SHARED / "questions" / "calibration_train.jsonl")
    c.add_argument("--corpus", default=str(SHARED / "arxiv"))
    c.add_argument("--out", type=Path, required=True)
    c.add_argument("--set", default="tuning", help="tuning or held-out: which rows a rule may be fit on")
    s = sub.add_parser("score")
    s.add_argument("path", type=Path)
    args = ap.parse_args()
    if args.cmd == "collect":
        collect(args.questions, args.corpus, args.out, args.set)
    else:
        score(args.path)


if __name__ == "__main__":
    main()
