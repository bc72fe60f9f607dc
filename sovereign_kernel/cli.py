"""Command line: ``sovereign-kernel research "QUESTION" [--corpus PATH] [--out DIR] [--json]``."""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import sys
import time
from pathlib import Path

from sovereign_kernel.arxiv_source import ArxivSourceError
from sovereign_kernel.corpus import CorpusError


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
    return p


def _describe(event: dict) -> str:
    stage = event.get("stage", "?")
    rest = ", ".join(f"{k}={v}" for k, v in event.items() if k != "stage" and not isinstance(v, list))
    lists = {k: v for k, v in event.items() if isinstance(v, list)}
    if "queries" in lists:
        rest = (rest + ", " if rest else "") + "queries=" + " | ".join(lists["queries"])
    return f"[{stage}] {rest}"


async def _research(args) -> int:
    from sovereign_kernel.api import stream_events

    started = time.monotonic()

    def show(event: dict) -> None:
        if not args.quiet:
            print(f"{time.monotonic() - started:6.1f}s {_describe(event)}", file=sys.stderr, flush=True)

    result = None
    async for kind, payload in stream_events(
        args.question, corpus=args.corpus, sources=args.sources, max_papers=args.max_papers,
        max_revision_rounds=args.max_revision_rounds,
    ):
        if kind == "progress":
            show(payload)
        else:
            result = payload
    md, mf = result.write(Path(args.out))
    r = result.report
    if args.json:
        print(json.dumps(result.to_json(), ensure_ascii=False))
    else:
        print(f"{r.report_id}: {r.results.papers_kept} papers kept of {r.results.papers_retrieved}, "
              f"{r.results.claims_verified}/{r.results.claims_extracted} claims verified, "
              f"tribunal {r.results.tribunal_score:.1f}/10 ({r.results.tribunal_verdict}), "
              f"policy {r.results.policy}, tier {r.quality_tier}")
        print(f"wrote {md} and {mf} in {time.monotonic() - started:.1f}s")
    return 0


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    args = _parser().parse_args(argv)
    try:
        if args.command == "research":
            return asyncio.run(_research(args))
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
