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


def _error_text(path: Path) -> tuple[str, str]:
    """A failed run's ``error.txt``, masked, whatever state it is in: its first non-blank line (a
    Python traceback, an error kt-analysis did not expect, gives its last line, the exception, not
    ``Traceback (most recent call last):``) and the whole text (capped), for who wants to read it."""
    try:
        raw = path.read_bytes()[:65536]
    except OSError:
        return NO_MESSAGE, ""
    text = raw.decode("utf-8", errors="replace").replace("\x00", "")
    text = "".join(c if c.isprintable() or c in "\n\t" else "\ufffd" for c in text)
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    if lines and lines[0].startswith("Traceback (most recent call last)"):
        unindented = [ln for ln in text.splitlines() if ln.strip() and not ln[0].isspace()]
        lines = [unindented[-1].strip()]
    if not lines:
        return NO_MESSAGE, ""
    return mask_text(lines[0][:300]), mask_text(text.strip()[:4000])


# ----- why a run failed, in Korean ---------------------------------------------------------------
# failed/error.txt holds the run's own message (English, for logs and the engineer); the index says
# which kind of failure it is in Korean and what to do, and keeps the message itself one click away.
# (class, label, what to do); the class is also the row's data-reason.
REASONS: dict[str, tuple[str, str]] = {
    "bad_input": ("입력 오류 (종료 코드 2)",
                  "사고 파일이나 입력 자료에 문제가 있어 실행하지 않았습니다. "
                  "원문이 가리키는 파일·항목을 고친 뒤 다시 실행하십시오."),
    "timeout": ("시간 초과",
                "제한 시간을 넘겨 실행을 중단했습니다 (노트북 셀이나 커널이 멈췄을 수 있음). "
                "이전 보고서는 그대로입니다."),
    "reconciliation": ("대사 불일치로 게시 거부",
                       "원장·요약·보고서의 수치가 서로 맞지 않아 보고서를 게시하지 않았습니다. "
                       "이전 보고서는 그대로입니다."),
    "environment": ("실행 환경 문제",
                    "Jupyter 커널, 한글 글꼴, Chromium 또는 Spark 설치를 확인하십시오 (make setup)."),
    "disk": ("디스크·출력 폴더 문제", "출력 폴더의 여유 공간과 쓰기 권한을 확인한 뒤 다시 실행하십시오."),
    "locked": ("중복 실행 거부", "같은 사고의 다른 실행이 진행 중이었습니다. 그 실행이 끝난 뒤 다시 실행하십시오."),
    "notebook": ("보고서 노트북 실행 실패", "failed/ 폴더의 실행된 노트북에서 오류가 난 셀을 확인하십시오."),
    "interrupted": ("실행 중단 (종료 코드 130)", "실행이 중간에 중단되었습니다. 이전 보고서는 그대로입니다."),
    "summary": ("요약 파일을 읽을 수 없음",
                "summary.json이 손상되었거나 다른 버전이 쓴 것입니다. 사고를 다시 실행하십시오."),
    "no_record": ("실행 기록 없음", "실패 사유나 summary.json·run.json이 남지 않았습니다. 사고를 다시 실행하십시오."),
    "unexpected": ("예기치 않은 오류", "원문 메시지를 확인하십시오."),
}

# Words of each class's messages (kt_analysis/errors.py and where they are raised), in the order
# they are tried: a notebook that failed on a missing font is an environment problem.
_REASON_WORDS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("bad_input", ("bad input:",)),
    ("timeout", ("timed out after", "celltimeouterror", "cell execution timed out")),
    ("reconciliation", ("reconciliation failed", "money not conserved")),
    ("locked", ("another run of this incident",)),
    ("environment", ("environmentproblem", "fontproblem", "no hangul font", "jupyter kernel", "kernelspec",
                     "needs chromium", "chromium could not print", "spark did not start", "java gateway",
                     "java_home")),
    ("disk", ("cannot write (", "cannot make a folder here", "cannot read or write it", "no space left",
              "read-only file system", "permission denied", "outputerror")),
    ("interrupted", ("keyboardinterrupt",)),
    ("notebook", ("notebook report.ipynb", "deadkernelerror", "cellexecutionerror")),
)


