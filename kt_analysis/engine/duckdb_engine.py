"""The per-line pass on DuckDB: the roster matched to the incident and joined to its exposure,
and the ledger written from it.

The per-line relation is one streaming DuckDB query over the roster joined to the (small)
exposure table; the ledger goes straight to Parquet and never through pandas. The summary's
figures come from the same relation (:func:`kt_analysis.engine.figures.incident_figures`).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd

from kt_analysis.dbrow import quote
from kt_analysis.engine.dialect import render, render_policy
from kt_analysis.engine.fees import Skipped, bases, check, fees_sql, with_fees
from kt_analysis.engine.figures import RESTORATION_TABLE, DuckDBQuery, restoration_curve
from kt_analysis.engine.month import MonthFigures, month_lines_sql, with_month
from kt_analysis.errors import InputError, InputErrors
from kt_analysis.inputs.bill_items import open_bill_items
from kt_analysis.inputs.incident import Incident
from kt_analysis.inputs.names import did_you_mean, normalize
from kt_analysis.inputs.policy import (
    FeeBasis,
    Policy,
    for_incident,
    unmatched_plans,
    with_cause,
    with_roster_plans,
    with_roster_spellings,
)
from kt_analysis.inputs.roster import RosterSource, open_roster, validate_roster
from kt_analysis.rules.credits import MONTH_TOTAL, across_month, compile_policy, month_thresholds
from kt_analysis.rules.impact import (
    EXPOSURE_COLUMNS,
    Matches,
    check_matches,
    exposure_months,
    exposure_table,
    key_columns,
    match_windows,
)
from kt_analysis.rules.restoration import RestorationPlan, restoration_plan
from kt_analysis.rules.timeline import credit_on

# The ledger holds what the incident decides for each line: who (line and customer), how long it
# was out, whether it is owed a credit and why, the rule, the credit and the day it lands. The
# roster's attributes (service, region, facility, customer type, payment method, bill day, fee)
# stay in the roster: a reader joins them on line_id when it needs them (ROSTER_ATTRIBUTES,
# kt_analysis.report.view.IncidentView.lines). Copying them into every ledger row took half of
# the per-line pass's time at 35M lines and nothing in the summary needs them from the ledger.
LEDGER_COLUMNS = (
    "line_id", "customer_id", "outage_start", "outage_end", "outage_minutes",
    "longest_continuous_minutes", "monthly_cumulative_minutes", "outage_days",
    "eligible", "eligibility_reason", "rule", "credit_krw", "credit_on",
)
DECISIONS = ("eligible", "eligibility_reason", "rule", "credit_krw", "credit_on")
# Minutes and days are 32-bit in the ledger (92 days are 132,480 minutes); money stays int64.
# (Parquet writes them faster: 1 s less at 35M lines for the four.)
MINUTE_COLUMNS = ("outage_minutes", "longest_continuous_minutes", "monthly_cumulative_minutes", "outage_days")


def ledger_select(month_total: bool = False) -> str:
    """The ledger's columns before the decisions, as the per-line relation gives them (both engines).

    ``month_total``: the policy counts across the calendar month, and ``monthly_cumulative_minutes``
    is the line's month total with the earlier incidents' minutes (what its eligibility read)."""
    def source(c: str) -> str:
        return MONTH_TOTAL if month_total and c == "monthly_cumulative_minutes" else c
    return ", ".join(f"CAST({source(c)} AS INTEGER) AS {c}" if c in MINUTE_COLUMNS else c
                     for c in LEDGER_COLUMNS if c not in DECISIONS)
ROSTER_ATTRIBUTES = (
    "service", "region", "facility_id", "customer_type", "payment_method", "bill_cycle_day", "monthly_fee_krw",
)

Progress = Callable[[str], None]


@dataclass
class PerLine:
    """The roster joined to the incident's exposure: the relation every rule reads."""

    con: duckdb.DuckDBPyConnection
    source: RosterSource
    roster_lines: int
    keys: tuple[str, ...]
    lookup: str | None = None  # exposure as expressions (few distinct exposures), or None: a join
    exposure: pd.DataFrame | None = None  # one row per key reached by a window (small)
    reach: list[dict[str, Any]] | None = None  # per window: the lines and customers it reached
    unmatched: list[dict[str, Any]] | None = None  # names no roster line has (allowed by the incident)
    regions: list[str] | None = None  # the roster's distinct regions, when a policy names regions
    plans: list[str | None] | None = None  # the roster's distinct plans, when a policy excludes plans
    incident_month: str = ""  # YYYY-MM the incident starts in: a fee basis relative to it is resolved so
    incident_cause: str = "unknown"  # what the incident came from: a policy may pay below its thresholds for it
    fees: str | None = None  # the lines' fee bases from their bill items (engine/fees.py), when a policy needs them
    fee_bases: tuple[FeeBasis, ...] = ()
    items_sql: str | None = None  # the checked bill items, typed (when a policy computes on bills)
    skipped: tuple[Skipped, ...] = ()  # what-if policies left out (their fee basis cannot be computed)
    key_frame: pd.DataFrame | None = None  # the roster's distinct keys (rules.impact.roster_keys)
    matches: Matches | None = None  # which keys each window reaches
    # Across the month (engine/month.py): the per-line month columns' relation, the thresholds it
    # has a column for, and the engine's month figures for the summary.
    month_lines: str | None = None
    month_thresholds: tuple[tuple[int, bool], ...] = ()
    month: MonthFigures | None = None
    # What the own policy would owe had service come back at other times (rules/restoration.py): the
    # plan (per key and point, registered as RESTORATION_TABLE), and the curve the engine computed from
    # it (summary.json's restoration_curve; None: the policy counts across the month, or it overflows).
    restoration_plan: RestorationPlan | None = None
    restoration: dict[str, Any] | None = None

    @property
    def exposed(self) -> str:
        """The roster joined to the exposure."""
        if self.lookup is not None:
            return self.lookup
        using = ", ".join(self.keys)
        return f"(SELECT * FROM {self.source.sql} AS r JOIN exposure AS e USING ({using}))"

    @property
    def sql(self) -> str:
        """The per-line relation every rule reads: the exposed lines, with their fee bases when a
        policy computes on bills."""
        lines = self.exposed if self.fees is None else with_fees(self.exposed, list(self.fee_bases), self.fees)
        if self.month_lines is not None:
            lines = with_month(lines, self.month_lines, list(self.month_thresholds))
        return lines

    @property
    def keeps_order(self) -> bool:
        """A scan, a filter and a projection keep the roster's order on every thread; a hash join does not."""
        return self.lookup is not None and self.fees is None and self.month_lines is None


