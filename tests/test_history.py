"""The history of published runs (``history.duckdb``): its schema (as the README documents it), how a
publish replaces an incident's rows, that a failure at any point of a publish leaves the old file as it
was, that concurrent publishes lose nothing, what a run reads from it, and ``kt-analysis history``."""

from __future__ import annotations

import hashlib
import json
import re
import threading
import time
from datetime import datetime
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from conftest import ROOT, Project, small_roster

from kt_analysis.cli import main
from kt_analysis.engine.month import CARRIED_SCHEMA, EXPOSURES_SCHEMA, LINES_SCHEMA, HistoryRows
from kt_analysis.errors import RunError
from kt_analysis.inputs.incident import load_incident
from kt_analysis.jobs import history
from kt_analysis.jobs import run as run_module
from kt_analysis.jobs.run import run_incident


def row(incident_id: str, start: str = "2025-03-04T09:00", months: tuple[str, ...] = ("2025-03",),
        kind: str = "outage", fingerprint: str = "f0") -> history.RunRow:
    begin = datetime.fromisoformat(start)
    return history.RunRow(
        incident_id=incident_id, kind=kind, published_at=datetime(2026, 1, 1, 12), fingerprint=fingerprint,
        policy_id="kt-terms-2022" if kind == "outage" else None, monthly_scope="incident" if kind == "outage" else None,
        incident_start=begin, incident_end=begin, months=months, affected_lines=2, eligible_lines=1,
        total_credit_krw=1000, earlier_incidents=())


def rows_folder(folder: Path, lines: list[tuple[int, str, int, bool, int]]) -> Path:
    """(line_id, month, outage_minutes, credited, carried_minutes) rows as the three files a run writes
    (engine/month.py ``history_rows``): here one exposure per line."""
    folder.mkdir(parents=True, exist_ok=True)
    files = HistoryRows(folder, 0)
    ids = {line_id: i for i, line_id in enumerate(dict.fromkeys(r[0] for r in lines))}
    credited = {r[0]: r[3] for r in lines}
    pq.write_table(pa.table({"line_id": list(ids), "exposure_id": list(ids.values()),
                             "credited": [credited[i] for i in ids]}).cast(LINES_SCHEMA), files.lines)
    pq.write_table(pa.table({"exposure_id": [ids[r[0]] for r in lines], "month": [r[1] for r in lines],
                             "outage_minutes": [r[2] for r in lines]}).cast(EXPOSURES_SCHEMA), files.exposures)
    carried = [r for r in lines if r[4]]
    pq.write_table(pa.table({"line_id": [r[0] for r in carried], "month": [r[1] for r in carried],
                             "carried_minutes": [r[4] for r in carried]}).cast(CARRIED_SCHEMA), files.carried)
    return folder


def publish(out: Path, r: history.RunRow, lines: list[tuple[int, str, int, bool, int]] | None = None,
            then=lambda: None) -> None:
    rows = rows_folder(out / f"rows-{r.incident_id}", lines) if lines is not None else None
    history.commit(out, r, rows, then)


def table(out: Path, sql: str) -> list[tuple]:
    con = duckdb.connect(str(out / "history.duckdb"), read_only=True)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


# ----- schema ---------------------------------------------------------------------------------------

def test_the_schema_is_the_documented_one(tmp_path: Path) -> None:
    publish(tmp_path, row("a"), [(1, "2025-03", 100, False, 0)])
    columns = table(tmp_path, "SELECT table_name, column_name, data_type, is_nullable FROM information_schema.columns "
                              "ORDER BY table_name, ordinal_position")
    described = (*history.TABLES, ("line_minutes", history.LINE_MINUTES))
    got = {t: [(c, k) for tt, c, k, _ in columns if tt == t] for t, _ in described}
    assert got == {t: list(cols) for t, cols in described}
    assert {t for t, *_ in columns} == {t for t, _ in described}
    nullable = {c for t, c, _, n in columns if n == "YES" and t != "line_minutes"}
    assert nullable == {"policy_id", "monthly_scope"}
    keys = table(tmp_path, "SELECT table_name, constraint_column_names FROM duckdb_constraints() "
                           "WHERE constraint_type = 'PRIMARY KEY'")
    assert keys == [("runs", ["incident_id"])]
    assert table(tmp_path, "SELECT view_name FROM duckdb_views() WHERE NOT internal") == [("line_minutes",)]
    # The README's section lists every column of every table and of the view with its type, in order.
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme[readme.index("## Outages across a month"):]
    section = section[:section.index("\n## ", 5)]
    for name, columns_ in described:
        documented = re.findall(r"`(\w+)`\s+([A-Z]+(?:\[\])?)", section.split(f"`{name}` —", 1)[1].split("\n\n")[0])
        assert documented == list(columns_), name


