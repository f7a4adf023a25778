"""Every figure of an outage's summary and its what-if, in as few passes as an expert would make.

Two passes over the incident's lines (the roster joined to the exposure, rules applied): the
*cube* — per combination of the breakdowns' values, the lines and, under every policy, the
eligible lines and the exact credit — from which every total, breakdown and what-if row follows;
and the distinct customers, counted on packed bit masks. Two small reads of the ledger give the
credits' quantiles and the days they land. The queries are written once and run on DuckDB or
Spark through :class:`Query`; only :class:`DuckDBQuery` and the Spark engine's query know an engine.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd
from sqlglot import exp

from kt_analysis.dbrow import one_row, quote
from kt_analysis.engine.dialect import render_policy
from kt_analysis.errors import InputError
from kt_analysis.inputs.policy import Policy
from kt_analysis.inputs.schema import CUSTOMER_TYPES, PAYMENT_METHODS, SERVICES
from kt_analysis.rules.credits import compile_policy
from kt_analysis.rules.restoration import CURVE_COLUMNS, RESTORED, RestorationPlan

INT64_MAX = 2**63 - 1


def check_int64(value: int, what: str, roster: str | Path = "roster") -> None:
    if value > INT64_MAX:
        raise InputError(str(roster), "monthly_fee_krw", f"{what} ({value:,} won) overflows int64",
                         "check the roster's fees for unit mistakes")


BREAKDOWNS = ("service", "region", "customer_type", "payment_method")


CODES = {"service": SERVICES, "customer_type": CUSTOMER_TYPES, "payment_method": PAYMENT_METHODS}


ELIGIBLE_BIT = 62


def count_customers(query: Query, src: str, regions: list[str]) -> dict[str, Any]:
    """Distinct customers — in all, eligible, and per value of each breakdown — in one pass over
    ``src`` (columns customer_id, the breakdowns' and ``eligible``; SQL DuckDB and Spark both run).

    ``count(DISTINCT customer_id)`` per breakdown builds a hash table per group and costs seconds
    per breakdown at 35M lines. Instead every line's values are packed into bits of one BIGINT
    (service, customer type, payment method, region, eligible), OR-ed per customer, and the few
    distinct masks are counted: each customer is then counted once per value it has. ``regions``
    are the regions the lines hold (from the cube: no pass of their own).
    """
    parts, layout, bit = [], [], 0
    for column, codes in CODES.items():
        cases = " ".join(f"WHEN {quote(code)} THEN CAST({1 << (bit + i)} AS BIGINT)" for i, code in enumerate(codes))
        parts.append(f"(CASE {column} {cases} ELSE CAST(0 AS BIGINT) END)")
        layout += [(column, code, bit + i) for i, code in enumerate(codes)]
        bit += len(codes)
    packed_regions = bit + len(regions) <= ELIGIBLE_BIT
    if packed_regions and regions:
        cases = " ".join(f"WHEN {quote(r)} THEN CAST({1 << (bit + i)} AS BIGINT)" for i, r in enumerate(regions))
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
    return distribution_rows(one_row(con.execute(DISTRIBUTION_SQL.format(src=f"read_parquet({quote(ledger)})"))))


HISTOGRAM_BINS = 20


def histogram_sql(src: str, max_krw: int, bins: int = HISTOGRAM_BINS) -> tuple[str, int] | None:
    """Eligible lines by credit band: equal-width bands in won with integer edges, the width the
    largest credit over ``bins`` rounded up. The same SQL runs in DuckDB and Spark. None when no
    eligible line has a credit."""
    if max_krw <= 0:
        return None
    width = max(1, -(-max_krw // bins))
    return (f"SELECT credit_krw - credit_krw % {width} AS from_krw, count(*) AS lines FROM {src} "
            f"WHERE eligible GROUP BY 1 ORDER BY 1"), width


def histogram_rows(rows: list[tuple], width: int) -> list[dict[str, int]]:
    return [{"from_krw": int(lo), "to_krw": int(lo) + width - 1, "lines": int(n)} for lo, n in rows]


def credit_histogram(query: Query, src: str, max_krw: int) -> list[dict[str, int]]:
    """The bands of :func:`histogram_sql`, as the summary keeps them."""
    plan = histogram_sql(src, max_krw)
    if plan is None:
        return []
    sql, width = plan
    return histogram_rows(query.rows(sql), width)


# Readable credit bands: edges 1, 2 and 5 times a power of ten (0–99원, 100–199원, 200–499원, …),
# so a reader sees where most lines are (the equal-width histogram puts 77k of 80k lines in its
# first band). The band of each credit is found in SQL (the same CASE in DuckDB and Spark).
BAND_EDGES: tuple[int, ...] = tuple(m * 10**k for k in range(2, 19) for m in (1, 2, 5) if m * 10**k < 2**63)


def band_sql(src: str) -> str:
    """Eligible lines and their credit per band of :data:`BAND_EDGES` (0 = below 100원)."""
    whens = " ".join(f"WHEN credit_krw < {edge} THEN {lo}" for lo, edge in zip((0, *BAND_EDGES), BAND_EDGES,
                                                                                strict=False))
    band = f"CASE {whens} ELSE {BAND_EDGES[-1]} END"
    return (f"SELECT {band} AS band, count(*), sum(CAST(credit_krw AS DECIMAL(38, 0))) FROM {src} "
            "WHERE eligible GROUP BY 1 ORDER BY 1")


def credit_bands(query: Query, src: str) -> list[dict[str, int]]:
    """The eligible lines per band, from the lowest band with a line to the highest (bands between
    without a line kept, with 0: the bars are a scale); empty when no line is eligible."""
    found = {int(lo): (int(n), int(k)) for lo, n, k in query.rows(band_sql(src))}
    if not found:
        return []
    edges = (0, *BAND_EDGES)
    uppers = {lo: hi - 1 for lo, hi in zip(edges, BAND_EDGES, strict=False)}
    uppers[BAND_EDGES[-1]] = 2**63 - 1
    first, last = edges.index(min(found)), edges.index(max(found))
    out = []
    for lo in edges[first:last + 1]:
        n, k = found.get(lo, (0, 0))
        out.append({"from_krw": lo, "to_krw": uppers[lo], "lines": n, "credit_krw": k})
    return out


def _quantiles(counts: list[tuple[int, int]]) -> dict[str, int]:
    """min, p50, p90, p99, max of values given as (value, lines), by DISTRIBUTION_SQL's rule (the value
    at 1-based position ⌈n × q⌉ of the sorted values)."""
    counts = sorted(counts)
    total = sum(n for _, n in counts)
    out = {"min_krw": counts[0][0], "max_krw": counts[-1][0]}
    for key, num, den in (("p50_krw", 50, 100), ("p90_krw", 90, 100), ("p99_krw", 99, 100)):
        position = -(-total * num // den)
        upto = 0
        for value, n in counts:
            upto += n
            if upto >= position:
                out[key] = value
                break
    return out


def credit_by_service(query: Query, lines: str, policy: Policy, dialect: str,
                      breakdown: pd.DataFrame) -> dict[str, dict[str, int]]:
    """Per service, the eligible lines' credits under ``policy``: lines, total, and the quantiles of
    the summary's credit_distribution. One pass over the lines (service and credit value counted);
    the totals are checked against the service breakdown of the same pass's cube — refused if they
    differ (they are the same expressions on the same lines)."""
    p = render_policy(compile_policy(policy), dialect)
    rows = query.rows(f"SELECT service, v, count(*) FROM (SELECT service, {p.credit_krw} AS v FROM {lines} "
                      f"WHERE {p.eligible}) AS e GROUP BY service, v")
    per: dict[str, list[tuple[int, int]]] = {}
    for service, v, n in rows:
        per.setdefault(str(service), []).append((int(v), int(n)))
    expected = {str(r["service"]): (int(r["eligible_lines"]), int(r["total_credit_krw"]))
                for _, r in breakdown.iterrows() if int(r["eligible_lines"])}
    out = {}
    for service in sorted(per):
        counts = per[service]
        figures = {"lines": sum(n for _, n in counts), "credit_krw": sum(v * n for v, n in counts),
                   **_quantiles(counts)}
        out[service] = figures
    got = {k: (v["lines"], v["credit_krw"]) for k, v in out.items()}
    if got != expected:
        raise AssertionError(f"credits by service {got} differ from the breakdown's {expected}")
    return out


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
    longest_continuous_minutes: int
    customers: dict[str, Any]
    breakdowns: dict[str, pd.DataFrame]
    distribution: dict[str, int]
    histogram: list[dict[str, int]]
    timeline: list[dict[str, Any]]
    bands: list[dict[str, int]] = field(default_factory=list)
    by_service_credit: dict[str, dict[str, int]] = field(default_factory=dict)

    def totals(self) -> dict[str, int]:
        """Lines, eligible lines and credit as the pass over the roster counted them (what the
        ledger read back is reconciled with)."""
        return {"affected_lines": self.lines, "eligible_lines": self.eligible_lines,
                "total_credit_krw": self.total_credit_krw}


TIMELINE_SQL = ("SELECT credit_on, count(*), CAST(sum(credit_krw) AS BIGINT) FROM {src} "
                "WHERE credit_krw > 0 AND credit_on IS NOT NULL GROUP BY credit_on ORDER BY credit_on")


def timeline_rows(rows: list[tuple]) -> list[dict[str, Any]]:
    return [{"day": d.isoformat(), "lines": int(n), "credit_krw": int(k)} for d, n, k in rows]


def ledger_figures(con: duckdb.DuckDBPyConnection, ledger: Path) -> dict[str, int]:
    """The ledger file read back: its rows, eligible rows and exact credit sum."""
    n, eligible, total = one_row(con.execute(
        f"SELECT count(*), count(*) FILTER (WHERE eligible), coalesce(sum(CAST(credit_krw AS DECIMAL(38, 0))), 0) "
        f"FROM read_parquet({quote(ledger)})"))
    return {"affected_lines": int(n), "eligible_lines": int(eligible or 0), "total_credit_krw": int(total)}


def credit_timeline(con: duckdb.DuckDBPyConnection, ledger: Path) -> list[dict[str, Any]]:
    """Per day: how many credits land and how many won (lines paid on request have no day)."""
    return timeline_rows(con.execute(TIMELINE_SQL.format(src=f"read_parquet({quote(ledger)})")).fetchall())


def with_own_policy(own: Policy, policies: list[Policy]) -> tuple[list[Policy], int]:
    """The pass's policies with the incident's own policy among them, and its position.

    The own policy is appended when the what-if list lacks it (it is then computed, not
    published): the pass's figures for it are what the ledger is reconciled with."""
    for i, pol in enumerate(policies):
        if pol is own or pol == own:  # the same rules (an edited copy with the same id is another policy)
            return policies, i
    return [*policies, own], len(policies)


