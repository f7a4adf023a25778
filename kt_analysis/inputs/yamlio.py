"""Safe YAML reading for every input file.

Input files come from analysts and from other systems, so nothing in them is ever evaluated:
only plain YAML (no custom tags such as ``!!python/object``), no aliases (an alias bomb expands a
few lines into gigabytes), timestamps kept as text so that the loaders parse them with the
incident's time zone instead of PyYAML guessing one.

Two more silent changes of meaning are refused or undone:

* a key written twice in one mapping (at any depth) is an error: YAML would keep the last one;
* plain scalars follow the YAML 1.2 core schema, not PyYAML's YAML 1.1: ``yes``/``no``/``on``/
  ``off``, ``1:30``, ``1_000`` and ``0b101`` are text; only ``true``/``false`` (3 spellings) are
  booleans; an integer is decimal, ``0o17`` or ``0x1F``. A number remembers how it was written
  (:class:`YamlInt`, :class:`YamlFloat`), so a value read as text (a facility ``0012``, a region
  ``1.10``) is always the text as written, never ``str()`` of the number.
"""

from __future__ import annotations

import hashlib
import math
import os
import re
import stat
from pathlib import Path
from typing import Any

import yaml

from kt_analysis.errors import InputError

MAX_YAML_BYTES = 1_000_000
# Input files nest a few levels; thousands of `[` would exhaust Python's stack in the composer.
MAX_YAML_DEPTH = 64


class YamlInt(int):
    """An integer read from YAML that remembers its text (``0x1F``, ``0012``, ``+12``)."""

    source: str

    def __new__(cls, value: int, source: str = "") -> YamlInt:
        obj = super().__new__(cls, value)
        obj.source = source or str(int(value))
        return obj

    # copy and pickle keep the text; typeshed types int's as tuple[int], but __new__ takes both
    def __getnewargs__(self) -> tuple[int, str]:  # type: ignore[override]
        return int(self), self.source


class YamlFloat(float):
    """A float read from YAML that remembers its text (``1.10``, ``.5``, ``1e3``)."""

    source: str

    def __new__(cls, value: float, source: str = "") -> YamlFloat:
        obj = super().__new__(cls, value)
        obj.source = source or repr(float(value))
        return obj

    # as YamlInt's: float's is typed tuple[float], but __new__ takes the text too
    def __getnewargs__(self) -> tuple[float, str]:  # type: ignore[override]
        return float(self), self.source


def source_text(value: Any) -> str | None:
    """A scalar as the input file wrote it: the text itself, or a number's own spelling;
    None for anything else (a boolean, nothing, a list, a mapping, a number not read from YAML)."""
    if isinstance(value, str):
        return value
    if isinstance(value, YamlInt | YamlFloat):
        return value.source
    return None


class _InputYAMLError(yaml.MarkedYAMLError):
    """A YAML problem found by this loader, with the fix the user needs."""

    def __init__(self, problem: str, mark: Any, fix: str) -> None:
        super().__init__(None, None, problem, mark)
        self.fix = fix


class _StrictLoader(yaml.SafeLoader):
    """SafeLoader with the YAML 1.2 core schema, without timestamp guessing, aliases, deep
    nesting or duplicate keys."""

    _depth = 0

    def construct_document(self, node):
        _refuse_duplicate_keys(self, node, "")
        return super().construct_document(node)

    def compose_node(self, parent, index):
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

    def construct_object(self, node, deep=False):
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


def _refuse_duplicate_keys(loader: _StrictLoader, node: yaml.Node, where: str) -> None:
    """Every mapping, at any depth, names each key once (``1`` and ``0x1`` are one key, as are
    ``true`` and ``1`` to Python's dict): YAML would silently keep the last value."""
    if isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            _refuse_duplicate_keys(loader, item, f"{where}[{i}]")
        return
    if not isinstance(node, yaml.MappingNode):
        return
    first: dict[Any, yaml.Node] = {}
    for key_node, value_node in node.value:
        name = key_node.value if isinstance(key_node, yaml.ScalarNode) else "?"
        if isinstance(key_node, yaml.ScalarNode):
            key = loader.construct_object(key_node, deep=True)
            try:
                earlier = first.get(key)
            except TypeError:  # an unhashable key: the constructor refuses it below
                earlier = None
            else:
                if earlier is not None:
                    line = earlier.start_mark.line + 1
                    inside = f" in {where}" if where else ""
                    also = f" (first at line {line})" if earlier.value == name else \
                        f" (first at line {line} as {earlier.value!r})"
                    raise _InputYAMLError(
                        f"key {name!r}{inside} appears twice{also}", key_node.start_mark,
                        f"keep one `{name}:` and delete the other (YAML would silently use the last)",
                    )
                first[key] = key_node
        _refuse_duplicate_keys(loader, value_node, f"{where}.{name}" if where else str(name))


