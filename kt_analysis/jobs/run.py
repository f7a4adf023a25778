"""One run of one incident: per-line pass, notebooks with papermill, report with nbconvert.

Everything is written into a staging folder beside the output folder and moved into place only
when the whole run succeeded and reconciled, so a reader (or a scheduled job) never sees a half
written report, and a failed run leaves the previous good report as it was. A failed run keeps
its executed notebooks in ``<out>/<incident-id>/failed/``.
"""

from __future__ import annotations

import atexit
import contextlib
import errno
import fcntl
import functools
import hashlib
import html as html_lib
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import time
import traceback
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any

from kt_analysis.engine.month import EARLIER_ROWS
from kt_analysis.errors import InputError, KtAnalysisError, OutputError, RunError, mask_text, output_fault
from kt_analysis.inputs.incident import Incident, load_incident, require_sized
from kt_analysis.inputs.yamlio import sha256_file
from kt_analysis.jobs import handover, history
from kt_analysis.jobs.analyse import NOT_PUBLISHED, analyse
from kt_analysis.jobs.kernel import ensure_kernel
from kt_analysis.paths import NOTEBOOKS_DIR, TEMPLATES, catalogue_for
from kt_analysis.report import present
from kt_analysis.report.view import reproduce_command
from kt_analysis.summary.model import Summary, SummaryError, load_summary

if TYPE_CHECKING:  # nbformat is imported where it is used: the report's kernel imports this module
    # (`import kt_analysis`), and nbformat's jsonschema would add ~1.5 s to every kernel's start
    import nbformat

NOTEBOOKS = {
    "outage": ("01_affected.ipynb", "02_credits.ipynb"),
    "billing_error": ("03_settlement.ipynb",),
}
Say = Callable[[str], None]


def notebooks_dir() -> Path:
    """The chapters: ``notebooks/`` beside the package in a checkout, else the installed copies."""
    return NOTEBOOKS_DIR


@dataclass
class RunResult:
    incident_id: str
    out_dir: Path
    summary: Summary
    seconds: float


def prepare_out(out: Path) -> None:
    """Make the output folder ``out`` (and its parents), or refuse with one line naming the path and
    the fix when it cannot be one: a file in its place or on its path, a read-only folder, a full disk."""
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise OutputError(out, "--out is a file, not a folder", "name a folder (it is made if missing)")
    for parent in out.parents:
        if parent.exists() or parent.is_symlink():
            if not parent.is_dir():
                raise OutputError(out, f"--out lies under {parent}, which is a file, not a folder",
                                  "name a folder whose parents are folders")
            break
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise output_fault(exc, out) from None
    try:  # can a file be made in it (read-only mount, no permission)?
        fd, probe = tempfile.mkstemp(prefix=".probe-", dir=out)
        os.close(fd)
        os.unlink(probe)
    except OSError as exc:
        raise output_fault(OSError(exc.errno, exc.strerror, str(out)), out) from None


@contextlib.contextmanager
def incident_lock(out: Path, incident_id: str) -> Iterator[None]:
    """Refuse a second run of the same incident into the same folder while one is going."""
    out.mkdir(parents=True, exist_ok=True)
    lock_path = out / f".{incident_id}.lock"
    fh = open(lock_path, "a+")
    try:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise RunError(
                f"{incident_id}: another run of this incident into {out} is in progress "
                f"(lock {lock_path}); wait for it to finish"
            ) from None
        yield
    finally:
        fh.close()


def _execute(nb_in: Path, nb_out: Path, params: dict[str, Any], cwd: Path, kernel: str,
             timeout: int | None, show_progress: bool, km: Any = None) -> None:
    """Run the notebook in ``km``'s kernel (see :func:`report_kernel`), or else in one papermill
    starts and stops itself. nbclient starts a kernel only when ``km`` has none, and never shuts
    down one it was given (``owns_km`` is false): the caller does."""
    import papermill as pm

    pm.execute_notebook(
        str(nb_in), str(nb_out), parameters=params, kernel_name=kernel, cwd=str(cwd),
        progress_bar=show_progress, log_output=False, report_mode=False,
        execution_timeout=timeout, start_timeout=180, kernel_manager_class=ipc_kernel_manager(), km=km,
    )


