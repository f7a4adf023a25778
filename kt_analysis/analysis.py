"""One incident analysed: the per-line pass to ``ledger.parquet`` and the summary built from it.

The per-line pass is one streaming DuckDB query over the roster joined to the (small) exposure
table; the ledger goes straight to Parquet and never through pandas. Aggregates come back as
small pandas frames or plain dicts.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd

from . import __version__
from .business_days import BusinessCalendar
from .credits import compile_policy
from .dbrow import connect, one_row, records
from .errors import InputError, RunError
from .impact import EXPOSURE_COLUMNS, Matches, check_matches, exposure_table, key_columns, match_windows
from .incident import Incident
from .paths import calendar_overrides
from .policy import (
    CUSTOMER_TYPES,
    PAYMENT_METHODS,
    SERVICES,
    Policy,
    load_policy,
    policy_catalogue,
    with_roster_spellings,
)
from .roster import RosterSource, open_roster, validate_roster
from .timeline import claim_window_closes, credit_days, credit_on_sql

INT64_MAX = 2**63 - 1
BREAKDOWNS = ("service", "region", "customer_type", "payment_method")
LEDGER_COLUMNS = (
    "line_id", "customer_id", "service", "region", "facility_id", "customer_type",
    "payment_method", "bill_cycle_day", "monthly_fee_krw", "outage_start", "outage_end",
    "outage_minutes", "longest_continuous_minutes", "monthly_cumulative_minutes", "outage_days",
    "eligible", "eligibility_reason", "rule", "credit_krw", "credit_on",
)

Progress = Callable[[str], None]



def _q(text: str | Path) -> str:
    return "'" + str(text).replace("'", "''") + "'"


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

    @property
    def sql(self) -> str:
        if self.lookup is not None:
            return self.lookup
        using = ", ".join(self.keys)
        return f"(SELECT * FROM {self.source.sql} AS r JOIN exposure AS e USING ({using}))"

    @property
    def keeps_order(self) -> bool:
        """A scan, a filter and a projection keep the roster's order on every thread; a hash join does not."""
        return self.lookup is not None


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
    drop lines from every total without a word."""
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
    return PerLine(con=con, source=source, roster_lines=n, keys=keys, lookup=lookup, exposure=exposure,
                   reach=reach, unmatched=_unmatched_rows(matches, incident))


def roster_spellings(per_line: PerLine, policy: Policy) -> Policy:
    """``policy`` with its override regions matched to the roster's spellings (read once)."""
    if not any(o.when.regions for o in policy.overrides):
        return policy
    if per_line.regions is None:
        per_line.regions = [r for (r,) in per_line.con.execute(
            f"SELECT DISTINCT region FROM {per_line.source.sql}").fetchall()]
    return with_roster_spellings(policy, per_line.regions)


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


def write_ledger(per_line: PerLine, policy: Policy, path: Path, *, credit_on: str = "CAST(NULL AS DATE)") -> None:
    """The per-line ledger, straight from DuckDB to Parquet (written next to ``path``, then moved).

    ``credit_on`` is the SQL giving the day each line's credit lands (see timeline.py)."""
    p = compile_policy(policy)
    cols = [c for c in LEDGER_COLUMNS
            if c not in ("eligible", "eligibility_reason", "rule", "credit_krw", "credit_on")]
    select = ", ".join(cols)
    tmp = path.with_name(path.name + ".partial")
    # The ledger must be byte-identical run after run. With the exposure as expressions the query
    # keeps the roster's order on every thread; through a hash join it does not, so that case runs
    # on one thread. Measured at 35M lines on 2 cores: one thread 21 s and < 1 GB; ORDER BY line_id
    # 39 s and 8 GB; two threads through the join 11 s (not repeatable).
    query = (
        f"COPY (SELECT {select}, {p.eligible} AS eligible, {p.reason} AS eligibility_reason, "
        f"{p.rule} AS rule, {p.credit_krw} AS credit_krw, "
        f"CASE WHEN {p.credit_krw} > 0 THEN {credit_on} END AS credit_on FROM {per_line.sql}) "
        f"TO {_q(tmp)} (FORMAT parquet, COMPRESSION zstd, ROW_GROUP_SIZE 1000000)"
    )
    threads = one_row(per_line.con.execute("SELECT current_setting('threads')"))[0]
    try:
        if not per_line.keeps_order:
            per_line.con.execute("SET threads = 1")
        per_line.con.execute(query)
    except duckdb.OutOfRangeException as exc:
        raise InputError(policy.path, "credit", f"a credit overflows 64-bit integers ({exc})",
                         "check the roster's fees and the policy's multipliers") from None
    finally:
        per_line.con.execute(f"SET threads = {int(threads)}")
    os.replace(tmp, path)


