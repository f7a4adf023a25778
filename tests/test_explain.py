"""One line explained (issue #16): the explanation recomputes the ledger's decisions in integers and
agrees with it on every line; the command prints it (text, JSON), refuses an unknown line with exit 2,
and never shows a name or phone number."""

from __future__ import annotations

import json
import re
from pathlib import Path

import duckdb
import pyarrow.parquet as pq
import pytest
from conftest import Project, make_roster
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kt_analysis.cli import main
from kt_analysis.dbrow import quote
from kt_analysis.errors import InputError
from kt_analysis.inputs.incident import load_incident
from kt_analysis.jobs.analyse import analyse
from kt_analysis.report import explain as explain_module
from kt_analysis.report.explain import ExplanationMismatch, LineExplainer, explain_line

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = ("kt-2021-10-25-nationwide", "kt-2018-11-24-ahyeon-fire", "kt-2024-08-10-landline")

INCIDENT = """
id: test-explain
title: 시험 장애
kind: outage
timezone: Asia/Seoul
policy: {policy}
roster: ../roster.parquet
affected:
  windows:
    - {{start: 2024-08-10T06:15, end: 2024-08-10T16:20, where: {{regions: [서울]}}}}
    - start: 2024-08-10T15:00
      end: 2024-08-10T18:00
      services: [mobile, internet]
      where: {{facilities: [F-01, F-02]}}
    - {{start: 2024-08-31T23:00, end: 2024-09-01T01:30, where: {{regions: [부산]}}}}
    - {{start: 2024-08-10T10:00, end: 2024-08-10T11:30, where: {{regions: [대전]}}}}
    - {{start: 2024-08-12T10:00, end: 2024-08-12T11:20, where: {{regions: [대전]}}}}
"""

# Every kind of step: days-in-month hours, rounding the outage half up to 30 min, a fixed tier added
# for small businesses, a replacing override with its own thresholds, 10-won half-up rounding.
POLICY = """
id: test-explain-policy
title: 시험 정책
sources: [https://example.com/terms]
services: [mobile, internet, landline]
eligibility:
  min_continuous_minutes: 120
  min_monthly_cumulative_minutes: 180
  monthly_cumulative_exceeds: true
hourly_fee:
  hours_per_month: days_in_month
credit:
  outage_multiplier: 3
  billable_time: {unit_minutes: 30, mode: half_up, applies_to: outage}
  overrides:
    - when: {customer_type: small_business}
      combine: add
      tiers_by_outage_days:
        - {from_days: 1, krw: 5000}
        - {from_days: 2, krw: 9000}
    - when: {services: [landline]}
      eligibility: {min_continuous_minutes: 60}
      days_of_fee: 2
  rounding: {unit_krw: 10, mode: half_up}
delivery:
  method: bill_credit
  claim_required: false
  applied_on: next_bill
"""

# The 2021 rule on the roster's fee: the brief's worked example.
POLICY_2021 = """
id: test-2021
title: 15시간분
sources: [https://example.com/2021]
services: [mobile, internet, landline]
hourly_fee:
  hours_per_month: 720
credit:
  outage_multiplier: 10
  billable_time: {unit_minutes: 60, mode: up, applies_to: multiplied}
  rounding: {unit_krw: 1, mode: floor}
delivery:
  method: bill_credit
  claim_required: false
  applied_on: next_bill
"""

HYP = settings(max_examples=40, deadline=None,
               suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])


def ledger_rows(run: Path) -> dict[int, dict]:
    table = pq.read_table(run / "ledger.parquet").to_pylist()
    return {int(r["line_id"]): r for r in table}


def agree(ex: LineExplainer, line_id: int, row: dict | None) -> None:
    """The explanation of ``line_id`` says what the ledger says (None: the ledger has no such line)."""
    e = ex.explain(line_id)
    if row is None:
        assert not e.reached and e.credit_krw == 0 and e.not_reached
        return
    assert e.reached
    assert (e.eligible, e.eligibility_reason, e.rule, e.credit_krw) == (
        row["eligible"], row["eligibility_reason"], row["rule"], row["credit_krw"])
    assert e.outage_minutes == row["outage_minutes"]
    if row["credit_krw"]:
        assert e.formula.endswith(f"{row['credit_krw']:,}원") or f"= {row['credit_krw']:,}원 (" in e.formula
        assert f"보상액: {row['credit_krw']:,}원" in e.text()


# ----- constructed incidents ---------------------------------------------------------------------

