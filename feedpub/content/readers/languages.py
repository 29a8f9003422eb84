"""What pages saved from news sites say in Spanish, French, German, Portuguese, Italian and
Japanese: their datelines, the words before a byline, the roles after it and the leftovers at
the end, for the plain-text reader (``plaintext``), which reads English itself.

Month and weekday names come from Babel's locale data (CLDR: wide and abbreviated, written
and stand-alone), with the accents and without. The patterns are built once, on first use.

Datelines read here (a weekday first is optional; an article word before the day too):

- ``martes, 2 de febrero de 2027``, ``2 feb. 2027``, ``le 1er février 2027 à 18h30``,
  ``Dienstag, 2. Februar 2027, 14:30 Uhr``, ``terça-feira, 2 de fevereiro de 2027 às 10h15``,
  ``martedì 2 febbraio 2027``, ``02.02.2027`` (day first, as everywhere dots are written);
- ``2027年2月3日``, ``2027年2月3日(水) 10:30``, ``2027年2月3日 午後3時20分``, in full-width
  digits too, and in the era's years (``令和9年2月3日``, ``平成31年4月1日``);
- after the words a page puts before them: ``Publicado el``, ``Publié le``, ``Veröffentlicht
  am``, ``Publicado em``, ``Pubblicato il``, ``公開日：``, and their "updated" kin
  (``Actualizado``, ``Mis à jour``, ``Aktualisiert``, ``Stand``, ``Atualizado``,
  ``Aggiornato``, ``更新日``), which give the updated date.

A time without a zone is in the site's timezone, as in English; the zone may be UTC, GMT, an
offset, CET/CEST (MEZ/MESZ), WET/WEST, JST or BRT.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone, tzinfo

# The languages whose names Babel gives; English is dates.py's, and Japanese has patterns
# of its own (its months are numbers).
LOCALES = ("es", "fr", "de", "pt", "it")
# Longer lines are prose, never a dateline (dates.parse_date refuses them too).
MAX_DATE_CHARS = 64

# Names pages use that CLDR does not give: Austrian January, Spanish "setiembre", short forms.
_EXTRA_MONTHS = {"setiembre": 9, "set": 9, "jänner": 1, "jän": 1, "mrz": 3, "fév": 2, "sep": 9}
# Portuguese weekdays are also written without "-feira".
_EXTRA_WEEKDAYS = ("segunda", "terça", "quarta", "quinta", "sexta")
# Words that may stand between a weekday and the day: "le 2 février", "el 2", "am 2.".
_ARTICLES = ("le", "el", "am", "den", "il", "lo", "o", "em", "on", "the")

_LEAD = r"(?P<lead>(?:[^\W\d_]+(?:-[^\W\d_]+)?\.?,?\s+){0,2})"
_TIME = (
    r"(?:\s*(?:,|-|–|\||à|às|a\s+las|a\s+la|um|alle|ore|alle\s+ore|at)?\s*"
    r"(?P<hour>\d{1,2})(?:(?::|\.|h|\s?h\s?)(?P<minute>\d{2})|\s?h\b)"
    r"(?:\s?(?:h|uhr|hs|hrs|horas|heures|ore)\b)?)?"
)
_ZONES = {
    "UTC": 0, "GMT": 0, "Z": 0, "WET": 0, "WEST": 1, "CET": 1, "MEZ": 1, "CEST": 2, "MESZ": 2,
    "JST": 9, "BRT": -3,
}  # fmt: skip
_ZONE = r"(?:\s*\(?(?P<zone>{names}|[+-]\d{{2}}:?\d{{2}})\)?)?".format(
    names="|".join(sorted(_ZONES, key=len, reverse=True))
)
# Words before a date: published (or updated, the second group).
_LATIN_WORDS = re.compile(
    r"^(?:(?P<published>publicado|publicada|publié|publiée|veröffentlicht|erschienen|"
    r"pubblicato|pubblicata)|(?P<updated>actualizado|actualizada|última\s+actualización|"
    r"mis\s+à\s+jour|modifié|modifiée|aktualisiert|zuletzt\s+aktualisiert|geändert|stand|"
    r"atualizado|atualizada|última\s+atualização|aggiornato|aggiornata|"
    r"ultimo\s+aggiornamento))(?:\s+(?:el|le|am|em|il|en|o|on|à|a))?\s*:?\s+",
    re.IGNORECASE,
)
_JAPANESE_WORDS = re.compile(
    r"^(?:(?P<updated>最終更新日時|最終更新日|最終更新|更新日時|更新日|更新)|"
    r"(?P<published>公開日時|公開日|公開|掲載日時|掲載日|掲載|配信日時|配信日|配信|"
    r"投稿日時|投稿日|投稿|発行日))\s*:?\s*"
)
# The first year of the Japanese eras still written on pages.
_ERAS = {"令和": 2019, "平成": 1989}
_JAPANESE = re.compile(
    r"^(?:(?P<year>\d{4})|(?P<era>令和|平成)\s*(?P<eyear>\d{1,2}|元))\s*年\s*(?P<nmonth>\d{1,2})\s*月\s*(?P<day>\d{1,2})\s*日"
    r"(?:\s*\((?:[月火水木金土日](?:曜日?)?|祝|休)\)|\s*[月火水木金土日]曜日?)?"
    r"(?:\s*(?P<ampm>午前|午後)?\s*(?P<hour>\d{1,2})(?::(?P<minute>\d{2})|時"
    r"(?:\s*(?P<jminute>\d{1,2})\s*分)?))?" + _ZONE + "$"
)


@dataclass(frozen=True)
class Patterns:
    """Everything built from Babel's data, once."""

    months: dict[str, int]
    weekdays: frozenset[str]
    written: re.Pattern[str]  # 2 de febrero de 2027, Dienstag, 2. Februar 2027
    numeric: re.Pattern[str]  # 02.02.2027


