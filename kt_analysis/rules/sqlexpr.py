"""Building rule expressions as SQLGlot trees: the rules are written once, as trees, and each engine
renders them in its own SQL dialect (``tree.sql(dialect="duckdb")`` or ``"spark"``).

Every value that enters a rule passes through :func:`text`, :func:`number` or :func:`day`, the
one place a value becomes SQL; no rule concatenates SQL text. Composite operands are
parenthesised explicitly, so the order of operations never depends on a dialect's precedence.

>>> from sqlglot import exp
>>> tree = int_div(plus(col("outage_minutes"), number(59)), number(60))
>>> tree.sql(dialect="duckdb"), tree.sql(dialect="spark")
('(outage_minutes + 59) // 60', '(outage_minutes + 59) DIV 60')
>>> isin("service", ("it's",)).sql(dialect="duckdb")
"service IN ('it''s')"
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date

from sqlglot import exp


def col(name: str) -> exp.Column:
    return exp.column(name)


def number(n: int) -> exp.Expression:
    """An integer literal (INTEGER, widened by the BIGINT it meets)."""
    return exp.Literal.number(int(n))


def bigint(n: int) -> exp.Cast:
    """``CAST(n AS BIGINT)``: a constant that must be 64-bit on its own."""
    return exp.cast(number(n), exp.DataType.Type.BIGINT)


def text(value: str) -> exp.Literal:
    """A string literal, quoted by SQLGlot for the dialect it is rendered in."""
    return exp.Literal.string(value)


def day(d: date) -> exp.Cast:
    return exp.cast(text(d.isoformat()), exp.DataType.Type.DATE)


def paren(e: exp.Expression) -> exp.Expression:
    return e if isinstance(e, exp.Column | exp.Literal | exp.Cast | exp.Paren) else exp.Paren(this=e)


def plus(*terms: exp.Expression) -> exp.Expression:
    out = paren(terms[0])
    for t in terms[1:]:
        out = exp.Add(this=out, expression=paren(t))
    return out


def minus(a: exp.Expression, b: exp.Expression) -> exp.Expression:
    return exp.Sub(this=paren(a), expression=paren(b))


def times(*factors: exp.Expression) -> exp.Expression:
    out = paren(factors[0])
    for f in factors[1:]:
        out = exp.Mul(this=out, expression=paren(f))
    return out


def int_div(a: exp.Expression, b: exp.Expression) -> exp.Expression:
    """Integer division (DuckDB ``//``, Spark ``DIV``): truncation, the floor for non-negative operands."""
    return exp.IntDiv(this=paren(a), expression=paren(b))


def isin(column: str, values: Iterable[str]) -> exp.Expression:
    return exp.In(this=col(column), expressions=[text(v) for v in values])


def at_least(column: str, n: int) -> exp.Expression:
    return exp.GTE(this=col(column), expression=number(n))


def above(column: str, n: int) -> exp.Expression:
    return exp.GT(this=col(column), expression=number(n))


def all_of(*conds: exp.Expression) -> exp.Expression:
    out = paren(conds[0])
    for c in conds[1:]:
        out = exp.And(this=out, expression=paren(c))
    return exp.Paren(this=out)


def any_of(*conds: exp.Expression) -> exp.Expression:
    out = paren(conds[0])
    for c in conds[1:]:
        out = exp.Or(this=out, expression=paren(c))
    return exp.Paren(this=out)


def negate(cond: exp.Expression) -> exp.Expression:
    return exp.Not(this=paren(cond))


def case(whens: Iterable[tuple[exp.Expression, exp.Expression]], default: exp.Expression) -> exp.Expression:
    """``(CASE WHEN c1 THEN v1 … ELSE default END)``."""
    node = exp.Case()
    for cond, value in whens:
        node = node.when(cond, value)
    return exp.Paren(this=node.else_(default))


def true() -> exp.Boolean:
    return exp.true()


def false() -> exp.Boolean:
    return exp.false()


def null_date() -> exp.Cast:
    return exp.cast(exp.null(), exp.DataType.Type.DATE)


def pick(values: list[exp.Expression], index: exp.Expression) -> exp.Expression:
    """``values[index]``, 1-based, NULL outside the list (DuckDB ``[…][i]``, Spark ``TRY_ELEMENT_AT``)."""
    return exp.Bracket(this=exp.Array(expressions=values), expressions=[index], offset=1, safe=True)


def as_bigint(e: exp.Expression) -> exp.Cast:
    return exp.cast(paren(e), exp.DataType.Type.BIGINT)
