"""Small shared helpers: tiny projects (policies, incidents, rosters) written into tmp_path, one
DuckDB connection per session, and the pure-Python reference for credits (exact fractions)."""

from __future__ import annotations

import math
import shutil
import textwrap
import unicodedata
from collections.abc import Mapping
from fractions import Fraction
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from kt_analysis.inputs.policy import (
    BillableTime,
    CreditRule,
    Delivery,
    Eligibility,
    Override,
    Policy,
    Rounding,
    Tier,
    When,
)

ROOT = Path(__file__).resolve().parents[1]
POLICIES = ROOT / "kt_analysis" / "catalogue" / "policies"
INCIDENTS = ROOT / "data" / "incidents"

ROSTER_COLUMNS = (
    "line_id",
    "customer_id",
    "service",
    "monthly_fee_krw",
    "region",
    "facility_id",
    "customer_type",
    "payment_method",
    "bill_cycle_day",
)
REGIONS = ("서울", "부산", "대전", "제주")
FACILITIES = tuple(f"F-{i:02d}" for i in range(12))
SERVICES = ("mobile", "internet", "iptv", "landline")
CUSTOMER_TYPES = ("individual", "small_business", "enterprise")
PAYMENT_METHODS = ("credit_card", "check_card", "bank_transfer", "giro", "other")


def write(path: Path, text: str, encoding: str = "utf-8") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text).lstrip("\n"), encoding=encoding)
    return path


@pytest.fixture(scope="session")
def duck() -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    yield con
    con.close()


class Project:
    """A throw-away project folder: ``data/policies``, ``data/incidents``, rosters."""

    def __init__(self, root: Path) -> None:
        self.root = root
        (root / "data" / "policies").mkdir(parents=True)
        (root / "data" / "incidents").mkdir(parents=True)

    def copy_policies(self, *ids: str) -> None:
        names = ids or tuple(p.stem for p in POLICIES.glob("*.yml"))
        for pid in names:
            shutil.copy(POLICIES / f"{pid}.yml", self.root / "data" / "policies" / f"{pid}.yml")

    def policy(self, name: str, text: str) -> Path:
        return write(self.root / "data" / "policies" / f"{name}.yml", text)

    def incident(self, name: str, text: str) -> Path:
        return write(self.root / "data" / "incidents" / f"{name}.yml", text)

    def file(self, rel: str, text: str, encoding: str = "utf-8") -> Path:
        return write(self.root / rel, text, encoding)

    def roster(self, frame: pd.DataFrame, name: str = "roster.parquet", **kw: Any) -> Path:
        path = self.root / "data" / name
        write_parquet(frame, path, **kw)
        return path


SAMPLE_INCIDENTS = ROOT / "data" / "incidents"


