"""The build as a library: lasting ids, scheduling, the writer, the state, the wheel, the pages."""

from __future__ import annotations

import dataclasses
import html
import json
import os
import random
import re
import shutil
import sqlite3
import stat
import subprocess
import sys
import xml.etree.ElementTree as ET
import zipfile
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urljoin

import html5lib
import pytest
from helpers import ATOM, NOW, REPO, SETTINGS, MakeSite, article, files_of, load, publish

from feedpub import config
from feedpub.config import packaged_templates
from feedpub.content.catalog import content_files
from feedpub.content.readers import is_article_name
from feedpub.errors import ArticleError, ConfigError, FeedpubError, OutputError, StateError
from feedpub.i18n import SHIPPED
from feedpub.model import article_from_row, article_to_row, evolve
from feedpub.site.build import build, check
from feedpub.site.cache import incremental, snapshot
from feedpub.site.writer import TEMP_PREFIX, Trees, Writer, WriteReport
from feedpub.store import cache
from feedpub.store.state import SCHEMA_VERSION, State
from feedpub.text import _NOT_XML

LATER = NOW + timedelta(days=1)


def feed_ids(output: Path) -> dict[str, str]:
    """Title -> feed id, read from atom.xml; RSS and JSON Feed must carry the same ids."""
    atom = ET.parse(output / "atom.xml").getroot()
    ids = {
        entry.findtext(f"{ATOM}title", ""): entry.findtext(f"{ATOM}id", "")
        for entry in atom.iter(f"{ATOM}entry")
    }
    rss = ET.parse(output / "rss.xml").getroot()
    assert {i.findtext("title", ""): i.findtext("guid", "") for i in rss.iter("item")} == ids
    items = json.loads((output / "feed.json").read_text(encoding="utf-8"))["items"]
    assert {item["title"]: item["id"] for item in items} == ids
    return ids


def write(root: Path, name: str, text: str) -> Path:
    path = root / "content" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def state_rows(root: Path) -> list[tuple[str, str, str]]:
    db = sqlite3.connect(root / ".feedpub" / "state.db")
    try:
        return db.execute("SELECT id, path, title FROM articles ORDER BY path").fetchall()
    finally:
        db.close()


# -- identity ----------------------------------------------------------------------------------

HTTP_SETTINGS = SETTINGS.replace("https://news.example.org/", "http://news.example.org/")
HELLO = article("Hello", body="The first body.")
OTHER = article("Other", date="2026-11-21 09:00", body="Another body.")


def rename(root: Path) -> str:
    (root / "content" / "2026-11-20-hello.md").rename(root / "content" / "2026-11-20-greeting.md")
    return "Hello"


def move_to_folder(root: Path) -> str:
    (root / "content" / "2026").mkdir()
    (root / "content" / "2026-11-20-hello.md").rename(root / "content" / "2026" / "hello.md")
    return "Hello"


def retitle(root: Path) -> str:
    write(root, "2026-11-20-hello.md", article("Hello, world", body="The first body."))
    return "Hello, world"


def edit_body(root: Path) -> str:
    write(root, "2026-11-20-hello.md", article("Hello", body="The first body, corrected."))
    return "Hello"


def move_to_https(root: Path) -> str:
    (root / "feedpub.toml").write_text(SETTINGS, encoding="utf-8")
    return "Hello"


def rename_and_retitle(root: Path) -> str:
    """Beyond one change: the unchanged body still recognises the article."""
    rename(root)
    write(root, "2026-11-20-greeting.md", article("Greetings", body="The first body."))
    return "Greetings"


def rename_and_edit_body(root: Path) -> str:
    """Beyond one change: the unchanged title and date still recognise the article."""
    rename(root)
    write(root, "2026-11-20-greeting.md", article("Hello", body="A new body."))
    return "Hello"


CHANGES: list[Callable[[Path], str]] = [
    rename,
    move_to_folder,
    retitle,
    edit_body,
    move_to_https,
    rename_and_retitle,
    rename_and_edit_body,
]


@pytest.mark.parametrize("change", CHANGES, ids=[c.__name__ for c in CHANGES])
def test_id_survives_the_change(make_site: MakeSite, change: Callable[[Path], str]) -> None:
    root = make_site(
        {"2026-11-20-hello.md": HELLO, "2026-11-21-other.md": OTHER}, settings=HTTP_SETTINGS
    )
    publish(root)
    before = feed_ids(root / "public")
    assert before["Hello"].startswith("urn:uuid:")
    assert before["Hello"] != before["Other"]

    title = change(root)
    publish(root)
    after = feed_ids(root / "public")
    assert after == {title: before["Hello"], "Other": before["Other"]}
    # ... and for good: the state now knows the article under its new name.
    publish(root)
    assert feed_ids(root / "public") == after


def test_new_article_gets_its_own_id_next_to_a_renamed_one(make_site: MakeSite) -> None:
    root = make_site({"2026-11-20-hello.md": HELLO})
    publish(root)
    (first,) = feed_ids(root / "public").values()
    rename(root)
    write(root, "2026-11-22-fresh.md", article("Fresh", date="2026-11-22", body="New."))
    publish(root)
    ids = feed_ids(root / "public")
    assert ids["Hello"] == first
    assert ids["Fresh"] not in {first, ""}


EXPLICIT = "6f1c9a52-3c57-4d8e-a7c4-1d9f3f0b2e11"


@pytest.mark.parametrize(
    ("written", "expected"),
    [
        (EXPLICIT, f"urn:uuid:{EXPLICIT}"),
        ("tag:news.example.org,2026:hello", "tag:news.example.org,2026:hello"),
    ],
    ids=["uuid", "tag-uri"],
)
def test_explicit_id_wins(make_site: MakeSite, written: str, expected: str) -> None:
    root = make_site({"2026-11-20-hello.md": HELLO})
    publish(root)
    (derived,) = feed_ids(root / "public").values()
    assert derived != expected
    write(root, "2026-11-20-hello.md", article("Hello", body="The first body.", id=written))
    publish(root)
    assert feed_ids(root / "public") == {"Hello": expected}
    # Renamed and retitled at once: the explicit id still holds.
    (root / "content" / "2026-11-20-hello.md").unlink()
    write(root, "elsewhere.md", article("Renamed", body="Other.", id=written))
    publish(root)
    assert feed_ids(root / "public") == {"Renamed": expected}


