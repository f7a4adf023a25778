"""What is owed had service come back at time t: the windows cut (or extended) at each restoration
time, and the outage figures of every key recomputed from them (summary.json ``restoration_curve``).

t is in minutes after the incident's first window start S. For t up to the incident's actual span
(last window end − S) every window is cut at S + t: a window starting at or after S + t is dropped,
one ending after S + t ends there. For t beyond the span the windows still open at the incident's end
are extended to S + t; the others stay as they were. Still open: for an incident sized as of a time
(``--as-of``, provisional), exactly its ongoing windows (those written ``end: ongoing``, and those cut
at the as-of time), whose span ends at the as-of time — so the curve beyond it is the cost against
restoration time from now on; else the windows ending at the incident's last end. A key's outage
figures are then :func:`kt_analysis.rules.impact.exposure_of` of its modified windows, as for the
real ones, so an engine applies the incident's own policy to them unchanged
(:func:`kt_analysis.engine.figures.restoration_curve`). Times are instants in the incident's zone.

The points: a regular grid of GRID_STEPS steps from 0 to twice the span (minute-rounded), each
policy threshold in that range and the minute before it, and the span itself.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pandas as pd

from kt_analysis.inputs.incident import Incident, to_utc
from kt_analysis.inputs.policy import Eligibility, Policy
from kt_analysis.rules.credits import across_month
from kt_analysis.rules.impact import EXPOSURE_COLUMNS, KEY_ORDER, Matches, exposure_of

GRID_STEPS = 48
RESTORED = "restored_minutes"  # the restoration time t of a row of the per-key table
# The per-key figures an engine reads from the table (the two times are not read by any rule).
CURVE_COLUMNS = tuple(c for c in EXPOSURE_COLUMNS if c not in ("outage_start", "outage_end"))


@dataclass(frozen=True)
class RestorationPlan:
    """The curve's points and thresholds, and the outage figures per key reached at each point."""

    actual_minutes: int
    points: tuple[int, ...]
    thresholds: tuple[tuple[int, str], ...]  # (the first minute a threshold is met, its Korean label)
    exposure: pd.DataFrame  # key columns, RESTORED and CURVE_COLUMNS: one row per key reached per point


def _duration(minutes: int) -> str:
    """``120`` → ``2시간``, ``90`` → ``1시간 30분``, ``2880`` → ``2일`` (zero parts left out)."""
    days, rest = divmod(minutes, 1440)
    hours, mins = divmod(rest, 60)
    parts = [f"{days}일" if days else "", f"{hours}시간" if hours else "", f"{mins}분" if mins else ""]
    return " ".join(p for p in parts if p) or "0분"


def _eligibility_thresholds(elig: Eligibility) -> list[tuple[int, str]]:
    if elig.everyone or elig.on_claim_now:  # every line is eligible: no threshold decides
        return []
    out = []
    if elig.min_continuous_minutes is not None:
        out.append((elig.min_continuous_minutes, f"연속 {_duration(elig.min_continuous_minutes)}"))
    m = elig.min_monthly_cumulative_minutes
    if m is not None:
        out.append((m + 1, f"월 누적 {_duration(m)} 초과") if elig.monthly_cumulative_exceeds
                   else (m, f"월 누적 {_duration(m)}"))
    return out


def policy_thresholds(policy: Policy) -> list[tuple[int, str]]:
    """The minutes of outage at which ``policy`` starts paying (more), sorted: its eligibility's
    continuous and monthly thresholds (``> m`` is met at m + 1), its overrides' own, and each tier of
    outage days d ≥ 1 (a line is out d days from (d − 1) × 1440 + 1 minutes)."""
    found = set(_eligibility_thresholds(policy.eligibility))
    rules = [policy.credit]
    for o in policy.overrides:
        if o.eligibility is not None:
            found.update(_eligibility_thresholds(o.eligibility))
        rules.append(o.credit)
    for rule in rules:
        for tier in rule.tiers_by_outage_days:
            if tier.from_days >= 1:
                found.add(((tier.from_days - 1) * 1440 + 1, f"장애 {tier.from_days}일 이상 정액"))
    return sorted(found)


