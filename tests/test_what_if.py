"""The what-if commands (``run --dry-run``, ``issue new --dry-run``) record nothing: the state
database's bytes, public/ and the outbox are as they were, and the relay gets no mail; an issue
held with ``issue new --send-at`` goes out at the first run after its time, once; an issue made
shortly before a scheduled moment is that moment's issue."""

from __future__ import annotations

import hashlib
import json
import os
from datetime import timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner
from helpers import (
    ARTICLES,
    NEWSLETTER,
    NOW,
    NOW_ARG,
    MakeSite,
    Relay,
    article,
    assert_clean_exit,
    files_of,
    invoke,
    issue_status,
    readers,
    smtp_site,
    subscribe,
    write_articles,
)

from feedpub import config
from feedpub.store.state import State

PEOPLE = readers(3)


def fingerprint(root: Path) -> tuple[str, dict[str, bytes], bool]:
    """The state folder's database files, hashed together, public/'s files, and whether an
    outbox exists."""
    state_dir = root / ".feedpub"
    digest = hashlib.sha256()
    for name in ("state.db", "state.db-wal"):
        path = state_dir / name
        digest.update(name.encode() + (path.read_bytes() if path.exists() else b"-"))
    public = root / "public"
    return digest.hexdigest(), files_of(public) if public.exists() else {}, (
        state_dir / "outbox"
    ).exists()


@pytest.fixture
def mailing(make_site: MakeSite, start_relay: object) -> tuple[Path, Relay]:
    relay = start_relay()  # type: ignore[operator]
    root = smtp_site(make_site, relay.port)
    subscribe(root, PEOPLE)
    return root, relay


def test_run_dry_run_records_nothing_and_says_what_would_happen(
    runner: CliRunner, mailing: tuple[Path, Relay]
) -> None:
    root, relay = mailing
    built = invoke(runner, "--site", root, "build", "--now", NOW_ARG)
    assert_clean_exit(built, 0)
    before = fingerprint(root)
    assert before[1]  # a built site to compare against

    result = invoke(runner, "--site", root, "run", "--dry-run", "--now", NOW_ARG)
    assert_clean_exit(result, 0)
    lines = result.output.splitlines()
    assert lines[0] == "Dry run: nothing was recorded, built or sent."
    # The issue's web version is new; the issues page and feeds were there, empty, before it.
    assert lines[1] == (
        f"Build: 2 articles; would write 1 new file, change 5 and remove 0 in {root / 'public'}"
    )
    assert "Would create issue 1 with 2 articles: Test Weekly #1: Café budget vote" in lines
    assert "  Alpha (2026-11-20 09:00 CET)" in lines
    assert (
        "Issue 1 is ready: would send to 3 subscribers; 0 already done, 0 deferred until later"
        in lines
    )
    assert f"Would send to: the relay 127.0.0.1:{relay.port}" in lines
    assert fingerprint(root) == before
    assert relay.handler.count() == 0

    # The run itself then does what the dry run said.
    real = invoke(runner, "--site", root, "run", "--now", NOW_ARG)
    assert_clean_exit(real, 0)
    assert relay.handler.count() == 3
    assert issue_status(root) == "sent"

    # A week on: the next issue would have nothing to carry; said, and the moment the run would
    # pass (too little waiting) is not recorded either.
    after = fingerprint(root)
    week_later = (NOW + timedelta(days=7)).isoformat()
    again = invoke(runner, "--site", root, "run", "--dry-run", "--now", week_later)
    assert_clean_exit(again, 0)
    assert (
        "no new issue: due since 2026-12-04 08:00 CET, but 0 articles waiting and [newsletter] "
        "min_items is 1\n"
    ) in again.output
    assert "would send" not in again.output
    assert fingerprint(root) == after
    assert relay.handler.count() == 3


def test_issue_new_dry_run_records_nothing(
    runner: CliRunner, mailing: tuple[Path, Relay]
) -> None:
    root, relay = mailing
    assert_clean_exit(invoke(runner, "--site", root, "build", "--now", NOW_ARG), 0)
    before = fingerprint(root)
    result = invoke(runner, "--site", root, "issue", "new", "--dry-run", "--now", NOW_ARG)
    assert_clean_exit(result, 0)
    assert "Would create issue 1 with 2 articles: Test Weekly #1: Café budget vote" in result.output
    assert "Issue 1 is ready: would send to 3 subscribers" in result.output
    assert fingerprint(root) == before
    assert relay.handler.count() == 0
    with State.open(root / ".feedpub") as state:
        assert state.issues.all() == []


