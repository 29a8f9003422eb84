"""Site settings: defaults < feedpub.toml < environment < flags, validated into a frozen Site."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from feedpub import config
from feedpub.config import FeedSettings, Site, SiteSettings
from feedpub.errors import ConfigError, Problem

MINIMAL = """\
[site]
title = "Test Gazette"
url = "https://news.example.org/"
"""

FULL = """\
# The test paper.
[site]
title = "Test Gazette"
url = "https://news.example.org/paper"
description = "A site for tests"
language = "en-GB"
timezone = "Europe/Berlin"
author = "Desk"

[feeds]
limit = 20
full_content = false
output = "build"
"""


def write(tmp_path: Path, text: str | bytes) -> Path:
    """A site folder holding ``text`` as its feedpub.toml, with a content folder."""
    root = tmp_path / "site"
    (root / "content").mkdir(parents=True, exist_ok=True)
    path = root / "feedpub.toml"
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8")
    return root


def load(
    root: Path,
    env: dict[str, str] | None = None,
    overrides: dict[tuple[str, str], object] | None = None,
) -> Site:
    """config.load with an empty environment unless one is given."""
    return config.load(root, env={} if env is None else env, overrides=overrides)


def problems_of(
    root: Path,
    env: dict[str, str] | None = None,
    overrides: dict[tuple[str, str], object] | None = None,
) -> list[Problem]:
    """The problems load() raises; the error's text is the problems, one a line."""
    with pytest.raises(ConfigError) as info:
        load(root, env, overrides)
    problems = info.value.problems
    assert problems
    assert all(isinstance(p, Problem) for p in problems)
    assert str(info.value) == "\n".join(str(p) for p in problems)
    return problems


def only_problem(
    root: Path,
    env: dict[str, str] | None = None,
    overrides: dict[tuple[str, str], object] | None = None,
) -> Problem:
    problems = problems_of(root, env, overrides)
    assert len(problems) == 1, problems
    assert problems[0].severity == "error"
    return problems[0]


# A valid file


def test_valid_file_gives_every_value(tmp_path: Path) -> None:
    root = write(tmp_path, FULL)
    site = load(root)
    assert site == Site(
        root=root.resolve(),
        site=SiteSettings(
            title="Test Gazette",
            url="https://news.example.org/paper/",
            description="A site for tests",
            language="en-GB",
            timezone="Europe/Berlin",
            author="Desk",
        ),
        feeds=FeedSettings(limit=20, full_content=False, output="build"),
    )
    assert site.tz == ZoneInfo("Europe/Berlin")
    assert site.output_dir == root.resolve() / "build"
    assert site.content_dir == root.resolve() / "content"
    assert site.config_path == root.resolve() / "feedpub.toml"


@pytest.mark.parametrize(
    ("part", "name"),
    [("", "root"), ("site", "title"), ("site", "url"), ("feeds", "limit")],
    ids=["site-root", "site-title", "site-url", "feeds-limit"],
)
def test_site_is_frozen(tmp_path: Path, part: str, name: str) -> None:
    site = load(write(tmp_path, FULL))
    obj = getattr(site, part) if part else site
    before = getattr(obj, name)
    with pytest.raises(dataclasses.FrozenInstanceError):
        setattr(obj, name, "changed")
    assert getattr(obj, name) == before


def test_defaults_fill_what_the_file_leaves_out(tmp_path: Path) -> None:
    root = write(tmp_path, MINIMAL)
    site = load(root)
    assert site.site == SiteSettings(
        title="Test Gazette",
        url="https://news.example.org/",
        description="",
        language="en",
        timezone="UTC",
        author="",
    )
    assert site.feeds == FeedSettings(limit=50, full_content=True, output="public")
    assert site.tz == ZoneInfo("UTC")
    assert site.output_dir == root.resolve() / "public"


def test_utf8_bom_is_accepted(tmp_path: Path) -> None:
    site = load(write(tmp_path, b"\xef\xbb\xbf" + MINIMAL.encode()))
    assert site.site.title == "Test Gazette"


