"""#15 parts 5 and 6: the report speaks Korean (no data code reaches the visible text; a text kept in
English is marked as a quote), and an incident that reaches no line says so once, with no chart."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path

import pandas as pd
import pytest
from conftest import Project

from kt_analysis.inputs import schema
from kt_analysis.jobs.run import run_incident
from kt_analysis.rules.credits import PLAN_NOT_COVERED, REASONS

ROOT = Path(__file__).resolve().parents[1]
INCIDENTS = ROOT / "data" / "incidents"
SAMPLES = sorted(p.stem for p in INCIDENTS.glob("*.yml"))
CODES = sorted({*schema.SERVICES, *schema.CUSTOMER_TYPES, *schema.PAYMENT_METHODS, *schema.CAUSES,
                *schema.ITEM_CATEGORIES, *REASONS, PLAN_NOT_COVERED})
SKIPPED = {"script", "style", "code", "pre"}  # programs, file names and commands are not prose


class Visible(HTMLParser):
    """The text a reader sees as prose: not inside script/style/code/pre, nor inside an element
    marked as a quote in another language (``lang="en"``)."""

    def __init__(self) -> None:
        super().__init__()
        self.stack: list[bool] = []  # per open element: is it skipped?
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("br", "img", "meta", "link", "input", "hr", "col", "source", "wbr"):
            return
        a = dict(attrs)
        quote = (a.get("lang") or "").startswith("en") and tag in ("q", "blockquote")
        self.stack.append(tag in SKIPPED or quote)

    def handle_endtag(self, tag: str) -> None:
        if tag in ("br", "img", "meta", "link", "input", "hr", "col", "source", "wbr"):
            return
        if self.stack:
            self.stack.pop()

    def handle_data(self, data: str) -> None:
        if not any(self.stack):
            self.text.append(data)


def visible_text(html: str) -> str:
    parser = Visible()
    parser.feed(html)
    return " ".join(parser.text)


def raw_codes(text: str) -> set[str]:
    return {c for c in CODES if re.search(rf"(?<![A-Za-z0-9_./-]){re.escape(c)}(?![A-Za-z0-9_./-])", text)}


def test_the_checker_finds_a_code() -> None:
    assert raw_codes(visible_text("<p>고객 유형 small_business, 서비스 internet</p>")) == {"small_business", "internet"}
    assert raw_codes(visible_text('<p><code>small_business</code> <q lang="en">internet</q></p>')) == set()


@pytest.fixture(scope="module")
def reports(sample_reports: dict[str, str]) -> dict[str, str]:
    return sample_reports  # tests/conftest.py: every sample incident run once with its report


@pytest.mark.parametrize("name", SAMPLES)
def test_no_raw_code_in_the_visible_text(reports: dict[str, str], name: str) -> None:
    assert raw_codes(visible_text(reports[name])) == set()


ZERO = """
id: reaches-nobody
title: 아무 회선에도 닿지 않은 장애
kind: outage
timezone: Asia/Seoul
policy: kt-terms-2022
roster: ../roster.parquet
affected:
  allow_unmatched: true
  windows:
    - {start: 2024-08-10T06:15, end: 2024-08-10T16:20, where: {regions: [서울]}, services: [iptv]}
