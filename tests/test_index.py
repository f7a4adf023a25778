"""The index's money column says what each incident costs, by kind (a billing error's credit total
is 0 by construction: showing it read as "nothing owed")."""

from __future__ import annotations

import json
from pathlib import Path

from kt_analysis.report.index import collect


def _folder(out: Path, name: str, summary: dict) -> None:
    folder = out / name
    folder.mkdir(parents=True)
    (folder / "summary.json").write_text(json.dumps(summary), encoding="utf-8")
    (folder / "run.json").write_text(json.dumps({"finished_at": "2026-12-04T08:00:00+00:00"}), encoding="utf-8")


def test_each_kind_shows_its_own_money(tmp_path: Path) -> None:
    _folder(tmp_path, "a-outage", {"kind": "outage", "title": "장애", "affected_lines": 80093,
                                   "total_credit_krw": 751787370, "total_refund_krw": 0})
    _folder(tmp_path, "b-billing", {"kind": "billing_error", "title": "과금 오류", "affected_lines": 3951,
                                    "total_credit_krw": 0, "total_refund_krw": 52000,
                                    "total_cancelled_krw": 104000})
    _folder(tmp_path, "c-refund-only", {"kind": "billing_error", "title": "환불만", "affected_lines": 1,
                                        "total_credit_krw": 0, "total_refund_krw": 7000,
                                        "total_cancelled_krw": 0})
    rows = {r["id"]: r for r in collect(tmp_path)}
    assert rows["a-outage"]["credit"] == "보상 751,787,370원"
    assert rows["b-billing"]["credit"] == "환불 52,000원 · 승인 취소 104,000원"
    assert rows["c-refund-only"]["credit"] == "환불 7,000원"
    assert {r["status"] for r in rows.values()} == {"ok"}
