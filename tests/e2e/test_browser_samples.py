"""Every sample report in a real browser, as `make report` writes them (issue #15, "done means"):
each one's screenshot kept in test-artifacts/screenshots/ (what `make screenshot` puts in docs/),
A4 pages within a bound, no table cell whose text overflows it, every table with a 합계 row or a
stated reason for none, headline cards equal to summary.json, and every picture loaded."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import pytest

from .conftest import ROOT, kt
from .test_browser import ARTIFACTS, _open
from .test_browser_index import PRINT_WIDTH, _too_wide

pytestmark = pytest.mark.slow  # test_browser skips the module when there is no Chromium (imported above)

SAMPLES = ("kt-2018-11-24-ahyeon-fire", "kt-2021-10-25-nationwide", "kt-2023-09-billing-error",
           "kt-2024-08-10-landline")
# Printed A4 pages (Noto Sans CJK), at most: what the reports need now, with the restoration timeline,
# the tiles and the cost-by-restoration chart added (before: 11, 9, 6 and 10 pages, many half empty).
# A chapter that grows past this should be a decision, not an accident.
MAX_PAGES = {"kt-2018-11-24-ahyeon-fire": 10, "kt-2021-10-25-nationwide": 8, "kt-2023-09-billing-error": 5,
             "kt-2024-08-10-landline": 8}


def _tool():
    spec = importlib.util.spec_from_file_location("screenshots", ROOT / "tools" / "screenshots.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules["screenshots"] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def samples(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("samples") / "reports"
    result = kt("run-all", str(ROOT / "data" / "incidents"), "--out", str(out), "--jobs", "2")
    assert result.returncode == 0, result.stdout + result.stderr
    return out


def test_every_sample_report_is_pictured_and_prints_on_few_pages(browser, samples: Path) -> None:
    shots = _tool().shoot(samples, ARTIFACTS / "screenshots", browser=browser)
    names = [name for name, _, _ in shots]
    assert names == ["index", *SAMPLES]
    for name, png, pages in shots:
        assert png.stat().st_size > 30_000, png  # a page, not a blank
        if name != "index":
            assert 1 <= pages <= MAX_PAGES[name], f"{name}: {pages} A4 pages (at most {MAX_PAGES[name]})"


# Cells whose text is wider than the cell (cut off or spilling), and tables without a 합계 row
# that do not say why.
_TABLE_PROBLEMS = """() => {
  const out = [];
  for (const cell of document.querySelectorAll('.kt-table th, .kt-table td')) {
    if (cell.scrollWidth > cell.clientWidth + 1)
      out.push(`overflow: ${cell.textContent.trim().slice(0, 40)} (${cell.scrollWidth} > ${cell.clientWidth})`);
  }
  for (const t of document.querySelectorAll('table.kt-table')) {
    const total = t.querySelector('tfoot tr.kt-total');
    if (!total && !t.dataset.noTotal) out.push(`no total: ${(t.caption || {}).textContent || t.rows[0].textContent}`);
    if (total && total.querySelector('th').textContent.trim() !== '합계') out.push('total row not 합계');
  }
  return out;
}"""


@pytest.mark.parametrize("name", SAMPLES)
def test_sample_report_tables_cards_and_pictures(browser, samples: Path, name: str) -> None:
    summary = json.loads((samples / name / "summary.json").read_text(encoding="utf-8"))
    page, problems = _open(browser, samples / name / "report.html")
    assert page.locator("table.kt-table").count() >= 3
    assert page.evaluate(_TABLE_PROBLEMS) == []
    for card in page.locator(".kt-card[data-key]").all():
        key = card.get_attribute("data-key")
        exact = card.locator(".kt-card-small").first.inner_text()
        assert f"{summary[key]:,}" in exact, (key, exact, summary[key])
    images = page.eval_on_selector_all("img", "els => els.map(e => [e.complete, e.naturalWidth])")
    assert images and all(done and width > 0 for done, width in images)
    assert problems == []
    page.close()
    limit, wide = _too_wide(browser, samples / name / "report.html")  # printed on A4: nothing cut off
    assert limit == PRINT_WIDTH and wide == [], "\n".join(wide[:20])


def test_the_table_check_catches_a_missing_total(browser, samples: Path, tmp_path: Path) -> None:
    """Negative control: a report with one 합계 row removed, and one cell forced too narrow, is caught."""
    html = (samples / SAMPLES[1] / "report.html").read_text(encoding="utf-8")
    start = html.index("<tfoot>")
    broken = html[:start] + html[html.index("</tfoot>", start) + len("</tfoot>"):]
    broken = broken.replace("</head>", "<style>.kt-table td.kt-num { max-width: 8px; overflow: hidden;"
                                       " white-space: nowrap; }</style></head>", 1)
    copy = tmp_path / "report.html"
    copy.write_text(broken, encoding="utf-8")
    page, _ = _open(browser, copy)
    found = page.evaluate(_TABLE_PROBLEMS)
    page.close()
    assert any(f.startswith("no total: ") for f in found), found
    assert any(f.startswith("overflow: ") for f in found), found
