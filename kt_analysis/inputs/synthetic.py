"""The calibrated synthetic roster: deterministic, chunked, and sized like KT.

Five things live here:

- :func:`facilities` — about 3,000 synthetic central offices spread over the 17 시·도 (and
  Seoul's 25 구) by resident-registration population;
- :func:`generate_roster` — one row per service line, written to Parquet in bounded memory;
- :func:`generate_bills` — one bill per line per month for a roster, streamed the same way, and
  :func:`generate_bill_items` — the same bills item by item (plan, discounts, add-ons, usage …);
- :func:`ahyeon_windows` — per-facility restoration windows of the 2018-11-24 Ahyeon fire.

Every figure below says where it comes from. ``data/SOURCES.md`` section numbers
are cited as "facts §N"; ``data/README.md`` has the same calibration as a table with the
confidence of each figure, and marks the figures that are assumptions.

Determinism: the line stream is cut into fixed blocks of ``_BLOCK_CUSTOMERS`` customers; block
``k`` draws from ``numpy.random.default_rng(SeedSequence(seed, spawn_key=(k,)))`` (the same
stream as ``SeedSequence(seed).spawn(k + 1)[k]``). The roster of N lines is the first N lines
of that stream, so the first k lines never depend on N nor on ``chunk_lines``, and the same
``(lines, seed, chunk_lines)`` writes the same bytes (fixed Parquet settings, no timestamps).
"""

from __future__ import annotations

import functools
import numbers
import os
import re
import tempfile
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from kt_analysis.errors import InputError
from kt_analysis.inputs.schema import (
    BILL_ITEMS,
    BILLS,
    CUSTOMER_TYPES,
    DISCOUNT_ITEMS,
    GENERATED_ROSTER,
    ITEM_CATEGORIES,
    PAYMENT_METHODS,
    SERVICES,
)

__all__ = [
    "BILLS_SCHEMA",
    "BILL_SAME_AMOUNT_SHARE",
    "PAYMENT_SHARES",
    "REGION_POPULATION",
    "ROSTER_SCHEMA",
    "SERVICE_SHARES",
    "SMALL_BUSINESS_WIRED_SHARE",
    "ahyeon_windows",
    "facilities",
    "bill_months",
    "generate_bill_items",
    "generate_bills",
    "generate_roster",
]

ROSTER_SCHEMA = GENERATED_ROSTER


# --------------------------------------------------------------------------------------------
# Regions and facilities
# --------------------------------------------------------------------------------------------

# Resident-registration population by 시·도, end of 2023 (행정안전부 주민등록 인구통계),
# approximate: rounded to the thousand, total ≈ 51.33M (official total 51,325,329). Not in the
# sources (data/SOURCES.md); only the relative sizes matter here.
REGION_POPULATION: dict[str, int] = {
    "서울": 9_386_000,
    "부산": 3_293_000,
    "대구": 2_375_000,
    "인천": 2_999_000,
    "광주": 1_419_000,
    "대전": 1_442_000,
    "울산": 1_104_000,
    "세종": 387_000,
    "경기": 13_631_000,
    "강원": 1_528_000,
    "충북": 1_591_000,
    "충남": 2_130_000,
    "전북": 1_755_000,
    "전남": 1_804_000,
    "경북": 2_554_000,
    "경남": 3_251_000,
    "제주": 675_000,
}

REGION_CODES: dict[str, str] = {
    "서울": "SEOUL",
    "부산": "BUSAN",
    "대구": "DAEGU",
    "인천": "INCHEON",
    "광주": "GWANGJU",
    "대전": "DAEJEON",
    "울산": "ULSAN",
    "세종": "SEJONG",
    "경기": "GYEONGGI",
    "강원": "GANGWON",
    "충북": "CHUNGBUK",
    "충남": "CHUNGNAM",
    "전북": "JEONBUK",
    "전남": "JEONNAM",
    "경북": "GYEONGBUK",
    "경남": "GYEONGNAM",
    "제주": "JEJU",
}

# Seoul's 25 구 with approximate resident-registration population (2023, rounded); used only
# to split Seoul's share between the 구, so the rounding does not move any regional share.
SEOUL_GU: tuple[tuple[str, str, int], ...] = (
    ("JONGNO", "종로구", 139_000),
    ("JUNG", "중구", 121_000),
    ("YONGSAN", "용산구", 217_000),
    ("SEONGDONG", "성동구", 281_000),
    ("GWANGJIN", "광진구", 340_000),
    ("DONGDAEMUN", "동대문구", 343_000),
    ("JUNGNANG", "중랑구", 385_000),
    ("SEONGBUK", "성북구", 435_000),
    ("GANGBUK", "강북구", 290_000),
    ("DOBONG", "도봉구", 306_000),
    ("NOWON", "노원구", 500_000),
    ("EUNPYEONG", "은평구", 465_000),
    ("SEODAEMUN", "서대문구", 309_000),
    ("MAPO", "마포구", 357_000),
    ("YANGCHEON", "양천구", 434_000),
    ("GANGSEO", "강서구", 562_000),
    ("GURO", "구로구", 401_000),
    ("GEUMCHEON", "금천구", 229_000),
    ("YEONGDEUNGPO", "영등포구", 374_000),
    ("DONGJAK", "동작구", 382_000),
    ("GWANAK", "관악구", 487_000),
    ("SEOCHO", "서초구", 406_000),
    ("GANGNAM", "강남구", 556_000),
    ("SONGPA", "송파구", 655_000),
    ("GANGDONG", "강동구", 462_000),
)

# Goyang Deogyang-gu, part of which the Ahyeon fire hit (facts §3). Its Gyeonggi facilities are
# the first GYEONGGI-NNN ids and carry the district; ~485k residents (approximate, assumption).
DEOGYANG_DISTRICT = "고양시 덕양구"
DEOGYANG_POPULATION = 485_000

FACILITY_COUNT = 3_000
_FACILITY_SEED = 20_181_124  # fixed: facility sizes vary, but the same way on every run


def _largest_remainder(weights: np.ndarray, total: int, minimum: int = 1) -> np.ndarray:
    """Split ``total`` into integers proportional to ``weights`` (each at least ``minimum``)."""
    weights = np.asarray(weights, dtype=np.float64)
    spare = total - minimum * len(weights)
    exact = weights / weights.sum() * spare
    counts = np.floor(exact).astype(np.int64)
    short = spare - int(counts.sum())
    order = np.argsort(-(exact - counts), kind="stable")
    counts[order[:short]] += 1
    return counts + minimum


@functools.lru_cache(maxsize=1)
def _facility_table() -> tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...], np.ndarray]:
    rng = np.random.default_rng(_FACILITY_SEED)
    regions = list(REGION_POPULATION)
    population = np.array([REGION_POPULATION[r] for r in regions], dtype=np.float64)
    per_region = _largest_remainder(population, FACILITY_COUNT)

    ids: list[str] = []
    region_of: list[str] = []
    district_of: list[str] = []
    weight: list[float] = []

    def add(group_ids: list[str], region: str, districts: list[str], group_pop: float) -> None:
        # Offices differ in size (log-normal, fixed seed); the group keeps its population share.
        size = rng.lognormal(mean=0.0, sigma=0.35, size=len(group_ids))
        ids.extend(group_ids)
        region_of.extend([region] * len(group_ids))
        district_of.extend(districts)
        weight.extend((size / size.sum() * group_pop).tolist())

    for region, count in zip(regions, per_region, strict=True):
        code = REGION_CODES[region]
        if region == "서울":
            gu_pop = np.array([p for _, _, p in SEOUL_GU], dtype=np.float64)
            gu_pop = gu_pop / gu_pop.sum() * REGION_POPULATION["서울"]
            per_gu = _largest_remainder(gu_pop, int(count))
            for (roman, korean, _), n, pop in zip(SEOUL_GU, per_gu, gu_pop, strict=True):
                gids = [f"SEOUL-{roman}-{i:02d}" for i in range(1, int(n) + 1)]
                add(gids, region, [korean] * int(n), pop)
        elif region == "경기":
            n_deogyang = round(int(count) * DEOGYANG_POPULATION / REGION_POPULATION["경기"])
            gids = [f"{code}-{i:03d}" for i in range(1, int(count) + 1)]
            add(gids[:n_deogyang], region, [DEOGYANG_DISTRICT] * n_deogyang, DEOGYANG_POPULATION)
            rest = REGION_POPULATION["경기"] - DEOGYANG_POPULATION
            add(gids[n_deogyang:], region, [""] * (int(count) - n_deogyang), rest)
        else:
            gids = [f"{code}-{i:03d}" for i in range(1, int(count) + 1)]
            add(gids, region, [""] * int(count), REGION_POPULATION[region])

    w = np.array(weight, dtype=np.float64)
    w /= w.sum()
    w.setflags(write=False)
    return tuple(ids), tuple(region_of), tuple(district_of), w


def facilities() -> pd.DataFrame:
    """The synthetic central offices: ``facility_id``, ``region``, ``district``, ``weight``.

    3,000 rows, the same on every call. ``weight`` is the office's share of all lines (sums to
    1): each 시·도 (each Seoul 구) holds its population share, split unevenly between its
    offices. Seoul offices are ``SEOUL-<GU>-NN`` with the Korean 구 name as ``district``; the
    others ``<CODE>-NNN`` with an empty district, except Goyang Deogyang-gu's offices in
    Gyeonggi.

    >>> f = facilities()
    >>> len(f), round(float(f["weight"].sum()), 9)
    (3000, 1.0)
    >>> f.loc[f["district"] == "마포구", "facility_id"].iloc[0]
    'SEOUL-MAPO-01'
    """
    ids, region, district, weight = _facility_table()
    return pd.DataFrame(
        {
            "facility_id": list(ids),
            "region": list(region),
            "district": list(district),
            "weight": weight.copy(),
        }
    )


# --------------------------------------------------------------------------------------------
# Households: which services a customer holds
# --------------------------------------------------------------------------------------------

