"""The ``kt-analysis`` command: argument parsing only; the work is in the modules it calls.

Exit codes: 0 success, 1 a run failed, 2 bad input (the message names the file, the row or
field, and the fix; no traceback for expected mistakes).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

from kt_analysis.errors import InputError, KtAnalysisError, mask_text, output_fault
from kt_analysis.paths import ENV_VAR

if TYPE_CHECKING:  # the commands import what they run lazily: `kt-analysis --help` stays fast
    from collections.abc import Callable

    import duckdb

    from kt_analysis.inputs.incident import Incident

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
    from kt_analysis.inputs.policy import MONTH_PATTERN
    from kt_analysis.inputs.synthetic import bill_months, generate_bill_items, generate_bills, generate_roster

    say = _say_factory(args.quiet)
    if not args.no_bills:
        bill_months(args.first_month, args.bill_months)  # a bad month fails before the roster is written
    item_months = [m.strip() for m in args.item_months.split(",") if m.strip()]
    bad = [m for m in item_months if not MONTH_PATTERN.match(m)]
    if bad:  # checked before any work, like --first-month
        raise InputError("--item-months", "", f"{bad[0]!r} is not a bill month", "write months as YYYY-MM, "
                         "comma-separated, e.g. 2021-10,2024-07")
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
    if item_months:
        say(f"generating bill items for {', '.join(item_months)}")
        items = generate_bill_items(path, args.seed, args.out, months=item_months)
        say(f"wrote {items}")
        print(items)
    return EXIT_OK


def cmd_check_bills(args: argparse.Namespace) -> int:
    import duckdb

    from kt_analysis.errors import RunError
    from kt_analysis.jobs.bill_check import EXIT_CODES, check_bills

    # Only the documented codes leave: 0/3/4 a verdict, 2 bad input (InputError), 1 a fault.
    try:
        result = check_bills(args.bills, args.month, candidate=args.candidate)
    except BrokenPipeError:
        raise
    except OSError as exc:  # the disk, not the data: a read error, no permission
        where = exc.filename if exc.filename is not None else (args.candidate or args.bills)
        raise RunError(f"{where}: cannot be read ({exc.strerror or type(exc).__name__}) — check the disk and "
                       f"the file's permissions") from None
    except duckdb.Error as exc:  # checked input that still fails: a fault, never a verdict
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:300]
        raise RunError(f"{args.candidate or args.bills}: the bill check failed ({first}) — check the disk; "
                       f"if it recurs, report it with this file") from None
    if args.json:
        print(json.dumps(result.to_dict(), ensure_ascii=False, indent=2))
    else:
        run = args.candidate or args.bills
        print(f"{result.verdict}: bill run {args.month} in {run}")
        for reason in result.reasons:
            print(f"  - {reason}")
    return EXIT_CODES[result.verdict]


def _inputs_beside(con: duckdb.DuckDBPyConnection, inc: Incident) -> list[str]:
    """An outage's bill items and claims, checked on every row as a run checks them."""
    from kt_analysis.inputs.bill_items import open_bill_items
    from kt_analysis.inputs.claims import open_claims

    problems: list[str] = []
    if inc.bill_items is not None:
        try:
            open_bill_items(con, inc.bill_items)
        except InputError as exc:
            problems += exc.message.splitlines()
    if inc.claims is not None:
        try:
            open_claims(inc.claims, inc.tz)
        except InputError as exc:
            problems += exc.message.splitlines()
    return problems


