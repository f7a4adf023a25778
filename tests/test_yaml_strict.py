"""Strict YAML: a key written twice is refused at any depth, plain scalars follow the YAML 1.2 core
schema (``yes``, ``0012``, ``1:30``, ``1_000`` are not silently turned into booleans or other
numbers), and a value read as text is the text as written (``0012`` stays ``"0012"``).

The small project is a copy of ``tests/data/bad/`` (a 5-line roster, the policy ``bad-corpus-10x``
and the settlement rules ``bad-corpus``). Names are checked at the loader (``load_incident``),
not by a run: a run refuses a facility the roster lacks.
"""

from __future__ import annotations

import copy
import pickle
import re
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from refusal import small_project

from kt_analysis.errors import InputError
from kt_analysis.inputs.incident import load_incident
from kt_analysis.inputs.policy import load_policy
from kt_analysis.inputs.settlement import load_settlement
from kt_analysis.inputs.yamlio import YamlFloat, YamlInt, _StrictLoader, read_yaml_mapping

ROOT = Path(__file__).resolve().parents[1]
CATALOGUE = sorted((ROOT / "kt_analysis" / "catalogue").glob("policies/*.yml")) \
    + sorted((ROOT / "data").glob("incidents/*.yml")) \
    + sorted((ROOT / "kt_analysis" / "catalogue").glob("settlement/*.yml"))

HEAD = """id: yaml-strict
title: 시험용 사고
kind: outage
timezone: Asia/Seoul
policy: bad-corpus-10x
roster: roster.csv
affected:
"""
WINDOW = "  windows:\n    - {{start: 2024-03-04T10:00, end: 2024-03-04T12:00, where: {where}}}\n"

POLICY = """id: yaml-strict-policy
title: 시험용
services: [mobile, internet, iptv, landline]
hourly_fee: {hours_per_month: 720}
credit:
  outage_multiplier: 10
  rounding: {unit_krw: 1, mode: floor}
"""

SETTLEMENT = """id: yaml-strict-settlement
title: 시험용 정산 규칙
methods:
  credit_card: {action: cancel, lag_business_days: 0}
  check_card: {action: refund, lag_business_days: 1}
"""


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return small_project(tmp_path_factory.mktemp("yaml") / "project")


def write(project: Path, rel: str, text: str) -> Path:
    path = project / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def incident(project: Path, name: str, where: str = "all", extra: str = "") -> Path:
    return write(project, f"incidents/{name}.yml", HEAD + WINDOW.format(where=where) + extra)


def refused(fn, *args, **kwargs) -> InputError:  # noqa: ANN001, ANN002, ANN003
    with pytest.raises(InputError) as info:
        fn(*args, **kwargs)
    err = info.value
    assert err.fix, err.message
    assert "\n" not in err.message or hasattr(err, "errors"), err.message
    return err


def loads(text: str):  # noqa: ANN201
    return yaml.load(text, Loader=_StrictLoader)  # noqa: S506 - a SafeLoader


# ----- duplicate keys --------------------------------------------------------------------------

def test_duplicate_top_level_key_in_an_incident(project: Path) -> None:
    path = write(project, "incidents/dup-top.yml", HEAD.replace("kind: outage\n", "kind: outage\nkind: outage\n")
                 + WINDOW.format(where="all"))
    err = refused(load_incident, path)
    assert err.path == str(path)
    assert err.where == "line 4, column 1"
    assert err.problem == "key 'kind' appears twice (first at line 3)"
    assert "keep one `kind:`" in err.fix


def test_duplicate_key_in_a_window_is_refused_with_its_place(project: Path) -> None:
    path = incident(project, "dup-nested", "{regions: [서울], regions: [부산]}")
    err = refused(load_incident, path)
    assert err.where == "line 9, column 79"
    assert err.problem == "key 'regions' in affected.windows[0].where appears twice (first at line 9)"


