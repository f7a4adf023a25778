"""Fuzzing the loaders and the engine with generated incidents, policies, settlement rules, rosters and
bills (issue #6, parts 2 and 4).

The loaders (``load_incident``, ``load_policy``, ``load_settlement``, ``open_roster`` +
``validate_roster``, ``validate_bills``) get valid documents that are then corrupted — values
replaced by hostile ones (wrong types, huge numbers, odd dates, paths to folders, explicit YAML tags
with bad values, …), keys deleted or added, the text truncated, spliced or re-encoded — and must
either accept the input or raise :class:`kt_analysis.errors.InputError` (what the CLI prints as one
line with exit 2): never any other exception. An input that is accepted must then hold to the
contract (a roster's typed view reads without a cast error and every value is in range). A document
left uncorrupted must be accepted. ``kt-analysis validate`` is run in-process on the same kind of
inputs: exit 0 or 2 exactly as the loaders decide, one ``error: …`` line per problem, no traceback.

The engine (``kt_analysis.engine.duckdb_engine.analyse``, no papermill) gets valid generated data: rosters of up
to 150 lines (Parquet file, Parquet folder, or CSV in UTF-8, UTF-8 with BOM or CP949), one to four
outage windows (regions, facilities, services, across month ends), and a policy built from every
feature the catalogue in ``data/policies/`` uses (thresholds, 초과/이상, hours per month,
multipliers with billable-time rounding, days/months of fee, tiers by outage days, overrides that
replace or add, with their own eligibility, rounding to a unit). It checks, against a brute-force
reference written here (outage minutes counted minute by minute) and ``conftest.reference_credit``
(exact fractions): the affected lines, each line's figures, eligibility, rule and credit; that each
credit is a whole number of won between the policy's lower and upper bound (the policy's formula with
every rounding taken down, and up); that ineligible and uncovered lines get 0; that money is
conserved (ledger sum = summary total = own what-if = every breakdown's sum; the what-if of each
catalogue policy = its reference); and that shuffling the roster's rows changes nothing (ledger by
line_id and summary.json equal, but for the roster file's sha256). Billing errors likewise: reversed =
charged and re-charged = owed on every line, the hit lines are exactly the roster lines of the named
methods, services and bill days with both bills, totals and timelines add up, daily capacities hold,
and row order does not matter.

Examples per property (``max_examples``; hypothesis may stop earlier only if it runs out of data):

==============================================  =====
test_incident_yaml_never_crashes                 150
test_policy_yaml_never_crashes                   150
test_settlement_yaml_never_crashes                80
test_roster_csv_never_crashes                    100
test_roster_parquet_never_crashes                 80
test_bills_never_crash                            50
test_cli_validate_exit_codes                      40
test_outage_engine_invariants                     30  (two analyses each: as written, shuffled)
test_billing_engine_invariants                    25  (two analyses each)
==============================================  =====

705 generated examples in all, plus 14 ``@example`` regressions replayed first (11 incident
files, 3 policies). ``test_found_defects_are_refused_with_a_message`` pins each defect these
properties found to an :class:`InputError` naming the file, the place and the fix (16 cases). The
module takes about 35 s on an idle 2-core machine (40-45 s with another job running).
"""

from __future__ import annotations

import contextlib
import copy
import csv
import io
import json
import math
import shutil
import tempfile
from collections import Counter
from datetime import date, datetime, timedelta
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import yaml
from conftest import POLICIES, reference_credit
from hypothesis import HealthCheck, event, example, given, note, settings
from hypothesis import strategies as st

from kt_analysis.dbrow import connect
from kt_analysis.engine.billing import validate_bills
from kt_analysis.engine.duckdb_engine import prepare
from kt_analysis.errors import InputError
from kt_analysis.inputs.incident import catalogue_policies, load_incident
from kt_analysis.inputs.policy import Policy, load_policy
from kt_analysis.inputs.roster import MAX_MONTHLY_FEE_KRW, open_roster, validate_roster
from kt_analysis.inputs.schema import CUSTOMER_TYPES, PAYMENT_METHODS, SERVICES
from kt_analysis.inputs.settlement import load_settlement
from kt_analysis.inputs.yamlio import read_yaml_mapping
from kt_analysis.jobs.analyse import analyse

FUZZ = settings(
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much,
                           HealthCheck.function_scoped_fixture],
)

REGIONS = ("서울", "부산", "제주", "R'1")  # a quote: every SQL literal must be escaped
FACILITIES = ("F1", "F2", "F-3", "F'4")
ROSTER_COLUMNS = ("line_id", "customer_id", "service", "monthly_fee_krw", "region", "facility_id",
                  "customer_type", "payment_method", "bill_cycle_day")
EPOCH = datetime(2000, 1, 1)

# ------------------------------------------------------------------------------------------------
# The fuzzing project: a valid policy, roster, windows file, bills and settlement rules that the
# generated incidents name; each example overwrites the file under test.
# ------------------------------------------------------------------------------------------------

GOOD_POLICY = """\
id: fuzz-10x
title: 시험 정책 — 장애시간 요금의 10배
services: [mobile, internet, iptv, landline]
hourly_fee: {hours_per_month: 720}
credit:
  outage_multiplier: 10
  rounding: {unit_krw: 1, mode: floor}
"""
GOOD_SETTLEMENT = """\
id: fuzz-settle
title: 시험 정산 규칙
methods:
  credit_card: {action: cancel, lag_business_days: 0, recharge_lag_business_days: 1}
  check_card: {action: refund, dates: [2023-09-12, 2023-09-13], recharge_dates: [2023-09-14]}
  bank_transfer: {action: refund, lag_business_days: 1, daily_capacity_lines: 2}
  giro: {action: refund, lag_business_days: 3}
  other: {action: refund, lag_business_days: 3}
"""
GOOD_ROSTER = """\
line_id,customer_id,service,monthly_fee_krw,region,facility_id,customer_type,payment_method,bill_cycle_day
1,10,mobile,72000,서울,F1,individual,credit_card,11
2,10,internet,33000,서울,F1,individual,credit_card,11
3,11,iptv,0,부산,F2,small_business,check_card,25
4,12,landline,15000,제주,F-3,enterprise,bank_transfer,31
"""
GOOD_BILLS = """\
line_id,bill_month,amount_krw
1,2023-07,71000
2,2023-07,33000
3,2023-07,52000
1,2023-09,74000
2,2023-09,33000
3,2023-09,50000
"""
GOOD_WINDOWS = """\
facility_id,service,start,end
F1,mobile,2024-03-04T10:00,2024-03-04T12:00
F2,,2024-03-04T11:00,2024-03-05T09:30
"""


@pytest.fixture(scope="module")
def fuzz_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("fuzz")
    for rel, text in (("data/policies/fuzz-10x.yml", GOOD_POLICY), ("data/settlement/fuzz-settle.yml", GOOD_SETTLEMENT),
                      ("data/roster.csv", GOOD_ROSTER), ("data/bills.csv", GOOD_BILLS),
                      ("data/windows.csv", GOOD_WINDOWS), ("data/incidents/.keep", "")):
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return root


# ------------------------------------------------------------------------------------------------
# Corruption: hostile values, structural mutations of a document, and mutations of its text
# ------------------------------------------------------------------------------------------------

SPECIAL_STRINGS = (
    "", " ", "all", "none", "true", "~", "2024-02-30T10:00", "2024-08-10T10:00+00:00", "2024-08-10T10:00+09:00",
    "2204-08-10T10:00", "0001-01-01T00:00", "9999-12-31T23:59", "2024-08-10", "2024-08-10T24:00", "10:00", "-1",
    "1e400", "0x10", "12,000원", "５", "../../etc", "data", "data/policies", "data/incidents", "data/roster.csv",
    "data/bills.csv", "data/windows.csv", "data/policies/fuzz-10x.yml", "data/settlement/fuzz-settle.yml", "/",
    "/dev/null", "a" * 300, "b" * 5000, "a\x00b", "Asia/Seoul", "UTC", "America", "Asia", "Mars/Olympus",
    "../Asia/Seoul", "days_in_month", "next_bill", "bill_after_next", "2021-12", "2021-12-10", "2021-02-31",
    "0000-01", "9999-12", "2023-13", "cash", "cash_on_request", "bill_credit", "add", "replace", "up", "floor",
    "mobile", "5g", "서울", "credit_card", "paypal", "cancel", "refund", "fuzz-10x", "fuzz-settle", "default",
    "'; DROP TABLE roster; --", "<script>alert(1)</script>", "${HOME}", "%s%n", "\u202e", "\t", "\r\n",
)
SCALARS = st.one_of(
    st.none(), st.booleans(), st.integers(-3, 100), st.integers(min_value=-(2**80), max_value=2**80),
    st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=12), st.sampled_from(SPECIAL_STRINGS),
    st.dates(min_value=date(1, 1, 1)).map(str),
)
HOSTILE = st.recursive(
    SCALARS,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6) | st.integers(0, 9), inner,
                                                                max_size=3),
    max_leaves=5,
)

# Wrong values that look like the right kind of thing, by key: a mutation of such a key draws from
# here half of the time (a blind value rarely reaches the code that reads the key).
PATHS = ("data", "data/policies", "/", "/dev/null", "b" * 5000, "a\x00b", "data/roster.csv", "data/bills.csv",
         "data/windows.csv", "data/policies/fuzz-10x.yml", "data/settlement/fuzz-settle.yml", "../../etc",
         "nope.yml", "fuzz-10x", "fuzz-settle", "default", "data/incidents")
TIMES = ("2024-02-30T10:00", "2024-08-10T24:00", "2204-08-10T10:00", "1999-12-31T23:59", "2049-01-01T00:00",
         "2024-08-10T10:00+00:00", "2024-08-10T10:00+09:00", "2024-08-10T10:00:59.999", "2024-08-10", "10:00",
         "2024-W32-6", 20240810, "2024-08-10T10:00Z")
