"""Billing errors: who was charged what, what settles it, and on which business day.

A billing error charged the amounts of one bill month (``charged_month``) in place of another
(``wrong_month``) to the lines of some payment methods. For every such line the whole wrong
charge is reversed — cancelled where no money moved (a card approval cancelled before the
statement), refunded where it did (a check card, a bank transfer) — and the correct amount is
charged again. Money is conserved line by line: reversed = charged, re-charged = owed.

When each step happens comes from settlement rules (``data/settlement/<id>.yml``): per payment
method, the dates the operator announced, or a lag in Korean business days with an optional
daily capacity.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any, Literal

import duckdb
import pandas as pd

from .dbrow import one_row, records
from .errors import InputError
from .policy import ID_PATTERN, PAYMENT_METHODS
from .yamlio import Section, as_written, path_exists, read_yaml_mapping, sha256_file, source_text

MONTH = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")
MAX_LAG = 60
Action = Literal["cancel", "refund"]


@dataclass(frozen=True)
class MethodRule:
    """How one payment method's wrong charges are settled."""

    action: Action
    dates: tuple[date, ...] = ()  # announced days; lines are spread evenly over them in line_id order
    lag_business_days: int = 0  # else: business days after discovery (0: the discovery day, rolled forward)
    daily_capacity_lines: int | None = None  # at most this many lines a business day
    recharge_dates: tuple[date, ...] = ()
    recharge_lag_business_days: int = 1  # else: business days after the line's reversal
    source: str = ""

    def describe(self) -> str:
        what = "승인 취소 (출금 없음)" if self.action == "cancel" else "취소 후 환불"
        when = (", ".join(d.isoformat() for d in self.dates) if self.dates
                else f"발견 후 {self.lag_business_days}영업일")
        if self.daily_capacity_lines:
            when += f", 하루 {self.daily_capacity_lines:,}회선까지"
        again = (", ".join(d.isoformat() for d in self.recharge_dates) if self.recharge_dates
                 else f"취소·환불 {self.recharge_lag_business_days}영업일 후")
        return f"{what}: {when}; 정상 금액 재청구: {again}"


@dataclass(frozen=True)
class SettlementRules:
    id: str
    title: str
    methods: dict[str, MethodRule]
    sources: tuple[str, ...] = ()
    path: str = ""
    sha256: str = ""


@dataclass(frozen=True)
class BillingError:
    wrong_month: str
    charged_month: str
    bills: Path
    payment_methods: tuple[str, ...]
    charged_on: date
    discovered_on: date
    settlement: SettlementRules
    bill_cycle_days: tuple[int, ...] | None = None
    services: tuple[str, ...] | None = None
    messages: dict[str, str] = field(default_factory=dict)


def _date(value: Any, path: str, where: str) -> date:
    if isinstance(value, date) and not isinstance(value, datetime):
        return value
    text = source_text(value)  # as written: 20230911 is not str() of a number here
    try:
        if text is None:
            raise ValueError(value)
        return date.fromisoformat(text.strip())
    except ValueError:
        raise InputError(path, where, f"{as_written(value)} is not a date", "write it as 2023-09-11") from None


def _dates(sec: Section, name: str) -> tuple[date, ...]:
    raw = sec.raw(name, [])
    if not isinstance(raw, list):
        raw = [raw]
    out = tuple(_date(v, sec.path, f"{sec.key(name)}[{i}]") for i, v in enumerate(raw))
    if list(out) != sorted(set(out)):
        raise sec.error(name, "dates must be distinct and in order", "list each day once, earliest first")
    return out


def _method_rule(sec: Section) -> MethodRule:
    rule = MethodRule(
        action=sec.text("action", choices=("cancel", "refund")),
        dates=_dates(sec, "dates"),
        lag_business_days=sec.integer("lag_business_days", 0, minimum=0, maximum=MAX_LAG),
        daily_capacity_lines=sec.integer("daily_capacity_lines", None, minimum=1, maximum=10**9),
        recharge_dates=_dates(sec, "recharge_dates"),
        recharge_lag_business_days=sec.integer("recharge_lag_business_days", 1, minimum=0, maximum=MAX_LAG),
        source=sec.text("source", ""),
    )
    if rule.dates and (sec.has("lag_business_days") or rule.daily_capacity_lines):
        raise sec.error("dates", "is given with lag_business_days or daily_capacity_lines",
                        "use the announced dates or a lag, not both")
    sec.done()
    return rule


