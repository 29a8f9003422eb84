"""The command line: every command's success and failure paths, with exit codes and messages."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from dataclasses import fields
from datetime import UTC, datetime
from pathlib import Path

import click
import pytest
import yaml
from click.testing import CliRunner
from helpers import (
    NOW_ARG,
    REPO,
    SETTINGS,
    TZ,
    MakeSite,
    article,
    assert_clean_exit,
    files_of,
    invoke,
)

from feedpub import __version__, config
from feedpub.cli import main

SUMMARY = re.compile(
    r"^Built (\d+) articles? \((\d+) scheduled, (\d+) drafts?\): (\d+) feeds, (\d+) files written, "
    r"(\d+) unchanged, (\d+) removed in \d+\.\d\d s$"
)


# -- the group -------------------------------------------------------------------------------


def test_version(runner: CliRunner) -> None:
    result = invoke(runner, "--version")
    assert_clean_exit(result, 0)
    assert result.output == f"feedpub, version {__version__}\n"


@pytest.mark.parametrize("args", [["--help"], ["-h"]], ids=["long", "short"])
def test_help_lists_every_command(runner: CliRunner, args: list[str]) -> None:
    result = invoke(runner, *args)
    assert_clean_exit(result, 0)
    assert result.output.startswith("Usage: feedpub [OPTIONS] COMMAND [ARGS]...\n")
    commands = result.output.split("Commands:\n", 1)[1]
    listed = [line.split()[0] for line in commands.splitlines() if line[2:3].strip()]
    assert listed == sorted(main.commands)


USAGE_ERRORS = [
    (["bogus"], "Error: No such command 'bogus'."),
    (["--bogus", "check"], "Error: No such option '--bogus'."),
    (["build", "--bogus"], "Error: No such option '--bogus'."),
    (["new"], "Error: Missing argument 'TITLE'."),
    (["init"], "Error: Missing argument 'FOLDER'."),
    (
        ["build", "--now", "garbage"],
        "Error: Invalid value for '--now': 'garbage' is not a date; use ISO 8601 "
        "(2026-11-20 or 2026-11-20T09:30:00+01:00) or a form like 'November 20, 2026'",
    ),
    (
        ["check", "--now", "2026-02-30"],
        "Error: Invalid value for '--now': '2026-02-30' is not a date; use ISO 8601",
    ),
    (["-q", "-v", "check"], "Error: --quiet and --verbose cannot be used together"),
    (["check", "-q", "-v"], "Error: --quiet and --verbose cannot be used together"),
    (["-q", "build", "-v"], "Error: --quiet and --verbose cannot be used together"),
]


@pytest.mark.parametrize(
    ("args", "message"), USAGE_ERRORS, ids=[" ".join(args) for args, _ in USAGE_ERRORS]
)
def test_usage_errors_exit_2(
    runner: CliRunner, make_site: MakeSite, args: list[str], message: str
) -> None:
    root = make_site({"a.md": article()})
    result = invoke(runner, "--site", root, *args)
    assert_clean_exit(result, 2)
    assert message in result.stderr
    assert "Usage: feedpub" in result.stderr
    assert result.stdout == ""
    assert not (root / "public").exists()


# -- init --------------------------------------------------------------------------------------


def test_init_creates_a_site_that_builds(runner: CliRunner, tmp_path: Path) -> None:
    folder = tmp_path / "my-paper"
    result = invoke(runner, "init", folder)
    assert_clean_exit(result, 0)
    (welcome,) = (folder / "content").iterdir()
    assert re.fullmatch(r"\d{4}-\d\d-\d\d-welcome\.md", welcome.name)
    assert result.output.splitlines() == [
        f"created {folder / 'feedpub.toml'}",
        f"created {welcome}",
        f"created {folder / '.gitignore'}",
        f"Next: edit {folder / 'feedpub.toml'}, then run: feedpub --site {folder} build",
    ]
    assert (folder / ".gitignore").read_text(encoding="utf-8").splitlines() == [
        "/public/",
        "/.feedpub/",
    ]

    site = config.load(folder, env={})
    assert site.site.title == "My Paper"
    assert site.site.url == "https://example.org/"

    # Every setting is present, right under a comment line saying what it does.
    lines = (folder / "feedpub.toml").read_text(encoding="utf-8").splitlines()
    for section, kind in config.SECTIONS.items():
        start = lines.index(f"[{section}]")
        end = next(
            (i for i in range(start + 1, len(lines)) if lines[i].startswith("[")), len(lines)
        )
        for spec in fields(kind):
            key = config.setting_key(spec)
            (number,) = [i for i in range(start, end) if lines[i].startswith(f"{key} = ")]
            assert lines[number - 1] == f"# {spec.metadata['doc']}"
            assert spec.metadata["doc"]

    built = invoke(runner, "--site", folder, "build", "--now", "2100-01-01")
    assert_clean_exit(built, 0)
    # The site's feeds, its author's, and the newsletter's issues feed (before the first issue).
    assert built.output.startswith("Built 1 article (0 scheduled, 0 drafts): 9 feeds, ")
    assert "<title>Welcome</title>" in (folder / "public" / "rss.xml").read_text(encoding="utf-8")


def test_init_twice_refuses_and_changes_nothing(runner: CliRunner, tmp_path: Path) -> None:
    folder = tmp_path / "paper"
    assert_clean_exit(invoke(runner, "init", folder), 0)
    before = files_of(folder)
    result = invoke(runner, "init", folder)
    assert_clean_exit(result, 1)
    assert result.stderr == (
        f"Error: {folder / 'feedpub.toml'} already exists; refusing to overwrite a site\n"
    )
    assert result.stdout == ""
    assert files_of(folder) == before


def test_init_refuses_a_folder_with_content(runner: CliRunner, tmp_path: Path) -> None:
    folder = tmp_path / "paper"
    (folder / "content").mkdir(parents=True)
    (folder / "content" / "mine.md").write_text("mine", encoding="utf-8")
    result = invoke(runner, "init", folder)
    assert_clean_exit(result, 1)
    assert result.stderr == (
        f"Error: {folder / 'content'} already holds files; refusing to overwrite them\n"
    )
    assert files_of(folder) == {"content/mine.md": b"mine"}


def _welcome(folder: Path) -> Path:
    (welcome,) = (folder / "content").iterdir()
    return welcome


@pytest.mark.parametrize("zone", ["America/Los_Angeles", "Asia/Kolkata"])
def test_init_dates_the_welcome_article_so_a_later_timezone_still_publishes_it(
    runner: CliRunner, tmp_path: Path, zone: str
) -> None:
    """Bug 7: the welcome article was dated in UTC without a zone; with the timezone the init
    message invites the editor to set, it lay hours in the future and the first build
    published nothing."""
    folder = tmp_path / "paper"
    assert_clean_exit(invoke(runner, "init", folder), 0)
    made = datetime.fromisoformat(str(read_front_matter(_welcome(folder))["date"]))
    assert made.utcoffset() is not None
    settings = folder / "feedpub.toml"
    text = settings.read_text(encoding="utf-8")
    settings.write_text(text.replace('timezone = "UTC"', f'timezone = "{zone}"'), "utf-8")
    built = invoke(runner, "--site", folder, "build")  # the real clock, as a new user builds
    assert_clean_exit(built, 0)
    assert built.output.startswith("Built 1 article (0 scheduled, 0 drafts)")


def test_init_with_a_timezone_writes_it_and_dates_the_article_there(
    runner: CliRunner, tmp_path: Path
) -> None:
    folder = tmp_path / "paper"
    before = datetime.now(UTC)
    result = invoke(runner, "init", "--timezone", "America/Los_Angeles", folder)
    assert_clean_exit(result, 0)
    site = config.load(folder, env={})
    assert site.site.timezone == "America/Los_Angeles"
    made = datetime.fromisoformat(str(read_front_matter(_welcome(folder))["date"]))
    assert made.utcoffset() == site.tz.utcoffset(made.replace(tzinfo=None))
    assert before.replace(second=0, microsecond=0) <= made <= datetime.now(UTC)
    # The file is named for the day there, as `feedpub new` names its files.
    assert _welcome(folder).name == f"{made:%Y-%m-%d}-welcome.md"
    built = invoke(runner, "--site", folder, "build")
    assert built.output.startswith("Built 1 article (0 scheduled, 0 drafts)")


def test_init_with_a_url_writes_it_and_check_only_asks_for_a_sender(
    runner: CliRunner, tmp_path: Path
) -> None:
    """A new site passes check; what is left is the newsletter's sender, a warning while no
    relay is set (nothing leaves the machine), naming the line to fill in."""
    folder = tmp_path / "paper"
    assert_clean_exit(invoke(runner, "init", "--url", "https://paper.example.net", folder), 0)
    assert config.load(folder, env={}).site.url == "https://paper.example.net/"
    checked = invoke(runner, "--site", folder, "check")
    assert_clean_exit(checked, 0)
    line = (folder / "feedpub.toml").read_text("utf-8").splitlines().index('from = ""') + 1
    assert checked.stderr == (
        f"feedpub.toml:{line}: warning: [newsletter] from is not set: the outbox and the "
        'previews say newsletter@invalid; add from = "Name <address@your.domain>"\n'
    )


def test_check_warns_while_the_url_is_the_one_init_wrote(
    runner: CliRunner, tmp_path: Path
) -> None:
    folder = tmp_path / "paper"
    assert_clean_exit(invoke(runner, "init", folder), 0)
    line = (folder / "feedpub.toml").read_text("utf-8").splitlines().index(
        'url = "https://example.org/"'
    )
    checked = invoke(runner, "--site", folder, "check")
    assert_clean_exit(checked, 0)
    assert checked.stderr.splitlines()[0] == (
        f"feedpub.toml:{line + 1}: warning: [site] url is still https://example.org/, the "
        "placeholder feedpub init writes: every link in the feeds, pages and emails points "
        'there; set it to where public/ is served, e.g. url = "https://news.example.net/"'
    )
    # The other: the newsletter's sender (test_init_with_a_url_writes_it_and_check_only_...).
    assert "2 warnings" in checked.stdout
    assert invoke(runner, "--site", folder, "check", "--strict").exit_code == 1


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--url", "ftp://example.net/"], "Invalid value for '--url': must be an absolute"),
        (["--url", "https://exa mple.net/"], "Invalid value for '--url'"),
        (["--url", "https://e.net/\nhost = 'x'"], "Invalid value for '--url'"),
        (["--url", "https://e.net/" + "a" * 3000], "Invalid value for '--url'"),
        (["--url", ""], "Invalid value for '--url'"),
        (["--timezone", "Mars/Olympus"], "Invalid value for '--timezone': 'Mars/Olympus' is not"),
        (["--timezone", "../../etc/passwd"], "Invalid value for '--timezone'"),
        (["--timezone", "x" * 5000], "Invalid value for '--timezone'"),
    ],
    ids=["scheme", "space", "newline", "huge-url", "empty-url", "zone", "path-zone", "huge-zone"],
)
def test_init_refuses_a_bad_url_or_timezone_and_writes_nothing(
    runner: CliRunner, tmp_path: Path, args: list[str], message: str
) -> None:
    folder = tmp_path / "paper"
    result = invoke(runner, "init", *args, folder)
    assert_clean_exit(result, 2)
    assert message in result.stderr
    assert len(result.stderr) < 1000
    assert not folder.exists()


def test_init_says_what_an_empty_smtp_host_means(runner: CliRunner, tmp_path: Path) -> None:
    folder = tmp_path / "paper"
    assert_clean_exit(invoke(runner, "init", folder), 0)
    lines = (folder / "feedpub.toml").read_text("utf-8").splitlines()
    smtp = lines.index("[smtp]")
    host = lines.index('host = ""', smtp)
    above = "\n".join(lines[smtp:host])
    assert "empty host" in above and ".feedpub/outbox/" in above
    assert "no mail leaves the machine" in above


# -- new ---------------------------------------------------------------------------------------

TRICKY_TITLE = 'Tom & Jerry <3 "quotes": a: b'


def read_front_matter(path: Path) -> dict[str, object]:
    text = path.read_text(encoding="utf-8")
    assert text.startswith("---\n")
    front, _ = text[4:].split("\n---\n", 1)
    data = yaml.safe_load(front)
    assert isinstance(data, dict)
    return data


def new_article(runner: CliRunner, root: Path, *args: str) -> Path:
    """Run ``feedpub new``; check the printed path names today's file; return that file."""
    before = datetime.now(TZ).date()
    result = invoke(runner, "--site", root, "new", *args)
    after = datetime.now(TZ).date()
    assert_clean_exit(result, 0)
    printed = result.stdout.strip()
    days = {f"{before:%Y-%m-%d}", f"{after:%Y-%m-%d}"}
    match = re.fullmatch(r"content/(\d{4}-\d\d-\d\d)-[a-z0-9-]+\.md", printed)
    assert match and match.group(1) in days, printed
    assert result.stdout == printed + "\n"
    return root / printed


