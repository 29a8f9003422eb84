"""subscribers import: the exports of Mailchimp, Substack, Buttondown, listmonk and Ghost (the
samples in tests/data/imports/), their separators, statuses and consent times, bad lines and
hostile files."""

from __future__ import annotations

import codecs
import csv
import io
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from helpers import ARTICLES, NEWSLETTER, NOW, MakeSite, assert_clean_exit, invoke
from hypothesis import given
from hypothesis import strategies as st

from feedpub import config
from feedpub.delivery.imports import (
    MAX_IMPORT_BYTES,
    ImportRow,
    consent_time,
    import_text,
    parse_import,
    read_import,
)
from feedpub.delivery.subscribers import Subscribers
from feedpub.errors import ImportFileError, ImportFormatError
from feedpub.store.state import State

DATA = Path(__file__).parent / "data" / "imports"
MAILCHIMP_SUBSCRIBED = "mailchimp_subscribed_members_export_3f2a9c41d7.csv"
MAILCHIMP_UNSUBSCRIBED = "mailchimp_unsubscribed_members_export_3f2a9c41d7.csv"
MAILCHIMP_CLEANED = "mailchimp_cleaned_members_export_3f2a9c41d7.csv"
SUBSTACK = "substack_email_list.millbrook-gazette.csv"
BUTTONDOWN = "buttondown_subscribers.csv"
LISTMONK = "listmonk_subscribers.csv"
GHOST = "ghost_members.csv"
SAMPLES = [
    MAILCHIMP_SUBSCRIBED,
    MAILCHIMP_UNSUBSCRIBED,
    MAILCHIMP_CLEANED,
    SUBSTACK,
    BUTTONDOWN,
    LISTMONK,
    GHOST,
]
BAD_TIME = "is not a date and time; write it like 2026-11-27 12:00:00 or leave it empty"
BAD_STATUS = "is not one feedpub knows; use active, pending, unsubscribed, bounced or complained"

# (line, address, name, status, consent time) of each line read; a problem or a reason to
# leave the line out in place of the name where the line is not imported.
READ: dict[str, list[tuple[int, str, str, str, str | None]]] = {
    MAILCHIMP_SUBSCRIBED: [
        (2, "ann.lee@example.org", "Ann Lee", "active", "2021-03-14T09:26:53+00:00"),
        (3, "bob@example.org", 'Robert "Bob" Baker', "active", "2019-11-02T17:05:00+00:00"),
        # OPTIN_TIME empty: CONFIRM_TIME is the consent.
        (4, "jane@bücher.example", "Jane", "active", "2020-01-05T08:00:00+00:00"),
        (5, "carol at example.org", "Carol King", "active", "2022-07-01T12:00:00+00:00"),
        (6, "dan@example.org", f"problem: OPTIN_TIME '2022-13-01 12:00:00' {BAD_TIME}", "", None),
        (7, "Eve@Example.ORG", "Eve", "active", "2023-02-28T23:59:59+00:00"),
    ],
    MAILCHIMP_UNSUBSCRIBED: [
        (2, "frank@example.org", "Frank Moss", "unsubscribed", "2018-02-12T10:54:27+00:00"),
        (3, "grace@example.org", "Grace", "unsubscribed", "2020-12-25T13:35:34+00:00"),
        (4, "bob@example.org", "Bob Baker", "unsubscribed", "2019-11-02T17:05:00+00:00"),
    ],
    MAILCHIMP_CLEANED: [
        (2, "henry@example.net", "Henry", "bounced", "2018-02-05T19:28:23+00:00"),
        (3, "ivy@example.net", "Stone", "bounced", "2018-02-12T10:54:27+00:00"),
        (4, "", "", "bounced", None),
    ],
    SUBSTACK: [
        (2, "kim@example.org", "", "active", "2021-08-27T15:06:27+00:00"),
        (3, "leo@example.org", "", "active", "2020-01-05T23:26:30+00:00"),
        (4, "mia@example.org", "", "unsubscribed", "2019-04-19T02:13:33+00:00"),
        (
            5,
            "4f0c1e9a2b@deletion-request.substack.com",
            "left out: Substack's stand-in for an account deleted on request, not an address",
            "",
            None,
        ),
        (
            6,
            "ned@example.org",
            "problem: email_disabled 'maybe' is neither true nor false",
            "",
            None,
        ),
        (7, "Öz@bücher.example", "", "active", "2023-08-06T10:21:25+00:00"),
    ],
    BUTTONDOWN: [
        (2, "oli@example.org", "", "active", "2022-03-01T09:00:00+00:00"),
        (3, "pat@example.org", "", "unsubscribed", "2021-05-05T12:00:00+00:00"),
        (4, "quinn@example.org", "", "pending", "2023-10-10T10:10:10+00:00"),
        (5, "rae@example.org", "", "complained", "2020-02-29T00:00:00+00:00"),
        (6, "sam@example.org", "", "bounced", "2020-07-07T07:07:07+00:00"),
        (7, "tia@example.org", "", "active", "2024-04-01T08:30:00+02:00"),
        (8, "uma@example.org", f"problem: status 'vip' {BAD_STATUS}", "", None),
        (9, "vic@example.org", "", "unsubscribed", "2024-06-01T08:30:00+00:00"),
    ],
    LISTMONK: [
        (2, "wes@example.org", "Wes Park", "active", "2023-01-10T08:22:33+00:00"),
        (3, "xia@example.org", "Xia Lin", "unsubscribed", "2022-05-06T17:00:00+05:30"),
        (4, "yan@example.org", "Yan", "active", "2024-11-30T23:59:59+01:00"),
        (5, "zed@example.org", f"problem: created_at 'last tuesday' {BAD_TIME}", "", None),
        # Read as written: the subscribers' rules refuse the control character.
        (6, "abe@example.org", "Abe\x1b[31m Red", "active", "2024-01-01T00:00:00+00:00"),
    ],
    GHOST: [
        (2, "bea@example.org", "Bea Cho", "active", "2023-04-02T10:11:12+00:00"),
        (3, "cal@example.org", "Cal", "unsubscribed", "2022-09-09T09:09:09+00:00"),
        (4, "dee@example.org", "", "active", "2021-01-01T00:00:00+00:00"),
        (5, "not-an-address", "Nobody", "active", "2021-01-01T00:00:00+00:00"),
    ],
}


