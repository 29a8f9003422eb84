"""Hostile templates, settings and surroundings: a sandbox for every template, secrets never
printed, settings that cannot exhaust the parser, times out of range, closed standard streams.
"""

from __future__ import annotations

import gc
import os
import resource
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner
from helpers import (
    FEEDPUB,
    NOW_ARG,
    MakeSite,
    Relay,
    article,
    assert_clean_exit,
    invoke,
    make_issue,
    only_password,
    readers,
    smtp_site,
    status_counts,
    subscribe,
)

ARTICLES = {
    "2026-11-20-hello.md": article("Hello", tags="[news]"),
    "2026-11-21-other.md": article("Other", date="2026-11-21"),
}


def own_template(root: Path, name: str, text: str) -> Path:
    path = root / "templates" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def in_block(body: str) -> str:
    """An article page that extends the packaged base, with ``body`` on its line 3."""
    return "{% extends 'base.html' %}\n{% block content %}\n" + body + "\n{% endblock %}\n"


# -- templates run in a sandbox ----------------------------------------------------------------


def test_a_template_cannot_run_a_command(runner: CliRunner, make_site: MakeSite) -> None:
    root = make_site(ARTICLES)
    marker = root / "ran"
    own_template(
        root,
        "article.html",
        in_block(f'{{{{ cycler.__init__.__globals__.os.popen("touch {marker}").read() }}}}'),
    )
    result = invoke(runner, "--site", root, "build", "--now", NOW_ARG)
    assert_clean_exit(result, 1)
    assert not marker.exists()
    assert result.stderr.startswith("Error: templates/article.html:3: error: ")
    assert "unsafe" in result.stderr and "sandbox" in result.stderr
    assert "Error: unexpected" not in result.stderr
    assert not [p for p in (root / "public").rglob("*") if p.is_file()]


BROKEN = {
    "zero-division": ("{{ 1/0 }}", "ZeroDivisionError: division by zero"),
    "undefined": ("{{ nothing.here }}", "'nothing' is undefined"),
    "recursion": (
        "{% macro m() %}{{ m() }}{% endmacro %}{{ m() }}",
        "calls itself without end",
    ),
    "syntax": ("{{ article.title }", "template syntax: unexpected '}'"),
    "type": ("{{ article.title + 1 }}", "TypeError: "),
}


@pytest.mark.parametrize(("body", "message"), BROKEN.values(), ids=BROKEN.keys())
def test_a_broken_template_names_its_file_and_line(
    runner: CliRunner, make_site: MakeSite, body: str, message: str
) -> None:
    root = make_site(ARTICLES)
    own_template(root, "article.html", in_block(body))
    result = invoke(runner, "--site", root, "build", "--now", NOW_ARG)
    assert_clean_exit(result, 1)
    assert result.stderr.startswith("Error: templates/article.html:3: error: "), result.stderr
    assert message in result.stderr
    assert "Error: unexpected" not in result.stderr
    assert result.stderr.count("\n") == 1


def test_an_error_in_an_included_template_names_that_template(
    runner: CliRunner, make_site: MakeSite
) -> None:
    root = make_site(ARTICLES)
    own_template(root, "article.html", in_block("{% include 'part.html' %}"))
    own_template(root, "part.html", "fine\nstill fine\n{{ 1/0 }}\n")
    result = invoke(runner, "--site", root, "build", "--now", NOW_ARG)
    assert_clean_exit(result, 1)
    assert result.stderr.startswith("Error: templates/part.html:3: error: ZeroDivisionError")


COSTLY = {
    "repeat-string": '{{ "x" * 3000000000 }}',
    "repeat-twice": '{{ "x" * 100000 * 100000 }}',
    "repeat-list": "{{ [0] * 3000000000 }}",
    "power": "{{ 7 ** 3000000000 }}",
    "percent-width": '{{ "%3000000000d" % 1 }}',
    "format-width": '{{ "{:>3000000000}".format(1) }}',
    "nested-format-width": '{{ "{:>{}}".format(1, 3000000000) }}',
    "format-map": '{{ "{x:>3000000000}".format_map({"x": 1}) }}',
    "ljust": '{{ "x".ljust(3000000000) }}',
    "center-filter": '{{ "x"|center(3000000000) }}',
    "indent-filter": '{{ "a"|indent(3000000000, first=true) }}',
    "format-filter": '{{ "%3000000000s"|format("x") }}',
    "slice-filter": "{{ [1, 2]|slice(3000000000)|list }}",
    "range": "{% for i in range(3000000000) %}{% endfor %}",
    "lipsum": "{{ lipsum(3000000000) }}",
    "doubling": (
        '{% set ns = namespace(s="x") %}{% for i in range(40) %}'
        "{% set ns.s = ns.s + ns.s %}{% endfor %}{{ ns.s|length }}"
    ),
    "doubling-with-tilde": (
        '{% set ns = namespace(s="x") %}{% for i in range(40) %}'
        "{% set ns.s = ns.s ~ ns.s %}{% endfor %}{{ ns.s|length }}"
    ),
}