# Plain scalars resolve by the YAML 1.2 core schema (https://yaml.org/spec/1.2.2/#1032-tag-resolution);
# dates and times stay strings: the loaders parse them with the incident's time zone. PyYAML's
# YAML 1.1 rules would read yes/no/on/off as booleans, 0012 as octal 10, 1:30 as 90, 1_000 as 1000
# and `<<` as a merge that silently overrides keys.
_NULL = re.compile(r"^(?:~|null|Null|NULL|)$")
_BOOL = re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$")
_INT = re.compile(r"^(?:[-+]?[0-9]+|0o[0-7]+|0x[0-9a-fA-F]+)$")
_FLOAT = re.compile(r"^(?:[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?)$")
_INF = re.compile(r"^[-+]?(?:\.inf|\.Inf|\.INF)$")
_NAN = re.compile(r"^(?:\.nan|\.NaN|\.NAN)$")

_StrictLoader.yaml_implicit_resolvers = {}
_StrictLoader.add_implicit_resolver("tag:yaml.org,2002:null", _NULL, ["~", "n", "N", ""])
_StrictLoader.add_implicit_resolver("tag:yaml.org,2002:bool", _BOOL, list("tTfF"))
_StrictLoader.add_implicit_resolver("tag:yaml.org,2002:int", _INT, list("-+0123456789"))
_StrictLoader.add_implicit_resolver("tag:yaml.org,2002:float", _FLOAT, list("-+.0123456789"))
_StrictLoader.add_implicit_resolver("tag:yaml.org,2002:float", _INF, list("-+."))
_StrictLoader.add_implicit_resolver("tag:yaml.org,2002:float", _NAN, ["."])


def _construct_null(loader: _StrictLoader, node: yaml.ScalarNode) -> None:
    if not _NULL.match(loader.construct_scalar(node)):
        raise ValueError("not a null")


def _construct_bool(loader: _StrictLoader, node: yaml.ScalarNode) -> bool:
    text = loader.construct_scalar(node)
    if not _BOOL.match(text):
        raise ValueError("not a YAML 1.2 boolean")
    return text.lower() == "true"


def _construct_int(loader: _StrictLoader, node: yaml.ScalarNode) -> YamlInt:
    text = loader.construct_scalar(node)
    if not _INT.match(text):  # int() would also take 1_000 and " 12 "
        raise ValueError("not a YAML 1.2 integer")
    if text.startswith(("0o", "0x")):
        return YamlInt(int(text[2:], 8 if text[1] == "o" else 16), text)
    return YamlInt(int(text, 10), text)


def _construct_float(loader: _StrictLoader, node: yaml.ScalarNode) -> YamlFloat:
    text = loader.construct_scalar(node)
    if _FLOAT.match(text):
        return YamlFloat(float(text), text)
    if _INF.match(text):
        return YamlFloat(-math.inf if text.startswith("-") else math.inf, text)
    if _NAN.match(text):
        return YamlFloat(math.nan, text)
    raise ValueError("not a YAML 1.2 float")


_StrictLoader.add_constructor("tag:yaml.org,2002:null", _construct_null)
_StrictLoader.add_constructor("tag:yaml.org,2002:bool", _construct_bool)
_StrictLoader.add_constructor("tag:yaml.org,2002:int", _construct_int)
_StrictLoader.add_constructor("tag:yaml.org,2002:float", _construct_float)


def sha256_file(path: str | Path) -> str:
    """The file's sha256; a device, FIFO or socket is refused (:func:`check_input_file`) before a
    byte is read: ``/dev/zero`` never ends and a FIFO nobody writes to never answers."""
    check_input_file(path, "input")
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
        if isinstance(exc, _InputYAMLError):
            fix = exc.fix
        elif "could not determine a constructor" in str(exc):
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
            f"see the {what} format in {FORMAT_DOCS.get(what, 'docs/')}",
        )
    return data


