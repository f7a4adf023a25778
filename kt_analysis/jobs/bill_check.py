"""The pre-charge check: does a month's bill run repeat an earlier month's?

In September 2023 KT sent its card companies the July amounts for 1.46M customers: the
billing-month field was mis-entered, and the September run went out as a copy of July's
(facts §4). Totals would hardly have caught it: two months' totals over the same lines differ
by a percent or so (on the synthetic bills, 2023-07 and 2023-09 by 0.7%). What gives such a
run away is per line: a real bill differs from the month before on most lines (usage,
instalments, one-offs), so only a minority of lines, about 37% on the synthetic bills
(``synthetic.BILL_SAME_AMOUNT_SHARE``), has exactly last month's amount. A run that repeats
month X has X's amount on every line.

:func:`check_bills` measures, for the run of ``month``, the share of lines whose amount equals
exactly each earlier month's, and compares it with the month-over-month share of the months
before (the baseline); it also compares the run's total, mean, median and p90 with the previous
months', and counts lines that are missing, new or billed twice. Everything runs in DuckDB over
the file and only one row per month comes back. When every month bills the same lines in the
same order (a bill system's own files, and the synthetic ones) the months are read side by side
in one positional pass; otherwise the run's lines are the build side of hash joins.

Verdicts: ``ok`` (charge), ``suspect`` (a person looks first), ``blocked`` (do not send). The
thresholds are the module constants below; each reason names the figures it rests on.
"""

from __future__ import annotations

import math
import os
import re
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from kt_analysis.errors import InputError
from kt_analysis.inputs.bills import open_bills

__all__ = [
    "BASELINE_MONTHS",
    "BLOCKED_EXCESS",
    "EXIT_CODES",
    "FALLBACK_BASELINE",
    "LINES_BLOCKED",
    "LINES_SUSPECT",
    "LOOKBACK_MONTHS",
    "MIN_Z",
    "SHIFT_BLOCKED",
    "SHIFT_MONTHS",
    "SHIFT_SUSPECT",
    "SUSPECT_EXCESS",
    "BillCheck",
    "check_bills",
    "swap_month",
]

Verdict = Literal["ok", "suspect", "blocked"]

# ---- thresholds ------------------------------------------------------------------------------
# "Excess" is a month's equal share minus the baseline, in share of lines (0.02 = 2 points).
# A run that repeats month X for a fraction f of its lines has an excess of f × (1 − baseline)
# on X: with a baseline of 37%, a full repeat is +63 points, a repeat for the card payers
# (about 16.5% of lines) +10 points, and KT's 1.46M lines in a run of its ~43.8M lines about
# +2.1 points.

SUSPECT_EXCESS = 0.02
"""An earlier month matched exactly on ≥ 2 points more lines than the baseline: ``suspect``.

Below this, month-to-month drift in real bills (seasonal roaming, instalments ending) can move
the equal share by a point or so; above it, a slice of the run likely repeats that month."""

BLOCKED_EXCESS = 0.25
"""≥ 25 points above the baseline: ``blocked``. A quarter of the lines or more look repeated."""

MIN_Z = 5.0
"""…and only when the excess is at least 5 standard errors of a binomial share: on a run of a
few hundred lines a few points are noise, on 35M lines 0.1 point is not."""

BASELINE_MONTHS = 3
"""The baseline is the median month-over-month equal share of the 3 months before ``month``
(each against its own previous month), measured on the run's lines."""

FALLBACK_BASELINE = 0.40
"""Baseline assumed when the file holds fewer than two earlier months (no month-over-month
history): a little above the synthetic 37.5%, so it errs towards ``ok``; the reasons say so."""

LOOKBACK_MONTHS = 12
"""The run is compared with each month of the file up to 12 months before it."""

SHIFT_MONTHS = 3
"""Total, mean, median and p90 are compared with the median of the 3 previous months."""

