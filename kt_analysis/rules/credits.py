"""What is owed: each line's credit under a policy, as one DuckDB expression.

The rules are written once, here, as SQL over the per-line columns (``monthly_fee_krw``,
``outage_minutes``, ``longest_continuous_minutes``, ``monthly_cumulative_minutes``,
``outage_days``, ``days_in_month``, ``service``, ``customer_type``, ``region``). Every step is
integer arithmetic on BIGINT: a credit is one exact fraction

    fee × (billable minutes + days × 1440 + months × M) + fixed won × M
    ───────────────────────────────────────────────────────────────────   with M = minutes in a month
                                    M

rounded once, as the policy names. (The float form ``floor(fee / 720 * h * 10)`` is off by one
won on about one eligible line in two thousand.)
"""

from __future__ import annotations

from dataclasses import dataclass

from kt_analysis.inputs.policy import CreditRule, Eligibility, Policy, When


def _in(column: str, values: tuple[str, ...]) -> str:
    quoted = ", ".join("'" + v.replace("'", "''") + "'" for v in values)
    return f"{column} IN ({quoted})"


# Integer division in each engine's SQL; the rules are otherwise the same text. Both truncate, and
# every operand here is non-negative, so truncation is the floor the rules ask for.
DIALECTS = {"duckdb": "//", "spark": "DIV"}


def _div(dialect: str) -> str:
    try:
        return DIALECTS[dialect]
    except KeyError:
        raise ValueError(f"unknown SQL dialect {dialect!r}; use one of {', '.join(DIALECTS)}") from None


def round_minutes_sql(expr: str, unit: int, mode: str, dialect: str = "duckdb") -> str:
    div = _div(dialect)
    if unit == 1:
        return expr
    if mode == "up":
        return f"((({expr}) + {unit - 1}) {div} {unit}) * {unit}"
    if mode == "down":
        return f"(({expr}) {div} {unit}) * {unit}"
    return f"((2 * ({expr}) + {unit}) {div} {2 * unit}) * {unit}"  # half_up


def round_div_sql(numerator: str, denominator: str, unit: int, mode: str, dialect: str = "duckdb") -> str:
    """``numerator / denominator`` rounded to ``unit`` won; both sides non-negative BIGINT."""
    div = _div(dialect)
    den = f"(({denominator}) * {unit})" if unit != 1 else f"({denominator})"
    if mode == "floor":
        q = f"({numerator}) {div} {den}"
    elif mode == "ceil":
        q = f"(({numerator}) + {den} - 1) {div} {den}"
    else:  # half_up
        q = f"(2 * ({numerator}) + {den}) {div} (2 * {den})"
    return f"({q}) * {unit}" if unit != 1 else f"({q})"


def month_minutes_sql(policy: Policy) -> str:
    if policy.hours_per_month == "days_in_month":
        return "(days_in_month * 1440)"
    return f"CAST({int(policy.hours_per_month) * 60} AS BIGINT)"


def numerator_sql(rule: CreditRule, month_minutes: str, dialect: str = "duckdb") -> str:
    """The rule's credit times M (minutes in a month), exact, as BIGINT."""
    fee_minutes = []
    if rule.outage_multiplier:
        bt = rule.billable_time
        if bt.applies_to == "outage":
            fee_minutes.append(
                f"{round_minutes_sql('outage_minutes', bt.unit_minutes, bt.mode, dialect)} * {rule.outage_multiplier}"
            )
        else:
            fee_minutes.append(
                round_minutes_sql(f"outage_minutes * {rule.outage_multiplier}", bt.unit_minutes, bt.mode, dialect)
            )
    if rule.days_of_fee:
        fee_minutes.append(f"CAST({rule.days_of_fee * 1440} AS BIGINT)")
    if rule.months_of_fee:
        fee_minutes.append(f"{rule.months_of_fee} * {month_minutes}")
    parts = []
    if fee_minutes:
        parts.append(f"monthly_fee_krw * ({' + '.join(fee_minutes)})")
    if rule.tiers_by_outage_days:
        cases = " ".join(
            f"WHEN outage_days >= {t.from_days} THEN CAST({t.krw} AS BIGINT)"
            for t in sorted(rule.tiers_by_outage_days, key=lambda t: -t.from_days)
        )
        parts.append(f"(CASE {cases} ELSE 0 END) * {month_minutes}")
    return " + ".join(parts) if parts else "0"


def eligible_sql(elig: Eligibility) -> str:
    if elig.everyone:
        return "TRUE"
    conds = []
    if elig.min_continuous_minutes is not None:
        conds.append(f"longest_continuous_minutes >= {elig.min_continuous_minutes}")
    if elig.min_monthly_cumulative_minutes is not None:
        op = ">" if elig.monthly_cumulative_exceeds else ">="
        conds.append(f"monthly_cumulative_minutes {op} {elig.min_monthly_cumulative_minutes}")
    return "(" + " OR ".join(conds) + ")"


