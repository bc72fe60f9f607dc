"""Command line: ``sovereign-kernel research "QUESTION" [--corpus PATH] [--out DIR] [--json]``, ``index``
(a corpus's caches built ahead of its first question), the commands around runs (resume, review, list,
show, correct, reproduce, audit) and evaluation.

Parsing imports nothing heavy: each command imports what it needs when it runs, so ``list`` or
``show`` do not pay for LangGraph, the models or scikit-learn.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import shutil
import sqlite3
import sys
import time
from pathlib import Path

from sovereign_kernel.app.terminal import printable
from sovereign_kernel.domain.errors import SovereignError
from sovereign_kernel.domain.question import validate_question


EXIT_PENDING_REVIEW = 3


def _version() -> str:
    from importlib import metadata  # read only when asked: --version stays fast

    try:
        return metadata.version("sovereign-kernel")
    except metadata.PackageNotFoundError:
        return "unknown"


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="sovereign-kernel", description="Audited literature synthesis from a research question.",
        epilog="exit codes: 0 published (or archived by the owner), 3 waiting for the owner's review, "
               "2 bad input (arguments, question, paths, ids, data files), 1 an unexpected failure")
    p.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    sub = p.add_subparsers(dest="command", required=True)
    r = sub.add_parser("research", help="research a question and write report.md + manifest.json",
                       epilog='example: sovereign-kernel research "Which defenses protect CLIP against typographic '
                              'attacks?" --out out/')
    r.add_argument("question", help="the research question, in quotes")
    r.add_argument("--corpus", help="a JSONL or PDF file, or a folder of them — a library of PDFs is read in full "
                                    "(default: the bundled demo corpus)")
    r.add_argument("--out", default="out", help="output directory (default: ./out)")
    r.add_argument("--source", dest="sources", help="where to search: local (default), arxiv, or arxiv,local")
    r.add_argument("--full-text", action="store_true",
                   help="with --source arxiv: download the kept papers' PDFs (3 s apart, cached) and read their full text")
    r.add_argument("--json", action="store_true",
                   help="print the Report as one JSON object on stdout, with the run's status and run_id")
    r.add_argument("--quiet", action="store_true", help="no progress lines")
    r.add_argument("--max-papers", type=int, help="papers kept after the relevance gate")
    r.add_argument("--max-revision-rounds", type=int, help="revision rounds when the tribunal scores low")
    r.add_argument("--run-id", help="id of this run (the checkpoint thread); default: a new one")
    r.add_argument("--restart", action="store_true",
                   help="with --run-id: start an existing, unpublished run (a FAILED one) over under its id")
    ix = sub.add_parser("index", help="build a corpus's index and dense-candidate vectors before its first question",
                        epilog="example: sovereign-kernel index --corpus papers.jsonl  (16.5k papers: ~2 min on 2 cores, "
                               "once; every later run reads them back)")
    ix.add_argument("--corpus", help="a JSONL or PDF file, or a folder of them (default: the bundled demo corpus)")
    ix.add_argument("--quiet", action="store_true", help="no progress lines")
    from sovereign_kernel.app import cli_runs

    cli_runs.add_parsers(sub)
    ev = sub.add_parser("eval", help="evaluate retriever and verifier on a labelled benchmark",
                        epilog="example: sovereign-kernel eval litqa --questions q.jsonl --library pdfs/")
    which = ev.add_subparsers(dest="benchmark", required=True)
    sf = which.add_parser("scifact", help="SciFact-format corpus + claims: retrieval, grounding, labels vs the seed",
                          epilog="example: sovereign-kernel eval scifact --corpus corpus.jsonl --claims claims_train.jsonl")
    sf.add_argument("--corpus", required=True, help="SciFact corpus.jsonl (doc_id, title, abstract sentences)")
    sf.add_argument("--claims", required=True, help="SciFact claims JSONL (id, claim, evidence, cited_doc_ids)")
    sf.add_argument("--mode", choices=["offline", "nim"], default="offline",
                    help="offline: the local embedder (default); nim: NVIDIA's embeddings (needs a key or base URL)")
    sf.add_argument("--limit", type=int, default=None, help="only the first N claims with evidence")
    sf.add_argument("--json", action="store_true", help="print one JSON object instead of the table")
    lq = which.add_parser("litqa", help="LitQA2-format questions over a PDF library: evidence recall, selective "
                                        "answering, source rank; beside an abstract-only baseline",
                          epilog="example: sovereign-kernel eval litqa --questions questions_train.jsonl --library pdfs/ "
                                 "--json")
    lq.add_argument("--questions", required=True, help="LitQA2 JSONL (question, key_passage, sources, in_library)")
    lq.add_argument("--library", required=True, help="folder of the PDFs to research over")
    lq.add_argument("--limit", type=int, default=None, help="only the first N questions")
    lq.add_argument("--no-baseline", action="store_true", help="skip the abstract-only baseline")
    lq.add_argument("--baseline-only", action="store_true", help="only the abstract-only baseline")
    lq.add_argument("--json", action="store_true", help="print one JSON object (with per-question rows)")
    return p


def _describe(event: dict, done: int | None = None) -> str:
    """``[stage k/n] key=value, ...``: ``k/n`` for a stage of parallel branches (``of`` in the event,
    ``done`` counted here) or for a long step's heartbeat (``done`` and ``total`` in the event);
    ``[stage waiting 3 s: reason]`` for a heartbeat of a wait (``waiting``, ``reason``)."""
    stage, shown = event.get("stage", "?"), {"stage", "of"}
    if done is not None and event.get("of"):
        stage = f"{stage} {done}/{event['of']}"
    elif "done" in event and "total" in event:
        stage, shown = f"{stage} {event['done']}/{event['total']}", shown | {"done", "total"}
    if "waiting" in event:
        w = event["waiting"]
        stage = f"{stage} waiting {w:.0f} s" if isinstance(w, (int, float)) and w >= 1 else f"{stage} waiting {w} s"
        if event.get("reason"):
            stage += f": {event['reason']}"
        shown |= {"waiting", "reason"}
    rest = ", ".join(f"{k}={v}" for k, v in event.items() if k not in shown and not isinstance(v, list))
    lists = {k: v for k, v in event.items() if isinstance(v, list)}
    if "queries" in lists:
        rest = (rest + ", " if rest else "") + "queries=" + " | ".join(lists["queries"])
    return f"[{stage}] {rest}" if rest else f"[{stage}]"


def _progress_printer(args, stream=None):
    """Plain lines when piped; on a terminal, one live status line per stage (rewritten in place)."""
    stream = stream or sys.stderr
    started = time.monotonic()
    live = stream.isatty()
    last_stage = [None]
    done: dict[str, int] = {}  # branches of the current fan-out finished, per stage
    last_counted: list[str | None] = [None]

    def show(event: dict) -> None:
        if args.quiet:
            return
        stage, of = event.get("stage"), event.get("of")
        if of:
            # a new fan-out of this stage (a revision round searches again) counts from 1
            done[stage] = 1 if last_counted[0] != stage or done.get(stage, 0) >= of else done[stage] + 1
            last_counted[0] = stage
        line = printable(f"{time.monotonic() - started:6.1f}s {_describe(event, done.get(stage) if of else None)}")
        if not live:
            print(line, file=stream, flush=True)
            return
        width = shutil.get_terminal_size((100, 20)).columns - 1
        if last_stage[0] not in (None, event.get("stage")):
            stream.write("\n")  # keep the finished stage's last line, start a new one
        stream.write("\r\033[K" + line[:width])
        stream.flush()
        last_stage[0] = event.get("stage")
        if event.get("stage") in ("publish", "owner_review"):
            stream.write("\n")
            last_stage[0] = None

    return show


def _finish(result, out_dir, as_json: bool) -> int:
    md, mf = result.write(Path(out_dir))
    r = result.report
    if as_json:  # the report, with what a script needs to act on it
        print(json.dumps({"status": result.status, "run_id": result.run_id, **result.to_json()}, ensure_ascii=False))
        return exit_code(result.status)
    print(f"{r.report_id}: {r.results.papers_kept} papers kept of {r.results.papers_retrieved}, "
          f"{r.results.claims_corroborated}/{r.results.claims_extracted} claims corroborated "
          f"({r.results.claims_grounded} grounded), "
          f"tribunal {r.results.tribunal_score:.1f}/10 ({r.results.tribunal_verdict}), "
          f"policy {r.results.policy}, tier {r.quality_tier}")
    print(f"wrote {md}, {md.with_name('report.html')} and {mf}; run {result.run_id}: {result.status}")
    if result.status == "PENDING_REVIEW":
        print(f"waiting for the owner: sovereign-kernel review {result.run_id} --approve | --reject --reason TEXT"
              f" | --edit --drop-claim C# --note TEXT")
    return exit_code(result.status)


def exit_code(status: str) -> int:
    """0 published (or archived by the owner), 3 waiting for the owner's review; errors exit 2
    (bad input: arguments, question, paths, ids, data files) or 1 (an unexpected failure)."""
    return EXIT_PENDING_REVIEW if status == "PENDING_REVIEW" else 0


async def _research(args) -> int:
    validate_question(args.question)  # a bad question fails before anything heavy is imported
    from sovereign_kernel.app.result import check_out_dir

    check_out_dir(args.out)  # before the run, not after it: the report must have somewhere to go
    from sovereign_kernel.app.kernel import Kernel

    show = _progress_printer(args)
    result = None
    with Kernel() as kernel:
        async for kind, payload in kernel.stream(
            args.question, corpus=args.corpus, sources=args.sources, max_papers=args.max_papers,
            max_revision_rounds=args.max_revision_rounds, run_id=args.run_id, out_dir=str(Path(args.out).resolve()),
            arxiv_full_text=True if args.full_text else None, restart=args.restart,
        ):
            if kind == "progress":
                show(payload)
            else:
                result = payload
    return _finish(result, args.out, args.json)


def _index(args) -> int:
    from sovereign_kernel.app.kernel import Kernel

    with Kernel() as kernel:
        done = kernel.index(args.corpus, on_progress=_progress_printer(args))
    print(f"indexed {done['corpus']}: {done['papers']} papers" + (f" ({done['full_texts']} read in full)"
          if done["full_texts"] else "") + f" in {done['seconds']:.1f} s; caches in {done['caches']}")
    return 0


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    args = _parser().parse_args(argv)
    try:
        if args.command == "research":
            return asyncio.run(_research(args))
        if args.command == "index":
            return _index(args)
        if args.command == "eval":
            if args.benchmark == "litqa":
                from sovereign_kernel.app.eval_litqa import run_litqa_command

                return run_litqa_command(args)
            from sovereign_kernel.app.evaluation import run_eval_command

            return run_eval_command(args)
        from sovereign_kernel.app import cli_runs

        return asyncio.run(cli_runs.run(args, _progress_printer(args) if hasattr(args, "quiet") else None, _finish))
    except (SovereignError, ValueError, OSError) as exc:  # pydantic's errors are ValueErrors too
        print(printable(f"error: {_one_line(exc)}"), file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
        return 130
    except sqlite3.Error as exc:  # one the code did not name a file for: still one line, no traceback
        print(f"error: a SQLite file of the data directory failed ({_one_line(exc)}); check that SOVEREIGN_HOME "
              "is writable and its disk has space, then retry", file=sys.stderr)
        return 2
    except Exception as exc:  # a bug: say so in one line (the traceback goes to the debug log)
        from sovereign_kernel.llm.providers import redact

        logging.getLogger(__name__).debug("unexpected error", exc_info=True)
        print(f"error: unexpected {type(exc).__name__}: {redact(_one_line(exc))}; please report it", file=sys.stderr)
        return 1


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split()) or type(exc).__name__


if __name__ == "__main__":
    sys.exit(main())