def test_issue_new_dry_run_with_send_at_says_it_would_wait(
    runner: CliRunner, mailing: tuple[Path, Relay]
) -> None:
    """A held issue is not said to be sent now: it would reach its readers once it goes out."""
    root, relay = mailing
    at = (NOW + timedelta(hours=2)).isoformat()
    result = invoke(
        runner, "--site", root, "issue", "new", "--dry-run", "--send-at", at, "--now", NOW_ARG
    )
    assert_clean_exit(result, 0)
    assert (
        "Issue 1 is scheduled (until 2026-11-27 14:00 CET): once it goes out, it would reach 3 "
        "subscribers; 0 already done, 0 deferred until later"
    ) in result.output.splitlines()
    assert "would send to" not in result.output
    assert relay.handler.count() == 0


def test_a_dry_run_says_the_checks_would_refuse_the_due_issue(
    runner: CliRunner, make_site: MakeSite, start_relay: object
) -> None:
    """The run would refuse the due issue (a placeholder in a title): the dry run says so, with
    the finding, instead of "nothing new", and records nothing."""
    relay = start_relay()  # type: ignore[operator]
    root = smtp_site(make_site, relay.port)
    write_articles(root, {"cafe.md": article("TODO Café budget vote", "2026-11-24 09:00")})
    subscribe(root, PEOPLE)
    before = fingerprint(root)
    result = invoke(runner, "--site", root, "run", "--dry-run", "--now", NOW_ARG)
    assert_clean_exit(result, 0)
    assert "Would not send: issue 1 was not made: the pre-send checks found errors" in (
        result.stderr
    )
    assert '"TODO"' in result.stderr
    assert "Nothing new" not in result.stdout
    assert fingerprint(root) == before
    real = invoke(runner, "--site", root, "run", "--now", NOW_ARG)
    assert_clean_exit(real, 1)
    assert "issue 1 was not made: the pre-send checks found errors" in real.stderr
    assert relay.handler.count() == 0


def test_a_dry_run_on_a_new_site_leaves_no_files(runner: CliRunner, make_site: MakeSite) -> None:
    root = make_site(ARTICLES, extra=NEWSLETTER)
    result = invoke(runner, "--site", root, "run", "--dry-run", "--now", NOW_ARG)
    assert_clean_exit(result, 0)
    assert "Would create issue 1 with 2 articles" in result.output
    assert "Issue 1 is ready: would send to 0 subscribers" in result.output
    assert "the outbox folder" in result.output
    assert sorted(p.name for p in root.iterdir()) == ["content", "feedpub.toml"]


def test_an_issue_new_shortly_before_the_moment_is_its_issue(
    runner: CliRunner, make_site: MakeSite, start_relay: object
) -> None:
    """issue new at 06:02 on Friday, the 07:00 run: readers get one issue, not two."""
    relay = start_relay()  # type: ignore[operator]
    root = smtp_site(make_site, relay.port)
    toml = root / "feedpub.toml"
    toml.write_text(toml.read_text().replace('time = "08:00"', 'time = "07:00"'))
    subscribe(root, PEOPLE)
    made = invoke(runner, "--site", root, "issue", "new", "--now", "2026-11-27T06:02")
    assert_clean_exit(made, 0)
    run = invoke(runner, "--site", root, "run", "--now", "2026-11-27T07:00")
    assert_clean_exit(run, 0)
    assert "no new issue: issue 1 was made for this period" in run.output
    assert relay.handler.count() == 3
    assert set(relay.handler.copies().values()) == {1}
    with State.open(root / ".feedpub") as state:
        assert [r.number for r in state.issues.all()] == [1]


def test_send_at_holds_the_issue_until_its_time(
    runner: CliRunner, mailing: tuple[Path, Relay]
) -> None:
    root, relay = mailing
    at = (NOW + timedelta(hours=2)).isoformat()  # 14:00 CET
    made = invoke(runner, "--site", root, "issue", "new", "--send-at", at, "--now", NOW_ARG)
    assert_clean_exit(made, 0)
    assert "Scheduled: no run sends it before 2026-11-27 14:00 CET" in made.output
    with State.open(root / ".feedpub") as state:
        assert state.issues.get(1).send_at == "2026-11-27T14:00:00+01:00"

    hour_on = (NOW + timedelta(hours=1)).isoformat()
    early = invoke(runner, "--site", root, "run", "--now", hour_on)
    assert_clean_exit(early, 0)
    assert "issue 1 is scheduled (until 2026-11-27 14:00 CET)" in early.output
    assert "no new issue: issue 1 is scheduled for 2026-11-27 14:00 CET" in early.output
    nothing = invoke(runner, "--site", root, "send", "--now", hour_on)
    assert_clean_exit(nothing, 0)
    assert nothing.output == (
        "Nothing to send now: issue 1 is scheduled (until 2026-11-27 14:00 CET)\n"
    )
    assert relay.handler.count() == 0

    on_time = invoke(runner, "--site", root, "run", "--now", at)
    assert_clean_exit(on_time, 0)
    assert relay.handler.count() == 3
    again = invoke(runner, "--site", root, "run", "--now", (NOW + timedelta(hours=3)).isoformat())
    assert_clean_exit(again, 0)
    assert relay.handler.count() == 3
    assert issue_status(root) == "sent"


