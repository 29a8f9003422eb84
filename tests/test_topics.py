"""Topics: each reader gets the issue's articles of the topics they chose, through a real relay
on loopback; one rendering per distinct copy however many share it, the copy recorded with each
delivery, readers with nothing in an issue (or paused) recorded skipped, never lost, and a send
killed with -9 resumed with the copy, and the bytes, it began with."""

from __future__ import annotations

import json
import signal
from collections import Counter
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner
from helpers import (
    MAIL_NEWSLETTER,
    NOW,
    NOW_ARG,
    REPO,
    MakeSite,
    Relay,
    article,
    assert_clean_exit,
    feedpub,
    free_port,
    invoke,
    load,
    make_issue,
    parse,
    readers,
    smtp_settings,
    subscribe,
    wait_until,
)
from hypothesis import given
from hypothesis import strategies as st

from feedpub.config import FeedSettings, NewsletterSettings, Site, SiteSettings, Topic
from feedpub.content.bodies import Bodies
from feedpub.delivery import signup
from feedpub.delivery.sending import send_issue
from feedpub.delivery.subscribers import Subscribers
from feedpub.delivery.tokens import load_secret
from feedpub.errors import DeliveryError
from feedpub.newsletter.digest import Digest
from feedpub.newsletter.issues import compose
from feedpub.newsletter.topics import WHOLE, TopicEditions, choose, positions, render_copy
from feedpub.site.build import load_catalog
from feedpub.store.deliveries import NOTHING_CHOSEN
from feedpub.store.issues import IssueItem, IssueRecord
from feedpub.store.state import State

TOPICS = """
[newsletter.topics]
Sports = ["sports", "Athletics"]
Arts = ["arts"]
Science = ["science"]
"""
# Newest first in the issue, so positions 1..4 are Relay, Gallery, Match, Notice.
ARTICLES: dict[str, str | bytes] = {
    "notice.md": article("Notice", "2026-11-20 09:00"),  # no tags: in no topic
    "match.md": article("Match", "2026-11-21 09:00", tags="[Sports]"),
    "gallery.md": article("Gallery", "2026-11-22 09:00", tags="[arts, local]"),
    "relay.md": article("Relay", "2026-11-23 09:00", tags="[athletics]"),
}
TITLES = ("Relay", "Gallery", "Match", "Notice")


@pytest.fixture
def relay(start_relay: Callable[..., Relay]) -> Relay:
    return start_relay()


def topic_site(make_site: MakeSite, port: int, connections: int = 2) -> Path:
    return make_site(ARTICLES, extra=MAIL_NEWSLETTER + TOPICS + smtp_settings(port, connections))


def choose_topics(root: Path, address: str, *topics: str) -> None:
    with State.open(load(root).state_dir) as state, state.transaction():
        person = Subscribers(state).get(address)
        state.subscribers.set_topics(person.id, topics, NOW.isoformat())


def pause(root: Path, address: str, until: str) -> None:
    with State.open(load(root).state_dir) as state, state.transaction():
        person = Subscribers(state).get(address)
        state.subscribers.set_pause(person.id, until, NOW.isoformat())


def rows(root: Path, number: int = 1) -> dict[str, tuple[str, str, str]]:
    """address -> (status, articles, last_reply) of one issue's deliveries."""
    with State.open(load(root).state_dir) as state:
        found = state.db.execute(
            "SELECT s.email, d.status, d.articles, d.last_reply FROM deliveries d"
            " JOIN subscribers s ON s.id = d.subscriber WHERE d.issue = ?",
            (number,),
        ).fetchall()
    return {r[0]: (r[1], r[2], r[3]) for r in found}


def titles_in(raw: bytes) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The article titles the message's HTML and its text carry, in order."""
    message = parse(raw)
    html = message.get_body(("html",))
    text = message.get_body(("plain",))
    assert html is not None and text is not None
    html_part = html.get_content()
    text_part = text.get_content().replace("\r\n", "\n")
    shown = tuple(t for t in TITLES if f">{t}</a></h2>" in html_part or f">{t}</a>" in html_part)
    listed = tuple(t for t in TITLES if f". {t}\n" in text_part)
    return shown, listed


