"""Spark = DuckDB beyond the samples: generated policies (as YAML text, read by ``load_policy``) and
incidents on both exposure paths, over a roster in several Parquet files, with Spark on several
partitions and merging several part files; exact ``half_up`` ties at every rounding unit; a total
beyond int64 and an int64 overflow inside Spark's per-line pass (ANSI mode) refused as DuckDB
refuses them.

Each generated case runs on both engines and must give byte-identical ``summary.json`` and the same
ledger rows, and every ledger line must be the exact-fraction reference of what the policy document
says (``conftest.policy_from_doc``, not the loader). Spark runs in local mode, one session for the
module, with ``LINES_PER_PART`` and ``ROW_GROUP`` made small so that a few hundred lines make
several range partitions, several part files and several row groups of the merged ledger.
"""

from __future__ import annotations

import calendar
import json
import math
import os
import shutil
import tempfile
import unicodedata
from dataclasses import replace
from datetime import datetime, timedelta
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import yaml
from conftest import POLICIES, exact_credit, policy_from_doc, reference_credit
from hypothesis import HealthCheck, event, example, given, note, settings
from hypothesis import strategies as st
from test_fuzz import policy_docs

from kt_analysis.dbrow import connect
from kt_analysis.engine import duckdb_engine, spark_engine
from kt_analysis.engine.duckdb_engine import ROSTER_ATTRIBUTES, prepare
from kt_analysis.engine.figures import INT64_MAX
from kt_analysis.errors import InputError
from kt_analysis.inputs.incident import load_incident
from kt_analysis.inputs.schema import SERVICES
from kt_analysis.jobs.analyse import analyse

from .conftest import _spark_available
from .test_spark_engine import _ledger

REGIONS = ("서울", "부산", "제주", "R'1")  # test_fuzz's: what its policy documents' overrides name
FACILITIES = tuple(f"F{i:02d}" for i in range(40))  # one window each: > MAX_LOOKUP_GROUPS exposures
CUSTOMER_TYPES = ("individual", "small_business", "enterprise")
PAYMENT_METHODS = ("credit_card", "check_card", "bank_transfer", "giro", "other")
TIE_UNITS = (1, 10, 100, 1000)
# Fees whose credit for 60 minutes × 1 is a tie at some unit: F / 720 (720 h) or F / 696 (a 29-day
# month under days_in_month) is an odd number of half units.
TIE_FEES = tuple(b * u * k for b in (360, 348) for u in TIE_UNITS for k in (1, 3))
LINES_PER_PART = 64
ROW_GROUP = 37
AGREE = settings(max_examples=5, deadline=None,
                 suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture,
                                        HealthCheck.data_too_large])


@pytest.fixture(scope="module")
def session():
    """One local Spark session for the module, on several partitions: its shuffles (the summary's
    aggregates) use 3, and the ledger is range-partitioned into one part per LINES_PER_PART lines."""
    missing = _spark_available()
    if missing:
        if os.environ.get("CI"):
            pytest.fail(f"CI must install what the Spark engine needs: {missing} (see .ci/run, pyproject [dev])")
        pytest.skip(missing)
    with pytest.MonkeyPatch.context() as mp, spark_engine.spark_session("local[2]") as spark:
        mp.setattr(spark_engine, "LINES_PER_PART", LINES_PER_PART)
        mp.setattr(spark_engine, "ROW_GROUP", ROW_GROUP)
        spark.conf.set("spark.sql.shuffle.partitions", "3")
        yield spark


@pytest.fixture(scope="module")
def agree_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("agree")


@pytest.fixture
def parts_seen(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The number of Spark part files each merge reads."""
    seen: list[int] = []
    merge = spark_engine.merge_parts

    def counting(parts: Path, path: Path) -> int:
        seen.append(len(list(parts.glob("part-*.parquet"))))
        return merge(parts, path)

    monkeypatch.setattr(spark_engine, "merge_parts", counting)
    return seen


# ------------------------------------------------------------------------------------------------
# Rosters, incidents, policies
# ------------------------------------------------------------------------------------------------

def roster_frame(seed: int, n: int) -> pd.DataFrame:
    """``n`` lines in no particular line_id order; every region, facility and service present."""
    rng = np.random.default_rng(seed)
    ids = (rng.permutation(n).astype("int64") - n // 3) * 1_000_003 + int(rng.integers(0, 1000))
    pool = np.concatenate([np.array(TIE_FEES), [0, 1, 99, 72_000, 100_000_000]])
    fees = np.where(rng.random(n) < 0.4, rng.choice(pool, n), rng.integers(0, 150_000, n))
    frame = pd.DataFrame({
        "line_id": ids,
        "customer_id": 1000 + rng.integers(0, n // 2 + 1, n),
        "service": rng.choice(SERVICES, n),
        "monthly_fee_krw": fees.astype("int64"),
        "region": rng.choice(REGIONS, n),
        "facility_id": rng.choice(FACILITIES, n),
        "customer_type": rng.choice(CUSTOMER_TYPES, n, p=[0.7, 0.2, 0.1]),
        "payment_method": rng.choice(PAYMENT_METHODS, n),
        "bill_cycle_day": rng.integers(1, 32, n),
    })
    for column, values in (("facility_id", FACILITIES), ("region", REGIONS), ("service", SERVICES)):
        frame.loc[: len(values) - 1, column] = values
    for c in ("line_id", "customer_id", "monthly_fee_krw", "bill_cycle_day"):
        frame[c] = frame[c].astype("int64")
    return frame


def write_parts(frame: pd.DataFrame, folder: Path, parts: int) -> Path:
    """The roster as a Parquet folder of ``parts`` files (small row groups)."""
    folder.mkdir(parents=True)
    for i, chunk in enumerate(np.array_split(np.arange(len(frame)), parts)):
        pq.write_table(pa.Table.from_pandas(frame.iloc[chunk], preserve_index=False), folder / f"part-{i}.parquet",
                       row_group_size=29)
    return folder


def _at(t: datetime) -> str:
    return t.strftime("%Y-%m-%dT%H:%M")


@st.composite
def bases(draw: st.DrawFn) -> datetime:
    """A start: any minute of 2021-2024, or a few days before a month begins (a window across the
    month end; February 2024 has 29 days)."""
    if draw(st.booleans()):
        return draw(st.datetimes(min_value=datetime(2021, 1, 1), max_value=datetime(2024, 12, 20))).replace(
            second=0, microsecond=0)
    year, month = draw(st.integers(2021, 2024)), draw(st.sampled_from([2, 3, 5, 8, 12]))
    return datetime(year, month, 1) - timedelta(minutes=draw(st.integers(0, 3 * 1440)))


@st.composite
def regional_windows(draw: st.DrawFn) -> list[dict]:
    """Nationwide or regional windows: few distinct exposures, the lookup path."""
    base = draw(bases())
    out = []
    for _ in range(draw(st.integers(1, 3))):
        start = base + timedelta(minutes=draw(st.integers(0, 2 * 1440)))
        minutes = draw(st.integers(1, 300) | st.integers(1, 4 * 1440))
        where: Any = draw(st.just("all") | st.lists(st.sampled_from(REGIONS), min_size=1, max_size=3,
                                                     unique=True).map(lambda r: {"regions": r}))
        window: dict[str, Any] = {"start": _at(start), "end": _at(start + timedelta(minutes=minutes)), "where": where}
        if draw(st.booleans()):
            window["services"] = draw(st.lists(st.sampled_from(SERVICES), min_size=1, max_size=3, unique=True))
        out.append(window)
    return out


@st.composite
def facility_windows(draw: st.DrawFn) -> list[dict]:
    """One window per facility, each of its own length (and sometimes a regional one on top):
    more distinct exposures than the lookup takes, the hash-join path."""
    base = draw(bases())
    step, extra = draw(st.integers(1, 97)), draw(st.integers(1, 400))
    out = []
    for i, facility in enumerate(FACILITIES):
        start = base + timedelta(minutes=(i * 7) % 300)
        window: dict[str, Any] = {"start": _at(start), "end": _at(start + timedelta(minutes=extra + i * step)),
                                  "where": {"facilities": [facility]}}
        if i % 5 == 0 and draw(st.booleans()):
            window["services"] = draw(st.lists(st.sampled_from(SERVICES), min_size=1, max_size=2, unique=True))
        out.append(window)
    if draw(st.booleans()):
        start = base + timedelta(minutes=draw(st.integers(0, 1440)))
        out.append({"start": _at(start), "end": _at(start + timedelta(minutes=draw(st.integers(1, 600)))),
                    "where": {"regions": [draw(st.sampled_from(REGIONS))]}})
    return out


@st.composite
def agree_policy_docs(draw: st.DrawFn) -> dict:
    """test_fuzz's policy documents (every feature of the language), always with a rounding, at
    every unit and mode."""
    doc = draw(policy_docs(pid="agree"))
    doc["credit"]["rounding"] = {"unit_krw": draw(st.sampled_from(TIE_UNITS)),
                                 "mode": draw(st.sampled_from(["floor", "ceil", "half_up"]))}
    return doc


def tie_case(unit: int, hours: Any, per_facility: bool = False) -> dict[str, Any]:
    """60 minutes × 1 under ``half_up`` at ``unit``: the roster's TIE_FEES lines are exact ties.
    ``per_facility``: one 60-minute window per facility, each starting a minute later (the join path)."""
    credit: dict[str, Any] = {"outage_multiplier": 1, "rounding": {"unit_krw": unit, "mode": "half_up"}}
    doc = {"id": "agree", "title": "반올림 경계", "services": list(SERVICES),
           "hourly_fee": {"hours_per_month": hours}, "credit": credit}
    start = datetime(2024, 2, 10, 9, 0) if hours == "days_in_month" else datetime(2024, 8, 10, 9, 0)
    if unit == 100:  # a tie in billable minutes too: 30 minutes in 60-minute units, half_up → 60
        credit["billable_time"] = {"unit_minutes": 60, "mode": "half_up", "applies_to": "outage"}
        windows = [{"start": _at(start), "end": _at(start + timedelta(minutes=30)), "where": "all"}]
    elif per_facility:
        windows = [{"start": _at(start + timedelta(minutes=i)), "end": _at(start + timedelta(minutes=i + 60)),
                    "where": {"facilities": [f]}} for i, f in enumerate(FACILITIES)]
    else:
        windows = [{"start": _at(start), "end": _at(start + timedelta(minutes=60)),
                    "where": {"regions": list(REGIONS)}}]
    return {"policy_doc": doc, "windows": windows, "seed": unit, "n": 240, "threads": 2, "ties": True}


# Every feature at least once per run, whatever the draw: days_in_month, billable time down on the
# multiplied time and half_up on the outage, flat days, tiers, thresholds with 초과, overrides that add
# (own eligibility: everyone) and replace (own threshold), ceil to 100 won, a cash day; on the join path.
EVERYTHING_JOIN = {
    "id": "agree", "title": "전부", "services": ["mobile", "internet", "iptv"],
    "eligibility": {"min_continuous_minutes": 120, "min_monthly_cumulative_minutes": 300,
                    "monthly_cumulative_exceeds": True},
    "hourly_fee": {"hours_per_month": "days_in_month"},
    "credit": {
        "outage_multiplier": 6, "billable_time": {"unit_minutes": 30, "mode": "down", "applies_to": "multiplied"},
        "flat_days_of_fee": 2, "tiers_by_outage_days": [{"from_days": 1, "krw": 1000}, {"from_days": 2, "krw": 5000}],
        "overrides": [
            {"when": {"customer_type": ["small_business"], "regions": ["부산", "R'1"]}, "combine": "add",
             "eligibility": {}, "outage_multiplier": 3,
             "billable_time": {"unit_minutes": 15, "mode": "half_up", "applies_to": "outage"}},
            {"when": {"services": ["internet"]}, "eligibility": {"min_continuous_minutes": 30},
             "months_of_fee": 1, "days_of_fee": 1},
        ],
        "rounding": {"unit_krw": 100, "mode": "ceil"},
    },
    "delivery": {"method": "cash", "applied_on": "2025-02-10"},
}
# ... and 720 hours, billable half_up in hours, months of fee, a replacing override with billable
# time up on the multiplied time, half_up to 10 won, a claim window; on the lookup path.
EVERYTHING_LOOKUP = {
    "id": "agree", "title": "전부 (지역)", "services": list(SERVICES),
    "eligibility": {"min_monthly_cumulative_minutes": 60},
    "hourly_fee": {"hours_per_month": 720},
    "credit": {
        "outage_multiplier": 10, "billable_time": {"unit_minutes": 60, "mode": "half_up", "applies_to": "outage"},
        "months_of_fee": 1,
        "overrides": [{"when": {"customer_types": ["enterprise"], "services": ["mobile", "landline"]},
                       "outage_multiplier": 100,
                       "billable_time": {"unit_minutes": 1440, "mode": "up", "applies_to": "multiplied"}}],
        "rounding": {"unit_krw": 10, "mode": "half_up"},
    },
    "delivery": {"method": "bill_credit", "applied_on": "bill_after_next", "claim_required": True,
                 "claim_window_days": 30},
}


def everything_case(join: bool) -> dict[str, Any]:
    if join:  # across the end of February 2024, up to ~1 day: the tiers are reached
        start = datetime(2024, 2, 28, 20, 0)
        windows = [{"start": _at(start + timedelta(minutes=3 * i)),
                    "end": _at(start + timedelta(minutes=3 * i + 20 + 37 * i)), "where": {"facilities": [f]}}
                   for i, f in enumerate(FACILITIES)]
    else:
        windows = [{"start": "2023-12-31T22:10", "end": "2024-01-01T03:55", "where": {"regions": ["서울", "R'1"]}},
                   {"start": "2024-01-01T02:00", "end": "2024-01-01T05:29", "where": "all",
                    "services": ["mobile", "iptv"]}]
    return {"policy_doc": EVERYTHING_JOIN if join else EVERYTHING_LOOKUP, "windows": windows, "seed": 5 + join,
            "n": 300, "threads": 1 + join, "ties": False}


# ------------------------------------------------------------------------------------------------
# The property
# ------------------------------------------------------------------------------------------------

def _line(row: dict) -> dict:
    start = row["outage_start"]
    return {**row, "days_in_month": calendar.monthrange(start.year, start.month)[1]}


def _tie(policy: Any, line: dict) -> bool:
    """The line's exact credit is an odd number of half rounding units (0 when not eligible)."""
    ok, _reason, rule, _credit = reference_credit(policy, line)
    if not ok or rule != "base":
        return False
    q = exact_credit(policy, policy.credit, line) / policy.rounding.unit_krw
    return q - math.floor(q) == Fraction(1, 2)


def run_both(root: Path, policy_doc: dict, windows: list[dict], frame: pd.DataFrame, spark: Any,
             threads: int) -> tuple[Any, Path, Path, bool]:
    """Write the project, run both engines; (the incident, DuckDB's folder, Spark's, keeps_order)."""
    (root / "data" / "policies").mkdir(parents=True)
    for path in POLICIES.glob("*.yml"):  # the what-if compares every catalogue policy too
        shutil.copy(path, root / "data" / "policies" / path.name)
    (root / "data" / "policies" / "agree.yml").write_text(
        yaml.safe_dump(policy_doc, allow_unicode=True, sort_keys=False), encoding="utf-8")
    write_parts(frame, root / "data" / "roster", 3 + len(frame) % 2)
    doc = {"id": "agree-incident", "title": "엔진 비교", "kind": "outage", "timezone": "Asia/Seoul",
           "policy": "agree", "roster": "data/roster", "affected": {"allow_unmatched": True, "windows": windows}}
    path = root / "incident.yml"
    path.write_text(yaml.safe_dump(doc, allow_unicode=True, sort_keys=False), encoding="utf-8")
    incident = load_incident(path)
    con = connect()
    try:
        per_line = prepare(incident, con)
        keeps_order = per_line.keeps_order
        per_line.source.close()
    finally:
        con.close()
    analyse(incident, root / "duckdb", engine="duckdb", threads=threads)
    analyse(incident, root / "spark", engine="spark", spark=spark)
    return incident, root / "duckdb", root / "spark", keeps_order


def check_agree(a: Path, b: Path) -> pa.Table:
    assert (a / "summary.json").read_bytes() == (b / "summary.json").read_bytes()
    left, right = _ledger(a / "ledger.parquet"), _ledger(b / "ledger.parquet")
    assert left.schema == right.schema
    assert left.equals(right)
    meta = pq.ParquetFile(b / "ledger.parquet").metadata
    sizes = [meta.row_group(i).num_rows for i in range(meta.num_row_groups)]
    assert all(s == ROW_GROUP for s in sizes[:-1]) and 0 < sizes[-1] <= ROW_GROUP, sizes  # merge_parts' groups
    ids = pq.read_table(b / "ledger.parquet", columns=["line_id"]).column("line_id").to_pylist()
    assert ids == sorted(ids)
    return left


@pytest.mark.slow
@AGREE
@given(policy_doc=agree_policy_docs(), windows=regional_windows() | facility_windows(),
       seed=st.integers(0, 2**32 - 1), n=st.integers(200, 400), threads=st.sampled_from([1, 2]),
       ties=st.just(False))
@example(**tie_case(1, 720))
@example(**tie_case(10, "days_in_month"))
@example(**tie_case(100, 720))
@example(**tie_case(1000, "days_in_month", per_facility=True))
@example(**everything_case(join=True))
@example(**everything_case(join=False))
def test_engines_agree_on_generated_policies(session, agree_root: Path, parts_seen: list[int], policy_doc: dict,
                                             windows: list[dict], seed: int, n: int, threads: int,
                                             ties: bool) -> None:
    note(yaml.safe_dump(policy_doc, allow_unicode=True, sort_keys=False))
    frame = roster_frame(seed, n)
    root = Path(tempfile.mkdtemp(dir=agree_root))
    try:
        incident, a, b, keeps_order = run_both(root, policy_doc, windows, frame, session, threads)
        # the path the windows' shape calls for (so both are tested, not one twice)
        assert keeps_order == all("facilities" not in w["where"] for w in windows)
        event("lookup path" if keeps_order else "join path")
        meant = policy_from_doc(policy_doc)
        assert replace(incident.policy, path="", sha256="") == meant  # the YAML read as written
        ledger = check_agree(a, b)
        # the ledger keeps the decisions; the roster's attributes the rules read are joined back here
        attributes = frame.set_index("line_id")[list(ROSTER_ATTRIBUTES)].to_dict("index")
        rows = [{**attributes[r["line_id"]], **r} for r in ledger.to_pylist()]
        if len(rows) >= 20:
            assert parts_seen[-1] >= 2, parts_seen  # several Spark part files merged
        for row in rows:
            line = _line(row)
            want = reference_credit(meant, line)
            assert (row["eligible"], row["eligibility_reason"], row["rule"], row["credit_krw"]) == want, line
        tied = [r for r in rows if _tie(meant, _line(r))]
        event(f"half-unit ties: {'some' if tied else 'none'}")
        if ties:
            assert len(tied) >= 4, "a tie example has too few tie lines"
            unit = meant.rounding.unit_krw
            assert all(r["credit_krw"] % unit == 0 and r["credit_krw"] * 2 > 0 for r in tied)
    finally:
        shutil.rmtree(root, ignore_errors=True)


# The roster's plans for the plan exclusion: the excluded ones in the roster's own spellings (NFD, a
# trailing space), others, and lines without a plan (NULL: not excluded).
PLANS = ("5G 슬림", "인터넷 500M", unicodedata.normalize("NFD", "일반전화 기본"), "일반전화 정액 ", "인터넷전화 기본",
         None)


@pytest.mark.slow
@pytest.mark.parametrize("join", [False, True], ids=["lookup", "join"])
def test_engines_agree_on_a_plan_exclusion(session, tmp_path: Path, join: bool) -> None:
    """``exclude_plans`` (kt-2021-10-25-special leaves PSTN out this way): the policies of
    ``everything_case`` leaving two plans out, named in NFC while the roster spells them in NFD or
    with a space. Spark reads the roster's plan column and compares the same spellings: the same
    summary, byte for byte, and the same ledger; every line is the reference's (an excluded line:
    not eligible, ``plan_not_covered``, 0 won, whatever override would match it)."""
    case = everything_case(join)
    doc = {**case["policy_doc"], "exclude_plans": ["일반전화 기본", "일반전화 정액"]}
    frame = roster_frame(case["seed"], case["n"])
    frame["plan"] = np.random.default_rng(case["seed"]).choice(np.array(PLANS, dtype=object), len(frame))
    incident, a, b, _keeps_order = run_both(tmp_path, doc, case["windows"], frame, session, case["threads"])
    meant = policy_from_doc(doc)
    assert meant.exclude_plans == ("일반전화 기본", "일반전화 정액")
    assert replace(incident.policy, path="", sha256="") == meant
    ledger = check_agree(a, b)
    attributes = frame.set_index("line_id")[[*ROSTER_ATTRIBUTES, "plan"]].to_dict("index")
    rows = [{**attributes[r["line_id"]], **r} for r in ledger.to_pylist()]
    for row in rows:
        line = _line(row)
        assert (row["eligible"], row["eligibility_reason"], row["rule"], row["credit_krw"]) == \
            reference_credit(meant, line), line
    excluded = [r for r in rows if r["eligibility_reason"] == "plan_not_covered"]
    assert len(excluded) >= 20 and all(r["credit_krw"] == 0 and r["rule"] == "not_covered" for r in excluded)
    assert {r["plan"] for r in excluded} == {PLANS[2], PLANS[3]}
    assert any(not isinstance(r["plan"], str) and r["credit_krw"] > 0 for r in rows)  # no plan: paid
    summary = json.loads((a / "summary.json").read_text(encoding="utf-8"))
    assert summary["eligible_lines"] == sum(r["eligible"] for r in rows) < summary["affected_lines"]


@pytest.mark.slow
def test_spark_ledger_bytes_do_not_depend_on_partitions(session, tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    """The same inputs give the same ledger bytes whether Spark writes one part file or many, and
    whatever its shuffle partitions: merge_parts regroups the rows, it does not keep Spark's cuts."""
    doc = tie_case(10, 720)
    frame = roster_frame(7, 400)
    first, *_ = run_both(tmp_path / "a", doc["policy_doc"], doc["windows"], frame, session, 2)
    monkeypatch.setattr(spark_engine, "LINES_PER_PART", 10**9)  # one part
    session.conf.set("spark.sql.shuffle.partitions", "1")
    try:
        analyse(first, tmp_path / "one-part", engine="spark", spark=session)
    finally:
        session.conf.set("spark.sql.shuffle.partitions", "3")
    for name in ("ledger.parquet", "summary.json"):
        assert (tmp_path / "a" / "spark" / name).read_bytes() == (tmp_path / "one-part" / name).read_bytes(), name


# ------------------------------------------------------------------------------------------------
# int64: a total that overflows, and an overflow inside the per-line pass (ANSI mode)
# ------------------------------------------------------------------------------------------------
# Every part of a credit at its cap, over the shortest month the language allows (24 hours), and an
# override that adds the same again: one line's credit is ~3.7e14 won (its products stay ~9 times
# below int64), so ~25,000 lines out 50 years overflow a total; 1.5M lines are not needed.
MAX_RULE = ("outage_multiplier: 100\n  billable_time: {unit_minutes: 10080, mode: up, applies_to: multiplied}\n"
            "  flat_days_of_fee: 366\n  months_of_fee: 12\n  tiers_by_outage_days: [{from_days: 0, krw: 10000000000}]")
MAX_POLICY = f"""\
id: max-daily
title: 시험용 — 하루 기준 최대 보상
services: [mobile]
hourly_fee: {{hours_per_month: 24}}
credit:
  {MAX_RULE}
  rounding: {{unit_krw: 1, mode: half_up}}
  overrides:
    - when: {{services: [mobile]}}
      combine: add
      {MAX_RULE.replace(chr(10), chr(10) + '    ')}
"""
FIFTY_YEARS = (datetime(2000, 1, 1), datetime(2049, 12, 31, 23, 59))


def max_project(root: Path, lines: int) -> Path:
    (root / "data" / "policies").mkdir(parents=True)
    (root / "data" / "policies" / "max-daily.yml").write_text(MAX_POLICY, encoding="utf-8")
    ids = pa.array(range(1, lines + 1), pa.int64())

    def same(value: object, kind: pa.DataType) -> pa.Array:
        return pa.array([value] * lines, kind)

    pq.write_table(pa.table({
        "line_id": ids, "customer_id": ids, "service": same("mobile", pa.string()),
        "monthly_fee_krw": same(100_000_000, pa.int64()), "region": same("서울", pa.string()),
        "facility_id": same("F1", pa.string()), "customer_type": same("individual", pa.string()),
        "payment_method": same("credit_card", pa.string()), "bill_cycle_day": same(11, pa.int64()),
    }), root / "roster.parquet", row_group_size=5_000)
    rows, start = ["facility_id,service,start,end"], FIFTY_YEARS[0]
    while start < FIFTY_YEARS[1]:
        end = min(start + timedelta(days=92), FIFTY_YEARS[1])
        rows.append(f"F1,,{start:%Y-%m-%dT%H:%M},{end:%Y-%m-%dT%H:%M}")
        start = end
    (root / "windows.csv").write_text("\n".join(rows) + "\n", encoding="utf-8")
    path = root / "incident.yml"
    path.write_text("id: max-daily\ntitle: 시험용 최대 보상\nkind: outage\ntimezone: Asia/Seoul\npolicy: max-daily\n"
                    "roster: roster.parquet\naffected:\n  windows_file: windows.csv\n", encoding="utf-8")
    return path


def _max_credit() -> int:
    from kt_analysis.inputs.policy import load_policy

    folder = Path(tempfile.mkdtemp())
    try:
        (folder / "p.yml").write_text(MAX_POLICY, encoding="utf-8")
        policy = load_policy(folder / "p.yml")
    finally:
        shutil.rmtree(folder)
    minutes = int((FIFTY_YEARS[1] - FIFTY_YEARS[0]).total_seconds()) // 60
    line = {"service": "mobile", "customer_type": "individual", "region": "서울", "monthly_fee_krw": 100_000_000,
            "outage_minutes": minutes, "longest_continuous_minutes": minutes, "monthly_cumulative_minutes": 44_640,
            "outage_days": -(-minutes // 1440), "days_in_month": 31}
    eligible, _reason, rule, credit = reference_credit(policy, line)
    assert eligible and rule == "override 1"
    return credit


@pytest.mark.slow
def test_a_total_beyond_int64_is_refused_on_spark_as_on_duckdb(session, tmp_path: Path,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(spark_engine, "LINES_PER_PART", 10_000)  # ~25k lines: 2 parts, not 390
    monkeypatch.setattr(spark_engine, "ROW_GROUP", 4_096)
    credit = _max_credit()
    fits = INT64_MAX // credit
    assert 20_000 < fits < 30_000  # ~25k lines, not 1.5M
    assert 2 * credit * 1440 * 8 < INT64_MAX  # half_up's 2 × numerator of one line: far inside int64
    # The largest roster that fits: exact to the won on both engines.
    ok = max_project(tmp_path / "fits", fits)
    for engine in ("duckdb", "spark"):
        summary = analyse(load_incident(ok), tmp_path / "fits" / engine, engine=engine, spark=session).to_dict()
        assert summary["total_credit_krw"] == fits * credit, engine
    assert (tmp_path / "fits" / "duckdb" / "summary.json").read_bytes() == \
        (tmp_path / "fits" / "spark" / "summary.json").read_bytes()
    # One line more: the same InputError (exit 2) on both, nothing published.
    over = max_project(tmp_path / "over", fits + 1)
    messages = []
    for engine in ("duckdb", "spark"):
        with pytest.raises(InputError) as info:
            analyse(load_incident(over), tmp_path / "over" / engine, engine=engine, spark=session)
        messages.append(str(info.value))
        assert "overflows int64" in info.value.message and info.value.fix, info.value
        assert not (tmp_path / "over" / engine / "summary.json").exists()
    assert messages[0] == messages[1]


@pytest.mark.slow
@pytest.mark.parametrize("engine", ["duckdb", "spark"])
def test_an_int64_overflow_in_the_per_line_pass_is_an_input_error(session, tmp_path: Path, engine: str,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """No policy the language accepts overflows one line's credit, so the per-line SQL is made to
    (× 2^62): Spark in ANSI mode must stop with the InputError DuckDB gives, not wrap around."""
    from kt_analysis.rules import credits
    from kt_analysis.rules.sqlexpr import bigint, times

    def overflowing(policy: Any) -> credits.PolicyRules:
        p = credits.compile_policy(policy)
        return replace(p, credit_krw=times(p.credit_krw, bigint(4611686018427387904)))

    monkeypatch.setattr(spark_engine if engine == "spark" else duckdb_engine, "compile_policy", overflowing)
    path = max_project(tmp_path, 50)
    with pytest.raises(InputError) as info:
        analyse(load_incident(path), tmp_path / "out", engine=engine, spark=session)
    assert "overflows 64-bit integers" in info.value.message and info.value.fix, info.value
    assert not (tmp_path / "out" / "summary.json").exists()


@pytest.mark.slow
@pytest.mark.parametrize("without_bill", ["", "  without_bill: roster_fee"])
def test_engines_agree_on_credits_computed_on_bills(session, tmp_path: Path, without_bill: str) -> None:
    """A policy on bills (fee_basis): Spark joins the same bill items the same way — the same summary,
    byte for byte, and the same ledger, including a line that falls back to the roster fee."""
    from test_fee_basis_run import ITEMS, _project

    items = ITEMS if not without_bill else "\n".join(r for r in ITEMS.splitlines() if not r.startswith("5,2024-02"))
    project = _project(tmp_path, items=items + "\n", without_bill=without_bill)
    incident = load_incident(project / "incidents" / "bills.yml")
    analyse(incident, tmp_path / "duckdb", engine="duckdb")
    analyse(incident, tmp_path / "spark", engine="spark", spark=session)
    check_agree(tmp_path / "duckdb", tmp_path / "spark")
    summary = (tmp_path / "spark" / "summary.json").read_text(encoding="utf-8")
    assert '"total_credit_krw": 3968' in summary


# ------------------------------------------------------------------------------------------------
# The restoration curve (summary.json restoration_curve): the same SQL on both engines
# ------------------------------------------------------------------------------------------------

def restoration_doc(mode: str) -> dict[str, Any]:
    """Thresholds (2 h continuous, > 6 h in the month), tiers by days, billable hours rounded up,
    an override of its own threshold, and a rounding to 10 won ``mode``."""
    return {"id": "agree", "title": "복구 시각별", "services": list(SERVICES),
            "eligibility": {"min_continuous_minutes": 120, "min_monthly_cumulative_minutes": 360,
                            "monthly_cumulative_exceeds": True},
            "hourly_fee": {"hours_per_month": "days_in_month"},
            "credit": {"outage_multiplier": 10,
                       "billable_time": {"unit_minutes": 60, "mode": "up", "applies_to": "outage"},
                       "tiers_by_outage_days": [{"from_days": 1, "krw": 1000}, {"from_days": 2, "krw": 5000}],
                       "overrides": [{"when": {"customer_type": ["small_business"]},
                                      "eligibility": {"min_continuous_minutes": 30}, "outage_multiplier": 3}],
                       "rounding": {"unit_krw": 10, "mode": mode}}}


@pytest.mark.slow
@pytest.mark.parametrize(("mode", "join"), [("half_up", False), ("ceil", True)], ids=["half_up-lookup", "ceil-join"])
def test_engines_agree_on_the_restoration_curve(session, tmp_path: Path, mode: str, join: bool) -> None:
    """Both engines compute the curve by the same SQL: byte-identical summaries (with the curve), over
    several Spark partitions; the point at the actual span is the summary's totals; cutting and
    extending the windows (several per line, across a month end) move it."""
    if join:  # one window per facility, the last still open at the end of February 2024
        start = datetime(2024, 2, 28, 20, 0)
        windows = [{"start": _at(start + timedelta(minutes=5 * i)),
                    "end": _at(start + timedelta(minutes=5 * i + 40 + 29 * i)), "where": {"facilities": [f]}}
                   for i, f in enumerate(FACILITIES)]
    else:
        windows = [{"start": "2023-12-31T22:10", "end": "2024-01-01T01:55", "where": {"regions": ["서울", "R'1"]}},
                   {"start": "2024-01-01T00:30", "end": "2024-01-01T02:29", "where": "all",
                    "services": ["mobile", "iptv"]},
                   {"start": "2024-01-01T03:00", "end": "2024-01-01T03:50", "where": {"regions": ["부산"]}}]
    frame = roster_frame(11 + join, 300)
    _incident, a, b, keeps_order = run_both(tmp_path, restoration_doc(mode), windows, frame, session, 2)
    assert keeps_order is not join
    check_agree(a, b)
    summary = json.loads((b / "summary.json").read_text(encoding="utf-8"))
    curve = summary["restoration_curve"]
    actual = curve["actual_minutes"]
    by = {p["minutes"]: (p["eligible_lines"], p["total_credit_krw"]) for p in curve["points"]}
    assert by[actual] == (summary["eligible_lines"], summary["total_credit_krw"])
    assert by[0] == (0, 0) and 0 < by[actual][1] < by[2 * actual][1]
    assert {t["label"] for t in curve["thresholds"]} >= {"연속 2시간", "연속 30분", "월 누적 6시간 초과"}
    assert len({k for _, k in by.values()}) > 10
