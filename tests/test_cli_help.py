"""The help a person reads first: `feedpub --help` and each group's list of commands give every
command's summary as a whole sentence (its help's first sentence, or that sentence's first
clause where the whole does not fit), never cut mid-word ("Publish the feeds into the...")."""

from __future__ import annotations

import re

import click
import pytest
from click.testing import CliRunner
from helpers import assert_clean_exit, invoke

from feedpub.cli import _summary, main

GROUPS = [
    (name, group)
    for name, group in [("", main), *main.commands.items()]
    if isinstance(group, click.Group)
]


def listed(output: str) -> dict[str, str]:
    """The Commands section of a help page: name -> summary (continuation lines joined)."""
    rows: dict[str, str] = {}
    last = ""
    for line in output.split("Commands:\n", 1)[1].splitlines():
        if line.startswith("    "):  # the summary wrapped onto another line
            rows[last] += " " + line.strip()
        elif line.strip():
            last, _, summary = line.strip().partition(" ")
            rows[last] = summary.strip()
    return rows


@pytest.mark.parametrize("columns", ["80", "60", "200"])
@pytest.mark.parametrize(("name", "group"), GROUPS, ids=[n or "feedpub" for n, _ in GROUPS])
def test_every_summary_in_the_list_of_commands_is_a_whole_sentence(
    runner: CliRunner, name: str, group: click.Group, columns: str
) -> None:
    result = invoke(runner, *name.split(), "--help", env={"COLUMNS": columns})
    assert_clean_exit(result, 0)
    rows = listed(result.output)
    assert sorted(rows) == sorted(group.commands)
    for command_name, summary in rows.items():
        command = group.commands[command_name]
        sentence = command.short_help or _summary(command.help or "")
        assert summary.endswith(".") and not summary.endswith("..."), summary
        # The whole first sentence, or its first clause ended with a full stop.
        clause = re.escape(summary[:-1]) + r",?(?:[;:] | \()"
        assert summary == sentence or re.match(clause, sentence), (summary, sentence)


def test_the_list_of_commands_fits_80_columns_where_a_clause_fits(runner: CliRunner) -> None:
    """`feedpub --help` at 80 columns: one line per command (no summary wraps)."""
    result = invoke(runner, "--help", env={"COLUMNS": "80"})
    lines = [ln for ln in result.output.split("Commands:\n", 1)[1].splitlines() if ln.strip()]
    assert all(line[2:3].strip() for line in lines), lines
    assert "Validate the settings and every article." in result.output


@pytest.mark.parametrize(
    ("text", "room", "summary"),
    [
        ("Build the site. Then more.", None, "Build the site."),
        ("Build the site\ninto public/. More.", None, "Build the site into public/."),
        ("No full stop at all", None, "No full stop at all"),
        ("First paragraph\n\nSecond. paragraph", None, "First paragraph"),
        ("Shown.\fHidden.", None, "Shown."),
        ("", None, ""),
        ("Check the site; print each problem.", 40, "Check the site; print each problem."),
        ("Check the site; print each problem.", 20, "Check the site."),
        ("Show issue NUMBER: its subject, its articles.", 20, "Show issue NUMBER."),
        ("Send issue N (default: the unfinished one).", 20, "Send issue N."),
        (
            "Importantly: this stays whole, as no clause fits.",
            10,
            ("Importantly: this stays whole, as no clause fits."),
        ),
        (
            "A long sentence without any clause to end at.",
            10,
            ("A long sentence without any clause to end at."),
        ),
    ],
    ids=[
        "two sentences",
        "wrapped",
        "no stop",
        "paragraphs",
        "form feed",
        "empty",
        "fits",
        "semicolon",
        "colon",
        "parenthesis",
        "one-word clause",
        "no clause",
    ],
)
def test_a_summary_is_the_first_sentence_or_its_first_clause(
    text: str, room: int | None, summary: str
) -> None:
    assert _summary(text, room) == summary
