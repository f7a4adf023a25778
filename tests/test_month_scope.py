"""Outages across a month: the policy key ``eligibility.monthly_scope``, the rules it compiles to, and
the crediting rule over two incidents of one month (a property over random minute splits).

The rule (README, "Outages across a month"): the month total adds the minutes of earlier published
incidents of the same line and month; minutes an earlier incident credited are not credited again;
minutes an earlier incident did not credit are credited by the incident whose month total makes the
line eligible. So over the incidents of a month a line is credited for all its minutes exactly once
when its month total passes the threshold, and for none otherwise.
"""

from __future__ import annotations

import json
import tempfile
from dataclasses import replace
from pathlib import Path

import duckdb
import pandas as pd
import pytest
from conftest import POLICIES, ROOT, Project, write
from hypothesis import HealthCheck, assume, example, given, settings
from hypothesis import strategies as st

from kt_analysis.engine.dialect import render_policy
from kt_analysis.errors import InputError
from kt_analysis.inputs.policy import CALENDAR_MONTH_KO, Eligibility, load_policy
from kt_analysis.jobs.run import run_incident
from kt_analysis.rules.credits import carrying_rules, compile_policy, incident_scope, month_thresholds

TERMS = POLICIES / "kt-terms-2022.yml"


def _with_scope(tmp_path: Path, text: str, name: str = "p.yml") -> Path:
    return write(tmp_path / name, text)


def terms_with(extra: str) -> str:
    """kt-terms-2022's text with lines added under ``eligibility:``."""
    text = TERMS.read_text(encoding="utf-8")
    return text.replace("eligibility:\n", "eligibility:\n" + extra, 1)


# ----- the key --------------------------------------------------------------------------------------

def test_the_default_scope_is_the_incident_and_every_catalogue_policy_keeps_it() -> None:
    for path in sorted(POLICIES.glob("*.yml")):
        policy = load_policy(path)
        assert policy.eligibility.monthly_scope == "incident", path.name
        assert all(o.eligibility is None or o.eligibility.monthly_scope == "incident" for o in policy.overrides)
        assert CALENDAR_MONTH_KO not in policy.describe()
    assert Eligibility(120, 360, True) == Eligibility(120, 360, True, "incident")


def test_calendar_month_is_read_inherited_by_overrides_and_described_in_korean(tmp_path: Path) -> None:
    text = terms_with("  monthly_scope: calendar_month\n").replace(
        "      outage_multiplier: 3\n", "      eligibility: {min_continuous_minutes: 60}\n      outage_multiplier: 3\n")
    policy = load_policy(_with_scope(tmp_path, text))
    assert policy.eligibility.monthly_scope == "calendar_month"
    assert policy.overrides[0].eligibility is not None
    assert policy.overrides[0].eligibility.monthly_scope == "calendar_month"
    words = policy.describe()
    assert ("보상 대상: 연속 장애 120분 이상 또는 같은 달(달력 기준) 앞선 장애까지 합한 한 달 누적 장애 360분 "
            "초과.") in words
    assert CALENDAR_MONTH_KO in words
    assert "이미 보상한 시간은 다시 보상하지 않고" in CALENDAR_MONTH_KO
    assert "기준 미달로 보상하지 않은 시간은" in CALENDAR_MONTH_KO


def test_the_example_policy_is_kt_terms_2022_counted_across_the_month() -> None:
    example = load_policy(ROOT / "data/examples/month-pair/policy/kt-terms-2022-month.yml")
    terms = load_policy(TERMS)
    assert example.eligibility == replace(terms.eligibility, monthly_scope="calendar_month")
    assert (example.services, example.credit, example.overrides, example.rounding, example.delivery,
            example.hours_per_month) == (terms.services, terms.credit, terms.overrides, terms.rounding,
                                         terms.delivery, terms.hours_per_month)


@pytest.mark.parametrize(("extra", "where", "says"), [
    ("  monthly_scope: calendar-month\n", "eligibility.monthly_scope", "not one of incident, calendar_month"),
    ("  monthly_scope: 3\n", "eligibility.monthly_scope", "is '3', not one of"),
])
def test_a_bad_scope_is_refused_naming_the_key(tmp_path: Path, extra: str, where: str, says: str) -> None:
    with pytest.raises(InputError) as caught:
        load_policy(_with_scope(tmp_path, terms_with(extra)))
    assert caught.value.where == where and says in caught.value.problem


