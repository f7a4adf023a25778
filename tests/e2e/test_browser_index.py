"""Issue #15, parts 7 and 8 in a real browser: the index (Korean time, each kind's money and
settlement date, a flag for an incident that reaches no line) and the printed report (A4 paper,
nothing wider than the page)."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from kt_analysis.report import present

from .test_browser import _open

pytestmark = pytest.mark.slow  # test_browser skips the module when there is no Chromium (imported above)

INCIDENTS = Path(__file__).resolve().parents[2] / "data" / "incidents"
BILLING = "kt-2023-09-billing-error"
FAILED = "zz-bad-input"
FAILED_MESSAGE = ("bad input: data/incidents/zz-bad-input.yml: affected.windows[0]: ends (2024-03-04 09:00) "
                  "before it starts (2024-03-04 10:00) — swap start and end, or fix the date")
A4_PT = (595.0, 842.0)
MM = 96 / 25.4  # CSS pixels per millimetre
# The printable width of A4 with report.css's @page margins (12 mm left and right).
PRINT_WIDTH = int((210 - 2 * 12) * MM)


@pytest.fixture(scope="module")
def index_out(nationwide_report: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The nationwide run's output folder plus a billing error (analysed, as run-all would) and an
    incident that reaches no line, with its index written again."""
    from kt_analysis.inputs.incident import load_incident
    from kt_analysis.jobs.analyse import analyse
    from kt_analysis.report.index import write_index

    out = tmp_path_factory.mktemp("index")
    shutil.copytree(nationwide_report, out / nationwide_report.name)
    billing = out / BILLING
    analyse(load_incident(INCIDENTS / f"{BILLING}.yml"), billing)
    (billing / "run.json").write_text(json.dumps({"finished_at": "2026-12-02T18:13:40+00:00"}), encoding="utf-8")
    empty = out / "zz-no-lines"
    empty.mkdir()
    nationwide = json.loads((nationwide_report / "summary.json").read_text(encoding="utf-8"))
    nobody = {**nationwide, "incident_id": "zz-no-lines", "title": "닿은 회선 없음", "affected_lines": 0,
              "total_credit_krw": 0}
    (empty / "summary.json").write_text(json.dumps(nobody), encoding="utf-8")
    shutil.copy(nationwide_report / "run.json", empty / "run.json")
    failed = out / FAILED / "failed"  # run-all's record of a bad input: no summary, no report
    failed.mkdir(parents=True)
    (failed / "error.txt").write_text(FAILED_MESSAGE + "\n", encoding="utf-8")
    write_index(out)
    return out


def _kst_words(iso: str) -> str:
    seoul = datetime.fromisoformat(iso).astimezone(ZoneInfo("Asia/Seoul"))
    return (f"{seoul.year}년 {seoul.month}월 {seoul.day}일 ({'월화수목금토일'[seoul.weekday()]}) "
            f"{seoul.hour:02d}:{seoul.minute:02d} KST")


def test_index_shows_korean_time_money_dates_and_flags(browser, index_out: Path) -> None:
    page, problems = _open(browser, index_out / "index.html")
    body = page.inner_text("body")
    assert "+00:00" not in body and "UTC" not in body

    nationwide = page.locator('tr[data-incident="kt-2021-10-25-nationwide"]').inner_text()
    run = json.loads((index_out / "kt-2021-10-25-nationwide" / "run.json").read_text(encoding="utf-8"))
    assert _kst_words(run["finished_at"]) in nationwide
    assert "정상" in nationwide and "영향 회선 없음" not in nationwide

    billing = page.locator(f'tr[data-incident="{BILLING}"]').inner_text()
    summary = json.loads((index_out / BILLING / "summary.json").read_text(encoding="utf-8"))
    assert "2026년 12월 3일 (목) 03:13 KST" in billing  # 18:13 UTC is the next morning in Seoul
    assert f"환불 {present.krw(summary['total_refund_krw'])}" in billing and "보상 0원" not in billing
    for key in ("refund_completion_date", "settlement_completion_date"):
        assert present.korean_date(datetime.fromisoformat(summary[key])) in billing

    flagged = page.locator('tr[data-flag="no-lines"]')
    assert flagged.count() == 1 and flagged.get_attribute("data-incident") == "zz-no-lines"
    assert "영향 회선 없음" in flagged.inner_text()
    assert problems == []
    page.close()