def reason_sql(elig: Eligibility) -> str:
    if elig.everyone:
        return "'all_affected'"
    whens = []
    if elig.min_continuous_minutes is not None:
        whens.append(f"WHEN longest_continuous_minutes >= {elig.min_continuous_minutes} THEN 'continuous'")
    if elig.min_monthly_cumulative_minutes is not None:
        op = ">" if elig.monthly_cumulative_exceeds else ">="
        whens.append(
            f"WHEN monthly_cumulative_minutes {op} {elig.min_monthly_cumulative_minutes} "
            "THEN 'monthly_cumulative'"
        )
    return f"(CASE {' '.join(whens)} ELSE 'below_threshold' END)"


def when_sql(when: When) -> str:
    conds = []
    if when.customer_types:
        conds.append(_in("customer_type", when.customer_types))
    if when.services:
        conds.append(_in("service", when.services))
    if when.regions:
        conds.append(_in("region", when.region_values or when.regions))
    return "(" + " AND ".join(conds) + ")"


# Every value the reason expression can give (reason_sql and compile_policy below).
REASONS = ("service_not_covered", "all_affected", "continuous", "monthly_cumulative", "below_threshold")


@dataclass(frozen=True)
class PolicySQL:
    """The policy as four per-line SQL expressions, and every value ``reason`` and ``rule`` can take
    (an engine may store them as a dictionary of those values)."""

    eligible: str
    reason: str
    rule: str
    credit_krw: str
    rules: tuple[str, ...] = ()
    reasons: tuple[str, ...] = REASONS


def compile_policy(policy: Policy, dialect: str = "duckdb") -> PolicySQL:
    """Compile a policy to per-line SQL expressions (BIGINT credit, BOOLEAN eligibility).

    ``dialect`` is the engine that runs them: ``duckdb`` (the default) or ``spark``."""
    m = month_minutes_sql(policy)
    covered = _in("service", policy.services)
    r = policy.rounding

    def credit(num: str) -> str:
        return round_div_sql(num, m, r.unit_krw, r.mode, dialect)

    base_elig = eligible_sql(policy.eligibility)
    base_num = numerator_sql(policy.credit, m, dialect)
    eligible_cases, reason_cases, rule_cases, credit_cases = [], [], [], []
    for i, o in enumerate(policy.overrides, start=1):
        cond = when_sql(o.when)
        elig = o.eligibility if o.eligibility is not None else policy.eligibility
        o_elig = eligible_sql(elig)
        o_num = numerator_sql(o.credit, m, dialect)
        if o.combine == "add":
            either = f"({base_elig} OR {o_elig})"
            num = (f"(CASE WHEN {base_elig} THEN {base_num} ELSE 0 END) + "
                   f"(CASE WHEN {o_elig} THEN {o_num} ELSE 0 END)")
            eligible_cases.append(f"WHEN {cond} THEN {either}")
            reason_cases.append(
                f"WHEN {cond} THEN (CASE WHEN {base_elig} THEN {reason_sql(policy.eligibility)} "
                f"ELSE {reason_sql(elig)} END)"
            )
            credit_cases.append(f"WHEN {cond} THEN {credit(num)}")
        else:
            eligible_cases.append(f"WHEN {cond} THEN {o_elig}")
            reason_cases.append(f"WHEN {cond} THEN {reason_sql(elig)}")
            credit_cases.append(f"WHEN {cond} THEN (CASE WHEN {o_elig} THEN {credit(o_num)} ELSE 0 END)")
        rule_cases.append(f"WHEN {cond} THEN 'override {i}'")
    not_covered = f"WHEN NOT {covered} THEN"
    return PolicySQL(
        eligible=f"(CASE {not_covered} FALSE {' '.join(eligible_cases)} ELSE {base_elig} END)",
        reason=(f"(CASE {not_covered} 'service_not_covered' {' '.join(reason_cases)} "
                f"ELSE {reason_sql(policy.eligibility)} END)"),
        rule=f"(CASE {not_covered} 'not_covered' {' '.join(rule_cases)} ELSE 'base' END)",
        credit_krw=(f"CAST((CASE {not_covered} 0 {' '.join(credit_cases)} "
                    f"ELSE (CASE WHEN {base_elig} THEN {credit(base_num)} ELSE 0 END) END) AS BIGINT)"),
        rules=("not_covered", "base", *(f"override {i}" for i in range(1, len(policy.overrides) + 1))),
    )
