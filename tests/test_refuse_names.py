"""Adversarial corpus, names and time: every region, facility and service an incident names must
match the roster (after NFC and trimming on both sides) or be refused with the closest values;
every window says where it reached; minutes are counted between instants, and local times that
do not exist or happen twice are refused.

The small project is ``tests/data/bad/``: ``roster.csv`` holds five lines —
1 mobile 서울 F1 (customer 101), 2 internet 서울 F1 (101), 3 mobile 부산 F2 (102),
4 iptv 제주 F3 (103), 5 landline 서울 F4 (104) — and the policy ``bad-corpus-10x`` pays 10x the
outage time, no threshold. Each refusal runs ``validate`` and ``run`` through the real command
line; ``run`` writes into a folder that already holds a good report, which must not change.
"""

from __future__ import annotations

import json
import unicodedata
from pathlib import Path

import duckdb
import pandas as pd
import pytest
from refusal import assert_refused, good_report, kt, small_project, snapshot

HEAD = """id: {id}
title: 시험용 사고
kind: outage
timezone: {tz}
policy: bad-corpus-10x
roster: {roster}
affected:
"""


def incident(project: Path, name: str, body: str, *, tz: str = "Asia/Seoul", roster: str = "roster.csv") -> str:
    text = HEAD.format(id=f"names-{name}", tz=tz, roster=roster) + body
    (project / "incidents" / f"{name}.yml").write_text(text, encoding="utf-8")
    return f"incidents/{name}.yml"


def window(where: str, start: str = "2024-03-04T10:00", end: str = "2024-03-04T12:00", extra: str = "") -> str:
    return f"  windows:\n    - {{start: {start}, end: {end}, where: {where}{extra}}}\n"


NFD_BUSAN = unicodedata.normalize("NFD", "부산")
assert NFD_BUSAN != "부산"

# name, incident body, texts every command's stderr must hold
REFUSED = [
    ("region-typo", window("{regions: [부산시]}"), ("affected.windows[0]", "`부산시`", "no line of the roster",
                                                   "has this region", "did you mean `부산`?")),
    ("region-latin", window("{regions: [Busan]}"), ("`Busan`", "has this region", "`부산`", "`서울`")),
    ("region-one-of-two", window("{regions: [서울, 부샨]}"), ("`부샨`", "did you mean `부산`?")),
    ("facility-unknown", window("{facilities: [F9]}"), ("`F9`", "has this facility", "did you mean `F")),
    ("facility-case", window("{facilities: [f1]}"), ("`f1`", "has this facility", "did you mean `F1`?",
                                                      "letter case counts")),
    ("service-absent", "  services: [mobile, iptv]\n" + window("{regions: [서울]}")
     .replace("where: {regions: [서울]}", "where: {regions: [서울]}, services: [iptv]"),
     ("affected.windows[0]", "reaches no line", "regions 서울; services iptv", "allow_unmatched: true")),
    ("no-line-together", window("{regions: [제주], facilities: [F1]}"),
     ("reaches no line", "regions 제주; facilities F1", "kt-analysis roster describe")),
    ("where-missing", "  windows:\n    - {start: 2024-03-04T10:00, end: 2024-03-04T12:00}\n",
     ("affected.windows[0].where", "is missing", "write where: all for every line")),
    ("where-word", window("everywhere"), ("affected.windows[0].where", "'everywhere'", "write where: all")),
    ("where-blank-name", window("{regions: ['  ']}"), ("affected.windows[0].where.regions[0]", "is blank",
                                                       "write the name")),
    ("dst-gap", window("all", "2024-03-10T02:30", "2024-03-10T04:00"),
     ("affected.windows[0].start", "2024-03-10 02:30 does not exist in America/New_York",
      "write the time the clocks showed")),
    ("dst-twice", window("all", "2024-11-03T01:30", "2024-11-03T03:00"),
     ("affected.windows[0].start", "2024-11-03 01:30 happens twice in America/New_York",
      "2024-11-03T01:30-04:00 (the first) or 2024-11-03T01:30-05:00 (the second)")),
]
TIMEZONES = {"dst-gap": "America/New_York", "dst-twice": "America/New_York"}


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = small_project(tmp_path_factory.mktemp("names") / "project")
    for name, body, _expect in REFUSED:
        incident(root, name, body, tz=TIMEZONES.get(name, "Asia/Seoul"))
    return root


