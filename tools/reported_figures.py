"""The "ours" column of docs/reported-figures.md: the sample incidents on a full-size generated roster.

    python tools/reported_figures.py                    # what `make reported` runs (markdown)
    python tools/reported_figures.py --format json      # every figure, as JSON
    python tools/reported_figures.py --reuse            # read the last runs again, run nothing

Runs ``kt-analysis run --no-report`` on the four sample incidents of ``data/incidents/`` with a
national-size roster: 43.8M lines, the total the generator's service mix is calibrated to, so that
its counts compare with national counts as they stand (``.bench/r43800000/``: seed 20211025, bills
of 2023-07..2023-09; generated here with ``kt-analysis generate`` when missing, ~2 min), plus the
2024-08-10 landline outage under KT's real compensation
(``kt-2024-08-10-landline-special``: the same incident with that policy, written to a scratch
project so that its figures come with their breakdowns, not only the what-if total). Then reads
each ``summary.json`` and, for figures the summary does not break down (mean credit of a kind of
line, the Ahyeon merchants' consolation money apart from the fee part), the ledger joined to the
roster.

The outage specials compute on bill items: the months they need are generated with
``kt_analysis.inputs.synthetic.generate_bill_items`` (the roster's seed) into ``--work-dir`` when
the files are not given and not already there (about 1.5-2 min per month at 43.8M lines and ~220 MB
each; 2018-08..10 for Ahyeon, 2021-10, 2024-07). ``--work-dir`` also holds the runs' outputs; it
defaults to a folder in the system's temporary directory, never inside the checkout. Nothing is
downloaded. The runs take 30 s to 5 min each at 43.8M lines on 2 cores; the script lowers its own priority
(``--nice``, default 19) and its children inherit it.
"""

# ruff: noqa: T201, S603, S608  (a command-line script: it prints; it runs kt-analysis; SQL from paths)
from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
INCIDENTS = ROOT / "data" / "incidents"
NATIONAL_LINES = 43_800_000  # the generator's national scale (data/README.md, "service mix")
BENCH = ROOT / ".bench" / f"r{NATIONAL_LINES}"
SEED = 20211025
ITEM_MONTHS = {
    "2018": ("2018-08", "2018-09", "2018-10"),
    "2021": ("2021-10",),
    "2024": ("2024-07",),
}
# key: (incident file stem, bill-item set or None for a billing error, policy replacing the incident's)
RUNS = {
    "nationwide": ("kt-2021-10-25-nationwide", "2021", None),
    "ahyeon": ("kt-2018-11-24-ahyeon-fire", "2018", None),
    "landline": ("kt-2024-08-10-landline", "2024", None),
    "landline_special": ("kt-2024-08-10-landline", "2024", "kt-2024-08-10-landline-special"),
    "billing": ("kt-2023-09-billing-error", None, None),
}
# The Ahyeon merchants' consolation money by days of outage (kt_analysis/catalogue/policies/kt-2018-ahyeon-special.yml).
AHYEON_TIERS = ((7, 1_200_000), (5, 1_000_000), (3, 800_000), (1, 400_000))


def say(message: str) -> None:
    print(f"[reported] {message}", file=sys.stderr, flush=True)


def kt_cli() -> list[str]:
    exe = Path(sys.executable).parent / "kt-analysis"
    if exe.exists():
        return [str(exe)]
    found = shutil.which("kt-analysis")
    if found is None:
        raise SystemExit("reported_figures: kt-analysis is not installed in this interpreter's environment: "
                         "run `make reported` (or `make setup` first)")
    return [found]


def sql_path(path: Path) -> str:
    return "'" + str(path).replace("'", "''") + "'"


# ----- inputs ------------------------------------------------------------------------------------