@pytest.fixture
def site(make_site: MakeSite) -> Path:
    return make_site(ARTICLES, extra=NEWSLETTER)


def import_file(runner: CliRunner, root: Path, path: Path) -> Result:
    return invoke(runner, "--site", root, "subscribers", "import", path)


def stored(root: Path) -> list[tuple[str, str, str, str, str | None, str | None]]:
    """(email, name, status, source, joined, confirmed) of every subscriber but the forgotten,
    in the order they were added."""
    with State.open(config.load(root, env={}).state_dir, create=False) as state:
        return [
            (s.email, s.name, s.status, s.source, s.joined, s.confirmed)
            for s in Subscribers(state).iter()
        ]


def sample(name: str) -> str:
    return (DATA / name).read_bytes().decode("utf-8-sig")


def summary(rows: list[ImportRow]) -> list[tuple[int, str, str, str, str | None]]:
    def one(row: ImportRow) -> tuple[int, str, str, str, str | None]:
        if row.problem:
            return (row.line, row.email, f"problem: {row.problem}", "", None)
        if row.left_out:
            return (row.line, row.email, f"left out: {row.left_out}", "", None)
        return (row.line, row.email, row.name, row.status, row.joined)

    return [one(row) for row in rows]


def rewritten(text: str, delimiter: str, newline: str = "\n") -> str:
    """The same table written again with another separator and line end, as a spreadsheet
    saving it would (every field quoted where it needs to be)."""
    rows = list(csv.reader(io.StringIO(text, newline=""), strict=True))
    out = io.StringIO()
    csv.writer(out, delimiter=delimiter, lineterminator=newline).writerows(rows)
    return out.getvalue()


# -- reading each tool's export --------------------------------------------------------------


@pytest.mark.parametrize("name", SAMPLES)
def test_each_tools_export_is_read(name: str) -> None:
    assert summary(list(parse_import(sample(name)))) == READ[name]


