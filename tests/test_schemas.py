"""The JSON Schemas of the YAML inputs (kt_analysis/schemas) agree with the loaders and the docs.

The loaders are the authority. These tests fail when a schema and its loader drift apart:

* every shipped policy, settlement file, calendar file and sample incident passes its schema;
* the keys a schema declares are the keys its loader reads, recorded while the loader reads the
  "full" documents below (together they set every key), with their defaults, choices and bounds;
  a key added to a loader and not to the schema (or the reverse) fails here;
* one change at a time to a full document (a key removed, an unknown key added, a value out of its
  choices or bounds, of the wrong type, blank, an empty list): the schema and the loader accept or
  refuse it alike, and ``validate`` reports the loader's message only, not the schema's as well;
* the docs (docs/incidents.md, docs/policy-language.md, docs/settlement.md) list exactly the keys
  of the schemas, once they exist.
"""

from __future__ import annotations

import copy
import inspect
import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml
from jsonschema import Draft202012Validator

from kt_analysis.errors import InputError, InputErrors
from kt_analysis.inputs import claims as claims_module
from kt_analysis.inputs.business_days import CalendarOverrides
from kt_analysis.inputs.incident import load_incident
from kt_analysis.inputs.policy import load_policy
from kt_analysis.inputs.schema import CAUSES, CUSTOMER_TYPES, ITEM_CATEGORIES, PAYMENT_METHODS, SERVICES
from kt_analysis.inputs.schemas import (
    KINDS,
    beyond_loader,
    document_kind,
    key_paths,
    load_schema,
    required_keys,
    schema_path,
    schema_problems,
)
from kt_analysis.inputs.settlement import load_settlement
from kt_analysis.inputs.yamlio import Section, read_yaml_mapping

ROOT = Path(__file__).resolve().parents[1]
CATALOGUE = ROOT / "kt_analysis" / "catalogue"
SHIPPED = [
    *sorted(CATALOGUE.glob("policies/*.yml")), *sorted(CATALOGUE.glob("settlement/*.yml")),
    *sorted(CATALOGUE.glob("calendar/*.yml")), *sorted((ROOT / "data" / "incidents").glob("*.yml")),
    *sorted((ROOT / "data" / "examples").glob("**/*.yml")),
]
LOADERS: dict[str, Callable[[Path], Any]] = {
    "incident": load_incident, "policy": load_policy, "settlement": load_settlement,
    "calendar": CalendarOverrides.load,
}
MISSING = inspect.signature(Section.raw).parameters["default"].default

# ---- full documents: together, each kind's set every key its loader reads ---------------------------

