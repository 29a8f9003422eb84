"""The example site built with a fixed clock: what tests/golden/ holds.

Its feeds and every HTML page (under pages/), built at NOW, and its first newsletter issue,
composed at ISSUE_NOW as `feedpub issue new --now 2026-11-27T08:00:00-06:00` does on a fresh
clone: the digest's HTML and text as recorded in the state, the message a reader gets as the
outbox writes it (with a bounce address), the issues feed, and the archive's pages about the
issue (pages/issues/).

tests/test_golden.py compares a fresh build with the golden files, and tests/regen_golden.py
rewrites them; both call build_example() so they cannot drift apart.
"""

from __future__ import annotations

import shutil
from dataclasses import replace
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from feedpub import config
from feedpub.config import FEED_FILES, Site
from feedpub.delivery.messages import PreparedIssue, Recipient
from feedpub.delivery.transport import OutboxTransport, outbox_name
from feedpub.delivery.verp import bounce_sender
from feedpub.newsletter import issues
from feedpub.site.build import build, publish, read_catalog
from feedpub.store.issues import IssueRecord
from feedpub.store.state import State

REPO = Path(__file__).resolve().parent.parent
GOLDEN = Path(__file__).resolve().parent / "golden"
# The example site's own zone; a Friday, after every article but the one scheduled for 2031.
NOW = datetime(2026, 11, 27, 12, 0, tzinfo=ZoneInfo("America/Chicago"))
# The same Friday's issue, at 08:00 in the site's zone.
ISSUE_NOW = datetime.fromisoformat("2026-11-27T08:00:00-06:00")
# What a site folder is made of. The top-level templates/ is the packaged default; copying it
# keeps the build identical to `feedpub build` run in the repository.
SITE_PARTS = ("feedpub.toml", "content", "templates", "static")
# The main feeds, one tag's and one author's.
FOLDERS = ("", "tags/student-life", "authors/priya-raman")
FEED_GOLDEN = tuple(
    f"{folder}/{name}" if folder else name for folder in FOLDERS for name in FEED_FILES
)
ISSUE_GOLDEN = (
    "issue-1/digest.html",
    "issue-1/digest.txt",
    "issue-1/message.eml",
    "issues/rss.xml",
)
# The reader issue-1/message.eml is for, their random key and the site's secret fixed, and
# the bounce address the example would be given (FEEDPUB_SMTP_BOUNCE_ADDRESS): the message as
# the outbox writes it, its envelope sender (Return-Path) and every header with it.
READER = Recipient(1, "reader@example.org", "Rae Reader", "reader@example.org", "A" * 21 + "Q")
SECRET = "golden-secret-not-a-real-one"
BOUNCE_ADDRESS = "bounces@ledger.millbrook.example"
# Every HTML page of the build, under this folder of tests/golden/. Which pages there are is
# read from the build, not listed here: the golden folder holds the last regenerated set, and
# tests/test_golden.py checks that a fresh build makes exactly that set.
PAGES = "pages"


def golden_pages() -> tuple[str, ...]:
    """The pages' golden files on disk, as keys of build_example()."""
    folder = GOLDEN / PAGES
    found = (p.relative_to(GOLDEN).as_posix() for p in folder.rglob("*.html") if p.is_file())
    return tuple(sorted(found))


GOLDEN_FILES = FEED_GOLDEN + ISSUE_GOLDEN + golden_pages()


def copy_example(root: Path) -> Site:
    """The example site copied into ``root``, with a fresh state (no .feedpub/, so ids are
    derived as on a fresh clone)."""
    root.mkdir(parents=True)
    for name in SITE_PARTS:
        source = REPO / name
        if source.is_dir():
            shutil.copytree(source, root / name)
        elif source.is_file():
            shutil.copyfile(source, root / name)
    return config.load(root, env={})


def example_issue(root: Path) -> tuple[Site, IssueRecord]:
    """Issue 1 of the example site in a copy at ``root``, recorded and published (web version,
    issues feed) as `feedpub issue new --now ISSUE_NOW` does."""
    site = copy_example(root)
    with State.open(site.state_dir) as state:
        loaded = read_catalog(site, state, ISSUE_NOW)
        draft = issues.create(site, state, loaded.catalog, ISSUE_NOW)
        if draft is None:
            raise RuntimeError("the example site has no articles for its first issue")
        publish(site, state, loaded, ISSUE_NOW)
        record = state.issues.get(draft.number)
    assert record is not None and record.number == 1
    return site, record


def html_pages(output: Path, under: str = "") -> dict[str, bytes]:
    """Every HTML page under ``output``/``under``, keyed pages/<path in output>."""
    return {
        f"{PAGES}/{page.relative_to(output).as_posix()}": page.read_bytes()
        for page in sorted((output / under).rglob("*.html"))
    }


def example_message(site: Site, record: IssueRecord, workdir: Path) -> bytes:
    """Issue ``record`` as the outbox writes it for READER, dated ISSUE_NOW, on ``site`` with
    the bounce address set."""
    site = replace(site, smtp=replace(site.smtp, bounce_address=BOUNCE_ADDRESS))
    secret = SECRET.encode()
    data = PreparedIssue(site, record).render(READER, secret, ISSUE_NOW)
    outbox = OutboxTransport(workdir)
    outbox.send(bounce_sender(site, secret, READER, record.number), READER.envelope, data)
    return (workdir / outbox_name(READER.envelope)).read_bytes()


def build_example(workdir: Path) -> dict[str, bytes]:
    """Build the example site's feeds, pages and first issue in copies under ``workdir``, and
    return the golden files' bytes."""
    site = copy_example(workdir / "example")
    build(site, NOW)
    files = {name: (site.output_dir / name).read_bytes() for name in FEED_GOLDEN}
    files.update(html_pages(site.output_dir))
    issue_site, record = example_issue(workdir / "example-issue")
    files["issue-1/digest.html"] = record.html.encode()
    files["issue-1/digest.txt"] = record.text.encode()
    files["issue-1/message.eml"] = example_message(issue_site, record, workdir / "outbox")
    files["issues/rss.xml"] = (issue_site.output_dir / "issues" / "rss.xml").read_bytes()
    files.update(html_pages(issue_site.output_dir, "issues"))
    return files
