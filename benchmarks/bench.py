"""kt-analysis benchmark: the per-line pass, the billing settlement and `kt-analysis run`, timed
against a hand-written DuckDB reference (benchmarks/reference.py) in the same run.

    python benchmarks/bench.py                 # what `make bench` runs
    BENCH_SIZES=1000000,5000000 BENCH_REPEAT=1 python benchmarks/bench.py   # a quick version
    BENCH_200M=1 python benchmarks/bench.py    # also the 200M-line Parquet dataset (long)

Every measurement runs in a fresh process; wall time is taken around the process and peak RSS is
the process's ``ru_maxrss`` from ``os.wait4`` (for `kt-analysis run` with its notebook kernels:
the largest single process of the tree). Rosters are generated once with `kt-analysis generate`
and cached under ``.bench/``. Writes benchmarks/RESULTS.md and benchmarks/scaling.png.

``python benchmarks/bench.py ours INCIDENT ROSTER OUT [BILLS]`` is the "our API" process: it
calls ``kt_analysis.analysis.analyse(load_incident(...), OUT)`` and prints timings and totals.
"""

# ruff: noqa: T201  (a command-line script: it prints its results)
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
CACHE = Path(os.environ.get("BENCH_DIR", ROOT / ".bench"))
OUT = CACHE / "out"
SEED = 20211025
NATIONWIDE = ROOT / "data" / "incidents" / "kt-2021-10-25-nationwide.yml"
BILLING = ROOT / "data" / "incidents" / "kt-2023-09-billing-error.yml"
SAMPLE = ROOT / "data" / "incidents" / "kt-2024-08-10-landline.yml"
TARGET_LINES = 35_000_000
BIG_PARTS = 5  # the 200M-line dataset: 5 parts of 40M lines, each generated with its own seed
BIG_PART_LINES = 40_000_000
ID_OFFSET = 1_000_000_000  # part k's line_id and customer_id are shifted by k × this
BIG_RESULT = CACHE / "r200m-result.json"
LAST_RUN = CACHE / "last-run.json"  # the last run's measurements (python benchmarks/bench.py --rewrite)
OWN_RSS_LIMIT = 200 * 2**20  # see measure()
WORK = CACHE / "work"  # the measured processes' working folder (DuckDB spills to .tmp there)

TARGETS = {
    "pass_ratio": 1.3,
    "pass_bytes_per_line": 20,
    "run_nationwide_s": 15.0,
    "run_sample_s": 4.0,
    "billing_ratio": 1.5,
}


# ----- the "our API" process ---------------------------------------------------------------------

def ours(argv: list[str]) -> int:
    """One call of the package's API, as a user's script would make it."""
    t0 = time.perf_counter()
    from kt_analysis.analysis import analyse
    from kt_analysis.incident import load_incident

    t1 = time.perf_counter()
    incident_path, roster, out = argv[0], argv[1], Path(argv[2])
    bills = argv[3] if len(argv) > 3 else None
    marks: list[tuple[float, str]] = []
    peaks: list[int] = []  # the process's peak RSS so far, at each progress message and at the end

    def progress(message: str) -> None:
        marks.append((time.perf_counter() - t1, message))
        peaks.append(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024)

    incident = load_incident(incident_path, roster=roster, bills=bills)
    summary = analyse(incident, out, progress=progress)
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


def check_totals(what: str, ours_totals: dict, ref_totals: dict) -> None:
    """Both sides must agree to the won; anything else stops the benchmark."""
    diff = {k: (ours_totals.get(k), v) for k, v in ref_totals.items() if ours_totals.get(k) != v}
    if diff:
        lines = "\n".join(f"    {k}: ours {a!r}, reference {b!r}" for k, (a, b) in diff.items())
        raise SystemExit(f"\nbench: TOTALS DIFFER ({what}) — the package and the DuckDB reference disagree:\n{lines}\n")


def summary_totals(run_dir: Path) -> dict:
    s = json.loads((run_dir / "summary.json").read_text(encoding="utf-8"))
    return {k: s[k] for k in ("affected_lines", "eligible_lines", "total_credit_krw") if k in s}


