"""The scheduled job: every incident of a folder, in parallel, each failure isolated.

Each incident runs in its own ``kt-analysis run`` process (one papermill kernel at a time each:
kernels of parallel runs in one process race for ports, papermill#511), at most ``jobs`` at once,
with a wall-clock bound that kills the whole process group — a hung kernel included. Inputs that
have not changed since the last good run are skipped unless ``force``. At the end
``index.html`` is rewritten from what is on disk.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor, as_completed, wait
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from kt_analysis.errors import InputError, InputErrors, mask_text
from kt_analysis.inputs.incident import Incident, load_incident
from kt_analysis.jobs import history
from kt_analysis.jobs.run import prepare_out, remove_leftover, up_to_date, write_error_txt
from kt_analysis.report.index import write_index

Say = Callable[[str], None]


@dataclass(frozen=True)
class Outcome:
    path: Path
    incident_id: str
    status: str  # ok | skipped | failed | bad_input | timeout
    seconds: float
    message: str = ""

    @property
    def failed(self) -> bool:
        return self.status in ("failed", "bad_input", "timeout")


def _record_failure(out: Path, incident_id: str, text: str) -> None:
    """Leave the reason next to (never over) the last good report, for the index. Best effort: a
    full or read-only disk is reported by the run itself (and by the index write after)."""
    failed = out / incident_id / "failed"
    try:
        if failed.exists() and not failed.is_dir():
            remove_leftover(failed)  # a leftover file where the folder goes
        failed.mkdir(parents=True, exist_ok=True)
        write_error_txt(failed, text)
    except OSError:
        pass


def _incident_id(path: Path) -> str:
    return path.stem


def run_one(path: Path, out: Path, *, report: bool, pdf: bool, force: bool, timeout: float,
            cell_timeout: int, engine: str = "duckdb", spark_master: str | None = None,
            loaded: Incident | InputError | None = None) -> Outcome:
    """Run one incident file in its own process. ``loaded``: what :func:`_load` already made of it."""
    started = time.monotonic()
    incident = loaded if loaded is not None else _load(path)
    if isinstance(incident, InputError):
        iid = _incident_id(path)
        message = mask_text(incident.message)
        _record_failure(out, iid, f"bad input: {message}")
        return Outcome(path, iid, "bad_input", time.monotonic() - started, message)
    if not force and up_to_date(incident, out, report=report or pdf, pdf=pdf):
        return Outcome(path, incident.id, "skipped", time.monotonic() - started, "inputs unchanged")
    cmd = [sys.executable, "-m", "kt_analysis.cli", "--quiet", "run", str(path), "--out", str(out),
           "--cell-timeout", str(cell_timeout)]
    if not report and not pdf:
        cmd.append("--no-report")
    if pdf:
        cmd.append("--pdf")
    if engine != "duckdb" and incident.kind == "outage":  # the spark engine runs outages; the rest stay on duckdb
        cmd += ["--engine", engine] + (["--spark-master", spark_master] if spark_master else [])
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True, env={**os.environ, "PYTHONUNBUFFERED": "1"})
    try:
        _stdout, stderr = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)  # the run and its kernel
        proc.communicate()
        for staging in out.glob(f".staging-{incident.id}-*"):
            shutil.rmtree(staging, ignore_errors=True)
        text = (f"timed out after {timeout:g} s: the run was stopped (a notebook cell or the kernel hung); "
                f"the last good report is unchanged")
        _record_failure(out, incident.id, text)
        return Outcome(path, incident.id, "timeout", time.monotonic() - started, text)
    seconds = time.monotonic() - started
    lines = [ln.removeprefix("error: ") for ln in stderr.strip().splitlines() if ln.strip()]
    message = mask_text(" ".join(lines[-3:])) if lines else ""
    if proc.returncode == 0:
        return Outcome(path, incident.id, "ok", seconds)
    if proc.returncode == 2:
        _record_failure(out, incident.id, f"bad input: {message}")
        return Outcome(path, incident.id, "bad_input", seconds, message)
    if not (out / incident.id / "failed" / "error.txt").exists():
        _record_failure(out, incident.id, message or f"exit code {proc.returncode}")
    return Outcome(path, incident.id, "failed", seconds, message or f"exit code {proc.returncode}")


def _load(path: Path) -> Incident | InputError:
    try:
        return load_incident(path)
    except InputError as exc:
        return exc


def _refuse_shared_ids(paths: list[Path], loaded: dict[Path, Incident | InputError], out: Path) -> None:
    """Two incident files that would write the same report folder (the same ``id``, or a file that
    does not load and is recorded under its file name) are refused before anything runs: which one
    the folder and the index end up showing would depend on --jobs and timing."""
    owner: dict[str, Path] = {}
    problems: list[InputError] = []
    for path in paths:
        item = loaded[path]
        iid = item.id if isinstance(item, Incident) else _incident_id(path)
        if iid not in owner:
            owner[iid] = path
            continue
        unread = [str(q) for q in (owner[iid], path) if not isinstance(loaded[q], Incident)]
        note = f" ({' and '.join(unread)} does not load and is recorded under its file name)" if unread else ""
        problems.append(InputError(
            str(path), "id",
            f"{owner[iid]} and {path} both have the id {iid!r}{note}: both would write {out / iid}, "
            f"and which one is published would depend on --jobs",
            "give each incident its own id, or move one of the files out of the folder; nothing was run"))
    if len(problems) == 1:
        raise problems[0]
    if problems:
        raise InputErrors(problems)


def _start_key(item: Incident | InputError, path: Path) -> tuple[int, datetime, str]:
    """Files that do not load first (they fail at once), then incidents by start, then id."""
    if not isinstance(item, Incident):
        return (0, datetime.min, path.name)
    start = item.start
    return (1, start if isinstance(start, datetime) else datetime.combine(start, datetime.min.time()), item.id)


def _earlier_of(path: Path, before: list[Path], loaded: dict[Path, Incident | InputError]) -> set[Path]:
    """The outages among ``before`` (started earlier) that share a month with ``path``'s incident,
    when that incident's policy reads the history; else none."""
    item = loaded[path]
    if not isinstance(item, Incident) or not history.reads_history(item):
        return set()
    months = set(history.months_of(item))
    return {q for q in before if isinstance(other := loaded[q], Incident) and other.kind == "outage"
            and months & set(history.months_of(other))}


