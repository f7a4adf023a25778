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
