"""The scheduled job: failures isolated, unchanged inputs skipped, overlapping runs refused, hangs stopped."""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import time
from pathlib import Path

import pytest

from .conftest import KT, ROOT, kt

pytestmark = pytest.mark.slow


@pytest.fixture()
def project(tmp_path: Path) -> Path:
    """A copy of the project's data with two good incidents and one broken one."""
    shutil.copytree(ROOT / "data" / "sample", tmp_path / "data" / "sample")
    incidents = tmp_path / "data" / "incidents"
    incidents.mkdir()
    for name in ("kt-2021-10-25-nationwide.yml", "kt-2024-08-10-landline.yml", "kt-2024-08-10-landline.windows.csv"):
        shutil.copy(ROOT / "data" / "incidents" / name, incidents / name)
    # broken: its windows end before they start
    windows = (ROOT / "data/incidents/kt-2024-08-10-landline.windows.csv").read_text(encoding="utf-8")
    (tmp_path / "data" / "broken.windows.csv").write_text(windows.replace(",2024-08-10T16:20", ",2024-08-10T05:20"),
                                                          encoding="utf-8")
    broken = (ROOT / "data/incidents/kt-2024-08-10-landline.yml").read_text(encoding="utf-8")
    broken = broken.replace("id: kt-2024-08-10-landline", "id: broken-incident").replace(
        "windows_file: kt-2024-08-10-landline.windows.csv", "windows_file: ../broken.windows.csv")
    assert "windows_file: ../broken.windows.csv" in broken
    (incidents / "broken-incident.yml").write_text(broken, encoding="utf-8")
    return tmp_path


