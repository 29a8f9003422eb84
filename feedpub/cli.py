"""The command line: a thin click layer over the library. Exit codes: 0 ok, 1 failure, 2 usage."""

from __future__ import annotations

import functools
import json
import os
import sys
import traceback
from collections.abc import Callable, Iterable
from contextlib import suppress
from datetime import UTC, datetime, tzinfo
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO, TypeVar, cast

import click

from feedpub import __version__, config
from feedpub.dates import for_people, parse_date
from feedpub.delivery.imports import import_text, read_import
from feedpub.delivery.subscribers import Subscribers, export_csv
from feedpub.errors import (
    ArticleError,
    ConfigError,
    FeedpubError,
    ImportFormatError,
    LockBusy,
    NotResubscribed,
    Problem,
    StateBusy,
)
from feedpub.lock import SiteLock
from feedpub.private import write_private
from feedpub.site import build as build_module
from feedpub.site import websub
from feedpub.site.form import snippet as form_snippet
from feedpub.store.state import State
from feedpub.store.subscribers import STATUSES
from feedpub.text import normalize_newlines, plural, xml_safe

if TYPE_CHECKING:
    from feedpub.delivery.inbox import InboxReport
    from feedpub.delivery.sending import SendReport
    from feedpub.newsletter.checks import Finding
    from feedpub.run import WhatIf

# The newsletter, delivery and scaffold modules are imported inside the commands that use
# them: premailer, feedgen and the mail modules take longer to import than a build with
# nothing to do takes to run.

F = TypeVar("F", bound=Callable[..., Any])
MAX_NOTE_BYTES = 100_000
MAX_NOW_YEAR = 9998
# A forgotten subscriber is a tombstone, no longer anyone: not listed, not a status to pick.
LISTED_STATUSES = tuple(s for s in STATUSES if s != "forgotten")


class Options:
    def __init__(self, site_dir: Path, quiet: bool, verbose: bool) -> None:
        self.site_dir = site_dir
        self.quiet = quiet
        self.verbose = verbose

    def site(self) -> config.Site:
        return config.load(self.site_dir)

    def say(self, message: str) -> None:
        if not self.quiet:
            click.echo(message)


def _shown(path: Path) -> Path:
    """``path`` as a person in the current folder would type it."""
    here = Path.cwd()
    return path.relative_to(here) if path.is_relative_to(here) else path


def _moment(stamp: str | None, tz: tzinfo, none: str = "unknown") -> str:
    """A moment the state holds (ISO 8601), as every message shows one to people; ``none``
    for none, and a stamp that is no moment (an old import's) as it is."""
    if not stamp:
        return none
    try:
        return for_people(datetime.fromisoformat(stamp), tz)
    except ValueError:
        return stamp


def _problems(problems: list[Problem], quiet: bool = False) -> None:
    for problem in problems:
        if problem.severity == "error" or not quiet:
            click.echo(str(problem), err=True)


def _build_problems(report: build_module.BuildReport, quiet: bool) -> None:
    """The problems of the files that changed; the warnings of the others, told by an earlier
    build, as one line (a cron job would otherwise repeat them on every run)."""
    _problems(report.news, quiet)
    told = report.warned_before
    if told and not quiet:
        files = "1 unchanged file has" if told == 1 else f"{told:,} unchanged files have"
        click.echo(f"{files} warnings; `feedpub check` lists them", err=True)


class TryLater(click.ClickException):
    """A condition that may pass: another command holds the site or its state database, or
    the relay is throttling or absent. EX_TEMPFAIL, so cron wrappers know to try later; a
    permanent failure (a wrong password) exits 1."""

    exit_code = 75


def _send_error(send: SendReport, prefix: str = "") -> click.ClickException:
    assert send.error is not None
    kind = TryLater if send.temporary else click.ClickException
    return kind(prefix + send.error)


def _check_reached(sends: list[SendReport]) -> None:
    """An issue that reached no one is a failure for cron to see, though nothing is left."""
    for send in sends:
        if send.reached_no_one:
            raise click.ClickException(
                f"issue {send.issue} reached no one: the relay refused every recipient (the "
                "replies are above); check the addresses, or the relay if it refuses them all"
            )


def reports_errors(command: F) -> F:
    """Turn feedpub's errors into click's: message on stderr, exit 1; bugs get a short note."""

    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        options = click.get_current_context().find_object(Options)
        try:
            return command(*args, **kwargs)
        except (ConfigError, ArticleError) as exc:
            _problems(exc.problems)
            errors = sum(p.severity == "error" for p in exc.problems)
            what = "settings" if isinstance(exc, ConfigError) else "articles"
            tail = ""
            if isinstance(exc, ArticleError):
                tail = "; nothing was written"
                if click.get_current_context().command.name == "build":
                    tail += " (fix them, or use --keep-going)"
            raise click.ClickException(f"{plural(errors, 'error')} in the {what}{tail}") from None
        except (LockBusy, StateBusy) as exc:
            raise TryLater(str(exc)) from None
        except FeedpubError as exc:
            raise click.ClickException(str(exc)) from None
        except (click.ClickException, click.exceptions.Exit, click.Abort):
            raise
        except BrokenPipeError:
            # Not a bug: a closed pipe on a stream Commands.main could not guard (no file
            # descriptor); click ends quietly.
            raise
        except Exception as exc:
            if options is not None and options.verbose:
                traceback.print_exc()
            raise click.ClickException(
                f"unexpected {type(exc).__name__}: {exc} (a bug in feedpub; -v shows the traceback)"
            ) from None

    return wrapper  # type: ignore[return-value]