@pytest.fixture(scope="module")
def small(tmp_path_factory):
    root = tmp_path_factory.mktemp("explain")
    proj = Project(root)
    frame = make_roster(400, seed=7)
    frame.loc[frame.index[0], "monthly_fee_krw"] = 72_000
    frame.loc[frame.index[0], "region"] = "서울"
    proj.roster(frame)
    proj.policy("test-explain-policy", POLICY)
    proj.policy("test-2021", POLICY_2021)
    out = {}
    for name in ("test-explain-policy", "test-2021"):
        path = proj.incident(f"explain-{name}", INCIDENT.format(policy=name).replace("id: test-explain",
                                                                                     f"id: explain-{name}"))
        inc = load_incident(path)
        run = root / "runs" / inc.id
        analyse(inc, run)
        out[name] = (inc, run, path)
    return {"root": root, "frame": frame, "runs": out}


@pytest.mark.parametrize("policy", ["test-explain-policy", "test-2021"])
def test_every_line_of_a_small_incident_agrees_with_the_ledger(small, policy):
    inc, run, _ = small["runs"][policy]
    rows = ledger_rows(run)
    reasons, rules = set(), set()
    with LineExplainer(inc, run) as ex:
        for line_id in small["frame"]["line_id"]:
            row = rows.get(int(line_id))
            agree(ex, int(line_id), row)
            if row is not None:
                reasons.add(row["eligibility_reason"])
                rules.add(row["rule"])
    if policy == "test-explain-policy":  # the constructed incident reaches every branch
        assert {"continuous", "below_threshold", "service_not_covered"} <= reasons
        assert {"base", "override 1", "override 2", "not_covered"} <= rules


def test_the_worked_example_of_2021(small):
    """72,000 won a month, 89 minutes × 10 = 890 → 900 minutes (15 h): 72,000 ÷ 720 × 15 = 1,500 won."""
    inc, _, _ = small["runs"]["test-2021"]
    month = 720 * 60
    numbers = explain_module.Numbers(fee=72_000, n=1, month_minutes=month, outage=89, days=1,
                                     fee_label="월 요금 72,000원")
    parts = explain_module.rule_parts(inc.credit_policy.credit, numbers, "보상")
    credit = explain_module.round_div(sum(p.numerator for p in parts), month, 1, "floor")
    assert credit == 1_500
    assert explain_module.formula(parts, month, credit, 1, "floor") == (
        "월 요금 72,000원 ÷ 720시간 × 15시간(89분 × 10배 = 890분 → 시간 단위 올림 900분) = 1,500원 (원 단위 내림)")


def test_overlapping_windows_are_counted_once(small):
    inc, run, _ = small["runs"]["test-explain-policy"]
    frame = small["frame"]
    both = frame[(frame["region"] == "서울") & frame["facility_id"].isin(["F-01", "F-02"])
                 & frame["service"].isin(["mobile", "internet"])]
    assert len(both)
    e = explain_line(inc, run, int(both["line_id"].iloc[0]))
    assert len(e.windows) == 2 and e.outage_minutes == 705  # 06:15-16:20 and 15:00-18:00 merge to 06:15-18:00
    assert "겹치는 구간은 한 번만" in e.merged_note


def test_a_line_not_reached_says_why(small):
    inc, run, _ = small["runs"]["test-explain-policy"]
    frame = small["frame"]
    far = frame[(frame["region"] == "제주") & ~frame["facility_id"].isin(["F-01", "F-02"])]
    e = explain_line(inc, run, int(far["line_id"].iloc[0]))
    assert not e.reached and e.credit_krw == 0
    assert "장애 영향 없음" in e.text()
    assert any("서비스·지역·국사" in w or "지역" in w for w in e.not_reached)


def test_an_unknown_line_is_refused_with_the_closest_ids(small):
    inc, run, _ = small["runs"]["test-explain-policy"]
    with pytest.raises(InputError) as err:
        explain_line(inc, run, 10)
    assert "is not a line of this roster" in err.value.message
    assert str(int(small["frame"]["line_id"].min())) in err.value.message
    with pytest.raises(InputError):
        explain_line(inc, run, "12ab")


