"""The pre-charge bill check: the September 2023 run at the July amounts is blocked (facts §4)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import duckdb
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kt_analysis.errors import InputError
from kt_analysis.inputs.synthetic import BILL_SAME_AMOUNT_SHARE, generate_bills, generate_roster
from kt_analysis.jobs.bill_check import (
    BLOCKED_EXCESS,
    EXIT_CODES,
    FALLBACK_BASELINE,
    SUSPECT_EXCESS,
    BillCheck,
    check_bills,
    swap_month,
)

LINES = 5_000
SEED = 2023
CLI = Path(sys.executable).parent / "kt-analysis"


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    tmp = tmp_path_factory.mktemp("bills")
    generate_roster(LINES, SEED, tmp)
    generate_bills(tmp / "roster.parquet", SEED, tmp)
    return tmp


@pytest.fixture(scope="module")
def bills(data: Path) -> Path:
    return data / "bills.parquet"


@pytest.fixture(scope="module")
def roster(data: Path) -> pd.DataFrame:
    return pq.read_table(data / "roster.parquet").to_pandas()


@pytest.fixture(scope="module")
def july_for_september(bills: Path, data: Path) -> Path:
    return swap_month(bills, "2023-09", "2023-07", data / "swapped.parquet")


@pytest.fixture(scope="module")
def card_payers_swapped(bills: Path, data: Path, roster: pd.DataFrame) -> Path:
    cards = roster.loc[roster["payment_method"].isin(["credit_card", "check_card"]), "line_id"]
    assert 0.15 < len(cards) / len(roster) < 0.25  # card payers: 20.5% of customers (data/README.md)
    return swap_month(bills, "2023-09", "2023-07", data / "cards.parquet", lines_filter=cards)


def rewrite(src: Path, out: Path, select: str) -> Path:
    """A copy of a bills file through one DuckDB SELECT over it (``b``)."""
    duckdb.sql(f"COPY (SELECT line_id, bill_month, amount_krw FROM ({select.format(b=f'read_parquet({str(src)!r})')})) "
               f"TO '{out}' (FORMAT parquet)")
    return out


# ---- the September 2023 incident -----------------------------------------------------------


def test_a_normal_september_is_ok(bills: Path) -> None:
    result = check_bills(bills, "2023-09")
    assert isinstance(result, BillCheck)
    assert result.verdict == "ok", result.reasons
    assert result.looks_like is None
    assert abs(result.baseline_equal_share - BILL_SAME_AMOUNT_SHARE) < 0.03
    assert list(result.matches["bill_month"]) == [f"2023-{m:02d}" for m in range(1, 9)]
    assert (result.matches["lines"] == LINES).all()
    assert "no earlier month stands out" in result.reasons[0]


def test_july_for_september_is_blocked_and_named(july_for_september: Path) -> None:
    result = check_bills(july_for_september, "2023-09")
    assert result.verdict == "blocked"
    assert result.looks_like == "2023-07"
    assert "100.0% of lines equal their 2023-07 bill exactly" in result.reasons[0]
    assert "this run looks like 2023-07's" in result.reasons[0]
    july = result.matches.set_index("bill_month").loc["2023-07"]
    assert july["equal_share"] == 1.0 and july["excess"] > BLOCKED_EXCESS
    # Totals stay normal: the reasons say that a totals check would not have caught it.
    assert any("would not have caught this" in r for r in result.reasons)


def test_card_payers_swapped_is_suspect(card_payers_swapped: Path) -> None:
    # A fifth of the lines repeat July: +12.7 points over the baseline, above SUSPECT_EXCESS and
    # below BLOCKED_EXCESS (a quarter of the lines or more): suspect, not blocked.
    result = check_bills(card_payers_swapped, "2023-09")
    assert result.verdict == "suspect", result.reasons
    assert result.looks_like == "2023-07"
    july = result.matches.set_index("bill_month").loc["2023-07"]
    assert SUSPECT_EXCESS < july["excess"] < BLOCKED_EXCESS
    # The reason estimates how much of the run repeats July: about the card payers' 30%.
    assert "2023-07" in result.reasons[0] and "of the run" in result.reasons[0]


def test_the_previous_month_repeated_is_blocked(bills: Path, tmp_path: Path) -> None:
    # The baseline comes from the months before, so repeating August itself is caught too.
    result = check_bills(swap_month(bills, "2023-09", "2023-08", tmp_path / "aug.parquet"), "2023-09")
    assert result.verdict == "blocked" and result.looks_like == "2023-08"


def test_the_card_batch_as_a_candidate_is_blocked(bills: Path, roster: pd.DataFrame, tmp_path: Path) -> None:
    # What went to the card companies on 2023-09-11: mobile lines of card payers on the 11th.
    batch = roster.loc[(roster["service"] == "mobile") & roster["payment_method"].isin(["credit_card", "check_card"])
                       & (roster["bill_cycle_day"] == 11), "line_id"]
    ids = ", ".join(map(str, batch))
    wrong = rewrite(bills, tmp_path / "batch.parquet",
                    f"SELECT line_id, '2023-09' AS bill_month, amount_krw FROM {{b}} "
                    f"WHERE bill_month = '2023-07' AND line_id IN ({ids})")
    right = rewrite(bills, tmp_path / "right.parquet",
                    f"SELECT * FROM {{b}} WHERE bill_month = '2023-09' AND line_id IN ({ids})")
    blocked = check_bills(bills, "2023-09", candidate=wrong)
    assert blocked.verdict == "blocked" and blocked.looks_like == "2023-07"
    assert blocked.current["lines"] == len(batch)
    assert any("not judged" in r for r in blocked.reasons), "a batch holds only part of the lines"
    assert check_bills(bills, "2023-09", candidate=right).verdict == "ok"


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(seed=st.integers(0, 2**32), month=st.sampled_from([f"2023-{m:02d}" for m in range(4, 13)]))
def test_any_seed_gives_ok_on_an_unswapped_month(seed: int, month: str,
                                                 tmp_path_factory: pytest.TempPathFactory) -> None:
    tmp = tmp_path_factory.mktemp("seed")
    generate_roster(2_000, seed % 10_000, tmp)
    path = generate_bills(tmp / "roster.parquet", seed, tmp)
    result = check_bills(path, month)
    assert result.verdict == "ok", result.reasons


@settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(pair=st.sampled_from([("2023-09", "2023-07"), ("2023-12", "2023-01"), ("2023-03", "2023-02"),
                             ("2023-06", "2023-04")]))
def test_any_repeated_month_is_blocked_and_named(pair: tuple[str, str], bills: Path,
                                                 tmp_path_factory: pytest.TempPathFactory) -> None:
    wrong, charged = pair
    path = swap_month(bills, wrong, charged, tmp_path_factory.mktemp("swap") / "b.parquet")
    result = check_bills(path, wrong)
    assert result.verdict == "blocked" and result.looks_like == charged


# ---- other things a run can get wrong ------------------------------------------------------


def test_amounts_doubled_are_blocked(bills: Path, tmp_path: Path) -> None:
    path = rewrite(bills, tmp_path / "x2.parquet",
                   "SELECT line_id, bill_month, CASE WHEN bill_month = '2023-09' THEN amount_krw * 2 "
                   "ELSE amount_krw END AS amount_krw FROM {b}")
    result = check_bills(path, "2023-09")
    assert result.verdict == "blocked"
    assert any(r.startswith("mean") and "is +9" in r for r in result.reasons)  # +98.9%: usage differs a little


@pytest.mark.parametrize(("dropped", "verdict"), [(0.05, "suspect"), (0.4, "blocked")])
def test_lines_missing_from_the_run(bills: Path, tmp_path: Path, dropped: float, verdict: str) -> None:
    cut = int(LINES * (1 - dropped))
    path = rewrite(bills, tmp_path / "cut.parquet",
                   f"SELECT * FROM {{b}} WHERE bill_month <> '2023-09' OR line_id <= {cut}")
    result = check_bills(path, "2023-09")
    assert result.verdict == verdict
    assert result.missing_lines == LINES - cut
    assert any("are missing from the run" in r for r in result.reasons)


def test_lines_billed_twice(bills: Path, tmp_path: Path) -> None:
    path = rewrite(bills, tmp_path / "dup.parquet",
                   "SELECT * FROM {b} UNION ALL SELECT * FROM {b} WHERE bill_month = '2023-09' AND line_id <= 25")
    result = check_bills(path, "2023-09")
    assert result.duplicate_lines == 25
    assert result.verdict == "suspect"
    assert any("billed more than once" in r for r in result.reasons)


def test_shuffled_rows_give_the_same_figures(bills: Path, tmp_path: Path) -> None:
    # Months not side by side: the hash-join path must agree with the positional one.
    path = rewrite(bills, tmp_path / "shuffled.parquet", "SELECT * FROM {b} ORDER BY hash(line_id, bill_month)")
    fast, slow = check_bills(bills, "2023-09"), check_bills(path, "2023-09")
    pd.testing.assert_frame_equal(fast.matches, slow.matches)
    assert fast.current == slow.current and slow.verdict == "ok"


def test_csv_bills_work_too(bills: Path, tmp_path: Path) -> None:
    csv = tmp_path / "bills.csv"
    duckdb.sql(f"COPY (SELECT * FROM read_parquet('{bills}')) TO '{csv}' (HEADER)")
    assert check_bills(csv, "2023-09").verdict == "ok"


def test_too_little_history(bills: Path) -> None:
    first = check_bills(bills, "2023-01")
    assert first.verdict == "suspect" and "nothing to compare" in first.reasons[0]
    second = check_bills(bills, "2023-02")
    assert second.baseline_is_assumed and second.baseline_equal_share == FALLBACK_BASELINE
    assert second.verdict == "ok" and "assumed" in second.reasons[0]


def test_to_dict_is_json(july_for_september: Path) -> None:
    out = check_bills(july_for_september, "2023-09").to_dict()
    again = json.loads(json.dumps(out))
    assert again["verdict"] == "blocked" and again["looks_like"] == "2023-07"
    assert [m["bill_month"] for m in again["matches"]][-1] == "2023-08"
    assert again["thresholds"]["BLOCKED_EXCESS"] == BLOCKED_EXCESS


# ---- swap_month ----------------------------------------------------------------------------


def test_swap_month_changes_only_the_chosen_lines_of_one_month(bills: Path, card_payers_swapped: Path,
                                                               roster: pd.DataFrame) -> None:
    before = pq.read_table(bills).to_pandas().set_index(["bill_month", "line_id"])["amount_krw"]
    after = pq.read_table(card_payers_swapped).to_pandas().set_index(["bill_month", "line_id"])["amount_krw"]
    assert len(after) == len(before)
    after = after.loc[before.index]
    changed = (after != before).groupby(level="bill_month").sum()
    assert set(changed[changed > 0].index) == {"2023-09"}
    sep, jul = after.loc["2023-09"], before.loc["2023-07"]
    cards = set(roster.loc[roster["payment_method"].isin(["credit_card", "check_card"]), "line_id"])
    picked = sep.index.isin(list(cards))
    assert (sep[picked] == jul[sep.index[picked]]).all()
    assert (sep[~picked] == before.loc["2023-09"][~picked]).all()


def test_swap_month_rejects_bad_months(bills: Path, tmp_path: Path) -> None:
    with pytest.raises(InputError, match="has no bills for 2024-01"):
        swap_month(bills, "2024-01", "2023-07", tmp_path / "x.parquet")
    with pytest.raises(InputError, match="same month"):
        swap_month(bills, "2023-07", "2023-07", tmp_path / "x.parquet")
    assert not (tmp_path / "x.parquet").exists()


# ---- bad input -----------------------------------------------------------------------------


@pytest.mark.parametrize("month", ["2023-9", "2023-13", "Sep 2023", "", "2023-09-01"])
def test_bad_month_is_an_input_error(bills: Path, month: str) -> None:
    with pytest.raises(InputError) as err:
        check_bills(bills, month)
    assert err.value.where == "--month" and err.value.path == str(bills) and err.value.fix


def test_month_not_in_the_file(bills: Path) -> None:
    with pytest.raises(InputError) as err:
        check_bills(bills, "2024-09")
    assert err.value.where == "bill_month"
    assert "2023-01 … 2023-12" in err.value.problem


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="not found"):
        check_bills(tmp_path / "nope.parquet", "2023-09")


def test_missing_columns_and_wrong_types(tmp_path: Path) -> None:
    pq.write_table(pa.table({"line_id": [1], "month": ["2023-09"], "amount_krw": [100]}), tmp_path / "a.parquet")
    with pytest.raises(InputError, match="missing bill_month"):
        check_bills(tmp_path / "a.parquet", "2023-09")
    pq.write_table(pa.table({"line_id": [1], "bill_month": ["2023-09"], "amount_krw": [100.5]}), tmp_path / "b.parquet")
    with pytest.raises(InputError, match="whole"):
        check_bills(tmp_path / "b.parquet", "2023-09")
    pq.write_table(pa.table({"line_id": [1], "bill_month": ["2023-9"], "amount_krw": [100]}), tmp_path / "c.parquet")
    with pytest.raises(InputError, match="not YYYY-MM"):
        check_bills(tmp_path / "c.parquet", "2023-09")
    (tmp_path / "d.parquet").write_text("not parquet")
    with pytest.raises(InputError, match="cannot be read"):
        check_bills(tmp_path / "d.parquet", "2023-09")


def test_candidate_without_the_month(bills: Path, tmp_path: Path) -> None:
    other = rewrite(bills, tmp_path / "aug.parquet", "SELECT * FROM {b} WHERE bill_month = '2023-08'")
    with pytest.raises(InputError) as err:
        check_bills(bills, "2023-09", candidate=other)
    assert err.value.path == str(other)


# ---- the command ---------------------------------------------------------------------------


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(CLI), *args], capture_output=True, text=True, timeout=120)


def test_cli_exit_codes_and_messages(bills: Path, july_for_september: Path, card_payers_swapped: Path,
                                     tmp_path: Path) -> None:
    ok = run_cli("check-bills", str(bills), "--month", "2023-09")
    assert ok.returncode == EXIT_CODES["ok"] == 0, ok.stderr
    assert ok.stdout.startswith("ok: bill run 2023-09")

    blocked = run_cli("check-bills", str(july_for_september), "--month", "2023-09")
    assert blocked.returncode == EXIT_CODES["blocked"] == 4
    assert blocked.stdout.startswith("blocked:") and "looks like 2023-07's" in blocked.stdout

    suspect = run_cli("check-bills", str(card_payers_swapped), "--month", "2023-09")
    assert suspect.returncode == EXIT_CODES["suspect"] == 3, suspect.stdout + suspect.stderr
    assert suspect.stdout.startswith("suspect:") and "2023-07" in suspect.stdout

    as_json = run_cli("check-bills", str(july_for_september), "--month", "2023-09", "--json")
    assert as_json.returncode == 4 and json.loads(as_json.stdout)["looks_like"] == "2023-07"

    for args in ((str(tmp_path / "nope.parquet"), "--month", "2023-09"),
                 (str(bills), "--month", "2023-9"),
                 (str(bills), "--month", "2031-01")):
        bad = run_cli("check-bills", *args)
        assert bad.returncode == 2, bad.stderr
        assert bad.stderr.startswith("error: ") and len(bad.stderr.strip().splitlines()) == 1
        assert "Traceback" not in bad.stderr and bad.stdout == ""


def test_cli_help_documents_the_exit_codes() -> None:
    out = run_cli("check-bills", "--help").stdout
    assert "0 ok" in out and "3 suspect" in out and "4 blocked" in out and "2 bad input" in out


def test_cli_generate_writes_bills(tmp_path: Path) -> None:
    done = run_cli("-q", "generate", "--lines", "500", "--seed", "4", "--out", str(tmp_path), "--bill-months", "3",
                   "--first-month", "2023-07")
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == [str(tmp_path / "roster.parquet"), str(tmp_path / "bills.parquet")]
    months = pq.read_table(tmp_path / "bills.parquet").column("bill_month").unique().to_pylist()
    assert months == ["2023-07", "2023-08", "2023-09"]
    no_bills = run_cli("-q", "generate", "--lines", "50", "--out", str(tmp_path / "r"), "--no-bills")
    assert no_bills.returncode == 0 and not (tmp_path / "r" / "bills.parquet").exists()
    bad = run_cli("generate", "--lines", "50", "--out", str(tmp_path / "s"), "--first-month", "2023-13")
    assert bad.returncode == 2 and "Traceback" not in bad.stderr
    assert not (tmp_path / "s").exists(), "a bad month fails before anything is written"


# ---- bad values anywhere in the file -------------------------------------------------------


def test_a_bad_csv_value_past_the_sniffed_rows_is_refused(bills: Path, tmp_path: Path) -> None:
    csv = tmp_path / "bills.csv"
    duckdb.sql(f"COPY (SELECT * FROM read_parquet('{bills}')) TO '{csv}' (HEADER)")
    lines = csv.read_text().splitlines()
    assert len(lines) > 30_000
    lines[29_999] = lines[29_999].rsplit(",", 1)[0] + ",abc"  # line 30,000
    csv.write_text("\n".join(lines) + "\n")
    with pytest.raises(InputError) as err:
        check_bills(csv, "2023-09")
    assert err.value.where == "column amount_krw" and "line 30000 ('abc')" in err.value.problem


def test_a_bad_candidate_is_named(bills: Path, tmp_path: Path) -> None:
    bad = rewrite(bills, tmp_path / "neg.parquet",
                  "SELECT line_id, bill_month, CASE WHEN line_id = 7 THEN -amount_krw - 1 ELSE amount_krw END "
                  "AS amount_krw FROM {b} WHERE bill_month = '2023-09'")
    with pytest.raises(InputError) as err:
        check_bills(bills, "2023-09", candidate=bad)
    assert err.value.path == str(bad) and "negative" in err.value.problem


def test_a_fifo_is_refused_without_reading_it(tmp_path: Path) -> None:
    import os

    os.mkfifo(tmp_path / "bills.csv")
    with pytest.raises(InputError, match="pipe"):
        check_bills(tmp_path / "bills.csv", "2023-09")


def test_cli_faults_exit_1_in_one_line(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    import kt_analysis.jobs.bill_check as bill_check
    from kt_analysis.cli import main

    def io_error(*_a: object, **_k: object) -> None:
        raise duckdb.IOException("IO Error: read failed\nsecond line")

    def disk_error(*_a: object, **_k: object) -> None:
        raise OSError(5, "Input/output error", "bills.parquet")

    for fault in (io_error, disk_error):
        monkeypatch.setattr(bill_check, "check_bills", fault)
        assert main(["check-bills", "bills.parquet", "--month", "2023-09"]) == 1
        err = capsys.readouterr().err
        assert err.startswith("error: bills.parquet: ") and len(err.splitlines()) == 1 and " — " in err