def test_duplicate_key_in_a_policy_credit(project: Path) -> None:
    """The case that changed a policy's credit from 3,332 to 121,526 won: the last one won."""
    path = write(project, "data/policies/dup-credit.yml",
                 POLICY.replace("  outage_multiplier: 10\n", "  outage_multiplier: 10\n  outage_multiplier: 365\n"))
    err = refused(load_policy, path)
    assert err.where == "line 7, column 3"
    assert "key 'outage_multiplier' in credit appears twice (first at line 6)" in err.message
    path = write(project, "data/policies/dup-section.yml", POLICY + "credit:\n  days_of_fee: 1\n")
    err = refused(load_policy, path)
    assert err.problem == "key 'credit' appears twice (first at line 5)"


def test_duplicate_key_in_settlement_rules(project: Path) -> None:
    path = write(project, "data/settlement/dup.yml", SETTLEMENT.replace(
        "  check_card: {action: refund, lag_business_days: 1}\n",
        "  check_card: {action: refund, lag_business_days: 1}\n  credit_card: {action: refund}\n"))
    err = refused(load_settlement, path)
    assert err.problem == "key 'credit_card' in methods appears twice (first at line 4)"
    path = write(project, "data/settlement/dup-deep.yml", SETTLEMENT.replace(
        "lag_business_days: 0}", "lag_business_days: 0, lag_business_days: 5}"))
    err = refused(load_settlement, path)
    assert "key 'lag_business_days' in methods.credit_card appears twice" in err.problem


@pytest.mark.parametrize(("text", "problem"), [
    ("a: 1\n0x61: 2\nb: {1: x, 0x1: y}\n", "key '0x1' in b appears twice (first at line 3 as '1')"),
    ("l:\n  - {x: 1}\n  - {y: 1, y: 2}\n", "key 'y' in l[1] appears twice (first at line 3)"),
    ("a:\n  b:\n    c: [{d: 1, 'd': 2}]\n", "key 'd' in a.b.c[0] appears twice (first at line 3)"),
    ("true: 1\n1: 2\n", "key '1' appears twice (first at line 1 as 'true')"),  # one key to Python's dict
])
def test_duplicate_keys_at_any_depth(tmp_path: Path, text: str, problem: str) -> None:
    path = write(tmp_path, "x.yml", text)
    err = refused(read_yaml_mapping, path, "input")
    assert err.problem == problem
    assert re.fullmatch(r"line \d+, column \d+", err.where)


def test_a_merge_key_is_an_ordinary_unknown_key(project: Path) -> None:
    """YAML 1.1's ``<<`` would merge the mapping in and let a later key silently override it."""
    assert loads("a: {<<: {b: 1}, b: 2}") == {"a": {"<<": {"b": 1}, "b": 2}}
    path = write(project, "data/policies/merge.yml",
                 POLICY.replace("  outage_multiplier: 10\n",
                                "  <<: {outage_multiplier: 365}\n  outage_multiplier: 10\n"))
    err = refused(load_policy, path)
    assert err.where == "credit.<<" and err.problem == "is not a known key"


# ----- the YAML 1.2 core schema ----------------------------------------------------------------

@pytest.mark.parametrize(("text", "value"), [
    ("~", None), ("null", None), ("Null", None), ("NULL", None), ("", None),
    ("true", True), ("True", True), ("TRUE", True), ("false", False), ("False", False), ("FALSE", False),
    ("12", 12), ("-12", -12), ("+12", 12), ("0012", 12), ("0o17", 15), ("0x1F", 31), ("0", 0),
    ("1.10", 1.1), (".5", 0.5), ("1e3", 1000.0), ("-1.5E-2", -0.015), ("1.", 1.0), (".inf", float("inf")),
    ("-.Inf", float("-inf")),
])
def test_core_schema_values(text: str, value: object) -> None:
    got = loads(f"v: {text}\n")["v"]
    assert got == value and type(got) in {type(None): (type(None),), bool: (bool,), int: (YamlInt,),
                                          float: (YamlFloat,)}[type(value)]
    if isinstance(got, YamlInt | YamlFloat):
        assert got.source == text


