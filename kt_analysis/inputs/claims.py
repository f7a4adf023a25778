"""Claims files: the requests customers file when compensation is paid on request, checked on every
row; and a policy's ``claims:`` section, which says when and how they are decided.

Some compensation is paid only to those who ask: the Ahyeon fire's consolation money for small
merchants (2019), a customer's request to be counted as a small merchant (2021-10-25: about 1,470
of 5,869 inquiries), the tenfold credit for an outage under 2 hours caused by the operator's intent
or gross negligence (terms revised 2023-03). A claims file lists those requests, one row each:

=========================  =========  ========================================================
column                     required   what it holds
=========================  =========  ========================================================
claim_id                   yes        text, unique, not empty: the operator's reference
line_id                    yes        whole number (64-bit): the line the claim is about
received_at                yes        when it was received: local time ``2019-03-22 10:05``
                                      (``:SS`` and a ``T`` allowed) in the incident's zone, or
                                      an ISO time with an offset ``2019-03-22T01:05:00Z``
channel                    yes        ``call_centre``, ``web``, ``app``, ``shop`` or ``mail``
kind                       yes        ``credit``, ``consolation`` or ``reclassification``
amount_claimed_krw         no         whole won, 0 or more; empty: the customer named none
business_registration_no   no         text: the evidence for a reclassification (사업자등록번호)
wants_cash                 no         ``true`` or ``false`` (also 1/0); empty or no column: false
days_claimed               no         whole days, 1 to 3,650: how long the customer says its
                                      service was out (a consolation or reclassification
                                      claim's tier, when the policy counts the days claimed);
                                      empty: none claimed
=========================  =========  ========================================================

as CSV (UTF-8, comma-separated, a header naming the columns in any order; other columns are
ignored) or Parquet (a file, or a folder of them, with those column names; text as strings,
whole numbers as integers, ``received_at`` as text or a timestamp, ``wants_cash`` as booleans).

``days_claimed`` is read on ``consolation`` and ``reclassification`` claims (checked the same on
every row), and only under an override whose tiers count the days claimed (``days_from: claim``,
:mod:`kt_analysis.inputs.policy`): a consolation is paid that override's tier, a reclassification
the line's credit as a small business with that tier in it; a claim of more days than the incident
lasted is accepted at the incident's length, one without days is decided on the line's outage days
(:func:`kt_analysis.rules.claims.claimed_tiers`, :func:`kt_analysis.engine.claims.claim_lines`).
``credit`` claims ignore it.

Every row is checked before anything uses the file, in the house style of the other loaders
(:mod:`kt_analysis.inputs.bills`): each problem is an :class:`~kt_analysis.errors.InputError`
naming the file, the column, the first few lines (CSV) or rows (Parquet) with their values, and the
fix; several come together as :class:`~kt_analysis.errors.InputErrors`. An unknown channel or kind
is named with the closest codes (an export's Korean labels, ``콜센터`` or ``위로금``, are recognised
and the code suggested, not taken silently).

Time: a local time is read in the incident's zone (a time the clocks skip or show twice at a
daylight-saving change is refused); a time with an offset names one instant whatever zone it is
written in (a web form's log in UTC is common), so it is taken as it is. Both forms are kept:

* ``received_at`` — the instant, as a UTC timestamp: what orders claims (first received, first
  decided);
* ``received_on`` — the local calendar day in the incident's zone: what the application window and
  the business days count.

:func:`open_claims` returns :class:`Claims`: the checked, typed table (:data:`CLAIMS`), its rows,
kinds and channels, and a sha256 of the file(s); :meth:`Claims.frame` gives it to pandas and
:meth:`Claims.register` to a DuckDB connection.

The ``claims:`` section of a policy (:func:`parse_claim_rules`, :class:`ClaimRules`)::

    claims:
      opens_on: "2019-03-22"          # default: the incident's first day
      window_days: 42                 # 42 days counting opens_on: received on opens_on + 42 or later is outside
      processing_business_days: 19    # decided no earlier than 19 business days after receipt
      daily_capacity: 159             # decided per business day, first received first decided
      credit_route: next_bill         # next_bill (the bill after the decision month) or cash
      cash_business_days: 3           # decision to cash payment (wants_cash, or route cash)
      reclassification_evidence: business_registration_no
      uptake:                         # forecast scenarios, beside the built-in low/central/high
        central: {share: 0.5, half_life_days: 7, days: 44}
        steady: {share: 0.3, daily_shares: [3, 2, 2, 1, 1]}

The business registration number check (:func:`registration_number_problem`) is the National Tax
Service's check digit: weights 1,3,7,1,3,7,1,3,5 on the first nine digits, plus (9th digit × 5) // 10,
check digit = (10 − sum mod 10) mod 10.
"""

from __future__ import annotations

import csv
import hashlib
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from fractions import Fraction
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from kt_analysis.errors import InputError, InputErrors, shown
from kt_analysis.inputs.business_days import DEFAULT_YEARS, check_in_calendar
from kt_analysis.inputs.names import closest
from kt_analysis.inputs.yamlio import Section, YamlFloat, YamlInt, as_written, check_input_file, sha256_file

if TYPE_CHECKING:
    import duckdb