def test_same_id_twice_is_an_error_naming_both(make_site: MakeSite) -> None:
    root = make_site(
        {
            "a.md": article("A", id=EXPLICIT),
            "news/b.md": article("B", id=EXPLICIT),
        }
    )
    with pytest.raises(ArticleError) as raised:
        publish(root)
    (problem,) = raised.value.problems
    assert str(problem) == (
        f"content/news/b.md:1: error: same id as content/a.md (urn:uuid:{EXPLICIT}); "
        "give one of them a new id"
    )
    assert not (root / "public").exists()


def test_clashing_pages_are_an_error_naming_both(make_site: MakeSite) -> None:
    root = make_site(
        {
            "one/2026-11-20-notice.md": article("Notice one", date="2026-11-20"),
            "two/2026-11-05-notice.md": article("Notice two", date="2026-11-05"),
        }
    )
    with pytest.raises(ArticleError) as raised:
        publish(root)
    (problem,) = raised.value.problems
    assert str(problem) == (
        "content/two/2026-11-05-notice.md:1: error: same page as "
        "content/one/2026-11-20-notice.md (2026/11/notice/index.html); "
        "give one of them another 'slug'"
    )
    assert not (root / "public").exists()


def test_ids_are_recorded_at_build_not_at_check(make_site: MakeSite) -> None:
    root = make_site({"2026-11-20-hello.md": HELLO})
    site = load(root)
    catalog = check(site, NOW)
    assert [a.title for a in catalog.articles] == ["Hello"]
    assert not (root / ".feedpub").exists()

    build(site, NOW)
    ids = feed_ids(root / "public")
    assert state_rows(root) == [(ids["Hello"], "content/2026-11-20-hello.md", "Hello")]

    write(root, "2026-11-21-other.md", OTHER)
    assert [a.title for a in check(site, NOW).articles] == ["Other", "Hello"]
    assert state_rows(root) == [(ids["Hello"], "content/2026-11-20-hello.md", "Hello")]


def test_state_file_is_private_and_versioned(make_site: MakeSite) -> None:
    root = make_site({"2026-11-20-hello.md": HELLO})
    publish(root)
    path = root / ".feedpub" / "state.db"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    db = sqlite3.connect(path)
    try:
        assert db.execute("PRAGMA user_version").fetchone() == (SCHEMA_VERSION,)
        tables = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    finally:
        db.close()
    assert {"articles", "outputs", "issues", "issue_articles"} <= tables


# -- scheduling --------------------------------------------------------------------------------


def test_future_article_appears_when_due_and_drafts_never(make_site: MakeSite) -> None:
    root = make_site(
        {
            "2026-11-20-hello.md": HELLO,
            "2026-12-01-soon.md": article("Soon", date="2026-12-01 08:00"),
            "2026-11-19-draft.md": article("Draft", date="2026-11-19", draft="true"),
        }
    )
    report = publish(root, NOW)
    assert (report.articles, report.scheduled, report.drafts) == (1, 1, 1)
    assert set(feed_ids(root / "public")) == {"Hello"}
    assert not (root / "public" / "2026" / "12").exists()

    report = publish(root, datetime(2026, 12, 1, 8, 0, tzinfo=NOW.tzinfo))
    assert (report.articles, report.scheduled, report.drafts) == (2, 0, 1)
    assert set(feed_ids(root / "public")) == {"Hello", "Soon"}
    assert (root / "public" / "2026" / "12" / "soon" / "index.html").is_file()

    publish(root, NOW + timedelta(days=3650))
    assert "Draft" not in feed_ids(root / "public")
    assert not (root / "public" / "2026" / "11" / "draft").exists()


def test_a_build_after_one_with_a_later_now_notices_the_clock_went_back(
    make_site: MakeSite,
) -> None:
    """``build --now 2031-06-01`` then ``build``: the second build does not stop at the file
    metadata (nothing changed) as if the clock were the first's; it reads the catalog as of its
    own clock, as check and status do, and says the clock went back."""
    root = make_site(
        {"2026-11-20-hello.md": HELLO, "2031-05-15-letter.md": article("Letter", "2031-05-15")}
    )
    publish(root, NOW)
    ahead = publish(root, datetime(2031, 6, 1, tzinfo=NOW.tzinfo))
    assert (ahead.articles, ahead.scheduled) == (2, 0)
    back = publish(root, NOW)
    assert back.path == "full"
    assert [(p.path, p.severity) for p in back.problems] == [(".feedpub/state.db", "warning")]
    assert "before the last build's 2031-06-01T00:00+02:00" in back.problems[0].message
    checked = check(load(root), NOW)
    counts = (len(checked.articles), len(checked.scheduled))
    assert (back.articles, back.scheduled) == counts
    assert set(feed_ids(root / "public")) == {a.title for a in checked.articles}
    # Told once: the clock it went back to is now the last build's, and the warning was of
    # that build's moment, not of a file that still has it.
    again = publish(root, NOW)
    assert (again.path, again.problems, again.warned_before) == ("unchanged", [], 0)


# -- the writer --------------------------------------------------------------------------------

SITE_ARTICLES = {
    "2026-11-20-hello.md": article("Hello", tags="[news, sport]"),
    "2026-11-21-other.md": article("Other", date="2026-11-21", author="Ann"),
}


def test_building_twice_writes_nothing_the_second_time(make_site: MakeSite) -> None:
    root = make_site(SITE_ARTICLES)
    output = root / "public"
    first = publish(root)
    files = files_of(output)
    assert first.written == len(files) > 10
    assert (first.unchanged, first.removed) == (0, 0)

    old = 1_000_000_000
    for name in files:
        os.utime(output / name, (old, old))
    second = publish(root, LATER)
    assert (second.written, second.unchanged, second.removed) == (0, len(files), 0)
    assert files_of(output) == files
    assert {name: (output / name).stat().st_mtime for name in files} == dict.fromkeys(files, old)


# What a build with nothing to do must not import: each takes milliseconds of a run that has
# under half a second, at 10,000 articles, for everything. (The build's own modules, feeds and
# pages among them, are imported at its top; the libraries they render with are named here.)
NOT_FOR_NOTHING = (
    "cmarkgfm",
    "cssutils",
    "email.utils",
    "feedgen",
    "markupsafe",
    "feedpub.content.readers.markdown",
    "feedpub.scaffold",
    "jinja2",
    "lxml",
    "multiprocessing",
    "premailer",
    "yaml",
)


