"""Helpers for end-to-end tests: run the installed ``kt-analysis`` command as a user would."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
KT = Path(sys.executable).parent / "kt-analysis"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


def kt(*args: str, cwd: Path = ROOT, timeout: int = 600) -> subprocess.CompletedProcess[str]:
    """Run the console script; return the completed process (never raises on exit codes)."""
    return subprocess.run([str(KT), *map(str, args)], cwd=cwd, capture_output=True, text=True,
                          timeout=timeout)


@pytest.fixture(scope="session")
def root() -> Path:
    return ROOT


NATIONWIDE = ROOT / "data" / "incidents" / "kt-2021-10-25-nationwide.yml"


@pytest.fixture(scope="session")
def nationwide_report(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The sample nationwide incident, run once through the CLI with its report and an index."""
    from kt_analysis.report.index import write_index

    out = tmp_path_factory.mktemp("reports")
    result = kt("run", NATIONWIDE, "--out", out)
    assert result.returncode == 0, result.stderr
    write_index(out)
    return out / "kt-2021-10-25-nationwide"


@pytest.fixture(scope="module")
def browser():
    """Debian's Chromium driven by Playwright (no browser download), launched as the PDF export is."""
    from playwright.sync_api import sync_playwright

    from kt_analysis.jobs.run import CHROMIUM_FLAGS

    assert CHROMIUM, "CI must install Chromium (see .ci/run)"
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=list(CHROMIUM_FLAGS))
        yield b
        b.close()


# The Spark engine's tests (test_spark_engine.py, test_month_pair.py): one local session per module.
def _spark_available() -> str | None:
    try:
        import pyspark  # noqa: F401
    except ImportError:
        return "PySpark is not installed"
    if not (shutil.which("java") or os.environ.get("JAVA_HOME")):
        return "no Java runtime"
    return None


@pytest.fixture(scope="module")
def spark():
    missing = _spark_available()
    if missing:
        if os.environ.get("CI"):
            pytest.fail(f"CI must install what the Spark engine needs: {missing} (see .ci/run, pyproject [dev])")
        pytest.skip(missing)
    from kt_analysis.engine.spark_engine import spark_session

    with spark_session("local[2]") as session:
        yield session
