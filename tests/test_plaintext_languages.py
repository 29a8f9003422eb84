"""The plain-text reader on pages saved from news sites in Spanish, French, German,
Portuguese, Italian and Japanese: datelines, bylines and leftovers read as in English, and a
warning whenever the reader is unsure which line is the headline."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from click.testing import CliRunner
from helpers import REPO, assert_clean_exit, invoke
from hypothesis import given
from hypothesis import strategies as st

from feedpub.config import FeedSettings, Site, SiteSettings
from feedpub.content.readers import languages
from feedpub.content.readers.plaintext import read_text
from feedpub.errors import Problem
from feedpub.model import Article

BERLIN = ZoneInfo("Europe/Berlin")
PAGES = REPO / "tests" / "data" / "pages"
RELPATH = "news/article.txt"


def new_site(root: Path) -> Site:
    return Site(
        root=root,
        site=SiteSettings(title="T", url="https://example.org/", timezone="Europe/Berlin"),
        feeds=FeedSettings(),
    )


@pytest.fixture
def site(tmp_path: Path) -> Site:
    return new_site(tmp_path)


def read(site: Site, text: str, name: str = "article.txt") -> tuple[Article | None, list[Problem]]:
    return read_text(site.root / name, RELPATH, text, site)


def read_ok(site: Site, text: str, name: str = "article.txt") -> Article:
    article, problems = read(site, text, name)
    assert [p for p in problems if p.severity == "error"] == []
    assert article is not None
    return article


def paragraphs(article: Article) -> list[str]:
    assert article.body is not None
    return article.body.split("\n\n")


# -- whole saved pages ------------------------------------------------------------------------

SAVED = [
    (
        "es-pleno-presupuesto.txt",
        "El pleno aprueba el presupuesto escolar de 2027",
        datetime(2027, 2, 2, tzinfo=BERLIN),
        ("Lucía Fernández",),
        "El consejo escolar aprobó el martes",
        "«Hemos tardado, pero merecía la pena», dijo la presidenta del consejo.",
        ["Redactora", "Compartir", "Volver arriba", "derechos reservados", "Educación"],
    ),
    (
        "fr-conseil-municipal.txt",
        "Le conseil municipal vote la rénovation du gymnase",
        datetime(2027, 2, 2, tzinfo=BERLIN),
        ("Camille Dubois", "Hugo Martin"),
        "Après deux heures de débat",
        "Les travaux commenceront en juin et dureront un an.",
        ["Journalistes", "Publié", "Partager", "Retour en haut", "Tous droits"],
    ),
    (
        "de-stadtrat-schwimmbad.txt",
        "Stadtrat beschließt Sanierung des Freibads",
        datetime(2027, 2, 2, tzinfo=BERLIN),
        ("Anna Schmidt",),
        "Der Stadtrat hat am Dienstagabend",
        "Die Arbeiten sollen im Herbst beginnen und 3,2 Millionen Euro kosten.",
        ["Redakteurin", "Nach oben", "Alle Rechte", "Lokales"],
    ),
    (
        "pt-camara-biblioteca.txt",
        "Câmara aprova nova biblioteca no centro da cidade",
        datetime(2027, 2, 2, tzinfo=BERLIN),
        ("João Pereira", "Maria da Silva"),
        "A câmara municipal aprovou",
        "As obras devem começar em março.",
        ["Repórteres", "Voltar ao topo", "direitos reservados"],
    ),
    (
        "it-consiglio-scuola.txt",
        "Il consiglio approva il restauro della scuola",
        datetime(2027, 2, 2, tzinfo=BERLIN),
        ("Giulia Romano",),
        "Il consiglio comunale ha approvato",
        "I lavori partiranno a settembre.",
        ["Giornalista", "Torna su"],
    ),
    (
        "ja-circuit-weekly.txt",
        "市議会、新しい図書館の建設を承認",
        datetime(2027, 2, 3, 10, 30, tzinfo=BERLIN),
        ("山田太郎",),
        "市議会は3日、駅前に",
        "建設予定地は現在の市営駐車場で、工事は来年度から始まる。",
        ["編集部", "トップへ戻る", "Copyright", "文：", "地域ニュース"],
    ),
]


@pytest.mark.parametrize(
    ("name", "title", "date", "authors", "starts", "last", "gone"),
    SAVED,
    ids=[entry[0][:2] for entry in SAVED],
)
def test_a_saved_page_in_each_language_reads_right(
    site: Site,
    name: str,
    title: str,
    date: datetime,
    authors: tuple[str, ...],
    starts: str,
    last: str,
    gone: list[str],
) -> None:
    text = (PAGES / name).read_text(encoding="utf-8")
    article, problems = read(site, text, name)
    assert problems == []
    assert article is not None
    assert article.title == title
    assert article.date == date
    assert article.authors == authors
    assert paragraphs(article)[0].startswith(starts)
    assert paragraphs(article)[-1] == last
    assert article.body is not None
    for word in gone:
        assert word not in article.body


def test_the_spanish_pages_notes_name_each_line(site: Site) -> None:
    text = (PAGES / "es-pleno-presupuesto.txt").read_text(encoding="utf-8")
    article = read_ok(site, text)
    assert article.inferred == (
        "kind: web page",
        "date 'martes, 2 de febrero de 2027' from line 1",
        "title from line 3",
        "dropped line 5: label 'Educación'",
        "dropped line 7: label 'La Gaceta de Millbrook'",
        "author 'Lucía Fernández' from byline on line 9 (dropped role 'Redactora')",
        "dropped line 19: page leftover 'Compartir'",
        "dropped line 21: page leftover 'Volver arriba'",
        "dropped line 23: page leftover '© 2027 La Gaceta de Millbrook. "
        "Todos los derechos reservados.'",
    )


def test_the_japanese_pages_dateline_and_byline_are_noted(site: Site) -> None:
    text = (PAGES / "ja-circuit-weekly.txt").read_text(encoding="utf-8")
    article = read_ok(site, text)
    assert "date '2027年2月3日(水) 10:30' from line 1" in article.inferred
    assert "author '山田太郎' from byline on line 7 (dropped role '編集部')" in article.inferred
    assert "dropped line 13: page leftover 'トップへ戻る'" in article.inferred


# -- datelines --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("martes, 2 de febrero de 2027", datetime(2027, 2, 2)),
        ("2 de febrero de 2027", datetime(2027, 2, 2)),
        ("Martes 2 de Febrero de 2027", datetime(2027, 2, 2)),
        ("2 feb. 2027", datetime(2027, 2, 2)),
        ("miércoles, 3 de febrero de 2027, 18:45", datetime(2027, 2, 3, 18, 45)),
        ("Publicado el 2 de febrero de 2027 a las 9:05", datetime(2027, 2, 2, 9, 5)),
        ("mardi 2 février 2027", datetime(2027, 2, 2)),
        ("2 février 2027", datetime(2027, 2, 2)),
        ("le 1er février 2027", datetime(2027, 2, 1)),
        ("2 févr. 2027 à 18h30", datetime(2027, 2, 2, 18, 30)),
        ("Publié le 2 févr. 2027 à 18:30", datetime(2027, 2, 2, 18, 30)),
        ("Dienstag, 2. Februar 2027", datetime(2027, 2, 2)),
        ("2. Februar 2027", datetime(2027, 2, 2)),
        ("2. Feb. 2027, 14:30 Uhr", datetime(2027, 2, 2, 14, 30)),
        ("Veröffentlicht am 2. März 2027", datetime(2027, 3, 2)),
        ("02.02.2027, 14:30 Uhr", datetime(2027, 2, 2, 14, 30)),
        ("terça-feira, 2 de fevereiro de 2027", datetime(2027, 2, 2)),
        ("2 de fevereiro de 2027", datetime(2027, 2, 2)),
        ("2 fev. 2027", datetime(2027, 2, 2)),
        ("Publicado em 2 de março de 2027 às 10h15", datetime(2027, 3, 2, 10, 15)),
        ("martedì 2 febbraio 2027", datetime(2027, 2, 2)),
        ("2027年2月3日", datetime(2027, 2, 3)),
        ("2027年2月3日(水)", datetime(2027, 2, 3)),
        ("2027年2月3日（水） 10:30", datetime(2027, 2, 3, 10, 30)),
        ("２０２７年２月３日", datetime(2027, 2, 3)),
        ("2027年2月3日 午後3時20分", datetime(2027, 2, 3, 15, 20)),
        ("公開日：2027年2月3日", datetime(2027, 2, 3)),
        ("令和9年2月3日", datetime(2027, 2, 3)),
        ("令和元年5月1日", datetime(2019, 5, 1)),
        ("平成31年4月30日（火）", datetime(2019, 4, 30)),
    ],
)
def test_datelines_in_other_languages(site: Site, line: str, expected: datetime) -> None:
    article, problems = read(site, f"{line}\nHeadline Here\n\nBody text.\n")
    assert [p for p in problems if p.severity == "error"] == []
    assert article is not None
    assert article.title == "Headline Here"
    assert article.date == expected.replace(tzinfo=BERLIN)


@pytest.mark.parametrize(
    ("line", "updated"),
    [
        ("Actualizado el 3 de febrero de 2027", datetime(2027, 2, 3)),
        ("Mis à jour le 3 février 2027", datetime(2027, 2, 3)),
        ("Aktualisiert am 3. Februar 2027", datetime(2027, 2, 3)),
        ("Atualizado em 3 de fevereiro de 2027", datetime(2027, 2, 3)),
        ("更新日：2027年2月3日", datetime(2027, 2, 3)),
    ],
    ids=["es", "fr", "de", "pt", "ja"],
)
def test_an_updated_line_in_another_language_gives_the_updated_date(
    site: Site, line: str, updated: datetime
) -> None:
    article = read_ok(site, f"2 de febrero de 2027\nHeadline Here\n{line}\n\nBody text.\n")
    assert article.date == datetime(2027, 2, 2, tzinfo=BERLIN)
    assert article.updated == updated.replace(tzinfo=BERLIN)
    assert article.body == "Body text."


def test_a_header_blocks_date_may_be_written_in_another_language(site: Site) -> None:
    article = read_ok(site, "Title: T\nDate: 2 de febrero de 2027\n\nBody.\n")
    assert article.date == datetime(2027, 2, 2, tzinfo=BERLIN)


@pytest.mark.parametrize(
    "line",
    [
        "31 de febrero de 2027",  # no such day
        "2027年13月3日",
        "2 de brumario de 2027",
        "El 2 de febrero llega el presupuesto",
        "Am 2. Februar 2027 stimmt der Rat ab",
    ],
    ids=["no-such-day", "no-such-month", "no-such-month-name", "prose-es", "prose-de"],
)
def test_lines_that_are_not_datelines_are_kept(site: Site, line: str) -> None:
    article = read_ok(site, f"Headline Here\n{line}\n\nBody text.\n", "2027-01-01-a.txt")
    assert article.date == datetime(2027, 1, 1, tzinfo=BERLIN)
    assert paragraphs(article)[0] == line


# -- bylines ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("byline", "authors", "roles"),
    [
        ("Por: Lucía Fernández, Redactora", ("Lucía Fernández",), ["Redactora"]),
        ("Por Ana García y Luis Pérez", ("Ana García", "Luis Pérez"), []),
        ("POR LUCÍA FERNÁNDEZ", ("LUCÍA FERNÁNDEZ",), []),
        ("Par Camille Dubois, Envoyée spéciale", ("Camille Dubois",), ["Envoyée spéciale"]),
        ("Par : Jean-Luc d'Arcy", ("Jean-Luc d'Arcy",), []),
        ("Von Anna Schmidt und Jonas Weber", ("Anna Schmidt", "Jonas Weber"), []),
        ("Von Anna Schmidt, Korrespondentin", ("Anna Schmidt",), ["Korrespondentin"]),
        ("Di Giulia Romano", ("Giulia Romano",), []),
        ("Por João Pereira, Repórter", ("João Pereira",), ["Repórter"]),
        ("Por Maria dos Santos e Ana Costa", ("Maria dos Santos", "Ana Costa"), []),
        ("文：山田太郎", ("山田太郎",), []),
        ("文・山田 花子", ("山田 花子",), []),
        ("記者：佐藤花子（社会部）", ("佐藤花子",), ["社会部"]),
        ("文：山田太郎、佐藤花子", ("山田太郎", "佐藤花子"), []),
    ],
    ids=[
        "es-colon-role",
        "es-y",
        "es-capitals",
        "fr-role",
        "fr-colon",
        "de-und",
        "de-role",
        "it",
        "pt-role",
        "pt-e",
        "ja-bun",
        "ja-nakaguro",
        "ja-kisha-role",
        "ja-two",
    ],
)
def test_bylines_in_other_languages(
    site: Site, byline: str, authors: tuple[str, ...], roles: list[str]
) -> None:
    article = read_ok(site, f"2 de febrero de 2027\nHeadline Here\n{byline}\n\nFirst paragraph.\n")
    assert article.authors == authors
    assert article.body == "First paragraph."
    [note] = [note for note in article.inferred if "byline" in note]
    for role in roles:
        assert f"role '{role}'" in note


@pytest.mark.parametrize(
    "line",
    [
        "Por la mañana llovió",
        "Par ailleurs",
        "Von oben betrachtet",
        "Di notte",
        "Por 2027",
        "文：昨日の会議では多くの意見が出された",
    ],
    ids=["es-prose", "fr-prose", "de-prose", "it-prose", "es-year", "ja-prose"],
)
def test_lines_that_are_not_bylines_in_other_languages(site: Site, line: str) -> None:
    article = read_ok(site, f"2 de febrero de 2027\nHeadline Here\n{line}\n\nBody.")
    assert article.authors == ()
    assert article.body == f"{line}\n\nBody."


def test_and_joins_names_in_an_english_header_block_only(site: Site) -> None:
    # A header block's names are the editor's own: "y" there is part of a name.
    article = read_ok(site, "Title: T\nDate: 2027-02-02\nAuthor: José Ortega y Gasset\n\nBody.")
    assert article.authors == ("José Ortega y Gasset",)


# -- leftovers --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "leftover",
    [
        "Volver arriba",
        "Compartir",
        "Ir arriba ↑",
        "Retour en haut",
        "Haut de page",
        "Nach oben",
        "Zurück nach oben",
        "Voltar ao topo",
        "Torna su",
        "トップへ戻る",
        "▲ページの先頭へ",
        "ページトップへ",
        "Todos los derechos reservados.",
        "無断転載を禁じます",
    ],
)
def test_page_leftovers_in_other_languages_are_dropped(site: Site, leftover: str) -> None:
    text = f"2 de febrero de 2027\nHeadline Here\n\nBody text.\n\n{leftover}\n"
    article = read_ok(site, text)
    assert article.body == "Body text."
    assert any("page leftover" in note for note in article.inferred)


# -- when the reader is unsure ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "line", "words"),
    [
        ("31 de febrero de 2027\n\nEl pleno vota\n\nCuerpo.\n", 1, "looks like a date"),
        ("2027年2月30日\n\n本文です。\n", 1, "looks like a date"),
        ("令和9年2月30日\n\n本文です。\n", 1, "looks like a date"),
        ("Feb 3\n\nThe vote\n\nBody.\n", 1, "looks like a date"),
        (
            "2 de febrero de 2027\nPor: Lucía Fernández, Redactora\n\nCuerpo del texto.\n",
            2,
            "reads as a byline",
        ),
        ("2027年2月3日\n文：山田太郎\n\n本文です。\n", 2, "reads as a byline"),
        ("March 3, 2025\n\n" + "A long first paragraph, " * 8 + "\n\nBody.\n", 3, "no headline"),
    ],
    ids=["es-date", "ja-date", "ja-era-date", "en-date", "es-byline", "ja-byline", "prose"],
)
def test_the_reader_warns_when_it_is_unsure_of_the_title(
    site: Site, text: str, line: int, words: str
) -> None:
    _, problems = read(site, text, "2027-01-01-x.txt")
    warnings = [p for p in problems if p.severity == "warning"]
    assert [p.line for p in warnings] == [line]
    assert words in warnings[0].message
    assert "'Title: ...'" in warnings[0].message


def test_a_page_with_only_dates_says_no_headline_was_found(site: Site) -> None:
    _, problems = read(site, "2 de febrero de 2027\n2027年2月3日\n", "2027-01-01-x.txt")
    assert (
        Problem(
            RELPATH,
            2,
            "warning",
            "no headline found: lines 1 to 2 are all dates; start the file with a header block "
            "('Title: ...' and 'Date: ...' lines, then a blank line) in place of the page's own",
        )
        in problems
    )


def test_check_names_the_file_and_line_of_a_title_that_is_a_date(
    runner: CliRunner, tmp_path: Path
) -> None:
    (tmp_path / "feedpub.toml").write_text(
        '[site]\ntitle = "Circuit Weekly"\nurl = "https://example.org/"\n'
        'timezone = "Asia/Tokyo"\nlanguage = "ja"\n',
        encoding="utf-8",
    )
    (tmp_path / "content").mkdir()
    (tmp_path / "content" / "2027-02-03-toshokan.txt").write_text(
        "2027年2月30日\n\n市議会、図書館を承認\n\n本文です。\n", encoding="utf-8"
    )
    result = invoke(runner, "--site", tmp_path, "check")
    assert_clean_exit(result, 0)
    assert "content/2027-02-03-toshokan.txt:1: warning: the title '2027年2月30日'" in result.output


def test_the_language_patterns_are_built_once() -> None:
    assert languages.patterns() is languages.patterns()


# -- hostile and huge input -------------------------------------------------------------------


@pytest.mark.parametrize(
    "line",
    [
        "Por " + "Lucía " * 100_000,
        "文：" + "山田" * 500_000,
        "2027年" * 200_000,
        "2 de febrero de " + "2027 " * 100_000,
        "トップへ戻る" * 100_000,
        "記者：" + "（" * 100_000,
    ],
    ids=["por-huge", "ja-byline-huge", "ja-date-huge", "es-date-huge", "leftover-huge", "brackets"],
)
def test_huge_lines_in_other_languages_are_read_quickly(site: Site, line: str) -> None:
    article, problems = read(site, f"2 de febrero de 2027\nTitular\n{line}\n\nCuerpo.\n{line}\n")
    assert article is None or article.title == "Titular"
    assert all(p.line > 0 for p in problems)


DATE_PIECES = st.sampled_from(
    [
        "martes,", "2", "31", "de", "febrero", "feb.", "2027", "Dienstag,", "2.", "Februar",
        "年", "月", "日", "(水)", "10:30", "à", "18h30", "Uhr", "Por", "Par", "Von", "Di",
        "文：", "記者：", "Lucía", "Fernández,", "Redactora", "（編集部）", "Volver arriba",
        "トップへ戻る", "Publicado el", "更新日：", "\n", "\n\n", " ", "２０２７", "y", "und",
    ]
)  # fmt: skip


@given(st.lists(DATE_PIECES, max_size=60))
def test_any_mix_of_other_languages_pieces_reads_without_exceptions(pieces: list[str]) -> None:
    site = new_site(Path("/nonexistent"))
    article, problems = read_text(
        Path("/nonexistent/2027-01-01-x.txt"), RELPATH, " ".join(pieces), site
    )
    assert article is not None or any(p.severity == "error" for p in problems)


def test_short_japanese_paragraphs_before_a_late_byline_stay_in_the_body(site: Site) -> None:
    # Japanese has no spaces: a sentence is one "word", yet prose, not a label to drop.
    text = (
        "2027年2月3日\n市議会、図書館を承認\n\n市議会は3日、図書館の建設を承認した。\n\n"
        "開館は二〇二九年春の予定。\n\n文：山田太郎\n"
    )
    article = read_ok(site, text)
    assert paragraphs(article)[:2] == [
        "市議会は3日、図書館の建設を承認した。",
        "開館は二〇二九年春の予定。",
    ]
    assert not any("label" in note for note in article.inferred)


def test_a_katakana_name_with_its_middle_dot_is_a_name(site: Site) -> None:
    article = read_ok(site, "2027年2月3日\n見出し\n文：ジョン・スミス\n\n本文。\n")
    assert article.authors == ("ジョン・スミス",)
