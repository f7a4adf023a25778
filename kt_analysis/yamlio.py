"""Safe YAML reading for every input file.

Input files come from analysts and from other systems, so nothing in them is ever evaluated:
only plain YAML (no custom tags such as ``!!python/object``), no aliases (an alias bomb expands a
few lines into gigabytes), timestamps kept as text so that the loaders parse them with the
incident's time zone instead of PyYAML guessing one.
"""

from __future__ import annotations

import hashlib
import os
import stat
from pathlib import Path
from typing import Any

import yaml

from .errors import InputError

MAX_YAML_BYTES = 1_000_000
# Input files nest a few levels; thousands of `[` would exhaust Python's stack in the composer.
MAX_YAML_DEPTH = 64


class _StrictLoader(yaml.SafeLoader):
    """SafeLoader without timestamp guessing, without aliases and without deep nesting."""

    _depth = 0

    def compose_node(self, parent, index):  # type: ignore[override]
        if self.check_event(yaml.AliasEvent):
            event = self.peek_event()
            raise yaml.MarkedYAMLError(
                None, None, "aliases (*name) are not accepted in input files", event.start_mark
            )
        if self._depth >= MAX_YAML_DEPTH:
            raise yaml.MarkedYAMLError(
                None, None, f"nests more than {MAX_YAML_DEPTH} levels deep", self.peek_event().start_mark
            )
        self._depth += 1
        try:
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1

    def construct_object(self, node, deep=False):  # type: ignore[override]
        # An explicit tag with a value it cannot hold (`!!int x`, `!!bool maybe`, `!!timestamp
        # 2024-13-45`) makes PyYAML's constructors raise ValueError, KeyError or AttributeError
        # instead of a YAMLError.
        try:
            return super().construct_object(node, deep=deep)
        except yaml.YAMLError:
            raise
        except (ValueError, TypeError, KeyError, AttributeError, OverflowError):
            tag = node.tag.replace("tag:yaml.org,2002:", "!!")
            value = repr(node.value[:60]) if isinstance(node, yaml.ScalarNode) else "the value"
            raise yaml.constructor.ConstructorError(
                None, None, f"{value} cannot be read as {tag}", node.start_mark
            ) from None


