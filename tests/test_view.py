"""The report's chapters are drawn from the typed summary alone, and ``open_view`` opens the
published run when it is current instead of computing the incident again."""

from __future__ import annotations

import dataclasses
import gc
import json
from pathlib import Path

import pytest
from conftest import make_roster
from test_analysis import new_project

from kt_analysis.inputs.incident import load_incident
from kt_analysis.jobs.analyse import analyse
from kt_analysis.jobs.explore import open_view
from kt_analysis.jobs.run import run_incident
from kt_analysis.report.present import use_report_style
from kt_analysis.summary.model import BillingSummary, OutageSummary

ROOT = Path(__file__).resolve().parents[1]
INCIDENTS = ROOT / "data" / "incidents"

OUTAGE_CHAPTERS = ["headline", "credit_table", "credit_histogram", "what_if_table", "what_if_chart",
                   "settlement_summary", "credit_timeline_chart", "appendix"]
BILLING_CHAPTERS = ["headline", "payment_table", "timeline_chart", "timeline_table", "cumulative_chart",
                    "exposure_chart", "notification_table", "masked_sample", "appendix"]


@pytest.mark.parametrize("name", ["kt-2021-10-25-nationwide", "kt-2023-09-billing-error"])
def test_every_chapter_renders_without_the_ledger(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                  name: str) -> None:
    """With ledger.parquet and the roster gone, every table and chart of the report still renders:
    the histogram, the money held per day and the masked recipients are in the summary."""
    monkeypatch.chdir(ROOT)
    use_report_style()
    out = tmp_path / "run"
    analyse(load_incident(INCIDENTS / f"{name}.yml"), out)
    view = open_view(INCIDENTS / f"{name}.yml", run_dir=out)
    (out / "ledger.parquet").unlink()
    view.incident = dataclasses.replace(view.incident, roster=tmp_path / "no-roster.parquet")
    chapters = BILLING_CHAPTERS if view.incident.kind == "billing_error" else OUTAGE_CHAPTERS
    for chapter in chapters:
        assert getattr(view, chapter)() is not None, chapter
    if isinstance(view.summary, OutageSummary):
        for by in ("service", "region", "customer_type", "payment_method"):
            assert "<table" in view.breakdown_table(by)
            view.breakdown_chart(by)
        assert "<svg" in _svg(view.credit_histogram())
    else:
        assert "*" in view.masked_sample()  # masked names and phones, shown


def _svg(fig) -> str:
    import io

    buffer = io.StringIO()
    fig.savefig(buffer, format="svg")
    return buffer.getvalue()


def test_the_histogram_counts_every_eligible_line_once(tmp_path: Path) -> None:
    """Twenty equal bands of whole won, adjacent, from 0, the largest credit in the last; their
    lines add up to the eligible lines."""
    summary = analyse(load_incident(INCIDENTS / "kt-2021-10-25-nationwide.yml"), tmp_path)
    assert isinstance(summary, OutageSummary)
    bins = summary.credit_histogram
    width = bins[0].to_krw - bins[0].from_krw + 1
    assert all(b.to_krw - b.from_krw + 1 == width and b.from_krw % width == 0 for b in bins)
    assert bins[0].from_krw == 0 and bins[-1].from_krw <= summary.credit_distribution.max_krw <= bins[-1].to_krw
    assert [b.from_krw for b in bins] == sorted({b.from_krw for b in bins})
    assert sum(b.lines for b in bins) == summary.eligible_lines
    assert -(-summary.credit_distribution.max_krw // width) <= 20


def test_the_billing_summary_keeps_the_money_held_and_a_masked_sample(tmp_path: Path) -> None:
    summary = analyse(load_incident(INCIDENTS / "kt-2023-09-billing-error.yml"), tmp_path)
    assert isinstance(summary, BillingSummary)
    assert max(d.held_krw for d in summary.exposure) == summary.peak_exposure_krw
    assert summary.recipients_sample and all("*" in r.name and "*" in r.phone for r in summary.recipients_sample)
    batches = {(n.day, n.payment_method) for n in summary.notifications if n.message != "recharge"}
    assert {(r.day, r.payment_method) for r in summary.recipients_sample} == batches


def test_open_view_opens_the_published_run_when_it_is_current(tmp_path: Path,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    _, incident = new_project(tmp_path, make_roster(400, seed=3))
    monkeypatch.chdir(tmp_path)
    published = tmp_path / "reports" / "test-analysis"
    run_incident(incident, out=tmp_path / "reports", report=False)

    view = open_view(incident)
    assert view.run_dir == published  # not computed again
    written = json.loads((published / "summary.json").read_text(encoding="utf-8"))
    assert view.figures() == {key: written[key] for key in view.figures()}

    # Another roster: the published run is not these inputs' answer; computed into a temporary folder
    other = tmp_path / "data" / "other.parquet"
    make_roster(300, seed=4).to_parquet(other, index=False)
    fresh = open_view(incident, roster=other)
    folder = fresh.run_dir
    assert folder != published and (folder / "summary.json").is_file()
    assert fresh.summary.roster_lines == 300 and view.summary.roster_lines == 400
    del fresh
    gc.collect()
    assert not folder.exists()  # removed with the view

    # A published summary this version cannot read is not used (written by an older version)
    data = json.loads((published / "summary.json").read_text(encoding="utf-8"))
    del data["credit_histogram"]
    (published / "summary.json").write_text(json.dumps(data), encoding="utf-8")
    again = open_view(incident)
    assert again.run_dir != published and again.summary.credit_histogram == view.summary.credit_histogram
