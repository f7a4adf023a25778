"""Hand-over files: what the teams after the analysis load into their own systems.

- ``adjustments.csv`` — the billing system's bulk adjustment file of an outage whose policy credits
  every owed line on its bill without an application: one row per credited line, sorted by
  ``line_id``, a control line at the end; written into the staging folder with the ledger and
  checked against it and ``summary.json`` before anything is published (:func:`check_adjustments`).
- ``report.xlsx`` — every table of the report, one sheet per chapter, won as numbers (``--xlsx``);
  its totals are read back and checked against the summary before publishing.
- the SMS send list — the one output that carries phone numbers (``--sms-list PATH``): written
  outside the output folder, owner-only (0600) from its creation, never logged.

The formats are documented in docs/outputs.md (Hand-over files).
"""

from __future__ import annotations

import csv
import io
import os
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date, datetime, time
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq

from kt_analysis.dbrow import connect, one_row, quote
from kt_analysis.errors import InputError, RunError
from kt_analysis.inputs.incident import Incident
from kt_analysis.inputs.schema import CUSTOMER_TYPE_KO, PAYMENT_METHOD_KO, SERVICE_KO
from kt_analysis.jobs.analyse import NOT_PUBLISHED
from kt_analysis.rules.timeline import credit_bill_month
from kt_analysis.summary.model import BillingSummary, OutageSummary, Summary

Say = Callable[[str], None]

ADJUSTMENTS_FILE = "adjustments.csv"
ADJUSTMENT_COLUMNS = ("line_id", "bill_month", "amount_krw", "reason_code", "incident_id")
# The control line's first field; its bill_month field holds the rows, its amount_krw field the total.
CONTROL = "TOTAL"
# reason_code per the ledger's eligibility_reason (the credited ones: a line credited on its bill).
REASON_CODES = {"all_affected": "OUTAGE_ALL_AFFECTED", "continuous": "OUTAGE_CONTINUOUS",
                "monthly_cumulative": "OUTAGE_MONTHLY_CUMULATIVE"}

WORKBOOK_FILE = "report.xlsx"
WON_FORMAT = '#,##0"원"'
COUNT_FORMAT = "#,##0"
DATE_FORMAT = "yyyy-mm-dd"

SMS_COLUMNS = ("send_on", "line_id", "customer_id", "name", "phone", "message", "amount_krw", "text")
SMS_TEXT_OUTAGE = {
    "bill_credit": "[KT] {title} 장애 보상 {amount:,}원을 {month} 청구서에서 차감합니다. 불편을 드려 죄송합니다.",
    "on_claim": "[KT] {title} 장애 보상 대상입니다. {until}신청하시면 {amount:,}원을 보상해 드립니다.",
    "cash": "[KT] {title} 장애 보상 {amount:,}원을 지급합니다. 불편을 드려 죄송합니다.",
}


# ----- adjustments.csv ------------------------------------------------------------------------------

def adjustments_skipped(incident: Incident) -> str | None:
    """Why an incident gets no ``adjustments.csv`` (None: it gets one). A billing error's refunds and
    cancellations are payment reversals, not bill credits; a policy paying on application or in cash
    credits no bill by itself: a bulk file would pay lines that never applied."""
    if incident.kind != "outage":
        return "a billing error's cancellations and refunds are payment reversals, not bill credits"
    if incident.provisional:
        assert incident.as_of is not None
        return (f"the run is provisional (as of {incident.as_of:%Y-%m-%dT%H:%M}, the outage still going on): "
                "the billing system gets the final figures, from a run after the outage ends")
    d = incident.credit_policy.delivery
    if d.method != "bill_credit":
        return f"the policy pays by {d.method}, not on the bill"
    if d.claim_required:
        return "the policy pays on application (claim_required): accepted claims are credited, not every line"
    return None


def _bill_month(incident: Incident) -> str:
    end = incident.end
    assert isinstance(end, datetime)  # an outage's last window's end
    month = credit_bill_month(incident.credit_policy, end.date())
    assert month is not None  # a bill credit always names its bill month
    return f"{month[0]:04d}-{month[1]:02d}"