def test_line_minutes_gives_each_line_its_exposures_minutes_per_month(tmp_path: Path) -> None:
    folder = tmp_path / "rows"
    folder.mkdir()
    files = HistoryRows(folder, 0)
    # Two lines share exposure 0 (two months), one has exposure 1 (one month); line 2 took in 30 minutes.
    pq.write_table(pa.table({"line_id": [1, 2, 3], "exposure_id": [0, 0, 1], "credited": [False, True, True]}
                            ).cast(LINES_SCHEMA), files.lines)
    pq.write_table(pa.table({"exposure_id": [0, 0, 1], "month": ["2025-03", "2025-04", "2025-03"],
                             "outage_minutes": [50, 70, 200]}).cast(EXPOSURES_SCHEMA), files.exposures)
    pq.write_table(pa.table({"line_id": [2], "month": ["2025-03"], "carried_minutes": [30]}).cast(CARRIED_SCHEMA),
                   files.carried)
    history.commit(tmp_path, row("a", months=("2025-03", "2025-04")), folder, lambda: None)
    assert table(tmp_path, "SELECT * FROM line_minutes ORDER BY line_id, month") == [
        ("a", 1, "2025-03", 50, False, 0), ("a", 1, "2025-04", 70, False, 0),
        ("a", 2, "2025-03", 50, True, 30), ("a", 2, "2025-04", 70, True, 0), ("a", 3, "2025-03", 200, True, 0)]
    assert history.listing(tmp_path)["line_minutes"] == [
        {"incident_id": "a", "month": "2025-03", "lines": 3, "outage_minutes": 300, "credited_lines": 2,
         "carried_minutes": 30},
        {"incident_id": "a", "month": "2025-04", "lines": 2, "outage_minutes": 140, "credited_lines": 1,
         "carried_minutes": 0}]


# ----- writing --------------------------------------------------------------------------------------

def test_republishing_an_incident_replaces_its_rows(tmp_path: Path) -> None:
    publish(tmp_path, row("a"), [(1, "2025-03", 100, False, 0), (2, "2025-03", 50, False, 0)])
    publish(tmp_path, row("b", "2025-03-10T09:00"), [(1, "2025-03", 10, True, 100)])
    publish(tmp_path, row("a", fingerprint="f1"), [(1, "2025-03", 120, False, 0)])
    assert table(tmp_path, "SELECT incident_id, fingerprint FROM runs ORDER BY 1") == [("a", "f1"), ("b", "f0")]
    assert table(tmp_path, "SELECT incident_id, line_id, outage_minutes FROM line_minutes ORDER BY 1, 2") == [
        ("a", 1, 120), ("b", 1, 10)]
    assert table(tmp_path, "SELECT count(*) FROM affected_lines") == [(2,)]
    assert history.recorded(tmp_path, "a") == "f1" and history.recorded(tmp_path, "zz") is None
    assert not list(tmp_path.glob(".history-*"))  # no partial file left beside it


def test_a_failed_publish_leaves_the_old_history_as_it_was(tmp_path: Path) -> None:
    publish(tmp_path, row("a"), [(1, "2025-03", 100, False, 0)])
    before = sha(tmp_path / "history.duckdb")

    def fail() -> None:  # the run's folder cannot be moved into place: the new history was built already
        assert list(tmp_path.glob(".history-*.partial"))
        raise OSError(28, "No space left on device")

    with pytest.raises(OSError):
        publish(tmp_path, row("b"), [(2, "2025-03", 10, True, 0)], then=fail)
    assert sha(tmp_path / "history.duckdb") == before
    assert not list(tmp_path.glob(".history-*"))
    # A failure while the new history is built (its rows cannot be read) leaves it as it was too.
    with pytest.raises(duckdb.Error):
        history.commit(tmp_path, row("c"), tmp_path / "missing", lambda: None)
    assert sha(tmp_path / "history.duckdb") == before
    assert not list(tmp_path.glob(".history-*"))
    assert table(tmp_path, "SELECT incident_id FROM runs") == [("a",)]


