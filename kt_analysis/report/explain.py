"""One line explained: the answer a support centre gives a customer (issue #16).

For one line of an outage's run this reads the ledger's row (the truth: what was decided and paid)
and the line's inputs (its roster row, the incident's windows, its bill items when the policy
computes on bills), and recomputes, in Python integers, every step the engine took: the windows
that reached the line, its minutes, the eligibility rule that decided, and the credit formula with
the line's own numbers (fee basis, hours, multiplier, rounding) ending in the ledger's ``credit_krw``.

The recomputation is checked against the ledger before anything is shown: a step that disagrees
raises :class:`ExplanationMismatch` (a wrong explanation is worse than none). Personal data: the
roster's names and phone numbers are never read; the line is named by its line and customer ids.

:func:`explain_line` is the entry point; ``kt-analysis explain`` (kt_analysis/jobs/explain.py) and
``IncidentView.explain`` (the notebooks) render its :class:`Explanation` as text or HTML.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import date, datetime
from fractions import Fraction
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import duckdb
from markupsafe import Markup

from kt_analysis.dbrow import connect, quote
from kt_analysis.errors import InputError, RunError
from kt_analysis.inputs.bill_items import open_bill_items
from kt_analysis.inputs.incident import Incident, Window, elapsed_minutes
from kt_analysis.inputs.names import normalize
from kt_analysis.inputs.policy import (
    ITEM_KO,
    CreditRule,
    Eligibility,
    Override,
    Policy,
    for_incident,
    with_cause,
)
from kt_analysis.inputs.roster import RosterSource, open_roster
from kt_analysis.inputs.schema import CUSTOMER_TYPE_KO, SERVICE_KO
from kt_analysis.report import present
from kt_analysis.rules.credits import across_month
from kt_analysis.rules.impact import exposure_of

REASON_KO = {
    "all_affected": "장애가 난 회선 전부 보상", "continuous": "연속 장애 시간 기준 충족",
    "monthly_cumulative": "한 달 누적 장애 시간 기준 충족", "below_threshold": "기준 미달",
    "on_claim": "기준 미달이지만 장애 원인(고의·중과실)으로 신청 시 보상",
    "service_not_covered": "보상 대상 서비스 아님", "plan_not_covered": "보상 제외 요금제",
}
MODE_KO = {"up": "올림", "down": "내림", "half_up": "반올림", "floor": "내림", "ceil": "올림"}
NEAREST = 3  # line ids named when a line id is not in the roster


class ExplanationMismatch(RunError):
    """The explanation's arithmetic disagrees with the ledger: nothing is shown (exit 1)."""


@dataclass(frozen=True)
class WindowReach:
    """A window that reached the line."""

    start: str  # ISO, minutes, local time
    end: str
    minutes: int  # minutes that really passed
    where: str  # Korean: 전국, regions, facilities
    services: str  # Korean


@dataclass(frozen=True)
class Part:
    """One part of the credit: its words and its share of the numerator (won × divisor)."""

    label: str
    text: str
    numerator: int


