"""Billing errors: who was charged what, what settles it, and on which business day.

A billing error charged the amounts of one bill month (``charged_month``) in place of another
(``wrong_month``) to the lines of some payment methods. For every such line the whole wrong
charge is reversed — cancelled where no money moved (a card approval cancelled before the
statement), refunded where it did (a check card, a bank transfer) — and the correct amount is
charged again. Money is conserved line by line: reversed = charged, re-charged = owed.

When each step happens comes from settlement rules (``settlement/<id>.yml`` of the
catalogue: kt_analysis/catalogue/settlement/ or a workspace's): per payment
method, the dates the operator announced, or a lag in Korean business days with an optional
daily capacity.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any, Literal

from kt_analysis.errors import InputError
from kt_analysis.inputs.business_days import check_in_calendar
from kt_analysis.inputs.policy import ID_PATTERN, resolve_data_file
from kt_analysis.inputs.schema import PAYMENT_METHODS, SERVICES
from kt_analysis.inputs.yamlio import Section, as_written, path_exists, read_yaml_mapping, sha256_file, source_text
from kt_analysis.paths import find_project_root, resolve_input_path

MONTH = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")
MAX_LAG = 60
Action = Literal["cancel", "refund"]


@dataclass(frozen=True)
class MethodRule:
    """How one payment method's wrong charges are settled."""

    action: Action
    dates: tuple[date, ...] = ()  # announced days; lines are spread evenly over them in line_id order
    lag_business_days: int = 0  # else: business days after discovery (0: the discovery day, rolled forward)
    daily_capacity_lines: int | None = None  # at most this many lines a business day
    recharge_dates: tuple[date, ...] = ()
    recharge_lag_business_days: int = 1  # else: business days after the line's reversal
    source: str = ""

    def describe(self) -> str:
        what = "승인 취소 (출금 없음)" if self.action == "cancel" else "취소 후 환불"
        when = (", ".join(d.isoformat() for d in self.dates) if self.dates
                else f"발견 후 {self.lag_business_days}영업일")
        if self.daily_capacity_lines:
            when += f", 하루 {self.daily_capacity_lines:,}회선까지"
        again = (", ".join(d.isoformat() for d in self.recharge_dates) if self.recharge_dates
                 else f"취소·환불 {self.recharge_lag_business_days}영업일 후")
        return f"{what}: {when}; 정상 금액 재청구: {again}"


@dataclass(frozen=True)
class SettlementRules:
    id: str
    title: str
    methods: dict[str, MethodRule]
    sources: tuple[str, ...] = ()
    path: str = ""
    sha256: str = ""


@dataclass(frozen=True)
class BillingError:
    wrong_month: str
    charged_month: str
    bills: Path
    payment_methods: tuple[str, ...]
    charged_on: date
    discovered_on: date
    settlement: SettlementRules
    bill_cycle_days: tuple[int, ...] | None = None
    services: tuple[str, ...] | None = None
    messages: dict[str, str] = field(default_factory=dict)


def _date(value: Any, path: str, where: str) -> date:
    if isinstance(value, date) and not isinstance(value, datetime):
        return value
    text = source_text(value)  # as written: 20230911 is not str() of a number here
    try:
        if text is None:
            raise ValueError(value)
        return date.fromisoformat(text.strip())
    except ValueError:
        raise InputError(path, where, f"{as_written(value)} is not a date", "write it as 2023-09-11") from None


def _dates(sec: Section, name: str) -> tuple[date, ...]:
    raw = sec.raw(name, [])
    if not isinstance(raw, list):
        raw = [raw]
    out = tuple(_date(v, sec.path, f"{sec.key(name)}[{i}]") for i, v in enumerate(raw))
    if list(out) != sorted(set(out)):
        raise sec.error(name, "dates must be distinct and in order", "list each day once, earliest first")
    return out


def _method_rule(sec: Section) -> MethodRule:
    rule = MethodRule(
        action=sec.text("action", choices=("cancel", "refund")),
        dates=_dates(sec, "dates"),
        lag_business_days=sec.integer("lag_business_days", 0, minimum=0, maximum=MAX_LAG),
        daily_capacity_lines=sec.integer("daily_capacity_lines", None, minimum=1, maximum=10**9),
        recharge_dates=_dates(sec, "recharge_dates"),
        recharge_lag_business_days=sec.integer("recharge_lag_business_days", 1, minimum=0, maximum=MAX_LAG),
        source=sec.text("source", ""),
    )
    if rule.dates and (sec.has("lag_business_days") or rule.daily_capacity_lines):
        raise sec.error("dates", "is given with lag_business_days or daily_capacity_lines",
                        "use the announced dates or a lag, not both")
    sec.done()
    return rule


