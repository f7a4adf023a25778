"""Claims paid on request: the claims file's loader and its refusals, a policy's ``claims:`` section,
each decision on a hand-made frame, the schedule on the real Korean business-day calendar, the
business registration number check, the forecast calibrated to the Ahyeon figures, and the
synthetic generator."""

from __future__ import annotations

import hashlib
from datetime import UTC, date, datetime
from fractions import Fraction
from pathlib import Path
from types import SimpleNamespace
from typing import Any, cast

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from conftest import write

from kt_analysis.errors import InputError, InputErrors, shown
from kt_analysis.inputs.business_days import calendar_for
from kt_analysis.inputs.claims import (
    CLAIMS,
    COLUMNS,
    ClaimRules,
    UptakeScenario,
    mask_registration_number,
    open_claims,
    registration_check_digit,
    registration_number_problem,
)
from kt_analysis.inputs.incident import Incident, Window
from kt_analysis.inputs.policy import Tier, load_policy
from kt_analysis.inputs.synthetic import generate_roster
from kt_analysis.inputs.synthetic_claims import DAYS_CLAIMED, NO_DAYS_SHARE, generate_claims
from kt_analysis.rules.claims import (
    AHYEON_CLAIMS,
    AHYEON_PAID,
    AHYEON_RULES,
    DAILY_COLUMNS,
    DECISIONS,
    SCENARIOS,
    checked_days,
    claimed_tiers,
    claims_by_day,
    decide_claims,
    forecast_uptake,
    settle_claims,
    split_exactly,
    tier_krw,
    uptake_scenario,
)
from kt_analysis.rules.impact import incident_span_days

ROOT = Path(__file__).resolve().parents[1]
CAL = calendar_for(ROOT)
HEADER = ",".join(COLUMNS)
GOOD = [
    "C-1,1,2019-03-22 10:05,call_centre,credit,,,,",
    "C-2,2,2019-03-22T10:06:30,web,consolation,400000,,true,4",
    "C-3,3,2019-03-21T16:30:00Z,app,reclassification,,124-81-00998,0,",
    "C-4,4,2019-03-23 11:00+09:00,shop,credit,5000,,false,",
]


# ---- the loader ---------------------------------------------------------------------------------


def _csv(tmp_path: Path, rows: list[str] | None = None, header: str = HEADER, name: str = "claims.csv") -> Path:
    path = tmp_path / name
    path.write_text(header + "\n" + "\n".join(GOOD if rows is None else rows) + "\n", encoding="utf-8")
    return path


def _with(index: int, column: str, value: str) -> list[str]:
    """GOOD with one cell changed (row ``index`` is on CSV line ``index + 2``)."""
    rows = [r.split(",") for r in GOOD]
    rows[index][COLUMNS.index(column)] = value
    return [",".join(r) for r in rows]


def _refused(path: Path, tz: str = "Asia/Seoul") -> list[InputError]:
    with pytest.raises(InputError) as err:
        open_claims(path, tz)
    assert err.value.exit_code == 2
    return err.value.errors if isinstance(err.value, InputErrors) else [err.value]


def _one(path: Path, where: str, tz: str = "Asia/Seoul") -> InputError:
    found = [e for e in _refused(path, tz) if e.where == where]
    assert len(found) == 1, [e.message for e in _refused(path, tz)]
    error = found[0]
    assert error.path == str(path) and error.fix and " — " in error.message
    assert error.message.startswith(str(path) + ": " + where)
    return error


def test_a_good_csv_is_typed_with_instants_and_local_days(tmp_path: Path) -> None:
    path = _csv(tmp_path)
    claims = open_claims(path, "Asia/Seoul")
    assert claims.rows == 4 and claims.table.schema.equals(CLAIMS)
    assert claims.kinds == {"consolation": 1, "credit": 2, "reclassification": 1}
    assert claims.channels == {"app": 1, "call_centre": 1, "shop": 1, "web": 1}
    assert claims.sha256 == hashlib.sha256(path.read_bytes()).hexdigest() and claims.timezone == "Asia/Seoul"
    df = claims.frame()
    assert df["line_id"].dtype == np.int64 and str(df["amount_claimed_krw"].dtype) == "Int64"
    # local 10:05 in Seoul is 01:05 UTC; 16:30 UTC on the 21st is the 22nd in Seoul
    assert df.loc[0, "received_at"] == pd.Timestamp("2019-03-22 01:05", tz="UTC")
    assert df.loc[2, "received_at"] == pd.Timestamp("2019-03-21 16:30", tz="UTC")
    assert list(df["received_on"]) == [date(2019, 3, 22)] * 3 + [date(2019, 3, 23)]
    assert list(df["wants_cash"]) == [False, True, False, False]
    assert df["amount_claimed_krw"].isna().tolist() == [True, False, True, False]
    assert df.loc[3, "amount_claimed_krw"] == 5000
    assert df.loc[2, "business_registration_no"] == "124-81-00998"
    assert str(df["days_claimed"].dtype) == "Int64" and df["days_claimed"].isna().tolist() == [True, False, True, True]
    assert df.loc[1, "days_claimed"] == 4


def test_the_zone_reads_local_times(tmp_path: Path) -> None:
    df = open_claims(_csv(tmp_path), "UTC").frame()
    assert df.loc[0, "received_at"] == pd.Timestamp("2019-03-22 10:05", tz="UTC")
    assert df.loc[2, "received_on"] == date(2019, 3, 21)  # an offset names the instant in any zone


def test_optional_columns_may_be_left_out_and_registered_on_duckdb(tmp_path: Path) -> None:
    rows = [",".join(r.split(",")[:5]) for r in GOOD]
    claims = open_claims(_csv(tmp_path, rows, header=",".join(COLUMNS[:5])), "Asia/Seoul")
    df = claims.frame()
    assert not df["wants_cash"].any() and df["amount_claimed_krw"].isna().all() and df["days_claimed"].isna().all()
    con = duckdb.connect()
    relation = claims.register(con, "my claims")
    assert con.execute(f"SELECT count(*), sum(line_id) FROM {relation}").fetchone() == (4, 10)


@pytest.mark.parametrize(("index", "column", "value", "what"), [
    (1, "claim_id", "", "empty"),
    (2, "line_id", "12a", "not whole numbers"),
    (0, "line_id", "99999999999999999999", "too large"),
    (1, "received_at", "22/03/2019 10:05", "not a date and time"),
    (2, "received_at", "2019-02-30 10:05", "not a date and time"),
    (3, "received_at", "2091-03-22 10:05", "outside the years"),
    (0, "received_at", "", "empty"),
    (1, "channel", "", "empty"),
    (1, "kind", "", "empty"),
    (3, "amount_claimed_krw", "12000원", "not whole numbers"),
    (3, "amount_claimed_krw", "-5", "negative"),
    (3, "amount_claimed_krw", "100000000000001", "too large"),
    (0, "wants_cash", "yes", "not true or false"),
    (1, "days_claimed", "4일", "not whole numbers"),
    (1, "days_claimed", "2.5", "not whole numbers"),
    (1, "days_claimed", "0", "below 1"),
    (3, "days_claimed", "-2", "below 1"),
    (1, "days_claimed", "3651", "too large"),
])
def test_a_bad_value_is_named_with_its_line_and_the_fix(tmp_path: Path, index: int, column: str, value: str,
                                                         what: str) -> None:
    error = _one(_csv(tmp_path, _with(index, column, value)), f"column {column}")
    assert f"1 value(s) are {what}" in error.problem
    assert f"line {index + 2}" in error.problem
    if value:
        assert shown(value) in error.problem


