"""Bill items files (kt_analysis.inputs.bill_items): read with declared types and checked on every
row like bills, and further: item codes, the sign of discounts and charges, one row per item of a
line's month, and no line's month below 0."""

from __future__ import annotations

import os
from pathlib import Path

import duckdb
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kt_analysis.errors import InputError, InputErrors
from kt_analysis.inputs.bill_items import BillItems, bill_items_sql, open_bill_items
from kt_analysis.inputs.bills import MAX_BILL_KRW
from kt_analysis.inputs.schema import BILL_ITEMS, BILL_ITEMS_COLUMNS, DISCOUNT_ITEMS, ITEM_CATEGORIES

HEADER = ",".join(BILL_ITEMS_COLUMNS)
# Lines 1-3, August and September: the plan, the 선택약정 discount, an add-on and a router.
GOOD = [(line, month, item, amount)
        for month in ("2023-08", "2023-09") for line in (1, 2, 3)
        for item, amount in (("plan", 33_000 + line), ("selective_discount", -8_250), ("add_on", 3_300),
                             ("equipment_rental", 1_100 * line))]


def _open(path: Path) -> BillItems:
    con = duckdb.connect()
    try:
        return open_bill_items(con, path)
    finally:
        con.close()


def _refused(path: Path) -> list[InputError]:
    """The problems ``path`` is refused for (one, or the several of an InputErrors)."""
    with pytest.raises(InputError) as err:
        _open(path)
    return err.value.errors if isinstance(err.value, InputErrors) else [err.value]


def _one(path: Path, where: str) -> InputError:
    """The problem about ``where`` among those ``path`` is refused for."""
    found = [e for e in _refused(path) if e.where == where]
    assert len(found) == 1, [e.message for e in _refused(path)]
    assert found[0].path == str(path) and found[0].fix
    return found[0]


def _csv(tmp_path: Path, rows: list[str], name: str = "items.csv") -> Path:
    path = tmp_path / name
    path.write_text(HEADER + "\n" + "\n".join(rows) + "\n", encoding="utf-8")
    return path


def _good_csv_rows() -> list[str]:
    return [f"{line},{month},{item},{amount}" for line, month, item, amount in GOOD]


def _table(rows: list[tuple] | None = None) -> pa.Table:
    rows = GOOD if rows is None else rows
    return pa.table({c: [r[i] for r in rows] for i, c in enumerate(BILL_ITEMS_COLUMNS)}, schema=BILL_ITEMS)


def _parquet(folder: Path, name: str = "items.parquet", table: pa.Table | None = None, **columns: pa.Array) -> Path:
    table = _table() if table is None else table
    for col, values in columns.items():
        table = table.set_column(table.column_names.index(col), col, values)
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(table, path)
    return path


def _with(rows: list[tuple], index: int, **change: object) -> list[tuple]:
    """``rows`` with row ``index`` (0-based: the Parquet row index + 1, the CSV line index + 2) changed."""
    out = list(rows)
    out[index] = tuple(change.get(c, v) for c, v in zip(BILL_ITEMS_COLUMNS, out[index], strict=True))
    return out


# ---- a valid file, in each format ----------------------------------------------------------------


@pytest.fixture(params=["csv", "parquet", "folder"])
def good_path(request: pytest.FixtureRequest, tmp_path: Path) -> Path:
    if request.param == "csv":
        return _csv(tmp_path, _good_csv_rows())
    if request.param == "parquet":
        return _parquet(tmp_path)
    folder = tmp_path / "items"
    _parquet(folder, "part-0.parquet", _table(GOOD[:10]))
    _parquet(folder, "sub/part-1.parquet", _table(GOOD[10:]))
    return folder


def test_a_valid_file_loads_with_its_counts_and_types(good_path: Path) -> None:
    items = _open(good_path)
    assert items.path == good_path
    assert items.months == {"2023-08": 12, "2023-09": 12}
    assert items.items == {"add_on": 6, "equipment_rental": 6, "plan": 6, "selective_discount": 6}
    con = duckdb.connect()
    described = con.execute(f"DESCRIBE SELECT * FROM {items.sql}").fetchall()
    assert [(name, typ) for name, typ, *_ in described] == [
        ("line_id", "BIGINT"), ("bill_month", "VARCHAR"), ("item", "VARCHAR"), ("amount_krw", "BIGINT")]
    assert sorted(con.execute(f"SELECT * FROM {items.sql}").fetchall()) == sorted(GOOD)
    assert items.sql == bill_items_sql(good_path)


