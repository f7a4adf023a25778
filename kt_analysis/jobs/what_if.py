"""What-if: an incident under another policy, or under its own with some rules changed, without
writing a policy file.

    import kt_analysis as kt
    r = kt.what_if("data/incidents/kt-2024-08-10-landline.yml", policy="kt-terms-2022",
                   changes={"credit.outage_multiplier": 8, "eligibility.min_continuous_minutes": 180})
    r.total_credit_krw, r.eligible_lines, r.by_service
    grid = kt.sensitivity("data/incidents/kt-2024-08-10-landline.yml",
                          grid={"credit.outage_multiplier": [5, 8, 10],
                                "eligibility.min_continuous_minutes": [60, 120, 180]})

``changes`` are dotted paths into the policy's YAML mapping, as the loader's messages name keys:
``credit.outage_multiplier``, ``credit.overrides[0].outage_multiplier``, ``credit.rounding.unit_krw``.
A path that is no key of a policy (kt_analysis/schemas/policy.schema.json declares them all) is
refused with the closest keys, never ignored; the mapping with the changes applied is then checked
exactly as a policy file is (inputs/policy.py ``policy_from_mapping``): types, bounds, choices and
the rules between keys. A value ``None`` removes the key (the policy's default applies).

The figures come from the engine of a run (jobs/analyse.py ``analyse``), computed into a
temporary folder (Python) or into ``<out>/<incident id>/what-if/<policy id>[-<hash of the
changes>]/`` (``kt-analysis run INCIDENT --policy ID --set key=value``): never into the incident's
published report, and never recorded in the output folder's history (``history.duckdb``); a policy
counting across the calendar month reads that history, as a run does.

A sensitivity grid computes every cell in one pass over the incident's lines: each cell's policy
is one more what-if policy of the same pass (engine/figures.py ``cube_sql``), so a 3×3 grid costs
about one run, not nine.
"""

from __future__ import annotations

import copy
import difflib
import hashlib
import itertools
import json
import os
import re
import shutil
import tempfile
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from kt_analysis.engine.month import EARLIER_ROWS, uses_month
from kt_analysis.errors import InputError, ParameterError
from kt_analysis.inputs.incident import Incident, load_incident, require_sized
from kt_analysis.inputs.policy import Policy, load_policy, policy_from_mapping, resolve_policy
from kt_analysis.inputs.schemas import key_paths
from kt_analysis.inputs.yamlio import read_yaml_mapping, read_yaml_value, sha256_file
from kt_analysis.jobs import history
from kt_analysis.jobs.analyse import analyse
from kt_analysis.jobs.run import incident_lock, prepare_out, swap_into_place
from kt_analysis.paths import find_project_root
from kt_analysis.summary.model import OutageSummary

WHAT_IF_DIR = "what-if"  # <out>/<incident id>/what-if/: kept when the incident's own run publishes (jobs/run.py)
WHAT_IF_FILE = "what-if.json"
CHANGES = "changes"  # what the messages about a change name as the file
Say = Callable[[str], None]

_SEGMENT = re.compile(r"([A-Za-z_][A-Za-z0-9_]*)((?:\[[0-9]+\])*)")
_INDEX = re.compile(r"\[([0-9]+)\]")
PATH_FIX = "write policy keys joined by dots, a list's item by its index: credit.outage_multiplier, " \
           "credit.overrides[0].outage_multiplier (docs/policy-language.md, What-if changes)"


# ----- dotted paths ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Step:
    key: str
    indices: tuple[int, ...]


def _steps(path: object) -> tuple[_Step, ...]:
    if not isinstance(path, str) or not path:
        raise InputError(CHANGES, repr(path), "is not a dotted path to a policy key", PATH_FIX)
    steps = []
    for part in path.split("."):
        found = _SEGMENT.fullmatch(part)
        if found is None:
            raise InputError(CHANGES, path, "is not a dotted path to a policy key", PATH_FIX)
        steps.append(_Step(found[1], tuple(int(i) for i in _INDEX.findall(found[2]))))
    return tuple(steps)


def _generic(path: str) -> str:
    """``credit.overrides[0].when`` as the schema's paths write it: ``credit.overrides[].when``."""
    return _INDEX.sub("[]", path)


