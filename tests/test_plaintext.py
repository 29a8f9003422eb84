"""The plain-text reader: header-block files and articles saved from news web pages."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from helpers import errors
from hypothesis import given
from hypothesis import strategies as st

from feedpub.config import FeedSettings, Site, SiteSettings
from feedpub.content.readers.plaintext import read_text
from feedpub.errors import Problem
from feedpub.model import Article

BERLIN = ZoneInfo("Europe/Berlin")
RELPATH = "news/article.txt"


def new_site(root: Path) -> Site:
    return Site(
        root=root,
        site=SiteSettings(title="T", url="https://example.org/", timezone="Europe/Berlin"),
        feeds=FeedSettings(),
    )


@pytest.fixture
def site(tmp_path: Path) -> Site:
    return new_site(tmp_path)


def read(site: Site, text: str, name: str = "article.txt") -> tuple[Article | None, list[Problem]]:
    return read_text(site.root / name, RELPATH, text, site)


def read_ok(site: Site, text: str, name: str = "article.txt") -> Article:
    """Read text that must make an article without errors."""
    article, problems = read(site, text, name)
    assert [p for p in problems if p.severity == "error"] == []
    assert article is not None
    return article


def paragraphs(article: Article) -> list[str]:
    assert article.body is not None
    return article.body.split("\n\n")


# -- header block -----------------------------------------------------------------------------

EVERY_KEY = """\
Title: Budget  Vote Delayed
Date: 2025-03-03 09:30
Updated: March 4, 2025
Author: Jane Doe and John Roe & Ann Poe
Tags: council, budget
Summary: The vote moves to April.
Slug: budget-vote
Id: 6f1c2f4e-4b7a-4c53-9d55-0d7f6b1a2c3e
Draft: yes
Image: https://example.org/img/vote.jpg
Url: https://example.org/elsewhere/budget

The council postponed
the vote.

It meets again in April.
"""


def test_header_block_reads_every_key(site: Site) -> None:
    article, problems = read(site, EVERY_KEY)
    assert problems == []
    assert article is not None
    assert article.title == "Budget Vote Delayed"
    assert article.date == datetime(2025, 3, 3, 9, 30, tzinfo=BERLIN)
    assert article.updated == datetime(2025, 3, 4, tzinfo=BERLIN)
    assert article.authors == ("Jane Doe", "John Roe", "Ann Poe")
    assert article.tags == ("council", "budget")
    assert article.summary == "The vote moves to April."
    assert article.slug == "budget-vote"
    assert article.explicit_id == "urn:uuid:6f1c2f4e-4b7a-4c53-9d55-0d7f6b1a2c3e"
    assert article.draft is True
    assert article.image == "https://example.org/img/vote.jpg"
    assert article.url == "https://example.org/elsewhere/budget"
    assert article.body == "The council postponed the vote.\n\nIt meets again in April."
    assert article.body_format == "text"
    assert article.inferred == ("kind: header block",)


def test_header_keys_ignore_case_and_allow_leading_blank_lines(site: Site) -> None:
    article = read_ok(
        site, "\n\nTITLE: Loud\ndate:2025-03-03\nauthors: Jane Doe, John Roe\n\nBody."
    )
    assert article.title == "Loud"
    assert article.date == datetime(2025, 3, 3, tzinfo=BERLIN)
    assert article.authors == ("Jane Doe", "John Roe")
    assert article.body == "Body."


@pytest.mark.parametrize(
    ("written", "expected"),
    [("yes", True), ("No", False), ("TRUE", True), ("false", False)],
    ids=["yes", "No", "TRUE", "false"],
)
def test_header_draft_values(site: Site, written: str, expected: bool) -> None:
    article = read_ok(site, f"Title: T\nDate: 2025-03-03\nDraft: {written}\n\nBody.")
    assert article.draft is expected


def test_header_draft_other_value_is_an_error(site: Site) -> None:
    article, problems = read(site, "Title: T\nDate: 2025-03-03\nDraft: maybe\n\nBody.")
    assert article is None
    assert [(p.line, p.message) for p in errors(problems)] == [
        (3, "'draft' must be true or false, not 'maybe'")
    ]


def test_unknown_header_key_is_a_warning_naming_the_known_keys(site: Site) -> None:
    article, problems = read(site, "Title: T\nColour: blue\nDate: 2025-03-03\n\nBody.")
    assert article is not None
    assert article.title == "T"
    [warning] = problems
    assert (warning.path, warning.line, warning.severity) == (RELPATH, 2, "warning")
    assert "'Colour'" in warning.message
    for key in ("Title", "Date", "Authors", "Tags", "Draft", "Url"):
        assert key in warning.message


def test_repeated_header_key_warns_and_uses_the_last(site: Site) -> None:
    article, problems = read(site, "Title: First\nDate: 2025-03-03\ntitle: Second\n\nBody.")
    assert article is not None
    assert article.title == "Second"
    assert [(p.line, p.severity, p.message) for p in problems] == [
        (3, "warning", "'title' given twice; using the last")
    ]


def test_author_and_authors_count_as_one_key(site: Site) -> None:
    text = "Title: T\nDate: 2025-03-03\nAuthor: Jane Doe\nAuthors: John Roe\n\nBody."
    article, problems = read(site, text)
    assert article is not None
    assert article.authors == ("John Roe",)
    assert [(p.line, p.severity) for p in problems] == [(4, "warning")]
    assert "'Author'" in problems[0].message and "'Authors'" in problems[0].message


def test_malformed_header_line_is_an_error_with_its_line(site: Site) -> None:
    text = "Title: T\nDate: 2025-03-03\nthis is not a header line\n\nBody."
    article, problems = read(site, text)
    assert article is None
    assert [(p.path, p.line, p.severity, p.message) for p in problems] == [
        (
            RELPATH,
            3,
            "error",
            "line 3 in the header block is not 'Key: value'; end the header with a blank line",
        )
    ]


def test_header_block_without_title_is_an_error(site: Site) -> None:
    article, problems = read(site, "Date: 2025-03-03\n\nBody.")
    assert article is None
    assert any("no title" in p.message for p in errors(problems))


def test_unknown_key_on_the_first_line_does_not_start_a_header_block(site: Site) -> None:
    article = read_ok(site, "March 3, 2025\nNote: this is a headline\n\nBody.")
    assert article.title == "Note: this is a headline"
    assert article.inferred[0] == "kind: web page"


# -- web page ---------------------------------------------------------------------------------

WEB_PAGE = """\
March 3, 2025
City Council Approves New Riverside Park
News
The Riverside Courier
City council approves new  riverside park
By:\u00a0\u00a0Jane  Doe

