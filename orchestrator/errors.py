"""One error root for govcloud; each subclass maps to one CLI exit code.

Exit codes (DESIGN.md): 0 ok, 1 a rule said no, 2 usage error, 3 an outside system failed.
"""

from __future__ import annotations

from typing import Any


class GovcloudError(Exception):
    """Root of every error govcloud raises on purpose."""

    exit_code = 3

    def __reduce__(self) -> tuple[Any, ...]:  # survive pickling across a process pool, keyword state included
        return (_restore, (type(self), self.args, self.__dict__))


def _restore(cls: type[GovcloudError], args: tuple[Any, ...], state: dict[str, Any]) -> GovcloudError:
    error = cls.__new__(cls)
    error.args = args
    error.__dict__.update(state)
    return error


class RuleError(GovcloudError):
    """A rule of the regulation or of the policy said no."""

    exit_code = 1

    def __init__(self, message: str, *, rule: str = "", article: str = "") -> None:
        super().__init__(message)
        self.rule = rule
        self.article = article

    def __str__(self) -> str:
        text = super().__str__()
        return f"{text} ({self.article})" if self.article else text


class ManifestInvalid(RuleError):
    """A manifest failed validation; ``problems`` holds every problem found."""

    def __init__(self, path: str, problems: list) -> None:
        super().__init__(f"{path}: {len(problems)} problem(s)", rule="manifest-valid")
        self.path = path
        self.problems = problems


class ConflictError(GovcloudError):
    """Someone else changed the same record meanwhile; retry."""

    exit_code = 1


class StaleVersion(ConflictError):
    """The caller acted on a version of the application that is no longer the newest (If-Match)."""


class UsageError(GovcloudError):
    """The command was called wrongly (missing file, bad option value)."""

    exit_code = 2


class ConfigInvalid(UsageError):
    """A configuration file (settings, calendar, quota policy) is not valid; ``problems`` names each
    problem with its line, field path and rule."""

    what = "configuration"

    def __init__(self, path: str, problems: list) -> None:
        super().__init__(f"invalid {self.what}: " + "; ".join(f"{path}:{p}" for p in problems))
        self.path = path
        self.problems = problems


class NotFound(GovcloudError):
    """A named thing (application, stack, file) does not exist."""

    exit_code = 2


class ExternalError(GovcloudError):
    """An outside system (cloud, engine, database, platform) failed or is missing."""

    exit_code = 3


class HistoryInvalid(ExternalError):
    """The ledger holds what govcloud never writes (an event or projection edited by hand)."""