def pair(what: str, size: int, ours_cmd: list[str], ref_cmd: list[str], out_ours: Path, out_ref: Path,
         repeat: int) -> tuple[Series, Series]:
    """Ours and the reference, interleaved (alternating which goes first), totals compared each time."""
    a, b = Series(f"{what} ours"), Series(f"{what} reference")
    for i in range(repeat):
        order = [("ours", a), ("ref", b)] if i % 2 else [("ref", b), ("ours", a)]
        for side, series in order:
            out = fresh(out_ours if side == "ours" else out_ref)
            sample = measure(ours_cmd if side == "ours" else ref_cmd)
            series.samples.append(sample)
            say(f"  {what} {size:,} {side:4s} #{i + 1}: {sample.seconds:6.2f} s, {mib(sample.rss_bytes)}"
                f" (load {sample.load:.1f})")
            shutil.rmtree(out)
        check_totals(f"{what}, {size:,} lines", a.samples[-1].payload["totals"], b.samples[-1].payload["totals"])
    return a, b


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


def median_stages(samples: list[Sample], key: str = "stages", field: str = "seconds") -> list[tuple[str, float]]:
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


def budget_text(stages: list[tuple[str, float]], ours_series: Series, ref_series: Series, target: float) -> str:
    """The per-line stage (the ledger) against the reference, and what the other stages cost
    against the time the target leaves beyond the reference."""
    per_line = [(n, sec) for n, sec in stages if "per line" in n or "each line" in n]
    if not per_line:
        return ""
    name, sec = per_line[0]
    ref = statistics.median(s.payload["seconds"] for s in ref_series.samples)
    rest = ours_series.median - sec
    return (f"The ledger stage alone (“{name}”, {sec:.1f} s) is {sec / ref:.2f}× the whole reference "
            f"({ref:.1f} s inside its process); everything else in the process takes {rest:.1f} s, where the "
            f"target leaves {(target - 1) * ref_series.median:.1f} s beyond the reference.")


def inner_ratio(ours_series: Series, ref_series: Series) -> float:
    """Ratio of the medians of the time measured inside each process."""
    a = statistics.median(s.payload["seconds"] for s in ours_series.samples)
    b = statistics.median(s.payload["seconds"] for s in ref_series.samples)
    return a / b


def memory_text(samples: list[Sample], peak: int) -> str:
    """Which stages raised the process's peak RSS, and by how much (medians)."""
    growth = [(n, g) for n, g in median_stages(samples, field="peak_rss_growth") if g >= 2**20]
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


