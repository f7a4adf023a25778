"""The one row of a DuckDB query that always gives one, typed as such."""

from __future__ import annotations

from typing import Any

import duckdb


def one_row(result: duckdb.DuckDBPyConnection) -> tuple[Any, ...]:
    """``result.fetchone()`` for a query that always gives a row (an aggregate without GROUP BY,
    ``current_setting``): DuckDB types it ``tuple | None``, and None here would be a bug."""
    row = result.fetchone()
    if row is None:
        raise AssertionError("the query gave no row")
    return row
