"""Proofs that can fail: every reconciliation of a run, shown to fail when one side is wrong.

Each test runs the real command line in a subprocess (``kt_analysis.cli.main``) after patching one
function to damage one side — a ledger row dropped or altered after writing, a summary figure off
by one won, a breakdown off, the report's headline showing another figure, a reversal off by one
won — and asserts: exit 1, ``error: … reconciliation failed`` (or ``money not conserved``) naming
both figures, ``failed/error.txt`` kept, nothing published, and the earlier good report in the
same ``--out`` byte for byte as it was. The same harness without a fault publishes the right
figures, and with the fault but the check switched off it publishes a wrong one: each check, and
only it, stops the fault.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from refusal import assert_refused, small_project, snapshot

GOOD_ID = "bad-corpus-good"  # 3 lines, 3 eligible, 3,332 won
BILLING_ID = "bad-corpus-billing"  # 3 lines, 156,000 won charged, 52,000 won refunded

# Faults: Python run before the command line, each damaging one side of one check.
LEDGER_DROPS_A_ROW = """
import pyarrow.parquet as pq
import kt_analysis.jobs.analyse as a
real = a.write_ledger
def write_ledger(per_line, policy, path, **kw):
    real(per_line, policy, path, **kw)
    table = pq.read_table(path)
    pq.write_table(table.slice(0, table.num_rows - 1), path)
a.write_ledger = write_ledger
"""
SUMMARY_TOTAL_OFF_BY_ONE = """
import dataclasses
import kt_analysis.jobs.analyse as a
real = a.build_summary
def build_summary(*args, **kw):
    s = real(*args, **kw)
    return dataclasses.replace(s, total_credit_krw=s.total_credit_krw + 1)
a.build_summary = build_summary
"""
BREAKDOWN_OFF_BY_ONE = """
import dataclasses
import kt_analysis.jobs.analyse as a
real = a.build_summary
def build_summary(*args, **kw):
    s = real(*args, **kw)
    key, row = next(iter(s.by_region.items()))
    row = dataclasses.replace(row, total_credit_krw=row.total_credit_krw + 1)
    return dataclasses.replace(s, by_region={**s.by_region, key: row})
a.build_summary = build_summary
"""
HEADLINE_SHOWS_ANOTHER_TOTAL = """
import kt_analysis.jobs.run as r
real = r.render_report
def render_report(executed, title, dest):
    real(executed, title, dest)
    html = dest.read_text(encoding="utf-8")
    card = '<div class="kt-card-small">3,332원</div>'
    assert html.count(card) == 1
    html = html.replace(card, '<div class="kt-card-small">3,331원</div>')
    dest.write_text(html, encoding="utf-8")
    return html
r.render_report = render_report
"""
BILLING_LEDGER_ROW_REVERSES_ONE_WON_MORE = """
import pyarrow as pa, pyarrow.compute as pc, pyarrow.parquet as pq
import kt_analysis.jobs.analyse as st
real = st.write_billing_ledger
def write_billing_ledger(con, incident, roster_sql, path, calendar):
    plan = real(con, incident, roster_sql, path, calendar)
    t = pq.read_table(path)
    refund = t.column("refund_krw").to_pylist()
    refund[0] += 1
    t = t.set_column(t.schema.get_field_index("refund_krw"), "refund_krw", pa.array(refund, pa.int64()))
    pq.write_table(t, path)
    return plan
st.write_billing_ledger = write_billing_ledger
"""
BILLING_SUMMARY_REFUND_OFF_BY_ONE = """
import dataclasses
import kt_analysis.jobs.analyse as st
real = st.build_billing_summary
def build_billing_summary(*args, **kw):
    s = real(*args, **kw)
    return dataclasses.replace(s, total_refund_krw=s.total_refund_krw + 1)
st.build_billing_summary = build_billing_summary
"""
BILLING_LEDGER_DROPS_A_ROW = """
import pyarrow.parquet as pq
import kt_analysis.jobs.analyse as st
real = st.write_billing_ledger
def write_billing_ledger(con, incident, roster_sql, path, calendar):
    plan = real(con, incident, roster_sql, path, calendar)
    table = pq.read_table(path)
    pq.write_table(table.slice(0, table.num_rows - 1), path)
    return plan