def write_adjustments(incident: Incident, folder: Path, summary: OutageSummary) -> Path | None:
    """``folder/adjustments.csv`` from ``folder/ledger.parquet``: its credited lines (``credit_krw`` > 0)
    sorted by ``line_id``, then the control line. None (nothing written) when the incident's credits
    are not bill credits paid without an application (:func:`adjustments_skipped`), or a line is owed
    only on claim (``on_claim``)."""
    if adjustments_skipped(incident) is not None:
        return None
    ledger = folder / "ledger.parquet"
    dest = folder / ADJUSTMENTS_FILE
    con = connect()
    try:
        src = f"read_parquet({quote(ledger)})"
        on_claim = one_row(con.execute(
            f"SELECT count(*) FROM {src} WHERE credit_krw > 0 AND eligibility_reason = 'on_claim'"))[0]
        if on_claim:
            return None
        codes = " ".join(f"WHEN {quote(k)} THEN {quote(v)}" for k, v in REASON_CODES.items())
        query = (f"SELECT line_id, {quote(_bill_month(incident))} AS bill_month, credit_krw AS amount_krw, "
                 f"CASE eligibility_reason {codes} ELSE 'OUTAGE_' || upper(eligibility_reason) END AS reason_code, "
                 f"{quote(incident.id)} AS incident_id FROM {src} WHERE credit_krw > 0 ORDER BY line_id")
        tmp = dest.with_name(dest.name + ".partial")
        con.execute(f"COPY ({query}) TO {quote(tmp)} (FORMAT csv, HEADER true, DELIMITER ',', QUOTE '\"')")
        rows, total = one_row(con.execute(
            f"SELECT count(*), coalesce(sum(CAST(credit_krw AS DECIMAL(38, 0))), 0) FROM {src} WHERE credit_krw > 0"))
    finally:
        con.close()
    with open(tmp, "a", encoding="utf-8", newline="") as fh:
        fh.write(f"{CONTROL},{int(rows)},{int(total)},,{incident.id}\n")
    os.replace(tmp, dest)
    return dest


def _last_line(path: Path) -> str:
    with open(path, "rb") as fh:
        fh.seek(0, os.SEEK_END)
        size = fh.tell()
        fh.seek(max(0, size - 4096))
        tail = fh.read().decode("utf-8", errors="replace")
    lines = tail.rstrip("\n").split("\n")
    return lines[-1] if lines else ""


def check_adjustments(incident: Incident, folder: Path, summary: OutageSummary) -> dict[str, int]:
    """``adjustments.csv`` read back agrees with the ledger and the summary, or a :class:`RunError`
    (nothing is published): its header; one row per credited ledger line, none twice, each with the
    ledger's amount, the bill month and the incident; its total equal to ``total_credit_krw``; its
    control line last, giving its rows and total. Returns the rows and total."""
    path, ledger = folder / ADJUSTMENTS_FILE, folder / "ledger.parquet"

    def fail(what: str) -> RunError:
        return RunError(f"{incident.id}: reconciliation failed: {ADJUSTMENTS_FILE} {what} — {NOT_PUBLISHED}")

    with open(path, encoding="utf-8", newline="") as fh:
        header = fh.readline().rstrip("\n")
    if header != ",".join(ADJUSTMENT_COLUMNS):
        raise fail(f"has the header {header!r}, not {','.join(ADJUSTMENT_COLUMNS)!r}")
    control = _last_line(path).split(",")
    if len(control) != 5 or control[0] != CONTROL or control[4] != incident.id:
        raise fail(f"does not end with its control line ({CONTROL},<rows>,<total won>,,{incident.id})")
    cols = ", ".join(f"{quote(c)}: 'VARCHAR'" for c in ADJUSTMENT_COLUMNS)
    con = connect()
    try:
        body = (f"(SELECT TRY_CAST(line_id AS BIGINT) AS id, bill_month, TRY_CAST(amount_krw AS BIGINT) AS amt, "
                f"reason_code, incident_id FROM read_csv({quote(path)}, header=true, auto_detect=false, delim=',', "
                f"quote='\"', columns={{{cols}}}) WHERE line_id <> {quote(CONTROL)})")
        credited = f"(SELECT line_id, credit_krw FROM read_parquet({quote(ledger)}) WHERE credit_krw > 0)"
        rows, distinct, total, bad_fields, mismatched, ledger_rows, ledger_total = one_row(con.execute(
            f"SELECT (SELECT count(*) FROM {body}), (SELECT count(DISTINCT id) FROM {body}), "
            f"(SELECT coalesce(sum(CAST(amt AS DECIMAL(38, 0))), 0) FROM {body}), "
            f"(SELECT count(*) FROM {body} WHERE id IS NULL OR amt IS NULL OR amt <= 0 "
            f"  OR bill_month IS DISTINCT FROM {quote(_bill_month(incident))} "
            f"  OR incident_id IS DISTINCT FROM {quote(incident.id)} OR reason_code IS NULL), "
            f"(SELECT count(*) FROM {body} AS f FULL JOIN {credited} AS l ON f.id = l.line_id "
            f"  WHERE f.id IS NULL OR l.line_id IS NULL OR f.amt IS DISTINCT FROM l.credit_krw), "
            f"(SELECT count(*) FROM {credited}), "
            f"(SELECT coalesce(sum(CAST(credit_krw AS DECIMAL(38, 0))), 0) FROM {credited})"))
    finally:
        con.close()
    rows, distinct, total = int(rows), int(distinct), int(total)
    if bad_fields:
        raise fail(f"has {bad_fields:,} row(s) without a line, a positive amount, the bill month "
                   f"{_bill_month(incident)} or the incident id")
    if distinct != rows:
        raise fail(f"names {rows - distinct:,} line(s) more than once")
    if mismatched:
        raise fail(f"differs from the ledger's credited lines on {mismatched:,} line(s) "
                   f"({rows:,} rows, {int(ledger_rows):,} credited lines)")
    if total != summary.total_credit_krw or total != int(ledger_total):
        raise fail(f"totals {total:,} won but summary.json's total_credit_krw is {summary.total_credit_krw:,} won")
    if control[1:3] != [str(rows), str(total)]:
        raise fail(f"has the control line {','.join(control)!r} for {rows:,} rows and {total:,} won")
    return {"rows": rows, "total_krw": total}