def test_quoted_keys_and_inline_tables_are_read(tmp_path: Path) -> None:
    text = 'site = { title = "Inline", url = "https://a.example" }\n[feeds]\n"limit" = 7\n'
    site = load(write(tmp_path, text))
    assert (site.site.title, site.site.url, site.feeds.limit) == ("Inline", "https://a.example/", 7)


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://example.org", "https://example.org/"),
        ("https://example.org/", "https://example.org/"),
        ("https://example.org/news", "https://example.org/news/"),
        ("https://example.org/news/", "https://example.org/news/"),
        ("http://example.org:8080", "http://example.org:8080/"),
    ],
    ids=["host-bare", "host-slash", "path-bare", "path-slash", "http-port"],
)
def test_url_always_ends_in_one_slash(tmp_path: Path, url: str, expected: str) -> None:
    text = f'[site]\ntitle = "T"\nurl = "{url}"\n'
    assert load(write(tmp_path, text)).site.url == expected


def test_with_and_without_trailing_slash_are_the_same_site(tmp_path: Path) -> None:
    bare = load(write(tmp_path / "a", '[site]\ntitle = "T"\nurl = "https://example.org/x"\n'))
    slash = load(write(tmp_path / "b", '[site]\ntitle = "T"\nurl = "https://example.org/x/"\n'))
    assert bare.site == slash.site
    assert bare.site.url.endswith("/")
    assert not bare.site.url.endswith("//")


# The file itself


def test_missing_file_says_to_run_init(tmp_path: Path) -> None:
    root = tmp_path / "empty"
    root.mkdir()
    problem = only_problem(root)
    assert problem.path == "feedpub.toml"
    assert problem.line == 0
    assert "no feedpub.toml" in problem.message
    assert "feedpub init" in problem.message
    assert str(problem).startswith("feedpub.toml: error: no feedpub.toml in ")


def test_missing_folder_is_an_error(tmp_path: Path) -> None:
    problem = only_problem(tmp_path / "nowhere")
    assert "no such folder" in problem.message
    assert problem.path == str((tmp_path / "nowhere").resolve())


def test_not_utf8_names_the_line(tmp_path: Path) -> None:
    raw = b'[site]\ntitle = "T"\ndescription = "caf\xe9"\nurl = "https://example.org/"\n'
    problem = only_problem(write(tmp_path, raw))
    assert problem.line == 3
    assert "UTF-8" in problem.message
    assert str(problem) == "feedpub.toml:3: error: is not UTF-8; save it as UTF-8"


@pytest.mark.parametrize(
    ("text", "line", "words"),
    [
        ('[site]\ntitle = "T\nurl = "https://example.org/"\n', 2, "Illegal character"),
        ('[site]\ntitle = "T"\nurl = https://example.org/\n', 3, "Invalid value"),
        ('[site]\ntitle = "T"\ntitle = "U"\n', 3, "Cannot overwrite"),
        ('[site\ntitle = "T"\n', 1, "Expected ']'"),
        ('[site]\ntitle = "T"\n\n\nurl = "https://example.org/" x\n', 5, "Expected newline"),
    ],
    ids=["unclosed-string", "unquoted-value", "duplicate-key", "unclosed-header", "trailing"],
)
def test_toml_syntax_error_names_the_line(tmp_path: Path, text: str, line: int, words: str) -> None:
    problem = only_problem(write(tmp_path, text))
    assert problem.line == line
    assert problem.message.startswith("not valid TOML: ")
    assert words in problem.message
    assert "(at line" not in problem.message
    assert str(problem).startswith(f"feedpub.toml:{line}: error: not valid TOML: ")


def test_file_over_one_megabyte_is_refused(tmp_path: Path) -> None:
    text = MINIMAL + "#" * (config.MAX_CONFIG_BYTES - len(MINIMAL)) + "\n"
    problem = only_problem(write(tmp_path, text))
    assert problem.line == 0
    assert f"is {config.MAX_CONFIG_BYTES + 1} bytes" in problem.message
    assert "refused" in problem.message


def test_file_of_exactly_the_limit_is_read(tmp_path: Path) -> None:
    text = MINIMAL + "#" * (config.MAX_CONFIG_BYTES - len(MINIMAL) - 1) + "\n"
    assert len(text.encode()) == config.MAX_CONFIG_BYTES
    assert load(write(tmp_path, text)).site.title == "Test Gazette"


