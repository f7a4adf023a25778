"""Money rules: the SQL that credits.py compiles, checked against exact fractions."""

from __future__ import annotations

import math
from dataclasses import replace
from fractions import Fraction
from pathlib import Path

import pandas as pd
import pytest
import yaml
from conftest import POLICIES, SERVICES, exact_credit, policy_from_doc, reference_credit
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from test_fuzz import policy_docs

from kt_analysis.engine.dialect import render_policy
from kt_analysis.inputs.policy import (
    BillableTime,
    CreditRule,
    Eligibility,
    Override,
    Policy,
    Rounding,
    Tier,
    When,
    for_incident,
    load_policy,
)
from kt_analysis.rules.credits import compile_policy

LINE_COLUMNS = (
    "monthly_fee_krw",
    "outage_minutes",
    "longest_continuous_minutes",
    "monthly_cumulative_minutes",
    "outage_days",
    "days_in_month",
    "service",
    "customer_type",
    "region",
    "plan",
)
INT_COLUMNS = LINE_COLUMNS[:6]
HYP = settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def line(
    fee: int,
    minutes: int,
    *,
    longest: int | None = None,
    monthly: int | None = None,
    days_in_month: int = 31,
    service: str = "mobile",
    customer_type: str = "individual",
    region: str = "서울",
    plan: str | None = None,
) -> dict:
    return {
        "monthly_fee_krw": fee,
        "outage_minutes": minutes,
        "longest_continuous_minutes": minutes if longest is None else longest,
        "monthly_cumulative_minutes": minutes if monthly is None else monthly,
        "outage_days": -(-minutes // 1440),
        "days_in_month": days_in_month,
        "service": service,
        "customer_type": customer_type,
        "region": region,
        "plan": plan,
    }


def evaluate(con, policy: Policy, lines: list[dict]) -> list[tuple[bool, str, str, int]]:
    """Run compile_policy's four expressions in DuckDB over ``lines`` (BIGINT columns)."""
    frame = pd.DataFrame(lines, columns=list(LINE_COLUMNS))
    frame.insert(0, "idx", range(len(frame)))
    for c in ("idx", *INT_COLUMNS):
        frame[c] = frame[c].astype("int64")
    # A policy on bills (the catalogue's specials) reads its fee basis: here each month of the basis
    # billed exactly the line's monthly_fee_krw, so the basis (summed over its months) is that fee × n
    # and the credits equal the same rules on the roster fee (the reference below).
    policy = for_incident(policy, "2024-08")
    if not policy.fee_basis.roster:
        frame[policy.fee_basis.column] = frame["monthly_fee_krw"] * policy.fee_basis.n_months
    p = render_policy(compile_policy(policy), "duckdb")
    con.register("lines_under_test", frame)
    try:
        return con.execute(
            f"SELECT {p.eligible}, {p.reason}, {p.rule}, {p.credit_krw} "
            "FROM lines_under_test ORDER BY idx"
        ).fetchall()
    finally:
        con.unregister("lines_under_test")


EVERY_LINE = Eligibility()
FLOOR = Rounding()


def make_policy(
    credit: CreditRule,
    *,
    services=SERVICES,
    eligibility=EVERY_LINE,
    hours_per_month=720,
    overrides=(),
    rounding=FLOOR,
) -> Policy:
    return Policy(
        id="p",
        title="t",
        sources=("s",),
        services=tuple(services),
        eligibility=eligibility,
        hours_per_month=hours_per_month,
        credit=credit,
        overrides=tuple(overrides),
        rounding=rounding,
    )


# --- strategies ------------------------------------------------------------------------------

fees = st.one_of(st.integers(0, 10_000_000), st.sampled_from([0, 1, 5880, 25000, 72000]))
units = st.one_of(st.sampled_from([1, 10, 30, 60, 90, 1440]), st.integers(1, 1440))
billable = st.builds(
    BillableTime,
    unit_minutes=units,
    mode=st.sampled_from(["up", "down", "half_up"]),
    applies_to=st.sampled_from(["outage", "multiplied"]),
)
# Tiers go up in days and never pay less for more days (the loader refuses anything else).
tiers = st.lists(st.tuples(st.integers(0, 15), st.integers(0, 2_000_000)), max_size=4).map(
    lambda ts: tuple(
        Tier(d, k)
        for d, k in zip(sorted({d for d, _ in ts}), sorted(k for _, k in ts), strict=False)
    )
)
rules = st.builds(
    CreditRule,
    outage_multiplier=st.one_of(st.integers(0, 10), st.integers(0, 100)),
    billable_time=billable,
    days_of_fee=st.one_of(st.just(0), st.integers(0, 10), st.integers(0, 366)),
    months_of_fee=st.integers(0, 2),
    tiers_by_outage_days=tiers,
)
thresholds = st.one_of(st.none(), st.integers(0, 900))
eligibilities = st.builds(
    Eligibility,
    min_continuous_minutes=thresholds,
    min_monthly_cumulative_minutes=thresholds,
    monthly_cumulative_exceeds=st.booleans(),
)


def subset(values):
    return st.one_of(
        st.none(), st.lists(st.sampled_from(values), min_size=1, max_size=2, unique=True).map(tuple)
    )


whens = st.builds(
    When,
    customer_types=subset(("individual", "small_business", "enterprise")),
    services=subset(SERVICES),
    regions=subset(("서울", "부산")),
).filter(lambda w: w != When())
overrides = st.builds(
    Override,
    when=whens,
    credit=rules,
    eligibility=st.one_of(st.none(), eligibilities),
    combine=st.sampled_from(["replace", "add"]),
)
roundings = st.builds(
    Rounding,
    unit_krw=st.sampled_from([1, 1, 7, 10, 100, 1000]),
    mode=st.sampled_from(["floor", "ceil", "half_up"]),
)
policies = st.builds(
    make_policy,
    rules,
    services=st.lists(st.sampled_from(SERVICES), min_size=1, max_size=4, unique=True).map(tuple),
    eligibility=eligibilities,
    hours_per_month=st.one_of(st.just(720), st.just("days_in_month"), st.integers(24, 744)),
    overrides=st.lists(overrides, max_size=3).map(tuple),
    rounding=roundings,
)


@st.composite
def lines(draw):
    minutes = draw(st.one_of(st.integers(1, 600), st.integers(1, 92 * 1440)))
    return line(
        draw(fees),
        minutes,
        longest=draw(st.integers(1, minutes)),
        monthly=draw(st.integers(1, minutes)),
        days_in_month=draw(st.sampled_from([28, 29, 30, 31])),
        service=draw(st.sampled_from(SERVICES)),
        customer_type=draw(st.sampled_from(("individual", "small_business", "enterprise"))),
        region=draw(st.sampled_from(("서울", "부산", "제주"))),
    )


# --- exact ties: a credit k + ½ rounding units ------------------------------------------------
# 60 minutes × 1 of a fee F over 720 h is F / 720 won, so F = 360 × unit × odd lies exactly half a
# unit above a multiple of it. Over `days_in_month` in a 29-day month (696 h), F = 348 × unit × odd.
# A 30-minute outage billed in 60-minute units half_up is a tie in minutes too (→ 60 minutes).
TIE_UNITS = (1, 10, 100, 1000)
TIE_ODDS = (1, 3, 7)


def tie_docs(unit: int, mode: str = "half_up") -> list[tuple[dict, list[dict]]]:
    """(policy document, lines) pairs in which every line's exact credit is a tie at ``unit``."""
    base = {"id": "tie", "title": "반올림 경계", "services": list(SERVICES)}
    rounding = {"unit_krw": unit, "mode": mode}
    return [
        ({**base, "credit": {"outage_multiplier": 1, "rounding": rounding}},
         [line(360 * unit * k, 60) for k in TIE_ODDS]),
        ({**base, "hourly_fee": {"hours_per_month": "days_in_month"},
          "credit": {"outage_multiplier": 1, "rounding": rounding}},
         [line(348 * unit * k, 60, days_in_month=29) for k in TIE_ODDS]),
        ({**base, "credit": {"outage_multiplier": 1, "rounding": rounding,
                             "billable_time": {"unit_minutes": 60, "mode": "half_up", "applies_to": "outage"}}},
         [line(360 * unit * k, 30) for k in TIE_ODDS]),
    ]


def with_tie_examples(test):
    """Replay the tie cases first, at every unit (``policy``, or ``doc`` for the YAML property)."""
    for unit in TIE_UNITS:
        for doc, batch in tie_docs(unit):
            kw = {"doc": doc} if "doc" in test.__code__.co_varnames else {"policy": policy_from_doc(doc)}
            test = example(**kw, batch=batch)(test)
    return test


@pytest.mark.parametrize("unit", TIE_UNITS)
def test_tie_examples_are_exact_ties(duck, unit):
    """The examples above stay ties (else the properties would replay ordinary cases), and half_up
    takes a tie up, floor down, ceil up, at every unit."""
    for mode in ("half_up", "floor", "ceil"):
        for doc, batch in tie_docs(unit, mode):
            policy = policy_from_doc(doc)
            exact = [exact_credit(policy, policy.credit, ln) / unit for ln in batch]
            assert all(q - math.floor(q) == Fraction(1, 2) for q in exact), doc
            up = [(math.floor(q) + 1) * unit for q in exact]
            want = {"half_up": up, "ceil": up, "floor": [math.floor(q) * unit for q in exact]}[mode]
            assert [row[3] for row in evaluate(duck, policy, batch)] == want, doc


# --- the SQL equals the exact reference ------------------------------------------------------


@HYP
@given(policy=policies, batch=st.lists(lines(), min_size=1, max_size=25))
@with_tie_examples
def test_sql_equals_fraction_reference(duck, policy, batch):
    got = evaluate(duck, policy, batch)
    want = [reference_credit(policy, ln) for ln in batch]
    assert got == want


@pytest.fixture(scope="module")
def yaml_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("policy-yaml")


@settings(HYP, max_examples=80, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(doc=policy_docs(), batch=st.lists(lines(), min_size=1, max_size=25))
@with_tie_examples
def test_policy_yaml_equals_fraction_reference(duck, yaml_dir, doc, batch):
    """A generated policy document, written as YAML text and read by ``load_policy``, means what
    the document says (``policy_from_doc`` reads it by hand), and its SQL pays the exact reference
    of that meaning: a key the loader misreads or drops fails here."""
    path = yaml_dir / "policy.yml"
    path.write_text(yaml.safe_dump(doc, allow_unicode=True, sort_keys=False), encoding="utf-8")
    policy = load_policy(path)
    meant = policy_from_doc(doc)
    assert replace(policy, path="", sha256="") == meant
    assert evaluate(duck, policy, batch) == [reference_credit(meant, ln) for ln in batch]


@HYP
@given(policy=policies, base=lines(), steps=st.lists(st.integers(0, 2000), min_size=2, max_size=8))
def test_credit_never_decreases_as_outage_grows(duck, policy, base, steps):
    # One window that keeps going: all outage figures grow together, nothing else changes.
    batch = []
    minutes = 0
    for step in steps:
        minutes += step + 1
        batch.append(
            line(
                base["monthly_fee_krw"],
                minutes,
                days_in_month=base["days_in_month"],
                service=base["service"],
                customer_type=base["customer_type"],
                region=base["region"],
            )
        )
    credits = [row[3] for row in evaluate(duck, policy, batch)]
    assert credits == sorted(credits)


@settings(max_examples=60, deadline=None)
@given(
    fee=st.integers(1, 10_000_000),
    multiplier=st.integers(1, 100),
    threshold=st.integers(1, 900),
    monthly=st.booleans(),
    rounding=st.sampled_from(["floor", "ceil", "half_up"]),
)
def test_zero_below_threshold_eligible_at_it(duck, fee, multiplier, threshold, monthly, rounding):
    elig = (
        Eligibility(min_monthly_cumulative_minutes=threshold)
        if monthly
        else Eligibility(min_continuous_minutes=threshold)
    )
    policy = make_policy(
        CreditRule(outage_multiplier=multiplier), eligibility=elig, rounding=Rounding(1, rounding)
    )
    below, at, above = (line(fee, threshold + d) for d in (-1, 0, 1))
    rows = evaluate(duck, policy, [below, at, above])
    assert rows[0][:2] == (False, "below_threshold") and rows[0][3] == 0
    assert [r[0] for r in rows[1:]] == [True, True]
    assert rows[1][1] == ("monthly_cumulative" if monthly else "continuous")
    for row, ln in zip(rows[1:], (at, above), strict=True):
        assert row[3] == round_exact(fee * multiplier * ln["outage_minutes"], 720 * 60, rounding)
        if rounding == "ceil":
            assert row[3] > 0  # any positive exact credit pays at least a won


def round_exact(num: int, den: int, mode: str) -> int:
    q = Fraction(num, den)
    return {
        "floor": math.floor(q),
        "ceil": math.ceil(q),
        "half_up": math.floor(q + Fraction(1, 2)),
    }[mode]


@pytest.mark.parametrize(("exceeds", "eligible_at_360"), [(False, True), (True, False)])
def test_monthly_cumulative_exceeds_switches_ge_and_gt(duck, exceeds, eligible_at_360):
    policy = make_policy(
        CreditRule(outage_multiplier=10),
        eligibility=Eligibility(
            min_continuous_minutes=120,
            min_monthly_cumulative_minutes=360,
            monthly_cumulative_exceeds=exceeds,
        ),
    )
    # Six one-hour outages in the month: continuous 60 min, cumulative 359 / 360 / 361 min.
    rows = evaluate(duck, policy, [line(72000, m, longest=60) for m in (359, 360, 361)])
    assert [r[0] for r in rows] == [False, eligible_at_360, True]
    assert (rows[1][3] > 0) == eligible_at_360
    assert rows[2][1] == "monthly_cumulative"


def test_overrides_first_match_wins_and_add_adds(duck):
    base = CreditRule(outage_multiplier=10)
    policy = make_policy(
        base,
        services=("mobile", "internet"),
        overrides=(
            Override(When(customer_types=("small_business",)), CreditRule(days_of_fee=10)),
            Override(When(services=("internet",)), CreditRule(months_of_fee=1)),
            Override(When(regions=("제주",)), CreditRule(days_of_fee=1), combine="add"),
        ),
    )
    sb_internet = line(30000, 60, service="internet", customer_type="small_business")
    internet = line(30000, 60, service="internet")
    jeju_mobile = line(72000, 60, region="제주")
    iptv = line(30000, 60, service="iptv")
    rows = evaluate(duck, policy, [sb_internet, internet, jeju_mobile, iptv])
    assert rows[0] == (True, "all_affected", "override 1", 10_000)  # 10 days of 30,000 won
    assert rows[1] == (True, "all_affected", "override 2", 30_000)  # 1 month
    assert rows[2] == (True, "all_affected", "override 3", 1_000 + 2_400)  # 1 h × 10 + 1 day
    assert rows[3] == (False, "service_not_covered", "not_covered", 0)


def test_add_override_pays_its_part_only_when_its_own_eligibility_holds(duck):
    policy = make_policy(
        CreditRule(months_of_fee=1),
        eligibility=Eligibility(min_continuous_minutes=180),
        overrides=(
            Override(
                When(customer_types=("small_business",)),
                CreditRule(tiers_by_outage_days=(Tier(1, 400_000), Tier(3, 800_000))),
                eligibility=Eligibility(),
                combine="add",
            ),
        ),
    )
    short = line(33000, 60, customer_type="small_business")
    long = line(33000, 3 * 1440 + 1, customer_type="small_business")
    rows = evaluate(duck, policy, [short, long])
    assert rows[0] == (True, "all_affected", "override 1", 400_000)  # tier only: base not eligible
    assert rows[1] == (True, "continuous", "override 1", 33_000 + 800_000)


@pytest.mark.parametrize("service", ["iptv", "landline"])
def test_services_not_covered_get_nothing(duck, service):
    policy = make_policy(
        CreditRule(outage_multiplier=10, months_of_fee=1), services=("mobile", "internet")
    )
    assert evaluate(duck, policy, [line(50000, 5000, service=service)]) == [
        (False, "service_not_covered", "not_covered", 0)
    ]


# --- examples from announcements ---------------------------------------------------------------


@pytest.mark.parametrize(("hours", "credit"), [(1, 1_000), (2, 2_000), (5, 5_000)])
def test_announcement_table_72000_won_plan(duck, hours, credit):
    # The table customers were shown (README, "The policy language"): 1 h of outage → 10 h of fee.
    policy = make_policy(CreditRule(outage_multiplier=10))
    assert evaluate(duck, policy, [line(72000, hours * 60)])[0][3] == credit


def test_kt_2021_special_policy_examples(duck):
    # data/policies/kt-2021-10-25-special.yml (koreatimes 2021-11, dailian): 89 min × 10 = 890 min,
    # paid as 900 min (15 h of fee); small merchants' internet and internet phone: 10 days of fee.
    policy = load_policy(POLICIES / "kt-2021-10-25-special.yml")
    rows = evaluate(
        duck,
        policy,
        [
            line(72000, 89),
            line(25000, 89, service="internet", customer_type="small_business"),
            line(72000, 89, customer_type="small_business"),  # merchants' mobile: individual rule
            line(30000, 89, service="iptv"),  # IPTV was not covered
            line(11000, 89, service="landline", plan="인터넷전화 정액"),  # internet phone: 15 h of fee
            line(11000, 89, service="landline", plan="인터넷전화 정액", customer_type="small_business"),  # 10 days
            line(11000, 89, service="landline", plan="일반전화 정액"),  # PSTN was not covered
            line(5200, 89, service="landline", plan="일반전화 기본", customer_type="small_business"),  # nor merchants
        ],
    )
    assert [r[3] for r in rows] == [1_500, 8_333, 1_500, 0, 229, 3_666, 0, 0]
    assert rows[1][2] == "override 1" and rows[3][1] == "service_not_covered"
    assert rows[5][2] == "override 1"
    assert rows[6] == rows[7] == (False, "plan_not_covered", "not_covered", 0)


def test_excluded_plans_get_nothing_before_any_override(duck):
    """``exclude_plans``: a line of a covered service on an excluded plan is not eligible, whatever
    override would match it (``plan_not_covered``, rule ``not_covered``, 0 won); a service the policy
    does not cover keeps its own reason; a line without a plan (NULL) is not excluded."""
    policy = make_policy(
        CreditRule(outage_multiplier=10), services=("mobile", "landline"),
        overrides=(Override(When(customer_types=("small_business",)), CreditRule(days_of_fee=10)),),
    )
    policy = replace(policy, exclude_plans=("일반전화 기본",))
    rows = evaluate(duck, policy, [
        line(72000, 60, service="landline", plan="일반전화 기본"),
        line(72000, 60, service="landline", plan="일반전화 기본", customer_type="small_business"),
        line(72000, 60, service="landline", plan="인터넷전화 기본"),
        line(72000, 60, service="landline"),  # no plan
        line(72000, 60, service="iptv", plan="일반전화 기본"),
    ])
    assert rows == [
        (False, "plan_not_covered", "not_covered", 0),
        (False, "plan_not_covered", "not_covered", 0),
        (True, "all_affected", "base", 1_000),
        (True, "all_affected", "base", 1_000),
        (False, "service_not_covered", "not_covered", 0),
    ]
    assert "plan_not_covered" in compile_policy(policy).reasons
    assert "plan_not_covered" not in compile_policy(replace(policy, exclude_plans=())).reasons


def test_excluded_plans_compare_the_roster_spellings(duck):
    """Once a roster is read the SQL compares the roster's own spellings (here NFD, with a trailing
    space), not the policy's NFC name."""
    import unicodedata

    from kt_analysis.inputs.policy import unmatched_plans, with_roster_plans

    nfd = unicodedata.normalize("NFD", "일반전화 기본") + " "
    policy = replace(make_policy(CreditRule(outage_multiplier=10)), exclude_plans=("일반전화 기본", "없는 요금제"))
    roster_plans = [nfd, "인터넷전화 기본", None]
    assert unmatched_plans(policy, roster_plans) == [(1, "없는 요금제")]
    policy = with_roster_plans(policy, roster_plans)
    assert policy.plan_values == (nfd,)
    rows = evaluate(duck, policy, [line(72000, 60, service="landline", plan=nfd),
                                   line(72000, 60, service="landline", plan="일반전화 기본")])
    assert [r[1] for r in rows] == ["plan_not_covered", "all_affected"]


def test_float_formula_is_off_where_integer_one_is_exact(duck):
    # The float form floor(fee / 720 * h * 10) is off by a won on some lines; find such a line.
    fee, hours = next(
        (f, h)
        for f in range(0, 200_001, 10)
        for h in range(1, 25)
        if math.floor(f / 720 * h * 10) != f * h * 10 // 720
    )
    exact = Fraction(fee, 720) * hours * 10
    policy = make_policy(CreditRule(outage_multiplier=10))
    credit = evaluate(duck, policy, [line(fee, hours * 60)])[0][3]
    assert credit == math.floor(exact)
    assert credit != math.floor(fee / 720 * hours * 10)


@pytest.mark.parametrize(("days_in_month", "credit"), [(28, 1_071), (30, 1_000), (31, 968)])
def test_days_in_month_hourly_fee(duck, days_in_month, credit):
    # 72,000 won ÷ (days × 24 h) × 1 h × 10, half_up to the won.
    policy = make_policy(
        CreditRule(outage_multiplier=10),
        hours_per_month="days_in_month",
        rounding=Rounding(1, "half_up"),
    )
    got = evaluate(duck, policy, [line(72000, 60, days_in_month=days_in_month)])[0][3]
    assert got == credit
    assert got == reference_credit(policy, line(72000, 60, days_in_month=days_in_month))[3]


@pytest.mark.parametrize(
    ("mode", "unit", "credit"),
    [
        ("floor", 10, 1_530),
        ("ceil", 10, 1_540),
        ("half_up", 10, 1_530),
        ("half_up", 100, 1_500),
        ("ceil", 1000, 2_000),
        ("floor", 1, 1_534),
        ("half_up", 1, 1_534),
        ("ceil", 1, 1_535),
    ],
)
def test_rounding_to_unit_krw(duck, mode, unit, credit):
    # 73,650 won × 15 h / 720 h = 1,534.375 won
    policy = make_policy(CreditRule(outage_multiplier=10), rounding=Rounding(unit, mode))
    assert evaluate(duck, policy, [line(73650, 90)])[0][3] == credit


@pytest.mark.parametrize(
    ("unit", "mode", "applies_to", "credit"),
    [
        (60, "up", "outage", 2_000),  # 89 min → 120 min, × 10
        (60, "down", "outage", 1_000),  # 89 min → 60 min, × 10
        (60, "half_up", "outage", 1_000),  # 89 min is 1.48 h → 60 min
        (60, "half_up", "multiplied", 1_500),  # 890 min is 14.8 h → 900 min
        (60, "up", "multiplied", 1_500),  # 890 min → 900 min
        (60, "down", "multiplied", 1_400),  # 890 min → 840 min
        (1, "up", "outage", 1_483),  # 890 min exactly: 1,483.33
    ],
)
def test_billable_time_rounding(duck, unit, mode, applies_to, credit):
    policy = make_policy(
        CreditRule(outage_multiplier=10, billable_time=BillableTime(unit, mode, applies_to))
    )
    assert evaluate(duck, policy, [line(72000, 89)])[0][3] == credit


def test_extreme_values_stay_exact(duck):
    # The largest roster fee the validator accepts, 92 days, every part at its maximum.
    rule = CreditRule(
        outage_multiplier=100,
        billable_time=BillableTime(7 * 24 * 60, "up", "multiplied"),
        days_of_fee=366,
        months_of_fee=12,
        tiers_by_outage_days=(Tier(1, 10**10),),
    )
    policy = make_policy(rule, rounding=Rounding(1, "half_up"))
    ln = line(100_000_000, 92 * 1440)
    got = evaluate(duck, policy, [ln])[0][3]
    assert got == reference_credit(policy, ln)[3]
    assert got == math.floor(exact_credit(policy, rule, ln) + Fraction(1, 2))
    assert got == 43_103_333_333


def test_catalogue_policies_compile_and_match_reference(duck):
    batch = [
        line(f, m, service=s, customer_type=c)
        for f in (0, 5880, 72000)
        for m in (30, 200, 400, 3000)
        for s in SERVICES
        for c in ("individual", "small_business")
    ]
    for path in sorted(POLICIES.glob("*.yml")):
        policy = load_policy(path)
        assert evaluate(duck, policy, batch) == [reference_credit(policy, ln) for ln in batch], path
