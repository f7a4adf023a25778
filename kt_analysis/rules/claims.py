"""Compensation paid on request: each claim decided, scheduled and paid, the claims counted day by
day, and a forecast of claims before they arrive. Engine-neutral: pandas, numpy and the standard
library; the engine joins the claims to the ledger and the roster and passes a frame.

Deciding (:func:`decide_claims`)
--------------------------------
The engine passes one row per claim, with the claim's columns (:class:`~kt_analysis.inputs.claims.Claims`)
and, joined from the incident's ledger and the roster, the columns of :data:`LINE_COLUMNS`. Each
claim gets exactly one decision, the first of these that holds (see :data:`DECISIONS` for the
Korean reasons):

1. ``outside_window`` — received after the window's last day (a claim received before the window
   opens counts as received on the opening day);
2. ``unknown_line`` — the line is not in the roster (``in_roster`` false; without that column: no
   ``customer_type``);
3. ``duplicate`` — the same line and kind was claimed earlier: the first received counts (ties by
   claim_id), whatever its own decision; later ones are duplicates;
4. ``line_not_affected`` — the line is not in the incident's ledger (``affected`` false);
5. by kind:

   * ``credit``: ``not_eligible`` unless ``eligible`` and ``credit_krw`` > 0; else ``already_paid``
     when the policy credits it without a claim (``credit_automatic``: paying it again on a claim
     would pay it twice); else ``accepted``, paying ``credit_krw``;
   * ``consolation``: ``not_eligible`` unless ``consolation_krw`` > 0; else ``accepted``, paying it
     (under an override whose tiers count the days claimed, ``days_from: claim``, the engine makes
     each claim's ``consolation_krw`` the tier of its ``days_claimed`` first: :func:`claimed_tiers`);
   * ``reclassification`` (an individual line asking to be counted as a small merchant):
     ``reclassification_refused`` unless the line is an ``individual`` one and the claim carries a
     valid business registration number (:func:`~kt_analysis.inputs.claims.registration_number_problem`);
     then ``not_eligible`` when the line would get no more as a small business; else
     ``reclassification_accepted``, paying ``max(0, reclassified_krw − credit_krw)``.

``evidence`` names what decided it (``credit_krw=12000``, ``business_registration_no=***-**-*0998
check digit wrong``: registration numbers masked but their last four characters; for a consolation
or a reclassification by the days claimed, the days counted: ``days_claimed=12 accepted as the
incident's 8 days``).

Days claimed (:func:`claimed_tiers`)
------------------------------------
Under ``days_from: claim`` (:mod:`kt_analysis.inputs.policy`) a ``consolation`` claim's tier counts
the days the claim names (``days_claimed``), as the Ahyeon merchants were paid "by the recovery
period" each claimed and KT checked. The check: a claim of more days than the incident lasted (its
span from the first window's start to the last window's end, rounded up to whole days:
:func:`kt_analysis.rules.impact.incident_span_days`) is accepted at the span, and the evidence says
so. A claim without ``days_claimed`` is decided on the line's own ``outage_days`` (the network's
record, what the ledger and the forecasts count too): the merchant is paid what the network shows,
not refused, and the evidence says which days counted. A ``reclassification`` counts them the same
way: its ``reclassified_krw`` (the line's credit as a small business, consolation included) takes
that override's tier by the days the claim names, checked the same, by the line's outage days when
it names none (the engine prices it: :func:`kt_analysis.engine.claims.claim_lines`), and its
evidence says which days counted. A ``credit`` claim does not read the days.

Scheduling (:func:`schedule_claims`)
------------------------------------
Every claim is decided, refused ones too: a clerk looks at each (a duplicate or a late claim is
answered as well), so all use the daily capacity — the conservative choice. Claims are decided
first received, first decided (``received_at``, then ``claim_id``), each on a Korean business day
no earlier than ``processing_business_days`` business days after the day it was received (a day
that is not a business day counts as the next one; a claim received before the window opens as
received on the opening day), at most ``daily_capacity`` a business day; a later claim is never
decided before an earlier one. A claim with an amount to pay is paid:

* on the bill: ``credit_route: next_bill`` and not ``wants_cash`` — the bill of the month after the
  decision (``bill_month`` ``YYYY-MM``; ``paid_on`` that month's first day);
* in cash: ``credit_route: cash`` or ``wants_cash`` — ``cash_business_days`` business days after
  the decision.

:func:`claims_by_day` counts them per calendar day (:data:`DAILY_COLUMNS`).

Forecasting (:func:`forecast_uptake`)
-------------------------------------
Before claims arrive: ``scenario.share`` of the eligible lines claim (rounded half up), over the
scenario's days from the opening, split exactly into whole claims per day by largest remainders;
they are decided as above (rules' lag and capacity) and paid on the rules' route. The cost of ``K``
claims is ``K × amount`` (one amount), or ``K × total ÷ lines`` rounded down (an amount per line:
the expected cost of ``K`` claimants), so the daily won add up exactly to the total.

Calibration: the Ahyeon fire (2018-11-24), small merchants' consolation money
-------------------------------------------------------------------------------
The scenario ``central`` and :data:`AHYEON_RULES` are fitted to what was published:

============================================  ============================  ==============================
figure                                        source                        how used
============================================  ============================  ==============================
2019-03-22: amounts agreed; applications      sedaily.com 1VGOD8DJGS        the window opens 2019-03-22
extended 42 days (6 weeks) from that day      (2019-03-21)
about 13,500 merchants applied by 2019-05-05  seoul.co.kr 20190820012018    13,500 claims in 44 days,
                                              (KT's figures to the          2019-03-22 to 05-04
                                              National Assembly)
first payments 2019-05-31; 5,300 paid by      Yonhap 2019-06-06, via        5,300 decided by 2019-06-05
06-05 (1,000 + 4,300) of ~13,000 applicants   ilovekt.org/p/41538
11,500 paid 62.5억 won by the end of July     seoul.co.kr 20190820012018    11,500 decided by 2019-07-31
2019: 85.2% of the 13,500
cases tallied to 2019-03-15: mostly 1-2       sedaily.com 1VGOD8DJGS        applications came before the
days of outage, 3.7 on average                                              window: front-loading
2021-10-25 outage: 5,869 inquiries by 11-21;  biz.sbs.co.kr 20000040274;    the share of reclassification
about 1,470 asked to count as small merchants newstomato 1091290            requests the generator writes
2023-03 terms: outages under 2 h by intent    etnews 20230314000281         no number: why a claim may be
or gross negligence paid 10x on a claim                                     of kind credit
============================================  ============================  ==============================

Derived:

* daily capacity :data:`AHYEON_DAILY_CAPACITY` = 159: (11,500 − 5,300) paid between 2019-06-05 and
  2019-07-31, 39 business days: 6,200 ÷ 39 = 159.0 a business day. Every applicant had applied by
  05-05, so the queue never ran dry: the rate is the processing throughput, not the arrivals.
  *Assumption*: the throughput was the same before June.
* processing lag :data:`AHYEON_PROCESSING_BUSINESS_DAYS` = 19: at 159 a day the 5,300 paid by
  06-05 took 33.3 business days; 2019-03-22 to 06-05 holds 52 business days, so decisions began
  about 52 − 33 = 19 business days after the opening. The model then pays 5,247 by 06-05 (−1.0%)
  and 11,448 by 07-31 (−0.5%) (``tests/test_claims.py`` checks it). *Assumption*: a payment is
  made on its decision day (``cash_business_days`` 0; the figures are payments, which came in
  batches on 05-31, 06-05 and 06-10, not modelled).
* arrivals: 44 days, front-loaded with a half-life of 7 days. *Assumption*: the payments were
  capacity-bound from the start and do not reveal the arrival shape; the front-loading stands for
  the applications taken before the window (tallied by 03-15) that arrive at its opening.
* share of eligible lines that claim: *assumption*, 0.5 (central), 0.25 (low), 0.85 (high): no
  published count of the merchants eligible in the affected area was found, so the 13,500 fix the
  claims, not the share. With 27,000 eligible lines the central scenario gives the 13,500.
* Discrepancy noted: donga.com (2019-08-29) dates the 11,500 to 2019-08-19 rather than the end of
  July; the end of July (seoul.co.kr, from KT's submission) is used.
"""