def cube_sql(policies: list[Policy], src: str, dialect: str = "duckdb") -> str:
    """One pass over the incident's lines, grouped by every breakdown's columns at once (a few
    hundred groups at most): the lines, the longest outage and, per policy, the eligible lines and
    the exact credit total (DuckDB sums BIGINT into HUGEINT; Spark is asked for DECIMAL(38, 0)), so
    an int64 overflow is reported, not wrapped. Every total, breakdown and what-if comes from it."""
    selects = [*BREAKDOWNS, "count(*)", "max(outage_minutes)", "max(longest_continuous_minutes)"]
    for pol in policies:
        p = render_policy(compile_policy(pol), dialect)
        total = f"sum({p.credit_krw})" if dialect == "duckdb" else f"sum(CAST({p.credit_krw} AS DECIMAL(38, 0)))"
        selects += [f"count(*) FILTER (WHERE {p.eligible})", total]
    return f"SELECT {', '.join(selects)} FROM {src} GROUP BY {', '.join(BREAKDOWNS)}"


@dataclass(frozen=True)
class Cube:
    """:func:`cube_sql`'s rows as Python integers: one per combination of breakdown values."""

    rows: list[tuple[Any, ...]]

    LINES = len(BREAKDOWNS)

    def lines(self) -> int:
        return sum(int(r[self.LINES]) for r in self.rows)

    def longest(self) -> int:
        return max((int(r[self.LINES + 1] or 0) for r in self.rows), default=0)

    def longest_continuous(self) -> int:
        return max((int(r[self.LINES + 2] or 0) for r in self.rows), default=0)

    def eligible(self, policy: int, row: tuple[Any, ...]) -> int:
        return int(row[self.LINES + 3 + 2 * policy] or 0)

    def credit(self, policy: int, row: tuple[Any, ...]) -> int:
        return int(row[self.LINES + 4 + 2 * policy] or 0)

    def what_if(self, policies: list[Policy], roster: str | Path) -> list[dict[str, Any]]:
        out = []
        for i, pol in enumerate(policies):
            total = sum(self.credit(i, r) for r in self.rows)
            check_int64(total, f"the total under {pol.id}", roster)
            out.append({"policy_id": pol.id, "title": pol.title,
                        "eligible_lines": sum(self.eligible(i, r) for r in self.rows), "total_credit_krw": total})
        return out

    def breakdowns(self, policy: int, customers: dict[str, Any]) -> dict[str, pd.DataFrame]:
        """Lines, customers, eligible lines and credit under ``policy`` per value of each breakdown."""
        out = {}
        for k, by in enumerate(BREAKDOWNS):
            acc: dict[str, list[int]] = {}
            for r in self.rows:
                a = acc.setdefault(r[k], [0, 0, 0])
                a[0] += int(r[self.LINES])
                a[1] += self.eligible(policy, r)
                a[2] += self.credit(policy, r)
            frame = pd.DataFrame({
                by: pd.Series(list(acc), dtype=object),
                "affected_lines": [v[0] for v in acc.values()],
                "affected_customers": [customers[by][value] for value in acc],
                "eligible_lines": [v[1] for v in acc.values()],
                "total_credit_krw": [v[2] for v in acc.values()],
            }).astype({c: "int64" for c in FIGURE_COLUMNS})
            out[by] = frame.sort_values(["affected_lines", by], ascending=[False, True]).reset_index(drop=True)
        return out


