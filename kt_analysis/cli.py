"""The ``kt-analysis`` command: argument parsing only; the work is in the modules it calls.

Exit codes: 0 success, 1 a run failed, 2 bad input (the message names the file, the row or
field, and the fix; no traceback for expected mistakes).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

from .errors import InputError, KtAnalysisError

EXIT_OK, EXIT_FAILED, EXIT_BAD_INPUT = 0, 1, 2


def _say_factory(quiet: bool):
    start = time.monotonic()

    def say(message: str) -> None:
        if not quiet:
            sys.stderr.write(f"[{time.monotonic() - start:6.1f}s] {message}\n")
            sys.stderr.flush()

    return say


def _progress_bar(quiet: bool):
    """A one-line progress display on a terminal; nothing in logs (cron, CI)."""
    tty = sys.stderr.isatty() and not quiet

    def progress(done: int, total: int) -> None:
        if tty:
            width = 30
            filled = int(width * done / total) if total else width
            sys.stderr.write(f"\r  [{'#' * filled}{'.' * (width - filled)}] {done:,}/{total:,} lines")
            if done >= total:
                sys.stderr.write("\n")
            sys.stderr.flush()

    return progress


def cmd_generate(args: argparse.Namespace) -> int:
    from .synthetic import bill_months, generate_bills, generate_roster

    say = _say_factory(args.quiet)
    if not args.no_bills:
        bill_months(args.first_month, args.bill_months)  # a bad month fails before the roster is written
    say(f"generating {args.lines:,} lines (seed {args.seed}) into {args.out}")
    path = generate_roster(args.lines, args.seed, args.out, progress=_progress_bar(args.quiet))
    say(f"wrote {path}")
    print(path)
    if not args.no_bills:
        tty = sys.stderr.isatty() and not args.quiet

        def bills_progress(done: int, total: int) -> None:
            if tty:
                sys.stderr.write(f"\r  {done:,}/{total:,} bills" + ("\n" if done >= total else ""))
                sys.stderr.flush()

        say(f"generating {args.bill_months} months of bills from {args.first_month}")
        bills = generate_bills(path, args.seed, args.out, first_month=args.first_month, months=args.bill_months,
                               progress=bills_progress)
        say(f"wrote {bills}")
        print(bills)
    return EXIT_OK


def cmd_check_bills(args: argparse.Namespace) -> int:
    import json

    from .bill_check import EXIT_CODES, check_bills

    result = check_bills(args.bills, args.month, candidate=args.candidate)
    if args.json:
        print(json.dumps(result.to_dict(), ensure_ascii=False, indent=2))
    else:
        run = args.candidate or args.bills
        print(f"{result.verdict}: bill run {args.month} in {run}")
        for reason in result.reasons:
            print(f"  - {reason}")
    return EXIT_CODES[result.verdict]


def _validate_one(path: Path) -> list[str]:
    """Problems found in one input file (empty list: fine)."""
    from .analysis import connect
    from .incident import load_incident
    from .policy import load_policy
    from .roster import open_roster, validate_roster
    from .settlement import load_settlement, validate_bills
    from .yamlio import read_yaml_mapping

    def check_roster(roster: Path) -> None:
        con = connect()
        src = None
        try:
            src = open_roster(roster)
            validate_roster(con, src)
        finally:
            if src is not None:
                src.close()  # a CP949 roster's UTF-8 copy goes, whatever the verdict
            con.close()

    try:
        if path.suffix.lower() in (".yml", ".yaml"):
            doc = read_yaml_mapping(path, "input")
            if "affected" in doc or "kind" in doc:
                inc = load_incident(path)
                check_roster(inc.roster)
                if inc.billing is not None:
                    con = connect()
                    try:
                        validate_bills(con, inc.billing)
                    finally:
                        con.close()
            elif "methods" in doc:
                load_settlement(path)
            else:
                load_policy(path)
        elif path.suffix.lower() in (".parquet", ".csv", ".txt") or path.is_dir():
            check_roster(path)
        else:
            raise InputError(str(path), "", "is not an incident, policy or roster file",
                             "name a .yml, .parquet or .csv file")
    except InputError as exc:
        return exc.message.splitlines()
    return []


def cmd_validate(args: argparse.Namespace) -> int:
    paths: list[Path] = []
    for raw in args.paths:
        p = Path(raw)
        if p.is_dir() and not any(p.glob("*.parquet")):
            paths.extend(sorted([*p.glob("*.yml"), *p.glob("*.yaml")]))
        else:
            paths.append(p)
    bad = 0
    for p in paths:
        problems = _validate_one(p)
        if problems:
            bad += 1
            for line in problems:
                print(f"error: {line}", file=sys.stderr)
        else:
            print(f"ok: {p}")
    return EXIT_BAD_INPUT if bad else EXIT_OK


def cmd_run(args: argparse.Namespace) -> int:
    from .run import run_incident

    say = _say_factory(args.quiet)
    result = run_incident(
        args.incident, out=args.out, roster=args.roster, report=not args.no_report, say=say, pdf=args.pdf,
        bills=args.bills, engine=args.engine, spark_master=args.spark_master,
        show_progress=sys.stderr.isatty() and not args.quiet, cell_timeout=args.cell_timeout,
    )
    s = result.summary
    if s["kind"] == "billing_error":
        print(f"{result.incident_id}: {s['affected_lines']:,} lines charged wrongly, {s['total_charged_krw']:,} won "
              f"reversed ({s['total_refund_krw']:,} won refunded), settled by {s['settlement_completion_date']} "
              f"→ {result.out_dir}")
    else:
        print(f"{result.incident_id}: {s['affected_lines']:,} affected lines, "
              f"{s['eligible_lines']:,} eligible, total credit {s['total_credit_krw']:,} won → {result.out_dir}")
    return EXIT_OK


def cmd_run_all(args: argparse.Namespace) -> int:
    from .batch import run_all

    out = Path(args.out)
    outcomes = run_all(Path(args.folder), out, jobs=args.jobs, force=args.force, timeout=args.timeout,
                       cell_timeout=args.cell_timeout, report=not args.no_report, pdf=args.pdf,
                       engine=args.engine, spark_master=args.spark_master,
                       say=lambda m: print(m, flush=True))
    failed = [o for o in outcomes if o.failed]
    print(f"{len(outcomes) - len(failed)} of {len(outcomes)} incidents ok "
          f"({sum(o.status == 'skipped' for o in outcomes)} unchanged, skipped); index: {out / 'index.html'}")
    return EXIT_FAILED if failed else EXIT_OK


def _engine_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--engine", choices=("duckdb", "spark"), default="duckdb",
                        help="what computes ledger and summary: duckdb (default, in process) or spark "
                             "(outages; needs PySpark and Java; same results)")
    parser.add_argument("--spark-master", metavar="URL",
                        help="with --engine spark: where Spark runs, e.g. spark://host:7077 "
                             "(default $KT_SPARK_MASTER, else local[2])")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="kt-analysis",
        description="Telecom incident analysis: who is affected, what is owed, when it is settled.",
    )
    parser.add_argument("--quiet", "-q", action="store_true", help="print only results and errors")
    sub = parser.add_subparsers(dest="command", required=True)

    g = sub.add_parser("generate", help="write a deterministic, calibrated synthetic roster")
    g.add_argument("--lines", type=int, default=100_000, help="number of service lines (default 100000)")
    g.add_argument("--seed", type=int, default=20211025, help="random seed (default 20211025)")
    g.add_argument("--out", default="data/sample", help="output folder (default data/sample)")
    g.add_argument("--no-bills", action="store_true", help="write the roster only, no bills.parquet")
    g.add_argument("--bill-months", type=int, default=12, help="months of bills per line (default 12)")
    g.add_argument("--first-month", default="2023-01", help="first bill month, YYYY-MM (default 2023-01)")
    g.set_defaults(func=cmd_generate)

    cb = sub.add_parser(
        "check-bills",
        help="pre-charge check: does a month's bill run repeat an earlier month? (exit 0 ok, 3 suspect, 4 blocked)",
        description="Compare the bill run of --month with the earlier months of BILLS: the share of lines whose "
                    "amount equals an earlier month's exactly, against the usual month-over-month share; totals, "
                    "mean, median and p90; lines missing, new or billed twice. September 2023's run, sent at the "
                    "July amounts, is 'blocked'.",
        epilog="exit codes: 0 ok (charge), 3 suspect (a person looks first), 4 blocked (do not send), "
               "2 bad input (missing file, bad month, month not in the file)",
    )
    cb.add_argument("bills", help="bills file (Parquet or CSV: line_id, bill_month, amount_krw)")
    cb.add_argument("--month", required=True, help="the bill month to check, YYYY-MM")
    cb.add_argument("--candidate", help="the run about to be sent (whole or one batch); BILLS is then the history")
    cb.add_argument("--json", action="store_true", help="print the full result as JSON")
    cb.set_defaults(func=cmd_check_bills)

    v = sub.add_parser("validate", help="check incidents, policies and rosters; explain each problem")
    v.add_argument("paths", nargs="+", help="files or folders")
    v.set_defaults(func=cmd_validate)

    r = sub.add_parser("run", help="analyse one incident and render its report")
    r.add_argument("incident", help="incident file (data/incidents/<id>.yml)")
    r.add_argument("--roster", help="use this roster instead of the incident's")
    r.add_argument("--bills", help="billing errors: use this bills file instead of the incident's")
    r.add_argument("--out", default="reports", help="output folder (default reports/)")
    r.add_argument("--no-report", action="store_true", help="write ledger and summary only")
    r.add_argument("--pdf", action="store_true", help="also print the report to report.pdf (needs Chromium)")
    r.add_argument("--cell-timeout", type=int, default=1800, help="seconds a notebook cell may take")
    _engine_options(r)
    r.set_defaults(func=cmd_run)

    a = sub.add_parser("run-all", help="run every incident in a folder, then write index.html")
    a.add_argument("folder", help="folder of incident files")
    a.add_argument("--out", default="reports", help="output folder (default reports/)")
    a.add_argument("--no-report", action="store_true", help="write ledgers and summaries only")
    a.add_argument("--pdf", action="store_true", help="also print each report to report.pdf (needs Chromium)")
    a.add_argument("--jobs", "-j", type=int, default=2, help="incidents run at once (default 2: one per core)")
    a.add_argument("--force", action="store_true", help="run incidents whose inputs have not changed too")
    a.add_argument("--timeout", type=float, default=3600, help="seconds one incident may take in all (default 3600)")
    a.add_argument("--cell-timeout", type=int, default=1800, help="seconds a notebook cell may take")
    _engine_options(a)
    a.set_defaults(func=cmd_run_all)
    return parser


def main(argv: list[str] | None = None) -> int:
    os.environ.setdefault("JUPYTER_PREFER_ENV_PATH", "1")
    # jsonschema, imported by nbformat, imports rfc3987_syntax when it is installed (JupyterLab's
    # jupyter-events brings it), which compiles a grammar for ~1.2 s at every start. Neither
    # nbformat nor papermill checks IRI formats, so the command goes without it.
    sys.modules.setdefault("rfc3987_syntax", None)  # type: ignore[arg-type]
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args))
    except KtAnalysisError as exc:
        text = exc.message if isinstance(exc, InputError) else str(exc)
        for line in text.splitlines():
            print(f"error: {line}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