def write_results(ctx: dict) -> None:
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
        f"- total benchmark time: {ctx['elapsed'] / 60:.1f} min (of which generating rosters not yet cached: "
        f"{ctx['generate_s'] / 60:.1f} min" + (f"; the 200M-line runs: {ctx['elapsed_big'] / 60:.1f} min"
                                               if ctx.get("elapsed_big") else "") + ")",
        "",
        "## Targets",
        "",
        "| what | target | measured | verdict |",
        "|---|---|---|---|",
    ]
    limits = []
    p_ours, p_ref = ctx["pass"][top]
    ratio = p_ours.median / p_ref.median
    lines.append(f"| per-line pass (sizing + credits + summary), {top:,} lines, our API vs DuckDB SQL{at} | "
                 f"≤ {TARGETS['pass_ratio']}× | {ratio:.2f}× ({p_ours.median:.1f} s vs {p_ref.median:.1f} s) | "
                 f"{verdict(ratio <= TARGETS['pass_ratio'])} |")
    if ratio > TARGETS["pass_ratio"]:
        st = median_stages(p_ours.samples)
        inner = statistics.median(s.payload["seconds"] for s in p_ours.samples)
        limits.append(f"- **per-line pass**: {dominant(st, inner)}. Stages: {stage_text(st, inner)}; "
                      f"Python start-up and imports "
                      f"{statistics.median(s.payload['import_s'] for s in p_ours.samples):.1f} s. "
                      f"{budget_text(st, p_ours, p_ref, TARGETS['pass_ratio'])}")
    bpl = p_ours.rss / top
    lines.append(f"| peak memory of that pass{at} | ≤ {TARGETS['pass_bytes_per_line']} B/line "
                 f"({mib(TARGETS['pass_bytes_per_line'] * top)}) | {bpl:.1f} B/line ({mib(p_ours.rss)}; reference "
                 f"{p_ref.rss / top:.1f} B/line) | {verdict(bpl <= TARGETS['pass_bytes_per_line'])} |")
    if bpl > TARGETS["pass_bytes_per_line"]:
        floor = ("" if p_ref.rss / top <= TARGETS["pass_bytes_per_line"] else
                 f" The DuckDB reference itself, with DuckDB's defaults, needs {p_ref.rss / top:.0f} B/line: "
                 f"the target is below what a default parallel COPY of the ledger takes.")
        limits.append(f"- **peak memory**: {mib(p_ours.rss)} at {top:,} lines (the reference: {mib(p_ref.rss)} for "
                      f"the same ledger). Where the peak was reached: {memory_text(p_ours.samples, p_ours.rss)}."
                      f"{floor}")
    run = ctx.get("run_nationwide")
    if run is not None:
        ok = run.median <= TARGETS["run_nationwide_s"]
        lines.append(f"| `kt-analysis run` nationwide, {top:,} lines, report included{at} | "
                     f"≤ {TARGETS['run_nationwide_s']:.0f} s | {run.cell()}, {mib(run.rss)} | {verdict(ok)} |")
        if not ok:
            st = median_stages(run.samples, "cli_stages")
            limits.append(f"- **`kt-analysis run` nationwide**: {dominant(st, run.median)}. Stages (from its stderr): "
                          f"{stage_text(st, run.median)}. For scale: the DuckDB reference takes "
                          f"{p_ref.median:.1f} s for the ledger alone, in a fresh process.")
    sample = ctx.get("run_sample")
    if sample is not None:
        ok = sample.median <= TARGETS["run_sample_s"]
        lines.append(f"| `kt-analysis run` sample incident (kt-2024-08-10-landline, committed sample), report "
                     f"included | ≤ {TARGETS['run_sample_s']:.0f} s | {sample.cell()}, {mib(sample.rss)} | "
                     f"{verdict(ok)} |")
        if not ok:
            st = median_stages(sample.samples, "cli_stages")
            limits.append(f"- **`kt-analysis run` sample**: {dominant(st, sample.median)}. Stages: "
                          f"{stage_text(st, sample.median)}.")
    b_ours, b_ref = ctx["billing"][top]
    bratio = b_ours.median / b_ref.median
    lines.append(f"| billing-error settlement, {top:,} lines, our API vs DuckDB SQL{at} | "
                 f"≤ {TARGETS['billing_ratio']}× "
                 f"| {bratio:.2f}× ({b_ours.median:.1f} s vs {b_ref.median:.1f} s) | "
                 f"{verdict(bratio <= TARGETS['billing_ratio'])} |")
    if bratio > TARGETS["billing_ratio"]:
        st = median_stages(b_ours.samples)
        inner = statistics.median(s.payload["seconds"] for s in b_ours.samples)
        limits.append(f"- **billing settlement**: {dominant(st, inner)}. Stages: {stage_text(st, inner)}. "
                      f"{budget_text(st, b_ours, b_ref, TARGETS['billing_ratio'])}")
    big = ctx.get("big")
    if big is None:
        lines.append("| 200M-line roster (Parquet dataset) completes | completes on 24 GiB | "
                     "not run (set BENCH_200M=1) | — |")
    else:
        when = f"; from the BENCH_200M=1 run of {big['date']}" if big.get("earlier") else ""
        lines.append(f"| 200M-line roster (Parquet dataset, {BIG_PARTS} files), `kt-analysis run --no-report`{when} | "
                     f"completes on 24 GiB | completed in {big['ours']['seconds']:.0f} s, "
                     f"peak {mib(big['ours']['rss'])} "
                     f"(reference {big['ref']['seconds']:.0f} s, {mib(big['ref']['rss'])}) | **met** |")
    if limits:
        lines += ["", "### What limits the targets not met", "", *limits]

    lines += ["", "## Per-line pass: nationwide incident (kt-2021-10-25-nationwide), our API vs DuckDB reference", "",
              "Our API: `analyse(load_incident(nationwide, roster=R), out)` — roster validation, exposure, ledger, "
              "what-if under every catalogue policy, summary.json. Reference: benchmarks/reference.py, the same "
              "ledger from one hand-written COPY, then its totals. Totals (lines, eligible lines, credit in won) "
              "compared on every run: equal.", "",
              "| lines | ours | ours peak RSS | ours B/line | reference | reference peak RSS | ratio "
              "| ratio in-process | totals |",
              "|---:|---|---|---:|---|---|---:|---:|---|"]
    for n in sizes:
        a, b = ctx["pass"][n]
        t = a.samples[-1].payload["totals"]
        lines.append(f"| {n:,} | {a.cell()} | {a.rss_cell()} | {a.rss / n:.1f} | {b.cell()} | {b.rss_cell()} | "
                     f"{a.median / b.median:.2f}× | {inner_ratio(a, b):.2f}× | "
                     f"{t['affected_lines']:,} lines, {t['total_credit_krw']:,} won |")
    lines += ["", "“ratio in-process” compares the time inside each process (from loading the incident to the "
              "summary; the reference: its query and totals), without Python start-up and imports."]
    lines += ["", "Stages of our API (median seconds, inside the process):", "",
              "| lines | " + " | ".join(n for n, _ in median_stages(ctx["pass"][top][0].samples)) + " | import |",
              "|---:|" + "---:|" * (len(median_stages(ctx["pass"][top][0].samples)) + 1)]
    for n in sizes:
        a = ctx["pass"][n][0]
        lines.append(f"| {n:,} | " + " | ".join(f"{s:.2f}" for _, s in median_stages(a.samples)) +
                     f" | {statistics.median(s.payload['import_s'] for s in a.samples):.2f} |")

    lines += ["", "## Billing-error settlement (kt-2023-09-billing-error), our API vs DuckDB reference", "",
              "Bills: the generated bills of 2023-07..2023-09. Totals (lines, charged, owed, cancelled, refunded) "
              "compared on every run: equal.", "",
              "| lines | ours | ours peak RSS | reference | reference peak RSS | ratio | ratio in-process | totals |",
              "|---:|---|---|---|---|---:|---:|---|"]
    for n in sizes:
        a, b = ctx["billing"][n]
        t = a.samples[-1].payload["totals"]
        lines.append(f"| {n:,} | {a.cell()} | {a.rss_cell()} | {b.cell()} | {b.rss_cell()} | "
                     f"{a.median / b.median:.2f}× | {inner_ratio(a, b):.2f}× | "
                     f"{t['affected_lines']:,} lines, charged {t['total_charged_krw']:,} won |")
    st = median_stages(ctx["billing"][top][0].samples)
    if st:
        inner = statistics.median(s.payload["seconds"] for s in ctx["billing"][top][0].samples)
        lines += ["", f"Stages at {top:,} lines: {stage_text(st, inner)}."]

    lines += ["", "## `kt-analysis run`, end to end (report included)", "",
              "| incident | roster | wall time | peak RSS | stages (median, from stderr) |", "|---|---|---|---|---|"]
    if run is not None:
        lines.append(f"| kt-2021-10-25-nationwide | {top:,} lines | {run.cell()} | {mib(run.rss)} | "
                     f"{stage_text(median_stages(run.samples, 'cli_stages'), run.median)} |")
    if sample is not None:
        lines.append(f"| kt-2024-08-10-landline | data/sample/roster.parquet | {sample.cell()} | {mib(sample.rss)} | "
                     f"{stage_text(median_stages(sample.samples, 'cli_stages'), sample.median)} |")
    lines += ["", "Peak RSS of `kt-analysis run` is the largest single process (the CLI or a notebook kernel), "
              "not their sum."]

    spark = ctx.get("spark")
    if spark:
        when = f" (measured {ctx['spark_date']})" if ctx.get("spark_date") else ""
        lines += ["", "## Distributed engine: `--engine spark` on this machine (local[2])" + when, "",
                  "`kt-analysis run kt-2021-10-25-nationwide --roster R --engine spark --spark-master local[2] "
                  "--no-report`, once per size, in a fresh process (Spark's JVM start included). Totals checked "
                  "against the DuckDB reference of the same size: equal. On one 2-core machine Spark is the slow "
                  "way to the same figures; it exists for rosters that live on, or outgrow, a cluster. "
                  "Peak RSS here is the Python process (the roster check and the ledger merge on the driver): "
                  "Spark's JVM is a process of its own that wait4 does not count; its heap is capped "
                  "at spark.driver.memory (4 GiB in local mode).", "",
                  "| lines | spark wall time | peak RSS of the Python process | duckdb per-line pass (our API) | "
                  "spark ÷ duckdb | stages |", "|---:|---|---|---|---:|---|"]
        for n in sizes:
            if n not in spark:
                continue
            sp, ours_s = spark[n], ctx["pass"][n][0]
            lines.append(f"| {n:,} | {sp.cell()} | {mib(sp.rss)} | {ours_s.cell()} | "
                         f"{sp.median / ours_s.median:.1f}× | "
                         f"{stage_text(median_stages(sp.samples, 'cli_stages'), sp.median)} |")
    if big is not None:
        o, r = big["ours"], big["ref"]
        origin = (f"Measured by the BENCH_200M=1 run of {big['date']} (commit {big['commit']}), kept in "
                  f".bench/r200m-result.json and repeated here; this run did not repeat it."
                  if big.get("earlier") else "Measured in this run.")
        lines += ["", "## 200M-line roster (Parquet dataset)", "",
                  f"`.bench/r200m/`: {BIG_PARTS} files of {BIG_PART_LINES:,} lines, each generated with its own seed "
                  f"and line_id/customer_id shifted by k × {ID_OFFSET:,} with DuckDB. Run once each "
                  f"(load average before: {big.get('load', 0):.1f}). {origin}", "",
                  "| what | wall time | peak RSS | B/line | totals |", "|---|---|---|---:|---|",
                  f"| `kt-analysis run kt-2021-10-25-nationwide --roster .bench/r200m --no-report` | "
                  f"{o['seconds']:.1f} s | "
                  f"{mib(o['rss'])} | {o['rss'] / big['lines']:.1f} | "
                  f"{big['totals']['affected_lines']:,} lines, {big['totals']['total_credit_krw']:,} won |",
                  f"| reference (benchmarks/reference.py) | {r['seconds']:.1f} s | {mib(r['rss'])} | "
                  f"{r['rss'] / big['lines']:.1f} | equal |"]
        st = [(x["stage"], x["seconds"]) for x in o.get("stages", [])]
        if st:
            lines += ["", f"Stages: {stage_text(st, o['seconds'])}."]
    lines += ["", "![wall time and peak RSS against lines](scaling.png)", ""]
    (HERE / "RESULTS.md").write_text("\n".join(lines), encoding="utf-8")


