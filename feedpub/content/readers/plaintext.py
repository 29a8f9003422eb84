"""Plain-text articles: a file with a header block, or an article saved from a news web page.

Both kinds
    The caller hands over decoded text (no BOM, newlines as "\\n"). Lines are numbered from 1
    as in the file, and every reported line number is such a file line. A line holding nothing
    but whitespace (including no-break and thin spaces) is blank. In every line, runs of
    whitespace become one space and the ends are trimmed.

    The body is made of paragraphs: runs of non-blank lines separated by blank lines. The lines
    of a paragraph are joined with single spaces; paragraphs are separated by one blank line.

    An empty or whitespace-only file is an error ("the file is empty"). A file with a title but
    no body text gets a warning ("no body text").

Header block
    A file whose first non-blank line is ``Key: value``, Key being one of Title, Date, Updated,
    Author, Authors, Tags, Summary, Slug, Id, Draft, Image, Url in any case, starts with a header
    block. The block runs up to the first blank line; the body follows it.

    - Author and Authors hold one or more names separated by ",", "&" or " and ".
    - Tags are separated by commas.
    - Draft is yes/true or no/false, in any case; anything else is an error.
    - A line with an unknown key is a warning and is ignored.
    - A key given twice is a warning and the last one counts; Author and Authors count as one.
    - A line in the block that is not ``Key: value`` is an error.

Web page
    Any other file is read as an article saved from a news site's page, where the headline is
    surrounded by page furniture. These rules are applied in order:

    1. The header region is the first 12 non-blank lines.
    2. Dateline: if the first non-blank line is a whole date ("March 3, 2025",
       "Monday, March 3, 2025", "2025-03-03"), it gives the date. Further date lines right after
       it are dropped.
    3. Headline: the first non-blank line of the header region that is not a date is the title.
    4. Byline: the first line of the header region after the headline that reads "By Name" or
       "By: Name" ("by" in any case, followed by a space or a colon) where Name is a list of
       names. A name is 1 to 6 words; each word is made of letters, dots, apostrophes and
       hyphens and starts with a capital letter (or a letter without case), or is a particle
       such as de, van, von, bin, al; a name needs at least one word that is not a particle.
       Names are separated by ",", "&" or " and "; "Jr."-like suffixes stay with their name.
       After a comma, a part of at most 4 words whose last word is a role (Writer, Reporter,
       Editor, Correspondent, Contributor, Columnist, Photographer, Staff; or their plurals) is
       a role and is dropped. The byline line is at most 120 characters.
       The search stops, finding no byline, at the first line that is neither the headline
       again nor short (at most 8 words and at most 80 characters): such a line is prose.
    5. With a byline, each line between the headline and the byline is dropped: a repeat of the
       headline (the same text ignoring case and whitespace) as a repeated headline; a date
       line, which gives the date if none was found yet; any other line as a label (a section
       name, the publication's name).
    6. The next non-blank lines after the byline, or without a byline after the headline, are
       dropped while they are date lines; the first gives the date if none was found yet (the
       others are dropped as another date). A date line may
       start with "Published", "Posted" or "Updated" (":" and "on" allowed); an "Updated" one
       gives the updated date (and the date, when the page gives no other and the file name
       none).
    6a. The non-blank lines right after that which read "Tags: ..." or "Summary: ..." (each
       once) give the tags and the summary, as in a header block.
    7. Everything after that is the body. Without a byline nothing else is dropped before it.
    8. A first body paragraph that repeats the headline is dropped.
    9. Page leftovers at the end are dropped: walking back from the last line, blank lines and
       leftover lines are dropped, stopping at the first other line. Leftover lines are Back To
       Top, Top, Return to top, Share, Share this article, Print, Click here to print,
       Comments, Related Articles, Advertisement, Tweet, Email, Facebook, Read more (any case,
       surrounding punctuation ignored), and lines of at most 120 characters starting with
       "Copyright", "(c) " or "©".
    10. Without a date line the date comes from a YYYY-MM-DD- prefix of the file name; without
        that either, it is an error.

    What was inferred and dropped is listed in the article's ``inferred`` notes, in the order
    of the lines they name.

    Other languages (``languages``): datelines, the words before them ("Publicado el") and
    leftovers in Spanish, French, German, Portuguese, Italian and Japanese read as the English
    ones; bylines may start with Por, Par, Von or Di (names joined by y/e/et/und too, roles
    such as Redactora dropped) or, in Japanese, 文：, 文・ or 記者： (a role in brackets after
    the name dropped).

    When the headline is a guess the reader warns, on the headline's line: a title longer
    than MAX_HEADLINE (a paragraph), a title that looks like a date it could not read, a title
    that is a byline; and, on the last date line, a header region of dates only.
"""

