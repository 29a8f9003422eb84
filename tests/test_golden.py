"""The example site's feeds, HTML pages and first issue (digest HTML, text, issues feed, the
archive's pages), byte for byte, against tests/golden/.

After an intended change, regenerate with `python tests/regen_golden.py` and review the diff.
"""

from __future__ import annotations

import difflib
from pathlib import Path

import feedparser
import pytest
from golden_site import GOLDEN, GOLDEN_FILES, PAGES, build_example, golden_pages

from feedpub.store.issues import UNSUBSCRIBE_PLACEHOLDER

REGEN = "python tests/regen_golden.py"


@pytest.fixture(scope="module")
def fresh(tmp_path_factory: pytest.TempPathFactory) -> dict[str, bytes]:
    return build_example(tmp_path_factory.mktemp("golden"))


@pytest.mark.parametrize("name", GOLDEN_FILES, ids=GOLDEN_FILES)
def test_matches_golden_file(fresh: dict[str, bytes], name: str) -> None:
    golden = GOLDEN / name
    if not golden.is_file():
        pytest.fail(f"tests/golden/{name} is missing; run {REGEN}", pytrace=False)
    expected = golden.read_bytes()
    if fresh[name] != expected:
        diff = difflib.unified_diff(
            expected.decode("utf-8").splitlines(keepends=True),
            fresh[name].decode("utf-8").splitlines(keepends=True),
            fromfile=f"tests/golden/{name}",
            tofile=f"fresh build/{name}",
        )
        pytest.fail(
            f"{name} differs from its golden file; if the change is intended, run {REGEN}\n"
            + "".join(diff),
            pytrace=False,
        )


def test_golden_folder_holds_only_the_golden_files() -> None:
    on_disk = sorted(p.relative_to(GOLDEN).as_posix() for p in GOLDEN.rglob("*") if p.is_file())
    assert on_disk == sorted(GOLDEN_FILES)


def test_golden_pages_are_every_page_of_the_build(fresh: dict[str, bytes]) -> None:
    built = sorted(name for name in fresh if name.startswith(f"{PAGES}/"))
    assert len(built) > 20  # the home page, archive, tag and author lists, articles, issues
    if built != list(golden_pages()):
        pytest.fail(
            f"the build's HTML pages are not the golden ones; run {REGEN}\n"
            f"new: {sorted(set(built) - set(golden_pages()))}\n"
            f"gone: {sorted(set(golden_pages()) - set(built))}",
            pytrace=False,
        )


def test_example_build_is_reproducible(fresh: dict[str, bytes], tmp_path: Path) -> None:
    # A second fresh build elsewhere gives the same bytes: no paths, clocks or random ids leak.
    assert build_example(tmp_path) == fresh


def test_golden_feeds_hold_the_published_articles(fresh: dict[str, bytes]) -> None:
    rss = fresh["rss.xml"].decode("utf-8")
    assert rss.count("<item>") == 6
    # A plain-text title writes '&' and '<' as hexadecimal references (the RSS profile's way).
    assert 'Tom &#x26; Jerry &#x3C;3 "quotes": the cafeteria\'s new menu' in rss
    # The draft and the article scheduled for 2031 are not out yet.
    assert "Our Town" not in rss
    assert "class of 2031" not in rss


def test_golden_issue_carries_the_published_articles(fresh: dict[str, bytes]) -> None:
    text = fresh["issue-1/digest.txt"].decode("utf-8")
    html = fresh["issue-1/digest.html"].decode("utf-8")
    assert text.startswith("The Ledger Weekly · Issue #1 · November 27, 2026\n")
    assert text.count("Read it: https://ledger.millbrook.example/") == 6
    assert '\n2. Tom & Jerry <3 "quotes": the cafeteria\'s new menu\n' in text
    assert "Tom &amp; Jerry &lt;3" in html
    # The draft and the article scheduled for 2031 wait; the unsubscribe link is per recipient.
    for digest in (text, html):
        assert "Our Town" not in digest
        assert "class of 2031" not in digest
        assert UNSUBSCRIBE_PLACEHOLDER in digest


def test_golden_issues_feed_has_issue_one(fresh: dict[str, bytes]) -> None:
    feed = feedparser.parse(fresh["issues/rss.xml"])
    assert not feed.bozo
    [entry] = feed.entries
    assert entry.title == (
        "The Ledger Weekly #1: Winter concert brings 180 performers, a signing choir and a premiere"
    )
    assert entry.link == "https://ledger.millbrook.example/issues/1/"