from __future__ import annotations

from collections import Counter, deque
from collections.abc import Mapping, Sequence
from datetime import date, datetime, timedelta
from fractions import Fraction
from typing import Any, Protocol

import numpy as np
import pandas as pd

from kt_analysis.inputs.claims import (
    KINDS,
    ClaimRules,
    UptakeScenario,
    mask_registration_number,
    registration_number_problem,
)
from kt_analysis.inputs.policy import Tier


class Calendar(Protocol):
    """What the scheduling needs of a business-day calendar
    (:class:`~kt_analysis.inputs.business_days.BusinessCalendar` has it)."""

    def add_business_days(self, d: date, n: int) -> date: ...

    def is_business_day(self, d: date) -> bool: ...


DECISIONS: dict[str, str] = {
    "accepted": "신청 승인: 정책이 정한 금액을 지급합니다.",
    "duplicate": "중복 신청: 같은 회선의 같은 종류 신청이 먼저 접수되어 그 신청으로 처리합니다.",
    "outside_window": "신청 기간이 끝난 뒤에 접수된 신청입니다.",
    "unknown_line": "고객 명부에 없는 회선입니다.",
    "line_not_affected": "이번 장애의 영향을 받은 회선이 아닙니다.",
    "not_eligible": "장애 회선이지만 정책상 이 종류의 보상 대상이 아닙니다.",
    "already_paid": "신청하지 않아도 청구서에서 자동으로 차감되는 보상입니다: 따로 지급하지 않습니다.",
    "reclassification_accepted": ("소상공인 재분류 승인: 유효한 사업자등록번호가 확인되어 "
                                  "소상공인 기준 보상액과의 차액을 지급합니다."),
    "reclassification_refused": ("소상공인 재분류 거절: 개인 회선이 아니거나 "
                                 "유효한 사업자등록번호가 확인되지 않았습니다."),
}
"""Each decision's code and its Korean reason (one decision a claim)."""
PAYING = ("accepted", "reclassification_accepted")
"""The decisions that may pay an amount."""

