"""What the last complete build saw and published: one record, which every build reads.

A build first takes what it will read, by file metadata only (``take``): the settings,
templates, static files and issues (the ``basis``), and the size and time of every content
file. When all of it is as the record says, no scheduled article has fallen due and every
output the last build wrote is still there, the build has nothing to do: it stops without
reading a file. When only a few articles' bodies changed, the record's lists (each published
article's feed id, each feed's articles) let the quick rebuild (``incremental``) render just
the outputs that show them. Any other build reads the whole catalog. Every complete build,
quick or full, keeps its record in the transaction that records its outputs (build.commit).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field, fields, replace
from datetime import datetime
from pathlib import Path
from typing import Any, NamedTuple

from feedpub import __version__
from feedpub.config import Site
from feedpub.content import tree
from feedpub.errors import Problem
from feedpub.site.cache.keys import key
from feedpub.store import cache
from feedpub.store.state import State

# A feed as the record keeps it: folder, title, description, home, and its articles' paths.
Feed = tuple[str, str, str, str, list[str]]


def _walk(top: Path, parts: list[str], label: str, allowed: tree.Roots) -> None:
    """The metadata of the files a build would read from ``top``, walked as the build walks
    (tree.walk: no folder link followed, so a loop cannot hang it), and the walk's problems."""
    found = tree.walk(top, label, allowed)
    parts.extend(f"{label}:{path}:{info.st_size}:{info.st_mtime_ns}" for path, info in found.files)
    parts.extend(f"{label}:{problem}" for problem in found.problems)


class Taken(NamedTuple):
    """What a build reads, by metadata: ``hash`` covers all of it, ``basis`` all but content/
    (the settings, templates, static files and newsletter issues)."""

    hash: str
    basis: str


def take(site: Site, state: State, templates: Path) -> Taken:
    parts = [basis(site, state, templates)]
    _walk(site.content_dir, parts, "content", tree.of_site(site))
    return Taken(key(*parts), parts[0])


def basis(site: Site, state: State, templates: Path) -> str:
    parts = [__version__, repr(site)]
    allowed = tree.of_site(site)
    packaged = tree.Roots.of([os.path.realpath(templates)])
    for label, folder, roots in (
        ("templates", site.templates_dir, allowed),
        ("packaged", templates, packaged),
        ("static", site.static_dir, allowed),
    ):
        _walk(folder, parts, label, roots)
    parts.append(repr(cache.issues_seen(state)))
    return key(*parts)


@dataclass(frozen=True)
class LastBuild:
    """The record of the last complete build: what it saw, what it published, what it said."""

    hash: str | None  # Taken.hash; None when the build did not take it (run's publish)
    basis: str  # Taken.basis
    until: str | None  # the earliest scheduled article's date: the output changes then
    newest: str | None  # the newest published article's date: before it, the lists differ
    articles: int
    scheduled: int
    drafts: int
    feed_files: int
    # Each published article's path -> its feed id, and each feed (the site's main feed
    # first); None when the site's own templates make its lists, which may show anything of
    # an article: then no edit is rebuilt without the catalog.
    ids: dict[str, str] | None
    feeds: list[Feed] | None
    problems: list[Problem] = field(default_factory=list)

    def dump(self) -> str:
        data: dict[str, Any] = {f.name: getattr(self, f.name) for f in fields(self)}
        data["problems"] = [p.row() for p in self.problems]
        return json.dumps(data, ensure_ascii=False)

    @classmethod
    def load(cls, text: str | None) -> LastBuild | None:
        """The record ``dump`` wrote; None for anything else (a hand-edited state, a record
        of an older feedpub): the build then reads everything."""
        if not text:
            return None
        try:
            data = json.loads(text)
            data["problems"] = [Problem(*p) for p in data["problems"]]
            if data["feeds"] is not None:
                data["feeds"] = [(f[0], f[1], f[2], f[3], list(f[4])) for f in data["feeds"]]
            record = cls(**data)
            for moment in (record.until, record.newest):
                if moment is not None:
                    datetime.fromisoformat(moment)
            return record if record._well_formed() else None
        except (ValueError, TypeError, KeyError, IndexError):
            return None

    def _well_formed(self) -> bool:
        """What the builds rely on has the types they expect."""
        if not isinstance(self.basis, str) or not isinstance(self.hash, str | None):
            return False
        if (self.ids is None) != (self.feeds is None):
            return False
        if self.ids is None or self.feeds is None:
            return True
        if not isinstance(self.ids, dict) or not all(isinstance(i, str) for i in self.ids.values()):
            return False
        if not all(isinstance(p, str) for f in self.feeds for p in (*f[:4], *f[4])):
            return False
        return bool(self.feeds) and self.feeds[0][0] == ""  # the main feed comes first

    def still_valid(self, current: Taken, now: datetime) -> bool:
        """Whether a build of ``current`` at ``now`` has nothing to do (outputs present)."""
        return self.hash == current.hash and (
            self.until is None or now < datetime.fromisoformat(self.until)
        )

    def seen(self, taken: str | None) -> LastBuild:
        """This record, of a build that took ``taken`` (Taken.hash) before reading."""
        return replace(self, hash=taken)


def outputs_present(site: Site, outputs: dict[str, str]) -> bool:
    root = str(site.output_dir)
    return bool(outputs) and all(os.path.isfile(os.path.join(root, path)) for path in outputs)
