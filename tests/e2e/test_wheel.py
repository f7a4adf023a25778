"""The package stands on its own: built as a wheel, installed into a fresh virtual environment outside
the checkout, it runs an incident written in an empty folder — the built-in policy catalogue, the
settlement rules, the calendar and the report's notebooks all come from the wheel — and a workspace
(``--workspace``, ``KT_ANALYSIS_WORKSPACE`` or ``kt-analysis.toml``) overrides a policy by id.

The install resolves the dependencies from the package index this machine reaches, as a user's
``pip install`` would (pip's cache makes it quick after the first time).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pyarrow.parquet as pq
import pytest

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.slow

INCIDENT = """\
id: team-outage
title: 시험 장애 — 서울
kind: outage
timezone: Asia/Seoul
policy: kt-terms-2022
roster: roster.parquet
affected:
  windows:
    - {start: 2024-08-10T06:15, end: 2024-08-10T09:20, where: {regions: [서울]}}
"""


def _run(args: list[str | Path], cwd: Path, env: dict[str, str] | None = None, timeout: int = 600,
         ok: bool = True) -> subprocess.CompletedProcess[str]:
    done = subprocess.run([str(a) for a in args], cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=timeout, check=False)
    if ok:
        assert done.returncode == 0, f"{args}: exit {done.returncode}\n{done.stdout}\n{done.stderr}"
    return done


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh virtual environment with the wheel built from this checkout (and nothing else of it)."""
    base = tmp_path_factory.mktemp("wheel")
    _run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", ROOT, "-w", base / "dist"], cwd=base)
    wheels = sorted((base / "dist").glob("kt_analysis-*.whl"))
    assert len(wheels) == 1
    _run([sys.executable, "-m", "venv", base / "venv"], cwd=base)
    _run([base / "venv" / "bin" / "python", "-m", "pip", "install", "-q", wheels[0]], cwd=base, timeout=1200)
    return base / "venv"


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("KT_", "PYTHON", "VIRTUAL_ENV", "JUPYTER"))}
    env.update(extra)
    return env


