"""The report's kernel starts with the run (it boots while the analysis computes) and the run shuts
it down exactly once, whatever happens: a refused or interrupted analysis, a failed reconciliation,
a good report. Nothing stays behind: no kernel process (not even a zombie), no IPC socket, no
connection file, no open client. ``--no-report`` starts no kernel at all."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from refusal import CORPUS

from kt_analysis.errors import InputError, RunError
from kt_analysis.jobs import run


def children() -> set[int]:
    """The processes whose parent is this one (zombies included)."""
    found = set()
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == os.getpid():
                found.add(int(entry.name))
    return found


class Spy:
    """Every kernel manager the run makes, its kernel's pid and each shutdown (its ``now``)."""

    def __init__(self) -> None:
        self.managers: list[Any] = []
        self.pids: list[int] = []
        self.shutdowns: list[bool] = []


@pytest.fixture
def spy(monkeypatch: pytest.MonkeyPatch) -> Iterator[Spy]:
    seen = Spy()
    real = run.ipc_kernel_manager

    def spying() -> type:
        class Spying(real()):  # type: ignore[misc]
            async def _async_launch_kernel(self, kernel_cmd: list[str], **kw: Any) -> None:
                seen.managers.append(self)
                await super()._async_launch_kernel(kernel_cmd, **kw)
                seen.pids.append(self.provisioner.pid)

            async def shutdown_kernel(self, now: bool = False, restart: bool = False) -> None:
                seen.shutdowns.append(now)
                await super().shutdown_kernel(now=now, restart=restart)

        return Spying

    monkeypatch.setattr(run, "ipc_kernel_manager", spying)
    before = children()
    yield seen
    assert children() - before == set(), "the run left a child process (a kernel?) behind"


def assert_gone(spy: Spy) -> None:
    """One kernel was started and is gone with all it had: process, sockets, connection file, clients."""
    assert len(spy.managers) == 1 and len(spy.pids) == 1, "the run started no kernel (or more than one)"
    km = spy.managers[0]
    with pytest.raises(ProcessLookupError):  # not running, and reaped (a zombie would answer)
        os.kill(spy.pids[0], 0)
    assert not km.has_kernel
    assert not Path(km.connection_file).exists()
    folder = Path(km.ip).parent
    assert [p.name for p in folder.glob(Path(km.ip).name + "*")] == [Path(km.ip).name + ".log"]
    assert all(not kc.channels_running for kc in km.clients)


@pytest.fixture
def corpus(tmp_path: Path) -> Path:
    import shutil

    return Path(shutil.copytree(CORPUS, tmp_path / "project"))


def test_a_refused_analysis_stops_the_kernel_started_for_the_report(spy: Spy, corpus: Path) -> None:
    # The roster is read in the analysis, after the kernel has started: exit 2 from the command.
    with pytest.raises(InputError, match="duplicates"):
        run.run_incident(corpus / "incidents" / "good.yml", roster=corpus / "rosters" / "duplicate_line_id.csv",
                         out=corpus / "out")
    assert_gone(spy)
    assert spy.shutdowns == [True]  # it ran no cell: killed at once, not waited for


def test_an_interrupted_analysis_stops_the_kernel(spy: Spy, corpus: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def interrupted(*_a: Any, **_k: Any) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(run, "analyse", interrupted)
    with pytest.raises(KeyboardInterrupt):
        run.run_incident(corpus / "incidents" / "good.yml", out=corpus / "out")
    assert_gone(spy)
    assert spy.shutdowns == [True]


@pytest.mark.parametrize("reconciles", [True, False], ids=["report", "reconciliation-fails"])
def test_a_report_run_shuts_its_kernel_down_once(spy: Spy, corpus: Path, monkeypatch: pytest.MonkeyPatch,
                                                  reconciles: bool) -> None:
    if not reconciles:
        def mismatch(incident_id: str, *_a: Any) -> None:
            raise RunError(f"{incident_id}: reconciliation failed (made up by the test)")

        monkeypatch.setattr(run, "check_headline", mismatch)
    out = corpus / "out"
    if reconciles:
        run.run_incident(corpus / "incidents" / "good.yml", out=out)
        assert (out / "bad-corpus-good" / "report.html").exists()
    else:
        with pytest.raises(RunError, match="reconciliation failed"):
            run.run_incident(corpus / "incidents" / "good.yml", out=out)
        assert (out / "bad-corpus-good" / "failed" / "notebooks" / "report.ipynb").exists()
    assert_gone(spy)
    # Once, by the run (nbclient leaves a kernel it was given alone), and gracefully: it ran cells.
    assert spy.shutdowns == [False]
    assert len(spy.managers[0].clients) == 1  # papermill's; the notebook ran in the kernel started early


def test_no_report_starts_no_kernel(spy: Spy, corpus: Path) -> None:
    run.run_incident(corpus / "incidents" / "good.yml", out=corpus / "out", report=False)
    assert spy.managers == [] and spy.pids == []
