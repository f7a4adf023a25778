"""The index's money column says what each incident costs, by kind (a billing error's credit total
is 0 by construction: showing it read as "nothing owed"), and a summary this version cannot read is
shown as failed with the reason, never as a run with blank figures."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from kt_analysis.inputs.incident import load_incident
from kt_analysis.jobs.analyse import analyse
from kt_analysis.report.index import collect

INCIDENTS = Path(__file__).resolve().parents[1] / "data" / "incidents"


@pytest.fixture(scope="module")
def real(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict]:
    """One real summary per kind, from the committed sample."""
    out = tmp_path_factory.mktemp("real")
    return {kind: analyse(load_incident(INCIDENTS / f"{name}.yml"), out / name).to_dict()
            for kind, name in (("outage", "kt-2024-08-10-landline"), ("billing_error", "kt-2023-09-billing-error"))}


def _folder(out: Path, name: str, summary: dict) -> None:
    folder = out / name
    folder.mkdir(parents=True)
    (folder / "summary.json").write_text(json.dumps(summary), encoding="utf-8")
    (folder / "run.json").write_text(json.dumps({"finished_at": "2026-12-04T08:00:00+00:00"}), encoding="utf-8")


def test_each_kind_shows_its_own_money(tmp_path: Path, real: dict[str, dict]) -> None:
    _folder(tmp_path, "a-outage", {**real["outage"], "title": "장애", "affected_lines": 80093,
                                   "total_credit_krw": 751787370})
    _folder(tmp_path, "b-billing", {**real["billing_error"], "title": "과금 오류", "affected_lines": 3951,
                                    "total_refund_krw": 52000, "total_cancelled_krw": 104000})
    _folder(tmp_path, "c-refund-only", {**real["billing_error"], "title": "환불만", "affected_lines": 1,
                                        "total_refund_krw": 7000, "total_cancelled_krw": 0})
    rows = {r["id"]: r for r in collect(tmp_path)}
    assert rows["a-outage"]["credit"] == "보상 751,787,370원"
    assert rows["a-outage"]["affected"] == "80,093"
    assert rows["b-billing"]["credit"] == "환불 52,000원 · 승인 취소 104,000원"
    assert rows["c-refund-only"]["credit"] == "환불 7,000원"
    assert {r["status"] for r in rows.values()} == {"ok"}


@pytest.mark.parametrize(("change", "named"), [
    ({"total_credit_krw": "751,787,370"}, "total_credit_krw: expected an integer"),
    ({"kind": "outgae"}, "kind: expected 'outage' or 'billing_error'"),
    ({"credit_histogram": None}, "credit_histogram: expected a list"),
    ({"by_region": {"서울": {"affected_lines": 1}}}, "by_region.서울.affected_customers: missing"),
    ({"extra_key": 1}, "extra_key: not a key of OutageSummary"),
])
def test_a_summary_this_version_cannot_read_is_failed_with_the_reason(
        tmp_path: Path, real: dict[str, dict], change: dict, named: str) -> None:
    """A summary written by an older version (no credit histogram), edited by hand or damaged is
    not shown with blank or partial figures: the row is failed and says which key and what to do."""
    _folder(tmp_path, "bad", {**real["outage"], **change})
    (row,) = collect(tmp_path)
    assert row["status"] == "failed"
    assert named in row["error"] and "run the incident again" in row["error"]
    assert row["credit"] == "" and row["affected"] == ""


def test_a_summary_round_trips_through_its_type(real: dict[str, dict]) -> None:
    from kt_analysis.summary.model import summary_from_dict

    for data in real.values():
        typed = summary_from_dict(data)
        assert typed.to_dict() == data
        assert list(typed.to_dict()) == list(data)  # the same key order: summary.json is byte-stable


# ----- issue #15 part 7: the index's times, settlement dates, flags and overview ---------------

def _rendered(out: Path) -> str:
    from kt_analysis.report.index import write_index

    return write_index(out).read_text(encoding="utf-8")


def _row_html(html: str, incident: str) -> str:
    start = html.index(f'<tr data-incident="{incident}"')
    return html[start:html.index("</tr>", start)]


def test_the_run_time_is_shown_in_korean_time(tmp_path: Path, real: dict[str, dict]) -> None:
    """run.json's UTC ``finished_at`` is shown in KST (here across midnight: the date moves too)."""
    from datetime import datetime
    from zoneinfo import ZoneInfo

    _folder(tmp_path, "a-outage", real["outage"])
    (tmp_path / "a-outage" / "run.json").write_text(
        json.dumps({"finished_at": "2026-12-02T18:13:40+00:00"}), encoding="utf-8")
    seoul = datetime.fromisoformat("2026-12-02T18:13:40+00:00").astimezone(ZoneInfo("Asia/Seoul"))
    (row,) = collect(tmp_path)
    assert row["finished_at"] == (f"{seoul.year}년 {seoul.month}월 {seoul.day}일 (목) "
                                  f"{seoul.hour:02d}:{seoul.minute:02d} KST") == "2026년 12월 3일 (목) 03:13 KST"
    html = _row_html(_rendered(tmp_path), "a-outage")
    assert "+00:00" not in html and "2026-12-02T18" not in html
    assert '<time datetime="2026-12-03T03:13:40+09:00">2026년 12월 3일 (목) 03:13 KST</time>' in html


