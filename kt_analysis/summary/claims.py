"""The claims chapter's figures in the summary, and the per-claim decisions file beside the ledger.

``claims.parquet`` holds one row per claim: its id, line, kind, channel, day received, decision
(code and Korean reason), the evidence that decided it (registration numbers masked), the amount,
and the days it is decided and paid. No name, phone number or unmasked registration number.
"""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from kt_analysis.engine.claims import ClaimFigures
from kt_analysis.rules.claims import DECISIONS, uptake_scenario
from kt_analysis.summary.model import ClaimDay, ClaimDecision, ClaimForecast, ClaimsSummary

CLAIMS_FILE = "claims.parquet"
CLAIMS_SCHEMA = pa.schema([
    ("claim_id", pa.string()), ("line_id", pa.int64()), ("kind", pa.string()), ("channel", pa.string()),
    ("received_on", pa.date32()), ("decision", pa.string()), ("reason", pa.string()), ("evidence", pa.string()),
    ("amount_krw", pa.int64()), ("decided_on", pa.date32()), ("route", pa.string()), ("paid_on", pa.date32()),
])
KIND_KO = {"credit": "보상금(요금 감면)", "consolation": "위로금"}


def _days(frame: pd.DataFrame) -> tuple[ClaimDay, ...]:
    return tuple(ClaimDay(day=r.day.isoformat(), received=int(r.received), decided=int(r.decided), paid=int(r.paid),
                          backlog=int(r.backlog), accepted_krw=int(r.accepted_krw), paid_krw=int(r.paid_krw))
                 for r in frame.itertuples(index=False))


def _forecast(name: str, fig: ClaimFigures, frame: pd.DataFrame) -> ClaimForecast:
    scenario = fig.rules.scenario(name) or uptake_scenario(name, fig.rules)
    decided = frame[frame["decided"] > 0]
    paid = frame[frame["paid"] > 0]
    return ClaimForecast(
        scenario=name, description=scenario.describe(), source=scenario.source,
        claims=int(frame["received"].sum()), cost_krw=int(frame["accepted_krw"].sum()),
        last_decided_on=decided["day"].iloc[-1].isoformat() if len(decided) else None,
        last_paid_on=paid["day"].iloc[-1].isoformat() if len(paid) else None,
        peak_backlog=int(frame["backlog"].max()) if len(frame) else 0, days=_days(frame))


def claims_summary(fig: ClaimFigures) -> ClaimsSummary:
    """The summary's ``claims``: what is paid on application, the claims received so far decided
    (per decision and per day), and the forecasts per uptake scenario."""
    owed = fig.on_claim
    settled = fig.settled
    decisions: tuple[ClaimDecision, ...] = ()
    received = accepted = accepted_krw = paid_krw = backlog = 0
    as_of = None
    if settled is not None and len(settled):
        counts = settled.groupby("decision", sort=False).agg(claims=("claim_id", "size"),
                                                             amount_krw=("amount_krw", "sum"))
        decisions = tuple(ClaimDecision(decision=code, reason=DECISIONS[code], claims=int(counts.loc[code, "claims"]),
                                        amount_krw=int(counts.loc[code, "amount_krw"]))
                          for code in DECISIONS if code in counts.index)
        received = len(settled)
        paying = settled[settled["amount_krw"] > 0]
        accepted, accepted_krw = len(paying), int(paying["amount_krw"].sum())
        as_of_day = max(settled["received_on"])
        as_of = as_of_day.isoformat()
        backlog = int((settled["decided_on"].map(lambda d: d > as_of_day)).sum())
        paid_krw = int(paying.loc[paying["paid_on"].map(lambda d: d <= as_of_day), "amount_krw"].sum())
    return ClaimsSummary(
        rules=fig.rules.describe(), opens_on=fig.opens_on.isoformat(), last_day=fig.last_day.isoformat(),
        paid_on_claim=owed.kind if owed is not None else None,
        entitled_lines=owed.lines if owed is not None else 0, entitled_krw=owed.krw if owed is not None else 0,
        received=received, as_of=as_of, backlog_as_of=backlog, accepted=accepted, accepted_krw=accepted_krw,
        paid_krw_as_of=paid_krw, by_decision=decisions,
        by_day=_days(fig.by_day) if fig.by_day is not None else (),
        forecast=tuple(_forecast(name, fig, frame) for name, frame in fig.forecasts.items()),
    )


def write_claims(fig: ClaimFigures, out: Path) -> Path | None:
    """``claims.parquet`` (one row per claim, file order); None without a claims file."""
    if fig.settled is None:
        return None
    s = fig.settled
    table = pa.Table.from_pandas(pd.DataFrame({
        "claim_id": s["claim_id"].astype(str), "line_id": s["line_id"].astype("int64"), "kind": s["kind"],
        "channel": s["channel"], "received_on": s["received_on"], "decision": s["decision"], "reason": s["reason"],
        "evidence": s["evidence"], "amount_krw": s["amount_krw"].astype("int64"), "decided_on": s["decided_on"],
        "route": s["route"], "paid_on": s["paid_on"],
    }), schema=CLAIMS_SCHEMA, preserve_index=False)
    path = out / CLAIMS_FILE
    tmp = path.with_name(path.name + ".partial")  # as summary.json: written beside, then moved
    pq.write_table(table, tmp)
    os.replace(tmp, path)
    return path
