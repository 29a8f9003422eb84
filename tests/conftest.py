"""Shared fixtures: a CLI runner and a factory for small sites in tmp_path."""

from __future__ import annotations

import textwrap
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from click.testing import CliRunner

from feedpub import config
from feedpub.config import FeedSettings, Site, SiteSettings

REPO = Path(__file__).resolve().parent.parent
TZ = ZoneInfo("Europe/Berlin")
# A fixed clock for everything that depends on the time.
NOW = datetime(2026, 11, 27, 12, 0, tzinfo=TZ)

SETTINGS = """\
[site]
title = "Test Gazette"
url = "https://news.example.org/"
description = "A site for tests"
language = "en"
timezone = "Europe/Berlin"
author = "Desk"
"""

MakeSite = Callable[..., Path]


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


@pytest.fixture
def make_site(tmp_path: Path) -> MakeSite:
    """make_site(articles={"a.md": "..."}, settings=SETTINGS, extra="") -> site folder.

    Article texts are dedented; bytes are written as they are.
    """

    def make(
        articles: dict[str, str | bytes] | None = None,
        settings: str = SETTINGS,
        extra: str = "",
        folder: str = "site",
    ) -> Path:
        root = tmp_path / folder
        (root / "content").mkdir(parents=True, exist_ok=True)
        (root / "feedpub.toml").write_text(settings + extra, encoding="utf-8")
        for name, text in (articles or {}).items():
            path = root / "content" / name
            path.parent.mkdir(parents=True, exist_ok=True)
            if isinstance(text, bytes):
                path.write_bytes(text)
            else:
                path.write_text(textwrap.dedent(text), encoding="utf-8")
        return root

    return make


@pytest.fixture
def test_site(tmp_path: Path) -> Site:
    """A Site object (no files) for calling readers directly."""
    return Site(
        root=tmp_path,
        site=SiteSettings(title="T", url="https://example.org/", timezone="Europe/Berlin"),
        feeds=FeedSettings(),
    )


def article(
    title: str = "Hello", date: str = "2026-11-20 09:00", body: str = "Body text.", **extra: str
) -> str:
    """A Markdown article's text with the given front matter."""
    lines = ["---", f"title: {title!r}", f"date: {date}"]
    lines += [f"{key}: {value}" for key, value in extra.items()]
    return "\n".join(lines) + "\n---\n\n" + body + "\n"


def load(root: Path) -> Site:
    return config.load(root, env={})
