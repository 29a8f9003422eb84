"""The publication's language: the words a reader sees, from the packaged message catalogues
(gettext, through Babel), and dates written for people in that language.

``[site] language`` is a tag such as ``es`` or ``pt-BR``. The words come from the catalogue of
its language (``pt-BR`` from ``pt``), English for a language feedpub has no catalogue of
(``check`` warns); dates follow the whole tag where Babel knows it (``en-GB`` writes
"4 March 2026"). Nothing here changes the process-wide locale. Imports nothing of feedpub's;
Babel is imported when a language is first asked for.
"""

from __future__ import annotations

import functools
import io
import re
import threading
from collections.abc import Callable
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from babel.support import Translations

# The catalogues feedpub ships, in feedpub/locale/<language>/LC_MESSAGES/feedpub.po. English is
# the language of the msgids themselves: its catalogue translates each word to itself.
SHIPPED = ("en", "es", "fr", "de", "pt")
DEFAULT = "en"
DOMAIN = "feedpub"
LOCALE_DIR = Path(__file__).parent / "locale"
_SEPARATOR = re.compile(r"[-_]")


def N_(message: str) -> str:
    """``message`` as it is: marks an English message for the catalogues (pybabel extracts the
    argument), translated where it is shown to a reader (``Words.gettext``)."""
    return message


def language_of(tag: str) -> str:
    """The shipped language whose catalogue serves the tag ``tag``: 'es-MX' -> 'es',
    'pt_BR' -> 'pt', an unshipped one -> 'en'."""
    primary = _SEPARATOR.split(tag.strip(), maxsplit=1)[0].lower()
    return primary if primary in SHIPPED else DEFAULT


def is_shipped(tag: str) -> bool:
    """Whether feedpub has a catalogue for the language of ``tag`` (else its words are English)."""
    primary = _SEPARATOR.split(tag.strip(), maxsplit=1)[0].lower()
    return primary in SHIPPED


def catalogue_path(language: str) -> Path:
    return LOCALE_DIR / language / "LC_MESSAGES" / f"{DOMAIN}.po"


def translations(tag: str) -> Translations:
    """The gettext translations for ``tag``'s language (``es-MX``: Spanish's)."""
    return _compiled(language_of(tag))


@functools.cache
def _compiled(language: str) -> Translations:
    """The catalogue of ``language``, compiled from its .po file once per process: the .po is
    the only copy, so no compiled file can fall behind it."""
    from babel.messages.mofile import write_mo
    from babel.messages.pofile import read_po
    from babel.support import Translations

    with catalogue_path(language).open("rb") as po:
        catalog = read_po(po, locale=language, domain=DOMAIN)
    compiled = io.BytesIO()
    write_mo(compiled, catalog)
    compiled.seek(0)
    return Translations(compiled, domain=DOMAIN)


class Words:
    """What one language says: gettext and ngettext, and dates for people."""

    def __init__(self, tag: str) -> None:
        self.tag = tag
        self.language = language_of(tag)
        found = translations(tag)
        self.gettext: Callable[[str], str] = found.gettext
        self.ngettext: Callable[[str, str, int], str] = found.ngettext
        self.date: Callable[[date], str] = date_formatter(tag)

    def number(self, value: int) -> str:
        """``value`` with the language's digit grouping: '1,000,000', '1.000.000'."""
        from babel.numbers import format_decimal

        return format_decimal(value, locale=babel_locale_name(self.tag))

    def say(self, message: str, **values: object) -> str:
        """``message`` (an English msgid) in this language, its %(name)s filled in."""
        text = self.gettext(message)
        return text % values if values else text


@functools.cache
def words(tag: str) -> Words:
    """The Words of the language tag ``tag``, made once per process."""
    return Words(tag)


def babel_locale_name(tag: str) -> str:
    """The Babel locale of ``tag`` for dates: the whole tag where Babel knows it ('en_GB',
    'pt_BR'), else its shipped language's, else English."""
    from babel import Locale, UnknownLocaleError

    for candidate in (tag, language_of(tag)):
        try:
            return str(Locale.parse(candidate, sep="-" if "-" in candidate else "_"))
        except (UnknownLocaleError, ValueError, TypeError):
            continue
    return DEFAULT


@functools.cache
def date_formatter(tag: str) -> Callable[[date], str]:
    """A function writing a date (or a datetime, its own day) the way ``tag``'s readers write
    it in full: 'March 4, 2026', '4 de marzo de 2026', '4. März 2026'. The locale's pattern is
    parsed once; each day is formatted once and remembered (a build writes the same few
    hundred days on thousands of pages)."""
    from babel import Locale
    from babel.dates import parse_pattern

    locale = Locale.parse(babel_locale_name(tag))
    pattern = parse_pattern(locale.date_formats["long"].pattern)
    known: dict[tuple[int, int, int], str] = {}
    lock = threading.Lock()  # the web app formats from several threads

    def formatted(value: date) -> str:
        day = (value.year, value.month, value.day)
        found = known.get(day)
        if found is None:
            plain = date(*day)  # the day as written; a datetime's time and zone play no part
            found = pattern.apply(plain, locale)
            with lock:
                if len(known) < 100_000:
                    known[day] = found
        return found

    return formatted


def human_date(value: datetime | date, tag: str = DEFAULT) -> str:
    """``value``'s day written for the readers of ``tag`` (date_formatter)."""
    return date_formatter(tag)(value)


# -- the catalogues, kept up to date from a checkout of the repository ------------------------
EXTRACT_FROM = ("feedpub", "templates")


def _pybabel(root: Path, *arguments: str) -> None:
    """Run pybabel in ``root`` (its own process: the file names in the catalogues' comments
    are then relative to the checkout, and this process's working folder stays as it is)."""
    import subprocess
    import sys

    command = [sys.executable, "-m", "babel.messages.frontend", "--quiet", *arguments]
    subprocess.run(command, cwd=root, check=True)


def extract(root: Path, pot: Path) -> None:
    """Write ``pot``: every message of the code and the packaged templates under ``root`` (a
    checkout of feedpub), as pybabel extracts them with ``root/babel.cfg``."""
    _pybabel(
        root,
        "extract",
        "--mapping-file",
        "babel.cfg",
        "--keyword",
        "N_",
        "--add-comments",
        "Translators:",
        "--add-location",
        "file",
        "--sort-output",
        "--width",
        "96",
        "--project",
        "feedpub",
        "--output-file",
        str(pot.absolute()),
        *EXTRACT_FROM,
    )


def update(root: Path) -> Path:
    """Extract the messages into feedpub/locale/feedpub.pot and merge them into every shipped
    catalogue (a new message comes in untranslated; one no longer used is dropped)."""
    pot = root / "feedpub" / "locale" / f"{DOMAIN}.pot"
    extract(root, pot)
    _pybabel(
        root,
        "update",
        "--input-file",
        f"feedpub/locale/{DOMAIN}.pot",
        "--output-dir",
        "feedpub/locale",
        "--domain",
        DOMAIN,
        "--width",
        "96",
        "--no-fuzzy-matching",
        "--ignore-obsolete",
    )
    return pot


if __name__ == "__main__":
    update(Path.cwd())