def test_each_kind_shows_when_it_was_settled(tmp_path: Path, real: dict[str, dict]) -> None:
    """A billing error's row: its refunds and the dates from its summary (refunds done, settled);
    an outage's row: its credits and the date the credits are done; each with the days it took."""
    from kt_analysis.report import present

    _folder(tmp_path, "a-outage", {**real["outage"], "outage_start": "2024-08-10T06:15:00+09:00",
                                   "credit_completion_date": "2024-09-30"})
    _folder(tmp_path, "b-billing", {**real["billing_error"], "total_refund_krw": 21873900,
                                    "charged_on": "2023-09-11", "refund_completion_date": "2023-09-12",
                                    "settlement_completion_date": "2023-09-13"})
    _folder(tmp_path, "c-pending", {**real["outage"], "credit_completion_date": None})
    rows = {r["id"]: r for r in collect(tmp_path)}
    assert rows["a-outage"]["settled"] == ["보상 완료 2024년 9월 30일 (월)"] and rows["a-outage"]["days"] == 51
    assert rows["b-billing"]["settled"] == ["환불 완료 2023년 9월 12일 (화)", "정산 완료 2023년 9월 13일 (수)"]
    assert rows["b-billing"]["days"] == 2
    assert rows["c-pending"]["settled"] == ["보상 완료 미정"] and rows["c-pending"]["days"] is None
    billing = _row_html(_rendered(tmp_path), "b-billing")
    assert f"환불 {present.krw(21873900)}" in billing and "보상 0원" not in billing
    assert "2023년 9월 12일 (화)" in billing and "2023년 9월 13일 (수)" in billing and "2일" in billing


def test_an_incident_that_reaches_no_line_is_flagged(tmp_path: Path, real: dict[str, dict]) -> None:
    _folder(tmp_path, "a-none", {**real["outage"], "affected_lines": 0, "total_credit_krw": 0})
    _folder(tmp_path, "b-some", real["outage"])
    rows = {r["id"]: r for r in collect(tmp_path)}
    assert rows["a-none"]["flag"] == "영향 회선 없음" and rows["b-some"]["flag"] is None
    html = _rendered(tmp_path)
    assert 'data-flag="no-lines"' in _row_html(html, "a-none") and "영향 회선 없음" in _row_html(html, "a-none")
    assert "data-flag" not in _row_html(html, "b-some") and "영향 회선 없음" not in _row_html(html, "b-some")


def test_the_status_is_in_korean_and_the_overview_adds_up(tmp_path: Path, real: dict[str, dict]) -> None:
    from kt_analysis.report import present
    from kt_analysis.report.index import overview

    _folder(tmp_path, "a-outage", {**real["outage"], "affected_lines": 80093, "total_credit_krw": 751787370})
    _folder(tmp_path, "b-billing", {**real["billing_error"], "affected_lines": 4165, "total_refund_krw": 52000})
    (tmp_path / "c-broken").mkdir()
    rows = {r["id"]: r for r in collect(tmp_path)}
    assert rows["a-outage"]["status_label"] == "정상" and rows["c-broken"]["status_label"] == "실패"
    total = overview(list(rows.values()))
    assert total["incidents"] == "2" and total["lines"] == present.count(80093 + 4165)
    assert total["credit"] == present.krw(751787370) and total["refund"] == present.krw(52000)
    html = _rendered(tmp_path)
    assert "실패" in _row_html(html, "c-broken") and "<tfoot>" in html
    assert f"영향 회선 {present.count(84258)}" in html and f"보상 {present.krw(751787370)}" in html


