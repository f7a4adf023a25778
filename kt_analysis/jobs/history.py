"""The history of published runs: ``history.duckdb`` in the output folder.

Every run that publishes records itself in it (``runs``) and, for an outage, each affected line's
outage minutes per calendar month and whether it credited them (``line_minutes``). A policy counting
across the calendar month (``eligibility.monthly_scope: calendar_month``) reads from it the minutes
of the earlier incidents of the same months. The schema is in the README ("Outages across a month").

How it is written: never in place. Under a lock (``.history.lock``: one writer per output folder) a
new database is built beside it — the old one's rows, less the incident's, plus the incident's new
ones — checkpointed, synced, and moved over the old one with ``os.replace`` right after the run's
folder is published. A reader (a run, ``kt-analysis history``) opens whichever complete file is in
place, read-only, and never waits; a run that fails or is refused, or is killed at any point, leaves
the old file as it was (a killed writer leaves only a ``.history-*.partial`` file, removed by the
next writer). DuckDB's own transactions would make each write atomic too, but the file would then
be opened read-write by the writer, and DuckDB lets no other process open it meanwhile, not even to
read; and a half-checkpointed file would rely on its write-ahead log being replayed. The price is a
copy of the history at each publish (measured in the README).
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import duckdb

from kt_analysis.dbrow import quote
from kt_analysis.engine.month import Earlier, EarlierRun, HistoryRows, uses_month, write_rows
from kt_analysis.errors import InputError, RunError
from kt_analysis.inputs.incident import Incident, catalogue_policies
from kt_analysis.inputs.policy import MONTH_PATTERN
from kt_analysis.rules.impact import incident_months
from kt_analysis.summary.model import Summary

HISTORY_FILE = "history.duckdb"
LOCK_FILE = ".history.lock"

# (column, type) per table, in order: the one statement of the schema (the README documents it).
RUNS = (
    ("incident_id", "VARCHAR"), ("kind", "VARCHAR"), ("published_at", "TIMESTAMP"), ("fingerprint", "VARCHAR"),
    ("policy_id", "VARCHAR"), ("monthly_scope", "VARCHAR"), ("incident_start", "TIMESTAMP"),
    ("incident_end", "TIMESTAMP"), ("months", "VARCHAR[]"), ("affected_lines", "BIGINT"),
    ("eligible_lines", "BIGINT"), ("total_credit_krw", "BIGINT"), ("earlier_incidents", "VARCHAR[]"),
)
# An outage's minutes are stored per exposure (lines sharing one share their minutes per month: one
# row per line, and a few per exposure and month), so that an outage spanning many months does not
# make a row per line and month; the view `line_minutes` gives them per line and month.
AFFECTED_LINES = (("incident_id", "VARCHAR"), ("line_id", "BIGINT"), ("exposure_id", "INTEGER"),
                  ("credited", "BOOLEAN"))
EXPOSURE_MONTHS = (("incident_id", "VARCHAR"), ("exposure_id", "INTEGER"), ("month", "VARCHAR"),
                   ("outage_minutes", "INTEGER"))
CARRIED = (("incident_id", "VARCHAR"), ("line_id", "BIGINT"), ("month", "VARCHAR"), ("carried_minutes", "INTEGER"))
LINE_MINUTES = (
    ("incident_id", "VARCHAR"), ("line_id", "BIGINT"), ("month", "VARCHAR"), ("outage_minutes", "INTEGER"),
    ("credited", "BOOLEAN"), ("carried_minutes", "INTEGER"),
)
TABLES = (("runs", RUNS), ("affected_lines", AFFECTED_LINES), ("exposure_months", EXPOSURE_MONTHS),
          ("carried", CARRIED))
NULLABLE = {"policy_id", "monthly_scope"}  # a billing error has no credit policy


def _create(name: str, columns: tuple[tuple[str, str], ...], key: str = "") -> str:
    cols = ", ".join(f"{c} {t}{'' if c in NULLABLE else ' NOT NULL'}" for c, t in columns)
    return f"CREATE TABLE {name} ({cols}{f', PRIMARY KEY ({key})' if key else ''});\n"


SCHEMA = (
    _create("runs", RUNS, "incident_id")
    # unique by construction, without an index (it would cost more than the rows): (incident_id,
    # line_id); (incident_id, exposure_id, month); (incident_id, line_id, month)
    + _create("affected_lines", AFFECTED_LINES) + _create("exposure_months", EXPOSURE_MONTHS)
    + _create("carried", CARRIED)
    + "CREATE VIEW line_minutes AS SELECT l.incident_id, l.line_id, e.month, e.outage_minutes, l.credited, "
      "CAST(coalesce(c.carried_minutes, 0) AS INTEGER) AS carried_minutes FROM affected_lines AS l "
      "JOIN exposure_months AS e ON e.incident_id = l.incident_id AND e.exposure_id = l.exposure_id "
      "LEFT JOIN carried AS c ON c.incident_id = l.incident_id AND c.line_id = l.line_id AND c.month = e.month;\n"
)
REBUILD = "move it aside: the next runs rebuild it (every incident in the folder is then run again)"


def history_path(out: Path) -> Path:
    return Path(out) / HISTORY_FILE


@dataclass(frozen=True)
class RunRow:
    """A published run, as ``runs`` records it."""

    incident_id: str
    kind: str
    published_at: datetime  # UTC
    fingerprint: str
    policy_id: str | None
    monthly_scope: str | None
    incident_start: datetime  # the incident's local time
    incident_end: datetime
    months: tuple[str, ...]
    affected_lines: int
    eligible_lines: int
    total_credit_krw: int
    earlier_incidents: tuple[str, ...]

    def values(self) -> list[Any]:
        return [self.incident_id, self.kind, self.published_at.replace(tzinfo=None), self.fingerprint,
                self.policy_id, self.monthly_scope, self.incident_start, self.incident_end, list(self.months),
                self.affected_lines, self.eligible_lines, self.total_credit_krw, list(self.earlier_incidents)]


def _stamp(value: datetime | date) -> datetime:
    return value if isinstance(value, datetime) else datetime(value.year, value.month, value.day)


def months_of(incident: Incident) -> tuple[str, ...]:
    """The calendar months an incident touches: an outage's windows; a billing error's charge month."""
    if incident.kind == "outage":
        return incident_months(incident)
    return (f"{incident.start:%Y-%m}",)


def run_row(incident: Incident, summary: Summary, fingerprint: str, earlier: Earlier | None) -> RunRow:
    policy = incident.policy
    return RunRow(
        incident_id=incident.id, kind=incident.kind, published_at=datetime.now(UTC), fingerprint=fingerprint,
        policy_id=policy.id if policy is not None and incident.kind == "outage" else None,
        monthly_scope=policy.eligibility.monthly_scope if policy is not None and incident.kind == "outage" else None,
        incident_start=_stamp(incident.start), incident_end=_stamp(incident.end), months=months_of(incident),
        affected_lines=summary.affected_lines, eligible_lines=summary.eligible_lines,
        total_credit_krw=summary.total_credit_krw,
        earlier_incidents=tuple(r.incident_id for r in earlier.runs) if earlier is not None else (),
    )


def reads_history(incident: Incident) -> bool:
    """The incident's run reads the history: an outage under a policy (its own, or one of the catalogue
    it is compared with) that counts its monthly threshold across the calendar month."""
    if incident.kind != "outage":
        return False
    try:
        return uses_month([incident.credit_policy, *catalogue_policies(incident)])
    except InputError:  # a catalogue policy that does not load: the run itself refuses it
        return False


# ----- reading ------------------------------------------------------------------------------------

def _check_schema(con: duckdb.DuckDBPyConnection, path: Path, catalog: str) -> None:
    found = {(t, c): dt for t, c, dt in con.execute(
        "SELECT table_name, column_name, data_type FROM information_schema.columns WHERE table_catalog = ?",
        [catalog]).fetchall()}
    for table, columns in (*TABLES, ("line_minutes", LINE_MINUTES)):
        for column, kind in columns:
            if found.get((table, column)) != kind:
                raise RunError(f"{path}: not a kt-analysis history (table {table} has no {kind} column {column}) "
                               f"— {REBUILD}")


@contextlib.contextmanager
def reading(out: Path) -> Iterator[duckdb.DuckDBPyConnection | None]:
    """The history in place, opened read-only (None when there is none yet)."""
    path = history_path(out)
    if not path.exists():
        yield None
        return
    try:
        con = duckdb.connect(str(path), read_only=True)
    except duckdb.Error as exc:
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:200]
        raise RunError(f"{path}: cannot be read as a DuckDB database ({first}) — {REBUILD}") from None
    try:
        catalog = con.execute("SELECT current_database()").fetchall()[0][0]
        _check_schema(con, path, catalog)
        yield con
    finally:
        con.close()


def _earlier_runs(con: duckdb.DuckDBPyConnection, incident: Incident,
                  months: tuple[str, ...]) -> list[tuple[str, datetime]]:
    """Outages published before ``incident`` (by start, then id) that touch one of ``months``."""
    start = _stamp(incident.start)
    return [(str(i), s) for i, s in con.execute(
        "SELECT incident_id, incident_start FROM runs WHERE kind = 'outage' AND incident_id <> $id "
        "AND (incident_start < $start OR (incident_start = $start AND incident_id < $id)) "
        "AND list_has_any(months, $months) ORDER BY incident_start, incident_id",
        {"id": incident.id, "start": start, "months": list(months)}).fetchall()]


def _rows_sql(ids: list[str], months: tuple[str, ...]) -> str:
    """The ``line_minutes`` rows of ``ids`` in ``months`` (ids and months are checked words: quoted)."""
    if not ids:
        return f"(SELECT {', '.join(c for c, _ in LINE_MINUTES)} FROM line_minutes WHERE false)"
    return (f"(SELECT {', '.join(c for c, _ in LINE_MINUTES)} FROM line_minutes "
            f"WHERE incident_id IN ({', '.join(map(quote, ids))}) AND month IN ({', '.join(map(quote, months))}))")


def _digest(con: duckdb.DuckDBPyConnection, rows: str, runs: list[tuple[str, datetime]],
            months: tuple[str, ...]) -> str:
    """What the run read: the months, the earlier incidents and their starts, and the rows (their
    number and the sum of their hashes): equal digests, equal history used."""
    n, total = con.execute(
        f"SELECT count(*), coalesce(sum(hash(incident_id, line_id, month, outage_minutes, credited, "
        f"carried_minutes)), 0) FROM {rows}").fetchall()[0]
    text = f"months={','.join(months)};runs=" + ",".join(f"{i}@{s.isoformat()}" for i, s in runs)
    return hashlib.sha256(f"{text};rows={n}:{total}".encode()).hexdigest()


def earlier(out: Path, incident: Incident, dest: Path) -> Earlier:
    """The earlier published incidents of the months ``incident`` touches, their ``line_minutes`` rows
    in those months written to ``dest`` (Parquet), and the digest of what was read.

    An earlier incident missing from the history (never published into this folder, or its run
    failed) is not counted: the summary's ``month_history`` names the ones that were."""
    months = incident_months(incident)
    with reading(out) as con:
        if con is None:
            write_rows(dest)
            return Earlier(rows=dest, runs=(), months=months, digest=_empty_digest(months))
        runs = _earlier_runs(con, incident, months)
        rows = _rows_sql([i for i, _ in runs], months)
        tmp = dest.with_name(dest.name + ".partial")
        con.execute(f"COPY (SELECT * FROM {rows} ORDER BY incident_id, line_id, month) TO {quote(tmp)} "
                    f"(FORMAT parquet, COMPRESSION zstd)")
        os.replace(tmp, dest)
        digest = _digest(con, rows, runs, months)
    return Earlier(rows=dest, runs=tuple(EarlierRun(i, s.isoformat(timespec="minutes")) for i, s in runs),
                   months=months, digest=digest)


