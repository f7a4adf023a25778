"""Korean business days (banking days) for settlement timelines.

A business day here is a day on which Korean banks settle: Monday to Friday, except

* the public holidays of 「공휴일에 관한 법률」/「관공서의 공휴일에 관한 규정」 — fixed days, Seollal and
  Chuseok (three days each), substitute holidays (대체공휴일), election days and temporary holidays
  (임시공휴일) — as the maintained ``holidays`` package lists them (``holidays.KR``, category
  ``public``);
* 근로자의 날 (May 1): not a public holiday until 2025, but banks are closed on it. The package's
  ``bank`` category holds exactly that day (근로자의날, 1994-2025); from 2026 the day is a public
  holiday (노동절) and comes with the ``public`` category. Both categories are used, so May 1 is a
  non-business day in every year without an entry in the override file;
* the entries of the override files ``calendar/overrides.yml`` (built in:
  kt_analysis/catalogue/calendar/overrides.yml; a workspace's adds to it): days off decreed after the
  installed package was released (``holidays``), other days banks do not settle
  (``non_banking_days``), and listed holidays that were revoked (``business_days``).

Weekends are never business days, whatever the override file says.

Every date function rolls a day that is not a business day forward, the way banks treat a request
received on a holiday as received on the next business day (익영업일 접수)::

    add_business_days(d, 0)   # d if it is a business day, else the next one
    add_business_days(d, 1)   # D+1: one business day after that
    2023-09-27 (Wed) + 1  ->  2023-10-04 (Wed): Chuseok Sep 28-30, temporary holiday Oct 2, Oct 3
    2024-09-13 (Fri) + 1  ->  2024-09-19 (Thu): Chuseok Sep 16-18 after the weekend
    2023-09-16 (Sat) + 1  ->  2023-09-19 (Tue): the Saturday counts as received on Monday 18th

Holidays are computed once for a range of years (``DEFAULT_YEARS`` unless ``years=`` is given); a
date outside it raises :class:`BusinessDayError` rather than silently ignoring holidays.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from types import MappingProxyType
from typing import Any

import holidays

from kt_analysis.errors import InputError, ParameterError
from kt_analysis.inputs.yamlio import Section, read_yaml_mapping
from kt_analysis.paths import BUILTIN, CALENDAR_OVERRIDES, catalogue_for

# holidays.KR categories: `public` (public, substitute, election and temporary holidays) and
# `bank` (근로자의날, May 1, 1994-2025: banks close although it was not a public holiday).
HOLIDAY_CATEGORIES: tuple[str, ...] = ("public", "bank")
# The package supports Korean names (language="ko"); they are what holiday_name() returns.
HOLIDAY_LANGUAGE = "ko"
DEFAULT_YEARS = range(2000, 2051)
# The built-in override file (a workspace's calendar/overrides.yml adds to it).
OVERRIDES_RELPATH = CALENDAR_OVERRIDES
BUILTIN_OVERRIDES = BUILTIN / CALENDAR_OVERRIDES

_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_ONE_DAY = timedelta(days=1)
_OVERRIDE_LISTS = ("holidays", "non_banking_days", "business_days")


class BusinessDayError(ParameterError, ValueError):
    """A date function was called with a date outside the calendar's years, or a negative count."""


@dataclass(frozen=True)
class CalendarEntry:
    """One dated entry of the override file."""

    day: date
    name: str
    source: str = ""


@dataclass(frozen=True)
class CalendarOverrides:
    """The override file, validated: corrections to the ``holidays`` package for banking days."""

    path: str = ""
    sources: tuple[str, ...] = ()
    holidays: tuple[CalendarEntry, ...] = ()
    non_banking_days: tuple[CalendarEntry, ...] = ()
    business_days: tuple[CalendarEntry, ...] = ()

    @classmethod
    def load(cls, path: str | Path) -> CalendarOverrides:
        """Read and validate an override file; every problem is an :class:`InputError`."""
        data = read_yaml_mapping(path, "calendar override")
        top = Section(data, path, "")
        sources = top.text_list("sources", ())
        lists = {key: _entries(top, key) for key in _OVERRIDE_LISTS}
        top.done()
        _check_each_date_once(str(path), lists)
        for i, entry in enumerate(lists["business_days"]):
            if entry.day.weekday() >= 5:
                raise InputError(
                    str(path), f"business_days[{i}].date",
                    f"{entry.day.isoformat()} is a {entry.day.strftime('%A')}; weekends are never business days",
                    "remove the entry (business_days only revokes a holiday that falls on a weekday)",
                )
        return cls(str(path), sources, lists["holidays"], lists["non_banking_days"], lists["business_days"])

    @classmethod
    def load_all(cls, paths: list[Path]) -> CalendarOverrides:
        """Several override files as one: a later file's entry for a day replaces an earlier one's
        (the built-in file first, then a project's, then a workspace's)."""
        if len(paths) == 1:
            return cls.load(paths[0])
        by_day: dict[date, tuple[str, CalendarEntry]] = {}
        sources: list[str] = []
        for path in paths:
            one = cls.load(path)
            sources += [s for s in one.sources if s not in sources]
            for key in _OVERRIDE_LISTS:
                for entry in getattr(one, key):
                    by_day[entry.day] = (key, entry)
        lists = {key: tuple(e for _, (k, e) in sorted(by_day.items()) if k == key) for key in _OVERRIDE_LISTS}
        return cls(" + ".join(str(p) for p in paths), tuple(sources), lists["holidays"],
                   lists["non_banking_days"], lists["business_days"])