def what_if(per_line: PerLine, policies: list[Policy]) -> list[dict[str, Any]]:
    """The incident's lines under every policy, side by side, in one pass over the roster."""
    if not policies:
        return []
    row = one_row(per_line.con.execute(what_if_sql(policies, per_line.sql)))
    return what_if_rows(row, policies, per_line.source.path)


def with_own_policy(own: Policy, policies: list[Policy]) -> tuple[list[Policy], int]:
    """The what-if pass's policies with the incident's own policy among them, and its position.

    The own policy is appended when the what-if list lacks it (it is then computed, not
    published): the pass's figures for it are what the ledger is reconciled with."""
    for i, pol in enumerate(policies):
        if pol is own or pol == own:  # the same rules (an edited copy with the same id is another policy)
            return policies, i
    return [*policies, own], len(policies)


def pass_figures(row: tuple, policies: list[Policy], own_at: int, published: int,
                 roster: str | Path) -> tuple[list[dict[str, Any]], dict[str, int]]:
    """The what-if pass's row → (the published what-if rows, the own policy's lines, eligible
    lines and total credit as the per-line pass computed them)."""
    rows = what_if_rows(row, policies, roster)
    own = {"affected_lines": int(row[-1] or 0), "eligible_lines": rows[own_at]["eligible_lines"],
           "total_credit_krw": rows[own_at]["total_credit_krw"]}
    return rows[:published], own


def what_if_pass(per_line: PerLine, own: Policy,
                 policies: list[Policy]) -> tuple[list[dict[str, Any]], dict[str, int]]:
    """:func:`what_if` for ``policies`` and, in the same pass over the roster, the incident's own
    policy's totals (see :func:`pass_figures`)."""
    everything, own_at = with_own_policy(own, policies)
    row = one_row(per_line.con.execute(what_if_sql(everything, per_line.sql)))
    return pass_figures(row, everything, own_at, len(policies), per_line.source.path)


def what_if_sql(policies: list[Policy], src: str, dialect: str = "duckdb") -> str:
    """One query: eligible lines and the exact total under each policy (DuckDB sums BIGINT into
    HUGEINT; Spark is asked for DECIMAL(38, 0)), so an int64 overflow is reported, not wrapped;
    the lines the pass reached come last."""
    selects = []
    for i, pol in enumerate(policies):
        p = compile_policy(pol, dialect)
        total = f"sum({p.credit_krw})" if dialect == "duckdb" else f"sum(CAST({p.credit_krw} AS DECIMAL(38, 0)))"
        selects.append(f"count(*) FILTER (WHERE {p.eligible}) AS e{i}, {total} AS c{i}")
    selects.append("count(*) AS lines")
    return f"SELECT {', '.join(selects)} FROM {src}"


def what_if_rows(row: tuple, policies: list[Policy], roster: str | Path) -> list[dict[str, Any]]:
    out = []
    for i, pol in enumerate(policies):
        total = int(row[2 * i + 1] or 0)
        _check_int64(total, f"the total under {pol.id}", roster)
        out.append({"policy_id": pol.id, "title": pol.title, "eligible_lines": int(row[2 * i]),
                    "total_credit_krw": total})
    return out


def _check_int64(value: int, what: str, roster: str | Path = "roster") -> None:
    if value > INT64_MAX:
        raise InputError(str(roster), "monthly_fee_krw", f"{what} ({value:,} won) overflows int64",
                         "check the roster's fees for unit mistakes")


def catalogue_policies(incident: Incident) -> list[Policy]:
    """Every policy in the project's catalogue (the incident's own first)."""
    policies = [incident.credit_policy]
    for path in policy_catalogue(incident.root):
        if Path(path).resolve() != Path(incident.credit_policy.path).resolve():
            policies.append(load_policy(path))
    return policies