def _plain(word: str) -> str:
    """The word without its accents: pages saved through old tools lose them."""
    return "".join(ch for ch in unicodedata.normalize("NFD", word) if not unicodedata.combining(ch))


def _key(word: str) -> str:
    return word.casefold().rstrip(".")


@functools.cache
def patterns() -> Patterns:
    """The month and weekday names of LOCALES and the patterns using them, built on first use
    (loading Babel's data takes a few milliseconds; a build needs it once)."""
    from babel import Locale

    months: dict[str, int] = {}
    weekdays: set[str] = set(_EXTRA_WEEKDAYS)
    for code in ("en", *LOCALES):
        locale = Locale.parse(code)
        for context in ("format", "stand-alone"):
            for width in ("wide", "abbreviated"):
                for number, name in locale.months[context][width].items():
                    for form in {_key(name), _plain(_key(name))}:
                        months.setdefault(form, number)
                for name in locale.days[context][width].values():
                    weekdays.update({_key(name), _plain(_key(name))})
    for name, number in _EXTRA_MONTHS.items():
        months.setdefault(name, number)
    written = re.compile(
        rf"^{_LEAD}(?P<day>\d{{1,2}})(?:er|º|ª|°|\.º)?\.?\s+(?:de\s+)?"
        rf"(?P<month>[^\W\d_]+)\.?,?\s+(?:de\s+|del\s+)?(?P<year>\d{{4}}){_TIME}{_ZONE}$",
        re.IGNORECASE,
    )
    numeric = re.compile(
        rf"^{_LEAD}(?P<day>\d{{1,2}})\.(?P<nmonth>\d{{1,2}})\.(?P<year>\d{{4}}){_TIME}{_ZONE}$",
        re.IGNORECASE,
    )
    return Patterns(months, frozenset(weekdays), written, numeric)


@dataclass(frozen=True)
class Dateline:
    """A date read from a line: the moment, the date as written (without "Publicado el"),
    and whether the words before it say it is when the page was updated."""

    moment: datetime
    text: str
    updated: bool


def read_dateline(text: str, tz: tzinfo) -> Dateline | None:
    """The date a whole line spells in one of LOCALES or Japanese, or None."""
    if len(text) > MAX_DATE_CHARS or not any(ch.isdigit() for ch in text):
        return None
    if text.isascii():
        folded = text
    else:
        # Full-width digits, colons and brackets are how Japanese pages write dates; NFKC
        # makes them ASCII. Latin lines keep theirs ("1º" would become "1o").
        folded = unicodedata.normalize("NFKC", text) if _has_wide(text) else text
    updated = False
    words = _JAPANESE_WORDS.match(folded) or _LATIN_WORDS.match(folded)
    if words is not None:
        updated = words.group("updated") is not None
        folded = folded[words.end() :]
        text = text[_original_end(text, words.end(), folded) :]
    moment = _japanese(folded, tz) if "年" in folded else _written(folded, tz)
    return None if moment is None else Dateline(moment, text, updated)


