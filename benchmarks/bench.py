"""kt-analysis benchmark: `kt-analysis run` on the nationwide outage and the billing error, timed
against an expert's hand-written DuckDB reference (benchmarks/reference.py) and the read floor, in
the same run.

    python benchmarks/bench.py                 # what `make bench` runs
    BENCH_SIZES=1000000,5000000 BENCH_REPEAT=1 python benchmarks/bench.py   # a quick version
    BENCH_200M=1 python benchmarks/bench.py    # also the 200M-line Parquet dataset (long)

Every measurement runs in a fresh process; wall time is taken around the process and peak RSS is
the process's ``ru_maxrss`` from ``os.wait4`` (for `kt-analysis run` with its notebook kernels:
the largest single process of the tree). Rosters are generated once with `kt-analysis generate`
and cached under ``.bench/``, with the bill items the catalogue's fee bases read (the nationwide
incident's policy computes each line's fee on its October 2021 bill items). Every figure the
reference computes is compared with the package's ``summary.json``, and the per-line decisions of
both ledgers are compared (in a child process); the benchmark stops with TOTALS DIFFER on any
difference. Writes benchmarks/RESULTS.md and benchmarks/scaling.png.

``python benchmarks/bench.py ours INCIDENT ROSTER OUT [BILLS] [--bill-items ITEMS]`` is the "our API"
process: it calls ``analyse(load_incident(...), OUT)`` and prints timings (and the growth of the
peak RSS per stage) and totals; the benchmark runs it once to explain a peak-memory target not met.
``python benchmarks/bench.py ledgers KIND LEDGER...`` prints each ledger's row count and the sum
of the hashes of its per-line decisions (KIND: nationwide or billing).
"""

# ruff: noqa: T201, S608  (a command-line script: it prints its results; its SQL is built from paths)
from __future__ import annotations

import json
import os
import platform
import re
import resource
import shutil
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
HERE = ROOT / "benchmarks"
CACHE = Path(os.environ.get("BENCH_DIR", ROOT / ".bench")).absolute()  # the measured processes run elsewhere
OUT = CACHE / "out"
SEED = 20211025
NATIONWIDE = ROOT / "data" / "incidents" / "kt-2021-10-25-nationwide.yml"
BILLING = ROOT / "data" / "incidents" / "kt-2023-09-billing-error.yml"
SAMPLE = ROOT / "data" / "incidents" / "kt-2024-08-10-landline.yml"
TARGET_LINES = 35_000_000
BIG_PARTS = 5  # the 200M-line dataset: 5 parts of 40M lines, each generated with its own seed
BIG_PART_LINES = 40_000_000
ID_OFFSET = 1_000_000_000  # part k's line_id and customer_id are shifted by k × this
BIG_ITEMS = CACHE / "r200m-items"  # the 200M dataset's bill items: part-<k>.parquet (not in r200m/: its glob)
BIG_RESULT = CACHE / "r200m-result.json"
LAST_RUN = CACHE / "last-run.json"  # the last run's measurements (python benchmarks/bench.py --rewrite)
OWN_RSS_LIMIT = 200 * 2**20  # see measure()
WORK = CACHE / "work"  # the measured processes' working folder (DuckDB spills to .tmp there)
GB = 10**9
# The bill months whose items are generated for every roster line (rN/bill_items.parquet): the
# nationwide incident's own policy computes on 2021-10; 2018-08..10 let the what-if compute the
# Ahyeon special (kt-2018-ahyeon-special) too, as on the committed sample. 2021-09, the landline
# special's basis for this incident, is left out, as in the sample's items: the what-if skips that
# policy (summary.json's what_if_skipped), and the reference must skip it too. Measured on the
# 2-core machine: 1M lines, 2021-10 alone 5.3 s and 5.0 MB; these 4 months 9.4 s and 16 MB, so
# about 5.5 min and 0.6 GB at 35M lines.
ITEM_MONTHS = tuple(m.strip() for m in os.environ.get("BENCH_ITEM_MONTHS", "2018-08,2018-09,2018-10,2021-10").split(",")
                    if m.strip())

TARGETS = {
    "nationwide_ratio": 1.3,  # `kt-analysis run --no-report` ÷ the expert reference, at 35M lines
    "nationwide_floor_ratio": 6.0,  # the same run ÷ the read floor
    "nationwide_peak_bytes": 1 * GB,
    "report_extra_s": 3.0,  # the report on top of `run --no-report`, at any roster size
    "billing_ratio": 1.3,
    "big_vs_35m": 7.0,  # the 200M-line dataset's time ÷ the 35M time
    "big_peak_bytes": 4 * GB,
}

# The per-line decisions compared between the package's ledger and the reference's: the sum of
# hash(these columns) over the ledger, and its row count.
DECISIONS = {
    "nationwide": {"line_id": "BIGINT", "credit_krw": "BIGINT"},
    "billing": {"line_id": "BIGINT", "charged_krw": "BIGINT", "owed_krw": "BIGINT", "cancelled_krw": "BIGINT",
                "refund_krw": "BIGINT", "recharge_krw": "BIGINT", "settled_on": "DATE", "recharge_on": "DATE"},
}


# ----- the "our API" process ---------------------------------------------------------------------

def _api():  # noqa: ANN202  (the package's modules are moving: the new place first, then the old)
    try:
        from kt_analysis.jobs.analyse import analyse
    except ImportError:
        from kt_analysis.analysis import analyse
    try:
        from kt_analysis.inputs.incident import load_incident
    except ImportError:
        from kt_analysis.incident import load_incident
    return analyse, load_incident


def ours(argv: list[str]) -> int:
    """One call of the package's API, as a user's script would make it."""
    t0 = time.perf_counter()
    analyse, load_incident = _api()

    t1 = time.perf_counter()
    items = None
    if "--bill-items" in argv:
        at = argv.index("--bill-items")
        items = argv[at + 1]
        argv = argv[:at] + argv[at + 2:]
    incident_path, roster, out = argv[0], argv[1], Path(argv[2])
    bills = argv[3] if len(argv) > 3 else None
    marks: list[tuple[float, str]] = []
    peaks: list[int] = []  # the process's peak RSS so far, at each progress message and at the end

    def progress(message: str) -> None:
        marks.append((time.perf_counter() - t1, message))
        peaks.append(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024)

    incident = load_incident(incident_path, roster=roster, bills=bills, **({"bill_items": items} if items else {}))
    summary = analyse(incident, out, progress=progress).to_dict()
    t2 = time.perf_counter()
    peaks.append(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024)
    stages = _stages(marks, t2 - t1)
    for stage, before, after in zip(stages[1:], peaks[:-1], peaks[1:], strict=True):
        stage["peak_rss_growth"] = after - before  # > 0: this stage raised the peak
    keys = ("affected_lines", "eligible_lines", "total_credit_krw", "total_charged_krw", "total_owed_krw",
            "total_cancelled_krw", "total_refund_krw")
    print(json.dumps({
        "import_s": round(t1 - t0, 3), "seconds": round(t2 - t1, 3),
        "stages": stages,
        "totals": {k: summary[k] for k in keys if k in summary},
    }, ensure_ascii=False))
    return 0


def ledgers(argv: list[str]) -> int:
    """``ledgers KIND [--full] LEDGER...``: per ledger, its rows and the sum of hash(decisions);
    with ``--full`` also the sum of the hash of every whole row and the schema (the Spark engine's
    ledger is compared with the DuckDB engine's that way). A child process of the benchmark."""
    import duckdb

    kind, rest = argv[0], argv[1:]
    full = rest[:1] == ["--full"]
    paths = rest[1:] if full else rest
    cols = ", ".join(f"CAST({c} AS {t})" for c, t in DECISIONS[kind].items())
    con = duckdb.connect()
    out = []
    for path in map(Path, paths):
        src = "'" + str(path / "**" / "*.parquet" if path.is_dir() else path).replace("'", "''") + "'"
        extra = ", sum(hash(l))" if full else ""
        row = con.execute(f"SELECT count(*), sum(hash({cols})){extra} FROM read_parquet({src}) AS l").fetchone()
        item = {"rows": int(row[0]), "decisions": str(row[1])}
        if full:
            item["rows_hash"] = str(row[2])
            item["schema"] = [list(r[:2]) for r in
                              con.execute(f"DESCRIBE SELECT * FROM read_parquet({src})").fetchall()]
        out.append(item)
    con.close()
    print(json.dumps(out))
    return 0


def _stages(marks: list[tuple[float, str]], end: float, first: str = "loading the incident") -> list[dict]:
    """Consecutive progress messages as stages: each lasts until the next message (or ``end``)."""
    out = [{"stage": first, "seconds": round(marks[0][0], 3)}] if marks and first else []
    for i, (t, msg) in enumerate(marks):
        nxt = marks[i + 1][0] if i + 1 < len(marks) else end
        out.append({"stage": _stage_name(msg), "seconds": round(nxt - t, 3)})
    return out