# Unknown names


@pytest.mark.parametrize(
    ("text", "line", "words"),
    [
        (MINIMAL + "\n[newsletters]\nday = 5\n", 5, "unknown section [newsletters]"),
        (MINIMAL + "[feeds]\nlimt = 3\n", 5, "unknown setting 'limt' in [feeds]"),
        (
            '[site]\ntitle = "T"\ntitel = "U"\nurl = "https://example.org/"\n',
            3,
            "unknown setting 'titel' in [site]",
        ),
        ('titel = "T"\n' + MINIMAL, 1, "'titel'"),
    ],
    ids=["section", "feeds-key", "site-key", "top-level-key"],
)
def test_unknown_name_is_an_error_with_its_line(
    tmp_path: Path, text: str, line: int, words: str
) -> None:
    problem = only_problem(write(tmp_path, text))
    assert words in problem.message
    assert problem.line == line


def test_unknown_key_lists_the_known_ones(tmp_path: Path) -> None:
    problem = only_problem(write(tmp_path, MINIMAL + "[feeds]\nlimt = 3\n"))
    assert "known: limit, full_content, output" in problem.message


# Wrong types


@pytest.mark.parametrize(
    ("text", "line", "words"),
    [
        (
            MINIMAL + '[feeds]\nlimit = "20"\n',
            5,
            "[feeds] limit must be a whole number, not a string",
        ),
        (
            MINIMAL + "[feeds]\nlimit = true\n",
            5,
            "[feeds] limit must be a whole number, not a boolean",
        ),
        (MINIMAL + "[feeds]\nlimit = 2.5\n", 5, "[feeds] limit must be a whole number"),
        (
            '[site]\ntitle = 42\nurl = "https://example.org/"\n',
            2,
            "[site] title must be a string in quotes, not a number",
        ),
        (
            MINIMAL + 'author = { name = "Desk" }\n',
            4,
            "[site] author must be a string in quotes, not a table",
        ),
        (
            MINIMAL + 'description = ["a", "b"]\n',
            4,
            "[site] description must be a string in quotes, not a list",
        ),
        (
            MINIMAL + '[feeds]\nfull_content = "yes"\n',
            5,
            "[feeds] full_content must be true or false, not a string",
        ),
        (
            MINIMAL + "[feeds]\nfull_content = 1\n",
            5,
            "[feeds] full_content must be true or false, not a number",
        ),
        (
            MINIMAL + "timezone = 2026-11-20\n",
            4,
            "[site] timezone must be a string in quotes, not a date",
        ),
        ('site = "Gazette"\n', 1, "'site' must be a table"),
        ("feeds = 50\n" + MINIMAL, 1, "'feeds' must be a table"),
    ],
    ids=[
        "limit-string",
        "limit-true",
        "limit-float",
        "title-number",
        "author-table",
        "description-list",
        "full-content-string",
        "full-content-number",
        "timezone-date",
        "site-string",
        "feeds-number",
    ],
)
def test_wrong_type_names_key_and_line(tmp_path: Path, text: str, line: int, words: str) -> None:
    problems = problems_of(write(tmp_path, text))
    matching = [p for p in problems if words in p.message]
    assert len(matching) == 1, problems
    assert matching[0].line == line
    assert matching[0].severity == "error"
    assert str(matching[0]).startswith(f"feedpub.toml:{line}: error: ")


def test_feeds_setting_in_the_site_section_is_unknown(tmp_path: Path) -> None:
    problem = only_problem(write(tmp_path, MINIMAL + "limit = 5\n"))
    assert "unknown setting 'limit' in [site]" in problem.message
    assert problem.line == 4


# Bad values


