"""Rosters: Parquet and CSV (UTF-8, BOM, CP949) read alike; every bad row is reported at once."""

from __future__ import annotations

import re
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from conftest import ROSTER_COLUMNS, csv_text, make_roster, small_roster, write_parquet

from kt_analysis.errors import InputError, InputErrors
from kt_analysis.inputs.roster import open_roster, validate_roster

HEADER = ",".join(ROSTER_COLUMNS)
GOOD_ROWS = [
    "1,10,mobile,72000,서울,SEOUL-JUNG-01,individual,credit_card,5",
    "2,10,internet,25000,서울,SEOUL-JUNG-01,individual,credit_card,5",
    "3,11,internet,33000,부산,BUSAN-001,small_business,giro,25",
]


def rows_of(con, path) -> list[tuple]:
    src = open_roster(path)
    try:
        n = validate_roster(con, src)
        rows = con.execute(
            f"SELECT {', '.join(ROSTER_COLUMNS)} FROM {src.sql} ORDER BY line_id"
        ).fetchall()
    finally:
        src.close()
    assert n == len(rows)
    return rows


def problem(con, path) -> InputError:
    with pytest.raises(InputError) as err:
        src = open_roster(path)
        try:
            validate_roster(con, src)
        finally:
            src.close()
    assert err.value.exit_code == 2
    message = str(err.value)
    assert str(path) in message and " — " in message, message
    return err.value


def csv_file(tmp_path, lines: list[str], name: str = "r.csv", encoding: str = "utf-8"):
    path = tmp_path / name
    path.write_bytes("\n".join(lines).encode(encoding) + b"\n")
    return path


def test_parquet_and_csv_encodings_give_identical_rows(duck, tmp_path):
    frame = small_roster()
    text = csv_text(frame)
    paths = [
        write_parquet(frame, tmp_path / "r.parquet"),
        tmp_path / "utf8.csv",
        tmp_path / "bom.csv",
        tmp_path / "cp949.csv",
        tmp_path / "crlf.csv",
    ]
    paths[1].write_bytes(text.encode("utf-8"))
    paths[2].write_bytes(b"\xef\xbb\xbf" + text.encode("utf-8"))
    paths[3].write_bytes(text.encode("cp949"))
    paths[4].write_bytes(text.replace("\n", "\r\n").encode("utf-8"))
    assert "서울".encode("cp949") in paths[3].read_bytes()  # really CP949 bytes
    expected = list(frame.itertuples(index=False, name=None))
    for path in paths:
        assert rows_of(duck, path) == expected, path


def test_extra_columns_and_dataset_folder(duck, tmp_path):
    frame = make_roster(300, seed=3)  # has name and phone
    folder = tmp_path / "roster"
    write_parquet(frame.iloc[:100], folder / "part-0.parquet")
    write_parquet(frame.iloc[100:], folder / "part-1.parquet")
    rows = rows_of(duck, folder)
    assert len(rows) == 300 and len(rows[0]) == len(ROSTER_COLUMNS)


def test_cp949_temp_copy_is_removed(duck, tmp_path):
    path = csv_file(tmp_path, [HEADER, *GOOD_ROWS], encoding="cp949")
    src = open_roster(path)
    assert src.cleanup is not None and src.cleanup.exists()
    validate_roster(duck, src)
    src.close()
    assert not src.cleanup.exists()


