"""Adversarial corpus, bills: a bills file is read with declared types and checked on every row,
so a bad value anywhere (line 30,000 of a CSV whose first rows DuckDB's sniffer would take for
BIGINT), an amount or a month total beyond 64 bits, a negative or empty amount, a month like
``2023-9`` or ``2023-13``, a Parquet column of the wrong type (in any file of a folder), a FIFO or
``/dev/zero`` is refused with exit 2, the file, the line or row, the value and the fix.

The small project is ``tests/data/bad/``: ``bills.csv`` bills lines 1-5 for 2023-07, -08 and -09
(line 14 of the file is ``3,2023-09,55000``); ``incidents/good-billing.yml`` charged July's
amounts for September. Each case runs ``check-bills BILLS --month 2023-09`` and ``run
incidents/good-billing.yml --bills BILLS`` into a folder that already holds a good report, which
must not change.
"""

from __future__ import annotations

import os
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest
from refusal import assert_refused, kt, small_project, snapshot

FAR = 30_000  # the line that holds the bad value: far past the rows DuckDB's sniffer samples


def _lines(root: Path) -> list[str]:
    return (root / "bills.csv").read_text(encoding="utf-8").splitlines()


def _write_csv(path: Path, lines: list[str]) -> str:
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return f"bills/{path.name}"


def _far(root: Path, name: str, bad: str) -> str:
    """The good bills, then 2023-08 bills of other lines up to line 30,100; line 30,000 bills ``bad``."""
    lines = _lines(root)
    start = len(lines)
    lines += [f"{1000 + n},2023-08,{10_000 + n % 90 * 100}" for n in range(start, FAR + 100)]
    lines[FAR - 1] = f"{1000 + FAR},2023-08,{bad}"
    return _write_csv(root / "bills" / name, lines)


def _line14(root: Path, name: str, line: str) -> str:
    lines = _lines(root)
    assert lines[13] == "3,2023-09,55000"
    lines[13] = line
    return _write_csv(root / "bills" / name, lines)


def _parquet(root: Path, name: str, column: str, values: pa.Array) -> str:
    table = pacsv.read_csv(root / "bills.csv", convert_options=pacsv.ConvertOptions(
        column_types={"bill_month": pa.string()}))
    table = table.set_column(table.column_names.index(column), column, values)
    pq.write_table(table, root / "bills" / name)
    return f"bills/{name}"


def _amounts(root: Path, change: dict[int, object], typ: pa.DataType | None = None) -> pa.Array:
    values = [int(line.rsplit(",", 1)[1]) for line in _lines(root)[1:]]
    for index, value in change.items():
        values[index] = value
    return pa.array(values, typ or pa.int64())


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = small_project(tmp_path_factory.mktemp("bills") / "project")
    out = root / "out"
    good = kt("run", "incidents/good-billing.yml", "--bills", "bills.csv", "--no-report", "--out", out, cwd=root)
    assert good.returncode == 0, good.stderr
    assert (out / "bad-corpus-billing" / "summary.json").exists()
    return root