def _original_end(text: str, end: int, rest: str) -> int:
    """Where ``rest`` (the normalized line after its first words) starts in ``text``."""
    if text.endswith(rest):
        return len(text) - len(rest)
    # NFKC changed the rest too: walk back from the end of the original by normalized length.
    for start in range(len(text)):
        if unicodedata.normalize("NFKC", text[start:]) == rest:
            return start
    return end


def _has_wide(text: str) -> bool:
    return any(unicodedata.east_asian_width(ch) in "WF" for ch in text)


def _japanese(text: str, tz: tzinfo) -> datetime | None:
    found = _JAPANESE.match(text)
    if found is None:
        return None
    hour = int(found["hour"] or 0)
    if found["ampm"]:
        if hour > 12:
            return None
        hour = hour % 12 + (12 if found["ampm"] == "午後" else 0)
    minute = found["minute"] or found["jminute"] or 0
    year = found["year"]
    if year is None:  # 令和9年: the ninth year of the era (元年, its first)
        number = 1 if found["eyear"] == "元" else int(found["eyear"])
        year = str(_ERAS[found["era"]] + number - 1)
    return _moment(year, found["nmonth"], found["day"], hour, minute, found["zone"], tz)


def _written(text: str, tz: tzinfo) -> datetime | None:
    data = patterns()
    found = data.written.match(text) or data.numeric.match(text)
    if found is None:
        return None
    for word in found["lead"].split():
        word = _key(word.rstrip(","))
        if (
            word not in data.weekdays
            and word not in _ARTICLES
            and _plain(word) not in data.weekdays
        ):
            return None
    parts = found.groupdict()
    if parts.get("nmonth"):
        month: int | str = parts["nmonth"]
    else:
        month = data.months.get(_key(parts["month"]), 0)
        if not month:
            return None
    return _moment(
        parts["year"], month, parts["day"], int(parts["hour"] or 0), parts["minute"] or 0,
        parts["zone"], tz,
    )  # fmt: skip


def _moment(
    year: str, month: int | str, day: str, hour: int, minute: int | str, zone: str | None,
    tz: tzinfo,
) -> datetime | None:  # fmt: skip
    try:
        local = datetime(int(year), int(month), int(day), hour, int(minute))
    except ValueError:  # 31 de febrero, 25:00
        return None
    return local.replace(tzinfo=_zone(zone, tz, local))


def _zone(text: str | None, default: tzinfo, local: datetime) -> tzinfo:
    if not text:
        return default
    name = text.upper()
    if local.replace(tzinfo=default).tzname() == name:
        return default
    if name in _ZONES:
        hours = _ZONES[name]
        return (
            UTC
            if not hours and name in {"UTC", "GMT", "Z"}
            else timezone(timedelta(hours=hours), name)
        )
    sign = -1 if text[0] == "-" else 1
    digits = text[1:].replace(":", "")
    hours, minutes = int(digits[:2]), int(digits[2:])
    if hours >= 24 or minutes >= 60:
        return default
    return timezone(sign * timedelta(hours=hours, minutes=minutes))


# -- what is not a date but looks like one ---------------------------------------------------

# Words a date may hold besides its month and weekday names.
_DATE_WORDS = frozenset(
    {
        "de", "del", "of", "the", "le", "la", "el", "am", "um", "à", "às", "a", "las", "at",
        "on", "em", "il", "den", "der", "er", "st", "nd", "rd", "th", "h", "uhr", "m", "p",
        "pm", "o", "º", "ª", "年", "月", "日", "時", "分", "午前", "午後", "曜", "曜日", "火",
        "水", "木", "金", "土", "祝",
    }
)  # fmt: skip
_LETTERS = re.compile(r"[^\W\d_]+")
_NUMBERS = re.compile(r"\d+")


def looks_like_a_date(text: str) -> bool:
    """Whether a line is made of nothing but a date's parts (numbers, month and weekday names,
    "de", 年月日) in any of the languages: a date the reader could not read (a day that does
    not exist, no year), which a page's headline never is."""
    if len(text) > MAX_DATE_CHARS or not any(ch.isdigit() for ch in text):
        return False
    folded = unicodedata.normalize("NFKC", text).casefold()
    for words in (_JAPANESE_WORDS, _LATIN_WORDS):
        if found := words.match(folded):
            folded = folded[found.end() :]
    data = patterns()
    named = False
    for word in _LETTERS.findall(folded):
        if word in data.months or _plain(word) in data.months or word in ("年", "月"):
            named = True
        elif word not in data.weekdays and word not in _DATE_WORDS:
            # Japanese runs like "年2月" come apart at the digits; "月曜日" is a weekday.
            if not all(ch in "年月日時分曜火水木金土祝令和平成元" for ch in word):
                return False
            named = True
    return named or len(_NUMBERS.findall(folded)) >= 3


