"""Markdown articles: front matter, then a CommonMark body.

The front matter is YAML between ``---`` lines (Jekyll's and feedpub's own form), TOML between
``+++`` lines (Hugo's), or Pelican's ``Key: value`` lines from the first line to the first
blank one (Python-Markdown's meta extension, which Pelican reads); all three give the same
fields (common.front_matter_fields).
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Any, Literal, NamedTuple

import yaml

from feedpub.config import Site
from feedpub.content.readers.cmark import markdown_to_html
from feedpub.content.readers.common import (
    ALIASES,
    FIELDS,
    IGNORED,
    Findings,
    Value,
    front_matter_fields,
    make_article,
    within_budget,
)
from feedpub.errors import Problem
from feedpub.model import Article

try:  # the C loader is several times faster; PyYAML without libyaml falls back to Python.
    _Base: Any = yaml.CSafeLoader
except AttributeError:  # pragma: no cover - depends on how PyYAML was built
    _Base = yaml.SafeLoader


# Far more digits than any front matter number needs; Python refuses to print an int of
# over 4300 digits (sys.get_int_max_str_digits), which a later check would try.
MAX_INT_BITS = 10_000


def _or_text(construct: Any, *errors: type[Exception]) -> Any:
    """A scalar constructor that keeps the value as text where PyYAML cannot build it
    (``!!int abc``, ``!!bool maybe``, ``2026-13-45``, a number of 5000 digits) instead of
    raising a bare ValueError, KeyError or AttributeError; the checks then report such a
    value with its line like any other wrong value. Only these tags are wrapped: a wrapper
    around every node cost a third of the time of reading front matter."""

    def build(loader: Any, node: Any) -> Any:
        try:
            value = construct(loader, node)
        except errors:
            return loader.construct_scalar(node)
        if isinstance(value, int) and value.bit_length() > MAX_INT_BITS:
            return loader.construct_scalar(node)
        return value

    return build


_YAML = "tag:yaml.org,2002:"
# Scalar tags whose constructors return a value (the collection ones are generators).
_SCALAR_TAGS = frozenset(_YAML + t for t in "str int float bool null timestamp binary".split())


class _Loader(_Base):  # type: ignore[misc]
    """The safe loader, with the scalar types that can fail kept as text when they do."""

    def construct_document(self, node: Any) -> Any:
        """Front matter is nearly always a flat mapping of scalars and lists of scalars: such
        a document is built here by calling the scalar constructors directly, without the
        general machinery's bookkeeping for aliases and recursion (a third of the time of
        loading it). Anything else (aliases, merge keys, nesting, other tags) goes the
        general way; both give the same value."""
        flat = _flat_mapping(self, node)
        return flat if flat is not None else super().construct_document(node)


def _flat_mapping(loader: Any, node: Any) -> dict[Any, Any] | None:
    if not isinstance(node, yaml.MappingNode) or node.tag != _YAML + "map":
        return None
    constructors = loader.yaml_constructors
    seen: set[int] = set()

    def scalar(item: Any) -> tuple[bool, Any]:
        if (
            not isinstance(item, yaml.ScalarNode)
            or item.tag not in _SCALAR_TAGS
            or id(item) in seen
        ):
            return False, None
        seen.add(id(item))
        return True, constructors[item.tag](loader, item)

    data: dict[Any, Any] = {}
    for key_node, value_node in node.value:
        ok, key = scalar(key_node)
        if not ok:
            return None
        if isinstance(value_node, yaml.SequenceNode):
            if value_node.tag != _YAML + "seq" or id(value_node) in seen:
                return None
            seen.add(id(value_node))
            items = []
            for item_node in value_node.value:
                ok, item = scalar(item_node)
                if not ok:
                    return None
                items.append(item)
            value: Any = items
        else:
            ok, value = scalar(value_node)
            if not ok:
                return None
        data[key] = value
    return data


for _tag, _construct, _errors in (
    ("int", _Base.construct_yaml_int, (ValueError,)),
    ("float", _Base.construct_yaml_float, (ValueError,)),
    ("bool", _Base.construct_yaml_bool, (KeyError,)),
    ("timestamp", _Base.construct_yaml_timestamp, (ValueError, AttributeError)),
):
    _Loader.add_constructor(f"tag:yaml.org,2002:{_tag}", _or_text(_construct, *_errors))

FENCE = re.compile(r"^---[ \t]*$", re.MULTILINE)
CLOSE = re.compile(r"^(?:---|\.\.\.)[ \t]*$", re.MULTILINE)
TOML_FENCE = re.compile(r"^\+\+\+[ \t]*$", re.MULTILINE)
TOP_KEY = re.compile(r"^([A-Za-z_][\w-]*)[ \t]*:", re.MULTILINE)
# A TOML key at the top (a dotted key's first part) or a table's header: the line a key's
# problem is reported on. Keys inside a table come after its header and are not top keys.
TOML_KEY = re.compile(r"^[ \t]*(?:\[\[?[ \t]*)?([A-Za-z0-9_-]+)[ \t]*[.=\]]", re.MULTILINE)
PELICAN_LINE = re.compile(r"([A-Za-z][\w-]*)[ \t]*:(.*)")
# Python-Markdown's meta extension: a value goes on over lines indented by 4 spaces or a tab.
PELICAN_MORE = re.compile(r"(?: {4}|\t)[ \t]*(\S.*)")
PELICAN_LISTS = frozenset({"tags", "authors", "author"})
_DRAFT_WORDS = {"yes": True, "true": True, "no": False, "false": False}
# Aliases let a few lines of YAML expand into billions of values; a front matter never
# needs more than this many.
MAX_VALUES = 10_000
# PyYAML builds every node before MAX_VALUES can be counted (about 200 bytes a character of a
# flow list: 2 million tags took 870 MB): a front matter is refused above this size instead.
MAX_FRONT_MATTER = 100_000

Form = Literal["yaml", "toml", "pelican"]


class FrontMatter(NamedTuple):
    """A file cut in two: its front matter's text, its form, and the body."""

    text: str
    body: str
    body_line: int
    form: Form