def _check_yaml(path: Path, doc: dict, check_incident: Callable[[dict, list[InputError]], list[str]]) -> list[str]:
    """An incident, policy, settlement rules or calendar overrides: the loader first, then the file's
    JSON Schema (kt_analysis/schemas): the schema's problems at keys the loader did not already report
    on (inputs.schemas.beyond_loader) are added after the loader's."""
    from kt_analysis.errors import InputErrors
    from kt_analysis.inputs.business_days import CalendarOverrides
    from kt_analysis.inputs.policy import load_policy
    from kt_analysis.inputs.schemas import beyond_loader, document_kind, schema_problems
    from kt_analysis.inputs.settlement import load_settlement

    kind = document_kind(doc)
    reported: list[InputError] = []
    problems: list[str] = []
    if kind == "incident":
        problems = check_incident(doc, reported)
    else:
        load = {"settlement": load_settlement, "calendar": CalendarOverrides.load, "policy": load_policy}
        try:
            load[kind](path)
        except InputError as exc:
            reported = exc.errors if isinstance(exc, InputErrors) else [exc]
            problems = exc.message.splitlines()
    return problems + [p.message for p in beyond_loader(schema_problems(kind, doc, path), reported, path)]


def _validate_one(path: Path) -> list[str]:
    """Problems found in one input file (empty list: fine)."""
    from kt_analysis.dbrow import connect
    from kt_analysis.engine.billing import validate_bills
    from kt_analysis.engine.duckdb_engine import prepare
    from kt_analysis.errors import InputErrors
    from kt_analysis.inputs.incident import load_incident
    from kt_analysis.inputs.roster import open_roster, validate_roster
    from kt_analysis.inputs.yamlio import path_exists, read_yaml_mapping

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

    def check_incident(doc: dict, reported: list[InputError]) -> list[str]:
        """The incident, its policy and windows file; then its roster, the names it uses against
        the roster's, and its bills: every problem found, not only the first (the loader's in
        ``reported``)."""
        problems: list[str] = []
        try:
            inc = load_incident(path)
        except InputError as exc:
            reported += exc.errors if isinstance(exc, InputErrors) else [exc]
            problems += exc.message.splitlines()
            roster = doc.get("roster")
            if isinstance(roster, str) and roster.strip():
                from kt_analysis.paths import find_project_root, resolve_input_path

                try:
                    roster_path = resolve_input_path(roster, path.parent, find_project_root(path.parent))
                except InputError:
                    roster_path = Path("/nonexistent")  # already reported by load_incident
                if path_exists(roster_path):
                    try:
                        check_roster(roster_path)
                    except InputError as exc2:
                        problems += exc2.message.splitlines()
            return problems
        con = connect()
        try:
            if inc.billing is None:
                per_line = prepare(inc, con)  # roster check, names against the roster, reach
                per_line.source.close()
                problems += _inputs_beside(con, inc)
            else:
                check_roster(inc.roster)
                validate_bills(con, inc.billing)
        except InputError as exc:
            problems += exc.message.splitlines()
        finally:
            con.close()
        return problems

    try:
        if path.suffix.lower() in (".yml", ".yaml"):
            return _check_yaml(path, read_yaml_mapping(path, "input"), check_incident)
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
    from kt_analysis.jobs.run import run_incident

    say = _say_factory(args.quiet)
    if getattr(args, "policy", None) is not None or getattr(args, "set", None):
        return _run_what_if(args, say)
    result = run_incident(
        args.incident, out=args.out, roster=args.roster, report=not args.no_report, say=say, pdf=args.pdf,
        bills=args.bills, bill_items=args.bill_items, claims=args.claims, engine=args.engine,
        spark_master=args.spark_master, xlsx=args.xlsx, sms_list=args.sms_list,
        show_progress=sys.stderr.isatty() and not args.quiet, cell_timeout=args.cell_timeout, as_of=args.as_of,
    )
    s = result.summary
    if s.kind == "billing_error":
        print(f"{result.incident_id}: {s.affected_lines:,} lines charged wrongly, {s.total_charged_krw:,} won "
              f"reversed ({s.total_refund_krw:,} won refunded), settled by {s.settlement_completion_date} "
              f"→ {result.out_dir}")
    else:
        provisional = f"PROVISIONAL as of {s.as_of} (outage ongoing): " if s.provisional else ""
        print(f"{result.incident_id}: {provisional}{s.affected_lines:,} affected lines, "
              f"{s.eligible_lines:,} eligible, total credit {s.total_credit_krw:,} won → {result.out_dir}")
    return EXIT_OK