CLAIM_COLUMNS = ("claim_id", "line_id", "received_at", "received_on", "kind")
"""The claim's own columns the engine passes (from :meth:`Claims.frame`); optional beside them:
``business_registration_no`` (none), ``wants_cash`` (false), ``amount_claimed_krw`` (none)."""
LINE_COLUMNS = ("affected", "eligible", "credit_krw", "customer_type", "consolation_krw")
"""Joined from the ledger and the roster: ``affected`` (bool: in the incident's ledger), ``eligible``
(bool), ``credit_krw`` and ``consolation_krw`` (Int64, null: none), ``customer_type`` (null: not in
the roster). Optional: ``reclassified_krw`` (Int64: the line's amount as a small business; needed
for reclassifications), ``in_roster`` (bool; default: ``customer_type`` is not null), ``service``,
``outage_days`` (named in the evidence), ``consolation_note`` (text: the days a consolation's tier
counted, :func:`claimed_tiers` — or, on a reclassification, the days the tier in its
``reclassified_krw`` counted; named in the evidence)."""
DECIDED_COLUMNS = ("decision", "reason", "evidence", "amount_krw")
"""What :func:`decide_claims` adds: the code, its Korean reason, what decided it, and the amount
accepted (int64 won, 0 unless the decision pays)."""
SCHEDULED_COLUMNS = ("ready_on", "decided_on", "route", "paid_on", "bill_month")
"""What :func:`schedule_claims` adds: the first business day it may be decided on, the day it is
(``datetime.date``), and for a claim with an amount: ``route`` (``next_bill`` or ``cash``),
``paid_on`` (the day) and ``bill_month`` (``YYYY-MM`` on the bill route); None otherwise."""
DAILY_COLUMNS = (
    "day", "business_day", "received", "decided", "paid", "backlog", "accepted_krw", "paid_krw",
    "cumulative_received", "cumulative_decided", "cumulative_paid", "cumulative_accepted_krw",
    "cumulative_paid_krw",
)
"""One row per calendar day (``day`` a ``datetime.date``), int64 counts and won: claims received,
decided and paid that day, the backlog (received but not decided at the end of the day), the won
accepted (by decision day) and paid (by payment day), and their running totals."""

# ---- the Ahyeon calibration (see the module's docstring) ----------------------------------------

AHYEON_OPENS_ON = date(2019, 3, 22)
AHYEON_CLAIMS = 13_500
AHYEON_ARRIVAL_DAYS = 44
AHYEON_DAILY_CAPACITY = 159  # (11,500 − 5,300) ÷ 39 business days
AHYEON_PROCESSING_BUSINESS_DAYS = 19  # 52 business days to 06-05 − 5,300 ÷ 159
AHYEON_PAID = ((date(2019, 6, 5), 5_300), (date(2019, 7, 31), 11_500))
AHYEON_RULES = ClaimRules(
    window_days=AHYEON_ARRIVAL_DAYS, opens_on=AHYEON_OPENS_ON,
    processing_business_days=AHYEON_PROCESSING_BUSINESS_DAYS, daily_capacity=AHYEON_DAILY_CAPACITY,
    credit_route="cash", cash_business_days=0,
)
"""The Ahyeon consolation claims as claims rules: what the central scenario was fitted with."""

SCENARIOS: dict[str, UptakeScenario] = {
    "low": UptakeScenario("low", share=Fraction(1, 4), half_life_days=Fraction(10), days=AHYEON_ARRIVAL_DAYS,
                          source="assumption: half the central share, arriving more slowly"),
    "central": UptakeScenario("central", share=Fraction(1, 2), half_life_days=Fraction(7),
                              days=AHYEON_ARRIVAL_DAYS,
                              source="Ahyeon 2019: 13,500 claims in 44 days from 2019-03-22 (share: assumption)"),
    "high": UptakeScenario("high", share=Fraction(17, 20), half_life_days=Fraction(4), days=AHYEON_ARRIVAL_DAYS,
                           source="assumption: most eligible lines claim, early"),
}
"""The built-in uptake scenarios (a policy's ``uptake:`` may add or replace them)."""


