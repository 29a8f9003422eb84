"""Plugins: a site that lists tests/plugins/example_plugin.py in feedpub.toml builds its .note
articles and uses its filter; a new version of the plugin rebuilds; a plugin that cannot be
used is a settings error on its line, with the fix."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import feedparser
import pytest
from click.testing import CliRunner
from helpers import MAIL_NEWSLETTER, SETTINGS, MakeSite, article, load

from feedpub import config
from feedpub.cli import main
from feedpub.config import Plugin
from feedpub.delivery import transport
from feedpub.delivery.sending import send_issue
from feedpub.delivery.subscribers import Subscribers
from feedpub.errors import ConfigError, TransportError
from feedpub.newsletter.issues import create
from feedpub.site.build import load_catalog
from feedpub.store.state import State

PLUGINS = Path(__file__).resolve().parent / "plugins"
EXAMPLE = (PLUGINS / "example_plugin.py").read_text(encoding="utf-8")
USES_EXAMPLE = SETTINGS + 'plugins = ["example_plugin"]\n'
NOTE = "title: A note\ndate: 2026-11-21 10:00\ntags: news, notes\n\nThe *first* paragraph.\n\nMore."
NOW = "2026-11-27T12:00:00+01:00"


@pytest.fixture
def on_path(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[Path]:
    """A folder on sys.path for plugin modules; those imported from it are forgotten after."""
    folder = tmp_path / "modules"
    folder.mkdir()
    monkeypatch.syspath_prepend(str(folder))
    before = set(sys.modules)
    yield folder
    for name in set(sys.modules) - before:
        del sys.modules[name]


def build(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """``feedpub build`` in a process of its own, with the example plugin's folder (or
    ``args``' first, a folder) on its path, as cron would run it."""
    path = args[0] if args else str(PLUGINS)
    env = {k: v for k, v in os.environ.items() if not k.startswith("FEEDPUB_")}
    env["PYTHONPATH"] = path
    command = [sys.executable, "-m", "feedpub", "--site", str(root), "build", "--now", NOW]
    return subprocess.run(command, capture_output=True, text=True, env=env, check=False)


def test_a_site_using_the_example_plugin_builds_its_notes_and_uses_its_filter(
    make_site: MakeSite, on_path: Path
) -> None:
    (on_path / "example_plugin.py").write_text(EXAMPLE, encoding="utf-8")
    root = make_site({"a.md": article("Hello"), "n.note": NOTE}, settings=USES_EXAMPLE)
    card = (config.packaged_templates() / "card.html").read_text(encoding="utf-8")
    assert "{{ article.title }}" in card
    (root / "templates").mkdir()
    (root / "templates" / "card.html").write_text(
        card.replace("{{ article.title }}", "{{ article.title | shout }}"), encoding="utf-8"
    )
    assert config.load(root, env={}).site.plugins == (Plugin("example_plugin", "1.0"),)

    result = CliRunner().invoke(main, ["--site", str(root), "build", "--now", NOW])
    assert result.exit_code == 0, result.output
    assert result.output.startswith("Built 2 articles (0 scheduled, 0 drafts)")
    feed = feedparser.parse((root / "public" / "atom.xml").read_bytes())
    assert feed.bozo == 0
    entries = {e.title: e for e in feed.entries}
    assert set(entries) == {"Hello", "A note"}
    content = entries["A note"].content[0].value
    assert content == "<p>The <em>first</em> paragraph.</p>\n<p>More.</p>"
    assert entries["A note"].summary == "The first paragraph."
    assert [t.term for t in entries["A note"].tags] == ["news", "notes"]
    page = (root / "public" / "2026" / "11" / "n" / "index.html").read_text(encoding="utf-8")
    assert "<p>The <em>first</em> paragraph.</p>" in page
    index = (root / "public" / "index.html").read_text(encoding="utf-8")
    assert "A NOTE!" in index and "HELLO!" in index


def test_without_the_plugin_a_note_is_not_an_article(make_site: MakeSite) -> None:
    root = make_site({"a.md": article("Hello"), "n.note": NOTE})
    done = build(root)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("Built 1 article ")


def test_a_new_version_of_a_plugin_rebuilds_what_it_made(
    make_site: MakeSite, tmp_path: Path
) -> None:
    folder = tmp_path / "modules"
    folder.mkdir()
    plugin = folder / "example_plugin.py"
    plugin.write_text(EXAMPLE, encoding="utf-8")
    root = make_site({"a.md": article("Hello"), "n.note": NOTE}, settings=USES_EXAMPLE)
    page = root / "public" / "2026" / "11" / "n" / "index.html"
    assert build(root, str(folder)).returncode == 0
    assert "<em>first</em>" in page.read_text(encoding="utf-8")

    # The plugin now renders emphasis as <strong>: without a new version the build trusts
    # its caches (nothing to do), with one it reads and renders the notes again.
    plugin.write_text(EXAMPLE.replace(r"<em>\1</em>", r"<strong>\1</strong>"), encoding="utf-8")
    same = build(root, str(folder))
    assert same.returncode == 0 and " 0 files written" in same.stdout
    assert "<em>first</em>" in page.read_text(encoding="utf-8")

    plugin.write_text(
        plugin.read_text(encoding="utf-8").replace('__version__ = "1.0"', '__version__ = "1.1"'),
        encoding="utf-8",
    )
    newer = build(root, str(folder))
    assert newer.returncode == 0, newer.stderr
    assert "<strong>first</strong>" in page.read_text(encoding="utf-8")
    feed = (root / "public" / "atom.xml").read_text(encoding="utf-8")
    assert "&lt;strong&gt;first&lt;/strong&gt;" in feed