def _stage_name(msg: str) -> str:
    msg = re.sub(r"roster: [\d,]+ lines; ", "", msg)
    msg = re.sub(r"^[a-z0-9-]+: ", "", msg)  # the CLI prefixes the incident id
    return msg


# ----- running and measuring a process -----------------------------------------------------------

@dataclass
class Sample:
    seconds: float
    rss_bytes: int
    load: float  # 1-minute load average just before the process started
    payload: dict = field(default_factory=dict)  # what the process printed (JSON), if anything
    stderr: str = ""


def measure(cmd: list[str], *, cwd: Path = WORK, timeout: float = 7200) -> Sample:
    """Run ``cmd`` in a fresh process; wall time around it, peak RSS from wait4. Each stderr line
    is kept with the time it arrived (seconds since the process started).

    Linux carries the parent's peak RSS into a child's ``ru_maxrss`` across fork/vfork + exec, so
    the benchmark's own process must stay small: it does no data work itself (DuckDB and
    matplotlib run in children or after the last measurement), and it refuses to go on if its
    own peak would mask a measurement."""
    import threading

    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    if own > OWN_RSS_LIMIT:
        raise SystemExit(f"bench: the benchmark process itself peaked at {mib(own)}: children's peak RSS "
                         f"would be masked by it; keep data work out of bench.py's own process")
    OUT.mkdir(parents=True, exist_ok=True)
    cwd.mkdir(parents=True, exist_ok=True)
    out_path = OUT / ".stdout"
    load = os.getloadavg()[0]
    arrived: list[tuple[float, str]] = []
    with open(out_path, "wb") as so:
        start = time.perf_counter()
        proc = subprocess.Popen(cmd, cwd=cwd, stdout=so, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL)

        def read() -> None:
            for raw in proc.stderr:
                arrived.append((time.perf_counter() - start, raw.decode("utf-8", "replace").rstrip("\n")))

        reader = threading.Thread(target=read, daemon=True)
        reader.start()
        killer = threading.Timer(timeout, proc.kill)
        killer.start()
        _, status, usage = os.wait4(proc.pid, 0)
        seconds = time.perf_counter() - start
        killer.cancel()
        proc.returncode = os.waitstatus_to_exitcode(status)
        reader.join(timeout=10)
    stdout = out_path.read_text(encoding="utf-8", errors="replace")
    stderr = "\n".join(line for _, line in arrived)
    if proc.returncode != 0:
        sys.stderr.write(stderr[-4000:] + "\n")
        raise SystemExit(f"bench: FAILED (exit {proc.returncode}): {' '.join(map(str, cmd))}")
    payload: dict = {"stderr_lines": arrived}
    for line in reversed(stdout.strip().splitlines()):
        if line.startswith("{"):
            payload.update(json.loads(line))
            break
    return Sample(seconds=seconds, rss_bytes=usage.ru_maxrss * 1024, load=load, payload=payload, stderr=stderr)


def kt_cli() -> list[str]:
    exe = Path(sys.executable).parent / "kt-analysis"
    if exe.exists():
        return [str(exe)]
    found = shutil.which("kt-analysis")
    if found is None:
        raise SystemExit("bench: kt-analysis is not installed in this interpreter's environment: run `make bench`")
    return [found]


def fresh(path: Path) -> Path:
    if path.exists():
        shutil.rmtree(path)
    path.mkdir(parents=True)
    return path


def say(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)


# ----- inputs, generated once --------------------------------------------------------------------

def generated(lines: int, *, bills: bool = True, seed: int = SEED, folder: Path | None = None) -> Path:
    """``.bench/r<lines>/``: roster (and the bills of 2023-07..09) from `kt-analysis generate`, cached."""
    folder = folder or CACHE / f"r{lines}"
    cmd = [*kt_cli(), "--quiet", "generate", "--lines", str(lines), "--seed", str(seed), "--out", str(folder)]
    cmd += ["--first-month", "2023-07", "--bill-months", "3"] if bills else ["--no-bills"]
    stamp = folder / ".generated"
    wanted = " ".join(cmd[1:])
    if stamp.exists() and stamp.read_text() == wanted:
        return folder
    say(f"generating {lines:,} lines into {folder} (once; cached)")
    start = time.perf_counter()
    subprocess.run(cmd, cwd=ROOT, check=True, stdout=subprocess.DEVNULL)
    stamp.write_text(wanted)
    say(f"  generated in {time.perf_counter() - start:.0f} s")
    return folder


def _write_stamp(stamp: Path, text: str) -> None:
    tmp = stamp.with_name(stamp.name + ".tmp")
    tmp.write_text(text)
    os.replace(tmp, stamp)


def _generate_items(roster: Path, seed: int, out_dir: Path) -> Path:
    """``out_dir/bill_items.parquet``: the items of ITEM_MONTHS for every line of ``roster``, from
    `generate_bill_items` (which writes the file atomically), in a child process (see measure())."""
    code = ("import sys; from kt_analysis.inputs.synthetic import generate_bill_items; "
            "generate_bill_items(sys.argv[1], int(sys.argv[2]), sys.argv[3], months=sys.argv[4].split(','))")
    subprocess.run([sys.executable, "-c", code, str(roster), str(seed), str(out_dir), ",".join(ITEM_MONTHS)],
                   cwd=ROOT, check=True)
    return out_dir / "bill_items.parquet"


def bill_items(folder: Path, *, seed: int = SEED) -> Path:
    """``.bench/r<lines>/bill_items.parquet``: the bill items of ITEM_MONTHS for every line of the
    roster beside it, with the seed of its bills (the items of a month add up to the line's bill of
    that month), cached. Regenerated when the months or the roster change."""
    stamp = folder / ".items-generated"
    wanted = f"months {','.join(ITEM_MONTHS)} seed {seed} roster {(folder / '.generated').read_text()}"
    target = folder / "bill_items.parquet"
    if stamp.exists() and stamp.read_text() == wanted and target.exists():
        return target
    say(f"generating the bill items of {', '.join(ITEM_MONTHS)} for {folder / 'roster.parquet'} (once; cached)")
    stamp.unlink(missing_ok=True)
    start = time.perf_counter()
    _generate_items(folder / "roster.parquet", seed, folder)
    _write_stamp(stamp, wanted)
    say(f"  generated in {time.perf_counter() - start:.0f} s, {target.stat().st_size / 2**20:,.0f} MiB")
    return target


def big_items(big: Path) -> Path:
    """``.bench/r200m-items/part-<k>.parquet``: the bill items of ITEM_MONTHS for the lines of each part
    of the 200M dataset (its shifted ids), with the part's seed. Each part is generated outside the
    folder and moved in whole; about 9 s per million lines with the 4 default months."""
    stamp = BIG_ITEMS / ".generated"
    wanted = f"months {','.join(ITEM_MONTHS)} seeds {SEED}+k roster {(big / '.generated').read_text()}"
    if stamp.exists() and stamp.read_text() == wanted:
        return BIG_ITEMS
    if BIG_ITEMS.exists():
        shutil.rmtree(BIG_ITEMS)
    BIG_ITEMS.mkdir(parents=True)
    for k in range(BIG_PARTS):
        say(f"  generating the bill items of {big / f'part-{k}.parquet'} ({BIG_PART_LINES:,} lines)")
        start = time.perf_counter()
        tmp = fresh(CACHE / "r200m-items-tmp")
        os.replace(_generate_items(big / f"part-{k}.parquet", SEED + k, tmp), BIG_ITEMS / f"part-{k}.parquet")
        shutil.rmtree(tmp)
        say(f"    in {time.perf_counter() - start:.0f} s")
    _write_stamp(stamp, wanted)
    return BIG_ITEMS


def big_dataset() -> Path:
    """``.bench/r200m/part-<k>.parquet``: 5 × 40M lines, one seed each, ids shifted to stay unique."""
    target = CACHE / "r200m"
    stamp = target / ".generated"
    wanted = f"{BIG_PARTS} x {BIG_PART_LINES} seeds {SEED}+k offset {ID_OFFSET}"
    if stamp.exists() and stamp.read_text() == wanted:
        return target
    target.mkdir(parents=True, exist_ok=True)
    for k in range(BIG_PARTS):
        part = target / f"part-{k}.parquet"
        if part.exists():
            continue
        tmp = generated(BIG_PART_LINES, bills=False, seed=SEED + k, folder=CACHE / f"r200m-src-{k}")
        say(f"  writing {part} (line_id, customer_id + {k * ID_OFFSET:,})")
        src = str(tmp / "roster.parquet").replace("'", "''")
        dst = str(part.with_suffix(".partial")).replace("'", "''")
        sql = (f"COPY (SELECT * REPLACE (line_id + {k * ID_OFFSET} AS line_id, "
               f"customer_id + {k * ID_OFFSET} AS customer_id) FROM read_parquet('{src}')) "
               f"TO '{dst}' (FORMAT parquet, COMPRESSION zstd, ROW_GROUP_SIZE 1000000)")
        # In a child process: the benchmark's own process must stay small (see measure()).
        subprocess.run([sys.executable, "-c", "import duckdb, sys; duckdb.connect().execute(sys.argv[1])", sql],
                       check=True)
        os.replace(part.with_suffix(".partial"), part)
        shutil.rmtree(tmp)
    stamp.write_text(wanted)
    return target