@cache
def _known_patterns() -> tuple[re.Pattern[str], ...]:
    """Every key a policy may have, and every mapping or list item on the way to one
    (``credit.overrides[]``, ``claims.uptake.<name>``), as patterns over generic paths."""
    prefixes: set[str] = set()
    for path in key_paths("policy"):
        prefixes.add(path)
        for i, c in enumerate(path):
            if c == ".":
                prefixes.add(path[:i])
            elif path.startswith("[]", i):
                prefixes.add(path[:i + 2])
    out = []
    for p in sorted(prefixes):
        parts = re.split(r"(<[^>]+>)", p)
        out.append(re.compile("".join(r"[^.\[\]]+" if part.startswith("<") else re.escape(part) for part in parts)))
    return tuple(out)


def closest_paths(path: str, n: int = 3) -> list[str]:
    """The policy keys most like ``path`` (a generic path: ``[]`` for an index): by the whole path,
    else by its last key (``outage_multiplier`` → ``credit.outage_multiplier``).

    >>> closest_paths("credit.outage_multipler")[0]
    'credit.outage_multiplier'
    >>> closest_paths("rounding.unit_krw")[0]
    'credit.rounding.unit_krw'
    """
    known = list(key_paths("policy"))
    near = difflib.get_close_matches(path, known, n=n, cutoff=0.75)
    if near:
        return near
    last = path.rsplit(".", 1)[-1]
    lasts = {k: k.rsplit(".", 1)[-1] for k in known}
    names = difflib.get_close_matches(last, sorted(set(lasts.values())), n=n, cutoff=0.7)
    by_name = sorted((k for k in known if lasts[k] in names), key=lambda k: (names.index(lasts[k]), k.count("."), k))
    return (by_name or difflib.get_close_matches(path, known, n=n, cutoff=0.5))[:n]


def _with_indices(generic: str, indices: list[int]) -> str:
    """A generic path with the indices the user wrote put back (``[0]`` where they wrote none)."""
    left = list(indices)
    return re.sub(r"\[\]", lambda _m: f"[{left.pop(0) if left else 0}]", generic)


def check_path(path: object) -> tuple[_Step, ...]:
    """The steps of a dotted path that names a policy key (or a mapping or list item on the way to
    one); any other is an :class:`InputError` naming the closest keys."""
    steps = _steps(path)
    assert isinstance(path, str)
    generic = _generic(path)
    if any(p.fullmatch(generic) for p in _known_patterns()):
        return steps
    indices = [i for s in steps for i in s.indices]
    near = [_with_indices(p, indices) for p in closest_paths(generic)]
    hint = f"did you mean {' or '.join(near)}? " if near else ""
    raise InputError(CHANGES, path, "is not a key of a policy", f"{hint}the keys are in docs/policy-language.md "
                     "(kt-analysis validate checks a policy file the same way)")


# ----- changes applied to a policy's mapping ------------------------------------------------------------


def _plain(value: Any) -> Any:
    """A value as YAML would give it: NumPy scalars as Python's, tuples as lists (a grid written
    with ``np.arange`` reads as a list of ints). Floats stay floats: a whole-number key refuses them."""
    if isinstance(value, np.bool_):
        return bool(value)
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.floating):
        return float(value)
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, Mapping):
        return {k: _plain(v) for k, v in value.items()}
    return value


def _kind(value: Any) -> str:
    if isinstance(value, list):
        return f"a list of {len(value)}"
    return f"{value!r}" if not isinstance(value, dict) else "a mapping"


def _child(container: Any, key: str | int) -> Any:
    return container.get(key) if isinstance(container, dict) else container[key]


def _set(doc: dict[str, Any], path: str, steps: tuple[_Step, ...], value: Any) -> None:
    """Set ``value`` at ``steps`` in ``doc``: missing mappings on the way are made; a list's item
    must exist; ``None`` removes the key."""
    node: Any = doc
    where = ""
    for n, step in enumerate(steps):
        if not isinstance(node, dict):
            raise InputError(CHANGES, path, f"{where} is {_kind(node)}, not a mapping of keys",
                             f"set {where} as a whole (a mapping), or check the path")
        where = f"{where}.{step.key}" if where else step.key
        container: Any = node
        key: str | int = step.key
        for index in step.indices:
            items = _child(container, key)
            if not isinstance(items, list):
                raise InputError(CHANGES, path, f"{where} is {'missing' if items is None else _kind(items)}, "
                                 "not a list", f"set {where} as a whole list, or check the path")
            if index >= len(items):
                raise InputError(CHANGES, path, f"{where} has {len(items)} item(s): there is no [{index}]",
                                 f"use an index from 0 to {len(items) - 1}, or set {where} as a whole list"
                                 if items else f"set {where} as a whole list")
            container, key = items, index
            where += f"[{index}]"
        if n == len(steps) - 1:
            if value is None and isinstance(container, dict):
                container.pop(key, None)
            else:
                container[key] = value
            return
        child = _child(container, key)
        if child is None:
            child = container[key] = {}
        node = child


