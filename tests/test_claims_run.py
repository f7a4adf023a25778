"""Claims through the command line: an outage whose policy pays part of it on application.

The sample Ahyeon incident names ``data/sample/ahyeon-claims.csv`` (266 synthetic claims: the
merchants' consolation money, customers asking for a credit the policy pays anyway, individuals
asking to count as merchants, repeats, late claims, unknown and unaffected lines). Each claim gets
one decision; what the claims file owes agrees with the ledger's lines; nothing is paid twice; the
outputs hold no unmasked registration number; and the mistakes an analyst makes with the claims
are refused with the file, the row and the fix.
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pandas as pd
import pytest
from refusal import assert_refused, kt, small_project

ROOT = Path(__file__).resolve().parents[1]
AHYEON = ROOT / "data" / "incidents" / "kt-2018-11-24-ahyeon-fire.yml"
CLAIMS = ROOT / "data" / "sample" / "ahyeon-claims.csv"
WINDOWS = ROOT / "data" / "incidents" / "kt-2018-11-24-ahyeon-fire.windows.csv"


@pytest.fixture(scope="module")
def ahyeon(tmp_path_factory: pytest.TempPathFactory) -> dict:
    out = tmp_path_factory.mktemp("claims")
    done = kt("run", AHYEON, "--no-report", "--out", out / "a", cwd=ROOT, timeout=300)
    assert done.returncode == 0, done.stderr
    again = kt("run", AHYEON, "--no-report", "--out", out / "b", cwd=ROOT, timeout=300)
    assert again.returncode == 0, again.stderr
    run = out / "a" / "kt-2018-11-24-ahyeon-fire"
    return {"run": run, "again": out / "b" / "kt-2018-11-24-ahyeon-fire",
            "summary": json.loads((run / "summary.json").read_text(encoding="utf-8")),
            "claims": pd.read_parquet(run / "claims.parquet"), "ledger": pd.read_parquet(run / "ledger.parquet"),
            "file": pd.read_csv(CLAIMS, dtype=str)}


def test_every_claim_gets_one_decision_and_the_totals_agree(ahyeon: dict) -> None:
    c, s = ahyeon["claims"], ahyeon["summary"]["claims"]
    assert list(c["claim_id"]) == list(ahyeon["file"]["claim_id"])  # every claim, in the file's order
    assert s["received"] == len(c) == len(ahyeon["file"]) == 266
    by = {d["decision"]: d for d in s["by_decision"]}
    assert sum(d["claims"] for d in by.values()) == len(c)
    counts = c["decision"].value_counts().to_dict()
    assert {k: d["claims"] for k, d in by.items()} == counts
    assert s["accepted_krw"] == int(c["amount_krw"].sum()) == sum(d["amount_krw"] for d in by.values())
    assert s["accepted"] == int((c["amount_krw"] > 0).sum())
    # the sample exercises every decision the claims rules can give
    assert set(counts) == {"accepted", "duplicate", "outside_window", "unknown_line", "line_not_affected",
                           "not_eligible", "already_paid", "reclassification_accepted", "reclassification_refused"}


def test_what_a_claim_pays_is_what_the_ledger_says_the_line_is_owed(ahyeon: dict) -> None:
    """A merchant's accepted consolation is the tier of the days it claims (``days_from: claim``),
    at most the fire's span — 2018-11-24 11:12 to the windows file's last end, rounded up to whole
    days — and of the line's outage days when it claims none; a credit claim under this policy,
    which credits every line without application, pays nothing (already on the bill): nothing is
    paid twice."""
    c, ledger = ahyeon["claims"], ahyeon["ledger"].set_index("line_id")
    claimed = ahyeon["file"].set_index("claim_id")["days_claimed"]
    windows = pd.read_csv(WINDOWS, parse_dates=["start", "end"])
    span = -(-int((windows["end"].max() - windows["start"].min()).total_seconds()) // 86_400)  # Seoul: no DST
    assert span == 8  # 2018-11-24 11:12 to 2018-12-01 13:00
    tiers = ((7, 1_200_000), (5, 1_000_000), (3, 800_000), (1, 400_000))
    consolation = c[(c["kind"] == "consolation") & (c["decision"] == "accepted")]
    assert len(consolation) > 0
    differs = 0
    for row in consolation.itertuples():
        outage = int(ledger.loc[row.line_id, "outage_days"])
        days = outage if pd.isna(claimed[row.claim_id]) else min(int(claimed[row.claim_id]), span)
        assert row.amount_krw == next(krw for d, krw in tiers if days >= d)
        assert f"days_claimed={claimed[row.claim_id]}" in row.evidence or "days_claimed missing" in row.evidence
        differs += next(krw for d, krw in tiers if outage >= d) != row.amount_krw
    assert differs  # the sample has a merchant whose claimed days reach another tier than the network's
    credit = c[c["kind"] == "credit"]
    assert (credit["amount_krw"] == 0).all()
    assert set(credit["decision"]) <= {"already_paid", "duplicate", "outside_window", "unknown_line",
                                       "line_not_affected", "not_eligible"}
    paid = c[c["amount_krw"] > 0]
    assert not paid.duplicated(["line_id", "kind"]).any()  # one payment per line and kind


def test_entitlement_and_forecasts(ahyeon: dict) -> None:
    """What only applicants get (merchants' internet lines, by outage days: before claims arrive
    their days are not known), and the three uptake scenarios: claims are the share of the entitled
    lines, cost in proportion, exact won. The entitlement by hand: the sample's small-business
    internet lines at a windows-file row, each at the tier of its row's outage days (minutes rounded
    up to whole days): 15 lines out 1 day and 13 out 2, all in the 1–2 day tier of 400,000 won."""
    s = ahyeon["summary"]["claims"]
    roster = pd.read_parquet(ROOT / "data" / "sample" / "roster.parquet",
                             columns=["line_id", "service", "facility_id", "customer_type"])
    windows = pd.read_csv(WINDOWS, parse_dates=["start", "end"])
    lines = roster[roster["customer_type"] == "small_business"].merge(
        windows[windows["service"] == "internet"], on=["facility_id", "service"])
    days = -(-((lines["end"] - lines["start"]).dt.total_seconds() // 60).astype("int64") // 1440)
    tiers = ((7, 1_200_000), (5, 1_000_000), (3, 800_000), (1, 400_000))
    entitled = int(days.map(lambda d: next(krw for f, krw in tiers if d >= f)).sum())
    assert days.value_counts().to_dict() == {1: 15, 2: 13}
    assert s["paid_on_claim"] == "consolation" and s["entitled_lines"] == len(lines) == 28
    assert s["entitled_krw"] == entitled == 11_200_000
    assert (s["opens_on"], s["last_day"]) == ("2019-03-22", "2019-05-05")
    shares = {"low": (1, 4), "central": (1, 2), "high": (17, 20)}
    for f in s["forecast"]:
        num, den = shares[f["scenario"]]
        claims = (2 * num * 28 + den) // (2 * den)  # rounded half up
        assert f["claims"] == claims == sum(d["received"] for d in f["days"])
        assert f["cost_krw"] == claims * 11_200_000 // 28 == sum(d["accepted_krw"] for d in f["days"])
        assert max(d["decided"] for d in f["days"]) <= 159  # the daily capacity


def test_claims_outputs_are_byte_identical_and_hold_no_registration_number(ahyeon: dict) -> None:
    for name in ("claims.parquet", "summary.json", "ledger.parquet"):
        assert (ahyeon["run"] / name).read_bytes() == (ahyeon["again"] / name).read_bytes(), name
    numbers = {re.sub(r"\D", "", n) for n in ahyeon["file"]["business_registration_no"].dropna()}
    numbers = {n for n in numbers if len(n) >= 9}
    assert numbers
    text = (ahyeon["run"] / "summary.json").read_text(encoding="utf-8") + \
        ahyeon["claims"].to_csv(index=False)
    for n in numbers:  # neither as digits nor as written (123-45-67890)
        assert n not in text and f"{n[:3]}-{n[3:5]}-{n[5:]}" not in text, n


def _claims_project(tmp_path: Path, claims: str, policy_claims: bool = True) -> Path:
    project = small_project(tmp_path / "project")
    policy = project / "data" / "policies" / "bad-corpus-10x.yml"
    if policy_claims:
        policy.write_text(policy.read_text(encoding="utf-8") + "claims:\n  window_days: 30\n"
                          "  processing_business_days: 2\n  daily_capacity: 1\n", encoding="utf-8")
    (project / "claims.csv").write_text(claims, encoding="utf-8")
    good = (project / "incidents" / "good.yml").read_text(encoding="utf-8")
    (project / "incidents" / "claims.yml").write_text(
        good.replace("id: bad-corpus-good", "id: claims-good").replace("roster: roster.csv",
                                                                         "roster: roster.csv\nclaims: claims.csv"),
        encoding="utf-8")
    return project


HEADER = "claim_id,line_id,received_at,channel,kind\n"

DAYS_ROSTER = """\
line_id,customer_id,service,monthly_fee_krw,region,facility_id,customer_type,payment_method,bill_cycle_day
1,101,internet,33000,서울,F1,small_business,giro,11
2,102,internet,44000,서울,F1,small_business,giro,11
3,103,internet,27500,서울,F2,small_business,giro,11
4,104,mobile,55000,서울,F1,individual,credit_card,11
"""
DAYS_POLICY = """id: days-claimed
title: 시험용 — 신청 일수별 위로금
services: [mobile, internet]
credit:
  outage_multiplier: 10
  overrides:
    - when: {customer_type: small_business, services: [internet]}
      combine: add
      paid_on_claim: true
      days_from: claim
      tiers_by_outage_days:
        - {from_days: 1, krw: 100000}
        - {from_days: 2, krw: 250000}
        - {from_days: 3, krw: 400000}