@pytest.mark.parametrize(
    ("lines", "where", "words", "fix"),
    [
        ([], "", "is empty", "header row"),
        ([HEADER], "", "header but no lines", "rows"),
        (
            [HEADER.replace(",", ";"), *(r.replace(",", ";") for r in GOOD_ROWS)],
            "line 1",
            "';'",
            "commas",
        ),
        (
            [
                HEADER.replace(",region", ""),
                "1,10,mobile,72000,SEOUL-JUNG-01,individual,credit_card,5",
            ],
            "header (line 1)",
            "missing required column(s): region",
            "add them",
        ),
        (
            [HEADER, GOOD_ROWS[0], '2,10,internet,"12,000원",서울,S,individual,giro,5'],
            "column monthly_fee_krw",
            "line 3 ('12,000원')",
            "12000",
        ),
        (
            [HEADER, GOOD_ROWS[0], "2,10,internet,12,000원,서울,S,individual,giro,5"],
            "line 3 (10 values)",
            "number of values",
            "12000",
        ),
        (
            [HEADER, GOOD_ROWS[0], "2,10,internet,25000,서울,S,individual,giro"],
            "line 3 (8 values)",
            "number of values",
            "header's columns",
        ),
        (
            [HEADER, "1,10,mobile,-100,서울,S,individual,giro,5"],
            "column monthly_fee_krw",
            "line 2 (-100)",
            "whole won",
        ),
        (
            [HEADER, GOOD_ROWS[0], "2,10,mobile,,서울,S,individual,giro,5"],
            "column monthly_fee_krw",
            "line 3 (None)",
            "whole won",
        ),
        (
            [HEADER, "1,10,mobile,72000,서울,S,individual,giro,5.5"],
            "column bill_cycle_day",
            "line 2 ('5.5')",
            "whole number",
        ),
        (
            [
                HEADER,
                "1,10,mobile,72000.5,서울,S,individual,giro,5",
                "2,10,mobile,1e5,서울,S,individual,giro,5",
                "3,10,mobile,0x10,서울,S,individual,giro,5",
            ],  # DuckDB alone would cast these to numbers
            "column monthly_fee_krw",
            "line 2 ('72000.5'), line 3 ('1e5'), line 4 ('0x10')",
            "12000",
        ),
        (
            [HEADER, *GOOD_ROWS, GOOD_ROWS[1].replace("internet", "iptv")],
            "column line_id",
            "line_id 2 at lines 3, 5",
            "one row per line_id",
        ),
        (
            [HEADER, GOOD_ROWS[0].replace("mobile", "5g")],
            "column service",
            "line 2 ('5g')",
            "mobile, internet, iptv, landline",
        ),
        (
            [HEADER, GOOD_ROWS[0].replace("credit_card", "cash")],
            "column payment_method",
            "line 2 ('cash')",
            "credit_card",
        ),
        (
            [HEADER, GOOD_ROWS[0].replace("individual", "vip")],
            "column customer_type",
            "line 2 ('vip')",
            "small_business",
        ),
        ([HEADER, GOOD_ROWS[0][:-1] + "0"], "column bill_cycle_day", "line 2 (0)", "1 to 31"),
        ([HEADER, GOOD_ROWS[0][:-1] + "32"], "column bill_cycle_day", "line 2 (32)", "1 to 31"),
        ([HEADER, GOOD_ROWS[0].replace("서울", "")], "column region", "line 2 (None)", "fill"),
    ],
)
def test_csv_errors_name_file_column_line_and_fix(duck, tmp_path, lines, where, words, fix):
    path = tmp_path / "r.csv"
    path.write_text("\n".join(lines) + ("\n" if lines else ""), encoding="utf-8")
    err = problem(duck, path)
    message = str(err)
    prefix = f"{path}: {where}: " if where else f"{path}: "
    assert message.startswith(prefix), message
    assert words in message and fix in message, message


def test_several_problems_are_all_reported(duck, tmp_path):
    path = csv_file(
        tmp_path,
        [
            HEADER,
            *GOOD_ROWS,
            "4,12,fax,-5,대전,DAEJEON-001,individual,cash,0",
            "5,12,mobile,30000,대전,DAEJEON-001,vip,giro,32",
            GOOD_ROWS[0],
        ],
    )
    err = problem(duck, path)
    assert isinstance(err, InputErrors)
    wheres = sorted(e.where for e in err.errors)
    assert wheres == sorted(
        [
            "column service",
            "column monthly_fee_krw",
            "column payment_method",
            "column bill_cycle_day",
            "column customer_type",
            "column line_id",
        ]
    )
    message = str(err)
    assert len(message.splitlines()) == 6
    assert "line 5 ('fax')" in message and "line 5 (0), line 6 (32)" in message
    assert "line_id 1 at lines 2, 7" in message


def test_unparseable_numbers_are_all_listed(duck, tmp_path):
    path = csv_file(
        tmp_path,
        [
            HEADER,
            '1,x,mobile,"1,000",서울,S,individual,giro,5',
            '2,y,mobile,"2,000",서울,S,individual,giro,5',
        ],
    )
    err = problem(duck, path)
    assert isinstance(err, InputErrors)
    assert [e.where for e in err.errors] == ["column customer_id", "column monthly_fee_krw"]
    assert "line 2 ('1,000'), line 3 ('2,000')" in str(err)


