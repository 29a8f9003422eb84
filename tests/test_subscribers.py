"""Subscribers (add, remove, list, import, export) and the send command's checks: dry runs,
test copies and relay settings that cannot work."""

from __future__ import annotations

import csv
import email
import email.policy
import io
import json
import stat
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from click.testing import CliRunner, Result
from helpers import ARTICLES, NEWSLETTER, NOW, NOW_ARG, MakeSite, assert_clean_exit, invoke

from feedpub import config
from feedpub.delivery.imports import import_text
from feedpub.delivery.messages import list_id
from feedpub.delivery.subscribers import (
    MAX_NAME,
    Subscribers,
    export_csv,
    normalize,
)
from feedpub.delivery.tokens import load_secret, read
from feedpub.delivery.transport import check_smtp
from feedpub.errors import ImportFormatError, InsecureRelay, SubscriberError
from feedpub.store.state import State

SMTP = """
[smtp]
host = "smtp.example.org"
"""
UNSET = "FEEDPUB_TEST_SMTP_PASSWORD"


@pytest.fixture
def site(make_site: MakeSite) -> Path:
    return make_site(ARTICLES, extra=NEWSLETTER)


def people(root: Path) -> list[tuple[str, str, str]]:
    """(email, name, status) of every subscriber, in the order they were added."""
    with State.open(config.load(root, env={}).state_dir, create=False) as state:
        return [(s.email, s.name, s.status) for s in Subscribers(state).iter()]


def add_people(root: Path, *rows: tuple[str, str, str]) -> None:
    """Add (email, name, status) rows through the library."""
    with State.open(config.load(root, env={}).state_dir) as state, state.transaction():
        subscribers = Subscribers(state)
        for address, name, status in rows:
            subscribers.add(address, name, NOW)
            if status != "active":
                subscribers.set_status(address, status, NOW)


def deliveries(root: Path) -> int:
    with State.open(config.load(root, env={}).state_dir) as state:
        return int(state.db.execute("SELECT count(*) FROM deliveries").fetchone()[0])


def import_file(runner: CliRunner, root: Path, path: Path) -> Result:
    return invoke(runner, "--site", root, "subscribers", "import", path)


# -- add -------------------------------------------------------------------------------------


def test_add(runner: CliRunner, site: Path) -> None:
    result = invoke(runner, "--site", site, "subscribers", "add", "ann@example.org")
    assert_clean_exit(result, 0)
    assert result.stdout == "Added ann@example.org\n"
    assert result.stderr == ""
    named = invoke(
        runner, "--site", site, "subscribers", "add", "bob@example.org", "--name", "Bob  Baker"
    )
    assert_clean_exit(named, 0)
    assert named.stdout == "Added bob@example.org\n"
    assert people(site) == [
        ("ann@example.org", "", "active"),
        ("bob@example.org", "Bob Baker", "active"),
    ]


@pytest.mark.parametrize(
    "again",
    ["ANN@EXAMPLE.ORG", "Ann@Example.org", "  ann@example.org  "],
    ids=["upper-case", "mixed-case", "spaces-around"],
)
def test_add_the_same_address_again(runner: CliRunner, site: Path, again: str) -> None:
    assert_clean_exit(invoke(runner, "--site", site, "subscribers", "add", "ann@example.org"), 0)
    result = invoke(runner, "--site", site, "subscribers", "add", again, "--name", "Other")
    assert_clean_exit(result, 0)
    assert result.stdout == "Already subscribed: ann@example.org\n"
    assert people(site) == [("ann@example.org", "", "active")]


def test_add_an_internationalised_domain(runner: CliRunner, site: Path) -> None:
    result = invoke(runner, "--site", site, "subscribers", "add", "jane@bücher.example")
    assert_clean_exit(result, 0)
    assert result.stdout == "Added jane@bücher.example\n"
    assert normalize("jane@bücher.example") == (
        "jane@bücher.example",
        "jane@xn--bcher-kva.example",
    )
    # The same mailbox written with the domain's ASCII (IDNA) form, or in capitals, is one.
    for again in ("jane@xn--bcher-kva.example", "JANE@BÜCHER.EXAMPLE"):
        same = invoke(runner, "--site", site, "subscribers", "add", again)
        assert_clean_exit(same, 0)
        assert same.stdout == "Already subscribed: jane@bücher.example\n"
    assert people(site) == [("jane@bücher.example", "", "active")]


LONG_ADDRESS = "a" * 390 + "@example.org"