# What the report's kernel imports while it waits: what the chapters' first cell imports before
# anything else (`import kt_analysis`, then `use_report_style` imports matplotlib's font manager),
# with the names dropped again, so the notebooks run in the same state and give the same outputs.
# Not pyplot: the chapters import it later, after `use_report_style`.
KERNEL_PRELOAD = "import kt_analysis, matplotlib.font_manager; del kt_analysis, matplotlib"


@contextlib.contextmanager
def report_kernel(cwd: Path, wanted: bool = True) -> Iterator[Any]:
    """The report's kernel manager, its kernel started now; None when no report is wanted.

    The kernel starts at the beginning of the run, not after the analysis: its start-up and its
    imports (pandas, DuckDB, kt_analysis, matplotlib: seconds) then overlap the analysis instead of
    adding to it. It is started as nbclient would start it (the same spec and manager class, working
    folder ``cwd``, this process's environment, IPython history in memory) and handed to papermill.
    The run owns it: it is shut down here exactly once, whether the run succeeds or fails."""
    if not wanted:
        yield None
        return
    from jupyter_core.utils import run_sync

    km = ipc_kernel_manager()(kernel_name=ensure_kernel())
    try:
        run_sync(km.start_kernel)(cwd=str(cwd), extra_arguments=[
            "--HistoryManager.hist_file=:memory:", f"--IPKernelApp.exec_lines={KERNEL_PRELOAD}"])
        yield km
    finally:
        stop_kernel(km)


def stop_kernel(km: Any) -> None:
    """Shut down ``km``'s kernel (if it still runs), close the clients made on it and remove its
    connection file and IPC sockets. A kernel that no client has used ran no cell: it is killed
    outright (it may still be importing). Otherwise it is asked to shut down, as nbclient does, so
    that it ends its cells and removes its own temporary files."""
    from jupyter_core.utils import run_sync

    try:
        if km.has_kernel:  # false when nbclient already shut it down (its client could not connect)
            run_sync(km.shutdown_kernel)(now=not km.clients)
    finally:
        for kc in km.clients:
            kc.stop_channels()
        run_sync(km.cleanup_resources)()


def ipc_kernel_manager() -> type:
    """A kernel manager on IPC sockets instead of TCP ports: parallel runs cannot race for ports
    (papermill#511) and nothing listens on the network. The socket files live in a private
    temporary folder (absolute paths: the kernel and the client may have different working folders)."""

    from jupyter_client.manager import AsyncKernelManager
    from traitlets import CaselessStrEnum, List, default

    class IPCKernelManager(AsyncKernelManager):
        transport = CaselessStrEnum(["tcp", "ipc"], default_value="ipc", config=True)
        clients: List[Any] = List()  # nbclient leaves open the client it makes on a manager it was given

        def client(self, **kw: Any) -> Any:
            kc = super().client(**kw)
            self.clients.append(kc)
            return kc

        @default("ip")
        def _ip_for_ipc(self) -> str:
            return os.path.join(_ipc_folder(), f"k-{uuid.uuid4().hex[:12]}")

        async def _async_launch_kernel(self, kernel_cmd: list[str], **kw: Any) -> None:
            # The kernel's own log (e.g. "KeyboardInterrupt caught in kernel" when it is shut
            # down) goes to a file beside its sockets, not into the command's stderr: a run's
            # stderr holds progress and errors only. Cell output reaches the notebook as before.
            log = open(self.ip + ".log", "ab")  # the kernel process keeps its own copy
            try:
                await super()._async_launch_kernel(kernel_cmd, stdout=log, stderr=log, **kw)
            finally:
                log.close()  # the child has its own copy of the descriptor

    return IPCKernelManager


