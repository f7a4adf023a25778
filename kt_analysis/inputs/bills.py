"""Bills files: opened with declared types and checked on every row before anything uses them.

A bills file holds ``line_id``, ``bill_month`` (``YYYY-MM``) and ``amount_krw`` (whole won, what
was charged), as Parquet (a file, or a folder of them) or CSV. DuckDB's CSV sniffer guesses
column types from the first rows, so a bad value further down (``12,000원`` on line 30,000)
would stop a query halfway with a cast error; the CSV is therefore read as text, every value is
checked, and the first few bad ones are reported with their line numbers. A Parquet file carries
its types: each file's are checked, and its values from the row-group statistics when these are
complete (a scan otherwise, and always to find the rows of a problem).

:func:`open_bills` returns :class:`Bills`, whose ``sql`` is a relation with ``line_id BIGINT``,
``bill_month VARCHAR`` and ``amount_krw BIGINT`` that the bill check and the billing ledger read.
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

from kt_analysis.dbrow import one_row
from kt_analysis.errors import InputError, InputErrors, shown
from kt_analysis.inputs.schema import BILLS_COLUMNS
from kt_analysis.inputs.yamlio import check_input_file

COLUMNS = BILLS_COLUMNS
INT64_MAX = 2**63 - 1
MAX_BILL_KRW = 10**14
"""The most one line's bill for one month may be: 100,000,000,000,000 won (100조). A larger
amount is a unit mistake (a total pasted into a line, another currency unit), and the bound keeps
what is computed from amounts inside 64-bit integers (an amount times the days it is held, over
the 51 years of the business-day calendar). Month totals are checked on their own."""
EXAMPLES = 5
MONTH_RE = "[0-9]{4}-(0[1-9]|1[0-2])"
_DIGITS = "[+-]?[0-9]+"
_SHAPE = "a bills file has line_id, bill_month (YYYY-MM) and amount_krw (whole won)"


@dataclass(frozen=True)
class Bills:
    """A checked bills file: ``sql`` is a typed relation, ``months`` its rows per bill month."""

    path: Path
    sql: str
    months: dict[str, int]


def _q(text: str | Path) -> str:
    return "'" + str(text).replace("'", "''") + "'"


def _short(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0][:300]


def _is_csv(path: Path) -> bool:
    return path.suffix.lower() in (".csv", ".txt")


def _parquet_files(path: Path) -> list[Path]:
    return sorted(path.rglob("*.parquet"), key=str) if path.is_dir() else [path]


def _csv_raw(path: Path) -> str:
    return (f"read_csv({_q(path)}, header=true, all_varchar=true, delim=',', quote='\"', escape='\"', "
            f"strict_mode=true)")


def bills_sql(path: str | Path) -> str:
    """The typed relation over a bills file (check it first with :func:`open_bills`)."""
    path = Path(path)
    if path.is_dir() or not _is_csv(path):
        files = ", ".join(_q(f) for f in _parquet_files(path))
        return (f"(SELECT CAST(line_id AS BIGINT) AS line_id, CAST(bill_month AS VARCHAR) AS bill_month, "
                f"CAST(amount_krw AS BIGINT) AS amount_krw FROM read_parquet([{files}]))")
    return (f"(SELECT CAST(trim(line_id) AS BIGINT) AS line_id, trim(bill_month) AS bill_month, "
            f"CAST(trim(amount_krw) AS BIGINT) AS amount_krw FROM {_csv_raw(path)})")


def open_bills(con: duckdb.DuckDBPyConnection, path: str | Path, role: str = "bills") -> Bills:
    """Check a bills file on every row and return it typed, with its rows per month.

    Every problem is an :class:`InputError` naming the file, the column, the first few lines (CSV)
    or rows (Parquet) with their values, and the fix; several problems come together as
    :class:`InputErrors`. Refused: a path that is not a regular file or a folder (a FIFO,
    ``/dev/zero``), an empty or unreadable file, a missing column, a column of the wrong type, an
    empty value, an id or amount that is not a whole number or does not fit in 64 bits, a
    negative amount (a bill amount is what was charged; a credit is not a bill), an amount above
    :data:`MAX_BILL_KRW`, a month that is not ``YYYY-MM``, and a month whose amounts add up to
    more than a 64-bit integer holds.
    """
    path = check_input_file(path, role, folder_ok=True)
    if path.is_dir():
        files = _parquet_files(path)
        if not files:
            raise InputError(str(path), "", f"folder holds no .parquet files (a {role} folder is a Parquet dataset)",
                             "point at a bills .parquet or .csv file, or a folder of .parquet files")
        for f in files:
            check_input_file(f, role)
    if not path.is_dir() and path.stat().st_size == 0:
        raise InputError(str(path), "", f"{role} file is empty",
                         "export the bills again with a header line_id,bill_month,amount_krw and their rows")
    if path.is_dir() or not _is_csv(path):
        return _open_parquet(con, path)
    return _open_csv(con, path)


# ---- CSV ---------------------------------------------------------------------------------------


def _open_csv(con: duckdb.DuckDBPyConnection, path: Path) -> Bills:
    try:
        with open(path, encoding="utf-8-sig", newline="") as fh:
            header_line = fh.readline(1 << 16).rstrip("\r\n")
    except UnicodeDecodeError:
        raise InputError(str(path), "line 1", "is not UTF-8 text", "save the bills CSV as UTF-8") from None
    header = [h.strip().strip('"') for h in header_line.split(",")]
    twice = sorted({c for c in header if c in COLUMNS and header.count(c) > 1})
    if twice:
        raise InputError(str(path), "header (line 1)", f"names {', '.join(twice)} more than once",
                         "keep one column of each name")
    missing = [c for c in COLUMNS if c not in header]
    if missing:
        for sep in (";", "\t", "|"):
            if header_line.count(sep) >= 2:
                raise InputError(str(path), "line 1", f"is separated by {sep!r}, not commas",
                                 "export the CSV with commas as separators")
        raise InputError(str(path), "header (line 1)", f"missing {', '.join(missing)} (has {', '.join(header)})",
                         _SHAPE)
    raw = _csv_raw(path)
    n_int64 = f"{INT64_MAX:,}"
    whole = f"regexp_full_match(trim(v), '{_DIGITS}')"
    value = "TRY_CAST(trim(v) AS BIGINT)"
    checks = [
        ("line_id", "nullif(trim(v), '') IS NULL", "empty", "give every bill its line_id"),
        ("line_id", f"nullif(trim(v), '') IS NOT NULL AND NOT {whole}", "not whole numbers",
         "write line ids as whole numbers"),
        ("line_id", f"{whole} AND {value} IS NULL", f"too large (above {n_int64})",
         "line ids must fit in 64 bits: check the export"),
        ("bill_month", "nullif(trim(v), '') IS NULL", "empty", "give every bill its month, like 2023-09"),
        ("bill_month", f"nullif(trim(v), '') IS NOT NULL AND NOT regexp_full_match(trim(v), '{MONTH_RE}')",
         "not YYYY-MM months", "write bill months like 2023-09 (month 01-12, two digits)"),
        ("amount_krw", "nullif(trim(v), '') IS NULL", "empty",
         "write the amount billed in whole won (0 if nothing was billed)"),
        ("amount_krw", f"nullif(trim(v), '') IS NOT NULL AND NOT {whole}", "not whole numbers",
         "write whole won as digits only, e.g. 33000, not 33,000원 (amounts in whole won)"),
        ("amount_krw", f"{whole} AND {value} < 0", "negative",
         "a bill amount is what was charged: write 0 or more (a credit or refund is not a bill)"),
        ("amount_krw", f"{whole} AND ({value} IS NULL OR {value} > {MAX_BILL_KRW})",
         f"too large (above {MAX_BILL_KRW:,} won, the most one line's monthly bill may be)",
         "check for a unit mistake or a total pasted into a line: amounts are whole won per line"),
    ]
    counts = ", ".join(f"count(*) FILTER (WHERE {_on(cond, col)})" for col, cond, *_ in checks)
    try:
        row = one_row(con.execute(f"SELECT count(*), {counts} FROM {raw}"))
    except duckdb.Error as exc:
        raise _csv_error(path, exc) from None
    if row[0] == 0:
        raise InputError(str(path), "", "holds a header but no bills", "export the bills with their rows")
    problems = []
    for (col, cond, what, fix), bad in zip(checks, row[1:], strict=True):
        if not bad:
            continue
        examples = con.execute(
            f"SELECT rn, v FROM (SELECT row_number() OVER () + 1 AS rn, {col} AS v FROM {raw}) "
            f"WHERE {cond} ORDER BY rn LIMIT {EXAMPLES}"
        ).fetchall()
        where = ", ".join(f"line {rn}" + ("" if v is None else f" ({shown(v)})") for rn, v in examples)
        problems.append(InputError(str(path), f"column {col}", f"{bad:,} value(s) are {what}: {where}", fix))
    if problems:
        raise InputErrors(problems)
    rows = con.execute(
        f"SELECT trim(bill_month), count(*), sum(CAST(trim(amount_krw) AS BIGINT)) FROM {raw} GROUP BY 1 ORDER BY 1"
    ).fetchall()
    return _finish(path, bills_sql(path), rows)


def _on(cond: str, column: str) -> str:
    """A check written on ``v`` applied to ``column``."""
    return re.sub(r"\bv\b", column, cond)


def _csv_error(path: Path, exc: duckdb.Error) -> InputError:
    text = _short(exc)
    if "unicode" in text.lower() or "utf-8" in text.lower() or "utf8" in text.lower():
        return InputError(str(path), "", f"is not UTF-8 text ({text})", "save the bills CSV as UTF-8")
    ragged = _ragged_lines(path)
    if ragged is not None:
        return ragged
    return InputError(str(path), "", f"cannot be read as CSV ({text})",
                      "check quoting and that every line has the header's columns")


def _ragged_lines(path: Path) -> InputError | None:
    """The lines whose number of values differs from the header's (read only when DuckDB fails):
    an unquoted ``12,000원`` splits one amount into two values."""
    found: list[tuple[int, list[str]]] = []
    try:
        with open(path, encoding="utf-8-sig", newline="") as fh:
            reader = csv.reader(fh)
            width = len(next(reader, []))
            for row in reader:
                if row and len(row) != width:
                    found.append((reader.line_num, row))
                    if len(found) >= EXAMPLES:
                        break
    except (UnicodeDecodeError, csv.Error):
        return None
    if not found:
        return None
    where = ", ".join(f"line {line} ({len(row)} values: {shown(','.join(row))})" for line, row in found)
    return InputError(str(path), "", f"has lines with another number of values than the header's {width}: {where}",
                      "give every line the header's columns; an amount with a comma (12,000원) splits in two: "
                      "write whole won as digits only, e.g. 12000")


# ---- Parquet -----------------------------------------------------------------------------------


def _type_ok(column: str, typ: pa.DataType) -> bool:
    if pa.types.is_dictionary(typ):
        typ = typ.value_type
    if column == "bill_month":
        return pa.types.is_string(typ) or pa.types.is_large_string(typ) or str(typ) == "string_view"
    return pa.types.is_integer(typ)


@dataclass
class _Stats:
    complete: bool = True
    nulls: int = 0
    low: Any = None
    high: Any = None

    def add(self, column_chunk: Any, rows: int) -> None:
        st = column_chunk.statistics
        if st is None or not st.has_null_count:
            self.complete = False
            return
        self.nulls += st.null_count
        if st.has_min_max:
            self.low = st.min if self.low is None else min(self.low, st.min)
            self.high = st.max if self.high is None else max(self.high, st.max)
        elif st.null_count != rows:
            self.complete = False


_Check = tuple[str, str, str, str]
"""A check on every row: (column, SQL condition, what the bad values are, the fix)."""


def _open_parquet(con: duckdb.DuckDBPyConnection, path: Path) -> Bills:
    files = _parquet_files(path)
    stats, wide_ids, total_rows = _survey_files(con, files)
    if total_rows == 0:
        raise InputError(str(path), "", "holds no bills", "export the bills with their rows")
    source = f"read_parquet([{', '.join(_q(f) for f in files)}], file_row_number=true, filename=true)"
    ids, amounts = stats["line_id"], stats["amount_krw"]
    checks = _value_checks(ids, amounts, wide_ids)
    # Months (and their totals when the bound below does not rule out an overflow) in one pass.
    bounded = amounts.complete and (amounts.high or 0) * total_rows <= INT64_MAX
    total = "NULL" if bounded else "sum(amount_krw)"
    row, months = _count_and_months(con, path, source, checks, total)
    month_checks, month_counts = _month_checks(months)
    checks += month_checks
    row = (*row, *month_counts)
    problems = _value_problems(con, path, source, checks, row)
    if problems:
        raise InputErrors(problems)
    return _finish(path, bills_sql(path), months)


def _survey_files(con: duckdb.DuckDBPyConnection, files: list[Path]) -> tuple[dict[str, _Stats], bool, int]:
    """Each file's columns and types, checked: the row-group statistics of line_id and amount_krw,
    whether a line_id column is uint64 (its values may not fit in BIGINT), and the rows in all."""
    stats = {c: _Stats() for c in ("line_id", "amount_krw")}
    wide_ids = False
    total_rows = 0
    problems: list[InputError] = []
    for f in files:
        meta, schema = _parquet_meta(f)
        _check_names(f, schema)
        problems += _type_problems(con, f, schema)
        wide_ids = wide_ids or str(schema.field("line_id").type) == "uint64"
        total_rows += meta.num_rows
        _add_stats(meta, stats)
    if problems:
        raise InputErrors(problems)
    return stats, wide_ids, total_rows


def _parquet_meta(f: Path) -> tuple[Any, pa.Schema]:
    """A file's Parquet metadata and Arrow schema; a file that is not Parquet is an input error, a
    disk or permission error a fault."""
    try:
        meta = pq.ParquetFile(f).metadata
        schema = meta.schema.to_arrow_schema()
    except Exception as exc:  # pyarrow raises several types for a damaged or foreign file
        if isinstance(exc, OSError) and exc.errno is not None:
            raise  # the disk or a permission, not the data: a fault (exit 1)
        raise InputError(str(f), "", f"cannot be read as Parquet ({_short(exc)})",
                         "give a Parquet or CSV file with line_id, bill_month, amount_krw") from None
    return meta, schema


def _check_names(f: Path, schema: pa.Schema) -> None:
    """A file must have each of the three columns, and each once."""
    missing = [c for c in COLUMNS if c not in schema.names]
    if missing:
        raise InputError(str(f), "columns", f"missing {', '.join(missing)} (has {', '.join(schema.names)})",
                         _SHAPE)
    twice = sorted({c for c in COLUMNS if schema.names.count(c) > 1})
    if twice:
        raise InputError(str(f), "columns", f"names {', '.join(twice)} more than once",
                         "keep one column of each name")


def _type_problems(con: duckdb.DuckDBPyConnection, f: Path, schema: pa.Schema) -> list[InputError]:
    """The columns of a file whose type is not the one declared, each with a value that shows it."""
    problems = []
    for col in COLUMNS:
        typ = schema.field(col).type
        if not _type_ok(col, typ):
            want = "text YYYY-MM" if col == "bill_month" else "whole numbers"
            fix = ("store bill_month as text like 2023-09" if col == "bill_month" else
                   "store whole won as an integer column (no decimals, no commas or 원)" if col == "amount_krw"
                   else "store line ids as an integer column")
            first = _first_value(con, f, col)
            problems.append(InputError(str(f), f"column {col}", f"is {typ}, not {want}{first}", fix))
    return problems


def _add_stats(meta: Any, stats: dict[str, _Stats]) -> None:
    """Add a file's row groups to the statistics of each column in ``stats``."""
    names = [meta.schema.column(i).name for i in range(meta.num_columns)]
    for i in range(meta.num_row_groups):
        rg = meta.row_group(i)
        for col, st in stats.items():
            st.add(rg.column(names.index(col)), rg.num_rows)


