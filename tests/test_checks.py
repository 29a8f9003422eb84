"""Pre-send checks (newsletter.checks): each finding from an issue composed on a real site whose
public/ a real build wrote, and none on the example site's first issue."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from pathlib import Path

import pytest
from golden_site import ISSUE_NOW, copy_example
from helpers import NOW, SITE_URL, MakeSite, article, load, publish

from feedpub.config import Site
from feedpub.content.bodies import Bodies
from feedpub.newsletter.checks import Finding, LeftOut, check_issue, errors
from feedpub.newsletter.digest import GMAIL_CLIP_BYTES
from feedpub.newsletter.issues import compose
from feedpub.site.build import build, load_catalog
from feedpub.store.issues import IssueRecord
from feedpub.store.state import State

NEWSLETTER = """
[newsletter]
from = "Desk <desk@news.example.org>"
lookback_days = 30
"""
ARTICLES = {
    "hello.md": article("Hello", "2026-11-20 09:00", "Body text."),
    "budget.md": article("Budget vote", "2026-11-21 09:00", "The board voted."),
}


def composed(site: Site, note: str = "", now: datetime = NOW) -> IssueRecord:
    """The issue ``issue new`` would record now, with ``note``; recorded nowhere."""
    bodies = Bodies(site)
    with State.open(site.state_dir) as state:
        draft = compose(site, state, load_catalog(site, state, now), now, note, bodies)
    assert draft is not None
    return draft.record(bodies)


@pytest.fixture
def site(make_site: MakeSite) -> Site:
    root = make_site(ARTICLES, extra=NEWSLETTER)
    publish(root)
    return load(root)


def codes(findings: list[Finding]) -> list[str]:
    return [f.code for f in findings]


def test_the_example_sites_first_issue_has_no_errors(tmp_path: Path) -> None:
    site = copy_example(tmp_path / "example")
    build(site, ISSUE_NOW)
    record = composed(site, now=ISSUE_NOW)
    found = check_issue(site, record, LeftOut(0, 0))
    # Its links all lead to built pages and its picture has alt text. The default subject
    # template, "name #N: first title", makes a 90-character subject of its first title: a
    # warning, true of the example as it stands.
    assert [str(f) for f in found] == [
        "warning: the subject is 90 characters long: mail clients cut it after about 70"
    ]


def test_a_plain_issue_on_a_built_site_has_no_findings(site: Site) -> None:
    assert check_issue(site, composed(site)) == []


def test_a_finding_reads_as_its_level_and_message() -> None:
    found = Finding("error", "empty-subject", "the subject is empty", "set it")
    assert str(found) == "error: the subject is empty"
    assert found.explained() == "error: the subject is empty; set it"
    assert errors([found, Finding("warning", "x", "y")]) == [found]


def test_an_empty_subject_is_an_error(site: Site) -> None:
    record = replace(composed(site), subject="  ")
    found = check_issue(site, record)
    assert codes(found) == ["empty-subject"]
    assert errors(found) == found
    assert str(found[0]) == "error: the subject is empty"


def test_a_subject_over_70_characters_is_a_warning(site: Site) -> None:
    record = composed(site)
    assert check_issue(site, replace(record, subject="x" * 70)) == []
    found = check_issue(site, replace(record, subject="x" * 71))
    assert codes(found) == ["long-subject"]
    assert found[0].level == "warning"
    assert "71 characters" in found[0].message


@pytest.mark.parametrize(
    ("text", "word"),
    [
        ("Vote count: TK", "TK"),
        ("Quote TKTK here", "TKTK"),
        ("TODO: a better ending", "TODO"),
        ("Lorem Ipsum dolor sit amet", "lorem ipsum"),
        ("See [link] for more", "[link]"),
        ("See [LINK] for more", "[link]"),
    ],
    ids=["tk", "tktk", "todo", "lorem-ipsum", "link", "link-capitals"],
)
def test_a_placeholder_in_the_note_is_an_error(site: Site, text: str, word: str) -> None:
    found = check_issue(site, composed(site, note=text))
    assert codes(found) == ["placeholder"]
    assert found[0].message == f'the editor\'s note still has the placeholder "{word}"'


@pytest.mark.parametrize(
    "text",
    ["TKO in the third round", "todo el mundo", "Stock: TKA", "TODOS", "a link here", "ATK"],
    ids=["tko", "spanish-todo", "tka", "todos", "plain-link", "atk"],
)
def test_a_placeholder_must_be_a_whole_word(site: Site, text: str) -> None:
    assert check_issue(site, composed(site, note=text)) == []


def test_a_placeholder_in_an_article_names_the_article(make_site: MakeSite) -> None:
    root = make_site(
        {"a.md": article("Turnout was TK", "2026-11-20 09:00", "Lorem ipsum dolor sit amet.")},
        extra=NEWSLETTER,
    )
    publish(root)
    site = load(root)
    messages = [f.message for f in check_issue(site, composed(site))]
    assert 'the title of "Turnout was TK" still has the placeholder "TK"' in messages
    assert 'the summary of "Turnout was TK" still has the placeholder "lorem ipsum"' in messages


def test_a_placeholder_in_the_subject_is_an_error(site: Site) -> None:
    found = check_issue(site, replace(composed(site), subject="Issue TK"))
    assert codes(found) == ["placeholder"]
    assert "the subject" in found[0].message


def test_a_site_link_to_a_page_the_build_wrote_passes(site: Site) -> None:
    record = composed(site)
    first = record.items[0].link
    assert first.startswith(SITE_URL) and (site.output_dir / "rss.xml").is_file()
    note = f"Read [this]({first}) and [the feed]({SITE_URL}rss.xml) and [home]({SITE_URL})."
    assert check_issue(site, composed(site, note=note)) == []


def test_a_site_link_to_a_missing_page_is_an_error(site: Site) -> None:
    note = f"Read [the vote]({SITE_URL}2026/11/no-such-story/)."
    found = check_issue(site, composed(site, note=note))
    assert codes(found) == ["broken-link"]
    assert found[0].message == (
        f"the link {SITE_URL}2026/11/no-such-story/ leads nowhere: "
        "public/2026/11/no-such-story/ is not in the built site"
    )


def test_a_site_link_out_of_public_is_an_error(site: Site) -> None:
    note = f"[up]({SITE_URL}..%2f..%2ffeedpub.toml)"
    assert codes(check_issue(site, composed(site, note=note))) == ["broken-link"]


def test_a_missing_site_picture_is_an_error_and_one_without_alt_a_warning(site: Site) -> None:
    note = f"![]({SITE_URL}images/missing.png)"
    found = check_issue(site, composed(site, note=note))
    assert codes(found) == ["broken-link", "no-alt"]
    assert [f.level for f in found] == ["error", "warning"]


def test_links_outside_the_site_are_listed_as_infos(site: Site) -> None:
    note = (
        "See [the district](https://district.example.net/board) and "
        "[again](https://district.example.net/board) and [Mail us](mailto:desk@example.org)."
    )
    found = check_issue(site, composed(site, note=note))
    assert found == [
        Finding(
            "info",
            "outside-link",
            "a link outside the site (not checked): https://district.example.net/board",
        )
    ]
    assert errors(found) == []


def test_an_issue_over_the_gmail_clip_size_as_sent_is_a_warning(site: Site) -> None:
    record = composed(site)
    assert check_issue(site, record) == []
    # Under the clip as stored, over it once each reader's own links replace the placeholders.
    filler = GMAIL_CLIP_BYTES - len(record.html.encode()) - 10
    big = record.html.replace("</body>", "<p>" + "x" * filler + "</p></body>")
    assert len(big.encode()) < GMAIL_CLIP_BYTES
    found = check_issue(site, replace(record, html=big))
    assert codes(found) == ["gmail-clip"]
    assert found[0].level == "warning"


def test_articles_left_out_are_warnings(site: Site) -> None:
    found = check_issue(site, composed(site), LeftOut(by_lookback=3, by_max_items=1))
    assert [str(f) for f in found] == [
        "warning: 3 articles left out: older than lookback_days (30)",
        "warning: 1 article left out: over max_items (25); they wait for the next issue",
    ]


def test_what_the_next_build_writes_counts_as_there(make_site: MakeSite) -> None:
    # run checks an issue before the build that follows it: its articles' pages and the
    # files in static/ may be new since the last build.
    root = make_site(ARTICLES, extra=NEWSLETTER)
    publish(root)
    (root / "content" / "new.md").write_text(article("New", "2026-11-26 09:00"))
    (root / "static" / "images").mkdir(parents=True)
    (root / "static" / "images" / "map.png").write_bytes(b"\x89PNG")
    site = load(root)
    record = composed(site, note=f"![The map]({SITE_URL}images/map.png)")
    new = [item.link for item in record.items if item.title == "New"]
    assert new and not (site.output_dir / new[0].removeprefix(SITE_URL)).exists()
    assert check_issue(site, record) == []


def test_an_unbuilt_site_is_warned_about_and_its_links_not_checked(make_site: MakeSite) -> None:
    site = load(make_site(ARTICLES, extra=NEWSLETTER))
    note = f"[gone]({SITE_URL}nope/)"
    assert [(f.level, f.code) for f in check_issue(site, composed(site, note=note))] == [
        ("warning", "not-built")
    ]


def test_a_relative_link_is_an_error(site: Site) -> None:
    record = composed(site)
    html = record.html.replace("</body>", '<a href="/about/">About</a></body>')
    found = check_issue(site, replace(record, html=html))
    assert codes(found) == ["relative-link"]
