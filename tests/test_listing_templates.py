"""The packaged list templates show of an article only what line_key and card_key cover.

While a site overrides none of them (pages.lists_show_lines_and_cards), a list's key is made
of those keys only, and a body edit is rebuilt without rendering the lists again: a field the
templates show and the keys leave out would stay stale on every list. The templates are parsed
with Jinja2 and walked for every use of an article."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import jinja2
import pytest
from jinja2 import nodes

from feedpub.config import packaged_templates
from feedpub.model import Article, evolve
from feedpub.site.pages import LISTING_TEMPLATES, card_key, line_key

# The names the list templates hold articles in: a loop over these gives one article each.
LISTS = {"articles", "group"}
# What the pages hand the templates that take an article, and the fields each shows. card
# renders card.html, a listing template walked as the others; summary shows the lead, image
# the picture (its URL).
CALLS: dict[str, set[str]] = {"card": set(), "summary": {"lead"}, "image": {"image"}}
# Filters whose string arguments name an article's attribute (groupby("date.year")).
BY_ATTRIBUTE = {"groupby", "sort", "map", "selectattr", "rejectattr", "sum", "unique", "min", "max"}


def covered() -> set[str]:
    """The fields of an article that line_key or card_key change with, found by changing each."""
    base = Article(
        source="content/a.md",
        relpath="content/a.md",
        title="A",
        date=datetime(2026, 11, 20, 9, 0),
        body="Body.",
        body_format="markdown",
        content_hash="h",
        feed_id="urn:a",
        link="https://example.org/a/",
        lead="Lead.",
        authors=("Ann",),
    )
    found = set()
    for field in dataclasses.fields(Article):
        value = getattr(base, field.name)
        other: object
        if isinstance(value, bool):
            other = not value
        elif isinstance(value, str):
            other = value + "x"
        elif isinstance(value, datetime):
            other = value + timedelta(days=1)
        elif isinstance(value, tuple):
            other = (*value, "x")
        else:  # None
            other = "x"
        changed = evolve(base, **{field.name: other})
        if line_key(changed) != line_key(base) or card_key(changed) != card_key(base):
            found.add(field.name)
    return found


def _mentions(node: nodes.Node, names: set[str]) -> bool:
    return any(n.name in names for n in node.find_all(nodes.Name)) or (
        isinstance(node, nodes.Name) and node.name in names
    )


def _uses(node: nodes.Node, articles: set[str], parent: nodes.Node | None) -> Iterator[str]:
    """Each field of an article that ``node`` uses: ``*`` for an article used whole (printed,
    say), ``call:NAME`` for an article handed to NAME, ``macro:NAME`` for any call of NAME."""
    if (
        isinstance(node, nodes.For)
        and isinstance(node.target, nodes.Name)
        and _mentions(node.iter, LISTS)
    ):
        articles = articles | {node.target.name}
    if isinstance(node, nodes.Name) and node.ctx == "load" and node.name in articles:
        if isinstance(parent, nodes.Getattr):
            yield parent.attr
        elif isinstance(parent, nodes.Getitem) and isinstance(parent.arg, nodes.Const):
            yield str(parent.arg.value)
        elif isinstance(parent, nodes.Call) and isinstance(parent.node, nodes.Name):
            yield f"call:{parent.node.name}"
        else:
            yield "*"
    if isinstance(node, nodes.Call) and isinstance(node.node, nodes.Name):
        yield f"macro:{node.node.name}"  # a macro of _macros.html shows what its body shows
    if (
        isinstance(node, nodes.Filter)
        and node.name in BY_ATTRIBUTE
        and node.node is not None
        and _mentions(node.node, LISTS)
    ):
        given = [*node.args, *(kw.value for kw in node.kwargs if kw.key == "attribute")]
        for argument in given:
            if isinstance(argument, nodes.Const) and isinstance(argument.value, str):
                yield argument.value.split(".")[0]
    for child in node.iter_child_nodes():
        yield from _uses(child, articles, node)


def fields_shown(folder: Path, names: frozenset[str]) -> set[str]:
    """The fields of an article that the templates ``names`` show, through the macros they
    call (a macro of _macros.html no list calls, such as the article page's, is left out)."""
    env = jinja2.Environment()
    top: set[str] = set()
    macros: dict[str, set[str]] = {}
    for name in sorted(names):
        tree = env.parse((folder / name).read_text(encoding="utf-8"))
        for macro in tree.find_all(nodes.Macro):
            params = {arg.name for arg in macro.args}
            macros[macro.name] = {
                use for child in macro.body for use in _uses(child, params & {"article"}, macro)
            }
        for child in tree.body:
            if not isinstance(child, nodes.Macro):
                # card.html is handed its article as ``article``.
                top.update(_uses(child, {"article"}, tree))
    shown: set[str] = set()
    pending = set(top)
    expanded: set[str] = set()
    while pending:
        use = pending.pop()
        kind, _, callee = use.partition(":")
        if not callee:
            shown.add(use)
        elif callee in macros:
            if callee not in expanded:
                expanded.add(callee)
                pending |= macros[callee]
        elif kind == "call":
            # A function of the pages handed an article: what it shows, or anything of it.
            shown |= CALLS.get(callee, {f"{callee}(article)"})
    return shown


def test_the_keys_cover_what_they_say() -> None:
    covers = {"link", "title", "date", "authors", "lead", "image", "image_alt", "lang"}
    assert covered() == covers


def test_the_packaged_lists_show_only_what_their_keys_cover() -> None:
    shown = fields_shown(packaged_templates(), LISTING_TEMPLATES)
    assert shown  # the walk finds the fields: title, link, date...
    assert {"title", "link", "date"} <= shown
    assert shown - covered() == set(), "line_key/card_key must cover these too"


@pytest.mark.parametrize(
    ("template", "added", "found"),
    [
        ("archive.html", "{{ article.tags }}", "tags"),
        ("card.html", "{{ article['summary'] }}", "summary"),
        ("card.html", "{{ thumbnail(article) }}", "thumbnail(article)"),
        ("card.html", "{{ article }}", "*"),
        ("_macros.html", "{{ article.slug }}", "slug"),  # inside byline, which cards call
    ],
)
def test_a_field_the_keys_do_not_cover_is_found(
    tmp_path: Path, template: str, added: str, found: str
) -> None:
    for name in LISTING_TEMPLATES:
        text = (packaged_templates() / name).read_text(encoding="utf-8")
        if name == template:
            if name == "_macros.html":
                text = text.replace("{% endmacro %}", added + "{% endmacro %}", 1)
            elif name == "card.html":
                text = text.replace("</h2>", "</h2>" + added)
            else:
                text = text.replace("</li>", added + "</li>")
        (tmp_path / name).write_text(text, encoding="utf-8")
    assert found in fields_shown(tmp_path, LISTING_TEMPLATES) - covered()