def heavy_modules_a_build_loads(root: Path) -> set[str]:
    """Which of NOT_FOR_NOTHING a build of ``root``, in a process of its own, loads."""
    script = (
        "import sys, feedpub.cli\n"
        "feedpub.cli.main(['--site', sys.argv[1], '-q', 'build'], standalone_mode=False)\n"
        "print(' '.join(n for n in sys.argv[2:] if n in sys.modules))\n"
    )
    command = [sys.executable, "-c", script, str(root), *NOT_FOR_NOTHING]
    done = subprocess.run(command, capture_output=True, text=True, check=True, cwd=root)
    return set(done.stdout.split())


def test_a_build_with_nothing_to_do_imports_none_of_the_heavy_modules(
    make_site: MakeSite,
) -> None:
    root = make_site(SITE_ARTICLES)
    publish(root)
    assert heavy_modules_a_build_loads(root) == set()
    # The same check does see them when there is work: it can fail.
    write(root, "2026-11-22-third.md", article("Third", date="2026-11-22"))
    assert {"feedgen", "jinja2", "yaml"} <= heavy_modules_a_build_loads(root)


def test_removed_pages_go_and_files_put_by_hand_go_too(make_site: MakeSite) -> None:
    # The output is swapped in whole (it was once written file by file, which kept files put
    # there by hand): it holds what the build makes, and files of one's own go in static/.
    root = make_site(SITE_ARTICLES)
    output = root / "public"
    publish(root)
    page = output / "2026" / "11" / "other" / "index.html"
    assert page.is_file()
    mine = {
        "CNAME": b"news.example.org\n",
        "2026/11/other/notes.txt": b"my notes",
        "tags/news/extra.html": b"<p>extra</p>",
    }
    for name, data in mine.items():
        (output / name).write_bytes(data)

    (root / "content" / "2026-11-21-other.md").unlink()
    report = publish(root)
    assert not page.exists()
    assert not (output / "authors" / "ann").exists()
    assert report.removed == 5  # the page, and the author's index page and three feeds
    assert set(feed_ids(output)) == {"Hello"}
    # Neither now nor in the builds after it, when the trees have taken turns; each is named.
    named: list[str] = []
    for later in ("2026-11-22-third.md", "2026-11-23-fourth.md"):
        assert not any((output / name).exists() for name in mine)
        write(root, later, article(later, date=later[:10]))
        named += [p.path for p in publish(root).problems]
    assert not any((output / name).exists() for name in mine)
    assert sorted(named) == ["public/2026/11/other", "public/CNAME", "public/tags/news/extra.html"]
    assert publish(root).problems == []  # said once, not by every build after


def test_hostile_slug_stays_inside_the_output(make_site: MakeSite, tmp_path: Path) -> None:
    root = make_site({"2026-11-20-x.md": article("X", slug="../../etc/x")})
    publish(root)
    output = (root / "public").resolve()
    assert (output / "2026" / "11" / "etc-x" / "index.html").is_file()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["site"]
    assert sorted(p.name for p in root.iterdir()) == [
        ".feedpub",
        "content",
        "feedpub.toml",
        "public",
    ]
    for path in output.rglob("*"):
        assert path.resolve().is_relative_to(output)


BAD_PATHS = ["../x", "/abs", "a/../../b", "a/./b", "", "a//b", "a\\..\\b", "x\x00y"]


@pytest.mark.parametrize("relpath", BAD_PATHS, ids=repr)
def test_writer_refuses_paths_outside(tmp_path: Path, relpath: str) -> None:
    output = tmp_path / "out"
    output.mkdir()
    writer = Writer(output)
    with pytest.raises(OutputError, match="refusing to write"):
        writer.stage(relpath, b"data")
    writer.commit()
    assert files_of(tmp_path) == {}


# The writer once wrote into the output folder itself, following links that stay inside and
# refusing those leading out. It now makes a new tree beside it: a link in the output is left
# with the old tree, never followed, and the new tree holds plain folders.
@pytest.mark.parametrize("relpath", ["link/x", "link/deeper/x"], ids=["in-link", "below-link"])
def test_writer_never_writes_through_a_link_in_the_output(tmp_path: Path, relpath: str) -> None:
    output = tmp_path / "out"
    outside = tmp_path / "outside"
    output.mkdir()
    outside.mkdir()
    (output / "link").symlink_to(outside, target_is_directory=True)
    writer = Writer(output)
    writer.stage(relpath, b"data")
    assert writer.commit().written == 1
    assert list(outside.iterdir()) == []
    assert not (output / "link").is_symlink()
    assert (output / relpath).read_bytes() == b"data"


def test_writer_refuses_a_link_in_its_own_tree_leading_out(tmp_path: Path) -> None:
    output = tmp_path / "out"
    outside = tmp_path / "outside"
    outside.mkdir()
    first = Writer(output)
    first.stage("a/x.html", b"one")
    first.commit()
    # A link where the spare tree will be written: the next build starts from it.
    second = Writer(output, dict(first.outputs))
    second.stage("a/x.html", b"two")
    second.commit()
    spare = tmp_path / ".out.spare"
    shutil.rmtree(spare / "a")
    (spare / "a").symlink_to(outside, target_is_directory=True)
    third = Writer(
        output,
        dict(second.outputs),
        trees=Trees(os.stat(output).st_ino, os.stat(spare).st_ino, ["a/x.html"]),
    )
    third.stage("a/x.html", b"three")
    third.stage("b/y.html", b"new")
    third.commit()
    assert list(outside.iterdir()) == []
    assert (output / "a" / "x.html").read_bytes() == b"three"
    assert not (output / "a").is_symlink()


def test_writer_replaces_a_link_even_to_the_same_bytes(tmp_path: Path) -> None:
    output = tmp_path / "out"
    output.mkdir()
    outside = tmp_path / "outside.html"
    outside.write_bytes(b"data")
    (output / "x.html").symlink_to(outside)
    writer = Writer(output)
    writer.stage("x.html", b"data")
    assert writer.commit().written == 1
    assert not (output / "x.html").is_symlink()
    assert (output / "x.html").read_bytes() == b"data"
    assert outside.read_bytes() == b"data"