@pytest.mark.parametrize(
    ("address", "message"),
    [
        ("bad@", "'bad@' is not a valid address: There must be something after the @-sign."),
        ("@x.org", "'@x.org' is not a valid address: There must be something before the @-sign."),
        ("a b@x.org", "'a b@x.org' is not a valid address: The email address contains invalid"),
        ("x@localhost", "'x@localhost' is not a valid address: The part after the @-sign is not"),
        ("no-at-sign.example.org", "'no-at-sign.example.org' is not a valid address: "),
        (LONG_ADDRESS, f"{LONG_ADDRESS[:40]!r}... is too long for an email address"),
        ("ann\n@x.org", r"'ann\n@x.org' is not a valid address: "),
        ("ann@x.org\r\nBcc: eve@x.org", r"'ann@x.org\r\nBcc: eve@x.org' is not a valid address"),
        ("a\x07b@x.org", r"'a\x07b@x.org' is not a valid address: "),
        ("", "'' is not a valid address: "),
    ],
    ids=[
        "nothing-after-at",
        "nothing-before-at",
        "space",
        "no-dot-in-domain",
        "no-at",
        "400-characters",
        "newline",
        "header-injection",
        "control-character",
        "empty",
    ],
)
def test_add_refuses_an_invalid_address(
    runner: CliRunner, site: Path, address: str, message: str
) -> None:
    result = invoke(runner, "--site", site, "subscribers", "add", address)
    assert_clean_exit(result, 1)
    assert result.stderr.startswith(f"Error: {message}"), result.stderr
    assert len(result.stderr.splitlines()) == 1  # the address's control characters are escaped
    assert result.stdout == ""
    assert people(site) == []


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("Ann\x00Nul", "the name holds control characters"),
        ("Ann\x1b[31mRed", "the name holds control characters"),
        ("Ann\x9b31mRed", "the name holds control characters"),
        ("Ann\x7f", "the name holds control characters"),
        ("x" * 300, f"the name is 300 characters; keep it under {MAX_NAME}"),
    ],
    ids=["nul", "escape", "c1-control", "delete", "300-characters"],
)
def test_add_refuses_a_bad_name(runner: CliRunner, site: Path, name: str, message: str) -> None:
    result = invoke(runner, "--site", site, "subscribers", "add", "ann@example.org", "--name", name)
    assert_clean_exit(result, 1)
    assert result.stderr == f"Error: {message}\n"
    assert people(site) == []


def test_add_folds_whitespace_in_a_name(runner: CliRunner, site: Path) -> None:
    result = invoke(
        runner, "--site", site, "subscribers", "add", "ann@example.org", "--name", " Ann\n\tLee "
    )
    assert_clean_exit(result, 0)
    assert people(site) == [("ann@example.org", "Ann Lee", "active")]


@pytest.mark.parametrize(
    ("status", "how"),
    [
        ("unsubscribed", "unsubscribed"),
        ("bounced", "was taken off after their mailbox bounced"),
        ("complained", "was taken off after reporting an issue as spam"),
    ],
    ids=["unsubscribed", "bounced", "complained"],
)
def test_adding_someone_who_left_is_refused_without_resubscribe(
    runner: CliRunner, site: Path, status: str, how: str
) -> None:
    add_people(site, ("ann@example.org", "Ann", status))
    result = invoke(runner, "--site", site, "subscribers", "add", "Ann@example.org")
    assert_clean_exit(result, 1)
    assert result.stderr == (
        f"Error: ann@example.org {how} on 2026-11-27 12:00 CET; add them again only if they "
        "asked to be back: feedpub subscribers add --resubscribe ann@example.org\n"
    )
    assert result.stdout == ""
    assert people(site) == [("ann@example.org", "Ann", status)]


def test_resubscribe_reactivates_someone_who_left(runner: CliRunner, site: Path) -> None:
    add_people(site, ("ann@example.org", "Ann", "unsubscribed"), ("bob@example.org", "", "bounced"))
    result = invoke(
        runner, "--site", site, "subscribers", "add", "Ann@example.org", "--resubscribe"
    )
    assert_clean_exit(result, 0)
    assert result.stdout == "Subscribed again: ann@example.org\n"
    bounced = invoke(
        runner, "--site", site, "subscribers", "add", "bob@example.org", "--name", "Bo",
        "--resubscribe",
    )
    assert_clean_exit(bounced, 0)
    assert people(site) == [
        ("ann@example.org", "Ann", "active"),  # no --name: the name stays
        ("bob@example.org", "Bo", "active"),
    ]
    with State.open(config.load(site, env={}).state_dir) as state:
        failures = state.db.execute("SELECT hard_failures FROM subscribers ORDER BY id").fetchall()
    assert failures == [(0,), (0,)]
    # --resubscribe on someone new or still subscribed changes nothing else.
    new = invoke(runner, "--site", site, "subscribers", "add", "cat@example.org", "--resubscribe")
    assert new.stdout == "Added cat@example.org\n"
    again = invoke(runner, "--site", site, "subscribers", "add", "cat@example.org", "--resubscribe")
    assert again.stdout == "Already subscribed: cat@example.org\n"


