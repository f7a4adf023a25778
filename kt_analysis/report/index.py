"""``reports/index.html``: every incident in the output folder, its last run and headline figures."""

from __future__ import annotations

import contextlib
import json
import os
from datetime import UTC, date, datetime
from pathlib import Path

from kt_analysis.errors import mask_text
from kt_analysis.report import present
from kt_analysis.report.templates import ENV
from kt_analysis.summary.model import BillingSummary, Summary, SummaryError, load_summary

_ENV = ENV  # the report layer's one environment


NO_MESSAGE = "no message recorded"

# A row's status, in words (the code stays next to it: scripts and old bookmarks look for it).
STATUS_LABELS = {"ok": "정상", "failed": "실패"}
NO_LINES = "영향 회선 없음"


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


def _parse_datetime(text: str) -> datetime | None:
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        return None


def _parse_date(text: str | None) -> date | None:
    if not text:
        return None
    try:
        return date.fromisoformat(text[:10])
    except ValueError:
        return None


def finished_kst(text: str) -> tuple[str, str]:
    """A run's ``finished_at`` (UTC ISO) as Korean time: the words shown and the ISO datetime of the
    ``<time>`` element. A time without a zone is taken as UTC (run.json writes UTC); text that is no
    time is shown as it is.

    >>> finished_kst("2026-12-02T18:13:40+00:00")
    ('2026년 12월 3일 (목) 03:13 KST', '2026-12-03T03:13:40+09:00')
    """
    dt = _parse_datetime(text)
    if dt is None:
        return mask_text(text)[:40], ""
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    local = dt.astimezone(present.KST)
    return f"{present.korean_datetime(local)} KST", local.isoformat()


def _settled(s: Summary) -> tuple[list[str], int | None]:
    """When the money was settled, per kind, in words; and the days from the incident to the last
    of those dates (None while a date is missing)."""
    if isinstance(s, BillingSummary):
        start = _parse_date(s.charged_on)
        dates = [("환불 완료", s.refund_completion_date), ("정산 완료", s.settlement_completion_date)]
    else:
        start = _parse_date(s.outage_start)
        dates = [("보상 완료", s.credit_completion_date)]
    words = [f"{name} {present.korean_date(d)}" if (d := _parse_date(text)) else f"{name} 미정"
             for name, text in dates]
    last = _parse_date(dates[-1][1])
    days = (last - start).days if last and start else None
    return words, days


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
    row: dict = {"id": folder.name, "title": folder.name, "status": "ok", "report": None,
                 "failed_notebook": None, "error": None, "finished_at": "", "finished_iso": "",
                 "affected": "", "credit": "", "settled": [], "days": None, "flag": None,
                 "kind": None, "lines": 0, "credit_krw": 0, "refund_krw": 0}
    s, unreadable = _summary(summary_path)
    if s is not None:
        row["title"] = mask_text(s.title)
        row["kind"] = s.kind
        row["lines"] = s.affected_lines
        row["affected"] = present.count(s.affected_lines)
        row["credit"] = _headline_money(s)
        row["credit_krw"] = 0 if isinstance(s, BillingSummary) else s.total_credit_krw
        row["refund_krw"] = s.total_refund_krw if isinstance(s, BillingSummary) else 0
        row["settled"], row["days"] = _settled(s)
        if s.affected_lines == 0:
            row["flag"] = NO_LINES
    run = _json(run_path)
    if run is not None:
        row["finished_at"], row["finished_iso"] = finished_kst(str(run.get("finished_at", "")))
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
    row["status_label"] = STATUS_LABELS[row["status"]]
    return row


def overview(rows: list[dict]) -> dict:
    """The figures across every incident shown as ok: how many, lines, credits, refunds and the
    longest time to settle."""
    good = [r for r in rows if r["status"] == "ok" and r["kind"]]
    days = [r["days"] for r in good if r["days"] is not None]
    return {"incidents": present.count(len(good)),
            "lines": present.count(sum(r["lines"] for r in good)),
            "credit": present.krw(sum(r["credit_krw"] for r in good)),
            "refund": present.krw(sum(r["refund_krw"] for r in good)),
            "longest_days": f"{max(days)}일" if days else "—",
            "no_lines": sum(1 for r in good if r["flag"])}


def collect(out: Path) -> list[dict]:
    """One row per incident folder in ``out``. A damaged folder (a failed run's leftovers, an empty
    or binary ``error.txt``, a half-written JSON) is shown as failed, never a reason to fail."""
    return [_row(out, folder)
            for folder in sorted(p for p in out.iterdir() if p.is_dir() and not p.name.startswith("."))]


def write_index(out: Path) -> Path:
    out.mkdir(parents=True, exist_ok=True)
    rows = collect(out)
    html = _ENV.get_template("index.html.j2").render(rows=rows, total=overview(rows))
    dest = out / "index.html"
    tmp = dest.with_name("index.html.partial")
    try:
        tmp.write_text(html, encoding="utf-8")
        os.replace(tmp, dest)
    finally:
        tmp.unlink(missing_ok=True)  # a full disk leaves the last index, not half of a new one
    return dest
