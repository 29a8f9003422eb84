"""The publication's language: every word a reader sees comes from the catalogue of the site's
language (pages, digest and its text part, the web app's pages, the emails), and dates are
written the way that language writes them. The catalogues are complete: every message of the
templates and the code is in each, translated."""

from __future__ import annotations

import locale
import re
from collections.abc import Iterator
from datetime import date, datetime, timedelta
from typing import Any

import lxml.html
import pytest
from babel.dates import format_date
from babel.messages.pofile import read_po
from helpers import NOW, REPO, MakeSite, publish
from werkzeug.test import Client

from feedpub import config
from feedpub.config import Site
from feedpub.delivery import signup, tokens
from feedpub.delivery.mailer import render_letter
from feedpub.delivery.messages import list_id
from feedpub.delivery.subscribers import normalize
from feedpub.delivery.tokens import load_secret
from feedpub.delivery.web import WebApp
from feedpub.i18n import (
    SHIPPED,
    babel_locale_name,
    catalogue_path,
    date_formatter,
    extract,
    human_date,
    language_of,
    translations,
    words,
)
from feedpub.newsletter import issues
from feedpub.site.build import check, load_catalog
from feedpub.store.state import State

TRANSLATED = [language for language in SHIPPED if language != "en"]
PLACEHOLDER = re.compile(r"%\((\w+)\)s")
TAG = re.compile(r"<[^>]+>")
URL = re.compile(r"https?://\S+")


def settings(language: str) -> str:
    # Names and titles in no language of the catalogues' words: whatever English is left on a
    # page after them is feedpub's own.
    return f"""\
[site]
title = "Gaceta Ñandú"
url = "https://news.example.org/"
description = "Ñandú"
language = "{language}"
timezone = "Europe/Berlin"
author = "Lucía Fernández"

[newsletter]
name = "Boletín Ñandú"
from = "Ñandú <news@news.example.org>"
schedule = "manual"
lookback_days = 60
topics = {{ Deportes = ["deportes"], Artes = ["artes"] }}

[web]
url = "https://news.example.org/"
"""


def article(title: str, day: str, body: str, tags: str, authors: str) -> str:
    return f"---\ntitle: {title}\ndate: {day}\ntags: {tags}\nauthors: {authors}\n---\n\n{body}\n"


ARTICLES = {
    "2026-11-20-uno.md": article(
        "Ñandú 2027", "2026-11-20 09:00", "Lorem ipsum dolor.", "[deportes]", "[Lucía Fernández]"
    ),
    "2026-11-22-dos.md": article(
        "Kilómetro 42",
        "2026-11-22 10:00",
        "Lorem ipsum dolor.\n\nQuisque amet.",
        "[deportes, artes]",
        "[Lucía Fernández, Zoë Okonkwo]",
    ),
    "2026-11-24-tres.md": article(
        "Ñu 3", "2026-11-24 11:00", "Quisque.", "[artes]", "[Zoë Okonkwo]"
    ),
}


def catalogue(language: str) -> Any:
    with catalogue_path(language).open("rb") as po:
        return read_po(po, locale=language)


def msgids(language: str = "en") -> list[str]:
    found: list[str] = []
    for message in catalogue(language):
        if message.id:
            ids = message.id if isinstance(message.id, tuple) else (message.id,)
            found.extend(ids)
    return found


def translated_texts(language: str) -> list[str]:
    texts: list[str] = []
    for message in catalogue(language):
        if message.id:
            strings = message.string if isinstance(message.string, tuple) else (message.string,)
            texts.extend(strings)
    return texts


def english_pieces(language: str) -> list[re.Pattern[str]]:
    """Each English msgid's words between its placeholders and markup, as whole-word patterns;
    a piece that the language's own catalogue uses too ('Feed' is German as well) is left out."""
    own = " ".join(translated_texts(language))
    pieces: set[str] = set()
    for message in msgids():
        for part in PLACEHOLDER.split(TAG.sub("\x00", message))[::2]:
            for piece in part.split("\x00"):
                piece = " ".join(piece.split()).strip(" .,:;?!()#")
                if re.search(r"[A-Za-z]{3}", piece):
                    pieces.add(piece)
    patterns = []
    for piece in sorted(pieces):
        pattern = re.compile(rf"(?<![\w-]){re.escape(piece)}(?![\w-])")
        if not pattern.search(own):
            patterns.append(pattern)
    return patterns


