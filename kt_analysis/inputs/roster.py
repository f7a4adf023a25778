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
import unicodedata
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from kt_analysis.dbrow import connect, one_row
from kt_analysis.errors import InputError, InputErrors, mask_text, phone_like, shown
from kt_analysis.inputs.names import normalize
from kt_analysis.inputs.schema import (
    CUSTOMER_TYPES,
    INTEGER_COLUMNS,
    PAYMENT_METHODS,
    ROSTER_COLUMNS,
    SERVICES,
    TEXT_COLUMNS,
)
from kt_analysis.inputs.yamlio import check_input_file, path_exists

REQUIRED_COLUMNS = ROSTER_COLUMNS
# Columns a roster may have that a rule can read: ``plan`` (text), what a policy's ``exclude_plans``
# compares. Carried in the roster's relation when the roster has them (every file of a Parquet folder).
OPTIONAL_COLUMNS = ("plan",)
# A monthly fee above 100,000,000 won is not a telecom fee: it is a unit mistake (won vs. 10^-x),
# and the bound keeps every credit computation far inside int64.
MAX_MONTHLY_FEE_KRW = 100_000_000
EXAMPLES = 5
INT64_MAX = 2**63 - 1
# Schema problems of a Parquet folder: a folder of thousands of files exported alike would give
# thousands of identical lines; the first ones say what to fix.
MAX_FILE_PROBLEMS = 10


@dataclass(frozen=True)
class RosterSource:
    """Where the roster is and how DuckDB reads it."""

    path: Path
    sql: str  # a relation expression with the contract's columns, typed
    row_base: int  # number to add to a 0-based data-row index to get the row people see
    row_word: str  # "line" (CSV line numbers) or "row"
    cleanup: Path | None = None
    # A relation with ``rn`` (0-based row), ``fname`` (the file of a Parquet folder, else NULL) and
    # the contract's columns, for naming rows in messages; empty: numbered from ``sql``.
    numbered: str = ""
    optional: tuple[str, ...] = ()  # the OPTIONAL_COLUMNS the roster has, in ``sql`` after the contract's

    def has(self, column: str) -> bool:
        """The roster's relation carries ``column`` (a contract column, or an optional one it has)."""
        return column in ROSTER_COLUMNS or column in self.optional

    def close(self) -> None:
        if self.cleanup is not None and self.cleanup.exists():
            self.cleanup.unlink()


def _q(text: str) -> str:
    return "'" + str(text).replace("'", "''") + "'"


def _sniff_encoding(path: Path) -> str:
    """utf-8 or cp949, read in blocks so that a large file is never held in memory."""
    decoder: codecs.IncrementalDecoder = codecs.getincrementaldecoder("utf-8")()
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
    # From metadata alone: a FIFO, a device (/dev/zero) or a socket is refused before it is opened.
    check_input_file(path, "roster", folder_ok=True)
    if path.is_dir() or path.suffix.lower() == ".parquet":
        return _open_parquet(path)
    if path.suffix.lower() in (".csv", ".txt"):
        return _open_csv(path)
    raise InputError(str(path), "", f"unknown roster format {path.suffix!r}",
                     "use a .parquet file, a folder of .parquet files, or a .csv file")


def _parquet_files(path: Path) -> list[Path]:
    """The files of a Parquet roster, each a regular file (a FIFO named x.parquet is refused)."""
    if not path.is_dir():
        return [path]
    files = sorted(p for p in path.rglob("*.parquet") if not p.is_dir())
    if not files:
        raise InputError(str(path), "", "folder holds no .parquet files", "point at a roster")
    for f in files:
        check_input_file(f, "roster")
    return files


def _duplicate_names(names: list[str]) -> str:
    """What repeats among column names, compared without case (DuckDB's names ignore case: it
    would read the first column and rename the other, silently); empty: nothing."""
    groups: dict[str, list[str]] = {}
    for name in names:
        if name:
            groups.setdefault(name.casefold(), []).append(name)
    out = []
    for spellings in groups.values():
        if len(spellings) > 1:
            if len(set(spellings)) == 1:
                out.append(f"column {spellings[0]!r} appears {len(spellings)} times")
            else:
                out.append("columns " + " and ".join(map(repr, spellings))
                           + " are one name (case is not told apart)")
    return "; ".join(out)


def _value_type(typ: pa.DataType) -> pa.DataType:
    return typ.value_type if pa.types.is_dictionary(typ) else typ


def _is_integer(typ: pa.DataType) -> bool:
    return pa.types.is_integer(_value_type(typ)) or pa.types.is_null(typ)


