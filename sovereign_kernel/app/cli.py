"""Command line: ``sovereign-kernel research "QUESTION" [--corpus PATH] [--out DIR] [--json]``."""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import shutil
import sys
import time
from pathlib import Path

from sovereign_kernel.app import cli_runs
from sovereign_kernel.sources.arxiv import ArxivSourceError
from sovereign_kernel.sources.corpus import CorpusError
from sovereign_kernel.app.evaluation import add_eval_parser, run_eval_command


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="sovereign-kernel", description="Audited literature synthesis from a research question.")
    sub = p.add_subparsers(dest="command", required=True)
    r = sub.add_parser("research", help="research a question and write report.md + manifest.json")
    r.add_argument("question")
    r.add_argument("--corpus", help="JSONL file or folder of JSONL files (default: the bundled demo corpus)")
    r.add_argument("--out", default="out", help="output directory (default: ./out)")
    r.add_argument("--source", dest="sources", help="where to search: local (default), arxiv, or arxiv,local")
    r.add_argument("--json", action="store_true", help="print the Report as one JSON object on stdout")
    r.add_argument("--quiet", action="store_true", help="no progress lines")
    r.add_argument("--max-papers", type=int, help="papers kept after the relevance gate")
    r.add_argument("--max-revision-rounds", type=int, help="revision rounds when the tribunal scores low")
    r.add_argument("--run-id", help="id of this run (the checkpoint thread); default: a new one")
    cli_runs.add_parsers(sub)
    add_eval_parser(sub)
    return p


def _describe(event: dict) -> str:
    stage = event.get("stage", "?")
    rest = ", ".join(f"{k}={v}" for k, v in event.items() if k != "stage" and not isinstance(v, list))
    lists = {k: v for k, v in event.items() if isinstance(v, list)}
    if "queries" in lists:
        rest = (rest + ", " if rest else "") + "queries=" + " | ".join(lists["queries"])
    return f"[{stage}] {rest}"


def _progress_printer(args, stream=None):
    """Plain lines when piped; on a terminal, one live status line per stage (rewritten in place)."""
    stream = stream or sys.stderr
    started = time.monotonic()
    live = stream.isatty()
    last_stage = [None]

    def show(event: dict) -> None:
        if args.quiet:
            return
        line = f"{time.monotonic() - started:6.1f}s {_describe(event)}"
        if not live:
            print(line, file=stream, flush=True)
            return
        width = shutil.get_terminal_size((100, 20)).columns - 1
        if last_stage[0] not in (None, event.get("stage")):
            stream.write("\n")  # keep the finished stage's last line, start a new one
        stream.write("\r\033[K" + line[:width])
        stream.flush()
        last_stage[0] = event.get("stage")
        if event.get("stage") in ("record", "owner_review"):
            stream.write("\n")
            last_stage[0] = None

    return show


def _finish(result, out_dir, as_json: bool) -> int:
    md, mf = result.write(Path(out_dir))
    r = result.report
    if as_json:
        print(json.dumps(result.to_json(), ensure_ascii=False))
        return 0
    print(f"{r.report_id}: {r.results.papers_kept} papers kept of {r.results.papers_retrieved}, "
          f"{r.results.claims_verified}/{r.results.claims_extracted} claims verified, "
          f"tribunal {r.results.tribunal_score:.1f}/10 ({r.results.tribunal_verdict}), "
          f"policy {r.results.policy}, tier {r.quality_tier}")
    print(f"wrote {md} and {mf}; run {result.run_id}: {result.status}")
    if result.status == "PENDING_REVIEW":
        print(f"waiting for the owner: sovereign-kernel review {result.run_id} --approve | --reject --reason TEXT"
              f" | --edit --drop-claim ID --note TEXT")
    return 0


async def _research(args) -> int:
    from sovereign_kernel.app.api import stream_events

    show = _progress_printer(args)
    result = None
    async for kind, payload in stream_events(
        args.question, corpus=args.corpus, sources=args.sources, max_papers=args.max_papers,
        max_revision_rounds=args.max_revision_rounds, run_id=args.run_id, out_dir=str(Path(args.out).resolve()),
    ):
        if kind == "progress":
            show(payload)
        else:
            result = payload
    return _finish(result, args.out, args.json)


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    args = _parser().parse_args(argv)
    try:
        if args.command == "research":
            return asyncio.run(_research(args))
        if args.command == "eval":
            return run_eval_command(args)
        return asyncio.run(cli_runs.run(args, _progress_printer(args) if hasattr(args, "quiet") else None, _finish))
    except (ValueError, CorpusError, OSError, ArxivSourceError) as exc:  # InvalidQuestionError and pydantic errors are ValueErrors
        print(f"error: {_one_line(exc)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
        return 130
    return 1


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split()) or type(exc).__name__


if __name__ == "__main__":
    sys.exit(main())
