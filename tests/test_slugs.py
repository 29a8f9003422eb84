"""One rule for the names of tags and authors and the URLs of their pages and feeds
(text.name_key, text.name_slug, the catalog's grouping): names alike but for case and spacing
are one, different names get different slugs or an error naming both, every name has a page,
and the example site's URLs stay as they were."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import unicodedata
from pathlib import Path
from urllib.parse import quote, unquote

import pytest
from click.testing import CliRunner
from golden_site import GOLDEN, PAGES, copy_example
from golden_site import NOW as GOLDEN_NOW
from helpers import (
    NOW,
    NOW_ARG,
    SITE_URL,
    MakeSite,
    article,
    assert_clean_exit,
    errors,
    invoke,
    load,
    publish,
)
from hypothesis import example, given
from hypothesis import strategies as st
from lxml import etree

from feedpub.content.catalog import Catalog
from feedpub.errors import ArticleError
from feedpub.model import Article
from feedpub.newsletter.issues import waiting
from feedpub.site.build import check
from feedpub.store.state import State
from feedpub.text import MAX_SLUG_BYTES, name_key, name_slug, slugify

ATOM = "{http://www.w3.org/2005/Atom}"


def tagged(*tags: str, author: str = "Desk", title: str = "Hello") -> str:
    return article(
        title,
        tags=json.dumps(list(tags), ensure_ascii=False),
        author=json.dumps(author, ensure_ascii=False),
    )


def page(root: Path, path: str) -> str:
    return (root / "public" / path).read_text(encoding="utf-8")


def tag_links(html: str) -> list[tuple[str, str]]:
    """The article page's tag list: (href, text) of each tag, linked or not."""
    tree = etree.HTML(html)
    return [
        (item.get("href") or "", "".join(item.itertext()))
        for item in tree.xpath('//p[contains(@class, "tags")]/*')
    ]


# -- defects ------------------------------------------------------------------------------------


def test_c_plus_plus_c_sharp_and_c_are_three_tags(make_site: MakeSite) -> None:
    root = make_site(
        {
            "plus.md": tagged("C++", title="Plus"),
            "sharp.md": tagged("C#", title="Sharp"),
            "c.md": tagged("C", title="Plain"),
        }
    )
    publish(root)
    headings = {
        slug: etree.HTML(page(root, f"tags/{slug}/index.html")).findtext(".//h1")
        for slug in ("c-plus-plus", "c-sharp", "c")
    }
    assert headings == {"c-plus-plus": "C++", "c-sharp": "C#", "c": "C"}
    feed = json.loads(page(root, "tags/c-plus-plus/feed.json"))
    assert [item["title"] for item in feed["items"]] == ["Plus"]
    assert tag_links(page(root, "2026/11/plus/index.html")) == [
        (f"{SITE_URL}tags/c-plus-plus/", "#C++")
    ]


def test_names_alike_but_for_case_and_spacing_are_one_shown_as_the_most_used(
    make_site: MakeSite,
) -> None:
    root = make_site(
        {
            "one.md": tagged("A B", author="Ana", title="One"),
            "two.md": tagged("a b", author="ana", title="Two"),
            "three.md": tagged("a-b", author="ana", title="Three"),
            "four.md": tagged("a b", author="Ana", title="Four"),
        }
    )
    publish(root)
    folders = sorted(p.name for p in (root / "public" / "tags").iterdir() if p.is_dir())
    assert folders == ["a-b"]
    # "a b" twice, "A B" and "a-b" once each; the authors tie, and "Ana" sorts first.
    assert etree.HTML(page(root, "tags/a-b/index.html")).findtext(".//h1") == "a b"
    assert json.loads(page(root, "tags/a-b/feed.json"))["title"] == "Test Gazette: a b"
    assert sorted(p.name for p in (root / "public" / "authors").iterdir()) == ["ana", "index.html"]
    assert etree.HTML(page(root, "authors/ana/index.html")).findtext(".//h1") == "Ana"
    assert len(json.loads(page(root, "authors/ana/feed.json"))["items"]) == 4