def uptake_scenario(name: str, rules: ClaimRules | None = None) -> UptakeScenario:
    """The scenario ``name``: the policy's own (``rules.uptake``) first, else the built-in one."""
    own = rules.scenario(name) if rules is not None else None
    if own is not None:
        return own
    if name in SCENARIOS:
        return SCENARIOS[name]
    names = sorted({*SCENARIOS, *(s.name for s in (rules.uptake if rules else ()))})
    raise ValueError(f"no uptake scenario {name!r}: there are {', '.join(names)}")


# ---- deciding -----------------------------------------------------------------------------------


def _money(values: pd.Series, name: str) -> pd.Series:
    """Whole won as Int64 (null allowed); a float column (a join's NaN) must hold whole numbers."""
    if pd.api.types.is_float_dtype(values.dtype):
        finite = values.dropna()
        if not (np.floor(finite) == finite).all() or (finite.abs() > 2**53).any():
            raise ValueError(f"{name} holds amounts that are not whole won")
    if pd.api.types.is_bool_dtype(values.dtype):
        raise ValueError(f"{name} holds booleans, not won")
    return values.astype("Int64")


def _flags(values: pd.Series) -> np.ndarray:
    return values.astype("boolean").fillna(False).to_numpy(dtype=bool)


def _days(values: pd.Series, name: str) -> list[date]:
    if pd.api.types.is_datetime64_any_dtype(values.dtype):
        values = values.dt.date
    out = []
    for d in values:
        if isinstance(d, datetime):  # a pandas Timestamp too
            d = d.date()
        if not isinstance(d, date):
            raise ValueError(f"{name} must hold days (datetime.date), found {d!r}")
        out.append(d)
    return out


def _prepared(claims: pd.DataFrame) -> pd.DataFrame:
    """The claims with the columns the decisions read, typed; a missing one is a ValueError."""
    missing = [c for c in (*CLAIM_COLUMNS, *LINE_COLUMNS) if c not in claims.columns]
    if missing:
        raise ValueError(f"the claims frame lacks {', '.join(missing)}")
    df = claims.reset_index(drop=True).copy()
    df["claim_id"] = df["claim_id"].astype(str)
    df["line_id"] = df["line_id"].astype("int64")
    df["received_at"] = pd.to_datetime(df["received_at"], utc=True)
    df["received_on"] = pd.Series(_days(df["received_on"], "received_on"), dtype=object)
    unknown = sorted(set(df["kind"]) - set(KINDS))
    if unknown:
        raise ValueError(f"unknown claim kinds {unknown}: the claims file's loader admits {', '.join(KINDS)}")
    for col in ("credit_krw", "consolation_krw", "reclassified_krw", "amount_claimed_krw"):
        df[col] = _money(df[col], col) if col in df.columns else pd.Series(pd.NA, index=df.index, dtype="Int64")
    for col in ("affected", "eligible"):
        df[col] = _flags(df[col])
    df["in_roster"] = _flags(df["in_roster"]) if "in_roster" in df.columns else df["customer_type"].notna()
    df["wants_cash"] = _flags(df["wants_cash"]) if "wants_cash" in df.columns else False
    df["credit_automatic"] = _flags(df["credit_automatic"]) if "credit_automatic" in df.columns else False
    for col in ("business_registration_no", "service", "outage_days", "consolation_note"):
        if col not in df.columns:
            df[col] = None
    return df


def _fifo(df: pd.DataFrame) -> np.ndarray:
    """The rows' positions, first received first (ties: by claim_id)."""
    at = pd.to_datetime(df["received_at"], utc=True).dt.tz_convert(None).to_numpy()
    key = pd.DataFrame({"at": at, "id": df["claim_id"].astype(str).to_numpy(dtype=object)})
    return key.sort_values(["at", "id"], kind="stable").index.to_numpy()


def _value(v: Any) -> Any:
    return None if v is None or v is pd.NA or (isinstance(v, float) and np.isnan(v)) else v


def _shown(v: Any) -> str:
    v = _value(v)
    return "null" if v is None else str(int(v)) if isinstance(v, int | np.integer) else str(v)


