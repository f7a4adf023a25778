"""Small DuckDB helpers every layer uses: the connection the engine opens, the one row of an
aggregate, and a breakdown frame as the summary's records."""

from __future__ import annotations

import atexit
import os
import re
import shutil
import tempfile
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd

from kt_analysis.errors import InputError

# DuckDB's own default is 80% of the machine's memory, and it keeps what it may: a 200M-line
# roster took 7.5 GB. KT_MEMORY_LIMIT caps it; beyond the cap DuckDB spills to a private temporary
# folder. Measured once each on this project's 2-core machine: 200M lines with 800MB ran in the same
# 95 s at 1.1 GB; 35M lines with 800MB-1GB in about the same time at 1.0-1.1 GB (1.5 GB without);
# but below about 800 MB the ledger's ordered Parquet writer slows down several times, and the
# timings varied too much here to choose a default: the cap is the user's, unset by default.
MEMORY_ENV = "KT_MEMORY_LIMIT"
_SIZE = re.compile(r"(\d+(?:\.\d+)?)\s*(KB|MB|GB|TB|KIB|MIB|GIB|TIB)", re.IGNORECASE)
_FACTOR = {"KB": 1e3, "MB": 1e6, "GB": 1e9, "TB": 1e12, "KIB": 2**10, "MIB": 2**20, "GIB": 2**30, "TIB": 2**40}
MIN_MEMORY_BYTES = 256 * 10**6
_SPILL: list[str] = []


def quote(text: str | Path) -> str:
    """``text`` as an SQL string literal (the one quoting of names and paths in the engines' SQL).

    >>> quote("it's")
    "'it''s'"
    """
    return "'" + str(text).replace("'", "''") + "'"


def memory_limit() -> str | None:
    """The DuckDB memory limit ``KT_MEMORY_LIMIT`` asks for (e.g. ``4GB``), or None: DuckDB's own.

    >>> os.environ.pop(MEMORY_ENV, None) and None; memory_limit() is None
    True
    """
    value = os.environ.get(MEMORY_ENV, "").strip()
    if not value:
        return None
    m = _SIZE.fullmatch(value)
    if m is None:
        raise InputError(MEMORY_ENV, "", f"{value!r} is not a memory size",
                         "write it as a number and a unit, e.g. KT_MEMORY_LIMIT=4GB or 800MB")
    if float(m.group(1)) * _FACTOR[m.group(2).upper()] < MIN_MEMORY_BYTES:
        raise InputError(MEMORY_ENV, "", f"{value} is too little for the per-line pass",
                         "give it at least 256MB (or leave it unset: DuckDB then takes up to 80% of memory)")
    return value


def _spill_dir() -> str:
    """A private folder for what DuckDB spills to disk, removed when the process ends."""
    if not _SPILL:
        _SPILL.append(tempfile.mkdtemp(prefix="kt-duckdb-"))
        atexit.register(shutil.rmtree, _SPILL[0], True)
    return _SPILL[0]


def connect(threads: int | None = None) -> duckdb.DuckDBPyConnection:
    """An in-process DuckDB that keeps insertion order (ledgers are written in the roster's order),
    holds at most :func:`memory_limit` when one is set, and spills to a private temporary folder."""
    limit = memory_limit()
    con = duckdb.connect(config={"preserve_insertion_order": True})
    if limit is not None:
        con.execute(f"SET memory_limit = {quote(limit)}")
    con.execute(f"SET temp_directory = {quote(_spill_dir())}")  # not .tmp/ in whatever folder cron starts in
    if threads:
        con.execute(f"SET threads = {int(threads)}")
    return con


def records(frame: pd.DataFrame, key: str) -> dict[str, dict[str, int]]:
    """A breakdown frame (one row per ``key`` value) as ``{value: {figure: int}}``, sorted by value."""
    out = {}
    for d in frame.sort_values(key).to_dict("records"):
        name = str(d.pop(key))
        out[name] = {k: int(v) for k, v in d.items()}
    return out


def one_row(result: duckdb.DuckDBPyConnection) -> tuple[Any, ...]:
    """``result.fetchone()`` for a query that always gives a row (an aggregate without GROUP BY,
    ``current_setting``): DuckDB types it ``tuple | None``, and None here would be a bug."""
    row = result.fetchone()
    if row is None:
        raise AssertionError("the query gave no row")
    return row