def failure_reason(message: str | None) -> str:
    """The class of a failed run's message (a key of :data:`REASONS`).

    >>> failure_reason("bad input: x.yml: affected.windows[0]: ends before it starts — swap them")
    'bad_input'
    >>> failure_reason("kt-x: reconciliation failed: the report's headline shows '1원' — not published")
    'reconciliation'
    """
    text = (message or "").strip().lower()
    if not text or text == NO_MESSAGE:
        return "no_record"
    for reason, words in _REASON_WORDS:
        if any(w in text for w in words):
            return reason
    return "unexpected"


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
                 "kind": None, "lines": 0, "credit_krw": 0, "refund_krw": 0, "cancelled_krw": 0,
                 "claim_days": None, "claim_closes": "", "reason": None, "reason_label": "",
                 "reason_hint": "", "error_text": "", "provisional": ""}
    s, unreadable = _summary(summary_path)
    if s is not None:
        row["title"] = mask_text(s.title)
        row["kind"] = s.kind
        row["lines"] = s.affected_lines
        row["affected"] = present.count(s.affected_lines)
        row["credit"] = _headline_money(s)
        row["credit_krw"] = 0 if isinstance(s, BillingSummary) else s.total_credit_krw
        row["refund_krw"] = s.total_refund_krw if isinstance(s, BillingSummary) else 0
        row["cancelled_krw"] = s.total_cancelled_krw if isinstance(s, BillingSummary) else 0
        if not isinstance(s, BillingSummary) and (closes := _parse_date(s.claim_window_closes)):
            start = _parse_date(s.outage_start)
            row["claim_closes"] = present.korean_date(closes)
            row["claim_days"] = (closes - start).days if start else None
        row["settled"], row["days"] = _settled(s)
        if s.affected_lines == 0:
            row["flag"] = NO_LINES
        if not isinstance(s, BillingSummary) and s.provisional and (at := _parse_datetime(s.as_of or "")):
            # an outage still going on, sized as of a time: every figure of the row is provisional
            row["provisional"] = f"잠정 — {at.month}월 {at.day}일 {at:%H:%M} 기준, 장애 진행 중"
    run = _json(run_path)
    if run is not None:
        row["finished_at"], row["finished_iso"] = finished_kst(str(run.get("finished_at", "")))
    if (folder / "report.html").is_file():
        row["report"] = f"{folder.name}/report.html"
    if failed_dir.exists() and (run is None or _mtime(failed_dir / "error.txt") >= _mtime(run_path)
                                or not (failed_dir / "error.txt").exists()):
        row["status"] = "failed"
        row["error"], row["error_text"] = _error_text(failed_dir / "error.txt")
        with contextlib.suppress(OSError):
            nbs = sorted((failed_dir / "notebooks").glob("*.ipynb"))
            if nbs:
                row["failed_notebook"] = str(nbs[-1].relative_to(out))
    elif s is None or run is None:
        row["status"] = "failed"  # a folder without a readable summary and run record is no good run
        row["error"] = unreadable or NO_MESSAGE
        row["reason"] = "summary" if unreadable else "no_record"
    if row["status"] == "failed":
        row["reason"] = row["reason"] or failure_reason(row["error"])
        row["reason_label"], row["reason_hint"] = REASONS[row["reason"]]
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
            "no_lines": sum(1 for r in good if r["flag"]),
            # provisional figures (an outage still going on) are in the sums: say so beside them
            "provisional": sum(1 for r in good if r.get("provisional"))}


# ----- the overview chart: one row per incident, in the table's order ------------------------------
# Hand-built SVG (no matplotlib: the index is written by run-all after every run, also with
# --no-report, and must not need a Hangul font for matplotlib nor pay for importing it). Its text is
# the page's own text (the browser's Korean font, selectable, read by screen readers); it scales
# with its viewBox to the screen and to the A4 page.
# Units are CSS pixels at the chart's natural width (the A4 print width is ~700 px: text stays
# readable there; on screen it is shown at most 960 px wide, see the template).
CHART_WIDTH = 800
_ROW_H, _HEAD_H = 50, 30
_MONEY_X, _MONEY_W = 0, 280  # money bars; their label follows the bar's end
_LINES_X = 610  # right edge of the lines column
_DAYS_X, _DAYS_W = 635, 110  # days-to-settle bars; the label follows
_TITLE_CHARS = 56
_KIND_COLOUR = {"outage": present.PALETTE[0], "billing_error": present.PALETTE[1]}
_DAYS_COLOUR = "#6b7280"


def _chart_figures(r: dict) -> str:
    """One incident's figures in words, exact: the chart row's tooltip, and with its name the
    chart's text alternative."""
    if r["status"] == "failed":
        return f"실행 실패 — {r['reason_label']}"
    if not r["kind"]:
        return "요약 없음"
    if r["kind"] == "billing_error":
        money = f"환불 {present.krw(r['refund_krw'])}"
        if r["cancelled_krw"]:
            money += f" (승인 취소 {present.krw(r['cancelled_krw'])} 별도)"
    else:
        money = f"보상 {present.krw(r['credit_krw'])}"
    parts = [money, f"영향 회선 {present.count(r['lines'])}" + (f" ({NO_LINES})" if r["flag"] else "")]
    if r["days"] is not None:
        parts.append(f"처리 완료까지 {r['days']}일")
    elif not r["flag"]:  # an incident that reached no line has nothing to settle
        parts.append("처리 완료 미정")
    if r["claim_closes"] and not r["flag"]:
        parts.append(f"청구 마감 {r['claim_closes']}")
    if r.get("provisional"):
        parts.append(r["provisional"])
    return ", ".join(parts)