def load_settlement(path: str | Path) -> SettlementRules:
    path = Path(path)
    doc = Section(read_yaml_mapping(path, "settlement"), path, "")
    sid = doc.text("id")
    if not ID_PATTERN.match(sid):
        raise doc.error("id", f"{sid!r} is not a valid id", "use lower-case letters, digits and -")
    methods_sec = doc.section("methods")
    methods = {}
    for name in list(methods_sec.data):
        if name not in PAYMENT_METHODS:
            raise methods_sec.error(str(name), "is not a payment method", f"use one of {', '.join(PAYMENT_METHODS)}")
        methods[name] = _method_rule(methods_sec.section(name))
    methods_sec.done()
    rules = SettlementRules(id=sid, title=doc.text("title"), methods=methods,
                            sources=doc.text_list("sources", ()), path=str(path), sha256=sha256_file(path))
    doc.done()
    return rules


def resolve_settlement(ref: str, root: Path, referrer: str, where: str) -> Path:
    """Settlement rules by id in ``data/settlement/`` or by path (relative to the project root)."""
    from .policy import resolve_data_file

    return resolve_data_file(ref, root, "settlement", "settlement rules", referrer, where)


def load_billing(sec: Section, root: Path, tz: Any, *, bills: Path | None = None) -> BillingError:
    """The ``billing:`` section of a billing-error incident."""
    def month(name: str) -> str:
        raw = sec.raw(name)
        value = (source_text(raw) or "").strip()
        if not MONTH.match(value):
            raise sec.error(name, f"{as_written(raw)} is not a month", "write it as 2023-09 (quoted if needed)")
        return value

    wrong, charged = month("wrong_month"), month("charged_month")
    if wrong == charged:
        raise sec.error("charged_month", "equals wrong_month", "name the month whose amounts were charged instead")
    written = Path(sec.text("bills"))
    if bills is None:
        bills = written if written.is_absolute() else root / written
    if not path_exists(bills):
        raise sec.error("bills", f"bills file {str(bills)!r} not found",
                        "generate one with `kt-analysis generate` or fix the path")
    methods = sec.text_list("payment_methods", choices=PAYMENT_METHODS)
    charged_on = _date(sec.raw("charged_on"), sec.path, sec.key("charged_on"))
    discovered_on = _date(sec.raw("discovered_on", charged_on.isoformat()), sec.path, sec.key("discovered_on"))
    from .incident import check_in_calendar

    check_in_calendar(charged_on, sec.path, sec.key("charged_on"))
    check_in_calendar(discovered_on, sec.path, sec.key("discovered_on"))
    if discovered_on < charged_on:
        raise sec.error("discovered_on", "is before charged_on", "an error is found after it happens: fix the date")
    rules = load_settlement(resolve_settlement(sec.text("settlement"), root, sec.path, sec.key("settlement")))
    missing = [m for m in methods if m not in rules.methods]
    if missing:
        raise sec.error("settlement", f"rules {rules.id!r} say nothing of {', '.join(missing)}",
                        f"add them to {rules.path}")
    cycle = sec.raw("bill_cycle_days", None)
    cycle_days = None
    if cycle is not None:
        if not isinstance(cycle, list) or not all(
            isinstance(d, int) and not isinstance(d, bool) and 1 <= d <= 31 for d in cycle
        ):  # `true` is an int to Python; as a bill day it would silently mean the 1st
            raise sec.error("bill_cycle_days", "must be a list of days 1-31", "write [11, 19]")
        cycle_days = tuple(int(d) for d in cycle)
    from .policy import SERVICES

    services = sec.text_list("services", None, choices=SERVICES)
    sec.done()
    return BillingError(wrong_month=wrong, charged_month=charged, bills=bills, payment_methods=methods,
                        charged_on=charged_on, discovered_on=discovered_on, settlement=rules,
                        bill_cycle_days=cycle_days, services=services)


# ----- the per-line pass -----------------------------------------------------------------------

