"""Content from the tools people come from: Jekyll, Hugo and Pelican sample sites (in each tool's
documented layout, tests/data/sites/) moved over as the README says, and what their front
matter forms and names mean here; saved web pages' datelines, tags and summaries; the images
check warns about."""

from __future__ import annotations

import shutil
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import feedparser
import pytest
from click.testing import CliRunner
from helpers import MakeSite, assert_clean_exit, errors, invoke, load, publish, warnings
from hypothesis import given
from hypothesis import strategies as st

from feedpub.config import Site
from feedpub.content.readers import read_article
from feedpub.content.readers.markdown import MAX_FRONT_MATTER, MAX_VALUES
from feedpub.errors import Problem
from feedpub.model import Article
from feedpub.site.build import check

SITES = Path(__file__).parent / "data" / "sites"
NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


def _settings(title: str, url: str, zone: str) -> str:
    return f'[site]\ntitle = "{title}"\nurl = "{url}"\ntimezone = "{zone}"\n'


def moved(tool: str, into: Path) -> Path:
    """The sample site of ``tool`` moved into a feedpub site, by the README's steps."""
    sample = SITES / tool
    root = into / tool
    (root / "static").mkdir(parents=True)
    if tool == "jekyll":
        # _posts/ would be skipped (a folder starting with "_"): it becomes content/posts/.
        shutil.copytree(sample / "_posts", root / "content" / "posts")
        shutil.copytree(sample / "assets", root / "static" / "assets")
        settings = _settings(
            "Riverside Robotics", "https://robotics.example.org/", "America/Chicago"
        )
    elif tool == "hugo":
        shutil.copytree(sample / "content", root / "content")
        shutil.copytree(sample / "static", root / "static", dirs_exist_ok=True)
        settings = _settings("The Valley Gazette", "https://gazette.example.org/", "Europe/Berlin")
    else:
        # Pelican's STATIC_PATHS (content/images/) go to static/.
        shutil.copytree(
            sample / "content", root / "content", ignore=shutil.ignore_patterns("images")
        )
        shutil.copytree(sample / "content" / "images", root / "static" / "images")
        settings = _settings("Garden Notes", "https://garden.example.org/", "Europe/Oslo")
    (root / "feedpub.toml").write_text(settings, encoding="utf-8")
    return root


CHICAGO = ZoneInfo("America/Chicago")
BERLIN = ZoneInfo("Europe/Berlin")
OSLO = ZoneInfo("Europe/Oslo")

# file -> (title, date, updated, tags, summary, authors); None for a draft's own fields left out.
EXPECTED: dict[str, dict[str, tuple[object, ...]]] = {
    "jekyll": {
        "content/posts/2026-11-20-budget-vote.md": (
            "Robotics budget passes the board",
            datetime(2026, 11, 20, 18, 30, tzinfo=CHICAGO),
            datetime(2026, 11, 21, 9, 15, tzinfo=CHICAGO),
            ("budget", "robotics", "school board", "news"),
            "The board gave the team its new field and two more mentors.",
            ("Ana Ruiz",),
        ),
        "content/posts/2026-10-03-first-scrimmage.markdown": (
            "First scrimmage of the season",
            datetime(2026, 10, 3, tzinfo=CHICAGO),
            None,
            ("competitions",),
            None,
            (),
        ),
    },
    "hugo": {
        "content/posts/court-reopens.md": (
            "Tennis court reopens after repairs",
            datetime(2026, 11, 18, 16, 0, tzinfo=BERLIN),
            datetime(2026, 11, 19, 8, 30, tzinfo=BERLIN),
            ("sports", "town", "News"),
            "After six weeks of repairs the east court is open again.",
            (),
        ),
        "content/posts/market-day.md": (
            "Market day moves to Saturday",
            datetime(2026, 10, 30, tzinfo=BERLIN),
            None,
            ("market", "Town"),
            "From November the market runs on Saturdays.",
            (),
        ),
    },
    "pelican": {
        "content/2026-11-14-first-frost.md": (
            "First frost in the garden",
            datetime(2026, 11, 14, 7, 45, tzinfo=OSLO),
            datetime(2026, 11, 15, 10, 0, tzinfo=OSLO),
            ("frost", "winter", "vegetables", "Seasons"),
            "The first frost came early this year, a week before the forecast.",
            ("Holm, Mira", "Lars Berg"),
        ),
        "content/seed-swap.md": (
            "Seed swap at the library",
            datetime(2026, 10, 20, 18, 0, tzinfo=OSLO),
            None,
            ("seeds", "library", "Events"),
            None,
            (),
        ),
    },
}
DRAFTS = {
    "jekyll": ["content/posts/2026-09-12-sponsor-letter.md"],
    "hugo": ["content/posts/winter-schedule.md"],
    "pelican": ["content/compost-notes.md"],
}
# The picture each tool's first post shows, as the built page links it.
PICTURES = {
    "jekyll": "/assets/images/board.png",
    "hugo": "/images/court.png",
    "pelican": "/images/garden.png",
}
TOOLS = ["jekyll", "hugo", "pelican"]


