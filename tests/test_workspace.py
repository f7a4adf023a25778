"""The catalogue and workspaces (kt_analysis/paths.py): ids resolve in the workspace, then the
project's data/, then the built-in catalogue; calendar overrides add up; paths inside an incident
resolve against its own folder, with the project folder as the fallback of earlier incidents and a
refusal when both name different files."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
from conftest import POLICIES, write

from kt_analysis.cli import main
from kt_analysis.errors import InputError
from kt_analysis.inputs.business_days import calendar_for
from kt_analysis.inputs.incident import catalogue_policies, load_incident
from kt_analysis.paths import BUILTIN, ENV_VAR, catalogue_for

TERMS = (POLICIES / "kt-terms-2022.yml").read_text(encoding="utf-8")
INCIDENT = """\
id: ws-test
title: 시험 장애
kind: outage
timezone: Asia/Seoul
policy: {policy}
roster: {roster}
affected:
  windows:
    - {{start: 2024-08-10T06:00, end: 2024-08-10T09:00, where: all}}
"""


@pytest.fixture(autouse=True)
def no_workspace(monkeypatch: pytest.MonkeyPatch) -> None:
    """No workspace named (empty counts as none), and none left behind: ``main(["--workspace", …])``
    sets the variable for the notebooks' kernels, and monkeypatch restores it after each test."""
    monkeypatch.setenv(ENV_VAR, "")


def _roster(folder: Path) -> Path:
    import shutil

    folder.mkdir(parents=True, exist_ok=True)
    root = Path(__file__).resolve().parents[1]
    return Path(shutil.copy(root / "data" / "sample" / "roster.parquet", folder / "roster.parquet"))


def _policy(folder: Path, pid: str, multiplier: int) -> Path:
    text = TERMS.replace("id: kt-terms-2022", f"id: {pid}").replace("outage_multiplier: 10",
                                                                    f"outage_multiplier: {multiplier}")
    return write(folder / "policies" / f"{pid}.yml", text)


def test_the_built_in_catalogue_is_found_from_any_folder(tmp_path: Path) -> None:
    catalogue = catalogue_for(tmp_path)
    assert [s.origin for s in catalogue.sources] == ["built-in"]
    assert catalogue.find("policies", "kt-terms-2022") == BUILTIN / "policies" / "kt-terms-2022.yml"
    assert "default" in catalogue.ids("settlement")


