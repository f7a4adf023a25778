"""DuckDB holds at most KT_MEMORY_LIMIT when it is set and spills to a private temporary folder
removed at exit; a limit that is not a size, or too small to work with, is refused before
any work, with the variable, the value and the fix."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import duckdb
import pytest
from refusal import assert_refused, good_report, kt, small_project, snapshot

from kt_analysis.dbrow import connect


@pytest.mark.parametrize(("value", "expect"), [
    ("lots", "KT_MEMORY_LIMIT: 'lots' is not a memory size"),
    ("2 gigabytes", "is not a memory size"),
    ("10MB", "KT_MEMORY_LIMIT: 10MB is too little for the per-line pass"),
])
def test_a_bad_limit_is_refused_and_the_last_report_stays(tmp_path: Path, value: str, expect: str) -> None:
    project = small_project(tmp_path / "p")
    out = good_report(project, tmp_path / "out")
    before = snapshot(out)
    proc = kt("run", "incidents/good.yml", "--no-report", "--out", out, cwd=project,
              env={"KT_MEMORY_LIMIT": value})
    assert_refused(proc, expect)
    assert snapshot(out) == before


def test_the_limit_and_the_spill_folder_are_set(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KT_MEMORY_LIMIT", "3GB")
    con = connect()
    limit, spill = con.execute("SELECT current_setting('memory_limit'), current_setting('temp_directory')").fetchone()
    assert limit == "2.7 GiB"  # 3 * 10^9 bytes as DuckDB shows it, not its default of 80% of the machine
    assert Path(spill).name.startswith("kt-duckdb-") and Path(spill).is_dir()
    monkeypatch.delenv("KT_MEMORY_LIMIT")
    default = connect().execute("SELECT current_setting('memory_limit')").fetchone()[0]
    assert default == duckdb.connect().execute("SELECT current_setting('memory_limit')").fetchone()[0]


def test_the_spill_folder_is_removed_at_exit(tmp_path: Path) -> None:
    code = ("import os, tempfile; from kt_analysis.dbrow import connect; c = connect(); "
            "print(c.execute(\"SELECT current_setting('temp_directory')\").fetchone()[0])")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                          env={"TMPDIR": str(tmp_path), "PATH": "/usr/bin:/bin"})
    spill = Path(proc.stdout.strip())
    assert spill.parent == tmp_path and not spill.exists()
