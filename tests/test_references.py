"""No dangling references: every file the README, the docs, the data notes, the notebooks and the
package's messages name exists in the project, and none names the team's private notes.

A reference is a Markdown link to a relative target, or a path of the repository written in
backticks (Markdown) or in a string (Python, notebooks): ``data/…``, ``docs/…``, ``kt_analysis/…``,
``notebooks/…``, ``tests/…``, ``tools/…``, ``benchmarks/…``. Paths with a placeholder (``<id>``,
``*``, ``{…}``) name a pattern, not a file, and are left out.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
TOP = ("data", "docs", "kt_analysis", "notebooks", "tests", "tools", "benchmarks", ".ci")
REPO_PATH = re.compile(r"(?<![\w./-])(?:\./)?((?:" + "|".join(re.escape(t) for t in TOP) + r")/[\w.\-/]*[\w\-])")
LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")
BACKTICKED = re.compile(r"`([^`\n]+)`")
PRIVATE = re.compile(r"DESIGN\.md|domain-facts|notebook-pitfalls|\.\./shared|shared/(?:DESIGN|domain|notebook|style)")
# Output paths the tool writes (not in the repository) that the docs describe: the output folder and,
# inside each incident's, the executed chapters.
WRITTEN = ("reports/", "notebooks/report.ipynb")


def markdown_files() -> list[Path]:
    files = [ROOT / "README.md", ROOT / "SECURITY.md", *sorted((ROOT / "docs").glob("*.md")),
             *sorted((ROOT / "data").rglob("*.md")), *sorted((ROOT / "tests" / "data").rglob("*.md"))]
    return [f for f in files if f.is_file()]


def text_files() -> list[Path]:
    """Python sources and templates of the package, the tools and the benchmark: their messages."""
    files = [*sorted((ROOT / "kt_analysis").rglob("*.py")), *sorted((ROOT / "kt_analysis").rglob("*.j2")),
             *sorted((ROOT / "kt_analysis" / "catalogue").rglob("*.yml")), *sorted((ROOT / "tools").rglob("*.py")),
             *sorted((ROOT / "benchmarks").rglob("*.py")), *sorted((ROOT / "data").rglob("*.yml")),
             ROOT / "Makefile", ROOT / "environment.yml", ROOT / "pyproject.toml"]
    return [f for f in files if f.is_file()]


def notebook_text(path: Path) -> str:
    cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
    return "\n".join("".join(c["source"]) for c in cells)


def _is_pattern(ref: str) -> bool:
    return any(ch in ref for ch in "<>*{}$")


def _exists(ref: str, base: Path) -> bool:
    ref = ref.split("#", 1)[0].rstrip("/.")
    if not ref:
        return True
    return (base / ref).exists() or (ROOT / ref).exists()


def repo_paths(text: str) -> set[str]:
    return {m.group(1) for m in REPO_PATH.finditer(text)}


def dangling(path: Path, text: str, *, links: bool) -> list[str]:
    bad = []
    if links:
        for target in LINK.findall(text):
            if re.match(r"^[a-z]+:", target) or target.startswith("#") or _is_pattern(target):
                continue
            if not _exists(target, path.parent):
                bad.append(f"link {target}")
        chunks = BACKTICKED.findall(text)
        # Fenced code blocks are examples of commands: their repository paths must exist too.
        chunks += re.findall(r"```[^\n]*\n(.*?)```", text, flags=re.S)
    else:
        chunks = [text]
    for chunk in chunks:
        for ref in repo_paths(chunk):
            if _is_pattern(ref) or ref.startswith(WRITTEN):
                continue
            end = chunk[chunk.find(ref) + len(ref):][:1]
            if end and end in "<*{":  # data/incidents/<id>.yml: a pattern
                continue
            if not _exists(ref, path.parent):
                bad.append(ref)
    return sorted(set(bad))


@pytest.mark.parametrize("path", markdown_files(), ids=lambda p: str(p.relative_to(ROOT)))
def test_markdown_names_only_files_that_exist(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    assert not PRIVATE.findall(text), f"{path.name} points at notes users do not have"
    assert dangling(path, text, links=True) == []


@pytest.mark.parametrize("path", text_files(), ids=lambda p: str(p.relative_to(ROOT)))
def test_messages_name_only_files_that_exist(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    assert not PRIVATE.findall(text), f"{path.name} points at notes users do not have"
    assert dangling(path, text, links=False) == []


@pytest.mark.parametrize("path", sorted((ROOT / "notebooks").glob("*.ipynb")), ids=lambda p: p.name)
def test_notebooks_name_only_files_that_exist(path: Path) -> None:
    text = notebook_text(path)
    assert not PRIVATE.findall(text)
    assert dangling(path, text, links=True) == []


def test_the_check_finds_a_dangling_path_and_a_private_note() -> None:
    """The checks above can fail: a missing file, a dead link and a private note are found."""
    here = ROOT / "docs" / "x.md"
    assert dangling(here, "see `data/policies/kt-terms-2022.yml`", links=True) == ["data/policies/kt-terms-2022.yml"]
    assert dangling(here, "[terms](policy-missing.md)", links=True) == ["link policy-missing.md"]
    assert dangling(here, "`data/incidents/<id>.yml` and [the language](policy-language.md)", links=True) == []
    assert PRIVATE.findall("as in DESIGN.md")
