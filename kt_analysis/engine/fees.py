"""Each line's fee basis from its bill items: what a policy's ``fee_basis`` computes credits on.

A policy on the roster's fee reads ``monthly_fee_krw``. A policy on the bills reads a column of its
own (``FeeBasis.column``): the sum of the counted items over its bill months, taken from one grouped
pass over the bill items (one column per distinct basis among the policies of the run) joined to
the per-line relation on ``line_id``. The SQL is the same for DuckDB and Spark.

Before anything is computed, every line a policy could credit (an affected line of a service it
covers) must have a bill in each of the basis's months — unless the policy says
``without_bill: roster_fee`` — and no basis may be negative. The incident's own policy is refused
otherwise (the message names the months, how many lines and which); a what-if policy is left out of
the comparison with the reason.
"""

from __future__ import annotations

from dataclasses import dataclass

import duckdb

from kt_analysis.dbrow import one_row, quote
from kt_analysis.errors import InputError
from kt_analysis.inputs.policy import FeeBasis, Policy

EXAMPLES = 5


def bases(policies: list[Policy]) -> list[FeeBasis]:
    """The distinct bill-based fee bases of ``policies`` (resolved to fixed months), in a stable order."""
    seen: dict[str, FeeBasis] = {}
    for p in policies:
        b = p.fee_basis
        if not b.roster:
            if b.months_before:
                raise ValueError(f"policy {p.id}: resolve its fee basis for the incident first")
            seen.setdefault(b.column, b)
    return [seen[c] for c in sorted(seen)]


def _in(values: tuple[str, ...]) -> str:
    return ", ".join(quote(v) for v in values)


def fees_sql(found: list[FeeBasis], items: str) -> str:
    """Per line with bill items in any of the months: each basis's sum and the months it has."""
    months = sorted({m for b in found for m in b.months})
    cols = []
    for b in found:
        cols.append(f"CAST(SUM(CASE WHEN bill_month IN ({_in(b.months)}) AND item IN ({_in(b.items)}) "
                    f"THEN amount_krw ELSE 0 END) AS BIGINT) AS {b.column}_sum")
        # the months of the basis the line has a bill in (a sum of flags: no DISTINCT, 2x faster)
        cols.append(" + ".join(f"CAST(bool_or(bill_month = {quote(m)}) AS INTEGER)" for m in b.months)
                    + f" AS {b.column}_months")
    return (f"(SELECT line_id, {', '.join(cols)} FROM {items} WHERE bill_month IN ({_in(tuple(months))}) "
            f"GROUP BY line_id)")


def with_fees(lines: str, found: list[FeeBasis], fees: str) -> str:
    """``lines`` (the per-line relation) with one column per basis: the items' sum over its months
    when the line has a bill in each of them; else the roster fee times the months
    (``without_bill: roster_fee``) or NULL (refused before use, see :func:`check`)."""
    exprs = []
    for b in found:
        have = f"f.{b.column}_months = {b.n_months}"
        other = f"r.monthly_fee_krw * {b.n_months}" if b.without_bill == "roster_fee" else "NULL"
        exprs.append(f"CASE WHEN {have} THEN f.{b.column}_sum ELSE {other} END AS {b.column}")
    return (f"(SELECT r.*, {', '.join(exprs)} FROM {lines} AS r LEFT JOIN {fees} AS f "
            f"ON r.line_id = f.line_id)")


@dataclass(frozen=True)
class Skipped:
    """A what-if policy left out of the comparison, and why."""

    policy_id: str
    title: str
    reason: str


def check(con: duckdb.DuckDBPyConnection, lines: str, policies: list[Policy], items_path: str | None,
          own: Policy) -> list[Skipped]:
    """Refuse the incident's own policy, or leave out a what-if policy, whose fee basis some line it
    could credit lacks (no bill in one of the months) or is negative. ``lines`` is the per-line
    relation with the fee columns (:func:`with_fees`); ``items_path`` None: no bill items given."""
    skipped: list[Skipped] = []
    on_bills = [p for p in policies if not p.fee_basis.roster]
    counts: dict[str, tuple[int, int]] = {}
    if items_path is not None and on_bills:
        # one pass over the lines for every policy (each pass joins the lines to their fees)
        row = one_row(con.execute("SELECT " + ", ".join(
            f"count(*) FILTER (WHERE service IN ({_in(p.services)}) AND {p.fee_basis.column} IS NULL), "
            f"count(*) FILTER (WHERE service IN ({_in(p.services)}) AND {p.fee_basis.column} < 0)"
            for p in on_bills) + f" FROM {lines}"))
        counts = {p.id: (int(row[2 * i]), int(row[2 * i + 1])) for i, p in enumerate(on_bills)}
    for p in on_bills:
        b = p.fee_basis
        if items_path is None:
            reason = f"계산 기준이 청구 내역({b.describe()})인데 사고에 청구 항목 파일이 없습니다"
            if p is own:
                raise AssertionError("the incident's loader refuses a bills-based policy without bill items")
            skipped.append(Skipped(p.id, p.title, reason))
            continue
        scope = f"service IN ({_in(p.services)})"
        missing, negative = counts[p.id]
        if not missing and not negative:
            continue
        examples = [str(r[0]) for r in con.execute(
            f"SELECT line_id FROM {lines} WHERE {scope} AND ({b.column} IS NULL OR {b.column} < 0) "
            f"ORDER BY line_id LIMIT {EXAMPLES}").fetchall()]
        if missing:
            problem = (f"{missing:,} affected line(s) of the services it covers have no bill in "
                       f"{', '.join(b.months)} (e.g. line_id {', '.join(examples)})")
            fix = ("add those lines' bill items for every month of the basis, or let the policy fall back to "
                   "the roster's fee for them: fee_basis.without_bill: roster_fee")
            reason = f"{missing:,}개 회선에 {', '.join(b.months)} 청구 내역이 없습니다"
        else:
            problem = (f"{negative:,} affected line(s) have a negative fee basis (discounts larger than the items "
                       f"counted; e.g. line_id {', '.join(examples)})")
            fix = "count the plan fee as well as the discounts (fee_basis.include / exclude)"
            reason = f"{negative:,}개 회선의 기준 요금이 음수입니다"
        if p is own:
            raise InputError(items_path, "fee_basis", f"policy {p.id} computes credits on the bills, and {problem}",
                             fix)
        skipped.append(Skipped(p.id, p.title, reason))
    return skipped


__all__ = ["Skipped", "bases", "check", "fees_sql", "with_fees"]