# ----- report.xlsx ----------------------------------------------------------------------------------

@dataclass
class Column:
    title: str  # Korean header
    kind: str = "text"  # text, count, won, date


class Sheet:
    """One chapter's sheet: tables one under another, each with a title, a header and a 합계 row;
    records the totals it writes so that the workbook can be read back and checked."""

    def __init__(self, ws: Any, checks: list[tuple[str, str, int]]) -> None:
        self.ws, self.row, self.checks = ws, 1, checks

    def note(self, text: str) -> None:
        self.ws.cell(self.row, 1, text)
        self.row += 1

    def pairs(self, title: str, items: list[tuple[str, Any, str]]) -> None:
        """A two-column table: label, value (its kind: text, count, won, date)."""
        from openpyxl.styles import Font

        self.ws.cell(self.row, 1, title).font = Font(bold=True)
        self.row += 1
        for label, value, kind in items:
            self.ws.cell(self.row, 1, label)
            _put(self.ws.cell(self.row, 2), value, kind)
            self.row += 1
        self.row += 1

    def table(self, title: str, columns: list[Column], rows: list[list[Any]],
              totals: dict[int, int] | None = None) -> None:
        """``rows`` under ``columns``; ``totals``: the 합계 row's value per column index (checked
        against the rows' sum here, and recorded for the read-back check)."""
        from openpyxl.styles import Font

        ws = self.ws
        ws.cell(self.row, 1, title).font = Font(bold=True)
        self.row += 1
        for j, col in enumerate(columns, 1):
            ws.cell(self.row, j, col.title).font = Font(bold=True)
        self.row += 1
        for values in rows:
            for j, (col, value) in enumerate(zip(columns, values, strict=True), 1):
                _put(ws.cell(self.row, j), value, col.kind)
            self.row += 1
        if totals is not None:
            ws.cell(self.row, 1, "합계").font = Font(bold=True)
            for j, want in totals.items():
                got = sum(int(r[j]) for r in rows)
                if got != int(want):
                    raise RunError(f"reconciliation failed: {WORKBOOK_FILE} sheet {ws.title!r}, table {title!r}: "
                                   f"{columns[j].title} adds up to {got:,}, the summary has {int(want):,} "
                                   f"— {NOT_PUBLISHED}")
                _put(ws.cell(self.row, j + 1), int(want), columns[j].kind)
                ws.cell(self.row, j + 1).font = Font(bold=True)
                self.checks.append((ws.title, ws.cell(self.row, j + 1).coordinate, int(want)))
            self.row += 1
        self.row += 1