# Target line shares (facts §6, §2): mobile 17.6M (MSIT, Nov-2022/Aug-2023), broadband 9.7M
# (inews24, Sep-2022), IPTV 8.8M (MSIT pay-TV, H1-2023); landline has no count: the 2021
# outage's ~35M lines covered mobile + internet + internet phone, so landline ≈ 35 - 17.6 - 9.7
# = 7.7M. Total 43.8M lines.
_LINE_COUNTS_M = {"mobile": 17.6, "internet": 9.7, "iptv": 8.8, "landline": 35.0 - 17.6 - 9.7}
SERVICE_SHARES: dict[str, float] = {
    s: c / sum(_LINE_COUNTS_M.values()) for s, c in _LINE_COUNTS_M.items()
}

# Customer kinds (assumption: the facts have no household structure). Each customer holds at
# most one line of each service; IPTV needs a KT internet line (KT's IPTV runs over it). The
# counts per 10,000 lines are solved so that the line shares equal SERVICE_SHARES exactly:
#   iptv     = b + c + d + e            internet = iptv + f + g + i
#   landline = d + e + g + h            mobile   = a + b + e + i
# with the free choices b, c, d, e (IPTV bundles), f, g, i (internet without IPTV) fixed below.
_BUNDLES: tuple[tuple[str, tuple[int, int, int, int]], ...] = (
    ("a mobile only", (1, 0, 0, 0)),
    ("b mobile+internet+iptv", (1, 1, 1, 0)),
    ("c internet+iptv", (0, 1, 1, 0)),
    ("d internet+iptv+landline", (0, 1, 1, 1)),
    ("e all four", (1, 1, 1, 1)),
    ("f internet only", (0, 1, 0, 0)),
    ("g internet+landline", (0, 1, 0, 1)),
    ("h landline only", (0, 0, 0, 1)),
    ("i mobile+internet", (1, 1, 0, 0)),
)


# The Ahyeon office's area (central Seoul's 5 구 and a third of Goyang Deogyang-gu) had fewer KT
# broadband lines than its phone lines: ~215,000 internet subscribers against ~232,000 fixed
# phones (facts §3: kmib 0012869176, inthenews 12261), and IPTV credited on 124,101 lines against
# 198,109 internet lines (ajunews 20190819113648811): KT's broadband share there is lower than
# the country's (cable and other operators' lines). With the national mix the area would hold
# ~306,000 internet and ~278,000 IPTV lines at national scale; so in the area's offices a
# customer's KT internet is kept with p = 0.70 (IPTV goes with it) and the IPTV of a kept line
# with p = 0.64: internet ≈ 0.93 × landline and IPTV ≈ 0.63 × internet there. A customer left
# with no line is not a KT customer (no row). Mobile and landline keep the national mix.
LOW_BROADBAND_KEEP_INTERNET = 0.70
LOW_BROADBAND_KEEP_IPTV = 0.64
AHYEON_GU = ("JUNG", "YONGSAN", "SEODAEMUN", "MAPO", "EUNPYEONG")


@functools.lru_cache(maxsize=1)
def _ahyeon_area() -> np.ndarray:
    """Per facility (the order of :func:`facilities`): True for the Ahyeon office's area — the
    offices of the 5 구 and the first third of Deogyang-gu's."""
    ids, _, district, _ = _facility_table()
    gu = np.array([i.split("-")[1] if i.startswith("SEOUL-") else "" for i in ids])
    hit = np.isin(gu, AHYEON_GU)
    deogyang = np.flatnonzero(np.array(district) == DEOGYANG_DISTRICT)
    hit[deogyang[: int(np.ceil(len(deogyang) / 3))]] = True
    hit.setflags(write=False)
    return hit


def _bundle_probabilities() -> np.ndarray:
    # Customers in the Ahyeon area lose some internet and IPTV lines (above): the national targets
    # of those two are raised by 1 / (1 - w (1 - kept)), w the area's share of customers, so that
    # the country as a whole still has the service mix exactly (in expectation).
    w = float(_facility_table()[3][_ahyeon_area()].sum())
    kept = {"internet": LOW_BROADBAND_KEEP_INTERNET, "iptv": LOW_BROADBAND_KEEP_INTERNET * LOW_BROADBAND_KEEP_IPTV}
    per = {s: SERVICE_SHARES[s] * 10_000 / (1 - w * (1 - kept.get(s, 1.0))) for s in SERVICES}
    iptv = per["iptv"]
    b, c, d = 0.30 * iptv, 0.25 * iptv, 0.23 * iptv
    e = iptv - b - c - d
    rest_internet = per["internet"] - iptv
    f, g, i = 0.40 * rest_internet, 0.30 * rest_internet, 0.30 * rest_internet
    h = per["landline"] - d - e - g
    a = per["mobile"] - b - e - i
    counts = np.array([a, b, c, d, e, f, g, h, i], dtype=np.float64)
    assert (counts > 0).all(), counts
    return counts / counts.sum()


_BUNDLE_MASK = np.array([mask for _, mask in _BUNDLES], dtype=bool)


@functools.lru_cache(maxsize=1)
def _bundle_cdf() -> np.ndarray:
    return np.cumsum(_bundle_probabilities())


# Customer type. Ahyeon (facts §3): ~13,000 merchants applied against ~215,000 internet
# subscribers in the area, so small businesses hold ≈ 6% of wired lines (applicants are a lower
# bound, central Seoul an upper one: the two are taken to cancel). Enterprise shares and the
# mobile-only rates are assumptions.
SMALL_BUSINESS_WIRED_SHARE = 0.06
_TYPE_P_WIRED = (1 - SMALL_BUSINESS_WIRED_SHARE - 0.015, SMALL_BUSINESS_WIRED_SHARE, 0.015)
_TYPE_P_MOBILE_ONLY = (1 - 0.015 - 0.01, 0.015, 0.01)

# Payment methods. Only the card split is in the facts (§4): the 2023 billing error hit 1.31M
# credit-card and 150K check-card payers, so credit:check = 1310:150 among card payers. The card
# share is calibrated to the size of that incident at national scale: 16.4% of customers pay by
# card, which puts ~1.46M mobile card lines on the 11th card date in a roster of 43.8M lines (the
# service mix's national total; half of card payers on the 11th). A 35M-line roster holds 80% of
# that. Bank transfer takes the rest after giro and other (assumptions).
_CARD_SHARE = 0.164
PAYMENT_SHARES: dict[str, float] = {
    "credit_card": _CARD_SHARE * 1310 / 1460,
    "check_card": _CARD_SHARE * 150 / 1460,
    "bank_transfer": 1 - _CARD_SHARE - 0.12 - 0.08,
    "giro": 0.12,
    "other": 0.08,
}
_PAYMENT_CDF = np.cumsum([PAYMENT_SHARES[m] for m in PAYMENT_METHODS])

# Bill cycle (payment) day per method. Cards 11th/19th and bank transfer 18th/21st/25th are
# KT's offered dates per blogs (facts §5, not confirmed officially), split evenly (assumption).
# Giro has no figure: an even spread over common due dates (assumption). "other" is mostly
# easy-pay (Naver/Kakao/Payco), charged on the 21st per the same blogs; 30% spread (assumption).
_BILL_DAYS: dict[str, tuple[tuple[int, ...], tuple[float, ...]]] = {
    "credit_card": ((11, 19), (0.5, 0.5)),
    "check_card": ((11, 19), (0.5, 0.5)),
    "bank_transfer": ((18, 21, 25), (1 / 3, 1 / 3, 1 / 3)),
    "giro": ((5, 10, 15, 20, 25, 28), (1 / 6,) * 6),
    "other": ((21, 5, 10, 15, 25, 28), (0.70, 0.06, 0.06, 0.06, 0.06, 0.06)),
}

# --------------------------------------------------------------------------------------------
# Plans and fees
# --------------------------------------------------------------------------------------------
# monthly_fee_krw is the billed monthly fee after discounts: what KT's ARPU measures and what
# the Ahyeon compensation averaged (facts §3: average of Aug-Oct bills). The plan label names
# the discount, so label and fee always agree.


def _catalogue(entries: list[tuple[str, int, float]]) -> tuple[list[str], list[int], np.ndarray]:
    labels = [label for label, _, _ in entries]
    fees = [fee for _, fee, _ in entries]
    p = np.array([w for _, _, w in entries], dtype=np.float64)
    return labels, fees, p / p.sum()


def _discounted(price: int, factor: float) -> int:
    # KT prices end in 0: a discounted fee is rounded down to 10 won.
    return int(price * factor) // 10 * 10


def _mobile_entries() -> list[tuple[str, int, float]]:
    return [(label, fee, share) for label, fee, share, _ in _mobile_plans()]


# 선택약정 (selective agreement): 25% off the plan's list price; with a family bundle, 50% in all.
_SELECTIVE_FACTOR = 0.75


def _mobile_plans() -> list[tuple[str, int, float, int]]:
    """Mobile plans: (label, fee after discounts, share of mobile lines, list price)."""
    # IoT/wearables are ~16% of KT mobile lines (2.89M IoT of 17.7M, facts §6); their fees are
    # an assumption. Handsets: 5G is ~45% (end-2021) to ~60% (2022) of handsets: 50% used here.
    # 5G 베이직/스페셜/프리미엄 80,000/100,000/130,000 are KT's launch prices (facts §6); the
    # other plan prices and all plan weights are assumptions. Discounts (assumption): 선택약정
    # 25% for 45% of handsets, 선택약정 + family bundle (50% in all) for 25%, none for 30%. The
    # resulting mean (~34,000 won over all mobile lines) sits in KT's ARPU range, 31,393 (Q2 2020)
    # to 34,567 (Q4 2024) won (facts §6); the mean list price of handsets (~53,000) matches KT's
    # "typical ~50,000 plan" (facts §6).
    iot = [
        ("IoT 회선", 2_200, 0.50),
        ("스마트워치 요금제", 11_000, 0.30),
        ("데이터 쉐어링", 0, 0.20),
    ]
    g5 = [
        ("5G 슬림", 55_000, 0.40),
        ("5G 심플", 69_000, 0.25),
        ("5G 베이직", 80_000, 0.20),
        ("5G 스페셜", 100_000, 0.12),
        ("5G 프리미엄", 130_000, 0.03),
    ]
    lte = [
        ("LTE 슬림", 16_500, 0.35),
        ("LTE 베이직", 33_000, 0.35),
        ("LTE 데이터ON 톡", 49_000, 0.15),
        ("LTE 데이터ON 비디오", 69_000, 0.12),
        ("LTE 데이터ON 프리미엄", 89_000, 0.03),
    ]
    discounts = [("", 1.0, 0.25), (" (선택약정)", _SELECTIVE_FACTOR, 0.45), (" (선택약정+결합)", 0.50, 0.30)]
    iot_share, g5_share = 0.16, 0.50
    out = [(label, fee, iot_share * w, fee) for label, fee, w in iot]
    for family, family_share in ((g5, g5_share), (lte, 1 - g5_share)):
        for label, price, w in family:
            for suffix, factor, dw in discounts:
                share = (1 - iot_share) * family_share * w * dw
                out.append((label + suffix, _discounted(price, factor), share, price))
    return out


