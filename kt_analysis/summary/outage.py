"""An outage's summary: the JSON that programs read and the report is rendered from.

Built from an engine's :class:`~kt_analysis.engine.figures.Figures`: the same keys, order and types
whatever the engine.
"""

from __future__ import annotations

import json
import os
from datetime import datetime
from pathlib import Path
from typing import Any

from kt_analysis.dbrow import records
from kt_analysis.engine.duckdb_engine import PerLine
from kt_analysis.engine.figures import Figures, check_int64
from kt_analysis.inputs.incident import Incident
from kt_analysis.rules.timeline import claim_window_closes


def build_summary(incident: Incident, fig: Figures, roster_lines: int,
                 what_if_rows: list[dict[str, Any]], per_line: PerLine | None = None) -> dict[str, Any]:
    """The summary from an engine's figures: the same keys, order and types whatever the engine."""
    check_int64(fig.total_credit_krw, "the total credit", incident.roster)
    policy = incident.credit_policy
    start, end = incident.start, incident.end
    assert isinstance(start, datetime) and isinstance(end, datetime)  # an outage's: its windows' span
    summary: dict[str, Any] = {
        "incident_id": incident.id,
        "title": incident.title,
        "kind": incident.kind,
        "timezone": incident.timezone,
        "policy_id": policy.id,
        "policy_title": policy.title,
        "outage_start": start.isoformat(timespec="minutes"),
        "outage_end": end.isoformat(timespec="minutes"),
        "window_count": len(incident.windows),
        "roster_lines": int(roster_lines),
        "affected_lines": fig.lines,
        "affected_customers": int(fig.customers["all"]),
        "eligible_lines": fig.eligible_lines,
        "eligible_customers": int(fig.customers["eligible"]),
        "total_credit_krw": fig.total_credit_krw,
        "total_refund_krw": 0,
        "refund_completion_date": None,
        "longest_outage_minutes": fig.longest_outage_minutes,
        "credit_distribution": fig.distribution,
        "delivery": {
            "method": policy.delivery.method,
            "claim_required": policy.delivery.claim_required,
            "claim_window_days": policy.delivery.claim_window_days,
            "applied_on": policy.delivery.applied_on,
        },
    }
    for by, frame in fig.breakdowns.items():
        summary[f"by_{by}"] = records(frame, by)
    closes = claim_window_closes(policy, end.date())
    summary["claim_window_closes"] = closes.isoformat() if closes else None
    summary["credit_completion_date"] = fig.timeline[-1]["day"] if fig.timeline else None
    summary["credit_timeline"] = fig.timeline
    summary["what_if"] = what_if_rows
    if per_line is not None and per_line.reach is not None:
        summary["reach"] = [
            {**row, "customers": int(fig.customers["all"]) if row["customers"] is None else row["customers"]}
            for row in per_line.reach
        ]
        summary["unmatched_names"] = per_line.unmatched or []
    summary["inputs"] = incident.inputs()
    return summary


def write_json(data: dict[str, Any], path: Path) -> None:
    tmp = path.with_name(path.name + ".partial")
    tmp.write_text(json.dumps(data, ensure_ascii=False, indent=2, sort_keys=False) + "\n", encoding="utf-8")
    os.replace(tmp, path)
