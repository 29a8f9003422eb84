"""Right-to-left overrides in plain text: where no markup can isolate a name or a title (a page's
<title>, the email's Subject, the digest's hidden preheader and its text part), an override it
leaves open must not reverse the text written after it. text.isolate puts such a value between
FSI and PDI (UAX #9), and every template's {{ }} does so."""

from __future__ import annotations

from pathlib import Path

import lxml.html
import pytest
from helpers import NEWSLETTER, SETTINGS, make_issue, publish

from feedpub.text import FSI, PDI, isolate

RLO, PDF, LRI = "\u202e", "\u202c", "\u2066"
HOSTILE = {
    "site": f"Gazette {RLO}evil",
    "newsletter": f"Weekly {RLO}evil",
    "title": f"Fix {RLO}this",
    "author": f"Ann {RLO}Bee",
    "summary": f"A summary {RLO}reversed",
}

ISOLATE = {
    "ascii": ("Plain title", "Plain title"),
    "right-to-left-letters": ("שלום עולם", "שלום עולם"),
    "override": (f"Fix {RLO}this", f"{FSI}Fix {RLO}this{PDI}"),
    "closed-override": (f"a {RLO}b{PDF} c", f"a {RLO}b{PDF} c"),
    "already-isolated": (f"{FSI}a {RLO}b{PDI}", f"{FSI}a {RLO}b{PDI}"),
    "two-isolated": (f"{FSI}a {RLO}{PDI} · {FSI}b{PDI}", f"{FSI}a {RLO}{PDI} · {FSI}b{PDI}"),
    "override-after-isolate": (f"{FSI}a{PDI} {RLO}b", f"{FSI}{FSI}a{PDI} {RLO}b{PDI}"),
    # A PDI that closes nothing of the text's own would close the isolate around it.
    "stray-pdi": (f"x{PDI}{RLO}y", f"{FSI}x{RLO}y{PDI}"),
    "open-isolates": (f"{LRI}{LRI}x", f"{FSI}{LRI}{LRI}x{PDI}{PDI}{PDI}"),
}


@pytest.mark.parametrize(("text", "expected"), ISOLATE.values(), ids=list(ISOLATE))
def test_isolate(text: str, expected: str) -> None:
    assert isolate(text) == expected
    assert isolate(expected) == expected


def reversed_runs(line: str) -> list[str]:
    """The text each right-to-left override in ``line`` reverses: up to the PDF or the PDI
    that ends it, or to the line's end (a line ends a paragraph, UAX #9)."""
    runs = []
    for start, char in enumerate(line):
        if char != RLO:
            continue
        depth, end = 0, len(line)
        for index in range(start + 1, len(line)):
            if line[index] in "\u2066\u2067\u2068":
                depth += 1
            elif line[index] == PDI and depth:
                depth -= 1
            elif line[index] in (PDI, PDF):
                end = index
                break
        runs.append(line[start + 1 : end])
    return runs


# What follows the override in each hostile value: all an override may reverse.
OWN = {value.split(RLO)[1] for value in HOSTILE.values()}


def leaks(line: str) -> list[str]:
    """What an override in ``line`` reverses beyond the end of its own value."""
    return [run for run in reversed_runs(line) if run not in OWN]


@pytest.fixture(scope="module")
def hostile_site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("isolation") / "site"
    (root / "content").mkdir(parents=True)
    settings = SETTINGS.replace('"Test Gazette"', f'"{HOSTILE["site"]}"')
    settings += NEWSLETTER.replace('"Test Weekly"', f'"{HOSTILE["newsletter"]}"')
    (root / "feedpub.toml").write_text(settings, encoding="utf-8")
    (root / "content" / "a.md").write_text(
        f"---\ntitle: {HOSTILE['title']}\ndate: 2026-11-20 09:00\n"
        f"authors: [{HOSTILE['author']}, Cy Dee]\nsummary: {HOSTILE['summary']}\n---\n\nBody.\n",
        encoding="utf-8",
    )
    (root / "content" / "b.md").write_text(
        "---\ntitle: Plain\ndate: 2026-11-21 09:00\n---\n\nBody.\n", encoding="utf-8"
    )
    return root


def test_digest_plain_text_leaks_no_override(hostile_site: Path) -> None:
    record = make_issue(hostile_site)
    doc = lxml.html.document_fromstring(record.html)
    assert doc.body is not None
    places = {
        "Subject": [record.subject],
        "<title>": [doc.findtext(".//title") or ""],
        "preheader": [doc.body[0].text_content()],
        "text part": record.text.splitlines(),
    }
    for where, lines in places.items():
        assert any(RLO in line for line in lines), where
        assert [leaks(line) for line in lines if leaks(line)] == [], where
    assert record.subject == f"{FSI}Weekly {RLO}evil{PDI} #1: Plain"
    assert f"\nNovember 20, 2026 · {FSI}Ann {RLO}Bee{PDI}, Cy Dee\n" in record.text
    # The words are all still there, in their order: only the isolates were added.
    shown = record.text.replace(FSI, "").replace(PDI, "")
    for value in HOSTILE.values():
        if value != HOSTILE["site"]:
            assert value in shown


def test_page_titles_leak_no_override(hostile_site: Path) -> None:
    publish(hostile_site)
    titles = {
        str(page.relative_to(hostile_site)): lxml.html.parse(str(page)).findtext(".//title") or ""
        for page in (hostile_site / "public").rglob("*.html")
    }
    assert len(titles) > 5
    assert sum(RLO in title for title in titles.values()) == len(titles)
    assert {name: leaks(title) for name, title in titles.items() if leaks(title)} == {}
    assert titles["public/2026/11/a/index.html"] == (
        f"{FSI}Fix {RLO}this{PDI} · {FSI}Gazette {RLO}evil{PDI}"
    )