def run_limited(*args: str | Path, seconds: float = 30) -> subprocess.CompletedProcess[str]:
    """feedpub in a child process whose memory is capped: a bound that does not hold fails
    the test instead of exhausting the machine."""

    def cap() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (MEMORY_CAP, MEMORY_CAP))

    return subprocess.run(
        [str(FEEDPUB), *map(str, args)],
        capture_output=True,
        text=True,
        timeout=seconds,
        preexec_fn=cap,
        check=False,
    )


MEMORY_CAP = 2 * 1024**3


@pytest.mark.parametrize("body", COSTLY.values(), ids=COSTLY.keys())
def test_a_template_cannot_make_a_huge_value(make_site: MakeSite, body: str) -> None:
    """``"x"*3000000000`` used to take 8.8 GB and 71 s before failing without naming the
    template."""
    root = make_site(ARTICLES)
    own_template(root, "article.html", in_block(body))
    started = time.monotonic()
    result = run_limited("--site", root, "build", "--now", NOW_ARG)
    assert time.monotonic() - started < 10
    assert result.returncode == 1, result.stderr
    assert result.stderr.startswith("Error: templates/article.html:3: error: "), result.stderr
    assert "at most" in result.stderr
    assert "Error: unexpected" not in result.stderr and "Traceback" not in result.stderr


def test_the_digest_templates_are_sandboxed_too(runner: CliRunner, make_site: MakeSite) -> None:
    root = make_site(
        ARTICLES, extra='[newsletter]\nname = "W"\nschedule = "manual"\nlookback_days = 30\n'
    )
    marker = root / "ran"
    own_template(
        root,
        "digest.txt",
        f'line one\n{{{{ cycler.__init__.__globals__.os.popen("touch {marker}").read() }}}}\n',
    )
    result = invoke(runner, "--site", root, "issue", "new", "--now", NOW_ARG)
    assert_clean_exit(result, 1)
    assert not marker.exists()
    assert result.stderr.startswith("Error: templates/digest.txt:2: error: "), result.stderr
    assert "sandbox" in result.stderr


def test_the_subject_template_is_bounded(make_site: MakeSite) -> None:
    root = make_site(
        ARTICLES,
        extra='[newsletter]\nname = "W"\nschedule = "manual"\nlookback_days = 30\n'
        "subject = '{{ \"x\" * 3000000000 }}'\n",
    )
    started = time.monotonic()
    result = run_limited("--site", root, "issue", "new", "--now", NOW_ARG)
    assert time.monotonic() - started < 10
    assert result.returncode == 1, result.stderr
    assert result.stderr.startswith("Error: [newsletter] subject cannot be rendered: ")
    assert "at most" in result.stderr


@pytest.mark.parametrize("target", ["/etc/shadow", "../secret.html"], ids=["etc", "site-root"])
def test_a_template_that_links_out_of_templates_is_refused(
    runner: CliRunner, make_site: MakeSite, target: str
) -> None:
    root = make_site(ARTICLES)
    (root / "secret.html").write_text("the server's secret", encoding="utf-8")
    (root / "templates").mkdir()
    (root / "templates" / "base.html").symlink_to(target)
    result = invoke(runner, "--site", root, "build", "--now", NOW_ARG)
    assert_clean_exit(result, 1)
    assert result.stderr.startswith("Error: templates/base.html: error: a link to "), result.stderr
    assert "outside templates/" in result.stderr
    assert not [p for p in (root / "public").rglob("*") if p.is_file()]


def test_a_link_inside_templates_is_followed(runner: CliRunner, make_site: MakeSite) -> None:
    root = make_site(ARTICLES)
    own_template(root, "shared/article.html", in_block("<p>own page {{ article.title }}</p>"))
    (root / "templates" / "article.html").symlink_to("shared/article.html")
    result = invoke(runner, "--site", root, "build", "--now", NOW_ARG)
    assert_clean_exit(result, 0)
    page = next((root / "public").rglob("hello/index.html")).read_text(encoding="utf-8")
    assert "<p>own page Hello</p>" in page


