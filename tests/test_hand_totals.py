"""Each sample incident's totals, derived by hand from the sample's own columns, equal the product's.

The figures below come from the written rules of each policy (``data/policies/*.yml``, its notes and
README's policy language), applied with plain pandas to ``data/sample/roster.parquet``,
``data/sample/bills.parquet`` and ``data/sample/bill_items.parquet`` (the fee bases). Nothing here
calls the product's credit, impact or settlement code:
the product is only run (``analyse``) and its ``summary.json`` and ledger read back. The stored
notebook outputs (nbval) were made by the program itself, so they cannot catch a wrong rule; these
derivations can. A disagreement is either a misreading here or a product defect: look at the
per-line comparison first (it names the lines that differ).

Seoul kept no daylight saving time in 2018–2024, so the windows' wall-clock times subtract directly.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from kt_analysis.inputs.incident import load_incident
from kt_analysis.jobs.analyse import analyse

ROOT = Path(__file__).resolve().parents[1]
INCIDENTS = ROOT / "data" / "incidents"
ROSTER_COLUMNS = ["line_id", "customer_id", "service", "monthly_fee_krw", "region", "facility_id",
                  "customer_type", "payment_method", "bill_cycle_day", "plan"]
# hourly_fee.hours_per_month: 720 in every policy used here: a month is M = 720 h × 60 = 43,200
# minutes, an hour of fee is fee/720, a day of fee is fee × 1,440 / M = fee/30.
M = 720 * 60


@pytest.fixture(scope="module")
def roster() -> pd.DataFrame:
    return pd.read_parquet(ROOT / "data" / "sample" / "roster.parquet", columns=ROSTER_COLUMNS)


@pytest.fixture(scope="module")
def items() -> pd.DataFrame:
    return pd.read_parquet(ROOT / "data" / "sample" / "bill_items.parquet")


def _basis(items: pd.DataFrame, lines: pd.DataFrame, months: list[str], *, include: list[str] | None = None,
           exclude: list[str] | None = None) -> pd.Series:
    """The sum over ``months`` of each line's counted items (aligned to ``lines``); every line has a
    bill in every month (asserted: the policies refuse otherwise)."""
    rows = items[items["bill_month"].isin(months)]
    rows = rows[rows["item"].isin(include)] if include is not None else rows[~rows["item"].isin(exclude or [])]
    billed = items[items["bill_month"].isin(months)].groupby("line_id")["bill_month"].nunique()
    assert (lines["line_id"].map(billed) == len(months)).all(), "a line lacks a bill of the basis"
    return lines["line_id"].map(rows.groupby("line_id")["amount_krw"].sum()).fillna(0).astype("int64")


def _run(incident_id: str, out: Path) -> tuple[dict, pd.DataFrame]:
    analyse(load_incident(INCIDENTS / f"{incident_id}.yml"), out)
    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    return summary, pd.read_parquet(out / "ledger.parquet")


def _ceil(a, b):
    """Whole-number ceiling division, for ints and integer Series alike."""
    return -(-a // b)


def _assert_outage(summary: dict, ledger: pd.DataFrame, lines: pd.DataFrame, credit: pd.Series,
                   eligible: pd.Series) -> None:
    """Totals, line and customer counts, and (for a useful message) the lines whose credit differs.
    ``eligible`` is separate from ``credit > 0``: a line with a 0 won fee is eligible for 0 won."""
    mine = pd.Series(credit.to_numpy(), index=lines["line_id"].to_numpy(), dtype="int64").sort_index()
    theirs = ledger.set_index("line_id")["credit_krw"].astype("int64").sort_index()
    assert list(theirs.index) == list(mine.index), "the product's affected lines differ from the hand-derived ones"
    differ = mine[mine != theirs]
    assert differ.empty, f"{len(differ)} line(s) differ, e.g. {differ.head(5).to_dict()} vs " \
                         f"{theirs[differ.index[:5]].to_dict()}"
    assert summary["total_credit_krw"] == int(credit.sum())
    assert summary["affected_lines"] == len(lines)
    assert summary["affected_customers"] == lines["customer_id"].nunique()
    assert summary["eligible_lines"] == int(eligible.sum())


def test_2021_nationwide(roster: pd.DataFrame, items: pd.DataFrame, tmp_path: Path) -> None:
    """kt-2021-10-25-special. Window 11:16–12:45, where: all, services mobile/internet/landline
    (IPTV not covered, and not in the incident either): every such line of the roster is affected,
    no threshold. Outage 89 min; ``applies_to: multiplied``: 89 × 10 = 890 min, rounded up to the
    hour = 900 min (15 h). Credit = fee × 900 // 43,200, floored to the won per line.
    Override (first match replaces): small_business internet/landline get 10 days of fee
    = fee × (10 × 1,440) // 43,200 (= fee/3, floored). A small business's mobile line gets the
    15 h rule.
    Fee: each line's October 2021 bill items plan + bundle_discount + long_term_discount + add_on +
    equipment_rental (the selective-agreement discount is left out, i.e. added back; usage,
    instalments, international, information fees and one-off charges are not counted).
    Landlines: internet phones only, not PSTN (zdnet 20211105142350; the policy's notes). In the
    roster a PSTN line's plan is 일반전화 … (data/README.md, landline prices), an internet phone's
    인터넷전화 …: a PSTN line stays affected but is not eligible and gets 0 won."""
    summary, ledger = _run("kt-2021-10-25-nationwide", tmp_path)
    lines = roster[roster["service"].isin(["mobile", "internet", "landline"])]
    fee = _basis(items, lines, ["2021-10"],
                 include=["plan", "bundle_discount", "long_term_discount", "add_on", "equipment_rental"])
    assert (fee > lines["monthly_fee_krw"]).any()  # the 선택약정 add-back and add-ons make a difference
    billable = _ceil(89 * 10, 60) * 60
    assert billable == 900
    merchant = (lines["customer_type"] == "small_business") & lines["service"].isin(["internet", "landline"])
    pstn = lines["plan"].str.startswith("일반전화")
    assert set(lines.loc[pstn, "service"]) == {"landline"}
    assert set(lines.loc[lines["service"] == "landline", "plan"].str.split().str[0]) == {"일반전화", "인터넷전화"}
    credit = (fee * billable // M).where(~merchant, fee * (10 * 1440) // M).where(~pstn, 0)
    _assert_outage(summary, ledger, lines, credit, eligible=~pstn)  # no threshold: every line but PSTN
    # the figures above, written down once they agreed; before PSTN was left out: 80,065 eligible
    # lines, 64,386,747 won (the 8,898 PSTN lines had 2,422,950 won)
    assert summary["total_credit_krw"] == 61_963_797 == 64_386_747 - 2_422_950
    assert summary["fee_basis"].startswith("2021-10 청구액")
    assert summary["affected_lines"] == 80_065
    assert summary["eligible_lines"] == 71_167 == 80_065 - 8_898
    reasons = ledger.set_index("line_id")["eligibility_reason"].astype(str)
    assert (reasons[lines.loc[pstn, "line_id"]] == "plan_not_covered").all()


def test_2018_ahyeon_fire(roster: pd.DataFrame, items: pd.DataFrame, tmp_path: Path) -> None:
    """kt-2018-ahyeon-special on the windows file (one row per facility_id and service, no key
    twice, so no merging). A line is affected when its (facility_id, service) is a row; its outage
    is that row's end − start in minutes. Thirteen rows reach no sample line (``allow_unmatched``):
    internet at GYEONGGI-007 and SEOUL-YONGSAN-08, IPTV at those two and nine more facilities (the
    sample keeps only part of the area's broadband, as KT had less there).
    Fee basis: the average of the 2018-08, -09 and -10 bills without one-off charges, international
    calls, information fees and device instalments: S = the three months' counted items summed;
    one month of that average is S × M // (M × 3) = S // 3 (one rounding, at the end).
    Base: ``months_of_fee: 1`` = one month of the basis, for every service, whatever the
    outage time. Overrides in order:
    1. small_business internet, ``combine: add``: the fee plus a fixed amount by outage days,
       days = ceil(minutes / 1,440): 1–2 d 400,000, 3–4 d 800,000, 5–6 d 1,000,000, 7+ d 1,200,000.
       (``days_from: claim``: a consolation *claim* is paid by the days it claims — see
       tests/test_claims_run.py —; the ledger's entitlement, computed before claims, counts the
       outage days.)
    2. mobile: eligible when continuous ≥ 180 min or monthly cumulative ≥ 360 min, then one month
       of fee; else 0. Every mobile row lasts ≥ 631 min (asserted), so every mobile line is paid.
    The notes' "once per merchant" is not exercised: each merchant here has one affected
    internet line (asserted)."""
    summary, ledger = _run("kt-2018-11-24-ahyeon-fire", tmp_path)
    windows = pd.read_csv(INCIDENTS / "kt-2018-11-24-ahyeon-fire.windows.csv", parse_dates=["start", "end"])
    assert not windows.duplicated(["facility_id", "service"]).any()
    windows["minutes"] = ((windows["end"] - windows["start"]).dt.total_seconds() // 60).astype("int64")
    lines = roster.merge(windows, on=["facility_id", "service"], how="inner")
    basis = _basis(items, lines, ["2018-08", "2018-09", "2018-10"],
                   exclude=["one_off", "international", "information_fee", "device_instalment"])
    base = basis * M // (M * 3)
    days = _ceil(lines["minutes"], 1440)
    tier = pd.Series(0, index=lines.index, dtype="int64")
    for from_days, krw in ((1, 400_000), (3, 800_000), (5, 1_000_000), (7, 1_200_000)):
        tier[days >= from_days] = krw
    merchant_internet = (lines["customer_type"] == "small_business") & (lines["service"] == "internet")
    assert not lines.loc[merchant_internet, "customer_id"].duplicated().any()
    mobile = lines["service"] == "mobile"
    assert (lines.loc[mobile, "minutes"] >= 180).all()
    mobile_ok = ~mobile | (lines["minutes"] >= 180)
    credit = (base + tier.where(merchant_internet, 0)).where(mobile_ok, 0)
    _assert_outage(summary, ledger, lines, credit, eligible=mobile_ok)
    assert summary["total_credit_krw"] == 74_545_505
    assert summary["affected_lines"] == 2_482


def test_2024_landline(roster: pd.DataFrame, items: pd.DataFrame, tmp_path: Path) -> None:
    """kt-terms-2022 on the landline lines of the windows file's facilities (in 서울, 대전, 세종, 충북,
    충남), 06:15–16:20 = 605 min.
    Eligible: continuous ≥ 120 min (605 is). ``applies_to: outage``: 605 min rounded up to the hour
    = 660 min, then × 10: credit = fee × 660 × 10 // 43,200 per line (the IPTV 3× override does
    not apply to landline).

    What-if kt-2024-08-10-landline-special (KT's real compensation): every affected line, fee = the
    July 2024 bill without usage and international calls (the month before the incident's);
    individuals and enterprises fee × 605 × 10 // 43,200 (time not rounded), small merchants one
    month = the fee."""
    summary, ledger = _run("kt-2024-08-10-landline", tmp_path)
    windows = pd.read_csv(INCIDENTS / "kt-2024-08-10-landline.windows.csv")
    assert set(windows["service"]) == {"landline"} and not windows["facility_id"].duplicated().any()
    assert set(windows["start"]) == {"2024-08-10T06:15"} and set(windows["end"]) == {"2024-08-10T16:20"}
    lines = roster[(roster["service"] == "landline") & roster["facility_id"].isin(windows["facility_id"])]
    assert set(lines["region"]) == {"서울", "대전", "세종", "충북", "충남"}  # Seoul and Chungcheong
    minutes = (16 * 60 + 20) - (6 * 60 + 15)
    assert minutes == 605 >= 120
    billable = _ceil(minutes, 60) * 60
    credit = lines["monthly_fee_krw"] * billable * 10 // M
    _assert_outage(summary, ledger, lines, credit, eligible=lines["line_id"] > -1)  # 605 ≥ 120: all
    assert summary["total_credit_krw"] == 300_214
    assert summary["affected_lines"] == 312  # ≈ 1.8% of the 17,710 landlines: the ~123,000 reported
    fee = _basis(items, lines, ["2024-07"], exclude=["usage", "international"])
    merchant = lines["customer_type"] == "small_business"
    special = (fee * minutes * 10 // M).where(~merchant, fee)
    what_if = {w["policy_id"]: w for w in summary["what_if"]}
    assert what_if["kt-2024-08-10-landline-special"]["total_credit_krw"] == int(special.sum()) == 408_593
    assert what_if["kt-2024-08-10-landline-special"]["eligible_lines"] == len(lines)


def test_2023_billing_error(roster: pd.DataFrame, tmp_path: Path) -> None:
    """Hit lines: mobile, paid by credit_card or check_card, bill day 11. Each was charged its July
    2023 bill instead of its September one. Settlement kt-2023-09-announced: credit cards are
    cancelled (no money moved), check cards refunded (money taken 9/11, back 9/12); every line is
    then charged its September amount.
    charged = Σ July; owed = recharge = Σ September; cancelled = Σ July (credit card);
    refund = Σ July (check card); over = Σ max(July − Sep, 0); under = Σ max(Sep − July, 0).
    Exposure: the check-card money is out from 9/11 to 9/12: peak = refund, krw·days = refund × 1."""
    summary, _ledger = _run("kt-2023-09-billing-error", tmp_path)
    bills = pd.read_parquet(ROOT / "data" / "sample" / "bills.parquet")
    july = bills[bills["bill_month"] == "2023-07"].set_index("line_id")["amount_krw"]
    september = bills[bills["bill_month"] == "2023-09"].set_index("line_id")["amount_krw"]
    hit = roster[roster["payment_method"].isin(["credit_card", "check_card"]) & (roster["service"] == "mobile")
                 & (roster["bill_cycle_day"] == 11)].copy()
    hit["jul"], hit["sep"] = hit["line_id"].map(july), hit["line_id"].map(september)
    assert hit[["jul", "sep"]].notna().all().all()  # every hit line has both bills
    card = hit["payment_method"] == "credit_card"
    refund = int(hit.loc[~card, "jul"].sum())
    assert summary["affected_lines"] == len(hit) == 3_359
    assert summary["affected_customers"] == hit["customer_id"].nunique()
    assert summary["total_charged_krw"] == int(hit["jul"].sum()) == 172_360_850
    assert summary["total_owed_krw"] == summary["total_recharge_krw"] == int(hit["sep"].sum())
    assert summary["total_cancelled_krw"] == int(hit.loc[card, "jul"].sum())
    assert summary["total_refund_krw"] == refund == 18_340_190
    assert summary["total_overcharged_krw"] == int((hit["jul"] - hit["sep"]).clip(lower=0).sum())
    assert summary["total_undercharged_krw"] == int((hit["sep"] - hit["jul"]).clip(lower=0).sum())
    assert summary["peak_exposure_krw"] == refund and summary["peak_exposure_date"] == "2023-09-11"
    assert summary["exposure_krw_days"] == refund * 1
    assert summary["refund_completion_date"] == "2023-09-12"
    assert summary["settlement_completion_date"] == "2023-09-13"
