"""The main feed's whole history ([feeds] archive, RFC 5005 archived feeds): walked from the
subscription feed back to the first article with feedparser, every article once; each document
valid (tests/feed_checks.py); older months' files untouched by rebuilds."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import feedparser
import pytest
from feed_checks import (
    assert_feedparser_happy,
    check_atom,
    check_json,
    check_rss,
    validator_atom,
    validator_json,
    validator_rss,
)
from helpers import ATOM, NOW, MakeSite, article, load, publish, write_articles
from hypothesis import given
from hypothesis import strategies as st
from lxml import etree

from feedpub.config import FeedSettings, Site, SiteSettings
from feedpub.errors import ConfigError
from feedpub.model import Article
from feedpub.site.feeds import FeedSpec
from feedpub.site.history import archives, subscription

HISTORY = "{http://purl.org/syndication/history/1.0}archive"
SITE = "https://news.example.org/"
ARCHIVED = "\n[feeds]\nlimit = 2\narchive = true\n"
# Two in January, four in February: with a limit of 2 the subscription feed holds the newest
# two of February, the archive January and February's first two.
ARTICLES = {
    "a.md": article("January one", "2026-01-05 09:00"),
    "b.md": article("January two", "2026-01-20 09:00"),
    "c.md": article("February one", "2026-02-02 09:00"),
    "d.md": article("February two", "2026-02-09 09:00"),
    "e.md": article("February three", "2026-02-16 09:00"),
    "f.md": article("February four", "2026-02-23 09:00"),
}
KINDS = {"rss": "rss.xml", "atom": "atom.xml", "json": "feed.json"}
VALIDATE = {"rss": validator_rss, "atom": validator_atom, "json": validator_json}


def _folder(url: str, name: str) -> str:
    assert url.startswith(SITE) and url.endswith("/" + name), url
    return url[len(SITE) : -len(name) - 1]


def _links(data: bytes, kind: str) -> dict[str, str]:
    """The document's links by rel, as a feed reader (feedparser) reads them; JSON Feed's
    next_url as prev-archive."""
    if kind == "json":
        document = json.loads(data)
        return {"prev-archive": document["next_url"]} if "next_url" in document else {}
    parsed = assert_feedparser_happy(data)
    return {link["rel"]: link["href"] for link in parsed.feed.get("links", [])}


def _titles(data: bytes, kind: str) -> list[str]:
    if kind == "json":
        return [item["title"] for item in json.loads(data)["items"]]
    return [entry.title for entry in feedparser.parse(data).entries]


def walk(output: Path, kind: str) -> list[tuple[str, list[str]]]:
    """Each document from the subscription feed back through prev-archive: its folder and its
    articles' titles; each document checked as the W3C validator checks it."""
    name = KINDS[kind]
    folder, seen = "", []
    while True:
        data = (output / folder / name).read_bytes()
        assert VALIDATE[kind](data, folder) <= {"DuplicateUpdated"}
        if kind != "json":
            root = etree.fromstring(data)
            marked = root.find(HISTORY if kind == "atom" else f"channel/{HISTORY}")
            assert (marked is not None) == (folder != ""), folder
            links = _links(data, kind)
            assert links["current"] == f"{SITE}{name}", folder
        seen.append((folder, _titles(data, kind)))
        prev = _links(data, kind).get("prev-archive")
        if prev is None:
            return seen
        folder = _folder(prev, name)
        assert folder not in [f for f, _ in seen], f"a loop at {folder}"


@pytest.mark.parametrize("kind", KINDS)
def test_walk_from_the_subscription_feed_finds_every_article_once(
    make_site: MakeSite, kind: str
) -> None:
    root = make_site(ARTICLES, extra=ARCHIVED)
    publish(root)
    documents = walk(load(root).output_dir, kind)
    assert documents == [
        ("", ["February four", "February three"]),
        ("archive/feed/2026-02", ["February two", "February one"]),
        ("archive/feed/2026-01", ["January two", "January one"]),
    ]
    titles = [t for _, found in documents for t in found]
    assert sorted(titles) == sorted(
        a.split("\n")[1].removeprefix("title: ").strip("'") for a in ARTICLES.values()
    )


