"""Synthetic monthly bills: contract, determinism, chunking, and how amounts vary month to month."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kt_analysis.errors import InputError
from kt_analysis.inputs.synthetic import (
    BILL_SAME_AMOUNT_SHARE,
    BILLS_SCHEMA,
    bill_months,
    generate_bills,
    generate_roster,
)

ROOT = Path(__file__).resolve().parents[1]
LINES = 2_000
SEED = 11
MONTHS_2023 = [f"2023-{m:02d}" for m in range(1, 13)]


@pytest.fixture(scope="module")
def roster_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return generate_roster(LINES, SEED, tmp_path_factory.mktemp("roster"))


@pytest.fixture(scope="module")
def bills_path(roster_path: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return generate_bills(roster_path, SEED, tmp_path_factory.mktemp("bills"))


@pytest.fixture(scope="module")
def bills(bills_path: Path) -> pd.DataFrame:
    return pq.read_table(bills_path).to_pandas()


@pytest.fixture(scope="module")
def wide(bills: pd.DataFrame) -> pd.DataFrame:
    """One row per line, one column per month."""
    return bills.pivot(index="line_id", columns="bill_month", values="amount_krw")


@pytest.fixture(scope="module")
def big_wide(tmp_path_factory: pytest.TempPathFactory) -> tuple[pd.DataFrame, pd.DataFrame]:
    """20,000 lines: enough for shares to within a point."""
    tmp = tmp_path_factory.mktemp("big")
    roster = generate_roster(20_000, 3, tmp)
    table = pq.read_table(generate_bills(roster, 3, tmp)).to_pandas()
    return table.pivot(index="line_id", columns="bill_month", values="amount_krw"), pq.read_table(roster).to_pandas()


def sorted_rows(path: Path) -> pd.DataFrame:
    df = pq.read_table(path).to_pandas()
    return df.sort_values(["bill_month", "line_id"], kind="stable").reset_index(drop=True)


# ---- contract ------------------------------------------------------------------------------


def test_schema_and_dtypes(bills_path: Path, bills: pd.DataFrame) -> None:
    assert pq.read_schema(bills_path).equals(BILLS_SCHEMA, check_metadata=False)
    assert list(bills.columns) == ["line_id", "bill_month", "amount_krw"]
    assert bills["line_id"].dtype == np.int64 and bills["amount_krw"].dtype == np.int64
    assert bills["bill_month"].str.fullmatch(r"\d{4}-\d{2}").all()


def test_one_row_per_line_per_month(bills: pd.DataFrame, roster_path: Path) -> None:
    line_ids = pq.read_table(roster_path, columns=["line_id"]).column(0).to_numpy()
    assert len(bills) == LINES * 12
    assert not bills.duplicated(["line_id", "bill_month"]).any()
    assert sorted(bills["bill_month"].unique()) == MONTHS_2023
    assert (bills.groupby("bill_month")["line_id"].apply(lambda s: sorted(s)).map(len) == LINES).all()
    assert set(bills["line_id"]) == set(line_ids.tolist())


def test_rows_come_month_by_month_in_roster_order(bills: pd.DataFrame, bills_path: Path) -> None:
    assert list(bills["bill_month"].drop_duplicates()) == MONTHS_2023
    first = bills[bills["bill_month"] == "2023-01"]["line_id"].to_numpy()
    assert (first == np.arange(1, LINES + 1)).all()
    # Each row group holds one month, so a reader can skip the other months.
    meta = pq.ParquetFile(bills_path).metadata
    for i in range(meta.num_row_groups):
        stats = meta.row_group(i).column(1).statistics
        assert stats.min == stats.max


def test_amounts_are_whole_won_ending_in_zero(bills: pd.DataFrame) -> None:
    assert (bills["amount_krw"] >= 0).all()
    assert (bills["amount_krw"] % 10 == 0).all()


def test_amounts_start_from_the_monthly_fee(bills: pd.DataFrame, roster_path: Path) -> None:
    roster = pq.read_table(roster_path).to_pandas().set_index("line_id")
    fee = roster.loc[bills["line_id"], "monthly_fee_krw"].to_numpy()
    extra = bills["amount_krw"].to_numpy() - fee
    # Most bills are the fee or more; below it only by a credit (at most 11,000 won).
    assert (extra >= 0).mean() > 0.9
    assert extra.min() >= -11_000
    # On average bills run above the fee: usage, add-ons, instalments.
    assert 1.1 < bills["amount_krw"].mean() / fee.mean() < 2.0


# ---- determinism and chunking --------------------------------------------------------------


def test_same_roster_and_seed_same_bytes(roster_path: Path, bills_path: Path, tmp_path: Path) -> None:
    assert generate_bills(roster_path, SEED, tmp_path).read_bytes() == bills_path.read_bytes()


def test_other_seed_other_amounts(roster_path: Path, bills: pd.DataFrame, tmp_path: Path) -> None:
    other = pq.read_table(generate_bills(roster_path, SEED + 1, tmp_path)).to_pandas()
    assert (other["line_id"] == bills["line_id"]).all()
    assert (other["amount_krw"] != bills["amount_krw"]).mean() > 0.3


def test_chunk_size_does_not_change_the_data(roster_path: Path, bills_path: Path, tmp_path: Path) -> None:
    path = generate_bills(roster_path, SEED, tmp_path, chunk_lines=333)
    assert pq.ParquetFile(path).metadata.num_row_groups == 12 * -(-LINES // 333)
    assert pq.read_table(path).equals(pq.read_table(bills_path))


def test_a_month_does_not_depend_on_the_window(roster_path: Path, bills: pd.DataFrame, tmp_path: Path) -> None:
    part = pq.read_table(generate_bills(roster_path, SEED, tmp_path, first_month="2023-07", months=3)).to_pandas()
    same = bills[bills["bill_month"].isin(["2023-07", "2023-08", "2023-09"])].reset_index(drop=True)
    pd.testing.assert_frame_equal(part, same)


def test_a_bill_does_not_depend_on_the_roster_order(roster_path: Path, bills_path: Path, tmp_path: Path) -> None:
    table = pq.read_table(roster_path)
    shuffled = table.take(np.random.default_rng(0).permutation(table.num_rows))
    pq.write_table(shuffled, tmp_path / "shuffled.parquet")
    path = generate_bills(tmp_path / "shuffled.parquet", SEED, tmp_path, chunk_lines=500)
    pd.testing.assert_frame_equal(sorted_rows(path), sorted_rows(bills_path))


def test_a_roster_without_plans_still_gets_varied_bills(roster_path: Path, tmp_path: Path) -> None:
    table = pq.read_table(roster_path, columns=["line_id", "service", "monthly_fee_krw"])
    pq.write_table(table, tmp_path / "bare.parquet")
    df = pq.read_table(generate_bills(tmp_path / "bare.parquet", SEED, tmp_path)).to_pandas()
    wide = df.pivot(index="line_id", columns="bill_month", values="amount_krw")
    assert 0.2 < (wide["2023-09"] == wide["2023-08"]).mean() < 0.55


def test_two_thousand_lines_are_fast(roster_path: Path, tmp_path: Path) -> None:
    start = time.perf_counter()
    generate_bills(roster_path, SEED, tmp_path)
    assert time.perf_counter() - start < 5.0


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(lines=st.integers(1, 1_500), seed=st.integers(0, 2**63), months=st.integers(1, 14),
       first=st.sampled_from(["2019-11", "2023-01", "2024-12"]), chunk=st.integers(1, 700))
def test_any_roster_and_seed_meet_the_contract(lines: int, seed: int, months: int, first: str, chunk: int,
                                               tmp_path_factory: pytest.TempPathFactory) -> None:
    tmp = tmp_path_factory.mktemp("any")
    roster = generate_roster(lines, seed % 1000, tmp)
    path = generate_bills(roster, seed, tmp, first_month=first, months=months, chunk_lines=chunk)
    df = pq.read_table(path).to_pandas()
    assert len(df) == lines * months
    assert sorted(df["bill_month"].unique()) == bill_months(first, months)
    assert not df.duplicated(["line_id", "bill_month"]).any()
    assert (df["amount_krw"] >= 0).all() and (df["amount_krw"] % 10 == 0).all()


# ---- how amounts vary ----------------------------------------------------------------------


def test_month_over_month_equal_share_is_the_documented_figure(big_wide: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    wide, _ = big_wide
    shares = [(wide[b] == wide[a]).mean() for a, b in zip(MONTHS_2023, MONTHS_2023[1:], strict=False)]
    assert abs(np.mean(shares) - BILL_SAME_AMOUNT_SHARE) < 0.015, shares
    assert max(shares) - min(shares) < 0.03, "no month is special"
    # Two months apart (July and September: the 2023 error) the share is the same or lower.
    assert (wide["2023-09"] == wide["2023-07"]).mean() < BILL_SAME_AMOUNT_SHARE + 0.02


def test_flat_services_repeat_and_usage_services_vary(big_wide: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    wide, roster = big_wide
    same = (wide["2023-09"] == wide["2023-08"]).rename("same")
    by_service = roster.set_index("line_id").join(same).groupby("service")["same"].mean()
    assert by_service["internet"] > 0.7  # a fixed fee, rarely anything else
    assert by_service["mobile"] < 0.35  # calls, micropayments, top-ups, roaming, instalments
    assert by_service["landline"] < 0.35  # metered calls
    assert 0.2 < by_service["iptv"] < 0.5  # VODs


def test_roaming_peaks_in_summer(big_wide: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    wide, roster = big_wide
    mobile = wide.loc[roster.loc[roster["service"] == "mobile", "line_id"]]
    # Roaming day passes are multiples of 11,000 won and reach 99,000: bills far above the
    # month before are mostly roaming, and there are more of them in August than in April.
    pairs = (("2023-03", "2023-04"), ("2023-07", "2023-08"))
    jumps = {m: int((mobile[m] - mobile[p] >= 40_000).sum()) for p, m in pairs}
    assert jumps["2023-08"] > jumps["2023-04"]


# ---- inputs and failures -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "where"),
    [
        ({"first_month": "2023-13"}, "--first-month"),
        ({"first_month": "2023-1"}, "--first-month"),
        ({"months": 0}, "--bill-months"),
        ({"seed": -1}, "--seed"),
    ],
)
def test_bad_arguments_are_input_errors(roster_path: Path, tmp_path: Path, kwargs: dict, where: str) -> None:
    args = {"seed": SEED, **kwargs}
    seed = args.pop("seed")
    with pytest.raises(InputError) as err:
        generate_bills(roster_path, seed, tmp_path, **args)
    assert where in str(err.value)
    assert not list(tmp_path.iterdir())


def test_missing_roster_is_an_input_error(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="roster not found"):
        generate_bills(tmp_path / "nope.parquet", 1, tmp_path)


def test_roster_without_fees_is_an_input_error(tmp_path: Path) -> None:
    pq.write_table(pa.table({"line_id": [1, 2], "service": ["mobile", "iptv"]}), tmp_path / "r.parquet")
    with pytest.raises(InputError, match="monthly_fee_krw"):
        generate_bills(tmp_path / "r.parquet", 1, tmp_path)


def test_out_dir_must_not_be_a_file(roster_path: Path, tmp_path: Path) -> None:
    a_file = tmp_path / "file"
    a_file.write_text("x")
    with pytest.raises(InputError, match="not a directory"):
        generate_bills(roster_path, 1, a_file)


def test_progress_counts_bill_rows(roster_path: Path, tmp_path: Path) -> None:
    seen: list[tuple[int, int]] = []
    generate_bills(roster_path, SEED, tmp_path, months=2, chunk_lines=700, progress=lambda d, t: seen.append((d, t)))
    assert seen[-1] == (2 * LINES, 2 * LINES)
    assert [d for d, _ in seen] == sorted(d for d, _ in seen)


def test_a_failed_write_leaves_no_file(roster_path: Path, tmp_path: Path) -> None:
    def boom(done: int, total: int) -> None:
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError):
        generate_bills(roster_path, SEED, tmp_path, progress=boom)
    assert list(tmp_path.iterdir()) == []


# ---- the committed sample ------------------------------------------------------------------


def test_sample_bills_are_current() -> None:
    sample = ROOT / "data" / "sample" / "bills.parquet"
    assert sample.exists(), "generate data/sample/bills.parquet (see data/README.md)"
    meta = pq.ParquetFile(sample).metadata
    assert meta.num_rows == 100_000 * 12
    assert sample.stat().st_size < 5_000_000
    # The first row group (January, every line) is regenerated and compared.
    head = pq.ParquetFile(sample).read_row_group(0)
    assert head.column("bill_month").unique().to_pylist() == ["2023-01"]
    roster = pq.read_table(ROOT / "data" / "sample" / "roster.parquet").slice(0, head.num_rows)
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        pq.write_table(roster, Path(tmp) / "roster.parquet")
        fresh = pq.read_table(generate_bills(Path(tmp) / "roster.parquet", 20211025, tmp, months=1))
    assert head.equals(fresh), "regenerate data/sample/bills.parquet (see data/README.md)"


# ---- reading a bills file: declared types, every row checked (kt_analysis.inputs.bills) ---------------


def _open(path: Path):  # noqa: ANN202 - a Bills
    import duckdb

    from kt_analysis.inputs.bills import open_bills

    con = duckdb.connect()
    try:
        return open_bills(con, path)
    finally:
        con.close()


def _csv(tmp_path: Path, rows: list[str], name: str = "b.csv") -> Path:
    path = tmp_path / name
    path.write_text("line_id,bill_month,amount_krw\n" + "\n".join(rows) + "\n", encoding="utf-8")
    return path


GOOD_ROWS = [f"{i},2023-0{m},{10_000 + i}" for m in (8, 9) for i in range(1, 4)]


def test_open_bills_types_and_months(tmp_path: Path) -> None:
    import duckdb

    bills = _open(_csv(tmp_path, GOOD_ROWS))
    assert bills.months == {"2023-08": 3, "2023-09": 3}
    types = [t for _n, t, *_r in duckdb.sql(f"DESCRIBE SELECT * FROM {bills.sql}").fetchall()]
    assert types == ["BIGINT", "VARCHAR", "BIGINT"]


def test_a_bad_value_far_down_a_csv_is_found_with_its_line(tmp_path: Path) -> None:
    """DuckDB's sniffer would guess BIGINT from the first rows and fail halfway through."""
    rows = [f"{i},2023-09,{1000 + i % 50}" for i in range(1, 40_001)]
    rows[29_998] = "29999,2023-09,abc"  # line 30,000 (the header is line 1)
    rows[35_000] = '35001,2023-09,"12,000원"'
    with pytest.raises(InputError) as err:
        _open(_csv(tmp_path, rows))
    assert err.value.where == "column amount_krw"
    assert "2 value(s) are not whole numbers: line 30000 ('abc'), line 35002 ('12,000원')" in err.value.problem
    assert "digits only" in err.value.fix


