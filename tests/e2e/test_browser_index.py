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
# print nothing scrolls: it is cut off).
_TOO_WIDE = """() => {
  const limit = document.documentElement.clientWidth;
  const out = [];
  for (const el of document.body.querySelectorAll('*')) {
    const r = el.getBoundingClientRect();
    if (r.width === 0 && r.height === 0) continue;
    const clipped = el.clientWidth > 0 && el.scrollWidth > el.clientWidth + 1;
    if (r.right > limit + 1 || clipped)
      out.push(`${el.tagName}.${el.className} right=${Math.round(r.right)} scrollWidth=${el.scrollWidth}`
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