@dataclass
class Explanation:
    """What the incident decided for one line, and why, in numbers the ledger agrees with."""

    incident_id: str
    incident_title: str
    policy_id: str
    policy_title: str
    line_id: int
    customer_id: int
    service: str
    region: str
    facility_id: str
    customer_type: str
    plan: str | None
    reached: bool
    not_reached: list[str] = field(default_factory=list)  # why no window reached it
    windows: list[WindowReach] = field(default_factory=list)
    merged_note: str = ""
    outage_start: str | None = None
    outage_end: str | None = None
    outage_minutes: int | None = None
    longest_continuous_minutes: int | None = None
    monthly_cumulative_minutes: int | None = None
    outage_days: int | None = None
    days_in_month: int | None = None  # of the month the outage started in (a policy on `days_in_month`)
    eligible: bool | None = None
    eligibility_reason: str | None = None
    rule: str | None = None
    rule_text: str = ""  # the rule in words (base, override n and its condition)
    decision: list[str] = field(default_factory=list)  # the eligibility's comparisons with the line's numbers
    fee_basis: str = ""  # Korean: what the fee is
    fee_krw: int | None = None  # the fee basis's sum over its months (one month: the fee)
    fee_months: int = 1
    fee_detail: list[str] = field(default_factory=list)  # bill items counted, per month
    parts: list[Part] = field(default_factory=list)
    divisor: int = 1
    formula: str = ""
    credit_krw: int = 0
    credit_on: str | None = None
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    # ----- rendering ------------------------------------------------------------------------
    def lines_ko(self) -> list[tuple[str, list[str]]]:
        """(section title, lines) in Korean: what text and HTML show."""
        who = (f"회선 {self.line_id} (고객 번호 {self.customer_id}) · {present.label(self.service, SERVICE_KO)} · "
               f"{self.region} {self.facility_id} · {CUSTOMER_TYPE_KO.get(self.customer_type, self.customer_type)}"
               + (f" · 요금제 {self.plan}" if self.plan else ""))
        sections: list[tuple[str, list[str]]] = [("회선", [who, f"사고: {self.incident_title} ({self.incident_id})",
                                                         f"보상 정책: {self.policy_title}"])]
        if not self.reached:
            sections.append(("장애 영향 없음", ["이 사고의 장애 구간 중 이 회선에 해당하는 구간이 없어 보상 대상이 "
                                           "아닙니다 (보상액 0원).", *self.not_reached]))
            return sections
        win = [f"{_dt(w.start)} ~ {_dt(w.end)} ({present.duration_korean(w.minutes)}) · {w.where} · {w.services}"
               for w in self.windows]
        if self.merged_note:
            win.append(self.merged_note)
        sections.append(("이 회선에 해당한 장애 구간", win))
        assert self.outage_minutes is not None and self.longest_continuous_minutes is not None
        assert self.monthly_cumulative_minutes is not None and self.outage_days is not None
        sections.append(("장애 시간", [
            f"장애 시간(겹친 구간은 한 번만): {self.outage_minutes:,}분 "
            f"({present.duration_korean(self.outage_minutes)})",
            f"가장 긴 연속 장애: {self.longest_continuous_minutes:,}분",
            f"한 달 누적 장애: {self.monthly_cumulative_minutes:,}분",
            f"장애 일수(일 단위 올림): {self.outage_days}일",
        ]))
        verdict = "보상 대상" if self.eligible else "보상 대상 아님"
        sections.append(("보상 대상 판정", [
            f"적용 규칙: {self.rule_text}", *self.decision,
            f"판정: {verdict} — {REASON_KO.get(self.eligibility_reason or '', self.eligibility_reason)}",
        ]))
        money = [f"기준 요금: {self.fee_basis}", *self.fee_detail, f"계산: {self.formula}"]
        if self.credit_on:
            money.append(f"지급(차감) 예정일: {present.korean_date(date.fromisoformat(self.credit_on))}")
        sections.append(("보상액", money + self.notes))
        return sections

    def text(self) -> str:
        out = []
        for title, lines in self.lines_ko():
            out.append(f"[{title}]")
            out += [f"  {line}" for line in lines]
        out.append(f"보상액: {self.credit_krw:,}원")
        return "\n".join(out)

    def html(self) -> str:
        parts = [Markup('<div class="kt-explain"><h3>회선 {} 보상 설명</h3>').format(self.line_id)]
        for title, lines in self.lines_ko():
            items = Markup("").join(Markup("<li>{}</li>").format(line) for line in lines)
            parts.append(Markup("<h4>{}</h4><ul>{}</ul>").format(title, items))
        parts.append(Markup('<p><strong>보상액: <span data-key="credit_krw">{}</span>원</strong></p></div>').format(
            f"{self.credit_krw:,}"))
        return str(Markup("").join(parts))


def _dt(iso: str) -> str:
    return present.korean_datetime(datetime.fromisoformat(iso))


# ----- reading the line ---------------------------------------------------------------------------

def parse_line_id(value: object) -> int:
    """A line id as the roster holds it (a whole number); anything else is refused (exit 2)."""
    text = str(value).strip().replace(",", "")
    try:
        return int(text)
    except ValueError:
        raise InputError("LINE_ID", "", f"{str(value)[:40]!r} is not a line id",
                         "give the line's line_id as the roster has it (a whole number)") from None