def _check_now(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    """Checked here, so a bad time is a usage error (exit 2); read in the site's zone later."""
    if value is not None:
        try:
            moment = parse_date(value, UTC)
            # A year of room: schedules step a week on, retries hours, zones a day.
            if max(moment.year, moment.astimezone(UTC).year) > MAX_NOW_YEAR:
                raise OverflowError
        except ValueError as exc:
            raise click.BadParameter(str(exc), ctx, param) from None
        except OverflowError:
            raise click.BadParameter(
                f"{value} is too late: use a time before the year {MAX_NOW_YEAR + 1}", ctx, param
            ) from None
    return value


def now_option(command: F) -> F:
    return click.option(
        "--now",
        "now",
        metavar="ISO-TIME",
        default=None,
        callback=_check_now,
        help="Act as if it were this time (ISO 8601; without a zone, the site's timezone).",
    )(command)


def resolve_now(site: config.Site, raw: str | None) -> datetime:
    if raw is None:
        return datetime.now(site.tz)
    return parse_date(raw, site.tz)


class _ReaderMayLeave:
    """Standard output or error whose reader may stop reading (`feedpub status | head -1`).

    Once the pipe breaks, the rest of the output goes to /dev/null: the command finishes its
    work and exits with the code it would have had, rather than stopping halfway (after `issue
    new` recorded the issue, before it said so) with a BrokenPipeError. Any other failure to
    write (a full disk under `> file`) is an error that says so, not a bug's traceback."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream

    def write(self, text: str) -> int:
        try:
            return self.stream.write(text)
        except BrokenPipeError:
            self._drop_the_rest()
            return len(text)
        except OSError as exc:
            raise self._failed(exc) from None

    def writelines(self, lines: Iterable[str]) -> None:
        for line in lines:
            self.write(line)

    def flush(self) -> None:
        try:
            self.stream.flush()
        except BrokenPipeError:
            self._drop_the_rest()
        except OSError as exc:
            raise self._failed(exc) from None

    def _failed(self, exc: OSError) -> click.ClickException:
        name = "standard error" if self.stream is sys.__stderr__ else "standard output"
        return click.ClickException(f"cannot write to {name}: {exc.strerror or exc}")

    def _drop_the_rest(self) -> None:
        # The descriptor itself is pointed at /dev/null, so the bytes still buffered, every
        # later write and the interpreter's last flush at exit land there without an error.
        devnull = os.open(os.devnull, os.O_WRONLY)
        try:
            os.dup2(devnull, self.stream.fileno())
        finally:
            os.close(devnull)
        self.stream.flush()

    def __getattr__(self, name: str) -> Any:
        return getattr(self.stream, name)


def _reader_may_leave(stream: TextIO | None) -> TextIO | None:
    """``stream`` guarded by _ReaderMayLeave if it is a file descriptor (not a test's buffer,
    nor None: a stream closed before feedpub started)."""
    if stream is None:
        return None
    try:
        stream.fileno()
    except (OSError, ValueError, AttributeError):
        return stream
    return cast(TextIO, _ReaderMayLeave(stream))


def _summary(text: str, room: int | None = None) -> str:
    """The first sentence of a help text, whole; one longer than ``room`` gives its first
    clause (up to a ';', ':' or '(') as the sentence, if that fits."""
    words = text.split("\f", 1)[0].split("\n\n", 1)[0].split()
    ends = [i for i, word in enumerate(words) if word.endswith(".")]
    sentence = " ".join(words[: ends[0] + 1] if ends else words)
    if room is None or len(sentence) <= room:
        return sentence
    cuts = [at for at in map(sentence.find, ("; ", ": ", " (")) if at > 0]
    clause = sentence[: min(cuts)].rstrip(",") + "." if cuts else sentence
    return clause if len(clause) <= room and " " in clause else sentence


class Commands(click.Group):
    """feedpub and its groups of commands (`issue`, `subscribers`): a closed output pipe is
    quiet, and the list of commands gives each one's summary as a whole sentence."""

    group_class = type  # `@main.group()` makes a Commands too

    def main(self, *args: Any, **kwargs: Any) -> Any:
        streams = sys.stdout, sys.stderr
        sys.stdout, sys.stderr = _reader_may_leave(sys.stdout), _reader_may_leave(sys.stderr)
        try:
            return super().main(*args, **kwargs)
        finally:
            for stream in (sys.stdout, sys.stderr):
                # click.echo flushes each time: a failure to write was said (or could not be).
                with suppress(click.ClickException, OSError, ValueError):
                    if stream is not None:
                        stream.flush()
            sys.stdout, sys.stderr = streams

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        # click cuts a summary at the width left, mid-word ("Publish the feeds into the..."):
        # a command's short_help, else its help's first sentence or first clause (_summary),
        # is given whole, wrapped if nothing shorter fits.
        found = [(name, self.get_command(ctx, name)) for name in self.list_commands(ctx)]
        shown = [(name, command) for name, command in found if command and not command.hidden]
        if not shown:
            return
        # write_dl's room: the width less the indent, the names' column and its spacing.
        room = formatter.width - min(max(len(name) for name, _ in shown), 30) - 4
        rows = [
            (name, command.short_help or _summary(command.help or "", room))
            for name, command in shown
        ]
        with formatter.section("Commands"):
            formatter.write_dl(rows)


@click.group(cls=Commands, context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--site",
    "site_dir",
    envvar="FEEDPUB_SITE",
    default=".",
    show_default=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="The site folder (also FEEDPUB_SITE).",
)
@click.option("-q", "--quiet", is_flag=True, help="Print only errors.")
@click.option(
    "-v", "--verbose", is_flag=True, help="Print more: inferred metadata, tracebacks of bugs."
)
@click.version_option(__version__, prog_name="feedpub")
@click.pass_context
def main(ctx: click.Context, site_dir: Path, quiet: bool, verbose: bool) -> None:
    """feedpub publishes a folder of articles as RSS, Atom and JSON feeds and a web archive."""
    if quiet and verbose:
        raise click.UsageError("--quiet and --verbose cannot be used together")
    ctx.obj = Options(site_dir, quiet, verbose)


pass_options = click.make_pass_decorator(Options)


def _set_flag(name: str) -> Callable[[click.Context, click.Parameter, bool], None]:
    def callback(ctx: click.Context, param: click.Parameter, value: bool) -> None:
        if value:
            options = ctx.find_object(Options)
            if options is not None:
                setattr(options, name, True)
                if options.quiet and options.verbose:
                    raise click.UsageError("--quiet and --verbose cannot be used together")

    return callback


def verbosity(command: F) -> F:
    """-q and -v also after the command's name: `feedpub check -v` as well as `feedpub -v check`."""
    command = click.option(
        "-v",
        "--verbose",
        is_flag=True,
        expose_value=False,
        callback=_set_flag("verbose"),
        help="Print more.",
    )(command)
    command = click.option(
        "-q",
        "--quiet",
        is_flag=True,
        expose_value=False,
        callback=_set_flag("quiet"),
        help="Print only errors.",
    )(command)
    return command


def _site_setting(key: str) -> Callable[[click.Context, click.Parameter, str | None], str | None]:
    """A callback checking an option as feedpub.toml's [site] ``key`` is checked (exit 2)."""

    def check(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
        from feedpub import scaffold

        if value is None:
            return None
        try:
            return scaffold.checked_setting("site", key, value)
        except ValueError as exc:
            raise click.BadParameter(str(exc)) from None

    return check


@main.command()
@click.argument("folder", type=click.Path(path_type=Path))
@click.option(
    "--url",
    metavar="URL",
    callback=_site_setting("url"),
    help="Where public/ will be served, for [site] url (default: a placeholder to change).",
)
@click.option(
    "--timezone",
    metavar="ZONE",
    callback=_site_setting("timezone"),
    help="An IANA zone such as America/Los_Angeles, for [site] timezone (default: UTC).",
)
@verbosity
@pass_options
@reports_errors
def init(options: Options, folder: Path, url: str | None, timezone: str | None) -> None:
    """Start a new site in FOLDER: settings, a welcome article, a .gitignore."""
    from feedpub import scaffold

    written = scaffold.init(folder, datetime.now(UTC), url, timezone)
    for path in written:
        options.say(f"created {path}")
    options.say(f"Next: edit {written[0]}, then run: feedpub --site {folder} build")


@main.command()
@click.argument("title")
@click.option("--tag", "tags", multiple=True, help="A tag for the article (repeatable).")
@click.option("--author", help="The article's author (default: the site's author).")
@verbosity
@pass_options
@reports_errors
def new(options: Options, title: str, tags: tuple[str, ...], author: str | None) -> None:
    """Start an article titled TITLE: writes content/YYYY-MM-DD-<slug>.md as a draft."""
    from feedpub import scaffold

    site = options.site()
    path = scaffold.new_article(site, title, datetime.now(site.tz), tags, author)
    click.echo(path.relative_to(site.root).as_posix() if path.is_relative_to(site.root) else path)


@main.command()
@click.option("--strict", is_flag=True, help="Fail on warnings too.")
@now_option
@verbosity
@pass_options
@reports_errors
def check(options: Options, strict: bool, now: str | None) -> None:
    """Validate the settings and every article; print each problem with its file and line."""
    site = options.site()
    catalog = build_module.check(site, resolve_now(site, now))
    if site.has_newsletter:
        # What fails only when mail goes out (the sender, the relay, the environment).
        from feedpub.delivery.preflight import send_problems

        catalog.problems[len(site.warnings) : len(site.warnings)] = send_problems(site)
    _problems(catalog.problems, options.quiet)
    if options.verbose:
        everything = catalog.articles + catalog.scheduled + catalog.drafts
        for article in sorted(everything, key=lambda a: a.relpath):
            if article.body_format == "text":
                click.echo(
                    f"{article.relpath}: title {article.title!r}, "
                    f"date {for_people(article.date, site.tz)}, "
                    f"authors {', '.join(article.authors) or '(none)'}"
                )
                for note in article.inferred:
                    click.echo(f"{article.relpath}:   {note}")
    errors = sum(p.severity == "error" for p in catalog.problems)
    warnings = len(catalog.problems) - errors
    options.say(
        f"Checked {plural(catalog.files, 'file')}: {len(catalog.articles)} published, "
        f"{len(catalog.scheduled)} scheduled, {plural(len(catalog.drafts), 'draft')}; "
        f"{plural(errors, 'error')}, {plural(warnings, 'warning')}"
    )
    if errors or (strict and warnings):
        sys.exit(1)


@main.command()
@click.option(
    "--keep-going",
    is_flag=True,
    help="Publish the valid articles even when others have errors (still exits 1).",
)
@now_option
@verbosity
@pass_options
@reports_errors
def build(options: Options, keep_going: bool, now: str | None) -> None:
    """Publish the feeds and the web archive in the output folder."""
    site = options.site()
    with SiteLock(site.state_dir, "build"):
        report = build_module.build(site, resolve_now(site, now), keep_going)
        pings = _ping_hub(site)
    _build_problems(report, options.quiet)
    _say_pings(options, pings)
    options.say(
        f"Built {plural(report.articles, 'article')} "
        f"({report.scheduled} scheduled, {plural(report.drafts, 'draft')}): "
        f"{report.feeds} feeds, {report.written} files written, {report.unchanged} unchanged, "
        f"{report.removed} removed in {report.seconds:.2f} s"
    )
    output = site.output_dir
    shown = _shown(output)
    options.say(
        f"Feeds: {shown}/rss.xml, {shown}/atom.xml, {shown}/feed.json "
        f"(readers subscribe to {report.feed_urls[0]})"
    )
    if report.failed:
        errors = sum(p.severity == "error" for p in report.problems)
        raise click.ClickException(
            f"{plural(errors, 'article error')}; published the valid articles only"
        )


def _ping_hub(site: config.Site) -> websub.PingReport | None:
    """Tell the WebSub hub of the feeds a build changed (and of those an earlier one could not)."""
    if not site.feeds.websub_hub:
        return None  # a build without a hub opens the state no more than it did
    with State.open(site.state_dir) as state:
        return websub.ping(site, state)


def _say_pings(options: Options, pings: websub.PingReport | None) -> None:
    """A hub that took the pings, said; one that did not, a warning (never a failure: the
    pings wait in the state for the next build or run), under -q once it has refused a few
    times running."""
    if pings is None:
        return
    if pings.sent:
        options.say(f"Told the WebSub hub of {plural(len(pings.sent), 'changed feed')}")
    if pings.warning is not None and (not options.quiet or pings.urgent):
        click.echo(f"warning: {pings.warning}", err=True)


@main.command("subscribe-form")
@verbosity
@pass_options
@reports_errors
def subscribe_form(options: Options) -> None:
    """Print the sign-up form as HTML to paste into any page: it posts to the web app."""
    click.echo(form_snippet(options.site()), nl=False)


def _warn(messages: list[str] | tuple[str, ...], options: Options) -> None:
    if not options.quiet:
        for text in messages:
            click.echo(f"warning: {text}", err=True)


def _findings(findings: list[Finding], options: Options) -> None:
    """The pre-send checks' findings on stderr, each with its fix; -q leaves the errors."""
    for found in findings:
        if found.level == "error" or not options.quiet:
            click.echo(found.explained(), err=True)


def _read_note(path: Path | None) -> str:
    if path is None:
        return ""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise click.BadParameter(
            f"cannot read {path}: {exc.strerror}", param_hint="--note"
        ) from None
    if len(data) > MAX_NOTE_BYTES:
        raise click.BadParameter(
            f"{path} is {len(data)} bytes; an editor's note must stay under {MAX_NOTE_BYTES}",
            param_hint="--note",
        )
    try:
        return xml_safe(normalize_newlines(data.decode("utf-8-sig")))
    except UnicodeDecodeError:
        raise click.BadParameter(
            f"{path} is not UTF-8; save it as UTF-8", param_hint="--note"
        ) from None


@main.group()
def issue() -> None:
    """Compose, preview, review, send and list newsletter issues."""


@issue.command("new")
@click.option(
    "--note",
    type=click.Path(dir_okay=False, path_type=Path),
    help="A Markdown file: an editor's note shown above the articles.",
)
@click.option(
    "--send-at",
    "send_at",
    metavar="ISO-TIME",
    default=None,
    callback=_check_now,
    help="Hold the issue until this time (ISO 8601; without a zone, the site's timezone): "
    "no run sends it before.",
)
@click.option("--dry-run", is_flag=True, help="Say what would be made; record nothing.")
@now_option
@verbosity
@pass_options
@reports_errors
def issue_new(
    options: Options, note: Path | None, send_at: str | None, dry_run: bool, now: str | None
) -> None:
    """Compose the next issue from the articles no earlier issue carried, and record it."""
    from feedpub.newsletter.checks import errors
    from feedpub.run import issue_new as make_issue
    from feedpub.run import what_if

    text = _read_note(note)
    site = options.site()
    moment = resolve_now(site, now)
    hold = None if send_at is None else resolve_now(site, send_at)
    if hold is not None and hold <= moment:
        raise click.BadParameter(
            f"{send_at} ({for_people(hold, site.tz)}) is not later than now "
            f"({for_people(moment, site.tz)}); give a later time, or leave --send-at out to "
            "send at the next run",
            param_hint="--send-at",
        )
    if dry_run:
        _say_what_if(options, site, what_if(site, moment, False, text, hold))
        return
    made = make_issue(site, moment, text, hold)
    draft = made.draft
    if draft is None:
        since = f" since issue {made.last}" if made.last else ""
        options.say(f"Nothing new{since}: no issue created")
        return
    _warn(draft.digest.warnings, options)
    _findings(made.findings, options)
    waiting = f"; {draft.waiting} more wait for the next issue" if draft.waiting else ""
    options.say(
        f"Created issue {draft.number} with {plural(len(draft.articles), 'article')}"
        f"{waiting}: {draft.digest.subject}"
    )
    options.say(f"Web version: {site.output_dir / 'issues' / str(draft.number) / 'index.html'}")
    if site.newsletter.review:
        options.say(
            f"It waits for approval: the next run sends the review copy to "
            f"{plural(len(site.newsletter.reviewers), 'reviewer')}"
        )
    # With review on, the approval decides (the review copy lists the errors).
    if not site.newsletter.review and errors(made.findings):
        click.echo(
            f"run and send will not send issue {draft.number} until the errors are fixed "
            f"(or 'feedpub send {draft.number} --force')",
            err=True,
        )
    if hold is not None:
        options.say(f"Scheduled: no run sends it before {for_people(hold, site.tz)}")


@issue.command("preview")
@click.argument("number", type=click.IntRange(min=1), required=False)
@click.option("--open", "open_browser", is_flag=True, help="Open the HTML in a web browser.")
@click.option(
    "--note",
    type=click.Path(dir_okay=False, path_type=Path),
    help="A Markdown file: the editor's note to show with it (recorded nowhere).",
)
@click.option("--subject", help="The subject line to show instead of [newsletter] subject's.")
@now_option
@verbosity
@pass_options
@reports_errors
def issue_preview(
    options: Options,
    number: int | None,
    open_browser: bool,
    note: Path | None,
    subject: str | None,
    now: str | None,
) -> None:
    """Render the next issue (or issue NUMBER) into .feedpub/preview/ without recording it;
    with --note and --subject, as it would be with them."""
    from feedpub.newsletter.issues import rerender
    from feedpub.run import issue_findings, next_issue, write_preview

    text = _read_note(note) if note is not None else None
    site = options.site()
    moment = resolve_now(site, now)
    with State.open(site.state_dir) as state:
        if number is not None:
            record = state.issues.get(number)
            warnings: tuple[str, ...] = ()
            left = None
            if text is not None or subject is not None:
                record, warnings = rerender(site, record, subject, text)
        else:
            preview = next_issue(site, state, moment, text or "", subject)
            if preview is None:
                options.say("Nothing new: the next issue would be empty")
                return
            record, warnings, left = preview
        findings = issue_findings(site, record, left)
    paths = write_preview(site, record, moment)
    _warn(warnings, options)
    _findings(findings, options)
    for path in paths:
        click.echo(path)
    if open_browser:
        click.launch(str(paths[0]))


@issue.command("list")
@verbosity
@pass_options
@reports_errors
def issue_list(options: Options) -> None:
    """List the issues: number, date, status, articles, deliveries, bounces, complaints."""
    from feedpub.newsletter import figures
    from feedpub.newsletter.issues import state_of

    site = options.site()
    with State.open(site.state_dir, create=False) as state:
        records = state.issues.all()
    if not records:
        options.say("No issues yet")
        return
    with State.open(site.state_dir, create=False) as state:
        rows = {r.number: state.issues.counts(r.number) for r in records}
        returns = {r.number: figures.columns(state.events.figures(r.number)) for r in records}
    moment = datetime.now(site.tz)
    click.echo(
        f"{'#':>4}  {'created':16}  {'status':9}  {'articles':>8}  {'deliveries':>10}  "
        f"{'failed':>6}  {'bounced':>7}  {'spam':>4}  subject"
    )
    for record in records:
        created = datetime.fromisoformat(record.created).astimezone(site.tz)
        counts = rows[record.number]
        total, sent = sum(counts.values()), counts.get("sent", 0)
        status = state_of(record, counts, moment).word
        click.echo(
            f"{record.number:>4}  {created:%Y-%m-%d %H:%M}  {status:9}  "
            f"{len(record.items):>8}  {f'{sent}/{total}':>10}  {counts.get('failed', 0):>6}  "
            f"{returns[record.number][0]:>7}  {returns[record.number][1]:>4}  {record.subject}"
        )


@issue.command("show")
@click.argument("number", type=click.IntRange(min=1))
@verbosity
@pass_options
@reports_errors
def issue_show(options: Options, number: int) -> None:
    """Show issue NUMBER: subject, status, its figures, each article's title and id, its
    copies, and who bounced it or complained."""
    from feedpub.newsletter import figures
    from feedpub.newsletter.issues import state_of

    site = options.site()
    with State.open(site.state_dir, create=False) as state:
        record = state.issues.get(number)
        copies = state.deliveries.copies(number)
        report = figures.report(state, record)
        flagged = state.events.flagged(number)
        standing = state_of(record, state.issues.counts(number), datetime.now(site.tz))
    warned = figures.rate_warnings(report, flagged)
    created = datetime.fromisoformat(record.created).astimezone(site.tz)
    click.echo(f"Issue {record.number}: {record.subject}")
    finished = (
        f"; finished {_moment(record.sent, site.tz)}"
        if record.sent
        else ""
    )
    click.echo(f"Created {for_people(created, site.tz)}; status {standing}{finished}")
    if report.figures.sent:
        click.echo(f"Figures: {figures.summary(report.figures)}")
    for position, item in enumerate(record.items, start=1):
        click.echo(f"{position:>3}. {item.title}  [{item.article_id}]")
    if copies:
        from feedpub.newsletter.topics import copies_lines

        click.echo("Copies sent (by the articles each carries):")
        for line in copies_lines(record, copies):
            click.echo(line)
    for line in figures.flagged_lines(flagged):
        click.echo(line)
    _warn([found.message for found in warned], options)


@issue.command("discard")
@click.argument("number", type=click.IntRange(min=1))
@verbosity
@pass_options
@reports_errors
def issue_discard(options: Options, number: int) -> None:
    """Discard issue NUMBER if nothing was sent for it; its articles wait again."""
    from feedpub.newsletter import issues as issues_module

    site = options.site()
    with SiteLock(site.state_dir, "issue discard"), State.open(site.state_dir) as state:
        record = issues_module.discard(state, number)
    options.say(
        f"Discarded issue {number}; its {plural(len(record.items), 'article')} "
        "will go into the next issue"
    )


@issue.command("approve")
@click.argument("number", type=click.IntRange(min=1))
@verbosity
@pass_options
@reports_errors
def issue_approve(options: Options, number: int) -> None:
    """Approve issue NUMBER after its review: the next run sends it to the readers."""
    from feedpub.newsletter.issues import approve

    site = options.site()
    with SiteLock(site.state_dir, "issue approve"), State.open(site.state_dir) as state:
        record, before = approve(state, number, datetime.now(site.tz))
    if before == "approved":
        options.say(f"Issue {number} was approved already; the next run sends it")
        return
    held = (
        f" once {_moment(record.send_at, site.tz)} has come"
        if record.send_at
        else ""
    )
    options.say(f"Approved issue {number}: the next run sends it{held}")


@issue.command("send")
@click.argument("number", type=click.IntRange(min=1))
@now_option
@verbosity
@pass_options
@reports_errors
def issue_send(options: Options, number: int, now: str | None) -> None:
    """Approve issue NUMBER and send it now, as 'feedpub send NUMBER' does."""
    from feedpub.newsletter.issues import approve

    site = options.site()
    moment = resolve_now(site, now)

    def approved() -> None:
        with State.open(site.state_dir) as state:
            _, before = approve(state, number, moment)
        if before == "waiting":
            options.say(f"Approved issue {number}")

    _send_under_lock(options, site, number, moment, "issue send", approved)


def _send_under_lock(
    options: Options,
    site: config.Site,
    number: int,
    moment: datetime,
    holder: str,
    first: Callable[[], None],
) -> None:
    """Send issue ``number`` under the site lock, ``first`` done under it before (an approval,
    the pre-send checks' refusal), and say how it went: ``send`` and ``issue send``."""
    from feedpub.delivery import sending as delivery
    from feedpub.newsletter.topics import TopicEditions

    advance, begin = _progress(options)
    with SiteLock(site.state_dir, holder):
        first()
        editions = TopicEditions(site)
        report = delivery.send_issue(site, number, moment, advance, begin, editions=editions)
    _say_send(options, report, site.tz)
    if report.error:
        raise _send_error(report)
    _check_reached([report])


@issue.command("edit")
@click.argument("number", type=click.IntRange(min=1))
@click.option("--subject", help="The new subject line.")
@click.option(
    "--note",
    type=click.Path(dir_okay=False, path_type=Path),
    help="A Markdown file: the new editor's note (an empty file removes the note).",
)
@now_option
@verbosity
@pass_options
@reports_errors
def issue_edit(
    options: Options, number: int, subject: str | None, note: Path | None, now: str | None
) -> None:
    """Change the subject or the note of issue NUMBER, if nothing was sent for it."""
    from feedpub.run import issue_edit as edit_issue

    if subject is None and note is None:
        raise click.UsageError("give --subject TEXT, --note FILE, or both")
    text = _read_note(note) if note is not None else None
    site = options.site()
    edited = edit_issue(site, resolve_now(site, now), number, subject, text)
    _warn(edited.warnings, options)
    _findings(edited.findings, options)
    options.say(f"Changed issue {number}: {edited.record.subject}")
    if edited.record.review == "waiting":
        options.say(
            "It waits for approval again: the next run sends the reviewers a new review copy"
        )


@main.command()
@click.option("--json", "as_json", is_flag=True, help="Print the status as JSON.")
@now_option
@verbosity
@pass_options
@reports_errors
def status(options: Options, as_json: bool, now: str | None) -> None:
    """Articles published, scheduled and waiting; the last issue; when the next is due."""
    from feedpub.newsletter import status as status_module

    site = options.site()
    moment = resolve_now(site, now)
    with State.open(site.state_dir, create=False) as state:
        catalog = build_module.check(site, moment, state)
        info = status_module.status(site, state, catalog, moment)
    if as_json:
        click.echo(json.dumps(info, indent=2, ensure_ascii=False))
        return
    for line in status_module.lines(status_module.in_zone(info, site.tz)):
        options.say(line)  # -q: nothing but errors, as everywhere (run tells the warnings)
    _warn([found["message"] for found in info["warnings"]], options)


@main.command()
@click.option(
    "--dry-run",
    is_flag=True,
    help="Say what the run would do (build, issue, who gets it); record, build and send nothing.",
)
@now_option
@verbosity
@pass_options
@reports_errors
def run(options: Options, dry_run: bool, now: str | None) -> None:
    """The cron entry point: build, compose the issue that is due, hand it over for delivery."""
    from feedpub import run as run_module

    site = options.site()
    if dry_run:
        _say_what_if(options, site, run_module.what_if(site, resolve_now(site, now)))
        return
    report = run_module.run(site, resolve_now(site, now))
    _warn(report.warnings, options)
    if report.inbox is not None:
        _say_inbox(options, report.inbox)
    if report.inbox_error is not None:
        click.echo(f"warning: the inbox was not read: {report.inbox_error}", err=True)
    if report.build is not None:
        _build_problems(report.build, options.quiet)
        options.say(
            f"Built {plural(report.build.articles, 'article')}: "
            f"{plural(report.build.written, 'file')} written"
        )
    _say_pings(options, report.pings)
    if report.created is not None:
        options.say(f"Created issue {report.created}")
    for note in report.notes:
        options.say(note)
    failed = [send for send in report.sends if send.error]
    for send in report.sends:
        _say_send(options, send, site.tz)
    # Even with -q: each is said once, by the run that finds it (a cron job's -q would
    # otherwise hide it for good), and it needs someone to act.
    for found in report.rate_warnings:
        click.echo(f"warning: {found.message}", err=True)
    mail = report.mail
    if mail is not None and (mail.sent or mail.deferred or mail.failed):
        options.say(
            f"Sent {plural(mail.sent, 'email')} owed to readers (confirmations, welcomes): "
            f"{mail.deferred} deferred, {mail.failed} failed"
        )
    # After what did go out; each refusal in full, the last as the run's error (exit 1).
    for refused in report.refused if failed else report.refused[:-1]:
        click.echo(f"Error: {refused}", err=True)
    if failed:
        raise _send_error(failed[0], f"issue {failed[0].issue}: ")
    if report.refused:
        raise click.ClickException(str(report.refused[-1]))
    if mail is not None and mail.error:
        kind = TryLater if mail.temporary else click.ClickException
        raise kind(f"the emails owed to readers: {mail.error}")
    if report.review_error is not None:
        raise click.ClickException(f"the review copy: {report.review_error}")
    _check_reached(report.sends)
    if report.inbox_error is not None:
        kind = TryLater if report.inbox_error.temporary else click.ClickException
        raise kind(f"the inbox: {report.inbox_error}")


def _say_what_if(options: Options, site: config.Site, found: WhatIf) -> None:
    """A what-if's findings, each line saying "would": nothing was done."""
    made = found.made
    options.say("Dry run: nothing was recorded, built or sent.")
    build, output = made.build, found.output
    if build is not None and output is not None:
        _build_problems(build, options.quiet)
        options.say(
            f"Build: {plural(build.articles, 'article')}; would write "
            f"{plural(output.added, 'new file')}, change {output.changed} and remove "
            f"{output.removed} in {site.output_dir}"
        )
    draft = made.draft
    if draft is not None:
        _warn(draft.digest.warnings, options)
        waiting = f"; {draft.waiting} more would wait for the next issue" if draft.waiting else ""
        options.say(
            f"Would create issue {draft.number} with {plural(len(draft.articles), 'article')}"
            f"{waiting}: {draft.digest.subject}"
        )
        for article in draft.articles:
            options.say(f"  {article.title} ({for_people(article.date, site.tz)})")
    elif made.refused is None and (made.last is not None or not made.notes):
        since = f" since issue {made.last}" if made.last else ""
        options.say(f"Nothing new{since}: no issue would be created")
    for note in made.notes:
        options.say(note)
    if found.mail_owed:
        options.say(f"Would first send {plural(found.mail_owed, 'email')} owed to readers")
    if found.inbox:
        options.say("Would read the inbox (bounces, complaints, unsubscribes)")
    for held in found.held:
        options.say(f"Would not send: {held}")
    for refused in found.refused:
        # What the run itself would print as its error, said as what it would do.
        click.echo(f"Would not send: {refused}", err=True)
    for send in found.sends:
        skipped = f"; {send.skipped} skipped (paused, or nothing of their topics)"
        # An issue made by issue new that waits (for its review or its send_at) is said as
        # such: no run would send it yet.
        reach = "once it goes out, it would reach" if send.waits else "would send to"
        options.say(
            f"Issue {send.number} is {send.state}: {reach} "
            f"{plural(send.to_send, 'subscriber')}; {send.done} already done, "
            f"{send.deferred} deferred until later" + (skipped if send.skipped else "")
        )
    if found.sends:
        options.say(
            "Would send to: "
            + (
                f"the relay {site.smtp.host}:{site.smtp.real_port}"
                if site.has_smtp
                else f"the outbox folder {site.state_dir / 'outbox'}/"
            )
        )


def _issue_held(state: State, number: int, now: datetime, site: config.Site) -> str:
    from feedpub.newsletter.issues import state_of

    standing = state_of(state.issues.get(number), state.issues.counts(number), now, site.tz)
    return f"issue {number} is {standing}"


def _say_send(options: Options, send: SendReport, tz: tzinfo) -> None:
    if send.error and not send.started:
        return  # the relay was never reached: the error says it all
    options.say(
        f"Issue {send.issue}: {send.sent} sent, {send.deferred} deferred, {send.failed} failed, "
        f"{send.skipped} skipped of {plural(send.recipients, 'recipient')} in "
        f"{send.seconds:.1f} s ({send.rate:.0f} messages/s); {send.outcome}"
        + (f"; the next try is at {_moment(send.next_try, tz)}" if send.next_try else "")
    )
    for address, reply in send.failures:
        options.say(f"  failed: {address}: {reply}")


def _progress(options: Options) -> tuple[Callable[[int], None] | None, Callable[[int], None]]:
    """A progress bar on a terminal, nothing otherwise: (advance, begin)."""
    bar: list[Any] = []

    def begin(total: int) -> None:
        if options.quiet or not sys.stdout.isatty() or not total:
            return
        bar.append(click.progressbar(length=total, label="Sending", file=sys.stdout))
        bar[0].__enter__()

    def advance(count: int) -> None:
        if bar:
            bar[0].update(count)

    return advance, begin


@main.command()
@click.argument("number", type=click.IntRange(min=1), required=False)
@click.option("--dry-run", is_flag=True, help="Report what would be sent; send nothing.")
@click.option(
    "--test",
    "test_addresses",
    metavar="ADDRESS",
    multiple=True,
    help="Send a test copy to ADDRESS (again, or commas, for more); record nothing. Without "
    "an unfinished issue: the next one, composed for the test only.",
)
@click.option(
    "--force", is_flag=True, help="Send even if the pre-send checks find errors in the issue."
)
@now_option
@verbosity
@pass_options
@reports_errors
def send(
    options: Options,
    number: int | None,
    dry_run: bool,
    test_addresses: tuple[str, ...],
    force: bool,
    now: str | None,
) -> None:
    """Send issue NUMBER (default: the unfinished one) to every active subscriber."""
    from feedpub.delivery import sending as delivery
    from feedpub.newsletter.issues import sendable, state_of
    from feedpub.newsletter.topics import TopicEditions

    site = options.site()
    moment = resolve_now(site, now)
    tests = [part.strip() for given in test_addresses for part in given.split(",") if part.strip()]
    if test_addresses and not tests:
        raise click.BadParameter("give an address", param_hint="--test")
    if tests and not dry_run:
        _send_tests(options, site, number, tests, moment)
        return
    with State.open(site.state_dir) as state:
        if number is None:
            open_issues = delivery.unfinished(state)
            # An issue held until its send_at (or its review) is started by no send without
            # its number.
            startable = [n for n in open_issues if sendable(state.issues.get(n), moment)]
            if not startable:
                options.say(
                    "Nothing to send now: "
                    + "; ".join(_issue_held(state, n, moment, site) for n in open_issues)
                    if open_issues
                    else "Nothing to send: every issue is sent"
                )
                return
            number = startable[0]
        record = state.issues.get(number)
        standing = state_of(record, state.issues.counts(number), moment, site.tz)
        if record.review == "waiting" and not dry_run:
            raise click.ClickException(
                f"issue {number} waits for approval ({standing.detail}); approve it with "
                f"'feedpub issue approve {number}', or send it now with "
                f"'feedpub issue send {number}'"
            )
        if dry_run:
            info = delivery.plan(state, record, moment, TopicEditions(site))
            skipped = info.get("skipped", 0)
            tried = state.deliveries.next_try(number)
            from feedpub.delivery.transport import outbox_folder
            options.say(
                f"Issue {number} is {standing}: would send to "
                f"{plural(info['to_send'], 'subscriber')}; {info['done']} already done, "
                f"{info['waiting']} deferred"
                + (f" (the next try at {_moment(tried, site.tz)})" if tried else "")
                + (f"; {skipped} skipped (paused, or nothing of their topics)" if skipped else "")
            )
            options.say(
                "Would send to: "
                + (
                    f"the relay {site.smtp.host}:{site.smtp.real_port}"
                    if site.has_smtp
                    else f"the outbox folder {_shown(outbox_folder(site, str(number)))}/"
                    " ([smtp] names no host)"
                )
            )
            return
    chosen = number

    def unrefused() -> None:
        if force:
            return
        from feedpub.run import refusal

        with State.open(site.state_dir) as state:
            refused = refusal(site, state, chosen)
        if refused is not None:
            raise refused

    _send_under_lock(options, site, chosen, moment, "send", unrefused)


def _send_tests(
    options: Options, site: config.Site, number: int | None, addresses: list[str], now: datetime
) -> None:
    """``send --test``: a test copy of issue ``number``, else of the unfinished one, else of the
    next issue, composed for the test only; nothing is recorded."""
    from feedpub.delivery import sending as delivery
    from feedpub.newsletter.topics import TopicEditions
    from feedpub.run import next_issue

    # create=False: a test records nothing, not even a new state file.
    with State.open(site.state_dir, create=False) as state:
        if number is None:
            open_issues = delivery.unfinished(state)
            number = open_issues[0] if open_issues else None
        if number is not None:
            record = state.issues.get(number)
            what = f"issue {number}"
        else:
            upcoming = next_issue(site, state, now)
            if upcoming is None:
                options.say("Nothing to test: no issue is unfinished and no article waits")
                return
            record, warnings, _ = upcoming
            _warn(warnings, options)
            what = f"the next issue (#{record.number}, not recorded)"
    path = delivery.send_tests(site, record, addresses, editions=TopicEditions(site))
    options.say(
        f"Sent a test copy of {what} to {', '.join(addresses)}" + (f" ({path})" if path else "")
    )


@main.command("inbox")
@click.argument("source", required=False, metavar="[-]")
@click.option(
    "--maildir",
    type=click.Path(file_okay=False, path_type=Path),
    help="Read this Maildir instead of [inbox]; what is read moves to its .feedpub.* folders.",
)
@click.option(
    "--mbox",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Read this mbox file (only read: reading it again changes nothing).",
)
@now_option
@verbosity
@pass_options
@reports_errors
def inbox(
    options: Options, source: str | None, maildir: Path | None, mbox: Path | None, now: str | None
) -> None:
    """Act on bounces, complaints and unsubscribes by mail: from [inbox] (its Maildir or IMAP
    server), --maildir DIR, --mbox FILE, or - (one message on standard input, for an MTA's
    pipe: exit 0 once it is handled, 75 to have the MTA try again later)."""
    from feedpub.delivery import inbox as inbox_module
    from feedpub.delivery.mailboxes import MaildirSource, MboxSource, Source, StreamSource
    from feedpub.errors import InboxError

    if source not in (None, "-"):
        raise click.BadParameter(
            f"{source!r}: give - to read one message on standard input, or use --maildir or "
            "--mbox",
            param_hint="SOURCE",
        )
    sources = (("-", source), ("--maildir", maildir), ("--mbox", mbox))
    given = [name for name, value in sources if value is not None]
    if len(given) > 1:
        raise click.UsageError(f"give one source, not {' and '.join(given)}")
    if source == "-":
        # An MTA bounces a message its pipe refuses (exit 1) and keeps one it is told to try
        # again later (75): whatever stops feedpub (settings, the state, a bug) is the latter,
        # so no bounce is lost while someone fixes it. A bad message is unknown, and exits 0.
        try:
            site = options.site()
            with StreamSource(sys.stdin.buffer) as stream:
                report = inbox_module.read(site, stream, resolve_now(site, now))
        except ConfigError as exc:
            _problems(exc.problems)
            raise TryLater("the settings have errors; the message waits at the MTA") from None
        except FeedpubError as exc:
            raise TryLater(f"{exc}; the message waits at the MTA") from None
        except Exception as exc:
            if options.verbose:
                traceback.print_exc()
            raise TryLater(
                f"unexpected {type(exc).__name__}: {exc} (a bug in feedpub; -v shows the "
                "traceback); the message waits at the MTA"
            ) from None
        _say_inbox(options, report)
        return
    site = options.site()
    moment = resolve_now(site, now)
    try:
        chosen: Source
        if maildir is not None:
            chosen = MaildirSource(maildir)
        elif mbox is not None:
            chosen = MboxSource(mbox)
        elif site.has_inbox:
            chosen = inbox_module.configured_source(site)
        else:
            raise click.UsageError(
                "nothing to read: give --maildir DIR, --mbox FILE or - (standard input), or set "
                "[inbox] maildir or host in feedpub.toml"
            )
        try:
            report = inbox_module.read(site, chosen, moment)
        finally:
            chosen.close()
    except InboxError as exc:
        if exc.temporary:
            raise TryLater(str(exc)) from None
        raise
    _say_inbox(options, report)


def _say_inbox(options: Options, report: InboxReport) -> None:
    _warn(report.warnings, options)
    options.say(report.line())
    if options.verbose:
        for applied in report.changes:
            click.echo(f"  {applied.email}: {applied.change}")


@main.group()
def subscribers() -> None:
    """Add, remove, list, import and export subscribers."""


@subscribers.command("add")
@click.argument("address")
@click.option("--name", default="", help="The subscriber's name, used in the To header.")
@click.option(
    "--resubscribe",
    is_flag=True,
    help="Subscribe again someone who unsubscribed, bounced or complained.",
)
@verbosity
@pass_options
@reports_errors
def subscribers_add(options: Options, address: str, name: str, resubscribe: bool) -> None:
    """Add ADDRESS as an active subscriber.

    Someone who unsubscribed, bounced or complained is added again only with --resubscribe.
    """
    site = options.site()
    try:
        with State.open(site.state_dir) as state, state.transaction():
            subscriber, added = Subscribers(state).add(
                address, name, datetime.now(site.tz), resubscribe=resubscribe
            )
    except NotResubscribed as exc:
        raise click.ClickException(exc.say(_moment(exc.when, site.tz))) from None
    back = resubscribe and subscriber.added != subscriber.changed  # a row that was there
    said = ("Subscribed again:" if back else "Added") if added else "Already subscribed:"
    options.say(f"{said} {subscriber.email}")


@subscribers.command("remove")
@click.argument("address")
@verbosity
@pass_options
@reports_errors
def subscribers_remove(options: Options, address: str) -> None:
    """Unsubscribe ADDRESS (for unsubscribe requests that arrive by email)."""
    site = options.site()
    with State.open(site.state_dir) as state, state.transaction():
        subscriber = Subscribers(state).set_status(
            address, "unsubscribed", datetime.now(site.tz)
        )
    options.say(f"Unsubscribed {subscriber.email}")


@subscribers.command("list")
@click.option(
    "--status", type=click.Choice(LISTED_STATUSES), help="Only subscribers in this state."
)
@click.option("--json", "as_json", is_flag=True, help="Print a JSON array of objects.")
@verbosity
@pass_options
@reports_errors
def subscribers_list(options: Options, status: str | None, as_json: bool) -> None:
    """List subscribers: address, name and status."""
    site = options.site()
    with State.open(site.state_dir, create=False) as state:
        people = [
            {"email": s.email, "name": s.name, "status": s.status}
            for s in Subscribers(state).iter(status)
        ]
    if as_json:
        click.echo(json.dumps(people, ensure_ascii=False, indent=2))
        return
    for person in people:
        click.echo(f"{person['email']}\t{person['name']}\t{person['status']}")
    options.say(f"{plural(len(people), 'subscriber')}")


@subscribers.command("show")
@click.argument("address")
@click.option("--json", "as_json", is_flag=True, help="Print everything held about them as JSON.")
@verbosity
@pass_options
@reports_errors
def subscribers_show(options: Options, address: str, as_json: bool) -> None:
    """Show what is held about ADDRESS: consent record, status, topics, pause, issues."""
    site = options.site()
    with State.open(site.state_dir, create=False) as state:
        people = Subscribers(state)
        held = people.data(people.get(address))
    if as_json:
        click.echo(json.dumps(held, ensure_ascii=False, indent=2))
        return
    issues = held["issues"]
    counts: dict[str, int] = {}
    for issue in issues:
        counts[issue["status"]] = counts.get(issue["status"], 0) + 1
    rows = [
        ("Address", held["address"]),
        ("Name", held["name"] or "-"),
        ("Status", held["status"]),
        ("Joined", f"{_moment(held['joined'], site.tz)} (source: {held['source']})"),
        ("Confirmed", _moment(held["confirmed"], site.tz, "-")),
        *([("IP", held["ip"])] if "ip" in held else []),
        ("Topics", ", ".join(held["topics"]) or "all"),
        ("Paused until", _moment(held["paused_until"], site.tz, "-")),
        *([("New address", held["new_address"])] if "new_address" in held else []),
        (
            "Issues",
            f"{len(issues)}"
            + (f" ({', '.join(f'{n} {s}' for s, n in sorted(counts.items()))})" if counts else ""),
        ),
    ]
    for label, value in rows:
        click.echo(f"{label + ':':<14}{value}")


@subscribers.command("forget")
@click.argument("address")
@verbosity
@pass_options
@reports_errors
def subscribers_forget(options: Options, address: str) -> None:
    """Erase ADDRESS's data for good; a keyed hash of it stops re-imports."""
    # Here, not at the top: the transports load the email package, which a build never needs.
    from feedpub.delivery.transport import forget_copies

    site = options.site()
    with State.open(site.state_dir) as state:
        with state.transaction():
            gone = Subscribers(state).forget(address, datetime.now(site.tz))
        state.scrub()
    forget_copies(site, (gone.email, gone.new_email))
    options.say(
        f"Forgot {address.strip()}: their data is erased; a later import will not add the "
        "address again (they can sign up again themselves)"
    )


@subscribers.command("import")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@verbosity
@pass_options
@reports_errors
def subscribers_import(options: Options, file: Path) -> None:
    """Import FILE: an export of Mailchimp, Substack, Buttondown, listmonk or Ghost, CSV with
    an 'email' column (and optional 'name' and 'status'), or one address a line."""
    site = options.site()
    text = read_import(file)
    try:
        with State.open(site.state_dir) as state, state.transaction():
            report = import_text(Subscribers(state), text, datetime.now(site.tz))
    except ImportFormatError as exc:
        raise click.ClickException(f"{file}:{exc.line}: {exc}; nothing was imported") from None
    for line, problem in report.invalid:
        click.echo(f"{file}:{line}: error: {problem}", err=True)
    for line, reason in report.left_out:
        click.echo(f"{file}:{line}: note: {reason}", err=True)
    # Said only when there are some: the line stays as it was for a plain list.
    updated = f", {report.updated} updated" if report.updated else ""
    left_out = f", {len(report.left_out)} left out" if report.left_out else ""
    options.say(
        f"Imported {file}: {report.added} added, {report.present} already present"
        f"{updated}, {len(report.invalid)} invalid{left_out}"
    )
    if report.invalid:  # like build --keep-going: the good lines are in, and still exit 1
        raise click.ClickException(
            f"{plural(len(report.invalid), 'invalid line')} in {file}; "
            "the other lines were imported"
        )


@subscribers.command("export")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path), required=False)
@verbosity
@pass_options
@reports_errors
def subscribers_export(options: Options, file: Path | None) -> None:
    """Write every subscriber as CSV (email, name, status) to FILE, or to standard output."""
    site = options.site()
    with State.open(site.state_dir, create=False) as state:
        text = export_csv(Subscribers(state))
    if file is None:
        click.echo(text, nl=False)
        return
    try:
        write_private(file, text.encode())
    except OSError as exc:
        raise click.ClickException(f"cannot write {file}: {exc.strerror}") from None
    options.say(f"Wrote {file}")


