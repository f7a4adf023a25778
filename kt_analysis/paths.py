"""Where kt-analysis finds its data: the one place that spells these paths.

**The catalogue.** Policies, settlement rules and business-day calendar overrides ship inside the
package (``kt_analysis/catalogue/``). A *workspace* adds to them and overrides them by id. A
workspace is a folder that may hold::

    policies/<id>.yml            credit policies (what-if compares every policy of the catalogue)
    settlement/<id>.yml          settlement rules of billing errors
    calendar/overrides.yml       business-day overrides added to the holidays package

An id resolves in this order, the first folder that has it wins:

1. the workspace named by ``--workspace PATH`` (the CLI sets ``KT_ANALYSIS_WORKSPACE``), else the
   environment variable ``KT_ANALYSIS_WORKSPACE``, else the ``workspace`` named in the nearest
   ``kt-analysis.toml`` at or above the incident's folder (a path relative to that file);
2. the ``data/`` folder of the incident's project — the nearest folder at or above the incident
   that holds ``<project>/data/policies``, ``…/settlement`` or ``…/calendar`` (a checkout's layout);
3. the built-in catalogue.

Calendar overrides add up: the built-in file first, then the project's, then the workspace's
(a later entry for the same day wins).

**Paths inside an incident** (roster, windows file, bills, bill items, claims, a policy given as a
path) resolve against the incident file's own folder. For incidents written for earlier versions,
a path missing there is looked up in the project folder (the nearest folder at or above the
incident holding one of those folders or a ``pyproject.toml``); a path found in both places, as
two different files, is refused.
"""

from __future__ import annotations

import os
import sys
import tomllib
from dataclasses import dataclass
from pathlib import Path

from kt_analysis.errors import InputError

DATA = Path("data")
# The layout of a workspace, and of a project's data/ folder.
POLICIES = Path("policies")
SETTLEMENT = Path("settlement")
CALENDAR_OVERRIDES = Path("calendar") / "overrides.yml"
KINDS = {"policies": POLICIES, "settlement": SETTLEMENT}
ENV_VAR = "KT_ANALYSIS_WORKSPACE"
CONFIG_NAME = "kt-analysis.toml"
# Files the package itself ships: the catalogue, the report's templates and style, Spark's log
# configuration.
PACKAGE = Path(__file__).resolve().parent
BUILTIN = PACKAGE / "catalogue"
TEMPLATES = PACKAGE / "templates"
# The report's notebooks: beside the package in a checkout, under <prefix>/share/kt-analysis/ when
# installed from a wheel.
_CHECKOUT_NOTEBOOKS = PACKAGE.parent / "notebooks"
_INSTALLED_NOTEBOOKS = Path(sys.prefix) / "share" / "kt-analysis" / "notebooks"
NOTEBOOKS_DIR = _CHECKOUT_NOTEBOOKS if _CHECKOUT_NOTEBOOKS.is_dir() else _INSTALLED_NOTEBOOKS


def find_project_root(start: Path) -> Path:
    """The nearest folder at or above ``start`` that holds a ``data/`` catalogue folder or a
    ``pyproject.toml``; ``start`` itself when there is none."""
    start = start.resolve()
    for folder in [start, *start.parents]:
        if _has_catalogue(folder / DATA) or (folder / "pyproject.toml").is_file():
            return folder
    return start


def _has_catalogue(folder: Path) -> bool:
    return any((folder / sub).is_dir() for sub in ("policies", "settlement", "calendar"))


@dataclass(frozen=True)
class Source:
    """One folder of the catalogue: ``origin`` is ``workspace``, ``project`` or ``built-in``."""

    origin: str
    folder: Path


