"""Outages across a month, end to end: the constructed pair in ``data/examples/month-pair/`` (two
landline outages in March 2025 under kt-terms-2022 counted across the calendar month) through
``kt-analysis run-all`` and ``kt-analysis history``, and on both engines.

울산: 330 minutes in A (three outages under 2 h), 200 in B — below both thresholds in each alone, 530 in
the month: credited by B, for its 200 minutes and A's 330. 제주: 150 at once in A (credited by A), 250
in B (400 in the month: eligible in B, paid for its own 250 only). 세종 (60 + 60) and 광주 (B: 100) stay
below.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from kt_analysis.engine.month import EARLIER_ROWS
from kt_analysis.inputs.incident import load_incident
from kt_analysis.jobs import history
from kt_analysis.jobs.analyse import analyse

from .conftest import ROOT, kt
from .test_spark_engine import _ledger

PAIR = ROOT / "data" / "examples" / "month-pair"
ROSTER = ROOT / "data" / "sample" / "roster.parquet"
A, B = "month-pair-a", "month-pair-b"
OUTPUTS = ("summary.json", "ledger.parquet", "month_history.parquet")


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _summary(out: Path, iid: str) -> dict:
    return json.loads((out / iid / "summary.json").read_text(encoding="utf-8"))


def _sql(sql: str) -> list[tuple]:
    return duckdb.sql(sql).fetchall()


def copy_project(dest: Path) -> Path:
    """The pair with the data it needs (catalogue, calendar, roster) in a project of its own: runs in it
    do not depend on edits made to the checkout's data meanwhile (the catalogue is in every fingerprint)."""
    (dest / "data" / "sample").mkdir(parents=True)
    shutil.copy(ROSTER, dest / "data" / "sample" / "roster.parquet")
    shutil.copytree(PAIR, dest / "data" / "examples" / "month-pair")
    return dest