@pytest.mark.parametrize(("column", "value", "hint"), [
    ("channel", "Web", "`web`"),
    ("channel", "콜센터", "`call_centre`"),
    ("channel", "홈페이지", "`web`"),
    ("channel", "call_center", "`call_centre`"),
    ("kind", "위로금", "`consolation`"),
    ("kind", "소상공인 재분류", "`reclassification`"),
    ("kind", "credits", "`credit`"),
])
def test_an_unknown_code_is_named_with_the_closest(tmp_path: Path, column: str, value: str, hint: str) -> None:
    error = _one(_csv(tmp_path, _with(1, column, value)), f"column {column}")
    assert f"not {column} codes: line 3 ({shown(value)})" in error.problem
    assert f"did you mean {hint}" in error.fix and "exactly (lower case)" in error.fix


def test_a_repeated_claim_id_is_named_with_its_lines(tmp_path: Path) -> None:
    error = _one(_csv(tmp_path, _with(3, "claim_id", "C-1")), "column claim_id")
    assert "written more than once: 'C-1' (line 2, line 5)" in error.problem
    assert "its own claim_id" in error.fix


def test_a_time_the_clocks_skip_is_refused_in_a_zone_with_daylight_saving(tmp_path: Path) -> None:
    error = _one(_csv(tmp_path, _with(0, "received_at", "2019-03-10 02:30")), "column received_at",
                 tz="America/New_York")
    assert "do not exist or happen twice in America/New_York" in error.problem and "line 2" in error.problem
    assert "offset" in error.fix


def test_every_problem_is_reported_at_once(tmp_path: Path) -> None:
    rows = _with(0, "channel", "fax")
    rows[2] = rows[2].replace("2019-03-21T16:30:00Z", "soon")
    problems = _refused(_csv(tmp_path, rows))
    assert [e.where for e in problems] == ["column received_at", "column channel"]


def test_a_missing_column_is_named_with_the_shape(tmp_path: Path) -> None:
    rows = [",".join(c for i, c in enumerate(r.split(",")) if i != 4) for r in GOOD]
    header = ",".join(c for c in COLUMNS if c != "kind")
    error = _one(_csv(tmp_path, rows, header=header), "header (line 1)")
    assert "missing kind" in error.problem and "claim_id, line_id, received_at, channel and kind" in error.fix


@pytest.mark.parametrize(("content", "where", "words"), [
    (b"", "", "claims file is empty"),
    (HEADER.encode() + b"\n", "", "holds a header but no claims"),
    (HEADER.replace(",", ";").encode() + b"\nC-1;1;2019-03-22 10:05;web;credit;;;\n", "line 1", "separated by ';'"),
    ((HEADER + "\nC-1,1,2019-03-22 10:05,콜센터,credit,,,\n").encode("cp949"), "", "not UTF-8"),
    ((HEADER + "\nC-1,1,2019-03-22 10:05,web,credit,12,000,,,\n").encode(), "", "line 2 (10 values"),
    ((HEADER + ",kind\n").encode(), "header (line 1)", "names kind more than once"),
])
def test_a_file_that_is_not_a_claims_csv_is_refused(tmp_path: Path, content: bytes, where: str, words: str) -> None:
    path = tmp_path / "claims.csv"
    path.write_bytes(content)
    error = _one(path, where)
    assert words in error.problem


def _parquet(path: Path, **change: pa.Array) -> Path:
    df = pd.DataFrame([r.split(",") for r in GOOD], columns=list(COLUMNS)).replace("", None)
    table = pa.table({
        "claim_id": pa.array(df["claim_id"], pa.string()),
        "line_id": pa.array(df["line_id"].astype("int64")),
        "received_at": pa.array(df["received_at"], pa.string()),
        "channel": pa.array(df["channel"], pa.string()),
        "kind": pa.array(df["kind"], pa.string()),
        "amount_claimed_krw": pa.array([None, 400000, None, 5000], pa.int64()),
        "business_registration_no": pa.array(df["business_registration_no"], pa.string()),
        "wants_cash": pa.array([None, True, False, False], pa.bool_()),
        "days_claimed": pa.array([None, 4, None, None], pa.int64()),
    })
    for name, values in change.items():
        table = table.set_column(table.column_names.index(name), name, values)
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(table, path)
    return path


def test_parquet_reads_as_the_csv(tmp_path: Path) -> None:
    from_csv = open_claims(_csv(tmp_path), "Asia/Seoul").frame()
    from_parquet = open_claims(_parquet(tmp_path / "claims.parquet"), "Asia/Seoul").frame()
    pd.testing.assert_frame_equal(from_csv, from_parquet)


def test_parquet_timestamps_are_instants_or_local_times(tmp_path: Path) -> None:
    utc = pa.array([datetime(2019, 3, 22, 1, 5, tzinfo=UTC)] * 4, pa.timestamp("ns", tz="UTC"))
    naive = pa.array([datetime(2019, 3, 22, 10, 5)] * 4, pa.timestamp("ms"))
    a = open_claims(_parquet(tmp_path / "a.parquet", received_at=utc), "Asia/Seoul").frame()
    b = open_claims(_parquet(tmp_path / "b.parquet", received_at=naive), "Asia/Seoul").frame()
    assert (a["received_at"] == pd.Timestamp("2019-03-22 01:05", tz="UTC")).all()
    assert (a["received_at"] == b["received_at"]).all() and set(b["received_on"]) == {date(2019, 3, 22)}


def test_a_parquet_column_of_the_wrong_type_is_named(tmp_path: Path) -> None:
    path = _parquet(tmp_path / "claims.parquet", line_id=pa.array([1.0, 2.5, 3.0, 4.0]))
    error = _one(path, "column line_id")
    assert "is double, not whole numbers" in error.problem and "integer column" in error.fix


