"""feedpub's own errors. The core raises these; only cli.py turns them into exit codes."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Severity = Literal["error", "warning"]


@dataclass(frozen=True, order=True)
class Problem:
    """One finding about one place in one file, printed as ``PATH:LINE: severity: message``."""

    path: str
    line: int
    severity: Severity
    message: str

    def __str__(self) -> str:
        where = f"{self.path}:{self.line}" if self.line else self.path
        return f"{where}: {self.severity}: {self.message}"

    def row(self) -> list[str | int]:
        """The problem as the state stores it in JSON; ``Problem(*row)`` makes it again."""
        return [self.path, self.line, self.severity, self.message]


class FeedpubError(Exception):
    """Base class of every error feedpub reports to its user."""


class ConfigError(FeedpubError):
    """The site's settings are missing, malformed or invalid."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))


class ArticleError(FeedpubError):
    """One or more articles cannot be published."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))


class OutputError(FeedpubError):
    """An output file cannot be written where it was asked to go."""


class WorkerError(FeedpubError):
    """A worker process died (killed, out of memory) before it sent back its results."""


class StateError(FeedpubError):
    """The site state database is unreadable, damaged, too new or cannot be written."""


class StateBusy(StateError):
    """Another process holds the state database's write lock longer than feedpub waits."""


class SiteError(FeedpubError):
    """A site folder cannot be created or used as asked."""


class NoSuchIssue(FeedpubError):
    """The state has no issue of that number."""

    def __init__(self, number: int) -> None:
        super().__init__(f"there is no issue {number}; 'feedpub issue list' shows them")
        self.number = number
