"""The synthetic bill items (``synthetic.generate_bill_items``): contract, determinism, the identity
with the bills, sign rules, the plan's discounts, and that ``generate_bills`` did not change."""

from __future__ import annotations

import hashlib
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kt_analysis.errors import InputError
from kt_analysis.inputs import synthetic
from kt_analysis.inputs.schema import BILL_ITEMS, DISCOUNT_ITEMS, ITEM_CATEGORIES
from kt_analysis.inputs.synthetic import generate_bill_items, generate_bills, generate_roster

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "data" / "sample"
LINES = 5_000
SEED = 11
# Four months, not consecutive (as a fee basis may ask), given out of order on purpose.
MONTHS = ["2023-08", "2023-01", "2023-02", "2023-07"]
SORTED_MONTHS = sorted(MONTHS)
FEE_ITEMS = ("plan", *DISCOUNT_ITEMS)
CHARGES = tuple(i for i in ITEM_CATEGORIES if i not in FEE_ITEMS)

# sha256 of generate_bills(<the first 5,000 rows of data/sample/roster.parquet, written with
# pq.write_table's defaults>, seed=20211025, first_month="2023-01", months=3), computed with the
# generator as it was before bill items were added (pyarrow 26): the refactoring into one bill
# definition must not move a byte. The same inputs also gave data/sample/bills.parquet's sha256
# 5d54df91… over the whole sample (checked by regenerating it into a temporary folder).
# The sample was regenerated on 2026-12-05 (the Ahyeon area's broadband, the card share, internet
# speeds over time): on the earlier sample's first 5,000 rows the bills of 2023 still had the
# sha256 7757c642… after the change (speeds only move bills before 2023); this is the same
# computation on the regenerated sample's first 5,000 rows.
BILLS_BEFORE_ITEMS_SHA256 = "9656fec617325230b2286f785db490577b7d070b7f141f8cf18b838f38f69ef2"


@pytest.fixture(scope="module")
def roster_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return generate_roster(LINES, SEED, tmp_path_factory.mktemp("roster"))


