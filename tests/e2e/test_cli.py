"""The CLI end to end: the commands and files a user touches."""

from __future__ import annotations

import hashlib
import json
import textwrap
from pathlib import Path

import duckdb
import pyarrow.parquet as pq
import pytest

from kt_analysis.jobs.run import check_headline
from kt_analysis.report import present

from .conftest import NATIONWIDE, ROOT, kt


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text).lstrip(), encoding="utf-8")
    return path


@pytest.fixture()
def table_project(tmp_path: Path) -> Path:
    """A tiny project: three 72,000 won lines out for 1 h, 2 h and 5 h under a 10x policy."""
    _write(tmp_path / "data" / "policies" / "table-10x.yml", """
        id: table-10x
        title: 고객 안내표 — 장애시간 요금의 10배
        sources: ["https://examo.co.kr/?p=779"]
        services: [mobile]
        hourly_fee: {hours_per_month: 720}
        credit:
          outage_multiplier: 10
          rounding: {unit_krw: 1, mode: floor}
    """)
    _write(tmp_path / "roster.csv", """
        line_id,customer_id,service,monthly_fee_krw,region,facility_id,customer_type,payment_method,bill_cycle_day
        1,101,mobile,72000,서울,F1,individual,credit_card,11
        2,102,mobile,72000,서울,F2,individual,check_card,19
        3,103,mobile,72000,부산,F3,individual,bank_transfer,21
        4,104,mobile,72000,부산,F4,individual,giro,25
    """)
    _write(tmp_path / "data" / "incidents" / "table.yml", """
        id: table-example
        title: 안내표 예시
        kind: outage
        timezone: Asia/Seoul
        policy: table-10x
        roster: roster.csv
        affected:
          windows:
            - {start: 2024-03-04T10:00, end: 2024-03-04T11:00, where: {facilities: [F1]}}
            - {start: 2024-03-04T10:00, end: 2024-03-04T12:00, where: {facilities: [F2]}}
            - {start: 2024-03-04T10:00, end: 2024-03-04T15:00, where: {facilities: [F3]}}
    """)
    return tmp_path


def test_customer_facing_table_through_the_cli(table_project: Path) -> None:
    # The table customers were shown: 1 h → 10 h of fee; a 72,000 won plan → 1,000 won an hour.
    result = kt("run", table_project / "data/incidents/table.yml", "--no-report",
                "--out", table_project / "reports", cwd=table_project)
    assert result.returncode == 0, result.stderr
    out = table_project / "reports" / "table-example"
    credits = dict(duckdb.sql(
        f"SELECT line_id, credit_krw FROM read_parquet('{out / 'ledger.parquet'}') ORDER BY line_id"
    ).fetchall())
    assert credits == {1: 1_000, 2: 2_000, 3: 5_000}  # line 4 (F4) was not reached
    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    assert summary["total_credit_krw"] == 8_000
    assert summary["affected_lines"] == 3
    assert "8,000 won" in result.stdout


def test_no_report_runs_are_byte_identical(table_project: Path) -> None:
    digests = []
    for out in ("a", "b"):
        result = kt("run", table_project / "data/incidents/table.yml", "--no-report",
                    "--out", table_project / out, cwd=table_project)
        assert result.returncode == 0, result.stderr
        folder = table_project / out / "table-example"
        digests.append((_digest(folder / "summary.json"), _digest(folder / "ledger.parquet")))
    assert digests[0] == digests[1]


@pytest.mark.parametrize("command", ["validate", "run"])
def test_broken_incident_exits_2_with_a_message(table_project: Path, command: str) -> None:
    incident = table_project / "data/incidents/table.yml"
    text = incident.read_text(encoding="utf-8").replace(
        "end: 2024-03-04T11:00", "end: 2024-03-04T09:00")
    broken = _write(table_project / "data/incidents/broken.yml", text)
    result = kt(command, broken, cwd=table_project)
    assert result.returncode == 2
    assert "broken.yml" in result.stderr
    assert "affected.windows[0]" in result.stderr
    assert "before it starts" in result.stderr
    assert "Traceback" not in result.stderr


def test_validate_names_the_bad_roster_line(table_project: Path) -> None:
    roster = table_project / "roster.csv"
    lines = roster.read_text(encoding="utf-8").splitlines()
    lines[2] = lines[2].replace("72000", '"12,000원"')
    roster.write_text("\n".join(lines) + "\n", encoding="utf-8")
    result = kt("validate", roster, cwd=table_project)
    assert result.returncode == 2
    assert "roster.csv" in result.stderr and "monthly_fee_krw" in result.stderr
    assert "line 3" in result.stderr
    assert "Traceback" not in result.stderr


def test_validate_accepts_the_shipped_inputs() -> None:
    result = kt("validate", "data/incidents", "kt_analysis/catalogue/policies", "data/sample/roster.parquet")
    assert result.returncode == 0, result.stderr
    assert result.stdout.count("ok: ") >= 9


def test_generate_writes_a_valid_roster(tmp_path: Path) -> None:
    result = kt("generate", "--lines", "3000", "--seed", "7", "--out", tmp_path)
    assert result.returncode == 0, result.stderr
    assert pq.read_metadata(tmp_path / "roster.parquet").num_rows == 3000
    assert kt("validate", tmp_path / "roster.parquet").returncode == 0


