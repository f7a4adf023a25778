"""Exploring an incident lazily (#16 part 1): view.lines(where=…, columns=…) is a DuckDB relation over
the ledger joined to the roster, filters are checked against the data, view.by() breaks down by any
roster column or pair, and none of it can show personal data."""

from __future__ import annotations

import os
import unicodedata
from pathlib import Path

import duckdb
import pytest

from kt_analysis.inputs.incident import load_incident
from kt_analysis.jobs.analyse import analyse
from kt_analysis.jobs.explore import open_view
from kt_analysis.report.lines import ExploreError
from kt_analysis.report.present import CUSTOMER_TYPE_KO, SERVICE_KO

ROOT = Path(__file__).resolve().parents[1]
AHYEON = ROOT / "data" / "incidents" / "kt-2018-11-24-ahyeon-fire.yml"


@pytest.fixture(scope="module")
def view(tmp_path_factory: pytest.TempPathFactory):
    out = tmp_path_factory.mktemp("ahyeon")
    here = Path.cwd()
    os.chdir(ROOT)
    try:
        analyse(load_incident(AHYEON), out)
        return open_view(AHYEON, run_dir=out)
    finally:
        os.chdir(here)


def test_lines_is_a_lazy_relation_without_personal_data(view) -> None:
    rel = view.lines()
    assert isinstance(rel, duckdb.DuckDBPyRelation)
    assert {"service", "region", "facility_id", "plan", "credit_krw", "eligible"} <= set(rel.columns)
    assert not {"name", "phone"} & set(rel.columns)  # the sample roster has both: never joined
    with pytest.raises(ExploreError, match="'phone' is not a roster column"):
        view.lines(("phone",))
    assert rel.aggregate("count(*)").fetchall()[0][0] == view.outage.affected_lines


@pytest.mark.parametrize(("by", "labels"), [("service", SERVICE_KO), ("region", {}),
                                            ("customer_type", CUSTOMER_TYPE_KO)])
def test_a_breakdown_by_one_column_is_the_summarys(view, by: str, labels: dict) -> None:
    frame = view.by(by)
    summary = view.outage.breakdown(by)
    assert len(frame) == len(summary)
    for code, b in summary.items():
        row = frame.loc[labels.get(code, code)]
        assert (row["영향 회선"], row["영향 고객"], row["보상 대상 회선"], row["보상액(원)"]) == (
            b.affected_lines, b.affected_customers, b.eligible_lines, b.total_credit_krw)
    assert list(frame["영향 회선"]) == sorted(frame["영향 회선"], reverse=True)


def test_a_pair_breakdown_adds_up_to_each_single_one(view) -> None:
    pair = view.by("region", "facility_id")
    assert pair.index.names == ["지역", "국사"]
    single = view.by("region")
    summed = pair.groupby(level="지역")[["영향 회선", "보상 대상 회선", "보상액(원)"]].sum()
    for region, row in single.iterrows():
        assert tuple(summed.loc[region]) == (row["영향 회선"], row["보상 대상 회선"], row["보상액(원)"])
    with pytest.raises(ExploreError, match="one column or a pair"):
        view.by("region", "service", "plan")


def test_a_filter_names_values_the_lines_have(view) -> None:
    seoul_mobile = view.lines(where={"region": "서울", "service": "mobile"})
    count, credit = seoul_mobile.aggregate("count(*), CAST(sum(credit_krw) AS BIGINT)").fetchall()[0]
    frame = view.by("region", "service")
    assert (count, credit) == tuple(frame.loc[("서울", SERVICE_KO["mobile"]), ["영향 회선", "보상액(원)"]])
    # Another Unicode form of the same name selects the same lines.
    nfd = view.lines(where={"region": unicodedata.normalize("NFD", "서울"), "service": ["mobile"]})
    assert nfd.aggregate("count(*)").fetchall()[0][0] == count
    by_sql = view.lines(where="region = '서울' AND service = 'mobile'")
    assert by_sql.aggregate("count(*)").fetchall()[0][0] == count


@pytest.mark.parametrize(("where", "message"), [
    ({"region": "서을"}, "'서을' is not a value of these lines; did you mean `서울`"),
    ({"regin": "서울"}, "'regin' is not a column of these lines; did you mean `region`"),
    ({"service": []}, "an empty list matches no line"),
    ("credit > 1", "Referenced column \"credit\" not found"),
])
def test_a_filter_that_matches_nothing_it_names_is_refused(view, where, message: str) -> None:
    """A typo must not give an empty (or whole) selection that looks like an answer."""
    with pytest.raises(ExploreError, match=message.replace("(", r"\(")):
        view.lines(where=where)


def test_reach_lists_each_window(view) -> None:
    frame = view.reach()
    assert len(frame) == len(view.incident.windows)
    assert list(frame["닿은 회선"]) == [r.lines for r in view.outage.reach]