def apply_changes(data: Mapping[str, Any], changes: Mapping[str, Any]) -> dict[str, Any]:
    """A copy of a policy's YAML mapping with ``changes`` (dotted path → value) applied, in order.
    Every path is checked first (:func:`check_path`): one unknown path changes nothing."""
    if not isinstance(changes, Mapping):
        raise ParameterError(f"changes must be a mapping of dotted paths to values, e.g. "
                             f"{{'credit.outage_multiplier': 8}}, not {type(changes).__name__}")
    steps = {path: check_path(path) for path in changes}
    out = copy.deepcopy(dict(data))
    for path, value in changes.items():
        _set(out, path, steps[path], _plain(value))
    return out


def describe_changes(changes: Mapping[str, Any]) -> str:
    """``credit.outage_multiplier=8, eligibility.min_continuous_minutes=180`` (None: ``삭제``)."""
    return ", ".join(f"{k}={'삭제' if v is None else json.dumps(_plain(v), ensure_ascii=False, default=str)}"
                     for k, v in changes.items())


def changes_digest(changes: Mapping[str, Any]) -> str:
    """A short digest of the changes (sorted by path): what names a what-if's folder."""
    text = json.dumps({k: _plain(v) for k, v in sorted(changes.items())}, ensure_ascii=False, sort_keys=True,
                      default=str, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:8]


def _validated(changed: dict[str, Any], base: Policy) -> Policy:
    """The changed mapping checked as a policy file; an unknown key inside a value set as a whole
    (``credit.billable_time: {unit_minute: 30}``) is refused with the closest keys as well."""
    label = f"{base.path} + changes"
    try:
        return policy_from_mapping(changed, label)
    except InputError as exc:
        if exc.problem == "is not a known key" and not hasattr(exc, "errors"):
            near = closest_paths(_generic(exc.where))
            if near:
                indices = [int(i) for i in _INDEX.findall(exc.where)]
                hint = " or ".join(_with_indices(p, indices) for p in near)
                raise InputError(exc.path, exc.where, exc.problem, f"did you mean {hint}? {exc.fix}") from None
        raise


# ----- which policy ------------------------------------------------------------------------------------


def _incident(incident: str | Path | Incident) -> Incident:
    inc = incident if isinstance(incident, Incident) else load_incident(
        _resolve(incident, find_project_root(Path.cwd())))
    if inc.kind != "outage" or inc.policy is None:
        raise InputError(inc.path, "kind", f"is {inc.kind}: a what-if compares compensation policies, which only "
                         "an outage has", "name an outage's incident file")
    require_sized(inc)  # an outage still going on is sized as of a time (as_of) first
    return inc


def _resolve(path: str | Path, root: Path) -> Path:
    """A path as the notebooks take it: as given when it exists, else from the project's root."""
    path = Path(path)
    return path if path.is_absolute() or path.exists() else root / path


def base_policy(incident: Incident, policy: str | Path | Policy | None) -> Policy:
    """The policy a what-if starts from: the incident's own (None), a :class:`Policy`, or an id of
    the catalogue the incident sees (``kt-analysis policies``) or a policy file."""
    if policy is None:
        return incident.credit_policy
    if isinstance(policy, Policy):
        return policy
    if not isinstance(policy, str | Path):
        raise ParameterError(f"policy must be a catalogue id, a policy file or a Policy, not {type(policy).__name__}")
    ref = str(policy)
    return load_policy(resolve_policy(ref, incident.folder, "--policy", ref))


