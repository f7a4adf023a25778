"""Compensation policies: rules as data, loaded from ``policies/<id>.yml`` of the catalogue (built
in: kt_analysis/catalogue/policies/; a workspace adds and overrides by id: kt_analysis/paths.py).

A policy says which services it covers, when an affected line is eligible, and how its credit
is computed from the monthly fee and the outage time. Everything is integer arithmetic; the
only rounding of money is the policy's ``rounding``, applied once to each line's credit.
The format is documented in docs/policy-language.md.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field, replace
from datetime import date
from pathlib import Path
from typing import Any, Literal

from kt_analysis.errors import InputError
from kt_analysis.inputs.business_days import DEFAULT_YEARS
from kt_analysis.inputs.claims import ClaimRules, parse_claim_rules
from kt_analysis.inputs.names import closest, normalize
from kt_analysis.inputs.schema import (
    CAUSE_KO,
    CAUSES,
    CUSTOMER_TYPE_KO,
    CUSTOMER_TYPES,
    DISCOUNT_ITEMS,
    ITEM_CATEGORIES,
    SERVICE_KO,
    SERVICES,
)
from kt_analysis.inputs.yamlio import Section, path_exists, read_yaml_mapping, sha256_file
from kt_analysis.paths import catalogue_for, find_project_root, resolve_input_path

ID_PATTERN = re.compile(r"^[a-z0-9][a-z0-9-]{0,99}$")

# Bounds that keep every intermediate product far inside int64 (see rules/credits.py).
MAX_MULTIPLIER = 100
MAX_DAYS_OF_FEE = 366
MAX_MONTHS_OF_FEE = 12
MAX_FIXED_KRW = 10_000_000_000
MAX_UNIT_MINUTES = 7 * 24 * 60
MAX_UNIT_KRW = 1_000_000

RoundingMode = Literal["floor", "ceil", "half_up"]
MonthlyScope = Literal["incident", "calendar_month"]
# The crediting rule of `monthly_scope: calendar_month`, in the words of the report's appendix (the
# README's "Outages across a month" states the same rule).
CALENDAR_MONTH_KO = (
    "월 누적 장애 시간은 같은 회선의 같은 달(달력 기준) 장애를 모두 합산합니다: 이 장애보다 먼저 시작해 "
    "같은 출력 폴더에 발행된 장애의 시간을 더합니다. 앞선 장애에서 이미 보상한 시간은 다시 보상하지 않고, "
    "앞선 장애에서 기준 미달로 보상하지 않은 시간은 이번 장애로 그 달의 누적이 기준을 넘으면 이번에 함께 "
    "보상합니다(장애 시간에 비례하는 보상에만 더하며, 정액·일수 보상에는 더하지 않습니다)."
)
TimeMode = Literal["up", "down", "half_up"]
DaysFrom = Literal["outage", "claim"]
DAYS_FROM = ("outage", "claim")
"""Where the days of ``tiers_by_outage_days`` come from: the line's outage (``outage``, the default:
outage time rounded up to whole days), or the consolation claim (``claim``: its ``days_claimed``,
at most the incident's span in days; only in an override paid on claim)."""


@dataclass(frozen=True)
class Eligibility:
    """Either condition makes a line eligible; with neither, every affected line is."""

    min_continuous_minutes: int | None = None
    min_monthly_cumulative_minutes: int | None = None
    # Outlets disagree on "more than 6 h" (초과) and "at least 6 h" (이상): a policy says which.
    monthly_cumulative_exceeds: bool = False
    # Whose minutes make the monthly total: this incident's only, or every published incident's of
    # the same line and calendar month (README, "Outages across a month"). An override inherits it.
    monthly_scope: MonthlyScope = "incident"
    # The incident causes for which lines below the thresholds are compensated too, on claim (the
    # 2023 terms: the operator's intent or gross negligence). ``on_claim_now``: this incident's
    # cause is one of them (set by :func:`with_cause`; then every line is eligible, those below the
    # thresholds with the reason ``on_claim``).
    below_threshold_on_claim: tuple[str, ...] = ()
    on_claim_now: bool = False

    @property
    def everyone(self) -> bool:
        return self.min_continuous_minutes is None and self.min_monthly_cumulative_minutes is None

    def describe(self) -> str:
        if self.everyone:
            return "장애가 난 회선 전부"
        parts = []
        if self.min_continuous_minutes is not None:
            parts.append(f"연속 장애 {self.min_continuous_minutes}분 이상")
        if self.min_monthly_cumulative_minutes is not None:
            op = "초과" if self.monthly_cumulative_exceeds else "이상"
            month = "같은 달(달력 기준) 앞선 장애까지 합한 한 달" if self.monthly_scope == "calendar_month" else "한 달"
            parts.append(f"{month} 누적 장애 {self.min_monthly_cumulative_minutes}분 {op}")
        text = " 또는 ".join(parts)
        if self.below_threshold_on_claim:
            causes = "·".join(CAUSE_KO[c] for c in self.below_threshold_on_claim)
            text += f" (장애 원인이 {causes}이면 기준 미만도 신청 시 보상)"
        return text


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
    # ``claim``: a consolation claim's tier counts the days it claims (days_claimed), accepted at
    # most at the incident's span in days; a claim without days counts the line's outage days. The
    # ledger and the forecasts, made before claims are known, count the outage days.
    days_from: DaysFrom = "outage"

    def describe(self) -> str:
        parts = []
        if self.outage_multiplier:
            bt = self.billable_time
            rounding = ""
            if bt.unit_minutes > 1:
                how = {"up": "올림", "down": "내림", "half_up": "반올림"}[bt.mode]
                what = "장애 시간을" if bt.applies_to == "outage" else "배수를 곱한 시간을"
                rounding = f" ({what} {bt.unit_minutes}분 단위로 {how})"
            parts.append(f"장애 시간 요금의 {self.outage_multiplier}배{rounding}")
        if self.days_of_fee:
            parts.append(f"{self.days_of_fee}일분 요금")
        if self.months_of_fee:
            parts.append(f"{self.months_of_fee}개월분 요금")
        if self.tiers_by_outage_days:
            tiers = ", ".join(f"{t.from_days}일 이상 {t.krw:,}원" for t in self.tiers_by_outage_days)
            if self.days_from == "claim":
                parts.append(f"신청서에 적은 서비스 복구 기간(일)별 정액 ({tiers}; 장애 전체 기간보다 긴 신청은 "
                             "장애 전체 기간으로 인정하고, 일수를 적지 않은 신청은 회선의 장애 일수로 정함)")
            else:
                parts.append(f"장애 일수별 정액 ({tiers})")
        return " + ".join(parts) or "없음"


@dataclass(frozen=True)
class When:
    customer_types: tuple[str, ...] | None = None
    services: tuple[str, ...] | None = None
    regions: tuple[str, ...] | None = None  # as written (normalised)
    # The roster's own spellings of those regions (NFD, stray spaces), set when a roster is read:
    # what the SQL compares, so that `서울` in a policy reaches a line whose region is `서울 `.
    region_values: tuple[str, ...] | None = None

    def describe(self) -> str:
        parts = []
        if self.customer_types:
            parts.append("고객 유형 " + "/".join(CUSTOMER_TYPE_KO.get(t, t) for t in self.customer_types))
        if self.services:
            parts.append("서비스 " + "/".join(SERVICE_KO.get(s, s) for s in self.services))
        if self.regions:
            parts.append("지역 " + "/".join(self.regions))
        return ", ".join(parts)


@dataclass(frozen=True)
class Override:
    """First matching override decides the line's credit (and, if it says so, eligibility)."""

    when: When
    credit: CreditRule
    eligibility: Eligibility | None = None  # None: the policy's eligibility
    combine: Literal["replace", "add"] = "replace"
    # Paid only to those who apply (a claim of kind ``consolation``): fixed amounts added on top
    # (tiers_by_outage_days with combine: add), such as the Ahyeon merchants' consolation money.
    # The ledger still carries the amount a line is entitled to; the claims say who is paid.
    paid_on_claim: bool = False


@dataclass(frozen=True)
class Rounding:
    unit_krw: int = 1
    mode: RoundingMode = "floor"


MONTH_PATTERN = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")
MAX_BILL_MONTHS = 12

ITEM_KO = {
    "plan": "요금제 기본료", "selective_discount": "선택약정 할인", "bundle_discount": "결합 할인",
    "long_term_discount": "장기 고객 할인", "add_on": "부가서비스", "equipment_rental": "장비 임대료",
    "device_instalment": "단말 할부금", "usage": "사용료(통화 등)", "international": "국제전화",
    "information_fee": "정보이용료", "one_off": "일회성 요금",
}


@dataclass(frozen=True)
class FeeBasis:
    """The amount a line's credit is computed on: the roster's ``monthly_fee_krw`` (the default),
    or the line's bills — fixed bill months, or the months before the incident's, averaged when
    more than one — counting some bill items only. A discount item left out is added back.

    Averaging stays exact: the basis is the items' sum over ``n`` months, and the credit's one
    rounding divides by ``n`` as well (fee × minutes ÷ (month minutes × n))."""

    months: tuple[str, ...] = ()  # YYYY-MM; empty with months_before 0: the roster's fee
    months_before: int = 0  # the N bill months before the month the incident starts in
    include: tuple[str, ...] | None = None  # the items counted (None: every item not excluded)
    exclude: tuple[str, ...] = ()
    without_bill: Literal["refuse", "roster_fee"] = "refuse"

    @property
    def roster(self) -> bool:
        return not self.months and not self.months_before

    @property
    def n_months(self) -> int:
        return max(1, len(self.months) or self.months_before)

    @property
    def items(self) -> tuple[str, ...]:
        """The item categories counted."""
        chosen = self.include if self.include is not None else ITEM_CATEGORIES
        return tuple(i for i in chosen if i not in self.exclude)

    @property
    def column(self) -> str:
        """The per-line column the credit reads: ``monthly_fee_krw``, or one named after this basis."""
        if self.roster:
            return "monthly_fee_krw"
        key = f"{self.months}|{self.months_before}|{self.items}|{self.without_bill}"
        return "fee_basis_" + hashlib.sha256(key.encode()).hexdigest()[:12]

    def for_incident(self, start_month: str) -> FeeBasis:
        """Relative months made fixed: the ``months_before`` months before ``start_month``."""
        if not self.months_before:
            return self
        year, month = int(start_month[:4]), int(start_month[5:7])
        index = year * 12 + month - 1
        months = tuple(f"{m // 12:04d}-{m % 12 + 1:02d}" for m in range(index - self.months_before, index))
        return replace(self, months=months, months_before=0)

    def describe(self) -> str:
        if self.roster:
            return "명부의 월정액"
        if self.months:
            when = (f"{self.months[0]} 청구액" if len(self.months) == 1
                    else f"{', '.join(self.months)} 청구액의 평균")
        else:
            when = ("장애 전달 청구액" if self.months_before == 1
                    else f"장애 전 {self.months_before}개월 청구액의 평균")
        parts = [when]
        if self.include is not None:
            parts.append("포함 항목: " + ", ".join(ITEM_KO[i] for i in self.items))
        elif self.exclude:
            left = [i for i in self.exclude if i not in DISCOUNT_ITEMS]
            back = [i for i in self.exclude if i in DISCOUNT_ITEMS]
            if left:
                parts.append("제외 항목: " + ", ".join(ITEM_KO[i] for i in left))
            if back:
                parts.append("할인 전 금액으로 환원: " + ", ".join(ITEM_KO[i] for i in back))
        if self.without_bill == "roster_fee":
            parts.append("청구 내역이 없는 회선은 명부의 월정액")
        return " · ".join(parts)


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
    fee_basis: FeeBasis = field(default_factory=FeeBasis)
    rounding: Rounding = field(default_factory=Rounding)
    delivery: Delivery = field(default_factory=Delivery)
    notes: str = ""
    path: str = ""
    sha256: str = ""
    claims: ClaimRules | None = None  # how claims are decided when compensation is paid on request
    # Plans whose lines get nothing, though their service is covered (the roster's optional ``plan``
    # column), as written (normalised: NFC, trimmed) ...
    exclude_plans: tuple[str, ...] = ()
    # ... and the roster's own spellings of them, set when a roster is read (with_roster_plans): what
    # the SQL compares, so that a name typed in NFC reaches a roster whose plans are in NFD.
    plan_values: tuple[str, ...] | None = None

    def describe(self) -> list[str]:
        """The policy in plain words, one sentence a rule (for the report's appendix)."""
        per_hour = (
            "월정액 ÷ 720시간" if self.hours_per_month == 720
            else "월정액 ÷ (장애가 난 달의 일수 × 24시간)" if self.hours_per_month == "days_in_month"
            else f"월정액 ÷ {self.hours_per_month}시간"
        )
        if not self.fee_basis.roster:
            per_hour = per_hour.replace("월정액", "기준 요금")
        lines = [f"대상 서비스: {', '.join(SERVICE_KO.get(s, s) for s in self.services)} (그 밖의 서비스는 보상 없음)."]
        if self.exclude_plans:
            lines.append(f"보상 제외 요금제: {', '.join(self.exclude_plans)} (대상 서비스라도 이 요금제의 회선은 "
                         "보상 없음).")
        lines += [
            f"보상 대상: {self.eligibility.describe()}.",
            f"보상액: {self.credit.describe()}; 시간당 요금 = {per_hour}.",
        ]
        if self.eligibility.monthly_scope == "calendar_month":
            lines.append(CALENDAR_MONTH_KO)
        if not self.fee_basis.roster:
            lines.append(f"기준 요금: {self.fee_basis.describe()}.")
        for o in self.overrides:
            verb = "에 더해" if o.combine == "add" else " 대신"
            if o.paid_on_claim:
                verb += " (신청한 경우에만)"
            elig = f" (대상: {o.eligibility.describe()})" if o.eligibility else ""
            lines.append(f"{o.when.describe()}: 기본 보상{verb} {o.credit.describe()}{elig}.")
        r = self.rounding
        mode = {"floor": "내림", "ceil": "올림", "half_up": "반올림"}[r.mode]
        lines.append(f"회선별 보상액은 {r.unit_krw:,}원 단위로 {mode}합니다.")
        d = self.delivery
        how = {"bill_credit": "요금 차감", "cash_on_request": "요청 시 현금", "cash": "현금"}[d.method]
        claim = "고객 신청 시" if d.claim_required else "신청 없이 자동으로"
        window = f", 신청 기한 {d.claim_window_days}일" if d.claim_window_days else ""
        when = {"next_bill": "다음 청구서", "bill_after_next": "다다음 청구서"}.get(
            d.applied_on, f"{d.applied_on} 청구서" if len(d.applied_on) == 7 else d.applied_on)
        lines.append(f"지급: {how}, {claim}, {when}{window}.")
        if self.claims is not None:
            lines.append(f"신청: {self.claims.describe()}.")
        return lines


def policy_catalogue(folder: Path) -> list[Path]:
    """Every policy of the catalogue seen from an incident in ``folder`` (paths.catalogue_for):
    the workspace's and the project's first, then the built-in ones, one file per id."""
    return catalogue_for(folder).files("policies")


def resolve_data_file(ref: str, folder: Path, kind: str, what: str, referrer: str, where: str) -> Path:
    """An id in the catalogue (``<kind>/<id>.yml`` of the workspace, the project or the package),
    or a path (relative to the referring file's ``folder``; paths.resolve_input_path)."""
    if ID_PATTERN.match(ref):
        catalogue = catalogue_for(folder)
        path = catalogue.find(kind, ref)
        if path is None:
            known = catalogue.ids(kind)
            near = closest(ref, known)
            hint = f"did you mean {', '.join(near)}? " if near else ""
            raise InputError(referrer, where, f"{what} {ref!r} is not in the catalogue ({catalogue.describe()})",
                             f"{hint}use one of: {', '.join(known) or 'none'} (`kt-analysis policies` lists them), "
                             f"or add {kind}/{ref}.yml to your workspace")
        return path
    try:
        path = resolve_input_path(ref, folder, find_project_root(folder))
    except InputError as exc:
        raise InputError(referrer, where, exc.problem, exc.fix) from None
    if not path_exists(path):
        raise InputError(referrer, where, f"{what} file {ref!r} not found (looked for {path})",
                         "check the path: it is relative to the folder of the file that names it")
    return path


def resolve_policy(ref: str, folder: Path, referrer: str, where: str) -> Path:
    """A policy id in the catalogue or a path (relative to ``folder``, the incident's folder)."""
    return resolve_data_file(ref, folder, "policies", "policy", referrer, where)


def load_policy(path: str | Path) -> Policy:
    """Read and validate a policy file; every problem is an :class:`InputError`."""
    path = Path(path)
    return replace(policy_from_mapping(read_yaml_mapping(path, "policy"), path), sha256=sha256_file(path))


def policy_from_mapping(data: dict[str, Any], path: str | Path) -> Policy:
    """Validate a policy's YAML mapping exactly as :func:`load_policy` validates a file's (``path``:
    what the messages name and the policy's ``path``; its ``sha256`` is left empty). A what-if's
    policy with changes applied is checked here (jobs/what_if.py)."""
    path = Path(path)
    doc = Section(data, path, "")
    pid = doc.text("id")
    if not ID_PATTERN.match(pid):
        raise doc.error("id", f"{pid!r} is not a valid id", "use lower-case letters, digits and -")
    title = doc.text("title")
    sources = doc.text_list("sources", ())
    notes = doc.text("notes", "")
    services = doc.text_list("services", choices=SERVICES)
    exclude_plans = _plan_names(doc, "exclude_plans")
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
    fee_basis = _fee_basis(doc)
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
    overrides = _inherit_monthly_scope(doc, eligibility, overrides)
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
        _check_applied_on(dsec, delivery.applied_on)
        dsec.done()
    csec = doc.section("claims", None)  # `claims` is a known top-level key from here on
    claims = parse_claim_rules(csec) if csec is not None else None
    if claims is not None and delivery.claim_window_days not in (None, claims.window_days):
        raise csec.error("window_days", f"is {claims.window_days}, but delivery.claim_window_days is "
                         f"{delivery.claim_window_days}", "give the claim window once (claims.window_days), or the "
                         "same number in both")
    doc.done()
    return Policy(
        id=pid, title=title, sources=sources, services=services, eligibility=eligibility,
        hours_per_month=hours_per_month, credit=credit, overrides=tuple(overrides),
        fee_basis=fee_basis, rounding=rounding, delivery=delivery, notes=notes, path=str(path),
        claims=claims, exclude_plans=exclude_plans,
    )


def _plan_names(sec: Section, name: str) -> tuple[str, ...]:
    """Plan names (``exclude_plans``), normalised as region names are (NFC, trimmed); a blank name
    and a name given twice are refused. Whether the roster has them is checked when it is read."""
    if sec.raw(name, None) == []:
        raise sec.error(name, "is an empty list", f"name the plans to leave out, or remove {name}")
    values = sec.text_list(name, ())
    out: list[str] = []
    for i, value in enumerate(values):
        norm = normalize(value)
        where = f"{sec.key(name)}[{i}]"
        if not norm:
            raise InputError(sec.path, where, f"{value!r} is blank", "write the plan's name as the roster's plan "
                             "column has it")
        if norm in out:
            raise InputError(sec.path, where, f"names {norm!r} again (also {sec.key(name)}[{out.index(norm)}])",
                             "list each plan once")
        out.append(norm)
    return tuple(out)


def _fee_basis(doc: Section) -> FeeBasis:
    """``fee_basis``: ``roster`` (the default), or a mapping naming the bill months and items."""
    raw = doc.raw("fee_basis", "roster")
    if raw == "roster":
        return FeeBasis()
    if not isinstance(raw, dict):
        raise doc.error("fee_basis", f"is {raw!r}, not roster or a mapping",
                        "write fee_basis: roster, or fee_basis: {bills: [\"2021-10\"], exclude: [usage]}")
    sec = doc.section("fee_basis")
    if sec.has("bills") == sec.has("bills_before_incident"):
        raise sec.error("bills", "names the bill months with bills or bills_before_incident, not "
                        + ("both" if sec.has("bills") else "neither"),
                        "write bills: [\"2021-10\"] (fixed months) or bills_before_incident: 1 (the month before)")
    months: tuple[str, ...] = ()
    before = 0
    if sec.has("bills"):
        months = sec.text_list("bills")
        for i, month in enumerate(months):
            if not MONTH_PATTERN.match(month):
                raise InputError(sec.path, f"{sec.key('bills')}[{i}]", f"{month!r} is not a bill month",
                                 "write months as quoted YYYY-MM, e.g. \"2021-10\"")
        if len(set(months)) != len(months):
            raise sec.error("bills", "names a month twice", "list each bill month once")
        if len(months) > MAX_BILL_MONTHS:
            raise sec.error("bills", f"names {len(months)} months", f"average at most {MAX_BILL_MONTHS} months")
        months = tuple(sorted(months))
    else:
        before = sec.integer("bills_before_incident", minimum=1, maximum=MAX_BILL_MONTHS)
    if sec.has("include") and sec.has("exclude"):
        raise sec.error("exclude", "is given together with include", "name the items counted or those left out, "
                        "not both")
    include = sec.text_list("include", None, choices=ITEM_CATEGORIES)
    exclude = sec.text_list("exclude", (), choices=ITEM_CATEGORIES)
    basis = FeeBasis(months=months, months_before=before, include=include, exclude=exclude,
                     without_bill=sec.text("without_bill", "refuse", choices=("refuse", "roster_fee")))
    if not basis.items:
        raise sec.error("exclude" if exclude else "include", "leaves no bill item to count",
                        f"count at least one of {', '.join(ITEM_CATEGORIES)}")
    if set(basis.items) <= set(DISCOUNT_ITEMS):
        raise sec.error("include", "counts discounts only (a negative fee)", "include the plan fee as well")
    sec.done()
    return basis


def with_cause(policy: Policy, cause: str) -> Policy:
    """The policy for an incident of ``cause``: where its eligibility (or an override's) pays lines
    below the thresholds on claim for that cause, every line is eligible (``on_claim_now``)."""
    def caused(e: Eligibility) -> Eligibility:
        return replace(e, on_claim_now=True) if cause in e.below_threshold_on_claim else e
    if not any(cause in e.below_threshold_on_claim for e in (
            policy.eligibility, *(o.eligibility for o in policy.overrides if o.eligibility is not None))):
        return policy
    overrides = tuple(replace(o, eligibility=caused(o.eligibility)) if o.eligibility is not None else o
                      for o in policy.overrides)
    return replace(policy, eligibility=caused(policy.eligibility), overrides=overrides)


def for_incident(policy: Policy, start_month: str) -> Policy:
    """The policy with a fee basis relative to the incident (``bills_before_incident``) made fixed."""
    basis = policy.fee_basis.for_incident(start_month)
    return policy if basis is policy.fee_basis else replace(policy, fee_basis=basis)


def _check_applied_on(sec: Section, value: str) -> None:
    """A bill month or cash day must be a real day in the years the business calendar covers: the
    day each credit lands is computed from it, so a typo would otherwise fail deep inside the run."""
    if not re.match(r"^\d{4}-", value):
        return
    first, last = DEFAULT_YEARS.start, DEFAULT_YEARS.stop - 1
    if not first <= int(value[:4]) <= last:
        raise sec.error("applied_on", f"{value} is outside the years this tool settles ({first}-{last})",
                        "check the year (a typo such as 2204 for 2024?)")
    if len(value) == 10:
        try:
            date.fromisoformat(value)
        except ValueError:
            raise sec.error("applied_on", f"{value} is not a day of the calendar", "check the day of the month") \
                from None


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
        monthly_scope=sec.text("monthly_scope", "incident", choices=("incident", "calendar_month")),
        below_threshold_on_claim=sec.text_list("below_threshold_on_claim", (), choices=CAUSES) or (),
    )
    if result.below_threshold_on_claim and result.everyone:
        raise sec.error("below_threshold_on_claim", "is set, but there is no threshold to be below",
                        "add min_continuous_minutes or min_monthly_cumulative_minutes, or remove it")
    if result.monthly_scope == "calendar_month" and result.min_monthly_cumulative_minutes is None:
        raise sec.error("monthly_scope", "is calendar_month, but there is no min_monthly_cumulative_minutes to "
                        "count across the month", "add min_monthly_cumulative_minutes, or remove monthly_scope")
    sec.done()
    return result