# Internet (facts §6): 100M 22,000 / 16,500 bundled and 500M 35,200 / 27,500 bundled (blog
# 1-yr prices; the 500M average ≈ KT's "500M 3-yr ~30,000"); 2.5G 44,000/38,500, 5G
# 60,500/55,000, 10G 88,000/77,000 and 10G no-contract 110,000 (KT agency list). 1G has no list
# price in the facts: 38,500 / 33,000 (assumption, between 500M and 2.5G). Bundled = the
# customer also holds KT mobile or IPTV. Mix (assumption): ≥500M ("GiGA") ≈ 65%, close to
# "Giga internet ~60% of KT broadband" (Q3 2019, facts §6).
_INTERNET_PLANS: tuple[tuple[str, int, int, float], ...] = (
    ("인터넷 100M", 22_000, 16_500, 0.35),
    ("인터넷 500M", 35_200, 27_500, 0.35),
    ("인터넷 1G", 38_500, 33_000, 0.22),
    ("인터넷 2.5G", 44_000, 38_500, 0.05),
    ("인터넷 5G", 60_500, 55_000, 0.02),
    ("인터넷 10G", 88_000, 77_000, 0.007),
)
_INTERNET_NO_CONTRACT = ("인터넷 10G (무약정)", 110_000, 0.003)


def _internet_entries(bundled: bool) -> list[tuple[str, int, float]]:
    out = []
    for label, alone, with_bundle, w in _INTERNET_PLANS:
        if bundled:
            out.append((label + " (결합)", with_bundle, w))
        else:
            out.append((label, alone, w))
    out.append(_INTERNET_NO_CONTRACT)
    return out


# IPTV and landline: no prices in data/SOURCES.md. Plausible KT-like price points, all assumption.
_IPTV_ENTRIES = [
    ("지니 TV 라이트", 13_200, 0.25),
    ("지니 TV 베이직", 16_500, 0.45),
    ("지니 TV 에센스", 20_900, 0.20),
    ("지니 TV 프리미엄", 27_500, 0.10),
]
_LANDLINE_ENTRIES = [
    ("일반전화 기본", 5_200, 0.35),
    ("일반전화 정액", 11_000, 0.15),
    ("인터넷전화 기본", 2_200, 0.30),
    ("인터넷전화 정액", 11_000, 0.20),
]

_PLAN_GROUPS = (
    _mobile_entries(),
    _internet_entries(bundled=True),
    _internet_entries(bundled=False),
    _IPTV_ENTRIES,
    _LANDLINE_ENTRIES,
)
_GROUP_OFFSETS: list[int] = []
_PLAN_LABELS: list[str] = []
_PLAN_FEES: list[int] = []
_GROUP_CDFS: list[np.ndarray] = []
for _entries in _PLAN_GROUPS:
    _labels, _fees, _p = _catalogue(_entries)
    _GROUP_OFFSETS.append(len(_PLAN_LABELS))
    _PLAN_LABELS.extend(_labels)
    _PLAN_FEES.extend(_fees)
    _GROUP_CDFS.append(np.cumsum(_p))
_PLAN_FEE_ARRAY = np.array(_PLAN_FEES, dtype=np.int64)

PLAN_FEES: dict[str, int] = dict(zip(_PLAN_LABELS, _PLAN_FEES, strict=True))
"""Every plan label the generator uses, with its monthly fee in won."""


def _plan_items() -> dict[str, tuple[int, int, int]]:
    """Each plan's fee as bill items: (list price, 선택약정 discount, bundle discount), adding up to
    its fee. The list price is the price before the discounts the label names: a mobile plan's
    price without 선택약정 or family bundle, an internet plan's price without the bundle (the
    contract price: the generator has no long-term discount). 선택약정 is 25% of the list price
    (the fee is rounded down to 10 won, so the discount is 25% rounded up to 10 won); the family
    bundle takes the rest of the fee's 50% off; an internet bundle the bundled price's difference.
    """
    items = {label: (fee, 0, 0) for label, fee in PLAN_FEES.items()}
    for label, fee, _, price in _mobile_plans():
        if "선택약정" in label:
            selective = _discounted(price, _SELECTIVE_FACTOR) - price
            items[label] = (price, selective, fee - price - selective)
    for label, alone, with_bundle, _ in _INTERNET_PLANS:
        items[label + " (결합)"] = (alone, 0, with_bundle - alone)
    assert all(sum(v) == PLAN_FEES[k] and v[1] <= 0 and v[2] <= 0 for k, v in items.items())
    return items


_PLAN_ITEMS = _plan_items()

# --------------------------------------------------------------------------------------------
# Names and phone numbers (synthetic personal data)
# --------------------------------------------------------------------------------------------
# Surnames with rough frequency weights (2015 census: 김 ~21%, 이 ~15%, 박 ~8%, top 20 ~78%);
# given names are two syllables drawn from common name syllables. All Hangul syllables are 3
# bytes in UTF-8, so every name is exactly 9 bytes and can be assembled as a byte matrix.
_SURNAMES = (
    "김이박최정강조윤장임한오서신권황안송전홍유고문양손배백허남심노하곽성차주우구민류"
    "나진지엄채원천방공현함변염여추도소석선설마길연위표명기반왕금옥육인맹제모탁국어은"
    "편용예경봉사부가복태목형계피두감음빈동온호범좌"
)
_SURNAME_W = np.array(
    [21.5, 14.7, 8.4, 4.7, 4.3, 2.4, 2.1, 2.1, 2.0, 1.7, 1.5, 1.5, 1.5, 1.5, 1.4, 1.4, 1.4, 1.4]
    + [1.3, 1.1]
    + [0.26] * (len(_SURNAMES) - 20),
    dtype=np.float64,
)
_GIVEN = (
    "민서지현준수영도윤우예하은주진성재호연혜경정희훈석원빈아유태"
    "승동소다채시건상혁기찬나미선명규한용철광"
)


def _syllable_bytes(text: str) -> np.ndarray:
    raw = np.frombuffer(text.encode("utf-8"), dtype=np.uint8).reshape(-1, 3)
    assert raw.shape[0] == len(text)
    return raw


_SURNAME_BYTES = _syllable_bytes(_SURNAMES)
_SURNAME_CDF = np.cumsum(_SURNAME_W / _SURNAME_W.sum())
_GIVEN_BYTES = _syllable_bytes(_GIVEN)

# Phone numbers: 010-XXXX-XXXX with the middle part 2000-9999, 80M numbers. A customer's number
# is a bijection of customer_id (odd multiplier, not a multiple of 5, so coprime to 80M), so no
# two customers of one roster share a number up to 80M customers.
_PHONE_SPACE = 80_000_000
_PHONE_MULTIPLIER = 39_916_801


def _fixed_width_strings(matrix: np.ndarray) -> pa.Array:
    """A pyarrow string array from an (n, width) uint8 matrix of UTF-8 bytes, without copies."""
    n, width = matrix.shape
    data = np.ascontiguousarray(matrix)
    offsets = np.arange(0, (n + 1) * width, width, dtype=np.int32)
    return pa.Array.from_buffers(pa.string(), n, [None, pa.py_buffer(offsets), pa.py_buffer(data)])