def _pdf_page_sizes(pdf: Path) -> list[tuple[float, float]]:
    """Each page's size in points: pdfinfo when installed, else the MediaBoxes in the file."""
    if shutil.which("pdfinfo"):
        info = subprocess.run(["pdfinfo", "-f", "1", "-l", "9999", str(pdf)], capture_output=True, text=True,
                              check=True).stdout
        return [(float(w), float(h)) for w, h in re.findall(r"Page\s+\d+ size:\s+([\d.]+) x ([\d.]+) pts", info)]
    boxes = re.findall(rb"/MediaBox\s*\[\s*([\d.]+)\s+([\d.]+)\s+([\d.]+)\s+([\d.]+)\s*\]", pdf.read_bytes())
    return [(float(x1) - float(x0), float(y1) - float(y0)) for x0, y0, x1, y1 in boxes]


def test_report_prints_on_a4(nationwide_report: Path, tmp_path: Path) -> None:
    from kt_analysis.jobs.run import render_pdf

    pdf = tmp_path / "report.pdf"
    render_pdf(nationwide_report / "report.html", pdf)
    sizes = _pdf_page_sizes(pdf)
    assert len(sizes) >= 3
    for width, height in sizes:
        assert abs(width - A4_PT[0]) < 1.5 and abs(height - A4_PT[1]) < 1.5, (width, height)  # not Letter's 612 x 792


# Every element whose box ends right of the page, or whose content is wider than its box (in
# print nothing scrolls: it is cut off). Inside an inline SVG nothing scrolls either, and Chromium
# gives its shapes' clientWidth scaled by the viewBox but their scrollWidth not: only their right
# edge counts here (_CHART_OUT checks them against the chart's own box).
_TOO_WIDE = """() => {
  const limit = document.documentElement.clientWidth;
  const out = [];
  for (const el of document.body.querySelectorAll('*')) {
    const r = el.getBoundingClientRect();
    if (r.width === 0 && r.height === 0) continue;
    const inSvg = el instanceof SVGElement && el.ownerSVGElement !== null;
    const clipped = !inSvg && el.clientWidth > 0 && el.scrollWidth > el.clientWidth + 1;
    if (r.right > limit + 1 || clipped)
      out.push(`${el.tagName}.${el.getAttribute('class')} right=${Math.round(r.right)} scrollWidth=${el.scrollWidth}`
               + ` clientWidth=${el.clientWidth}: ${(el.textContent || '').trim().slice(0, 60)}`);
  }
  return {limit, out};
}"""


def _too_wide(browser, html: Path) -> tuple[int, list[str]]:
    page, problems = _open(browser, html)
    page.set_viewport_size({"width": PRINT_WIDTH, "height": 1100})
    page.emulate_media(media="print")
    found = page.evaluate(_TOO_WIDE)
    page.close()
    assert problems == []
    return found["limit"], found["out"]


def test_nothing_in_the_printed_report_is_wider_than_the_page(browser, nationwide_report: Path,
                                                               tmp_path: Path) -> None:
    html = nationwide_report / "report.html"
    text = html.read_text(encoding="utf-8")
    assert "<th>sha256</th>" in text  # the inputs table, with its 64-character hashes, is in the report
    limit, wide = _too_wide(browser, html)
    assert limit == PRINT_WIDTH and wide == [], "\n".join(wide[:20])
    # Negative control: the same report with the hashes and paths not allowed to wrap is caught.
    unwrapped = tmp_path / "report.html"
    unwrapped.write_text(text.replace("</head>", "<style>.kt-table td code { overflow-wrap: normal;"
                                      " word-break: normal; white-space: nowrap; }</style></head>", 1),
                         encoding="utf-8")
    _, wide = _too_wide(browser, unwrapped)
    assert any(w.startswith("CODE.") and re.search(r"[0-9a-f]{40}", w) for w in wide), wide


# ----- the overview chart and the failure reasons ----------------------------------------------