SHIFT_SUSPECT = 0.10
"""Total, mean, median or p90 more than 10% away from the previous months: ``suspect``."""

SHIFT_BLOCKED = 0.50
"""More than 50% away (a run of zeros, amounts ×10, half the run lost): ``blocked``."""

LINES_SUSPECT = 0.02
"""Lines billed last month but missing from the run, or new lines never billed before, above
2% of last month's lines: ``suspect`` (monthly churn and new activations are ~1-2%)."""

LINES_BLOCKED = 0.20
"""Above 20%: ``blocked`` (a truncated or mixed-up file)."""

EXIT_CODES: dict[str, int] = {"ok": 0, "suspect": 3, "blocked": 4}
"""What ``kt-analysis check-bills`` exits with for each verdict (2 is bad input)."""

_SEVERITY = {"ok": 0, "suspect": 1, "blocked": 2}
_MONTH = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$")
_STATS = ("total_krw", "mean_krw", "median_krw", "p90_krw")


@dataclass(frozen=True, eq=False)
class BillCheck:
    """The outcome of :func:`check_bills` for one month's bill run.

    ``matches`` has one row per earlier month: ``bill_month``; ``lines`` (the run's lines billed
    that month too); ``equal_lines`` and ``equal_share`` (of those, how many have exactly that
    month's amount now); ``mom_equal_share`` (that month against its own previous month, on the
    run's lines; only for the ``BASELINE_MONTHS`` latest months); ``excess`` (``equal_share``
    minus ``baseline_equal_share``); ``total_krw``, ``mean_krw``, ``median_krw``, ``p90_krw``
    of that month's bills on the run's lines. ``current`` holds the same four figures and
    ``lines`` for the run itself. Medians and p90 are DuckDB's exact ``quantile_disc`` (an
    amount some line was billed); totals are exact.
    """

    bills: str
    month: str
    candidate: str | None
    verdict: Verdict
    reasons: tuple[str, ...]
    matches: pd.DataFrame
    baseline_equal_share: float
    baseline_is_assumed: bool
    looks_like: str | None
    current: dict[str, int]
    previous_month: str | None
    missing_lines: int
    new_lines: int
    duplicate_lines: int
    thresholds: dict[str, float] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-serialisable summary (plain ints, floats, strings; NaN becomes None)."""

        def clean(value: Any) -> Any:
            if isinstance(value, (np.integer,)):
                return int(value)
            if isinstance(value, (float, np.floating)):
                return None if math.isnan(value) else round(float(value), 6)
            return value

        return {
            "bills": self.bills,
            "candidate": self.candidate,
            "month": self.month,
            "verdict": self.verdict,
            "reasons": list(self.reasons),
            "looks_like": self.looks_like,
            "baseline_equal_share": clean(self.baseline_equal_share),
            "baseline_is_assumed": self.baseline_is_assumed,
            "current": {k: clean(v) for k, v in self.current.items()},
            "previous_month": self.previous_month,
            "missing_lines": self.missing_lines,
            "new_lines": self.new_lines,
            "duplicate_lines": self.duplicate_lines,
            "matches": [{k: clean(v) for k, v in row.items()} for row in self.matches.to_dict("records")],
            "thresholds": dict(self.thresholds),
        }

    def _repr_html_(self) -> str:  # what JupyterLab shows
        from html import escape

        items = "".join(f"<li>{escape(r)}</li>" for r in self.reasons)
        return (f"<p><b>{escape(self.month)}: {escape(self.verdict)}</b></p><ul>{items}</ul>"
                + self.matches.to_html(index=False))


# ---- input -----------------------------------------------------------------------------------


def _q(text: str) -> str:
    return "'" + str(text).replace("'", "''") + "'"


def _month_index(text: object, path: str, where: str) -> int:
    match = _MONTH.fullmatch(text) if isinstance(text, str) else None
    if match is None:
        raise InputError(path, where, f"is not a month YYYY-MM: {text!r}", "write it like 2023-09")
    return int(match.group(1)) * 12 + int(match.group(2)) - 1


def _month_label(index: int) -> str:
    return f"{index // 12:04d}-{index % 12 + 1:02d}"


def _source(con: duckdb.DuckDBPyConnection, path: Path, role: str) -> tuple[str, dict[str, int]]:
    """SQL for a bills file (Parquet, folder of Parquet, CSV) and its rows per month, checked on
    every row by :func:`kt_analysis.inputs.bills.open_bills` (types declared, not guessed)."""
    bills = open_bills(con, path, role)
    return bills.sql, bills.months


def _available(months: Iterable[str]) -> str:
    months = sorted(months)
    if not months:
        return "the file holds no bills"
    if len(months) <= 4:
        return "months in the file: " + ", ".join(months)
    return f"the file holds {len(months)} months, {months[0]} … {months[-1]}"


def _connect() -> duckdb.DuckDBPyConnection:
    # Insertion order is kept (DuckDB's default): the fast path reads months side by side. No
    # progress bar: DuckDB would draw it on the terminal of a library call or a scheduled job.
    con = duckdb.connect(config={"preserve_insertion_order": True})
    con.execute("SET enable_progress_bar = false")
    return con


# ---- the check -------------------------------------------------------------------------------


def _percent(share: float) -> str:
    return f"{share * 100:.1f}%"


def _won(value: float) -> str:
    return f"{round(value):,}원"


def _change(now: float, before: float) -> float:
    if before == 0:
        return 0.0 if now == 0 else math.inf
    return now / before - 1


def check_bills(bills: str | Path, month: str, *, candidate: str | Path | None = None) -> BillCheck:
    """Check the bill run of ``month`` against the earlier months of ``bills``.

    ``bills`` is a Parquet file (or folder of them, or a CSV) with ``line_id``, ``bill_month``
    (``YYYY-MM``) and ``amount_krw``. Without ``candidate``, the run is ``bills``' own rows for
    ``month``; with it, the run is ``candidate``'s rows for ``month`` (a run about to be sent,
    whole or one batch of it, e.g. the card payers charged on the 11th) and ``bills`` is the
    history. Either way the run is compared with the ``LOOKBACK_MONTHS`` months before
    ``month`` that the file holds, and everything is measured on the run's lines. For a
    candidate, lines of last month that it does not hold are counted but not judged (a batch
    holds a part of the lines by design).

    Raises :class:`~kt_analysis.errors.InputError` for a missing or unreadable file, a bad
    month, or a month the run does not hold.
    """
    bills_path = Path(bills)
    target = _month_index(month, str(bills_path), "--month")
    con = _connect()
    try:
        hist_sql, hist_counts = _source(con, bills_path, "bills")
        if candidate is None:
            run_sql, run_counts, run_path = hist_sql, hist_counts, bills_path
        else:
            run_path = Path(candidate)
            run_sql, run_counts = _source(con, run_path, "candidate")
        if month not in run_counts:
            raise InputError(str(run_path), "bill_month", f"has no bills for {month} ({_available(run_counts)})",
                             "check one of those months, or name the right file")
        earliest = _month_label(target - LOOKBACK_MONTHS)
        earlier = sorted(m for m in hist_counts if earliest <= m < month)
        con.execute(
            f"CREATE TEMP TABLE run AS SELECT CAST(line_id AS BIGINT) AS line_id, "
            f"CAST(amount_krw AS BIGINT) AS amount_krw FROM {run_sql} WHERE bill_month = {_q(month)}"
        )
        current, duplicates = _run_figures(con, run_path)
        pairs = _mom_pairs(earlier)
        shift = earlier[-SHIFT_MONTHS:]
        figures = None
        if earlier and all(hist_counts[m] == current["lines"] for m in earlier):
            figures = _compare_aligned(con, hist_sql, earlier, pairs, shift)
        if figures is None:
            figures = _compare_hashed(con, hist_sql, earlier, pairs, shift)
        matches, mom = figures
    finally:
        con.close()
    return _assemble(bills_path, month, None if candidate is None else str(candidate), current, duplicates,
                     matches, mom, hist_counts)


def _run_figures(con: duckdb.DuckDBPyConnection, path: Path) -> tuple[dict[str, Any], int]:
    """Lines, total, mean, median, p90 of the run (exact), and how many lines it bills twice."""
    lines, no_line, no_amount, total, mean, quantiles = con.execute(
        "SELECT count(*), count(*) - count(line_id), count(*) - count(amount_krw), CAST(sum(amount_krw) AS BIGINT), "
        "avg(amount_krw), quantile_disc(amount_krw, [0.5, 0.9]) FROM run"
    ).fetchall()[0]
    for column, count in (("line_id", no_line), ("amount_krw", no_amount)):
        if count:
            raise InputError(str(path), column, f"{count:,} empty values in the run",
                             "every bill needs a line and an amount")
    median, p90 = quantiles if quantiles else (0, 0)
    current = {"lines": int(lines), "total_krw": int(total or 0), "mean_krw": float(mean or 0.0),
               "median_krw": int(median or 0), "p90_krw": int(p90 or 0)}
    # A run in strictly increasing line order bills no line twice: checked in one streamed pass
    # (bounded memory); only an unsorted run pays for the distinct count.
    last = None
    increasing = True
    for batch in con.sql("SELECT line_id FROM run").to_arrow_reader(1 << 20):
        ids = batch.column(0).to_numpy()
        if len(ids) and ((last is not None and ids[0] <= last) or bool((np.diff(ids) <= 0).any())):
            increasing = False
            break
        last = ids[-1] if len(ids) else last
    if increasing:
        return current, 0
    (distinct,) = con.execute("SELECT count(DISTINCT line_id) FROM run").fetchall()[0]
    return current, int(lines) - int(distinct)


def _mom_pairs(earlier: list[str]) -> list[tuple[str, str]]:
    """(month, its previous month) for the latest BASELINE_MONTHS months that have both."""
    present = set(earlier)
    pairs = []
    for m in reversed(earlier):
        prev = _month_label(_month_index(m, "", "") - 1)
        if prev in present:
            pairs.append((m, prev))
        if len(pairs) == BASELINE_MONTHS:
            break
    return pairs


def _compare_aligned(con: duckdb.DuckDBPyConnection, hist_sql: str, earlier: list[str],
                     pairs: list[tuple[str, str]], shift: list[str]) -> tuple[pd.DataFrame, dict[str, float]] | None:
    """The fast path: every month bills the same lines in the same order (a bill system's files).

    One positional pass reads the run and each earlier month side by side; it also checks that
    the line ids agree row by row, and gives up (None) if they do not.
    """
    scans = " ".join(
        f"POSITIONAL JOIN (SELECT CAST(line_id AS BIGINT) AS l{i}, CAST(amount_krw AS BIGINT) AS a{i} "
        f"FROM {hist_sql} WHERE bill_month = {_q(m)})"
        for i, m in enumerate(earlier)
    )
    index = {m: i for i, m in enumerate(earlier)}
    parts = ["count(*)"]
    for i in range(len(earlier)):
        parts += [f"count(*) FILTER (WHERE l{i} IS DISTINCT FROM r.line_id)",
                  f"count(*) FILTER (WHERE a{i} = r.amount_krw)", f"CAST(sum(a{i}) AS BIGINT)"]
    parts += [f"count(*) FILTER (WHERE a{index[m]} = a{index[p]})" for m, p in pairs]
    row = con.execute(f"SELECT {', '.join(parts)} FROM run AS r {scans}").fetchall()[0]
    n, rest = int(row[0]), row[1:]
    if any(rest[3 * i] for i in range(len(earlier))):
        return None
    records = []
    for i, m in enumerate(earlier):
        _, equal, total = rest[3 * i: 3 * i + 3]
        records.append({"bill_month": m, "lines": n, "equal_lines": int(equal), "total_krw": int(total or 0)})
    mom = {m: int(same) / n for (m, _), same in zip(pairs, rest[3 * len(earlier):], strict=True) if n}
    quantiles = {
        m: con.execute(f"SELECT quantile_disc(amount_krw, [0.5, 0.9]) FROM {hist_sql} "
                       f"WHERE bill_month = {_q(m)}").fetchall()[0][0]
        for m in shift
    }
    return _matches_frame(records, quantiles), mom


def _compare_hashed(con: duckdb.DuckDBPyConnection, hist_sql: str, earlier: list[str],
                    pairs: list[tuple[str, str]], shift: list[str]) -> tuple[pd.DataFrame, dict[str, float]]:
    """The general path: hash joins on line_id, with the run (often the smaller side) as build."""
    if not earlier:
        return _matches_frame([], {}), {}
    months_sql = ", ".join(_q(m) for m in earlier)
    rows = con.execute(
        f"SELECT CAST(h.bill_month AS VARCHAR), count(*), count(*) FILTER (WHERE h.amount_krw = r.amount_krw), "
        f"CAST(sum(h.amount_krw) AS BIGINT) "
        f"FROM (SELECT line_id, bill_month, amount_krw FROM {hist_sql} WHERE bill_month IN ({months_sql})) AS h "
        f"JOIN run AS r ON h.line_id = r.line_id GROUP BY 1"
    ).fetchall()
    found = {m: (int(n), int(eq), int(total or 0)) for m, n, eq, total in rows}
    records = [{"bill_month": m, "lines": found.get(m, (0, 0, 0))[0], "equal_lines": found.get(m, (0, 0, 0))[1],
                "total_krw": found.get(m, (0, 0, 0))[2]} for m in earlier]
    mom = {}
    for m, p in pairs:
        both, same = con.execute(
            f"SELECT count(*), count(*) FILTER (WHERE e.amount_krw = p.amount_krw) "
            f"FROM (SELECT line_id, amount_krw FROM {hist_sql} WHERE bill_month = {_q(m)}) AS e "
            f"JOIN (SELECT line_id, amount_krw FROM {hist_sql} WHERE bill_month = {_q(p)}) AS p "
            f"ON e.line_id = p.line_id JOIN run AS r ON e.line_id = r.line_id"
        ).fetchall()[0]
        if both:
            mom[m] = same / both
    quantiles = {
        m: con.execute(f"SELECT quantile_disc(h.amount_krw, [0.5, 0.9]) FROM {hist_sql} AS h "
                       f"JOIN run AS r ON h.line_id = r.line_id WHERE h.bill_month = {_q(m)}").fetchall()[0][0]
        for m in shift
    }
    return _matches_frame(records, quantiles), mom


def _matches_frame(records: list[dict[str, Any]], quantiles: dict[str, Any]) -> pd.DataFrame:
    frame = pd.DataFrame.from_records(records, columns=["bill_month", "lines", "equal_lines", "total_krw"])
    frame = frame.astype({"bill_month": "object", "lines": "int64", "equal_lines": "int64", "total_krw": "int64"})
    lines = frame["lines"].where(frame["lines"] > 0)
    frame["equal_share"] = frame["equal_lines"] / lines
    frame["mean_krw"] = frame["total_krw"] / lines
    frame["median_krw"] = [float(quantiles[m][0]) if quantiles.get(m) else math.nan for m in frame["bill_month"]]
    frame["p90_krw"] = [float(quantiles[m][1]) if quantiles.get(m) else math.nan for m in frame["bill_month"]]
    return frame


def _assemble(bills_path: Path, month: str, candidate: str | None, current: dict[str, Any], duplicates: int,
              matches: pd.DataFrame, mom: dict[str, float], hist_counts: dict[str, int]) -> BillCheck:
    matches["mom_equal_share"] = matches["bill_month"].map(mom).astype("float64")
    assumed = not mom
    baseline = float(np.median(list(mom.values()))) if mom else FALLBACK_BASELINE
    matches["excess"] = matches["equal_share"] - baseline
    columns = ["bill_month", "lines", "equal_lines", "equal_share", "mom_equal_share", "excess", *_STATS]
    matches = matches[columns].reset_index(drop=True)

    # Lines missing from the run or new in it, against the latest earlier month.
    previous = str(matches["bill_month"].iloc[-1]) if len(matches) else None
    missing = new = prev_lines = 0
    if previous is not None:
        both = int(matches["lines"].iloc[-1])
        prev_lines = hist_counts[previous]
        missing, new = max(prev_lines - both, 0), max(current["lines"] - duplicates - both, 0)

    verdict, reasons, looks_like = _judge(month, matches, baseline, assumed, current, previous, missing, new,
                                          duplicates, candidate is not None, prev_lines)
    thresholds = {
        "SUSPECT_EXCESS": SUSPECT_EXCESS, "BLOCKED_EXCESS": BLOCKED_EXCESS, "MIN_Z": MIN_Z,
        "BASELINE_MONTHS": BASELINE_MONTHS, "FALLBACK_BASELINE": FALLBACK_BASELINE,
        "LOOKBACK_MONTHS": LOOKBACK_MONTHS, "SHIFT_MONTHS": SHIFT_MONTHS, "SHIFT_SUSPECT": SHIFT_SUSPECT,
        "SHIFT_BLOCKED": SHIFT_BLOCKED, "LINES_SUSPECT": LINES_SUSPECT, "LINES_BLOCKED": LINES_BLOCKED,
    }
    return BillCheck(
        bills=str(bills_path), month=month, candidate=candidate, verdict=verdict, reasons=tuple(reasons),
        matches=matches, baseline_equal_share=baseline, baseline_is_assumed=assumed, looks_like=looks_like,
        current=current, previous_month=previous, missing_lines=missing, new_lines=new,
        duplicate_lines=duplicates, thresholds=thresholds,
    )


def _judge(month: str, matches: pd.DataFrame, baseline: float, assumed: bool, current: dict[str, Any],
           previous: str | None, missing: int, new: int, duplicates: int, is_candidate: bool,
           prev_total: int) -> tuple[Verdict, list[str], str | None]:
    """Verdict and reasons, worst first. Pure: figures in, words out."""
    findings: list[tuple[int, str]] = []
    run_lines = current["lines"]
    against = f"{_percent(baseline)} month over month" + (" (assumed: too little history)" if assumed else "")

    if not len(matches):
        findings.append((1, f"no bills in the {LOOKBACK_MONTHS} months before {month}: nothing to compare this run "
                            f"with"))
        return _verdict(findings, None)

    # 1. Does the run repeat an earlier month?
    flagged = _flagged_months(matches, baseline)
    looks_like = flagged[0].bill_month if flagged else None
    findings += _repeat_findings(flagged, baseline, against)

    # 2. Has the distribution moved?
    recent = matches[matches["lines"] > 0].tail(SHIFT_MONTHS)
    shift_findings, worst_shift = _shift_findings(recent, current)
    findings += shift_findings
    if flagged and worst_shift <= SHIFT_SUSPECT:
        last = matches.iloc[-1]
        findings.append((0, f"the total is {_change(current['total_krw'], float(last['total_krw'])):+.1%} against "
                            f"{last['bill_month']}, and total, mean, median and p90 are within {worst_shift:.1%} of "
                            f"their median over {', '.join(recent['bill_month'])}: a check on totals alone would not "
                            f"have caught this"))

    # 3. Lines missing, new, billed twice.
    findings += _line_findings(month, run_lines, previous, missing, new, duplicates, is_candidate, prev_total)

    compared = matches.dropna(subset=["equal_share"])
    if not any(level for level, _ in findings) and len(compared):
        top = compared.loc[compared["equal_share"].idxmax()]
        findings.insert(0, (0, f"no earlier month stands out: at most {_percent(top['equal_share'])} of lines "
                               f"equal an earlier bill ({top['bill_month']}), against {against}"))
        findings.append((0, f"total {_won(current['total_krw'])} over {run_lines:,} lines; total, mean, median and "
                            f"p90 within {worst_shift:.1%} of their median over {', '.join(recent['bill_month'])}"))
    return _verdict(findings, looks_like)


def _flagged_months(matches: pd.DataFrame, baseline: float) -> list[Any]:
    """The earlier months whose equal share stands out from the baseline (by ``SUSPECT_EXCESS`` and
    ``MIN_Z`` standard errors), largest excess first."""
    flagged = []
    for row in matches.itertuples(index=False):
        if row.lines == 0 or math.isnan(row.equal_share):
            continue
        se = math.sqrt(max(baseline * (1 - baseline), 1e-12) / row.lines)
        z = row.excess / se
        if row.excess >= SUSPECT_EXCESS and z >= MIN_Z:
            flagged.append(row)
    flagged.sort(key=lambda r: -r.excess)
    return flagged


def _repeat_findings(flagged: list[Any], baseline: float, against: str) -> list[tuple[int, str]]:
    """The three most flagged months: ``blocked`` from ``BLOCKED_EXCESS``, ``suspect`` below it with
    the share of the run that seems to repeat the month."""
    findings: list[tuple[int, str]] = []
    for row in flagged[:3]:
        if row.excess >= BLOCKED_EXCESS:
            findings.append((2, f"{_percent(row.equal_share)} of lines equal their {row.bill_month} bill exactly, "
                                f"against {against}: this run looks like {row.bill_month}'s"))
        else:
            share = row.excess / (1 - baseline) if baseline < 1 else 1.0
            findings.append((1, f"{_percent(row.equal_share)} of lines equal their {row.bill_month} bill exactly, "
                                f"against {against}: about {_percent(share)} of the run "
                                f"(≈ {round(share * row.lines):,} lines) seem to carry their {row.bill_month} amount"))
    return findings


def _shift_findings(recent: pd.DataFrame, current: dict[str, Any]) -> tuple[list[tuple[int, str]], float]:
    """The run's total, mean, median and p90 against their median over the ``recent`` months: the
    figures that moved more than ``SHIFT_SUSPECT``, and the largest move."""
    findings: list[tuple[int, str]] = []
    worst_shift = 0.0
    for stat, label in zip(_STATS, ("total", "mean", "median", "p90"), strict=True):
        values = recent[stat].to_numpy(dtype="float64")
        values = values[~np.isnan(values)]
        if not len(values):
            continue
        before = float(np.median(values))
        change = _change(float(current[stat]), before)
        worst_shift = max(worst_shift, abs(change))
        if abs(change) > SHIFT_SUSPECT:
            level = 2 if abs(change) > SHIFT_BLOCKED else 1
            findings.append((level, f"{label} {_won(current[stat])} is {change:+.1%} against {_won(before)} "
                                    f"(median of {', '.join(recent['bill_month'])})"))
    return findings, worst_shift


def _line_findings(month: str, run_lines: int, previous: str | None, missing: int, new: int, duplicates: int,
                   is_candidate: bool, prev_total: int) -> list[tuple[int, str]]:
    """Lines missing from the run or new in it (against ``previous``, beyond ``LINES_SUSPECT``; missing
    lines are not judged for a candidate), and lines billed twice."""
    findings: list[tuple[int, str]] = []
    if previous is not None and prev_total:
        for count, what, judged in ((missing, f"billed in {previous} are missing from the run", not is_candidate),
                                    (new, f"of the run were not billed in {previous}", True)):
            share = count / prev_total
            if count and judged and share > LINES_SUSPECT:
                level = 2 if share > LINES_BLOCKED else 1
                findings.append((level, f"{count:,} lines ({_percent(share)}) {what}"))
            elif count and not judged:
                findings.append((0, f"{count:,} lines {what}: not judged, the candidate may be one batch of the run"))
    if duplicates:
        level = 2 if duplicates / max(run_lines, 1) > LINES_SUSPECT else 1
        findings.append((level, f"{duplicates:,} lines are billed more than once in {month} "
                                f"(cf. the 2017 double withdrawal, facts §4)"))
    return findings


def _verdict(findings: list[tuple[int, str]], looks_like: str | None) -> tuple[Verdict, list[str], str | None]:
    level = max((lv for lv, _ in findings), default=0)
    verdict: Verdict = ("ok", "suspect", "blocked")[level]
    ordered = [text for lv, text in sorted(findings, key=lambda f: -f[0])]
    return verdict, ordered, looks_like


# ---- the swapped run, for tests and demos ----------------------------------------------------


def swap_month(bills: str | Path, wrong: str, charged: str, out: str | Path, *,
               lines_filter: Iterable[int] | None = None) -> Path:
    """Write a copy of ``bills`` whose ``wrong`` month carries the ``charged`` month's amounts.

    The September 2023 error is ``swap_month(bills, "2023-09", "2023-07", out)``. Only the lines
    in ``lines_filter`` (line ids; default: every line) are swapped, and only those billed in
    both months. Other months are copied as they are, month by month; the swapped month's rows
    come in ``line_id`` order. Written to a temporary file next to ``out`` and renamed into place.
    """
    src = Path(bills)
    out = Path(out)
    con = _connect()
    try:
        sql, months = _source(con, src, "bills")
        for value, where in ((wrong, "wrong"), (charged, "charged")):
            _month_index(value, str(src), where)
            if value not in months:
                raise InputError(str(src), where, f"has no bills for {value} ({_available(months)})",
                                 "pick a month the file holds")
        if wrong == charged:
            raise InputError(str(src), "charged", "is the same month as wrong", "name two different months")
        if lines_filter is None:
            picked = "TRUE"
        else:
            ids = np.fromiter((int(i) for i in lines_filter), dtype=np.int64)
            con.register("picked_lines", pa.table({"line_id": ids}))
            picked = "w.line_id IN (SELECT line_id FROM picked_lines)"
        out.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(prefix=f".{out.name}.", suffix=".tmp", dir=out.parent)
        os.close(fd)
        tmp = Path(tmp_name)
        schema = pa.schema([("line_id", pa.int64()), ("bill_month", pa.string()), ("amount_krw", pa.int64())])
        cols = "CAST(line_id AS BIGINT) AS line_id, CAST(bill_month AS VARCHAR) AS bill_month, " \
               "CAST(amount_krw AS BIGINT) AS amount_krw"
        try:
            with pq.ParquetWriter(str(tmp), schema, compression="zstd") as writer:
                for m in sorted(months):
                    if m == wrong:
                        query = (
                            f"SELECT w.line_id, w.bill_month, CASE WHEN c.amount_krw IS NOT NULL AND {picked} "
                            f"THEN c.amount_krw ELSE w.amount_krw END AS amount_krw "
                            f"FROM (SELECT {cols} FROM {sql} WHERE bill_month = {_q(wrong)}) AS w "
                            f"LEFT JOIN (SELECT {cols} FROM {sql} WHERE bill_month = {_q(charged)}) AS c "
                            f"ON w.line_id = c.line_id ORDER BY w.line_id"
                        )
                    else:
                        query = f"SELECT {cols} FROM {sql} WHERE bill_month = {_q(m)}"
                    reader = con.sql(query).to_arrow_reader(1_000_000)
                    for batch in reader:
                        writer.write_batch(batch.cast(schema))
            os.chmod(tmp, 0o644)
            os.replace(tmp, out)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
    finally:
        con.close()
    return out