def _is_text(typ: pa.DataType) -> bool:
    t = _value_type(typ)
    return (pa.types.is_string(t) or pa.types.is_large_string(t) or pa.types.is_string_view(t)
            or pa.types.is_null(typ))


def _first_beyond_int64(file: Path, column: str) -> tuple[int, int] | None:
    """(0-based row, value) of the first unsigned value above int64 in ``column``, or None."""
    offset = 0
    limit = pa.scalar(INT64_MAX, pa.uint64())
    for batch in pq.ParquetFile(file).iter_batches(columns=[column], batch_size=1 << 20):
        values = batch.column(0)
        if pa.types.is_dictionary(values.type):
            values = values.dictionary_decode()
        over = pc.greater(values.cast(pa.uint64()), limit)
        if pc.any(over).as_py():
            i = pc.index(over, True).as_py()
            return offset + i, values[i].as_py()
        offset += len(values)
    return None


def _file_problems(file: Path) -> tuple[list[InputError], pa.Schema | None]:
    """Everything wrong with one Parquet file's schema: duplicate names, missing columns, types."""
    try:
        schema = pq.read_schema(file)
    except Exception as exc:  # pyarrow raises several types for a damaged file
        fix = "regenerate or re-export it"
        try:
            with open(file, "rb") as fh:
                if fh.read(4) != b"PAR1":
                    fix = "it is not Parquet: re-export it as Parquet, or name a CSV roster .csv"
        except OSError:
            pass
        return [InputError(str(file), "", f"is not a readable Parquet file ({exc})", fix)], None
    names = schema.names
    dups = _duplicate_names(names)
    if dups:
        return [InputError(str(file), "columns", dups,
                           "keep one column of each name: drop or rename the copy and export again")], None
    missing = [c for c in REQUIRED_COLUMNS if c not in names]
    if missing:
        return [InputError(str(file), "columns", f"missing required column(s): {', '.join(missing)}",
                           "add them (the roster's columns: docs/bills.md)")], None
    problems = []
    for col in INTEGER_COLUMNS:
        typ = schema.field(col).type
        if not _is_integer(typ):
            fix = "store whole won as an integer column (no commas or 원)" if col.endswith("_krw") \
                else "store it as an integer column"
            if pa.types.is_floating(_value_type(typ)) or pa.types.is_decimal(_value_type(typ)):
                fix += "; a fraction would be rounded without a word"
            problems.append(InputError(str(file), f"column {col}", f"has type {typ}, not integer", fix))
        elif _value_type(typ) == pa.uint64():
            over = _first_beyond_int64(file, col)
            if over is not None:
                row, value = over
                fix = ("check for a unit mistake (a monthly fee is at most 100,000,000 won)"
                       if col.endswith("_krw") else "ids and days must fit in 64 bits: check the export")
                problems.append(InputError(
                    str(file), f"column {col}",
                    f"has type uint64 and values above 9,223,372,036,854,775,807: row {row + 1} ({value})", fix))
    for col in TEXT_COLUMNS:
        typ = schema.field(col).type
        if not _is_text(typ):
            problems.append(InputError(str(file), f"column {col}", f"has type {typ}, not text (string)",
                                       "store it as a string column (UTF-8 text)"))
    return problems, schema


def _open_parquet(path: Path) -> RosterSource:
    files = _parquet_files(path)
    problems: list[InputError] = []
    types: dict[str, set[str]] = {c: set() for c in REQUIRED_COLUMNS}
    all_names: set[str] = set()
    optional = set(OPTIONAL_COLUMNS)
    bad_files = 0
    for f in files:
        found, schema = _file_problems(f)
        if found:
            bad_files += 1
            problems.extend(found)
        if schema is not None:
            all_names.update(n.casefold() for n in schema.names)
            optional &= set(schema.names)
            for c in REQUIRED_COLUMNS:
                types[c].add(str(schema.field(c).type))
    if problems:
        if len(problems) > MAX_FILE_PROBLEMS:
            rest = len(problems) - MAX_FILE_PROBLEMS
            problems = problems[:MAX_FILE_PROBLEMS] + [InputError(
                str(path), "", f"and {rest:,} more problem(s); {bad_files:,} of {len(files):,} files have some",
                "fix the files named above, then run `kt-analysis validate` again")]
        raise InputErrors(problems)
    # The files are named one by one: what DuckDB reads is exactly what was checked. Types that
    # differ between files (int32 here, int64 there) are widened, not cast to the first file's.
    union = ", union_by_name=true" if any(len(t) > 1 for t in types.values()) else ""
    listed = "[" + ", ".join(_q(str(f)) for f in files) + "]"
    extra = tuple(c for c in OPTIONAL_COLUMNS if c in optional)
    casts = ", ".join(
        [f"CAST({c} AS BIGINT) AS {c}" for c in INTEGER_COLUMNS]
        + [f"CAST({c} AS VARCHAR) AS {c}" for c in (*TEXT_COLUMNS, *extra)]
    )
    sql = f"(SELECT {casts} FROM read_parquet({listed}{union}))"
    numbered = ""
    if "file_row_number" not in all_names and "_kt_file" not in all_names:
        fname = "_kt_file" if path.is_dir() else "NULL"
        numbered = (f"(SELECT file_row_number AS rn, {fname} AS fname, {casts} FROM read_parquet("
                    f"{listed}{union}, filename='_kt_file', file_row_number=true))")
    return RosterSource(path=path, sql=sql, row_base=1, row_word="row", numbered=numbered, optional=extra)


