"""The two summaries as typed, frozen values: :class:`OutageSummary` and :class:`BillingSummary`.

A run builds one, writes it as ``summary.json`` (:meth:`to_json`; the keys in the order of the
fields below) and the report, the index and the exploration API read it back with
:func:`load_summary`, which checks every key and type and refuses a file that does not match
(:class:`SummaryError`), so no reader looks a figure up by a string key that may be missing.

Everything a report shows is here, the credit histogram, the money held per day and the masked
sample of recipients included: rendering a report never reads the ledger again.

>>> s = BillingBreakdown(affected_lines=2, affected_customers=1, charged_krw=30_000, refund_krw=0)
>>> s.to_dict()
{'affected_lines': 2, 'affected_customers': 1, 'charged_krw': 30000, 'refund_krw': 0}
>>> BillingBreakdown.from_dict({"affected_lines": 2, "affected_customers": 1, "charged_krw": "30000",
...                             "refund_krw": 0})
Traceback (most recent call last):
...
kt_analysis.summary.model.SummaryError: charged_krw: expected an integer, found '30000'
"""

from __future__ import annotations

import html
import json
import types
from collections.abc import Mapping
from dataclasses import dataclass, fields, is_dataclass
from pathlib import Path
from typing import Any, ClassVar, Literal, TypeVar, Union, get_args, get_origin, get_type_hints

T = TypeVar("T", bound="Record")


class SummaryError(ValueError):
    """A summary that does not have the keys and types of its kind (damaged, hand-edited or
    written by another version); the message names the key."""


class Record:
    """Shared by every part of a summary: plain JSON out, checked JSON in."""

    # Keys written only when they have a value (an outage's reach is known to the DuckDB engine
    # and the Spark engine alike, but a summary written before it existed has none).
    OPTIONAL: ClassVar[tuple[str, ...]] = ()

    def to_dict(self) -> dict[str, Any]:
        return _plain(self)

    @classmethod
    def from_dict(cls: type[T], data: Any, where: str = "") -> T:
        return _build(cls, data, where)


def _plain(value: Any) -> Any:
    if is_dataclass(value) and not isinstance(value, type):
        skip = getattr(value, "OPTIONAL", ())
        return {f.name: _plain(getattr(value, f.name)) for f in fields(value)
                if not (f.name in skip and getattr(value, f.name) is None)}
    if isinstance(value, Mapping):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, tuple | list):
        return [_plain(v) for v in value]
    return value


def _at(where: str, key: str | int) -> str:
    if isinstance(key, int):
        return f"{where}[{key}]"
    return f"{where}.{key}" if where else key


def _build(tp: Any, value: Any, where: str) -> Any:  # noqa: C901 - one branch per JSON type
    origin = get_origin(tp)
    if origin is Union or origin is types.UnionType:
        args = get_args(tp)
        if value is None and type(None) in args:
            return None
        rest = [a for a in args if a is not type(None)]
        return _build(rest[0], value, where)
    if isinstance(tp, type) and is_dataclass(tp):
        if not isinstance(value, dict):
            raise SummaryError(f"{where or 'summary'}: expected an object, found {type(value).__name__}")
        hints = get_type_hints(tp)
        names = [f.name for f in fields(tp)]
        unknown = sorted(set(value) - set(names))
        if unknown:
            raise SummaryError(f"{_at(where, unknown[0])}: not a key of {tp.__name__}")
        optional = getattr(tp, "OPTIONAL", ())
        missing = [n for n in names if n not in value and n not in optional]
        if missing:
            raise SummaryError(f"{_at(where, missing[0])}: missing")
        return tp(**{n: _build(hints[n], value.get(n), _at(where, n)) for n in names})
    if origin is tuple:
        if not isinstance(value, list):
            raise SummaryError(f"{where}: expected a list, found {type(value).__name__}")
        item = get_args(tp)[0]
        return tuple(_build(item, v, _at(where, i)) for i, v in enumerate(value))
    if origin in (dict, Mapping):
        if not isinstance(value, dict):
            raise SummaryError(f"{where}: expected an object, found {type(value).__name__}")
        item = get_args(tp)[1]
        return {str(k): _build(item, v, _at(where, str(k))) for k, v in value.items()}
    if origin is Literal:
        if value not in get_args(tp):
            raise SummaryError(f"{where}: expected one of {', '.join(map(repr, get_args(tp)))}, found {value!r}")
        return value
    if tp is type(None):
        if value is not None:
            raise SummaryError(f"{where}: expected null, found {value!r}")
        return None
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise SummaryError(f"{where}: expected an integer, found {value!r}")
        return value
    if tp is bool or tp is str:
        if not isinstance(value, tp):
            raise SummaryError(f"{where}: expected {'true/false' if tp is bool else 'text'}, found {value!r}")
        return value
    if tp is Any:
        return value
    raise TypeError(f"no reader for {tp!r}")  # a field type this module does not know: a bug here