def restoration_points(actual: int, thresholds: list[tuple[int, str]], steps: int = GRID_STEPS) -> list[int]:
    """Sorted unique minutes from 0 to 2 × ``actual``: the grid, each threshold in range and the
    minute before it, and ``actual``.

    >>> restoration_points(10, [(3, "a"), (30, "b")], steps=4)
    [0, 2, 3, 5, 10, 15, 20]
    """
    top = 2 * actual
    points = {(top * i * 2 + steps) // (2 * steps) for i in range(steps + 1)}  # i/steps of the range, half up
    for minutes, _label in thresholds:
        points.update(m for m in (minutes - 1, minutes) if 0 <= m <= top)
    points.add(actual)
    return sorted(points)


def incident_span(incident: Incident) -> tuple[datetime, datetime]:
    """The first window's start and the last window's end, as UTC instants."""
    zone = ZoneInfo(incident.timezone)
    return (min(to_utc(w.start, zone) for w in incident.windows),
            max(to_utc(w.end, zone) for w in incident.windows))


def restored_windows(windows: list[tuple[datetime, datetime]], start: datetime, end: datetime, t: int,
                     zone: ZoneInfo, still_open: Sequence[bool] | None = None) -> list[tuple[datetime, datetime]]:
    """One key's windows (naive local times) had service come back ``t`` minutes after ``start``
    (the incident's first start, an instant; ``end``: its last end). Unchanged at the actual span.
    ``still_open``: per window, whether it is extended beyond the span (None: those ending at ``end``)."""
    at = start + timedelta(minutes=t)
    if at == end:
        return list(windows)

    def local(instant: datetime) -> datetime:  # keeps ``fold`` for a time the clock shows twice
        return instant.astimezone(zone).replace(tzinfo=None)

    out = []
    for i, (s, e) in enumerate(windows):
        s_at, e_at = to_utc(s, zone), to_utc(e, zone)
        if at < end:  # cut at S + t
            if s_at < at:
                out.append((s, e if e_at <= at else local(at)))
        else:  # extend the windows still open
            extend = e_at == end if still_open is None else still_open[i]
            out.append((s, local(at) if extend else e))
    return out


def restoration_plan(incident: Incident, keys: pd.DataFrame, matches: Matches, policy: Policy,
                     steps: int = GRID_STEPS) -> RestorationPlan | None:
    """The curve's plan for ``policy`` (the incident's own, as the engine applies it), or None when it
    counts its monthly threshold across the calendar month (earlier incidents' minutes: no curve of
    this incident alone would reconcile with the summary) or the incident has no window.

    Keys reached by the same windows share their figures: each window set is computed once per point."""
    if not incident.windows or across_month(policy.eligibility) or any(
            o.eligibility is not None and across_month(o.eligibility) for o in policy.overrides):
        return None
    zone = ZoneInfo(incident.timezone)
    start, end = incident_span(incident)
    actual = int((end - start).total_seconds()) // 60
    top = 2 * actual
    thresholds = [(m, label) for m, label in policy_thresholds(policy) if 0 < m <= top]
    points = restoration_points(actual, thresholds, steps)
    reached: dict[int, list[int]] = defaultdict(list)
    for i, hits in enumerate(matches.per_window):
        for idx in hits:
            reached[int(idx)].append(i)
    by_set: dict[tuple[int, ...], list[int]] = defaultdict(list)
    for idx in sorted(reached):
        by_set[tuple(reached[idx])].append(idx)
    cols = [c for c in keys.columns if c in KEY_ORDER]
    key_values = keys[cols]
    rows = []
    for window_set, idxs in by_set.items():
        windows = [(incident.windows[i].start, incident.windows[i].end) for i in window_set]
        # provisional (sized as of a time): the ongoing windows are the ones still open
        still_open = [incident.windows[i].ongoing for i in window_set] if incident.provisional else None
        figures = []
        for t in points:
            cut = restored_windows(windows, start, end, t, zone, still_open)
            if cut:
                exp = exposure_of(cut, zone)
                figures.append([t, *(getattr(exp, c) for c in CURVE_COLUMNS)])
        for idx in idxs:
            values = key_values.iloc[idx].tolist()
            rows += [[*values, *f] for f in figures]
    table = pd.DataFrame(rows, columns=[*cols, RESTORED, *CURVE_COLUMNS])
    for c in (RESTORED, *CURVE_COLUMNS):
        table[c] = table[c].astype("int64")
    for c in cols:
        table[c] = table[c].astype(object)
    return RestorationPlan(actual_minutes=actual, points=tuple(points), thresholds=tuple(thresholds),
                           exposure=table)
