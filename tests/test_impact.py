"""Impact: windows → per-line outage figures, checked against sets of outage minutes."""

from __future__ import annotations

import calendar
from datetime import datetime, timedelta
from pathlib import Path

import pandas as pd
import pytest
from conftest import POLICIES
from hypothesis import given, settings
from hypothesis import strategies as st

from kt_analysis.inputs.incident import Incident, Window
from kt_analysis.inputs.policy import load_policy
from kt_analysis.rules.impact import (
    EXPOSURE_COLUMNS,
    exposure_of,
    exposure_table,
    key_columns,
    merge_intervals,
)

# Bases just before a month's end, so windows straddle the boundary (and a leap February).
BASES = (
    datetime(2021, 10, 31, 22, 0),
    datetime(2024, 2, 29, 23, 30),
    datetime(2021, 12, 31, 23, 0),
    datetime(2018, 11, 24, 11, 12),
)
M = timedelta(minutes=1)
EPOCH = datetime(2000, 1, 1)  # naive, like the windows: minute numbers need no time zone


@st.composite
def windows(draw):
    base = draw(st.sampled_from(BASES))
    spans = draw(
        st.lists(
            st.tuples(st.integers(-300, 900), st.one_of(st.integers(1, 240), st.integers(1, 3000))),
            min_size=1,
            max_size=6,
        )
    )
    return base, [(base + a * M, base + (a + n) * M) for a, n in spans]


