"""The same inputs give the same bytes: ``summary.json`` and ``ledger.parquet`` are byte-identical
run after run and at 1 or 2 DuckDB threads, on both exposure paths of analysis.py — the lookup
(exposure as expressions: nationwide and regional incidents; keeps the roster's order on every
thread) and the hash join (many distinct exposures: per-facility incidents; ``write_ledger`` sorts
it by line_id). Each test asserts which path it took, so the two are never one path twice; a policy
on bills (the fee bases joined in) is the third.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import FACILITIES, REGIONS, SERVICES, Project, make_roster

from kt_analysis.dbrow import connect
from kt_analysis.engine.duckdb_engine import MAX_LOOKUP_GROUPS, prepare
from kt_analysis.inputs.incident import load_incident
from kt_analysis.jobs.analyse import analyse
from kt_analysis.jobs.handover import ADJUSTMENTS_FILE, WORKBOOK_FILE, write_handover

LINES = 20_000
ROW_GROUP = 700  # ~29 row groups: two threads take different ones, in no fixed order

REGIONAL = """
id: regional
title: 지역 장애
kind: outage
timezone: Asia/Seoul
policy: kt-terms-2022
roster: data/roster.parquet
affected:
  windows:
    - {start: 2024-08-10T06:15, end: 2024-08-10T16:20, where: {regions: [서울]}}
    - {start: 2024-08-31T23:00, end: 2024-09-01T01:30, where: {regions: [부산, 대전]}, services: [mobile]}
    - {start: 2024-08-10T10:00, end: 2024-08-10T11:30, where: all, services: [iptv]}
"""


def per_facility_incident() -> str:
    """One window per facility and service, each of its own length: more distinct exposures than
    the lookup takes (MAX_LOOKUP_GROUPS), so the roster is joined to the exposure table."""
    rows = []
    for i, facility in enumerate(FACILITIES):
        for j, service in enumerate(SERVICES):
            minutes = 30 + 17 * (4 * i + j)
            rows.append(f"    - {{start: 2024-08-10T09:00, end: 2024-08-10T{9 + minutes // 60:02d}:{minutes % 60:02d}, "
                        f"where: {{facilities: [{facility}]}}, services: [{service}]}}")
    assert len(rows) > MAX_LOOKUP_GROUPS
    return ("id: per-facility\ntitle: 국사별 장애\nkind: outage\ntimezone: Asia/Seoul\npolicy: kt-terms-2022\n"
            "roster: data/roster.parquet\naffected:\n  windows:\n" + "\n".join(rows) + "\n")


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Project:
    proj = Project(tmp_path_factory.mktemp("bytes"))
    proj.copy_policies()
    frame = make_roster(LINES, seed=11)
    assert set(frame["region"]) == set(REGIONS) and set(frame["facility_id"]) == set(FACILITIES)
    proj.roster(frame, row_group_size=ROW_GROUP)
    proj.incident("regional", REGIONAL)
    proj.incident("per-facility", per_facility_incident())
    return proj


@pytest.mark.parametrize(("name", "keeps_order"), [("regional", True), ("per-facility", False)])
def test_same_bytes_every_run_at_one_and_two_threads(project: Project, tmp_path: Path, name: str,
                                                     keeps_order: bool) -> None:
    incident = load_incident(project.root / "data" / "incidents" / f"{name}.yml")
    con = connect()
    try:
        per_line = prepare(incident, con)
        per_line.source.close()
    finally:
        con.close()
    assert per_line.keeps_order is keeps_order  # the lookup path, or the join path
    assert (per_line.lookup is None) is not keeps_order
    outputs = []
    for i, threads in enumerate((1, 2, 2, 1, 2)):
        out = tmp_path / f"run-{i}-threads-{threads}"
        summary = analyse(incident, out, threads=threads).to_dict()
        assert summary["affected_lines"] > 1_000
        outputs.append((out, threads))
    first = outputs[0][0]
    for out, threads in outputs[1:]:
        for file in ("summary.json", "ledger.parquet"):
            assert (out / file).read_bytes() == (first / file).read_bytes(), f"{file} at {threads} thread(s)"


def test_same_bytes_every_run_on_a_bill_basis(tmp_path: Path) -> None:
    """A policy computing on the lines' bills joins the per-line relation to the fee bases summed
    from the bill items (a GROUP BY, whose order varies run to run): the ledger is still the same
    bytes every run (it is sorted by line_id then). The sample's nationwide incident, whose 2.5M
    item rows are summed on two threads."""
    root = Path(__file__).resolve().parents[1]
    incident = load_incident(root / "data" / "incidents" / "kt-2021-10-25-nationwide.yml")
    assert not incident.credit_policy.fee_basis.roster
    outputs = []
    for i in range(4):
        out = tmp_path / f"run-{i}"
        result = analyse(incident, out, threads=2)
        summary = result.to_dict()
        assert summary["affected_lines"] > 50_000
        write_handover(incident, out, result, xlsx=True, say=lambda _m: None)  # the bulk file and the workbook
        outputs.append(out)
    for out in outputs[1:]:
        for file in ("summary.json", "ledger.parquet", ADJUSTMENTS_FILE, WORKBOOK_FILE):
            assert (out / file).read_bytes() == (outputs[0] / file).read_bytes(), file
