"""The project's own files agree with each other: pyproject.toml, environment.yml, README, CI."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import yaml
from packaging.requirements import Requirement

ROOT = Path(__file__).resolve().parents[1]
CONDA_TO_PYPI = {"python-duckdb": "duckdb", "jupyter_client": "jupyter-client"}
CONDA_ONLY = {"openjdk"}  # not Python packages: pip users install them from the system (README)


def _norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _pyproject() -> dict[str, str]:
    data = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    reqs = [*data["project"]["dependencies"], *data["project"]["optional-dependencies"]["dev"]]
    out = {}
    for r in reqs:
        req = Requirement(r)
        out[_norm(req.name)] = str(req.specifier)
    return out


def _environment() -> dict[str, str]:
    env = yaml.safe_load((ROOT / "environment.yml").read_text(encoding="utf-8"))
    out = {}
    for dep in env["dependencies"]:
        items = dep["pip"] if isinstance(dep, dict) else [dep]
        for item in items:
            if item.startswith("-e") or item in ("pip",) or item.startswith("python>") or item == "python":
                continue
            req = Requirement(item)
            if req.name in CONDA_ONLY:
                continue
            name = CONDA_TO_PYPI.get(req.name, req.name)
            out[_norm(name)] = str(req.specifier)
    return out


def test_environment_yml_lists_the_same_dependencies_as_pyproject() -> None:
    assert _environment() == _pyproject()


def test_python_version_agrees() -> None:
    data = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    assert data["project"]["requires-python"] == ">=3.11"
    env = (ROOT / "environment.yml").read_text(encoding="utf-8")
    assert "python>=3.11" in env
    assert "3, 11" in (ROOT / "Makefile").read_text(encoding="utf-8")


def test_readme_opens_with_the_two_commands() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    head = readme[:1500]
    assert "make report" in head and "make test" in head


def test_ci_runs_make_test() -> None:
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert "make test" in ci


def test_ruff_finds_nothing() -> None:
    import subprocess
    import sys

    proc = subprocess.run([sys.executable, "-m", "ruff", "check", "kt_analysis", "tests", "tools"],
                          cwd=ROOT, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr
