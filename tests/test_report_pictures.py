"""Issue #15, parts 2–4: the restoration timeline, the 시도 tiles, a 합계 row on every table (equal to
the summary, refused when it is not), no one-bar charts, and no breakdown shown twice."""

from __future__ import annotations

import dataclasses
import json
import re
from datetime import datetime
from pathlib import Path

import pandas as pd
import pytest

from kt_analysis.inputs.incident import Window, load_incident
from kt_analysis.jobs.analyse import analyse
from kt_analysis.jobs.explore import open_view
from kt_analysis.report import drawings
from kt_analysis.report import view as view_module
from kt_analysis.report.present import use_report_style

ROOT = Path(__file__).resolve().parents[1]
INCIDENTS = ROOT / "data" / "incidents"
AHYEON = "kt-2018-11-24-ahyeon-fire"
NATIONWIDE = "kt-2021-10-25-nationwide"
BILLING = "kt-2023-09-billing-error"


@pytest.fixture(scope="module")
def views(tmp_path_factory: pytest.TempPathFactory):
    """The sample incidents analysed once (no notebooks), opened as the report opens them."""
    use_report_style()
    out = tmp_path_factory.mktemp("runs")
    opened = {}
    here = Path.cwd()
    import os

    os.chdir(ROOT)
    try:
        for name in (AHYEON, NATIONWIDE, BILLING, "kt-2024-08-10-landline"):
            analyse(load_incident(INCIDENTS / f"{name}.yml"), out / name)
            opened[name] = open_view(INCIDENTS / f"{name}.yml", run_dir=out / name)
    finally:
        os.chdir(here)
    return opened


def _w(start: str, end: str, *, services=None, regions=None, facilities=None) -> Window:
    return Window(start=datetime.fromisoformat(start), end=datetime.fromisoformat(end), services=services,
                  regions=regions, facilities=facilities)


# ----- the restoration timeline ------------------------------------------------------------------

def test_places_with_the_same_windows_are_one_row_latest_restoration_first() -> None:
    windows = [_w("2024-08-10T06:15", "2024-08-10T16:20", services=("landline",), facilities=(f"F-{i}",))
               for i in range(50)]
    windows.append(_w("2024-08-10T06:15", "2024-08-10T18:00", services=("landline",), facilities=("LATE",)))
    rows = drawings.gantt_rows(windows, ())
    assert [r.place for r in rows] == ["LATE", "F-0 외 49곳"]
    assert rows[0].last_end == datetime(2024, 8, 10, 18, 0)


def test_one_span_everywhere_draws_no_timeline() -> None:
    """The nationwide outage (one window, three services) and 50 exchanges out at the same time:
    every bar would be the headline's window again."""
    one = [_w("2021-10-25T11:16", "2021-10-25T12:45")]
    assert drawings.restoration_gantt(one, ("mobile", "internet", "landline")) == (None, "")
    same = [_w("2024-08-10T06:15", "2024-08-10T16:20", facilities=(f"F-{i}",)) for i in range(50)]
    assert drawings.restoration_gantt(same, ("landline",)) == (None, "")
    two = [*same, _w("2024-08-10T06:15", "2024-08-10T17:00", facilities=("X",))]
    fig, caption = drawings.restoration_gantt(two, ("landline",))
    assert fig is not None and caption == ""


def test_ahyeon_timeline_draws_the_last_restored_and_says_when_the_rest_came_back(views) -> None:
    inc = views[AHYEON].incident
    fig, caption = drawings.restoration_gantt(inc.windows, inc.services or (), limit=12)
    places = {}
    for w in inc.windows:
        places.setdefault(w.facilities[0], []).append(w.end)
    last = sorted(((max(ends), p) for p, ends in places.items()), reverse=True)
    assert len(places) > 12
    labels = [t.get_text() for t in fig.axes[0].get_yticklabels()]
    assert labels == [p for _, p in sorted(last[:12], key=lambda x: (-x[0].timestamp(), x[1]))]
    rest_last = max(end for end, _ in last[12:])
    assert f"나머지 {len(places) - 12}곳" in caption
    assert f"{rest_last.month}월 {rest_last.day}일" in caption and rest_last.strftime("%H:%M") in caption
    html = views[AHYEON].restoration_chart()
    assert isinstance(html, str) and "data:image/png;base64," in html and caption in html


# ----- where: the 시도 tiles -------------------------------------------------------------------------

def test_region_tiles_cover_the_17_sido_and_name_what_is_not_one() -> None:
    assert len(drawings.REGION_TILES) == 17
    assert len(set(drawings.REGION_TILES.values())) == 17  # no two tiles on one place
    use_report_style()
    fig, others = drawings.region_tiles({"서울": 10, "경기": 3, "서울특별시": 1}, title="t")
    assert others == ["서울특별시"]
    texts = [t.get_text() for t in fig.axes[0].texts]
    assert {"서울", "10", "경기", "3", "제주", "0"} <= set(texts)
    with pytest.raises(TypeError, match="integers"):
        drawings.region_tiles({"서울": 1.5}, title="t")


def test_region_section_puts_the_tiles_beside_the_table_with_its_total(views) -> None:
    v = views[NATIONWIDE]
    html = v.region_section()
    assert html.count("<img") == 1 and 'class="kt-side"' in html and "<tfoot>" in html
    alt = re.search(r'alt="([^"]*)"', html).group(1)
    for region, b in v.outage.breakdown("region").items():
        assert f"{region} {b.affected_lines:,}" in alt


# ----- tables: a 합계 row equal to the summary ------------------------------------------------------

def _foot(html: str) -> list[str]:
    foot = re.search(r"<tfoot>(.*?)</tfoot>", html, re.S).group(1)
    return re.findall(r"<t[hd][^>]*>([^<]*)</t[hd]>", foot)


@pytest.mark.parametrize("by", ["service", "region", "customer_type", "payment_method"])
def test_every_breakdown_table_ends_with_the_incidents_totals(views, by: str) -> None:
    s = views[NATIONWIDE].outage
    assert _foot(views[NATIONWIDE].breakdown_table(by)) == [
        "합계", f"{s.affected_lines:,}", f"{s.affected_customers:,}", f"{s.eligible_lines:,}",
        f"{s.total_credit_krw:,}원"]


def test_a_total_that_disagrees_with_its_rows_is_refused(views) -> None:
    """Break it on purpose: a summary whose total credit is one won off its breakdown."""
    v = views[NATIONWIDE]
    wrong = dataclasses.replace(v.outage, total_credit_krw=v.outage.total_credit_krw + 1)
    broken = dataclasses.replace(v, summary=wrong)
    with pytest.raises(AssertionError, match="rows sum to"):
        broken.breakdown_table("service")


def test_customers_counted_once_are_footnoted_where_rows_count_them_twice(views) -> None:
    v = views[BILLING]
    html = v.payment_table()
    s = v.billing
    rows_sum = sum(b.affected_customers for b in s.by_payment_method.values())
    assert _foot(html)[2] == f"{s.affected_customers:,}"
    assert ("한 번만 센 수" in html) == (rows_sum != s.affected_customers)


def test_billing_tables_total_to_the_summary(views) -> None:
    s = views[BILLING].billing
    foot = _foot(views[BILLING].payment_table())
    assert foot == ["합계", f"{s.affected_lines:,}", f"{s.affected_customers:,}", f"{s.total_charged_krw:,}원",
                    f"{s.total_cancelled_krw:,}원", f"{s.total_refund_krw:,}원", f"{s.total_recharge_krw:,}원"]
    assert s.total_recharge_krw == s.total_owed_krw  # why the correct fees are not a column of their own
    daily = _foot(views[BILLING].timeline_table())
    assert f"{s.total_refund_krw:,}원" in daily and f"{s.total_recharge_krw:,}원" in daily


def test_a_table_has_a_total_or_says_why_not() -> None:
    frame = pd.DataFrame({"n": [1, 2]}, index=pd.Index(["a", "b"], name="x"))
    with pytest.raises(ValueError, match="total row or a reason"):
        view_module._table(frame)
    with pytest.raises(ValueError, match="total row or a reason"):
        view_module._table(frame, total={"n": 3}, no_total="why")
    assert 'data-no-total="대안"' in view_module._table(frame, no_total="대안")
    assert _foot(view_module._table(frame, total={"n": 3})) == ["합계", "3"]


# ----- no one-bar charts, nothing shown twice ---------------------------------------------------------

def test_a_breakdown_with_one_value_draws_no_chart(views) -> None:
    v = views["kt-2024-08-10-landline"]
    assert len(v.outage.breakdown("service")) == 1
    assert v.breakdown_chart("service") == ""
    assert v.breakdown_chart("region") != ""  # several regions: a chart can be drawn


def test_the_notebooks_show_each_breakdown_once() -> None:
    """A breakdown is a table or a chart in the report, never both; the what-if is a table."""
    for path in sorted((ROOT / "notebooks").glob("*.ipynb")):
        code = "\n".join("".join(c["source"]) for c in json.loads(path.read_text(encoding="utf-8"))["cells"]
                         if c["cell_type"] == "code")
        tables = set(re.findall(r'breakdown_table\("(\w+)"', code)) | (
            {"region"} if "region_section()" in code else set())
        charts = set(re.findall(r'breakdown_chart\("(\w+)"', code))
        assert not tables & charts, (path.name, tables & charts)
        assert "what_if_chart()" not in code
        if "region_section()" in code:
            assert 'breakdown_table("region")' not in code