# ----- measurements ------------------------------------------------------------------------------

@dataclass
class Series:
    name: str
    samples: list[Sample] = field(default_factory=list)

    @property
    def times(self) -> list[float]:
        return [s.seconds for s in self.samples]

    @property
    def median(self) -> float:
        return statistics.median(self.times)

    @property
    def rss(self) -> int:
        return int(statistics.median([s.rss_bytes for s in self.samples]))

    @property
    def inner(self) -> float:
        """Median of the time measured inside the process (without start-up and imports)."""
        return statistics.median(s.payload.get("seconds", s.seconds) for s in self.samples)

    def cell(self) -> str:
        if not self.samples:
            return "—"
        if len(self.samples) == 1:
            return f"{self.median:.2f} s"
        return f"{self.median:.2f} s ({min(self.times):.2f}–{max(self.times):.2f})"

    def rss_cell(self) -> str:
        if not self.samples:
            return "—"
        values = [s.rss_bytes for s in self.samples]
        if len(values) == 1 or max(values) - min(values) < 2**20:
            return mib(self.rss)
        return f"{mib(self.rss)} ({mib(min(values))}–{mib(max(values))})"


def mib(n: float) -> str:
    return f"{n / 2**20:,.0f} MiB"


def gb(n: float) -> str:
    return f"{n / GB:,.2f} GB"


def figure_diff(ours: object, ref: object, path: str = "") -> tuple[list[tuple[str, object, object]], int]:
    """Every figure of ``ref`` (nested dicts and lists, as in summary.json) against the same place in
    ``ours``: the differences and how many figures were compared."""
    if isinstance(ref, dict):
        if not isinstance(ours, dict):
            return [(path, ours, ref)], 1
        diffs, n = [], 0
        for key, value in ref.items():
            if key not in ours:
                diffs.append((f"{path}.{key}", "(missing)", value))
                n += 1
                continue
            d, m = figure_diff(ours[key], value, f"{path}.{key}")
            diffs += d
            n += m
        return diffs, n
    if isinstance(ref, list):
        if not isinstance(ours, list) or len(ours) != len(ref):
            return [(path, ours, ref)], 1
        diffs, n = [], 0
        for i, (a, b) in enumerate(zip(ours, ref, strict=True)):
            d, m = figure_diff(a, b, f"{path}[{i}]")
            diffs += d
            n += m
        return diffs, n
    return ([] if ours == ref else [(path, ours, ref)]), 1


def check_figures(what: str, ours_summary: dict, ref_figures: dict) -> int:
    """Every figure the reference computed must equal the package's; anything else stops the
    benchmark. Returns how many figures were compared."""
    diffs, n = figure_diff(ours_summary, ref_figures)
    if diffs:
        lines = "\n".join(f"    {p.lstrip('.')}: ours {a!r}, reference {b!r}" for p, a, b in diffs[:30])
        more = f"\n    … and {len(diffs) - 30} more" if len(diffs) > 30 else ""
        raise SystemExit(f"\nbench: TOTALS DIFFER ({what}) — the package and the DuckDB reference disagree on "
                         f"{len(diffs)} of {n} figures:\n{lines}{more}\n")
    return n


def ledger_prints(kind: str, paths: list[Path], *, full: bool = False) -> list[dict]:
    """Row counts and decision hashes of ledgers, computed in a child process (see measure())."""
    cmd = [sys.executable, str(Path(__file__).resolve()), "ledgers", kind, *(["--full"] if full else []),
           *map(str, paths)]
    done = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        sys.stderr.write(done.stderr[-4000:] + "\n")
        raise SystemExit(f"bench: FAILED (exit {done.returncode}): {' '.join(cmd)}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def check_ledgers(what: str, kind: str, ours_ledger: Path, ref_ledger: Path, *, full: bool = False) -> dict:
    """The per-line decisions of both ledgers must agree: the same rows, the same sum of
    hash(decisions) (for the outage: line_id, credit_krw). Returns the package's ledger's print."""
    a, b = ledger_prints(kind, [ours_ledger, ref_ledger], full=full)
    if (a["rows"], a["decisions"]) != (b["rows"], b["decisions"]):
        cols = ", ".join(DECISIONS[kind])
        raise SystemExit(f"\nbench: TOTALS DIFFER ({what}) — the ledgers' per-line decisions disagree:\n"
                         f"    ours: {a['rows']:,} rows, sum(hash({cols})) = {a['decisions']}\n"
                         f"    reference: {b['rows']:,} rows, sum(hash({cols})) = {b['decisions']}\n")
    return a


def read_json(path: Path) -> dict:
    return json.loads(path.read_text(encoding="utf-8"))


def run_seconds(run_dir: Path) -> float | None:
    """The seconds `kt-analysis run` recorded in run.json (its own clock: imports not included)."""
    try:
        return float(read_json(run_dir / "run.json")["seconds"])
    except (OSError, KeyError, ValueError, TypeError):
        return None


def cli_sample(cmd: list[str], run_dir: Path) -> Sample:
    """`kt-analysis run` in a fresh process, with its stage timings (stderr) and own seconds (run.json)."""
    sample = measure(cmd)
    sample.payload["cli_stages"] = cli_stages(sample)
    seconds = run_seconds(run_dir)
    if seconds is not None:
        sample.payload["seconds"] = seconds
    return sample


@dataclass
class Compared:
    """One incident at one size: ours, the reference, the read floor (the outage only)."""

    ours: Series
    ref: Series
    floor: Series | None = None
    figures: int = 0  # how many figures were compared on each run (all equal)
    ledger_rows: int = 0
    summary_text: str = ""  # the package's summary.json (last run), for the Spark engine's comparison
    ledger_print: dict = field(default_factory=dict)  # the package's ledger (last run), likewise


def compare_runs(what: str, kind: str, incident: Path, size: int, cli_args: list[str], ref_cmd: list[str],
                 repeat: int, floor_cmd: list[str] | None = None, *, keep: bool = False) -> Compared:
    """`kt-analysis run INCIDENT … --no-report` and the reference (and the read floor), interleaved
    (rotating which goes first); every figure and the ledgers' decisions compared on every run."""
    out_ours, out_ref = OUT / "ours", OUT / "ref"
    ours_cmd = [*kt_cli(), "run", str(incident), *cli_args, "--no-report", "--out", str(out_ours)]
    run_dir = out_ours / incident.stem
    c = Compared(Series(f"{what} ours"), Series(f"{what} reference"),
                 Series(f"{what} read floor") if floor_cmd else None)
    sides = ["ref", "ours"] + (["floor"] if floor_cmd else [])
    for i in range(repeat):
        order = sides[i % len(sides):] + sides[:i % len(sides)]
        for side in order:
            if side == "ours":
                fresh(out_ours)
                sample = cli_sample(ours_cmd, run_dir)
                c.ours.samples.append(sample)
            elif side == "ref":
                fresh(out_ref)
                sample = measure(ref_cmd)
                c.ref.samples.append(sample)
            else:
                sample = measure(floor_cmd)
                c.floor.samples.append(sample)
            say(f"  {what} {size:,} {side:5s} #{i + 1}: {sample.seconds:6.2f} s, {mib(sample.rss_bytes)}"
                f" (load {sample.load:.1f})")
        label = f"{what}, {size:,} lines"
        c.figures = check_figures(label, read_json(run_dir / "summary.json"), c.ref.samples[-1].payload["figures"])
        last = keep and i == repeat - 1
        fp = check_ledgers(label, kind, run_dir / "ledger.parquet", out_ref / "ledger.parquet", full=last)
        c.ledger_rows = fp["rows"]
        if last:
            c.summary_text = (run_dir / "summary.json").read_text(encoding="utf-8")
            c.ledger_print = fp
        shutil.rmtree(out_ours)
        shutil.rmtree(out_ref)
    say(f"  {what} {size:,}: {c.figures} figures and {c.ledger_rows:,} lines' decisions equal")
    return c


def cli_stages(sample: Sample) -> list[dict]:
    """The stage timings `kt-analysis run` prints to stderr (``[  12.3s] <id>: <stage>``), by its own
    clock. That clock starts once the CLI has imported what it needs; the time before it (Python
    start-up, imports) comes from when the first line arrived, the time after its last line is exit."""
    marks, anchor = [], None
    for when, line in sample.payload.get("stderr_lines", []):
        m = re.match(r"^\[\s*([\d.]+)s\] (.*)$", line)
        if m:
            marks.append((float(m.group(1)), m.group(2)))
            if anchor is None:
                anchor = when - float(m.group(1))
    if not marks or anchor is None:
        return []
    done = next((t for t, msg in marks if " done in " in msg), None)
    marks = [(t, msg) for t, msg in marks if " done in " not in msg]
    end = done if done is not None else marks[-1][0]
    out = [{"stage": "Python start-up and imports", "seconds": round(anchor, 3)}]
    out += _stages(marks, end, first="loading the incident")
    out.append({"stage": "exit", "seconds": round(max(0.0, sample.seconds - anchor - end), 3)})
    return out


def median_stages(samples: list[Sample], key: str = "cli_stages", field: str = "seconds") -> list[tuple[str, float]]:
    names: list[str] = []
    per: dict[str, list[float]] = {}
    for s in samples:
        for st in s.payload.get(key, []):
            if field not in st:
                continue
            if st["stage"] not in per:
                names.append(st["stage"])
            per.setdefault(st["stage"], []).append(st[field])
    return [(n, statistics.median(per[n])) for n in names]


def pieces_text(ref: Series) -> str:
    """The reference's passes (median seconds inside its process) and its start-up."""
    names: list[str] = []
    per: dict[str, list[float]] = {}
    for s in ref.samples:
        for name, sec in s.payload.get("pieces", {}).items():
            if name not in per:
                names.append(name)
            per.setdefault(name, []).append(sec)
    parts = [f"{n} {statistics.median(per[n]):.1f} s" for n in names]
    parts.append(f"Python start-up, imports and exit {ref.median - ref.inner:.1f} s")
    return "; ".join(parts)


def memory_text(samples: list[Sample], peak: int) -> str:
    """Which stages raised the process's peak RSS, and by how much (medians)."""
    growth = [(n, g) for n, g in median_stages(samples, "stages", field="peak_rss_growth") if g >= 2**20]
    if not growth:
        return ""
    before = peak - sum(g for _, g in growth)
    parts = [f"start-up and loading {mib(before)}"] + [f"+{mib(g)} during “{n}”" for n, g in growth]
    return "; ".join(parts)


# ----- the report --------------------------------------------------------------------------------

def machine() -> dict:
    cpu = "?"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        cpu = platform.processor() or "?"
    ram = "?"
    try:
        kb = int(re.search(r"MemTotal:\s+(\d+)", Path("/proc/meminfo").read_text()).group(1))
        ram = f"{kb / 2**20:.1f} GiB"
    except (OSError, AttributeError):
        pass
    from importlib import metadata

    versions = {"python": platform.python_version()}
    for pkg in ("duckdb", "pyarrow", "pandas", "kt-analysis"):
        try:
            versions[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            versions[pkg] = "?"
    commit = "?"
    try:
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True,
                                text=True, check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no", "--", "kt_analysis",
                                "notebooks", "data", "pyproject.toml"], cwd=ROOT,
                               capture_output=True, text=True, check=True).stdout.strip()
        if dirty:
            commit += " (with uncommitted changes to the package)"
    except (OSError, subprocess.CalledProcessError):
        pass
    return {"cpu": cpu, "cores": os.cpu_count(), "ram": ram, "os": platform.platform(), "versions": versions,
            "commit": commit}


