"""The fee a credit is computed on: the policy language's ``fee_basis`` and its arithmetic.

A credit on bills is computed on the sum of the counted bill items over the basis's months,
divided once with the credit's rounding (an average over three months is not rounded on its own).
Checked against exact fractions, on DuckDB, for random items, months and policies."""

from __future__ import annotations

from dataclasses import replace
from fractions import Fraction
from pathlib import Path

import duckdb
import pandas as pd
import pytest
from conftest import reference_credit, write
from hypothesis import given
from hypothesis import strategies as st
from test_credits import HYP, LINE_COLUMNS, line, policies

from kt_analysis.engine.dialect import render_policy
from kt_analysis.engine.fees import fees_sql, with_fees
from kt_analysis.errors import InputError
from kt_analysis.inputs.policy import FeeBasis, for_incident, load_policy
from kt_analysis.inputs.schema import DISCOUNT_ITEMS, ITEM_CATEGORIES
from kt_analysis.rules.credits import compile_policy

HEAD = """
id: fee-test
title: 시험
services: [mobile, internet, landline]
credit:
  outage_multiplier: 10
"""


def _policy(tmp_path: Path, basis: str):
    return load_policy(write(tmp_path / "p.yml", HEAD + basis))


def test_the_roster_fee_is_the_default_and_reads_monthly_fee(tmp_path: Path) -> None:
    for text in ("", "fee_basis: roster\n"):
        basis = _policy(tmp_path, text).fee_basis
        assert basis.roster and basis.column == "monthly_fee_krw" and basis.n_months == 1


def test_the_three_forms_of_bill_months(tmp_path: Path) -> None:
    one = _policy(tmp_path, 'fee_basis: {bills: ["2021-10"], exclude: [selective_discount]}\n').fee_basis
    assert one.months == ("2021-10",) and "selective_discount" not in one.items and "plan" in one.items
    assert "할인 전 금액으로 환원: 선택약정 할인" in one.describe()
    avg = _policy(tmp_path, 'fee_basis: {bills: ["2018-10", "2018-08", "2018-09"], '
                            'exclude: [one_off, international, information_fee]}\n').fee_basis
    assert avg.months == ("2018-08", "2018-09", "2018-10") and avg.n_months == 3
    rel = _policy(tmp_path, "fee_basis: {bills_before_incident: 1, exclude: [usage]}\n").fee_basis
    assert rel.months_before == 1 and rel.for_incident("2024-08").months == ("2024-07",)
    assert rel.for_incident("2024-01").months == ("2023-12",)
    assert FeeBasis(months_before=3).for_incident("2019-02").months == ("2018-11", "2018-12", "2019-01")
    assert one.column != avg.column != rel.for_incident("2024-08").column


@pytest.mark.parametrize(("basis", "key", "words"), [
    ('fee_basis: {bills: ["2021-13"]}', "fee_basis.bills[0]", "is not a bill month"),
    ('fee_basis: {bills: ["2021-10", "2021-10"]}', "fee_basis.bills", "names a month twice"),
    ("fee_basis: {exclude: [usage]}", "fee_basis.bills", "neither"),
    ('fee_basis: {bills: ["2021-10"], bills_before_incident: 1}', "fee_basis.bills", "both"),
    ('fee_basis: {bills: ["2021-10"], include: [plan], exclude: [usage]}', "fee_basis.exclude", "together"),
    ('fee_basis: {bills: ["2021-10"], include: [plann]}', "fee_basis.include[0]", "not one of"),
    ('fee_basis: {bills: ["2021-10"], include: [bundle_discount]}', "fee_basis.include", "discounts only"),
    ('fee_basis: {bills: ["2021-10"], without_bill: zero}', "fee_basis.without_bill", "not one of"),
    ('fee_basis: {bills: ["2021-10"], months: 3}', "fee_basis.months", ""),
    ("fee_basis: bills", "fee_basis", "not roster or a mapping"),
    ("fee_basis: {bills_before_incident: 0}", "fee_basis.bills_before_incident", ""),
])
def test_a_bad_fee_basis_is_refused_naming_the_key(tmp_path: Path, basis: str, key: str, words: str) -> None:
    with pytest.raises(InputError) as caught:
        _policy(tmp_path, basis + "\n")
    assert caught.value.where == key and words in str(caught.value)


def test_a_relative_basis_must_be_resolved_before_compiling(tmp_path: Path) -> None:
    policy = _policy(tmp_path, "fee_basis: {bills_before_incident: 1}\n")
    with pytest.raises(ValueError, match="resolve it first"):
        compile_policy(policy)
    compile_policy(for_incident(policy, "2024-08"))


MONTHS = ("2021-08", "2021-09", "2021-10")
item_rows = st.lists(st.tuples(st.sampled_from(MONTHS), st.sampled_from(ITEM_CATEGORIES),
                               st.integers(0, 2_000_000)), max_size=12, unique_by=lambda r: (r[0], r[1]))
bases = st.builds(
    FeeBasis,
    months=st.lists(st.sampled_from(MONTHS), min_size=1, max_size=3, unique=True).map(lambda m: tuple(sorted(m))),
    exclude=st.lists(st.sampled_from(ITEM_CATEGORIES[1:]), max_size=5, unique=True).map(tuple),
    without_bill=st.sampled_from(["refuse", "roster_fee"]),
)


@HYP
@given(policy=policies, basis=bases, rows=item_rows,
       minutes=st.integers(1, 3000), roster_fee=st.integers(0, 200_000))
def test_a_credit_on_bills_is_exact_with_one_rounding(policy, basis, rows, minutes, roster_fee) -> None:
    """Credit on bills = the exact fraction (items' sum over n months ÷ n as the fee) rounded once,
    as the policy says; a line without a bill in every month falls back to the roster fee (×n / n)
    or, with without_bill: refuse, has no basis (NULL: the run refuses it before computing)."""
    policy = replace(policy, fee_basis=basis)
    signed = [(m, i, -k if i in DISCOUNT_ITEMS else k) for m, i, k in rows]
    lines = line(roster_fee, minutes)
    frame = pd.DataFrame([{"line_id": 1, **lines}], columns=["line_id", *LINE_COLUMNS])
    items = pd.DataFrame(signed or [("2000-01", "plan", 0)], columns=["bill_month", "item", "amount_krw"])
    items.insert(0, "line_id", 1)
    con = duckdb.connect()
    con.register("lines_under_test", frame)
    con.register("items_under_test", items)
    p = render_policy(compile_policy(policy), "duckdb")
    relation = with_fees("lines_under_test", [basis], fees_sql([basis], "items_under_test"))
    fee, credit = con.execute(f"SELECT {basis.column}, {p.credit_krw} FROM {relation}").fetchone()
    con.close()
    have = {m for m, _i, _k in signed if m in basis.months}
    total = sum(k for m, i, k in signed if m in basis.months and i in basis.items)
    if len(have) == len(basis.months):
        assert fee == total
        exact_fee = Fraction(total, basis.n_months)
    elif basis.without_bill == "roster_fee":
        assert fee == roster_fee * basis.n_months
        exact_fee = Fraction(roster_fee)
    else:
        assert fee is None
        return
    if exact_fee < 0:
        return  # refused by the run (a negative basis), see test_the_run_refuses_*
    _ok, _reason, _rule, want = reference_credit(policy, {**lines, "monthly_fee_krw": exact_fee})
    assert credit == want, (exact_fee, basis)
