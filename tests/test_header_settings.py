"""Settings that reach an email's headers: a line break or control character in them, or a
sender that is not one valid address, is a settings error when they load (feedpub.toml or the
environment), so no message can carry a header the settings forged; a delivered message,
through a real relay, has the headers feedpub writes and no other."""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Callable

import pytest
from click.testing import CliRunner
from helpers import MAIL_ARTICLES as ARTICLES
from helpers import (
    NOW,
    NOW_ARG,
    SETTINGS,
    MakeSite,
    Relay,
    assert_clean_exit,
    invoke,
    load,
    make_issue,
    parse,
    smtp_settings,
    subscribe,
)

from feedpub import config
from feedpub.delivery.messages import preview_message
from feedpub.delivery.sending import send_issue
from feedpub.errors import ConfigError

NEWSLETTER = """
[newsletter]
name = "Test Weekly"
from = "Test Gazette <news@news.example.org>"
reply_to = "Letters <letters@news.example.org>"
"""
# feedpub.toml's line of `name = ...`; `from` is on the next, `reply_to` on the one after.
NAME_LINE = SETTINGS.count("\n") + 3
LINE_BREAK = (
    "holds a line break (U+{:04X}), which an email header cannot carry; write it on one line"
)
CONTROL = "holds a control character (U+{:04X}), which an email header cannot carry; remove it"


def settings_with(key: str, toml_value: str) -> str:
    """NEWSLETTER with ``key``'s line replaced (``toml_value`` is TOML, quotes included)."""
    lines = [
        f"{key} = {toml_value}" if line.startswith(f"{key} = ") else line
        for line in NEWSLETTER.splitlines()
    ]
    return "\n".join(lines) + "\n"


# -- feedpub.toml -----------------------------------------------------------------------------

INJECTIONS = [
    # (key, TOML value, line offset from NAME_LINE, the message after "[newsletter] KEY ")
    ("name", r'"Test Weekly\nBcc: victim@evil.example"', 0, LINE_BREAK.format(0x0A)),
    ("name", r'"Test Weekly\rX-Injected: yes"', 0, LINE_BREAK.format(0x0D)),
    ("name", r'"Test Weekly\u2028X-Injected: yes"', 0, LINE_BREAK.format(0x2028)),
    ("name", r'"Test\u0007Weekly"', 0, CONTROL.format(0x07)),
    ("name", r'"Test\u0000Weekly"', 0, CONTROL.format(0x00)),
    ("name", r'"Test\u009bWeekly"', 0, CONTROL.format(0x9B)),
    ("from", r'"Test <news@news.example.org>\r\nX-Injected: yes"', 1, LINE_BREAK.format(0x0D)),
    ("from", r'"Test\t<news@news.example.org>"', 1, CONTROL.format(0x09)),
    (
        "reply_to",
        r'"L <letters@news.example.org>\nBcc: v@evil.example"',
        2,
        LINE_BREAK.format(0x0A),
    ),
    ("reply_to", r'"L\u001b[2J <letters@news.example.org>"', 2, CONTROL.format(0x1B)),
]
INJECTION_IDS = [
    "name-lf",
    "name-cr",
    "name-line-separator",
    "name-bell",
    "name-nul",
    "name-c1-csi",
    "from-crlf",
    "from-tab",
    "reply-to-lf",
    "reply-to-escape",
]


@pytest.mark.parametrize(("key", "value", "offset", "words"), INJECTIONS, ids=INJECTION_IDS)
def test_check_refuses_a_header_breaking_setting(
    runner: CliRunner, make_site: MakeSite, key: str, value: str, offset: int, words: str
) -> None:
    root = make_site(ARTICLES, extra=settings_with(key, value))
    result = invoke(runner, "--site", root, "check", "--now", NOW_ARG)
    assert_clean_exit(result, 1)
    assert result.stdout == ""
    assert result.stderr == (
        f"feedpub.toml:{NAME_LINE + offset}: error: [newsletter] {key} {words}\n"
        "Error: 1 error in the settings\n"
    )


@pytest.mark.parametrize(
    "args",
    [["issue", "preview", "--now", NOW_ARG], ["send", "--test", "ann@example.org"]],
    ids=["preview", "send-test"],
)
def test_preview_and_test_copy_report_the_setting_not_a_bug(
    runner: CliRunner, make_site: MakeSite, args: list[str]
) -> None:
    root = make_site(ARTICLES, extra=settings_with("name", r'"Weekly\nBcc: victim@evil.example"'))
    result = invoke(runner, "--site", root, *args)
    assert_clean_exit(result, 1)
    assert "unexpected" not in result.stderr
    assert result.stderr == (
        f"feedpub.toml:{NAME_LINE}: error: [newsletter] name {LINE_BREAK.format(0x0A)}\n"
        "Error: 1 error in the settings\n"
    )


