"""Incidents: what happened, where, when, and under which policy (``data/incidents/<id>.yml``)."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from .errors import InputError
from .policy import ID_PATTERN, SERVICES, Policy, find_project_root, load_policy, resolve_policy
from .yamlio import Section, path_exists, read_yaml_mapping, sha256_file

if TYPE_CHECKING:
    from .settlement import BillingError

MAX_WINDOW_DAYS = 92
MAX_WINDOWS = 200_000


@dataclass(frozen=True)
class Window:
    """One outage window: from ``start`` to ``end`` (naive local time in the incident's zone).

    It reaches a line when the line's service, region and facility match; ``None`` matches all.
    """

    start: datetime
    end: datetime
    services: tuple[str, ...] | None = None
    regions: tuple[str, ...] | None = None
    facilities: tuple[str, ...] | None = None
    origin: str = ""  # where it was written, for messages

    @property
    def minutes(self) -> int:
        return int((self.end - self.start).total_seconds() // 60)


@dataclass(frozen=True)
class Incident:
    id: str
    title: str
    kind: Literal["outage", "billing_error"]
    timezone: str
    policy: Policy | None
    roster: Path
    windows: tuple[Window, ...]
    services: tuple[str, ...] | None = None
    path: str = ""
    root: Path = field(default_factory=Path.cwd)
    windows_file: Path | None = None
    sha256: str = ""
    notes: str = ""
    sources: tuple[str, ...] = ()
    billing: BillingError | None = None

    @property
    def start(self) -> datetime:
        if self.billing is not None:
            return self.billing.charged_on
        return min(w.start for w in self.windows)

    @property
    def end(self) -> datetime:
        if self.billing is not None:
            return self.billing.charged_on
        return max(w.end for w in self.windows)

    def inputs(self) -> list[dict[str, str]]:
        """Every input file with its sha256, for the summary and the report's appendix."""
        items = [{"role": "incident", "path": self._rel(Path(self.path)), "sha256": self.sha256}]
        if self.policy is not None:
            items.append({"role": "policy", "path": self._rel(Path(self.policy.path)), "sha256": self.policy.sha256})
        if self.billing is not None:
            items.append({"role": "bills", "path": self._rel(self.billing.bills),
                          "sha256": _roster_digest(self.billing.bills)})
            if self.billing.settlement.path:
                items.append({"role": "settlement", "path": self._rel(Path(self.billing.settlement.path)),
                              "sha256": self.billing.settlement.sha256})
        if self.windows_file is not None:
            items.append({"role": "windows", "path": self._rel(self.windows_file),
                          "sha256": sha256_file(self.windows_file)})
        items.append({"role": "roster", "path": self._rel(self.roster), "sha256": _roster_digest(self.roster)})
        return items

    def _rel(self, path: Path) -> str:
        try:
            return str(path.resolve().relative_to(self.root))
        except ValueError:
            return str(path)


def _roster_digest(path: Path) -> str:
    if path.is_dir():
        import hashlib

        digest = hashlib.sha256()
        for part in sorted(path.rglob("*.parquet")):
            digest.update(str(part.relative_to(path)).encode())
            digest.update(sha256_file(part).encode())
        return digest.hexdigest()
    return sha256_file(path)


def load_incident(
    path: str | Path, *, roster: str | Path | None = None, bills: str | Path | None = None
) -> Incident:
    """Read and validate an incident file (and its policy and windows file).

    ``roster`` replaces the incident's roster (the CLI's ``--roster``), ``bills`` a billing error's
    bills file (``--bills``).
    """
    path = Path(path)
    doc = Section(read_yaml_mapping(path, "incident"), path, "")
    root = find_project_root(path.parent)
    iid = doc.text("id")
    if not ID_PATTERN.match(iid):
        raise doc.error(
            "id", f"{iid!r} is not a valid incident id",
            "use lower-case letters, digits and - (it names the output folder)",
        )
    title = doc.text("title")
    kind = doc.text("kind", choices=("outage", "billing_error"))
    tz_name = doc.text("timezone", "Asia/Seoul")
    try:
        tz = ZoneInfo(tz_name)
    except (ZoneInfoNotFoundError, ValueError, OSError):  # OSError: a folder such as "America", a long name
        raise doc.error("timezone", f"{tz_name!r} is not a known time zone",
                        "use an IANA name such as Asia/Seoul") from None
    policy = None
    if kind == "outage" or doc.has("policy"):
        policy = load_policy(resolve_policy(doc.text("policy"), root, str(path), "policy"))
    doc.used.add("roster")
    if roster is not None:
        roster_path = Path(roster)
    else:
        roster_path = Path(doc.text("roster"))
        if not roster_path.is_absolute():
            roster_path = root / roster_path
    if not path_exists(roster_path):
        raise InputError(str(path), "roster", f"roster {str(roster_path)!r} not found",
                         "generate one with `kt-analysis generate` or fix the path")
    notes = doc.text("notes", "")
    sources = doc.text_list("sources", ())
    if kind == "billing_error":
        from .settlement import load_billing

        billing = load_billing(doc.section("billing"), root, tz, bills=Path(bills) if bills else None)
        doc.done()
        return Incident(
            id=iid, title=title, kind=kind, timezone=tz_name, policy=policy, roster=roster_path,
            windows=(), path=str(path), root=root, sha256=sha256_file(path), notes=notes,
            sources=sources, billing=billing,
        )
    aff = doc.section("affected")
    services = aff.text_list("services", None, choices=SERVICES)
    windows: list[Window] = []
    raw_windows = aff.raw("windows", [])
    if not isinstance(raw_windows, list):
        raise aff.error("windows", "must be a list", "write - {start: …, end: …, where: all}")
    for i, item in enumerate(raw_windows):
        windows.append(_window(Section(item, path, f"affected.windows[{i}]"), tz))
    windows_file = None
    wf = aff.text("windows_file", None)
    if wf is not None:
        windows_file = Path(wf)
        if not windows_file.is_absolute():
            windows_file = root / windows_file
        windows.extend(read_windows_file(windows_file, tz))
    aff.done()
    doc.done()
    if not windows:
        raise InputError(str(path), "affected", "names no outage window",
                         "add affected.windows or affected.windows_file")
    if len(windows) > MAX_WINDOWS:
        raise InputError(str(path), "affected", f"has {len(windows):,} windows",
                         f"keep it under {MAX_WINDOWS:,}")
    return Incident(
        id=iid, title=title, kind=kind, timezone=tz_name, policy=policy, roster=roster_path,
        windows=tuple(windows), services=services, path=str(path), root=root,
        windows_file=windows_file, sha256=sha256_file(path), notes=notes, sources=sources,
    )


def parse_time(value: object, tz: ZoneInfo, path: str, where: str) -> datetime:
    """An ISO time (``2021-10-25T11:16``) as naive local time in ``tz``.

    A time written with an offset must be the incident zone's own offset at that moment: a
    window in another zone is almost always a copy-paste mistake, so it is refused.
    """
    if isinstance(value, datetime):
        stamp = value
    elif isinstance(value, str):
        try:
            stamp = datetime.fromisoformat(value.strip())
        except ValueError:
            raise InputError(path, where, f"{value!r} is not a date and time",
                             "write it as 2021-10-25T11:16") from None
    else:
        raise InputError(path, where, f"{value!r} is not a date and time",
                         "write it as 2021-10-25T11:16")
    if stamp.tzinfo is not None:
        local_offset = stamp.replace(tzinfo=None).replace(tzinfo=tz).utcoffset()
        if stamp.utcoffset() != local_offset:
            raise InputError(
                path, where,
                f"{value} is in another time zone (UTC{_fmt_offset(stamp.utcoffset())}) than the "
                f"incident ({tz.key}, UTC{_fmt_offset(local_offset)})",
                "write local time without a zone, or the incident's own offset",
            )
        stamp = stamp.replace(tzinfo=None)
    return stamp.replace(second=0, microsecond=0) if stamp.second or stamp.microsecond else stamp


def _fmt_offset(delta: timedelta | None) -> str:
    if delta is None:
        return "?"
    minutes = int(delta.total_seconds() // 60)
    sign = "+" if minutes >= 0 else "-"
    return f"{sign}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"


def check_in_calendar(day: date, path: str, where: str) -> None:
    """Refuse a day outside the years the business-day calendar covers: credit and refund days are
    computed from it, so a typo such as 2204 for 2024 would otherwise fail deep inside the run."""
    from .business_days import DEFAULT_YEARS

    first, last = DEFAULT_YEARS.start, DEFAULT_YEARS.stop - 2  # a credit lands up to two bills later
    if not first <= day.year <= last:
        raise InputError(path, where, f"{day:%Y-%m-%d} is outside the years this tool settles ({first}-{last})",
                         f"check the year (a typo such as 2204 for 2024?); dates from {first} to {last} work")


def _check_span(start: datetime, end: datetime, path: str, where: str) -> None:
    check_in_calendar(start, path, where)
    check_in_calendar(end, path, where)
    if end <= start:
        raise InputError(
            path, where,
            f"ends ({end:%Y-%m-%d %H:%M}) before it starts ({start:%Y-%m-%d %H:%M})"
            if end < start else f"starts and ends at the same minute ({start:%Y-%m-%d %H:%M})",
            "swap start and end, or fix the date",
        )
    if end - start > timedelta(days=MAX_WINDOW_DAYS):
        raise InputError(path, where, f"lasts {(end - start).days} days",
                         f"split it or check the dates (at most {MAX_WINDOW_DAYS} days a window)")


def _window(sec: Section, tz: ZoneInfo) -> Window:
    start = parse_time(sec.raw("start"), tz, sec.path, sec.key("start"))
    end = parse_time(sec.raw("end"), tz, sec.path, sec.key("end"))
    _check_span(start, end, sec.path, sec.where)
    services = sec.text_list("services", None, choices=SERVICES)
    where = sec.raw("where", "all")
    regions = facilities = None
    if where != "all":
        wsec = Section(where, sec.path, sec.key("where"))
        regions = wsec.text_list("regions", None)
        facilities = wsec.text_list("facilities", None)
        wsec.done()
        if regions is None and facilities is None:
            raise sec.error("where", "names neither regions nor facilities",
                            "write where: all, {regions: [...]} or {facilities: [...]}")
    sec.done()
    return Window(start=start, end=end, services=services, regions=regions,
                  facilities=facilities, origin=f"{sec.path}: {sec.where}")


def read_windows_file(path: Path, tz: ZoneInfo) -> list[Window]:
    """A CSV of windows: ``facility_id, service, start, end`` (``region`` may replace facility_id)."""
    if not path_exists(path):
        raise InputError(str(path), "", "windows file not found", "check affected.windows_file")
    if path.is_dir():
        raise InputError(str(path), "", "is a folder, not a windows file", "name the .csv file")
    raw = path.read_bytes()
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        try:
            text = raw.decode("cp949")
        except UnicodeDecodeError:
            raise InputError(str(path), "", "is neither UTF-8 nor CP949 text",
                             "save it as UTF-8 CSV") from None
    reader = csv.DictReader(io.StringIO(text))
    header = [h.strip() for h in (reader.fieldnames or [])]
    if not header:
        raise InputError(str(path), "line 1", "has no header", "start with facility_id,service,start,end")
    missing = [c for c in ("start", "end") if c not in header]
    if "facility_id" not in header and "region" not in header:
        missing.insert(0, "facility_id")
    if missing:
        raise InputError(str(path), "header", f"lacks column(s) {', '.join(missing)}",
                         "the header is facility_id,service,start,end")
    windows = []
    for lineno, row in enumerate(reader, start=2):
        where = f"line {lineno}"
        if None in row:  # more values than the header has columns (csv puts the rest under None)
            raise InputError(str(path), where, f"has {len(header) + len(row[None])} values, the header "
                             f"{len(header)}", "give every line the header's columns (quote a value holding a comma)")
        row = {(k or "").strip(): (v or "").strip() for k, v in row.items()}
        start = parse_time(row["start"], tz, str(path), f"{where}, start")
        end = parse_time(row["end"], tz, str(path), f"{where}, end")
        _check_span(start, end, str(path), where)
        service = row.get("service") or None
        if service is not None and service not in SERVICES:
            raise InputError(str(path), f"{where}, service", f"{service!r} is not a service",
                             f"use one of {', '.join(SERVICES)}")
        facility = row.get("facility_id") or None
        region = row.get("region") or None
        if facility is None and region is None:
            raise InputError(str(path), where, "names no facility_id or region", "fill one of them")
        windows.append(Window(
            start=start, end=end, services=(service,) if service else None,
            facilities=(facility,) if facility else None, regions=(region,) if region else None,
            origin=f"{path}: {where}",
        ))
    if not windows:
        raise InputError(str(path), "", "holds a header but no windows", "add one row per window")
    return windows