MAX_LOOKUP_GROUPS = 32
MAX_LOOKUP_KEYS = 256


def _literal(value: Any) -> str:
    if isinstance(value, str):
        return "'" + value.replace("'", "''") + "'"
    if isinstance(value, pd.Timestamp):
        return f"TIMESTAMP '{value.isoformat(sep=' ')}'"
    return f"CAST({int(value)} AS BIGINT)"


def exposure_lookup(source_sql: str, exposure: pd.DataFrame, keys: tuple[str, ...]) -> str | None:
    """The exposure joined by expressions instead of a hash join, when lines share few exposures.

    A nationwide or regional incident has a handful of distinct exposures (one per window set):
    each line's group is found with a CASE over its key values and the figures are read from
    constant lists. The query is then a scan, a filter and a projection: it runs on every core and
    keeps the roster's row order, so the ledger is byte-identical without a sort.
    """
    if exposure.empty:
        return None
    groups = list(exposure.groupby(list(EXPOSURE_COLUMNS), sort=True, dropna=False))
    if len(groups) > MAX_LOOKUP_GROUPS:
        return None
    whens: list[str] = []
    values: dict[str, list[str]] = {c: [] for c in EXPOSURE_COLUMNS}
    for number, (figures, frame) in enumerate(groups, start=1):
        if len(frame) > MAX_LOOKUP_KEYS:
            return None
        if len(keys) == 1:
            cond = f"{keys[0]} IN ({', '.join(_literal(v) for v in frame[keys[0]])})"
        else:
            cond = " OR ".join(
                "(" + " AND ".join(f"{k} = {_literal(v)}" for k, v in zip(keys, row, strict=True)) + ")"
                for row in frame[list(keys)].itertuples(index=False, name=None)
            )
        whens.append(f"WHEN {cond} THEN {number}")
        for column, value in zip(EXPOSURE_COLUMNS, figures, strict=True):
            values[column].append(_literal(value))
    columns = ", ".join(f"list_extract([{', '.join(v)}], _group) AS {c}" for c, v in values.items())
    return (f"(SELECT * EXCLUDE (_group), {columns} FROM "
            f"(SELECT *, CASE {' '.join(whens)} END AS _group FROM {source_sql}) WHERE _group IS NOT NULL)")


