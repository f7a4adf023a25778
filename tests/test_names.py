"""Names: the same name in another Unicode form or with stray spaces matches; another name never
does; a name no roster line has is refused with the roster's closest values. Properties over
generated names and variants, down to the engine's totals."""

from __future__ import annotations

import unicodedata
from dataclasses import replace
from datetime import datetime
from pathlib import Path

import duckdb
import pandas as pd
import pytest
from conftest import ROOT, make_roster, write_parquet
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kt_analysis.errors import InputError, InputErrors
from kt_analysis.inputs.incident import Incident, Window
from kt_analysis.inputs.names import closest, did_you_mean, normalize
from kt_analysis.inputs.policy import load_policy
from kt_analysis.jobs.analyse import analyse
from kt_analysis.rules.impact import check_matches, match_windows

SPACES = [" ", "\t", "\u00a0", "\u3000", "\u2007", "\u202f", "\u200b", "\ufeff", "\u2060"]

# Names as rosters write them: Hangul place names, Latin/digit facility codes.
hangul = st.text(st.characters(min_codepoint=0xAC00, max_codepoint=0xD7A3), min_size=1, max_size=6)
code = st.from_regex(r"[A-Za-z][A-Za-z0-9-]{0,8}", fullmatch=True)
names = st.one_of(hangul, code, st.builds(lambda a, b: f"{a}-{b}", hangul, code))


@st.composite
def variant(draw: st.DrawFn, name: str) -> str:
    """The same name as another system might write it: decomposed, with spaces around."""
    text = unicodedata.normalize(draw(st.sampled_from(["NFC", "NFD"])), name)
    before = "".join(draw(st.lists(st.sampled_from(SPACES), max_size=3)))
    after = "".join(draw(st.lists(st.sampled_from(SPACES), max_size=3)))
    return before + text + after


def incident_over(windows: list[Window], **kw: object) -> Incident:
    policy = load_policy(ROOT / "kt_analysis" / "catalogue" / "policies" / "kt-terms-2022.yml")
    return Incident(id="t", title="t", kind="outage", timezone="Asia/Seoul", policy=policy,
                    roster=Path("roster.parquet"), windows=tuple(windows), path="incident.yml", root=Path.cwd(),
                    **kw)


def keys(regions: list[str]) -> pd.DataFrame:
    return pd.DataFrame({"service": ["mobile"] * len(regions), "region": regions, "lines": [1] * len(regions)})


T0, T1 = datetime(2024, 3, 4, 10), datetime(2024, 3, 4, 12)


@settings(max_examples=200, deadline=None)
@given(data=st.data(), pool=st.lists(names, min_size=1, max_size=6, unique_by=normalize))
def test_variants_of_a_roster_name_match_it_and_nothing_else(data: st.DataObject, pool: list[str]) -> None:
    canonical = [normalize(n) for n in pool]
    if not all(canonical):
        return
    stored = [data.draw(variant(n), label=f"roster {n!r}") for n in canonical]
    target = data.draw(st.sampled_from(canonical))
    written = data.draw(variant(target), label="incident")
    window = Window(T0, T1, regions=(normalize(written),), origin="incident.yml: affected.windows[0]")
    matches = match_windows(incident_over([window]), keys(stored))
    assert matches.unmatched == []
    assert [canonical[i] for i in matches.per_window[0]] == [target]


@settings(max_examples=150, deadline=None)
@given(pool=st.lists(code, min_size=1, max_size=6, unique_by=str.casefold), data=st.data())
def test_a_name_in_another_case_is_refused_with_the_rosters_spelling(pool: list[str], data: st.DataObject) -> None:
    target = data.draw(st.sampled_from(pool))
    other = target.swapcase()
    if other == target:
        return
    window = Window(T0, T1, facilities=(other,), origin="incident.yml: affected.windows[0]")
    frame = pd.DataFrame({"service": ["mobile"] * len(pool), "facility_id": pool, "lines": [1] * len(pool)})
    matches = match_windows(incident_over([window]), frame)
    assert [(u["column"], u["value"]) for u in matches.unmatched] == [("facility_id", other)]
    assert matches.unmatched[0]["fix"] == f"did you mean `{target}`?"
    with pytest.raises(InputError, match=f"`{other}`: no line of the roster"):
        check_matches(incident_over([window]), matches, "roster.parquet")
    # allowed: listed, not refused
    check_matches(incident_over([window], allow_unmatched=True), matches, "roster.parquet")


@settings(max_examples=150, deadline=None)
@given(pool=st.lists(names, min_size=1, max_size=8, unique_by=normalize), name=names)
def test_a_name_matches_exactly_the_roster_values_with_its_normal_form(pool: list[str], name: str) -> None:
    """Never a near miss: the window reaches the rows whose normalised value equals its own."""
    window = Window(T0, T1, regions=(normalize(name),), origin="incident.yml: affected.windows[0]")
    matches = match_windows(incident_over([window]), keys(pool))
    expected = [i for i, v in enumerate(pool) if normalize(v) == normalize(name)]
    assert matches.per_window[0].tolist() == expected
    assert bool(matches.unmatched) == (not expected)


