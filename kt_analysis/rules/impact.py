"""Who is affected and for how long: outage windows → per-line outage minutes.

A window reaches a line through the line's service, region and facility. Lines that share those
three values share their windows, so the outage figures are computed once per such key (a few
thousand keys for 35M lines) in plain Python, and joined to the roster in DuckDB. Overlapping
windows are merged first: a minute of outage is never counted twice.
"""

from __future__ import annotations

import calendar
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import TypedDict
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd

from kt_analysis.errors import InputError, InputErrors
from kt_analysis.inputs.incident import Incident, Window, to_utc
from kt_analysis.inputs.names import did_you_mean, normalize

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


def minutes_by_month(intervals: Sequence[tuple[datetime, datetime]], tz: ZoneInfo | None = None) -> dict[str, int]:
    """Outage minutes per calendar month (``YYYY-MM``, the zone's months) of the merged windows, as
    :func:`exposure_of` counts them: their largest value is its ``monthly_cumulative_minutes``.

    >>> from datetime import datetime as d
    >>> minutes_by_month([(d(2024, 8, 31, 23), d(2024, 9, 1, 1, 30)), (d(2024, 8, 10, 6), d(2024, 8, 10, 7))])
    {'2024-08': 120, '2024-09': 90}
    """
    return {f"{m:%Y-%m}": n for m, n in sorted(_by_month(intervals, tz).items())}


def _by_month(intervals: Sequence[tuple[datetime, datetime]], tz: ZoneInfo | None) -> dict[datetime, int]:
    return _months(*_merged(intervals, tz))


def _months(merged: list[tuple[datetime, datetime]], inst: Callable[[datetime], datetime],
            local: Callable[[datetime], datetime]) -> dict[datetime, int]:
    """The merged windows' minutes per calendar month (the month's first local instant)."""
    by_month: dict[datetime, int] = defaultdict(int)
    for start, end in merged:
        cursor = start
        while cursor < end:
            month = _month_start(local(cursor))
            boundary = min(end, inst(_next_month(month)))
            by_month[month] += _minutes(boundary - cursor)
            cursor = boundary
    return by_month


def _merged(intervals: Sequence[tuple[datetime, datetime]], tz: ZoneInfo | None) -> tuple[
        list[tuple[datetime, datetime]], Callable[[datetime], datetime], Callable[[datetime], datetime]]:
    """The windows merged as instants, with the two conversions (local → instant, instant → local)."""
    if tz is None:
        def inst(t: datetime) -> datetime:
            return t

        def local(t: datetime) -> datetime:
            return t
    else:
        zone = tz

        def inst(t: datetime) -> datetime:
            return to_utc(t, zone)

        def local(t: datetime) -> datetime:
            return t.astimezone(zone).replace(tzinfo=None)
    return merge_intervals((inst(s), inst(e)) for s, e in intervals), inst, local