# ----- the overview chart and the failure reasons ----------------------------------------------

def _chart_rows(html: str) -> dict[str, str]:
    """Each chart row's SVG group (its opening tag included), by incident."""
    import re

    svg = html[html.index('<svg class="chart"'):html.index("</svg>", html.index('<svg class="chart"'))]
    return {m.group(1): m.group(0) for m in re.finditer(r'<g class="chart-row" data-incident="([^"]+)".*?</g>',
                                                         svg, flags=re.S)}


def _attribute(tag_text: str, name: str) -> str:
    return _unescape(tag_text.split(f' {name}="', 1)[1].split('"', 1)[0])


def _unescape(text: str) -> str:
    import html as html_lib

    return html_lib.unescape(text)


def _expected_sentence(folder: Path) -> str:
    """What the chart must say of one incident, computed here from its summary.json alone."""
    from datetime import date

    from kt_analysis.report import present

    s = json.loads((folder / "summary.json").read_text(encoding="utf-8"))
    if s["kind"] == "billing_error":
        money = f"환불 {present.krw(s['total_refund_krw'])}"
        if s["total_cancelled_krw"]:
            money += f" (승인 취소 {present.krw(s['total_cancelled_krw'])} 별도)"
        start, end = s["charged_on"], s["settlement_completion_date"]
    else:
        money = f"보상 {present.krw(s['total_credit_krw'])}"
        start, end = s["outage_start"], s["credit_timeline"][-1]["day"]  # the last credit day
    days = (date.fromisoformat(end[:10]) - date.fromisoformat(start[:10])).days
    lines = present.count(s["affected_lines"])
    text = f"{s['title']} ({folder.name}): {money}, 영향 회선 {lines}, 처리 완료까지 {days}일"
    if s.get("claim_window_closes"):
        text += f", 청구 마감 {present.korean_date(date.fromisoformat(s['claim_window_closes']))}"
    return text


def test_the_chart_shows_each_summarys_figures(tmp_path: Path, real: dict[str, dict]) -> None:
    """One chart row per incident, in the table's order; its text alternative (the chart's
    aria-label, the row's, and the row's tooltip) holds the summary's exact figures, its bar the
    summary's amount: credits for an outage, refunds (not the cancelled approvals) for a billing
    error."""
    _folder(tmp_path, "a-outage", {**real["outage"], "title": "장애", "affected_lines": 80093,
                                   "total_credit_krw": 751787370})
    _folder(tmp_path, "b-billing", {**real["billing_error"], "title": "과금 오류", "affected_lines": 4165,
                                    "total_refund_krw": 21873900, "total_cancelled_krw": 195251310})
    _folder(tmp_path, "c-landline", {**real["outage"], "title": "유선", "affected_lines": 310,
                                     "total_credit_krw": 293340})
    html = _rendered(tmp_path)
    chart = _chart_rows(html)
    assert list(chart) == ["a-outage", "b-billing", "c-landline"]
    table = [m.split('"', 1)[0] for m in html.split('<tr data-incident="')[1:]]
    assert list(chart) == table
    label = _attribute(html[html.index('<svg class="chart"'):], "aria-label")
    assert label.startswith("사고별 보상·환불 총액, 영향 회선, 처리 완료까지 걸린 날 — ")
    for name, group in chart.items():
        sentence = _expected_sentence(tmp_path / name)
        assert _attribute(group, "aria-label") == sentence and sentence in label
        tooltip = _unescape(group[group.index("<title>") + 7:group.index("</title>")])
        assert sentence.endswith(f": {tooltip}")
    amounts = {name: int(group.split('data-amount="', 1)[1].split('"', 1)[0]) for name, group in chart.items()}
    assert amounts == {"a-outage": 751787370, "b-billing": 21873900, "c-landline": 293340}
    widths = {name: float(group.split('class="bar money"', 1)[1].split('width="', 1)[1].split('"', 1)[0])
              for name, group in chart.items()}
    assert widths["a-outage"] > widths["b-billing"] > widths["c-landline"] >= 2  # one scale; a small amount shows
    assert abs(widths["b-billing"] / widths["a-outage"] - 21873900 / 751787370) < 0.01
    assert "7.52억원" in chart["a-outage"] and "2,187만원" in chart["b-billing"]  # the short Korean label
    assert '<svg class="chart" role="img"' in html
    assert '<a href="a-outage/report.html">' not in html  # no report written here: no link to one


