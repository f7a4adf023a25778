"""Hostile text: an incident title and region names holding markup reach the report and the index
as text, never as markup, and paths with quotes and newlines reach the notebooks as data.

The incident is run through the real CLI (full report), the index is written, and both pages are
opened in Chromium (Debian's, driven by Playwright as in test_browser.py).
"""

from __future__ import annotations

import ast
import csv
import json
import os
import shutil
from pathlib import Path

import nbformat
import pytest
import yaml

from .conftest import CHROMIUM, ROOT, kt

if CHROMIUM is None and not os.environ.get("CI"):
    pytest.skip("Chromium is not installed (apt-get install chromium); CI installs it",
                allow_module_level=True)

pytestmark = pytest.mark.slow

SCRIPT = "<script>alert(1)</script>"
IMG = "<img src=x onerror=alert(1)>"
BREAK = '"><b>'
HOSTILE = (SCRIPT, IMG, BREAK)
REGIONS = (SCRIPT, IMG, BREAK + "서울")
TITLE = f"{SCRIPT} {IMG} {BREAK} 장애 it's \"quoted\" \\n\n둘째 줄"
# The project folder's name reaches papermill as a parameter (the incident's path).
PROJECT_NAME = "it's \"odd\" <b>\nproject"
POLICY = ROOT / "tests" / "data" / "bad" / "data" / "policies" / "bad-corpus-10x.yml"


@pytest.fixture(scope="module")
def hostile(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The hostile incident run with its report, and the index written: the output folder."""
    from kt_analysis.report.index import write_index

    base = tmp_path_factory.mktemp("hostile")
    project = base / PROJECT_NAME
    (project / "data" / "policies").mkdir(parents=True)
    shutil.copy(POLICY, project / "data" / "policies")
    with open(project / "roster.csv", "w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["line_id", "customer_id", "service", "monthly_fee_krw", "region", "facility_id",
                         "customer_type", "payment_method", "bill_cycle_day"])
        for i, region in enumerate(REGIONS, start=1):
            writer.writerow([i, 100 + i, "mobile", 72_000, region, f"F{i}", "individual", "credit_card", 11])
    incident = {
        "id": "hostile-text", "title": TITLE, "kind": "outage", "timezone": "Asia/Seoul",
        "policy": "bad-corpus-10x", "roster": "roster.csv", "notes": f"메모 {SCRIPT}",
        "affected": {"windows": [{"start": "2024-03-04T10:00", "end": "2024-03-04T12:00",
                                  "where": {"regions": list(REGIONS)}}]},
    }
    path = project / "incident.yml"
    path.write_text(yaml.safe_dump(incident, allow_unicode=True, sort_keys=False), encoding="utf-8")
    out = base / "reports"
    result = kt("run", path, "--out", out, cwd=project)
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    write_index(out)
    return out


def test_the_text_arrives_intact(hostile: Path) -> None:
    summary = json.loads((hostile / "hostile-text" / "summary.json").read_text(encoding="utf-8"))
    assert summary["title"] == TITLE
    assert set(summary["by_region"]) == set(REGIONS)
    assert summary["total_credit_krw"] == 3 * 2_000  # three 72,000 won lines, two hours, 10x


@pytest.mark.parametrize("page", ["hostile-text/report.html", "index.html"])
def test_no_markup_in_the_html(hostile: Path, page: str) -> None:
    html = (hostile / page).read_text(encoding="utf-8")
    for text in HOSTILE:
        assert text not in html, f"{text!r} is in {page} unescaped"
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "&lt;img src=x onerror=alert(1)&gt;" in html


def test_papermill_parameters_are_passed_as_data(hostile: Path) -> None:
    """The incident's path, with quotes, markup and a newline, is the notebook's `incident` value."""
    executed = sorted((hostile / "hostile-text" / "notebooks").glob("*.ipynb"))
    assert executed
    for path in executed:
        nb = nbformat.read(path, as_version=4)
        cell = next(c for c in nb.cells if "injected-parameters" in c.metadata.get("tags", []))
        tree = ast.parse(cell.source)  # the cell papermill wrote: assignments of literals, nothing else
        assert all(isinstance(node, ast.Assign) for node in tree.body)
        values = {node.targets[0].id: ast.literal_eval(node.value) for node in tree.body}
        assert isinstance(values["incident"], str)
        assert Path(values["incident"]).parent.name == PROJECT_NAME
        assert Path(values["incident"]).read_text(encoding="utf-8").startswith("id: hostile-text")


@pytest.mark.parametrize("name", ["hostile-text/report.html", "index.html"])
def test_the_browser_shows_text_and_runs_nothing(browser, hostile: Path, name: str) -> None:
    page = browser.new_page(viewport={"width": 1200, "height": 900})
    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    page.goto((hostile / name).as_uri())
    page.wait_for_load_state("load")
    page.wait_for_timeout(500)  # an onerror handler fires after the image fails to load
    assert dialogs == []
    assert page.evaluate("document.querySelectorAll('script').length") == 0
    assert page.evaluate("document.querySelectorAll('img[src=\"x\"], [onerror]').length") == 0
    text = page.inner_text("body")
    for literal in HOSTILE:
        assert literal in text, f"{literal!r} is not shown as text in {name}"
    if name.endswith("report.html"):
        assert SCRIPT in page.title()
        regions = page.locator("table.kt-table", has_text="지역별 영향").inner_text()
        for region in REGIONS:
            assert region in regions
        assert page.locator("h1").first.inner_text().startswith(f"{SCRIPT} {IMG} {BREAK} 장애 it's \"quoted\"")
    page.close()