def _check_csv_header(path: Path, read_path: Path) -> list[str]:
    """The header's column names, read with the csv module (a quoted header ``"line_id",…`` is
    read as DuckDB reads it); refused: another separator, duplicate names, missing columns."""
    with open(read_path, encoding="utf-8-sig", newline="") as fh:
        try:
            raw = next(csv.reader(fh), [])
        except csv.Error as exc:
            raise InputError(str(path), "header (line 1)", f"cannot be read as a CSV header ({exc})",
                             "export the roster as CSV with a header row of column names") from None
    if len(raw) == 1:
        for candidate in (";", "\t", "|"):
            if raw[0].count(candidate) >= 3:
                raise InputError(str(path), "line 1", f"is separated by {candidate!r}, not commas",
                                 "export the CSV with commas as separators")
    header = [h.strip().lstrip("\ufeff") for h in raw]
    dups = _duplicate_names(header)
    if dups:
        raise InputError(str(path), "header (line 1)", dups,
                         "keep one column of each name: delete or rename the copy")
    missing = [c for c in REQUIRED_COLUMNS if c not in header]
    if missing:
        raise InputError(str(path), "header (line 1)",
                         f"missing required column(s): {', '.join(missing)}",
                         "add them (the roster's columns: docs/bills.md)")
    return header


def _open_csv(path: Path) -> RosterSource:
    if path.stat().st_size == 0:
        raise InputError(str(path), "", "is empty", "export the roster again with a header row")
    encoding = _sniff_encoding(path)
    read_path, cleanup = path, None
    if encoding == "cp949":
        read_path = cleanup = _transcode(path)
    try:
        header = _check_csv_header(path, read_path)
    except BaseException:
        if cleanup is not None:
            cleanup.unlink()
        raise
    source = (
        f"read_csv({_q(str(read_path))}, header=true, all_varchar=true, delim=',', quote='\"', "
        f"escape='\"', strict_mode=true)"
    )
    extra = tuple(c for c in OPTIONAL_COLUMNS if c in header)
    select = ", ".join(
        [f"CAST(trim({c}) AS BIGINT) AS {c}" for c in INTEGER_COLUMNS]
        + [f"trim({c}) AS {c}" for c in (*TEXT_COLUMNS, *extra)]
    )
    src = RosterSource(path=path, sql=f"(SELECT {select} FROM {source})", row_base=2,
                       row_word="line", cleanup=cleanup, optional=extra)
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
            row = one_row(con.execute(f"SELECT count(*) AS n, {int_checks} FROM {raw}"))
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
        row = one_row(con.execute(
            f"SELECT count(*), {dup_sql}, {select} FROM {src.sql}"
        ))
    except duckdb.Error as exc:
        raise InputError(path, "", f"cannot be read ({_short(exc)})", "check the file") from None
    n, duplicated = row[0], row[1]
    if n == 0:
        raise InputError(path, "", "holds no lines", "export the roster with its rows")
    problems = []
    # A Parquet roster numbers rows within each file (a folder's message names the file).
    numbered = src.numbered or f"(SELECT row_number() OVER () - 1 AS rn, NULL AS fname, * FROM {src.sql})"
    for (cond, column, problem, fix), bad in zip(checks.values(), row[2:], strict=True):
        if not bad:
            continue
        examples = con.execute(
            f"SELECT fname, rn, {column} FROM {numbered} WHERE {cond} ORDER BY fname NULLS FIRST, rn "
            f"LIMIT {EXAMPLES}"
        ).fetchall()
        where = ", ".join(f"{_at(src, f, r)} ({shown(v)})" for f, r, v in examples)
        problems.append(InputError(path, f"column {column}", f"{bad:,} row(s) {problem}: {where}", fix))
    problems += _phone_numbers_in_free_text(con, src, numbered)
    if duplicated:
        dups = con.execute(
            f"SELECT line_id, list(rn ORDER BY fname NULLS FIRST, rn)[:3], "
            f"list(fname ORDER BY fname NULLS FIRST, rn)[:3] FROM {numbered} WHERE line_id IN "
            f"(SELECT line_id FROM {src.sql} WHERE line_id IS NOT NULL GROUP BY line_id HAVING count(*) > 1) "
            f"GROUP BY line_id ORDER BY min({{'f': fname, 'r': rn}}) LIMIT {EXAMPLES}"
        ).fetchall()
        where = "; ".join(
            f"line_id {lid} at {src.row_word}s "
            + ", ".join(_at(src, f, r, word=False) for r, f in zip(rows, files, strict=True))
            for lid, rows, files in dups
        )
        problems.append(InputError(path, "column line_id", f"has duplicates: {where}",
                                   "keep one row per line_id"))
    if problems:
        raise InputErrors(problems)
    return n