def exposure_of(intervals: Sequence[tuple[datetime, datetime]], tz: ZoneInfo | None = None) -> Exposure:
    """Outage figures of one line from the (unmerged) windows that reach it.

    With ``tz`` the windows are naive local times in that zone and minutes are counted between
    the instants they name (a night when clocks change has 23 or 25 hours); calendar months are
    the zone's own. Without it, plain wall-clock arithmetic."""
    merged, inst, local = _merged(intervals, tz)
    total = sum(_minutes(e - s) for s, e in merged)
    longest = max(_minutes(e - s) for s, e in merged)
    by_month = _months(merged, inst, local)
    first = local(merged[0][0])
    return Exposure(
        outage_start=first,
        outage_end=local(merged[-1][1]),
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


NAME_COLUMNS = {"regions": "region", "facilities": "facility_id"}
WORDS = {"region": "region", "facility_id": "facility", "service": "service"}


class Unmatched(TypedDict):
    """A name no roster line has: its column, the name, where the incident writes it, the fix."""

    column: str
    value: str
    origins: list[str]
    fix: str


@dataclass
class Matches:
    """Which key rows (the roster's distinct service, region and facility values) each window
    reaches, and the names no roster line has."""

    per_window: list[np.ndarray]
    unmatched: list[Unmatched] = field(default_factory=list)
    empty: list[int] = field(default_factory=list)  # windows that reach no line


def match_windows(incident: Incident, keys: pd.DataFrame) -> Matches:
    """Match every window's names against the roster's key values, both sides normalised."""
    norm = {c: keys[c].map(normalize).to_numpy(dtype=object) for c in keys.columns if c in NAME_COLUMNS.values()}
    services = keys["service"].to_numpy(dtype=object)
    known = {c: set(v) for c, v in norm.items()}
    known["service"] = set(services)
    base = np.ones(len(keys), dtype=bool)
    if incident.services:
        base &= np.isin(services, incident.services)
    unmatched: dict[tuple[str, str], list[str]] = {}

    def note(column: str, value: str, origin: str) -> None:
        unmatched.setdefault((column, value), []).append(origin)

    for value in incident.services or ():
        if value not in known["service"]:
            note("service", value, f"{incident.path}: affected.services")
    per_window, empty = [], []
    for i, window in enumerate(incident.windows):
        mask = base.copy()
        if window.services:
            mask &= np.isin(services, window.services)
            for value in window.services:
                if value not in known["service"]:
                    note("service", value, window.origin)
        for attr, column in NAME_COLUMNS.items():
            names = getattr(window, attr)
            if names:
                mask &= np.isin(norm[column], names)
                for value in names:
                    if value not in known[column]:
                        note(column, value, window.origin)
        hits = np.flatnonzero(mask)
        per_window.append(hits)
        if hits.size == 0:
            empty.append(i)
    rows: list[Unmatched] = []
    for (column, value), origins in unmatched.items():
        pool = known[column]
        rows.append({"column": column, "value": value, "origins": origins,
                     "fix": did_you_mean(value, pool)})
    return Matches(per_window=per_window, unmatched=rows, empty=empty)


def unmatched_errors(incident: Incident, matches: Matches, roster: str) -> list[InputError]:
    """The refusals for names no roster line has and windows that reach no line."""
    errors = []
    for row in matches.unmatched:
        origins = row["origins"]
        first, *rest = origins
        path, _, where = str(first).partition(": ")
        path = incident._rel(Path(path))
        more = f" (also at {', '.join(o.partition(': ')[2] for o in rest[:3])}" + \
            (f" and {len(rest) - 3:,} more" if len(rest) > 3 else "") + ")" if rest else ""
        word = WORDS[str(row["column"])]
        errors.append(InputError(
            path, where, f"`{row['value']}`: no line of the roster {roster} has this {word}{more}",
            f"{row['fix']} (names match after Unicode NFC and trimming spaces; letter case counts; "
            "or write `allow_unmatched: true` under `affected:` to list such names instead)",
        ))
    named = {o for row in matches.unmatched for o in row["origins"]}
    for i in matches.empty:
        window = incident.windows[i]
        if window.origin in named:
            continue  # already explained by its unmatched name
        path, _, where = window.origin.partition(": ")
        path = incident._rel(Path(path))
        errors.append(InputError(
            path, where, f"reaches no line of the roster {roster} ({window.where}, "
            f"{window.start:%Y-%m-%d %H:%M}-{window.end:%Y-%m-%d %H:%M}): its names exist, but no line has "
            "them together" + (f" with services {', '.join(incident.services)}" if incident.services else ""),
            "check the window's services, regions and facilities against `kt-analysis roster describe`, "
            "or write `allow_unmatched: true` under `affected:`",
        ))
    return errors


def check_matches(incident: Incident, matches: Matches, roster: str) -> None:
    """Refuse unmatched names and empty windows unless the incident allows them."""
    if incident.allow_unmatched:
        return
    errors = unmatched_errors(incident, matches, roster)
    if len(errors) == 1:
        raise errors[0]
    if errors:
        raise InputErrors(errors)


def exposure_table(incident: Incident, keys: pd.DataFrame, matches: Matches | None = None) -> pd.DataFrame:
    """One row per key (the roster's distinct key values) reached by at least one window."""
    cols = [c for c in keys.columns if c in KEY_ORDER]
    if matches is None:
        matches = match_windows(incident, keys)
    tz = ZoneInfo(incident.timezone)
    reached: dict[int, list[tuple[datetime, datetime]]] = defaultdict(list)
    for window, hits in zip(incident.windows, matches.per_window, strict=True):
        for idx in hits:
            reached[int(idx)].append((window.start, window.end))
    rows = []
    key_values = keys[cols]
    for idx in sorted(reached):
        exp = exposure_of(reached[idx], tz)
        rows.append([*key_values.iloc[idx].tolist(), *(getattr(exp, c) for c in EXPOSURE_COLUMNS)])
    table = pd.DataFrame(rows, columns=[*cols, *EXPOSURE_COLUMNS])
    for c in EXPOSURE_COLUMNS:
        if c not in ("outage_start", "outage_end"):
            table[c] = table[c].astype("int64")
    for c in ("outage_start", "outage_end"):
        table[c] = pd.to_datetime(table[c]).astype("datetime64[us]")
    for c in cols:
        table[c] = table[c].astype(object)
    return table


MONTH_COLUMNS = ("month", "minutes")


def exposure_months(incident: Incident, keys: pd.DataFrame, matches: Matches) -> pd.DataFrame:
    """One row per key reached and calendar month it was out in: its outage minutes in that month
    (what a policy counting across the month adds to the minutes of earlier incidents)."""
    cols = [c for c in keys.columns if c in KEY_ORDER]
    tz = ZoneInfo(incident.timezone)
    reached: dict[int, list[tuple[datetime, datetime]]] = defaultdict(list)
    for window, hits in zip(incident.windows, matches.per_window, strict=True):
        for idx in hits:
            reached[int(idx)].append((window.start, window.end))
    rows = []
    key_values = keys[cols]
    for idx in sorted(reached):
        values = key_values.iloc[idx].tolist()
        rows += [[*values, month, n] for month, n in minutes_by_month(reached[idx], tz).items()]
    table = pd.DataFrame(rows, columns=[*cols, *MONTH_COLUMNS])
    table["minutes"] = table["minutes"].astype("int64")
    for c in [*cols, "month"]:
        table[c] = table[c].astype(object)
    return table


def incident_span_days(incident: Incident) -> int:
    """The incident's span in days: from its first window's start to its last window's end, counted
    between the instants they name and rounded up to whole days as a line's ``outage_days`` is (0
    without windows). No line's outage days exceed it: a claim of more days (``days_claimed`` under
    ``days_from: claim``) is accepted at it."""
    if not incident.windows:
        return 0
    start, end = min(w.start for w in incident.windows), max(w.end for w in incident.windows)
    zone = ZoneInfo(incident.timezone)
    return -(-_minutes(to_utc(end, zone) - to_utc(start, zone)) // 1440)


def incident_months(incident: Incident) -> tuple[str, ...]:
    """The calendar months (``YYYY-MM``, the incident's zone) in which any of its windows was open."""
    if not incident.windows:
        return ()
    months = minutes_by_month([(w.start, w.end) for w in incident.windows], ZoneInfo(incident.timezone))
    return tuple(m for m, n in months.items() if n > 0)
