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

The reading and checking is shared with the other tables of whole-won amounts per line and month
(the bill items, :mod:`kt_analysis.inputs.bill_items`): a :class:`Contract` names a table's columns
and types (from :mod:`kt_analysis.inputs.schema`), the words of its messages and its own checks
(:class:`Check`, written once for both formats through a :class:`Form`), and :func:`open_table`
opens any of them.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

from kt_analysis.dbrow import one_row
from kt_analysis.errors import InputError, InputErrors, shown
from kt_analysis.inputs.schema import BILLS, BILLS_COLUMNS
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
TYPE_TEXTS: Mapping[str, tuple[str, str]] = {
    "line_id": ("whole numbers", "store line ids as an integer column"),
    "bill_month": ("text YYYY-MM", "store bill_month as text like 2023-09"),
    "amount_krw": ("whole numbers", "store whole won as an integer column (no decimals, no commas or 원)"),
}
"""What a column of the wrong type should have been, and the fix: (what it should hold, fix)."""


@dataclass(frozen=True)
class Bills:
    """A checked bills file: ``sql`` is a typed relation, ``months`` its rows per bill month."""

    path: Path
    sql: str
    months: dict[str, int]


# ---- what a table is checked against -----------------------------------------------------------


class Check(NamedTuple):
    """A check on every row: the column, an SQL condition true on a bad row, what the bad values
    are and the fix. ``label``: an SQL expression shown with each bad value (an amount's item);
    ``advise``: the fix made from the distinct bad values found (the closest codes)."""

    column: str
    cond: str
    what: str
    fix: str
    label: str = ""
    advise: Callable[[list[Any]], str] | None = None


@dataclass(frozen=True)
class Form:
    """How a check reads a column: a CSV's values as text (trimmed; cast when they are whole
    numbers, their form checked on its own), a Parquet file's as they are typed."""

    csv: bool

    def text(self, column: str) -> str:
        return f"trim({column})" if self.csv else column

    def empty(self, column: str) -> str:
        return f"nullif(trim({column}), '') IS NULL" if self.csv else f"{column} IS NULL"

    def whole(self, column: str) -> str:
        """The value is written as a whole number (always so in Parquet, whose type is checked)."""
        return f"regexp_full_match(trim({column}), '{_DIGITS}')" if self.csv else "true"

    def number_is(self, column: str, test: str) -> str:
        """A whole number whose value passes ``test`` (SQL after the value: ``< 0``, ``IS NULL``
        for a CSV value beyond 64 bits)."""
        if self.csv:
            return f"{self.whole(column)} AND TRY_CAST(trim({column}) AS BIGINT) {test}"
        return f"{column} {test}"

    def beyond(self, column: str, high: int, low: int | None = None) -> str:
        """A whole number above ``high`` (or below ``low``), beyond 64 bits included."""
        if self.csv:
            value = f"TRY_CAST(trim({column}) AS BIGINT)"
            tests = [f"{value} IS NULL", f"{value} > {high}"] + ([] if low is None else [f"{value} < {low}"])
            return f"{self.whole(column)} AND ({' OR '.join(tests)})"
        return f"{column} > {high}" if low is None else f"({column} > {high} OR {column} < {low})"


@dataclass
class Stats:
    """A Parquet column's values from its row-group statistics, over all files: ``complete`` when
    every row group has them (else the values are scanned)."""

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


def needed(stats: Stats | None, ruled_out: Callable[[Stats], bool]) -> bool:
    """Whether a check must run: always on a CSV (``stats`` None), and on Parquet unless the
    complete statistics rule its bad values out."""
    return stats is None or not stats.complete or not ruled_out(stats)