def read_yaml_value(text: str, where: str, what: str) -> Any:
    """One YAML value written on a command line (``--set credit.outage_multiplier=8``), read by the
    rules of an input file (YAML 1.2 core schema, no tags, aliases or duplicate keys): ``8`` is a
    number, ``true`` a boolean, ``[a, b]`` a list, an empty text nothing. Errors name ``where`` and ``what``."""
    try:
        return yaml.load(text, Loader=_StrictLoader)  # noqa: S506 - _StrictLoader is a SafeLoader
    except yaml.YAMLError as exc:
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise InputError(where, what, f"{text!r} cannot be read as a YAML value ({problem})",
                         "write the value as in a policy file: 8, true, text, [a, b] or {key: value}") from None


# Where each YAML file's format is documented (docs/ of the project).
FORMAT_DOCS = {"incident": "docs/incidents.md", "policy": "docs/policy-language.md",
               "settlement": "docs/settlement.md", "calendar override": "docs/settlement.md",
               "input": "docs/ (incidents.md, policy-language.md, settlement.md)"}


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
                "see the format in docs/ (incidents.md, policy-language.md, settlement.md)",
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
        value = _text_as_written(value, self.path, self.key(name), "write a word or sentence")
        if not value.strip():
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
            fix = "write true or false"
            if isinstance(value, str) and value.lower() in _YAML11_BOOLS:
                fix += f" ({value} is text in YAML 1.2, not a yes/no value)"
            raise self.error(name, f"must be true or false, found {as_written(value)}", fix)
        return value

    def text_list(
        self, name: str, default: Any = _MISSING, *, choices: tuple[str, ...] = ()
    ) -> Any:
        value = self.raw(name, default)
        if value is default and default is not _MISSING:
            return value
        if source_text(value) is not None:  # one name: a list of one
            value = [value]
        if not isinstance(value, list) or not value:
            raise self.error(name, f"must be a list, found {_kind(value)}", "write [a, b, …]")
        out = []
        for i, item in enumerate(value):
            item = _text_as_written(item, self.path, f"{self.key(name)}[{i}]", "write a name")
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
            name = as_written(unknown[0]).strip("'")
            known = ", ".join(sorted(self.used)) or "none"
            raise self.error(name, "is not a known key", f"remove it or check the spelling (known: {known})")


def check_int(
    value: Any, path: str, where: str, *, minimum: int | None = None, maximum: int | None = None
) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        hint = "write a whole number without quotes, commas or units"
        if isinstance(value, float):
            hint = "money and time are whole numbers here: write an integer"
        elif isinstance(value, bool):
            hint = "true and false are not numbers: write a whole number such as 0 or 1"
        raise InputError(path, where, f"must be a whole number, found {as_written(value)}", hint)
    if minimum is not None and value < minimum:
        raise InputError(path, where, f"is {value}, below the minimum {minimum}", f"use {minimum} or more")
    if maximum is not None and value > maximum:
        raise InputError(path, where, f"is {value}, above the maximum {maximum:,}", f"use {maximum:,} or less")
    return int(value)  # a plain int from here on (a YamlInt's text is for text fields only)


_YAML11_BOOLS = ("yes", "no", "on", "off", "y", "n")


def as_written(value: Any) -> str:
    """A scalar as the file wrote it, for messages: ``0x1F``, ``true``, ``'yes'``."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, YamlInt | YamlFloat):
        return value.source
    if isinstance(value, str):
        return repr(value)
    return _kind(value)


def _text_as_written(value: Any, path: str, where: str, fix: str) -> str:
    """A value read as text: the text as written, a number's own spelling (``0012``, not ``12``).
    A boolean, nothing, a list or a mapping where text belongs is refused."""
    text = source_text(value)
    if text is not None:
        return text
    if isinstance(value, bool):
        word = "true" if value else "false"
        raise InputError(path, where, f"must be text, found {word} (a yes/no value in YAML)",
                         f"quote it: '{word}' if it is a name, or write the text meant")
    raise InputError(path, where, f"must be text, found {_kind(value)}", fix)


def _kind(value: Any) -> str:
    if value is None:
        return "nothing"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, str):
        return f"text {value!r}"
    if isinstance(value, bool):
        return f"boolean {as_written(value)}"
    if isinstance(value, YamlInt | YamlFloat):
        return f"number {value.source}"
    return f"{type(value).__name__} {value!r}"
