"""Exploring an incident line by line: the ledger joined to the roster as a lazy DuckDB relation,
filters checked against the data, and breakdowns by any roster column or pair of columns.

The roster's personal data (names, phone numbers) is not in the roster relation this reads (only
the contract's columns and ``plan``), so nothing here can show it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import duckdb
import pandas as pd
import pyarrow.parquet as pq

from kt_analysis.dbrow import quote
from kt_analysis.engine.duckdb_engine import ROSTER_ATTRIBUTES
from kt_analysis.inputs.names import did_you_mean, normalize
from kt_analysis.inputs.roster import RosterSource
from kt_analysis.inputs.schema import CUSTOMER_TYPE_KO, PAYMENT_METHOD_KO, ROSTER_COLUMNS, SERVICE_KO

LABELS: Mapping[str, Mapping[str, str]] = {"service": SERVICE_KO, "customer_type": CUSTOMER_TYPE_KO,
                                           "payment_method": PAYMENT_METHOD_KO}
COLUMN_KO = {"service": "서비스", "region": "지역", "facility_id": "국사", "customer_type": "고객 유형",
             "payment_method": "결제 수단", "bill_cycle_day": "결제일", "monthly_fee_krw": "월 요금(원)",
             "plan": "요금제", "eligible": "보상 대상", "eligibility_reason": "판정 사유", "rule": "규칙",
             "credit_on": "반영일"}
Where = str | Mapping[str, object] | None


class ExploreError(ValueError):
    """A column or value an exploration names that the incident's lines do not have."""


def roster_columns(roster: RosterSource) -> tuple[str, ...]:
    """The roster columns a reader can join to the ledger: the contract's (without the ids; in the
    order the engine lists them) and the optional ones this roster has."""
    rest = [c for c in ROSTER_COLUMNS if c not in ROSTER_ATTRIBUTES and c not in ("line_id", "customer_id")]
    return (*ROSTER_ATTRIBUTES, *rest, *roster.optional)


def _check_columns(asked: Sequence[str], allowed: Sequence[str], what: str) -> None:
    for c in asked:
        if c not in allowed:
            near = did_you_mean(c, list(allowed), listed="", tail="")
            hint = f"; {near}" if near.startswith("did you mean") else ""
            raise ExploreError(f"{c!r} is not {what}{hint}; the columns are: {', '.join(allowed)}")


def lines(con: duckdb.DuckDBPyConnection, ledger: Path, roster: RosterSource, *, where: Where = None,
          columns: Sequence[str] | None = None) -> duckdb.DuckDBPyRelation:
    """Every ledger line with the roster's ``columns`` (default: all it has) joined on line_id, as a
    lazy DuckDB relation (``.df()`` for pandas, ``.aggregate(…)``, ``.filter(…)``; nothing is read until
    it is consumed) — the ledger keeps only what the incident decided; this is how a reader gets a
    line's service, region or fee beside its credit — filtered by ``where``:

    - a mapping ``{"region": "서울", "service": ["mobile", "internet"]}``: each value must be one the
      lines have (after Unicode normalisation), else :class:`ExploreError` names the closest;
    - a SQL condition over the ledger's and the joined columns (``"credit_krw > 10000"``); a column
      it names that is not there is refused with the list of columns."""
    available = roster_columns(roster)
    wanted = tuple(columns) if columns is not None else available
    _check_columns(wanted, available, "a roster column")
    have = set(pq.read_schema(ledger).names)  # a billing error's ledger carries some of them already
    joined = "".join(f", r.{c}" for c in wanted if c not in have)
    rel = con.sql(f"SELECT l.*{joined} FROM read_parquet({quote(ledger)}) AS l JOIN {roster.sql} AS r USING (line_id)")
    if where is None:
        return rel
    if isinstance(where, str):
        try:
            filtered = rel.filter(where)
            filtered.limit(0).fetchall()  # bind now: a wrong column is reported here, not at .df()
        except duckdb.BinderException as exc:
            raise ExploreError(f"where={where!r}: {str(exc).splitlines()[0]}; the columns are: "
                               f"{', '.join(rel.columns)}") from None
        return filtered
    return rel.filter(_mapping_filter(rel, where))


def _mapping_filter(rel: duckdb.DuckDBPyRelation, where: Mapping[str, object]) -> str:
    conditions = []
    for column, value in where.items():
        _check_columns([column], rel.columns, "a column of these lines")
        values = list(value) if isinstance(value, list | tuple | set) else [value]
        if not values:
            raise ExploreError(f"where[{column!r}]: an empty list matches no line")
        present = [r[0] for r in rel.aggregate(column, column).fetchall()]
        by_text = {normalize(str(v)): v for v in present if v is not None}
        chosen = []
        for v in values:
            key = normalize(str(v))
            if key not in by_text:
                raise ExploreError(f"where[{column!r}]: {v!r} is not a value of these lines; "
                                   + did_you_mean(str(v), sorted(map(str, by_text)), listed="they have", tail=""))
            chosen.append(by_text[key])
        literal = ", ".join(str(int(v)) if isinstance(v, int) and not isinstance(v, bool) else quote(str(v))
                            for v in chosen)
        conditions.append(f"{column} IN ({literal})")
    return " AND ".join(conditions) or "TRUE"


def breakdown(rel: duckdb.DuckDBPyRelation, by: Sequence[str]) -> pd.DataFrame:
    """Lines, customers (each counted once per group), eligible lines and credit per value of ``by``
    (one column or a pair), largest first, with Korean names for the coded columns and headers."""
    if not 1 <= len(by) <= 2:
        raise ExploreError("break down by one column or a pair of columns")
    _check_columns(by, rel.columns, "a column of these lines")
    keys = ", ".join(by)
    frame = rel.aggregate(
        f"{keys}, count(*) AS lines, count(DISTINCT customer_id) AS customers, "
        f"count(*) FILTER (WHERE eligible) AS eligible_lines, CAST(sum(credit_krw) AS BIGINT) AS credit_krw",
        keys).order(f"lines DESC, {keys}").df()
    for c in by:
        if c in LABELS:
            frame[c] = frame[c].map(lambda v, m=LABELS[c]: m.get(v, v))
    frame = frame.astype({"lines": "int64", "customers": "int64", "eligible_lines": "int64",
                          "credit_krw": "int64"})
    frame = frame.set_index(list(by))
    frame.index.names = [COLUMN_KO.get(c, c) for c in by]
    return frame.rename(columns={"lines": "영향 회선", "customers": "영향 고객", "eligible_lines": "보상 대상 회선",
                                 "credit_krw": "보상액(원)"})