def policy_with_changes(incident: Incident, policy: str | Path | Policy | None = None,
                        changes: Mapping[str, Any] | None = None) -> Policy:
    """The policy of a what-if: :func:`base_policy` with ``changes`` applied and validated. Its
    ``path`` and ``sha256`` stay the base file's; its title says what was changed."""
    base = base_policy(incident, policy)
    if not changes:
        return base
    if not base.path or not Path(base.path).is_file():
        raise ParameterError(f"policy {base.id}: changes are applied to a policy's file, and this Policy has none "
                             "— pass its catalogue id or file instead")
    if base.sha256 and sha256_file(base.path) != base.sha256:
        raise InputError(base.path, "", "changed since the policy was loaded", "load it again (or pass its id)")
    changed = _validated(apply_changes(read_yaml_mapping(base.path, "policy"), changes), base)
    return replace(changed, path=base.path, sha256=base.sha256,
                   title=f"{changed.title} — 가정 변경: {describe_changes(changes)}")


def _bills_refused(incident: Incident, policy: Policy) -> None:
    """A policy computing on bills needs the incident's bill items (as load_incident refuses it)."""
    if not policy.fee_basis.roster and incident.bill_items is None:
        raise InputError(incident.path, "bill_items", f"policy {policy.id} computes credits on the lines' bills "
                         f"({policy.fee_basis.describe()}), and the incident names no bill items file",
                         "add bill_items: PATH to the incident (or pass --bill-items), or choose a policy on the "
                         "roster's fee")


# ----- computing ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class WhatIfResult:
    """An incident's figures under a what-if policy (integer won)."""

    incident_id: str
    policy_id: str
    policy_title: str
    changes: dict[str, Any]
    affected_lines: int
    eligible_lines: int
    eligible_customers: int
    total_credit_krw: int
    by_service: pd.DataFrame = field(repr=False, compare=False)
    summary: OutageSummary = field(repr=False, compare=False)
    policy: Policy = field(repr=False, compare=False)
    folder: Path | None = None  # where it was written (kt-analysis run --policy); None: a temporary folder

    def figures(self) -> dict[str, int]:
        return {"affected_lines": self.affected_lines, "eligible_lines": self.eligible_lines,
                "eligible_customers": self.eligible_customers, "total_credit_krw": self.total_credit_krw}


def _by_service(summary: OutageSummary) -> pd.DataFrame:
    rows = {s: b.to_dict() for s, b in summary.by_service.items()}
    frame = pd.DataFrame.from_dict(rows, orient="index", columns=["affected_lines", "affected_customers",
                                                                   "eligible_lines", "total_credit_krw"])
    frame.index.name = "service"
    return frame.astype("int64")


def _result(incident: Incident, policy: Policy, changes: Mapping[str, Any], summary: Any,
            folder: Path | None) -> WhatIfResult:
    assert isinstance(summary, OutageSummary)
    return WhatIfResult(
        incident_id=incident.id, policy_id=policy.id, policy_title=policy.title,
        changes={k: _plain(v) for k, v in changes.items()}, affected_lines=int(summary.affected_lines),
        eligible_lines=int(summary.eligible_lines), eligible_customers=int(summary.eligible_customers),
        total_credit_krw=int(summary.total_credit_krw), by_service=_by_service(summary), summary=summary,
        policy=policy, folder=folder)


def _compute(incident: Incident, policy: Policy, dest: Path, *, out: Path | None,
             what_if_policies: Sequence[Policy] = (), say: Say | None = None, engine: str = "duckdb",
             spark_master: str | None = None) -> Any:
    """``analyse`` of the incident under ``policy`` into ``dest``; a policy counting across the
    calendar month reads the earlier incidents from ``out``'s history (read only; None: none)."""
    for p in (policy, *what_if_policies):
        _bills_refused(incident, p)
    inc = replace(incident, policy=policy)
    earlier = None
    if out is not None and uses_month([policy, *what_if_policies]):
        earlier = history.earlier(out, inc, dest / EARLIER_ROWS)
    summary = analyse(inc, dest, what_if_policies=list(what_if_policies), earlier=earlier, engine=engine,
                      spark_master=spark_master, progress=say)
    if earlier is not None:
        earlier.rows.unlink(missing_ok=True)
    return summary


def _history_folder(out: str | Path | None) -> Path | None:
    if out is None:
        return None
    return _resolve(out, find_project_root(Path.cwd()))