def _entries(top: Section, key: str) -> tuple[CalendarEntry, ...]:
    raw = top.raw(key, [])
    if not isinstance(raw, list):
        raise top.error(key, "must be a list of entries",
                        f"write `{key}:` followed by `- {{date: 'YYYY-MM-DD', name: …}}` lines")
    out = []
    for i, item in enumerate(raw):
        entry = Section(item, top.path, f"{key}[{i}]")
        day = _parse_date(entry.raw("date"), top.path, entry.key("date"))
        name = entry.text("name")
        source = entry.text("source", "")
        entry.done()
        out.append(CalendarEntry(day, name, source))
    return tuple(out)


def _parse_date(value: Any, path: str, where: str) -> date:
    # The YAML loader keeps timestamps as text, so a date arrives here as a string.
    if isinstance(value, str) and _ISO_DATE.fullmatch(value.strip()):
        try:
            return date.fromisoformat(value.strip())
        except ValueError:
            raise InputError(path, where, f"{value!r} is not a date in the calendar",
                             "check the month and day") from None
    raise InputError(path, where, f"must be a date written YYYY-MM-DD, found {value!r}",
                     "write the date like 2025-06-03")


def _check_each_date_once(path: str, lists: Mapping[str, tuple[CalendarEntry, ...]]) -> None:
    seen: dict[date, str] = {}
    for key in _OVERRIDE_LISTS:
        for i, entry in enumerate(lists[key]):
            here = f"{key}[{i}]"
            first = seen.get(entry.day)
            if first is None:
                seen[entry.day] = here
                continue
            off_and_on = (key == "business_days") != first.startswith("business_days")
            if off_and_on:
                problem = f"{entry.day.isoformat()} is listed both as a day off ({first}) and as a business day"
                fix = "keep only the entry that the latest decree supports"
            else:
                problem = f"{entry.day.isoformat()} is already listed at {first}"
                fix = "remove the duplicate entry"
            raise InputError(path, f"{here}.date", problem, fix)