def minute_set(intervals):
    out = set()
    for s, e in intervals:
        out.update(range((s - EPOCH) // M, (e - EPOCH) // M))
    return out


def runs(minutes: set[int]) -> list[tuple[int, int]]:
    """Maximal runs of consecutive minutes as [first, last + 1)."""
    out: list[tuple[int, int]] = []
    for m in sorted(minutes):
        if out and out[-1][1] == m:
            out[-1] = (out[-1][0], m + 1)
        else:
            out.append((m, m + 1))
    return out


def to_time(minute: int) -> datetime:
    return EPOCH + minute * M


@settings(max_examples=200, deadline=None)
@given(windows())
def test_merge_intervals_equals_runs_of_minutes(drawn):
    _, intervals = drawn
    merged = merge_intervals(intervals)
    assert [(to_time(a), to_time(b)) for a, b in runs(minute_set(intervals))] == merged
    assert merge_intervals(list(reversed(intervals))) == merged  # order does not matter
    assert merge_intervals(merged) == merged  # idempotent


@settings(max_examples=200, deadline=None)
@given(windows())
def test_exposure_equals_brute_force(drawn):
    _, intervals = drawn
    minutes = minute_set(intervals)
    exp = exposure_of(intervals)
    by_month: dict[tuple[int, int], int] = {}
    for m in minutes:
        t = to_time(m)
        by_month[(t.year, t.month)] = by_month.get((t.year, t.month), 0) + 1
    first = to_time(min(minutes))
    assert exp.outage_minutes == len(minutes)  # overlapping minutes counted once
    assert exp.outage_minutes <= sum((e - s) // M for s, e in intervals)
    assert exp.longest_continuous_minutes == max(b - a for a, b in runs(minutes))
    assert exp.monthly_cumulative_minutes == max(by_month.values())
    assert exp.outage_start == first
    assert exp.outage_end == to_time(max(minutes) + 1)
    assert exp.outage_days == -(-len(minutes) // 1440)
    assert exp.days_in_month == calendar.monthrange(first.year, first.month)[1]
    assert exp.window_count == len(intervals)


def test_overlapping_windows_are_not_counted_twice():
    t = datetime(2021, 10, 25, 11, 16)
    exp = exposure_of([(t, t + 89 * M), (t, t + 89 * M), (t + 30 * M, t + 60 * M)])
    assert (exp.outage_minutes, exp.longest_continuous_minutes, exp.window_count) == (89, 89, 3)


def test_touching_windows_are_one_continuous_outage():
    t = datetime(2021, 10, 25, 11, 0)
    exp = exposure_of([(t, t + 60 * M), (t + 60 * M, t + 130 * M)])
    assert exp.longest_continuous_minutes == 130


def test_month_boundary_splits_the_monthly_total_not_the_continuous_one():
    # 23:00 on 31 Oct to 04:00 on 1 Nov: 60 min in October, 240 in November.
    t = datetime(2021, 10, 31, 23, 0)
    exp = exposure_of([(t, t + 300 * M)])
    assert exp.longest_continuous_minutes == 300
    assert exp.monthly_cumulative_minutes == 240
    assert exp.days_in_month == 31


@pytest.mark.parametrize(
    ("minutes", "days"), [(1, 1), (1439, 1), (1440, 1), (1441, 2), (4320, 3), (4321, 4)]
)
def test_outage_days_rounds_up_to_whole_days(minutes, days):
    t = datetime(2018, 11, 24, 11, 12)
    assert exposure_of([(t, t + minutes * M)]).outage_days == days


def w(start: str, end: str, **kw) -> Window:
    return Window(datetime.fromisoformat(start), datetime.fromisoformat(end), **kw)


def test_key_columns():
    a = w("2021-10-25T11:16", "2021-10-25T12:45")
    assert key_columns([a]) == ("service",)
    assert key_columns([a, w("2021-10-25T11:16", "2021-10-25T12:00", regions=("서울",))]) == (
        "service",
        "region",
    )
    assert key_columns([w("2021-10-25T11:16", "2021-10-25T12:00", facilities=("F",))]) == (
        "service",
        "facility_id",
    )
    assert key_columns(
        [
            w("2021-10-25T11:16", "2021-10-25T12:00", facilities=("F",)),
            w("2021-10-25T11:16", "2021-10-25T12:00", regions=("서울",)),
        ]
    ) == ("service", "region", "facility_id")


def incident_of(windows: list[Window], services=None) -> Incident:
    return Incident(
        id="t",
        title="t",
        kind="outage",
        timezone="Asia/Seoul",
        policy=load_policy(POLICIES / "kt-terms-2022.yml"),
        roster=Path("unused"),
        windows=tuple(windows),
        services=services,
    )


KEYS = pd.DataFrame(
    [
        (s, r, f)
        for s in ("mobile", "internet", "iptv")
        for r, f in (("서울", "SEOUL-JUNG-01"), ("서울", "SEOUL-MAPO-01"), ("부산", "BUSAN-001"))
    ],
    columns=["service", "region", "facility_id"],
)


def reached(table: pd.DataFrame) -> dict[tuple, int]:
    keys = [c for c in ("service", "region", "facility_id") if c in table.columns]
    return {tuple(r[k] for k in keys): int(r["outage_minutes"]) for _, r in table.iterrows()}


def test_exposure_table_where_all():
    table = exposure_table(
        incident_of([w("2021-10-25T11:16", "2021-10-25T12:45")]),
        KEYS[["service"]].drop_duplicates().reset_index(drop=True),
    )
    assert reached(table) == {("mobile",): 89, ("internet",): 89, ("iptv",): 89}
    assert list(table.columns) == ["service", *EXPOSURE_COLUMNS]
    assert table["outage_minutes"].dtype == "int64"
    assert str(table["outage_start"].dtype) == "datetime64[us]"


def test_exposure_table_incident_services_and_window_services():
    inc = incident_of(
        [
            w("2021-10-25T11:16", "2021-10-25T12:45"),
            w("2021-10-25T12:00", "2021-10-25T14:00", services=("internet", "iptv")),
        ],
        services=("mobile", "internet"),
    )
    table = exposure_table(inc, KEYS[["service"]].drop_duplicates().reset_index(drop=True))
    # iptv is outside the incident's services; internet gets both windows, merged (11:16–14:00).
    assert reached(table) == {("mobile",): 89, ("internet",): 164}


def test_exposure_table_regions_and_facilities():
    inc = incident_of(
        [
            w("2024-08-10T06:15", "2024-08-10T16:20", regions=("서울",)),
            w(
                "2024-08-10T10:00",
                "2024-08-10T20:00",
                facilities=("BUSAN-001",),
                services=("mobile",),
            ),
            w("2024-08-10T16:00", "2024-08-10T17:00", facilities=("SEOUL-MAPO-01",)),
        ]
    )
    table = exposure_table(inc, KEYS)
    assert reached(table) == {
        ("mobile", "서울", "SEOUL-JUNG-01"): 605,
        ("internet", "서울", "SEOUL-JUNG-01"): 605,
        ("iptv", "서울", "SEOUL-JUNG-01"): 605,
        ("mobile", "서울", "SEOUL-MAPO-01"): 645,
        ("internet", "서울", "SEOUL-MAPO-01"): 645,
        ("iptv", "서울", "SEOUL-MAPO-01"): 645,
        ("mobile", "부산", "BUSAN-001"): 600,
    }
    mapo = table[(table.facility_id == "SEOUL-MAPO-01") & (table.service == "mobile")].iloc[0]
    assert mapo["window_count"] == 2 and mapo["longest_continuous_minutes"] == 645


def test_exposure_table_reaches_nothing():
    inc = incident_of([w("2024-08-10T06:15", "2024-08-10T16:20", regions=("Atlantis",))])
    table = exposure_table(inc, KEYS)
    assert len(table) == 0
    assert list(table.columns) == [*KEYS.columns, *EXPOSURE_COLUMNS]
