"""JSON Schemas of the YAML inputs, and checking a document against them.

The package ships one JSON Schema (draft 2020-12) per kind of YAML file, in ``kt_analysis/schemas/``:
``incident``, ``policy``, ``settlement`` and ``calendar`` (the calendar override file). An editor
uses them to complete keys and flag mistakes as the file is written (docs/schemas.md); ``kt-analysis
validate`` checks every YAML file against its schema as well as with its loader.

The loaders stay the authority: a schema says which keys exist, their types, choices, bounds and
defaults, and the simpler rules between keys; the loaders check everything else (a file that
exists, a time zone, dates in order, one rule across sections). A schema never refuses what the
loader accepts, so a file the loader accepts passes its schema.

``validate`` runs the loader first and adds the schema's problems the loader did not report
(:func:`beyond_loader`): a schema problem at a key the loader already found wrong, inside it or
around it, is left out, so that no problem is reported twice and the loader's message is the one
shown. The schema then adds what a loader that stops at its first problem in a section leaves
unsaid.

>>> schema_path("policy").name
'policy.schema.json'
>>> for p in schema_problems("calendar", {"holidays": [{"date": "2027-1-4", "name": "x"}]}, "o.yml"):
...     print(p.message)
o.yml: holidays[0].date: '2027-1-4' is not in the expected form — write it like "2027-01-04"
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator
from functools import cache
from pathlib import Path
from typing import Any

from kt_analysis.errors import InputError
from kt_analysis.inputs.yamlio import as_written
from kt_analysis.paths import PACKAGE

KINDS = ("incident", "policy", "settlement", "calendar")
SCHEMAS = PACKAGE / "schemas"
CALENDAR_LISTS = ("holidays", "non_banking_days", "business_days")

_TYPE_WORDS = {"string": "text", "number": "a number", "integer": "a whole number", "boolean": "true or false",
               "object": "a mapping (key: value)", "array": "a list", "null": "empty"}
_TYPE_FIX = {"string": "write a word or sentence", "number": "write a number such as 0.5",
             "integer": "write a whole number without quotes, commas or units", "boolean": "write true or false",
             "object": "write key: value lines under it", "array": "write [a, b, …]"}


class SchemaProblem(InputError):
    """A problem found by the schema. ``anchor`` is the key the rule broken is about: the key itself,
    or the mapping whose keys a rule between keys concerns."""

    def __init__(self, path: str, where: str, problem: str, fix: str, anchor: str) -> None:
        super().__init__(path, where, problem, fix)
        self.anchor = anchor


def schema_path(kind: str) -> Path:
    """The installed JSON Schema of one kind of YAML file (one of :data:`KINDS`)."""
    if kind not in KINDS:
        raise ValueError(f"no schema for {kind!r}: the kinds are {', '.join(KINDS)}")
    return SCHEMAS / f"{kind}.schema.json"


@cache
def load_schema(kind: str) -> dict[str, Any]:
    """The schema of ``kind`` as a dict (read once)."""
    with open(schema_path(kind), encoding="utf-8") as fh:
        schema: dict[str, Any] = json.load(fh)
    return schema


def document_kind(data: dict[str, Any]) -> str:
    """Which kind of YAML input a mapping is, by its keys (what ``validate`` dispatches on): an
    incident has ``kind`` or ``affected``, settlement rules ``methods``, the calendar override file
    its lists without an ``id``; anything else is read as a policy.

    >>> document_kind({"kind": "outage"}), document_kind({"methods": {}}), document_kind({"holidays": []})
    ('incident', 'settlement', 'calendar')
    """
    if "affected" in data or "kind" in data:
        return "incident"
    if "methods" in data:
        return "settlement"
    if "id" not in data and any(key in data for key in CALENDAR_LISTS):
        return "calendar"
    return "policy"


# ---- the keys a schema declares -------------------------------------------------------------------------


def _resolve(schema: Any, root: dict[str, Any]) -> Any:
    """``schema`` with its local ``$ref`` followed (the referring schema's own keywords win)."""
    while isinstance(schema, dict) and "$ref" in schema:
        target: Any = root
        for part in schema["$ref"].removeprefix("#/").split("/"):
            target = target[part]
        schema = {**target, **{k: v for k, v in schema.items() if k != "$ref"}}
    return schema


def _objects(schema: Any, root: dict[str, Any]) -> list[dict[str, Any]]:
    """The mappings a value may be: the schema itself if it declares keys, and those among its
    ``anyOf``/``oneOf`` alternatives (``fee_basis: roster`` or a mapping; ``where: all`` or one)."""
    schema = _resolve(schema, root)
    if not isinstance(schema, dict):
        return []
    found = [schema] if "additionalProperties" in schema else []
    for key in ("anyOf", "oneOf"):
        for branch in schema.get(key, []):
            found += _objects(branch, root)
    return found


def _walk(schema: Any, root: dict[str, Any], prefix: str, out: dict[str, dict[str, Any]], required: set[str]) -> None:
    for obj in _objects(schema, root):
        required.update(f"{prefix}.{name}" if prefix else name for name in obj.get("required", []))
        children = [(name, sub) for name, sub in obj.get("properties", {}).items() if sub is not False]
        if isinstance(obj.get("additionalProperties"), dict):  # a mapping of names: methods, uptake
            children.append((f"<{obj.get('propertyNames', {}).get('title', 'name')}>", obj["additionalProperties"]))
        for name, sub in children:
            path = f"{prefix}.{name}" if prefix else name
            resolved = _resolve(sub, root)
            out.setdefault(path, resolved)
            _walk(resolved, root, path, out, required)
            for alternative in [resolved, *resolved.get("anyOf", [])]:
                items = _resolve(alternative, root).get("items") if isinstance(alternative, dict) else None
                if isinstance(items, dict):
                    _walk(items, root, f"{path}[]", out, required)


def key_paths(kind: str) -> dict[str, dict[str, Any]]:
    """Every key the schema of ``kind`` declares, as a dotted path, with its schema: ``credit``,
    ``credit.overrides``, ``credit.overrides[].when.services`` (``[]``: an item of a list of mappings),
    ``methods.<method>.action`` (``<method>``: an entry the file names, here a payment method; the
    entries themselves are not keys: ``methods.<method>`` is not listed).

    >>> [p for p in key_paths("calendar") if p.startswith("holidays")]
    ['holidays', 'holidays[].date', 'holidays[].name', 'holidays[].source']
    """
    return {path: schema for path, schema in _keys(kind)[0].items() if not path.endswith(">")}


def required_keys(kind: str) -> set[str]:
    """The dotted paths of the keys the schema of ``kind`` requires wherever their mapping is given
    (not those a rule between keys requires, such as an outage's ``affected``).

    >>> sorted(required_keys("calendar"))
    ['business_days[].date', 'business_days[].name', 'holidays[].date', 'holidays[].name', \
'non_banking_days[].date', 'non_banking_days[].name']
    """
    return set(_keys(kind)[1])


@cache
def _keys(kind: str) -> tuple[dict[str, dict[str, Any]], frozenset[str]]:
    root = load_schema(kind)
    out: dict[str, dict[str, Any]] = {}
    required: set[str] = set()
    _walk(root, root, "", out, required)
    return out, frozenset(required)


@cache
def _key_patterns(kind: str) -> tuple[tuple[re.Pattern[str], str], ...]:
    """Each dotted path as a pattern that a concrete key (``methods.credit_card``) matches."""
    out = []
    for path in _keys(kind)[0]:
        pattern = re.sub(r"<[^>]+>", "[^.]+", re.escape(path).replace(r"\[\]", r"\[[0-9]+\]"))
        pattern = pattern.replace(r"\<", "<").replace(r"\>", ">")
        out.append((re.compile(pattern + "$"), path))
    return tuple(out)


def _declared(kind: str, where: str) -> dict[str, Any]:
    """The schema of the key ``where`` (``credit.overrides[0].when``), or {}."""
    for pattern, path in _key_patterns(kind):
        if pattern.match(where):
            return _keys(kind)[0][path]
    return {}


# ---- checking a document ------------------------------------------------------------------------------


def _where(data: Any, parts: Iterable[Any]) -> str:
    """A path into the document as the loaders write it: ``credit.overrides[0].when``."""
    out, node = "", data
    for part in parts:
        if isinstance(node, list) and isinstance(part, int):
            out += f"[{part}]"
            node = node[part] if 0 <= part < len(node) else None
        else:
            name = str(part) if isinstance(part, str) else as_written(part).strip("'")
            out = f"{out}.{name}" if out else name
            node = node.get(part) if isinstance(node, dict) else None
    return out


def _join(where: str, name: str) -> str:
    return f"{where}.{name}" if where else name


def _found(value: Any) -> str:
    if value is None:
        return "nothing"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    return as_written(value)


def _words(types: Any) -> str:
    names = [types] if isinstance(types, str) else list(types)
    words = [_TYPE_WORDS[t] for t in names if t != "null"] or ["empty"]
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " or " + words[-1]


class _Context:
    """What turning one error into a message needs: the document, its kind and file, and the rule
    (the description of a ``then``, ``else`` or ``not``) each part of the schema is under."""

    def __init__(self, kind: str, data: Any, path: str) -> None:
        self.kind, self.data, self.path = kind, data, path
        self.root = load_schema(kind)
        self.rules: dict[int, str] = {}
        self._note_rules(self.root, "")

    def _note_rules(self, node: Any, rule: str) -> None:
        if isinstance(node, dict):
            self.rules[id(node)] = rule
            for key, sub in node.items():
                inner = rule
                if key in ("then", "else", "not") and isinstance(sub, dict) and sub.get("description"):
                    inner = sub["description"]
                self._note_rules(sub, inner)
        elif isinstance(node, list):
            for sub in node:
                self._note_rules(sub, rule)

    def rule(self, error: Any) -> str:
        """The description of the rule between keys the error breaks ("" for none)."""
        if isinstance(error.schema, dict):
            return self.rules.get(id(error.schema), "")
        node: Any = self.root  # a `false` schema: found from its path (no $ref on the way in our schemas)
        try:
            for part in list(error.absolute_schema_path)[:-2]:
                node = node[part]
        except (KeyError, IndexError, TypeError):
            return ""
        return self.rules.get(id(node), "") or (node.get("description", "") if isinstance(node, dict) else "")

    def problems(self, error: Any) -> Iterator[SchemaProblem]:
        if error.validator in ("anyOf", "oneOf"):
            deeper = self._alternatives(error)
            if deeper is not None:
                for sub in deeper:
                    yield from self.problems(sub)
                return
        parts = list(error.absolute_path)
        where = _where(self.data, parts)
        depth = _anchor_depth(error.absolute_schema_path)
        for key, problem, fix in self._describe(error, where, self.rule(error)):
            anchor = key if depth is None or error.validator is None else _where(self.data, parts[:depth])
            yield SchemaProblem(self.path, key, problem, fix, anchor)

    def _alternatives(self, error: Any) -> list[Any] | None:
        """For a value that fits none of its forms: the errors of the form it comes closest to, when
        it has the right type for one and fails inside it; None to describe the forms instead."""
        if _presence(error.validator_value):
            return None
        by_branch: dict[int, list[Any]] = {}
        for sub in error.context or ():
            by_branch.setdefault(sub.relative_schema_path[0], []).append(sub)
        near = [errs for errs in by_branch.values()
                if not any(e.validator in ("type", "const", "enum") and not e.relative_path for e in errs)]
        if not near:
            return None
        return max(near, key=lambda errs: max(len(e.relative_path) for e in errs))

    def _describe(self, error: Any, where: str, rule: str) -> Iterator[tuple[str, str, str]]:
        v, value, instance = error.validator, error.validator_value, error.instance
        declared = _declared(self.kind, where)
        about = rule or declared.get("description", "")
        if v == "required":
            for name in value:
                if isinstance(instance, dict) and name not in instance:
                    key = _join(where, name)
                    hint = rule or _declared(self.kind, key).get("description", "")
                    yield key, "is missing", f"add `{name}:`" + (f" ({hint})" if hint else "")
        elif v == "additionalProperties":
            known = sorted(error.schema.get("properties", {}))
            for name in instance:
                if name not in error.schema.get("properties", {}):
                    key = _where(self.data, [*error.absolute_path, name])
                    yield key, "is not a known key", f"remove it or check the spelling (known: {', '.join(known)})"
        elif v is None:  # a `false` schema: a key this kind of document does not have
            yield where, "is not a known key here", rule or "remove it"
        elif "propertyNames" in error.absolute_schema_path:  # a name the mapping cannot hold
            names = error.schema.get("enum")
            yield _join(where, str(instance)), "is not a known key", \
                (f"use one of {', '.join(names)}" if names else error.schema.get("description", "rename it"))
        elif v in ("anyOf", "oneOf") and _presence(value):
            names = [n for branch in value for n in branch["required"]]
            present = [n for n in names if isinstance(instance, dict) and instance.get(n) is not None]
            problem = f"gives {' and '.join(present)}: only one of them" if v == "oneOf" and len(present) > 1 \
                else f"gives none of {', '.join(names)}"
            yield where, problem, rule or f"give {' or '.join(names)}"
        elif v in ("anyOf", "oneOf"):
            forms = [_form(_resolve(b, self.root)) for b in value]
            shown = [f for f in forms if f]
            yield where, f"must be {', or '.join(shown)}, found {_found(instance)}", \
                about or "see the key's description"
        elif v == "not":
            names = list(value.get("required", [])) if isinstance(value, dict) else []
            if len(names) == 1:
                yield _join(where, names[0]), "is not allowed here", rule or "remove it"
            elif names:
                yield _join(where, names[-1]), f"is given together with {', '.join(names[:-1])}", rule or "keep one"
            else:  # {"not": {}}: a key this kind of document does not have
                yield where, "is not a known key here", rule or "remove it"
        else:
            yield from self._value(error, where, rule, declared)

    def _value(self, error: Any, where: str, rule: str, declared: dict[str, Any]) -> Iterator[tuple[str, str, str]]:
        v, value, instance = error.validator, error.validator_value, error.instance
        examples = declared.get("examples") or []
        like = f"write it like {json.dumps(examples[0], ensure_ascii=False)}" if examples else \
            declared.get("description", "see the key's description")
        if v == "type":
            names = [value] if isinstance(value, str) else list(value)
            if names == ["null"]:
                yield where, f"must be left out here, found {_found(instance)}", rule or "remove it"
            else:
                first = next(t for t in names if t != "null")
                yield where, f"must be {_words(names)}, found {_found(instance)}", rule or _TYPE_FIX[first]
        elif v == "enum":
            choices = [c for c in value if c is not None]
            if rule:
                yield where, f"is {_found(instance)}, not {' or '.join(map(str, choices))}", rule
            else:
                yield where, f"is {_found(instance)}, not one of {', '.join(map(str, choices))}", \
                    "use one of those values"
        elif v == "const":
            yield where, f"is {_found(instance)}, not {value}", rule or f"write {value}"
        elif v == "minimum":
            yield where, f"is {instance}, below the minimum {value}", rule or f"use {value} or more"
        elif v == "maximum":
            yield where, f"is {instance}, above the maximum {value:,}", rule or f"use {value:,} or less"
        elif v == "exclusiveMinimum":
            yield where, f"is {as_written(instance)}, not above {value}", rule or f"use a number above {value}"
        elif v == "pattern":
            yield where, f"{_found(instance)} is not in the expected form", rule or like
        elif v == "minItems":
            yield where, "is an empty list" if value == 1 else f"lists fewer than {value} items", \
                rule or "write [a, b, …]"
        elif v == "maxItems":
            yield where, f"lists {len(instance):,} items, more than {value:,}", rule or f"keep at most {value:,}"
        elif v == "uniqueItems":
            yield where, "lists a value twice", rule or "list each value once"
        elif v == "minProperties":
            yield where, "is empty", rule or declared.get("description", "fill it in or remove it")
        elif v == "contains":
            yield where, "holds no value above 0", rule or declared.get("description", "")
        else:
            yield where, error.message, rule or declared.get("description", "see the schema")


def _anchor_depth(schema_path: Iterable[Any]) -> int | None:
    """How deep in the document the last rule between keys or forms (``then``, ``else``, ``not``,
    ``anyOf``, ``oneOf``) on the error's way applies; None when there is none."""
    parts = list(schema_path)
    depth, anchor, i = 0, None, 0
    while i < len(parts):
        part = parts[i]
        if part == "properties" and i + 1 < len(parts):
            depth, i = depth + 1, i + 2
            continue
        if part in ("items", "additionalProperties") and i + 1 < len(parts):
            depth += 1
        elif part in ("then", "else", "not", "anyOf", "oneOf"):
            anchor = depth
        i += 1
    return anchor


def _presence(branches: Any) -> bool:
    """``anyOf``/``oneOf`` branches that each say "this key is given" (a rule between keys)."""
    return isinstance(branches, list) and bool(branches) and all(
        isinstance(b, dict) and "required" in b and not {"type", "const", "enum", "$ref"} & set(b) for b in branches)


def _form(schema: Any) -> str:
    """One alternative of an ``anyOf`` in words, for a message ("" for empty)."""
    if not isinstance(schema, dict):
        return ""
    if "const" in schema:
        return str(schema["const"])
    if "enum" in schema:
        return "one of " + ", ".join(str(c) for c in schema["enum"] if c is not None)
    types = schema.get("type")
    if types is None:
        return "a mapping (key: value)" if "additionalProperties" in schema else ""
    if types == "null":
        return ""
    words = _words(types)
    if "minimum" in schema and "maximum" in schema:
        words += f" from {schema['minimum']} to {schema['maximum']:,}"
    return words


def schema_problems(kind: str, data: Any, path: str | Path) -> list[InputError]:
    """Every problem the schema of ``kind`` finds in ``data`` (a document read by
    :func:`yamlio.read_yaml_mapping`), in the loaders' form: file, dotted key, problem, fix."""
    from jsonschema import Draft202012Validator  # type: ignore[import-untyped]

    validator = Draft202012Validator(load_schema(kind))
    context = _Context(kind, data, str(path))
    out: list[InputError] = []
    seen: set[tuple[str, str]] = set()
    try:
        errors = sorted(validator.iter_errors(data), key=lambda e: [str(p) for p in e.absolute_path])
        for error in errors:
            for problem in context.problems(error):
                if (problem.where, problem.problem) not in seen:
                    seen.add((problem.where, problem.problem))
                    out.append(problem)
    except (TypeError, ValueError, KeyError, re.error):  # keys YAML allows and JSON does not (1:, ~:)
        return []
    # Nothing more is said of a key that should not be there at all, nor of what it holds.
    unknown = [p.where for p in out if p.problem.startswith("is not a known")]
    return [p for p in out
            if p.problem.startswith("is not a known") or not any(_inside(p.where, key) for key in unknown)]


def _related(a: str, b: str) -> bool:
    """One key is the other, or inside it."""
    if a in ("", "(top level)") or b in ("", "(top level)"):
        return True
    return _inside(a, b) or _inside(b, a)


def _inside(key: str, outer: str) -> bool:
    """``key`` is ``outer`` or a key inside it."""
    return key == outer or (key.startswith(outer) and key[len(outer)] in ".[")


def beyond_loader(problems: list[InputError], reported: list[InputError], path: str | Path) -> list[InputError]:
    """The schema's ``problems`` that the loader did not report: those whose key (or the mapping the
    rule broken is about) is neither a key the loader reported on in this file nor inside or around
    one. The loader's own message is the one shown for the rest."""
    here = Path(path).resolve()
    keys = [e.where for e in reported if Path(e.path).resolve() == here]
    out = []
    for problem in problems:
        anchor = problem.anchor if isinstance(problem, SchemaProblem) else problem.where
        if not any(_related(anchor, key) or _related(problem.where, key) for key in keys):
            out.append(problem)
    return out