def _digits(values: np.ndarray, width: int) -> np.ndarray:
    """ASCII digits of non-negative ints as an (n, width) uint8 matrix, zero-padded."""
    powers = 10 ** np.arange(width - 1, -1, -1, dtype=np.int64)
    return ((values[:, None] // powers[None, :]) % 10 + ord("0")).astype(np.uint8)


def _phones(customer_ids: np.ndarray, seed: int) -> np.ndarray:
    offset = (seed * 2_654_435_761) % _PHONE_SPACE
    k = (customer_ids * _PHONE_MULTIPLIER + offset) % _PHONE_SPACE
    middle = 2_000 + k // 10_000
    last = k % 10_000
    n = len(customer_ids)
    out = np.empty((n, 13), dtype=np.uint8)
    out[:, 0:4] = np.frombuffer(b"010-", dtype=np.uint8)
    out[:, 4:8] = _digits(middle, 4)
    out[:, 8] = ord("-")
    out[:, 9:13] = _digits(last, 4)
    return out


# --------------------------------------------------------------------------------------------
# The line stream
# --------------------------------------------------------------------------------------------

_BLOCK_CUSTOMERS = 1 << 15  # ~55,000 lines per block; part of the output's definition

_SERVICE_ARRAY = pa.array(SERVICES, type=pa.string())
_TYPE_ARRAY = pa.array(CUSTOMER_TYPES, type=pa.string())
_PAYMENT_ARRAY = pa.array(PAYMENT_METHODS, type=pa.string())
_PLAN_ARRAY = pa.array(_PLAN_LABELS, type=pa.string())


def _pick(cdf: np.ndarray, u: np.ndarray) -> np.ndarray:
    """Categorical draw: the index i with cdf[i-1] <= u < cdf[i] (guards rounding at the top)."""
    return np.minimum(np.searchsorted(cdf, u, side="right"), len(cdf) - 1)


def _bill_days(payment: np.ndarray, u: np.ndarray) -> np.ndarray:
    days = np.empty(len(payment), dtype=np.int64)
    for code, method in enumerate(PAYMENT_METHODS):
        chosen = payment == code
        options, p = _BILL_DAYS[method]
        cdf = np.cumsum(np.array(p) / sum(p))
        days[chosen] = np.array(options, dtype=np.int64)[_pick(cdf, u[chosen])]
    return days


def _block(seed: int, block: int, first_customer_id: int, first_line_id: int) -> pa.Table:
    """Block ``block`` of the line stream: ``_BLOCK_CUSTOMERS`` customers and all their lines."""
    rng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(block,)))
    n_cust = _BLOCK_CUSTOMERS
    fac_cdf = _facility_cdf()

    # Per customer. One uniform matrix, one column per attribute; columns 6-7 are spare, so an
    # attribute can be added later without shifting the draws of the existing ones.
    u = rng.random((n_cust, 8))
    bundle = _pick(_bundle_cdf(), u[:, 0])
    facility = _pick(fac_cdf, u[:, 1])
    # The services each customer holds; in the Ahyeon area some internet and IPTV lines are not
    # KT's (columns 6 and 7 of u, spare until then, so nothing else moves).
    held = _BUNDLE_MASK[bundle]
    area = _ahyeon_area()[facility]
    no_internet = area & (u[:, 6] >= LOW_BROADBAND_KEEP_INTERNET)
    held[no_internet, 1] = False
    held[no_internet | (area & (u[:, 7] >= LOW_BROADBAND_KEEP_IPTV)), 2] = False
    wired = held[:, 1] | held[:, 3]
    ctype = np.where(
        wired,
        _pick(np.cumsum(_TYPE_P_WIRED), u[:, 2]),
        _pick(np.cumsum(_TYPE_P_MOBILE_ONLY), u[:, 2]),
    )
    payment = _pick(_PAYMENT_CDF, u[:, 3])
    bill_day = _bill_days(payment, u[:, 4])
    surname = _pick(_SURNAME_CDF, u[:, 5])
    given = rng.integers(0, len(_GIVEN_BYTES), size=(n_cust, 2))
    customer_ids = np.arange(first_customer_id, first_customer_id + n_cust, dtype=np.int64)

    names = np.empty((n_cust, 9), dtype=np.uint8)
    names[:, 0:3] = _SURNAME_BYTES[surname]
    names[:, 3:6] = _GIVEN_BYTES[given[:, 0]]
    names[:, 6:9] = _GIVEN_BYTES[given[:, 1]]
    phones = _phones(customer_ids, seed)

    # Expand customers to lines: services in the fixed order mobile, internet, iptv, landline.
    flat = np.flatnonzero(held.ravel())
    cust = flat // 4
    service = flat % 4
    n_lines = len(flat)

    # Plan per line: one categorical group per service (internet: bundled or not).
    bundled = held[cust, 0] | held[cust, 2]
    group = np.select(
        [service == 0, (service == 1) & bundled, service == 1, service == 2],
        [0, 1, 2, 3],
        default=4,
    )
    v = rng.random(n_lines)
    plan = np.empty(n_lines, dtype=np.int64)
    for g, cdf in enumerate(_GROUP_CDFS):
        chosen = group == g
        plan[chosen] = _GROUP_OFFSETS[g] + _pick(cdf, v[chosen])

    columns = {
        "line_id": pa.array(np.arange(first_line_id, first_line_id + n_lines, dtype=np.int64)),
        "customer_id": pa.array(customer_ids[cust]),
        "service": _SERVICE_ARRAY.take(pa.array(service)),
        "monthly_fee_krw": pa.array(_PLAN_FEE_ARRAY[plan]),
        "region": _facility_region_array().take(pa.array(facility[cust])),
        "facility_id": _facility_id_array().take(pa.array(facility[cust])),
        "customer_type": _TYPE_ARRAY.take(pa.array(ctype[cust])),
        "payment_method": _PAYMENT_ARRAY.take(pa.array(payment[cust])),
        "bill_cycle_day": pa.array(bill_day[cust]),
        "plan": _PLAN_ARRAY.take(pa.array(plan)),
        "name": _fixed_width_strings(names[cust]),
        "phone": _fixed_width_strings(phones[cust]),
    }
    return pa.Table.from_pydict(columns, schema=ROSTER_SCHEMA)


@functools.lru_cache(maxsize=1)
def _facility_cdf() -> np.ndarray:
    cdf = np.cumsum(_facility_table()[3])
    cdf[-1] = 1.0
    return cdf


@functools.lru_cache(maxsize=1)
def _facility_id_array() -> pa.Array:
    return pa.array(_facility_table()[0], type=pa.string())


@functools.lru_cache(maxsize=1)
def _facility_region_array() -> pa.Array:
    return pa.array(_facility_table()[1], type=pa.string())


def _line_stream(seed: int) -> Iterator[pa.Table]:
    """The endless stream of blocks; the roster of N lines is its first N lines."""
    block = 0
    next_line_id = 1
    while True:
        table = _block(seed, block, block * _BLOCK_CUSTOMERS + 1, next_line_id)
        next_line_id += table.num_rows
        block += 1
        yield table


def _chunks(seed: int, lines: int, chunk_lines: int) -> Iterator[pa.Table]:
    """The first ``lines`` lines of the stream, in tables of exactly ``chunk_lines`` rows."""
    pending: list[pa.Table] = []
    pending_rows = 0
    emitted = 0
    stream = _line_stream(seed)
    while emitted < lines:
        want = min(chunk_lines, lines - emitted)
        while pending_rows < want:
            table = next(stream)
            pending.append(table)
            pending_rows += table.num_rows
        joined = pa.concat_tables(pending)
        yield joined.slice(0, want).combine_chunks()
        rest = joined.slice(want)
        pending = [rest] if rest.num_rows else []
        pending_rows = rest.num_rows
        emitted += want


# Fixed writer settings: part of the byte-for-byte determinism.
_PARQUET_OPTIONS = {
    "compression": "zstd",
    "compression_level": 3,
    "use_dictionary": True,
    "write_statistics": True,
    "version": "2.6",
    "data_page_version": "1.0",
}


def _check_whole(value: object, name: str, minimum: int, fix: str) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < minimum:
        raise InputError(name, "", f"must be a whole number >= {minimum}, got {value!r}", fix)
    return int(value)


def generate_roster(
    lines: int,
    seed: int,
    out_dir: str | Path,
    *,
    chunk_lines: int = 1_000_000,
    progress: Callable[[int, int], None] | None = None,
) -> Path:
    """Write a calibrated synthetic roster of ``lines`` lines to ``out_dir/roster.parquet``.

    The same ``(lines, seed)`` gives the same bytes; ``chunk_lines`` only bounds memory and sets
    the Parquet row-group size (the data is the same for any value). ``progress(done, total)``
    is called after each chunk is written. The file appears atomically: it is written to a
    temporary file in ``out_dir`` and renamed into place.
    """
    lines = _check_whole(lines, "--lines", 1, "ask for at least one line")
    seed = _check_whole(seed, "--seed", 0, "use a non-negative integer seed")
    chunk_lines = _check_whole(chunk_lines, "chunk_lines", 1, "use a positive chunk size")
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise InputError(
            str(out), "--out", "is a file, not a directory", "give a directory for roster.parquet"
        )
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InputError(
            str(out),
            "--out",
            f"cannot create the directory ({exc.strerror})",
            "choose a writable directory",
        ) from exc

    target = out / "roster.parquet"
    fd, tmp_name = tempfile.mkstemp(prefix=".roster.", suffix=".parquet.tmp", dir=out)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        done = 0
        with pq.ParquetWriter(str(tmp), ROSTER_SCHEMA, **_PARQUET_OPTIONS) as writer:
            for chunk in _chunks(seed, lines, chunk_lines):
                writer.write_table(chunk, row_group_size=chunk_lines)
                done += chunk.num_rows
                if progress is not None:
                    progress(done, lines)
        os.chmod(tmp, 0o644)
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return target


# --------------------------------------------------------------------------------------------
# The Ahyeon fire, 2018-11-24: per-facility restoration windows
# --------------------------------------------------------------------------------------------
# Sources (facts §3): fire in the cable tunnel of KT's Ahyeon branch, started ~11:10-11:12 on
# Saturday 2018-11-24, fully extinguished 21:26 (newscj 576795; ajunews 20181125134053824;
# snakorea 327930). Areas: Jung-gu, Yongsan-gu, Seodaemun-gu, Mapo-gu, Eunpyeong-gu and part of
# Goyang Deogyang-gu (newstomato 860091; soda.donga 1557450; medicalreport.kr 67083). Recovery:
# 25th 18:00 mobile 63%, internet 97%; 26th 18:00 mobile 86% (2,437/2,833 base stations),
# internet 98%, fixed phone 92-93% (215k/232k); full restoration "about a week" (newscj
# 576466/576795; zdnet 20181126193734).
#
# Assumptions: nothing is restored before the fire is out (21:30 on the 24th); IPTV follows
# internet; fixed phone is 75% restored at 18:00 on the 25th (no figure reported); everything
# is back by 18:00 on 2018-12-01; between the reported points recovery is linear in time; the
# "part" of Deogyang is the third of its offices with the lowest ids. Each affected facility is
# restored all at once per service, in one random order shared by all services (fixed seed);
# the restoration times are the recovery curve's quantiles at the midpoints of the facilities'
# cumulative weights, so the weight-weighted (≈ line-weighted) restored share tracks the curve
# at every checkpoint.
AHYEON_START = "2018-11-24T11:12"
_AHYEON_SEED = 20_181_124
_AHYEON_CURVES: dict[str, tuple[tuple[str, float], ...]] = {
    "mobile": (
        ("2018-11-24T21:30", 0.0),
        ("2018-11-25T18:00", 0.63),
        ("2018-11-26T18:00", 0.86),
        ("2018-12-01T18:00", 1.0),
    ),
    "internet": (
        ("2018-11-24T21:30", 0.0),
        ("2018-11-25T18:00", 0.97),
        ("2018-11-26T18:00", 0.98),
        ("2018-12-01T18:00", 1.0),
    ),
    "iptv": (
        ("2018-11-24T21:30", 0.0),
        ("2018-11-25T18:00", 0.97),
        ("2018-11-26T18:00", 0.98),
        ("2018-12-01T18:00", 1.0),
    ),
    "landline": (
        ("2018-11-24T21:30", 0.0),
        ("2018-11-25T18:00", 0.75),
        ("2018-11-26T18:00", 0.925),
        ("2018-12-01T18:00", 1.0),
    ),
}
AHYEON_CHECKPOINTS: dict[str, dict[str, float]] = {
    "2018-11-25T18:00": {"mobile": 0.63, "internet": 0.97},
    "2018-11-26T18:00": {"mobile": 0.86, "internet": 0.98, "landline": 0.925},
}


