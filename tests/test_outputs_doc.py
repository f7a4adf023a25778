"""docs/outputs.md lists every summary.json key and every ledger column a run writes, and nothing
a run cannot write: the samples are run (an outage on bills, one with claims, a pair counting across
the month, a billing error) and their keys compared with the docs' key tables."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pyarrow.parquet as pq
import pytest

ROOT = Path(__file__).resolve().parents[1]
KT = Path(sys.executable).parent / "kt-analysis"
DOC = ROOT / "docs" / "outputs.md"
# Maps keyed by values from the data, and the placeholder the docs write for their keys.
MAPS = {"by_service": "<service>", "by_region": "<region>", "by_customer_type": "<customer_type>",
        "by_payment_method": "<payment_method>", "credit_by_service": "<service>"}


def flatten(value: object, prefix: str = "") -> set[str]:
    """The dotted paths of ``value`` as the docs write them (see docs/outputs.md, 'How the tables read')."""
    paths: set[str] = set()
    if isinstance(value, dict):
        leaf = prefix.rsplit(".", 1)[-1].removesuffix("[]")
        for key, item in value.items():
            name = MAPS[leaf] if leaf in MAPS else key
            path = f"{prefix}.{name}" if prefix else name
            if leaf not in MAPS:  # a map's entries have no row of their own, only their keys
                paths.add(path)
            paths |= flatten(item, path)
    elif isinstance(value, list):
        for item in value:
            if isinstance(item, dict):
                paths |= flatten(item, prefix + "[]")
    return paths


def documented(heading: str) -> set[str]:
    """The backticked first cells of the tables under ``### heading``, up to the next heading."""
    text = DOC.read_text(encoding="utf-8")
    start = text.index(f"### {heading}\n")
    section = text[start:text.find("\n#", start + 4)]
    return set(re.findall(r"^\| `([^`]+)` \|", section, flags=re.M))


def _run(args: list[str | Path], cwd: Path) -> None:
    done = subprocess.run([str(KT), *map(str, args)], capture_output=True, text=True, cwd=cwd, timeout=600,
                          check=False)
    assert done.returncode == 0, done.stderr


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("outputs")
    for name in ("kt-2021-10-25-nationwide", "kt-2018-11-24-ahyeon-fire", "kt-2023-09-billing-error"):
        _run(["run", f"data/incidents/{name}.yml", "--out", out / "single", "--no-report"], ROOT)
    _run(["run-all", "data/examples/month-pair", "--out", out / "pair", "--no-report"], ROOT)
    # An outage still going on, sized as of a time: provisional, as_of.
    _run(["run", "data/examples/ongoing/ongoing-2024-08-10.yml", "--as-of", "2024-08-10T12:00",
          "--out", out / "ongoing", "--no-report"], ROOT)
    # A name no roster line has, listed instead of refused (allow_unmatched): unmatched_names.
    (out / "unmatched.yml").write_text(UNMATCHED.format(roster=ROOT / "data" / "sample" / "roster.parquet"),
                                       encoding="utf-8")
    _run(["run", out / "unmatched.yml", "--out", out / "unmatched", "--no-report"], out)
    return out


UNMATCHED = """id: unmatched
title: 시험 장애
kind: outage
timezone: Asia/Seoul
policy: kt-terms-2022
roster: {roster}
affected:
  allow_unmatched: true
  windows:
    - {{start: 2024-08-10T06:00, end: 2024-08-10T09:00, where: {{regions: [서울, 부산시]}}}}
"""


def _summaries(runs: Path, kind: str) -> list[dict]:
    found = [json.loads(p.read_text(encoding="utf-8")) for p in sorted(runs.rglob("summary.json"))]
    return [s for s in found if s["kind"] == kind]


@pytest.mark.parametrize(("kind", "heading"), [("outage", "Summary keys (outage)"),
                                                ("billing_error", "Summary keys (billing error)")])
def test_every_summary_key_is_documented_and_every_documented_key_is_written(runs: Path, kind: str,
                                                                              heading: str) -> None:
    summaries = _summaries(runs, kind)
    assert summaries
    written = set().union(*(flatten(s) for s in summaries))
    docs = documented(heading)
    assert written - docs == set(), "written by a run, missing from docs/outputs.md"
    assert docs - written == set(), "in docs/outputs.md, written by none of the sample runs"


@pytest.mark.parametrize(("kind", "heading"), [("outage", "Ledger (outage)"),
                                                ("billing_error", "Ledger (billing error)")])
def test_every_ledger_column_is_documented(runs: Path, kind: str, heading: str) -> None:
    ledgers = [p for p in runs.rglob("ledger.parquet")
               if json.loads((p.parent / "summary.json").read_text(encoding="utf-8"))["kind"] == kind]
    columns = set().union(*(set(pq.read_schema(p).names) for p in ledgers))
    assert columns == documented(heading)


def test_the_flattening_follows_the_docs_rules() -> None:
    value = {"by_region": {"서울": {"lines": 1}}, "what_if": [{"policy_id": "x"}], "tags": ["a"], "n": 1}
    assert flatten(value) == {"by_region", "by_region.<region>.lines", "what_if",
                              "what_if[].policy_id", "tags", "n"}