def decide_claims(claims: pd.DataFrame, rules: ClaimRules, first_day: date | None = None) -> pd.DataFrame:
    """Each claim decided: the frame (index reset, rows in the given order) with
    :data:`DECIDED_COLUMNS` added. ``first_day``: the incident's first local day, where the window
    opens when the rules name no ``opens_on``. The columns it needs: :data:`CLAIM_COLUMNS` and
    :data:`LINE_COLUMNS` (a missing one is a ``ValueError``)."""
    df = _prepared(claims)
    opens, last = rules.opening(first_day), rules.last_day(first_day)
    n = len(df)
    first_of = _first_claims(df, last)
    decision: list[str] = [""] * n
    evidence: list[str] = [""] * n
    amount = np.zeros(n, dtype=np.int64)
    rows = df[["claim_id", "line_id", "received_on", "kind", "affected", "eligible", "credit_krw", "customer_type",
               "consolation_krw", "reclassified_krw", "in_roster", "business_registration_no", "outage_days",
               "amount_claimed_krw", "credit_automatic", "consolation_note"]].itertuples(index=False)
    for i, row in enumerate(rows):
        if row.received_on > last:
            code, why, pay = "outside_window", (f"received_on={row.received_on} after the window's last day {last} "
                                                f"(opens {opens}, {rules.window_days} days)"), 0
        elif not row.in_roster:
            code, why, pay = "unknown_line", f"line_id={row.line_id} not in the roster", 0
        elif first_of[i] is not None:
            code, why, pay = "duplicate", (f"line_id={row.line_id}, kind={row.kind} already claimed by "
                                           f"{first_of[i]} (received first)"), 0
        elif not row.affected:
            code, why, pay = "line_not_affected", f"line_id={row.line_id} not in the incident's ledger", 0
        else:
            code, why, pay = _by_kind(row)
        if row.received_on < opens:
            why += f"; received before the window opened on {opens}: counted from then"
        claimed = _value(row.amount_claimed_krw)
        if code in PAYING and claimed is not None and int(claimed) != pay:
            why += f"; amount_claimed_krw={int(claimed)} (the policy's amount is paid)"
        decision[i], evidence[i], amount[i] = code, why, pay
    out = df.copy()
    out["decision"] = pd.Series(decision, dtype=object)
    out["reason"] = pd.Series([DECISIONS[c] for c in decision], dtype=object)
    out["evidence"] = pd.Series(evidence, dtype=object)
    out["amount_krw"] = amount
    return out


def _first_claims(df: pd.DataFrame, last: date) -> list[str | None]:
    """For each claim that repeats an earlier one (same line and kind, both inside the window and
    on roster lines), the claim_id of the first; None for the others."""
    first: list[str | None] = [None] * len(df)
    seen: dict[tuple[int, str], str] = {}
    ids, lines, kinds = df["claim_id"].to_numpy(), df["line_id"].to_numpy(), df["kind"].to_numpy()
    days, known = df["received_on"].to_numpy(), df["in_roster"].to_numpy(dtype=bool)
    for i in _fifo(df):
        if days[i] > last or not known[i]:
            continue
        key = (int(lines[i]), str(kinds[i]))
        if key in seen:
            first[i] = seen[key]
        else:
            seen[key] = str(ids[i])
    return first


def _by_kind(row: Any) -> tuple[str, str, int]:
    """The decision of a claim on an affected roster line that is the first of its kind."""
    credit = _value(row.credit_krw)
    credit_won = 0 if credit is None else int(credit)
    if row.kind == "credit":
        why = f"eligible={'true' if row.eligible else 'false'}, credit_krw={_shown(credit)}"
        if row.credit_automatic and row.eligible and credit_won > 0:
            return "already_paid", why + " credited without a claim", 0
        if row.eligible and credit_won > 0:
            return "accepted", why, credit_won
        return "not_eligible", why, 0
    if row.kind == "consolation":
        consolation = _value(row.consolation_krw)
        note = _value(row.consolation_note)
        days = note if note is not None else f"outage_days={_shown(row.outage_days)}"
        why = f"consolation_krw={_shown(consolation)} (customer_type={_shown(row.customer_type)}, {days})"
        if consolation is not None and int(consolation) > 0:
            return "accepted", why, int(consolation)
        return "not_eligible", why, 0
    if row.customer_type != "individual":
        return ("reclassification_refused", f"customer_type={_shown(row.customer_type)}: only individual lines "
                "are reclassified as small_business", 0)
    brn = _value(row.business_registration_no)
    masked = mask_registration_number(brn)
    problem = registration_number_problem(brn)
    if problem == "missing":
        return "reclassification_refused", "business_registration_no missing", 0
    if problem is not None:
        return "reclassification_refused", f"business_registration_no={masked} {problem}", 0
    reclassified = _value(row.reclassified_krw)
    gain = 0 if reclassified is None else max(0, int(reclassified) - credit_won)
    note = _value(row.consolation_note)
    days = f" ({note})" if note is not None else ""
    why = (f"business_registration_no={masked} valid; reclassified_krw={_shown(reclassified)}{days} - "
           f"credit_krw={credit_won} = {gain}")
    if gain <= 0:
        return "not_eligible", why + ": nothing more as small_business", 0
    return "reclassification_accepted", why, gain


# ---- days claimed --------------------------------------------------------------------------------


def tier_krw(tiers: Sequence[Tier], days: int) -> int:
    """The fixed won of the tier with the largest ``from_days`` that ``days`` reaches (0 below the first).

    >>> tier_krw((Tier(1, 400_000), Tier(3, 800_000), Tier(7, 1_200_000)), 4)
    800000
    """
    reached = [t for t in tiers if days >= t.from_days]
    return int(max(reached, key=lambda t: t.from_days).krw) if reached else 0


