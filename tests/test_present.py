"""Tests for kt_analysis.report.present: Korean won/count/date formatting, masking, chart style."""

from __future__ import annotations

import re
import warnings
from datetime import UTC, date, datetime, timedelta

import matplotlib
import numpy as np
import pandas as pd
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from kt_analysis.errors import EnvironmentProblem
from kt_analysis.report import present
from kt_analysis.report.present import (
    CUSTOMER_TYPE_KO,
    PAYMENT_METHOD_KO,
    SERVICE_KO,
    FontProblem,
    bar_chart,
    barh_chart,
    count,
    count_axis,
    count_korean,
    duration_korean,
    histogram_krw,
    korean_date,
    korean_datetime,
    krw,
    krw_axis,
    krw_korean,
    label,
    mask_name,
    mask_phone,
    use_report_style,
)

matplotlib.use("Agg")

_UNITS = {"조": 10**12, "억": 10**8, "만": 10**4, "": 1}


def parse_korean_won(text: str) -> int:
    """Independent reader of krw_korean's output: '-3조 5,120억 4만 5원' → int."""
    assert text.endswith("원"), text
    body = text[:-1]
    sign = -1 if body.startswith("-") else 1
    body = body.lstrip("-")
    total = 0
    for part in body.split(" "):
        m = re.fullmatch(r"(\d{1,3}(?:,\d{3})*)(조|억|만|)", part)
        assert m, f"bad group {part!r} in {text!r}"
        total += int(m.group(1).replace(",", "")) * _UNITS[m.group(2)]
    return sign * total


money = st.integers(min_value=-(10**17), max_value=10**17)


# --- won -----------------------------------------------------------------------------------


def test_krw_examples():
    assert krw(1234567) == "1,234,567원"
    assert krw(-1234) == "-1,234원"
    assert krw(0) == "0원"
    assert krw(np.int64(35_120_000)) == "35,120,000원"


def test_krw_korean_examples():
    assert krw_korean(36_200_000_000) == "362억원"
    assert krw_korean(3_512_000_000_000) == "3조 5,120억원"
    assert krw_korean(125_000_000) == "1억 2,500만원"
    assert krw_korean(45_000) == "4만 5,000원"
    assert krw_korean(9_999) == "9,999원"
    assert krw_korean(0) == "0원"
    assert krw_korean(-125_000_000) == "-1억 2,500만원"
    assert krw_korean(1_000_000_000_005) == "1조 5원"
    assert krw_korean(np.int32(45_000)) == "4만 5,000원"


def test_krw_korean_significant_rounds_half_up_by_name():
    assert krw_korean(36_249_000_000, significant="억") == "362억원"
    assert krw_korean(36_250_000_000, significant="억") == "363억원"
    assert krw_korean(36_250_000_000, significant="억", rounding="floor") == "362억원"
    assert krw_korean(36_201_000_000, significant="억", rounding="ceil") == "363억원"
    assert krw_korean(-36_250_000_000, significant="억") == "-363억원"
    assert krw_korean(-36_250_000_000, significant="억", rounding="floor") == "-363억원"
    assert krw_korean(4_999, significant="만") == "0원"
    assert krw_korean(5_000, significant="만") == "1만원"
    assert krw_korean(3_512_345_678_901, significant="억") == "3조 5,123억원"
    with pytest.raises(ValueError, match="significant"):
        krw_korean(1, significant="천")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="rounding"):
        krw_korean(1, significant="만", rounding="banker")  # type: ignore[arg-type]


@pytest.mark.parametrize("fn", [krw, krw_korean, count, count_korean, duration_korean])
@pytest.mark.parametrize("bad", [12.0, np.float64(3.0), True, "1000", None, 1.5])
def test_non_integers_rejected(fn, bad):
    with pytest.raises(TypeError, match="integer"):
        fn(bad)


@given(money)
def test_krw_round_trips(n):
    assert int(krw(n).replace(",", "").replace("원", "")) == n


@given(money)
def test_krw_korean_exact_parses_back(n):
    assert parse_korean_won(krw_korean(n)) == n


