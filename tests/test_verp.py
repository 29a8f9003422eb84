"""The VERP tokens and addresses (feedpub.delivery.verp) and the [smtp] bounce_address
setting: tokens read back whatever their case, forged, cut, other lists' and overlong ones are
refused with a VerpError, the addresses keep within RFC 5321's 64 octets, and only this site's
addresses are taken for its own."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest
from helpers import MAIL_NEWSLETTER, SETTINGS, MakeSite, load
from hypothesis import given
from hypothesis import strategies as st

from feedpub import config
from feedpub.config import (
    MAX_BOUNCE_LOCAL,
    VERP_TOKEN_LENGTH,
    FeedSettings,
    Site,
    SiteSettings,
    SmtpSettings,
)
from feedpub.delivery import verp
from feedpub.delivery.identity import list_id
from feedpub.delivery.messages import Recipient
from feedpub.errors import ConfigError, FeedpubError, VerpError
from feedpub.store.subscribers import new_token_key

SECRET = b"0123456789abcdef0123456789abcdef"
LIST = "test-weekly.news.example.org"
KEY = "fobXWCYZNJ-X8PTwuT94nQ"
BOUNCES = '\n[smtp]\nbounce_address = "bounces@News.Example.org"\n'


def test_a_token_reads_back_its_purpose_key_and_issue() -> None:
    for purpose in verp.PURPOSES:
        for issue in (None, 1, 35, 36, 1234, verp.MAX_ISSUE):
            token = verp.make(SECRET, LIST, purpose, KEY, issue)
            assert verp.read(SECRET, LIST, token) == verp.VerpReading(purpose, KEY, issue)


def test_a_token_is_lowercase_base32_of_the_documented_shape() -> None:
    token = verp.make(SECRET, LIST, "b", KEY, 42)
    purpose, key, issue, mac = token.split("-")
    assert (purpose, issue) == ("b", "16")  # 42 in base 36
    assert base64.b32decode(key.upper() + "======") == base64.urlsafe_b64decode(KEY + "==")
    assert len(key) == 26 and len(mac) == 16
    assert set(key + mac) <= set("abcdefghijklmnopqrstuvwxyz234567")
    assert "ann" not in token  # nothing of an address: only the random key


def test_the_longest_token_is_what_the_setting_counts_on() -> None:
    assert verp.MAX_TOKEN == VERP_TOKEN_LENGTH
    longest = verp.make(SECRET, LIST, "u", KEY, verp.MAX_ISSUE)
    assert len(longest) == verp.MAX_TOKEN
    # The unsubscribe address and the longest bounce address's local part both fit in 64.
    assert len(f"unsubscribe+{longest}") <= 64
    assert len(f"{'b' * MAX_BOUNCE_LOCAL}+{longest}") == 64


def test_a_token_reads_whatever_its_case() -> None:
    token = verp.make(SECRET, LIST, "b", KEY, 7)
    assert verp.read(SECRET, LIST, token.upper()) == verp.VerpReading("b", KEY, 7)
    assert verp.read(SECRET, LIST, token.title()).issue == 7


def _flip(text: str, at: int) -> str:
    alphabet = "abcdefghijklmnopqrstuvwxyz234567"
    swapped = alphabet[(alphabet.index(text[at]) + 1) % len(alphabet)]
    return text[:at] + swapped + text[at + 1 :]


GOOD = verp.make(SECRET, LIST, "b", KEY, 7)


@pytest.mark.parametrize(
    "token",
    [
        pytest.param(GOOD[:-1], id="truncated"),
        pytest.param(GOOD[:20], id="cut-in-half"),
        pytest.param("", id="empty"),
        pytest.param(GOOD + "a", id="one-more"),
        pytest.param(GOOD + "-" + "a" * 60, id="too-long"),
        pytest.param("x" * 10_000, id="huge"),
        pytest.param(GOOD.replace("-", "_"), id="other-separator"),
        pytest.param("c" + GOOD[1:], id="other-purpose"),
        pytest.param(GOOD.replace("-7-", "-07-"), id="issue-leading-zero"),
        pytest.param(GOOD.replace("-7-", "-zzzzz-"), id="issue-too-big"),
        pytest.param(GOOD[:2] + "1" + GOOD[3:], id="not-base32"),
        pytest.param(GOOD + "\n", id="line-break"),
        pytest.param(GOOD.replace("b-", "b- "), id="space"),
        pytest.param("b-é" + GOOD[3:], id="not-ascii"),
    ],
)
def test_malformed_tokens_are_refused(token: str) -> None:
    with pytest.raises(VerpError):
        verp.read(SECRET, LIST, token)


@pytest.mark.parametrize(
    "token",
    [
        pytest.param(_flip(GOOD, len(GOOD) - 1), id="changed-mac"),
        pytest.param(_flip(GOOD, 5), id="changed-key"),
        pytest.param(GOOD.replace("-7-", "-8-"), id="changed-issue"),
        pytest.param("u" + GOOD[1:], id="changed-purpose"),
    ],
)
def test_forged_tokens_are_refused(token: str) -> None:
    with pytest.raises(VerpError, match="not valid for this list"):
        verp.read(SECRET, LIST, token)


@pytest.mark.parametrize(
    ("secret", "lid"),
    [(b"another site's secret", LIST), (SECRET, "other.news.example.org")],
    ids=["other-secret", "other-list"],
)
def test_another_sites_or_lists_token_is_refused(secret: bytes, lid: str) -> None:
    with pytest.raises(VerpError, match="not valid for this list"):
        verp.read(secret, lid, GOOD)


def test_a_verp_error_is_one_of_feedpubs_own() -> None:
    assert issubclass(VerpError, FeedpubError)


@pytest.mark.parametrize(
    ("purpose", "key", "issue"),
    [
        ("m", KEY, 1),
        ("b", "short", 1),
        ("b", KEY + "AA", 1),
        ("b", "ann@example.org", 1),
        ("b", KEY, 0),
        ("b", KEY, verp.MAX_ISSUE + 1),
    ],
)
def test_make_refuses_what_no_address_should_carry(purpose: str, key: str, issue: int) -> None:
    with pytest.raises(ValueError):
        verp.make(SECRET, LIST, purpose, key, issue)


@given(st.text(max_size=80))
def test_any_text_is_a_reading_or_a_verp_error(text: str) -> None:
    try:
        reading = verp.read(SECRET, LIST, text)
    except VerpError:
        return
    assert reading.purpose in verp.PURPOSES


@given(st.binary(min_size=16, max_size=16), st.integers(1, verp.MAX_ISSUE) | st.none())
def test_every_key_and_issue_reads_back(raw: bytes, issue: int | None) -> None:
    key = base64.urlsafe_b64encode(raw).decode().rstrip("=")
    token = verp.make(SECRET, LIST, "u", key, issue)
    assert verp.read(SECRET, LIST, token.upper()) == verp.VerpReading("u", key, issue)


# -- the addresses --------------------------------------------------------------------------


def _site(make_site: MakeSite, extra: str = BOUNCES) -> Path:
    return make_site(settings=SETTINGS, extra=MAIL_NEWSLETTER + extra)


def test_the_envelope_sender_and_mailto_carry_signed_tokens(make_site: MakeSite) -> None:
    site = load(_site(make_site))
    assert site.smtp.bounce_address == "bounces@news.example.org"
    reader = Recipient(1, "ann@example.org", "Ann", "ann@example.org", new_token_key())
    sender = verp.bounce_sender(site, SECRET, reader, 3)
    local, domain = sender.split("@")
    assert domain == "news.example.org" and local.startswith("bounces+b-")
    assert len(local) <= 64
    mailto = verp.unsubscribe_mailto(site, SECRET, reader, 3)
    assert mailto.startswith("unsubscribe+u-") and mailto.endswith("@news.example.org")
    lid = list_id(site)
    for address, purpose in ((sender, "b"), (mailto, "u")):
        found = verp.address_token(site, address)
        assert found is not None and found[0] == purpose
        assert verp.read(SECRET, lid, found[1]) == verp.VerpReading(purpose, reader.token_key, 3)


def test_without_a_bounce_address_the_sender_and_mailto_are_as_before(
    make_site: MakeSite,
) -> None:
    site = load(_site(make_site, extra=""))
    reader = Recipient(1, "ann@example.org", "Ann", "ann@example.org", new_token_key())
    assert verp.bounce_sender(site, SECRET, reader, 3) == "news@news.example.org"
    assert verp.unsubscribe_mailto(site, SECRET, reader, 3) == "letters@news.example.org"
    assert verp.address_token(site, "bounces+b-x@news.example.org") is None


def test_a_copy_for_no_subscriber_gets_the_plain_sender(make_site: MakeSite) -> None:
    # A test copy's bounce must not touch anyone.
    site = load(_site(make_site))
    nobody = Recipient(0, "editor@example.org", "", "editor@example.org")
    assert verp.bounce_sender(site, SECRET, nobody, 3) == "news@news.example.org"
    assert verp.unsubscribe_mailto(site, SECRET, nobody, 3) == "letters@news.example.org"


@pytest.mark.parametrize(
    ("address", "expected"),
    [
        ("bounces+TOKEN@news.example.org", ("b", "TOKEN")),
        ("BOUNCES+token@NEWS.EXAMPLE.ORG", ("b", "token")),
        ("<bounces+token@news.example.org>", ("b", "token")),
        (' "bounces+token"@news.example.org. ', ("b", "token")),
        ("Unsubscribe+token@news.example.org", ("u", "token")),
        ("bounces@news.example.org", None),
        ("bounces+@news.example.org", None),
        ("bounces+token@example.org", None),
        ("bounces+token@news.example.org.evil.test", None),
        ("other+token@news.example.org", None),
        ("bounces-token@news.example.org", None),
        ("no address at all", None),
        ("", None),
        ("bounces+" + "a" * 1000 + "@news.example.org", None),
        ("bounces+token@ex\u00e4mple.org", None),
        ("bounces+token@\udcff.org", None),
    ],
)
def test_only_this_sites_addresses_are_its_own(
    make_site: MakeSite, address: str, expected: tuple[str, str] | None
) -> None:
    site = load(_site(make_site))
    assert verp.address_token(site, address) == expected
    assert verp.matcher(site)(address) == expected


def test_an_internationalised_bounce_domain_matches_in_either_form(make_site: MakeSite) -> None:
    site = load(_site(make_site, extra='\n[smtp]\nbounce_address = "b@bücher.example"\n'))
    assert site.smtp.bounce_address == "b@xn--bcher-kva.example"
    assert verp.address_token(site, "b+t@bücher.example") == ("b", "t")
    assert verp.address_token(site, "b+t@XN--BCHER-KVA.example") == ("b", "t")


@pytest.mark.parametrize(
    ("value", "says"),
    [
        ("bounces+x@news.example.org", "'+'"),
        ("Bounces <bounces@news.example.org>", "bare address"),
        ("a, b@news.example.org", "addresses"),
        ("not an address", "not an address"),
        ("b" * (MAX_BOUNCE_LOCAL + 1) + "@news.example.org", "64"),
        ("unsubscribe@news.example.org", "unsubscribe"),
        ("bounces@news.example.org\nBcc: x@evil.test", "line break"),
        ("bö@news.example.org", "ASCII"),
        ('"b c"@news.example.org', "not an address"),
    ],
)
def test_a_bad_bounce_address_is_refused_naming_the_setting(
    make_site: MakeSite, value: str, says: str
) -> None:
    escaped = value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    root = _site(make_site, extra=f'\n[smtp]\nbounce_address = "{escaped}"\n')
    with pytest.raises(ConfigError) as caught:
        load(root)
    message = str(caught.value)
    assert "[smtp] bounce_address" in message and says in message
    assert "Traceback" not in message


def test_the_longest_bounce_local_part_is_accepted(make_site: MakeSite) -> None:
    value = "b" * MAX_BOUNCE_LOCAL + "@news.example.org"
    site = load(_site(make_site, extra=f'\n[smtp]\nbounce_address = "{value}"\n'))
    reader = Recipient(1, "ann@example.org", "", "ann@example.org", new_token_key())
    sender = verp.bounce_sender(site, SECRET, reader, verp.MAX_ISSUE)
    assert len(sender.split("@")[0]) == 64


def test_the_bounce_address_may_come_from_the_environment(make_site: MakeSite) -> None:
    root = _site(make_site, extra="")
    site = config.load(root, env={"FEEDPUB_SMTP_BOUNCE_ADDRESS": "bounces@news.example.org"})
    assert site.smtp.bounce_address == "bounces@news.example.org"


# A Site made in code (no files): address_token reads nothing but the setting.
_SITE = Site(
    root=Path("/nonexistent"),
    site=SiteSettings(title="T", url="https://news.example.org/"),
    feeds=FeedSettings(),
    smtp=SmtpSettings(bounce_address="bounces@news.example.org"),
)


@given(st.text(max_size=400))
def test_any_text_is_an_address_of_ours_or_none(text: str) -> None:
    for address in (text, f"bounces+{text}@news.example.org", f"{text}@news.example.org"):
        found = verp.address_token(_SITE, address)
        assert found is None or (found[0] in verp.PURPOSES and found[1])


def test_a_huge_bounce_address_is_refused_naming_the_setting(make_site: MakeSite) -> None:
    root = _site(make_site, extra=f'\n[smtp]\nbounce_address = "{"b" * 100_000}@x.org"\n')
    with pytest.raises(ConfigError, match=r"\[smtp\] bounce_address"):
        load(root)


@pytest.mark.parametrize(
    ("bounce", "warned"),
    [
        ("bounces@news.example.org", False),
        ("bounces@example.org", False),
        ("b@bounces.news.example.org", False),
        ("b@mail.example.org", False),
        ("bounces@example.com", True),
        ("bounces@news.other.org", True),
    ],
)
def test_a_bounce_domain_that_does_not_align_with_from_is_warned_about(
    make_site: MakeSite, bounce: str, warned: bool
) -> None:
    site = load(_site(make_site, extra=f'\n[smtp]\nbounce_address = "{bounce}"\n'))
    said = [str(w) for w in site.warnings if "bounce_address" in str(w)]
    assert bool(said) == warned
    if warned:
        assert "align with From for DMARC" in said[0] and "news.example.org" in said[0]
        assert said[0].startswith("feedpub.toml:")
