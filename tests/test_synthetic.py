"""The synthetic roster: contract, determinism, calibration, and the Ahyeon windows."""

from __future__ import annotations

import re
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kt_analysis.errors import InputError
from kt_analysis.inputs import synthetic
from kt_analysis.inputs.schema import GENERATED_ROSTER
from kt_analysis.inputs.synthetic import ahyeon_windows, facilities, generate_roster

ROOT = Path(__file__).resolve().parents[1]
N = 20_000
SEED = 7

EXPECTED_SCHEMA = GENERATED_ROSTER  # the declared contract (kt_analysis/inputs/schema.py)
REGIONS = {
    "서울", "부산", "대구", "인천", "광주", "대전", "울산", "세종", "경기",
    "강원", "충북", "충남", "전북", "전남", "경북", "경남", "제주",
}  # fmt: skip
SEOUL_GU = {
    "JONGNO", "JUNG", "YONGSAN", "SEONGDONG", "GWANGJIN", "DONGDAEMUN", "JUNGNANG", "SEONGBUK",
    "GANGBUK", "DOBONG", "NOWON", "EUNPYEONG", "SEODAEMUN", "MAPO", "YANGCHEON", "GANGSEO",
    "GURO", "GEUMCHEON", "YEONGDEUNGPO", "DONGJAK", "GWANAK", "SEOCHO", "GANGNAM", "SONGPA",
    "GANGDONG",
}  # fmt: skip


@pytest.fixture(scope="module")
def roster_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return generate_roster(N, SEED, tmp_path_factory.mktemp("roster"))


@pytest.fixture(scope="module")
def roster(roster_path: Path) -> pd.DataFrame:
    return pq.read_table(roster_path).to_pandas()


def check_roster(path: Path, lines: int) -> pa.Table:
    """The contract every roster meets, whatever its size and seed."""
    assert pq.read_schema(path).equals(EXPECTED_SCHEMA, check_metadata=False)
    table = pq.read_table(path)
    assert table.num_rows == lines
    df = table.to_pandas()
    assert (df["line_id"].to_numpy() == np.arange(1, lines + 1)).all()
    assert set(df["service"]) <= set(synthetic.SERVICES)
    assert set(df["region"]) <= REGIONS
    assert set(df["customer_type"]) <= set(synthetic.CUSTOMER_TYPES)
    assert set(df["payment_method"]) <= set(synthetic.PAYMENT_METHODS)
    assert df["bill_cycle_day"].between(1, 31).all()
    fees = df["monthly_fee_krw"]
    assert (fees >= 0).all() and (fees % 10 == 0).all()
    assert (df["plan"].map(synthetic.PLAN_FEES) == fees).all(), "fee agrees with the plan"
    assert df["phone"].str.fullmatch(r"010-[2-9]\d{3}-\d{4}").all()
    assert df["name"].str.fullmatch(r"[가-힣]{3}").all()
    fac = facilities().set_index("facility_id")
    assert df["facility_id"].isin(fac.index).all()
    assert (fac.loc[df["facility_id"], "region"].to_numpy() == df["region"].to_numpy()).all()
    per_customer = df.groupby("customer_id").agg(
        lines=("line_id", "size"),
        services=("service", "nunique"),
        **{
            c: (c, "nunique")
            for c in ["region", "facility_id", "customer_type", "payment_method",
                      "bill_cycle_day", "name", "phone"]
        },
    )  # fmt: skip
    assert per_customer["lines"].between(1, 4).all()
    assert (per_customer["services"] == per_customer["lines"]).all()
    assert (per_customer.drop(columns=["lines", "services"]) == 1).all().all()
    return table


# ---- contract ------------------------------------------------------------------------------


def test_roster_meets_the_contract(roster_path: Path) -> None:
    check_roster(roster_path, N)


def test_iptv_comes_with_internet(roster: pd.DataFrame) -> None:
    services = roster.groupby("customer_id")["service"].agg(set)
    # The last customer may be cut short by the line count: leave it out.
    services = services.iloc[:-1]
    assert all("internet" in s for s in services if "iptv" in s)