def _run_what_if(args: argparse.Namespace, say: Callable[[str], None]) -> int:
    """``run --policy ID`` / ``--set key.path=value``: the incident under another policy or changed
    rules, written apart from its report (jobs/what_if.py); not recorded in the history."""
    from kt_analysis.jobs.what_if import parse_set, run_what_if

    for flag, given in (("--pdf", args.pdf), ("--bills", args.bills), ("--xlsx", getattr(args, "xlsx", False)),
                        ("--sms-list", getattr(args, "sms_list", None))):
        if given:
            raise InputError(flag, "", "is not for a what-if (--policy/--set), which writes ledger, summary and "
                             "what-if.json only", f"leave out {flag}, or run without --policy/--set")
    result = run_what_if(args.incident, policy=args.policy, changes=parse_set(args.set or []), out=args.out,
                         roster=args.roster, bill_items=args.bill_items, claims=args.claims, engine=args.engine,
                         spark_master=args.spark_master, as_of=getattr(args, "as_of", None), say=say)
    print(f"{result.incident_id}: what-if under {result.policy_id}: {result.affected_lines:,} affected lines, "
          f"{result.eligible_lines:,} eligible, total credit {result.total_credit_krw:,} won → {result.folder}")
    return EXIT_OK


def cmd_run_all(args: argparse.Namespace) -> int:
    from kt_analysis.jobs.batch import run_all

    out = Path(args.out)
    outcomes = run_all(Path(args.folder), out, jobs=args.jobs, force=args.force, timeout=args.timeout,
                       cell_timeout=args.cell_timeout, report=not args.no_report, pdf=args.pdf,
                       engine=args.engine, spark_master=args.spark_master,
                       say=lambda m: print(m, flush=True))
    failed = [o for o in outcomes if o.failed]
    print(f"{len(outcomes) - len(failed)} of {len(outcomes)} incidents ok "
          f"({sum(o.status == 'skipped' for o in outcomes)} unchanged, skipped); index: {out / 'index.html'}")
    return EXIT_FAILED if failed else EXIT_OK


def cmd_history(args: argparse.Namespace) -> int:
    from kt_analysis.jobs.history import format_listing, listing

    data = listing(Path(args.out), incident_id=args.incident, month=args.month)
    print(json.dumps(data, ensure_ascii=False, indent=2) if args.json else format_listing(data))
    return EXIT_OK


def cmd_roster_describe(args: argparse.Namespace) -> int:
    from kt_analysis.inputs.roster import describe_roster, format_description

    desc = describe_roster(Path(args.roster))  # validated first: a bad roster is exit 2
    if args.json:
        print(json.dumps(desc, ensure_ascii=False, indent=2))
    else:
        print(format_description(desc))
    return EXIT_OK


def cmd_explain(args: argparse.Namespace) -> int:
    """``kt-analysis explain INCIDENT LINE_ID``: one line's windows, minutes, eligibility and credit."""
    from kt_analysis.jobs.explain import explain

    exp, source = explain(args.incident, args.line_id, out=args.out)
    if args.json:
        print(json.dumps({**exp.to_dict(), "run": source}, ensure_ascii=False, indent=2))
    else:
        print(exp.text())
    return EXIT_OK


def _engine_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--engine", choices=("duckdb", "spark"), default="duckdb",
                        help="what computes ledger and summary: duckdb (default, in process) or spark "
                             "(outages; needs PySpark and Java; same results)")
    parser.add_argument("--spark-master", metavar="URL",
                        help="with --engine spark: where Spark runs, e.g. spark://host:7077 "
                             "(default $KT_SPARK_MASTER, else local[2])")