claims:
  window_days: 30
"""
DAYS_INCIDENT = """id: days-claimed
title: 시험용 — 이틀 넘는 장애
kind: outage
timezone: Asia/Seoul
policy: days.yml
roster: roster.csv
claims: claims.csv
affected:
  windows:
    - {start: 2024-03-04T10:00, end: 2024-03-05T12:00, where: {facilities: [F1]}}
    - {start: 2024-03-04T10:00, end: 2024-03-06T12:00, where: {facilities: [F2]}}
"""


def _days_project(tmp_path: Path, claims: str) -> Path:
    project = tmp_path / "days"
    project.mkdir()
    for name, text in (("roster.csv", DAYS_ROSTER), ("days.yml", DAYS_POLICY), ("incident.yml", DAYS_INCIDENT),
                       ("claims.csv", claims)):
        (project / name).write_text(text, encoding="utf-8")
    return project


def test_consolation_by_the_days_claimed_through_the_command_line(tmp_path: Path) -> None:
    """Lines 1 and 2 (F1) are out 26 h: 2 outage days; line 3 (F2) 50 h: 3 days; the incident spans
    2024-03-04 10:00 to 03-06 12:00, 50 h: 3 days. Tiers 1 d 100,000, 2 d 250,000, 3 d 400,000.
    C-1 claims 9 days: accepted as the incident's 3 → 400,000; C-2 claims 2 → 250,000; C-3 claims
    none: line 3's 3 outage days → 400,000; C-4 repeats line 1 (duplicate); C-5 is a mobile line
    (not_eligible). Paid 1,050,000; the entitlement before claims counts the outage days:
    250,000 + 250,000 + 400,000 = 900,000."""
    project = _days_project(tmp_path, "claim_id,line_id,received_at,channel,kind,days_claimed\n"
                                      "C-1,1,2024-03-07 10:00,web,consolation,9\n"
                                      "C-2,2,2024-03-07 11:00,web,consolation,2\n"
                                      "C-3,3,2024-03-07 12:00,shop,consolation,\n"
                                      "C-4,1,2024-03-08 09:00,app,consolation,1\n"
                                      "C-5,4,2024-03-08 10:00,web,consolation,3\n")
    done = kt("run", "incident.yml", "--no-report", "--out", tmp_path / "out", cwd=project)
    assert done.returncode == 0, done.stderr
    run = tmp_path / "out" / "days-claimed"
    c = pd.read_parquet(run / "claims.parquet").set_index("claim_id")
    assert c["decision"].tolist() == ["accepted", "accepted", "accepted", "duplicate", "not_eligible"]
    assert c["amount_krw"].tolist() == [400_000, 250_000, 400_000, 0, 0]
    assert "days_claimed=9 accepted as the incident's 3 days, outage_days=2" in c.loc["C-1", "evidence"]
    assert "days_claimed=2, outage_days=2" in c.loc["C-2", "evidence"]
    assert "days_claimed missing: the line's outage_days=3 counted" in c.loc["C-3", "evidence"]
    s = json.loads((run / "summary.json").read_text(encoding="utf-8"))["claims"]
    assert s["accepted_krw"] == 1_050_000 and s["entitled_krw"] == 900_000 and s["entitled_lines"] == 3
    ledger = pd.read_parquet(run / "ledger.parquet").set_index("line_id")
    assert ledger["outage_days"].to_dict() == {1: 2, 2: 2, 3: 3, 4: 2}


def test_a_reclassification_counts_the_days_claimed_through_the_command_line(tmp_path: Path) -> None:
    """Individuals asking to count as small merchants under the same ``days_from: claim`` override:
    each is paid its credit as a small business (the same fee part, plus the consolation tier) minus
    its own credit, the tier counting the days the claim names as a consolation's does. Line 5 (F1,
    2 outage days: 250,000 by the network) claims 9: accepted as the incident's 3 days → 400,000;
    line 6 (F1, 2 days) names none: its 2 outage days → 250,000; line 7 (F2, 3 days) claims 1 →
    100,000; line 8 is a mobile line, which the override does not match: nothing more, and no days
    named."""
    project = _days_project(tmp_path, "claim_id,line_id,received_at,channel,kind,business_registration_no,"
                                      "days_claimed\n"
                                      "R-1,5,2024-03-07 10:00,web,reclassification,220-81-62517,9\n"
                                      "R-2,6,2024-03-07 11:00,web,reclassification,124-81-00998,\n"
                                      "R-3,7,2024-03-07 12:00,shop,reclassification,220-81-62517,1\n"
                                      "R-4,8,2024-03-08 09:00,app,reclassification,124-81-00998,5\n"
                                      "C-1,1,2024-03-08 10:00,web,consolation,,9\n")
    (project / "roster.csv").write_text(DAYS_ROSTER + "5,105,internet,33000,서울,F1,individual,giro,11\n"
                                        "6,106,internet,44000,서울,F1,individual,giro,11\n"
                                        "7,107,internet,27500,서울,F2,individual,giro,11\n"
                                        "8,108,mobile,55000,서울,F1,individual,giro,11\n", encoding="utf-8")
    done = kt("run", "incident.yml", "--no-report", "--out", tmp_path / "out", cwd=project)
    assert done.returncode == 0, done.stderr
    run = tmp_path / "out" / "days-claimed"
    c = pd.read_parquet(run / "claims.parquet").set_index("claim_id")
    ledger = pd.read_parquet(run / "ledger.parquet").set_index("line_id")
    assert ledger.loc[[5, 6, 7, 8], "outage_days"].tolist() == [2, 2, 3, 2]
    assert ledger.loc[[5, 6, 7, 8], "rule"].tolist() == ["base"] * 4
    assert c["decision"].tolist() == ["reclassification_accepted"] * 3 + ["not_eligible", "accepted"]
    assert c["amount_krw"].tolist() == [400_000, 250_000, 100_000, 0, 400_000]
    credit = {line: int(ledger.loc[line, "credit_krw"]) for line in (5, 6, 7, 8)}
    assert all(v > 0 for v in credit.values())
    assert c.loc["R-1", "evidence"] == (
        f"business_registration_no=***-**-*2517 valid; reclassified_krw={credit[5] + 400_000} (days_claimed=9 "
        f"accepted as the incident's 3 days, outage_days=2) - credit_krw={credit[5]} = 400000")
    assert c.loc["R-2", "evidence"] == (
        f"business_registration_no=***-**-*0998 valid; reclassified_krw={credit[6] + 250_000} (days_claimed "
        f"missing: the line's outage_days=2 counted) - credit_krw={credit[6]} = 250000")
    assert f"reclassified_krw={credit[7] + 100_000} (days_claimed=1, outage_days=3) - " in c.loc["R-3", "evidence"]
    assert c.loc["R-4", "evidence"] == (
        f"business_registration_no=***-**-*0998 valid; reclassified_krw={credit[8]} - credit_krw={credit[8]} = 0: "
        "nothing more as small_business")
    assert "days_claimed=9 accepted as the incident's 3 days, outage_days=2" in c.loc["C-1", "evidence"]


def test_a_bad_days_claimed_is_refused_naming_the_file_row_and_fix(tmp_path: Path) -> None:
    project = _days_project(tmp_path, "claim_id,line_id,received_at,channel,kind,days_claimed\n"
                                      "C-1,1,2024-03-07 10:00,web,consolation,3일\n")
    done = kt("run", "incident.yml", "--no-report", "--out", tmp_path / "out", cwd=project)
    assert_refused(done, "claims.csv", "column days_claimed", "line 2 ('3일')", "digits only")
    assert not (tmp_path / "out" / "days-claimed").exists()


def test_a_claims_file_the_policy_has_no_rules_for_is_refused(tmp_path: Path) -> None:
    project = _claims_project(tmp_path, HEADER + "C-1,1,2024-03-04 12:00,web,credit\n", policy_claims=False)
    done = kt("run", "incidents/claims.yml", "--no-report", "--out", tmp_path / "out", cwd=project)
    assert_refused(done, "claims", "has no claims: rules", "add a claims: section")


def test_a_bad_claims_row_is_refused_naming_the_row(tmp_path: Path) -> None:
    project = _claims_project(tmp_path, HEADER + "C-1,1,2024-03-04 12:00,web,credit\n"
                                                 "C-2,2,2024-03-04 12:00,fax,credit\n")
    done = kt("run", "incidents/claims.yml", "--no-report", "--out", tmp_path / "out", cwd=project)
    assert_refused(done, "claims.csv", "fax")
    assert not (tmp_path / "out" / "claims-good").exists()


def test_a_missing_claims_file_is_refused(tmp_path: Path) -> None:
    project = _claims_project(tmp_path, HEADER)
    (project / "claims.csv").unlink()
    done = kt("run", "incidents/claims.yml", "--no-report", "--out", tmp_path / "out", cwd=project)
    assert_refused(done, "claims", "not found", "export the claims")


def test_credit_claims_under_a_policy_paid_on_claim(tmp_path: Path) -> None:
    """The small project's policy made claim-required: a credit claim on an eligible line is paid
    its ledger credit, once; the daily capacity of 1 spreads three claims over three business days
    after a two-business-day lag (2024-03-04 is a Monday: decided 03-06, 03-07, 03-08)."""
    project = _claims_project(tmp_path, HEADER + "C-1,1,2024-03-04 12:00,web,credit\n"
                                                 "C-2,1,2024-03-04 13:00,app,credit\n"
                                                 "C-3,2,2024-03-04 14:00,call_centre,credit\n")
    policy = project / "data" / "policies" / "bad-corpus-10x.yml"
    text = policy.read_text(encoding="utf-8")
    text = re.sub(r"claim_required: false", "claim_required: true", text)
    if "claim_required" not in text:
        text = text.replace("claims:\n", "delivery:\n  claim_required: true\nclaims:\n", 1)
    policy.write_text(text, encoding="utf-8")
    done = kt("run", "incidents/claims.yml", "--no-report", "--out", tmp_path / "out", cwd=project)
    assert done.returncode == 0, done.stderr
    run = tmp_path / "out" / "claims-good"
    c = pd.read_parquet(run / "claims.parquet").set_index("claim_id")
    ledger = pd.read_parquet(run / "ledger.parquet").set_index("line_id")
    assert list(c["decision"]) == ["accepted", "duplicate", "accepted"]
    assert c.loc["C-1", "amount_krw"] == ledger.loc[1, "credit_krw"] > 0
    assert c.loc["C-3", "amount_krw"] == ledger.loc[2, "credit_krw"]
    assert [str(d) for d in c["decided_on"]] == ["2024-03-06", "2024-03-07", "2024-03-08"]
    s = json.loads((run / "summary.json").read_text(encoding="utf-8"))["claims"]
    assert s["paid_on_claim"] == "credit" and s["entitled_krw"] == int(ledger["credit_krw"].sum())


def test_the_report_has_the_claims_chapter(tmp_path: Path) -> None:
    """The Ahyeon report: the decisions table with its totals row and the forecasts, in Korean."""
    project = tmp_path / "p"
    shutil.copytree(ROOT / "data", project / "data")
    done = kt("run", "data/incidents/kt-2018-11-24-ahyeon-fire.yml", "--out", tmp_path / "out", cwd=project,
              timeout=300)
    assert done.returncode == 0, done.stderr
    html = (tmp_path / "out" / "kt-2018-11-24-ahyeon-fire" / "report.html").read_text(encoding="utf-8")
    assert "신청별 결정" in html and "신청 예측 (가정)" in html and "합계" in html
    assert "중복 신청" in html and "소상공인 재분류 승인" in html


CAUSE_POLICY = (ROOT / "kt_analysis" / "catalogue" / "policies" / "kt-terms-2023.yml").read_text(
    encoding="utf-8").replace(
    "id: kt-terms-2023", "id: bad-corpus-2023")


@pytest.mark.parametrize("cause", ["unknown", "operator", "gross_negligence", "intent"])
def test_below_the_threshold_on_claim_when_the_cause_calls_for_it(tmp_path: Path, cause: str) -> None:
    """kt-terms-2023 on a one-hour outage (below its 2 hours): nobody is eligible unless the outage
    came from the operator's intent or gross negligence; then every line is, with the reason
    on_claim and 10x the hour's fee, and its claim is accepted (paid once, on claim)."""
    project = small_project(tmp_path / "project")
    (project / "data" / "policies" / "bad-corpus-2023.yml").write_text(CAUSE_POLICY, encoding="utf-8")
    good = (project / "incidents" / "good.yml").read_text(encoding="utf-8")
    text = good.replace("id: bad-corpus-good", "id: cause").replace("policy: bad-corpus-10x", "policy: bad-corpus-2023")
    text = text.replace("12:00", "11:00") + f"cause: {cause}\nclaims: claims.csv\n"
    (project / "incidents" / "cause.yml").write_text(text, encoding="utf-8")
    (project / "claims.csv").write_text(HEADER + "C-1,1,2024-03-04 12:00,web,credit\n", encoding="utf-8")
    done = kt("run", "incidents/cause.yml", "--no-report", "--out", tmp_path / "out", cwd=project)
    assert done.returncode == 0, done.stderr
    run = tmp_path / "out" / "cause"
    ledger = pd.read_parquet(run / "ledger.parquet").set_index("line_id")
    roster = pd.read_csv(project / "roster.csv").set_index("line_id")
    decision = pd.read_parquet(run / "claims.parquet")["decision"].tolist()
    assert (ledger["outage_minutes"] == 60).all()
    if cause in ("gross_negligence", "intent"):
        assert ledger["eligible"].all() and set(ledger["eligibility_reason"]) == {"on_claim"}
        fees = roster.loc[ledger.index, "monthly_fee_krw"]
        assert (ledger["credit_krw"] == fees * 600 // 43_200).all()
        assert decision == ["accepted"]
    else:
        assert not ledger["eligible"].any() and set(ledger["eligibility_reason"]) == {"below_threshold"}
        assert ledger["credit_krw"].sum() == 0 and decision == ["not_eligible"]


def test_an_unknown_cause_is_refused(tmp_path: Path) -> None:
    project = small_project(tmp_path / "project")
    good = (project / "incidents" / "good.yml").read_text(encoding="utf-8")
    (project / "incidents" / "cause.yml").write_text(good + "cause: negligence\n", encoding="utf-8")
    done = kt("run", "incidents/cause.yml", "--no-report", "--out", tmp_path / "out", cwd=project)
    assert_refused(done, "cause", "negligence", "gross_negligence")


def test_validate_checks_the_claims_and_the_bill_items_as_a_run_does(tmp_path: Path) -> None:
    """`kt-analysis validate` opens an outage's claims and bill items on every row: a bad channel in
    the claims and an unknown item in the bill items are both named (with file and row), exit 2."""
    project = _claims_project(tmp_path, HEADER + "C-1,1,2024-03-04 12:00,fax,credit\n")
    (project / "items.csv").write_text("line_id,bill_month,item,amount_krw\n1,2024-02,bonus,1000\n", encoding="utf-8")
    incident = project / "incidents" / "claims.yml"
    incident.write_text(incident.read_text(encoding="utf-8") + "bill_items: items.csv\n", encoding="utf-8")
    done = kt("validate", "incidents/claims.yml", cwd=project)
    assert_refused(done, "claims.csv", "fax", "items.csv", "bonus")
    (project / "claims.csv").write_text(HEADER + "C-1,1,2024-03-04 12:00,web,credit\n", encoding="utf-8")
    (project / "items.csv").write_text("line_id,bill_month,item,amount_krw\n1,2024-02,plan,1000\n", encoding="utf-8")
    ok = kt("validate", "incidents/claims.yml", cwd=project)
    assert ok.returncode == 0, ok.stderr


def test_claims_given_on_the_command_line(tmp_path: Path) -> None:
    """--claims instead of the incident's key: decided the same way, and both run.json's command and
    the report's reproduce it (the notebooks get the file as a papermill parameter)."""
    project = _claims_project(tmp_path, HEADER + "C-1,1,2024-03-04 12:00,web,credit\n")
    incident = project / "incidents" / "claims.yml"
    incident.write_text(incident.read_text(encoding="utf-8").replace("claims: claims.csv\n", ""), encoding="utf-8")
    without = kt("run", "incidents/claims.yml", "--no-report", "--out", tmp_path / "a", cwd=project)
    assert without.returncode == 0, without.stderr
    assert not (tmp_path / "a" / "claims-good" / "claims.parquet").exists()
    done = kt("run", "incidents/claims.yml", "--claims", "claims.csv", "--out", tmp_path / "b", cwd=project,
              timeout=300)
    assert done.returncode == 0, done.stderr
    run = tmp_path / "b" / "claims-good"
    assert pd.read_parquet(run / "claims.parquet")["claim_id"].tolist() == ["C-1"]
    assert json.loads((run / "run.json").read_text(encoding="utf-8"))["command"].endswith("--claims claims.csv")
    html = (run / "report.html").read_text(encoding="utf-8")
    assert "--claims claims.csv" in html and "신청별 결정" in html
