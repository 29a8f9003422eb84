"""Enclosures, [podcast]'s iTunes tags and an article's own language, in feeds and pages.

apple_podcast() asserts Apple Podcasts' RSS requirements for a show (as feed_checks does the
W3C validator's rules, including its iTunes checks); the school radio's feed goes through both.
"""

from __future__ import annotations

import json
import re
import shutil
import struct
import subprocess
import zlib
from pathlib import Path

import feedparser
import pytest
from feed_checks import AUTHOR_KINDS, validator_atom, validator_json, validator_rss
from helpers import SETTINGS, SITE_URL, article, errors, load, publish, write_articles
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lxml import etree

from feedpub.content import media
from feedpub.content.readers import read_article
from feedpub.errors import ConfigError
from feedpub.itunes import CATEGORIES, NAMESPACE

IT = f"{{{NAMESPACE}}}"
ATOM = "{http://www.w3.org/2005/Atom}"
XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"
# Apple's media formats (the W3C validator's UnsupportedItunesFormat lists the same).
APPLE_FORMATS = ("m4a", "mp3", "mov", "mp4", "m4v", "pdf", "epub")
DURATION = re.compile(r"(?:[0-9]?[0-9]:)?[0-5]?[0-9]:[0-5][0-9]")  # the validator's duration
PODCAST = """
[podcast]
category = "Education"
subcategory = "Courses"
owner_name = "Ms Rivera"
owner_email = "radio@example.org"
artwork = "/show.png"
"""


