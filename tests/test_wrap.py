"""The text part's wrapping: by display width, so that Chinese, Japanese and Korean text keeps
to the 72 columns promised as English does, broken between characters where it has no spaces
and never before a closing mark (kinsoku), URLs whole, English wrapped exactly as before."""

from __future__ import annotations

import textwrap
import unicodedata
from datetime import datetime
from pathlib import Path

import pytest
from helpers import REPO, SETTINGS, TZ, load
from hypothesis import given
from hypothesis import strategies as st

from feedpub.newsletter import issues
from feedpub.newsletter.note import note_text
from feedpub.site.build import load_catalog
from feedpub.store.state import State
from feedpub.text import display_width, wrap

PAGES = REPO / "tests" / "data" / "pages"
AFTER = datetime(2027, 2, 5, 12, 0, tzinfo=TZ)  # two days after the Japanese page's date
# About 100 wide characters: a Japanese paragraph, one line before.
JAPANESE = (
    "市議会は3日、駅前に新しい市立図書館を建設する計画を賛成多数で承認した。総工費は約四十二億円で、"
    "二〇二九年春の開館を目指す。市長は「子どもから高齢者まで、誰もが集える場所にしたい」と述べた。"
)
NO_LINE_START = "、。，．・：；？！」』）］｝〕〉》】ゝゞ々ーぁぃぅぇぉっゃゅょァィゥェォッャュョ"
NO_LINE_END = "「『（［｛〔〈《【"


def test_display_width_counts_wide_characters_twice() -> None:
    assert display_width("abc") == 3
    assert display_width("日本語") == 6
    assert display_width("ｶﾀｶﾅ") == 4  # half-width katakana are narrow
    assert display_width("Ａ") == 2  # full-width Latin
    assert display_width("e\u0301") == 1  # a combining accent takes no column


def test_a_japanese_paragraph_keeps_to_72_columns() -> None:
    lines = wrap(JAPANESE, 72)
    assert len(lines) > 1
    assert all(display_width(line) <= 72 for line in lines)
    assert "".join(lines) == JAPANESE
    assert max(display_width(line) for line in lines) >= 68  # filled, not cut short


def test_no_line_starts_with_a_closing_mark_or_ends_with_an_opening_one() -> None:
    for width in range(10, 80):
        lines = wrap(JAPANESE, width)
        assert "".join(lines) == JAPANESE
        for line in lines[1:]:
            assert line[0] not in NO_LINE_START, (width, line)
        for line in lines[:-1]:
            assert line[-1] not in NO_LINE_END, (width, line)


def test_a_url_in_japanese_text_is_never_broken() -> None:
    url = "https://example.org/2027/02/toshokan-kensetsu-keikaku-shingikai-no-kekka/"
    text = "詳しくは" * 10 + url + "をご覧ください。" * 3
    lines = wrap(text, 72)
    assert any(line == url or url in line for line in lines)
    assert "".join(lines) == text


def test_english_is_wrapped_exactly_as_textwrap_wraps_it() -> None:
    text = (
        "The council voted 7-2 on Monday to approve a new park along the river, "
        "https://example.org/a/very/long/address/that/goes/on/and/on/and/on/and/on/forever "
        "and construction starts in the spring. Well-known hyphenated-words stay whole."
    )
    for width in (20, 40, 72):
        assert wrap(text, width) == textwrap.wrap(
            text, width, break_long_words=False, break_on_hyphens=False
        )


def test_mixed_text_breaks_at_spaces_in_its_english_and_anywhere_in_its_japanese() -> None:
    text = "The Circuit Weekly 第8号: " + JAPANESE + " Read more at https://example.org/8/"
    lines = wrap(text, 72, "> ", "> ")
    assert all(display_width(line) <= 72 for line in lines)
    assert all(line.startswith("> ") for line in lines)
    assert "".join(line[2:] for line in lines).replace(" ", "") == text.replace(" ", "")
    assert lines[-1].endswith("https://example.org/8/")


def test_korean_breaks_at_spaces_only() -> None:
    text = "서울시는 새로운 도서관을 짓기로 했습니다. " * 6
    lines = wrap(text, 40)
    assert all(display_width(line) <= 40 for line in lines)
    words = set(text.split())
    assert all(word in words for line in lines for word in line.split())