def test_new_writes_a_draft_with_an_id(runner: CliRunner, make_site: MakeSite) -> None:
    root = make_site()
    path = new_article(runner, root, TRICKY_TITLE, "--tag", "a", "--tag", "b", "--author", "X")
    assert path.name.endswith("-tom-jerry-3-quotes-a-b.md")
    meta = read_front_matter(path)
    assert meta["title"] == TRICKY_TITLE
    assert meta["tags"] == ["a", "b"]
    assert meta["author"] == "X"
    assert meta["draft"] is True
    assert str(uuid.UUID(str(meta["id"]))) == meta["id"]

    checked = invoke(runner, "--site", root, "check", "--now", NOW_ARG)
    assert_clean_exit(checked, 0)
    assert checked.output == (
        "Checked 1 file: 0 published, 0 scheduled, 1 draft; 0 errors, 0 warnings\n"
    )


def test_new_twice_never_overwrites(runner: CliRunner, make_site: MakeSite) -> None:
    root = make_site()
    first = new_article(runner, root, "Budget vote")
    first_bytes = first.read_bytes()
    second = new_article(runner, root, "Budget vote")
    assert second != first
    assert second.name == first.name.replace(".md", "-2.md")
    assert first.read_bytes() == first_bytes
    assert read_front_matter(first)["id"] != read_front_matter(second)["id"]
    assert read_front_matter(second)["title"] == "Budget vote"