@pytest.fixture(scope="module")
def good_out(project: Path) -> Path:
    return good_report(project, project.parent / "reports")


def summary_of(out: Path, iid: str) -> dict:
    return json.loads((out / iid / "summary.json").read_text(encoding="utf-8"))


@pytest.mark.parametrize(("name", "body", "expect"), REFUSED, ids=[c[0] for c in REFUSED])
def test_unmatched_names_and_bad_windows_are_refused(name: str, body: str, expect: tuple[str, ...], project: Path,
                                                     good_out: Path) -> None:
    before = snapshot(good_out)
    for args in (("validate", f"incidents/{name}.yml"),
                 ("run", f"incidents/{name}.yml", "--no-report", "--out", good_out)):
        proc = kt(*args, cwd=project)
        assert_refused(proc, f"{name}.yml", *expect)
    assert snapshot(good_out) == before
    assert not (good_out / f"names-{name}").exists()


def test_windows_file_names_are_matched_row_by_row(project: Path, good_out: Path) -> None:
    """A windows file with a facility the roster lacks and one in another case: both refused, each
    with its line, in one message; the rows that match are not enough to publish."""
    (project / "windows" / "names.csv").write_text(
        "facility_id,service,start,end\n"
        "F1,mobile,2024-03-04T10:00,2024-03-04T12:00\n"
        "F-99,,2024-03-04T10:00,2024-03-04T12:00\n"
        "f2,,2024-03-04T10:00,2024-03-04T12:00\n"
        "F-99,,2024-03-05T10:00,2024-03-05T12:00\n", encoding="utf-8")
    path = incident(project, "wfile", "  windows_file: windows/names.csv\n")
    before = snapshot(good_out)
    for args in (("validate", path), ("run", path, "--no-report", "--out", good_out)):
        proc = kt(*args, cwd=project)
        assert_refused(proc, "names.csv: line 3", "`F-99`", "(also at line 5)", "names.csv: line 4", "`f2`",
                       "did you mean `F2`?")
        assert len(proc.stderr.splitlines()) == 2, proc.stderr
    assert snapshot(good_out) == before


def test_validate_lists_every_problem_at_once(project: Path) -> None:
    """Three independent mistakes in one incident (a window without where, an unknown key, a bad
    time zone of a second window's time) and an unmatched name: listed together."""
    path = incident(project, "many", (
        "  windows:\n"
        "    - {start: 2024-03-04T10:00, end: 2024-03-04T12:00}\n"
        "    - {start: 2024-03-04T10:00, end: 2024-03-04T12:00Z, where: all}\n"
        "  colour: red\n"))
    proc = kt("validate", path, cwd=project)
    assert_refused(proc, "affected.windows[0].where: is missing", "affected.windows[1].end",
                   "another time zone", "affected.colour: is not a known key")
    assert len(proc.stderr.splitlines()) == 3, proc.stderr
    path = incident(project, "many-names", window("{regions: [부산시, 대구]}") + (
        "    - {start: 2024-03-04T10:00, end: 2024-03-04T12:00, where: {facilities: [F7]}}\n"))
    proc = kt("validate", path, cwd=project)
    assert_refused(proc, "`부산시`", "`대구`", "`F7`")
    assert len(proc.stderr.splitlines()) == 3, proc.stderr


# --- accepted: the same name in another form, and what is allowed ------------------------------------


@pytest.mark.parametrize("written", [NFD_BUSAN, " 부산", "부산\u00a0", "\u3000부산", "\u200b부산"],
                         ids=["nfd", "leading-space", "nbsp", "ideographic-space", "zero-width"])
