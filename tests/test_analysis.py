"""The per-line pass: ledger.parquet and summary.json reconcile, to the won, with an independent
reference; results do not depend on row order, on splitting the roster, or on the run."""

from __future__ import annotations

import calendar
import json
import re
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from conftest import Project, make_roster, reference_credit, write_parquet
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kt_analysis.engine.duckdb_engine import LEDGER_COLUMNS, ROSTER_ATTRIBUTES
from kt_analysis.errors import InputError
from kt_analysis.inputs.incident import load_incident
from kt_analysis.jobs.analyse import analyse

ROOT = Path(__file__).resolve().parents[1]

INCIDENT = """
id: test-analysis
title: 시험 장애
kind: outage
timezone: Asia/Seoul
policy: kt-terms-2022
roster: data/roster.parquet
affected:
  windows:
    - {start: 2024-08-10T06:15, end: 2024-08-10T16:20, where: {regions: [서울]}}
    - start: 2024-08-10T15:00
      end: 2024-08-10T18:00
      services: [mobile, internet]
      where: {facilities: [F-01, F-02]}
    - {start: 2024-08-31T23:00, end: 2024-09-01T01:30, where: {regions: [부산]}}
    - {start: 2024-08-10T10:00, end: 2024-08-10T11:30, where: {regions: [대전]}}
    - {start: 2024-08-12T10:00, end: 2024-08-12T11:20, where: {regions: [대전]}}
"""
# (start, end, services, regions, facilities) — the same windows, for the brute-force reference
WINDOWS = [
    ("2024-08-10T06:15", "2024-08-10T16:20", None, {"서울"}, None),
    ("2024-08-10T15:00", "2024-08-10T18:00", {"mobile", "internet"}, None, {"F-01", "F-02"}),
    ("2024-08-31T23:00", "2024-09-01T01:30", None, {"부산"}, None),
    ("2024-08-10T10:00", "2024-08-10T11:30", None, {"대전"}, None),
    ("2024-08-12T10:00", "2024-08-12T11:20", None, {"대전"}, None),
]
SUMMED = ("affected_lines", "eligible_lines", "total_credit_krw")
HYP = settings(
    max_examples=3,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)


def new_project(root: Path, frame: pd.DataFrame, **kw) -> tuple[Project, Path]:
    proj = Project(root)
    proj.copy_policies()
    proj.roster(frame, **kw)
    return proj, proj.incident("test-analysis", INCIDENT)


def run(incident_path: Path, out: Path, roster: Path | None = None) -> dict:
    return analyse(load_incident(incident_path, roster=roster), out).to_dict()


def ledger(out: Path) -> pd.DataFrame:
    return pq.read_table(out / "ledger.parquet").to_pandas()


def ledger_with_roster(out: Path, frame: pd.DataFrame) -> pd.DataFrame:
    """The ledger's lines with the roster's attributes beside them (joined here, in pandas)."""
    return ledger(out).merge(frame[["line_id", *ROSTER_ATTRIBUTES]], on="line_id", how="left", validate="1:1")


def by_line(frame: pd.DataFrame) -> pd.DataFrame:
    """The ledger follows the roster's row order; compare line by line."""
    return frame.sort_values("line_id").reset_index(drop=True)


def comparable(summary: dict) -> dict:
    return {k: v for k, v in summary.items() if k != "inputs"}


@pytest.fixture(scope="module")
def base(tmp_path_factory):
    root = tmp_path_factory.mktemp("analysis")
    frame = make_roster(2000, seed=11)
    _, incident = new_project(root, frame)
    out = root / "out"
    summary = run(incident, out)
    return {"root": root, "frame": frame, "incident": incident, "out": out, "summary": summary}


