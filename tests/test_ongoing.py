"""An outage still going on (issue #16 part 4): a window's ``end: ongoing``, sized by ``--as-of``.

Every window is cut at the as-of time; without it a run is refused (exit 2); the summary, the
headline, the index and the command's line say the figures are provisional; the run is not
recorded in the history; the restoration curve extends the ongoing windows beyond the as-of time
(data/examples/ongoing/, docs/incidents.md "An outage still going on")."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from datetime import datetime
from pathlib import Path

import duckdb
import pytest

from kt_analysis.errors import InputError
from kt_analysis.inputs.incident import load_incident, require_sized
from kt_analysis.jobs import history
from kt_analysis.rules.restoration import restored_windows

ROOT = Path(__file__).resolve().parents[1]
KT = Path(sys.executable).parent / "kt-analysis"
SAMPLE = ROOT / "data" / "examples" / "ongoing" / "ongoing-2024-08-10.yml"
ROSTER = ROOT / "data" / "sample" / "roster.parquet"
AS_OF = "2024-08-10T12:00"


def kt(*args: object, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    """The console script, as tests/e2e/conftest.py runs it (never raises on exit codes)."""
    return subprocess.run([str(KT), *map(str, args)], cwd=cwd, capture_output=True, text=True, timeout=600)


def _incident(folder: Path, windows: str, *, extra: str = "", name: str = "ongoing.yml",
              iid: str = "ongoing-test") -> Path:
    path = folder / name
    path.write_text(f"id: {iid}\ntitle: 시험 장애\nkind: outage\ntimezone: Asia/Seoul\npolicy: kt-terms-2022\n"
                    f"roster: {ROSTER}\naffected:\n  services: [internet]\n{extra}  windows:\n{windows}",
                    encoding="utf-8")
    return path


# ----- reading ------------------------------------------------------------------------------------

def test_an_inline_window_may_end_ongoing_and_as_of_sizes_it() -> None:
    inc = load_incident(SAMPLE)
    seoul, busan = inc.windows
    assert (seoul.ongoing, busan.ongoing) == (True, False)
    assert inc.unsized and not inc.provisional
    with pytest.raises(InputError, match="--as-of"):
        require_sized(inc)
    sized = load_incident(SAMPLE, as_of=AS_OF)
    assert sized.provisional and not sized.unsized
    assert sized.as_of == datetime(2024, 8, 10, 12, 0)
    assert sized.windows[0].end == datetime(2024, 8, 10, 12, 0) and sized.windows[0].ongoing
    assert sized.windows[0].minutes == 120
    assert sized.windows[1] == busan  # closed at 12:00: as it was, not open
    require_sized(sized)


def test_the_windows_file_end_column_may_say_ongoing(tmp_path: Path) -> None:
    (tmp_path / "windows.csv").write_text(
        "region,service,start,end\n서울,internet,2024-08-10T10:00,ongoing\n"
        "부산,internet,2024-08-10T10:30,2024-08-10T13:00\n", encoding="utf-8")
    path = tmp_path / "csv.yml"
    path.write_text(f"id: csv-ongoing\ntitle: 시험\nkind: outage\ntimezone: Asia/Seoul\npolicy: kt-terms-2022\n"
                    f"roster: {ROSTER}\naffected:\n  windows_file: windows.csv\n", encoding="utf-8")
    inc = load_incident(path)
    assert [w.ongoing for w in inc.windows] == [True, False] and inc.unsized
    sized = load_incident(path, as_of="2024-08-10T12:00+09:00")
    # the closed window ending after the as-of time is cut there, and is still open then
    assert [(w.end, w.ongoing) for w in sized.windows] == [(datetime(2024, 8, 10, 12, 0), True)] * 2


def test_an_as_of_that_contradicts_the_windows_is_refused(tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"affected.windows\[1\]: starts at 2024-08-10 10:30, not before --as-of"):
        load_incident(SAMPLE, as_of="2024-08-10T10:15")
    closed = _incident(tmp_path, "    - {start: 2024-08-10T10:00, end: 2024-08-10T11:00, where: all}\n")
    with pytest.raises(InputError, match="no window is open then"):
        load_incident(closed, as_of=AS_OF)
    assert load_incident(closed, as_of="2024-08-10T10:30").windows[0].ongoing  # still open at 10:30
    with pytest.raises(InputError, match="not a date and time"):
        load_incident(SAMPLE, as_of="noon")
    billing = ROOT / "data" / "incidents" / "kt-2023-09-billing-error.yml"
    with pytest.raises(InputError, match="billing error"):
        load_incident(billing, as_of=AS_OF)


def test_validate_accepts_an_ongoing_window() -> None:
    done = kt("validate", SAMPLE)
    assert done.returncode == 0, done.stderr


# ----- a run --------------------------------------------------------------------------------------

def test_without_as_of_the_run_is_refused_with_exit_2(tmp_path: Path) -> None:
    done = kt("run", SAMPLE, "--out", tmp_path, "--no-report")
    assert done.returncode == 2
    assert "give --as-of TIME" in done.stderr and "Traceback" not in done.stderr
    assert not (tmp_path / "ongoing-2024-08-10").exists()


@pytest.fixture(scope="module")
def provisional(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, str]:
    """A final run of the same id (closed at 12:00) recorded in the history, then the sample as of
    12:00 into the same folder: (output folder, run folder, the history's sha256 before)."""
    out = tmp_path_factory.mktemp("ongoing")
    closed = _incident(out, "    - {start: 2024-08-10T10:00, end: 2024-08-10T12:00, where: {regions: [서울]}}\n",
                       name="closed.yml", iid="ongoing-2024-08-10")
    done = kt("run", closed, "--out", out, "--no-report")
    assert done.returncode == 0, done.stderr
    before = hashlib.sha256(history.history_path(out).read_bytes()).hexdigest()
    done = kt("run", SAMPLE, "--as-of", AS_OF, "--out", out, "--no-report")
    assert done.returncode == 0, done.stderr
    assert "PROVISIONAL as of 2024-08-10T12:00 (outage ongoing)" in done.stdout
    return out, out / "ongoing-2024-08-10", before


def _summary(folder: Path) -> dict:
    return json.loads((folder / "summary.json").read_text(encoding="utf-8"))


def _seoul_internet() -> tuple[int, int, int]:
    """By hand, from the roster: 서울's internet lines, and what kt-terms-2022 pays them for 2 and 4
    hours out (fee ÷ 720 h × hours × 10, floored to the won per line)."""
    return duckdb.sql(f"SELECT count(*), sum(monthly_fee_krw * 10 * 2 // 720), sum(monthly_fee_krw * 10 * 4 // 720) "
                      f"FROM read_parquet('{ROSTER}') WHERE region = '서울' AND service = 'internet'").fetchall()[0]


def test_the_run_cuts_at_as_of_and_says_it_is_provisional(provisional: tuple[Path, Path, str]) -> None:
    _out, folder, _ = provisional
    s = _summary(folder)
    assert (s["provisional"], s["as_of"], s["outage_end"]) == (True, AS_OF, AS_OF)
    lines, two_hours, _ = _seoul_internet()
    # 10:00–ongoing as of 12:00 is 120 minutes: exactly the policy's 2 hours, so 서울 is eligible;
    # 부산's 90 minutes (10:30–12:00, closed) are not
    minutes = duckdb.sql(f"SELECT r.region, l.outage_minutes, l.eligible, count(*) FROM "
                         f"read_parquet('{folder / 'ledger.parquet'}') AS l JOIN read_parquet('{ROSTER}') AS r "
                         f"USING (line_id) GROUP BY ALL ORDER BY 1").fetchall()
    assert [(m[0], m[1], m[2]) for m in minutes] == [("부산", 90, False), ("서울", 120, True)]
    assert (s["eligible_lines"], s["total_credit_krw"]) == (lines, two_hours)
    run = json.loads((folder / "run.json").read_text(encoding="utf-8"))
    assert run["command"].endswith("--as-of 2024-08-10T12:00")


def test_a_minute_earlier_no_line_is_eligible(tmp_path: Path) -> None:
    done = kt("run", SAMPLE, "--as-of", "2024-08-10T11:59", "--out", tmp_path, "--no-report")
    assert done.returncode == 0, done.stderr
    s = _summary(tmp_path / "ongoing-2024-08-10")
    assert (s["eligible_lines"], s["total_credit_krw"]) == (0, 0)
    assert not history.history_path(tmp_path).exists()  # provisional: nothing recorded


def test_the_history_is_untouched(provisional: tuple[Path, Path, str]) -> None:
    out, folder, before = provisional
    assert hashlib.sha256(history.history_path(out).read_bytes()).hexdigest() == before
    rows = history.listing(out)["runs"]
    assert [(r["incident_id"], r["incident_end"]) for r in rows] == [("ongoing-2024-08-10", "2024-08-10T12:00")]
    assert rows[0]["fingerprint"] != json.loads((folder / "run.json").read_text(encoding="utf-8"))["fingerprint"]


def test_the_headline_and_the_index_say_provisional(provisional: tuple[Path, Path, str]) -> None:
    import kt_analysis as kt_api
    from kt_analysis.report.index import write_index

    out, folder, _ = provisional
    view = kt_api.open_view(SAMPLE, run_dir=folder)  # the run's as-of, from its summary
    assert view.incident.as_of == datetime(2024, 8, 10, 12, 0)
    html = str(view.headline())
    assert '<p class="kt-provisional"><strong>잠정 — 2024년 8월 10일 12:00 기준, 장애 진행 중</strong>' in html
    index = write_index(out).read_text(encoding="utf-8")
    assert 'data-provisional="true"' in index and "잠정 — 8월 10일 12:00 기준, 장애 진행 중" in index
    with pytest.raises(InputError, match="--as-of"):
        kt_api.open_view(SAMPLE)  # computed now: refused without an as-of time


def test_the_curve_extends_the_ongoing_windows_beyond_as_of(provisional: tuple[Path, Path, str]) -> None:
    _out, folder, _ = provisional
    s = _summary(folder)
    curve = s["restoration_curve"]
    points = {p["minutes"]: p for p in curve["points"]}
    assert curve["actual_minutes"] == 120  # as-of − start: "now"
    assert (points[120]["eligible_lines"], points[120]["total_credit_krw"]) == (s["eligible_lines"],
                                                                                 s["total_credit_krw"])
    lines, _, four_hours = _seoul_internet()
    # restored at 14:00 (t = 240): 서울 out 4 hours; 부산, closed at 12:00, stays at 90 minutes (were it
    # extended as a window ending last, its lines would be eligible too)
    assert (points[240]["eligible_lines"], points[240]["total_credit_krw"]) == (lines, four_hours)


def test_restored_windows_extends_only_the_windows_still_open() -> None:
    from zoneinfo import ZoneInfo

    zone = ZoneInfo("Asia/Seoul")
    start, end = datetime(2024, 8, 10, 10, 0, tzinfo=zone), datetime(2024, 8, 10, 12, 0, tzinfo=zone)
    windows = [(datetime(2024, 8, 10, 10, 0), datetime(2024, 8, 10, 12, 0)),
               (datetime(2024, 8, 10, 10, 30), datetime(2024, 8, 10, 12, 0))]
    later = datetime(2024, 8, 10, 13, 0)
    assert restored_windows(windows, start, end, 180, zone) == [(windows[0][0], later), (windows[1][0], later)]
    assert restored_windows(windows, start, end, 180, zone, [True, False]) == [(windows[0][0], later), windows[1]]


def test_the_index_totals_say_they_hold_provisional_figures(provisional: tuple[Path, Path, str]) -> None:
    """The overview line and the totals row add the provisional run's credit to the others: they say so."""
    from kt_analysis.report.index import write_index

    out, _folder, _ = provisional
    write_index(out)
    page = (out / "index.html").read_text(encoding="utf-8")
    assert 'data-provisional="true"' in page
    overview = page[page.index('<p class="overview">'):]
    assert "잠정 1건 포함 (장애 진행 중)" in overview[:overview.index("</p>")]