# -- bylines ----------------------------------------------------------------------------------

# The word before a byline's names, and the words joining two names, in each language.
BYLINE_WORDS: dict[str, tuple[str, ...]] = {
    "by": ("and",),
    "por": ("and", "y", "e"),
    "par": ("and", "et"),
    "von": ("and", "und"),
    "di": ("and", "e", "ed"),
}
# Japanese: 文：山田太郎, 文・山田太郎, 記者：佐藤花子（社会部）.
JAPANESE_BYLINE = re.compile(
    r"^(?:取材・文|文・写真|写真・文|構成・文|文|記者|筆者|執筆|寄稿)\s*[:：・/／]\s*(?P<names>.+)$"
)
JAPANESE_ROLE = re.compile(r"\s*[（(](?P<role>[^（）()]{1,20})[）)]$")
JAPANESE_NAME_SEPARATORS = re.compile(r"\s*[、，,]\s*")
MAX_JAPANESE_NAME = 12

ROLES = frozenset(
    {
        # Spanish
        "redactor", "redactora", "periodista", "corresponsal", "colaborador", "colaboradora",
        "columnista", "fotógrafo", "fotógrafa", "cronista", "enviado", "enviada", "especial",
        "reportero", "reportera", "redacción", "editora",
        # French
        "rédacteur", "rédactrice", "journaliste", "correspondant", "correspondante", "envoyé",
        "envoyée", "spécial", "spéciale", "spéciaux", "spéciales", "chroniqueur",
        "chroniqueuse", "photographe", "rédaction", "collaborateur", "collaboratrice",
        # German
        "redakteur", "redakteurin", "korrespondent", "korrespondentin", "reporterin", "autor",
        "autorin", "fotograf", "fotografin", "redaktion", "mitarbeiter", "mitarbeiterin",
        "kolumnist", "kolumnistin",
        # Portuguese
        "repórter", "redator", "redatora", "jornalista", "correspondente", "colunista",
        "editor",
        # Italian
        "giornalista", "giornalisti", "giornaliste", "redattore", "redattrice", "redattori",
        "corrispondente", "corrispondenti", "inviato", "inviata", "speciale", "fotografo",
        "collaboratore",
    }
)  # fmt: skip

# Lines a saved page ends with besides the English ones: back to top, share, print.
LEFTOVERS = frozenset(
    {
        # Spanish
        "volver arriba", "ir arriba", "subir", "volver al inicio", "compartir", "imprimir",
        "comentarios", "publicidad", "noticias relacionadas", "artículos relacionados",
        "leer más", "seguir leyendo",
        # French
        "retour en haut", "haut de page", "retour en haut de page", "partager", "imprimer",
        "commentaires", "publicité", "articles liés", "lire aussi", "à lire aussi",
        "lire la suite",
        # German
        "nach oben", "zurück nach oben", "seitenanfang", "zum seitenanfang", "teilen",
        "drucken", "kommentare", "anzeige", "werbung", "mehr zum thema", "weiterlesen",
        "artikel teilen",
        # Portuguese
        "voltar ao topo", "voltar para o topo", "topo", "compartilhar", "partilhar",
        "comentários", "publicidade", "leia mais", "leia também", "notícias relacionadas",
        # Italian
        "torna su", "torna all'inizio", "condividi", "stampa", "commenti", "pubblicità",
        "leggi anche", "articoli correlati",
        # Japanese
        "トップへ戻る", "トップに戻る", "ページの先頭へ", "ページの先頭へ戻る",
        "ページの先頭に戻る", "このページの先頭へ", "ページトップへ", "先頭へ戻る", "上へ戻る",
        "シェア", "印刷", "印刷する", "コメント", "関連記事", "広告", "続きを読む", "ツイート",
    }
)  # fmt: skip
# Copyright lines by their start, as "Copyright" and "©" in English.
RIGHTS = (
    "todos los derechos", "tous droits", "alle rechte", "todos os direitos",
    "tutti i diritti", "無断転載", "無断複製", "著作権",
)  # fmt: skip
