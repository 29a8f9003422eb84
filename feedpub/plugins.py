"""Plugins: what a site's plugins may add, and the registry their hooks fill.

A plugin is a module named in feedpub.toml (``[site] plugins = ["feedpub_rst"]``) that defines
one function, ``feedpub_plugin(registry)``: it adds readers for more file suffixes, template
filters and transports (by name) to the Registry it is given. config.load checks that each
module imports and has the hook and a version; the hooks run once per process, when a reader,
a filter or a transport is first wanted. A plugin's name and version are part of ``Site``
(``site.site.plugins``), so they enter the build's cache keys with it: a new version of a
plugin rebuilds what it could change.
Imports only the basics (config, errors, model).
"""

from __future__ import annotations

import functools
import importlib
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from feedpub.config import CONFIG_NAME, HOOK, Plugin, Site, key_line
from feedpub.errors import ConfigError, PluginError, Problem
from feedpub.model import Article

# The suffixes feedpub's own readers take (content.readers): a plugin adds others.
BUILTIN_SUFFIXES = frozenset({".md", ".markdown", ".txt"})
_SUFFIX = re.compile(r"^\.[a-z0-9][a-z0-9_-]{0,15}$")
_FILTER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")
_TRANSPORT = re.compile(r"^[a-z0-9][a-z0-9_-]{0,31}$")
# The transports feedpub has itself (delivery.transport): a plugin adds others.
BUILTIN_TRANSPORTS = frozenset({"smtp", "outbox"})

Filter = Callable[..., Any]


@runtime_checkable
class Reader(Protocol):
    """Reads one kind of article file: its front matter into an Article, its body into HTML."""

    def read(
        self, path: Path, relpath: str, text: str, site: Site
    ) -> tuple[Article | None, list[Problem]]:
        """The article in ``text`` (the file, decoded) with its body as written, or None when
        it cannot be published, and every problem found, each naming ``relpath``."""
        ...

    def body(self, path: Path, relpath: str, text: str, site: Site) -> str:
        """The body as written of a file read before: its front matter was checked then."""
        ...

    def render(self, body: str) -> str:
        """The body as an HTML fragment; relative links stay relative."""
        ...


class Registry:
    """What the site's plugins add; each plugin's hook is called with it once."""

    def __init__(self) -> None:
        self.readers: dict[str, Reader] = {}
        self.filters: dict[str, Filter] = {}
        # name -> factory(site, batch) -> transports; see delivery.transport.TransportFactory.
        self.transports: dict[str, Callable[..., Any]] = {}

    def add_reader(self, suffix: str, reader: Reader) -> None:
        """Read the files whose name ends in ``suffix`` (like '.rst') with ``reader``."""
        if not _SUFFIX.match(suffix):
            raise PluginError(f"{suffix!r} is not a file suffix; give one like '.rst'")
        if suffix in BUILTIN_SUFFIXES or suffix in self.readers:
            raise PluginError(f"the suffix {suffix!r} already has a reader")
        if not isinstance(reader, Reader):
            raise PluginError(f"the reader for {suffix!r} lacks read, body or render")
        self.readers[suffix] = reader

    def add_filter(self, name: str, function: Filter) -> None:
        """Make ``function`` a template filter: ``{{ value | name }}`` in every template."""
        if not _FILTER.match(name):
            raise PluginError(f"{name!r} is not a filter name; use letters, digits and _")
        if name in self.filters:
            raise PluginError(f"the filter {name!r} is added twice")
        if not callable(function):
            raise PluginError(f"the filter {name!r} is not a function")
        self.filters[name] = function

    def add_transport(self, name: str, factory: Callable[..., Any]) -> None:
        """Send through ``factory``'s transports when a send asks for ``name``: it is called as
        ``factory(site, batch)`` and returns objects with open(), send(sender, recipient,
        data) and close() (delivery.transport.Transport), one per connection."""
        if not _TRANSPORT.match(name):
            raise PluginError(f"{name!r} is not a transport name; use a-z, digits, - and _")
        if name in BUILTIN_TRANSPORTS or name in self.transports:
            raise PluginError(f"the transport name {name!r} is taken")
        if not callable(factory):
            raise PluginError(f"the transport {name!r} is not a function")
        self.transports[name] = factory


def registry(site: Site) -> Registry:
    """What the site's plugins add (empty without plugins). A hook that fails, or adds what it
    may not, is a ConfigError on the [site] plugins line, like a wrong setting."""
    try:
        return _registry(site.site.plugins)
    except PluginError as failed:
        try:
            line = key_line(site.config_path.read_text("utf-8-sig"), "site", "plugins")
        except (OSError, UnicodeDecodeError):
            line = 0
        raise ConfigError([Problem(CONFIG_NAME, line, "error", str(failed))]) from None


@functools.cache  # a failure is not cached: the next call raises it again
def _registry(plugins: tuple[Plugin, ...]) -> Registry:
    made = Registry()
    for plugin in plugins:
        # Imported and checked by config.load: in sys.modules already.
        hook = getattr(importlib.import_module(plugin.name), HOOK)
        try:
            hook(made)
        except PluginError as exc:
            raise PluginError(f"[site] plugins {plugin.name!r}: {exc}") from None
        except Exception as exc:  # the plugin's own code: any failure is named
            raise PluginError(
                f"[site] plugins {plugin.name!r}: {HOOK}() failed: {type(exc).__name__}: "
                f"{exc}; fix the plugin or remove it from the list"
            ) from None
    return made