@given(money, st.sampled_from(["만", "억", "조"]))
def test_krw_korean_rounded_is_within_half_a_unit(n, unit):
    step = present._UNIT_VALUE[unit]
    rounded = parse_korean_won(krw_korean(n, significant=unit))
    assert rounded % step == 0
    assert abs(rounded - n) <= step // 2
    floor = parse_korean_won(krw_korean(n, significant=unit, rounding="floor"))
    ceil = parse_korean_won(krw_korean(n, significant=unit, rounding="ceil"))
    assert floor <= n <= ceil and ceil - floor in (0, step)


@given(money, st.sampled_from(["만", "억", "조"]))
def test_krw_korean_half_up_is_symmetric(n, unit):
    pos, neg = krw_korean(abs(n), significant=unit), krw_korean(-abs(n), significant=unit)
    assert neg == pos if pos == "0원" else neg == "-" + pos


@given(st.floats(allow_nan=True, allow_infinity=True))
def test_floats_always_rejected(x):
    with pytest.raises(TypeError):
        krw(x)
    with pytest.raises(TypeError):
        krw_korean(x)


# --- counts --------------------------------------------------------------------------------


def test_count_examples():
    assert count(35_120_000) == "35,120,000"
    assert count_korean(35_120_000) == "3,512만 회선"
    assert count_korean(35_120_000, unit="명") == "3,512만 명"
    assert count_korean(35_123_456, significant="만") == "3,512만 회선"
    assert count_korean(0) == "0 회선"
    assert count_korean(120_000, unit="") == "12만"


@given(st.integers(min_value=0, max_value=10**15))
def test_count_korean_parses_back(n):
    assert parse_korean_won(count_korean(n, unit="") + "원") == n


# --- short labels for ticks and annotations ------------------------------------------------


@pytest.mark.parametrize(
    ("x", "text"),
    [
        (0.0, "0"),
        (35_000_000_000.0, "350억"),
        (1.2e12, "1.2조"),
        (1.25e12, "1.25조"),
        (30_000_000.0, "3,000만"),
        (35_120_000.0, "3,512만"),
        (45_000.0, "4.5만"),
        (9_999.0, "9,999"),
        (9_999.6, "1만"),
        (99_996_000.0, "1억"),
        (-35_000_000_000.0, "-350억"),
        (12_345e12, "12,345조"),
    ],
)
def test_short_korean(x, text):
    assert present._short_korean(x) == text


# --- dates ---------------------------------------------------------------------------------


def test_dates():
    # KT's nationwide outage: 2021-10-25 (Mon) from 11:16 KST, 89 minutes.
    assert korean_date(date(2021, 10, 25)) == "2021년 10월 25일 (월)"
    assert korean_date(pd.Timestamp("2021-10-31")) == "2021년 10월 31일 (일)"
    assert korean_datetime(datetime(2021, 10, 25, 11, 16)) == "2021년 10월 25일 (월) 11:16"
    utc = datetime(2021, 10, 24, 23, 30, tzinfo=UTC)
    assert korean_datetime(utc) == "2021년 10월 25일 (월) 08:30"
    assert korean_date(utc) == "2021년 10월 25일 (월)"
    assert duration_korean(89) == "1시간 29분"
    assert duration_korean(3 * 24 * 60 + 4 * 60 + 5) == "3일 4시간 5분"
    assert duration_korean(45) == "45분"
    assert duration_korean(1440) == "1일"
    assert duration_korean(1441) == "1일 1분"


def test_date_errors():
    with pytest.raises(TypeError):
        korean_date("2021-10-25")  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        korean_datetime(date(2021, 10, 25))  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="NaT"):
        korean_date(pd.NaT)
    with pytest.raises(ValueError):
        duration_korean(-1)


@given(st.integers(min_value=0, max_value=10**7))
def test_duration_parses_back(minutes):
    factors = {"일": 1440, "시간": 60, "분": 1}
    total = sum(
        int(num) * factors[unit]
        for num, unit in re.findall(r"(\d+)(일|시간|분)", duration_korean(minutes))
    )
    assert total == minutes


@given(st.datetimes(min_value=datetime(1990, 1, 1), max_value=datetime(2100, 1, 1)))
def test_korean_datetime_weekday(dt):
    text = korean_datetime(dt)
    assert text.startswith(f"{dt.year}년 {dt.month}월 {dt.day}일 ")
    assert text[text.index("(") + 1] == "월화수목금토일"[dt.weekday()]
    assert text.endswith(f"{dt.hour:02d}:{dt.minute:02d}")


# --- labels --------------------------------------------------------------------------------