# ----- parts shared by both kinds ---------------------------------------------------------------

@dataclass(frozen=True)
class InputFile(Record):
    role: str
    path: str
    sha256: str


# ----- an outage ------------------------------------------------------------------------------

@dataclass(frozen=True)
class CreditDistribution(Record):
    min_krw: int
    p50_krw: int
    p90_krw: int
    p99_krw: int
    max_krw: int


@dataclass(frozen=True)
class HistogramBin(Record):
    """Eligible lines whose credit is from ``from_krw`` to ``to_krw`` won, both included."""

    from_krw: int
    to_krw: int
    lines: int


@dataclass(frozen=True)
class CreditBand(Record):
    """Eligible lines whose credit is from ``from_krw`` to ``to_krw`` won (both included), in bands
    with edges 1, 2 and 5 times a power of ten, and their credit."""

    from_krw: int
    to_krw: int
    lines: int
    credit_krw: int


@dataclass(frozen=True)
class ServiceCredit(Record):
    """One service's eligible lines: how many, their credit, and its quantiles (as credit_distribution)."""

    lines: int
    credit_krw: int
    min_krw: int
    p50_krw: int
    p90_krw: int
    p99_krw: int
    max_krw: int


@dataclass(frozen=True)
class Delivery(Record):
    method: str
    claim_required: bool
    claim_window_days: int | None
    applied_on: str


@dataclass(frozen=True)
class Breakdown(Record):
    affected_lines: int
    affected_customers: int
    eligible_lines: int
    total_credit_krw: int


@dataclass(frozen=True)
class CreditDay(Record):
    day: str
    lines: int
    credit_krw: int


@dataclass(frozen=True)
class WhatIf(Record):
    policy_id: str
    title: str
    eligible_lines: int
    total_credit_krw: int


@dataclass(frozen=True)
class WhatIfSkipped(Record):
    """A catalogue policy left out of the what-if: its fee basis cannot be computed for this
    incident (no bill items, or lines without a bill in its months), in Korean."""

    policy_id: str
    title: str
    reason: str


@dataclass(frozen=True)
class Reach(Record):
    """What one outage window reached: where it is written, its span and place, lines, customers."""

    at: str
    start: str
    end: str
    where: str
    lines: int
    customers: int


@dataclass(frozen=True)
class Unmatched(Record):
    """A name the incident gives that no roster line has (allowed by ``allow_unmatched: true``)."""

    column: str
    value: str
    at: tuple[str, ...]
    fix: str


@dataclass(frozen=True)
class EarlierIncident(Record):
    """An earlier published incident whose minutes of the same lines and months were counted."""

    incident_id: str
    outage_start: str
    lines: int  # affected lines of this incident it had minutes for in these months
    lines_pushed_over: int  # of those, lines eligible only with the earlier incidents' minutes