@pytest.mark.parametrize(("row", "where", "expect"), [
    ("2,2023-09,-500", "column amount_krw", "negative: line 3 ('-500')"),
    ("2,2023-09,99999999999999999999", "column amount_krw", "too large"),
    ("2,2023-09,", "column amount_krw", "empty: line 3"),
    ("2,2023-9,500", "column bill_month", "not YYYY-MM months: line 3 ('2023-9')"),
    ("2,2023-13,500", "column bill_month", "not YYYY-MM months: line 3 ('2023-13')"),
    (",2023-09,500", "column line_id", "empty: line 3"),
    ("2.5,2023-09,500", "column line_id", "not whole numbers: line 3 ('2.5')"),
    ("99999999999999999999,2023-09,500", "column line_id", "too large"),
    ("2,2023-09,5.5", "column amount_krw", "not whole numbers: line 3 ('5.5')"),
    ("2,2023-09,1e3", "column amount_krw", "not whole numbers: line 3 ('1e3')"),
])
def test_bad_csv_values_are_refused(tmp_path: Path, row: str, where: str, expect: str) -> None:
    with pytest.raises(InputError) as err:
        _open(_csv(tmp_path, ["1,2023-09,100", row, "3,2023-09,300"]))
    assert err.value.where == where and expect in err.value.problem and err.value.fix