def test_a_wrong_rounding_is_refused_not_shown(small, monkeypatch):
    """Break the explanation on purpose: billable minutes rounded down instead of as the policy says.
    The ledger check refuses it (what the agreement tests would then fail on)."""
    inc, run, _ = small["runs"]["test-2021"]
    rows = ledger_rows(run)
    line_id = next(i for i, r in rows.items() if r["credit_krw"] > 0)
    monkeypatch.setattr(explain_module, "_round_minutes", lambda m, unit, mode: m // unit * unit)
    with pytest.raises(ExplanationMismatch, match="disagrees with the ledger"):
        explain_line(inc, run, line_id)


def test_a_tampered_ledger_is_refused(small, tmp_path):
    inc, run, _ = small["runs"]["test-explain-policy"]
    rows = ledger_rows(run)
    line_id = next(i for i, r in rows.items() if r["credit_krw"] > 0)
    bad = tmp_path / "run"
    bad.mkdir()
    duckdb.execute(f"COPY (SELECT * REPLACE (CASE WHEN line_id = {line_id} THEN credit_krw + 1 ELSE credit_krw END "
                   f"AS credit_krw) FROM read_parquet({quote(run / 'ledger.parquet')})) TO "
                   f"{quote(bad / 'ledger.parquet')} (FORMAT parquet)")
    with pytest.raises(ExplanationMismatch):
        explain_line(inc, bad, line_id)


def test_the_view_shows_the_explanation_as_html(small):
    from kt_analysis.report.view import IncidentView
    from kt_analysis.summary.model import load_summary

    inc, run, _ = small["runs"]["test-explain-policy"]
    view = IncidentView(incident=inc, run_dir=run, summary=load_summary(run / "summary.json"), command="")
    line_id = next(i for i, r in ledger_rows(run).items() if r["credit_krw"] > 0)
    html = view.explain(line_id)
    assert html._repr_html_().startswith('<div class="kt-explain">')
    assert "보상액" in html and "<script" not in html


# ----- the command ---------------------------------------------------------------------------------

def personal(frame) -> list[str]:
    return [*frame["name"].astype(str), *frame["phone"].astype(str)]


def test_cli_text_json_and_refusal(small, capsys, tmp_path):
    inc, run, path = small["runs"]["test-explain-policy"]
    frame = small["frame"]
    line_id = next(i for i, r in ledger_rows(run).items() if r["credit_krw"] > 0)
    out = tmp_path / "reports"  # nothing published there: computed now
    assert main(["explain", str(path), str(line_id), "--out", str(out)]) == 0
    text = capsys.readouterr().out
    assert f"회선 {line_id}" in text and "계산:" in text and "보상액:" in text
    assert main(["explain", str(path), str(line_id), "--out", str(out), "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["line_id"] == line_id and data["credit_krw"] == ledger_rows(run)[line_id]["credit_krw"]
    assert data["run"] == "computed now"
    shown = text + json.dumps(data, ensure_ascii=False)
    row = frame[frame["line_id"] == line_id].iloc[0]
    assert row["name"] not in shown and row["phone"] not in shown
    assert not re.search(r"01\d-\d{3,4}-\d{4}", shown)
    assert main(["explain", str(path), "7", "--out", str(out)]) == 2
    captured = capsys.readouterr()
    assert captured.out == "" and "is not a line of this roster" in captured.err
    assert "Traceback" not in captured.err


# ----- the sample incidents ------------------------------------------------------------------------

@pytest.fixture(scope="module")
def samples(tmp_path_factory):
    out = tmp_path_factory.mktemp("samples")
    runs = {}
    for name in SAMPLES:
        inc = load_incident(ROOT / "data" / "incidents" / f"{name}.yml")
        analyse(inc, out / name)
        runs[name] = (inc, out / name, ledger_rows(out / name))
    roster_ids = [int(i) for (i,) in duckdb.execute(
        f"SELECT line_id FROM read_parquet({quote(ROOT / 'data' / 'sample' / 'roster.parquet')})").fetchall()]
    return runs, roster_ids


@pytest.mark.parametrize("name", SAMPLES)
def test_explanations_agree_with_the_sample_ledgers(samples, name):
    runs, roster_ids = samples
    inc, run, rows = runs[name]
    in_ledger = sorted(rows)

    with LineExplainer(inc, run) as ex:
        @HYP
        @given(st.one_of(st.sampled_from(in_ledger), st.sampled_from(roster_ids)))
        def check(line_id):
            agree(ex, line_id, rows.get(line_id))

        check()


def test_every_eligible_landline_line_agrees(samples):
    runs, _ = samples
    inc, run, rows = runs["kt-2024-08-10-landline"]
    eligible = [i for i, r in rows.items() if r["eligible"]]
    assert len(eligible) > 100
    with LineExplainer(inc, run) as ex:
        for line_id in eligible:
            agree(ex, line_id, rows[line_id])


def test_sample_merchant_and_nationwide_lines(samples, capsys):
    runs, _ = samples
    inc, run, rows = runs["kt-2018-11-24-ahyeon-fire"]
    merchant = min(i for i, r in rows.items() if r["rule"] == "override 1")
    e = explain_line(inc, run, merchant)
    assert "신청한 경우에만" in e.formula and e.fee_months == 3 and len(e.fee_detail) == 3
    inc, run, rows = runs["kt-2021-10-25-nationwide"]
    base = min(i for i, r in rows.items() if r["rule"] == "base" and r["credit_krw"] > 0)
    e = explain_line(inc, run, base)
    assert "89분 × 10배 = 890분 → 시간 단위 올림 900분" in e.formula
    roster = pq.read_table(ROOT / "data" / "sample" / "roster.parquet",
                           filters=[("line_id", "in", [base, merchant])]).to_pandas()
    text = e.text() + explain_line(*runs["kt-2018-11-24-ahyeon-fire"][:2], merchant).text()
    for value in personal(roster):
        assert value not in text