class Counting:
    """render_copy, counted: how many times each copy of each issue was rendered."""

    def __init__(self) -> None:
        self.renders: Counter[tuple[int, str]] = Counter()

    def __call__(self, site: Site, issue: IssueRecord, name: str) -> Digest:
        self.renders[(issue.number, name)] += 1
        return render_copy(site, issue, name)


# -- which copy a reader gets ------------------------------------------------------------------


def item(title: str, *tags: str) -> IssueItem:
    return IssueItem(
        article_id=f"urn:x:{title}",
        title=title,
        link=f"https://news.example.org/{title}/",
        date="2026-11-20T09:00:00+01:00",
        authors=(),
        summary="",
        tags=tags,
    )


ITEMS = (
    item("Relay", "athletics"),
    item("Gallery", "arts", "local"),
    item("Match", "Sports"),
    item("Notice"),
)


@pytest.mark.parametrize(
    ("items", "topics", "copy"),
    [
        (ITEMS, (), WHOLE),
        (ITEMS, ("Sports",), "1,3"),
        (ITEMS, ("sports",), "1,3"),  # topic names compare as tags do
        (ITEMS, ("Arts",), "2"),
        (ITEMS, ("Sports", "Arts"), "1,2,3"),
        (ITEMS, ("Science",), None),
        (ITEMS, ("Science", "Arts"), "2"),
        (ITEMS, ("Gone",), WHOLE),
        (ITEMS, ("Gone", "Arts"), "2"),
        (ITEMS[:3], ("Sports", "Arts"), WHOLE),  # every article: the issue as composed
        (tuple(item(t) for t in TITLES), ("Sports",), WHOLE),  # no tags: composed before them
        ((), ("Sports",), WHOLE),
    ],
    ids=[
        "no-topics",
        "one-topic",
        "name-case",
        "other-topic",
        "two-topics",
        "nothing-in-it",
        "one-with-nothing",
        "topic-gone",
        "one-gone",
        "every-article",
        "untagged-issue",
        "empty-issue",
    ],
)
def test_the_copy_a_reader_gets(
    make_site: MakeSite, items: tuple[IssueItem, ...], topics: tuple[str, ...], copy: str | None
) -> None:
    site = load(make_site({}, extra=MAIL_NEWSLETTER + TOPICS))
    assert choose(site, items, topics) == copy


TAG = st.sampled_from(["sports", "Sports", "athletics", "arts", "ARTS", "science", "local"])
TOPIC_NAMES = ("Sports", "Arts", "Science", "Gone", "sports")


@given(
    tags=st.lists(st.lists(TAG, max_size=3), max_size=8),
    chosen=st.lists(st.sampled_from(TOPIC_NAMES), max_size=4),
)
def test_a_copy_carries_exactly_the_articles_of_the_topics(
    tags: list[list[str]], chosen: list[str]
) -> None:
    """Any issue, any choice of topics: the copy is the positions, in order, of the articles
    that carry a tag of a chosen topic (tags and names compared by name_key); the whole issue
    when that is every article, when nothing can be cut, or when no chosen topic exists."""
    site = Site(
        root=Path("/nonexistent"),
        site=SiteSettings(title="T", url="https://example.org/", timezone="Europe/Berlin"),
        feeds=FeedSettings(),
        newsletter=NewsletterSettings(
            topics=(
                Topic("Sports", ("sports", "Athletics")),
                Topic("Arts", ("arts",)),
                Topic("Science", ("science",)),
            )
        ),
    )
    items = tuple(item(f"A{n}", *t) for n, t in enumerate(tags))
    copy = choose(site, items, tuple(chosen))
    known = {"sports": {"sports", "athletics"}, "arts": {"arts"}, "science": {"science"}}
    wanted = set().union(*(known.get(name.lower(), set()) for name in chosen))
    places = [n for n, t in enumerate(tags, start=1) if {x.lower() for x in t} & wanted]
    if not chosen or not any(tags) or not wanted or len(places) == len(items):
        assert copy == WHOLE
    elif not places:
        assert copy is None
    else:
        assert copy is not None and positions(copy) == tuple(places)
        assert copy == ",".join(map(str, places))


