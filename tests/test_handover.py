"""The hand-over files (kt_analysis/jobs/handover.py) through the command line: the billing system's
bulk adjustment file (adjustments.csv) agrees with the ledger and the summary, is the same bytes on a
rerun and a broken one is refused before publishing; report.xlsx has the report's tables with won as
formatted numbers and the summary's totals; the SMS send list is owner-only, refused inside the
output folder, and its phone numbers appear in no other output nor in the run's stdout/stderr."""

from __future__ import annotations

import csv
import json
import os
import re
import stat
import subprocess
import sys
import zipfile
from pathlib import Path

import pandas as pd
import pytest

from kt_analysis.errors import RunError
from kt_analysis.jobs import handover
from kt_analysis.jobs.run import run_incident

ROOT = Path(__file__).resolve().parents[1]
KT = Path(sys.executable).parent / "kt-analysis"
NATIONWIDE = ROOT / "data" / "incidents" / "kt-2021-10-25-nationwide.yml"
BILLING = ROOT / "data" / "incidents" / "kt-2023-09-billing-error.yml"
NID = "kt-2021-10-25-nationwide"
BID = "kt-2023-09-billing-error"


def kt(*args: object, umask: int | None = None) -> subprocess.CompletedProcess[str]:
    def pre() -> None:
        if umask is not None:
            os.umask(umask)

    return subprocess.run([str(KT), *map(str, args)], cwd=ROOT, capture_output=True, text=True, timeout=300,
                          preexec_fn=pre)


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict:
    tmp = tmp_path_factory.mktemp("handover")
    private = tmp / "private"
    private.mkdir()
    sms = private / "sms.csv"
    sms.write_text("an older list\n", encoding="utf-8")
    os.chmod(sms, 0o644)  # a list already there, readable by all: replaced by an owner-only one
    # umask 0: the list is owner-only because it is created so, not because of the umask
    first = kt("run", NATIONWIDE, "--out", tmp / "a", "--no-report", "--xlsx", "--sms-list", sms, umask=0)
    assert first.returncode == 0, first.stderr
    again = kt("run", NATIONWIDE, "--out", tmp / "b", "--no-report", "--xlsx")
    assert again.returncode == 0, again.stderr
    bsms = private / "billing-sms.csv"
    billing = kt("run", BILLING, "--out", tmp / "a", "--no-report", "--xlsx", "--sms-list", bsms)
    assert billing.returncode == 0, billing.stderr
    run = tmp / "a" / NID
    return {"tmp": tmp, "run": run, "again": tmp / "b" / NID, "sms": sms, "bsms": bsms, "billing": tmp / "a" / BID,
            "procs": [first, again, billing],
            "summary": json.loads((run / "summary.json").read_text(encoding="utf-8")),
            "ledger": pd.read_parquet(run / "ledger.parquet")}


def _adjustments(path: Path) -> tuple[list[str], list[list[str]], list[str]]:
    lines = path.read_text(encoding="utf-8").split("\n")
    assert lines[-1] == ""  # ends with a newline
    rows = list(csv.reader(lines[:-1]))
    return rows[0], rows[1:-1], rows[-1]


def test_adjustments_total_is_the_summary_and_rows_the_credited_lines(runs: dict) -> None:
    header, rows, control = _adjustments(runs["run"] / "adjustments.csv")
    assert header == ["line_id", "bill_month", "amount_krw", "reason_code", "incident_id"]
    ledger = runs["ledger"]
    credited = ledger[ledger["credit_krw"] > 0].sort_values("line_id")
    ids = [int(r[0]) for r in rows]
    assert ids == sorted(ids) == list(credited["line_id"])  # one row per credited line, by line_id
    assert [int(r[2]) for r in rows] == list(credited["credit_krw"])
    total = sum(int(r[2]) for r in rows)
    assert total == runs["summary"]["total_credit_krw"] == 61_963_797
    assert {r[1] for r in rows} == {"2021-12"}  # the policy's delivery.applied_on
    assert {r[4] for r in rows} == {NID}
    assert {r[3] for r in rows} <= set(handover.REASON_CODES.values())
    assert control == ["TOTAL", str(len(rows)), str(total), "", NID]


def test_the_handover_files_are_the_same_on_a_rerun(runs: dict) -> None:
    assert (runs["run"] / "adjustments.csv").read_bytes() == (runs["again"] / "adjustments.csv").read_bytes()
    assert _cells(runs["run"] / "report.xlsx") == _cells(runs["again"] / "report.xlsx")
    assert (runs["run"] / "report.xlsx").read_bytes() == (runs["again"] / "report.xlsx").read_bytes()