def plot(ctx: dict) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import pyarrow.parquet as pq

    sample_lines = pq.ParquetFile(ROOT / "data" / "sample" / "roster.parquet").metadata.num_rows
    sizes = ctx["sizes"]
    fig, (ax_t, ax_m) = plt.subplots(1, 2, figsize=(11, 4.5))
    curves = [
        ("per-line pass, ours", "pass", 0, "C0", "-"),
        ("per-line pass, DuckDB reference", "pass", 1, "C0", "--"),
        ("billing, ours", "billing", 0, "C1", "-"),
        ("billing, DuckDB reference", "billing", 1, "C1", "--"),
    ]
    for label, key, idx, color, style in curves:
        xs = list(sizes)
        series = [ctx[key][n][idx] for n in sizes]
        ts = [s.median for s in series]
        lo = [s.median - min(s.times) for s in series]
        hi = [max(s.times) - s.median for s in series]
        face = color if idx == 0 else "white"
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
    if ctx.get("run_nationwide") is not None:
        top = max(sizes)
        ax_t.plot([top], [ctx["run_nationwide"].median], "s", color="C2", label="kt-analysis run (report)")
        ax_m.plot([top], [ctx["run_nationwide"].rss / 2**20], "s", color="C2", label="kt-analysis run (report)")
    if ctx.get("run_sample") is not None:  # on the committed sample roster
        n = sample_lines
        label = "kt-analysis run, sample incident (report)"
        ax_t.plot([n], [ctx["run_sample"].median], "D", color="C3", label=label)
        ax_m.plot([n], [ctx["run_sample"].rss / 2**20], "D", color="C3", label=label)
    xs = sorted(set(sizes) | ({ctx["big"]["lines"]} if ctx.get("big") else set()) | {sample_lines})
    ax_m.plot(xs, [n * TARGETS["pass_bytes_per_line"] / 2**20 for n in xs], ":", color="grey",
              label=f"{TARGETS['pass_bytes_per_line']} B/line (target)")
    for ax, title, ylabel in ((ax_t, "wall time (fresh process)", "seconds"),
                              (ax_m, "peak RSS", "MiB")):
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("roster lines")
        ax.set_ylabel(ylabel)
        ax.set_title(title)
        ax.grid(True, which="both", alpha=0.3)
    ax_m.legend(fontsize=8)
    m = ctx["machine"]
    fig.suptitle(f"kt-analysis {m['versions']['kt-analysis']} vs hand-written DuckDB SQL — {m['cores']} cores, "
                 f"{m['ram']} — {ctx['date']}", fontsize=10)
    fig.tight_layout()
    fig.savefig(HERE / "scaling.png", dpi=110)
    plt.close(fig)