def checked_days(days_claimed: int | None, outage_days: int | None, span_days: int | None) -> tuple[int | None, str]:
    """The days a consolation's tier counts, and why (the evidence): ``days_claimed``, but at most
    ``span_days`` (the incident's span; None: no cap); without ``days_claimed``, ``outage_days``.

    >>> checked_days(4, 1, 8), checked_days(12, 1, 8)[0], checked_days(None, 2, 8)[0]
    ((4, 'days_claimed=4, outage_days=1'), 8, 2)
    """
    outage = "null" if outage_days is None else str(int(outage_days))
    if days_claimed is None:
        return (None if outage_days is None else int(outage_days),
                f"days_claimed missing: the line's outage_days={outage} counted")
    claimed = int(days_claimed)
    if span_days is not None and claimed > span_days:
        return int(span_days), (f"days_claimed={claimed} accepted as the incident's {int(span_days)} days, "
                                f"outage_days={outage}")
    return claimed, f"days_claimed={claimed}, outage_days={outage}"


def claimed_tiers(claims: pd.DataFrame, tiers: Mapping[str, Sequence[Tier]], span_days: int | None) -> pd.DataFrame:
    """The claims with each ``consolation`` claim on an eligible line whose rule (the ledger's
    ``rule`` column) is a key of ``tiers`` — an override paid on claim whose tiers count the days
    claimed (``days_from: claim``) — given ``consolation_krw``, the tier of the days
    :func:`checked_days` counts (``days_claimed`` at most ``span_days``, else the line's
    ``outage_days``), and ``consolation_note``, which days those are (the decision's evidence).
    Other rows keep their ``consolation_krw`` (the line's, by its outage days) and get no note.

    Exact whole won: each amount is one tier's ``krw``. The columns read: ``kind``, ``rule``,
    ``eligible``, ``outage_days``, ``consolation_krw`` and, optional, ``days_claimed`` (none) and
    ``affected`` (default: the line has a ``rule``)."""
    df = claims.reset_index(drop=True).copy()
    missing = [c for c in ("kind", "rule", "eligible", "outage_days", "consolation_krw") if c not in df.columns]
    if missing:
        raise ValueError(f"the claims frame lacks {', '.join(missing)}")
    amount = _money(df["consolation_krw"], "consolation_krw").astype(object)
    note: list[str | None] = [None] * len(df)
    claimed = df["days_claimed"] if "days_claimed" in df.columns else pd.Series(pd.NA, index=df.index)
    affected = _flags(df["affected"]) if "affected" in df.columns else df["rule"].notna().to_numpy(dtype=bool)
    eligible = _flags(df["eligible"])
    rows = zip(df["kind"], df["rule"], df["outage_days"], claimed, affected, eligible, strict=True)
    for i, (kind, rule, outage, days_claimed, known, ok) in enumerate(rows):
        rule = _value(rule)
        if kind != "consolation" or not known or not ok or rule is None or str(rule) not in tiers:
            continue
        outage, days_claimed = _value(outage), _value(days_claimed)
        if days_claimed is not None and int(days_claimed) < 1:
            raise ValueError(f"days_claimed must be 1 or more, found {days_claimed}")
        days, why = checked_days(None if days_claimed is None else int(days_claimed),
                                 None if outage is None else int(outage), span_days)
        amount[i] = 0 if days is None else tier_krw(tiers[str(rule)], days)
        note[i] = why
    df["consolation_krw"] = pd.array(amount, dtype="Int64")
    df["consolation_note"] = pd.Series(note, dtype=object)
    return df


# ---- scheduling ---------------------------------------------------------------------------------


def schedule_claims(decided: pd.DataFrame, rules: ClaimRules, calendar: Calendar,
                    first_day: date | None = None) -> pd.DataFrame:
    """The decided claims (:func:`decide_claims`) with :data:`SCHEDULED_COLUMNS` added: the day
    each is decided (first received first, after the processing lag, at most ``daily_capacity`` a
    business day) and when its amount is paid (see the module's docstring)."""
    df = decided.reset_index(drop=True).copy()
    opens = rules.opening(first_day)
    lag = rules.processing_business_days
    ready_of: dict[date, date] = {}
    ready = []
    for d in df["received_on"]:
        start = max(d, opens)
        if start not in ready_of:
            ready_of[start] = calendar.add_business_days(start, lag)
        ready.append(ready_of[start])
    decided_on: list[date | None] = [None] * len(df)
    day: date | None = None
    used = 0
    cap = rules.daily_capacity
    for i in _fifo(df):
        if day is None or ready[i] > day:
            day, used = ready[i], 0
        elif cap is not None and used >= cap:
            day, used = calendar.add_business_days(day, 1), 0
        decided_on[i] = day
        used += 1
    route: list[str | None] = []
    paid_on: list[date | None] = []
    bill_month: list[str | None] = []
    cash_day: dict[date, date] = {}
    for on, won, cash in zip(decided_on, df["amount_krw"].to_numpy(), df["wants_cash"].to_numpy(dtype=bool),
                             strict=True):
        if won <= 0 or on is None:
            way, pay, bill_text = None, None, None
        elif cash or rules.credit_route == "cash":
            if on not in cash_day:
                cash_day[on] = calendar.add_business_days(on, rules.cash_business_days)
            way, pay, bill_text = "cash", cash_day[on], None
        else:
            way, pay = "next_bill", _next_month(on)
            bill_text = f"{pay:%Y-%m}"
        route.append(way)
        paid_on.append(pay)
        bill_month.append(bill_text)
    df["ready_on"] = pd.Series(ready, dtype=object)
    df["decided_on"] = pd.Series(decided_on, dtype=object)
    df["route"] = pd.Series(route, dtype=object)
    df["paid_on"] = pd.Series(paid_on, dtype=object)
    df["bill_month"] = pd.Series(bill_month, dtype=object)
    return df