def prepare(incident: Incident, con: duckdb.DuckDBPyConnection, *, validate: bool = True) -> PerLine:
    """Open and validate the roster, match the incident's names to it, compute the exposure per
    key, register it in ``con``.

    A region, facility or service the incident names that no roster line has, and a window that
    reaches no line, are refused here (unless the incident allows them): they would otherwise
    drop lines from every total without a word. So is a plan its policy excludes that no roster
    line has (:func:`check_plans`): it would pay the lines it meant to leave out."""
    source = open_roster(incident.roster)
    try:
        n = validate_roster(con, source) if validate else -1
        keys = key_columns(incident.windows)
        key_frame = roster_keys(con, source.sql, keys)
        matches = match_windows(incident, key_frame)
        check_matches(incident, matches, incident._rel(incident.roster))
        reach = window_reach(con, source.sql, incident, key_frame, matches)
    except BaseException:
        source.close()  # a CP949 roster's UTF-8 copy is as large as the roster itself
        raise
    exposure = exposure_table(incident, key_frame, matches)
    con.register("exposure", exposure)
    lookup = exposure_lookup(source.sql, exposure, keys)
    # the thresholds are the policy's as the engine applies it: a cause paying below them pays every line
    plan = restoration_plan(incident, key_frame, matches, with_cause(incident.credit_policy, incident.cause))
    if plan is not None:
        con.register(RESTORATION_TABLE, plan.exposure)
    start = incident.start
    per_line = PerLine(con=con, source=source, roster_lines=n, keys=keys, lookup=lookup, exposure=exposure,
                       reach=reach, unmatched=_unmatched_rows(matches, incident), incident_month=f"{start:%Y-%m}",
                       incident_cause=incident.cause,
                       key_frame=key_frame, matches=matches, restoration_plan=plan)
    try:
        check_plans(per_line, incident, incident.credit_policy, [])  # its policy's plan names, as its own names
    except BaseException:
        source.close()
        raise
    return per_line


def add_fees(per_line: PerLine, incident: Incident, policies: list[Policy]) -> list[Skipped]:
    """Give the per-line relation the fee bases ``policies`` compute on (from the incident's bill
    items, checked: every line a policy could credit has its bills). Returns the what-if policies
    left out, with the reason; the incident's own policy is refused instead (InputError)."""
    found = bases(policies)
    if not found:
        return []
    own = next(p for p in policies if p.id == incident.credit_policy.id)
    if incident.bill_items is None:
        per_line.skipped += tuple(check(per_line.con, per_line.sql, policies, None, own))
        return list(per_line.skipped)
    items = open_bill_items(per_line.con, incident.bill_items)
    per_line.items_sql = items.sql
    # Summed once into a table: the check, the ledger and the what-if each read the lines with their
    # fees, and a view would aggregate the items again for every one of them.
    per_line.con.execute(f"CREATE OR REPLACE TEMP TABLE line_fees AS SELECT * FROM {fees_sql(found, items.sql)}")
    per_line.fees = "line_fees"
    per_line.fee_bases = tuple(found)
    per_line.skipped += tuple(check(per_line.con, per_line.sql, policies, incident._rel(incident.bill_items), own))
    return list(per_line.skipped)


def months_per_key(per_line: PerLine, incident: Incident) -> pd.DataFrame:
    """The exposure per key and calendar month (small: the keys reached times their months)."""
    assert per_line.key_frame is not None and per_line.matches is not None, "prepare() sets them"
    return exposure_months(incident, per_line.key_frame, per_line.matches)


def add_month(per_line: PerLine, incident: Incident, policies: list[Policy], rows: Path) -> bool:
    """Give the per-line relation the month columns that the policies counting across the calendar
    month read (engine/month.py), from the earlier incidents' ``line_minutes`` rows (a Parquet file,
    possibly empty). False, and nothing changed, when no policy counts across the month."""
    thresholds = month_thresholds(policies)
    if not thresholds:
        return False
    per_line.con.register("exposure_months", months_per_key(per_line, incident))
    per_line.month_lines = month_lines_sql(per_line.exposed, per_line.keys, "exposure_months",
                                           f"read_parquet({quote(rows)})", thresholds)
    per_line.month_thresholds = tuple(thresholds)
    return True


