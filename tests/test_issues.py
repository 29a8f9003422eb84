"""Newsletter issues at the library level, with a fixed clock: what goes into which issue,
when ``run`` makes one, and what it leaves behind (state, web version, feeds, outbox)."""

from __future__ import annotations

import email
import email.policy
import json
import sqlite3
from collections.abc import Callable
from contextlib import closing
from datetime import datetime, timedelta
from pathlib import Path

import feedparser
import pytest
from click.testing import CliRunner
from helpers import NOW, TZ, MakeSite, article, load

from feedpub import run
from feedpub.cli import main
from feedpub.config import Site
from feedpub.delivery.subscribers import Subscribers
from feedpub.errors import ArticleError, FeedpubError, IssueError, NoSuchIssue, StateError
from feedpub.model import Article
from feedpub.newsletter import issues
from feedpub.newsletter.issues import Draft
from feedpub.site import build
from feedpub.store import state
from feedpub.store.issues import UNSUBSCRIBE_PLACEHOLDER, IssueItem, IssueRecord
from feedpub.store.state import State

BASE = {
    "name": "Test Weekly",
    "from": "Test Gazette <news@news.example.org>",
    "schedule": "weekly",
    "day": "friday",
    "time": "08:00",
}
FRIDAY = datetime(2026, 11, 27, 8, 0, tzinfo=TZ)  # the scheduled moment; NOW is 12:00 that day
LAST_FRIDAY = FRIDAY - timedelta(days=7)
QUARTER = timedelta(minutes=15)


def newsletter(**settings: object) -> str:
    """A [newsletter] section: BASE with ``settings`` (JSON values are TOML values too)."""
    merged = {**BASE, **settings}
    return "\n[newsletter]\n" + "".join(f"{k} = {json.dumps(v)}\n" for k, v in merged.items())


NEWSLETTER = newsletter()


def at(
    year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0
) -> datetime:
    return datetime(year, month, day, hour, minute, second, tzinfo=TZ)


def make_issue(site: Site, now: datetime, note: str = "") -> Draft | None:
    with State.open(site.state_dir) as opened:
        catalog = build.load_catalog(site, opened, now)
        return issues.create(site, opened, catalog, now, note)


def waiting(site: Site, now: datetime) -> list[str]:
    with State.open(site.state_dir) as opened:
        catalog = build.load_catalog(site, opened, now)
        return [a.title for a in issues.waiting(site, opened, catalog, now)]


def current(site: Site, now: datetime) -> dict[str, Article]:
    """The published articles as of ``now``, by title."""
    with State.open(site.state_dir) as opened:
        return {a.title: a for a in build.load_catalog(site, opened, now).articles}


def all_issues(site: Site) -> list[IssueRecord]:
    with State.open(site.state_dir) as opened:
        return opened.issues.all()


def titles(issue: IssueRecord | Draft) -> list[str]:
    if isinstance(issue, Draft):
        return [a.title for a in issue.articles]
    return [item.title for item in issue.items]


def carried_rows(site: Site) -> list[tuple[int, str]]:
    """(issue, article id) straight from the issue_articles table."""
    with closing(sqlite3.connect(site.state_dir / state.STATE_NAME)) as db:
        rows = db.execute("SELECT issue, article_id FROM issue_articles ORDER BY issue, position")
        return [(int(r[0]), str(r[1])) for r in rows]


def count_rows(site: Site, table: str) -> int:
    with closing(sqlite3.connect(site.state_dir / state.STATE_NAME)) as db:
        return int(db.execute(f"SELECT count(*) FROM {table}").fetchone()[0])


# -- what goes into an issue -----------------------------------------------------------------


