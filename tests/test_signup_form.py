"""The sign-up form: what `feedpub subscribe-form` prints, and the box the packaged pages show
once ``[web] url`` is set (tests/test_signup_browser.py posts it from a real browser).

The form's markup is read back with html5lib (the HTML parser browsers use); the pages' box is
also checked by the Nu HTML checker and axe-core in tests/test_pages_valid.py.
"""

from __future__ import annotations

import re
from dataclasses import replace
from pathlib import Path
from typing import Any

import html5lib
import pytest
from click.testing import CliRunner
from helpers import (
    REPO,
    SETTINGS,
    SITE_URL,
    MakeSite,
    article,
    assert_clean_exit,
    examples,
    invoke,
    load,
    publish,
)
from hypothesis import given, settings
from hypothesis import strategies as st

from feedpub.config import Site, Topic
from feedpub.site.form import EMAIL, HONEYPOT, NAME, TOPICS, snippet
from feedpub.text import first_not_xml

HTML = "{http://www.w3.org/1999/xhtml}"
WEB_URL = "https://web.example.org/letters/"
# Topic names that markup, quotes and a right-to-left override would break if written raw.
TOPIC_NAMES = ("Sports", "Arts & <Culture>", "Quote \"q\" 'x'", "Left \u202eright")
TOPIC_TABLE = (
    'Sports = ["sports", "athletics"], "Arts & <Culture>" = ["arts"], '
    '"Quote \\"q\\" \'x\'" = ["q"], "Left \u202eright" = ["rtl"]'
)
NEWSLETTER = f"""
[newsletter]
name = "Ledger Weekly"
from = "Desk <desk@example.org>"
schedule = "manual"
topics = {{ {TOPIC_TABLE} }}
"""
WEB = f"""
[web]
url = "{WEB_URL}"
"""
ARTICLES: dict[str, str | bytes] = {
    "a.md": article("Games tonight", "2026-11-20 09:00", tags='["sports"]'),
    "b.md": article("A concert", "2026-11-21 09:00", tags='["arts"]'),
}


def parse(markup: str) -> Any:
    return html5lib.parse(markup, namespaceHTMLElements=True)


def forms(markup: str) -> list[Any]:
    return list(parse(markup).iter(f"{HTML}form"))


def text_of(element: Any) -> str:
    return "".join(element.itertext())


def printed(runner: CliRunner, root: Path) -> str:
    result = invoke(runner, "--site", root, "subscribe-form")
    assert_clean_exit(result, 0)
    return result.output


def test_the_printed_form_posts_each_field_with_its_label(
    runner: CliRunner, make_site: MakeSite
) -> None:
    root = make_site(ARTICLES, extra=NEWSLETTER + WEB)
    markup = printed(runner, root)
    [form] = forms(markup)
    assert form.get("method") == "post"
    assert form.get("action") == WEB_URL + "subscribe"
    assert form.get("accept-charset") == "UTF-8"  # whatever the page around it is in
    inputs = list(form.iter(f"{HTML}input"))
    named = {(i.get("name"), i.get("type")) for i in inputs}
    assert named == {(EMAIL, "email"), (NAME, "text"), (TOPICS, "checkbox"), (HONEYPOT, "text")}
    [email] = [i for i in inputs if i.get("name") == EMAIL]
    assert email.get("required") is not None and email.get("autocomplete") == "email"
    # Each field is inside its label: no ids, so the form may be on a page twice.
    parents = {child: parent for parent in form.iter() for child in parent}

    def label_of(element: Any) -> Any:
        while element is not None and element.tag != f"{HTML}label":
            element = parents.get(element)
        return element

    assert all(label_of(i) is not None and text_of(label_of(i)).strip() for i in inputs)
    assert not [e for e in form.iter() if e.get("id") is not None]
    [button] = form.iter(f"{HTML}button")
    assert button.get("type") == "submit"
    # It works without script and asks for no style of its own.
    assert not [e for e in form.iter() if e.tag in (f"{HTML}script", f"{HTML}style")]
    assert not [
        (e.tag, name) for e in form.iter() for name in e.attrib if name.startswith("on")
    ]
    assert "style=" not in markup