@pytest.mark.parametrize("title", ["", "   \t "], ids=["empty", "blank"])
def test_new_refuses_an_empty_title(runner: CliRunner, make_site: MakeSite, title: str) -> None:
    root = make_site()
    result = invoke(runner, "--site", root, "new", title)
    assert_clean_exit(result, 1)
    assert result.stderr == "Error: the title is empty; give the article a title\n"
    assert list((root / "content").iterdir()) == []


# -- check -------------------------------------------------------------------------------------


def test_check_clean_site(runner: CliRunner, make_site: MakeSite) -> None:
    root = make_site(
        {
            "2026-11-20-a.md": article("A"),
            "later.md": article("Later", date="2027-01-01"),
            "draft.md": article("Draft", draft="true"),
        }
    )
    result = invoke(runner, "--site", root, "check", "--now", NOW_ARG)
    assert_clean_exit(result, 0)
    assert result.stdout == (
        "Checked 3 files: 1 published, 1 scheduled, 1 draft; 0 errors, 0 warnings\n"
    )
    assert result.stderr == ""
    assert not (root / ".feedpub").exists()
    assert not (root / "public").exists()


ARTICLE_ERRORS = [
    (
        "no-title",
        "---\ndate: 2026-11-20\n---\nbody\n",
        "content/x.md:1: error: no title; add one (front matter 'title:' or a 'Title:' line)",
    ),
    (
        "no-front-matter",
        "just text\n",
        "content/x.md:1: error: no front matter; start the file with a '---' line, 'title:' and "
        "'date:', then '---'",
    ),
    (
        "bad-draft",
        "---\ntitle: X\ndate: 2026-11-20\ndraft: maybe\n---\nbody\n",
        "content/x.md:4: error: 'draft' must be true or false, not 'maybe'",
    ),
    (
        "bad-yaml",
        "---\ntitle: [X\ndate: 2026-11-20\n---\nbody\n",
        "content/x.md:3: error: front matter is not valid YAML: did not find expected ',' or ']'",
    ),
    (
        "bad-date",
        "---\ntitle: X\ndate: next week\n---\nbody\n",
        "content/x.md:3: error: 'date': 'next week' is not a date; use ISO 8601",
    ),
    (
        "impossible-date",
        "---\ntitle: X\ndate: 2026-13-45\n---\nbody\n",
        "content/x.md:3: error: 'date': '2026-13-45' is not a date; use ISO 8601",
    ),
    (
        "bad-id",
        "---\ntitle: X\ndate: 2026-11-20\nid: not an id\n---\nbody\n",
        "content/x.md:4: error: 'id' 'not an id' is neither a UUID nor an absolute URI",
    ),
]