def test_days_claimed_is_refused_with_the_fix_and_read_from_parquet_as_whole_days(tmp_path: Path) -> None:
    """A bad days_claimed names the column, the line with its value and the fix; every bad row is
    named at once; a Parquet column of days must be whole numbers."""
    rows = _with(1, "days_claimed", "3일")
    rows[3] = rows[3].removesuffix(",") + ",0"
    problems = [e for e in _refused(_csv(tmp_path, rows)) if e.where == "column days_claimed"]
    assert [p.problem.split(":")[0] for p in problems] == ["1 value(s) are not whole numbers", "1 value(s) are below 1"]
    assert "line 3 ('3일')" in problems[0].problem and "digits only, e.g. 4" in problems[0].fix
    assert "line 5 ('0')" in problems[1].problem and "at least 1 day" in problems[1].fix
    path = _parquet(tmp_path / "days.parquet", days_claimed=pa.array([1.0, 2.5, None, None]))
    error = _one(path, "column days_claimed")
    assert "is double, not whole numbers" in error.problem and "integer column" in error.fix
    path = _parquet(tmp_path / "ok.parquet", days_claimed=pa.array([None, 12, 1, None], pa.int32()))
    assert open_claims(path, "Asia/Seoul").frame()["days_claimed"].tolist() == [pd.NA, 12, 1, pd.NA]


def test_a_parquet_folder_names_the_file_and_row(tmp_path: Path) -> None:
    _parquet(tmp_path / "claims" / "a.parquet")
    bad = pa.array(["C-5", "C-6", "C-7", "C-8"])
    _parquet(tmp_path / "claims" / "b.parquet", claim_id=bad, kind=pa.array(["credit", "x", "credit", "credit"]))
    error = _one(tmp_path / "claims", "column kind")
    assert "b.parquet row 2 ('x')" in error.problem


def test_an_unknown_time_zone_is_refused(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="not a known time zone"):
        open_claims(_csv(tmp_path), "Asia/Sеoul")  # a Cyrillic е


# ---- the policy's claims section ----------------------------------------------------------------

POLICY = """
id: claims-policy
title: 신청 보상
sources: [https://example.org/terms]
services: [internet]
credit:
  tiers_by_outage_days: [{from_days: 1, krw: 400000}]
delivery:
  method: cash_on_request
  claim_required: true
claims:
  opens_on: "2019-03-22"
  window_days: 42
  processing_business_days: 19
  daily_capacity: 159
  credit_route: cash
  cash_business_days: 2
  reclassification_evidence: business_registration_no
  uptake:
    central: {share: 0.135, half_life_days: 7, days: 44}
    steady: {share: 1, daily_shares: [3, 2, 1]}
"""


def test_the_claims_section_is_read_and_described(tmp_path: Path) -> None:
    policy = load_policy(write(tmp_path / "p.yml", POLICY))
    rules = policy.claims
    assert rules is not None
    assert (rules.opens_on, rules.window_days, rules.processing_business_days, rules.daily_capacity) == \
        (date(2019, 3, 22), 42, 19, 159)
    assert (rules.credit_route, rules.cash_business_days) == ("cash", 2)
    central, steady = rules.uptake
    assert central == UptakeScenario("central", Fraction(27, 200), half_life_days=Fraction(7), days=44)
    assert steady.daily_shares == (3, 2, 1) and steady.share == 1
    assert uptake_scenario("central", rules) is central and uptake_scenario("high", rules) is SCENARIOS["high"]
    assert rules.last_day() == date(2019, 5, 2)
    sentence = policy.describe()[-1]
    assert sentence.startswith("신청: 2019-03-22부터 42일, 접수 후 영업일 19일 이후 하루 159건씩 접수 순으로 처리")
    assert "승인 후 영업일 2일에 현금 지급" in sentence


def test_a_policy_without_claims_has_none(tmp_path: Path) -> None:
    text = POLICY[:POLICY.index("claims:")]
    policy = load_policy(write(tmp_path / "p.yml", text))
    assert policy.claims is None and not any(line.startswith("신청:") for line in policy.describe())


def test_the_window_defaults_to_the_incident_s_first_day(tmp_path: Path) -> None:
    text = POLICY.replace('  opens_on: "2019-03-22"\n', "")
    rules = load_policy(write(tmp_path / "p.yml", text)).claims
    assert rules is not None and rules.opens_on is None
    assert rules.opening(date(2018, 11, 24)) == date(2018, 11, 24)
    assert rules.last_day(date(2018, 11, 24)) == date(2019, 1, 4)
    with pytest.raises(ValueError, match="first day"):
        rules.opening()


@pytest.mark.parametrize(("old", "new", "key", "words"), [
    ("  window_days: 42\n", "", "claims.window_days", "is missing"),
    ("window_days: 42", "window_days: 0", "claims.window_days", "below the minimum 1"),
    ("daily_capacity: 159", "daily_capacity: 0", "claims.daily_capacity", "below the minimum 1"),
    ("daily_capacity: 159", "daily_capacity: 15.9", "claims.daily_capacity", "must be a whole number"),
    ("processing_business_days: 19", "processing_business_days: -1", "claims.processing_business_days",
     "below the minimum 0"),
    ("credit_route: cash", "credit_route: bank", "claims.credit_route", "not one of next_bill, cash"),
    ("reclassification_evidence: business_registration_no", "reclassification_evidence: phone_call",
     "claims.reclassification_evidence", "not one of business_registration_no"),
    ('opens_on: "2019-03-22"', "opens_on: March 22", "claims.opens_on", "is not a day"),
    ('opens_on: "2019-03-22"', 'opens_on: "2019-02-30"', "claims.opens_on", "is not a day"),
    ('opens_on: "2019-03-22"', 'opens_on: "2091-03-22"', "claims.opens_on", "outside the years"),
    ("  cash_business_days: 2\n", "  cash_business_days: 2\n  cash_days: 2\n", "claims.cash_days",
     "not a known key"),
    ("share: 0.135", "share: 1.5", "claims.uptake.central.share", "not above 0 and at most 1"),
    ("share: 0.135", "share: '0.5'", "claims.uptake.central.share", "must be a number"),
    ("share: 0.135", "share: .nan", "claims.uptake.central.share", "must be a number"),
    ("half_life_days: 7, days: 44", "half_life_days: 7, daily_shares: [1]", "claims.uptake.central.half_life_days",
     "not both"),
    ("half_life_days: 7, days: 44", "days: 44", "claims.uptake.central.half_life_days", "not neither"),
    ("half_life_days: 7", "half_life_days: 0", "claims.uptake.central.half_life_days", "not above 0"),
    ("daily_shares: [3, 2, 1]", "daily_shares: [3, -2, 1]", "claims.uptake.steady.daily_shares", "negative"),
    ("daily_shares: [3, 2, 1]", "daily_shares: [3, 2, 1], days: 3", "claims.uptake.steady.days",
     "given with daily_shares"),
    ("daily_shares: [3, 2, 1]", "daily_shares: " + str([0] * 42 + [1]), "claims.uptake.steady.daily_shares",
     "puts every claim after the claim window: its first 42 weights"),
    ("    central:", "    Central!:", "claims.uptake.Central!", "not a scenario name"),
    ("claim_required: true", "claim_required: true\n  claim_window_days: 30", "claims.window_days",
     "delivery.claim_window_days is 30"),
])
def test_a_bad_claims_section_is_refused_with_the_key_and_fix(tmp_path: Path, old: str, new: str, key: str,
                                                              words: str) -> None:
    assert old in POLICY
    path = write(tmp_path / "p.yml", POLICY.replace(old, new))
    with pytest.raises(InputError) as err:
        load_policy(path)
    assert err.value.path == str(path) and err.value.where == key, err.value.message
    assert words in err.value.problem and err.value.fix, err.value.message