def listening(port: int) -> Callable[[F], F]:
    """--host and --port, for a command that serves on ``port`` unless told otherwise."""

    def add(command: F) -> F:
        command = click.option(
            "--port",
            default=port,
            show_default=True,
            type=click.IntRange(0, 65535),
            help="Port to listen on.",
        )(command)
        return click.option(
            "--host", default="127.0.0.1", show_default=True, help="Address to listen on."
        )(command)

    return add


@main.command()
@listening(8080)
@verbosity
@pass_options
@reports_errors
def serve(options: Options, host: str, port: int) -> None:
    """Serve the web app: sign-up, confirmation, the readers' own page and unsubscribe."""
    site = options.site()
    from feedpub.delivery.server import serve as serve_forever

    if not config.is_loopback(host):
        _warn(
            [
                f"--host {host} is reachable from other machines, and feedpub serve speaks plain "
                "HTTP: put it behind a reverse proxy that terminates TLS (nginx, Caddy) and "
                "listen on 127.0.0.1"
            ],
            options,
        )
    from feedpub.delivery.mailer import Mailer

    # The confirmations and welcomes the requests queue leave from this process, at once.
    serve_forever(site, host, port, options.say, sender=Mailer(site))


@main.command()
@listening(8000)
@verbosity
@pass_options
@reports_errors
def preview(options: Options, host: str, port: int) -> None:
    """Serve a live preview of the site: built again on each change, the open page reloaded.

    Builds as `feedpub build` does, serves the output folder, and builds again whenever
    content/, templates/, static/ or feedpub.toml change; a failed build shows its error in
    the page. The next newsletter issue is at /_preview/issue. Nothing is sent.
    """
    from feedpub import preview as preview_module

    if not config.is_loopback(host):
        _warn(
            [
                f"--host {host} is reachable from other machines, and feedpub preview speaks "
                "plain HTTP and shows drafts of the site: listen on 127.0.0.1"
            ],
            options,
        )

    def built(outcome: preview_module.Outcome) -> None:
        if outcome.errors:
            for line in outcome.errors:
                click.echo(line, err=True)
            click.echo("The build failed; the preview shows the error until it is fixed", err=True)
            return
        report = outcome.report
        if report is None:
            return
        _build_problems(report, options.quiet)
        options.say(
            f"Built {plural(report.articles, 'article')}: {report.written} files written, "
            f"{report.removed} removed in {report.seconds:.2f} s"
        )

    preview_module.serve(options.site_dir, host, port, options.say, built)


