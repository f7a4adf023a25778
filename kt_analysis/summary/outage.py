"""An outage's summary: the JSON that programs read and the report is rendered from.

Built from an engine's :class:`~kt_analysis.engine.figures.Figures`: the same keys, order and types
whatever the engine.
"""

from __future__ import annotations

import os
from datetime import datetime
from pathlib import Path
from typing import Any

from kt_analysis.dbrow import records
from kt_analysis.engine.duckdb_engine import PerLine
from kt_analysis.engine.figures import Figures, check_int64
from kt_analysis.engine.month import EarlierRun, MonthFigures
from kt_analysis.inputs.incident import Incident
from kt_analysis.inputs.policy import for_incident
from kt_analysis.rules.timeline import claim_window_closes
from kt_analysis.summary.model import (
    Breakdown,
    ClaimsSummary,
    CreditBand,
    CreditDay,
    CreditDistribution,
    Delivery,
    EarlierIncident,
    HistogramBin,
    InputFile,
    MonthHistory,
    OutageSummary,
    Reach,
    RestorationCurve,
    ServiceCredit,
    Summary,
    Unmatched,
    WhatIf,
    WhatIfSkipped,
)


def build_summary(incident: Incident, fig: Figures, roster_lines: int,
                  what_if_rows: list[dict[str, Any]], per_line: PerLine | None = None, *,
                  earlier: tuple[EarlierRun, ...] = (), months: tuple[str, ...] = (),
                  claims: ClaimsSummary | None = None) -> OutageSummary:
    """The summary from an engine's figures: the same keys, order and types whatever the engine.

    ``earlier`` and ``months``: the earlier incidents read from the history and the months this one
    touches (``month_history``, when the engine counted across the month: ``per_line.month``)."""
    check_int64(fig.total_credit_krw, "the total credit", incident.roster)
    policy = incident.credit_policy
    start, end = incident.start, incident.end
    assert isinstance(start, datetime) and isinstance(end, datetime)  # an outage's: its windows' span
    closes = claim_window_closes(policy, start.date())
    by = {name: {key: Breakdown.from_dict(row, f"by_{name}.{key}") for key, row in records(frame, name).items()}
          for name, frame in fig.breakdowns.items()}
    reach = unmatched = None
    if per_line is not None and per_line.reach is not None:
        everyone = int(fig.customers["all"])
        reach = tuple(Reach.from_dict({**row, "customers": everyone if row["customers"] is None else row["customers"]})
                      for row in per_line.reach)
        unmatched = tuple(Unmatched.from_dict(u, "unmatched_names") for u in per_line.unmatched or ())
    return OutageSummary(
        incident_id=incident.id,
        title=incident.title,
        kind="outage",
        timezone=incident.timezone,
        policy_id=policy.id,
        policy_title=policy.title,
        fee_basis=for_incident(policy, f"{start:%Y-%m}").fee_basis.describe(),
        outage_start=start.isoformat(timespec="minutes"),
        outage_end=end.isoformat(timespec="minutes"),
        window_count=len(incident.windows),
        roster_lines=int(roster_lines),
        affected_lines=fig.lines,
        affected_customers=int(fig.customers["all"]),
        eligible_lines=fig.eligible_lines,
        eligible_customers=int(fig.customers["eligible"]),
        total_credit_krw=fig.total_credit_krw,
        total_refund_krw=0,
        refund_completion_date=None,
        longest_outage_minutes=fig.longest_outage_minutes,
        longest_continuous_minutes=fig.longest_continuous_minutes,
        restoration_curve=(RestorationCurve.from_dict(per_line.restoration, "restoration_curve")
                           if per_line is not None and per_line.restoration is not None else None),
        credit_distribution=CreditDistribution.from_dict(fig.distribution, "credit_distribution"),
        credit_histogram=tuple(HistogramBin.from_dict(b, "credit_histogram") for b in fig.histogram),
        credit_bands=tuple(CreditBand.from_dict(b, "credit_bands") for b in fig.bands),
        credit_by_service={k: ServiceCredit.from_dict(v, f"credit_by_service.{k}")
                           for k, v in fig.by_service_credit.items()},
        delivery=Delivery(method=policy.delivery.method, claim_required=policy.delivery.claim_required,
                          claim_window_days=policy.delivery.claim_window_days,
                          applied_on=policy.delivery.applied_on),
        by_service=by["service"],
        by_region=by["region"],
        by_customer_type=by["customer_type"],
        by_payment_method=by["payment_method"],
        claim_window_closes=closes.isoformat() if closes else None,
        credit_completion_date=fig.timeline[-1]["day"] if fig.timeline else None,
        credit_timeline=tuple(CreditDay.from_dict(d, "credit_timeline") for d in fig.timeline),
        what_if=tuple(WhatIf.from_dict(r, "what_if") for r in what_if_rows),
        what_if_skipped=tuple(WhatIfSkipped(policy_id=k.policy_id, title=k.title, reason=k.reason)
                              for k in (per_line.skipped if per_line is not None else ())),
        reach=reach,
        unmatched_names=unmatched,
        inputs=tuple(InputFile.from_dict(i, "inputs") for i in incident.inputs()),
        month_history=_month_history(per_line.month, earlier, months) if per_line and per_line.month else None,
        claims=claims,
        provisional=True if incident.provisional else None,
        as_of=incident.as_of.isoformat(timespec="minutes") if incident.as_of is not None else None,
    )


def _month_history(fig: MonthFigures, earlier: tuple[EarlierRun, ...], months: tuple[str, ...]) -> MonthHistory:
    """Every earlier incident counted, in the order of their start (one whose lines this incident did
    not reach is listed with 0 lines), with the lines it shares and those it pushed over."""
    return MonthHistory(
        months=months,
        earlier_incidents=tuple(EarlierIncident(incident_id=r.incident_id, outage_start=r.outage_start,
                                                lines=fig.per_incident.get(r.incident_id, (0, 0))[0],
                                                lines_pushed_over=fig.per_incident.get(r.incident_id, (0, 0))[1])
                                for r in earlier),
        lines_pushed_over=fig.pushed_over,
        carried_minutes=fig.carried_minutes,
    )


def write_json(summary: Summary, path: Path) -> None:
    """``summary.json``: written beside, then moved into place (a reader never sees half of it)."""
    tmp = path.with_name(path.name + ".partial")
    tmp.write_text(summary.to_json(), encoding="utf-8")
    os.replace(tmp, path)