"""


def test_an_incident_reaching_no_line_says_so_once_and_draws_nothing(tmp_path: Path,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    # 서울 has mobile and internet lines but no IPTV line: the window is valid and reaches no line.
    proj = Project(tmp_path)
    proj.copy_policies("kt-terms-2022")
    proj.roster(pd.DataFrame(
        [(1, 10, "mobile", 72000, "서울", "SEOUL-JUNG-01", "individual", "credit_card", 5),
         (2, 10, "internet", 25000, "서울", "SEOUL-JUNG-01", "individual", "credit_card", 5),
         (3, 11, "iptv", 16500, "부산", "BUSAN-001", "small_business", "giro", 25)],
        columns=list(schema.ROSTER_COLUMNS)))
    incident = proj.incident("reaches-nobody", ZERO)
    monkeypatch.chdir(tmp_path)
    run_incident(incident, out=tmp_path / "reports")  # reconciles: the statement, not cards
    html = (tmp_path / "reports" / "reaches-nobody" / "report.html").read_text(encoding="utf-8")
    text = visible_text(html)
    assert text.count("해당하는 회선이 없습니다") == 1
    assert "회선이 없습니다" not in text.replace("해당하는 회선이 없습니다", "", 1)
    assert html.count('class="kt-statement"') == 1
    assert 'class="kt-card"' not in html  # no cards of zeros
    assert "장애 시간 0분" not in text and "0분" not in text.split("부록")[0]
    body = html.split('class="kt-appendix"')[0]
    assert "<img" not in body and "<svg" not in body  # no chart at all (of zeros)
    assert '<table class="kt-table"' not in body  # no table of zeros before the appendix
    # No heading above an empty section: the chapters' headings and prose go with their content.
    before = text.split("부록")[0]
    for heading in ("영향 범위", "서비스별", "지역별", "보상 — 얼마를", "정책별 비교", "언제 정산되나", "신청"):
        assert heading not in before, heading
    assert "부록" in text  # the appendix still says what was run on what


def test_only_sections_that_show_nothing_are_dropped() -> None:
    import nbformat

    from kt_analysis.jobs.run import drop_empty_sections

    def md(text: str):
        return nbformat.v4.new_markdown_cell(text)

    def code(html: str | None):
        cell = nbformat.v4.new_code_cell("x")
        if html is not None:
            cell.outputs = [nbformat.v4.new_output("execute_result", data={"text/html": html,
                                                                          "text/plain": repr(html)})]
        return cell

    cells = [code("<h1>headline</h1>"), md("# 1. chapter"), md("prose"), md("## empty"), code(""), code(None),
             md("## full"), code("<table></table>"), md("# 2. all empty"), md("## sub"), code(""),
             md("# 3. kept"), code("<p>x</p>")]
    kept = [c.source if c.cell_type == "markdown" else c.outputs[0]["data"]["text/html"] if c.outputs else None
            for c in drop_empty_sections(cells)]
    assert kept == ["<h1>headline</h1>", "# 1. chapter", "prose", "", None, "## full", "<table></table>", "",
                    "# 3. kept", "<p>x</p>"]





@pytest.mark.parametrize(("incident", "differ"), [
    ("examples/month-pair/month-pair-a", True),  # Ulsan out 3 x 110 min (330 merged), Jeju 150 min at once
    ("incidents/kt-2018-11-24-ahyeon-fire", False),  # 388 windows, yet some line was out the whole week at once
    ("incidents/kt-2021-10-25-nationwide", False),  # one window
])
def test_the_outage_card_shows_the_longest_stretch_at_once(tmp_path: Path, incident: str, differ: bool) -> None:
    """A line's windows merged over an incident are not one stretch: where the longest merged outage
    is longer than any line's longest uninterrupted one, the card shows the latter ("최장 연속 장애",
    the ledger's largest longest_continuous_minutes) with the merged total beside it; else "장애 시간"."""
    import duckdb

    from kt_analysis.inputs.incident import load_incident
    from kt_analysis.jobs.analyse import analyse
    from kt_analysis.jobs.explore import open_view
    from kt_analysis.report import present

    path = Path(__file__).resolve().parents[1] / "data" / f"{incident}.yml"
    analyse(load_incident(path), tmp_path / "run")  # computed now, not a published run of another version
    view = open_view(path, run_dir=tmp_path / "run")
    s = view.outage
    [(longest, merged)] = duckdb.sql(f"SELECT max(longest_continuous_minutes), max(outage_minutes) "
                                     f"FROM '{view.ledger}'").fetchall()
    assert (s.longest_continuous_minutes, s.longest_outage_minutes) == (longest, merged)
    assert (longest < merged) is differ
    html = str(view.headline())
    if differ:
        assert "최장 연속 장애" in html and "장애 시간</" not in html
        assert f">{present.duration_korean(longest)}<" in html
        assert f"회선별 누적 최장 {present.duration_korean(merged)}" in html
    else:
        assert "최장 연속 장애" not in html and f">{present.duration_korean(merged)}<" in html