def test_failed_and_zero_line_incidents_are_words_not_bars(tmp_path: Path, real: dict[str, dict]) -> None:
    """An incident whose run failed (its last good summary still on disk), one that reached no
    line and one whose summary is damaged: no money bar of any length, a sentence instead."""
    _folder(tmp_path, "a-ok", real["outage"])
    _folder(tmp_path, "b-failed", real["outage"])
    (tmp_path / "b-failed" / "failed").mkdir()
    (tmp_path / "b-failed" / "failed" / "error.txt").write_text(
        "b-failed: reconciliation failed: the report's headline shows '1원' — not published\n", encoding="utf-8")
    _folder(tmp_path, "c-none", {**real["outage"], "affected_lines": 0, "total_credit_krw": 0,
                                 "credit_completion_date": None, "credit_timeline": []})
    _folder(tmp_path, "d-damaged", {**real["outage"], "kind": "outgae"})
    chart = _chart_rows(_rendered(tmp_path))
    assert set(chart) == {"a-ok", "b-failed", "c-none", "d-damaged"}
    assert 'class="bar money"' in chart["a-ok"]
    for name in ("b-failed", "c-none", "d-damaged"):
        assert "bar money" not in chart[name] and "data-amount" not in chart[name], name
    assert "실행 실패 — 대사 불일치로 게시 거부" in _unescape(chart["b-failed"])
    assert "실행 실패 — 요약 파일을 읽을 수 없음" in _unescape(chart["d-damaged"])
    assert "영향 회선 없음" in _unescape(chart["c-none"]) and "0 회선" in chart["c-none"]
    assert "bar days" not in chart["c-none"] and "미정" not in chart["c-none"]  # nothing to settle


def _messages() -> dict[str, str]:
    """A message of each failure class, as the run or run-all writes it to failed/error.txt (made
    by the code that writes it where that is cheap)."""
    import errno

    from kt_analysis.errors import output_fault
    from kt_analysis.jobs.run import check_headline
    from kt_analysis.report import present

    try:
        check_headline("kt-x", "outage", {"affected_lines": 1, "eligible_lines": 1, "total_credit_krw": 5},
                       '<section class="kt-headline"></section>')
    except Exception as exc:  # noqa: BLE001 - whatever it raises is what error.txt holds
        reconciliation = str(exc)
    try:
        present._font_families(set())
    except Exception as exc:  # noqa: BLE001
        font = f"kt-x: notebook report.ipynb (01 + 02) failed: {type(exc).__name__}: {exc}"
    return {
        "bad_input": "bad input: data/incidents/x.yml: affected.windows[0]: ends (2024-03-04 09:00) before it "
                     "starts (2024-03-04 10:00) — swap start and end, or fix the date",
        "timeout": "timed out after 3600 s: the run was stopped (a notebook cell or the kernel hung); "
                   "the last good report is unchanged",
        "reconciliation": reconciliation,
        "environment": font,
        "disk": str(output_fault(OSError(errno.ENOSPC, "No space left on device", "/r/kt-x/ledger.parquet"))),
        "locked": "kt-x: another run of this incident into reports is in progress (lock reports/.kt-x.lock); "
                  "wait for it to finish",
        "notebook": "kt-x: notebook report.ipynb (01 + 02) failed: ZeroDivisionError: division by zero "
                    "(executed notebook kept in the run's failed/ folder)",
        "interrupted": "Traceback (most recent call last):\n  File \"x.py\", line 1, in <module>\nKeyboardInterrupt",
        "unexpected": "Traceback (most recent call last):\n  File \"x.py\", line 1, in <module>\n"
                      "    boom()\nValueError: something nobody expected",
        "no_record": "",
    }


