"""Adversarial corpus, files: every input must be a regular file (or a Parquet folder) of a sane
size. ``/dev/zero`` never ends, a FIFO nobody writes to never answers: both are refused from the
file's metadata within a second or two, by ``validate``, ``run`` and the scheduled ``run-all``
(where the other incidents still publish)."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest
from refusal import assert_refused, good_report, kt, small_project, snapshot

HEAD = """id: files-{name}
title: 시험용 사고
kind: outage
timezone: Asia/Seoul
policy: {policy}
roster: {roster}
affected:
{affected}"""
WINDOW = "  windows:\n    - {start: 2024-03-04T10:00, end: 2024-03-04T12:00, where: {regions: [서울]}}\n"


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = small_project(tmp_path_factory.mktemp("files") / "project")
    os.mkfifo(root / "fifo.yml")
    os.mkfifo(root / "fifo.csv")
    (root / "big.yml").write_text("# padding\n" * 120_000, encoding="utf-8")  # 1.2 MB
    (root / "folder.yml").mkdir()
    cases = {
        "policy-dev-zero": dict(policy="/dev/zero"),
        "policy-fifo": dict(policy="fifo.yml"),
        "policy-big": dict(policy="big.yml"),
        "policy-folder": dict(policy="folder.yml"),
        "roster-fifo": dict(roster="fifo.csv"),
        "roster-dev-zero": dict(roster="/dev/zero"),
        "windows-dev-zero": dict(affected="  windows_file: /dev/zero\n"),
        "windows-fifo": dict(affected="  windows_file: fifo.csv\n"),
    }
    for name, over in cases.items():
        fields = {"name": name, "policy": "bad-corpus-10x", "roster": "roster.csv", "affected": WINDOW, **over}
        (root / "incidents" / f"{name}.yml").write_text(HEAD.format(**fields), encoding="utf-8")
    return root


@pytest.fixture(scope="module")
def good_out(project: Path) -> Path:
    return good_report(project, project.parent / "reports")


CASES = [
    ("policy-dev-zero", ("/dev/zero", "is a device, not a policy file", "save the input as a file on disk")),
    ("policy-fifo", ("fifo.yml", "is a pipe (FIFO), not a policy file", "save the input as a file")),
    ("policy-big", ("big.yml", "bytes, more than the 1,000,000", "put tables in CSV files")),
    ("policy-folder", ("folder.yml", "is a folder, not a policy file", "name the policy file itself")),
    ("roster-fifo", ("fifo.csv", "is a pipe (FIFO)", "save the input as a file")),
    ("roster-dev-zero", ("/dev/zero", "is a device", "save the input as a file")),
    ("windows-dev-zero", ("/dev/zero", "is a device, not a windows file", "save the input as a file")),
    ("windows-fifo", ("fifo.csv", "is a pipe (FIFO), not a windows file", "save the input as a file")),
]


@pytest.mark.parametrize(("name", "expect"), CASES, ids=[c[0] for c in CASES])
def test_devices_fifos_and_oversize_files_are_refused_at_once(name: str, expect: tuple[str, ...], project: Path,
                                                              good_out: Path) -> None:
    before = snapshot(good_out)
    for args in (("validate", f"incidents/{name}.yml"),
                 ("run", f"incidents/{name}.yml", "--no-report", "--out", good_out)):
        started = time.monotonic()
        proc = kt(*args, cwd=project, timeout=60)
        assert time.monotonic() - started < 20, f"{args[0]} took too long: the input was read"
        assert_refused(proc, *expect)
    assert snapshot(good_out) == before
    assert not (good_out / f"files-{name}").exists()


def test_run_all_survives_a_device_and_a_fifo(project: Path, tmp_path: Path) -> None:
    """The scheduled job: one incident names /dev/zero as its policy, one a FIFO roster; both fail
    on their own with the reason recorded, the good incident publishes, and the index lists all."""
    folder = tmp_path / "incidents"
    folder.mkdir()
    for name in ("good", "policy-dev-zero", "roster-fifo"):
        text = (project / "incidents" / f"{name}.yml").read_text(encoding="utf-8")
        text = text.replace("roster: roster.csv", f"roster: {project / 'roster.csv'}")
        text = text.replace("roster: fifo.csv", f"roster: {project / 'fifo.csv'}")
        text = text.replace("policy: bad-corpus-10x", f"policy: {project / 'data' / 'policies' / 'bad-corpus-10x.yml'}")
        (folder / f"{name}.yml").write_text(text, encoding="utf-8")
    out = tmp_path / "reports"
    proc = kt("run-all", folder, "--no-report", "--out", out, cwd=project, timeout=300)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "Traceback" not in proc.stderr
    summary = json.loads((out / "bad-corpus-good" / "summary.json").read_text(encoding="utf-8"))
    assert summary["total_credit_krw"] == 3_332
    index = (out / "index.html").read_text(encoding="utf-8")
    # an incident that cannot be read is listed by its file name, one that can by its id
    assert 'data-incident="policy-dev-zero"' in index and 'data-incident="files-roster-fifo"' in index
    assert "is a device" in index and "is a pipe (FIFO)" in index