def _files(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def test_a_broken_incident_fails_alone_and_the_index_shows_it(project: Path) -> None:
    out = project / "reports"
    result = kt("run-all", project / "data/incidents", "--out", out, "--no-report", "--jobs", "2", cwd=project)
    assert result.returncode == 1
    assert "broken-incident: bad_input" in result.stdout
    assert "kt-2021-10-25-nationwide: ok" in result.stdout and "kt-2024-08-10-landline: ok" in result.stdout
    for good in ("kt-2021-10-25-nationwide", "kt-2024-08-10-landline"):
        assert (out / good / "summary.json").exists() and not (out / good / "failed").exists()
    error = (out / "broken-incident" / "failed" / "error.txt").read_text(encoding="utf-8")
    assert "before it starts" in error
    index = (out / "index.html").read_text(encoding="utf-8")
    assert 'data-incident="broken-incident"' in index and "failed" in index
    assert "Traceback" not in result.stdout + result.stderr


def test_unchanged_inputs_are_skipped_and_outputs_stay_identical(project: Path) -> None:
    out = project / "reports"
    (project / "data/incidents/broken-incident.yml").unlink()
    first = kt("run-all", project / "data/incidents", "--out", out, "--no-report", cwd=project)
    assert first.returncode == 0, first.stdout + first.stderr
    before = _files(out / "kt-2021-10-25-nationwide")
    second = kt("run-all", project / "data/incidents", "--out", out, "--no-report", cwd=project)
    assert second.returncode == 0
    assert second.stdout.count(": skipped") == 2
    assert _files(out / "kt-2021-10-25-nationwide") == before  # run.json included: nothing was rerun
    # A changed input is run again; --force runs everything. A policy added to the project's own
    # catalogue (data/policies/) feeds every outage's what-if.
    builtin = ROOT / "kt_analysis" / "catalogue" / "policies" / "kt-terms-2022.yml"
    policy = project / "data" / "policies" / "team-terms.yml"
    policy.parent.mkdir(parents=True)
    policy.write_text(builtin.read_text(encoding="utf-8").replace("id: kt-terms-2022", "id: team-terms"),
                      encoding="utf-8")
    third = kt("run-all", project / "data/incidents", "--out", out, "--no-report", cwd=project)
    assert third.stdout.count(": ok") == 2, third.stdout
    what_if = json.loads((out / "kt-2021-10-25-nationwide/summary.json").read_text(encoding="utf-8"))["what_if"]
    assert "team-terms" in {w["policy_id"] for w in what_if}
    forced = kt("run-all", project / "data/incidents", "--out", out, "--no-report", "--force", cwd=project)
    assert forced.stdout.count(": ok") == 2
    summary = json.loads((out / "kt-2021-10-25-nationwide/summary.json").read_text(encoding="utf-8"))
    assert (out / "kt-2021-10-25-nationwide/summary.json").read_bytes() == json.dumps(
        summary, ensure_ascii=False, indent=2).encode() + b"\n"


def test_two_runs_of_one_incident_do_not_overlap(project: Path) -> None:
    out = project / "reports"
    incident = project / "data/incidents/kt-2021-10-25-nationwide.yml"
    first = subprocess.Popen([str(KT), "run", str(incident), "--out", str(out)], cwd=project,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 30
    while not list(out.glob(".staging-kt-2021-10-25-nationwide-*")) and time.monotonic() < deadline:
        time.sleep(0.05)
    second = kt("run", incident, "--out", out, cwd=project)
    _, first_err = first.communicate(timeout=300)
    assert first.returncode == 0, first_err
    assert second.returncode == 1
    assert "another run of this incident" in second.stderr
    folder = out / "kt-2021-10-25-nationwide"
    assert (folder / "report.html").exists() and not (folder / "failed").exists()
    assert not list(out.glob(".staging-*"))


def test_a_run_that_hangs_is_stopped_and_the_last_report_kept(project: Path) -> None:
    out = project / "reports"
    (project / "data/incidents/broken-incident.yml").unlink()
    (project / "data/incidents/kt-2021-10-25-nationwide.yml").unlink()
    good = kt("run-all", project / "data/incidents", "--out", out, cwd=project)
    assert good.returncode == 0
    folder = out / "kt-2024-08-10-landline"
    before = {k: v for k, v in _files(folder).items()}
    started = time.monotonic()
    hung = kt("run-all", project / "data/incidents", "--out", out, "--force", "--timeout", "1.5", cwd=project)
    assert time.monotonic() - started < 30
    assert hung.returncode == 1
    assert "kt-2024-08-10-landline: timeout" in hung.stdout
    error = (folder / "failed" / "error.txt").read_text(encoding="utf-8")
    assert "timed out after 1.5 s" in error
    after = {k: v for k, v in _files(folder).items() if not k.startswith("failed/")}
    assert after == before
    assert not list(out.glob(".staging-*"))
    index = (out / "index.html").read_text(encoding="utf-8")
    assert "timed out" in index


def test_a_hanging_cell_hits_the_cell_timeout(tmp_path: Path) -> None:
    """The same executor the runs use stops a cell that never returns, with a clear error."""
    import nbformat
    from nbclient.exceptions import CellTimeoutError

    from kt_analysis.jobs.kernel import ensure_kernel
    from kt_analysis.jobs.run import _cell_error, _execute

    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("import time\ntime.sleep(600)")])
    nb.metadata["kernelspec"] = {"name": "kt-analysis", "display_name": "kt-analysis", "language": "python"}
    source, target = tmp_path / "hang.ipynb", tmp_path / "out.ipynb"
    nbformat.write(nb, source)
    started = time.monotonic()
    with pytest.raises(CellTimeoutError) as info:
        _execute(source, target, {}, tmp_path, ensure_kernel(), 2, False)
    assert time.monotonic() - started < 60
    assert type(info.value) is CellTimeoutError
    assert _cell_error(info.value).startswith(
        "CellTimeoutError: A cell timed out while it was being executed, after 2 seconds."), _cell_error(info.value)
    assert target.exists()  # the partial notebook is kept for the failed run's folder


def test_a_run_killed_mid_way_leaves_the_previous_report_intact(project: Path) -> None:
    import os
    import signal

    out = project / "reports"
    incident = project / "data/incidents/kt-2021-10-25-nationwide.yml"
    assert kt("run", incident, "--out", out, cwd=project).returncode == 0
    folder = out / "kt-2021-10-25-nationwide"
    before, history_before = _files(folder), (out / "history.duckdb").read_bytes()
    run = subprocess.Popen([str(KT), "run", str(incident), "--out", str(out)], cwd=project,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not list(out.glob(".staging-kt-2021-10-25-nationwide-*/ledger.parquet")):
        time.sleep(0.02)
    assert list(out.glob(".staging-*")), "the run never started writing"
    os.killpg(run.pid, signal.SIGKILL)
    run.wait(timeout=30)
    assert _files(folder) == before  # the good report, byte for byte
    visible = [p for p in out.iterdir() if not p.name.startswith(".")]
    assert sorted(p.name for p in visible) == ["history.duckdb", "kt-2021-10-25-nationwide"]
    assert (out / "history.duckdb").read_bytes() == history_before  # the killed run did not touch it
    # The next run clears the dead run's staging folder and publishes normally.
    again = kt("run", incident, "--out", out, "--no-report", cwd=project)
    assert again.returncode == 0, again.stderr
    assert not list(out.glob(".staging-*"))
    summary = json.loads((folder / "summary.json").read_text(encoding="utf-8"))
    assert summary["total_credit_krw"] > 0
