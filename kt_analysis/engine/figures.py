"""Every figure of an outage's summary, read from its ledger in as few passes as possible.

The queries are written once and run on DuckDB or Spark through :class:`Query`; only
:class:`DuckDBQuery` and the Spark engine's query know an engine.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd

from kt_analysis.dbrow import one_row, quote
from kt_analysis.errors import InputError
from kt_analysis.inputs.policy import CUSTOMER_TYPES, PAYMENT_METHODS, SERVICES

INT64_MAX = 2**63 - 1

def check_int64(value: int, what: str, roster: str | Path = "roster") -> None:
    if value > INT64_MAX:
        raise InputError(str(roster), "monthly_fee_krw", f"{what} ({value:,} won) overflows int64",
                         "check the roster's fees for unit mistakes")


BREAKDOWNS = ("service", "region", "customer_type", "payment_method")


def breakdown(con: duckdb.DuckDBPyConnection, ledger: Path, by: str) -> pd.DataFrame:
    """Affected and eligible lines, customers and credit by one column of the ledger."""
    return con.execute(
        f"SELECT {by}, count(*) AS affected_lines, count(DISTINCT customer_id) AS affected_customers, "
        f"count(*) FILTER (WHERE eligible) AS eligible_lines, "
        f"CAST(sum(credit_krw) AS BIGINT) AS total_credit_krw "
        f"FROM read_parquet({quote(ledger)}) GROUP BY {by} ORDER BY affected_lines DESC, {by}"
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
    return count_customers(DuckDBQuery(con), f"read_parquet({quote(ledger)})")


def count_customers(query: Query, src: str) -> dict[str, Any]:
    """:func:`customer_counts` over ``src`` on any engine (the SQL is the same in DuckDB and Spark)."""
    regions = [r[0] for r in query.rows(f"SELECT DISTINCT region FROM {src} ORDER BY region")]
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


def breakdowns(con: duckdb.DuckDBPyConnection, ledger: Path,
               customers: dict[str, Any] | None = None) -> dict[str, pd.DataFrame]:
    """Every breakdown of :data:`BREAKDOWNS`, as :func:`breakdown` gives it, in two passes in all."""
    customers = customers if customers is not None else customer_counts(con, ledger)
    return breakdown_frames(DuckDBQuery(con), f"read_parquet({quote(ledger)})", customers)


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
    return distribution_rows(one_row(con.execute(DISTRIBUTION_SQL.format(src=f"read_parquet({quote(ledger)})"))))


def credit_histogram(con: duckdb.DuckDBPyConnection, ledger: Path, bins: int = 20) -> pd.DataFrame:
    """Eligible lines by credit band (equal-width bands in won, integer edges)."""
    hi = one_row(con.execute(f"SELECT max(credit_krw) FROM read_parquet({quote(ledger)}) WHERE eligible"))[0]
    if not hi:
        return pd.DataFrame({"from_krw": [], "to_krw": [], "lines": []}).astype("int64")
    width = max(1, -(-int(hi) // bins))
    frame = con.execute(
        f"SELECT (credit_krw // {width}) * {width} AS from_krw, count(*) AS lines "
        f"FROM read_parquet({quote(ledger)}) WHERE eligible GROUP BY 1 ORDER BY 1"
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
    src = f"read_parquet({quote(ledger)})"
    customers = customer_counts(con, ledger)
    n, eligible, total, longest = one_row(con.execute(totals_sql(src)))
    check_int64(int(total or 0), "the total credit", ledger)
    return Figures(
        lines=int(n), eligible_lines=int(eligible), total_credit_krw=int(total or 0),
        longest_outage_minutes=int(longest or 0), customers=customers,
        breakdowns=breakdown_frames(DuckDBQuery(con), src, customers),
        distribution=credit_distribution(con, ledger), timeline=credit_timeline(con, ledger),
    )


def ledger_total(con: duckdb.DuckDBPyConnection, ledger: Path) -> int:
    return int(one_row(con.execute(f"SELECT coalesce(sum(credit_krw), 0) FROM read_parquet({quote(ledger)})"))[0])


def ledger_figures(con: duckdb.DuckDBPyConnection, ledger: Path) -> dict[str, int]:
    """The ledger file read back: its rows, eligible rows and exact credit sum."""
    n, eligible, total = one_row(con.execute(
        f"SELECT count(*), count(*) FILTER (WHERE eligible), coalesce(sum(CAST(credit_krw AS DECIMAL(38, 0))), 0) "
        f"FROM read_parquet({quote(ledger)})"))
    return {"affected_lines": int(n), "eligible_lines": int(eligible or 0), "total_credit_krw": int(total)}


def credit_timeline(con: duckdb.DuckDBPyConnection, ledger: Path) -> list[dict[str, Any]]:
    """Per day: how many credits land and how many won (lines paid on request have no day)."""
    return timeline_rows(con.execute(TIMELINE_SQL.format(src=f"read_parquet({quote(ledger)})")).fetchall())
