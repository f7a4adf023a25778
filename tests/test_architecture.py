"""The package keeps its layers: import-linter's contracts (pyproject.toml, [tool.importlinter]) hold,
they break when a lower layer imports a higher one or two modules import each other, no module
reaches into another's private names, and every subpackage is a layer of the contract."""

from __future__ import annotations

import ast
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "kt_analysis"
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")


def lint_imports(project: Path, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    """``lint-imports`` on the ``kt_analysis`` found in ``project`` (its own pyproject.toml)."""
    return subprocess.run(
        [str(LINT_IMPORTS), "--config", str(project / "pyproject.toml"), "--no-cache"],
        cwd=project, capture_output=True, text=True, check=False,
        env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(project), "HOME": str(tmp_path)},
    )  # the interpreter's site-packages still resolve duckdb and pyspark (external packages)


def copy_project(tmp_path: Path) -> Path:
    project = tmp_path / "project"
    shutil.copytree(PACKAGE, project / "kt_analysis", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", project / "pyproject.toml")
    return project


def test_contracts_kept(tmp_path: Path) -> None:
    result = lint_imports(copy_project(tmp_path), tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "3 kept, 0 broken" in result.stdout


@pytest.mark.parametrize(("module", "line", "broken"), [
    # an input reader that reaches up into the report layer
    ("inputs/names.py", "from kt_analysis.report import present", "Layers"),
    # the rules asking the engine for something
    ("rules/credits.py", "import kt_analysis.engine.figures", "Layers"),
    # two jobs importing each other (run imports batch's sibling kernel; kernel imports run back)
    ("jobs/kernel.py", "import kt_analysis.jobs.run", "No import cycles"),
    # a rule reaching for an engine's library
    ("rules/timeline.py", "import duckdb", "engine-neutral"),
])
def test_contracts_break_when_the_layering_does(tmp_path: Path, module: str, line: str, broken: str) -> None:
    project = copy_project(tmp_path)
    target = project / "kt_analysis" / module
    text = target.read_text(encoding="utf-8")
    at = text.index("\nfrom __future__ import annotations\n") + len("\nfrom __future__ import annotations\n")
    target.write_text(text[:at] + line + "  # noqa\n" + text[at:], encoding="utf-8")
    result = lint_imports(project, tmp_path)
    assert result.returncode != 0, result.stdout
    assert f"{broken}" in result.stdout and "BROKEN" in result.stdout, result.stdout


def test_every_subpackage_is_a_layer() -> None:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["importlinter"]
    (layers,) = [c["layers"] for c in config["contracts"] if c["type"] == "layers"]
    named = {part.strip() for layer in layers for part in layer.split("|")}
    on_disk = {f"kt_analysis.{p.parent.name}" for p in PACKAGE.glob("*/__init__.py")}
    on_disk |= {f"kt_analysis.{p.stem}" for p in PACKAGE.glob("*.py") if p.stem != "__init__"}
    assert on_disk == named, f"in the package but not a layer: {sorted(on_disk - named)}; " \
                             f"a layer but not in the package: {sorted(named - on_disk)}"


def private_imports(package: Path) -> list[str]:
    """``from kt_analysis.x import _name`` (and ``kt_analysis.x._name``) across modules of the package."""
    found = []
    for path in sorted(package.rglob("*.py")):
        module = ".".join(path.relative_to(package.parent).with_suffix("").parts).removesuffix(".__init__")
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("kt_analysis"):
                if node.module == module:
                    continue
                found += [f"{module}: from {node.module} import {a.name}" for a in node.names
                          if a.name.startswith("_") and not a.name.startswith("__")]
            elif isinstance(node, ast.Attribute) and node.attr.startswith("_") and not node.attr.startswith("__"):
                base = node.value
                parts = []
                while isinstance(base, ast.Attribute):
                    parts.append(base.attr)
                    base = base.value
                if isinstance(base, ast.Name) and base.id == "kt_analysis":
                    found.append(f"{module}: kt_analysis.{'.'.join(reversed(parts))}.{node.attr}")
    return found


def test_no_module_imports_another_modules_private_names() -> None:
    assert private_imports(PACKAGE) == []


def test_the_private_name_check_finds_one(tmp_path: Path) -> None:
    package = tmp_path / "kt_analysis"
    (package / "engine").mkdir(parents=True)
    (package / "engine" / "spark.py").write_text("from kt_analysis.engine.duckdb import _q\n", encoding="utf-8")
    assert private_imports(package) == ["kt_analysis.engine.spark: from kt_analysis.engine.duckdb import _q"]