# ---- registration numbers -----------------------------------------------------------------------


@pytest.mark.parametrize("number", ["124-81-00998", "1028142945", "220-81-62517", " 220 81 62517 "])
def test_known_valid_registration_numbers_pass(number: str) -> None:
    assert registration_number_problem(number) is None


@pytest.mark.parametrize(("number", "problem"), [
    ("124-81-00997", "check digit wrong"),
    ("102-81-42940", "check digit wrong"),
    ("220-81-62571", "check digit wrong"),  # two digits swapped
    ("124-81-0099", "not 10 digits"),
    ("124-81-009988", "not 10 digits"),
    ("12A-81-00998", "not 10 digits"),
    ("１２４-81-00998", "not 10 digits"),  # full-width digits
    ("", "missing"),
    (None, "missing"),
])
def test_bad_registration_numbers_are_named(number: str | None, problem: str) -> None:
    assert registration_number_problem(number) == problem


def test_the_check_digit_uses_the_ninth_digit_times_five() -> None:
    # 9th digit 9: 9 × 5 // 10 = 4 is added (without it the check digit of 124-81-0099? would be 2)
    assert registration_check_digit("124810099") == 8
    assert registration_check_digit("000000000") == 0
    assert registration_check_digit("000000002") == (10 - (2 * 5 + 1)) % 10
    assert mask_registration_number("124-81-00998") == "***-**-*0998"


# ---- tiers by the days claimed: the policy key ---------------------------------------------------

DAYS_POLICY = """
id: days-policy
title: 신청 일수별 위로금
sources: [https://example.org/terms]
services: [internet]
credit:
  months_of_fee: 1
  overrides:
    - when: {customer_type: small_business, services: [internet]}
      combine: add
      paid_on_claim: true
      days_from: claim
      tiers_by_outage_days:
        - {from_days: 1, krw: 400000}
        - {from_days: 3, krw: 800000}
claims:
  window_days: 42
"""


def test_days_from_claim_is_read_and_described(tmp_path: Path) -> None:
    policy = load_policy(write(tmp_path / "p.yml", DAYS_POLICY))
    (override,) = policy.overrides
    assert override.credit.days_from == "claim" and override.paid_on_claim
    sentence = next(line for line in policy.describe() if line.startswith("고객 유형 소상공인"))
    assert "신청서에 적은 서비스 복구 기간(일)별 정액 (1일 이상 400,000원, 3일 이상 800,000원;" in sentence
    assert "장애 전체 기간보다 긴 신청은 장애 전체 기간으로 인정" in sentence
    assert "일수를 적지 않은 신청은 회선의 장애 일수로" in sentence
    default = load_policy(write(tmp_path / "q.yml", DAYS_POLICY.replace("      days_from: claim\n", "")))
    assert default.overrides[0].credit.days_from == "outage"
    assert "장애 일수별 정액 (1일 이상 400,000원" in " ".join(default.describe())
    written = load_policy(write(tmp_path / "r.yml", DAYS_POLICY.replace("days_from: claim", "days_from: outage")))
    assert written.overrides[0].credit == default.overrides[0].credit


@pytest.mark.parametrize(("old", "new", "key", "words"), [
    ("days_from: claim", "days_from: claims", "credit.overrides[0].days_from", "not one of outage, claim"),
    ("days_from: claim", "days_from: 7", "credit.overrides[0].days_from", "is '7', not one of outage, claim"),
    ("days_from: claim", "days_from: ' '", "credit.overrides[0].days_from", "must be text"),
    ("      paid_on_claim: true\n", "", "credit.overrides[0].days_from", "not paid on claim"),
    ("paid_on_claim: true", "paid_on_claim: false", "credit.overrides[0].days_from", "not paid on claim"),
    ("  months_of_fee: 1\n", "  months_of_fee: 1\n  days_from: claim\n", "credit.days_from", "not a known key"),
])
def test_a_bad_days_from_is_refused_naming_the_key(tmp_path: Path, old: str, new: str, key: str,
                                                    words: str) -> None:
    assert old in DAYS_POLICY
    path = write(tmp_path / "p.yml", DAYS_POLICY.replace(old, new, 1))
    with pytest.raises(InputError) as err:
        load_policy(path)
    assert err.value.exit_code == 2 and err.value.where == key, err.value.message
    assert words in err.value.problem and err.value.fix


def test_the_incident_span_is_counted_between_instants_in_whole_days() -> None:
    """First start to last end, rounded up to whole days as outage_days is: 2024-03-09 00:00 to
    2024-03-11 00:30 in New York is 47 h 30 min (the clocks skip an hour on 03-10): 2 days, though
    the wall clocks show 48 h 30 min; in Seoul (no daylight saving) the same times are 3 days."""
    def incident(zone: str, *spans: tuple[str, str]) -> Incident:
        windows = [Window(start=datetime.fromisoformat(a), end=datetime.fromisoformat(b)) for a, b in spans]
        return cast(Incident, SimpleNamespace(windows=windows, timezone=zone))

    spans = (("2024-03-09T00:00", "2024-03-09T06:00"), ("2024-03-10T08:00", "2024-03-11T00:30"))
    assert incident_span_days(incident("America/New_York", *spans)) == 2
    assert incident_span_days(incident("Asia/Seoul", *spans)) == 3
    assert incident_span_days(incident("Asia/Seoul", ("2024-03-04T09:00", "2024-03-05T09:00"))) == 1
    assert incident_span_days(incident("Asia/Seoul", ("2024-03-04T09:00", "2024-03-05T09:01"))) == 2
    assert incident_span_days(incident("Asia/Seoul")) == 0


# ---- tiers by the days claimed: the decision ------------------------------------------------------

TIERS = (Tier(1, 400_000), Tier(3, 800_000), Tier(5, 1_000_000), Tier(7, 1_200_000))


def test_tier_and_checked_days_by_hand() -> None:
    assert [tier_krw(TIERS, d) for d in (0, 1, 2, 3, 4, 5, 6, 7, 30)] == \
        [0, 400_000, 400_000, 800_000, 800_000, 1_000_000, 1_000_000, 1_200_000, 1_200_000]
    assert tier_krw((Tier(3, 800_000),), 2) == 0
    assert checked_days(4, 1, 8) == (4, "days_claimed=4, outage_days=1")
    assert checked_days(8, 1, 8) == (8, "days_claimed=8, outage_days=1")
    assert checked_days(9, 1, 8) == (8, "days_claimed=9 accepted as the incident's 8 days, outage_days=1")
    assert checked_days(None, 2, 8) == (2, "days_claimed missing: the line's outage_days=2 counted")
    assert checked_days(40, 1, None) == (40, "days_claimed=40, outage_days=1")