@pytest.mark.parametrize(
    ("text", "line"), [(t, m) for _, t, m in ARTICLE_ERRORS], ids=[i for i, _, _ in ARTICLE_ERRORS]
)
def test_check_reports_article_errors(
    runner: CliRunner, make_site: MakeSite, text: str, line: str
) -> None:
    root = make_site({"x.md": text, "ok.md": article("Fine")})
    result = invoke(runner, "--site", root, "check", "--now", NOW_ARG)
    assert_clean_exit(result, 1)
    assert result.stderr.splitlines()[0].startswith(line)
    assert len(result.stderr.splitlines()) == 1
    assert result.stdout == (
        "Checked 2 files: 1 published, 0 scheduled, 0 drafts; 1 error, 0 warnings\n"
    )


WARNING_ARTICLE = article("Hello", colour="red")
WARNING_LINE = (
    "content/w.md:4: warning: unknown front matter key 'colour' is ignored; known keys: "
    "title, date, updated, author, authors, tags, categories, summary, slug, id, draft, image, "
    "url, image_alt, enclosure, duration, episode, season, lang"
)


@pytest.mark.parametrize(("flags", "code"), [([], 0), (["--strict"], 1)], ids=["plain", "strict"])
def test_check_warnings(
    runner: CliRunner, make_site: MakeSite, flags: list[str], code: int
) -> None:
    root = make_site({"w.md": WARNING_ARTICLE})
    result = invoke(runner, "--site", root, "check", "--now", NOW_ARG, *flags)
    assert_clean_exit(result, code)
    assert result.stderr == WARNING_LINE + "\n"
    assert result.stdout == (
        "Checked 1 file: 1 published, 0 scheduled, 0 drafts; 0 errors, 1 warning\n"
    )