def test_the_state_database_is_private(runner: CliRunner, site: Path) -> None:
    assert not (site / ".feedpub").exists()
    assert_clean_exit(invoke(runner, "--site", site, "subscribers", "add", "ann@example.org"), 0)
    folder = site / ".feedpub"
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    files = sorted(p.name for p in folder.iterdir())
    assert "state.db" in files
    for name in files:
        assert stat.S_IMODE((folder / name).stat().st_mode) == 0o600, name


# -- remove and list -------------------------------------------------------------------------


def test_remove(runner: CliRunner, site: Path) -> None:
    add_people(site, ("ann@example.org", "Ann", "active"), ("bob@example.org", "", "active"))
    result = invoke(runner, "--site", site, "subscribers", "remove", "ANN@example.org")
    assert_clean_exit(result, 0)
    assert result.stdout == "Unsubscribed ann@example.org\n"
    assert people(site) == [
        ("ann@example.org", "Ann", "unsubscribed"),
        ("bob@example.org", "", "active"),
    ]


@pytest.mark.parametrize(
    "address", ["nobody@example.org", "not an address"], ids=["unknown", "invalid"]
)
def test_remove_an_unknown_address(runner: CliRunner, site: Path, address: str) -> None:
    add_people(site, ("ann@example.org", "", "active"))
    result = invoke(runner, "--site", site, "subscribers", "remove", address)
    assert_clean_exit(result, 1)
    assert result.stderr == f"Error: {address!r} is not a subscriber\n"
    assert result.stdout == ""
    assert people(site) == [("ann@example.org", "", "active")]


LISTED = [
    ("ann@example.org", "Ann Lee", "active"),
    ("bob@example.org", "", "unsubscribed"),
    ("zoe@bücher.example", "Zoë, Dr.", "bounced"),
    ("dan@example.org", "Dan", "active"),
]


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        (None, LISTED),
        ("active", [LISTED[0], LISTED[3]]),
        ("unsubscribed", [LISTED[1]]),
        ("bounced", [LISTED[2]]),
    ],
    ids=["all", "active", "unsubscribed", "bounced"],
)
def test_list(
    runner: CliRunner, site: Path, status: str | None, expected: list[tuple[str, str, str]]
) -> None:
    add_people(site, *LISTED)
    option = ["--status", status] if status else []
    result = invoke(runner, "--site", site, "subscribers", "list", *option)
    assert_clean_exit(result, 0)
    count = f"{len(expected)} subscriber" + ("s" if len(expected) != 1 else "")
    assert result.stdout.splitlines() == ["\t".join(row) for row in expected] + [count]

    as_json = invoke(runner, "--site", site, "subscribers", "list", "--json", *option)
    assert_clean_exit(as_json, 0)
    assert json.loads(as_json.stdout) == [
        {"email": e, "name": n, "status": s} for e, n, s in expected
    ]
    if any(name.startswith("Zoë") for _, name, _ in expected):
        assert '"Zoë, Dr."' in as_json.stdout  # written as it is, not \u-escaped


def test_list_json_objects_have_exactly_three_keys(runner: CliRunner, site: Path) -> None:
    add_people(site, *LISTED)
    result = invoke(runner, "--site", site, "subscribers", "list", "--json")
    objects = json.loads(result.stdout)
    assert isinstance(objects, list) and len(objects) == len(LISTED)
    assert all(sorted(o) == ["email", "name", "status"] for o in objects)


def test_list_without_a_state(runner: CliRunner, site: Path) -> None:
    plain = invoke(runner, "--site", site, "subscribers", "list")
    assert_clean_exit(plain, 0)
    assert plain.stdout == "0 subscribers\n"
    as_json = invoke(runner, "--site", site, "subscribers", "list", "--json")
    assert json.loads(as_json.stdout) == []
    assert not (site / ".feedpub").exists()


def test_list_with_an_unknown_status(runner: CliRunner, site: Path) -> None:
    result = invoke(runner, "--site", site, "subscribers", "list", "--status", "gone")
    assert_clean_exit(result, 2)
    assert (
        "Invalid value for '--status': 'gone' is not one of 'pending', 'active', "
        "'unsubscribed', 'bounced', 'complained'"
        in result.stderr
    )


# -- import ----------------------------------------------------------------------------------


def write(tmp_path: Path, text: str | bytes, name: str = "list.csv") -> Path:
    path = tmp_path / name
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_bytes(text.encode())
    return path


def summary(path: Path, added: int, present: int, invalid: int) -> str:
    return f"Imported {path}: {added} added, {present} already present, {invalid} invalid\n"