def test_lookup_order_workspace_then_project_then_built_in(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    project = tmp_path / "project"
    _policy(project / "data", "kt-terms-2022", 7)
    _policy(project / "data", "team-only", 5)
    ws = tmp_path / "ws"
    _policy(ws, "kt-terms-2022", 20)
    incidents = project / "incidents"
    incidents.mkdir(parents=True)
    # Without a workspace: the project's data/ wins over the built-in.
    catalogue = catalogue_for(incidents)
    assert [s.origin for s in catalogue.sources] == ["project", "built-in"]
    own = project / "data" / "policies" / "kt-terms-2022.yml"
    assert catalogue.find("policies", "kt-terms-2022") == own.resolve()
    entry = {e[0]: e for e in catalogue.entries("policies")}["kt-terms-2022"]
    assert entry[2:] == ("project", ["built-in"])
    # The environment's workspace wins over both.
    monkeypatch.setenv(ENV_VAR, str(ws))
    catalogue = catalogue_for(incidents)
    assert [s.origin for s in catalogue.sources] == ["workspace", "project", "built-in"]
    assert catalogue.find("policies", "kt-terms-2022") == (ws / "policies" / "kt-terms-2022.yml").resolve()
    assert catalogue.find("policies", "team-only") is not None  # the project's still there
    assert catalogue.find("policies", "skt-terms-2023") == BUILTIN / "policies" / "skt-terms-2023.yml"


def test_an_incident_reads_the_workspace_policy_and_the_what_if_compares_the_union(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    ws = tmp_path / "ws"
    _policy(ws, "kt-terms-2022", 20)
    _policy(ws, "team-5x", 5)
    _roster(tmp_path / "team")
    path = write(tmp_path / "team" / "outage.yml", INCIDENT.format(policy="kt-terms-2022", roster="roster.parquet"))
    monkeypatch.setenv(ENV_VAR, str(ws))
    incident = load_incident(path)
    assert incident.credit_policy.path == str((ws / "policies" / "kt-terms-2022.yml").resolve())
    assert incident.credit_policy.credit.outage_multiplier == 20
    ids = [p.id for p in catalogue_policies(incident)]
    assert ids[0] == "kt-terms-2022" and ids.count("kt-terms-2022") == 1  # overridden, not twice
    assert {"team-5x", "skt-terms-2023", "kt-2021-10-25-special"} <= set(ids)


def test_a_config_file_names_the_workspace_relative_to_itself(tmp_path: Path) -> None:
    _policy(tmp_path / "shared-policies", "team-5x", 5)
    write(tmp_path / "kt-analysis.toml", 'workspace = "shared-policies"\n')
    deep = tmp_path / "incidents" / "2024"
    deep.mkdir(parents=True)
    catalogue = catalogue_for(deep)
    assert catalogue.sources[0].origin == "workspace"
    assert catalogue.sources[0].folder == (tmp_path / "shared-policies").resolve()
    assert catalogue.find("policies", "team-5x") is not None


@pytest.mark.parametrize(("text", "problem"), [
    ('workspace = "missing"\n', "is not a folder"),
    ("workspace = 3\n", "is not a folder path"),
    ('workspce = "x"\n', "is not a setting kt-analysis knows"),
    ("workspace = \n", "cannot be read as TOML"),
])
def test_a_bad_config_file_is_refused(tmp_path: Path, text: str, problem: str) -> None:
    write(tmp_path / "kt-analysis.toml", text)
    with pytest.raises(InputError, match=problem) as info:
        catalogue_for(tmp_path)
    assert "kt-analysis.toml" in str(info.value)


def test_a_named_workspace_must_exist(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(ENV_VAR, str(tmp_path / "nope"))
    with pytest.raises(InputError, match="is not a folder"):
        catalogue_for(tmp_path)


def test_an_unknown_id_names_the_closest_and_the_catalogue(tmp_path: Path) -> None:
    _roster(tmp_path)
    path = write(tmp_path / "outage.yml", INCIDENT.format(policy="kt-terms-2202", roster="roster.parquet"))
    with pytest.raises(InputError) as info:
        load_incident(path)
    message = str(info.value)
    assert "'kt-terms-2202' is not in the catalogue" in message
    hint = message.split("did you mean ", 1)[1].split("?", 1)[0]
    assert "kt-terms-2022" in hint.split(", ") and "kt-analysis policies" in message


def test_calendar_overrides_add_up_a_later_file_winning(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    ws = tmp_path / "ws"
    write(ws / "calendar" / "overrides.yml", "holidays:\n  - {date: '2027-01-04', name: 임시공휴일}\n")
    assert calendar_for(tmp_path).is_business_day(date(2027, 1, 4))
    assert not calendar_for(tmp_path).is_business_day(date(2023, 10, 2))  # built in: the 2023 temporary holiday
    monkeypatch.setenv(ENV_VAR, str(ws))
    calendar = calendar_for(tmp_path)
    assert not calendar.is_business_day(date(2027, 1, 4))  # the workspace's
    assert not calendar.is_business_day(date(2023, 10, 2))  # and still the built-in's
    # A workspace entry revoking a built-in day off wins.
    write(ws / "calendar" / "overrides.yml", "business_days:\n  - {date: '2023-10-02', name: 정상 영업}\n")
    assert calendar_for(tmp_path).is_business_day(date(2023, 10, 2))


def test_paths_resolve_against_the_incident_folder_with_the_project_as_fallback(tmp_path: Path) -> None:
    project = tmp_path / "project"
    write(project / "pyproject.toml", "")
    _roster(project / "data")
    incidents = project / "data" / "incidents"
    # Written for earlier versions: relative to the project folder; still found.
    old = write(incidents / "old.yml", INCIDENT.format(policy="kt-terms-2022", roster="data/roster.parquet"))
    assert load_incident(old).roster == project / "data" / "roster.parquet"
    # Relative to the incident's own folder: the rule now.
    new = write(incidents / "new.yml", INCIDENT.format(policy="kt-terms-2022", roster="../roster.parquet"))
    assert load_incident(new).roster.resolve() == (project / "data" / "roster.parquet").resolve()
    # Both places hold a file of that name, and they differ: refused, naming both.
    _roster(incidents / "data")
    with pytest.raises(InputError, match="names two different files") as info:
        load_incident(old)
    assert "roster" in str(info.value) and str(incidents / "data" / "roster.parquet") in str(info.value)


def test_kt_analysis_policies_lists_id_origin_and_overrides(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    ws = tmp_path / "ws"
    _policy(ws, "kt-terms-2022", 20)
    assert main(["--workspace", str(ws), "policies", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    line = next(row for row in out.splitlines() if " kt-terms-2022 " in row)
    assert "workspace (overrides built-in)" in line
    assert any(row.startswith("settlement") and " default " in row for row in out.splitlines())
    # A file whose id differs from its name is refused by the listing.
    write(ws / "policies" / "misnamed.yml", TERMS)
    assert main(["--workspace", str(ws), "policies", str(tmp_path)]) == 2
    assert "misnamed.yml" in capsys.readouterr().err