def test_phones_are_unique_per_customer(roster: pd.DataFrame) -> None:
    per_customer = roster.drop_duplicates("customer_id")
    assert per_customer["phone"].is_unique


def test_bill_day_follows_payment_method(roster: pd.DataFrame) -> None:
    days = roster.groupby("payment_method")["bill_cycle_day"].agg(set)
    assert days["credit_card"] == {11, 19}
    assert days["check_card"] == {11, 19}
    assert days["bank_transfer"] == {18, 21, 25}
    assert days["giro"] <= {5, 10, 15, 20, 25, 28}
    assert 21 in days["other"]


# ---- determinism and chunking --------------------------------------------------------------


def test_same_seed_same_bytes(roster_path: Path, tmp_path: Path) -> None:
    again = generate_roster(N, SEED, tmp_path)
    assert again.read_bytes() == roster_path.read_bytes()


def test_other_seed_other_roster(roster: pd.DataFrame, tmp_path: Path) -> None:
    other = pq.read_table(generate_roster(N, SEED + 1, tmp_path)).to_pandas()
    assert not other.equals(roster)
    assert (other["facility_id"] != roster["facility_id"]).mean() > 0.5


def test_chunk_size_does_not_change_the_data(roster_path: Path, tmp_path: Path) -> None:
    calls: list[tuple[int, int]] = []
    path = generate_roster(
        N, SEED, tmp_path, chunk_lines=7_000, progress=lambda d, t: calls.append((d, t))
    )
    assert pq.read_table(path).equals(pq.read_table(roster_path))
    assert calls == [(7_000, N), (14_000, N), (N, N)]
    assert pq.ParquetFile(path).metadata.num_row_groups == 3


def test_first_lines_do_not_depend_on_the_total(roster_path: Path, tmp_path: Path) -> None:
    small = pq.read_table(generate_roster(1_234, SEED, tmp_path))
    assert small.equals(pq.read_table(roster_path).slice(0, 1_234))


