"""The DuckDB reference: the benchmark's incidents as an expert would write them, by hand, in DuckDB.

Nothing here imports the package: the rules are copied by hand from the incident and policy
files named below, so that the benchmark compares the package against what a careful analyst
would write directly in DuckDB, and so that a mistake in the package's rule compiler shows up as
a difference in a figure (the benchmark stops when any figure differs, by a single won or line).

    python benchmarks/reference.py nationwide ROSTER BILL_ITEMS OUT_DIR
    python benchmarks/reference.py billing ROSTER BILLS OUT_DIR
    python benchmarks/reference.py floor ROSTER [BILL_ITEMS]

``nationwide`` and ``billing`` write a *decision ledger* ``OUT_DIR/ledger.parquet`` — only what the
incident decides per line (zstd, row groups of 1,000,000 rows, as the package does) — and compute
the summary figures the package's ``summary.json`` has, in as few passes as an expert would; they
print one JSON line: ``{"figures": {...}, "seconds": s, "pieces": {pass: s}}``, the figures keyed
and nested as in ``summary.json``. ``floor`` decodes the roster columns the nationwide rules read
and, given the bill items, every value of the items (the run reads them all: it checks every row
and the what-if's fee bases span their months), and nothing else; it prints ``{"seconds": s,
"lines": n, "item_rows": n}``: the read floor.

Nationwide outage, 2021-10-25 (data/incidents/kt-2021-10-25-nationwide.yml, policy
kt_analysis/catalogue/policies/kt-2021-10-25-special.yml):
  * one window, 11:16-12:45 (89 minutes), the whole country, services mobile, internet, landline:
    every roster line of those services is affected, for 89 minutes;
  * every affected line is eligible (no threshold), but a PSTN landline (plan 일반전화 기본 or
    일반전화 정액, the policy's exclude_plans): KT paid internet phones only; it gets 0 won;
  * the fee is the line's October 2021 bill, from the bill items (line_id, bill_month, item,
    amount_krw): the sum of its 2021-10 items plan, bundle_discount, long_term_discount, add_on and
    equipment_rental (the 선택약정 discount, usage, instalments, ... are not counted). A line with
    no 2021-10 item has no October bill: the incident is refused (so is a negative fee);
  * credit = fee x billable minutes / 43,200 (a 720-hour month), where billable minutes =
    89 x 10 = 890, rounded up to the hour = 900 (15 hours of fee);
  * small businesses' internet and landline lines instead get 10 days of fee = fee x 10 / 30;
  * floored to the won, once, in integer arithmetic;
  * paid on the December 2021 bill on the line's bill day; a weekend moves to the Monday
    (December 2021 has no weekday public holiday).
  Ledger: line_id, customer_id, outage_minutes, eligible, credit_krw. Figures: roster lines;
  affected and eligible lines and customers; total credit; the longest outage; per service,
  region, customer type and payment method: affected lines, affected customers, eligible lines,
  credit; the distribution of the eligible lines' credits (min, p50, p90, p99, max: the value at
  1-based position ceil(n x q) of the sorted credits); per payment day the lines paid (credit > 0)
  and their credit, and the last day; the window's reach (lines, customers).
  The what-if: every policy of the catalogue (kt_analysis/catalogue/policies/, the own policy first, then the
  others by id) on the same lines, its eligible lines and total credit, each rounded once per line:
  - kt-1day-10x-2023 (internet, IPTV; roster fee): fee x (89 rounded up to the hour x 10 + 1 day)
    / 43,200; small businesses' internet one month of fee;
  - kt-2018-ahyeon-special (every service; fee = the sum of the 2018-08..10 items but one_off,
    international, information_fee and device_instalment, over 3 months): one month of fee =
    sum x 43,200 / (43,200 x 3); mobile only after 3 h continuous or 6 h in the month (none here);
    small businesses' internet also 400,000 won (1 day of outage: the 1-2 day tier);
  - kt-2024-08-10-landline-special (landline; fee = the month before the incident, 2021-09, all
    items but usage and international): 10 x 89 minutes of fee, small businesses one month;
  - kt-terms-2022 (2 h continuous or more than 6 h in the month) and kt-terms-pre-2022 (3 h / more
    than 6 h): no line of an 89-minute outage is eligible.
  A policy on bills is left out of the what-if (listed in what_if_skipped) when an affected line of
  a service it covers lacks a bill (any item) in one of its months, or has a negative fee.
  Passes (each pass that needs the fees groups them from the bill items itself, per line_id, and
  joins them to the roster): (1) the ledger, one COPY of the roster joined to the October fees;
  (2) every breakdown's lines and credit, the credit histogram and the bill days, and the what-if's
  totals with its checks, one GROUPING SETS query over the roster joined to every fee basis;
  (3) distinct customers, in all and per breakdown value, exactly: one GROUP BY
  customer_id over the roster that ORs a bit per breakdown value the customer's lines touch (the
  values known from pass 2), then a count of customers per mask.

Billing error, September 2023 (data/incidents/kt-2023-09-billing-error.yml, settlement
kt_analysis/catalogue/settlement/kt-2023-09-announced.yml):
  * lines hit: credit_card and check_card payers, bill day 11, mobile, with a bill in both months;
  * charged = the line's 2023-07 bill amount (charged on 2023-09-11), owed = its 2023-09 amount;
  * credit cards: approval cancelled (no money moved) on 09-11 / 09-12, lines split evenly in
    line_id order (the first half, one more when odd, on the first day); check cards: refunded
    on 09-12; both re-charged the correct amount on 09-12 / 09-13, split the same way.
  Ledger: line_id, customer_id, charged_krw, owed_krw, action, cancelled_krw, refund_krw,
  recharge_krw, charged_on, settled_on, recharge_on. Figures: affected lines and customers;
  totals charged, owed, over- and undercharged, cancelled, refunded, re-charged; the last refund
  and the last settlement day; the money held wrongly (refunds outstanding between charge and
  refund: its peak, the first day of the peak, and won x days); per payment method lines,
  customers, the money and the first/last settlement and last re-charge days; per service, region
  and customer type lines, customers, charged and refunded; per day and payment method the lines
  and won cancelled, refunded and re-charged. The hit lines (a few % of the roster) are kept in
  memory once; the ledger and every figure are read from there.
"""

