"""The settings of version 6: [web] (url, record_ip, trusted_proxy, signups_per_hour),
[newsletter] welcome and topics, and the web app's base URL (Site.web_url) and unsubscribe
base that follow from them."""

from __future__ import annotations

from pathlib import Path

import pytest
from helpers import NEWSLETTER, SETTINGS, MakeSite

from feedpub import config
from feedpub.config import Topic
from feedpub.delivery.messages import unsubscribe_base
from feedpub.errors import ConfigError


def load(root: Path, env: dict[str, str] | None = None) -> config.Site:
    return config.load(root, env=env or {})


def test_defaults(make_site: MakeSite) -> None:
    site = load(make_site(extra=NEWSLETTER))
    assert (site.web.url, site.web.record_ip, site.web.trusted_proxy) == ("", False, "127.0.0.1")
    assert site.web.signups_per_hour == 10
    assert site.newsletter.welcome is True
    assert site.newsletter.topics == ()
    assert site.web_url == "https://news.example.org/"
    assert unsubscribe_base(site) == "https://news.example.org/unsubscribe"


@pytest.mark.parametrize(
    ("extra", "web_url", "base"),
    [
        (
            '[web]\nurl = "https://app.example.org/news"\n',
            "https://app.example.org/news/",
            "https://app.example.org/news/unsubscribe",
        ),
        (
            'unsubscribe_url = "https://mail.example.org/list/unsubscribe"\n',
            "https://mail.example.org/list/",
            "https://mail.example.org/list/unsubscribe",
        ),
        (
            'unsubscribe_url = "https://mail.example.org/u.php"\n',
            "https://mail.example.org/",
            "https://mail.example.org/u.php",
        ),
        (
            'unsubscribe_url = "https://mail.example.org/old/unsubscribe"\n'
            '[web]\nurl = "https://app.example.org/"\n',
            "https://app.example.org/",
            "https://app.example.org/unsubscribe",
        ),
    ],
    ids=["web url", "unsubscribe_url", "unsubscribe_url's folder", "web url wins"],
)
def test_the_web_url(make_site: MakeSite, extra: str, web_url: str, base: str) -> None:
    site = load(make_site(extra=NEWSLETTER + extra))
    assert site.web_url == web_url
    assert unsubscribe_base(site) == base


def test_topics_as_an_inline_table_and_as_a_section(make_site: MakeSite) -> None:
    inline = load(
        make_site(
            extra=NEWSLETTER
            + 'topics = { Sports = ["sports", "athletics"], "Arts & culture" = ["arts"] }\n'
        )
    )
    assert inline.newsletter.topics == (
        Topic("Sports", ("sports", "athletics")),
        Topic("Arts & culture", ("arts",)),
    )
    section = load(
        make_site(
            extra=NEWSLETTER + '[newsletter.topics]\nSports = ["sports", "athletics"]\n'
            'Arts = ["arts", " arts ", ""]\n',
            folder="other",
        )
    )
    assert section.newsletter.topics == (
        Topic("Sports", ("sports", "athletics")),
        Topic("Arts", ("arts",)),
    )


def test_settings_from_the_environment(make_site: MakeSite) -> None:
    site = load(
        make_site(extra=NEWSLETTER),
        {
            "FEEDPUB_WEB_URL": "https://app.example.org/",
            "FEEDPUB_WEB_RECORD_IP": "yes",
            "FEEDPUB_WEB_TRUSTED_PROXY": "",
            "FEEDPUB_WEB_SIGNUPS_PER_HOUR": "3",
            "FEEDPUB_NEWSLETTER_WELCOME": "false",
            "FEEDPUB_NEWSLETTER_TOPICS": '{ Sports = ["sports"] }',
        },
    )
    assert site.web == config.WebSettings("https://app.example.org/", True, "", 3)
    assert site.newsletter.welcome is False
    assert site.newsletter.topics == (Topic("Sports", ("sports",)),)