def test_a_billing_error_has_no_adjustment_file(runs: dict) -> None:
    assert not (runs["billing"] / "adjustments.csv").exists()
    assert (runs["billing"] / "summary.json").exists()


def test_a_broken_adjustment_file_is_refused_and_nothing_published(tmp_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    original = handover.write_adjustments

    def broken(incident, folder, summary):  # one row's amount 1 won more: the total no longer agrees
        dest = original(incident, folder, summary)
        lines = dest.read_text(encoding="utf-8").split("\n")
        line_id, month, amount, *rest = lines[1].split(",")
        lines[1] = ",".join([line_id, month, str(int(amount) + 1), *rest])
        dest.write_text("\n".join(lines), encoding="utf-8")
        return dest

    monkeypatch.setattr(handover, "write_adjustments", broken)
    sms = tmp_path / "sms.csv"
    with pytest.raises(RunError, match="adjustments.csv.*nothing was published"):
        run_incident(NATIONWIDE, out=tmp_path / "out", report=False, sms_list=sms)
    folder = tmp_path / "out" / NID
    assert not (folder / "summary.json").exists() and not (folder / "adjustments.csv").exists()
    assert "adjustments.csv" in (folder / "failed" / "error.txt").read_text(encoding="utf-8")
    assert list(tmp_path.glob("*sms*")) == []  # the staged send list went too


def _cells(path: Path) -> dict[str, list[tuple]]:
    from openpyxl import load_workbook

    book = load_workbook(path)
    return {ws.title: [tuple(c.value for c in row) for row in ws.iter_rows()] for ws in book.worksheets}


def _totals(ws) -> list[tuple]:
    """The 합계 rows of a sheet, as cell objects."""
    return [row for row in ws.iter_rows() if row[0].value == "합계"]


def test_the_workbook_has_the_tables_with_won_as_numbers_and_the_summary_totals(runs: dict) -> None:
    from openpyxl import load_workbook

    s = runs["summary"]
    book = load_workbook(runs["run"] / "report.xlsx")
    assert book.sheetnames == ["영향 범위", "보상", "정산"]
    impact = book["영향 범위"]
    totals = _totals(impact)
    assert len(totals) == 4  # by service, region, customer type, payment method
    for row in totals:
        assert [row[1].value, row[3].value, row[4].value] == [s["affected_lines"], s["eligible_lines"],
                                                              s["total_credit_krw"]]
        assert isinstance(row[4].value, int) and row[4].number_format == handover.WON_FORMAT
    won = [c for row in impact.iter_rows() for c in row if c.number_format == handover.WON_FORMAT]
    assert won and all(isinstance(c.value, int) for c in won)
    headers = {c.value for row in impact.iter_rows() for c in row if isinstance(c.value, str)}
    assert {"서비스", "지역", "고객 유형", "결제 수단", "보상액", "영향 회선"} <= headers
    credit = book["보상"]
    what_if = [row for row in credit.iter_rows() if row[0].value == s["what_if"][0]["policy_id"]]
    assert what_if[0][3].value == s["total_credit_krw"] and what_if[0][3].number_format == handover.WON_FORMAT
    settle = _totals(book["정산"])
    assert settle[0][2].value == sum(d["credit_krw"] for d in s["credit_timeline"]) == s["total_credit_krw"]
    assert book.properties.created == book.properties.modified  # fixed: the incident's start, not the run's time


def test_a_billing_error_workbook(runs: dict) -> None:
    from openpyxl import load_workbook

    s = json.loads((runs["billing"] / "summary.json").read_text(encoding="utf-8"))
    book = load_workbook(runs["billing"] / "report.xlsx")
    assert book.sheetnames == ["영향 범위", "정산", "안내 문자"]
    by_method = _totals(book["영향 범위"])[0]
    assert [c.value for c in by_method[1:8]] == [s["affected_lines"], None, s["total_charged_krw"],
                                                  s["total_owed_krw"], s["total_cancelled_krw"],
                                                  s["total_refund_krw"], s["total_recharge_krw"]]
    assert by_method[3].number_format == handover.WON_FORMAT
    notes = _totals(book["안내 문자"])[0]
    assert notes[4].value == sum(n["lines"] for n in s["notifications"])


def test_the_sms_list_is_owner_only_and_has_every_recipient(runs: dict) -> None:
    for path in (runs["sms"], runs["bsms"]):
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path
    assert not list(runs["sms"].parent.glob(".*partial"))
    frame = pd.read_csv(runs["sms"], dtype=str)
    assert list(frame.columns) == list(handover.SMS_COLUMNS)
    ledger = runs["ledger"]
    assert list(frame["line_id"].astype(int)) == sorted(ledger.loc[ledger["credit_krw"] > 0, "line_id"])
    assert frame["phone"].str.fullmatch(r"010-\d{4}-\d{4}").all()
    billing = pd.read_csv(runs["bsms"], dtype=str)
    s = json.loads((runs["billing"] / "summary.json").read_text(encoding="utf-8"))
    assert len(billing) == sum(n["lines"] for n in s["notifications"]) == 2 * s["affected_lines"]


def _text_of(path: Path) -> str:
    if path.suffix == ".parquet":
        return pd.read_parquet(path).to_csv()
    if path.suffix == ".xlsx":
        with zipfile.ZipFile(path) as z:
            return "".join(z.read(n).decode("utf-8", errors="replace") for n in z.namelist())
    return path.read_bytes().decode("utf-8", errors="replace")


def test_no_phone_number_of_the_list_leaks_into_another_output_or_the_log(runs: dict) -> None:
    phones = set(pd.read_csv(runs["sms"], dtype=str)["phone"]) | set(pd.read_csv(runs["bsms"], dtype=str)["phone"])
    assert len(phones) > 1_000
    forms = phones | {p.replace("-", "") for p in phones}
    files = [p for p in (runs["tmp"] / "a").rglob("*") if p.is_file()]
    files += [p for p in (runs["tmp"] / "b").rglob("*") if p.is_file()]
    assert {p.name for p in files} >= {"adjustments.csv", "report.xlsx", "summary.json", "run.json", "ledger.parquet"}
    for path in files:
        leaked = _phones_in(_text_of(path)) & forms
        assert not leaked, f"{path}: {sorted(leaked)[:3]}"
    for proc in runs["procs"]:
        for stream in (proc.stdout, proc.stderr):
            assert not _phones_in(stream) & forms


def _phones_in(text: str) -> set[str]:
    """Every run of digits and dashes that could be one of the list's numbers, dashed or bare."""
    return set(re.findall(r"(?<![\d-])0\d{1,2}-?\d{3,4}-?\d{4}(?![\d-])", text))


@pytest.mark.parametrize("where", ["list.csv", f"{NID}/list.csv", "."])
def test_an_sms_list_inside_the_output_folder_is_refused(tmp_path: Path, where: str) -> None:
    out = tmp_path / "reports"
    out.mkdir()
    done = kt("run", NATIONWIDE, "--out", out, "--no-report", "--sms-list", out / where)
    assert done.returncode == 2, done.stderr
    assert "--sms-list" in done.stderr and "output folder" in done.stderr
    assert not (out / NID).exists()  # refused before anything ran


def test_the_workbook_totals_are_checked_before_publishing() -> None:
    """A table whose rows do not add up to the summary's total is refused (not written)."""
    from openpyxl import Workbook

    sheet = handover.Sheet(Workbook().active, [])
    with pytest.raises(RunError, match="adds up to"):
        sheet.table("t", [handover.Column("구분"), handover.Column("보상액", "won")], [["a", 1], ["b", 2]], {1: 4})



def test_a_provisional_run_hands_nothing_to_billing_or_customers(tmp_path: Path) -> None:
    """An outage still going on (--as-of): no adjustments.csv for the billing system, and the SMS list
    (amounts told to customers) refused before anything runs."""
    ongoing = ROOT / "data" / "examples" / "ongoing" / "ongoing-2024-08-10.yml"
    kt = [sys.executable, "-m", "kt_analysis.cli"]
    out = tmp_path / "reports"
    done = subprocess.run([*kt, "run", str(ongoing), "--out", str(out), "--no-report", "--as-of", "2024-08-10T12:00"],
                          cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    folder = out / "ongoing-2024-08-10"
    assert (folder / "summary.json").exists() and not (folder / "adjustments.csv").exists()
    refused = subprocess.run([*kt, "run", str(ongoing), "--out", str(out), "--no-report", "--as-of",
                              "2024-08-10T12:00", "--sms-list", str(tmp_path / "sms.csv")],
                             cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert refused.returncode == 2 and "provisional" in refused.stderr and "Traceback" not in refused.stderr
    assert not (tmp_path / "sms.csv").exists()