def test_calendar_month_without_a_monthly_threshold_is_refused(tmp_path: Path) -> None:
    text = terms_with("  monthly_scope: calendar_month\n").replace("  min_monthly_cumulative_minutes: 360\n", "")
    with pytest.raises(InputError) as caught:
        load_policy(_with_scope(tmp_path, text))
    assert caught.value.where == "eligibility.monthly_scope"
    assert "no min_monthly_cumulative_minutes" in caught.value.problem


def test_an_override_may_not_set_the_scope_nor_another_monthly_threshold(tmp_path: Path) -> None:
    own = terms_with("").replace("      outage_multiplier: 3\n",
                                 "      eligibility: {monthly_scope: calendar_month}\n      outage_multiplier: 3\n")
    with pytest.raises(InputError) as caught:
        load_policy(_with_scope(tmp_path, own))
    assert caught.value.where == "credit.overrides[0].eligibility.monthly_scope"
    other = terms_with("  monthly_scope: calendar_month\n").replace(
        "      outage_multiplier: 3\n", "      eligibility: {min_monthly_cumulative_minutes: 300}\n"
                                       "      outage_multiplier: 3\n")
    with pytest.raises(InputError) as caught:
        load_policy(_with_scope(tmp_path, other, "q.yml"))
    assert caught.value.where == "credit.overrides[0].eligibility.min_monthly_cumulative_minutes"
    assert "monthly threshold" in caught.value.problem


# ----- the rules ------------------------------------------------------------------------------------

def test_the_default_scope_compiles_to_the_same_sql_as_before() -> None:
    policy = load_policy(TERMS)
    p = render_policy(compile_policy(policy), "duckdb")
    assert "monthly_cumulative_minutes > 360" in p.eligible and "month_total" not in p.eligible + p.credit_krw
    assert "carried" not in p.credit_krw and compile_policy(policy).carried.sql() == "0"
    assert month_thresholds([policy]) == [] and carrying_rules(policy) == ()


def test_calendar_month_reads_the_month_total_and_pays_the_carried_minutes(duck: duckdb.DuckDBPyConnection) -> None:
    terms = load_policy(TERMS)
    policy = replace(terms, eligibility=replace(terms.eligibility, monthly_scope="calendar_month"))
    assert month_thresholds([policy, terms]) == [(360, True)]
    assert carrying_rules(policy) == ("base", "override 1")
    p = render_policy(compile_policy(policy), "duckdb")
    alone = render_policy(compile_policy(incident_scope(policy)), "duckdb")
    carried = compile_policy(policy).carried.sql("duckdb")
    lines = pd.DataFrame({
        # 200 min here + 330 earlier uncredited: eligible only across the month, paid for 530 → 540 min
        # 250 here, 400 in the month, the earlier 150 already paid: paid for 250 → 300 min
        # 60 here, 120 in the month: nothing
        "service": ["landline", "landline", "landline"], "monthly_fee_krw": [43_200, 43_200, 43_200],
        "outage_minutes": [200, 250, 60], "longest_continuous_minutes": [100, 100, 60],
        "monthly_cumulative_minutes": [200, 250, 60], "month_total_minutes": [530, 400, 120],
        "carried_minutes_gt360": [330, 0, 0], "customer_type": ["individual"] * 3, "region": ["울산"] * 3,
    })
    duck.register("month_lines_under_test", lines)
    try:
        got = duck.execute(f"SELECT {p.eligible}, {alone.eligible}, {p.credit_krw}, {carried} "
                           f"FROM month_lines_under_test").fetchall()
    finally:
        duck.unregister("month_lines_under_test")
    # fee 43,200 won: 1 won per minute per ×1; ×10, rounded up to whole hours
    assert got == [(True, False, 5_400, 330), (True, False, 3_000, 0), (False, False, 0, 0)]


# ----- the crediting rule over two incidents of one month -------------------------------------------

POLICY = """
id: month-test
title: 월 누적 시험 정책
sources: [https://example.org/terms]
services: [mobile, internet, iptv, landline]
eligibility:
  min_monthly_cumulative_minutes: {threshold}
  monthly_cumulative_exceeds: {exceeds}
  monthly_scope: calendar_month
hourly_fee:
  hours_per_month: 720
credit:
  outage_multiplier: 1
delivery: {{method: bill_credit, applied_on: next_bill}}
"""

INCIDENT = """
id: {iid}
title: 시험 장애 {iid}
kind: outage
timezone: Asia/Seoul
policy: month-test
roster: data/roster.parquet
affected:
  windows:
{windows}
"""

FEE = 43_200  # one won per outage minute under 720 hours and ×1