def test_a_build_tells_the_warnings_of_changed_files_and_counts_the_others(
    runner: CliRunner, make_site: MakeSite
) -> None:
    names = ["w.md", "x.md", "y.md"]
    root = make_site({name: WARNING_ARTICLE.replace("Hello", name) for name in names})
    lines = [WARNING_LINE.replace("w.md", name) for name in names]
    first = invoke(runner, "--site", root, "build", "--now", NOW_ARG)
    assert_clean_exit(first, 0)
    assert first.stderr.splitlines() == lines
    # A cron job that runs again: nothing changed, nothing repeated but one line.
    again = invoke(runner, "--site", root, "build", "--now", NOW_ARG)
    assert_clean_exit(again, 0)
    assert again.stderr == "3 unchanged files have warnings; `feedpub check` lists them\n"
    with (root / "content" / "x.md").open("a", encoding="utf-8") as file:
        file.write("\nAnother paragraph.\n")
    edited = invoke(runner, "--site", root, "build", "--now", NOW_ARG)
    assert_clean_exit(edited, 0)
    assert edited.stderr.splitlines() == [
        lines[1],
        "2 unchanged files have warnings; `feedpub check` lists them",
    ]
    quiet = invoke(runner, "--site", root, "-q", "build", "--now", NOW_ARG)
    assert_clean_exit(quiet, 0)
    assert quiet.stderr == ""
    checked = invoke(runner, "--site", root, "check", "--now", NOW_ARG)
    assert_clean_exit(checked, 0)
    assert checked.stderr.splitlines() == lines