def test_one_article_naming_a_tag_twice_has_it_once(make_site: MakeSite) -> None:
    root = make_site({"a.md": tagged("Python", "python", " PYTHON", author="Ana")})
    publish(root)
    assert tag_links(page(root, "2026/11/a/index.html")) == [(f"{SITE_URL}tags/python/", "#Python")]
    entry = etree.parse(root / "public" / "atom.xml").find(f"{ATOM}entry")
    assert entry is not None
    assert [c.get("term") for c in entry.iter(f"{ATOM}category")] == ["Python"]
    assert json.loads(page(root, "feed.json"))["items"][0]["tags"] == ["Python"]


@pytest.mark.parametrize(
    ("first", "second", "slug"),
    [("a/b", "a b", "a-b"), ("node.js", "node js", "node-js"), ("#python", "python", "python")],
    ids=["slash", "dot", "hash"],
)
def test_different_names_with_one_slug_are_an_error_naming_both_and_their_files(
    make_site: MakeSite, runner: CliRunner, first: str, second: str, slug: str
) -> None:
    root = make_site(
        {
            "x.md": tagged(first, title="X"),
            "y.md": tagged(second, title="Y"),
            "z.md": tagged(second, title="Z"),
        }
    )
    result = invoke(runner, "--site", root, "check", "--now", NOW_ARG)
    assert_clean_exit(result, 1)
    kept, lost = sorted([(first, "content/x.md"), (second, "content/y.md, content/z.md")])
    message = (
        f"tag {lost[0]!r} ({lost[1]}) and tag {kept[0]!r} ({kept[1]}) would share the pages of "
        f"tags/{slug}/; if they are one tag, write them the same way, otherwise rename one"
    )
    assert message in result.output
    with pytest.raises(ArticleError) as failed:
        publish(root)
    assert [p.message for p in errors(failed.value.problems)] == [message]
    assert not (root / "public").exists()


def test_with_keep_going_the_name_that_lost_its_slug_has_no_page_and_no_link(
    make_site: MakeSite,
) -> None:
    root = make_site({"x.md": tagged("a/b", title="X"), "y.md": tagged("a b", title="Y")})
    publish(root, keep_going=True)
    assert etree.HTML(page(root, "tags/a-b/index.html")).findtext(".//h1") == "a b"
    assert tag_links(page(root, "2026/11/y/index.html")) == [(f"{SITE_URL}tags/a-b/", "#a b")]
    assert tag_links(page(root, "2026/11/x/index.html")) == [("", "#a/b")]


def test_folders_alike_but_for_case_are_an_error(make_site: MakeSite) -> None:
    """ "ΟΔΟΣ" is "οδος" (a final sigma), another slug than a misspelt "οδοσ", but Windows and
    macOS would make the two one folder."""
    root = make_site({"x.md": tagged("ΟΔΟΣ", title="X"), "y.md": tagged("οδοσ", title="Y")})
    messages = [p.message for p in errors(check(load(root), NOW).problems)]
    assert messages == [
        "tag 'οδοσ' (content/y.md) and tag 'ΟΔΟΣ' (content/x.md) would share the pages of "
        "tags/οδος/; if they are one tag, write them the same way, otherwise rename one"
    ]


def test_two_authors_with_one_slug_are_an_error(make_site: MakeSite) -> None:
    root = make_site({"x.md": tagged(author="O'Brien"), "y.md": tagged(author="O Brien")})
    problems = errors(check(load(root), NOW).problems)
    assert [p.message.split(" would ")[0] for p in problems] == [
        "author \"O'Brien\" (content/x.md) and author 'O Brien' (content/y.md)"
    ]
    assert problems[0].path == "content/x.md"