def _put(cell: Any, value: Any, kind: str) -> None:
    if value is None:
        return
    if kind in ("count", "won"):
        cell.value = int(value)
        cell.number_format = WON_FORMAT if kind == "won" else COUNT_FORMAT
    elif kind == "date":
        cell.value = date.fromisoformat(str(value))
        cell.number_format = DATE_FORMAT
    else:
        cell.value = str(value)


BREAKDOWN_KO = {"service": ("서비스별", "서비스", SERVICE_KO), "region": ("지역별", "지역", {}),
                "customer_type": ("고객 유형별", "고객 유형", CUSTOMER_TYPE_KO),
                "payment_method": ("결제 수단별", "결제 수단", PAYMENT_METHOD_KO)}
MESSAGE_KO = {"cancel": "승인 취소", "refund": "환불", "recharge": "정상 금액 재청구"}
DELIVERY_KO = {"bill_credit": "청구서 차감", "cash_on_request": "신청 시 현금 지급", "cash": "현금 지급"}


def _outage_sheets(wb: Any, s: OutageSummary, checks: list[tuple[str, str, int]]) -> None:
    first = Sheet(wb.active, checks)
    first.ws.title = "영향 범위"
    first.pairs(s.title, [("사고 ID", s.incident_id, "text"), ("장애 시작", s.outage_start, "text"),
                          ("장애 종료", s.outage_end, "text"), ("적용 정책", s.policy_title, "text"),
                          ("명부 회선", s.roster_lines, "count"), ("영향 회선", s.affected_lines, "count"),
                          ("영향 고객", s.affected_customers, "count"), ("보상 대상 회선", s.eligible_lines, "count"),
                          ("보상 대상 고객", s.eligible_customers, "count"), ("보상 총액", s.total_credit_krw, "won")])
    cols = [Column("구분"), Column("영향 회선", "count"), Column("영향 고객", "count"),
            Column("보상 대상 회선", "count"), Column("보상액", "won")]
    for by, (title, head, names) in BREAKDOWN_KO.items():
        parts = s.breakdown(by)
        rows = [[names.get(k, k), p.affected_lines, p.affected_customers, p.eligible_lines, p.total_credit_krw]
                for k, p in parts.items()]
        first.table(f"{title} 영향", [Column(head), *cols[1:]], rows,
                    {1: s.affected_lines, 3: s.eligible_lines, 4: s.total_credit_krw})

    credit = Sheet(wb.create_sheet("보상"), checks)
    d = s.credit_distribution
    credit.pairs("보상액 분포 (보상 대상 회선)", [("최소", d.min_krw, "won"), ("중앙값", d.p50_krw, "won"),
                                          ("90번째 백분위", d.p90_krw, "won"), ("99번째 백분위", d.p99_krw, "won"),
                                          ("최대", d.max_krw, "won")])
    if s.credit_bands is not None:
        credit.table("보상액 구간별", [Column("구간 시작", "won"), Column("구간 끝", "won"), Column("회선", "count"),
                                   Column("보상액", "won")],
                     [[b.from_krw, b.to_krw, b.lines, b.credit_krw] for b in s.credit_bands],
                     {2: s.eligible_lines if s.credit_bands else 0, 3: s.total_credit_krw})
    if s.credit_by_service is not None:
        credit.table("서비스별 보상액", [Column("서비스"), Column("보상 대상 회선", "count"), Column("보상액", "won"),
                                    Column("최소", "won"), Column("중앙값", "won"), Column("최대", "won")],
                     [[SERVICE_KO.get(k, k), v.lines, v.credit_krw, v.min_krw, v.p50_krw, v.max_krw]
                      for k, v in s.credit_by_service.items()],
                     {1: s.eligible_lines, 2: s.total_credit_krw})
    credit.table("정책별 비교 (what-if): 첫 줄이 이 사고의 정책", [Column("정책 ID"), Column("정책"),
                                                      Column("보상 대상 회선", "count"), Column("보상 총액", "won")],
                 [[w.policy_id, w.title, w.eligible_lines, w.total_credit_krw] for w in s.what_if])
    if s.what_if_skipped:
        credit.table("비교에서 빠진 정책", [Column("정책 ID"), Column("정책"), Column("사유")],
                     [[w.policy_id, w.title, w.reason] for w in s.what_if_skipped])

    settle = Sheet(wb.create_sheet("정산"), checks)
    dl = s.delivery
    settle.pairs("지급 방식", [("방식", DELIVERY_KO.get(dl.method, dl.method), "text"),
                           ("반영 청구서", dl.applied_on, "text"),
                           ("신청 필요", "예" if dl.claim_required else "아니요", "text"),
                           ("신청 마감", s.claim_window_closes, "date"),
                           ("보상 완료일", s.credit_completion_date, "date")])
    settle.table("보상 반영 일정", [Column("반영일", "date"), Column("회선", "count"), Column("보상액", "won")],
                 [[c.day, c.lines, c.credit_krw] for c in s.credit_timeline],
                 {2: sum(c.credit_krw for c in s.credit_timeline)})
    if s.claims is not None:
        c = s.claims
        claims = Sheet(wb.create_sheet("신청"), checks)
        claims.pairs("신청 보상", [("접수 시작", c.opens_on, "date"), ("접수 마감", c.last_day, "date"),
                               ("신청 시 지급 대상 회선", c.entitled_lines, "count"),
                               ("모두 신청 시 지급액", c.entitled_krw, "won"), ("접수", c.received, "count"),
                               ("승인", c.accepted, "count"), ("승인액", c.accepted_krw, "won")])
        claims.table("결정별 신청", [Column("결정"), Column("사유"), Column("신청", "count"), Column("지급액", "won")],
                     [[x.decision, x.reason, x.claims, x.amount_krw] for x in c.by_decision],
                     {2: c.received, 3: c.accepted_krw})
        if c.forecast:
            claims.table("신청 예측", [Column("시나리오"), Column("설명"), Column("예상 신청", "count"),
                                   Column("예상 비용", "won"), Column("마지막 지급일", "date")],
                         [[f.scenario, f.description, f.claims, f.cost_krw, f.last_paid_on] for f in c.forecast])


