"""Review before sending, against a real relay on loopback (aiosmtpd): with [newsletter] review
on, a run composes the due issue, sends its review copy to the reviewers once and nothing to the
readers; `issue approve` (or `issue send`) lets it go, once. `issue edit` changes an issue
nothing was sent for; test copies and previews record nothing (the database's dump is the
same before and after); every status speaks one vocabulary (newsletter.issues.state_of)."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable
from datetime import timedelta
from email.message import EmailMessage
from pathlib import Path

import pytest
from click.testing import CliRunner
from helpers import (
    MAIL_ARTICLES,
    MAIL_NEWSLETTER,
    NOW,
    NOW_ARG,
    MakeSite,
    Relay,
    article,
    assert_clean_exit,
    deliveries,
    invoke,
    load,
    make_issue,
    parse,
    readers,
    smtp_settings,
    status_counts,
    subscribe,
    write_articles,
)

from feedpub import config
from feedpub.errors import ConfigError
from feedpub.newsletter.issues import edit
from feedpub.newsletter.topics import TopicEditions
from feedpub.store.state import State

REVIEWERS = ("Editor <editor@news.example.org>", "chief@news.example.org")
REVIEW = f"review = true\nreviewers = {list(REVIEWERS)!r}\n".replace("'", '"')
LATER_ARG = (NOW + timedelta(minutes=15)).isoformat()
NEXT_WEEK_ARG = (NOW + timedelta(days=7)).isoformat()
READERS = [address for address, _ in readers(3)]


@pytest.fixture
def relay(start_relay: Callable[..., Relay]) -> Relay:
    return start_relay()


def review_site(make_site: MakeSite, port: int, settings: str = REVIEW) -> Path:
    root = make_site(MAIL_ARTICLES, extra=MAIL_NEWSLETTER + settings + smtp_settings(port))
    subscribe(root, readers(3))
    return root


def dump(root: Path) -> list[str]:
    """Every row and table of the state, as SQL: equal dumps, equal states."""
    db = sqlite3.connect(root / ".feedpub" / "state.db")
    try:
        return list(db.iterdump())
    finally:
        db.close()


def got(relay: Relay) -> list[str]:
    return sorted(rcpt for rcpt, _ in relay.handler.received())


def messages(relay: Relay) -> list[EmailMessage]:
    return [parse(raw) for _, raw in relay.handler.received()]


def body(msg: EmailMessage, kind: str) -> str:
    part = msg.get_body((kind,))
    assert part is not None
    return str(part.get_content()).replace("\r\n", "\n")


def run(runner: CliRunner, root: Path, now: str = NOW_ARG, code: int = 0) -> str:
    result = invoke(runner, "--site", root, "run", "--now", now)
    assert_clean_exit(result, code)
    return str(result.stdout)


# -- the flow, end to end ----------------------------------------------------------------------


def test_the_review_flow_end_to_end(runner: CliRunner, relay: Relay, make_site: MakeSite) -> None:
    root = review_site(make_site, relay.port)
    said = run(runner, root)
    assert "Created issue 1" in said
    assert (
        "Sent the review copy of issue 1 to 2 reviewers; readers get it once it is approved: "
        "feedpub issue approve 1"
    ) in said
    # The reviewers get the review copy; the readers nothing, and nothing is recorded for them.
    assert got(relay) == ["chief@news.example.org", "editor@news.example.org"]
    assert status_counts(root) == {}
    for msg in messages(relay):
        assert msg["Subject"] == "[Test] Test Weekly #1: Café budget vote"
        assert msg["Message-ID"].startswith("<test-1.")
        text = body(msg, "plain")
        assert text.startswith("approve with: feedpub issue approve 1\n")
        assert "Pre-send checks:" in text
        assert text.index("approve with") < text.index("Café budget vote")
        html = body(msg, "html")
        visible = html[html.index("<body") :]
        assert visible.index("approve with: feedpub issue approve 1") < visible.index("Café budget")
    assert len({msg["Message-ID"] for msg in messages(relay)}) == 2

    # The next runs send nothing more, and say what the issue waits for.
    again = run(runner, root, LATER_ARG)
    assert (
        "issue 1 waits for approval (review copy sent 2026-11-27 12:00 CET to 2 reviewers); "
        "approve it with: feedpub issue approve 1"
    ) in again
    assert relay.handler.count() == 2
    for args in (["issue", "list"], ["issue", "show", "1"], ["status", "--now", LATER_ARG]):
        shown = invoke(runner, "--site", root, *args)
        assert_clean_exit(shown, 0)
        assert "in review" in shown.stdout, args
    nothing = invoke(runner, "--site", root, "send", "--now", LATER_ARG)
    assert_clean_exit(nothing, 0)
    assert nothing.stdout == (
        "Nothing to send now: issue 1 is in review (review copy sent 2026-11-27 12:00 CET)\n"
    )
    refused = invoke(runner, "--site", root, "send", "1", "--now", LATER_ARG)
    assert_clean_exit(refused, 1)
    assert refused.stderr == (
        "Error: issue 1 waits for approval (review copy sent 2026-11-27 12:00 CET); approve it "
        "with 'feedpub issue approve 1', or send it now with 'feedpub issue send 1'\n"
    )
    assert relay.handler.count() == 2

    approved = invoke(runner, "--site", root, "issue", "approve", "1")
    assert_clean_exit(approved, 0)
    assert approved.stdout == "Approved issue 1: the next run sends it\n"
    twice = invoke(runner, "--site", root, "issue", "approve", "1")
    assert twice.stdout == "Issue 1 was approved already; the next run sends it\n"

    # The next run sends it to every reader, once; the one after sends nothing.
    run(runner, root, LATER_ARG)
    assert got(relay) == sorted([*READERS, "chief@news.example.org", "editor@news.example.org"])
    assert {status for status, *_ in deliveries(root).values()} == {"sent"}
    real = [parse(raw) for rcpt, raw in relay.handler.received() if rcpt in READERS]
    assert {msg["Subject"] for msg in real} == {"Test Weekly #1: Café budget vote"}
    assert all(not body(msg, "plain").startswith("approve with") for msg in real)
    run(runner, root, NEXT_WEEK_ARG)
    assert relay.handler.count() == 5
    with State.open(load(root).state_dir) as state:
        record = state.issues.get(1)
    assert (record.status, record.review) == ("sent", "approved")
    assert record.reviewed == NOW_ARG


def test_with_review_an_issue_with_an_error_is_made_and_its_review_copy_says_so(
    runner: CliRunner, relay: Relay, make_site: MakeSite
) -> None:
    """Without review, run refuses the due issue with an error before recording it; with review
    on, it is made and waits as any other, and its review copy lists the error for the editor,
    who decides (test_checks.py::test_an_issue_approved_after_review_is_not_refused)."""
    root = review_site(make_site, relay.port)
    write_articles(root, {"cafe.md": article("Café budget vote TK", "2026-11-24 09:00")})
    said = run(runner, root)
    assert "Created issue 1" in said
    assert got(relay) == ["chief@news.example.org", "editor@news.example.org"]
    text = body(messages(relay)[0], "plain")
    preface = text[: text.index("=" * 20)]
    assert "Pre-send checks: 2 findings\n" in preface
    assert 'error: the title of "Café budget vote TK" still has the placeholder "TK"' in preface
    assert status_counts(root) == {}


def test_issue_send_approves_and_sends_at_once(
    runner: CliRunner, relay: Relay, make_site: MakeSite
) -> None:
    root = review_site(make_site, relay.port)
    run(runner, root)
    result = invoke(runner, "--site", root, "issue", "send", "1", "--now", LATER_ARG)
    assert_clean_exit(result, 0)
    assert result.stdout.startswith("Approved issue 1\nIssue 1: 3 sent, 0 deferred, 0 failed")
    assert got(relay) == sorted([*READERS, "chief@news.example.org", "editor@news.example.org"])
    # Sent means sent: the next run, and issue send again, send no one anything.
    run(runner, root, NEXT_WEEK_ARG)
    refused = invoke(runner, "--site", root, "issue", "send", "1")
    assert_clean_exit(refused, 1)
    assert refused.stderr == "Error: issue 1 was sent already; there is nothing to approve\n"
    assert relay.handler.count() == 5


def test_a_review_copy_that_does_not_go_is_tried_again_by_the_next_run(
    runner: CliRunner, relay: Relay, make_site: MakeSite
) -> None:
    root = review_site(make_site, relay.port)
    relay.handler.refuse["chief@news.example.org"] = ("550 5.1.1 no such user", 1)
    said = invoke(runner, "--site", root, "run", "--now", NOW_ARG)
    assert_clean_exit(said, 1)
    assert said.stderr.startswith(
        "Error: the review copy: the test copy to chief@news.example.org was not sent: "
    )
    with State.open(load(root).state_dir) as state:
        assert state.issues.get(1).reviewed is None
    run(runner, root, LATER_ARG)
    assert got(relay) == [
        "chief@news.example.org",
        "editor@news.example.org",
        "editor@news.example.org",
    ]
    assert status_counts(root) == {}


def test_without_review_a_run_sends_at_once(
    runner: CliRunner, relay: Relay, make_site: MakeSite
) -> None:
    root = review_site(make_site, relay.port, settings="")
    run(runner, root)
    assert got(relay) == READERS
    with State.open(load(root).state_dir) as state:
        assert state.issues.get(1).review == ""


def test_an_issue_made_by_hand_with_review_on_waits_too(
    runner: CliRunner, relay: Relay, make_site: MakeSite
) -> None:
    root = review_site(make_site, relay.port)
    made = invoke(runner, "--site", root, "issue", "new", "--now", NOW_ARG)
    assert_clean_exit(made, 0)
    assert made.stdout.splitlines()[-1] == (
        "It waits for approval: the next run sends the review copy to 2 reviewers"
    )
    assert relay.handler.count() == 0
    said = run(runner, root, LATER_ARG)
    assert "Sent the review copy of issue 1 to 2 reviewers" in said
    assert got(relay) == ["chief@news.example.org", "editor@news.example.org"]


def test_an_issue_made_by_hand_with_an_error_and_review_on_is_left_to_the_approval(
    runner: CliRunner, relay: Relay, make_site: MakeSite
) -> None:
    """issue new lists the error, and does not say that run will refuse it: with review on,
    the approval decides."""
    root = review_site(make_site, relay.port)
    write_articles(root, {"cafe.md": article("Café budget vote TK", "2026-11-24 09:00")})
    made = invoke(runner, "--site", root, "issue", "new", "--now", NOW_ARG)
    assert_clean_exit(made, 0)
    assert 'the title of "Café budget vote TK" still has the placeholder "TK"' in made.stderr
    assert "will not send" not in made.stderr
    assert made.stdout.splitlines()[-1] == (
        "It waits for approval: the next run sends the review copy to 2 reviewers"
    )


# -- the settings ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        (
            "review = true\n",
            "feedpub.toml:16: error: [newsletter] review = true but reviewers is empty: no one "
            "would get the review copy",
        ),
        (
            'reviewers = "editor@news.example.org"\n',
            "feedpub.toml:16: error: [newsletter] reviewers must be a list of strings",
        ),
        ("reviewers = [1]\n", "[newsletter] reviewers must be a list of strings"),
        (
            'reviewers = ["not an address"]\n',
            "[newsletter] reviewers address 1: 'not an address' is not an address",
        ),
        (
            'reviewers = ["a@news.example.org", "b@news.example.org\\nBcc: all@example.org"]\n',
            "[newsletter] reviewers address 2:",
        ),
        (
            'reviewers = ["a@news.example.org, b@news.example.org"]\n',
            "holds 2 addresses; give one",
        ),
        (
            "reviewers = [" + ", ".join(f'"r{n}@news.example.org"' for n in range(21)) + "]\n",
            "[newsletter] reviewers lists 21 addresses; a review copy goes to at most 20",
        ),
        (
            "reviewers = [" + ", ".join(['"x"'] * 100_000) + "]\n",
            "[newsletter] reviewers lists 100000 addresses",
        ),
        ('review = "yes"\n', "[newsletter] review must be true or false, not a string"),
    ],
    ids=[
        "review-without-reviewers",
        "not-a-list",
        "not-strings",
        "not-an-address",
        "header-injection",
        "two-in-one",
        "too-many",
        "huge",
        "review-not-a-boolean",
    ],
)
def test_review_settings_are_checked(
    runner: CliRunner, make_site: MakeSite, settings: str, message: str
) -> None:
    root = make_site(MAIL_ARTICLES, extra=MAIL_NEWSLETTER + settings)
    with pytest.raises(ConfigError):
        load(root)
    result = invoke(runner, "--site", root, "check")
    assert_clean_exit(result, 1)
    assert message in result.stderr + result.stdout


def test_review_settings_from_the_environment(make_site: MakeSite) -> None:
    root = make_site(MAIL_ARTICLES, extra=MAIL_NEWSLETTER)
    site = load(root)
    assert (site.newsletter.review, site.newsletter.reviewers) == (False, ())
    env = {
        "FEEDPUB_NEWSLETTER_REVIEW": "true",
        "FEEDPUB_NEWSLETTER_REVIEWERS": "editor@news.example.org, chief@news.example.org",
    }
    loaded = config.load(root, env=env)
    assert loaded.newsletter.review
    assert loaded.newsletter.reviewers == ("editor@news.example.org", "chief@news.example.org")
    with pytest.raises(ConfigError, match="reviewers is empty"):
        config.load(root, env={"FEEDPUB_NEWSLETTER_REVIEW": "true"})


# -- issue edit --------------------------------------------------------------------------------


def test_edit_changes_an_issue_and_sends_it_back_for_review(
    runner: CliRunner, relay: Relay, make_site: MakeSite, tmp_path: Path
) -> None:
    root = review_site(make_site, relay.port)
    run(runner, root)
    note = tmp_path / "note.md"
    note.write_text("The budget vote is on **Tuesday**.\n")
    edited = invoke(
        runner, "--site", root, "issue", "edit", "1", "--subject", "Budget week", "--note", note
    )
    assert_clean_exit(edited, 0)
    assert edited.stdout == (
        "Changed issue 1: Budget week\n"
        "It waits for approval again: the next run sends the reviewers a new review copy\n"
    )
    with State.open(load(root).state_dir) as state:
        record = state.issues.get(1)
    assert (record.subject, record.review, record.reviewed) == ("Budget week", "waiting", None)
    assert "The budget vote is on" in record.text and "<strong>Tuesday</strong>" in record.html
    # Its web version is the issue as changed.
    page = (root / "public" / "issues" / "1" / "index.html").read_text()
    assert "The budget vote is on" in page

    run(runner, root, LATER_ARG)
    second = messages(relay)[2:]
    assert [m["Subject"] for m in second] == ["[Test] Budget week"] * 2
    assert "The budget vote is on Tuesday" in body(second[0], "plain")
    assert_clean_exit(invoke(runner, "--site", root, "issue", "approve", "1"), 0)
    run(runner, root, LATER_ARG)
    real = [parse(raw) for rcpt, raw in relay.handler.received() if rcpt in READERS]
    assert [m["Subject"] for m in real] == ["Budget week"] * 3

    # Once sent, it stays as it went out.
    before = dump(root)
    refused = invoke(runner, "--site", root, "issue", "edit", "1", "--subject", "Other")
    assert_clean_exit(refused, 1)
    assert refused.stderr == (
        "Error: issue 1 cannot be changed: it is sent (3/3 sent), and readers' copies must "
        "match the issue kept; put the change in the next issue\n"
    )
    assert dump(root) == before


def test_edit_without_review_keeps_the_issue_ready(runner: CliRunner, make_site: MakeSite) -> None:
    root = make_site(MAIL_ARTICLES, extra=MAIL_NEWSLETTER)
    make_issue(root)
    edited = invoke(runner, "--site", root, "issue", "edit", "1", "--subject", "Budget week")
    assert_clean_exit(edited, 0)
    assert edited.stdout == "Changed issue 1: Budget week\n"
    with State.open(load(root).state_dir) as state:
        record = state.issues.get(1)
    assert (record.subject, record.review) == ("Budget week", "")
    # The note stays as it was when only the subject changes.
    assert record.note == ""


def test_edit_lists_the_pre_send_checks_findings_on_the_issue_as_changed(
    runner: CliRunner, make_site: MakeSite, tmp_path: Path
) -> None:
    root = make_site(MAIL_ARTICLES, extra=MAIL_NEWSLETTER)
    make_issue(root)
    note = tmp_path / "note.md"
    note.write_text("Big week. TODO add the mayor's quote\n", encoding="utf-8")
    edited = invoke(runner, "--site", root, "issue", "edit", "1", "--note", note)
    assert_clean_exit(edited, 0)
    assert edited.stderr == (
        "error: the editor's note still has the placeholder \"TODO\"; edit the note file\n"
    )
    fixed = tmp_path / "fixed.md"
    fixed.write_text("Big week.\n", encoding="utf-8")
    again = invoke(runner, "--site", root, "issue", "edit", "1", "--note", fixed)
    assert_clean_exit(again, 0)
    assert again.stderr == ""


def test_an_edited_subject_is_every_topic_copys(make_site: MakeSite) -> None:
    root = make_site(MAIL_ARTICLES, extra=MAIL_NEWSLETTER)
    make_issue(root)
    site = load(root)
    with State.open(site.state_dir) as state:
        edit(site, state, 1, NOW, subject="Budget week")
        record = state.issues.get(1)
    subject, _, _ = TopicEditions(site).render(record, "1")
    assert subject == "Budget week"


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        ([], 2, "Error: give --subject TEXT, --note FILE, or both"),
        (["--subject", "  "], 1, "Error: --subject is empty; give the issue a subject line"),
        (["--subject", "x" * 301], 1, "Error: --subject is 301 characters; a subject line fits"),
        (["--note", "/nonexistent/note.md"], 2, "cannot read /nonexistent/note.md"),
    ],
    ids=["nothing-to-change", "empty-subject", "huge-subject", "missing-note"],
)
def test_edit_refuses_bad_input(
    runner: CliRunner, make_site: MakeSite, args: list[str], code: int, message: str
) -> None:
    root = make_site(MAIL_ARTICLES, extra=MAIL_NEWSLETTER)
    make_issue(root)
    before = dump(root)
    result = invoke(runner, "--site", root, "issue", "edit", "1", *args)
    assert_clean_exit(result, code)
    assert message in result.stderr
    assert dump(root) == before


def test_edit_refuses_an_issue_that_is_being_sent(runner: CliRunner, make_site: MakeSite) -> None:
    root = make_site(MAIL_ARTICLES, extra=MAIL_NEWSLETTER)
    subscribe(root, readers(2))
    make_issue(root)
    start_sending(root)
    result = invoke(runner, "--site", root, "issue", "edit", "1", "--subject", "x")
    assert_clean_exit(result, 1)
    assert result.stderr.startswith("Error: issue 1 cannot be changed: it is sending (1/2 sent)")


def test_edit_and_approve_of_an_issue_that_is_not_there(
    runner: CliRunner, make_site: MakeSite
) -> None:
    root = make_site(MAIL_ARTICLES, extra=MAIL_NEWSLETTER)
    make_issue(root)
    for args in (["edit", "7", "--subject", "x"], ["approve", "7"], ["send", "7"]):
        result = invoke(runner, "--site", root, "issue", *args)
        assert_clean_exit(result, 1)
        assert result.stderr.startswith("Error: there is no issue 7"), args


# -- previews and test copies record nothing ---------------------------------------------------


def test_preview_with_a_note_and_a_subject_records_nothing(
    runner: CliRunner, make_site: MakeSite, tmp_path: Path
) -> None:
    root = make_site(MAIL_ARTICLES, extra=MAIL_NEWSLETTER)
    subscribe(root, readers(1))  # makes the state
    note = tmp_path / "note.md"
    note.write_text("Our *last* issue before the break.\n")
    before = dump(root)
    result = invoke(
        runner, "--site", root, "issue", "preview", "--note", note, "--subject", "Break week",
        "--now", NOW_ARG,
    )  # fmt: skip
    assert_clean_exit(result, 0)
    html, text, eml = (Path(line) for line in result.stdout.splitlines())
    assert "Our <em>last</em> issue before the break." in html.read_text()
    assert "Our last issue before the break." in text.read_text()
    assert parse(eml.read_bytes())["Subject"] == "Break week"
    assert dump(root) == before

    # An issue already made, as it would be with them (and it stays as it is).
    make_issue(root)
    before = dump(root)
    again = invoke(runner, "--site", root, "issue", "preview", "1", "--subject", "Changed")
    assert_clean_exit(again, 0)
    assert parse(Path(again.stdout.splitlines()[2]).read_bytes())["Subject"] == "Changed"
    assert dump(root) == before


def test_a_test_copy_of_the_upcoming_issue_records_nothing(
    runner: CliRunner, relay: Relay, make_site: MakeSite
) -> None:
    root = review_site(make_site, relay.port, settings="")
    before = dump(root)
    result = invoke(
        runner, "--site", root, "send", "--test", "a@example.net,b@example.net",
        "--test", "c@example.net", "--now", NOW_ARG,
    )  # fmt: skip
    assert_clean_exit(result, 0)
    assert result.stdout == (
        "Sent a test copy of the next issue (#1, not recorded) to a@example.net, b@example.net, "
        "c@example.net\n"
    )
    assert got(relay) == ["a@example.net", "b@example.net", "c@example.net"]
    sent = messages(relay)
    assert {m["Subject"] for m in sent} == {"[Test] Test Weekly #1: Café budget vote"}
    assert len({m["Message-ID"] for m in sent}) == 3
    assert dump(root) == before

    # With nothing waiting and nothing unfinished there is nothing to test.
    run(runner, root)
    before = dump(root)
    nothing = invoke(runner, "--site", root, "send", "--test", "a@example.net")
    assert_clean_exit(nothing, 0)
    assert nothing.stdout == "Nothing to test: no issue is unfinished and no article waits\n"
    assert dump(root) == before


@pytest.mark.parametrize(
    ("addresses", "message"),
    [
        ([","], "Error: Invalid value for --test: give an address"),
        (["not an address"], "Error: "),
        (["a@example.net", "x" * 400 + "@example.net"], "too long for an email address"),
    ],
    ids=["empty", "not-an-address", "huge"],
)
def test_send_test_refuses_bad_addresses(
    runner: CliRunner, relay: Relay, make_site: MakeSite, addresses: list[str], message: str
) -> None:
    root = review_site(make_site, relay.port, settings="")
    make_issue(root)
    before = dump(root)
    args = [part for address in addresses for part in ("--test", address)]
    result = invoke(runner, "--site", root, "send", *args)
    assert result.exit_code in (1, 2), result.output
    assert "Traceback" not in result.output
    assert message in result.stderr
    # Nothing went: the addresses are all checked before the first copy.
    assert relay.handler.count() == 0
    assert dump(root) == before


# -- one vocabulary (bug 3) --------------------------------------------------------------------


def start_sending(root: Path) -> None:
    """Issue 1 half sent: one reader's delivery done, the other's pending (as a killed send
    leaves it)."""
    db = sqlite3.connect(root / ".feedpub" / "state.db")
    try:
        db.execute(
            "INSERT INTO deliveries (issue, subscriber, status, attempts, next_attempt,"
            " last_reply, updated) SELECT 1, id, CASE WHEN id = 1 THEN 'sent' ELSE 'pending'"
            " END, 0, NULL, '', '' FROM subscribers"
        )
        db.commit()
    finally:
        db.close()


def test_every_command_says_where_a_half_sent_issue_stands_alike(
    runner: CliRunner, make_site: MakeSite
) -> None:
    root = make_site(MAIL_ARTICLES, extra=MAIL_NEWSLETTER)
    subscribe(root, readers(2))
    make_issue(root)
    start_sending(root)
    listed = invoke(runner, "--site", root, "issue", "list").stdout.splitlines()[1]
    assert listed.split()[3] == "sending"
    shown = invoke(runner, "--site", root, "issue", "show", "1").stdout.splitlines()[1]
    assert shown == "Created 2026-11-27 12:00 CET; status sending (1/2 sent)"
    status = invoke(runner, "--site", root, "status", "--now", NOW_ARG).stdout.splitlines()
    assert "Last issue: #1, 2026-11-27 12:00 CET, sending (1/2 sent), 2 articles" in status
    assert "Unfinished issues: #1 sending (1/2 sent)" in status
    as_json = invoke(runner, "--site", root, "status", "--json", "--now", NOW_ARG)
    info = json.loads(as_json.stdout)
    assert (info["last_issue"]["state"], info["last_issue"]["state_detail"]) == (
        "sending",
        "1/2 sent",
    )
    plan = invoke(runner, "--site", root, "send", "--dry-run", "--now", NOW_ARG)
    assert plan.stdout.startswith("Issue 1 is sending (1/2 sent): would send to 1 subscriber")


@pytest.mark.parametrize(
    "subject",
    ["Budget\nBcc: all@example.org", "Budget\r\nBcc: all@example.org", "Budget\x07\x00 week"],
    ids=["newline", "crlf", "controls"],
)
def test_an_edited_subject_adds_no_header(
    runner: CliRunner, relay: Relay, make_site: MakeSite, subject: str
) -> None:
    root = review_site(make_site, relay.port, settings="")
    make_issue(root)
    result = invoke(runner, "--site", root, "issue", "edit", "1", "--subject", subject)
    assert_clean_exit(result, 0)
    assert_clean_exit(invoke(runner, "--site", root, "send", "--now", NOW_ARG), 0)
    for _, raw in relay.handler.received():
        msg = parse(raw)
        assert "Bcc" not in msg
        assert msg["Subject"] in ("Budget Bcc: all@example.org", "Budget week")
        assert "\x07" not in msg["Subject"]


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["--subject", ""], 1, "Error: --subject is empty"),
        (["--subject", "y" * 5000], 1, "Error: --subject is 5000 characters"),
        (["--note", "/nonexistent/note.md"], 2, "cannot read /nonexistent/note.md"),
    ],
    ids=["empty-subject", "huge-subject", "missing-note"],
)
def test_preview_refuses_bad_input(
    runner: CliRunner, make_site: MakeSite, args: list[str], code: int, message: str
) -> None:
    root = make_site(MAIL_ARTICLES, extra=MAIL_NEWSLETTER)
    subscribe(root, readers(1))
    before = dump(root)
    result = invoke(runner, "--site", root, "issue", "preview", *args, "--now", NOW_ARG)
    assert_clean_exit(result, code)
    assert message in result.stderr
    assert dump(root) == before


def test_preview_refuses_a_note_that_is_not_utf8_or_too_big(
    runner: CliRunner, make_site: MakeSite, tmp_path: Path
) -> None:
    root = make_site(MAIL_ARTICLES, extra=MAIL_NEWSLETTER)
    latin = tmp_path / "latin.md"
    latin.write_bytes("Caf\xe9".encode("latin-1"))
    huge = tmp_path / "huge.md"
    huge.write_bytes(b"x" * 200_000)
    for path, message in [(latin, "is not UTF-8"), (huge, "must stay under")]:
        result = invoke(runner, "--site", root, "issue", "preview", "--note", path)
        assert_clean_exit(result, 2)
        assert message in result.stderr
