"""Bill items files: the items each line's bill was made of, checked on every row before a
policy's fee basis is computed on them.

A bill items file holds ``line_id``, ``bill_month`` (``YYYY-MM``), ``item`` (one of
:data:`~kt_analysis.inputs.schema.ITEM_CATEGORIES`: ``plan``, ``add_on``, ``bundle_discount``, …)
and ``amount_krw`` (whole won), as Parquet (a file, or a folder of them) or CSV: one row per line,
month and item, whose items add up to the line's bill for the month. It is read and checked like a
bills file (:mod:`kt_analysis.inputs.bills`: declared types, every value, the first few bad lines
or rows named with their values and the fix), and further:

* ``item`` is one of the item codes, exactly (an unknown value is named with the closest codes);
* a discount (:data:`~kt_analysis.inputs.schema.DISCOUNT_ITEMS`) is written as a negative amount
  (or 0), every other item as 0 or more, and no amount is beyond ±:data:`MAX_BILL_KRW`;
* an item is written once per line and month: summing two rows of one item would count it twice;
* a line's month (its items added up) is not negative: discounts larger than the bill mean its
  charges are missing or a discount is repeated.

:func:`open_bill_items` returns :class:`BillItems`, whose ``sql`` is a relation with
``line_id BIGINT``, ``bill_month VARCHAR``, ``item VARCHAR`` and ``amount_krw BIGINT`` that the fee
bases read (:mod:`kt_analysis.engine.fees`).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb

from kt_analysis.dbrow import one_row, quote
from kt_analysis.errors import InputError, InputErrors, shown
from kt_analysis.inputs.bills import (
    EXAMPLES,
    MAX_BILL_KRW,
    TYPE_TEXTS,
    Check,
    Contract,
    Form,
    Opened,
    Stats,
    needed,
    open_table,
    table_sql,
)
from kt_analysis.inputs.names import closest
from kt_analysis.inputs.schema import BILL_ITEMS, BILL_ITEMS_COLUMNS, DISCOUNT_ITEMS, ITEM_CATEGORIES

COLUMNS = BILL_ITEMS_COLUMNS
CHARGE_ITEMS = tuple(i for i in ITEM_CATEGORIES if i not in DISCOUNT_ITEMS)
"""The items that are charges: 0 or more (every item but the discounts)."""
_CODES = ", ".join(ITEM_CATEGORIES)
_KEY = ("line_id", "bill_month", "item")
_KOREAN = (  # the words of a Korean item name that give its code (an export's labels, not codes)
    ("선택약정", "selective_discount"), ("결합", "bundle_discount"), ("장기", "long_term_discount"),
    ("기본료", "plan"), ("요금제", "plan"), ("부가", "add_on"), ("임대", "equipment_rental"),
    ("장비", "equipment_rental"), ("할부", "device_instalment"), ("국제", "international"),
    ("정보이용료", "information_fee"), ("소액결제", "information_fee"), ("사용료", "usage"),
    ("통화료", "usage"), ("일회성", "one_off"), ("설치", "one_off"),
)


@dataclass(frozen=True)
class BillItems:
    """A checked bill items file: ``sql`` is a typed relation, ``months`` its rows per bill month,
    ``items`` its rows per item."""

    path: Path
    sql: str
    months: dict[str, int]
    items: dict[str, int]


def _in(values: tuple[str, ...]) -> str:
    return ", ".join(quote(v) for v in values)


def _closest_codes(values: list[Any]) -> str:
    """The fix for unknown items: the closest codes to each value found (by spelling, or by the
    words of a Korean item name), then every code."""
    hints = []
    for value in values:
        korean = [code for word, code in _KOREAN if word in str(value)]
        near = list(dict.fromkeys(korean)) or closest(str(value), ITEM_CATEGORIES)
        if near:
            hints.append(f"{shown(value)}: did you mean " + " or ".join(f"`{c}`" for c in near) + "?")
    head = "; ".join(hints) + "; " if hints else ""
    return f"{head}write item as one of the codes, exactly (lower case): {_CODES}"


def _item_checks(form: Form, amounts: Stats | None) -> list[Check]:
    """The checks of a bill item beyond a bill's: its code, and its amount's sign and size (those
    that the amounts' statistics do not rule out; all on a CSV)."""
    item = form.text("item")
    checks = [
        Check("item", form.empty("item"), "empty", f"give every item its code, one of: {_CODES}"),
        Check("item", f"NOT ({form.empty('item')}) AND {item} NOT IN ({_in(ITEM_CATEGORIES)})", "not item codes",
              f"write item as one of the codes, exactly (lower case): {_CODES}", advise=_closest_codes),
    ]
    if needed(amounts, lambda s: (s.low or 0) >= 0):
        checks.append(Check(
            "amount_krw", f"{item} IN ({_in(CHARGE_ITEMS)}) AND {form.number_is('amount_krw', '< 0')}",
            "negative on items that are not discounts",
            f"a charge is written as 0 or more; only the discounts ({', '.join(DISCOUNT_ITEMS)}) are negative "
            "(a refund or a credit is not a bill item)", label=item))
    if needed(amounts, lambda s: (s.high or 0) <= 0):
        checks.append(Check(
            "amount_krw", f"{item} IN ({_in(DISCOUNT_ITEMS)}) AND {form.number_is('amount_krw', '> 0')}",
            "positive on discount items",
            "a discount is written as a negative amount: write -8250 for a discount of 8,250 won (0 for none)",
            label=item))
    if needed(amounts, lambda s: -MAX_BILL_KRW <= (s.low or 0) and (s.high or 0) <= MAX_BILL_KRW):
        checks.append(Check(
            "amount_krw", form.beyond("amount_krw", MAX_BILL_KRW, -MAX_BILL_KRW),
            f"too large (beyond ±{MAX_BILL_KRW:,} won, the most one line's monthly bill may be)",
            "check for a unit mistake or a total pasted into a line: amounts are whole won per line and item"))
    return checks


CONTRACT = Contract(
    schema=BILL_ITEMS, noun="bill items", one="item",
    shape="a bill items file has line_id, bill_month (YYYY-MM), item (an item code) and amount_krw (whole won)",
    amount_fix="write the item's amount in whole won (0 if nothing was billed for it; a discount as a negative "
               "amount)",
    types={**TYPE_TEXTS, "item": ("text", f"store item as text, one of the item codes: {_CODES}")},
    checks=_item_checks,
    # Discounts counted by their size: every partial sum of a month's items stays within this total.
    total="sum(abs(CAST({a} AS HUGEINT)))",
    total_what="a month's amounts (discounts counted by their size)",
)


def bill_items_sql(path: str | Path) -> str:
    """The typed relation over a bill items file (check it first with :func:`open_bill_items`)."""
    return table_sql(path, CONTRACT)


def open_bill_items(con: duckdb.DuckDBPyConnection, path: str | Path, role: str = "bill items") -> BillItems:
    """Check a bill items file on every row and return it typed, with its rows per month and item.

    Every problem is an :class:`InputError` naming the file, the column, the first few lines (CSV)
    or rows (Parquet) with their values, and the fix; several problems come together as
    :class:`InputErrors`. Refused: everything a bills file is refused for
    (:func:`kt_analysis.inputs.bills.open_bills`) but a negative amount, and an empty or unknown
    item, a negative charge, a positive discount, an amount beyond ±:data:`MAX_BILL_KRW`, an item
    written twice for a line's month, and a line's month whose items add up to less than 0.
    """
    opened = open_table(con, path, CONTRACT, role)
    # One pass per line and month (not per line, month and item: 4x faster on 10M rows): the items of a
    # month as a bit set, so that a month of n rows with fewer than n distinct items repeats one.
    codes = "[" + ", ".join(quote(c) for c in ITEM_CATEGORIES) + "]"
    extra, negative = one_row(con.execute(
        "SELECT coalesce(sum(n - bit_count(mask)), 0), count(*) FILTER (WHERE total < 0) FROM ("
        f"SELECT count(*) AS n, bit_or(1::BIGINT << (list_position({codes}, item) - 1)) AS mask, "
        f"sum(amount_krw) AS total FROM {opened.sql} GROUP BY line_id, bill_month)"))
    repeated = 0
    if extra:  # the items written more than once, counted (rare: only on the way to a refusal)
        repeated = one_row(con.execute(
            f"SELECT count(*) FROM (SELECT 1 FROM {opened.sql} GROUP BY line_id, bill_month, item "
            "HAVING count(*) > 1)"))[0]
    problems = []
    if repeated:
        problems.append(_repeated_items(con, opened, int(repeated)))
    if negative:
        problems.append(_negative_months(con, opened, int(negative)))
    if problems:
        raise InputErrors(problems)
    items = {str(i): int(n) for i, n in con.execute(
        f"SELECT item, count(*) FROM {opened.sql} GROUP BY 1 ORDER BY 1").fetchall()}
    return BillItems(path=opened.path, sql=opened.sql, months=opened.months, items=items)


def _places(con: duckdb.DuckDBPyConnection, opened: Opened, key: tuple[str, ...],
            found: list[tuple[Any, ...]]) -> list[str]:
    """For each of ``found`` (values of the ``key`` columns), where its rows are: ``line 3, line 7``
    (the first few of them)."""
    match = " OR ".join("(" + " AND ".join(f"{k} = {quote(v) if isinstance(v, str) else int(v)}"
                                           for k, v in zip(key, values, strict=True)) + ")" for values in found)
    cols = ", ".join(key)
    rows = con.execute(
        f"SELECT {cols}, _file, _row FROM {opened.rows} WHERE {match} "
        f"QUALIFY row_number() OVER (PARTITION BY {cols} ORDER BY _file, _row) <= {EXAMPLES + 1} "
        f"ORDER BY _file, _row").fetchall()
    at: dict[tuple[Any, ...], list[str]] = {tuple(values): [] for values in found}
    for *values, file, row in rows:
        at[tuple(values)].append(opened.place(file, row))
    return [", ".join(p[:EXAMPLES]) + (", …" if len(p) > EXAMPLES else "") for p in at.values()]


def _first(con: duckdb.DuckDBPyConnection, opened: Opened, key: tuple[str, ...], having: str,
           extra: str) -> list[tuple[Any, ...]]:
    """The first few groups of rows by ``key`` (in the order of their first rows) that ``having``
    holds for, with the values of ``extra`` (an aggregate)."""
    cols = ", ".join(key)
    return con.execute(
        f"SELECT {cols}, {extra} FROM {opened.rows} GROUP BY {cols} HAVING {having} "
        f"ORDER BY min(struct_pack(f := _file, r := _row)) LIMIT {EXAMPLES}").fetchall()


def _repeated_items(con: duckdb.DuckDBPyConnection, opened: Opened, repeated: int) -> InputError:
    found = _first(con, opened, _KEY, "count(*) > 1", "count(*)")
    places = _places(con, opened, _KEY, [f[:3] for f in found])
    where = "; ".join(f"line_id {line_id}, {month}, {item}: {n:,} rows ({at})"
                      for (line_id, month, item, n), at in zip(found, places, strict=True))
    return InputError(
        str(opened.path), "columns line_id, bill_month, item",
        f"{repeated:,} item(s) are written more than once for the same line and month: {where}",
        "write each item of a line's month on one row, with its whole amount: two rows of one item would count "
        "its amount twice (remove the repeated rows, or add them up into one)")


def _negative_months(con: duckdb.DuckDBPyConnection, opened: Opened, negative: int) -> InputError:
    key = ("line_id", "bill_month")
    found = _first(con, opened, key, "sum(amount_krw) < 0", "sum(amount_krw)")
    places = _places(con, opened, key, [f[:2] for f in found])
    where = "; ".join(f"line_id {line_id}, {month}: {int(total):,} won ({at})"
                      for (line_id, month, total), at in zip(found, places, strict=True))
    return InputError(
        str(opened.path), "column amount_krw",
        f"{negative:,} line month(s) add up to less than 0 (discounts larger than the bill): {where}",
        "a line's month is its charges less its discounts, 0 or more: check that its charges (plan, add_on, …) "
        "are in the file and that no discount is repeated or larger than what it discounts")