@pytest.mark.parametrize(
    ("name", "slug"),
    [
        (".", "full-stop"),
        ("]]>", "right-square-bracket-right-square-bracket-greater-than-sign"),
        ("🎉", "party-popper"),
        ("+", "plus-sign"),
    ],
    ids=["dot", "cdata-end", "emoji", "plus"],
)
def test_a_name_without_letters_keeps_its_page_its_link_and_its_category(
    make_site: MakeSite, name: str, slug: str
) -> None:
    root = make_site({"a.md": tagged(name, author=name)})
    publish(root)
    for kind in ("tags", "authors"):
        assert etree.HTML(page(root, f"{kind}/{slug}/index.html")).findtext(".//h1") == name
        assert json.loads(page(root, f"{kind}/{slug}/feed.json"))["items"]
    assert tag_links(page(root, "2026/11/a/index.html")) == [
        (f"{SITE_URL}tags/{slug}/", f"#{name}")
    ]
    assert json.loads(page(root, "feed.json"))["items"][0]["tags"] == [name]
    listed = etree.HTML(page(root, "tags/index.html")).xpath("//main//li/a/@href")
    assert listed == [f"{SITE_URL}tags/{slug}/"]


@pytest.mark.parametrize(
    ("name", "folder"),
    [("Café", "café"), ("日本語", "日本語"), ("हिन्दी", "हिन्दी"), ("Zoë Okonkwo", "zoë-okonkwo")],
    ids=["latin", "cjk", "devanagari", "diaeresis"],
)
def test_non_ascii_names_keep_readable_folders_linked_percent_encoded(
    make_site: MakeSite, name: str, folder: str
) -> None:
    root = make_site({"a.md": tagged(name, author=name)})
    publish(root)
    href = f"{SITE_URL}tags/{quote(folder)}/"
    assert (root / "public" / "tags" / folder / "index.html").is_file()
    assert tag_links(page(root, "2026/11/a/index.html")) == [(href, f"#{name}")]
    assert etree.HTML(page(root, "tags/index.html")).xpath("//main//li/a/@href") == [href]
    rss = etree.parse(root / "public" / "tags" / folder / "rss.xml")
    assert rss.findtext("channel/link") == href
    assert (root / "public" / "authors" / folder / "feed.json").is_file()


def test_ascii_urls_transliterates_tags_authors_and_articles(make_site: MakeSite) -> None:
    root = make_site(
        {"2026-11-20-café-ouvert.md": tagged("Café", "日本語", "🎉", author="Zoë Okonkwo")},
        extra="ascii_urls = true\n",
    )
    publish(root)
    public = root / "public"
    assert (public / "2026" / "11" / "cafe-ouvert" / "index.html").is_file()
    assert sorted(p.name for p in (public / "tags").iterdir() if p.is_dir()) == [
        "cafe",
        "ribenyu",
        "tada",
    ]
    assert (public / "authors" / "zoe-okonkwo" / "index.html").is_file()
    hrefs = [href for href, _ in tag_links(page(root, "2026/11/cafe-ouvert/index.html"))]
    assert hrefs == [f"{SITE_URL}tags/{slug}/" for slug in ("cafe", "ribenyu", "tada")]
    for path in public.rglob("*"):
        assert str(path.relative_to(public)).isascii(), path


def test_ascii_urls_makes_names_alike_in_ascii_an_error(make_site: MakeSite) -> None:
    root = make_site(
        {"x.md": tagged("café", title="X"), "y.md": tagged("cafe", title="Y")},
        extra="ascii_urls = true\n",
    )
    messages = [p.message for p in errors(check(load(root), NOW).problems)]
    assert len(messages) == 1 and "tags/cafe/" in messages[0]


@pytest.mark.parametrize(
    ("extra", "env", "message"),
    [
        (
            'ascii_urls = "yes"\n',
            None,
            "feedpub.toml:8: error: [site] ascii_urls must be true or false, not a string",
        ),
        (
            "",
            {"FEEDPUB_SITE_ASCII_URLS": "maybe"},
            "environment variable FEEDPUB_SITE_ASCII_URLS: error: [site] ascii_urls must be "
            "true or false",
        ),
    ],
    ids=["toml-string", "environment"],
)
def test_ascii_urls_is_a_boolean_checked_at_load(
    make_site: MakeSite,
    runner: CliRunner,
    extra: str,
    env: dict[str, str | None] | None,
    message: str,
) -> None:
    root = make_site({}, extra=extra)
    result = invoke(runner, "--site", root, "check", env=env)
    assert_clean_exit(result, 1)
    assert result.output.splitlines()[0] == message