class _TooBig(Exception):
    pass


def _count(value: Any, budget: list[int]) -> None:
    budget[0] -= 1
    if budget[0] < 0:
        raise _TooBig
    if isinstance(value, dict):
        for key, item in value.items():
            _count(key, budget)
            _count(item, budget)
    elif isinstance(value, list):
        for item in value:
            _count(item, budget)


def _opens_pelican_header(text: str) -> bool:
    # Only a key feedpub knows counts: a Markdown file may well start with "Note: ...".
    first = PELICAN_LINE.fullmatch(text.split("\n", 1)[0].rstrip())
    if first is None:
        return False
    key = first.group(1).casefold()
    return key in FIELDS or key in ALIASES or key in IGNORED


def split_front_matter(text: str, found: Findings) -> FrontMatter | None:
    """The front matter and the body, or None with the problem recorded."""
    if text.startswith("+++"):
        return _fenced(text, found, TOML_FENCE, TOML_FENCE, "+++", "toml")
    if text.startswith("---"):
        return _fenced(text, found, FENCE, CLOSE, "---", "yaml")
    if _opens_pelican_header(text):
        end = re.search(r"^[ \t]*$", text, re.MULTILINE)
        cut = len(text) if end is None else end.start()
        body = text[cut:].lstrip(" \t\n")
        body_line = text[: len(text) - len(body)].count("\n") + 1
        return FrontMatter(text[:cut], body, body_line, "pelican")
    found.error(
        1, "no front matter; start the file with a '---' line, 'title:' and 'date:', then '---'"
    )
    return None


def _fenced(
    text: str,
    found: Findings,
    opening: re.Pattern[str],
    closing: re.Pattern[str],
    fence: str,
    form: Form,
) -> FrontMatter | None:
    first = opening.match(text)
    if not first:
        found.error(1, f"the first line must be exactly '{fence}'")
        return None
    close = closing.search(text, first.end())
    if not close:
        found.error(
            1, f"the front matter opened on line 1 is never closed; add a '{fence}' line after it"
        )
        return None
    # The front matter starts on line 2, after the fence's own newline; the line numbers
    # reported for its keys and errors count from there.
    front = text[first.end() + 1 : close.start()]
    body = text[close.end() :].lstrip("\n")
    body_line = text[: len(text) - len(body)].count("\n") + 1
    return FrontMatter(front, body, body_line, form)


def _too_big(front: str, found: Findings) -> bool:
    if len(front) <= MAX_FRONT_MATTER:
        return False
    found.error(
        2,
        f"the front matter is {len(front)} characters; keep it under {MAX_FRONT_MATTER} "
        "(the body goes after the closing fence)",
    )
    return True


def _counted(data: Any, found: Findings) -> bool:
    try:
        _count(data, [MAX_VALUES])
    except (_TooBig, RecursionError):
        found.error(
            2,
            f"front matter holds more than {MAX_VALUES} values (YAML aliases?); write plain values",
        )
        return False
    return True