# -- secrets are never printed -----------------------------------------------------------------

HELD_PASSWORD = "Tr0ub4dor&3"


@pytest.mark.parametrize("where", ["file", "environment"])
def test_a_password_in_password_env_is_refused_without_being_shown(
    runner: CliRunner, make_site: MakeSite, monkeypatch: pytest.MonkeyPatch, where: str
) -> None:
    smtp = '\n[smtp]\nhost = "relay.example.org"\nusername = "mailer"\n'
    if where == "file":
        smtp += f'password_env = "{HELD_PASSWORD}"\n'
    else:
        monkeypatch.setenv("FEEDPUB_SMTP_PASSWORD_ENV", HELD_PASSWORD)
    root = make_site(ARTICLES, extra=smtp)
    result = invoke(runner, "--site", root, "check")
    assert_clean_exit(result, 1)
    shown = (
        "feedpub.toml:12" if where == "file" else "environment variable FEEDPUB_SMTP_PASSWORD_ENV"
    )
    assert result.stderr.startswith(
        f"{shown}: error: [smtp] password_env must name an environment variable (letters, "
        "digits, _), not hold the password; move the password into a variable\n"
    )
    assert HELD_PASSWORD not in result.output
    assert "Tr0ub" not in result.output


# aiosmtpd warns when a relay takes a login without TLS; this one does so on purpose.
@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS:UserWarning")
@pytest.mark.parametrize("password", ["pässwörd-1", "naïve€"], ids=["latin", "euro"])
def test_a_password_outside_ascii_is_refused_without_revealing_it(
    runner: CliRunner,
    start_relay: Callable[..., Relay],
    make_site: MakeSite,
    password: str,
) -> None:
    relay = start_relay(auth_required=True, auth_require_tls=False, authenticator=only_password)
    root = smtp_site(
        make_site, relay.port, extra='username = "mailer"\npassword_env = "RELAY_PASSWORD"\n'
    )
    subscribe(root, readers(3))
    make_issue(root)
    result = invoke(
        runner, "--site", root, "-v", "send", "--now", NOW_ARG, env={"RELAY_PASSWORD": password}
    )
    gc.collect()
    assert result.exit_code == 1, result.output
    assert result.stderr == (
        "Error: [smtp] password_env: the password in RELAY_PASSWORD has characters outside "
        "ASCII, which an SMTP login cannot carry; give the account an ASCII password\n"
    )
    for char in {c for c in password if not c.isascii()}:
        assert char not in result.output
    assert "position" not in result.output and "Traceback" not in result.output
    assert relay.handler.count() == 0
    assert set(status_counts(root)) <= {"pending"}


def test_a_username_outside_ascii_is_a_settings_error(
    runner: CliRunner, make_site: MakeSite
) -> None:
    root = make_site(ARTICLES, extra='\n[smtp]\nhost = "relay.example.org"\nusername = "jörg"\n')
    result = invoke(runner, "--site", root, "check")
    assert_clean_exit(result, 1)
    assert result.stderr.startswith(
        "feedpub.toml:11: error: [smtp] username must be ASCII: an SMTP login cannot carry other "
        "characters; use the account's ASCII login name\n"
    )


# -- settings that would exhaust the parser ----------------------------------------------------

HUGE_SETTINGS = {
    "long-integer": ("[feeds]\nlimit = " + "9" * 5000 + "\n", 9, "a number of 5000 digits"),
    "deep-array": ("[x]\ndeep = " + "[" * 100_000 + "]" * 100_000 + "\n", 9, "nested"),
    "deep-table": ("[x]\ndeep = " + "{a = " * 100_000 + "1" + "}" * 100_000 + "\n", 9, "nested"),
}


@pytest.mark.parametrize(("tail", "line", "message"), HUGE_SETTINGS.values(), ids=HUGE_SETTINGS)
def test_settings_that_would_exhaust_the_parser_are_a_clear_error(
    runner: CliRunner, make_site: MakeSite, tail: str, line: int, message: str
) -> None:
    root = make_site(ARTICLES, extra=tail)
    result = invoke(runner, "--site", root, "check")
    assert_clean_exit(result, 1)
    first = result.stderr.splitlines()[0]
    assert first.startswith(f"feedpub.toml:{line}: error: not valid TOML: "), first
    assert message in first
    assert "Error: unexpected" not in result.stderr
    assert "RecursionError" not in result.stderr and "ValueError" not in result.stderr