def test_the_site_title_reaches_the_headers_too(runner: CliRunner, make_site: MakeSite) -> None:
    # With no [newsletter] name, the site's title is the newsletter's: From, List-Id, Subject.
    settings = SETTINGS.replace('"Test Gazette"', r'"Test Gazette\nBcc: victim@evil.example"')
    unnamed = NEWSLETTER.replace('name = "Test Weekly"\n', "")
    root = make_site(ARTICLES, settings=settings, extra=unnamed)
    result = invoke(runner, "--site", root, "check", "--now", NOW_ARG)
    assert_clean_exit(result, 1)
    assert result.stderr == (
        f"feedpub.toml:2: error: [site] title {LINE_BREAK.format(0x0A)}\n"
        "Error: 1 error in the settings\n"
    )


@pytest.mark.parametrize(
    ("value", "words"),
    [
        (r'"{{ newsletter.name }}\u0007 #{{ issue.number }}"', CONTROL.format(0x07)),
        (r'"{{ newsletter.name }}\u007f#{{ issue.number }}"', CONTROL.format(0x7F)),
    ],
    ids=["bell", "delete"],
)
def test_subject_template_refuses_control_characters(
    runner: CliRunner, make_site: MakeSite, value: str, words: str
) -> None:
    root = make_site(ARTICLES, extra=NEWSLETTER + f"subject = {value}\n")
    result = invoke(runner, "--site", root, "check", "--now", NOW_ARG)
    assert_clean_exit(result, 1)
    assert result.stderr == (
        f"feedpub.toml:{NAME_LINE + 3}: error: [newsletter] subject {words}\n"
        "Error: 1 error in the settings\n"
    )


def test_a_subject_template_on_several_lines_is_still_one_line(make_site: MakeSite) -> None:
    # A multi-line TOML string is a way to write a long template: its line breaks are spaces.
    # (U+0085, a C1 control, is refused in every text setting: tests/test_pages_markup.py.)
    value = '"""{{ newsletter.name }}\n\\u2028#{{ issue.number }}"""'
    site = load(make_site(ARTICLES, extra=NEWSLETTER + f"subject = {value}\n"))
    assert site.newsletter.subject == "{{ newsletter.name }}\n\u2028#{{ issue.number }}"


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        (
            "from",
            '"news@news.example.org, boss@news.example.org"',
            "'news@news.example.org, boss@news.example.org' holds 2 addresses; give one, "
            "as 'Name <editor@example.org>'",
        ),
        (
            "from",
            '"Staff: news@news.example.org;"',
            "'Staff: news@news.example.org;' is a group, not an address; write it as "
            "'Name <editor@example.org>'",
        ),
        (
            "from",
            '"Test <news@news.example.org> X-Injected: yes"',
            "'Test <news@news.example.org> X-Injected: yes' is not an address; write it as "
            "'Name <editor@example.org>'",
        ),
        (
            "reply_to",
            '"Letters <letters@localhost>"',
            "'Letters <letters@localhost>' is not an address; write it as "
            "'Name <editor@example.org>'",
        ),
        (
            "reply_to",
            '"Letters <lé@news.example.org>"',
            "'Letters <lé@news.example.org>' is not an address a relay without SMTPUTF8 can "
            "carry: the part before the @ must be ASCII",
        ),
    ],
    ids=["two-addresses", "group", "trailing-text", "no-dot-in-domain", "non-ascii-local-part"],
)
def test_sender_is_one_valid_address(
    runner: CliRunner, make_site: MakeSite, key: str, value: str, message: str
) -> None:
    root = make_site(ARTICLES, extra=settings_with(key, value))
    result = invoke(runner, "--site", root, "check", "--now", NOW_ARG)
    assert_clean_exit(result, 1)
    offset = {"from": 1, "reply_to": 2}[key]
    assert result.stderr == (
        f"feedpub.toml:{NAME_LINE + offset}: error: [newsletter] {key} {message}\n"
        "Error: 1 error in the settings\n"
    )


def test_an_internationalised_sender_domain_is_kept_in_its_ascii_form(make_site: MakeSite) -> None:
    # The envelope (MAIL FROM) and an ASCII message both need the IDNA form of the domain.
    root = make_site(ARTICLES, extra=settings_with("from", '"Bücher <news@bücher.example>"'))
    assert load(root).newsletter.from_ == "Bücher <news@xn--bcher-kva.example>"