@pytest.mark.parametrize(
    ("line_text", "key", "words"),
    [
        ('url = "ftp://example.org/"', "[site] url", "http:// or https://"),
        ('url = "https:///news/"', "[site] url", "http:// or https://"),
        ('url = "example.org"', "[site] url", "http:// or https://"),
        ('url = "https://exa mple.org/"', "[site] url", "spaces"),
        ('url = "https://example.org/my news/"', "[site] url", "spaces"),
        ('url = "https://example.org/?page=1"', "[site] url", "query"),
        ('url = "https://example.org:99999/"', "[site] url", "port"),
        ('timezone = "Mars/Olympus_Mons"', "[site] timezone", "not a known timezone"),
        ('timezone = "../../etc/passwd"', "[site] timezone", "not a known timezone"),
        ('timezone = "/etc/passwd"', "[site] timezone", "not a known timezone"),
        ('timezone = "Europe"', "[site] timezone", "not a known timezone"),
        ('timezone = ""', "[site] timezone", "not a known timezone"),
        ('language = "english"', "[site] language", "not a language tag"),
        ('language = "en_US"', "[site] language", "not a language tag"),
        ('language = "e"', "[site] language", "not a language tag"),
        ('language = "en\\n"', "[site] language", "not a language tag"),
        ('title = "  "', "[site] title", "must not be empty"),
    ],
    ids=[
        "url-ftp",
        "url-no-host",
        "url-no-scheme",
        "url-space-host",
        "url-space-path",
        "url-query",
        "url-bad-port",
        "tz-unknown",
        "tz-relative-path",
        "tz-absolute-path",
        "tz-folder",
        "tz-empty",
        "lang-word",
        "lang-underscore",
        "lang-one-letter",
        "lang-line-break",
        "title-blank",
    ],
)
def test_bad_site_value_names_key_and_line(
    tmp_path: Path, line_text: str, key: str, words: str
) -> None:
    lines = ["[site]", 'title = "T"', 'url = "https://example.org/"', 'language = "en"']
    name = line_text.split()[0]
    lines = [line_text if line.startswith(name + " ") else line for line in lines]
    if line_text not in lines:
        lines.append(line_text)
    problem = only_problem(write(tmp_path, "\n".join(lines) + "\n"))
    assert problem.message.startswith(key + " ")
    assert words in problem.message
    assert problem.line == lines.index(line_text) + 1


@pytest.mark.parametrize(
    ("line_text", "words"),
    [
        ("limit = 0", "between 1 and 100000"),
        ("limit = -5", "between 1 and 100000"),
        ("limit = 1000000000", "between 1 and 100000"),
        ('output = ""', "must name a folder"),
        ('output = "   "', "must name a folder"),
        ('output = "pub\\u0000lic"', "must name a folder"),
    ],
    ids=[
        "limit-zero",
        "limit-negative",
        "limit-billion",
        "output-empty",
        "output-blank",
        "output-nul",
    ],
)
def test_bad_feeds_value_names_key_and_line(tmp_path: Path, line_text: str, words: str) -> None:
    problem = only_problem(write(tmp_path, MINIMAL + "\n[feeds]\n" + line_text + "\n"))
    key = line_text.split()[0]
    assert problem.message.startswith(f"[feeds] {key} ")
    assert words in problem.message
    assert problem.line == 6


@pytest.mark.parametrize("limit", [1, 100_000], ids=["lowest", "highest"])
def test_limit_bounds_are_allowed(tmp_path: Path, limit: int) -> None:
    site = load(write(tmp_path, MINIMAL + f"[feeds]\nlimit = {limit}\n"))
    assert site.feeds.limit == limit


def test_every_problem_is_reported_at_once(tmp_path: Path) -> None:
    text = '[site]\ntitle = 1\nurl = "ftp://x.org"\nlanguage = "?"\n[feeds]\nlimit = 0\n'
    problems = problems_of(write(tmp_path, text))
    assert sorted((p.line, p.message.split()[1]) for p in problems) == [
        (2, "title"),
        (3, "url"),
        (4, "language"),
        (6, "limit"),
    ]


# Required settings