def test_issues_are_numbered_and_carry_what_is_new(make_site: MakeSite) -> None:
    root = make_site(
        {
            "a.md": article("Alpha", "2026-11-20 09:00"),
            "b.md": article("Bravo", "2026-11-24 09:00"),
            "c.md": article("Charlie", "2026-11-26 09:00"),
        },
        extra=NEWSLETTER,
    )
    site = load(root)
    first = make_issue(site, NOW)
    assert first is not None
    assert first.number == 1
    assert titles(first) == ["Charlie", "Bravo", "Alpha"]  # the digest lists newest first
    assert first.waiting == 0
    (record,) = all_issues(site)
    assert (record.number, record.status, record.sent) == (1, "ready", None)
    assert record.created == NOW.isoformat()
    assert record.subject == "Test Weekly #1: Charlie"
    assert titles(record) == ["Charlie", "Bravo", "Alpha"]
    ids = {a.title: a.feed_id for a in current(site, NOW).values()}
    assert [item.article_id for item in record.items] == [
        ids["Charlie"],
        ids["Bravo"],
        ids["Alpha"],
    ]

    assert make_issue(site, NOW + QUARTER) is None  # nothing new: nothing recorded
    assert [r.number for r in all_issues(site)] == [1]

    for number, name in [(2, "Delta"), (3, "Echo")]:
        (root / "content" / f"{name}.md").write_text(article(name, "2026-11-27 10:00"))
        draft = make_issue(site, NOW + number * QUARTER)
        assert draft is not None
        assert (draft.number, titles(draft)) == (number, [name])
    assert [r.number for r in all_issues(site)] == [1, 2, 3]
    assert [issue for issue, _ in carried_rows(site)] == [1, 1, 1, 2, 3]


def test_an_article_goes_out_in_one_issue_only(make_site: MakeSite) -> None:
    """Edited, retitled, renamed, and run again and again for weeks: never in a second issue."""
    root = make_site(
        {
            "budget.md": article("Budget vote", "2026-11-20 09:00", "The council voted."),
            "parks.md": article("Parks plan", "2026-11-24 09:00", "New trees."),
        },
        extra=NEWSLETTER,
    )
    site = load(root)
    assert run.run(site, NOW).created == 1
    (first,) = all_issues(site)
    sent_ids = {item.article_id for item in first.items}
    budget_id = current(site, NOW)["Budget vote"].feed_id
    assert budget_id in sent_ids and len(sent_ids) == 2

    content = root / "content"

    def edit_body() -> None:
        (content / "budget.md").write_text(
            article("Budget vote", "2026-11-20 09:00", "The council voted 7 to 2.")
        )

    def retitle() -> None:
        (content / "budget.md").write_text(
            article("Budget passes 7 to 2", "2026-11-20 09:00", "The council voted 7 to 2.")
        )

    def rename() -> None:
        (content / "2026").mkdir()
        (content / "budget.md").rename(content / "2026" / "budget-vote.md")

    def edit_and_retitle_the_other() -> None:
        (content / "parks.md").write_text(
            article("Parks plan, revised", "2026-11-24 09:00", "Oaks, not limes.")
        )

    def add_one() -> None:
        (content / "late.md").write_text(article("Late news", "2026-12-30 09:00"))

    def edit_the_renamed_file() -> None:
        (content / "2026" / "budget-vote.md").write_text(
            article("Budget passes 7 to 2", "2026-11-20 09:00", "Corrected: 7 to 2, not 6 to 3.")
        )

    weeks = [
        edit_body,
        retitle,
        rename,
        edit_and_retitle_the_other,
        add_one,
        edit_the_renamed_file,
    ]
    made = []
    for week, change in enumerate(weeks, start=1):
        change()
        friday = FRIDAY + timedelta(days=7 * week)
        for now in [friday - QUARTER, friday, friday + QUARTER, friday + timedelta(days=3)]:
            if (created := run.run(site, now).created) is not None:
                made.append((created, change.__name__))
    assert made == [(2, "add_one")]  # only the new article made an issue

    records = all_issues(site)
    assert [r.number for r in records] == [1, 2]
    assert titles(records[1]) == ["Late news"]
    assert records[0].items == first.items  # issue 1 stays as it went out
    rows = carried_rows(site)
    assert sorted(article_id for issue, article_id in rows if issue == 1) == sorted(sent_ids)
    assert [issue for issue, article_id in rows if article_id in sent_ids] == [1, 1]
    assert len({article_id for _, article_id in rows}) == len(rows) == 3
    # The article kept its id through every change.
    assert current(site, NOW + timedelta(days=60))["Budget passes 7 to 2"].feed_id == budget_id
    assert waiting(site, NOW + timedelta(days=60)) == []