def breakdown(con: duckdb.DuckDBPyConnection, ledger: Path, by: str) -> pd.DataFrame:
    """Affected and eligible lines, customers and credit by one column of the ledger."""
    return con.execute(
        f"SELECT {by}, count(*) AS affected_lines, count(DISTINCT customer_id) AS affected_customers, "
        f"count(*) FILTER (WHERE eligible) AS eligible_lines, "
        f"CAST(sum(credit_krw) AS BIGINT) AS total_credit_krw "
        f"FROM read_parquet({_q(ledger)}) GROUP BY {by} ORDER BY affected_lines DESC, {by}"
    ).df()


CODES = {"service": SERVICES, "customer_type": CUSTOMER_TYPES, "payment_method": PAYMENT_METHODS}


ELIGIBLE_BIT = 62


def customer_counts(con: duckdb.DuckDBPyConnection, ledger: Path) -> dict[str, Any]:
    """Distinct customers — in all, eligible, and per value of each breakdown — in one pass.

    ``count(DISTINCT customer_id)`` per breakdown builds a hash table per group and costs seconds
    per breakdown at 35M lines. Instead every line's values are packed into bits of one BIGINT
    (service, customer type, payment method, region, eligible), OR-ed per customer, and the few
    distinct masks are counted: each customer is then counted once per value it has.
    """
    return count_customers(DuckDBQuery(con), f"read_parquet({_q(ledger)})")


def count_customers(query: Query, src: str) -> dict[str, Any]:
    """:func:`customer_counts` over ``src`` on any engine (the SQL is the same in DuckDB and Spark)."""
    regions = [r[0] for r in query.rows(f"SELECT DISTINCT region FROM {src} ORDER BY region")]
    parts, layout, bit = [], [], 0
    for column, codes in CODES.items():
        cases = " ".join(f"WHEN {_q(code)} THEN CAST({1 << (bit + i)} AS BIGINT)" for i, code in enumerate(codes))
        parts.append(f"(CASE {column} {cases} ELSE CAST(0 AS BIGINT) END)")
        layout += [(column, code, bit + i) for i, code in enumerate(codes)]
        bit += len(codes)
    packed_regions = bit + len(regions) <= ELIGIBLE_BIT
    if packed_regions and regions:
        cases = " ".join(f"WHEN {_q(r)} THEN CAST({1 << (bit + i)} AS BIGINT)" for i, r in enumerate(regions))
        parts.append(f"(CASE region {cases} ELSE CAST(0 AS BIGINT) END)")
        layout += [("region", r, bit + i) for i, r in enumerate(regions)]
    parts.append(f"(CASE WHEN eligible THEN CAST({1 << ELIGIBLE_BIT} AS BIGINT) ELSE CAST(0 AS BIGINT) END)")
    masks = query.rows(
        f"SELECT mask, count(*) FROM (SELECT customer_id, bit_or({' | '.join(parts)}) AS mask FROM {src} "
        f"GROUP BY customer_id) AS per_customer GROUP BY mask"
    )
    out: dict[str, Any] = {"all": 0, "eligible": 0, **{c: {code: 0 for code in codes} for c, codes in CODES.items()}}
    out["region"] = {r: 0 for r in regions}
    for mask, n in masks:
        out["all"] += n
        if mask >> ELIGIBLE_BIT & 1:
            out["eligible"] += n
        for column, code, b in layout:
            if mask >> b & 1:
                out[column][code] += n
    if not packed_regions:  # more regions than bits: count them the plain way
        out["region"] = {r: int(n) for r, n in query.rows(
            f"SELECT region, count(DISTINCT customer_id) FROM {src} GROUP BY region")}
    return out


def breakdowns(con: duckdb.DuckDBPyConnection, ledger: Path,
               customers: dict[str, Any] | None = None) -> dict[str, pd.DataFrame]:
    """Every breakdown of :data:`BREAKDOWNS`, as :func:`breakdown` gives it, in two passes in all."""
    customers = customers if customers is not None else customer_counts(con, ledger)
    return breakdown_frames(DuckDBQuery(con), f"read_parquet({_q(ledger)})", customers)