@dataclass(frozen=True)
class MonthHistory(Record):
    """A policy counting across the calendar month: the months, the earlier incidents counted (read
    from the output folder's history), the lines they pushed over the threshold and the earlier
    minutes this incident credits."""

    months: tuple[str, ...]
    earlier_incidents: tuple[EarlierIncident, ...]
    lines_pushed_over: int
    carried_minutes: int


@dataclass(frozen=True)
class ClaimDecision(Record):
    """The claims that got one decision (code and Korean reason) and what they pay."""

    decision: str
    reason: str
    claims: int
    amount_krw: int


@dataclass(frozen=True)
class ClaimDay(Record):
    """One calendar day of claims: received, decided, paid, undecided at its end, won accepted and paid."""

    day: str
    received: int
    decided: int
    paid: int
    backlog: int
    accepted_krw: int
    paid_krw: int


@dataclass(frozen=True)
class ClaimForecast(Record):
    """Claims expected under one uptake scenario (an assumption, stated in ``description``)."""

    scenario: str
    description: str
    source: str
    claims: int
    cost_krw: int
    last_decided_on: str | None
    last_paid_on: str | None
    peak_backlog: int
    days: tuple[ClaimDay, ...]


@dataclass(frozen=True)
class ClaimsSummary(Record):
    """Compensation paid on application: the policy's claims rules (Korean), the window, what is paid
    only to those who apply (``paid_on_claim``: ``credit`` when the whole credit is, ``consolation``
    for fixed amounts on top; None when nothing is) and to how many lines, the claims received so far
    (``as_of``: the last day one was received) decided, and the forecasts."""

    rules: str
    opens_on: str
    last_day: str
    paid_on_claim: str | None
    entitled_lines: int
    entitled_krw: int
    received: int
    as_of: str | None
    backlog_as_of: int
    accepted: int
    accepted_krw: int
    paid_krw_as_of: int
    by_decision: tuple[ClaimDecision, ...]
    by_day: tuple[ClaimDay, ...]
    forecast: tuple[ClaimForecast, ...]


@dataclass(frozen=True)
class RestorationPoint(Record):
    """Had service come back ``minutes`` after the incident's first window start: the lines eligible
    and the total credit under the incident's own policy."""

    minutes: int
    eligible_lines: int
    total_credit_krw: int


@dataclass(frozen=True)
class RestorationThreshold(Record):
    """A policy threshold on the curve: the first minute it is met, and its Korean label."""

    minutes: int
    label: str


@dataclass(frozen=True)
class RestorationCurve(Record):
    """What the incident's own policy would owe had service come back at each time (docs/outputs.md)."""

    actual_minutes: int
    points: tuple[RestorationPoint, ...]
    thresholds: tuple[RestorationThreshold, ...]

    def at(self, minutes: int) -> RestorationPoint:
        """The point at ``minutes`` (one of the curve's)."""
        return next(p for p in self.points if p.minutes == minutes)