def test_the_same_region_in_another_form_matches(written: str, project: Path, tmp_path: Path) -> None:
    """Only line 3 is in 부산: 55,000 won × 2 h × 10 / 720 h = 1,527 won, however the name is written."""
    path = incident(project, f"form-{abs(hash(written))}", window(json.dumps({"regions": [written]})))
    proc = kt("run", path, "--no-report", "--out", tmp_path, cwd=project)
    assert proc.returncode == 0, proc.stderr
    (summary,) = [json.loads(p.read_text(encoding="utf-8")) for p in tmp_path.glob("*/summary.json")]
    assert (summary["affected_lines"], summary["total_credit_krw"]) == (1, 55_000 * 120 * 10 // 43_200)
    assert summary["reach"][0]["lines"] == 1 and summary["unmatched_names"] == []


@pytest.mark.parametrize("stored", [NFD_BUSAN, "부산 ", "부산\u00a0", " 부산\u200b"],
                         ids=["nfd", "trailing-space", "nbsp", "space-and-zero-width"])
def test_roster_names_in_another_form_match(stored: str, project: Path, tmp_path: Path) -> None:
    """The roster (Parquet: its text is not trimmed on the way in) writes 부산 otherwise; the
    incident's NFC 부산 still reaches line 3 — and the ledger keeps the roster's own value."""
    frame = pd.read_csv(project / "roster.csv")
    frame.loc[frame["region"] == "부산", "region"] = stored
    roster = tmp_path / "roster.parquet"
    frame.to_parquet(roster, index=False)
    path = incident(project, f"stored-{abs(hash(stored))}", window("{regions: [부산]}"))
    proc = kt("run", path, "--roster", roster, "--no-report", "--out", tmp_path / "out", cwd=project)
    assert proc.returncode == 0, proc.stderr
    (folder,) = [p.parent for p in (tmp_path / "out").glob("*/summary.json")]
    summary = summary_of(tmp_path / "out", folder.name)
    assert (summary["affected_lines"], summary["total_credit_krw"]) == (1, 1_527)
    assert duckdb.sql(f"SELECT line_id FROM '{folder / 'ledger.parquet'}'").fetchall() == [(3,)]


def test_allow_unmatched_lists_the_names_and_empty_windows(project: Path, tmp_path: Path) -> None:
    """A windows file shared between rosters: the incident says so, the run goes on with the lines
    that match, and the summary lists each unmatched name with where it was written and each
    window's reach (0 for the one that reached nothing)."""
    path = incident(project, "allowed", "  allow_unmatched: true\n" + window("{regions: [서울, 울릉도]}") + (
        "    - {start: 2024-03-04T10:00, end: 2024-03-04T12:00, where: {facilities: [F-99]}}\n"))
    proc = kt("run", path, "--out", tmp_path, cwd=project)  # with the report: it lists them too
    assert proc.returncode == 0, proc.stderr
    summary = summary_of(tmp_path, "names-allowed")
    assert (summary["affected_lines"], summary["total_credit_krw"]) == (3, 3_332)
    assert [(u["column"], u["value"], u["at"]) for u in summary["unmatched_names"]] == [
        ("region", "울릉도", ["incidents/allowed.yml: affected.windows[0]"]),
        ("facility_id", "F-99", ["incidents/allowed.yml: affected.windows[1]"]),
    ]
    assert [(r["at"], r["lines"], r["customers"]) for r in summary["reach"]] == [
        ("incidents/allowed.yml: affected.windows[0]", 3, 2),
        ("incidents/allowed.yml: affected.windows[1]", 0, 0),
    ]
    html = (tmp_path / "names-allowed" / "report.html").read_text(encoding="utf-8")
    assert "명부에 없는 이름 (2개" in html
    assert "<code>울릉도</code>" in html and "<code>F-99</code>" in html
    assert "<th>닿은 회선</th>" in html


def test_reach_per_window_counts_lines_and_customers(project: Path, tmp_path: Path) -> None:
    """Three windows: 서울 (lines 1, 2, 5; customers 101, 104), F1 mobile (line 1), everywhere
    (all five lines, four customers — the incident's own figure)."""
    path = incident(project, "reach", window("{regions: [서울]}") + (
        "    - {start: 2024-03-04T13:00, end: 2024-03-04T14:00, where: {facilities: [F1]}, services: [mobile]}\n"
        "    - {start: 2024-03-05T10:00, end: 2024-03-05T10:30, where: all}\n"))
    proc = kt("run", path, "--no-report", "--out", tmp_path, cwd=project)
    assert proc.returncode == 0, proc.stderr
    summary = summary_of(tmp_path, "names-reach")
    assert [(r["where"], r["lines"], r["customers"]) for r in summary["reach"]] == [
        ("regions 서울", 3, 2), ("facilities F1; services mobile", 1, 1), ("all", 5, 4),
    ]
    assert summary["affected_customers"] == 4


def test_minutes_are_counted_between_instants_across_a_clock_change(project: Path, tmp_path: Path) -> None:
    """New York, 2024-03-10: clocks jump from 02:00 to 03:00. 01:00-04:00 on the wall is 120 minutes
    of outage, not 180; on 2024-11-03 (clocks go back) 00:30-01:30-05:00 (the second 01:30) is 120."""
    spring = incident(project, "dst-spring", window("all", "2024-03-10T01:00", "2024-03-10T04:00"),
                      tz="America/New_York")
    autumn = incident(project, "dst-autumn", window("all", "2024-11-03T00:30", "2024-11-03T01:30-05:00"),
                      tz="America/New_York")
    for path, iid in ((spring, "names-dst-spring"), (autumn, "names-dst-autumn")):
        proc = kt("run", path, "--no-report", "--out", tmp_path, cwd=project)
        assert proc.returncode == 0, proc.stderr
        ledger = tmp_path / iid / "ledger.parquet"
        minutes = {m for (m,) in duckdb.sql(f"SELECT DISTINCT outage_minutes FROM '{ledger}'").fetchall()}
        assert minutes == {120}, (iid, minutes)
        summary = summary_of(tmp_path, iid)
        assert summary["total_credit_krw"] == sum(fee * 120 * 10 // 43_200 for fee in (72_000, 33_000, 55_000, 0,
                                                                                         15_000))