def test_parquet_errors_name_rows(duck, tmp_path):
    frame = small_roster()
    frame.loc[2, "monthly_fee_krw"] = -1
    frame.loc[3, "line_id"] = 1
    path = write_parquet(frame, tmp_path / "r.parquet")
    err = problem(duck, path)
    message = str(err)
    assert "column monthly_fee_krw" in message and "row 3 (-1)" in message
    assert "line_id 1 at rows 1, 4" in message


def test_parquet_missing_fee_and_text_fee(duck, tmp_path):
    frame = small_roster()
    table = pa.Table.from_pandas(frame, preserve_index=False)
    fees = pa.array([72000, None, 33000, 0], pa.int64())
    pq.write_table(table.set_column(3, "monthly_fee_krw", fees), tmp_path / "null.parquet")
    assert "row 2 (None)" in str(problem(duck, tmp_path / "null.parquet"))
    text_fees = pa.array(["72,000원", "25000", "33000", "0"])
    pq.write_table(table.set_column(3, "monthly_fee_krw", text_fees), tmp_path / "text.parquet")
    message = str(problem(duck, tmp_path / "text.parquet"))
    assert "column monthly_fee_krw" in message and "not integer" in message and "원" in message


def test_parquet_missing_column(duck, tmp_path):
    path = write_parquet(small_roster().drop(columns=["payment_method"]), tmp_path / "r.parquet")
    err = problem(duck, path)
    assert err.where == "columns" and "payment_method" in err.problem


def test_fee_above_the_bound_is_a_unit_mistake(duck, tmp_path):
    frame = small_roster()
    frame.loc[0, "monthly_fee_krw"] = 100_000_001
    assert "row 1 (100000001)" in str(problem(duck, write_parquet(frame, tmp_path / "r.parquet")))


def test_row_numbers_hold_across_row_groups(duck, tmp_path):
    frame = make_roster(30_000, seed=1)
    frame.loc[29_990, "service"] = "5g"
    path = write_parquet(frame, tmp_path / "r.parquet", row_group_size=2048)
    assert "row 29991 ('5g')" in str(problem(duck, path))
    csv_path = tmp_path / "r.csv"
    csv_path.write_text(csv_text(frame), encoding="utf-8")
    assert "line 29992 ('5g')" in str(problem(duck, csv_path))


@pytest.mark.parametrize(
    ("name", "words"), [("r.xlsx", "unknown roster format"), ("missing.parquet", "not found")]
)
def test_not_a_roster(duck, tmp_path, name, words):
    path = tmp_path / name
    if name.endswith(".xlsx"):
        path.write_bytes(b"PK")
    assert words in str(problem(duck, path))


def test_damaged_parquet(duck, tmp_path):
    path = tmp_path / "r.parquet"
    path.write_bytes(b"PAR1 not really")
    assert "not a readable Parquet file" in str(problem(duck, path))


def test_neither_utf8_nor_cp949(duck, tmp_path):
    path = tmp_path / "r.csv"
    path.write_bytes(HEADER.encode() + b"\n1,10,mobile,72000,\xff\xfe,S,individual,giro,5\n")
    assert "neither UTF-8 nor CP949" in str(problem(duck, path))


def test_error_messages_mask_personal_data_shifted_into_contract_columns(duck, tmp_path):
    """An export that shifted a phone number into the fee column and a name into the service
    column: the error names the lines and the fix, and quotes those values masked — messages go to
    terminals, logs and the run index."""
    path = csv_file(
        tmp_path,
        [
            HEADER,
            "1,11,mobile,010-9876-5432,서울,S,individual,giro,5",
            "2,12,황보플랜트,30000,서울,S,individual,giro,5",
            '3,13,mobile,"12,000원",서울,S,individual,giro,5',
        ],
    )
    message = str(problem(duck, path))
    assert "line 2 ('010-****-5432')" in message, message
    assert "line 4 ('12,000원')" in message  # not personal: quoted as written
    for raw in ("9876", "010-9876-5432"):
        assert raw not in message
    fixed = csv_file(tmp_path, [HEADER, "1,11,mobile,30000,서울,S,individual,giro,5",
                                "2,12,황보플랜트,30000,서울,S,individual,giro,5"])
    message = str(problem(duck, fixed))
    assert "line 3 ('황***트')" in message and "황보플랜트" not in message, message