# Keep dates and times as strings: the loaders parse them with the incident's time zone.
_StrictLoader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def sha256_file(path: str | Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def path_exists(path: str | Path) -> bool:
    """``Path.exists()``, but False for a name the system cannot look up at all (longer than the
    system allows, or holding a NUL byte) instead of an OSError: such a name comes from an input file
    and is reported as not found."""
    try:
        return Path(path).exists()
    except (OSError, ValueError):
        return False


def _kind_of(mode: int) -> str:
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    if stat.S_ISFIFO(mode):
        return "a pipe (FIFO)"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "not a regular file"


def check_input_file(
    path: str | Path, what: str, *, max_bytes: int | None = None, folder_ok: bool = False,
    fix_size: str = "",
) -> Path:
    """An input path that names a regular file (or, with ``folder_ok``, a folder), checked from
    its metadata alone: nothing is opened, so ``/dev/zero``, a FIFO nobody writes to or a socket
    is refused at once instead of being read until memory runs out or forever.

    Returns the path; every problem is an :class:`InputError` naming it.
    """
    path = Path(path)
    try:
        st = os.stat(path)
    except FileNotFoundError:
        raise InputError(str(path), "", f"{what} file not found", "check the path") from None
    except (OSError, ValueError) as exc:  # too long, NUL byte, a loop of links, no permission
        reason = getattr(exc, "strerror", None) or str(exc)
        raise InputError(str(path), "", f"{what} file cannot be looked up ({reason})",
                         "check the path and its permissions") from None
    if stat.S_ISDIR(st.st_mode):
        if folder_ok:
            return path
        raise InputError(str(path), "", f"is a folder, not a {what} file", f"name the {what} file itself")
    if not stat.S_ISREG(st.st_mode):
        raise InputError(str(path), "", f"is {_kind_of(st.st_mode)}, not a {what} file",
                         "save the input as a file on disk and name that file")
    if max_bytes is not None and st.st_size > max_bytes:
        raise InputError(str(path), "", f"{what} file is {st.st_size:,} bytes, more than the "
                         f"{max_bytes:,} a {what} file may hold",
                         fix_size or "check that this is the right file")
    return path


def read_yaml_mapping(path: str | Path, what: str) -> dict[str, Any]:
    """Read a YAML file that must hold one mapping; every failure is an :class:`InputError`."""
    path = check_input_file(
        path, what, max_bytes=MAX_YAML_BYTES,
        fix_size="a policy or incident file is small; put tables in CSV files",
    )
    with open(path, "rb") as fh:  # read no more than the limit, whatever the size said
        raw = fh.read(MAX_YAML_BYTES + 1)
    if len(raw) > MAX_YAML_BYTES:
        raise InputError(
            str(path), "", f"{what} file is more than {MAX_YAML_BYTES:,} bytes", "a policy or incident file is "
            f"small; keep it under {MAX_YAML_BYTES:,} bytes and put tables in CSV files"
        )
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InputError(
            str(path), f"byte {exc.start}", "is not UTF-8 text", "save the file as UTF-8"
        ) from None
    try:
        data = yaml.load(text, Loader=_StrictLoader)  # noqa: S506 - _StrictLoader is a SafeLoader
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = exc.problem or str(exc)
        fix = "fix the YAML syntax there (quote text that holds : ? # [ ] { } ,)"
        if "could not determine a constructor" in str(exc):
            problem = "custom YAML tags are not accepted (" + (exc.problem or "").strip() + ")"
            fix = "write plain YAML values: no tags such as !!python/…"
        elif "aliases" in problem:
            fix = "write the value out in full instead of an alias"
        elif "cannot be read as" in problem:
            fix = "write the value without a YAML tag (such as !!int or !!timestamp)"
        elif "levels deep" in problem:
            fix = "an input file needs only a few levels: look for an unclosed [ or {"
        raise InputError(str(path), where, problem, fix) from None
    except yaml.YAMLError as exc:
        raise InputError(str(path), "", f"is not valid YAML ({exc})", "fix the syntax") from None
    if data is None:
        raise InputError(str(path), "", f"{what} file is empty", f"write the {what} as YAML")
    if not isinstance(data, dict):
        raise InputError(
            str(path), "", f"must hold a mapping (key: value), found {type(data).__name__}",
            f"see the {what} format in DESIGN.md",
        )
    return data


_MISSING = object()


class Section:
    """One mapping of a YAML file, read key by key; unknown keys are an error.

    Every value is checked against the type it must have, and each error names the file, the
    dotted key and the fix.
    """

    def __init__(self, data: Any, path: str | Path, where: str) -> None:
        self.path = str(path)
        self.where = where
        if not isinstance(data, dict):
            raise InputError(
                self.path, where or "(top level)",
                f"must be a mapping (key: value), found {_kind(data)}",
                "see the format in DESIGN.md",
            )
        self.data = data
        self.used: set[str] = set()

    def key(self, name: str) -> str:
        return f"{self.where}.{name}" if self.where else name

    def has(self, name: str) -> bool:
        return name in self.data and self.data[name] is not None

    def error(self, name: str, problem: str, fix: str) -> InputError:
        return InputError(self.path, self.key(name), problem, fix)

    def raw(self, name: str, default: Any = _MISSING) -> Any:
        self.used.add(name)
        if name not in self.data or self.data[name] is None:
            if default is _MISSING:
                raise self.error(name, "is missing", f"add `{name}:`")
            return default
        return self.data[name]

    def text(self, name: str, default: Any = _MISSING, *, choices: tuple[str, ...] = ()) -> Any:
        value = self.raw(name, default)
        if value is default and default is not _MISSING:
            return value
        if not isinstance(value, str) or not value.strip():
            raise self.error(name, f"must be text, found {_kind(value)}", "write a word or sentence")
        if choices and value not in choices:
            raise self.error(
                name, f"is {value!r}, not one of {', '.join(choices)}", "use one of those values"
            )
        return value

    def integer(
        self, name: str, default: Any = _MISSING, *, minimum: int | None = None,
        maximum: int | None = None,
    ) -> Any:
        value = self.raw(name, default)
        if value is default and default is not _MISSING:
            return value
        return check_int(value, self.path, self.key(name), minimum=minimum, maximum=maximum)

    def boolean(self, name: str, default: Any = _MISSING) -> Any:
        value = self.raw(name, default)
        if not isinstance(value, bool):
            raise self.error(name, f"must be true or false, found {value!r}", "write true or false")
        return value

    def text_list(
        self, name: str, default: Any = _MISSING, *, choices: tuple[str, ...] = ()
    ) -> Any:
        value = self.raw(name, default)
        if value is default and default is not _MISSING:
            return value
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, list) or not value:
            raise self.error(name, f"must be a list, found {_kind(value)}", "write [a, b, …]")
        out = []
        for i, item in enumerate(value):
            if not isinstance(item, str | int) or isinstance(item, bool):
                raise InputError(
                    self.path, f"{self.key(name)}[{i}]", f"must be text, found {_kind(item)}",
                    "write a name",
                )
            item = str(item)
            if choices and item not in choices:
                raise InputError(
                    self.path, f"{self.key(name)}[{i}]",
                    f"is {item!r}, not one of {', '.join(choices)}", "use one of those values",
                )
            out.append(item)
        return tuple(out)

    def section(self, name: str, default: Any = _MISSING) -> Any:
        value = self.raw(name, default)
        if value is default and default is not _MISSING:
            return value
        return Section(value, self.path, self.key(name))

    def done(self) -> None:
        unknown = [k for k in self.data if k not in self.used]
        if unknown:
            name = str(unknown[0])
            known = ", ".join(sorted(self.used)) or "none"
            raise self.error(name, "is not a known key", f"remove it or check the spelling (known: {known})")


def check_int(
    value: Any, path: str, where: str, *, minimum: int | None = None, maximum: int | None = None
) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        hint = "write a whole number without quotes, commas or units"
        if isinstance(value, float):
            hint = "money and time are whole numbers here: write an integer"
        raise InputError(path, where, f"must be a whole number, found {value!r}", hint)
    if minimum is not None and value < minimum:
        raise InputError(path, where, f"is {value}, below the minimum {minimum}", f"use {minimum} or more")
    if maximum is not None and value > maximum:
        raise InputError(path, where, f"is {value}, above the maximum {maximum:,}", f"use {maximum:,} or less")
    return value


def _kind(value: Any) -> str:
    if value is None:
        return "nothing"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, str):
        return f"text {value!r}"
    return f"{type(value).__name__} {value!r}"