@pytest.mark.parametrize("reason", ["bad_input", "timeout", "reconciliation", "environment", "disk", "locked",
                                    "notebook", "interrupted", "unexpected", "no_record"])
def test_a_failed_run_says_why_in_korean(tmp_path: Path, real: dict[str, dict], reason: str) -> None:
    """The failure's class in Korean and what to do, visible in the row; the run's own message
    (English, for the engineer) one click away in a <details>, never lost."""
    import re

    from kt_analysis.report.index import REASONS

    message = _messages()[reason]
    _folder(tmp_path, "kt-x", real["outage"])
    (tmp_path / "kt-x" / "failed").mkdir()
    (tmp_path / "kt-x" / "failed" / "error.txt").write_text(message, encoding="utf-8")
    (row,) = collect(tmp_path)
    assert row["status"] == "failed" and row["reason"] == reason
    label, hint = REASONS[reason]
    assert re.search(r"[가-힣]", label) and re.search(r"[가-힣]", hint)
    html = _row_html(_rendered(tmp_path), "kt-x")
    assert f'data-reason="{reason}"' in html
    visible = _unescape(html.split("<details", 1)[0])
    assert label in visible and hint in visible
    if message:
        original = message.strip().splitlines()
        shown = original[-1] if original[0].startswith("Traceback") else original[0]  # a traceback: its exception
        details = _unescape(html[html.index("<details"):html.index("</details>")])
        assert row["error"] == shown.strip()[:300]  # the first line, as before (capped)
        assert message.strip() in details and shown.strip() not in visible and "Traceback" not in visible


def test_the_reasons_are_each_their_own() -> None:
    """Every class has its own Korean label (two classes never read alike), and the exit code of
    bad input, the one a script tests for, is named."""
    from kt_analysis.report.index import REASONS, failure_reason

    labels = [label for label, _hint in REASONS.values()]
    assert len(set(labels)) == len(labels)
    assert "종료 코드 2" in REASONS["bad_input"][0]
    assert {failure_reason(m) for m in _messages().values()} == set(_messages())
    # a bad input that mentions a disk word stays bad input; a notebook that died of a missing font
    # is the environment, not the notebook
    assert failure_reason("bad input: x.csv: cannot be read (Permission denied) — fix it") == "bad_input"
    assert failure_reason(_messages()["environment"]) == "environment"


def test_a_summary_this_version_cannot_read_says_so_in_korean(tmp_path: Path, real: dict[str, dict]) -> None:
    _folder(tmp_path, "bad", {**real["outage"], "credit_histogram": None})
    html = _row_html(_rendered(tmp_path), "bad")
    assert 'data-reason="summary"' in html and "요약 파일을 읽을 수 없음" in html
    assert "credit_histogram: expected a list" in _unescape(html.split("<details", 1)[1])


def test_the_index_is_one_file_with_no_external_reference(tmp_path: Path, real: dict[str, dict]) -> None:
    """The chart is inline: the index opens offline, copied alone, printed; no address, no file it
    loads (links to the reports are links, not loads), no script."""
    import re

    _folder(tmp_path, "a-outage", real["outage"])
    _folder(tmp_path, "b-billing", real["billing_error"])
    (tmp_path / "c-failed" / "failed").mkdir(parents=True)
    (tmp_path / "c-failed" / "failed" / "error.txt").write_text("bad input: x.yml: bad — fix\n", encoding="utf-8")
    html = _rendered(tmp_path)
    assert html.count("<svg") >= 1 and '<svg class="chart"' in html
    assert not re.search(r"https?://", html)
    assert not re.search(r"<[^>]+\s(?:src|srcset|xlink:href|data)\s*=", html, flags=re.I)
    assert not re.search(r"<(?:link|script|img|iframe|object|embed|image|use)\b", html, flags=re.I)
    assert "url(" not in html and "@import" not in html
    assert [p.name for p in tmp_path.iterdir() if p.is_file()] == ["index.html"]  # nothing written beside it
