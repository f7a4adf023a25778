"""One incident analysed: the per-line pass to ``ledger.parquet``, the summary built from it, and
the reconciliation of every account of its money before anything is published.

``analyse`` chooses the engine (DuckDB in process, or Spark) and the kind (outage or billing
error); the engines compute, the summary layer shapes, this module checks and writes.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

import duckdb

from kt_analysis.dbrow import connect, one_row, quote
from kt_analysis.engine.billing import write_billing_ledger
from kt_analysis.engine.claims import ClaimFigures, claim_figures
from kt_analysis.engine.duckdb_engine import (
    PerLine,
    Progress,
    add_fees,
    add_month,
    check_plans,
    months_per_key,
    prepare,
    restoration,
    roster_spellings,
    write_ledger,
)
from kt_analysis.engine.figures import (
    BREAKDOWNS,
    DuckDBQuery,
    Figures,
    incident_figures,
    ledger_figures,
    with_own_policy,
)
from kt_analysis.engine.month import (
    EARLIER_ROWS,
    MONTH_HISTORY_FILE,
    Earlier,
    check_carried,
    history_rows,
    month_figures,
    uses_month,
    write_month_history,
    write_rows,
)
from kt_analysis.engine.spark_engine import analyse_spark
from kt_analysis.errors import InputError, RunError
from kt_analysis.inputs.business_days import calendar_for
from kt_analysis.inputs.claims import open_claims
from kt_analysis.inputs.incident import Incident, catalogue_policies, require_sized
from kt_analysis.inputs.policy import Policy
from kt_analysis.inputs.roster import open_roster, validate_roster
from kt_analysis.rules.credits import across_month
from kt_analysis.rules.impact import incident_months, incident_span_days
from kt_analysis.rules.timeline import credit_days
from kt_analysis.summary.billing import build_billing_summary
from kt_analysis.summary.claims import claims_summary, write_claims
from kt_analysis.summary.model import BillingSummary, OutageSummary, Summary
from kt_analysis.summary.outage import build_summary, write_json

ENGINES = ("duckdb", "spark")


def analyse(
    incident: Incident, out_dir: Path, *, what_if_policies: list[Policy] | None = None,
    progress: Progress | None = None, threads: int | None = None, engine: str = "duckdb",
    spark_master: str | None = None, spark: Any = None, earlier: Earlier | None = None,
    history: Path | None = None,
) -> Summary:
    """Run the per-line pass for ``incident``: writes ``ledger.parquet`` and ``summary.json`` in
    ``out_dir`` and returns the summary. The ledger's credit sum equals the summary's total.

    ``engine``: ``duckdb`` (in process) or ``spark`` (engine/spark_engine.py; ``spark_master`` says where, or
    ``spark`` is an open session to use). ``earlier``: the earlier incidents of the same months, read
    from the output folder's history, whose minutes a policy counting across the calendar month adds
    (None: none; the incident's own minutes only). ``history``: a folder to write this outage's rows
    for the history into (engine/month.py ``history_rows``)."""
    say = progress or (lambda _msg: None)
    if engine not in ENGINES:
        raise InputError("--engine", "", f"unknown engine {engine!r}", f"use one of {', '.join(ENGINES)}")
    require_sized(incident)  # an ongoing window needs an as-of time (--as-of)
    out_dir.mkdir(parents=True, exist_ok=True)
    if incident.kind == "billing_error" and engine != "spark":
        return analyse_billing(incident, out_dir, say=say, threads=threads)
    scratch = None
    if earlier is None and incident.kind == "outage" and uses_month([incident.credit_policy, *(
            what_if_policies if what_if_policies is not None else catalogue_policies(incident))]):
        scratch = write_rows(out_dir / EARLIER_ROWS)  # no history: no earlier minutes
    rows = earlier.rows if earlier is not None else scratch
    try:
        if engine == "spark":
            figures, what_if, prepared = analyse_spark(
                incident, out_dir, what_if_policies=what_if_policies, progress=say, master=spark_master, spark=spark,
                month_rows=rows)
            con = connect(threads)
            try:
                return _publishable(incident, out_dir, con, figures, what_if, prepared, earlier, rows, history)
            finally:
                con.close()
        return _analyse_duckdb(incident, out_dir, what_if_policies, say, threads, earlier, rows, history)
    finally:
        if scratch is not None:
            scratch.unlink(missing_ok=True)


def _analyse_duckdb(incident: Incident, out_dir: Path, what_if_policies: list[Policy] | None, say: Progress,
                    threads: int | None, earlier: Earlier | None, rows: Path | None,
                    history: Path | None) -> Summary:
    con = connect(threads)
    per_line = None
    try:
        say("reading and checking the roster")
        per_line = prepare(incident, con)
        own = roster_spellings(per_line, incident.credit_policy)
        policies = [roster_spellings(per_line, p) for p in
                    (what_if_policies if what_if_policies is not None else catalogue_policies(incident))]
        left_out = {s.policy_id for s in add_fees(per_line, incident, [own, *policies])}
        policies = check_plans(per_line, incident, own, [p for p in policies if p.id not in left_out])
        if rows is not None:
            add_month(per_line, incident, [own, *policies], rows)
        say(f"roster: {per_line.roster_lines:,} lines; computing credits per line")
        ledger = out_dir / "ledger.parquet"
        end = incident.end
        assert isinstance(end, datetime)  # an outage's: its last window's end
        days = credit_days(incident.credit_policy, end.date(), calendar_for(incident.folder))
        write_ledger(per_line, own, ledger, days=days)
        say("comparing policies (what-if)")
        everything, own_at = with_own_policy(own, policies)
        figures, what_if = incident_figures(DuckDBQuery(con), per_line.sql, f"read_parquet({quote(ledger)})",
                                            everything, own_at, dialect="duckdb", roster=per_line.source.path, say=say)
        say("restoration curve")
        per_line.restoration = restoration(per_line, own)
        if rows is not None and across_month(own.eligibility):
            per_line.month = month_figures(DuckDBQuery(con), per_line.sql, f"read_parquet({quote(rows)})", own,
                                           "duckdb")
        return _publishable(incident, out_dir, con, figures, what_if[:len(policies)], per_line, earlier, rows,
                            history)
    finally:
        if per_line is not None:
            per_line.source.close()
        con.close()


def _publishable(incident: Incident, out_dir: Path, con: duckdb.DuckDBPyConnection, figures: Figures,
                 what_if: list[dict[str, Any]], per_line: PerLine, earlier: Earlier | None, rows: Path | None,
                 history: Path | None) -> OutageSummary:
    """The summary of an outage computed by either engine, reconciled, and written with what goes beside
    it (``month_history.parquet`` across the month; the rows for the history when asked)."""
    months = earlier.months if earlier is not None else incident_months(incident)
    ledger = out_dir / "ledger.parquet"
    claims = _claims(incident, con, per_line, ledger)
    summary = build_summary(incident, figures, per_line.roster_lines, what_if, per_line,
                            earlier=earlier.runs if earlier is not None else (), months=months,
                            claims=claims_summary(claims) if claims is not None else None)
    _reconcile(con, ledger, summary, figures.totals())
    if claims is not None:
        write_claims(claims, out_dir)
    if history is not None:
        multi = len(months) > 1
        source = open_roster(incident.roster) if multi else None
        try:
            written = history_rows(con, ledger, incident.credit_policy, months, rows,
                                   months_per_key(per_line, incident) if multi else None,
                                   source.sql if source is not None else None, history)
        finally:
            if source is not None:
                source.close()
        if per_line.month is not None:
            check_carried(incident.id, per_line.month.carried_minutes, written.carried_minutes, NOT_PUBLISHED)
    if per_line.month is not None:
        write_month_history(per_line.month, out_dir / MONTH_HISTORY_FILE)
    write_json(summary, out_dir / "summary.json")
    return summary


def _claims(incident: Incident, con: duckdb.DuckDBPyConnection, per_line: PerLine, ledger: Path) -> ClaimFigures | None:
    """The claims chapter (engine/claims.py), when the policy has claims rules: the incident's claims
    (if any) decided against the ledger just written, and the forecasts."""
    policy = incident.credit_policy
    if policy.claims is None:
        return None
    claims = open_claims(incident.claims, incident.tz) if incident.claims is not None else None
    start = incident.start
    assert isinstance(start, datetime)  # an outage's first window's start
    source = open_roster(incident.roster)
    try:
        return claim_figures(con, roster_spellings(per_line, policy), claims, f"read_parquet({quote(ledger)})",
                             source.sql, per_line.items_sql, start.date(), calendar_for(incident.folder),
                             incident_span_days(incident))
    finally:
        source.close()


# The fix every failed reconciliation names: the inputs were accepted, so the fault is the program's
# or the disk's, and the last good report is still in place.
NOT_PUBLISHED = "nothing was published (the last good report stays); keep the run's failed/ folder and report it"


RECONCILED = (("affected_lines", "lines"), ("eligible_lines", "eligible lines"), ("total_credit_krw", "won"))


def _agree(left_name: str, left: dict[str, Any], right_name: str, right: dict[str, Any],
           keys: tuple[tuple[str, str], ...] = RECONCILED) -> None:
    for key, unit in keys:
        if int(left[key]) != int(right[key]):
            raise RunError(f"reconciliation failed: {key} is {int(left[key]):,} {unit} in {left_name} but "
                           f"{int(right[key]):,} {unit} in {right_name} — {NOT_PUBLISHED}")


def _reconcile(con: duckdb.DuckDBPyConnection, ledger: Path, summary: OutageSummary,
               computed: dict[str, int]) -> None:
    """Independent accounts of the incident's lines agree before anything is published: the
    per-line pass over the roster (the own policy's lines, eligible lines and total, computed in
    the what-if pass), the ledger file read back, the summary's totals, and the sum of each of
    its breakdowns. A mismatch is a :class:`RunError` naming both figures."""
    read_back = ledger_figures(con, ledger)
    _agree("the per-line pass over the roster", computed, "the ledger file read back", read_back)
    totals = {key: getattr(summary, key) for key, _ in RECONCILED}
    _agree("the ledger file read back", read_back, "the summary", totals)
    for by in BREAKDOWNS:
        parts = summary.breakdown(by).values()
        sums = {key: sum(getattr(part, key) for part in parts) for key, _ in RECONCILED}
        _agree("the summary's totals", totals, f"the sum of the summary's by_{by}", sums)


def analyse_billing(incident: Incident, out_dir: Path, *, say: Progress, threads: int | None = None) -> BillingSummary:
    """A billing error: the per-line ledger of charges, reversals and re-charges, and its summary.

    Money is checked line by line before anything is published: what was charged wrongly is
    exactly what is cancelled or refunded, and what is re-charged is exactly the correct bill."""
    con = connect(threads)
    source = None
    try:
        say("reading and checking the roster")
        source = open_roster(incident.roster)
        n = validate_roster(con, source)
        calendar = calendar_for(incident.folder)
        say(f"roster: {n:,} lines; matching bills and settling each line")
        ledger = out_dir / "ledger.parquet"
        plan = write_billing_ledger(con, incident, source.sql, ledger, calendar)
        bad = one_row(con.execute(
            f"SELECT count(*) FILTER (WHERE cancelled_krw + refund_krw <> charged_krw), "
            f"count(*) FILTER (WHERE recharge_krw <> owed_krw), "
            f"coalesce(sum(CAST(cancelled_krw AS DECIMAL(38, 0)) + refund_krw), 0), "
            f"coalesce(sum(CAST(charged_krw AS DECIMAL(38, 0))), 0), "
            f"coalesce(sum(CAST(recharge_krw AS DECIMAL(38, 0))), 0), "
            f"coalesce(sum(CAST(owed_krw AS DECIMAL(38, 0))), 0) "
            f"FROM read_parquet({quote(ledger)})"
        ))
        early = one_row(con.execute(f"SELECT count(*) FROM read_parquet({quote(ledger)}) WHERE recharge_on < settled_on"
                            ))[0]
        if early:
            assert incident.billing is not None  # a billing error's run
            rules = incident.billing.settlement
            raise InputError(rules.path, "methods", f"{early:,} line(s) would be re-charged before their wrong "
                             "charge is reversed", "give re-charge dates on or after the cancellation/refund dates")
        if bad[0] or bad[1]:
            raise RunError(f"money not conserved: {bad[0]:,} line(s) of the ledger reverse another amount than was "
                           f"charged ({int(bad[2]):,} won cancelled or refunded, {int(bad[3]):,} won charged), "
                           f"{bad[1]:,} re-charge another amount than is owed ({int(bad[4]):,} won re-charged, "
                           f"{int(bad[5]):,} won owed) — {NOT_PUBLISHED}")
        say("summarising")
        summary = build_billing_summary(incident, con, ledger, n, plan)
        if summary.affected_lines == 0:
            say("no line matches the error's payment methods and bill months")
        _reconcile_billing(con, ledger, summary, plan)
        write_json(summary, out_dir / "summary.json")
        return summary
    finally:
        if source is not None:
            source.close()
        con.close()


BILLING_RECONCILED = (("affected_lines", "lines"), ("charged_krw", "won charged"), ("owed_krw", "won owed"),
                      ("cancelled_krw", "won cancelled"), ("refund_krw", "won refunded"),
                      ("recharge_krw", "won re-charged"))


def _reconcile_billing(con: duckdb.DuckDBPyConnection, ledger: Path, summary: BillingSummary,
                       plan: dict[str, Any]) -> None:
    """A billing error's money is conserved and every account of it agrees: the pass over roster
    and bills (lines, won charged and owed per payment method), the ledger file read back, the
    summary's totals and the sum of each of its breakdowns. In the summary what was cancelled or
    refunded is what was charged, and what is re-charged is what is owed."""
    keys = BILLING_RECONCILED
    totals = {"affected_lines": summary.affected_lines, "charged_krw": summary.total_charged_krw,
              "owed_krw": summary.total_owed_krw, "cancelled_krw": summary.total_cancelled_krw,
              "refund_krw": summary.total_refund_krw, "recharge_krw": summary.total_recharge_krw}
    reversed_krw = int(totals["cancelled_krw"]) + int(totals["refund_krw"])
    if reversed_krw != totals["charged_krw"] or totals["recharge_krw"] != totals["owed_krw"]:
        raise RunError(f"money not conserved: the summary reverses {reversed_krw:,} won (cancelled "
                       f"{totals['cancelled_krw']:,} + refunded {totals['refund_krw']:,}) of "
                       f"{totals['charged_krw']:,} won charged, and re-charges {totals['recharge_krw']:,} won of "
                       f"{totals['owed_krw']:,} won owed — {NOT_PUBLISHED}")
    computed = {"affected_lines": sum(int(p["lines"]) for p in plan.values()),
                "charged_krw": sum(int(p["charged_krw"]) for p in plan.values()),
                "owed_krw": sum(int(p["owed_krw"]) for p in plan.values())}
    row = one_row(con.execute(
        "SELECT count(*), " + ", ".join(f"coalesce(sum(CAST({k} AS DECIMAL(38, 0))), 0)" for k, _ in keys[1:])
        + f" FROM read_parquet({quote(ledger)})"))
    read_back = {k: int(v) for (k, _), v in zip(keys, row, strict=True)}
    _agree("the pass over roster and bills", computed, "the ledger file read back", read_back, keys[:3])
    _agree("the ledger file read back", read_back, "the summary", totals, keys)
    methods = [m.to_dict() for m in summary.by_payment_method.values()]
    _agree("the summary's totals", totals, "the sum of the summary's by_payment_method",
           {k: sum(int(m[k]) for m in methods) for k, _ in keys}, keys)
    shared = (keys[0], keys[1], keys[4])  # lines, charged, refunded
    for by in ("service", "region", "customer_type"):
        parts = [p.to_dict() for p in summary.breakdown(by).values()]
        _agree("the summary's totals", totals, f"the sum of the summary's by_{by}",
               {k: sum(int(p[k]) for p in parts) for k, _ in shared}, shared)


__all__ = ["ENGINES", "NOT_PUBLISHED", "analyse", "analyse_billing"]
