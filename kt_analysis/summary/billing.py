"""A billing error's summary: totals, per payment method and breakdown, the settlement timeline,
the money held per day, the notification plan and a masked sample of its recipients."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd

from kt_analysis.dbrow import one_row, quote, records
from kt_analysis.engine.billing import exposure, masked_sample, notification_plan, timeline
from kt_analysis.inputs.settlement import BillingError
from kt_analysis.summary.model import (
    BillingBreakdown,
    BillingSummary,
    HeldDay,
    InputFile,
    MethodSettlement,
    Notification,
    Recipient,
    SettlementDay,
)

MESSAGES = {
    # {month}: the month of the bill that was charged wrongly (billing.wrong_month), e.g. 9월.
    "cancel": "[KT] {month}월 요금이 다른 달 금액으로 잘못 승인되어 승인을 취소했습니다. "
              "카드 대금으로 출금되지 않습니다.",
    "refund": "[KT] 잘못 출금된 요금을 취소하고 결제 계좌로 환불했습니다.",
    "recharge": "[KT] 정상 요금으로 다시 청구(승인)했습니다. 불편을 드려 죄송합니다.",
}


def _iso(value: Any) -> str:
    """A DATE that came back through pandas (as a Timestamp) as YYYY-MM-DD."""
    if isinstance(value, datetime | pd.Timestamp):
        return value.date().isoformat()
    return value.isoformat()


def build_billing_summary(incident: Any, con: duckdb.DuckDBPyConnection, ledger: Path, roster_lines: int,
                          plan: dict[str, Any]) -> BillingSummary:
    b: BillingError = incident.billing
    src = f"read_parquet({quote(ledger)})"
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
        by_method[r[0]] = MethodSettlement(
            affected_lines=int(r[1]), affected_customers=int(r[2]), charged_krw=int(r[3]),
            owed_krw=int(r[4]), cancelled_krw=int(r[5]), refund_krw=int(r[6]), recharge_krw=int(r[7]),
            first_settled_on=r[8].isoformat(), last_settled_on=r[9].isoformat(),
            last_recharge_on=r[10].isoformat(), rule=plan.get(r[0], {}).get("rule", ""),
        )
    breakdowns = {}
    for by in ("service", "region", "customer_type"):
        frame = con.execute(
            f"SELECT {by}, count(*) AS affected_lines, count(DISTINCT customer_id) AS affected_customers, "
            f"CAST(sum(charged_krw) AS BIGINT) AS charged_krw, CAST(sum(refund_krw) AS BIGINT) AS refund_krw "
            f"FROM {src} GROUP BY 1"
        ).df()
        breakdowns[by] = {k: BillingBreakdown.from_dict(v, f"by_{by}.{k}") for k, v in records(frame, by).items()}
    tl = timeline(con, ledger)
    days = [{k: (_iso(v) if hasattr(v, "isoformat") else (int(v) if not isinstance(v, str) else v))
             for k, v in rec.items()} for rec in tl.to_dict("records")]
    notes = notification_plan(con, ledger)
    sample = masked_sample(con, incident.roster, ledger)
    return BillingSummary(
        incident_id=incident.id, title=incident.title, kind="billing_error",
        timezone=incident.timezone, policy_id=None,
        settlement_id=b.settlement.id, wrong_month=b.wrong_month, charged_month=b.charged_month,
        charged_on=b.charged_on.isoformat(), discovered_on=b.discovered_on.isoformat(),
        roster_lines=int(roster_lines), affected_lines=ints[0], affected_customers=ints[1],
        eligible_lines=ints[0], total_credit_krw=0,
        total_charged_krw=ints[2], total_owed_krw=ints[3], total_overcharged_krw=ints[4],
        total_undercharged_krw=ints[5], total_cancelled_krw=ints[6], total_refund_krw=ints[7],
        total_recharge_krw=ints[8],
        refund_completion_date=row[9].isoformat() if row[9] else None,
        settlement_completion_date=row[10].isoformat() if row[10] else None,
        peak_exposure_krw=int(exp["held_krw"].max()) if len(exp) else 0,
        peak_exposure_date=_iso(exp.loc[exp["held_krw"].idxmax(), "day"]) if len(exp) else None,
        exposure_krw_days=int(row[11] or 0),
        by_payment_method=by_method,
        by_service=breakdowns["service"], by_region=breakdowns["region"],
        by_customer_type=breakdowns["customer_type"],
        timeline=tuple(SettlementDay.from_dict(d, "timeline") for d in days),
        exposure=tuple(HeldDay(day=_iso(r["day"]), held_krw=int(r["held_krw"]), held_lines=int(r["held_lines"]))
                       for r in exp.to_dict("records")),
        notifications=tuple(
            Notification(day=_iso(r["day"]), payment_method=r["payment_method"], message=r["message"],
                         text=MESSAGES[r["message"]].format(month=int(incident.billing.wrong_month[5:])),
                         lines=int(r["lines"]), customers=int(r["customers"]))
            for r in notes.to_dict("records")),
        recipients_sample=tuple(
            Recipient(day=_iso(r["day"]), payment_method=r["payment_method"], message=r["message"],
                      line_id=int(r["line_id"]), name=str(r.get("name") or ""), phone=str(r.get("phone") or ""))
            for r in sample.to_dict("records")),
        inputs=tuple(InputFile.from_dict(i, "inputs") for i in incident.inputs()),
    )