def _q(text: str | Path) -> str:
    return "'" + str(text).replace("'", "''") + "'"


def _date_list(days: list[date]) -> str:
    return "[" + ", ".join(f"DATE '{d.isoformat()}'" for d in days) + "]"


def _bills_sql(path: Path) -> str:
    """The typed relation over the bills file (``line_id BIGINT, bill_month VARCHAR, amount_krw BIGINT``)."""
    from .bills import bills_sql

    return bills_sql(path)


def validate_bills(con: duckdb.DuckDBPyConnection, b: BillingError) -> None:
    """The bills file is checked on every row and holds both months.

    Raises :class:`InputError` naming the file, the column or line, and the fix: the file is read
    with declared types (:func:`kt_analysis.bills.open_bills`), so a text amount (``33,000원``) on
    any line, an empty or negative amount, an amount or a month total beyond 64 bits, or a month
    that is not ``YYYY-MM`` is refused instead of stopping the run with a cast error; a FIFO or a
    device is refused before it is opened; and a missing month would give an empty (and wrong)
    ledger. (A line billed twice is found in the ledger: see below.)"""
    from .bills import open_bills

    path = str(b.bills)
    found = open_bills(con, b.bills).months
    for month, role in ((b.wrong_month, "wrong_month"), (b.charged_month, "charged_month")):
        if month not in found:
            raise InputError(path, "bill_month", f"has no bills for {month} (the incident's billing.{role})",
                             f"add the {month} bills, or name the right file or month")


def billing_lines_sql(incident: Any, roster_sql: str) -> str:
    """Roster lines hit by the error, with the amount charged and the amount owed."""
    b: BillingError = incident.billing
    conds = [f"r.payment_method IN ({', '.join(map(_q, b.payment_methods))})"]
    if b.bill_cycle_days:
        conds.append(f"r.bill_cycle_day IN ({', '.join(str(d) for d in b.bill_cycle_days)})")
    if b.services:
        conds.append(f"r.service IN ({', '.join(map(_q, b.services))})")
    bills = _bills_sql(b.bills)
    return (
        f"(SELECT r.line_id, r.customer_id, r.service, r.region, r.customer_type, r.payment_method, "
        f"r.bill_cycle_day, CAST(c.amount_krw AS BIGINT) AS charged_krw, CAST(w.amount_krw AS BIGINT) AS owed_krw "
        f"FROM {roster_sql} AS r "
        f"JOIN (SELECT line_id, amount_krw FROM {bills} WHERE bill_month = {_q(b.charged_month)}) AS c USING (line_id) "
        f"JOIN (SELECT line_id, amount_krw FROM {bills} WHERE bill_month = {_q(b.wrong_month)}) AS w USING (line_id) "
        f"WHERE {' AND '.join(conds)})"
    )