POLICY_A = {
    "id": "full-a", "title": "시험용 정책 A: 거의 모든 키", "sources": ["https://example.org/a"], "notes": "every key",
    "services": ["mobile", "internet", "iptv", "landline"],
    "exclude_plans": ["일반전화 기본"],
    "eligibility": {"min_continuous_minutes": 120, "min_monthly_cumulative_minutes": 360,
                    "monthly_cumulative_exceeds": True, "monthly_scope": "incident",
                    "below_threshold_on_claim": ["intent"]},
    "hourly_fee": {"hours_per_month": 720},
    "fee_basis": {"bills": ["2021-09", "2021-10"], "include": ["plan", "add_on"], "without_bill": "roster_fee"},
    "credit": {
        "outage_multiplier": 10,
        "billable_time": {"unit_minutes": 60, "mode": "up", "applies_to": "outage"},
        "days_of_fee": 1,
        "months_of_fee": 0,
        "tiers_by_outage_days": [{"from_days": 1, "krw": 1000}, {"from_days": 3, "krw": 2000}],
        "overrides": [
            {"when": {"customer_type": ["small_business"], "services": ["internet"], "regions": ["서울"]},
             "combine": "add", "paid_on_claim": True, "days_from": "claim",
             "tiers_by_outage_days": [{"from_days": 1, "krw": 400000}]},
            {"when": {"customer_types": ["enterprise"]},
             "eligibility": {"min_continuous_minutes": 60, "min_monthly_cumulative_minutes": 120,
                             "monthly_cumulative_exceeds": False, "monthly_scope": None,
                             "below_threshold_on_claim": ["gross_negligence"]},
             "combine": "replace", "paid_on_claim": False, "outage_multiplier": 3,
             "billable_time": {"unit_minutes": 30, "mode": "half_up", "applies_to": "multiplied"},
             "flat_days_of_fee": 2, "months_of_fee": 1},
        ],
        "rounding": {"unit_krw": 10, "mode": "floor"},
    },
    "delivery": {"method": "cash", "claim_required": True, "claim_window_days": 30, "applied_on": "2021-12-10"},
    "claims": {"opens_on": "2021-11-01", "window_days": 30, "processing_business_days": 5, "daily_capacity": 100,
               "credit_route": "cash", "cash_business_days": 3,
               "reclassification_evidence": "business_registration_no",
               "uptake": {"central": {"share": 0.5, "half_life_days": 7, "days": 20, "source": "a guess"},
                          "high": {"share": 0.8, "daily_shares": [3, 2, 1], "source": "a guess"}}},
}
POLICY_B = {
    "id": "full-b", "title": "시험용 정책 B: 나머지 갈래", "services": "mobile",
    "eligibility": {"min_monthly_cumulative_minutes": 360, "monthly_scope": "calendar_month"},
    "hourly_fee": {"hours_per_month": "days_in_month"},
    "fee_basis": {"bills_before_incident": 3, "exclude": ["device_instalment"]},
    "credit": {"outage_multiplier": 10, "flat_days_of_fee": 1,
               "overrides": [{"when": {"regions": "부산"}, "days_of_fee": 3}]},
    "delivery": {"method": "bill_credit", "applied_on": "next_bill"},
}
SETTLEMENT = {
    "id": "full", "title": "시험용 정산 규칙", "sources": ["https://example.org/s"],
    "methods": {
        "credit_card": {"action": "cancel", "dates": ["2023-09-11", "2023-09-12"], "recharge_dates": ["2023-09-12"],
                        "source": "announced"},
        "check_card": {"action": "refund", "lag_business_days": 1, "daily_capacity_lines": 1000,
                       "recharge_lag_business_days": 2, "source": "a lag"},
    },
}
CALENDAR = {
    "sources": ["국무회의 의결"],
    "holidays": [{"date": "2027-01-04", "name": "임시공휴일", "source": "decree"}],
    "non_banking_days": [{"date": "2027-01-05", "name": "은행 휴무", "source": "notice"}],
    "business_days": [{"date": "2027-01-06", "name": "취소된 휴일", "source": "decree"}],
}
OUTAGE = {
    "id": "full-outage", "title": "시험용 장애", "kind": "outage", "timezone": "Asia/Seoul",
    "policy": "policy-a.yml", "roster": "roster.csv", "notes": "every key", "sources": ["https://example.org/i"],
    "cause": "intent",
    "affected": {"services": ["mobile", "internet"], "allow_unmatched": True,
                 "windows": [{"start": "2024-03-04T10:00", "end": "2024-03-04T12:00", "services": ["mobile"],
                              "where": {"regions": ["서울"], "facilities": ["F1"]}}],
                 "windows_file": "windows.csv"},
    "bill_items": "bill_items.csv", "claims": "claims.csv",
}
BILLING = {
    "id": "full-billing", "title": "시험용 오청구", "kind": "billing_error", "timezone": "Asia/Seoul",
    "policy": "policy-b.yml", "roster": "roster.csv", "notes": "every key", "sources": ["https://example.org/b"],
    "billing": {"wrong_month": "2023-09", "charged_month": "2023-07", "bills": "bills.csv",
                "payment_methods": ["credit_card", "check_card"], "charged_on": "2023-09-11",
                "discovered_on": "2023-09-12", "settlement": "settlement.yml", "bill_cycle_days": [11],
                "services": ["mobile"]},
}
FULL: dict[str, list[dict[str, Any]]] = {
    "policy": [POLICY_A, POLICY_B], "settlement": [SETTLEMENT], "calendar": [CALENDAR],
    "incident": [OUTAGE, BILLING],
}