from __future__ import annotations

import html
import re
import sys
import unicodedata
from dataclasses import dataclass
from datetime import tzinfo
from pathlib import Path

from feedpub.config import Site
from feedpub.content.readers import languages
from feedpub.content.readers.common import (
    MAX_TITLE,
    Findings,
    Value,
    filename_date,
    make_article,
    within_budget,
)
from feedpub.dates import dateline, looks_like_date
from feedpub.errors import Problem
from feedpub.model import Article
from feedpub.text import display_width

HEADER_KEYS = {
    "title": "title",
    "date": "date",
    "updated": "updated",
    "author": "authors",
    "authors": "authors",
    "tags": "tags",
    "summary": "summary",
    "slug": "slug",
    "id": "id",
    "draft": "draft",
    "image": "image",
    "url": "url",
}
KNOWN_KEYS = "Title, Date, Updated, Author, Authors, Tags, Summary, Slug, Id, Draft, Image, Url"
# The header block's keys a saved web page may give on lines of their own under its byline.
PAGE_KEYS = ("tags", "summary")
_DRAFT = {"yes": True, "true": True, "no": False, "false": False}

HEADER_REGION = 12
LABEL_WORDS = 8
LABEL_CHARS = 80
MAX_BYLINE = 120
MAX_NAME_WORDS = 6
MAX_ROLE_WORDS = 4
MAX_COPYRIGHT = 120
# parse_date refuses anything longer, so longer lines need not be tried as dates.
MAX_DATE_CHARS = 64

# Lower-case words that may still stand in a name: "Vincent van Gogh", "Leonardo da Vinci".
_PARTICLES = frozenset(
    {
        "al", "bin", "bint", "da", "dal", "de", "del", "della", "den", "der", "di", "dos",
        "du", "el", "ibn", "la", "le", "st", "st.", "ten", "ter", "van", "von", "y", "zu",
        "das", "do", "des", "degli", "dei", "vom", "zum", "zur",
    }
)  # fmt: skip
_SUFFIXES = frozenset(["jr", "jr.", "sr", "sr.", "ii", "iii", "iv"])
_ROLES = frozenset(
    {
        "writer", "reporter", "editor", "correspondent", "contributor", "columnist",
        "photographer", "staff",
    }
)  # fmt: skip
_ROLES |= languages.ROLES
# Besides letters, names hold initials' dots, apostrophes (straight and curly) and hyphens.
_NAME_MARKS = ".'\u2019-"
_LEFTOVERS = frozenset(
    [
        "back to top",
        "top",
        "return to top",
        "share",
        "share this article",
        "print",
        "click here to print",
        "comments",
        "related articles",
        "advertisement",
        "tweet",
        "email",
        "facebook",
        "read more",
    ]
)
_LEFTOVERS |= languages.LEFTOVERS
_LONGEST_LEFTOVER = max(len(entry) for entry in _LEFTOVERS)
RIGHTS = languages.RIGHTS


# A headline longer than this is a paragraph taken for one: the page's headline is missing.
MAX_HEADLINE = 150
UNSURE_FIX = (
    "start the file with a header block ('Title: ...' and 'Date: ...' lines, then a blank "
    "line) in place of the page's own"
)


@dataclass(frozen=True)
class _Line:
    number: int  # 1-based, as in the file
    text: str  # whitespace squashed; "" for a blank line


@dataclass
class _Parsed:
    """What one of the two kinds made of a file, before validation."""

    meta: dict[str, Value]
    body: list[_Line]
    notes: list[str]
    headline: _Line | None = None


