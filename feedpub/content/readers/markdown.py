"""Markdown articles: YAML front matter between ``---`` lines, then a CommonMark body."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

from feedpub.config import Site
from feedpub.content.readers.cmark import markdown_to_html
from feedpub.content.readers.common import FIELDS, Findings, Value, make_article, within_budget
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
TOP_KEY = re.compile(r"^([A-Za-z_][\w-]*)[ \t]*:", re.MULTILINE)
# Aliases let a few lines of YAML expand into billions of values; a front matter never
# needs more than this many.
MAX_VALUES = 10_000
# PyYAML builds every node before MAX_VALUES can be counted (about 200 bytes a character of a
# flow list: 2 million tags took 870 MB): a front matter is refused above this size instead.
MAX_FRONT_MATTER = 100_000


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


def split_front_matter(text: str, found: Findings) -> tuple[str, str, int] | None:
    """(front matter, body, line where the body starts), or None with the problem recorded."""
    if not text.startswith("---"):
        found.error(
            1, "no front matter; start the file with a '---' line, 'title:' and 'date:', then '---'"
        )
        return None
    first = FENCE.match(text)
    if not first:
        found.error(1, "the first line must be exactly '---'")
        return None
    close = CLOSE.search(text, first.end())
    if not close:
        found.error(
            1, "the front matter opened on line 1 is never closed; add a '---' line after it"
        )
        return None
    # The front matter starts on line 2, after the fence's own newline; the line numbers
    # reported for its keys and YAML errors count from there.
    front = text[first.end() + 1 : close.start()]
    body = text[close.end() :].lstrip("\n")
    body_line = text[: len(text) - len(body)].count("\n") + 1
    return front, body, body_line


def parse_front_matter(front: str, found: Findings) -> dict[str, Value] | None:
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
    try:
        _count(data, [MAX_VALUES])
    except (_TooBig, RecursionError):
        found.error(
            2,
            f"front matter holds more than {MAX_VALUES} values (YAML aliases?); write plain values",
        )
        return None
    lines = {m.group(1): front.count("\n", 0, m.start()) + 2 for m in TOP_KEY.finditer(front)}
    meta: dict[str, Value] = {}
    for key, value in data.items():
        line = lines.get(str(key), 2)
        if key not in FIELDS:
            found.warning(
                line,
                f"unknown front matter key {str(key)!r} is ignored; "
                f"known keys: {', '.join(FIELDS)}",
            )
            continue
        meta[key] = Value(value, line)
    return meta


def read_markdown(
    path: Path, relpath: str, text: str, site: Site
) -> tuple[Article | None, list[Problem]]:
    found = Findings(relpath)
    parts = split_front_matter(text, found)
    if parts is None:
        return None, found.problems
    front, body, _ = parts
    meta = parse_front_matter(front, found)
    if meta is None:
        return None, found.problems
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
        return parts[1] if parts is not None and within_budget(parts[1], True, found) else ""

    def render(self, body: str) -> str:
        return markdown_to_html(body)


READER = MarkdownReader()