@pytest.mark.parametrize("delimiter", [",", ";", "\t"], ids=["comma", "semicolon", "tab"])
@pytest.mark.parametrize("newline", ["\n", "\r\n", "\r"], ids=["lf", "crlf", "cr"])
@pytest.mark.parametrize("name", SAMPLES)
def test_any_separator_and_line_end(name: str, delimiter: str, newline: str) -> None:
    """A spreadsheet that saves with semicolons (the comma is the decimal mark) or tabs, and
    Windows' or old Macs' line ends, changes nothing that is read."""
    text = rewritten(sample(name), delimiter, newline)
    assert summary(list(parse_import(text))) == READ[name]
    assert summary(list(parse_import("\ufeff" + text))) == READ[name]


def test_the_mailchimp_sample_starts_with_a_byte_order_mark() -> None:
    """Mailchimp's files are saved with one; the sample keeps it, and CRLF line ends."""
    data = (DATA / MAILCHIMP_SUBSCRIBED).read_bytes()
    assert data.startswith(b'\xef\xbb\xbf"Email Address"')
    assert data.count(b"\r\n") == data.count(b"\n")


def test_a_semicolon_file_with_commas_inside_fields() -> None:
    text = "Email;Name;Status\nann@example.org;Lee, Ann;subscribed\nbob@example.org;Bob;cleaned\n"
    assert summary(list(parse_import(text))) == [
        (2, "ann@example.org", "Lee, Ann", "active", None),
        (3, "bob@example.org", "Bob", "bounced", None),
    ]


@pytest.mark.parametrize(
    "text",
    [
        "email\nann@example.org;Ann\nbob@example.org,Bob\n",
        "email\nann@example.org\tAnn\nbob@example.org,Bob\ncy@example.org;Cy\n",
    ],
    ids=["semicolon-and-comma", "tab-comma-semicolon"],
)
def test_a_separator_that_cannot_be_told(text: str) -> None:
    """A lone 'email' header and lines split one way and another: guessing would import half
    the lines with a name glued to the address. One clear error, nothing imported."""
    with pytest.raises(ImportFormatError) as caught:
        list(parse_import(text))
    assert caught.value.line == 1
    assert str(caught.value) == (
        "cannot tell whether the columns are separated by commas, semicolons or tabs; save the "
        "file with one separator, with the columns' names on its first line"
    )


def test_a_lone_email_column_with_nothing_to_separate() -> None:
    text = "email\nann@example.org\n\n# a note\nbob@example.org\n"
    assert [(r.line, r.email) for r in parse_import(text)] == [
        (2, "ann@example.org"),
        (5, "bob@example.org"),
    ]


# -- statuses --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("header", "cells", "status"),
    [
        ("email,status", "enabled", "active"),
        ("email,status", "BLOCKLISTED", "unsubscribed"),
        ("email,status", "Cleaned", "bounced"),
        ("email,status", "spam", "complained"),
        ("email,status", "unconfirmed", "pending"),
        ("email,subscriber_type", "past_due", "active"),
        ("email,subscriber_type", "undeliverable", "bounced"),
        ("email,type", "comp", "active"),
        ("email,subscribed_to_emails", "false", "unsubscribed"),
        ("email,subscribed_to_emails", "TRUE", "active"),
        ("email,email_disabled", "true", "unsubscribed"),
        ("email,email_disabled", "", "active"),
        # Mailchimp's own file kinds win over a status column that says less.
        ("email,status,CLEAN_TIME", "subscribed,2020-01-01 00:00:00", "bounced"),
        ("email,status,UNSUB_TIME", "subscribed,", "unsubscribed"),
        ("email,status,unsubscription_date", "regular,2024-01-01", "unsubscribed"),
        ("email,status,unsubscription_date", "regular,", "active"),
        ("email,status,email_disabled", "complained,true", "complained"),
        ("email,status,deleted_at", "active,2024-01-01T00:00:00Z", "unsubscribed"),
    ],
)
def test_status_words_are_mapped(header: str, cells: str, status: str) -> None:
    (row,) = parse_import(f"{header}\nann@example.org,{cells}\n")
    assert (row.problem, row.status) == ("", status)