def test_the_issue_keeps_each_article_s_tags_and_picture(make_site: MakeSite) -> None:
    articles = dict(ARTICLES)
    articles["relay.md"] = article(
        "Relay", "2026-11-23 09:00", tags="[athletics]", image="/img/track.jpg"
    )
    root = make_site(articles, extra=MAIL_NEWSLETTER + TOPICS)
    record = make_issue(root)
    assert [(i.title, i.tags, i.image) for i in record.items] == [
        ("Relay", ("athletics",), "https://news.example.org/img/track.jpg"),
        ("Gallery", ("arts", "local"), ""),
        ("Match", ("Sports",), ""),
        ("Notice", (), ""),
    ]


def test_a_copy_is_the_digest_of_its_articles(make_site: MakeSite) -> None:
    """The whole issue made again from what it stored is the digest composed from the files:
    a copy is rendered from the issue, and shows its articles as the issue did."""
    articles = dict(ARTICLES)
    articles["relay.md"] = article(
        "Relay",
        "2026-11-23 09:00",
        tags="[athletics]",
        image="/img/track.jpg",
        summary="'Four laps, one baton.'",
        author="Ann Lee",
    )
    root = make_site(articles, extra=MAIL_NEWSLETTER + TOPICS)
    site = load(root)
    with State.open(site.state_dir) as state:
        draft = compose(site, state, load_catalog(site, state, NOW), NOW, "A *note*.")
    assert draft is not None
    stored = draft.record(Bodies(site))
    again = render_copy(site, stored, "1,2,3,4")
    assert (again.subject, again.html, again.text) == (
        draft.digest.subject,
        draft.digest.html,
        draft.digest.text,
    )


# -- a send ------------------------------------------------------------------------------------


def test_each_reader_gets_the_articles_of_their_topics(
    relay: Relay, make_site: MakeSite, runner: CliRunner
) -> None:
    root = topic_site(make_site, relay.port)
    everyone = readers(30)
    subscribe(root, everyone)
    address = [a for a, _ in everyone]
    wanted: dict[str, tuple[str, ...] | None] = {}
    for a in address[:10]:
        wanted[a] = TITLES  # no topics: everything
    for a in address[10:18]:
        choose_topics(root, a, "Sports")
        wanted[a] = ("Relay", "Match")
    for a in address[18:22]:
        choose_topics(root, a, "Arts")
        wanted[a] = ("Gallery",)
    for a in address[22:25]:
        choose_topics(root, a, "Arts", "Sports")
        wanted[a] = ("Relay", "Gallery", "Match")
    for a in address[25:27]:
        choose_topics(root, a, "Science")
        wanted[a] = None  # nothing of theirs in this issue
    pause(root, address[27], (NOW + timedelta(days=7)).isoformat())
    wanted[address[27]] = None
    pause(root, address[28], (NOW - timedelta(days=1)).isoformat())  # back already
    wanted[address[28]] = TITLES
    choose_topics(root, address[29], "Sports")
    pause(root, address[29], (NOW + timedelta(hours=1)).isoformat())
    wanted[address[29]] = None
    make_issue(root)
    counting = Counting()
    site = load(root)

    report = send_issue(site, 1, NOW, editions=TopicEditions(site, counting))

    # One rendering per copy, whoever many share it; the whole issue is the one composed.
    assert counting.renders == {(1, "1,3"): 1, (1, "2"): 1, (1, "1,2,3"): 1}
    sent = [a for a, w in wanted.items() if w is not None]
    assert (report.sent, report.skipped, report.failed, report.recipients) == (len(sent), 4, 0, 30)
    assert report.finished and report.outcome == "sent"
    got = {rcpt: titles_in(data) for rcpt, data in relay.handler.received()}
    assert relay.handler.copies() == Counter(sent)  # each once
    assert got == {a: (w, w) for a, w in wanted.items() if w is not None}
    # What each reader's copy carried is recorded with their delivery.
    recorded = rows(root)
    names = {TITLES: "", ("Relay", "Match"): "1,3", ("Gallery",): "2"}
    names[("Relay", "Gallery", "Match")] = "1,2,3"
    for a, w in wanted.items():
        if w is None:
            continue
        assert recorded[a][:2] == ("sent", names[w])
    assert {recorded[a] for a in address[25:27]} == {("skipped", "", NOTHING_CHOSEN)}
    until = (NOW + timedelta(days=7)).isoformat()
    assert recorded[address[27]] == ("skipped", "", f"paused until {until}")
    assert recorded[address[29]][0] == "skipped"
    # The subject of a copy is its own: the template's title is that of its first article.
    subjects = {parse(data)["Subject"] for rcpt, data in relay.handler.received()}
    assert subjects == {"Test Weekly #1: Relay", "Test Weekly #1: Gallery"}

    # Nothing left: a second send renders nothing and sends nothing.
    again = send_issue(site, 1, NOW + timedelta(hours=1), editions=TopicEditions(site, counting))
    assert (again.sent, again.skipped, again.finished) == (0, 0, True)
    assert sum(counting.renders.values()) == 3

    # The once-only rule holds for every article, whoever got it: none waits for the next
    # issue, the untagged one that only readers without topics got included.
    with State.open(site.state_dir) as state:
        assert compose(site, state, load_catalog(site, state, NOW), NOW) is None
        assert len(state.issues.carried_ids()) == 4

    shown = invoke(runner, "--site", root, "issue", "show", "1")
    assert_clean_exit(shown, 0)
    assert shown.stdout.splitlines()[-6:] == [
        "Copies sent (by the articles each carries):",
        "  all 4 articles: 11 recipients (11 sent)",
        "  articles 1, 2, 3: 3 recipients (3 sent)",
        "  articles 1, 3: 8 recipients (8 sent)",
        "  articles 2: 4 recipients (4 sent)",
        "  none: 4 recipients skipped (paused, nothing of their topics, or gone while it was "
        "sending)",
    ]


