"""Opening an incident's results in Python or JupyterLab: from a run folder, or computed now."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

from kt_analysis.inputs.incident import load_incident
from kt_analysis.jobs.analyse import analyse
from kt_analysis.paths import find_project_root
from kt_analysis.report.view import BillingView, IncidentView, reproduce_command, resolve


def open_view(
    incident: str | Path, *, roster: str | Path | None = None, run_dir: str | Path | None = None,
    bills: str | Path | None = None,
) -> IncidentView:
    """Open an incident's results: from ``run_dir`` when given, else computed now."""
    root = find_project_root(Path.cwd())
    inc_path = resolve(incident, root)
    roster_path = resolve(roster, root) if roster else None
    bills_path = resolve(bills, root) if bills else None
    inc = load_incident(inc_path, roster=roster_path, bills=bills_path)
    if run_dir is None:
        folder = Path(tempfile.mkdtemp(prefix=f"kt-{inc.id}-"))
        analyse(inc, folder)
    else:
        folder = resolve(run_dir, root)
    summary = json.loads((folder / "summary.json").read_text(encoding="utf-8"))
    command = reproduce_command(inc, roster_path, bills_path)
    cls = BillingView if inc.kind == "billing_error" else IncidentView
    return cls(incident=inc, run_dir=folder, summary=summary, command=command)