def roster_spellings(per_line: PerLine, policy: Policy) -> Policy:
    """``policy`` with its override regions and excluded plans matched to the roster's spellings (each
    read once), a fee basis relative to the incident (the months before it) resolved to fixed months,
    and the lines below its thresholds paid on claim when the incident's cause calls for it
    (``with_cause``). Excluded plans the roster does not have are refused by :func:`check_plans`."""
    policy = with_cause(policy, per_line.incident_cause)
    if per_line.incident_month:
        policy = for_incident(policy, per_line.incident_month)
    if policy.exclude_plans and per_line.source.has("plan"):
        policy = with_roster_plans(policy, roster_plans(per_line))
    if not any(o.when.regions for o in policy.overrides):
        return policy
    if per_line.regions is None:
        per_line.regions = [r for (r,) in per_line.con.execute(
            f"SELECT DISTINCT region FROM {per_line.source.sql}").fetchall()]
    return with_roster_spellings(policy, per_line.regions)


def roster_plans(per_line: PerLine) -> list[str | None]:
    """The roster's distinct plans (read once); empty when the roster has no ``plan`` column."""
    if not per_line.source.has("plan"):
        return []
    if per_line.plans is None:
        per_line.plans = [p for (p,) in per_line.con.execute(
            f"SELECT DISTINCT plan FROM {per_line.source.sql}").fetchall()]
    return per_line.plans


def check_plans(per_line: PerLine, incident: Incident, own: Policy, policies: list[Policy]) -> list[Policy]:
    """Refuse the incident's own policy, or leave out a what-if policy (``per_line.skipped``, with the
    reason), that excludes plans the roster cannot tell: a plan no roster line has (after Unicode NFC
    and trimming, as region names), or any plan when the roster has no ``plan`` column. A name that
    matches nothing would pay the lines it meant to leave out, without a word. Returns ``policies``
    without those left out."""
    kept = []
    for is_own, p in ((True, own), *((False, q) for q in policies)):  # the catalogue may hold ``own`` itself
        problem = _plan_problem(per_line, incident, p)
        if problem is None:
            if not is_own:
                kept.append(p)
            continue
        errors, reason = problem
        if is_own:
            raise errors[0] if len(errors) == 1 else InputErrors(errors)
        per_line.skipped += (Skipped(p.id, p.title, reason),)
    return kept


def _plan_problem(per_line: PerLine, incident: Incident, policy: Policy) -> tuple[list[InputError], str] | None:
    """Why the roster cannot tell ``policy``'s excluded plans (the refusals, and the what-if's Korean
    reason), or None: it excludes none, or the roster has every one."""
    if not policy.exclude_plans:
        return None
    where = incident._rel(Path(policy.path)) if policy.path else policy.id
    roster = incident._rel(incident.roster)
    if not per_line.source.has("plan"):
        return ([InputError(where, "exclude_plans", f"names plans, but the roster {roster} has no plan column",
                            "add the lines' plan (text) to the roster as a column named plan, or remove "
                            "exclude_plans from the policy")],
                "명부에 요금제(plan) 열이 없어 보상 제외 요금제를 가릴 수 없습니다")
    missing = unmatched_plans(policy, roster_plans(per_line))
    if not missing:
        return None
    known = sorted({normalize(v) for v in roster_plans(per_line) if v is not None})
    listed = "the roster's plans are"
    return ([InputError(where, f"exclude_plans[{i}]", f"`{name}`: no line of the roster {roster} has this plan",
                        f"{did_you_mean(name, known, listed=listed, tail='')} (plan names match after Unicode NFC "
                        "and trimming spaces; letter case counts)") for i, name in missing],
            "명부에 없는 요금제를 제외합니다: " + ", ".join(name for _, name in missing))


def roster_keys(con: duckdb.DuckDBPyConnection, source_sql: str, keys: tuple[str, ...]) -> pd.DataFrame:
    """The roster's distinct key values with their line counts (a few thousand rows at most)."""
    cols = ", ".join(keys)
    return con.execute(
        f"SELECT {cols}, count(*) AS lines FROM {source_sql} GROUP BY ALL ORDER BY {cols}"
    ).df()


def _unmatched_rows(matches: Matches, incident: Incident) -> list[dict[str, Any]]:
    return [{"column": r["column"], "value": r["value"],
             "at": [incident._rel(Path(o.partition(": ")[0])) + ": " + o.partition(": ")[2] for o in r["origins"]],
             "fix": r["fix"]} for r in matches.unmatched]


