"""Compensation policies: rules as data, loaded from ``data/policies/<id>.yml``.

A policy says which services it covers, when an affected line is eligible, and how its credit
is computed from the monthly fee and the outage time. Everything is integer arithmetic; the
only rounding of money is the policy's ``rounding``, applied once to each line's credit.
See DESIGN.md ("Policy") for the format; the extensions are documented in README.md.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from .errors import InputError
from .yamlio import Section, read_yaml_mapping, sha256_file

SERVICES = ("mobile", "internet", "iptv", "landline")
CUSTOMER_TYPES = ("individual", "small_business", "enterprise")
PAYMENT_METHODS = ("credit_card", "check_card", "bank_transfer", "giro", "other")
ID_PATTERN = re.compile(r"^[a-z0-9][a-z0-9-]{0,99}$")

# Bounds that keep every intermediate product far inside int64 (see credits.py).
MAX_MULTIPLIER = 100
MAX_DAYS_OF_FEE = 366
MAX_MONTHS_OF_FEE = 12
MAX_FIXED_KRW = 10_000_000_000
MAX_UNIT_MINUTES = 7 * 24 * 60
MAX_UNIT_KRW = 1_000_000

RoundingMode = Literal["floor", "ceil", "half_up"]
TimeMode = Literal["up", "down", "half_up"]


@dataclass(frozen=True)
class Eligibility:
    """Either condition makes a line eligible; with neither, every affected line is."""

    min_continuous_minutes: int | None = None
    min_monthly_cumulative_minutes: int | None = None
    # Outlets disagree on "more than 6 h" (초과) and "at least 6 h" (이상): a policy says which.
    monthly_cumulative_exceeds: bool = False

    @property
    def everyone(self) -> bool:
        return self.min_continuous_minutes is None and self.min_monthly_cumulative_minutes is None

    def describe(self) -> str:
        if self.everyone:
            return "every affected line"
        parts = []
        if self.min_continuous_minutes is not None:
            parts.append(f"continuous outage ≥ {self.min_continuous_minutes} min")
        if self.min_monthly_cumulative_minutes is not None:
            op = ">" if self.monthly_cumulative_exceeds else "≥"
            parts.append(f"monthly cumulative {op} {self.min_monthly_cumulative_minutes} min")
        return " or ".join(parts)


@dataclass(frozen=True)
class BillableTime:
    """How outage minutes become billable minutes.

    ``applies_to: outage`` rounds the outage time, then multiplies; ``multiplied`` multiplies,
    then rounds (KT 2021: 89 min × 10 = 890 min, paid as 900 min).
    """

    unit_minutes: int = 1
    mode: TimeMode = "up"
    applies_to: Literal["outage", "multiplied"] = "outage"


@dataclass(frozen=True)
class Tier:
    from_days: int
    krw: int


@dataclass(frozen=True)
class CreditRule:
    """The parts of a credit; they add up."""

    outage_multiplier: int = 0
    billable_time: BillableTime = field(default_factory=BillableTime)
    days_of_fee: int = 0
    months_of_fee: int = 0
    tiers_by_outage_days: tuple[Tier, ...] = ()

    def describe(self) -> str:
        parts = []
        if self.outage_multiplier:
            bt = self.billable_time
            rounding = ""
            if bt.unit_minutes > 1:
                how = {"up": "rounded up", "down": "rounded down", "half_up": "rounded"}[bt.mode]
                what = "outage time" if bt.applies_to == "outage" else "multiplied time"
                rounding = f" ({what} {how} to {bt.unit_minutes} min)"
            parts.append(f"{self.outage_multiplier}× the hourly fee of the outage time{rounding}")
        if self.days_of_fee:
            parts.append(f"{self.days_of_fee} day(s) of fee")
        if self.months_of_fee:
            parts.append(f"{self.months_of_fee} month(s) of fee")
        if self.tiers_by_outage_days:
            tiers = ", ".join(f"{t.from_days}+ days: {t.krw:,} won" for t in self.tiers_by_outage_days)
            parts.append(f"fixed amount by outage days ({tiers})")
        return " + ".join(parts) or "nothing"


@dataclass(frozen=True)
class When:
    customer_types: tuple[str, ...] | None = None
    services: tuple[str, ...] | None = None
    regions: tuple[str, ...] | None = None

    def describe(self) -> str:
        parts = []
        if self.customer_types:
            parts.append("customer type " + "/".join(self.customer_types))
        if self.services:
            parts.append("service " + "/".join(self.services))
        if self.regions:
            parts.append("region " + "/".join(self.regions))
        return " and ".join(parts)


@dataclass(frozen=True)
class Override:
    """First matching override decides the line's credit (and, if it says so, eligibility)."""

    when: When
    credit: CreditRule
    eligibility: Eligibility | None = None  # None: the policy's eligibility
    combine: Literal["replace", "add"] = "replace"