def items_file(args: argparse.Namespace, which: str) -> Path:
    """The bill items of one set of months: given, or generated once into the work folder."""
    given = getattr(args, f"items_{which}")
    if given is not None:
        return Path(given)
    months = ITEM_MONTHS[which]
    folder = args.work_dir / f"items-{months[0]}-{months[-1]}" if len(months) > 1 else \
        args.work_dir / f"items-{months[0]}"
    path = folder / "bill_items.parquet"
    stat = args.roster.stat()
    stamp = {"roster": str(args.roster.resolve()), "roster_bytes": stat.st_size,
             "roster_mtime_ns": stat.st_mtime_ns, "seed": args.seed, "months": list(months)}
    stamp_path = folder / "stamp.json"
    if path.exists() and stamp_path.exists() and json.loads(stamp_path.read_text()) == stamp:
        return path
    if args.reuse:
        raise SystemExit(f"reported_figures: --reuse, but {path} is missing or was made from another roster")
    from kt_analysis.inputs.synthetic import generate_bill_items

    say(f"generating the bill items of {', '.join(months)} for {args.roster} (seed {args.seed}) into {folder}")
    started = time.perf_counter()
    folder.mkdir(parents=True, exist_ok=True)
    generate_bill_items(args.roster, seed=args.seed, out_dir=folder, months=list(months))
    stamp_path.write_text(json.dumps(stamp))
    say(f"  done in {time.perf_counter() - started:.0f} s")
    return path


def derived_incident(args: argparse.Namespace, stem: str, policy: str) -> Path:
    """The incident ``stem`` under ``policy``, in a scratch folder (the built-in catalogue is the
    same everywhere); its id is the policy's, and the paths it names are made absolute (they are
    relative to the incident's own folder)."""
    project = args.work_dir / "project"
    text = (INCIDENTS / f"{stem}.yml").read_text(encoding="utf-8")
    text = re.sub(r"(?m)^(\s*(?:roster|bill_items|claims|bills|windows_file): )(\S+)$",
                  lambda m: m.group(1) + str((INCIDENTS / m.group(2)).resolve()), text)
    text, n_id = re.subn(r"(?m)^id: .*$", f"id: {policy}", text, count=1)
    text, n_policy = re.subn(r"(?m)^policy: .*$", f"policy: {policy}", text, count=1)
    if n_id != 1 or n_policy != 1:
        raise SystemExit(f"reported_figures: {stem}.yml has no top-level id: or policy: line to replace")
    dest = project / "data" / "incidents" / f"{policy}.yml"
    dest.parent.mkdir(parents=True, exist_ok=True)
    dest.write_text(text, encoding="utf-8")
    return dest


# ----- runs --------------------------------------------------------------------------------------

def run(args: argparse.Namespace, key: str) -> dict:
    """``kt-analysis run --no-report`` of one incident into its own output folder (each run alone:
    no earlier incident of the same month in its history); returns how long it took."""
    stem, items, policy = RUNS[key]
    incident = derived_incident(args, stem, policy) if policy else INCIDENTS / f"{stem}.yml"
    out = args.work_dir / "out" / key
    if args.reuse:
        return json.loads((out / "timing.json").read_text())
    cmd = [*kt_cli(), "run", str(incident), "--roster", str(args.roster), "--no-report", "--out", str(out)]
    if items is None:
        cmd += ["--bills", str(args.bills)]
    else:
        cmd += ["--bill-items", str(items_file(args, items))]
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    say(f"{key}: {' '.join(cmd)}")
    started = time.perf_counter()
    output: list[str] = []
    with subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True) as proc:
        for line in proc.stdout:  # the run's progress, as it comes
            output.append(line.rstrip("\n"))
            say(f"  {output[-1]}")
    seconds = time.perf_counter() - started
    if proc.returncode != 0:
        tail = "\n".join(output[-25:])
        raise SystemExit(f"reported_figures: {key}: kt-analysis exited {proc.returncode}:\n{tail}")
    timing = {"seconds": round(seconds, 1), "command": cmd, "last_line": next(x for x in reversed(output) if x.strip())}
    (out / "timing.json").write_text(json.dumps(timing, ensure_ascii=False, indent=1))
    say(f"  {seconds:.0f} s: {timing['last_line']}")
    return timing


def summary(args: argparse.Namespace, key: str) -> tuple[dict, Path]:
    stem, _, policy = RUNS[key]
    folder = args.work_dir / "out" / key / (policy or stem)
    return json.loads((folder / "summary.json").read_text(encoding="utf-8")), folder / "ledger.parquet"


# ----- figures -----------------------------------------------------------------------------------