def _after(waits: list[Future[Outcome]], fn: Callable[..., Outcome], *args: object, **kwargs: object) -> Outcome:
    wait(waits)
    return fn(*args, **kwargs)


def run_all(folder: Path, out: Path, *, jobs: int = 2, force: bool = False, timeout: float = 3600,
            cell_timeout: int = 1800, report: bool = True, pdf: bool = False,
            say: Say | None = None, engine: str = "duckdb", spark_master: str | None = None) -> list[Outcome]:
    """Run every ``*.yml`` incident in ``folder``, started in the order of the incidents' start;
    returns one outcome each, in file order."""
    say = say or (lambda _m: None)
    if not folder.is_dir():
        raise InputError(str(folder), "", "is not a folder", "name the folder of incident files")
    paths = sorted(folder.glob("*.yml"))
    if not paths:
        raise InputError(str(folder), "", "holds no incident files (*.yml)", "name the incidents folder")
    if jobs < 1:
        raise InputError("--jobs", "", f"{jobs} incidents at once is not possible", "use --jobs 1 or more")
    with ThreadPoolExecutor(max_workers=jobs) as pool:  # every file read first: ids are compared below
        loaded = dict(zip(paths, pool.map(_load, paths), strict=True))
    _refuse_shared_ids(paths, loaded, out)
    prepare_out(out)
    outcomes: dict[Path, Outcome] = {}
    # Started in the order of the incidents' start (then id): an incident whose policy counts across
    # the calendar month waits for the earlier incidents of its months, so that they are in the
    # history (published, or found up to date) before it reads it. The pool takes tasks in the order
    # they are submitted, so a task only ever waits for tasks already running or done.
    order = sorted(paths, key=lambda p: _start_key(loaded[p], p))
    with ThreadPoolExecutor(max_workers=jobs) as pool:
        futures: dict[Future[Outcome], Path] = {}
        for i, p in enumerate(order):
            waits = [f for f, q in futures.items() if q in _earlier_of(p, order[:i], loaded)]
            futures[pool.submit(_after, waits, run_one, p, out, report=report, pdf=pdf, force=force,
                                timeout=timeout, cell_timeout=cell_timeout, engine=engine,
                                spark_master=spark_master, loaded=loaded[p])] = p
        for done, future in enumerate(as_completed(futures), start=1):
            outcome = future.result()
            outcomes[outcome.path] = outcome
            detail = f" — {outcome.message}" if outcome.message and outcome.failed else ""
            say(mask_text(f"[{done}/{len(paths)}] {outcome.incident_id}: {outcome.status} "
                          f"({outcome.seconds:.1f} s){detail}"))
    write_index(out)
    return [outcomes[p] for p in paths]