def test_labels():
    assert label("mobile", SERVICE_KO) == "무선(모바일)"
    assert label("landline", SERVICE_KO) == "인터넷전화·유선전화"
    assert label("enterprise", CUSTOMER_TYPE_KO) == "기업"
    assert label("giro", PAYMENT_METHOD_KO) == "지로"
    assert label("unknown_code", PAYMENT_METHOD_KO) == "unknown_code"


# --- masking -------------------------------------------------------------------------------


def test_mask_examples():
    assert mask_name("김민수") == "김*수"
    assert mask_name("남궁민") == "남*민"
    assert mask_name("이수") == "이*"
    assert mask_name("김") == "*"
    assert mask_phone("010-1234-5678") == "010-****-5678"
    assert mask_phone("01012345678") == "010-****-5678"
    assert mask_phone("011-123-4567") == "011-***-4567"
    assert mask_phone("02-1234-5678") == "02-****-5678"
    assert mask_phone("070 1234 5678") == "070-****-5678"
    for bad in ["1588-1234", "010-1234-567", "+82-10-1234-5678", "전화 010-1234-5678", "n/a"]:
        assert mask_phone(bad) == "*" * len(bad)


def test_mask_type_errors_do_not_echo_the_value():
    with pytest.raises(TypeError) as err:
        mask_phone(1012345678)  # type: ignore[arg-type]
    assert "1012345678" not in str(err.value)
    with pytest.raises(TypeError):
        mask_name(None)  # type: ignore[arg-type]


hangul = st.characters(min_codepoint=0xAC00, max_codepoint=0xD7A3)


@given(st.text(min_size=3, max_size=12))
def test_mask_name_hides_the_middle(name):
    out = mask_name(name)
    assert len(out) == len(name)
    assert out[0] == name[0] and out[-1] == name[-1]
    assert out[1:-1] == "*" * (len(name) - 2)
    middle = name[1:-1]
    # The middle can only reappear through characters the output legitimately shows.
    if set(middle) - {name[0], name[-1], "*"}:
        assert middle not in out


@given(st.text(hangul, min_size=2, max_size=2))
def test_mask_two_char_name_hides_the_second(name):
    assume(name[0] != name[1])
    assert name[1] not in mask_name(name)


digits = st.text(st.sampled_from("0123456789"), min_size=1)


@given(
    st.sampled_from(["010", "011", "016", "02", "031", "051", "070"]),
    st.text(st.sampled_from("0123456789"), min_size=3, max_size=4),
    st.text(st.sampled_from("0123456789"), min_size=4, max_size=4),
    st.sampled_from(["-", "", " ", "."]),
)
def test_mask_phone_hides_the_middle(prefix, middle, last, sep):
    phone = sep.join([prefix, middle, last])
    out = mask_phone(phone)
    assert out == f"{prefix}-{'*' * len(middle)}-{last}"
    assume(middle not in last and middle not in prefix)
    assert middle not in out


@given(st.text(max_size=30))
def test_mask_phone_never_reveals_more_than_prefix_and_last_four(text):
    out = mask_phone(text)
    shown = re.sub(r"\D", "", out)
    if set(out) <= {"*"}:
        assert len(out) == len(text)
    else:
        assert len(shown) <= 7
        assert out.endswith(re.sub(r"\D", "", text)[-4:])


# --- chart style and charts ----------------------------------------------------------------


@pytest.fixture
def report_style():
    with matplotlib.rc_context():
        family = use_report_style()
        yield family


def test_use_report_style_sets_a_hangul_family(report_style):
    assert report_style in present.HANGUL_FAMILIES
    families = matplotlib.rcParams["font.family"]
    assert families[0] == report_style and families[-1] == "DejaVu Sans"
    assert matplotlib.rcParams["axes.unicode_minus"] is False
    assert not matplotlib.rcParams["axes.spines.top"]


def test_use_report_style_is_idempotent(report_style):
    from matplotlib import font_manager

    before = (len(font_manager.fontManager.ttflist), dict(matplotlib.rcParams))
    assert use_report_style() == report_style
    after = (len(font_manager.fontManager.ttflist), dict(matplotlib.rcParams))
    assert before == after


def test_no_hangul_font_is_an_actionable_environment_problem():
    with pytest.raises(FontProblem) as err:
        present._font_families({"DejaVu Sans", "Liberation Sans"})
    assert isinstance(err.value, EnvironmentProblem)
    assert "pip install koreanize-matplotlib" in str(err.value)
    assert "fonts-nanum" in str(err.value)