def test_every_problem_is_reported_at_once(tmp_path: Path) -> None:
    from kt_analysis.errors import InputErrors

    with pytest.raises(InputErrors) as err:
        _open(_csv(tmp_path, ["1,2023-09,-1", "2,2023-9,5", "x,2023-09,5"]))
    assert [e.where for e in err.value.errors] == ["column line_id", "column bill_month", "column amount_krw"]


def _parquet(tmp_path: Path, name: str = "b.parquet", **columns: pa.Array) -> Path:
    table = {"line_id": pa.array([1, 2, 3], pa.int64()), "bill_month": pa.array(["2023-09"] * 3),
             "amount_krw": pa.array([100, 200, 300], pa.int64())}
    table.update(columns)
    pq.write_table(pa.table(table), tmp_path / name)
    return tmp_path / name


@pytest.mark.parametrize(("columns", "where", "expect"), [
    ({"amount_krw": pa.array([100.0, 200.5, 300.0])}, "column amount_krw",
     "is double, not whole numbers (e.g. row 2: 200.5)"),
    ({"line_id": pa.array(["1", "2", "3"])}, "column line_id", "is string, not whole numbers"),
    ({"bill_month": pa.array([202309, 202309, 202309])}, "column bill_month", "is int64, not text YYYY-MM"),
    ({"amount_krw": pa.array([100, None, 300], pa.int64())}, "column amount_krw", "empty: row 2"),
    ({"amount_krw": pa.array([100, -5, 300], pa.int64())}, "column amount_krw", "negative: row 2 (-5)"),
    ({"amount_krw": pa.array([100, 2**64 - 1, 300], pa.uint64())}, "column amount_krw", "too large"),
    ({"line_id": pa.array([1, 2**64 - 1, 3], pa.uint64())}, "column line_id", "too large"),
    ({"bill_month": pa.array(["2023-09", "2023-13", None])}, "column bill_month", "empty: row 3"),
])
def test_bad_parquet_columns_are_refused(tmp_path: Path, columns: dict, where: str, expect: str) -> None:
    from kt_analysis.errors import InputErrors

    with pytest.raises(InputError) as err:
        _open(_parquet(tmp_path, **columns))
    errors = err.value.errors if isinstance(err.value, InputErrors) else [err.value]
    assert any(e.where == where and expect in e.problem and e.fix for e in errors), err.value.message