@pytest.mark.parametrize(
    "date",
    ["2026-11-19 09:00", "2026-08-01 09:00", "2026-11-27 11:00"],
    ids=["backdated-before-issue-1-articles", "backdated-months", "dated-before-issue-1-was-made"],
)
def test_an_article_added_after_issue_1_goes_into_issue_2(make_site: MakeSite, date: str) -> None:
    root = make_site(
        {
            "a.md": article("Alpha", "2026-11-20 09:00"),
            "b.md": article("Bravo", "2026-11-24 09:00"),
        },
        extra=NEWSLETTER,
    )
    site = load(root)
    assert run.run(site, NOW).created == 1
    (root / "content" / "added.md").write_text(article("Added later", date))
    assert waiting(site, NOW + QUARTER) == ["Added later"]
    assert run.run(site, NOW + QUARTER).created is None  # issue 1 went out for this week
    report = run.run(site, FRIDAY + timedelta(days=7))
    assert report.created == 2
    records = all_issues(site)
    assert [titles(r) for r in records] == [["Bravo", "Alpha"], ["Added later"]]


def test_discard_releases_the_articles_into_the_next_issue(make_site: MakeSite) -> None:
    root = make_site({"a.md": article("Alpha", "2026-11-20 09:00")}, extra=NEWSLETTER)
    site = load(root)
    assert run.run(site, NOW).created == 1  # issue 1 is sent
    content = root / "content"
    content.joinpath("b.md").write_text(article("Bravo", "2026-11-27 13:00"))
    content.joinpath("c.md").write_text(article("Charlie", "2026-11-27 14:00"))
    later = NOW + timedelta(hours=3)
    second = make_issue(site, later)
    assert second is not None and second.number == 2
    assert waiting(site, later) == []

    with State.open(site.state_dir) as opened:
        dropped = issues.discard(opened, 2)
    assert dropped.number == 2 and titles(dropped) == ["Charlie", "Bravo"]
    assert [r.number for r in all_issues(site)] == [1]
    assert [issue for issue, _ in carried_rows(site)] == [1]
    assert waiting(site, later) == ["Bravo", "Charlie"]

    again = make_issue(site, later + QUARTER)
    assert again is not None
    assert (again.number, titles(again)) == (2, ["Charlie", "Bravo"])
    assert [issue for issue, _ in carried_rows(site)] == [1, 2, 2]


@pytest.mark.parametrize(
    ("number", "error", "message"),
    [
        (
            1,
            IssueError,
            "issue 1 cannot be discarded: it is unsent (no one to send it to), and a finished "
            "issue stays (its articles went out with it)",
        ),
        (7, NoSuchIssue, "there is no issue 7; 'feedpub issue list' shows them"),
    ],
    ids=["sent", "missing"],
)
def test_discard_refuses(
    make_site: MakeSite, number: int, error: type[FeedpubError], message: str
) -> None:
    root = make_site({"a.md": article("Alpha", "2026-11-20 09:00")}, extra=NEWSLETTER)
    site = load(root)
    assert run.run(site, NOW).created == 1
    before = all_issues(site)
    with State.open(site.state_dir) as opened, pytest.raises(error) as caught:
        issues.discard(opened, number)
    assert str(caught.value) == message
    assert all_issues(site) == before
    assert before[0].status == "sent"


