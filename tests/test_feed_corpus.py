"""A corpus of hostile articles builds, and every feed it writes passes the W3C Feed Validation
Service's checks: the site's, every tag's and author's, and the issues feed, in RSS, Atom and
JSON.

The checks are tests/test_feeds.py's check_rss(), check_atom() and check_json(), which write out
the validator's rules as assertions (it is not on a registry, so the tests cannot run it). The
only warnings they let through are the author's own HTML in a body (a <script>, an onclick, an
<iframe>, HTML the validator cannot parse): feedpub passes an author's HTML on as written, and
assert_author_html() says which of the validator's warnings that HTML would raise, so a test
can tell those from ours. The README's "What the validator may still say" lists them.

Each case is a small site of its own (one or a few articles, one newsletter issue); the whole
corpus is also built as one site, where tags and authors of different cases meet.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from feed_checks import CHECKS, FORMATS, VALIDATORS, Feed, Item, feed_folders, q
from helpers import NEWSLETTER, NOW, SETTINGS, SITE_URL, load

from feedpub import run
from feedpub.errors import ArticleError


@dataclass(frozen=True)
class Case:
    """Articles (file name -> text or bytes) for one site, that site's timezone, and the
    validator's warnings that the author's own writing in them raises (AUTHOR_KINDS)."""

    articles: dict[str, str | bytes]
    timezone: str = "Europe/Berlin"
    raises: frozenset[str] = frozenset()
    published: int | None = None  # how many are in the main feed (None: all)
    # The bad value may be refused instead, as an error naming its file and line (the fix of
    # issue 14's items 4 and 5 may take either way); then no feed is checked.
    may_refuse: bool = False
    # The case must be refused, with an error saying this (two names that would share a URL).
    refused_with: str = ""


def post(
    title: str,
    body: str = "The body.",
    date: str = "2026-11-20 09:00",
    *,
    author: str | None = None,
    tags: tuple[str, ...] = ("hostile",),
    summary: str | None = None,
    crlf: bool = False,
    prefix: bytes = b"",
    raw: tuple[tuple[str, bytes], ...] = (),
    front: dict[str, str] | None = None,
) -> bytes:
    """An article file: ``title`` (as written in YAML, quoted here) is also its author, first
    tag and summary unless those are given; ``front`` adds front matter; ``raw`` replaces
    placeholders by raw bytes."""
    lines = [
        "---",
        f"title: {q(title)}",
        f"date: {date}",
        f"author: {q(author if author is not None else title)}",
        f"tags: [{', '.join(q(t) for t in (title, *tags) if t)}]",
        f"summary: {q(summary if summary is not None else title)}",
        *(f"{key}: {value}" for key, value in (front or {}).items()),
        "---",
        "",
        body,
        "",
    ]
    text = "\n".join(lines)
    if crlf:
        text = text.replace("\n", "\r\n")
    data = prefix + text.encode("utf-8")
    for placeholder, raw_bytes in raw:
        data = data.replace(placeholder.encode("utf-8"), raw_bytes)
    return data


def one(
    title: str,
    body: str = "The body.",
    raises: frozenset[str] = frozenset(),
    *,
    may_refuse: bool = False,
    date: str = "2026-11-20 09:00",
    author: str | None = None,
    summary: str | None = None,
    **extra: str,
) -> Case:
    """A case of one article (see post())."""
    article = post(title, body, date, author=author, summary=summary, front=extra)
    return Case({"post.md": article}, raises=raises, may_refuse=may_refuse)


# The author's HTML end tags in a title, name or tag: the RSS <title> and Atom <name> have no
# way to say "text" but the hexadecimal references, which this check does not look at.
END_TAGS_IN_TEXT = frozenset({"ContainsHTML", "ContainsUndeclaredHTML"})


CORPUS: dict[str, Case] = {
    # --- characters XML cannot carry, and bytes that are not UTF-8 -----------------------------
    "control-characters": one(
        "Bell\x07 rings\x01\x1b here\x7f",
        "Null\x00 vertical\x0b form\x0c escape\x1b C1\x85\x9f end.",
    ),
    # The body's own HTML holds "&#0;": the validator's html5lib reports NotHtml (the author's
    # HTML, passed on as written); lxml, which these checks parse with, says nothing.
    "yaml-escaped-controls": Case(
        {
            "post.md": (
                b'---\ntitle: "Bell\\a rings\\x01 here\\e \\x85 \\x9f"\ndate: 2026-11-20 09:00\n'
                b'author: "Ann\\x0c Lee"\ntags: ["tab\\x0bbed", hostile]\n'
                b'summary: "sum\\x1bmary"\n---\n\nform&#12;feed &#x85; &#159; in Markdown\n\n'
                b"<p>raw &#12; &#0; HTML</p>\n"
            )
        }
    ),
    # The author's "<![CDATA[" in the body: NotHtml from html5lib too, as above.
    "cdata-end": one("Ends ]]> here", "Text ]]> more\n\n```\n]]>\n```\n\n<![CDATA[ x ]]>"),
    "byte-order-marks": Case(
        {
            "post.md": post(
                "\ufeffMarked \ufeffwords", "\ufeffBody \ufeff text.", prefix=b"\xef\xbb\xbf"
            )
        }
    ),
    "crlf": Case({"post.md": post("Windows line ends", "One\ntwo.\n\nThree\rfour.", crlf=True)}),
    "invalid-utf-8": Case(
        {
            "post.md": post(
                "Caf@E9@ au lait @FF@",
                "Bad @C328@ bytes @EDA080@ here.",
                raw=(
                    ("@E9@", b"\xe9"),
                    ("@FF@", b"\xff"),
                    ("@C328@", b"\xc3\x28"),
                    ("@EDA080@", b"\xed\xa0\x80"),
                ),
            )
        }
    ),
    "right-to-left": one("مرحبا \u202eevil\u202c שלום", "نص عربي \u200f and עברית \u2067x."),
    "astral": one("Party 🎉 𝄞 𠀀 time", "Cake 🎂🏳️‍🌈 and \U0001d54f (double-struck X)."),
    "noncharacters": one("Not \ufffe a \uffff char \U0001fffe", "Body \ufdd0 \U0010ffff."),
    "c1-as-text": one("Smart quotes \u0093here\u0094 \u0085", "Windows-1252 in \u0080 Unicode."),
    "whitespace-only-summary": one("Blank summary", "Body.", summary=" "),
    "long-text": one("L" * 199, "word " * 20000, summary="S" * 1999, author="A" * 199),
    # --- titles and summaries are text (items 1 and 2) ------------------------------------------
    "details-title": one("Use <details> for FAQs", summary="Use the &lt;details&gt; element"),
    "script-title": one("<script>alert('x')</script> News", raises=END_TAGS_IN_TEXT),
    "entity-title": one("Tom &amp; Jerry &lt;3 &#169;"),
    "markup-title": one("A <b>bold</b> & <i>brave</i> move </p>", raises=END_TAGS_IN_TEXT),
    "backslash-title": one("Ends with a backslash \\"),
    "markdown-title": one("`code` *stars* [a](link) ![img](x.png) <https://x.example/>"),
    "comment-title": one("<!-- hidden --> shown"),
    "mail-in-title": one("Write to <ed@example.org>", author="Desk"),
    # --- the author's own HTML in a body: kept as written ----------------------------------------
    "script-body": one(
        "Script in the body",
        "<script>alert('x')</script>\n\n<b onmouseover=\"alert(1)\">hi</b>\n\n"
        '<iframe src="https://video.example/embed"></iframe>\n\n'
        '<a href="javascript:alert(1)">js</a>\n\n<p style="position: fixed">styled</p>',
        raises=frozenset({"SecurityRisk", "SecurityRiskAttr", "DangerousStyleAttr"}),
    ),
    # The validator's HTML parser (html5lib) reports NotHtml on these bodies; lxml, which
    # these checks parse with, mends them without a word.
    "other-schemes-body": one(
        "Mail and phone links",
        "[mail](mailto:ed@example.org) [call](tel:+49301234) [js](javascript:void(0))",
    ),
    "broken-html-body": one("Broken HTML", "<div><p>unclosed <b>tags\n\n<table><td>cell"),
    "unknown-element-body": one(
        "Made-up element",
        "<blink>old</blink> <custom-card>new</custom-card>",
        raises=frozenset({"NotHtml"}),
    ),
    # --- dates: the edges of time, every zone ---------------------------------------------------
    "epoch": Case(
        {
            "epoch.md": post("The epoch", date="1970-01-01T00:00:00Z"),
            "now.md": post("This week", date="2026-11-20 09:00"),
        },
        raises=frozenset({"ImplausibleDate"}),
    ),
    "year-2099": Case(
        {
            "later.md": post("Far ahead", date="2099-12-31T23:59:59+14:00"),
            "now.md": post("This week", date="2026-11-20 09:00"),
        },
        published=1,
    ),
    "updated-2099": one(
        "Updated later", updated="2099-12-31 23:59", raises=frozenset({"ImplausibleDate"})
    ),
    "same-minute": Case(
        {
            "a.md": post("Twins one", date="2026-11-20"),
            "b.md": post("Twins two", date="2026-11-20"),
        },
        raises=frozenset({"DuplicateUpdated"}),
    ),
    "zones": Case(
        {
            f"zone-{n}.md": post(f"Zone {n}: {zone}", date=f"2026-11-{10 + n:02d}T12:00:00{zone}")
            for n, zone in enumerate(
                ["-12:00", "-09:30", "-00:00", "+00:00", "+05:30", "+09:30", "+14:00"]
            )
        }
    ),
    # The validator takes RFC 822 zones whose minutes are 00 or 30 only.
    "zone-odd-minutes": Case(
        {
            "kathmandu.md": post("Kathmandu", date="2026-11-20T09:00:00+05:45"),
            "chatham.md": post("Chatham", date="2026-11-19T09:00:00+12:45"),
        }
    ),
    "site-zone-kiritimati": Case(
        {"post.md": post("Line Islands", date="2026-11-20 09:00")}, timezone="Pacific/Kiritimati"
    ),
    "site-zone-baker": Case(
        {"post.md": post("Baker Island", date="2026-11-20 09:00")}, timezone="Etc/GMT+12"
    ),
    "site-zone-chatham": Case(
        {"post.md": post("Chatham", date="2026-11-20 09:00")}, timezone="Pacific/Chatham"
    ),
    # --- links in bodies (item 3) ----------------------------------------------------------------
    "relative-urls": one(
        "Relative URLs",
        '<img src="a.png" srcset="a.png 1x, b.png 2x">\n\n'
        '<picture><source srcset="c.webp" type="image/webp"><img src="c.png"></picture>\n\n'
        '<video poster="p.jpg"><source src="v.mp4"></video>\n\n'
        '<audio src="s.mp3"></audio>\n\n<object data="o.svg"></object>\n\n'
        '<form action="send"></form>\n\n<div style="background: url(bg.png)">x</div>',
        # The author's <object> and a style with url() (SecurityRisk, DangerousStyleAttr).
        raises=frozenset({"SecurityRisk", "DangerousStyleAttr"}),
    ),
    # --- images (item 4) and ids (item 5) --------------------------------------------------------
    "image-javascript": one("Script image", image=q("javascript:alert(1)"), may_refuse=True),
    "image-space-quote": one("Odd image", image=q('my "best" photo.png'), may_refuse=True),
    "id-invalid-tag": one("Bad tag id", id=q("tag:example.org,2026:<x>&y"), may_refuse=True),
    "id-tag": one("Good tag id", id=q("tag:news.example.org,2026-11-20:good/1")),
    "id-urn-uuid": one("UUID id", id=q("urn:uuid:6f1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d")),
    "id-https": one("URL id", id=q("https://news.example.org/ids/1")),
    "id-not-canonical": one(
        "Shouting id", id=q("HTTPS://News.Example.org:443/ids/./2"), may_refuse=True
    ),
    "id-spaces": one("Spaced id", id=q(" tag:news.example.org,2026:spaced ")),
    # --- tags and authors whose slugs meet (item 6) ----------------------------------------------
    "slug-collisions": Case(
        {
            "a.md": post("Incremented", tags=("c++",), author="Ana"),
            "b.md": post("Sharpened", tags=("c#",), author="ana", date="2026-11-19 09:00"),
            "c.md": post("Plain", tags=("c",), author="Desk", date="2026-11-18 09:00"),
        }
    ),
    # Spelled apart only by case and spacing: one tag.
    "slug-spaces": Case(
        {
            "a.md": post("Hyphen", tags=("a-b",), author="Desk"),
            "b.md": post("Space", tags=("a b",), author="Desk", date="2026-11-19 09:00"),
            "c.md": post("Capitals", tags=("A B",), author="Desk", date="2026-11-18 09:00"),
        }
    ),
    # Two different names for one URL: refused, naming both.
    "slug-clash": Case(
        {
            "a.md": post("Slash", tags=("a/b",), author="Desk"),
            "b.md": post("Space", tags=("a b",), author="Desk", date="2026-11-19 09:00"),
        },
        refused_with="tag 'a/b' (content/a.md) and tag 'a b' (content/b.md) would share the "
        "pages of tags/a-b/",
    ),
    "slug-empty": Case({"post.md": post("Empty slugs", tags=(".", "]]>", "🎉"), author="Desk")}),
    # --- authors, images and empty bodies (item 7) -----------------------------------------------
    "author-with-address": one("Addressed", author="Jane Doe <jane@example.org>"),
    "empty-body": one("Nothing inside", ""),
}


def build_case(root: Path, case: Case, extra: str = "") -> Path:
    """Build the case's site and create one newsletter issue (which builds again, with the
    issues feed); its output folder."""
    (root / "content").mkdir(parents=True)
    settings = SETTINGS.replace('timezone = "Europe/Berlin"', f'timezone = "{case.timezone}"')
    (root / "feedpub.toml").write_text(settings + NEWSLETTER + extra, encoding="utf-8")
    for name, data in case.articles.items():
        path = root / "content" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data if isinstance(data, bytes) else data.encode())
    site = load(root)
    assert run.issue_new(site, NOW).draft is not None
    return site.output_dir


def every_feed(output: Path) -> tuple[dict[tuple[str, str], Feed], set[str]]:
    """Every feed of a build (the site's, each tag's and author's, the issues feed) through
    the validator's checks; what they say, and the author's own warnings that remain."""
    feeds = {}
    raised: set[str] = set()
    for folder in [*feed_folders(output), "issues"]:
        for kind in FORMATS:
            name, check = CHECKS[kind]
            data = (output / folder / name).read_bytes()
            feeds[(folder, kind)] = check(data, folder, SITE_URL)
            raised |= VALIDATORS[kind](data, folder, SITE_URL)
    return feeds, raised


def one_name(name: str) -> str:
    """Names that differ only in case or in the spaces, hyphens and underscores between words
    are one tag or author (README, "Tag and author URLs"): the form they share."""
    return re.sub(r"[\s_-]+", " ", name.lower()).strip()


def assert_groups_hold_their_own(feeds: dict[tuple[str, str], Feed]) -> None:
    """Each tag and author of an article has a feed of its own, titled with its name (in one
    of its spellings), that holds only articles carrying that name (no two names share one
    feed)."""
    # Every article any feed holds (the main feed holds the newest only).
    main = {
        item.id: item
        for (folder, kind), feed in feeds.items()
        if kind == "rss" and folder != "issues"
        for item in feed.items
    }
    groups: list[tuple[str, Callable[[Item], tuple[str, ...]]]] = [
        ("tags/", lambda item: item.tags),
        ("authors/", lambda item: item.authors),
    ]
    for group, names_of in groups:
        titled = {
            one_name(feed.title.removeprefix("Test Gazette: ")): feed
            for (folder, kind), feed in feeds.items()
            if kind == "rss" and folder.startswith(group)
        }
        for item in main.values():
            for name in names_of(item):
                assert one_name(name) in titled, f"{group}{name!r} has no feed"
        for name, feed in titled.items():
            for item in feed.items:
                held = [one_name(n) for n in names_of(main[item.id])]
                assert name in held, f"{group}{name!r} holds {item.title!r}"


def params(cases: dict[str, Case]) -> list[object]:
    return [pytest.param(case, id=name) for name, case in cases.items()]


@pytest.mark.parametrize("case", params(CORPUS))
def test_every_feed_of_a_hostile_case_passes_the_validator_checks(
    tmp_path: Path, case: Case
) -> None:
    try:
        output = build_case(tmp_path / "site", case)
    except ArticleError as refused:
        if case.refused_with:
            assert case.refused_with in str(refused)
            return
        assert case.may_refuse, str(refused)
        assert [p.path for p in refused.problems] == ["content/post.md"], str(refused)
        assert all(p.severity == "error" and p.line >= 1 for p in refused.problems)
        return
    assert not case.refused_with, "built what should have been refused"
    feeds, raised = every_feed(output)
    # Only what the author wrote raises a warning, and exactly the kinds it raises.
    assert raised == case.raises
    main = [feeds[("", kind)] for kind in FORMATS]
    published = len(case.articles) if case.published is None else case.published
    assert [len(feed.items) for feed in main] == [published] * 3
    assert main[0].titles == main[1].titles == main[2].titles
    assert len(feeds[("issues", "rss")].items) == 1
    assert_groups_hold_their_own(feeds)


def test_the_whole_corpus_as_one_site(tmp_path: Path) -> None:
    """Every case at once (those of the site's own timezone): tags and authors of different
    cases meet, and the feeds hold the newest up to the feeds' limit."""
    articles: dict[str, str | bytes] = {}
    raises: set[str] = set()
    for name, case in CORPUS.items():
        # Cases that are (or may be) refused would refuse the whole site.
        if case.timezone == "Europe/Berlin" and not (case.refused_with or case.may_refuse):
            articles.update({f"{name}-{file}": data for file, data in case.articles.items()})
            raises |= case.raises
    raises.add("DuplicateUpdated")  # cases share their articles' dates
    output = build_case(tmp_path / "site", Case(articles), "\n[feeds]\nlimit = 20\n")
    feeds, raised = every_feed(output)
    assert raised <= raises
    limit = load(tmp_path / "site").feeds.limit
    assert len(articles) > limit and len(feeds[("", "json")].items) == limit
    assert_groups_hold_their_own(feeds)