def read_text(
    path: Path, relpath: str, text: str, site: Site
) -> tuple[Article | None, list[Problem]]:
    """Read a decoded plain-text article; return it (None on error) and the problems found."""
    found = Findings(relpath)
    lines = [_Line(number, _squash(raw)) for number, raw in enumerate(text.split("\n"), 1)]
    first = next((line for line in lines if line.text), None)
    if first is None:
        found.error(1, "the file is empty")
        return None, found.problems

    if _starts_header_block(first.text):
        parsed = _read_header_block(lines, first, found, site.tz)
    else:
        parsed = _read_web_page(lines, site.tz, found)

    paragraphs = _paragraphs(parsed.body)
    headline = parsed.headline
    if paragraphs and headline and _same_text(paragraphs[0][1], headline.text):
        parsed.notes.append(f"dropped line {paragraphs[0][0]}: repeated headline")
        paragraphs = paragraphs[1:]
    body = "\n\n".join(paragraph for _, paragraph in paragraphs)

    if "title" in parsed.meta and not body:
        found.warning(parsed.meta["title"].line, "no body text")
    if "date" not in parsed.meta and "updated" in parsed.meta and not filename_date(path):
        # A page that only says when it was updated was published then, as far as it tells.
        parsed.meta["date"] = parsed.meta.pop("updated")
        parsed.notes.append(f"date from line {parsed.meta['date'].line}, the page's update")
    if "date" not in parsed.meta and (prefix := filename_date(path)):
        parsed.notes.append(f"date '{prefix}' from the file name")
    article = make_article(
        path, relpath, parsed.meta, body, "text", site, found, inferred=_in_file_order(parsed.notes)
    )
    return article, found.problems


_NOTE_LINE = re.compile(r"\bline (\d+)")


def _in_file_order(notes: list[str]) -> tuple[str, ...]:
    """The notes by the line each names (the kind first, the file name's date last): the
    readers find lines out of order (the leftovers at the end before a repeated headline at
    the top), and ``check -v`` lists them as the file has them."""

    def line_of(note: str) -> int:
        if note.startswith("kind: "):
            return 0
        found = _NOTE_LINE.search(note)
        return int(found.group(1)) if found else sys.maxsize

    return tuple(sorted(notes, key=line_of))


def _squash(text: str) -> str:
    # str.split() knows every Unicode space, so NBSP, thin and narrow spaces go too.
    return " ".join(text.split())


def _same_text(a: str, b: str) -> bool:
    """Equal ignoring case and whitespace: pages repeat headlines with other capitals."""
    return a.replace(" ", "").casefold() == b.replace(" ", "").casefold()


def _is_short(text: str) -> bool:
    # Length first: splitting a megabyte line just to count its words would be wasted work.
    if len(text) > LABEL_CHARS or len(text.split()) > LABEL_WORDS:
        return False
    width = display_width(text)
    if width <= len(text):  # no wide characters: Latin, Greek, Cyrillic...
        return True
    # Chinese and Japanese have no spaces to count: a label is as wide as eight words of
    # English are long, and a line with a full stop is a sentence.
    return "。" not in text and width <= LABEL_CHARS // 2


def _paragraphs(lines: list[_Line]) -> list[tuple[int, str]]:
    """Paragraphs as (first line number, text joined with single spaces)."""
    paragraphs: list[tuple[int, str]] = []
    current: list[str] = []
    start = 0
    for line in lines:
        if line.text:
            if not current:
                start = line.number
            current.append(line.text)
        elif current:
            paragraphs.append((start, " ".join(current)))
            current = []
    if current:
        paragraphs.append((start, " ".join(current)))
    return paragraphs


def _split_names(text: str, joins: tuple[str, ...] = ("and",)) -> list[str]:
    """Names separated by ',', '&' or ' and ' (or the words ``joins``); empty entries dropped."""
    names: list[str] = []
    for part in text.replace("&", ",").split(","):
        current: list[str] = []
        # Word by word rather than by regex, so a huge line costs linear time.
        for word in part.split():
            if word.casefold() in joins:
                names.append(" ".join(current))
                current = []
            else:
                current.append(word)
        names.append(" ".join(current))
    return [name for name in names if name]


# -- header block -----------------------------------------------------------------------------


def _key_value(text: str) -> tuple[str, str] | None:
    """(key, value) for any 'Key: value' line, known key or not."""
    key, colon, value = text.partition(":")
    key = key.strip()
    if not colon or not key or not key.isascii() or not key[0].isalpha():
        return None
    if not key.replace("-", "").replace("_", "").isalnum():
        return None
    return key, value.strip()