# What the loaders decide beyond one file's keys (the report lists these as not expressible).
CROSS_FILE = {
    # an outage whose policy computes credits on bills (fee_basis) needs bill_items: the policy decides
    ("incident", "bill_items"),
}
# Keys a loader requires only in some documents, which the schema states with a rule between keys.
CONDITIONAL = {
    "incident": {"policy", "affected", "billing"},  # by kind: an outage's, a billing error's
    "policy": {"fee_basis.bills", "fee_basis.bills_before_incident",  # one of the two
               "claims.uptake.<name>.half_life_days", "claims.uptake.<name>.daily_shares"},
    "settlement": set(), "calendar": set(),
}
# Keys whose default (and choices) the schema states in words only.
IN_WORDS = {
    ("incident", "billing.discovered_on"),  # default: the day of charged_on
    ("policy", "credit.overrides[].eligibility.monthly_scope"),  # the policy's; never written per override
}
# The names a file gives to the entries of a mapping (written <…> in the schema's dotted paths).
NAMED_ENTRIES = {"methods": "<method>", "claims.uptake": "<name>"}


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A folder with the files the full incidents name (their contents are not read by the loaders,
    except the windows file), and the full policies and settlement rules."""
    for name in ("roster.csv", "bill_items.csv", "claims.csv", "bills.csv"):
        (tmp_path / name).write_text("line_id\n1\n", encoding="utf-8")
    (tmp_path / "windows.csv").write_text("facility_id,service,start,end\nF2,internet,2024-03-04T10:00,"
                                          "2024-03-04T11:00\n", encoding="utf-8")
    write(tmp_path / "policy-a.yml", POLICY_A)
    write(tmp_path / "policy-b.yml", POLICY_B)
    write(tmp_path / "settlement.yml", SETTLEMENT)
    return tmp_path


def write(path: Path, doc: Any) -> Path:
    path.write_text(yaml.safe_dump(doc, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path


def loader_errors(kind: str, path: Path) -> list[InputError]:
    try:
        LOADERS[kind](path)
    except InputErrors as exc:
        return list(exc.errors)
    except InputError as exc:
        return [exc]
    return []


# ---- (a) what the project ships passes its schema ----------------------------------------------------


def test_the_schemas_are_valid_draft_2020_12() -> None:
    for kind in KINDS:
        schema = load_schema(kind)
        assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
        Draft202012Validator.check_schema(schema)
        assert schema_path(kind).is_file()


@pytest.mark.parametrize("path", SHIPPED, ids=[str(p.relative_to(ROOT)) for p in SHIPPED])
def test_every_shipped_input_passes_its_schema(path: Path) -> None:
    doc = read_yaml_mapping(path, "input")
    kind = document_kind(doc)
    assert kind == {"policies": "policy", "settlement": "settlement", "calendar": "calendar"}.get(
        path.parent.name, "policy" if path.parent.name == "policy" else "incident")
    assert [p.message for p in schema_problems(kind, doc, path)] == []


def test_the_shipped_inputs_cover_each_kind() -> None:
    kinds = {document_kind(read_yaml_mapping(p, "input")) for p in SHIPPED}
    assert kinds == set(KINDS)


@pytest.mark.parametrize("kind", KINDS)
def test_the_full_documents_pass_the_loader_and_the_schema(kind: str, project: Path) -> None:
    for i, doc in enumerate(FULL[kind]):
        path = write(project / f"full-{kind}-{i}.yml", doc)
        assert [e.message for e in loader_errors(kind, path)] == []
        assert [p.message for p in schema_problems(kind, read_yaml_mapping(path, "x"), path)] == []


# ---- (c) the schema's keys are the keys the loader reads ---------------------------------------------


@dataclass
class Read:
    """What a loader did with one key: the defaults it gave, its choices and bounds."""

    defaults: list[Any] = field(default_factory=list)
    choices: set[tuple[str, ...]] = field(default_factory=set)
    bounds: set[tuple[Any, Any]] = field(default_factory=set)


def _dotted(where: str, name: str = "") -> str:
    """A loader's key (``credit.overrides[1].when``, ``methods.credit_card``) as a schema's dotted path."""
    path = re.sub(r"\[[0-9]+\]", "[]", f"{where}.{name}" if where and name else where or name)
    for prefix, placeholder in NAMED_ENTRIES.items():
        path = re.sub(rf"^{re.escape(prefix)}\.[^.\[]+", f"{prefix}.{placeholder}", path)
    return path


def record_reads(monkeypatch: pytest.MonkeyPatch, file: Path) -> tuple[set[str], dict[str, Read]]:
    """Patch :class:`Section` to record, for the sections of ``file``, every key the loader reads
    (its ``used`` set when the section is done: what it accepts) and how it reads it."""
    keys: set[str] = set()
    reads: dict[str, Read] = {}
    target = str(file)

    def wrap(method: str) -> None:
        original = getattr(Section, method)

        def recorder(self: Section, name: str, default: Any = MISSING, **kwargs: Any) -> Any:
            if self.path == target:
                read = reads.setdefault(_dotted(self.where, name), Read())
                if method == "raw":
                    read.defaults.append(default)
                if kwargs.get("choices"):
                    read.choices.add(tuple(kwargs["choices"]))
                if method == "integer":
                    read.bounds.add((kwargs.get("minimum"), kwargs.get("maximum")))
            return original(self, name, default, **kwargs)

        monkeypatch.setattr(Section, method, recorder)

    for method in ("raw", "text", "integer", "text_list"):
        wrap(method)
    done = Section.done

    def record_done(self: Section) -> None:
        if self.path == target:  # an entry a file names (methods.<method>) is not a key: its keys are
            keys.update(k for k in (_dotted(self.where, name) for name in self.used) if not k.endswith(">"))
        done(self)

    monkeypatch.setattr(Section, "done", record_done)
    return keys, reads


def loader_reads(kind: str, project: Path) -> tuple[set[str], dict[str, Read]]:
    """The keys the loader of ``kind`` reads across the full documents, and how."""
    keys: set[str] = set()
    reads: dict[str, Read] = {}
    for i, doc in enumerate(FULL[kind]):
        path = write(project / f"read-{kind}-{i}.yml", doc)
        with pytest.MonkeyPatch.context() as mp:
            found, how = record_reads(mp, path)
            assert loader_errors(kind, path) == []
        keys |= found
        for key, read in how.items():
            into = reads.setdefault(key, Read())
            into.defaults += read.defaults
            into.choices |= read.choices
            into.bounds |= read.bounds
    return keys, reads


def _keys_of(doc: Any, prefix: str = "") -> Iterator[str]:
    """The dotted paths a document sets."""
    if isinstance(doc, dict):
        for name, value in doc.items():
            path = _dotted(prefix, str(name))
            if not path.endswith(">"):
                yield path
            yield from _keys_of(value, path)
    elif isinstance(doc, list):
        for item in doc:
            if isinstance(item, dict):
                yield from _keys_of(item, f"{prefix}[]")


@pytest.mark.parametrize("kind", KINDS)
def test_the_full_documents_set_every_key_of_the_schema(kind: str) -> None:
    """So that the loader is seen reading (and accepting) every key the schema declares."""
    written = {k for doc in FULL[kind] for k in _keys_of(doc)}
    assert set(key_paths(kind)) - written == set()
    assert written - set(key_paths(kind)) == set()


@pytest.mark.parametrize("kind", KINDS)
def test_the_schema_declares_the_keys_the_loader_reads(kind: str, project: Path) -> None:
    read, _how = loader_reads(kind, project)
    declared = set(key_paths(kind))
    assert read - declared == set(), f"the loader reads keys the {kind} schema lacks: add them to {schema_path(kind)}"
    assert declared - read == set(), f"the {kind} schema declares keys the loader does not read"


def _schema_default(prop: dict[str, Any]) -> Any:
    return prop.get("default", MISSING)


def _loader_default(defaults: list[Any]) -> Any:
    """The default the loader gives a key (tuples as lists); MISSING: required; None: optional without one."""
    given = [d for d in defaults if d is not MISSING]
    if not given:
        return MISSING
    value = next((d for d in given if d is not None), None)
    return list(value) if isinstance(value, tuple) else value


@pytest.mark.parametrize("kind", KINDS)
def test_defaults_and_required_keys_agree(kind: str, project: Path) -> None:
    _keys, reads = loader_reads(kind, project)
    declared = key_paths(kind)
    wrong = {}
    for key, read in reads.items():
        if key not in declared or (kind, key) in IN_WORDS:
            continue
        loader = _loader_default(read.defaults)
        schema = _schema_default(declared[key])
        if loader is not None and loader != schema:
            wrong[key] = (loader, schema)
        if loader is None and schema is not MISSING:
            wrong[key] = (None, schema)
    assert wrong == {}, "(loader default, schema default) differ"
    required = {k for k, r in reads.items() if _loader_default(r.defaults) is MISSING and not k.endswith(">")}
    assert required_keys(kind) - required == set(), "the schema requires keys the loader does not"
    assert required - required_keys(kind) == CONDITIONAL[kind]


def _choices(prop: dict[str, Any]) -> set[Any]:
    """The values an enum-valued key may take (a list's items' too), without null."""
    found: set[Any] = set()
    for branch in [prop, *prop.get("anyOf", [])]:
        for schema in (branch, branch.get("items", {})):
            if isinstance(schema, dict):
                found.update(v for v in schema.get("enum", []) if v is not None)
                if "const" in schema and isinstance(schema["const"], str):
                    found.add(schema["const"])
    return found


def _bounds(prop: dict[str, Any]) -> tuple[Any, Any]:
    for branch in [prop, *prop.get("anyOf", [])]:
        if isinstance(branch, dict) and ("minimum" in branch or "maximum" in branch) and \
                "integer" in branch.get("type", ""):
            return branch.get("minimum"), branch.get("maximum")
    return None, None


@pytest.mark.parametrize("kind", KINDS)
def test_choices_and_bounds_agree(kind: str, project: Path) -> None:
    _keys, reads = loader_reads(kind, project)
    declared = key_paths(kind)
    for key, read in reads.items():
        if (kind, key) in IN_WORDS:
            continue
        for choices in read.choices:
            assert _choices(declared[key]) == set(choices), key
        for bounds in read.bounds:
            assert _bounds(declared[key]) == bounds, key


ENUMS = {
    "policy": {"services": SERVICES, "credit.overrides[].when.customer_type": CUSTOMER_TYPES,
               "credit.overrides[].when.customer_types": CUSTOMER_TYPES,
               "credit.overrides[].when.services": SERVICES, "eligibility.below_threshold_on_claim": CAUSES,
               "credit.overrides[].eligibility.below_threshold_on_claim": CAUSES,
               "fee_basis.include": ITEM_CATEGORIES, "fee_basis.exclude": ITEM_CATEGORIES,
               "claims.credit_route": claims_module.CREDIT_ROUTES,
               "claims.reclassification_evidence": claims_module.EVIDENCE},
    "incident": {"cause": CAUSES, "affected.services": SERVICES, "affected.windows[].services": SERVICES,
                 "billing.payment_methods": PAYMENT_METHODS, "billing.services": SERVICES},
    "settlement": {}, "calendar": {},
}


@pytest.mark.parametrize("kind", KINDS)
def test_enums_are_the_codes_constants(kind: str) -> None:
    declared = key_paths(kind)
    for key, constant in ENUMS[kind].items():
        assert _choices(declared[key]) == set(constant), key
    if kind == "settlement":
        methods = load_schema("settlement")["properties"]["methods"]["propertyNames"]
        assert methods["enum"] == list(PAYMENT_METHODS)


# ---- (b) one change at a time: the schema and the loader agree ---------------------------------------


def _locations(doc: Any, parts: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    """Every key of a document, as the path of keys and list indexes to it."""
    if isinstance(doc, dict):
        for name, value in doc.items():
            yield (*parts, name)
            yield from _locations(value, (*parts, name))
    elif isinstance(doc, list):
        for i, item in enumerate(doc):
            if isinstance(item, dict):
                yield from _locations(item, (*parts, i))


def _mappings(doc: Any, parts: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    """Every mapping of a document (the document itself first)."""
    if isinstance(doc, dict):
        yield parts
        for name, value in doc.items():
            yield from _mappings(value, (*parts, name))
    elif isinstance(doc, list):
        for i, item in enumerate(doc):
            yield from _mappings(item, (*parts, i))


def _where(parts: tuple[Any, ...]) -> str:
    out = ""
    for part in parts:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _get(doc: Any, parts: tuple[Any, ...]) -> Any:
    for part in parts:
        doc = doc[part]
    return doc


def _changes(kind: str, doc: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    """(what was changed, the changed document), one change each."""
    declared = key_paths(kind)
    for parts in _locations(doc):
        name, value = _where(parts), _get(doc, parts)
        prop = declared.get(_dotted(name), {})  # {}: an entry the file names (methods.credit_card)
        changed = copy.deepcopy(doc)
        del _get(changed, parts[:-1])[parts[-1]]
        yield f"{name} removed", changed
        mutations: list[tuple[str, Any]] = [("a list", [[1]]) if isinstance(value, dict) else ("a mapping", {"x": 1})]
        if _choices(prop):
            mutations.append(("not a choice", "zz-not-a-choice"))
        low, high = _bounds(prop)
        if high is not None:
            mutations.append(("above the maximum", high + 1))
        if low is not None:
            mutations.append(("below the minimum", low - 1))
        if isinstance(value, bool):
            mutations.append(("yes", "yes"))
        if isinstance(value, str):
            mutations.append(("blank", "  "))
        if isinstance(value, list):
            mutations.append(("an empty list", []))
        for label, new in mutations:
            changed = copy.deepcopy(doc)
            _get(changed, parts[:-1])[parts[-1]] = new
            yield f"{name}: {label}", changed
    for parts in _mappings(doc):
        changed = copy.deepcopy(doc)
        _get(changed, parts)["Not A Key"] = 1
        yield f"{_where((*parts, 'Not A Key'))} added", changed


@pytest.mark.parametrize("kind", KINDS)
def test_one_change_at_a_time_the_schema_and_the_loader_agree(kind: str, project: Path) -> None:
    """Removed, added, out of its choices or bounds, of another type, blank or empty: for each key of
    the full documents, the schema refuses the change exactly when the loader does, and then
    ``validate``'s rule (inputs.schemas.beyond_loader) leaves nothing of the schema's to add: the
    loader's message is the one shown."""
    disagree, doubled = [], []
    for i, full in enumerate(FULL[kind]):
        for n, (change, doc) in enumerate(_changes(kind, full)):
            path = write(project / f"changed-{kind}-{i}-{n}.yml", doc)
            errors = loader_errors(kind, path)
            problems = schema_problems(kind, read_yaml_mapping(path, "x"), path)
            name = change.split(":")[0].removesuffix(" removed").removesuffix(" added")
            if bool(errors) != bool(problems) and (kind, name) not in CROSS_FILE:
                disagree.append((change, [e.message for e in errors], [p.message for p in problems]))
            extra = beyond_loader(problems, errors, path) if errors else []
            if extra:
                doubled.append((change, [e.message for e in errors], [p.message for p in extra]))
            if change.endswith(" added"):
                key = change.removesuffix(" added")
                assert key in {e.where for e in errors}, (change, [e.message for e in errors])
                assert key in {p.where for p in problems}, (change, [p.message for p in problems])
    assert disagree == [], json.dumps(disagree, ensure_ascii=False, indent=1)
    assert doubled == [], json.dumps(doubled, ensure_ascii=False, indent=1)