def _billing_sheets(wb: Any, s: BillingSummary, checks: list[tuple[str, str, int]]) -> None:
    first = Sheet(wb.active, checks)
    first.ws.title = "영향 범위"
    first.pairs(s.title, [("사고 ID", s.incident_id, "text"), ("잘못 청구된 달", s.wrong_month, "text"),
                          ("대신 청구된 달", s.charged_month, "text"), ("청구일", s.charged_on, "date"),
                          ("오청구 회선", s.affected_lines, "count"), ("잘못 청구된 금액", s.total_charged_krw, "won"),
                          ("정상 금액", s.total_owed_krw, "won"), ("승인 취소", s.total_cancelled_krw, "won"),
                          ("환불", s.total_refund_krw, "won"), ("재청구", s.total_recharge_krw, "won")])
    first.table("결제 수단별", [Column("결제 수단"), Column("회선", "count"), Column("고객", "count"),
                            Column("잘못 청구된 금액", "won"), Column("정상 금액", "won"), Column("승인 취소", "won"),
                            Column("환불", "won"), Column("재청구", "won"), Column("처리 시작", "date"),
                            Column("처리 끝", "date"), Column("재청구 끝", "date"), Column("처리 방식")],
                [[PAYMENT_METHOD_KO.get(k, k), m.affected_lines, m.affected_customers, m.charged_krw, m.owed_krw,
                  m.cancelled_krw, m.refund_krw, m.recharge_krw, m.first_settled_on, m.last_settled_on,
                  m.last_recharge_on, m.rule] for k, m in s.by_payment_method.items()],
                {1: s.affected_lines, 3: s.total_charged_krw, 4: s.total_owed_krw, 5: s.total_cancelled_krw,
                 6: s.total_refund_krw, 7: s.total_recharge_krw})
    for by in ("service", "region", "customer_type"):
        title, head, names = BREAKDOWN_KO[by]
        first.table(title, [Column(head), Column("회선", "count"), Column("고객", "count"),
                            Column("잘못 청구된 금액", "won"), Column("환불", "won")],
                    [[names.get(k, k), p.affected_lines, p.affected_customers, p.charged_krw, p.refund_krw]
                     for k, p in s.breakdown(by).items()],
                    {1: s.affected_lines, 3: s.total_charged_krw, 4: s.total_refund_krw})

    settle = Sheet(wb.create_sheet("정산"), checks)
    settle.table("일별 정산", [Column("날짜", "date"), Column("결제 수단"), Column("승인 취소 회선", "count"),
                           Column("승인 취소액", "won"), Column("환불 회선", "count"), Column("환불액", "won"),
                           Column("재청구 회선", "count"), Column("재청구액", "won")],
                 [[t.day, PAYMENT_METHOD_KO.get(t.payment_method, t.payment_method), t.cancelled_lines,
                   t.cancelled_krw, t.refunded_lines, t.refund_krw, t.recharged_lines, t.recharge_krw]
                  for t in s.timeline],
                 {3: s.total_cancelled_krw, 5: s.total_refund_krw, 6: s.affected_lines, 7: s.total_recharge_krw})
    settle.table("고객에게서 받아 둔 금액 (일말 기준)", [Column("날짜", "date"), Column("금액", "won"),
                                              Column("회선", "count")],
                 [[e.day, e.held_krw, e.held_lines] for e in s.exposure])

    sms = Sheet(wb.create_sheet("안내 문자"), checks)
    sms.table("문자 발송 계획", [Column("발송일", "date"), Column("결제 수단"), Column("안내"), Column("문구"),
                             Column("회선", "count"), Column("고객", "count")],
              [[n.day, PAYMENT_METHOD_KO.get(n.payment_method, n.payment_method), MESSAGE_KO.get(n.message, n.message),
                n.text, n.lines, n.customers] for n in s.notifications],
              {4: 2 * s.affected_lines})


