"""The markup of the built pages under odd input: machine dates that HTML accepts, settings
text without control characters, names and titles isolated from the text around them.

The pages are parsed with html5lib (as browsers and the Nu checker parse them)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import html5lib
import pytest
from helpers import SETTINGS, MakeSite, article, make_issue, publish

from feedpub import config
from feedpub.delivery.web import WebApp
from feedpub.errors import ConfigError

NS = "{http://www.w3.org/1999/xhtml}"
# HTML's valid global date and time string (or local, without a zone): seconds may have at
# most three decimals, the offset is whole minutes.
HTML_DATETIME = re.compile(r"\d{4,}-\d\d-\d\dT\d\d:\d\d(:\d\d(\.\d{1,3})?)?(Z|[+-]\d\d:\d\d)?")


def pages(root: Path) -> dict[str, Any]:
    """Every HTML page of the built site, parsed, by its path under public/."""
    public = root / "public"
    return {
        path.relative_to(public).as_posix(): html5lib.parse(
            path.read_bytes(), treebuilder="etree", namespaceHTMLElements=True
        )
        for path in sorted(public.rglob("*.html"))
    }


def test_every_time_element_has_a_valid_html_datetime(make_site: MakeSite) -> None:
    root = make_site(
        {
            # Microseconds in the date, and an update that is shown with its own <time>.
            "micro.md": article(
                "Micro",
                date="2026-11-20T09:00:00.123456+01:00",
                updated="2026-11-21T10:30:15.999999+01:00",
                tags="odd",
            ),
            # Berlin's local mean time in 1850 is +00:53:28, an offset HTML cannot write.
            "old.md": article("Old", date="1850-06-01 09:00"),
        }
    )
    publish(root)
    seen = []
    for name, tree in pages(root).items():
        for element in tree.iter(f"{NS}time"):
            value = element.get("datetime")
            seen.append(value)
            assert HTML_DATETIME.fullmatch(value), f"{name}: <time datetime={value!r}>"
    assert "2026-11-20T09:00:00+01:00" in seen
    assert "2026-11-21T10:30:15+01:00" in seen
    assert "1850-06-01T08:06:32+00:00" in seen


NEWSLETTER = """
[newsletter]
name = "Letters"
from = "Desk <desk@example.org>"
schedule = "manual"
"""

# Settings that reach pages, feeds or the digest, by section, as TOML lines.
TEXT_SETTINGS = {
    "site": {
        "title": '"Test Gazette"',
        "url": '"https://news.example.org/"',
        "description": '"A site for tests"',
        "author": '"Desk"',
    },
    "newsletter": {
        "name": '"Letters"',
        "from": '"Desk <desk@example.org>"',
        "reply_to": '"desk@example.org"',
        "subject": '"{{ newsletter.name }}"',
        "tags": '["news"]',
    },
}


def settings_with(section: str, key: str, written: str) -> tuple[str, int]:
    """TEXT_SETTINGS as a feedpub.toml with ``key = written`` in ``section``, and its line."""
    lines, at = [], 0
    for name, values in TEXT_SETTINGS.items():
        lines.append(f"[{name}]")
        for other, value in values.items():
            if (name, other) == (section, key):
                value, at = written, len(lines) + 1
            lines.append(f"{other} = {value}")
    return "\n".join(lines) + "\n", at


HEADER_SETTINGS = {
    ("site", "title"),
    ("newsletter", "name"),
    ("newsletter", "from"),
    ("newsletter", "reply_to"),
    ("newsletter", "subject"),
}


@pytest.mark.parametrize(
    ("section", "key", "written"),
    [
        # As a user would have to write them: TOML escapes.
        ("site", "title", '"A\\u0007B"'),
        ("site", "description", '"\\u001b[31mred"'),
        ("site", "author", '"Ann\\u0000"'),
        ("newsletter", "name", '"Let\\u0085ters"'),
        ("newsletter", "from", '"Desk\\u0008 <desk@example.org>"'),
        ("newsletter", "reply_to", '"Desk\\u001f <desk@example.org>"'),
        ("newsletter", "subject", '"{{ newsletter.name }}\\u007f"'),
        ("newsletter", "tags", '["news\\uffff"]'),
    ],
)
def test_a_control_character_in_a_text_setting_is_an_error_with_its_line(
    make_site: MakeSite, section: str, key: str, written: str
) -> None:
    text, line = settings_with(section, key, written)
    root = make_site(settings=text)
    with pytest.raises(ConfigError) as info:
        config.load(root, env={})
    [problem] = info.value.problems
    assert (problem.path, problem.line) == ("feedpub.toml", line)
    # The settings that reach email headers say so (tests/test_header_settings.py); the others
    # name the character and its place.
    if (section, key) in HEADER_SETTINGS:
        assert problem.message.startswith(f"[{section}] {key} holds a "), problem.message
        assert "which an email header cannot carry" in problem.message
    else:
        assert problem.message.startswith(f"[{section}] {key} holds the character U+")
        assert problem.message.endswith("remove it")


def test_the_settings_without_control_characters_load(make_site: MakeSite) -> None:
    text, _ = settings_with("site", "title", '"Test Gazette"')
    assert config.load(make_site(settings=text), env={}).site.title == "Test Gazette"


def test_a_control_character_from_the_environment_names_the_variable(make_site: MakeSite) -> None:
    root = make_site()
    with pytest.raises(ConfigError) as info:
        config.load(root, env={"FEEDPUB_SITE_DESCRIPTION": "A\x07B"})
    [problem] = info.value.problems
    assert problem.path == "environment variable FEEDPUB_SITE_DESCRIPTION"
    assert "U+0007 (character 2)" in problem.message


def test_tabs_and_newlines_in_text_settings_are_kept(make_site: MakeSite) -> None:
    root = make_site(settings=SETTINGS.replace('"A site for tests"', '"A site\\tfor\\ntests"'))
    assert config.load(root, env={}).site.description == "A site\tfor\ntests"


RLO = "\u202e"  # RIGHT-TO-LEFT OVERRIDE: reverses everything after it until its paragraph ends
HOSTILE = {
    "site": f"Gazette {RLO}evil",
    "newsletter": f"Letters {RLO}evil",
    "title": f"Fix {RLO}this",
    "author": f"Ann {RLO}Bee",
    "tag": f"t{RLO}ag",
}


def unbracketed(text: str) -> str:
    """``text`` without the FSI and PDI around its values (text.isolate, which the templates
    add for plain text) that markup isolates here anyway."""
    return text.replace("\u2068", "").replace("\u2069", "")


def unisolated(element: Any, isolate: Any = None) -> Iterator[tuple[str, Any]]:
    """(text, the nearest element around it that isolates it, or None) for each piece of text
    under ``element`` that holds RLO: <bdi> and elements with a dir attribute isolate. Hidden
    text (the digest's preheader) is left out: mail clients show it as plain text, in the
    inbox's list, where no markup isolates anything."""
    if "display:none" in (element.get("style") or "").replace(" ", ""):
        return
    if element.tag == f"{NS}bdi" or element.get("dir") is not None:
        isolate = element
    if element.text and RLO in element.text:
        yield element.text, isolate
    for child in element:
        yield from unisolated(child, isolate)
        if child.tail and RLO in child.tail:
            yield child.tail, isolate


def test_names_and_titles_are_isolated_from_the_text_around_them(make_site: MakeSite) -> None:
    settings = SETTINGS.replace('"Test Gazette"', f'"{HOSTILE["site"]}"') + NEWSLETTER
    settings = settings.replace('"Letters"', f'"{HOSTILE["newsletter"]}"')
    root = make_site(
        {
            "a.md": (
                f"---\ntitle: {HOSTILE['title']}\ndate: 2026-11-20 09:00\n"
                f"author: {HOSTILE['author']}\ntags: [{HOSTILE['tag']}]\n---\n\nBody.\n"
            ),
            "b.md": article("Plain", date="2026-11-21 09:00", author="Desk"),
        },
        settings=settings,
    )
    subject = make_issue(root).subject
    publish(root)
    built = pages(root)
    assert "issues/1/index.html" in built  # the digest's web version
    # What a template puts around a value stays outside its isolate: the value alone is in it
    # (the issues list shows the issue's subject, made of the newsletter's name and a title).
    alone = {*HOSTILE.values(), unbracketed(subject)}
    found = set()
    for name, tree in built.items():
        for text, isolate in unisolated(tree.find(f"{NS}body")):
            assert isolate is not None, f"{name}: {text!r} is not isolated"
            shown = unbracketed("".join(isolate.itertext()))
            assert shown in alone, f"{name}: {text!r} in {isolate.tag}"
            found.add(unbracketed(text))
    assert set(HOSTILE.values()) <= found  # each is shown somewhere


@pytest.mark.parametrize("state", ["confirm", "done", "busy", "missing", "bad-token"])
def test_the_unsubscribe_page_isolates_the_newsletter_name(make_site: MakeSite, state: str) -> None:
    settings = SETTINGS + NEWSLETTER.replace('"Letters"', f'"{HOSTILE["newsletter"]}"')
    site = config.load(make_site(settings=settings), env={})
    # As the web app renders it: the page extends base.html, with the app's context.
    html = WebApp(site).unsubscribe_page(200, state, "t").get_data(as_text=True)
    tree = html5lib.parse(html, treebuilder="etree", namespaceHTMLElements=True)
    for text, isolate in unisolated(tree.find(f"{NS}body")):
        assert isolate is not None, f"{state}: {text!r} is not isolated"
        assert unbracketed("".join(isolate.itertext())) == HOSTILE["newsletter"]


def test_an_issues_web_version_is_a_page_of_the_site_not_the_email(make_site: MakeSite) -> None:
    """Bug 4: public/issues/N/ was the email: "Unsubscribe" (linked to the home page), "View
    in a browser", "You get ... because you subscribed". It is a page of the site, with the
    feed autodiscovery links of the issues archive."""
    root = make_site({"a.md": article("Alpha", "2026-11-20 09:00")}, extra=NEWSLETTER)
    record = make_issue(root)
    publish(root)
    public = root / "public"
    text = (public / "issues" / "1" / "index.html").read_text(encoding="utf-8")
    for words in ("Unsubscribe", "unsubscribe", "View in a browser", "because you subscribed"):
        assert words not in text
    assert record.subject in text
    built = pages(root)

    def alternates(page: str) -> list[tuple[str | None, ...]]:
        head = built[page].find(f"{NS}head")
        return [
            (link.get("type"), link.get("title"), link.get("href"))
            for link in head.iter(f"{NS}link")
            if link.get("rel") == "alternate"
        ]

    feeds = alternates("issues/index.html")
    assert [href for _, _, href in feeds] == [
        f"https://news.example.org/issues/{name}" for name in ("rss.xml", "atom.xml", "feed.json")
    ]
    assert alternates("issues/1/index.html") == feeds
    # The site's own header and navigation, as on every page.
    nav = built["issues/1/index.html"].find(f".//{NS}nav")
    assert nav is not None and [a.text for a in nav.iter(f"{NS}a")][:2] == ["Latest", "Archive"]
