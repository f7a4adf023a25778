"""The error family: what the CLI turns into one line and an exit code."""

from __future__ import annotations

import errno
import re

_PHONE_LIKE = re.compile(r"(?:\+?82|0)[\d\s().-]{7,16}")
_NAME_LIKE = re.compile(r"[가-힣]{2,5}")


def shown(value: object) -> str:
    """A cell value quoted in an error message, with what looks like personal data masked.

    Messages quote bad values so the user can find them, but they go to terminals, logs and the
    run index: a phone number or a Korean name that an export shifted into another column must not
    travel with them. The row number is always given, so masking costs the user nothing.

    >>> shown("12,000원"), shown(5), shown("01098765432"), shown("+82-10-9876-5432"), shown("홍길동")
    ("'12,000원'", '5', "'010****5432'", "'+82-**-****-5432'", "'홍*동'")
    """
    if isinstance(value, str):
        text = value.strip()
        digits = sum(c.isdigit() for c in text)
        if _PHONE_LIKE.fullmatch(text) and 9 <= digits <= 13:
            return repr(_mask_digits(text, 2 if text.startswith("+") else 3))
        if _NAME_LIKE.fullmatch(text):
            return repr(text[0] + "*" * (len(text) - 2) + text[-1] if len(text) > 2 else text[0] + "*")
    return repr(value)


# A Korean phone number anywhere in a text: +82 forms, (0xx) forms, 0xx-xxxx-xxxx with one of
# "-", "." or " " between groups, and bare mobile/area numbers of 9-11 digits. Not inside a longer
# number (a decimal fraction, a 1,441,441 count), hence the look-arounds; a bare run of digits not
# inside a word either (a sha256 digest holds such runs between its letters).
_SEP = r"[-. ]"
_PHONE_IN_TEXT = re.compile(
    r"(?<![0-9+])(?<!\d[.,])"
    r"(?:"
    rf"\+82{_SEP}?(?:\(0\){_SEP}?)?0?\d{{1,2}}{_SEP}?\d{{3,4}}{_SEP}?\d{{4}}"  # +82-10-1234-5678
    rf"|\(0\d{{1,2}}\){_SEP}?\d{{3,4}}{_SEP}?\d{{4}}"  # (010) 9876-5432
    rf"|0\d{{1,2}}{_SEP}\d{{3,4}}{_SEP}\d{{4}}"  # 010-9876-5432, 02.123.4567
    r"|(?<![A-Za-z_])(?:01[016789]|070|0[3-6][1-5]|02)\d{7,8}(?![A-Za-z_])"  # 01098765432, 0212345678
    r")"
    r"(?!\d)(?![.,]\d)"
)


def _mask_phone_match(match: re.Match[str]) -> str:
    text = match.group(0)
    if text.startswith("+"):
        keep_head = 2  # the country code 82
    elif text.startswith("("):
        keep_head = text.index(")") - 1
    elif not text[1:].isdigit():
        keep_head = len(re.split(_SEP, text, maxsplit=1)[0])
    else:
        keep_head = 2 if text.startswith("02") else 3
    return _mask_digits(text, keep_head)


def _mask_digits(text: str, keep_head: int) -> str:
    """``text`` with its digits after the first ``keep_head`` and before the last four as ``*``."""
    digits = sum(c.isdigit() for c in text)
    out, seen = [], 0
    for c in text:
        if c.isdigit():
            seen += 1
            out.append(c if seen <= keep_head or seen > digits - 4 else "*")
        else:
            out.append(c)
    return "".join(out)


def mask_text(text: str) -> str:
    """``text`` with every Korean phone number in it masked: the area or mobile prefix (or +82)
    and the last four digits stay, the rest become ``*``. For whatever leaves the program as text
    (``error:`` lines, logs, ``failed/error.txt``, the run index); names are masked where a value
    is quoted (:func:`shown`), not here, so that region names stay readable.

    >>> mask_text("tel:01098765432, (010) 9876-5432 or +82 10 1234 5678 on 2024-03-04 10:00")
    'tel:010****5432, (010) ****-5432 or +82 ** **** 5678 on 2024-03-04 10:00'
    >>> mask_text("서울: 1,441,441 lines, 3,332원, line 12345678")
    '서울: 1,441,441 lines, 3,332원, line 12345678'
    """
    return _PHONE_IN_TEXT.sub(_mask_phone_match, str(text))