def test_the_honeypot_is_hidden_from_everyone(runner: CliRunner, make_site: MakeSite) -> None:
    root = make_site(extra=NEWSLETTER + WEB)
    [form] = forms(printed(runner, root))
    parents = {child: parent for parent in form.iter() for child in parent}
    [trap] = [i for i in form.iter(f"{HTML}input") if i.get("name") == HONEYPOT]
    # Out of the tab order, never autofilled, and inside an element that is `hidden` (not
    # shown, not read by screen readers).
    assert trap.get("tabindex") == "-1" and trap.get("autocomplete") == "off"
    assert trap.get("value") == ""
    ancestor = parents.get(trap)
    while ancestor is not None and ancestor.get("hidden") is None:
        ancestor = parents.get(ancestor)
    assert ancestor is not None


def test_each_topic_is_a_checkbox_posting_its_name_as_it_is(
    runner: CliRunner, make_site: MakeSite
) -> None:
    root = make_site(extra=NEWSLETTER + WEB)
    [form] = forms(printed(runner, root))
    boxes = [i for i in form.iter(f"{HTML}input") if i.get("type") == "checkbox"]
    # The value the browser posts is the name exactly: no isolating marks added around the
    # override, no entity left undecoded.
    assert [box.get("value") for box in boxes] == list(TOPIC_NAMES)
    assert [t.name for t in load(root).newsletter.topics] == list(TOPIC_NAMES)
    assert all(box.get("name") == TOPICS for box in boxes)
    [fieldset] = form.iter(f"{HTML}fieldset")
    [legend] = fieldset.iter(f"{HTML}legend")
    assert "Topics" in text_of(legend)
    labels = [text_of(label) for label in fieldset.iter(f"{HTML}label")]
    assert all(name in label for name, label in zip(TOPIC_NAMES, labels, strict=True))


# Topic names as the settings allow them (feedpub.config._check_topics): 1 to 60 characters,
# no control character, no character XML cannot carry, spaces folded.
TOPIC_NAME = st.text(
    alphabet=st.characters(blacklist_categories=("Cc", "Cs")), min_size=1, max_size=60
).filter(lambda name: first_not_xml(name) is None and name == " ".join(name.split()) != "")


def topic_values(site: Site, names: list[str]) -> list[str]:
    topics = tuple(Topic(name, ("news",)) for name in names)
    changed = replace(site, newsletter=replace(site.newsletter, topics=topics))
    [form] = forms(snippet(changed))
    return [i.get("value") for i in form.iter(f"{HTML}input") if i.get("type") == "checkbox"]


def test_any_topic_name_is_posted_as_it_is(make_site: MakeSite) -> None:
    site = load(make_site(extra=NEWSLETTER + WEB))

    @given(names=st.lists(TOPIC_NAME, min_size=1, max_size=20, unique_by=str.casefold))
    @settings(max_examples=examples(1))
    def check(names: list[str]) -> None:
        assert topic_values(site, names) == names

    check()


def test_the_most_topics_with_the_longest_names(make_site: MakeSite) -> None:
    site = load(make_site(extra=NEWSLETTER + WEB))
    # 20 topics of 60 characters outside the Basic Multilingual Plane, with markup and an
    # override in each, each posted back whole.
    names = [f"{i:02d}<&\u202e\"" + "\U0001f984" * 54 for i in range(20)]
    assert all(len(name) == 60 for name in names)
    assert topic_values(site, names) == names


def test_a_newsletter_without_topics_asks_for_none(runner: CliRunner, make_site: MakeSite) -> None:
    plain = "\n".join(line for line in NEWSLETTER.splitlines() if not line.startswith("topics"))
    root = make_site(extra=plain + WEB)
    [form] = forms(printed(runner, root))
    assert not list(form.iter(f"{HTML}fieldset"))
    assert {i.get("name") for i in form.iter(f"{HTML}input")} == {EMAIL, NAME, HONEYPOT}


@pytest.mark.parametrize(
    ("extra", "action"),
    [
        (WEB, WEB_URL + "subscribe"),
        (
            '\n[web]\nurl = "https://web.example.org/letters"\n',  # no trailing slash
            WEB_URL + "subscribe",
        ),
        (
            'unsubscribe_url = "https://mail.example.org/news/unsubscribe"\n',
            "https://mail.example.org/news/subscribe",
        ),
        ("", SITE_URL + "subscribe"),
    ],
    ids=["web-url", "web-url-without-slash", "unsubscribe-url", "site-url"],
)
def test_the_form_posts_to_the_web_apps_address(
    runner: CliRunner, make_site: MakeSite, extra: str, action: str
) -> None:
    # NEWSLETTER ends inside [newsletter]: an unsubscribe_url after it is that section's.
    root = make_site(extra=NEWSLETTER + extra)
    [form] = forms(printed(runner, root))
    assert form.get("action") == action