def test_an_unknown_key_is_refused_by_both_at_the_same_key(project: Path) -> None:
    doc = copy.deepcopy(POLICY_A)
    doc["credit"]["overrides"][0]["when"]["plan"] = ["5G"]
    path = write(project / "plan.yml", doc)
    [error] = loader_errors("policy", path)
    problems = schema_problems("policy", read_yaml_mapping(path, "x"), path)
    assert (error.where, error.problem) == ("credit.overrides[0].when.plan", "is not a known key")
    assert [(p.where, p.problem) for p in problems] == [("credit.overrides[0].when.plan", "is not a known key")]
    assert beyond_loader(problems, [error], path) == []


def test_the_schema_adds_what_a_loader_stopping_early_leaves_unsaid(project: Path) -> None:
    """The policy loader stops at its first problem; the schema names the others."""
    doc = copy.deepcopy(POLICY_A)
    doc["id"] = "Bad_Id"
    doc["credit"]["rounding"]["mode"] = "up"
    doc["delivery"]["claim_required"] = "yes"
    path = write(project / "several.yml", doc)
    errors = loader_errors("policy", path)
    assert [e.where for e in errors] == ["id"]
    extra = beyond_loader(schema_problems("policy", read_yaml_mapping(path, "x"), path), errors, path)
    assert [(p.where, p.problem) for p in extra] == [
        ("credit.rounding.mode", "is 'up', not one of floor, ceil, half_up"),
        ("delivery.claim_required", "must be true or false, found 'yes'"),
    ]
    assert all(p.fix for p in extra)