def roster_row(con: duckdb.DuckDBPyConnection, source: RosterSource, line_id: int,
               where: str) -> dict[str, Any]:
    """The line's roster attributes (never its name or phone); refused when the roster has no such line."""
    cols = ["line_id", "customer_id", "service", "monthly_fee_krw", "region", "facility_id", "customer_type"]
    if source.has("plan"):
        cols.append("plan")
    cur = con.execute(f"SELECT {', '.join(cols)} FROM {source.sql} WHERE line_id = ?", [line_id])
    rows = cur.fetchall()
    if not rows:
        near = [r[0] for r in con.execute(
            f"SELECT line_id FROM {source.sql} ORDER BY abs(line_id - ?::BIGINT), line_id LIMIT {NEAREST}",
            [line_id]).fetchall()]
        fix = ("the closest line ids are " + ", ".join(str(n) for n in near)) if near else "the roster has no lines"
        raise InputError(where, "line_id", f"{line_id} is not a line of this roster", fix)
    if len(rows) > 1:
        raise InputError(where, "line_id", f"{line_id} appears {len(rows)} times in the roster",
                         "a line id names one line")
    row = dict(zip(cols, rows[0], strict=True))
    row.setdefault("plan", None)
    return row


def ledger_row(con: duckdb.DuckDBPyConnection, ledger: Path, line_id: int) -> dict[str, Any] | None:
    cur = con.execute(f"SELECT * FROM read_parquet({quote(ledger)}) WHERE line_id = ?", [line_id])
    names = [d[0] for d in cur.description]
    rows = cur.fetchall()
    if len(rows) > 1:
        raise ExplanationMismatch(f"{ledger}: line {line_id} has {len(rows)} rows in the ledger — re-run the incident")
    return dict(zip(names, rows[0], strict=True)) if rows else None


# ----- windows and minutes --------------------------------------------------------------------------

def _misses(incident: Incident, w: Window, line: dict[str, Any]) -> list[str]:
    """Why window ``w`` does not reach the line (empty: it does), as :func:`rules.impact.match_windows` decides."""
    why = []
    service = line["service"]
    if incident.services and service not in incident.services:
        why.append(f"서비스 {present.label(service, SERVICE_KO)}는 이 사고의 장애 서비스"
                   f"({_services(incident.services)})가 아님")
    if w.services and service not in w.services:
        why.append(f"서비스 {present.label(service, SERVICE_KO)} ≠ {_services(w.services)}")
    if w.regions and normalize(line["region"]) not in w.regions:
        why.append(f"지역 {normalize(line['region'])} ≠ {_names(w.regions)}")
    if w.facilities and normalize(line["facility_id"]) not in w.facilities:
        why.append(f"국사 {normalize(line['facility_id'])} ≠ {_names(w.facilities)}")
    return why


def _services(codes: tuple[str, ...]) -> str:
    return "/".join(present.label(s, SERVICE_KO) for s in codes)


def _names(names: tuple[str, ...], limit: int = 4) -> str:
    return ", ".join(names[:limit]) + (f" 외 {len(names) - limit}곳" if len(names) > limit else "")


def _where(w: Window) -> str:
    parts = []
    if w.regions:
        parts.append("지역 " + _names(w.regions))
    if w.facilities:
        parts.append("국사 " + _names(w.facilities))
    return " · ".join(parts) or "전국"


def _not_reached(incident: Incident, line: dict[str, Any]) -> list[str]:
    """Why no window reached the line: per attribute (service, region, facility), the line's value
    against the names the windows give; or, when each is named by some window, that none names all."""
    service, region, facility = line["service"], normalize(line["region"]), normalize(line["facility_id"])
    out = []
    if incident.services and service not in incident.services:
        out.append(f"서비스: 이 회선은 {present.label(service, SERVICE_KO)}, 이 사고의 장애 서비스는 "
                   f"{_services(incident.services)}")
    dims = (("서비스", service, lambda w: w.services, lambda v: present.label(v, SERVICE_KO)),
            ("지역", region, lambda w: w.regions, str), ("국사", facility, lambda w: w.facilities, str))
    for word, value, names, show in dims:
        restricting = [names(w) for w in incident.windows if names(w)]
        if len(restricting) < len(incident.windows):
            continue  # some window does not restrict it: any value passes there
        named = sorted({n for ns in restricting for n in ns})
        if value not in named and not (word == "서비스" and out):  # the incident's services said it already
            listed = ", ".join(show(n) for n in named[:5]) + (f" 외 {len(named) - 5}곳" if len(named) > 5 else "")
            out.append(f"{word}: 이 회선은 {show(value)}, 장애 구간의 {word}: {listed}")
    if not out:
        out.append("서비스·지역·국사가 각각은 어떤 장애 구간에 해당하지만, 세 가지가 모두 맞는 구간이 없습니다")
    return out