def test_csv_values_are_trimmed_and_other_columns_ignored(tmp_path: Path) -> None:
    path = tmp_path / "items.csv"
    path.write_text("note,amount_krw,item,bill_month,line_id\r\n"
                    "x, 33000 , plan ,2023-09, 7\r\ny,-8250,selective_discount, 2023-09 ,7\r\n", encoding="utf-8")
    items = _open(path)
    assert items.items == {"plan": 1, "selective_discount": 1}
    rows = duckdb.connect().execute(f"SELECT * FROM {items.sql} ORDER BY amount_krw").fetchall()
    assert rows == [(7, "2023-09", "selective_discount", -8250), (7, "2023-09", "plan", 33000)]


def test_a_zero_discount_and_a_zero_month_are_accepted(tmp_path: Path) -> None:
    items = _open(_csv(tmp_path, ["1,2023-09,plan,10000", "1,2023-09,bundle_discount,-10000",
                                  "2,2023-09,plan,0", "2,2023-09,long_term_discount,0"]))
    assert items.months == {"2023-09": 4}


# ---- item codes ----------------------------------------------------------------------------------


def test_an_unknown_item_is_named_with_its_line_and_the_closest_codes(tmp_path: Path) -> None:
    rows = _good_csv_rows()
    rows[2] = "1,2023-08,addon,3300"  # line 4
    rows[9] = "3,2023-08,Plan,33003"  # line 11
    rows[20] = "2,2023-09,선택약정할인,-8250"  # line 22
    problem = _one(_csv(tmp_path, rows), "column item")
    assert "3 value(s) are not item codes: line 4 ('addon'), line 11 ('Plan'), line 22 (" in problem.problem
    assert "'addon': did you mean `add_on`" in problem.fix
    assert "'Plan': did you mean `plan`?" in problem.fix
    assert "did you mean `selective_discount`?" in problem.fix  # a Korean name, by its words
    assert ", ".join(ITEM_CATEGORIES) in problem.fix


def test_an_unknown_item_in_parquet_is_named_with_its_row(tmp_path: Path) -> None:
    path = _parquet(tmp_path, table=_table(_with(GOOD, 4, item="equipment-rental")))
    problem = _one(path, "column item")
    assert problem.problem == "1 value(s) are not item codes: row 5 ('equipment-rental')"
    assert problem.fix.startswith("'equipment-rental': did you mean `equipment_rental`")
    assert ", ".join(ITEM_CATEGORIES) in problem.fix


def test_an_unknown_item_with_another_problem_is_not_reported_twice(tmp_path: Path) -> None:
    """A negative amount on an unknown item: the item is the problem, not the amount's sign."""
    problems = _refused(_csv(tmp_path, ["1,2023-09,plan,100", "1,2023-09,refund,-50"]))
    assert [p.where for p in problems] == ["column item"]


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_an_empty_item_is_refused(tmp_path: Path, fmt: str) -> None:
    if fmt == "csv":
        rows = _good_csv_rows()
        rows[1] = "1,2023-08,,-8250"
        path, expect = _csv(tmp_path, rows), "1 value(s) are empty: line 3"
    else:
        path, expect = _parquet(tmp_path, table=_table(_with(GOOD, 1, item=None))), "1 value(s) are empty: row 2"
    problem = _one(path, "column item")
    assert problem.problem == expect and "plan, selective_discount" in problem.fix


# ---- amounts -------------------------------------------------------------------------------------


@pytest.mark.parametrize(("item", "amount", "expect", "fix"), [
    ("plan", "-33000", "negative on items that are not discounts: line 3 (plan: '-33000')", "0 or more"),
    ("add_on", "-1", "negative on items that are not discounts: line 3 (add_on: '-1')", "only the discounts"),
    ("bundle_discount", "5000", "positive on discount items: line 3 (bundle_discount: '5000')",
     "a discount is written as a negative amount"),
    ("usage", str(MAX_BILL_KRW + 1), f"too large (beyond ±{MAX_BILL_KRW:,} won", "unit mistake"),
    ("long_term_discount", str(-MAX_BILL_KRW - 1), f"line 3 ('{-MAX_BILL_KRW - 1}')", "unit mistake"),
    ("usage", "99999999999999999999", "too large", "unit mistake"),
    ("selective_discount", "-99999999999999999999", "line 3 ('-99999999999999999999')", "unit mistake"),
    ("plan", "", "empty: line 3", "0 if nothing was billed for it; a discount as a negative amount"),
    ("plan", "33,000원", "not whole numbers", "digits only"),
    ("plan", "33000.5", "not whole numbers: line 3 ('33000.5')", "digits only"),
])
def test_bad_csv_amounts_are_refused(tmp_path: Path, item: str, amount: str, expect: str, fix: str) -> None:
    amount = f'"{amount}"' if "," in amount else amount
    path = _csv(tmp_path, ["1,2023-09,plan,100000", f"1,2023-09,{item},{amount}"])
    problem = _one(path, "column amount_krw")
    assert expect in problem.problem and fix in problem.fix, problem.message


