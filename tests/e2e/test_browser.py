"""The report and the index in a real browser (Debian's Chromium, driven by Playwright)."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest

from kt_analysis.report import present

from .conftest import CHROMIUM, ROOT

ARTIFACTS = ROOT / "test-artifacts"

if CHROMIUM is None and not os.environ.get("CI"):
    pytest.skip("Chromium is not installed (apt-get install chromium); CI installs it",
                allow_module_level=True)

pytestmark = pytest.mark.slow


# What an offline report may load: its own file (and files next to it), inline data, blank pages.
LOCAL_SCHEMES = ("file:", "data:", "about:")


def _block_network(page, problems: list[str]) -> None:
    """Every request the page makes whose URL is not local is aborted and recorded, whether or not
    this machine has a network: a CDN fetch that would succeed online fails the test here too."""
    def handler(route) -> None:
        url = route.request.url
        if url.startswith(LOCAL_SCHEMES):
            route.continue_()
        else:
            problems.append(f"network request blocked: {url}")
            route.abort()

    page.route("**/*", handler)


def _open(browser, path: Path):
    page = browser.new_page(viewport={"width": 1200, "height": 900})
    problems: list[str] = []
    _block_network(page, problems)
    page.on("console", lambda m: problems.append(f"{m.type}: {m.text}") if m.type == "error" else None)
    page.on("pageerror", lambda e: problems.append(f"pageerror: {e}"))
    page.on("requestfailed", lambda r: problems.append(f"request failed: {r.url}"))
    page.goto(path.as_uri())
    page.wait_for_load_state("load")
    return page, problems


def test_the_offline_check_catches_a_remote_fetch(browser, nationwide_report: Path, tmp_path: Path) -> None:
    """Negative control: the same report with a remote image, stylesheet and script injected is
    caught by ``_open``'s checker (each remote URL is blocked and recorded), so the offline
    assertions of the tests below are not vacuous."""
    page_html = (nationwide_report / "report.html").read_text(encoding="utf-8")
    remote = ["https://example.com/x.png", "https://cdn.example.com/x.css", "http://cdn.example.com/x.js"]
    injected = (f'<img src="{remote[0]}"><link rel="stylesheet" href="{remote[1]}">'
                f'<script src="{remote[2]}"></script>')
    copy = tmp_path / "report.html"
    copy.write_text(re.sub(r"(<body\b[^>]*>)", lambda m: m.group(1) + injected, page_html, count=1),
                    encoding="utf-8")
    assert all(url in copy.read_text(encoding="utf-8") for url in remote)
    page, problems = _open(browser, copy)
    blocked = [p for p in problems if p.startswith("network request blocked: ")]
    assert {p.split(": ", 1)[1] for p in blocked} == set(remote), problems
    page.close()
    # The untouched report makes no such request (what the other tests assert, seen here directly).
    page, problems = _open(browser, nationwide_report / "report.html")
    assert not [p for p in problems if p.startswith("network request blocked: ")], problems
    page.close()


def test_report_loads_with_its_figures_and_images(browser, nationwide_report: Path) -> None:
    summary = json.loads((nationwide_report / "summary.json").read_text(encoding="utf-8"))
    page, problems = _open(browser, nationwide_report / "report.html")
    assert page.title() == summary["title"]
    cards = page.locator(".kt-card").all_inner_texts()
    text = "\n".join(cards)
    assert present.krw(summary["total_credit_krw"]) in text
    assert present.count(summary["affected_lines"]) in text
    assert present.count(summary["eligible_lines"]) in text
    images = page.eval_on_selector_all("img", "els => els.map(e => [e.complete, e.naturalWidth])")
    assert len(images) >= 4  # the 시도 tiles, the credit bands, the cost by restoration time, the credit days
    assert all(done and width > 0 for done, width in images)
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "report.png"), full_page=True)
    assert (ARTIFACTS / "report.png").stat().st_size > 10_000
    assert problems == []


def test_report_prints_to_pdf(nationwide_report: Path, tmp_path: Path) -> None:
    from kt_analysis.jobs.run import render_pdf

    pdf = tmp_path / "report.pdf"
    render_pdf(nationwide_report / "report.html", pdf)
    data = pdf.read_bytes()
    assert data.startswith(b"%PDF-") and len(data) > 50_000
    assert data.count(b"/Type /Page") + data.count(b"/Type/Page") >= 3  # several pages of charts and tables


def test_index_lists_the_incident(browser, nationwide_report: Path) -> None:
    summary = json.loads((nationwide_report / "summary.json").read_text(encoding="utf-8"))
    page, problems = _open(browser, nationwide_report.parent / "index.html")
    row = page.locator('tr[data-incident="kt-2021-10-25-nationwide"]')
    assert row.count() == 1
    text = row.inner_text()
    assert row.get_attribute("data-status") == "ok" and "정상" in text
    assert present.krw(summary["total_credit_krw"]) in text
    page.click("text=" + summary["title"])
    page.wait_for_load_state("load")
    assert page.url.endswith("kt-2021-10-25-nationwide/report.html")
    assert problems == []
