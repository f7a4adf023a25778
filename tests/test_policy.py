"""Policies: the catalogue loads; every bad file is an InputError naming the file and the key."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import POLICIES, write

from kt_analysis.errors import InputError
from kt_analysis.inputs.policy import Eligibility, Tier, load_policy, resolve_policy

CATALOGUE = sorted(POLICIES.glob("*.yml"))

GOOD = """
id: test-policy
title: 시험 정책
sources: [https://example.org/terms]
services: [mobile, internet]
eligibility:
  min_continuous_minutes: 120
  min_monthly_cumulative_minutes: 360
hourly_fee:
  hours_per_month: 720
credit:
  outage_multiplier: 10
  billable_time: {unit_minutes: 60, mode: up, applies_to: outage}
  flat_days_of_fee: 1
  overrides:
    - when: {customer_type: small_business, services: [internet, landline]}
      days_of_fee: 10
    - when: {customer_type: small_business}
      tiers_by_outage_days: [{from_days: 1, krw: 400000}, {from_days: 3, krw: 800000}]
  rounding: {unit_krw: 1, mode: half_up}
delivery:
  method: bill_credit
  claim_required: false
  claim_window_days: 30
  applied_on: next_bill
"""


def test_catalogue_is_not_empty():
    assert len(CATALOGUE) >= 5


@pytest.mark.parametrize("path", CATALOGUE, ids=lambda p: p.stem)
def test_every_catalogue_policy_loads_and_cites_a_source(path):
    policy = load_policy(path)
    assert policy.id == path.stem
    assert policy.sources and all(s.startswith("https://") for s in policy.sources)
    assert policy.services
    assert len(policy.sha256) == 64
    assert all(isinstance(s, str) and s for s in policy.describe())


def test_design_example_loads_with_every_part(tmp_path):
    policy = load_policy(write(tmp_path / "p.yml", GOOD))
    assert policy.eligibility == Eligibility(120, 360, False)
    assert policy.hours_per_month == 720
    assert policy.credit.outage_multiplier == 10 and policy.credit.days_of_fee == 1
    assert policy.credit.billable_time.unit_minutes == 60
    first, second = policy.overrides
    assert first.when.customer_types == ("small_business",)
    assert first.when.services == ("internet", "landline")
    assert first.credit.days_of_fee == 10 and first.combine == "replace"
    assert second.credit.tiers_by_outage_days == (Tier(1, 400_000), Tier(3, 800_000))
    assert policy.rounding.mode == "half_up"
    assert policy.delivery.claim_window_days == 30


def test_kt_2021_special_reads_as_announced():
    policy = load_policy(POLICIES / "kt-2021-10-25-special.yml")
    assert policy.services == ("mobile", "internet", "landline")
    assert policy.eligibility.everyone
    assert policy.credit.billable_time.applies_to == "multiplied"


def test_days_in_month_is_accepted(tmp_path):
    text = GOOD.replace("hours_per_month: 720", "hours_per_month: days_in_month")
    assert load_policy(write(tmp_path / "p.yml", text)).hours_per_month == "days_in_month"


def test_resolve_policy_by_id_and_unknown_id_lists_the_catalogue(tmp_path):
    root = POLICIES.parents[1]
    assert (
        resolve_policy("kt-terms-2022", root, "x.yml", "policy") == POLICIES / "kt-terms-2022.yml"
    )
    with pytest.raises(InputError) as err:
        resolve_policy("kt-terms-2099", root, "x.yml", "policy")
    assert "kt-terms-2099" in str(err.value) and "kt-terms-2022" in str(err.value)


def _bad(tmp_path: Path, text: str) -> str:
    path = write(tmp_path / "bad.yml", text)
    with pytest.raises(InputError) as err:
        load_policy(path)
    message = str(err.value)
    assert message.startswith(str(path) + ":"), message
    assert err.value.exit_code == 2
    assert " — " in message  # every message says how to fix it
    return message


@pytest.mark.parametrize(
    ("old", "new", "key", "words"),
    [
        (
            "  outage_multiplier: 10\n",
            "  outage_multiplier: 10\n  outage_multplier: 10\n",
            "credit.outage_multplier",
            "not a known key",
        ),
        ("services:", "sevices: [mobile]\nservices:", "sevices", "not a known key"),
        (
            "applies_to: outage}",
            "applies_to: outage, unit: 1}",
            "credit.billable_time.unit",
            "not a known key",
        ),
        (
            "{customer_type: small_business}",
            "{customer_typ: small_business}",
            "credit.overrides[1].when.customer_typ",
            "not a known key",
        ),
        (
            "outage_multiplier: 10",
            "outage_multiplier: 10.5",
            "credit.outage_multiplier",
            "whole number",
        ),
        (
            "outage_multiplier: 10",
            "outage_multiplier: '10'",
            "credit.outage_multiplier",
            "whole number",
        ),
        ("outage_multiplier: 10", "outage_multiplier: -10", "credit.outage_multiplier", "minimum"),
        ("flat_days_of_fee: 1", "flat_days_of_fee: -1", "credit.flat_days_of_fee", "minimum"),
        (
            "min_continuous_minutes: 120",
            "min_continuous_minutes: -120",
            "eligibility.min_continuous_minutes",
            "minimum",
        ),
        (
            "{from_days: 3, krw: 800000}",
            "{from_days: 3, krw: -800000}",
            "credit.overrides[1].tiers_by_outage_days[1].krw",
            "minimum",
        ),
        (
            "{from_days: 3, krw: 800000}",
            "{from_days: 1, krw: 800000}",
            "credit.overrides[1].tiers_by_outage_days[1].from_days",
            "go up",
        ),
        (
            "{from_days: 3, krw: 800000}",
            "{from_days: 3, krw: 300000}",
            "credit.overrides[1].tiers_by_outage_days[1].krw",
            "less than the tier before",
        ),
        (
            "unit_krw: 1, mode: half_up",
            "unit_krw: 1, mode: round",
            "credit.rounding.mode",
            "'round'",
        ),
        (
            "unit_krw: 1, mode: half_up",
            "unit_krw: 0, mode: half_up",
            "credit.rounding.unit_krw",
            "minimum",
        ),
        (
            "mode: up, applies_to",
            "mode: sideways, applies_to",
            "credit.billable_time.mode",
            "sideways",
        ),
        (
            "hours_per_month: 720",
            "hours_per_month: days",
            "hourly_fee.hours_per_month",
            "whole number",
        ),
        ("hours_per_month: 720", "hours_per_month: 0", "hourly_fee.hours_per_month", "minimum"),
        ("services: [mobile, internet]", "services: [mobile, fax]", "services[1]", "'fax'"),
        ("id: test-policy", "id: Test Policy", "id", "not a valid id"),
        (
            "  flat_days_of_fee: 1\n",
            "  flat_days_of_fee: 1\n  days_of_fee: 2\n",
            "credit.days_of_fee",
            "together",
        ),
        ("method: bill_credit", "method: cheque", "delivery.method", "'cheque'"),
        (
            "claim_required: false",
            "claim_required: maybe",
            "delivery.claim_required",
            "true or false",
        ),
        (
            "- when: {customer_type: small_business}",
            "- when: {}",
            "credit.overrides[1].when",
            "every line",
        ),
        ("title: 시험 정책\n", "", "title", "missing"),
    ],
)
def test_bad_values_name_file_and_key(tmp_path, old, new, key, words):
    assert old in GOOD
    message = _bad(tmp_path, GOOD.replace(old, new, 1))
    assert f": {key}: " in message, message
    assert words in message, message


def test_custom_tag_is_refused_and_never_run(tmp_path):
    marker = tmp_path / "pwned"
    text = GOOD.replace(
        "outage_multiplier: 10",
        f"outage_multiplier: !!python/object/apply:os.system ['touch {marker}']",
    )
    message = _bad(tmp_path, text)
    assert "line 11" in message and "tag" in message
    assert not marker.exists()


def test_alias_bomb_is_refused(tmp_path):
    bomb = "a: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n" + "".join(
        f"{c}: &{c} [*{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}]\n"
        for p, c in zip("abcdefgh", "bcdefghi", strict=True)
    )
    message = _bad(tmp_path, bomb)
    assert "alias" in message and "line 2" in message


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("", "empty"),
        ("# only a comment\n", "empty"),
        ("- id: x\n- id: y\n", "mapping"),
        ("just text\n", "mapping"),
        ("id: [unclosed\n", "line"),
        ("id: x\ntitle: t\nservices: [mobile]\ncredit: 10\n", "credit: must be a mapping"),
    ],
)
def test_not_a_policy_mapping(tmp_path, text, words):
    assert words in _bad(tmp_path, text)


def test_not_utf8_and_missing_file(tmp_path):
    path = tmp_path / "cp949.yml"
    path.write_bytes(GOOD.encode("cp949"))
    with pytest.raises(InputError, match="UTF-8"):
        load_policy(path)
    with pytest.raises(InputError, match="not found"):
        load_policy(tmp_path / "nope.yml")


def test_timestamps_are_not_guessed(tmp_path):
    # A date-like note stays text (PyYAML's timestamp guessing is switched off).
    policy = load_policy(write(tmp_path / "p.yml", GOOD + "notes: 2021-10-25\n"))
    assert policy.notes == "2021-10-25"


def test_kt_2021_special_leaves_pstn_plans_out():
    """Only internet phones were compensated in 2021, not PSTN (zdnet 20211105142350, bizwatch)."""
    policy = load_policy(POLICIES / "kt-2021-10-25-special.yml")
    assert policy.exclude_plans == ("일반전화 기본", "일반전화 정액")
    assert any("zdnet.co.kr" in s for s in policy.sources)
    assert "보상 제외 요금제: 일반전화 기본, 일반전화 정액 (대상 서비스라도 이 요금제의 회선은 보상 없음)." in \
        policy.describe()


def test_exclude_plans_are_read_normalised(tmp_path):
    """Plan names are compared as region names are: NFC, surrounding spaces trimmed; one name alone
    is a list of one. A policy without the key excludes nothing (and says nothing about plans)."""
    import unicodedata

    nfd = unicodedata.normalize("NFD", "일반전화 기본")
    text = GOOD.replace("services: [mobile, internet]\n",
                        f"services: [mobile, internet, landline]\nexclude_plans: ['{nfd}\u3000', 인터넷전화 정액]\n")
    policy = load_policy(write(tmp_path / "p.yml", text))
    assert policy.exclude_plans == ("일반전화 기본", "인터넷전화 정액") and policy.plan_values is None
    assert policy.describe()[1].startswith("보상 제외 요금제: 일반전화 기본, 인터넷전화 정액")
    one = load_policy(write(tmp_path / "one.yml", GOOD.replace("services: [mobile, internet]\n",
                                                               "services: [mobile]\nexclude_plans: 5G 슬림\n")))
    assert one.exclude_plans == ("5G 슬림",)
    plain = load_policy(write(tmp_path / "plain.yml", GOOD))
    assert plain.exclude_plans == () and not any("요금제:" in line for line in plain.describe())


@pytest.mark.parametrize(
    ("value", "key", "words"),
    [
        ("[]", "exclude_plans", "is an empty list"),
        ("{일반전화 기본: true}", "exclude_plans", "must be a list"),
        ("['  ']", "exclude_plans[0]", "is blank"),
        ("[일반전화 기본, '\u3000', 인터넷전화]", "exclude_plans[1]", "is blank"),
        ("[일반전화 기본, 일반전화 정액, ' 일반전화 기본']", "exclude_plans[2]", "again (also exclude_plans[0])"),
        ("[일반전화 기본, '\u110b\u1175\u11af\u1107\u1161\u11ab\u110c\u1165\u11ab\u1112\u116a \u1100\u1175"
         "\u1107\u1169\u11ab']", "exclude_plans[1]", "again (also exclude_plans[0])"),  # the NFD spelling
        ("[일반전화 기본, null]", "exclude_plans[1]", "found nothing"),
        ("[[일반전화 기본]]", "exclude_plans[0]", "text"),
        ("[true]", "exclude_plans[0]", "text"),
    ],
    ids=["empty", "mapping", "blank", "ideographic-space", "twice", "twice-nfd", "null", "nested", "boolean"],
)
def test_bad_exclude_plans_are_refused_naming_the_key(tmp_path, value, key, words):
    message = _bad(tmp_path, GOOD.replace("services: [mobile, internet]\n",
                                          f"services: [mobile, internet]\nexclude_plans: {value}\n"))
    assert f": {key}: " in message, message
    assert words in message, message