@pytest.mark.parametrize(
    ("value", "words"),
    [
        ("2026-11-27T11:00", "is not later than now (2026-11-27 12:00 CET)"),
        ("2026-11-27T12:00:00+01:00", "is not later than now"),
        ("next friday", "--send-at"),
        ("10000-01-01", "--send-at"),
        ("2026-11-27T14:00" + "0" * 5000, "--send-at"),
    ],
    ids=["past", "now", "words", "too-late", "huge"],
)
def test_a_bad_send_at_is_a_usage_error(
    runner: CliRunner, make_site: MakeSite, value: str, words: str
) -> None:
    root = make_site(ARTICLES, extra=NEWSLETTER)
    result = invoke(runner, "--site", root, "issue", "new", "--send-at", value, "--now", NOW_ARG)
    assert_clean_exit(result, 2)
    assert words in result.output
    assert "--send-at" in result.output
    assert not (root / ".feedpub").exists()


def test_status_names_the_skipped_moments(runner: CliRunner, make_site: MakeSite) -> None:
    extra = NEWSLETTER + 'skip = ["2026-12-04..2026-12-11"]\n'
    root = make_site(ARTICLES, extra=extra)
    assert_clean_exit(invoke(runner, "--site", root, "issue", "new", "--now", NOW_ARG), 0)
    site = config.load(root, env={})
    assert site.newsletter.skip == ("2026-12-04..2026-12-11",)
    result = invoke(runner, "--site", root, "status", "--now", "2026-11-28T09:00")
    assert_clean_exit(result, 0)
    lines = result.output.splitlines()
    assert lines[lines.index("Next issue due: 2026-12-18 08:00 CET") + 1] == (
        "Skipped ([newsletter] skip): 2026-12-04 08:00 CET, 2026-12-11 08:00 CET"
    )
    info = invoke(runner, "--site", root, "status", "--json", "--now", "2026-11-28T09:00")
    data = json.loads(info.output)
    assert data["skipped_moments"] == ["2026-12-04T08:00:00+01:00", "2026-12-11T08:00:00+01:00"]
    assert data["reason"].endswith(
        "next due 2026-12-18 08:00 CET; [newsletter] skip passes over 2026-12-04 08:00 CET, "
        "2026-12-11 08:00 CET"
    )


def test_an_issue_held_until_just_before_a_moment_is_that_moments_issue(
    runner: CliRunner, mailing: tuple[Path, Relay]
) -> None:
    root, relay = mailing
    made = invoke(
        runner, "--site", root, "issue", "new", "--send-at", "2026-12-04T07:30", "--now", NOW_ARG
    )
    assert_clean_exit(made, 0)
    write_articles(root, {"charlie.md": article("Charlie", "2026-12-01 09:00")})
    friday = invoke(runner, "--site", root, "run", "--now", "2026-12-04T08:00")
    assert_clean_exit(friday, 0)
    assert "no new issue: issue 1 was made for this period" in friday.output
    assert relay.handler.count() == 3
    later = invoke(runner, "--site", root, "run", "--now", "2026-12-11T08:00")
    assert_clean_exit(later, 0)
    assert "Created issue 2" in later.output
    assert relay.handler.count() == 6


def test_a_dry_run_that_cannot_make_its_copies_says_so(
    runner: CliRunner, make_site: MakeSite
) -> None:
    root = make_site(ARTICLES, extra=NEWSLETTER)
    assert_clean_exit(invoke(runner, "--site", root, "build", "--now", NOW_ARG), 0)
    pipe = root / "public" / "pipe"
    os.mkfifo(pipe)  # a named pipe: no file to copy
    before = fingerprint(root)
    result = invoke(runner, "--site", root, "run", "--dry-run", "--now", NOW_ARG)
    assert_clean_exit(result, 1)
    assert result.stderr.startswith(f"Error: the dry run cannot copy {pipe} into ")
    assert "is a named pipe" in result.stderr
    assert "Traceback" not in result.output
    assert fingerprint(root) == before