def roster_facts(con, roster: Path) -> dict:  # noqa: ANN001
    r = f"read_parquet({sql_path(roster)})"
    lines, customers = con.execute(f"SELECT count(*), count(DISTINCT customer_id) FROM {r}").fetchone()
    by_service = dict(con.execute(f"SELECT service, count(*) FROM {r} GROUP BY 1 ORDER BY 1").fetchall())
    wired_sb = con.execute(
        f"SELECT avg(CASE WHEN customer_type = 'small_business' THEN 1.0 ELSE 0 END) FROM {r} "
        f"WHERE service IN ('internet', 'landline')").fetchone()[0]
    landline_plans = dict(con.execute(
        f"SELECT CASE WHEN plan LIKE '인터넷전화%' THEN 'internet_phone' ELSE 'pstn' END, count(*) "
        f"FROM {r} WHERE service = 'landline' GROUP BY 1 ORDER BY 1").fetchall())
    return {"lines": lines, "customers": customers, "lines_by_service": by_service,
            "small_business_share_of_wired_lines": round(float(wired_sb), 4),
            "landline_by_kind": landline_plans}


def per_kind(con, ledger: Path, roster: Path) -> list[dict]:  # noqa: ANN001
    """Per service and customer type: lines, eligible lines, credit, mean credit of an eligible line."""
    rows = con.execute(
        f"SELECT r.service, r.customer_type, count(*), count(*) FILTER (WHERE l.eligible), "
        f"CAST(sum(l.credit_krw) AS BIGINT) FROM read_parquet({sql_path(ledger)}) AS l "
        f"JOIN read_parquet({sql_path(roster)}) AS r USING (line_id) GROUP BY 1, 2 ORDER BY 1, 2").fetchall()
    return [{"service": s, "customer_type": t, "lines": n, "eligible_lines": e, "credit_krw": c,
             "mean_credit_krw": round(c / e) if e else None} for s, t, n, e, c in rows]


def landline_kinds(con, ledger: Path, roster: Path) -> list[dict]:  # noqa: ANN001
    """Landline lines by kind (internet phone or PSTN, from the plan) and customer type: lines, credit."""
    rows = con.execute(
        f"SELECT CASE WHEN r.plan LIKE '인터넷전화%' THEN 'internet_phone' ELSE 'pstn' END, r.customer_type, "
        f"count(*) FILTER (WHERE l.eligible), CAST(sum(l.credit_krw) AS BIGINT) "
        f"FROM read_parquet({sql_path(ledger)}) AS l JOIN read_parquet({sql_path(roster)}) AS r USING (line_id) "
        f"WHERE r.service = 'landline' GROUP BY 1, 2 ORDER BY 1, 2").fetchall()
    return [{"kind": k, "customer_type": t, "eligible_lines": n, "credit_krw": c} for k, t, n, c in rows]


def small_business_customers(con, ledger: Path, roster: Path, services: tuple[str, ...]) -> int:  # noqa: ANN001
    names = ", ".join(f"'{s}'" for s in services)
    return con.execute(
        f"SELECT count(DISTINCT r.customer_id) FROM read_parquet({sql_path(ledger)}) AS l "
        f"JOIN read_parquet({sql_path(roster)}) AS r USING (line_id) "
        f"WHERE l.eligible AND r.customer_type = 'small_business' AND r.service IN ({names})").fetchone()[0]


def ahyeon_consolation(con, ledger: Path, roster: Path) -> dict:  # noqa: ANN001
    """The merchants' consolation money, apart from the one month of fee on the same lines."""
    tier = " ".join(f"WHEN l.outage_days >= {d} THEN {krw}" for d, krw in AHYEON_TIERS)
    merchants, money, mean_days, by_days = con.execute(
        f"SELECT count(*), CAST(sum(CASE {tier} ELSE 0 END) AS BIGINT), avg(l.outage_days), "
        f"list(DISTINCT l.outage_days ORDER BY l.outage_days) "
        f"FROM read_parquet({sql_path(ledger)}) AS l JOIN read_parquet({sql_path(roster)}) AS r USING (line_id) "
        f"WHERE l.eligible AND r.customer_type = 'small_business' AND r.service = 'internet'").fetchone()
    days = dict(con.execute(
        f"SELECT l.outage_days, count(*) FROM read_parquet({sql_path(ledger)}) AS l "
        f"JOIN read_parquet({sql_path(roster)}) AS r USING (line_id) "
        f"WHERE l.eligible AND r.customer_type = 'small_business' AND r.service = 'internet' "
        f"GROUP BY 1 ORDER BY 1").fetchall())
    return {"merchants": merchants, "consolation_krw": money or 0,
            "mean_outage_days": round(float(mean_days), 2) if mean_days is not None else None,
            "merchants_by_outage_days": {str(k): v for k, v in days.items()}}


