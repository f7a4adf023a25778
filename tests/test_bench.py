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
    else:  # the benchmark passes the roster's bill items, as `kt-analysis run --bill-items` does
        args += ["--bill-items", str(ROOT / "data" / "sample" / "bill_items.parquet")]
    done = subprocess.run(args, capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout.strip().splitlines()[-1])
    summary = json.loads((tmp_path / "out" / "summary.json").read_text(encoding="utf-8"))
    assert report["totals"] and all(summary[k] == v for k, v in report["totals"].items())
    assert report["stages"] and report["seconds"] > 0


def test_reference_equals_the_package_on_the_sample(tmp_path: Path) -> None:
    """The expert reference (benchmarks/reference.py) and the package agree on every figure the
    reference computes and on every line's credit, on the committed sample and its bill items (the
    what-if included: every catalogue policy computed)."""
    sys.path.insert(0, str(ROOT / "benchmarks"))
    try:
        import bench
    finally:
        sys.path.remove(str(ROOT / "benchmarks"))
    sample = ROOT / "data" / "sample"
    incident = ROOT / "data" / "incidents" / "kt-2021-10-25-nationwide.yml"
    roster, items = sample / "roster.parquet", sample / "bill_items.parquet"
    ours = subprocess.run([sys.executable, "-m", "kt_analysis.cli", "--quiet", "run", str(incident), "--roster",
                           str(roster), "--bill-items", str(items), "--no-report", "--out", str(tmp_path / "ours")],
                          capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert ours.returncode == 0, ours.stderr
    ref = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "reference.py"), "nationwide", str(roster),
                          str(items), str(tmp_path / "ref")], capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert ref.returncode == 0, ref.stderr
    figures = json.loads(ref.stdout.strip().splitlines()[-1])["figures"]
    run_dir = tmp_path / "ours" / incident.stem
    summary = json.loads((run_dir / "summary.json").read_text(encoding="utf-8"))
    diffs, compared = bench.figure_diff(summary, figures)
    assert not diffs and compared > 100
    # the sample's items hold every month the catalogue reads: nothing is left out, and the policies
    # on bills (the specials, LG U+'s three months) are computed by both
    assert figures["what_if_skipped"] == [] == summary["what_if_skipped"]
    assert {"kt-2018-ahyeon-special", "kt-2024-08-10-landline-special", "lgu-terms-2023"} <= {
        w["policy_id"] for w in figures["what_if"]}
    a, b = bench.ledger_prints("nationwide", [run_dir / "ledger.parquet", tmp_path / "ref" / "ledger.parquet"])
    assert (a["rows"], a["decisions"]) == (b["rows"], b["decisions"])