_IPC_FOLDER: list[str] = []


def _ipc_folder() -> str:
    if not _IPC_FOLDER:

        _IPC_FOLDER.append(tempfile.mkdtemp(prefix="kt-ipc-"))
        atexit.register(shutil.rmtree, _IPC_FOLDER[0], True)
    return _IPC_FOLDER[0]


def bind_chapters(paths: list[Path]) -> nbformat.NotebookNode:
    """The report's chapters as one notebook, run in one kernel (one start-up per run, not per
    chapter). The first chapter's ``parameters`` cell stays; the others' are dropped, since the
    parameters are the same and papermill injects them once."""
    import nbformat

    book = nbformat.read(paths[0], as_version=4)
    for path in paths[1:]:
        chapter = nbformat.read(path, as_version=4)
        book.cells += [c for c in chapter.cells if "parameters" not in c.get("metadata", {}).get("tags", [])]
    for cell in book.cells:
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
    return book


def render_report(executed: list[Path], title: str, dest: Path) -> str:
    """Concatenate the executed chapters and export them to one offline HTML page without code."""
    import nbformat
    from nbconvert import HTMLExporter
    from nbconvert.preprocessors import TagRemovePreprocessor

    book = nbformat.v4.new_notebook()
    for path in executed:
        nb = nbformat.read(path, as_version=4)
        for cell in nb.cells:
            if cell.cell_type == "code":
                cell.outputs = [o for o in cell.outputs
                                if not (o.get("output_type") == "stream" and o.get("name") == "stderr")]
            book.cells.append(cell)
        book.metadata = nb.metadata
    book.cells = drop_empty_sections(book.cells)
    exporter = HTMLExporter(template_name="lab")
    exporter.exclude_input = True
    exporter.exclude_input_prompt = True
    exporter.exclude_output_prompt = True
    exporter.mathjax_url = ""
    exporter.require_js_url = ""
    exporter.mermaid_js_url = ""
    tags = TagRemovePreprocessor(remove_cell_tags={"injected-parameters", "parameters"}, enabled=True)
    exporter.register_preprocessor(tags, enabled=True)
    body, _ = exporter.from_notebook_node(book, resources={"metadata": {"name": title}})
    body = _strip_scripts(body)
    css = (TEMPLATES / "report.css").read_text(encoding="utf-8")
    body = body.replace("</head>", f"<style>\n{css}\n</style>\n</head>", 1)
    tmp = dest.with_name(dest.name + ".partial")
    tmp.write_text(body, encoding="utf-8")
    os.replace(tmp, dest)
    return body


_HEADING = re.compile(r"^(#{1,6})\s")


def _heading_level(cell) -> int:
    """A markdown cell that opens with a heading: its level (1 for #); 0 for any other cell."""
    if cell.cell_type != "markdown":
        return 0
    found = _HEADING.match(cell.source.lstrip())
    return len(found.group(1)) if found else 0


def _shows_something(cell) -> bool:
    """A code cell whose outputs show something (a figure, a table, text), not an empty string."""
    for out in cell.get("outputs", []):
        data = out.get("data", {})
        if out.get("output_type") == "stream" and out.get("text", "").strip():
            return True
        if any(k.startswith("image/") for k in data):
            return True
        html = "".join(data.get("text/html", "")).strip()
        plain = "".join(data.get("text/plain", "")).strip()
        if html or (plain and plain not in ("''", '""')):
            return True
    return False


def drop_empty_sections(cells: list) -> list:
    """The cells without the sections in which no code cell shows anything (an incident that
    reaches no line: its chapters have nothing to show, and the report says so once, at the top).

    A section is a markdown heading and every cell up to the next heading of its level or above;
    a section is dropped whole — its heading and prose — when none of its code cells (its
    subsections' included) shows an output. Cells before the first heading are kept."""
    keep = [True] * len(cells)
    for i, cell in enumerate(cells):
        level = _heading_level(cell)
        if not level:
            continue
        end = i + 1
        while end < len(cells) and not (0 < _heading_level(cells[end]) <= level):
            end += 1
        if not any(c.cell_type == "code" and _shows_something(c) for c in cells[i + 1:end]):
            for j in range(i, end):
                if cells[j].cell_type == "markdown":
                    keep[j] = False
    return [c for c, k in zip(cells, keep, strict=True) if k]


