"""Adversarial corpus, rosters: every file of a Parquet folder is held to the contract (a double
fee in the second file would be cast to an integer by DuckDB without a word), duplicate column
names are refused, a FIFO or a device given as a roster is refused at once, a quoted CSV header is
read; and ``kt-analysis roster describe`` lists the roster's own names with their lines.

The small project is ``tests/data/bad/``: ``roster.csv`` holds five lines —
1 mobile 서울 F1 (customer 101), 2 internet 서울 F1 (101), 3 mobile 부산 F2 (102),
4 iptv 제주 F3 (103), 5 landline 서울 F4 (104); ``incidents/good.yml`` reaches the three 서울 lines
for 3,332 won. Each refusal runs ``validate`` and ``run`` through the real command line; ``run``
writes into a folder that already holds a good report, which must not change.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from refusal import assert_refused, good_report, kt, small_project, snapshot

SAMPLE = Path(__file__).resolve().parents[1] / "data" / "sample" / "roster.parquet"
INT64_MAX = 2**63 - 1


def _table(frame: pd.DataFrame, **columns: pa.Array) -> pa.Table:
    table = pa.Table.from_pandas(frame, preserve_index=False)
    for name, values in columns.items():
        table = table.set_column(table.column_names.index(name), name, values)
    return table


def _folder(root: Path, name: str, second: pa.Table | None = None) -> None:
    """rosters/<name>/: part-0.parquet holds lines 1-3 (good), part-1.parquet lines 4-5 (``second``)."""
    good = pd.read_csv(root / "roster.csv")
    folder = root / "rosters" / name
    folder.mkdir(parents=True)
    pq.write_table(_table(good.iloc[:3]), folder / "part-0.parquet")
    if second is not None:
        pq.write_table(second, folder / "part-1.parquet")


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = small_project(tmp_path_factory.mktemp("rosters") / "project")
    good = pd.read_csv(root / "roster.csv")
    rest = good.iloc[3:]
    rosters = root / "rosters"
    _folder(root, "fractional_fee", _table(rest, monthly_fee_krw=pa.array([12000.5, 15000.0])))
    _folder(root, "string_line_id", _table(rest, line_id=pa.array(["4", "5"])))
    _folder(root, "unknown_service", _table(rest, service=pa.array(["iptv", "5g"])))
    _folder(root, "good_folder", _table(rest))
    _folder(root, "fifo_inside")
    os.mkfifo(root / "rosters" / "fifo_inside" / "part-1.parquet")
    pq.write_table(_table(good, bill_cycle_day=pa.array([11.0, 11.0, 11.0, 25.0, 19.0])),
                   rosters / "float_cycle_day.parquet")
    pq.write_table(_table(good, line_id=pa.array([1, 2, 2**63 + 7, 4, 5], pa.uint64())),
                   rosters / "uint64_line_id.parquet")
    pq.write_table(_table(good, facility_id=pa.array([1, 1, 2, 3, 4])), rosters / "int_facility.parquet")
    table = _table(good)
    pq.write_table(pa.Table.from_arrays([*table.columns, table.column("region")],
                                        names=[*table.column_names, "region"]),
                   rosters / "duplicate_column.parquet")
    lines = (root / "roster.csv").read_text(encoding="utf-8").splitlines()
    (rosters / "duplicate_column.csv").write_text(
        "\n".join([lines[0] + ",REGION", *(line + ",x" for line in lines[1:])]) + "\n", encoding="utf-8")
    (rosters / "csv_named.parquet").write_text("\n".join(lines) + "\n", encoding="utf-8")
    (rosters / "quoted_header.csv").write_text(
        "\n".join([",".join(f'"{h}"' for h in lines[0].split(",")), *lines[1:]]) + "\n", encoding="utf-8")
    os.mkfifo(rosters / "fifo.csv")
    (rosters / "zero.parquet").symlink_to("/dev/zero")
    # 부산 with a trailing blank in one line: Parquet keeps it as written (for describe's warning).
    pq.write_table(_table(good, region=pa.array(["서울", "서울", "부산", "부산 ", "서울"])),
                   rosters / "two_busans.parquet")
    return root


@pytest.fixture(scope="module")
def good_out(project: Path) -> Path:
    """An output folder that holds the good incident's report."""
    return good_report(project, project.parent / "good-reports")


