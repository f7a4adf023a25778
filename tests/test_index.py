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