@pytest.mark.parametrize("text", [
    "yes", "no", "on", "off", "Yes", "NO", "On", "OFF", "y", "n", "Y", "N", "1:30", "190:20:30", "1_000",
    "0b101", "0B101", "0o8", "0x", "0X1F", "0xG", "tRUE", "nULL", "1__0", "12e", "e3", "0x_1F", "-0o17", "+0x1F",
    ".NaN0", "2024-03-04", "2024-03-04T10:00", "10:00",
])
def test_everything_else_is_text(text: str) -> None:
    assert loads(f"v: {text}\n") == {"v": text}


@pytest.mark.parametrize("text", ["!!int 1_000", "!!int 0b101", "!!int 1:30", "!!bool yes", "!!float 1_0.5",
                                  "!!null nothing"])
def test_explicit_tags_follow_the_core_schema_too(tmp_path: Path, text: str) -> None:
    err = refused(read_yaml_mapping, write(tmp_path, "x.yml", f"v: {text}\n"), "input")
    assert "cannot be read as" in err.problem and "without a YAML tag" in err.fix


def test_a_number_keeps_its_text_through_copy_and_pickle() -> None:
    value = loads("v: 0x1F\n")["v"]
    for twin in (copy.deepcopy(value), pickle.loads(pickle.dumps(value))):  # noqa: S301 - our own bytes
        assert twin == 31 and twin.source == "0x1F"
    half = loads("v: 1.10\n")["v"]
    assert copy.copy(half).source == "1.10"


# ----- text stays as written -------------------------------------------------------------------

def test_facilities_are_read_as_written(project: Path) -> None:
    path = incident(project, "facilities", "{facilities: [0012, 0x1F, 1:30, 1_000, 0o17]}")
    inc = load_incident(path)
    assert inc.windows[0].facilities == ("0012", "0x1F", "1:30", "1_000", "0o17")


def test_regions_are_read_as_written(project: Path) -> None:
    path = incident(project, "regions", "{regions: [no, on, yes, 'off', 1.10, .5, 1e3, +12, 0b101, 007]}")
    inc = load_incident(path)
    assert inc.windows[0].regions == ("no", "on", "yes", "off", "1.10", ".5", "1e3", "+12", "0b101", "007")


def test_a_single_number_name_is_a_list_of_one(project: Path) -> None:
    inc = load_incident(incident(project, "one-name", "{facilities: 0012}"))
    assert inc.windows[0].facilities == ("0012",)


@pytest.mark.parametrize("word", ["true", "False", "TRUE"])
def test_a_boolean_where_a_name_belongs_is_refused(project: Path, word: str) -> None:
    err = refused(load_incident, incident(project, "bool-name", f"{{facilities: [F1, {word}]}}"))
    assert err.where == "affected.windows[0].where.facilities[1]"
    assert f"found {word.lower()}" in err.problem
    assert f"quote it: '{word.lower()}'" in err.fix


def test_nothing_where_a_name_belongs_is_refused(project: Path) -> None:
    err = refused(load_incident, incident(project, "null-name", "{regions: [서울, ~]}"))
    assert err.where == "affected.windows[0].where.regions[1]" and "found nothing" in err.problem


def test_text_fields_keep_a_number_as_written(project: Path) -> None:
    path = write(project, "data/policies/numeric-text.yml", POLICY.replace("title: 시험용", "title: 1.10")
                 + "notes: 0012\nsources: [2024, 0x1F]\n")
    policy = load_policy(path)
    assert (policy.title, policy.notes, policy.sources) == ("1.10", "0012", ("2024", "0x1F"))