def test_closest_suggests_the_near_roster_values() -> None:
    assert closest("부산시", ["서울", "부산", "대전", "부천"])[0] == "부산"
    assert closest("Seoul", ["서울", "부산"]) == []
    assert did_you_mean("Seoul", ["서울", "부산"]).startswith("the roster has `부산`, `서울`")
    assert did_you_mean("F-1", [f"F-{i:02d}" for i in range(100)]).startswith("did you mean `F-1")
    many = did_you_mean("zzz", [f"R{i}" for i in range(20)])
    assert "and 12 more" in many and "roster describe" in many


def test_several_unmatched_names_are_refused_together() -> None:
    windows = [Window(T0, T1, regions=("부산시",), origin="incident.yml: affected.windows[0]"),
               Window(T0, T1, regions=("서울", "대구"), origin="incident.yml: affected.windows[1]")]
    incident = incident_over(windows)
    matches = match_windows(incident, keys(["서울", "부산"]))
    with pytest.raises(InputErrors) as err:
        check_matches(incident, matches, "roster.parquet")
    text = err.value.message
    assert "affected.windows[0]: `부산시`" in text and "did you mean `부산`?" in text
    assert "affected.windows[1]: `대구`" in text
    assert len(text.splitlines()) == 2  # window 1 reaches 서울: no "reaches no line" for it


# --- down to the engine: variants in the roster give the canonical roster's ledger and totals -----


@pytest.fixture(scope="module")
def base_roster() -> pd.DataFrame:
    return make_roster(400, seed=3)


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_engine_totals_do_not_depend_on_how_names_are_written(base_roster: pd.DataFrame, data: st.DataObject,
                                                              tmp_path_factory: pytest.TempPathFactory) -> None:
    tmp = tmp_path_factory.mktemp("variants")
    regions = sorted(base_roster["region"].unique())
    chosen = data.draw(st.lists(st.sampled_from(regions), min_size=1, max_size=2, unique=True), label="regions")
    spellings = {r: data.draw(variant(r), label=f"roster {r}") for r in regions}
    varied = base_roster.assign(region=base_roster["region"].map(spellings))
    written = tuple(normalize(data.draw(variant(r), label=f"incident {r}")) for r in chosen)
    figures = []
    for name, frame, regions_written in (("canonical", base_roster, tuple(chosen)), ("varied", varied, written)):
        roster = write_parquet(frame, tmp / name / "roster.parquet")
        window = Window(T0, T1, regions=regions_written, origin="incident.yml: affected.windows[0]")
        incident = replace(incident_over([window]), roster=roster)
        summary = analyse(incident, tmp / name / "out", what_if_policies=[]).to_dict()
        ledger = tmp / name / "out" / "ledger.parquet"
        rows = duckdb.sql(f"SELECT line_id, credit_krw FROM '{ledger}' ORDER BY line_id").fetchall()
        figures.append((summary["affected_lines"], summary["total_credit_krw"], rows,
                        [(r["lines"], r["customers"]) for r in summary["reach"]]))
    assert figures[0] == figures[1]
    assert figures[0][0] == int(base_roster["region"].isin(chosen).sum())


def test_a_policys_regions_reach_the_rosters_spellings(base_roster: pd.DataFrame, tmp_path: Path) -> None:
    """An override for 서울 in the policy applies to lines whose roster region is `서울\\u00a0` or
    decomposed: the same credits as with a clean roster."""
    policy_path = tmp_path / "policy.yml"
    policy_path.write_text(
        "id: region-override\ntitle: 지역 보상\nservices: [mobile, internet, iptv, landline]\n"
        "hourly_fee: {hours_per_month: 720}\ncredit:\n  outage_multiplier: 10\n  overrides:\n"
        "    - when: {regions: [' 서울']}\n      days_of_fee: 3\n  rounding: {unit_krw: 1, mode: floor}\n",
        encoding="utf-8")
    policy = load_policy(policy_path)
    dirty = base_roster.assign(region=base_roster["region"].map(
        {"서울": "서울\u00a0", "부산": unicodedata.normalize("NFD", "부산")}).fillna(base_roster["region"]))
    totals = []
    for name, frame in (("clean", base_roster), ("dirty", dirty)):
        roster = write_parquet(frame, tmp_path / name / "roster.parquet")
        incident = replace(incident_over([Window(T0, T1, origin="incident.yml: affected.windows[0]")]),
                           roster=roster, policy=policy)
        summary = analyse(incident, tmp_path / name / "out", what_if_policies=[policy]).to_dict()
        rules = duckdb.sql(f"SELECT rule, count(*) FROM '{tmp_path / name / 'out' / 'ledger.parquet'}' "
                           "GROUP BY ALL ORDER BY ALL").fetchall()
        totals.append((summary["total_credit_krw"], rules))
    assert totals[0] == totals[1]
    assert any("override" in str(rule) for rule, _n in totals[0][1]), totals[0][1]