# ---- (d) the docs list the schemas' keys --------------------------------------------------------------

DOCS = {
    "incidents.md": ("incident",),
    "policy-language.md": ("policy",),
    "settlement.md": ("settlement", "calendar"),
}
KEY_HEADERS = ("key",)


def documented_keys(text: str) -> set[str]:
    """The keys a doc lists: the first cell of each row of its key tables (tables whose header's
    first cell is ``Key``), written in backticks, e.g. ``| `credit.overrides[].when.services` | … |``."""
    keys: set[str] = set()
    in_table = header = False
    for line in text.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")] if line.lstrip().startswith("|") else []
        if not cells:
            in_table = False
            continue
        if not in_table:
            in_table = cells[0].strip("`* ").lower() in KEY_HEADERS
            header = True
            continue
        if header and set(cells[0]) <= set("-: "):
            header = False
            continue
        match = re.fullmatch(r"`([^`]+)`", cells[0])
        if match:
            keys.add(match.group(1))
    return keys


def test_documented_keys_are_read_from_key_tables() -> None:
    text = ("| Key | Meaning |\n|---|---|\n| `credit.outage_multiplier` | x |\n| `credit.overrides[].when.services` | "
            "y |\n\n| Value | Meaning |\n|---|---|\n| `floor` | rounds down |\n")
    assert documented_keys(text) == {"credit.outage_multiplier", "credit.overrides[].when.services"}