@pytest.fixture(scope="module")
def folder(installed: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An empty folder outside the checkout with a generated roster and one incident."""
    work = tmp_path_factory.mktemp("team")
    _run([installed / "bin" / "kt-analysis", "-q", "generate", "--lines", "3000", "--out", ".", "--no-bills"],
         cwd=work, env=_env())
    (work / "incident.yml").write_text(INCIDENT, encoding="utf-8")
    return work


def test_the_package_comes_from_the_wheel(installed: Path, folder: Path) -> None:
    where = _run([installed / "bin" / "python", "-c", "import kt_analysis, sys; print(kt_analysis.__file__)"],
                 cwd=folder, env=_env()).stdout.strip()
    assert Path(where).is_relative_to(installed), where
    assert not Path(where).is_relative_to(ROOT)


def test_an_incident_in_an_empty_folder_runs_with_its_report(installed: Path, folder: Path) -> None:
    done = _run([installed / "bin" / "kt-analysis", "run", "incident.yml", "--out", "reports"], cwd=folder,
                env=_env())
    out = folder / "reports" / "team-outage"
    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    ledger = pq.read_table(out / "ledger.parquet").to_pandas()
    assert summary["affected_lines"] > 100
    assert summary["total_credit_krw"] == int(ledger["credit_krw"].sum()) > 0
    assert f"{summary['total_credit_krw']:,}" in done.stdout
    assert (out / "report.html").is_file()  # the notebooks came from the wheel's share/ folder
    # The what-if compared the built-in catalogue, policies on bills left out with their reason.
    compared = {w["policy_id"] for w in summary["what_if"]}
    skipped = {s["policy_id"] for s in summary.get("what_if_skipped", [])}
    assert {"kt-terms-pre-2022", "skt-terms-2023"} <= compared
    assert "kt-2021-10-25-special" in skipped
    policy = next(i for i in summary["inputs"] if i["role"] == "policy")
    assert policy["path"] == "kt_analysis/catalogue/policies/kt-terms-2022.yml"  # the built-in one


def _workspace(base: Path, multiplier: int) -> Path:
    """A team's workspace overriding kt-terms-2022 by id (another multiplier) and adding a policy."""
    ws = base / "team-policies"
    (ws / "policies").mkdir(parents=True, exist_ok=True)
    text = (ROOT / "kt_analysis" / "catalogue" / "policies" / "kt-terms-2022.yml").read_text(encoding="utf-8")
    assert "outage_multiplier: 10" in text
    (ws / "policies" / "kt-terms-2022.yml").write_text(
        text.replace("outage_multiplier: 10", f"outage_multiplier: {multiplier}"), encoding="utf-8")
    own = text.replace("id: kt-terms-2022", "id: team-5x").replace("outage_multiplier: 10", "outage_multiplier: 5")
    (ws / "policies" / "team-5x.yml").write_text(own, encoding="utf-8")
    return ws


def test_a_workspace_overrides_a_policy_by_id(installed: Path, folder: Path) -> None:
    kt = installed / "bin" / "kt-analysis"
    base = _run([kt, "run", "incident.yml", "--out", "base", "--no-report"], cwd=folder, env=_env())
    assert base.returncode == 0
    total = json.loads((folder / "base" / "team-outage" / "summary.json").read_text())["total_credit_krw"]
    ws = _workspace(folder.parent / "ws-flag", 20)

    listed = _run([kt, "--workspace", ws, "policies", "--json"], cwd=folder, env=_env()).stdout
    entries = {e["id"]: e for e in json.loads(listed)["entries"]}
    assert entries["kt-terms-2022"]["origin"] == "workspace"
    assert entries["kt-terms-2022"]["overrides"] == ["built-in"]
    assert entries["team-5x"]["origin"] == "workspace" and entries["skt-terms-2023"]["origin"] == "built-in"

    _run([kt, "--workspace", ws, "run", "incident.yml", "--out", "flag", "--no-report"], cwd=folder, env=_env())
    summary = json.loads((folder / "flag" / "team-outage" / "summary.json").read_text())
    twenty = summary["total_credit_krw"]
    # 20x instead of 10x and nothing else changed: each line's credit doubles (give or take the won
    # its one rounding takes), except IPTV's, which the policy's override keeps at 3x
    roster = pq.read_table(folder / "roster.parquet", columns=["line_id", "service"]).to_pandas()
    lines = {}
    for name in ("base", "flag"):
        ledger = pq.read_table(folder / name / "team-outage" / "ledger.parquet").to_pandas()
        lines[name] = ledger.merge(roster, on="line_id").set_index("line_id")
    ten, twenty_lines = lines["base"], lines["flag"].loc[lines["base"].index]
    iptv = ten["service"] == "iptv"
    assert (twenty_lines["credit_krw"][iptv] == ten["credit_krw"][iptv]).all()
    assert ((twenty_lines["credit_krw"][~iptv] - 2 * ten["credit_krw"][~iptv]).abs() <= 1).all()
    assert (ten["credit_krw"][~iptv] > 0).sum() > 100
    assert twenty == int(lines["flag"]["credit_krw"].sum()) > total
    policy = next(i for i in summary["inputs"] if i["role"] == "policy")
    assert (folder / policy["path"]).resolve() == (ws / "policies" / "kt-terms-2022.yml").resolve()
    assert "team-5x" in {w["policy_id"] for w in summary["what_if"]}
    command = json.loads((folder / "flag" / "team-outage" / "run.json").read_text())["command"]
    assert command.startswith(f"kt-analysis --workspace {ws} run ")  # the run can be made again

    # The same through the environment variable and through kt-analysis.toml.
    _run([kt, "run", "incident.yml", "--out", "env", "--no-report"], cwd=folder,
         env=_env(KT_ANALYSIS_WORKSPACE=str(ws)))
    assert json.loads((folder / "env" / "team-outage" / "summary.json").read_text())["total_credit_krw"] == twenty
    (folder / "kt-analysis.toml").write_text(f'workspace = "{ws}"\n', encoding="utf-8")
    try:
        _run([kt, "run", "incident.yml", "--out", "toml", "--no-report"], cwd=folder, env=_env())
    finally:
        (folder / "kt-analysis.toml").unlink()
    assert json.loads((folder / "toml" / "team-outage" / "summary.json").read_text())["total_credit_krw"] == twenty


def test_an_unknown_policy_or_workspace_is_refused_with_the_fix(installed: Path, folder: Path) -> None:
    kt = installed / "bin" / "kt-analysis"
    (folder / "typo.yml").write_text(INCIDENT.replace("policy: kt-terms-2022", "policy: kt-terms-2202"),
                                     encoding="utf-8")
    done = _run([kt, "run", "typo.yml", "--out", "typo"], cwd=folder, env=_env(), ok=False)
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert "kt-terms-2202" in done.stderr and "kt-terms-2022" in done.stderr  # the value and the closest id
    done = _run([kt, "--workspace", folder / "no-such-folder", "run", "incident.yml", "--out", "x"], cwd=folder,
                env=_env(), ok=False)
    assert done.returncode == 2 and "no-such-folder" in done.stderr and "Traceback" not in done.stderr
