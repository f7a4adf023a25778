"""The report's pictures that are not plain bar charts: the 17 시도 as a tile grid, and the
restoration timeline (a Gantt of outage windows per place and service).

Both draw from figures the summary already holds (lines per region; the incident's windows), so a
picture never shows a number the tables do not. Call :func:`kt_analysis.report.present.use_report_style`
first (Hangul font).
"""

from __future__ import annotations

import base64
import io
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from markupsafe import Markup

from kt_analysis.report import present

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from kt_analysis.inputs.incident import Window

# The 17 시도 on a grid that keeps their places roughly as on a map: (column, row), west to east,
# north to south. No map data is needed, and every region gets the same area, so a small, dense
# region (서울) is as visible as a large, sparse one (강원).
REGION_TILES: Mapping[str, tuple[int, int]] = {
    "서울": (1, 0), "강원": (2, 0),
    "인천": (0, 1), "경기": (1, 1), "충북": (2, 1), "경북": (3, 1),
    "충남": (0, 2), "세종": (1, 2), "대전": (2, 2), "대구": (3, 2), "울산": (4, 2),
    "전북": (1, 3), "경남": (3, 3), "부산": (4, 3),
    "광주": (1, 4), "전남": (2, 4),
    "제주": (1, 5),
}


def korean_time_axis(ax, axis: str = "x") -> None:
    """Dates and times on an axis in Korean, as concise as the span allows (``25일``, ``12:00``,
    with the year and month once at the axis's end: ``2018년 12월``)."""
    import matplotlib.dates as mdates

    target = ax.xaxis if axis == "x" else ax.yaxis
    locator = mdates.AutoDateLocator(minticks=4, maxticks=10)
    target.set_major_locator(locator)
    target.set_major_formatter(mdates.ConciseDateFormatter(
        locator, formats=["%Y년", "%-m월", "%-d일", "%H:%M", "%H:%M", "%S초"],
        zero_formats=["", "%Y년", "%-m월", "%-m월 %-d일", "%H:%M", "%H:%M"],
        offset_formats=["", "%Y년", "%Y년 %-m월", "%Y년 %-m월 %-d일", "%Y년 %-m월 %-d일", "%Y년 %-m월 %-d일"]))