def window_reach(con: duckdb.DuckDBPyConnection, source_sql: str, incident: Incident, keys: pd.DataFrame,
                 matches: Matches) -> list[dict[str, Any]]:
    """Per window: where it was written, its span, and the lines and customers it reached.

    Lines add up from the key counts. Customers are counted in one join for the windows that
    reach part of the affected lines; a window that reaches all of them (a nationwide outage)
    has the incident's own customer count, filled in by the summary (``customers: None`` here)."""
    counts = keys["lines"].to_numpy()
    union: set[int] = set()
    for hits in matches.per_window:
        union.update(hits.tolist())
    # Windows with the same reach (a facility's services restored at several times, a windows
    # file repeating a site) share one count: customers are counted once per distinct reach.
    groups: dict[tuple[int, ...], int] = {}
    for hits in matches.per_window:
        if 0 < len(hits) < len(union):
            groups.setdefault(tuple(hits.tolist()), len(groups))
    customers: dict[int, int] = {}
    if groups:
        cols = [c for c in keys.columns if c != "lines"]
        pairs = pd.concat(
            [keys.iloc[list(hits)][cols].assign(_group=number) for hits, number in groups.items()], ignore_index=True
        )
        for c in cols:
            pairs[c] = pairs[c].astype(object)
        con.register("window_keys", pairs)
        try:
            customers = dict(con.execute(
                f"SELECT _group, count(DISTINCT customer_id) FROM {source_sql} JOIN window_keys "
                f"USING ({', '.join(cols)}) GROUP BY _group"
            ).fetchall())
        finally:
            con.unregister("window_keys")
    rows = []
    for window, hits in zip(incident.windows, matches.per_window, strict=True):
        lines = int(counts[hits].sum()) if len(hits) else 0
        origin_path, _, origin_where = window.origin.partition(": ")
        rows.append({
            "at": incident._rel(Path(origin_path)) + ": " + origin_where,
            "start": window.start.isoformat(timespec="minutes"),
            "end": window.end.isoformat(timespec="minutes"),
            "where": window.where,
            "lines": lines,
            "customers": 0 if not lines else (
                int(customers.get(groups[key], 0)) if (key := tuple(hits.tolist())) in groups else None),
        })
    return rows


def write_ledger(per_line: PerLine, policy: Policy, path: Path, *, days: list[date] | None = None) -> None:
    """The per-line ledger, straight from DuckDB to Parquet (written next to ``path``, then moved).

    ``days``: the day a credit lands per bill cycle day (rules/timeline.py; None: paid on request)."""
    p = render_policy(compile_policy(policy), "duckdb")
    landing = render(credit_on(days), "duckdb")
    select = ledger_select(across_month(policy.eligibility))
    tmp = path.with_name(path.name + ".partial")
    # The ledger must be byte-identical run after run. With the exposure as expressions the query
    # keeps the roster's order on every thread. Through a hash join it does not, even on one thread:
    # the optimiser may build on the lines and probe with the other side (the fee bases' table, in
    # GROUP BY order, which varies), so the ledger is then sorted by line_id, as Spark's is.
    # Measured at 35M lines on 2 cores: scan order 21 s and < 1 GB; ORDER BY line_id 39 s and 8 GB.
    # Reason and rule as DuckDB ENUMs of their possible values: Parquet stores them as the same
    # strings, and DuckDB builds them without a string per line (1.4 s less at 35M lines).
    reason = f"CAST({p.reason} AS ENUM({', '.join(map(quote, p.reasons))}))"
    rule = f"CAST({p.rule} AS ENUM({', '.join(map(quote, p.rules))}))"
    query = (
        f"COPY (SELECT {select}, {p.eligible} AS eligible, {reason} AS eligibility_reason, "
        f"{rule} AS rule, {p.credit_krw} AS credit_krw, "
        f"CASE WHEN {p.credit_krw} > 0 THEN {landing} END AS credit_on FROM {per_line.sql}"
        f"{'' if per_line.keeps_order else ' ORDER BY line_id'}) "
        f"TO {quote(tmp)} (FORMAT parquet, COMPRESSION zstd, ROW_GROUP_SIZE 1000000)"
    )
    try:
        per_line.con.execute(query)
    except duckdb.OutOfRangeException as exc:
        raise InputError(policy.path, "credit", f"a credit overflows 64-bit integers ({exc})",
                         "check the roster's fees and the policy's multipliers") from None
    os.replace(tmp, path)


def restoration(per_line: PerLine, policy: Policy) -> dict[str, Any] | None:
    """The restoration curve of ``policy`` (the incident's own, as the ledger applies it) from the
    per-line relation (:func:`kt_analysis.engine.figures.restoration_curve`, as the Spark engine
    computes it); None without a plan, or when a credit or total beyond the actual span overflows."""
    plan = per_line.restoration_plan
    if plan is None:
        return None
    try:
        return restoration_curve(DuckDBQuery(per_line.con), per_line.sql, plan, policy, per_line.keys,
                                 dialect="duckdb")
    except duckdb.OutOfRangeException:
        return None