@pytest.mark.parametrize("doc", sorted(DOCS))
def test_the_docs_list_exactly_the_schemas_keys(doc: str) -> None:
    path = ROOT / "docs" / doc
    if not path.is_file():
        pytest.skip(f"docs/{doc} is not written yet")
    documented = documented_keys(path.read_text(encoding="utf-8"))
    declared = set().union(*(key_paths(kind) for kind in DOCS[doc]))
    assert declared - documented == set(), f"docs/{doc} lacks these keys (a row `| \\`key\\` | … |` each)"
    assert documented - declared == set(), f"docs/{doc} lists keys the schema does not have"


# ---- the editor settings name the schemas ------------------------------------------------------------


def _editor_matches(glob: str, path: Path) -> bool:
    """How the YAML extension (yaml-language-server) matches a ``yaml.schemas`` glob: ``*`` is any
    text, ``/`` included, and the glob matches the end of the file's path."""
    return re.search(re.escape(glob).replace(r"\*", ".*") + "$", path.resolve().as_posix()) is not None


def test_the_vscode_settings_map_each_input_to_its_own_schema() -> None:
    """.vscode/settings.json maps every shipped input to the schema of its kind, and to that one only,
    whether a `*` stops at a folder (a glob) or not (the YAML extension): a file two globs match would
    be checked against both schemas."""
    settings = json.loads((ROOT / ".vscode" / "settings.json").read_text(encoding="utf-8"))
    mapping: dict[str, list[str]] = settings["yaml.schemas"]
    assert {Path(s).name for s in mapping} == {f"{k}.schema.json" for k in KINDS}
    for schema, globs in mapping.items():
        assert (ROOT / schema).is_file(), schema
        assert all(any(ROOT.glob(g)) for g in globs), globs
    for path in SHIPPED:
        kind = document_kind(read_yaml_mapping(path, "input"))
        by_glob = {s for s, globs in mapping.items() for g in globs if path in ROOT.glob(g)}
        by_editor = {s for s, globs in mapping.items() for g in globs if _editor_matches(g, path)}
        assert by_glob == by_editor == {f"kt_analysis/schemas/{kind}.schema.json"}, path