def _inherit_monthly_scope(sec: Section, eligibility: Eligibility, overrides: list[Override]) -> list[Override]:
    """Overrides count the month as the policy does. Across the month one threshold decides which
    earlier minutes a credit takes in, so an override's eligibility keeps the policy's monthly
    threshold or has none."""
    if eligibility.monthly_scope == "incident":
        return overrides
    out = []
    for i, o in enumerate(overrides):
        e = o.eligibility
        if e is not None:
            if e.min_monthly_cumulative_minutes is not None and (
                    (e.min_monthly_cumulative_minutes, e.monthly_cumulative_exceeds)
                    != (eligibility.min_monthly_cumulative_minutes, eligibility.monthly_cumulative_exceeds)):
                raise InputError(sec.path, f"credit.overrides[{i}].eligibility.min_monthly_cumulative_minutes",
                                 "differs from the policy's monthly threshold, which monthly_scope: calendar_month "
                                 "counts across the month for every line",
                                 "use the policy's min_monthly_cumulative_minutes and monthly_cumulative_exceeds "
                                 "here, or leave the monthly threshold out of the override")
            o = replace(o, eligibility=replace(e, monthly_scope=eligibility.monthly_scope))
        out.append(o)
    return out


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
        regions=_normalized(wsec.text_list("regions", None)),
    )
    wsec.done()
    if when == When():
        raise sec.error("when", "matches every line", "name customer_type, services or regions")
    eligibility = None
    esec = sec.section("eligibility", None)
    if esec is not None:
        if esec.has("monthly_scope"):
            raise esec.error("monthly_scope", "is set for the whole policy, not per override",
                             "write monthly_scope under the policy's eligibility: (overrides inherit it)")
        eligibility = _eligibility(esec, path)
    combine = sec.text("combine", "replace", choices=("replace", "add"))
    paid_on_claim = sec.boolean("paid_on_claim", False)
    days_from = sec.text("days_from", "outage", choices=DAYS_FROM)
    sec.used.update({"when", "eligibility", "combine", "paid_on_claim", "days_from"})
    credit = replace(_credit_rule(sec, path), days_from=days_from)
    sec.done()
    if days_from == "claim" and not paid_on_claim:
        raise sec.error("days_from", "is claim, but the override is not paid on claim: only a consolation claim "
                        "names the days it was out (days_claimed)",
                        "add paid_on_claim: true (with combine: add and tiers_by_outage_days), or remove days_from "
                        "(the tiers then count the line's outage days)")
    if paid_on_claim and (combine != "add" or not credit.tiers_by_outage_days or credit.outage_multiplier
                          or credit.days_of_fee or credit.months_of_fee):
        raise sec.error("paid_on_claim", "is for fixed amounts paid on application on top of the credit",
                        "use it with combine: add and tiers_by_outage_days only (no multiplier, days or months "
                        "of fee), or remove it")
    return Override(when=when, credit=credit, eligibility=eligibility, combine=combine,
                    paid_on_claim=paid_on_claim)


