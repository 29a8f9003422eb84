"""The article: one file's meaning, frozen once read."""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from datetime import datetime
from typing import Any, Literal

# "html": a body made as HTML, not read from a file (an issue in the issues feed).
BodyFormat = Literal["markdown", "text", "html"]


@dataclass(frozen=True)
class Article:
    """An article as read from its file; the catalog fills in ``feed_id``, ``link`` and ``page``."""

    # The file's path as open() takes it: a string, since making a Path for each of 10,000
    # cached articles took a twentieth of a second of every build.
    source: str
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
    # What ``image`` shows, for those who cannot see it (its alt text); None: not said.
    image_alt: str | None = None
    # Each author's email address, "" for none: one per name of ``authors`` ("Jane Doe
    # <jane@example.org>" is the name "Jane Doe" and this address), or () when none has one.
    author_emails: tuple[str, ...] = ()
    # A media file the article carries (a podcast's episode): its URL as written (absolute, or
    # a path in the site), its length in bytes and its MIME type; "" when there is none.
    enclosure_url: str = ""
    enclosure_length: int = 0
    enclosure_type: str = ""
    # The episode's running time in seconds (itunes:duration); 0 when not given.
    duration: int = 0
    # The episode's and its season's numbers (itunes:episode, itunes:season); 0 when not given.
    episode: int = 0
    season: int = 0
    # The article's own language (a BCP 47 tag) when it is not the site's; "" for the site's.
    lang: str = ""
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

    def author_email(self, index: int) -> str:
        """The email address of ``authors[index]``; "" if the article gives none."""
        return self.author_emails[index] if index < len(self.author_emails) else ""


def evolve(article: Article, **changes: Any) -> Article:
    """``dataclasses.replace`` for the fields of an article, without running ``__init__``
    again: a new article with a copy of the attributes, ``changes`` applied. A tenth of the
    time, which counts when every article of a large site is placed on every build."""
    if not _FIELD_NAMES.issuperset(changes):
        unknown = sorted(changes.keys() - _FIELD_NAMES)
        raise TypeError(f"Article has no field {unknown[0]!r}")
    # dict.copy() keeps the table's size, and the new article takes the copy as its own: a
    # sixth of the time of filling a new one, and less than half its memory (10,000 articles:
    # 3.3 MiB instead of 8.5).
    values = article.__dict__.copy()
    values.update(changes)
    copied = object.__new__(Article)
    object.__setattr__(copied, "__dict__", values)
    return copied


def _assembled(values: dict[str, Any]) -> Article:
    """An article from a value for every one of its fields, without ``__init__`` (frozen
    dataclasses set each field through object.__setattr__ there)."""
    article = object.__new__(Article)
    article.__dict__.update(values)
    return article


_DATES = ("date", "updated")
_TUPLES = ("authors", "author_emails", "tags", "inferred")
_PLACEMENT = {"feed_id": "", "link": "", "page": None}
# What the content cache keeps of an article, in this order: not the body (read again from the
# file when an output needs it), nor where the file is or what the catalog sets.
CACHED_FIELDS = tuple(
    f.name for f in fields(Article) if f.name not in {"source", "body", *_PLACEMENT}
)


def article_to_row(article: Article) -> list[Any]:
    """The article as a JSON array of CACHED_FIELDS (an array decodes in half the time of an
    object with the same values)."""
    row: list[Any] = []
    for name in CACHED_FIELDS:
        value = getattr(article, name)
        if name in _DATES:
            value = value.isoformat() if value is not None else None
        elif name in _TUPLES:
            value = list(value)
        row.append(value)
    return row


def article_from_row(row: list[Any], source: str) -> Article:
    """The article ``article_to_row`` wrote (without its body), for the file ``source``;
    ValueError if the row does not have one value per cached field."""
    if len(row) != len(CACHED_FIELDS):
        raise ValueError(f"a cached article has {len(row)} values, not {len(CACHED_FIELDS)}")
    values = dict(zip(CACHED_FIELDS, row, strict=True))
    for name in _DATES:
        if values[name] is not None:
            values[name] = datetime.fromisoformat(values[name])
    for name in _TUPLES:
        values[name] = tuple(values[name])
    values.update(_PLACEMENT, source=source, body=None)
    return _assembled(values)


_FIELD_NAMES = frozenset(f.name for f in fields(Article))
