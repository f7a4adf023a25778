"""The bad-input corpus (``tests/data/bad/``) through the real command line.

Every bad case runs ``kt-analysis validate`` and, where the input reaches a run, ``kt-analysis
run … --no-report --out <out>`` (or ``check-bills``) in a subprocess. The output folder already
holds a good outage run and a good billing-error run. Each command must exit 2 with one message
per problem that names the file, the row or field and the fix, print no traceback, leave the good
runs' files byte for byte as they were, and leave no temporary file behind. The accepted cases
(CP949 and BOM rosters, the incident's own offset, overlapping windows, an incident that reaches
no line, the largest total that fits in int64) must run and give the right figures.

``tests/data/bad/`` is a small project: ``data/policies/`` (one plain 10x policy, so what-if
compares with it only), ``data/settlement/``, a good roster, bills and two good incidents; then
one file per bad case in ``rosters/``, ``incidents/``, ``policies/``, ``windows/``, ``bills/`` and
``settlement/``. The fixtures below write the Parquet cases and the large int64 roster.

The good runs are made once, and each case gets a copy of their output folder. The cases then run
side by side in the background while the tests of accepted inputs run, and each before/after
snapshot belongs to one case.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

import duckdb
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from conftest import reference_credit

from kt_analysis.inputs.policy import load_policy

CORPUS = Path(__file__).resolve().parent / "data" / "bad"
KT = Path(sys.executable).parent / "kt-analysis"
PWNED = Path("/tmp/pwned-kt")  # what the custom-tag case would create if YAML tags were executed
INT64_MAX = 2**63 - 1


@dataclass(frozen=True)
class Case:
    """One bad input: the commands that must refuse it, and what their message must say."""

    name: str
    expect: tuple[str, ...]  # in stderr of every command: the file, the row or field, the fix
    validate: tuple[str, ...] = ()  # paths for `kt-analysis validate`
    run: tuple[str, ...] = ()  # arguments of `kt-analysis run` (then --no-report --out <out>)
    check_bills: str = ""  # a bills file for `kt-analysis check-bills --month 2023-09`


def roster(file: str, *expect: str) -> Case:
    """A bad roster: validated on its own, and run as the good incident's --roster."""
    return Case(file, (file, *expect), validate=(f"rosters/{file}",),
                run=("incidents/good.yml", "--roster", f"rosters/{file}"))


def incident(name: str, *expect: str, also: tuple[str, ...] = ()) -> Case:
    """A bad incident (or an incident naming a bad policy, windows, bills or settlement file)."""
    return Case(name, expect, validate=(f"incidents/{name}.yml", *also), run=(f"incidents/{name}.yml",))


