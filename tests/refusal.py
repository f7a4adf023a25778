"""Shared helpers for the adversarial corpus (``tests/test_refuse_*.py``): the real command line,
and what a refusal must look like.

A refusal exits 2 (bad input) or 1 (a fault of the disk or the output folder), prints one
``error: …`` line per problem naming the value and the fix (`` — ``), no traceback, and leaves an
earlier good report byte for byte as it was. Each test module builds its own small project in
``tmp_path`` with :func:`small_project`.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

CORPUS = Path(__file__).resolve().parent / "data" / "bad"
KT = Path(sys.executable).parent / "kt-analysis"


def kt(*args: object, cwd: Path, tmp: Path | None = None, timeout: int = 120,
       env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """The installed console script (quiet), with its own TMPDIR when ``tmp`` is given."""
    full_env = {**os.environ, **(env or {})}
    if tmp is not None:
        full_env["TMPDIR"] = str(tmp)
    return subprocess.run([str(KT), "-q", *map(str, args)], cwd=cwd, env=full_env, capture_output=True,
                          text=True, timeout=timeout)


def snapshot(folder: Path) -> dict[str, str]:
    """Every file under ``folder`` with its sha256 (lock files left out: they stay, empty, by design)."""
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file() and not p.name.endswith(".lock")}


def small_project(dest: Path) -> Path:
    """A copy of ``tests/data/bad/`` (policies, settlement rules, a 5-line roster ``roster.csv``,
    bills, the good incidents ``incidents/good.yml`` (id ``bad-corpus-good``: 서울 10:00-12:00,
    3 lines, 3,332 won) and ``incidents/good-billing.yml``)."""
    shutil.copytree(CORPUS, dest)
    return dest


def good_report(project: Path, out: Path) -> Path:
    """``out`` holding the small project's good report (3 lines, 3,332 won), the one a refusal
    must leave byte for byte as it was."""
    result = kt("run", "incidents/good.yml", "--no-report", "--out", out, cwd=project)
    assert result.returncode == 0, result.stderr
    summary = json.loads((out / "bad-corpus-good" / "summary.json").read_text(encoding="utf-8"))
    assert (summary["affected_lines"], summary["total_credit_krw"]) == (3, 3_332)
    return out


def assert_refused(proc: subprocess.CompletedProcess[str], *expect: str, code: int = 2) -> None:
    """Exit ``code``, every ``expect`` text in stderr, a fix after `` — ``, no traceback."""
    err = proc.stderr
    assert proc.returncode == code, f"exit {proc.returncode} (wanted {code})\nstdout:\n{proc.stdout}\nstderr:\n{err}"
    assert "Traceback" not in err, err
    assert err.startswith("error: "), err
    missing = [text for text in expect if text not in err]
    assert not missing, f"stderr lacks {missing}:\n{err}"
    assert " — " in err, f"no fix given:\n{err}"
