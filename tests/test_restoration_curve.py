"""summary.json's ``restoration_curve``: the total credit had service come back at each time.

The point at the actual span is the summary's totals exactly, t = 0 owes nothing, the curve never
falls for the samples' policies, a constructed two-hour threshold is checked by hand, and a
multi-window incident across a month end is checked point by point against a reference written here
from the definition (intervals cut and extended by hand, conftest.reference_credit per line)."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from conftest import Project, make_roster, reference_credit, small_roster
from test_analysis import INCIDENT, WINDOWS

from kt_analysis.inputs.incident import load_incident
from kt_analysis.jobs.analyse import analyse
from kt_analysis.rules.restoration import restoration_points

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = ("incidents/kt-2021-10-25-nationwide", "incidents/kt-2018-11-24-ahyeon-fire",
           "incidents/kt-2024-08-10-landline")


@pytest.fixture(scope="module")
def samples(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict]:
    out = tmp_path_factory.mktemp("restoration")
    found = {}
    for name in SAMPLES:
        folder = out / name.rsplit("/", 1)[-1]
        analyse(load_incident(ROOT / "data" / f"{name}.yml"), folder)
        found[name] = json.loads((folder / "summary.json").read_text(encoding="utf-8"))
    return found


@pytest.mark.parametrize("name", SAMPLES)
def test_the_point_at_the_actual_span_is_the_summarys_totals(samples: dict[str, dict], name: str) -> None:
    s = samples[name]
    curve = s["restoration_curve"]
    actual = curve["actual_minutes"]
    start, end = (datetime.fromisoformat(s[k]) for k in ("outage_start", "outage_end"))
    assert actual == (end - start) // timedelta(minutes=1)  # Asia/Seoul: no clock change
    minutes = [p["minutes"] for p in curve["points"]]
    assert minutes == sorted(set(minutes)) and minutes[0] == 0 and minutes[-1] == 2 * actual
    assert all(isinstance(m, int) for m in minutes) and len(minutes) >= 49
    [at] = [p for p in curve["points"] if p["minutes"] == actual]
    assert (at["eligible_lines"], at["total_credit_krw"]) == (s["eligible_lines"], s["total_credit_krw"])
    assert curve["points"][0] == {"minutes": 0, "eligible_lines": 0, "total_credit_krw": 0}
    totals = [p["total_credit_krw"] for p in curve["points"]]
    assert totals == sorted(totals)  # every sample policy pays at least as much for a longer outage
    for t in curve["thresholds"]:  # each threshold in range, with the minute before it
        assert 0 < t["minutes"] <= 2 * actual and {t["minutes"] - 1, t["minutes"]} <= set(minutes)
        assert t["label"]


def test_thresholds_of_the_samples(samples: dict[str, dict]) -> None:
    labels = {n: [(t["minutes"], t["label"]) for t in s["restoration_curve"]["thresholds"]]
              for n, s in samples.items()}
    assert labels["incidents/kt-2024-08-10-landline"] == [(120, "연속 2시간"), (361, "월 누적 6시간 초과")]
    assert labels["incidents/kt-2021-10-25-nationwide"] == []  # everyone affected is eligible
    assert (2881, "장애 3일 이상 정액") in labels["incidents/kt-2018-11-24-ahyeon-fire"]


def test_a_policy_across_the_calendar_month_has_no_curve(tmp_path: Path) -> None:
    """month-pair-a counts its monthly threshold across the month: no curve that cannot reconcile."""
    summary = analyse(load_incident(ROOT / "data" / "examples" / "month-pair" / "month-pair-a.yml"), tmp_path)
    assert summary.restoration_curve is None
    assert "restoration_curve" not in json.loads((tmp_path / "summary.json").read_text(encoding="utf-8"))


TWO_HOURS = """
id: two-hours
title: 시험 — 연속 2시간, 3배
services: [mobile, internet, iptv]
eligibility: {min_continuous_minutes: 120}
hourly_fee: {hours_per_month: 720}
credit:
  outage_multiplier: 3
  rounding: {unit_krw: 10, mode: half_up}