def test_an_issue_from_before_topics_goes_whole_to_everyone(
    relay: Relay, make_site: MakeSite
) -> None:
    root = topic_site(make_site, relay.port)
    subscribe(root, readers(4))
    choose_topics(root, "reader000@example.net", "Sports")
    choose_topics(root, "reader001@example.net", "Science")
    make_issue(root)
    with State.open(load(root).state_dir) as state, state.transaction():
        # As the version 6 migration leaves an issue composed before it.
        state.db.execute("UPDATE issue_articles SET tags = '[]', image = ''")
    counting = Counting()
    site = load(root)
    report = send_issue(site, 1, NOW, editions=TopicEditions(site, counting))
    assert (report.sent, report.skipped) == (4, 0)
    assert not counting.renders
    assert {titles_in(data) for _, data in relay.handler.received()} == {(TITLES, TITLES)}
    assert {row[:2] for row in rows(root).values()} == {("sent", "")}


def test_topics_the_state_cannot_read_mean_everything(relay: Relay, make_site: MakeSite) -> None:
    root = topic_site(make_site, relay.port)
    subscribe(root, readers(3))
    with State.open(load(root).state_dir) as state, state.transaction():
        state.db.execute(
            "UPDATE subscribers SET topics = CASE id WHEN 1 THEN '{\"Sports\": 1}'"
            " WHEN 2 THEN '[\"Sports\", 7, null]' ELSE 'not json[' END"
        )
    make_issue(root)
    site = load(root)
    report = send_issue(site, 1, NOW, editions=TopicEditions(site))
    assert report.sent == 3
    got = {rcpt: titles_in(data)[0] for rcpt, data in relay.handler.received()}
    assert got == {
        "reader000@example.net": TITLES,
        "reader001@example.net": ("Relay", "Match"),  # the names among the rest are kept
        "reader002@example.net": TITLES,
    }


def test_a_send_without_the_editions_refuses_a_site_with_topics(
    relay: Relay, make_site: MakeSite
) -> None:
    root = topic_site(make_site, relay.port)
    subscribe(root, readers(2))
    choose_topics(root, "reader000@example.net", "Arts")
    make_issue(root)
    with pytest.raises(DeliveryError, match=r"\[newsletter\] topics is set"):
        send_issue(load(root), 1, NOW)
    assert rows(root) == {}
    assert relay.handler.count() == 0


def test_a_reader_who_chooses_topics_during_a_send_keeps_the_copy_they_were_given(
    relay: Relay, make_site: MakeSite
) -> None:
    """A copy is decided once, when the reader's row is made: a change of topics while the
    issue is sending applies from the next issue."""
    root = topic_site(make_site, relay.port, connections=1)
    subscribe(root, readers(20))
    last = "reader019@example.net"
    changed: list[int] = []

    def change(number: int) -> None:
        if number == 1:
            choose_topics(root, last, "Arts")
            changed.append(number)

    relay.handler.on_message = change
    make_issue(root)
    site = load(root)
    report = send_issue(site, 1, NOW, editions=TopicEditions(site))
    assert changed and report.sent == 20
    got = {rcpt: titles_in(data)[0] for rcpt, data in relay.handler.received()}
    assert got[last] == TITLES
    assert rows(root)[last][:2] == ("sent", "")