def test_the_archive_never_floods_the_newsletter(make_site: MakeSite) -> None:
    """Before the first issue only the last lookback_days count; after it, older articles go
    out only if they were added after the first issue (late or backdated)."""
    root = make_site(
        {
            "old.md": article("Old", "2026-11-01 09:00"),
            "outside.md": article("Just outside", "2026-11-20 11:59"),
            "edge.md": article("On the edge", "2026-11-20 12:00"),
            "recent.md": article("Recent", "2026-11-25 09:00"),
        },
        extra=newsletter(lookback_days=7),
    )
    site = load(root)
    assert waiting(site, NOW) == ["On the edge", "Recent"]
    first = make_issue(site, NOW)
    assert first is not None and titles(first) == ["Recent", "On the edge"]
    assert waiting(site, NOW + QUARTER) == []
    (root / "content" / "late.md").write_text(
        article("Backdated, added late", "2026-10-01 09:00"), encoding="utf-8"
    )
    assert waiting(site, NOW + 2 * QUARTER) == ["Backdated, added late"]
    second = make_issue(site, NOW + 2 * QUARTER)
    assert second is not None and titles(second) == ["Backdated, added late"]


def test_max_items_overflow_waits_oldest_first(make_site: MakeSite) -> None:
    root = make_site(
        {f"a{day}.md": article(f"Day {day}", f"2026-11-{day} 09:00") for day in range(21, 26)},
        extra=newsletter(max_items=2),
    )
    site = load(root)
    made = []
    for step in range(4):
        draft = make_issue(site, NOW + step * QUARTER)
        made.append(None if draft is None else (draft.number, titles(draft), draft.waiting))
    assert made == [
        (1, ["Day 22", "Day 21"], 3),
        (2, ["Day 24", "Day 23"], 1),
        (3, ["Day 25"], 0),
        None,
    ]


def test_max_items_overflow_goes_into_the_next_scheduled_issue(make_site: MakeSite) -> None:
    root = make_site(
        {f"a{day}.md": article(f"Day {day}", f"2026-11-{day} 09:00") for day in range(21, 26)},
        extra=newsletter(max_items=3),
    )
    site = load(root)
    assert run.run(site, FRIDAY).created == 1
    assert waiting(site, FRIDAY) == ["Day 24", "Day 25"]
    assert run.run(site, FRIDAY + timedelta(days=7)).created == 2
    assert [titles(r) for r in all_issues(site)] == [
        ["Day 23", "Day 22", "Day 21"],
        ["Day 25", "Day 24"],
    ]


def test_min_items_holds_back_a_scheduled_issue(make_site: MakeSite) -> None:
    root = make_site(
        {
            "a.md": article("Alpha", "2026-11-20 09:00"),
            "b.md": article("Bravo", "2026-11-24 09:00"),
        },
        extra=newsletter(min_items=3),
    )
    site = load(root)
    report = run.run(site, FRIDAY)
    assert report.created is None
    assert report.notes == [
        "no new issue: due since 2026-11-27 08:00 CET, but 2 articles waiting "
        "and [newsletter] min_items is 3"
    ]
    assert all_issues(site) == []
    assert not (site.state_dir / "outbox").exists()

    # The period passed without an issue: a third article does not make one mid-week ...
    (root / "content" / "c.md").write_text(article("Charlie", "2026-11-27 08:10"))
    report = run.run(site, FRIDAY + QUARTER)
    assert (report.created, report.notes) == (
        None,
        [
            "no new issue: too little was waiting at 2026-11-27 08:00 CET; "
            "next due 2026-12-04 08:00 CET"
        ],
    )
    # ... but next Friday's moment does.
    report = run.run(site, FRIDAY + timedelta(days=7))
    assert (report.created, report.notes) == (1, [])
    assert titles(all_issues(site)[0]) == ["Charlie", "Bravo", "Alpha"]


def test_min_items_does_not_hold_back_an_issue_made_by_hand(make_site: MakeSite) -> None:
    root = make_site({"a.md": article("Alpha", "2026-11-20 09:00")}, extra=newsletter(min_items=3))
    site = load(root)
    draft = make_issue(site, NOW)
    assert draft is not None and titles(draft) == ["Alpha"]