CASES = [
    # --- rosters ---------------------------------------------------------------------------------
    roster("empty.csv", "is empty", "export the roster again with a header row"),
    roster("header_only.csv", "holds a header but no lines", "export the roster with its rows"),
    roster("semicolons.csv", "line 1", "is separated by ';', not commas", "export the CSV with commas"),
    roster("tabs.csv", "line 1", r"is separated by '\t', not commas", "export the CSV with commas"),
    roster("missing_column.csv", "header (line 1)", "missing required column(s): payment_method",
           "add them (the roster's columns: docs/bills.md)"),
    roster("fee_text_quoted.csv", "column monthly_fee_krw", "not whole numbers: line 3 ('12,000원')",
           "write whole won as digits only, e.g. 12000"),
    # Unquoted, the comma splits the fee in two: the line has one value too many.
    roster("fee_text_unquoted.csv", "line 3 (10 values)", "different number of values than the header (9 columns)",
           "write 12000, or quote the value"),
    roster("fee_won_suffix.csv", "column monthly_fee_krw", "line 3 ('12000원')", "write whole won as digits only"),
    roster("negative_fee.csv", "column monthly_fee_krw", "negative", "line 3 (-5000)",
           "write the monthly fee in whole won (0 or more)"),
    roster("missing_fee.csv", "column monthly_fee_krw", "is missing", "line 3",
           "write the monthly fee in whole won"),
    roster("fee_above_cap.csv", "column monthly_fee_krw", "above 100,000,000", "line 3 (100000001)",
           "write the monthly fee in whole won"),
    roster("fee_beyond_int64.csv", "column monthly_fee_krw", "too large", "line 3 ('9223372036854775808')",
           "check for a unit mistake"),
    roster("duplicate_line_id.csv", "column line_id", "has duplicates: line_id 1 at lines 2, 3",
           "keep one row per line_id"),
    roster("unknown_service.csv", "column service", "is not a known service: line 3 ('5g')",
           "use one of mobile, internet, iptv, landline"),
    roster("unknown_payment.csv", "column payment_method", "is not a known payment method: line 3 ('paypal')",
           "use one of credit_card, check_card, bank_transfer, giro, other"),
    # CP949 without a declaration is read (and its UTF-8 copy removed, whatever the verdict).
    roster("cp949_unknown_service.csv", "column service", "line 3 ('5g')", "use one of mobile"),
    roster("text_fee.parquet", "column monthly_fee_krw", "not integer",
           "store whole won as an integer column (no commas or 원)"),
    roster("missing_column.parquet", "columns", "missing required column(s): payment_method", "add them"),
    # --- incidents -------------------------------------------------------------------------------
    incident("window_reversed", "window_reversed.yml", "affected.windows[0]",
             "ends (2024-03-04 09:00) before it starts (2024-03-04 10:00)", "swap start and end"),
    incident("window_other_timezone", "window_other_timezone.yml", "affected.windows[0].start",
             "in another time zone (UTC+00:00) than the incident (Asia/Seoul, UTC+09:00)",
             "write local time without a zone"),
    incident("windows_file_other_timezone", "other_timezone.csv", "line 3, start", "UTC+00:00",
             "write local time without a zone"),
    incident("window_year_typo", "window_year_typo.yml", "affected.windows[0]", "2204-03-04 is outside the years",
             "check the year"),
    incident("path_traversal_id", "path_traversal_id.yml", "id: '../../etc' is not a valid incident id",
             "use lower-case letters, digits and -"),
    incident("custom_tag", "custom_tag.yml", "line 2, column 8", "custom YAML tags are not accepted",
             "no tags such as !!python"),
    incident("alias_bomb", "alias_bomb.yml", "line 3, column 8", "aliases (*name) are not accepted",
             "write the value out in full"),
    # "A policy that references a missing column": the policy language reaches roster columns only
    # through an override's `when`, which may name customer_type, services and regions. A `when` on
    # any other column (here `plan`, an optional roster column) is the closest real case; it is
    # refused when the policy is read, before any roster is opened. (A `regions` value that no
    # line has is not an error: a catalogue policy may name regions an incident does not reach.)
    incident("policy_unknown_column", "when_unknown_column.yml", "credit.overrides[0].when.plan: is not a known key",
             "known: customer_type, customer_types, regions, services", also=("policies/when_unknown_column.yml",)),
    # --- billing errors --------------------------------------------------------------------------
    incident("billing_unknown_payment", "billing_unknown_payment.yml", "billing.payment_methods[1]",
             "is 'paypal', not one of credit_card", "use one of those values"),
    incident("billing_year_typo", "billing_year_typo.yml", "billing.charged_on", "2203-09-11 is outside the years",
             "check the year"),
    incident("settlement_unknown_method", "unknown_method.yml", "methods.paypal: is not a payment method",
             "use one of credit_card", also=("settlement/unknown_method.yml",)),
    incident("bills_missing_month", "missing_month.csv", "bill_month", "has no bills for 2023-09",
             "add the 2023-09 bills"),
    incident("bills_text_amount", "text_amount.csv", "column amount_krw", "line 3 ('33,000원')",
             "write whole won as digits only"),
    # A line billed twice in a month the error concerns would be reversed twice.
    Case("bills_duplicate", ("duplicate_bill.csv", "line_id: has more than one bill", "for line_id 3",
                             "keep one bill per line and month"),
         run=("incidents/good-billing.yml", "--bills", "bills/duplicate_bill.csv")),
    Case("check_bills_missing_month", ("missing_month.csv", "bill_month", "has no bills for 2023-09",
                                       "check one of those months"), check_bills="bills/missing_month.csv"),
    Case("check_bills_text_amount", ("text_amount.csv", "amount_krw", "not whole numbers", "in whole won"),
         check_bills="bills/text_amount.csv"),
]