# ----- the policy as the engine applies it ------------------------------------------------------------

def applied_policy(incident: Incident) -> Policy:
    """The incident's policy as the ledger applied it: below-threshold lines paid on claim for its
    cause, a fee basis relative to the incident made fixed (engine/duckdb_engine.roster_spellings)."""
    policy = with_cause(incident.credit_policy, incident.cause)
    return for_incident(policy, f"{incident.start:%Y-%m}")


def _matches(o: Override, line: dict[str, Any]) -> bool:
    w = o.when
    if w.customer_types and line["customer_type"] not in w.customer_types:
        return False
    if w.services and line["service"] not in w.services:
        return False
    return not (w.regions and normalize(line["region"]) not in w.regions)


def _eligible(e: Eligibility, longest: int, monthly: int) -> tuple[bool, str, list[str]]:
    """(eligible, reason, the comparisons in words) as rules/credits.eligible and reason decide."""
    if e.everyone:
        return True, "all_affected", ["기준 시간 없음: 장애가 난 회선은 모두 보상 대상"]
    words, reason = [], None
    if e.min_continuous_minutes is not None:
        ok = longest >= e.min_continuous_minutes
        words.append(f"가장 긴 연속 장애 {longest:,}분 {'≥' if ok else '<'} 기준 {e.min_continuous_minutes:,}분(이상): "
                     f"{'충족' if ok else '미달'}")
        reason = reason or ("continuous" if ok else None)
    if e.min_monthly_cumulative_minutes is not None:
        t = e.min_monthly_cumulative_minutes
        if e.monthly_cumulative_exceeds:
            ok, sign = monthly > t, (">" if monthly > t else "≤")
        else:
            ok, sign = monthly >= t, ("≥" if monthly >= t else "<")
        month = "같은 달 앞선 장애까지 합한 한 달 누적" if e.monthly_scope == "calendar_month" else "한 달 누적 장애"
        op = "초과" if e.monthly_cumulative_exceeds else "이상"
        words.append(f"{month} {monthly:,}분 {sign} 기준 {t:,}분({op}): "
                     f"{'충족' if ok else '미달'}")
        reason = reason or ("monthly_cumulative" if ok else None)
    if reason is not None:
        return True, reason, words
    if e.on_claim_now:
        words.append("장애 원인이 기준 미달도 신청 시 보상하는 원인이라, 기준 미달이어도 보상 대상")
        return True, "on_claim", words
    return False, "below_threshold", words


# ----- the credit, in integers ----------------------------------------------------------------------

@dataclass(frozen=True)
class Numbers:
    """The line's numbers the credit reads."""

    fee: int | None  # the fee basis (sum over its months)
    n: int  # months of the fee basis
    month_minutes: int  # M: minutes in a month
    outage: int
    days: int  # outage days
    fee_label: str


def _round_minutes(m: int, unit: int, mode: str) -> int:
    if unit == 1:
        return m
    if mode == "up":
        return (m + unit - 1) // unit * unit
    if mode == "down":
        return m // unit * unit
    return (2 * m + unit) // (2 * unit) * unit


def _unit_ko(unit: int) -> str:
    return {60: "시간 단위", 1440: "일 단위"}.get(unit, f"{unit:,}분 단위")