def test_check_quiet_hides_warnings_and_summary(runner: CliRunner, make_site: MakeSite) -> None:
    root = make_site({"w.md": WARNING_ARTICLE, "x.md": "no front matter\n"})
    result = invoke(runner, "--site", root, "-q", "check", "--now", NOW_ARG)
    assert_clean_exit(result, 1)
    assert result.stdout == ""
    assert result.stderr.splitlines() == [
        "content/x.md:1: error: no front matter; start the file with a '---' line, 'title:' and "
        "'date:', then '---'",
    ]


TEXT_ARTICLE = "Title: Hello there\nDate: 2026-11-20\nTags: a, b\n\nThe body.\n"


@pytest.mark.parametrize(
    "args",
    [["-v", "check"], ["check", "-v"], ["check", "--verbose"]],
    ids=["before", "after", "long"],
)
def test_check_verbose_shows_inferred_metadata(
    runner: CliRunner, make_site: MakeSite, args: list[str]
) -> None:
    root = make_site({"note.txt": TEXT_ARTICLE, "a.md": article("Markdown")})
    result = invoke(runner, "--site", root, *args, "--now", NOW_ARG)
    assert_clean_exit(result, 0)
    assert result.stdout.splitlines() == [
        "content/note.txt: title 'Hello there', date 2026-11-20 00:00 CET, authors Desk",
        "content/note.txt:   kind: header block",
        "Checked 2 files: 2 published, 0 scheduled, 0 drafts; 0 errors, 0 warnings",
    ]


def test_check_without_verbose_hides_inferred_metadata(
    runner: CliRunner, make_site: MakeSite
) -> None:
    root = make_site({"note.txt": TEXT_ARTICLE})
    result = invoke(runner, "--site", root, "check", "--now", NOW_ARG)
    assert_clean_exit(result, 0)
    assert result.stdout == (
        "Checked 1 file: 1 published, 0 scheduled, 0 drafts; 0 errors, 0 warnings\n"
    )


CONFIG_ERRORS = [
    (
        "bad-toml",
        SETTINGS + "[feeds\n",
        "feedpub.toml:8: error: not valid TOML: Expected ']' at the end of a table declaration",
    ),
    (
        "unknown-key",
        SETTINGS + "colour = 'red'\n",
        "feedpub.toml:8: error: unknown setting 'colour' in [site]; known: title, url, "
        "description, language, timezone, author, plugins, ascii_urls, per_page, relative_urls, "
        "logo",
    ),
    (
        "bad-url",
        SETTINGS.replace('"https://news.example.org/"', '"news.example.org"'),
        "feedpub.toml:3: error: [site] url must be an absolute http:// or https:// URL, "
        "like 'https://example.org/'",
    ),
    (
        "bad-type",
        SETTINGS + "[feeds]\nlimit = 'ten'\n",
        "feedpub.toml:9: error: [feeds] limit must be a whole number, not a string",
    ),
    (
        "unknown-section",
        SETTINGS + "[smtpp]\nhost = 'x'\n",
        "feedpub.toml:8: error: unknown section [smtpp]; known sections are "
        + ", ".join(f"[{name}]" for name in config.SECTIONS),
    ),
]


