"""Claims against an outage, joined to what the run decided: each claim with its line's roster
attributes and ledger row, what the line is owed on application, and the figures of the claims
chapter (decided and paid per day, backlog, forecasts).

Runs on DuckDB over the ledger file and the roster, whichever engine wrote the ledger (the claims
are thousands of rows; the ledger is read for the claimed lines only). The decisions, the queue and
the forecasts are :mod:`kt_analysis.rules.claims`'.

What a line is owed on application:

* ``credit``: the ledger's ``credit_krw`` (its entitlement under the policy);
* ``consolation``: the fixed amount of the override marked ``paid_on_claim`` that decided the
  line's rule (the ledger's ``rule`` is that override), by the line's outage days — and only when
  the line is eligible; under an override with ``days_from: claim`` (the Ahyeon merchants'
  consolation money), by the days each claim names (``days_claimed``), accepted at most at the
  incident's span in days, and by the line's outage days when the claim names none
  (:func:`kt_analysis.rules.claims.claimed_tiers`). What is owed before claims arrive (the
  entitlement, the forecasts) counts the outage days: the claims' days are not known yet;
* ``reclassification`` (an individual line asking to count as a small merchant): the credit the
  policy gives the same line as a ``small_business`` one, computed by the policy's own expression
  on the line's ledger minutes, roster attributes and fee basis (with the ``paid_on_claim``
  amounts a merchant would get: under ``days_from: claim``, that override's tier by the days the
  claim names, checked as a consolation claim's, or by the line's outage days when it names none).

A ``credit`` claim under a policy that credits without application is ``already_paid``: it is not
paid a second time.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

import duckdb
import pandas as pd

from kt_analysis.dbrow import quote
from kt_analysis.engine.dialect import render_policy
from kt_analysis.engine.fees import bases, fees_sql, with_fees
from kt_analysis.inputs.claims import ClaimRules, Claims
from kt_analysis.inputs.policy import Override, Policy
from kt_analysis.rules.claims import (
    SCENARIOS,
    checked_days,
    claimed_tiers,
    claims_by_day,
    forecast_uptake,
    settle_claims,
)
from kt_analysis.rules.credits import compile_policy, incident_scope


@dataclass(frozen=True)
class OnClaim:
    """What ``policy`` pays only on application: the kind of claim, the lines entitled (eligible
    lines whose amount is above 0) and their amounts in all (if every one of them applied)."""

    kind: str  # "credit" (the policy's whole credit) or "consolation" (paid_on_claim overrides)
    lines: int
    krw: int


def claim_overrides(policy: Policy) -> list[tuple[int, Override]]:
    """The overrides paid only on application, with their 1-based number (the ledger's ``rule``)."""
    return [(i, o) for i, o in enumerate(policy.overrides, start=1) if o.paid_on_claim]


def _tier_sql(o: Override, days: str) -> str:
    """The override's fixed amount for ``days`` outage days (0 below the first tier)."""
    tiers = sorted(o.credit.tiers_by_outage_days, key=lambda t: t.from_days, reverse=True)
    whens = " ".join(f"WHEN {days} >= {int(t.from_days)} THEN {int(t.krw)}" for t in tiers)
    return f"CAST(CASE {whens} ELSE 0 END AS BIGINT)"


def consolation_sql(policy: Policy, ledger: str) -> str:
    """Per ledger line: ``consolation_krw``, the paid_on_claim amount it is entitled to (0 if none)."""
    parts = [f"WHEN l.rule = {quote(f'override {i}')} AND l.eligible THEN {_tier_sql(o, 'l.outage_days')}"
             for i, o in claim_overrides(policy)]
    amount = f"CASE {' '.join(parts)} ELSE 0 END" if parts else "0"
    return f"(SELECT l.line_id, CAST({amount} AS BIGINT) AS consolation_krw FROM {ledger} AS l)"


def on_claim(con: duckdb.DuckDBPyConnection, policy: Policy, ledger: str) -> OnClaim | None:
    """What ``policy`` pays only on application over the whole ledger, or None when it pays
    everything without one."""
    if policy.delivery.claim_required:
        row = con.execute(f"SELECT count(*) FILTER (WHERE eligible AND credit_krw > 0), "
                          f"CAST(coalesce(sum(credit_krw), 0) AS BIGINT) FROM {ledger}").fetchall()[0]
        return OnClaim("credit", int(row[0]), int(row[1]))
    on_claim_lines = con.execute(f"SELECT count(*), CAST(coalesce(sum(credit_krw), 0) AS BIGINT) FROM {ledger} "
                                 "WHERE eligibility_reason = 'on_claim' AND credit_krw > 0").fetchall()[0]
    if on_claim_lines[0]:
        return OnClaim("credit", int(on_claim_lines[0]), int(on_claim_lines[1]))
    if claim_overrides(policy):
        row = con.execute(f"SELECT count(*) FILTER (WHERE consolation_krw > 0), "
                          f"CAST(coalesce(sum(consolation_krw), 0) AS BIGINT) "
                          f"FROM {consolation_sql(policy, ledger)}").fetchall()[0]
        return OnClaim("consolation", int(row[0]), int(row[1]))
    return None


def reclassified_sql(policy: Policy, ledger: str, roster: str, items: str | None, asks: str) -> str:
    """Per claim in ``asks`` (a relation of ``claim_id``, ``line_id`` and ``claimed_days``, BIGINT,
    null: none): ``reclassified_krw``, the credit the policy gives the claim's ledger line as a
    ``small_business`` line (paid_on_claim amounts included: a merchant recognised on its
    application is paid its consolation with the difference), and ``reclassified_rule``, the rule
    that decides it so. The tiers of an override that counts the days claimed (``days_from: claim``)
    count ``claimed_days``, the line's ``outage_days`` when it is null; every other part of the
    policy counts the line's own figures."""
    scoped = incident_scope(policy)
    sql = render_policy(compile_policy(scoped, claimed_days="claimed_days"), "duckdb")
    lines = (f"(SELECT c.claim_id, l.line_id, l.outage_minutes::BIGINT AS outage_minutes, "
             f"l.longest_continuous_minutes::BIGINT AS longest_continuous_minutes, "
             f"l.monthly_cumulative_minutes::BIGINT AS monthly_cumulative_minutes, "
             f"l.outage_days::BIGINT AS outage_days, "
             f"coalesce(c.claimed_days::BIGINT, l.outage_days::BIGINT) AS claimed_days, "
             f"CAST(day(last_day(l.outage_start)) AS BIGINT) AS days_in_month, "
             f"r.service, 'small_business' AS customer_type, r.region, r.facility_id, "
             f"{'r.plan, ' if scoped.exclude_plans else ''}r.monthly_fee_krw::BIGINT AS monthly_fee_krw "
             f"FROM {asks} AS c JOIN {ledger} AS l ON c.line_id = l.line_id "
             f"JOIN {roster} AS r ON l.line_id = r.line_id)")
    found = bases([scoped])
    if found:
        if items is None:
            raise ValueError(f"policy {policy.id} computes on bills: the incident's bill items are needed")
        lines = with_fees(lines, found, fees_sql(found, items))
    return (f"(SELECT claim_id, CAST({sql.credit_krw} AS BIGINT) AS reclassified_krw, "
            f"{sql.rule} AS reclassified_rule FROM {lines})")


def _reclassified(con: duckdb.DuckDBPyConnection, joined: pd.DataFrame, policy: Policy, ledger: str, roster: str,
                  items: str | None, by_claim: dict[str, Any], span_days: int | None) -> pd.DataFrame:
    """The claims with ``reclassified_krw`` (:func:`reclassified_sql`) for each reclassification on
    an affected line. Under an override whose tiers count the days claimed (``by_claim``, keyed by
    rule), the days are :func:`~kt_analysis.rules.claims.checked_days`' (``days_claimed`` at most
    ``span_days``, the line's ``outage_days`` when none), as a consolation claim's, and when that
    override decides the line as a small business, ``consolation_note`` says which days counted."""
    asks = joined.loc[(joined["kind"] == "reclassification") & joined["affected"].fillna(False).astype(bool)]
    claimed = asks["days_claimed"] if "days_claimed" in asks.columns else pd.Series(pd.NA, index=asks.index)
    days: list[int | None] = []
    notes: list[str | None] = []
    for outage, asked in zip(asks["outage_days"], claimed, strict=True):
        outage = None if pd.isna(outage) else int(outage)
        if by_claim:
            chosen, why = checked_days(None if pd.isna(asked) else int(asked), outage, span_days)
        else:
            chosen, why = outage, None
        days.append(chosen)
        notes.append(why)
    frame = pd.DataFrame({"claim_id": asks["claim_id"].astype(str).to_numpy(dtype=object),
                          "line_id": asks["line_id"].astype("int64").to_numpy(),
                          "claimed_days": pd.array(days, dtype="Int64")})
    con.register("reclassification_asks", frame)
    try:
        priced = con.execute(f"SELECT * FROM {reclassified_sql(policy, ledger, roster, items, 'reclassification_asks')}"
                             ).df()
    finally:
        con.unregister("reclassification_asks")
    priced = priced.merge(pd.DataFrame({"claim_id": frame["claim_id"], "note": pd.Series(notes, dtype=object)}),
                          on="claim_id", how="left", validate="one_to_one")
    out = joined.merge(priced, on="claim_id", how="left", validate="one_to_one")
    out["reclassified_krw"] = out["reclassified_krw"].astype("Int64")
    if "consolation_note" not in out.columns:
        out["consolation_note"] = pd.Series([None] * len(out), dtype=object)
    decided_by_claim = out["reclassified_rule"].isin(list(by_claim)) & out["note"].notna()
    out["consolation_note"] = out["consolation_note"].astype(object).where(~decided_by_claim, out["note"])
    return out.drop(columns=["note", "reclassified_rule"])


def claim_lines(con: duckdb.DuckDBPyConnection, claims: Claims, policy: Policy, ledger: str, roster: str,
                items: str | None, span_days: int | None = None) -> pd.DataFrame:
    """The claims (file order) with what :func:`kt_analysis.rules.claims.decide_claims` needs from
    the roster and the ledger: ``in_roster``, ``customer_type``, ``service``, ``affected``,
    ``eligible``, ``credit_krw``, ``outage_days``, ``rule``, ``consolation_krw``, ``reclassified_krw``.
    Under an override with ``days_from: claim``, a consolation claim gets the tier of its days
    (``days_claimed`` at most ``span_days``, the incident's span) and a ``consolation_note``; a
    reclassification claim's ``reclassified_krw`` counts the same days in that override's tiers,
    with the note too when that override decides the line as a small business."""
    name = claims.register(con, "claims_in")
    ids = f"(SELECT DISTINCT line_id FROM {name})"
    frame = con.execute(f"""
        SELECT c.claim_id, r.line_id IS NOT NULL AS in_roster, r.customer_type, r.service,
               l.line_id IS NOT NULL AS affected, coalesce(l.eligible, false) AS eligible,
               l.credit_krw, l.outage_days, l.rule, s.consolation_krw,
               coalesce(l.eligibility_reason = 'on_claim', false) AS below_threshold
        FROM {name} AS c
        LEFT JOIN (SELECT line_id, customer_type, service FROM {roster}
                   WHERE line_id IN (SELECT line_id FROM {ids})) AS r ON c.line_id = r.line_id
        LEFT JOIN (SELECT * FROM {ledger} WHERE line_id IN (SELECT line_id FROM {ids})) AS l
               ON c.line_id = l.line_id
        LEFT JOIN {consolation_sql(policy, f"(SELECT * FROM {ledger} WHERE line_id IN (SELECT line_id FROM {ids}))")}
               AS s ON c.line_id = s.line_id
    """).df()
    con.unregister("claims_in")
    joined = claims.frame().merge(frame, on="claim_id", how="left", validate="one_to_one")
    # a credit is paid without a claim unless the policy says claim_required, or the line is below
    # the thresholds and paid only on claim (the incident's cause, eligibility.below_threshold_on_claim)
    joined["credit_automatic"] = ~joined.pop("below_threshold").astype(bool) & (not policy.delivery.claim_required)
    for column in ("credit_krw", "outage_days", "consolation_krw"):
        joined[column] = joined[column].astype("Int64")
    joined["rule"] = joined["rule"].astype(object).where(joined["rule"].notna(), None)
    by_claim = {f"override {i}": o.credit.tiers_by_outage_days for i, o in claim_overrides(policy)
                if o.credit.days_from == "claim"}
    if by_claim:
        joined = claimed_tiers(joined, by_claim, span_days)
    return _reclassified(con, joined, policy, ledger, roster, items, by_claim, span_days)


@dataclass(frozen=True)
class ClaimFigures:
    """The claims chapter: what is paid on application, the claims decided and dated (one row per
    claim), per day, and the forecasts per uptake scenario (per day)."""

    rules: ClaimRules
    on_claim: OnClaim | None
    opens_on: date
    last_day: date
    settled: pd.DataFrame | None  # None: no claims file
    by_day: pd.DataFrame | None
    forecasts: dict[str, pd.DataFrame]


def claim_figures(con: duckdb.DuckDBPyConnection, policy: Policy, claims: Claims | None, ledger: str,
                  roster: str, items: str | None, first_day: date, calendar: Any,
                  span_days: int | None = None) -> ClaimFigures | None:
    """The claims chapter of an outage under ``policy`` (its ``claims:`` rules), or None when the
    policy pays everything without application and no claims file came with the incident.
    ``span_days``: the incident's span in days, the most days a claim is accepted at (None: no cap)."""
    rules = policy.claims
    if rules is None:
        return None
    owed = on_claim(con, policy, ledger)
    settled = by_day = None
    if claims is not None:
        settled = settle_claims(claim_lines(con, claims, policy, ledger, roster, items, span_days), rules, calendar,
                                first_day)
        by_day = claims_by_day(settled, calendar)
    forecasts: dict[str, pd.DataFrame] = {}
    if owed is not None:
        scenarios = {**SCENARIOS, **{s.name: s for s in rules.uptake}}
        for name in sorted(scenarios):
            forecasts[name] = forecast_uptake(owed.lines, None, scenarios[name], rules, calendar, first_day,
                                              total_krw=owed.krw)
    return ClaimFigures(rules=rules, on_claim=owed, opens_on=rules.opening(first_day),
                        last_day=rules.last_day(first_day), settled=settled, by_day=by_day, forecasts=forecasts)