def parse_front_matter(front: str, found: Findings) -> dict[str, Value] | None:
    """YAML front matter (between ``---`` lines, from line 2)."""
    if len(front) > MAX_FRONT_MATTER:
        found.error(
            2,
            f"the front matter is {len(front)} characters; keep it under {MAX_FRONT_MATTER} "
            "(the body goes after the closing '---')",
        )
        return None
    try:
        data = yaml.load(front, Loader=_Loader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 2 if mark is not None else 1
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        found.error(line, f"front matter is not valid YAML: {problem}")
        return None
    except RecursionError:
        found.error(2, "front matter is nested too deeply")
        return None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        found.error(2, "front matter must be 'key: value' lines, not a list or a single value")
        return None
    if not _counted(data, found):
        return None
    lines = {m.group(1): front.count("\n", 0, m.start()) + 2 for m in TOP_KEY.finditer(front)}
    return front_matter_fields(data, lines, found)


def parse_toml(front: str, found: Findings) -> dict[str, Value] | None:
    """Hugo's TOML front matter (between ``+++`` lines, from line 2)."""
    if _too_big(front, found):
        return None
    try:
        data = tomllib.loads(front)
    except tomllib.TOMLDecodeError as exc:
        where = re.search(r"\(at line (\d+)", str(exc))
        line = int(where.group(1)) + 1 if where else 2
        problem = re.sub(r"\s*\(at (?:line \d+, column \d+|end of document)\)", "", str(exc))
        found.error(line, f"front matter is not valid TOML: {problem}")
        return None
    except RecursionError:
        found.error(2, "front matter is nested too deeply")
        return None
    if not _counted(data, found):
        return None
    lines: dict[str, int] = {}
    for match in TOML_KEY.finditer(front):
        lines.setdefault(match.group(1), front.count("\n", 0, match.start()) + 2)
    return front_matter_fields(data, lines, found)


def parse_pelican(front: str, found: Findings) -> dict[str, Value] | None:
    """Pelican's ``Key: value`` header (from line 1); every value is text, as Pelican reads
    it, but ``draft``'s yes/no."""
    if _too_big(front, found):
        return None
    data: dict[str, Any] = {}
    lines: dict[str, int] = {}
    spelled: dict[str, str] = {}  # the key as first written, by its folded form
    current: str | None = None
    for number, line in enumerate(front.rstrip("\n").split("\n"), 1):
        more = PELICAN_MORE.fullmatch(line)
        if more and current is not None:
            data[current] = f"{data[current]} {more.group(1).strip()}".strip()
            continue
        pair = PELICAN_LINE.fullmatch(line.strip())
        if pair is None:
            found.error(
                number,
                f"line {number} in the metadata header is not 'Key: value'; "
                "end the header with a blank line",
            )
            current = None
            continue
        key = spelled.setdefault(pair.group(1).casefold(), pair.group(1))
        if key in data:
            found.warning(number, f"'{pair.group(1)}' given twice; using the last")
        current = key
        data[key] = pair.group(2).strip()
        lines[key] = number
    if found.failed:
        return None
    for key, value in data.items():
        folded = key.casefold()
        if folded == "draft":
            data[key] = _DRAFT_WORDS.get(value.casefold(), value)
        elif folded in PELICAN_LISTS and ";" in value:
            # Pelican's own rule: with a semicolon in it, a list is split there, so that
            # names can hold commas ("Doyle, Conan; Metaireau, Alexis").
            data[key] = [part.strip() for part in value.split(";")]
    return front_matter_fields(data, lines, found, default_line=1)


# Pelican's links to its static files, {static}/images/a.png (and |static| before 3.7; {attach}
# too), name the file from the content folder's root, where static/ holds it here: the path
# from the site's root.
_PELICAN_STATIC = re.compile(r"(?:\{(?:static|attach)\}|\|(?:static|attach)\|)(?=/)")


def _pelican_links(body: str) -> str:
    return _PELICAN_STATIC.sub("", body)


_PARSERS = {"yaml": parse_front_matter, "toml": parse_toml, "pelican": parse_pelican}


def read_markdown(
    path: Path, relpath: str, text: str, site: Site
) -> tuple[Article | None, list[Problem]]:
    found = Findings(relpath)
    parts = split_front_matter(text, found)
    if parts is None:
        return None, found.problems
    meta = _PARSERS[parts.form](parts.text, found)
    if meta is None:
        return None, found.problems
    body = _pelican_links(parts.body) if parts.form == "pelican" else parts.body
    article = make_article(path, relpath, meta, body, "markdown", site, found)
    return article, found.problems


class MarkdownReader:
    """feedpub's reader of .md and .markdown files (plugins.Reader)."""

    def read(
        self, path: Path, relpath: str, text: str, site: Site
    ) -> tuple[Article | None, list[Problem]]:
        return read_markdown(path, relpath, text, site)

    def body(self, path: Path, relpath: str, text: str, site: Site) -> str:
        # Only the body is wanted: the front matter was checked when the article was read,
        # so it is cut off, not parsed again.
        found = Findings(relpath)
        parts = split_front_matter(text, found)
        # Checked again: the file may have changed since it was read.
        if parts is None or not within_budget(parts.body, True, found):
            return ""
        return _pelican_links(parts.body) if parts.form == "pelican" else parts.body

    def render(self, body: str) -> str:
        return markdown_to_html(body)


READER = MarkdownReader()