@pytest.mark.parametrize(
    ("ids", "row_group", "rising"),
    [
        ([1, 2, 3, 4], None, True),
        ([1, 2, 3, 4], 1, True),  # across row groups
        ([1, 2, 2, 4], None, False),  # a repeat in order
        ([1, 2, 4, 2], 2, False),  # a repeat across row groups
        ([4, 3, 2, 1], None, False),  # unique, but not rising: counted exactly
    ],
)
def test_duplicate_line_ids_are_found_whatever_the_order(duck, tmp_path, ids, row_group, rising):
    """A roster whose ids rise strictly skips the exact distinct count; every other one gets it."""
    from kt_analysis.inputs.roster import ids_strictly_increasing

    frame = small_roster()
    frame["line_id"] = ids
    path = write_parquet(frame, tmp_path / "r.parquet", row_group_size=row_group)
    assert ids_strictly_increasing(path) is rising
    if len(set(ids)) == len(ids):
        assert validate_roster(duck, open_roster(path)) == 4
    else:
        err = problem(duck, path)
        assert "column line_id" in str(err) and "has duplicates" in str(err), str(err)


def test_rising_ids_across_the_files_of_a_folder(duck, tmp_path):
    from kt_analysis.inputs.roster import ids_strictly_increasing

    folder = tmp_path / "roster"
    first, second = small_roster(), small_roster()
    second["line_id"] = [5, 6, 7, 8]
    write_parquet(first, folder / "a.parquet")
    write_parquet(second, folder / "b.parquet")
    assert ids_strictly_increasing(folder)
    assert validate_roster(duck, open_roster(folder)) == 8
    second["line_id"] = [4, 6, 7, 8]  # 4 is in a.parquet too
    write_parquet(second, folder / "b.parquet")
    assert not ids_strictly_increasing(folder)
    assert "line_id 4 at rows" in str(problem(duck, folder))


# --- every file of a Parquet folder, duplicate columns, quoted headers, describe --------------------


def two_file_folder(tmp_path, second) -> Path:
    """A folder whose first file is good and whose second is ``second`` (a pyarrow table)."""
    folder = tmp_path / "roster"
    write_parquet(small_roster(), folder / "part-0.parquet")
    pq.write_table(second, folder / "part-1.parquet")
    return folder


def second_table(**columns) -> pa.Table:
    frame = small_roster()
    frame["line_id"] = [5, 6, 7, 8]
    table = pa.Table.from_pandas(frame, preserve_index=False)
    for name, values in columns.items():
        table = table.set_column(table.column_names.index(name), name, values)
    return table


@pytest.mark.parametrize(
    ("column", "values", "words", "fix"),
    [
        ("monthly_fee_krw", pa.array([12000.5, 1.0, 2.0, 3.0]), "has type double, not integer",
         "store whole won as an integer column"),
        ("line_id", pa.array(["5", "6", "7", "8"]), "has type string, not integer", "integer column"),
        ("bill_cycle_day", pa.array([5.0, 5.0, 25.0, 31.0]), "has type double, not integer", "integer column"),
        ("customer_id", pa.array([True, False, True, True]), "has type bool, not integer", "integer column"),
        ("region", pa.array([1, 2, 3, 4]), "has type int64, not text", "string column"),
        ("facility_id", pa.array([b"a", b"b", b"c", b"d"]), "has type binary, not text", "string column"),
    ],
)
def test_every_file_of_a_folder_is_checked(duck, tmp_path, column, values, words, fix):
    """The second file's types are checked too: DuckDB would cast 12000.5 to an integer silently."""
    folder = two_file_folder(tmp_path, second_table(**{column: values}))
    err = problem(duck, folder)
    message = str(err)
    assert message.startswith(f"{folder / 'part-1.parquet'}: column {column}: "), message
    assert words in message and fix in message, message
    assert "part-0.parquet" not in message