def test_every_file_of_a_folder_is_checked(tmp_path: Path) -> None:
    folder = tmp_path / "bills"
    folder.mkdir()
    _parquet(folder, "a.parquet")
    _parquet(folder, "b.parquet", amount_krw=pa.array([1.0, 2.0, 3.0]))
    with pytest.raises(InputError) as err:
        _open(folder)
    assert err.value.path.endswith("b.parquet") and "is double" in err.value.problem
    (folder / "b.parquet").unlink()
    _parquet(folder, "c.parquet", amount_krw=pa.array([1, 2, -3], pa.int64()))
    with pytest.raises(InputError, match=r"negative: c\.parquet row 3 \(-3\)"):
        _open(folder)


def test_a_month_total_beyond_int64_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import kt_analysis.inputs.bills as bills_module

    monkeypatch.setattr(bills_module, "MAX_BILL_KRW", 2**63 - 1)  # each amount fits; their sum does not
    big = pa.array([4 * 10**18, 4 * 10**18, 4 * 10**18], pa.int64())
    for path in (_parquet(tmp_path, amount_krw=big),
                 _csv(tmp_path, [f"{i},2023-09,{4 * 10**18}" for i in (1, 2, 3)])):
        with pytest.raises(InputError) as err:
            _open(path)
        assert "2023-09: 12,000,000,000,000,000,000 won" in err.value.problem and "unit" in err.value.fix