def _fixed_time(incident: Incident) -> datetime:
    start = incident.start
    return start.replace(tzinfo=None) if isinstance(start, datetime) else datetime.combine(start, time())


def write_workbook(incident: Incident, folder: Path, summary: Summary) -> Path:
    """``folder/report.xlsx``: the report's tables, one sheet per chapter, Korean headers, won as
    number cells formatted ``#,##0"원"``; the same bytes for the same summary (fixed document times,
    fixed zip entry times). Its 합계 cells are read back and checked against the summary."""
    from openpyxl import Workbook, load_workbook
    from openpyxl.writer.excel import ExcelWriter

    wb = Workbook()
    checks: list[tuple[str, str, int]] = []
    if isinstance(summary, OutageSummary):
        _outage_sheets(wb, summary, checks)
    else:
        _billing_sheets(wb, summary, checks)
    for ws in wb.worksheets:
        ws.column_dimensions["A"].width = 24
        for letter in "BCDEFGHIJKL":
            ws.column_dimensions[letter].width = 16
    fixed = _fixed_time(incident)
    wb.properties.creator = "kt-analysis"
    wb.properties.title = summary.title
    wb.properties.created = wb.properties.modified = fixed
    buf = io.BytesIO()
    archive = zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED, allowZip64=True)
    ExcelWriter(wb, archive).save()  # not openpyxl's save_workbook, which stamps the time of the save
    dest = folder / WORKBOOK_FILE
    stamp = (max(fixed.year, 1980), fixed.month, fixed.day, fixed.hour, fixed.minute, 0)
    data = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(buf.getvalue())) as src, zipfile.ZipFile(data, "w", zipfile.ZIP_DEFLATED) as out:
        for info in src.infolist():  # the entries' times fixed too: the same bytes for the same summary
            entry = zipfile.ZipInfo(info.filename, date_time=stamp)
            entry.compress_type = zipfile.ZIP_DEFLATED
            entry.external_attr = 0o644 << 16
            out.writestr(entry, src.read(info.filename))
    tmp = dest.with_name(dest.name + ".partial")
    tmp.write_bytes(data.getvalue())
    book = load_workbook(io.BytesIO(data.getvalue()), read_only=True)
    try:
        for sheet, cell, want in checks:
            got = book[sheet][cell].value
            if got != want:
                raise RunError(f"{incident.id}: reconciliation failed: {WORKBOOK_FILE} {sheet}!{cell} reads {got!r}, "
                               f"the summary has {want:,} — {NOT_PUBLISHED}")
    finally:
        book.close()
    os.replace(tmp, dest)
    return dest


# ----- the SMS send list ----------------------------------------------------------------------------

def _inside(path: Path, folder: Path) -> bool:
    return path == folder or folder in path.parents