def test_import_csv(runner: CliRunner, site: Path, tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "email,name,city\n"
        'ann@example.org,"Lee, Ann",Millbrook\n'
        'bob@example.org,"Bob ""The Builder"" Baker",\n'
        "jane@bücher.example,Jane\n"
        "carol@example.org\n",
    )
    result = import_file(runner, site, path)
    assert_clean_exit(result, 0)
    assert result.stdout == summary(path, 4, 0, 0)
    assert result.stderr == ""
    assert people(site) == [
        ("ann@example.org", "Lee, Ann", "active"),
        ("bob@example.org", 'Bob "The Builder" Baker', "active"),
        ("jane@bücher.example", "Jane", "active"),
        ("carol@example.org", "", "active"),
    ]


@pytest.mark.parametrize(
    "text",
    [
        "Name,E-Mail Address\nAnn,ann@example.org\n",
        "ann@example.org,Ann\nbob@example.org,Bob\n",
        "Ann Lee\nbob@example.org\n",
    ],
    ids=["other-column-name", "no-header", "first-line-a-name"],
)
def test_import_a_header_without_email(
    runner: CliRunner, site: Path, tmp_path: Path, text: str
) -> None:
    """A file that is CSV without an 'email' column is one clear error, not a list of
    'invalid address' lines for what are in fact the file's columns."""
    path = write(tmp_path, text)
    result = import_file(runner, site, path)
    assert_clean_exit(result, 1)
    assert result.stderr == (
        f"Error: {path}:1: neither an address nor a CSV header with an 'email' column; "
        "start the file with a header line such as 'email,name', or list one address a line; "
        "nothing was imported\n"
    )
    assert result.stdout == ""
    assert people(site) == []


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (" Email , NAME \nann@example.org,Ann\n", [("ann@example.org", "Ann", "active")]),
        ("name,email\nAnn,ann@example.org\n", [("ann@example.org", "Ann", "active")]),
        ('"email","name"\r\n"ann@example.org","Ann"\r\n', [("ann@example.org", "Ann", "active")]),
        ("\ufeffemail,name\nann@example.org,Ann\n", [("ann@example.org", "Ann", "active")]),
        (
            "email,name\rann@example.org,Ann\rbob@example.org,Bob\r",
            [("ann@example.org", "Ann", "active"), ("bob@example.org", "Bob", "active")],
        ),
        ("email\nann@example.org\n", [("ann@example.org", "", "active")]),
    ],
    ids=[
        "spaces-and-case",
        "columns-swapped",
        "quoted-crlf",
        "byte-order-mark",
        "old-mac-cr",
        "email-only",
    ],
)
def test_import_csv_variants(
    runner: CliRunner,
    site: Path,
    tmp_path: Path,
    text: str,
    expected: list[tuple[str, str, str]],
) -> None:
    path = write(tmp_path, text)
    result = import_file(runner, site, path)
    assert_clean_exit(result, 0)
    assert result.stdout == summary(path, len(expected), 0, 0)
    assert people(site) == expected


def test_import_one_address_a_line(runner: CliRunner, site: Path, tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "# exported from the sign-up sheet\n"
        "\n"
        "ann@example.org\n"
        "   bob@example.org   \n"
        "# a comment between\n"
        "\n"
        "\n"
        "jane@bücher.example\n",
        name="list.txt",
    )
    result = import_file(runner, site, path)
    assert_clean_exit(result, 0)
    assert result.stdout == summary(path, 3, 0, 0)
    assert [p[0] for p in people(site)] == [
        "ann@example.org",
        "bob@example.org",
        "jane@bücher.example",
    ]


def test_import_reports_bad_lines_and_adds_the_rest(
    runner: CliRunner, site: Path, tmp_path: Path
) -> None:
    path = write(
        tmp_path,
        "# members, 2026\n"  # 1
        "email,name\n"  # 2
        "ann@example.org,Ann\n"  # 3
        "bad@,Bad\n"  # 4
        "\n"  # 5
        'bob@example.org,"Bob\n'  # 6 a quoted name over two lines
        'Baker"\n'  # 7
        "x@localhost,Local\n"  # 8
        "# a comment\n"  # 9
        "carol@example.org,Carol\x01\n"  # 10
        ",No Address\n"  # 11
        "dan@example.org,Dan\n",  # 12
    )
    result = import_file(runner, site, path)
    assert_clean_exit(result, 1)
    errors = result.stderr.splitlines()
    assert [line.split(": error: ")[0] for line in errors[:-1]] == [
        f"{path}:4",
        f"{path}:8",
        f"{path}:10",
        f"{path}:11",
    ]
    assert errors[0] == (
        f"{path}:4: error: 'bad@' is not a valid address: There must be something after the @-sign."
    )
    assert errors[2] == f"{path}:10: error: the name holds control characters"
    assert errors[-1] == f"Error: 4 invalid lines in {path}; the other lines were imported"
    assert result.stdout == summary(path, 3, 0, 4)
    assert people(site) == [
        ("ann@example.org", "Ann", "active"),
        ("bob@example.org", "Bob Baker", "active"),
        ("dan@example.org", "Dan", "active"),
    ]