def test_ledger_sum_equals_summary_and_own_what_if(base):
    s, led = base["summary"], ledger(base["out"])
    assert json.loads((base["out"] / "summary.json").read_text(encoding="utf-8")) == s
    assert int(led["credit_krw"].sum()) == s["total_credit_krw"] > 0
    own = [r for r in s["what_if"] if r["policy_id"] == "kt-terms-2022"]
    assert own == [
        {
            "policy_id": "kt-terms-2022",
            "title": "KT 이용약관 (2022년 7월 개정) — 2시간 이상 장애, 장애시간 요금의 10배",
            "eligible_lines": s["eligible_lines"],
            "total_credit_krw": s["total_credit_krw"],
        }
    ]
    assert s["what_if"][0]["policy_id"] == "kt-terms-2022"
    # the catalogue's nine policies: the three specials and LG U+'s terms compute on bills this
    # project has no items of, so they are listed as skipped with the reason, not compared on a
    # made-up fee
    assert len(s["what_if"]) == 5
    assert sorted(r["policy_id"] for r in s["what_if_skipped"]) == [
        "kt-2018-ahyeon-special", "kt-2021-10-25-special", "kt-2024-08-10-landline-special", "lgu-terms-2023"]
    assert s["affected_lines"] == len(led) and s["eligible_lines"] == int(led["eligible"].sum())
    assert s["affected_customers"] == led["customer_id"].nunique()
    assert 0 < s["eligible_lines"] < s["affected_lines"]  # 대전 lines are below the threshold
    for key in (
        "incident_id",
        "kind",
        "policy_id",
        "total_refund_krw",
        "refund_completion_date",
        "by_service",
        "by_region",
        "by_customer_type",
        "by_payment_method",
        "inputs",
    ):
        assert key in s
    assert s["roster_lines"] == 2000


def test_ledger_schema_is_typed_and_free_of_personal_data(base):
    schema = pq.read_schema(base["out"] / "ledger.parquet")
    assert schema.names == list(LEDGER_COLUMNS)
    assert schema.field("credit_krw").type == pa.int64()
    assert schema.field("outage_minutes").type == pa.int32()  # minutes and days: 32-bit; money: int64
    assert not set(ROSTER_ATTRIBUTES) & set(schema.names)  # joined on demand, not copied
    assert schema.field("eligible").type == pa.bool_()
    assert "name" in base["frame"].columns and "phone" in base["frame"].columns
    assert not {"name", "phone", "plan"} & set(schema.names)
    text = (base["out"] / "summary.json").read_text(encoding="utf-8")
    # the roster's names are 고객<customer id> (conftest.make_roster); "장기 고객 할인" is an item's label
    assert not re.search(r"고객\d", text) and "010-" not in text


def test_breakdowns_sum_to_the_totals(base):
    s = base["summary"]
    for by in ("service", "region", "customer_type", "payment_method"):
        groups = s[f"by_{by}"]
        for key in SUMMED:
            assert sum(g[key] for g in groups.values()) == s[key], (by, key)
    # Customers keep one region, type and payment method, so those breakdowns add up too.
    for by in ("region", "customer_type", "payment_method"):
        assert (
            sum(g["affected_customers"] for g in s[f"by_{by}"].values()) == s["affected_customers"]
        )
    frame = base["frame"]
    jeju = frame[
        (frame.region == "제주")
        & frame.facility_id.isin(["F-01", "F-02"])
        & frame.service.isin(["mobile", "internet"])
    ]
    assert s["by_region"]["제주"]["affected_lines"] == len(jeju) > 0  # reached by facility only
    assert set(s["by_region"]) == {"서울", "부산", "대전", "제주"}


def reach(line) -> list[tuple[datetime, datetime]]:
    out = []
    for start, end, services, regions, facilities in WINDOWS:
        if services and line.service not in services:
            continue
        if regions and line.region not in regions:
            continue
        if facilities and line.facility_id not in facilities:
            continue
        out.append((datetime.fromisoformat(start), datetime.fromisoformat(end)))
    return out