def test_the_chart_says_what_each_summary_says(browser, index_out: Path) -> None:
    """The chart is drawn, one row per incident in the table's order; its text alternative (what
    a screen reader reads: the chart's aria-label; each row's, and its tooltip) holds every
    summary's exact figures; the failed and the zero-line incident are words, not bars. An
    incident's name in the chart leads to its report, as in the table."""
    page, problems = _open(browser, index_out / "index.html")
    chart = page.locator("svg.chart")
    assert chart.is_visible() and chart.get_attribute("role") == "img"
    box = chart.bounding_box()
    assert box and box["width"] > 400 and box["height"] > 100
    names = page.eval_on_selector_all("svg.chart g.chart-row", "gs => gs.map(g => g.dataset.incident)")
    assert names == page.eval_on_selector_all("tbody tr", "rs => rs.map(r => r.dataset.incident)")
    assert set(names) == {"kt-2021-10-25-nationwide", BILLING, "zz-no-lines", FAILED}
    label = chart.get_attribute("aria-label")  # what a screen reader reads for the chart

    def said(incident: str) -> str:
        row = page.locator(f'svg.chart g.chart-row[data-incident="{incident}"]')
        assert row.get_attribute("aria-label").endswith(": " + row.locator("title").text_content())  # the tooltip
        return row.get_attribute("aria-label")

    for incident in ("kt-2021-10-25-nationwide", BILLING):
        s = json.loads((index_out / incident / "summary.json").read_text(encoding="utf-8"))
        money = (f"환불 {present.krw(s['total_refund_krw'])}" if s["kind"] == "billing_error"
                 else f"보상 {present.krw(s['total_credit_krw'])}")
        start = s["charged_on"] if s["kind"] == "billing_error" else s["outage_start"]
        end = s["settlement_completion_date"] if s["kind"] == "billing_error" else s["credit_timeline"][-1]["day"]
        days = (datetime.fromisoformat(end[:10]) - datetime.fromisoformat(start[:10])).days
        sentence = said(incident)
        assert sentence.startswith(f"{s['title']} ({incident}): {money}"), sentence
        assert f"영향 회선 {present.count(s['affected_lines'])}" in sentence and f"처리 완료까지 {days}일" in sentence
        assert sentence in label
        amount = s["total_refund_krw"] if s["kind"] == "billing_error" else s["total_credit_krw"]
        bar = page.locator(f'svg.chart g.chart-row[data-incident="{incident}"] rect.bar.money')
        assert bar.count() == 1 and int(bar.get_attribute("data-amount")) == amount
        assert bar.bounding_box()["width"] >= 1
    for incident, words in (("zz-no-lines", "영향 회선 없음"), (FAILED, "실행 실패 — 입력 오류")):
        row = page.locator(f'svg.chart g.chart-row[data-incident="{incident}"]')
        assert row.locator("rect.bar.money").count() == 0
        assert words in row.text_content() and words in said(incident)
    assert page.locator(f'svg.chart g.chart-row[data-incident="{FAILED}"] a').count() == 0  # it has no report
    page.locator('svg.chart g.chart-row[data-incident="kt-2021-10-25-nationwide"] text.name').click()
    page.wait_for_load_state("load")
    assert page.url.endswith("kt-2021-10-25-nationwide/report.html")
    assert problems == []
    page.close()


def test_a_failed_run_says_why_in_korean(browser, index_out: Path) -> None:
    page, problems = _open(browser, index_out / "index.html")
    row = page.locator(f'tr[data-incident="{FAILED}"]')
    assert row.get_attribute("data-reason") == "bad_input"
    text = row.inner_text()
    assert "실패" in text and "입력 오류 (종료 코드 2)" in text and "고친 뒤 다시 실행" in text
    original = row.locator("details.original")
    assert original.count() == 1 and not original.locator("code").is_visible()  # one click away
    assert "ends (2024-03-04 09:00)" not in text
    original.locator("summary").click()
    assert original.locator("code").is_visible() and original.locator("code").inner_text() == FAILED_MESSAGE
    assert problems == []
    page.close()


# Each element of the chart (and the chart itself) that ends right of the page or of the chart
# (SVG text past the chart's box is cut off, which _TOO_WIDE does not see), and words of one row
# drawn over each other or over a bar.
_CHART_OUT = """() => {
  const limit = document.documentElement.clientWidth;
  const svg = document.querySelector('svg.chart').getBoundingClientRect();
  const out = [];
  if (svg.right > limit + 1) out.push(`svg right=${Math.round(svg.right)} > ${limit}`);
  for (const el of document.querySelectorAll('svg.chart text, svg.chart rect, svg.chart line')) {
    const r = el.getBoundingClientRect();
    if (r.right > svg.right + 1 || r.left < svg.left - 1)
      out.push(`${el.tagName}.${el.getAttribute('class')} right=${Math.round(r.right)}: ${el.textContent}`);
  }
  for (const row of document.querySelectorAll('svg.chart g.chart-row')) {  // no word over another, or a bar
    const boxes = [...row.querySelectorAll('text, rect')].map(el => [el, el.getBoundingClientRect()]);
    for (const [i, [a, ra]] of boxes.entries())
      for (const [b, rb] of boxes.slice(i + 1))
        if ((a.tagName === 'text' || b.tagName === 'text') && ra.left < rb.right - 1 && rb.left < ra.right - 1
            && ra.top < rb.bottom - 1 && rb.top < ra.bottom - 1)
          out.push(`overlap in ${row.dataset.incident}: ${a.textContent || a.getAttribute('class')}`
                   + ` / ${b.textContent || b.getAttribute('class')}`);
  }
  const sizes = [...document.querySelectorAll('svg.chart text')].map(t => t.getBoundingClientRect().height);
  return {limit, width: svg.width, out, smallest: Math.min(...sizes)};
}"""