@pytest.mark.parametrize(
    "text",
    [
        "ann@example.org\n\x0c\nbad@\n",
        "email,name\nann@example.org,Ann\u2028Lee\nbad@,x\n",
        "ann@example.org\nbob@example.org\u0085\nbad@\n",
    ],
    ids=["form-feed", "line-separator-in-csv", "next-line"],
)
def test_import_numbers_lines_as_editors_do(
    runner: CliRunner, site: Path, tmp_path: Path, text: str
) -> None:
    """Only \\n, \\r\\n and \\r end a line: str.splitlines() would also split at form feeds,
    U+2028 and U+0085, and every later line number would be off."""
    path = write(tmp_path, text)
    result = import_file(runner, site, path)
    assert_clean_exit(result, 1)
    assert result.stderr.splitlines()[0].startswith(f"{path}:3: error: 'bad@' is not a valid")
    assert len(result.stderr.splitlines()) == 2


def test_import_a_field_too_big_for_csv(runner: CliRunner, site: Path, tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "email,name\nann@example.org,Ann\n"
        f'bob@example.org,"{"b" * 200_000}"\n'
        "carol@example.org,Carol\n",
    )
    result = import_file(runner, site, path)
    assert_clean_exit(result, 1)
    assert "a bug in feedpub" not in result.stderr
    assert result.stderr.splitlines()[0] == (
        f"{path}:3: error: not readable as CSV: field larger than field limit (131072)"
    )
    assert result.stdout == summary(path, 2, 0, 1)
    assert [p[0] for p in people(site)] == ["ann@example.org", "carol@example.org"]


def test_import_is_idempotent(runner: CliRunner, site: Path, tmp_path: Path) -> None:
    path = write(tmp_path, "email,name\nann@example.org,Ann\nBob@Example.org,Bob\nbad@,x\n")
    first = import_file(runner, site, path)
    assert first.stdout == summary(path, 2, 0, 1)
    second = import_file(runner, site, path)
    assert second.stdout == summary(path, 0, 2, 1)
    assert second.stderr.splitlines()[0].startswith(f"{path}:4: error: 'bad@'")
    assert people(site) == [
        ("ann@example.org", "Ann", "active"),
        ("Bob@example.org", "Bob", "active"),
    ]


def test_import_never_resubscribes(runner: CliRunner, site: Path, tmp_path: Path) -> None:
    """Who unsubscribed stays unsubscribed when a list that still holds them is imported:
    only `subscribers add` (the person asking again) re-activates."""
    add_people(site, ("ann@example.org", "Ann", "unsubscribed"), ("bob@example.org", "", "bounced"))
    path = write(tmp_path, "ann@example.org\nbob@example.org\ncarol@example.org\n")
    result = import_file(runner, site, path)
    assert_clean_exit(result, 0)
    assert result.stdout == summary(path, 1, 2, 0)
    assert people(site) == [
        ("ann@example.org", "Ann", "unsubscribed"),
        ("bob@example.org", "", "bounced"),
        ("carol@example.org", "", "active"),
    ]


def test_import_reads_a_status_column(runner: CliRunner, site: Path, tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "email,name,status\n"
        "ann@example.org,Ann,active\n"
        "bob@example.org,Bob,unsubscribed\n"
        "carol@example.org,Carol,Bounced\n"
        "dan@example.org,Dan,\n"
        "eve@example.org,Eve,deleted\n",
    )
    result = import_file(runner, site, path)
    assert_clean_exit(result, 1)
    assert result.stderr.splitlines()[0] == (
        f"{path}:6: error: status 'deleted' is not one feedpub knows; use active, pending, "
        "unsubscribed, bounced or complained"
    )
    assert people(site) == [
        ("ann@example.org", "Ann", "active"),
        ("bob@example.org", "Bob", "unsubscribed"),
        ("carol@example.org", "Carol", "bounced"),
        ("dan@example.org", "Dan", "active"),
    ]


@pytest.mark.parametrize(
    "data",
    [
        b"email,name\nann@example.org,Ann\nbob@example.org,Jos\xe9\n",
        b"email,name\r\nann@example.org,Ann\r\nbob@example.org,Jos\xe9\r\n",
        b"email,name\rann@example.org,Ann\rbob@example.org,Jos\xe9\r",
        b"\xef\xbb\xbfann@example.org\n\n\xff\xfebob@example.org\n",
    ],
    ids=["latin-1", "latin-1-crlf", "latin-1-cr", "utf-16-marks"],
)
def test_import_a_file_that_is_not_utf8(
    runner: CliRunner, site: Path, tmp_path: Path, data: bytes
) -> None:
    path = write(tmp_path, data)
    result = import_file(runner, site, path)
    assert_clean_exit(result, 1)
    assert result.stderr == f"Error: {path}:3: not UTF-8; save the file as UTF-8\n"
    assert result.stdout == ""
    assert people(site) == []


