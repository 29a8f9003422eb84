"""What the commands say, read as a person reads it: moments in one format (the site's zone, to
the minute, with the zone's abbreviation), a run waiting for a retry saying when the next try
is, `status -q` quiet, and plain sentences instead of notes like "To: the relay (none: ...)"."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import timedelta

import pytest
from click.testing import CliRunner
from helpers import (
    ARTICLES,
    MAIL_ARTICLES,
    MAIL_NEWSLETTER,
    NEWSLETTER,
    NOW,
    NOW_ARG,
    MakeSite,
    Relay,
    article,
    assert_clean_exit,
    invoke,
    make_issue,
    publish,
    readers,
    smtp_settings,
    subscribe,
)

from feedpub.lock import SiteLock

BUSY = "450 4.2.0 mailbox busy"
# A moment for people is dates.for_people's "2026-11-27 12:00 CET", never ISO 8601.
ISO = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}")


@pytest.fixture
def relay(start_relay: Callable[..., Relay]) -> Relay:
    return start_relay()


def test_a_run_waiting_for_a_retry_says_when_the_next_try_is(
    runner: CliRunner, relay: Relay, make_site: MakeSite
) -> None:
    relay.handler.refuse = {"busy@example.net": (BUSY, None)}
    root = make_site(MAIL_ARTICLES, extra=MAIL_NEWSLETTER + smtp_settings(relay.port))
    subscribe(root, [("ok@example.net", ""), ("busy@example.net", "")])
    make_issue(root)
    first = invoke(runner, "--site", root, "send", "--now", NOW_ARG)
    assert_clean_exit(first, 0)
    # backoff(1): five minutes after the refusal at NOW (12:00 in Berlin).
    assert first.stdout.splitlines()[0].endswith(
        "; not finished: sent to 1 of 2 so far; the next try is at 2026-11-27 12:05 CET"
    ), first.stdout

    waiting = invoke(
        runner, "--site", root, "run", "--now", (NOW + timedelta(minutes=2)).isoformat()
    )
    assert_clean_exit(waiting, 0)
    (said,) = [line for line in waiting.stdout.splitlines() if line.startswith("Issue 1:")]
    assert said.startswith("Issue 1: 0 sent, 0 deferred, 0 failed, 0 skipped of 2 recipients")
    assert said.endswith(
        "; not finished: sent to 1 of 2 so far; the next try is at 2026-11-27 12:05 CET"
    )
    plan = invoke(runner, "--site", root, "send", "--dry-run", "--now", NOW_ARG)
    assert plan.stdout.splitlines()[0].endswith(
        "1 deferred (the next try at 2026-11-27 12:05 CET)"
    ), plan.stdout

    relay.handler.refuse = {}
    done = invoke(runner, "--site", root, "run", "--now", (NOW + timedelta(minutes=6)).isoformat())
    assert_clean_exit(done, 0)
    assert "next try" not in done.stdout
    assert "; sent" in done.stdout


def test_send_dry_run_says_where_the_mail_would_go_in_words(
    runner: CliRunner, make_site: MakeSite
) -> None:
    root = make_site(ARTICLES, extra=NEWSLETTER)
    subscribe(root, readers(2))
    make_issue(root)
    result = invoke(runner, "--site", root, "send", "--dry-run", "--now", NOW_ARG)
    assert_clean_exit(result, 0)
    outbox = root / ".feedpub" / "outbox" / "1"
    assert result.stdout.splitlines()[1] == (
        f"Would send to: the outbox folder {outbox}/ ([smtp] names no host)"
    )
    assert "(none:" not in result.stdout
    assert not outbox.exists()


def test_status_shows_every_moment_in_the_one_format_and_json_keeps_iso(
    runner: CliRunner, make_site: MakeSite
) -> None:
    root = make_site({**ARTICLES, "soon.md": article("Soon", "2026-12-01 09:00")}, extra=NEWSLETTER)
    make_issue(root)
    result = invoke(runner, "--site", root, "status", "--now", NOW_ARG)
    assert_clean_exit(result, 0)
    moments = [line for line in result.stdout.splitlines() if re.search(r"\d{4}-\d\d-\d\d", line)]
    assert moments == [
        "Next scheduled article: 2026-12-01 09:00 CET",
        "Last issue: #1, 2026-11-27 12:00 CET, ready, 2 articles",
        "Next issue due: 2026-12-04 08:00 CET",
    ]
    assert not ISO.search(result.stdout)
    as_json = invoke(runner, "--site", root, "status", "--json", "--now", NOW_ARG)
    assert '"next_issue_due": "2026-12-04T08:00:00+01:00"' in as_json.stdout


def test_a_moment_is_said_in_the_sites_zone_whatever_zone_now_was_given_in(
    runner: CliRunner, make_site: MakeSite
) -> None:
    root = make_site(ARTICLES, extra=NEWSLETTER)
    make_issue(root)
    result = invoke(runner, "--site", root, "status", "--now", "2026-11-27T11:00:00Z")
    assert "Last issue: #1, 2026-11-27 12:00 CET, ready, 2 articles" in result.stdout
    assert "Next issue due: 2026-12-04 08:00 CET" in result.stdout


def test_subscribers_show_says_its_moments_in_the_one_format(
    runner: CliRunner, make_site: MakeSite
) -> None:
    root = make_site(ARTICLES, extra=NEWSLETTER)
    subscribe(root, [("reader@example.net", "Reader")])
    result = invoke(runner, "--site", root, "subscribers", "show", "reader@example.net")
    assert_clean_exit(result, 0)
    (joined,) = [line for line in result.stdout.splitlines() if line.startswith("Joined:")]
    assert joined == "Joined:       2026-11-27 12:00 CET (source: cli)"
    assert not ISO.search(result.stdout)


def test_check_v_says_an_articles_date_in_the_one_format(
    runner: CliRunner, make_site: MakeSite
) -> None:
    root = make_site({"note.txt": "A note\n\nNovember 16, 2026\n\nBody text.\n"})
    result = invoke(runner, "--site", root, "check", "-v")
    assert_clean_exit(result, 0)
    assert "date 2026-11-16 00:00 CET" in result.stdout
    assert not ISO.search(result.stdout)


def test_status_q_prints_nothing_when_nothing_is_wrong(
    runner: CliRunner, make_site: MakeSite
) -> None:
    root = make_site(ARTICLES, extra=NEWSLETTER)
    publish(root)
    make_issue(root)
    for args in (["-q", "status"], ["status", "-q"]):
        result = invoke(runner, "--site", root, *args, "--now", NOW_ARG)
        assert_clean_exit(result, 0)
        assert (result.stdout, result.stderr) == ("", "")
    loud = invoke(runner, "--site", root, "status", "--now", NOW_ARG)
    assert loud.stdout.startswith("Articles: 2 published")


def test_status_q_still_says_an_error(runner: CliRunner, make_site: MakeSite) -> None:
    root = make_site(ARTICLES, extra=NEWSLETTER)
    (root / "feedpub.toml").write_text("[site]\ntitle = 3\n", encoding="utf-8")
    result = invoke(runner, "--site", root, "status", "-q")
    assert_clean_exit(result, 1)
    assert result.stdout == ""
    assert "Error:" in result.stderr


LOCKED = {
    "run": ["run", "--now", NOW_ARG],
    "build": ["build", "--now", NOW_ARG],
    "send": ["send", "--now", NOW_ARG],
    "issue new": ["issue", "new", "--now", NOW_ARG],
    "issue discard": ["issue", "discard", "1"],
    "issue approve": ["issue", "approve", "1"],
    "issue send": ["issue", "send", "1", "--now", NOW_ARG],
    "issue edit": ["issue", "edit", "1", "--subject", "Other"],
}
NOT_LOCKED = {
    "send --dry-run": ["send", "--dry-run", "--now", NOW_ARG],
    "send --test": ["send", "--test", "editor@example.net", "--now", NOW_ARG],
    "status": ["status", "--now", NOW_ARG],
    "issue list": ["issue", "list"],
    "issue preview": ["issue", "preview", "1"],
}


@pytest.mark.parametrize(
    ("args", "locks"),
    [(a, True) for a in LOCKED.values()] + [(a, False) for a in NOT_LOCKED.values()],
    ids=[*LOCKED, *NOT_LOCKED],
)
def test_the_commands_the_readme_says_take_the_site_lock_do(
    runner: CliRunner, make_site: MakeSite, args: list[str], locks: bool
) -> None:
    """README "Commands": only run, build, send, issue new, discard, approve, send and edit
    take the lock."""
    root = make_site(ARTICLES, extra=NEWSLETTER)
    subscribe(root, readers(1))
    make_issue(root)
    # Another open file's flock: held against this process's commands as against another's.
    with SiteLock(root / ".feedpub", "test"):
        result = invoke(runner, "--site", root, *args)
    if locks:
        assert_clean_exit(result, 75)
        assert result.stderr.startswith("Error: the site is busy: feedpub test (pid ")
    else:
        assert_clean_exit(result, 0)