def _state_files() -> tuple[str, ...]:
    """The state folder's small files a backup carries: the secret and the List-Id."""
    from feedpub.delivery.identity import LIST_ID_FILE  # the email package: not for a build
    from feedpub.delivery.tokens import SECRET_FILE

    return (SECRET_FILE, LIST_ID_FILE)


def _held(issues: int, subscribers: int, deliveries: int) -> str:
    return (
        f"{plural(issues, 'issue')}, {plural(subscribers, 'subscriber')}, "
        f"{deliveries} {'delivery' if deliveries == 1 else 'deliveries'}"
    )


@main.command("backup")
@click.argument("file", type=click.Path(path_type=Path))
@click.option("--force", is_flag=True, help="Replace FILE if it exists.")
@verbosity
@pass_options
@reports_errors
def backup_command(options: Options, file: Path, force: bool) -> None:
    """Back up the state to FILE.

    One file: a consistent copy of the state database (safe while cron runs), the secret
    and the List-Id, readable by its owner only.
    """
    from feedpub.delivery.tokens import SECRET_ENV, SECRET_FILE
    from feedpub.store.backup import backup

    site = options.site()
    report = backup(site.state_dir, file, _state_files(), force=force)
    with_files = " and ".join(
        {"secret": "the secret", "list-id": "the List-Id"}.get(name, name)
        for name in report.files
    )
    options.say(
        f"Backed up the state to {file} (schema {report.schema}: "
        f"{_held(report.issues, report.subscribers, report.deliveries)}"
        f"{'; with ' + with_files if with_files else ''}; {report.size:,} bytes). It holds "
        "subscribers' addresses and the secret: keep it where only you can read it"
    )
    if os.environ.get(SECRET_ENV):
        # The variable wins over the file (tokens.load_secret): the links are signed with it.
        _warn(
            [
                f"{SECRET_ENV} is set, and it is the secret the links are signed with, not the "
                "file: keep its value with the backup"
            ],
            options,
        )
    elif SECRET_FILE not in report.files:
        _warn(["the backup holds no secret: the site has none yet (none was needed)"], options)