def test_import_a_missing_file(runner: CliRunner, site: Path, tmp_path: Path) -> None:
    path = tmp_path / "nowhere.csv"
    result = import_file(runner, site, path)
    assert_clean_exit(result, 1)
    assert result.stderr == f"Error: cannot read {path}: No such file or directory\n"
    assert not (site / ".feedpub").exists()


def test_import_an_empty_file(runner: CliRunner, site: Path, tmp_path: Path) -> None:
    path = write(tmp_path, "# nothing yet\n\n")
    result = import_file(runner, site, path)
    assert_clean_exit(result, 0)
    assert result.stdout == summary(path, 0, 0, 0)


def test_import_a_big_file(runner: CliRunner, site: Path, tmp_path: Path) -> None:
    lines = [f"reader{n}@example.org" for n in range(20_000)]
    lines[99] = "broken@"  # line 100
    lines[12_344] = "reader1@EXAMPLE.org"  # line 12345: already in the file (line 2)
    lines[19_999] = "not an address"  # line 20000
    path = write(tmp_path, "\n".join(lines) + "\n", name="big.txt")
    result = import_file(runner, site, path)
    assert_clean_exit(result, 1)
    assert result.stdout == summary(path, 19_997, 1, 2)
    assert [line.split(": error: ")[0] for line in result.stderr.splitlines()[:-1]] == [
        f"{path}:100",
        f"{path}:20000",
    ]
    with State.open(config.load(site, env={}).state_dir) as state:
        assert Subscribers(state).count("active") == 19_997


def test_import_text_in_the_library(site: Path) -> None:
    with State.open(config.load(site, env={}).state_dir) as state:
        subscribers = Subscribers(state)
        report = import_text(subscribers, "ann@example.org\nbad@\nANN@example.org\n", NOW)
        assert (report.added, report.present) == (1, 1)
        assert [line for line, _ in report.invalid] == [2]
        with pytest.raises(SubscriberError, match="'bad@' is not a valid address"):
            subscribers.add("bad@", "", NOW)
        with pytest.raises(ImportFormatError) as caught:
            import_text(subscribers, "\n# from the form\nName,Mail\nCy,cy@example.org\n", NOW)
        assert caught.value.line == 3
        assert subscribers.count() == 1


# -- export ----------------------------------------------------------------------------------

EXPORTED = (
    "email,name,status\n"
    "ann@example.org,Ann Lee,active\n"
    "bob@example.org,,unsubscribed\n"
    'zoe@bücher.example,"Zoë, Dr.",bounced\n'
    "dan@example.org,Dan,active\n"
)


def test_export_to_standard_output(runner: CliRunner, site: Path) -> None:
    add_people(site, *LISTED)
    result = invoke(runner, "--site", site, "subscribers", "export")
    assert_clean_exit(result, 0)
    assert result.stdout == EXPORTED
    assert result.stderr == ""


def test_export_without_a_state(runner: CliRunner, site: Path) -> None:
    result = invoke(runner, "--site", site, "subscribers", "export")
    assert_clean_exit(result, 0)
    assert result.stdout == "email,name,status\n"
    assert not (site / ".feedpub").exists()


@pytest.mark.parametrize("existing", [False, True], ids=["new-file", "over-a-readable-file"])
def test_export_to_a_file(runner: CliRunner, site: Path, tmp_path: Path, existing: bool) -> None:
    add_people(site, *LISTED)
    path = tmp_path / "subscribers.csv"
    if existing:
        path.write_text("old\n")
        path.chmod(0o644)
    result = invoke(runner, "--site", site, "subscribers", "export", path)
    assert_clean_exit(result, 0)
    assert result.stdout == f"Wrote {path}\n"
    assert path.read_text(encoding="utf-8") == EXPORTED
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert sorted(p.name for p in tmp_path.iterdir()) == ["site", "subscribers.csv"]


def test_export_into_a_missing_folder(runner: CliRunner, site: Path, tmp_path: Path) -> None:
    add_people(site, *LISTED)
    path = tmp_path / "missing" / "subscribers.csv"
    result = invoke(runner, "--site", site, "subscribers", "export", path)
    assert_clean_exit(result, 1)
    assert result.stderr == f"Error: cannot write {path}: No such file or directory\n"


