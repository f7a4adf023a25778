"""What analysts use works: a real Jupyter server (as `make lab` starts it), the project's kernel
through the REST and websocket API, and the credits chapter run cell by cell in that kernel.

papermill (tested elsewhere) resolves kernels itself; JupyterLab asks the server, which has its own
kernel-spec lookup and starts kernels in `root_dir`. This test goes the analyst's way: the server
must see the `kt-analysis` spec of this interpreter, the kernel must run this interpreter, and the
notebook (kernel cwd = notebooks/) must show the total that the package computes in-process.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import nbformat
import pytest
from tornado.httpclient import HTTPRequest
from tornado.websocket import websocket_connect

from kt_analysis.inputs.incident import load_incident
from kt_analysis.jobs.analyse import analyse
from kt_analysis.jobs.kernel import KERNEL_NAME
from kt_analysis.report import present

from .conftest import ROOT

pytestmark = pytest.mark.slow

NOTEBOOK = ROOT / "notebooks" / "02_credits.ipynb"
INCIDENT = "data/incidents/kt-2024-08-10-landline.yml"
PARAMETERS = f'incident = "{INCIDENT}"\nroster = None\nbill_items = None\nclaims = None\nrun_dir = None'

START_TIMEOUT = 30.0  # server answering /api/status
CELL_TIMEOUT = 30.0  # one cell, including the kernel's first in-kernel analysis
STOP_TIMEOUT = 10.0  # each step of the teardown


@dataclass
class Server:
    url: str
    token: str
    proc: subprocess.Popen[bytes]
    log: Path

    def log_tail(self, n: int = 40) -> str:
        try:
            lines = self.log.read_text(encoding="utf-8", errors="replace").splitlines()
        except OSError:
            return "(no server log)"
        return "\n".join(lines[-n:])

    def request(self, method: str, path: str, body: Any = None, timeout: float = 10.0) -> Any:
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(self.url + path, data=data, method=method, headers={
            "Authorization": f"token {self.token}", "Content-Type": "application/json",
        })
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            raw = resp.read()
        return json.loads(raw) if raw else None


def _this_interpreter(path: str) -> bool:
    """``path`` is this interpreter: ``sys.executable`` itself, or another name of it in the same
    folder (a venv's ``bin/python`` and ``bin/python3``: ``kt-analysis run`` re-registers the spec
    with whichever name its shebang uses). The base Python a venv links to is *not* accepted."""
    here = os.path.abspath(sys.executable)
    path = os.path.abspath(path)
    if path == here:
        return True
    return os.path.dirname(path) == os.path.dirname(here) and os.path.exists(path) and os.path.samefile(path, here)


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _alive(pid: int) -> bool:
    """Whether a process still exists (a zombie counts as gone: it runs nothing)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return True
    return not re.search(r"^State:\s+Z", status, re.M)