def _windows(day: int, minutes: list[int]) -> str:
    """One window per line's facility, each of the line's minutes (none for 0), from 09:00 of ``day``."""
    rows = []
    for i, m in enumerate(minutes):
        if m:
            end_minutes = 9 * 60 + m
            end = f"2025-03-{day + end_minutes // 1440:02d}T{end_minutes % 1440 // 60:02d}:{end_minutes % 60:02d}"
            rows.append(f"    - {{start: 2025-03-{day:02d}T09:00, end: {end}, where: {{facilities: [F-{i:02d}]}}}}")
    return "\n".join(rows)


def _credited_minutes(history: Path) -> dict[int, list[tuple[str, int, bool, int]]]:
    con = duckdb.connect(str(history), read_only=True)
    try:
        rows = con.execute("SELECT line_id, incident_id, outage_minutes, credited, carried_minutes "
                           "FROM line_minutes ORDER BY line_id, incident_id").fetchall()
    finally:
        con.close()
    out: dict[int, list[tuple[str, int, bool, int]]] = {}
    for line_id, iid, minutes, credited, carried in rows:
        out.setdefault(int(line_id), []).append((iid, minutes, credited, carried))
    return out


minute_splits = st.lists(st.tuples(st.integers(0, 500), st.integers(0, 500)), min_size=1, max_size=6)


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(splits=minute_splits, threshold=st.sampled_from([60, 360, 400]), exceeds=st.booleans())
@example(splits=[(330, 200), (150, 250), (60, 60), (0, 100), (400, 0), (360, 1)], threshold=360, exceeds=True)
@example(splits=[(360, 0), (0, 360), (180, 180)], threshold=360, exceeds=False)
def test_over_two_incidents_each_line_is_credited_for_its_month_once_or_not_at_all(
        splits: list[tuple[int, int]], threshold: int, exceeds: bool) -> None:
    first, second = [a for a, _ in splits], [b for _, b in splits]
    assume(any(first) and any(second))
    with tempfile.TemporaryDirectory(prefix="kt-month-") as tmp:
        proj = Project(Path(tmp))
        proj.policy("month-test", POLICY.format(threshold=threshold, exceeds=str(exceeds).lower()))
        roster = pd.DataFrame({
            "line_id": range(1, len(splits) + 1), "customer_id": range(101, len(splits) + 101),
            "service": "landline", "monthly_fee_krw": FEE, "region": "서울",
            "facility_id": [f"F-{i:02d}" for i in range(len(splits))], "customer_type": "individual",
            "payment_method": "giro", "bill_cycle_day": 5,
        })
        proj.roster(roster)
        a = proj.incident("first", INCIDENT.format(iid="first", windows=_windows(3, first)))
        b = proj.incident("second", INCIDENT.format(iid="second", windows=_windows(17, second)))
        out = proj.root / "out"
        run_incident(a, out=out, report=False)
        run_incident(b, out=out, report=False)
        rows = _credited_minutes(out / "history.duckdb")
        ledger = duckdb.sql(f"SELECT line_id, credit_krw FROM read_parquet('{out}/second/ledger.parquet')").fetchall()
        summary = json.loads((out / "second" / "summary.json").read_text(encoding="utf-8"))

    passes = (lambda total: total > threshold) if exceeds else (lambda total: total >= threshold)
    expected_total = 0
    for line_id, (m1, m2) in enumerate(splits, start=1):
        paid = sum(minutes for _, minutes, credited, _ in rows.get(line_id, []) if credited)
        paid += sum(carried for *_, carried in rows.get(line_id, []))
        month = m1 + m2
        # every minute of the month once when the month total passes the threshold, none otherwise
        assert paid == (month if passes(month) else 0), (line_id, m1, m2, rows.get(line_id))
        expected_total += paid
    # the second incident's credits pay its minutes plus the first's uncredited ones, at 1 won a minute
    credits = dict(ledger)
    for line_id, (m1, m2) in enumerate(splits, start=1):
        if m2:
            owed = (m2 + (m1 if not passes(m1) else 0)) if passes(m1 + m2) else 0
            assert credits[line_id] == owed, (line_id, m1, m2)
    history = summary["month_history"]
    assert [e["incident_id"] for e in history["earlier_incidents"]] == ["first"]
    assert history["carried_minutes"] == sum(m1 for m1, m2 in splits if m2 and not passes(m1) and passes(m1 + m2))
    assert history["lines_pushed_over"] == sum(1 for m1, m2 in splits
                                               if m1 and m2 and not passes(m2) and passes(m1 + m2))