def test_export_and_import_round_trip(
    runner: CliRunner, make_site: MakeSite, site: Path, tmp_path: Path
) -> None:
    add_people(
        site,
        *LISTED,
        ("quote@example.org", 'Eve "Q" O\'Neil', "active"),
        ("Upper@Example.org", "Ünïcödé 名前", "unsubscribed"),
    )
    path = tmp_path / "backup.csv"
    assert_clean_exit(invoke(runner, "--site", site, "subscribers", "export", path), 0)
    fresh = make_site(ARTICLES, extra=NEWSLETTER, folder="fresh")
    result = import_file(runner, fresh, path)
    assert_clean_exit(result, 0)
    assert result.stdout == summary(path, 6, 0, 0)
    assert people(fresh) == people(site)
    again = invoke(runner, "--site", fresh, "subscribers", "export")
    assert again.stdout == path.read_text(encoding="utf-8")
    rows = list(csv.DictReader(io.StringIO(again.stdout)))
    assert [r["status"] for r in rows] == [
        "active",
        "unsubscribed",
        "bounced",
        "active",
        "active",
        "unsubscribed",
    ]


def test_export_csv_in_the_library(site: Path) -> None:
    add_people(site, *LISTED)
    with State.open(config.load(site, env={}).state_dir) as state:
        assert export_csv(Subscribers(state)) == EXPORTED


# -- personal data stays where it was asked for ----------------------------------------------


def test_other_commands_print_no_personal_data(runner: CliRunner, site: Path) -> None:
    add_people(
        site,
        ("ann.private@example.org", "Ann Private", "active"),
        ("bob.private@example.org", "Bob Private", "unsubscribed"),
    )
    commands = [
        ["run", "--now", NOW_ARG],
        ["status", "--now", NOW_ARG],
        ["status", "--json", "--now", NOW_ARG],
        ["issue", "list"],
        ["issue", "show", "1"],
        ["send", "1", "--dry-run"],
        ["send", "1"],
        ["build", "--now", NOW_ARG],
        ["check", "--now", NOW_ARG],
    ]
    for command in commands:
        result = invoke(runner, "--site", site, *command)
        assert_clean_exit(result, 0)
        for secret in ("private", "Private"):
            assert secret not in result.output, (command, result.output)
    outbox = site / ".feedpub" / "outbox" / "1"
    assert sorted(p.name for p in outbox.iterdir()) == ["ann.private@example.org.eml"]


# -- send: dry runs, test copies, relay settings ---------------------------------------------


@pytest.fixture
def issued(runner: CliRunner, site: Path) -> Path:
    """The site with issue 1 made (not sent) and three subscribers, two of them active."""
    add_people(
        site,
        ("ann@example.org", "Ann", "active"),
        ("bob@example.org", "", "unsubscribed"),
        ("carol@example.org", "", "active"),
    )
    assert_clean_exit(invoke(runner, "--site", site, "issue", "new", "--now", NOW_ARG), 0)
    return site


def issue_status(root: Path) -> list[tuple[int, str]]:
    with State.open(config.load(root, env={}).state_dir) as state:
        return [(r.number, r.status) for r in state.issues.all()]


@pytest.mark.parametrize(
    ("extra", "relay"),
    [
        ("", "Would send to: the outbox folder {outbox}/ ([smtp] names no host)"),
        (SMTP, "Would send to: the relay smtp.example.org:587"),
        (SMTP + 'security = "ssl"\n', "Would send to: the relay smtp.example.org:465"),
    ],
    ids=["outbox", "smtp", "smtp-ssl"],
)
def test_send_dry_run(runner: CliRunner, issued: Path, extra: str, relay: str) -> None:
    toml = issued / "feedpub.toml"
    toml.write_text(toml.read_text() + extra)
    for args in (["send", "--dry-run"], ["send", "1", "--dry-run"]):
        result = invoke(runner, "--site", issued, *args)
        assert_clean_exit(result, 0)
        assert result.stdout.splitlines() == [
            "Issue 1 is ready: would send to 2 subscribers; 0 already done, 0 deferred",
            relay.format(outbox=issued / ".feedpub" / "outbox" / "1"),
        ]
    assert deliveries(issued) == 0
    assert issue_status(issued) == [(1, "ready")]
    assert not (issued / ".feedpub" / "outbox").exists()


def test_send_dry_run_after_sending(runner: CliRunner, issued: Path) -> None:
    assert_clean_exit(invoke(runner, "--site", issued, "send"), 0)
    result = invoke(runner, "--site", issued, "send", "1", "--dry-run")
    assert_clean_exit(result, 0)
    assert result.stdout.splitlines()[0] == (
        "Issue 1 is sent (2/2 sent): would send to 0 subscribers; 2 already done, 0 deferred"
    )


