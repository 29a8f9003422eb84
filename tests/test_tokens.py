"""Tokens of version 6 (P.KEY.EXP.MAC): opaque, bound to their purpose, list and secret, the
confirmation ones expiring; and every token of the form before (address + HMAC) still read."""

from __future__ import annotations

import base64
from datetime import timedelta

import pytest
from helpers import NOW
from hypothesis import given
from hypothesis import strategies as st

from feedpub.delivery.tokens import (
    CONFIRM_TIME,
    MAX_TOKEN,
    Reading,
    make,
    make_token,
    read,
)
from feedpub.errors import TokenError
from feedpub.store.subscribers import new_token_key

SECRET = b"0123456789abcdef0123456789abcdef"
LIST = "test-weekly.news.example.org"
KEY = "fobXWCYZNJ-X8PTwuT94nQ"
ADDRESS_KEY = "ann@example.org"


@pytest.mark.parametrize("purpose", ["u", "m"])
def test_unsubscribe_and_manage_tokens_never_expire(purpose: str) -> None:
    token = make(SECRET, LIST, purpose, KEY)
    assert token.startswith(f"{purpose}.{KEY}.0.")
    later = NOW + timedelta(days=36500)
    assert read(SECRET, LIST, token, purpose, later) == Reading(purpose, KEY, False, False)


@pytest.mark.parametrize("purpose", ["c", "a"])
def test_confirmation_tokens_expire(purpose: str) -> None:
    extra = "new@example.org" if purpose == "a" else ""
    token = make(SECRET, LIST, purpose, KEY, NOW + CONFIRM_TIME, extra)
    extra_for = (lambda key: extra) if purpose == "a" else None
    fresh = read(SECRET, LIST, token, purpose, NOW + CONFIRM_TIME / 2, extra_for)
    assert fresh == Reading(purpose, KEY, False, False)
    stale = read(SECRET, LIST, token, purpose, NOW + CONFIRM_TIME, extra_for)
    assert stale == Reading(purpose, KEY, False, True)


def test_a_token_reveals_nothing_of_the_address() -> None:
    key = new_token_key()
    token = make(SECRET, LIST, "u", key)
    assert len(key) == 22
    assert "@" not in token and "ann" not in token
    # Nothing in it decodes to an address either.
    for part in token.split(".")[1::2]:  # the key and the MAC: base64 of random bytes
        decoded = base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))
        assert b"@" not in decoded


def test_an_address_change_link_confirms_only_the_address_it_was_made_for() -> None:
    token = make(SECRET, LIST, "a", KEY, NOW + CONFIRM_TIME, "first@example.org")
    assert read(SECRET, LIST, token, "a", NOW, lambda key: "first@example.org").key == KEY
    with pytest.raises(TokenError, match="not valid for this newsletter"):
        read(SECRET, LIST, token, "a", NOW, lambda key: "second@example.org")
    with pytest.raises(TokenError, match="no change of address waits"):
        read(SECRET, LIST, token, "a", NOW, lambda key: "")


@pytest.mark.parametrize(
    ("made", "asked"),
    [("u", "m"), ("m", "u"), ("c", "u"), ("u", "c"), ("m", "c"), ("c", "m")],
    ids=lambda p: p,
)
def test_a_token_is_for_its_purpose_only(made: str, asked: str) -> None:
    expires = None if made in "um" else NOW + CONFIRM_TIME
    token = make(SECRET, LIST, made, KEY, expires)
    with pytest.raises(TokenError, match="it is for another page"):
        read(SECRET, LIST, token, asked, NOW)


GOOD = make(SECRET, LIST, "c", KEY, NOW + CONFIRM_TIME)


@pytest.mark.parametrize(
    "token",
    [
        "",
        "u",
        "u.",
        "u..0.",
        GOOD[:-1],  # truncated
        GOOD[:-5],
        GOOD + "A",
        GOOD.replace("c.", "x.", 1),
        GOOD.replace(".", "..", 1),
        GOOD + ".",
        GOOD.upper(),
        "c." + KEY + ".+1." + GOOD.rsplit(".", 1)[1],  # int() would take "+1"
        "c." + KEY + ". 1." + GOOD.rsplit(".", 1)[1],
        "c." + KEY + ".1_0." + GOOD.rsplit(".", 1)[1],
        "c." + "k" * 65 + ".0." + GOOD.rsplit(".", 1)[1],
        "c." + KEY + ".0." + "é" * 22,
        "\x00" * 30,
        "u" + "." * 3 + "A" * 22,
        "a" * (MAX_TOKEN + 1),
        "u." + KEY + ".0." + "A" * (MAX_TOKEN),
    ],
    ids=lambda t: repr(t[:24]) + f"[{len(t)}]",
)
def test_malformed_tokens_are_refused_without_naming_anyone(token: str) -> None:
    with pytest.raises(TokenError) as caught:
        read(SECRET, LIST, token, "c", NOW)
    assert "@" not in str(caught.value)


@pytest.mark.parametrize(
    ("secret", "list_id"),
    [(b"another secret", LIST), (SECRET, "other.example.org")],
    ids=["another secret", "another newsletter"],
)
def test_forged_and_cross_site_tokens_are_refused(secret: bytes, list_id: str) -> None:
    token = make(secret, list_id, "u", KEY)
    with pytest.raises(TokenError, match="not valid for this newsletter"):
        read(SECRET, LIST, token, "u", NOW)


def test_a_changed_expiry_breaks_the_mac() -> None:
    purpose, key, _, mac = GOOD.split(".")
    later = f"{purpose}.{key}.zzzzzz.{mac}"
    with pytest.raises(TokenError, match="not valid for this newsletter"):
        read(SECRET, LIST, later, "c", NOW)


@pytest.mark.parametrize("purpose", ["u", "m"])
def test_tokens_of_the_form_before_version_6_read_as_unsubscribe_and_manage(purpose: str) -> None:
    old = make_token(SECRET, LIST, ADDRESS_KEY)  # what every email sent so far carries
    assert read(SECRET, LIST, old, purpose, NOW) == Reading(purpose, ADDRESS_KEY, True, False)


@pytest.mark.parametrize("purpose", ["c", "a"])
def test_old_tokens_confirm_nothing(purpose: str) -> None:
    old = make_token(SECRET, LIST, ADDRESS_KEY)
    with pytest.raises(TokenError, match="for another page"):
        read(SECRET, LIST, old, purpose, NOW)


def test_forged_old_tokens_are_refused() -> None:
    old = make_token(b"not the secret", LIST, ADDRESS_KEY)
    with pytest.raises(TokenError, match="not valid for this newsletter") as caught:
        read(SECRET, LIST, old, "u", NOW)
    assert "ann" not in str(caught.value)


@pytest.mark.parametrize(
    ("purpose", "expires", "extra"),
    [("u", NOW, ""), ("c", None, ""), ("z", None, ""), ("a", None, "x")],
)
def test_make_refuses_what_no_link_should_carry(
    purpose: str, expires: object, extra: str
) -> None:
    with pytest.raises(ValueError):
        make(SECRET, LIST, purpose, KEY, expires, extra)  # type: ignore[arg-type]


@given(st.text(max_size=300))
def test_any_text_is_a_token_or_a_token_error(text: str) -> None:
    try:
        reading = read(SECRET, LIST, text, "m", NOW)
    except TokenError:
        return
    assert reading.purpose == "m"