def _starts_header_block(text: str) -> bool:
    # Only a known key counts here: "Note: ..." or "Update: ..." can open a page's text.
    pair = _key_value(text)
    return pair is not None and pair[0].casefold() in HEADER_KEYS


def _read_header_block(lines: list[_Line], first: _Line, found: Findings, tz: tzinfo) -> _Parsed:
    meta: dict[str, Value] = {}
    given: dict[str, str] = {}  # field -> the key as written, for the repeated-key warning
    index = first.number - 1
    while index < len(lines) and lines[index].text:
        line = lines[index]
        index += 1
        pair = _key_value(line.text)
        if pair is None:
            found.error(
                line.number,
                f"line {line.number} in the header block is not 'Key: value'; "
                "end the header with a blank line",
            )
            continue
        key, value = pair
        name = HEADER_KEYS.get(key.casefold())
        if name is None:
            found.warning(line.number, f"unknown key '{key}' ignored; known keys are {KNOWN_KEYS}")
            continue
        if name in given:
            earlier = given[name]
            if earlier.casefold() == key.casefold():
                found.warning(line.number, f"'{key}' given twice; using the last")
            else:
                found.warning(line.number, f"both '{earlier}' and '{key}' given; using the last")
        given[name] = key
        meta[name] = Value(_header_value(name, value, tz), line.number)
    return _Parsed(meta=meta, body=lines[index:], notes=["kind: header block"])


def _header_value(name: str, value: str, tz: tzinfo) -> object:
    if name in ("date", "updated") and looks_like_date(value, tz) is None:
        # "2 de febrero de 2027": a date as the page's own language writes it.
        written = languages.read_dateline(value, tz)
        if written is not None and not written.updated:
            return written.moment
    if name == "authors":
        return _split_names(value)
    if name == "draft":
        # Anything else goes on as text so that make_article reports it.
        return _DRAFT.get(value.casefold(), value)
    return value


# -- web page ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Byline:
    names: list[str]
    roles: list[str]


def _date_line(line: _Line, tz: tzinfo) -> bool:
    return _line_date(line, tz) is not None


def _line_date(line: _Line, tz: tzinfo) -> tuple[object, str, bool] | None:
    """The date a line gives (as make_article takes it), the date as written, and whether
    it is the updated date; None for a line that is not a date."""
    if len(line.text) > MAX_DATE_CHARS:
        return None
    if looks_like_date(line.text, tz) is not None:
        text, updated = dateline(line.text)
        return text, text, updated
    written = languages.read_dateline(line.text, tz)
    if written is None:
        return None
    return written.moment, written.text, written.updated


def _read_web_page(lines: list[_Line], tz: tzinfo, found: Findings) -> _Parsed:
    parsed = _Parsed(meta={}, body=[], notes=["kind: web page"])
    filled = [line for line in lines if line.text]
    region = filled[:HEADER_REGION]

    position = 0
    while position < len(region) and _date_line(region[position], tz):
        _take_date(parsed, region[position], tz)
        position += 1
    if position == len(region):  # nothing but dates up there: no headline to take
        last_date = region[-1].number
        where = (
            f"line {last_date} is a date"
            if len(region) == 1
            else (f"lines {region[0].number} to {last_date} are all dates")
        )
        found.warning(last_date, f"no headline found: {where}; {UNSURE_FIX}")
        parsed.body = lines[region[-1].number :]
        return parsed
    headline = region[position]
    parsed.headline = headline
    parsed.meta["title"] = Value(headline.text, headline.number)
    parsed.notes.append(f"title from line {headline.number}")
    _doubt_headline(headline, found)

    last = headline  # the last line of the header; the body starts after it
    at = _find_byline(region, position + 1, headline)
    if at is not None:
        for line in region[position + 1 : at]:
            if _same_text(line.text, headline.text):
                parsed.notes.append(f"dropped line {line.number}: repeated headline")
            elif _date_line(line, tz):
                _take_date(parsed, line, tz)
            else:
                parsed.notes.append(f"dropped line {line.number}: label '{line.text}'")
        last = region[at]
        _take_byline(parsed, last)
    # A date printed right under the headline or byline belongs to the header, not the body.
    # So do the lines right after it that are dates too ("Updated ..." under "Published ...").
    following = (position if at is None else at) + 1
    while following < len(filled) and _date_line(filled[following], tz):
        last = filled[following]
        _take_date(parsed, last, tz)
        following += 1

    # Tags: and Summary: lines right under the header are the page's own metadata (a saved
    # page given its tags by hand), not its first paragraph.
    at_line = following  # the line after the header's last (region is filled's start)
    while at_line < len(filled) and (pair := _key_value(filled[at_line].text)) is not None:
        field = pair[0].casefold()
        if field not in PAGE_KEYS or field in parsed.meta:
            break
        line = filled[at_line]
        parsed.meta[field] = Value(pair[1], line.number)
        parsed.notes.append(f"{field} from line {line.number}")
        last = line
        at_line += 1

    parsed.body = _trim_leftovers(lines[last.number :], parsed.notes)
    return parsed