def settlement_days(rule: MethodRule, discovered_on: date, lines: int, calendar: Any) -> list[date]:
    """The days a method's lines are reversed on, in line_id order (index = day slot)."""
    if rule.dates:
        return list(rule.dates)
    first = calendar.add_business_days(discovered_on, rule.lag_business_days)
    if not rule.daily_capacity_lines:
        return [first]
    slots = max(1, -(-lines // rule.daily_capacity_lines))
    days = [first]
    while len(days) < slots:
        days.append(calendar.next_business_day(days[-1]))
    return days


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
        settle_cases.append(f"WHEN payment_method = {_q(method)} THEN list_extract({_date_list(days)}, {slot})")
        recharge_cases.append(f"WHEN payment_method = {_q(method)} THEN {recharge}")
        action_cases.append(f"WHEN payment_method = {_q(method)} THEN {_q(rule.action)}")
        plan[method] = {"lines": n, "days": [d.isoformat() for d in days], "rule": rule.describe(),
                        "charged_krw": sums.get(method, (0, 0, 0))[1], "owed_krw": sums.get(method, (0, 0, 0))[2]}
    charged_on = f"DATE '{b.charged_on.isoformat()}'"
    query = (
        f"SELECT line_id, customer_id, service, region, customer_type, payment_method, bill_cycle_day, "
        f"{_q(b.wrong_month)} AS wrong_month, {_q(b.charged_month)} AS charged_month, "
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
    con.execute(f"COPY (SELECT * FROM ({query}) ORDER BY line_id) TO {_q(tmp)} "
                f"(FORMAT parquet, COMPRESSION zstd, ROW_GROUP_SIZE 1000000)")
    # A line billed twice in either month would be reversed twice: checked on the ledger (the hit
    # lines only), not on the whole bills file.
    twice = [lid for (lid,) in con.execute(
        f"SELECT line_id FROM read_parquet({_q(tmp)}) GROUP BY 1 HAVING count(*) > 1 ORDER BY 1 LIMIT 5").fetchall()]
    if twice:
        tmp.unlink()
        raise InputError(str(b.bills), "line_id",
                         f"has more than one bill in {b.charged_month} or {b.wrong_month} for line_id "
                         f"{', '.join(map(str, twice))}", "keep one bill per line and month")
    tmp.replace(path)
    return plan


def timeline(con: duckdb.DuckDBPyConnection, ledger: Path) -> pd.DataFrame:
    """Per day and payment method: lines and won cancelled, refunded, re-charged."""
    src = f"read_parquet({_q(ledger)})"
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
    src = f"read_parquet({_q(ledger)})"
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


MESSAGES = {
    "cancel": "[KT] 9월 요금이 다른 달 금액으로 잘못 승인되어 승인을 취소했습니다. 카드 대금으로 출금되지 않습니다.",
    "refund": "[KT] 잘못 출금된 요금을 취소하고 결제 계좌로 환불했습니다.",
    "recharge": "[KT] 정상 요금으로 다시 청구(승인)했습니다. 불편을 드려 죄송합니다.",
}


def notification_plan(con: duckdb.DuckDBPyConnection, ledger: Path) -> pd.DataFrame:
    """The SMS batches: which message goes to which lines on which day (counts only)."""
    src = f"read_parquet({_q(ledger)})"
    return con.execute(
        f"SELECT day, payment_method, message, count(*) AS lines, count(DISTINCT customer_id) AS customers FROM ("
        f"  SELECT settled_on AS day, payment_method, action AS message, customer_id FROM {src} "
        f"  UNION ALL SELECT recharge_on, payment_method, 'recharge', customer_id FROM {src}"
        f") GROUP BY 1, 2, 3 ORDER BY 1, 2, 3"
    ).df()


def masked_sample(con: duckdb.DuckDBPyConnection, roster: Path, ledger: Path, per_batch: int = 3) -> pd.DataFrame:
    """A few recipients of each batch with masked name and phone (for the report only)."""
    from . import present

    src = f"read_parquet({_q(ledger)})"
    cols = []
    if roster.suffix.lower() == ".parquet":
        import pyarrow.parquet as pq

        names = pq.read_schema(roster).names
        cols = [c for c in ("name", "phone") if c in names]
    # As text whatever the roster's type (a phone stored as a number lost its leading 0 and is masked
    # whole); a missing name or phone is shown empty.
    extra = "".join(f", CAST(r.{c} AS VARCHAR) AS {c}" for c in cols)
    join = f"JOIN read_parquet({_q(roster)}) r USING (line_id)" if cols else ""
    frame = con.execute(
        f"SELECT l.settled_on AS day, l.payment_method, l.action AS message, l.line_id{extra} FROM {src} l {join} "
        f"QUALIFY row_number() OVER (PARTITION BY l.settled_on, l.payment_method ORDER BY l.line_id) <= {per_batch} "
        f"ORDER BY 1, 2, 4"
    ).df()
    if "name" in frame:
        frame["name"] = frame["name"].map(present.mask_name, na_action="ignore").fillna("")
    if "phone" in frame:
        frame["phone"] = frame["phone"].map(present.mask_phone, na_action="ignore").fillna("")
    return frame


def _iso(value: Any) -> str:
    """A DATE that came back through pandas (as a Timestamp) as YYYY-MM-DD."""
    if isinstance(value, datetime | pd.Timestamp):
        return value.date().isoformat()
    return value.isoformat()


def build_billing_summary(incident: Any, con: duckdb.DuckDBPyConnection, ledger: Path, roster_lines: int,
                          plan: dict[str, Any]) -> dict[str, Any]:
    b: BillingError = incident.billing
    src = f"read_parquet({_q(ledger)})"
    row = one_row(con.execute(
        f"SELECT count(*), count(DISTINCT customer_id), sum(charged_krw), sum(owed_krw), "
        f"sum(greatest(difference_krw, 0)), sum(greatest(-difference_krw, 0)), sum(cancelled_krw), sum(refund_krw), "
        f"sum(recharge_krw), max(settled_on) FILTER (WHERE refund_krw > 0 OR cancelled_krw > 0), "
        f"max(greatest(settled_on, recharge_on)), sum(refund_krw * datediff('day', charged_on, settled_on)) "
        f"FROM {src}"
    ))
    exp = exposure(con, ledger)
    ints = [int(v or 0) for v in row[:9]]
    by_method = {}
    for r in con.execute(
        f"SELECT payment_method, count(*), count(DISTINCT customer_id), sum(charged_krw), sum(owed_krw), "
        f"sum(cancelled_krw), sum(refund_krw), sum(recharge_krw), min(settled_on), max(settled_on), max(recharge_on) "
        f"FROM {src} GROUP BY 1 ORDER BY 1"
    ).fetchall():
        by_method[r[0]] = {
            "affected_lines": int(r[1]), "affected_customers": int(r[2]), "charged_krw": int(r[3]),
            "owed_krw": int(r[4]), "cancelled_krw": int(r[5]), "refund_krw": int(r[6]), "recharge_krw": int(r[7]),
            "first_settled_on": r[8].isoformat(), "last_settled_on": r[9].isoformat(),
            "last_recharge_on": r[10].isoformat(), "rule": plan.get(r[0], {}).get("rule", ""),
        }
    summary: dict[str, Any] = {
        "incident_id": incident.id, "title": incident.title, "kind": incident.kind,
        "timezone": incident.timezone, "policy_id": None,
        "settlement_id": b.settlement.id, "wrong_month": b.wrong_month, "charged_month": b.charged_month,
        "charged_on": b.charged_on.isoformat(), "discovered_on": b.discovered_on.isoformat(),
        "roster_lines": int(roster_lines), "affected_lines": ints[0], "affected_customers": ints[1],
        "eligible_lines": ints[0], "total_credit_krw": 0,
        "total_charged_krw": ints[2], "total_owed_krw": ints[3], "total_overcharged_krw": ints[4],
        "total_undercharged_krw": ints[5], "total_cancelled_krw": ints[6], "total_refund_krw": ints[7],
        "total_recharge_krw": ints[8],
        "refund_completion_date": row[9].isoformat() if row[9] else None,
        "settlement_completion_date": row[10].isoformat() if row[10] else None,
        "peak_exposure_krw": int(exp["held_krw"].max()) if len(exp) else 0,
        "peak_exposure_date": _iso(exp.loc[exp["held_krw"].idxmax(), "day"]) if len(exp) else None,
        "exposure_krw_days": int(row[11] or 0),
        "by_payment_method": by_method,
    }

    for by in ("service", "region", "customer_type"):
        frame = con.execute(
            f"SELECT {by}, count(*) AS affected_lines, count(DISTINCT customer_id) AS affected_customers, "
            f"CAST(sum(charged_krw) AS BIGINT) AS charged_krw, CAST(sum(refund_krw) AS BIGINT) AS refund_krw "
            f"FROM {src} GROUP BY 1"
        ).df()
        summary[f"by_{by}"] = records(frame, by)
    tl = timeline(con, ledger)
    summary["timeline"] = [
        {k: (_iso(v) if hasattr(v, "isoformat") else (int(v) if not isinstance(v, str) else v))
         for k, v in rec.items()} for rec in tl.to_dict("records")
    ]
    notes = notification_plan(con, ledger)
    summary["notifications"] = [
        {"day": _iso(r["day"]), "payment_method": r["payment_method"], "message": r["message"],
         "text": MESSAGES[r["message"]], "lines": int(r["lines"]), "customers": int(r["customers"])}
        for r in notes.to_dict("records")
    ]
    summary["inputs"] = incident.inputs()
    return summary