The city council voted 7-2 on Monday
to approve a new park along
the river.

Construction starts in the spring
and should take a year.

"We waited a long time," said
a neighbour.

Back To Top
"""


def test_web_page_article(site: Site) -> None:
    article, problems = read(site, WEB_PAGE)
    assert problems == []
    assert article is not None
    assert article.title == "City Council Approves New Riverside Park"
    assert article.date == datetime(2025, 3, 3, tzinfo=BERLIN)
    assert article.date.tzinfo == BERLIN
    assert article.authors == ("Jane Doe",)
    assert paragraphs(article) == [
        "The city council voted 7-2 on Monday to approve a new park along the river.",
        "Construction starts in the spring and should take a year.",
        '"We waited a long time," said a neighbour.',
    ]
    assert article.body is not None
    for gone in ("News", "Riverside Courier", "Back To Top", "By", "approves new"):
        assert gone not in article.body
    assert article.inferred == (
        "kind: web page",
        "date 'March 3, 2025' from line 1",
        "title from line 2",
        "dropped line 3: label 'News'",
        "dropped line 4: label 'The Riverside Courier'",
        "dropped line 5: repeated headline",
        "author 'Jane Doe' from byline on line 6",
        "dropped line 18: page leftover 'Back To Top'",
    )


@pytest.mark.parametrize(
    ("byline", "authors", "note"),
    [
        ("By Jane Doe", ("Jane Doe",), "author 'Jane Doe' from byline on line 4"),
        ("BY: Jane Doe", ("Jane Doe",), "author 'Jane Doe' from byline on line 4"),
        ("By\tJane Doe", ("Jane Doe",), "author 'Jane Doe' from byline on line 4"),
        ("by\u2009Jane\u202fDoe", ("Jane Doe",), "author 'Jane Doe' from byline on line 4"),
        (
            "By Jane Doe and John Roe",
            ("Jane Doe", "John Roe"),
            "authors 'Jane Doe', 'John Roe' from byline on line 4",
        ),
        (
            "By Jane Doe & John Roe, Ann Poe",
            ("Jane Doe", "John Roe", "Ann Poe"),
            "authors 'Jane Doe', 'John Roe', 'Ann Poe' from byline on line 4",
        ),
        (
            "By Jane Doe, Staff Writer",
            ("Jane Doe",),
            "author 'Jane Doe' from byline on line 4 (dropped role 'Staff Writer')",
        ),
        (
            "By Jane Doe and John Roe, Senior Correspondents",
            ("Jane Doe", "John Roe"),
            "authors 'Jane Doe', 'John Roe' from byline on line 4 "
            "(dropped role 'Senior Correspondents')",
        ),
        (
            "By Ludwig van Beethoven",
            ("Ludwig van Beethoven",),
            "author 'Ludwig van Beethoven' from byline on line 4",
        ),
        (
            "By Martin Luther King, Jr.",
            ("Martin Luther King Jr.",),
            "author 'Martin Luther King Jr.' from byline on line 4",
        ),
    ],
    ids=[
        "By",
        "BY-colon",
        "By-tab",
        "thin-spaces",
        "and",
        "ampersand-comma",
        "staff-writer",
        "plural-role",
        "particle",
        "suffix",
    ],
)
def test_byline_variants(site: Site, byline: str, authors: tuple[str, ...], note: str) -> None:
    text = f"March 3, 2025\nHeadline Here\nSports\n{byline}\n\nFirst paragraph.\n"
    article = read_ok(site, text)
    assert article.authors == authors
    assert note in article.inferred
    assert "dropped line 3: label 'Sports'" in article.inferred
    assert article.body == "First paragraph."


@pytest.mark.parametrize(
    "line",
    [
        "By the way, this matters",
        "By noon",
        "Bypass Road Closed",
        "BYU Cougars Win",
        "By 2026",
        "By",
        "By de la",
    ],
    ids=["by-the-way", "by-noon", "bypass", "BYU", "by-year", "by-alone", "particles-only"],
)
def test_lines_that_are_not_bylines(site: Site, line: str) -> None:
    article = read_ok(site, f"March 3, 2025\nHeadline Here\n{line}\n\nBody.")
    assert article.authors == ()
    assert article.body == f"{line}\n\nBody."


def test_no_byline_keeps_everything_after_the_headline(site: Site) -> None:
    text = "March 3, 2025\n\nHeadline Here\nNews\n\nFirst  paragraph\nwrapped.\n\nSecond.\n"
    article, problems = read(site, text)
    assert problems == []
    assert article is not None
    assert article.title == "Headline Here"
    assert article.authors == ()
    assert paragraphs(article) == ["News", "First paragraph wrapped.", "Second."]
    assert article.inferred == (
        "kind: web page",
        "date 'March 3, 2025' from line 1",
        "title from line 3",
    )


def test_no_byline_drops_a_first_paragraph_repeating_the_headline(site: Site) -> None:
    article = read_ok(site, "March 3, 2025\nBig News\n\nBIG  news\n\nBody here.\n")
    assert article.title == "Big News"
    assert article.body == "Body here."
    assert "dropped line 4: repeated headline" in article.inferred


def test_long_line_before_byline_means_no_header_region(site: Site) -> None:
    prose = "This line is far too long to be a label on any page at all"
    text = f"March 3, 2025\nHeadline\nNews\n{prose}\nBy Jane Doe\n\nBody."
    article = read_ok(site, text)
    assert article.authors == ()
    assert paragraphs(article) == [f"News {prose} By Jane Doe", "Body."]
    assert not any("label" in note for note in article.inferred)


def test_byline_after_the_header_region_is_not_a_byline(site: Site) -> None:
    labels = [f"Label {n}" for n in range(11)]
    text = "Headline\n" + "\n".join(labels) + "\nBy Jane Doe\n\nBody."
    article = read_ok(site, text, "2025-03-03-thing.txt")
    assert article.authors == ()
    assert paragraphs(article) == [" ".join([*labels, "By Jane Doe"]), "Body."]


def test_by_the_way_paragraph_after_the_header_region(site: Site) -> None:
    body = [f"Paragraph {n} of the story." for n in range(12)]
    body.append("By the way, the mayor\nwas not there.")
    text = "March 3, 2025\nHeadline\n\n" + "\n\n".join(body) + "\n"
    article = read_ok(site, text)
    assert article.authors == ()
    assert len(paragraphs(article)) == 13
    assert paragraphs(article)[-1] == "By the way, the mayor was not there."


def test_by_the_way_paragraph_right_after_a_real_byline(site: Site) -> None:
    text = "Headline\nBy Jane Doe\nMarch 3, 2025\n\nBy the way, it rained.\n"
    article = read_ok(site, text)
    assert article.authors == ("Jane Doe",)
    assert article.date == datetime(2025, 3, 3, tzinfo=BERLIN)
    assert article.body == "By the way, it rained."
    assert "date 'March 3, 2025' from line 3" in article.inferred


def test_date_line_among_labels_gives_the_date(site: Site) -> None:
    text = "Headline\nNews\nMonday, March 3, 2025\nBy Jane Doe\n\nBody."
    article = read_ok(site, text)
    assert article.date == datetime(2025, 3, 3, tzinfo=BERLIN)
    assert article.body == "Body."
    assert "date 'Monday, March 3, 2025' from line 3" in article.inferred


def test_second_date_lines_are_dropped_and_the_first_counts(site: Site) -> None:
    text = "March 3, 2025\nMarch 4, 2025\nHeadline\nMarch 5, 2025\nBy Jane Doe\nMarch 6, 2025\n\nB."
    article = read_ok(site, text)
    assert article.date == datetime(2025, 3, 3, tzinfo=BERLIN)
    assert article.title == "Headline"
    assert article.body == "B."
    for line, date in [(2, "March 4"), (4, "March 5"), (6, "March 6")]:
        assert f"dropped line {line}: another date '{date}, 2025'" in article.inferred


def test_date_line_right_under_the_headline_without_byline(site: Site) -> None:
    article = read_ok(site, "Headline\n2025-03-03 14:30\n\nBody.")
    assert article.date == datetime(2025, 3, 3, 14, 30, tzinfo=BERLIN)
    assert article.body == "Body."


def test_title_is_stripped_of_odd_spaces(site: Site) -> None:
    article = read_ok(site, "March 3, 2025\n\u00a0 Big \u00a0\t News\u202f \nBody.")
    assert article.title == "Big News"


def test_filename_date_prefix_is_used_without_a_dateline(site: Site) -> None:
    article, problems = read(site, "Headline\nBy Jane Doe\n\nBody.", "2025-03-03-thing.txt")
    assert problems == []
    assert article is not None
    assert article.date == datetime(2025, 3, 3, tzinfo=BERLIN)
    assert article.slug == "thing"
    assert "date '2025-03-03' from the file name" in article.inferred


def test_dateline_wins_over_the_filename(site: Site) -> None:
    article = read_ok(site, "March 3, 2025\nHeadline\n\nBody.", "2024-01-01-thing.txt")
    assert article.date == datetime(2025, 3, 3, tzinfo=BERLIN)


def test_no_date_at_all_is_an_error_that_says_how_to_fix_it(site: Site) -> None:
    article, problems = read(site, "Headline\nBy Jane Doe\n\nBody.", "thing.txt")
    assert article is None
    [error] = errors(problems)
    assert error.path == RELPATH
    assert error.line == 1
    assert "no date" in error.message
    assert "date: 2026-11-20" in error.message and "2026-11-20-" in error.message


@pytest.mark.parametrize(
    "text", ["", "\n", "  \n\t\n\u00a0\u202f\n"], ids=["nothing", "newline", "whitespace"]
)
def test_empty_file_is_an_error(site: Site, text: str) -> None:
    article, problems = read(site, text)
    assert article is None
    assert problems == [Problem(RELPATH, 1, "error", "the file is empty")]


@pytest.mark.parametrize(
    ("text", "line"),
    [
        ("March 3, 2025\nHeadline\n", 2),
        ("\n\nHeadline\nBy Jane Doe\n\nShare\nBack To Top\n", 3),
        ("Title: Headline\nDate: 2025-03-03\n", 1),
        ("Date: 2025-03-03\ntitle: Headline\n\n\u00a0\n", 2),
    ],
    ids=["page", "page-only-leftovers", "header", "header-blank-body"],
)
def test_file_without_body_gets_a_warning(site: Site, text: str, line: int) -> None:
    article, problems = read(site, text, "2025-03-03-x.txt")
    assert article is not None
    assert article.title == "Headline"
    assert article.body == ""
    assert problems == [Problem(RELPATH, line, "warning", "no body text")]


def test_page_leftovers_at_the_end_are_dropped(site: Site) -> None:
    leftovers = [
        "Share",
        "Print",
        "  Comments (",
        "Related Articles",
        "Advertisement",
        "Tweet",
        "Email",
        "Facebook",
        "\u2191 Top",
        "Return to top",
        "Share this article",
        "CLICK HERE TO PRINT",
        "Read more \u00bb",
        "Copyright 2025 The Riverside Courier. All rights reserved.",
        "\u00a9 2025 The Riverside Courier",
        "[Back To Top]",
    ]
    text = "March 3, 2025\nHeadline\n\nShare\n\nLast real paragraph.\n" + "\n\n".join(leftovers)
    article = read_ok(site, text)
    # "Share" in the middle of the body is text, not a leftover.
    assert paragraphs(article) == ["Share", "Last real paragraph."]
    dropped = [note for note in article.inferred if "page leftover" in note]
    assert len(dropped) == len(leftovers)
    assert dropped[0] == "dropped line 7: page leftover 'Share'"
    assert dropped[-1] == "dropped line 37: page leftover '[Back To Top]'"


def test_line_numbers_count_leading_blank_lines(site: Site) -> None:
    text = "\n\n \nMarch 3, 2025\nHeadline\nNews\nBy Jane Doe\n\nBody.\n\nTop\n"
    article = read_ok(site, text)
    assert article.inferred == (
        "kind: web page",
        "date 'March 3, 2025' from line 4",
        "title from line 5",
        "dropped line 6: label 'News'",
        "author 'Jane Doe' from byline on line 7",
        "dropped line 11: page leftover 'Top'",
    )


def test_headline_too_long_is_reported_on_its_line(site: Site) -> None:
    article, problems = read(site, "March 3, 2025\n\n" + "word " * 200 + "\n\nBody.")
    assert article is None
    assert (3, "'title' is 999 characters; keep it under 500") in [
        (p.line, p.message) for p in errors(problems)
    ]


# -- huge input -------------------------------------------------------------------------------


def test_one_huge_line(site: Site) -> None:
    huge = "word\u00a0 " * 300_000  # about 2 MB
    article = read_ok(site, f"March 3, 2025\nHeadline\nBy Jane Doe\n\n{huge}\n\nEnd.\n")
    assert len(paragraphs(article)) == 2
    assert paragraphs(article)[0] == " ".join(["word"] * 300_000)


def test_one_huge_line_alone(site: Site) -> None:
    huge = "x" * 2_000_000
    article, problems = read(site, huge)
    assert article is None
    found = [(p.line, p.message) for p in errors(problems)]
    assert (1, "'title' is 2000000 characters; keep it under 500") in found
    assert any(line == 1 and message.startswith("no date") for line, message in found)
    assert Problem(RELPATH, 1, "warning", "no body text") in problems


def test_huge_header_value(site: Site) -> None:
    text = "Title: T\nDate: 2025-03-03\nAuthor: " + " and " * 400_000 + "\n\nBody."
    article = read_ok(site, text)
    assert article.authors == ()
    assert article.body == "Body."


def test_many_short_lines(site: Site) -> None:
    lines = ["March 3, 2025", "Headline", "By Jane Doe", ""]
    for n in range(100_000):
        lines += [f"line {n}", ""]
    assert len(lines) > 200_000
    article = read_ok(site, "\n".join(lines))
    assert len(paragraphs(article)) == 100_000
    assert paragraphs(article)[-1] == "line 99999"


# -- properties -------------------------------------------------------------------------------

LINES = st.one_of(
    st.sampled_from(
        [
            "",
            " ",
            "\u00a0",
            "March 3, 2025",
            "Monday, March 3, 2025",
            "2025-02-30",
            "Title: A title",
            "Date: 2025-03-03",
            "Draft: perhaps",
            "Authors: Jane Doe and",
            "Foo: bar",
            "By Jane Doe",
            "By: Jane Doe, Staff Writer",
            "By the way",
            "Back To Top",
            "\u00a9 2025",
            "News",
        ]
    ),
    st.text(st.characters(exclude_characters="\n"), max_size=40),
)


def check_result(text: str, article: Article | None, problems: list[Problem]) -> None:
    lines = text.count("\n") + 1
    for problem in problems:
        assert problem.path == RELPATH
        assert 0 <= problem.line <= lines + 1
    if article is None:
        assert errors(problems)
    else:
        assert not errors(problems)
        assert article.title.strip()
        assert article.body is not None
        assert "\r" not in article.body


@pytest.fixture(scope="module")
def shared_site(tmp_path_factory: pytest.TempPathFactory) -> Site:
    return new_site(tmp_path_factory.mktemp("site"))


@given(text=st.text())
def test_any_text_reads_without_exceptions(shared_site: Site, text: str) -> None:
    article, problems = read(shared_site, text)
    check_result(text, article, problems)


@given(lines=st.lists(LINES, max_size=20), name=st.sampled_from(["a.txt", "2025-03-03-a.txt"]))
def test_any_lines_read_without_exceptions(shared_site: Site, lines: list[str], name: str) -> None:
    text = "\n".join(lines)
    article, problems = read(shared_site, text, name)
    check_result(text, article, problems)