@pytest.mark.parametrize(
    "url",
    ["https://news\\u0007.example.org/", "https://news.example.org/\\u0000x/"],
    ids=["host", "path"],
)
def test_site_url_refuses_control_characters(make_site: MakeSite, url: str) -> None:
    # The host is in every Message-ID and List-Id, the URL in List-Unsubscribe.
    root = make_site(ARTICLES, settings=SETTINGS.replace('"https://news.example.org/"', f'"{url}"'))
    with pytest.raises(ConfigError) as caught:
        load(root)
    [problem] = caught.value.problems
    assert str(problem) == "feedpub.toml:3: error: [site] url must not contain control characters"


# -- the environment ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("variable", "value", "words"),
    [
        (
            "FEEDPUB_NEWSLETTER_NAME",
            "Weekly\nBcc: victim@evil.example",
            f"[newsletter] name {LINE_BREAK.format(0x0A)}",
        ),
        (
            "FEEDPUB_NEWSLETTER_FROM",
            "Test <news@news.example.org>\r\nX-Injected: yes",
            f"[newsletter] from {LINE_BREAK.format(0x0D)}",
        ),
        (
            "FEEDPUB_NEWSLETTER_REPLY_TO",
            "L <letters@news.example.org>\nBcc: victim@evil.example",
            f"[newsletter] reply_to {LINE_BREAK.format(0x0A)}",
        ),
        (
            "FEEDPUB_SITE_TITLE",
            "Gazette\x1b]0;owned\x07",
            f"[site] title {CONTROL.format(0x1B)}",
        ),
    ],
    ids=["name", "from", "reply-to", "title"],
)
def test_environment_names_the_variable(
    runner: CliRunner, make_site: MakeSite, variable: str, value: str, words: str
) -> None:
    root = make_site(ARTICLES, extra=NEWSLETTER)
    result = invoke(runner, "--site", root, "check", "--now", NOW_ARG, env={variable: value})
    assert_clean_exit(result, 1)
    assert result.stderr == (
        f"environment variable {variable}: error: {words}\nError: 1 error in the settings\n"
    )


def test_environment_bytes_that_are_not_utf8(make_site: MakeSite) -> None:
    # os.environ gives bytes that are not UTF-8 as lone surrogates, which no message can encode.
    root = make_site(ARTICLES, extra=NEWSLETTER)
    with pytest.raises(ConfigError) as caught:
        config.load(root, env={"FEEDPUB_NEWSLETTER_NAME": "Caf\udce9 Weekly"})
    [problem] = caught.value.problems
    assert str(problem) == (
        "environment variable FEEDPUB_NEWSLETTER_NAME: error: [newsletter] name holds bytes "
        "that are not UTF-8; set it as UTF-8 text"
    )


# -- what a relay receives --------------------------------------------------------------------

HEADERS = {
    "From",
    "To",
    "Reply-To",
    "Subject",
    "Date",
    "Message-ID",
    "List-Unsubscribe",
    "List-Id",
    "List-Unsubscribe-Post",
    "Feedback-ID",
    "MIME-Version",
    "Content-Type",
}


@pytest.fixture
def relay(start_relay: Callable[..., Relay]) -> Relay:
    return start_relay()


def test_send_with_an_injected_setting_sends_nothing(
    runner: CliRunner, relay: Relay, make_site: MakeSite
) -> None:
    root = make_site(ARTICLES, extra=NEWSLETTER + smtp_settings(relay.port))
    subscribe(root, [("ann@example.net", "Ann")])
    make_issue(root)
    env: dict[str, str | None] = {
        "FEEDPUB_NEWSLETTER_FROM": "Test <news@news.example.org>\nBcc: victim@evil.example"
    }
    result = invoke(runner, "--site", root, "send", "--now", NOW_ARG, env=env)
    assert_clean_exit(result, 1)
    assert result.stderr == (
        "environment variable FEEDPUB_NEWSLETTER_FROM: error: [newsletter] from "
        f"{LINE_BREAK.format(0x0A)}\nError: 1 error in the settings\n"
    )
    assert relay.handler.count() == 0


def test_a_hostile_but_valid_name_stays_inside_its_headers(
    relay: Relay, make_site: MakeSite
) -> None:
    # One line that looks like headers, and a name RFC 2047 must encode: both stay a phrase.
    name = "Wéekly Bcc: victim@evil.example X-Injected: yes"
    extra = settings_with("name", f'"{name}"') + smtp_settings(relay.port)
    root = make_site(ARTICLES, extra=extra)
    subscribe(root, [("ann@example.net", "Ann"), ("zoe@example.net", "Zoë")])
    make_issue(root)
    report = send_issue(load(root), 1, NOW)
    assert report.sent == 2
    for _, raw in relay.handler.received():
        msg = parse(raw)
        assert set(msg.keys()) == HEADERS
        assert msg["List-Id"].startswith(name + " <")
        assert str(msg["Subject"]).startswith(f"{name} #1: ")
        assert msg["Bcc"] is None and msg["X-Injected"] is None