def test_a_boolean_title_is_refused_with_quote_it(project: Path) -> None:
    path = write(project, "data/policies/bool-title.yml", POLICY.replace("title: 시험용", "title: yes"))
    assert load_policy(path).title == "yes"  # YAML 1.2: text
    path = write(project, "data/policies/bool-title.yml", POLICY.replace("title: 시험용", "title: true"))
    err = refused(load_policy, path)
    assert err.where == "title" and "found true" in err.problem and "quote it" in err.fix


# ----- numbers where numbers are expected ------------------------------------------------------

def test_numbers_are_read_where_numbers_are_expected(project: Path) -> None:
    path = write(project, "data/policies/numbers.yml",
                 POLICY.replace("outage_multiplier: 10", "outage_multiplier: 0x0A")
                 .replace("unit_krw: 1,", "unit_krw: +10,").replace("hours_per_month: 720", "hours_per_month: 0720"))
    policy = load_policy(path)
    assert policy.credit.outage_multiplier == 10 and type(policy.credit.outage_multiplier) is int
    assert policy.rounding.unit_krw == 10 and type(policy.rounding.unit_krw) is int
    assert policy.hours_per_month == 720 and type(policy.hours_per_month) is int


@pytest.mark.parametrize(("value", "found", "fix"), [
    ("true", "found true", "true and false are not numbers"),
    ("on", "found 'on'", "without quotes"),
    ("'12'", "found '12'", "without quotes"),
    ("1:30", "found '1:30'", "without quotes"),
    ("1_000", "found '1_000'", "without quotes"),
    ("1.50", "found 1.50", "write an integer"),
    ("1e3", "found 1e3", "write an integer"),
])
def test_other_values_where_a_number_is_expected_are_refused(project: Path, value: str, found: str,
                                                             fix: str) -> None:
    path = write(project, "data/policies/not-a-number.yml",
                 POLICY.replace("outage_multiplier: 10", f"outage_multiplier: {value}"))
    err = refused(load_policy, path)
    assert err.where == "credit.outage_multiplier"
    assert found in err.problem and fix in err.fix


@pytest.mark.parametrize(("value", "found"), [("yes", "'yes'"), ("on", "'on'"), ("1", "1"), ("'true'", "'true'")])
def test_yes_no_on_off_where_a_boolean_is_expected_are_refused(project: Path, value: str, found: str) -> None:
    path = write(project, "data/policies/not-a-bool.yml",
                 POLICY + f"delivery: {{method: bill_credit, claim_required: {value}}}\n")
    err = refused(load_policy, path)
    assert err.where == "delivery.claim_required" and f"found {found}" in err.problem
    assert "write true or false" in err.fix


def test_settlement_dates_and_months_are_read_as_written(project: Path) -> None:
    """A date or month written as a number is refused, not read through str() of the number."""
    good = (project / "incidents" / "good-billing.yml").read_text(encoding="utf-8")
    for old, new, expect in [
        ('wrong_month: "2023-09"', "wrong_month: 0x7E7", "0x7E7 is not a month"),
        ("charged_on: 2023-09-11", "charged_on: +20230911", "+20230911 is not a date"),
        ("charged_on: 2023-09-11", "charged_on: true", "true is not a date"),
    ]:
        path = write(project, "incidents/billing-number.yml", good.replace(old, new))
        err = refused(load_incident, path)
        assert expect in err.message, err.message
    path = write(project, "incidents/billing-cycle.yml",
                 good.replace("  settlement: bad-corpus\n",
                              "  settlement: bad-corpus\n  bill_cycle_days: [0x0B, 19]\n"))
    cycle = load_incident(path).billing.bill_cycle_days
    assert cycle == (11, 19) and all(type(d) is int for d in cycle)


# ----- the catalogue reads as it always did ----------------------------------------------------

class _Yaml11(yaml.SafeLoader):
    """The loader before: YAML 1.1, timestamps kept as text."""