FIGURE_COLUMNS = ("affected_lines", "affected_customers", "eligible_lines", "total_credit_krw")


def incident_figures(query: Query, lines: str, ledger: str, policies: list[Policy], own_at: int, *,
                     dialect: str, roster: str | Path,
                     say: Callable[[str], None] = lambda _msg: None) -> tuple[Figures, list[dict[str, Any]]]:
    """Every figure of the summary and the what-if over ``policies``, on any engine.

    ``lines`` is the incident's per-line relation (roster joined to exposure), ``ledger`` the
    ledger just written. Two passes over the lines — the cube (:func:`cube_sql`) and the distinct
    customers (:func:`count_customers`) — and two small reads of the ledger's credits (their
    quantiles, and the days they land)."""
    cube = Cube([tuple(r) for r in query.rows(cube_sql(policies, lines, dialect))])
    what_if = cube.what_if(policies, roster)
    say("summarising")
    own = render_policy(compile_policy(policies[own_at]), dialect)
    regions = sorted({str(r[BREAKDOWNS.index("region")]) for r in cube.rows})
    customers = count_customers(
        query, f"(SELECT customer_id, {', '.join(BREAKDOWNS)}, {own.eligible} AS eligible FROM {lines}) AS scope",
        regions)
    distribution = distribution_rows(query.rows(DISTRIBUTION_SQL.format(src=ledger))[0])
    figures = Figures(
        lines=cube.lines(), eligible_lines=what_if[own_at]["eligible_lines"],
        total_credit_krw=what_if[own_at]["total_credit_krw"], longest_outage_minutes=cube.longest(),
        longest_continuous_minutes=cube.longest_continuous(),
        customers=customers, breakdowns=cube.breakdowns(own_at, customers),
        distribution=distribution,
        histogram=credit_histogram(query, ledger, distribution["max_krw"]),
        timeline=timeline_rows(query.rows(TIMELINE_SQL.format(src=ledger))),
    )
    figures.bands = credit_bands(query, ledger)
    figures.by_service_credit = credit_by_service(query, lines, policies[own_at], dialect,
                                                  figures.breakdowns["service"])
    return figures, what_if