@pytest.mark.parametrize(
    ("cells", "problem"),
    [
        ("deleted,", f"status 'deleted' {BAD_STATUS}"),
        ("act\x00ive,", f"status 'act\\x00ive' {BAD_STATUS}"),
        ("x" * 10_000 + ",", f"status '{'x' * 60}'... {BAD_STATUS}"),
        ("active,sometimes", "subscribed_to_emails 'sometimes' is neither true nor false"),
    ],
    ids=["unknown-word", "nul", "huge", "switch"],
)
def test_a_bad_status_is_that_lines_problem(cells: str, problem: str) -> None:
    text = f"email,status,subscribed_to_emails\nann@example.org,{cells}\nbob@example.org,active,\n"
    first, second = parse_import(text)
    assert (first.line, first.problem) == (2, problem)
    assert (second.line, second.problem, second.status) == (3, "", "active")


# -- consent times ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "moment"),
    [
        ("2018-02-05 19:28:23", "2018-02-05T19:28:23+00:00"),
        ("2018-08-27T15:06:27.713Z", "2018-08-27T15:06:27+00:00"),
        ("2024-04-01T08:30:00+02:00", "2024-04-01T08:30:00+02:00"),
        ("2023-01-10 08:22:33.451234 +0000 UTC", "2023-01-10T08:22:33+00:00"),
        ("2024-11-30 23:59:59.999999999 +0100 CET", "2024-11-30T23:59:59+01:00"),
        ("2022-05-06 17:00:00 +0530 IST", "2022-05-06T17:00:00+05:30"),
        ("2020-01-05", "2020-01-05T00:00:00+00:00"),
    ],
    ids=["mailchimp", "substack", "iso-offset", "listmonk", "go-nanoseconds", "go-ist", "date"],
)
def test_consent_times_as_the_tools_write_them(text: str, moment: str) -> None:
    assert consent_time(text) == moment


@pytest.mark.parametrize(
    "text",
    ["last tuesday", "2022-13-01 12:00:00", "2022-01-01 25:00", "2022-01-01\x00", "9" * 100, ""],
    ids=["words", "month-13", "hour-25", "nul", "huge", "empty"],
)
def test_times_that_are_not(text: str) -> None:
    with pytest.raises(ValueError):
        consent_time(text)


def test_a_huge_bad_time_is_cut_short_in_the_message() -> None:
    (row,) = parse_import(f"email,created_at\nann@example.org,{'1' * 100_000}\n")
    assert row.problem == f"created_at '{'1' * 60}'... {BAD_TIME}"


# -- broken and hostile files ----------------------------------------------------------------


def test_a_quote_never_closed_is_an_error_at_its_line() -> None:
    """Without strict reading the quote would swallow every later line into one name."""
    text = 'email,name\nann@example.org,"Ann\nbob@example.org,Bob\ncy@example.org,Cy\n'
    (row,) = parse_import(text)
    assert (row.line, row.email) == (2, "")
    assert row.problem == (
        "not readable as CSV: a quote opened on this line is never closed; close it, or write "
        "a quote twice"
    )


def test_text_after_a_closing_quote() -> None:
    text = 'email,name\nann@example.org,"Ann" Lee\nbob@example.org,Bob\n'
    first, second = parse_import(text)
    assert first.problem == (
        "not readable as CSV: text follows a field's closing quote; write a quote inside a "
        "field twice"
    )
    assert (second.line, second.email, second.problem) == (3, "bob@example.org", "")


def test_a_quoted_name_over_two_lines_is_numbered_by_its_first() -> None:
    text = 'email,name\nann@example.org,"Ann\nLee"\nbad@,x\n'
    first, second = parse_import(text)
    assert (first.line, first.name) == (2, "Ann\nLee")
    assert (second.line, second.email) == (4, "bad@")


def test_a_header_of_ten_thousand_columns() -> None:
    header = ",".join([f"col{n}" for n in range(10_000)] + ["Email Address"])
    line = "," * 10_000 + "ann@example.org"
    (row,) = parse_import(f"{header}\n{line}\n")
    assert (row.email, row.problem) == ("ann@example.org", "")


def test_a_line_of_a_million_separators() -> None:
    text = "email,name\n" + "," * 1_000_000 + "\nann@example.org,Ann\n"
    assert [(r.line, r.email) for r in parse_import(text)] == [(3, "ann@example.org")]


