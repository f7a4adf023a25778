"""The error family: what the CLI turns into one line and an exit code."""

from __future__ import annotations

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
            keep_head = 2 if text.startswith("+") else 3
            out, seen = [], 0
            for c in text:
                if c.isdigit():
                    seen += 1
                    out.append(c if seen <= keep_head or seen > digits - 4 else "*")
                else:
                    out.append(c)
            return repr("".join(out))
        if _NAME_LIKE.fullmatch(text):
            return repr(text[0] + "*" * (len(text) - 2) + text[-1] if len(text) > 2 else text[0] + "*")
    return repr(value)


class KtAnalysisError(Exception):
    """Base of every error kt-analysis raises on purpose."""

    exit_code = 1


class InputError(KtAnalysisError):
    """Bad input: the CLI prints it as one line and exits 2.

    >>> str(InputError("data/incidents/x.yml", "affected.windows[2]", "ends before it starts",
    ...                "swap start and end"))
    'data/incidents/x.yml: affected.windows[2]: ends before it starts — swap start and end'
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


class EnvironmentProblem(KtAnalysisError):
    """The environment is not set up as the project needs (kernel, fonts)."""

    exit_code = 1