def english_left(text: str, language: str) -> list[str]:
    """The English pieces in ``text``, its addresses left out (/unsubscribe is no word)."""
    flat = " ".join(URL.sub(" ", text).split())
    return [p.pattern for p in english_pieces(language) if p.search(flat)]


def visible(html: str) -> str:
    """What a reader sees of a page: its text, its title and the attributes read out or shown."""
    tree = lxml.html.fromstring(html)
    for gone in tree.xpath("//style | //script"):
        gone.drop_tree()
    attributes = tree.xpath("//@aria-label | //@title | //@alt | //@placeholder")
    return " ".join([tree.text_content(), *map(str, attributes)])


def made(make_site: MakeSite, language: str, folder: str = "site") -> Site:
    root = make_site(ARTICLES, settings=settings(language), folder=folder)
    return config.load(root, env={})


def compose(site: Site) -> issues.Draft:
    with State.open(site.state_dir) as state:
        draft = issues.compose(site, state, load_catalog(site, state, NOW), NOW, "")
    assert draft is not None
    return draft


def built_pages(site: Site) -> Iterator[tuple[str, str]]:
    with State.open(site.state_dir) as state:
        draft = issues.create(site, state, load_catalog(site, state, NOW), NOW, "")
        assert draft is not None
    publish(site.root)
    for path in sorted((site.root / "public").rglob("*.html")):
        yield path.relative_to(site.root / "public").as_posix(), path.read_text(encoding="utf-8")


# -- the catalogues ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def extracted(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """Every message of the templates and the code, as `python -m feedpub.i18n` extracts them."""
    pot = tmp_path_factory.mktemp("pot") / "feedpub.pot"
    extract(REPO, pot)
    with pot.open("rb") as file:
        return read_po(file)


@pytest.mark.parametrize("language", SHIPPED)
def test_every_message_is_in_each_catalogue_and_translated(extracted: Any, language: str) -> None:
    """A word added to a template or the code without its translations fails here: run
    `python -m feedpub.i18n` and translate what it adds (README)."""
    shipped = catalogue(language)
    missing, untranslated, wrong = [], [], []
    for message in extracted:
        if not message.id:
            continue
        found = shipped.get(message.id)
        if found is None:
            missing.append(message.id)
            continue
        if language == "en":
            continue  # the msgids are the English words
        strings = found.string if isinstance(found.string, tuple) else (found.string,)
        if found.fuzzy or not all(strings):
            untranslated.append(message.id)
            continue
        ids = message.id if isinstance(message.id, tuple) else (message.id,)
        wanted = set(PLACEHOLDER.findall(" ".join(ids)))
        for string in strings:
            # The same values and the same markup, in whatever order the language needs.
            if set(PLACEHOLDER.findall(string)) - wanted or (
                not isinstance(message.id, tuple) and set(PLACEHOLDER.findall(string)) != wanted
            ):
                wrong.append(f"{message.id!r}: placeholders of {string!r}")
            if sorted(TAG.findall(string)) != sorted(TAG.findall(ids[0])):
                wrong.append(f"{message.id!r}: markup of {string!r}")
    assert missing == [], f"not in {language}: run python -m feedpub.i18n"
    assert untranslated == [], f"not translated in {language}"
    assert wrong == []


@pytest.mark.parametrize("language", TRANSLATED)
def test_a_translation_is_not_the_english_left_as_it_is(language: str) -> None:
    same = [
        message.id
        for message in catalogue(language)
        if message.id and not isinstance(message.id, tuple) and message.string == message.id
    ]
    # German says Feed too.
    assert set(same) <= {"Feed"}, same


def test_the_catalogue_is_compiled_once_per_process() -> None:
    assert translations("es") is translations("es-MX")
    assert words("de") is words("de")
    assert date_formatter("fr") is date_formatter("fr")


# -- pages, digest, emails and the web app in each language -----------------------------------


def written(language: str) -> str:
    """2026-11-22, the day of an article, as ``language`` writes it in full (the formats
    themselves: test_dates_are_written_for_the_locale)."""
    return date_formatter(language)(date(2026, 11, 22))