DATES = ("2023-02-30", "2204-09-11", "1999-12-31", "0001-01-01", "2023-09-11T10:00", 20230911, "2023-9-11", "")
MONTHS_ODD = ("2023-13", "0000-01", "9999-12", "1999-12", "2051-01", "2021-02-31", "2021-12-10", "2023-9", 202309,
              "next_bill", "bill_after_next")
NUMBERS = (-1, 0, 1, 2**63, -(2**63) - 1, 10**30, True, "10", 1.5, float("nan"), 7 * 24 * 60 + 1, 366, 3651)
FIELD_VALUES: dict[str, tuple] = {
    "timezone": ("America", "Asia", "a" * 300, "../Asia/Seoul", "Asia/Seoul/", "Mars/Olympus", "UTC", "", "a\x00b"),
    **{k: PATHS for k in ("policy", "roster", "windows_file", "bills", "settlement")},
    **{k: TIMES for k in ("start", "end")},
    **{k: DATES for k in ("charged_on", "discovered_on", "dates", "recharge_dates")},
    **{k: MONTHS_ODD for k in ("wrong_month", "charged_month", "applied_on")},
    "bill_cycle_days": ([True], [0], [32], ["11"], [1.5], True, 11, [None]),
    **{k: NUMBERS for k in ("outage_multiplier", "unit_minutes", "days_of_fee", "flat_days_of_fee",
                            "months_of_fee", "from_days", "krw", "unit_krw", "hours_per_month", "claim_window_days",
                            "min_continuous_minutes", "min_monthly_cumulative_minutes", "lag_business_days",
                            "daily_capacity_lines", "recharge_lag_business_days")},
    **{k: ("5g", "MOBILE", "", "paypal", "small business", None) for k in (
        "services", "payment_methods", "customer_type", "customer_types", "regions", "facilities")},
    "where": ("all", "everywhere", {}, {"regions": []}, {"facilities": "F1"}, {"plan": ["x"]}),
    "id": ("../../etc", "UPPER", "", "a" * 101, "-leading", "가나다"),
}

YAML_SNIPPETS = (
    ": ", "- ", "[", "]", "{", "}", ",", "&a ", "*a", "&a [1] ", "!!python/object/apply:os.system ['true'] ",
    "!!int x ", "!!int 0x ", "!!float y ", "!!bool maybe ", "!!timestamp 2024-13-45 ", "!!timestamp x ",
    "!!timestamp 2024-02-30T10:00:00 ", "!!binary zz ", "!!set {a, b} ", "!!omap [a: 1] ", "!!pairs [a] ",
    "!!str ", "!!null ", "!!map ", "!!seq ", "!custom ", "? [a, b]\n: c\n", "\t", "\x00", "\x07", "\x85", '"',
    "'", "#", "%YAML 1.1\n", "%TAG ! tag:x,2000:\n", "---\n", "...\n", "[" * 3000, "{a: " * 800,
    "- " * 1000, "\ufeff", "\r", "\n  ", "<<: {a: 1}\n", "<<: [1, 2]\n", "<<: 5\n", "=", "|\n", ">-\n",
)
BAD_BYTES = (b"\xff\xfe", b"\xc3\x28", b"\xed\xa0\x80", b"\x80", b"\xf4\x90\x80\x80", b"\x00\x00\xfe\xff")


def _paths(node: Any, prefix: tuple = ()) -> list[tuple]:
    out = [prefix]
    if isinstance(node, dict):
        for k, v in node.items():
            out += _paths(v, (*prefix, k))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            out += _paths(v, (*prefix, i))
    return out


def _get(node: Any, path: tuple) -> Any:
    for key in path:
        node = node[key]
    return node


@st.composite
def mutated(draw: st.DrawFn, doc: dict) -> dict:
    """One structural mutation of a document: a value replaced, a key removed or added, …"""
    doc = copy.deepcopy(doc)
    path = draw(st.sampled_from(_paths(doc)))
    node = _get(doc, path)
    ops = ["replace", "wrap"] if path else []
    if path:
        ops.append("delete")
    if isinstance(node, dict):
        ops += ["add_key", "empty"]
    if isinstance(node, list):
        ops += ["duplicate", "empty"] if node else ["add_item"]
    op = draw(st.sampled_from(ops or ["add_key"]))
    parent = _get(doc, path[:-1]) if path else None
    key = next((k for k in reversed(path) if isinstance(k, str)), None)
    if op == "replace":
        targeted = key in FIELD_VALUES and draw(st.booleans())
        parent[path[-1]] = draw(st.sampled_from(FIELD_VALUES[key])) if targeted else draw(HOSTILE)
    elif op == "wrap":
        parent[path[-1]] = [node]
    elif op == "delete":
        del parent[path[-1]]
    elif op == "add_key":
        node[draw(st.sampled_from(["fuzz", "Id", "services ", "start", "where", "credit", "1", "overrides"]))] = draw(
            HOSTILE)
    elif op == "empty":
        node.clear()
    elif op == "duplicate":
        node.append(copy.deepcopy(node[-1]))
    elif op == "add_item":
        node.append(draw(HOSTILE))
    return doc


@st.composite
def yaml_bytes(draw: st.DrawFn, docs: st.SearchStrategy[dict]) -> tuple[bytes, bool]:
    """A document's YAML, corrupted or not: (bytes, pristine)."""
    doc = draw(docs)
    pristine = True
    for _ in range(draw(st.integers(0, 3))):
        doc = draw(mutated(doc))
        pristine = False
    text = yaml.safe_dump(doc, allow_unicode=True, sort_keys=False, width=1000)
    op = draw(st.sampled_from(["none", "none", "insert", "after_colon", "after_colon", "truncate", "delete",
                               "duplicate_line"]))
    values = [i + 2 for i in range(len(text)) if text.startswith((": ", "- "), i)]
    if op == "after_colon" and not values:
        op = "insert"
    if op != "none":
        pristine = False
        at = draw(st.integers(0, len(text)))
        if op == "after_colon":  # a tag, an anchor or a flow collection where a value starts
            at = draw(st.sampled_from(values))
            text = text[:at] + draw(st.sampled_from(YAML_SNIPPETS)) + text[at:]
        elif op == "insert":
            text = text[:at] + draw(st.sampled_from(YAML_SNIPPETS) | st.text(max_size=4)) + text[at:]
        elif op == "truncate":
            text = text[:at]
        elif op == "delete":
            text = text[:at] + text[at + draw(st.integers(1, 8)):]
        else:
            lines = text.splitlines(keepends=True) or [""]
            i = draw(st.integers(0, len(lines) - 1))
            text = "".join(lines[: i + 1] + lines[i:])
    encoding = draw(st.sampled_from(["utf-8", "utf-8", "utf-8", "utf-8-sig", "cp949", "utf-16", "bad-bytes"]))
    if encoding == "bad-bytes":
        raw = text.encode("utf-8")
        at = draw(st.integers(0, len(raw)))
        raw = raw[:at] + draw(st.sampled_from(BAD_BYTES)) + raw[at:]
    else:
        raw = text.encode(encoding, errors="replace")
    if encoding not in ("utf-8", "utf-8-sig") or raw != text.encode("utf-8"):
        pristine = pristine and encoding == "utf-8-sig"
    return raw, pristine


# ------------------------------------------------------------------------------------------------
# Valid documents
# ------------------------------------------------------------------------------------------------

TITLES = st.sampled_from(["시험 장애", "Outage <b>bold</b>", "it's \"quoted\"", "둘째 줄\n포함", "x"])
IDS = st.from_regex(r"[a-z0-9][a-z0-9-]{0,20}", fullmatch=True)


def _minute(dt: datetime) -> datetime:
    return dt.replace(second=0, microsecond=0)


@st.composite
def window_sets(draw: st.DrawFn, max_windows: int = 4) -> list[dict]:
    """One to four windows within a few days of each other; sometimes across a month end."""
    if draw(st.booleans()):
        base = _minute(draw(st.datetimes(min_value=datetime(2021, 1, 1), max_value=datetime(2024, 12, 20))))
    else:
        year, month = draw(st.integers(2021, 2024)), draw(st.integers(1, 12))
        base = datetime(year, month, 1) - timedelta(minutes=draw(st.integers(0, 3 * 1440)))
    out = []
    for _ in range(draw(st.integers(1, max_windows))):
        start = base + timedelta(minutes=draw(st.integers(0, 3 * 1440)))
        minutes = draw(st.one_of(st.integers(1, 300), st.integers(1, 4 * 1440)))
        window: dict[str, Any] = {"start": start.strftime("%Y-%m-%dT%H:%M"),
                                  "end": (start + timedelta(minutes=minutes)).strftime("%Y-%m-%dT%H:%M")}
        kind = draw(st.sampled_from(["all", "regions", "facilities", "both"]))
        where: Any = "all"
        if kind in ("regions", "both"):
            where = {"regions": draw(st.lists(st.sampled_from([*REGIONS, "없는곳"]), min_size=1, max_size=3,
                                              unique=True))}
        if kind in ("facilities", "both"):
            where = {**(where if isinstance(where, dict) else {}),
                     "facilities": draw(st.lists(st.sampled_from(FACILITIES), min_size=1, max_size=3, unique=True))}
        window["where"] = where
        if draw(st.booleans()):
            window["services"] = draw(st.lists(st.sampled_from(SERVICES), min_size=1, max_size=3, unique=True))
        out.append(window)
    return out


@st.composite
def eligibility_docs(draw: st.DrawFn) -> dict | None:
    kind = draw(st.sampled_from(["none", "continuous", "monthly", "both"]))
    if kind == "none":
        return None
    doc: dict[str, Any] = {}
    if kind in ("continuous", "both"):
        doc["min_continuous_minutes"] = draw(st.integers(0, 600))
    if kind in ("monthly", "both"):
        doc["min_monthly_cumulative_minutes"] = draw(st.integers(0, 900))
        if draw(st.booleans()):
            doc["monthly_cumulative_exceeds"] = draw(st.booleans())
    return doc