CHANNELS = ("call_centre", "web", "app", "shop", "mail")
KINDS = ("credit", "consolation", "reclassification")
REQUIRED = ("claim_id", "line_id", "received_at", "channel", "kind")
OPTIONAL = ("amount_claimed_krw", "business_registration_no", "wants_cash", "days_claimed")
COLUMNS = REQUIRED + OPTIONAL
CREDIT_ROUTES = ("next_bill", "cash")
EVIDENCE = ("business_registration_no",)
EXAMPLES = 5
MAX_CLAIM_KRW = 10**14
"""The most one claim may name: as a bill's bound (:data:`kt_analysis.inputs.bills.MAX_BILL_KRW`)."""
MAX_CLAIMED_DAYS = 3650
"""The most days one claim may name: as a tier's ``from_days`` (:mod:`kt_analysis.inputs.policy`)."""
MAX_WINDOW_DAYS = 3650
MAX_LAG_BUSINESS_DAYS = 250
MAX_DAILY_CAPACITY = 10**9
INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1

CLAIMS = pa.schema([
    ("claim_id", pa.string()),
    ("line_id", pa.int64()),
    ("received_at", pa.timestamp("us", tz="UTC")),  # the instant
    ("received_on", pa.date32()),  # the local day in the incident's zone
    ("channel", pa.string()),
    ("kind", pa.string()),
    ("amount_claimed_krw", pa.int64()),  # null: none named
    ("business_registration_no", pa.string()),  # as written (trimmed); null: none
    ("wants_cash", pa.bool_()),
    ("days_claimed", pa.int64()),  # null: none claimed
])
"""The checked claims table: what :meth:`Claims.frame` and :meth:`Claims.register` give."""

_SHAPE = ("a claims file has claim_id, line_id, received_at, channel and kind (and optionally "
          "amount_claimed_krw, business_registration_no, wants_cash, days_claimed)")
_WHOLE = re.compile(r"[+-]?[0-9]+")
_LOCAL = r"[0-9]{4}-[0-9]{2}-[0-9]{2}[ T][0-9]{2}:[0-9]{2}(?::[0-9]{2}(?:\.[0-9]{1,6})?)?"
_LOCAL_RE = re.compile(_LOCAL)
_OFFSET_RE = re.compile(_LOCAL + r"(?:Z|[+-][0-9]{2}:?[0-9]{2})")
_TRUE, _FALSE = ("true", "1"), ("false", "0")
_TEXT_TYPES = ("claim_id", "channel", "kind")
_KOREAN_CHANNELS = (  # the words of an export's Korean channel labels, and the code they mean
    ("콜센터", "call_centre"), ("고객센터", "call_centre"), ("전화", "call_centre"), ("상담", "call_centre"),
    ("홈페이지", "web"), ("웹", "web"), ("인터넷", "web"), ("온라인", "web"), ("앱", "app"), ("어플", "app"),
    ("모바일", "app"), ("대리점", "shop"), ("매장", "shop"), ("지점", "shop"), ("플라자", "shop"),
    ("방문", "shop"), ("주민센터", "shop"), ("우편", "mail"), ("서면", "mail"), ("등기", "mail"),
)
_KOREAN_KINDS = (
    ("재분류", "reclassification"), ("전환", "reclassification"), ("사업자", "reclassification"),
    ("위로금", "consolation"), ("지원금", "consolation"), ("보상금", "consolation"), ("감면", "credit"),
    ("요금", "credit"), ("배상", "credit"),
)


# ---- business registration numbers ------------------------------------------------------------

_WEIGHTS = (1, 3, 7, 1, 3, 7, 1, 3, 5)


def registration_check_digit(first_nine: str) -> int:
    """The check digit (the 10th) of a Korean business registration number from its first nine.

    >>> registration_check_digit("124810099"), registration_check_digit("102814294")
    (8, 5)
    """
    digits = [int(c) for c in first_nine]
    if len(digits) != 9:
        raise ValueError(f"expected nine digits, got {first_nine!r}")
    total = sum(d * w for d, w in zip(digits, _WEIGHTS, strict=True)) + digits[8] * 5 // 10
    return (10 - total % 10) % 10


def registration_digits(text: object) -> str:
    """The digits of a registration number as written, without the dashes and spaces between
    groups (``124-81-00998`` → ``1248100998``); other characters are kept, so they fail the check."""
    return "" if text is None else re.sub(r"[-\s]", "", str(text))


def registration_number_problem(text: object) -> str | None:
    """What is wrong with a business registration number (사업자등록번호), or None when it is valid:
    ten digits (dashes and spaces between groups allowed) whose last is the check digit.

    >>> registration_number_problem("124-81-00998") is None, registration_number_problem("1248100999")
    (True, 'check digit wrong')
    >>> registration_number_problem("12-34"), registration_number_problem(None), registration_number_problem(" ")
    ('not 10 digits', 'missing', 'missing')
    """
    digits = registration_digits(text)
    if not digits:
        return "missing"
    if len(digits) != 10 or not digits.isascii() or not digits.isdigit():
        return "not 10 digits"
    if registration_check_digit(digits[:9]) != int(digits[9]):
        return "check digit wrong"
    return None


def mask_registration_number(text: object) -> str:
    """A registration number with all but its last four characters (dashes kept) as ``*``.

    >>> mask_registration_number("124-81-00998"), mask_registration_number(None)
    ('***-**-*0998', '')
    """
    if text is None:
        return ""
    value = str(text).strip()
    keep = 0
    out = []
    for c in reversed(value):
        if c in "- " or keep >= 4:
            out.append(c if c in "- " else "*")
        else:
            out.append(c)
            keep += 1
    return "".join(reversed(out))


