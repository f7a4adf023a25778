"""#15 part 1: one rule for short Korean numbers (three significant digits in the largest unit, at
most 0.5% off), the exact figure printed beneath every headline card, equal to summary.json."""

from __future__ import annotations

import json
import re
from fractions import Fraction
from html.parser import HTMLParser
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kt_analysis.inputs.incident import load_incident
from kt_analysis.jobs.analyse import analyse
from kt_analysis.jobs.explore import open_view
from kt_analysis.report import present

ROOT = Path(__file__).resolve().parents[1]
INCIDENTS = ROOT / "data" / "incidents"
SAMPLES = sorted(p.stem for p in INCIDENTS.glob("*.yml"))
UNITS = {"": 1, "만": 10**4, "억": 10**8, "조": 10**12}
INT64 = st.integers(min_value=-(2**63), max_value=2**63 - 1)


def parse_short(text: str) -> tuple[Fraction, str]:
    m = re.fullmatch(r"(-?)([0-9][0-9,]*(?:\.[0-9]+)?)(만|억|조)?", text)
    assert m, text
    number = Fraction(m.group(2).replace(",", ""))
    return (-number if m.group(1) else number) * UNITS[m.group(3) or ""], m.group(3) or ""


@given(INT64)
def test_short_form_within_half_a_percent_in_the_right_unit(n: int) -> None:
    short = present.short_korean(n)
    value, unit = parse_short(short)
    assert abs(value - n) <= Fraction(abs(n), 200)  # the docstring's 0.5%
    if abs(n) < 10**4:
        assert short == f"{n:,}" and value == n  # exact below 1만
        return
    size = UNITS[unit]
    number = abs(value) / size
    # the largest unit not above |n| (or the next one, when the rounding reached 10,000 of it)
    assert size <= abs(n) or abs(n) < size <= abs(value)
    assert 1 <= number and (number < 10**4 or unit == "조")
    # three significant digits: at most two decimals, and fewer from 10 of the unit up
    decimals = len(short.split(".")[1].rstrip("만억조")) if "." in short else 0
    assert decimals <= (2 if number < 10 else 1 if number < 100 else 0)


@given(INT64)
def test_exact_figures_print_exactly(n: int) -> None:
    assert int(present.krw(n).removesuffix("원").replace(",", "")) == n
    assert int(present.count(n).replace(",", "")) == n
    assert present.krw_short(n) == present.short_korean(n) + "원"
    assert present.count_short(n) == present.short_korean(n) + " 회선"


@pytest.mark.parametrize(("n", "short"), [
    (751_787_370, "7.52억"), (217_125_210, "2.17억"), (62_870_727, "6,287만"), (80_093, "8.01만"),
    (71_280, "7.13만"), (98_214_092, "9,821만"), (21_873_900, "2,187만"), (293_340, "29.3만"),
    (3_039, "3,039"), (99_995_000, "1억"), (9_999_500_000_000, "10조"), (-15_000, "-1.5만"), (0, "0"),
])
def test_short_form_examples(n: int, short: str) -> None:
    assert present.short_korean(n) == short


def test_chart_labels_follow_the_same_rule() -> None:
    for n in (751_787_370, 62_870_727, 80_093, 12, 99_995_000):
        assert present._short_korean(float(n)) == present.short_korean(n)
        assert present._annotation(float(n), "krw") == present.krw_short(n)


class Cards(HTMLParser):
    """The headline's cards: data-key and the text of each part (name, big, small)."""

    def __init__(self) -> None:
        super().__init__()
        self.cards: list[dict[str, str]] = []
        self._part: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        cls = a.get("class") or ""
        if cls == "kt-card":
            self.cards.append({"key": a.get("data-key") or ""})
        elif cls.startswith("kt-card-") and self.cards:
            self._part = cls.removeprefix("kt-card-")

    def handle_endtag(self, tag: str) -> None:
        if tag == "div":
            self._part = None

    def handle_data(self, data: str) -> None:
        if self._part and self.cards:
            card = self.cards[-1]
            card[self._part] = card.get(self._part, "") + data


def headline_cards(html: str) -> list[dict[str, str]]:
    parser = Cards()
    parser.feed(html)
    return parser.cards


@pytest.fixture(scope="module", params=SAMPLES)
def sample(request, tmp_path_factory) -> tuple[dict, str]:
    import os

    old = os.getcwd()
    os.chdir(ROOT)
    try:
        out = tmp_path_factory.mktemp(request.param)
        path = INCIDENTS / f"{request.param}.yml"
        analyse(load_incident(path), out)
        view = open_view(path, run_dir=out)
        summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
        return summary, str(view.headline())
    finally:
        os.chdir(old)


def test_every_card_shows_the_summary_exactly_and_agrees(sample: tuple[dict, str]) -> None:
    summary, html = sample
    cards = headline_cards(html)
    keyed = [c for c in cards if c["key"]]
    assert len(keyed) >= 3, cards
    for card in keyed:
        exact = int(re.sub(r"[^0-9-]", "", card["small"]))
        assert exact == summary[card["key"]], card
        word = " 회선" if card["key"].endswith("_lines") else "원"
        assert card["small"].strip() == (present.krw(exact) if word == "원" else present.count(exact) + word)
        # the short figure: the one rule, within 0.5% of the summary's number
        assert card["big"].strip() == (present.krw_short(exact) if word == "원" else present.count_short(exact))
        value, _ = parse_short(card["big"].strip().removesuffix("원").removesuffix(" 회선"))
        assert abs(value - exact) <= Fraction(abs(exact), 200)


def test_dates_in_cards_do_not_wrap(sample: tuple[dict, str]) -> None:
    _, html = sample
    dates = re.findall(r"\d{4}년 \d{1,2}월 \d{1,2}일 \([월화수목금토일]\)", re.sub(r"<[^>]+>", "", html))
    assert dates
    # Kept whole, or broken only after the year (a narrow printed card): never inside 12일 or (화).
    spans = re.findall(r'<span class="kt-nowrap">([^<]*)</span>', html)
    for d in dates:
        year, rest = d.split(" ", 1)
        assert any(d in s for s in spans) or (year in spans and rest in spans), d