@pytest.mark.parametrize("kind", ["empty", "header only", "folder without parquet", "not parquet", "semicolons",
                                  "missing column", "fifo", "device"])
def test_unusable_files_are_refused(tmp_path: Path, kind: str) -> None:
    import os

    path = tmp_path / "b.csv"
    if kind == "empty":
        path.write_text("")
    elif kind == "header only":
        path.write_text("line_id,bill_month,amount_krw\n")
    elif kind == "folder without parquet":
        path = tmp_path / "folder"
        path.mkdir()
    elif kind == "not parquet":
        path = tmp_path / "b.parquet"
        path.write_text("line_id,bill_month,amount_krw\n")
    elif kind == "semicolons":
        path.write_text("line_id;bill_month;amount_krw\n1;2023-09;5\n")
    elif kind == "missing column":
        path.write_text("line_id,month,amount_krw\n1,2023-09,5\n")
    elif kind == "fifo":
        os.mkfifo(path := tmp_path / "fifo.csv")
    else:
        path = Path("/dev/zero")
    with pytest.raises(InputError) as err:
        _open(path)
    assert err.value.fix


def test_validate_bills_names_a_missing_month(tmp_path: Path) -> None:
    import duckdb

    from kt_analysis.engine.billing import validate_bills

    class Billing:  # the fields validate_bills reads
        bills = _csv(tmp_path, GOOD_ROWS)
        wrong_month, charged_month = "2023-09", "2023-07"

    with pytest.raises(InputError, match="has no bills for 2023-07"):
        validate_bills(duckdb.connect(), Billing())  # type: ignore[arg-type]