def _ahyeon_facilities() -> pd.DataFrame:
    fac = facilities()
    return fac.loc[_ahyeon_area()].sort_values("facility_id").reset_index(drop=True)


def ahyeon_windows() -> pd.DataFrame:
    """Outage windows of the 2018-11-24 Ahyeon fire, one row per (facility, service).

    Columns ``facility_id``, ``service``, ``start``, ``end``; times are ``YYYY-MM-DDTHH:MM`` in
    Asia/Seoul local time, without a zone. Everything starts at 11:12 on 2018-11-24; the ends
    follow the reported recovery (see the comment above this function for sources).
    """
    fac = _ahyeon_facilities()
    weight = fac["weight"].to_numpy()
    rng = np.random.default_rng(_AHYEON_SEED)
    minute = np.timedelta64(1, "m")
    # One restoration order for all services: an office whose cables come back early brings
    # back its wired and wireless services early (each on its own service's curve).
    order = rng.permutation(len(fac))
    w = weight[order] / weight.sum()
    frames = []
    for service in SERVICES:
        knots = _AHYEON_CURVES[service]
        times = np.array([np.datetime64(t, "m") for t, _ in knots])
        shares = np.array([s for _, s in knots])
        midpoint = np.cumsum(w) - w / 2
        offset_min = np.interp(midpoint, shares, (times - times[0]) / minute)
        ends = times[0] + np.floor(offset_min).astype(np.int64) * minute
        frames.append(
            pd.DataFrame(
                {
                    "facility_id": fac["facility_id"].to_numpy()[order],
                    "service": service,
                    "start": AHYEON_START,
                    "end": np.datetime_as_string(ends, unit="m"),
                }
            )
        )
    out = pd.concat(frames, ignore_index=True)
    return out.sort_values(["facility_id", "service"], kind="stable").reset_index(drop=True)


# --------------------------------------------------------------------------------------------
# Monthly bills
# --------------------------------------------------------------------------------------------
# A bill is the line's monthly fee plus what the month added: usage and add-on charges, device
# instalments, a few one-off charges and credits. None of the figures below is in the facts
# file: every rate and amount is an assumption, chosen so that bills look like KT bills (prices
# end in 0; amounts under 10 won are cut, "10원 미만 절사") and so that about 37.5% of lines
# have exactly the same amount in two given months (BILL_SAME_AMOUNT_SHARE, data/README.md).
# That share is what makes a bill run that repeats an earlier month stand out (see
# kt_analysis/jobs/bill_check.py and facts §4: September 2023 charged at the July amounts).
#
# Randomness is counter-based: every draw is splitmix64(key(seed, line_id) + stream × γ), where
# the stream numbers the line's traits (fixed for the line) and its calendar month's draws. A
# line's bill for a calendar month therefore depends on (seed, line_id, its roster row, month)
# only: not on the row order, the chunk size, nor the first month or length of the window.

BILLS_SCHEMA = BILLS

BILL_SAME_AMOUNT_SHARE = 0.375
"""Share of lines whose bill is exactly the same in two given months (an assumption; the synthetic
bills give 37.4-37.8% month over month on the calibrated roster: internet ~83%, IPTV ~33%,
mobile ~22%, landline ~22%). Far enough from 100% that a run repeating a month stands out."""

_MONTH_PATTERN = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$")

_U64 = np.uint64
_GAMMA = _U64(0x9E3779B97F4A7C15)  # splitmix64's increment (2^64 / golden ratio)
_MIX1 = _U64(0xBF58476D1CE4E5B9)
_MIX2 = _U64(0x94D049BB133111EB)
_LOW32 = _U64(0xFFFFFFFF)
_TWO_M32 = 2.0**-32

# Line kinds: what can change a line's bill from one month to the next.
_KIND_HANDSET_CAPPED = 0  # handset plan with a data allowance: data top-ups possible
_KIND_HANDSET = 1  # other handset plans
_KIND_DEVICE = 2  # IoT, smartwatch, data-sharing: flat
_KIND_INTERNET = 3
_KIND_IPTV = 4
_KIND_LANDLINE_METERED = 5  # 기본 plans: calls billed by use
_KIND_LANDLINE_FLAT = 6  # 정액 plans
_KIND_OTHER = 7  # a service the generator does not know: fee only, plus one-offs and credits

_DEVICE_PLAN_PREFIXES = ("IoT", "스마트워치", "데이터 쉐어링")
_CAPPED_PLAN_PREFIXES = ("LTE 슬림", "LTE 베이직", "5G 슬림")

# Roaming is seasonal (assumption: summer holidays, Lunar New Year, Chuseok, year end): the
# monthly roaming rate is _ROAMING_RATE × the factor of the calendar month.
_ROAMING_RATE = 0.015
_ROAMING_SEASON = np.array([1.6, 1.3, 0.8, 0.8, 1.0, 0.9, 1.6, 1.9, 1.1, 1.2, 0.8, 1.3])

# All assumptions (no figure in data/SOURCES.md). Rates are per line per month unless "of lines".
_ONE_OFF_RATE, _ONE_OFF_KRW = 0.05, (1_100, 55_000)  # fees: number change, lost SIM, moving, pro-rata
_CREDIT_RATE, _CREDIT_KRW = 0.04, (500, 11_000)  # points, promotions, outage credits
_ADDON_SHARE = 0.35  # of handset lines: constant add-ons (ringback tone, phone insurance …)
_ADDON_KRW = np.array([1_100, 3_300, 5_500, 6_600], dtype=np.float64)
_INSTALMENT_SHARE = 0.45  # of handset lines: a device paid by instalments, in cycles
_DEVICE_PRICE_KRW = (400_000, 1_600_000)
_INSTALMENT_APR = 0.059  # KT's instalment fee, 5.9% a year on the declining balance
_CALLER_SHARE, _CALL_RATE, _CALL_KRW = 0.75, 0.75, (110, 6_600)  # 1588/114/international calls
_CONTENT_SHARE, _CONTENT_RATE, _CONTENT_KRW = 0.55, 0.55, (1_000, 60_000)  # micropayments
_TOPUP_RATE = 0.25  # capped plans: data top-ups
_TOPUP_KRW = np.array([3_300, 5_500, 11_000, 16_500], dtype=np.float64)
_ROAMING_DAY_KRW = 11_000  # a roaming day pass; 1-9 days
_RENTAL_SHARE = 0.5  # of internet lines: Wi-Fi router rental, constant
_RENTAL_KRW = np.array([1_100, 2_200], dtype=np.float64)
_VOD_SHARE, _VOD_RATE = 0.75, (0.40, 0.95)  # of IPTV lines buy VODs; each in 40-95% of months
_VOD_KRW = np.array([1_650, 3_300, 5_500, 11_000], dtype=np.float64)
_METERED_RATE, _METERED_KRW = 0.90, (300, 12_000)
_FLAT_EXTRA_RATE, _FLAT_EXTRA_KRW = 0.15, (500, 5_000)


def _mix64(x: np.ndarray) -> np.ndarray:
    """splitmix64's finaliser, in place: a bijection of uint64 that scatters neighbouring keys."""
    x ^= x >> _U64(30)
    x *= _MIX1
    x ^= x >> _U64(27)
    x *= _MIX2
    x ^= x >> _U64(31)
    return x


def _uniforms(keys: np.ndarray, stream: int) -> tuple[np.ndarray, np.ndarray]:
    """Two independent uniforms in [0, 1) per key from one 64-bit draw of ``stream``."""
    h = _mix64(keys + _U64((stream * int(_GAMMA)) % 2**64))
    return (h >> _U64(32)).astype(np.float64) * _TWO_M32, (h & _LOW32).astype(np.float64) * _TWO_M32


def _log_uniform(u: np.ndarray, bounds: tuple[int, int]) -> np.ndarray:
    lo, hi = bounds
    return lo * np.exp(u * np.log(hi / lo))


def _menu(u: np.ndarray, prices: np.ndarray) -> np.ndarray:
    return prices[np.minimum((u * len(prices)).astype(np.int64), len(prices) - 1)]


def _month_index(text: str, path: str, where: str) -> int:
    """``YYYY-MM`` → months since year 0, or InputError."""
    match = _MONTH_PATTERN.fullmatch(text) if isinstance(text, str) else None
    if match is None:
        raise InputError(path, where, f"is not a month YYYY-MM: {text!r}", "write it like 2023-09")
    return int(match.group(1)) * 12 + int(match.group(2)) - 1


def _month_label(index: int) -> str:
    return f"{index // 12:04d}-{index % 12 + 1:02d}"


def bill_months(first_month: str, months: int) -> list[str]:
    """The ``months`` bill months from ``first_month`` on, or InputError (checked before any work).

    >>> bill_months("2023-11", 3)
    ['2023-11', '2023-12', '2024-01']
    """
    first = _month_index(first_month, "--first-month", "")
    months = _check_whole(months, "--bill-months", 1, "ask for at least one month")
    return [_month_label(m) for m in range(first, first + months)]


