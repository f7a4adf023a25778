"""When a billing error's lines are settled: the days of each payment method's reversals, from
announced dates or a lag in Korean business days with a daily capacity (engine-neutral)."""

from __future__ import annotations

from datetime import date
from typing import Any

from kt_analysis.inputs.settlement import MethodRule


def settlement_days(rule: MethodRule, discovered_on: date, lines: int, calendar: Any) -> list[date]:
    """The days a method's lines are reversed on, in line_id order (index = day slot)."""
    if rule.dates:
        return list(rule.dates)
    first = calendar.add_business_days(discovered_on, rule.lag_business_days)
    if not rule.daily_capacity_lines:
        return [first]
    slots = max(1, -(-lines // rule.daily_capacity_lines))
    days = [first]
    while len(days) < slots:
        days.append(calendar.next_business_day(days[-1]))
    return days