# The table of a restoration plan's per-key figures, registered on the engine under this name.
RESTORATION_TABLE = "restoration_exposure"


def restoration_sql(policy: Policy, lines: str, keys: tuple[str, ...], dialect: str,
                    table: str = RESTORATION_TABLE) -> str:
    """Per restoration time: the lines eligible and the exact credit total under ``policy``.

    The lines are grouped once by what the policy reads besides the outage figures (the key columns,
    the fee basis, service, customer type, region, plan: a few thousand groups, not a line per point),
    the groups joined to ``table`` (per key and point, the outage figures had service come back then),
    and the policy's own expressions applied unchanged; each group's credit counts its lines
    (DuckDB in HUGEINT, Spark in DECIMAL(38, 0), as :func:`cube_sql`)."""
    rules = compile_policy(policy)
    read = sorted({c.name for tree in (rules.eligible, rules.credit_krw) for c in tree.find_all(exp.Column)})
    timed = {"outage_start", "outage_end"} & set(read)
    assert not timed, f"a rule reads {timed}, which the restoration table does not carry"
    own = [c for c in read if c not in CURVE_COLUMNS and c not in keys]
    grouped = [*keys, *own]
    p = render_policy(rules, dialect)
    wide = "HUGEINT" if dialect == "duckdb" else "DECIMAL(38, 0)"
    return (f"SELECT {RESTORED}, sum(CASE WHEN {p.eligible} THEN _lines ELSE 0 END), "
            f"sum(CAST({p.credit_krw} AS {wide}) * _lines) FROM ("
            f"SELECT {', '.join([*grouped, '_lines', RESTORED, *(f'e.{c} AS {c}' for c in CURVE_COLUMNS)])} FROM "
            f"(SELECT {', '.join(grouped)}, count(*) AS _lines FROM {lines} GROUP BY {', '.join(grouped)}) AS g "
            f"JOIN {table} AS e USING ({', '.join(keys)})) AS x GROUP BY {RESTORED}")


def restoration_curve(query: Query, lines: str, plan: RestorationPlan, policy: Policy, keys: tuple[str, ...], *,
                      dialect: str, table: str = RESTORATION_TABLE) -> dict[str, Any] | None:
    """summary.json's ``restoration_curve`` on any engine: ``plan``'s points with the lines eligible and
    the total credit under ``policy`` had service come back then (0 at a point no line is out yet),
    its thresholds and the actual span. ``table`` holds ``plan.exposure`` on the engine. None when a
    point's total overflows int64 (a longer outage than the real one can; the caller leaves the key
    out, as when a line's credit overflows inside the engine)."""
    found = {int(t): (int(n or 0), int(k or 0)) for t, n, k in
             query.rows(restoration_sql(policy, lines, keys, dialect, table))}
    points = []
    for t in plan.points:
        eligible, total = found.get(t, (0, 0))
        if total > INT64_MAX:  # beyond the actual span only (the summary's own total was checked)
            return None
        points.append({"minutes": t, "eligible_lines": eligible, "total_credit_krw": total})
    return {"actual_minutes": plan.actual_minutes, "points": points,
            "thresholds": [{"minutes": m, "label": label} for m, label in plan.thresholds]}
