"""Opening an incident's results in Python or JupyterLab: from a run folder, or computed now."""

from __future__ import annotations

import json
import shutil
import tempfile
import weakref
from datetime import datetime
from pathlib import Path

from kt_analysis.engine.month import EARLIER_ROWS
from kt_analysis.inputs.incident import Incident, load_incident, require_sized
from kt_analysis.jobs import history
from kt_analysis.jobs.analyse import analyse
from kt_analysis.jobs.run import up_to_date
from kt_analysis.paths import find_project_root
from kt_analysis.report.view import BillingView, IncidentView, reproduce_command, resolve
from kt_analysis.summary.model import load_summary


def open_view(
    incident: str | Path, *, roster: str | Path | None = None, run_dir: str | Path | None = None,
    bills: str | Path | None = None, bill_items: str | Path | None = None, claims: str | Path | None = None,
    as_of: str | datetime | None = None,
) -> IncidentView:
    """Open an incident's results: from ``run_dir`` when given; else from the project's published
    run (``reports/<incident id>/``) when it was made from exactly these inputs by this version;
    else computed now into a temporary folder, removed when the view is no longer used.

    ``as_of``: an outage still going on, sized as of that local time (``--as-of``); a ``run_dir``
    whose summary is provisional gives its own as-of time when none is given."""
    root = find_project_root(Path.cwd())
    inc_path = resolve(incident, root)
    roster_path = resolve(roster, root) if roster else None
    bills_path = resolve(bills, root) if bills else None
    items_path = resolve(bill_items, root) if bill_items else None
    claims_path = resolve(claims, root) if claims else None
    if as_of is None and run_dir is not None:
        as_of = _as_of(resolve(run_dir, root) / "summary.json")
    inc = load_incident(inc_path, roster=roster_path, bills=bills_path, bill_items=items_path, claims=claims_path,
                        as_of=as_of)
    require_sized(inc)
    temporary = None
    if run_dir is not None:
        folder = resolve(run_dir, root)
    elif (published := _published(inc, root / "reports")) is not None:
        folder = published
    else:
        folder = temporary = Path(tempfile.mkdtemp(prefix=f"kt-{inc.id}-"))
        try:
            # A policy counting across the calendar month adds the earlier incidents published in reports/.
            earlier = history.earlier(root / "reports", inc, folder / EARLIER_ROWS) if history.reads_history(inc) \
                else None
            analyse(inc, folder, earlier=earlier)
            if earlier is not None:
                earlier.rows.unlink()
        except BaseException:
            shutil.rmtree(folder, ignore_errors=True)
            raise
    summary = load_summary(folder / "summary.json")
    command = reproduce_command(inc, roster_path, bills_path, items_path, claims_path)
    cls = BillingView if inc.kind == "billing_error" else IncidentView
    view = cls(incident=inc, run_dir=folder, summary=summary, command=command)
    if temporary is not None:
        weakref.finalize(view, shutil.rmtree, temporary, True)
    return view


def _as_of(summary: Path) -> str | None:
    """The as-of time a run's summary records (a provisional run), else None."""
    try:
        value = json.loads(summary.read_text(encoding="utf-8")).get("as_of")
    except (OSError, ValueError, AttributeError):
        return None
    return value if isinstance(value, str) else None


def _published(incident: Incident, out: Path) -> Path | None:
    """The incident's folder in ``out`` when its last run succeeded on exactly these inputs (with or
    without a report: the ledger and summary are the same) and this version reads its summary."""
    if not any(up_to_date(incident, out, report=report, pdf=pdf)
               for report, pdf in ((True, False), (False, False), (True, True))):
        return None
    return out / incident.id