@pytest.mark.parametrize("tool", TOOLS)
def test_a_sample_site_moved_over_checks_with_no_warning(
    runner: CliRunner, tmp_path: Path, tool: str
) -> None:
    root = moved(tool, tmp_path)
    result = invoke(runner, "--site", root, "check", "--strict", "--now", NOW.isoformat())
    assert_clean_exit(result, 0)
    assert result.stderr == ""
    published = len(EXPECTED[tool])
    assert result.stdout.endswith(
        f"{published} published, 0 scheduled, 1 draft; 0 errors, 0 warnings\n"
    )


def _fields(article: Article) -> tuple[object, ...]:
    return (
        article.title,
        article.date,
        article.updated,
        article.tags,
        article.summary,
        article.authors,
    )


@pytest.mark.parametrize("tool", TOOLS)
def test_a_sample_site_gives_each_article_its_title_date_tags_summary_and_drafts(
    tmp_path: Path, tool: str
) -> None:
    catalog = check(load(moved(tool, tmp_path)), NOW)
    assert catalog.problems == []
    got = {a.relpath: _fields(a) for a in catalog.articles}
    assert got == EXPECTED[tool]
    assert [a.relpath for a in catalog.drafts] == DRAFTS[tool]
    assert catalog.scheduled == []


@pytest.mark.parametrize("tool", TOOLS)
def test_a_sample_site_builds_its_feeds_and_pages_with_their_pictures(
    tmp_path: Path, tool: str
) -> None:
    root = moved(tool, tmp_path)
    report = publish(root, NOW)
    assert report.problems == []
    output = root / "public"
    feed = feedparser.parse((output / "atom.xml").read_bytes())
    assert not feed.bozo
    titles = [entry.title for entry in feed.entries]
    expected = sorted(EXPECTED[tool].values(), key=lambda v: v[1], reverse=True)  # type: ignore[arg-type,return-value]
    assert titles == [fields[0] for fields in expected]
    picture = PICTURES[tool]
    assert (output / picture.lstrip("/")).is_file()
    pages = [p.read_text(encoding="utf-8") for p in output.glob("2026/11/*/index.html")]
    assert any(f'src="{picture}"' in page for page in pages)


# -- front matter forms ---------------------------------------------------------------------------


def read(site: Site, text: str, name: str = "story.md") -> tuple[Article | None, list[Problem]]:
    path = site.content_dir / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return read_article(path, name, site)


def read_one_error(site: Site, text: str) -> Problem:
    article, problems = read(site, text)
    assert article is None
    found = errors(problems)
    assert len(found) == 1, problems
    return found[0]