@main.command("restore")
@click.argument("file", type=click.Path(path_type=Path))
@click.option("--force", is_flag=True, help="Replace the state the site holds now.")
@verbosity
@pass_options
@reports_errors
def restore_command(options: Options, file: Path, force: bool) -> None:
    """Restore the state from a backup FILE.

    Into a site that has no state yet, or over its state with --force.
    """
    from feedpub.store.backup import restore

    site = options.site()
    with SiteLock(site.state_dir, "restore"):
        report = restore(file, site.state_dir, _state_files(), force=force)
    try:
        made = for_people(datetime.fromisoformat(report.made), site.tz)
    except ValueError:  # a manifest's own words, shown as they are only if they are a moment
        made = ""
    options.say(
        f"Restored {file} (made {made or 'at an unknown time'}, schema {report.schema}: "
        f"{_held(report.issues, report.subscribers, report.deliveries)}) into "
        f"{site.state_dir}{' in place of its state' if report.replaced else ''}; the next "
        "build is a full one"
    )


@main.command("stats")
@click.option(
    "--access-log",
    "logs",
    multiple=True,
    required=True,
    type=click.Path(path_type=Path),
    help="The web server's access log, combined format, plain or gzip (repeatable).",
)
@click.option("--json", "as_json", is_flag=True, help="Print the figures as JSON.")
@verbosity
@pass_options
@reports_errors
def stats(options: Options, logs: tuple[Path, ...], as_json: bool) -> None:
    """Count feed readers and issue views in logs.

    From the web server's access logs (combined format, plain or gzip): feed subscribers as
    the readers state them, distinct fetchers a day, views of each issue's web version.
    Nobody is tracked: only counts come out.
    """
    from feedpub.site.stats import median, read_logs

    site = options.site()
    figures = read_logs(site, logs)
    if as_json:
        click.echo(json.dumps(figures.as_json(site.tz), ensure_ascii=False, indent=2))
        return
    span = ""
    if figures.first is not None and figures.last is not None:
        span = f" from {for_people(figures.first, site.tz)} to {for_people(figures.last, site.tz)}"
    skipped = (
        f"; {figures.skipped:,} skipped (not the combined log format, or over 16 KB)"
        if figures.skipped
        else ""
    )
    options.say(
        f"Read {plural(len(figures.files), 'file')}: {figures.lines:,} lines{span}{skipped}"
    )
    stated = [feed for feed in figures.feeds if feed.subscribers]
    if stated:
        click.echo("Feed subscribers, as feed readers state them (the latest figure of each):")
        for feed in stated:
            readers = ", ".join(f"{name} {count:,}" for name, count in feed.subscribers.items())
            click.echo(f"  {feed.path}: {feed.total:,} ({readers})")
    if figures.feeds:
        click.echo("Distinct fetchers of each feed a day (by address and client, none kept):")
        for feed in figures.feeds:
            days = feed.daily_fetchers
            last_day, last = next(reversed(days.items()))
            spread = (
                f"; {len(days)} days: median {median(days.values()):g}, "
                f"fewest {min(days.values()):,}, most {max(days.values()):,}"
                if len(days) > 1
                else ""
            )
            click.echo(f"  {feed.path}: {last:,} on {last_day}{spread}")
    if figures.issues:
        click.echo("Views of each issue's web version (browsers, not robots; viewers a day):")
        for views in figures.issues:
            click.echo(
                f"  issue {views.number}: {views.views:,} view{'' if views.views == 1 else 's'}, "
                f"{views.viewers:,} viewer{'' if views.viewers == 1 else 's'}"
            )
    if not figures.feeds and not figures.issues:
        click.echo("No feed was fetched and no issue's web version viewed in these logs.")
        if figures.outside:
            click.echo(
                f"{figures.outside:,} "
                f"{'request was' if figures.outside == 1 else 'requests were'} for paths outside "
                "the site's own, "
                f"{figures.base} ([site] url): is that the address the site is served at?"
            )
