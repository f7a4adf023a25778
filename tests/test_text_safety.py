"""Text that leaves the program: phone numbers masked anywhere in a message (``errors.mask_text``),
ordinary numbers left alone, and chart text drawn as text (no mathtext on a ``$`` from the inputs)."""

from __future__ import annotations

import io
import re

import pandas as pd
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from kt_analysis.errors import mask_text, shown
from kt_analysis.report import present

SETTINGS = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# Filler around a phone number: Korean words and region names, punctuation, spaces; no digit or
# ASCII letter (a bare run of digits between letters is part of a word, e.g. a sha256 digest).
FILLER = st.text(alphabet=st.sampled_from(list(" :;,()[]'\"=/ 서울부산제주 번호는 —\n")), max_size=20)
WORDS = st.text(alphabet=st.sampled_from(list("abc xyz:;,()[]'\"=/ 서울부산제주 번호는 —\n")), max_size=20)


@st.composite
def phones(draw) -> tuple[str, str]:
    """(a phone number in one of the written forms, its last four digits)."""
    middle = draw(st.from_regex(r"[0-9]{4}", fullmatch=True))
    last = draw(st.from_regex(r"[0-9]{4}", fullmatch=True))
    mobile = draw(st.sampled_from(["010", "011", "016", "019"]))
    form = draw(st.sampled_from([
        "+82-{m}-{a}-{b}", "+82 {m} {a} {b}", "{p}{a}{b}", "{p}-{a}-{b}", "{p}.{a}.{b}",
        "tel:{p}{a}{b}", "({p}) {a}-{b}", "+82{m}{a}{b}", "{p} {a} {b}",
    ]))
    return form.format(m=mobile[1:], p=mobile, a=middle, b=last), last


def _digits(text: str) -> str:
    return "".join(c for c in text if c.isdigit())


@SETTINGS
@given(before=FILLER, phone=phones(), after=FILLER)
@example(before="error: ", phone=("+82-10-1234-5678", "5678"), after=" is not a known time zone")
@example(before="", phone=("(010) 9876-5432", "5432"), after="")
def test_phone_numbers_in_text_are_masked_keeping_the_last_four(before: str, phone: tuple[str, str],
                                                                 after: str) -> None:
    number, last = phone
    masked = mask_text(before + number + after)
    assert masked.startswith(before) and masked.endswith(after)
    shown_number = masked[len(before):len(masked) - len(after)]
    assert len(shown_number) == len(number)
    assert shown_number.endswith(last)
    # The middle block is gone: at most the prefix (010, or 82) and the last four digits remain.
    assert len(_digits(shown_number)) <= 3 + 4
    assert "****" in shown_number


@SETTINGS
@given(before=WORDS, phone=phones(), after=WORDS)
def test_written_out_phone_numbers_are_masked_next_to_letters(before: str, phone: tuple[str, str],
                                                              after: str) -> None:
    number, last = phone
    if number.isdigit() or number.startswith("tel:"):
        number = number.removeprefix("tel:")[:3] + "-" + number.removeprefix("tel:")[3:7] + "-" + last
    masked = mask_text(f"{before}{number}{after}")
    assert f"{before}{number}{after}" != masked
    assert masked.endswith(last + after)


@SETTINGS
@given(y=st.integers(2000, 2049), mo=st.integers(1, 12), d=st.integers(1, 28), h=st.integers(0, 23),
       mi=st.integers(0, 59), s=st.integers(0, 59), won=st.integers(0, 10**13), line=st.integers(0, 99_999_999),
       count=st.integers(0, 10**9), digest=st.binary(min_size=32, max_size=32), filler=FILLER)
def test_ordinary_numbers_are_left_alone(y: int, mo: int, d: int, h: int, mi: int, s: int, won: int, line: int,
                                         count: int, digest: bytes, filler: str) -> None:
    text = (f"{filler}{y:04d}-{mo:02d}-{d:02d} {y:04d}-{mo:02d}-{d:02d}T{h:02d}:{mi:02d}:{s:02d}+09:00 "
            f"{won:,}원 {won:,} won, line {line} line_id {line:08d} {count:,} lines, {h:02d}:{mi:02d}, "
            f"sha256 {digest.hex()}, {y}.{mo:02d}.{d:02d}, {line/7:.4f}{filler}")
    assert mask_text(text) == text


@pytest.mark.parametrize("text", [
    "서울 10:00-12:00, 3 lines, 3,332 won", "1,441,441 affected lines", "2024-03-04T10:00",
    "line 12345678", "1010101010101", "timeout after 3600 s (exit code 137)", "01234567",
])
def test_known_ordinary_texts(text: str) -> None:
    assert mask_text(text) == text


def test_mask_text_agrees_with_shown_on_a_whole_value() -> None:
    for value in ("01098765432", "010-9876-5432", "+82-10-9876-5432"):
        assert repr(mask_text(value)) == shown(value)


def test_names_are_not_masked_by_mask_text() -> None:
    # Hangul names are masked where a cell value is quoted (shown), not in free text: region
    # names must stay readable.
    assert mask_text("서울 부산 홍길동") == "서울 부산 홍길동"
    assert shown("홍길동") == "'홍*동'"


@pytest.mark.filterwarnings("ignore:Glyph")  # Hangul without a Hangul font: boxes, not a failure
@pytest.mark.parametrize("chart", ["barh", "bar", "histogram"])
def test_charts_draw_dollar_signs_as_text(chart: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    names = ["$_$", "a$b", "$x$"]
    with matplotlib.rc_context({"text.parse_math": True}):  # whatever the caller's style
        if chart == "histogram":
            bins = pd.Series([1, 2], index=pd.IntervalIndex.from_breaks([0, 1_000, 5_000]))
            fig = present.histogram_krw(bins, title="$_$ a$b", value_label="$_$")
        else:
            draw = present.barh_chart if chart == "barh" else present.bar_chart
            fig = draw(pd.Series([3, 5, 7], index=names), title="$_$ 지역", value_kind="count", value_label="$_$")
        fig.savefig(io.BytesIO(), format="png")  # mathtext would fail on "$_$"
    ax = fig.axes[0]
    texts = [ax.title, ax.xaxis.label, ax.yaxis.label, *ax.texts, *ax.get_xticklabels(), *ax.get_yticklabels()]
    assert all(not t.get_parse_math() for t in texts)
    if chart != "histogram":
        labels = [t.get_text() for t in (ax.get_yticklabels() if chart == "barh" else ax.get_xticklabels())]
        assert labels == names


def test_report_style_turns_mathtext_off() -> None:
    import matplotlib

    with matplotlib.rc_context():
        try:
            present.use_report_style()
        except present.FontProblem:
            pytest.skip("no Hangul font here")
        assert matplotlib.rcParams["text.parse_math"] is False


def test_mask_text_keeps_non_phone_shapes() -> None:
    assert re.fullmatch(r"\+82-\*\*-\*{4}-5678", mask_text("+82-10-1234-5678"))