@dataclass(frozen=True)
class OutageSummary(Record):
    OPTIONAL: ClassVar[tuple[str, ...]] = ("reach", "unmatched_names", "month_history", "claims",
                                           "longest_continuous_minutes", "restoration_curve", "credit_bands",
                                           "credit_by_service", "provisional", "as_of")

    incident_id: str
    title: str
    kind: Literal["outage"]
    timezone: str
    policy_id: str
    policy_title: str
    fee_basis: str
    outage_start: str
    outage_end: str
    window_count: int
    roster_lines: int
    affected_lines: int
    affected_customers: int
    eligible_lines: int
    eligible_customers: int
    total_credit_krw: int
    total_refund_krw: int
    refund_completion_date: str | None
    longest_outage_minutes: int
    credit_distribution: CreditDistribution
    credit_histogram: tuple[HistogramBin, ...]
    delivery: Delivery
    by_service: Mapping[str, Breakdown]
    by_region: Mapping[str, Breakdown]
    by_customer_type: Mapping[str, Breakdown]
    by_payment_method: Mapping[str, Breakdown]
    claim_window_closes: str | None
    credit_completion_date: str | None
    credit_timeline: tuple[CreditDay, ...]
    what_if: tuple[WhatIf, ...]
    what_if_skipped: tuple[WhatIfSkipped, ...]
    reach: tuple[Reach, ...] | None
    unmatched_names: tuple[Unmatched, ...] | None
    inputs: tuple[InputFile, ...]
    month_history: MonthHistory | None = None  # only a policy counting across the calendar month has it
    claims: ClaimsSummary | None = None  # only a policy with claims rules, or an incident with claims, has it
    # the longest uninterrupted outage of any line (summaries written before it was added lack it)
    longest_continuous_minutes: int | None = None
    # the total credit had service come back at other times (absent across the calendar month, and
    # from summaries written before it was added)
    restoration_curve: RestorationCurve | None = None
    # the eligible lines per readable credit band, and per service their credits' quantiles (summaries
    # written before they were added lack them)
    credit_bands: tuple[CreditBand, ...] | None = None
    credit_by_service: Mapping[str, ServiceCredit] | None = None
    # an outage still going on, sized as of a time (--as-of): true, and that local time; absent when final
    provisional: bool | None = None
    as_of: str | None = None

    def breakdown(self, by: str) -> Mapping[str, Breakdown]:
        """``by_service``, ``by_region``, ``by_customer_type`` or ``by_payment_method``."""
        return {"service": self.by_service, "region": self.by_region, "customer_type": self.by_customer_type,
                "payment_method": self.by_payment_method}[by]

    def headline(self) -> dict[str, int]:
        return {"roster_lines": self.roster_lines, "affected_lines": self.affected_lines,
                "affected_customers": self.affected_customers, "eligible_lines": self.eligible_lines,
                "eligible_customers": self.eligible_customers, "total_credit_krw": self.total_credit_krw}

    def to_json(self) -> str:
        return _json(self)

    def _repr_html_(self) -> str:
        return _html_table(self.title, self.incident_id, self.headline())


# ----- a billing error --------------------------------------------------------------------------

@dataclass(frozen=True)
class MethodSettlement(Record):
    """A payment method's lines, money and settlement dates, and the rule that settled them."""

    affected_lines: int
    affected_customers: int
    charged_krw: int
    owed_krw: int
    cancelled_krw: int
    refund_krw: int
    recharge_krw: int
    first_settled_on: str
    last_settled_on: str
    last_recharge_on: str
    rule: str


@dataclass(frozen=True)
class BillingBreakdown(Record):
    affected_lines: int
    affected_customers: int
    charged_krw: int
    refund_krw: int


@dataclass(frozen=True)
class SettlementDay(Record):
    day: str
    payment_method: str
    cancelled_lines: int
    cancelled_krw: int
    refunded_lines: int
    refund_krw: int
    recharged_lines: int
    recharge_krw: int


@dataclass(frozen=True)
class HeldDay(Record):
    """Money taken from customers and not yet refunded at the end of ``day``."""

    day: str
    held_krw: int
    held_lines: int


@dataclass(frozen=True)
class Notification(Record):
    day: str
    payment_method: str
    message: str
    text: str
    lines: int
    customers: int


@dataclass(frozen=True)
class Recipient(Record):
    """One recipient of a notification batch, as the report may show it: name and phone masked."""

    day: str
    payment_method: str
    message: str
    line_id: int
    name: str
    phone: str


