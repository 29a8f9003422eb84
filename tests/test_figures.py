"""Each issue's figures in ``issue show``, ``issue list``, ``status`` and ``status --json``, and
the warnings ``status`` and ``run`` give when an issue's complaint rate passes 0.1% or its
bounce rate 2%: over and under each limit, the addresses named (at most 10), said once by
``run``.

Each test starts from a real site whose issue 1 went to 1,000 readers through ``feedpub run``
(into the outbox), made once and copied; the events are recorded through the store, as the
inbox and the webhooks record them."""

from __future__ import annotations

import json
import shutil
import sqlite3
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from helpers import (
    ARTICLES,
    NEWSLETTER,
    NOW,
    NOW_ARG,
    SETTINGS,
    article,
    assert_clean_exit,
    invoke,
    load,
    readers,
    subscribe,
    write_articles,
)

from feedpub.newsletter.figures import MAX_NAMED, RECENT_DAYS, TOLD_KEY, news
from feedpub.store.state import State

SENT = 1000
LATER = NOW + timedelta(hours=2)
LATER_ARG = LATER.isoformat()


@pytest.fixture(scope="module")
def sent_once(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A site whose issue 1 went to 1,000 readers, made by a real `feedpub run`."""
    root = tmp_path_factory.mktemp("figures") / "site"
    (root / "content").mkdir(parents=True)
    (root / "feedpub.toml").write_text(SETTINGS + NEWSLETTER, encoding="utf-8")
    write_articles(root, ARTICLES)
    subscribe(root, readers(SENT))
    result = invoke(CliRunner(), "--site", root, "run", "--now", NOW_ARG)
    assert_clean_exit(result, 0)
    assert f"Issue 1: {SENT} sent, 0 deferred, 0 failed" in result.output
    shutil.rmtree(root / ".feedpub" / "outbox")  # a thousand files every copy would repeat
    return root


@pytest.fixture
def site(sent_once: Path, tmp_path: Path) -> Path:
    root = tmp_path / "site"
    shutil.copytree(sent_once, root)
    return root


def record(root: Path, events: list[tuple[int, str, str]], issue: int | None = 1) -> None:
    """Record events (reader number, kind, detail) about ``issue``, as the inbox would."""
    with State.open(load(root).state_dir) as state, state.transaction():
        for number, kind, detail in events:
            found = state.subscribers.find(readers(SENT)[number][0])
            assert found is not None
            state.events.add(found.id, issue, kind, "inbox", detail, LATER_ARG)


def address(number: int) -> str:
    return readers(SENT)[number][0]


HARD = "5.1.1 smtp; 550 5.1.1 <{}>: Recipient address rejected: User unknown"
SOFT = "4.2.2 smtp; 452 4.2.2 Mailbox full"


def bounces(hard: range, soft: range = range(0)) -> list[tuple[int, str, str]]:
    return [(n, "hard", HARD.format(address(n))) for n in hard] + [(n, "soft", SOFT) for n in soft]


def complaints(numbers: range) -> list[tuple[int, str, str]]:
    return [(n, "complaint", "abuse report from Yahoo") for n in numbers]


def status_json(runner: CliRunner, root: Path, now: str = LATER_ARG) -> dict[str, Any]:
    result = invoke(runner, "--site", root, "status", "--json", "--now", now)
    assert_clean_exit(result, 0)
    info = json.loads(result.stdout)
    assert isinstance(info, dict)
    return info


# -- the figures ---------------------------------------------------------------------------------


def test_the_figures_add_up_in_issue_show_list_and_status(runner: CliRunner, site: Path) -> None:
    record(site, bounces(range(0, 3), range(3, 5)) + complaints(range(5, 6)))
    record(site, [(6, "unsubscribe", "")], issue=None)  # counted for the last issue they got
    # A reader who bounced twice counts once.
    record(site, bounces(range(0, 1)))

    shown = invoke(runner, "--site", site, "issue", "show", "1")
    assert_clean_exit(shown, 0)
    lines = shown.stdout.splitlines()
    assert lines[2] == (
        "Figures: 1000 sent, 995 delivered, 3 hard and 2 soft bounces (0.5%), "
        "1 complaint (0.10%), 1 unsubscribe"
    )
    flagged = lines[lines.index("Bounced or complained (6):") + 1 :]
    assert flagged == [
        f"  complaint  {address(5)}  abuse report from Yahoo",
        *(f"  hard       {address(n)}  {HARD.format(address(n))}" for n in range(3)),
        *(f"  soft       {address(n)}  {SOFT}" for n in range(3, 5)),
    ]
    assert shown.stderr == ""  # 0.5% and 0.10% are not over the limits

    listed = invoke(runner, "--site", site, "issue", "list")
    assert_clean_exit(listed, 0)
    assert listed.stdout.splitlines() == [
        "   #  created           status     articles  deliveries  failed  bounced  spam  subject",
        "   1  2026-11-27 12:00  sent              2   1000/1000       0        5     1  "
        "Test Weekly #1: Bravo",
    ]

    info = status_json(runner, site)
    assert info["recent_issues"] == [
        {
            "number": 1,
            "created": NOW_ARG,
            "figures": {
                "sent": 1000,
                "delivered": 995,
                "hard": 3,
                "soft": 2,
                "complaints": 1,
                "unsubscribes": 1,
                "bounce_rate": 0.005,
                "complaint_rate": 0.001,
            },
        }
    ]
    assert info["warnings"] == []
    text = invoke(runner, "--site", site, "status", "--now", LATER_ARG)
    assert_clean_exit(text, 0)
    assert text.stdout.splitlines()[-1] == (
        "Issue #1: 1000 sent, 995 delivered, 3 hard and 2 soft bounces (0.5%), "
        "1 complaint (0.10%), 1 unsubscribe"
    )
    assert text.stderr == ""


def test_an_issue_not_sent_yet_shows_no_figures(runner: CliRunner, site: Path) -> None:
    write_articles(site, {"charlie.md": article("Charlie", "2026-11-27 12:05")})
    assert_clean_exit(invoke(runner, "--site", site, "issue", "new", "--now", LATER_ARG), 0)
    shown = invoke(runner, "--site", site, "issue", "show", "2")
    assert_clean_exit(shown, 0)
    assert not any(line.startswith(("Figures:", "Bounced")) for line in shown.stdout.splitlines())
    listed = invoke(runner, "--site", site, "issue", "list")
    assert listed.stdout.splitlines()[2].split()[3:9] == ["ready", "1", "0/0", "0", "0", "0"]
    info = status_json(runner, site)
    assert [i["number"] for i in info["recent_issues"]] == [1]


def test_a_hostile_diagnostic_is_shown_on_one_line_without_control_characters(
    runner: CliRunner, site: Path
) -> None:
    hostile = "550 5.1.1 gone\r\n\x1b[2J\x1b]0;owned\x07 next\u2028line" + "x" * 900
    record(site, [(0, "hard", hostile)])
    shown = invoke(runner, "--site", site, "issue", "show", "1")
    assert_clean_exit(shown, 0)
    (line,) = [ln for ln in shown.stdout.splitlines() if address(0) in ln]
    assert line.startswith(f"  hard       {address(0)}  550 5.1.1 gone [2J ]0;owned next line")
    assert not any(ord(c) < 32 or 127 <= ord(c) < 160 for c in line)
    assert len(line) < 250


# -- the warnings --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("events", "warned"),
    [
        pytest.param(complaints(range(1)), None, id="complaints-at-0.1%"),
        pytest.param(complaints(range(2)), "complaints", id="complaints-over-0.1%"),
        pytest.param(bounces(range(20)), None, id="bounces-at-2%"),
        pytest.param(bounces(range(19), range(19, 21)), "bounces", id="bounces-over-2%"),
        pytest.param(bounces(range(0), range(21)), "bounces", id="soft-bounces-over-2%"),
    ],
)
def test_status_warns_over_each_limit_and_not_at_it(
    runner: CliRunner, site: Path, events: list[tuple[int, str, str]], warned: str | None
) -> None:
    record(site, events)
    text = invoke(runner, "--site", site, "status", "--now", LATER_ARG)
    assert_clean_exit(text, 0)
    found = status_json(runner, site)["warnings"]
    assert isinstance(found, list)
    if warned is None:
        assert text.stderr == ""
        assert found == []
        return
    (warning,) = found
    assert (warning["issue"], warning["kind"], warning["sent"]) == (1, warned, SENT)
    assert warning["count"] == len(events) and warning["rate"] == len(events) / SENT
    assert text.stderr == f"warning: {warning['message']}\n"
    if warned == "complaints":
        assert "marked it as spam (0.20%, over 0.1%" in warning["message"]
        assert "feedpub subscribers show ADDRESS" in warning["message"]
    else:
        assert "bounced it (2.1%, over 2%)" in warning["message"]
        assert "remove the addresses you cannot vouch for" in warning["message"]


def test_a_warning_names_ten_addresses_and_how_many_more(runner: CliRunner, site: Path) -> None:
    record(site, bounces(range(40)) + complaints(range(100, 103)))
    found = status_json(runner, site)["warnings"]
    assert isinstance(found, list)
    complained, bounced = found
    assert complained["kind"] == "complaints" and complained["more"] == 0
    assert complained["addresses"] == [address(n) for n in range(100, 103)]
    assert complained["message"].endswith(f"look at {address(100)}, {address(101)}, {address(102)}")
    assert bounced["addresses"] == [address(n) for n in range(MAX_NAMED)]
    assert bounced["more"] == 30
    assert bounced["message"].endswith(
        f"{address(9)} and 30 more (`feedpub issue show 1` lists them all)"
    )
    assert address(10) not in bounced["message"]

    shown = invoke(runner, "--site", site, "issue", "show", "1")
    assert shown.stderr.splitlines() == [
        f"warning: {complained['message']}",
        f"warning: {bounced['message']}",
    ]
    assert "Bounced or complained (43):" in shown.stdout.splitlines()


def test_refusals_for_policy_point_at_spf_dkim_and_dmarc(runner: CliRunner, site: Path) -> None:
    blocked = "5.7.26 smtp; 550 5.7.26 Unauthenticated email is not accepted (DMARC)"
    record(site, [(n, "hard", blocked) for n in range(15)] + bounces(range(15, 25)))
    (bounced,) = status_json(runner, site)["warnings"]
    assert (
        "15 of them were refused for policy (5.7.x): check SPF, DKIM and DMARC"
        in (bounced["message"])
    )
    plain = bounces(range(30))
    other = site.parent / "plain"
    shutil.copytree(site, other)
    with State.open(load(other).state_dir) as state, state.transaction():
        state.db.execute("DELETE FROM events")
    record(other, plain)
    (warning,) = status_json(runner, other)["warnings"]
    assert "policy" not in warning["message"]


def test_only_recent_issues_are_warned_about(runner: CliRunner, site: Path) -> None:
    record(site, bounces(range(30)))
    month_later = (NOW + timedelta(days=RECENT_DAYS + 1)).isoformat()
    # The last issue that went out is still the one to look at, however old.
    assert len(status_json(runner, site, month_later)["warnings"]) == 1
    # Once a newer issue went out, the old one's warning is past.
    write_articles(site, {"charlie.md": article("Charlie", "2026-12-20 09:00")})
    assert_clean_exit(invoke(runner, "--site", site, "run", "--now", month_later), 0)
    info = status_json(runner, site, month_later)
    assert [i["number"] for i in info["recent_issues"]] == [2]
    assert info["warnings"] == []


def test_run_warns_once_and_again_when_it_grows(runner: CliRunner, site: Path) -> None:
    record(site, bounces(range(25)))
    first = invoke(runner, "--site", site, "run", "--now", LATER_ARG)
    assert_clean_exit(first, 0)
    (line,) = [ln for ln in first.stderr.splitlines() if ln.startswith("warning: issue 1:")]
    assert "25 of 1000 readers bounced it (2.5%, over 2%)" in line
    assert "and 15 more" in line

    again = invoke(runner, "--site", site, "run", "--now", LATER_ARG)
    assert_clean_exit(again, 0)
    assert "warning: issue 1" not in again.stderr
    # `status` says it every time: it is where to look.
    assert (
        "warning: issue 1: 25 of 1000"
        in invoke(runner, "--site", site, "status", "--now", LATER_ARG).stderr
    )

    record(site, bounces(range(25, 27)) + complaints(range(100, 103)))
    grown = invoke(runner, "--site", site, "run", "--now", LATER_ARG)
    assert_clean_exit(grown, 0)
    told = [ln for ln in grown.stderr.splitlines() if ln.startswith("warning: issue 1:")]
    assert len(told) == 2
    assert "3 of 1000 readers marked it as spam" in told[0]
    assert "27 of 1000 readers bounced it" in told[1]
    quiet = invoke(runner, "--site", site, "run", "--now", LATER_ARG)
    assert "warning: issue 1" not in quiet.stderr


def test_run_warns_again_when_what_it_told_cannot_be_read(runner: CliRunner, site: Path) -> None:
    record(site, bounces(range(25)))
    assert "warning: issue 1" in invoke(runner, "--site", site, "run", "--now", LATER_ARG).stderr
    for garbage in ("not json", "[1, 2]", '{"1": {"bounces": "many"}}', '{"1": 3}'):
        with State.open(load(site).state_dir) as state, state.transaction():
            state.set_meta(TOLD_KEY, garbage)
        result = invoke(runner, "--site", site, "run", "--now", LATER_ARG)
        assert_clean_exit(result, 0)
        assert "warning: issue 1: 25 of 1000" in result.stderr, garbage


def test_status_q_keeps_the_warnings_but_run_q_says_them(runner: CliRunner, site: Path) -> None:
    record(site, bounces(range(25)))
    result = invoke(runner, "--site", site, "status", "-q", "--now", LATER_ARG)
    assert_clean_exit(result, 0)
    assert result.stderr == ""
    # run says each once: under a cron job's -q, a warning hidden would be lost for good.
    ran = invoke(runner, "--site", site, "-q", "run", "--now", LATER_ARG)
    assert_clean_exit(ran, 0)
    assert ran.stdout == ""
    assert ran.stderr.startswith("warning: issue 1: 25 of 1000 readers bounced it")


def test_status_of_a_site_never_sent_has_no_figures(runner: CliRunner, tmp_path: Path) -> None:
    root = tmp_path / "fresh"
    (root / "content").mkdir(parents=True)
    (root / "feedpub.toml").write_text(SETTINGS + NEWSLETTER, encoding="utf-8")
    info = status_json(runner, root, NOW_ARG)
    assert (info["recent_issues"], info["warnings"]) == ([], [])
    assert not (root / ".feedpub").exists()


def test_a_busy_state_does_not_stop_the_warning_nor_fail_the_run(site: Path) -> None:
    record(site, bounces(range(25)))
    state_db = load(site).state_dir / "state.db"
    other = sqlite3.connect(state_db, isolation_level=None)
    try:
        other.execute("BEGIN IMMEDIATE")  # another process holds the write
        with State.open(state_db.parent, busy_timeout=0.1) as state:
            (warning,) = news(state, LATER)
        assert warning.kind == "bounces" and warning.count == 25
    finally:
        other.execute("ROLLBACK")
        other.close()
    with State.open(state_db.parent) as state:
        assert state.meta(TOLD_KEY) is None  # not remembered: the next run says it again
        assert len(news(state, LATER)) == 1
        assert news(state, LATER) == []


def test_an_issue_dated_without_a_zone_is_read_in_the_sites(runner: CliRunner, site: Path) -> None:
    record(site, bounces(range(25)))
    with State.open(load(site).state_dir) as state, state.transaction():
        state.db.execute("UPDATE issues SET created = '2026-11-27T12:00:00' WHERE number = 1")
    info = status_json(runner, site)
    assert [i["number"] for i in info["recent_issues"]] == [1]
    assert len(info["warnings"]) == 1


def test_a_reader_who_bounced_soft_then_hard_counts_once(runner: CliRunner, site: Path) -> None:
    # A delay report, then the failure: one message bounced, not two. 20 of 1000 is the limit.
    record(site, bounces(range(20), range(15, 20)))
    info = status_json(runner, site)
    (issue,) = info["recent_issues"]
    assert issue["figures"]["hard"] == 20 and issue["figures"]["soft"] == 5
    assert issue["figures"]["delivered"] == 980
    assert issue["figures"]["bounce_rate"] == 0.02
    assert info["warnings"] == []
    listed = invoke(runner, "--site", site, "issue", "list")
    assert listed.stdout.splitlines()[1].split()[7] == "20"
