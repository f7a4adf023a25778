"""Korean presentation kit: won and 만/억/조 formatting, Korean dates, masking, chart style.

Everything a report shows to Korean analysts and managers is formatted here, so that every
notebook writes money, counts, dates and names the same way.

- Money is integer won everywhere: the money formatters reject floats (``TypeError``) rather
  than guess a rounding. Where a headline rounds (``krw_korean(..., significant="억")``), the
  rounding mode is a named keyword, never implicit.
- Personal data never leaves unmasked: ``mask_name`` and ``mask_phone`` keep only what a
  reader needs to tell rows apart, and anything they cannot parse comes back as all ``*``.
- Charts: call ``use_report_style()`` once at the top of a notebook (after any
  ``plt.style.use`` or seaborn theme, which reset fonts); it registers a Hangul font so titles,
  tick labels and annotations render as Korean rather than boxes.
"""

from __future__ import annotations

import importlib.util
import math
from collections.abc import Mapping
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import numpy as np
import pandas as pd

from kt_analysis.errors import EnvironmentProblem
from kt_analysis.inputs import schema
from kt_analysis.masking import mask_name, mask_phone

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure
    from matplotlib.ticker import FuncFormatter

__all__ = [
    "CUSTOMER_TYPE_KO",
    "HANGUL_FAMILIES",
    "KST",
    "PALETTE",
    "PAYMENT_METHOD_KO",
    "SERVICE_KO",
    "FontProblem",
    "bar_chart",
    "barh_chart",
    "count",
    "count_axis",
    "count_korean",
    "count_short",
    "duration_korean",
    "histogram_krw",
    "korean_date",
    "korean_datetime",
    "krw",
    "krw_axis",
    "krw_korean",
    "krw_short",
    "label",
    "mask_name",
    "mask_phone",
    "short_korean",
    "use_report_style",
]

Rounding = Literal["half_up", "floor", "ceil"]
KoreanUnit = Literal["만", "억", "조"]
ValueKind = Literal["krw", "count"]

# --------------------------------------------------------------------------------------------
# Display names for the codes used in data files
# --------------------------------------------------------------------------------------------

SERVICE_KO: Mapping[str, str] = schema.SERVICE_KO
CUSTOMER_TYPE_KO: Mapping[str, str] = schema.CUSTOMER_TYPE_KO
PAYMENT_METHOD_KO: Mapping[str, str] = schema.PAYMENT_METHOD_KO


def label(code: str, mapping: Mapping[str, str]) -> str:
    """The Korean display name of ``code``, or the code itself when the mapping lacks it.

    >>> label("iptv", SERVICE_KO), label("small_business", CUSTOMER_TYPE_KO)
    ('IPTV', '소상공인')
    >>> label("satellite", SERVICE_KO)
    'satellite'
    """
    return mapping.get(code, str(code))


# --------------------------------------------------------------------------------------------
# Numbers: won and counts
# --------------------------------------------------------------------------------------------

_UNIT_VALUE: dict[str, int] = {"만": 10**4, "억": 10**8, "조": 10**12}


def _as_int(n: object, what: str) -> int:
    """``n`` as a Python int; floats, bools and anything else are a TypeError."""
    if isinstance(n, bool | np.bool_) or not isinstance(n, int | np.integer):
        raise TypeError(
            f"{what} must be an integer (Python int or numpy integer), got {type(n).__name__}"
            f" {n!r}; round it explicitly first (money is integer won everywhere)"
        )
    return int(n)