@st.composite
def credit_docs(draw: st.DrawFn) -> dict:
    doc: dict[str, Any] = {}
    if draw(st.booleans()):
        doc["outage_multiplier"] = draw(st.sampled_from([0, 1, 3, 6, 8, 10, 100]) | st.integers(0, 100))
        if draw(st.booleans()):
            doc["billable_time"] = {
                "unit_minutes": draw(st.sampled_from([1, 15, 30, 60, 1440, 7 * 24 * 60])),
                "mode": draw(st.sampled_from(["up", "down", "half_up"])),
                "applies_to": draw(st.sampled_from(["outage", "multiplied"])),
            }
    if draw(st.integers(0, 3)) == 0:
        doc[draw(st.sampled_from(["days_of_fee", "flat_days_of_fee"]))] = draw(st.integers(0, 30))
    if draw(st.integers(0, 4)) == 0:
        doc["months_of_fee"] = draw(st.integers(0, 2))
    if draw(st.integers(0, 3)) == 0:
        days = sorted(draw(st.lists(st.integers(0, 10), min_size=1, max_size=4, unique=True)))
        amounts = sorted(draw(st.lists(st.integers(0, 1_500_000), min_size=len(days), max_size=len(days))))
        doc["tiers_by_outage_days"] = [{"from_days": d, "krw": k} for d, k in zip(days, amounts, strict=True)]
    return doc


@st.composite
def override_docs(draw: st.DrawFn) -> dict:
    when: dict[str, Any] = {}
    while not when:
        if draw(st.booleans()):
            key = draw(st.sampled_from(["customer_type", "customer_types"]))
            when[key] = draw(st.lists(st.sampled_from(CUSTOMER_TYPES), min_size=1, max_size=2, unique=True))
        if draw(st.booleans()):
            when["services"] = draw(st.lists(st.sampled_from(SERVICES), min_size=1, max_size=2, unique=True))
        if draw(st.integers(0, 2)) == 0:
            when["regions"] = draw(st.lists(st.sampled_from([*REGIONS, "없는곳"]), min_size=1, max_size=2,
                                            unique=True))
    doc: dict[str, Any] = {"when": when}
    if draw(st.booleans()):
        doc["combine"] = draw(st.sampled_from(["replace", "add"]))
    if draw(st.integers(0, 2)) == 0:
        doc["eligibility"] = draw(eligibility_docs()) or {}
    doc.update(draw(credit_docs()))
    return doc


@st.composite
def policy_docs(draw: st.DrawFn, pid: str = "fuzz-policy") -> dict:
    doc: dict[str, Any] = {"id": pid, "title": draw(TITLES)}
    if draw(st.booleans()):
        doc["sources"] = ["https://example.com/terms"]
    doc["services"] = draw(st.lists(st.sampled_from(SERVICES), min_size=1, max_size=4, unique=True))
    elig = draw(eligibility_docs())
    if elig is not None:
        doc["eligibility"] = elig
    hours = draw(st.sampled_from([None, 720, 720, "days_in_month", 744, 24, 600]))
    if hours is not None:
        doc["hourly_fee"] = {"hours_per_month": hours}
    credit = draw(credit_docs())
    overrides = draw(st.lists(override_docs(), max_size=3))
    if overrides:
        credit["overrides"] = overrides
    if draw(st.booleans()):
        credit["rounding"] = {"unit_krw": draw(st.sampled_from([1, 10, 100, 1000, 7])),
                              "mode": draw(st.sampled_from(["floor", "ceil", "half_up"]))}
    doc["credit"] = credit
    delivery = draw(st.sampled_from([
        None, {"method": "bill_credit", "applied_on": "next_bill"},
        {"method": "bill_credit", "applied_on": "bill_after_next", "claim_required": True, "claim_window_days": 30},
        {"method": "bill_credit", "applied_on": "2025-01"}, {"method": "cash_on_request", "claim_required": True},
        {"method": "cash", "applied_on": "2025-02-10"},
    ]))
    if delivery is not None:
        doc["delivery"] = delivery
    return doc


@st.composite
def incident_docs(draw: st.DrawFn) -> dict:
    """A valid incident of the fuzzing project (outage or billing error)."""
    doc: dict[str, Any] = {"id": draw(IDS), "title": draw(TITLES)}
    if draw(st.booleans()):
        doc["kind"] = "outage"
        doc["timezone"] = "Asia/Seoul"
        doc["policy"] = draw(st.sampled_from(["fuzz-10x", "data/policies/fuzz-10x.yml"]))
        doc["roster"] = "data/roster.csv"
        affected: dict[str, Any] = {}
        if draw(st.booleans()):
            affected["services"] = draw(st.lists(st.sampled_from(SERVICES), min_size=1, max_size=4, unique=True))
        if draw(st.booleans()):
            affected["windows_file"] = "data/windows.csv"
        if "windows_file" not in affected or draw(st.booleans()):
            affected["windows"] = draw(window_sets())
        doc["affected"] = affected
    else:
        doc["kind"] = "billing_error"
        doc["roster"] = "data/roster.csv"
        billing: dict[str, Any] = {
            "wrong_month": "2023-09", "charged_month": "2023-07", "bills": "data/bills.csv",
            "payment_methods": draw(st.lists(st.sampled_from(PAYMENT_METHODS), min_size=1, max_size=3, unique=True)),
            "charged_on": "2023-09-11", "settlement": "fuzz-settle",
        }
        if draw(st.booleans()):
            billing["discovered_on"] = draw(st.sampled_from(["2023-09-11", "2023-09-12", "2023-10-02"]))
        if draw(st.booleans()):
            billing["services"] = draw(st.lists(st.sampled_from(SERVICES), min_size=1, max_size=2, unique=True))
        if draw(st.booleans()):
            billing["bill_cycle_days"] = draw(st.lists(st.integers(1, 31), min_size=1, max_size=3, unique=True))
        doc["billing"] = billing
    if draw(st.booleans()):
        doc["notes"] = "메모"
    if draw(st.booleans()):
        doc["sources"] = ["https://example.com/news"]
    return doc


@st.composite
def settlement_docs(draw: st.DrawFn) -> dict:
    methods: dict[str, Any] = {}
    for method in draw(st.lists(st.sampled_from(PAYMENT_METHODS), min_size=1, max_size=5, unique=True)):
        rule: dict[str, Any] = {"action": draw(st.sampled_from(["cancel", "refund"]))}
        if draw(st.booleans()):
            first = draw(st.dates(min_value=date(2023, 9, 11), max_value=date(2023, 9, 20)))
            rule["dates"] = [str(first + timedelta(days=i)) for i in range(draw(st.integers(1, 3)))]
            if draw(st.booleans()):
                rule["recharge_dates"] = [str(first + timedelta(days=5 + i)) for i in range(draw(st.integers(1, 2)))]
        else:
            rule["lag_business_days"] = draw(st.integers(0, 60))
            if draw(st.booleans()):
                rule["daily_capacity_lines"] = draw(st.integers(1, 10**9))
        if "recharge_dates" not in rule and draw(st.booleans()):
            rule["recharge_lag_business_days"] = draw(st.integers(0, 60))
        if draw(st.booleans()):
            rule["source"] = "가정"
        methods[method] = rule
    return {"id": draw(IDS), "title": draw(TITLES), "methods": methods}


# ------------------------------------------------------------------------------------------------
# Rosters and bills as files
# ------------------------------------------------------------------------------------------------

@st.composite
def roster_frames(draw: st.DrawFn, min_lines: int = 1, max_lines: int = 150) -> pd.DataFrame:
    """A valid roster (unique line ids, every column in range), with or without name/phone/plan."""
    n = draw(st.integers(min_lines, max_lines))
    ids = draw(st.lists(st.integers(-(2**40), 2**62), min_size=n, max_size=n, unique=True))
    customers = draw(st.integers(1, n))

    def column(strategy: st.SearchStrategy) -> list:
        return draw(st.lists(strategy, min_size=n, max_size=n))

    frame = pd.DataFrame({
        "line_id": ids,
        "customer_id": [1000 + c for c in column(st.integers(0, customers - 1))],
        "service": column(st.sampled_from(SERVICES)),
        "monthly_fee_krw": column(st.integers(0, 150_000) | st.sampled_from([0, 1, 99, MAX_MONTHLY_FEE_KRW])),
        "region": column(st.sampled_from(REGIONS)),
        "facility_id": column(st.sampled_from(FACILITIES)),
        "customer_type": column(st.sampled_from(CUSTOMER_TYPES)),
        "payment_method": column(st.sampled_from(PAYMENT_METHODS)),
        "bill_cycle_day": column(st.integers(1, 31)),
    })
    for c in ("line_id", "customer_id", "monthly_fee_krw", "bill_cycle_day"):
        frame[c] = frame[c].astype("int64")
    if draw(st.booleans()):
        frame["name"] = [f"고객{c}" for c in frame["customer_id"]]
        frame["phone"] = [f"010-{c % 10000:04d}-{c % 7919:04d}" for c in frame["customer_id"]]
    return frame


def write_roster(frame: pd.DataFrame, folder: Path, fmt: str, row_group_size: int = 64) -> Path:
    """The roster as ``fmt``: parquet, parquet-dir (two files), csv-utf-8, csv-utf-8-sig, csv-cp949."""
    folder.mkdir(parents=True, exist_ok=True)
    if fmt == "parquet":
        path = folder / "roster.parquet"
        pq.write_table(pa.Table.from_pandas(frame, preserve_index=False), path, row_group_size=row_group_size)
    elif fmt == "parquet-dir":
        path = folder / "roster"
        if path.exists():
            shutil.rmtree(path)
        path.mkdir()
        half = len(frame) // 2
        for i, part in enumerate((frame.iloc[:half], frame.iloc[half:])):
            pq.write_table(pa.Table.from_pandas(part, preserve_index=False), path / f"part-{i}.parquet")
    else:
        path = folder / "roster.csv"
        path.write_bytes(frame.to_csv(index=False, lineterminator="\n").encode(fmt.removeprefix("csv-")))
    return path