def verdict(ok: bool | None) -> str:
    return "—" if ok is None else ("**met**" if ok else "**not met**")


def stage_text(stages: list[tuple[str, float]], total: float) -> str:
    if not stages:
        return ""
    parts = [f"{name} {sec:.1f} s ({100 * sec / total:.0f}%)" for name, sec in stages if sec >= 0.05]
    return "; ".join(parts)


def dominant(stages: list[tuple[str, float]], total: float) -> str:
    if not stages:
        return ""
    name, sec = max(stages, key=lambda s: s[1])
    return f"“{name}” takes {sec:.1f} s of {total:.1f} s ({100 * sec / total:.0f}%)"


def extra_stages(with_report: list[tuple[str, float]], without: list[tuple[str, float]]) -> list[tuple[str, float]]:
    """The stages a run with the report has and the run without it has not."""
    plain = {n for n, _ in without}
    return [(n, s) for n, s in with_report if n not in plain]


def report_extras(ctx: dict) -> list[tuple[str, float, Series, Series]]:
    """(where, seconds the report adds, with, without) at the largest size and on the sample."""
    out = []
    top = max(ctx["sizes"])
    if ctx.get("run_report") is not None:
        plain = ctx["nationwide"][top].ours
        out.append((f"{top:,} lines", ctx["run_report"].median - plain.median, ctx["run_report"], plain))
    if ctx.get("sample_report") is not None and ctx.get("sample_plain") is not None:
        lines = ctx.get("sample_lines")
        where = "the committed sample" + (f" ({lines:,} lines)" if lines else "")
        out.append((where, ctx["sample_report"].median - ctx["sample_plain"].median, ctx["sample_report"],
                    ctx["sample_plain"]))
    return out


def big_baseline(ctx: dict, big: dict) -> float | None:
    """The 35M-line `run --no-report` time the 200M run is judged against: from the run that
    measured the 200M figures if it had one, else this run's."""
    if big.get("t35"):
        return float(big["t35"])
    if TARGET_LINES in ctx.get("nationwide", {}):
        return ctx["nationwide"][TARGET_LINES].ours.median
    return None