# ----- the measurements, kept for --rewrite -----------------------------------------------------

def save_ctx(ctx: dict) -> None:
    from dataclasses import asdict

    def ser(series: Series) -> dict:
        return {"name": series.name, "samples": [asdict(x) | {"stderr": ""} for x in series.samples]}

    out = {k: v for k, v in ctx.items() if k not in ("pass", "billing", "run_nationwide", "run_sample", "spark")}
    if ctx.get("spark"):
        out["spark"] = {str(n): ser(x) for n, x in ctx["spark"].items()}
    for key in ("pass", "billing"):
        out[key] = {str(n): [ser(a), ser(b)] for n, (a, b) in ctx[key].items()}
    for key in ("run_nationwide", "run_sample"):
        if ctx.get(key) is not None:
            out[key] = ser(ctx[key])
    LAST_RUN.write_text(json.dumps(out, ensure_ascii=False), encoding="utf-8")


def load_ctx() -> dict:
    def de(d: dict) -> Series:
        return Series(d["name"], [Sample(**x) for x in d["samples"]])

    ctx = json.loads(LAST_RUN.read_text(encoding="utf-8"))
    for key in ("pass", "billing"):
        ctx[key] = {int(n): (de(a), de(b)) for n, (a, b) in ctx[key].items()}
    for key in ("run_nationwide", "run_sample"):
        if key in ctx:
            ctx[key] = de(ctx[key])
    if "spark" in ctx:
        ctx["spark"] = {int(n): de(x) for n, x in ctx["spark"].items()}
    return ctx