@pytest.mark.parametrize("language", TRANSLATED)
def test_no_english_word_is_left_on_any_page(make_site: MakeSite, language: str) -> None:
    site = made(make_site, language)
    pages = dict(built_pages(site))
    assert {"index.html", "archive/index.html", "tags/index.html", "issues/index.html"} <= set(
        pages
    )
    for path, html in pages.items():
        assert f'<html lang="{language}"' in html, path
        assert english_left(visible(html), language) == [], path
    assert written(language) in visible(pages["archive/index.html"])
    assert words(language).gettext("Latest") in visible(pages["index.html"])


@pytest.mark.parametrize("language", TRANSLATED)
def test_no_english_word_is_left_in_the_digest(make_site: MakeSite, language: str) -> None:
    site = made(make_site, language)
    digest = compose(site).digest
    assert english_left(visible(digest.html), language) == []
    assert english_left(digest.text, language) == []
    assert written(language) in visible(digest.html)
    assert written(language) in " ".join(digest.text.split())
    issue = words(language).say("Issue #%(number)s", number=1)
    assert issue in digest.text and issue in visible(digest.html)


@pytest.mark.parametrize("language", TRANSLATED)
def test_no_english_word_is_left_in_the_emails(make_site: MakeSite, language: str) -> None:
    site = made(make_site, language)
    expires = NOW + timedelta(days=7)
    link = "https://news.example.org/confirm?t=x"
    contexts: dict[str, dict[str, Any]] = {
        "confirm": {"confirm_url": link, "expires": expires},
        "address": {"confirm_url": link, "expires": expires},
        "already": {"manage_url": link},
        "welcome": {
            "manage_url": link,
            "unsubscribe_url": link,
            "issue_url": "",
            "issues_url": "https://news.example.org/issues/",
        },
    }
    for kind, context in contexts.items():
        letter = render_letter(site, kind, context)
        for part in (letter.subject, letter.text, visible(letter.html)):
            assert english_left(part, language) == [], (kind, part)
        if "expires" in context:
            shown = date_formatter(language)(expires)
            assert shown in letter.text and shown in visible(letter.html)


def web_pages(site: Site) -> Iterator[tuple[str, str]]:
    """Each page of the web app a reader can reach, with its text."""
    app = WebApp(site, clock=lambda: NOW)
    client = Client(app)
    environ = {"REMOTE_ADDR": "192.0.2.10"}

    def get(path: str, **query: str) -> str:
        return client.get(path, query_string=query, environ_base=environ).get_data(as_text=True)

    def post(path: str, **fields: str) -> str:
        return client.post(path, data=fields, environ_base=environ).get_data(as_text=True)

    yield "sign-up page", get("/subscribe")
    yield "a bad address", post("/subscribe", email="not an address")
    yield "a long name", post("/subscribe", email="ann@example.org", name="x" * 500)
    yield "sent", post("/subscribe", email="ann@example.org")
    yield "a bad link", get("/confirm", t="nonsense")
    yield "a bad unsubscribe link", get("/unsubscribe", t="nonsense")
    yield "not found", get("/nowhere/")
    secret = load_secret(site.state_dir)
    with State.open(site.state_dir) as state:
        found = state.subscribers.find(normalize("ann@example.org")[1])
    assert found is not None
    lid = list_id(site)
    confirm = tokens.make(secret, lid, "c", found.token_key, NOW + signup.CONFIRM_LIFETIME, "")
    yield "confirm", get("/confirm", t=confirm)
    yield "confirmed", post("/confirm", t=confirm)
    manage = tokens.make(secret, lid, "m", found.token_key, None, "")
    yield "manage", get("/manage", t=manage)
    yield "paused", post("/manage", t=manage, action="pause", until="2026-12-24")
    yield "a past pause", post("/manage", t=manage, action="pause", until="2020-01-01")
    unsubscribe = tokens.make(secret, lid, "u", found.token_key, None, "")
    yield "unsubscribe", get("/unsubscribe", t=unsubscribe)
    yield "unsubscribed", post(f"/unsubscribe?t={unsubscribe}")