@pytest.mark.parametrize(
    ("text", "missing", "line"),
    [
        ('[site]\nurl = "https://example.org/"\n', ["title"], 1),
        ('# comment\n[site]\ntitle = "T"\n', ["url"], 2),
        ("[feeds]\nlimit = 5\n", ["title", "url"], 0),
        ("", ["title", "url"], 0),
    ],
    ids=["no-title", "no-url", "no-site-section", "empty-file"],
)
def test_required_setting_missing(tmp_path: Path, text: str, missing: list[str], line: int) -> None:
    problems = problems_of(write(tmp_path, text))
    assert [p.message.split()[1] for p in problems] == missing
    for problem, key in zip(problems, missing, strict=True):
        assert problem.message == f'[site] {key} is required; add a line: {key} = "..."'
        assert problem.line == line


# The environment


def test_env_url_replaces_the_file_url(tmp_path: Path) -> None:
    site = load(write(tmp_path, MINIMAL), env={"FEEDPUB_SITE_URL": "https://staging.example.org"})
    assert site.site.url == "https://staging.example.org/"
    assert site.site.title == "Test Gazette"


def test_env_can_supply_a_required_setting(tmp_path: Path) -> None:
    root = write(tmp_path, '[site]\ntitle = "T"\n')
    site = load(root, env={"FEEDPUB_SITE_URL": "https://example.org"})
    assert site.site.url == "https://example.org/"


@pytest.mark.parametrize(
    ("variable", "value", "words"),
    [
        ("FEEDPUB_FEEDS_LIMIT", "abc", "[feeds] limit must be a whole number"),
        ("FEEDPUB_FEEDS_LIMIT", "0", "[feeds] limit must be between 1 and 100000"),
        ("FEEDPUB_FEEDS_LIMIT", "1.5", "[feeds] limit must be a whole number"),
        ("FEEDPUB_FEEDS_FULL_CONTENT", "maybe", "[feeds] full_content must be true or false"),
        ("FEEDPUB_SITE_URL", "ftp://example.org", "[site] url must be an absolute"),
        ("FEEDPUB_SITE_TIMEZONE", "Nowhere/City", "[site] timezone 'Nowhere/City' is not"),
        ("FEEDPUB_SITE_TITLE", " ", "[site] title must not be empty"),
    ],
    ids=["limit-word", "limit-zero", "limit-decimal", "bool-word", "url-ftp", "tz", "title-blank"],
)
def test_bad_env_value_names_the_variable(
    tmp_path: Path, variable: str, value: str, words: str
) -> None:
    problem = only_problem(write(tmp_path, MINIMAL), env={variable: value})
    assert problem.path == f"environment variable {variable}"
    assert problem.line == 0
    assert problem.message.startswith(words)
    assert str(problem).startswith(f"environment variable {variable}: error: ")


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("false", False),
        ("FALSE", False),
        ("0", False),
        ("no", False),
        (" off ", False),
        ("true", True),
        ("1", True),
        ("Yes", True),
        ("on", True),
    ],
    ids=["false", "FALSE", "0", "no", "off-spaced", "true", "1", "Yes", "on"],
)
def test_env_boolean(tmp_path: Path, value: str, expected: bool) -> None:
    text = MINIMAL + f"[feeds]\nfull_content = {str(not expected).lower()}\n"
    site = load(write(tmp_path, text), env={"FEEDPUB_FEEDS_FULL_CONTENT": value})
    assert site.feeds.full_content is expected


def test_env_number_is_read(tmp_path: Path) -> None:
    site = load(write(tmp_path, MINIMAL), env={"FEEDPUB_FEEDS_LIMIT": " 12 "})
    assert site.feeds.limit == 12


def test_env_defaults_to_the_process_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FEEDPUB_SITE_TITLE", "From the environment")
    root = write(tmp_path, MINIMAL)
    assert config.load(root).site.title == "From the environment"
    assert config.load(root, env={}).site.title == "Test Gazette"


def test_unrelated_env_variables_are_ignored(tmp_path: Path) -> None:
    env = {"FEEDPUB_SITE_COLOR": "red", "FEEDPUB_SMTP_HOST": "x", "SITE_URL": "ftp://x"}
    assert load(write(tmp_path, MINIMAL), env=env).site.url == "https://news.example.org/"


# Precedence: defaults < file < environment < overrides


