"""Properties of claims decisions, schedules and forecasts over generated claims and rules: every
claim gets exactly one decision; at most one claim a line and kind pays; amounts are exact whole won
and agree with the line's; the daily capacity, the processing lag and first-received-first-decided
hold on the real Korean business-day calendar; payments come after decisions; running totals only
grow; a forecast's daily counts add up exactly to the scenario's total; under tiers by the days
claimed (``days_from: claim``), a consolation pays the tier of the days claimed, capped at the
incident's span (of the line's outage days when none are claimed), and the sums stay exact; and a
reclassification, priced by the engine's SQL, pays the fee part plus the tier of the same days."""

from __future__ import annotations

from collections import Counter
from datetime import date, timedelta
from fractions import Fraction
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from kt_analysis.engine.claims import claim_lines
from kt_analysis.inputs.business_days import calendar_for
from kt_analysis.inputs.claims import CLAIMS as CLAIMS_SCHEMA
from kt_analysis.inputs.claims import KINDS, ClaimRules, Claims, UptakeScenario
from kt_analysis.inputs.policy import Policy, Tier, policy_from_mapping
from kt_analysis.rules.claims import (
    DECISIONS,
    PAYING,
    claimed_tiers,
    claims_by_day,
    decide_claims,
    forecast_uptake,
    settle_claims,
)

ROOT = Path(__file__).resolve().parents[1]
CAL = calendar_for(ROOT)
SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
MONEY = st.none() | st.integers(0, 10**12)
NUMBERS = (None, "124-81-00998", "220-81-62517", "124-81-00997", "12-34")


@st.composite
def rules(draw: st.DrawFn) -> ClaimRules:
    return ClaimRules(
        window_days=draw(st.integers(1, 15)),
        opens_on=date(2019, 1, 1) + timedelta(days=draw(st.integers(0, 700))),
        processing_business_days=draw(st.integers(0, 5)),
        daily_capacity=draw(st.none() | st.integers(1, 4)),
        credit_route=draw(st.sampled_from(("next_bill", "cash"))),
        cash_business_days=draw(st.integers(0, 4)),
    )


@st.composite
def claims(draw: st.DrawFn, rule: ClaimRules) -> pd.DataFrame:
    """Claims on a few lines (one of them in no roster), some received at the same minute."""
    lines = draw(st.integers(1, 5))
    attributes = {}
    for line in range(1, lines + 1):
        attributes[line] = {
            "in_roster": True, "affected": draw(st.booleans()), "eligible": draw(st.booleans()),
            "credit_krw": draw(MONEY), "customer_type": draw(st.sampled_from(("individual", "small_business",
                                                                              "enterprise"))),
            "consolation_krw": draw(MONEY), "reclassified_krw": draw(MONEY),
        }
    attributes[lines + 1] = {"in_roster": False, "affected": False, "eligible": None, "credit_krw": None,
                             "customer_type": None, "consolation_krw": None, "reclassified_krw": None}
    count = draw(st.integers(0, 30))
    ids = draw(st.permutations([f"C-{i:03d}" for i in range(count)]))
    assert rule.opens_on is not None
    rows = []
    for claim_id in ids:
        line = draw(st.integers(1, lines + 1))
        day = rule.opens_on + timedelta(days=draw(st.integers(-3, rule.window_days + 4)))
        minute = draw(st.sampled_from((0, 1, 600)))
        rows.append({
            "claim_id": claim_id, "line_id": line, "kind": draw(st.sampled_from(KINDS)),
            "received_on": day, "received_at": pd.Timestamp(day, tz="UTC") + pd.Timedelta(minutes=minute),
            "business_registration_no": draw(st.sampled_from(NUMBERS)), "wants_cash": draw(st.booleans()),
            **attributes[line],
        })
    columns = ["claim_id", "line_id", "kind", "received_on", "received_at", "business_registration_no",
               "wants_cash", "in_roster", "affected", "eligible", "credit_krw", "customer_type", "consolation_krw",
               "reclassified_krw"]
    df = pd.DataFrame(rows, columns=columns)
    for col in ("credit_krw", "consolation_krw", "reclassified_krw"):
        df[col] = df[col].astype("Int64")
    return df


@st.composite
def cases(draw: st.DrawFn) -> tuple[ClaimRules, pd.DataFrame, pd.DataFrame]:
    rule = draw(rules())
    frame = draw(claims(rule))
    return rule, frame, settle_claims(frame, rule, CAL)