TOO_MANY = ", ".join(f"T{n} = ['t{n}']" for n in range(21))


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ("[web]\nurl = 'app.example.org'\n", "[web] url must be an absolute http"),
        ("[web]\nurl = 'https://a.example.org/?x=1'\n", "[web] url must not have a query"),
        ("[web]\nurl = 'https://a.example.org/" + "a" * 1000 + "'\n", "[web] url is 1"),
        ("[web]\nrecord_ip = 'yes'\n", "[web] record_ip must be true or false"),
        ("[web]\ntrusted_proxy = 'proxy.local'\n", "[web] trusted_proxy 'proxy.local' is not"),
        ("[web]\ntrusted_proxy = '*'\n", "is not an IP address"),
        ("[web]\nsignups_per_hour = 0\n", "[web] signups_per_hour must be between 1 and"),
        ("[web]\nsignups_per_hour = 10e9\n", "must be a whole number"),
        ("[web]\nport = 80\n", "unknown setting 'port' in [web]"),
        ("welcome = 1\n", "[newsletter] welcome must be true or false"),
        ("topics = ['sports']\n", "[newsletter] topics must be a table, not a list"),
        ("topics = 'sports'\n", "[newsletter] topics must be a table, not a string"),
        ("topics = { Sports = 'sports' }\n", "topic 'Sports' must be a list of tags"),
        ("topics = { Sports = [] }\n", "topic 'Sports' has no tags"),
        ("topics = { Sports = ['  '] }\n", "topic 'Sports' has no tags"),
        ("topics = { Sports = [1] }\n", "topic 'Sports' must be a list of tags"),
        ("topics = { '' = ['a'] }\n", "a topic's name is 1 to 60 characters"),
        ("topics = { '  ' = ['a'] }\n", "a topic's name is 1 to 60 characters"),
        ("topics = { '" + "n" * 61 + "' = ['a'] }\n", "a topic's name is 1 to 60 characters"),
        ('topics = { "A\\u0007" = ["a"] }\n', "the name holds a control character"),
        ('topics = { "A\\nB" = ["a"] }\n', "the name holds a control character"),
        ('topics = { "A\\u0085" = ["a"] }\n', "the name holds a control character"),
        ("topics = { Sports = ['a'], SPORTS = ['b'] }\n", "are one name; keep one"),
        ("topics = { " + TOO_MANY + " }\n", "names 21 topics; keep it to 20"),
        ("topics = { A = ['" + "t" * 201 + "'] }\n", "at most 100 tags of at most 200"),
        ("topics = { A = { b = 1 } }\n", "topic 'A' must be a list of tags"),
    ],
    ids=lambda v: v[:40],
)
def test_bad_settings_name_the_key_and_the_fix(
    make_site: MakeSite, extra: str, message: str
) -> None:
    settings = SETTINGS + NEWSLETTER + extra if not extra.startswith("[") else None
    root = make_site(settings=settings or SETTINGS + NEWSLETTER, extra="" if settings else extra)
    with pytest.raises(ConfigError) as caught:
        load(root)
    assert message in str(caught.value)
    assert caught.value.problems[0].line > 0


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("{ Sports = ", "must be a TOML inline table"),
        ("[1, 2]", "must be a table of topic names and their tags"),
        ("{ a = { b = { c = 1 } } }", "must be a list of tags"),
        ("[" * 1000 + "]" * 1000, "must be a TOML inline table"),
    ],
    ids=["cut short", "a list", "nested", "deep"],
)
def test_bad_topics_from_the_environment(make_site: MakeSite, value: str, message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load(make_site(extra=NEWSLETTER), {"FEEDPUB_NEWSLETTER_TOPICS": value})
    assert "environment variable FEEDPUB_NEWSLETTER_TOPICS" in str(caught.value)
    assert message in str(caught.value)


def test_a_new_site_s_settings_load_with_every_new_setting(tmp_path: Path) -> None:
    from feedpub.scaffold import settings_text

    (tmp_path / "feedpub.toml").write_text(settings_text("Paper"), encoding="utf-8")
    site = load(tmp_path)
    assert site.newsletter.topics == () and site.web.url == ""