"""


def test_a_two_hour_threshold_by_hand(tmp_path: Path) -> None:
    """Four lines (fees 72,000, 25,000, 33,000 and 0 won), one window of 3 hours, 2 h continuous,
    3 × the outage time's fee rounded half up to 10 won: nothing before 120 minutes; from 120 every
    line, fee × 3 × t / 43,200 each."""
    proj = Project(tmp_path)
    proj.policy("two-hours", TWO_HOURS)
    proj.roster(small_roster())
    path = proj.incident("hand", """
        id: hand
        title: 시험 장애
        kind: outage
        timezone: Asia/Seoul
        policy: two-hours
        roster: data/roster.parquet
        affected:
          windows:
            - {start: 2024-08-10T09:00, end: 2024-08-10T12:00, where: all}
        """)
    summary = analyse(load_incident(path), tmp_path / "out")
    curve = summary.restoration_curve
    assert curve is not None and curve.actual_minutes == 180
    assert [(t.minutes, t.label) for t in curve.thresholds] == [(120, "연속 2시간")]
    assert [p.minutes for p in curve.points] == restoration_points(180, [(120, "")])
    assert {119, 120, 180, 360} <= {p.minutes for p in curve.points}
    by = {p.minutes: (p.eligible_lines, p.total_credit_krw) for p in curve.points}
    assert by[119] == (0, 0)
    assert by[120] == (4, 600 + 210 + 280 + 0)  # 72000/120; 208.3 → 210; 275 → 280 (half up)
    assert by[180] == (4, 900 + 310 + 410 + 0) == (summary.eligible_lines, summary.total_credit_krw)
    assert by[360] == (4, 1800 + 630 + 830 + 0)  # extended: 625 → 630, 825 → 830


# ---------------------------------------------------------------------------------------------
# Many windows, across a month end: the reference, written from the definition
# ---------------------------------------------------------------------------------------------

def _merge(intervals: list[tuple[int, int]]) -> list[tuple[int, int]]:
    out: list[list[int]] = []
    for s, e in sorted(intervals):
        if out and s <= out[-1][1]:
            out[-1][1] = max(out[-1][1], e)
        else:
            out.append([s, e])
    return [(s, e) for s, e in out]


def _reference_line(windows: list[tuple[int, int]], t: int, actual: int, month_end: int) -> dict | None:
    """A line's figures had service come back at t (minutes after S; windows as minute offsets)."""
    if t <= actual:
        cut = [(s, min(e, t)) for s, e in windows if s < t]
    else:
        cut = [(s, t if e == actual else e) for s, e in windows]
    if not cut:
        return None
    merged = _merge(cut)
    total = sum(e - s for s, e in merged)
    before = sum(max(0, min(e, month_end) - s) for s, e in merged)
    return {"outage_minutes": total, "longest_continuous_minutes": max(e - s for s, e in merged),
            "monthly_cumulative_minutes": max(before, total - before), "outage_days": -(-total // 1440),
            "days_in_month": 31}


def test_a_multi_window_incident_point_by_point(tmp_path: Path) -> None:
    """test_analysis's incident: Seoul, two facilities (some services), Busan across the end of
    August, Daejeon twice: cutting drops and shortens windows, and the extension moves Busan's
    window only (the one still open last); every point is the reference's sum over the lines."""
    frame = make_roster(600, seed=3)
    proj = Project(tmp_path)
    proj.copy_policies("kt-terms-2022")
    proj.roster(frame)
    incident = load_incident(proj.incident("test-analysis", INCIDENT))
    summary = analyse(incident, tmp_path / "out")
    curve = summary.restoration_curve
    assert curve is not None
    S = datetime(2024, 8, 10, 6, 15)

    def offset(text: str) -> int:
        return (datetime.fromisoformat(text) - S) // timedelta(minutes=1)

    actual = offset("2024-09-01T01:30")
    assert curve.actual_minutes == actual
    month_end = offset("2024-09-01T00:00")
    policy = incident.credit_policy
    lines = []
    for row in frame.to_dict("records"):
        mine = [(offset(a), offset(b)) for a, b, services, regions, facilities in WINDOWS
                if (services is None or row["service"] in services) and (regions is None or row["region"] in regions)
                and (facilities is None or row["facility_id"] in facilities)]
        if mine:
            lines.append((row, mine))
    for point in curve.points:
        eligible = total = 0
        for row, mine in lines:
            figures = _reference_line(mine, point.minutes, actual, month_end)
            if figures is not None:
                ok, _reason, _rule, credit = reference_credit(policy, {**row, **figures})
                eligible += ok
                total += credit
        assert (point.eligible_lines, point.total_credit_krw) == (eligible, total), point.minutes
    by = {p.minutes: p.total_credit_krw for p in curve.points}
    assert by[actual] == summary.total_credit_krw
    assert 0 < min(v for v in by.values() if v) < summary.total_credit_krw < by[2 * actual]