def check_sms_list(path: str | Path, out: Path, incident: Incident) -> Path:
    """The SMS list's path, absolute, or an :class:`InputError` (exit 2) before anything runs: inside
    the output folder (what is there is published, listed and shared: the list must not be), a folder,
    a folder that does not exist, or a roster without a ``phone`` column."""
    if incident.provisional:
        raise InputError(str(path), "--sms-list", "the run is provisional (--as-of: the outage is still going on), "
                         "and the send list tells customers amounts", "write the list from a run after the outage ends")
    dest = Path(path).expanduser()
    dest = dest.parent.resolve() / dest.name if dest.parent.exists() else dest.absolute()
    if _inside(dest, Path(out).resolve()) or _inside(dest.resolve(), Path(out).resolve()):
        raise InputError(str(path), "--sms-list", f"lies inside the output folder {out}: the send list carries phone "
                         "numbers and must not be published with the report",
                         "write it outside the output folder, e.g. to a private folder of yours")
    if dest.is_dir():
        raise InputError(str(path), "--sms-list", "is a folder", "name a file (it is made with owner-only permissions)")
    if not dest.parent.is_dir():
        raise InputError(str(path), "--sms-list", f"its folder {dest.parent} does not exist", "make it first")
    if "phone" not in _roster_columns(incident.roster):
        raise InputError(str(incident.roster), "phone", "the roster has no phone column: no SMS list can be written",
                         "use a roster export with name and phone columns, or run without --sms-list")
    return dest


def _roster_columns(roster: Path) -> list[str]:
    if roster.is_dir():
        files = sorted(p for p in roster.rglob("*.parquet") if not p.is_dir())
        return pq.read_schema(files[0]).names if files else []
    if roster.suffix.lower() == ".parquet":
        return pq.read_schema(roster).names
    with open(roster, encoding="utf-8", errors="replace", newline="") as fh:
        return [c.strip() for c in next(csv.reader(fh), [])]


def _people_sql(roster: Path) -> str:
    """line_id, name, phone of every roster line, as text (a phone read as a number lost its 0)."""
    names = _roster_columns(roster)
    name = "CAST(name AS VARCHAR)" if "name" in names else "CAST(NULL AS VARCHAR)"
    if roster.is_dir() or roster.suffix.lower() == ".parquet":
        src = f"read_parquet({quote(str(roster / '**' / '*.parquet') if roster.is_dir() else roster)})"
    else:
        src = f"read_csv({quote(roster)}, header=true, all_varchar=true, delim=',', quote='\"')"
    return f"(SELECT CAST(line_id AS BIGINT) AS line_id, {name} AS name, CAST(phone AS VARCHAR) AS phone FROM {src})"


def _outage_sms_sql(incident: Incident, ledger: str, people: str) -> tuple[str, list[Any]]:
    d = incident.credit_policy.delivery
    message = ("CASE WHEN l.eligibility_reason = 'on_claim' OR ? THEN 'on_claim' "
               "WHEN ? THEN 'cash' ELSE 'bill_credit' END")
    # an invitation to apply goes out now (no day: before the claim window closes), not when it would be paid
    query = (f"SELECT CASE WHEN {message} = 'on_claim' THEN NULL ELSE l.credit_on END AS send_on, l.line_id, "
             f"l.customer_id, p.name, p.phone, {message} AS message, "
             f"l.credit_krw AS amount_krw FROM {ledger} AS l LEFT JOIN {people} AS p USING (line_id) "
             f"WHERE l.credit_krw > 0 ORDER BY l.line_id")
    flags = [bool(d.claim_required), d.method != "bill_credit"]
    return query, flags * 2


def _month_ko(month: str) -> str:
    return f"{int(month[:4])}년 {int(month[5:])}월" if month else ""


def _billing_sms_sql(ledger: str, people: str) -> tuple[str, list[Any]]:
    query = (f"SELECT e.send_on, e.line_id, e.customer_id, p.name, p.phone, e.message, e.amount_krw, e.payment_method "
             f"FROM (SELECT settled_on AS send_on, line_id, customer_id, action AS message, charged_krw AS amount_krw, "
             f"payment_method FROM {ledger} UNION ALL SELECT recharge_on, line_id, customer_id, 'recharge', "
             f"recharge_krw, payment_method FROM {ledger}) AS e LEFT JOIN {people} AS p USING (line_id) "
             f"ORDER BY e.send_on, e.line_id, e.message")
    return query, []


@dataclass
class StagedList:
    """An SMS list written beside its destination, moved into place when the run is published."""

    tmp: Path
    dest: Path
    rows: int

    def place(self) -> None:
        os.replace(self.tmp, self.dest)

    def discard(self) -> None:
        self.tmp.unlink(missing_ok=True)