def test_nul_and_control_characters_are_read_as_text() -> None:
    """The subscribers' rules then refuse them, line by line; reading never stops on them."""
    text = "email,name\nann@exa\x00mple.org,Ann\nbob@example.org,B\x1bob\n"
    assert [(r.line, r.email, r.name) for r in parse_import(text)] == [
        (2, "ann@exa\x00mple.org", "Ann"),
        (3, "bob@example.org", "B\x1bob"),
    ]


def test_more_and_fewer_cells_than_the_header() -> None:
    text = "email,name,status\nann@example.org,Ann,active,extra,more\nbob@example.org\n"
    assert summary(list(parse_import(text))) == [
        (2, "ann@example.org", "Ann", "active", None),
        (3, "bob@example.org", "", "active", None),
    ]


@given(st.text(alphabet=st.sampled_from('ab@.,;\t"\r\n #\x00é'), max_size=200))
def test_any_text_is_rows_or_one_clear_error(text: str) -> None:
    """Whatever the file holds: rows (each with its line) or ImportFormatError, nothing else."""
    lines = len(text.replace("\r\n", "\n").replace("\r", "\n").split("\n"))
    try:
        rows = list(parse_import("email,name\n" + text))
    except ImportFormatError:  # pragma: no cover - a header line is given: never raised
        raise AssertionError("a file with a header was refused") from None
    assert all(2 <= row.line <= lines + 1 for row in rows)
    try:
        list(parse_import(text))
    except ImportFormatError as exc:
        assert 1 <= exc.line <= lines


# -- reading the file ------------------------------------------------------------------------


def test_a_file_bigger_than_the_limit(runner: CliRunner, site: Path, tmp_path: Path) -> None:
    path = tmp_path / "huge.csv"
    with path.open("wb") as file:
        file.truncate(MAX_IMPORT_BYTES + 1)  # sparse: no disk spent
    result = import_file(runner, site, path)
    assert_clean_exit(result, 1)
    assert result.stderr == (
        f"Error: {path} is more than {MAX_IMPORT_BYTES} bytes; split it into smaller files\n"
    )
    assert not (site / ".feedpub").exists()


def test_a_file_without_an_end(runner: CliRunner, site: Path) -> None:
    """/dev/zero says its size is 0: reading stops at the limit all the same."""
    result = import_file(runner, site, Path("/dev/zero"))
    assert_clean_exit(result, 1)
    assert result.stderr == (
        f"Error: /dev/zero is more than {MAX_IMPORT_BYTES} bytes; split it into smaller files\n"
    )


def test_read_import_in_the_library(tmp_path: Path) -> None:
    path = tmp_path / "list.csv"
    path.write_bytes(b"\xef\xbb\xbfemail\r\nann@example.org\r\n")
    assert read_import(path) == "email\r\nann@example.org\r\n"
    path.write_bytes(b"email\n\nJos\xe9@example.org\n")
    with pytest.raises(ImportFileError, match=r":3: not UTF-8; save the file as UTF-8$"):
        read_import(path)
    with pytest.raises(ImportFileError, match=r"cannot read .*: No such file or directory"):
        read_import(tmp_path / "nowhere.csv")


# -- importing each tool's export ------------------------------------------------------------

# The lines of each sample that the subscribers' rules refuse, and why (the start of it).
REFUSED = {
    MAILCHIMP_SUBSCRIBED: {5: "'carol at example.org' is not a valid address"},
    MAILCHIMP_CLEANED: {4: "'' is not a valid address"},
    LISTMONK: {6: "the name holds control characters"},
    GHOST: {5: "'not-an-address' is not a valid address"},
}
# As email_validator writes them: the domain lower-cased, the local part kept.
WRITTEN = {"Eve@Example.ORG": "Eve@example.org"}