def _breakable(ch: str) -> bool:
    """Chinese and Japanese: wide, and neither an emoji nor Korean (which breaks at spaces)."""
    wide = unicodedata.east_asian_width(ch) in "WF"
    return wide and unicodedata.category(ch) != "So" and not "\uac00" <= ch <= "\ud7a3"


WORDS = st.one_of(
    st.text(st.sampled_from("abcdefxyz.,-"), min_size=1, max_size=12),
    st.text(st.sampled_from("日本語のニュース市議会「」（）、。ー！？"), min_size=1, max_size=30),
    st.sampled_from(["https://example.org/a/b?c=d", "x" * 80, "한국어", "🎉", "Ａ"]),
)
SEPARATORS = st.sampled_from(["", " ", "  ", "\t"])


@given(
    st.lists(st.tuples(WORDS, SEPARATORS), max_size=40),
    st.integers(min_value=10, max_value=100),
    st.sampled_from(["", "- ", "> "]),
)
def test_every_line_fits_unless_it_is_one_unbreakable_word(
    pieces: list[tuple[str, str]], width: int, indent: str
) -> None:
    text = "".join(word + separator for word, separator in pieces)
    lines = wrap(text, width, indent, " " * len(indent))
    for line in lines:
        body = line[len(indent) :]
        if display_width(line) > width:
            # Over the width only when nothing in it could break: one word or URL.
            assert body.split() == [body]
            assert not any(_breakable(ch) for ch in body)
    assert "".join("".join(line[len(indent) :] for line in lines).split()) == "".join(text.split())


@given(st.text(st.characters(max_codepoint=0x2FF), max_size=300), st.integers(10, 100))
def test_text_without_wide_characters_wraps_as_textwrap_does(text: str, width: int) -> None:
    assert wrap(text, width, "", "  ") == textwrap.wrap(
        text, width, subsequent_indent="  ", break_long_words=False, break_on_hyphens=False
    )


def test_the_editors_note_in_japanese_is_wrapped_too() -> None:
    lines = note_text(f"<p>{JAPANESE}</p><ul><li>{JAPANESE}</li></ul>").splitlines()
    assert all(display_width(line) <= 72 for line in lines)
    assert lines[-1].startswith("  ")


NEWSLETTER = """
[newsletter]
name = "Circuit Weekly"
from = "Circuit Weekly <news@example.org>"
schedule = "manual"
lookback_days = 30
unsubscribe_url = "https://news.example.org/unsubscribe"
"""


def test_the_digests_text_part_keeps_japanese_to_72_columns(tmp_path: Path) -> None:
    root = tmp_path / "site"
    (root / "content").mkdir(parents=True)
    (root / "feedpub.toml").write_text(SETTINGS + NEWSLETTER, encoding="utf-8")
    page = (PAGES / "ja-circuit-weekly.txt").read_text(encoding="utf-8")
    (root / "content" / "toshokan.txt").write_text(page, encoding="utf-8")
    site = load(root)
    with State.open(site.state_dir) as state:
        draft = issues.compose(site, state, load_catalog(site, state, AFTER), AFTER, "")
    assert draft is not None
    rendered = draft.digest
    assert "市議会、新しい図書館の建設を承認" in rendered.subject
    assert "2027年2月3日" not in rendered.subject
    lines = rendered.text.splitlines()
    long = [line for line in lines if display_width(line) > 72 and "://" not in line]
    assert long == []
    assert any("市議会は3日" in line for line in lines)


@pytest.mark.parametrize("width", [1, 2, 3])
def test_a_width_narrower_than_one_character_still_makes_progress(width: int) -> None:
    lines = wrap("日本語です。", width)
    assert "".join(lines) == "日本語です。"


@pytest.mark.parametrize(
    "text",
    ["x" * 1_000_000 + "日本", "「" * 200_000, "日" + " " * 1_000_000 + "本", JAPANESE * 2_000],
    ids=["megabyte-word", "brackets", "megabyte-space", "long-japanese"],
)
def test_huge_text_wraps_in_linear_time(text: str) -> None:
    # 400 KB of Japanese in well under a second; a quadratic join took 12 s on the first.
    lines = wrap(text, 72)
    assert "".join("".join(lines).split()) == "".join(text.split())