@pytest.fixture(scope="module")
def hangul_font(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """NanumGothic (shipped by koreanize-matplotlib, which the charts use) as a font Chromium
    accepts: without its empty VTT source tables (TSI*), which Chromium's font sanitizer refuses."""
    from fontTools.ttLib import TTFont

    (ttf,) = [p for p in present._bundled_font_files() if p.name == "NanumGothic.ttf"][:1]
    font = TTFont(ttf)
    for tag in [t for t in font.keys() if t.startswith("TSI")]:
        del font[tag]
    dest = tmp_path_factory.mktemp("font") / "NanumGothic.ttf"
    font.save(dest)
    return dest


def _with_hangul_font(html: Path, dest: Path, font: Path) -> Path:
    """A copy of ``html`` (for measuring only) that is sure to have a Hangul font, under the name
    the page asks for. Without one (a machine without fonts-noto-cjk) Chromium draws Hangul with
    no width at all, and any fit check passes."""
    face = f'@font-face {{ font-family: "NanumGothic"; font-weight: 100 900; src: url("{font.as_uri()}"); }}'
    text = html.read_text(encoding="utf-8").replace('"Noto Sans KR", ', "")  # NanumGothic is used first
    dest.write_text(text.replace("</head>", f"<style>{face}</style></head>", 1), encoding="utf-8")
    return dest


def _chart_fit(browser, html: Path, width: int, media: str) -> dict:
    page, problems = _open(browser, html)
    page.set_viewport_size({"width": width, "height": 1100})
    page.emulate_media(media=media)
    page.evaluate("document.fonts.ready.then(() => true)")
    found = page.evaluate(_CHART_OUT)
    heading = page.locator("svg.chart text.head").first.bounding_box()
    page.close()
    assert problems == []
    assert heading and heading["width"] > 3.5 * heading["height"], "no Hangul font: nothing to measure"
    return found


def test_the_chart_fits_the_screen_and_the_a4_page(browser, index_out: Path, tmp_path: Path,
                                                   hangul_font: Path) -> None:
    """On a laptop screen and on A4 paper the chart is inside the page, every word of it inside
    the chart and readable (text at least 8 CSS px high); printed, nothing on the index is wider
    than the page."""
    html = _with_hangul_font(index_out / "index.html", tmp_path / "index.html", hangul_font)
    for width, media in ((1200, "screen"), (PRINT_WIDTH, "print"), (420, "screen")):
        found = _chart_fit(browser, html, width, media)
        assert found["out"] == [], (width, found["out"])
        assert found["width"] <= found["limit"] and found["width"] > 0.8 * min(found["limit"], 900), (width, found)
        if width >= PRINT_WIDTH:
            assert found["smallest"] >= 8, (width, found)
    limit, wide = _too_wide(browser, html)
    assert limit == PRINT_WIDTH and wide == [], "\n".join(wide[:20])
    # Negative controls: a chart drawn wider than the page, and a label running out of the chart.
    text = html.read_text(encoding="utf-8")
    wider = tmp_path / "wider.html"
    wider.write_text(text.replace("</head>", "<style>figure.overview-chart svg.chart { width: 1100px;"
                                  " max-width: none; }</style></head>", 1), encoding="utf-8")
    assert any(o.startswith("svg right=") for o in _chart_fit(browser, wider, PRINT_WIDTH, "print")["out"])
    _, wide = _too_wide(browser, wider)
    assert wide
    spill = tmp_path / "spill.html"
    longer = ">처리 완료까지 걸린 날, 사고 시작부터 마지막 보상일까지</text>"
    spill.write_text(text.replace(">처리 완료까지</text>", longer, 1), encoding="utf-8")
    out = _chart_fit(browser, spill, PRINT_WIDTH, "print")["out"]
    assert any("처리 완료까지 걸린 날" in o for o in out), out