def _chart_money(r: dict, scale: float) -> dict:
    """The money part of a chart row: a bar only for a real, positive amount of a run shown ok."""
    if r["status"] == "failed":
        return {"bar": None, "label": f"실행 실패 — {r['reason_label']}", "tone": "failed"}
    if not r["kind"]:
        return {"bar": None, "label": "요약 없음", "tone": "muted"}
    if r["flag"]:
        return {"bar": None, "label": f"{NO_LINES} — 보상·환불 없음", "tone": "muted"}
    billing = r["kind"] == "billing_error"
    amount = r["refund_krw"] if billing else r["credit_krw"]
    word = "환불" if billing else "보상"
    extra = f" · 승인 취소 {present.krw_short(r['cancelled_krw'])}" if billing and r["cancelled_krw"] else ""
    if amount <= 0:
        return {"bar": None, "label": f"{word} 0원 (대상 없음){extra}", "tone": "muted"}
    width = max(2.0, amount * scale)  # a small amount stays visible; its label gives the figure
    return {"bar": round(width, 1), "label": f"{word} {present.krw_short(amount)}{extra}",
            "colour": _KIND_COLOUR[r["kind"]], "tone": "value", "amount": amount}


def chart(rows: list[dict]) -> dict | None:
    """The overview chart's geometry and words: per incident (the table's order) its money bar
    (credits for an outage, refunds for a billing error), its lines and its days to settle; a
    failed run, an incident that reached no line or has nothing to pay gets words, never a
    zero-length bar. None when there is no incident."""
    if not rows:
        return None
    shown = [r for r in rows if r["status"] == "ok" and r["kind"]]
    top = max([r["refund_krw"] if r["kind"] == "billing_error" else r["credit_krw"] for r in shown] or [0])
    longest = max([r["days"] for r in shown if r["days"] is not None and r["days"] > 0] or [0])
    items = []
    for i, r in enumerate(rows):
        y = _HEAD_H + i * _ROW_H
        money = _chart_money(r, _MONEY_W / top if top else 0.0)
        name = f"{r['title']} ({r['id']})" if r["title"] != r["id"] else r["id"]
        figures = _chart_figures(r)
        item = {"id": r["id"], "y": y, "title": _short_title(r["title"]), "report": r["report"],
                "figures": figures, "sentence": f"{name}: {figures}",
                "money": money, "label_x": _MONEY_X + (money["bar"] or 0) + 6, "lines": "—", "days": None,
                "days_label": "—", "claim_x": None}
        if r["status"] == "ok" and r["kind"]:
            item["lines"] = f"{present.count(r['lines'])} 회선"
            if r["days"] is not None:  # as the table shows it
                width = max(2.0, r["days"] * _DAYS_W / longest) if longest and r["days"] > 0 else 0.0
                item["days"] = round(width, 1) or None
                item["days_label"] = f"{r['days']}일"
                if r["claim_days"] is not None and longest and 0 <= r["claim_days"] <= longest:
                    item["claim_x"] = round(_DAYS_X + r["claim_days"] * _DAYS_W / longest, 1)
            else:
                item["days_label"] = "—" if r["flag"] else "미정"  # nothing to settle / not settled yet
        item["days_label_x"] = _DAYS_X + (item["days"] or 0) + 6
        items.append(item)
    return {"width": CHART_WIDTH, "height": _HEAD_H + len(rows) * _ROW_H + 6, "rows": items,
            "money_x": _MONEY_X, "lines_x": _LINES_X, "days_x": _DAYS_X,
            "claim_marks": any(it["claim_x"] is not None for it in items),
            "title": "사고별 보상·환불 총액, 영향 회선, 처리 완료까지 걸린 날",
            "label": "사고별 보상·환불 총액, 영향 회선, 처리 완료까지 걸린 날 — "
                     + " / ".join(it["sentence"] for it in items)}


def _short_title(title: str) -> str:
    return title if len(title) <= _TITLE_CHARS else title[:_TITLE_CHARS - 1] + "…"


def collect(out: Path) -> list[dict]:
    """One row per incident folder in ``out``. A damaged folder (a failed run's leftovers, an empty
    or binary ``error.txt``, a half-written JSON) is shown as failed, never a reason to fail."""
    return [_row(out, folder)
            for folder in sorted(p for p in out.iterdir() if p.is_dir() and not p.name.startswith("."))]


def write_index(out: Path) -> Path:
    out.mkdir(parents=True, exist_ok=True)
    rows = collect(out)
    html = _ENV.get_template("index.html.j2").render(rows=rows, total=overview(rows), chart=chart(rows))
    dest = out / "index.html"
    tmp = dest.with_name("index.html.partial")
    try:
        tmp.write_text(html, encoding="utf-8")
        os.replace(tmp, dest)
    finally:
        tmp.unlink(missing_ok=True)  # a full disk leaves the last index, not half of a new one
    return dest