@dataclass(frozen=True)
class Catalogue:
    """The folders an id is looked up in, first first (see the module's docstring)."""

    sources: tuple[Source, ...]

    def find(self, kind: str, ident: str) -> Path | None:
        for source in self.sources:
            path = source.folder / KINDS[kind] / f"{ident}.yml"
            if path.is_file():
                return path
        return None

    def entries(self, kind: str) -> list[tuple[str, Path, str, list[str]]]:
        """Every id of ``kind`` as (id, file, origin, the origins it overrides), sorted by id."""
        found: dict[str, tuple[Path, str, list[str]]] = {}
        for source in self.sources:
            folder = source.folder / KINDS[kind]
            for path in sorted(folder.glob("*.yml")) if folder.is_dir() else []:
                if path.stem in found:
                    found[path.stem][2].append(source.origin)
                else:
                    found[path.stem] = (path, source.origin, [])
        return [(ident, *found[ident]) for ident in sorted(found)]

    def files(self, kind: str) -> list[Path]:
        """The file of every id of ``kind`` (the first folder's wins), sorted by id."""
        return [path for _, path, _, _ in self.entries(kind)]

    def ids(self, kind: str) -> list[str]:
        return [ident for ident, _, _, _ in self.entries(kind)]

    def calendar_files(self) -> list[Path]:
        """The calendar override files, built-in first: a later one wins for the same day."""
        files = [s.folder / CALENDAR_OVERRIDES for s in reversed(self.sources)]
        return [f for f in files if f.is_file()]

    def describe(self) -> str:
        return ", ".join(f"{s.origin} {s.folder}" for s in self.sources)


def workspace_folder(start: Path | None = None) -> Path | None:
    """The workspace named by ``KT_ANALYSIS_WORKSPACE`` or the nearest ``kt-analysis.toml`` at or
    above ``start`` (default: the working folder); None when neither names one. A workspace that is
    named must exist."""
    named = os.environ.get(ENV_VAR, "").strip()
    if named:
        folder = Path(named).expanduser()
        if not folder.is_dir():
            raise InputError(ENV_VAR, "", f"the workspace {named!r} is not a folder",
                             "create it (with policies/, settlement/ or calendar/ inside), or fix "
                             f"--workspace / {ENV_VAR}")
        return folder.resolve()
    start = (start or Path.cwd()).resolve()
    for folder in [start, *start.parents]:
        config = folder / CONFIG_NAME
        if config.is_file():
            return _configured_workspace(config)
    return None


def _configured_workspace(config: Path) -> Path | None:
    try:
        doc = tomllib.loads(config.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise InputError(str(config), "", f"cannot be read as TOML: {exc}",
                         'write it as: workspace = "path/to/folder"') from None
    unknown = sorted(set(doc) - {"workspace"})
    if unknown:
        raise InputError(str(config), unknown[0], "is not a setting kt-analysis knows",
                         'the file holds one setting: workspace = "path/to/folder"')
    value = doc.get("workspace")
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip():
        raise InputError(str(config), "workspace", f"{value!r} is not a folder path",
                         'write it as: workspace = "path/to/folder" (relative to this file)')
    folder = (config.parent / value).expanduser()
    if not folder.is_dir():
        raise InputError(str(config), "workspace", f"{value!r} is not a folder (looked for {folder})",
                         "create the folder or fix the path (relative to this file)")
    return folder.resolve()


def catalogue_for(start: Path | None = None) -> Catalogue:
    """The catalogue for an incident in the folder ``start`` (default: the working folder)."""
    start = (start or Path.cwd()).resolve()
    sources = []
    workspace = workspace_folder(start)
    if workspace is not None:
        sources.append(Source("workspace", workspace))
    project = find_project_root(start) / DATA
    if _has_catalogue(project) and (workspace is None or project.resolve() != workspace):
        sources.append(Source("project", project.resolve()))
    sources.append(Source("built-in", BUILTIN))
    return Catalogue(tuple(sources))


def resolve_input_path(ref: str | Path, folder: Path, root: Path) -> Path:
    """A path written in an incident: absolute, or relative to the incident's folder ``folder``;
    a relative path missing there is looked up in the project folder ``root`` (incidents written
    for earlier versions). Found in both places as two different files: refused (InputError with
    the path as its field, for the caller to complete)."""
    path = Path(ref)
    if path.is_absolute():
        return path
    here = folder / path
    there = root / path
    if _exists(here) and _exists(there) and here.resolve() != there.resolve():
        raise InputError("", str(ref), f"names two different files: {here} (beside the incident) and "
                         f"{there} (in the project folder)",
                         f"write the path relative to the incident's folder ({folder}) or make it absolute")
    if _exists(here) or not _exists(there):
        return here
    return there


def _exists(path: Path) -> bool:
    """False, not an OSError, for a name the system cannot look up (too long, a NUL byte)."""
    try:
        return path.exists()
    except (OSError, ValueError):
        return False