def test_an_incident_id_that_looks_like_a_phone_number_is_refused(project: Path, good_out: Path) -> None:
    """The id names the output folder and shows in the index: a phone number pasted there would
    travel unmasked, so it is refused, and the message itself shows it masked."""
    text = HEAD.format(id="010-9876-5432", tz="Asia/Seoul", roster="roster.csv") + window("all")
    (project / "incidents" / "phone-id.yml").write_text(text, encoding="utf-8")
    before = snapshot(good_out)
    for args in (("validate", "incidents/phone-id.yml"),
                 ("run", "incidents/phone-id.yml", "--no-report", "--out", good_out)):
        proc = kt(*args, cwd=project)
        assert_refused(proc, "phone-id.yml", "id: '010-****-5432' looks like a phone number", "name the incident")
        assert "9876" not in proc.stderr
    assert snapshot(good_out) == before and not (good_out / "010-9876-5432").exists()


# ------------------------------------------------------------------------------------------------
# Plans a policy excludes (exclude_plans) must be plans of the roster, as an incident's names must
# ------------------------------------------------------------------------------------------------

NFD_PSTN = unicodedata.normalize("NFD", "일반전화 기본") + " "  # the roster's spelling: NFD, a trailing space
PLAN_ROSTER = ("line_id,customer_id,service,monthly_fee_krw,region,facility_id,customer_type,payment_method,"
               "bill_cycle_day,plan\n"
               "1,101,mobile,72000,서울,F1,individual,credit_card,11,5G 슬림\n"
               "2,101,internet,33000,서울,F1,individual,credit_card,11,인터넷 500M\n"
               "3,102,mobile,55000,부산,F2,small_business,check_card,11,LTE 베이직\n"
               "4,103,iptv,0,제주,F3,enterprise,bank_transfer,25,지니 TV 베이직\n"
               f"5,104,landline,15000,서울,F4,individual,giro,19,\"{NFD_PSTN}\"\n")


def plan_case(project: Path, name: str, plans: str, roster: str = "plans.csv") -> str:
    """An incident on the good incident's window whose policy (bad-corpus-10x's rules) excludes ``plans``."""
    (project / "plans.csv").write_text(PLAN_ROSTER, encoding="utf-8")
    (project / "data" / "policies" / f"plans-{name}.yml").write_text(
        f"id: plans-{name}\ntitle: 시험용 — 요금제 제외\nservices: [mobile, internet, iptv, landline]\n"
        f"exclude_plans: {plans}\nhourly_fee: {{hours_per_month: 720}}\n"
        "credit:\n  outage_multiplier: 10\n  rounding: {unit_krw: 1, mode: floor}\n", encoding="utf-8")
    text = HEAD.format(id=f"plans-{name}", tz="Asia/Seoul", roster=roster).replace(
        "policy: bad-corpus-10x", f"policy: plans-{name}") + window("{regions: [서울]}")
    (project / "incidents" / f"plans-{name}.yml").write_text(text, encoding="utf-8")
    return f"incidents/plans-{name}.yml"