def _strip_scripts(html: str) -> str:
    """Drop every <script> block and remote <link>: the report is static, opens offline, and
    runs no code (the lab template's MathJax and mermaid loaders point at a CDN)."""

    html = re.sub(r"<script\b[^>]*>.*?</script>", "", html, flags=re.S | re.I)
    html = re.sub(r'<link[^>]*\bhref="https?://[^"]*"[^>]*>', "", html)
    return html


def _versions() -> dict[str, str]:
    out = {"python": platform.python_version()}
    for pkg in ("kt-analysis", "duckdb", "pandas", "pyarrow", "papermill", "nbconvert", "matplotlib"):
        try:
            out[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            out[pkg] = "?"
    return out


def _remove_dead_staging(out: Path, incident_id: str) -> None:
    """Staging folders of runs that were killed (SIGKILL, power loss) go at the next run. Safe:
    the caller holds the incident's lock, so no live run of it is writing one."""
    for folder in out.glob(f".staging-{incident_id}-*"):
        shutil.rmtree(folder, ignore_errors=True)
    for folder in out.glob(f".old-{incident_id}-*"):
        shutil.rmtree(folder, ignore_errors=True)
    for rows in out.glob(f".history-rows-{incident_id}-*"):
        shutil.rmtree(rows, ignore_errors=True)


def swap_into_place(staging: Path, final: Path) -> Path:
    """Move the finished ``staging`` folder onto ``final``; the folder it replaces is moved aside first
    and put back if the move fails. Returns where the replaced folder now is (the caller removes it)."""
    old = final.with_name(f".old-{final.name}-{os.getpid()}")
    if final.exists():
        os.replace(final, old)
    try:
        os.replace(staging, final)
    except BaseException:
        if old.exists() and not final.exists():
            os.replace(old, final)  # the last good folder goes back into place
        raise
    return old


def _publish(staging: Path, final: Path) -> None:
    """Move the finished staging folder into place (the old one goes only after)."""
    old = swap_into_place(staging, final)
    kept = old / "what-if"  # what-if runs beside the report (jobs/what_if.py) are not the run's: they stay
    if kept.is_dir() and not (final / "what-if").exists():
        with contextlib.suppress(OSError):
            os.replace(kept, final / "what-if")
    if old.exists():
        shutil.rmtree(old, ignore_errors=True)


@functools.cache
def code_digest() -> str:
    """The sha256 of the package's own code and templates: a change to how outputs are made (a new
    summary key, a new hand-over file) makes earlier runs out of date even when the version number
    stays the same."""
    package = Path(__file__).resolve().parents[1]
    digest = hashlib.sha256()
    for path in sorted(p for p in package.rglob("*") if p.is_file() and p.suffix in {".py", ".j2", ".css", ".json"}
                       and "__pycache__" not in p.parts):
        digest.update(f"{path.relative_to(package).as_posix()}={sha256_file(path)}\n".encode())
    return digest.hexdigest()


def fingerprint(incident: Incident, *, report: bool, pdf: bool, history: str | None = None) -> str:
    """What a run's outputs depend on: every input's sha256, the policy catalogue (what-if), the
    calendar, the notebooks, the package version and code (:func:`code_digest`) and the options, and
    — for a policy counting across the calendar month — the digest of the history rows it read
    (``history``, jobs/history.py).
    Equal fingerprints, equal outputs."""


    digest = hashlib.sha256()
    for item in incident.inputs():
        digest.update(f"{item['role']}={item['sha256']}\n".encode())
    catalogue = catalogue_for(incident.folder)
    extra = catalogue.files("policies") + catalogue.calendar_files()
    extra += [notebooks_dir() / name for name in NOTEBOOKS[incident.kind]]
    for path in extra:
        if path.exists():
            digest.update(f"{path.name}={sha256_file(path)}\n".encode())
    digest.update(f"kt-analysis={_versions().get('kt-analysis')};code={code_digest()};report={report};pdf={pdf}"
                  .encode())
    if incident.as_of is not None:  # sized as of a time: another as-of, other figures
        digest.update(f";as_of={incident.as_of.isoformat()}".encode())
    if history is not None:
        digest.update(f";history={history}".encode())
    return digest.hexdigest()


def up_to_date(incident: Incident, out: Path, *, report: bool, pdf: bool) -> bool:
    """The last run of this incident in ``out`` succeeded on exactly these inputs (and, for a policy
    counting across the calendar month, on the history rows there now), and the history records it."""
    folder = out / incident.id
    run_json = folder / "run.json"
    if not run_json.exists() or (folder / "failed").exists():
        return False
    try:
        meta = json.loads(run_json.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    needed = ["summary.json", "ledger.parquet"] + (["report.html"] if report else []) + (["report.pdf"] if pdf else [])
    used = history.digest(out, incident) if history.reads_history(incident) else None
    if not (meta.get("status") == "ok"
            and meta.get("fingerprint") == fingerprint(incident, report=report, pdf=pdf, history=used)
            and all((folder / name).exists() for name in needed)
            and history.recorded(out, incident.id) == meta.get("fingerprint")):
        return False
    try:  # a summary this version cannot read (an older version's) is not up to date: run again
        load_summary(folder / "summary.json")
    except SummaryError:
        return False
    return True


# Headless Chromium on a machine without a display or network: no sandbox as root, no GPU, and no
# background connections (they are refused here, many at a time, and slow the start).
CHROMIUM_FLAGS = ("--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync")


def chromium_path() -> str | None:
    """The system's Chromium (Debian's `chromium`, or another distribution's name for it), if any."""
    return shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")


def render_pdf(html: Path, pdf: Path) -> None:
    """Print the report to PDF with the system's headless Chromium (Debian's `chromium`)."""

    browser = chromium_path()
    if browser is None:
        raise RunError("--pdf needs Chromium: install it (apt-get install chromium) or run without --pdf")
    tmp = pdf.with_name(pdf.name + ".partial")
    with tempfile.TemporaryDirectory(prefix="kt-chromium-") as profile:
        proc = subprocess.run(
            [browser, "--headless", *CHROMIUM_FLAGS,
             f"--user-data-dir={profile}", "--no-pdf-header-footer", f"--print-to-pdf={tmp}", html.resolve().as_uri()],
            capture_output=True, text=True, timeout=300,
        )
    if proc.returncode != 0 or not tmp.exists() or tmp.stat().st_size == 0:
        raise RunError(f"Chromium could not print {html} to PDF (exit {proc.returncode}): "
                       f"{proc.stderr.strip().splitlines()[-1] if proc.stderr.strip() else 'no output'}")
    os.replace(tmp, pdf)


def run_incident(
    incident_path: str | Path, *, out: str | Path = "reports", roster: str | Path | None = None,
    report: bool = True, say: Say | None = None, show_progress: bool = False,
    cell_timeout: int | None = 1800, pdf: bool = False, bills: str | Path | None = None,
    bill_items: str | Path | None = None, claims: str | Path | None = None,
    engine: str = "duckdb", spark_master: str | None = None, as_of: str | datetime | None = None,
    xlsx: bool = False, sms_list: str | Path | None = None,
) -> RunResult:
    """Validate, compute, execute the chapters, render, reconcile, publish atomically.

    ``engine`` computes the ledger and summary: ``duckdb`` here, or ``spark`` at ``spark_master``.
    ``as_of`` (``--as-of``): size an outage still going on as of that local time; the run is then
    provisional: published into ``out/<id>/`` but not recorded in the history (docs/outputs.md).
    ``xlsx``: also ``report.xlsx``; ``sms_list``: the SMS send list to this path, outside ``out``
    (jobs/handover.py; ``adjustments.csv`` is written for every outage credited on the bill)."""
    say = _masked(say or (lambda _m: None))
    started = time.monotonic()
    started_at = datetime.now(UTC)
    incident = load_incident(incident_path, roster=roster, bills=bills, bill_items=bill_items, claims=claims,
                             as_of=as_of)
    require_sized(incident)  # an ongoing window and no --as-of: refused before anything is written
    out = Path(out)
    final = out / incident.id
    prepare_out(out)
    sms_path = handover.check_sms_list(sms_list, out, incident) if sms_list is not None else None
    sms = None  # the SMS list, staged beside sms_path until the run is published
    with incident_lock(out, incident.id):
        _remove_dead_staging(out, incident.id)
        staging = out / f".staging-{incident.id}-{os.getpid()}"
        if staging.exists():
            shutil.rmtree(staging)
        staging.mkdir(parents=True)
        # This outage's rows for the history: a folder beside the staging folder, never published.
        rows = out / f".history-rows-{incident.id}-{os.getpid()}" \
            if incident.kind == "outage" and not incident.provisional else None
        try:
            earlier = None
            if history.reads_history(incident):
                earlier = history.earlier(out, incident, staging / EARLIER_ROWS)
                counted = ", ".join(r.incident_id for r in earlier.runs) or "none"
                say(f"{incident.id}: counting across {', '.join(earlier.months)}: earlier incidents in "
                    f"{history.history_path(out)}: {counted}")
            with report_kernel(incident.root, wanted=report or pdf) as km:
                summary = analyse(incident, staging, progress=lambda m: say(f"{incident.id}: {m}"), engine=engine,
                                  spark_master=spark_master, earlier=earlier, history=rows)
                if earlier is not None:
                    earlier.rows.unlink()
                if km is not None:
                    _report(incident, staging, roster, say, show_progress, cell_timeout, km, claims)
            handover.write_handover(incident, staging, summary, xlsx=xlsx, say=say)
            if sms_path is not None:
                sms = handover.stage_sms_list(incident, staging, summary, sms_path, say)
            if pdf:
                say(f"{incident.id}: printing report.pdf")
                render_pdf(staging / "report.html", staging / "report.pdf")
            fp = fingerprint(incident, report=report or pdf, pdf=pdf,
                             history=earlier.digest if earlier is not None else None)
            meta = {
                "incident_id": incident.id,
                "status": "ok",
                "started_at": started_at.isoformat(timespec="seconds"),
                "finished_at": datetime.now(UTC).isoformat(timespec="seconds"),
                "seconds": round(time.monotonic() - started, 2),
                "command": reproduce_command(incident, Path(roster) if roster else None,
                                             Path(bills) if bills else None,
                                             Path(bill_items) if bill_items else None,
                                             Path(claims) if claims else None),
                "report": report or pdf,
                "pdf": pdf,
                "engine": engine,
                "fingerprint": fp,
                "interpreter": sys.executable,
                "versions": _versions(),
            }
            (staging / "run.json").write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")
            if incident.provisional:  # provisional figures are never recorded in the history as final
                _publish(staging, final)
            else:
                # The history is rebuilt beside the one in place, then the folder and it are moved into place.
                history.commit(out, history.run_row(incident, summary, fp, earlier), rows,
                               lambda: _publish(staging, final))
            if sms is not None:
                sms.place()
        except InputError:
            # Bad input: nothing is written, the previous report stays as it was.
            shutil.rmtree(staging, ignore_errors=True)
            raise
        except BaseException as exc:
            fault = _disk_fault(exc, out)
            _keep_failure(staging, final, fault or exc)
            if fault is not None:
                raise fault from exc
            raise
        finally:
            if rows is not None:
                shutil.rmtree(rows, ignore_errors=True)
            if sms is not None:
                sms.discard()  # nothing once placed
    say(f"{incident.id}: done in {time.monotonic() - started:.1f} s → {final}")
    return RunResult(incident.id, final, summary, time.monotonic() - started)


def _disk_fault(exc: BaseException, out: Path) -> OutputError | None:
    """The one-line :class:`OutputError` when ``exc`` is the disk or the output folder failing a
    write (full, read-only, not writable), from Python or from DuckDB; else None."""

    if isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EACCES,
                                                   errno.EPERM, errno.EFBIG):
        if exc.filename is None or "/.staging-" in str(exc.filename) or str(exc.filename).startswith(".staging-"):
            exc = OSError(exc.errno, exc.strerror, str(out))  # the run's own scratch files: name the folder
        return output_fault(exc, out)
    if type(exc).__module__.split(".")[0] in ("duckdb", "_duckdb"):
        text = str(exc)
        for code in (errno.ENOSPC, errno.EROFS, errno.EACCES):
            if os.strerror(code) in text:
                return output_fault(OSError(code, os.strerror(code), str(out)), out)
    return None


def _masked(say: Say) -> Say:
    """``say`` with phone numbers masked: log lines quote inputs too."""
    return lambda message: say(mask_text(message))


def _report(incident: Incident, staging: Path, roster: str | Path | None, say: Say,
            show_progress: bool, cell_timeout: int | None, km: Any, claims: str | Path | None = None) -> None:
    """Run the chapters in ``km``'s kernel (started by :func:`report_kernel`), render report.html
    and check its headline against the summary."""
    import nbformat

    nb_dir = staging / "notebooks"
    nb_dir.mkdir()
    params = {
        "incident": str(Path(incident.path).resolve()),
        "roster": str(Path(roster).resolve()) if roster else None,
        "run_dir": str(staging.resolve()),
    }
    if incident.billing is not None:  # only notebook 03 has this parameter
        params["bills"] = str(incident.billing.bills.resolve())
    elif incident.bill_items is not None:  # notebooks 01 and 02
        params["bill_items"] = str(incident.bill_items.resolve())
    if claims is not None and incident.kind == "outage":  # --claims: notebooks 01 and 02
        params["claims"] = str(Path(claims).resolve())
    chapters = NOTEBOOKS[incident.kind]
    name = "report.ipynb"
    source = nb_dir / ".source.ipynb"
    nbformat.write(bind_chapters([notebooks_dir() / c for c in chapters]), source)
    say(f"{incident.id}: running {' + '.join(chapters)} in one kernel")
    target = nb_dir / name
    try:
        _execute(source, target, params, incident.root, km.kernel_name, cell_timeout, show_progress, km)
    except Exception as exc:
        raise RunError(f"{incident.id}: notebook {name} ({' + '.join(chapters)}) failed: {_cell_error(exc)} "
                       f"(executed notebook kept in the run's failed/ folder)") from exc
    finally:
        source.unlink(missing_ok=True)
    say(f"{incident.id}: rendering report.html")
    render_report([target], incident.title, staging / "report.html")
    summary = json.loads((staging / "summary.json").read_text(encoding="utf-8"))
    check_headline(incident.id, incident.kind, summary, (staging / "report.html").read_text(encoding="utf-8"))


# The figures the report's headline must show exactly as the summary has them: per kind, the card's
# name, which of its lines ("big" or "small"), the summary's key and the text expected there.
HEADLINE_FIGURES: dict[str, tuple[tuple[str, str, str, Callable[[dict[str, Any]], str]], ...]] = {
    "outage": (
        ("영향 회선", "small", "affected_lines", lambda s: f"{present.count(s['affected_lines'])} 회선"),
        ("보상 대상", "small", "eligible_lines", lambda s: f"{present.count(s['eligible_lines'])} 회선"),
        ("보상 총액", "small", "total_credit_krw", lambda s: present.krw(s["total_credit_krw"])),
    ),
    "billing_error": (
        ("오청구 회선", "small", "affected_lines", lambda s: f"{present.count(s['affected_lines'])} 회선"),
        ("잘못 청구된 금액", "small", "total_charged_krw", lambda s: present.krw(s["total_charged_krw"])),
        ("환불 (실제 출금분)", "small", "total_refund_krw", lambda s: present.krw(s["total_refund_krw"])),
    ),
}


def check_headline(incident_id: str, kind: str, summary: dict[str, Any], html: str) -> None:
    """The report's one headline shows the summary's figures, each exactly as rendered, in its card.

    A figure anywhere else on the page (a table, the appendix) does not count: the headline is
    what is read. A mismatch is a :class:`RunError` naming the figure shown and the summary's."""

    sections = re.findall(r'<section class="kt-headline">(.*?)</section>', html, flags=re.S)
    if len(sections) != 1:
        raise RunError(f"{incident_id}: reconciliation failed: report.html has {len(sections)} headline "
                       f"sections (wanted 1) — {NOT_PUBLISHED}")
    cards = {html_lib.unescape(name.strip()): {"big": html_lib.unescape(big.strip()),
                                               "small": html_lib.unescape(small.strip())}
             for name, big, small in re.findall(
                 r'<div class="kt-card-name">(.*?)</div>\s*<div class="kt-card-big">(.*?)</div>\s*'
                 r'<div class="kt-card-small">(.*?)</div>', sections[0], flags=re.S)}
    if kind == "outage" and summary.get("affected_lines") == 0:
        # No line reached: one statement instead of cards (nothing to show but zeros).
        if cards or '<p class="kt-statement">' not in sections[0]:
            raise RunError(f"{incident_id}: reconciliation failed: no line was affected but the report's "
                           f"headline does not say so in one statement — {NOT_PUBLISHED}")
        return
    for card, line, key, expected in HEADLINE_FIGURES[kind]:
        want = expected(summary)
        shown = cards.get(card, {}).get(line)
        if shown != want:
            raise RunError(f"{incident_id}: reconciliation failed: the report's headline shows "
                           f"{'no ' + card + ' card' if shown is None else repr(shown)} for the summary's {key} "
                           f"{want!r} — {NOT_PUBLISHED}")


def _cell_error(exc: BaseException) -> str:
    ename = getattr(exc, "ename", None)
    if ename:
        return f"{ename}: {getattr(exc, 'evalue', '')}"
    return f"{type(exc).__name__}: {exc}"


def _keep_failure(staging: Path, final: Path, exc: BaseException) -> None:
    """Keep the failed run's notebooks and error next to (not over) the last good report.

    Best effort: when the disk is full or read-only this fails too, and the run's own error is
    what the caller reports (the last good report is untouched either way)."""
    try:
        failed = final / "failed"
        remove_leftover(failed)
        failed.mkdir(parents=True)
        if (staging / "notebooks").exists():
            shutil.move(str(staging / "notebooks"), str(failed / "notebooks"))
        text = str(exc) if isinstance(exc, KtAnalysisError) else "".join(
            traceback.format_exception(type(exc), exc, exc.__traceback__))
        write_error_txt(failed, text)
    except OSError:
        pass
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def remove_leftover(path: Path) -> None:
    """Remove ``path`` whatever it is (a folder, a file, a dangling link); nothing if absent."""
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    elif path.exists() or path.is_symlink():
        path.unlink()


def write_error_txt(failed: Path, text: str) -> None:
    """``failed/error.txt`` with phone numbers masked, written whole or not at all."""
    dest = failed / "error.txt"
    if dest.is_dir():
        remove_leftover(dest)
    tmp = failed / ".error.txt.partial"
    try:
        tmp.write_text(mask_text(text).strip() + "\n", encoding="utf-8")
        os.replace(tmp, dest)
    finally:
        tmp.unlink(missing_ok=True)
