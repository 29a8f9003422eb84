"""Transports chosen by name: a transport a plugin registers carries an issue like the built-in
ones, with the same bookkeeping; the registry refuses unknown and doubled names. And the one
private write that the outbox, the List-Id and exports share."""

from __future__ import annotations

import stat
from email import message_from_bytes, policy
from pathlib import Path

import pytest
from helpers import NOW, MakeSite, article, load

from feedpub.config import Site
from feedpub.delivery import transport
from feedpub.delivery.sending import send_issue, send_test
from feedpub.delivery.subscribers import Subscribers
from feedpub.delivery.transport import RelayFailure, Transport
from feedpub.errors import TransportError
from feedpub.newsletter.issues import create
from feedpub.private import write_private
from feedpub.site.build import load_catalog
from feedpub.store.state import State

NEWSLETTER = """
[newsletter]
name = "Test Weekly"
from = "Test Gazette <news@news.example.org>"
schedule = "manual"
"""
PEOPLE = ["ann@example.org", "bob@example.org", "cy@example.org", "dee@example.org"]


class Memory:
    """A transport of the kind a plugin adds: it keeps every message it is given."""

    def __init__(self, batch: str, kept: list[tuple[str, str, str, bytes]]) -> None:
        self.batch = batch
        self.kept = kept
        self.opened = self.closed = 0

    def open(self) -> None:
        self.opened += 1

    def send(self, sender: str, recipient: str, data: bytes) -> None:
        if recipient == "refuse-all@example.org":
            raise RelayFailure("the API refused the key", temporary=False)
        self.kept.append((self.batch, sender, recipient, data))

    def close(self) -> None:
        self.closed += 1


KEPT: list[tuple[str, str, str, bytes]] = []
MADE: list[Memory] = []


def memory_transports(site: Site, batch: str) -> list[Transport]:
    made = [Memory(batch, KEPT) for _ in range(2)]  # two connections at once
    MADE.extend(made)
    return list(made)


@pytest.fixture
def memory() -> str:
    transport.register("memory", memory_transports)
    KEPT.clear()
    MADE.clear()
    return "memory"


def issued_site(make_site: MakeSite, people: list[str]) -> Site:
    root = make_site({"a.md": article("Alpha", "2026-11-20 09:00")}, extra=NEWSLETTER)
    site = load(root)
    with State.open(site.state_dir) as state:
        with state.transaction():
            book = Subscribers(state)
            for address in people:
                book.add(address, "", NOW)
        assert create(site, state, load_catalog(site, state, NOW), NOW) is not None
    return site


def statuses(site: Site) -> dict[str, int]:
    with State.open(site.state_dir) as state:
        return state.deliveries.counts(1)


def test_a_registered_transport_carries_the_issue_by_its_name(
    make_site: MakeSite, memory: str
) -> None:
    site = issued_site(make_site, PEOPLE)
    report = send_issue(site, 1, NOW, transport=memory)
    assert (report.finished, report.sent, report.outcome) == (True, 4, "sent")
    assert sorted(to for _, _, to, _ in KEPT) == PEOPLE
    assert {(batch, sender) for batch, sender, _, _ in KEPT} == {("1", "news@news.example.org")}
    for _, _, to, data in KEPT:
        msg = message_from_bytes(data, policy=policy.default)
        assert msg["To"] == to
        assert msg["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    # Both connections were opened (the first before anything was recorded) and closed.
    assert len(MADE) == 2 and all(m.closed for m in MADE) and MADE[0].opened
    assert statuses(site) == {"sent": 4}
    assert not (site.state_dir / "outbox").exists()  # not the default transport's doing


def test_a_registered_transport_that_fails_stops_the_send_and_spends_no_attempts(
    make_site: MakeSite, memory: str
) -> None:
    site = issued_site(make_site, ["refuse-all@example.org"])
    report = send_issue(site, 1, NOW, transport=memory)
    assert not report.finished
    assert (
        report.error == "the API refused the key; sending stopped until that is fixed (no "
        "recipient's attempts were spent)"
    )
    with State.open(site.state_dir) as state:
        assert state.deliveries.attempts(1, 1) == 0
    assert statuses(site) == {"pending": 1}


def test_a_test_copy_goes_through_a_registered_transport(make_site: MakeSite, memory: str) -> None:
    site = issued_site(make_site, PEOPLE)
    with State.open(site.state_dir) as state:
        record = state.issues.get(1)
    assert send_test(site, record, "Editor@Example.org", transport=memory) is None
    assert [(batch, to) for batch, _, to, _ in KEPT] == [("test", "Editor@example.org")]
    assert statuses(site) == {}  # a test copy records nothing


def test_the_built_in_transports_are_registered() -> None:
    assert {"smtp", "outbox"} <= set(transport.names())
    assert transport.factory("outbox") is transport.outbox_transports


def test_an_unknown_transport_name_is_an_error_that_lists_the_known_ones(
    make_site: MakeSite,
) -> None:
    site = issued_site(make_site, PEOPLE)
    with pytest.raises(TransportError) as caught:
        send_issue(site, 1, NOW, transport="carrier-pigeon")
    assert str(caught.value).startswith(
        "there is no transport named 'carrier-pigeon'; the known ones: "
    )
    assert "outbox, " in str(caught.value)
    assert statuses(site) == {}  # nothing recorded


def test_a_name_is_registered_once(memory: str) -> None:
    transport.register(memory, memory_transports)  # the same factory again: nothing changes
    with pytest.raises(TransportError) as caught:
        transport.register("smtp", memory_transports)
    assert str(caught.value) == "a transport named 'smtp' is registered already"
    assert transport.factory("smtp") is transport.smtp_transports
    with pytest.raises(TransportError) as bad:
        transport.register("no spaces", memory_transports)
    assert str(bad.value) == "'no spaces' cannot name a transport: use letters, digits, - and _"


# -- the private write ---------------------------------------------------------------------------
def test_a_private_write_replaces_a_leftover_and_never_writes_through_a_link(
    tmp_path: Path,
) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.write_bytes(b"not yours")
    target = tmp_path / "list.csv"
    # What a killed write left beside the file, or a link someone put there instead.
    (tmp_path / ".list.csv.tmp").symlink_to(elsewhere)
    write_private(target, b"email\n")
    assert target.read_bytes() == b"email\n"
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    assert elsewhere.read_bytes() == b"not yours"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["elsewhere", "list.csv"]
    write_private(target, b"email,name\n")  # replaces the file it wrote
    assert target.read_bytes() == b"email,name\n"
