"""The DuckDB reference: the benchmark's incidents as hand-written SQL, independent of kt_analysis.

Nothing here imports the package: the rules are copied by hand from the incident and policy
files named below, so that the benchmark compares the package against what a careful analyst
would write directly in DuckDB, and so that a mistake in the package's rule compiler shows up as
a difference in totals (the benchmark stops when the totals differ by a single won).

    python benchmarks/reference.py nationwide ROSTER OUT_DIR
    python benchmarks/reference.py billing ROSTER BILLS OUT_DIR

Each writes ``OUT_DIR/ledger.parquet`` (zstd, row groups of 1,000,000 rows, as the package does)
and prints one JSON line of totals read back from that ledger, plus the seconds it took.

Nationwide outage, 2021-10-25 (data/incidents/kt-2021-10-25-nationwide.yml, policy
data/policies/kt-2021-10-25-special.yml):
  * one window, 11:16-12:45 (89 minutes), the whole country, services mobile, internet, landline;
  * every affected line of those services is eligible (no threshold);
  * credit = monthly fee x billable minutes / 43,200 (a 720-hour month), where billable minutes =
    89 x 10 = 890, rounded up to the hour = 900 (15 hours of fee);
  * small businesses' internet and landline lines instead get 10 days of fee = fee x 10 / 30;
  * floored to the won, in integer arithmetic.

Billing error, September 2023 (data/incidents/kt-2023-09-billing-error.yml, settlement
data/settlement/kt-2023-09-announced.yml):
  * lines hit: credit_card and check_card payers, bill day 11, mobile;
  * charged = the line's 2023-07 bill amount, owed = its 2023-09 amount;
  * credit cards: approval cancelled (no money moved) on 09-11 / 09-12, lines split evenly in
    line_id order; check cards: refunded on 09-12; both re-charged the correct amount on
    09-12 / 09-13, split evenly in line_id order.
"""

# ruff: noqa: T201  (a command-line script: it prints its results)
from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import duckdb

PARQUET = "(FORMAT parquet, COMPRESSION zstd, ROW_GROUP_SIZE 1000000)"


def _q(text: str | Path) -> str:
    return "'" + str(text).replace("'", "''") + "'"


def _source(path: str | Path) -> str:
    path = Path(path)
    if path.is_dir():
        return f"read_parquet({_q(path / '**' / '*.parquet')})"
    return f"read_parquet({_q(path)})"


NATIONWIDE = """
COPY (
  WITH w AS (
    SELECT TIMESTAMP '2021-10-25 11:16' AS outage_start, TIMESTAMP '2021-10-25 12:45' AS outage_end
  ),
  hit AS (
    SELECT r.line_id, r.customer_id, r.service, r.region, r.facility_id, r.customer_type,
           r.payment_method, r.bill_cycle_day, r.monthly_fee_krw, w.outage_start, w.outage_end,
           CAST(date_diff('minute', w.outage_start, w.outage_end) AS BIGINT) AS outage_minutes,
           r.customer_type = 'small_business' AND r.service IN ('internet', 'landline') AS merchant
    FROM {roster} AS r, w
    WHERE r.service IN ('mobile', 'internet', 'landline')
  ),
  credited AS (
    SELECT *,
           CASE WHEN merchant THEN monthly_fee_krw * (10 * 1440) // 43200
                ELSE monthly_fee_krw * (((outage_minutes * 10 + 59) // 60) * 60) // 43200
           END AS credit_krw,
           make_date(2021, 12, CAST(bill_cycle_day AS INTEGER)) AS bill_day
    FROM hit
  )
  SELECT line_id, customer_id, service, region, facility_id, customer_type, payment_method,
         bill_cycle_day, monthly_fee_krw, outage_start, outage_end, outage_minutes,
         outage_minutes AS longest_continuous_minutes, outage_minutes AS monthly_cumulative_minutes,
         (outage_minutes + 1439) // 1440 AS outage_days,
         TRUE AS eligible, 'all_affected' AS eligibility_reason,
         CASE WHEN merchant THEN 'override 1' ELSE 'base' END AS rule,
         credit_krw,
         -- the December 2021 bill on the line's bill day; a weekend moves to the Monday
         -- (December 2021 has no weekday public holiday)
         CASE WHEN credit_krw > 0 THEN
           CASE dayofweek(bill_day) WHEN 6 THEN bill_day + 2 WHEN 0 THEN bill_day + 1 ELSE bill_day END
         END AS credit_on
  FROM credited
) TO {out} {parquet}
"""