def write_results(ctx: dict) -> None:  # noqa: C901, PLR0912, PLR0915  (one report, top to bottom)
    m = ctx["machine"]
    v = m["versions"]
    sizes: list[int] = ctx["sizes"]
    top = max(sizes)
    at = "" if top == TARGET_LINES else f" (measured at {top:,} lines: BENCH_SIZES left out 35M)"
    lines = [
        "# Benchmark results",
        "",
        f"Generated by `make bench` (benchmarks/bench.py) on {ctx['date']}; do not edit by hand. "
        "See benchmarks/README.md for what each measurement is.",
        "",
        f"- machine: {m['cpu']}, {m['cores']} cores, {m['ram']} RAM; {m['os']}",
        f"- versions: Python {v['python']}, DuckDB {v['duckdb']}, pyarrow {v['pyarrow']}, pandas {v['pandas']}, "
        f"kt-analysis {v['kt-analysis']} (commit {m['commit']})",
        f"- sizes: {', '.join(f'{n:,}' for n in sizes)} lines; each measurement {ctx['repeat']}× in a fresh "
        f"process, median (min–max) wall time; peak RSS = the process's maxrss (median)",
        f"- load average before the first / last measurement: {ctx['load_start']:.2f} / {ctx['load_end']:.2f} "
        f"(1 min; other work on the machine slows both sides alike, but not evenly)",
        f"- total benchmark time: {ctx['elapsed'] / 60:.1f} min (of which generating inputs not yet cached: "
        f"{ctx['generate_s'] / 60:.1f} min" + (f"; the 200M-line runs: {ctx['elapsed_big'] / 60:.1f} min"
                                               if ctx.get("elapsed_big") else "") + ")",
        "",
        "## Targets",
        "",
        "| what | target | measured | verdict |",
        "|---|---|---|---|",
    ]
    limits = []
    nat = ctx["nationwide"][top]
    o, r, f = nat.ours, nat.ref, nat.floor
    st = median_stages(o.samples)

    ratio = o.median / r.median
    ok = ratio <= TARGETS["nationwide_ratio"]
    lines.append(f"| nationwide incident, {top:,} lines, `kt-analysis run --no-report`, vs the expert reference"
                 f"{at} | ≤ {TARGETS['nationwide_ratio']}× | {ratio:.2f}× ({o.median:.1f} s vs {r.median:.1f} s) | "
                 f"{verdict(ok)} |")
    if not ok:
        allowed = TARGETS["nationwide_ratio"] * r.median
        limits.append(f"- **nationwide vs the expert reference**: {o.median:.1f} s, where the target allows "
                      f"{allowed:.1f} s ({o.median - allowed:.1f} s over). {dominant(st, o.median)}. Stages (from its "
                      f"stderr): {stage_text(st, o.median)}. The reference, {r.median:.1f} s: {pieces_text(r)}.")
    if f is not None and f.samples:
        fratio = o.median / f.median
        ok = fratio <= TARGETS["nationwide_floor_ratio"]
        lines.append(f"| the same run vs the read floor (decoding the roster columns the rules need and the bill "
                     f"items){at} | "
                     f"≤ {TARGETS['nationwide_floor_ratio']:.0f}× | {fratio:.2f}× ({o.median:.1f} s vs "
                     f"{f.median:.1f} s) | {verdict(ok)} |")
        if not ok:
            allowed = TARGETS["nationwide_floor_ratio"] * f.median
            limits.append(f"- **nationwide vs the read floor**: {o.median:.1f} s, where "
                          f"{TARGETS['nationwide_floor_ratio']:.0f}× the floor is {allowed:.1f} s "
                          f"({o.median - allowed:.1f} s over); the floor decodes the columns in {f.inner:.1f} s "
                          f"inside its process. {dominant(st, o.median)}.")
    ok = o.rss <= TARGETS["nationwide_peak_bytes"]
    lines.append(f"| peak memory of that run{at} | ≤ {gb(TARGETS['nationwide_peak_bytes'])} "
                 f"({mib(TARGETS['nationwide_peak_bytes'])}) | {mib(o.rss)} ({gb(o.rss)}; reference {mib(r.rss)}"
                 + (f", read floor {mib(f.rss)}" if f is not None and f.samples else "") + f") | {verdict(ok)} |")
    if not ok:
        diag = ctx.get("peak_diag")
        where = ""
        if diag is not None and diag.samples:
            where = (f" Where the peak was reached (one run of the package's API, `bench.py ours`, peak "
                     f"{mib(diag.rss)}): {memory_text(diag.samples, diag.rss)}.")
        over = o.rss - TARGETS["nationwide_peak_bytes"]
        limits.append(f"- **peak memory**: {mib(o.rss)} at {top:,} lines, {mib(over)} over the target (the "
                      f"reference: {mib(r.rss)} for its ledger and every figure).{where}")

    extras = report_extras(ctx)
    if extras:
        ok = all(x <= TARGETS["report_extra_s"] for _, x, _, _ in extras)
        measured = "; ".join(f"+{x:.1f} s at {where} ({a.median:.1f} s vs {b.median:.1f} s)"
                             for where, x, a, b in extras)
        lines.append(f"| the report on top of it (`kt-analysis run` with the report − with `--no-report`), at any "
                     f"roster size | ≤ {TARGETS['report_extra_s']:.0f} s more | {measured} | {verdict(ok)} |")
        for where, x, a, b in extras:
            if x > TARGETS["report_extra_s"]:
                own = extra_stages(median_stages(a.samples), median_stages(b.samples))
                limits.append(f"- **the report at {where}**: it adds {x:.1f} s ({x - TARGETS['report_extra_s']:.1f} s "
                              f"over). The report's own stages: {stage_text(own, a.median) or '—'}; the rest is the "
                              f"difference in the shared stages and in start-up.")

    bil = ctx["billing"][top]
    bratio = bil.ours.median / bil.ref.median
    ok = bratio <= TARGETS["billing_ratio"]
    lines.append(f"| billing error, {top:,} lines, `kt-analysis run --no-report`, vs its expert reference{at} | "
                 f"≤ {TARGETS['billing_ratio']}× | {bratio:.2f}× ({bil.ours.median:.1f} s vs {bil.ref.median:.1f} s) | "
                 f"{verdict(ok)} |")
    if not ok:
        bst = median_stages(bil.ours.samples)
        allowed = TARGETS["billing_ratio"] * bil.ref.median
        limits.append(f"- **billing error**: {bil.ours.median:.1f} s, where the target allows {allowed:.1f} s "
                      f"({bil.ours.median - allowed:.1f} s over). {dominant(bst, bil.ours.median)}. Stages: "
                      f"{stage_text(bst, bil.ours.median)}. The reference, {bil.ref.median:.1f} s: "
                      f"{pieces_text(bil.ref)}.")

    big = ctx.get("big")
    if big is None:
        lines.append(f"| 200M-line Parquet dataset, `kt-analysis run --no-report` | ≤ {TARGETS['big_vs_35m']:.0f}× the "
                     f"35M time, peak ≤ {gb(TARGETS['big_peak_bytes'])} | not run (set BENCH_200M=1) | — |")
    else:
        when = f"; from the BENCH_200M=1 run of {big['date']}" if big.get("earlier") else ""
        base = big_baseline(ctx, big)
        secs, peak = big["ours"]["seconds"], big["ours"]["rss"]
        time_ok = None if base is None else secs <= TARGETS["big_vs_35m"] * base
        peak_ok = peak <= TARGETS["big_peak_bytes"]
        ok = False if not peak_ok else time_ok  # None: no 35M time to judge the time by
        vs = f" = {secs / base:.1f}× the 35M time ({base:.1f} s)" if base else " (no 35M time to compare with)"
        lines.append(f"| 200M-line Parquet dataset ({BIG_PARTS} files), `kt-analysis run --no-report`{when} | "
                     f"≤ {TARGETS['big_vs_35m']:.0f}× the 35M time, peak ≤ {gb(TARGETS['big_peak_bytes'])} | "
                     f"{secs:.0f} s{vs}; peak {mib(peak)} ({gb(peak)}); reference {big['ref']['seconds']:.0f} s, "
                     f"{mib(big['ref']['rss'])} | {verdict(ok)} |")
        if ok is False:
            bst = [(x["stage"], x["seconds"]) for x in big["ours"].get("stages", [])]
            parts = []
            if time_ok is False:
                parts.append(f"{secs:.0f} s, where {TARGETS['big_vs_35m']:.0f}× the 35M time is "
                             f"{TARGETS['big_vs_35m'] * base:.0f} s; {dominant(bst, secs)}")
            if not peak_ok:
                parts.append(f"peak {mib(peak)}, {mib(peak - TARGETS['big_peak_bytes'])} over the target")
            limits.append(f"- **200M lines**: {'; '.join(parts)}. Stages: {stage_text(bst, secs)}.")

    spark = ctx.get("spark")
    if spark:
        same = {n: s.samples[-1].payload.get("same", {}) for n, s in spark.items()}
        ok = all(x.get("summary") and x.get("ledger") for x in same.values())
        lines.append("| Spark engine (`--engine spark`, local[2]): the same ledger and summary as the DuckDB engine, "
                     "byte for byte | equal | " + "; ".join(
                         f"{n:,}: summary {'equal' if x.get('summary') else 'differs'}, ledger "
                         f"{'equal' if x.get('ledger') else 'differs'}" for n, x in sorted(same.items()))
                     + f" | {verdict(ok)} |")
        for n, x in sorted(same.items()):
            if x.get("why"):
                limits.append(f"- **Spark engine, {n:,} lines**: {x['why']}")
    else:
        lines.append("| Spark engine: the same ledger and summary as the DuckDB engine, byte for byte | equal | "
                     "not run (BENCH_SPARK=0) | — |")
    if limits:
        lines += ["", "### What limits the targets not met", "", *limits]

    lines += ["", "## Nationwide incident (kt-2021-10-25-nationwide): `kt-analysis run --no-report` vs the expert "
              "reference and the read floor", "",
              "Ours: `kt-analysis run kt-2021-10-25-nationwide.yml --roster R --bill-items I --no-report` — roster "
              "and bill items validation, exposure, each line's fee from its October 2021 bill items, the ledger, "
              "the what-if under every catalogue policy, summary.json. Reference: benchmarks/reference.py, an "
              "expert's hand-written DuckDB: a decision ledger (line, customer, minutes, eligible, credit) in one "
              "COPY of the roster joined to the lines' October fees, every breakdown's lines and credit and the "
              "what-if's totals (with its fee bases' checks: which catalogue policies are left out) in one "
              "GROUPING SETS query over the roster joined to every fee basis, exact distinct customers per "
              "breakdown in one per-customer bitmask pass. Read floor: `reference.py floor R I`, decoding the "
              "roster columns the rules need and every value of the bill items (line_id, bill_month, item, "
              "amount_krw), which the run must read too. Every figure the reference computes is compared with "
              "summary.json (the what-if and the policies it leaves out included), and the ledgers' per-line "
              "credits (count and sum of hash(line_id, credit_krw)), on every run: equal.", "",
              items_text(ctx), "",
              "| lines | ours | ours peak RSS | reference | reference peak RSS | read floor | floor peak RSS "
              "| ours ÷ reference | ours ÷ floor | reference ÷ floor | in-process ours ÷ reference | checked, equal |",
              "|---:|---|---|---|---|---|---|---:|---:|---:|---:|---|"]
    for n in sizes:
        c = ctx["nationwide"][n]
        fl = c.floor if c.floor is not None and c.floor.samples else None
        lines.append(f"| {n:,} | {c.ours.cell()} | {c.ours.rss_cell()} | {c.ref.cell()} | {c.ref.rss_cell()} | "
                     f"{fl.cell() if fl else '—'} | {fl.rss_cell() if fl else '—'} | "
                     f"{c.ours.median / c.ref.median:.2f}× | "
                     f"{f'{c.ours.median / fl.median:.2f}×' if fl else '—'} | "
                     f"{f'{c.ref.median / fl.median:.2f}×' if fl else '—'} | "
                     f"{c.ours.inner / c.ref.inner:.2f}× | {c.figures} figures; {c.ledger_rows:,} lines' credits |")
    lines += ["", "“in-process” compares the time inside each process (`kt-analysis run`: its own clock, as in "
              "run.json; the reference: its passes), without Python start-up and imports.", "",
              "The reference's passes (median seconds inside its process):", ""]
    lines += pieces_table(ctx, "nationwide")
    lines += ["", "Stages of `kt-analysis run --no-report` (median seconds, from its stderr):", ""]
    lines += stages_table(ctx, "nationwide")

    lines += ["", "## Billing error (kt-2023-09-billing-error): `kt-analysis run --no-report` vs the expert reference",
              "", "Bills: the generated bills of 2023-07..2023-09. Reference: the hit lines settled once into a "
              "temporary table, the decision ledger (the settlement of each line) from it, then every figure. Every "
              "figure the reference computes is compared with summary.json, and the ledgers' settlement per line "
              "(count and sum of hash of line_id and its money and dates), on every run: equal.", "",
              "| lines | ours | ours peak RSS | reference | reference peak RSS | ratio | ratio in-process "
              "| checked, equal |", "|---:|---|---|---|---|---:|---:|---|"]
    for n in sizes:
        c = ctx["billing"][n]
        lines.append(f"| {n:,} | {c.ours.cell()} | {c.ours.rss_cell()} | {c.ref.cell()} | {c.ref.rss_cell()} | "
                     f"{c.ours.median / c.ref.median:.2f}× | {c.ours.inner / c.ref.inner:.2f}× | "
                     f"{c.figures} figures; {c.ledger_rows:,} lines' settlements |")
    lines += ["", "The reference's passes (median seconds inside its process):", ""]
    lines += pieces_table(ctx, "billing")
    lines += ["", "Stages of `kt-analysis run --no-report` (median seconds, from its stderr):", ""]
    lines += stages_table(ctx, "billing")

    lines += ["", "## The report on top: `kt-analysis run` with and without `--no-report`", "",
              "| incident | roster | `--no-report` | with the report | the report adds | peak RSS with the report "
              "| the report's own stages |", "|---|---|---|---|---:|---|---|"]
    for (where, x, a, b), incident in zip(extras, ("kt-2021-10-25-nationwide", "kt-2024-08-10-landline"), strict=False):
        own = extra_stages(median_stages(a.samples), median_stages(b.samples))
        lines.append(f"| {incident} | {where} | {b.cell()} | {a.cell()} | +{x:.1f} s | {mib(a.rss)} | "
                     f"{stage_text(own, a.median)} |")
    lines += ["", "Peak RSS of `kt-analysis run` with the report is the largest single process (the CLI or a "
              "notebook kernel), not their sum."]
    if ctx.get("run_report") is not None:
        lines += ["", f"Stages of `kt-analysis run` with the report at {top:,} lines: "
                  f"{stage_text(median_stages(ctx['run_report'].samples), ctx['run_report'].median)}."]

    if spark:
        when = f" (measured {ctx['spark_date']})" if ctx.get("spark_date") else ""
        lines += ["", "## Distributed engine: `--engine spark` on this machine (local[2])" + when, "",
                  "`kt-analysis run kt-2021-10-25-nationwide --roster R --bill-items I --engine spark "
                  "--spark-master local[2] "
                  "--no-report`, once per size, in a fresh process (Spark's JVM start included). Every figure is "
                  "checked against the DuckDB reference of the same size (equal), and summary.json and the ledger "
                  "against the DuckDB engine's of the same size: summary.json byte for byte, the ledger by its "
                  "schema, row count and the sum of the hashes of its whole rows. On one 2-core machine Spark is "
                  "the slow way to the same figures; it exists for rosters that live on, or outgrow, a cluster. "
                  "Peak RSS here is the Python process (the roster check and the ledger merge on the driver): "
                  "Spark's JVM is a process of its own that wait4 does not count; its heap is capped "
                  "at spark.driver.memory (4 GiB in local mode).", "",
                  "| lines | spark wall time | peak RSS of the Python process | duckdb (`run --no-report`) | "
                  "spark ÷ duckdb | same as duckdb | stages |", "|---:|---|---|---|---:|---|---|"]
        for n in sizes:
            if n not in spark:
                continue
            sp, duck = spark[n], ctx["nationwide"][n].ours
            x = sp.samples[-1].payload.get("same", {})
            same_text = ("summary and ledger" if x.get("summary") and x.get("ledger") else
                         "summary only" if x.get("summary") else "ledger only" if x.get("ledger") else "neither")
            lines.append(f"| {n:,} | {sp.cell()} | {mib(sp.rss)} | {duck.cell()} | {sp.median / duck.median:.1f}× | "
                         f"{same_text} | {stage_text(median_stages(sp.samples), sp.median)} |")
    if big is not None:
        bo, br = big["ours"], big["ref"]
        origin = (f"Measured by the BENCH_200M=1 run of {big['date']} (commit {big['commit']}), kept in "
                  f".bench/r200m-result.json and repeated here; this run did not repeat it."
                  if big.get("earlier") else "Measured in this run.")
        checked = (f"{big['figures']} figures and the ledgers' per-line credits equal" if big.get("figures")
                   else "totals equal")
        lines += ["", "## 200M-line roster (Parquet dataset)", "",
                  f"`.bench/r200m/`: {BIG_PARTS} files of {BIG_PART_LINES:,} lines, each generated with its own seed "
                  f"and line_id/customer_id shifted by k × {ID_OFFSET:,} with DuckDB; its bill items (one file per "
                  f"part, `.bench/r200m-items/`) generated from each part with the part's seed. Run once each "
                  f"(load average before: {big.get('load', 0):.1f}). {origin}", "",
                  "| what | wall time | peak RSS | B/line | checked |", "|---|---|---|---:|---|",
                  f"| `kt-analysis run kt-2021-10-25-nationwide --roster .bench/r200m --no-report` | "
                  f"{bo['seconds']:.1f} s | {mib(bo['rss'])} | {bo['rss'] / big['lines']:.1f} | "
                  f"{big['totals']['affected_lines']:,} lines, {big['totals']['total_credit_krw']:,} won |",
                  f"| reference (benchmarks/reference.py) | {br['seconds']:.1f} s | {mib(br['rss'])} | "
                  f"{br['rss'] / big['lines']:.1f} | {checked} |"]
        bst = [(x["stage"], x["seconds"]) for x in bo.get("stages", [])]
        if bst:
            lines += ["", f"Stages: {stage_text(bst, bo['seconds'])}."]
    lines += ["", "![wall time and peak RSS against lines](scaling.png)", ""]
    (HERE / "RESULTS.md").write_text("\n".join(lines), encoding="utf-8")


