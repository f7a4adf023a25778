"""Faults of the disk and of the output folder, leftovers of failed runs, runs that would publish
a plausible wrong answer, and personal data in messages — through the real command line.

A fault of the disk or the output folder exits 1 with one ``error: …`` line naming the path and
the fix; a leftover of a failed run never stops the index; two incident files with one id are
refused before anything runs; a ``$`` in a region name is text; phone numbers are masked in every
message, log line and the index.
"""

from __future__ import annotations

import errno
import os
import shutil
import subprocess
from pathlib import Path

import pytest
from refusal import KT, assert_refused, kt, small_project, snapshot

GOOD_ID = "bad-corpus-good"


@pytest.fixture
def project(tmp_path: Path) -> Path:
    return small_project(tmp_path / "p")


def _batch(project: Path, *names: str) -> Path:
    """A folder of incident files (copies of ``incidents/good.yml`` under ``names``)."""
    folder = project / "batch"
    folder.mkdir(exist_ok=True)
    for name in names:
        shutil.copy(project / "incidents" / "good.yml", folder / name)
    return folder


def _good_report(project: Path, out: str = "reports") -> dict[str, str]:
    proc = kt("run", "incidents/good.yml", "--out", out, "--no-report", cwd=project, tmp=project.parent)
    assert proc.returncode == 0, proc.stderr
    return snapshot(project / out)


def _one_line(proc: subprocess.CompletedProcess[str]) -> None:
    assert len(proc.stderr.strip().splitlines()) == 1, proc.stderr


# --- the output folder is not a folder ------------------------------------------------------


def test_out_is_a_file(project: Path) -> None:
    (project / "reports.txt").write_text("notes\n", encoding="utf-8")
    proc = kt("run", "incidents/good.yml", "--out", "reports.txt", "--no-report", cwd=project, tmp=project.parent)
    assert_refused(proc, "reports.txt", "is a file, not a folder", "name a folder", code=1)
    _one_line(proc)
    assert (project / "reports.txt").read_text(encoding="utf-8") == "notes\n"


def test_out_under_a_file(project: Path) -> None:
    (project / "notes").write_text("x\n", encoding="utf-8")
    proc = kt("run", "incidents/good.yml", "--out", "notes/reports", "--no-report", cwd=project, tmp=project.parent)
    assert_refused(proc, "notes/reports", "notes, which is a file", code=1)
    _one_line(proc)


def test_run_all_out_is_a_file(project: Path) -> None:
    batch = _batch(project, "good.yml")
    (project / "reports").write_text("", encoding="utf-8")
    proc = kt("run-all", batch, "--out", "reports", "--no-report", cwd=project, tmp=project.parent)
    assert_refused(proc, "reports", "is a file, not a folder", code=1)
    _one_line(proc)


# --- read-only folder, full disk ------------------------------------------------------------


def _can_mount() -> bool:
    if shutil.which("unshare") is None or shutil.which("mount") is None:
        return False
    probe = subprocess.run(["unshare", "-m", "sh", "-c", "mount -t tmpfs -o size=64k tmpfs /mnt"],
                           capture_output=True, timeout=30)
    return probe.returncode == 0


def test_read_only_out_folder_keeps_the_good_report(project: Path) -> None:
    """A real read-only mount (root ignores chmod): exit 1, one line, the last report untouched."""
    if not _can_mount():
        pytest.skip("no private mount namespace here (unshare -m); see the in-process EROFS test")
    before = _good_report(project)
    out = project / "reports"
    script = f'mount --bind "{out}" "{out}" && mount -o remount,bind,ro "{out}" && exec "$@"'
    proc = subprocess.run(["unshare", "-m", "sh", "-c", script, "sh", str(KT), "-q", "run", "incidents/good.yml",
                           "--out", "reports", "--no-report"],
                          cwd=project, capture_output=True, text=True, timeout=120,
                          env={**os.environ, "TMPDIR": str(project.parent)})
    assert_refused(proc, "reports", "Read-only file system", "writable", code=1)
    _one_line(proc)
    assert snapshot(out) == before


def _in_process(project: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
                *args: str) -> tuple[int, str]:
    from kt_analysis import cli

    monkeypatch.chdir(project)
    capsys.readouterr()
    code = cli.main(["-q", *args])
    return code, capsys.readouterr().err