def _consolation(claim_id: str, days_claimed: int | None, **values: Any) -> dict[str, Any]:
    row = claim(claim_id, kind="consolation", customer_type="small_business", consolation_krw=400_000,
                rule="override 1", days_claimed=days_claimed, outage_days=1)
    row.update(values)
    return row


def test_a_consolation_by_the_days_claimed_is_capped_and_falls_back_to_the_outage_days() -> None:
    """The tier of the days claimed (1–2 d 400,000, 3–4 d 800,000, 5–6 d 1,000,000, 7+ d 1,200,000),
    a claim of more days than the incident's 5 accepted at 5, a claim without days on the line's
    outage days; lines under another rule, other kinds and lines not eligible keep their amount."""
    rows = [
        _consolation("C-1", 4, line_id=1),
        _consolation("C-2", 12, line_id=2),  # 12 > 5: accepted as 5 days
        _consolation("C-3", None, line_id=3, outage_days=4),  # no days: the line's 4 outage days
        _consolation("C-4", 1, line_id=4, outage_days=3),  # fewer days than the network's: as claimed
        _consolation("C-5", 7, line_id=5, rule="override 2"),  # another override: its own amount
        _consolation("C-6", 7, line_id=6, eligible=False, consolation_krw=0),
        _consolation("C-7", 7, line_id=7, kind="credit", credit_krw=12_000),
        _consolation("C-8", 5, line_id=8),
    ]
    df = claimed_tiers(frame(*rows).astype({"days_claimed": "Int64", "outage_days": "Int64"}),
                       {"override 1": TIERS}, 5)
    assert df["consolation_krw"].tolist() == [800_000, 1_000_000, 800_000, 400_000, 400_000, 0, 400_000,
                                              1_000_000]
    assert df["consolation_note"].tolist()[:4] == [
        "days_claimed=4, outage_days=1", "days_claimed=12 accepted as the incident's 5 days, outage_days=1",
        "days_claimed missing: the line's outage_days=4 counted", "days_claimed=1, outage_days=3"]
    assert df["consolation_note"].iloc[4:7].isna().all()
    out = decide_claims(df, RULES)
    assert out["decision"].tolist() == ["accepted"] * 5 + ["not_eligible", "accepted", "accepted"]
    assert out["amount_krw"].tolist() == [800_000, 1_000_000, 800_000, 400_000, 400_000, 0, 12_000, 1_000_000]
    assert out.loc[1, "evidence"] == ("consolation_krw=1000000 (customer_type=small_business, days_claimed=12 "
                                      "accepted as the incident's 5 days, outage_days=1)")
    assert out.loc[2, "evidence"] == ("consolation_krw=800000 (customer_type=small_business, days_claimed missing: "
                                      "the line's outage_days=4 counted)")
    assert out.loc[4, "evidence"] == "consolation_krw=400000 (customer_type=small_business, outage_days=1)"
    assert sum(out["amount_krw"].tolist()) == 800_000 + 1_000_000 + 800_000 + 400_000 + 400_000 + 12_000 + 1_000_000


def test_days_claimed_without_the_columns_it_needs_is_refused() -> None:
    with pytest.raises(ValueError, match="lacks rule"):
        claimed_tiers(frame(claim()), {"override 1": TIERS}, 5)
    bad = frame(_consolation("C-1", 0)).astype({"days_claimed": "Int64"})
    with pytest.raises(ValueError, match="1 or more"):
        claimed_tiers(bad, {"override 1": TIERS}, 5)


# ---- decisions ----------------------------------------------------------------------------------

RULES = ClaimRules(window_days=10, opens_on=date(2019, 3, 22), processing_business_days=0, daily_capacity=None)


def claim(claim_id: str = "C-1", **values: Any) -> dict[str, Any]:
    """One claim on an affected, eligible individual line owed 12,000 won (small-business: 412,000)."""
    row = {
        "claim_id": claim_id, "line_id": 1, "received_at": pd.Timestamp("2019-03-22 01:00", tz="UTC"),
        "received_on": date(2019, 3, 22), "kind": "credit", "affected": True, "eligible": True,
        "credit_krw": 12_000, "customer_type": "individual", "service": "internet", "outage_days": 2,
        "consolation_krw": None, "reclassified_krw": 412_000, "business_registration_no": None,
        "wants_cash": False, "amount_claimed_krw": None,
    }
    row.update(values)
    return row


def frame(*rows: dict[str, Any]) -> pd.DataFrame:
    df = pd.DataFrame(list(rows))
    for col in ("credit_krw", "consolation_krw", "reclassified_krw", "amount_claimed_krw"):
        df[col] = df[col].astype("Int64")
    return df


def decided(*rows: dict[str, Any], rules: ClaimRules = RULES) -> pd.DataFrame:
    out = decide_claims(frame(*rows), rules)
    assert list(out["reason"]) == [DECISIONS[c] for c in out["decision"]]
    assert out["amount_krw"].dtype == np.int64
    return out


def test_accepted_credit_pays_the_ledger_s_credit() -> None:
    out = decided(claim(amount_claimed_krw=50_000))
    assert (out.loc[0, "decision"], out.loc[0, "amount_krw"]) == ("accepted", 12_000)
    assert out.loc[0, "evidence"] == ("eligible=true, credit_krw=12000; amount_claimed_krw=50000 "
                                      "(the policy's amount is paid)")


def test_accepted_consolation_pays_the_tier() -> None:
    out = decided(claim(kind="consolation", customer_type="small_business", consolation_krw=400_000))
    assert (out.loc[0, "decision"], out.loc[0, "amount_krw"]) == ("accepted", 400_000)
    assert "consolation_krw=400000" in out.loc[0, "evidence"] and "outage_days=2" in out.loc[0, "evidence"]


def test_duplicate_the_first_received_counts_ties_by_claim_id() -> None:
    at = pd.Timestamp("2019-03-23 02:00", tz="UTC")
    out = decided(claim("C-9", received_at=at, received_on=date(2019, 3, 23)),
                  claim("C-2", received_at=at, received_on=date(2019, 3, 23)),
                  claim("C-5", received_at=at + pd.Timedelta(hours=1), received_on=date(2019, 3, 23)),
                  claim("C-7", kind="consolation", consolation_krw=1))
    assert list(out["decision"]) == ["duplicate", "accepted", "duplicate", "accepted"]
    assert list(out["amount_krw"]) == [0, 12_000, 0, 1]
    assert "already claimed by C-2" in out.loc[0, "evidence"] and "already claimed by C-2" in out.loc[2, "evidence"]


def test_duplicate_of_a_refused_claim_is_a_duplicate() -> None:
    out = decided(claim("C-1", eligible=False, credit_krw=0),
                  claim("C-2", received_at=pd.Timestamp("2019-03-25", tz="UTC"), received_on=date(2019, 3, 25)))
    assert list(out["decision"]) == ["not_eligible", "duplicate"]


