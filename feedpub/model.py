"""The article: one file's meaning, frozen once read."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Literal

BodyFormat = Literal["markdown", "text"]


@dataclass(frozen=True)
class Article:
    """An article as read from its file; the catalog fills in ``feed_id``, ``link`` and ``page``."""

    source: Path
    relpath: str
    title: str
    date: datetime
    body: str
    body_format: BodyFormat
    content_hash: str
    updated: datetime | None = None
    authors: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    summary: str | None = None
    slug: str = ""
    explicit_id: str | None = None
    draft: bool = False
    image: str | None = None
    url: str | None = None
    # Set by the catalog once the article is published.
    feed_id: str = ""
    link: str = ""
    page: str | None = None
    # What a plain-text reader inferred, for ``feedpub check -v``.
    inferred: tuple[str, ...] = field(default=(), compare=False)

    @property
    def modified(self) -> datetime:
        return self.updated if self.updated and self.updated > self.date else self.date