@pytest.mark.slow
def test_nationwide_report_reconciles(nationwide_report: Path) -> None:
    folder = nationwide_report
    for name in ("report.html", "summary.json", "ledger.parquet", "run.json",
                 "notebooks/report.ipynb"):
        assert (folder / name).exists(), name
    summary = json.loads((folder / "summary.json").read_text(encoding="utf-8"))
    ledger_sum = duckdb.sql(
        f"SELECT sum(credit_krw) FROM read_parquet('{folder / 'ledger.parquet'}')").fetchall()[0][0]
    assert ledger_sum == summary["total_credit_krw"] > 0
    assert str(pq.read_schema(folder / "ledger.parquet").field("credit_krw").type) == "int64"
    html = (folder / "report.html").read_text(encoding="utf-8")
    # The headline's cards show the summary's figures exactly (not merely somewhere on the page).
    check_headline(summary["incident_id"], "outage", summary, html)
    assert f'<div class="kt-card-small">{present.krw(summary["total_credit_krw"])}</div>' in html


@pytest.mark.slow
def test_report_has_no_code_no_scripts_no_personal_data(nationwide_report: Path) -> None:
    html = (nationwide_report / "report.html").read_text(encoding="utf-8")
    assert "<script" not in html.lower()
    assert "open_view(" not in html and "injected-parameters" not in html
    assert "cdnjs" not in html and 'src="http' not in html
    roster = pq.read_table(ROOT / "data/sample/roster.parquet", columns=["name", "phone"]).slice(0, 300)
    files = [p for p in nationwide_report.rglob("*") if p.is_file()]
    blobs = {p: p.read_bytes() for p in files}
    for name, phone in zip(roster.column("name").to_pylist(), roster.column("phone").to_pylist(), strict=True):
        for p, blob in blobs.items():
            assert phone.encode() not in blob, f"{phone} in {p}"
            if len(name) >= 3:
                assert name.encode() not in blob or p.suffix == ".parquet", f"{name} in {p}"
    assert "name" not in pq.read_schema(nationwide_report / "ledger.parquet").names
    assert "phone" not in pq.read_schema(nationwide_report / "ledger.parquet").names


@pytest.mark.slow
def test_a_failed_run_leaves_the_previous_report_intact(nationwide_report: Path, tmp_path: Path) -> None:
    before = {p: _digest(p) for p in nationwide_report.rglob("*") if p.is_file()}
    bad_roster = _write(tmp_path / "bad.csv", "line_id;customer_id;service\n1;2;mobile\n")
    result = kt("run", NATIONWIDE, "--roster", bad_roster, "--out", nationwide_report.parent)
    assert result.returncode == 2
    assert "bad.csv" in result.stderr and "Traceback" not in result.stderr
    after = {p: _digest(p) for p in nationwide_report.rglob("*") if p.is_file()}
    assert after == before
    assert not [p for p in nationwide_report.parent.iterdir() if p.name.startswith(".staging")]


@pytest.mark.slow
def test_papermill_driven_by_hand_gives_the_cli_figures(tmp_path: Path) -> None:
    """`papermill notebooks/X.ipynb out.ipynb -k kt-analysis -p incident …` works, same figures."""
    import subprocess
    import sys

    import nbformat

    incident = "data/incidents/kt-2024-08-10-landline.yml"
    out_nb = tmp_path / "out.ipynb"
    proc = subprocess.run(
        [sys.executable, "-m", "papermill", "notebooks/02_credits.ipynb", str(out_nb),
         "-k", "kt-analysis", "-p", "incident", incident, "--no-progress-bar"],
        cwd=ROOT, capture_output=True, text=True, timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    cli = kt("run", incident, "--no-report", "--out", tmp_path / "reports")
    assert cli.returncode == 0, cli.stderr
    summary = json.loads((tmp_path / "reports/kt-2024-08-10-landline/summary.json").read_text(encoding="utf-8"))
    nb = nbformat.read(out_nb, as_version=4)
    shown = json.dumps([c.get("outputs", []) for c in nb.cells if c.cell_type == "code"], ensure_ascii=False)
    assert present.krw(summary["total_credit_krw"]) in shown
    assert '"output_type": "error"' not in shown


@pytest.mark.slow
def test_billing_error_report_reconciles_and_masks(tmp_path: Path) -> None:
    incident = ROOT / "data/incidents/kt-2023-09-billing-error.yml"
    result = kt("run", incident, "--out", tmp_path, "--bills", ROOT / "data/sample/bills.parquet")
    assert result.returncode == 0, result.stderr
    folder = tmp_path / "kt-2023-09-billing-error"
    summary = json.loads((folder / "summary.json").read_text(encoding="utf-8"))
    sums = duckdb.sql(
        f"SELECT sum(charged_krw), sum(cancelled_krw + refund_krw), sum(refund_krw), sum(recharge_krw), "
        f"sum(owed_krw) FROM read_parquet('{folder / 'ledger.parquet'}')").fetchall()[0]
    assert sums[0] == sums[1] == summary["total_charged_krw"] > 0
    assert sums[2] == summary["total_refund_krw"] > 0
    assert sums[3] == sums[4] == summary["total_recharge_krw"]
    assert summary["refund_completion_date"] == "2023-09-12"
    html = (folder / "report.html").read_text(encoding="utf-8")
    check_headline(summary["incident_id"], "billing_error", summary, html)
    for key in ("total_charged_krw", "total_refund_krw"):
        assert f'<div class="kt-card-small">{present.krw(summary[key])}</div>' in html
    assert "--bills data/sample/bills.parquet" in json.loads((folder / "run.json").read_text())["command"]
    roster = pq.read_table(ROOT / "data/sample/roster.parquet", columns=["name", "phone"])
    blobs = [p.read_bytes() for p in folder.rglob("*") if p.is_file()]
    for phone in roster.column("phone").to_pylist()[:2000]:
        assert not any(phone.encode() in b for b in blobs)
    assert "****" in html  # the masked sample is there, masked