def _round_to(n: int, step: int, rounding: Rounding) -> int:
    """``n`` rounded to a multiple of ``step`` (integer arithmetic, no floats)."""
    if rounding == "floor":
        return (n // step) * step
    if rounding == "ceil":
        return -((-n) // step) * step
    if rounding == "half_up":
        # Ties away from zero, like decimal.ROUND_HALF_UP: -1.5억 → -2억, symmetric in sign.
        magnitude = (abs(n) + step // 2) // step * step
        return magnitude if n >= 0 else -magnitude
    raise ValueError(f"rounding must be 'half_up', 'floor' or 'ceil', got {rounding!r}")


def _korean_groups(n: int) -> str:
    """``n`` in 조/억/만 groups of four digits, without a trailing unit word.

    Groups that are zero are left out; each group keeps its thousands comma. Amounts of
    10,000조 and above stay in 조 (``12,345조``): no incident reaches 경.
    """
    if n == 0:
        return "0"
    sign = "-" if n < 0 else ""
    rest = abs(n)
    jo, rest = divmod(rest, 10**12)
    eok, rest = divmod(rest, 10**8)
    man, ones = divmod(rest, 10**4)
    parts = [f"{v:,}{u}" for v, u in ((jo, "조"), (eok, "억"), (man, "만"), (ones, "")) if v]
    return sign + " ".join(parts)


def _rounded(n: int, significant: KoreanUnit | None, rounding: Rounding) -> int:
    if significant is None:
        return n
    if significant not in _UNIT_VALUE:
        raise ValueError(f"significant must be '만', '억', '조' or None, got {significant!r}")
    return _round_to(n, _UNIT_VALUE[significant], rounding)


def krw(n: int | np.integer) -> str:
    """Integer won with thousands separators, for tables and exact amounts.

    >>> krw(1234567)
    '1,234,567원'
    >>> krw(-1234)
    '-1,234원'
    >>> krw(12.0)
    Traceback (most recent call last):
    ...
    TypeError: amount must be an integer (Python int or numpy integer), got float 12.0; round it explicitly first (money is integer won everywhere)
    """  # noqa: E501
    return f"{_as_int(n, 'amount'):,}원"


def krw_korean(
    n: int | np.integer,
    *,
    significant: KoreanUnit | None = None,
    rounding: Rounding = "half_up",
) -> str:
    """Won in Korean units (조/억/만), for headlines.

    By default the amount is exact: every non-zero group is shown, so the text parses back to
    the same integer.

    >>> krw_korean(36_200_000_000)
    '362억원'
    >>> krw_korean(3_512_000_000_000)
    '3조 5,120억원'
    >>> krw_korean(125_000_000), krw_korean(45_000), krw_korean(9_999), krw_korean(0)
    ('1억 2,500만원', '4만 5,000원', '9,999원', '0원')
    >>> krw_korean(36_249_000_000)
    '362억 4,900만원'

    ``significant`` rounds to a multiple of that unit first, with the mode named by
    ``rounding``: ``"half_up"`` (default; ties away from zero, like ``decimal.ROUND_HALF_UP``),
    ``"floor"`` or ``"ceil"`` (towards minus / plus infinity).

    >>> krw_korean(36_249_000_000, significant="억")
    '362억원'
    >>> krw_korean(36_250_000_000, significant="억")
    '363억원'
    >>> krw_korean(36_250_000_000, significant="억", rounding="floor")
    '362억원'
    >>> krw_korean(-36_250_000_000, significant="억")
    '-363억원'
    >>> krw_korean(3_549_900_000_000, significant="조")
    '4조원'
    """
    value = _rounded(_as_int(n, "amount"), significant, rounding)
    return _korean_groups(value) + "원"


def count(n: int | np.integer) -> str:
    """A count with thousands separators.

    >>> count(35_120_000)
    '35,120,000'
    """
    return f"{_as_int(n, 'count'):,}"


def count_korean(
    n: int | np.integer,
    unit: str = "회선",
    *,
    significant: KoreanUnit | None = None,
    rounding: Rounding = "half_up",
) -> str:
    """A count in Korean units followed by its counter word (``unit``), for headlines.

    Exact by default; ``significant``/``rounding`` work as in :func:`krw_korean`. The counter
    word is separated by a space; ``unit=""`` gives the bare number.

    >>> count_korean(35_120_000)
    '3,512만 회선'
    >>> count_korean(35_123_456, "명")
    '3,512만 3,456 명'
    >>> count_korean(35_123_456, "명", significant="만")
    '3,512만 명'
    >>> count_korean(812, "건"), count_korean(120_000, unit="")
    ('812 건', '12만')
    """
    value = _rounded(_as_int(n, "count"), significant, rounding)
    text = _korean_groups(value)
    return f"{text} {unit}" if unit else text


_SHORT_UNITS: tuple[tuple[int, str], ...] = ((10**12, "조"), (10**8, "억"), (10**4, "만"))


def short_korean(n: int | np.integer) -> str:
    """The report's one rule for a short number (headline cards, chart annotations and ticks).

    **Three significant digits in the largest Korean unit**: the unit is the largest of 조/억/만
    not above ``|n|``; the number before it keeps two decimals below 10, one from 10 to 99, none
    from 100 up (all its integer digits stay: ``6,287만``), trailing zeros dropped. Rounding is
    half up (ties away from zero), in integer arithmetic. Below 1만 the number is exact. So the
    short form differs from ``n`` by at most half a unit of its last digit: **at most 0.5% of
    |n|** (never more), and it always names the right unit (a rounding that reaches 10,000 of a
    unit moves up: 99,995,000 reads ``1억``, not ``10,000만``). Amounts of 10,000조 and above
    stay in 조. Print the exact figure (:func:`krw`, :func:`count`) beside it.

    >>> short_korean(751_787_370), short_korean(217_125_210), short_korean(62_870_727)
    ('7.52억', '2.17억', '6,287만')
    >>> short_korean(80_093), short_korean(293_340), short_korean(3_039), short_korean(0)
    ('8.01만', '29.3만', '3,039', '0')
    >>> short_korean(99_995_000), short_korean(-36_250_000_000), short_korean(3_512_000_000_000)
    ('1억', '-363억', '3.51조')
    """
    value = _as_int(n, "number")
    if value == 0:
        return "0"
    sign = "-" if value < 0 else ""
    a = abs(value)
    if a < 10**4:
        return f"{sign}{a:,}"
    i = next(k for k, (size, _) in enumerate(_SHORT_UNITS) if a >= size)
    while True:
        size, name = _SHORT_UNITS[i]
        whole_units = a // size
        decimals = 0 if whole_units >= 100 else (1 if whole_units >= 10 else 2)
        step = size // 10**decimals
        q = (a + step // 2) // step  # a in steps, half up
        if q >= 10**4 * 10**decimals and i > 0:
            i -= 1  # 9,999.5만 → 1억
            continue
        break
    whole, frac = divmod(q, 10**decimals)
    text = f"{whole:,}"
    digits = f"{frac:0{decimals}d}".rstrip("0") if decimals else ""
    return sign + text + ("." + digits if digits else "") + name


def krw_short(n: int | np.integer) -> str:
    """Won by the rule of :func:`short_korean`, for headline cards: ``7.52억원``, ``6,287만원``.

    >>> krw_short(62_870_727), krw_short(98_214_092), krw_short(9_999)
    ('6,287만원', '9,821만원', '9,999원')
    """
    return short_korean(_as_int(n, "amount")) + "원"


def count_short(n: int | np.integer, unit: str = "회선") -> str:
    """A count by the rule of :func:`short_korean` and its counter word: ``8.01만 회선``.

    >>> count_short(80_093), count_short(71_280), count_short(310, "명")
    ('8.01만 회선', '7.13만 회선', '310 명')
    """
    text = short_korean(_as_int(n, "count"))
    return f"{text} {unit}" if unit else text


def _short_korean(x: float) -> str:
    """A chart tick or annotation by the rule of :func:`short_korean` (tick positions are floats:
    rounded to a whole number first)."""
    if not math.isfinite(x):
        return str(x)
    return short_korean(round(x))


# --------------------------------------------------------------------------------------------
# Dates and durations
# --------------------------------------------------------------------------------------------

# Korea has kept UTC+9 without daylight saving since 1988; a fixed offset needs no tzdata.
KST = timezone(timedelta(hours=9), "KST")
_WEEKDAY_KO = "월화수목금토일"


def _check_date(d: object, what: str) -> None:
    if not isinstance(d, date):
        raise TypeError(
            f"{what} must be a datetime.date/datetime or pandas.Timestamp, got"
            f" {type(d).__name__}; parse strings or numpy datetimes with pandas.Timestamp(...)"
        )
    if d is pd.NaT:
        raise ValueError(f"{what} is missing (NaT); filter or fill missing dates before display")


def _in_kst(d: date) -> date:
    """Aware datetimes are shown in Korean time; naive ones are taken as already KST."""
    if isinstance(d, datetime) and d.tzinfo is not None:
        return d.astimezone(KST)
    return d


def korean_date(d: date) -> str:
    """``2021년 10월 25일 (월)``. Accepts date, datetime or pandas.Timestamp.

    A timezone-aware datetime is converted to Korean time (UTC+9) first; a naive one is taken
    as Korean time already.

    >>> korean_date(date(2021, 10, 25))
    '2021년 10월 25일 (월)'
    >>> korean_date(datetime(2021, 10, 25, 2, 16, tzinfo=timezone.utc))
    '2021년 10월 25일 (월)'
    """
    _check_date(d, "date")
    d = _in_kst(d)
    return f"{d.year}년 {d.month}월 {d.day}일 ({_WEEKDAY_KO[d.weekday()]})"


def korean_datetime(dt: datetime) -> str:
    """``2021년 10월 25일 (월) 11:16``, 24-hour clock; seconds are dropped (not rounded).

    Timezone handling as in :func:`korean_date`.

    >>> korean_datetime(datetime(2021, 10, 25, 11, 16, 59))
    '2021년 10월 25일 (월) 11:16'
    >>> korean_datetime(pd.Timestamp("2021-10-25T02:16:00Z"))
    '2021년 10월 25일 (월) 11:16'
    """
    _check_date(dt, "dt")
    if not isinstance(dt, datetime):
        raise TypeError("dt must be a datetime (it has no time of day); use korean_date")
    local = _in_kst(dt)
    assert isinstance(local, datetime)
    return f"{korean_date(local)} {local.hour:02d}:{local.minute:02d}"


def duration_korean(minutes: int | np.integer) -> str:
    """Whole minutes as days, hours and minutes; zero parts are left out.

    >>> duration_korean(89)
    '1시간 29분'
    >>> duration_korean(3 * 1440 + 4 * 60 + 5), duration_korean(45), duration_korean(120)
    ('3일 4시간 5분', '45분', '2시간')
    >>> duration_korean(0)
    '0분'
    """
    m = _as_int(minutes, "minutes")
    if m < 0:
        raise ValueError(f"minutes must be zero or more, got {m}")
    if m == 0:
        return "0분"
    days, rest = divmod(m, 1440)
    hours, mins = divmod(rest, 60)
    return " ".join(f"{v}{u}" for v, u in ((days, "일"), (hours, "시간"), (mins, "분")) if v)


# --------------------------------------------------------------------------------------------
# Chart style and fonts
# --------------------------------------------------------------------------------------------

# Okabe–Ito colours: distinguishable with colour-blindness and in greyscale print.
PALETTE: tuple[str, ...] = ("#0072B2", "#E69F00", "#009E73", "#D55E00", "#56B4E9", "#CC79A7")

# Hangul fonts in order of preference. "Noto Sans CJK JP" is the name under which matplotlib
# before PR #30334 sees the first face of Debian's fonts-noto-cjk .ttc; it has Hangul too.
HANGUL_FAMILIES: tuple[str, ...] = (
    "NanumGothic",
    "Noto Sans CJK KR",
    "Noto Sans CJK JP",
    "Malgun Gothic",
    "AppleGothic",
)
# Debian/Ubuntu fonts-nanum: added explicitly because matplotlib's font cache may predate them.
_SYSTEM_FONT_DIRS: tuple[str, ...] = ("/usr/share/fonts/truetype/nanum",)

_FONT_FIX = (
    "install one: `pip install koreanize-matplotlib` in the report's environment (it ships"
    " NanumGothic), or `apt-get install fonts-nanum` and delete matplotlib's font cache"
    " (fontlist-*.json in {cachedir}); then restart the kernel"
)


class FontProblem(EnvironmentProblem):
    """No font with Hangul is available to matplotlib: Korean text would render as boxes."""


def _bundled_font_files() -> list[Path]:
    """NanumGothic TTFs shipped inside koreanize-matplotlib, found without importing it.

    Importing koreanize_matplotlib would reset rcParams as a side effect (and it imports
    distutils, gone in Python 3.12), so only its location is looked up.
    """
    try:
        spec = importlib.util.find_spec("koreanize_matplotlib")
    except (ImportError, ValueError):
        spec = None
    dirs = [Path(loc) / "fonts" for loc in (spec.submodule_search_locations or [])] if spec else []
    dirs += [Path(d) for d in _SYSTEM_FONT_DIRS]
    return sorted(p for d in dirs if d.is_dir() for p in d.glob("*.ttf"))


def _font_families(registered: set[str]) -> list[str]:
    """The ``font.family`` list: available Hangul fonts in preference order, then DejaVu Sans.

    Raises FontProblem when none of the Hangul fonts is registered.
    """
    hangul = [f for f in HANGUL_FAMILIES if f in registered]
    if not hangul:
        import matplotlib as mpl

        raise FontProblem(
            "No Hangul font for matplotlib (looked for " + ", ".join(HANGUL_FAMILIES) + "): "
            "Korean titles and labels would render as boxes — "
            + _FONT_FIX.format(cachedir=mpl.get_cachedir())
        )
    return [*hangul, "DejaVu Sans"]


def use_report_style() -> str:
    """Set the report chart style and a Hangul font; return the Hangul font family used.

    Registers the NanumGothic TTFs shipped in koreanize-matplotlib (and fonts-nanum if
    installed), sets ``font.family`` to the available fonts of NanumGothic, Noto Sans CJK KR,
    Malgun Gothic, AppleGothic, then DejaVu Sans (per-glyph fallback), and
    ``axes.unicode_minus=False`` (NanumGothic has no U+2212). Idempotent: calling it again
    registers nothing twice and sets the same values. Call it after any ``plt.style.use`` or
    seaborn theme, which reset fonts. Raises :class:`FontProblem` naming the fix when no
    Hangul font is found.
    """
    import matplotlib as mpl  # imported here: formatting money must not pay for matplotlib
    from cycler import cycler
    from matplotlib import font_manager

    known = {entry.fname for entry in font_manager.fontManager.ttflist}
    for path in _bundled_font_files():
        if str(path) not in known:
            font_manager.fontManager.addfont(str(path))
    families = _font_families({entry.name for entry in font_manager.fontManager.ttflist})
    mpl.rcParams.update(
        {
            "font.family": families,
            "axes.unicode_minus": False,
            "figure.figsize": (8.0, 3.6),
            "figure.dpi": 110,
            "savefig.dpi": 110,
            "figure.facecolor": "white",
            "figure.constrained_layout.use": True,
            "axes.prop_cycle": cycler(color=list(PALETTE)),
            "axes.titlesize": 13,
            # Only 400 and 700 exist in every family of the list (matplotlib registers Nanum's
            # faces as 300/400/600/700); any other weight logs "findfont: Failed to find font
            # weight" to the notebook's stderr when a glyph falls back to DejaVu Sans.
            "axes.titleweight": "bold",
            "axes.titlelocation": "left",
            "axes.labelsize": 11,
            "axes.edgecolor": "#888888",
            "axes.spines.top": False,
            "axes.spines.right": False,
            "axes.grid": True,
            "axes.axisbelow": True,
            "grid.color": "#e3e3e3",
            "grid.linewidth": 0.8,
            "xtick.labelsize": 10,
            "ytick.labelsize": 10,
            "legend.frameon": False,
            # Text from inputs (a region "$x$", a title "a$b") is text: no mathtext, which would
            # render it as math or fail the whole chart on an odd "$".
            "text.parse_math": False,
        }
    )
    return families[0]


def _tick_formatter(korean_units: bool) -> FuncFormatter:
    from matplotlib.ticker import FuncFormatter

    if korean_units:
        return FuncFormatter(lambda x, _pos: _short_korean(x))
    return FuncFormatter(lambda x, _pos: f"{round(x):,}")


def _set_formatter(ax: Axes, axis: Literal["x", "y"], korean_units: bool) -> None:
    if axis not in ("x", "y"):
        raise ValueError(f"axis must be 'x' or 'y', got {axis!r}")
    target = ax.yaxis if axis == "y" else ax.xaxis
    target.set_major_formatter(_tick_formatter(korean_units))


def krw_axis(ax: Axes, axis: Literal["x", "y"] = "y", *, korean_units: bool = True) -> None:
    """Format an axis of won: ticks read ``350억``, ``1.2조``, ``4,500만`` (no ``원``; put the
    unit in the axis label), or ``1,234,567`` with ``korean_units=False``.

    The same rule as count_axis: the largest of 조/억/만 not above the value, about three
    significant digits.
    """
    _set_formatter(ax, axis, korean_units)


def count_axis(ax: Axes, axis: Literal["x", "y"] = "y", *, korean_units: bool = True) -> None:
    """Format an axis of counts: ticks read ``3,000만``, ``1.2억``, ``5,000``; or
    ``30,000,000`` with ``korean_units=False``."""
    _set_formatter(ax, axis, korean_units)


def _annotation(value: float, value_kind: ValueKind) -> str:
    text = _short_korean(float(value))
    return text + "원" if value_kind == "krw" else text


def _check_values(series: pd.Series, value_kind: ValueKind) -> None:
    if value_kind not in ("krw", "count"):
        raise ValueError(f"value_kind must be 'krw' or 'count', got {value_kind!r}")
    if not pd.api.types.is_integer_dtype(series.dtype):
        raise TypeError(
            f"values must be integers ({value_kind}), got dtype {series.dtype}; round"
            " explicitly and .astype('int64') first"
        )


def _new_axes(ax: Axes | None) -> tuple[Figure, Axes]:
    if ax is not None:
        return ax.figure, ax  # type: ignore[return-value]  # stubs: Figure | SubFigure | None
    import matplotlib.pyplot as plt  # pyplot only here: importing the module stays light

    fig, new_ax = plt.subplots()
    # Detach from pyplot: the caller's cell shows the returned figure once (no duplicate
    # inline display, no open-figure build-up across many charts).
    plt.close(fig)
    return fig, new_ax


def _categories(series: pd.Series, labels: Mapping[str, str] | None) -> list[str]:
    if labels is None:
        return [str(k) for k in series.index]
    return [label(k, labels) for k in series.index]


def _plain_text(ax: Axes) -> None:
    """Mathtext off for every text drawn on ``ax`` (title, axis labels, tick labels, bar labels,
    legend), whatever the rcParams of the caller: names from inputs may hold ``$``."""
    # _left_title and _right_title: private, absent from matplotlib's stubs, no public getter for the Text
    texts = [ax.title, ax._left_title, ax._right_title,  # type: ignore[attr-defined]
             ax.xaxis.label, ax.yaxis.label, *ax.texts, *ax.get_xticklabels(), *ax.get_yticklabels()]
    for axis in (ax.xaxis, ax.yaxis):
        for tick in axis.get_major_ticks() + axis.get_minor_ticks():
            texts += [tick.label1, tick.label2]
    legend = ax.get_legend()
    if legend is not None:
        texts += [*legend.get_texts(), legend.get_title()]
    for text in texts:
        text.set_parse_math(False)


def _bars(series: pd.Series, *, horizontal: bool, title: str, value_kind: ValueKind,
          labels: Mapping[str, str] | None, value_label: str | None, ax: Axes | None) -> Figure:
    """One annotated bar chart, vertical or horizontal (see :func:`bar_chart`)."""
    _check_values(series, value_kind)
    fig, ax = _new_axes(ax)
    draw = ax.barh if horizontal else ax.bar
    value_axis: Literal["x", "y"] = "x" if horizontal else "y"
    bars = draw(_categories(series, labels), series.to_numpy(), color=PALETTE[0])
    ax.bar_label(bars, labels=[_annotation(v, value_kind) for v in series], padding=3)
    (krw_axis if value_kind == "krw" else count_axis)(ax, value_axis)
    if horizontal:
        ax.invert_yaxis()
    ax.grid(False)
    ax.grid(True, axis=value_axis)
    if horizontal:
        ax.margins(x=0.15)
    else:
        ax.margins(y=0.12)
    ax.set_title(title)
    if value_label:
        (ax.set_xlabel if horizontal else ax.set_ylabel)(value_label)
    _plain_text(ax)
    return fig


def bar_chart(
    series: pd.Series,
    *,
    title: str,
    value_kind: ValueKind,
    labels: Mapping[str, str] | None = None,
    value_label: str | None = None,
    ax: Axes | None = None,
) -> Figure:
    """Vertical bars of ``series`` (index = categories, integer values), each annotated.

    ``value_kind`` picks the formatting of ticks and annotations: ``"krw"`` (``362억원``) or
    ``"count"`` (``3,512만``). ``labels`` maps index codes to Korean names (e.g.
    ``SERVICE_KO``). Bars keep the series order. Without ``ax`` a new figure is made and left
    out of pyplot's list of open figures: make it the cell's last expression (or ``display``
    it). Call :func:`use_report_style` first.
    """
    return _bars(series, horizontal=False, title=title, value_kind=value_kind, labels=labels,
                 value_label=value_label, ax=ax)


def barh_chart(
    series: pd.Series,
    *,
    title: str,
    value_kind: ValueKind,
    labels: Mapping[str, str] | None = None,
    value_label: str | None = None,
    ax: Axes | None = None,
) -> Figure:
    """Horizontal bars, first item at the top; for long Korean labels (regions, services).

    Arguments as in :func:`bar_chart`.
    """
    return _bars(series, horizontal=True, title=title, value_kind=value_kind, labels=labels,
                 value_label=value_label, ax=ax)


def _interval_label(interval: pd.Interval) -> str:
    return f"{_short_korean(float(interval.left))}~{_short_korean(float(interval.right))}원"


def histogram_krw(
    bin_counts: pd.Series,
    *,
    title: str,
    value_label: str | None = "회선 수",
    ax: Axes | None = None,
) -> Figure:
    """Distribution of won amounts from counts already binned (e.g. credit per line).

    ``bin_counts`` is indexed by won intervals (pandas Interval, as from ``pd.cut``) with
    integer counts,
    in bin order — so 35 million lines are binned where the data is (DuckDB, pandas) and only
    the small table reaches the chart::

        edges = [0, 1_000, 5_000, 10_000, 50_000, 100_000]
        bin_counts = pd.cut(credits["credit_krw"], edges).value_counts(sort=False)

    Bins are drawn as equal-width bars labelled ``1만~5만원``, so unequal bins stay readable
    (bar area is not proportional to bin width).
    """
    intervals = list(bin_counts.index)
    if not all(isinstance(iv, pd.Interval) for iv in intervals):
        raise TypeError(
            "bin_counts must be indexed by won intervals (pandas.Interval); make it with"
            " pd.cut(values, edges).value_counts(sort=False)"
        )
    _check_values(bin_counts, "count")
    fig, ax = _new_axes(ax)
    names = [_interval_label(iv) for iv in intervals]
    bars = ax.bar(names, bin_counts.to_numpy(), width=0.9, color=PALETTE[0])
    ax.bar_label(bars, labels=[_short_korean(float(v)) for v in bin_counts], padding=3)
    count_axis(ax, "y")
    ax.grid(False)
    ax.grid(True, axis="y")
    ax.margins(y=0.12)
    if len(names) > 6:
        ax.tick_params(axis="x", labelrotation=30)
    ax.set_title(title)
    if value_label:
        ax.set_ylabel(value_label)
    _plain_text(ax)
    return fig