st.write_billing_ledger = write_billing_ledger
"""
BILLING_BREAKDOWN_OFF_BY_ONE = """
import dataclasses
import kt_analysis.jobs.analyse as st
real = st.build_billing_summary
def build_billing_summary(*args, **kw):
    s = real(*args, **kw)
    key, row = next(iter(s.by_service.items()))
    row = dataclasses.replace(row, charged_krw=row.charged_krw + 1)
    return dataclasses.replace(s, by_service={**s.by_service, key: row})
st.build_billing_summary = build_billing_summary
"""
# The checks switched off (to show that the fault is real and that only the check stops it).
# Both guards off: the analysis's reconciliation and the hand-over file's check (adjustments.csv is
# checked against the summary too, and would refuse the same faults on its own).
NO_RECONCILE = ("import kt_analysis.jobs.analyse as a\na._reconcile = lambda *args, **kw: None\n"
                "import kt_analysis.jobs.handover as h\nh.check_adjustments = lambda *args, **kw: {'rows': 0, "
                "'total_krw': 0}\n")
NO_BILLING_RECONCILE = "import kt_analysis.jobs.analyse as a\na._reconcile_billing = lambda *args, **kw: None\n"


def kt_with(fault: str, *args: object, cwd: Path, timeout: int = 300) -> subprocess.CompletedProcess[str]:
    """The command line in a fresh interpreter, after running ``fault`` (Python) in it."""
    script = "\n".join([textwrap.dedent(fault), "from kt_analysis.cli import main",
                        f"raise SystemExit(main({['-q', *map(str, args)]!r}))"])
    return subprocess.run([sys.executable, "-c", script], cwd=cwd, capture_output=True, text=True, timeout=timeout,
                          env={**os.environ, "TMPDIR": str(cwd.parent)})


@pytest.fixture(scope="module")
def good_project(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, subprocess.CompletedProcess[str]]]:
    """The small project with a good report of each incident in ``reports/``, made by the same
    harness without a fault (the outage with its report.html, the billing error without)."""
    project = small_project(tmp_path_factory.mktemp("reconcile") / "p")
    runs = {
        GOOD_ID: kt_with("", "run", "incidents/good.yml", "--out", "reports", cwd=project),
        BILLING_ID: kt_with("", "run", "incidents/good-billing.yml", "--out", "reports", "--no-report", cwd=project),
    }
    return project, runs


@pytest.fixture
def project(good_project: tuple[Path, dict], tmp_path: Path) -> Path:
    """A copy of the good project, earlier good reports included."""
    return Path(shutil.copytree(good_project[0], tmp_path / "p", symlinks=True))


def _summary(project: Path, incident_id: str) -> dict:
    return json.loads((project / "reports" / incident_id / "summary.json").read_text(encoding="utf-8"))


def assert_caught(proc: subprocess.CompletedProcess[str], project: Path, incident_id: str, before: dict[str, str],
                  *expect: str) -> None:
    """Exit 1 naming both figures, failed/error.txt kept, nothing published, the earlier report as it was."""
    assert_refused(proc, *expect, "nothing was published", code=1)
    folder = project / "reports" / incident_id
    error = (folder / "failed" / "error.txt").read_text(encoding="utf-8")
    assert all(text in error for text in expect), error
    after = {k: v for k, v in snapshot(project / "reports").items() if not k.startswith(f"{incident_id}/failed/")}
    assert after == before  # summary.json, ledger.parquet, report.html, run.json: the earlier run's bytes
    assert not list((project / "reports").glob(".staging-*"))


# --- without a fault the harness publishes the right figures -----------------------------------------


def test_without_a_fault_the_runs_publish_the_right_figures(good_project: tuple[Path, dict]) -> None:
    """The control of every test below: the same harness, no fault, exit 0 and the right totals."""
    project, runs = good_project
    assert runs[GOOD_ID].returncode == 0, runs[GOOD_ID].stderr
    assert "3 affected lines, 3 eligible, total credit 3,332 won" in runs[GOOD_ID].stdout
    s = _summary(project, GOOD_ID)
    assert (s["affected_lines"], s["eligible_lines"], s["total_credit_krw"]) == (3, 3, 3332)
    html = (project / "reports" / GOOD_ID / "report.html").read_text(encoding="utf-8")
    assert '<div class="kt-card-small">3,332원</div>' in html
    assert runs[BILLING_ID].returncode == 0, runs[BILLING_ID].stderr
    b = _summary(project, BILLING_ID)
    assert (b["affected_lines"], b["total_charged_krw"], b["total_refund_krw"]) == (3, 156_000, 52_000)
    assert b["total_cancelled_krw"] + b["total_refund_krw"] == b["total_charged_krw"]
    for incident_id in (GOOD_ID, BILLING_ID):
        assert not (project / "reports" / incident_id / "failed").exists()


# --- outages: the per-line pass, the ledger file, the summary, its breakdowns ------------------------

OUTAGE_FAULTS = {
    "ledger-vs-per-line-pass": (LEDGER_DROPS_A_ROW, (
        "reconciliation failed: affected_lines is 3 lines in the per-line pass over the roster but 2 lines in "
        "the ledger file read back",)),
    "summary-vs-ledger": (SUMMARY_TOTAL_OFF_BY_ONE, (
        "reconciliation failed: total_credit_krw is 3,332 won in the ledger file read back but 3,333 won in "
        "the summary",)),
    "breakdown-vs-total": (BREAKDOWN_OFF_BY_ONE, (
        "reconciliation failed: total_credit_krw is 3,332 won in the summary's totals but 3,333 won in the sum "
        "of the summary's by_region",)),
}


@pytest.mark.parametrize("name", OUTAGE_FAULTS)
def test_outage_fault_is_caught(name: str, project: Path) -> None:
    fault, expect = OUTAGE_FAULTS[name]
    before = snapshot(project / "reports")
    proc = kt_with(fault, "run", "incidents/good.yml", "--out", "reports", "--no-report", cwd=project)
    assert_caught(proc, project, GOOD_ID, before, *expect)


@pytest.mark.parametrize(("name", "published"), [
    # the summary (from the pass over the roster) says 3 lines; the ledger published beside it has 2
    ("ledger-vs-per-line-pass", lambda s, ledger_lines: s["affected_lines"] == 3 and ledger_lines == 2),
    ("summary-vs-ledger", lambda s, _: s["total_credit_krw"] == 3333),
    ("breakdown-vs-total", lambda s, _: sum(r["total_credit_krw"] for r in s["by_region"].values()) == 3333),
])
def test_outage_fault_is_published_without_the_check(name: str, published, project: Path) -> None:
    """Not vacuous: with the check switched off the same fault exits 0 and publishes a wrong figure."""
    fault, _ = OUTAGE_FAULTS[name]
    proc = kt_with(NO_RECONCILE + fault, "run", "incidents/good.yml", "--out", "reports", "--no-report", cwd=project)
    assert proc.returncode == 0, proc.stderr
    ledger_lines = pq.read_metadata(project / "reports" / GOOD_ID / "ledger.parquet").num_rows
    assert published(_summary(project, GOOD_ID), ledger_lines)


# --- the report's headline against the summary -------------------------------------------------------


def test_report_headline_other_than_the_summary_is_caught(project: Path) -> None:
    before = snapshot(project / "reports")
    proc = kt_with(HEADLINE_SHOWS_ANOTHER_TOTAL, "run", "incidents/good.yml", "--out", "reports", cwd=project)
    assert_caught(proc, project, GOOD_ID, before,
                  f"{GOOD_ID}: reconciliation failed: the report's headline shows '3,331원' for the summary's "
                  "total_credit_krw '3,332원'")
    assert (project / "reports" / GOOD_ID / "failed" / "notebooks" / "report.ipynb").is_file()


def test_headline_check_reads_the_headline_card_not_the_page(good_project: tuple[Path, dict]) -> None:
    """In process, on the good report: the exact card text counts; the figure elsewhere on the page
    (where the old check found it) does not."""
    from kt_analysis.errors import RunError
    from kt_analysis.jobs.run import check_headline

    project, _ = good_project
    html = (project / "reports" / GOOD_ID / "report.html").read_text(encoding="utf-8")
    summary = _summary(project, GOOD_ID)
    check_headline(GOOD_ID, "outage", summary, html)  # the good report passes
    wrong = html.replace('<div class="kt-card-small">3,332원</div>', '<div class="kt-card-small">3,331원</div>')
    assert wrong != html and "3,332원" in wrong  # the figure still appears elsewhere on the page
    with pytest.raises(RunError) as caught:
        check_headline(GOOD_ID, "outage", summary, wrong)
    assert "the report's headline shows '3,331원' for the summary's total_credit_krw '3,332원'" in str(caught.value)
    with pytest.raises(RunError) as caught:
        check_headline(GOOD_ID, "outage", {**summary, "eligible_lines": 2}, html)
    assert "the report's headline shows '3 회선' for the summary's eligible_lines '2 회선'" in str(caught.value)
    with pytest.raises(RunError) as caught:
        check_headline(GOOD_ID, "outage", summary, html.replace('<section class="kt-headline">', "<section>"))
    assert "report.html has 0 headline sections (wanted 1)" in str(caught.value)


# --- billing errors: conservation and the same three accounts ----------------------------------------

BILLING_FAULTS = {
    "ledger-line-not-conserved": (BILLING_LEDGER_ROW_REVERSES_ONE_WON_MORE, (
        "money not conserved: 1 line(s) of the ledger reverse another amount than was charged "
        "(156,001 won cancelled or refunded, 156,000 won charged)",)),
    "summary-not-conserved": (BILLING_SUMMARY_REFUND_OFF_BY_ONE, (
        "money not conserved: the summary reverses 156,001 won (cancelled 104,000 + refunded 52,001) of "
        "156,000 won charged",)),
    "ledger-vs-pass": (BILLING_LEDGER_DROPS_A_ROW, (
        "reconciliation failed: affected_lines is 3 lines in the pass over roster and bills but 2 lines in "
        "the ledger file read back",)),
    "breakdown-vs-total": (BILLING_BREAKDOWN_OFF_BY_ONE, (
        "reconciliation failed: charged_krw is 156,000 won charged in the summary's totals but 156,001 won "
        "charged in the sum of the summary's by_service",)),
}


@pytest.mark.parametrize("name", BILLING_FAULTS)
def test_billing_fault_is_caught(name: str, project: Path) -> None:
    fault, expect = BILLING_FAULTS[name]
    before = snapshot(project / "reports")
    proc = kt_with(fault, "run", "incidents/good-billing.yml", "--out", "reports", "--no-report", cwd=project)
    assert_caught(proc, project, BILLING_ID, before, *expect)


@pytest.mark.parametrize(("name", "published"), [
    ("summary-not-conserved", lambda s: s["total_refund_krw"] == 52_001),
    ("ledger-vs-pass", lambda s: s["affected_lines"] == 2),
])
def test_billing_fault_is_published_without_the_check(name: str, published, project: Path) -> None:
    fault, _ = BILLING_FAULTS[name]
    proc = kt_with(NO_BILLING_RECONCILE + fault, "run", "incidents/good-billing.yml", "--out", "reports",
                   "--no-report", cwd=project)
    assert proc.returncode == 0, proc.stderr
    assert published(_summary(project, BILLING_ID))


# --- the Spark engine: its ledger against its own per-line pass --------------------------------------

SPARK_LEDGER_DROPS_A_ROW = """
import pyarrow.parquet as pq
import kt_analysis.engine.spark_engine as se
real = se.merge_parts
def merge_parts(parts, path):
    n = real(parts, path)
    table = pq.read_table(path)
    pq.write_table(table.slice(0, table.num_rows - 1), path)
    return n
se.merge_parts = merge_parts
"""


@pytest.mark.slow
def test_spark_ledger_other_than_its_per_line_pass_is_caught(project: Path) -> None:
    """Spark computes the own policy's totals in its what-if pass; the merged ledger file must match."""
    if shutil.which("java") is None and not os.environ.get("JAVA_HOME"):
        pytest.skip("no Java runtime for Spark")
    pytest.importorskip("pyspark")
    before = snapshot(project / "reports")
    proc = kt_with(SPARK_LEDGER_DROPS_A_ROW, "run", "incidents/good.yml", "--out", "reports", "--no-report",
                   "--engine", "spark", "--spark-master", "local[1]", cwd=project)
    expect = ("reconciliation failed: affected_lines is 3 lines in the per-line pass over the roster but 2 lines "
              "in the ledger file read back")
    assert proc.returncode == 1, proc.stderr
    assert f"error: {expect}" in proc.stderr and "Traceback" not in proc.stderr, proc.stderr
    assert expect in (project / "reports" / GOOD_ID / "failed" / "error.txt").read_text(encoding="utf-8")
    after = {k: v for k, v in snapshot(project / "reports").items() if not k.startswith(f"{GOOD_ID}/failed/")}
    assert after == before
