"""The DuckDB reference: the benchmark's incidents as an expert would write them, by hand, in DuckDB.

Nothing here imports the package: the rules are copied by hand from the incident and policy
files named below, so that the benchmark compares the package against what a careful analyst
would write directly in DuckDB, and so that a mistake in the package's rule compiler shows up as
a difference in a figure (the benchmark stops when any figure differs, by a single won or line).

    python benchmarks/reference.py nationwide ROSTER OUT_DIR
    python benchmarks/reference.py billing ROSTER BILLS OUT_DIR
    python benchmarks/reference.py floor ROSTER

``nationwide`` and ``billing`` write a *decision ledger* ``OUT_DIR/ledger.parquet`` — only what the
incident decides per line (zstd, row groups of 1,000,000 rows, as the package does) — and compute
the summary figures the package's ``summary.json`` has, in as few passes as an expert would; they
print one JSON line: ``{"figures": {...}, "seconds": s, "pieces": {pass: s}}``, the figures keyed
and nested as in ``summary.json``. ``floor`` decodes the roster columns the nationwide rules read
(and nothing else) and prints ``{"seconds": s, "lines": n}``: the read floor.

Nationwide outage, 2021-10-25 (data/incidents/kt-2021-10-25-nationwide.yml, policy
data/policies/kt-2021-10-25-special.yml):
  * one window, 11:16-12:45 (89 minutes), the whole country, services mobile, internet, landline:
    every roster line of those services is affected, for 89 minutes;
  * every affected line is eligible (no threshold);
  * credit = monthly fee x billable minutes / 43,200 (a 720-hour month), where billable minutes =
    89 x 10 = 890, rounded up to the hour = 900 (15 hours of fee);
  * small businesses' internet and landline lines instead get 10 days of fee = fee x 10 / 30;
  * floored to the won, in integer arithmetic;
  * paid on the December 2021 bill on the line's bill day; a weekend moves to the Monday
    (December 2021 has no weekday public holiday).
  Ledger: line_id, customer_id, outage_minutes, eligible, credit_krw. Figures: roster lines;
  affected and eligible lines and customers; total credit; the longest outage; per service,
  region, customer type and payment method: affected lines, affected customers, eligible lines,
  credit; the distribution of the eligible lines' credits (min, p50, p90, p99, max: the value at
  1-based position ceil(n x q) of the sorted credits); per payment day the lines paid (credit > 0)
  and their credit, and the last day; the window's reach (lines, customers).
  Passes over the roster: (1) the ledger, one COPY; (2) every breakdown's lines and credit, the
  credit histogram and the bill days, one GROUPING SETS query; (3) distinct customers, in all and
  per breakdown value, exactly: one GROUP BY customer_id that ORs a bit per breakdown value the
  customer's lines touch (the values known from pass 2), then a count of customers per mask.

Billing error, September 2023 (data/incidents/kt-2023-09-billing-error.yml, settlement
data/settlement/kt-2023-09-announced.yml):
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

# Every affected line with what the incident decides for it. Each query below selects from this
# the columns it needs: DuckDB reads only those from the roster.
NATIONWIDE_LINES = f"""
SELECT line_id, customer_id, service, region, customer_type, payment_method, bill_cycle_day,
       CAST({OUTAGE_MINUTES} AS BIGINT) AS outage_minutes,
       TRUE AS eligible,
       CASE WHEN customer_type = 'small_business' AND service IN ('internet', 'landline')
            THEN monthly_fee_krw * {MERCHANT_MINUTES} // {MONTH_MINUTES}
            ELSE monthly_fee_krw * {BILLABLE_MINUTES} // {MONTH_MINUTES}
       END AS credit_krw
FROM {{roster}}
WHERE service IN ('mobile', 'internet', 'landline')
"""

# The roster columns the rules and breakdowns read: what the read floor decodes.
FLOOR_COLUMNS = ("line_id", "customer_id", "service", "region", "customer_type", "payment_method",
                 "monthly_fee_krw", "bill_cycle_day")

LEDGER = """
COPY (SELECT line_id, customer_id, outage_minutes, eligible, credit_krw FROM ({lines})) TO {out} {parquet}
"""

GROUPED = ("service", "region", "customer_type", "payment_method", "bill_cycle_day", "credit_krw")

BREAKDOWN_PASS = f"""
SELECT GROUPING({', '.join(GROUPED)}) AS g, {', '.join(GROUPED)},
       count(*) AS lines, count(*) FILTER (WHERE eligible) AS eligible_lines,
       sum(credit_krw) AS credit, count(*) FILTER (WHERE credit_krw > 0) AS paid_lines,
       max(outage_minutes) AS longest
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


def nationwide(roster: str | Path, out_dir: str | Path) -> tuple[dict, dict]:
    out = Path(out_dir) / "ledger.parquet"
    out.parent.mkdir(parents=True, exist_ok=True)
    src = _source(roster)
    lines = NATIONWIDE_LINES.format(roster=src)
    con = duckdb.connect()
    pieces: dict[str, float] = {}

    t = time.perf_counter()
    con.execute(LEDGER.format(lines=lines, out=_q(out), parquet=PARQUET))
    pieces["ledger"] = time.perf_counter() - t

    t = time.perf_counter()
    rows = con.execute(BREAKDOWN_PASS.format(lines=lines)).fetchall()
    roster_lines = con.execute(f"SELECT count(*) FROM {src}").fetchone()[0]  # Parquet metadata
    pieces["breakdowns"] = time.perf_counter() - t

    everything = (1 << len(GROUPED)) - 1
    total = None
    by: dict[str, list[tuple]] = {c: [] for c in GROUPED}
    for g, *rest in rows:
        keys, (n, eligible, credit, paid, longest) = rest[:len(GROUPED)], rest[len(GROUPED):]
        if g == everything:
            total = (n, eligible, credit, longest)
            continue
        for i, col in enumerate(GROUPED):
            if g == everything ^ (1 << (len(GROUPED) - 1 - i)):
                by[col].append((keys[i], int(n), int(eligible), int(credit or 0), int(paid)))
    n_lines, n_eligible, n_credit, longest = total if total else (0, 0, 0, None)
    domains = {col: sorted(v for v, *_ in by[col] if v is not None) for col in BREAKDOWNS}

    t = time.perf_counter()
    customers, per_value = customer_masks(con, lines, domains) if n_lines else (0, {"eligible": 0})
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

def floor(roster: str | Path) -> int:
    """Decode every value of the columns the nationwide rules read (a hash of each row, summed)."""
    con = duckdb.connect()
    n, _ = con.execute(f"SELECT count(*), sum(hash({', '.join(FLOOR_COLUMNS)})) FROM {_source(roster)}").fetchone()
    con.close()
    return int(n)


def main(argv: list[str]) -> int:
    start = time.perf_counter()
    if len(argv) == 3 and argv[0] == "nationwide":
        figures, pieces = nationwide(argv[1], argv[2])
    elif len(argv) == 4 and argv[0] == "billing":
        figures, pieces = billing(argv[1], argv[2], argv[3])
    elif len(argv) == 2 and argv[0] == "floor":
        lines = floor(argv[1])
        print(json.dumps({"lines": lines, "columns": list(FLOOR_COLUMNS),
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