@dataclass(frozen=True)
class Rounding:
    unit_krw: int = 1
    mode: RoundingMode = "floor"


@dataclass(frozen=True)
class Delivery:
    method: Literal["bill_credit", "cash_on_request", "cash"] = "bill_credit"
    claim_required: bool = False
    claim_window_days: int | None = None
    applied_on: str = "next_bill"


@dataclass(frozen=True)
class Policy:
    id: str
    title: str
    sources: tuple[str, ...]
    services: tuple[str, ...]
    eligibility: Eligibility
    hours_per_month: int | Literal["days_in_month"]
    credit: CreditRule
    overrides: tuple[Override, ...] = ()
    rounding: Rounding = field(default_factory=Rounding)
    delivery: Delivery = field(default_factory=Delivery)
    notes: str = ""
    path: str = ""
    sha256: str = ""

    def describe(self) -> list[str]:
        """The policy in plain words, one sentence a rule (for the report's appendix)."""
        per_hour = (
            "monthly fee ÷ 720 h" if self.hours_per_month == 720
            else "monthly fee ÷ (days in the outage's month × 24 h)"
            if self.hours_per_month == "days_in_month"
            else f"monthly fee ÷ {self.hours_per_month} h"
        )
        lines = [
            f"Services covered: {', '.join(self.services)}; other services get nothing.",
            f"Eligible: {self.eligibility.describe()}.",
            f"Credit: {self.credit.describe()}; hourly fee = {per_hour}.",
        ]
        for o in self.overrides:
            verb = "adds" if o.combine == "add" else "instead"
            elig = f" (eligible: {o.eligibility.describe()})" if o.eligibility else ""
            lines.append(f"For {o.when.describe()}: {verb} {o.credit.describe()}{elig}.")
        r = self.rounding
        lines.append(f"Each line's credit is rounded ({r.mode}) to {r.unit_krw:,} won.")
        d = self.delivery
        claim = "on claim" if d.claim_required else "automatically"
        window = f", claims within {d.claim_window_days} days" if d.claim_window_days else ""
        lines.append(f"Paid as {d.method.replace('_', ' ')} {claim}, on the {d.applied_on.replace('_', ' ')}{window}.")
        return lines


def find_project_root(start: Path) -> Path:
    """The nearest folder at or above ``start`` that holds ``data/policies`` or ``pyproject.toml``."""
    start = start.resolve()
    for folder in [start, *start.parents]:
        if (folder / "data" / "policies").is_dir() or (folder / "pyproject.toml").is_file():
            return folder
    return start


def policy_catalogue(root: Path) -> list[Path]:
    folder = root / "data" / "policies"
    return sorted(folder.glob("*.yml")) if folder.is_dir() else []