@dataclass(frozen=True)
class Contract:
    """A table of whole-won amounts per line and month: ``line_id``, ``bill_month`` and
    ``amount_krw`` at least, the other columns of ``schema`` checked by ``checks``.

    ``noun`` is what the file holds and ``one`` one of its rows, in messages ("bills", "bill");
    ``shape`` the fix for a missing column; ``amount_fix`` the fix for an empty amount; ``types``
    what each column of a wrong type should have been and the fix (see :data:`TYPE_TEXTS`).
    ``checks`` gives the table's own checks for a form (its amount rule, its codes), given the
    amounts' statistics (None: a CSV, every check). ``total`` is a month's total as SQL on ``{a}``
    (the amount), checked against 64 bits, and ``total_what`` says what it adds up.
    """

    schema: pa.Schema
    noun: str
    one: str
    shape: str
    amount_fix: str
    types: Mapping[str, tuple[str, str]]
    checks: Callable[[Form, Stats | None], list[Check]]
    total: str = "sum({a})"
    total_what: str = "a month's amounts"

    @property
    def columns(self) -> tuple[str, ...]:
        return tuple(self.schema.names)

    def is_text(self, column: str) -> bool:
        typ = self.schema.field(column).type
        return bool(pa.types.is_string(typ) or pa.types.is_large_string(typ))


@dataclass(frozen=True)
class Opened:
    """A checked table: ``sql`` its typed relation, ``months`` its rows per month, ``rows`` the
    typed relation with each row's place (``_file``: the Parquet file, '' for a CSV; ``_row``: the
    CSV line or the Parquet row, from 1) for checks across rows, which :meth:`place` names."""

    path: Path
    sql: str
    months: dict[str, int]
    rows: str
    csv: bool

    def place(self, file: str, row: int) -> str:
        return f"line {row}" if self.csv else _row_label(self.path, file, row - 1)


def _bill_amounts(form: Form, amounts: Stats | None) -> list[Check]:
    """A bill's amount: what was charged, 0 or more and at most :data:`MAX_BILL_KRW`."""
    checks = []
    if needed(amounts, lambda s: (s.low or 0) >= 0):
        checks.append(Check("amount_krw", form.number_is("amount_krw", "< 0"), "negative",
                            "a bill amount is what was charged: write 0 or more (a credit or refund is not a bill)"))
    if needed(amounts, lambda s: (s.high or 0) <= MAX_BILL_KRW):
        checks.append(Check("amount_krw", form.beyond("amount_krw", MAX_BILL_KRW),
                            f"too large (above {MAX_BILL_KRW:,} won, the most one line's monthly bill may be)",
                            "check for a unit mistake or a total pasted into a line: amounts are whole won per line"))
    return checks


BILLS_CONTRACT = Contract(
    schema=BILLS, noun="bills", one="bill", shape=_SHAPE,
    amount_fix="write the amount billed in whole won (0 if nothing was billed)", types=TYPE_TEXTS,
    checks=_bill_amounts,
)


# ---- opening -----------------------------------------------------------------------------------


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


def _typed(contract: Contract, csv_form: bool) -> str:
    """The select list that types ``contract``'s columns (a CSV's values are trimmed text)."""
    cols = []
    for col in contract.columns:
        value = f"trim({col})" if csv_form else col
        if contract.is_text(col):
            cols.append(f"{value} AS {col}" if csv_form else f"CAST({col} AS VARCHAR) AS {col}")
        else:
            cols.append(f"CAST({value} AS BIGINT) AS {col}")
    return ", ".join(cols)


def table_sql(path: str | Path, contract: Contract) -> str:
    """The typed relation over a file of ``contract`` (check it first with :func:`open_table`)."""
    path = Path(path)
    if path.is_dir() or not _is_csv(path):
        files = ", ".join(_q(f) for f in _parquet_files(path))
        return f"(SELECT {_typed(contract, False)} FROM read_parquet([{files}]))"
    return f"(SELECT {_typed(contract, True)} FROM {_csv_raw(path)})"


def _rows_sql(path: Path, contract: Contract) -> str:
    """:func:`table_sql` with each row's place: ``_file`` and ``_row`` (see :class:`Opened`)."""
    if path.is_dir() or not _is_csv(path):
        files = ", ".join(_q(f) for f in _parquet_files(path))
        return (f"(SELECT {_typed(contract, False)}, filename AS _file, file_row_number + 1 AS _row "
                f"FROM read_parquet([{files}], file_row_number=true, filename=true))")
    return (f"(SELECT {_typed(contract, True)}, '' AS _file, row_number() OVER () + 1 AS _row "
            f"FROM {_csv_raw(path)})")