def png(width: int, height: int) -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    rows = b"".join(b"\x00" + b"\x00" * width * 3 for _ in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


def radio(root: Path, podcast: str = PODCAST, artwork: bytes | None = None) -> Path:
    """A school radio show: two episodes, one a file of static/, one hosted elsewhere."""
    (root / "static" / "audio").mkdir(parents=True)
    (root / "static" / "show.png").write_bytes(artwork or png(1400, 1400))
    (root / "static" / "audio" / "episode-1.mp3").write_bytes(b"ID3" + bytes(4997))
    (root / "feedpub.toml").write_text(SETTINGS + podcast, encoding="utf-8")
    write_articles(
        root,
        {
            "2026-11-20-one.md": article(
                "Episode one", enclosure="/audio/episode-1.mp3", duration="'1:02:03'", lang="fr"
            ),
            "2026-11-21-two.md": article(
                "Episode two",
                "2026-11-21 09:00",
                enclosure="{url: 'https://cdn.example.org/two.m4a', length: 1234, "
                "type: audio/x-m4a}",
                duration="95",
            ),
        },
    )
    return root


def apple_podcast(data: bytes) -> None:
    """Apple Podcasts' requirements for a show's RSS feed (its "Podcast RSS feed
    requirements"): RSS 2.0 in UTF-8 with the iTunes namespace; the channel's title,
    description, link, language, itunes:image (an http(s) JPEG or PNG), an itunes:category
    from Apple's list (a subcategory of it), itunes:explicit true or false, an owner's email;
    each episode a title, a unique guid and an enclosure with url, length and type in a format
    Apple plays, its itunes:duration a clock."""
    assert data.startswith(b"<?xml version='1.0' encoding='UTF-8'?>")
    root = etree.fromstring(data)
    assert root.tag == "rss" and root.get("version") == "2.0"
    assert root.nsmap.get("itunes") == NAMESPACE, "the iTunes namespace on <rss>"
    channel = root.find("channel")
    assert channel is not None
    for name in ("title", "description", "link", "language"):
        assert (channel.findtext(name) or "").strip(), f"<{name}>"
    images = channel.findall(f"{IT}image")
    assert len(images) == 1
    href = images[0].get("href") or ""
    assert re.fullmatch(r"https?://\S+\.(?:jpg|jpeg|png)", href, re.IGNORECASE), href
    categories = channel.findall(f"{IT}category")
    assert categories, "itunes:category"
    for category in categories:
        assert category.get("text") in CATEGORIES
        for sub in category.findall(f"{IT}category"):
            assert sub.get("text") in CATEGORIES[category.get("text") or ""]
    assert channel.findtext(f"{IT}explicit") in {"true", "false"}
    email = channel.findtext(f"{IT}owner/{IT}email") or ""
    assert re.fullmatch(r"[^@\s<>]+@[^@\s<>]+\.\w+", email), "itunes:owner's itunes:email"
    kind = channel.findtext(f"{IT}type")
    assert kind in {None, "episodic", "serial"}
    items = channel.findall("item")
    assert items
    guids = [item.findtext("guid") for item in items]
    assert all(guids) and len(set(guids)) == len(guids)
    urls = []
    for item in items:
        assert (item.findtext("title") or "").strip()
        (enclosure,) = item.findall("enclosure")
        url = enclosure.get("url") or ""
        assert re.fullmatch(r"https?://\S+", url)
        assert url.rsplit(".", 1)[-1].lower() in APPLE_FORMATS, url
        assert (enclosure.get("length") or "").isdigit()
        assert re.fullmatch(r"[\w.+-]+/[\w.+-]+", enclosure.get("type") or "")
        urls.append(url)
        duration = item.findtext(f"{IT}duration")
        assert duration is None or DURATION.fullmatch(duration), duration
        assert item.findtext(f"{IT}explicit") in {None, "true", "false"}
    assert len(set(urls)) == len(urls), "Apple ignores an enclosure URL used before"


def test_school_radio_feed_passes_apple_and_the_validator(tmp_path: Path) -> None:
    output = load(radio(tmp_path)).output_dir
    assert not errors(publish(tmp_path).problems)
    rss = (output / "rss.xml").read_bytes()
    apple_podcast(rss)
    assert validator_rss(rss, "") <= AUTHOR_KINDS
    atom = (output / "atom.xml").read_bytes()
    assert validator_atom(atom, "") <= AUTHOR_KINDS
    assert validator_json((output / "feed.json").read_bytes(), "") <= AUTHOR_KINDS
    channel = etree.fromstring(rss).find("channel")
    assert channel is not None
    assert channel.find(f"{IT}image").get("href") == SITE_URL + "show.png"  # type: ignore[union-attr]
    assert channel.findtext(f"{IT}owner/{IT}name") == "Ms Rivera"
    item = {i.findtext("title"): i for i in channel.findall("item")}
    one = item["Episode one"].find("enclosure")
    assert one is not None and dict(one.attrib) == {
        "url": SITE_URL + "audio/episode-1.mp3",
        "length": "5000",
        "type": "audio/mpeg",
    }
    assert item["Episode one"].findtext(f"{IT}duration") == "01:02:03"
    assert item["Episode two"].findtext(f"{IT}duration") == "00:01:35"


def test_enclosures_read_back_by_feedparser_in_all_three_formats(tmp_path: Path) -> None:
    output = load(radio(tmp_path)).output_dir
    publish(tmp_path)
    expected = {
        "Episode one": (SITE_URL + "audio/episode-1.mp3", "5000", "audio/mpeg"),
        "Episode two": ("https://cdn.example.org/two.m4a", "1234", "audio/x-m4a"),
    }
    for name in ("rss.xml", "atom.xml"):
        parsed = feedparser.parse((output / name).read_bytes())
        assert parsed.bozo == 0
        got = {
            e.title: (e.enclosures[0].href, e.enclosures[0].length, e.enclosures[0].type)
            for e in parsed.entries
        }
        assert got == expected, name
    atom = etree.fromstring((output / "atom.xml").read_bytes())
    links = [link.attrib for link in atom.iter(f"{ATOM}link") if link.get("rel") == "enclosure"]
    assert len(links) == 2 and all(set(link) == {"href", "rel", "type", "length"} for link in links)
    feed = json.loads((output / "feed.json").read_text(encoding="utf-8"))
    attachments = {i["title"]: i["attachments"] for i in feed["items"]}
    assert attachments["Episode two"] == [
        {
            "url": "https://cdn.example.org/two.m4a",
            "mime_type": "audio/x-m4a",
            "size_in_bytes": 1234,
            "duration_in_seconds": 95,
        }
    ]


def test_without_podcast_settings_no_itunes_tags_but_enclosures(tmp_path: Path) -> None:
    output = load(radio(tmp_path, podcast="")).output_dir
    publish(tmp_path)
    rss = (output / "rss.xml").read_bytes()
    assert NAMESPACE.encode() not in rss
    assert rss.count(b"<enclosure ") == 2
    assert validator_rss(rss, "") <= AUTHOR_KINDS


def test_tag_feeds_carry_no_itunes_tags(tmp_path: Path) -> None:
    radio(tmp_path)
    write_articles(tmp_path, {"2026-11-22-t.md": article("Tagged", tags="news")})
    publish(tmp_path)
    output = load(tmp_path).output_dir
    assert NAMESPACE.encode() not in (output / "tags" / "news" / "rss.xml").read_bytes()
    assert NAMESPACE.encode() not in (output / "atom.xml").read_bytes()


def test_lang_on_page_card_atom_entry_and_json_item(tmp_path: Path) -> None:
    output = load(radio(tmp_path)).output_dir
    publish(tmp_path)
    page = (output / "2026" / "11" / "one" / "index.html").read_text(encoding="utf-8")
    assert '<html lang="fr">' in page
    other = (output / "2026" / "11" / "two" / "index.html").read_text(encoding="utf-8")
    assert '<html lang="en">' in other
    home = (output / "index.html").read_text(encoding="utf-8")
    assert home.count('<article class="summary" lang="fr">') == 1
    atom = etree.fromstring((output / "atom.xml").read_bytes())
    langs = {e.findtext(f"{ATOM}title"): e.get(XML_LANG) for e in atom.iter(f"{ATOM}entry")}
    assert langs == {"Episode one": "fr", "Episode two": None}
    feed = json.loads((output / "feed.json").read_text(encoding="utf-8"))
    assert {i["title"]: i.get("language") for i in feed["items"]} == {
        "Episode one": "fr",
        "Episode two": None,
    }


def test_lang_equal_to_the_sites_is_not_repeated(tmp_path: Path) -> None:
    site = load(radio(tmp_path, podcast=""))
    path = tmp_path / "content" / "same.md"
    path.write_text(article("Same", lang="EN"), encoding="utf-8")
    read, problems = read_article(path, "same.md", site)
    assert read is not None and read.lang == "" and not problems


def _problem(tmp_path: Path, **front: str) -> str:
    site = load(radio(tmp_path, podcast=""))
    path = tmp_path / "content" / "bad.md"
    path.write_text(article("Bad", **front), encoding="utf-8")
    read, problems = read_article(path, "bad.md", site)
    assert read is None
    (problem,) = errors(problems)
    assert problem.path == "bad.md" and problem.line == 4
    return problem.message


@pytest.mark.parametrize(
    ("front", "says"),
    [
        ({"enclosure": "/audio/missing.mp3"}, "no such file in static/ (looked for static/audio"),
        ({"enclosure": "../feedpub.toml"}, "leaves static/"),
        ({"enclosure": "/audio/%2e%2e/%2e%2e/feedpub.toml"}, "no such file"),
        ({"enclosure": "https://cdn.example.org/a.mp3"}, "give it as a mapping with its length"),
        ({"enclosure": "javascript:alert(1)"}, "javascript: URL"),
        ({"enclosure": "''"}, "'enclosure' is empty"),
        ({"enclosure": "[1, 2]"}, "must be a path or a mapping"),
        ({"enclosure": "'" + "a" * 5000 + ".mp3'"}, "keep it under 2000"),
        ({"enclosure": "{url: 'https://x.example/a.mp3', length: -1, type: audio/mpeg}"}, "from 0"),
        (
            {"enclosure": "{url: 'https://x.example/a.mp3', length: 1e99, type: audio/mpeg}"},
            "whole number of bytes",
        ),
        (
            {"enclosure": "{url: 'https://x.example/a.mp3', length: " + "9" * 40 + ", type: a/b}"},
            "from 0 to",
        ),
        (
            {"enclosure": "{url: 'https://x.example/a.mp3', length: true, type: audio/mpeg}"},
            "whole number of bytes",
        ),
        (
            {"enclosure": "{url: 'https://x.example/a.mp3', length: 3, type: 'audio mpeg'}"},
            "must be a MIME type",
        ),
        ({"enclosure": "{url: 'https://x.example/a.mp3', type: audio/mpeg}"}, "needs a length"),
        ({"enclosure": "{url: 'https://x.example/a.mp3', length: 3}"}, "needs a type"),
        ({"enclosure": "{url: 'https://x.example/a.mp3', length: 3, size: 4}"}, "unknown key"),
        ({"enclosure": "{length: 3, type: audio/mpeg}"}, "needs a url"),
        ({"duration": "-5"}, "'duration' must be"),
        ({"duration": "'1:99:00'"}, "'duration' must be"),
        ({"duration": "0"}, "from 1 second"),
        ({"duration": "99999999"}, "from 1 second to 100 hours"),
        ({"episode": "0"}, "'episode' must be a whole number from 1 to 1,000,000"),
        ({"episode": "-3"}, "'episode' must be a whole number"),
        ({"episode": "2.5"}, "'episode' must be a whole number"),
        ({"episode": "true"}, "'episode' must be a whole number"),
        ({"episode": "'" + "9" * 40 + "'"}, "'episode' must be a whole number"),
        ({"season": "[1]"}, "'season' must be a whole number"),
        ({"season": "'two'"}, "'season' must be a whole number"),
        ({"lang": "'english please'"}, "'lang'"),
        ({"lang": "'e'"}, "is not a language tag"),
        ({"lang": "'" + "en-" * 30 + "x'"}, "'lang' must be a language tag"),
        ({"lang": "[fr]"}, "'lang' must be a language tag"),
    ],
    ids=lambda value: str(value)[:40] if isinstance(value, dict) else "",
)
def test_bad_media_front_matter_is_an_error_naming_file_and_line(
    tmp_path: Path, front: dict[str, str], says: str
) -> None:
    assert says in _problem(tmp_path, **front)


def test_unknown_static_type_asks_for_a_mapping(tmp_path: Path) -> None:
    radio(tmp_path, podcast="")
    (tmp_path / "static" / "audio" / "episode.zzzq").write_bytes(b"x")
    assert "give the enclosure as a mapping with its type" in _problem_in(
        tmp_path, enclosure="/audio/episode.zzzq"
    )


def _problem_in(root: Path, **front: str) -> str:
    site = load(root)
    path = root / "content" / "bad.md"
    path.write_text(article("Bad", **front), encoding="utf-8")
    read, problems = read_article(path, "bad.md", site)
    assert read is None
    return " ".join(p.message for p in errors(problems))


def test_static_mapping_fills_in_what_it_leaves_out(tmp_path: Path) -> None:
    site = load(radio(tmp_path, podcast=""))
    path = tmp_path / "content" / "m.md"
    path.write_text(article("M", enclosure="{url: /audio/episode-1.mp3}"), encoding="utf-8")
    read, _ = read_article(path, "m.md", site)
    assert read is not None
    assert (read.enclosure_url, read.enclosure_length, read.enclosure_type) == (
        "/audio/episode-1.mp3",
        5000,
        "audio/mpeg",
    )


@pytest.mark.parametrize(
    ("podcast", "says"),
    [
        (PODCAST.replace('category = "Education"', 'category = "Radio"'), "Apple Podcasts' cat"),
        (PODCAST.replace('"Courses"', '"Golf"'), "is not one of Education's subcategories"),
        (PODCAST.replace('category = "Education"\n', ""), "[podcast] category is required"),
        (PODCAST.replace('owner_email = "radio@example.org"\n', ""), "owner_email is required"),
        (PODCAST.replace('"radio@example.org"', '"not an address"'), "owner_email"),
        (PODCAST.replace('artwork = "/show.png"\n', ""), "artwork is required"),
        (PODCAST.replace('"/show.png"', '"/show.gif"'), "must be a JPEG or PNG"),
        (PODCAST.replace('"/show.png"', '"/nothere.png"'), "no such file in static/"),
        (PODCAST.replace('"/show.png"', '"../feedpub.png"'), "path of a file in static/"),
        (PODCAST.replace('"/show.png"', '"ftp://x.example/a.png"'), "http(s) URL or a path"),
        (PODCAST + 'type = "weekly"\n', "must be 'episodic' or 'serial'"),
        (PODCAST + "explicit = 'yes'\n", "[podcast] explicit must be true or false"),
        (PODCAST + f'author = "{"x" * 300}"\n', "keep it under 255"),
        (PODCAST + "colour = 1\n", "unknown setting 'colour' in [podcast]"),
    ],
    ids=lambda value: "" if "\n" in str(value) else str(value)[:30],
)
def test_bad_podcast_settings_name_the_setting(tmp_path: Path, podcast: str, says: str) -> None:
    radio(tmp_path, podcast=podcast)
    with pytest.raises(ConfigError) as raised:
        load(tmp_path)
    assert says in str(raised.value), str(raised.value)
    assert all(p.line > 0 for p in raised.value.problems)


@pytest.mark.parametrize("size", [(1000, 1000), (1400, 1500), (3200, 3200)])
def test_artwork_must_be_a_square_apple_takes(tmp_path: Path, size: tuple[int, int]) -> None:
    radio(tmp_path, artwork=png(*size))
    with pytest.raises(ConfigError, match="Apple Podcasts requires a square from 1400x1400"):
        load(tmp_path)


def test_artwork_url_elsewhere_is_written_as_given(tmp_path: Path) -> None:
    radio(tmp_path, PODCAST.replace('"/show.png"', '"https://cdn.example.org/show.jpg"'))
    publish(tmp_path)
    rss = (load(tmp_path).output_dir / "rss.xml").read_bytes()
    assert b'<itunes:image href="https://cdn.example.org/show.jpg"/>' in rss
    apple_podcast(rss)


def test_building_twice_writes_the_same_feeds(tmp_path: Path) -> None:
    output = load(radio(tmp_path)).output_dir
    publish(tmp_path)
    first = {n: (output / n).read_bytes() for n in ("rss.xml", "atom.xml", "feed.json")}
    publish(tmp_path)
    assert first == {n: (output / n).read_bytes() for n in first}


def test_the_podcast_section_init_writes_is_no_podcast(tmp_path: Path) -> None:
    from feedpub.scaffold import settings_text

    (tmp_path / "feedpub.toml").write_text(settings_text("Paper"), encoding="utf-8")
    assert "[podcast]" in settings_text("Paper")
    assert not load(tmp_path).has_podcast


VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=50),
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.dictionaries(st.sampled_from(["url", "length", "type", "x"]), inner, max_size=4)
    ),
    max_leaves=8,
)


@settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(value=VALUES)
def test_any_enclosure_duration_or_lang_is_a_value_or_a_clear_error(
    tmp_path: Path, value: object
) -> None:
    for check in (
        lambda v: media.enclosure(v, tmp_path),
        media.duration,
        media.lang,
    ):
        try:
            check(value)
        except ValueError as exc:
            assert str(exc).startswith(("'enclosure'", "'duration'", "'lang'")), exc


def test_a_replaced_media_file_gives_its_new_length(tmp_path: Path) -> None:
    output = load(radio(tmp_path)).output_dir
    publish(tmp_path)
    assert b'length="5000"' in (output / "rss.xml").read_bytes()
    (tmp_path / "static" / "audio" / "episode-1.mp3").write_bytes(b"ID3" + bytes(6997))
    publish(tmp_path)
    assert b'length="7000"' in (output / "rss.xml").read_bytes()
    (tmp_path / "static" / "audio" / "episode-1.mp3").unlink()
    report = publish(tmp_path, keep_going=True)
    assert any("no such file in static/" in p.message for p in errors(report.problems))


def test_an_encoded_static_path_is_found_and_written_encoded(tmp_path: Path) -> None:
    radio(tmp_path)
    (tmp_path / "static" / "audio" / "my show.mp3").write_bytes(bytes(10))
    write_articles(
        tmp_path, {"2026-11-22-s.md": article("Spaced", enclosure="'/audio/my show.mp3'")}
    )
    output = load(tmp_path).output_dir
    publish(tmp_path)
    assert (
        f'url="{SITE_URL}audio/my%20show.mp3" length="10"'.encode()
        in (output / "rss.xml").read_bytes()
    )
    publish(tmp_path)  # from the cache: the file is found by its encoded path
    assert b"my%20show.mp3" in (output / "rss.xml").read_bytes()