BILLING = """
COPY (
  WITH hit AS (
    SELECT line_id, customer_id, service, region, customer_type, payment_method, bill_cycle_day
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
  SELECT line_id, customer_id, service, region, customer_type, payment_method, bill_cycle_day,
         '2023-09' AS wrong_month, '2023-07' AS charged_month, charged_krw, owed_krw,
         charged_krw - owed_krw AS difference_krw,
         CASE payment_method WHEN 'credit_card' THEN 'cancel' ELSE 'refund' END AS action,
         CASE WHEN payment_method = 'credit_card' THEN charged_krw ELSE 0 END AS cancelled_krw,
         CASE WHEN payment_method = 'check_card' THEN charged_krw ELSE 0 END AS refund_krw,
         owed_krw AS recharge_krw, DATE '2023-09-11' AS charged_on,
         CASE WHEN payment_method = 'check_card' THEN DATE '2023-09-12'
              WHEN half = 1 THEN DATE '2023-09-11' ELSE DATE '2023-09-12' END AS settled_on,
         CASE WHEN half = 1 THEN DATE '2023-09-12' ELSE DATE '2023-09-13' END AS recharge_on
  FROM lines
  ORDER BY line_id
) TO {out} {parquet}
"""


def nationwide(roster: str | Path, out_dir: str | Path) -> dict:
    out = Path(out_dir) / "ledger.parquet"
    out.parent.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect()
    con.execute(NATIONWIDE.format(roster=_source(roster), out=_q(out), parquet=PARQUET))
    lines, eligible, credit = con.execute(
        f"SELECT count(*), count(*) FILTER (WHERE eligible), CAST(coalesce(sum(credit_krw), 0) AS BIGINT) "
        f"FROM read_parquet({_q(out)})"
    ).fetchone()
    con.close()
    return {"affected_lines": lines, "eligible_lines": eligible, "total_credit_krw": credit}


def billing(roster: str | Path, bills: str | Path, out_dir: str | Path) -> dict:
    out = Path(out_dir) / "ledger.parquet"
    out.parent.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect()
    con.execute(BILLING.format(roster=_source(roster), bills=_source(bills), out=_q(out), parquet=PARQUET))
    row = con.execute(
        "SELECT count(*), CAST(coalesce(sum(charged_krw), 0) AS BIGINT), CAST(coalesce(sum(owed_krw), 0) AS BIGINT), "
        "CAST(coalesce(sum(cancelled_krw), 0) AS BIGINT), CAST(coalesce(sum(refund_krw), 0) AS BIGINT) "
        f"FROM read_parquet({_q(out)})"
    ).fetchone()
    con.close()
    keys = ("affected_lines", "total_charged_krw", "total_owed_krw", "total_cancelled_krw", "total_refund_krw")
    return dict(zip(keys, (int(v) for v in row), strict=True))


def main(argv: list[str]) -> int:
    if len(argv) == 3 and argv[0] == "nationwide":
        start = time.perf_counter()
        totals = nationwide(argv[1], argv[2])
    elif len(argv) == 4 and argv[0] == "billing":
        start = time.perf_counter()
        totals = billing(argv[1], argv[2], argv[3])
    else:
        print(__doc__.split("\n\n")[1], file=sys.stderr)
        return 2
    print(json.dumps({"totals": totals, "seconds": round(time.perf_counter() - start, 3)}))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