@pytest.mark.parametrize(("index", "item", "amount", "expect"), [
    (0, "plan", -33001, "negative on items that are not discounts: row 1 (plan: -33001)"),
    (5, "selective_discount", 8250, "positive on discount items: row 6 (selective_discount: 8250)"),
    (2, "add_on", MAX_BILL_KRW + 1, f"too large (beyond ±{MAX_BILL_KRW:,} won"),
    (1, "selective_discount", -(2**63), f"row 2 ({-(2**63)})"),
    (1, "selective_discount", None, "empty: row 2"),
])
def test_bad_parquet_amounts_are_refused(tmp_path: Path, index: int, item: str, amount: int | None,
                                         expect: str) -> None:
    path = _parquet(tmp_path, table=_table(_with(GOOD, index, item=item, amount_krw=amount)))
    problem = _one(path, "column amount_krw")
    assert expect in problem.problem and problem.fix, problem.message


def test_a_uint64_amount_beyond_int64_is_refused(tmp_path: Path) -> None:
    n = len(GOOD)
    amounts = pa.array([100] * (n - 1) + [2**64 - 1], pa.uint64())
    path = _parquet(tmp_path, item=pa.array(["plan"] * n), amount_krw=amounts)
    assert f"too large (beyond ±{MAX_BILL_KRW:,} won" in _one(path, "column amount_krw").problem
    assert f"row {n} (18446744073709551615)" in _one(path, "column amount_krw").problem


# ---- one row per item, no month below 0 ----------------------------------------------------------


def test_an_item_written_twice_for_a_line_month_is_refused(tmp_path: Path) -> None:
    rows = [*_good_csv_rows(), "2,2023-09,add_on,3300", "2,2023-09,add_on,1100"]
    problem = _one(_csv(tmp_path, rows), "columns line_id, bill_month, item")
    assert problem.problem == ("1 item(s) are written more than once for the same line and month: "
                               "line_id 2, 2023-09, add_on: 3 rows (line 20, line 26, line 27)")
    assert "count its amount twice" in problem.fix


def test_an_item_repeated_across_the_files_of_a_folder_is_refused(tmp_path: Path) -> None:
    folder = tmp_path / "items"
    _parquet(folder, "a.parquet", _table(GOOD[:12]))
    _parquet(folder, "b.parquet", _table(GOOD[10:]))  # rows 11-12 of a.parquet again
    problem = _one(folder, "columns line_id, bill_month, item")
    assert problem.problem.startswith("2 item(s) are written more than once for the same line and month: "
                                      "line_id 3, 2023-08, add_on: 2 rows (a.parquet row 11, b.parquet row 1); ")
    assert "line_id 3, 2023-08, equipment_rental: 2 rows (a.parquet row 12, b.parquet row 2)" in problem.problem


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_a_line_month_below_zero_is_refused(tmp_path: Path, fmt: str) -> None:
    rows = [*GOOD, (4, "2023-09", "plan", 10_000), (4, "2023-09", "bundle_discount", -7_000),
            (4, "2023-09", "long_term_discount", -5_000)]
    if fmt == "csv":
        path = _csv(tmp_path, [",".join(map(str, r)) for r in rows])
        at = "line 26, line 27, line 28"
    else:
        path = _parquet(tmp_path, table=_table(rows))
        at = "row 25, row 26, row 27"
    problem = _one(path, "column amount_krw")
    assert problem.problem == ("1 line month(s) add up to less than 0 (discounts larger than the bill): "
                               f"line_id 4, 2023-09: -2,000 won ({at})")
    assert "charges" in problem.fix


