"""What a build's output depends on, seen through file metadata only.

When every input file has the size and modification time it had at the last build, the
settings and the issues are the same, no scheduled article has fallen due, and every output
file the last build wrote is still there, a build has nothing to do: it looks at metadata and
stops, without reading a file.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, NamedTuple

from feedpub import __version__
from feedpub.config import Site
from feedpub.content import tree
from feedpub.errors import Problem
from feedpub.store.state import State

META_KEY = "build_snapshot"


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
    return Taken(_hash(parts), parts[0])


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
    issues = state.db.execute(
        "SELECT number, status, length(html), length(subject) FROM issues ORDER BY number"
    ).fetchall()
    parts.append(repr(issues))
    return _hash(parts)


def _hash(parts: list[str]) -> str:
    return hashlib.sha256("\n".join(parts).encode("utf-8", "surrogateescape")).hexdigest()


@dataclass
class Snapshot:
    """What the last complete build saw, and what it reported."""

    hash: str
    until: str | None  # the earliest scheduled article: the output changes then
    articles: int
    scheduled: int
    drafts: int
    feeds: int
    problems: list[Problem] = field(default_factory=list)

    def dump(self) -> str:
        data: dict[str, Any] = dict(self.__dict__)
        data["problems"] = [p.row() for p in self.problems]
        return json.dumps(data)

    @classmethod
    def load(cls, text: str | None) -> Snapshot | None:
        if not text:
            return None
        try:
            data = json.loads(text)
            data["problems"] = [Problem(*p) for p in data["problems"]]
            return cls(**data)
        except (ValueError, TypeError, KeyError):
            return None

    def still_valid(self, current: Taken, now: datetime) -> bool:
        return self.hash == current.hash and (
            self.until is None or now < datetime.fromisoformat(self.until)
        )


def outputs_present(site: Site, outputs: dict[str, str]) -> bool:
    root = str(site.output_dir)
    return bool(outputs) and all(os.path.isfile(os.path.join(root, path)) for path in outputs)