@dataclass(frozen=True)
class BusinessCalendar:
    """Korean banking days: weekends, ``holidays.KR`` (public + bank) and the override file.

    Build it with :meth:`load` (reads the override file) or :meth:`from_overrides` (no disk).
    """

    years: range
    overrides: CalendarOverrides = field(default_factory=CalendarOverrides)
    # Every day off with its name (weekend holidays included), after the overrides.
    closed: Mapping[date, str] = field(default_factory=lambda: MappingProxyType({}))
    # The closed days that fall on a weekday, sorted: what business_days_between() subtracts.
    _closed_weekdays: tuple[date, ...] = field(default=(), repr=False)

    @classmethod
    def load(cls, path: Path | None = None, *, years: range | None = None) -> BusinessCalendar:
        """The calendar with the override file at ``path``.

        Without ``path``, the override files of the catalogue seen from the working folder (the
        built-in one, then a project's and a workspace's: paths.catalogue_for). A ``path`` that is
        given must exist.
        """
        if path is None:
            files = catalogue_for(Path.cwd()).calendar_files()
            overrides = CalendarOverrides.load_all(files) if files else CalendarOverrides()
        else:
            overrides = CalendarOverrides.load(path)
        return cls.from_overrides(overrides, years=years)

    @classmethod
    def from_overrides(cls, overrides: CalendarOverrides | None = None, *, years: range | None = None
                       ) -> BusinessCalendar:
        """The calendar for ``years`` (default ``DEFAULT_YEARS``) from the package and ``overrides``."""
        years = DEFAULT_YEARS if years is None else years
        if not isinstance(years, range) or len(years) == 0 or years.step != 1:
            raise BusinessDayError(f"years must be a non-empty range of consecutive years, got {years!r}")
        overrides = overrides or CalendarOverrides()
        package = holidays.KR(years=years, categories=HOLIDAY_CATEGORIES, language=HOLIDAY_LANGUAGE)
        closed: dict[date, str] = dict(package.items())
        for entry in (*overrides.holidays, *overrides.non_banking_days):
            # The package's Korean name wins where it already lists the day.
            closed.setdefault(entry.day, entry.name)
        for entry in overrides.business_days:
            closed.pop(entry.day, None)
        weekdays = tuple(sorted(d for d in closed if d.weekday() < 5))
        return cls(years, overrides, MappingProxyType(closed), weekdays)

    # -- single days ------------------------------------------------------------------------------

    def is_business_day(self, d: date) -> bool:
        """True on a weekday that is neither a holiday nor a non-banking day."""
        self._check(d)
        return d.weekday() < 5 and d not in self.closed

    def holiday_name(self, d: date) -> str | None:
        """The Korean name of the holiday or non-banking day on ``d`` (weekend holidays too), else None.

        The package's name where it lists the day (e.g. ``추석``, ``임시공휴일``), the override's otherwise;
        two holidays on one day are joined with ``; `` (``부처님오신날; 어린이날``).
        """
        self._check(d)
        return self.closed.get(d)

    def next_business_day(self, d: date) -> date:
        """The first business day strictly after ``d``."""
        self._check(d)
        day = d + _ONE_DAY
        while not self.is_business_day(day):
            day += _ONE_DAY
        return day

    # -- counting ---------------------------------------------------------------------------------

    def add_business_days(self, d: date, n: int) -> date:
        """D+n: ``d`` rolled forward to a business day, then ``n`` business days after it.

        ``n=0`` gives ``d`` itself on a business day and the next business day otherwise; D+1 from a
        Friday is the Monday; D+1 from the day before Chuseok is the day after the whole break.
        For a business day ``d``, ``business_days_between(d, add_business_days(d, n)) == n``.
        """
        if isinstance(n, bool) or not isinstance(n, int) or n < 0:
            raise BusinessDayError(f"n must be a whole number of business days, 0 or more, got {n!r}")
        day = d if self.is_business_day(d) else self.next_business_day(d)
        for _ in range(n):
            day = self.next_business_day(day)
        return day

    def business_days_between(self, a: date, b: date) -> int:
        """The number of business days in the half-open interval (a, b]: after ``a``, up to ``b``.

        ``a`` itself is not counted and ``b`` is, so Friday → next Monday is 1 and a day to itself
        is 0. With ``b`` before ``a`` the count is negative: ``-business_days_between(b, a)``.
        """
        self._check(a)
        self._check(b)
        if b < a:
            return -self.business_days_between(b, a)
        closed = bisect_right(self._closed_weekdays, b) - bisect_right(self._closed_weekdays, a)
        return _weekdays_through(b) - _weekdays_through(a) - closed

    def business_days(self, start: date, end: date) -> list[date]:
        """The business days from ``start`` to ``end``, both included, in order (empty if end < start)."""
        self._check(start)
        self._check(end)
        out = []
        day = start
        while day <= end:
            if self.is_business_day(day):
                out.append(day)
            day += _ONE_DAY
        return out

    def _check(self, d: date) -> None:
        if isinstance(d, datetime) or not isinstance(d, date):
            raise BusinessDayError(f"expected a date (not a datetime), got {d!r}; pass d.date() for a datetime")
        if d.year not in self.years:
            raise BusinessDayError(
                f"{d.isoformat()} is outside the calendar's years {self.years.start}-{self.years.stop - 1}; "
                f"build it with years=range(...) covering {d.year}"
            )


def _weekdays_through(d: date) -> int:
    """Monday-to-Friday days from 0001-01-01 (a Monday, ordinal 1) up to and including ``d``."""
    weeks, rest = divmod(d.toordinal(), 7)
    return weeks * 5 + min(rest, 5)

def check_in_calendar(day: date, path: str, where: str) -> None:
    """Refuse a day outside the years the business-day calendar covers: credit and refund days are
    computed from it, so a typo such as 2204 for 2024 would otherwise fail deep inside the run."""
    first, last = DEFAULT_YEARS.start, DEFAULT_YEARS.stop - 2  # a credit lands up to two bills later
    if not first <= day.year <= last:
        raise InputError(path, where, f"{day:%Y-%m-%d} is outside the years this tool settles ({first}-{last})",
                         f"check the year (a typo such as 2204 for 2024?); dates from {first} to {last} work")


def calendar_for(folder: Path) -> BusinessCalendar:
    """The business-day calendar for an incident in ``folder``: Korean public holidays and the
    catalogue's calendar overrides (built-in, then the project's and the workspace's)."""
    files = catalogue_for(folder).calendar_files()
    return BusinessCalendar.from_overrides(CalendarOverrides.load_all(files) if files else None)
