"""Korean business days: the facts file's holidays, the override file, and D+n invariants."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kt_analysis.errors import InputError
from kt_analysis.inputs.business_days import (
    BusinessCalendar,
    BusinessDayError,
    CalendarEntry,
    CalendarOverrides,
)

ROOT = Path(__file__).resolve().parents[1]
SHIPPED = ROOT / "kt_analysis" / "catalogue" / "calendar" / "overrides.yml"
YEARS = range(2020, 2031)

PACKAGE_ONLY = BusinessCalendar.from_overrides(years=YEARS)
SHIPPED_CAL = BusinessCalendar.load(SHIPPED, years=YEARS)


def _days(first: str, last: str) -> list[date]:
    a, b = date.fromisoformat(first), date.fromisoformat(last)
    return [a + timedelta(days=i) for i in range((b - a).days + 1)]


def _write(tmp_path: Path, text: str, name: str = "overrides.yml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


# -- the sources' dates (data/SOURCES.md, "Public holidays relevant to business-day math") ----

# Each: weekday days off the facts file lists, with its source there.
FACTS_DAYS_OFF = [
    # 2023 Chuseok Sep 28-30 + temporary holiday Oct 2 + Oct 3 (hankookilbo A2023083109520002528)
    *_days("2023-09-28", "2023-09-29"), date(2023, 10, 2), date(2023, 10, 3),
    # 2024 Chuseok Sep 16-18; Oct 1 temporary holiday (zdnet 20240903085817)
    *_days("2024-09-16", "2024-09-18"), date(2024, 10, 1),
    # 2024 other (magazine-k.tistory.com/2631; databigpeople.co.kr/73)
    date(2024, 1, 1), date(2024, 2, 9), date(2024, 2, 12), date(2024, 3, 1), date(2024, 4, 10),
    date(2024, 5, 6), date(2024, 5, 15), date(2024, 6, 6), date(2024, 8, 15), date(2024, 10, 3),
    date(2024, 10, 9), date(2024, 12, 25),
    # 2025: Jan 27 temporary + Seollal Jan 28-30; Mar 3; May 5-6; Jun 6; Aug 15 (news.zum 95595767)
    *_days("2025-01-27", "2025-01-30"), date(2025, 3, 3), date(2025, 5, 5), date(2025, 5, 6),
    date(2025, 6, 6), date(2025, 8, 15),
    # 2025 Chuseok: Oct 3 (Fri), Oct 6-7, substitute Oct 8, Oct 9 (kdfnews 134432)
    date(2025, 10, 3), *_days("2025-10-06", "2025-10-09"),
    # 2026 (월력요항 2025-06-30): Seollal Feb 16-18; substitutes Mar 2, May 25, Aug 17, Oct 5;
    # Chuseok Sep 24-25 (26th is a Saturday, no substitute); Oct 9 (newsspace.kr no=7754)
    *_days("2026-02-16", "2026-02-18"), date(2026, 3, 2), date(2026, 5, 25), date(2026, 8, 17),
    date(2026, 9, 24), date(2026, 9, 25), date(2026, 10, 5), date(2026, 10, 9),
]


@pytest.mark.parametrize("cal", [PACKAGE_ONLY, SHIPPED_CAL], ids=["package", "shipped-overrides"])
@pytest.mark.parametrize("day", FACTS_DAYS_OFF, ids=str)
def test_facts_file_days_off_are_not_business_days(cal: BusinessCalendar, day: date) -> None:
    assert day.weekday() < 5
    assert not cal.is_business_day(day)
    assert cal.holiday_name(day)


def test_2025_chuseok_break_is_oct_3_to_9() -> None:
    # kdfnews 134432: Oct 3 (Fri) + weekend + Oct 6-7 + substitute Oct 8 + Oct 9 (Thu) -> 7 days off
    assert [d for d in _days("2025-10-01", "2025-10-12") if PACKAGE_ONLY.is_business_day(d)] == [
        date(2025, 10, 1), date(2025, 10, 2), date(2025, 10, 10)]
    assert PACKAGE_ONLY.add_business_days(date(2025, 10, 2), 1) == date(2025, 10, 10)


def test_d_plus_1_from_the_day_before_chuseok_2023_lands_after_the_whole_break() -> None:
    # Chuseok Sep 28-30 + temporary holiday Oct 2 + Oct 3 (hankookilbo A2023083109520002528)
    assert PACKAGE_ONLY.add_business_days(date(2023, 9, 27), 1) == date(2023, 10, 4)
    assert PACKAGE_ONLY.next_business_day(date(2023, 9, 27)) == date(2023, 10, 4)
    assert PACKAGE_ONLY.business_days_between(date(2023, 9, 27), date(2023, 10, 4)) == 1


def test_2024_chuseok_and_armed_forces_day() -> None:
    cal = PACKAGE_ONLY
    assert cal.add_business_days(date(2024, 9, 13), 1) == date(2024, 9, 19)  # Fri -> Thu after Chuseok
    assert cal.add_business_days(date(2024, 9, 30), 1) == date(2024, 10, 2)  # Oct 1 temporary holiday
    assert cal.holiday_name(date(2024, 9, 17)) == "추석"


def test_2026_chuseok_has_no_substitute_for_its_saturday() -> None:
    # Sep 24-26 (Thu-Sat) + Sunday 27th: a 4-day break, back to work on Monday 28th
    assert PACKAGE_ONLY.next_business_day(date(2026, 9, 23)) == date(2026, 9, 28)


def test_names_are_korean() -> None:
    assert PACKAGE_ONLY.holiday_name(date(2023, 10, 2)) == "임시공휴일"
    assert PACKAGE_ONLY.holiday_name(date(2025, 1, 27)) == "임시공휴일"
    assert PACKAGE_ONLY.holiday_name(date(2025, 10, 6)) == "추석"
    assert PACKAGE_ONLY.holiday_name(date(2025, 10, 8)) == "추석 대체 휴일"
    assert PACKAGE_ONLY.holiday_name(date(2023, 9, 27)) is None
    assert PACKAGE_ONLY.holiday_name(date(2023, 9, 23)) is None  # a plain Saturday has no name


def test_may_1_is_a_non_banking_day_every_year() -> None:
    # 근로자의날 (bank category, 1994-2025), then 노동절 (public holiday from 2026)
    for year in range(2020, 2031):
        may_1 = date(year, 5, 1)
        if may_1.weekday() < 5:
            assert not PACKAGE_ONLY.is_business_day(may_1), year
    assert PACKAGE_ONLY.holiday_name(date(2025, 5, 1)) == "근로자의날"


def test_days_the_package_has_beyond_the_facts_file() -> None:
    # 2025-06-03 presidential election (facts file: "not searched successfully"); 2026-06-03 local
    # election; 2026-07-17 제헌절 restored by the 2026 amendment (koreaherald.com/article/10665867)
    for day in (date(2025, 6, 3), date(2026, 6, 3), date(2026, 7, 17)):
        assert not PACKAGE_ONLY.is_business_day(day), day


# -- weekends and the counting conventions -----------------------------------------------------


def test_weekends_are_never_business_days() -> None:
    for day in _days("2024-01-01", "2024-12-31"):
        if day.weekday() >= 5:
            assert not PACKAGE_ONLY.is_business_day(day)


def test_friday_plus_one_is_monday_and_roll_forward() -> None:
    cal = PACKAGE_ONLY
    fri, sat, mon = date(2024, 3, 8), date(2024, 3, 9), date(2024, 3, 11)
    assert cal.add_business_days(fri, 1) == mon
    assert cal.add_business_days(fri, 0) == fri
    assert cal.add_business_days(sat, 0) == mon          # rolled forward
    assert cal.add_business_days(sat, 1) == date(2024, 3, 12)  # received Monday, D+1 Tuesday
    assert cal.business_days_between(fri, mon) == 1
    assert cal.business_days_between(mon, fri) == -1
    assert cal.business_days_between(fri, fri) == 0
    assert cal.business_days(fri, mon) == [fri, mon]
    assert cal.business_days(mon, fri) == []


def test_billing_error_2023_timeline() -> None:
    # KT SMS: wrong approvals cancelled 9/11-9/12 (economidaily 20230913080111914); a check-card
    # cancellation refunds by D+1 (FSS 2014, kmib 0008211522): 9/11 (Mon) -> 9/12 (Tue)
    assert PACKAGE_ONLY.add_business_days(date(2023, 9, 11), 1) == date(2023, 9, 12)


def test_bad_arguments() -> None:
    with pytest.raises(BusinessDayError, match="0 or more"):
        PACKAGE_ONLY.add_business_days(date(2024, 3, 8), -1)
    with pytest.raises(BusinessDayError, match="outside the calendar's years"):
        PACKAGE_ONLY.is_business_day(date(2019, 12, 31))
    with pytest.raises(BusinessDayError, match="outside the calendar's years"):
        BusinessCalendar.from_overrides(years=range(2024, 2025)).add_business_days(date(2024, 12, 31), 1)
    with pytest.raises(BusinessDayError, match="not a datetime"):
        PACKAGE_ONLY.is_business_day(datetime(2024, 3, 8, 9, 0))
    with pytest.raises(ValueError):  # BusinessDayError is a ValueError too
        BusinessCalendar.from_overrides(years=range(2025, 2025))


# -- the override file ---------------------------------------------------------------------------


def test_shipped_file_loads_and_only_corrects_what_the_package_lacks() -> None:
    overrides = CalendarOverrides.load(SHIPPED)
    assert overrides.sources
    # Every entry must change the calendar: an entry the package already has is dead weight.
    for entry in (*overrides.holidays, *overrides.non_banking_days):
        assert PACKAGE_ONLY.is_business_day(entry.day), entry
    for entry in overrides.business_days:
        assert not PACKAGE_ONLY.is_business_day(entry.day), entry


def test_override_file_adds_a_holiday_and_revokes_one(tmp_path: Path) -> None:
    path = _write(tmp_path, """