def test_the_newsletter_picks_tags_by_name_not_by_slug(make_site: MakeSite) -> None:
    extra = '[newsletter]\nname = "N"\ntags = ["C++", "School Board"]\n'
    root = make_site(
        {
            "c.md": tagged("C", title="Plain C"),
            "plus.md": tagged("c++", title="Plus"),
            "board.md": tagged("school-board", title="Board"),
        },
        extra=extra,
    )
    site = load(root)
    catalog = check(site, NOW)
    with State.open(site.state_dir) as state:
        chosen = waiting(site, state, catalog, NOW)
    assert sorted(a.title for a in chosen) == ["Board", "Plus"]


# -- the example site ------------------------------------------------------------------------


def test_the_example_sites_tag_and_author_urls_are_unchanged(tmp_path: Path) -> None:
    """The example site's tags and authors have the folders the golden pages hold, and every
    name on it, scheduled ones too, the slug slugify gave it before this rule."""
    site = copy_example(tmp_path / "site")
    catalog = check(site, GOLDEN_NOW)
    for kind in ("tags", "authors"):
        golden = sorted(p.name for p in (GOLDEN / PAGES / kind).iterdir() if p.is_dir())
        assert [g.slug for g in catalog.grouping(kind).groups] == golden
    later = check(site, GOLDEN_NOW.replace(year=2040))
    names = [g.name for g in [*later.tags, *later.authors]]
    assert len(names) > len(catalog.tags) + len(catalog.authors)
    assert [name_slug(n) for n in names] == [slugify(n) for n in names]


# -- properties ----------------------------------------------------------------------------------

# Names as editors write them: words in several scripts, separators, the symbols that matter
# (C++, C#), punctuation, emoji, combining marks, and characters Windows refuses in file names.
_PIECES = st.sampled_from(
    [
        *"abcxyzABCXYZ019",
        "é",
        "e\u0301",
        "ß",
        "İ",
        "Σ",
        "ς",
        "日本",
        "हि",
        "्",
        "ไท",
        "ี่",
        "ع",
        "ك",
        " ",
        "  ",
        "-",
        "_",
        "\t",
        *"+#./\\:*?\"<>|'&@!$%()[]{}",
        "]]>",
        "🎉",
        "👍🏽",
        "\u200d",
        "\ufe0f",
        "con",
        "NUL",
        "lpt1",
        "Ⅻ",
        "ﬁ",
        "x" * 79,
    ]
)
NAMES = st.lists(_PIECES, min_size=1, max_size=8).map("".join) | st.text(min_size=1, max_size=90)
# What Windows refuses in a file or folder name (besides control characters).
_WINDOWS_REFUSES = set('<>:"/\\|?*')
_WINDOWS_RESERVED = {"con", "prn", "aux", "nul"} | {
    f"{d}{n}" for d in ("com", "lpt") for n in (*"0123456789", "¹", "²", "³")
}


def _respelled(name: str, data: st.DataObject) -> str:
    """``name`` in other case, with other spaces, hyphens and underscores between its words."""
    gaps = st.sampled_from([" ", "-", "_", "  ", " - ", "\t"])
    words = name.replace("_", " ").replace("-", " ").split()
    cased = [data.draw(st.sampled_from([w, w.upper(), w.lower(), w.title()])) for w in words]
    joined = cased[0] if cased else ""
    for word in cased[1:]:
        joined += data.draw(gaps) + word
    return data.draw(st.sampled_from(["", " ", "-"])) + joined


@given(NAMES, st.booleans(), st.data())
@example("Straße", False, None)
def test_names_the_rule_calls_one_share_their_slug(
    name: str, ascii_only: bool, data: st.DataObject | None
) -> None:
    others = [name.upper(), name.lower(), f" {name} "]
    if data is not None:
        others.append(_respelled(name, data))
    for other in others:
        if name_key(other) == name_key(name):
            assert name_slug(other, ascii_only) == name_slug(name, ascii_only)