@pytest.fixture(scope="session")
def sample_reports(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """Every sample incident run once with its report (from the project root, as `make report`):
    incident id → report.html's text."""
    import os

    from kt_analysis.jobs.run import run_incident

    out = tmp_path_factory.mktemp("sample-reports")
    names = sorted(p.stem for p in SAMPLE_INCIDENTS.glob("*.yml"))
    old = os.getcwd()
    os.chdir(ROOT)
    try:
        for name in names:
            run_incident(SAMPLE_INCIDENTS / f"{name}.yml", out=out)
    finally:
        os.chdir(old)
    return {name: (out / name / "report.html").read_text(encoding="utf-8") for name in names}


@pytest.fixture
def project(tmp_path: Path) -> Project:
    return Project(tmp_path)


def write_parquet(frame: pd.DataFrame, path: Path, row_group_size: int | None = None) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    table = pa.Table.from_pandas(frame, preserve_index=False)
    pq.write_table(table, path, row_group_size=row_group_size)
    return path


def make_roster(n: int, seed: int = 0) -> pd.DataFrame:
    """A small roster: customers of 1–3 lines sharing region, facility, type, payment, name."""
    rng = np.random.default_rng(seed)
    rows = []
    line_id, customer_id = 1000, 500
    while len(rows) < n:
        customer_id += int(rng.integers(1, 4))
        region = REGIONS[int(rng.integers(len(REGIONS)))]
        facility = FACILITIES[int(rng.integers(len(FACILITIES)))]
        ctype = CUSTOMER_TYPES[int(rng.choice(3, p=[0.8, 0.15, 0.05]))]
        pay = PAYMENT_METHODS[int(rng.integers(len(PAYMENT_METHODS)))]
        day = int(rng.integers(1, 32))
        services = rng.choice(4, size=int(rng.integers(1, 4)), replace=False)
        for s in services:
            line_id += int(rng.integers(1, 5))
            fee = int(rng.integers(0, 15_000)) * 10 if rng.random() > 0.02 else 0
            rows.append(
                (
                    line_id,
                    customer_id,
                    SERVICES[int(s)],
                    fee,
                    region,
                    facility,
                    ctype,
                    pay,
                    day,
                    f"고객{customer_id}",
                    f"010-0000-{customer_id % 10000:04d}",
                )
            )
    frame = pd.DataFrame(rows[:n], columns=[*ROSTER_COLUMNS, "name", "phone"])
    for c in ("line_id", "customer_id", "monthly_fee_krw", "bill_cycle_day"):
        frame[c] = frame[c].astype("int64")
    return frame


def small_roster() -> pd.DataFrame:
    """Four lines written by hand (Korean regions, one small business, a zero fee)."""
    return pd.DataFrame(
        [
            (1, 10, "mobile", 72000, "서울", "SEOUL-JUNG-01", "individual", "credit_card", 5),
            (2, 10, "internet", 25000, "서울", "SEOUL-JUNG-01", "individual", "credit_card", 5),
            (3, 11, "internet", 33000, "부산", "BUSAN-001", "small_business", "giro", 25),
            (4, 12, "iptv", 0, "제주", "JEJU-001", "enterprise", "bank_transfer", 31),
        ],
        columns=list(ROSTER_COLUMNS),
    )


def csv_text(frame: pd.DataFrame) -> str:
    return frame.to_csv(index=False, lineterminator="\n")


# --- the reference: credits as exact fractions, written independently of credits.py ----------


def _round_time(minutes: int, unit: int, mode: str) -> int:
    if unit == 1:
        return minutes
    q = Fraction(minutes, unit)
    if mode == "up":
        return math.ceil(q) * unit
    if mode == "down":
        return math.floor(q) * unit
    return math.floor(q + Fraction(1, 2)) * unit


def round_krw(amount: Fraction, unit: int, mode: str) -> int:
    q = amount / unit
    if mode == "floor":
        return math.floor(q) * unit
    if mode == "ceil":
        return math.ceil(q) * unit
    return math.floor(q + Fraction(1, 2)) * unit


def exact_credit(policy: Policy, rule: CreditRule, line: Mapping[str, Any]) -> Fraction:
    """The credit of one rule as an exact fraction of won, before the policy's rounding."""
    fee = line["monthly_fee_krw"]
    hours = (
        line["days_in_month"] * 24
        if policy.hours_per_month == "days_in_month"
        else policy.hours_per_month
    )
    hourly_fee = Fraction(fee, hours)
    total = Fraction(0)
    if rule.outage_multiplier:
        bt = rule.billable_time
        if bt.applies_to == "outage":
            minutes = (
                _round_time(line["outage_minutes"], bt.unit_minutes, bt.mode)
                * rule.outage_multiplier
            )
        else:
            minutes = _round_time(
                line["outage_minutes"] * rule.outage_multiplier, bt.unit_minutes, bt.mode
            )
        total += hourly_fee * Fraction(minutes, 60)
    total += hourly_fee * 24 * rule.days_of_fee  # a day of fee: fee / (hours in month / 24)
    total += fee * rule.months_of_fee
    reached = [t.krw for t in rule.tiers_by_outage_days if line["outage_days"] >= t.from_days]
    if reached:
        total += reached[-1]
    return total


def is_eligible(elig: Eligibility, line: Mapping[str, Any]) -> bool:
    if elig.min_continuous_minutes is None and elig.min_monthly_cumulative_minutes is None:
        return True
    if (
        elig.min_continuous_minutes is not None
        and line["longest_continuous_minutes"] >= elig.min_continuous_minutes
    ):
        return True
    m = elig.min_monthly_cumulative_minutes
    if m is None:
        return False
    monthly = line["monthly_cumulative_minutes"]
    return monthly > m if elig.monthly_cumulative_exceeds else monthly >= m


def _reason(elig: Eligibility, line: Mapping[str, Any]) -> str:
    if elig.min_continuous_minutes is None and elig.min_monthly_cumulative_minutes is None:
        return "all_affected"
    if (
        elig.min_continuous_minutes is not None
        and line["longest_continuous_minutes"] >= elig.min_continuous_minutes
    ):
        return "continuous"
    if elig.min_monthly_cumulative_minutes is not None and is_eligible(
        Eligibility(None, elig.min_monthly_cumulative_minutes, elig.monthly_cumulative_exceeds),
        line,
    ):
        return "monthly_cumulative"
    return "below_threshold"


def _matches(when: When, line: Mapping[str, Any]) -> bool:
    return (
        (not when.customer_types or line["customer_type"] in when.customer_types)
        and (not when.services or line["service"] in when.services)
        and (not when.regions or line["region"] in when.regions)
    )


def reference_credit(policy: Policy, line: Mapping[str, Any]) -> tuple[bool, str, str, int]:
    """(eligible, reason, rule, credit_krw) of one line, from the policy's plain meaning."""
    r = policy.rounding
    if line["service"] not in policy.services:
        return False, "service_not_covered", "not_covered", 0
    plan = line.get("plan")  # a line without a plan (None, or NaN from pandas) is not excluded
    if policy.exclude_plans and isinstance(plan, str) and unicodedata.normalize("NFC", plan).strip() in \
            policy.exclude_plans:
        return False, "plan_not_covered", "not_covered", 0
    for i, o in enumerate(policy.overrides, start=1):
        if not _matches(o.when, line):
            continue
        elig = o.eligibility if o.eligibility is not None else policy.eligibility
        if o.combine == "add":
            base_ok, o_ok = is_eligible(policy.eligibility, line), is_eligible(elig, line)
            amount = (exact_credit(policy, policy.credit, line) if base_ok else 0) + (
                exact_credit(policy, o.credit, line) if o_ok else 0
            )
            reason = _reason(policy.eligibility, line) if base_ok else _reason(elig, line)
            return (
                base_ok or o_ok,
                reason,
                f"override {i}",
                round_krw(Fraction(amount), r.unit_krw, r.mode),
            )
        ok = is_eligible(elig, line)
        credit = round_krw(exact_credit(policy, o.credit, line), r.unit_krw, r.mode) if ok else 0
        return ok, _reason(elig, line), f"override {i}", credit
    ok = is_eligible(policy.eligibility, line)
    credit = round_krw(exact_credit(policy, policy.credit, line), r.unit_krw, r.mode) if ok else 0
    return ok, _reason(policy.eligibility, line), "base", credit


def policy_from_doc(doc: Mapping[str, Any]) -> Policy:
    """What a policy document says, read here by hand from the parsed YAML (README's keys and
    defaults), not by ``load_policy``: a property that writes the document as YAML text, loads it
    and compares with this sees a key the loader misreads or ignores."""

    def eligibility(d: Mapping[str, Any] | None) -> Eligibility:
        d = d or {}
        return Eligibility(d.get("min_continuous_minutes"), d.get("min_monthly_cumulative_minutes"),
                           bool(d.get("monthly_cumulative_exceeds", False)))

    def rule(d: Mapping[str, Any]) -> CreditRule:
        bt = d.get("billable_time") or {}
        return CreditRule(
            outage_multiplier=d.get("outage_multiplier", 0),
            billable_time=BillableTime(bt.get("unit_minutes", 1), bt.get("mode", "up"), bt.get("applies_to", "outage")),
            days_of_fee=d.get("days_of_fee", d.get("flat_days_of_fee", 0)),
            months_of_fee=d.get("months_of_fee", 0),
            tiers_by_outage_days=tuple(Tier(t["from_days"], t["krw"]) for t in d.get("tiers_by_outage_days", ())),
        )

    def names(values: Any) -> tuple[str, ...] | None:
        return tuple(values) if values else None

    credit = doc["credit"]
    overrides = []
    for o in credit.get("overrides", ()):
        w = o["when"]
        when = When(customer_types=names(w.get("customer_type", w.get("customer_types"))),
                    services=names(w.get("services")), regions=names(w.get("regions")))
        overrides.append(Override(when, rule(o), eligibility(o["eligibility"]) if "eligibility" in o else None,
                                  o.get("combine", "replace")))
    r, d = credit.get("rounding") or {}, doc.get("delivery") or {}
    return Policy(
        id=doc["id"], title=doc["title"], sources=tuple(doc.get("sources", ())), services=tuple(doc["services"]),
        eligibility=eligibility(doc.get("eligibility")),
        hours_per_month=(doc.get("hourly_fee") or {}).get("hours_per_month", 720),
        credit=rule(credit), overrides=tuple(overrides),
        rounding=Rounding(r.get("unit_krw", 1), r.get("mode", "floor")),
        delivery=Delivery(d.get("method", "bill_credit"), d.get("claim_required", False), d.get("claim_window_days"),
                          d.get("applied_on", "next_bill")),
        notes=doc.get("notes", ""),
        exclude_plans=tuple(doc.get("exclude_plans", ())),
    )