TAGGED = {
    "council.md": article("Council", "2026-11-21 09:00", tags="[News]"),
    "match.md": article("Match", "2026-11-22 09:00", tags="[Sports]"),
    "memo.md": article("Memo", "2026-11-23 09:00", tags="[news, Internal]"),
    "local.md": article("Local", "2026-11-24 09:00", tags="[Local News]"),
    "plain.md": article("Plain", "2026-11-25 09:00"),
}


@pytest.mark.parametrize(
    ("settings", "expected"),
    [
        ({}, ["Council", "Match", "Memo", "Local", "Plain"]),
        ({"tags": ["news"]}, ["Council", "Memo"]),
        ({"tags": ["NEWS", "sports"]}, ["Council", "Match", "Memo"]),
        ({"exclude_tags": ["internal"]}, ["Council", "Match", "Local", "Plain"]),
        ({"tags": ["News"], "exclude_tags": ["INTERNAL"]}, ["Council"]),
        ({"tags": ["local news"]}, ["Local"]),
    ],
    ids=["all", "only-news", "news-or-sports", "not-internal", "news-not-internal", "two-words"],
)
def test_tag_filters(make_site: MakeSite, settings: dict[str, object], expected: list[str]) -> None:
    site = load(make_site(TAGGED, extra=newsletter(**settings)))
    assert waiting(site, NOW) == expected
    draft = make_issue(site, NOW)
    assert draft is not None and sorted(titles(draft)) == sorted(expected)
    # What the filters leave out is never carried, and does not make an issue later.
    assert make_issue(site, NOW + QUARTER) is None


# -- the state's own guarantee ---------------------------------------------------------------


def _item(article_id: str, title: str = "Another") -> IssueItem:
    return IssueItem(article_id, title, "https://news.example.org/x/", NOW.isoformat(), (), "")


def _record(number: int, items: tuple[IssueItem, ...]) -> IssueRecord:
    return IssueRecord(
        number,
        f"urn:uuid:issue-{number}",
        NOW.isoformat(),
        "ready",
        "S",
        "",
        "<p>",
        "t",
        None,
        items,
    )


@pytest.mark.parametrize("in_transaction", [True, False], ids=["in-a-transaction", "on-its-own"])
@pytest.mark.parametrize(
    "items",
    [
        lambda carried: (_item("urn:uuid:new-1"), carried),
        lambda carried: (_item("urn:uuid:new-1"), _item("urn:uuid:new-1", "Twice")),
    ],
    ids=["already-carried", "twice-in-one-issue"],
)
def test_the_state_refuses_an_article_in_two_issues(
    make_site: MakeSite,
    in_transaction: bool,
    items: Callable[[IssueItem], tuple[IssueItem, ...]],
) -> None:
    root = make_site({"a.md": article("Alpha", "2026-11-20 09:00")}, extra=NEWSLETTER)
    site = load(root)
    assert make_issue(site, NOW) is not None
    (first,) = all_issues(site)
    record = _record(2, items(first.items[0]))
    with State.open(site.state_dir) as opened, pytest.raises(StateError) as caught:
        if in_transaction:
            with opened.transaction():
                opened.issues.add(record)
        else:
            opened.issues.add(record)
    assert str(caught.value).startswith("cannot record issue 2: UNIQUE constraint failed")
    assert all_issues(site) == [first]
    assert count_rows(site, "issues") == 1
    assert carried_rows(site) == [(1, first.items[0].article_id)]


# -- run on a schedule -----------------------------------------------------------------------


def _issue_a_week_ago(make_site: MakeSite, **articles: str) -> Site:
    """A site whose issue 1 went out last Friday at 08:00; ``articles`` are title=date."""
    files = {"first.md": article("First", "2026-11-19 09:00")}
    files.update({f"{title}.md": article(title, date) for title, date in articles.items()})
    site = load(make_site(files, extra=NEWSLETTER))
    assert run.run(site, LAST_FRIDAY).created == 1
    assert titles(all_issues(site)[0]) == ["First"]
    return site