def bills_sql(path: str | Path) -> str:
    """The typed relation over a bills file (check it first with :func:`open_bills`)."""
    return table_sql(path, BILLS_CONTRACT)


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
    opened = open_table(con, path, BILLS_CONTRACT, role)
    return Bills(path=opened.path, sql=opened.sql, months=opened.months)


def open_table(con: duckdb.DuckDBPyConnection, path: str | Path, contract: Contract, role: str) -> Opened:
    """Check a file of ``contract`` on every row (as :func:`open_bills` says, with the contract's
    own checks) and return it typed, with its rows per month; ``role`` names the file in messages."""
    path = check_input_file(path, role, folder_ok=True)
    noun = contract.noun
    if path.is_dir():
        files = _parquet_files(path)
        if not files:
            raise InputError(str(path), "", f"folder holds no .parquet files (a {role} folder is a Parquet dataset)",
                             f"point at a {noun} .parquet or .csv file, or a folder of .parquet files")
        for f in files:
            check_input_file(f, role)
    if not path.is_dir() and path.stat().st_size == 0:
        raise InputError(str(path), "", f"{role} file is empty",
                         f"export the {noun} again with a header {','.join(contract.columns)} and their rows")
    if path.is_dir() or not _is_csv(path):
        return _open_parquet(con, path, contract)
    return _open_csv(con, path, contract)


def _by_column(contract: Contract, checks: list[Check]) -> list[Check]:
    """``checks`` in the order of the contract's columns (each column's in their own order)."""
    return sorted(checks, key=lambda c: contract.columns.index(c.column))


def _example(place: str, value: Any, label: Any) -> str:
    """``line 3 ('-500')``, or with a label ``line 3 (plan: '-500')``; no value: ``line 3``."""
    if value is None:
        return place
    return f"{place} ({shown(value)})" if label is None else f"{place} ({label}: {shown(value)})"


def _advice(con: duckdb.DuckDBPyConnection, check: Check, relation: str, value: str) -> str:
    """The fix of ``check``: its own, or the one made from its most frequent bad values."""
    if check.advise is None:
        return check.fix
    values = [v for (v,) in con.execute(
        f"SELECT {value} AS bad FROM {relation} WHERE {check.cond} GROUP BY 1 ORDER BY count(*) DESC, 1 "
        f"LIMIT {EXAMPLES}").fetchall()]
    return check.advise(values)


# ---- CSV ---------------------------------------------------------------------------------------


def _open_csv(con: duckdb.DuckDBPyConnection, path: Path, contract: Contract) -> Opened:
    _check_header(path, contract)
    raw = _csv_raw(path)
    checks = _csv_checks(contract)
    counts = ", ".join(f"count(*) FILTER (WHERE {c.cond})" for c in checks)
    try:
        row = one_row(con.execute(f"SELECT count(*), {counts} FROM {raw}"))
    except duckdb.Error as exc:
        raise _csv_error(path, exc, contract) from None
    if row[0] == 0:
        raise InputError(str(path), "", f"holds a header but no {contract.noun}",
                         f"export the {contract.noun} with their rows")
    problems = _csv_problems(con, path, contract, checks, row[1:])
    if problems:
        raise InputErrors(problems)
    total = contract.total.format(a="CAST(trim(amount_krw) AS BIGINT)")
    rows = con.execute(f"SELECT trim(bill_month), count(*), {total} FROM {raw} GROUP BY 1 ORDER BY 1").fetchall()
    months = _finish(path, rows, contract)
    return Opened(path, table_sql(path, contract), months, _rows_sql(path, contract), csv=True)


def _check_header(path: Path, contract: Contract) -> None:
    """The header line names each of the contract's columns, once, separated by commas."""
    try:
        with open(path, encoding="utf-8-sig", newline="") as fh:
            header_line = fh.readline(1 << 16).rstrip("\r\n")
    except UnicodeDecodeError:
        raise InputError(str(path), "line 1", "is not UTF-8 text", f"save the {contract.noun} CSV as UTF-8") from None
    header = [h.strip().strip('"') for h in header_line.split(",")]
    twice = sorted({c for c in header if c in contract.columns and header.count(c) > 1})
    if twice:
        raise InputError(str(path), "header (line 1)", f"names {', '.join(twice)} more than once",
                         "keep one column of each name")
    missing = [c for c in contract.columns if c not in header]
    if missing:
        for sep in (";", "\t", "|"):
            if header_line.count(sep) >= 2:
                raise InputError(str(path), "line 1", f"is separated by {sep!r}, not commas",
                                 "export the CSV with commas as separators")
        raise InputError(str(path), "header (line 1)", f"missing {', '.join(missing)} (has {', '.join(header)})",
                         contract.shape)