# ---- the policy's claims section ---------------------------------------------------------------


@dataclass(frozen=True)
class UptakeScenario:
    """A forecast of claims before they arrive: ``share`` of the eligible lines claim in all,
    arriving over ``days`` calendar days from the window's opening, front-loaded with a half-life of
    ``half_life_days`` (the claims of day ``d`` weigh 2^(−d / half-life)), or as ``daily_shares``
    (weights of day 0, 1, …; ``days`` is their number). Exact numbers: the daily counts are split
    from the total with largest remainders, so they add up to it exactly."""

    name: str
    share: Fraction
    half_life_days: Fraction | None = None
    daily_shares: tuple[Fraction, ...] | None = None
    days: int | None = None  # None with a half-life: the rules' window_days
    source: str = ""

    def arrival_days(self, window_days: int) -> int:
        """The days claims arrive on: the scenario's, never beyond the window."""
        days = len(self.daily_shares) if self.daily_shares is not None else (self.days or window_days)
        return max(1, min(days, window_days))

    def describe(self) -> str:
        shape = (f"반감기 {_num(self.half_life_days)}일로 줄어드는 접수" if self.half_life_days is not None
                 else f"일별 비중 {', '.join(_num(s) for s in self.daily_shares or ())}")
        days = f" {self.days}일간" if self.days else ""
        return f"{self.name}: 대상 회선의 {_num(self.share * 100)}%가 신청,{days} {shape}"


def _num(value: Fraction | None) -> str:
    if value is None:
        return ""
    if value.denominator == 1:
        return str(value.numerator)
    return f"{float(value):.4g}"


@dataclass(frozen=True)
class ClaimRules:
    """How the claims of a policy paid on request are decided and paid (the ``claims:`` section).

    ``opens_on`` None: the window opens on the incident's first day (:meth:`opening`). A claim is
    inside the window when received on a day from the opening up to ``window_days − 1`` days after
    it (``window_days`` calendar days; received on ``opens_on + window_days`` or later: outside).
    ``daily_capacity`` None: no limit on decisions per business day.
    """

    window_days: int
    opens_on: date | None = None
    processing_business_days: int = 0
    daily_capacity: int | None = None
    credit_route: Literal["next_bill", "cash"] = "next_bill"
    cash_business_days: int = 0
    reclassification_evidence: Literal["business_registration_no"] = "business_registration_no"
    uptake: tuple[UptakeScenario, ...] = field(default=())

    def opening(self, first_day: date | None = None) -> date:
        """The day the window opens: ``opens_on``, else ``first_day`` (the incident's first local day)."""
        if self.opens_on is not None:
            return self.opens_on
        if first_day is None:
            raise ValueError("the claims rules name no opens_on: give the incident's first day")
        return first_day

    def last_day(self, first_day: date | None = None) -> date:
        """The last day a claim may be received on (the window's ``window_days``-th day)."""
        return date.fromordinal(self.opening(first_day).toordinal() + self.window_days - 1)

    def scenario(self, name: str) -> UptakeScenario | None:
        """The policy's own uptake scenario of that name, or None."""
        return next((s for s in self.uptake if s.name == name), None)

    def describe(self) -> str:
        """The rules in one Korean sentence (without the closing full stop)."""
        opens = self.opens_on.isoformat() if self.opens_on else "장애 첫날"
        lag = f"접수 후 영업일 {self.processing_business_days}일 이후" if self.processing_business_days \
            else "접수한 영업일부터"
        pace = (f"하루 {self.daily_capacity:,}건씩 접수 순으로 처리" if self.daily_capacity
                else "처리 건수 제한 없이 처리")
        if self.credit_route == "cash":
            pay = f"승인 후 영업일 {self.cash_business_days}일에 현금 지급"
        else:
            pay = (f"승인한 달의 다음 달 청구서에서 차감(현금을 원하면 승인 후 영업일 {self.cash_business_days}일에 "
                   "현금 지급)")
        parts = [f"{opens}부터 {self.window_days}일", f"{lag} {pace}", pay,
                 "소상공인 재분류는 유효한 사업자등록번호가 있을 때"]
        if self.uptake:
            parts.append("예측 시나리오 " + "; ".join(s.describe() for s in self.uptake))
        return ", ".join(parts)


def parse_claim_rules(sec: Section) -> ClaimRules:
    """A policy's ``claims:`` section; every problem is an :class:`InputError` naming the key."""
    raw_opens = sec.raw("opens_on", None)
    opens_on = None if raw_opens is None else _day(raw_opens, sec.path, sec.key("opens_on"))
    rules = ClaimRules(
        opens_on=opens_on,
        window_days=sec.integer("window_days", minimum=1, maximum=MAX_WINDOW_DAYS),
        processing_business_days=sec.integer("processing_business_days", 0, minimum=0,
                                             maximum=MAX_LAG_BUSINESS_DAYS),
        daily_capacity=sec.integer("daily_capacity", None, minimum=1, maximum=MAX_DAILY_CAPACITY),
        credit_route=sec.text("credit_route", "next_bill", choices=CREDIT_ROUTES),
        cash_business_days=sec.integer("cash_business_days", 0, minimum=0, maximum=MAX_LAG_BUSINESS_DAYS),
        reclassification_evidence=sec.text("reclassification_evidence", "business_registration_no",
                                           choices=EVIDENCE),
        uptake=_uptake(sec),
    )
    for scenario in rules.uptake:  # claims arrive inside the window only: some weight must be there
        if scenario.daily_shares is not None and not sum(scenario.daily_shares[:rules.window_days]):
            raise sec.error(f"uptake.{scenario.name}.daily_shares",
                            f"puts every claim after the claim window: its first {rules.window_days} weights "
                            f"(window_days: {rules.window_days}) are all 0",
                            f"give a weight above 0 within the first {rules.window_days} days, or lengthen "
                            "window_days")
    sec.done()
    return rules