def test_disk_full_during_a_run_keeps_the_good_report(project: Path, monkeypatch: pytest.MonkeyPatch,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    from kt_analysis.jobs import run

    before = _good_report(project)
    real = run.analyse

    def analyse_then_disk_full(incident, staging, **kwargs):
        real(incident, staging, **kwargs)
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(staging / "ledger.parquet"))

    monkeypatch.setattr(run, "analyse", analyse_then_disk_full)
    code, err = _in_process(project, monkeypatch, capsys, "run", "incidents/good.yml", "--out", "reports",
                            "--no-report")
    assert code == 1, err
    assert err.startswith("error: reports: cannot write (No space left on device) — free space"), err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err
    after = {k: v for k, v in snapshot(project / "reports").items() if not k.startswith(f"{GOOD_ID}/failed/")}
    assert after == before
    assert not list((project / "reports").glob(".staging-*"))


def test_read_only_out_folder_in_process(project: Path, monkeypatch: pytest.MonkeyPatch,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    """EROFS simulated where the run first writes into the folder (works without mount rights)."""
    import tempfile

    before = _good_report(project)
    real = tempfile.mkstemp

    def read_only(*args, dir=None, **kwargs):  # noqa: A002 - mkstemp's own keyword
        if dir is not None and Path(dir).resolve() == (project / "reports").resolve():
            raise OSError(errno.EROFS, os.strerror(errno.EROFS), str(Path(dir) / ".probe-x"))
        return real(*args, dir=dir, **kwargs)

    monkeypatch.setattr(tempfile, "mkstemp", read_only)
    code, err = _in_process(project, monkeypatch, capsys, "run", "incidents/good.yml", "--out", "reports",
                            "--no-report")
    assert code == 1, err
    assert err.startswith("error: reports: cannot write (Read-only file system) — make the folder"), err
    assert len(err.strip().splitlines()) == 1
    assert snapshot(project / "reports") == before


# --- leftovers of failed runs ---------------------------------------------------------------


def test_empty_error_txt_does_not_stop_the_index(project: Path) -> None:
    batch = _batch(project, "good.yml")
    out = project / "reports"
    (out / "old-incident" / "failed").mkdir(parents=True)
    (out / "old-incident" / "failed" / "error.txt").write_bytes(b"")
    proc = kt("run-all", batch, "--out", "reports", "--no-report", cwd=project, tmp=project.parent)
    assert proc.returncode == 0, proc.stderr
    html = (out / "index.html").read_text(encoding="utf-8")
    assert f'data-incident="{GOOD_ID}"' in html
    assert 'data-incident="old-incident"' in html and "no message recorded" in html
    assert "Traceback" not in proc.stderr


def test_damaged_leftovers_do_not_stop_the_index(project: Path) -> None:
    batch = _batch(project, "good.yml")
    out = project / "reports"
    garbage = bytes(range(256)) + b"\xff\xfe\x00\xc3("
    (out / "binary" / "failed").mkdir(parents=True)
    (out / "binary" / "failed" / "error.txt").write_bytes(garbage)
    (out / "half" / "failed").mkdir(parents=True)
    (out / "half" / "summary.json").write_bytes(b'{"title": "x", "affected_li')
    (out / "half" / "run.json").write_bytes(garbage)
    (out / "dir-error" / "failed" / "error.txt").mkdir(parents=True)  # a folder where the file goes
    (out / "file-failed").mkdir()
    (out / "file-failed" / "failed").write_bytes(garbage)  # a file where the folder goes
    proc = kt("run-all", batch, "--out", "reports", "--no-report", cwd=project, tmp=project.parent)
    assert proc.returncode == 0, proc.stderr
    html = (out / "index.html").read_text(encoding="utf-8")
    for name in (GOOD_ID, "binary", "half", "dir-error", "file-failed"):
        assert f'data-incident="{name}"' in html, name
    assert html.count('class="failed"') == 4
    assert "\x00" not in html


def test_damaged_failed_folder_of_the_incident_itself(project: Path) -> None:
    """The incident's own folder with a file where failed/ goes: the run goes on and publishes."""
    batch = _batch(project, "good.yml")
    out = project / "reports"
    (out / GOOD_ID).mkdir(parents=True)
    (out / GOOD_ID / "failed").write_bytes(b"\xff")
    proc = kt("run-all", batch, "--out", "reports", "--no-report", cwd=project, tmp=project.parent)
    assert proc.returncode == 0, proc.stderr
    assert (out / GOOD_ID / "summary.json").is_file()
    html = (out / "index.html").read_text(encoding="utf-8")
    assert "3,332원" in html


# --- two incident files, one id -------------------------------------------------------------


def test_two_files_with_one_id_are_refused_before_running(project: Path) -> None:
    batch = _batch(project, "a.yml", "b.yml")
    proc = kt("run-all", batch, "--out", "reports", "--no-report", "--jobs", "2", cwd=project, tmp=project.parent)
    assert_refused(proc, "a.yml", "b.yml", GOOD_ID, "own id", code=2)
    assert not (project / "reports").exists()


def test_a_file_that_does_not_load_named_like_an_id_is_refused(project: Path) -> None:
    batch = _batch(project, "good.yml")
    (batch / f"{GOOD_ID}.yml").write_text("id: [\n", encoding="utf-8")  # recorded under its file name
    proc = kt("run-all", batch, "--out", "reports", "--no-report", cwd=project, tmp=project.parent)
    assert_refused(proc, "good.yml", f"{GOOD_ID}.yml", "does not load", code=2)
    assert not (project / "reports").exists()


# --- a $ in a region name -------------------------------------------------------------------


def test_dollar_in_region_names_is_text_in_the_report(project: Path) -> None:
    roster = project / "roster.csv"
    lines = roster.read_text(encoding="utf-8").splitlines()
    lines[3] = lines[3].replace("부산", "$_$")  # mathtext would fail on this one
    lines[4] = lines[4].replace("제주", "a$b")
    lines[5] = lines[5].replace("서울", "$x$")
    roster.write_text("\n".join(lines) + "\n", encoding="utf-8")
    inc = (project / "incidents" / "good.yml").read_text(encoding="utf-8")
    inc = inc.replace("regions: [서울]", 'regions: [서울, "$_$", "a$b", "$x$"]').replace(GOOD_ID, "dollar-regions")
    (project / "incidents" / "dollar.yml").write_text(inc, encoding="utf-8")
    proc = kt("run", "incidents/dollar.yml", "--out", "reports", cwd=project, tmp=project.parent, timeout=300)
    assert proc.returncode == 0, proc.stderr
    folder = project / "reports" / "dollar-regions"
    html = (folder / "report.html").read_text(encoding="utf-8")
    assert "$_$" in html and "a$b" in html and "$x$" in html
    assert (folder / "summary.json").is_file() and not (folder / "failed").exists()


# --- phone numbers in messages --------------------------------------------------------------

PHONES = {"plus.yml": "+82-10-1234-5678", "dots.yml": "010.9876.5432", "paren.yml": "(010) 5555-4321"}


def _phone_incident(project: Path, folder: Path, name: str, phone: str) -> Path:
    inc = (project / "incidents" / "good.yml").read_text(encoding="utf-8")
    path = folder / name
    path.write_text(inc.replace("timezone: Asia/Seoul", f'timezone: "{phone}"')
                    .replace(GOOD_ID, f"phone-{path.stem}"), encoding="utf-8")
    return path


def test_phone_numbers_are_masked_in_errors_logs_and_index(project: Path) -> None:
    folder = project / "phones"
    folder.mkdir()
    for name, phone in PHONES.items():
        _phone_incident(project, folder, name, phone)
    one = kt("run", folder / "plus.yml", "--out", "reports", "--no-report", cwd=project, tmp=project.parent)
    assert_refused(one, "'+82-**-****-5678' is not a known time zone")
    proc = kt("run-all", folder, "--out", "reports", "--no-report", cwd=project, tmp=project.parent)
    assert proc.returncode == 1, proc.stderr
    html = (project / "reports" / "index.html").read_text(encoding="utf-8")
    texts = {"stderr": one.stderr, "stdout": proc.stdout + proc.stderr, "index": html}
    for stem in ("plus", "dots", "paren"):
        texts[stem] = (project / "reports" / stem / "failed" / "error.txt").read_text(encoding="utf-8")
    for where, text in texts.items():
        for middle in ("1234", "9876", "5555"):
            assert middle not in text, (where, text)
    for masked in ("+82-**-****-5678", "010.****.5432", "(010) ****-4321"):
        assert masked in html and masked in proc.stdout, masked