def test_outside_window_after_the_last_day() -> None:
    last = date(2019, 3, 31)  # 10 days: 03-22 to 03-31
    out = decided(claim("C-1", received_on=last, received_at=pd.Timestamp("2019-03-31 14:59", tz="UTC")),
                  claim("C-2", line_id=2, received_on=date(2019, 4, 1),
                        received_at=pd.Timestamp("2019-03-31 15:00", tz="UTC")))
    assert list(out["decision"]) == ["accepted", "outside_window"]
    assert out.loc[1, "evidence"].startswith("received_on=2019-04-01 after the window's last day 2019-03-31")


def test_a_claim_before_the_opening_counts_from_the_opening() -> None:
    out = decided(claim(received_on=date(2019, 3, 20), received_at=pd.Timestamp("2019-03-20", tz="UTC")))
    assert out.loc[0, "decision"] == "accepted" and "counted from then" in out.loc[0, "evidence"]


def test_unknown_line_not_in_the_roster() -> None:
    out = decided(claim(line_id=999, customer_type=None, affected=False, eligible=None, credit_krw=None))
    assert out.loc[0, "decision"] == "unknown_line" and out.loc[0, "evidence"] == "line_id=999 not in the roster"
    explicit = decided(claim(in_roster=False))
    assert explicit.loc[0, "decision"] == "unknown_line"


def test_line_not_affected() -> None:
    out = decided(claim(affected=False, eligible=None, credit_krw=None))
    assert (out.loc[0, "decision"], out.loc[0, "amount_krw"]) == ("line_not_affected", 0)


@pytest.mark.parametrize("values", [
    {"eligible": False, "credit_krw": 0},
    {"eligible": True, "credit_krw": 0},
    {"eligible": True, "credit_krw": None},
    {"kind": "consolation", "consolation_krw": None},
    {"kind": "consolation", "consolation_krw": 0},
    {"kind": "reclassification", "business_registration_no": "124-81-00998", "reclassified_krw": 12_000},
    {"kind": "reclassification", "business_registration_no": "124-81-00998", "reclassified_krw": None},
])
def test_not_eligible_when_the_policy_owes_nothing_of_the_kind(values: dict[str, Any]) -> None:
    out = decided(claim(**values))
    assert (out.loc[0, "decision"], out.loc[0, "amount_krw"]) == ("not_eligible", 0)


def test_reclassification_accepted_pays_the_difference() -> None:
    out = decided(claim(kind="reclassification", business_registration_no="220-81-62517"))
    assert (out.loc[0, "decision"], out.loc[0, "amount_krw"]) == ("reclassification_accepted", 400_000)
    assert out.loc[0, "evidence"] == ("business_registration_no=***-**-*2517 valid; reclassified_krw=412000 - "
                                      "credit_krw=12000 = 400000")
    unpaid = decided(claim(kind="reclassification", business_registration_no="2208162517", eligible=False,
                           credit_krw=None))
    assert unpaid.loc[0, "amount_krw"] == 412_000


def test_a_reclassification_by_the_days_claimed_names_the_days_in_its_evidence() -> None:
    """Under ``days_from: claim`` the engine prices ``reclassified_krw`` by the days counted and
    notes them (``consolation_note``, :func:`kt_analysis.engine.claims.claim_lines`): the evidence
    names them as a consolation's does."""
    out = decided(claim(kind="reclassification", business_registration_no="220-81-62517", reclassified_krw=812_000,
                        consolation_note="days_claimed=12 accepted as the incident's 5 days, outage_days=2"))
    assert (out.loc[0, "decision"], out.loc[0, "amount_krw"]) == ("reclassification_accepted", 800_000)
    assert out.loc[0, "evidence"] == ("business_registration_no=***-**-*2517 valid; reclassified_krw=812000 "
                                      "(days_claimed=12 accepted as the incident's 5 days, outage_days=2) - "
                                      "credit_krw=12000 = 800000")


@pytest.mark.parametrize(("values", "evidence"), [
    ({"business_registration_no": "123-45-67890"}, "business_registration_no=***-**-*7890 check digit wrong"),
    ({"business_registration_no": "123-45-678"}, "business_registration_no=***-*5-678 not 10 digits"),
    ({"business_registration_no": None}, "business_registration_no missing"),
    ({"business_registration_no": "124-81-00998", "customer_type": "small_business"},
     "customer_type=small_business: only individual lines are reclassified as small_business"),
    ({"business_registration_no": "124-81-00998", "customer_type": "enterprise"}, "customer_type=enterprise"),
])
def test_reclassification_refused_names_the_evidence(values: dict[str, Any], evidence: str) -> None:
    out = decided(claim(kind="reclassification", **values))
    assert (out.loc[0, "decision"], out.loc[0, "amount_krw"]) == ("reclassification_refused", 0)
    assert out.loc[0, "evidence"].startswith(evidence)
    assert "67890" not in out.loc[0, "evidence"]  # masked but the last four


def test_a_joined_float_column_must_hold_whole_won() -> None:
    df = frame(claim(), claim("C-2", line_id=2))
    df["credit_krw"] = [12_000.0, np.nan]
    out = decide_claims(df, RULES)
    assert list(out["decision"]) == ["accepted", "not_eligible"] and list(out["amount_krw"]) == [12_000, 0]
    df["credit_krw"] = [12_000.5, np.nan]
    with pytest.raises(ValueError, match="not whole won"):
        decide_claims(df, RULES)


def test_a_missing_column_is_named() -> None:
    with pytest.raises(ValueError, match="lacks consolation_krw"):
        decide_claims(frame(claim()).drop(columns="consolation_krw"), RULES)


# ---- the schedule -------------------------------------------------------------------------------


def _at(day: date, hour: int = 1, minute: int = 0) -> dict[str, Any]:
    return {"received_on": day, "received_at": pd.Timestamp(datetime(day.year, day.month, day.day, hour, minute),
                                                            tz="UTC")}


def test_capacity_is_a_most_per_business_day_first_received_first() -> None:
    rules = ClaimRules(window_days=30, opens_on=date(2019, 3, 22), daily_capacity=2)
    rows = [claim(f"C-{i}", line_id=i, **_at(date(2019, 3, 22), minute=10 - i)) for i in range(5)]
    out = settle_claims(frame(*rows), rules, CAL)
    # received in the order C-4, C-3, … (later minutes for lower ids); Friday 03-22, then Monday, Tuesday
    by_id = dict(zip(out["claim_id"], out["decided_on"], strict=True))
    assert [by_id[f"C-{i}"] for i in (4, 3, 2, 1, 0)] == [date(2019, 3, 22)] * 2 + [date(2019, 3, 25)] * 2 + \
        [date(2019, 3, 26)]


