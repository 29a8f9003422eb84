"""The command line: a thin click layer over the library. Exit codes: 0 ok, 1 failure, 2 usage."""

from __future__ import annotations

import functools
import sys
import traceback
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import click

from . import __version__, config, scaffold
from . import build as build_module
from .dates import parse_date
from .errors import ArticleError, ConfigError, FeedpubError, Problem

F = TypeVar("F", bound=Callable[..., Any])


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


def count(number: int, noun: str) -> str:
    """'1 article', '2 articles'."""
    return f"{number} {noun}{'' if number == 1 else 's'}"


def _problems(problems: list[Problem], quiet: bool = False) -> None:
    for problem in problems:
        if problem.severity == "error" or not quiet:
            click.echo(str(problem), err=True)


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
            tail = (
                ""
                if isinstance(exc, ConfigError)
                else (
                    "; nothing was written (fix them, or use --keep-going)"
                    if click.get_current_context().command.name == "build"
                    else ""
                )
            )
            raise click.ClickException(f"{count(errors, 'error')} in the {what}{tail}") from None
        except FeedpubError as exc:
            raise click.ClickException(str(exc)) from None
        except (click.ClickException, click.exceptions.Exit, click.Abort):
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
            parse_date(value, UTC)
        except ValueError as exc:
            raise click.BadParameter(str(exc), ctx, param) from None
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


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
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


@main.command()
@click.argument("folder", type=click.Path(path_type=Path))
@verbosity
@pass_options
@reports_errors
def init(options: Options, folder: Path) -> None:
    """Start a new site in FOLDER: settings, a welcome article, a .gitignore."""
    written = scaffold.init(folder, datetime.now(UTC))
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
    _problems(catalog.problems, options.quiet)
    if options.verbose:
        everything = catalog.articles + catalog.scheduled + catalog.drafts
        for article in sorted(everything, key=lambda a: a.relpath):
            if article.body_format == "text":
                click.echo(
                    f"{article.relpath}: title {article.title!r}, "
                    f"date {article.date.isoformat()}, "
                    f"authors {', '.join(article.authors) or '(none)'}"
                )
                for note in article.inferred:
                    click.echo(f"{article.relpath}:   {note}")
    errors = sum(p.severity == "error" for p in catalog.problems)
    warnings = len(catalog.problems) - errors
    options.say(
        f"Checked {count(catalog.files, 'file')}: {len(catalog.articles)} published, "
        f"{len(catalog.scheduled)} scheduled, {count(len(catalog.drafts), 'draft')}; "
        f"{count(errors, 'error')}, {count(warnings, 'warning')}"
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
    """Publish the feeds and the web archive into the output folder."""
    site = options.site()
    report = build_module.build(site, resolve_now(site, now), keep_going)
    _problems(report.problems, options.quiet)
    options.say(
        f"Built {count(report.articles, 'article')} "
        f"({report.scheduled} scheduled, {count(report.drafts, 'draft')}): "
        f"{report.feeds} feeds, {report.written} files written, {report.unchanged} unchanged, "
        f"{report.removed} removed in {report.seconds:.2f} s"
    )
    output = site.output_dir
    shown = output.relative_to(Path.cwd()) if output.is_relative_to(Path.cwd()) else output
    options.say(
        f"Feeds: {shown}/rss.xml, {shown}/atom.xml, {shown}/feed.json "
        f"(served at {report.feed_urls[0]} ...)"
    )
    if report.failed:
        errors = sum(p.severity == "error" for p in report.problems)
        raise click.ClickException(
            f"{count(errors, 'article error')}; published the valid articles only"
        )