# ruff: noqa: T201, S608  (a command-line script: it prints its results; its SQL is built from literals)
from __future__ import annotations

import json
import sys
import time
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb

PARQUET = "(FORMAT parquet, COMPRESSION zstd, ROW_GROUP_SIZE 1000000)"
BREAKDOWNS = ("service", "region", "customer_type", "payment_method")


def _q(text: str | Path) -> str:
    return "'" + str(text).replace("'", "''") + "'"


def _source(path: str | Path) -> str:
    path = Path(path)
    if path.is_dir():
        return f"read_parquet({_q(path / '**' / '*.parquet')})"
    return f"read_parquet({_q(path)})"


def _day(value: date | None) -> str | None:
    return value.isoformat() if value is not None else None


# ----- nationwide outage, 2021-10-25 -------------------------------------------------------------

OUTAGE_START = datetime(2021, 10, 25, 11, 16)
OUTAGE_END = datetime(2021, 10, 25, 12, 45)
OUTAGE_MINUTES = int((OUTAGE_END - OUTAGE_START).total_seconds() // 60)  # 89
BILLABLE_MINUTES = -(-OUTAGE_MINUTES * 10 // 60) * 60  # 890 rounded up to the hour: 900
MONTH_MINUTES = 720 * 60  # 43,200
MERCHANT_MINUTES = 10 * 1440  # 10 days of fee

SMALL_INTERNET_LANDLINE = "customer_type = 'small_business' AND service IN ('internet', 'landline')"


def _in(values: tuple[str, ...]) -> str:
    return ", ".join(_q(v) for v in values)


PSTN_PLANS = ("일반전화 기본", "일반전화 정액")  # kt-2021-10-25-special's exclude_plans: not paid
COVERED_PLAN = f"coalesce(plan NOT IN ({_in(PSTN_PLANS)}), TRUE)"  # a line without a plan is not excluded


# The fee bases, from the bill items (line_id, bill_month, item, amount_krw; a discount negative).
OWN_MONTH = "2021-10"  # kt-2021-10-25-special: the October 2021 bill ...
OWN_ITEMS = ("plan", "bundle_discount", "long_term_discount", "add_on", "equipment_rental")  # ... these items
AHYEON_MONTHS = ("2018-08", "2018-09", "2018-10")  # kt-2018-ahyeon-special: the Aug-Oct 2018 bills ...
AHYEON_LEFT_OUT = ("one_off", "international", "information_fee", "device_instalment")  # ... but these items
LANDLINE_MONTH = "2021-09"  # kt-2024-08-10-landline-special: the month before the incident's (2021-10) ...
LANDLINE_LEFT_OUT = ("usage", "international")  # ... but these items
LGU_MONTHS = ("2021-07", "2021-08", "2021-09")  # lgu-terms-2023: the three bills before the incident's month ...
LGU_LEFT_OUT = ("device_instalment",)  # ... but these items; a line without all three: the roster fee × 3

# Pass 1 (the ledger) needs the October fee only: the counted items' sum per line. A line with an
# October bill but no counted item has a fee of 0; whether every line has an October bill is
# checked in pass 2, which refuses the incident otherwise.
OWN_FEES = f"""
SELECT line_id, CAST(sum(amount_krw) AS BIGINT) AS fee FROM {{items}}
WHERE bill_month = '{OWN_MONTH}' AND item IN ({_in(OWN_ITEMS)}) GROUP BY line_id
"""

# Pass 2 needs every basis and, per basis, whether the line has a bill (any item) in each month.
ALL_FEES = f"""
SELECT line_id,
       CAST(sum(amount_krw) FILTER (WHERE bill_month = '{OWN_MONTH}' AND item IN ({_in(OWN_ITEMS)})) AS BIGINT)
         AS fee,
       bool_or(bill_month = '{OWN_MONTH}') AS has_fee,
       CAST(sum(amount_krw) FILTER (WHERE bill_month IN ({_in(AHYEON_MONTHS)})
                                    AND item NOT IN ({_in(AHYEON_LEFT_OUT)})) AS BIGINT) AS fee_2018,
       {' AND '.join(f"bool_or(bill_month = '{m}')" for m in AHYEON_MONTHS)} AS has_2018,
       CAST(sum(amount_krw) FILTER (WHERE bill_month = '{LANDLINE_MONTH}' AND item NOT IN ({_in(LANDLINE_LEFT_OUT)}))
            AS BIGINT) AS fee_sep,
       bool_or(bill_month = '{LANDLINE_MONTH}') AS has_sep,
       CAST(sum(amount_krw) FILTER (WHERE bill_month IN ({_in(LGU_MONTHS)}) AND item NOT IN ({_in(LGU_LEFT_OUT)}))
            AS BIGINT) AS fee_lgu,
       {' AND '.join(f"bool_or(bill_month = '{m}')" for m in LGU_MONTHS)} AS has_lgu
FROM {{items}}
WHERE bill_month IN ({_in((OWN_MONTH, *AHYEON_MONTHS, *LGU_MONTHS))})
GROUP BY line_id
"""

OWN_CREDIT = f"""CASE WHEN NOT {COVERED_PLAN} THEN 0
            WHEN {SMALL_INTERNET_LANDLINE} THEN fee * {MERCHANT_MINUTES} // {MONTH_MINUTES}
            ELSE fee * {BILLABLE_MINUTES} // {MONTH_MINUTES} END"""

# Every affected line with what the incident decides for it, its fees joined from the bill items
# ({fees}: OWN_FEES or ALL_FEES, and their {columns}: 0 / FALSE for a line without items). Each
# query selects from this the columns it needs: DuckDB reads only those from the roster.
NATIONWIDE_LINES = f"""
SELECT line_id, customer_id, service, region, customer_type, payment_method, bill_cycle_day, monthly_fee_krw,
       CAST({OUTAGE_MINUTES} AS BIGINT) AS outage_minutes,
       {COVERED_PLAN} AS eligible,
       {OWN_CREDIT} AS credit_krw, {{names}}
FROM (SELECT r.line_id, r.customer_id, r.service, r.region, r.customer_type, r.payment_method, r.bill_cycle_day,
             r.monthly_fee_krw, r.plan, {{columns}}
      FROM {{roster}} AS r LEFT JOIN ({{fees}}) AS f ON r.line_id = f.line_id
      WHERE r.service IN ('mobile', 'internet', 'landline'))
"""


def _fee_columns(*columns: tuple[str, str]) -> dict[str, str]:
    return {"names": ", ".join(c for c, _ in columns),
            "columns": ", ".join(f"coalesce(f.{c}, {none}) AS {c}" for c, none in columns)}


OWN_COLUMNS = _fee_columns(("fee", "0"))
ALL_COLUMNS = _fee_columns(("fee", "0"), ("has_fee", "FALSE"), ("fee_2018", "0"), ("has_2018", "FALSE"),
                           ("fee_sep", "0"), ("has_sep", "FALSE"), ("fee_lgu", "0"), ("has_lgu", "FALSE"))

# The distinct customers' pass needs no fee: an affected line is eligible under the own policy unless PSTN.
ROSTER_LINES = f"""
SELECT customer_id, service, region, customer_type, payment_method, {COVERED_PLAN} AS eligible
FROM {{roster}} WHERE service IN ('mobile', 'internet', 'landline')
"""


def _sql_bool(value: bool) -> str:
    return "TRUE" if value else "FALSE"


# The what-if: the other catalogue policies, by id (the order of summary.json), on the same lines.
# Each: (id, eligible, credit, the check of its fee basis: a line it could credit without a bill in
# one of the basis's months, or with a negative basis; None for a policy on the roster's fee). The
# outage is one 89-minute window: a line's longest continuous and monthly minutes are 89 too.
def _hour_up(minutes: int) -> int:
    return -(-minutes // 60) * 60


AHYEON_MOBILE = OUTAGE_MINUTES >= 180 or OUTAGE_MINUTES >= 360  # 3 h continuous or 6 h in the month
AHYEON_DAYS = -(-OUTAGE_MINUTES // 1440)  # outage days, rounded up: 1
AHYEON_TIER = max((krw for days, krw in ((1, 400_000), (3, 800_000), (5, 1_000_000), (7, 1_200_000))
                   if days <= AHYEON_DAYS), default=0)
TERMS_2022 = OUTAGE_MINUTES >= 120 or OUTAGE_MINUTES > 360  # 2 h continuous or more than 6 h
TERMS_PRE_2022 = OUTAGE_MINUTES >= 180 or OUTAGE_MINUTES > 360  # 3 h continuous or more than 6 h
M = MONTH_MINUTES
WHAT_IF = (
    ("kt-1day-10x-2023",
     "service IN ('internet', 'iptv')",
     f"""CASE WHEN service NOT IN ('internet', 'iptv') THEN 0
              WHEN customer_type = 'small_business' AND service = 'internet' THEN monthly_fee_krw * {M} // {M}
              ELSE monthly_fee_krw * {_hour_up(OUTAGE_MINUTES) * 10 + 1440} // {M} END""",
     None),
    ("kt-2018-ahyeon-special",
     f"service <> 'mobile' OR {_sql_bool(AHYEON_MOBILE)}",
     f"""CASE WHEN customer_type = 'small_business' AND service = 'internet'
                   THEN (fee_2018 * {M} + {AHYEON_TIER * M * 3}) // {M * 3}
              WHEN service = 'mobile' THEN {f'fee_2018 * {M} // {M * 3}' if AHYEON_MOBILE else '0'}
              ELSE fee_2018 * {M} // {M * 3} END""",
     "NOT has_2018 OR fee_2018 < 0"),
    ("kt-2024-08-10-landline-special",
     "service = 'landline'",
     f"""CASE WHEN service <> 'landline' THEN 0
              WHEN customer_type = 'small_business' THEN fee_sep * {M} // {M}
              ELSE fee_sep * {OUTAGE_MINUTES * 10} // {M} END""",
     "service = 'landline' AND (NOT has_sep OR fee_sep < 0)"),
    ("kt-terms-2022",
     _sql_bool(TERMS_2022),
     f"CASE WHEN {_sql_bool(TERMS_2022)} THEN monthly_fee_krw * {_hour_up(OUTAGE_MINUTES) * 10} // {M} ELSE 0 END",
     None),
    ("kt-terms-2023",  # = kt-terms-2022 for an incident of unknown cause (below 2 h: only intent, gross negligence)
     _sql_bool(TERMS_2022),
     f"CASE WHEN {_sql_bool(TERMS_2022)} THEN monthly_fee_krw * {_hour_up(OUTAGE_MINUTES) * 10} // {M} ELSE 0 END",
     None),
    ("kt-terms-pre-2022",
     _sql_bool(TERMS_PRE_2022),
     f"""CASE WHEN NOT {_sql_bool(TERMS_PRE_2022)} THEN 0
              WHEN service = 'mobile' THEN monthly_fee_krw * {_hour_up(OUTAGE_MINUTES) * 8} // {M}
              ELSE monthly_fee_krw * {_hour_up(OUTAGE_MINUTES) * 6} // {M} END""",
     None),
    ("lgu-terms-2023",  # the three months' counted items, or the roster fee × 3 for a line without all three
     _sql_bool(TERMS_2022),
     f"""CASE WHEN NOT {_sql_bool(TERMS_2022)} THEN 0
              ELSE (CASE WHEN has_lgu THEN fee_lgu ELSE monthly_fee_krw * 3 END)
                   * {_hour_up(OUTAGE_MINUTES) * 10} // {M * 3} END""",
     "has_lgu AND fee_lgu < 0"),
    ("skt-terms-2023",
     f"{_sql_bool(TERMS_2022)} AND service IN ('mobile', 'internet', 'landline')",
     f"""CASE WHEN {_sql_bool(TERMS_2022)} AND service IN ('mobile', 'internet', 'landline')
              THEN monthly_fee_krw * {_hour_up(OUTAGE_MINUTES) * 10} // {M} ELSE 0 END""",
     None),
)
OWN_POLICY = "kt-2021-10-25-special"

# The roster columns the rules and breakdowns read, and the bill items' (all of them): what the
# read floor decodes.
FLOOR_COLUMNS = ("line_id", "customer_id", "service", "region", "customer_type", "payment_method",
                 "monthly_fee_krw", "bill_cycle_day", "plan")
FLOOR_ITEM_COLUMNS = ("line_id", "bill_month", "item", "amount_krw")

LEDGER = """
COPY (SELECT line_id, customer_id, outage_minutes, eligible, credit_krw FROM ({lines})) TO {out} {parquet}
"""

GROUPED = ("service", "region", "customer_type", "payment_method", "bill_cycle_day", "credit_krw")

# With the what-if's totals and checks (meaningful in the () set, computed in every set alike).
BREAKDOWN_PASS = f"""
SELECT GROUPING({', '.join(GROUPED)}) AS g, {', '.join(GROUPED)},
       count(*) AS lines, count(*) FILTER (WHERE eligible) AS eligible_lines,
       sum(credit_krw) AS credit, count(*) FILTER (WHERE credit_krw > 0) AS paid_lines,
       max(outage_minutes) AS longest,
       count(*) FILTER (WHERE NOT has_fee OR fee < 0) AS refused,
       {', '.join(f"count(*) FILTER (WHERE {elig}), sum({credit}), "
                  f"count(*) FILTER (WHERE {check or 'FALSE'})" for _, elig, credit, check in WHAT_IF)}
FROM ({{lines}})
GROUP BY GROUPING SETS ((), {', '.join(f'({c})' for c in GROUPED)})
"""


def credit_day(bill_day: int) -> date:
    """The December 2021 bill on the line's bill day; Saturday and Sunday move to the Monday."""
    day = date(2021, 12, bill_day)
    return day + timedelta(days={5: 2, 6: 1}.get(day.weekday(), 0))


def _quantile(histogram: list[tuple[int, int]], q_num: int, q_den: int) -> int:
    """The value at 1-based position ceil(n x q) of the sorted values, from (value, count) pairs."""
    total = sum(n for _, n in histogram)
    if not total:
        return 0
    rank = -(-total * q_num // q_den)
    upto = 0
    for value, n in sorted(histogram):
        upto += n
        if upto >= rank:
            return value
    return sorted(histogram)[-1][0]


def _literal(value: Any) -> str:
    return _q(value) if isinstance(value, str) else str(value)


def customer_masks(con: duckdb.DuckDBPyConnection, lines: str, domains: dict[str, list]) -> tuple[int, dict]:
    """Distinct customers, in all, eligible, and per value of each breakdown, exactly, in one
    pass: per customer, the OR of one bit per (breakdown, value) its lines touch (and one for an
    eligible line); then customers per distinct mask (a few thousand), whose bits are summed here."""
    bits: list[tuple[str, Any]] = [("eligible", True)]
    bits += [(col, v) for col in BREAKDOWNS for v in domains[col]]
    words: list[dict[str, list[str]]] = []  # 62 bits per BIGINT word; in a word, one CASE per column
    for i, (col, value) in enumerate(bits):
        if i % 62 == 0:
            words.append({})
        words[-1].setdefault(col, []).append(f"WHEN {_literal(value)} THEN {1 << (i % 62)}")
    exprs = []
    for k, word in enumerate(words):
        cases = [f"CASE {col} {' '.join(whens)} ELSE 0 END" for col, whens in word.items()]
        exprs.append(f"bit_or({' | '.join(cases)}) AS m{k}")
    ms = ", ".join(f"m{k}" for k in range(len(words)))
    rows = con.execute(
        f"SELECT {ms}, count(*) FROM (SELECT customer_id, {', '.join(exprs)} FROM ({lines}) GROUP BY customer_id) "
        f"GROUP BY ALL"
    ).fetchall()
    counts = [0] * len(bits)
    customers = 0
    for row in rows:
        n = int(row[-1])
        customers += n
        for k, mask in enumerate(row[:-1]):
            mask = int(mask)
            while mask:
                low = mask & -mask
                counts[k * 62 + low.bit_length() - 1] += n
                mask ^= low
    per: dict[str, dict] = {col: {} for col in BREAKDOWNS}
    for (col, value), n in zip(bits[1:], counts[1:], strict=True):
        per[col][value] = n
    return customers, {"eligible": counts[0], **per}


def nationwide(roster: str | Path, items: str | Path, out_dir: str | Path) -> tuple[dict, dict]:
    out = Path(out_dir) / "ledger.parquet"
    out.parent.mkdir(parents=True, exist_ok=True)
    src, items_src = _source(roster), _source(items)
    con = duckdb.connect()
    pieces: dict[str, float] = {}

    t = time.perf_counter()
    lines = NATIONWIDE_LINES.format(roster=src, fees=OWN_FEES.format(items=items_src), **OWN_COLUMNS)
    con.execute(LEDGER.format(lines=lines, out=_q(out), parquet=PARQUET))
    pieces["ledger"] = time.perf_counter() - t

    t = time.perf_counter()
    lines = NATIONWIDE_LINES.format(roster=src, fees=ALL_FEES.format(items=items_src), **ALL_COLUMNS)
    rows = con.execute(BREAKDOWN_PASS.format(lines=lines)).fetchall()
    roster_lines = con.execute(f"SELECT count(*) FROM {src}").fetchone()[0]  # Parquet metadata
    pieces["breakdowns and what-if"] = time.perf_counter() - t

    everything = (1 << len(GROUPED)) - 1
    total = None
    what_if: list[tuple] = []
    by: dict[str, list[tuple]] = {c: [] for c in GROUPED}
    for g, *rest in rows:
        keys, (n, eligible, credit, paid, longest, refused, *policies) = rest[:len(GROUPED)], rest[len(GROUPED):]
        if g == everything:
            total = (n, eligible, credit, longest)
            if refused:
                raise SystemExit(f"reference: {refused:,} affected line(s) have no {OWN_MONTH} bill, or a negative "
                                 f"fee: the incident's policy ({OWN_POLICY}) refuses them")
            what_if = [(pid, *policies[3 * i:3 * i + 3]) for i, (pid, *_) in enumerate(WHAT_IF)]
            continue
        for i, col in enumerate(GROUPED):
            if g == everything ^ (1 << (len(GROUPED) - 1 - i)):
                by[col].append((keys[i], int(n), int(eligible), int(credit or 0), int(paid)))
    n_lines, n_eligible, n_credit, longest = total if total else (0, 0, 0, None)
    domains = {col: sorted(v for v, *_ in by[col] if v is not None) for col in BREAKDOWNS}

    t = time.perf_counter()
    customers, per_value = (customer_masks(con, ROSTER_LINES.format(roster=src), domains) if n_lines
                            else (0, {"eligible": 0}))
    pieces["customers"] = time.perf_counter() - t
    con.close()

    histogram = [(credit_krw, eligible) for credit_krw, _, eligible, _, _ in by["credit_krw"] if eligible]
    timeline: dict[date, list[int]] = {}
    for bill_day, _, _, credit, paid in by["bill_cycle_day"]:
        if paid:
            day = timeline.setdefault(credit_day(int(bill_day)), [0, 0])
            day[0] += paid
            day[1] += credit
    figures: dict[str, Any] = {
        "roster_lines": int(roster_lines),
        "affected_lines": int(n_lines),
        "affected_customers": customers,
        "eligible_lines": int(n_eligible),
        "eligible_customers": per_value["eligible"],
        "total_credit_krw": int(n_credit or 0),
        "longest_outage_minutes": int(longest or 0),
        "credit_distribution": {
            "min_krw": min((v for v, _ in histogram), default=0),
            "p50_krw": _quantile(histogram, 50, 100),
            "p90_krw": _quantile(histogram, 90, 100),
            "p99_krw": _quantile(histogram, 99, 100),
            "max_krw": max((v for v, _ in histogram), default=0),
        },
    }
    for col in BREAKDOWNS:
        figures[f"by_{col}"] = {
            value: {"affected_lines": n, "affected_customers": per_value[col][value],
                    "eligible_lines": eligible, "total_credit_krw": credit}
            for value, n, eligible, credit, _ in sorted(by[col], key=lambda r: r[0]) if value is not None
        }
    figures["credit_timeline"] = [{"day": d.isoformat(), "lines": n, "credit_krw": k}
                                  for d, (n, k) in sorted(timeline.items())]
    figures["credit_completion_date"] = max(timeline).isoformat() if timeline else None
    figures["reach"] = [{"lines": int(n_lines), "customers": customers}]  # the one window: all of it
    # The what-if: the own policy first, then each other catalogue policy whose fee basis every line
    # it could credit has; the others are left out, listed by id (their titles and reasons' wording
    # are descriptive, not compared).
    figures["what_if"] = [{"policy_id": OWN_POLICY, "eligible_lines": int(n_eligible),
                           "total_credit_krw": int(n_credit or 0)}]
    figures["what_if"] += [{"policy_id": pid, "eligible_lines": int(eligible), "total_credit_krw": int(credit or 0)}
                           for pid, eligible, credit, lacking in what_if if not lacking]
    figures["what_if_skipped"] = [{"policy_id": pid} for pid, _, _, lacking in what_if if lacking]
    return figures, pieces


# ----- billing error, September 2023 -------------------------------------------------------------

CHARGED_ON = date(2023, 9, 11)

BILLING_LINES = """
CREATE TEMP TABLE settled AS
WITH hit AS (
  SELECT line_id, customer_id, service, region, customer_type, payment_method
  FROM {roster}
  WHERE payment_method IN ('credit_card', 'check_card') AND bill_cycle_day = 11 AND service = 'mobile'
),
lines AS (
  SELECT h.*, CAST(jul.amount_krw AS BIGINT) AS charged_krw, CAST(sep.amount_krw AS BIGINT) AS owed_krw,
         ntile(2) OVER (PARTITION BY h.payment_method ORDER BY h.line_id) AS half
  FROM hit AS h
  JOIN (SELECT line_id, amount_krw FROM {bills} WHERE bill_month = '2023-07') AS jul USING (line_id)
  JOIN (SELECT line_id, amount_krw FROM {bills} WHERE bill_month = '2023-09') AS sep USING (line_id)
)
SELECT line_id, customer_id, service, region, customer_type, payment_method, charged_krw, owed_krw,
       CASE payment_method WHEN 'credit_card' THEN 'cancel' ELSE 'refund' END AS action,
       CASE WHEN payment_method = 'credit_card' THEN charged_krw ELSE 0 END AS cancelled_krw,
       CASE WHEN payment_method = 'check_card' THEN charged_krw ELSE 0 END AS refund_krw,
       owed_krw AS recharge_krw, DATE '2023-09-11' AS charged_on,
       CASE WHEN payment_method = 'check_card' THEN DATE '2023-09-12'
            WHEN half = 1 THEN DATE '2023-09-11' ELSE DATE '2023-09-12' END AS settled_on,
       CASE WHEN half = 1 THEN DATE '2023-09-12' ELSE DATE '2023-09-13' END AS recharge_on
FROM lines
ORDER BY line_id
"""

BILLING_LEDGER = """
COPY (SELECT line_id, customer_id, charged_krw, owed_krw, action, cancelled_krw, refund_krw, recharge_krw,
             charged_on, settled_on, recharge_on FROM settled) TO {out} {parquet}
"""

BILLING_GROUPED = ("payment_method", "service", "region", "customer_type")

BILLING_PASS = f"""
SELECT GROUPING({', '.join(BILLING_GROUPED)}) AS g, {', '.join(BILLING_GROUPED)},
       count(*), count(DISTINCT customer_id), sum(charged_krw), sum(owed_krw),
       sum(greatest(charged_krw - owed_krw, 0)), sum(greatest(owed_krw - charged_krw, 0)),
       sum(cancelled_krw), sum(refund_krw), sum(recharge_krw),
       min(settled_on), max(settled_on), max(recharge_on), max(settled_on) FILTER (WHERE refund_krw > 0)
FROM settled
GROUP BY GROUPING SETS ((), {', '.join(f'({c})' for c in BILLING_GROUPED)})
"""

BILLING_DAYS = """
SELECT day, payment_method,
       count(*) FILTER (WHERE what = 'cancel'), coalesce(sum(krw) FILTER (WHERE what = 'cancel'), 0),
       count(*) FILTER (WHERE what = 'refund'), coalesce(sum(krw) FILTER (WHERE what = 'refund'), 0),
       count(*) FILTER (WHERE what = 'recharge'), coalesce(sum(krw) FILTER (WHERE what = 'recharge'), 0)
FROM (SELECT settled_on AS day, payment_method, action AS what,
             CASE action WHEN 'cancel' THEN cancelled_krw ELSE refund_krw END AS krw FROM settled
      UNION ALL
      SELECT recharge_on, payment_method, 'recharge', recharge_krw FROM settled)
GROUP BY day, payment_method ORDER BY day, payment_method
"""

# Money taken wrongly and not yet given back: refunds, between the charge and the refund.
BILLING_HELD = """
SELECT charged_on, settled_on, sum(refund_krw) FROM settled WHERE refund_krw > 0 GROUP BY ALL
"""


def billing(roster: str | Path, bills: str | Path, out_dir: str | Path) -> tuple[dict, dict]:
    out = Path(out_dir) / "ledger.parquet"
    out.parent.mkdir(parents=True, exist_ok=True)
    src = _source(roster)
    con = duckdb.connect()
    pieces: dict[str, float] = {}

    t = time.perf_counter()
    con.execute(BILLING_LINES.format(roster=src, bills=_source(bills)))
    pieces["settling the hit lines"] = time.perf_counter() - t

    t = time.perf_counter()
    con.execute(BILLING_LEDGER.format(out=_q(out), parquet=PARQUET))
    pieces["ledger"] = time.perf_counter() - t

    t = time.perf_counter()
    rows = con.execute(BILLING_PASS).fetchall()
    days = con.execute(BILLING_DAYS).fetchall()
    held = con.execute(BILLING_HELD).fetchall()
    roster_lines = con.execute(f"SELECT count(*) FROM {src}").fetchone()[0]  # Parquet metadata
    pieces["figures"] = time.perf_counter() - t
    con.close()

    everything = (1 << len(BILLING_GROUPED)) - 1
    figures: dict[str, Any] = {"roster_lines": int(roster_lines)}
    by: dict[str, dict] = {c: {} for c in BILLING_GROUPED}
    for g, *rest in rows:
        keys = rest[:len(BILLING_GROUPED)]
        (n, customers, charged, owed, over, under, cancelled, refund, recharge,
         first_settled, last_settled, last_recharge, last_refund) = rest[len(BILLING_GROUPED):]
        if g == everything:
            figures.update({
                "affected_lines": int(n), "affected_customers": int(customers), "eligible_lines": int(n),
                "total_charged_krw": int(charged or 0), "total_owed_krw": int(owed or 0),
                "total_overcharged_krw": int(over or 0), "total_undercharged_krw": int(under or 0),
                "total_cancelled_krw": int(cancelled or 0), "total_refund_krw": int(refund or 0),
                "total_recharge_krw": int(recharge or 0),
                "refund_completion_date": _day(last_refund),
                "settlement_completion_date": _day(max((d for d in (last_settled, last_recharge) if d), default=None)),
            })
            continue
        for i, col in enumerate(BILLING_GROUPED):
            if g != everything ^ (1 << (len(BILLING_GROUPED) - 1 - i)):
                continue
            part = {"affected_lines": int(n), "affected_customers": int(customers), "charged_krw": int(charged)}
            if col == "payment_method":
                part.update({"owed_krw": int(owed), "cancelled_krw": int(cancelled), "refund_krw": int(refund),
                             "recharge_krw": int(recharge), "first_settled_on": _day(first_settled),
                             "last_settled_on": _day(last_settled), "last_recharge_on": _day(last_recharge)})
            else:
                part["refund_krw"] = int(refund)
            by[col][keys[i]] = part
    for col in BILLING_GROUPED:
        figures[f"by_{col}"] = dict(sorted(by[col].items()))
    figures["timeline"] = [
        {"day": d.isoformat(), "payment_method": pm, "cancelled_lines": int(cl), "cancelled_krw": int(ck),
         "refunded_lines": int(rl), "refund_krw": int(rk), "recharged_lines": int(ql), "recharge_krw": int(qk)}
        for d, pm, cl, ck, rl, rk, ql, qk in days
    ]
    # Refunds outstanding on each day from the first charge to the last refund.
    peak, peak_day, krw_days = 0, None, 0
    if held:
        day, last = min(c for c, _, _ in held), max(s for _, s, _ in held)
        while day < last:
            outstanding = sum(int(k) for c, s, k in held if c <= day < s)
            if outstanding > peak:
                peak, peak_day = outstanding, day
            day += timedelta(days=1)
        krw_days = sum(int(k) * (s - c).days for c, s, k in held)
    figures.update({"peak_exposure_krw": peak, "peak_exposure_date": _day(peak_day), "exposure_krw_days": krw_days})
    return figures, pieces


# ----- the read floor ----------------------------------------------------------------------------

def floor(roster: str | Path, items: str | Path | None = None) -> tuple[int, int | None]:
    """Decode every value of the columns the nationwide rules read (a hash of each row, summed), and
    of the bill items, when given (the run reads them all): the roster's lines and the items' rows."""
    con = duckdb.connect()
    n, _ = con.execute(f"SELECT count(*), sum(hash({', '.join(FLOOR_COLUMNS)})) FROM {_source(roster)}").fetchone()
    k = None
    if items is not None:
        k, _ = con.execute(f"SELECT count(*), sum(hash({', '.join(FLOOR_ITEM_COLUMNS)})) "
                           f"FROM {_source(items)}").fetchone()
    con.close()
    return int(n), None if k is None else int(k)


def main(argv: list[str]) -> int:
    start = time.perf_counter()
    if len(argv) == 4 and argv[0] == "nationwide":
        figures, pieces = nationwide(argv[1], argv[2], argv[3])
    elif len(argv) == 4 and argv[0] == "billing":
        figures, pieces = billing(argv[1], argv[2], argv[3])
    elif len(argv) in (2, 3) and argv[0] == "floor":
        lines, item_rows = floor(argv[1], argv[2] if len(argv) == 3 else None)
        print(json.dumps({"lines": lines, "columns": list(FLOOR_COLUMNS), "item_rows": item_rows,
                          "item_columns": list(FLOOR_ITEM_COLUMNS) if item_rows is not None else [],
                          "seconds": round(time.perf_counter() - start, 3)}))
        return 0
    else:
        print(__doc__.split("\n\n")[1], file=sys.stderr)
        return 2
    print(json.dumps({"figures": figures, "seconds": round(time.perf_counter() - start, 3),
                      "pieces": {k: round(v, 3) for k, v in pieces.items()}}, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