# -- kill -9, then resume ------------------------------------------------------------------------

MARKED = "<!-- copy made by the first run -->"


@pytest.mark.parametrize(
    "after",
    [1, 40, *(pytest.param(k, marks=pytest.mark.slow) for k in (10, 70, 100))],
    ids=lambda k: f"after-{k}",
)
def test_a_killed_send_resumes_with_the_same_copies(
    relay: Relay, make_site: MakeSite, after: int
) -> None:
    relay.handler.delay = 0.005
    root = topic_site(make_site, relay.port, connections=2)
    digest = (REPO / "templates" / "digest.html").read_text(encoding="utf-8")
    own = root / "templates" / "digest.html"
    own.parent.mkdir()
    own.write_text(digest.replace("</body>", f"{MARKED}\n</body>"), encoding="utf-8")
    people = readers(120)
    subscribe(root, people)
    topics = {}
    for n, (a, _) in enumerate(people):
        chosen = [(), ("Sports",), ("Arts",)][n % 3]
        topics[a] = chosen
        if chosen:
            choose_topics(root, a, *chosen)
    make_issue(root)

    proc = feedpub(root, "send", "--now", NOW_ARG)
    try:
        wait_until(lambda: relay.handler.count() >= after, proc)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.communicate(timeout=30)
    assert proc.returncode == -signal.SIGKILL
    before = rows(root)
    assert sum(r[0] == "sent" for r in before.values()) < len(people)
    # Had the copies been rendered again, the resumed send would not carry the mark.
    own.write_text(digest, encoding="utf-8")

    resumed = feedpub(root, "send", "--now", NOW_ARG)
    out, err = resumed.communicate(timeout=120)
    assert resumed.returncode == 0, (out, err)
    assert err == b""
    after_rows = rows(root)
    assert {a: r[1] for a, r in after_rows.items()} == {a: r[1] for a, r in before.items()}
    assert {r[0] for r in after_rows.values()} == {"sent"}
    expected = {(): TITLES, ("Sports",): ("Relay", "Match"), ("Arts",): ("Gallery",)}
    copies = relay.handler.copies()
    assert set(copies) == set(topics)
    assert max(copies.values()) <= 2  # only a message in flight at the kill comes twice
    for rcpt, data in relay.handler.received():
        assert titles_in(data) == (expected[topics[rcpt]],) * 2, rcpt
        assert MARKED in (parse(data).get_body(("html",)) or parse(data)).get_content()
    with State.open(load(root).state_dir) as state:
        kept = state.db.execute("SELECT articles FROM issue_variants WHERE issue = 1").fetchall()
    assert sorted(r[0] for r in kept) == ["1,3", "2"]


def test_a_test_copy_is_the_copy_the_reader_gets(
    relay: Relay, make_site: MakeSite, runner: CliRunner
) -> None:
    root = topic_site(make_site, relay.port)
    subscribe(root, readers(2))
    choose_topics(root, "reader000@example.net", "Sports")
    choose_topics(root, "reader001@example.net", "Science")
    make_issue(root)

    for address in ("reader000@example.net", "editor@example.net"):
        result = invoke(runner, "--site", root, "send", "1", "--test", address)
        assert_clean_exit(result, 0)
    nothing = invoke(runner, "--site", root, "send", "1", "--test", "reader001@example.net")
    assert_clean_exit(nothing, 1)
    assert nothing.output == (
        "Error: reader001@example.net would get no email for issue 1: nothing in it is in their "
        "topics; send the test to another address, or to one without topics\n"
    )
    got = {rcpt: titles_in(data) for rcpt, data in relay.handler.received()}
    assert got == {
        "reader000@example.net": (("Relay", "Match"),) * 2,
        "editor@example.net": (TITLES, TITLES),  # no subscriber: the whole issue
    }
    assert rows(root) == {}  # a test records nothing, nor keeps the copy it rendered
    with State.open(load(root).state_dir) as state:
        assert state.variants.all(1) == []