@pytest.mark.parametrize(
    ("settings", "line"),
    [(s, m) for _, s, m in CONFIG_ERRORS],
    ids=[i for i, _, _ in CONFIG_ERRORS],
)
@pytest.mark.parametrize("command", ["check", "build"])
def test_broken_settings(
    runner: CliRunner, make_site: MakeSite, settings: str, line: str, command: str
) -> None:
    root = make_site({"a.md": article()}, settings=settings)
    result = invoke(runner, "--site", root, command, "--now", NOW_ARG)
    assert_clean_exit(result, 1)
    assert result.stderr == f"{line}\nError: 1 error in the settings\n"
    assert result.stdout == ""
    assert not (root / "public").exists()


@pytest.mark.parametrize(
    "args", [["check"], ["build"], ["new", "A title"]], ids=["check", "build", "new"]
)
def test_missing_site_folder(runner: CliRunner, tmp_path: Path, args: list[str]) -> None:
    missing = tmp_path / "nowhere"
    result = invoke(runner, "--site", missing, *args)
    assert_clean_exit(result, 1)
    assert result.stderr == (
        f"{missing}: error: no such folder; pass --site DIR\nError: 1 error in the settings\n"
    )
    assert not missing.exists()


def test_folder_without_settings(runner: CliRunner, tmp_path: Path) -> None:
    result = invoke(runner, "--site", tmp_path, "check")
    assert_clean_exit(result, 1)
    assert result.stderr == (
        f"feedpub.toml: error: no feedpub.toml in {tmp_path}; run 'feedpub init DIR' to start a "
        "site\nError: 1 error in the settings\n"
    )


def test_site_that_is_a_file(runner: CliRunner, tmp_path: Path) -> None:
    path = tmp_path / "file"
    path.write_text("x", encoding="utf-8")
    result = invoke(runner, "--site", path, "check")
    assert_clean_exit(result, 2)
    assert f"Error: Invalid value for '--site': Directory '{path}' is a file." in result.stderr


# -- build -------------------------------------------------------------------------------------

GOOD = {
    "2026-11-20-budget.md": article("Budget vote", tags="[news]"),
    "2026-11-21-play.md": article("Fall play", date="2026-11-21 10:00", author="Ann"),
}


def test_build_success(runner: CliRunner, make_site: MakeSite) -> None:
    root = make_site(GOOD)
    output = root / "public"
    result = invoke(runner, "--site", root, "build", "--now", NOW_ARG)
    assert_clean_exit(result, 0)
    summary, feeds = result.stdout.splitlines()
    match = SUMMARY.match(summary)
    assert match, summary
    written = sum(1 for p in output.rglob("*") if p.is_file())
    # main feed, one tag (news), two authors (Ann, Desk): three documents each
    assert match.groups() == ("2", "0", "0", "12", str(written), "0", "0")
    assert feeds == (
        f"Feeds: {output}/rss.xml, {output}/atom.xml, {output}/feed.json "
        "(readers subscribe to https://news.example.org/rss.xml)"
    )
    assert result.stderr == ""
    for name in (
        "rss.xml",
        "atom.xml",
        "feed.json",
        "index.html",
        "tags/news/rss.xml",
        "2026/11/budget/index.html",
        "2026/11/play/index.html",
    ):
        assert (output / name).is_file(), name

    again = invoke(runner, "--site", root, "build", "--now", NOW_ARG)
    assert_clean_exit(again, 0)
    match = SUMMARY.match(again.stdout.splitlines()[0])
    assert match
    assert match.groups() == ("2", "0", "0", "12", "0", str(written), "0")


def test_build_quiet_prints_nothing(runner: CliRunner, make_site: MakeSite) -> None:
    root = make_site(GOOD)
    result = invoke(runner, "--site", root, "build", "-q", "--now", NOW_ARG)
    assert_clean_exit(result, 0)
    assert result.output == ""
    assert (root / "public" / "rss.xml").is_file()