def _wait_gone(pid: int, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not _alive(pid):
            return True
        time.sleep(0.1)
    return not _alive(pid)


def _start(runtime: Path, log: Path) -> Server:
    """`make lab` itself (as root in CI containers, without a display), on loopback with a free port
    (HOST=, PORT=) and a random token (LAB_ARGS=). The venv is set up already (make test did it), so
    make goes straight to the server; the test's own interpreter is that venv's."""
    port, token = _free_port(), secrets.token_hex(24)
    env = {k: v for k, v in os.environ.items() if not k.startswith("MAKE") and k != "DISPLAY"}
    env["JUPYTER_RUNTIME_DIR"] = str(runtime)
    with log.open("wb") as out:
        proc = subprocess.Popen(
            ["make", "--no-print-directory", "lab", "HOST=127.0.0.1", f"PORT={port}",
             f"LAB_ARGS=--ServerApp.port_retries=0 --IdentityProvider.token={token}"],
            cwd=ROOT, env=env, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    return Server(url=f"http://127.0.0.1:{port}", token=token, proc=proc, log=log)


def _wait_ready(server: Server) -> bool:
    """Poll /api/status until it answers; False if the server exits first (e.g. port taken)."""
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if server.proc.poll() is not None:
            return False
        try:
            server.request("GET", "/api/status", timeout=2)
            return True
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            time.sleep(0.2)
    raise AssertionError(f"Jupyter server did not answer /api/status within {START_TIMEOUT:.0f} s:\n"
                         + server.log_tail())


def _stop(server: Server) -> None:
    """Ask the server to shut down (it stops its kernels), then terminate, then kill its group."""
    proc = server.proc
    if proc.poll() is None:
        try:
            server.request("POST", "/api/shutdown", timeout=5)
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        try:
            proc.wait(timeout=STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)  # the group this test started (start_new_session)
                proc.wait(timeout=STOP_TIMEOUT)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    folder = tmp_path_factory.mktemp("jupyter")
    runtime = folder / "runtime"
    runtime.mkdir()
    started: Server | None = None
    try:
        for attempt in range(3):
            started = _start(runtime, folder / f"server-{attempt}.log")
            if _wait_ready(started):
                break
            _stop(started)
            # Retry only when another process took the free port before the server bound it.
            if "already in use" not in started.log_tail(200).lower():
                break
        else:
            started = None
        if started is None or started.proc.poll() is not None:
            raise AssertionError("Jupyter server exited before answering:\n"
                                 + (started.log_tail() if started else "(port taken three times)"))
        yield started
    finally:
        if started is not None:
            _stop(started)
            assert started.proc.poll() is not None, "the Jupyter server is still running"


# ----- the kernel's websocket (legacy JSON protocol: no subprotocol requested) ----------------


class Kernel:
    def __init__(self, conn) -> None:
        self.conn = conn
        self.session = uuid.uuid4().hex

    def _send(self, msg_type: str, content: dict[str, Any]) -> str:
        msg_id = uuid.uuid4().hex
        self.conn.write_message(json.dumps({
            "header": {"msg_id": msg_id, "msg_type": msg_type, "session": self.session, "username": "test",
                       "version": "5.3", "date": ""},
            "parent_header": {}, "metadata": {}, "content": content, "channel": "shell", "buffers": [],
        }))
        return msg_id

    async def _recv(self, deadline: float) -> dict[str, Any]:
        left = deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError
        raw = await asyncio.wait_for(self.conn.read_message(), timeout=left)
        if raw is None:
            raise AssertionError("the kernel websocket closed")
        if isinstance(raw, bytes):  # a message with binary buffers; none of ours carries any
            return {}
        return json.loads(raw)

    async def info(self, timeout: float = CELL_TIMEOUT) -> dict[str, Any]:
        msg_id = self._send("kernel_info_request", {})
        deadline = time.monotonic() + timeout
        while True:
            msg = await self._recv(deadline)
            if msg.get("channel") == "shell" and msg.get("parent_header", {}).get("msg_id") == msg_id:
                return msg["content"]

    async def execute(self, code: str, timeout: float = CELL_TIMEOUT) -> tuple[dict[str, Any], list[dict]]:
        """Run ``code``; return the execute_reply content and the iopub outputs of this request."""
        msg_id = self._send("execute_request", {
            "code": code, "silent": False, "store_history": True, "user_expressions": {},
            "allow_stdin": False, "stop_on_error": True,
        })
        deadline = time.monotonic() + timeout
        reply: dict[str, Any] | None = None
        outputs: list[dict[str, Any]] = []
        idle = False
        while reply is None or not idle:
            try:
                msg = await self._recv(deadline)
            except TimeoutError:
                raise AssertionError(f"cell did not finish within {timeout:.0f} s:\n{code}") from None
            if msg.get("parent_header", {}).get("msg_id") != msg_id:
                continue
            kind = msg.get("msg_type") or msg["header"]["msg_type"]
            if msg.get("channel") == "shell" and kind == "execute_reply":
                reply = msg["content"]
            elif msg.get("channel") == "iopub":
                if kind == "status" and msg["content"]["execution_state"] == "idle":
                    idle = True
                elif kind in ("stream", "display_data", "execute_result", "error"):
                    outputs.append({"type": kind, **msg["content"]})
        return reply, outputs


def _text(outputs: list[dict[str, Any]], mime: str = "text/plain") -> str:
    parts = []
    for out in outputs:
        if out["type"] == "stream":
            parts.append(out["text"] if mime == "text/plain" else "")
        elif out["type"] in ("display_data", "execute_result"):
            parts.append(out["data"].get(mime, ""))
    return "".join(parts)


def _errors(outputs: list[dict[str, Any]]) -> list[str]:
    return [f"{o['ename']}: {o['evalue']}" for o in outputs if o["type"] == "error"]


async def _run_in_kernel(server: Server, kernel_id: str, cells: list[str]) -> dict[str, Any]:
    ws = server.url.replace("http://", "ws://") + f"/api/kernels/{kernel_id}/channels?session_id={uuid.uuid4().hex}"
    request = HTTPRequest(ws, headers={"Authorization": f"token {server.token}"},
                          connect_timeout=10, request_timeout=10)
    conn = await asyncio.wait_for(websocket_connect(request), timeout=15)
    try:
        kernel = Kernel(conn)
        info = await kernel.info()
        probe, probe_out = await kernel.execute("import os, sys\nprint(sys.executable)\nprint(sys.prefix)\n"
                                                "print(os.getcwd())\nprint(os.getpid())")
        assert probe["status"] == "ok", _errors(probe_out)
        executable, prefix, cwd, pid = _text(probe_out).splitlines()
        results = []
        for source in cells:
            reply, outputs = await kernel.execute(source)
            results.append((source, reply, outputs))
            if reply["status"] != "ok":
                break
        figures, figures_out = await kernel.execute('view.figures()["total_credit_krw"]')
        return {"info": info, "executable": executable, "prefix": prefix, "cwd": cwd, "pid": int(pid),
                "cells": results, "figures": (figures, figures_out)}
    finally:
        conn.close()


def test_the_server_sees_this_interpreters_kernel(server: Server) -> None:
    specs = server.request("GET", "/api/kernelspecs")
    assert KERNEL_NAME in specs["kernelspecs"], f"the server sees only {sorted(specs['kernelspecs'])}"
    spec = specs["kernelspecs"][KERNEL_NAME]["spec"]
    assert _this_interpreter(spec["argv"][0]), (spec["argv"], sys.executable)
    # a new notebook in Lab gets the project's kernel, not the server's own python3
    assert specs["default"] == KERNEL_NAME, specs["default"]


def test_make_lab_opens_on_the_notebooks_folder(server: Server) -> None:
    """`make lab` serves notebooks/ (the analysts' chapters at the top of Lab's file browser), and it
    started at all, which as root (CI runs as root) Jupyter refuses unless make passes --allow-root."""
    names = {item["name"] for item in server.request("GET", "/api/contents")["content"]}
    assert {"01_affected.ipynb", "02_credits.ipynb", "03_settlement.ipynb"} <= names, names


def test_credits_notebook_runs_in_the_project_kernel(server: Server, tmp_path: Path) -> None:
    # The reference, in-process, while nothing else is needed from the server yet.
    expected = analyse(load_incident(ROOT / INCIDENT), tmp_path / "ref").to_dict()["total_credit_krw"]
    assert expected > 0

    nb = nbformat.read(NOTEBOOK, as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert "parameters" in code[0].metadata.get("tags", [])
    cells = [PARAMETERS] + [c.source for c in code[1:]]

    # With the notebook's path, as JupyterLab sends it: the kernel starts in the notebook's folder
    # (without a path it would inherit the server's own cwd, the repo root under `make lab`).
    kernel = server.request("POST", "/api/kernels", {"name": KERNEL_NAME, "path": NOTEBOOK.name},
                            timeout=CELL_TIMEOUT)
    assert kernel["name"] == KERNEL_NAME
    pid = None
    try:
        run = asyncio.run(asyncio.wait_for(_run_in_kernel(server, kernel["id"], cells), timeout=120))
        pid = run["pid"]
    finally:
        try:  # the server's own shutdown (fixture teardown) stops the kernel if this fails
            server.request("DELETE", f"/api/kernels/{kernel['id']}", timeout=STOP_TIMEOUT + 5)
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        if pid is not None and not _wait_gone(pid, STOP_TIMEOUT):
            os.kill(pid, signal.SIGKILL)  # the kernel this test started; fail below
            pytest.fail(f"kernel process {pid} outlived its shutdown through the API")
    assert server.request("GET", "/api/kernels") == []

    assert run["info"]["language_info"]["name"] == "python"
    assert _this_interpreter(run["executable"]), (run["executable"], sys.executable)
    assert run["prefix"] == sys.prefix
    assert Path(run["cwd"]) == ROOT / "notebooks"

    for source, reply, outputs in run["cells"]:
        assert reply["status"] == "ok" and not _errors(outputs), (
            f"cell failed:\n{source}\n{reply.get('ename')}: {reply.get('evalue')}\n"
            + re.sub(r"\x1b\[[0-9;]*m", "", "\n".join(reply.get("traceback", [])))
        )
    assert len(run["cells"]) == len(cells)

    # The what-if table marks the incident's own policy; its total is the in-process total.
    what_if = next(out for src, _, out in run["cells"] if "view.what_if_table()" in src)
    html = _text(what_if, "text/html")
    marked = re.findall(r'<tr class="kt-mark">(.*?)</tr>', html, re.S)
    assert len(marked) == 1, html
    assert present.krw(expected) in marked[0], (present.krw(expected), marked[0])

    figures_reply, figures_out = run["figures"]
    assert figures_reply["status"] == "ok", _errors(figures_out)
    assert _text(figures_out).strip() == str(expected)
