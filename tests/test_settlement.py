"""Billing errors: money conserved line by line, settlement days from the rules and the calendar."""

from __future__ import annotations

import textwrap
from datetime import date
from pathlib import Path

import duckdb
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kt_analysis.errors import InputError
from kt_analysis.inputs.incident import load_incident
from kt_analysis.jobs.analyse import analyse

METHODS = ["credit_card", "check_card", "bank_transfer", "giro", "other"]


def _write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text).lstrip(), encoding="utf-8")
    return path


def _project(tmp: Path, lines: list[dict], bills: list[dict], billing: str, settlement: str) -> Path:
    (tmp / "data" / "policies").mkdir(parents=True, exist_ok=True)
    roster = pd.DataFrame(lines)
    roster.to_parquet(tmp / "roster.parquet", index=False)
    pd.DataFrame(bills).to_parquet(tmp / "bills.parquet", index=False)
    _write(tmp / "data" / "settlement" / "rules.yml", settlement)
    return _write(tmp / "data" / "incidents" / "bill.yml", """
        id: bill-test
        title: 오청구 시험
        kind: billing_error
        timezone: Asia/Seoul
        roster: roster.parquet
        billing:
    """.rstrip(" ") + textwrap.indent(textwrap.dedent(billing).strip(), "          ") + "\n")


def _line(i: int, method: str, cycle: int = 11, fee: int = 50_000) -> dict:
    return {"line_id": i, "customer_id": 1000 + i, "service": "mobile", "monthly_fee_krw": fee, "region": "서울",
            "facility_id": "F1", "customer_type": "individual", "payment_method": method, "bill_cycle_day": cycle}


ANNOUNCED = """
    id: rules
    title: announced
    methods:
      credit_card: {action: cancel, dates: [2023-09-11, 2023-09-12], recharge_dates: [2023-09-12, 2023-09-13]}
      check_card: {action: refund, dates: [2023-09-12], recharge_dates: [2023-09-12, 2023-09-13]}
"""
BILLING = """
    wrong_month: "2023-09"
    charged_month: "2023-07"
    bills: bills.parquet
    payment_methods: [credit_card, check_card]
    bill_cycle_days: [11]
    charged_on: 2023-09-11
    settlement: rules
"""


def _ledger(out: Path) -> pd.DataFrame:
    return duckdb.sql(f"SELECT * FROM read_parquet('{out / 'ledger.parquet'}') ORDER BY line_id").df()


def test_the_2023_incident_follows_the_announced_dates(tmp_path: Path) -> None:
    lines = [_line(i, "credit_card" if i % 10 else "check_card") for i in range(1, 41)]
    lines.append(_line(99, "bank_transfer"))  # not hit: another payment method
    lines.append(_line(98, "credit_card", cycle=19))  # not hit: another charge day
    bills = [{"line_id": r["line_id"], "bill_month": m, "amount_krw": r["monthly_fee_krw"] + k * 1000}
             for r in lines for k, m in enumerate(["2023-07", "2023-08", "2023-09"])]
    incident = load_incident(_project(tmp_path, lines, bills, BILLING, ANNOUNCED))
    summary = analyse(incident, tmp_path / "out").to_dict()
    ledger = _ledger(tmp_path / "out")
    assert summary["affected_lines"] == 40 and set(ledger["line_id"]) == set(range(1, 41))
    cards = ledger[ledger["payment_method"] == "credit_card"]
    checks = ledger[ledger["payment_method"] == "check_card"]
    # KT's SMS: cancellations on 9/11-9/12, correct amounts approved on 9/12-9/13; refunds done 9/12.
    assert set(pd.to_datetime(cards["settled_on"]).dt.date) == {date(2023, 9, 11), date(2023, 9, 12)}
    assert set(pd.to_datetime(checks["settled_on"]).dt.date) == {date(2023, 9, 12)}
    assert set(pd.to_datetime(ledger["recharge_on"]).dt.date) == {date(2023, 9, 12), date(2023, 9, 13)}
    assert summary["refund_completion_date"] == "2023-09-12"
    assert summary["settlement_completion_date"] == "2023-09-13"
    # Credit cards move no money; check cards are refunded what was withdrawn.
    assert (cards["refund_krw"] == 0).all() and (cards["cancelled_krw"] == cards["charged_krw"]).all()
    assert (checks["refund_krw"] == checks["charged_krw"]).all()
    assert summary["total_refund_krw"] == int(checks["charged_krw"].sum())
    # The July amount was charged, the September amount is owed.
    assert (ledger["charged_krw"] == ledger["owed_krw"] - 2000).all()
    # Money wrongly held: the check cards' July amounts from 9/11 until their refund on 9/12.
    assert summary["peak_exposure_krw"] == summary["total_refund_krw"]
    assert summary["exposure_krw_days"] == summary["total_refund_krw"] * 1
    sms = {(n["day"], n["payment_method"], n["message"]): n["lines"] for n in summary["notifications"]}
    assert sms[("2023-09-12", "check_card", "refund")] == 4
    assert sum(v for (d, m, k), v in sms.items() if k == "recharge") == 40


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.tuples(st.sampled_from(METHODS), st.integers(0, 3_000_000), st.integers(0, 3_000_000)),
                min_size=1, max_size=30))