# --- running the command line ----------------------------------------------------------------------


def kt(*args: object, cwd: Path, tmp: Path, timeout: int = 120) -> subprocess.CompletedProcess[str]:
    """The installed console script, with its own TMPDIR (to see what it leaves behind)."""
    env = {**os.environ, "TMPDIR": str(tmp)}
    return subprocess.run([str(KT), "-q", *map(str, args)], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=timeout)


def snapshot(folder: Path) -> dict[str, str]:
    """Every file under ``folder`` with its sha256."""
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def outputs(folder: Path) -> dict[str, str]:
    """The snapshot without the (empty) lock files ``.<incident-id>.lock``: a run takes its lock
    before it reads the roster and the bills, and the file stays, as a lock file does."""
    return {name: digest for name, digest in snapshot(folder).items()
            if not (name.startswith(".") and name.endswith(".lock") and "/" not in name
                    and digest == hashlib.sha256(b"").hexdigest())}


@dataclass
class Outcome:
    """What one case's commands gave: (label, process, seconds), the output folder before and after
    the run, and what was left in the case's TMPDIR."""

    commands: list[tuple[str, subprocess.CompletedProcess[str], float]] = field(default_factory=list)
    out_before: dict[str, str] = field(default_factory=dict)
    out_after: dict[str, str] = field(default_factory=dict)
    leftovers: list[str] = field(default_factory=list)


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the corpus, plus the Parquet cases written here rather than committed."""
    root = tmp_path_factory.mktemp("bad") / "project"
    shutil.copytree(CORPUS, root)
    good = pd.read_csv(root / "roster.csv")
    text_fee = good.assign(monthly_fee_krw=["72,000원", "33000", "55000", "0", "15000"])
    text_fee.to_parquet(root / "rosters" / "text_fee.parquet", index=False)
    good.drop(columns=["payment_method"]).to_parquet(root / "rosters" / "missing_column.parquet", index=False)
    return root


@pytest.fixture(scope="module")
def out(project: Path) -> Path:
    """An output folder holding a good outage run and a good billing-error run."""
    folder = project.parent / "good-reports"
    for name in ("good", "good-billing"):
        result = kt("run", f"incidents/{name}.yml", "--no-report", "--out", folder, cwd=project, tmp=project.parent)
        assert result.returncode == 0, result.stderr
    summary = json.loads((folder / "bad-corpus-good" / "summary.json").read_text(encoding="utf-8"))
    assert (summary["affected_lines"], summary["total_credit_krw"]) == (3, 3_332)
    return folder


@pytest.fixture(scope="module", autouse=True)
def outcomes(project: Path, out: Path) -> Iterator[dict[str, Future[Outcome]]]:
    """Every case, several at a time, started with the module (the tests of accepted inputs run
    meanwhile); a test of a bad case waits for its own."""
    PWNED.unlink(missing_ok=True)

    def play(case: Case) -> Outcome:
        tmp = project.parent / "tmp" / case.name
        tmp.mkdir(parents=True)
        case_out = project.parent / "reports" / case.name
        shutil.copytree(out, case_out)
        result = Outcome()

        def timed(label: str, *args: object) -> None:
            started = time.monotonic()
            proc = kt(*args, cwd=project, tmp=tmp)
            result.commands.append((label, proc, time.monotonic() - started))

        if case.validate:
            timed("validate", "validate", *case.validate)
        if case.check_bills:
            timed("check-bills", "check-bills", case.check_bills, "--month", "2023-09")
        if case.run:
            result.out_before = outputs(case_out)
            timed("run", "run", *case.run, "--no-report", "--out", case_out)
            result.out_after = outputs(case_out)
        result.leftovers = sorted(p.name for p in tmp.iterdir())
        return result

    pool = ThreadPoolExecutor(max_workers=min(8, 2 * (os.cpu_count() or 1)))
    futures = {case.name: pool.submit(play, case) for case in CASES}
    yield futures
    pool.shutdown(wait=True)


# --- inputs that are accepted ---------------------------------------------------------------------


@pytest.mark.parametrize("file", ["cp949.csv", "bom.csv"])
def test_cp949_and_bom_rosters_are_read(file: str, project: Path, tmp_path: Path) -> None:
    """Encodings are accepted without a declaration; Korean region names arrive intact."""
    result = kt("validate", f"rosters/{file}", cwd=project, tmp=tmp_path)
    assert result.returncode == 0, result.stderr
    result = kt("run", "incidents/good.yml", "--roster", f"rosters/{file}", "--no-report", "--out", tmp_path / "out",
                cwd=project, tmp=tmp_path)
    assert result.returncode == 0, result.stderr
    summary = json.loads((tmp_path / "out" / "bad-corpus-good" / "summary.json").read_text(encoding="utf-8"))
    assert summary["by_region"]["서울"]["affected_lines"] == 3
    assert summary["total_credit_krw"] == 3_332  # as with the UTF-8 roster
    assert set(summary["by_region"]) == {"서울"}  # the only region, spelled as in the roster
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]  # the CP949 roster's UTF-8 copy is gone


def test_the_incidents_own_offset_is_accepted(project: Path, tmp_path: Path) -> None:
    """+09:00 is Asia/Seoul's own offset: the same outage as the good incident."""
    result = kt("run", "incidents/window_own_offset.yml", "--no-report", "--out", tmp_path, cwd=project, tmp=tmp_path)
    assert result.returncode == 0, result.stderr
    summary = json.loads((tmp_path / "bad-corpus-own-offset" / "summary.json").read_text(encoding="utf-8"))
    assert (summary["affected_lines"], summary["total_credit_krw"]) == (3, 3_332)


