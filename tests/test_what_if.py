"""What-if without files (issue #16): an incident under another policy or changed rules, from Python
(kt.what_if, kt.sensitivity) and from the CLI (run --policy/--set): changes are checked as a policy
file is, figures come from the run's engine, and nothing touches the incident's report or history."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import Project, small_roster

import kt_analysis as kt
from kt_analysis.cli import main
from kt_analysis.errors import InputError
from kt_analysis.jobs import history
from kt_analysis.jobs.what_if import WHAT_IF_DIR, apply_changes, parse_set, what_if_folder

ROOT = Path(__file__).resolve().parents[1]
LANDLINE = ROOT / "data" / "incidents" / "kt-2024-08-10-landline.yml"

POLICY = """
id: tiny
title: 시험 정책
services: [mobile, internet, iptv, landline]
eligibility:
  min_continuous_minutes: 120
hourly_fee:
  hours_per_month: 720
credit:
  outage_multiplier: 10
  billable_time: {unit_minutes: 60, mode: up, applies_to: outage}
  rounding: {unit_krw: 1, mode: floor}
"""
OTHER = POLICY.replace("id: tiny", "id: tiny-other").replace("outage_multiplier: 10", "outage_multiplier: 3")
INCIDENT = """
id: tiny-outage
title: 시험 장애
kind: outage
timezone: Asia/Seoul
policy: tiny
roster: ../roster.parquet
affected:
  windows:
    - {start: 2024-08-10T06:00, end: 2024-08-10T09:00, where: all}
"""
FEES = [int(f) for f in small_roster()["monthly_fee_krw"]]  # 72,000 / 25,000 / 33,000 / 0 won


def hand_total(multiplier: int, minutes: int = 180, threshold: int = 120) -> int:
    """Σ floor(fee × hours × multiplier ÷ 720) over the lines: 3 h out, each line one credit."""
    if minutes < threshold:
        return 0
    hours = math.ceil(minutes / 60)
    return sum(fee * hours * multiplier // 720 for fee in FEES)


@pytest.fixture
def tiny(tmp_path: Path) -> Path:
    proj = Project(tmp_path)
    proj.roster(small_roster())
    proj.policy("tiny", POLICY)
    proj.policy("tiny-other", OTHER)
    return proj.incident("tiny-outage", INCIDENT)


def test_changes_are_applied_and_match_a_hand_computation(tiny: Path) -> None:
    own = kt.what_if(tiny, out=None)
    assert own.total_credit_krw == hand_total(10) == 5_416
    for m in (8, 10, 3):
        r = kt.what_if(tiny, changes={"credit.outage_multiplier": m}, out=None)
        assert (r.total_credit_krw, r.eligible_lines) == (hand_total(m), 4), m  # the 0-won line too
        assert isinstance(r.total_credit_krw, int)
    r = kt.what_if(tiny, changes={"eligibility.min_continuous_minutes": 240}, out=None)
    assert (r.eligible_lines, r.total_credit_krw) == (0, 0)
    assert "credit.outage_multiplier" not in r.changes and "가정 변경" in r.policy_title
    other = kt.what_if(tiny, policy="tiny-other", out=None)
    assert (other.policy_id, other.total_credit_krw) == ("tiny-other", hand_total(3))
    assert other.by_service["total_credit_krw"].sum() == other.total_credit_krw
    assert other.by_service.dtypes.unique().tolist() == [np.dtype("int64")]


def test_sample_multiplier_ratio() -> None:
    """Multiplier 8 against 10 on the landline sample: the total scales by 8/10, up to each
    eligible line's own rounding down to the won."""
    r10 = kt.what_if(LANDLINE, changes={"credit.outage_multiplier": 10}, out=None)
    r8 = kt.what_if(LANDLINE, changes={"credit.outage_multiplier": 8}, out=None)
    assert r8.eligible_lines == r10.eligible_lines > 0
    assert 0 <= r10.total_credit_krw * 8 / 10 - r8.total_credit_krw < r8.eligible_lines


@pytest.mark.parametrize(("changes", "near"), [
    ({"credit.outage_multipler": 8}, "credit.outage_multiplier"),
    ({"eligibility.min_continous_minutes": 60}, "eligibility.min_continuous_minutes"),
    ({"outage_multiplier": 8}, "credit.outage_multiplier"),
    ({"credit.overrides[0].outage_multipler": 8}, "credit.overrides[0].outage_multiplier"),
    ({"credit.billable_time": {"unit_minute": 30}}, "credit.billable_time.unit_minutes"),
])
def test_unknown_path_refused_with_the_closest(tiny: Path, changes: dict, near: str) -> None:
    with pytest.raises(InputError) as err:
        kt.what_if(tiny, changes=changes, out=None)
    assert f"did you mean {near}" in str(err.value)


@pytest.mark.parametrize(("changes", "problem"), [
    ({"credit.outage_multiplier": "8"}, "must be a whole number"),
    ({"credit.outage_multiplier": 8.0}, "must be a whole number"),
    ({"credit.outage_multiplier": 101}, "above the maximum"),
    ({"credit.rounding.mode": "down"}, "not one of floor, ceil, half_up"),
    ({"eligibility": 5}, "must be a mapping"),
    ({"credit.overrides[2].outage_multiplier": 3}, "credit.overrides is missing"),
    ({"services": ["fax"]}, "not one of"),
])
def test_wrong_type_or_value_refused(tiny: Path, changes: dict, problem: str) -> None:
    with pytest.raises(InputError) as err:
        kt.what_if(tiny, changes=changes, out=None)
    assert problem in str(err.value)


