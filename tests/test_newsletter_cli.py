"""The newsletter's commands: issue new/preview/list/show/discard, status, run, and the lock."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner
from helpers import (
    ARTICLES,
    FEEDPUB,
    NEWSLETTER,
    NOW,
    NOW_ARG,
    MakeSite,
    article,
    assert_clean_exit,
    invoke,
)

from feedpub import config
from feedpub.cli import MAX_NOTE_BYTES
from feedpub.errors import LockBusy
from feedpub.lock import SiteLock
from feedpub.store.issues import IssueRecord
from feedpub.store.state import State

LATER_ARG = (NOW + timedelta(minutes=15)).isoformat()
NEXT_WEEK_ARG = (NOW + timedelta(days=7)).isoformat()


def issues_of(root: Path) -> list[IssueRecord]:
    with State.open(config.load(root, env={}).state_dir) as state:
        return state.issues.all()


def state_dir(root: Path) -> Path:
    return config.load(root, env={}).state_dir


@pytest.fixture
def site(make_site: MakeSite) -> Path:
    """A site with a weekly Friday newsletter and two articles; at NOW an issue is due."""
    return make_site(ARTICLES, extra=NEWSLETTER)


# -- issue new -------------------------------------------------------------------------------


def test_issue_new(runner: CliRunner, site: Path) -> None:
    result = invoke(runner, "--site", site, "issue", "new", "--now", NOW_ARG)
    assert_clean_exit(result, 0)
    web = config.load(site, env={}).output_dir / "issues" / "1" / "index.html"
    assert result.stdout.splitlines() == [
        "Created issue 1 with 2 articles: Test Weekly #1: Bravo",
        f"Web version: {web}",
    ]
    assert result.stderr == ""
    assert web.is_file()
    (record,) = issues_of(site)
    assert (record.number, record.status) == (1, "ready")
    assert [item.title for item in record.items] == ["Bravo", "Alpha"]

    again = invoke(runner, "--site", site, "issue", "new", "--now", LATER_ARG)
    assert_clean_exit(again, 0)
    assert again.stdout == "Nothing new since issue 1: no issue created\n"
    assert len(issues_of(site)) == 1


def test_issue_new_on_an_empty_site(runner: CliRunner, make_site: MakeSite) -> None:
    root = make_site({}, extra=NEWSLETTER)
    result = invoke(runner, "--site", root, "issue", "new", "--now", NOW_ARG)
    assert_clean_exit(result, 0)
    assert result.stdout == "Nothing new: no issue created\n"
    assert issues_of(root) == []


def test_issue_new_says_what_waits(runner: CliRunner, make_site: MakeSite) -> None:
    root = make_site(
        {**ARTICLES, "charlie.md": article("Charlie", "2026-11-25 09:00")},
        extra=NEWSLETTER + "max_items = 2\n",
    )
    result = invoke(runner, "--site", root, "issue", "new", "--now", NOW_ARG)
    assert_clean_exit(result, 0)
    assert result.stdout.splitlines()[0] == (
        "Created issue 1 with 2 articles; 1 more wait for the next issue: Test Weekly #1: Bravo"
    )


def test_issue_new_with_a_note(runner: CliRunner, site: Path, tmp_path: Path) -> None:
    note = tmp_path / "note.md"
    note.write_text("**Welcome** to our *first* issue.\n", encoding="utf-8")
    result = invoke(runner, "--site", site, "issue", "new", "--note", note, "--now", NOW_ARG)
    assert_clean_exit(result, 0)
    (record,) = issues_of(site)
    assert record.note == "**Welcome** to our *first* issue.\n"
    assert "<strong>Welcome</strong> to our <em>first</em> issue." in record.html
    assert "\nWelcome to our first issue.\n" in record.text  # its words, not its Markdown
    web = config.load(site, env={}).output_dir / "issues" / "1" / "index.html"
    assert "<strong>Welcome</strong>" in web.read_text(encoding="utf-8")


@pytest.mark.parametrize(
    ("write", "message"),
    [
        (None, "Error: Invalid value for --note: cannot read {note}: No such file or directory"),
        (b"caf\xe9\n", "Error: Invalid value for --note: {note} is not UTF-8; save it as UTF-8"),
        (
            b"a" * (MAX_NOTE_BYTES + 1),
            f"Error: Invalid value for --note: {{note}} is {MAX_NOTE_BYTES + 1} bytes; "
            f"an editor's note must stay under {MAX_NOTE_BYTES}",
        ),
        ("folder", "is a directory"),
    ],
    ids=["missing", "not-utf-8", "huge", "a-folder"],
)
def test_issue_new_with_a_bad_note(
    runner: CliRunner, site: Path, tmp_path: Path, write: bytes | str | None, message: str
) -> None:
    note = tmp_path / "note.md"
    if isinstance(write, bytes):
        note.write_bytes(write)
    elif write == "folder":
        note.mkdir()
    result = invoke(runner, "--site", site, "issue", "new", "--note", note, "--now", NOW_ARG)
    assert_clean_exit(result, 2)
    assert message.format(note=note) in result.stderr
    assert result.stdout == ""
    assert not (site / ".feedpub").exists()
    assert not (site / "public").exists()


# -- issue preview ---------------------------------------------------------------------------


def test_issue_preview_records_nothing(runner: CliRunner, site: Path) -> None:
    result = invoke(runner, "--site", site, "issue", "preview", "--now", NOW_ARG)
    assert_clean_exit(result, 0)
    stem = state_dir(site) / "preview" / "issue-1"
    paths = [Path(line) for line in result.stdout.splitlines()]
    assert paths == [stem.with_suffix(s) for s in (".html", ".txt", ".eml")]
    html, text, eml = (p.read_text(encoding="utf-8") for p in paths)
    assert "Bravo" in html and "Alpha" in html
    assert "Bravo" in text and "Alpha" in text
    assert "Subject: Test Weekly #1: Bravo" in eml

    listed = invoke(runner, "--site", site, "issue", "list")
    assert_clean_exit(listed, 0)
    assert listed.stdout == "No issues yet\n"
    assert not (site / "public").exists()
    # Preview again: still issue 1, as nothing was recorded.
    again = invoke(runner, "--site", site, "issue", "preview", "--now", NOW_ARG)
    assert [Path(line) for line in again.stdout.splitlines()] == paths


def test_issue_preview_of_a_recorded_issue(runner: CliRunner, site: Path) -> None:
    assert_clean_exit(invoke(runner, "--site", site, "issue", "new", "--now", NOW_ARG), 0)
    result = invoke(runner, "--site", site, "issue", "preview", "1")
    assert_clean_exit(result, 0)
    html = Path(result.stdout.splitlines()[0])
    (record,) = issues_of(site)
    assert html.read_text(encoding="utf-8") == record.html

    nothing = invoke(runner, "--site", site, "issue", "preview", "--now", LATER_ARG)
    assert_clean_exit(nothing, 0)
    assert nothing.stdout == "Nothing new: the next issue would be empty\n"


def test_issue_preview_of_a_missing_issue(runner: CliRunner, site: Path) -> None:
    result = invoke(runner, "--site", site, "issue", "preview", "5")
    assert_clean_exit(result, 1)
    assert result.stderr == "Error: there is no issue 5; 'feedpub issue list' shows them\n"
    assert not (state_dir(site) / "preview").exists()


# -- issue list, show, discard ---------------------------------------------------------------


def test_issue_list(runner: CliRunner, site: Path) -> None:
    for address in ("ann@example.org", "bob@example.org"):
        assert_clean_exit(invoke(runner, "--site", site, "subscribers", "add", address), 0)
    assert_clean_exit(invoke(runner, "--site", site, "run", "--now", NOW_ARG), 0)
    (site / "content" / "charlie.md").write_text(article("Charlie", "2026-11-27 12:05"))
    assert_clean_exit(invoke(runner, "--site", site, "issue", "new", "--now", LATER_ARG), 0)
    result = invoke(runner, "--site", site, "issue", "list")
    assert_clean_exit(result, 0)
    assert result.stdout.splitlines() == [
        "   #  created           status     articles  deliveries  failed  bounced  spam  subject",
        "   1  2026-11-27 12:00  sent              2         2/2       0        0     0  "
        "Test Weekly #1: Bravo",
        "   2  2026-11-27 12:15  ready             1         0/0       0        0     0  "
        "Test Weekly #2: Charlie",
    ]


def test_an_issue_being_sent_is_listed_as_such_and_cannot_be_discarded(
    runner: CliRunner, site: Path
) -> None:
    for address in ("ann@example.org", "bob@example.org"):
        assert_clean_exit(invoke(runner, "--site", site, "subscribers", "add", address), 0)
    assert_clean_exit(invoke(runner, "--site", site, "issue", "new", "--now", NOW_ARG), 0)
    db = sqlite3.connect(state_dir(site) / "state.db")
    try:
        db.execute(
            "INSERT INTO deliveries (issue, subscriber, status, attempts, next_attempt,"
            " last_reply, updated) SELECT 1, id, CASE WHEN id = 1 THEN 'sent' ELSE 'pending'"
            " END, 0, NULL, '', '' FROM subscribers"
        )
        db.commit()
    finally:
        db.close()
    listed = invoke(runner, "--site", site, "issue", "list")
    assert listed.stdout.splitlines()[1].startswith(
        "   1  2026-11-27 12:00  sending           2         1/2       0"
    )
    result = invoke(runner, "--site", site, "issue", "discard", "1")
    assert_clean_exit(result, 1)
    assert result.stderr == (
        "Error: issue 1 is being sent (tried for 1 recipient); "
        "finish it with 'feedpub send' instead\n"
    )
    assert [r.number for r in issues_of(site)] == [1]


def test_issue_list_without_a_state(runner: CliRunner, site: Path) -> None:
    result = invoke(runner, "--site", site, "issue", "list")
    assert_clean_exit(result, 0)
    assert result.stdout == "No issues yet\n"
    assert not (site / ".feedpub").exists()  # a read-only command leaves no files behind


def test_issue_show(runner: CliRunner, site: Path) -> None:
    assert_clean_exit(invoke(runner, "--site", site, "issue", "new", "--now", NOW_ARG), 0)
    (record,) = issues_of(site)
    result = invoke(runner, "--site", site, "issue", "show", "1")
    assert_clean_exit(result, 0)
    assert result.stdout.splitlines() == [
        "Issue 1: Test Weekly #1: Bravo",
        "Created 2026-11-27 12:00 CET; status ready",
        f"  1. Bravo  [{record.items[0].article_id}]",
        f"  2. Alpha  [{record.items[1].article_id}]",
    ]
    assert all(item.article_id.startswith("urn:uuid:") for item in record.items)

    assert_clean_exit(invoke(runner, "--site", site, "run", "--now", LATER_ARG), 0)
    sent = invoke(runner, "--site", site, "issue", "show", "1")
    assert sent.stdout.splitlines()[1] == (
        "Created 2026-11-27 12:00 CET; status unsent (no one to send it to); "
        "finished 2026-11-27 12:15 CET"
    )


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["issue", "show", "2"], 1, "Error: there is no issue 2; 'feedpub issue list' shows"),
        (["issue", "show", "0"], 2, "Error: Invalid value for 'NUMBER': 0 is not in the range"),
        (["issue", "show", "one"], 2, "Error: Invalid value for 'NUMBER': 'one' is not a valid"),
        (["issue", "discard", "2"], 1, "Error: there is no issue 2; 'feedpub issue list' shows"),
        (["issue", "discard", "0"], 2, "Error: Invalid value for 'NUMBER': 0 is not in the range"),
        (["issue", "preview", "0"], 2, "Error: Invalid value for '[NUMBER]': 0 is not in the"),
    ],
    ids=[
        "show-missing",
        "show-zero",
        "show-word",
        "discard-missing",
        "discard-zero",
        "preview-zero",
    ],
)
def test_issue_number_errors(
    runner: CliRunner, site: Path, args: list[str], code: int, message: str
) -> None:
    assert_clean_exit(invoke(runner, "--site", site, "issue", "new", "--now", NOW_ARG), 0)
    result = invoke(runner, "--site", site, *args)
    assert_clean_exit(result, code)
    assert message in result.stderr
    assert len(issues_of(site)) == 1


def test_issue_discard(runner: CliRunner, site: Path) -> None:
    assert_clean_exit(invoke(runner, "--site", site, "issue", "new", "--now", NOW_ARG), 0)
    result = invoke(runner, "--site", site, "issue", "discard", "1")
    assert_clean_exit(result, 0)
    assert result.stdout == "Discarded issue 1; its 2 articles will go into the next issue\n"
    assert invoke(runner, "--site", site, "issue", "list").stdout == "No issues yet\n"
    again = invoke(runner, "--site", site, "issue", "new", "--now", LATER_ARG)
    assert again.stdout.startswith("Created issue 1 with 2 articles: ")


def test_issue_discard_refuses_a_sent_issue(runner: CliRunner, site: Path) -> None:
    assert_clean_exit(invoke(runner, "--site", site, "run", "--now", NOW_ARG), 0)
    result = invoke(runner, "--site", site, "issue", "discard", "1")
    assert_clean_exit(result, 1)
    assert result.stderr == (
        "Error: issue 1 cannot be discarded: it is unsent (no one to send it to), and a "
        "finished issue stays (its articles went out with it)\n"
    )
    assert [r.status for r in issues_of(site)] == ["sent"]


# -- status ----------------------------------------------------------------------------------


def test_status(runner: CliRunner, make_site: MakeSite) -> None:
    root = make_site({**ARTICLES, "soon.md": article("Soon", "2026-12-01 09:00")}, extra=NEWSLETTER)
    before = invoke(runner, "--site", root, "status", "--now", NOW_ARG)
    assert_clean_exit(before, 0)
    assert before.stdout.splitlines() == [
        "Articles: 2 published, 1 scheduled, 0 drafts",
        "Next scheduled article: 2026-12-01 09:00 CET",
        "Waiting for the next issue: 2 articles",
        "Last issue: none yet",
        "Next issue: due now (due since 2026-11-27 08:00 CET)",
        "Unfinished issues: none",
    ]
    assert not (root / ".feedpub").exists()

    assert_clean_exit(invoke(runner, "--site", root, "issue", "new", "--now", NOW_ARG), 0)
    after = invoke(runner, "--site", root, "status", "--now", LATER_ARG)
    assert_clean_exit(after, 0)
    assert after.stdout.splitlines() == [
        "Articles: 2 published, 1 scheduled, 0 drafts",
        "Next scheduled article: 2026-12-01 09:00 CET",
        "Waiting for the next issue: 0 articles",
        "Last issue: #1, 2026-11-27 12:00 CET, ready, 2 articles",
        "Next issue due: 2026-12-04 08:00 CET",
        "Unfinished issues: #1 ready",
    ]


def test_status_counts_one_in_the_singular(runner: CliRunner, make_site: MakeSite) -> None:
    root = make_site({"alpha.md": ARTICLES["alpha.md"]}, extra=NEWSLETTER)
    before = invoke(runner, "--site", root, "status", "--now", NOW_ARG)
    assert "Waiting for the next issue: 1 article" in before.stdout.splitlines()
    assert_clean_exit(invoke(runner, "--site", root, "run", "--now", NOW_ARG), 0)
    after = invoke(runner, "--site", root, "status", "--now", LATER_ARG)
    assert (
        "Last issue: #1, 2026-11-27 12:00 CET, unsent (no one to send it to), 1 article"
        in after.stdout.splitlines()
    )


def test_status_json(runner: CliRunner, site: Path) -> None:
    assert_clean_exit(invoke(runner, "--site", site, "issue", "new", "--now", NOW_ARG), 0)
    result = invoke(runner, "--site", site, "status", "--json", "--now", LATER_ARG)
    assert_clean_exit(result, 0)
    info = json.loads(result.stdout)
    assert info == {
        "now": LATER_ARG,
        "articles": {"published": 2, "scheduled": 0, "drafts": 0, "errors": 0},
        "next_scheduled_article": None,
        "newsletter": True,
        "waiting": 0,
        "left_out": {
            "lookback_days": {"setting": 14, "articles": 0},
            "max_items": {"setting": 25, "articles": 0},
        },
        "last_issue": {
            "number": 1,
            "created": NOW_ARG,
            "status": "ready",
            "state": "ready",
            "state_detail": "",
            "articles": 2,
        },
        "issue_due": False,
        "next_issue_due": "2026-12-04T08:00:00+01:00",
        "skipped_moments": [],
        "skipped": [],
        "reason": "issue 1 was made for this period; next due 2026-12-04 08:00 CET",
        "unfinished_issues": [1],
        "unfinished": [{"number": 1, "state": "ready", "detail": ""}],
        "recent_issues": [],  # none went to anyone yet (tests/test_figures.py has them)
        "warnings": [],
    }


def test_status_without_a_newsletter(runner: CliRunner, make_site: MakeSite) -> None:
    root = make_site(ARTICLES)
    result = invoke(runner, "--site", root, "status", "--now", NOW_ARG)
    assert_clean_exit(result, 0)
    assert result.stdout.splitlines() == [
        "Articles: 2 published, 0 scheduled, 0 drafts",
        "Newsletter: none (add a [newsletter] section to feedpub.toml)",
    ]
    info = json.loads(invoke(runner, "--site", root, "status", "--json", "--now", NOW_ARG).stdout)
    assert (info["newsletter"], info["waiting"], info["issue_due"]) == (False, 0, False)
    assert info["reason"] == "no [newsletter] in feedpub.toml"


# -- run -------------------------------------------------------------------------------------


def test_run(runner: CliRunner, site: Path) -> None:
    result = invoke(runner, "--site", site, "run", "--now", NOW_ARG)
    assert_clean_exit(result, 0)
    lines = result.stdout.splitlines()
    assert lines[0].startswith("Built 2 articles: ") and lines[0].endswith(" files written")
    assert lines[1] == "Created issue 1"
    assert re.fullmatch(
        r"Issue 1: 0 sent, 0 deferred, 0 failed, 0 skipped of 0 recipients in \d+\.\d s "
        r"\(0 messages/s\); finished: no one to send to",
        lines[2],
    ), lines
    assert len(lines) == 3
    assert [(r.number, r.status) for r in issues_of(site)] == [(1, "sent")]

    again = invoke(runner, "--site", site, "run", "--now", LATER_ARG)
    assert_clean_exit(again, 0)
    assert again.stdout.splitlines() == [
        "Built 2 articles: 0 files written",
        "no new issue: issue 1 was made for this period; next due 2026-12-04 08:00 CET",
    ]


@pytest.mark.parametrize(
    ("extra", "articles", "reason"),
    [
        ("", ARTICLES, "no new issue: no [newsletter] in feedpub.toml"),
        (
            NEWSLETTER.replace('"weekly"', '"manual"'),
            ARTICLES,
            "no new issue: the schedule is manual: run 'feedpub issue new'",
        ),
        (
            NEWSLETTER + "min_items = 3\n",
            ARTICLES,
            "no new issue: due since 2026-11-27 08:00 CET, but 2 articles waiting "
            "and [newsletter] min_items is 3",
        ),
        (
            NEWSLETTER,
            {},
            "no new issue: due since 2026-11-27 08:00 CET, but 0 articles waiting "
            "and [newsletter] min_items is 1",
        ),
    ],
    ids=["no-newsletter", "manual", "min-items", "nothing-waiting"],
)
def test_run_says_why_there_is_no_issue(
    runner: CliRunner,
    make_site: MakeSite,
    extra: str,
    articles: dict[str, str | bytes],
    reason: str,
) -> None:
    root = make_site(articles, extra=extra)
    result = invoke(runner, "--site", root, "run", "--now", NOW_ARG)
    assert_clean_exit(result, 0)
    assert result.stdout.splitlines()[-1] == reason
    assert "Created issue" not in result.stdout
    assert issues_of(root) == []


def test_run_with_article_errors(runner: CliRunner, site: Path) -> None:
    (site / "content" / "bad.md").write_text("---\ndate: 2026-11-22\n---\nNo title here.\n")
    result = invoke(runner, "--site", site, "run", "--now", NOW_ARG)
    assert_clean_exit(result, 1)
    assert result.stderr.splitlines()[-1] == "Error: 1 error in the articles; nothing was written"
    assert issues_of(site) == []


@pytest.mark.parametrize(
    "command",
    [
        ["run"],
        ["status"],
        ["status", "--json"],
        ["issue", "new"],
        ["issue", "preview"],
        ["build"],
        ["check"],
    ],
    ids=lambda command: "-".join(command),
)
def test_now_garbage_is_a_usage_error(runner: CliRunner, site: Path, command: list[str]) -> None:
    result = invoke(runner, "--site", site, *command, "--now", "garbage")
    assert_clean_exit(result, 2)
    assert "Error: Invalid value for '--now': 'garbage' is not a date" in result.stderr
    assert result.stdout == ""
    assert not (site / ".feedpub").exists()
    assert not (site / "public").exists()


# -- the site lock ---------------------------------------------------------------------------


def test_a_second_lock_in_the_same_process_conflicts(site: Path) -> None:
    """flock belongs to an open file description: another open() of the file conflicts too."""
    folder = state_dir(site)
    holder = SiteLock(folder, "test")
    holder.acquire()
    try:
        with pytest.raises(LockBusy) as caught:
            SiteLock(folder, "other").acquire()
        assert str(caught.value).startswith(f"the site is busy: feedpub test (pid {os.getpid()} ")
    finally:
        holder.release()
    with SiteLock(folder, "other"):
        assert (folder / "lock").read_text().startswith(f"feedpub other (pid {os.getpid()} ")


LOCKED_COMMANDS = [
    ["run", "--now", NOW_ARG],
    ["issue", "new", "--now", NOW_ARG],
    ["build", "--now", NOW_ARG],
    ["issue", "discard", "1"],
]


@pytest.mark.parametrize(
    "command", LOCKED_COMMANDS, ids=["run", "issue-new", "build", "issue-discard"]
)
def test_a_held_lock_makes_commands_exit_75(
    runner: CliRunner, site: Path, command: list[str]
) -> None:
    folder = state_dir(site)
    holder = SiteLock(folder, "test")
    holder.acquire()
    try:
        result = invoke(runner, "--site", site, *command)
        assert_clean_exit(result, 75)
        assert result.stderr == (
            f"Error: the site is busy: feedpub test (pid {os.getpid()} on "
            f"{socket.gethostname()}) holds {folder / 'lock'}; try again when it has finished\n"
        )
        assert result.stdout == ""
        assert issues_of(site) == []
        assert not (site / "public").exists()
    finally:
        holder.release()
    # Once it is free, the same command goes ahead.
    if command[:2] == ["issue", "discard"]:
        assert_clean_exit(invoke(runner, "--site", site, "issue", "new", "--now", NOW_ARG), 0)
    assert_clean_exit(invoke(runner, "--site", site, *command), 0)


HOLD_THE_LOCK = """
import signal, sys
from pathlib import Path
from feedpub.lock import SiteLock
SiteLock(Path(sys.argv[1]), "child").acquire()
signal.pause()
"""


def _wait_for_the_lock(folder: Path, child: subprocess.Popen[bytes]) -> None:
    """Until the child has written its name into the lock file (bounded: ten seconds)."""
    expected = f"feedpub child (pid {child.pid} "
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        assert child.poll() is None, "the child exited before taking the lock"
        lock = folder / "lock"
        if lock.exists() and lock.read_text().startswith(expected):
            return
        time.sleep(0.01)
    raise AssertionError("the child did not take the lock within ten seconds")


def test_a_lock_left_by_a_killed_process_is_free(runner: CliRunner, site: Path) -> None:
    folder = state_dir(site)
    child = subprocess.Popen([sys.executable, "-c", HOLD_THE_LOCK, str(folder)])
    try:
        _wait_for_the_lock(folder, child)
        busy = invoke(runner, "--site", site, "run", "--now", NOW_ARG)
        assert_clean_exit(busy, 75)
        assert f"feedpub child (pid {child.pid} on " in busy.stderr
    finally:
        child.send_signal(signal.SIGKILL)
        assert child.wait(timeout=10) == -signal.SIGKILL
    # The dead holder's name is still in the file, but the kernel dropped its lock.
    assert (folder / "lock").read_text().startswith(f"feedpub child (pid {child.pid} ")
    result = invoke(runner, "--site", site, "run", "--now", NOW_ARG)
    assert_clean_exit(result, 0)
    assert "Created issue 1" in result.stdout.splitlines()
    assert (folder / "lock").read_text() == ""  # released cleanly this time


BUSY = re.compile(
    r"Error: the site is busy: (feedpub run \(pid \d+ on [^)]+\)|another process) "
    r"holds \S+/\.feedpub/lock; try again when it has finished\n"
)


def test_two_runs_at_once_make_one_issue(site: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("FEEDPUB_")}
    subprocess.run(
        [str(FEEDPUB), "--site", str(site), "subscribers", "add", "ann@example.org"],
        check=True,
        env=env,
        capture_output=True,
    )
    args = [str(FEEDPUB), "--site", str(site), "run", "--now", NOW_ARG]
    procs = [
        subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
        for _ in range(2)
    ]
    outcomes = []
    for proc in procs:
        stdout, stderr = proc.communicate(timeout=120)
        outcomes.append((proc.returncode, stdout.decode(), stderr.decode()))
    made = [o for o in outcomes if o[0] == 0 and "Created issue 1\n" in o[1]]
    others = [o for o in outcomes if o not in made]
    assert len(made) == 1, outcomes
    assert made[0][2] == ""
    (code, out, err) = others[0]
    if code == 75:
        # The holder names itself just after taking the lock: a look in between finds no name.
        assert BUSY.fullmatch(err), outcomes
        assert out == ""
    else:
        assert code == 0, outcomes
        assert out.splitlines()[-1] == (
            "no new issue: issue 1 was made for this period; next due 2026-12-04 08:00 CET"
        )
    assert [(r.number, r.status) for r in issues_of(site)] == [(1, "sent")]
    assert os.listdir(state_dir(site) / "outbox") == ["1"]
    assert os.listdir(state_dir(site) / "outbox" / "1") == ["ann@example.org.eml"]