def outage_part(s: dict) -> dict:
    return {k: s[k] for k in ("roster_lines", "affected_lines", "affected_customers", "eligible_lines",
                              "eligible_customers", "total_credit_krw", "longest_outage_minutes",
                              "fee_basis", "by_service", "by_customer_type", "what_if") if k in s}


def figures(args: argparse.Namespace, timings: dict) -> dict:
    import duckdb

    con = duckdb.connect()
    con.execute(f"SET threads TO {args.threads}")
    out: dict = {
        "computed_at": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "roster": str(args.roster), "seed": args.seed, "bills": str(args.bills),
        "roster_facts": roster_facts(con, args.roster), "runs": timings,
    }
    for key in ("nationwide", "ahyeon", "landline", "landline_special"):
        try:
            s, ledger = summary(args, key)
        except FileNotFoundError:
            out[key] = None  # not run (--only), and no earlier output in the work folder
            continue
        fig = outage_part(s)
        fig["per_kind"] = per_kind(con, ledger, args.roster)
        if key == "nationwide":
            fig["small_business_customers_wired"] = small_business_customers(
                con, ledger, args.roster, ("internet", "landline"))
            fig["landline_kinds"] = landline_kinds(con, ledger, args.roster)
        if key == "ahyeon":
            fig["consolation"] = ahyeon_consolation(con, ledger, args.roster)
            fig["fee_part_krw"] = s["total_credit_krw"] - fig["consolation"]["consolation_krw"]
        if key == "landline_special":
            fig["small_business_customers"] = small_business_customers(con, ledger, args.roster, ("landline",))
        out[key] = fig
    try:
        s, _ = summary(args, "billing")
    except FileNotFoundError:
        out["billing"] = None
        con.close()
        return out
    out["billing"] = {k: s[k] for k in ("roster_lines", "affected_lines", "affected_customers",
                                        "total_charged_krw", "total_owed_krw", "total_cancelled_krw",
                                        "total_refund_krw", "refund_completion_date",
                                        "settlement_completion_date", "by_payment_method") if k in s}
    con.close()
    return out


# ----- output ------------------------------------------------------------------------------------

def eok(krw: float) -> str:
    """Won as 억원 (100 million won), one decimal."""
    return f"{krw / 1e8:,.1f}억원"


def kind(fig: dict, service: str, ctype: str | None = None) -> dict:
    rows = [r for r in fig["per_kind"] if r["service"] == service and (ctype is None or r["customer_type"] == ctype)]
    lines = sum(r["lines"] for r in rows)
    eligible = sum(r["eligible_lines"] for r in rows)
    credit = sum(r["credit_krw"] for r in rows)
    return {"lines": lines, "eligible": eligible, "credit": credit, "mean": credit / eligible if eligible else 0}


def markdown(f: dict) -> str:
    rf = f["roster_facts"]
    n, a, ll, sp, b = f["nationwide"], f["ahyeon"], f["landline"], f["landline_special"], f["billing"]
    lines = [
        f"# ours: {rf['lines']:,}-line roster, seed {f['seed']}, computed {f['computed_at']}",
        "",
        f"roster: {rf['lines']:,} lines, {rf['customers']:,} customers; "
        + ", ".join(f"{k} {v:,}" for k, v in rf["lines_by_service"].items())
        + f"; small businesses {rf['small_business_share_of_wired_lines']:.1%} of wired lines; landline "
        + ", ".join(f"{k} {v:,}" for k, v in rf["landline_by_kind"].items()),
        "",
        "| incident | figure | ours |",
        "|---|---|---|",
    ]

    def row(incident: str, figure: str, value: str) -> None:
        lines.append(f"| {incident} | {figure} | {value} |")

    nid = "2021-10-25 nationwide"
    if n is None:
        row(nid, "(not run)", "")
    else:
        _nationwide(n, row)
    aid = "2018-11-24 Ahyeon"
    if a is None:
        row(aid, "(not run)", "")
    else:
        _ahyeon(a, row)
    lid = "2024-08-10 landline"
    if ll is None or sp is None:
        row(lid, "(not run)", "")
    else:
        _landline(ll, sp, row)
    bid = "2023-09 billing error"
    if b is None:
        row(bid, "(not run)", "")
    else:
        _billing(b, row)
    lines += ["", "| run | wall time |", "|---|---|"]
    lines += [f"| {key} | {t['seconds']:.0f} s |" for key, t in f["runs"].items()]
    return "\n".join(lines) + "\n"


