"""The benchmark's own modes still run against the package (``make bench`` is not part of
``make test``: a broken mode would otherwise be found only after a long benchmark run)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("incident", ["kt-2021-10-25-nationwide", "kt-2023-09-billing-error"])
def test_bench_ours_runs_the_package_and_reports_its_totals(tmp_path: Path, incident: str) -> None:
    args = [sys.executable, str(ROOT / "benchmarks" / "bench.py"), "ours",
            str(ROOT / "data" / "incidents" / f"{incident}.yml"), str(ROOT / "data" / "sample" / "roster.parquet"),
            str(tmp_path / "out")]
    if incident.endswith("billing-error"):
        args.append(str(ROOT / "data" / "sample" / "bills.parquet"))
    done = subprocess.run(args, capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout.strip().splitlines()[-1])
    summary = json.loads((tmp_path / "out" / "summary.json").read_text(encoding="utf-8"))
    assert report["totals"] and all(summary[k] == v for k, v in report["totals"].items())
    assert report["stages"] and report["seconds"] > 0