def test_run_every_quarter_hour_all_friday_makes_one_issue(make_site: MakeSite) -> None:
    site = _issue_a_week_ago(
        make_site, Monday="2026-11-23 09:00", Morning="2026-11-27 10:00", Evening="2026-11-27 20:00"
    )
    midnight = at(2026, 11, 27, 0, 0)
    reports = [(midnight + n * QUARTER, run.run(site, midnight + n * QUARTER)) for n in range(96)]
    made = [(now, report.created) for now, report in reports if report.created is not None]
    assert made == [(FRIDAY, 2)]
    handed = [
        (now, [send.issue for send in report.sends]) for now, report in reports if report.sends
    ]
    assert handed == [(FRIDAY, [2])]
    records = all_issues(site)
    assert [(r.number, r.status) for r in records] == [(1, "sent"), (2, "sent")]
    assert records[1].created == "2026-11-27T08:00:00+01:00"
    assert titles(records[1]) == ["Monday"]
    # Articles published later that Friday wait for next week's issue.
    assert waiting(site, at(2026, 11, 27, 23, 59)) == ["Morning", "Evening"]
    assert reports[0][1].notes == [
        "no new issue: issue 1 was made for this period; next due 2026-11-27 08:00 CET"
    ]
    assert reports[-1][1].notes == [
        "no new issue: issue 2 was made for this period; next due 2026-12-04 08:00 CET"
    ]


@pytest.mark.parametrize(
    "back_on",
    [at(2026, 11, 30, 9, 0), at(2026, 12, 16, 9, 0)],
    ids=["monday-after", "three-fridays-later"],
)
def test_a_machine_off_on_friday_catches_up_with_one_issue(
    make_site: MakeSite, back_on: datetime
) -> None:
    site = _issue_a_week_ago(make_site, Tuesday="2026-11-24 09:00", Wednesday="2026-11-25 09:00")
    ticks = [back_on + n * QUARTER for n in range(12)] + [back_on + timedelta(days=1)]
    made = [(now, created) for now in ticks if (created := run.run(site, now).created)]
    assert made == [(back_on, 2)]
    assert [titles(r) for r in all_issues(site)] == [["First"], ["Wednesday", "Tuesday"]]


def test_run_without_a_newsletter_only_builds(make_site: MakeSite) -> None:
    site = load(make_site({"a.md": article("Alpha", "2026-11-20 09:00")}))
    report = run.run(site, FRIDAY)
    assert report.created is None
    assert report.notes == ["no new issue: no [newsletter] in feedpub.toml"]
    assert report.build is not None and report.build.articles == 1
    assert (site.output_dir / "rss.xml").is_file()
    assert not (site.output_dir / "issues").exists()
    assert all_issues(site) == []


def test_issue_new_without_a_newsletter_refuses_as_run_does(
    make_site: MakeSite, runner: CliRunner
) -> None:
    """Bug 5: ``issue new`` made issue 1 of a newsletter that run and status say is not there."""
    root = make_site({"a.md": article("Alpha", "2026-11-20 09:00")})
    site = load(root)
    with pytest.raises(IssueError, match=r"no \[newsletter\] section") as refused:
        run.issue_new(site, FRIDAY)
    assert "add a [newsletter] section" in str(refused.value)
    result = runner.invoke(main, ["--site", str(root), "issue", "new", "--now", NOW.isoformat()])
    assert result.exit_code == 1, result.output
    assert result.output == (
        "Error: feedpub.toml has no [newsletter] section, so there is no newsletter to make an "
        "issue of; add a [newsletter] section (name, from, schedule: see the README's "
        '"The newsletter") first\n'
    )
    assert all_issues(site) == []
    assert not (site.output_dir / "issues").exists()
    # Nor is one imagined: the dry run, the preview and a test copy of the upcoming issue.
    for command in (
        ["issue", "new", "--dry-run"],
        ["issue", "preview"],
        ["send", "--test", "editor@example.org"],
    ):
        result = runner.invoke(main, ["--site", str(root), *command, "--now", NOW.isoformat()])
        assert result.exit_code == 1, (command, result.output)
        assert result.output.startswith("Error: feedpub.toml has no [newsletter] section"), (
            command,
            result.output,
        )
    assert all_issues(site) == []