def test_a_huge_settings_file_is_refused_before_it_is_read(
    runner: CliRunner, make_site: MakeSite
) -> None:
    root = make_site(ARTICLES, extra="# " + "x" * 2_000_000 + "\n")
    result = invoke(runner, "--site", root, "check")
    assert_clean_exit(result, 1)
    assert result.stderr.startswith("feedpub.toml: error: is 2")
    assert "settings over 1000000 bytes are refused" in result.stderr


# -- times out of range ------------------------------------------------------------------------

NOW_COMMANDS = [
    ["check"],
    ["build"],
    ["status"],
    ["run"],
    ["send"],
    ["issue", "new"],
    ["issue", "preview"],
]


@pytest.mark.parametrize("command", NOW_COMMANDS, ids=" ".join)
@pytest.mark.parametrize(
    "moment", ["9999-12-31T23:59", "9999-01-01", "9999-12-31T23:59-05:00", "9998-12-31T13:00-12:00"]
)
def test_a_time_out_of_range_is_a_usage_error(
    runner: CliRunner, make_site: MakeSite, command: list[str], moment: str
) -> None:
    root = make_site(
        ARTICLES, extra='[newsletter]\nname = "W"\nschedule = "weekly"\nday = "friday"\n'
    )
    result = invoke(runner, "--site", root, *command, "--now", moment)
    assert_clean_exit(result, 2)
    assert "Invalid value for '--now': " in result.stderr
    assert "too late" in result.stderr
    assert "OverflowError" not in result.stderr


@pytest.mark.parametrize("command", NOW_COMMANDS, ids=" ".join)
def test_the_last_time_in_range_works(
    runner: CliRunner, make_site: MakeSite, command: list[str]
) -> None:
    # A newsletter check passes: one with a sender (check says an empty from is an error).
    extra = '[newsletter]\nname = "W"\nfrom = "W <w@news.example.org>"\nschedule = "weekly"\n'
    root = make_site(ARTICLES, extra=extra + 'day = "friday"\n')
    result = invoke(runner, "--site", root, *command, "--now", "9998-12-30T23:59")
    assert result.exit_code == 0, result.output


# -- closed standard streams -------------------------------------------------------------------


def run_with_closed_reader(root: Path, *args: str, close: str = "stdout") -> tuple[int, bytes]:
    """feedpub with its standard output (or both outputs) a pipe nobody reads any more, as in
    `feedpub build | head -0`: (exit code, what it wrote to stderr if that stayed open)."""
    out_read, out_write = os.pipe()
    err_read, err_write = os.pipe()
    os.close(out_read)  # the reader is gone before the first line
    if close == "both":
        os.close(err_read)
    try:
        child = subprocess.Popen(
            [str(FEEDPUB), "--site", str(root), *args],
            stdout=out_write,
            stderr=err_write,
            stdin=subprocess.DEVNULL,
        )
    finally:
        os.close(out_write)
        os.close(err_write)
    code = child.wait(timeout=120)
    err = b""
    if close != "both":
        with os.fdopen(err_read, "rb") as stream:
            err = stream.read()
    return code, err


@pytest.mark.parametrize("close", ["stdout", "both"])
def test_a_closed_standard_output_ends_quietly_after_the_work(
    make_site: MakeSite, close: str
) -> None:
    root = make_site(ARTICLES)
    code, err = run_with_closed_reader(root, "build", "--now", NOW_ARG, close=close)
    assert code == 0  # the build's own code: the reader leaving is no failure of it
    assert err == b""  # no traceback, no "unexpected", no "Exception ignored"
    rss = (root / "public" / "rss.xml").read_text(encoding="utf-8")
    assert "<title>Hello</title>" in rss and "<title>Other</title>" in rss


@pytest.mark.parametrize(
    "command",
    [["check", "-v"], ["subscribers", "list"], ["subscribers", "export"], ["--help"]],
    ids=" ".join,
)
def test_every_command_that_prints_stops_quietly_at_a_closed_output(
    make_site: MakeSite, command: list[str]
) -> None:
    root = make_site(ARTICLES)
    code, err = run_with_closed_reader(root, *command)
    assert code == 0
    assert b"Traceback" not in err and b"unexpected" not in err and b"Exception" not in err


def test_a_closed_standard_input_is_a_clear_error(make_site: MakeSite) -> None:
    root = make_site(ARTICLES)
    result = subprocess.run(
        f"{FEEDPUB} --site {root} subscribers import /dev/stdin <&-",
        shell=True,
        capture_output=True,
        check=False,
    )
    assert result.returncode == 1
    assert result.stderr.startswith(b"Error: cannot read /dev/stdin: ")
    assert b"Traceback" not in result.stderr and b"unexpected" not in result.stderr
