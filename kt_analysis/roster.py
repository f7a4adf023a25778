"""Rosters: one row per service line, Parquet (file or dataset folder) or CSV in UTF-8 or CP949.

The roster is never loaded into pandas: it is exposed to DuckDB as a view named ``roster`` with
the contract's columns and types, after a validation pass that reports every problem at once.
"""

from __future__ import annotations

import codecs
import csv
import os
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pyarrow.parquet as pq

from .errors import InputError, InputErrors, shown
from .policy import CUSTOMER_TYPES, PAYMENT_METHODS, SERVICES
from .yamlio import path_exists

INTEGER_COLUMNS = ("line_id", "customer_id", "monthly_fee_krw", "bill_cycle_day")
TEXT_COLUMNS = ("service", "region", "facility_id", "customer_type", "payment_method")
REQUIRED_COLUMNS = (
    "line_id", "customer_id", "service", "monthly_fee_krw", "region", "facility_id",
    "customer_type", "payment_method", "bill_cycle_day",
)
# A monthly fee above 100,000,000 won is not a telecom fee: it is a unit mistake (won vs. 10^-x),
# and the bound keeps every credit computation far inside int64.
MAX_MONTHLY_FEE_KRW = 100_000_000
EXAMPLES = 5


@dataclass(frozen=True)
class RosterSource:
    """Where the roster is and how DuckDB reads it."""

    path: Path
    sql: str  # a relation expression with the contract's columns, typed
    row_base: int  # number to add to a 0-based data-row index to get the row people see
    row_word: str  # "line" (CSV line numbers) or "row"
    cleanup: Path | None = None

    def close(self) -> None:
        if self.cleanup is not None and self.cleanup.exists():
            self.cleanup.unlink()


def _q(text: str) -> str:
    return "'" + str(text).replace("'", "''") + "'"


