"""The help a person reads first: `feedpub --help` and each group's list of commands give every
command's summary as a whole sentence, never cut mid-word ("Publish the feeds into the...")."""

from __future__ import annotations

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


@pytest.mark.parametrize("columns", ["80", "60"])
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
        assert summary == (command.short_help or _summary(command.help or ""))
        assert summary.endswith(".") and not summary.endswith("..."), summary


@pytest.mark.parametrize(("name", "group"), GROUPS, ids=[n or "feedpub" for n, _ in GROUPS])
def test_a_short_help_fits_one_line_at_80_columns(
    runner: CliRunner, name: str, group: click.Group
) -> None:
    result = invoke(runner, *name.split(), "--help", env={"COLUMNS": "80"})
    lines = result.output.split("Commands:\n", 1)[1].splitlines()
    for command_name, command in group.commands.items():
        if command.short_help:
            assert any(
                line.split() and line.split()[0] == command_name and line.rstrip().endswith(".")
                for line in lines
            ), f"{command_name}: {command.short_help!r} wraps"
            assert not command.short_help.endswith("...")


@pytest.mark.parametrize(
    ("text", "summary"),
    [
        ("Build the site. Then more.", "Build the site."),
        ("Build the site\ninto public/. More.", "Build the site into public/."),
        ("No full stop at all", "No full stop at all"),
        ("First paragraph\n\nSecond. paragraph", "First paragraph"),
        ("Shown.\fHidden.", "Shown."),
        ("", ""),
    ],
    ids=["two sentences", "wrapped", "no stop", "paragraphs", "form feed", "empty"],
)
def test_a_summary_is_the_first_sentence(text: str, summary: str) -> None:
    assert _summary(text) == summary