def resolve_policy(ref: str, root: Path, referrer: str, where: str) -> Path:
    """A policy id in ``data/policies/`` or a path (relative to the project root)."""
    if ID_PATTERN.match(ref) and "/" not in ref:
        path = root / "data" / "policies" / f"{ref}.yml"
        if not path.exists():
            known = ", ".join(p.stem for p in policy_catalogue(root)) or "none"
            raise InputError(referrer, where, f"policy {ref!r} not found in {root / 'data/policies'}",
                             f"use one of: {known}")
        return path
    path = Path(ref)
    if not path.is_absolute():
        path = root / path
    if not path.exists():
        raise InputError(referrer, where, f"policy file {ref!r} not found", "check the path")
    return path


def load_policy(path: str | Path) -> Policy:
    """Read and validate a policy file; every problem is an :class:`InputError`."""
    path = Path(path)
    doc = Section(read_yaml_mapping(path, "policy"), path, "")
    pid = doc.text("id")
    if not ID_PATTERN.match(pid):
        raise doc.error("id", f"{pid!r} is not a valid id", "use lower-case letters, digits and -")
    title = doc.text("title")
    sources = doc.text_list("sources", ())
    notes = doc.text("notes", "")
    services = doc.text_list("services", choices=SERVICES)
    eligibility = _eligibility(doc.section("eligibility", None), path)
    hourly = doc.section("hourly_fee", None)
    hours_per_month: int | Literal["days_in_month"] = 720
    if hourly is not None:
        value = hourly.raw("hours_per_month", 720)
        if value == "days_in_month":
            hours_per_month = "days_in_month"
        else:
            hours_per_month = hourly.integer("hours_per_month", 720, minimum=24, maximum=31 * 24)
        hourly.done()
    credit_sec = doc.section("credit")
    credit = _credit_rule(credit_sec, path, allow_extra=True)
    overrides = []
    raw_overrides = credit_sec.raw("overrides", [])
    if not isinstance(raw_overrides, list):
        raise credit_sec.error("overrides", "must be a list", "write - when: … items")
    for i, item in enumerate(raw_overrides):
        sec = Section(item, path, f"credit.overrides[{i}]")
        overrides.append(_override(sec, path))
    rounding = Rounding()
    rsec = credit_sec.section("rounding", None)
    if rsec is not None:
        rounding = Rounding(
            unit_krw=rsec.integer("unit_krw", 1, minimum=1, maximum=MAX_UNIT_KRW),
            mode=rsec.text("mode", "floor", choices=("floor", "ceil", "half_up")),
        )
        rsec.done()
    credit_sec.done()
    delivery = Delivery()
    dsec = doc.section("delivery", None)
    if dsec is not None:
        delivery = Delivery(
            method=dsec.text("method", "bill_credit", choices=("bill_credit", "cash_on_request", "cash")),
            claim_required=dsec.boolean("claim_required", False),
            claim_window_days=dsec.integer("claim_window_days", None, minimum=1, maximum=3650),
            applied_on=dsec.text("applied_on", "next_bill"),
        )
        if not re.match(r"^(next_bill|bill_after_next|\d{4}-(0[1-9]|1[0-2])(-\d{2})?)$", delivery.applied_on):
            raise dsec.error("applied_on", f"{delivery.applied_on!r} is not a bill or a day",
                             "write next_bill, bill_after_next, a bill month 2021-12, or a cash day 2021-12-10")
        if re.match(r"^\d{4}-\d{2}-\d{2}$", delivery.applied_on) and delivery.method != "cash":
            raise dsec.error("applied_on", "is a day, which only a cash payout has",
                             "name a bill month (2021-12) for a bill credit, or set method: cash")
        dsec.done()
    doc.done()
    return Policy(
        id=pid, title=title, sources=sources, services=services, eligibility=eligibility,
        hours_per_month=hours_per_month, credit=credit, overrides=tuple(overrides),
        rounding=rounding, delivery=delivery, notes=notes, path=str(path),
        sha256=sha256_file(path),
    )


