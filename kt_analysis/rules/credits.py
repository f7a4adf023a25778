"""What is owed: each line's credit under a policy, as SQL expression trees (SQLGlot).

The rules are written once, here, as expressions over the per-line columns (``monthly_fee_krw``,
``outage_minutes``, ``longest_continuous_minutes``, ``monthly_cumulative_minutes``,
``outage_days``, ``days_in_month``, ``service``, ``customer_type``, ``region``, and ``plan`` for a
policy that excludes plans). Every step is integer arithmetic on BIGINT: a credit is one exact fraction

    fee × (billable minutes + days × 1440 + months × M) + fixed won × M
    ───────────────────────────────────────────────────────────────────   with M = minutes in a month
                                    M

rounded once, as the policy names. (The float form ``floor(fee / 720 * h * 10)`` is off by one
won on about one eligible line in two thousand.) Each engine renders the trees in its dialect
(:func:`kt_analysis.engine.dialect.render_policy`).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from sqlglot import exp

from kt_analysis.inputs.policy import CreditRule, Eligibility, Policy, When
from kt_analysis.rules.sqlexpr import (
    above,
    all_of,
    any_of,
    as_bigint,
    at_least,
    bigint,
    case,
    col,
    false,
    int_div,
    isin,
    minus,
    negate,
    number,
    plus,
    text,
    times,
    true,
)


def round_minutes(e: exp.Expression, unit: int, mode: str) -> exp.Expression:
    """Minutes rounded to ``unit`` (up, down or half up), in integer arithmetic."""
    if unit == 1:
        return e
    if mode == "up":
        return times(int_div(plus(e, number(unit - 1)), number(unit)), number(unit))
    if mode == "down":
        return times(int_div(e, number(unit)), number(unit))
    return times(int_div(plus(times(number(2), e), number(unit)), number(2 * unit)), number(unit))  # half_up


def round_div(numerator: exp.Expression, denominator: exp.Expression, unit: int, mode: str) -> exp.Expression:
    """``numerator / denominator`` rounded to ``unit`` won; both sides non-negative BIGINT."""
    den = times(denominator, number(unit)) if unit != 1 else denominator
    if mode == "floor":
        q = int_div(numerator, den)
    elif mode == "ceil":
        q = int_div(minus(plus(numerator, den), number(1)), den)
    else:  # half_up
        q = int_div(plus(times(number(2), numerator), den), times(number(2), den))
    return times(q, number(unit)) if unit != 1 else q


def month_minutes(policy: Policy) -> exp.Expression:
    if policy.hours_per_month == "days_in_month":
        return times(col("days_in_month"), number(1440))
    return bigint(int(policy.hours_per_month) * 60)


def numerator(rule: CreditRule, month: exp.Expression, fee: str = "monthly_fee_krw",
              months: int = 1, outage: exp.Expression | None = None, days: str = "outage_days") -> exp.Expression:
    """The rule's credit times M (minutes in a month) times ``months``, exact, as BIGINT.

    ``fee`` is the column holding the line's fee basis: its sum over ``months`` bill months (one
    month: the fee itself), so that an average is divided once, with the credit's rounding.
    ``outage``: the minutes paid for (default ``outage_minutes``; across the month, with the earlier
    incidents' minutes this credit takes in, :func:`paid_minutes`). ``days``: the column the tiers
    by days count (default ``outage_days``)."""
    fee_minutes: list[exp.Expression] = []
    if rule.outage_multiplier:
        bt = rule.billable_time
        minutes = outage if outage is not None else col("outage_minutes")
        if bt.applies_to == "outage":
            fee_minutes.append(times(round_minutes(minutes, bt.unit_minutes, bt.mode), number(rule.outage_multiplier)))
        else:
            fee_minutes.append(round_minutes(times(minutes, number(rule.outage_multiplier)), bt.unit_minutes,
                                             bt.mode))
    if rule.days_of_fee:
        fee_minutes.append(bigint(rule.days_of_fee * 1440))
    if rule.months_of_fee:
        fee_minutes.append(times(number(rule.months_of_fee), month))
    parts: list[exp.Expression] = []
    if fee_minutes:
        parts.append(times(col(fee), plus(*fee_minutes)))
    if rule.tiers_by_outage_days:
        tiers = case(((at_least(days, t.from_days), bigint(t.krw))
                      for t in sorted(rule.tiers_by_outage_days, key=lambda t: -t.from_days)), number(0))
        parts.append(times(tiers, month) if months == 1 else times(tiers, month, number(months)))
    return plus(*parts) if parts else number(0)


# Across the month (`monthly_scope: calendar_month`) the per-line relation carries, besides this
# incident's own `monthly_cumulative_minutes`, the line's largest month total with the minutes of
# earlier published incidents of the same month, and per monthly threshold the earlier minutes no
# incident has credited yet in the months whose total passes it (engine/month.py computes both).
MONTH_TOTAL = "month_total_minutes"


def across_month(elig: Eligibility) -> bool:
    """The eligibility counts its monthly threshold across the calendar month."""
    return elig.monthly_scope == "calendar_month" and elig.min_monthly_cumulative_minutes is not None


def carried_column(minutes: int, exceeds: bool) -> str:
    """The per-line column of the earlier, not yet credited minutes in months whose total passes
    the threshold (``> minutes`` when ``exceeds``, else ``>= minutes``)."""
    return f"carried_minutes_{'gt' if exceeds else 'ge'}{int(minutes)}"


def carried_of(elig: Eligibility) -> str:
    assert elig.min_monthly_cumulative_minutes is not None
    return carried_column(elig.min_monthly_cumulative_minutes, elig.monthly_cumulative_exceeds)


def paid_minutes(elig: Eligibility) -> exp.Expression:
    """The minutes a credit under ``elig`` pays for: this incident's, plus across the month the
    earlier incidents' minutes not credited yet, when the month's total passes the threshold."""
    if across_month(elig):
        return plus(col("outage_minutes"), col(carried_of(elig)))
    return col("outage_minutes")


def _monthly(elig: Eligibility) -> str:
    return MONTH_TOTAL if elig.monthly_scope == "calendar_month" else "monthly_cumulative_minutes"


def eligible(elig: Eligibility) -> exp.Expression:
    if elig.everyone or elig.on_claim_now:
        return true()
    conds = []
    if elig.min_continuous_minutes is not None:
        conds.append(at_least("longest_continuous_minutes", elig.min_continuous_minutes))
    if elig.min_monthly_cumulative_minutes is not None:
        threshold = above if elig.monthly_cumulative_exceeds else at_least
        conds.append(threshold(_monthly(elig), elig.min_monthly_cumulative_minutes))
    return any_of(*conds)


def reason(elig: Eligibility) -> exp.Expression:
    if elig.everyone:
        return text("all_affected")
    whens = []
    if elig.min_continuous_minutes is not None:
        whens.append((at_least("longest_continuous_minutes", elig.min_continuous_minutes), text("continuous")))
    if elig.min_monthly_cumulative_minutes is not None:
        threshold = above if elig.monthly_cumulative_exceeds else at_least
        whens.append((threshold(_monthly(elig), elig.min_monthly_cumulative_minutes),
                      text("monthly_cumulative")))
    return case(whens, text("on_claim" if elig.on_claim_now else "below_threshold"))


def when_matches(when: When) -> exp.Expression:
    conds = []
    if when.customer_types:
        conds.append(isin("customer_type", when.customer_types))
    if when.services:
        conds.append(isin("service", when.services))
    if when.regions:
        conds.append(isin("region", when.region_values or when.regions))
    return all_of(*conds)


# Every value the reason expression can give (reason() and compile_policy below). ``plan_not_covered``
# only with a policy that excludes plans (PolicyRules.reasons): the others' ledgers keep their bytes.
REASONS = ("service_not_covered", "all_affected", "continuous", "monthly_cumulative", "below_threshold", "on_claim")
PLAN_NOT_COVERED = "plan_not_covered"


def excluded_plan(policy: Policy) -> exp.Expression | None:
    """The line's plan is one the policy excludes (its roster spellings once a roster is read), or
    None: the policy excludes no plan. A line without a plan (NULL) is not excluded."""
    if not policy.exclude_plans:
        return None
    values = policy.plan_values if policy.plan_values is not None else policy.exclude_plans
    return isin("plan", values) if values else false()


@dataclass(frozen=True)
class PolicyRules:
    """The policy as four per-line expression trees (engine-neutral)."""

    eligible: exp.Expression
    reason: exp.Expression
    rule: exp.Expression
    credit_krw: exp.Expression
    rules: tuple[str, ...]  # every value ``rule`` can take
    reasons: tuple[str, ...] = REASONS  # every value ``reason`` can take
    # Across the month: the earlier incidents' minutes this line's credit takes in (BIGINT; 0 for a
    # policy that counts within the incident).
    carried: exp.Expression = field(default_factory=lambda: number(0))

    def with_credit(self, credit_krw: exp.Expression) -> PolicyRules:
        return replace(self, credit_krw=credit_krw)


def compile_policy(policy: Policy, claimed_days: str | None = None) -> PolicyRules:
    """Compile a policy to per-line expression trees (BIGINT credit, BOOLEAN eligibility).

    ``claimed_days``: a per-line column of the days a claim names, read by the tiers of the
    overrides that count the days claimed (``days_from: claim``) instead of ``outage_days`` (the
    claims chapter prices a reclassification with it, :mod:`kt_analysis.engine.claims`); None (the
    ledger): every tier counts ``outage_days``."""
    m = month_minutes(policy)
    covered = isin("service", policy.services)
    r = policy.rounding
    basis = policy.fee_basis
    if basis.months_before:
        raise ValueError(f"policy {policy.id}: its fee basis is relative to the incident; resolve it first "
                         "(kt_analysis.inputs.policy.for_incident)")
    fee, n = basis.column, basis.n_months
    divisor = m if n == 1 else times(m, number(n))

    def credit(num: exp.Expression) -> exp.Expression:
        return round_div(num, divisor, r.unit_krw, r.mode)

    base_elig = eligible(policy.eligibility)
    base_num = numerator(policy.credit, m, fee, n, paid_minutes(policy.eligibility))
    base_carry = _carry(policy.eligibility, eligible(_strict(policy.eligibility)))
    eligible_cases, reason_cases, rule_cases, credit_cases, carried_cases = [], [], [], [], []
    for i, o in enumerate(policy.overrides, start=1):
        cond = when_matches(o.when)
        elig = o.eligibility if o.eligibility is not None else policy.eligibility
        o_elig = eligible(elig)
        days = claimed_days if claimed_days is not None and o.credit.days_from == "claim" else "outage_days"
        o_num = numerator(o.credit, m, fee, n, paid_minutes(elig), days)
        o_carry = _carry(elig, eligible(_strict(elig)))
        if o.combine == "add":
            num = plus(case([(base_elig, base_num)], number(0)), case([(o_elig, o_num)], number(0)))
            eligible_cases.append((cond, any_of(base_elig, o_elig)))
            reason_cases.append((cond, case([(base_elig, reason(policy.eligibility))], reason(elig))))
            credit_cases.append((cond, credit(num)))
            carried_cases.append((cond, _carried(base_carry, o_carry)))
        else:
            eligible_cases.append((cond, o_elig))
            reason_cases.append((cond, reason(elig)))
            credit_cases.append((cond, case([(o_elig, credit(o_num))], number(0))))
            carried_cases.append((cond, _carried(o_carry)))
        rule_cases.append((cond, text(f"override {i}")))
    # Not covered: a service the policy does not cover, then a plan it excludes (before any override:
    # an excluded line gets nothing whatever override would match it).
    not_covered = negate(covered)
    plan_out = excluded_plan(policy)
    outs = [(not_covered, "service_not_covered")] + ([(plan_out, PLAN_NOT_COVERED)] if plan_out is not None else [])
    carried: exp.Expression = number(0)
    if across_month(policy.eligibility):
        carried = as_bigint(case([*((c, number(0)) for c, _ in outs), *carried_cases],
                                 _carried(base_carry)))
    return PolicyRules(
        eligible=case([*((c, false()) for c, _ in outs), *eligible_cases], base_elig),
        reason=case([*((c, text(why)) for c, why in outs), *reason_cases], reason(policy.eligibility)),
        rule=case([*((c, text("not_covered")) for c, _ in outs), *rule_cases], text("base")),
        credit_krw=as_bigint(case([*((c, number(0)) for c, _ in outs), *credit_cases],
                                  case([(base_elig, credit(base_num))], number(0)))),
        rules=("not_covered", "base", *(f"override {i}" for i in range(1, len(policy.overrides) + 1))),
        reasons=REASONS if plan_out is None else (REASONS[0], PLAN_NOT_COVERED, *REASONS[1:]),
        carried=carried,
    )


def _strict(elig: Eligibility) -> Eligibility:
    """``elig`` by its thresholds alone: a line paid below them on claim takes in no earlier minutes."""
    return replace(elig, on_claim_now=False)


def _carry(elig: Eligibility, cond: exp.Expression) -> tuple[exp.Expression, exp.Expression] | None:
    """(when the credit under ``elig`` is paid, the earlier minutes it takes in), or None when it takes
    in none (it counts within the incident, or has no monthly threshold)."""
    return (cond, col(carried_of(elig))) if across_month(elig) else None


def _carried(*carries: tuple[exp.Expression, exp.Expression] | None) -> exp.Expression:
    """The minutes taken in: the first of ``carries`` whose credit is paid, else 0."""
    whens = [c for c in carries if c is not None]
    return case(whens, number(0)) if whens else number(0)


def carrying_rules(policy: Policy) -> tuple[str, ...]:
    """The values of the ledger's ``rule`` whose credit takes in earlier minutes when it is paid
    (the base rule, or an override, whose eligibility counts a monthly threshold across the month)."""
    out = ["base"] if across_month(policy.eligibility) else []
    for i, o in enumerate(policy.overrides, start=1):
        elig = o.eligibility if o.eligibility is not None else policy.eligibility
        if across_month(elig) or (o.combine == "add" and across_month(policy.eligibility)):
            out.append(f"override {i}")
    return tuple(out)


def incident_scope(policy: Policy) -> Policy:
    """``policy`` counting its monthly threshold within the incident only: what a line would be owed
    on this incident alone (the lines an earlier incident pushed over the threshold differ)."""
    def scoped(e: Eligibility) -> Eligibility:
        return replace(e, monthly_scope="incident")
    overrides = tuple(replace(o, eligibility=scoped(o.eligibility)) if o.eligibility is not None else o
                      for o in policy.overrides)
    return replace(policy, eligibility=scoped(policy.eligibility), overrides=overrides)


def month_thresholds(policies: list[Policy]) -> list[tuple[int, bool]]:
    """The distinct monthly thresholds (minutes, exceeds) that ``policies`` count across the month, in a
    stable order: one carried-minutes column each (:func:`carried_column`)."""
    found = set()
    for p in policies:
        for e in (p.eligibility, *(o.eligibility for o in p.overrides if o.eligibility is not None)):
            if across_month(e):
                assert e.min_monthly_cumulative_minutes is not None
                found.add((e.min_monthly_cumulative_minutes, e.monthly_cumulative_exceeds))
    return sorted(found)