def test_next_archive_links_run_forward_and_the_subscription_feed_stays_valid(
    make_site: MakeSite,
) -> None:
    root = make_site(ARTICLES, extra=ARCHIVED)
    publish(root)
    output = load(root).output_dir
    january = (output / "archive/feed/2026-01/atom.xml").read_bytes()
    february = (output / "archive/feed/2026-02/atom.xml").read_bytes()
    assert _links(january, "atom")["next-archive"] == f"{SITE}archive/feed/2026-02/atom.xml"
    assert "prev-archive" not in _links(january, "atom")
    assert "next-archive" not in _links(february, "atom")
    # The subscription documents pass every check of the plain feeds, at the limit.
    assert len(check_rss((output / "rss.xml").read_bytes(), "").items) == 2
    assert len(check_atom((output / "atom.xml").read_bytes(), "").items) == 2
    assert len(check_json((output / "feed.json").read_bytes(), "").items) == 2
    # One feed in many documents: the archives share the subscription feed's id.
    ids = {etree.fromstring(data).findtext(f"{ATOM}id") for data in (january, february)}
    assert ids == {f"{SITE}atom.xml"}
    document = json.loads((output / "archive/feed/2026-01/feed.json").read_bytes())
    assert document["feed_url"] == f"{SITE}feed.json"
    rss = etree.fromstring((output / "archive/feed/2026-01/rss.xml").read_bytes())
    rels = [link.get("rel") for link in rss.iter(f"{ATOM}link")]
    assert rels == ["self", "current", "next-archive"]


def _files(output: Path) -> dict[str, tuple[bytes, int]]:
    top = output / "archive/feed"
    return {
        p.relative_to(top).as_posix(): (p.read_bytes(), p.stat().st_mtime_ns)
        for p in sorted(top.rglob("*"))
        if p.is_file()
    }


def test_rebuilds_rewrite_only_the_newest_archive_month(make_site: MakeSite) -> None:
    root = make_site(ARTICLES, extra=ARCHIVED)
    publish(root)
    output = load(root).output_dir
    before = _files(output)

    def changed_after(name: str, date: str) -> set[str]:
        nonlocal before
        write_articles(root, {name: article(f"Added {name}", date)})
        publish(root)
        after = _files(output)
        different = {p for p in after if before.get(p) != after[p]}
        gone = set(before) - set(after)
        assert not gone, gone
        before = after
        return {p.split("/")[0] for p in different}

    # February three leaves the subscription feed for February's page: only February changes.
    assert changed_after("g.md", "2026-02-25 09:00") == {"2026-02"}
    # March articles push February four, then the one just added, out: February again.
    assert changed_after("h.md", "2026-03-02 09:00") == {"2026-02"}
    assert changed_after("i.md", "2026-03-09 09:00") == {"2026-02"}
    # The next one pushes the first March article out: March's page is new, and February gains
    # its next-archive link; January, complete, is never written again.
    assert changed_after("j.md", "2026-03-16 09:00") == {"2026-02", "2026-03"}
    for kind in KINDS:
        titles = [t for _, found in walk(output, kind) for t in found]
        assert len(titles) == len(set(titles)) == 10


def test_an_edited_old_article_changes_its_month_only(make_site: MakeSite) -> None:
    root = make_site(ARTICLES, extra=ARCHIVED)
    publish(root)
    output = load(root).output_dir
    before = _files(output)
    write_articles(
        root,
        {"c.md": article("February one", "2026-02-02 09:00", "Corrected.", updated="2026-11-01")},
    )
    publish(root)
    after = _files(output)
    assert {p for p in after if after[p] != before[p]} == {
        f"2026-02/{name}" for name in KINDS.values()
    }
    assert b"Corrected." in (output / "archive/feed/2026-02/atom.xml").read_bytes()


def test_a_fresh_build_writes_the_bytes_the_rebuilt_site_has(make_site: MakeSite) -> None:
    root = make_site(ARTICLES, extra=ARCHIVED, folder="one")
    publish(root)
    write_articles(root, {"g.md": article("Late", "2026-03-02 09:00")})
    publish(root)
    fresh = make_site(
        {**ARTICLES, "g.md": article("Late", "2026-03-02 09:00")}, extra=ARCHIVED, folder="two"
    )
    publish(fresh)
    one, two = load(root).output_dir, load(fresh).output_dir
    assert {p: b for p, (b, _) in _files(one).items()} == {
        p: b for p, (b, _) in _files(two).items()
    }
    for name in KINDS.values():
        assert (one / name).read_bytes() == (two / name).read_bytes()