# A superset of errors.phone_like in RE2 (DuckDB's regex: no look-arounds): only the distinct
# values it matches come back to Python for the exact test.
_PHONE_RE2 = (r"\+82[-. ]?(\(0\)[-. ]?)?0?[0-9]{1,2}[-. ]?[0-9]{3,4}[-. ]?[0-9]{4}"
              r"|\(0[0-9]{1,2}\)[-. ]?[0-9]{3,4}[-. ]?[0-9]{4}|0[0-9]{1,2}[-. ][0-9]{3,4}[-. ][0-9]{4}"
              r"|(01[016789]|070|0[3-6][1-5]|02)[0-9]{7,8}")


def _phone_numbers_in_free_text(con: duckdb.DuckDBPyConnection, src: RosterSource, numbered: str
                                ) -> list[InputError]:
    """``region`` and ``facility_id`` are shown in reports, charts and the ledger as written, so a
    value holding a phone number (an export that shifted ``phone`` into them) is refused, naming
    the rows with the number masked. A personal name there is not detected: place names are
    Korean words too (서울), and masking them would break every report."""
    found = con.execute(  # one scan of the roster: its distinct (region, facility) pairs are few
        f"WITH k AS MATERIALIZED (SELECT DISTINCT region, facility_id FROM {src.sql}) "
        f"SELECT 'region', region FROM (SELECT DISTINCT region FROM k) "
        f"WHERE regexp_matches(region, {_q(_PHONE_RE2)}) UNION ALL "
        f"SELECT 'facility_id', facility_id FROM (SELECT DISTINCT facility_id FROM k) "
        f"WHERE regexp_matches(facility_id, {_q(_PHONE_RE2)})").fetchall()
    problems = []
    for column in ("region", "facility_id"):
        values = sorted(v for c, v in found if c == column and phone_like(v))
        if not values:
            continue
        listed = ", ".join(map(_q, values))
        bad = one_row(con.execute(f"SELECT count(*) FROM {src.sql} WHERE {column} IN ({listed})"))[0]
        examples = con.execute(f"SELECT fname, rn, {column} FROM {numbered} WHERE {column} IN ({listed}) "
                               f"ORDER BY fname NULLS FIRST, rn LIMIT {EXAMPLES}").fetchall()
        where = ", ".join(f"{_at(src, f, r)} ({mask_text(shown(v))})" for f, r, v in examples)
        problems.append(InputError(
            str(src.path), f"column {column}", f"{bad:,} row(s) hold a phone number: {where}",
            f"{column} is shown in reports as written: keep phone numbers in the phone column (check the "
            "export's column order)"))
    return problems


def _at(src: RosterSource, fname: str | None, rn: int, *, word: bool = True) -> str:
    """Where a 0-based row is: ``row 3``, ``line 4`` (CSV), ``row 3 of part-1.parquet`` (a folder)."""
    place = f"{src.row_word} {rn + src.row_base}" if word else str(rn + src.row_base)
    if fname is None:
        return place
    try:
        name = str(Path(fname).relative_to(src.path))
    except ValueError:
        name = str(fname)
    return f"{place} of {name}"


def ids_strictly_increasing(path: Path) -> bool:
    """True when the Parquet roster's ``line_id``, read file by file in name order, rises strictly
    and has no null: then no id repeats. False says nothing (an unsorted roster, a null, a file
    that cannot be read): the caller counts distinct ids exactly."""
    files = sorted(p for p in path.rglob("*.parquet") if not p.is_dir()) if path.is_dir() else [path]
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