def test_overlapping_windows_are_merged(project: Path, tmp_path: Path) -> None:
    """Line 1 (mobile, 서울, F1) is reached by 10-12, 11-13 and 11:30-12:30: 180 minutes, not 300."""
    result = kt("run", "incidents/overlapping_windows.yml", "--no-report", "--out", tmp_path, cwd=project,
                tmp=tmp_path)
    assert result.returncode == 0, result.stderr
    ledger = tmp_path / "bad-corpus-overlap" / "ledger.parquet"
    minutes = dict(duckdb.sql(f"SELECT line_id, outage_minutes FROM '{ledger}'").fetchall())
    assert minutes == {1: 180, 2: 180, 3: 60, 5: 120}  # line 4 (iptv, 제주, F3) is not reached
    assert minutes[1] != 120 + 120 + 60
    credits = dict(duckdb.sql(f"SELECT line_id, credit_krw FROM '{ledger}'").fetchall())
    assert credits[1] == 72_000 * 180 * 10 // (720 * 60)  # 10x three hours of a 72,000 won plan


def test_an_incident_that_reaches_no_line(project: Path, tmp_path: Path) -> None:
    """A region no line is in, allowed by the incident (``allow_unmatched: true``; without it the
    name is refused): exit 0, a valid summary of zeros that lists the name, and a report that says
    so (the full report: its summary is the one --no-report writes)."""
    result = kt("run", "incidents/zero_affected.yml", "--out", tmp_path, cwd=project, tmp=tmp_path)
    assert result.returncode == 0, result.stderr
    folder = tmp_path / "bad-corpus-nobody"
    summary = json.loads((folder / "summary.json").read_text(encoding="utf-8"))
    assert summary["affected_lines"] == summary["eligible_lines"] == summary["total_credit_krw"] == 0
    assert summary["by_region"] == {} and summary["credit_timeline"] == []
    assert summary["roster_lines"] == 5
    assert [(u["column"], u["value"]) for u in summary["unmatched_names"]] == [("region", "울릉도")]
    assert [(r["lines"], r["customers"]) for r in summary["reach"]] == [(0, 0)]
    assert duckdb.sql(f"SELECT count(*) FROM '{folder / 'ledger.parquet'}'").fetchall() == [(0,)]
    html = (folder / "report.html").read_text(encoding="utf-8")
    # one statement that no line was reached, not a row of zero cards
    assert html.count("에 해당하는 회선이 없습니다") == 1 and "영향 회선, 보상 대상과 보상액이 모두 0입니다" in html
    assert not (folder / "failed").exists()