def rule_parts(rule: CreditRule, x: Numbers, label: str, on_claim: bool = False) -> list[Part]:
    """The parts of ``rule``'s credit for the line, each with its numerator (× M × n), as
    :func:`kt_analysis.rules.credits.numerator` computes them."""
    parts: list[Part] = []
    minutes, pieces = 0, []
    if rule.outage_multiplier:
        bt, k, o = rule.billable_time, rule.outage_multiplier, x.outage
        how = MODE_KO[bt.mode]
        if bt.applies_to == "outage":
            r = _round_minutes(o, bt.unit_minutes, bt.mode)
            billable = r * k
            pieces.append(f"{o:,}분" + (f" → {_unit_ko(bt.unit_minutes)} {how} {r:,}분" if r != o or bt.unit_minutes > 1
                                        else "") + f" × {k}배 = {billable:,}분")
        else:
            billable = _round_minutes(o * k, bt.unit_minutes, bt.mode)
            pieces.append(f"{o:,}분 × {k}배 = {o * k:,}분"
                          + (f" → {_unit_ko(bt.unit_minutes)} {how} {billable:,}분" if bt.unit_minutes > 1 else ""))
        minutes += billable
    if rule.days_of_fee:
        minutes += rule.days_of_fee * 1440
        pieces.append(f"{rule.days_of_fee}일분 {rule.days_of_fee * 1440:,}분")
    if rule.months_of_fee:
        minutes += rule.months_of_fee * x.month_minutes
        pieces.append(f"{rule.months_of_fee}개월분 {rule.months_of_fee * x.month_minutes:,}분")
    if minutes or pieces:
        if x.fee is None:
            raise ExplanationMismatch("the line has no fee basis (no bill in the basis's months), yet the ledger "
                                      "credits it — re-run the incident")
        fee = x.fee_label
        if not rule.outage_multiplier and not rule.days_of_fee:
            text = f"{fee} × {rule.months_of_fee}개월분"
        else:
            m, t = x.month_minutes, minutes
            if m % 60 == 0 and t % 60 == 0:
                text = f"{fee} ÷ {m // 60:,}시간 × {t // 60:,}시간({' + '.join(pieces)})"
            else:
                text = f"{fee} ÷ {m:,}분 × {t:,}분({' + '.join(pieces)})"
        parts.append(Part(label, text, x.fee * minutes))
    if rule.tiers_by_outage_days:
        tiers = sorted(rule.tiers_by_outage_days, key=lambda t: -t.from_days)
        tier = next((t for t in tiers if x.days >= t.from_days), None)
        krw = tier.krw if tier is not None else 0
        band = f"{tier.from_days}일 이상 구간" if tier is not None else "해당 구간 없음"
        text = f"장애 {x.days}일 정액({band}) {krw:,}원"
        if on_claim:
            text += " (신청한 경우에만 지급"
            text += "; 신청서에 적은 복구 기간(일)으로 구간을 다시 정함)" if rule.days_from == "claim" else ")"
        parts.append(Part(label, text, krw * x.month_minutes * x.n))
    return parts


def round_div(num: int, den: int, unit: int, mode: str) -> int:
    """``num / den`` rounded to ``unit`` won, as :func:`kt_analysis.rules.credits.round_div`."""
    d = den * unit
    if mode == "floor":
        q = num // d
    elif mode == "ceil":
        q = (num + d - 1) // d
    else:
        q = (2 * num + d) // (2 * d)
    return q * unit


def _won(value: Fraction) -> str:
    if value.denominator == 1:
        return f"{int(value):,}원"
    whole = value.numerator // value.denominator
    cents = (value - whole) * 100
    exact = cents.denominator == 1
    return f"{'' if exact else '약 '}{whole:,}.{int(cents):02d}원"


def formula(parts: list[Part], divisor: int, credit: int, unit: int, mode: str) -> str:
    how = f"{'원' if unit == 1 else f'{unit:,}원'} 단위 {MODE_KO[mode]}"
    exact = Fraction(sum(p.numerator for p in parts), divisor)
    terms = [p.text for p in parts] or ["보상 없음"]
    lhs = " + ".join(terms)
    if len(parts) > 1:
        lhs += " = " + " + ".join(_won(Fraction(p.numerator, divisor)) for p in parts)
    if exact == credit:
        return f"{lhs} = {credit:,}원 ({how})"
    return f"{lhs} = {_won(exact)} → {how} {credit:,}원"


# ----- the line explained --------------------------------------------------------------------------