def _eligibility(sec: Section | None, path: Path) -> Eligibility:
    if sec is None:
        return Eligibility()
    day = 31 * 24 * 60
    result = Eligibility(
        min_continuous_minutes=sec.integer("min_continuous_minutes", None, minimum=0, maximum=day),
        min_monthly_cumulative_minutes=sec.integer(
            "min_monthly_cumulative_minutes", None, minimum=0, maximum=day
        ),
        monthly_cumulative_exceeds=sec.boolean("monthly_cumulative_exceeds", False),
    )
    sec.done()
    return result


def _credit_rule(sec: Section, path: Path, *, allow_extra: bool = False) -> CreditRule:
    if allow_extra:
        sec.used.update({"overrides", "rounding"})
    if sec.has("flat_days_of_fee") and sec.has("days_of_fee"):
        raise sec.error("days_of_fee", "is given together with flat_days_of_fee",
                        "they mean the same: keep one")
    days_key = "days_of_fee" if sec.has("days_of_fee") else "flat_days_of_fee"
    bt = BillableTime()
    bsec = sec.section("billable_time", None)
    if bsec is not None:
        bt = BillableTime(
            unit_minutes=bsec.integer("unit_minutes", 1, minimum=1, maximum=MAX_UNIT_MINUTES),
            mode=bsec.text("mode", "up", choices=("up", "down", "half_up")),
            applies_to=bsec.text("applies_to", "outage", choices=("outage", "multiplied")),
        )
        bsec.done()
    tiers: list[Tier] = []
    raw_tiers = sec.raw("tiers_by_outage_days", [])
    if not isinstance(raw_tiers, list):
        raise sec.error("tiers_by_outage_days", "must be a list", "write - {from_days: 1, krw: 400000}")
    for i, item in enumerate(raw_tiers):
        tsec = Section(item, path, sec.key(f"tiers_by_outage_days[{i}]"))
        tier = Tier(
            from_days=tsec.integer("from_days", minimum=0, maximum=3650),
            krw=tsec.integer("krw", minimum=0, maximum=MAX_FIXED_KRW),
        )
        tsec.done()
        if tiers and tier.from_days <= tiers[-1].from_days:
            raise tsec.error("from_days", "tiers must go up in from_days", "list tiers from the fewest days")
        if tiers and tier.krw < tiers[-1].krw:
            # A longer outage never earns less: the credit must not fall as outage time grows.
            raise tsec.error("krw", f"pays {tier.krw:,} won, less than the tier before "
                             f"({tiers[-1].krw:,} won)",
                             "a tier for more days pays at least as much")
        tiers.append(tier)
    rule = CreditRule(
        outage_multiplier=sec.integer("outage_multiplier", 0, minimum=0, maximum=MAX_MULTIPLIER),
        billable_time=bt,
        days_of_fee=sec.integer(days_key, 0, minimum=0, maximum=MAX_DAYS_OF_FEE),
        months_of_fee=sec.integer("months_of_fee", 0, minimum=0, maximum=MAX_MONTHS_OF_FEE),
        tiers_by_outage_days=tuple(tiers),
    )
    sec.used.update({"days_of_fee", "flat_days_of_fee"})
    return rule


def _override(sec: Section, path: Path) -> Override:
    wsec = sec.section("when")
    types = wsec.text_list("customer_type", None, choices=CUSTOMER_TYPES)
    if types is None:
        types = wsec.text_list("customer_types", None, choices=CUSTOMER_TYPES)
    when = When(
        customer_types=types,
        services=wsec.text_list("services", None, choices=SERVICES),
        regions=wsec.text_list("regions", None),
    )
    wsec.done()
    if when == When():
        raise sec.error("when", "matches every line", "name customer_type, services or regions")
    eligibility = None
    esec = sec.section("eligibility", None)
    if esec is not None:
        eligibility = _eligibility(esec, path)
    combine = sec.text("combine", "replace", choices=("replace", "add"))
    sec.used.update({"when", "eligibility", "combine"})
    credit = _credit_rule(sec, path)
    sec.done()
    return Override(when=when, credit=credit, eligibility=eligibility, combine=combine)