@pytest.mark.parametrize(
    ("in_file", "in_env", "in_overrides", "expected"),
    [
        (False, False, False, 50),
        (True, False, False, 20),
        (True, True, False, 30),
        (False, True, False, 30),
        (True, True, True, 40),
        (True, False, True, 40),
        (False, False, True, 40),
    ],
    ids=[
        "default",
        "file",
        "env-over-file",
        "env-over-default",
        "override-over-all",
        "override-over-file",
        "override-over-default",
    ],
)
def test_precedence(
    tmp_path: Path, in_file: bool, in_env: bool, in_overrides: bool, expected: int
) -> None:
    text = MINIMAL + ("[feeds]\nlimit = 20\n" if in_file else "")
    env = {"FEEDPUB_FEEDS_LIMIT": "30"} if in_env else {}
    overrides: dict[tuple[str, str], object] | None = (
        {("feeds", "limit"): 40} if in_overrides else None
    )
    site = load(write(tmp_path, text), env=env, overrides=overrides)
    assert site.feeds.limit == expected


def test_override_given_as_text_is_converted(tmp_path: Path) -> None:
    overrides: dict[tuple[str, str], object] = {
        ("feeds", "limit"): "25",
        ("feeds", "full_content"): "no",
    }
    site = load(write(tmp_path, MINIMAL), overrides=overrides)
    assert (site.feeds.limit, site.feeds.full_content) == (25, False)


def test_bad_override_names_the_option(tmp_path: Path) -> None:
    problem = only_problem(write(tmp_path, MINIMAL), overrides={("site", "url"): "not a url"})
    assert problem.path == "option for site.url"
    assert problem.message.startswith("[site] url ")


def test_override_hides_a_bad_file_value(tmp_path: Path) -> None:
    # The file's value is never used, so it is not judged either.
    root = write(tmp_path, MINIMAL + "[feeds]\nlimit = 0\n")
    assert load(root, overrides={("feeds", "limit"): 9}).feeds.limit == 9


# The output folder


@pytest.mark.parametrize(
    "output",
    [
        ".",
        "./",
        "..",
        "content",
        "content/public",
        "templates",
        ".feedpub",
        "feedpub.toml",
        "public/..",
        "../site",
    ],
    ids=[
        "dot",
        "dot-slash",
        "parent",
        "content",
        "inside-content",
        "templates",
        "state",
        "config-file",
        "back-to-root",
        "root-by-parent",
    ],
)
def test_output_overlapping_the_site_is_an_error(tmp_path: Path, output: str) -> None:
    problem = only_problem(write(tmp_path, MINIMAL + f'\n[feeds]\noutput = "{output}"\n'))
    assert problem.line == 6
    assert f"[feeds] output {output!r} overlaps the site's own files" in problem.message
    assert "'public'" in problem.message


@pytest.mark.parametrize(
    "output", ["public", "build/site", "public/content"], ids=["public", "nested", "named-content"]
)
def test_output_of_its_own_is_fine(tmp_path: Path, output: str) -> None:
    root = write(tmp_path, MINIMAL + f'[feeds]\noutput = "{output}"\n')
    assert load(root).output_dir == root.resolve() / output


def test_output_outside_the_site_is_fine(tmp_path: Path) -> None:
    elsewhere = tmp_path / "deploy"
    root = write(tmp_path, MINIMAL + f"[feeds]\noutput = '{elsewhere}'\n")
    assert load(root).output_dir == elsewhere.resolve()


# Problems print as PATH:LINE: severity: MESSAGE


@pytest.mark.parametrize(
    ("problem", "text"),
    [
        (Problem("feedpub.toml", 3, "error", "bad"), "feedpub.toml:3: error: bad"),
        (Problem("feedpub.toml", 0, "error", "bad"), "feedpub.toml: error: bad"),
        (Problem("a/b.md", 12, "warning", "odd"), "a/b.md:12: warning: odd"),
    ],
    ids=["with-line", "without-line", "warning"],
)
def test_problem_text(problem: Problem, text: str) -> None:
    assert str(problem) == text


def test_example_site_settings_load() -> None:
    repo = Path(__file__).resolve().parent.parent
    site = load(repo)
    assert site.site.title == "The Millbrook Ledger"
    assert site.site.url == "https://ledger.millbrook.example/"
    assert site.tz == ZoneInfo("America/Chicago")