@given(st.lists(NAMES, min_size=2, max_size=6), st.booleans())
@example(["C++", "C#", "C", "c"], False)
@example(["a/b", "a b", "A B"], False)
@example([".", "]]>", "🎉", "+", "#"], False)
@example(["café", "cafe", "Café"], True)
@example(["ΟΔΟΣ", "οδοσ", "ǅ", "ǆ"], False)
@example(["C++", "c plus plus", "c+ plus"], False)
def test_names_the_rule_calls_distinct_never_share_a_page(
    names: list[str], ascii_only: bool
) -> None:
    """Each name has exactly one group; different names are in different groups or are an
    error that names both, and no two groups share a slug."""
    articles = [
        Article(
            source=f"/s/{i}.md",
            relpath=f"content/{i}.md",
            title="T",
            date=NOW,
            body="",
            body_format="markdown",
            content_hash="",
            tags=(n,),
        )
        for i, n in enumerate(names)
    ]
    grouping = Catalog(articles=articles, ascii_urls=ascii_only).grouping("tags")
    # Distinct on a file system that ignores case, too (Windows, macOS).
    folders = [g.slug.upper().casefold() for g in grouping.groups]
    assert len(folders) == len(set(folders))
    shown = {name_key(g.name): g.slug for g in grouping.groups}
    lost = {name_key(c.lost): c for c in grouping.clashes}
    keys = {name_key(n) for n in names}
    assert set(shown) | set(lost) == keys and not set(shown) & set(lost)
    for key, clash in lost.items():
        assert name_key(clash.kept) in shown and name_key(clash.kept) != key
        assert shown[name_key(clash.kept)] == clash.slug
        folder = name_slug(clash.lost, ascii_only).upper().casefold()
        assert clash.slug.upper().casefold() == folder
    for key, slug in shown.items():
        assert all(name_slug(n, ascii_only) == slug for n in names if name_key(n) == key)


@given(NAMES, st.booleans())
@example("CON", False)
@example("lpt¹", False)
@example("a" * 300, False)
@example("\U0001d518" * 100, False)  # four bytes each in UTF-8
@example("...", False)
@example("\udcff\udc80", False)  # bytes that were not UTF-8, as the readers keep them
def test_slugs_are_valid_path_segments_on_linux_macos_and_windows(
    name: str, ascii_only: bool
) -> None:
    slug = name_slug(name, ascii_only)
    assert slug and slug not in {".", ".."}
    assert len(slug.encode("utf-8")) <= MAX_SLUG_BYTES  # ext4, APFS: bytes; NTFS: UTF-16 units
    assert len(slug.encode("utf-16-le")) // 2 <= 255
    assert not _WINDOWS_REFUSES & set(slug)
    assert all(unicodedata.category(c)[0] != "C" for c in slug)  # controls, format, unassigned
    assert not slug.endswith((".", " ")) and not slug.startswith(" ")
    assert slug.split(".")[0].lower() not in _WINDOWS_RESERVED
    # macOS stores names decomposed: a name already composed stays the one a link names.
    assert unicodedata.normalize("NFC", slug) == slug
    assert unquote(quote(slug)) == slug
    if ascii_only:
        assert slug.isascii()


@given(NAMES)
def test_a_name_keeps_the_slug_slugify_gave_it_unless_the_rule_changed_it(name: str) -> None:
    """Existing URLs stay: only names with "+" or "#", with combining marks, without a letter
    or digit, or reserved by Windows get another slug than before."""
    old = slugify(name)
    changed_class = (
        not old
        or old in _WINDOWS_RESERVED
        or any(c in "+#" for c in name)
        or any(unicodedata.category(c)[0] == "M" for c in name_key(name))
    )
    if not changed_class:
        assert name_slug(name) == old