def _glyph_warnings(caught):
    return [
        str(w.message)
        for w in caught
        if "Glyph" in str(w.message) or "missing from font" in str(w.message)
    ]


def test_hangul_draws_without_missing_glyphs(report_style, tmp_path, caplog):
    lines = pd.Series({"mobile": 35_120_000, "internet": 9_800_000, "iptv": 9_300_000})
    credits = pd.Series({"서울특별시": 36_249_000_000, "경기도": 41_000_000_000, "제주": 900_000})
    bins = pd.cut(
        pd.Series([500, 1_200, 7_000, 7_500, 45_000, 99_000]), [0, 1_000, 10_000, 100_000]
    ).value_counts(sort=False)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        figures = [
            bar_chart(lines, title="서비스별 피해 회선", value_kind="count", labels=SERVICE_KO),
            barh_chart(credits, title="지역별 보상액 (원)", value_kind="krw", value_label="보상액"),
            histogram_krw(bins, title="회선별 보상액 분포"),
        ]
        fig = figures[0]
        fig.axes[0].set_xlabel("서비스 — 음수 -1 포함")
        fig.axes[0].annotate("장애 발생: 2021년 10월 25일 (월) 11:16", (0, 0))
        for i, f in enumerate(figures):
            path = tmp_path / f"chart{i}.png"
            f.savefig(path)
            assert path.stat().st_size > 0
    assert _glyph_warnings(caught) == []
    # matplotlib logs (not warns) font fallbacks it could not match, e.g. a missing weight.
    assert [r.getMessage() for r in caplog.records if "findfont" in r.getMessage()] == []
    ticks = [t.get_text() for t in figures[0].axes[0].get_xticklabels()]
    assert ticks == ["무선(모바일)", "인터넷", "IPTV"]
    notes = [t.get_text() for t in figures[1].axes[0].texts]
    assert notes == ["362억원", "410억원", "90만원"]


def test_default_font_does_warn(tmp_path):
    # The check above can fail: without the report style, DejaVu Sans has no Hangul.
    with matplotlib.rc_context({"font.family": ["DejaVu Sans"]}):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            fig = bar_chart(pd.Series({"서울": 1}), title="한글", value_kind="count")
            fig.savefig(tmp_path / "boxes.png")
    assert _glyph_warnings(caught)


def test_chart_axis_formatters(report_style):
    fig = bar_chart(pd.Series({"a": 30_000_000, "b": 60_000_000}), title="t", value_kind="count")
    ax = fig.axes[0]
    fmt = ax.yaxis.get_major_formatter()
    assert fmt(30_000_000, 0) == "3,000만"
    krw_axis(ax, "x")
    assert ax.xaxis.get_major_formatter()(35_000_000_000, 0) == "350억"
    count_axis(ax, "y", korean_units=False)
    assert ax.yaxis.get_major_formatter()(30_000_000, 0) == "30,000,000"
    with pytest.raises(ValueError):
        krw_axis(ax, "z")  # type: ignore[arg-type]


def test_chart_input_errors(report_style):
    with pytest.raises(TypeError, match="integers"):
        bar_chart(pd.Series({"a": 1.5}), title="t", value_kind="krw")
    with pytest.raises(ValueError, match="value_kind"):
        bar_chart(pd.Series({"a": 1}), title="t", value_kind="won")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="Interval"):
        histogram_krw(pd.Series({"a": 1}), title="t")


def test_chart_on_given_axes_draws_there(report_style):
    import matplotlib.pyplot as plt

    fig, (left, right) = plt.subplots(1, 2)
    try:
        out = barh_chart(pd.Series({"a": 1}), title="t", value_kind="count", ax=right)
        assert (
            out is fig and right.get_title(loc="left") == "t" and left.get_title(loc="left") == ""
        )
    finally:
        plt.close(fig)


def test_new_charts_are_not_left_open_in_pyplot(report_style):
    import matplotlib.pyplot as plt

    before = plt.get_fignums()
    bar_chart(pd.Series({"a": 1}), title="t", value_kind="count")
    assert plt.get_fignums() == before


def test_kst_is_utc_plus_nine():
    assert present.KST.utcoffset(None) == timedelta(hours=9)