def _doubt_headline(headline: _Line, found: Findings) -> None:
    """Warn when the line taken for the headline is unlikely to be one: the reader guessed,
    and the guess becomes the page's title, the feeds' and the newsletter's subject."""
    text = headline.text
    if len(text) > MAX_TITLE:
        return  # make_article says it is too long, which is fix enough
    if len(text) > MAX_HEADLINE:
        found.warning(
            headline.number,
            f"no headline found: line {headline.number} reads as a paragraph "
            f"({len(text)} characters), taken as the title; {UNSURE_FIX}",
        )
    elif languages.looks_like_a_date(text):
        found.warning(
            headline.number,
            f"the title {text!r} looks like a date, not a headline (feedpub could not read it "
            f"as one); {UNSURE_FIX}",
        )
    elif _parse_byline(text) is not None:
        found.warning(
            headline.number,
            f"the title {text!r} reads as a byline: the page's headline seems to be missing; "
            f"{UNSURE_FIX}",
        )


def _take_date(parsed: _Parsed, line: _Line, tz: tzinfo) -> None:
    taken = _line_date(line, tz)
    assert taken is not None  # the callers chose this line because it is a date
    value, text, updated = taken
    field = "updated" if updated else "date"
    if field in parsed.meta:
        parsed.notes.append(f"dropped line {line.number}: another date '{line.text}'")
    else:
        parsed.meta[field] = Value(value, line.number)
        parsed.notes.append(f"{field} '{text}' from line {line.number}")


def _find_byline(region: list[_Line], start: int, headline: _Line) -> int | None:
    """Index in ``region`` of the byline, or None when prose comes before any byline."""
    for index in range(start, len(region)):
        text = region[index].text
        if _parse_byline(text) is not None:
            return index
        if not (_is_short(text) or _same_text(text, headline.text)):
            return None
    return None


def _take_byline(parsed: _Parsed, line: _Line) -> None:
    byline = _parse_byline(line.text)
    assert byline is not None  # _find_byline chose this line because it parses
    parsed.meta["authors"] = Value(byline.names, line.number)
    quoted = ", ".join(f"'{name}'" for name in byline.names)
    noun = "author" if len(byline.names) == 1 else "authors"
    note = f"{noun} {quoted} from byline on line {line.number}"
    if byline.roles:
        note += " (dropped " + ", ".join(f"role '{role}'" for role in byline.roles) + ")"
    parsed.notes.append(note)


def _parse_byline(text: str) -> _Byline | None:
    if len(text) > MAX_BYLINE or len(text) < 4:
        return None
    word = text[:4].split(None, 1)[0].split(":", 1)[0].casefold()
    joins = languages.BYLINE_WORDS.get(word)
    if joins is None:
        return _parse_japanese_byline(text)
    if len(text) <= len(word) or text[len(word)] not in " :":  # "Bypass", "Parade": words
        return None
    names: list[str] = []
    roles: list[str] = []
    for index, part in enumerate(text[len(word) :].lstrip(" :").split(",")):
        part = part.strip()
        if index and part.casefold() in _SUFFIXES and names:
            names[-1] = f"{names[-1]} {part}"
        elif index and _is_role(part):
            roles.append(part)
        else:
            names.extend(_split_names(part, joins))
    if not names or not all(_is_name(name) for name in names):
        return None
    return _Byline(names, roles)


