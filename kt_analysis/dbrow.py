"""Small DuckDB helpers every layer uses: the connection the engine opens, the one row of an
aggregate, and a breakdown frame as the summary's records."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import duckdb
import pandas as pd


def quote(text: str | Path) -> str:
    """``text`` as an SQL string literal (the one quoting of names and paths in the engines' SQL).

    >>> quote("it's")
    "'it''s'"
    """
    return "'" + str(text).replace("'", "''") + "'"


def connect(threads: int | None = None) -> duckdb.DuckDBPyConnection:
    """An in-process DuckDB that keeps insertion order (ledgers are written in the roster's order)."""
    con = duckdb.connect(config={"preserve_insertion_order": True})
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