def cmd_policies(args: argparse.Namespace) -> int:
    """``kt-analysis policies``: the catalogue an incident in FOLDER would see."""
    from kt_analysis.inputs.policy import load_policy
    from kt_analysis.inputs.settlement import load_settlement
    from kt_analysis.paths import catalogue_for

    folder = Path(args.folder)
    if not folder.is_dir():
        raise InputError(str(folder), "", "is not a folder", "name the folder your incident files are in")
    catalogue = catalogue_for(folder)
    rows = []
    for kind, load in (("policies", load_policy), ("settlement", load_settlement)):
        for ident, path, origin, overrides in catalogue.entries(kind):
            doc = load(path)
            if doc.id != ident:
                raise InputError(str(path), "id", f"is {doc.id!r}, but the file is named {ident}.yml",
                                 f"rename the file to {doc.id}.yml or set id: {ident}")
            rows.append({"kind": "policy" if kind == "policies" else "settlement", "id": ident, "title": doc.title,
                         "origin": origin, "overrides": overrides, "path": str(path)})
    if args.json:
        print(json.dumps({"sources": [{"origin": s.origin, "folder": str(s.folder)} for s in catalogue.sources],
                          "entries": rows}, ensure_ascii=False, indent=2))
        return 0
    say = _say_factory(args.quiet)
    for source in catalogue.sources:
        say(f"looked up in: {source.origin} {source.folder}")
    width = max((len(r["id"]) for r in rows), default=0)
    for r in rows:
        over = f" (overrides {', '.join(r['overrides'])})" if r["overrides"] else ""
        print(f"{r['kind']:10} {r['id']:{width}}  {r['origin']}{over}  {r['title']}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="kt-analysis",
        description="Telecom incident analysis: who is affected, what is owed, when it is settled.",
    )
    parser.add_argument("--quiet", "-q", action="store_true", help="print only results and errors")
    parser.add_argument("--workspace", metavar="FOLDER",
                        help="a folder of your own policies/, settlement/ and calendar/overrides.yml, looked up "
                             "before the built-in catalogue (default $KT_ANALYSIS_WORKSPACE, else the workspace "
                             "named in the nearest kt-analysis.toml)")
    sub = parser.add_subparsers(dest="command", required=True)

    pl = sub.add_parser("policies", help="list the policy catalogue and the settlement rules: id, title, where from",
                        description="The catalogue as an incident in FOLDER (default: the working folder) sees it: "
                                    "the workspace's, the project's data/ and the built-in policies and settlement "
                                    "rules, the first folder winning for an id.")
    pl.add_argument("folder", nargs="?", default=".", help="where the incident would be (default .)")
    pl.add_argument("--json", action="store_true", help="print the list as JSON")
    pl.set_defaults(func=cmd_policies)

    g = sub.add_parser("generate", help="write a deterministic, calibrated synthetic roster")
    g.add_argument("--lines", type=int, default=100_000, help="number of service lines (default 100000)")
    g.add_argument("--seed", type=int, default=20211025, help="random seed (default 20211025)")
    g.add_argument("--out", default="data/sample", help="output folder (default data/sample)")
    g.add_argument("--no-bills", action="store_true", help="write the roster only, no bills.parquet")
    g.add_argument("--bill-months", type=int, default=12, help="months of bills per line (default 12)")
    g.add_argument("--first-month", default="2023-01", help="first bill month, YYYY-MM (default 2023-01)")
    g.add_argument("--item-months", default="",
                   help="also write bill_items.parquet for these months, comma-separated YYYY-MM (e.g. "
                        "2018-08,2018-09,2018-10,2021-10,2024-07: what the sample incidents' policies compute on)")
    g.set_defaults(func=cmd_generate)

    cb = sub.add_parser(
        "check-bills",
        help="pre-charge check: does a month's bill run repeat an earlier month? (exit 0 ok, 3 suspect, 4 blocked)",
        description="Compare the bill run of --month with the earlier months of BILLS: the share of lines whose "
                    "amount equals an earlier month's exactly, against the usual month-over-month share; totals, "
                    "mean, median and p90; lines missing, new or billed twice. A run sent at an earlier month's "
                    "amounts (September 2023's, at July's) is 'blocked'; the sample's bills are correct and pass: "
                    "build such a run with kt_analysis.jobs.bill_check.swap_month (README, check-bills worked).",
        epilog="exit codes: 0 ok (charge), 3 suspect (a person looks first), 4 blocked (do not send), "
               "2 bad input (missing file, bad month, month not in the file)",
    )
    cb.add_argument("bills", help="bills file (Parquet or CSV: line_id, bill_month, amount_krw)")
    cb.add_argument("--month", required=True, help="the bill month to check, YYYY-MM")
    cb.add_argument("--candidate", help="the run about to be sent (whole or one batch); BILLS is then the history")
    cb.add_argument("--json", action="store_true", help="print the full result as JSON")
    cb.set_defaults(func=cmd_check_bills)

    v = sub.add_parser("validate", help="check incidents, policies, settlement rules, calendar overrides and "
                                        "rosters (YAML files also against their JSON Schema); explain each problem")
    v.add_argument("paths", nargs="+", help="files or folders")
    v.set_defaults(func=cmd_validate)

    r = sub.add_parser("run", help="analyse one incident and render its report")
    r.add_argument("incident", help="incident file (data/incidents/<id>.yml)")
    r.add_argument("--roster", help="use this roster instead of the incident's")
    r.add_argument("--bills", help="billing errors: use this bills file instead of the incident's")
    r.add_argument("--bill-items", help="outages: the lines' bill items (what a policy's fee_basis computes on), "
                                        "instead of the incident's bill_items")
    r.add_argument("--claims", help="outages: the claims received so far (decided by the policy's claims: rules), "
                                    "instead of the incident's claims")
    r.add_argument("--out", default="reports", help="output folder (default reports/)")
    r.add_argument("--no-report", action="store_true", help="write ledger and summary only")
    r.add_argument("--pdf", action="store_true", help="also print the report to report.pdf (needs Chromium)")
    r.add_argument("--cell-timeout", type=int, default=1800, help="seconds a notebook cell may take")
    r.add_argument("--as-of", metavar="TIME",
                   help="outages still going on: size every window written `end: ongoing` as of TIME (local time "
                        "in the incident's zone, e.g. 2024-08-10T12:00); every window is cut there and every "
                        "figure is provisional (not recorded in the history)")
    r.add_argument("--xlsx", action="store_true",
                   help="also write report.xlsx: the report's tables, one sheet per chapter")
    r.add_argument("--sms-list", metavar="PATH", help="also write the SMS send list (with phone numbers) to PATH, "
                                                      "outside the output folder, owner-only (0600)")
    r.add_argument("--policy", metavar="ID", help="what-if: compute under this policy (a catalogue id, see "
                   "`kt-analysis policies`, or a policy file) into OUT/<incident id>/what-if/, not the incident's "
                   "report; not recorded in the history")
    r.add_argument("--set", action="append", metavar="KEY.PATH=VALUE",
                   help="what-if: change one rule of the policy (repeatable), e.g. --set credit.outage_multiplier=8 "
                        "(docs/policy-language.md, What-if changes)")
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

    h = sub.add_parser(
        "history", help="list the runs published into an output folder (its history.duckdb)",
        description="List the runs recorded in OUT/history.duckdb, in the order of the incidents' start: "
                    "kind, span, months, policy and its monthly scope, lines, eligible lines, total credit, when "
                    "published, the earlier incidents a policy counting across the calendar month added; and per "
                    "month the lines, outage minutes, credited lines and earlier minutes taken in.",
    )
    h.add_argument("--out", default="reports", help="the output folder (default reports/)")
    h.add_argument("--incident", metavar="ID", help="only this incident's run")
    h.add_argument("--month", metavar="YYYY-MM", help="only runs touching this calendar month, and its minutes")
    h.add_argument("--json", action="store_true", help="print the rows as JSON")
    h.set_defaults(func=cmd_history)

    ex = sub.add_parser(
        "explain", help="explain one line: the windows that reached it, its minutes, the rule, the credit formula",
        description="What a support centre tells a customer: the outage windows that reached LINE_ID (or why "
                    "none did), its minutes, the eligibility rule that decided, and the credit formula with the "
                    "line's own numbers, ending in the ledger's credit_krw (checked: a mismatch is refused). "
                    "Reads the published run in --out when current, else analyses the incident now. Names and "
                    "phone numbers are not shown.",
        epilog="exit codes: 0 explained (also a line the incident did not reach), 2 bad input (a line id not in "
               "the roster), 1 the explanation disagrees with the ledger",
    )
    ex.add_argument("incident", help="incident file (data/incidents/<id>.yml) or its id")
    ex.add_argument("line_id", help="the line's line_id in the roster")
    ex.add_argument("--out", default="reports", help="output folder the run was published into (default reports/)")
    ex.add_argument("--json", action="store_true", help="print the explanation as JSON")
    ex.set_defaults(func=cmd_explain)

    ro = sub.add_parser("roster", help="look at a roster (roster describe: the names incidents must use)")
    ro_sub = ro.add_subparsers(dest="roster_command", required=True)
    rd = ro_sub.add_parser(
        "describe", help="each service, region, facility, customer type and payment method with its lines",
        description="Validate the roster, then list each distinct service, region, facility_id, customer "
                    "type and payment method with its number of lines (most first), and the total lines "
                    "and customers, so that incidents are written with the roster's own names. Names "
                    "written in several ways that are matched as one (a trailing blank, NFD) are warned of.",
    )
    rd.add_argument("roster", help="roster: a .parquet file, a folder of .parquet files, or a .csv file")
    rd.add_argument("--json", action="store_true", help="print every value as JSON (text shows the top 30)")
    rd.set_defaults(func=cmd_roster_describe)
    return parser