def _value_checks(ids: _Stats, amounts: _Stats, wide_ids: bool) -> list[_Check]:
    """The checks on line_id and amount_krw that the statistics do not rule out (all of them when
    the statistics are incomplete)."""
    checks = []
    if not ids.complete or ids.nulls:
        checks.append(("line_id", "line_id IS NULL", "empty", "give every bill its line_id"))
    if wide_ids and (not ids.complete or (ids.high or 0) > INT64_MAX):
        checks.append(("line_id", f"line_id > {INT64_MAX}", f"too large (above {INT64_MAX:,})",
                       "line ids must fit in 64 bits: check the export"))
    if not amounts.complete or amounts.nulls:
        checks.append(("amount_krw", "amount_krw IS NULL", "empty",
                       "write the amount billed in whole won (0 if nothing was billed)"))
    if not amounts.complete or (amounts.low or 0) < 0:
        checks.append(("amount_krw", "amount_krw < 0", "negative",
                       "a bill amount is what was charged: write 0 or more (a credit or refund is not a bill)"))
    if not amounts.complete or (amounts.high or 0) > MAX_BILL_KRW:
        checks.append(("amount_krw", f"amount_krw > {MAX_BILL_KRW}",
                       f"too large (above {MAX_BILL_KRW:,} won, the most one line's monthly bill may be)",
                       "check for a unit mistake or a total pasted into a line: amounts are whole won per line"))
    return checks