# roster, texts every command's stderr must hold (the file, the column or row, the fix)
REFUSED = [
    ("rosters/fractional_fee", ("fractional_fee/part-1.parquet: column monthly_fee_krw: has type double, not integer",
                                "store whole won as an integer column", "a fraction would be rounded")),
    ("rosters/string_line_id", ("string_line_id/part-1.parquet: column line_id: has type string, not integer",
                                "store it as an integer column")),
    ("rosters/float_cycle_day.parquet", ("float_cycle_day.parquet: column bill_cycle_day: has type double",
                                         "store it as an integer column")),
    ("rosters/uint64_line_id.parquet", ("uint64_line_id.parquet: column line_id",
                                        "has type uint64 and values above 9,223,372,036,854,775,807: row 3",
                                        "must fit in 64 bits")),
    ("rosters/int_facility.parquet", ("int_facility.parquet: column facility_id: has type int64, not text",
                                      "store it as a string column")),
    ("rosters/unknown_service", ("unknown_service: column service", "row 2 of part-1.parquet ('5g')",
                                 "use one of mobile")),
    ("rosters/duplicate_column.csv", ("duplicate_column.csv: header (line 1)",
                                      "columns 'region' and 'REGION' are one name", "keep one column of each name")),
    ("rosters/duplicate_column.parquet", ("duplicate_column.parquet: columns: column 'region' appears 2 times",
                                          "keep one column of each name")),
    ("rosters/csv_named.parquet", ("csv_named.parquet: is not a readable Parquet file",
                                   "name a CSV roster .csv")),
    ("rosters/fifo.csv", ("fifo.csv: is a pipe (FIFO), not a roster file", "save the input as a file on disk")),
    ("rosters/fifo_inside", ("fifo_inside/part-1.parquet: is a pipe (FIFO), not a roster file",
                             "save the input as a file on disk")),
    ("rosters/zero.parquet", ("zero.parquet: is a device, not a roster file", "save the input as a file on disk")),
]


@pytest.mark.parametrize(("roster", "expect"), REFUSED, ids=[Path(r).name for r, _e in REFUSED])
def test_bad_roster_is_refused(project: Path, good_out: Path, roster: str, expect: tuple[str, ...]) -> None:
    before = snapshot(good_out)
    started = time.monotonic()
    assert_refused(kt("validate", roster, cwd=project, timeout=30), *expect)
    assert_refused(kt("run", "incidents/good.yml", "--roster", roster, "--no-report", "--out", good_out,
                      cwd=project, timeout=30), *expect)
    assert time.monotonic() - started < 20  # a FIFO nobody writes to is refused, not waited on
    assert snapshot(good_out) == before


def test_dev_zero_as_roster_is_refused_at_once(project: Path, good_out: Path) -> None:
    before = snapshot(good_out)
    proc = kt("run", "incidents/good.yml", "--roster", "/dev/zero", "--no-report", "--out", good_out,
              cwd=project, timeout=30)
    assert_refused(proc, "/dev/zero: is a device, not a roster file", "save the input as a file on disk")
    assert_refused(kt("roster", "describe", "/dev/zero", cwd=project, timeout=30), "/dev/zero", "is a device")
    assert snapshot(good_out) == before


@pytest.mark.parametrize("roster", ["rosters/quoted_header.csv", "rosters/good_folder"])
def test_accepted_rosters_give_the_same_total(project: Path, tmp_path: Path, roster: str) -> None:
    """A fully quoted CSV header and a two-file Parquet folder with the contract's types."""
    result = kt("validate", roster, cwd=project)
    assert result.returncode == 0 and f"ok: {roster}" in result.stdout, result.stderr
    result = kt("run", "incidents/good.yml", "--roster", roster, "--no-report", "--out", tmp_path / "out", cwd=project)
    assert result.returncode == 0, result.stderr
    summary = json.loads((tmp_path / "out" / "bad-corpus-good" / "summary.json").read_text(encoding="utf-8"))
    assert (summary["affected_lines"], summary["total_credit_krw"]) == (3, 3_332)