def test_a_folder_with_integer_widths_that_differ_is_read_whole(duck, tmp_path):
    """int32 in one file, int64 in the next: read at 64 bits, not cast to the first file's type."""
    table = second_table(customer_id=pa.array([2**40, 2**40 + 1, 2**40 + 2, 2**40 + 3], pa.int64()))
    folder = tmp_path / "roster"
    first = pa.Table.from_pandas(small_roster(), preserve_index=False)
    first = first.set_column(1, "customer_id", first.column("customer_id").cast(pa.int32()))
    folder.mkdir()
    pq.write_table(first, folder / "part-0.parquet")
    pq.write_table(table, folder / "part-1.parquet")
    rows = rows_of(duck, folder)
    assert [r[1] for r in rows] == [10, 10, 11, 12, 2**40, 2**40 + 1, 2**40 + 2, 2**40 + 3]


def test_dictionary_strings_and_small_uint64_are_accepted(duck, tmp_path):
    table = second_table(
        region=pa.array(["서울", "서울", "부산", "제주"]).dictionary_encode(),
        line_id=pa.array([5, 6, 7, 8], pa.uint64()),
    )
    assert len(rows_of(duck, two_file_folder(tmp_path, table))) == 8


def test_uint64_above_int64_is_refused(duck, tmp_path):
    table = second_table(line_id=pa.array([5, 6, 2**63 + 7, 8], pa.uint64()))
    message = str(problem(duck, two_file_folder(tmp_path, table)))
    assert "part-1.parquet: column line_id: has type uint64 and values above" in message, message
    assert "row 3 (9223372036854775815)" in message


def test_folder_rows_are_named_by_file(duck, tmp_path):
    table = second_table(service=pa.array(["mobile", "5g", "iptv", "iptv"]))
    message = str(problem(duck, two_file_folder(tmp_path, table)))
    assert "column service" in message and "row 2 of part-1.parquet ('5g')" in message, message


def test_many_bad_files_give_a_bounded_message(duck, tmp_path):
    folder = tmp_path / "roster"
    for i in range(25):
        frame = small_roster()
        frame["line_id"] = [4 * i + k for k in range(4)]
        frame["monthly_fee_krw"] = frame["monthly_fee_krw"].astype(float)
        write_parquet(frame, folder / f"part-{i:02d}.parquet")
    err = problem(duck, folder)
    lines = str(err).splitlines()
    assert len(lines) == 11 and "and 15 more problem(s); 25 of 25 files have some" in lines[-1], lines


def test_duplicate_columns_are_refused(duck, tmp_path):
    table = pa.Table.from_pandas(small_roster(), preserve_index=False)
    doubled = pa.Table.from_arrays([*table.columns, table.column("region")], names=[*table.column_names, "region"])
    pq.write_table(doubled, tmp_path / "r.parquet")
    err = problem(duck, tmp_path / "r.parquet")
    assert err.where == "columns" and "column 'region' appears 2 times" in err.problem, str(err)
    path = csv_file(tmp_path, [HEADER + ",FEE,fee", *(r + ",1,2" for r in GOOD_ROWS)])
    err = problem(duck, path)
    assert err.where == "header (line 1)" and "columns 'FEE' and 'fee' are one name" in err.problem, str(err)
    path = csv_file(tmp_path, [HEADER + ",line_id", *(r + ",9" for r in GOOD_ROWS)], name="d.csv")
    assert "column 'line_id' appears 2 times" in str(problem(duck, path))


def test_quoted_header_is_read(duck, tmp_path):
    quoted = ",".join(f'"{c}"' for c in ROSTER_COLUMNS)
    plain = rows_of(duck, csv_file(tmp_path, [HEADER, *GOOD_ROWS], name="plain.csv"))
    assert rows_of(duck, csv_file(tmp_path, [quoted, *GOOD_ROWS], name="quoted.csv")) == plain
    cp949 = csv_file(tmp_path, [quoted, *GOOD_ROWS], name="cp949.csv", encoding="cp949")
    assert rows_of(duck, cp949) == plain


def test_a_fifo_or_device_is_refused_without_reading(duck, tmp_path):
    import os

    fifo = tmp_path / "r.csv"
    os.mkfifo(fifo)
    assert "is a pipe (FIFO), not a roster file" in str(problem(duck, fifo))
    folder = tmp_path / "roster"
    write_parquet(small_roster(), folder / "part-0.parquet")
    (folder / "part-1.parquet").symlink_to("/dev/zero")
    err = problem(duck, folder)
    assert "part-1.parquet: is a device, not a roster file" in str(err), str(err)


