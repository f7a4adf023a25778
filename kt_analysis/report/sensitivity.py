"""The heat map of a sensitivity grid (jobs/what_if.py ``sensitivity``): the total credit for every
combination of two policy values, each cell annotated in short won (``2.35억원``).

    import kt_analysis as kt
    grid = kt.sensitivity("data/incidents/kt-2024-08-10-landline.yml",
                          grid={"credit.outage_multiplier": [5, 8, 10],
                                "eligibility.min_continuous_minutes": [60, 120, 180]})
    kt.sensitivity_heatmap(grid)
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from kt_analysis.report import present

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

# The policy keys a grid most often varies, in the report's words (others are shown as written).
PATH_KO = {
    "credit.outage_multiplier": "장애 시간 요금의 배수",
    "credit.days_of_fee": "일수 요금 (일)",
    "credit.flat_days_of_fee": "일수 요금 (일)",
    "credit.months_of_fee": "월정액 개월 수",
    "credit.billable_time.unit_minutes": "장애 시간 올림 단위 (분)",
    "credit.rounding.unit_krw": "보상액 절사 단위 (원)",
    "eligibility.min_continuous_minutes": "연속 장애 기준 (분)",
    "eligibility.min_monthly_cumulative_minutes": "월 누적 장애 기준 (분)",
    "hourly_fee.hours_per_month": "월 시간 수 (시간당 요금)",
}
VALUE_KO = {"total_credit_krw": "보상 총액", "eligible_lines": "보상 대상 회선"}


def path_label(path: str, sep: str = " ") -> str:
    """A dotted policy path in Korean where known, with the path itself for the exact key.

    >>> path_label("credit.outage_multiplier")
    '장애 시간 요금의 배수 (credit.outage_multiplier)'
    >>> path_label("credit.overrides[0].outage_multiplier")
    'credit.overrides[0].outage_multiplier'
    """
    ko = PATH_KO.get(path)
    return f"{ko}{sep}({path})" if ko else path


def _cell_text(value: int, kind: str) -> str:
    return present.krw_short(value) if kind == "total_credit_krw" else present.count_short(value)


def sensitivity_heatmap(grid: pd.DataFrame, *, title: str | None = None, ax: Axes | None = None) -> Figure:
    """The grid as a heat map: rows the first path's values (top to bottom as given), columns the
    second's; each cell annotated with its figure (``present.krw_short``), the colour scale from the
    smallest cell to the largest. A grid of one path is drawn as one column. Korean labels, the
    report's style (``present.use_report_style``)."""
    kind = str(grid.attrs.get("value", "total_credit_krw"))
    if not all(pd.api.types.is_integer_dtype(t) for t in grid.dtypes):
        raise TypeError("a sensitivity grid holds whole numbers (int64): pass what kt.sensitivity returns")
    present.use_report_style()
    import matplotlib.pyplot as plt  # pyplot only here: importing the module stays light

    values = grid.to_numpy(dtype="int64")
    if ax is None:
        rows, cols = values.shape
        fig, ax = plt.subplots(figsize=(max(5.0, 1.5 * cols + 2.5), max(2.8, 0.7 * rows + 1.6)))
        plt.close(fig)  # shown once, by the caller's cell
    else:
        fig = ax.figure  # type: ignore[assignment]
    low, high = int(values.min()), int(values.max())
    image = ax.imshow(values, cmap="Blues", aspect="auto", vmin=low, vmax=high if high > low else low + 1)
    ax.grid(False)
    two = grid.columns.name is not None
    ax.set_xticks(np.arange(values.shape[1]), [str(c) for c in grid.columns] if two else [VALUE_KO.get(kind, kind)])
    ax.set_yticks(np.arange(values.shape[0]), [str(i) for i in grid.index])
    ax.set_ylabel(path_label(str(grid.index.name), "\n"))
    if two:
        ax.set_xlabel(path_label(str(grid.columns.name)))
        ax.xaxis.set_label_position("top")
    ax.xaxis.tick_top()
    middle = (low + high) / 2
    for (r, c), v in np.ndenumerate(values):
        ax.text(c, r, _cell_text(int(v), kind), ha="center", va="center", fontsize=10,
                color="white" if high > low and v > middle else "#222222")
    bar = fig.colorbar(image, ax=ax, shrink=0.9)
    (present.krw_axis if kind == "total_credit_krw" else present.count_axis)(bar.ax, "y")
    bar.set_label(VALUE_KO.get(kind, kind) + (" (원)" if kind == "total_credit_krw" else " (회선)"))
    if title is None:
        who = grid.attrs.get("incident_id", "")
        policy = grid.attrs.get("policy_id", "")
        title = f"{VALUE_KO.get(kind, kind)} 민감도" + (f" — {who} · {policy}" if who else "")
    ax.set_title(title, loc="left", pad=12)
    for text in [ax.title, ax.xaxis.label, ax.yaxis.label, *ax.texts, *ax.get_xticklabels(), *ax.get_yticklabels()]:
        text.set_parse_math(False)  # names from inputs may hold "$"
    return fig


__all__ = ["PATH_KO", "path_label", "sensitivity_heatmap"]