def _csv_checks(contract: Contract) -> list[Check]:
    """Every check on a CSV's text values, in the order of the columns."""
    form = Form(csv=True)
    present = "nullif(trim({0}), '') IS NOT NULL"
    one = contract.one
    checks = [
        Check("line_id", form.empty("line_id"), "empty", f"give every {one} its line_id"),
        Check("line_id", f"{present.format('line_id')} AND NOT {form.whole('line_id')}", "not whole numbers",
              "write line ids as whole numbers"),
        Check("line_id", form.number_is("line_id", "IS NULL"), f"too large (above {INT64_MAX:,})",
              "line ids must fit in 64 bits: check the export"),
        Check("bill_month", form.empty("bill_month"), "empty", f"give every {one} its month, like 2023-09"),
        Check("bill_month", f"{present.format('bill_month')} AND NOT regexp_full_match(trim(bill_month), "
              f"'{MONTH_RE}')", "not YYYY-MM months", "write bill months like 2023-09 (month 01-12, two digits)"),
        Check("amount_krw", form.empty("amount_krw"), "empty", contract.amount_fix),
        Check("amount_krw", f"{present.format('amount_krw')} AND NOT {form.whole('amount_krw')}",
              "not whole numbers", "write whole won as digits only, e.g. 33000, not 33,000원 (amounts in whole won)"),
    ]
    return _by_column(contract, checks + contract.checks(form, None))


def _csv_problems(con: duckdb.DuckDBPyConnection, path: Path, contract: Contract, checks: list[Check],
                  counts: tuple[Any, ...]) -> list[InputError]:
    """One problem per check that values fail, naming the first few lines with their values."""
    numbered = (f"(SELECT row_number() OVER () + 1 AS rn, {', '.join(contract.columns)} "
                f"FROM {_csv_raw(path)})")
    problems = []
    for check, bad in zip(checks, counts, strict=True):
        if not bad:
            continue
        examples = con.execute(
            f"SELECT rn, {check.column}, {check.label or 'NULL'} FROM {numbered} WHERE {check.cond} "
            f"ORDER BY rn LIMIT {EXAMPLES}"
        ).fetchall()
        where = ", ".join(_example(f"line {rn}", v, label) for rn, v, label in examples)
        fix = _advice(con, check, numbered, f"trim({check.column})")
        problems.append(InputError(str(path), f"column {check.column}", f"{bad:,} value(s) are {check.what}: {where}",
                                   fix))
    return problems


def _csv_error(path: Path, exc: duckdb.Error, contract: Contract) -> InputError:
    text = _short(exc)
    if "unicode" in text.lower() or "utf-8" in text.lower() or "utf8" in text.lower():
        return InputError(str(path), "", f"is not UTF-8 text ({text})", f"save the {contract.noun} CSV as UTF-8")
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


def _type_ok(contract: Contract, column: str, typ: pa.DataType) -> bool:
    if pa.types.is_dictionary(typ):
        typ = typ.value_type
    if contract.is_text(column):
        return pa.types.is_string(typ) or pa.types.is_large_string(typ) or str(typ) == "string_view"
    return pa.types.is_integer(typ)


