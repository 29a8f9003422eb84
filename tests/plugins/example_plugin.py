"""An example feedpub plugin: a reader for .note files, a template filter and a transport.

A .note file is ``key: value`` lines (the keys of Markdown front matter), a blank line, then
paragraphs in which ``*words*`` are emphasised. The filter ``shout`` upper-cases a text and
adds an exclamation mark. The transport ``example-files`` writes each message to
``.feedpub/example-files/BATCH/ADDRESS.eml``, where an HTTP API transport would post it. The
README's Plugins section walks through this file.
"""

from __future__ import annotations

import html
import re
from pathlib import Path

from feedpub.config import Site
from feedpub.content.readers.common import Findings, Value, make_article
from feedpub.errors import Problem
from feedpub.model import Article
from feedpub.plugins import Registry

__version__ = "1.0"

_EMPHASIS = re.compile(r"\*([^*\n]+)\*")
_LIST_KEYS = {"tags", "authors", "categories"}


class NoteReader:
    def read(
        self, path: Path, relpath: str, text: str, site: Site
    ) -> tuple[Article | None, list[Problem]]:
        found = Findings(relpath)
        header, _, body = text.partition("\n\n")
        meta: dict[str, Value] = {}
        for number, line in enumerate(header.splitlines(), start=1):
            key, colon, value = line.partition(":")
            if not colon:
                found.error(number, "expected 'key: value'; end the header with a blank line")
                continue
            key, value = key.strip().lower(), value.strip()
            items = [v.strip() for v in value.split(",") if v.strip()]
            meta[key] = Value(items if key in _LIST_KEYS else value, number)
        article = make_article(path, relpath, meta, body.strip(), "markdown", site, found)
        return article, found.problems

    def body(self, path: Path, relpath: str, text: str, site: Site) -> str:
        return text.partition("\n\n")[2].strip()

    def render(self, body: str) -> str:
        paragraphs = [p for p in body.split("\n\n") if p.strip()]
        return "".join(
            "<p>" + _EMPHASIS.sub(r"<em>\1</em>", html.escape(p, quote=False)) + "</p>\n"
            for p in paragraphs
        )


def shout(text: str) -> str:
    return f"{text.upper()}!"


class FileTransport:
    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def open(self) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)

    def send(self, sender: str, recipient: str, data: bytes) -> None:
        (self.folder / f"{recipient}.eml").write_bytes(data)

    def close(self) -> None:
        pass


def file_transports(site: Site, batch: str) -> list[FileTransport]:
    return [FileTransport(site.state_dir / "example-files" / batch)]


def feedpub_plugin(registry: Registry) -> None:
    registry.add_reader(".note", NoteReader())
    registry.add_filter("shout", shout)
    registry.add_transport("example-files", file_transports)