BAD = "---\ndate: 2026-11-22\n---\nNo title here.\n"
BAD_LINE = "content/bad.md:1: error: no title; add one (front matter 'title:' or a 'Title:' line)"


def test_build_with_a_broken_article_writes_nothing(runner: CliRunner, make_site: MakeSite) -> None:
    root = make_site({**GOOD, "bad.md": BAD})
    result = invoke(runner, "--site", root, "build", "--now", NOW_ARG)
    assert_clean_exit(result, 1)
    assert result.stderr == (
        f"{BAD_LINE}\nError: 1 error in the articles; nothing was written "
        "(fix them, or use --keep-going)\n"
    )
    assert result.stdout == ""
    assert not (root / "public").exists()


def test_later_build_with_a_broken_article_keeps_the_output(
    runner: CliRunner, make_site: MakeSite
) -> None:
    root = make_site(GOOD)
    assert_clean_exit(invoke(runner, "--site", root, "build", "--now", NOW_ARG), 0)
    before = files_of(root / "public")
    # A change that would rewrite every feed, and a broken article next to it.
    (root / "content" / "2026-11-20-budget.md").write_text(
        article("Budget vote, updated"), encoding="utf-8"
    )
    (root / "content" / "bad.md").write_text(BAD, encoding="utf-8")
    result = invoke(runner, "--site", root, "build", "--now", NOW_ARG)
    assert_clean_exit(result, 1)
    assert BAD_LINE in result.stderr.splitlines()
    assert files_of(root / "public") == before


def test_build_keep_going_publishes_the_valid_articles(
    runner: CliRunner, make_site: MakeSite
) -> None:
    root = make_site({**GOOD, "bad.md": BAD})
    result = invoke(runner, "--site", root, "build", "--keep-going", "--now", NOW_ARG)
    assert_clean_exit(result, 1)
    assert result.stderr == (
        f"{BAD_LINE}\nError: 1 article error; published the valid articles only\n"
    )
    match = SUMMARY.match(result.stdout.splitlines()[0])
    assert match
    assert match.group(1) == "2"
    rss = (root / "public" / "rss.xml").read_text(encoding="utf-8")
    assert "<title>Budget vote</title>" in rss
    assert "<title>Fall play</title>" in rss
    assert "No title here" not in rss


def test_build_now_decides_what_is_published(runner: CliRunner, make_site: MakeSite) -> None:
    root = make_site(GOOD)
    result = invoke(runner, "--site", root, "build", "--now", "2026-11-20 12:00")
    assert_clean_exit(result, 0)
    assert result.stdout.startswith("Built 1 article (1 scheduled, 0 drafts): ")


# -- every command documented ------------------------------------------------------------------


def walk(group: click.Group, prefix: tuple[str, ...] = ()) -> Iterator[tuple[str, click.Command]]:
    for name, command in sorted(group.commands.items()):
        path = (*prefix, name)
        yield " ".join(path), command
        if isinstance(command, click.Group):
            yield from walk(command, path)


COMMANDS = list(walk(main))


def test_commands_found() -> None:
    assert {name for name, _ in COMMANDS} >= {"init", "new", "check", "build"}


@pytest.mark.parametrize(("name", "command"), COMMANDS, ids=[name for name, _ in COMMANDS])
def test_command_has_help(runner: CliRunner, name: str, command: click.Command) -> None:
    assert (command.help or "").strip()
    for param in command.params:
        if isinstance(param, click.Option):
            assert (param.help or "").strip(), f"{name} {param.opts[0]} has no help"
    result = invoke(runner, *name.split(), "--help")
    assert_clean_exit(result, 0)
    assert result.output.startswith(f"Usage: feedpub {name} ")
    assert (command.help or "").split()[0] in result.output


@pytest.mark.parametrize("name", [name for name, _ in COMMANDS])
def test_command_is_in_the_readme(name: str) -> None:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    assert f"feedpub {name}" in readme, f"README.md does not mention 'feedpub {name}'"
