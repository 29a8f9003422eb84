"""feedpub's own errors, every kind defined here once under FeedpubError. The core raises
them with the file, line or setting and the fix; only cli.py turns them into exit codes."""

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


class LockBusy(FeedpubError):
    """Another feedpub command holds the site's lock."""


class LockError(FeedpubError):
    """The site's lock file cannot be made or opened."""


class TemplateError(FeedpubError):
    """A template is missing or broken."""


class DigestError(FeedpubError):
    """The digest cannot be rendered."""


class IssueError(FeedpubError):
    """An issue cannot be made, found or changed as asked."""


class DeliveryError(FeedpubError):
    """An issue cannot be sent as asked."""


class InboxError(FeedpubError):
    """The inbox (a Maildir, an mbox file, standard input or the IMAP server) cannot be read."""

    def __init__(self, message: str, temporary: bool = False) -> None:
        super().__init__(message)
        # True: it may pass by itself (the server unreachable, a timeout): exit 75.
        self.temporary = temporary


class InsecureRelay(FeedpubError):
    """The settings would send mail unencrypted to a remote host."""


class TokenError(FeedpubError):
    """An unsubscribe token is malformed or forged."""


class BackupError(FeedpubError):
    """A backup cannot be written, or a file cannot be restored as the site's state."""


class StatsError(FeedpubError):
    """An access log cannot be read for the figures asked."""


class SecretError(FeedpubError):
    """The site's secret file cannot be used."""


class SubscriberError(FeedpubError):
    """A subscriber cannot be added, found or changed as asked."""


class NotResubscribed(SubscriberError):
    """Someone who left would be subscribed again without being asked to on purpose."""

    def __init__(self, email: str, how: str, when: str) -> None:
        self.email, self.how, self.when = email, how, when
        super().__init__(self.say(when[:16].replace("T", " ")))

    def say(self, when: str) -> str:
        """The message, with ``when`` they left as the caller shows moments to people."""
        return (
            f"{self.email} {self.how} on {when}; add them again only if they asked to be "
            f"back: feedpub subscribers add --resubscribe {self.email}"
        )


class ImportFormatError(SubscriberError):
    """An import file is neither CSV with an 'email' column nor one address per line."""

    def __init__(self, line: int, message: str) -> None:
        super().__init__(message)
        self.line = line


class ImportFileError(SubscriberError):
    """An import file cannot be read: missing, too big, or not UTF-8."""


class PluginError(FeedpubError):
    """A plugin's hook added what it may not (a taken suffix or filter name, a bad name)."""


class NoSuchIssue(FeedpubError):
    """The state has no issue of that number."""

    def __init__(self, number: int) -> None:
        super().__init__(f"there is no issue {number}; 'feedpub issue list' shows them")
        self.number = number


class TransportError(FeedpubError):
    """A transport cannot be made as asked: an unknown name, or settings it cannot use."""


class DkimKeyError(FeedpubError):
    """The DKIM private key file cannot be read, or holds no key fit for signing."""


class Worded(FeedpubError):
    """An error a reader sees: its English ``message`` (a msgid of the catalogues, with
    %(name)s for each of ``values``) is kept, so that the web app can show it translated."""

    def __init__(self, message: str, **values: object) -> None:
        super().__init__(message % values if values else message)
        self.message = message
        self.values = values


class FormError(Worded):
    """A web form's field is missing, malformed or too long; ``field`` names it."""

    def __init__(self, field: str, message: str, **values: object) -> None:
        super().__init__(message, **values)
        self.field = field


class LinkExpired(TokenError):
    """A confirmation link is genuine but older than its lifetime: a fresh one can be sent."""


class RateLimited(Worded):
    """A client or an address has asked more often than the web app's limits allow."""


class HookRefused(FeedpubError):
    """A provider's webhook request is refused; ``status`` is the HTTP answer to give it."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


class VerpError(FeedpubError):
    """A token in a bounce or unsubscribe address is malformed, forged or another list's."""


class IssueRefused(FeedpubError):
    """An issue has error-level findings (newsletter.checks), so it is not sent as it is."""

    def __init__(self, number: int, made: bool, findings: list[str]) -> None:
        self.number = number
        self.made = made  # False: the issue that was due was not recorded (its articles wait)
        self.findings = findings
        what = f"issue {number} is not sent" if made else f"issue {number} was not made"
        if made:
            fix = (
                f"fix them (discard it with 'feedpub issue discard {number}', then make it "
                f"again), or send it as it is with 'feedpub send {number} --force'"
            )
        else:
            fix = (
                "fix them and run again: its articles wait; or make it anyway with "
                "'feedpub issue new' and send it with 'feedpub send --force'"
            )
        lines = [f"{what}: the pre-send checks found errors", *(f"  {f}" for f in findings), fix]
        super().__init__("\n".join(lines))