@pytest.mark.parametrize(
    ("front", "field", "value"),
    [
        ("category: news", "tags", ("news",)),
        ("categories: [a]\ncategory: b", "tags", ("a", "b")),
        ("description: Short.", "summary", "Short."),
        ("excerpt: Short.", "summary", "Short."),
        ("summary: Mine.\ndescription: Theirs.", "summary", "Mine."),
        (
            "lastmod: 2026-11-21",
            "updated",
            datetime(2026, 11, 21, tzinfo=ZoneInfo("Europe/Berlin")),
        ),
        (
            "modified: 2026-11-21",
            "updated",
            datetime(2026, 11, 21, tzinfo=ZoneInfo("Europe/Berlin")),
        ),
        (
            "last_modified_at: 2026-11-21",
            "updated",
            datetime(2026, 11, 21, tzinfo=ZoneInfo("Europe/Berlin")),
        ),
        ("Status: draft", "draft", True),
        ("status: hidden", "draft", True),
        ("status: Published", "draft", False),
        ("published: false", "draft", True),
        ("published: true", "draft", False),
        ("draft: false\nstatus: draft", "draft", False),
        ("Tags: [x]\nSUMMARY: Short.", "tags", ("x",)),
    ],
    ids=lambda v: v if isinstance(v, str) and ":" in v else "",
)
def test_another_tools_name_means_feedpubs_field(
    test_site: Site, front: str, field: str, value: object
) -> None:
    text = f"---\ntitle: Hi\ndate: 2026-11-20\n{front}\n---\nBody.\n"
    article, problems = read(test_site, text)
    assert problems == []
    assert article is not None
    assert getattr(article, field) == value


def test_hugos_published_is_a_date(test_site: Site) -> None:
    article, problems = read(test_site, "---\ntitle: Hi\npublished: 2026-11-20\n---\nBody.\n")
    assert problems == []
    assert article is not None
    assert article.date == datetime(2026, 11, 20, tzinfo=ZoneInfo("Europe/Berlin"))
    assert not article.draft


@pytest.mark.parametrize(
    "key",
    ["layout", "permalink", "weight", "aliases", "type", "menu", "Template", "save_as", "params"],
)
def test_the_tools_own_keys_are_ignored_without_a_warning(test_site: Site, key: str) -> None:
    article, problems = read(test_site, f"---\ntitle: Hi\ndate: 2026-11-20\n{key}: x\n---\nBody.\n")
    assert problems == []
    assert article is not None


@pytest.mark.parametrize(
    ("front", "line", "message"),
    [
        ("status: maybe", 4, "'status' must be draft, hidden or published, not 'maybe'"),
        (
            "published: [1]",
            4,
            "'published' must be true or false (Jekyll's) or a date (Hugo's), not [1]",
        ),
    ],
    ids=["status", "published"],
)
def test_a_wrong_status_is_an_error_with_its_line(
    test_site: Site, front: str, line: int, message: str
) -> None:
    problem = read_one_error(test_site, f"---\ntitle: Hi\ndate: 2026-11-20\n{front}\n---\nBody.\n")
    assert (problem.line, problem.message) == (line, message)


def test_hugos_toml_front_matter(test_site: Site) -> None:
    text = (
        "+++\ntitle = 'Hi'\ndate = 2026-11-20T09:30:00+01:00\ntags = ['a', 'b']\n"
        "colour = 'red'\n[params]\nx = 1\n+++\n\nBody.\n"
    )
    article, problems = read(test_site, text)
    assert article is not None
    assert (article.title, article.tags, article.body) == ("Hi", ("a", "b"), "Body.\n")
    assert article.date == datetime(2026, 11, 20, 9, 30, tzinfo=timezone(timedelta(hours=1)))
    assert [(p.line, p.severity) for p in problems] == [(5, "warning")]
    assert "unknown front matter key 'colour'" in problems[0].message


@pytest.mark.parametrize(
    ("text", "line", "start"),
    [
        ("+++\ntitle = 'Hi'\ndate = \n+++\n", 3, "front matter is not valid TOML: "),
        ("+++\ntitle = 'Hi'\ntitle = 'Again'\n+++\n", 3, "front matter is not valid TOML: "),
        (
            "+++\ntitle = 'Hi'\n",
            1,
            "the front matter opened on line 1 is never closed; add a '+++'",
        ),
        ("++++\ntitle = 'Hi'\n+++\n", 1, "the first line must be exactly '+++'"),
        (
            "+++\n" + "a = " + "[" * 5000 + "]" * 5000 + "\n+++\n",
            2,
            "front matter is nested too deeply",
        ),
        (
            "+++\ntags = [" + "1," * (MAX_VALUES + 1) + "]\n+++\n",
            2,
            f"front matter holds more than {MAX_VALUES}",
        ),
        ("+++\n" + "# " + "x" * MAX_FRONT_MATTER + "\n+++\n", 2, "the front matter is "),
        (
            "+++\ntitle = 'Hi'\ndate = 2026-11-20\nurl = '/about/'\n+++\n",
            4,
            "'url' must be an absolute http(s) URL",
        ),
        ("+++\ntitle = 'Hi'\ndate = 09:30:00\n+++\n", 3, "'date': expected a date, got time"),
    ],
    ids=[
        "no-value",
        "twice",
        "unclosed",
        "bad-fence",
        "deep",
        "many",
        "huge",
        "hugo-url",
        "a-time",
    ],
)
def test_bad_toml_front_matter_is_one_error_with_its_line(
    test_site: Site, text: str, line: int, start: str
) -> None:
    problem = read_one_error(test_site, text + "Body.\n")
    assert problem.line == line
    assert problem.message.startswith(start), problem.message
    assert "(at line" not in problem.message