def _line_kinds(service: pa.Array, plan: pa.Array | None, fee: np.ndarray) -> np.ndarray:
    """The kind of each line (``_KIND_*``), from service and plan (or the fee, without a plan)."""
    service = service.dictionary_encode() if not pa.types.is_dictionary(service.type) else service
    names = service.dictionary.to_pylist()
    codes = service.indices.to_numpy(zero_copy_only=False)
    by_service = np.array([SERVICES.index(s) if s in SERVICES else 4 for s in names] + [4], dtype=np.int64)
    svc = by_service[np.where(service.indices.is_null().to_numpy(zero_copy_only=False), len(names), codes)]
    kind = np.full(len(fee), _KIND_OTHER, dtype=np.int64)
    kind[svc == 1] = _KIND_INTERNET
    kind[svc == 2] = _KIND_IPTV
    mobile, landline = svc == 0, svc == 3
    if plan is None:
        # No plan column: guess from the fee (the generator's device plans cost ≤ 11,000 won).
        kind[mobile] = np.where(fee[mobile] <= 11_000, _KIND_DEVICE,
                                np.where(fee[mobile] < 40_000, _KIND_HANDSET_CAPPED, _KIND_HANDSET))
        kind[landline] = np.where(fee[landline] <= 5_200, _KIND_LANDLINE_METERED, _KIND_LANDLINE_FLAT)
        return kind
    plan = plan.dictionary_encode() if not pa.types.is_dictionary(plan.type) else plan
    labels = [label or "" for label in plan.dictionary.to_pylist()] + [""]
    device = np.array([label.startswith(_DEVICE_PLAN_PREFIXES) for label in labels])
    capped = np.array([label.startswith(_CAPPED_PLAN_PREFIXES) for label in labels])
    metered = np.array(["기본" in label for label in labels])
    p = np.where(plan.indices.is_null().to_numpy(zero_copy_only=False), len(labels) - 1,
                 plan.indices.to_numpy(zero_copy_only=False))
    kind[mobile] = np.where(device[p[mobile]], _KIND_DEVICE,
                            np.where(capped[p[mobile]], _KIND_HANDSET_CAPPED, _KIND_HANDSET))
    kind[landline] = np.where(metered[p[landline]], _KIND_LANDLINE_METERED, _KIND_LANDLINE_FLAT)
    return kind


# Bill items: the parts of a bill under the names of ITEM_CATEGORIES. One definition of a bill,
# _bill_parts, feeds both generate_bills (which sums the parts) and generate_bill_items (which
# keeps them apart), so a line's items always add up to its bill.
_ITEM = {name: i for i, name in enumerate(ITEM_CATEGORIES)}
_ITEM_ARRAY = pa.array(ITEM_CATEGORIES, type=pa.string())
_PLAN, _SELECTIVE, _BUNDLE = _ITEM["plan"], _ITEM["selective_discount"], _ITEM["bundle_discount"]
_FEE_ITEMS = [_PLAN, *(_ITEM[name] for name in DISCOUNT_ITEMS)]  # together: the line's fee
_ADD_ON, _RENTAL, _INSTALMENT = _ITEM["add_on"], _ITEM["equipment_rental"], _ITEM["device_instalment"]
_USAGE, _INTERNATIONAL, _INFORMATION, _ONE_OFF = (
    _ITEM["usage"], _ITEM["international"], _ITEM["information_fee"], _ITEM["one_off"])
_CREDIT = -1  # the last part of a bill: subtracted, and netted against the other items

# Where the two differences between a bill and its items' sum are taken off (see _bill_item_amounts);
# "plan" stands for the line's fee (plan with its discounts), never taken below 0.
# 1. The 10-won cut (10원 미만 절사, plus the rounding up of fractional charges to the won: under 13
#    won): off the usage item first, else the information fee, else the one-off charge. Only
#    those hold fractional charges (calls, metered calls, content, one-offs, each ≥ 110 won), so on a
#    generated roster the cut never reaches the items after them (it can on a roster whose fee does
#    not end in 0: the fee's last digits are cut, as on the bill).
_CUT_ORDER = tuple(_ITEM[name] for name in (
    "usage", "information_fee", "one_off", "international", "device_instalment", "equipment_rental",
    "add_on", "plan"))
# 2. The month's credit (points, promotions, earlier outage credits), as far as it reduced the bill
#    (a bill never goes below 0): the contract has no credit item and allows negative amounts on
#    discounts only, so the credit is netted against the month's other charges, first those that
#    fee bases leave out (one-off charges, international, information fees, usage, instalments),
#    and only then the recurring fee items (rental, add-ons, and last the plan: its discounts stay
#    as they are and the plan item goes down, never below what makes plan + discounts 0).
_CREDIT_ORDER = tuple(_ITEM[name] for name in (
    "one_off", "international", "information_fee", "usage", "device_instalment", "equipment_rental",
    "add_on", "plan"))


def _bill_parts(keys: np.ndarray, kind: np.ndarray, month: int) -> Iterator[tuple[int, np.ndarray]]:
    """What calendar ``month`` (months since year 0) adds to each line's fee, in the order the bill
    adds it: ``(item, won)`` with ``item`` an index of ITEM_CATEGORIES and ``won`` float64 ≥ 0; the
    last part is the credit, ``(_CREDIT, won)``, which the bill subtracts."""
    handset = (kind == _KIND_HANDSET) | (kind == _KIND_HANDSET_CAPPED)
    iptv = kind == _KIND_IPTV

    # The line's traits: streams 0-4, the same every month.
    t0, t1 = _uniforms(keys, 0)
    t2, t3 = _uniforms(keys, 1)
    t4, t5 = _uniforms(keys, 2)
    t6, t7 = _uniforms(keys, 3)
    t8, _ = _uniforms(keys, 4)
    yield _ADD_ON, np.where(handset & (t0 < _ADDON_SHARE), _menu(t1, _ADDON_KRW), 0.0)
    yield _RENTAL, np.where((kind == _KIND_INTERNET) & (t0 < _RENTAL_SHARE), _menu(t1, _RENTAL_KRW), 0.0)
    # Device instalments come in cycles: `term` months paying, then `gap` months without, phase
    # drawn per line; 24-month terms for 40% of buyers, 36 for the rest.
    term = np.where(t4 < 0.4, 24, 36)
    cycle = term + (t5 * 13).astype(np.int64)
    paying = handset & (t2 < _INSTALMENT_SHARE) & ((month + (t6 * cycle).astype(np.int64)) % cycle < term)
    price = _log_uniform(t3, _DEVICE_PRICE_KRW)
    instalment = np.floor(price * (1 + _INSTALMENT_APR * (term + 1) / 24) / term / 10) * 10
    yield _INSTALMENT, np.where(paying, instalment, 0.0)

    # This month's draws: streams 16 + 8 × month + 0..5.
    base = 16 + 8 * month
    u0, u1 = _uniforms(keys, base)
    u2, u3 = _uniforms(keys, base + 1)
    u4, u5 = _uniforms(keys, base + 2)
    u6, u7 = _uniforms(keys, base + 3)
    u8, u9 = _uniforms(keys, base + 4)
    u10, u11 = _uniforms(keys, base + 5)
    caller = handset & (t7 < _CALLER_SHARE)
    yield _USAGE, np.where(caller & (u4 < _CALL_RATE), _log_uniform(u5, _CALL_KRW), 0.0)
    content = handset & (t8 < _CONTENT_SHARE)
    yield _INFORMATION, np.where(content & (u6 < _CONTENT_RATE), _log_uniform(u7, _CONTENT_KRW), 0.0)
    yield _USAGE, np.where((kind == _KIND_HANDSET_CAPPED) & (u8 < _TOPUP_RATE), _menu(u9, _TOPUP_KRW), 0.0)
    roaming = handset & (u10 < _ROAMING_RATE * _ROAMING_SEASON[month % 12])
    yield _INTERNATIONAL, np.where(roaming, _ROAMING_DAY_KRW * (1 + (u11 * 9).astype(np.int64)), 0.0)
    vod_rate = _VOD_RATE[0] + (_VOD_RATE[1] - _VOD_RATE[0]) * t7
    buys = iptv & (t6 < _VOD_SHARE) & (u4 < vod_rate)
    yield _INFORMATION, np.where(buys, _menu(u5, _VOD_KRW) * (1 + (u6 * 3).astype(np.int64)), 0.0)
    metered = (kind == _KIND_LANDLINE_METERED) & (u4 < _METERED_RATE)
    yield _USAGE, np.where(metered, _log_uniform(u5, _METERED_KRW), 0.0)
    flat_extra = (kind == _KIND_LANDLINE_FLAT) & (u4 < _FLAT_EXTRA_RATE)
    yield _USAGE, np.where(flat_extra, _log_uniform(u5, _FLAT_EXTRA_KRW), 0.0)

    yield _ONE_OFF, np.where(u0 < _ONE_OFF_RATE, _log_uniform(u1, _ONE_OFF_KRW), 0.0)
    yield _CREDIT, np.where(u2 < _CREDIT_RATE, _log_uniform(u3, _CREDIT_KRW), 0.0)


def _whole_tens(amount: np.ndarray) -> np.ndarray:
    # Under 10 won is cut (10원 미만 절사); a credit never takes a bill below zero.
    return np.maximum(np.floor(amount / 10), 0).astype(np.int64) * 10


def _bill_amounts(keys: np.ndarray, kind: np.ndarray, fee: np.ndarray, month: int) -> np.ndarray:
    """Each line's bill in calendar month ``month`` (months since year 0), whole won, ends in 0."""
    amount = fee.astype(np.float64)
    for item, won in _bill_parts(keys, kind, month):
        if item == _CREDIT:
            amount -= won
        else:
            amount += won
    return _whole_tens(amount)


def _fee_items(plan: pa.Array | None, fee: np.ndarray) -> np.ndarray:
    """Each line's fee as (plan, selective_discount, bundle_discount) items, shape (n, 3).

    A catalogue plan whose fee is the catalogue's is split into list price and discounts
    (:func:`_plan_items`); any other line (no plan column, an unknown plan, another fee) has its
    whole fee as the plan item."""
    out = np.zeros((len(fee), 3), dtype=np.int64)
    out[:, 0] = fee
    if plan is None:
        return out
    plan = plan.dictionary_encode() if not pa.types.is_dictionary(plan.type) else plan
    unknown = (-1, 0, 0)
    table = np.array([_PLAN_ITEMS.get(label, unknown) if label is not None else unknown
                      for label in plan.dictionary.to_pylist()] + [unknown], dtype=np.int64)
    index = np.where(plan.indices.is_null().to_numpy(zero_copy_only=False), len(table) - 1,
                     plan.indices.to_numpy(zero_copy_only=False))
    parts = table[index]
    known = (parts[:, 0] >= 0) & (parts.sum(axis=1) == fee)
    out[known] = parts[known]
    return out