def test_describe_roster_counts(tmp_path):
    """Exact counts; 부산 written in NFD (as macOS types it) is the roster's other spelling of 부산."""
    import unicodedata

    from kt_analysis.inputs.roster import describe_roster, format_description

    nfd = unicodedata.normalize("NFD", "부산")
    path = csv_file(tmp_path, [
        HEADER,
        "1,10,mobile,72000,서울,F-01,individual,credit_card,5",
        "2,10,internet,25000,서울,F-01,individual,credit_card,5",
        "3,11,internet,33000,부산,F-02,small_business,giro,25",
        f"4,12,iptv,0,{nfd},F-02,enterprise,giro,31",
        "5,13,mobile,10000,제주,F-03,individual,bank_transfer,1",
        "6,13,internet,10000,서울,F-01,individual,bank_transfer,1",
    ])
    desc = describe_roster(path)
    assert (desc["lines"], desc["customers"]) == (6, 4)
    cols = {c: [(v["value"], v["lines"]) for v in values] for c, values in desc["columns"].items()}
    assert cols == {
        "service": [("internet", 3), ("mobile", 2), ("iptv", 1)],
        "region": [("서울", 3), (nfd, 1), ("부산", 1), ("제주", 1)],  # NFD jamo sort first
        "facility_id": [("F-01", 3), ("F-02", 2), ("F-03", 1)],
        "customer_type": [("individual", 4), ("enterprise", 1), ("small_business", 1)],
        "payment_method": [("bank_transfer", 2), ("credit_card", 2), ("giro", 2)],
    }
    for values in desc["columns"].values():
        assert sum(v["lines"] for v in values) == 6
    [warning] = desc["warnings"]
    assert (warning["column"], warning["name"], warning["lines"]) == ("region", "부산", 2)
    assert [s["value"] for s in warning["spellings"]] == [nfd, "부산"]
    text = format_description(desc, top=2)
    assert "roster" in text and "6 lines, 4 customers" in text
    assert re.search(r"^  서울 +3$", text, re.M) and "… and 2 more (2 lines)" in text and "--json" in text
    assert re.search(rf"^  {re.escape(repr(nfd))} \(decomposed: NFD\) +1$", text, re.M), text
    assert "warning: region '부산' is written 2 ways" in text and "write '부산' in incidents" in text


def test_describe_roster_refuses_a_bad_roster(tmp_path):
    from kt_analysis.inputs.roster import describe_roster

    path = csv_file(tmp_path, [HEADER, GOOD_ROWS[0].replace("mobile", "5g")])
    with pytest.raises(InputError, match="column service"):
        describe_roster(path)


def test_the_optional_plan_column_is_carried_when_the_roster_has_it(tmp_path: Path, duck) -> None:
    """``plan`` (what a policy's exclude_plans compares) is in the roster's relation when the roster
    has it — a Parquet file, a CSV, every file of a Parquet folder — and left out otherwise."""
    frame = small_roster()
    plain = open_roster(write_parquet(frame, tmp_path / "plain.parquet"))
    assert plain.optional == () and not plain.has("plan") and plain.has("region")
    with_plan = frame.assign(plan=["5G 슬림", "인터넷 500M", None, "지니 TV 베이직"])
    for path in (write_parquet(with_plan, tmp_path / "plan.parquet"), tmp_path / "plan.csv"):
        if path.suffix == ".csv":
            path.write_text(csv_text(with_plan), encoding="utf-8")
        src = open_roster(path)
        assert src.has("plan"), path
        plans = [p for (p,) in duck.execute(f"SELECT plan FROM {src.sql} ORDER BY line_id").fetchall()]
        assert plans[:2] == ["5G 슬림", "인터넷 500M"] and plans[3] == "지니 TV 베이직" and plans[2] in (None, "")
    folder = tmp_path / "folder"
    write_parquet(with_plan.iloc[:2], folder / "a.parquet")
    write_parquet(frame.iloc[2:], folder / "b.parquet")  # one file without the column: not carried
    assert not open_roster(folder).has("plan")