# --- describe: the roster's own names, for writing incidents -----------------------------------------

DESCRIBED = (
    ("service", "services"),
    ("region", "regions"),
    ("facility_id", "facilities (facility_id)"),
    ("customer_type", "customer types"),
    ("payment_method", "payment methods"),
)
DESCRIBE_TOP = 30


def describe_roster(path: str | Path) -> dict:
    """The roster's services, regions, facilities, customer types and payment methods, each value
    with its number of lines (most lines first, then by value), the total lines and customers, and
    a warning for every name written in several ways that :func:`normalize` makes one.

    The roster is validated first: a bad roster is an :class:`InputError` as in ``validate``.
    """

    con = connect()
    src = None
    try:
        src = open_roster(path)
        n = validate_roster(con, src)
        cols = [c for c, _label in DESCRIBED]
        rows = con.execute(
            f"SELECT {', '.join(cols)}, {', '.join(f'grouping({c})' for c in cols)}, count(*), "
            f"(SELECT count(DISTINCT customer_id) FROM {src.sql}) "
            f"FROM {src.sql} GROUP BY GROUPING SETS ({', '.join(f'({c})' for c in cols)}, ())"
        ).fetchall()
    finally:
        if src is not None:
            src.close()
        con.close()
    k = len(cols)
    counts: dict[str, list[tuple[str, int]]] = {c: [] for c in cols}
    total = customers = None
    for row in rows:
        grouped = [g == 0 for g in row[k:2 * k]]
        lines, customers = row[2 * k], row[2 * k + 1]
        if not any(grouped):
            total = lines
            continue
        i = grouped.index(True)
        counts[cols[i]].append((row[i], lines))
    assert total == n, (total, n)  # the grouping and the validation read the same roster
    columns = {}
    warnings = []
    for c in cols:
        ordered = sorted(counts[c], key=lambda vc: (-vc[1], vc[0]))
        columns[c] = [{"value": v, "lines": cnt} for v, cnt in ordered]
        spellings: dict[str, list[tuple[str, int]]] = {}
        for v, cnt in ordered:
            spellings.setdefault(normalize(v), []).append((v, cnt))
        for name, ways in sorted(spellings.items()):
            if len(ways) > 1:
                warnings.append({
                    "column": c, "name": name, "lines": sum(cnt for _v, cnt in ways),
                    "spellings": [{"value": v, "lines": cnt} for v, cnt in ways],
                    "message": (f"{c} {name!r} is written {len(ways)} ways in the roster ("
                                + ", ".join(f"{_display(v, quote=True)}: {cnt:,} line(s)" for v, cnt in ways)
                                + f"); they are matched as one name: write {name!r} in incidents"),
                })
    return {"roster": str(path), "lines": n, "customers": customers, "columns": columns, "warnings": warnings}


def _display_width(text: str) -> int:
    return sum(2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1 for ch in text)


def _display(value: str, *, quote: bool = False) -> str:
    """A value as written; quoted (blanks and invisible characters escaped) when they would hide
    its form, and marked when its letters are decomposed (NFD, as macOS writes Hangul)."""
    plain = bool(value) and normalize(value) == value and value.isprintable()
    text = repr(value) if quote or not plain else value
    if unicodedata.normalize("NFC", value) != value:
        text += " (decomposed: NFD)"
    return text


def format_description(desc: dict, top: int = DESCRIBE_TOP) -> str:
    """``describe_roster``'s result as readable sections with aligned counts (``top`` per column)."""
    out = [f"roster {desc['roster']}: {desc['lines']:,} lines, {desc['customers']:,} customers"]
    more = False
    for col, label in DESCRIBED:
        values = desc["columns"][col]
        out += ["", f"{label}: {len(values):,}"]
        shown_values = values[:top]
        names = [_display(v["value"]) for v in shown_values]
        name_width = max((_display_width(s) for s in names), default=0)
        count_width = max((len(f"{v['lines']:,}") for v in shown_values), default=0)
        for name, v in zip(names, shown_values, strict=True):
            pad = " " * (name_width - _display_width(name))
            out.append(f"  {name}{pad}  {v['lines']:>{count_width},}")
        if len(values) > top:
            more = True
            rest = values[top:]
            out.append(f"  … and {len(rest):,} more ({sum(v['lines'] for v in rest):,} lines)")
    if desc["warnings"]:
        out.append("")
        out += [f"warning: {w['message']}" for w in desc["warnings"]]
    out += ["", "Write regions, facilities and services in incidents as the roster writes them."]
    if more:
        out.append("`kt-analysis roster describe --json` lists every value.")
    return "\n".join(out)