def test_writer_names_a_file_standing_where_a_folder_goes(tmp_path: Path) -> None:
    output = tmp_path / "out"
    output.mkdir()
    (output / "old.html").write_bytes(b"old")
    writer = Writer(output)
    writer.stage("a", b"a file")
    with pytest.raises(OutputError, match=r"two outputs want 'a': one as a file, one as a folder"):
        writer.stage("a/x.html", b"data")
    assert files_of(tmp_path) == {"out/old.html": b"old"}


def test_writer_compares_files_in_folders_it_did_not_make(tmp_path: Path) -> None:
    output = tmp_path / "out"
    first = Writer(output)
    for relpath in ("a/b/x.html", "a/y.html", "z.html"):
        first.stage(relpath, b"data")
    assert first.commit() == WriteReport(written=3, unchanged=0, removed=0)
    again = Writer(output, dict(first.outputs))
    for relpath in ("a/b/x.html", "a/y.html", "z.html"):
        again.stage(relpath, b"data")
    again.stage("a/b/new/w.html", b"data")
    assert again.commit() == WriteReport(written=1, unchanged=3, removed=0)


BROKEN_TEMPLATES = {
    "syntax": "{% extends 'base.html' %}{% block content %}{{ article.title }{% endblock %}",
    "undefined": "{% extends 'base.html' %}{% block content %}{{ article.nope }}{% endblock %}",
    "missing-parent": "{% extends 'nowhere.html' %}",
}


@pytest.mark.parametrize("template", BROKEN_TEMPLATES.values(), ids=BROKEN_TEMPLATES.keys())
def test_failed_build_keeps_the_last_output(make_site: MakeSite, template: str) -> None:
    root = make_site(SITE_ARTICLES)
    output = root / "public"
    publish(root)
    before = files_of(output)
    state_before = state_rows(root)
    # Changes that would rewrite feeds, pages, and add new folders...
    write(root, "2026-11-20-hello.md", article("Hello again", tags="[news, fresh]"))
    write(root, "2026-11-22-third.md", article("Third", date="2026-11-22"))
    # ... and an article page template that fails to render.
    (root / "templates").mkdir()
    (root / "templates" / "article.html").write_text(template, encoding="utf-8")
    with pytest.raises(FeedpubError):
        publish(root)
    assert files_of(output) == before
    assert not [p for p in output.rglob("*") if p.name.startswith(TEMP_PREFIX)]
    assert state_rows(root) == state_before


def test_failed_first_build_leaves_no_files(make_site: MakeSite) -> None:
    root = make_site(SITE_ARTICLES)
    (root / "templates").mkdir()
    (root / "templates" / "article.html").write_text(
        BROKEN_TEMPLATES["undefined"], encoding="utf-8"
    )
    with pytest.raises(FeedpubError, match=r"article\.html"):
        publish(root)
    output = root / "public"
    assert not output.exists() or files_of(output) == {}


# -- the state ---------------------------------------------------------------------------------


def test_corrupt_state_is_a_clear_error(make_site: MakeSite) -> None:
    root = make_site(SITE_ARTICLES)
    (root / ".feedpub").mkdir()
    path = root / ".feedpub" / "state.db"
    path.write_bytes(random.Random(7).randbytes(8192))
    with pytest.raises(StateError) as raised:
        publish(root)
    assert str(raised.value).startswith(f"{path} is damaged (file is not a database). ")
    assert f"sqlite3 '{path}' 'PRAGMA integrity_check'" in str(raised.value)
    assert raised.value.__cause__ is None
    assert raised.value.__suppress_context__
    assert not (root / "public").exists()
    with pytest.raises(StateError, match="is damaged"):
        check(load(root), NOW)


def test_newer_state_is_refused(make_site: MakeSite) -> None:
    root = make_site(SITE_ARTICLES)
    (root / ".feedpub").mkdir()
    path = root / ".feedpub" / "state.db"
    db = sqlite3.connect(path)
    db.execute("PRAGMA user_version = 99")
    db.close()
    with pytest.raises(StateError) as raised:
        publish(root)
    assert str(raised.value) == (
        f"{path}: written by a newer feedpub (schema 99, this one knows {SCHEMA_VERSION}); "
        "upgrade feedpub"
    )
    assert not (root / "public").exists()
    with pytest.raises(StateError, match="newer"):
        State.open(root / ".feedpub", create=False)


# -- the package -------------------------------------------------------------------------------


