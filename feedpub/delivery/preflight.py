"""What ``feedpub check`` says of the settings that fail only when mail goes out (bug 6): the
problems ``send``, ``run`` and the web app would hit, found by the checks they run themselves,
each placed at its line of feedpub.toml.

The settings load whatever the environment holds (a check by hand has no password, cron has
one): a variable a ``*_env`` setting names and this environment lacks is a warning, with the
reminder that cron and the web app start with an environment of their own.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping

from feedpub.config import CONFIG_NAME, Site, key_line
from feedpub.delivery.messages import checked_unsubscribe_base
from feedpub.delivery.transport import check_smtp
from feedpub.errors import DeliveryError, InsecureRelay, Problem, Severity

CRON = "set it in the cron job's environment too (cron does not read your shell's profile)"
WEB_APP = "set it in the web app's environment too (its service's settings)"


def send_problems(site: Site, env: Mapping[str, str] | None = None) -> list[Problem]:
    """The problems sending (and reading the inbox, and the web app's webhooks) would hit."""
    if not site.has_newsletter:
        return []
    env = os.environ if env is None else env
    try:
        text = site.config_path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):  # loaded a moment ago; lines are a courtesy
        text = ""
    return [
        Problem(CONFIG_NAME, key_line(text, section, key), severity, message)
        for section, key, severity, message in _found(site, env)
    ]


def _found(site: Site, env: Mapping[str, str]) -> Iterator[tuple[str, str | None, Severity, str]]:
    if not site.newsletter.from_:
        # With a relay, send stops; with the outbox only, nothing leaves the machine yet, but
        # what the editor looks at is not what readers would get.
        happens = (
            "send stops before the first message"
            if site.has_smtp
            else "the outbox and the previews say newsletter@invalid"
        )
        yield (
            "newsletter",
            "from",
            "error" if site.has_smtp else "warning",
            f'[newsletter] from is not set: {happens}; add from = "Name <address@your.domain>"',
        )
    if site.has_smtp:
        try:
            check_smtp(site.smtp)
        except InsecureRelay as exc:
            yield "smtp", "security", "error", str(exc)
        yield from _variable(env, "smtp", "password_env", site.smtp.password_env, CRON)
        password = env.get(site.smtp.password_env, "") if site.smtp.password_env else ""
        if password and not password.isascii():
            yield (
                "smtp",
                "password_env",
                "error",
                f"[smtp] password_env: the password in {site.smtp.password_env} has characters "
                "outside ASCII, which an SMTP login cannot carry; give the account an ASCII "
                "password",
            )
    try:
        checked_unsubscribe_base(site)
    except DeliveryError as exc:
        yield "newsletter", "unsubscribe_url", "error", str(exc)
    if site.has_inbox:
        yield from _variable(env, "inbox", "password_env", site.inbox.password_env, CRON)
    hooks = site.hooks
    for key in ("postmark_username_env", "postmark_password_env", "mailgun_key_env"):
        yield from _variable(env, "hooks", key, getattr(hooks, key), WEB_APP)


def _variable(
    env: Mapping[str, str], section: str, key: str, name: str, where: str
) -> Iterator[tuple[str, str | None, Severity, str]]:
    if name and not env.get(name):
        yield (
            section,
            key,
            "warning",
            f"[{section}] {key} names the environment variable {name}, which is not set here; "
            f"{where}",
        )