def _won(value: Any) -> int:
    return 0 if value is None or value is pd.NA else int(value)


@SETTINGS
@given(cases())
def test_every_claim_gets_exactly_one_known_decision(case: tuple[ClaimRules, pd.DataFrame, pd.DataFrame]) -> None:
    _rule, frame, settled = case
    assert len(settled) == len(frame)
    assert list(settled["claim_id"]) == list(frame["claim_id"])
    assert settled["decision"].isin(list(DECISIONS)).all()
    assert sum(Counter(settled["decision"]).values()) == len(frame)
    assert (settled["reason"] == settled["decision"].map(DECISIONS)).all()
    assert settled["evidence"].map(lambda e: isinstance(e, str) and e != "").all()


@SETTINGS
@given(cases())
def test_at_most_one_paying_claim_a_line_and_kind(case: tuple[ClaimRules, pd.DataFrame, pd.DataFrame]) -> None:
    settled = case[2]
    paying = settled[settled["decision"].isin(PAYING)]
    assert not paying.duplicated(["line_id", "kind"]).any()
    # and a duplicate always has an earlier claim of its line and kind that is not one
    for row in settled[settled["decision"] == "duplicate"].itertuples():
        first = row.evidence.split("already claimed by ")[1].split(" ")[0]
        (earlier,) = settled[settled["claim_id"] == first].itertuples()
        assert (earlier.line_id, earlier.kind) == (row.line_id, row.kind) and earlier.decision != "duplicate"
        assert (earlier.received_at, earlier.claim_id) < (row.received_at, row.claim_id)


@SETTINGS
@given(cases())
def test_amounts_are_exact_and_agree_with_the_line(case: tuple[ClaimRules, pd.DataFrame, pd.DataFrame]) -> None:
    _rule, frame, settled = case
    assert settled["amount_krw"].dtype == np.int64
    expected = 0
    for row, amount in zip(frame.itertuples(), settled.itertuples(), strict=True):
        decision = amount.decision
        if decision == "accepted":
            want = _won(row.credit_krw) if row.kind == "credit" else _won(row.consolation_krw)
            assert want > 0
        elif decision == "reclassification_accepted":
            want = _won(row.reclassified_krw) - _won(row.credit_krw)
            assert want > 0 and row.customer_type == "individual"
        else:
            want = 0
        assert amount.amount_krw == want
        expected += want
    assert sum(int(v) for v in settled["amount_krw"]) == expected
    if len(settled):
        daily = claims_by_day(settled, CAL)
        assert int(daily["cumulative_accepted_krw"].iloc[-1]) == expected == int(daily["paid_krw"].sum())


@SETTINGS
@given(cases())
def test_the_schedule_keeps_capacity_lag_order_and_business_days(
        case: tuple[ClaimRules, pd.DataFrame, pd.DataFrame]) -> None:
    rule, _frame, settled = case
    if rule.daily_capacity is not None and len(settled):
        assert max(Counter(settled["decided_on"]).values()) <= rule.daily_capacity
    for row in settled.itertuples():
        assert CAL.is_business_day(row.decided_on)
        received = max(row.received_on, rule.opening())
        assert row.decided_on >= CAL.add_business_days(received, rule.processing_business_days) == row.ready_on
        assert row.decided_on >= row.received_on
    fifo = settled.sort_values(["received_at", "claim_id"])
    assert list(fifo["decided_on"]) == sorted(fifo["decided_on"])


@SETTINGS
@given(cases())
def test_payments_come_after_decisions(case: tuple[ClaimRules, pd.DataFrame, pd.DataFrame]) -> None:
    rule, _frame, settled = case
    for row in settled.itertuples():
        if row.amount_krw > 0:
            assert row.paid_on is not None and row.paid_on >= row.decided_on
            if row.route == "next_bill":
                assert not row.wants_cash and rule.credit_route == "next_bill"
                assert row.paid_on.day == 1 and row.bill_month == f"{row.paid_on:%Y-%m}"
                assert (row.paid_on.year * 12 + row.paid_on.month) - (row.decided_on.year * 12
                                                                      + row.decided_on.month) == 1
            else:
                assert row.route == "cash" and row.bill_month is None
                assert row.paid_on == CAL.add_business_days(row.decided_on, rule.cash_business_days)
        else:
            assert row.paid_on is None and row.route is None