def test_pelicans_metadata_header(test_site: Site) -> None:
    text = (
        "Title: Hi\nDate: 2026-11-20 10:20\nauthors: Doyle, Conan; Ana Ruiz\nTags: a, b\n"
        "Summary: One line\n    and its second.\nDraft: no\n\nBody ![x]({static}/images/x.png).\n"
    )
    article, problems = read(test_site, text)
    assert problems == []
    assert article is not None
    assert article.authors == ("Doyle, Conan", "Ana Ruiz")
    assert article.tags == ("a", "b")
    assert article.summary == "One line and its second."
    assert article.body == "Body ![x](/images/x.png).\n"


@pytest.mark.parametrize(
    ("text", "severity", "line", "message"),
    [
        ("Title: Hi\nDate: 2026-11-20\nnot a pair\n\nBody.\n", "error", 3,
         "line 3 in the metadata header is not 'Key: value'; end the header with a blank line"),
        ("Title: Hi\nDate: 2026-11-20\ntitle: Again\n\nBody.\n", "warning", 3,
         "'title' given twice; using the last"),
        ("Title: Hi\nDate: 2026-11-20\nColour: red\n\nBody.\n", "warning", 3,
         "unknown front matter key 'Colour' is ignored; known keys: title, date, updated, author, "
         "authors, tags, categories, summary, slug, id, draft, image, url, image_alt, enclosure, "
         "duration, episode, season, lang"),
    ],
    ids=["not-a-pair", "twice", "unknown"],
)  # fmt: skip
def test_a_bad_pelican_header_line_is_named(
    test_site: Site, text: str, severity: str, line: int, message: str
) -> None:
    _, problems = read(test_site, text)
    assert [(p.severity, p.line, p.message) for p in problems] == [(severity, line, message)]