def _fee(ex: LineExplainer, policy: Policy, line: dict[str, Any]) -> tuple[int | None, list[str], str]:
    """(the fee basis's sum over its months or None, its detail in words, its label)."""
    basis = policy.fee_basis
    roster_fee = int(line["monthly_fee_krw"])
    if basis.roster:
        return roster_fee, [], f"월 요금 {roster_fee:,}원"
    assert ex.incident.bill_items is not None, "the loader refuses a bills-based policy without bill items"
    if ex.items_sql is None:
        ex.items_sql = open_bill_items(ex.con, ex.incident.bill_items).sql
    rows = ex.con.execute(
        f"SELECT bill_month, item, CAST(sum(amount_krw) AS BIGINT) FROM {ex.items_sql} WHERE line_id = ? "
        f"AND bill_month IN ({', '.join(quote(m) for m in basis.months)}) GROUP BY ALL ORDER BY ALL",
        [line["line_id"]]).fetchall()
    have = sorted({m for m, _, _ in rows})
    counted = [(m, i, a) for m, i, a in rows if i in basis.items]
    detail = []
    for month in have:
        mine = [(i, a) for m, i, a in counted if m == month]
        left = sorted({i for m, i, _ in rows if m == month and i not in basis.items})
        summed = " + ".join(f"{ITEM_KO.get(i, i)} {a:,}원" for i, a in mine) or "해당 항목 없음"
        detail.append(f"{month} 청구: {summed}"
                      + f" = {sum(a for _, a in mine):,}원"
                      + (f" (제외: {', '.join(ITEM_KO.get(i, i) for i in left)})" if left else ""))
    n = basis.n_months
    if len(have) == n:
        fee = sum(a for _, _, a in counted)
    elif basis.without_bill == "roster_fee":
        detail.append(f"{', '.join(basis.months)} 중 청구 내역이 없는 달이 있어 명부의 월 요금 "
                      f"{roster_fee:,}원 × {n}개월")
        fee = roster_fee * n
    else:
        detail.append(f"{', '.join(basis.months)} 중 청구 내역이 없는 달이 있음")
        return None, detail, "기준 요금 없음"
    label = f"기준 요금 {fee:,}원" if n == 1 else f"기준 요금 {n}개월 합 {fee:,}원 ÷ {n}개월"
    return fee, detail, label


class LineExplainer:
    """Explains lines of one incident's run, its roster (and bill items) opened once: for many lines,
    use one (``with LineExplainer(incident, run_dir) as ex: ex.explain(line_id)``)."""

    def __init__(self, incident: Incident, run_dir: Path, con: duckdb.DuckDBPyConnection | None = None) -> None:
        if incident.kind != "outage":
            raise InputError(incident._rel(Path(incident.path)), "kind", "is a billing error: explain is for "
                             "outages", "name an outage's incident file")
        self.incident, self.run_dir = incident, Path(run_dir)
        self._own = con is None
        self.con = con if con is not None else connect()
        self.source = open_roster(incident.roster)
        self.items_sql: str | None = None  # the bill items, opened (checked) on first use

    def explain(self, line_id: object) -> Explanation:
        return _explain(self, parse_line_id(line_id))

    def close(self) -> None:
        self.source.close()
        if self._own:
            self.con.close()

    def __enter__(self) -> LineExplainer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def explain_line(incident: Incident, run_dir: Path, line_id: object,
                 con: duckdb.DuckDBPyConnection | None = None) -> Explanation:
    """Explain ``line_id`` of ``incident`` from its run in ``run_dir`` (its ``ledger.parquet``).

    Refused: a line id not in the roster (:class:`InputError`, naming the closest ids), an
    explanation whose arithmetic differs from the ledger (:class:`ExplanationMismatch`)."""
    lid = parse_line_id(line_id)
    with LineExplainer(incident, run_dir, con) as ex:
        return ex.explain(lid)


def _explain(ex: LineExplainer, line_id: int) -> Explanation:
    con, source, incident, run_dir = ex.con, ex.source, ex.incident, ex.run_dir
    line = roster_row(con, source, line_id, incident._rel(incident.roster))
    policy = applied_policy(incident)
    ledger = ledger_row(con, run_dir / "ledger.parquet", line_id)
    exp = Explanation(
        incident_id=incident.id, incident_title=incident.title, policy_id=policy.id, policy_title=policy.title,
        line_id=line_id, customer_id=int(line["customer_id"]), service=str(line["service"]),
        region=str(line["region"]), facility_id=str(line["facility_id"]),
        customer_type=str(line["customer_type"]), plan=line["plan"], reached=ledger is not None,
    )
    reaching = [w for w in incident.windows if not _misses(incident, w, line)]
    if ledger is None:
        if reaching:
            raise ExplanationMismatch(f"line {line_id}: {len(reaching)} window(s) reach it, but the ledger "
                                      f"{run_dir / 'ledger.parquet'} has no row for it — re-run the incident")
        exp.not_reached = _not_reached(incident, line)
        return exp
    if int(ledger["customer_id"]) != exp.customer_id:
        raise ExplanationMismatch(f"line {line_id}: the ledger's customer differs from the roster's — re-run")
    _minutes(exp, incident, reaching, ledger, policy)
    _decide(ex, exp, policy, line, ledger)
    return exp