# --- kt-analysis roster describe -------------------------------------------------------------------

EXPECTED = {
    "service": [("mobile", 2), ("internet", 1), ("iptv", 1), ("landline", 1)],
    "region": [("서울", 3), ("부산", 1), ("제주", 1)],
    "facility_id": [("F1", 2), ("F2", 1), ("F3", 1), ("F4", 1)],
    "customer_type": [("individual", 3), ("enterprise", 1), ("small_business", 1)],
    "payment_method": [("credit_card", 2), ("bank_transfer", 1), ("check_card", 1), ("giro", 1)],
}


def test_describe_json(project: Path) -> None:
    result = kt("roster", "describe", "roster.csv", "--json", cwd=project)
    assert result.returncode == 0, result.stderr
    assert "\\u" not in result.stdout and "서울" in result.stdout  # ensure_ascii=False
    desc = json.loads(result.stdout)
    assert (desc["lines"], desc["customers"], desc["warnings"]) == (5, 4, [])
    assert {c: [(v["value"], v["lines"]) for v in values] for c, values in desc["columns"].items()} == EXPECTED


def test_describe_text(project: Path) -> None:
    result = kt("roster", "describe", "roster.csv", cwd=project)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == "roster roster.csv: 5 lines, 4 customers"
    regions = lines.index("regions: 3")
    assert lines[regions + 1:regions + 4] == ["  서울  3", "  부산  1", "  제주  1"]
    assert "services: 4" in lines and "  mobile    2" in lines and "  credit_card    2" in lines
    assert "facilities (facility_id): 4" in lines and "customer types: 3" in lines
    assert "warning" not in result.stdout and "more" not in result.stdout


def test_describe_warns_of_names_written_two_ways(project: Path) -> None:
    result = kt("roster", "describe", "rosters/two_busans.parquet", cwd=project)
    assert result.returncode == 0, result.stderr
    assert "  '부산 '  1" in result.stdout  # the blank made visible
    assert ("warning: region '부산' is written 2 ways in the roster ('부산': 1 line(s), '부산 ': 1 line(s)); "
            "they are matched as one name: write '부산' in incidents") in result.stdout
    desc = json.loads(kt("roster", "describe", "rosters/two_busans.parquet", "--json", cwd=project).stdout)
    [warning] = desc["warnings"]
    assert warning["spellings"] == [{"value": "부산", "lines": 1}, {"value": "부산 ", "lines": 1}]


def test_describe_refuses_a_bad_roster(project: Path) -> None:
    assert_refused(kt("roster", "describe", "rosters/fractional_fee", cwd=project),
                   "fractional_fee/part-1.parquet: column monthly_fee_krw: has type double", "integer column")
    assert_refused(kt("roster", "describe", "rosters/missing.parquet", cwd=project), "missing.parquet", "not found")


def test_describe_the_sample_roster(tmp_path: Path) -> None:
    assert SAMPLE.is_file(), SAMPLE
    result = kt("roster", "describe", SAMPLE, "--json", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    desc = json.loads(result.stdout)
    assert desc["lines"] == 100_000 and 0 < desc["customers"] <= 100_000
    for column, values in desc["columns"].items():
        assert sum(v["lines"] for v in values) == 100_000, column
        keys = [(-v["lines"], v["value"]) for v in values]
        assert keys == sorted(keys), column  # most lines first, then by value
    assert len(desc["columns"]["facility_id"]) > 30
    text = kt("roster", "describe", SAMPLE, cwd=tmp_path).stdout
    facilities = len(desc["columns"]["facility_id"])
    assert f"facilities (facility_id): {facilities:,}" in text
    assert f"  … and {facilities - 30:,} more" in text and "--json" in text
    assert f"roster {SAMPLE}: 100,000 lines, {desc['customers']:,} customers" in text