def test_changes_do_not_touch_the_mapping_and_none_removes() -> None:
    doc = {"credit": {"outage_multiplier": 10}, "eligibility": {"min_continuous_minutes": 120}}
    out = apply_changes(doc, {"eligibility.min_continuous_minutes": None, "credit.rounding.unit_krw": np.int64(10)})
    assert doc == {"credit": {"outage_multiplier": 10}, "eligibility": {"min_continuous_minutes": 120}}
    assert out == {"credit": {"outage_multiplier": 10, "rounding": {"unit_krw": 10}}, "eligibility": {}}
    assert type(out["credit"]["rounding"]["unit_krw"]) is int
    assert parse_set(["credit.outage_multiplier=8", "services=[landline, internet]",
                      "eligibility.min_continuous_minutes="]) == {
        "credit.outage_multiplier": 8, "services": ["landline", "internet"], "eligibility.min_continuous_minutes": None}
    with pytest.raises(InputError, match="did you mean eligibility.min_continuous_minutes"):
        parse_set(["eligibility.min_continuos_minutes=1"])


def test_sensitivity_grid_equals_single_runs(tiny: Path) -> None:
    grid = {"credit.outage_multiplier": [5, 8, 10], "eligibility.min_continuous_minutes": [60, 240]}
    frame = kt.sensitivity(tiny, grid=grid, out=None)
    assert frame.shape == (3, 2) and frame.dtypes.unique().tolist() == [np.dtype("int64")]
    assert frame.index.name == "credit.outage_multiplier"
    assert frame.columns.name == "eligibility.min_continuous_minutes"
    for m in grid["credit.outage_multiplier"]:
        for t in grid["eligibility.min_continuous_minutes"]:
            single = kt.what_if(tiny, changes={"credit.outage_multiplier": m,
                                               "eligibility.min_continuous_minutes": t}, out=None)
            assert frame.loc[m, t] == single.total_credit_krw == hand_total(m, threshold=t), (m, t)
    fig = kt.sensitivity_heatmap(frame)
    texts = [t.get_text() for t in fig.axes[0].texts]
    assert len(texts) == 6 and "0원" in texts
    with pytest.raises(InputError, match="did you mean credit.outage_multiplier"):
        kt.sensitivity(tiny, grid={"credit.outage_multipler": [1, 2]}, out=None)


def test_sensitivity_on_the_sample() -> None:
    frame = kt.sensitivity(LANDLINE, grid={"credit.outage_multiplier": [5, 8, 10],
                                           "eligibility.min_continuous_minutes": [60, 120, 180]}, out=None)
    assert frame.shape == (3, 3)
    own = kt.what_if(LANDLINE, out=None)
    assert frame.loc[10, 120] == own.total_credit_krw  # the policy's own values: its own total


def test_cli_run_policy_writes_apart(tiny: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "reports"
    assert main(["-q", "run", str(tiny), "--out", str(out), "--no-report"]) == 0
    own = out / "tiny-outage"
    before = {p.name: p.read_bytes() for p in own.iterdir() if p.is_file()}
    recorded = history.history_path(out).read_bytes()
    listing = history.listing(out)
    assert main(["-q", "run", str(tiny), "--out", str(out), "--policy", "tiny-other"]) == 0
    assert main(["-q", "run", str(tiny), "--out", str(out), "--set", "credit.outage_multiplier=8"]) == 0
    printed = capsys.readouterr().out
    assert f"total credit {hand_total(3):,} won" in printed and f"total credit {hand_total(8):,} won" in printed
    assert {p.name: p.read_bytes() for p in own.iterdir() if p.is_file()} == before  # byte-identical
    assert history.history_path(out).read_bytes() == recorded and history.listing(out) == listing
    other = what_if_folder(out, "tiny-outage", "tiny-other", {})
    changed = what_if_folder(out, "tiny-outage", "tiny", {"credit.outage_multiplier": 8})
    assert other == own / WHAT_IF_DIR / "tiny-other" and changed.name.startswith("tiny-")
    for folder in (other, changed):
        assert {p.name for p in folder.iterdir()} == {"ledger.parquet", "summary.json", "what-if.json"}
    assert kt.load_summary(other / "summary.json").total_credit_krw == hand_total(3)
    ledger = pd.read_parquet(changed / "ledger.parquet")
    assert int(ledger["credit_krw"].sum()) == hand_total(8)
    # the incident's own run again: its report is replaced, the what-if runs beside it stay
    assert main(["-q", "run", str(tiny), "--out", str(out), "--no-report"]) == 0
    assert other.is_dir() and changed.is_dir()
    assert [r["incident_id"] for r in history.listing(out)["runs"]] == ["tiny-outage"]


@pytest.mark.parametrize("argv", [
    ["--set", "credit.outage_multipler=8"],
    ["--set", "credit.outage_multiplier=eight"],
    ["--set", "credit.outage_multiplier"],
    ["--set", "credit.outage_multiplier=[1"],
    ["--policy", "tiny-othr"],
    ["--policy", "tiny-other", "--pdf"],
])
def test_cli_bad_input_is_exit_2_without_traceback(tiny: Path, tmp_path: Path, argv: list[str],
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "reports"
    assert main(["-q", "run", str(tiny), "--out", str(out), *argv]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "Traceback" not in err
    assert not (out / "tiny-outage" / WHAT_IF_DIR).exists() or not any((out / "tiny-outage" / WHAT_IF_DIR).iterdir())
