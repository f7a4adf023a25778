"""The SQL dialects the engines speak, and rendering the rules' expression trees in them.

The rules (kt_analysis.rules) build SQLGlot trees and know no dialect; an engine renders them here.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlglot import exp

from kt_analysis.rules.credits import PolicyRules

DIALECTS = ("duckdb", "spark")


def render(tree: exp.Expression, dialect: str) -> str:
    """``tree`` as ``dialect``'s SQL.

    >>> from kt_analysis.rules.sqlexpr import col, int_div, number
    >>> render(int_div(col("a"), number(60)), "spark")
    'a DIV 60'
    """
    if dialect not in DIALECTS:
        raise ValueError(f"unknown SQL dialect {dialect!r}; use one of {', '.join(DIALECTS)}")
    return tree.sql(dialect=dialect)


@dataclass(frozen=True)
class PolicySQL:
    """A policy's four per-line expressions as one dialect's SQL text, and every value ``reason`` and
    ``rule`` can take (an engine may store them as a dictionary of those values)."""

    eligible: str
    reason: str
    rule: str
    credit_krw: str
    rules: tuple[str, ...]
    reasons: tuple[str, ...]


def render_policy(rules: PolicyRules, dialect: str) -> PolicySQL:
    """A compiled policy's four expressions in ``dialect``."""
    return PolicySQL(eligible=render(rules.eligible, dialect), reason=render(rules.reason, dialect),
                     rule=render(rules.rule, dialect), credit_krw=render(rules.credit_krw, dialect),
                     rules=rules.rules, reasons=rules.reasons)