def brute_force(intervals) -> dict:
    minute = timedelta(minutes=1)
    t0 = datetime(2024, 1, 1)
    minutes = sorted(
        {m for s, e in intervals for m in range((s - t0) // minute, (e - t0) // minute)}
    )
    longest = run_len = 1
    for a, b in zip(minutes, minutes[1:], strict=False):
        run_len = run_len + 1 if b == a + 1 else 1
        longest = max(longest, run_len)
    months: dict[int, int] = {}
    for m in minutes:
        month = (t0 + m * minute).month
        months[month] = months.get(month, 0) + 1
    first = t0 + minutes[0] * minute
    return {
        "outage_minutes": len(minutes),
        "longest_continuous_minutes": longest,
        "monthly_cumulative_minutes": max(months.values()),
        "outage_days": -(-len(minutes) // 1440),
        "outage_start": first,
        "days_in_month": calendar.monthrange(first.year, first.month)[1],
    }


def test_every_line_matches_the_brute_force_reference(base):
    led = ledger(base["out"]).set_index("line_id")
    incident = load_incident(base["incident"])
    expected_ids = []
    for line in base["frame"].itertuples(index=False):
        intervals = reach(line)
        if not intervals:
            continue
        expected_ids.append(line.line_id)
        row = led.loc[line.line_id]
        exp = brute_force(intervals)
        for key in (
            "outage_minutes",
            "longest_continuous_minutes",
            "monthly_cumulative_minutes",
            "outage_days",
        ):
            assert row[key] == exp[key], (line.line_id, key)
        assert row["outage_start"] == exp["outage_start"]
        figures = {
            **row.to_dict(),
            **exp,
            "service": line.service,
            "region": line.region,
            "customer_type": line.customer_type,
            "monthly_fee_krw": line.monthly_fee_krw,
        }
        eligible, reason, rule, credit = reference_credit(incident.policy, figures)
        assert (row["eligible"], row["eligibility_reason"], row["rule"], row["credit_krw"]) == (
            eligible,
            reason,
            rule,
            credit,
        ), line.line_id
    assert sorted(expected_ids) == sorted(led.index)


def test_what_if_totals_match_the_reference_for_every_policy(base):
    from kt_analysis.inputs.incident import catalogue_policies

    led = ledger_with_roster(base["out"], base["frame"])
    incident = load_incident(base["incident"])
    figures = [
        {
            **r,
            "days_in_month": calendar.monthrange(r["outage_start"].year, r["outage_start"].month)[
                1
            ],
        }
        for r in led.to_dict("records")
    ]
    by_id = {p.id: p for p in catalogue_policies(incident)}
    for row in base["summary"]["what_if"]:
        refs = [reference_credit(by_id[row["policy_id"]], f) for f in figures]
        assert row["total_credit_krw"] == sum(r[3] for r in refs), row["policy_id"]
        assert row["eligible_lines"] == sum(r[0] for r in refs), row["policy_id"]


def test_two_runs_are_byte_identical(tmp_path):
    # Several row groups and two threads: the join's order is not fixed, the ledger's must be.
    frame = make_roster(20_000, seed=5)
    _, incident = new_project(tmp_path, frame, row_group_size=1024)
    first, second = tmp_path / "a", tmp_path / "b"
    run(incident, first)
    run(incident, second)
    for name in ("ledger.parquet", "summary.json"):
        assert (first / name).read_bytes() == (second / name).read_bytes(), name


@HYP
@given(seed=st.integers(0, 2**32 - 1))
def test_row_order_does_not_matter(base, tmp_path_factory, seed):
    shuffled = base["frame"].sample(frac=1.0, random_state=np.random.RandomState(seed % 2**32))
    root = tmp_path_factory.mktemp("shuffled")
    roster = write_parquet(shuffled, root / "roster.parquet", row_group_size=256)
    summary = run(base["incident"], root / "out", roster=roster)
    assert comparable(summary) == comparable(base["summary"])
    assert by_line(ledger(root / "out")).equals(by_line(ledger(base["out"])))


@HYP
@given(seed=st.integers(0, 2**32 - 1), share=st.floats(0.1, 0.9))
def test_split_roster_parts_add_up_to_the_whole(base, tmp_path_factory, seed, share):
    frame = base["frame"]
    rng = np.random.default_rng(seed)
    customers = frame["customer_id"].unique()
    part_a = set(rng.choice(customers, size=max(1, int(len(customers) * share)), replace=False))
    in_a = frame["customer_id"].isin(part_a)
    root = tmp_path_factory.mktemp("split")
    parts = []
    for name, piece in (("a", frame[in_a]), ("b", frame[~in_a])):
        roster = write_parquet(piece, root / f"{name}.parquet")
        parts.append(run(base["incident"], root / name, roster=roster))
    whole = base["summary"]
    for key in (*SUMMED, "affected_customers", "eligible_customers", "roster_lines"):
        assert sum(p[key] for p in parts) == whole[key], key
    for i, row in enumerate(whole["what_if"]):
        assert sum(p["what_if"][i]["total_credit_krw"] for p in parts) == row["total_credit_krw"]
        assert sum(p["what_if"][i]["eligible_lines"] for p in parts) == row["eligible_lines"]
    for service, group in whole["by_service"].items():
        for key in SUMMED:
            assert sum(p["by_service"].get(service, {}).get(key, 0) for p in parts) == group[key]
    merged = pd.concat([ledger(root / "a"), ledger(root / "b")])
    assert by_line(merged).equals(by_line(ledger(base["out"])))


def test_csv_roster_gives_the_same_ledger(base, tmp_path):
    roster = tmp_path / "roster.csv"
    roster.write_bytes(base["frame"].to_csv(index=False).encode("cp949"))
    summary = run(base["incident"], tmp_path / "out", roster=roster)
    assert comparable(summary) == comparable(base["summary"])
    assert ledger(tmp_path / "out").equals(ledger(base["out"]))


def test_bad_roster_stops_before_any_output(base, tmp_path):
    from kt_analysis.errors import InputError

    frame = base["frame"].copy()
    frame.loc[5, "service"] = "5g"
    roster = write_parquet(frame, tmp_path / "bad.parquet")
    with pytest.raises(InputError, match="row 6"):
        run(base["incident"], tmp_path / "out", roster=roster)
    assert not (tmp_path / "out" / "summary.json").exists()
    assert not (tmp_path / "out" / "ledger.parquet").exists()


def test_incident_reaching_no_line(tmp_path):
    frame = make_roster(200, seed=2)
    proj, _ = new_project(tmp_path, frame)
    path = proj.incident(
        "nobody",
        INCIDENT.replace("id: test-analysis", "id: nobody")
        .replace("[서울]", "[Atlantis]")
        .replace("[부산]", "[Atlantis]")
        .replace("[대전]", "[Atlantis]")
        .replace("[F-01, F-02]", "[NONE]"),
    )
    with pytest.raises(InputError, match="`Atlantis`: no line of the roster"):  # names no line has: refused
        run(path, tmp_path / "refused")
    assert not (tmp_path / "refused" / "ledger.parquet").exists()
    path.write_text(path.read_text(encoding="utf-8").replace("affected:\n", "affected:\n  allow_unmatched: true\n"),
                    encoding="utf-8")
    summary = run(path, tmp_path / "out")
    assert {u["value"] for u in summary["unmatched_names"]} == {"Atlantis", "NONE"}
    assert (summary["affected_lines"], summary["total_credit_krw"]) == (0, 0)
    assert all(r["total_credit_krw"] == 0 for r in summary["what_if"])
    assert pq.read_table(tmp_path / "out" / "ledger.parquet").num_rows == 0


def test_cp949_copy_is_removed_whether_the_run_succeeds_or_fails(base, tmp_path, monkeypatch):
    import tempfile

    from kt_analysis.errors import InputError

    scratch = tmp_path / "scratch"
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))  # where the UTF-8 copy is written
    good = tmp_path / "good.csv"
    good.write_bytes(base["frame"].to_csv(index=False).encode("cp949"))
    run(base["incident"], tmp_path / "ok", roster=good)
    assert list(scratch.iterdir()) == []
    frame = base["frame"].copy()
    frame.loc[3, "bill_cycle_day"] = 0
    bad = tmp_path / "bad.csv"
    bad.write_bytes(frame.to_csv(index=False).encode("cp949"))
    with pytest.raises(InputError, match="line 5"):
        run(base["incident"], tmp_path / "bad", roster=bad)
    assert list(scratch.iterdir()) == []


@pytest.mark.parametrize("n_regions", [3, 60])  # 60: more regions than bits, the plain path
def test_one_pass_figures_equal_the_plain_group_by(tmp_path, n_regions: int) -> None:
    """The cube and the packed customer counts give exactly what a plain GROUP BY with
    count(DISTINCT customer_id) per breakdown gives, including customers whose lines sit in several
    regions, and the what-if totals equal each policy's plain sums."""
    import random

    import duckdb

    from kt_analysis.engine.dialect import render_policy
    from kt_analysis.engine.figures import BREAKDOWNS, DuckDBQuery, incident_figures
    from kt_analysis.inputs.policy import load_policy
    from kt_analysis.rules.credits import compile_policy

    rng = random.Random(7)
    rows = []
    for line in range(1, 3001):
        customer = rng.randint(1, 900)
        minutes = rng.choice([30, 150, 200, 400, 800])
        rows.append({
            "line_id": line, "customer_id": customer,
            "service": rng.choice(["mobile", "internet", "iptv", "landline"]),
            "region": f"R{rng.randrange(n_regions)}" if customer % 7 == 0 else f"R{customer % n_regions}",
            "customer_type": ["individual", "small_business", "enterprise"][customer % 3],
            "payment_method": rng.choice(["credit_card", "check_card", "bank_transfer", "giro", "other"]),
            "monthly_fee_krw": rng.randint(0, 120_000), "outage_minutes": minutes,
            "longest_continuous_minutes": minutes, "monthly_cumulative_minutes": minutes, "days_in_month": 30,
            "outage_days": minutes // 1440 + 1, "window_count": 1, "bill_cycle_day": rng.randint(1, 28),
        })
    con = duckdb.connect()
    frame = pd.DataFrame(rows)
    con.register("lines", frame)
    # the policies on the roster fee (the specials on bills need a bill items file and its fee columns)
    catalogue = sorted((ROOT / "kt_analysis" / "catalogue" / "policies").glob("*.yml"))
    policies = [p for p in (load_policy(path) for path in catalogue)
                if p.fee_basis.roster]
    assert len(policies) >= 3
    own_at = 1
    ledger = tmp_path / "ledger.parquet"
    p = render_policy(compile_policy(policies[own_at]), "duckdb")
    con.execute(f"COPY (SELECT *, {p.eligible} AS eligible, {p.credit_krw} AS credit_krw, NULL::DATE AS credit_on "
                f"FROM lines) TO '{ledger}' (FORMAT parquet)")
    fig, what_if = incident_figures(DuckDBQuery(con), "lines", f"read_parquet('{ledger}')", policies, own_at,
                                    dialect="duckdb", roster="roster")
    plain_src = f"read_parquet('{ledger}')"
    for by in BREAKDOWNS:
        plain = con.execute(
            f"SELECT {by}, count(*) AS affected_lines, count(DISTINCT customer_id) AS affected_customers, "
            f"count(*) FILTER (WHERE eligible) AS eligible_lines, CAST(sum(credit_krw) AS BIGINT) AS total_credit_krw "
            f"FROM {plain_src} GROUP BY {by} ORDER BY affected_lines DESC, {by}").df()
        ours = fig.breakdowns[by][plain.columns.tolist()]
        assert ours.equals(plain.astype(ours.dtypes)), by
    n, customers, eligible, total = con.execute(
        f"SELECT count(*), count(DISTINCT customer_id), count(*) FILTER (WHERE eligible), sum(credit_krw) "
        f"FROM {plain_src}").fetchone()
    assert (fig.lines, fig.customers["all"], fig.eligible_lines, fig.total_credit_krw) == (n, customers, eligible,
                                                                                          total)
    for pol, row in zip(policies, what_if, strict=True):
        q = render_policy(compile_policy(pol), "duckdb")
        assert (row["eligible_lines"], row["total_credit_krw"]) == tuple(con.execute(
            f"SELECT count(*) FILTER (WHERE {q.eligible}), coalesce(sum({q.credit_krw}), 0) FROM lines").fetchone())


@settings(max_examples=150, deadline=None)
@given(credits=st.lists(st.integers(min_value=0, max_value=10**12), min_size=0, max_size=400),
       ineligible=st.lists(st.integers(min_value=0, max_value=10**12), max_size=20))
def test_credit_distribution_is_quantile_disc_of_the_eligible_lines(credits: list[int], ineligible: list[int]) -> None:
    """The summary's quantiles come from counts per credit value (SQL both engines run); they must
    equal DuckDB's quantile_disc over every eligible line, and ignore ineligible lines."""
    import tempfile

    import duckdb

    from kt_analysis.engine.figures import credit_distribution

    with tempfile.TemporaryDirectory() as tmp:
        ledger = Path(tmp) / "ledger.parquet"
        pq.write_table(pa.table({"credit_krw": pa.array(credits + ineligible, pa.int64()),
                                 "eligible": [True] * len(credits) + [False] * len(ineligible)}), ledger)
        con = duckdb.connect()
        row = con.execute(
            "SELECT min(credit_krw), quantile_disc(credit_krw, 0.5), quantile_disc(credit_krw, 0.9), "
            f"quantile_disc(credit_krw, 0.99), max(credit_krw) FROM '{ledger}' WHERE eligible").fetchone()
        expected = tuple(0 if v is None else v for v in row)
        assert tuple(credit_distribution(con, ledger).values()) == expected


def test_view_lines_joins_the_roster_lazily(base):
    """The ledger keeps the decisions; view.lines() puts the roster's attributes beside them on
    line_id, lazily, and refuses a column the roster's contract does not have."""
    from kt_analysis.jobs.explore import open_view

    view = open_view(base["incident"], run_dir=base["out"])
    relation = view.lines()
    assert relation.columns == [*LEDGER_COLUMNS, *ROSTER_ATTRIBUTES]
    got = relation.df().sort_values("line_id").reset_index(drop=True)
    want = by_line(ledger_with_roster(base["out"], base["frame"]))
    got["credit_on"] = [None if pd.isna(d) else d.date() for d in got["credit_on"]]  # DuckDB: a timestamp
    pd.testing.assert_frame_equal(got[want.columns], want, check_dtype=False)
    seoul = view.lines(("region",)).filter("region = '서울'").aggregate("count(*), sum(credit_krw)").fetchall()[0]
    assert seoul == (base["summary"]["by_region"]["서울"]["affected_lines"],
                     base["summary"]["by_region"]["서울"]["total_credit_krw"])
    with pytest.raises(ValueError, match="'phone' is not a roster column"):
        view.lines(("phone",))