def phone_like(text: object) -> bool:
    """``text`` holds a Korean phone number: what :func:`mask_text` would mask.

    >>> phone_like("서울 010-9876-5432"), phone_like("SEOUL-MAPO-01"), phone_like("서울")
    (True, False, False)
    """
    return _PHONE_IN_TEXT.search(str(text)) is not None


class KtAnalysisError(Exception):
    """Base of every error kt-analysis raises on purpose."""

    exit_code = 1


class InputError(KtAnalysisError):
    """Bad input: the CLI prints it as one line and exits 2.

    >>> str(InputError("data/incidents/kt-2021-10-25-nationwide.yml", "affected.windows[2]", "ends before it starts",
    ...                "swap start and end"))
    'data/incidents/kt-2021-10-25-nationwide.yml: affected.windows[2]: ends before it starts — swap start and end'
    """

    exit_code = 2

    def __init__(self, path: str, where: str, problem: str, fix: str = "") -> None:
        self.path = str(path)
        self.where = where
        self.problem = problem
        self.fix = fix
        super().__init__(self.message)

    @property
    def message(self) -> str:
        parts = [self.path]
        if self.where:
            parts.append(self.where)
        text = ": ".join(parts) + ": " + self.problem
        if self.fix:
            text += " — " + self.fix
        return text


class InputErrors(InputError):
    """Several input problems found at once (all are reported, not just the first)."""

    def __init__(self, errors: list[InputError]) -> None:
        self.errors = list(errors)
        first = self.errors[0]
        super().__init__(first.path, first.where, first.problem, first.fix)

    @property
    def message(self) -> str:
        return "\n".join(e.message for e in self.errors)


class ParameterError(KtAnalysisError):
    """A notebook or CLI parameter is wrong (exit 2)."""

    exit_code = 2


class RunError(KtAnalysisError):
    """A run failed after its inputs were accepted (a notebook cell, the kernel, a check)."""

    exit_code = 1


class OutputError(KtAnalysisError):
    """A fault of the disk or of the output folder (a file in its place, read-only, full): exit 1,
    one line naming the path and the fix.

    >>> str(OutputError("reports/x", "--out is a file, not a folder", "name a folder"))
    'reports/x: --out is a file, not a folder — name a folder'
    """

    exit_code = 1

    def __init__(self, path: object, problem: str, fix: str) -> None:  # path: a str, a Path, ...
        self.path, self.problem, self.fix = str(path), problem, fix
        super().__init__(f"{self.path}: {problem} — {fix}")


def output_fault(exc: OSError, out: object = None) -> OutputError:
    """The :class:`OutputError` for an ``OSError`` met while writing (under ``out``, the output folder)."""

    path = exc.filename if exc.filename is not None else (out if out is not None else "?")
    reason = exc.strerror or type(exc).__name__
    where = f" (the output folder {out})" if out is not None and str(path) != str(out) else ""
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return OutputError(path, f"cannot write ({reason})",
                           f"free space on the disk{where}, or name another folder with --out; "
                           "an earlier good report is unchanged")
    if exc.errno in (errno.EROFS, errno.EACCES, errno.EPERM):
        return OutputError(path, f"cannot write ({reason})",
                           f"make the folder{where} writable, or name a writable folder with --out")
    if exc.errno in (errno.ENOTDIR, errno.EEXIST):
        return OutputError(path, f"cannot make a folder here ({reason}): a file is in its place or on its path",
                           "name a folder with --out, not a file")
    return OutputError(path, f"cannot read or write it ({reason})", "check the disk and the output folder"
                       f"{where}, or name another folder with --out")


class EnvironmentProblem(KtAnalysisError):
    """The environment is not set up as the project needs (kernel, fonts)."""

    exit_code = 1