def test_without_the_setting_there_is_no_history(make_site: MakeSite) -> None:
    root = make_site(ARTICLES, extra="\n[feeds]\nlimit = 2\n")
    publish(root)
    output = load(root).output_dir
    assert not (output / "archive/feed").exists()
    for kind, name in KINDS.items():
        assert _links((output / name).read_bytes(), kind).keys() <= {"self", "alternate"}


def test_few_articles_make_no_archive_documents(make_site: MakeSite) -> None:
    root = make_site({"a.md": ARTICLES["a.md"]}, extra=ARCHIVED)
    publish(root, NOW)
    output = load(root).output_dir
    assert not (output / "archive/feed").exists()
    links = _links((output / "atom.xml").read_bytes(), "atom")
    assert links["current"] == f"{SITE}atom.xml" and "prev-archive" not in links


@pytest.mark.parametrize("value", ['"yes"', "1", "[true]"], ids=["text", "number", "list"])
def test_archive_must_be_true_or_false(make_site: MakeSite, value: str) -> None:
    root = make_site(extra=f"\n[feeds]\narchive = {value}\n")
    with pytest.raises(ConfigError) as caught:
        load(root)
    assert "[feeds] archive" in str(caught.value)


# --- the months, as properties of any catalog ---------------------------------------------------

MOMENTS = st.datetimes(
    min_value=datetime(2000, 1, 1), max_value=datetime(2030, 12, 31), timezones=st.just(UTC)
)


def _catalog(moments: list[datetime]) -> list[Article]:
    """Articles at ``moments``, sorted as the catalog sorts them (newest first)."""
    made = [
        Article(
            source="x",
            relpath=f"a{n}.md",
            title=f"A{n}",
            date=when,
            body="",
            body_format="markdown",
            content_hash="",
            feed_id=f"urn:uuid:{n}",
        )
        for n, when in enumerate(moments)
    ]
    made.sort(key=lambda a: (a.date.timestamp(), a.feed_id), reverse=True)
    return made


def _archived(limit: int) -> Site:
    """A Site object (no files) in Berlin, whose month boundaries are not UTC's."""
    return Site(
        root=Path("/nonexistent"),
        site=SiteSettings(title="T", url=SITE, timezone="Europe/Berlin"),
        feeds=FeedSettings(limit=limit, archive=True),
    )


def _history(site: Site, articles: list[Article]) -> tuple[FeedSpec, list[FeedSpec]]:
    main = FeedSpec("", "T", "", SITE, articles[: site.feeds.limit])
    return subscription(site, main, articles), archives(site, main, articles)


@given(st.lists(MOMENTS, max_size=60), st.integers(min_value=1, max_value=10))
def test_every_article_is_in_one_document_and_the_months_chain(
    moments: list[datetime], limit: int
) -> None:
    site = _archived(limit)
    articles = _catalog(moments)
    main, months = _history(site, articles)
    seen = [a.feed_id for spec in [main, *months] for a in spec.articles]
    assert sorted(seen) == sorted(a.feed_id for a in articles)
    assert len(main.articles) == min(limit, len(articles))
    folders = [spec.folder for spec in months]
    assert folders == sorted(set(folders))
    assert main.history is not None and main.history.prev == (folders[-1] if folders else "")
    for index, spec in enumerate(months):
        assert spec.history is not None and spec.history.archive
        assert spec.history.prev == (folders[index - 1] if index else "")
        assert spec.history.next == (folders[index + 1] if index + 1 < len(folders) else "")
        shown = {a.date.astimezone(site.tz).strftime("%Y-%m") for a in spec.articles}
        assert shown == {spec.folder.rsplit("/", 1)[1]}


@given(st.lists(MOMENTS, min_size=1, max_size=60), st.integers(min_value=1, max_value=10))
def test_a_newer_article_changes_the_newest_month_only(moments: list[datetime], limit: int) -> None:
    site = _archived(limit)
    before = _history(site, _catalog(moments))[1]
    newest = max(moments) + timedelta(minutes=1)
    after = _history(site, _catalog([*moments, newest]))[1]
    # Every month but the newest of before is as it was: the same articles and links, except
    # that the newest may gain its next-archive link to a month that begins.
    assert after[: max(len(before) - 1, 0)] == before[:-1]
    assert len(after) - len(before) in (0, 1)
    if before and len(after) > len(before):
        assert replace(after[len(before) - 1], history=before[-1].history) == before[-1]
