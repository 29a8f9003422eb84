"""Pre-send checks (newsletter.checks): each finding from an issue composed on a real site whose
public/ a real build wrote, and none on the example site's first issue."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from golden_site import ISSUE_NOW, copy_example
from helpers import (
    MAIL_ARTICLES,
    MAIL_NEWSLETTER,
    NOW,
    NOW_ARG,
    SETTINGS,
    SITE_URL,
    MakeSite,
    Relay,
    article,
    assert_clean_exit,
    examples,
    invoke,
    load,
    make_issue,
    publish,
    readers,
    smtp_settings,
    subscribe,
)
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from feedpub.config import Site
from feedpub.content.bodies import Bodies
from feedpub.newsletter.checks import Finding, LeftOut, check_issue, errors, left_out
from feedpub.newsletter.digest import GMAIL_CLIP_BYTES
from feedpub.newsletter.issues import compose
from feedpub.run import refusal
from feedpub.site.build import build, load_catalog
from feedpub.store.issues import IssueRecord
from feedpub.store.state import State

NEWSLETTER = """
[newsletter]
from = "Desk <desk@news.example.org>"
lookback_days = 30
"""
ARTICLES: dict[str, str | bytes] = {
    "hello.md": article("Hello", "2026-11-20 09:00", "Body text."),
    "budget.md": article("Budget vote", "2026-11-21 09:00", "The board voted."),
}


def composed(site: Site, note: str = "", now: datetime = NOW) -> IssueRecord:
    """The issue ``issue new`` would record now, with ``note``; recorded nowhere."""
    bodies = Bodies(site)
    with State.open(site.state_dir) as state:
        draft = compose(site, state, load_catalog(site, state, now), now, note, bodies)
    assert draft is not None
    return draft.record(bodies)


_COMPOSED: dict[Path, IssueRecord] = {}


def composed_once(site: Site) -> IssueRecord:
    """composed(site), made once per site folder (a property test's examples share one)."""
    if site.root not in _COMPOSED:
        _COMPOSED[site.root] = composed(site)
    return _COMPOSED[site.root]


@pytest.fixture
def site(make_site: MakeSite) -> Site:
    root = make_site(ARTICLES, extra=NEWSLETTER)
    publish(root)
    return load(root)


def codes(findings: list[Finding]) -> list[str]:
    return [f.code for f in findings]


def test_the_example_sites_first_issue_has_no_errors(tmp_path: Path) -> None:
    site = copy_example(tmp_path / "example")
    build(site, ISSUE_NOW)
    record = composed(site, now=ISSUE_NOW)
    found = check_issue(site, record, LeftOut(0, 0))
    # Its links all lead to built pages and its picture has alt text. The default subject
    # template, "name #N: first title", makes a 90-character subject of its first title: a
    # warning, true of the example as it stands.
    assert [str(f) for f in found] == [
        "warning: the subject is 90 characters long: mail clients cut it after about 70"
    ]


def test_a_plain_issue_on_a_built_site_has_no_findings(site: Site) -> None:
    assert check_issue(site, composed(site)) == []


def test_a_finding_reads_as_its_level_and_message() -> None:
    found = Finding("error", "empty-subject", "the subject is empty", "set it")
    assert str(found) == "error: the subject is empty"
    assert found.explained() == "error: the subject is empty; set it"
    assert errors([found, Finding("warning", "x", "y")]) == [found]


def test_an_empty_subject_is_an_error(site: Site) -> None:
    record = replace(composed(site), subject="  ")
    found = check_issue(site, record)
    assert codes(found) == ["empty-subject"]
    assert errors(found) == found
    assert str(found[0]) == "error: the subject is empty"


def test_a_subject_over_70_characters_is_a_warning(site: Site) -> None:
    record = composed(site)
    assert check_issue(site, replace(record, subject="x" * 70)) == []
    found = check_issue(site, replace(record, subject="x" * 71))
    assert codes(found) == ["long-subject"]
    assert found[0].level == "warning"
    assert "71 characters" in found[0].message


@pytest.mark.parametrize(
    "title",
    ["2027年2月3日", "martes, 2 de febrero de 2027", "Dienstag, 2. Februar 2027", "Feb 3"],
)
def test_an_articles_title_that_is_a_date_is_a_warning(site: Site, title: str) -> None:
    record = composed(site)
    items = (replace(record.items[0], title=title), *record.items[1:])
    found = check_issue(site, replace(record, items=items))
    assert codes(found) == ["date-title"]
    assert found[0].level == "warning"
    assert f'the title "{title}" is a date' in found[0].message
    assert "'Title: ...'" in found[0].fix


@pytest.mark.parametrize(
    ("text", "word"),
    [
        ("Vote count: TK", "TK"),
        ("Quote TKTK here", "TKTK"),
        ("TODO: a better ending", "TODO"),
        ("Lorem Ipsum dolor sit amet", "lorem ipsum"),
        ("See [link] for more", "[link]"),
        ("See [LINK] for more", "[link]"),
    ],
    ids=["tk", "tktk", "todo", "lorem-ipsum", "link", "link-capitals"],
)
def test_a_placeholder_in_the_note_is_an_error(site: Site, text: str, word: str) -> None:
    found = check_issue(site, composed(site, note=text))
    assert codes(found) == ["placeholder"]
    assert found[0].message == f'the editor\'s note still has the placeholder "{word}"'


@pytest.mark.parametrize(
    "text",
    [
        "TKO in the third round",
        "todo el mundo",
        "Stock: TKA",
        "TODOS",
        "a link here",
        "ATK",
        f"Read the [link]({SITE_URL}) and [link][1].\n\n[1]: {SITE_URL}",
    ],
    ids=["tko", "spanish-todo", "tka", "todos", "plain-link", "atk", "markdown-links"],
)
def test_a_placeholder_must_be_a_whole_word(site: Site, text: str) -> None:
    assert check_issue(site, composed(site, note=text)) == []


def test_a_placeholder_in_an_article_names_the_article(make_site: MakeSite) -> None:
    root = make_site(
        {"a.md": article("Turnout was TK", "2026-11-20 09:00", "Lorem ipsum dolor sit amet.")},
        extra=NEWSLETTER,
    )
    publish(root)
    site = load(root)
    messages = [f.message for f in check_issue(site, composed(site))]
    assert 'the title of "Turnout was TK" still has the placeholder "TK"' in messages
    assert 'the summary of "Turnout was TK" still has the placeholder "lorem ipsum"' in messages


def test_a_placeholder_in_the_subject_is_an_error(site: Site) -> None:
    found = check_issue(site, replace(composed(site), subject="Issue TK"))
    assert codes(found) == ["placeholder"]
    assert "the subject" in found[0].message


def test_a_site_link_to_a_page_the_build_wrote_passes(site: Site) -> None:
    record = composed(site)
    first = record.items[0].link
    assert first.startswith(SITE_URL) and (site.output_dir / "rss.xml").is_file()
    note = f"Read [this]({first}) and [the feed]({SITE_URL}rss.xml) and [home]({SITE_URL})."
    assert check_issue(site, composed(site, note=note)) == []


def test_a_site_link_to_a_missing_page_is_an_error(site: Site) -> None:
    note = f"Read [the vote]({SITE_URL}2026/11/no-such-story/)."
    found = check_issue(site, composed(site, note=note))
    assert codes(found) == ["broken-link"]
    assert found[0].message == (
        f"the link {SITE_URL}2026/11/no-such-story/ leads nowhere: "
        "public/2026/11/no-such-story/ is not in the built site"
    )


def test_a_site_link_out_of_public_is_an_error(site: Site) -> None:
    note = f"[up]({SITE_URL}..%2f..%2ffeedpub.toml)"
    assert codes(check_issue(site, composed(site, note=note))) == ["broken-link"]


def test_a_missing_site_picture_is_an_error_and_one_without_alt_a_warning(site: Site) -> None:
    note = f"![]({SITE_URL}images/missing.png)"
    found = check_issue(site, composed(site, note=note))
    assert codes(found) == ["broken-link", "no-alt"]
    assert [f.level for f in found] == ["error", "warning"]


def test_links_outside_the_site_are_listed_as_infos(site: Site) -> None:
    note = (
        "See [the district](https://district.example.net/board) and "
        "[again](https://district.example.net/board) and [Mail us](mailto:desk@example.org)."
    )
    found = check_issue(site, composed(site, note=note))
    assert found == [
        Finding(
            "info",
            "outside-link",
            "a link outside the site (not checked): https://district.example.net/board",
        )
    ]
    assert errors(found) == []


def test_an_issue_over_the_gmail_clip_size_as_sent_is_a_warning(site: Site) -> None:
    record = composed(site)
    assert check_issue(site, record) == []
    # Under the clip as stored, over it once each reader's own links replace the placeholders.
    filler = GMAIL_CLIP_BYTES - len(record.html.encode()) - 10
    big = record.html.replace("</body>", "<p>" + "x" * filler + "</p></body>")
    assert len(big.encode()) < GMAIL_CLIP_BYTES
    found = check_issue(site, replace(record, html=big))
    assert codes(found) == ["gmail-clip"]
    assert found[0].level == "warning"


def test_articles_left_out_are_warnings(site: Site) -> None:
    found = check_issue(site, composed(site), LeftOut(by_lookback=3, by_max_items=1))
    assert [str(f) for f in found] == [
        "warning: 3 articles left out: older than lookback_days (30)",
        "warning: 1 article left out: over max_items (25), waiting for the next issue",
    ]


def test_what_the_next_build_writes_counts_as_there(make_site: MakeSite) -> None:
    # run checks an issue before the build that follows it: its articles' pages and the
    # files in static/ may be new since the last build.
    root = make_site(ARTICLES, extra=NEWSLETTER)
    publish(root)
    (root / "content" / "new.md").write_text(article("New", "2026-11-26 09:00"))
    (root / "static" / "images").mkdir(parents=True)
    (root / "static" / "images" / "map.png").write_bytes(b"\x89PNG")
    site = load(root)
    record = composed(site, note=f"![The map]({SITE_URL}images/map.png)")
    new = [item.link for item in record.items if item.title == "New"]
    assert new and not (site.output_dir / new[0].removeprefix(SITE_URL)).exists()
    assert check_issue(site, record) == []


def test_an_unbuilt_site_is_warned_about_and_its_links_not_checked(make_site: MakeSite) -> None:
    site = load(make_site(ARTICLES, extra=NEWSLETTER))
    note = f"[gone]({SITE_URL}nope/)"
    assert [(f.level, f.code) for f in check_issue(site, composed(site, note=note))] == [
        ("warning", "not-built")
    ]


def test_a_relative_link_is_an_error(site: Site) -> None:
    record = composed(site)
    html = record.html.replace("</body>", '<a href="/about/">About</a></body>')
    found = check_issue(site, replace(record, html=html))
    assert codes(found) == ["relative-link"]


def test_left_out_names_the_articles_and_why(make_site: MakeSite) -> None:
    root = make_site(
        {
            "old.md": article("Last spring", "2026-05-01 09:00"),
            "a.md": article("First", "2026-11-20 09:00"),
            "b.md": article("Second", "2026-11-21 09:00"),
            "c.md": article("Third", "2026-11-22 09:00"),
        },
        extra=NEWSLETTER + "max_items = 2\n",
    )
    publish(root)
    site = load(root)
    with State.open(site.state_dir) as state:
        catalog = load_catalog(site, state, NOW)
        found = left_out(site, state, catalog, NOW)
    assert found == LeftOut(1, 1, ("Last spring",), ("Third",))
    assert [str(f) for f in check_issue(site, composed(site), found)] == [
        'warning: 1 article left out: older than lookback_days (30): "Last spring"',
        'warning: 1 article left out: over max_items (2), waiting for the next issue: "Third"',
    ]
    # After the first issue the archive is not the newsletter's: only max_items leaves out.
    make_issue(root)
    with State.open(site.state_dir) as state:
        assert left_out(site, state, load_catalog(site, state, NOW), NOW) == LeftOut(0, 0)


def test_a_long_list_left_out_is_named_up_to_ten(site: Site) -> None:
    titles = tuple(f"Story {n}" for n in range(12))
    found = check_issue(site, composed(site), LeftOut(12, 0, titles))
    assert found[0].message.endswith('"Story 9" and 2 more')


# -- the commands: run refuses, send --force, issue new and preview say the findings ---------


@pytest.fixture
def mail_site(make_site: MakeSite, start_relay: Callable[..., Relay]) -> tuple[Path, Relay]:
    """A site due for an issue at NOW, sending through a real relay, with two readers; the
    subject has a placeholder the editor forgot (an error)."""
    relay = start_relay()
    extra = MAIL_NEWSLETTER + 'subject = "Test Weekly: TK"\n' + smtp_settings(relay.port)
    root = make_site(MAIL_ARTICLES, extra=extra)
    subscribe(root, readers(2))
    return root, relay


def test_run_refuses_the_due_issue_before_recording_it(
    runner: CliRunner, mail_site: tuple[Path, Relay]
) -> None:
    root, relay = mail_site
    result = invoke(runner, "--site", root, "run", "--now", NOW_ARG)
    assert_clean_exit(result, 1)
    assert (
        "Error: issue 1 was not made: the pre-send checks found errors\n"
        '  error: the subject still has the placeholder "TK"; change [newsletter] subject'
    ) in result.stderr
    assert "fix them and run again: its articles wait" in result.stderr
    assert relay.handler.messages == []
    with State.open(load(root).state_dir) as state:
        assert state.issues.all() == []
    # The site was built all the same, and once the subject is fixed the next run sends it.
    assert (root / "public" / "index.html").is_file()
    fixed = (root / "feedpub.toml").read_text().replace(": TK", "")
    (root / "feedpub.toml").write_text(fixed)
    assert_clean_exit(invoke(runner, "--site", root, "run", "--now", NOW_ARG), 0)
    assert len(relay.handler.messages) == 2


def test_run_and_send_refuse_to_start_an_issue_made_by_hand_with_an_error(
    runner: CliRunner, mail_site: tuple[Path, Relay], tmp_path: Path
) -> None:
    root, relay = mail_site
    made = invoke(runner, "--site", root, "issue", "new", "--now", NOW_ARG)
    assert_clean_exit(made, 0)
    assert 'error: the subject still has the placeholder "TK"' in made.stderr
    assert "run and send will not send issue 1 until the errors are fixed" in made.stderr
    result = invoke(runner, "--site", root, "run", "--now", NOW_ARG)
    assert_clean_exit(result, 1)
    assert "Error: issue 1 is not sent: the pre-send checks found errors" in result.stderr
    assert "'feedpub send 1 --force'" in result.stderr
    result = invoke(runner, "--site", root, "send", "--now", NOW_ARG)
    assert_clean_exit(result, 1)
    assert "issue 1 is not sent" in result.stderr
    assert relay.handler.messages == []
    forced = invoke(runner, "--site", root, "send", "--force", "--now", NOW_ARG)
    assert_clean_exit(forced, 0)
    assert len(relay.handler.messages) == 2


def test_a_send_under_way_is_never_refused(
    runner: CliRunner, mail_site: tuple[Path, Relay]
) -> None:
    # Forced out, one reader deferred: the rest of it goes at the next run, errors or not.
    root, relay = mail_site
    assert_clean_exit(invoke(runner, "--site", root, "issue", "new", "--now", NOW_ARG), 0)
    relay.handler.refuse["reader001@example.net"] = ("451 4.3.0 try again later", 1)
    forced = invoke(runner, "--site", root, "send", "--force", "--now", NOW_ARG)
    assert_clean_exit(forced, 0)
    assert relay.handler.copies() == {"reader000@example.net": 1}
    later = (NOW + timedelta(hours=1)).isoformat()
    result = invoke(runner, "--site", root, "run", "--now", later)
    assert_clean_exit(result, 0)
    assert "not sent" not in result.stderr
    assert relay.handler.copies() == {"reader000@example.net": 1, "reader001@example.net": 1}


LEFT_OUT_ARTICLES: dict[str, str | bytes] = {
    "old.md": article("Last spring", "2026-05-01 09:00"),
    "a.md": article("First", "2026-11-20 09:00"),
    "b.md": article("Second", "2026-11-21 09:00"),
    "c.md": article("Third", "2026-11-22 09:00"),
}


def test_preview_lists_the_findings_and_the_articles_left_out(
    runner: CliRunner, make_site: MakeSite
) -> None:
    root = make_site(LEFT_OUT_ARTICLES, extra=NEWSLETTER + "max_items = 2\n")
    publish(root)
    result = invoke(runner, "--site", root, "issue", "preview", "--now", NOW_ARG)
    assert_clean_exit(result, 0)
    assert result.stderr.splitlines() == [
        'warning: 1 article left out: older than lookback_days (30): "Last spring"; '
        "raise [newsletter] lookback_days before the first issue to send them",
        'warning: 1 article left out: over max_items (2), waiting for the next issue: "Third"; '
        "raise [newsletter] max_items to send them now",
    ]
    # -q: only errors, and there are none; the files are listed all the same.
    quiet = invoke(runner, "--site", root, "-q", "issue", "preview", "--now", NOW_ARG)
    assert_clean_exit(quiet, 0)
    assert quiet.stderr == ""
    assert quiet.stdout.count(".feedpub/preview/issue-1.") == 3


def test_preview_of_a_recorded_issue_lists_its_findings(
    runner: CliRunner, make_site: MakeSite
) -> None:
    root = make_site(ARTICLES, extra=NEWSLETTER + 'subject = "TODO"\n')
    publish(root)
    make_issue(root)
    result = invoke(runner, "--site", root, "-q", "issue", "preview", "1", "--now", NOW_ARG)
    assert_clean_exit(result, 0)
    assert result.stderr == 'error: the subject still has the placeholder "TODO"; ' + (
        "change [newsletter] subject\n"
    )


def test_status_says_how_many_the_next_issue_would_leave_out_and_why(
    runner: CliRunner, make_site: MakeSite
) -> None:
    root = make_site(LEFT_OUT_ARTICLES, extra=NEWSLETTER + "max_items = 2\n")
    result = invoke(runner, "--site", root, "status", "--now", NOW_ARG)
    assert_clean_exit(result, 0)
    assert (
        "The next issue would leave out 2 articles: 1 older than lookback_days (30), "
        "1 over max_items (2), for a later issue"
    ) in result.stdout.splitlines()
    info = json.loads(invoke(runner, "--site", root, "status", "--json", "--now", NOW_ARG).stdout)
    assert info["left_out"] == {
        "lookback_days": {"setting": 30, "articles": 1},
        "max_items": {"setting": 2, "articles": 1},
    }
    # Nothing left out: no line.
    plain = make_site(ARTICLES, extra=NEWSLETTER, folder="plain")
    said = invoke(runner, "--site", plain, "status", "--now", NOW_ARG).stdout
    assert "leave out" not in said


# -- bug 6: check reports what only sending would find ----------------------------------------

CHECK_SETTINGS = (
    SETTINGS
    + """
[newsletter]
from = "Desk <desk@news.example.org>"
postal_address = "1 Main Street, Springfield"
"""
)


def checked(
    runner: CliRunner, make_site: MakeSite, settings: str, env: dict[str, str | None] | None = None
) -> Result:
    root = make_site(ARTICLES, settings=settings, folder=f"site{len(settings)}")
    return invoke(runner, "--site", root, "check", env=env)


def test_check_of_a_sendable_site_says_nothing_about_sending(
    runner: CliRunner, make_site: MakeSite
) -> None:
    result = checked(runner, make_site, CHECK_SETTINGS)
    assert_clean_exit(result, 0)
    assert result.stderr == ""


@pytest.mark.parametrize(
    ("smtp", "said", "code"),
    [
        (
            "",
            "warning: [newsletter] from is not set: the outbox and the previews say "
            "newsletter@invalid",
            0,
        ),
        (
            '[smtp]\nhost = "127.0.0.1"\n',
            "error: [newsletter] from is not set: send stops before the first message",
            1,
        ),
    ],
    ids=["outbox", "relay"],
)
def test_check_says_an_empty_from_is_an_error_with_a_relay(
    runner: CliRunner, make_site: MakeSite, smtp: str, said: str, code: int
) -> None:
    """With a relay, send would stop; with the outbox only, nothing leaves the machine, but the
    copies the editor looks at say newsletter@invalid: a warning."""
    result = checked(runner, make_site, SETTINGS + '\n[newsletter]\nname = "Weekly"\n' + smtp)
    assert_clean_exit(result, code)
    assert f"feedpub.toml:9: {said}" in result.stderr
    assert ("1 error" if code else "1 warning") in result.stdout


@pytest.mark.parametrize(
    ("smtp", "wrong"),
    [
        ('host = "relay.example.net"\nsecurity = "none"', True),
        ('host = "127.0.0.1"\nsecurity = "none"', False),
        ('host = "relay.example.net"\nsecurity = "none"\nallow_insecure = true', False),
        ('host = "relay.example.net"\nsecurity = "starttls"', False),
    ],
    ids=["remote", "loopback", "allowed", "starttls"],
)
def test_check_says_security_none_to_a_remote_relay_is_an_error(
    runner: CliRunner, make_site: MakeSite, smtp: str, wrong: bool
) -> None:
    result = checked(runner, make_site, CHECK_SETTINGS + f"\n[smtp]\n{smtp}\n")
    assert_clean_exit(result, 1 if wrong else 0)
    said = (
        'feedpub.toml:15: error: [smtp] security = "none" would send mail and password '
        "unencrypted to relay.example.net"
    )
    assert (said in result.stderr) is wrong


def test_check_warns_of_a_password_variable_unset_here_for_the_cron_job(
    runner: CliRunner, make_site: MakeSite
) -> None:
    settings = CHECK_SETTINGS + (
        '\n[smtp]\nhost = "relay.example.net"\nusername = "mailer"\n'
        'password_env = "TEST_RELAY_PASSWORD"\n'
    )
    unset = checked(runner, make_site, settings, env={"TEST_RELAY_PASSWORD": None})
    assert_clean_exit(unset, 0)
    assert unset.stderr == (
        "feedpub.toml:16: warning: [smtp] password_env names the environment variable "
        "TEST_RELAY_PASSWORD, which is not set here; set it in the cron job's environment too "
        "(cron does not read your shell's profile)\n"
    )
    root = make_site(ARTICLES, settings=settings, folder="strict")
    assert_clean_exit(invoke(runner, "--site", root, "check", "--strict"), 1)
    given = checked(runner, make_site, settings, env={"TEST_RELAY_PASSWORD": "s3cret"})
    assert_clean_exit(given, 0)
    assert given.stderr == ""
    wide = checked(runner, make_site, settings, env={"TEST_RELAY_PASSWORD": "pässword"})
    assert_clean_exit(wide, 1)
    assert "has characters outside ASCII" in wide.stderr
    assert "pässword" not in wide.output  # the password is never shown


def test_check_warns_of_the_inbox_and_webhook_variables_unset_here(
    runner: CliRunner, make_site: MakeSite
) -> None:
    settings = CHECK_SETTINGS + (
        '\n[inbox]\nhost = "imap.example.net"\nusername = "bounces"\n'
        'password_env = "TEST_IMAP_PASSWORD"\n'
        '\n[hooks]\nmailgun_key_env = "TEST_MG_KEY"\n'
    )
    result = checked(runner, make_site, settings)
    assert_clean_exit(result, 0)
    lines = result.stderr.splitlines()
    assert lines[0].startswith(
        "feedpub.toml:16: warning: [inbox] password_env names the environment variable "
        "TEST_IMAP_PASSWORD, which is not set here; set it in the cron job's environment too"
    )
    assert lines[1] == (
        "feedpub.toml:19: warning: [hooks] mailgun_key_env names the environment variable "
        "TEST_MG_KEY, which is not set here; set it in the web app's environment too (its "
        "service's settings)"
    )


def test_check_says_an_unsubscribe_link_too_long_for_its_header(
    runner: CliRunner, make_site: MakeSite
) -> None:
    url = "https://news.example.org/" + "u" * 700 + "/unsubscribe"
    result = checked(runner, make_site, CHECK_SETTINGS + f'unsubscribe_url = "{url}"\n')
    assert_clean_exit(result, 1)
    assert "feedpub.toml:12: error: [newsletter] unsubscribe_url is 737 characters" in (
        result.stderr
    )


def test_check_without_a_newsletter_says_nothing_about_sending(
    runner: CliRunner, make_site: MakeSite
) -> None:
    result = checked(runner, make_site, SETTINGS + '\n[smtp]\nhost = "relay.example.net"\n')
    assert_clean_exit(result, 0)
    assert result.stderr == ""


# -- hostile and huge input --------------------------------------------------------------------


@pytest.mark.parametrize(
    "path",
    ["a%00b/", "x" * 5000, "y" * 300 + "/" + "z" * 300 + "/", "%2e%2e/%2e%2e/etc/passwd", "%ff"],
    ids=["nul", "long-name", "long-names", "dot-dot", "not-utf8"],
)
def test_a_hostile_site_link_is_a_broken_link_not_a_crash(site: Site, path: str) -> None:
    record = composed(site)
    html = record.html.replace("</body>", f'<a href="{SITE_URL}{path}">x</a></body>')
    assert codes(check_issue(site, replace(record, html=html))) == ["broken-link"]


@settings(max_examples=examples(0.5), suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(html=st.text(), subject=st.text(max_size=200), note=st.text())
def test_any_issue_text_gets_findings_never_an_exception(
    site: Site, html: str, subject: str, note: str
) -> None:
    record = replace(composed_once(site), html=html, subject=subject, note=note)
    found = check_issue(site, record, LeftOut(1, 1, ("a",), ("b",)))
    assert all(f.level in ("error", "warning", "info") and f.message for f in found)


def test_a_huge_issue_is_checked_quickly(site: Site) -> None:
    record = composed(site)
    links = "".join(f'<a href="{SITE_URL}p{n}/">{n}</a><img src="x{n}.png">' for n in range(5000))
    big = record.html.replace("</body>", links + "<p>TK</p>" * 10_000 + "</body>")
    started = time.perf_counter()
    found = check_issue(site, replace(record, html=big, note="TODO " * 100_000))
    assert time.perf_counter() - started < 10
    assert codes(found).count("broken-link") == 5000
    assert codes(found).count("placeholder") == 1  # the note's, once


def test_an_issue_approved_after_review_is_not_refused(
    runner: CliRunner, mail_site: tuple[Path, Relay]
) -> None:
    # The reviewers saw the findings in the review copy; approving is the editor's decision.
    root, relay = mail_site
    assert_clean_exit(invoke(runner, "--site", root, "issue", "new", "--now", NOW_ARG), 0)
    site = load(root)
    with State.open(site.state_dir) as state:
        assert refusal(site, state, 1) is not None
        with state.transaction():
            state.issues.set_review(1, "approved", NOW.isoformat())
        assert refusal(site, state, 1) is None
    assert_clean_exit(invoke(runner, "--site", root, "send", "--now", NOW_ARG), 0)
    assert len(relay.handler.messages) == 2
