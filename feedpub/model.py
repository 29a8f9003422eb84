"""The article: one file's meaning, frozen once read."""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

BodyFormat = Literal["markdown", "text"]


@dataclass(frozen=True)
class Article:
    """An article as read from its file; the catalog fills in ``feed_id``, ``link`` and ``page``."""

    source: Path
    relpath: str
    title: str
    date: datetime
    # None when the article came from the content cache: readers.load_body reads it on demand.
    body: str | None
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
    # A hash of the file (and its path): what outputs showing the article depend on.
    fingerprint: str = ""
    # The summary, or the start of the first paragraph: what lists and feeds show.
    lead: str = ""
    # What a plain-text reader inferred, for ``feedpub check -v``.
    inferred: tuple[str, ...] = field(default=(), compare=False)

    @property
    def modified(self) -> datetime:
        return self.updated if self.updated and self.updated > self.date else self.date


def evolve(article: Article, **changes: Any) -> Article:
    """``dataclasses.replace`` for the fields of an article, without running ``__init__``
    again: a copy of its attributes with ``changes`` applied. A tenth of the time, which
    counts when every article of a large site is placed on every build."""
    unknown = changes.keys() - _FIELD_NAMES
    if unknown:
        raise TypeError(f"Article has no field {sorted(unknown)[0]!r}")
    return _assembled({**article.__dict__, **changes})


def _assembled(values: dict[str, Any]) -> Article:
    """An article from a value for every one of its fields, without ``__init__`` (frozen
    dataclasses set each field through object.__setattr__ there)."""
    article = object.__new__(Article)
    article.__dict__.update(values)
    return article


_DATES = ("date", "updated")
_TUPLES = ("authors", "tags", "inferred")


def article_to_json(article: Article) -> dict[str, Any]:
    """The article as JSON data (for the content cache), without its body."""
    data: dict[str, Any] = {}
    for spec in fields(Article):
        value = getattr(article, spec.name)
        if spec.name in _DATES:
            value = value.isoformat() if value is not None else None
        elif spec.name == "source":
            value = str(value)
        elif spec.name in _TUPLES:
            value = list(value)
        elif spec.name == "body":
            value = None
        data[spec.name] = value
    return data


def article_from_json(data: dict[str, Any], source: Path) -> Article:
    values = dict(data)
    for name in _DATES:
        if values.get(name) is not None:
            values[name] = datetime.fromisoformat(values[name])
    for name in _TUPLES:
        values[name] = tuple(values.get(name) or ())
    values["source"] = source
    if values.keys() == _FIELD_NAMES:
        # Every field is there (the common case, cached by this version): set them directly,
        # which takes half the time of __init__ when a large site is decoded on each build.
        return _assembled(values)
    return Article(**values)


_FIELD_NAMES = frozenset(f.name for f in fields(Article))