def load_settlement(path: str | Path) -> SettlementRules:
    path = Path(path)
    doc = Section(read_yaml_mapping(path, "settlement"), path, "")
    sid = doc.text("id")
    if not ID_PATTERN.match(sid):
        raise doc.error("id", f"{sid!r} is not a valid id", "use lower-case letters, digits and -")
    methods_sec = doc.section("methods")
    methods = {}
    for name in list(methods_sec.data):
        if name not in PAYMENT_METHODS:
            raise methods_sec.error(str(name), "is not a payment method", f"use one of {', '.join(PAYMENT_METHODS)}")
        methods[name] = _method_rule(methods_sec.section(name))
    methods_sec.done()
    rules = SettlementRules(id=sid, title=doc.text("title"), methods=methods,
                            sources=doc.text_list("sources", ()), path=str(path), sha256=sha256_file(path))
    doc.done()
    return rules


def resolve_settlement(ref: str, folder: Path, referrer: str, where: str) -> Path:
    """Settlement rules by id in the catalogue or by path (relative to ``folder``, the incident's)."""
    return resolve_data_file(ref, folder, "settlement", "settlement rules", referrer, where)


def load_billing(sec: Section, folder: Path, tz: Any, *, bills: Path | None = None) -> BillingError:
    """The ``billing:`` section of a billing-error incident in the folder ``folder``."""
    def month(name: str) -> str:
        raw = sec.raw(name)
        value = (source_text(raw) or "").strip()
        if not MONTH.match(value):
            raise sec.error(name, f"{as_written(raw)} is not a month", "write it as 2023-09 (quoted if needed)")
        return value

    wrong, charged = month("wrong_month"), month("charged_month")
    if wrong == charged:
        raise sec.error("charged_month", "equals wrong_month", "name the month whose amounts were charged instead")
    written = sec.text("bills")
    if bills is None:
        try:
            bills = resolve_input_path(written, folder, find_project_root(folder))
        except InputError as exc:
            raise sec.error("bills", exc.problem, exc.fix) from None
    if not path_exists(bills):
        raise sec.error("bills", f"bills file {str(bills)!r} not found",
                        "generate one with `kt-analysis generate` or fix the path")
    methods = sec.text_list("payment_methods", choices=PAYMENT_METHODS)
    charged_on = _date(sec.raw("charged_on"), sec.path, sec.key("charged_on"))
    discovered_on = _date(sec.raw("discovered_on", charged_on.isoformat()), sec.path, sec.key("discovered_on"))
    check_in_calendar(charged_on, sec.path, sec.key("charged_on"))
    check_in_calendar(discovered_on, sec.path, sec.key("discovered_on"))
    if discovered_on < charged_on:
        raise sec.error("discovered_on", "is before charged_on", "an error is found after it happens: fix the date")
    rules = load_settlement(resolve_settlement(sec.text("settlement"), folder, sec.path, sec.key("settlement")))
    missing = [m for m in methods if m not in rules.methods]
    if missing:
        raise sec.error("settlement", f"rules {rules.id!r} say nothing of {', '.join(missing)}",
                        f"add them to {rules.path}")
    cycle = sec.raw("bill_cycle_days", None)
    cycle_days = None
    if cycle is not None:
        if not isinstance(cycle, list) or not all(
            isinstance(d, int) and not isinstance(d, bool) and 1 <= d <= 31 for d in cycle
        ):  # `true` is an int to Python; as a bill day it would silently mean the 1st
            raise sec.error("bill_cycle_days", "must be a list of days 1-31", "write [11, 19]")
        cycle_days = tuple(int(d) for d in cycle)
    services = sec.text_list("services", None, choices=SERVICES)
    sec.done()
    return BillingError(wrong_month=wrong, charged_month=charged, bills=bills, payment_methods=methods,
                        charged_on=charged_on, discovered_on=discovered_on, settlement=rules,
                        bill_cycle_days=cycle_days, services=services)


# ----- the per-line pass -----------------------------------------------------------------------