def digest(out: Path, incident: Incident) -> str:
    """The digest :func:`earlier` would give now (what ``run-all``'s up-to-date check compares)."""
    months = incident_months(incident)
    with reading(out) as con:
        if con is None:
            return _empty_digest(months)
        runs = _earlier_runs(con, incident, months)
        return _digest(con, _rows_sql([i for i, _ in runs], months), runs, months)


def _empty_digest(months: tuple[str, ...]) -> str:
    """:func:`_digest` of no earlier incident and no row."""
    return hashlib.sha256(f"months={','.join(months)};runs=;rows=0:0".encode()).hexdigest()


def recorded(out: Path, incident_id: str) -> str | None:
    """The fingerprint the history records for the incident's published run (None: no row)."""
    with reading(out) as con:
        if con is None:
            return None
        found = con.execute("SELECT fingerprint FROM runs WHERE incident_id = ?", [incident_id]).fetchall()
    return str(found[0][0]) if found else None


# ----- writing ------------------------------------------------------------------------------------

@contextlib.contextmanager
def _writer_lock(out: Path) -> Iterator[None]:
    """One writer of the history per output folder at a time (the others wait: a write takes seconds)."""
    with open(Path(out) / LOCK_FILE, "a+") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def _remove(path: Path) -> None:
    for p in (path, path.with_name(path.name + ".wal")):
        p.unlink(missing_ok=True)


