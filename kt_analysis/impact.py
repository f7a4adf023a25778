"""Who is affected and for how long: outage windows → per-line outage minutes.

A window reaches a line through the line's service, region and facility. Lines that share those
three values share their windows, so the outage figures are computed once per such key (a few
thousand keys for 35M lines) in plain Python, and joined to the roster in DuckDB. Overlapping
windows are merged first: a minute of outage is never counted twice.
"""

from __future__ import annotations

import calendar
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

import numpy as np
import pandas as pd

from .incident import Incident, Window

KEY_ORDER = ("service", "region", "facility_id")
EXPOSURE_COLUMNS = (
    "outage_start", "outage_end", "outage_minutes", "longest_continuous_minutes",
    "monthly_cumulative_minutes", "outage_days", "days_in_month", "window_count",
)


@dataclass(frozen=True)
class Exposure:
    """A line's outage, from the merged windows that reach it."""

    outage_start: datetime
    outage_end: datetime
    outage_minutes: int
    longest_continuous_minutes: int
    monthly_cumulative_minutes: int  # the largest total within one calendar month
    outage_days: int  # outage time rounded up to whole days (for fixed tiers by days)
    days_in_month: int  # days of the month the outage started in (for `days_in_month` fees)
    window_count: int


def merge_intervals(intervals: Iterable[tuple[datetime, datetime]]) -> list[tuple[datetime, datetime]]:
    """Merge overlapping or touching intervals.

    >>> from datetime import datetime as d
    >>> merge_intervals([(d(2021, 1, 1, 10), d(2021, 1, 1, 12)), (d(2021, 1, 1, 11), d(2021, 1, 1, 13))])
    [(datetime.datetime(2021, 1, 1, 10, 0), datetime.datetime(2021, 1, 1, 13, 0))]
    """
    merged: list[tuple[datetime, datetime]] = []
    for start, end in sorted(intervals):
        if merged and start <= merged[-1][1]:
            if end > merged[-1][1]:
                merged[-1] = (merged[-1][0], end)
        else:
            merged.append((start, end))
    return merged


def _minutes(delta: timedelta) -> int:
    return int(delta.total_seconds()) // 60


def _month_start(t: datetime) -> datetime:
    return t.replace(day=1, hour=0, minute=0, second=0, microsecond=0)


def _next_month(t: datetime) -> datetime:
    return (t.replace(day=28) + timedelta(days=4)).replace(day=1, hour=0, minute=0, second=0, microsecond=0)


def exposure_of(intervals: Sequence[tuple[datetime, datetime]]) -> Exposure:
    """Outage figures of one line from the (unmerged) windows that reach it."""
    merged = merge_intervals(intervals)
    total = sum(_minutes(e - s) for s, e in merged)
    longest = max(_minutes(e - s) for s, e in merged)
    by_month: dict[datetime, int] = defaultdict(int)
    for start, end in merged:
        cursor = start
        while cursor < end:
            boundary = min(end, _next_month(cursor))
            by_month[_month_start(cursor)] += _minutes(boundary - cursor)
            cursor = boundary
    first = merged[0][0]
    return Exposure(
        outage_start=first,
        outage_end=merged[-1][1],
        outage_minutes=total,
        longest_continuous_minutes=longest,
        monthly_cumulative_minutes=max(by_month.values()),
        outage_days=-(-total // 1440),
        days_in_month=calendar.monthrange(first.year, first.month)[1],
        window_count=len(intervals),
    )


def key_columns(windows: Sequence[Window]) -> tuple[str, ...]:
    """The roster columns that decide which windows reach a line."""
    cols = {"service"}
    if any(w.regions for w in windows):
        cols.add("region")
    if any(w.facilities for w in windows):
        cols.add("facility_id")
    return tuple(c for c in KEY_ORDER if c in cols)


def exposure_table(incident: Incident, keys: pd.DataFrame) -> pd.DataFrame:
    """One row per key (the roster's distinct key values) reached by at least one window."""
    cols = list(keys.columns)
    reached: dict[int, list[tuple[datetime, datetime]]] = defaultdict(list)
    services_filter = set(incident.services) if incident.services else None
    base = np.ones(len(keys), dtype=bool)
    if services_filter is not None:
        base &= keys["service"].isin(services_filter).to_numpy()
    # Windows with the same reach are handled together (a windows file repeats facilities).
    for window in incident.windows:
        mask = base.copy()
        if window.services:
            mask &= keys["service"].isin(window.services).to_numpy()
        if window.regions:
            mask &= keys["region"].isin(window.regions).to_numpy()
        if window.facilities:
            mask &= keys["facility_id"].isin(window.facilities).to_numpy()
        for idx in np.flatnonzero(mask):
            reached[int(idx)].append((window.start, window.end))
    rows = []
    for idx in sorted(reached):
        exp = exposure_of(reached[idx])
        rows.append([*keys.iloc[idx].tolist(), *(getattr(exp, c) for c in EXPOSURE_COLUMNS)])
    table = pd.DataFrame(rows, columns=[*cols, *EXPOSURE_COLUMNS])
    for c in EXPOSURE_COLUMNS:
        if c not in ("outage_start", "outage_end"):
            table[c] = table[c].astype("int64")
    for c in ("outage_start", "outage_end"):
        table[c] = pd.to_datetime(table[c]).astype("datetime64[us]")
    for c in cols:
        table[c] = table[c].astype(object)
    return table
