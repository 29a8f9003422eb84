"""The key of an output's inputs: equal keys, equal bytes. Every key of the build cache is made
here, by ``key`` (what the last build saw, the base of every output, each output's own key), or
extended by ``within`` when the part added is itself made of keys or names (10,000 article
pages are keyed without 10,000 hashes)."""

from __future__ import annotations

import hashlib

from feedpub import __version__
from feedpub.config import Site, packaged_templates
from feedpub.i18n import catalogue_path, language_of
from feedpub.theme import icon_names


def key(*parts: str) -> str:
    """The key of ``parts``, in their order (file names may carry lone surrogates)."""
    return hashlib.sha256("\x1f".join(parts).encode("utf-8", "surrogatepass")).hexdigest()


def within(base: str, part: str) -> str:
    """The key of ``part`` under ``base``, a key: one of the outputs ``base`` covers."""
    return f"{base}:{part}"


def templates_key(site: Site) -> str:
    """Every template a page could use: the site's own and the packaged ones."""
    parts: list[str] = []
    for folder in (site.templates_dir, packaged_templates()):
        if folder.is_dir():
            for path in sorted(folder.rglob("*")):
                if path.is_file():
                    parts.append(f"{path.relative_to(folder)}:{path.read_bytes().hex()}")
    return key(*parts)


def base_key(site: Site) -> str:
    """What every output depends on: feedpub's version, the settings, the templates and the
    catalogue of the site's language (its words and their translations) and the icons static/
    has (every page links them)."""
    catalogue = catalogue_path(language_of(site.site.language)).read_bytes().hex()
    return key(__version__, repr(site), templates_key(site), catalogue, *icon_names(site))