# Internet speeds moved: the roster is a 2023 snapshot, and a line on 500M or faster today was on a
# slower plan before it upgraded. Each internet line on a catalogue plan has one uniform u (stream
# 5); in month m it is on rung k or higher (1: 500M, 2: 1G, 3: 2.5G/5G/10G) when u ≤ F_k(m), never
# above its roster plan, bundled or not as it is today. So the curves F_k are the shares of today's
# lines of each rung that had reached it by m; all are 1 from 2022-12, so a bill from 2023 on is
# on the roster's plan.
#   F_1, "GiGA" (KT counts 500M and 1G as GiGA; launched 2014-10-20, etoday 1263436): KT GiGA
#     customers 1M in 2015-12, 2M in 2016-09, 3M in 2017-05 (= 35% of KT's 8.6M broadband, wowtv
#     A201705140010), 4M in 2018-01 (etnews 20180119000246), 5M in 2019-03 (inthenews 14030), over
#     the 8.6M base and the roster's GiGA share (65% of internet lines): 0.179 … 0.894, then 1 at
#     2022-12 (it passes ~60% of broadband in Q3 2019, sisajournal-e 208719, facts §6).
#   F_2, 1G: 29% of KT's GiGA customers were on a 1G line in 2019-03, "about 3×" 2015
#     (inthenews 14030): 0.29 × 58% / 30% (the roster's share on 1G or faster) = 0.562 at
#     2019-03, 0.0375 at 2015-12.
#   F_3, 2.5G/5G/10G: commercial from 2018 (inthenews 14030; the month, 2018-11, is an
#     assumption), linear to 2022-12 (assumption).
# Checked against the 2018 Ahyeon compensation: one month of fee averaged 24,330 won per internet
# customer (ajunews 20190819113648811); the sample's Aug-Oct 2018 bases average about the same.
def _month_of(text: str) -> int:
    return _month_index(text, "", "")


_SPEED_CURVES: tuple[tuple[tuple[str, float], ...], ...] = (
    (("2014-10", 0.0), ("2015-12", 1 / 8.6 / 0.65), ("2016-09", 2 / 8.6 / 0.65), ("2017-05", 3 / 8.6 / 0.65),
     ("2018-01", 4 / 8.6 / 0.65), ("2019-03", 5 / 8.6 / 0.65), ("2022-12", 1.0)),
    (("2014-10", 0.0), ("2015-12", 0.29 / 3 * (1 / 8.6) / 0.30), ("2019-03", 0.29 * (5 / 8.6) / 0.30),
     ("2022-12", 1.0)),
    (("2018-11", 0.0), ("2022-12", 1.0)),
)
_SPEED_STREAM = 5
_SPEED_RUNGS = ("인터넷 100M", "인터넷 500M", "인터넷 1G")
_SPEED_RUNG_OF = {"인터넷 100M": 0, "인터넷 500M": 1, "인터넷 1G": 2, "인터넷 2.5G": 3, "인터넷 5G": 3,
                  "인터넷 10G": 3}


def _speed_reached(month: int) -> tuple[float, ...]:
    """F_1, F_2, F_3 in calendar month ``month`` (months since year 0)."""
    out = []
    for curve in _SPEED_CURVES:
        xs = [_month_of(m) for m, _ in curve]
        out.append(float(np.interp(month, xs, [f for _, f in curve], left=0.0, right=1.0)))
    return tuple(out)


def _speed_history(plan: pa.Array | None, fee_items: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per line: its internet rung (−1: not a catalogue internet plan, or an odd fee) and the fee
    items (plan, selective, bundle) of rungs 0, 1, 2 on the same terms (bundled or not), shape (n, 3, 3)."""
    n = len(fee_items)
    rung = np.full(n, -1, dtype=np.int64)
    lower = np.zeros((n, 3, 3), dtype=np.int64)
    if plan is None:
        return rung, lower
    plan = plan.dictionary_encode() if not pa.types.is_dictionary(plan.type) else plan
    labels = plan.dictionary.to_pylist()
    table_rung = np.full(len(labels) + 1, -1, dtype=np.int64)
    table_lower = np.zeros((len(labels) + 1, 3, 3), dtype=np.int64)
    table_items = np.full((len(labels) + 1, 3), -1, dtype=np.int64)
    for j, label in enumerate(labels):
        if label is None:
            continue
        bundled = label.endswith(" (결합)")
        base = label.removesuffix(" (결합)")
        if base == _INTERNET_NO_CONTRACT[0]:
            base = "인터넷 10G"
        if base not in _SPEED_RUNG_OF:
            continue
        table_rung[j] = _SPEED_RUNG_OF[base]
        table_items[j] = _PLAN_ITEMS[label]
        for k, name in enumerate(_SPEED_RUNGS):
            table_lower[j, k] = _PLAN_ITEMS[name + (" (결합)" if bundled else "")]
    index = np.where(plan.indices.is_null().to_numpy(zero_copy_only=False), len(labels),
                     plan.indices.to_numpy(zero_copy_only=False))
    rung = table_rung[index]
    lower = table_lower[index]
    # only lines whose fee is their plan's (a roster's own fee otherwise: no history)
    rung[(fee_items != table_items[index]).any(axis=1)] = -1
    return rung, lower


def _fee_in_month(keys: np.ndarray, history: tuple[np.ndarray, np.ndarray], fee: np.ndarray,
                  fee_items: np.ndarray, month: int) -> tuple[np.ndarray, np.ndarray]:
    """The line's fee and fee items in ``month``: the roster's, except an internet line before it
    upgraded to its roster speed (see _SPEED_CURVES)."""
    rung, lower = history
    faster = rung > 0
    if not faster.any():
        return fee, fee_items
    u, _ = _uniforms(keys, _SPEED_STREAM)
    reached = sum((u < f).astype(np.int64) for f in _speed_reached(month))
    now = np.minimum(rung, reached)
    older = faster & (now < rung)
    if not older.any():
        return fee, fee_items
    items = fee_items.copy()
    items[older] = lower[older, now[older]]
    return items.sum(axis=1), items


def _take_off(items: np.ndarray, amount: np.ndarray, order: tuple[int, ...]) -> None:
    """Take ``amount`` (≥ 0 per line) off ``items`` in place, item after item in ``order``, none
    below 0 (the plan: the fee, plan plus discounts, not below 0)."""
    if (amount < 0).any():
        raise AssertionError("bill items: a negative amount to take off")
    left = amount.copy()
    for item in order:
        if not left.any():
            return
        room = items[:, _FEE_ITEMS].sum(axis=1) if item == _PLAN else items[:, item]
        take = np.minimum(left, room)
        items[:, item] -= take
        left -= take
    if left.any():
        raise AssertionError("bill items: more to take off than the items hold")


def _bill_item_amounts(keys: np.ndarray, kind: np.ndarray, fee: np.ndarray, month: int,
                       fee_items: np.ndarray, items: np.ndarray) -> None:
    """Each line's bill in ``month`` as items, written into ``items`` (int64, shape (n,
    len(ITEM_CATEGORIES))): each row adds up to the line's :func:`_bill_amounts` exactly.

    Every charge goes to its item rounded up to the whole won, so before the credit the items add
    up to the bill plus the 10-won cut (≥ 0); the cut and then the credit are taken off as
    _CUT_ORDER and _CREDIT_ORDER say."""
    items[:] = 0
    items[:, [_PLAN, _SELECTIVE, _BUNDLE]] = fee_items
    # The same sum, in the same order, as _bill_amounts: the same bill to the last bit.
    amount = fee.astype(np.float64)
    before_credit = _whole_tens(amount)
    for item, won in _bill_parts(keys, kind, month):
        if item == _CREDIT:
            before_credit = _whole_tens(amount)
            amount -= won
        else:
            amount += won
            items[:, item] += np.ceil(won).astype(np.int64)
    bill = _whole_tens(amount)
    _take_off(items, items.sum(axis=1) - before_credit, _CUT_ORDER)
    _take_off(items, before_credit - bill, _CREDIT_ORDER)


def _line_keys(line_id: np.ndarray, seed: int) -> np.ndarray:
    seed_key = _mix64(np.array([seed % 2**64], dtype=np.uint64) + _GAMMA)[0]
    return _mix64(line_id.astype(np.uint64) * _GAMMA + seed_key)


_BILLS_PARQUET_OPTIONS = {
    "compression": "zstd",
    "compression_level": 3,
    "use_dictionary": ["bill_month"],
    "column_encoding": {"line_id": "DELTA_BINARY_PACKED"},
    "write_statistics": True,
    "version": "2.6",
    "data_page_version": "1.0",
}
_ITEMS_PARQUET_OPTIONS = {**_BILLS_PARQUET_OPTIONS, "use_dictionary": ["bill_month", "item"]}
_ITEMS_ROW_GROUP = 1 << 20  # rows; fixed, part of the byte-for-byte determinism
_ITEMS_CHUNK = 250_000  # line-months per chunk by default: bounds the memory of a chunk


def _open_roster_for_bills(path: Path) -> tuple[pq.ParquetFile, list[str]]:
    if not path.is_file():
        raise InputError(str(path), "", "roster not found", "generate one with `kt-analysis generate`")
    try:
        names = pq.read_schema(str(path)).names
        # Text columns come as dictionaries: a plan's kind is worked out once per distinct plan.
        roster = pq.ParquetFile(str(path), read_dictionary=[c for c in ("service", "plan") if c in names])
    except (pa.ArrowException, OSError) as exc:
        raise InputError(str(path), "", f"is not a readable Parquet file ({exc})", "give a roster .parquet") from exc
    missing = [c for c in ("line_id", "service", "monthly_fee_krw") if c not in names]
    if missing:
        raise InputError(str(path), "columns", f"missing {', '.join(missing)}",
                         "a roster needs line_id, service and monthly_fee_krw")
    columns = ["line_id", "service", "monthly_fee_krw"] + (["plan"] if "plan" in names else [])
    return roster, columns


def _out_dir(out_dir: str | Path, file_name: str) -> Path:
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise InputError(str(out), "--out", "is a file, not a directory", f"give a directory for {file_name}")
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InputError(str(out), "--out", f"cannot create the directory ({exc.strerror})",
                         "choose a writable directory") from exc
    return out


def _batch_lines(batch: pa.RecordBatch, path: Path) -> tuple[np.ndarray, np.ndarray, np.ndarray, pa.Array | None]:
    """A roster batch's line ids, fees, line kinds and plans (None without a plan column)."""
    for column in ("line_id", "monthly_fee_krw"):
        nulls = batch.column(column).null_count
        if nulls:
            raise InputError(str(path), column, f"{nulls:,} empty values", "fill them (kt-analysis validate)")
    line_id = batch.column("line_id").to_numpy().astype(np.int64)
    fee = batch.column("monthly_fee_krw").to_numpy().astype(np.int64)
    if (fee < 0).any():
        raise InputError(str(path), "monthly_fee_krw", "has negative fees", "fees are won ≥ 0")
    plan = batch.column("plan") if "plan" in batch.schema.names else None
    return line_id, fee, _line_kinds(batch.column("service"), plan, fee), plan