def test_without_a_newsletter_there_is_no_form_to_print(
    runner: CliRunner, make_site: MakeSite
) -> None:
    root = make_site(extra=WEB)
    result = invoke(runner, "--site", root, "subscribe-form")
    assert_clean_exit(result, 1)
    assert result.stdout == ""
    assert "there is no [newsletter] section in feedpub.toml" in result.stderr
    assert "add one" in result.stderr


def test_a_sites_own_form_template_is_printed_and_shown(
    runner: CliRunner, make_site: MakeSite
) -> None:
    root = make_site(ARTICLES, extra=NEWSLETTER + WEB)
    (root / "templates").mkdir()
    own = '<form class="own" method="post" action="{{ signup.action }}"><button>Go</button>'
    own += "</form>\n"
    (root / "templates" / "_signup_form.html").write_text(own, encoding="utf-8")
    assert printed(runner, root) == own.replace("{{ signup.action }}", WEB_URL + "subscribe")
    publish(root)
    home = (root / "public" / "index.html").read_text(encoding="utf-8")
    [form] = forms(home)
    assert form.get("class") == "own"


def test_a_broken_form_template_names_its_file_and_line(
    runner: CliRunner, make_site: MakeSite
) -> None:
    root = make_site(extra=NEWSLETTER + WEB)
    (root / "templates").mkdir()
    (root / "templates" / "_signup_form.html").write_text(
        "<form>\n{{ signup.nothing_here }}\n</form>\n", encoding="utf-8"
    )
    result = invoke(runner, "--site", root, "subscribe-form")
    assert_clean_exit(result, 1)
    assert result.stderr.startswith("Error: templates/_signup_form.html:2: error: ")
    assert "Traceback" not in result.stderr


def pages(root: Path) -> dict[str, str]:
    return {
        path.relative_to(root / "public").as_posix(): path.read_text(encoding="utf-8")
        for path in sorted((root / "public").rglob("*.html"))
    }


def test_every_page_shows_the_box_once_the_web_url_is_set(make_site: MakeSite) -> None:
    root = make_site(ARTICLES, extra=NEWSLETTER + WEB)
    publish(root)
    built = pages(root)
    assert {"index.html", "archive/index.html", "tags/index.html"} <= set(built)
    assert any(name.startswith("2026/") for name in built)  # the articles' pages
    for name, markup in built.items():
        [form] = forms(markup)
        assert form.get("action") == WEB_URL + "subscribe", name
        [box] = [a for a in parse(markup).iter(f"{HTML}aside") if a.get("class") == "signup"]
        assert "Ledger Weekly" in text_of(box)
        assert len([b for b in form.iter(f"{HTML}input") if b.get("type") == "checkbox"]) == 4


@pytest.mark.parametrize(
    "extra",
    [NEWSLETTER, WEB, NEWSLETTER + 'unsubscribe_url = "https://news.example.org/unsubscribe"\n'],
    ids=["no-web-url", "no-newsletter", "only-the-unsubscribe-url"],
)
def test_no_page_shows_the_box_without_a_web_url_and_a_newsletter(
    make_site: MakeSite, extra: str
) -> None:
    root = make_site(ARTICLES, extra=extra)
    publish(root)
    for name, markup in pages(root).items():
        assert not forms(markup), name
        assert "signup" not in markup, name  # nor its style


def test_setting_the_web_url_puts_the_box_on_pages_already_built(make_site: MakeSite) -> None:
    root = make_site(ARTICLES, extra=NEWSLETTER)
    publish(root)
    assert not any(forms(markup) for markup in pages(root).values())
    (root / "feedpub.toml").write_text(SETTINGS + NEWSLETTER + WEB, encoding="utf-8")
    publish(root)
    assert all(len(forms(markup)) == 1 for markup in pages(root).values())
    (root / "feedpub.toml").write_text(SETTINGS + NEWSLETTER, encoding="utf-8")
    publish(root)
    assert not any(forms(markup) for markup in pages(root).values())


def test_the_readme_shows_what_the_command_prints(runner: CliRunner, make_site: MakeSite) -> None:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    section = readme.split("\n## Sign-up and the web app\n", 1)[1].split("\n## ", 1)[0]
    settings = re.search(r"```toml\n(.*?)```", section, re.S)
    shown = re.search(r"```html\n(.*?)```", section, re.S)
    assert settings and shown
    root = make_site(extra="\n" + settings.group(1))
    assert printed(runner, root) == shown.group(1)
