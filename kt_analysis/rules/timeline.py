"""When outage credits are settled: the claim window, and the bill (or cash day) each credit lands on.

A bill credit lands on the line's bill: the bill of a month (``delivery.applied_on``: the next
bill after the outage month, the one after that, or a named bill month) charged on the line's
``bill_cycle_day`` (the month's last day when the month is shorter), moved to the next business
day when that is a weekend or holiday — auto-debits and card charges run on business days.
"""

from __future__ import annotations

import calendar as _calendar
import re
from datetime import date, timedelta
from typing import Any

from sqlglot import exp

from kt_analysis.inputs.policy import Policy
from kt_analysis.rules.sqlexpr import col, day, null_date, pick

BILL_MONTH = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")
DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def _add_months(year: int, month: int, n: int) -> tuple[int, int]:
    index = year * 12 + (month - 1) + n
    return index // 12, index % 12 + 1


def credit_bill_month(policy: Policy, outage_end: date) -> tuple[int, int] | None:
    """The (year, month) of the bill the credit is deducted from; None for cash."""
    applied = policy.delivery.applied_on
    if policy.delivery.method != "bill_credit":
        return None
    if applied == "next_bill":
        return _add_months(outage_end.year, outage_end.month, 1)
    if applied == "bill_after_next":
        return _add_months(outage_end.year, outage_end.month, 2)
    if BILL_MONTH.match(applied):
        return int(applied[:4]), int(applied[5:])
    return None


def credit_days(policy: Policy, outage_end: date, calendar: Any) -> list[date] | None:
    """The day a credit lands, for bill_cycle_day 1..31 (index 0..30); None when unknown (on request)."""
    applied = policy.delivery.applied_on
    if policy.delivery.method == "cash" and DAY.match(applied):
        day = calendar.add_business_days(date.fromisoformat(applied), 0)
        return [day] * 31
    month = credit_bill_month(policy, outage_end)
    if month is None:
        return None
    year, mon = month
    last = _calendar.monthrange(year, mon)[1]
    return [calendar.add_business_days(date(year, mon, min(d, last)), 0) for d in range(1, 32)]


def claim_window_closes(policy: Policy, first_day: date) -> date | None:
    """The last day a claim is accepted, if claims are needed: the window's N-th calendar day, the
    window opening on the claims rules' ``opens_on``, else on the incident's first day — the same
    day the claims rules decide by (inputs/claims.py, ``ClaimRules.last_day``)."""
    d = policy.delivery
    if policy.claims is not None and d.claim_required:
        return policy.claims.last_day(first_day)
    if not d.claim_required or not d.claim_window_days:
        return None
    return first_day + timedelta(days=d.claim_window_days - 1)


def credit_on(days: list[date] | None) -> exp.Expression:
    """Per line: the day its credit lands (NULL when paid on request).

    ``days[i]`` is the day for bill cycle day i + 1; a day outside the list gives NULL."""
    if days is None:
        return null_date()
    return pick([day(d) for d in days], exp.cast(col("bill_cycle_day"), exp.DataType.Type.INT))