def _parse_japanese_byline(text: str) -> _Byline | None:
    """文：山田太郎, 文・山田 花子, 記者：佐藤花子（社会部）: the role in brackets is dropped."""
    found = languages.JAPANESE_BYLINE.match(text)
    if found is None:
        return None
    names_text = found["names"]
    roles: list[str] = []
    if role := languages.JAPANESE_ROLE.search(names_text):
        roles.append(role["role"])
        names_text = names_text[: role.start()]
    names = [name for name in languages.JAPANESE_NAME_SEPARATORS.split(names_text) if name]
    if not names or not all(_is_japanese_name(name) for name in names):
        return None
    return _Byline(names, roles)


def _is_japanese_name(name: str) -> bool:
    # A name is short: a longer run of letters after "文：" is the article's first sentence.
    # Foreign names are written in katakana with a middle dot: ジョン・スミス.
    words = name.replace("・", "").replace("\uff65", "").split()
    return (
        0 < len(words) <= 2
        and sum(map(len, words)) <= languages.MAX_JAPANESE_NAME
        and all(_is_name_word(word) for word in words)
    )


def _is_role(part: str) -> bool:
    words = part.casefold().split()
    if not words or len(words) > MAX_ROLE_WORDS:
        return False
    last = words[-1]
    # Plurals: Writers, Journalistes, Repórteres, Redakteurinnen.
    return any(last[: len(last) - cut] in _ROLES for cut in (0, 1, 2, 3) if cut < len(last))


def _is_name(name: str) -> bool:
    words = name.split()
    if not 0 < len(words) <= MAX_NAME_WORDS:
        return False
    # Particles alone ("By de la") are no name; they only join one.
    return all(_is_name_word(word) for word in words) and any(
        word.casefold() not in _PARTICLES for word in words
    )


def _is_name_word(word: str) -> bool:
    if word.casefold() in _PARTICLES:
        return True
    if word[:2].casefold() in ("d'", "d\u2019", "l'", "l\u2019") and len(word) > 2:
        word = word[2:]  # d'Arcy, l'Hôpital
    # A lower-case start means prose: "By the way", "By noon".
    if not word[0].isalpha() or word[0].islower():
        return False
    return all(
        ch.isalpha() or ch in _NAME_MARKS or unicodedata.category(ch).startswith("M") for ch in word
    )


def _trim_leftovers(body: list[_Line], notes: list[str]) -> list[_Line]:
    end = len(body)
    dropped: list[str] = []
    while end and (not body[end - 1].text or _is_leftover(body[end - 1].text)):
        line = body[end - 1]
        if line.text:
            dropped.append(f"dropped line {line.number}: page leftover '{line.text}'")
        end -= 1
    notes.extend(reversed(dropped))
    return body[:end]


def _is_leftover(text: str) -> bool:
    folded = text.casefold()
    if len(text) <= MAX_COPYRIGHT and folded.startswith(("©", "copyright", "(c) ", *RIGHTS)):
        return True
    if len(text) > _LONGEST_LEFTOVER + 20:  # room for arrows, bullets and the like
        return False
    start = 0
    end = len(folded)
    while start < end and not folded[start].isalnum():
        start += 1
    while end > start and not folded[end - 1].isalnum():
        end -= 1
    return " ".join(folded[start:end].split()) in _LEFTOVERS


class PlainTextReader:
    """feedpub's reader of .txt files (plugins.Reader)."""

    def read(
        self, path: Path, relpath: str, text: str, site: Site
    ) -> tuple[Article | None, list[Problem]]:
        return read_text(path, relpath, text, site)

    def body(self, path: Path, relpath: str, text: str, site: Site) -> str:
        # Read whole again: which lines are the body depends on the header found above it.
        if not within_budget(text, False, Findings(relpath)):
            return ""
        article, _ = read_text(path, relpath, text, site)
        return (article.body or "") if article is not None else ""

    def render(self, body: str) -> str:
        paragraphs = [p for p in body.split("\n\n") if p.strip()]
        return "".join(f"<p>{html.escape(p, quote=False)}</p>\n" for p in paragraphs)


READER = PlainTextReader()