@pytest.fixture(scope="module")
def published(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The pair run by ``run-all`` into ``<project>/reports`` (the project: the reports' parent)."""
    project = copy_project(tmp_path_factory.mktemp("month-pair") / "p")
    out = project / "reports"
    result = kt("run-all", project / PAIR.relative_to(ROOT), "--out", out, "--no-report", "--jobs", "2", cwd=project)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"{A}: ok" in result.stdout and f"{B}: ok" in result.stdout
    return out


@pytest.fixture
def project(published: Path, tmp_path: Path) -> Path:
    """A copy of the published project, for a test that changes it."""
    return Path(shutil.copytree(published.parent, tmp_path / "p"))


def test_lines_over_the_month_threshold_only_across_both_are_credited_in_the_second(published: Path) -> None:
    paid = "(CASE r.region WHEN '울산' THEN 540 WHEN '제주' THEN 300 ELSE 0 END)"  # minutes, whole hours
    by_region = {r[0]: r[1:] for r in _sql(
        f"SELECT r.region, count(*), count(*) FILTER (WHERE a.eligible), count(*) FILTER (WHERE b.eligible), "
        f"min(b.monthly_cumulative_minutes), max(b.monthly_cumulative_minutes), "
        f"count(*) FILTER (WHERE b.credit_krw = r.monthly_fee_krw * {paid} * 10 // 43200) "
        f"FROM read_parquet('{ROSTER}') AS r LEFT JOIN read_parquet('{published / A / 'ledger.parquet'}') AS a "
        f"USING (line_id) LEFT JOIN read_parquet('{published / B / 'ledger.parquet'}') AS b USING (line_id) "
        f"WHERE r.service = 'landline' AND r.region IN ('울산', '제주', '세종', '광주') GROUP BY r.region")}
    # region: lines, eligible in A, eligible in B, B's month total (min, max), B's credit as expected
    assert by_region == {
        "울산": (389, 0, 389, 530, 530, 389),  # 200 + A's 330 uncredited = 530 min, paid as 540 (whole hours)
        "제주": (196, 196, 196, 400, 400, 196),  # 250 of B only (A paid its 150), paid as 300 min
        "세종": (119, 0, 0, 120, 120, 119),
        "광주": (473, 0, 0, 100, 100, 473),
    }
    a, b = _summary(published, A), _summary(published, B)
    assert (a["eligible_lines"], b["eligible_lines"]) == (196, 389 + 196)


def test_the_first_incidents_minutes_are_credited_exactly_once(published: Path) -> None:
    lines = _line_minutes(published)
    rows = _sql(
        f"SELECT r.region, h.incident_id, min(h.outage_minutes), max(h.outage_minutes), bool_and(h.credited), "
        f"bool_or(h.credited), min(h.carried_minutes), max(h.carried_minutes) "
        f"FROM read_parquet('{ROSTER}') AS r JOIN read_parquet('{lines}') AS h USING (line_id) "
        f"GROUP BY ALL ORDER BY ALL")
    assert rows == sorted([
        ("울산", A, 330, 330, False, False, 0, 0), ("울산", B, 200, 200, True, True, 330, 330),
        ("제주", A, 150, 150, True, True, 0, 0), ("제주", B, 250, 250, True, True, 0, 0),
        ("세종", A, 60, 60, False, False, 0, 0), ("세종", B, 60, 60, False, False, 0, 0),
        ("광주", B, 100, 100, False, False, 0, 0),
    ])
    # Per line over the month: the minutes paid (credited rows' own minutes plus those carried in) are
    # the month's minutes when it passes 6 h, else none; no minute twice.
    paid = _sql(f"SELECT line_id, sum(CASE WHEN credited THEN outage_minutes ELSE 0 END) + sum(carried_minutes), "
                f"sum(outage_minutes) FROM read_parquet('{lines}') GROUP BY line_id")
    assert all(p == (m if m > 360 else 0) or (p == m and m == 150) for _, p, m in paid)  # 제주 in A: 2 h at once
    assert sum(p for _, p, _ in paid) == 389 * 530 + 196 * 400


def _line_minutes(out: Path) -> Path:
    """The history's line_minutes as a Parquet file (read-only: the history itself is left alone)."""
    dest = out.parent / "line_minutes.parquet"
    con = duckdb.connect(str(out / "history.duckdb"), read_only=True)
    try:
        con.execute(f"COPY (SELECT * FROM line_minutes) TO '{dest}' (FORMAT parquet)")
    finally:
        con.close()
    return dest


def test_the_summary_names_the_first_incident_and_the_history_lists_both(published: Path) -> None:
    b = _summary(published, B)
    assert b["policy_id"] == "kt-terms-2022-month"
    assert b["month_history"] == {
        "months": ["2025-03"],
        "earlier_incidents": [{"incident_id": A, "outage_start": "2025-03-04T09:00", "lines": 389 + 196 + 119,
                               "lines_pushed_over": 389 + 196}],
        "lines_pushed_over": 389 + 196,
        "carried_minutes": 389 * 330,
    }
    assert _summary(published, A)["month_history"]["earlier_incidents"] == []
    pushed = _sql(f"SELECT count(DISTINCT line_id), count(*) FILTER (WHERE pushed_over), sum(carried_minutes) "
                  f"FROM read_parquet('{published / B / 'month_history.parquet'}')")
    assert pushed == [(389 + 196 + 119, 389 + 196, 389 * 330)]
    listed = kt("history", "--out", published, "--month", "2025-03")
    assert listed.returncode == 0, listed.stderr
    assert "2 published runs" in listed.stdout and listed.stdout.index(A) < listed.stdout.index(B)
    assert f"{B}: {A}" in listed.stdout  # the earlier incidents counted
    one = json.loads(kt("history", "--out", published, "--incident", B, "--json").stdout)
    assert [r["incident_id"] for r in one["runs"]] == [B] and one["runs"][0]["earlier_incidents"] == [A]
    assert one["runs"][0]["monthly_scope"] == "calendar_month"


def test_rerunning_the_second_alone_gives_the_same_bytes_and_run_all_skips_both(project: Path) -> None:
    out, pair = project / "reports", project / PAIR.relative_to(ROOT)
    before = {name: _sha(out / B / name) for name in OUTPUTS}
    again = kt("run", pair / f"{B}.yml", "--out", out, "--no-report", cwd=project)
    assert again.returncode == 0, again.stderr
    assert {name: _sha(out / B / name) for name in OUTPUTS} == before
    skipped = kt("run-all", pair, "--out", out, "--no-report", cwd=project)
    assert skipped.returncode == 0 and skipped.stdout.count(": skipped") == 2, skipped.stdout


def test_without_the_first_incidents_history_rows_the_second_changes_and_run_all_repairs_it(project: Path) -> None:
    out, pair = project / "reports", project / PAIR.relative_to(ROOT)
    before = {name: _sha(out / B / name) for name in OUTPUTS}
    con = duckdb.connect(str(out / "history.duckdb"))  # a history that lost the first incident's rows
    for table in ("runs", "affected_lines", "exposure_months", "carried"):
        con.execute(f"DELETE FROM {table} WHERE incident_id = '{A}'")
    con.close()
    alone = kt("run", pair / f"{B}.yml", "--out", out, "--no-report", cwd=project)
    assert alone.returncode == 0, alone.stderr
    assert "earlier incidents in" in alone.stderr and ": none" in alone.stderr  # the run says what it counted
    b = _summary(out, B)
    assert b["month_history"]["earlier_incidents"] == [] and b["month_history"]["lines_pushed_over"] == 0
    assert (b["eligible_lines"], b["total_credit_krw"]) == (0, 0)
    # The next run-all publishes the first again (its history row is missing), then the second,
    # whose history changed: back to the same bytes.
    repaired = kt("run-all", pair, "--out", out, "--no-report", cwd=project)
    assert repaired.returncode == 0 and repaired.stdout.count(": ok") == 2, repaired.stdout
    assert {name: _sha(out / B / name) for name in OUTPUTS} == before


def test_a_changed_first_incident_makes_run_all_run_the_second_again(project: Path) -> None:
    out, pair = project / "reports", project / PAIR.relative_to(ROOT)
    first = pair / f"{A}.yml"
    first.write_text(first.read_text(encoding="utf-8").replace("T18:50", "T18:40"), encoding="utf-8")
    result = kt("run-all", pair, "--out", out, "--no-report", cwd=project)
    assert result.returncode == 0 and result.stdout.count(": ok") == 2, result.stdout
    assert _summary(out, B)["month_history"]["carried_minutes"] == 389 * 320


def test_the_report_lists_the_earlier_incident_that_made_lines_eligible(project: Path) -> None:
    """The second incident's report (not --no-report): the earlier incident counted, with the lines
    it pushed over the threshold, as the summary has them."""
    out = project / "reports"
    result = kt("run", project / PAIR.relative_to(ROOT) / f"{B}.yml", "--out", out, cwd=project, timeout=300)
    assert result.returncode == 0, result.stderr
    html = (out / B / "report.html").read_text(encoding="utf-8")
    history = _summary(out, B)["month_history"]
    (earlier,) = history["earlier_incidents"]
    assert "월 누적에 더한 앞선 장애" in html and A in html
    assert f"보상 대상이 된 회선 {history['lines_pushed_over']:,}개" in html
    assert earlier["incident_id"] == A and f"{earlier['lines_pushed_over']:,}" in html


def test_the_default_scope_writes_no_month_outputs(published: Path) -> None:
    for iid in (A, B):
        assert (published / iid / "month_history.parquet").exists()
    landline = ROOT / "data" / "incidents" / "kt-2024-08-10-landline.yml"
    out = published.parent.parent / "default"
    result = kt("run", landline, "--out", out, "--no-report")
    assert result.returncode == 0, result.stderr
    assert "month_history" not in _summary(out, "kt-2024-08-10-landline")
    assert sorted(p.name for p in (out / "kt-2024-08-10-landline").iterdir()) == ["ledger.parquet", "run.json",
                                                                                   "summary.json"]


@pytest.mark.slow
def test_both_engines_count_the_month_alike(published: Path, tmp_path: Path, spark) -> None:
    """The second incident, with the first in the history, on DuckDB and on Spark: the same summary and
    month_history.parquet bytes, the same ledger rows and the same line_minutes rows for the history."""
    incident = load_incident(published.parent / PAIR.relative_to(ROOT) / f"{B}.yml")
    got = {}
    for engine in ("duckdb", "spark"):
        folder = tmp_path / engine
        folder.mkdir()
        earlier = history.earlier(published, incident, folder / EARLIER_ROWS)
        analyse(incident, folder, engine=engine, spark=spark if engine == "spark" else None, earlier=earlier,
                history=tmp_path / f"{engine}-rows")
        got[engine] = folder
    a, b = got["duckdb"], got["spark"]
    assert (a / "summary.json").read_bytes() == (b / "summary.json").read_bytes()
    assert (a / "month_history.parquet").read_bytes() == (b / "month_history.parquet").read_bytes()
    assert (a / "summary.json").read_bytes() == (published / B / "summary.json").read_bytes()
    left, right = _ledger(a / "ledger.parquet"), _ledger(b / "ledger.parquet")
    assert left.schema == right.schema and left.equals(right) and left.num_rows == 389 + 196 + 119 + 473
    for name in ("lines", "exposures", "carried"):
        assert pq.read_table(tmp_path / f"duckdb-rows/{name}.parquet").equals(
            pq.read_table(tmp_path / f"spark-rows/{name}.parquet")), name
    carried = pq.read_table(tmp_path / "spark-rows/carried.parquet")
    assert pa.compute.sum(carried.column("carried_minutes")).as_py() == 389 * 330 == carried.num_rows * 330