HOOK = "def feedpub_plugin(registry):\n    pass\n"


@pytest.mark.parametrize(
    ("name", "module", "message"),
    [
        (
            "not_there",
            None,
            "'not_there': no such module; install it (pip install ...) or remove it from the list",
        ),
        (
            "bad name",
            None,
            "'bad name' is not a module name; write one like 'feedpub_rst'",
        ),
        (
            "breaks",
            "import no_such_dependency\n" + HOOK,
            "'breaks' cannot be imported: ModuleNotFoundError: No module named "
            "'no_such_dependency'; fix the plugin or remove it from the list",
        ),
        (
            "raises",
            "__version__ = '1'\nraise RuntimeError('oops')\n",
            "'raises' cannot be imported: RuntimeError: oops; fix the plugin or remove it from "
            "the list",
        ),
        (
            "hookless",
            "__version__ = '1'\n",
            "'hookless' has no function feedpub_plugin(registry); a plugin defines one (the "
            "README's Plugins section shows how)",
        ),
        (
            "versionless",
            HOOK,
            "'versionless' has no version; set one, like __version__ = \"1.0\", or install it as "
            "a package (the version is part of the build's cache keys: a new one rebuilds)",
        ),
    ],
    ids=["unknown", "not-a-name", "import-error", "fails-on-import", "no-hook", "no-version"],
)
def test_a_plugin_that_cannot_be_used_is_a_settings_error_on_its_line(
    make_site: MakeSite, on_path: Path, name: str, module: str | None, message: str
) -> None:
    if module is not None:
        (on_path / f"{name}.py").write_text(module, encoding="utf-8")
    root = make_site({"a.md": article()}, settings=SETTINGS + f'plugins = ["{name}"]\n')
    with pytest.raises(ConfigError) as raised:
        config.load(root, env={})
    assert [str(p) for p in raised.value.problems] == [
        f"feedpub.toml:8: error: [site] plugins {message}"
    ]
    result = CliRunner().invoke(main, ["--site", str(root), "build"])
    assert result.exit_code == 1
    assert result.output == (
        f"feedpub.toml:8: error: [site] plugins {message}\nError: 1 error in the settings\n"
    )


@pytest.mark.parametrize(
    ("hook", "message"),
    [
        (
            "registry.add_reader('.md', object())",
            "'bad_hook': the suffix '.md' already has a reader",
        ),
        (
            "registry.add_reader('rst', object())",
            "'bad_hook': 'rst' is not a file suffix; give one like '.rst'",
        ),
        (
            "registry.add_reader('.rst', object())",
            "'bad_hook': the reader for '.rst' lacks read, body or render",
        ),
        (
            "registry.add_filter('a-b', str.upper)",
            "'bad_hook': 'a-b' is not a filter name; use letters, digits and _",
        ),
        (
            "registry.add_transport('smtp', print)",
            "'bad_hook': the transport name 'smtp' is taken",
        ),
        (
            "registry.add_transport('Bad Name', print)",
            "'bad_hook': 'Bad Name' is not a transport name; use a-z, digits, - and _",
        ),
        (
            "1 / 0",
            "'bad_hook': feedpub_plugin() failed: ZeroDivisionError: division by zero; fix the "
            "plugin or remove it from the list",
        ),
    ],
    ids=[
        "taken-suffix",
        "not-a-suffix",
        "not-a-reader",
        "not-a-filter-name",
        "taken-transport",
        "not-a-transport-name",
        "hook-fails",
    ],
)
def test_a_hook_that_fails_or_adds_what_it_may_not_is_a_settings_error(
    make_site: MakeSite, on_path: Path, hook: str, message: str
) -> None:
    (on_path / "bad_hook.py").write_text(
        f"__version__ = '1'\ndef feedpub_plugin(registry):\n    {hook}\n", encoding="utf-8"
    )
    root = make_site({"a.md": article()}, settings=SETTINGS + 'plugins = ["bad_hook"]\n')
    result = CliRunner().invoke(main, ["--site", str(root), "build"])
    assert result.exit_code == 1
    assert result.output == (
        f"feedpub.toml:8: error: [site] plugins {message}\nError: 1 error in the settings\n"
    )


def test_an_issue_goes_out_through_a_transport_the_plugin_adds(
    make_site: MakeSite, on_path: Path
) -> None:
    (on_path / "example_plugin.py").write_text(EXAMPLE, encoding="utf-8")
    root = make_site({"a.md": article("Alpha")}, settings=USES_EXAMPLE, extra=MAIL_NEWSLETTER)
    site = load(root)
    moment = datetime.fromisoformat(NOW)
    with State.open(site.state_dir) as state:
        with state.transaction():
            for address in ("ann@example.org", "bob@example.org"):
                Subscribers(state).add(address, "", moment)
        assert create(site, state, load_catalog(site, state, moment), moment) is not None
    assert "example-files" in transport.names(site)
    assert "example-files" not in transport.names()  # added for this site, not for every one

    report = send_issue(site, 1, moment, transport="example-files")
    assert (report.finished, report.sent) == (True, 2)
    folder = site.state_dir / "example-files" / "1"
    names = sorted(p.name for p in folder.iterdir())
    assert names == ["ann@example.org.eml", "bob@example.org.eml"]
    assert b"List-Unsubscribe-Post: List-Unsubscribe=One-Click" in (
        folder / "ann@example.org.eml"
    ).read_bytes()
    with pytest.raises(TransportError, match="the known ones: example-files, outbox, smtp"):
        transport.factory("example-api", site)