# name -> (make the bills file in the project and return its path, texts stderr must hold)
CASES = {
    "far_text_amount": (lambda r: _far(r, "far_text.csv", "abc"),
                        (f"line {FAR} ('abc')", "column amount_krw", "not whole numbers", "digits only")),
    "far_won_amount": (lambda r: _far(r, "far_won.csv", '"12,000원"'),
                       (f"line {FAR} ('12,000원')", "not whole numbers", "digits only")),
    "far_unquoted_comma": (lambda r: _far(r, "far_comma.csv", "12,000원"),
                           (f"line {FAR} (4 values", "12,000원", "digits only")),
    "amount_beyond_int64": (lambda r: _line14(r, "beyond_int64.csv", "3,2023-09,99999999999999999999"),
                            ("line 14 ('99999999999999999999')", "too large", "unit mistake")),
    "month_total_beyond_int64": (
        lambda r: _write_csv(r / "bills" / "sum_overflow.csv", _lines(r)[:11] + [
            f"{n},2023-09,100000000000000" for n in range(1, 100_001)]),
        ("2023-09: 10,000,000,000,000,000,000 won", "more than a 64-bit integer holds", "unit")),
    "negative_amount": (lambda r: _line14(r, "negative.csv", "3,2023-09,-55000"),
                        ("line 14 ('-55000')", "negative", "write 0 or more")),
    "month_without_zero": (lambda r: _line14(r, "month9.csv", "3,2023-9,55000"),
                           ("column bill_month", "line 14 ('2023-9')", "write bill months like 2023-09")),
    "month_13": (lambda r: _write_csv(r / "bills" / "month13.csv", [*_lines(r), "3,2023-13,55000"]),
                 ("column bill_month", "line 17 ('2023-13')", "month 01-12")),
    "null_amount_csv": (lambda r: _line14(r, "null_amount.csv", "3,2023-09,"),
                        ("column amount_krw", "are empty: line 14", "0 if nothing was billed")),
    "null_amount_parquet": (lambda r: _parquet(r, "null_amount.parquet", "amount_krw", _amounts(r, {12: None})),
                            ("column amount_krw", "are empty: row 13", "0 if nothing was billed")),
    "negative_amount_parquet": (lambda r: _parquet(r, "negative.parquet", "amount_krw", _amounts(r, {12: -55000})),
                                ("row 13 (-55000)", "negative", "write 0 or more")),
    "uint64_beyond_int64": (lambda r: _parquet(r, "uint64.parquet", "amount_krw",
                                               _amounts(r, {12: 2**64 - 1}, pa.uint64())),
                            ("row 13 (18446744073709551615)", "too large", "unit mistake")),
    "double_amount_parquet": (lambda r: _parquet(r, "double.parquet", "amount_krw",
                                                 _amounts(r, {12: 55000.5}, pa.float64())),
                              ("column amount_krw", "is double", "row 13: 55000.5", "integer column")),
    "string_line_id_parquet": (lambda r: _parquet(r, "string_id.parquet", "line_id",
                                                  pa.array([str(i) for i in [1, 2, 3, 4, 5] * 3])),
                               ("column line_id", "is string", "integer column")),
    "folder_with_a_double_file": (lambda r: _folder(r), ("part-1.parquet", "is double", "integer column")),
    "fifo": (lambda r: _special(r, "fifo.csv"), ("bills/fifo.csv", "is a pipe (FIFO)", "save the input as a file")),
    "dev_zero": (lambda r: "/dev/zero", ("/dev/zero", "is a device", "save the input as a file")),
    "empty_file": (lambda r: _special(r, "empty.csv"),
                   ("bills/empty.csv", "is empty", "header line_id,bill_month,amount_krw")),
}


def _folder(root: Path) -> str:
    """bills/folder/: part-0.parquet good, part-1.parquet the same bills with double amounts."""
    (root / "bills" / "folder").mkdir()
    _parquet(root, "folder/part-0.parquet", "amount_krw", _amounts(root, {}))
    _parquet(root, "folder/part-1.parquet", "amount_krw", _amounts(root, {}, pa.float64()))
    return "bills/folder"


def _special(root: Path, name: str) -> str:
    if name == "fifo.csv":
        os.mkfifo(root / "bills" / name)
    else:
        (root / "bills" / name).write_bytes(b"")
    return f"bills/{name}"


@pytest.fixture(scope="module")
def made(project: Path) -> dict[str, str]:
    return {name: make(project) for name, (make, _expect) in CASES.items()}


@pytest.mark.parametrize("name", sorted(CASES))
def test_check_bills_refuses(project: Path, made: dict[str, str], name: str) -> None:
    proc = kt("check-bills", made[name], "--month", "2023-09", cwd=project, timeout=60)
    assert_refused(proc, *CASES[name][1])
    assert proc.stdout == ""


@pytest.mark.parametrize("name", sorted(CASES))
def test_run_refuses_and_keeps_the_good_report(project: Path, made: dict[str, str], name: str) -> None:
    out = project / "out"
    before = snapshot(out)
    proc = kt("run", "incidents/good-billing.yml", "--bills", made[name], "--no-report", "--out", out, cwd=project,
              timeout=60)
    assert_refused(proc, *CASES[name][1])
    assert snapshot(out) == before
