"""Incidents: what happened, where, when, and under which policy (``data/incidents/<id>.yml``)."""

from __future__ import annotations

import csv
import hashlib
import io
import os
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from kt_analysis.errors import InputError, InputErrors, mask_text
from kt_analysis.inputs.business_days import check_in_calendar
from kt_analysis.inputs.names import normalize
from kt_analysis.inputs.policy import ID_PATTERN, Policy, load_policy, policy_catalogue, resolve_policy
from kt_analysis.inputs.schema import CAUSES, SERVICES
from kt_analysis.inputs.settlement import BillingError, load_billing
from kt_analysis.inputs.yamlio import Section, check_input_file, path_exists, read_yaml_mapping, sha256_file
from kt_analysis.paths import BUILTIN, find_project_root, resolve_input_path

MAX_WINDOW_DAYS = 92
MAX_WINDOWS = 200_000
MAX_WINDOWS_FILE_BYTES = 64_000_000
ONGOING = "ongoing"  # a window's end while the outage is still going on (sized by --as-of)


@dataclass(frozen=True)
class Window:
    """One outage window: from ``start`` to ``end`` (naive local time in the incident's zone; a
    time the clock shows twice when daylight saving ends carries ``fold=1`` for the second).

    It reaches a line when the line's service, region and facility match; ``None`` matches all.
    Region and facility names are kept in their normalised form (:func:`names.normalize`).
    """

    start: datetime
    end: datetime
    services: tuple[str, ...] | None = None
    regions: tuple[str, ...] | None = None
    facilities: tuple[str, ...] | None = None
    origin: str = ""  # where it was written, for messages
    # Still open: written ``end: ongoing`` (or, sized as of a time, cut there). Its ``end`` is the
    # incident's as-of time once sized (:func:`size_as_of`); before, a one-minute placeholder that
    # only validation reads (no run computes an unsized incident: :func:`require_sized`).
    ongoing: bool = False

    @property
    def minutes(self) -> int:
        """Wall-clock minutes (see :func:`elapsed_minutes` for the minutes that really passed)."""
        return int((self.end - self.start).total_seconds() // 60)

    @property
    def where(self) -> str:
        """Its reach in words, for messages and the reach table."""
        parts = []
        if self.regions:
            parts.append("regions " + ", ".join(self.regions))
        if self.facilities:
            parts.append("facilities " + ", ".join(self.facilities))
        if self.services:
            parts.append("services " + ", ".join(self.services))
        return "; ".join(parts) or "all"


def to_utc(local: datetime, tz: ZoneInfo) -> datetime:
    """A naive local time of the incident (``fold`` respected) as an aware UTC instant."""
    return local.replace(tzinfo=tz).astimezone(UTC)


def elapsed_minutes(start: datetime, end: datetime, tz: ZoneInfo | None) -> int:
    """Whole minutes between two local times, counted between the instants they name: a window
    from 01:00 to 04:00 on the night clocks go forward lasts 120 minutes, not 180."""
    if tz is None:
        return int((end - start).total_seconds()) // 60
    return int((to_utc(end, tz) - to_utc(start, tz)).total_seconds()) // 60


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
    bill_items: Path | None = None  # what a policy's fee basis reads (an outage's, optional)
    cause: str = "unknown"  # what the outage came from (CAUSES); a policy may pay below its thresholds for it
    claims: Path | None = None  # the claims received so far (an outage's, optional; the policy's claims rules decide)
    allow_unmatched: bool = False  # names no roster line has, and windows reaching no line, are listed, not refused
    as_of: datetime | None = None  # sized as of this local time (--as-of): every figure is provisional

    @property
    def provisional(self) -> bool:
        """Sized as of a time (``--as-of``) while the outage may still go on: figures are provisional."""
        return self.as_of is not None

    @property
    def unsized(self) -> bool:
        """A window is ``ongoing`` and no as-of time sizes it: nothing can be computed yet."""
        return self.as_of is None and any(w.ongoing for w in self.windows)

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @property
    def credit_policy(self) -> Policy:
        """The outage's credit policy (only a billing error has none, and its code never asks)."""
        assert self.policy is not None, f"incident {self.id} is a billing error: it has no credit policy"
        return self.policy

    @property
    def start(self) -> datetime | date:
        """An outage's first window's start; a billing error's charge day (a date)."""
        if self.billing is not None:
            return self.billing.charged_on
        return min(w.start for w in self.windows)

    @property
    def end(self) -> datetime | date:
        """An outage's last window's end; a billing error's charge day (a date)."""
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
        if self.bill_items is not None:
            items.append({"role": "bill_items", "path": self._rel(self.bill_items),
                          "sha256": _roster_digest(self.bill_items)})
        if self.claims is not None:
            items.append({"role": "claims", "path": self._rel(self.claims), "sha256": _roster_digest(self.claims)})
        items.append({"role": "roster", "path": self._rel(self.roster), "sha256": _roster_digest(self.roster)})
        return items

    @property
    def folder(self) -> Path:
        """The incident file's folder: relative paths inside it, and its catalogue, start here."""
        return Path(self.path).resolve().parent

    def _rel(self, path: Path) -> str:
        """``path`` as outputs name it, the same wherever the folders are copied or installed: a
        built-in catalogue file as ``kt_analysis/catalogue/…``; else relative to the project folder
        (with ``../`` for a file beside it, e.g. a sample roster next to the incidents' folder);
        absolute only when the two share no folder below the file system's root."""
        resolved = path.resolve()
        if resolved.is_relative_to(BUILTIN):
            return str(Path("kt_analysis") / "catalogue" / resolved.relative_to(BUILTIN))
        if resolved.is_relative_to(self.root):
            return str(resolved.relative_to(self.root))
        common = Path(os.path.commonpath([resolved, self.root]))
        if common == Path(common.anchor):
            return str(path)
        return os.path.relpath(resolved, self.root)


def _roster_digest(path: Path) -> str:
    if path.is_dir():

        digest = hashlib.sha256()
        for part in sorted(path.rglob("*.parquet")):
            digest.update(str(part.relative_to(path)).encode())
            digest.update(sha256_file(part).encode())
        return digest.hexdigest()
    return sha256_file(path)


class _Problems:
    """Collects the problems of independent parts of an input, so that one run of ``validate``
    lists them all instead of the first only."""

    def __init__(self) -> None:
        self.errors: list[InputError] = []

    def run(self, fn, *args, default=None, **kwargs):  # noqa: ANN001, ANN002, ANN003, ANN201
        try:
            return fn(*args, **kwargs)
        except InputErrors as exc:
            self.errors.extend(exc.errors)
        except InputError as exc:
            self.errors.append(exc)
        return default

    def raise_any(self) -> None:
        if len(self.errors) == 1:
            raise self.errors[0]
        if self.errors:
            raise InputErrors(self.errors)


def _incident_id(doc: Section) -> str:
    iid = doc.text("id")
    if not ID_PATTERN.match(iid):
        raise doc.error(
            "id", f"{iid!r} is not a valid incident id",
            "use lower-case letters, digits and - (it names the output folder)",
        )
    if mask_text(iid) != iid:  # the id names a folder and shows in the index, unmasked
        raise doc.error("id", f"{mask_text(iid)!r} looks like a phone number",
                        "name the incident by date and what happened, e.g. 2024-08-10-landline")
    return iid


def _zone(doc: Section, tz_name: str) -> ZoneInfo:
    try:
        return ZoneInfo(tz_name)
    except (ZoneInfoNotFoundError, ValueError, OSError):  # OSError: a folder such as "America", a long name
        raise doc.error("timezone", f"{tz_name!r} is not a known time zone",
                        "use an IANA name such as Asia/Seoul") from None


def load_incident(
    path: str | Path, *, roster: str | Path | None = None, bills: str | Path | None = None,
    bill_items: str | Path | None = None,
    claims: str | Path | None = None, as_of: str | datetime | None = None,
) -> Incident:
    """Read and validate an incident file (and its policy and windows file).

    ``roster`` replaces the incident's roster (the CLI's ``--roster``), ``bills`` a billing error's
    bills file (``--bills``), ``bill_items`` an outage's bill items (``--bill-items``: what a
    policy's ``fee_basis`` reads), ``claims`` an outage's claims file (``--claims``), ``as_of`` the
    local time an outage is sized as of (``--as-of``: :func:`size_as_of`). Every problem found is
    reported at once (:class:`InputErrors`).
    """
    path = Path(path)
    doc = Section(read_yaml_mapping(path, "incident"), path, "")
    root = find_project_root(path.parent)
    found = _Problems()
    iid = found.run(_incident_id, doc)
    title = found.run(doc.text, "title")
    kind = found.run(doc.text, "kind", choices=("outage", "billing_error"))
    tz_name = found.run(doc.text, "timezone", "Asia/Seoul")
    tz = found.run(_zone, doc, tz_name) if tz_name else None
    policy = None
    if kind != "billing_error" or doc.has("policy"):
        policy = found.run(lambda: load_policy(resolve_policy(doc.text("policy"), path.parent, str(path), "policy")))
    doc.used.add("roster")
    roster_path = found.run(_roster_path, doc, path, root, roster)
    notes = found.run(doc.text, "notes", "", default="")
    sources = found.run(doc.text_list, "sources", (), default=())
    cause = "unknown"
    if kind == "outage":
        cause = found.run(doc.text, "cause", "unknown", choices=CAUSES, default="unknown")
    as_of_time = found.run(_as_of_time, as_of, kind, tz)
    if kind == "billing_error":
        billing = None
        if tz is not None:
            billing = found.run(lambda: load_billing(doc.section("billing"), path.parent, tz,
                                                     bills=Path(bills) if bills else None))
        found.run(doc.done)
        found.raise_any()
        return Incident(
            id=iid, title=title, kind=kind, timezone=tz_name, policy=policy, roster=roster_path,
            windows=(), path=str(path), root=root, sha256=sha256_file(path), notes=notes,
            sources=sources, billing=billing,
        )
    windows: list[Window] = []
    services = windows_file = None
    allow_unmatched = False
    aff = found.run(doc.section, "affected")
    if aff is not None and tz is not None:
        services = found.run(aff.text_list, "services", None, choices=SERVICES)
        allow_unmatched = found.run(aff.boolean, "allow_unmatched", False, default=False)
        raw_windows = aff.raw("windows", [])
        if not isinstance(raw_windows, list):
            found.errors.append(aff.error("windows", "must be a list", "write - {start: …, end: …, where: all}"))
            raw_windows = []
        for i, item in enumerate(raw_windows):
            window = found.run(lambda i=i, item=item: _window(Section(item, path, f"affected.windows[{i}]"), tz))
            if window is not None:
                windows.append(window)
        wf = found.run(aff.text, "windows_file", None)
        if wf is not None:
            windows_file = found.run(_written_path, aff, path, root, "windows_file")
        if windows_file is not None:
            windows.extend(found.run(read_windows_file, windows_file, tz, default=[]))
        found.run(aff.done)
    items_path = found.run(_bill_items_path, doc, path, root, bill_items)
    claims_path = found.run(_claims_path, doc, path, root, policy, claims)
    found.run(doc.done)
    if policy is not None and not policy.fee_basis.roster and items_path is None and not found.errors:
        found.errors.append(InputError(
            str(path), "bill_items", f"policy {policy.id} computes credits on the lines' bills "
            f"({policy.fee_basis.describe()}), and the incident names no bill items file",
            "add bill_items: PATH to the incident (or pass --bill-items), or choose a policy on the roster's fee"))
    if not found.errors and not windows:
        found.errors.append(InputError(str(path), "affected", "names no outage window",
                                       "add affected.windows or affected.windows_file"))
    if len(windows) > MAX_WINDOWS:
        found.errors.append(InputError(str(path), "affected", f"has {len(windows):,} windows",
                                       f"keep it under {MAX_WINDOWS:,}"))
    if as_of_time is not None and windows and not found.errors:
        windows = found.run(size_as_of, windows, as_of_time, tz, default=windows)
    found.raise_any()
    return Incident(
        id=iid, title=title, kind=kind, timezone=tz_name, policy=policy, roster=roster_path,
        windows=tuple(windows), services=services, path=str(path), root=root,
        windows_file=windows_file, sha256=sha256_file(path), notes=notes, sources=sources,
        allow_unmatched=allow_unmatched, bill_items=items_path, claims=claims_path, cause=cause, as_of=as_of_time,
    )


def _as_of_time(as_of: str | datetime | None, kind: str | None, tz: ZoneInfo | None) -> datetime | None:
    """``--as-of`` as local time in the incident's zone (None: not given, or no zone to read it in)."""
    if as_of is None or tz is None:
        return None
    if kind == "billing_error":
        raise InputError("--as-of", "", "sizes an outage still going on; this incident is a billing error",
                         "run it without --as-of")
    return parse_time(as_of, tz, "--as-of", "")


def size_as_of(windows: list[Window], as_of: datetime, tz: ZoneInfo) -> list[Window]:
    """The windows as known at ``as_of`` (local time, ``--as-of``): nothing after it is known, so
    every window is cut there. An ``ongoing`` window ends at ``as_of``; a closed window ending after
    it ends at ``as_of`` and is still open then (``ongoing``); one ending at or before it stays as it
    is. A window starting at or after ``as_of`` contradicts it and is refused, and so is an as-of
    time at which no window is open (the outage is over: run without ``--as-of``)."""
    at = to_utc(as_of, tz)
    out: list[Window] = []
    late: list[InputError] = []
    for w in windows:
        if to_utc(w.start, tz) >= at:
            late.append(InputError(w.origin, "", f"starts at {w.start:%Y-%m-%d %H:%M}, not before --as-of "
                                   f"{as_of:%Y-%m-%d %H:%M}: sized as of that time, nothing after it is known",
                                   "give a later --as-of, or remove the window until it has started"))
        elif w.ongoing or to_utc(w.end, tz) > at:
            _check_span(w.start, as_of, w.origin, "", tz)
            out.append(replace(w, end=as_of, ongoing=True))
        else:
            out.append(w)
    if late:
        raise InputErrors(late) if len(late) > 1 else late[0]
    if not any(w.ongoing for w in out):
        last = max(w.end for w in out)
        raise InputError("--as-of", "", f"{as_of:%Y-%m-%d %H:%M}: no window is open then (no window is ongoing, "
                         f"and the last ends at {last:%Y-%m-%d %H:%M})",
                         "run without --as-of: the outage is over and its figures are final")
    return out


def require_sized(incident: Incident) -> None:
    """Refuse to compute an outage with an ``ongoing`` window and no as-of time (exit 2)."""
    if incident.unsized:
        first = next(w for w in incident.windows if w.ongoing)
        raise InputError(first.origin, "", "ends ongoing: the outage is still going on, and nothing can be "
                         "computed without the time to size it as of",
                         "give --as-of TIME (local time in the incident's zone, e.g. --as-of "
                         f"{first.start:%Y-%m-%d}T12:00): every figure is then provisional")


def _claims_path(doc: Section, path: Path, root: Path, policy: Policy | None,
                 given: str | Path | None) -> Path | None:
    """``claims``: the claims received so far (optional; ``given``: ``--claims`` instead of the
    incident's); the policy must have rules to decide them."""
    if doc.text("claims", None) is None and given is None:
        return None
    found = _input_path(doc, path, root, given, "claims", "claims file", "",
                        "fix the path (relative to the project folder), or export the claims received so far: "
                        "claim_id, line_id, received_at, channel, kind")
    if policy is not None and policy.claims is None:
        raise InputError(str(path), "claims", f"names a claims file, but policy {policy.id} has no claims: rules to "
                         "decide them by", "add a claims: section to the policy (window_days, "
                         "processing_business_days, daily_capacity, credit_route) or remove claims: from the incident")
    return found


def _bill_items_path(doc: Section, path: Path, root: Path, given: str | Path | None) -> Path | None:
    """``bill_items``: the lines' bill items (optional; relative to the project root)."""
    written = doc.text("bill_items", None)  # read (and checked) even when --bill-items overrides it
    if given is None and written is None:
        return None
    return _input_path(doc, path, root, given, "bill_items", "bill items", "generate them")


def _roster_path(doc: Section, path: Path, root: Path, roster: str | Path | None) -> Path:
    return _input_path(doc, path, root, roster, "roster", "roster", "generate one")


def _written_path(doc: Section, path: Path, root: Path, key: str) -> Path:
    """The path the incident writes under ``key``, resolved as paths.resolve_input_path says."""
    try:
        return resolve_input_path(doc.text(key), path.parent, root)
    except InputError as exc:
        raise doc.error(key, exc.problem, exc.fix) from None


def _input_path(doc: Section, path: Path, root: Path, given: str | Path | None, key: str, what: str,
                generate: str, fix: str | None = None) -> Path:
    """The file ``given`` on the command line, else the incident's ``key`` (relative to the
    incident's folder; see paths.resolve_input_path); one that does not exist is refused."""
    found = Path(given) if given is not None else _written_path(doc, path, root, key)
    if not path_exists(found):
        raise InputError(str(path), key, f"{what} {str(found)!r} not found",
                         fix or f"{generate} with `kt-analysis generate` or fix the path")
    return found


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
        naive = stamp.replace(tzinfo=None)
        offsets = [naive.replace(tzinfo=tz, fold=f).utcoffset() for f in (0, 1)]
        if stamp.utcoffset() not in offsets:
            raise InputError(
                path, where,
                f"{value} is in another time zone (UTC{_fmt_offset(stamp.utcoffset())}) than the "
                f"incident ({tz.key}, UTC{_fmt_offset(offsets[0])})",
                "write local time without a zone, or the incident's own offset",
            )
        # The offset says which of a repeated hour is meant (the clocks' second pass is fold=1).
        fold = 1 if offsets[0] != offsets[1] and stamp.utcoffset() == offsets[1] else 0
        stamp = naive.replace(fold=fold)
        written_offset = True
    else:
        written_offset = False
    stamp = stamp.replace(second=0, microsecond=0) if stamp.second or stamp.microsecond else stamp
    _check_exists(stamp, tz, path, where, written_offset)
    return stamp


def _check_exists(stamp: datetime, tz: ZoneInfo, path: str, where: str, written_offset: bool) -> None:
    """Refuse a local time the clocks skip (daylight saving starts) and, unless an offset says
    which, a local time they show twice (it ends): either would put the outage an hour off."""
    first, second = stamp.replace(tzinfo=tz, fold=0), stamp.replace(tzinfo=tz, fold=1)
    if first.utcoffset() == second.utcoffset():
        return
    back = first.astimezone(UTC).astimezone(tz).replace(tzinfo=None, fold=0)
    if back != stamp.replace(fold=0):
        raise InputError(
            path, where,
            f"{stamp:%Y-%m-%d %H:%M} does not exist in {tz.key}: the clocks skip it when daylight saving starts",
            f"write the time the clocks showed (the instant UTC{_fmt_offset(first.utcoffset())} names is "
            f"{first.astimezone(UTC).astimezone(tz):%H:%M} local)",
        )
    if not written_offset:
        raise InputError(
            path, where,
            f"{stamp:%Y-%m-%d %H:%M} happens twice in {tz.key}: the clocks go back when daylight saving ends",
            f"write the offset to say which: {stamp:%Y-%m-%dT%H:%M}{_fmt_offset(first.utcoffset())} "
            f"(the first) or {stamp:%Y-%m-%dT%H:%M}{_fmt_offset(second.utcoffset())} (the second)",
        )


def _fmt_offset(delta: timedelta | None) -> str:
    if delta is None:
        return "?"
    minutes = int(delta.total_seconds() // 60)
    sign = "+" if minutes >= 0 else "-"
    return f"{sign}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"


def _check_span(start: datetime, end: datetime, path: str, where: str, tz: ZoneInfo | None = None) -> None:
    check_in_calendar(start, path, where)
    check_in_calendar(end, path, where)
    minutes = elapsed_minutes(start, end, tz)
    if minutes <= 0:
        raise InputError(
            path, where,
            f"ends ({end:%Y-%m-%d %H:%M}) before it starts ({start:%Y-%m-%d %H:%M})"
            if minutes < 0 else f"starts and ends at the same minute ({start:%Y-%m-%d %H:%M})",
            "swap start and end, or fix the date",
        )
    if minutes > MAX_WINDOW_DAYS * 1440:
        raise InputError(path, where, f"lasts {minutes // 1440} days",
                         f"split it or check the dates (at most {MAX_WINDOW_DAYS} days a window)")


def _names(sec: Section, name: str) -> tuple[str, ...] | None:
    """Region or facility names in their normalised form; a name that is only spaces is refused."""
    values = sec.text_list(name, None)
    if values is None:
        return None
    out = []
    for i, value in enumerate(values):
        norm = normalize(value)
        if not norm:
            raise InputError(sec.path, f"{sec.key(name)}[{i}]", f"{value!r} is blank", "write the name")
        out.append(norm)
    return tuple(dict.fromkeys(out))


def _is_ongoing(value: object) -> bool:
    return isinstance(value, str) and value.strip() == ONGOING


def _ongoing_end(start: datetime, path: str, where: str) -> datetime:
    """An ``ongoing`` window's placeholder end (one minute after its start, for validation only)."""
    check_in_calendar(start, path, where)
    return start + timedelta(minutes=1)


def _window(sec: Section, tz: ZoneInfo) -> Window:
    start = parse_time(sec.raw("start"), tz, sec.path, sec.key("start"))
    ongoing = _is_ongoing(sec.raw("end"))
    if ongoing:
        end = _ongoing_end(start, sec.path, sec.where)
    else:
        end = parse_time(sec.raw("end"), tz, sec.path, sec.key("end"))
        _check_span(start, end, sec.path, sec.where, tz)
    services = sec.text_list("services", None, choices=SERVICES)
    if "where" not in sec.data or sec.data["where"] is None:
        sec.used.add("where")
        raise sec.error("where", "is missing: a window must say which lines it reached",
                        "write where: all for every line, or where: {regions: [...]} or {facilities: [...]}")
    where = sec.raw("where")
    regions = facilities = None
    if where != "all":
        if isinstance(where, str):
            raise sec.error("where", f"is {where!r}, not all or a mapping",
                            "write where: all, {regions: [...]} or {facilities: [...]}")
        wsec = Section(where, sec.path, sec.key("where"))
        regions = _names(wsec, "regions")
        facilities = _names(wsec, "facilities")
        wsec.done()
        if regions is None and facilities is None:
            raise sec.error("where", "names neither regions nor facilities",
                            "write where: all, {regions: [...]} or {facilities: [...]}")
    sec.done()
    return Window(start=start, end=end, services=services, regions=regions,
                  facilities=facilities, origin=f"{sec.path}: {sec.where}", ongoing=ongoing)


MAX_ROW_PROBLEMS = 20


def read_windows_file(path: Path, tz: ZoneInfo) -> list[Window]:
    """A CSV of windows: ``facility_id, service, start, end`` (``region`` may replace facility_id).

    Every bad row is reported (up to 20), not only the first."""
    check_input_file(path, "windows", max_bytes=MAX_WINDOWS_FILE_BYTES,
                     fix_size="a windows file holds one row per site and service: check the file")
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
    header = [normalize(h) for h in (reader.fieldnames or [])]
    if not header:
        raise InputError(str(path), "line 1", "has no header", "start with facility_id,service,start,end")
    reader.fieldnames = header
    repeated = sorted({h for h in header if header.count(h) > 1})
    if repeated:
        raise InputError(str(path), "header", f"names column(s) {', '.join(repeated)} twice",
                         "keep one column of each name")
    missing = [c for c in ("start", "end") if c not in header]
    if "facility_id" not in header and "region" not in header:
        missing.insert(0, "facility_id")
    if missing:
        raise InputError(str(path), "header", f"lacks column(s) {', '.join(missing)}",
                         "the header is facility_id,service,start,end")
    windows: list[Window] = []
    found = _Problems()
    for lineno, row in enumerate(reader, start=2):
        if len(found.errors) >= MAX_ROW_PROBLEMS:
            break
        window = found.run(_windows_row, path, lineno, header, row, tz)
        if window is not None:
            windows.append(window)
    found.raise_any()
    if not windows:
        raise InputError(str(path), "", "holds a header but no windows", "add one row per window")
    return windows


def _windows_row(path: Path, lineno: int, header: list[str], row: dict, tz: ZoneInfo) -> Window:
    where = f"line {lineno}"
    if None in row:  # more values than the header has columns (csv puts the rest under None)
        raise InputError(str(path), where, f"has {len(header) + len(row[None])} values, the header "
                         f"{len(header)}", "give every line the header's columns (quote a value holding a comma)")
    row = {(k or ""): normalize(v or "") for k, v in row.items()}
    start = parse_time(row["start"], tz, str(path), f"{where}, start")
    ongoing = _is_ongoing(row["end"])
    if ongoing:
        end = _ongoing_end(start, str(path), where)
    else:
        end = parse_time(row["end"], tz, str(path), f"{where}, end")
        _check_span(start, end, str(path), where, tz)
    service = row.get("service") or None
    if service is not None and service not in SERVICES:
        raise InputError(str(path), f"{where}, service", f"{service!r} is not a service",
                         f"use one of {', '.join(SERVICES)}")
    facility = row.get("facility_id") or None
    region = row.get("region") or None
    if facility is None and region is None:
        raise InputError(str(path), where, "names no facility_id or region", "fill one of them")
    return Window(
        start=start, end=end, services=(service,) if service else None,
        facilities=(facility,) if facility else None, regions=(region,) if region else None,
        origin=f"{path}: {where}", ongoing=ongoing,
    )


def catalogue_policies(incident: Incident) -> list[Policy]:
    """Every policy in the project's catalogue (the incident's own first)."""
    policies = [incident.credit_policy]
    for path in policy_catalogue(incident.folder):
        if Path(path).resolve() != Path(incident.credit_policy.path).resolve():
            policies.append(load_policy(path))
    return policies