@pytest.mark.parametrize("name", SAMPLES)
def test_each_tools_export_through_the_command(runner: CliRunner, site: Path, name: str) -> None:
    """Every readable line is in, with its status, its consent time and source 'import' (never
    'confirmed': they confirmed with the other tool, not with us); every bad line is reported
    with its number; the other lines are in all the same."""
    path = DATA / name
    result = import_file(runner, site, path)
    refused = REFUSED.get(name, {})
    problems = {line: why for line, _, why, _, _ in READ[name] if why.startswith("problem: ")}
    notes = {line: why for line, _, why, _, _ in READ[name] if why.startswith("left out: ")}
    invalid = sorted({*refused, *problems})
    expected = [
        (WRITTEN.get(email, email), who, status, "import", joined, None)
        for line, email, who, status, joined in READ[name]
        if status and line not in refused
    ]
    assert stored(site) == expected
    assert_clean_exit(result, 1 if invalid else 0)
    tail = f", {len(notes)} left out" if notes else ""
    assert result.stdout == (
        f"Imported {path}: {len(expected)} added, 0 already present, {len(invalid)} invalid{tail}\n"
    )
    errors = [line for line in result.stderr.splitlines() if ": error: " in line]
    assert [int(line.split(":")[1]) for line in errors] == invalid
    for line in errors:
        number = int(line.split(":")[1])
        why = refused.get(number) or problems[number].removeprefix("problem: ")
        assert line.startswith(f"{path}:{number}: error: {why}")
    assert [line for line in result.stderr.splitlines() if ": note: " in line] == [
        f"{path}:{number}: note: {why.removeprefix('left out: ')}" for number, why in notes.items()
    ]
    if invalid:
        assert result.stderr.splitlines()[-1] == (
            f"Error: {len(invalid)} invalid line{'s' * (len(invalid) > 1)} in {path}; the other "
            "lines were imported"
        )


def test_mailchimps_files_one_after_another(runner: CliRunner, site: Path) -> None:
    """The subscribed file, then the unsubscribed one of a later export (Bob left since), then
    the cleaned one; then the old subscribed file again, which changes nothing: a file never
    makes anyone more subscribed than they are."""
    subscribed = DATA / MAILCHIMP_SUBSCRIBED
    assert_clean_exit(import_file(runner, site, subscribed), 1)
    result = import_file(runner, site, DATA / MAILCHIMP_UNSUBSCRIBED)
    assert_clean_exit(result, 0)
    assert result.stdout == (
        f"Imported {DATA / MAILCHIMP_UNSUBSCRIBED}: 2 added, 0 already present, 1 updated, "
        "0 invalid\n"
    )
    assert_clean_exit(import_file(runner, site, DATA / MAILCHIMP_CLEANED), 1)
    again = import_file(runner, site, subscribed)
    assert again.stdout == f"Imported {subscribed}: 0 added, 4 already present, 2 invalid\n"
    people = {email: status for email, _, status, *_ in stored(site)}
    assert people == {
        "ann.lee@example.org": "active",
        "bob@example.org": "unsubscribed",
        "jane@bücher.example": "active",
        "Eve@example.org": "active",
        "frank@example.org": "unsubscribed",
        "grace@example.org": "unsubscribed",
        "henry@example.net": "bounced",
        "ivy@example.net": "bounced",
    }


@pytest.mark.parametrize(
    "since",
    ["added-by-command", "reactivated", "chose-topics"],
)
def test_a_file_never_undoes_what_was_done_since(site: Path, since: str) -> None:
    """Only a row as an import made it, untouched since, takes a file's word that the person
    left: an editor's add, a re-activation or the reader's own choice since is kept."""
    later = NOW.replace(hour=13)
    with State.open(config.load(site, env={}).state_dir) as state, state.transaction():
        subscribers = Subscribers(state)
        if since == "added-by-command":
            subscribers.add("bob@example.org", "Bob", NOW)
        else:
            import_text(subscribers, "email\nbob@example.org\n", NOW)
            bob = subscribers.get("bob@example.org")
            if since == "reactivated":
                subscribers.set_status("bob@example.org", "unsubscribed", later)
                subscribers.add("bob@example.org", "", later)
            else:
                state.subscribers.set_topics(bob.id, ("Sports",), later.isoformat())
        report = import_text(subscribers, sample(MAILCHIMP_UNSUBSCRIBED), later)
        assert (report.added, report.present, report.updated) == (2, 1, 0)
        assert subscribers.get("bob@example.org").status == "active"