def test_money_is_conserved_line_by_line(tmp_path_factory: pytest.TempPathFactory, rows) -> None:
    tmp = tmp_path_factory.mktemp("conserve")
    lines = [_line(i, m) for i, (m, _a, _b) in enumerate(rows, start=1)]
    bills = []
    for i, (_m, charged, owed) in enumerate(rows, start=1):
        bills += [{"line_id": i, "bill_month": "2023-07", "amount_krw": charged},
                  {"line_id": i, "bill_month": "2023-09", "amount_krw": owed}]
    billing = BILLING.replace("[credit_card, check_card]", "[" + ", ".join(METHODS) + "]").replace(
        "settlement: rules", "settlement: default")
    (tmp / "data" / "settlement").mkdir(parents=True)
    root = Path(__file__).resolve().parents[1]
    shipped = root / "kt_analysis" / "catalogue" / "settlement" / "default.yml"
    (tmp / "data" / "settlement" / "default.yml").write_bytes(shipped.read_bytes())
    incident = load_incident(_project(tmp, lines, bills, billing, ANNOUNCED))
    summary = analyse(incident, tmp / "out").to_dict()
    ledger = _ledger(tmp / "out")
    assert (ledger["cancelled_krw"] + ledger["refund_krw"] == ledger["charged_krw"]).all()
    assert (ledger["recharge_krw"] == ledger["owed_krw"]).all()
    assert summary["total_cancelled_krw"] + summary["total_refund_krw"] == sum(c for _m, c, _o in rows)
    assert summary["total_recharge_krw"] == sum(o for _m, _c, o in rows)
    assert summary["total_overcharged_krw"] - summary["total_undercharged_krw"] == sum(c - o for _m, c, o in rows)
    assert (pd.to_datetime(ledger["recharge_on"]) >= pd.to_datetime(ledger["settled_on"])).all()


def test_lags_count_korean_business_days_across_chuseok(tmp_path: Path) -> None:
    rules = """
        id: rules
        title: lag
        methods:
          check_card: {action: refund, lag_business_days: 1, recharge_lag_business_days: 1}
          credit_card: {action: cancel, lag_business_days: 0, recharge_lag_business_days: 2}
    """
    billing = BILLING.replace("charged_on: 2023-09-11", "charged_on: 2023-09-27")
    lines = [_line(1, "check_card"), _line(2, "credit_card")]
    bills = [{"line_id": i, "bill_month": m, "amount_krw": 10_000} for i in (1, 2) for m in ("2023-07", "2023-09")]
    summary = analyse(load_incident(_project(tmp_path, lines, bills, billing, rules)), tmp_path / "out").to_dict()
    ledger = _ledger(tmp_path / "out").set_index("line_id")
    # Wed 2023-09-27, then Chuseok 9/28-9/30, the temporary holiday 10/2, Foundation Day 10/3.
    assert pd.Timestamp(ledger.loc[1, "settled_on"]).date() == date(2023, 10, 4)
    assert pd.Timestamp(ledger.loc[1, "recharge_on"]).date() == date(2023, 10, 5)
    assert pd.Timestamp(ledger.loc[2, "settled_on"]).date() == date(2023, 9, 27)
    assert pd.Timestamp(ledger.loc[2, "recharge_on"]).date() == date(2023, 10, 5)
    assert summary["exposure_krw_days"] == 10_000 * 7  # held from 9/27 to 10/4


