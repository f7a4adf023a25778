"""Where a project keeps its data: the one place that spells these paths.

A project is the nearest folder at or above an input file that holds ``data/policies`` or a
``pyproject.toml``; relative paths in incidents resolve against it. Inside it:

* ``data/policies/<id>.yml`` — the policy catalogue (what-if compares every one of them);
* ``data/settlement/<id>.yml`` — settlement rules of billing errors;
* ``data/calendar/overrides.yml`` — business-day overrides added after the holidays package.
"""

from __future__ import annotations

from pathlib import Path

DATA = Path("data")
POLICIES = DATA / "policies"
SETTLEMENT = DATA / "settlement"
CALENDAR_OVERRIDES = DATA / "calendar" / "overrides.yml"
# Files the package itself ships: the report's templates and style, Spark's log configuration.
TEMPLATES = Path(__file__).resolve().parent / "templates"
# The report's notebooks, beside the package in a checkout.
NOTEBOOKS_DIR = Path(__file__).resolve().parent.parent / "notebooks"


def find_project_root(start: Path) -> Path:
    """The nearest folder at or above ``start`` that holds ``data/policies`` or ``pyproject.toml``."""
    start = start.resolve()
    for folder in [start, *start.parents]:
        if (folder / POLICIES).is_dir() or (folder / "pyproject.toml").is_file():
            return folder
    return start


def policies_dir(root: Path) -> Path:
    return root / POLICIES


def calendar_overrides(root: Path) -> Path:
    return root / CALENDAR_OVERRIDES