def _next_month(d: date) -> date:
    """The first day of the month after ``d``'s."""
    return date(d.year + 1, 1, 1) if d.month == 12 else date(d.year, d.month + 1, 1)


def settle_claims(claims: pd.DataFrame, rules: ClaimRules, calendar: Calendar,
                  first_day: date | None = None) -> pd.DataFrame:
    """:func:`decide_claims`, then :func:`schedule_claims`: every claim decided, dated and paid."""
    return schedule_claims(decide_claims(claims, rules, first_day), rules, calendar, first_day)


def claims_by_day(settled: pd.DataFrame, calendar: Calendar) -> pd.DataFrame:
    """The settled claims (:func:`settle_claims`) counted per calendar day (:data:`DAILY_COLUMNS`),
    from the first day one was received to the last day one was decided or paid."""
    if settled.empty:
        return _daily([], Counter(), Counter(), Counter(), Counter(), Counter(), calendar)
    received = Counter(settled["received_on"])
    decided = Counter(settled["decided_on"])
    paying = settled[settled["paid_on"].notna()]
    paid = Counter(paying["paid_on"])
    accepted_krw: Counter[date] = Counter()
    for on, won in zip(settled["decided_on"], settled["amount_krw"], strict=True):
        accepted_krw[on] += int(won)
    paid_krw: Counter[date] = Counter()
    for on, won in zip(paying["paid_on"], paying["amount_krw"], strict=True):
        paid_krw[on] += int(won)
    days = [*received, *decided, *paid]
    return _daily(_span(min(days), max(days)), received, decided, paid, accepted_krw, paid_krw, calendar)


def _span(first: date, last: date) -> list[date]:
    return [first + timedelta(days=i) for i in range((last - first).days + 1)]


def _daily(days: list[date], received: Counter[date], decided: Counter[date], paid: Counter[date],
           accepted_krw: Counter[date], paid_krw: Counter[date], calendar: Calendar) -> pd.DataFrame:
    def ints(counter: Counter[date]) -> np.ndarray:
        return np.array([counter.get(d, 0) for d in days], dtype=np.int64)

    got, done, out, won, cash = ints(received), ints(decided), ints(paid), ints(accepted_krw), ints(paid_krw)
    frame = pd.DataFrame({
        "day": pd.Series(days, dtype=object),
        "business_day": np.array([calendar.is_business_day(d) for d in days], dtype=bool),
        "received": got, "decided": done, "paid": out,
        "backlog": np.cumsum(got) - np.cumsum(done),
        "accepted_krw": won, "paid_krw": cash,
        "cumulative_received": np.cumsum(got), "cumulative_decided": np.cumsum(done),
        "cumulative_paid": np.cumsum(out), "cumulative_accepted_krw": np.cumsum(won),
        "cumulative_paid_krw": np.cumsum(cash),
    })
    return frame.astype({c: "int64" for c in DAILY_COLUMNS if c not in ("day", "business_day")})


# ---- forecasting --------------------------------------------------------------------------------


