"""Charts of an outage summary's optional figures, for the report and the notebooks.

:func:`restoration_cost_chart` draws summary.json's ``restoration_curve``: what the incident's own
policy would owe had service come back at each time (docs/outputs.md).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from matplotlib.figure import Figure

from kt_analysis.report import present


def _get(item: Any, key: str) -> Any:
    """A point's or threshold's value, from summary.json's dict or the summary's typed record."""
    return item[key] if isinstance(item, Mapping) else getattr(item, key)


def restoration_cost_chart(curve: Sequence[Any], thresholds: Sequence[Any], actual_minutes: int, *,
                           title: str = "복구 시각별 보상 총액", now: bool = False) -> Figure:
    """The total credit had service come back at each time, as a step line (x: hours after the
    incident's first window start; days beyond three days), the policy's thresholds as dashed vertical lines with their
    labels, and the actual restoration marked with its total.

    ``curve``: ``restoration_curve.points`` (each with ``minutes`` and ``total_credit_krw``);
    ``thresholds``: ``restoration_curve.thresholds`` (``minutes``, ``label``); ``actual_minutes``:
    ``restoration_curve.actual_minutes``. ``now``: a provisional summary (an outage still going on,
    sized as of a time): ``actual_minutes`` is the as-of time, marked "지금 (as-of)" instead of
    "실제 복구", and the curve beyond it is the cost against restoration time from now on. The figure
    is detached from pyplot (shown once by a cell)."""
    import matplotlib.pyplot as plt

    points = sorted((int(_get(p, "minutes")), int(_get(p, "total_credit_krw"))) for p in curve)
    if not points:
        raise ValueError("the restoration curve has no point")
    # hours up to three days, days beyond (a fire's week reads in days)
    unit, unit_name = (60, "시간") if points[-1][0] <= 72 * 60 else (1440, "일")
    hours = [m / unit for m, _ in points]
    totals = [k for _, k in points]
    fig, ax = plt.subplots(figsize=(8, 3.4))
    ax.step(hours, totals, where="post", color=present.PALETTE[0], linewidth=2, label="보상 총액")
    top = max(totals) or 1
    # Thresholds closer than 4% of the axis share one label (minutes apart on a week's axis would
    # write over each other); the labels alternate between two heights.
    span = max(hours[-1], 1 / unit)
    clusters: list[list[tuple[float, str]]] = []
    for t in sorted(thresholds, key=lambda t: int(_get(t, "minutes"))):
        x = int(_get(t, "minutes")) / unit
        ax.axvline(x, color=present.PALETTE[1], linestyle="--", linewidth=1)
        if clusters and x - clusters[-1][0][0] < 0.04 * span:
            clusters[-1].append((x, str(_get(t, "label"))))
        else:
            clusters.append([(x, str(_get(t, "label")))])
    for i, cluster in enumerate(clusters):
        ax.text(cluster[0][0] + 0.006 * span, top * (0.62 if i % 2 else 0.36), "\n".join(lb for _, lb in cluster),
                color=present.PALETTE[3], fontsize=8, va="center", ha="left",
                bbox={"facecolor": "white", "edgecolor": "none", "alpha": 0.8, "pad": 1})
    actual = next((k for m, k in points if m == actual_minutes), None)
    if actual is not None:
        x = actual_minutes / unit
        mark = "지금 (as-of)" if now else "실제 복구"
        if now:  # what lies ahead: restoration from now on
            ax.axvspan(x, max(hours[-1], 1 / unit), color=present.PALETTE[3], alpha=0.06, linewidth=0)
        ax.plot([x], [actual], marker="o", markersize=8, color=present.PALETTE[3], linestyle="none",
                label=mark)
        ax.annotate(f"{mark} ({present.duration_korean(actual_minutes)}): {present.krw_short(actual)}",
                    (x, actual), textcoords="offset points", xytext=(8, -14), fontsize=9, color=present.PALETTE[3])
    ax.set_xlim(0, max(hours[-1], 1 / unit))
    ax.set_ylim(bottom=0, top=top * 1.08)
    ax.set_xlabel(f"복구 시각 (장애 시작 후 {unit_name})")
    ax.set_ylabel("보상 총액 (원)")
    present.krw_axis(ax)
    ax.set_title(title)
    ax.legend(loc="lower right", fontsize=9)
    for text in [ax.title, ax.xaxis.label, ax.yaxis.label, *ax.texts]:
        text.set_parse_math(False)  # labels come from policy data
    plt.close(fig)
    return fig
