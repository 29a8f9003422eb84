"""Rendering in several processes: the same bytes as one process, and failures leave nothing."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import NOW, MakeSite, article, load

from feedpub import writer
from feedpub.build import build
from feedpub.errors import FeedpubError
from feedpub.writer import TEMP_PREFIX

COUNT = 120  # with three tags and three authors: several hundred outputs


def many(count: int = COUNT) -> dict[str, str | bytes]:
    return {
        f"a{i:04d}.md": article(
            f"Article {i}",
            f"2026-{1 + i % 11:02d}-{1 + i % 27:02d} 09:00",
            body=f"Body {i} with [a link](../x/).",
            tags=f"[t{i % 3}]",
            author=f"Writer {i % 3}",
        )
        for i in range(count)
    }


def snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in folder.rglob("*") if p.is_file()}


def test_parallel_and_serial_write_the_same_bytes(
    make_site: MakeSite, monkeypatch: pytest.MonkeyPatch
) -> None:
    serial = make_site(many(), folder="serial")
    parallel = make_site(many(), folder="parallel")
    monkeypatch.setattr(writer, "PARALLEL_FROM", 10**9)
    build(load(serial), NOW)
    monkeypatch.setattr(writer, "PARALLEL_FROM", 1)
    monkeypatch.setattr(writer.os, "cpu_count", lambda: 2)
    report = build(load(parallel), NOW)
    assert report.written == len(snapshot(parallel / "public"))
    assert snapshot(serial / "public") == snapshot(parallel / "public")


def test_a_failure_in_a_worker_leaves_the_last_output(
    make_site: MakeSite, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = make_site(many())
    monkeypatch.setattr(writer, "PARALLEL_FROM", 1)
    monkeypatch.setattr(writer.os, "cpu_count", lambda: 2)
    build(load(root), NOW)
    before = snapshot(root / "public")
    (root / "templates").mkdir()
    (root / "templates" / "article.html").write_text(
        '{% extends "base.html" %}{% block content %}'
        '{% if article.title == "Article 77" %}{{ nothing.here }}{% endif %}'
        "{{ article.title }} changed{% endblock %}",
        encoding="utf-8",
    )
    with pytest.raises(FeedpubError, match="nothing"):
        build(load(root), NOW)
    assert snapshot(root / "public") == before
    assert not [p for p in (root / "public").rglob(f"{TEMP_PREFIX}*")]