@pytest.mark.parametrize(("plans", "roster", "expect"), [
    ("[일반전화 기븐]", "plans.csv",
     ("plans-typo.yml: exclude_plans[0]: `일반전화 기븐`: no line of the roster plans.csv has this plan",
      "did you mean `일반전화 기본`?", "letter case counts")),
    ("[일반전화 기본, 5g 슬림, 무선 전화]", "plans.csv",
     ("exclude_plans[1]: `5g 슬림`", "did you mean `5G 슬림`?", "exclude_plans[2]: `무선 전화`")),
    ("[일반전화 기본]", "roster.csv",
     ("plans-no-column.yml: exclude_plans: names plans, but the roster roster.csv has no plan column",
      "add the lines' plan")),
], ids=["typo", "case-and-unknown", "no-column"])
def test_a_plan_the_roster_does_not_have_is_refused(plans: str, roster: str, expect: tuple[str, ...],
                                                    project: Path, good_out: Path) -> None:
    """A policy leaving out a plan no roster line has would pay the lines it meant to leave out: the
    run (and validate) stops with exit 2 naming the policy file, the key, the value and the roster's
    closest plans, and publishes nothing."""
    name = {"plans.csv": "typo" if "기븐" in plans else "case-and-unknown", "roster.csv": "no-column"}[roster]
    path = plan_case(project, name, plans, roster)
    before = snapshot(good_out)
    for args in (("validate", path), ("run", path, "--no-report", "--out", good_out)):
        proc = kt(*args, cwd=project)
        assert_refused(proc, *expect)
        if name == "case-and-unknown":
            assert len(proc.stderr.splitlines()) == 2, proc.stderr  # both names, one line each
    assert snapshot(good_out) == before
    assert not (good_out / f"plans-{name}").exists()


def test_excluded_plans_match_the_roster_spelling(project: Path, tmp_path: Path) -> None:
    """`일반전화 기본` typed in NFC reaches the roster's NFD spelling with a trailing space: that line
    gets nothing (plan_not_covered); the others are paid as by bad-corpus-10x (3,332 − 416 won)."""
    path = plan_case(project, "nfc", "[일반전화 기본]")
    out = tmp_path / "out"
    proc = kt("run", path, "--no-report", "--out", out, cwd=project)
    assert proc.returncode == 0, proc.stderr
    s = summary_of(out, "plans-nfc")
    assert (s["affected_lines"], s["eligible_lines"], s["total_credit_krw"]) == (3, 2, 2_916)
    ledger = pd.read_parquet(out / "plans-nfc" / "ledger.parquet").set_index("line_id")
    assert (ledger.loc[5, "eligible"], ledger.loc[5, "eligibility_reason"], ledger.loc[5, "rule"],
            ledger.loc[5, "credit_krw"]) == (False, "plan_not_covered", "not_covered", 0)
    # the catalogue's kt-2021-10-25-special (it excludes the PSTN plans, which this roster has by
    # the NFD spelling) is compared too, or left out for want of bill items, never refused
    assert "kt-2021-10-25-special" in {r["policy_id"] for r in (*s["what_if"], *s["what_if_skipped"])}


def test_a_what_if_policy_excluding_plans_the_roster_lacks_is_left_out(project: Path, tmp_path: Path) -> None:
    """The good incident's roster has no plan column: its own policy runs, and a catalogue policy that
    excludes plans is left out of the what-if with the reason (summary.json), not refused."""
    (project / "data" / "policies" / "plans-what-if.yml").write_text(
        "id: plans-what-if\ntitle: 시험용 — 요금제 제외 (what-if)\nservices: [mobile, internet, iptv, landline]\n"
        "exclude_plans: [일반전화 기본]\nhourly_fee: {hours_per_month: 720}\n"
        "credit:\n  outage_multiplier: 10\n", encoding="utf-8")
    out = tmp_path / "out"
    try:
        proc = kt("run", "incidents/good.yml", "--no-report", "--out", out, cwd=project)
    finally:
        (project / "data" / "policies" / "plans-what-if.yml").unlink()
    assert proc.returncode == 0, proc.stderr
    s = summary_of(out, "bad-corpus-good")
    assert s["total_credit_krw"] == 3_332
    skipped = {k["policy_id"]: k["reason"] for k in s["what_if_skipped"]}
    assert "plans-what-if" not in {r["policy_id"] for r in s["what_if"]}
    assert "요금제(plan) 열이 없어" in skipped["plans-what-if"]
