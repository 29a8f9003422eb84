"""Shared fixtures: a CLI runner, a factory for small sites in tmp_path, an SMTP relay on
127.0.0.1, a clean environment, and the Hypothesis profiles. Plain helpers are in helpers.py."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from click.testing import CliRunner
from helpers import SETTINGS, MakeSite, Recorder, Relay, free_port, write_articles
from hypothesis import settings

from feedpub.config import FeedSettings, Site, SiteSettings

# Property tests run few examples while developing and many in CI: .ci/run sets
# HYPOTHESIS_PROFILE=thorough. A test whose examples are costly takes a share of the profile's
# number (helpers.examples). No deadline: examples read and write real files on a machine shared
# with other work, where a slow example is not a failure.
settings.register_profile("quick", max_examples=50, deadline=None)
settings.register_profile("thorough", max_examples=1000, deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "quick"))


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """No FEEDPUB_* setting (or secret) of the machine running the tests leaks in."""
    for name in list(os.environ):
        if name.startswith("FEEDPUB_"):
            monkeypatch.delenv(name)


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
        write_articles(root, articles or {})
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


@pytest.fixture
def start_relay() -> Iterator[Callable[..., Relay]]:
    """start_relay(**aiosmtpd SMTP options) -> a running relay on 127.0.0.1; stopped after."""
    running: list[Controller] = []

    def start(**options: Any) -> Relay:
        handler = Recorder()
        # aiosmtpd 1.4 cannot listen on port 0 (it connects to its own port to start), so
        # take a free one first. server_hostname spares a reverse DNS lookup.
        controller = Controller(
            handler,
            hostname="127.0.0.1",
            port=free_port(),
            server_hostname="localhost",
            **options,
        )
        controller.start()
        running.append(controller)
        return Relay(handler, controller.port, controller)

    yield start
    for controller in running:
        controller.stop()