def _nationwide(n: dict, row) -> None:  # noqa: ANN001
    nid = "2021-10-25 nationwide"
    row(nid, "affected lines (mobile + internet + landline)", f"{n['affected_lines']:,}")
    row(nid, "affected customers", f"{n['affected_customers']:,}")
    row(nid, "total credit", f"{n['total_credit_krw']:,} won ({eok(n['total_credit_krw'])})")
    for svc in ("mobile", "internet", "landline"):
        bs = n["by_service"].get(svc, {})
        row(nid, f"{svc}: lines / credit", f"{bs.get('affected_lines', 0):,} / {eok(bs.get('total_credit_krw', 0))}")
    mob = kind(n, "mobile", "individual")
    row(nid, "mean credit, individual mobile line", f"{mob['mean']:,.0f} won")
    ind = [kind(n, s, "individual") for s in ("mobile", "internet", "landline")]
    row(nid, "mean credit, individual line (all services)",
        f"{sum(k['credit'] for k in ind) / max(1, sum(k['eligible'] for k in ind)):,.0f} won")
    sbi = kind(n, "internet", "small_business")
    sbl = kind(n, "landline", "small_business")
    row(nid, "small-business internet lines / mean credit", f"{sbi['eligible']:,} / {sbi['mean']:,.0f} won")
    row(nid, "small-business landline lines / mean credit", f"{sbl['eligible']:,} / {sbl['mean']:,.0f} won")
    row(nid, "small-business customers with internet or landline", f"{n['small_business_customers_wired']:,}")
    sb_total = n["by_customer_type"].get("small_business", {}).get("total_credit_krw", 0)
    row(nid, "small businesses' credit (all their lines)", eok(sb_total))
    for k in ("internet_phone", "pstn"):
        got = [r for r in n.get("landline_kinds", []) if r["kind"] == k]
        row(nid, f"landline, {k}: lines / credit",
            f"{sum(r['eligible_lines'] for r in got):,} / {eok(sum(r['credit_krw'] for r in got))}")


def _ahyeon(a: dict, row) -> None:  # noqa: ANN001
    aid = "2018-11-24 Ahyeon"
    row(aid, "affected lines / customers", f"{a['affected_lines']:,} / {a['affected_customers']:,}")
    row(aid, "eligible lines / customers", f"{a['eligible_lines']:,} / {a['eligible_customers']:,}")
    row(aid, "total (fee part + consolation)", f"{eok(a['total_credit_krw'])} ({a['total_credit_krw']:,} won)")
    row(aid, "fee part (one month)", eok(a["fee_part_krw"]))
    c = a["consolation"]
    row(aid, "merchants paid / consolation", f"{c['merchants']:,} / {eok(c['consolation_krw'])}")
    row(aid, "merchants' mean outage days / by days", f"{c['mean_outage_days']} / {c['merchants_by_outage_days']}")
    for svc in ("mobile", "internet", "iptv", "landline"):
        bs = a["by_service"].get(svc, {})
        k = kind(a, svc)
        fee = k["credit"] - (c["consolation_krw"] if svc == "internet" else 0)
        row(aid, f"{svc}: affected / eligible lines / fee part / mean fee credit",
            f"{bs.get('affected_lines', 0):,} / {k['eligible']:,} / {eok(fee)} / "
            f"{(fee / k['eligible'] if k['eligible'] else 0):,.0f} won")


def _landline(ll: dict, sp: dict, row) -> None:  # noqa: ANN001
    lid = "2024-08-10 landline"
    row(lid, "affected lines / customers", f"{ll['affected_lines']:,} / {ll['affected_customers']:,}")
    row(lid, "kt-terms-2022: eligible / total", f"{ll['eligible_lines']:,} / {ll['total_credit_krw']:,} won")
    for w in ll.get("what_if", []):
        row(lid, f"what-if {w['policy_id']}", f"{w['eligible_lines']:,} lines, {w['total_credit_krw']:,} won")
    row(lid, "special (10x / merchants 1 month): total",
        f"{sp['total_credit_krw']:,} won ({eok(sp['total_credit_krw'])})")
    for ctype in ("individual", "small_business", "enterprise"):
        k = kind(sp, "landline", ctype)
        row(lid, f"special: {ctype} lines / credit / mean",
            f"{k['eligible']:,} / {k['credit']:,} won / {k['mean']:,.0f} won")