ROSTER_FORMATS = ("parquet", "parquet-dir", "csv-utf-8", "csv-utf-8-sig", "csv-cp949")

BAD_CELLS = (
    "", " ", "-5", "1.5", "1e3", "0x10", "+7", "12,000원", "12000원", "9223372036854775807", "9223372036854775808",
    "-9223372036854775809", "99999999999999999999999", "100000001", "５", "NaN", "null", "NULL", '"', 'a"b', "a\nb",
    "서울", "5g", "paypal", "INDIVIDUAL", "32", "0", "-0", "\x00", "\t1", " 7 ", "\ufeff1", "1_000", "٣",
)


@st.composite
def roster_csv_bytes(draw: st.DrawFn) -> tuple[bytes, bool, int]:
    """A roster CSV, corrupted or not: (bytes, pristine, lines)."""
    frame = draw(roster_frames(max_lines=12))
    header = list(frame.columns)
    rows = [[str(v) for v in row] for row in frame.itertuples(index=False, name=None)]
    pristine = True
    for _ in range(draw(st.integers(0, 4))):
        pristine = False
        rows = _corrupt_roster(draw, header, rows)
    delimiter = draw(st.sampled_from([",", ",", ",", ",", ";", "\t", "|"]))
    if delimiter != ",":
        pristine = False
    buf = io.StringIO()
    writer = csv.writer(buf, delimiter=delimiter, lineterminator=draw(st.sampled_from(["\n", "\r\n"])))
    writer.writerow(header)
    writer.writerows(rows)
    raw, faithful = _encode_roster(draw, buf.getvalue())
    if not faithful:
        pristine = False
    return raw, pristine, len(frame)


def _corrupt_roster(draw: st.DrawFn, header: list[str], rows: list[list[str]]) -> list[list[str]]:
    """One drawn corruption of a roster's header (changed in place) and rows: the rows after it."""
    op = draw(st.sampled_from(["cell", "cell", "cell", "drop_column", "swap_columns", "duplicate_id", "ragged",
                               "blank_line", "extra_column", "no_rows", "rename_header"]))
    if op == "cell" and rows:
        r = draw(st.integers(0, len(rows) - 1))
        if rows[r]:
            rows[r][draw(st.integers(0, len(rows[r]) - 1))] = draw(st.sampled_from(BAD_CELLS) | st.text(max_size=6))
    elif op == "drop_column":
        c = draw(st.integers(0, len(header) - 1))
        header.pop(c)
        rows = [row[:c] + row[c + 1:] for row in rows]
    elif op == "swap_columns" and len(header) > 1:
        a, b = draw(st.integers(0, len(header) - 1)), draw(st.integers(0, len(header) - 1))
        header[a], header[b] = header[b], header[a]
    elif op == "duplicate_id" and rows:
        rows.append(list(rows[draw(st.integers(0, len(rows) - 1))]))
    elif op == "ragged" and rows:
        r = draw(st.integers(0, len(rows) - 1))
        rows[r] = rows[r] + ["x"] if draw(st.booleans()) else rows[r][:-1]
    elif op == "blank_line":
        rows.insert(draw(st.integers(0, len(rows))), [])
    elif op == "extra_column":
        header.append(draw(st.sampled_from(["line_id", "name", "", "비고", "phone"])))
        rows = [row + [draw(st.sampled_from(["", "x", "홍길동"]))] for row in rows]
    elif op == "no_rows":
        rows = []
    elif op == "rename_header":
        c = draw(st.integers(0, len(header) - 1))
        header[c] = draw(st.sampled_from([" line_id", "LINE_ID", '"service"', "fee", header[c] + " "]))
    return rows


def _encode_roster(draw: st.DrawFn, text: str) -> tuple[bytes, bool]:
    """The CSV text as drawn bytes (UTF-8, UTF-8 with BOM, CP949, UTF-16, with bad bytes, truncated or
    empty), and whether they are the text in an encoding a roster may have."""
    encoding = draw(st.sampled_from(["utf-8", "utf-8", "utf-8-sig", "cp949", "utf-16", "bad-bytes", "truncate",
                                     "empty"]))
    if encoding == "bad-bytes":
        raw = text.encode("utf-8")
        at = draw(st.integers(0, len(raw)))
        raw = raw[:at] + draw(st.sampled_from(BAD_BYTES)) + raw[at:]
    elif encoding == "truncate":
        raw = text.encode("utf-8")[: draw(st.integers(0, len(text)))]
    elif encoding == "empty":
        raw = b""
    else:
        raw = text.encode(encoding, errors="replace")
    faithful = encoding in ("utf-8", "utf-8-sig", "cp949") and raw.decode(encoding, errors="replace") == text
    return raw, faithful


INT_TYPES = (pa.int8(), pa.int16(), pa.int32(), pa.int64(), pa.uint8(), pa.uint16(), pa.uint32(), pa.uint64())
ODD_KINDS = ("int", "int", "int", "float", "string", "large_string", "dictionary", "binary", "bool", "null",
             "timestamp", "date", "decimal", "list", "struct")


@st.composite
def odd_array(draw: st.DrawFn, n: int, text_values: tuple[str, ...] | None) -> pa.Array:
    """A column of ``n`` values of a drawn Arrow type, with nulls, negatives and extremes."""
    kind = draw(st.sampled_from(ODD_KINDS))
    nulls = draw(st.booleans())

    def values(strategy: st.SearchStrategy) -> list:
        out = draw(st.lists(strategy, min_size=n, max_size=n))
        if nulls and n:
            out[draw(st.integers(0, n - 1))] = None
        return out

    if kind == "int":
        typ = draw(st.sampled_from(INT_TYPES))
        bits = typ.bit_width
        lo, hi = (0, 2**bits - 1) if str(typ).startswith("u") else (-(2 ** (bits - 1)), 2 ** (bits - 1) - 1)
        small = st.integers(max(lo, -5), min(hi, 40))
        return pa.array(values(small | st.sampled_from([lo, hi]) | st.integers(lo, hi)), typ)
    if kind == "float":
        return pa.array(values(st.floats(allow_nan=True, allow_infinity=True) | st.integers(0, 40).map(float)),
                        pa.float64())
    if kind in ("string", "large_string", "dictionary", "binary"):
        pool = st.sampled_from(text_values) if text_values else st.integers(0, 40).map(str)
        vals = values(pool | st.sampled_from(BAD_CELLS) | st.text(max_size=5))
        if kind == "binary":
            return pa.array([v.encode("utf-8", "surrogatepass") if v is not None else None for v in vals], pa.binary())
        arr = pa.array(vals, pa.large_string() if kind == "large_string" else pa.string())
        return arr.dictionary_encode() if kind == "dictionary" else arr
    if kind == "bool":
        return pa.array(values(st.booleans()), pa.bool_())
    if kind == "null":
        return pa.nulls(n)
    if kind == "timestamp":
        return pa.array(values(st.datetimes(min_value=datetime(1970, 1, 1), max_value=datetime(2100, 1, 1))),
                        pa.timestamp("us"))
    if kind == "date":
        return pa.array(values(st.dates()), pa.date32())
    if kind == "decimal":
        from decimal import Decimal

        return pa.array(values(st.integers(-(10**6), 10**6).map(lambda i: Decimal(i) / 100)), pa.decimal128(12, 2))
    if kind == "list":
        return pa.array(values(st.lists(st.integers(0, 9), max_size=2)), pa.list_(pa.int64()))
    return pa.array(values(st.fixed_dictionaries({"a": st.integers(0, 9)})), pa.struct([("a", pa.int64())]))


TEXT_VALUES = {"service": SERVICES, "region": REGIONS, "facility_id": FACILITIES, "customer_type": CUSTOMER_TYPES,
               "payment_method": PAYMENT_METHODS}


@st.composite
def roster_tables(draw: st.DrawFn) -> tuple[pa.Table, bool]:
    """A Parquet roster table, corrupted or not: (table, pristine)."""
    frame = draw(roster_frames(max_lines=10))
    table = pa.Table.from_pandas(frame, preserve_index=False)
    pristine = True
    for _ in range(draw(st.integers(0, 3))):
        pristine = False
        op = draw(st.sampled_from(["retype", "retype", "retype", "drop", "negative", "duplicate", "empty",
                                   "huge_uint"]))
        names = table.column_names
        if op == "retype":
            name = draw(st.sampled_from(names))
            table = table.set_column(names.index(name), name, draw(odd_array(table.num_rows, TEXT_VALUES.get(name))))
        elif op == "drop":
            table = table.drop_columns([draw(st.sampled_from(names))])
        elif (op == "negative" and table.num_rows and "monthly_fee_krw" in names
              and pa.types.is_int64(table["monthly_fee_krw"].type)):
            fees = table["monthly_fee_krw"].to_pylist()
            fees[draw(st.integers(0, len(fees) - 1))] = draw(st.sampled_from([-1, -(2**63), MAX_MONTHLY_FEE_KRW + 1]))
            table = table.set_column(names.index("monthly_fee_krw"), "monthly_fee_krw", pa.array(fees, pa.int64()))
        elif op == "duplicate":
            table = pa.concat_tables([table, table.slice(0, 1)])
        elif op == "empty":
            table = table.slice(0, 0)
        elif op == "huge_uint" and "line_id" in names:
            ids = list(range(2**63 - 1, 2**63 - 1 + table.num_rows))
            table = table.set_column(names.index("line_id"), "line_id", pa.array(ids, pa.uint64()))
    return table, pristine


@st.composite
def bills_bytes(draw: st.DrawFn) -> tuple[bytes, bool]:
    rows = [["line_id", "bill_month", "amount_krw"]] + [r.split(",") for r in GOOD_BILLS.splitlines()[1:]]
    pristine = True
    for _ in range(draw(st.integers(0, 3))):
        pristine = False
        r, c = draw(st.integers(0, len(rows) - 1)), draw(st.integers(0, 2))
        rows[r][c] = draw(st.sampled_from(BAD_CELLS) | st.sampled_from(["2023-7", "2023-09-01", "202309"])
                          | st.text(max_size=5))
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerows(rows)
    raw = buf.getvalue().encode("utf-8")
    if draw(st.integers(0, 4)) == 0:
        pristine = False
        raw = raw[: draw(st.integers(0, len(raw)))]
    return raw, pristine


