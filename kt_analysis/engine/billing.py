"""A billing error's per-line pass on DuckDB: the lines hit, what each was charged and owed, and
when each is reversed and charged again; and the queries its report reads from the ledger.

The rules (which lines, which days) come from :mod:`kt_analysis.inputs.settlement` and
:mod:`kt_analysis.rules.settlement`; money is conserved line by line: reversed = charged,
re-charged = owed.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd
import pyarrow.parquet as pq

from kt_analysis.dbrow import quote
from kt_analysis.errors import InputError
from kt_analysis.inputs.bills import bills_sql, open_bills
from kt_analysis.inputs.settlement import BillingError
from kt_analysis.masking import mask_name, mask_phone
from kt_analysis.rules.settlement import settlement_days


def _date_list(days: list[date]) -> str:
    return "[" + ", ".join(f"DATE '{d.isoformat()}'" for d in days) + "]"


def validate_bills(con: duckdb.DuckDBPyConnection, b: BillingError) -> None:
    """The bills file is checked on every row and holds both months.

    Raises :class:`InputError` naming the file, the column or line, and the fix: the file is read
    with declared types (:func:`kt_analysis.inputs.bills.open_bills`), so a text amount (``33,000원``) on
    any line, an empty or negative amount, an amount or a month total beyond 64 bits, or a month
    that is not ``YYYY-MM`` is refused instead of stopping the run with a cast error; a FIFO or a
    device is refused before it is opened; and a missing month would give an empty (and wrong)
    ledger. (A line billed twice is found in the ledger: see below.)"""
    path = str(b.bills)
    found = open_bills(con, b.bills).months
    for month, role in ((b.wrong_month, "wrong_month"), (b.charged_month, "charged_month")):
        if month not in found:
            raise InputError(path, "bill_month", f"has no bills for {month} (the incident's billing.{role})",
                             f"add the {month} bills, or name the right file or month")


def billing_lines_sql(incident: Any, roster_sql: str) -> str:
    """Roster lines hit by the error, with the amount charged and the amount owed."""
    b: BillingError = incident.billing
    conds = [f"r.payment_method IN ({', '.join(map(quote, b.payment_methods))})"]
    if b.bill_cycle_days:
        conds.append(f"r.bill_cycle_day IN ({', '.join(str(d) for d in b.bill_cycle_days)})")
    if b.services:
        conds.append(f"r.service IN ({', '.join(map(quote, b.services))})")
    bills = bills_sql(b.bills)  # typed: line_id BIGINT, bill_month VARCHAR, amount_krw BIGINT
    return (
        f"(SELECT r.line_id, r.customer_id, r.service, r.region, r.customer_type, r.payment_method, "
        f"r.bill_cycle_day, CAST(c.amount_krw AS BIGINT) AS charged_krw, CAST(w.amount_krw AS BIGINT) AS owed_krw "
        f"FROM {roster_sql} AS r "
        f"JOIN (SELECT line_id, amount_krw FROM {bills} WHERE bill_month = {quote(b.charged_month)}) "
        f"AS c USING (line_id) "
        f"JOIN (SELECT line_id, amount_krw FROM {bills} WHERE bill_month = {quote(b.wrong_month)}) "
        f"AS w USING (line_id) "
        f"WHERE {' AND '.join(conds)})"
    )


def write_billing_ledger(con: duckdb.DuckDBPyConnection, incident: Any, roster_sql: str, path: Path,
                         calendar: Any) -> dict[str, Any]:
    """Per-line ledger of a billing error, straight to Parquet. Returns per method: the day lists,
    and the lines, won charged and won owed as the pass over roster and bills counted them (what
    the ledger is reconciled with)."""
    b: BillingError = incident.billing
    validate_bills(con, b)
    lines_sql = billing_lines_sql(incident, roster_sql)
    sums = {m: (int(n), int(charged or 0), int(owed or 0)) for m, n, charged, owed in con.execute(
        f"SELECT payment_method, count(*), sum(charged_krw), sum(owed_krw) FROM {lines_sql} GROUP BY 1").fetchall()}
    counts = {m: v[0] for m, v in sums.items()}
    settle_cases, recharge_cases, action_cases, plan = [], [], [], {}
    for method in b.payment_methods:
        rule = b.settlement.methods[method]
        n = int(counts.get(method, 0))
        days = settlement_days(rule, b.discovered_on, n, calendar)
        if rule.dates:
            slot = f"ntile({len(days)}) OVER (PARTITION BY payment_method ORDER BY line_id)"
        elif rule.daily_capacity_lines:
            slot = (f"(row_number() OVER (PARTITION BY payment_method ORDER BY line_id) - 1) "
                    f"// {rule.daily_capacity_lines} + 1")
        else:
            slot = "1"
        if rule.recharge_dates:
            recharge = (f"list_extract({_date_list(list(rule.recharge_dates))}, "
                        f"ntile({len(rule.recharge_dates)}) OVER (PARTITION BY payment_method ORDER BY line_id))")
        else:
            again = [calendar.add_business_days(d, rule.recharge_lag_business_days) for d in days]
            recharge = f"list_extract({_date_list(again)}, {slot})"
        settle_cases.append(f"WHEN payment_method = {quote(method)} THEN list_extract({_date_list(days)}, {slot})")
        recharge_cases.append(f"WHEN payment_method = {quote(method)} THEN {recharge}")
        action_cases.append(f"WHEN payment_method = {quote(method)} THEN {quote(rule.action)}")
        plan[method] = {"lines": n, "days": [d.isoformat() for d in days], "rule": rule.describe(),
                        "charged_krw": sums.get(method, (0, 0, 0))[1], "owed_krw": sums.get(method, (0, 0, 0))[2]}
    charged_on = f"DATE '{b.charged_on.isoformat()}'"
    query = (
        f"SELECT line_id, customer_id, service, region, customer_type, payment_method, bill_cycle_day, "
        f"{quote(b.wrong_month)} AS wrong_month, {quote(b.charged_month)} AS charged_month, "
        f"charged_krw, owed_krw, charged_krw - owed_krw AS difference_krw, "
        f"(CASE {' '.join(action_cases)} END) AS action, "
        f"CASE WHEN (CASE {' '.join(action_cases)} END) = 'cancel' THEN charged_krw ELSE CAST(0 AS BIGINT) END "
        f"AS cancelled_krw, "
        f"CASE WHEN (CASE {' '.join(action_cases)} END) = 'refund' THEN charged_krw ELSE CAST(0 AS BIGINT) END "
        f"AS refund_krw, owed_krw AS recharge_krw, {charged_on} AS charged_on, "
        f"(CASE {' '.join(settle_cases)} END) AS settled_on, (CASE {' '.join(recharge_cases)} END) AS recharge_on "
        f"FROM {lines_sql}"
    )
    tmp = path.with_name(path.name + ".partial")
    con.execute(f"COPY (SELECT * FROM ({query}) ORDER BY line_id) TO {quote(tmp)} "
                f"(FORMAT parquet, COMPRESSION zstd, ROW_GROUP_SIZE 1000000)")
    # A line billed twice in either month would be reversed twice: checked on the ledger (the hit
    # lines only), not on the whole bills file.
    twice = [lid for (lid,) in con.execute(
        f"SELECT line_id FROM read_parquet({quote(tmp)}) GROUP BY 1 HAVING count(*) > 1 ORDER BY 1 LIMIT 5").fetchall()]
    if twice:
        tmp.unlink()
        raise InputError(str(b.bills), "line_id",
                         f"has more than one bill in {b.charged_month} or {b.wrong_month} for line_id "
                         f"{', '.join(map(str, twice))}", "keep one bill per line and month")
    tmp.replace(path)
    return plan


def timeline(con: duckdb.DuckDBPyConnection, ledger: Path) -> pd.DataFrame:
    """Per day and payment method: lines and won cancelled, refunded, re-charged."""
    src = f"read_parquet({quote(ledger)})"
    return con.execute(
        f"WITH ev AS ("
        f"  SELECT settled_on AS day, payment_method, count(*) FILTER (WHERE action = 'cancel') AS cancelled_lines, "
        f"  sum(cancelled_krw) AS cancelled_krw, count(*) FILTER (WHERE action = 'refund') AS refunded_lines, "
        f"  sum(refund_krw) AS refund_krw, 0 AS recharged_lines, CAST(0 AS HUGEINT) AS recharge_krw "
        f"  FROM {src} GROUP BY 1, 2 "
        f"  UNION ALL SELECT recharge_on, payment_method, 0, 0, 0, 0, count(*), sum(recharge_krw) "
        f"  FROM {src} GROUP BY 1, 2)"
        f"SELECT day, payment_method, CAST(sum(cancelled_lines) AS BIGINT) AS cancelled_lines, "
        f"CAST(sum(cancelled_krw) AS BIGINT) AS cancelled_krw, CAST(sum(refunded_lines) AS BIGINT) AS refunded_lines, "
        f"CAST(sum(refund_krw) AS BIGINT) AS refund_krw, CAST(sum(recharged_lines) AS BIGINT) AS recharged_lines, "
        f"CAST(sum(recharge_krw) AS BIGINT) AS recharge_krw FROM ev GROUP BY 1, 2 ORDER BY 1, 2"
    ).df()


def exposure(con: duckdb.DuckDBPyConnection, ledger: Path) -> pd.DataFrame:
    """Money wrongly held, per calendar day: money already taken and not yet refunded."""
    src = f"read_parquet({quote(ledger)})"
    return con.execute(
        f"WITH spans AS (SELECT charged_on, settled_on, sum(refund_krw) AS krw, count(*) AS lines FROM {src} "
        f"WHERE refund_krw > 0 GROUP BY 1, 2), "
        f"days AS (SELECT CAST(unnest(generate_series(min(charged_on), max(settled_on), INTERVAL 1 DAY)) AS DATE) "
        f"AS day FROM {src}) "
        f"SELECT d.day, CAST(coalesce(sum(s.krw), 0) AS BIGINT) AS held_krw, "
        f"CAST(coalesce(sum(s.lines), 0) AS BIGINT) AS held_lines "
        f"FROM days d LEFT JOIN spans s ON s.charged_on <= d.day AND d.day < s.settled_on "
        f"GROUP BY d.day ORDER BY d.day"
    ).df()


def notification_plan(con: duckdb.DuckDBPyConnection, ledger: Path) -> pd.DataFrame:
    """The SMS batches: which message goes to which lines on which day (counts only)."""
    src = f"read_parquet({quote(ledger)})"
    return con.execute(
        f"SELECT day, payment_method, message, count(*) AS lines, count(DISTINCT customer_id) AS customers FROM ("
        f"  SELECT settled_on AS day, payment_method, action AS message, customer_id FROM {src} "
        f"  UNION ALL SELECT recharge_on, payment_method, 'recharge', customer_id FROM {src}"
        f") GROUP BY 1, 2, 3 ORDER BY 1, 2, 3"
    ).df()


def masked_sample(con: duckdb.DuckDBPyConnection, roster: Path, ledger: Path, per_batch: int = 3) -> pd.DataFrame:
    """A few recipients of each batch with masked name and phone (for the report only)."""
    src = f"read_parquet({quote(ledger)})"
    cols = []
    if roster.suffix.lower() == ".parquet":
        names = pq.read_schema(roster).names
        cols = [c for c in ("name", "phone") if c in names]
    # As text whatever the roster's type (a phone stored as a number lost its leading 0 and is masked
    # whole); a missing name or phone is shown empty.
    frame = con.execute(
        f"SELECT settled_on AS day, payment_method, action AS message, line_id FROM {src} "
        f"QUALIFY row_number() OVER (PARTITION BY settled_on, payment_method ORDER BY line_id) <= {per_batch} "
        f"ORDER BY 1, 2, 4"
    ).df()
    if cols and len(frame):
        # The few sampled lines' names and phones: the roster is filtered on their ids (a scan of
        # one column), not joined whole to the ledger (every roster row's name read, at 35M lines).
        ids = ", ".join(str(int(i)) for i in frame["line_id"])
        people = con.execute(
            f"SELECT line_id, {', '.join(f'CAST({c} AS VARCHAR) AS {c}' for c in cols)} "
            f"FROM read_parquet({quote(roster)}) WHERE line_id IN ({ids})").df()
        frame = frame.merge(people, on="line_id", how="left", validate="1:1")
    if "name" in frame:
        frame["name"] = frame["name"].map(mask_name, na_action="ignore").fillna("")
    if "phone" in frame:
        frame["phone"] = frame["phone"].map(mask_phone, na_action="ignore").fillna("")
    return frame
