"""CLI commands around runs and the publication store: resume, review, list, show, correct, reproduce, export."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from sovereign_kernel.domain.settings import Settings
from sovereign_kernel.publishing.export import FORMATS, export_report, write_atomic
from sovereign_kernel.publishing.store import STORE_FILE, Store


def add_parsers(sub) -> None:
    p = sub.add_parser("resume", help="finish a stopped run from its last checkpoint")
    p.add_argument("run_id")
    p.add_argument("--out", help="output directory (default: the run's own)")
    p.add_argument("--quiet", action="store_true")

    p = sub.add_parser("review", help="the owner's decision on an escalated run")
    p.add_argument("run_id")
    act = p.add_mutually_exclusive_group(required=True)
    act.add_argument("--approve", action="store_true")
    act.add_argument("--reject", action="store_true")
    act.add_argument("--edit", action="store_true", help="publish with claims dropped and/or a note")
    p.add_argument("--reason", default="")
    p.add_argument("--drop-claim", action="append", default=[], metavar="CLAIM_ID")
    p.add_argument("--note", default="")
    p.add_argument("--out", help="output directory (default: the run's own)")
    p.add_argument("--quiet", action="store_true")

    p = sub.add_parser("list", help="published reports, or runs waiting for review, or failed runs")
    which = p.add_mutually_exclusive_group()
    which.add_argument("--pending", action="store_true", help="runs waiting for the owner's review")
    which.add_argument("--failed", action="store_true",
                       help="runs that failed (with the error) or whose process is gone: resume them or --restart")
    p.add_argument("--json", action="store_true")

    p = sub.add_parser("show", help="a published report with its corrections")
    p.add_argument("report_id", help="the report id (SRK-...) or the id of the run that made it")
    p.add_argument("--format", choices=["md", "json"], default="md")

    p = sub.add_parser("correct", help="append a correction (or a retraction) to a published report")
    p.add_argument("report_id")
    what = p.add_mutually_exclusive_group(required=True)
    what.add_argument("--claim", metavar="CLAIM_ID")
    what.add_argument("--retract", action="store_true")
    p.add_argument("--reason", required=True)

    p = sub.add_parser("reproduce", help="replay a published run offline and compare (the reproduction gate)")
    p.add_argument("report_id")
    p.add_argument("--json", action="store_true")

    p = sub.add_parser("export", help="a published report's references (bibtex, ris), claims (csv), json or html page",
                       epilog="example: sovereign-kernel export SRK-1a2b3c4d5e6f --format bibtex --out refs.bib")
    p.add_argument("report_id", help="the report id (SRK-...) or the id of the run that made it")
    p.add_argument("--format", choices=FORMATS, required=True)
    p.add_argument("--out", help="file to write (default: standard output)")


def _store() -> Store:
    return Store(Settings().data_dir() / STORE_FILE)


async def run(args, show_progress, finish_research) -> int:
    if args.command in ("resume", "review"):
        from sovereign_kernel.app.kernel import Kernel

        resume = None
        if args.command == "review":
            action = "approve" if args.approve else ("reject" if args.reject else "edit")
            resume = {"action": action, "reason": args.reason, "drop_claims": args.drop_claim, "note": args.note}
        from sovereign_kernel.app.result import check_out_dir

        recorded = _store().get_run(args.run_id)  # None: the kernel says there is no such run
        out = args.out or (recorded.out_dir if recorded is not None else None) or "out"
        check_out_dir(out)  # before the run, not after it
        result = None
        with Kernel() as kernel:
            async for kind, payload in kernel.stream(None, run_id=args.run_id, resume=resume):
                if kind == "progress":
                    show_progress(payload)
                else:
                    result = payload
        return finish_research(result, out, as_json=False)

    store = _store()
    if args.command == "list":
        if args.failed:  # FAILED, and RUNNING ones whose process is gone (killed): both need resume
            rows = [r.to_dict() for r in store.list_runs() if r.status == "FAILED" or (r.status == "RUNNING"
                                                                                       and not r.running)]
        else:
            rows = ([r.to_dict() for r in store.list_runs("PENDING_REVIEW")] if args.pending
                    else [vars(r) for r in store.list_reports()])
        if args.json:
            print(json.dumps(rows, indent=2))
        elif not rows:
            print("no failed runs" if args.failed else "no runs waiting for review" if args.pending
                  else "no published reports")
        for r in rows if not args.json else []:
            if args.failed:
                why = r["reason"] if r["status"] == "FAILED" else "its process is gone"
                print(f"{r['run_id']}  {r['updated_at']}  {r['status']:7s}  {why}  ({r['question'][:60]})")
            elif args.pending:
                print(f"{r['run_id']}  {r['updated_at']}  report {r['report_id']}  {r['question'][:80]}")
            else:
                print(f"{r['report_id']}  {r['published_at']}  {r['quality_tier']:9s}  {r['status']:9s}  "
                      f"{r['question'][:70]}")
        return 0
    if args.command == "show":
        run = store.get_run(args.report_id)  # the id the research command printed last works too
        stored = store.get(run.report_id if run is not None and run.report_id else args.report_id)
        if args.format == "json":
            print(json.dumps({"report": stored.report.model_dump(mode="json"), "manifest": stored.manifest}, indent=2))
        else:
            sys.stdout.write(stored.markdown)
        return 0
    if args.command == "correct":
        entry = (store.retract(args.report_id, args.reason) if args.retract
                 else store.correct(args.report_id, args.claim, args.reason))
        status = store.get(args.report_id).status
        print(f"{entry.kind.lower()} #{entry.id} recorded at {entry.created_at}; report {args.report_id} is {status}")
        return 0
    if args.command == "reproduce":
        from sovereign_kernel.app.reproduce import areproduce

        outcome = await areproduce(args.report_id)
        if args.json:
            print(json.dumps(outcome, indent=2))
        else:
            print(f"{args.report_id}: {outcome['verdict']}")
            for d in outcome["differences"]:
                print(f"  - {d}")
        return 0 if outcome["verdict"] == "REPRODUCED" else 1
    if args.command == "export":
        run = store.get_run(args.report_id)
        stored = store.get(run.report_id if run is not None and run.report_id else args.report_id)
        text = export_report(stored.report, stored.manifest, args.format)
        if args.out:
            write_atomic(Path(args.out), text)
            print(f"{args.format} export of {stored.report_id} written to {args.out}")
        else:
            sys.stdout.write(text)
        return 0
    raise ValueError(f"unknown command {args.command}")