@dataclass(frozen=True)
class BillingSummary(Record):
    incident_id: str
    title: str
    kind: Literal["billing_error"]
    timezone: str
    policy_id: None
    settlement_id: str
    wrong_month: str
    charged_month: str
    charged_on: str
    discovered_on: str
    roster_lines: int
    affected_lines: int
    affected_customers: int
    eligible_lines: int
    total_credit_krw: int
    total_charged_krw: int
    total_owed_krw: int
    total_overcharged_krw: int
    total_undercharged_krw: int
    total_cancelled_krw: int
    total_refund_krw: int
    total_recharge_krw: int
    refund_completion_date: str | None
    settlement_completion_date: str | None
    peak_exposure_krw: int
    peak_exposure_date: str | None
    exposure_krw_days: int
    by_payment_method: Mapping[str, MethodSettlement]
    by_service: Mapping[str, BillingBreakdown]
    by_region: Mapping[str, BillingBreakdown]
    by_customer_type: Mapping[str, BillingBreakdown]
    timeline: tuple[SettlementDay, ...]
    exposure: tuple[HeldDay, ...]
    notifications: tuple[Notification, ...]
    recipients_sample: tuple[Recipient, ...]
    inputs: tuple[InputFile, ...]

    def breakdown(self, by: str) -> Mapping[str, BillingBreakdown]:
        """``by_service``, ``by_region`` or ``by_customer_type`` (per payment method: ``by_payment_method``)."""
        return {"service": self.by_service, "region": self.by_region, "customer_type": self.by_customer_type}[by]

    def headline(self) -> dict[str, int]:
        return {"affected_lines": self.affected_lines, "affected_customers": self.affected_customers,
                "total_charged_krw": self.total_charged_krw, "total_owed_krw": self.total_owed_krw,
                "total_cancelled_krw": self.total_cancelled_krw, "total_refund_krw": self.total_refund_krw,
                "total_recharge_krw": self.total_recharge_krw, "peak_exposure_krw": self.peak_exposure_krw}

    def to_json(self) -> str:
        return _json(self)

    def _repr_html_(self) -> str:
        return _html_table(self.title, self.incident_id, self.headline())


Summary = OutageSummary | BillingSummary


def _json(summary: Record) -> str:
    return json.dumps(summary.to_dict(), ensure_ascii=False, indent=2) + "\n"


def _html_table(title: str, incident_id: str, figures: dict[str, int]) -> str:
    rows = "".join(f"<tr><th>{html.escape(k)}</th><td style='text-align:right'>{v:,}</td></tr>"
                   for k, v in figures.items())
    return (f"<table><caption>{html.escape(title)} ({html.escape(incident_id)})</caption>"
            f"{rows}</table>")


def summary_from_dict(data: Any, where: str = "") -> Summary:
    """The summary of its kind (``kind`` says which), every key and type checked."""
    if not isinstance(data, dict):
        raise SummaryError(f"{where or 'summary'}: expected an object, found {type(data).__name__}")
    kind = data.get("kind")
    if kind == "outage":
        return OutageSummary.from_dict(data, where)
    if kind == "billing_error":
        return BillingSummary.from_dict(data, where)
    raise SummaryError(f"{_at(where, 'kind')}: expected 'outage' or 'billing_error', found {kind!r}")


def load_summary(path: Path) -> Summary:
    """Read a run's ``summary.json`` back. A file that is not the summary of a known kind (damaged,
    edited by hand, written by another version) is a :class:`SummaryError` naming the file and key."""
    try:
        data = json.loads(path.read_bytes().decode("utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise SummaryError(f"{path}: not readable as JSON ({exc})") from exc
    try:
        return summary_from_dict(data)
    except SummaryError as exc:
        raise SummaryError(f"{path}: {exc}") from None


__all__ = [
    "BillingBreakdown", "BillingSummary", "Breakdown", "CreditDay", "CreditDistribution", "Delivery",
    "EarlierIncident", "HeldDay", "HistogramBin", "InputFile", "MethodSettlement", "MonthHistory", "Notification",
    "OutageSummary", "Reach", "Recipient",
    "Record", "SettlementDay", "Summary", "SummaryError", "Unmatched", "WhatIf", "WhatIfSkipped", "load_summary",
    "summary_from_dict",
]