def _refuse(exc: KtAnalysisError) -> int:
    """Print ``exc`` as ``error: …`` lines (phone numbers masked: they reach terminals and logs)."""
    text = exc.message if isinstance(exc, InputError) else str(exc)
    for line in text.splitlines() or [type(exc).__name__]:
        print(f"error: {mask_text(line)}", file=sys.stderr)
    return exc.exit_code


def main(argv: list[str] | None = None) -> int:
    os.environ.setdefault("JUPYTER_PREFER_ENV_PATH", "1")
    # jsonschema, imported by nbformat, imports rfc3987_syntax when it is installed (JupyterLab's
    # jupyter-events brings it), which compiles a grammar for ~1.2 s at every start. Neither
    # nbformat nor papermill checks IRI formats, so the command goes without it.
    sys.modules.setdefault("rfc3987_syntax", None)  # type: ignore[arg-type]
    args = build_parser().parse_args(argv)
    try:
        if args.workspace is not None:
            # The environment carries it into the report's notebooks (papermill's kernels inherit it).
            os.environ[ENV_VAR] = str(Path(args.workspace).expanduser().resolve())
        return int(args.func(args))
    except KtAnalysisError as exc:
        return _refuse(exc)
    except BrokenPipeError:
        # stdout closed by the reader (`| head`): not a fault of the disk. Point stdout at
        # /dev/null so the interpreter's final flush does not print a second error.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 141  # 128 + SIGPIPE, as a shell reports a command killed by the pipe
    except OSError as exc:
        # A fault of the disk or the output folder met outside the checks (full, read-only, a file
        # where a folder goes): one line naming the path and the fix, no traceback.
        return _refuse(output_fault(exc, getattr(args, "out", None)))
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