def items_text(ctx: dict) -> str:
    """What the bill items are, for RESULTS.md."""
    items = ctx.get("items")
    if not items:
        return "Bill items: not recorded by this run."
    sizes = "; ".join(f"{int(n):,} lines: {mib(b)}" for n, b in sorted(items["bytes"].items(), key=lambda x: int(x[0])))
    return (f"Bill items (`I`): every roster line's bill items of {', '.join(items['months'])}, from "
            f"`kt_analysis.inputs.synthetic.generate_bill_items` with the seed of the roster's bills, cached beside "
            f"the roster ({sizes}).")


def pieces_table(ctx: dict, key: str) -> list[str]:
    names: list[str] = []
    for n in ctx["sizes"]:
        for s in ctx[key][n].ref.samples:
            names += [x for x in s.payload.get("pieces", {}) if x not in names]
    floor = key == "nationwide"
    out = ["| lines | " + " | ".join(names) + " | whole, in process | start-up, imports, exit |"
           + (" read floor, in process |" if floor else ""),
           "|---:|" + "---:|" * (len(names) + 2 + floor)]
    for n in ctx["sizes"]:
        c = ctx[key][n]
        cells = [statistics.median([s.payload.get("pieces", {}).get(x, 0.0) for s in c.ref.samples]) for x in names]
        row = f"| {n:,} | " + " | ".join(f"{x:.2f}" for x in cells) + f" | {c.ref.inner:.2f} | "
        row += f"{c.ref.median - c.ref.inner:.2f} |"
        if floor:
            row += f" {c.floor.inner:.2f} |" if c.floor is not None and c.floor.samples else " — |"
        out.append(row)
    return out


def stages_table(ctx: dict, key: str) -> list[str]:
    names: list[str] = []
    for n in ctx["sizes"]:
        names += [x for x, _ in median_stages(ctx[key][n].ours.samples) if x not in names]
    out = ["| lines | " + " | ".join(names) + " |", "|---:|" + "---:|" * len(names)]
    for n in ctx["sizes"]:
        st = dict(median_stages(ctx[key][n].ours.samples))
        out.append(f"| {n:,} | " + " | ".join(f"{st[x]:.2f}" if x in st else "—" for x in names) + " |")
    return out