def test_send_a_test_copy(runner: CliRunner, issued: Path) -> None:
    result = invoke(runner, "--site", issued, "send", "--test", "Tess@Example.org")
    assert_clean_exit(result, 0)
    folder = issued / ".feedpub" / "outbox" / "test"
    assert result.stdout == f"Sent a test copy of issue 1 to Tess@Example.org ({folder})\n"
    assert [p.name for p in (issued / ".feedpub" / "outbox").iterdir()] == ["test"]
    (copy,) = folder.iterdir()
    assert copy.name == "Tess@example.org.eml"
    msg = email.message_from_bytes(copy.read_bytes(), policy=email.policy.default)
    assert msg["To"] == "Tess@example.org"
    assert msg["Subject"] == "[Test] Test Weekly #1: Bravo"
    assert msg["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    link = str(msg["List-Unsubscribe"]).split(",")[0].strip("<> ")
    token = parse_qs(urlsplit(link).query)["t"][0]
    site = config.load(issued, env={})
    # A key made for the copy and thrown away, not the address: the link names no one and
    # unsubscribes no one.
    reading = read(load_secret(site.state_dir), list_id(site), token, "u", NOW)
    assert not reading.legacy and "tess" not in token.lower()
    # Nothing recorded: no delivery rows, the issue still waits to be sent.
    assert deliveries(issued) == 0
    assert issue_status(issued) == [(1, "ready")]


def test_send_a_test_copy_to_an_invalid_address(runner: CliRunner, issued: Path) -> None:
    result = invoke(runner, "--site", issued, "send", "--test", "bad@")
    assert_clean_exit(result, 1)
    assert result.stderr.startswith("Error: 'bad@' is not a valid address")
    assert not (issued / ".feedpub" / "outbox").exists()



def test_a_test_copy_the_outbox_cannot_take_is_a_clear_error(
    runner: CliRunner, issued: Path
) -> None:
    """A file where the outbox's folder goes: said as such, not as a bug in feedpub."""
    (issued / ".feedpub" / "outbox").mkdir()
    (issued / ".feedpub" / "outbox" / "test").write_text("in the way\n", encoding="utf-8")
    result = invoke(runner, "--site", issued, "send", "--test", "tess@example.org")
    assert_clean_exit(result, 1)
    folder = issued / ".feedpub" / "outbox" / "test"
    assert result.stderr == (
        f"Error: the test copy to tess@example.org was not sent: cannot write "
        f"{folder / 'tess@example.org.eml'}: File exists; fix that and run again\n"
    )
    assert deliveries(issued) == 0

@pytest.mark.parametrize(
    "args", [["send"], ["send", "--test", "tess@example.org"]], ids=["send", "test-copy"]
)
def test_send_with_an_unset_password_variable(
    runner: CliRunner, issued: Path, args: list[str]
) -> None:
    toml = issued / "feedpub.toml"
    toml.write_text(toml.read_text() + SMTP + f'username = "u"\npassword_env = "{UNSET}"\n')
    result = invoke(runner, "--site", issued, *args)
    assert_clean_exit(result, 1)
    assert result.stderr == (
        f"Error: [smtp] password_env names {UNSET}, which is not set; "
        f"export {UNSET}=... before sending\n"
    )
    assert issue_status(issued) == [(1, "ready")]
    assert not (issued / ".feedpub" / "outbox").exists()


def test_a_send_that_cannot_start_records_nothing(runner: CliRunner, issued: Path) -> None:
    toml = issued / "feedpub.toml"
    toml.write_text(toml.read_text() + SMTP + f'password_env = "{UNSET}"\n')
    assert_clean_exit(invoke(runner, "--site", issued, "send"), 1)
    assert deliveries(issued) == 0


@pytest.mark.parametrize(
    "args", [["send"], ["send", "--test", "tess@example.org"]], ids=["send", "test-copy"]
)
def test_send_unencrypted_to_a_remote_relay(
    runner: CliRunner, issued: Path, args: list[str]
) -> None:
    toml = issued / "feedpub.toml"
    toml.write_text(toml.read_text() + SMTP + 'security = "none"\n')
    site = config.load(issued, env={})
    with pytest.raises(InsecureRelay) as refused:
        check_smtp(site.smtp)
    assert "would send mail and password unencrypted to smtp.example.org" in str(refused.value)
    result = invoke(runner, "--site", issued, *args)
    assert_clean_exit(result, 1)
    assert result.stderr == f"Error: {refused.value}\n"
    assert issue_status(issued) == [(1, "ready")]


def test_send_unencrypted_to_loopback_is_allowed_by_the_check(make_site: MakeSite) -> None:
    root = make_site(
        extra=NEWSLETTER + SMTP.replace("smtp.example.org", "127.0.0.1") + 'security = "none"\n'
    )
    check_smtp(config.load(root, env={}).smtp)  # raises nothing
