"""Screenshots of every report in a reports folder, and of its index, in headless Chromium.

    python tools/screenshots.py REPORTS_DIR OUT_DIR [--width 1200] [--readme docs/report.png]

Writes OUT_DIR/index.png and OUT_DIR/<incident id>.png (the whole page, as a reader scrolls it),
and prints each picture's size and the page count of the report printed to A4 (Chromium's PDF).
``--readme PNG`` also writes the top of the nationwide report (its headline and first chapter), the
README's picture.
`make screenshot` runs the sample incidents into a scratch folder and refreshes docs/screenshots/;
the browser test (tests/e2e/test_browser.py) writes the same pictures to test-artifacts/.
Needs the [dev] extra (Playwright) and Chromium (apt-get install chromium).
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path


def chromium() -> str:
    from kt_analysis.jobs.run import chromium_path

    found = chromium_path()
    if found is None:
        raise SystemExit("Chromium is not installed: apt-get install chromium")
    return found


def pdf_pages(pdf: bytes) -> int:
    """Pages of a PDF that Chromium printed: its pages' MediaBoxes (Chromium writes one per page)."""
    return len(re.findall(rb"/MediaBox\s*\[", pdf))


README_REPORT = "kt-2021-10-25-nationwide"


def compact(png: Path) -> None:
    """Rewrite a screenshot with a 256-colour palette (a third of the size; reports are text, flat
    colours and charts, which it keeps sharp): the pictures in docs/ stay small in git."""
    from PIL import Image

    with Image.open(png) as im:
        small = im.convert("RGB").quantize(colors=256, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE)
    small.save(png, optimize=True)


def shoot(reports: Path, out: Path, *, width: int = 1200, browser=None,
          readme: Path | None = None) -> list[tuple[str, Path, int]]:
    """Screenshot ``reports``' index and every ``*/report.html`` into ``out``: (name, png, A4 pages)
    per page (pages 0 for the index). Uses ``browser`` (a Playwright Chromium) when given."""
    from playwright.sync_api import sync_playwright

    from kt_analysis.jobs.run import CHROMIUM_FLAGS

    reports, out = reports.resolve(), out.resolve()
    out.mkdir(parents=True, exist_ok=True)
    pages = [("index", reports / "index.html")] if (reports / "index.html").exists() else []
    pages += [(p.parent.name, p) for p in sorted(reports.glob("*/report.html"))]
    shots = []

    def take(b) -> None:
        for name, html in pages:
            page = b.new_page(viewport={"width": width, "height": 900})
            try:
                page.goto(html.as_uri())
                page.wait_for_load_state("load")
                png = out / f"{name}.png"
                page.screenshot(path=str(png), full_page=True)
                compact(png)
                if readme is not None and name == README_REPORT:
                    page.screenshot(path=str(readme), clip={"x": 0, "y": 0, "width": width, "height": 1400})
                    compact(readme)
                count = 0
                if name != "index":
                    page.emulate_media(media="print")
                    count = pdf_pages(page.pdf(format="A4", print_background=True,
                                               prefer_css_page_size=True))
                shots.append((name, png, count))
            finally:
                page.close()

    if browser is not None:
        take(browser)
    else:
        with sync_playwright() as p:
            b = p.chromium.launch(executable_path=chromium(), args=list(CHROMIUM_FLAGS))
            try:
                take(b)
            finally:
                b.close()
    return shots


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("reports", type=Path)
    ap.add_argument("out", type=Path)
    ap.add_argument("--width", type=int, default=1200)
    ap.add_argument("--readme", type=Path, help="also write the top of the nationwide report here")
    args = ap.parse_args(argv)
    if not (args.reports / "index.html").exists():
        print(f"{args.reports}: no index.html — run `kt-analysis run-all data/incidents --out {args.reports}` first",
              file=sys.stderr)
        return 2
    readme = args.readme.resolve() if args.readme else None
    for _name, png, count in shoot(args.reports, args.out, width=args.width, readme=readme):
        pages = f", {count} A4 pages printed" if count else ""
        print(f"{png}: {png.stat().st_size // 1024} KiB{pages}")
    if readme is not None:
        print(f"{readme}: {readme.stat().st_size // 1024} KiB (the README's picture)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