def test_the_processing_lag_counts_korean_business_days() -> None:
    rules = ClaimRules(window_days=30, opens_on=date(2019, 9, 2), processing_business_days=1)
    # Chuseok 2019: 09-12 to 09-14; the claim of Wednesday 09-11 is decided on Monday 09-16
    out = settle_claims(frame(claim(**_at(date(2019, 9, 11)))), rules, CAL)
    assert out.loc[0, "ready_on"] == out.loc[0, "decided_on"] == date(2019, 9, 16)
    saturday = settle_claims(frame(claim(**_at(date(2019, 9, 7)))), replace_lag(rules, 0), CAL)
    assert saturday.loc[0, "decided_on"] == date(2019, 9, 9)


def replace_lag(rules: ClaimRules, lag: int) -> ClaimRules:
    from dataclasses import replace
    return replace(rules, processing_business_days=lag)


def test_refused_claims_use_capacity_too() -> None:
    rules = ClaimRules(window_days=30, opens_on=date(2019, 3, 22), daily_capacity=1)
    out = settle_claims(frame(claim("C-1", line_id=999, customer_type=None, **_at(date(2019, 3, 22), 1)),
                              claim("C-2", **_at(date(2019, 3, 22), 2))), rules, CAL)
    assert list(out["decision"]) == ["unknown_line", "accepted"]
    assert list(out["decided_on"]) == [date(2019, 3, 22), date(2019, 3, 25)]


def test_paid_on_the_next_bill_or_in_cash() -> None:
    rules = ClaimRules(window_days=30, opens_on=date(2019, 12, 20), processing_business_days=0,
                       credit_route="next_bill", cash_business_days=3)
    out = settle_claims(frame(claim("C-1", **_at(date(2019, 12, 30))),
                              claim("C-2", line_id=2, wants_cash=True, **_at(date(2019, 12, 30))),
                              claim("C-3", line_id=3, eligible=False, **_at(date(2019, 12, 30)))), rules, CAL)
    assert list(out["decided_on"]) == [date(2019, 12, 30)] * 3
    assert list(out["route"]) == ["next_bill", "cash", None]
    assert list(out["bill_month"]) == ["2020-01", None, None]
    # cash: 3 business days after Monday 12-30: 12-31, (01-01 a holiday), 01-02, 01-03
    assert list(out["paid_on"]) == [date(2020, 1, 1), date(2020, 1, 3), None]
    cash = settle_claims(frame(claim(**_at(date(2019, 12, 30)))), replace_route(rules), CAL)
    assert (cash.loc[0, "route"], cash.loc[0, "paid_on"]) == ("cash", date(2020, 1, 3))


def replace_route(rules: ClaimRules) -> ClaimRules:
    from dataclasses import replace
    return replace(rules, credit_route="cash")


def test_claims_by_day_counts_and_backlog() -> None:
    rules = ClaimRules(window_days=30, opens_on=date(2019, 3, 22), daily_capacity=1, credit_route="cash")
    out = settle_claims(frame(claim("C-1", **_at(date(2019, 3, 22))),
                              claim("C-2", line_id=2, credit_krw=3_000, **_at(date(2019, 3, 23))),
                              claim("C-3", line_id=3, affected=False, **_at(date(2019, 3, 23)))), rules, CAL)
    daily = claims_by_day(out, CAL)
    assert tuple(daily.columns) == DAILY_COLUMNS
    daily = daily.set_index("day")
    assert list(daily.index) == [date(2019, 3, d) for d in range(22, 27)]  # paid on the decision day
    assert list(daily["received"]) == [1, 2, 0, 0, 0]
    assert list(daily["decided"]) == [1, 0, 0, 1, 1]
    assert list(daily["backlog"]) == [0, 2, 2, 1, 0]
    assert list(daily["cumulative_accepted_krw"]) == [12_000] * 3 + [15_000] * 2
    assert list(daily["business_day"]) == [True, False, False, True, True]
    assert daily["paid_krw"].sum() == 15_000 and daily["paid"].sum() == 2
    assert (daily.drop(columns="business_day").dtypes == np.int64).all()


# ---- the forecast -------------------------------------------------------------------------------


def test_the_central_scenario_reproduces_the_ahyeon_figures() -> None:
    daily = forecast_uptake(27_000, 400_000, SCENARIOS["central"], AHYEON_RULES, CAL).set_index("day")
    assert daily["received"].sum() == AHYEON_CLAIMS == daily.loc[date(2019, 5, 4), "cumulative_received"]
    assert daily.loc[date(2019, 5, 5), "received"] == 0
    for day, paid in AHYEON_PAID:
        model = daily.loc[day, "cumulative_paid"]
        assert abs(model - paid) / paid < 0.02, (day, model, paid)
    assert daily["decided"].max() == AHYEON_RULES.daily_capacity
    assert daily.loc[:date(2019, 4, 17), "decided"].sum() == 0  # 19 business days after 03-22: 04-18
    assert daily.loc[date(2019, 4, 18), "decided"] == 159
    assert daily["paid_krw"].sum() == 13_500 * 400_000


def test_forecast_costs_per_line_add_up_exactly() -> None:
    amounts = np.array([400_000, 800_000, 1_000_000, 1_200_000, 400_001] * 200, dtype=np.int64)
    daily = forecast_uptake(len(amounts), amounts, SCENARIOS["high"], AHYEON_RULES, CAL)
    claims = (17 * len(amounts) + 10) // 20
    assert daily["received"].sum() == daily["decided"].sum() == daily["paid"].sum() == claims
    assert daily["paid_krw"].sum() == daily["accepted_krw"].sum() == claims * int(amounts.sum()) // len(amounts)
    assert (daily["accepted_krw"] >= 0).all()


def test_forecast_with_daily_shares_and_no_capacity_on_the_bill_route() -> None:
    scenario = UptakeScenario("steady", Fraction(1, 2), daily_shares=(Fraction(3), Fraction(0), Fraction(1)))
    rules = ClaimRules(window_days=30, opens_on=date(2019, 3, 29), processing_business_days=2)
    daily = forecast_uptake(101, 1_000, scenario, rules, CAL).set_index("day")
    assert list(daily["received"].iloc[:3]) == [38, 0, 13]  # 51 claims split 3:0:1 (38.25, 12.75)
    assert daily.loc[date(2019, 4, 2), "decided"] == 38 and daily.loc[date(2019, 4, 3), "decided"] == 13
    assert daily.loc[date(2019, 5, 1), "paid"] == 51 and daily.loc[date(2019, 5, 1), "paid_krw"] == 51_000


def test_split_exactly_adds_up_and_ties_go_to_the_earlier() -> None:
    assert split_exactly([Fraction(1)] * 3, 2) == [1, 1, 0]
    assert sum(split_exactly([Fraction(2.0 ** (-d / 7)) for d in range(44)], 13_500)) == 13_500
    with pytest.raises(ValueError):
        split_exactly([Fraction(0)], 5)


def test_an_unknown_scenario_lists_the_known() -> None:
    with pytest.raises(ValueError, match="central, high, low"):
        uptake_scenario("median")