def _day(value: Any, path: str, where: str) -> date:
    """A day written ``YYYY-MM-DD`` (YAML keeps it as text), inside the calendar's years."""
    text = value if isinstance(value, str) else None
    try:
        if text is None or not re.fullmatch(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", text.strip()):
            raise ValueError(value)
        day = date.fromisoformat(text.strip())
    except ValueError:
        raise InputError(path, where, f"{as_written(value)} is not a day", "write it as \"2019-03-22\"") from None
    check_in_calendar(day, path, where)
    return day


_SCENARIO_NAME = re.compile(r"^[a-z][a-z0-9_-]{0,39}$")
_MAX_SHAPE_DAYS = MAX_WINDOW_DAYS


def _uptake(sec: Section) -> tuple[UptakeScenario, ...]:
    usec = sec.section("uptake", None)
    if usec is None:
        return ()
    if not usec.data:
        raise sec.error("uptake", "names no scenario", "write uptake: {central: {share: 0.5, half_life_days: 7}}")
    out = []
    for name in list(usec.data):
        if not isinstance(name, str) or not _SCENARIO_NAME.match(name):
            raise usec.error(str(name), f"{as_written(name)} is not a scenario name",
                             "name scenarios with lower-case letters, digits, - and _ (low, central, high)")
        out.append(_scenario(name, usec.section(name)))
    usec.done()
    return tuple(out)


def _scenario(name: str, sec: Section) -> UptakeScenario:
    share = _fraction(sec.raw("share"), sec.path, sec.key("share"))
    if not 0 < share <= 1:
        raise sec.error("share", f"is {_num(share)}, not above 0 and at most 1",
                        "write the share of eligible lines that claim, e.g. 0.5 for half of them")
    if sec.has("half_life_days") == sec.has("daily_shares"):
        raise sec.error("half_life_days", "gives the arrival shape with half_life_days or daily_shares, not "
                        + ("both" if sec.has("half_life_days") else "neither"),
                        "write half_life_days: 7 (front-loaded) or daily_shares: [3, 2, 1] (weights per day)")
    half_life = None
    shares = None
    days = None
    if sec.has("half_life_days"):
        half_life = _fraction(sec.raw("half_life_days"), sec.path, sec.key("half_life_days"))
        if not 0 < half_life <= _MAX_SHAPE_DAYS:
            raise sec.error("half_life_days", f"is {_num(half_life)}, not above 0 and at most {_MAX_SHAPE_DAYS}",
                            "write the days after which half as many claims arrive a day, e.g. 7")
        days = sec.integer("days", None, minimum=1, maximum=_MAX_SHAPE_DAYS)
    else:
        if sec.has("days"):
            raise sec.error("days", "is given with daily_shares", "daily_shares name one weight a day: drop days")
        raw = sec.raw("daily_shares")
        if not isinstance(raw, list) or not raw or len(raw) > _MAX_SHAPE_DAYS:
            raise sec.error("daily_shares", f"must be a list of 1 to {_MAX_SHAPE_DAYS} weights",
                            "write daily_shares: [3, 2, 1] (day 0, day 1, …)")
        shares = tuple(_fraction(v, sec.path, f"{sec.key('daily_shares')}[{i}]") for i, v in enumerate(raw))
        if any(s < 0 for s in shares) or not sum(shares):
            raise sec.error("daily_shares", "holds a negative weight or only zeros",
                            "write weights of 0 or more, at least one above 0")
    source = sec.text("source", "")
    sec.done()
    return UptakeScenario(name=name, share=share, half_life_days=half_life, daily_shares=shares, days=days,
                          source=source)


def _fraction(value: Any, path: str, where: str) -> Fraction:
    """A YAML number, exactly as written (``0.135`` is 27/200, not the nearest binary fraction)."""
    if isinstance(value, YamlInt):
        return Fraction(int(value))
    if isinstance(value, YamlFloat):
        try:
            return Fraction(value.source.replace("_", "x"))
        except (ValueError, ZeroDivisionError):
            pass
    elif isinstance(value, int) and not isinstance(value, bool):
        return Fraction(value)
    raise InputError(path, where, f"must be a number, found {as_written(value)}", "write a number such as 0.5")


# ---- the claims file ---------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class Claims:
    """A checked claims file: ``table`` holds its rows typed as :data:`CLAIMS` (in the file's
    order), ``rows`` their number, ``kinds`` and ``channels`` the rows of each code, ``sha256`` the
    file's digest (a folder's: of its files' names and digests), ``timezone`` the zone local times
    were read in."""

    path: Path
    rows: int
    timezone: str
    sha256: str
    table: pa.Table
    kinds: dict[str, int]
    channels: dict[str, int]

    def frame(self) -> pd.DataFrame:
        """The claims as pandas: ``line_id`` int64, ``amount_claimed_krw`` and ``days_claimed`` Int64
        (nullable, never float), ``received_at`` datetime64[us, UTC], ``received_on`` datetime.date objects."""
        df = self.table.to_pandas(types_mapper={pa.int64(): pd.Int64Dtype()}.get, date_as_object=True)
        df["line_id"] = df["line_id"].astype("int64")
        df["wants_cash"] = df["wants_cash"].astype(bool)
        return df

    def register(self, con: duckdb.DuckDBPyConnection, name: str = "claims") -> str:
        """Register the table on ``con`` as the view ``name`` and return the SQL that reads it."""
        con.register(name, self.table)
        return '"' + name.replace('"', '""') + '"'


def open_claims(path: str | Path, tz: ZoneInfo | str) -> Claims:
    """Check a claims file (CSV, Parquet, or a folder of Parquet files) on every row and return it
    typed; local times are read in ``tz`` (the incident's zone).

    Refused: a path that is not a regular file or a folder, an empty or unreadable file, a header
    without a required column (or naming one twice), lines with another number of values than the
    header, a Parquet column of the wrong type, and on any row: an empty claim_id, line_id,
    received_at, channel or kind; a line_id that is not a whole number of 64 bits; a received_at
    that is not a date and time, does not exist or happens twice in ``tz``, or is outside the years
    the business-day calendar covers; an unknown channel or kind (with the closest codes); an
    amount_claimed_krw that is not a whole number, negative or above :data:`MAX_CLAIM_KRW`; a
    wants_cash other than true/false/1/0; a days_claimed that is not a whole number, below 1 or above
    :data:`MAX_CLAIMED_DAYS`; and a claim_id written more than once.
    """
    zone = _zone(tz)
    path = check_input_file(path, "claims", folder_ok=True)
    if path.is_dir():
        files = sorted(path.rglob("*.parquet"), key=str)
        if not files:
            raise InputError(str(path), "", "folder holds no .parquet files (a claims folder is a Parquet dataset)",
                             "point at a claims .csv or .parquet file, or a folder of .parquet files")
        for f in files:
            check_input_file(f, "claims")
    elif path.stat().st_size == 0:
        raise InputError(str(path), "", "claims file is empty",
                         f"export the claims again with a header {','.join(REQUIRED)} and their rows")
    if path.is_dir() or path.suffix.lower() not in (".csv", ".txt"):
        files = sorted(path.rglob("*.parquet"), key=str) if path.is_dir() else [path]
        raw, places = _read_parquet(path, files)
        digest = _folder_sha256(path, files) if path.is_dir() else sha256_file(path)
    else:
        raw, places = _read_csv(path)
        digest = sha256_file(path)
    table = _checked(path, raw, places, zone)
    kinds = {k: int(n) for k, n in sorted(pd.Series(table.column("kind").to_pylist()).value_counts().items())}
    channels = {k: int(n) for k, n in
                sorted(pd.Series(table.column("channel").to_pylist()).value_counts().items())}
    return Claims(path=path, rows=table.num_rows, timezone=zone.key, sha256=digest, table=table, kinds=kinds,
                  channels=channels)


def _zone(tz: ZoneInfo | str) -> ZoneInfo:
    if isinstance(tz, ZoneInfo):
        return tz
    try:
        return ZoneInfo(str(tz))
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise InputError(str(tz), "", "is not a known time zone", "use an IANA name such as Asia/Seoul") from None


def _folder_sha256(path: Path, files: list[Path]) -> str:
    digest = hashlib.sha256()
    for f in files:
        digest.update(f"{f.relative_to(path).as_posix()}\0{sha256_file(f)}\n".encode())
    return digest.hexdigest()


# -- reading: every value as text (None: empty), with each row's place ----------------------------


def _read_csv(path: Path) -> tuple[dict[str, list[Any]], list[str]]:
    try:
        with open(path, encoding="utf-8-sig", newline="") as fh:
            reader = csv.reader(fh, strict=True)
            header = [h.strip() for h in next(reader, [])]
            index = _csv_header(path, header)
            columns: dict[str, list[Any]] = {c: [] for c in COLUMNS}
            places: list[str] = []
            ragged: list[str] = []
            ragged_count = 0
            line = reader.line_num + 1
            for row in reader:
                if row and len(row) != len(header):
                    ragged_count += 1
                    if len(ragged) < EXAMPLES:
                        ragged.append(f"line {line} ({len(row)} values: {shown(','.join(row))})")
                elif row:
                    places.append(f"line {line}")
                    for c in COLUMNS:
                        columns[c].append(row[index[c]] if c in index else None)
                line = reader.line_num + 1
    except UnicodeDecodeError:
        raise InputError(str(path), "", "is not UTF-8 text",
                         "save the claims CSV as UTF-8 (a Korean Excel export is often CP949: choose "
                         "\"CSV UTF-8\")") from None
    except csv.Error as exc:
        raise InputError(str(path), f"line {reader.line_num}", f"cannot be read as CSV ({exc})",
                         "check the quoting: a value holding a comma or a quote is written in double quotes, "
                         "its quotes doubled") from None
    if ragged:
        raise InputError(str(path), "", f"has {ragged_count:,} line(s) with another number of values than the "
                         f"header's {len(header)}: {', '.join(ragged)}",
                         "give every line the header's columns; a value with a comma (12,000원) must be quoted, "
                         "or written as digits only, e.g. 12000")
    if not places:
        raise InputError(str(path), "", "holds a header but no claims", "export the claims with their rows")
    return columns, places


def _csv_header(path: Path, header: list[str]) -> dict[str, int]:
    """The position of each known column in the header; a missing required one or a name written
    twice is refused."""
    twice = sorted({c for c in header if c in COLUMNS and header.count(c) > 1})
    if twice:
        raise InputError(str(path), "header (line 1)", f"names {', '.join(twice)} more than once",
                         "keep one column of each name")
    missing = [c for c in REQUIRED if c not in header]
    if missing:
        line = ",".join(header)
        for sep in (";", "\t", "|"):
            if len(header) == 1 and line.count(sep) >= 2:
                raise InputError(str(path), "line 1", f"is separated by {sep!r}, not commas",
                                 "export the CSV with commas as separators")
        raise InputError(str(path), "header (line 1)", f"missing {', '.join(missing)} (has {', '.join(header)})",
                         _SHAPE)
    return {c: header.index(c) for c in COLUMNS if c in header}


def _type_ok(column: str, typ: pa.DataType) -> bool:
    if pa.types.is_dictionary(typ):
        typ = typ.value_type
    if pa.types.is_null(typ):
        return True
    text = pa.types.is_string(typ) or pa.types.is_large_string(typ) or str(typ) == "string_view"
    if column in _TEXT_TYPES:
        return text
    if column == "business_registration_no":
        return text or pa.types.is_integer(typ)
    if column in ("line_id", "amount_claimed_krw", "days_claimed"):
        return pa.types.is_integer(typ)
    if column == "received_at":
        return text or pa.types.is_timestamp(typ)
    return pa.types.is_boolean(typ)  # wants_cash


_TYPE_FIX = {
    "claim_id": ("text", "store claim_id as text (a string column)"),
    "line_id": ("whole numbers", "store line ids as an integer column"),
    "received_at": ("a date and time", "store received_at as a timestamp, or as text like 2019-03-22 10:05"),
    "channel": ("text", f"store channel as text, one of: {', '.join(CHANNELS)}"),
    "kind": ("text", f"store kind as text, one of: {', '.join(KINDS)}"),
    "amount_claimed_krw": ("whole numbers", "store whole won as an integer column (null: none named)"),
    "business_registration_no": ("text", "store registration numbers as text like 124-81-00998"),
    "wants_cash": ("true/false", "store wants_cash as a boolean column"),
    "days_claimed": ("whole numbers", "store days_claimed as an integer column (null: none claimed)"),
}


def _read_parquet(path: Path, files: list[Path]) -> tuple[dict[str, list[Any]], list[str]]:
    columns: dict[str, list[Any]] = {c: [] for c in COLUMNS}
    places: list[str] = []
    problems: list[InputError] = []
    for f in files:
        try:
            schema = pq.ParquetFile(f).schema_arrow
        except Exception as exc:  # pyarrow raises several types for a damaged or foreign file
            if isinstance(exc, OSError) and exc.errno is not None:
                raise
            raise InputError(str(f), "", f"cannot be read as Parquet ({str(exc).strip()[:200]})",
                             f"give a Parquet or CSV file with {', '.join(REQUIRED)}") from None
        missing = [c for c in REQUIRED if c not in schema.names]
        if missing:
            raise InputError(str(f), "columns", f"missing {', '.join(missing)} (has {', '.join(schema.names)})",
                             _SHAPE)
        twice = sorted({c for c in COLUMNS if schema.names.count(c) > 1})
        if twice:
            raise InputError(str(f), "columns", f"names {', '.join(twice)} more than once",
                             "keep one column of each name")
        present = [c for c in COLUMNS if c in schema.names]
        bad = [c for c in present if not _type_ok(c, schema.field(c).type)]
        for c in bad:
            want, fix = _TYPE_FIX[c]
            problems.append(InputError(str(f), f"column {c}", f"is {schema.field(c).type}, not {want}", fix))
        if bad:
            continue
        table = pq.read_table(f, columns=present)
        for c in COLUMNS:
            columns[c].extend(_as_text(table.column(c)) if c in present else [None] * table.num_rows)
        label = f"{f.relative_to(path).as_posix()} row" if path.is_dir() else "row"
        places.extend(f"{label} {i + 1}" for i in range(table.num_rows))
    if problems:
        raise InputErrors(problems)
    if not places:
        raise InputError(str(path), "", "holds no claims", "export the claims with their rows")
    return columns, places


def _as_text(column: pa.ChunkedArray) -> list[Any]:
    """A Parquet column's values as the text a CSV would hold (None: null)."""
    typ = column.type
    if pa.types.is_dictionary(typ):
        column = column.cast(typ.value_type)
        typ = typ.value_type
    if pa.types.is_timestamp(typ):
        column = column.cast(pa.timestamp("us", tz=typ.tz), safe=False)
        return [None if v is None else v.isoformat(sep=" ") for v in column.to_pylist()]
    if pa.types.is_boolean(typ):
        return [None if v is None else ("true" if v else "false") for v in column.to_pylist()]
    return [None if v is None else str(v) for v in column.to_pylist()]


# -- checking ------------------------------------------------------------------------------------


class _Problems:
    """The problems found, each naming the first few rows with their values."""

    def __init__(self, path: Path, places: list[str]) -> None:
        self.path = path
        self.places = places
        self.found: list[InputError] = []

    def add(self, column: str, bad: np.ndarray, values: list[Any], what: str, fix: str,
            advise: Callable[[list[Any]], str] | None = None) -> None:
        count = int(bad.sum())
        if not count:
            return
        rows = np.flatnonzero(bad)
        where = ", ".join(self.places[i] if values[i] is None else f"{self.places[i]} ({shown(values[i])})"
                          for i in rows[:EXAMPLES])
        if advise is not None:
            counts: dict[Any, int] = {}
            for i in rows:
                counts[values[i]] = counts.get(values[i], 0) + 1
            frequent = sorted(counts, key=lambda v: (-counts[v], str(v)))  # most frequent first, then by value
            fix = advise(frequent[:EXAMPLES])
        self.found.append(InputError(str(self.path), f"column {column}", f"{count:,} value(s) are {what}: {where}",
                                     fix))


def _texts(values: list[Any]) -> list[str | None]:
    """Values trimmed; an empty one is None."""
    out: list[str | None] = []
    for v in values:
        text = None if v is None else str(v).strip()
        out.append(text or None)
    return out


def _matches(values: list[str | None], pattern: re.Pattern[str]) -> np.ndarray:
    return np.fromiter((v is not None and pattern.fullmatch(v) is not None for v in values), bool, len(values))


def _empty(values: list[str | None]) -> np.ndarray:
    return np.fromiter((v is None for v in values), bool, len(values))


def _checked(path: Path, raw: dict[str, list[Any]], places: list[str], zone: ZoneInfo) -> pa.Table:
    """The rows checked (every problem reported at once) and typed."""
    problems = _Problems(path, places)
    text = {c: _texts(raw[c]) for c in COLUMNS}
    claim_id = text["claim_id"]
    problems.add("claim_id", _empty(claim_id), claim_id, "empty",
                 "give every claim its claim_id (the operator's reference, e.g. C-2019-000123)")
    line_id = _whole_numbers(problems, "line_id", text["line_id"], required=True)
    received_at, received_on = _received(problems, text["received_at"], zone)
    _codes(problems, "channel", text["channel"], CHANNELS, _KOREAN_CHANNELS)
    _codes(problems, "kind", text["kind"], KINDS, _KOREAN_KINDS)
    amount = _whole_numbers(problems, "amount_claimed_krw", text["amount_claimed_krw"], required=False)
    wants = text["wants_cash"]
    known = set(_TRUE + _FALSE)
    problems.add("wants_cash", np.fromiter((v is not None and v.lower() not in known for v in wants), bool,
                                           len(wants)), wants, "not true or false",
                 "write true or false (also 1 or 0); an empty value means false")
    days = _claimed_days(problems, text["days_claimed"])
    problems.found += _repeated_ids(path, claim_id, places)
    if problems.found:
        raise InputErrors(problems.found)
    return pa.table({
        "claim_id": pa.array(claim_id, pa.string()),
        "line_id": pa.array(line_id, pa.int64()),
        "received_at": received_at,
        "received_on": received_on,
        "channel": pa.array(text["channel"], pa.string()),
        "kind": pa.array(text["kind"], pa.string()),
        "amount_claimed_krw": pa.array(amount, pa.int64()),
        "business_registration_no": pa.array(text["business_registration_no"], pa.string()),
        "wants_cash": pa.array([v is not None and v.lower() in _TRUE for v in wants], pa.bool_()),
        "days_claimed": pa.array(days, pa.int64()),
    }, schema=CLAIMS)


def _whole_numbers(problems: _Problems, column: str, values: list[str | None], *, required: bool) -> list[Any]:
    """The values as integers (None where empty or bad), with the checks of whole won or ids."""
    empty = _empty(values)
    if required:
        problems.add(column, empty, values, "empty", "give every claim its line_id")
    whole = _matches(values, _WHOLE)
    fix = ("write line ids as whole numbers" if column == "line_id"
           else "write whole won as digits only, e.g. 33000, not 33,000원 (or leave it empty: none named)")
    problems.add(column, ~empty & ~whole, values, "not whole numbers", fix)
    numbers = [int(v) if ok and v is not None else None for v, ok in zip(values, whole, strict=True)]
    if column == "line_id":
        beyond = np.fromiter((n is not None and not INT64_MIN <= n <= INT64_MAX for n in numbers), bool,
                             len(numbers))
        problems.add(column, beyond, values, f"too large (beyond {INT64_MAX:,})",
                     "line ids must fit in 64 bits: check the export")
    else:
        negative = np.fromiter((n is not None and n < 0 for n in numbers), bool, len(numbers))
        problems.add(column, negative, values, "negative",
                     "an amount claimed is 0 or more (leave it empty when the customer named none)")
        beyond = np.fromiter((n is not None and n > MAX_CLAIM_KRW for n in numbers), bool, len(numbers))
        problems.add(column, beyond, values, f"too large (above {MAX_CLAIM_KRW:,} won)",
                     "check for a unit mistake: amounts are whole won per claim")
    return [n if n is not None and INT64_MIN <= n <= INT64_MAX else None for n in numbers]


def _claimed_days(problems: _Problems, values: list[str | None]) -> list[int | None]:
    """``days_claimed`` as integers (None where empty or bad): whole days, 1 to :data:`MAX_CLAIMED_DAYS`."""
    empty = _empty(values)
    whole = _matches(values, _WHOLE)
    problems.add("days_claimed", ~empty & ~whole, values, "not whole numbers",
                 "write the days the service was out as digits only, e.g. 4, not 4일 or 3.5 (or leave it empty: "
                 "none claimed)")
    numbers = [int(v) if ok and v is not None else None for v, ok in zip(values, whole, strict=True)]
    below = np.fromiter((n is not None and n < 1 for n in numbers), bool, len(numbers))
    problems.add("days_claimed", below, values, "below 1",
                 "a claim names at least 1 day of outage (an outage of part of a day is 1 day); leave it empty "
                 "when the customer named none")
    beyond = np.fromiter((n is not None and n > MAX_CLAIMED_DAYS for n in numbers), bool, len(numbers))
    problems.add("days_claimed", beyond, values, f"too large (above {MAX_CLAIMED_DAYS:,} days)",
                 "check for a unit mistake: days_claimed counts days, not hours or minutes")
    return [n if n is not None and 1 <= n <= MAX_CLAIMED_DAYS else None for n in numbers]


def _received(problems: _Problems, values: list[str | None], zone: ZoneInfo) -> tuple[pa.Array, pa.Array]:
    """``received_at`` as UTC instants and local days (None where empty or bad)."""
    n = len(values)
    empty = _empty(values)
    problems.add("received_at", empty, values, "empty", "give every claim the time it was received")
    offset = _matches(values, _OFFSET_RE)
    local = _matches(values, _LOCAL_RE)
    shaped = offset | local
    series = pd.Series(values, dtype=object)
    instants = pd.Series(pd.NaT, index=range(n), dtype="datetime64[us, UTC]")
    if offset.any():
        instants[offset] = pd.to_datetime(series[offset], format="ISO8601", utc=True, errors="coerce")
    naive = pd.Series(pd.NaT, index=range(n), dtype="datetime64[us]")
    if local.any():
        naive[local] = pd.to_datetime(series[local], format="ISO8601", errors="coerce")
    impossible = shaped & np.asarray(np.where(offset, instants.isna(), naive.isna()), dtype=bool)
    fix = (f"write it as 2019-03-22 10:05 (local time in {zone.key}) or with an offset, "
           "2019-03-22T10:05+09:00 (a real day and time)")
    problems.add("received_at", (~empty & ~shaped) | impossible, values, "not a date and time", fix)
    if local.any():
        placed = naive.dt.tz_localize(zone, ambiguous="NaT", nonexistent="NaT").dt.tz_convert("UTC")
        unclear = local & ~impossible & np.asarray(placed.isna(), dtype=bool)
        problems.add("received_at", unclear, values,
                     f"times that do not exist or happen twice in {zone.key} (a daylight-saving change)",
                     "write the time with its offset, e.g. 2019-03-22T10:05+09:00")
        instants[local] = placed[local]
    local_days = instants.dt.tz_convert(zone).dt.tz_localize(None).dt.floor("D")
    first, last = DEFAULT_YEARS.start, DEFAULT_YEARS.stop - 2
    years = local_days.dt.year
    outside = np.asarray(years.notna() & ~years.between(first, last), dtype=bool)
    problems.add("received_at", outside, values, f"outside the years this tool settles ({first}-{last})",
                 "check the year (a typo such as 2091 for 2019?)")
    at = pa.array(instants, pa.timestamp("us", tz="UTC"))
    on = pa.array(local_days.astype("datetime64[us]"), pa.timestamp("us")).cast(pa.date32())
    return at, on


def _codes(problems: _Problems, column: str, values: list[str | None], codes: tuple[str, ...],
           korean: tuple[tuple[str, str], ...]) -> None:
    empty = _empty(values)
    listed = ", ".join(codes)
    problems.add(column, empty, values, "empty", f"give every claim its {column}, one of: {listed}")
    unknown = np.fromiter((v is not None and v not in codes for v in values), bool, len(values))

    def advise(found: list[Any]) -> str:
        hints = []
        for value in found:
            near = list(dict.fromkeys(code for word, code in korean if word in str(value)))
            near = near or closest(str(value), codes)
            if near:
                hints.append(f"{shown(value)}: did you mean " + " or ".join(f"`{c}`" for c in near) + "?")
        head = "; ".join(hints) + "; " if hints else ""
        return f"{head}write {column} as one of the codes, exactly (lower case): {listed}"

    problems.add(column, unknown, values, f"not {column} codes", "", advise=advise)


def _repeated_ids(path: Path, ids: list[str | None], places: list[str]) -> list[InputError]:
    series = pd.Series(ids, dtype=object)
    twice = np.flatnonzero(np.asarray(series.notna() & series.duplicated(keep=False), dtype=bool))
    seen: dict[str, list[int]] = {}
    for i in twice.tolist():
        seen.setdefault(str(ids[i]), []).append(i)
    repeated = [(v, rows) for v, rows in seen.items() if len(rows) > 1]
    if not repeated:
        return []
    repeated.sort(key=lambda item: item[1][1])
    where = "; ".join(f"{shown(v)} ({', '.join(places[i] for i in rows[:EXAMPLES])}"
                      f"{', …' if len(rows) > EXAMPLES else ''})" for v, rows in repeated[:EXAMPLES])
    return [InputError(str(path), "column claim_id", f"{len(repeated):,} claim id(s) are written more than once: "
                       f"{where}", "give every claim its own claim_id: remove a row exported twice, or give a "
                       "second claim of the same customer its own reference")]