def test_a_site_built_past_the_checks_cannot_send_a_forged_header(
    relay: Relay, make_site: MakeSite
) -> None:
    # A Site made in code, not loaded: the message writer itself refuses a line break.
    root = make_site(ARTICLES, extra=NEWSLETTER + smtp_settings(relay.port))
    subscribe(root, [("ann@example.net", "Ann")])
    make_issue(root)
    site = load(root)
    forged = dataclasses.replace(
        site, newsletter=dataclasses.replace(site.newsletter, name="Weekly\r\nBcc: v@evil.example")
    )
    with pytest.raises(ValueError, match="line break"):
        send_issue(forged, 1, NOW)
    assert relay.handler.count() == 0


def test_a_rendered_subject_carries_no_control_character(make_site: MakeSite) -> None:
    # The template is checked when it loads; what it renders (here a Jinja string escape) is
    # not in the settings. Articles' titles come cleaned by their readers.
    template = """'{{ newsletter.name }}{{ "\\u0007" }} #{{ issue.number }}'"""
    root = make_site(ARTICLES, extra=NEWSLETTER + f"subject = {template}\n")
    assert make_issue(root).subject == "Test Weekly #1"


def test_an_internationalised_site_url_makes_ascii_headers(make_site: MakeSite) -> None:
    # Its host is in every Message-ID and List-Id, the URL in List-Unsubscribe: as written,
    # the preview failed and every recipient's message could not be encoded.
    settings = SETTINGS.replace('"https://news.example.org/"', '"https://bücher.example/neu/über"')
    root = make_site(ARTICLES, settings=settings, extra=NEWSLETTER)
    site = load(root)
    assert site.site.url == "https://xn--bcher-kva.example/neu/%C3%BCber/"
    msg = parse(preview_message(site, make_issue(root), NOW))
    assert msg["Message-ID"].endswith("@xn--bcher-kva.example>")


# -- List-Id (RFC 2919) -----------------------------------------------------------------------

# RFC 2919's list-id: a dot-atom of ASCII, in angle brackets at the end of the header.
LIST_ID = re.compile(
    r"<([A-Za-z0-9!#$%&'*+\-/=?^_`{|}~]+(?:\.[A-Za-z0-9!#$%&'*+\-/=?^_`{|}~]+)+)>$"
)
ENCODED_WORD = re.compile(r"=\?[^?]+\?[QqBb]\?[^?]*\?=")


@pytest.mark.parametrize(
    "name",
    [
        "Wöchentliche Zeitung für Groß & Klein, mit Neuigkeiten aus der Stadt 📰",
        'Tom\'s "News": <W>',
    ],
    ids=["non-ascii", "ascii-specials"],
)
def test_list_id_keeps_its_id_in_ascii(relay: Relay, make_site: MakeSite, name: str) -> None:
    extra = settings_with("name", json.dumps(name, ensure_ascii=False)) + smtp_settings(relay.port)
    root = make_site(ARTICLES, extra=extra)
    # jörg's local part is not ASCII: his message is written by the email package (SMTPUTF8).
    subscribe(root, [("ann@example.net", "Ann"), ("jörg@example.net", "Jörg")])
    make_issue(root)
    assert send_issue(load(root), 1, NOW).sent == 2
    for _, raw in relay.handler.received():
        head = raw.split(b"\r\n\r\n", 1)[0].decode("utf-8")
        [folded] = re.findall(r"^List-Id: [^\r\n]*(?:\r\n[ \t][^\r\n]*)*", head, flags=re.MULTILINE)
        value = re.sub(r"\r\n[ \t]", " ", folded.removeprefix("List-Id: "))
        found = LIST_ID.search(value)
        assert found is not None, value
        # Outside quoted strings, the id's are the only angle brackets (a reader takes the first).
        assert re.sub(r'"(?:[^"\\]|\\.)*"', "", value).count("<") == 1, value
        assert all(len(word) <= 75 for word in ENCODED_WORD.findall(value))
        # RFC 5322's 78, but for the id on a line of its own, which cannot be broken.
        lines = folded.split("\r\n")
        assert all(len(line) <= 78 or line == f" <{found.group(1)}>" for line in lines), lines
        assert str(parse(raw)["List-Id"]).endswith(f" <{found.group(1)}>")
        if not name.isascii():
            assert str(parse(raw)["List-Id"]) == f"{name} <{found.group(1)}>"