# ---- the generator ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def sample(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, pd.DataFrame, pd.DataFrame]:
    folder = tmp_path_factory.mktemp("claims-sample")
    roster_path = generate_roster(2_000, 3, folder)
    roster = pq.read_table(roster_path, columns=["line_id", "customer_type", "service"]).to_pandas()
    rng = np.random.default_rng(4)
    affected = roster.sample(frac=0.6, random_state=4).sort_values("line_id")
    ledger = pd.DataFrame({"line_id": affected["line_id"].astype("int64"),
                           "eligible": rng.random(len(affected)) < 0.9,
                           "outage_days": rng.integers(1, 8, len(affected)).astype("int32")})
    ledger["credit_krw"] = np.where(ledger["eligible"], rng.integers(1, 50, len(affected)) * 1_000, 0)
    ledger_path = folder / "ledger.parquet"
    pq.write_table(pa.Table.from_pandas(ledger, preserve_index=False), ledger_path)
    return roster_path, ledger_path, roster, ledger


def _generate(sample: tuple[Path, Path, pd.DataFrame, pd.DataFrame], out: Path, seed: int = 7) -> Path:
    return generate_claims(sample[0], sample[1], seed, out, opens_on=date(2019, 3, 22), days=44, share=0.2)


def test_the_generator_gives_the_same_bytes_for_the_same_inputs(sample: Any, tmp_path: Path) -> None:
    first = _generate(sample, tmp_path / "a")
    assert first == tmp_path / "a" / "claims.csv"
    assert _generate(sample, tmp_path / "b").read_bytes() == first.read_bytes()
    assert _generate(sample, tmp_path / "c", seed=8).read_bytes() != first.read_bytes()
    assert [p.name for p in (tmp_path / "a").iterdir()] == ["claims.csv"]  # no temporary file left


def test_generated_claims_load_and_exercise_every_decision(sample: Any, tmp_path: Path) -> None:
    _roster_path, _ledger_path, roster, ledger = sample
    claims = open_claims(_generate(sample, tmp_path), "Asia/Seoul")
    assert set(claims.kinds) == {"credit", "consolation", "reclassification"}
    assert set(claims.channels) == {"call_centre", "web", "app", "shop", "mail"}
    df = claims.frame().merge(roster, on="line_id", how="left")
    df = df.merge(ledger, on="line_id", how="left", indicator=True)
    df["affected"] = df.pop("_merge") == "both"
    df["credit_krw"] = df["credit_krw"].astype("Int64")
    small = df["customer_type"].eq("small_business") & df["affected"]
    df["consolation_krw"] = pd.array(np.where(small, 400_000, None), dtype="Int64")
    df["reclassified_krw"] = (df["credit_krw"] + 400_000).astype("Int64")
    settled = settle_claims(df, AHYEON_RULES, CAL)
    # every decision but already_paid: the frame's credits are paid on claim (no credit_automatic)
    assert set(settled["decision"]) == set(DECISIONS) - {"already_paid"}
    df["credit_automatic"] = True
    assert "already_paid" in set(settle_claims(df, AHYEON_RULES, CAL)["decision"])
    assert settled["wants_cash"].any() and settled["amount_claimed_krw"].notna().any()


def test_generated_days_claimed_are_on_consolation_and_reclassification_claims_only(sample: Any,
                                                                                     tmp_path: Path) -> None:
    """Consolation and reclassification claims name days (of the calibrated table), credit claims
    none; at least one consolation claim names none; a repeated claim names the days of the claim
    it repeats."""
    df = pd.read_csv(_generate(sample, tmp_path), dtype=str, keep_default_na=False)
    assert list(df.columns) == list(COLUMNS)
    merchants = df["kind"].isin(["consolation", "reclassification"])
    assert (df.loc[~merchants, "days_claimed"] == "").all()
    consolation = df[df["kind"] == "consolation"]
    assert len(consolation) >= 2 and (consolation["days_claimed"] == "").any()
    reclassification = df[df["kind"] == "reclassification"]
    assert (reclassification["days_claimed"] != "").any()
    assert set(df.loc[merchants, "days_claimed"]) - {""} <= {str(d) for d, _share in DAYS_CLAIMED}
    for _key, group in df[merchants].groupby(["line_id", "kind"]):
        assert group["days_claimed"].nunique() == 1  # a repeat names the first claim's days
    loaded = open_claims(tmp_path / "claims.csv", "Asia/Seoul").frame()
    assert loaded["days_claimed"].notna().sum() == (df.loc[merchants, "days_claimed"] != "").sum()


def test_the_days_claimed_are_calibrated_to_the_ahyeon_claims(tmp_path: Path) -> None:
    """The table against what was published: 47.5% of the claims under 2 days and 3.7 days on
    average (ajunews 20190322083227596), about 17% of 5 days or more (sedaily 1VGOD8DJGS), and under
    kt-2018-ahyeon-special's tiers the mean consolation paid, 62.5억 / 11,500 = 543,478 won
    (seoul.co.kr 20190820012018); then 20,000 merchants' claims drawn from it."""
    shares = {d: Fraction(str(share)) for d, share in DAYS_CLAIMED}
    assert sum(shares.values()) == 1 and min(shares) == 1
    assert shares[1] == Fraction(475, 1000)
    assert sum(share for d, share in shares.items() if d >= 5) == Fraction(17, 100)
    mean = sum(d * share for d, share in shares.items())
    assert abs(mean - Fraction(37, 10)) <= Fraction(1, 100)

    def tier(days: int) -> int:
        return 1_200_000 if days >= 7 else 1_000_000 if days >= 5 else 800_000 if days >= 3 else 400_000

    consolation = sum(tier(d) * share for d, share in shares.items())
    reported = Fraction(6_250_000_000, 11_500)
    assert abs(consolation - reported) / reported < Fraction(1, 1000)
    n = 20_000
    pq.write_table(pa.table({"line_id": pa.array(range(1, n + 1), pa.int64()),
                             "customer_type": pa.array(["small_business"] * n)}), tmp_path / "roster.parquet")
    pq.write_table(pa.table({"line_id": pa.array(range(1, n + 1), pa.int64()), "eligible": pa.array([True] * n),
                             "credit_krw": pa.array([30_000] * n, pa.int64())}), tmp_path / "ledger.parquet")
    path = generate_claims(tmp_path / "roster.parquet", tmp_path / "ledger.parquet", 20190322, tmp_path / "out",
                           opens_on="2019-03-22", days=45, share=1.0)
    df = pd.read_csv(path, dtype=str, keep_default_na=False)
    first = df[df["kind"] == "consolation"].drop_duplicates("line_id")  # repeats copy their first claim
    assert len(first) == n
    named = first.loc[first["days_claimed"] != "", "days_claimed"].astype(int)
    assert abs((first["days_claimed"] == "").mean() - NO_DAYS_SHARE) < 0.01
    assert abs((named == 1).mean() - 0.475) < 0.015 and abs((named >= 5).mean() - 0.17) < 0.015
    assert abs(named.mean() - 3.7) < 0.25
