"""CLI commands around runs and the publication store: resume, review, list, show, correct, reproduce, audit,
export.

Everything printed that can carry stored or untrusted text goes through ``printable`` (JSON output is
escaped by ``json.dumps`` itself; exports keep untrusted text to one line without control characters)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from sovereign_kernel.app.terminal import printable
from sovereign_kernel.domain.settings import Settings
from sovereign_kernel.publishing.export import FORMATS, export_report, write_atomic
from sovereign_kernel.publishing.store import STORE_FILE, Store


def add_parsers(sub) -> None:
    p = sub.add_parser("resume", help="finish a stopped run from its last checkpoint",
                       epilog="example: sovereign-kernel resume my-run")
    p.add_argument("run_id", help="the run's id (--run-id, or the one research printed)")
    p.add_argument("--out", help="output directory (default: the run's own)")
    p.add_argument("--quiet", action="store_true", help="no progress lines")

    p = sub.add_parser("review", help="the owner's decision on an escalated run",
                       epilog='example: sovereign-kernel review my-run --edit --drop-claim C4 --note "C4 overstates"')
    p.add_argument("run_id", help="the id of the run waiting for review (list --pending)")
    act = p.add_mutually_exclusive_group(required=True)
    act.add_argument("--approve", action="store_true", help="publish the report as it is")
    act.add_argument("--reject", action="store_true", help="archive it, unpublished (needs --reason)")
    act.add_argument("--edit", action="store_true", help="publish with claims dropped and/or a note")
    p.add_argument("--reason", default="", help="why (required with --reject; recorded in the manifest)")
    p.add_argument("--drop-claim", action="append", default=[], metavar="CLAIM",
                   help="a claim to drop: its number in report.md (C4) or its id; repeatable")
    p.add_argument("--note", default="", help="the owner's note, shown in the report's uncertainties")
    p.add_argument("--out", help="output directory (default: the run's own)")
    p.add_argument("--quiet", action="store_true", help="no progress lines")

    p = sub.add_parser("list", help="published reports, or runs waiting for review, or failed runs",
                       epilog="example: sovereign-kernel list --pending")
    which = p.add_mutually_exclusive_group()
    which.add_argument("--pending", action="store_true", help="runs waiting for the owner's review")
    which.add_argument("--failed", action="store_true",
                       help="runs that failed (with the error) or whose process is gone: resume them or --restart")
    p.add_argument("--json", action="store_true", help="print a JSON list")

    p = sub.add_parser("show", help="a published report with its corrections",
                       epilog="example: sovereign-kernel show SRK-1a2b3c4d5e6f --format json")
    p.add_argument("report_id", help="the report id (SRK-...) or the id of the run that made it")
    p.add_argument("--format", choices=["md", "json"], default="md",
                   help="md: report.md with its corrections (default); json: the report and its manifest")

    p = sub.add_parser("correct", help="append a correction (or a retraction) to a published report",
                       epilog='example: sovereign-kernel correct SRK-1a2b3c4d5e6f --claim C3 --reason "wrong table"')
    p.add_argument("report_id", help="the published report's id (SRK-...)")
    what = p.add_mutually_exclusive_group(required=True)
    what.add_argument("--claim", metavar="CLAIM", help="the claim corrected: its number in report.md (C3) or its id")
    what.add_argument("--retract", action="store_true", help="retract the whole report")
    p.add_argument("--reason", required=True, help="what is wrong (recorded, append-only)")

    p = sub.add_parser("reproduce", help="replay a published run offline and compare (the reproduction gate)",
                       epilog="example: sovereign-kernel reproduce SRK-1a2b3c4d5e6f")
    p.add_argument("report_id", help="the published report's id (SRK-...)")
    p.add_argument("--json", action="store_true", help="print the verdict and every difference as JSON")

    p = sub.add_parser("export", help="a published report's references (bibtex, ris), claims (csv), json or html page",
                       epilog="example: sovereign-kernel export SRK-1a2b3c4d5e6f --format bibtex --out refs.bib")
    p.add_argument("report_id", help="the report id (SRK-...) or the id of the run that made it")
    p.add_argument("--format", choices=FORMATS, required=True,
                   help="bibtex / ris: the references; csv: the claims table; json: report + manifest; html: a page")
    p.add_argument("--out", help="file to write (default: standard output)")

    p = sub.add_parser("audit", help="check the store's hash chain and every published report's hashes",
                       epilog="example: sovereign-kernel audit --anchor 12:sha256:...  (a head an earlier audit printed)")
    p.add_argument("--anchor", metavar="ROWS:HEAD", help="a row count and head hash an earlier audit printed: "
                                                         "the chain must still pass through it")
    p.add_argument("--json", action="store_true", help="print the result as JSON")


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
                print(printable(f"{r['run_id']}  {r['updated_at']}  {r['status']:7s}  {why}  "
                                f"({printable(r['question'])[:60]})"))
            elif args.pending:
                print(printable(f"{r['run_id']}  {r['updated_at']}  report {r['report_id']}  {printable(r['question'])[:80]}"))
            else:
                print(printable(f"{r['report_id']}  {r['published_at']}  {r['quality_tier']:9s}  {r['status']:9s}  "
                                f"{printable(r['question'])[:70]}"))
        return 0
    if args.command == "show":
        run = store.get_run(args.report_id)  # the id the research command printed last works too
        stored = store.get(run.report_id if run is not None and run.report_id else args.report_id)
        if args.format == "json":
            print(json.dumps({"report": stored.report.model_dump(mode="json"), "manifest": stored.manifest}, indent=2))
        else:
            sys.stdout.write(printable(stored.markdown))
        _warn_if_broken(store)
        return 0
    if args.command == "correct":
        entry = (store.retract(args.report_id, args.reason) if args.retract
                 else store.correct(args.report_id, args.claim, args.reason))
        status = store.get(args.report_id).status
        print(printable(f"{entry.kind.lower()} #{entry.id} recorded at {entry.created_at}; "
                        f"report {args.report_id} is {status}"))
        return 0
    if args.command == "reproduce":
        from sovereign_kernel.app.reproduce import areproduce

        outcome = await areproduce(args.report_id)
        if not outcome["store_audit"]["intact"]:
            _warn(outcome["store_audit"]["problems"][0])
        if args.json:
            print(json.dumps(outcome, indent=2))
        else:
            print(printable(f"{args.report_id}: {outcome['verdict']}"))
            for d in outcome["differences"]:
                print(printable(f"  - {d}"))
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
    if args.command == "audit":
        return _audit(store, args.json, _anchor(args.anchor))
    raise ValueError(f"unknown command {args.command}")


def _anchor(text: str | None) -> tuple[int, str] | None:
    if text is None:
        return None
    rows, _, head = text.partition(":")
    if not rows.isdigit() or not head.startswith("sha256:"):
        raise ValueError(f"--anchor takes ROWS:HEAD as audit prints it (4:sha256:…), not {text!r}")
    return int(rows), head


def _audit(store: Store, as_json: bool, anchor: tuple[int, str] | None) -> int:
    """0 when the chain and every report's hashes hold, 1 naming the first bad row (then the others)."""
    result = store.audit(anchor)
    if as_json:
        print(json.dumps({"store": str(store.path), **result.to_dict()}, indent=2))
    elif result.intact:
        print(f"{store.path}: intact, {result.rows} rows chained; head {result.head}")
        print(f"record the anchor {result.rows}:{result.head} elsewhere; `sovereign-kernel audit --anchor "
              f"{result.rows}:{result.head}` later proves rows 1-{result.rows} were not rewritten")
    else:
        first, *rest = result.problems
        print(printable(f"{store.path}: BROKEN at {first}"))
        for problem in rest:
            print(printable(f"  - {problem}"))
        print(f"{len(result.problems)} problem(s) in {result.rows} chained rows; head {result.head}")
    return 0 if result.intact else 1


def _warn_if_broken(store: Store) -> None:
    result = store.audit()
    if not result.intact:
        _warn(result.problems[0])


def _warn(problem: str) -> None:
    print(printable(f"warning: the store's hash chain is broken at {problem} (sovereign-kernel audit lists "
                    "every problem)"), file=sys.stderr)