def test_file_is_zstd_and_replaced_atomically(roster_path: Path) -> None:
    meta = pq.ParquetFile(roster_path).metadata
    assert meta.row_group(0).column(0).compression == "ZSTD"
    assert [p.name for p in roster_path.parent.iterdir()] == ["roster.parquet"]


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(lines=st.integers(1, 3_000), seed=st.integers(0, 2**64 - 1))
def test_any_size_and_seed_gives_a_valid_roster(lines: int, seed: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        check_roster(generate_roster(lines, seed, tmp, chunk_lines=997), lines)


# ---- bad input -----------------------------------------------------------------------------


@pytest.mark.parametrize("lines", [0, -5, 2.5, True])
def test_lines_must_be_a_positive_whole_number(lines: object, tmp_path: Path) -> None:
    with pytest.raises(InputError, match="--lines"):
        generate_roster(lines, 1, tmp_path)  # type: ignore[arg-type]
    assert list(tmp_path.iterdir()) == []


def test_out_dir_must_not_be_a_file(tmp_path: Path) -> None:
    a_file = tmp_path / "roster.txt"
    a_file.write_text("not a directory")
    with pytest.raises(InputError, match="is a file") as info:
        generate_roster(10, 1, a_file)
    assert info.value.path == str(a_file)


def test_out_dir_is_created(tmp_path: Path) -> None:
    path = generate_roster(10, 1, tmp_path / "a" / "b")
    assert path == tmp_path / "a" / "b" / "roster.parquet"


def test_a_failed_write_leaves_no_file(tmp_path: Path) -> None:
    def boom(done: int, total: int) -> None:
        raise RuntimeError("interrupted")

    with pytest.raises(RuntimeError):
        generate_roster(100, 1, tmp_path, progress=boom)
    assert list(tmp_path.iterdir()) == []


# ---- calibration ---------------------------------------------------------------------------


def test_service_mix_matches_kt_line_counts(roster: pd.DataFrame) -> None:
    # mobile 17.6M, internet 9.7M, IPTV 8.8M, landline 35M - 17.6M - 9.7M (facts §2, §6)
    shares = roster["service"].value_counts(normalize=True)
    assert synthetic.SERVICE_SHARES["mobile"] == pytest.approx(17.6 / 43.8)
    assert synthetic.SERVICE_SHARES["landline"] == pytest.approx(7.7 / 43.8)
    for service, target in synthetic.SERVICE_SHARES.items():
        assert shares[service] == pytest.approx(target, abs=0.015), service


def test_credit_to_check_card_ratio_is_1310_to_150(roster: pd.DataFrame) -> None:
    # 2023 billing error: 1.31M credit-card and 150K check-card payers (facts §4).
    customers = roster.drop_duplicates("customer_id")["payment_method"].value_counts()
    check_share = customers["check_card"] / (customers["credit_card"] + customers["check_card"])
    assert check_share == pytest.approx(150 / 1460, abs=0.02)
    assert synthetic.PAYMENT_SHARES["credit_card"] / synthetic.PAYMENT_SHARES[
        "check_card"
    ] == pytest.approx(1310 / 150)
    assert sum(synthetic.PAYMENT_SHARES.values()) == pytest.approx(1.0)


def test_card_share_puts_the_billing_errors_146m_lines_on_a_national_roster() -> None:
    # 2023 billing error: 1.46M mobile card lines charged on the 11th (facts §4), on a roster of
    # the service mix's national size (43.8M lines), not on the 35M-line benchmark roster.
    card = synthetic.PAYMENT_SHARES["credit_card"] + synthetic.PAYMENT_SHARES["check_card"]
    assert card == pytest.approx(0.205 * 35 / 43.8, abs=0.001)
    sample = pq.read_table(ROOT / "data" / "sample" / "roster.parquet").to_pandas()
    on_11th = sample[(sample["service"] == "mobile") & sample["payment_method"].isin(["credit_card", "check_card"])
                     & (sample["bill_cycle_day"] == 11)]
    assert len(on_11th) / len(sample) * 43_800_000 == pytest.approx(1_460_000, rel=0.05)


@pytest.fixture(scope="module")
def big_roster(tmp_path_factory: pytest.TempPathFactory) -> pd.DataFrame:
    path = generate_roster(400_000, 20211025, tmp_path_factory.mktemp("big"))
    return pq.read_table(path, columns=["customer_id", "service", "facility_id"]).to_pandas()


def test_the_ahyeon_area_has_the_broadband_kt_reported_and_the_country_keeps_its_mix(big_roster: pd.DataFrame) -> None:
    area = set(facilities().loc[synthetic._ahyeon_area(), "facility_id"])
    assert len(area) == 97
    inside = big_roster["facility_id"].isin(area)
    here = big_roster.loc[inside, "service"].value_counts()
    elsewhere = big_roster.loc[~inside, "service"].value_counts()
    # 2018: ~215,000 internet against ~232,000 fixed phones; IPTV on 124,101 of 198,109 (facts §3)
    assert here["internet"] / here["landline"] == pytest.approx(0.90, abs=0.06)
    assert here["iptv"] / here["internet"] == pytest.approx(0.58, abs=0.06)
    assert elsewhere["internet"] / elsewhere["landline"] == pytest.approx(9.7 / 7.7, abs=0.06)
    national = 43_800_000 / len(big_roster)
    assert here["internet"] * national == pytest.approx(215_000, rel=0.10)
    assert here["iptv"] * national == pytest.approx(124_101, rel=0.12)
    assert here["landline"] * national == pytest.approx(232_000, rel=0.10)
    # the country as a whole: the service mix exactly (in expectation), within sampling error here
    shares = big_roster["service"].value_counts(normalize=True)
    for service, target in synthetic.SERVICE_SHARES.items():
        assert shares[service] == pytest.approx(target, abs=0.003), service
    # a customer left with no line is not in the roster; every customer has a line
    assert big_roster.groupby("customer_id").size().min() >= 1


def test_region_shares_follow_population(roster: pd.DataFrame) -> None:
    population = pd.Series(synthetic.REGION_POPULATION, dtype=float)
    target = population / population.sum()
    shares = roster["region"].value_counts(normalize=True).reindex(target.index, fill_value=0)
    assert (shares - target).abs().max() < 0.015
    assert (shares - target).abs().sum() < 0.06


def test_small_businesses_hold_about_six_percent_of_wired_lines(roster: pd.DataFrame) -> None:
    # Ahyeon: ~13,000 merchant applicants against ~215,000 internet subscribers (facts §3).
    wired = roster[roster["service"].isin(["internet", "landline"])]
    share = (wired["customer_type"] == "small_business").mean()
    assert share == pytest.approx(13_000 / 215_000, abs=0.015)
    enterprise = (roster["customer_type"] == "enterprise").mean()
    assert 0.002 < enterprise < 0.03


def test_fees_sit_near_the_published_figures(roster: pd.DataFrame) -> None:
    fee = roster.groupby("service")["monthly_fee_krw"]
    # KT wireless ARPU 31,393 (Q2 2020) … 34,567 (Q4 2024) won (facts §6)
    assert 30_000 <= fee.mean()["mobile"] <= 37_000
    # internet price list 16,500 … 110,000; merchants' most common ~25,000, 500M ~30,000
    internet = roster.loc[roster["service"] == "internet", "monthly_fee_krw"]
    assert internet.between(16_500, 110_000).all()
    assert 22_000 <= internet.median() <= 35_200
    mobile = roster[roster["service"] == "mobile"]
    handsets = mobile[mobile["plan"].str.match(r"(5G|LTE) ")]
    five_g = handsets["plan"].str.startswith("5G").mean()
    assert 0.45 <= five_g <= 0.55  # 45% (end-2021) … 53%: facts §6
    assert handsets["monthly_fee_krw"].max() <= 130_000  # 5G 프리미엄 130,000


def test_facilities_are_spread_by_population() -> None:
    fac = facilities()
    assert list(fac.columns) == ["facility_id", "region", "district", "weight"]
    assert 2_800 <= len(fac) <= 3_200
    assert fac["facility_id"].is_unique
    assert fac["facility_id"].str.fullmatch(r"[A-Z]+(-[A-Z]+)?-\d{2,3}").all()
    assert set(fac["region"]) == REGIONS
    assert fac["weight"].sum() == pytest.approx(1.0)
    assert (fac["weight"] > 0).all()
    seoul = fac[fac["region"] == "서울"]
    gu = seoul["facility_id"].str.extract(r"^SEOUL-([A-Z]+)-\d\d$", expand=False)
    assert gu.notna().all() and set(gu) == SEOUL_GU
    assert (seoul["district"] != "").all()
    others = fac[fac["region"] != "서울"]
    codes = others["facility_id"].str.extract(r"^([A-Z]+)-\d{3}$", expand=False)
    assert codes.notna().all()
    population = pd.Series(synthetic.REGION_POPULATION, dtype=float)
    weight = fac.groupby("region")["weight"].sum()
    assert np.allclose(weight[population.index], population / population.sum())
    count_share = fac["region"].value_counts(normalize=True)[population.index]
    assert np.allclose(count_share, population / population.sum(), atol=0.002)
    assert facilities().equals(fac)


def test_sample_roster_is_current_and_covers_ahyeon() -> None:
    sample = ROOT / "data" / "sample" / "roster.parquet"
    table = pq.read_table(sample)
    assert table.num_rows == 100_000
    assert sample.stat().st_size < 5_000_000
    head = pq.read_table(sample).slice(0, 3_000)
    with tempfile.TemporaryDirectory() as tmp:
        fresh = pq.read_table(generate_roster(3_000, 20211025, tmp))
    assert head.equals(fresh), "regenerate data/sample (see data/README.md)"
    affected = set(ahyeon_windows()["facility_id"])
    in_ahyeon = table.filter(pc.is_in(table["facility_id"], pa.array(sorted(affected))))
    assert in_ahyeon.num_rows >= 1_000
    per_service = pd.Series(in_ahyeon["service"].to_pylist()).value_counts()
    assert (per_service[list(synthetic.SERVICES)] >= 200).all()


# ---- the Ahyeon fire -----------------------------------------------------------------------


@pytest.fixture(scope="module")
def windows() -> pd.DataFrame:
    return ahyeon_windows()


def restored_share(windows: pd.DataFrame, service: str, at: str, weighted: bool) -> float:
    rows = windows[windows["service"] == service]
    done = (rows["end"] <= at).to_numpy()
    if not weighted:
        return float(done.mean())
    weight = facilities().set_index("facility_id").loc[rows["facility_id"], "weight"].to_numpy()
    return float((weight * done).sum() / weight.sum())


def test_windows_shape(windows: pd.DataFrame) -> None:
    assert list(windows.columns) == ["facility_id", "service", "start", "end"]
    assert not windows.duplicated(["facility_id", "service"]).any()
    assert (
        windows.groupby("facility_id")["service"]
        .agg(frozenset)
        .eq(frozenset(synthetic.SERVICES))
        .all()
    )
    assert (windows["start"] == "2018-11-24T11:12").all()
    minute = r"\d{4}-\d\d-\d\dT\d\d:\d\d"
    assert windows["end"].str.fullmatch(minute).all()
    start = pd.to_datetime(windows["start"])
    end = pd.to_datetime(windows["end"])
    assert (end > start).all()
    assert end.max() <= pd.Timestamp("2018-12-01T18:00")
    assert (end - start).min() >= pd.Timedelta(hours=3)  # everyone eligible (>= 3 h)


def test_windows_cover_the_five_gu_and_part_of_deogyang(windows: pd.DataFrame) -> None:
    fac = facilities().set_index("facility_id")
    hit = fac.loc[windows["facility_id"].unique()]
    assert set(hit["district"]) == {
        "중구", "용산구", "서대문구", "마포구", "은평구", "고양시 덕양구",
    }  # fmt: skip
    for gu in ["JUNG", "YONGSAN", "SEODAEMUN", "MAPO", "EUNPYEONG"]:
        every = fac.index[fac.index.str.startswith(f"SEOUL-{gu}-")]
        assert set(every) <= set(hit.index), gu
    deogyang = fac[fac["district"] == "고양시 덕양구"]
    assert 0 < (hit["district"] == "고양시 덕양구").sum() < len(deogyang)


@pytest.mark.parametrize(
    ("at", "service", "target"),
    [
        # newscj 576466/576795; zdnet 20181126193734 (facts §3)
        ("2018-11-25T18:00", "mobile", 0.63),
        ("2018-11-25T18:00", "internet", 0.97),
        ("2018-11-26T18:00", "mobile", 0.86),
        ("2018-11-26T18:00", "internet", 0.98),
        ("2018-11-26T18:00", "landline", 0.925),
        ("2018-11-26T18:00", "iptv", 0.98),
    ],
)
def test_recovery_matches_the_reports(
    windows: pd.DataFrame, at: str, service: str, target: float
) -> None:
    assert restored_share(windows, service, at, weighted=True) == pytest.approx(target, abs=0.02)
    assert restored_share(windows, service, at, weighted=False) == pytest.approx(target, abs=0.06)


def test_recovery_takes_about_a_week(windows: pd.DataFrame) -> None:
    assert restored_share(windows, "mobile", "2018-11-30T00:00", weighted=True) < 1.0
    assert restored_share(windows, "mobile", "2018-12-01T18:00", weighted=True) == 1.0


def test_windows_are_deterministic_and_match_the_file(windows: pd.DataFrame) -> None:
    assert ahyeon_windows().equals(windows)
    path = ROOT / "data" / "incidents" / "kt-2018-11-24-ahyeon-fire.windows.csv"
    text = path.read_text(encoding="utf-8")
    assert text.splitlines()[0] == "facility_id,service,start,end"
    on_file = pd.read_csv(path, dtype=str, keep_default_na=False)
    assert on_file.to_numpy().tolist() == windows.to_numpy().tolist(), (
        "regenerate the windows file (see data/README.md)"
    )


def test_windows_contain_no_unknown_facility(windows: pd.DataFrame) -> None:
    assert set(windows["facility_id"]) <= set(facilities()["facility_id"])
    assert re.fullmatch(r"[A-Z0-9-]+", "".join(windows["facility_id"]))