def plot(ctx: dict) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    sizes = ctx["sizes"]
    fig, (ax_t, ax_m) = plt.subplots(1, 2, figsize=(11, 4.5))
    curves = [
        ("nationwide, kt-analysis run --no-report", "nationwide", "ours", "C0", "-"),
        ("nationwide, expert DuckDB reference", "nationwide", "ref", "C0", "--"),
        ("nationwide, read floor", "nationwide", "floor", "C7", ":"),
        ("billing, kt-analysis run --no-report", "billing", "ours", "C1", "-"),
        ("billing, expert DuckDB reference", "billing", "ref", "C1", "--"),
    ]
    for label, key, side, color, style in curves:
        series = [getattr(ctx[key][n], side) for n in sizes]
        if any(s is None or not s.samples for s in series):
            continue
        xs = list(sizes)
        ts = [s.median for s in series]
        lo = [s.median - min(s.times) for s in series]
        hi = [max(s.times) - s.median for s in series]
        face = color if side == "ours" else "white"
        ax_t.errorbar(xs, ts, yerr=[lo, hi], label=label, color=color, linestyle=style, marker="o", mfc=face,
                      capsize=3)
        ax_m.plot(xs, [s.rss / 2**20 for s in series], label=label, color=color, linestyle=style, marker="o",
                  mfc=face)
    if ctx.get("spark"):
        xs = sorted(ctx["spark"])
        label = "--engine spark (local[2]), run --no-report"
        ax_t.plot(xs, [ctx["spark"][n].median for n in xs], "-^", color="C4", label=label)
        ax_m.plot(xs, [ctx["spark"][n].rss / 2**20 for n in xs], "-^", color="C4",
                  label="--engine spark: Python process only (JVM heap ≤ 4 GiB)")
    if ctx.get("big") is not None:
        big = ctx["big"]
        for side, color, label in (("ours", "C0", "200M, kt-analysis run --no-report"),
                                   ("ref", "C7", "200M, DuckDB reference")):
            ax_t.plot([big["lines"]], [big[side]["seconds"]], "*", markersize=11, color=color, label=label)
            ax_m.plot([big["lines"]], [big[side]["rss"] / 2**20], "*", markersize=11, color=color, label=label)
    if ctx.get("run_report") is not None:
        top = max(sizes)
        ax_t.plot([top], [ctx["run_report"].median], "s", color="C2", label="kt-analysis run (report)")
        ax_m.plot([top], [ctx["run_report"].rss / 2**20], "s", color="C2", label="kt-analysis run (report)")
    if ctx.get("sample_report") is not None and ctx.get("sample_lines"):
        n = ctx["sample_lines"]
        label = "kt-analysis run, sample incident (report)"
        ax_t.plot([n], [ctx["sample_report"].median], "D", color="C3", label=label)
        ax_m.plot([n], [ctx["sample_report"].rss / 2**20], "D", color="C3", label=label)
    ax_m.axhline(TARGETS["nationwide_peak_bytes"] / 2**20, linestyle=":", color="grey",
                 label=f"{gb(TARGETS['nationwide_peak_bytes'])} (target, 35M nationwide)")
    for ax, title, ylabel in ((ax_t, "wall time (fresh process)", "seconds"),
                              (ax_m, "peak RSS", "MiB")):
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("roster lines")
        ax.set_ylabel(ylabel)
        ax.set_title(title)
        ax.grid(True, which="both", alpha=0.3)
    ax_m.legend(fontsize=7)
    m = ctx["machine"]
    fig.suptitle(f"kt-analysis {m['versions']['kt-analysis']} vs an expert's hand-written DuckDB — {m['cores']} cores, "
                 f"{m['ram']} — {ctx['date']}", fontsize=10)
    fig.tight_layout()
    fig.savefig(HERE / "scaling.png", dpi=110)
    plt.close(fig)


# ----- the measurements, kept for --rewrite -----------------------------------------------------

SERIES_KEYS = ("run_report", "sample_report", "sample_plain", "peak_diag")


def _ser(series: Series | None) -> dict | None:
    from dataclasses import asdict

    if series is None:
        return None
    return {"name": series.name, "samples": [asdict(x) | {"stderr": ""} for x in series.samples]}


def _de(d: dict | None) -> Series | None:
    if d is None:
        return None
    return Series(d["name"], [Sample(**x) for x in d["samples"]])


def save_ctx(ctx: dict) -> None:
    out = {k: v for k, v in ctx.items() if k not in ("nationwide", "billing", "spark", *SERIES_KEYS)}
    for key in ("nationwide", "billing"):
        out[key] = {str(n): {"ours": _ser(c.ours), "ref": _ser(c.ref), "floor": _ser(c.floor), "figures": c.figures,
                             "ledger_rows": c.ledger_rows, "summary_text": c.summary_text,
                             "ledger_print": c.ledger_print}
                    for n, c in ctx[key].items()}
    if ctx.get("spark"):
        out["spark"] = {str(n): _ser(x) for n, x in ctx["spark"].items()}
    for key in SERIES_KEYS:
        if ctx.get(key) is not None:
            out[key] = _ser(ctx[key])
    LAST_RUN.write_text(json.dumps(out, ensure_ascii=False), encoding="utf-8")


def load_ctx() -> dict:
    ctx = json.loads(LAST_RUN.read_text(encoding="utf-8"))
    if "nationwide" not in ctx:
        raise SystemExit(f"bench: {LAST_RUN} is from an earlier version of the benchmark: run it again")
    for key in ("nationwide", "billing"):
        ctx[key] = {int(n): Compared(_de(d["ours"]), _de(d["ref"]), _de(d["floor"]), d["figures"], d["ledger_rows"],
                                     d["summary_text"], d["ledger_print"])
                    for n, d in ctx[key].items()}
    for key in SERIES_KEYS:
        if key in ctx:
            ctx[key] = _de(ctx[key])
    if "spark" in ctx:
        ctx["spark"] = {int(n): _de(x) for n, x in ctx["spark"].items()}
    return ctx


# ----- the distributed engine ---------------------------------------------------------------------

def spark_series(sizes: list[int], folders: dict[int, Path], ctx: dict) -> dict[int, Series]:
    """`kt-analysis run --engine spark --no-report` (local[2]) once per size: every figure checked
    against the DuckDB reference of the same size (stops if one differs), and summary.json and the
    ledger against the DuckDB engine's of the same size (the target: the same, byte for byte)."""
    out: dict[int, Series] = {}
    for n in sizes:
        say(f"spark engine (local[2]), nationwide, {n:,} lines")
        series = Series("spark")
        run_out = fresh(OUT / "spark")
        run_dir = run_out / NATIONWIDE.stem
        sample = cli_sample([*kt_cli(), "run", str(NATIONWIDE), "--roster", str(folders[n] / "roster.parquet"),
                             "--bill-items", str(bill_items(folders[n])), "--engine", "spark",
                             "--spark-master", "local[2]", "--no-report", "--out", str(run_out)], run_dir)
        duck = ctx["nationwide"][n]
        check_figures(f"spark engine, {n:,} lines", read_json(run_dir / "summary.json"),
                      duck.ref.samples[-1].payload["figures"])
        text = (run_dir / "summary.json").read_text(encoding="utf-8")
        fp = ledger_prints("nationwide", [run_dir / "ledger.parquet"], full=True)[0]
        why = []
        same_summary = text == duck.summary_text
        if not same_summary:
            diffs, _ = figure_diff(json.loads(text), json.loads(duck.summary_text or "{}"))
            shown = ", ".join(f"{p.lstrip('.')} ({a!r} vs {b!r})" for p, a, b in diffs[:5])
            how = f": {shown}" if diffs else " in its bytes only (formatting or key order)"
            why.append(f"summary.json differs from the DuckDB engine's{how}")
        keys = ("rows", "decisions", "rows_hash", "schema")
        same_ledger = all(fp.get(k) == duck.ledger_print.get(k) for k in keys)
        if not same_ledger:
            differ = [k for k in keys if fp.get(k) != duck.ledger_print.get(k)]
            why.append(f"the ledger differs from the DuckDB engine's in: {', '.join(differ)}")
        sample.payload["same"] = {"summary": same_summary, "ledger": same_ledger, "why": "; ".join(why)}
        shutil.rmtree(run_out)
        series.samples.append(sample)
        say(f"  spark #1: {sample.seconds:6.2f} s, {mib(sample.rss_bytes)}; summary "
            f"{'equal' if same_summary else 'DIFFERS'}, ledger {'equal' if same_ledger else 'DIFFERS'}")
        out[n] = series
    return out


def spark_only() -> int:
    """``python benchmarks/bench.py --spark``: measure the Spark engine alone, add it to the last
    run's measurements, and write RESULTS.md and scaling.png again."""
    ctx = load_ctx()
    months = ctx.get("items", {}).get("months")
    if months != list(ITEM_MONTHS):
        raise SystemExit(f"bench: {LAST_RUN} was measured on the bill items of {months or 'no months'}, not "
                         f"{', '.join(ITEM_MONTHS)}: run the benchmark again (or set BENCH_ITEM_MONTHS as it was)")
    folders = {n: generated(n) for n in ctx["sizes"]}
    ctx["spark"] = spark_series(ctx["sizes"], folders, ctx)
    ctx["spark_date"] = datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z")
    save_ctx(ctx)
    write_results(ctx)
    plot(ctx)
    shutil.rmtree(OUT, ignore_errors=True)
    return 0


# ----- main --------------------------------------------------------------------------------------