def test_a_writer_killed_mid_publish_leaves_the_history_whole_and_its_leftover_goes(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    publish(tmp_path, row("a"), [(1, "2025-03", 100, False, 0)])
    before = sha(tmp_path / "history.duckdb")
    real_install = history.install

    def crash(new: Path, out: Path) -> None:  # killed after the folder moved, before the history did
        raise KeyboardInterrupt

    monkeypatch.setattr(history, "install", crash)
    with pytest.raises(KeyboardInterrupt):
        publish(tmp_path, row("b"), [(2, "2025-03", 10, True, 0)])
    assert sha(tmp_path / "history.duckdb") == before  # the file in place is the old, complete one
    (tmp_path / ".history-99999.duckdb.partial").write_bytes(b"half a database")  # what a SIGKILL leaves
    monkeypatch.setattr(history, "install", real_install)
    publish(tmp_path, row("b"), [(2, "2025-03", 10, True, 0)])
    assert not list(tmp_path.glob(".history-*"))
    assert table(tmp_path, "SELECT incident_id FROM runs ORDER BY 1") == [("a",), ("b",)]


def test_concurrent_publishes_lose_no_run(tmp_path: Path) -> None:
    publish(tmp_path, row("seed"), [])

    def one(i: int) -> None:
        publish(tmp_path, row(f"r{i}"), [(i, "2025-03", i, False, 0)], then=lambda: time.sleep(0.05))

    threads = [threading.Thread(target=one, args=(i,)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert table(tmp_path, "SELECT count(*) FROM runs") == [(7,)]
    assert table(tmp_path, "SELECT count(*) FROM line_minutes") == [(6,)]
    assert table(tmp_path, "SELECT count(*) FROM affected_lines") == [(6,)]


def test_a_file_that_is_not_a_history_is_refused_with_the_fix(tmp_path: Path) -> None:
    con = duckdb.connect(str(tmp_path / "history.duckdb"))
    con.execute("CREATE TABLE runs (incident_id VARCHAR)")
    con.close()
    with pytest.raises(RunError, match="not a kt-analysis history.*move it aside"):
        history.recorded(tmp_path, "a")
    (tmp_path / "history.duckdb").write_bytes(b"not a database at all")
    with pytest.raises(RunError, match="cannot be read as a DuckDB database.*move it aside"):
        publish(tmp_path, row("a"), [])
    assert not list(tmp_path.glob(".history-*"))


# ----- reading --------------------------------------------------------------------------------------

INCIDENT = """
id: {iid}
title: 시험 {iid}
kind: outage
timezone: Asia/Seoul
policy: kt-terms-2022
roster: data/roster.parquet
affected:
  windows:
    - {{start: {start}, end: {end}, where: all}}
"""


def test_a_run_reads_the_earlier_incidents_of_its_months_in_order(tmp_path: Path) -> None:
    proj = Project(tmp_path)
    proj.copy_policies("kt-terms-2022")
    proj.roster(small_roster())
    b = load_incident(proj.incident("b", INCIDENT.format(iid="b", start="2025-03-18T09:00", end="2025-03-18T10:00")))
    out = tmp_path / "out"
    out.mkdir()
    assert history.digest(out, b) == history.earlier(out, b, tmp_path / "r0.parquet").digest  # no history yet
    publish(out, row("a", "2025-03-04T09:00"), [(1, "2025-03", 100, False, 0)])
    publish(out, row("a2", "2025-03-18T09:00"), [(1, "2025-03", 5, False, 0)])  # same start, earlier id
    publish(out, row("c", "2025-03-20T09:00"), [(1, "2025-03", 7, False, 0)])  # later: not counted
    publish(out, row("feb", "2025-02-20T09:00", ("2025-02",)), [(1, "2025-02", 9, False, 0)])  # other month
    publish(out, row("bill", "2025-03-01T00:00", kind="billing_error"), None)  # no minutes
    publish(out, row("b", "2025-03-18T09:00"), [(1, "2025-03", 60, False, 0)])  # itself
    got = history.earlier(out, b, tmp_path / "r1.parquet")
    assert [(r.incident_id, r.outage_start) for r in got.runs] == [("a", "2025-03-04T09:00"),
                                                                   ("a2", "2025-03-18T09:00")]
    assert got.months == ("2025-03",)
    read = duckdb.sql(f"SELECT incident_id, line_id, outage_minutes FROM read_parquet('{got.rows}')").fetchall()
    assert read == [("a", 1, 100), ("a2", 1, 5)]
    assert history.digest(out, b) == got.digest
    publish(out, row("a"), [(1, "2025-03", 101, False, 0)])  # an earlier incident's minutes change
    assert history.digest(out, b) != got.digest
    publish(out, row("c", "2025-03-20T09:00"), [(1, "2025-03", 8, False, 0)])  # a later one's do not matter
    again = history.earlier(out, b, tmp_path / "r2.parquet")
    assert history.digest(out, b) == again.digest != got.digest


def test_a_run_publishes_its_minutes_and_a_failed_run_leaves_the_history(tmp_path: Path,
                                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    proj = Project(tmp_path)
    proj.copy_policies("kt-terms-2022")
    proj.roster(small_roster())
    path = proj.incident("x", INCIDENT.format(iid="x", start="2025-03-31T23:00", end="2025-04-01T01:30"))
    out = tmp_path / "out"
    run_incident(path, out=out, report=False)
    # Across midnight of a month's end: each line's minutes split by calendar month.
    assert table(out, "SELECT month, count(*), sum(outage_minutes), bool_and(credited), sum(carried_minutes) "
                      "FROM line_minutes GROUP BY month ORDER BY month") == [
        ("2025-03", 4, 240, True, 0), ("2025-04", 4, 360, True, 0)]
    assert table(out, "SELECT incident_id, kind, policy_id, monthly_scope, months, affected_lines FROM runs") == [
        ("x", "outage", "kt-terms-2022", "incident", ["2025-03", "2025-04"], 4)]
    assert history.recorded(out, "x") == json.loads((out / "x" / "run.json").read_text())["fingerprint"]
    before, folder = sha(out / "history.duckdb"), sha(out / "x" / "summary.json")

    def refuse(staging: Path, final: Path) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(run_module, "_publish", refuse)
    proj.incident("x", INCIDENT.format(iid="x", start="2025-03-31T22:00", end="2025-04-01T01:30"))
    with pytest.raises(Exception, match="cannot write"):
        run_incident(path, out=out, report=False)
    assert sha(out / "history.duckdb") == before and sha(out / "x" / "summary.json") == folder
    assert not list(out.glob(".history-*"))


# ----- kt-analysis history --------------------------------------------------------------------------

def test_the_history_command_lists_runs_and_refuses_bad_input(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    publish(tmp_path, row("a"), [(1, "2025-03", 100, False, 0), (2, "2025-03", 30, True, 0)])
    publish(tmp_path, row("feb", "2025-02-20T09:00", ("2025-02",)), [(1, "2025-02", 9, False, 0)])
    assert main(["history", "--out", str(tmp_path)]) == 0
    text = capsys.readouterr().out
    assert "2 published runs" in text and "kt-terms-2022" in text
    assert text.index("feb") < text.index("\na ")  # in the order of the incidents' start
    assert main(["history", "--out", str(tmp_path), "--month", "2025-03"]) == 0
    text = capsys.readouterr().out
    assert "1 published run" in text and "feb" not in text
    assert re.search(r"2025-03\s+a\s+2\s+130\s+1\s+0", text)
    assert main(["history", "--out", str(tmp_path), "--incident", "a", "--json"]) == 0
    assert '"incident_id": "a"' in capsys.readouterr().out
    for args, says in ((["--month", "2025-3"], "'2025-3' is not a month"),
                       (["--incident", "nope"], "'nope' has no published run"),
                       (["--out", str(tmp_path / "none")], "is not a folder")):
        argv = ["history", *(["--out", str(tmp_path)] if "--out" not in args else []), *args]
        assert main(argv) == 2
        err = capsys.readouterr().err
        assert says in err and "Traceback" not in err
    (tmp_path / "empty").mkdir()
    assert main(["history", "--out", str(tmp_path / "empty")]) == 2
    assert "no run has been published into this folder yet" in capsys.readouterr().err