# ----- the distributed engine ---------------------------------------------------------------------

def spark_series(sizes: list[int], folders: dict[int, Path], ctx: dict) -> dict[int, Series]:
    """`kt-analysis run --engine spark --no-report` (local[2]) once per size, totals checked against
    the DuckDB reference of the same size."""
    out: dict[int, Series] = {}
    for n in sizes:
        say(f"spark engine (local[2]), nationwide, {n:,} lines")
        series = Series("spark")
        run_out = fresh(OUT / "spark")
        sample = measure([*kt_cli(), "run", str(NATIONWIDE), "--roster", str(folders[n] / "roster.parquet"),
                          "--engine", "spark", "--spark-master", "local[2]", "--no-report", "--out", str(run_out)])
        sample.payload["cli_stages"] = cli_stages(sample)
        check_totals(f"spark engine, {n:,} lines", summary_totals(run_out / NATIONWIDE.stem),
                     ctx["pass"][n][1].samples[-1].payload["totals"])
        shutil.rmtree(run_out)
        series.samples.append(sample)
        say(f"  spark #1: {sample.seconds:6.2f} s, {mib(sample.rss_bytes)}")
        out[n] = series
    return out


def spark_only() -> int:
    """``python benchmarks/bench.py --spark``: measure the Spark engine alone, add it to the last
    run's measurements, and write RESULTS.md and scaling.png again."""
    ctx = load_ctx()
    folders = {n: generated(n) for n in ctx["sizes"]}
    ctx["spark"] = spark_series(ctx["sizes"], folders, ctx)
    ctx["spark_date"] = datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z")
    save_ctx(ctx)
    write_results(ctx)
    plot(ctx)
    shutil.rmtree(OUT, ignore_errors=True)
    return 0


# ----- main --------------------------------------------------------------------------------------