# ------------------------------------------------------------------------------------------------
# Part 1: the loaders accept the input or raise InputError; nothing else
# ------------------------------------------------------------------------------------------------

def _expected_error(exc: InputError) -> None:
    """An InputError as the CLI prints it: it names a file and says what is wrong."""
    event("refused with InputError")
    assert exc.path and exc.problem, repr(exc)
    assert exc.message.strip()


def _load_incident_fully(path: Path) -> Any:
    """What ``kt-analysis validate`` checks for an incident: the file, its policy, windows, roster, bills,
    and for an outage the incident's names and windows against the roster (a window whose names all
    exist but that reaches no line is refused unless the incident allows it)."""
    inc = load_incident(path)
    con = connect()
    src = None
    try:
        if inc.kind == "outage":
            per_line = prepare(inc, con)
            src = per_line.source
        else:
            src = open_roster(inc.roster)
            validate_roster(con, src)
        if inc.billing is not None:
            validate_bills(con, inc.billing)
    finally:
        if src is not None:
            src.close()
        con.close()
    return inc


@st.composite
def windows_csv_bytes(draw: st.DrawFn) -> bytes:
    rows = [r.split(",") for r in GOOD_WINDOWS.splitlines()]
    for _ in range(draw(st.integers(0, 3))):
        op = draw(st.sampled_from(["cell", "extra_value", "short_row", "header", "no_rows", "blank"]))
        r = draw(st.integers(0, len(rows) - 1))
        if op == "cell" and rows[r]:
            rows[r][draw(st.integers(0, len(rows[r]) - 1))] = draw(st.sampled_from(SPECIAL_STRINGS + BAD_CELLS))
        elif op == "extra_value":
            rows[r] = rows[r] + draw(st.lists(st.sampled_from(["x", "", "F9"]), min_size=1, max_size=2))
        elif op == "short_row":
            rows[r] = rows[r][: draw(st.integers(0, len(rows[r])))]
        elif op == "header":
            rows[0] = draw(st.sampled_from([["region", "service", "start", "end"], ["start", "end"],
                                            ["facility_id", "start", "end", "start"], ["", "", "", ""]]))
        elif op == "no_rows":
            rows = rows[:1]
        else:
            rows.insert(r, [])
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerows(rows)
    text = buf.getvalue()
    return text.encode(draw(st.sampled_from(["utf-8", "utf-8-sig", "cp949", "utf-16"])), errors="replace")


# The @example inputs below each stopped a loader with a traceback before the fixes that came with
# this file (see FOUND further down); they are replayed before the generated examples.
@settings(FUZZ, max_examples=150)
@given(case=yaml_bytes(incident_docs()), windows=windows_csv_bytes())
@example(case=(b"id: x\ntitle: t\nkind: outage\ntimezone: !!int x\n", False), windows=GOOD_WINDOWS.encode())
@example(case=(b"id: x\ntitle: !!timestamp x\n", False), windows=GOOD_WINDOWS.encode())
@example(case=(b"id: x\ntitle: !!timestamp 2024-13-45\n", False), windows=GOOD_WINDOWS.encode())
@example(case=(b"a: " + b"[" * 3000, False), windows=GOOD_WINDOWS.encode())
@example(case=(b"id: x\ntitle: t\nkind: outage\ntimezone: America\npolicy: fuzz-10x\nroster: data/roster.csv\n",
               False), windows=GOOD_WINDOWS.encode())
@example(case=(b"id: x\ntitle: t\nkind: outage\ntimezone: " + b"a" * 300 + b"\n", False),
         windows=GOOD_WINDOWS.encode())
@example(case=(b"id: x\ntitle: t\nkind: outage\npolicy: " + b"b" * 5000 + b"\n", False), windows=GOOD_WINDOWS.encode())
@example(case=(b"id: x\ntitle: t\nkind: outage\npolicy: fuzz-10x\nroster: " + b"b" * 5000 + b"\n", False),
         windows=GOOD_WINDOWS.encode())
@example(case=(b"id: x\ntitle: t\nkind: outage\npolicy: fuzz-10x\nroster: data/roster.csv\n"
               b"affected: {windows_file: data}\n", False), windows=GOOD_WINDOWS.encode())
@example(case=(b"id: x\ntitle: t\nkind: outage\npolicy: fuzz-10x\nroster: data/roster.csv\n"
               b"affected: {windows_file: data/windows.csv}\n", False),
         windows=b"facility_id,service,start,end\nF1,mobile,2024-03-04T10:00,2024-03-04T12:00,x\n")
@example(case=(b"id: x\ntitle: t\nkind: billing_error\nroster: data/roster.csv\nbilling: {wrong_month: '2023-09', "
               b"charged_month: '2023-07', bills: data/bills.csv, payment_methods: [credit_card], "
               b"charged_on: '2023-09-11', settlement: fuzz-settle, bill_cycle_days: [true]}\n", False),
         windows=GOOD_WINDOWS.encode())
def test_incident_yaml_never_crashes(fuzz_root: Path, case: tuple[bytes, bool], windows: bytes) -> None:
    raw, pristine = case
    (fuzz_root / "data" / "windows.csv").write_bytes(windows)
    path = fuzz_root / "data" / "incidents" / "fuzz.yml"
    path.write_bytes(raw)
    note(raw.decode("utf-8", errors="replace")[:2000])
    try:
        _load_incident_fully(path)
    except InputError as exc:
        _expected_error(exc)
        uses_windows_file = b"windows_file" in raw
        # A well-formed incident may still name a window no line of the fuzz roster has (a region
        # without that service): refused since every window must reach a line, as it should be.
        # Nor may it name a region or facility the fuzz roster lacks (R'1, 없는곳, F'4): names must
        # match the roster (#10).
        reaches_nothing = ("reaches no line of the roster" in exc.message
                           or "no line of the roster" in exc.message)
        assert not (pristine and not uses_windows_file and not reaches_nothing), \
            f"a valid incident was refused: {exc.message}"
    finally:
        (fuzz_root / "data" / "windows.csv").write_text(GOOD_WINDOWS, encoding="utf-8")


@settings(FUZZ, max_examples=150)
@given(case=yaml_bytes(policy_docs()))
@example(case=(b"id: p\ntitle: t\nservices: [mobile]\ncredit: {outage_multiplier: !!float x}\n", False))
@example(case=(b"id: p\ntitle: t\nservices: [mobile]\ncredit: {}\ndelivery: {applied_on: '0000-01'}\n", False))
@example(case=(b"id: p\ntitle: t\nservices: [mobile]\ncredit: {}\ndelivery: {method: cash, applied_on: 2021-02-31}\n",
               False))
def test_policy_yaml_never_crashes(fuzz_root: Path, case: tuple[bytes, bool]) -> None:
    raw, pristine = case
    path = fuzz_root / "data" / "fuzz-policy.yml"
    path.write_bytes(raw)
    note(raw.decode("utf-8", errors="replace")[:2000])
    try:
        policy = load_policy(path)
    except InputError as exc:
        _expected_error(exc)
        assert not pristine, f"a valid policy was refused: {exc.message}"
        return
    _policy_is_usable(policy)


def _policy_is_usable(policy: Policy) -> None:
    """An accepted policy compiles, and the day its credits land can be computed for any outage the
    loaders accept (2000-2048): the run would otherwise fail after the input was accepted."""
    from kt_analysis.inputs.business_days import BusinessCalendar
    from kt_analysis.rules.credits import compile_policy
    from kt_analysis.rules.timeline import claim_window_closes, credit_days

    compile_policy(policy)
    calendar = BusinessCalendar.from_overrides(None)
    for day in (date(2000, 1, 1), date(2024, 8, 10), date(2048, 12, 31)):
        credit_days(policy, day, calendar)
        claim_window_closes(policy, day)


@settings(FUZZ, max_examples=80)
@given(case=yaml_bytes(settlement_docs()))
def test_settlement_yaml_never_crashes(fuzz_root: Path, case: tuple[bytes, bool]) -> None:
    raw, pristine = case
    path = fuzz_root / "data" / "fuzz-settlement.yml"
    path.write_bytes(raw)
    note(raw.decode("utf-8", errors="replace")[:2000])
    try:
        load_settlement(path)
    except InputError as exc:
        _expected_error(exc)
        assert not pristine, f"valid settlement rules were refused: {exc.message}"


def _check_accepted_roster(con: Any, src: Any, n: int) -> None:
    """An accepted roster reads through its typed view without error and holds to the contract."""
    rows = con.execute(f"SELECT {', '.join(ROSTER_COLUMNS)} FROM {src.sql}").fetchall()
    assert len(rows) == n > 0
    ids = [r[0] for r in rows]
    assert len(set(ids)) == len(ids) and None not in ids
    for _line_id, customer, service, fee, region, facility, ctype, method, day in rows:
        assert customer is not None
        assert service in SERVICES and ctype in CUSTOMER_TYPES and method in PAYMENT_METHODS
        assert isinstance(fee, int) and 0 <= fee <= MAX_MONTHLY_FEE_KRW
        assert region and facility
        assert isinstance(day, int) and 1 <= day <= 31


def _validate_roster_file(path: Path) -> int:
    con = connect()
    src = None
    try:
        src = open_roster(path)
        n = validate_roster(con, src)
        _check_accepted_roster(con, src, n)
        return n
    finally:
        if src is not None:
            src.close()
        con.close()