def main() -> int:  # noqa: PLR0915  (the run, in order)
    started = time.perf_counter()
    sizes = sorted(int(s.replace("_", "")) for s in
                   os.environ.get("BENCH_SIZES", "1000000,5000000,35000000").split(",") if s.strip())
    repeat = int(os.environ.get("BENCH_REPEAT", "3"))
    with_big = os.environ.get("BENCH_200M", "") not in ("", "0")
    if not sizes or repeat < 1:
        raise SystemExit("bench: BENCH_SIZES needs at least one size and BENCH_REPEAT at least 1")
    with_spark = os.environ.get("BENCH_SPARK", "1") not in ("", "0")
    py = sys.executable
    me = str(Path(__file__).resolve())
    ref = str(HERE / "reference.py")
    ctx: dict = {"sizes": sizes, "repeat": repeat, "machine": machine(),
                 "date": datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z"),
                 "nationwide": {}, "billing": {}}
    say(f"sizes {sizes}, {repeat} repeat(s), 200M: {'yes' if with_big else 'no'}; cache {CACHE}")
    folders = {n: generated(n) for n in sizes}
    items = {n: bill_items(folders[n]) for n in sizes}
    ctx["items"] = {"months": list(ITEM_MONTHS), "bytes": {str(n): items[n].stat().st_size for n in sizes}}
    big = big_dataset() if with_big else None
    big_bill_items = big_items(big) if big is not None else None
    generate_s = time.perf_counter() - started
    ctx["load_start"] = os.getloadavg()[0]

    for n in sizes:
        roster = folders[n] / "roster.parquet"
        bills = folders[n] / "bills.parquet"
        say(f"nationwide incident, {n:,} lines: run --no-report, the expert reference, the read floor")
        ctx["nationwide"][n] = compare_runs(
            "nationwide", "nationwide", NATIONWIDE, n, ["--roster", str(roster), "--bill-items", str(items[n])],
            [py, ref, "nationwide", str(roster), str(items[n]), str(OUT / "ref")], repeat,
            floor_cmd=[py, ref, "floor", str(roster), str(items[n])],
            keep=True)  # for the Spark engine (now or `--spark` later)
        say(f"billing error, {n:,} lines: run --no-report, the expert reference")
        ctx["billing"][n] = compare_runs(
            "billing", "billing", BILLING, n, ["--roster", str(roster), "--bills", str(bills)],
            [py, ref, "billing", str(roster), str(bills), str(OUT / "ref")], repeat)

    top = max(sizes)
    nat_top = ctx["nationwide"][top]
    if nat_top.ours.rss > TARGETS["nationwide_peak_bytes"]:
        say(f"peak memory over the target: the package's API once at {top:,} lines, to see which stage raised it")
        diag = Series("peak_diag")
        out = fresh(OUT / "diag")
        diag.samples.append(measure([py, me, "ours", str(NATIONWIDE), str(folders[top] / "roster.parquet"), str(out),
                                     "--bill-items", str(items[top])]))
        check_figures(f"the package's API, {top:,} lines", read_json(out / "summary.json"),
                      nat_top.ref.samples[-1].payload["figures"])
        shutil.rmtree(out)
        say(f"  api #1: {diag.samples[0].seconds:6.2f} s, {mib(diag.samples[0].rss_bytes)}")
        ctx["peak_diag"] = diag

    say(f"the report on top: kt-analysis run {NATIONWIDE.stem}, {top:,} lines, with the report")
    series = Series("run_report")
    for i in range(repeat):
        out = fresh(OUT / "run")
        run_dir = out / NATIONWIDE.stem
        sample = cli_sample([*kt_cli(), "run", str(NATIONWIDE), "--roster", str(folders[top] / "roster.parquet"),
                             "--bill-items", str(items[top]), "--out", str(out)], run_dir)
        check_figures(f"kt-analysis run with the report, {top:,} lines", read_json(run_dir / "summary.json"),
                      nat_top.ref.samples[-1].payload["figures"])
        if not (run_dir / "report.html").exists():
            raise SystemExit(f"bench: kt-analysis run wrote no report.html in {run_dir}")
        series.samples.append(sample)
        say(f"  run #{i + 1}: {sample.seconds:6.2f} s, {mib(sample.rss_bytes)} (load {sample.load:.1f})")
        shutil.rmtree(out)
    ctx["run_report"] = series

    say(f"the report on top: kt-analysis run {SAMPLE.stem} on the committed sample, with and without the report")
    ctx["sample_report"], ctx["sample_plain"] = Series("sample_report"), Series("sample_plain")
    for i in range(repeat):
        sides = [("report", ctx["sample_report"], []), ("no-report", ctx["sample_plain"], ["--no-report"])]
        for side, series, extra in (sides if i % 2 == 0 else sides[::-1]):
            out = fresh(OUT / "run")
            run_dir = out / SAMPLE.stem
            sample = cli_sample([*kt_cli(), "run", str(SAMPLE), *extra, "--out", str(out)], run_dir)
            if side == "report" and not (run_dir / "report.html").exists():
                raise SystemExit(f"bench: kt-analysis run wrote no report.html in {run_dir}")
            if ctx.get("sample_lines") is None:
                ctx["sample_lines"] = read_json(run_dir / "summary.json").get("roster_lines")
            series.samples.append(sample)
            say(f"  {side:9s} #{i + 1}: {sample.seconds:6.2f} s, {mib(sample.rss_bytes)} (load {sample.load:.1f})")
            shutil.rmtree(out)

    if with_spark:
        ctx["spark"] = spark_series(sizes, folders, ctx)

    if big is not None:
        big_started = time.perf_counter()
        lines = BIG_PARTS * BIG_PART_LINES
        say(f"200M: kt-analysis run --no-report on {big} ({lines:,} lines)")
        out_ours, out_ref = fresh(OUT / "big"), fresh(OUT / "ref")
        run_dir = out_ours / NATIONWIDE.stem
        s_ours = cli_sample([*kt_cli(), "run", str(NATIONWIDE), "--roster", str(big), "--bill-items",
                             str(big_bill_items), "--out", str(out_ours), "--no-report"], run_dir)
        say(f"  ours: {s_ours.seconds:.0f} s, {mib(s_ours.rss_bytes)}")
        s_ref = measure([py, ref, "nationwide", str(big), str(big_bill_items), str(out_ref)])
        say(f"  reference: {s_ref.seconds:.0f} s, {mib(s_ref.rss_bytes)}")
        summary = read_json(run_dir / "summary.json")
        figures = check_figures("200M lines", summary, s_ref.payload["figures"])
        check_ledgers("200M lines", "nationwide", run_dir / "ledger.parquet", out_ref / "ledger.parquet")
        shutil.rmtree(out_ours)
        shutil.rmtree(out_ref)
        totals = {k: summary[k] for k in ("affected_lines", "eligible_lines", "total_credit_krw")}
        ctx["big"] = {"ours": {"seconds": s_ours.seconds, "rss": s_ours.rss_bytes,
                               "stages": s_ours.payload["cli_stages"]},
                      "ref": {"seconds": s_ref.seconds, "rss": s_ref.rss_bytes},
                      "lines": lines, "totals": totals, "figures": figures, "date": ctx["date"],
                      "commit": ctx["machine"]["commit"], "load": s_ours.load,
                      "t35": ctx["nationwide"][TARGET_LINES].ours.median if TARGET_LINES in sizes else None}
        ctx["elapsed_big"] = time.perf_counter() - big_started
        BIG_RESULT.write_text(json.dumps(ctx["big"], indent=2), encoding="utf-8")
    elif BIG_RESULT.exists():  # the last BENCH_200M=1 run's figures, shown as such
        ctx["big"] = json.loads(BIG_RESULT.read_text(encoding="utf-8"))
        ctx["big"]["earlier"] = True

    ctx["load_end"] = os.getloadavg()[0]
    ctx["elapsed"] = time.perf_counter() - started
    ctx["generate_s"] = generate_s
    save_ctx(ctx)
    write_results(ctx)
    plot(ctx)
    shutil.rmtree(OUT, ignore_errors=True)
    shutil.rmtree(WORK, ignore_errors=True)
    say(f"wrote {HERE / 'RESULTS.md'} and {HERE / 'scaling.png'} in {ctx['elapsed'] / 60:.1f} min")
    print((HERE / "RESULTS.md").read_text(encoding="utf-8").split("\n## Nationwide incident")[0])
    return 0


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "ours":
        sys.exit(ours(sys.argv[2:]))
    if len(sys.argv) > 2 and sys.argv[1] == "ledgers":
        sys.exit(ledgers(sys.argv[2:]))
    if sys.argv[1:] == ["--spark"]:
        sys.exit(spark_only())
    if sys.argv[1:] == ["--rewrite"]:  # RESULTS.md and scaling.png again from the last run's measurements
        write_results(load_ctx())
        plot(load_ctx())
        sys.exit(0)
    sys.exit(main())