@pytest.mark.parametrize(
    "now",
    [FRIDAY, NOW, FRIDAY + timedelta(days=7)],
    ids=["the-scheduled-moment", "later-that-day", "a-week-later"],
)
def test_run_with_a_manual_schedule_makes_no_issue(make_site: MakeSite, now: datetime) -> None:
    root = make_site(
        {"a.md": article("Alpha", "2026-11-20 09:00")}, extra=newsletter(schedule="manual")
    )
    site = load(root)
    report = run.run(site, now)
    assert report.created is None
    assert report.notes == ["no new issue: the schedule is manual: run 'feedpub issue new'"]
    assert all_issues(site) == []


# -- what an issue leaves behind -------------------------------------------------------------


def _by_run(site: Site, now: datetime) -> None:
    assert run.run(site, now).created is not None


def _by_issue_new(site: Site, now: datetime) -> None:
    # What 'feedpub issue new' calls: create, then publish the web version and feeds.
    assert run.issue_new(site, now).draft is not None


@pytest.mark.parametrize("make", [_by_run, _by_issue_new], ids=["run", "issue-new"])
def test_web_version_and_issues_feeds(
    make_site: MakeSite, make: Callable[[Site, datetime], None]
) -> None:
    root = make_site({"a.md": article("Alpha", "2026-11-20 09:00")}, extra=NEWSLETTER)
    site = load(root)
    public = site.output_dir
    make(site, FRIDAY)
    (root / "content" / "b.md").write_text(article("Bravo & Co.", "2026-12-01 09:00"))
    make(site, FRIDAY + timedelta(days=7))
    records = all_issues(site)
    assert [r.number for r in records] == [1, 2]

    for record in records:
        page = (public / "issues" / str(record.number) / "index.html").read_text(encoding="utf-8")
        assert "Test Weekly" in page and f"#{record.number}" in page
        assert UNSUBSCRIBE_PLACEHOLDER not in page
    listing = (public / "issues" / "index.html").read_text(encoding="utf-8")
    assert "issues/1/" in listing and "issues/2/" in listing

    for name in ["rss.xml", "atom.xml"]:
        parsed = feedparser.parse((public / "issues" / name).read_bytes())
        assert parsed.bozo == 0, parsed.get("bozo_exception")
        assert [e.title for e in parsed.entries] == [
            "Test Weekly #2: Bravo & Co.",
            "Test Weekly #1: Alpha",
        ]
        assert [e.link for e in parsed.entries] == [
            "https://news.example.org/issues/2/",
            "https://news.example.org/issues/1/",
        ]
        # The site's archive makes the pages the digest links to (its "web version").
        assert [e.link for e in parsed.entries] == [
            site.issue_url(r.number) for r in reversed(records)
        ]
        assert [e.id for e in parsed.entries] == [r.id for r in reversed(records)]


def test_issue_new_with_nothing_new_names_the_last_issue_and_builds_nothing(
    make_site: MakeSite,
) -> None:
    root = make_site({"a.md": article("Alpha", "2026-11-20 09:00")}, extra=NEWSLETTER)
    site = load(root)
    first = run.issue_new(site, NOW, "A note")
    assert first.draft is not None and first.draft.number == 1 and first.build is not None
    assert (first.last, first.notes) == (None, [])
    assert all_issues(site)[0].note == "A note"
    again = run.issue_new(site, NOW + QUARTER)
    assert (again.draft, again.last, again.build) == (None, 1, None)


