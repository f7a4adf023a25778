"""``reports/index.html``: every incident in the output folder, its last run and headline figures."""

from __future__ import annotations

import contextlib
import json
import os
from pathlib import Path

from kt_analysis.errors import mask_text
from kt_analysis.report import present
from kt_analysis.report.templates import ENV
from kt_analysis.summary.model import BillingSummary, Summary, SummaryError, load_summary

_ENV = ENV  # the report layer's one environment


NO_MESSAGE = "no message recorded"


def _json(path: Path) -> dict | None:
    """A JSON object file, or None when it is missing, unreadable or not an object."""
    try:
        data = json.loads(path.read_bytes().decode("utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def _first_line(path: Path) -> str:
    """The first non-blank line of a failed run's ``error.txt``, masked; whatever state it is in."""
    try:
        raw = path.read_bytes()[:65536]
    except OSError:
        return NO_MESSAGE
    text = raw.decode("utf-8", errors="replace").replace("\x00", "")
    text = "".join(c if c.isprintable() or c in "\n\t" else "\ufffd" for c in text)
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    return mask_text(lines[0][:300]) if lines else NO_MESSAGE


def _mtime(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except OSError:
        return 0.0


def _headline_money(s: Summary) -> str:
    """What the incident costs, per kind: an outage's credits; a billing error's refunds (money
    that moved and goes back) and, when cards were only approved, the approvals cancelled."""
    if isinstance(s, BillingSummary):
        text = f"환불 {present.krw(s.total_refund_krw)}"
        if s.total_cancelled_krw:
            text += f" · 승인 취소 {present.krw(s.total_cancelled_krw)}"
        return text
    return f"보상 {present.krw(s.total_credit_krw)}"


def _summary(path: Path) -> tuple[Summary | None, str | None]:
    """A run's summary, or why there is none to show: missing, damaged, or written by a version
    whose summary this one does not read (the fix is the same: run the incident again)."""
    if not path.exists():
        return None, None
    try:
        return load_summary(path), None
    except SummaryError as exc:
        return None, mask_text(f"{exc} — run the incident again")[:300]


def _row(out: Path, folder: Path) -> dict:
    summary_path, run_path = folder / "summary.json", folder / "run.json"
    failed_dir = folder / "failed"
    row = {"id": folder.name, "title": folder.name, "status": "ok", "report": None,
           "failed_notebook": None, "error": None, "finished_at": "", "affected": "",
           "credit": ""}
    s, unreadable = _summary(summary_path)
    if s is not None:
        row["title"] = mask_text(s.title)
        row["affected"] = present.count(s.affected_lines)
        row["credit"] = _headline_money(s)
    run = _json(run_path)
    if run is not None:
        row["finished_at"] = str(run.get("finished_at", ""))
    if (folder / "report.html").is_file():
        row["report"] = f"{folder.name}/report.html"
    if failed_dir.exists() and (run is None or _mtime(failed_dir / "error.txt") >= _mtime(run_path)
                                or not (failed_dir / "error.txt").exists()):
        row["status"] = "failed"
        row["error"] = _first_line(failed_dir / "error.txt")
        with contextlib.suppress(OSError):
            nbs = sorted((failed_dir / "notebooks").glob("*.ipynb"))
            if nbs:
                row["failed_notebook"] = str(nbs[-1].relative_to(out))
    elif s is None or run is None:
        row["status"] = "failed"  # a folder without a readable summary and run record is no good run
        row["error"] = unreadable or NO_MESSAGE
    return row


def collect(out: Path) -> list[dict]:
    """One row per incident folder in ``out``. A damaged folder (a failed run's leftovers, an empty
    or binary ``error.txt``, a half-written JSON) is shown as failed, never a reason to fail."""
    return [_row(out, folder)
            for folder in sorted(p for p in out.iterdir() if p.is_dir() and not p.name.startswith("."))]


def write_index(out: Path) -> Path:
    out.mkdir(parents=True, exist_ok=True)
    html = _ENV.get_template("index.html.j2").render(rows=collect(out))
    dest = out / "index.html"
    tmp = dest.with_name("index.html.partial")
    try:
        tmp.write_text(html, encoding="utf-8")
        os.replace(tmp, dest)
    finally:
        tmp.unlink(missing_ok=True)  # a full disk leaves the last index, not half of a new one
    return dest