def _minutes(exp: Explanation, incident: Incident, reaching: list[Window], ledger: dict[str, Any],
             policy: Policy) -> None:
    tz = ZoneInfo(incident.timezone)
    if not reaching:
        raise ExplanationMismatch(f"line {exp.line_id}: the ledger has it, but no window reaches it — re-run")
    figures = exposure_of([(w.start, w.end) for w in reaching], tz)
    exp.windows = [WindowReach(start=w.start.isoformat(timespec="minutes"), end=w.end.isoformat(timespec="minutes"),
                               minutes=elapsed_minutes(w.start, w.end, tz), where=_where(w),
                               services=_services(w.services or incident.services or ()) or "전체 서비스")
                   for w in sorted(reaching, key=lambda w: (w.start, w.end))]
    if sum(w.minutes for w in exp.windows) != figures.outage_minutes:
        exp.merged_note = (f"겹치는 구간은 한 번만 셉니다: 구간 합 {sum(w.minutes for w in exp.windows):,}분 → "
                           f"장애 시간 {figures.outage_minutes:,}분")
    monthly = int(ledger["monthly_cumulative_minutes"])
    ours = {"outage_minutes": figures.outage_minutes,
            "longest_continuous_minutes": figures.longest_continuous_minutes, "outage_days": figures.outage_days}
    if not across_month(policy.eligibility):  # across the month the ledger holds the month's total
        ours["monthly_cumulative_minutes"] = figures.monthly_cumulative_minutes
    for name, value in ours.items():
        if int(ledger[name]) != value:
            raise ExplanationMismatch(f"line {exp.line_id}: {name} is {value:,} from the windows, "
                                      f"{int(ledger[name]):,} in the ledger — re-run the incident")
    exp.outage_start = figures.outage_start.isoformat(timespec="minutes")
    exp.outage_end = figures.outage_end.isoformat(timespec="minutes")
    exp.outage_minutes, exp.outage_days = figures.outage_minutes, figures.outage_days
    exp.longest_continuous_minutes, exp.monthly_cumulative_minutes = figures.longest_continuous_minutes, monthly
    exp.days_in_month = figures.days_in_month


def _decide(ex: LineExplainer, exp: Explanation, policy: Policy, line: dict[str, Any],
            ledger: dict[str, Any]) -> None:
    assert exp.days_in_month is not None
    m = exp.days_in_month * 1440 if policy.hours_per_month == "days_in_month" else int(policy.hours_per_month) * 60
    n = policy.fee_basis.n_months
    exp.divisor = m * n
    exp.fee_basis = policy.fee_basis.describe()
    assert exp.outage_minutes is not None and exp.longest_continuous_minutes is not None
    assert exp.monthly_cumulative_minutes is not None and exp.outage_days is not None
    longest, monthly = exp.longest_continuous_minutes, exp.monthly_cumulative_minutes
    plan = line["plan"]
    parts: list[Part] = []
    if exp.service not in policy.services:
        eligible, reason, rule = False, "service_not_covered", "not_covered"
        exp.rule_text = "대상 서비스가 아님"
        exp.decision = [f"이 정책의 대상 서비스는 {_services(policy.services)}: "
                        f"{present.label(exp.service, SERVICE_KO)} 회선은 보상하지 않음"]
    elif policy.exclude_plans and plan is not None and normalize(plan) in policy.exclude_plans:
        eligible, reason, rule = False, "plan_not_covered", "not_covered"
        exp.rule_text = "보상 제외 요금제"
        exp.decision = [f"요금제 '{normalize(plan)}': 이 정책이 보상에서 제외하는 요금제 "
                        f"({', '.join(policy.exclude_plans)})"]
    else:
        fee, detail, label = _fee(ex, policy, line)
        exp.fee_krw, exp.fee_months, exp.fee_detail = fee, n, detail
        x = Numbers(fee=fee, n=n, month_minutes=m, outage=exp.outage_minutes, days=exp.outage_days, fee_label=label)
        eligible, reason, rule, parts = _credit_parts(exp, policy, line, x, longest, monthly)
    r = policy.rounding
    credit = round_div(sum(p.numerator for p in parts), exp.divisor, r.unit_krw, r.mode) if parts else 0
    exp.parts = parts
    exp.eligible, exp.eligibility_reason, exp.rule, exp.credit_krw = eligible, reason, rule, credit
    exp.formula = formula(parts, exp.divisor, credit, r.unit_krw, r.mode) if parts else "보상 없음 = 0원"
    exp.credit_on = ledger["credit_on"].isoformat() if ledger.get("credit_on") is not None else None
    _check(exp, ledger, policy)