def test_pages_with_their_own_language_pass_the_nu_html_checker(tmp_path: Path) -> None:
    vnu = Path(__file__).parent / "browser" / "node_modules" / "vnu-jar" / "build" / "dist"
    java = shutil.which("java")
    if java is None or not (vnu / "vnu.jar").is_file():
        pytest.fail("the Nu checker needs java and tests/browser/node_modules (see the README)")
    output = load(radio(tmp_path)).output_dir
    publish(tmp_path)
    pages = [output / "index.html", output / "2026" / "11" / "one" / "index.html"]
    done = subprocess.run(
        [java, "-jar", str(vnu / "vnu.jar"), "--format", "json", "--stdout", *map(str, pages)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    messages = json.loads(done.stdout or done.stderr)["messages"]
    assert [m for m in messages if m["type"] == "error"] == []


def test_a_sub_path_sites_episode_and_artwork_are_under_its_path(tmp_path: Path) -> None:
    """Under a sub-path, a file of static/ is served under the site's path: the enclosure and
    the artwork say so, whether written from the site's root or with the path."""
    radio(tmp_path)
    sub = SITE_URL + "radio/"
    settings = (tmp_path / "feedpub.toml").read_text(encoding="utf-8")
    assert SITE_URL in settings
    (tmp_path / "feedpub.toml").write_text(settings.replace(SITE_URL, sub), encoding="utf-8")
    publish(tmp_path)
    rss = etree.fromstring((load(tmp_path).output_dir / "rss.xml").read_bytes())
    enclosures = [e.get("url") for e in rss.iter("enclosure")]
    assert sub + "audio/episode-1.mp3" in enclosures
    [image] = rss.iter(f"{IT}image")
    assert image.get("href") == sub + "show.png"


def test_an_episode_and_its_season_are_numbered_in_the_podcast(tmp_path: Path) -> None:
    """A serial show numbers its episodes: itunes:episode and itunes:season on the item, and
    the feed still meets Apple's requirements and the validator's."""
    radio(tmp_path, podcast=PODCAST + 'type = "serial"\n')
    one = tmp_path / "content" / "2026-11-20-one.md"
    text = one.read_text(encoding="utf-8")
    one.write_text(text.replace("lang: fr\n", "lang: fr\nepisode: 7\nseason: '2'\n"), "utf-8")
    assert "episode: 7" in one.read_text(encoding="utf-8")
    publish(tmp_path)
    data = (load(tmp_path).output_dir / "rss.xml").read_bytes()
    items = {i.findtext("title"): i for i in etree.fromstring(data).iter("item")}
    numbered, plain = items["Episode one"], items["Episode two"]
    assert (numbered.findtext(f"{IT}episode"), numbered.findtext(f"{IT}season")) == ("7", "2")
    assert plain.find(f"{IT}episode") is None and plain.find(f"{IT}season") is None
    apple_podcast(data)
    assert validator_rss(data, "") <= AUTHOR_KINDS