def build(out: Path, row: RunRow, rows: Path | None) -> Path:
    """A new history beside the one in place: its rows less the incident's, plus ``row`` and the
    outage's rows (``rows``: the folder engine/month.py ``history_rows`` wrote), checkpointed and
    synced. Returns its path; on any failure it is removed and the history in place is untouched.
    Call under the writer lock."""
    out = Path(out)
    for stale in out.glob(".history-*.partial*"):  # a killed writer's (we hold the lock: no live one)
        stale.unlink(missing_ok=True)
    live, tmp = history_path(out), out / f".history-{os.getpid()}.duckdb.partial"
    try:
        con = duckdb.connect(str(tmp))
        try:
            con.execute(SCHEMA)
            if live.exists():
                try:
                    con.execute(f"ATTACH {quote(live)} AS old (READ_ONLY)")
                except duckdb.Error as exc:
                    raise RunError(f"{live}: cannot be read as a DuckDB database "
                                   f"({str(exc).strip().splitlines()[0][:200]}) — {REBUILD}") from None
                _check_schema(con, live, "old")
                for table, columns in TABLES:
                    names = ", ".join(c for c, _ in columns)
                    con.execute(f"INSERT INTO {table} SELECT {names} FROM old.{table} WHERE incident_id <> ?",
                                [row.incident_id])
                con.execute("DETACH old")
            con.execute(f"INSERT INTO runs VALUES ({', '.join('?' for _ in RUNS)})", row.values())
            if rows is not None:
                files = HistoryRows(rows, 0)
                sources = {"affected_lines": files.lines, "exposure_months": files.exposures, "carried": files.carried}
                for table, columns in TABLES[1:]:
                    names = ", ".join(c for c, _ in columns[1:])
                    con.execute(f"INSERT INTO {table} SELECT {quote(row.incident_id)}, {names} "
                                f"FROM read_parquet({quote(sources[table])})")
            con.execute("CHECKPOINT")
        finally:
            con.close()
        fd = os.open(tmp, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
    except BaseException:
        _remove(tmp)
        raise
    return tmp


def install(new: Path, out: Path) -> None:
    """Move the new history over the one in place (atomic) and sync the folder."""
    os.replace(new, history_path(out))
    with contextlib.suppress(OSError):
        fd = os.open(out, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def commit(out: Path, row: RunRow, rows: Path | None, publish: Callable[[], None]) -> None:
    """Record the run and publish it: under the writer lock, build the new history, ``publish()`` the
    run's folder, then install the new history. When ``publish`` fails nothing of the history changes.
    (Killed between the two moves, the folder is new and the history old: the run's row then does not
    match its run.json, so ``run-all`` runs the incident again.)"""
    with _writer_lock(out):
        new = build(out, row, rows)
        try:
            publish()
        except BaseException:
            _remove(new)
            raise
        install(new, out)


# ----- listing (kt-analysis history) --------------------------------------------------------------

def listing(out: Path, *, incident_id: str | None = None, month: str | None = None) -> dict[str, Any]:
    """The published runs (optionally of one incident, or touching one month), and per run and month its
    lines, minutes, credited lines and minutes taken in from earlier incidents."""
    path = history_path(out)
    if month is not None and not MONTH_PATTERN.match(month):
        raise InputError("--month", "", f"{month!r} is not a month", "write it as YYYY-MM, e.g. 2025-03")
    if not Path(out).is_dir():
        raise InputError(str(out), "", "is not a folder", "name the output folder of the runs with --out")
    with reading(Path(out)) as con:
        if con is None:
            raise InputError(str(path), "", "does not exist: no run has been published into this folder yet",
                             "run kt-analysis run INCIDENT.yml --out FOLDER (or run-all) first, or name the "
                             "folder with --out")
        where, params = [], []
        if incident_id is not None:
            where.append("incident_id = ?")
            params.append(incident_id)
        if month is not None:
            where.append("list_contains(months, ?)")
            params.append(month)
        cond = f"WHERE {' AND '.join(where)}" if where else ""
        names = [c for c, _ in RUNS]
        runs = [dict(zip(names, r, strict=True)) for r in con.execute(
            f"SELECT {', '.join(names)} FROM runs {cond} ORDER BY incident_start, incident_id", params).fetchall()]
        if incident_id is not None and not runs:
            known = [r[0] for r in con.execute("SELECT incident_id FROM runs ORDER BY incident_id").fetchall()]
            raise InputError("--incident", "", f"{incident_id!r} has no published run in {path}"
                             + (f" in {month}" if month else ""),
                             f"use one of: {', '.join(known[:20]) or 'none'}")
        ids = [r["incident_id"] for r in runs]
        months = []
        if ids:
            within = f"incident_id IN ({', '.join(map(quote, ids))})"
            mcond = f" AND month = {quote(month)}" if month is not None else ""
            # From the tables, not the view: per exposure, its lines times its minutes.
            months = [dict(zip(("incident_id", "month", "lines", "outage_minutes", "credited_lines",
                                "carried_minutes"), r, strict=True)) for r in con.execute(
                f"SELECT e.incident_id, e.month, CAST(sum(l.n) AS BIGINT), "
                f"CAST(sum(l.n * e.outage_minutes) AS BIGINT), CAST(sum(l.credited) AS BIGINT), "
                f"CAST(coalesce(any_value(c.carried), 0) AS BIGINT) FROM exposure_months AS e "
                f"JOIN (SELECT incident_id, exposure_id, count(*) AS n, count(*) FILTER (WHERE credited) AS credited "
                f"FROM affected_lines WHERE {within} GROUP BY ALL) AS l USING (incident_id, exposure_id) "
                f"LEFT JOIN (SELECT incident_id, month, sum(carried_minutes) AS carried FROM carried "
                f"WHERE {within} GROUP BY ALL) AS c USING (incident_id, month) "
                f"WHERE e.{within}{mcond} GROUP BY e.incident_id, e.month ORDER BY e.month, e.incident_id").fetchall()]
    for r in runs:
        for key in ("published_at", "incident_start", "incident_end"):
            r[key] = r[key].isoformat(timespec="seconds" if key == "published_at" else "minutes")
        r["months"], r["earlier_incidents"] = list(r["months"]), list(r["earlier_incidents"])
    return {"history": str(path), "runs": runs, "line_minutes": months}


def _table(header: list[str], rows: list[list[str]], right: set[int]) -> list[str]:
    widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(header)]

    def line(cells: list[str]) -> str:
        return "  ".join(c.rjust(w) if i in right else c.ljust(w)
                         for i, (c, w) in enumerate(zip(cells, widths, strict=True))).rstrip()
    return [line(header), *(line(r) for r in rows)]


def format_listing(data: dict[str, Any]) -> str:
    """:func:`listing` as text: the runs, the earlier incidents each counted, the minutes per month."""
    runs = data["runs"]
    out = [f"{data['history']}: {len(runs)} published run{'s' if len(runs) != 1 else ''}"]
    if runs:
        out += [""] + _table(
            ["incident_id", "kind", "start", "end", "months", "policy", "scope", "lines", "eligible",
             "credit_krw", "published_at (UTC)"],
            [[r["incident_id"], r["kind"], r["incident_start"], r["incident_end"], ",".join(r["months"]),
              r["policy_id"] or "-", r["monthly_scope"] or "-", f"{r['affected_lines']:,}", f"{r['eligible_lines']:,}",
              f"{r['total_credit_krw']:,}", r["published_at"]] for r in runs], {7, 8, 9})
        counted = [r for r in runs if r["earlier_incidents"]]
        if counted:
            out += ["", "earlier incidents counted across the month:"]
            out += [f"  {r['incident_id']}: {', '.join(r['earlier_incidents'])}" for r in counted]
    if data["line_minutes"]:
        out += ["", "line minutes per month:"] + _table(
            ["month", "incident_id", "lines", "outage_minutes", "credited_lines", "carried_minutes"],
            [[m["month"], m["incident_id"], f"{m['lines']:,}", f"{m['outage_minutes']:,}", f"{m['credited_lines']:,}",
              f"{m['carried_minutes']:,}"] for m in data["line_minutes"]], {2, 3, 4, 5})
    return "\n".join(out)


__all__ = [
    "AFFECTED_LINES", "CARRIED", "EXPOSURE_MONTHS", "HISTORY_FILE", "LINE_MINUTES", "RUNS", "SCHEMA", "TABLES",
    "RunRow", "build", "commit", "digest", "earlier",
    "format_listing", "history_path", "install", "listing", "months_of", "reads_history", "recorded", "run_row",
]