# --- totals near int64 ----------------------------------------------------------------------------
# The roster caps a fee at 100,000,000 won and the policy language caps every part of a credit
# (policies/max_credit.yml sets each at its maximum). Windows must fall in the years the business
# calendar covers (2000-2049), so one line is out at most 50 years: its credit is then 6.1e12 won
# and its intermediate products stay 17 times below int64. A total can still overflow: 1,512,007
# such lines do. Here the largest roster that fits gives the exact total, one more line exit 2.

FIFTY_YEARS = (datetime(2000, 1, 1), datetime(2049, 12, 31, 23, 59))


def _max_credit() -> int:
    policy = load_policy(CORPUS / "policies" / "max_credit.yml")
    minutes = int((FIFTY_YEARS[1] - FIFTY_YEARS[0]).total_seconds()) // 60
    line = {"service": "mobile", "customer_type": "individual", "region": "서울", "monthly_fee_krw": 100_000_000,
            "outage_minutes": minutes, "longest_continuous_minutes": minutes, "monthly_cumulative_minutes": 44_640,
            "outage_days": -(-minutes // 1440), "days_in_month": 31}
    eligible, _reason, _rule, credit = reference_credit(policy, line)
    assert eligible
    return credit


@pytest.fixture(scope="module")
def max_project(project: Path) -> tuple[Path, int]:
    """The largest roster whose total fits in int64 (facility F1), and one more line (F2)."""
    credit = _max_credit()
    fits = INT64_MAX // credit
    n = fits + 1
    ids = pa.array(range(1, n + 1), pa.int64())

    def same(value: object, kind: pa.DataType) -> pa.Array:
        return pa.array([value] * n, kind).dictionary_encode() if kind == pa.string() else pa.array([value] * n, kind)

    facility = pa.array(["F1"] * fits + ["F2"], pa.string()).dictionary_encode()
    table = pa.table({
        "line_id": ids, "customer_id": ids, "service": same("mobile", pa.string()),
        "monthly_fee_krw": same(100_000_000, pa.int64()), "region": same("서울", pa.string()),
        "facility_id": facility, "customer_type": same("individual", pa.string()),
        "payment_method": same("credit_card", pa.string()), "bill_cycle_day": same(11, pa.int64()),
    })
    pq.write_table(table, project / "max_roster.parquet")
    for name, facilities in (("fits", ["F1"]), ("overflows", ["F1", "F2"])):
        rows, start = ["facility_id,service,start,end"], FIFTY_YEARS[0]
        while start < FIFTY_YEARS[1]:
            end = min(start + timedelta(days=92), FIFTY_YEARS[1])
            rows += [f"{f},,{start:%Y-%m-%dT%H:%M},{end:%Y-%m-%dT%H:%M}" for f in facilities]
            start = end
        (project / "windows" / f"fifty_years_{name}.csv").write_text("\n".join(rows) + "\n", encoding="utf-8")
        (project / "incidents" / f"max_{name}.yml").write_text(
            f"id: bad-corpus-max-{name}\ntitle: 시험용 최대 보상\nkind: outage\ntimezone: Asia/Seoul\n"
            f"policy: policies/max_credit.yml\nroster: max_roster.parquet\n"
            f"affected:\n  windows_file: windows/fifty_years_{name}.csv\n", encoding="utf-8")
    return project, credit


def test_the_largest_total_that_fits_is_exact(max_project: tuple[Path, int], tmp_path: Path) -> None:
    project, credit = max_project
    fits = INT64_MAX // credit
    result = kt("run", "incidents/max_fits.yml", "--no-report", "--out", tmp_path, cwd=project, tmp=tmp_path)
    assert result.returncode == 0, result.stderr
    folder = tmp_path / "bad-corpus-max-fits"
    summary = json.loads((folder / "summary.json").read_text(encoding="utf-8"))
    assert summary["affected_lines"] == fits == 1_512_006
    assert summary["total_credit_krw"] == fits * credit  # exact to the won
    assert INT64_MAX - summary["total_credit_krw"] < credit
    row = duckdb.sql(f"SELECT min(credit_krw), max(credit_krw), sum(credit_krw) FROM '{folder / 'ledger.parquet'}'")
    assert row.fetchall() == [(credit, credit, fits * credit)]


def test_a_total_beyond_int64_is_refused(max_project: tuple[Path, int], tmp_path: Path) -> None:
    project, _credit = max_project
    out = tmp_path / "out"
    result = kt("run", "incidents/max_overflows.yml", "--no-report", "--out", out, cwd=project, tmp=tmp_path)
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    for text in ("max_roster.parquet", "monthly_fee_krw", "overflows int64", "check the roster's fees"):
        assert text in result.stderr, result.stderr
    assert not (out / "bad-corpus-max-overflows").exists()


def test_path_traversal_id_writes_nothing_anywhere(project: Path, tmp_path: Path) -> None:
    """An id such as ../../etc names the output folder: refused before anything is written."""
    out = tmp_path / "a" / "b" / "reports"
    before, project_before = snapshot(tmp_path), snapshot(project)
    result = kt("run", "incidents/path_traversal_id.yml", "--out", out, cwd=project, tmp=project.parent)
    assert result.returncode == 2, result.stderr
    assert "not a valid incident id" in result.stderr
    assert snapshot(tmp_path) == before and not (tmp_path / "a").exists()
    assert snapshot(project) == project_before
    assert not (tmp_path / "etc").exists()


# --- the bad cases (played in the background since the module started) -----------------------------


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_bad_input_is_refused_with_a_message(case: Case, outcomes: dict[str, Future[Outcome]]) -> None:
    outcome = outcomes[case.name].result()
    assert outcome.commands
    for label, proc, _seconds in outcome.commands:
        err = proc.stderr
        assert proc.returncode == 2, f"{label}: exit {proc.returncode}\n{err}"
        assert "Traceback" not in err, f"{label}:\n{err}"
        assert err.startswith("error: "), f"{label}:\n{err}"
        missing = [text for text in case.expect if text not in err]
        assert not missing, f"{label}: stderr lacks {missing}:\n{err}"
        assert " — " in err, f"{label}: no fix given:\n{err}"
    assert outcome.out_before == outcome.out_after, "the good runs' outputs changed"
    assert outcome.leftovers == [], "temporary files left behind"


def test_yaml_tags_are_never_executed(outcomes: dict[str, Future[Outcome]]) -> None:
    outcomes["custom_tag"].result()
    assert not PWNED.exists()


def test_alias_bomb_is_refused_at_once(outcomes: dict[str, Future[Outcome]]) -> None:
    for label, _proc, seconds in outcomes["alias_bomb"].result().commands:
        assert seconds < 20, f"{label} took {seconds:.1f} s: the aliases were expanded"