def split_exactly(weights: Sequence[Fraction], total: int) -> list[int]:
    """``total`` split into whole numbers in proportion to ``weights`` (largest remainders; ties to
    the earlier): they add up to ``total`` exactly.

    >>> split_exactly([Fraction(1), Fraction(1), Fraction(1)], 10)
    [4, 3, 3]
    """
    whole = sum(weights, Fraction(0))
    if total < 0 or whole <= 0 or any(w < 0 for w in weights):
        raise ValueError("weights must be 0 or more with a positive sum, and the total 0 or more")
    counts = [int(w * total // whole) for w in weights]
    rest = [w * total - c * whole for w, c in zip(weights, counts, strict=True)]
    short = total - sum(counts)
    for i in sorted(range(len(weights)), key=lambda i: (-rest[i], i))[:short]:
        counts[i] += 1
    return counts


def arrival_weights(scenario: UptakeScenario, window_days: int) -> list[Fraction]:
    """The weight of each arrival day (day 0 is the opening), exactly as rationals."""
    days = scenario.arrival_days(window_days)
    if scenario.daily_shares is not None:
        return list(scenario.daily_shares[:days])
    half_life = float(scenario.half_life_days or 1)
    return [Fraction(2.0 ** (-d / half_life)) for d in range(days)]


def _round_half_up(value: Fraction) -> int:
    return int((2 * value.numerator + value.denominator) // (2 * value.denominator))


def forecast_uptake(eligible_lines: int, amount_per_line_krw: int | Sequence[int] | np.ndarray | None,
                    scenario: UptakeScenario, rules: ClaimRules, calendar: Calendar,
                    first_day: date | None = None, *, total_krw: int | None = None) -> pd.DataFrame:
    """The claims expected per calendar day (:data:`DAILY_COLUMNS`) from the opening until the
    last is paid: ``scenario.share`` of ``eligible_lines`` claim (rounded half up), arriving on the
    scenario's days (never beyond the window; the shape is then renormalised over the window's
    days), decided with the rules' lag and capacity, paid on the rules' route (no ``wants_cash``
    is assumed). ``amount_per_line_krw``: one amount for every line, or one per eligible line; or
    None and ``total_krw``, what all the eligible lines are owed together (a 35M-line incident need
    not pass 35M amounts)."""
    lines = int(eligible_lines)
    if lines < 0:
        raise ValueError("eligible_lines must be 0 or more")
    if amount_per_line_krw is None:
        if total_krw is None or total_krw < 0 or (total_krw and not lines):
            raise ValueError("give amount_per_line_krw, or total_krw (0 or more; 0 without eligible lines)")
        total_krw = int(total_krw)
    else:
        total_krw = _total_krw(lines, amount_per_line_krw)
    claims = _round_half_up(scenario.share * lines)
    opens = rules.opening(first_day)
    arrivals = split_exactly(arrival_weights(scenario, rules.window_days), claims)
    arrive_days = [opens + timedelta(days=i) for i in range(len(arrivals))]
    received = Counter({d: n for d, n in zip(arrive_days, arrivals, strict=True) if n})
    decided = _decide_counts(arrive_days, arrivals, rules, calendar)

    def cost(k: int) -> int:  # the cost of the first k claims decided, exact
        return k * total_krw // lines if lines else 0

    accepted_krw: Counter[date] = Counter()
    paid: Counter[date] = Counter()
    paid_krw: Counter[date] = Counter()
    done = 0
    for day in sorted(decided):
        won = cost(done + decided[day]) - cost(done)
        done += decided[day]
        accepted_krw[day] = won
        pay = (calendar.add_business_days(day, rules.cash_business_days) if rules.credit_route == "cash"
               else _next_month(day))
        paid[pay] += decided[day]
        paid_krw[pay] += won
    last = max([arrive_days[-1], *decided, *paid])
    return _daily(_span(opens, last), received, Counter(decided), paid, accepted_krw, paid_krw, calendar)


def _total_krw(lines: int, amount: int | Sequence[int] | np.ndarray) -> int:
    """The won owed to all eligible lines, exact (a Python int)."""
    if isinstance(amount, int | np.integer) and not isinstance(amount, bool):
        if amount < 0:
            raise ValueError("amount_per_line_krw must be 0 or more")
        return int(amount) * lines
    values = np.asarray(amount)
    if values.ndim != 1 or len(values) != lines or not (values.dtype.kind in "iu" or len(values) == 0):
        raise ValueError("amount_per_line_krw must be one whole won amount or one per eligible line (integers)")
    if (values < 0).any():
        raise ValueError("amount_per_line_krw must be 0 or more")
    return sum(int(v) for v in values.tolist())


def _decide_counts(arrive_days: list[date], arrivals: list[int], rules: ClaimRules,
                   calendar: Calendar) -> dict[date, int]:
    """Whole claims decided per business day: first arrived first, each after the rules' lag, at
    most the daily capacity (None: all that are ready)."""
    ready = deque((calendar.add_business_days(d, rules.processing_business_days), n)
                  for d, n in zip(arrive_days, arrivals, strict=True) if n)
    remaining = sum(arrivals)
    decided: dict[date, int] = {}
    waiting = 0
    day = ready[0][0] if ready else None
    cap = rules.daily_capacity
    while remaining and day is not None:
        while ready and ready[0][0] <= day:
            waiting += ready.popleft()[1]
        take = waiting if cap is None else min(cap, waiting)
        if take:
            decided[day] = take
            waiting -= take
            remaining -= take
        if not remaining:
            break
        following = calendar.add_business_days(day, 1)
        day = max(following, ready[0][0]) if not waiting and ready else following
    return decided