def _credit_parts(exp: Explanation, policy: Policy, line: dict[str, Any], x: Numbers, longest: int,
                  monthly: int) -> tuple[bool, str, str, list[Part]]:
    """(eligible, reason, rule, parts) for a covered line, as rules/credits.compile_policy decides."""
    base_ok, base_reason, base_words = _eligible(policy.eligibility, longest, monthly)
    found = next(((i, o) for i, o in enumerate(policy.overrides, start=1) if _matches(o, line)), None)
    if found is None:
        exp.rule_text = f"기본 규칙 — {policy.credit.describe()}; 대상: {policy.eligibility.describe()}"
        exp.decision = base_words
        parts = rule_parts(policy.credit, x, "기본 보상") if base_ok else []
        return base_ok, base_reason, "base", parts
    i, o = found
    elig = o.eligibility if o.eligibility is not None else policy.eligibility
    o_ok, o_reason, o_words = _eligible(elig, longest, monthly)
    rule = f"override {i}"
    if o.combine == "add":
        exp.rule_text = (f"예외 규칙 {i} ({o.when.describe()}): 기본 보상({policy.credit.describe()})에 더해 "
                         f"{o.credit.describe()}")
        exp.decision = [f"기본 보상: {w}" for w in base_words] + [f"더하는 보상: {w}" for w in o_words]
        parts = (rule_parts(policy.credit, x, "기본 보상") if base_ok else []) + \
            (rule_parts(o.credit, x, "더하는 보상", on_claim=o.paid_on_claim) if o_ok else [])
        if o.paid_on_claim and o_ok:
            exp.notes.append("더하는 보상은 신청한 경우에만 지급합니다: 명세(ledger)의 보상액은 받을 수 있는 "
                             "금액이며, 지급 여부는 보상 신청이 정합니다.")
        return base_ok or o_ok, base_reason if base_ok else o_reason, rule, parts
    exp.rule_text = f"예외 규칙 {i} ({o.when.describe()}): 기본 보상 대신 {o.credit.describe()}" + (
        f"; 대상: {elig.describe()}" if o.eligibility is not None else "")
    exp.decision = o_words
    return o_ok, o_reason, rule, (rule_parts(o.credit, x, "보상") if o_ok else [])


def _check(exp: Explanation, ledger: dict[str, Any], policy: Policy) -> None:
    """Refuse an explanation that differs from the ledger in any decision."""
    theirs = {"eligible": bool(ledger["eligible"]), "eligibility_reason": str(ledger["eligibility_reason"]),
              "rule": str(ledger["rule"]), "credit_krw": int(ledger["credit_krw"])}
    ours = {"eligible": exp.eligible, "eligibility_reason": exp.eligibility_reason, "rule": exp.rule,
            "credit_krw": exp.credit_krw}
    wrong = [f"{k}: explained {ours[k]!r}, ledger {v!r}" for k, v in theirs.items() if ours[k] != v]
    if not wrong:
        return
    why = ""
    if across_month(policy.eligibility) and theirs["credit_krw"] != exp.credit_krw:
        why = (" (the policy counts the calendar month: the credit takes in earlier incidents' minutes, "
               "which explain does not break down yet)")
    raise ExplanationMismatch(f"line {exp.line_id} of {exp.incident_id}: the explanation disagrees with the "
                              f"ledger — {'; '.join(wrong)}{why}. Nothing is shown: a wrong explanation is worse "
                              "than none; re-run the incident, and report it if it persists")


__all__ = ["Explanation", "ExplanationMismatch", "LineExplainer", "Part", "WindowReach", "explain_line",
           "parse_line_id"]