_Yaml11.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def _typed(value: object) -> object:
    if isinstance(value, dict):
        return {_typed(k): _typed(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_typed(v) for v in value]
    base = bool if isinstance(value, bool) else int if isinstance(value, int) else float \
        if isinstance(value, float) else type(value)
    return (base.__name__, base(value) if value is not None else None)


@pytest.mark.parametrize("path", CATALOGUE, ids=[f"{p.parent.name}/{p.name}" for p in CATALOGUE])
def test_catalogue_files_read_the_same_as_under_yaml_1_1(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    assert _typed(loads(text)) == _typed(yaml.load(text, Loader=_Yaml11))  # noqa: S506 - a SafeLoader


def test_catalogue_files_all_load() -> None:
    assert len(CATALOGUE) >= 10
    for path in CATALOGUE:
        if path.parent.name == "policies":
            load_policy(path)
        elif path.parent.name == "settlement":
            load_settlement(path)
        else:
            load_incident(path)


# ----- property: a scalar YAML 1.1 would coerce is read back as written, or refused -------------

def _any_case(words: list[str]) -> st.SearchStrategy[str]:
    return st.sampled_from(words).flatmap(
        lambda w: st.tuples(*[st.sampled_from(sorted({c.lower(), c.upper()})) for c in w]).map("".join))


COERCIBLE = st.one_of(
    st.from_regex(r"\A0[0-9]{1,6}\Z"),  # octal in YAML 1.1 (or not, with an 8 or 9)
    st.from_regex(r"\A[-+]?0[xX][0-9a-fA-F_]{1,6}\Z"),
    st.from_regex(r"\A[-+]?0[oO][0-9_]{1,6}\Z"),
    st.from_regex(r"\A[-+]?0[bB][0-9_]{1,8}\Z"),
    st.from_regex(r"\A[-+]?[0-9]{1,3}(:[0-5]?[0-9]){1,3}\Z"),  # sexagesimal 1:30, 190:20:30
    st.from_regex(r"\A[-+]?[0-9]{1,3}(_[0-9]{1,3}){1,3}(\.[0-9_]{0,3})?\Z"),
    _any_case(["yes", "no", "on", "off", "y", "n", "true", "false", "null"]),
    st.sampled_from(["~", ".inf", "-.Inf", ".NaN", ".nan", ".NAN"]),
    st.from_regex(r"\A[-+]?[0-9]{0,3}\.[0-9]{1,3}([eE][-+]?[0-9]{1,2})?\Z"),  # .5, 1.10, 1.5e3
    st.from_regex(r"\A[-+]?[0-9]{1,3}[eE][-+]?[0-9]{1,2}\Z"),  # 1e3
    st.from_regex(r"\A[-+][0-9]{1,6}\Z"),  # +12
)
REFUSED_AS_NOT_TEXT = re.compile(r"^(?:~|null|Null|NULL|true|True|TRUE|false|False|FALSE)$")


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(name=COERCIBLE, key=st.sampled_from(["facilities", "regions"]), flow=st.booleans(), others=st.booleans())
def test_a_scalar_yaml_1_1_would_coerce_is_read_as_written(project: Path, name: str, key: str, flow: bool,
                                                           others: bool) -> None:
    names = ["F1", name] if others else [name]
    if flow:
        where = f"{{{key}: [{', '.join(names)}]}}"
        path = incident(project, "property", where)
    else:
        block = "".join(f"          - {n}\n" for n in names)
        path = write(project, "incidents/property.yml", HEAD + (
            "  windows:\n    - start: 2024-03-04T10:00\n      end: 2024-03-04T12:00\n"
            f"      where:\n        {key}:\n{block}"))
    try:
        inc = load_incident(path)
    except InputError as err:
        assert REFUSED_AS_NOT_TEXT.match(name), f"{name!r} refused: {err.message}"
        assert name.lower() in err.message.lower().replace("nothing", "~ null"), err.message
        assert err.fix
        return
    assert not REFUSED_AS_NOT_TEXT.match(name), f"{name!r} accepted as {getattr(inc.windows[0], key)}"
    assert getattr(inc.windows[0], key) == tuple(names)