def what_if(incident: str | Path | Incident, policy: str | Path | Policy | None = None,
            changes: Mapping[str, Any] | None = None, *, out: str | Path | None = "reports",
            say: Say | None = None) -> WhatIfResult:
    """The incident's figures under ``policy`` (a catalogue id, a policy file or a :class:`Policy`;
    default the incident's own) with ``changes`` (dotted path → value) applied and validated.

    Computed by the run's engine into a temporary folder, removed afterwards: nothing is written
    into the incident's report or the history. ``out``: the output folder whose history a policy
    counting across the calendar month reads the earlier incidents from (None: none counted)."""
    inc = _incident(incident)
    changes = dict(changes or {})
    pol = policy_with_changes(inc, policy, changes)
    with tempfile.TemporaryDirectory(prefix=f"kt-what-if-{inc.id}-") as tmp:
        summary = _compute(inc, pol, Path(tmp), out=_history_folder(out), say=say)
    return _result(inc, pol, changes, summary, None)


def sensitivity(incident: str | Path | Incident, policy: str | Path | Policy | None = None,
                grid: Mapping[str, Sequence[Any]] | None = None, *, changes: Mapping[str, Any] | None = None,
                value: str = "total_credit_krw", out: str | Path | None = "reports",
                say: Say | None = None) -> pd.DataFrame:
    """The total credit (or ``value="eligible_lines"``) for every combination of the values of one or
    two dotted paths: rows the first path's values, columns the second's (one column, named
    ``value``, for one path); int64 cells. ``changes`` apply to every cell first.

    Every cell's policy is validated like a policy file before anything is computed; the cells are
    computed in one pass over the incident's lines (each one more what-if policy of the same pass).
    ``frame.attrs`` names the incident, the policy, the paths and the changes (what
    :func:`kt_analysis.report.sensitivity.sensitivity_heatmap` titles the chart with)."""
    if value not in ("total_credit_krw", "eligible_lines"):
        raise ParameterError(f"value must be total_credit_krw or eligible_lines, not {value!r}")
    if not isinstance(grid, Mapping) or not 1 <= len(grid) <= 2:
        raise ParameterError("grid must map one or two dotted paths to their values, e.g. {'credit.outage_multiplier': "
                             "[5, 8, 10], 'eligibility.min_continuous_minutes': [60, 120]}")
    paths = list(grid)
    axes = []
    for path in paths:
        values = grid[path]
        if isinstance(values, str | bytes) or not isinstance(values, Sequence | np.ndarray) or len(values) == 0:
            raise ParameterError(f"grid[{path!r}] must be a non-empty list of values, not {values!r}")
        plain = [_plain(v) for v in values]
        if len({json.dumps(v, sort_keys=True, default=str) for v in plain}) != len(plain):
            raise ParameterError(f"grid[{path!r}] names a value twice: {plain}")
        axes.append(plain)
    inc = _incident(incident)
    base_changes = dict(changes or {})
    base = policy_with_changes(inc, policy, base_changes)
    cells = list(itertools.product(*axes))
    policies = []
    for k, cell in enumerate(cells):
        cell_changes = {**base_changes, **dict(zip(paths, cell, strict=True))}
        p = policy_with_changes(inc, policy, cell_changes)
        policies.append(replace(p, id=f"{p.id}--cell-{k}"))  # ids tell the pass's policies apart
    with tempfile.TemporaryDirectory(prefix=f"kt-sensitivity-{inc.id}-") as tmp:
        summary = _compute(inc, base, Path(tmp), out=_history_folder(out), what_if_policies=policies, say=say)
    assert isinstance(summary, OutageSummary)
    got = {w.policy_id: w for w in summary.what_if}
    skipped = {s.policy_id: s.reason for s in summary.what_if_skipped}
    figures = []
    for p, cell in zip(policies, cells, strict=True):
        if p.id not in got:
            raise InputError(CHANGES, describe_changes(dict(zip(paths, cell, strict=True))),
                             f"this cell's policy cannot be computed: {skipped.get(p.id, 'left out of the pass')}",
                             "leave that value out of the grid")
        figures.append(int(getattr(got[p.id], value)))
    if len(paths) == 1:
        frame = pd.DataFrame({value: figures}, index=pd.Index(axes[0], name=paths[0]))
    else:
        matrix = np.array(figures, dtype="int64").reshape(len(axes[0]), len(axes[1]))
        frame = pd.DataFrame(matrix, index=pd.Index(axes[0], name=paths[0]),
                             columns=pd.Index(axes[1], name=paths[1]))
    frame = frame.astype("int64")
    frame.attrs.update({"incident_id": inc.id, "incident_title": inc.title, "policy_id": base.id,
                        "paths": paths, "value": value, "changes": {k: _plain(v) for k, v in base_changes.items()}})
    return frame