@settings(FUZZ, max_examples=100)
@given(case=roster_csv_bytes())
def test_roster_csv_never_crashes(tmp_path_factory: pytest.TempPathFactory, case: tuple[bytes, bool, int]) -> None:
    raw, pristine, lines = case
    folder = Path(tempfile.mkdtemp(dir=tmp_path_factory.getbasetemp()))
    path = folder / "roster.csv"
    path.write_bytes(raw)
    note(raw.decode("utf-8", errors="replace")[:2000])
    try:
        n = _validate_roster_file(path)
    except InputError as exc:
        _expected_error(exc)
        assert not pristine, f"a valid roster was refused: {exc.message}"
    else:
        assert not pristine or n == lines
    finally:
        shutil.rmtree(folder)


@settings(FUZZ, max_examples=80)
@given(case=roster_tables(), row_group=st.integers(1, 8))
def test_roster_parquet_never_crashes(tmp_path_factory: pytest.TempPathFactory, case: tuple[pa.Table, bool],
                                      row_group: int) -> None:
    table, pristine = case
    folder = Path(tempfile.mkdtemp(dir=tmp_path_factory.getbasetemp()))
    path = folder / "roster.parquet"
    pq.write_table(table, path, row_group_size=row_group)
    note(str(table.schema))
    try:
        n = _validate_roster_file(path)
    except InputError as exc:
        _expected_error(exc)
        assert not pristine, f"a valid roster was refused: {exc.message}"
    else:
        assert not pristine or n == table.num_rows
    finally:
        shutil.rmtree(folder)


@settings(FUZZ, max_examples=50)
@given(case=bills_bytes())
def test_bills_never_crash(fuzz_root: Path, case: tuple[bytes, bool]) -> None:
    raw, pristine = case
    (fuzz_root / "data" / "fuzz-bills.csv").write_bytes(raw)
    path = fuzz_root / "data" / "incidents" / "fuzz-billing.yml"
    path.write_text(
        "id: fuzz-billing\ntitle: t\nkind: billing_error\nroster: data/roster.csv\n"
        "billing: {wrong_month: '2023-09', charged_month: '2023-07', bills: data/fuzz-bills.csv, "
        "payment_methods: [credit_card, check_card], charged_on: '2023-09-11', settlement: fuzz-settle}\n",
        encoding="utf-8")
    try:
        _load_incident_fully(path)
    except InputError as exc:
        _expected_error(exc)
        assert not pristine, f"valid bills were refused: {exc.message}"


@st.composite
def any_input(draw: st.DrawFn) -> tuple[str, bytes]:
    kind = draw(st.sampled_from(["incident", "policy", "roster"]))
    if kind == "incident":
        return "incident.yml", draw(yaml_bytes(incident_docs()))[0]
    if kind == "policy":
        return "policy.yml", draw(yaml_bytes(policy_docs()))[0]
    return "roster.csv", draw(roster_csv_bytes())[0]


@settings(FUZZ, max_examples=40)
@given(case=any_input())
def test_cli_validate_exit_codes(fuzz_root: Path, case: tuple[str, bytes]) -> None:
    """``kt-analysis validate`` in-process: exit 2 with ``error:`` lines exactly when a loader refuses
    the file, exit 0 otherwise; never a traceback."""
    from kt_analysis.cli import main

    name, raw = case
    path = fuzz_root / "data" / "incidents" / f"cli-{name}"
    path.write_bytes(raw)
    note(raw.decode("utf-8", errors="replace")[:2000])
    expected_ok = True
    try:  # what `validate` promises: a .yml is an incident (with its policy, windows, roster and
        # bills), settlement rules or a policy; a .csv is a roster
        if name == "roster.csv":
            _validate_roster_file(path)
        else:
            doc = read_yaml_mapping(path, "input")
            if "affected" in doc or "kind" in doc:
                _load_incident_fully(path)
            elif "methods" in doc:
                load_settlement(path)
            else:
                load_policy(path)
    except InputError:
        expected_ok = False
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(["validate", str(path)])
    stderr = err.getvalue()
    assert "Traceback" not in stderr
    if expected_ok:
        assert code == 0, stderr
        assert out.getvalue().startswith("ok: ")
    else:
        assert code == 2, stderr
        lines = stderr.splitlines()
        assert lines and all(line.startswith("error: ") for line in lines), stderr


# ------------------------------------------------------------------------------------------------
# Part 2: engine invariants on valid generated data
# ------------------------------------------------------------------------------------------------

def _reaches(window: dict, line: Any, incident_services: list | None) -> bool:
    if incident_services and line.service not in incident_services:
        return False
    if window.get("services") and line.service not in window["services"]:
        return False
    where = window["where"]
    if where == "all":
        return True
    if "regions" in where and line.region not in where["regions"]:
        return False
    return not ("facilities" in where and line.facility_id not in where["facilities"])


