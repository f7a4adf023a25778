"""Outage credits: the claim window and the day each credit lands."""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from pathlib import Path

import pytest

from kt_analysis.errors import InputError
from kt_analysis.inputs.business_days import BusinessCalendar
from kt_analysis.inputs.policy import Delivery, load_policy
from kt_analysis.rules.timeline import claim_window_closes, credit_bill_month, credit_days

ROOT = Path(__file__).resolve().parents[1]
CAL = BusinessCalendar.from_overrides(None)


def test_the_2021_credit_lands_on_the_december_bill_on_business_days() -> None:
    # KT: the credit is deducted from November usage, billed in December 2021.
    policy = load_policy(ROOT / "kt_analysis/catalogue/policies/kt-2021-10-25-special.yml")
    days = credit_days(policy, date(2021, 10, 25), CAL)
    assert days is not None and len(days) == 31
    assert days[10] == date(2021, 12, 13)  # the 11th was a Saturday
    assert days[18] == date(2021, 12, 20)  # the 19th was a Sunday
    assert days[20] == date(2021, 12, 21)
    assert days[24] == date(2021, 12, 27)  # Christmas (Saturday), then Sunday
    assert all(CAL.is_business_day(d) for d in days)


def test_next_bill_and_short_months() -> None:
    policy = load_policy(ROOT / "kt_analysis/catalogue/policies/kt-terms-2022.yml")
    assert credit_bill_month(policy, date(2024, 1, 15)) == (2024, 2)
    days = credit_days(policy, date(2024, 1, 15), CAL)
    assert days is not None
    assert days[30] == date(2024, 2, 29)  # bill day 31 in a 29-day February: the month's last day
    after = replace(policy, delivery=replace(policy.delivery, applied_on="bill_after_next"))
    assert credit_bill_month(after, date(2024, 12, 3)) == (2025, 2)


def test_claim_window_and_cash() -> None:
    policy = load_policy(ROOT / "kt_analysis/catalogue/policies/kt-terms-2022.yml")
    # 30 days counting the incident's first day, as the claims rules decide each claim: the last
    # day claims are accepted is the one the deadline names
    assert claim_window_closes(policy, date(2024, 8, 10)) == date(2024, 9, 8)
    assert policy.claims is not None and policy.claims.last_day(date(2024, 8, 10)) == date(2024, 9, 8)
    without_rules = replace(policy, claims=None)
    assert claim_window_closes(without_rules, date(2024, 8, 10)) == date(2024, 9, 8)
    automatic = load_policy(ROOT / "kt_analysis/catalogue/policies/kt-2021-10-25-special.yml")
    assert claim_window_closes(automatic, date(2021, 10, 25)) is None
    on_request = replace(policy, delivery=Delivery(method="cash_on_request", applied_on="next_bill"))
    assert credit_days(on_request, date(2024, 8, 10), CAL) is None
    cash = replace(policy, delivery=Delivery(method="cash", applied_on="2024-09-07"))  # a Saturday
    assert credit_days(cash, date(2024, 8, 10), CAL) == [date(2024, 9, 9)] * 31


@pytest.mark.parametrize("value", ["next_month", "2021-13", "someday"])
def test_bad_applied_on_is_named(tmp_path: Path, value: str) -> None:
    text = (ROOT / "kt_analysis/catalogue/policies/kt-terms-2022.yml").read_text(encoding="utf-8")
    bad = tmp_path / "bad.yml"
    bad.write_text(text.replace("applied_on: next_bill", f"applied_on: {value}"), encoding="utf-8")
    with pytest.raises(InputError, match="delivery.applied_on"):
        load_policy(bad)
