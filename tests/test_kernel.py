"""The notebooks run on the project's kernel, and that kernel is this interpreter."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import nbformat
import pytest

from kt_analysis.errors import EnvironmentProblem
from kt_analysis.jobs import kernel

ROOT = Path(__file__).resolve().parents[1]


def test_project_kernel_resolves_to_this_interpreter() -> None:
    from jupyter_client.kernelspec import KernelSpecManager

    name = kernel.ensure_kernel()
    spec = KernelSpecManager().get_kernel_spec(name)
    assert kernel._same_interpreter(spec.argv[0])
    assert os.path.dirname(os.path.abspath(spec.argv[0])) == os.path.dirname(os.path.abspath(sys.executable))


def test_a_shadowing_kernel_spec_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # A spec of the same name earlier on the Jupyter path, written by another Python.
    spec_dir = tmp_path / "kernels" / kernel.KERNEL_NAME
    spec_dir.mkdir(parents=True)
    (spec_dir / "kernel.json").write_text(json.dumps({
        "argv": ["/usr/bin/python3-elsewhere", "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "impostor", "language": "python",
    }))
    monkeypatch.setenv("JUPYTER_PATH", str(tmp_path))
    with pytest.raises(EnvironmentProblem, match="python3-elsewhere"):
        kernel.ensure_kernel()


@pytest.mark.parametrize("name", ["01_affected.ipynb", "02_credits.ipynb"])
def test_notebooks_are_thin_and_parameterised(name: str) -> None:
    nb = nbformat.read(ROOT / "notebooks" / name, as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert "parameters" in code[0].metadata.get("tags", [])
    assert nb.metadata["kernelspec"]["name"] == kernel.KERNEL_NAME
    for cell in code:
        # thin: each cell calls the package; no function or class definitions, no loops
        assert "def " not in cell.source and "class " not in cell.source and "for " not in cell.source
        assert len(cell.source.splitlines()) <= 6
    for cell in code:
        for out in cell.get("outputs", []):
            assert out.get("output_type") != "error"


def test_other_names_of_this_interpreter_count_but_the_base_python_does_not(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # This environment (a venv or conda alike): python3 beside this interpreter is another name of it.
    here = os.path.abspath(sys.executable)
    alias = os.path.join(os.path.dirname(here), "python3")
    assert os.path.samefile(alias, here)
    assert kernel._same_interpreter(alias)
    # A venv made here, whatever this environment is: its python3 links to a base interpreter in
    # another bin/, which is the mix-up to catch.
    base = tmp_path / "base" / "bin" / "python3"
    base.parent.mkdir(parents=True)
    base.write_text("", encoding="utf-8")
    venv = tmp_path / "venv" / "bin"
    venv.mkdir(parents=True)
    (venv / "python3").symlink_to(base)
    (venv / "python").symlink_to("python3")
    monkeypatch.setattr(sys, "executable", str(venv / "python"))
    assert os.path.samefile(venv / "python", base)  # the base is the same file, reached through links
    assert kernel._same_interpreter(str(venv / "python3"))
    assert not kernel._same_interpreter(str(base))
    assert not kernel._same_interpreter(str(tmp_path / "missing" / "bin" / "python"))
    assert not kernel._same_interpreter("/usr/bin/python3-elsewhere")