def test_a_month_total_beyond_int64_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import kt_analysis.inputs.bill_items as module

    monkeypatch.setattr(module, "MAX_BILL_KRW", 2**63 - 1)  # each amount fits; the month's sizes do not
    rows = [(1, "2023-09", "plan", 4 * 10**18), (1, "2023-09", "bundle_discount", -4 * 10**18),
            (2, "2023-09", "plan", 4 * 10**18)]
    for path in (_parquet(tmp_path, table=_table(rows)), _csv(tmp_path, [",".join(map(str, r)) for r in rows])):
        problem = _one(path, "column amount_krw")
        assert "2023-09: 12,000,000,000,000,000,000 won" in problem.problem and "unit" in problem.fix


# ---- what bills are refused for, bill items are too ----------------------------------------------


@pytest.mark.parametrize(("row", "where", "expect"), [
    (",2023-09,plan,500", "column line_id", "empty: line 3"),
    ("2.5,2023-09,plan,500", "column line_id", "not whole numbers: line 3 ('2.5')"),
    ("99999999999999999999,2023-09,plan,500", "column line_id", "too large"),
    ("2,,plan,500", "column bill_month", "empty: line 3"),
    ("2,2023-9,plan,500", "column bill_month", "not YYYY-MM months: line 3 ('2023-9')"),
    ("2,2023-13,plan,500", "column bill_month", "not YYYY-MM months: line 3 ('2023-13')"),
])
def test_bad_csv_ids_and_months_are_refused(tmp_path: Path, row: str, where: str, expect: str) -> None:
    problem = _one(_csv(tmp_path, ["1,2023-09,plan,100", row]), where)
    assert expect in problem.problem, problem.message


def test_every_problem_is_reported_at_once_in_column_order(tmp_path: Path) -> None:
    problems = _refused(_csv(tmp_path, ["1,2023-09,plan,-1", "2,2023-9,plan,5", "x,2023-09,plann,5"]))
    assert [p.where for p in problems] == ["column line_id", "column bill_month", "column item", "column amount_krw"]


@pytest.mark.parametrize(("columns", "where", "expect", "fix"), [
    ({"item": pa.array(range(len(GOOD)), pa.int64())}, "column item", "is int64, not text (e.g. row 1: 0)",
     "store item as text"),
    ({"amount_krw": pa.array([float(r[3]) + 0.5 for r in GOOD])}, "column amount_krw", "is double, not whole numbers",
     "integer column"),
    ({"bill_month": pa.array([202309] * len(GOOD))}, "column bill_month", "is int64, not text YYYY-MM", "2023-09"),
    ({"line_id": pa.array([1, None] + [3] * (len(GOOD) - 2), pa.int64())}, "column line_id", "empty: row 2",
     "give every item its line_id"),
    ({"bill_month": pa.array(["2023-09", None] + ["2023-09"] * (len(GOOD) - 2))}, "column bill_month",
     "empty: row 2", "give every item its month"),
])
def test_bad_parquet_columns_are_refused(tmp_path: Path, columns: dict, where: str, expect: str, fix: str) -> None:
    problem = _one(_parquet(tmp_path, **columns), where)
    assert expect in problem.problem and fix in problem.fix, problem.message


