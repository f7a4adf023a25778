"""Outages across a month: the minutes of earlier published incidents of the same line and calendar
month, for a policy with ``eligibility.monthly_scope: calendar_month``.

The earlier incidents' rows come from the output folder's history (``kt_analysis.jobs.history``) as
one Parquet file of ``line_minutes`` rows (:data:`ROWS_SCHEMA`). From them, for the lines this
incident reached, one grouped pass gives per line its largest month total (this incident's minutes
in a month plus the earlier incidents' in it) and, per monthly threshold, the earlier minutes no
incident has credited yet in the months whose total passes it. The per-line relation gets these as
columns (:func:`with_month`), which the policy's expressions read (``kt_analysis.rules.credits``).
The SQL is the same for DuckDB and Spark, as for the fee bases (engine/fees.py).

An earlier incident's minutes count as *not yet credited* when its row says ``credited = false``,
less the minutes later incidents took in (``carried_minutes``): no minute is paid twice.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from kt_analysis.dbrow import quote
from kt_analysis.engine.dialect import render
from kt_analysis.errors import RunError
from kt_analysis.inputs.policy import Policy
from kt_analysis.rules.credits import (
    MONTH_TOTAL,
    across_month,
    carried_column,
    carrying_rules,
    compile_policy,
    incident_scope,
    month_thresholds,
)

# The history's `line_minutes` rows as a run reads them (and as it writes its own).
ROWS_SCHEMA = pa.schema([
    ("incident_id", pa.string()), ("line_id", pa.int64()), ("month", pa.string()),
    ("outage_minutes", pa.int32()), ("credited", pa.bool_()), ("carried_minutes", pa.int32()),
])
# `month_history.parquet`: per affected line and earlier incident with minutes of the same month.
MONTH_HISTORY_SCHEMA = pa.schema([
    ("line_id", pa.int64()), ("month", pa.string()), ("earlier_incident_id", pa.string()),
    ("earlier_minutes", pa.int32()), ("earlier_credited", pa.bool_()), ("month_total_minutes", pa.int32()),
    ("carried_minutes", pa.int32()), ("eligible", pa.bool_()), ("pushed_over", pa.bool_()),
])
MONTH_HISTORY_FILE = "month_history.parquet"
# The earlier incidents' rows, while a run reads them: in its own folder (on a cluster every executor
# sees it), removed before the folder is published; not a dot-file, which Spark would not read.
EARLIER_ROWS = "earlier-rows.parquet"


@dataclass(frozen=True)
class EarlierRun:
    """A published incident before this one (by start, then id) with minutes in its months."""

    incident_id: str
    outage_start: str  # ISO, minutes, the incident's local time


@dataclass(frozen=True)
class Earlier:
    """What a run read from the history: the earlier incidents, the months this incident touches, the
    ``line_minutes`` rows of those incidents in those months (Parquet, :data:`ROWS_SCHEMA`) and a
    digest of them (part of the run's fingerprint)."""

    rows: Path
    runs: tuple[EarlierRun, ...]
    months: tuple[str, ...]
    digest: str


@dataclass(frozen=True)
class MonthFigures:
    """The summary's ``month_history`` figures, as an engine counted them."""

    per_incident: dict[str, tuple[int, int]]  # earlier incident → (lines it shares, lines it pushed over)
    pushed_over: int  # lines eligible only with the earlier incidents' minutes
    carried_minutes: int  # earlier minutes this incident credits
    lines: pd.DataFrame  # month_history.parquet's rows


def write_rows(path: Path, table: pa.Table | None = None) -> Path:
    """``line_minutes`` rows as Parquet (none: an empty file with the columns)."""
    table = table if table is not None else ROWS_SCHEMA.empty_table()
    pq.write_table(table.cast(ROWS_SCHEMA), path, compression="zstd")
    return path


def uses_month(policies: list[Policy]) -> bool:
    """Some policy of the run counts its monthly threshold across the calendar month."""
    return bool(month_thresholds(policies))


def earlier_sql(rows: str) -> str:
    """Per line and month: the earlier incidents' minutes, and those no incident has credited yet."""
    return ("(SELECT line_id, month, CAST(sum(outage_minutes) AS BIGINT) AS earlier_minutes, "
            "CAST(greatest(sum(CASE WHEN credited THEN 0 ELSE outage_minutes END) - sum(carried_minutes), 0) "
            f"AS BIGINT) AS uncredited_minutes FROM {rows} GROUP BY line_id, month)")


def _passes(total: str, minutes: int, exceeds: bool) -> str:
    return f"{total} {'>' if exceeds else '>='} {int(minutes)}"


def month_lines_sql(exposed: str, keys: tuple[str, ...], months: str, rows: str,
                    thresholds: list[tuple[int, bool]]) -> str:
    """Per line with earlier minutes: its largest month total and, per threshold, the earlier minutes
    not credited yet in the months whose total passes it. ``exposed``: the roster joined to the
    exposure; ``months``: the exposure per key and month (``rules.impact.exposure_months``)."""
    on = " AND ".join(f"l.{k} = e.{k}" for k in keys)
    carried = ", ".join(
        f"CAST(sum(CASE WHEN {_passes('x.total', m, gt)} THEN x.uncredited ELSE 0 END) AS BIGINT) "
        f"AS {carried_column(m, gt)}" for m, gt in thresholds)
    return (
        f"(SELECT x.line_id, max(x.total) AS {MONTH_TOTAL}, {carried} FROM "
        f"(SELECT l.line_id, e.minutes + coalesce(h.earlier_minutes, CAST(0 AS BIGINT)) AS total, "
        f"coalesce(h.uncredited_minutes, CAST(0 AS BIGINT)) AS uncredited "
        f"FROM (SELECT line_id, {', '.join(keys)} FROM {exposed} WHERE line_id IN (SELECT line_id FROM {rows})) AS l "
        f"JOIN {months} AS e ON {on} "
        f"LEFT JOIN {earlier_sql(rows)} AS h ON h.line_id = l.line_id AND h.month = e.month) AS x "
        f"GROUP BY x.line_id)"
    )


def with_month(lines: str, month_lines: str, thresholds: list[tuple[int, bool]]) -> str:
    """``lines`` (the per-line relation) with the month columns: a line no earlier incident reached
    has its own monthly figure as its month total and takes in nothing."""
    carried = "".join(f", coalesce(m.{carried_column(mm, gt)}, CAST(0 AS BIGINT)) AS {carried_column(mm, gt)}"
                      for mm, gt in thresholds)
    return (f"(SELECT r.*, coalesce(m.{MONTH_TOTAL}, r.monthly_cumulative_minutes) AS {MONTH_TOTAL}{carried} "
            f"FROM {lines} AS r LEFT JOIN {month_lines} AS m ON r.line_id = m.line_id)")


def _scope(lines: str, own: Policy, dialect: str) -> str:
    """Per line: the month total, what its credit takes in, whether it is eligible, and whether it
    would be on this incident alone."""
    rules = compile_policy(own)
    alone = compile_policy(incident_scope(own))
    return (f"(SELECT line_id, {MONTH_TOTAL}, {render(rules.carried, dialect)} AS carried, "
            f"{render(rules.eligible, dialect)} AS eligible, {render(alone.eligible, dialect)} AS alone FROM {lines})")


def month_figures(query: Any, lines: str, rows: str, own: Policy, dialect: str) -> MonthFigures:
    """The ``month_history`` figures on any engine (``query``: an engine's
    :class:`kt_analysis.engine.figures.Query`; ``lines`` the per-line relation with the month columns,
    ``rows`` the earlier incidents' rows)."""
    scope = _scope(lines, own, dialect)
    per_incident = {str(i): (int(n), int(p)) for i, n, p in query.rows(
        f"SELECT h.incident_id, count(DISTINCT h.line_id), "
        f"count(DISTINCT CASE WHEN p.eligible AND NOT p.alone THEN h.line_id END) "
        f"FROM {rows} AS h JOIN {scope} AS p ON h.line_id = p.line_id GROUP BY h.incident_id")}
    pushed, carried = query.rows(
        f"SELECT count(*) FILTER (WHERE eligible AND NOT alone), CAST(coalesce(sum(carried), 0) AS BIGINT) "
        f"FROM {scope} AS p")[0]
    frame = query.frame(
        f"SELECT p.line_id, h.month, h.incident_id AS earlier_incident_id, h.outage_minutes AS earlier_minutes, "
        f"h.credited AS earlier_credited, CAST(p.{MONTH_TOTAL} AS INT) AS month_total_minutes, "
        f"CAST(p.carried AS INT) AS carried_minutes, p.eligible, (p.eligible AND NOT p.alone) AS pushed_over "
        f"FROM {rows} AS h JOIN {scope} AS p ON h.line_id = p.line_id "
        f"ORDER BY p.line_id, h.month, h.incident_id")
    return MonthFigures(per_incident=per_incident, pushed_over=int(pushed or 0), carried_minutes=int(carried or 0),
                        lines=frame)


def write_month_history(figures: MonthFigures, path: Path) -> None:
    """``month_history.parquet``: the same bytes from either engine's rows (written beside, then moved)."""
    frame = figures.lines
    columns = {f.name: pa.array(frame[f.name].tolist() if len(frame) else [], type=f.type)
               for f in MONTH_HISTORY_SCHEMA}
    tmp = path.with_name(path.name + ".partial")
    pq.write_table(pa.table(columns, schema=MONTH_HISTORY_SCHEMA), tmp, compression="zstd")
    os.replace(tmp, path)


# This incident's rows for the history (jobs/history.py), three Parquet files in one folder: each affected
# line with its exposure and whether this incident credited it; each exposure's minutes per calendar
# month (lines sharing an exposure share their minutes: a nationwide outage has a handful); and the
# earlier minutes the credits took in, per line and month (only where there are some).
LINES_SCHEMA = pa.schema([("line_id", pa.int64()), ("exposure_id", pa.int32()), ("credited", pa.bool_())])
EXPOSURES_SCHEMA = pa.schema([("exposure_id", pa.int32()), ("month", pa.string()), ("outage_minutes", pa.int32())])
CARRIED_SCHEMA = pa.schema([("line_id", pa.int64()), ("month", pa.string()), ("carried_minutes", pa.int32())])


@dataclass(frozen=True)
class HistoryRows:
    """This incident's rows for the history (``folder``: lines, exposures and carried ``.parquet``)."""

    folder: Path
    carried_minutes: int  # in all: what the credits took in

    @property
    def lines(self) -> Path:
        return self.folder / "lines.parquet"

    @property
    def exposures(self) -> Path:
        return self.folder / "exposures.parquet"

    @property
    def carried(self) -> Path:
        return self.folder / "carried.parquet"


def history_rows(con: duckdb.DuckDBPyConnection, ledger: Path, own: Policy, months: tuple[str, ...],
                 rows: Path | None, per_key: pd.DataFrame | None, roster_sql: str | None, folder: Path) -> HistoryRows:
    """This incident's rows for the history, from its ledger (any engine's): per affected line its
    exposure and whether this incident credited it (eligible); per exposure its minutes per month;
    per line and month the earlier, uncredited minutes its credit took in (``rows``: the earlier
    incidents' rows it read).

    One month: an exposure is the line's outage minutes, and the ledger is all it takes. Several
    months: an exposure is a key of the roster (``per_key``: its minutes per month), and the roster's
    keys (``roster_sql``) say which line has which. Checked: the lines' minutes by month add up to
    the ledger's outage minutes."""
    folder.mkdir(parents=True, exist_ok=True)
    out = HistoryRows(folder, 0)
    cur = con.cursor()  # its own: the caller's connection may hold a result not fetched to the end
    led = f"read_parquet({quote(ledger)})"
    try:
        if len(months) == 1:
            month = quote(months[0])
            lines = f"SELECT line_id, CAST(outage_minutes AS INTEGER) AS exposure_id, eligible AS credited FROM {led}"
            exposures = (f"SELECT DISTINCT CAST(outage_minutes AS INTEGER) AS exposure_id, {month} AS month, "
                         f"CAST(outage_minutes AS INTEGER) AS outage_minutes FROM {led}")
            minutes_of = f"{led} AS l", f"l.line_id = h.line_id AND h.month = {month}", "l.outage_minutes"
        else:
            assert per_key is not None and roster_sql is not None, "a multi-month incident's rows need its keys"
            keys = [c for c in per_key.columns if c not in ("month", "minutes")]
            ids = per_key[keys].drop_duplicates().sort_values(keys).reset_index(drop=True)
            ids["exposure_id"] = ids.index.astype("int32")
            cur.register("history_keys", ids)
            cur.register("history_months", per_key.merge(ids, on=keys))
            on = " AND ".join(f"r.{k} = k.{k}" for k in keys)
            lines = (f"SELECT l.line_id, k.exposure_id, l.eligible AS credited FROM {led} AS l "
                     f"JOIN (SELECT line_id, {', '.join(keys)} FROM {roster_sql}) AS r ON r.line_id = l.line_id "
                     f"JOIN history_keys AS k ON {on}")
            exposures = ("SELECT exposure_id, month, CAST(minutes AS INTEGER) AS outage_minutes FROM history_months")
            minutes_of = (f"{led} AS l JOIN ({lines}) AS x ON x.line_id = l.line_id "
                          f"JOIN history_months AS e ON e.exposure_id = x.exposure_id",
                          "l.line_id = h.line_id AND h.month = e.month", "e.minutes")
        cur.execute(f"COPY ({lines} ORDER BY line_id) TO {quote(out.lines)} (FORMAT parquet, COMPRESSION zstd)")
        cur.execute(f"COPY ({exposures} ORDER BY exposure_id, month) TO {quote(out.exposures)} "
                    f"(FORMAT parquet, COMPRESSION zstd)")
        carried = _carried_sql(own, rows, *minutes_of)
        cur.execute(f"COPY ({carried}) TO {quote(out.carried)} (FORMAT parquet, COMPRESSION zstd)")
        split, whole, total = cur.execute(
            f"SELECT (SELECT CAST(coalesce(sum(CAST(e.outage_minutes AS BIGINT)), 0) AS BIGINT) "
            f"FROM read_parquet({quote(out.lines)}) AS l JOIN read_parquet({quote(out.exposures)}) AS e "
            f"USING (exposure_id)), (SELECT CAST(coalesce(sum(outage_minutes), 0) AS BIGINT) FROM {led}), "
            f"(SELECT CAST(coalesce(sum(carried_minutes), 0) AS BIGINT) FROM read_parquet({quote(out.carried)}))"
        ).fetchall()[0]
    finally:
        cur.close()
    if split != whole:
        raise RunError(f"reconciliation failed: the ledger has {whole:,} outage minutes but its lines' minutes "
                       f"split by calendar month add up to {split:,} — nothing was published")
    return HistoryRows(folder, int(total))


def _carried_sql(own: Policy, rows: Path | None, source: str, on: str, minutes: str) -> str:
    """Per line and month, the earlier uncredited minutes the line's credit took in: when it was paid
    under a rule that counts across the month, for the months whose total passes the threshold."""
    carries = carrying_rules(own) if across_month(own.eligibility) else ()
    empty = ("SELECT CAST(NULL AS BIGINT) AS line_id, CAST(NULL AS VARCHAR) AS month, "
             "CAST(NULL AS INTEGER) AS carried_minutes WHERE false")
    if not carries:
        return empty
    elig = own.eligibility
    assert rows is not None and elig.min_monthly_cumulative_minutes is not None
    total = f"({minutes} + h.earlier_minutes)"
    return (f"SELECT * FROM (SELECT l.line_id, h.month, CAST(CASE WHEN l.eligible AND CAST(l.rule AS VARCHAR) IN "
            f"({', '.join(map(quote, carries))}) AND "
            f"{_passes(total, elig.min_monthly_cumulative_minutes, elig.monthly_cumulative_exceeds)} "
            f"THEN h.uncredited_minutes ELSE 0 END AS INTEGER) AS carried_minutes "
            f"FROM {source} JOIN {earlier_sql(f'read_parquet({quote(rows)})')} AS h ON {on}) "
            f"WHERE carried_minutes > 0 ORDER BY line_id, month")


def check_carried(incident_id: str, summary_carried: int, rows_carried: int, not_published: str) -> None:
    """The minutes the credits took in (the per-line pass) are the minutes the history rows record."""
    if summary_carried != rows_carried:
        raise RunError(f"{incident_id}: reconciliation failed: the credits took in {summary_carried:,} earlier "
                       f"minutes but the history rows record {rows_carried:,} — {not_published}")


__all__ = [
    "EARLIER_ROWS", "MONTH_HISTORY_FILE", "MONTH_HISTORY_SCHEMA", "ROWS_SCHEMA", "Earlier", "EarlierRun",
    "MonthFigures",
    "CARRIED_SCHEMA", "EXPOSURES_SCHEMA", "HistoryRows", "LINES_SCHEMA", "check_carried", "earlier_sql",
    "history_rows", "month_figures", "month_lines_sql", "uses_month", "with_month", "write_month_history",
    "write_rows",
]