def breakdown_frames(query: Query, src: str, customers: dict[str, Any]) -> dict[str, pd.DataFrame]:
    """The breakdowns from one GROUPING SETS query over ``src`` (SQL both DuckDB and Spark run)."""
    frame = query.frame(
        f"SELECT {', '.join(BREAKDOWNS)}, count(*) AS affected_lines, "
        f"count(*) FILTER (WHERE eligible) AS eligible_lines, CAST(sum(credit_krw) AS BIGINT) AS total_credit_krw "
        f"FROM {src} GROUP BY GROUPING SETS ({', '.join(f'({b})' for b in BREAKDOWNS)})"
    )
    out = {}
    for by in BREAKDOWNS:
        others = [b for b in BREAKDOWNS if b != by]
        part = frame[frame[by].notna() & frame[others].isna().all(axis=1)][[by, "affected_lines", "eligible_lines",
                                                                            "total_credit_krw"]].copy()
        part.insert(2, "affected_customers", [customers[by][v] for v in part[by]])
        part = part.astype({"affected_lines": "int64", "affected_customers": "int64", "eligible_lines": "int64",
                            "total_credit_krw": "int64"})
        out[by] = part.sort_values(["affected_lines", by], ascending=[False, True]).reset_index(drop=True)
    return out


# Quantiles of the eligible lines' credits, as DuckDB's quantile_disc gives them (the value at
# 1-based position ceil(n × q) of the sorted credits), from the count of lines per credit value:
# the same SQL runs in DuckDB and Spark, and it sorts the distinct credits, not every line
# (quantile_disc sorted 28M credits in 1.7 s at 35M lines; this takes 0.1 s).
DISTRIBUTION_SQL = (
    "WITH c AS (SELECT credit_krw AS v, count(*) AS n FROM {src} WHERE eligible GROUP BY credit_krw), "
    "cum AS (SELECT v, sum(n) OVER (ORDER BY v ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS upto, "
    "sum(n) OVER () AS total FROM c) "
    "SELECT min(v), min(CASE WHEN upto >= ceil(total * 0.5) THEN v END), "
    "min(CASE WHEN upto >= ceil(total * 0.9) THEN v END), min(CASE WHEN upto >= ceil(total * 0.99) THEN v END), "
    "max(v) FROM cum"
)


def distribution_rows(row: tuple) -> dict[str, int]:
    keys = ("min_krw", "p50_krw", "p90_krw", "p99_krw", "max_krw")
    return {k: int(v) if v is not None else 0 for k, v in zip(keys, row, strict=True)}


def credit_distribution(con: duckdb.DuckDBPyConnection, ledger: Path) -> dict[str, int]:
    """Smallest, median, p90, p99 and largest credit of the eligible lines (0s when none is)."""
    return distribution_rows(one_row(con.execute(DISTRIBUTION_SQL.format(src=f"read_parquet({_q(ledger)})"))))