@SETTINGS
@given(cases())
def test_running_totals_only_grow(case: tuple[ClaimRules, pd.DataFrame, pd.DataFrame]) -> None:
    settled = case[2]
    if settled.empty:
        return
    daily = claims_by_day(settled, CAL)
    for col in ("cumulative_received", "cumulative_decided", "cumulative_paid", "cumulative_accepted_krw",
                "cumulative_paid_krw"):
        assert (np.diff(daily[col].to_numpy()) >= 0).all(), col
    assert (daily["backlog"] >= 0).all() and daily["backlog"].iloc[-1] == 0
    assert daily["received"].sum() == daily["decided"].sum() == len(settled)
    assert daily["paid"].sum() == int((settled["amount_krw"] > 0).sum())
    assert list(daily["day"]) == [daily["day"].iloc[0] + timedelta(days=i) for i in range(len(daily))]


@st.composite
def scenarios(draw: st.DrawFn) -> UptakeScenario:
    share = Fraction(draw(st.integers(1, 1000)), 1000)
    if draw(st.booleans()):
        return UptakeScenario("x", share, half_life_days=Fraction(draw(st.integers(1, 400)), 10),
                              days=draw(st.none() | st.integers(1, 60)))
    weights = draw(st.lists(st.integers(0, 50), min_size=1, max_size=20).filter(lambda w: sum(w) > 0))
    return UptakeScenario("x", share, daily_shares=tuple(Fraction(w) for w in weights))


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.integers(0, 5_000), st.integers(0, 2_000_000), scenarios(), rules(), st.booleans())
def test_a_forecast_adds_up_exactly(lines: int, amount: int, scenario: UptakeScenario, rule: ClaimRules,
                                   per_line: bool) -> None:
    # a policy with no weight inside the window is refused when it is read (test_claims.py)
    assume(scenario.daily_shares is None or sum(scenario.daily_shares[:rule.window_days]) > 0)
    amounts: Any = np.arange(lines, dtype=np.int64) * 7 + amount if per_line else amount
    total = int(np.sum(amounts)) if per_line else amount * lines
    daily = forecast_uptake(lines, amounts, scenario, rule, CAL)
    claims = int(scenario.share * lines + Fraction(1, 2))  # half up
    assert daily["received"].sum() == daily["decided"].sum() == daily["paid"].sum() == claims
    assert all(daily[c].dtype == np.int64 for c in daily.columns if c not in ("day", "business_day"))
    assert daily["accepted_krw"].sum() == daily["paid_krw"].sum() == (claims * total // lines if lines else 0)
    if rule.daily_capacity is not None:
        assert daily["decided"].max() <= rule.daily_capacity
    assert not daily.loc[~daily["business_day"], "decided"].any()
    days = rule.window_days if scenario.daily_shares is None and scenario.days is None else \
        len(scenario.daily_shares or ()) or scenario.days or 0
    assert not daily["received"].iloc[min(days, rule.window_days):].any()  # nothing after the window
    for col in ("cumulative_received", "cumulative_decided", "cumulative_paid", "cumulative_paid_krw"):
        assert (np.diff(daily[col].to_numpy()) >= 0).all()
    assert (daily["backlog"] >= 0).all() and daily["backlog"].iloc[-1] == 0


# ---- tiers by the days claimed --------------------------------------------------------------------


@st.composite
def tier_lists(draw: st.DrawFn) -> tuple[Tier, ...]:
    """Tiers as a policy allows them: from_days going up, krw never going down."""
    days = sorted(draw(st.sets(st.integers(0, 20), min_size=1, max_size=4)))
    krw = sorted(draw(st.lists(st.integers(0, 2_000_000), min_size=len(days), max_size=len(days))))
    return tuple(Tier(d, k) for d, k in zip(days, krw, strict=True))


def _tier(tiers: tuple[Tier, ...], days: int) -> int:
    """The tier by hand: the largest from_days reached, 0 below the first."""
    won = 0
    for t in tiers:  # from_days go up
        if days >= t.from_days:
            won = t.krw
    return won


@st.composite
def claimed_cases(draw: st.DrawFn) -> tuple[ClaimRules, tuple[Tier, ...], int, pd.DataFrame]:
    """Claims (of every kind, most of them consolations) on lines under the days-claimed override
    ('override 1'), another override or the base rule; each line out 1 to ``span`` days (no line is
    out longer than the incident); days claimed from none to far beyond the span."""
    rule = draw(rules())
    frame = draw(claims(rule))
    tiers = draw(tier_lists())
    span = draw(st.integers(1, 30))
    lines = sorted(set(frame["line_id"]))
    by_line = {line: (draw(st.sampled_from(("override 1", "override 2", "base"))), draw(st.integers(1, span)))
               for line in lines}
    frame["rule"] = [by_line[line][0] if affected else None
                     for line, affected in zip(frame["line_id"], frame["affected"], strict=True)]
    frame["outage_days"] = pd.array([by_line[line][1] if affected else None
                                     for line, affected in zip(frame["line_id"], frame["affected"], strict=True)],
                                    dtype="Int64")
    frame["kind"] = [draw(st.sampled_from(("consolation", "consolation", *KINDS))) for _ in range(len(frame))]
    frame["days_claimed"] = pd.array([draw(st.none() | st.integers(1, 60)) for _ in range(len(frame))], dtype="Int64")
    return rule, tiers, span, frame


@SETTINGS
@given(claimed_cases())
def test_the_tier_follows_the_days_claimed_capped_and_the_sums_are_exact(
        case: tuple[ClaimRules, tuple[Tier, ...], int, pd.DataFrame]) -> None:
    rule, tiers, span, frame = case
    priced = claimed_tiers(frame, {"override 1": tiers}, span)
    settled = settle_claims(priced, rule, CAL)
    assert len(priced) == len(frame) and list(priced["claim_id"]) == list(frame["claim_id"])
    expected = 0
    for row, got, done in zip(frame.itertuples(), priced.itertuples(), settled.itertuples(), strict=True):
        ours = (row.kind == "consolation" and row.affected and bool(row.eligible) and row.rule == "override 1")
        if ours:
            claimed = None if row.days_claimed is pd.NA else int(row.days_claimed)
            days = int(row.outage_days) if claimed is None else min(claimed, span)
            want = _tier(tiers, days)
            assert got.consolation_krw == want
            # more days claimed never pay less, and beyond the span they pay the span's tier
            assert want <= _tier(tiers, span) and (claimed is None or claimed <= span or want == _tier(tiers, span))
            note = got.consolation_note
            if claimed is None:
                assert note == f"days_claimed missing: the line's outage_days={int(row.outage_days)} counted"
            elif claimed > span:
                assert note.startswith(f"days_claimed={claimed} accepted as the incident's {span} days")
            else:
                assert note == f"days_claimed={claimed}, outage_days={int(row.outage_days)}"
            if done.decision == "accepted":
                assert note in done.evidence
        else:  # untouched: the line's own amount, no note
            assert _won(got.consolation_krw) == _won(row.consolation_krw) and got.consolation_note is None
        if done.decision == "accepted":
            want = _won(got.consolation_krw) if row.kind == "consolation" else _won(row.credit_krw)
        elif done.decision == "reclassification_accepted":
            want = _won(row.reclassified_krw) - _won(row.credit_krw)
        else:
            want = 0
        assert done.amount_krw == want
        expected += want
    assert settled["amount_krw"].dtype == np.int64
    assert sum(int(v) for v in settled["amount_krw"]) == expected
    if len(settled):
        daily = claims_by_day(settled, CAL)
        assert int(daily["cumulative_accepted_krw"].iloc[-1]) == expected == int(daily["paid_krw"].sum())


# ---- reclassification by the days claimed, through the engine -----------------------------------

RECLASS_LINES = 4  # lines 1-3: individual internet lines; line 4: an individual mobile line


def _reclass_policy(tiers: tuple[Tier, ...], multiplier: int) -> Policy:
    return policy_from_mapping({
        "id": "reclass-days", "title": "시험용 — 재분류와 신청 일수", "services": ["internet", "mobile"],
        "credit": {"outage_multiplier": multiplier, "overrides": [{
            "when": {"customer_type": "small_business", "services": ["internet"]}, "combine": "add",
            "paid_on_claim": True, "days_from": "claim",
            "tiers_by_outage_days": [{"from_days": t.from_days, "krw": t.krw} for t in tiers]}]},
        "claims": {"window_days": 30},
    }, "reclass-days.yml")


@st.composite
def reclass_cases(draw: st.DrawFn) -> tuple[tuple[Tier, ...], int, int, list[dict[str, Any]]]:
    """A days-claimed policy (a fee multiplier and valid tiers), the incident's span, and per line
    its fee, its outage (1 minute to the span) and the days its reclassification claims (none, or
    1 to far beyond the span)."""
    tiers = draw(tier_lists())
    span = draw(st.integers(1, 30))
    multiplier = draw(st.integers(0, 10))
    lines = [{"line_id": line, "fee": draw(st.integers(0, 200_000)), "minutes": draw(st.integers(1, span * 1440)),
              "days_claimed": draw(st.none() | st.integers(1, 60))} for line in range(1, RECLASS_LINES + 1)]
    return tiers, span, multiplier, lines


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(reclass_cases())
def test_a_reclassification_pays_the_fee_part_and_the_tier_of_the_days_claimed_capped(
        case: tuple[tuple[Tier, ...], int, int, list[dict[str, Any]]]) -> None:
    """``reclassified_krw`` (the policy's own SQL on the line as a small business) is the fee part
    plus the tier of ``min(days_claimed, span)`` — of the line's outage days when none is claimed —
    for an internet line the days-claimed override matches; the fee part alone for the mobile line
    (no tier, no days named). Exact whole won; the evidence names the days that counted."""
    tiers, span, multiplier, lines = case
    policy = _reclass_policy(tiers, multiplier)
    start = pd.Timestamp("2024-03-04 10:00")
    ledger = pd.DataFrame({
        "line_id": [x["line_id"] for x in lines],
        "outage_start": [start] * len(lines),
        "outage_minutes": [x["minutes"] for x in lines],
        "longest_continuous_minutes": [x["minutes"] for x in lines],
        "monthly_cumulative_minutes": [x["minutes"] for x in lines],
        "outage_days": [-(-x["minutes"] // 1440) for x in lines],
        "eligible": [True] * len(lines), "eligibility_reason": ["all_affected"] * len(lines),
        "rule": ["base"] * len(lines),
        "credit_krw": [x["fee"] * x["minutes"] * multiplier // 43_200 for x in lines],  # 720 h a month
    })
    roster = pd.DataFrame({
        "line_id": [x["line_id"] for x in lines],
        "service": ["internet"] * (len(lines) - 1) + ["mobile"], "customer_type": ["individual"] * len(lines),
        "region": ["서울"] * len(lines), "facility_id": ["F1"] * len(lines),
        "monthly_fee_krw": [x["fee"] for x in lines],
    })
    at = [pd.Timestamp("2024-03-07 01:00", tz="UTC") + pd.Timedelta(minutes=i) for i in range(len(lines))]
    table = pa.table({
        "claim_id": [f"R-{x['line_id']}" for x in lines], "line_id": [x["line_id"] for x in lines],
        "received_at": at, "received_on": [t.date() for t in at], "channel": ["web"] * len(lines),
        "kind": ["reclassification"] * len(lines), "amount_claimed_krw": [None] * len(lines),
        "business_registration_no": ["220-81-62517"] * len(lines), "wants_cash": [False] * len(lines),
        "days_claimed": [x["days_claimed"] for x in lines],
    }, schema=CLAIMS_SCHEMA)
    claims_file = Claims(path=Path("claims.csv"), rows=len(lines), timezone="Asia/Seoul", sha256="", table=table,
                         kinds={"reclassification": len(lines)}, channels={"web": len(lines)})
    con = duckdb.connect()
    try:
        con.register("ledger", ledger)
        con.register("roster", roster)
        joined = claim_lines(con, claims_file, policy, "ledger", "roster", None, span)
    finally:
        con.close()
    assert policy.claims is not None
    out = decide_claims(joined, policy.claims, first_day=date(2024, 3, 4))
    for x, got, done in zip(lines, joined.itertuples(), out.itertuples(), strict=True):
        fee_part = x["fee"] * x["minutes"] * multiplier // 43_200
        outage = -(-x["minutes"] // 1440)
        claimed = x["days_claimed"]
        internet = x["line_id"] < RECLASS_LINES
        days = outage if claimed is None else min(claimed, span)
        want = fee_part + (_tier(tiers, days) if internet else 0)
        assert got.reclassified_krw == want
        assert done.amount_krw == want - fee_part
        assert done.decision == ("reclassification_accepted" if want > fee_part else "not_eligible")
        if not internet:
            assert got.consolation_note is None and "days_claimed" not in done.evidence
        elif claimed is None:
            assert f"(days_claimed missing: the line's outage_days={outage} counted)" in done.evidence
        elif claimed > span:
            assert f"(days_claimed={claimed} accepted as the incident's {span} days, outage_days={outage})" \
                in done.evidence
        else:
            assert f"(days_claimed={claimed}, outage_days={outage})" in done.evidence
    assert out["amount_krw"].dtype == np.int64