def _brute_exposure(windows: list[dict], chosen: tuple[int, ...]) -> dict[str, Any]:
    """Outage figures from the set of outage minutes (each minute counted once)."""
    minutes: set[int] = set()
    for i in chosen:
        start = datetime.fromisoformat(windows[i]["start"])
        end = datetime.fromisoformat(windows[i]["end"])
        a, b = int((start - EPOCH).total_seconds()) // 60, int((end - EPOCH).total_seconds()) // 60
        minutes.update(range(a, b))
    ordered = sorted(minutes)
    longest = run = 0
    for k, m in enumerate(ordered):
        run = run + 1 if k and m == ordered[k - 1] + 1 else 1
        longest = max(longest, run)
    months = Counter((EPOCH + timedelta(minutes=m)).strftime("%Y-%m") for m in ordered)
    first = EPOCH + timedelta(minutes=ordered[0])
    import calendar as _cal

    return {"outage_minutes": len(ordered), "longest_continuous_minutes": longest,
            "monthly_cumulative_minutes": max(months.values()), "outage_days": -(-len(ordered) // 1440),
            "days_in_month": _cal.monthrange(first.year, first.month)[1], "outage_start": first,
            "outage_end": EPOCH + timedelta(minutes=ordered[-1] + 1)}


def _credit_bounds(policy: Policy, line: dict) -> tuple[int, int]:
    """The lowest and highest credit the policy's words allow a line, whatever the rounding modes:
    fee × (multiplier × outage time + days × a day + months × a month) / (a month) + the tier reached,
    with the time rounded down (lowest) or up (highest) to the billable unit and the won floored or
    ceiled to the rounding unit; an override that adds pays both parts. 0 when not eligible."""
    from conftest import is_eligible

    if line["service"] not in policy.services:
        return 0, 0
    hours = line["days_in_month"] * 24 if policy.hours_per_month == "days_in_month" else policy.hours_per_month
    month = hours * 60
    outage = line["outage_minutes"]

    def part(rule: Any, up: bool) -> Fraction:
        minutes = 0
        if rule.outage_multiplier:
            unit, mult = rule.billable_time.unit_minutes, rule.outage_multiplier
            rnd = math.ceil if up else math.floor
            if rule.billable_time.applies_to == "outage":
                minutes = rnd(Fraction(outage, unit)) * unit * mult
            else:
                minutes = rnd(Fraction(outage * mult, unit)) * unit
        minutes += rule.days_of_fee * 1440 + rule.months_of_fee * month
        tiers = [t.krw for t in rule.tiers_by_outage_days if t.from_days <= -(-outage // 1440)]
        return Fraction(line["monthly_fee_krw"] * minutes, month) + (tiers[-1] if tiers else 0)

    def matches(when: Any) -> bool:
        return ((not when.customer_types or line["customer_type"] in when.customer_types)
                and (not when.services or line["service"] in when.services)
                and (not when.regions or line["region"] in when.regions))

    override = next((o for o in policy.overrides if matches(o.when)), None)
    unit = policy.rounding.unit_krw
    bounds = []
    for up in (False, True):
        if override is None:
            amount = part(policy.credit, up) if is_eligible(policy.eligibility, line) else 0
        elif override.combine == "add":
            elig = override.eligibility or policy.eligibility
            amount = ((part(policy.credit, up) if is_eligible(policy.eligibility, line) else 0)
                      + (part(override.credit, up) if is_eligible(elig, line) else 0))
        else:
            amount = part(override.credit, up) if is_eligible(override.eligibility or policy.eligibility, line) else 0
        bounds.append((math.ceil if up else math.floor)(Fraction(amount) / unit) * unit)
    return bounds[0], bounds[1]


def _write_project_policies(root: Path, policy_doc: dict) -> None:
    folder = root / "data" / "policies"
    if not folder.exists():
        folder.mkdir(parents=True)
        for path in POLICIES.glob("*.yml"):
            shutil.copy(path, folder / path.name)
    (folder / "fuzz-policy.yml").write_text(yaml.safe_dump(policy_doc, allow_unicode=True, sort_keys=False),
                                            encoding="utf-8")


def _without_roster_digest(summary: dict) -> dict:
    out = json.loads(json.dumps(summary))
    for item in out["inputs"]:
        if item["role"] in ("roster", "bills"):
            item.pop("sha256")
            item.pop("path")
    return out


@pytest.fixture(scope="module")
def engine_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("engine")


@settings(FUZZ, max_examples=30)
@given(frame=roster_frames(), windows=window_sets(), policy_doc=policy_docs(), fmt=st.sampled_from(ROSTER_FORMATS),
       services=st.none() | st.lists(st.sampled_from(SERVICES), min_size=1, max_size=3, unique=True),
       seed=st.integers(0, 2**32 - 1))
def test_outage_engine_invariants(engine_root: Path, frame: pd.DataFrame, windows: list[dict], policy_doc: dict,
                                  fmt: str, services: list | None, seed: int) -> None:
    root = engine_root
    _write_project_policies(root, policy_doc)
    incident_doc: dict[str, Any] = {"id": "fuzz-outage", "title": "시험", "kind": "outage", "timezone": "Asia/Seoul",
                                    "policy": "fuzz-policy", "roster": "unused.csv",
                                    # the windows name regions no line has (없는곳): listed, not refused
                                    "affected": {"allow_unmatched": True, "windows": windows}}
    if services:
        incident_doc["affected"]["services"] = services
    incident_path = root / "incident.yml"
    incident_path.write_text(yaml.safe_dump(incident_doc, allow_unicode=True, sort_keys=False), encoding="utf-8")
    note(yaml.safe_dump(policy_doc, allow_unicode=True, sort_keys=False))
    note(yaml.safe_dump(incident_doc, allow_unicode=True, sort_keys=False))
    work = Path(tempfile.mkdtemp(dir=root))
    try:
        roster = write_roster(frame, work / "a", fmt)
        incident = load_incident(incident_path, roster=roster)  # a valid document must load
        policy = incident.policy
        summary = analyse(incident, work / "out-a").to_dict()
        ledger = pq.read_table(work / "out-a" / "ledger.parquet").to_pandas()

        # --- the affected lines and their figures, from the brute-force reference --------------
        expected: dict[int, dict] = {}
        cache: dict[tuple[int, ...], dict] = {}
        for line in frame.itertuples(index=False):
            chosen = tuple(i for i, w in enumerate(windows) if _reaches(w, line, services))
            if chosen:
                if chosen not in cache:
                    cache[chosen] = _brute_exposure(windows, chosen)
                expected[line.line_id] = {**line._asdict(), **cache[chosen]}
        assert sorted(ledger["line_id"]) == sorted(expected)
        assert str(pq.read_schema(work / "out-a" / "ledger.parquet").field("credit_krw").type) == "int64"
        for row in ledger.to_dict("records"):
            exp = expected[row["line_id"]]
            for key in ("outage_minutes", "longest_continuous_minutes", "monthly_cumulative_minutes", "outage_days"):
                assert row[key] == exp[key], (row["line_id"], key)
            assert row["outage_start"] == exp["outage_start"] and row["outage_end"] == exp["outage_end"]
            credit = row["credit_krw"]
            assert isinstance(credit, int | np.integer) and credit >= 0
            low, high = _credit_bounds(policy, exp)
            assert low <= credit <= high, (row["line_id"], low, credit, high)
            if not row["eligible"]:
                assert credit == 0
            if exp["service"] not in policy.services:
                assert (row["eligible"], row["rule"], credit) == (False, "not_covered", 0)
            assert (row["eligible"], row["eligibility_reason"], row["rule"], credit) == \
                reference_credit(policy, exp), row["line_id"]
            assert (row["credit_on"] is None or pd.isna(row["credit_on"])) == (
                credit == 0 or policy.delivery.method == "cash_on_request"), row["line_id"]

        # --- money is conserved --------------------------------------------------------------------
        total = int(ledger["credit_krw"].sum())
        event(f"affected lines: {'some' if len(ledger) else 'none'}; credit paid: {'some' if total else 'none'}")
        assert summary["total_credit_krw"] == total
        assert summary["affected_lines"] == len(ledger)
        assert summary["eligible_lines"] == int(ledger["eligible"].sum())
        assert summary["affected_customers"] == ledger["customer_id"].nunique()
        assert summary["roster_lines"] == len(frame)
        for by in ("service", "region", "customer_type", "payment_method"):
            groups = summary[f"by_{by}"]
            assert sum(g["total_credit_krw"] for g in groups.values()) == total, by
            assert sum(g["affected_lines"] for g in groups.values()) == len(ledger), by
            assert sum(g["eligible_lines"] for g in groups.values()) == summary["eligible_lines"], by
            assert sum(g["affected_customers"] for g in groups.values()) >= summary["affected_customers"], by
        landed = ledger[ledger["credit_krw"] > 0]
        assert sum(d["credit_krw"] for d in summary["credit_timeline"]) == int(
            landed.loc[landed["credit_on"].notna(), "credit_krw"].sum())
        if summary["eligible_lines"]:
            assert summary["credit_distribution"]["max_krw"] == int(ledger.loc[ledger["eligible"], "credit_krw"].max())
        catalogue = {p.id: p for p in catalogue_policies(incident)}
        assert summary["what_if"][0]["policy_id"] == "fuzz-policy"
        figures = [expected[i] for i in ledger["line_id"]]
        for row in summary["what_if"]:
            refs = [reference_credit(catalogue[row["policy_id"]], f) for f in figures]
            assert row["total_credit_krw"] == sum(r[3] for r in refs), row["policy_id"]
            assert row["eligible_lines"] == sum(r[0] for r in refs), row["policy_id"]
        assert json.loads((work / "out-a" / "summary.json").read_text(encoding="utf-8")) == summary

        # --- row order does not matter --------------------------------------------------------------
        shuffled = frame.iloc[np.random.default_rng(seed).permutation(len(frame))].reset_index(drop=True)
        roster_b = write_roster(shuffled, work / "b", fmt, row_group_size=1 + seed % 50)
        summary_b = analyse(load_incident(incident_path, roster=roster_b), work / "out-b").to_dict()
        ledger_b = pq.read_table(work / "out-b" / "ledger.parquet").to_pandas()
        key = ["line_id"]
        assert ledger.sort_values(key).reset_index(drop=True).equals(ledger_b.sort_values(key).reset_index(drop=True))
        assert _without_roster_digest(summary) == _without_roster_digest(summary_b)
    finally:
        shutil.rmtree(work)


MONTHS = [f"{y}-{m:02d}" for y in range(2022, 2025) for m in range(1, 13)]


@st.composite
def billing_cases(draw: st.DrawFn) -> dict[str, Any]:
    frame = draw(roster_frames(max_lines=80))
    wrong, charged = draw(st.lists(st.sampled_from(MONTHS), min_size=2, max_size=2, unique=True))
    charged_on = date(int(wrong[:4]), int(wrong[5:]), draw(st.integers(1, 28)))
    discovered_on = charged_on + timedelta(days=draw(st.integers(0, 10)))
    methods = draw(st.lists(st.sampled_from(PAYMENT_METHODS), min_size=2, max_size=5, unique=True))
    bills = []
    for line_id in frame["line_id"]:
        for month in (charged, wrong, draw(st.sampled_from(MONTHS))):
            if draw(st.integers(0, 5)) > 0:
                bills.append((int(line_id), month, draw(st.integers(0, 300_000))))
    bills = list({(lid, month): (lid, month, amount) for lid, month, amount in bills}.values())
    outsider = int(frame["line_id"].max()) + 1  # not in the roster: both months are present in the file
    bills += [(outsider, charged, 1_000), (outsider, wrong, 2_000)]
    rules: dict[str, Any] = {}
    for method in PAYMENT_METHODS:
        rule: dict[str, Any] = {"action": draw(st.sampled_from(["cancel", "refund"]))}
        if draw(st.booleans()):
            first = discovered_on + timedelta(days=draw(st.integers(0, 3)))
            days = [first + timedelta(days=i) for i in sorted(draw(st.lists(st.integers(0, 6), min_size=1,
                                                                               max_size=3, unique=True)))]
            rule["dates"] = [d.isoformat() for d in days]
            if draw(st.booleans()):
                again = sorted(draw(st.lists(st.integers(0, 6), min_size=1, max_size=3, unique=True)))
                rule["recharge_dates"] = [(days[-1] + timedelta(days=i)).isoformat() for i in again]
        else:
            rule["lag_business_days"] = draw(st.integers(0, 5))
            if draw(st.booleans()):
                rule["daily_capacity_lines"] = draw(st.integers(1, 20))
        if "recharge_dates" not in rule and draw(st.booleans()):
            rule["recharge_lag_business_days"] = draw(st.integers(0, 3))
        rules[method] = rule
    billing: dict[str, Any] = {"wrong_month": wrong, "charged_month": charged, "bills": "unused.parquet",
                               "payment_methods": methods, "charged_on": charged_on.isoformat(),
                               "discovered_on": discovered_on.isoformat(), "settlement": "fuzz-settlement"}
    if draw(st.booleans()):
        billing["services"] = draw(st.lists(st.sampled_from(SERVICES), min_size=1, max_size=3, unique=True))
    if draw(st.booleans()):  # mostly days the roster has, so that some lines are hit
        days = st.sampled_from(sorted(int(d) for d in set(frame["bill_cycle_day"]))) | st.integers(1, 31)
        billing["bill_cycle_days"] = draw(st.lists(days, min_size=1, max_size=8, unique=True))
    return {"frame": frame, "bills": pd.DataFrame(bills, columns=["line_id", "bill_month", "amount_krw"]),
            "rules": {"id": "fuzz-settlement", "title": "시험 정산", "methods": rules}, "billing": billing}


def _write_bills(bills: pd.DataFrame, folder: Path, csv_file: bool) -> Path:
    if csv_file:
        path = folder / "bills.csv"
        path.write_text(bills.to_csv(index=False, lineterminator="\n"), encoding="utf-8")
    else:
        path = folder / "bills.parquet"
        pq.write_table(pa.Table.from_pandas(bills.astype({"line_id": "int64", "amount_krw": "int64"}),
                                            preserve_index=False), path, row_group_size=37)
    return path


@settings(FUZZ, max_examples=25)
@given(case=billing_cases(), fmt=st.sampled_from(ROSTER_FORMATS), bills_csv=st.booleans(),
       seed=st.integers(0, 2**32 - 1))
def test_billing_engine_invariants(engine_root: Path, case: dict[str, Any], fmt: str, bills_csv: bool,
                                   seed: int) -> None:
    root = engine_root / "billing"
    (root / "data" / "settlement").mkdir(parents=True, exist_ok=True)
    (root / "data" / "policies").mkdir(parents=True, exist_ok=True)
    (root / "data" / "settlement" / "fuzz-settlement.yml").write_text(
        yaml.safe_dump(case["rules"], allow_unicode=True, sort_keys=False), encoding="utf-8")
    doc = {"id": "fuzz-billing", "title": "시험 오청구", "kind": "billing_error", "timezone": "Asia/Seoul",
           "roster": "unused.csv", "billing": case["billing"]}
    incident_path = root / "incident.yml"
    incident_path.write_text(yaml.safe_dump(doc, allow_unicode=True, sort_keys=False), encoding="utf-8")
    note(yaml.safe_dump(case["rules"], allow_unicode=True, sort_keys=False))
    note(yaml.safe_dump(doc, allow_unicode=True, sort_keys=False))
    frame, bills, billing = case["frame"], case["bills"], case["billing"]
    work = Path(tempfile.mkdtemp(dir=root))
    try:
        roster = write_roster(frame, work / "a", fmt)
        bills_path = _write_bills(bills, work / "a", bills_csv)
        incident = load_incident(incident_path, roster=roster, bills=bills_path)
        summary = analyse(incident, work / "out-a").to_dict()
        ledger = pq.read_table(work / "out-a" / "ledger.parquet").to_pandas()

        # --- who is hit, and for how much -------------------------------------------------------
        amounts = {(r.line_id, r.bill_month): r.amount_krw for r in bills.itertuples(index=False)}
        hit = {}
        for line in frame.itertuples(index=False):
            if line.payment_method not in billing["payment_methods"]:
                continue
            if billing.get("services") and line.service not in billing["services"]:
                continue
            if billing.get("bill_cycle_days") and line.bill_cycle_day not in billing["bill_cycle_days"]:
                continue
            charged = amounts.get((line.line_id, billing["charged_month"]))
            owed = amounts.get((line.line_id, billing["wrong_month"]))
            if charged is not None and owed is not None:
                hit[line.line_id] = (line, charged, owed)
        assert list(ledger["line_id"]) == sorted(hit)
        rules = case["rules"]["methods"]
        discovered = date.fromisoformat(billing["discovered_on"])
        for row in ledger.to_dict("records"):
            line, charged, owed = hit[row["line_id"]]
            assert (row["charged_krw"], row["owed_krw"]) == (charged, owed)
            assert row["cancelled_krw"] + row["refund_krw"] == row["charged_krw"]  # reversed = charged
            assert row["recharge_krw"] == row["owed_krw"]  # re-charged = owed
            rule = rules[line.payment_method]
            assert row["action"] == rule["action"]
            assert (row["refund_krw"] if rule["action"] == "cancel" else row["cancelled_krw"]) == 0
            settled, recharged = row["settled_on"], row["recharge_on"]
            assert recharged >= settled
            if "dates" in rule:
                assert settled.isoformat() in rule["dates"]
            else:
                assert settled >= discovered and settled.weekday() < 5
            if "recharge_dates" in rule:
                assert recharged.isoformat() in rule["recharge_dates"]
        for method, group in ledger.groupby("payment_method"):
            ordered = group.sort_values("line_id")
            assert ordered["settled_on"].is_monotonic_increasing, method  # spread in line_id order
            capacity = rules[method].get("daily_capacity_lines")
            if capacity:
                assert group.groupby("settled_on").size().max() <= capacity, method

        # --- money is conserved ----------------------------------------------------------------------
        total = {c: int(ledger[c].sum()) for c in ("charged_krw", "owed_krw", "cancelled_krw", "refund_krw",
                                                    "recharge_krw")}
        event(f"lines charged wrongly: {'some' if len(ledger) else 'none'}")
        assert summary["affected_lines"] == len(ledger)
        assert summary["total_charged_krw"] == total["charged_krw"] == summary["total_cancelled_krw"] + summary[
            "total_refund_krw"]
        assert summary["total_cancelled_krw"] == total["cancelled_krw"]
        assert summary["total_refund_krw"] == total["refund_krw"]
        assert summary["total_recharge_krw"] == total["recharge_krw"] == summary["total_owed_krw"] == total["owed_krw"]
        assert summary["total_overcharged_krw"] - summary["total_undercharged_krw"] == (
            total["charged_krw"] - total["owed_krw"])
        methods = summary["by_payment_method"]
        for key in ("charged", "cancelled", "refund", "recharge", "owed"):
            assert sum(m[f"{key}_krw"] for m in methods.values()) == total[f"{key}_krw"], key
        assert sum(m["affected_lines"] for m in methods.values()) == len(ledger)
        for by in ("service", "region", "customer_type"):
            groups = summary[f"by_{by}"]
            assert sum(g["charged_krw"] for g in groups.values()) == total["charged_krw"], by
            assert sum(g["refund_krw"] for g in groups.values()) == total["refund_krw"], by
            assert sum(g["affected_lines"] for g in groups.values()) == len(ledger), by
        for key in ("cancelled", "refund", "recharge"):
            assert sum(d[f"{key}_krw"] for d in summary["timeline"]) == total[f"{key}_krw"], key
        assert sum(n["lines"] for n in summary["notifications"]) == 2 * len(ledger)
        assert summary["peak_exposure_krw"] <= total["refund_krw"]
        assert json.loads((work / "out-a" / "summary.json").read_text(encoding="utf-8")) == summary

        # --- row order does not matter --------------------------------------------------------------
        rng = np.random.default_rng(seed)
        roster_b = write_roster(frame.iloc[rng.permutation(len(frame))].reset_index(drop=True), work / "b", fmt,
                                row_group_size=1 + seed % 50)
        bills_b = _write_bills(bills.iloc[rng.permutation(len(bills))].reset_index(drop=True), work / "b", bills_csv)
        summary_b = analyse(load_incident(incident_path, roster=roster_b, bills=bills_b), work / "out-b").to_dict()
        assert pq.read_table(work / "out-b" / "ledger.parquet").to_pandas().equals(ledger)
        assert _without_roster_digest(summary) == _without_roster_digest(summary_b)
    finally:
        shutil.rmtree(work)


INCIDENT_HEAD = "id: x\ntitle: t\nkind: outage\npolicy: fuzz-10x\nroster: data/roster.csv\n"
BILLING_HEAD = ("id: x\ntitle: t\nkind: billing_error\nroster: data/roster.csv\nbilling: {wrong_month: '2023-09', "
                "charged_month: '2023-07', bills: data/bills.csv, payment_methods: [credit_card], "
                "charged_on: '2023-09-11', settlement: fuzz-settle")
POLICY_HEAD = "id: p\ntitle: t\nservices: [mobile]\ncredit: {outage_multiplier: 10}\n"
WINDOWS = "affected: {windows: [{start: 2024-03-04T10:00, end: 2024-03-04T12:00, where: all}]}\n"
# The defects the properties above found (each was a traceback, or a silent misreading), now refused
# with a message that names the place: (file, text, windows file, what the message must say).
FOUND = {
    "int tag with a word": ("incident", "id: x\ntitle: !!int x\n", None, "line 2, column 8"),
    "bool tag": ("incident", "id: !!bool maybe\n", None, "cannot be read as !!bool"),
    "timestamp tag, no date": ("incident", "id: x\ntitle: !!timestamp x\n", None, "cannot be read as !!timestamp"),
    "timestamp tag, month 13": ("policy", "id: !!timestamp 2024-13-45\n", None, "cannot be read as !!timestamp"),
    "float tag": ("policy", "id: p\ncredit: {outage_multiplier: !!float x}\n", None, "cannot be read as !!float"),
    "3000 brackets": ("incident", "id: " + "[" * 3000, None, "nests more than 64 levels deep"),
    "time zone that is a folder": ("incident", INCIDENT_HEAD + "timezone: America\n" + WINDOWS, None,
                                   "timezone: 'America' is not a known time zone"),
    "time zone name too long": ("incident", INCIDENT_HEAD + "timezone: " + "a" * 300 + "\n" + WINDOWS, None,
                                "is not a known time zone"),
    "policy path too long": ("incident", INCIDENT_HEAD.replace("fuzz-10x", "b" * 5000) + WINDOWS, None,
                             "policy: policy file"),
    "roster path too long": ("incident", INCIDENT_HEAD.replace("data/roster.csv", "b" * 5000) + WINDOWS, None,
                             "roster: roster"),
    "windows file is a folder": ("incident", INCIDENT_HEAD + "affected: {windows_file: data}\n", None,
                                 "is a folder, not a windows file"),
    "windows line with an extra value": (
        "incident", INCIDENT_HEAD + "affected: {windows_file: data/windows.csv}\n",
        "facility_id,service,start,end\nF1,mobile,2024-03-04T10:00,2024-03-04T12:00,x\n",
        "line 2: has 5 values, the header 4"),
    "bill day true": ("incident", BILLING_HEAD + ", bill_cycle_days: [true]}\n", None,
                      "billing.bill_cycle_days: must be a list of days 1-31"),
    "bill month in year 0": ("policy", POLICY_HEAD + "delivery: {applied_on: '0000-01'}\n", None,
                             "delivery.applied_on: 0000-01 is outside the years"),
    "bill month before the calendar": ("policy", POLICY_HEAD + "delivery: {applied_on: '1999-12'}\n", None,
                                       "outside the years this tool settles (2000-2050)"),
    "cash day 31 February": ("policy", POLICY_HEAD + "delivery: {method: cash, applied_on: 2021-02-31}\n", None,
                             "delivery.applied_on: 2021-02-31 is not a day of the calendar"),
}


@pytest.mark.parametrize("name", list(FOUND))
def test_found_defects_are_refused_with_a_message(fuzz_root: Path, name: str) -> None:
    kind, text, windows, expected = FOUND[name]
    path = fuzz_root / "data" / "incidents" / "found.yml"
    path.write_text(text, encoding="utf-8")
    if windows is not None:
        (fuzz_root / "data" / "windows.csv").write_text(windows, encoding="utf-8")
    try:
        with pytest.raises(InputError) as info:
            _load_incident_fully(path) if kind == "incident" else load_policy(path)
    finally:
        (fuzz_root / "data" / "windows.csv").write_text(GOOD_WINDOWS, encoding="utf-8")
    assert expected in info.value.message
    assert info.value.fix, info.value.message


def test_the_strategies_make_valid_documents(fuzz_root: Path) -> None:
    """The fuzzing project's own files load (else the properties above would only see refusals)."""
    path = fuzz_root / "data" / "incidents" / "plain.yml"
    path.write_text("id: plain\ntitle: t\nkind: outage\npolicy: fuzz-10x\nroster: data/roster.csv\n"
                    "affected: {windows_file: data/windows.csv}\n", encoding="utf-8")
    assert len(_load_incident_fully(path).windows) == 2