@pytest.fixture(scope="module")
def items_path(roster_path: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return generate_bill_items(roster_path, SEED, tmp_path_factory.mktemp("items"), months=MONTHS)


@pytest.fixture(scope="module")
def items(items_path: Path) -> pd.DataFrame:
    return pq.read_table(items_path).to_pandas()


@pytest.fixture(scope="module")
def bills(roster_path: Path, tmp_path_factory: pytest.TempPathFactory) -> pd.DataFrame:
    path = generate_bills(roster_path, SEED, tmp_path_factory.mktemp("bills"), first_month="2023-01", months=8)
    df = pq.read_table(path).to_pandas()
    return df[df["bill_month"].isin(MONTHS)]


@pytest.fixture(scope="module")
def roster(roster_path: Path) -> pd.DataFrame:
    return pq.read_table(roster_path).to_pandas().set_index("line_id")


@pytest.fixture(scope="module")
def wide(items: pd.DataFrame, roster: pd.DataFrame) -> pd.DataFrame:
    """One row per line and month, one column per item (0 where absent), with the line's plan."""
    w = items.pivot_table(index=["line_id", "bill_month"], columns="item", values="amount_krw",
                          fill_value=0, aggfunc="sum")
    w = w.reindex(columns=list(ITEM_CATEGORIES), fill_value=0).reset_index()
    w["plan_label"] = roster.loc[w["line_id"], "plan"].to_numpy()
    w["fee"] = roster.loc[w["line_id"], "monthly_fee_krw"].to_numpy()
    w["list_price"] = [synthetic._PLAN_ITEMS[p][0] for p in w["plan_label"]]
    return w


def credits(roster: pd.DataFrame, months: list[str], seed: int = SEED) -> pd.DataFrame:
    """Each line's credit in each month, from the one definition of a bill (the last part)."""
    line_id = roster.index.to_numpy()
    table = pa.Table.from_pandas(roster.reset_index()[["line_id", "service", "monthly_fee_krw", "plan"]])
    kind = synthetic._line_kinds(table.column("service").combine_chunks(), table.column("plan").combine_chunks(),
                                 table.column("monthly_fee_krw").to_numpy())
    keys = synthetic._line_keys(line_id, seed)
    frames = []
    for label in months:
        month = synthetic._month_index(label, "", "")
        *_, (last, credit) = synthetic._bill_parts(keys, kind, month)
        assert last == synthetic._CREDIT
        frames.append(pd.DataFrame({"line_id": line_id, "bill_month": label, "credit": credit}))
    return pd.concat(frames, ignore_index=True)


# ---- contract ------------------------------------------------------------------------------


def test_schema_and_row_order(items_path: Path, items: pd.DataFrame) -> None:
    assert pq.read_schema(items_path).equals(BILL_ITEMS, check_metadata=False)
    assert set(items["item"]) <= set(ITEM_CATEGORIES)
    assert sorted(items["bill_month"].unique()) == SORTED_MONTHS
    order = items["item"].map({name: i for i, name in enumerate(ITEM_CATEGORIES)})
    key = pd.DataFrame({"line": items["line_id"], "month": items["bill_month"], "item": order})
    assert key.equals(key.sort_values(["line", "month", "item"], kind="stable")), "line, then month, then item"
    assert not key.duplicated().any()


def test_bill_month_and_item_are_dictionary_encoded(items_path: Path) -> None:
    meta = pq.ParquetFile(items_path).metadata
    for column in (1, 2):  # bill_month, item
        chunk = meta.row_group(0).column(column)
        assert "RLE_DICTIONARY" in chunk.encodings or "PLAIN_DICTIONARY" in chunk.encodings
        assert chunk.compression == "ZSTD"


def test_only_non_zero_items_except_a_bill_of_zero(items: pd.DataFrame) -> None:
    zero = items[items["amount_krw"] == 0]
    assert (zero["item"] == "plan").all()
    per_month = items.groupby(["line_id", "bill_month"])["amount_krw"]
    assert (per_month.size()[per_month.sum() == 0] == 1).all(), "a bill of 0 is one plan row of 0"


def test_signs(items: pd.DataFrame) -> None:
    discount = items["item"].isin(DISCOUNT_ITEMS)
    assert (items.loc[discount, "amount_krw"] <= 0).all()
    assert (items.loc[~discount, "amount_krw"] >= 0).all()


def test_same_inputs_same_bytes(roster_path: Path, items_path: Path, tmp_path: Path) -> None:
    again = generate_bill_items(roster_path, SEED, tmp_path, months=MONTHS)
    assert again.read_bytes() == items_path.read_bytes()
    # The months are a set: their order does not matter.
    again = generate_bill_items(roster_path, SEED, tmp_path, months=SORTED_MONTHS)
    assert again.read_bytes() == items_path.read_bytes()
    assert [p.name for p in tmp_path.iterdir()] == ["bill_items.parquet"]


def test_chunks_and_other_months_do_not_change_the_items(roster_path: Path, items: pd.DataFrame,
                                                          tmp_path: Path) -> None:
    path = generate_bill_items(roster_path, SEED, tmp_path, months=["2023-07"], chunk_lines=777)
    part = pq.read_table(path).to_pandas()
    same = items[items["bill_month"] == "2023-07"].reset_index(drop=True)
    pd.testing.assert_frame_equal(part, same)


# ---- the identity with the bills ------------------------------------------------------------


def test_items_add_up_to_the_bill_of_every_line_and_month(items: pd.DataFrame, bills: pd.DataFrame) -> None:
    total = items.groupby(["line_id", "bill_month"])["amount_krw"].sum()
    bill = bills.set_index(["line_id", "bill_month"])["amount_krw"]
    assert len(total) == len(bill) == LINES * len(MONTHS), "every line has a bill every month"
    joined = bill.to_frame("bill").join(total.rename("items"), how="outer")
    assert joined.notna().all().all()
    assert (joined["bill"] == joined["items"]).all()


def test_the_months_hold_instalments_credits_and_clamped_bills(wide: pd.DataFrame, roster: pd.DataFrame) -> None:
    # So the identity above is tested where it is hard: with credits (also larger than the bill)
    # and the 10-won cut, in months with device instalments.
    c = credits(roster, SORTED_MONTHS)
    w = wide.merge(c, on=["line_id", "bill_month"])
    assert (w["device_instalment"] > 0).groupby(w["bill_month"]).sum().min() > 100
    assert (w["credit"] > 0).groupby(w["bill_month"]).sum().min() > 100
    total = w[list(ITEM_CATEGORIES)].sum(axis=1)
    assert ((w["credit"] > 0) & (total == 0) & (w["fee"] > 0)).sum() > 0, "a credit larger than the bill"
    fractional = w[["usage", "information_fee", "one_off"]].to_numpy() % 10 != 0
    assert fractional.any(), "charges in whole won, not only tens"
    assert (w[list(ITEM_CATEGORIES)].sum(axis=1) % 10 == 0).all()


def test_charges_are_kept_whole_without_a_credit(wide: pd.DataFrame, roster: pd.DataFrame) -> None:
    """Without a credit only the 10-won cut moves an item: the fee items, add-ons, rental,
    instalments and roaming are exactly the charges; usage, information fee or one-off lose < 13 won."""
    w = wide.merge(credits(roster, SORTED_MONTHS), on=["line_id", "bill_month"])
    clean = w[w["credit"] == 0]
    assert (clean["plan"] == clean["list_price"]).all()
    assert (clean[list(FEE_ITEMS)].sum(axis=1) == clean["fee"]).all()
    for item in ("add_on", "equipment_rental", "device_instalment", "international"):
        assert (clean[item] % 10 == 0).all(), item
    assert (clean[list(ITEM_CATEGORIES)].sum(axis=1) % 10 == 0).all()


def test_a_credit_reaches_the_plan_only_when_nothing_else_is_left(wide: pd.DataFrame) -> None:
    assert (wide["plan"] <= wide["list_price"]).all()
    reduced = wide[wide["plan"] < wide["list_price"]]
    assert 0 < len(reduced) < 0.05 * len(wide)
    assert (reduced[["one_off", "international", "information_fee", "usage", "device_instalment",
                     "equipment_rental", "add_on"]] == 0).all().all()
    # Never below the discounts: plan + discounts (the fee) stays ≥ 0.
    assert (wide[list(FEE_ITEMS)].sum(axis=1) >= 0).all()
    # What the credit takes from these is a whole multiple of 10 (the bill before and after it ends in 0).
    assert (wide[["plan", "add_on", "equipment_rental", "device_instalment"]] % 10 == 0).all().all()


# ---- the plan and its discounts -------------------------------------------------------------


def test_selective_discount_is_on_selective_plans_only_at_25_percent(wide: pd.DataFrame) -> None:
    selective = wide["plan_label"].str.contains("선택약정")
    assert selective.sum() > 1_000
    assert (wide.loc[selective, "selective_discount"] < 0).all()
    assert (wide.loc[~selective, "selective_discount"] == 0).all()
    on = wide[selective]
    price = on["list_price"]
    # −25% of the list price; the fee is rounded down to 10 won, so the discount is up to 10 won more.
    off = -on["selective_discount"]
    assert ((off >= 0.25 * price) & (off < 0.25 * price + 10)).all()
    full = on[on["plan"] == price]
    assert len(full) > 0.9 * len(on)
    assert ((-full["selective_discount"] - 0.25 * full["plan"]).abs() < 10).all()
    only = on[~on["plan_label"].str.contains("결합")]
    assert ((only["plan"] + only["selective_discount"] == only["fee"]) | (only["plan"] < only["list_price"])).all()


def test_bundle_discount_is_on_bundled_plans_only(wide: pd.DataFrame) -> None:
    bundled = wide["plan_label"].str.contains("결합")
    assert (wide.loc[bundled, "bundle_discount"] < 0).all()
    assert (wide.loc[~bundled, "bundle_discount"] == 0).all()
    internet = wide[wide["plan_label"] == "인터넷 500M (결합)"]
    assert (internet["bundle_discount"] == 27_500 - 35_200).all()  # bundled vs 1-yr price
    family = wide[wide["plan_label"] == "5G 스페셜 (선택약정+결합)"]
    assert len(family) and (family["selective_discount"] == -25_000).all()
    assert (family["bundle_discount"] == -25_000).all()
    assert (wide["long_term_discount"] == 0).all(), "no long-term discount is generated"


def test_fee_basis_of_the_2021_special_is_the_fee_with_the_selective_discount_added_back(wide: pd.DataFrame) -> None:
    # plan + bundle + add-ons + rental (선택약정 added back): never negative, and at least the fee
    # whenever no credit reached the plan.
    basis = wide["plan"] + wide["bundle_discount"] + wide["long_term_discount"] + wide["add_on"] + wide[
        "equipment_rental"]
    assert (basis >= 0).all()
    kept = wide["plan"] == wide["list_price"]
    assert (basis[kept] >= wide.loc[kept, "fee"]).all()


# ---- internet speeds over time ---------------------------------------------------------------

SPEED_MONTHS = ["2015-12", "2018-09", "2019-09", "2021-10", "2023-01"]
RUNG = {"인터넷 100M": 0, "인터넷 500M": 1, "인터넷 1G": 2, "인터넷 2.5G": 3, "인터넷 5G": 3, "인터넷 10G": 3}


@pytest.fixture(scope="module")
def speeds(roster_path: Path, roster: pd.DataFrame, tmp_path_factory: pytest.TempPathFactory) -> pd.DataFrame:
    """Each catalogue internet line's plan item per month, its roster plan and rung."""
    path = generate_bill_items(roster_path, SEED, tmp_path_factory.mktemp("speeds"), months=SPEED_MONTHS)
    items = pq.read_table(path).to_pandas()
    fee = items[items["item"].isin(FEE_ITEMS)].pivot_table(index="line_id", columns=["bill_month", "item"],
                                                            values="amount_krw", fill_value=0, aggfunc="sum")
    internet = roster[roster["service"] == "internet"]
    rows = []
    for line_id, plan in internet["plan"].items():
        base = plan.removesuffix(" (결합)").replace("인터넷 10G (무약정)", "인터넷 10G")
        for month in SPEED_MONTHS:
            got = tuple(int(fee.loc[line_id].get((month, i), 0))
                        for i in ("plan", "selective_discount", "bundle_discount"))
            rows.append((line_id, plan, RUNG[base], month, got))
    return pd.DataFrame(rows, columns=["line_id", "plan", "rung", "month", "items"])


def rung_of(items: tuple[int, int, int], bundled: bool) -> int:
    """The rung of the catalogue plan with these fee items, on the line's terms; −1 for none (a
    month's credit larger than everything but the plan cuts the plan item)."""
    if synthetic._PLAN_ITEMS["인터넷 10G (무약정)"] == items:
        return 3
    for label, rung in RUNG.items():
        if synthetic._PLAN_ITEMS[label + " (결합)" if bundled else label] == items:
            return rung
    return -1


def test_an_internet_line_was_on_a_slower_plan_before_it_upgraded(speeds: pd.DataFrame) -> None:
    speeds = speeds.assign(now=[rung_of(i, p.endswith("(결합)") and "무약정" not in p)
                                for i, p in zip(speeds["items"], speeds["plan"], strict=True)])
    cut = speeds["now"] < 0
    assert cut.mean() < synthetic._CREDIT_RATE + 0.01, "only a credit (4% of months) cuts a plan item"
    speeds = speeds[~speeds["line_id"].isin(speeds.loc[cut, "line_id"])]
    assert (speeds["now"] <= speeds["rung"]).all(), "never faster than today"
    wide = speeds.pivot(index="line_id", columns="month", values="now")
    steps = wide.diff(axis=1).iloc[:, 1:]
    assert (steps >= 0).all().all(), f"a line never slows down over time: {steps[(steps < 0).any(axis=1)].head()}"
    today = speeds[speeds["month"] == "2023-01"]
    assert (today["now"] == today["rung"]).all(), "from 2023 every line is on its roster plan"
    for month in SPEED_MONTHS:
        f = synthetic._speed_reached(synthetic._month_index(month, "", ""))
        on = speeds[(speeds["month"] == month) & (speeds["rung"] >= 1)]
        # the share of today's GiGA lines on GiGA then is F_1 (binomial noise on ~700 lines)
        assert (on["now"] >= 1).mean() == pytest.approx(f[0], abs=0.06), month
        fast = on[on["rung"] >= 2]
        assert (fast["now"] >= 2).mean() == pytest.approx(f[1], abs=0.08), month
    late_2018 = speeds[speeds["month"] == "2018-09"]
    assert (late_2018.loc[late_2018["rung"] == 3, "now"] <= 2).all(), "no multi-gig before 2018-11"
    # KT: GiGA (500M and 1G) about 60% of its broadband customers in Q3 2019 (facts §6)
    q3_2019 = speeds[speeds["month"] == "2019-09"]
    assert (q3_2019["now"] >= 1).mean() == pytest.approx(0.60, abs=0.05)


def test_the_sample_internet_basis_in_late_2018_is_what_kt_paid_at_ahyeon() -> None:
    # 2018 Ahyeon: 48.2억 to 198,109 internet customers = 24,330 won each, one month of the
    # Aug–Oct 2018 bills without one-offs, international calls and information fees (facts §3).
    roster = pq.read_table(SAMPLE / "roster.parquet", columns=["line_id", "service"]).to_pandas()
    items = pq.read_table(SAMPLE / "bill_items.parquet").to_pandas()
    internet = items[items["line_id"].isin(roster.loc[roster["service"] == "internet", "line_id"])
                     & items["bill_month"].isin(["2018-08", "2018-09", "2018-10"])
                     & ~items["item"].isin(["one_off", "international", "information_fee"])]
    basis = internet.groupby("line_id")["amount_krw"].sum() / 3
    assert basis.mean() == pytest.approx(24_330, rel=0.02)


# ---- other rosters --------------------------------------------------------------------------


def test_a_roster_without_plans_or_with_odd_fees(roster_path: Path, tmp_path: Path) -> None:
    table = pq.read_table(roster_path, columns=["line_id", "service", "monthly_fee_krw", "plan"]).slice(0, 1_500)
    fee = table.column("monthly_fee_krw").to_numpy().copy()
    fee[::7] += 3  # fees that do not end in 0: the bill cuts them
    plans = table.column("plan").to_pylist()
    plans[::5] = ["요금제 X"] * len(plans[::5])  # a plan the generator does not know
    odd = pa.table({"line_id": table.column("line_id"), "service": table.column("service"),
                    "monthly_fee_krw": pa.array(fee), "plan": pa.array(plans)})
    bare = odd.select(["line_id", "service", "monthly_fee_krw"])
    for name, roster in (("odd", odd), ("bare", bare)):
        folder = tmp_path / name
        folder.mkdir()
        pq.write_table(roster, folder / "roster.parquet")
        items = pq.read_table(generate_bill_items(folder / "roster.parquet", 5, folder, months=["2024-07"])).to_pandas()
        bills = pq.read_table(generate_bills(folder / "roster.parquet", 5, folder, first_month="2024-07",
                                             months=1)).to_pandas()
        total = items.groupby("line_id")["amount_krw"].sum()
        assert (total.reindex(bills["line_id"]).to_numpy() == bills["amount_krw"].to_numpy()).all(), name
        discount = items["item"].isin(DISCOUNT_ITEMS)
        assert (items.loc[discount, "amount_krw"] <= 0).all() and (items.loc[~discount, "amount_krw"] >= 0).all()
        if name == "bare":
            assert not discount.any(), "without a plan the whole fee is the plan item"


@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(lines=st.integers(1, 800), seed=st.integers(0, 2**63),
       months=st.lists(st.sampled_from(["2018-08", "2018-09", "2018-10", "2021-10", "2024-07", "2024-12"]),
                       min_size=1, max_size=4, unique=True),
       chunk=st.integers(1, 300))
def test_any_roster_seed_and_months_add_up(lines: int, seed: int, months: list[str], chunk: int,
                                           tmp_path_factory: pytest.TempPathFactory) -> None:
    tmp = tmp_path_factory.mktemp("any")
    roster = generate_roster(lines, seed % 1000, tmp)
    items = pq.read_table(generate_bill_items(roster, seed, tmp, months=months, chunk_lines=chunk)).to_pandas()
    total = items.groupby(["line_id", "bill_month"])["amount_krw"].sum()
    for month in months:
        bills = pq.read_table(generate_bills(roster, seed, tmp, first_month=month, months=1)).to_pandas()
        assert (total.xs(month, level="bill_month").reindex(bills["line_id"]).to_numpy()
                == bills["amount_krw"].to_numpy()).all()


# ---- bad input ------------------------------------------------------------------------------


@pytest.mark.parametrize("months", [[], "2023-01", ["2023-13"], ["2023-01", "2023-01"], None, ["2023-1"]])
def test_months_must_be_a_list_of_distinct_months(roster_path: Path, months: object, tmp_path: Path) -> None:
    with pytest.raises(InputError, match="months"):
        generate_bill_items(roster_path, 1, tmp_path, months=months)  # type: ignore[arg-type]
    assert list(tmp_path.iterdir()) == []


def test_bad_roster_and_out_dir(roster_path: Path, tmp_path: Path) -> None:
    with pytest.raises(InputError, match="roster not found"):
        generate_bill_items(tmp_path / "nope.parquet", 1, tmp_path, months=["2023-01"])
    a_file = tmp_path / "items.txt"
    a_file.write_text("not a directory")
    with pytest.raises(InputError, match="is a file"):
        generate_bill_items(roster_path, 1, a_file, months=["2023-01"])


def test_progress_counts_line_months_and_a_failed_write_leaves_no_file(roster_path: Path, tmp_path: Path) -> None:
    seen: list[tuple[int, int]] = []
    generate_bill_items(roster_path, SEED, tmp_path, months=["2023-01", "2023-02"], chunk_lines=1_500,
                        progress=lambda d, t: seen.append((d, t)))
    assert seen == [(3_000, 10_000), (6_000, 10_000), (9_000, 10_000), (10_000, 10_000)]

    def boom(done: int, total: int) -> None:
        raise RuntimeError("interrupted")

    with pytest.raises(RuntimeError):
        generate_bill_items(roster_path, SEED, tmp_path / "x", months=["2023-01"], progress=boom)
    assert list((tmp_path / "x").iterdir()) == []


# ---- generate_bills is unchanged; the committed sample --------------------------------------


@pytest.fixture(scope="module")
def sample_head(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The first 5,000 lines of the committed sample roster, as a roster file of their own."""
    folder = tmp_path_factory.mktemp("head")
    pq.write_table(pq.read_table(SAMPLE / "roster.parquet").slice(0, LINES), folder / "roster.parquet")
    return folder / "roster.parquet"


def test_generate_bills_writes_the_same_bytes_as_before_bill_items(sample_head: Path, tmp_path: Path) -> None:
    path = generate_bills(sample_head, 20211025, tmp_path, first_month="2023-01", months=3)
    assert hashlib.sha256(path.read_bytes()).hexdigest() == BILLS_BEFORE_ITEMS_SHA256
    # And the same values as the committed sample (independent of the pyarrow version's bytes).
    committed = pq.read_table(SAMPLE / "bills.parquet").to_pandas()
    committed = committed[(committed["line_id"] <= LINES) & (committed["bill_month"] <= "2023-03")]
    pd.testing.assert_frame_equal(pq.read_table(path).to_pandas(), committed.reset_index(drop=True))


def test_items_of_the_sample_add_up_to_the_committed_sample_bills(sample_head: Path) -> None:
    months = ["2023-06", "2023-09"]
    with tempfile.TemporaryDirectory() as tmp:
        items = pq.read_table(generate_bill_items(sample_head, 20211025, tmp, months=months)).to_pandas()
    committed = pq.read_table(SAMPLE / "bills.parquet").to_pandas()
    committed = committed[(committed["line_id"] <= LINES) & committed["bill_month"].isin(months)]
    total = items.groupby(["line_id", "bill_month"])["amount_krw"].sum()
    joined = committed.set_index(["line_id", "bill_month"])["amount_krw"].to_frame("bill").join(total)
    assert len(joined) == LINES * len(months)
    assert (joined["bill"] == joined["amount_krw"]).all()
    share = items.groupby("item")["line_id"].nunique() / LINES
    assert np.isclose(share["plan"], 1.0, atol=0.02) and share["selective_discount"] > 0.1