def _bill_chunk(batch: pa.RecordBatch, path: Path, seed: int, month: int, label: pa.Array) -> tuple[pa.Table, int]:
    line_id, fee, kind, plan = _batch_lines(batch, path)
    keys = _line_keys(line_id, seed)
    fee_items = _fee_items(plan, fee)
    fee, _ = _fee_in_month(keys, _speed_history(plan, fee_items), fee, fee_items, month)
    amounts = _bill_amounts(keys, kind, fee, month)
    months = pa.DictionaryArray.from_arrays(np.zeros(len(line_id), dtype=np.int32), label).cast(pa.string())
    table = pa.Table.from_arrays([pa.array(line_id), months, pa.array(amounts)], schema=BILLS_SCHEMA)
    return table, table.num_rows


def _write_in_order(
    target: Path,
    schema: pa.Schema,
    options: dict[str, object],
    jobs: Iterator[Callable[[], tuple[pa.Table, int]]],
    row_group_size: int,
    total: int,
    progress: Callable[[int, int], None] | None,
) -> Path:
    """Run ``jobs`` (each gives a table and how many units of ``total`` it did) on a few threads and
    write their tables to ``target`` in the order of ``jobs``; the file appears atomically."""
    fd, tmp_name = tempfile.mkstemp(prefix=f".{target.stem}.", suffix=".parquet.tmp", dir=target.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        done = 0
        # numpy releases the GIL: chunks are computed on a few threads and written in order, with
        # at most one chunk per thread waiting besides the one being written (memory stays bounded).
        workers = max(1, min(4, os.cpu_count() or 1))
        with (
            pq.ParquetWriter(str(tmp), schema, **options) as writer,
            ThreadPoolExecutor(max_workers=workers) as pool,
        ):
            pending: deque[Future[tuple[pa.Table, int]]] = deque()

            def write_oldest() -> None:
                nonlocal done
                chunk, units = pending.popleft().result()
                writer.write_table(chunk, row_group_size=row_group_size)
                done += units
                if progress is not None:
                    progress(done, total)

            for job in jobs:
                pending.append(pool.submit(job))
                while len(pending) > workers:
                    write_oldest()
            while pending:
                write_oldest()
        os.chmod(tmp, 0o644)
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return target


def generate_bills(
    roster_path: str | Path,
    seed: int,
    out_dir: str | Path,
    *,
    first_month: str = "2023-01",
    months: int = 12,
    chunk_lines: int = 1_000_000,
    progress: Callable[[int, int], None] | None = None,
) -> Path:
    """Write one bill per roster line per month to ``out_dir/bills.parquet``.

    Columns ``line_id`` (int64), ``bill_month`` (``YYYY-MM``), ``amount_krw`` (int64, ≥ 0, a
    multiple of 10 won). Rows come month by month (one bill run after the other), each month in
    roster order; row groups hold one month's bills for up to ``chunk_lines`` lines, so a month
    can be read alone. The roster is streamed once per month: memory does not grow with it.

    A bill is the line's ``monthly_fee_krw`` plus the month's usage and add-on charges (calls,
    micropayments, data top-ups, seasonal roaming, VODs, metered landline calls), device
    instalments, a few one-off charges and credits; about 37.5% of lines
    (:data:`BILL_SAME_AMOUNT_SHARE`) have exactly the same amount in two given months.
    :func:`generate_bill_items` gives the same bills item by item.

    The same ``(roster, seed)`` gives the same bytes; a line's bill for a calendar month does not
    depend on ``chunk_lines``, ``first_month``, ``months`` nor the order of the roster.
    ``progress(done, total)`` counts bill rows written. The file appears atomically.
    """
    roster_file = Path(roster_path)
    seed = _check_whole(seed, "--seed", 0, "use a non-negative integer seed")
    labels = bill_months(first_month, months)
    first, months = _month_index(labels[0], "--first-month", ""), len(labels)
    chunk_lines = _check_whole(chunk_lines, "chunk_lines", 1, "use a positive chunk size")
    roster, columns = _open_roster_for_bills(roster_file)
    out = _out_dir(out_dir, "bills.parquet")

    def jobs() -> Iterator[Callable[[], tuple[pa.Table, int]]]:
        for month in range(first, first + months):
            label = pa.array([_month_label(month)], type=pa.string())
            for batch in roster.iter_batches(batch_size=chunk_lines, columns=columns):
                yield functools.partial(_bill_chunk, batch, roster_file, seed, month, label)

    return _write_in_order(out / "bills.parquet", BILLS_SCHEMA, _BILLS_PARQUET_OPTIONS, jobs(), chunk_lines,
                           roster.metadata.num_rows * months, progress)


def _item_months(months: object) -> list[int]:
    """The bill items' months, as month indices in calendar order, or InputError."""
    fix = "pass a list of months, e.g. months=['2021-10'] or ['2018-08', '2018-09', '2018-10']"
    if isinstance(months, str) or not isinstance(months, list | tuple) or not months:
        raise InputError("months", "", f"must be a non-empty list of months YYYY-MM, got {months!r}", fix)
    index = sorted({_month_index(m, "months", "") for m in months})
    if len(index) != len(months):
        raise InputError("months", "", f"lists a month twice: {list(months)!r}", "give each month once")
    return index


def _items_chunk(batch: pa.RecordBatch, path: Path, seed: int, months: tuple[int, ...],
                 labels: pa.Array) -> tuple[pa.Table, int]:
    """A roster batch's bill items: rows by line (roster order), then month, then item."""
    line_id, fee, kind, plan = _batch_lines(batch, path)
    keys = _line_keys(line_id, seed)
    fee_items = _fee_items(plan, fee)
    history = _speed_history(plan, fee_items)
    n_items = len(ITEM_CATEGORIES)
    amounts = np.empty((len(line_id), len(months), n_items), dtype=np.int64)
    for j, month in enumerate(months):
        fee_m, fee_items_m = _fee_in_month(keys, history, fee, fee_items, month)
        _bill_item_amounts(keys, kind, fee_m, month, fee_items_m, amounts[:, j, :])
    # Only the items a bill has; but a month whose items are all 0 (a bill of 0: a 0-won plan, or a
    # credit as large as the bill) keeps its plan item, at 0, so every line has a bill every month.
    keep = amounts != 0
    keep[:, :, _PLAN] |= ~keep.any(axis=2)
    where = np.flatnonzero(keep)  # row-major: line, month, item
    columns = [
        pa.array(line_id[where // (len(months) * n_items)]),
        labels.take(pa.array(((where // n_items) % len(months)).astype(np.int32))),
        _ITEM_ARRAY.take(pa.array((where % n_items).astype(np.int32))),
        pa.array(amounts.reshape(-1)[where]),
    ]
    return pa.Table.from_arrays(columns, schema=BILL_ITEMS), len(line_id) * len(months)


def generate_bill_items(
    roster_path: str | Path,
    seed: int,
    out_dir: str | Path,
    *,
    months: list[str],
    chunk_lines: int | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> Path:
    """Write the items of each roster line's bill in each of ``months`` to ``out_dir/bill_items.parquet``.

    Columns as :data:`kt_analysis.inputs.schema.BILL_ITEMS`: ``line_id``, ``bill_month``
    (``YYYY-MM``), ``item`` (one of ``ITEM_CATEGORIES``), ``amount_krw`` (whole won; the discount
    items ≤ 0, every other item ≥ 0). Only items other than 0 are written, except that a bill of 0
    keeps a ``plan`` row of 0, so every line has a bill in every month. Rows come by line in
    roster order (ascending ``line_id`` for a generated roster), then month (calendar order), then
    item (the order of ``ITEM_CATEGORIES``).

    The items of a line's month add up exactly to the ``amount_krw`` :func:`generate_bills` writes
    for that line and month with the same seed: both come from one definition of a bill. The
    plan's fee is split into the list price and the discounts its label names (``(선택약정)``: 25%
    of the list price; ``(결합)``: the bundle's difference); there is no long-term discount. How the
    10-won cut and the month's credit are placed: see ``data/README.md``, "Bill items".

    ``months`` is a list of ``YYYY-MM`` (any months, each once). The roster is read once, in
    batches of ``chunk_lines`` lines (by default 250,000 line-months per batch), so memory does
    not grow with it; ``progress(done, total)`` counts line-months done. The same
    ``(roster, seed, months, chunk_lines)`` gives the same bytes; a line's items do not depend on
    the other months asked for, nor on ``chunk_lines``. The file appears atomically.
    """
    roster_file = Path(roster_path)
    seed = _check_whole(seed, "--seed", 0, "use a non-negative integer seed")
    index = _item_months(months)
    if chunk_lines is None:
        chunk_lines = max(1, _ITEMS_CHUNK // len(index))
    chunk_lines = _check_whole(chunk_lines, "chunk_lines", 1, "use a positive chunk size")
    roster, columns = _open_roster_for_bills(roster_file)
    out = _out_dir(out_dir, "bill_items.parquet")
    labels = pa.array([_month_label(m) for m in index], type=pa.string())
    jobs = (functools.partial(_items_chunk, batch, roster_file, seed, tuple(index), labels)
            for batch in roster.iter_batches(batch_size=chunk_lines, columns=columns))
    return _write_in_order(out / "bill_items.parquet", BILL_ITEMS, _ITEMS_PARQUET_OPTIONS, jobs, _ITEMS_ROW_GROUP,
                           roster.metadata.num_rows * len(index), progress)