sources: [test decree]
holidays:
  - {date: "2027-01-04", name: 임시공휴일, source: test}
non_banking_days:
  - {date: 2027-01-05, name: 은행 휴무}
business_days:
  - {date: "2025-10-08", name: 추석 대체 휴일 취소}
""")
    cal = BusinessCalendar.load(path, years=YEARS)
    assert cal.overrides.holidays == (CalendarEntry(date(2027, 1, 4), "임시공휴일", "test"),)
    assert not cal.is_business_day(date(2027, 1, 4))
    assert cal.holiday_name(date(2027, 1, 4)) == "임시공휴일"
    assert not cal.is_business_day(date(2027, 1, 5))
    assert cal.holiday_name(date(2027, 1, 5)) == "은행 휴무"
    assert cal.is_business_day(date(2025, 10, 8))
    assert cal.holiday_name(date(2025, 10, 8)) is None
    assert cal.add_business_days(date(2025, 10, 2), 1) == date(2025, 10, 8)
    assert PACKAGE_ONLY.is_business_day(date(2027, 1, 4))


def test_package_name_wins_over_the_override_name(tmp_path: Path) -> None:
    path = _write(tmp_path, "holidays:\n  - {date: '2025-10-06', name: Chuseok}\n")
    assert BusinessCalendar.load(path, years=YEARS).holiday_name(date(2025, 10, 6)) == "추석"


def test_default_path_is_the_project_root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "pyproject.toml").write_text("", encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    # no file of the project's: the built-in override file only
    assert BusinessCalendar.load(years=YEARS).overrides == CalendarOverrides.load(SHIPPED)
    (tmp_path / "data" / "calendar").mkdir(parents=True)
    _write(tmp_path / "data" / "calendar", "holidays:\n  - {date: '2027-01-04', name: 임시공휴일}\n")
    sub = tmp_path / "notebooks"
    sub.mkdir()
    monkeypatch.chdir(sub)
    assert not BusinessCalendar.load(years=YEARS).is_business_day(date(2027, 1, 4))


def test_an_explicit_path_must_exist(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="not found"):
        BusinessCalendar.load(tmp_path / "missing.yml")


@pytest.mark.parametrize(
    ("text", "where", "problem"),
    [
        ("holidays:\n  - {date: '2025-02-30', name: x}\n", "holidays[0].date", "not a date in the calendar"),
        ("holidays:\n  - {date: 20250603, name: x}\n", "holidays[0].date", "YYYY-MM-DD"),
        ("holidays:\n  - {date: 3 June 2025, name: x}\n", "holidays[0].date", "YYYY-MM-DD"),
        ("holidays:\n  - {date: '2025-06-03'}\n", "holidays[0].name", "is missing"),
        ("holidays:\n  - {date: '2025-06-03', name: x, note: y}\n", "holidays[0].note", "not a known key"),
        ("holiday:\n  - {date: '2025-06-03', name: x}\n", "holiday", "not a known key"),
        ("holidays: {date: '2025-06-03', name: x}\n", "holidays", "must be a list"),
        ("holidays:\n  - '2025-06-03'\n", "holidays[0]", "must be a mapping"),
        ("holidays:\n  - {date: '2025-06-03', name: x}\n  - {date: '2025-06-03', name: y}\n",
         "holidays[1].date", "already listed at holidays[0]"),
        ("holidays:\n  - {date: '2025-06-03', name: x}\nnon_banking_days:\n  - {date: '2025-06-03', name: y}\n",
         "non_banking_days[0].date", "already listed at holidays[0]"),
        ("holidays:\n  - {date: '2025-06-03', name: x}\nbusiness_days:\n  - {date: '2025-06-03', name: y}\n",
         "business_days[0].date", "both as a day off (holidays[0]) and as a business day"),
        ("business_days:\n  - {date: '2025-06-07', name: y}\n", "business_days[0].date", "Saturday"),
        ("holidays: !!python/object:object {}\n", "line 1", "custom YAML tags"),
    ],
    ids=["bad-day", "number", "words", "no-name", "unknown-entry-key", "unknown-top-key", "not-a-list",
         "not-a-mapping", "duplicate", "duplicate-across-lists", "off-and-on", "weekend-business-day", "tag"],
)
def test_invalid_override_files(tmp_path: Path, text: str, where: str, problem: str) -> None:
    path = _write(tmp_path, text, "bad.yml")
    with pytest.raises(InputError) as info:
        BusinessCalendar.load(path, years=YEARS)
    err = info.value
    assert err.path == str(path)
    assert err.where.startswith(where)
    assert problem in err.problem
    assert str(path) in str(err) and err.fix


# -- invariants ----------------------------------------------------------------------------------

DATES = st.dates(min_value=date(2020, 1, 1), max_value=date(2029, 6, 30))
COUNTS = st.integers(min_value=0, max_value=60)


@settings(max_examples=200, deadline=None)
@given(DATES, COUNTS)
def test_add_business_days_lands_on_a_business_day(d: date, n: int) -> None:
    assert PACKAGE_ONLY.is_business_day(PACKAGE_ONLY.add_business_days(d, n))


@settings(max_examples=200, deadline=None)
@given(DATES, COUNTS, COUNTS)
def test_add_business_days_is_monotone_in_n(d: date, n: int, m: int) -> None:
    lo, hi = sorted((n, m))
    a, b = PACKAGE_ONLY.add_business_days(d, lo), PACKAGE_ONLY.add_business_days(d, hi)
    assert a <= b and (a < b) == (lo < hi)
    assert a >= d


@settings(max_examples=200, deadline=None)
@given(DATES, COUNTS)
def test_between_inverts_add(d: date, n: int) -> None:
    cal = PACKAGE_ONLY
    start = cal.add_business_days(d, 0)  # d rolled forward to a business day
    assert cal.business_days_between(start, cal.add_business_days(start, n)) == n
    # From a day off, the rolled-forward day itself is one of the days counted in (d, …].
    expected = n if cal.is_business_day(d) else n + 1
    assert cal.business_days_between(d, cal.add_business_days(d, n)) == expected


@settings(max_examples=200, deadline=None)
@given(DATES)
def test_next_business_day_is_strictly_later_and_nothing_is_skipped(d: date) -> None:
    nxt = PACKAGE_ONLY.next_business_day(d)
    assert nxt > d
    assert PACKAGE_ONLY.is_business_day(nxt)
    assert PACKAGE_ONLY.business_days(d + timedelta(days=1), nxt) == [nxt]


@settings(max_examples=100, deadline=None)
@given(DATES, st.integers(min_value=0, max_value=120))
def test_counting_agrees_with_listing(d: date, span: int) -> None:
    end = d + timedelta(days=span)
    listed = PACKAGE_ONLY.business_days(d, end)
    assert len(listed) == PACKAGE_ONLY.business_days_between(d, end) + PACKAGE_ONLY.is_business_day(d)
    assert listed == sorted(set(listed))