@pytest.mark.parametrize(
    ("written", "shown"),
    [("ann@example.org", "ann@example.org"), ("ANN@Example.ORG", "ANN@example.org")],
    ids=["as-forgotten", "other-case"],
)
def test_a_forgotten_address_is_never_imported_again(
    runner: CliRunner, site: Path, tmp_path: Path, written: str, shown: str
) -> None:
    """Refused as the subscribers' rules refuse it, an error line: the file still holds the
    person's address, which whoever keeps it should delete too."""
    with State.open(config.load(site, env={}).state_dir) as state, state.transaction():
        subscribers = Subscribers(state)
        subscribers.add("ann@example.org", "Ann", NOW)
        subscribers.forget("ann@example.org", NOW)
    path = tmp_path / "members.csv"
    path.write_text(f"Email Address,First Name\n{written},Ann\nbob@example.org,Bob\n")
    for added, present in ((1, 0), (0, 1)):
        result = import_file(runner, site, path)
        assert_clean_exit(result, 1)
        assert result.stdout == (
            f"Imported {path}: {added} added, {present} already present, 1 invalid\n"
        )
        assert result.stderr.splitlines()[0].startswith(
            f"{path}:2: error: {shown} asked to be forgotten and is not added again"
        )
        assert [email for email, *_ in stored(site)] == ["bob@example.org"]


def test_a_suppressed_status_is_kept_so_no_later_list_subscribes_them(
    runner: CliRunner, site: Path, tmp_path: Path
) -> None:
    """Mailchimp's cleaned file first, then a spreadsheet that still lists them as members:
    they stay bounced."""
    assert_clean_exit(import_file(runner, site, DATA / MAILCHIMP_CLEANED), 1)
    path = tmp_path / "sheet.csv"
    path.write_text("email;name;status\nhenry@example.net;Henry;active\ncy@example.org;Cy;\n")
    result = import_file(runner, site, path)
    assert_clean_exit(result, 0)
    assert result.stdout == f"Imported {path}: 1 added, 1 already present, 0 invalid\n"
    assert [(email, status) for email, _, status, *_ in stored(site)] == [
        ("henry@example.net", "bounced"),
        ("ivy@example.net", "bounced"),
        ("cy@example.org", "active"),
    ]


@pytest.mark.parametrize("encoding", ["utf-16-le", "utf-16-be"])
def test_excels_unicode_text(runner: CliRunner, site: Path, tmp_path: Path, encoding: str) -> None:
    """Excel's "Unicode Text" is UTF-16 with a byte order mark, tab-separated."""
    text = rewritten(sample(GHOST), "\t", "\r\n")
    path = tmp_path / "members.txt"
    mark = codecs.BOM_UTF16_LE if encoding.endswith("le") else codecs.BOM_UTF16_BE
    path.write_bytes(mark + text.encode(encoding))
    assert read_import(path) == text
    result = import_file(runner, site, path)
    assert result.stdout == f"Imported {path}: 3 added, 0 already present, 1 invalid\n"


def test_utf16_that_is_not(tmp_path: Path) -> None:
    path = tmp_path / "members.txt"
    path.write_bytes(codecs.BOM_UTF16_LE + "email\n".encode("utf-16-le") + b"\x00")
    with pytest.raises(ImportFileError, match=r"starts as UTF-16 but is not; save the file as"):
        read_import(path)


def test_a_header_and_nothing_else(runner: CliRunner, site: Path, tmp_path: Path) -> None:
    path = tmp_path / "members.csv"
    path.write_bytes((DATA / GHOST).read_bytes().splitlines(keepends=True)[0])
    result = import_file(runner, site, path)
    assert_clean_exit(result, 0)
    assert result.stdout == f"Imported {path}: 0 added, 0 already present, 0 invalid\n"


def test_the_consent_an_import_kept_is_shown(runner: CliRunner, site: Path) -> None:
    import_file(runner, site, DATA / MAILCHIMP_SUBSCRIBED)
    shown = invoke(runner, "--site", site, "subscribers", "show", "jane@bücher.example")
    assert_clean_exit(shown, 0)
    assert "Joined:       2020-01-05 09:00 CET (source: import)" in shown.stdout
    assert "Confirmed:    -" in shown.stdout