def _count_and_months(con: duckdb.DuckDBPyConnection, path: Path, source: str, checks: list[_Check],
                      total: str) -> tuple[tuple[Any, ...], list[tuple[Any, ...]]]:
    """The rows failing each check, and each month's rows and ``total`` (a DuckDB error reading the
    files is an input error)."""
    try:
        if checks:
            row = one_row(con.execute(
                "SELECT " + ", ".join(f"count(*) FILTER (WHERE {cond})" for _c, cond, *_r in checks)
                + f" FROM {source}"))
        else:
            row = ()
        months = con.execute(
            f"SELECT bill_month, count(*), {total} FROM {source} GROUP BY 1 ORDER BY 1").fetchall()
    except duckdb.Error as exc:
        raise InputError(str(path), "", f"cannot be read as Parquet ({_short(exc)})",
                         "give a Parquet or CSV file with line_id, bill_month, amount_krw") from None
    return row, months


def _month_checks(months: list[tuple[Any, ...]]) -> tuple[list[_Check], list[int]]:
    """The checks on bill_month that the months found fail (empty, not YYYY-MM), with their rows."""
    checks: list[_Check] = []
    counts: list[int] = []
    bad_months = [m for m, _n, _t in months if m is None or not re.fullmatch(MONTH_RE, m)]
    if bad_months:
        empty = any(m is None for m in bad_months)
        if empty:
            checks.append(("bill_month", "bill_month IS NULL", "empty", "give every bill its month, like 2023-09"))
            counts.append(sum(n for m, n, _t in months if m is None))
        if any(m is not None for m in bad_months):
            checks.append(("bill_month", f"NOT regexp_full_match(bill_month, '{MONTH_RE}')", "not YYYY-MM months",
                           "write bill months like 2023-09 (month 01-12, two digits)"))
            counts.append(sum(n for m, n, _t in months if m is not None and not re.fullmatch(MONTH_RE, m)))
    return checks, counts