def test_a_huge_pelican_header_is_refused(test_site: Site) -> None:
    text = "Title: Hi\n" + "Tags: x\n" * (MAX_FRONT_MATTER // 8) + "\nBody.\n"
    problem = read_one_error(test_site, text)
    assert problem.message.startswith("the front matter is ")


@given(st.text(max_size=300))
def test_any_text_after_a_toml_fence_gives_an_article_or_a_problem(
    tmp_path_factory: pytest.TempPathFactory, body: str
) -> None:
    from feedpub.config import FeedSettings, SiteSettings

    root = tmp_path_factory.mktemp("toml")
    site = Site(
        root=root, site=SiteSettings(title="T", url="https://example.org/"), feeds=FeedSettings()
    )
    article, problems = read(site, "+++\n" + body + "\n+++\nBody.\n")
    assert article is not None or errors(problems)


def test_a_key_given_twice_in_other_cases_is_a_warning(test_site: Site) -> None:
    article, problems = read(test_site, "---\ntitle: Hi\ndate: 2026-11-20\nTitle: Two\n---\nB.\n")
    assert article is not None
    assert article.title == "Two"
    assert [(p.line, p.message) for p in problems] == [
        (4, "'Title' given twice (in any case); using the last")
    ]


@given(st.text(max_size=300))
def test_any_pelican_header_gives_an_article_or_a_problem(
    tmp_path_factory: pytest.TempPathFactory, header: str
) -> None:
    from feedpub.config import FeedSettings, SiteSettings

    root = tmp_path_factory.mktemp("pelican")
    site = Site(
        root=root, site=SiteSettings(title="T", url="https://example.org/"), feeds=FeedSettings()
    )
    article, problems = read(site, "Title: Hi\n" + header + "\n\nBody.\n")
    assert article is not None or errors(problems)


# -- saved web pages -------------------------------------------------------------------------------


HERE = ZoneInfo("Europe/Berlin")  # SETTINGS' zone: a dateline without one is read there
EST = timezone(timedelta(hours=-5))


@pytest.mark.parametrize(
    ("dateline", "moment", "date_text"),
    [
        ("November 16, 2026 at 9:12 a.m.", datetime(2026, 11, 16, 9, 12, tzinfo=HERE), None),
        ("November 16, 2026 at 9:12 a.m. EST", datetime(2026, 11, 16, 9, 12, tzinfo=EST), None),
        ("November 16, 2026 at 9:12 a.m. ET", datetime(2026, 11, 16, 9, 12, tzinfo=EST), None),
        ("November 16, 2026, at 9:12 a.m.", datetime(2026, 11, 16, 9, 12, tzinfo=HERE), None),
        ("November 16, 2026 at 9 a.m.", datetime(2026, 11, 16, 9, 0, tzinfo=HERE), None),
        (
            "Published November 16, 2026 at 9:12 p.m.",
            datetime(2026, 11, 16, 21, 12, tzinfo=HERE),
            "November 16, 2026 at 9:12 p.m.",
        ),
        (
            "Posted: Nov. 16, 2026 9:12 AM CET",
            datetime(2026, 11, 16, 9, 12, tzinfo=HERE),
            "Nov. 16, 2026 9:12 AM CET",
        ),
        ("Monday, November 16, 2026 | 9:12 a.m.", datetime(2026, 11, 16, 9, 12, tzinfo=HERE), None),
    ],
    ids=lambda v: v if isinstance(v, str) else "",
)
def test_a_datelines_time_is_kept(
    make_site: MakeSite, dateline: str, moment: datetime, date_text: str | None
) -> None:
    """Bug 8: a dateline with a time lost it (the file name's date was taken instead)."""
    page = f"Town meeting runs late\nBy Jane Doe\n{dateline}\n\nThe meeting ran late.\n"
    root = make_site({"2026-11-16-town-meeting.txt": page})
    catalog = check(load(root), NOW)
    assert catalog.problems == []
    [article] = catalog.articles
    assert article.date == moment
    assert article.lead == "The meeting ran late."
    assert f"date '{date_text or dateline}' from line 3" in article.inferred


def test_an_updated_dateline_gives_the_updated_date(make_site: MakeSite) -> None:
    page = (
        "Town meeting\nBy Jane Doe\nNovember 16, 2026\nUpdated: November 17, 2026 at 8 a.m.\n\n"
        "The meeting ran late.\n"
    )
    root = make_site({"meeting.txt": page})
    [article] = check(load(root), NOW).articles
    berlin = ZoneInfo("Europe/Berlin")
    assert (article.date, article.updated) == (
        datetime(2026, 11, 16, tzinfo=berlin),
        datetime(2026, 11, 17, 8, 0, tzinfo=berlin),
    )


def test_a_saved_page_takes_tags_and_summary_lines_under_its_byline(make_site: MakeSite) -> None:
    page = (
        "Town meeting runs late\nBy Jane Doe\nNovember 16, 2026\nTags: town, budget\n"
        "Summary: The meeting ran past midnight.\n\nThe meeting ran late.\n"
    )
    root = make_site({"meeting.txt": page})
    catalog = check(load(root), NOW)
    assert catalog.problems == []
    [article] = catalog.articles
    assert (article.title, article.tags, article.summary) == (
        "Town meeting runs late",
        ("town", "budget"),
        "The meeting ran past midnight.",
    )
    assert article.authors == ("Jane Doe",)
    assert "Tags" not in (article.body or "") and "Summary" not in article.lead


def test_check_v_lists_a_files_notes_in_file_order(runner: CliRunner, make_site: MakeSite) -> None:
    """Bug 9b: the leftovers at the end came before the repeated headline at the top."""
    page = (
        "Town meeting runs late\nBy Jane Doe\nNovember 16, 2026\n\nTown meeting runs late\n\n"
        "The meeting ran late.\n\nShare\nBack To Top\n"
    )
    root = make_site({"meeting.txt": page})
    result = invoke(runner, "--site", root, "check", "-v", "--now", NOW.isoformat())
    assert_clean_exit(result, 0)
    notes = [line.split(":   ", 1)[1] for line in result.stdout.splitlines() if ":   " in line]
    assert notes == [
        "kind: web page",
        "title from line 1",
        "author 'Jane Doe' from byline on line 2",
        "date 'November 16, 2026' from line 3",
        "dropped line 5: repeated headline",
        "dropped line 9: page leftover 'Share'",
        "dropped line 10: page leftover 'Back To Top'",
    ]


# -- images check warns about ----------------------------------------------------------------------


def test_check_warns_about_images_that_would_be_missing(
    runner: CliRunner, make_site: MakeSite
) -> None:
    """Bug 8: an image in content/, a missing image: file and a missing inline image passed."""
    story = (
        "---\ntitle: Play\ndate: 2026-11-16\nimage: /images/poster.png\n---\n\n"
        "Shown: ![ok](/images/ok.png)\n\n![photo](photo.jpg)\n\n"
        '<img src="/images/gone%20now.png" alt="">\n\n![far](https://elsewhere.example/x.png)\n'
    )
    root = make_site({"play/2026-11-16-play.md": story})
    (root / "content" / "play" / "photo.jpg").write_bytes(b"\xff\xd8")
    (root / "static" / "images").mkdir(parents=True)
    (root / "static" / "images" / "ok.png").write_bytes(b"\x89PNG")
    result = invoke(runner, "--site", root, "check", "--now", NOW.isoformat())
    assert_clean_exit(result, 0)
    assert result.stderr.splitlines() == [
        "content/play/2026-11-16-play.md:4: warning: 'image' '/images/poster.png' is not a file in "
        "static/ (looked for static/images/poster.png): add it there, or fix the path",
        "content/play/2026-11-16-play.md:9: warning: the image 'photo.jpg' is next to the article "
        "in content/, which the build never publishes: move it to "
        "static/2026/11/play/photo.jpg, or into static/images/ and write '/images/photo.jpg'",
        "content/play/2026-11-16-play.md:11: warning: the image '/images/gone%20now.png' is not a "
        "file in static/ (looked for static/images/gone now.png): add it there, or fix the path",
        "content/play/photo.jpg: warning: is an image in content/, which the build never "
        "publishes: move it into static/ (static/images/photo.jpg is served as "
        "/images/photo.jpg) and show it from there",
    ]
    strict = invoke(runner, "--site", root, "check", "--strict", "--now", NOW.isoformat())
    assert_clean_exit(strict, 1)


def test_images_that_are_there_give_no_warning(make_site: MakeSite) -> None:
    story = (
        "---\ntitle: Play\ndate: 2026-11-16\nimage: poster.png\n---\n\n![a](../../../images/a.png)"
    )
    root = make_site({"2026-11-16-play.md": story})
    for path in ("static/2026/11/play/poster.png", "static/images/a.png"):
        (root / path).parent.mkdir(parents=True, exist_ok=True)
        (root / path).write_bytes(b"\x89PNG")
    assert warnings(check(load(root), NOW).problems) == []


@pytest.mark.parametrize(
    ("body", "told"),
    [
        ("".join(f"![x](/images/gone-{n}.png)\n\n" for n in range(1000)), 21),
        ("![x](/images/" + "a" * 5000 + ".png)", 1),
        ("![x](/images/a%00b.png)", 1),
        ("![x](/images/" + "a/" * 3000 + "b.png)", 1),
        ("![x](data:image/png;base64,AAAA) ![y](//elsewhere.example/a.png) ![z](?q=1)", 0),
    ],
    ids=["a-thousand", "long-name", "nul", "deep", "not-files"],
)
def test_hostile_image_references_give_bounded_warnings(
    make_site: MakeSite, body: str, told: int
) -> None:
    root = make_site({"2026-11-16-play.md": f"---\ntitle: Play\ndate: 2026-11-16\n---\n\n{body}\n"})
    found = warnings(check(load(root), NOW).problems)
    assert len(found) == told, found[:3]
    if told == 21:
        assert found[-1].message == (
            "and 980 more images that are not files in static/ (the first 20 above)"
        )
