"""``reports/index.html``: every incident in the output folder, its last run and headline figures."""

from __future__ import annotations

import json
import os
from pathlib import Path

import jinja2

from . import present

_ENV = jinja2.Environment(
    loader=jinja2.PackageLoader("kt_analysis", "templates"),
    autoescape=jinja2.select_autoescape(default=True, default_for_string=True),
)


def collect(out: Path) -> list[dict]:
    rows = []
    for folder in sorted(p for p in out.iterdir() if p.is_dir() and not p.name.startswith(".")):
        summary_path, run_path = folder / "summary.json", folder / "run.json"
        failed = (folder / "failed" / "error.txt")
        row = {"id": folder.name, "title": folder.name, "status": "ok", "report": None,
               "failed_notebook": None, "error": None, "finished_at": "", "affected": "",
               "credit": ""}
        if summary_path.exists():
            s = json.loads(summary_path.read_text(encoding="utf-8"))
            row.update(title=s.get("title", folder.name),
                       affected=present.count(int(s["affected_lines"])),
                       credit=present.krw(int(s["total_credit_krw"])))
        if run_path.exists():
            row["finished_at"] = json.loads(run_path.read_text(encoding="utf-8")).get("finished_at", "")
        if (folder / "report.html").exists():
            row["report"] = f"{folder.name}/report.html"
        if failed.exists() and (not run_path.exists() or failed.stat().st_mtime >= run_path.stat().st_mtime):
            row["status"] = "failed"
            row["error"] = failed.read_text(encoding="utf-8").strip().splitlines()[0][:300]
            nbs = sorted((folder / "failed" / "notebooks").glob("*.ipynb"))
            if nbs:
                row["failed_notebook"] = str(nbs[-1].relative_to(out))
        rows.append(row)
    return rows


def write_index(out: Path) -> Path:
    out.mkdir(parents=True, exist_ok=True)
    html = _ENV.get_template("index.html.j2").render(rows=collect(out))
    dest = out / "index.html"
    tmp = dest.with_name("index.html.partial")
    tmp.write_text(html, encoding="utf-8")
    os.replace(tmp, dest)
    return dest