def _rows(con: Any, query: str, params: list[Any]) -> Iterator[tuple[Any, ...]]:
    cur = con.execute(query, params)
    while True:
        batch = cur.fetchmany(100_000)
        if not batch:
            return
        yield from batch


def stage_sms_list(incident: Incident, folder: Path, summary: Summary, dest: Path, say: Say) -> StagedList:
    """The SMS send list for ``dest``, written now to a hidden file beside it, created owner-only
    (0600) from the start; :meth:`StagedList.place` moves it into place once the run is published.

    An outage: one row per line with a credit (``credit_krw`` > 0), sorted by ``line_id``; a billing
    error: one row per line and message (its cancellation or refund, and its re-charge), by day and
    ``line_id`` — the rows per day, payment method and message are checked against the summary's
    ``notifications`` (a :class:`RunError` otherwise). Nothing of it is logged but its row count."""
    ledger = f"read_parquet({quote(folder / 'ledger.parquet')})"
    people = _people_sql(incident.roster)
    billing = isinstance(summary, BillingSummary)
    query, params = _billing_sms_sql(ledger, people) if billing else _outage_sms_sql(incident, ledger, people)
    texts: dict[str, str] = {}
    if isinstance(summary, BillingSummary):
        texts = {n.message: n.text for n in summary.notifications}
    tmp = dest.with_name(f".{dest.name}.{os.getpid()}.partial")
    tmp.unlink(missing_ok=True)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    staged = StagedList(tmp, dest, 0)
    counts: dict[tuple[str, str, str], int] = {}
    con = connect()
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as fh:
            writer = csv.writer(fh, lineterminator="\n")
            writer.writerow(SMS_COLUMNS)
            for row in _rows(con, query, params):
                send_on, line_id, customer_id, name, phone, message, amount = row[:7]
                day = send_on.isoformat() if send_on is not None else ""
                if billing:
                    key = (day, row[7], message)
                    counts[key] = counts.get(key, 0) + 1
                    text = texts.get(message, "")
                else:
                    assert isinstance(summary, OutageSummary)
                    text = _outage_text(incident, summary, message, int(amount))
                writer.writerow([day, line_id, customer_id, name or "", phone or "", message, amount, text])
                staged.rows += 1
    except BaseException:
        staged.discard()
        raise
    finally:
        con.close()
    if billing:
        assert isinstance(summary, BillingSummary)
        planned = {(n.day, n.payment_method, n.message): n.lines for n in summary.notifications}
        if counts != planned:
            staged.discard()
            raise RunError(f"{incident.id}: reconciliation failed: the SMS list's rows per day, payment method and "
                           f"message differ from summary.json's notifications — {NOT_PUBLISHED}")
    say(f"{incident.id}: SMS send list: {staged.rows:,} rows, moved to {dest} once the run is published (owner-only)")
    return staged


def _outage_text(incident: Incident, summary: OutageSummary, message: str, amount: int) -> str:
    month = _bill_month(incident) if incident.credit_policy.delivery.method == "bill_credit" else ""
    until = f"{summary.claim_window_closes}까지 " if summary.claim_window_closes else ""
    return SMS_TEXT_OUTAGE[message].format(title=summary.title, amount=amount, month=_month_ko(month), until=until)


# ----- all of them ------------------------------------------------------------------------------------

def write_handover(incident: Incident, folder: Path, summary: Summary, *, xlsx: bool, say: Say) -> None:
    """The hand-over files of one run, in its staging folder, each checked before publishing:
    ``adjustments.csv`` (outages credited on the bill without an application) and, with ``xlsx``,
    ``report.xlsx``."""
    if isinstance(summary, OutageSummary):
        if write_adjustments(incident, folder, summary) is not None:
            done = check_adjustments(incident, folder, summary)
            say(f"{incident.id}: {ADJUSTMENTS_FILE}: {done['rows']:,} lines, {done['total_krw']:,} won")
        else:
            why = adjustments_skipped(incident) or "a line is owed only on application (on_claim)"
            say(f"{incident.id}: no {ADJUSTMENTS_FILE}: {why}")
    if xlsx:
        write_workbook(incident, folder, summary)
        say(f"{incident.id}: {WORKBOOK_FILE} written")


__all__ = ["ADJUSTMENTS_FILE", "WORKBOOK_FILE", "StagedList", "adjustments_skipped", "check_adjustments",
           "check_sms_list", "stage_sms_list", "write_adjustments", "write_handover", "write_workbook"]