def figure_img(fig: Figure, alt: str, *, dpi: int = 110) -> Markup:
    """A figure as an inline PNG (``data:`` URL: the report stays one offline file), with ``alt``
    text saying what it shows — for an HTML block that puts a picture beside a table."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi)
    data = base64.b64encode(buf.getvalue()).decode("ascii")
    return Markup('<img class="kt-figure" alt="{}" src="data:image/png;base64,{}">').format(alt, data)


def region_tiles(values: Mapping[str, int], *, title: str, value_kind: present.ValueKind = "count",
                 unit: str = "회선") -> tuple[Figure, list[str]]:
    """The 17 시도 as tiles shaded by ``values`` (region → integer; a region left out is 0), each
    labelled with its name and short figure. Returns the figure and the regions of ``values`` that
    are not 시도 names (the caller lists them: nothing is dropped silently)."""
    import matplotlib.pyplot as plt
    from matplotlib import colors
    from matplotlib.patches import FancyBboxPatch

    for region, v in values.items():
        if not isinstance(v, int):
            raise TypeError(f"{region}: values must be integers, got {type(v).__name__}")
    others = sorted(r for r in values if r not in REGION_TILES)
    top = max([values.get(r, 0) for r in REGION_TILES] + [1])
    cmap = plt.get_cmap("Blues")
    norm = colors.Normalize(vmin=0, vmax=top)
    fig, ax = plt.subplots(figsize=(4.0, 4.4))
    for region, (x, y) in REGION_TILES.items():
        v = values.get(region, 0)
        face = cmap(0.15 + 0.85 * norm(v)) if v else "#eeeeee"
        ax.add_patch(FancyBboxPatch((x + 0.04, -y + 0.04), 0.92, 0.92, boxstyle="round,pad=0,rounding_size=0.08",
                                    facecolor=face, edgecolor="white", linewidth=1.5))
        dark = v and norm(v) > 0.55
        text = present.short_korean(v) + ("원" if value_kind == "krw" else "") if v else "0"
        ax.text(x + 0.5, -y + 0.62, region, ha="center", va="center", fontsize=11, fontweight="bold",
                color="white" if dark else "#222222")
        ax.text(x + 0.5, -y + 0.32, text, ha="center", va="center", fontsize=9,
                color="white" if dark else "#333333")
    ax.set_xlim(-0.05, 5.05)
    ax.set_ylim(-5.05, 1.05)
    ax.set_aspect("equal")
    ax.axis("off")
    ax.set_title(title)
    for t in ax.texts:
        t.set_parse_math(False)
    ax.title.set_parse_math(False)
    plt.close(fig)
    return fig, others


@dataclass(frozen=True)
class GanttRow:
    """One row of the restoration timeline: a place, and its windows as (service, start, end)."""

    place: str
    bars: tuple[tuple[str, datetime, datetime], ...]

    @property
    def last_end(self) -> datetime:
        return max(end for _, _, end in self.bars)


def _place(window: Window) -> str:
    names = [*(window.facilities or ()), *(window.regions or ())]
    return ", ".join(names) if names else "전국"


def gantt_rows(windows: Sequence[Window], services: Sequence[str]) -> list[GanttRow]:
    """The windows as rows per place (facility or region names, "전국" when the window names
    none), each with one bar per window and service; places whose windows are the same (same
    services, start and end) are one row ("국사 50곳"), latest restoration first."""
    by_place: dict[str, list[tuple[str, datetime, datetime]]] = {}
    for w in windows:
        for service in (w.services or tuple(services) or ("",)):
            by_place.setdefault(_place(w), []).append((service, w.start, w.end))
    same: dict[tuple[tuple[str, datetime, datetime], ...], list[str]] = {}
    for place, placed in by_place.items():
        same.setdefault(tuple(sorted(placed)), []).append(place)
    rows = []
    for bars, places in same.items():
        name = places[0] if len(places) == 1 else f"{places[0]} 외 {len(places) - 1}곳"
        rows.append(GanttRow(name, bars))
    return sorted(rows, key=lambda r: (-r.last_end.timestamp(), r.place))


def restoration_gantt(windows: Sequence[Window], services: Sequence[str], *, limit: int = 12,
                      title: str = "복구 시간표 (장애 구간별)") -> tuple[Figure | None, str]:
    """A Gantt of the outage windows: one row per place (see :func:`gantt_rows`), a bar per service
    from the window's start to its restoration. Returns (figure, caption); the figure is None when
    every window has the same span (nothing a chart adds to the headline's window). Beyond ``limit``
    rows, the rows restored last are drawn and the caption says when the rest were restored."""
    import matplotlib.dates as mdates
    import matplotlib.pyplot as plt

    rows = gantt_rows(windows, services)
    if len({(start, end) for r in rows for _, start, end in r.bars}) < 2:
        return None, ""  # one span for every place and service: the headline's window says it
    shown, rest = rows[:limit], rows[limit:]
    caption = ""
    if rest:
        last = max(r.last_end for r in rest)
        caption = (f"복구가 늦은 {len(shown)}곳만 그렸습니다. 나머지 {len(rest)}곳은 모두 "
                   f"{present.korean_datetime(last)}까지 복구되었습니다.")
    kinds = sorted({s for r in shown for s, _, _ in r.bars}, key=lambda s: (list(present.SERVICE_KO).index(s)
                                                                         if s in present.SERVICE_KO else 99, s))
    colour = {s: present.PALETTE[i % len(present.PALETTE)] for i, s in enumerate(kinds)}
    height = 0.8 / max(1, len(kinds))
    fig, ax = plt.subplots(figsize=(9, 1.2 + (0.36 if len(kinds) > 1 else 0.28) * len(shown)))
    for y, row in enumerate(shown):
        for service, start, end in row.bars:
            k = kinds.index(service)
            ax.barh(y - 0.4 + height * (k + 0.5), mdates.date2num(end) - mdates.date2num(start),
                    left=mdates.date2num(start), height=height * 0.9, color=colour[service])
    ax.set_yticks(range(len(shown)), [r.place for r in shown])
    ax.set_ylim(len(shown) - 0.5, -0.5)
    ax.xaxis_date()
    korean_time_axis(ax)
    ax.grid(False)
    ax.grid(True, axis="x")
    ax.set_title(title)
    if len(kinds) > 1 or kinds != [""]:
        from matplotlib.patches import Patch

        ax.legend(handles=[Patch(color=colour[s], label=present.label(s, present.SERVICE_KO)) for s in kinds],
                  loc="lower right", bbox_to_anchor=(1.0, 1.0), ncol=len(kinds), frameon=False, fontsize=9)
    for t in [ax.title, *ax.get_yticklabels(), *ax.get_xticklabels()]:
        t.set_parse_math(False)
    plt.close(fig)
    return fig, caption