@pytest.mark.parametrize("language", TRANSLATED)
def test_no_english_word_is_left_in_the_web_app(make_site: MakeSite, language: str) -> None:
    site = made(make_site, language)
    pages = dict(web_pages(site))
    for name, html in pages.items():
        assert english_left(visible(html), language) == [], name
    said = words(language)
    assert said.gettext("the date has passed; choose a day after today") in pages["a past pause"]
    assert said.say(
        "Issues come to it, but not before %(day)s.", day=said.date(date(2026, 12, 24))
    ) in (" ".join(visible(pages["paused"]).split()))
    assert said.say(
        "the name is %(count)s characters; keep it to %(most)s", count=500, most=signup.MAX_NAME
    ) in visible(pages["a long name"])


def test_english_stays_english(make_site: MakeSite) -> None:
    site = made(make_site, "en")
    pages = dict(built_pages(site))
    shown = visible(pages["index.html"])
    assert "Latest" in shown and "Nothing published yet." not in shown
    assert "November 22, 2026" in visible(pages["archive/index.html"])
    assert "3 articles" in visible(pages["tags/deportes/index.html"]) or "2 articles" in visible(
        pages["tags/deportes/index.html"]
    )


# -- counts, dates and language tags -----------------------------------------------------------


@pytest.mark.parametrize(
    ("language", "one", "two"),
    [
        ("en", "1 article", "2 articles"),
        ("es", "1 artículo", "2 artículos"),
        ("fr", "1 article", "2 articles"),
        ("de", "1 Artikel", "2 Artikel"),
        ("pt", "1 artigo", "2 artigos"),
    ],
)
def test_counts_take_the_plural_of_the_language(language: str, one: str, two: str) -> None:
    said = words(language)
    assert said.ngettext("%(num)s article", "%(num)s articles", 1) % {"num": 1} == one
    assert said.ngettext("%(num)s article", "%(num)s articles", 2) % {"num": 2} == two
    if language in ("fr", "pt"):  # zero is singular in French and Portuguese
        assert (
            said.ngettext("%(num)s article", "%(num)s articles", 0) % {"num": 0}
            == one[:-1].replace("1", "0") + one[-1]
        )


@pytest.mark.parametrize(
    ("tag", "written"),
    [
        ("en", "February 2, 2027"),
        ("en-GB", "2 February 2027"),
        ("es", "2 de febrero de 2027"),
        ("es-MX", "2 de febrero de 2027"),
        ("fr", "2 février 2027"),
        ("de", "2. Februar 2027"),
        ("de-AT", "2. Februar 2027"),
        ("pt", "2 de fevereiro de 2027"),
        ("pt-BR", "2 de fevereiro de 2027"),
        ("nl", "2 februari 2027"),  # no catalogue, but Babel knows how Dutch writes a date
        ("zz", "February 2, 2027"),  # no such language: English
        ("en-x-private", "February 2, 2027"),
        ("sr-Latn-RS", "2. februar 2027."),
    ],
)
def test_dates_are_written_for_the_locale(tag: str, written: str) -> None:
    day = datetime(2027, 2, 2, 23, 30, tzinfo=NOW.tzinfo)
    assert human_date(day, tag) == written
    assert human_date(day.date(), tag) == written


@pytest.mark.parametrize(
    ("tag", "language"),
    [
        ("es-MX", "es"),
        ("pt_BR", "pt"),
        ("PT-br", "pt"),
        ("de-CH-1996", "de"),
        ("nl", "en"),
        ("zh-Hant-TW", "en"),
        ("fr", "fr"),
    ],
)
def test_a_regional_tag_takes_its_language_s_catalogue(tag: str, language: str) -> None:
    assert language_of(tag) == language


def test_es_mx_pages_speak_spanish_and_say_es_mx(make_site: MakeSite) -> None:
    site = made(make_site, "es-MX")
    pages = dict(built_pages(site))
    assert '<html lang="es-MX"' in pages["index.html"]
    assert "Lo último" in visible(pages["index.html"])
    assert english_left(visible(pages["index.html"]), "es") == []
    assert check(site, NOW).problems == []


