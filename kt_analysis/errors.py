"""The error family: what the CLI turns into one line and an exit code."""

from __future__ import annotations


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