def _open_parquet(con: duckdb.DuckDBPyConnection, path: Path, contract: Contract) -> Opened:
    files = _parquet_files(path)
    stats, wide_ids, total_rows = _survey_files(con, files, contract)
    if total_rows == 0:
        raise InputError(str(path), "", f"holds no {contract.noun}", f"export the {contract.noun} with their rows")
    source = f"read_parquet([{', '.join(_q(f) for f in files)}], file_row_number=true, filename=true)"
    ids, amounts = stats["line_id"], stats["amount_krw"]
    checks = _value_checks(contract, ids, amounts, wide_ids)
    # Months (and their totals when the bound below does not rule out an overflow) in one pass.
    largest = max(abs(amounts.low or 0), abs(amounts.high or 0))
    bounded = amounts.complete and largest * total_rows <= INT64_MAX
    total = "NULL" if bounded else contract.total.format(a="amount_krw")
    row, rows = _count_and_months(con, path, source, checks, total, contract)
    month_checks, month_counts = _month_checks(rows, contract)
    checks += month_checks
    row = (*row, *month_counts)
    problems = _value_problems(con, path, source, checks, row)
    if problems:
        raise InputErrors(problems)
    months = _finish(path, rows, contract)
    return Opened(path, table_sql(path, contract), months, _rows_sql(path, contract), csv=False)


def _survey_files(con: duckdb.DuckDBPyConnection, files: list[Path],
                  contract: Contract) -> tuple[dict[str, Stats], bool, int]:
    """Each file's columns and types, checked: the row-group statistics of line_id and amount_krw,
    whether a line_id column is uint64 (its values may not fit in BIGINT), and the rows in all."""
    stats = {c: Stats() for c in ("line_id", "amount_krw")}
    wide_ids = False
    total_rows = 0
    problems: list[InputError] = []
    for f in files:
        meta, schema = _parquet_meta(f, contract)
        _check_names(f, schema, contract)
        problems += _type_problems(con, f, schema, contract)
        wide_ids = wide_ids or str(schema.field("line_id").type) == "uint64"
        total_rows += meta.num_rows
        _add_stats(meta, stats)
    if problems:
        raise InputErrors(problems)
    return stats, wide_ids, total_rows


def _with_columns(contract: Contract) -> str:
    return f"give a Parquet or CSV file with {', '.join(contract.columns)}"


def _parquet_meta(f: Path, contract: Contract) -> tuple[Any, pa.Schema]:
    """A file's Parquet metadata and Arrow schema; a file that is not Parquet is an input error, a
    disk or permission error a fault."""
    try:
        meta = pq.ParquetFile(f).metadata
        schema = meta.schema.to_arrow_schema()
    except Exception as exc:  # pyarrow raises several types for a damaged or foreign file
        if isinstance(exc, OSError) and exc.errno is not None:
            raise  # the disk or a permission, not the data: a fault (exit 1)
        raise InputError(str(f), "", f"cannot be read as Parquet ({_short(exc)})", _with_columns(contract)) from None
    return meta, schema


def _check_names(f: Path, schema: pa.Schema, contract: Contract) -> None:
    """A file must have each of the contract's columns, and each once."""
    missing = [c for c in contract.columns if c not in schema.names]
    if missing:
        raise InputError(str(f), "columns", f"missing {', '.join(missing)} (has {', '.join(schema.names)})",
                         contract.shape)
    twice = sorted({c for c in contract.columns if schema.names.count(c) > 1})
    if twice:
        raise InputError(str(f), "columns", f"names {', '.join(twice)} more than once",
                         "keep one column of each name")


def _type_problems(con: duckdb.DuckDBPyConnection, f: Path, schema: pa.Schema,
                   contract: Contract) -> list[InputError]:
    """The columns of a file whose type is not the one declared, each with a value that shows it."""
    problems = []
    for col in contract.columns:
        typ = schema.field(col).type
        if not _type_ok(contract, col, typ):
            want, fix = contract.types[col]
            first = _first_value(con, f, col)
            problems.append(InputError(str(f), f"column {col}", f"is {typ}, not {want}{first}", fix))
    return problems


def _add_stats(meta: Any, stats: dict[str, Stats]) -> None:
    """Add a file's row groups to the statistics of each column in ``stats``."""
    names = [meta.schema.column(i).name for i in range(meta.num_columns)]
    for i in range(meta.num_row_groups):
        rg = meta.row_group(i)
        for col, st in stats.items():
            st.add(rg.column(names.index(col)), rg.num_rows)