def _value_problems(con: duckdb.DuckDBPyConnection, path: Path, source: str, checks: list[_Check],
                    row: tuple[Any, ...]) -> list[InputError]:
    """One problem per check that rows fail, naming the first few of them with their values."""
    problems = []
    for (col, cond, what, fix), bad in zip(checks, row, strict=True):
        if not bad:
            continue
        examples = con.execute(
            f"SELECT filename, file_row_number, {col} FROM {source} WHERE {cond} "
            f"ORDER BY filename, file_row_number LIMIT {EXAMPLES}"
        ).fetchall()
        where = ", ".join(_row_label(path, fn, rn) + ("" if v is None else f" ({shown(v)})")
                          for fn, rn, v in examples)
        problems.append(InputError(str(path), f"column {col}", f"{bad:,} value(s) are {what}: {where}", fix))
    return problems


def _row_label(path: Path, filename: str, row: int) -> str:
    if path.is_dir():
        try:
            return f"{Path(filename).relative_to(path)} row {row + 1}"
        except ValueError:
            return f"{filename} row {row + 1}"
    return f"row {row + 1}"


def _first_value(con: duckdb.DuckDBPyConnection, f: Path, column: str) -> str:
    """`` (e.g. row 3: 33000.5)``: a value that shows the column's type, for the message."""
    try:
        row = con.execute(
            f"SELECT file_row_number, {column} FROM read_parquet({_q(f)}, file_row_number=true) "
            f"WHERE {column} IS NOT NULL ORDER BY coalesce(TRY_CAST({column} AS DOUBLE) = "
            f"floor(TRY_CAST({column} AS DOUBLE)), false), file_row_number LIMIT 1"
        ).fetchone()
    except duckdb.Error:
        return ""
    return "" if row is None else f" (e.g. row {row[0] + 1}: {shown(row[1])})"


# ---- both --------------------------------------------------------------------------------------


def _finish(path: Path, sql: str, rows: list[tuple[Any, ...]]) -> Bills:
    over = [(m, t) for m, _n, t in rows if t is not None and int(t) > INT64_MAX]
    if over:
        where = ", ".join(f"{m}: {int(t):,} won" for m, t in over[:EXAMPLES])
        raise InputError(str(path), "column amount_krw",
                         f"a month's amounts add up to more than a 64-bit integer holds ({INT64_MAX:,}): {where}",
                         "check the amounts' unit (whole won per line) and that rows are not repeated")
    return Bills(path=path, sql=sql, months={str(m): int(n) for m, n, _t in rows})