@pytest.mark.parametrize(("kind", "expect", "fix"), [
    ("empty", "bill items file is empty", "header line_id,bill_month,item,amount_krw"),
    ("header only", "holds a header but no bill items", "export the bill items with their rows"),
    ("missing column", "missing item (has line_id, bill_month, amount_krw)", "item (an item code)"),
    ("column twice", "names item more than once", "keep one column of each name"),
    ("semicolons", "is separated by ';', not commas", "commas"),
    ("ragged", "line 2 (5 values", "digits only"),
    ("not utf-8", "is not UTF-8 text", "save the bill items CSV as UTF-8"),
    ("folder without parquet", "folder holds no .parquet files", "a bill items .parquet or .csv file"),
    ("not parquet", "cannot be read as Parquet", "line_id, bill_month, item, amount_krw"),
    ("parquet without rows", "holds no bill items", "export the bill items with their rows"),
    ("parquet missing column", "missing item", "item (an item code)"),
    ("fifo", "is a pipe (FIFO), not a bill items file", "save the input as a file"),
    ("device", "is a device, not a bill items file", "save the input as a file"),
])
def test_unusable_files_are_refused(tmp_path: Path, kind: str, expect: str, fix: str) -> None:
    path = tmp_path / "items.csv"
    texts = {"empty": "", "header only": HEADER + "\n",
             "missing column": "line_id,bill_month,amount_krw\n1,2023-09,5\n",
             "column twice": "line_id,bill_month,item,item,amount_krw\n1,2023-09,plan,plan,5\n",
             "semicolons": "line_id;bill_month;item;amount_krw\n1;2023-09;plan;5\n",
             "ragged": HEADER + "\n1,2023-09,plan,33,000원\n"}
    if kind in texts:
        path.write_text(texts[kind], encoding="utf-8")
    elif kind == "not utf-8":
        path.write_bytes((HEADER + "\n1,2023-09,plan,5\n").encode() + "2,2023-09,café,5\n".encode("latin-1"))
    elif kind == "folder without parquet":
        (path := tmp_path / "folder").mkdir()
    elif kind == "not parquet":
        (path := tmp_path / "items.parquet").write_text(HEADER + "\n")
    elif kind == "parquet without rows":
        path = _parquet(tmp_path, table=_table([]))
    elif kind == "parquet missing column":
        path = _parquet(tmp_path, table=_table().drop_columns(["item"]))
    elif kind == "fifo":
        os.mkfifo(path := tmp_path / "fifo.csv")
    else:
        path = Path("/dev/zero")
    with pytest.raises(InputError) as err:
        _open(path)
    assert expect in err.value.message and fix in err.value.fix, err.value.message
    assert err.value.exit_code == 2


# ---- any valid items table -----------------------------------------------------------------------


CHARGES = tuple(i for i in ITEM_CATEGORIES if i not in DISCOUNT_ITEMS)


@st.composite
def item_tables(draw: st.DrawFn) -> pd.DataFrame:
    """A valid items table: distinct (line, month, item), charges 0 or more, discounts 0 or less and
    no larger in all than the line's month's charges, amounts up to MAX_BILL_KRW."""
    lines = draw(st.lists(st.integers(-(2**63), 2**63 - 1), min_size=1, max_size=6, unique=True))
    months = draw(st.lists(st.sampled_from(["1999-12", "2023-01", "2023-09", "2024-02"]), min_size=1, max_size=3,
                           unique=True))
    rows = []
    for line in lines:
        for month in months:
            chosen = draw(st.lists(st.sampled_from(ITEM_CATEGORIES), min_size=1, max_size=5, unique=True))
            amount = st.integers(0, MAX_BILL_KRW) | st.integers(0, 100_000)
            charges = {i: draw(amount) for i in chosen if i in CHARGES}
            room = sum(charges.values())
            for item in chosen:
                if item in charges:
                    rows.append((line, month, item, charges[item]))
                else:
                    size = min(draw(amount), room)
                    room -= size
                    rows.append((line, month, item, -size))
    order = draw(st.permutations(range(len(rows))))
    return pd.DataFrame([rows[i] for i in order], columns=list(BILL_ITEMS_COLUMNS))


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(frame=item_tables(), fmt=st.sampled_from(["csv", "parquet", "folder"]))
def test_any_valid_items_table_loads_with_the_same_sums(frame: pd.DataFrame, fmt: str,
                                                        tmp_path_factory: pytest.TempPathFactory) -> None:
    tmp = tmp_path_factory.mktemp("any")
    if fmt == "csv":
        path = tmp / "items.csv"
        frame.to_csv(path, index=False)
    elif fmt == "parquet":
        path = _parquet(tmp, table=pa.Table.from_pandas(frame, schema=BILL_ITEMS, preserve_index=False))
    else:
        path = tmp / "items"
        half = len(frame) // 2
        for name, part in (("a.parquet", frame.iloc[:half]), ("b.parquet", frame.iloc[half:])):
            _parquet(path, name, pa.Table.from_pandas(part, schema=BILL_ITEMS, preserve_index=False))
    items = _open(path)
    assert items.months == frame["bill_month"].value_counts().to_dict()
    assert items.items == frame["item"].value_counts().to_dict()
    got = duckdb.connect().execute(
        f"SELECT line_id, bill_month, sum(amount_krw) FROM {items.sql} GROUP BY ALL").fetchall()
    want = frame.groupby(["line_id", "bill_month"])["amount_krw"].sum()
    assert {(line, month): int(total) for line, month, total in got} == {k: int(v) for k, v in want.items()}
    assert all(total >= 0 for *_k, total in got)
