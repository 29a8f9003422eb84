"""The markup of the built pages under odd input: machine dates that HTML accepts, settings
text without control characters, names and titles isolated from the text around them.

The pages are parsed with html5lib (as browsers and the Nu checker parse them)."""

from __future__ import annotations

import re
from pathlib import Path

import html5lib
from helpers import MakeSite, article, publish

NS = "{http://www.w3.org/1999/xhtml}"
# HTML's valid global date and time string (or local, without a zone): seconds may have at
# most three decimals, the offset is whole minutes.
HTML_DATETIME = re.compile(r"\d{4,}-\d\d-\d\dT\d\d:\d\d(:\d\d(\.\d{1,3})?)?(Z|[+-]\d\d:\d\d)?")


def pages(root: Path) -> dict[str, object]:
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
        for element in tree.iter(f"{NS}time"):  # type: ignore[attr-defined]
            value = element.get("datetime")
            seen.append(value)
            assert HTML_DATETIME.fullmatch(value), f"{name}: <time datetime={value!r}>"
    assert "2026-11-20T09:00:00+01:00" in seen
    assert "2026-11-21T10:30:15+01:00" in seen
    assert "1850-06-01T08:06:32+00:00" in seen
