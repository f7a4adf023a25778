"""The README's worked examples are what the commands print: check-bills on the sample passes, and
on the sample's September rebuilt at the July amounts (the 2023 error) it is blocked, exit 4."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from kt_analysis.jobs.bill_check import swap_month

ROOT = Path(__file__).resolve().parents[1]
KT = Path(sys.executable).parent / "kt-analysis"


def _example() -> str:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    return readme[readme.index("**check-bills, worked.**"):readme.index("Exit codes:")]


def test_the_check_bills_example_prints_what_the_readme_shows(tmp_path: Path) -> None:
    example = _example()
    bills = ROOT / "data" / "sample" / "bills.parquet"
    ok = subprocess.run([str(KT), "check-bills", str(bills), "--month", "2023-09"], capture_output=True, text=True,
                        cwd=ROOT)
    assert ok.returncode == 0, ok.stderr
    assert ok.stdout.splitlines()[1] in example  # the reason line, word for word
    swapped = swap_month(bills, "2023-09", "2023-07", tmp_path / "swapped.parquet")
    blocked = subprocess.run([str(KT), "check-bills", swapped.name, "--month", "2023-09"], capture_output=True,
                             text=True, cwd=tmp_path)
    assert blocked.returncode == 4, blocked.stdout + blocked.stderr
    lines = blocked.stdout.splitlines()
    assert lines[0] == "blocked: bill run 2023-09 in swapped.parquet"
    for line in lines[:3]:
        assert line in example, line
    assert re.search(r"^4$", example, re.M) and re.search(r"^0$", example, re.M)


def test_the_docs_show_the_sample_figures_a_run_gives(tmp_path: Path) -> None:
    """docs/outputs.md's summary excerpt and docs/commands.md's run line are the nationwide sample's
    real figures: a change of the sample, the policy or the engine that moves them fails here."""
    import json

    from kt_analysis.inputs.incident import load_incident
    from kt_analysis.jobs.analyse import analyse

    incident = load_incident(ROOT / "data" / "incidents" / "kt-2021-10-25-nationwide.yml")
    summary = json.loads(json.dumps(analyse(incident, tmp_path / "out").to_dict()))
    outputs = (ROOT / "docs" / "outputs.md").read_text(encoding="utf-8")
    excerpt = outputs[outputs.index('  "incident_id": "kt-2021-10-25-nationwide"'):]
    shown = dict(re.findall(r'^  "(\w+)": (.+?),?$', excerpt[:excerpt.index("\n```")], flags=re.M))
    assert len(shown) >= 10
    for key, text in shown.items():
        if text.rstrip(",") not in ("{", "["):
            assert json.loads(text.rstrip(",")) == summary[key], key
    line = (f"kt-2021-10-25-nationwide: {summary['affected_lines']:,} affected lines, {summary['eligible_lines']:,} "
            f"eligible, total credit {summary['total_credit_krw']:,} won")
    assert line in (ROOT / "docs" / "commands.md").read_text(encoding="utf-8")