def _normalized(names: tuple[str, ...] | None) -> tuple[str, ...] | None:
    return None if names is None else tuple(normalize(n) for n in names)


def with_roster_spellings(policy: Policy, roster_regions: list[str]) -> Policy:
    """The policy with each override's regions matched to the roster's own spellings of them
    (same name after NFC and trimming); a policy without region conditions is returned as it is."""
    if not any(o.when.regions for o in policy.overrides):
        return policy
    spellings: dict[str, list[str]] = {}
    for raw in roster_regions:
        if raw is not None:
            spellings.setdefault(normalize(raw), []).append(raw)
    overrides = []
    for o in policy.overrides:
        if o.when.regions:
            values = tuple(v for r in o.when.regions for v in spellings.get(r, []))
            o = replace(o, when=replace(o.when, region_values=values or None))
        overrides.append(o)
    return replace(policy, overrides=tuple(overrides))


def with_roster_plans(policy: Policy, roster_plans: list[str | None]) -> Policy:
    """The policy with its excluded plans matched to the roster's own spellings of them (same name
    after NFC and trimming); a policy that excludes no plan is returned as it is. A name no roster
    plan has matches nothing (:func:`unmatched_plans` says which: the engines refuse or leave out
    such a policy before it is computed)."""
    if not policy.exclude_plans:
        return policy
    spellings = _spellings(roster_plans)
    values = tuple(v for name in policy.exclude_plans for v in spellings.get(name, []))
    return replace(policy, plan_values=values)


def unmatched_plans(policy: Policy, roster_plans: list[str | None]) -> list[tuple[int, str]]:
    """(index in ``exclude_plans``, name) of each excluded plan no roster line has."""
    known = _spellings(roster_plans)
    return [(i, name) for i, name in enumerate(policy.exclude_plans) if name not in known]


def _spellings(raw_names: list[str | None]) -> dict[str, list[str]]:
    """The roster's spellings of each name, by normalised name."""
    spellings: dict[str, list[str]] = {}
    for raw in raw_names:
        if raw is not None:
            spellings.setdefault(normalize(raw), []).append(raw)
    return spellings