def test_an_unshipped_language_is_english_and_check_says_so(make_site: MakeSite) -> None:
    site = made(make_site, "nl")
    pages = dict(built_pages(site))
    assert '<html lang="nl"' in pages["index.html"]
    assert "Latest" in visible(pages["index.html"])
    assert "22 november 2026" in visible(pages["archive/index.html"])  # Babel's Dutch dates
    (problem,) = [p for p in check(site, NOW).problems if "language" in p.message]
    assert problem.severity == "warning" and problem.line == 5
    assert "'nl'" in problem.message and "English" in problem.message
    assert "en, es, fr, de, pt" in problem.message


@pytest.mark.parametrize("language", ["nl", "zz", "en-x-private", "sr-Latn-RS"])
def test_any_valid_tag_builds(make_site: MakeSite, language: str) -> None:
    site = made(make_site, language)
    assert dict(built_pages(site))["index.html"]


# -- a site's own templates --------------------------------------------------------------------


def test_a_site_s_own_template_speaks_the_language_too(make_site: MakeSite) -> None:
    site = made(make_site, "de")
    own = site.root / "templates"
    own.mkdir()
    (own / "index.html").write_text(
        '{% extends "base.html" %}{% block content %}'
        "<h1>{% trans %}Latest{% endtrans %}</h1>"
        '<p>{{ _("Every article") }} · {{ _("A word of the site\'s own") }}</p>'
        "<p>{% trans num=articles | length %}{{ num }} article{% pluralize %}"
        "{{ num }} articles{% endtrans %}</p>"
        "{% for a in articles %}<p>{{ a.date | human_date }}</p>{% endfor %}"
        "{% endblock %}",
        encoding="utf-8",
    )
    (own / "archive.html").write_text(  # a template that knows nothing of languages
        '{% extends "base.html" %}{% block content %}<h1>Alles</h1>{% endblock %}',
        encoding="utf-8",
    )
    pages = dict(built_pages(site))
    shown = visible(pages["index.html"])
    assert "Neueste" in shown and "Alle Artikel" in shown
    assert "A word of the site's own" in shown  # not in the catalogue: as it is written
    assert "3 Artikel" in shown and "22. November 2026" in shown
    assert "Alles" in visible(pages["archive/index.html"])


def test_a_value_put_into_a_message_is_escaped_and_isolated(make_site: MakeSite) -> None:
    root = make_site(
        ARTICLES,
        settings=settings("fr").replace('"Gaceta Ñandú"', '"<b>Ñandú</b> \u202eevil"'),
    )
    site = config.load(root, env={})
    html = dict(built_pages(site))["index.html"]
    footer = lxml.html.fromstring(html).xpath("//footer//p")[0]
    assert "<b>" not in lxml.html.tostring(footer, encoding="unicode").replace("&lt;b&gt;", "")
    # The override the title opens is closed inside it (text.isolate), as {{ }} closes it.
    assert "\u2068&lt;b&gt;Ñandú&lt;/b&gt; \u202eevil\u2069" in html


def test_the_process_locale_is_left_alone(make_site: MakeSite) -> None:
    before = locale.setlocale(locale.LC_ALL)
    site = made(make_site, "de")
    compose(site)
    dict(built_pages(site))
    assert locale.setlocale(locale.LC_ALL) == before


def test_a_subject_of_the_site_s_own_may_use_the_catalogue(make_site: MakeSite) -> None:
    root = make_site(
        ARTICLES,
        settings=settings("es").replace(
            'schedule = "manual"',
            'schedule = "manual"\n'
            'subject = "{{ newsletter.name }} · '
            "{{ _('Issue #%(number)s', number=issue.number) }}\"",
        ),
    )
    site = config.load(root, env={})
    assert compose(site).digest.subject == "Boletín Ñandú · Número 1"


@pytest.mark.parametrize("tag", ["en", "en-GB", "es-MX", "fr", "de", "pt-BR", "nl", "ja"])
def test_the_remembered_dates_are_babel_s_own(tag: str) -> None:
    """The fast path (the pattern parsed once, each day remembered) writes what Babel's
    format_date writes, for every day of four years and again from the memo."""
    shown = date_formatter(tag)
    first = date(2026, 1, 1)
    for offset in (*range(4 * 366), *range(0, 4 * 366, 97)):
        day = first + timedelta(days=offset)
        assert shown(day) == format_date(day, "long", locale=babel_locale_name(tag))