def test_a_dry_run_counts_whom_the_send_would_skip(
    relay: Relay, make_site: MakeSite, runner: CliRunner
) -> None:
    root = topic_site(make_site, relay.port)
    subscribe(root, readers(5))
    choose_topics(root, "reader000@example.net", "Science")  # nothing in this issue
    choose_topics(root, "reader001@example.net", "Arts")
    pause(root, "reader002@example.net", (NOW + timedelta(days=1)).isoformat())
    make_issue(root)
    result = invoke(runner, "--site", root, "send", "--dry-run", "--now", NOW_ARG)
    assert_clean_exit(result, 0)
    assert result.stdout.splitlines()[0] == (
        "Issue 1 is ready: would send to 3 subscribers; 0 already done, 0 deferred; "
        "2 skipped (paused, or nothing of their topics)"
    )
    later = invoke(
        runner, "--site", root, "send", "--dry-run", "--now", (NOW + timedelta(days=2)).isoformat()
    )
    assert "would send to 4 subscribers" in later.stdout  # the pause is over by then
    assert rows(root) == {}  # a dry run records nothing
    report = send_issue(load(root), 1, NOW, editions=TopicEditions(load(root)))
    assert (report.sent, report.skipped) == (3, 2)


def test_copies_are_rendered_before_the_relay_is_reached(relay: Relay, make_site: MakeSite) -> None:
    """The relay's connection does not wait, open and idle, while copies are rendered; a relay
    that cannot be reached fixes no list of recipients, and the copies kept are used later."""
    root = topic_site(make_site, free_port())  # nothing listens there
    subscribe(root, readers(3))
    choose_topics(root, "reader000@example.net", "Sports")
    make_issue(root)
    counting = Counting()
    down = send_issue(load(root), 1, NOW, editions=TopicEditions(load(root), counting))
    assert down.error is not None and not down.started
    assert rows(root) == {}
    assert counting.renders == {(1, "1,3"): 1}

    topic_site(make_site, relay.port)  # the relay is back
    site = load(root)
    report = send_issue(site, 1, NOW, editions=TopicEditions(site, counting))
    assert (report.sent, report.finished) == (3, True)
    assert counting.renders == {(1, "1,3"): 1}
    assert rows(root)["reader000@example.net"][:2] == ("sent", "1,3")


def test_an_issue_no_reader_wants_is_finished_and_said_so(
    relay: Relay, make_site: MakeSite, runner: CliRunner
) -> None:
    root = topic_site(make_site, relay.port)
    subscribe(root, readers(2))
    for address in ("reader000@example.net", "reader001@example.net"):
        choose_topics(root, address, "Science")
    make_issue(root)
    result = invoke(runner, "--site", root, "send", "1", "--now", NOW_ARG)
    assert_clean_exit(result, 0)  # nothing failed: no one wanted it
    assert result.stdout.startswith("Issue 1: 0 sent, 0 deferred, 0 failed, 2 skipped of 2 ")
    assert result.stdout.endswith("; finished: no one to send to (2 skipped)\n")
    assert relay.handler.count() == 0
    assert {r[0] for r in rows(root).values()} == {"skipped"}


def test_an_issue_whose_send_only_skipped_readers_can_be_discarded(
    relay: Relay, make_site: MakeSite, runner: CliRunner
) -> None:
    """Skipped readers were sent nothing: a send that started, then stopped before its first
    message, leaves an issue that may still be discarded."""
    root = topic_site(make_site, relay.port)
    subscribe(root, readers(2))
    pause(root, "reader000@example.net", (NOW + timedelta(days=3)).isoformat())
    make_issue(root)
    with State.open(load(root).state_dir) as state:
        state.deliveries.start(1, NOW.isoformat(), None)
    assert {r[0] for r in rows(root).values()} == {"skipped", "pending"}
    result = invoke(runner, "--site", root, "issue", "discard", "1")
    assert_clean_exit(result, 0)
    assert rows(root) == {}