def _billing(b: dict, row) -> None:  # noqa: ANN001
    bid = "2023-09 billing error"
    row(bid, "lines (= customers) charged wrongly", f"{b['affected_lines']:,} / {b['affected_customers']:,}")
    for method, pm in sorted(b["by_payment_method"].items()):
        row(bid, f"{method}: lines / charged", f"{pm['affected_lines']:,} / {eok(pm['charged_krw'])}")
    row(bid, "charged at the July amounts / owed (September)",
        f"{eok(b['total_charged_krw'])} / {eok(b['total_owed_krw'])}")
    row(bid, "refunded (check cards) / completed",
        f"{eok(b['total_refund_krw'])} / {b['refund_completion_date']}")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--roster", type=Path, default=BENCH / "roster.parquet",
                   help=f"the full-size roster (default .bench/r{NATIONAL_LINES}/roster.parquet, "
                        "generated when missing)")
    p.add_argument("--bills", type=Path, default=BENCH / "bills.parquet",
                   help=f"its bills, with 2023-07 and 2023-09 (default .bench/r{NATIONAL_LINES}/bills.parquet)")
    p.add_argument("--seed", type=int, default=SEED, help=f"the roster's seed, for its bill items (default {SEED})")
    for which, months in ITEM_MONTHS.items():
        p.add_argument(f"--items-{which}", type=Path, default=None,
                       help=f"bill items of {', '.join(months)} (default: generated into the work folder)")
    p.add_argument("--work-dir", type=Path,
                   default=Path(os.environ.get("KT_REPORTED_DIR", Path(tempfile.gettempdir()) / "kt-reported-figures")),
                   help="bill items and run outputs (default $KT_REPORTED_DIR, else <tmp>/kt-reported-figures)")
    p.add_argument("--only", default=",".join(RUNS), help="comma-separated runs to do (default all)")
    p.add_argument("--reuse", action="store_true", help="run nothing: read the outputs of the last runs")
    p.add_argument("--format", choices=("markdown", "json"), default="markdown")
    p.add_argument("--json-out", type=Path, default=None, help="also write every figure to this JSON file")
    p.add_argument("--threads", type=int, default=2, help="DuckDB threads of the figures read here (default 2)")
    p.add_argument("--nice", type=int, default=19, help="lower this process's priority first (default 19)")
    args = p.parse_args(argv)
    if args.nice:
        os.nice(args.nice)
    default = args.roster == BENCH / "roster.parquet" and args.bills == BENCH / "bills.parquet"
    if default and not (args.roster.exists() and args.bills.exists()) and not args.reuse:
        say(f"generating the national-size roster ({NATIONAL_LINES:,} lines) and its bills into {BENCH}")
        subprocess.run([*kt_cli(), "generate", "--lines", str(NATIONAL_LINES), "--seed", str(SEED), "--out", str(BENCH),
                        "--first-month", "2023-07", "--bill-months", "3"], check=True, stdout=sys.stderr)
    for path in (args.roster, args.bills):
        if not path.exists():
            raise SystemExit(f"reported_figures: {path} does not exist: pass --roster/--bills, or run without "
                             f"them to generate .bench/r{NATIONAL_LINES}/")
    args.work_dir = args.work_dir.resolve()
    if args.work_dir == ROOT or ROOT in args.work_dir.parents:
        raise SystemExit(f"reported_figures: --work-dir {args.work_dir} is inside the checkout: "
                         "choose a folder outside it")
    args.work_dir.mkdir(parents=True, exist_ok=True)
    wanted = [k.strip() for k in args.only.split(",") if k.strip()]
    unknown = sorted(set(wanted) - set(RUNS))
    if unknown:
        raise SystemExit(f"reported_figures: unknown run(s) {unknown}: choose among {', '.join(RUNS)}")
    timings = {}
    for key in RUNS:
        if key in wanted:
            timings[key] = run(args, key)
        else:
            timing = args.work_dir / "out" / key / "timing.json"
            timings[key] = json.loads(timing.read_text()) if timing.exists() else {"seconds": float("nan")}
    result = figures(args, timings)
    if args.json_out:
        args.json_out.write_text(json.dumps(result, ensure_ascii=False, indent=1))
    print(json.dumps(result, ensure_ascii=False, indent=1) if args.format == "json" else markdown(result), end="")
    return 0


if __name__ == "__main__":
    sys.exit(main())