# ----- kt-analysis run --policy / --set ------------------------------------------------------------------


def parse_set(items: Sequence[str]) -> dict[str, Any]:
    """``--set key.path=value`` options as changes: the value read as YAML (``8`` a number,
    ``true`` a boolean, ``[a, b]`` a list, nothing after ``=``: the key removed)."""
    out: dict[str, Any] = {}
    for item in items:
        path, sep, text = item.partition("=")
        path = path.strip()
        if not sep or not path:
            raise InputError("--set", item, "is not key.path=value", "write e.g. --set credit.outage_multiplier=8")
        if path in out:
            raise InputError("--set", path, "is given twice", "give each key once")
        check_path(path)
        out[path] = read_yaml_value(text, "--set", path)
    return out


def what_if_folder(out: Path, incident_id: str, policy_id: str, changes: Mapping[str, Any]) -> Path:
    """``<out>/<incident id>/what-if/<policy id>[-<changes digest>]``."""
    name = f"{policy_id}-{changes_digest(changes)}" if changes else policy_id
    return out / incident_id / WHAT_IF_DIR / name


def run_what_if(incident_path: str | Path, *, policy: str | None = None, changes: Mapping[str, Any] | None = None,
                out: str | Path = "reports", roster: str | Path | None = None, bill_items: str | Path | None = None,
                claims: str | Path | None = None, engine: str = "duckdb", spark_master: str | None = None,
                as_of: str | None = None, say: Say | None = None) -> WhatIfResult:
    """``kt-analysis run INCIDENT --policy ID --set key=value``: the what-if written to
    :func:`what_if_folder` (ledger.parquet, summary.json, what-if.json), moved into place whole when
    it succeeded. The incident's own report and the history are not touched."""
    say = say or (lambda _m: None)
    inc = _incident(load_incident(incident_path, roster=roster, bill_items=bill_items, claims=claims, as_of=as_of))
    changes = dict(changes or {})
    pol = policy_with_changes(inc, policy, changes)
    out = Path(out)
    final = what_if_folder(out, inc.id, pol.id, changes)
    prepare_out(out)
    with incident_lock(out, inc.id):  # not while the incident's own run moves its folder
        final.parent.mkdir(parents=True, exist_ok=True)
        for dead in final.parent.glob(".staging-*"):  # killed what-if runs' (the lock is held)
            shutil.rmtree(dead, ignore_errors=True)
        staging = final.parent / f".staging-{final.name}-{os.getpid()}"
        staging.mkdir()
        try:
            say(f"{inc.id}: what-if under {pol.id}" + (f" with {describe_changes(changes)}" if changes else ""))
            summary = _compute(inc, pol, staging, out=out, say=lambda m: say(f"{inc.id}: {m}"), engine=engine,
                               spark_master=spark_master)
            files = {f["role"]: f for f in replace(inc, policy=pol).inputs()}
            meta = {"incident_id": inc.id, "incident": files.get("incident"), "policy_id": pol.id,
                    "policy_file": files.get("policy"),
                    "changes": {k: _plain(v) for k, v in changes.items()}, "policy_title": pol.title,
                    "engine": engine, "published": False,
                    "note": "a what-if: not the incident's report, not recorded in the history"}
            (staging / WHAT_IF_FILE).write_text(json.dumps(meta, ensure_ascii=False, indent=2, default=str) + "\n",
                                                encoding="utf-8")
            old = swap_into_place(staging, final)  # the earlier what-if goes back into place on a failure
            shutil.rmtree(old, ignore_errors=True)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
    return _result(inc, pol, changes, summary, final)


__all__ = ["WHAT_IF_DIR", "WhatIfResult", "apply_changes", "check_path", "closest_paths", "parse_set",
           "policy_with_changes", "run_what_if", "sensitivity", "what_if", "what_if_folder"]