def test_daily_capacity_spreads_lines_over_business_days(tmp_path: Path) -> None:
    rules = """
        id: rules
        title: capacity
        methods:
          bank_transfer: {action: refund, lag_business_days: 1, daily_capacity_lines: 3}
    """
    billing = BILLING.replace("[credit_card, check_card]", "[bank_transfer]").replace(
        "charged_on: 2023-09-11", "charged_on: 2023-09-14")
    lines = [_line(i, "bank_transfer") for i in range(1, 11)]
    bills = [{"line_id": i, "bill_month": m, "amount_krw": 1_000} for i in range(1, 11) for m in ("2023-07", "2023-09")]
    summary = analyse(load_incident(_project(tmp_path, lines, bills, billing, rules)), tmp_path / "out").to_dict()
    days = pd.to_datetime(_ledger(tmp_path / "out")["settled_on"]).dt.date.tolist()
    # Thu 9/14 + 1 business day = Fri 9/15; 3 lines a day: 9/15, 9/18 (Mon), 9/19, 9/20.
    assert days == [date(2023, 9, 15)] * 3 + [date(2023, 9, 18)] * 3 + [date(2023, 9, 19)] * 3 + [date(2023, 9, 20)]
    assert summary["refund_completion_date"] == "2023-09-20"
    assert summary["peak_exposure_krw"] == 10_000


@pytest.mark.parametrize(("billing_change", "where"), [
    (("wrong_month: \"2023-09\"", "wrong_month: \"2023-13\""), "billing.wrong_month"),
    (("charged_month: \"2023-07\"", "charged_month: \"2023-09\""), "billing.charged_month"),
    (("bills: bills.parquet", "bills: nowhere.parquet"), "billing.bills"),
    (("[credit_card, check_card]", "[credit_card, giro]"), "billing.settlement"),
    (("charged_on: 2023-09-11", "charged_on: 2023-09-31"), "billing.charged_on"),
])
def test_bad_billing_sections_are_named(tmp_path: Path, billing_change: tuple[str, str], where: str) -> None:
    lines = [_line(1, "credit_card")]
    bills = [{"line_id": 1, "bill_month": m, "amount_krw": 1_000} for m in ("2023-07", "2023-09")]
    path = _project(tmp_path, lines, bills, BILLING.replace(*billing_change), ANNOUNCED)
    with pytest.raises(InputError) as info:
        load_incident(path)
    assert where in str(info.value) and "bill.yml" in str(info.value)


def test_recharge_before_reversal_is_refused(tmp_path: Path) -> None:
    rules = ANNOUNCED.replace("recharge_dates: [2023-09-12, 2023-09-13]}\n      check_card",
                              "recharge_dates: [2023-09-10]}\n      check_card")
    lines = [_line(1, "credit_card")]
    bills = [{"line_id": 1, "bill_month": m, "amount_krw": 1_000} for m in ("2023-07", "2023-09")]
    with pytest.raises(InputError, match="re-charged before"):
        analyse(load_incident(_project(tmp_path, lines, bills, BILLING, rules)), tmp_path / "out")


LAGS = """
    id: rules
    title: lags
    methods:
      credit_card: {action: cancel, lag_business_days: 0}
      check_card: {action: refund, lag_business_days: 1}
"""


def test_the_customers_message_names_the_month_that_was_charged_wrongly(tmp_path: Path) -> None:
    """The SMS text says which bill was charged wrongly: the incident's wrong_month, not a fixed one."""
    lines = [_line(i, "credit_card" if i % 2 else "check_card") for i in range(1, 11)]
    bills = [{"line_id": r["line_id"], "bill_month": m, "amount_krw": r["monthly_fee_krw"] + k * 1000}
             for r in lines for k, m in enumerate(["2024-02", "2024-03", "2024-04"])]
    billing = BILLING.replace('"2023-09"', '"2024-04"').replace('"2023-07"', '"2024-02"').replace(
        "2023-09-11", "2024-04-11")
    incident = load_incident(_project(tmp_path, lines, bills, billing, LAGS))
    summary = analyse(incident, tmp_path / "out").to_dict()
    cancel = [n["text"] for n in summary["notifications"] if n["message"] == "cancel"]
    assert cancel and all(text.startswith("[KT] 4월 요금이") for text in cancel)
    assert not any("9월" in n["text"] for n in summary["notifications"])