def main() -> int:
    started = time.perf_counter()
    sizes = sorted(int(s.replace("_", "")) for s in
                   os.environ.get("BENCH_SIZES", "1000000,5000000,35000000").split(",") if s.strip())
    repeat = int(os.environ.get("BENCH_REPEAT", "3"))
    with_big = os.environ.get("BENCH_200M", "") not in ("", "0")
    if not sizes or repeat < 1:
        raise SystemExit("bench: BENCH_SIZES needs at least one size and BENCH_REPEAT at least 1")
    py = sys.executable
    me = str(Path(__file__).resolve())
    ref = str(HERE / "reference.py")
    ctx: dict = {"sizes": sizes, "repeat": repeat, "machine": machine(),
                 "date": datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z"),
                 "pass": {}, "billing": {}}
    say(f"sizes {sizes}, {repeat} repeat(s), 200M: {'yes' if with_big else 'no'}; cache {CACHE}")
    folders = {n: generated(n) for n in sizes}
    big = big_dataset() if with_big else None
    generate_s = time.perf_counter() - started
    ctx["load_start"] = os.getloadavg()[0]

    for n in sizes:
        roster = folders[n] / "roster.parquet"
        bills = folders[n] / "bills.parquet"
        say(f"per-line pass, nationwide, {n:,} lines")
        ctx["pass"][n] = pair(
            "pass", n, [py, me, "ours", str(NATIONWIDE), str(roster), str(OUT / "ours")],
            [py, ref, "nationwide", str(roster), str(OUT / "ref")], OUT / "ours", OUT / "ref", repeat)
        say(f"billing error, {n:,} lines")
        ctx["billing"][n] = pair(
            "billing", n, [py, me, "ours", str(BILLING), str(roster), str(OUT / "ours"), str(bills)],
            [py, ref, "billing", str(roster), str(bills), str(OUT / "ref")], OUT / "ours", OUT / "ref", repeat)

    top = max(sizes)
    ref_totals = ctx["pass"][top][1].samples[-1].payload["totals"]
    for key, incident, roster, lines in (
        ("run_nationwide", NATIONWIDE, folders[top] / "roster.parquet", top),
        ("run_sample", SAMPLE, None, None),
    ):
        series = Series(key)
        say(f"kt-analysis run {incident.stem}" + (f", {lines:,} lines" if lines else ", committed sample"))
        for i in range(repeat):
            out = fresh(OUT / "run")
            cmd = [*kt_cli(), "run", str(incident), "--out", str(out)] + (["--roster", str(roster)] if roster else [])
            sample = measure(cmd)
            sample.payload["cli_stages"] = cli_stages(sample)
            if roster is not None:
                check_totals(f"kt-analysis run, {lines:,} lines", summary_totals(out / incident.stem), ref_totals)
            if not (out / incident.stem / "report.html").exists():
                raise SystemExit(f"bench: kt-analysis run wrote no report.html in {out / incident.stem}")
            series.samples.append(sample)
            say(f"  run #{i + 1}: {sample.seconds:6.2f} s, {mib(sample.rss_bytes)} (load {sample.load:.1f})")
            shutil.rmtree(out)
        ctx[key] = series

    if os.environ.get("BENCH_SPARK", "1") not in ("", "0"):
        ctx["spark"] = spark_series(sizes, folders, ctx)

    if big is not None:
        big_started = time.perf_counter()
        lines = BIG_PARTS * BIG_PART_LINES
        say(f"200M: kt-analysis run --no-report on {big} ({lines:,} lines)")
        out = fresh(OUT / "big")
        s_ours = measure([*kt_cli(), "run", str(NATIONWIDE), "--roster", str(big), "--out", str(out), "--no-report"])
        totals = summary_totals(out / NATIONWIDE.stem)
        shutil.rmtree(out)
        say(f"  ours: {s_ours.seconds:.0f} s, {mib(s_ours.rss_bytes)}")
        out = fresh(OUT / "ref")
        s_ref = measure([py, ref, "nationwide", str(big), str(out)])
        shutil.rmtree(out)
        say(f"  reference: {s_ref.seconds:.0f} s, {mib(s_ref.rss_bytes)}")
        check_totals("200M lines", totals, s_ref.payload["totals"])
        ctx["big"] = {"ours": {"seconds": s_ours.seconds, "rss": s_ours.rss_bytes, "stages": cli_stages(s_ours)},
                      "ref": {"seconds": s_ref.seconds, "rss": s_ref.rss_bytes},
                      "lines": lines, "totals": totals, "date": ctx["date"], "commit": ctx["machine"]["commit"],
                      "load": s_ours.load}
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
    print((HERE / "RESULTS.md").read_text(encoding="utf-8").split("## Per-line pass")[0])
    return 0


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "ours":
        sys.exit(ours(sys.argv[2:]))
    if sys.argv[1:] == ["--spark"]:
        sys.exit(spark_only())
    if sys.argv[1:] == ["--rewrite"]:  # RESULTS.md and scaling.png again from the last run's measurements
        write_results(load_ctx())
        plot(load_ctx())
        sys.exit(0)
    sys.exit(main())