def credit_histogram(con: duckdb.DuckDBPyConnection, ledger: Path, bins: int = 20) -> pd.DataFrame:
    """Eligible lines by credit band (equal-width bands in won, integer edges)."""
    hi = one_row(con.execute(f"SELECT max(credit_krw) FROM read_parquet({_q(ledger)}) WHERE eligible"))[0]
    if not hi:
        return pd.DataFrame({"from_krw": [], "to_krw": [], "lines": []}).astype("int64")
    width = max(1, -(-int(hi) // bins))
    frame = con.execute(
        f"SELECT (credit_krw // {width}) * {width} AS from_krw, count(*) AS lines "
        f"FROM read_parquet({_q(ledger)}) WHERE eligible GROUP BY 1 ORDER BY 1"
    ).df()
    frame["to_krw"] = frame["from_krw"] + width - 1
    return frame[["from_krw", "to_krw", "lines"]].astype("int64")



class Query:
    """Runs SQL on an engine and returns rows or a pandas frame (aggregates only: small)."""

    def rows(self, sql: str) -> list[tuple]:
        raise NotImplementedError

    def frame(self, sql: str) -> pd.DataFrame:
        raise NotImplementedError


@dataclass
class DuckDBQuery(Query):
    con: duckdb.DuckDBPyConnection

    def rows(self, sql: str) -> list[tuple]:
        return self.con.execute(sql).fetchall()

    def frame(self, sql: str) -> pd.DataFrame:
        return self.con.execute(sql).df()


@dataclass
class Figures:
    """What a summary is computed from; each engine fills it from its own ledger."""

    lines: int
    eligible_lines: int
    total_credit_krw: int
    longest_outage_minutes: int
    customers: dict[str, Any]
    breakdowns: dict[str, pd.DataFrame]
    distribution: dict[str, int]
    timeline: list[dict[str, Any]]


def totals_sql(src: str) -> str:
    """count, eligible, exact credit sum (DECIMAL: an int64 overflow is reported, not wrapped), longest."""
    return ("SELECT count(*), count(*) FILTER (WHERE eligible), sum(CAST(credit_krw AS DECIMAL(38, 0))), "
            f"max(outage_minutes) FROM {src}")


TIMELINE_SQL = ("SELECT credit_on, count(*), CAST(sum(credit_krw) AS BIGINT) FROM {src} "
                "WHERE credit_krw > 0 AND credit_on IS NOT NULL GROUP BY credit_on ORDER BY credit_on")


def timeline_rows(rows: list[tuple]) -> list[dict[str, Any]]:
    return [{"day": d.isoformat(), "lines": int(n), "credit_krw": int(k)} for d, n, k in rows]


def duckdb_figures(con: duckdb.DuckDBPyConnection, ledger: Path) -> Figures:
    src = f"read_parquet({_q(ledger)})"
    customers = customer_counts(con, ledger)
    n, eligible, total, longest = one_row(con.execute(totals_sql(src)))
    _check_int64(int(total or 0), "the total credit", ledger)
    return Figures(
        lines=int(n), eligible_lines=int(eligible), total_credit_krw=int(total or 0),
        longest_outage_minutes=int(longest or 0), customers=customers,
        breakdowns=breakdown_frames(DuckDBQuery(con), src, customers),
        distribution=credit_distribution(con, ledger), timeline=credit_timeline(con, ledger),
    )


def build_summary(
    incident: Incident, con: duckdb.DuckDBPyConnection, ledger: Path, roster_lines: int,
    what_if_rows: list[dict[str, Any]], per_line: PerLine | None = None,
) -> dict[str, Any]:
    """The JSON-serialisable summary: what programs read; the report is rendered from it."""
    return summary_from(incident, duckdb_figures(con, ledger), roster_lines, what_if_rows, per_line)


def summary_from(incident: Incident, fig: Figures, roster_lines: int,
                 what_if_rows: list[dict[str, Any]], per_line: PerLine | None = None) -> dict[str, Any]:
    """The summary from an engine's figures: the same keys, order and types whatever the engine."""
    _check_int64(fig.total_credit_krw, "the total credit", incident.roster)
    policy = incident.credit_policy
    start, end = incident.start, incident.end
    assert isinstance(start, datetime) and isinstance(end, datetime)  # an outage's: its windows' span
    summary: dict[str, Any] = {
        "incident_id": incident.id,
        "title": incident.title,
        "kind": incident.kind,
        "timezone": incident.timezone,
        "policy_id": policy.id,
        "policy_title": policy.title,
        "outage_start": start.isoformat(timespec="minutes"),
        "outage_end": end.isoformat(timespec="minutes"),
        "window_count": len(incident.windows),
        "roster_lines": int(roster_lines),
        "affected_lines": fig.lines,
        "affected_customers": int(fig.customers["all"]),
        "eligible_lines": fig.eligible_lines,
        "eligible_customers": int(fig.customers["eligible"]),
        "total_credit_krw": fig.total_credit_krw,
        "total_refund_krw": 0,
        "refund_completion_date": None,
        "longest_outage_minutes": fig.longest_outage_minutes,
        "credit_distribution": fig.distribution,
        "delivery": {
            "method": policy.delivery.method,
            "claim_required": policy.delivery.claim_required,
            "claim_window_days": policy.delivery.claim_window_days,
            "applied_on": policy.delivery.applied_on,
        },
    }
    for by, frame in fig.breakdowns.items():
        summary[f"by_{by}"] = records(frame, by)
    closes = claim_window_closes(policy, end.date())
    summary["claim_window_closes"] = closes.isoformat() if closes else None
    summary["credit_completion_date"] = fig.timeline[-1]["day"] if fig.timeline else None
    summary["credit_timeline"] = fig.timeline
    summary["what_if"] = what_if_rows
    if per_line is not None and per_line.reach is not None:
        summary["reach"] = [
            {**row, "customers": int(fig.customers["all"]) if row["customers"] is None else row["customers"]}
            for row in per_line.reach
        ]
        summary["unmatched_names"] = per_line.unmatched or []
    summary["inputs"] = incident.inputs()
    return summary


def write_json(data: dict[str, Any], path: Path) -> None:
    tmp = path.with_name(path.name + ".partial")
    tmp.write_text(json.dumps(data, ensure_ascii=False, indent=2, sort_keys=False) + "\n", encoding="utf-8")
    os.replace(tmp, path)


def ledger_total(con: duckdb.DuckDBPyConnection, ledger: Path) -> int:
    return int(one_row(con.execute(f"SELECT coalesce(sum(credit_krw), 0) FROM read_parquet({_q(ledger)})"))[0])


ENGINES = ("duckdb", "spark")


def analyse(
    incident: Incident, out_dir: Path, *, what_if_policies: list[Policy] | None = None,
    progress: Progress | None = None, threads: int | None = None, engine: str = "duckdb",
    spark_master: str | None = None, spark: Any = None,
) -> dict[str, Any]:
    """Run the per-line pass for ``incident``: writes ``ledger.parquet`` and ``summary.json`` in
    ``out_dir`` and returns the summary. The ledger's credit sum equals the summary's total.

    ``engine``: ``duckdb`` (in process) or ``spark`` (spark_engine.py; ``spark_master`` says where, or
    ``spark`` is an open session to use)."""
    say = progress or (lambda _msg: None)
    if engine not in ENGINES:
        raise InputError("--engine", "", f"unknown engine {engine!r}", f"use one of {', '.join(ENGINES)}")
    out_dir.mkdir(parents=True, exist_ok=True)
    if engine == "spark":
        from .spark_engine import analyse_spark

        summary, computed = analyse_spark(incident, out_dir, what_if_policies=what_if_policies, progress=say,
                                          master=spark_master, spark=spark)
        con = connect(threads)
        try:
            _reconcile(con, out_dir / "ledger.parquet", summary, computed)
        finally:
            con.close()
        write_json(summary, out_dir / "summary.json")
        return summary
    if incident.kind == "billing_error":
        return analyse_billing(incident, out_dir, say=say, threads=threads)
    con = connect(threads)
    per_line = None
    try:
        say("reading and checking the roster")
        per_line = prepare(incident, con)
        say(f"roster: {per_line.roster_lines:,} lines; computing credits per line")
        ledger = out_dir / "ledger.parquet"
        end = incident.end
        assert isinstance(end, datetime)  # an outage's: its last window's end
        days = credit_days(incident.credit_policy, end.date(), _calendar(incident))
        write_ledger(per_line, roster_spellings(per_line, incident.credit_policy), ledger,
                     credit_on=credit_on_sql(days))
        say("comparing policies (what-if)")
        policies = what_if_policies if what_if_policies is not None else catalogue_policies(incident)
        rows, computed = what_if_pass(per_line, roster_spellings(per_line, incident.credit_policy),
                                      [roster_spellings(per_line, p) for p in policies])
        say("summarising")
        summary = build_summary(incident, con, ledger, per_line.roster_lines, rows, per_line)
        _reconcile(con, ledger, summary, computed)
        write_json(summary, out_dir / "summary.json")
        return summary
    finally:
        if per_line is not None:
            per_line.source.close()
        con.close()


# The fix every failed reconciliation names: the inputs were accepted, so the fault is the program's
# or the disk's, and the last good report is still in place.
NOT_PUBLISHED = "nothing was published (the last good report stays); keep the run's failed/ folder and report it"
RECONCILED = (("affected_lines", "lines"), ("eligible_lines", "eligible lines"), ("total_credit_krw", "won"))


def ledger_figures(con: duckdb.DuckDBPyConnection, ledger: Path) -> dict[str, int]:
    """The ledger file read back: its rows, eligible rows and exact credit sum."""
    n, eligible, total = one_row(con.execute(
        f"SELECT count(*), count(*) FILTER (WHERE eligible), coalesce(sum(CAST(credit_krw AS DECIMAL(38, 0))), 0) "
        f"FROM read_parquet({_q(ledger)})"))
    return {"affected_lines": int(n), "eligible_lines": int(eligible or 0), "total_credit_krw": int(total)}


def _agree(left_name: str, left: dict[str, Any], right_name: str, right: dict[str, Any],
           keys: tuple[tuple[str, str], ...] = RECONCILED) -> None:
    for key, unit in keys:
        if int(left[key]) != int(right[key]):
            raise RunError(f"reconciliation failed: {key} is {int(left[key]):,} {unit} in {left_name} but "
                           f"{int(right[key]):,} {unit} in {right_name} — {NOT_PUBLISHED}")


def _reconcile(con: duckdb.DuckDBPyConnection, ledger: Path, summary: dict[str, Any],
               computed: dict[str, int]) -> None:
    """Independent accounts of the incident's lines agree before anything is published: the
    per-line pass over the roster (the own policy's lines, eligible lines and total, computed in
    the what-if pass), the ledger file read back, the summary's totals, and the sum of each of
    its breakdowns. A mismatch is a :class:`RunError` naming both figures."""
    read_back = ledger_figures(con, ledger)
    _agree("the per-line pass over the roster", computed, "the ledger file read back", read_back)
    totals = {key: summary[key] for key, _ in RECONCILED}
    _agree("the ledger file read back", read_back, "the summary", totals)
    for by in BREAKDOWNS:
        parts = summary[f"by_{by}"].values()
        sums = {key: sum(int(part[key]) for part in parts) for key, _ in RECONCILED}
        _agree("the summary's totals", totals, f"the sum of the summary's by_{by}", sums)


def _calendar(incident: Incident) -> BusinessCalendar:
    overrides = calendar_overrides(incident.root)
    return BusinessCalendar.load(overrides) if overrides.exists() else BusinessCalendar.from_overrides(None)


def credit_timeline(con: duckdb.DuckDBPyConnection, ledger: Path) -> list[dict[str, Any]]:
    """Per day: how many credits land and how many won (lines paid on request have no day)."""
    return timeline_rows(con.execute(TIMELINE_SQL.format(src=f"read_parquet({_q(ledger)})")).fetchall())


def analyse_billing(incident: Incident, out_dir: Path, *, say: Progress, threads: int | None = None) -> dict[str, Any]:
    """A billing error: the per-line ledger of charges, reversals and re-charges, and its summary.

    Money is checked line by line before anything is published: what was charged wrongly is
    exactly what is cancelled or refunded, and what is re-charged is exactly the correct bill."""
    from .settlement import build_billing_summary, write_billing_ledger

    con = connect(threads)
    source = None
    try:
        say("reading and checking the roster")
        source = open_roster(incident.roster)
        n = validate_roster(con, source)
        calendar = _calendar(incident)
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
            f"FROM read_parquet({_q(ledger)})"
        ))
        early = one_row(con.execute(f"SELECT count(*) FROM read_parquet({_q(ledger)}) WHERE recharge_on < settled_on"
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
        if summary["affected_lines"] == 0:
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


def _reconcile_billing(con: duckdb.DuckDBPyConnection, ledger: Path, summary: dict[str, Any],
                       plan: dict[str, Any]) -> None:
    """A billing error's money is conserved and every account of it agrees: the pass over roster
    and bills (lines, won charged and owed per payment method), the ledger file read back, the
    summary's totals and the sum of each of its breakdowns. In the summary what was cancelled or
    refunded is what was charged, and what is re-charged is what is owed."""
    keys = BILLING_RECONCILED
    totals = {"affected_lines": summary["affected_lines"], "charged_krw": summary["total_charged_krw"],
              "owed_krw": summary["total_owed_krw"], "cancelled_krw": summary["total_cancelled_krw"],
              "refund_krw": summary["total_refund_krw"], "recharge_krw": summary["total_recharge_krw"]}
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
        + f" FROM read_parquet({_q(ledger)})"))
    read_back = {k: int(v) for (k, _), v in zip(keys, row, strict=True)}
    _agree("the pass over roster and bills", computed, "the ledger file read back", read_back, keys[:3])
    _agree("the ledger file read back", read_back, "the summary", totals, keys)
    methods = summary["by_payment_method"].values()
    _agree("the summary's totals", totals, "the sum of the summary's by_payment_method",
           {k: sum(int(m[k]) for m in methods) for k, _ in keys}, keys)
    shared = (keys[0], keys[1], keys[4])  # lines, charged, refunded
    for by in ("service", "region", "customer_type"):
        parts = summary[f"by_{by}"].values()
        _agree("the summary's totals", totals, f"the sum of the summary's by_{by}",
               {k: sum(int(p[k]) for p in parts) for k, _ in shared}, shared)


__all__ = ["analyse", "build_summary", "breakdown", "what_if", "prepare", "write_ledger", "__version__"]