def _value_checks(contract: Contract, ids: Stats, amounts: Stats, wide_ids: bool) -> list[Check]:
    """The checks on the values (but the months') that the statistics do not rule out (all of
    them when the statistics are incomplete), in the order of the columns."""
    checks = []
    if not ids.complete or ids.nulls:
        checks.append(Check("line_id", "line_id IS NULL", "empty", f"give every {contract.one} its line_id"))
    if wide_ids and (not ids.complete or (ids.high or 0) > INT64_MAX):
        checks.append(Check("line_id", f"line_id > {INT64_MAX}", f"too large (above {INT64_MAX:,})",
                            "line ids must fit in 64 bits: check the export"))
    if not amounts.complete or amounts.nulls:
        checks.append(Check("amount_krw", "amount_krw IS NULL", "empty", contract.amount_fix))
    return _by_column(contract, checks + contract.checks(Form(csv=False), amounts))


def _count_and_months(con: duckdb.DuckDBPyConnection, path: Path, source: str, checks: list[Check],
                      total: str, contract: Contract) -> tuple[tuple[Any, ...], list[tuple[Any, ...]]]:
    """The rows failing each check, and each month's rows and ``total`` (a DuckDB error reading the
    files is an input error)."""
    try:
        if checks:
            row = one_row(con.execute(
                "SELECT " + ", ".join(f"count(*) FILTER (WHERE {c.cond})" for c in checks) + f" FROM {source}"))
        else:
            row = ()
        months = con.execute(
            f"SELECT bill_month, count(*), {total} FROM {source} GROUP BY 1 ORDER BY 1").fetchall()
    except duckdb.Error as exc:
        raise InputError(str(path), "", f"cannot be read as Parquet ({_short(exc)})",
                         _with_columns(contract)) from None
    return row, months


def _month_checks(months: list[tuple[Any, ...]], contract: Contract) -> tuple[list[Check], list[int]]:
    """The checks on bill_month that the months found fail (empty, not YYYY-MM), with their rows."""
    checks: list[Check] = []
    counts: list[int] = []
    bad_months = [m for m, _n, _t in months if m is None or not re.fullmatch(MONTH_RE, m)]
    if bad_months:
        empty = any(m is None for m in bad_months)
        if empty:
            checks.append(Check("bill_month", "bill_month IS NULL", "empty",
                                f"give every {contract.one} its month, like 2023-09"))
            counts.append(sum(n for m, n, _t in months if m is None))
        if any(m is not None for m in bad_months):
            checks.append(Check("bill_month", f"NOT regexp_full_match(bill_month, '{MONTH_RE}')", "not YYYY-MM months",
                                "write bill months like 2023-09 (month 01-12, two digits)"))
            counts.append(sum(n for m, n, _t in months if m is not None and not re.fullmatch(MONTH_RE, m)))
    return checks, counts


def _value_problems(con: duckdb.DuckDBPyConnection, path: Path, source: str, checks: list[Check],
                    row: tuple[Any, ...]) -> list[InputError]:
    """One problem per check that rows fail, naming the first few of them with their values."""
    problems = []
    for check, bad in zip(checks, row, strict=True):
        if not bad:
            continue
        examples = con.execute(
            f"SELECT filename, file_row_number, {check.column}, {check.label or 'NULL'} FROM {source} "
            f"WHERE {check.cond} ORDER BY filename, file_row_number LIMIT {EXAMPLES}"
        ).fetchall()
        where = ", ".join(_example(_row_label(path, fn, rn), v, label) for fn, rn, v, label in examples)
        fix = _advice(con, check, source, check.column)
        problems.append(InputError(str(path), f"column {check.column}", f"{bad:,} value(s) are {check.what}: {where}",
                                   fix))
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


def _finish(path: Path, rows: list[tuple[Any, ...]], contract: Contract) -> dict[str, int]:
    """The rows per month, once no month's total is beyond 64 bits."""
    over = [(m, t) for m, _n, t in rows if t is not None and int(t) > INT64_MAX]
    if over:
        where = ", ".join(f"{m}: {int(t):,} won" for m, t in over[:EXAMPLES])
        raise InputError(str(path), "column amount_krw",
                         f"{contract.total_what} add up to more than a 64-bit integer holds ({INT64_MAX:,}): {where}",
                         "check the amounts' unit (whole won per line) and that rows are not repeated")
    return {str(m): int(n) for m, n, _t in rows}