def test_wheel_contains_the_templates(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "build", "--wheel", "--outdir", str(tmp_path), str(REPO)],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    (wheel,) = tmp_path.glob("feedpub-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
    for name in ("base.html", "article.html", "index.html"):
        assert f"feedpub/templates/{name}" in names
    for template in (REPO / "templates").iterdir():
        assert f"feedpub/templates/{template.name}" in names
    assert "feedpub/py.typed" in names
    assert "feedpub/cli.py" in names
    # The catalogues, which the installed package compiles when a language is first used.
    for language in SHIPPED:
        assert f"feedpub/locale/{language}/LC_MESSAGES/feedpub.po" in names


# -- the web pages -----------------------------------------------------------------------------

TRICKY = {
    "2026-11-25-tricky.md": article(
        'Tom & Jerry <3 "quotes": a: b',
        date="2026-11-25 10:00",
        tags="[Ärger & Co, 'x<y']",
        author="'Zoë \"Z\" O''Brien'",
        body="A <b>bold</b> start & a [link](../x).\n\n| a | b |\n|---|---|\n| 1 | 2 |",
    ),
}


def test_pages_are_valid_html5_with_viewport_and_feed_links(tmp_path: Path) -> None:
    root = tmp_path / "example"
    shutil.copytree(REPO / "content", root / "content")
    shutil.copy(REPO / "feedpub.toml", root / "feedpub.toml")
    for name, text in TRICKY.items():
        write(root, name, text)
    report = publish(root)
    assert report.articles >= 5
    pages = sorted((root / "public").rglob("*.html"))
    assert len(pages) > report.articles
    problems = []
    for page in pages:
        data = page.read_bytes()
        name = page.relative_to(root / "public").as_posix()
        try:
            html5lib.HTMLParser(strict=True).parse(data)
        except html5lib.html5parser.ParseError as exc:
            problems.append(f"{name}: {exc}")
        if b'<meta name="viewport"' not in data:
            problems.append(f"{name}: no viewport")
        if b'<link rel="alternate" type="application/rss+xml"' not in data:
            problems.append(f"{name}: no RSS autodiscovery link")
    assert problems == []
    tricky = (root / "public" / "2026" / "11" / "tricky" / "index.html").read_text("utf-8")
    assert "Tom &amp; Jerry &lt;3" in tricky


def test_a_page_links_where_its_feed_entry_links(make_site: MakeSite) -> None:
    """Pages keep relative links as written (they are served at the article's link); resolved
    against the page's address they reach what the feed's absolute links reach."""
    body = (
        "[up](../other/) [same](note.html) [root](/about/) [away](https://x.example/a) "
        "[frag](#top)\n\n![pic](img/p.png)\n\n<video src=clip.mp4 poster='still.jpg'></video>"
    )
    root = make_site({"links.md": article("Links", "2026-11-20 09:00", body=body)})
    build(load(root), NOW)
    page_url = "https://news.example.org/2026/11/links/"
    page = (root / "public" / "2026" / "11" / "links" / "index.html").read_text("utf-8")
    feed = json.loads((root / "public" / "feed.json").read_bytes())
    entry = feed["items"][0]
    assert entry["url"] == page_url
    pattern = re.compile(r"""\s(?:href|src|poster)=["']?([^"' >]+)""")
    in_feed = pattern.findall(entry["content_html"])
    start = page.index(">Links</h1>")
    in_page = pattern.findall(page[start : page.index("</article>", start)])
    in_page = [u for u in in_page if "/tags/" not in u and "/authors/" not in u]
    assert len(in_feed) == 8
    assert [urljoin(page_url, html.unescape(u)) for u in in_page] == in_feed
    assert "../other/" in in_page


# -- static files ------------------------------------------------------------------------------


def test_static_files_are_copied_as_they_are(make_site: MakeSite) -> None:
    root = make_site({"2026-11-20-hello.md": HELLO})
    (root / "static" / "images").mkdir(parents=True)
    picture = bytes(range(256)) * 4
    (root / "static" / "images" / "a.png").write_bytes(picture)
    (root / "static" / ".hidden").write_text("no", encoding="utf-8")
    publish(root)
    assert (root / "public" / "images" / "a.png").read_bytes() == picture
    assert not (root / "public" / ".hidden").exists()
    (root / "static" / "images" / "a.png").unlink()
    publish(root)
    assert not (root / "public" / "images").exists()


def test_a_static_file_cannot_replace_a_page(make_site: MakeSite) -> None:
    root = make_site({"2026-11-20-hello.md": HELLO})
    (root / "static").mkdir()
    (root / "static" / "index.html").write_text("mine", encoding="utf-8")
    with pytest.raises(OutputError, match=r"two outputs want the same file 'index\.html'"):
        publish(root)
    assert not (root / "public" / "index.html").exists()


def test_output_inside_static_is_refused(make_site: MakeSite) -> None:
    root = make_site({}, extra='[feeds]\noutput = "static/out"\n')
    with pytest.raises(ConfigError, match="overlaps the site's own files"):
        config.load(root, env={})


def test_evolve_is_dataclasses_replace(make_site: MakeSite) -> None:
    root = make_site({"a.md": article("A", tags="[x, y]")})
    site = load(root)
    with State.open(site.state_dir) as state:
        original = check(site, NOW, state).articles[0]
    changes: dict[str, Any] = {
        "feed_id": "urn:x",
        "link": "https://e.org/a/",
        "page": None,
        "body": None,
    }
    evolved = evolve(original, **changes)
    assert evolved == dataclasses.replace(original, **changes)
    assert evolved.__dict__ == dataclasses.replace(original, **changes).__dict__
    assert hash(evolved) == hash(dataclasses.replace(original, **changes))
    assert original.feed_id != "urn:x"  # the original is untouched
    with pytest.raises(TypeError, match="no field 'titel'"):
        evolve(original, titel="typo")


def test_cached_articles_come_back_equal(make_site: MakeSite) -> None:
    """The content cache's JSON row gives back the article read from the file, without its
    body (and before the catalog gives it an id, a link and a page)."""
    root = make_site(
        {
            "a.md": article("Ünïcode <b>", "2026-11-20 09:00", tags="[x, y]", author="Zoë"),
            # A saved news page: the reader infers its fields ("inferred" is not empty).
            "b.txt": (REPO / "content" / "cross-country-sectionals.txt").read_bytes(),
        }
    )
    site = load(root)
    with State.open(site.state_dir) as state:
        read = check(site, NOW, state).articles
    assert len(read) == 2
    for original in read:
        row = json.loads(json.dumps(article_to_row(original)))
        again = article_from_row(row, original.source)
        unplaced = dataclasses.replace(original, body=None, feed_id="", link="", page=None)
        assert again == unplaced
        assert again.inferred == original.inferred  # not compared by ==
        assert type(again.date) is datetime and isinstance(again.tags, tuple)
        if original.relpath.endswith(".txt"):
            assert original.inferred
        with pytest.raises(ValueError, match="values, not"):
            article_from_row(row[:-1], original.source)


def test_a_broken_cache_entry_is_read_again(make_site: MakeSite) -> None:
    root = make_site({"2026-11-20-a.md": article("A"), "2026-11-21-b.md": article("B")})
    publish(root)
    with sqlite3.connect(root / ".feedpub" / "state.db") as db:
        db.execute("UPDATE content_cache SET data = ? WHERE path LIKE '%-a.md'", (b"[[1, 2]]",))
        db.execute("UPDATE content_cache SET data = ? WHERE path LIKE '%-b.md'", (b"\xff{",))
    db.close()
    site = load(root)
    with State.open(site.state_dir) as state:
        titles = sorted(a.title for a in check(site, LATER, state).articles)
    assert titles == ["A", "B"]


@pytest.mark.parametrize("month", range(1, 13))
def test_human_date_spells_every_month(month: int) -> None:
    from feedpub.templating import human_date

    day = datetime(2026, month, 9, 23, 59)
    assert human_date(day) == f"{day:%B} 9, 2026"  # feedpub never sets a locale: C's names


# -- rebuilds write what a full build writes ---------------------------------------------------

REBUILT = {
    "2026-11-10-oldest.md": article(
        "Oldest", "2026-11-10 09:00", body="First words.\n\nMore.", tags="[news]", author="Ann"
    ),
    "2026-11-12-middle.md": article("Middle", "2026-11-12 09:00", tags="[news]", author="Ann"),
    "2026-11-14-newer.md": article("Newer", "2026-11-14 09:00", tags="[news]", author="Bo"),
    "2026-11-16-newest.md": article("Newest", "2026-11-16 09:00", tags="[news]", author="Ann"),
}
OLDEST = "2026-11-10-oldest.md"
MIDDLE = "content/2026-11-12-middle.md"
# Two items per feed and per page of a list: the oldest article is in no feed, and on the
# second page of every list (home, its tag's, its author's).
SMALL_LISTS = "per_page = 2\n\n[feeds]\nlimit = 2\n"


def _edit(name: str, old: str, new: str) -> Callable[[Path], None]:
    def edit(root: Path) -> None:
        path = root / "content" / name
        text = path.read_text(encoding="utf-8")
        assert old in text
        path.write_text(text.replace(old, new, 1), encoding="utf-8")

    return edit


EDITS: dict[str, Callable[[Path], object]] = {
    "body-end": _edit(OLDEST, "More.", "More, and more."),
    "lead": _edit(OLDEST, "First words.", "Other first words."),
    "title": _edit(OLDEST, "'Oldest'", "'Oldest, renamed'"),
    "date": _edit(OLDEST, "2026-11-10 09:00", "2026-11-17 09:00"),
    "time": _edit(OLDEST, "2026-11-10 09:00", "2026-11-10 23:30"),
    "newest-time": _edit("2026-11-16-newest.md", "2026-11-16 09:00", "2026-11-16 10:15"),
    "tags": _edit(OLDEST, "[news]", "[news, sport]"),
    "author": _edit(OLDEST, "author: Ann", "author: Cy"),
    "newest-body": _edit("2026-11-16-newest.md", "Body text.", "Another body."),
    "newest-body-end": _edit("2026-11-16-newest.md", "Body text.", "Body text.\n\nAnd more."),
    "image": _edit(OLDEST, "date: 2026-11-10 09:00", "date: 2026-11-10 09:00\nimage: a.png"),
    "newest-updated": _edit(
        "2026-11-16-newest.md",
        "date: 2026-11-16 09:00",
        "date: 2026-11-16 09:00\nupdated: 2026-11-18",
    ),
    "summary": _edit(OLDEST, "date: 2026-11-10 09:00", "date: 2026-11-10 09:00\nsummary: Short."),
    "draft": _edit(OLDEST, "date: 2026-11-10 09:00", "date: 2026-11-10 09:00\ndraft: true"),
    "slug": _edit(OLDEST, "date: 2026-11-10 09:00", "date: 2026-11-10 09:00\nslug: other"),
    "two-bodies": lambda root: (
        _edit(OLDEST, "More.", "More, and more.")(root),
        _edit("2026-11-16-newest.md", "Body text.", "Body text.\n\nAnd more.")(root),
    ),
    "removed": lambda root: (root / "content" / OLDEST).unlink(),
    "added": lambda root: write(root, "2026-11-11-added.md", article("Added", "2026-11-11 09:00")),
}


@pytest.mark.parametrize("own_list", [False, True], ids=["packaged-templates", "own-list"])
@pytest.mark.parametrize("edit", EDITS.values(), ids=EDITS.keys())
def test_a_rebuild_writes_what_a_full_build_writes(
    make_site: MakeSite, edit: Callable[[Path], None], own_list: bool
) -> None:
    root = make_site(REBUILT, extra=SMALL_LISTS)
    if own_list:  # a list that shows whole articles: a body edit changes it
        own = (REPO / "templates" / "list.html").read_text(encoding="utf-8")
        shown = "{{ summaries(articles) }}"
        assert shown in own
        own = own.replace(shown, shown + "{% for a in articles %}{{ content(a) }}{% endfor %}")
        (root / "templates").mkdir()
        (root / "templates" / "list.html").write_text(own, encoding="utf-8")
    publish(root)
    edit(root)
    publish(root, LATER)
    rebuilt, recorded = files_of(root / "public"), _recorded(root)
    # The same site and state (so the same ids and keys), with no output, no content cache and
    # no memo: all read and rendered anew.
    shutil.rmtree(root / "public")
    with sqlite3.connect(root / ".feedpub" / "state.db") as db:
        db.execute("DELETE FROM content_cache")
        db.execute("DELETE FROM meta WHERE key = 'build_memo'")
    db.close()
    publish(root, LATER)
    assert files_of(root / "public") == rebuilt
    assert _recorded(root) == recorded


def _recorded(root: Path) -> tuple[object, ...]:
    """What the state says of the outputs and the articles (not when it last saw them)."""
    with sqlite3.connect(root / ".feedpub" / "state.db") as db:
        outputs = db.execute("SELECT path, key FROM outputs ORDER BY path").fetchall()
        articles = db.execute(
            "SELECT id, path, content_hash, title, date, explicit FROM articles ORDER BY id"
        ).fetchall()
    db.close()
    return outputs, articles


FEEDS = ("rss.xml", "atom.xml", "feed.json")
# Edits that change what no list shows: the rebuild renders the pages and feeds of the edited
# articles from the last build's memo, without the catalog (and the files it writes).
QUICK = {
    "body-end": {"2026/11/oldest/index.html"},
    "newest-body-end": {"2026/11/newest/index.html"}
    | {f"{folder}{name}" for folder in ("", "tags/news/", "authors/ann/") for name in FEEDS},
    "two-bodies": {"2026/11/oldest/index.html", "2026/11/newest/index.html"}
    | {f"{folder}{name}" for folder in ("", "tags/news/", "authors/ann/") for name in FEEDS},
}


@pytest.mark.parametrize("edit", QUICK, ids=QUICK.keys())
def test_a_body_edit_is_rebuilt_without_the_catalog(make_site: MakeSite, edit: str) -> None:
    root = make_site(REBUILT, extra=SMALL_LISTS)
    first = publish(root)
    before = files_of(root / "public")
    EDITS[edit](root)
    report = publish(root, LATER)
    assert report.path == "quick", "the catalog was read"
    after = files_of(root / "public")
    assert {name for name in after if after[name] != before.get(name)} == QUICK[edit]
    assert (report.written, report.removed) == (len(QUICK[edit]), 0)
    assert report.written + report.unchanged == len(after)
    assert (report.articles, report.feeds, report.problems) == (4, first.feeds, [])
    # Nothing changed since: the next build only looks.
    nothing = publish(root, LATER)
    assert (nothing.written, nothing.path) == (0, "unchanged")


@pytest.mark.parametrize("edited", [incremental.MAX_CHANGED, incremental.MAX_CHANGED + 1])
def test_many_body_edits_read_the_catalog(make_site: MakeSite, edited: int) -> None:
    """Past MAX_CHANGED changed files, the build reads the catalog (which reads many files in
    parallel) instead of rebuilding from the memo."""
    days = [f"2026-11-{1 + n % 20:02d}" for n in range(edited + 2)]
    names = [f"{day}-story-{n}.md" for n, day in enumerate(days)]
    texts = {name: article(name, f"{day} 09:00") for name, day in zip(names, days, strict=True)}
    root = make_site(texts)
    publish(root)
    for name in names[:edited]:
        _append(root / "content" / name, b"\nA paragraph.\n")
    report = publish(root, LATER)
    assert (report.path == "full") == (edited > incremental.MAX_CHANGED)
    assert report.written >= edited  # the pages, and the feeds that carry them


# "newest-updated": an update date is every list's sitemap <lastmod> that shows the article.
@pytest.mark.parametrize(
    "edit",
    ["title", "lead", "date", "tags", "added", "removed", "draft", "image", "newest-updated"],
)
def test_other_edits_read_the_catalog(make_site: MakeSite, edit: str) -> None:
    root = make_site(REBUILT, extra=SMALL_LISTS)
    publish(root)
    EDITS[edit](root)
    site = load(root)
    with State.open(site.state_dir) as state:
        basis = snapshot.take(site, state, packaged_templates()).basis
        files = content_files(site)
        last = snapshot.LastBuild.load(cache.last_build(state))
        assert last is not None
        outputs = state.outputs()
        assert incremental.edits(site, state, last, basis, LATER, files, outputs) is None
        assert incremental.edits(site, state, last, "other", LATER, files, outputs) is None


def _append(path: Path, data: bytes) -> None:
    with path.open("ab") as file:
        file.write(data)


def test_a_quick_rebuild_falls_back_when_it_cannot_tell(make_site: MakeSite) -> None:
    """A missing output, an article that became due, a memo that is not one, an article
    with a problem: each is built by reading the catalog, as a full build would."""
    root = make_site(
        {**REBUILT, "2026-11-28-due.md": article("Due", "2026-11-28 09:00")}, extra=SMALL_LISTS
    )
    archive = root / "public" / "archive" / "index.html"
    publish(root)  # NOW: the last article is scheduled
    EDITS["body-end"](root)
    assert publish(root, LATER).articles == 5  # it is due now
    assert "Due" in archive.read_text(encoding="utf-8")
    archive.unlink()
    _append(root / "content" / OLDEST, b"\nA paragraph.\n")  # else, only its page changes
    assert publish(root, LATER).written == 2
    assert "Due" in archive.read_text(encoding="utf-8")
    # Built as of a moment before the newest articles (a clock set back): they stay published.
    _append(root / "content" / OLDEST, b"\nAnother paragraph.\n")
    behind = publish(root, datetime(2026, 11, 15, tzinfo=NOW.tzinfo))
    assert (behind.articles, [p.path for p in behind.problems]) == (5, [".feedpub/state.db"])
    # A warning comes and goes with an edit: the report says so.
    _append(root / "content" / OLDEST, b"\nA bad \xff byte.\n")
    assert [p.path for p in publish(root, LATER).problems] == [f"content/{OLDEST}"]
    path = root / "content" / OLDEST
    path.write_bytes(path.read_bytes().replace(b"\xff", b"good"))
    assert publish(root, LATER).problems == []
    site = load(root)
    with State.open(site.state_dir) as state:
        good = json.loads(state.meta("build_memo") or "")
    malformed = [
        "{", '{"basis": 1}', "[]", "null", '{"ids": {}}',
        json.dumps({**good, "until": "soon"}),
        json.dumps({**good, "newest": 7}),
        json.dumps({**good, "ids": []}),
        json.dumps({**good, "ids": {path: 1 for path in good["ids"]}}),
        json.dumps({**good, "feeds": [["", "t", "d", "h", [1]]]}),
        json.dumps({**good, "feeds": [["", "t", "d"]]}),
        json.dumps({**good, "feeds": []}),
        json.dumps({**good, "feeds": good["feeds"][1:]}),
        json.dumps(  # a feed with an article the memo has no id for
            {
                **good,
                "ids": {p: i for p, i in good["ids"].items() if p != MIDDLE},
                "feeds": [["", "t", "d", "h", [f"content/{OLDEST}", MIDDLE]]],
            }
        ),
        json.dumps({**good, "problems": [["x"]]}),
    ]  # fmt: skip
    for number, memo in enumerate(malformed):
        with State.open(site.state_dir) as state, state.transaction():
            state.set_meta("build_memo", memo)
        _append(root / "content" / OLDEST, f"\nMore, {number}.\n".encode())
        assert publish(root, LATER).written == 1
        with State.open(site.state_dir) as state:  # the full build recorded a memo again
            assert snapshot.LastBuild.load(state.meta("build_memo")) is not None
            assert len(state.known_articles()) == 5  # and no article got an id of the memo's
    _edit(OLDEST, "date: 2026-11-10 09:00", "date: 2026-11-10 09:00\nbroken: [")(root)
    with pytest.raises(ArticleError) as caught:
        publish(root, LATER)
    assert OLDEST in str(caught.value)


def test_a_body_edit_leaves_the_lists_alone(make_site: MakeSite) -> None:
    root = make_site(REBUILT, extra=SMALL_LISTS)
    publish(root)
    output = root / "public"
    old = 1_000_000_000
    for name in files_of(output):
        os.utime(output / name, (old, old))
    EDITS["body-end"](root)
    report = publish(root, LATER)
    rewritten = {name for name in files_of(output) if (output / name).stat().st_mtime != old}
    # Its page only: the archive shows its line, its lists its card, which are the same.
    assert rewritten == {"2026/11/oldest/index.html"}
    assert report.written == 1
    EDITS["lead"](root)
    publish(root, LATER)
    rewritten = {name for name in files_of(output) if (output / name).stat().st_mtime != old}
    # Its card is on the second page of each list it is on: those pages, none of the first.
    assert rewritten == {
        "2026/11/oldest/index.html",
        "page/2/index.html",
        "tags/news/page/2/index.html",
        "authors/ann/page/2/index.html",
    }
    EDITS["title"](root)
    publish(root, LATER)
    rewritten = {name for name in files_of(output) if (output / name).stat().st_mtime != old}
    lists = {"archive/index.html", "tags/news/page/2/index.html", "authors/ann/page/2/index.html"}
    assert lists <= rewritten


WARNED = {
    name: text.replace("---\n", "---\ncolour: red\n", 1) if text.startswith("---") else text
    for name, text in REBUILT.items()
}


def test_a_body_edit_on_a_site_with_warnings_is_rebuilt_quickly(make_site: MakeSite) -> None:
    """Every article has a warning (an unknown key): an edit still takes the quick rebuild, the
    edited file's warnings take the place of those it had, and the bytes are a full build's."""
    root = make_site(WARNED, extra=SMALL_LISTS)
    first = publish(root)
    assert (first.path, len(first.problems)) == ("full", 4)
    assert first.told == frozenset() and first.news == first.problems
    EDITS["body-end"](root)
    _edit(OLDEST, "colour: red", "colour: red\nflavour: mint")(root)
    quick = publish(root, LATER)
    assert quick.path == "quick"
    expected = sorted([f"content/{OLDEST}", *(p.path for p in first.problems)])
    assert [p.path for p in quick.problems] == expected  # the oldest: colour and flavour
    assert {p.path for p in quick.news} == {f"content/{OLDEST}"}
    assert quick.warned_before == 3
    with State.open(load(root).state_dir) as state:
        assert quick.problems == check(load(root), LATER, state).problems
    nothing = publish(root, LATER)
    assert (nothing.path, nothing.problems, nothing.news) == ("unchanged", quick.problems, [])
    assert nothing.warned_before == 4
    rebuilt = files_of(root / "public")
    shutil.rmtree(root / "public")
    with sqlite3.connect(root / ".feedpub" / "state.db") as db:
        db.execute("DELETE FROM content_cache")
    db.close()
    full = publish(root, LATER)
    assert (full.path, full.problems) == ("full", quick.problems)
    assert files_of(root / "public") == rebuilt


def test_a_quick_rebuild_tells_the_clock_as_it_is_now(make_site: MakeSite) -> None:
    """A build as of a moment before the last build's warns of the clock, and the next build
    with the clock put right does not repeat it: both are found by reading the catalog."""
    root = make_site(REBUILT, extra=SMALL_LISTS)
    publish(root, LATER)
    EDITS["body-end"](root)
    behind = publish(root, NOW)
    assert [p.path for p in behind.problems] == [".feedpub/state.db"]
    _append(root / "content" / OLDEST, b"\nA paragraph.\n")
    right = publish(root, LATER + timedelta(days=1))
    assert right.problems == []
    _append(root / "content" / OLDEST, b"\nAnother paragraph.\n")
    assert publish(root, LATER + timedelta(days=1)).path == "quick"


def test_content_files_go_as_os_walk_goes(make_site: MakeSite) -> None:
    names = [
        "a.md", "A.md", "z.txt", "_skip.md", ".hidden.md", "#draft.md", "notes.rst",
        "b/c.md", "b/d/e.md", "b/_drafts/x.md", "b/.git/y.md", "b2/f.md", "b-c/g.md",
    ]  # fmt: skip
    root = make_site({name: article(name) for name in names})
    content = root / "content"
    (content / "link").symlink_to(content / "b", target_is_directory=True)
    (content / "broken.md").symlink_to(content / "nowhere.md")
    expected: list[str] = []
    for folder, dirs, files in os.walk(content):
        dirs[:] = sorted(d for d in dirs if not d.startswith((".", "_")))
        expected.extend(os.path.join(folder, n) for n in sorted(files) if is_article_name(n))
    found = content_files(load(root))
    # The broken link is not a file to read: it is reported, as is the folder link (not
    # followed), instead of being left out silently.
    expected.remove(str(content / "broken.md"))
    assert [name for name, _ in found.files] == expected
    assert len(expected) == 7  # a.md, A.md, z.txt; c.md, e.md, f.md, g.md
    assert [(p.path, p.severity) for p in found.problems] == [
        ("content/broken.md", "error"),
        ("content/link", "warning"),
    ]
    for name, info in found.files:
        real = os.stat(name)
        assert (info.st_size, info.st_mtime_ns) == (real.st_size, real.st_mtime_ns)


def test_pages_and_feeds_carry_no_character_xml_cannot(make_site: MakeSite) -> None:
    """Raw control characters in a file are dropped when it is read; character references
    bring them back in the HTML, and are dropped there (pages and feeds alike)."""
    root = make_site(
        {
            "refs.md": article(
                "Refs",
                body="form&#12;feed &#x85; C1, &#xFFFE; and &#1; &amp; [a link](x&#12;y/)"
                ' <img src="i&#12;.png" alt="">',
            ),
            "raw.md": article("Raw", "2026-11-19 09:00", body="bell\x07 and C1\x85 raw"),
            "2026-11-18-plain.txt": "Plain\n\nThe &#1; stays as written \x01 here.\n",
        }
    )
    publish(root)
    output = files_of(root / "public")
    pages = {name: data.decode() for name, data in output.items() if name.endswith(".html")}
    assert "form" in pages["2026/11/refs/index.html"]
    assert "bell and C1 raw" in pages["2026/11/raw/index.html"]
    for name, text in pages.items():
        assert not _NOT_XML.search(text), name
    ET.parse(root / "public" / "atom.xml")
    ET.parse(root / "public" / "rss.xml")
    for name in ("atom.xml", "rss.xml", "feed.json"):
        assert not _NOT_XML.search(output[name].decode()), name


def test_the_state_records_exactly_the_outputs_written(make_site: MakeSite) -> None:
    root = make_site(REBUILT, extra=SMALL_LISTS)
    site = load(root)

    def recorded() -> set[str]:
        with State.open(site.state_dir) as state:
            return set(state.outputs())

    publish(root)
    assert recorded() == set(files_of(root / "public"))
    EDITS["removed"](root)
    publish(root, LATER)
    assert "2026/11/oldest/index.html" not in recorded()
    assert recorded() == set(files_of(root / "public"))