def test_slugs_are_the_same_in_another_process(tmp_path: Path) -> None:
    """No slug depends on the process (hash randomisation, the order a set is walked in)."""
    names = ["C++", "C#", "café", "日本語", "🎉", "]]>" * 20, " ", "CON", "a/b", "हिन्दी", "x" * 200]
    here = [[name_slug(n, a) for a in (False, True)] for n in names]
    code = (
        "import json, sys; from feedpub.text import name_slug; "
        "print(json.dumps([[name_slug(n, a) for a in (False, True)] "
        "for n in json.loads(sys.stdin.read())]))"
    )
    for seed in ("1", "2"):
        child = subprocess.run(
            [sys.executable, "-c", code],
            input=json.dumps(names),
            capture_output=True,
            text=True,
            check=True,
            env={**os.environ, "PYTHONHASHSEED": seed},
        )
        assert json.loads(child.stdout) == here


def test_building_twice_makes_the_same_tag_folders(make_site: MakeSite) -> None:
    names = ["C++", "c#", "🎉", ".", "Zoë", "a b", "A-B"]
    root = make_site({f"{i}.md": tagged(n, title=f"T{i}") for i, n in enumerate(names)})
    publish(root)
    first = sorted(p.name for p in (root / "public" / "tags").iterdir())
    (root / "public").rename(root / "old")
    (root / ".feedpub").rename(root / "old-state")
    publish(root)
    assert sorted(p.name for p in (root / "public" / "tags").iterdir()) == first


def test_turning_on_ascii_urls_reads_cached_articles_again(make_site: MakeSite) -> None:
    """An article's slug is kept in the content cache: the setting is part of what a cached
    reading depends on."""
    root = make_site({"2026-11-20-café.md": tagged("Café", author="Zoë")})
    publish(root)
    assert (root / "public" / "2026" / "11" / "café" / "index.html").is_file()
    settings = root / "feedpub.toml"
    settings.write_text(settings.read_text(encoding="utf-8") + "ascii_urls = true\n", "utf-8")
    publish(root)
    public = root / "public"
    assert (public / "2026" / "11" / "cafe" / "index.html").is_file()
    assert not (public / "2026" / "11" / "café").exists()
    assert sorted(p.name for p in (public / "tags").iterdir()) == ["cafe", "index.html"]
    assert (public / "authors" / "zoe" / "index.html").is_file()


def test_a_quick_rebuild_links_tags_as_the_full_build_does(make_site: MakeSite) -> None:
    """A body edit is rebuilt from the last build's record, without the catalog: the edited
    page's tag links are the full build's (slugs are the names' own)."""
    later = NOW.replace(hour=13)
    tags = json.dumps(["C++", "Café", "🎉"], ensure_ascii=False)

    def text(body: str) -> str:
        return article("A", tags=tags, author="Zoë", body=f"The lead.\n\n{body}")

    others = {"b.md": tagged("c", "café", title="B")}
    root = make_site({"a.md": text("Body."), **others}, extra="ascii_urls = true\n")
    publish(root)
    (root / "content" / "a.md").write_text(text("Edited body."), "utf-8")
    quick = publish(root, later)
    assert quick.path == "quick"
    full = make_site(
        {"a.md": text("Edited body."), **others}, extra="ascii_urls = true\n", folder="full"
    )
    publish(full, later)
    edited = page(root, "2026/11/a/index.html")
    assert edited == page(full, "2026/11/a/index.html")
    assert tag_links(edited) == [
        (f"{SITE_URL}tags/{slug}/", f"#{name}")
        for slug, name in (("c-plus-plus", "C++"), ("cafe", "Café"), ("tada", "🎉"))
    ]


def test_feedpub_new_with_ascii_urls_names_the_file_in_ascii(
    make_site: MakeSite, runner: CliRunner
) -> None:
    root = make_site({}, extra="ascii_urls = true\n")
    result = invoke(runner, "--site", root, "new", "Café ouvert", "--tag", "Café")
    assert_clean_exit(result, 0)
    assert [p.name[11:] for p in (root / "content").iterdir()] == ["cafe-ouvert.md"]