def test_run_sends_each_reader_their_copy(make_site: MakeSite, runner: CliRunner) -> None:
    """The cron entry point cuts the copies too (here into the outbox, without [smtp])."""
    root = make_site(ARTICLES, extra=MAIL_NEWSLETTER + TOPICS)
    subscribe(root, readers(2))
    choose_topics(root, "reader001@example.net", "Arts")
    result = invoke(runner, "--site", root, "run", "--now", NOW_ARG)
    assert_clean_exit(result, 0)
    outbox = load(root).state_dir / "outbox" / "1"
    got = {p.name: titles_in(p.read_bytes()) for p in sorted(outbox.iterdir())}
    assert got == {
        "reader000@example.net.eml": (TITLES, TITLES),
        "reader001@example.net.eml": (("Gallery",), ("Gallery",)),
    }


def test_what_is_held_about_a_reader_gives_the_subject_of_their_own_copy(
    make_site: MakeSite, runner: CliRunner
) -> None:
    # #15's note, not done 4: `subscribers show` and the page's download gave each delivery
    # the whole issue's subject, not the one of the copy the reader got.
    root = make_site(ARTICLES, extra=MAIL_NEWSLETTER + TOPICS)
    subscribe(root, readers(3))
    choose_topics(root, "reader001@example.net", "Arts")
    choose_topics(root, "reader002@example.net", "Science")  # nothing of theirs: skipped
    assert_clean_exit(invoke(runner, "--site", root, "run", "--now", NOW_ARG), 0)
    outbox = load(root).state_dir / "outbox" / "1"
    got = {p.name: parse(p.read_bytes())["Subject"] for p in outbox.iterdir()}
    assert got == {
        "reader000@example.net.eml": "Test Weekly #1: Relay",
        "reader001@example.net.eml": "Test Weekly #1: Gallery",
    }

    for address, subject, status in [
        ("reader000@example.net", "Test Weekly #1: Relay", "sent"),
        ("reader001@example.net", "Test Weekly #1: Gallery", "sent"),
        ("reader002@example.net", "Test Weekly #1: Relay", "skipped"),  # got none: the issue's
    ]:
        shown = invoke(runner, "--site", root, "subscribers", "show", address, "--json")
        assert_clean_exit(shown, 0)
        [issue] = json.loads(shown.stdout)["issues"]
        assert (issue["subject"], issue["status"]) == (subject, status)
        site = load(root)
        with State.open(site.state_dir) as state:
            person = Subscribers(state).get(address)
            downloaded = json.loads(signup.data(state, load_secret(site.state_dir), person))
        assert downloaded["issues"] == [issue]


@pytest.mark.parametrize(
    ("name", "places"),
    [("", ()), ("1,3", (1, 3)), ("2", (2,)), ("1,,x,٣,-1, 4", (1,)), ("9" * 30, (int("9" * 30),))],
    ids=["whole", "two", "one", "hand-edited", "huge"],
)
def test_a_copy_s_name_reads_as_its_positions(name: str, places: tuple[int, ...]) -> None:
    assert positions(name) == places


def test_until_a_first_message_is_tried_each_start_decides_the_copies_afresh(
    relay: Relay, make_site: MakeSite
) -> None:
    """A send that reached the relay but tried no message (it refused the sender, say) fixes
    nothing: at the next start a pause that ended, or topics changed, count."""
    root = topic_site(make_site, relay.port)
    subscribe(root, readers(3))
    pause(root, "reader000@example.net", (NOW + timedelta(hours=2)).isoformat())
    choose_topics(root, "reader001@example.net", "Science")
    choose_topics(root, "reader002@example.net", "Sports")
    make_issue(root)
    site = load(root)
    editions = TopicEditions(site)
    with State.open(site.state_dir) as state:
        record = state.issues.get(1)
        state.deliveries.start(1, NOW.isoformat(), lambda topics: editions.articles(record, topics))
    assert {a: r[:2] for a, r in rows(root).items()} == {
        "reader000@example.net": ("skipped", ""),
        "reader001@example.net": ("skipped", ""),
        "reader002@example.net": ("pending", "1,3"),
    }
    choose_topics(root, "reader001@example.net", "Arts")
    choose_topics(root, "reader002@example.net")
    later = NOW + timedelta(hours=3)
    report = send_issue(site, 1, later, editions=TopicEditions(site))
    assert (report.sent, report.skipped, report.finished) == (3, 0, True)
    assert {a: r[:2] for a, r in rows(root).items()} == {
        "reader000@example.net": ("sent", ""),
        "reader001@example.net": ("sent", "2"),
        "reader002@example.net": ("sent", ""),
    }