def _sniff_encoding(path: Path) -> str:
    """utf-8 or cp949, read in blocks so that a large file is never held in memory."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    with open(path, "rb") as fh:
        try:
            for block in iter(lambda: fh.read(1 << 22), b""):
                decoder.decode(block)
            decoder.decode(b"", final=True)
            return "utf-8"
        except UnicodeDecodeError:
            pass
    decoder = codecs.getincrementaldecoder("cp949")()
    with open(path, "rb") as fh:
        try:
            for block in iter(lambda: fh.read(1 << 22), b""):
                decoder.decode(block)
            decoder.decode(b"", final=True)
            return "cp949"
        except UnicodeDecodeError as exc:
            raise InputError(str(path), "", f"is neither UTF-8 nor CP949 text ({exc.reason})",
                             "save the CSV as UTF-8") from None


def _transcode(path: Path) -> Path:
    fd, tmp = tempfile.mkstemp(prefix="kt-roster-", suffix=".csv")
    with open(path, encoding="cp949", newline="") as src, os.fdopen(fd, "w", encoding="utf-8", newline="") as dst:
        for block in iter(lambda: src.read(1 << 22), ""):
            dst.write(block)
    return Path(tmp)


def open_roster(path: str | Path) -> RosterSource:
    path = Path(path)
    if not path_exists(path):
        raise InputError(str(path), "", "roster not found", "check the path or run `kt-analysis generate`")
    if path.is_dir() or path.suffix.lower() == ".parquet":
        return _open_parquet(path)
    if path.suffix.lower() in (".csv", ".txt"):
        return _open_csv(path)
    raise InputError(str(path), "", f"unknown roster format {path.suffix!r}",
                     "use a .parquet file, a folder of .parquet files, or a .csv file")


def _open_parquet(path: Path) -> RosterSource:
    files = sorted(path.rglob("*.parquet")) if path.is_dir() else [path]
    if not files:
        raise InputError(str(path), "", "folder holds no .parquet files", "point at a roster")
    try:
        schema = pq.read_schema(files[0])
    except Exception as exc:  # pyarrow raises several types for a damaged file
        raise InputError(str(files[0]), "", f"is not a readable Parquet file ({exc})",
                         "regenerate or re-export it") from None
    names = schema.names
    missing = [c for c in REQUIRED_COLUMNS if c not in names]
    if missing:
        raise InputError(str(path), "columns", f"missing required column(s): {', '.join(missing)}",
                         "add them (see the roster contract in README)")
    problems = []
    for col in INTEGER_COLUMNS:
        typ = schema.field(col).type
        if not (str(typ).startswith("int") or str(typ).startswith("uint")):
            fix = "store whole won as an integer column (no commas or 원)" if col.endswith("_krw") \
                else "store it as an integer column"
            problems.append(InputError(str(path), f"column {col}", f"has type {typ}, not integer", fix))
    if problems:
        raise InputErrors(problems)
    source = (
        f"read_parquet({_q(str(path / '**' / '*.parquet'))})" if path.is_dir()
        else f"read_parquet({_q(str(path))})"
    )
    select = ", ".join(
        [f"CAST({c} AS BIGINT) AS {c}" for c in INTEGER_COLUMNS]
        + [f"CAST({c} AS VARCHAR) AS {c}" for c in TEXT_COLUMNS]
    )
    return RosterSource(path=path, sql=f"(SELECT {select} FROM {source})", row_base=1, row_word="row")


def _open_csv(path: Path) -> RosterSource:
    if path.stat().st_size == 0:
        raise InputError(str(path), "", "is empty", "export the roster again with a header row")
    encoding = _sniff_encoding(path)
    read_path, cleanup = path, None
    if encoding == "cp949":
        read_path = cleanup = _transcode(path)
    with open(read_path, encoding="utf-8-sig", newline="") as fh:
        header_line = fh.readline().rstrip("\r\n")
    delim = ","
    if header_line.count(",") == 0:
        for candidate in (";", "\t", "|"):
            if header_line.count(candidate) >= 3:
                if cleanup is not None:
                    cleanup.unlink()
                raise InputError(str(path), "line 1", f"is separated by {candidate!r}, not commas",
                                 "export the CSV with commas as separators")
    header = [h.strip().lstrip("\ufeff") for h in header_line.split(delim)]
    missing = [c for c in REQUIRED_COLUMNS if c not in header]
    if missing:
        if cleanup is not None:
            cleanup.unlink()
        raise InputError(str(path), "header (line 1)",
                         f"missing required column(s): {', '.join(missing)}",
                         "add them (see the roster contract in README)")
    source = (
        f"read_csv({_q(str(read_path))}, header=true, all_varchar=true, delim=',', quote='\"', "
        f"escape='\"', strict_mode=true)"
    )
    select = ", ".join(
        [f"CAST(trim({c}) AS BIGINT) AS {c}" for c in INTEGER_COLUMNS]
        + [f"trim({c}) AS {c}" for c in TEXT_COLUMNS]
    )
    src = RosterSource(path=path, sql=f"(SELECT {select} FROM {source})", row_base=2,
                       row_word="line", cleanup=cleanup)
    object.__setattr__(src, "_raw", source)
    return src


def _not_whole(column: str) -> str:
    """SQL: the text is not a whole number. TRY_CAST alone is not enough: DuckDB casts '5.5' to 6,
    '1e3' to 1000 and '0x10' to 16, which would change a fee without a word."""
    return (f"(NOT regexp_full_match(trim({column}), '[+-]?[0-9]+') "
            f"OR TRY_CAST(trim({column}) AS BIGINT) IS NULL)")


def validate_roster(con: duckdb.DuckDBPyConnection, src: RosterSource) -> int:
    """Check the contract on every row; raise :class:`InputErrors` listing every problem.

    Returns the number of rows.
    """
    raw = getattr(src, "_raw", None)
    path = str(src.path)
    if raw is not None:
        # CSV: values arrive as text; check what does not parse before casting.
        int_checks = ", ".join(
            f"count(*) FILTER (WHERE {c} IS NOT NULL AND {_not_whole(c)}) AS bad_{c}"
            for c in INTEGER_COLUMNS
        )
        try:
            row = con.execute(f"SELECT count(*) AS n, {int_checks} FROM {raw}").fetchone()
        except duckdb.Error as exc:
            ragged = _ragged_lines(src)
            if ragged is not None:
                raise ragged from None
            raise InputError(path, "", f"cannot be read as CSV ({_short(exc)})",
                             "check quoting and that every row has the header's columns") from None
        n = row[0]
        problems = []
        for c, bad in zip(INTEGER_COLUMNS, row[1:], strict=True):
            if bad:
                examples = con.execute(
                    f"SELECT rn, v FROM (SELECT row_number() OVER () - 1 AS rn, {c} AS v FROM {raw}) "
                    f"WHERE v IS NOT NULL AND {_not_whole('v')} ORDER BY rn LIMIT {EXAMPLES}"
                ).fetchall()
                where = ", ".join(f"{src.row_word} {r + src.row_base} ({shown(v)})" for r, v in examples)
                fix = ("write whole won as digits only, e.g. 12000, not 12,000원"
                       if c.endswith("_krw") else "write a whole number")
                problem = f"{bad:,} value(s) are not whole numbers: {where}"
                if all(re.fullmatch(r"[+-]?[0-9]+", v.strip()) for _r, v in examples):  # digits, beyond int64
                    problem = f"{bad:,} value(s) are too large (above 9,223,372,036,854,775,807): {where}"
                    fix = ("check for a unit mistake (a monthly fee is at most 100,000,000 won)"
                           if c.endswith("_krw") else "ids and days must fit in 64 bits: check the export")
                problems.append(InputError(path, f"column {c}", problem, fix))
        if problems:
            raise InputErrors(problems)
        if n == 0:
            raise InputError(path, "", "holds a header but no lines", "export the roster with its rows")
    checks = {
        "null_line_id": ("line_id IS NULL", "line_id", "is empty", "give every line its line_id"),
        "null_customer": ("customer_id IS NULL", "customer_id", "is empty", "fill customer_id"),
        "bad_service": (f"service IS NULL OR service NOT IN ({', '.join(map(_q, SERVICES))})",
                        "service", "is not a known service", f"use one of {', '.join(SERVICES)}"),
        "bad_fee": (f"monthly_fee_krw IS NULL OR monthly_fee_krw < 0 OR monthly_fee_krw > {MAX_MONTHLY_FEE_KRW}",
                    "monthly_fee_krw", "is missing, negative or above 100,000,000",
                    "write the monthly fee in whole won (0 or more)"),
        "bad_type": (f"customer_type IS NULL OR customer_type NOT IN ({', '.join(map(_q, CUSTOMER_TYPES))})",
                     "customer_type", "is not a known customer type", f"use one of {', '.join(CUSTOMER_TYPES)}"),
        "bad_payment": (f"payment_method IS NULL OR payment_method NOT IN ({', '.join(map(_q, PAYMENT_METHODS))})",
                        "payment_method", "is not a known payment method",
                        f"use one of {', '.join(PAYMENT_METHODS)}"),
        "bad_cycle": ("bill_cycle_day IS NULL OR bill_cycle_day NOT BETWEEN 1 AND 31", "bill_cycle_day",
                      "is not a day of the month", "use 1 to 31"),
        "null_region": ("region IS NULL OR region = ''", "region", "is empty", "fill the region"),
        "null_facility": ("facility_id IS NULL OR facility_id = ''", "facility_id", "is empty",
                          "fill the facility"),
    }
    select = ", ".join(f"count(*) FILTER (WHERE {cond}) AS {name}" for name, (cond, *_r) in checks.items())
    # Duplicate line_ids: an exact distinct count is a hash table of every id (3 s at 35M lines).
    # A Parquet roster whose ids already rise strictly (an export sorted by line_id) has none, and
    # that takes one streaming read of one column to see; any other roster is counted.
    dup_sql = "0" if raw is None and ids_strictly_increasing(src.path) else "count(line_id) - count(DISTINCT line_id)"
    try:
        row = con.execute(
            f"SELECT count(*), {dup_sql}, {select} FROM {src.sql}"
        ).fetchone()
    except duckdb.Error as exc:
        raise InputError(path, "", f"cannot be read ({_short(exc)})", "check the file") from None
    n, duplicated = row[0], row[1]
    if n == 0:
        raise InputError(path, "", "holds no lines", "export the roster with its rows")
    problems = []
    numbered = f"(SELECT row_number() OVER () - 1 AS rn, * FROM {src.sql})"
    for (cond, column, problem, fix), bad in zip(checks.values(), row[2:], strict=True):
        if not bad:
            continue
        examples = con.execute(
            f"SELECT rn, {column} FROM {numbered} WHERE {cond} ORDER BY rn LIMIT {EXAMPLES}"
        ).fetchall()
        where = ", ".join(f"{src.row_word} {r + src.row_base} ({shown(v)})" for r, v in examples)
        problems.append(InputError(path, f"column {column}", f"{bad:,} row(s) {problem}: {where}", fix))
    if duplicated:
        dups = con.execute(
            f"SELECT line_id, list(rn ORDER BY rn)[:3] FROM {numbered} WHERE line_id IN "
            f"(SELECT line_id FROM {src.sql} WHERE line_id IS NOT NULL GROUP BY line_id HAVING count(*) > 1) "
            f"GROUP BY line_id ORDER BY min(rn) LIMIT {EXAMPLES}"
        ).fetchall()
        where = "; ".join(
            f"line_id {lid} at {src.row_word}s " + ", ".join(str(r + src.row_base) for r in rows)
            for lid, rows in dups
        )
        problems.append(InputError(path, "column line_id", f"has duplicates: {where}",
                                   "keep one row per line_id"))
    if problems:
        raise InputErrors(problems)
    return n


def ids_strictly_increasing(path: Path) -> bool:
    """True when the Parquet roster's ``line_id``, read file by file in name order, rises strictly
    and has no null: then no id repeats. False says nothing (an unsorted roster, a null, a file
    that cannot be read): the caller counts distinct ids exactly."""
    files = sorted(path.rglob("*.parquet")) if path.is_dir() else [path]
    last = None
    try:
        for f in files:
            for batch in pq.ParquetFile(f).iter_batches(columns=["line_id"], batch_size=1 << 20):
                ids = batch.column(0)
                if ids.null_count:
                    return False
                a = ids.to_numpy(zero_copy_only=False)
                if a.size == 0:
                    continue
                if (last is not None and not a[0] > last) or not (a[1:] > a[:-1]).all():
                    return False
                last = a[-1]
    except Exception:  # unreadable here: the exact count will say what is wrong
        return False
    return True


def _ragged_lines(src: RosterSource) -> InputError | None:
    """The lines whose number of values differs from the header's (read only when DuckDB fails).

    An unquoted ``12,000원`` splits one fee into two values; DuckDB's own message names no line.
    """
    read_path = src.cleanup if src.cleanup is not None else src.path
    found: list[tuple[int, int]] = []
    with open(read_path, encoding="utf-8-sig", newline="") as fh:
        reader = csv.reader(fh)
        width = len(next(reader, []))
        for row in reader:
            if row and len(row) != width:
                found.append((reader.line_num, len(row)))
                if len(found) >= EXAMPLES:
                    break
    if not found:
        return None
    where = ", ".join(f"line {line} ({n} values)" for line, n in found)
    return InputError(
        str(src.path), where, f"has a different number of values than the header ({width} columns)",
        "give every line the header's columns; a value with a comma (a fee written 12,000원) "
        "splits in two: write 12000, or quote the value",
    )


def _short(exc: Exception) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return text[:300]
