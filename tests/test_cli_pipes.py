"""Output piped to a reader that stops early (`feedpub status | head -1`): the command does all
its work, says nothing about the pipe, and exits with the code it would have had (bug 2).

Each command runs as a real child process writing into a real pipe that is closed under it."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
from helpers import (
    ARTICLES,
    CHILD_ENV,
    FEEDPUB,
    NEWSLETTER,
    NOW_ARG,
    MakeSite,
    article,
    make_issue,
    publish,
    readers,
    subscribe,
)

from feedpub.store.state import State

FAULTS = ("Error", "Traceback", "BrokenPipe", "Exception ignored", "unexpected")


def piped(root: Path, *args: str, lines: int = 0, both: bool = False) -> tuple[int, bytes, str]:
    """Run ``feedpub --site ROOT ARGS`` with its standard output in a pipe whose reader takes
    ``lines`` lines and then closes its end, as ``head -n LINES`` does (0: closed before feedpub
    writes anything, so its first write meets a broken pipe). With ``both``, standard error goes
    into the same pipe (``2>&1 | head``); else into a file. (exit code, what was read, stderr)."""
    read_end, write_end = os.pipe()
    if lines == 0:
        os.close(read_end)
    err_path = root.parent / "stderr.txt"
    with err_path.open("wb") as err:
        child = subprocess.Popen(
            [str(FEEDPUB), "--site", str(root), *args],
            stdout=write_end,
            stderr=write_end if both else err,
            stdin=subprocess.DEVNULL,
            env=CHILD_ENV,
        )
        os.close(write_end)
        taken = b""
        if lines:
            with os.fdopen(read_end, "rb", buffering=0) as reader:
                while taken.count(b"\n") < lines:
                    chunk = reader.read(1)
                    if not chunk:
                        break
                    taken += chunk
        code = child.wait(timeout=120)
    return code, taken, err_path.read_text(encoding="utf-8", errors="replace")


@pytest.fixture
def site(make_site: MakeSite) -> Path:
    """A site with a newsletter, built, with two subscribers and issue 1 made."""
    root = make_site(ARTICLES, extra=NEWSLETTER)
    publish(root)
    subscribe(root, readers(2))
    make_issue(root)
    return root


COMMANDS = [
    ["build", "--now", NOW_ARG],
    ["status", "--now", NOW_ARG],
    ["check", "-v"],
    ["issue", "list"],
    ["issue", "show", "1"],
    ["issue", "preview", "1"],
    ["subscribers", "list"],
    ["subscribers", "show", "reader000@example.net"],
    ["subscribers", "export"],
    ["send", "--dry-run"],
    ["run", "--now", NOW_ARG],
    ["new", "A piped article"],
    ["subscribe-form"],
    ["--help"],
]


@pytest.mark.parametrize("args", COMMANDS, ids=[" ".join(a[:2]) for a in COMMANDS])
def test_a_closed_pipe_ends_a_command_quietly_with_its_own_exit_code(
    site: Path, args: list[str]
) -> None:
    code, _, err = piped(site, *args)
    assert code == 0, err
    assert not any(fault in err for fault in FAULTS), err


def test_issue_new_into_a_closed_pipe_keeps_the_issue_and_exits_0(make_site: MakeSite) -> None:
    root = make_site(ARTICLES, extra=NEWSLETTER)
    code, _, err = piped(root, "issue", "new", "--now", NOW_ARG)
    assert code == 0, err
    assert not any(fault in err for fault in FAULTS), err
    with State.open(root / ".feedpub") as state:
        kept = state.issues.all()
    assert [(r.number, len(r.items)) for r in kept] == [(1, 2)]
    assert (root / "public" / "issues" / "1" / "index.html").is_file()


def test_head_1_of_a_long_list_gets_the_first_line_and_exit_0(make_site: MakeSite) -> None:
    """Longer than a pipe holds, so feedpub is still writing when the reader leaves."""
    root = make_site(ARTICLES, extra=NEWSLETTER)
    subscribe(root, readers(6000))
    code, taken, err = piped(root, "subscribers", "list", lines=1)
    assert taken == b"reader000@example.net\tReader 0\tactive\n"
    assert code == 0, err
    assert not any(fault in err for fault in FAULTS), err


def test_a_failing_command_keeps_its_exit_code_and_its_error_into_a_closed_pipe(
    make_site: MakeSite,
) -> None:
    """`feedpub check 2>&1 | head -1` of a site with a broken article: still exit 1, for the
    cron job or script that looks at it; the reader left, so the message goes nowhere."""
    root = make_site({"a.md": article(), "b.md": "---\ntitle: [unclosed\n---\nBody\n"})
    code, _, _ = piped(root, "check", "-v", both=True)
    assert code == 1
    code, _, err = piped(root, "check", "-v")
    assert code == 1
    assert "b.md" in err and "error" in err
    assert not any(fault in err for fault in ("Traceback", "BrokenPipe", "Exception ignored"))


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="no /dev/full here")
def test_output_to_a_full_disk_is_an_error_that_says_so(site: Path) -> None:
    """`feedpub status > file` on a full disk: exit 1 and why, not a bug's traceback."""
    with open("/dev/full", "wb") as full:
        done = subprocess.run(
            [str(FEEDPUB), "--site", str(site), "status", "--now", NOW_ARG],
            stdout=full,
            stderr=subprocess.PIPE,
            env=CHILD_ENV,
            timeout=120,
            check=False,
        )
    assert done.returncode == 1
    assert done.stderr.decode() == (
        "Error: cannot write to standard output: No space left on device\n"
    )


@pytest.mark.parametrize("stream", ["1", "2"], ids=["stdout", "stderr"])
def test_a_stream_closed_before_feedpub_starts_is_no_bug(site: Path, stream: str) -> None:
    """`feedpub status >&-` (cron with its output closed): the work is done, exit 0."""
    done = subprocess.run(
        [
            "bash",
            "-c",
            f'exec "$0" --site "$1" status --now "$2" {stream}>&-',
            str(FEEDPUB),
            str(site),
            NOW_ARG,
        ],
        capture_output=True,
        env=CHILD_ENV,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done
    assert b"Traceback" not in done.stdout + done.stderr