def test_run_hands_unfinished_issues_to_the_outbox(make_site: MakeSite) -> None:
    root = make_site({"a.md": article("Alpha", "2026-11-20 09:00")}, extra=NEWSLETTER)
    site = load(root)
    assert make_issue(site, NOW) is not None
    (root / "content" / "b.md").write_text(article("Bravo", "2026-11-27 12:05"))
    assert make_issue(site, NOW + QUARTER) is not None
    assert [(r.number, r.status) for r in all_issues(site)] == [(1, "ready"), (2, "ready")]

    with State.open(site.state_dir) as opened, opened.transaction():
        people = Subscribers(opened)
        people.add("ann@example.org", "Ann", NOW)
        people.add("bob@example.org", "", NOW)
    later = NOW + timedelta(hours=1)
    report = run.run(site, later)
    outbox = site.state_dir / "outbox"
    assert report.created is None  # issue 2 was made after Friday's 08:00
    assert [(s.issue, s.sent, s.finished) for s in report.sends] == [(1, 2, True), (2, 2, True)]
    records = all_issues(site)
    assert [(r.status, r.sent) for r in records] == [("sent", later.isoformat())] * 2
    for record in records:
        folder = outbox / str(record.number)
        assert sorted(p.name for p in folder.iterdir()) == [
            "ann@example.org.eml",
            "bob@example.org.eml",
        ]
        data = (folder / "ann@example.org.eml").read_bytes()
        message = email.message_from_bytes(data, policy=email.policy.default)
        assert message["Subject"] == record.subject
        assert message["From"] == "Test Gazette <news@news.example.org>"
        assert message["To"] == "Ann <ann@example.org>"
        assert message.get_body(("plain",)) is not None
        assert message.get_body(("html",)) is not None
        assert UNSUBSCRIBE_PLACEHOLDER.encode() not in data

    assert run.run(site, later + QUARTER).sends == []  # handed over once


def test_run_with_article_errors_makes_no_issue(make_site: MakeSite) -> None:
    root = make_site(
        {
            "a.md": article("Alpha", "2026-11-20 09:00"),
            "broken.md": article("Broken", "not a date"),
        },
        extra=NEWSLETTER,
    )
    site = load(root)
    with pytest.raises(ArticleError) as caught:
        run.run(site, FRIDAY)
    assert [p.path for p in caught.value.problems] == ["content/broken.md"]
    assert all_issues(site) == []
    assert not site.output_dir.exists()
    assert not (site.state_dir / "outbox").exists()
    (root / "content" / "broken.md").unlink()
    assert run.run(site, FRIDAY).created == 1


# -- the state's schema ----------------------------------------------------------------------


def test_a_version_1_state_is_upgraded_keeping_its_rows(tmp_path: Path) -> None:
    folder = tmp_path / ".feedpub"
    folder.mkdir()
    with closing(sqlite3.connect(folder / state.STATE_NAME)) as db:
        db.executescript(state._MIGRATIONS[0])
        db.execute("PRAGMA user_version = 1")
        db.execute(
            "INSERT INTO articles VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (
                "urn:uuid:kept",
                "content/a.md",
                "hash",
                "Alpha",
                "2026-11-20T09:00:00+01:00",
                0,
                "2026-11-20T10:00:00+01:00",
                "2026-11-21T10:00:00+01:00",
            ),
        )
        db.commit()
    with State.open(folder) as opened:
        assert [(k.id, k.path, k.title, k.explicit) for k in opened.known_articles()] == [
            ("urn:uuid:kept", "content/a.md", "Alpha", False)
        ]
        assert opened.issues.all() == []
        assert opened.issues.next_number() == 1
        assert opened.db.execute("PRAGMA user_version").fetchone()[0] == state.SCHEMA_VERSION
    assert state.SCHEMA_VERSION >= 2
    with closing(sqlite3.connect(folder / state.STATE_NAME)) as db:
        tables = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert {"articles", "outputs", "issues", "issue_articles"} <= tables
