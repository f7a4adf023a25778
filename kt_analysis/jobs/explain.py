"""``kt-analysis explain INCIDENT LINE_ID``: one line's outage, eligibility and credit in Korean.

The run explained is the published one (``<out>/<incident id>/``) when it was made from exactly
these inputs by this version (as ``open_view`` decides); otherwise the incident is analysed now into
a temporary folder, removed afterwards. The explanation itself is kt_analysis/report/explain.py:
recomputed in integers from the line's inputs and checked against the ledger's ``credit_krw``.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from kt_analysis.engine.month import EARLIER_ROWS
from kt_analysis.errors import InputError
from kt_analysis.inputs.incident import Incident, load_incident
from kt_analysis.jobs import history
from kt_analysis.jobs.analyse import analyse
from kt_analysis.jobs.run import up_to_date
from kt_analysis.paths import find_project_root
from kt_analysis.report.explain import Explanation, explain_line, parse_line_id


def published(incident: Incident, out: Path) -> Path | None:
    """The incident's folder in ``out`` when its last run there is current (any report option)."""
    if not any(up_to_date(incident, out, report=report, pdf=pdf)
               for report, pdf in ((True, False), (False, False), (True, True))):
        return None
    return out / incident.id


def incident_path(value: str | Path) -> Path:
    """An incident file, or an incident id found as ``data/incidents/<id>.yml`` of the project."""
    path = Path(value)
    if path.exists() or path.suffix:
        return path
    candidate = find_project_root(Path.cwd()) / "data" / "incidents" / f"{path.name}.yml"
    return candidate if candidate.exists() else path


def explain(incident: str | Path, line_id: object, out: str | Path = "reports") -> tuple[Explanation, str]:
    """Explain ``line_id`` of ``incident``: (the explanation, where the run came from: the published
    folder, or ``computed now``)."""
    lid = parse_line_id(line_id)  # a bad id is refused before any work
    inc = load_incident(incident_path(incident))
    if inc.kind != "outage":
        raise InputError(inc._rel(Path(inc.path)), "kind", "is a billing error: explain is for outages",
                         "name an outage's incident file")
    folder = published(inc, Path(out))
    if folder is not None:
        return explain_line(inc, folder, lid), str(folder)
    temporary = Path(tempfile.mkdtemp(prefix=f"kt-explain-{inc.id}-"))
    try:
        earlier = history.earlier(Path(out), inc, temporary / EARLIER_ROWS) if history.reads_history(inc) else None
        analyse(inc, temporary, earlier=earlier)
        return explain_line(inc, temporary, lid), "computed now"
    finally:
        shutil.rmtree(temporary, ignore_errors=True)
