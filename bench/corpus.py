"""A deterministic corpus of realistic articles for benchmarks.

    python bench/corpus.py N DIR

writes N Markdown files with YAML front matter (title, date over years with zones, 1-3
authors from a pool, tags from about 50, a category, a summary) and bodies of 5-15 paragraphs
with headings, links, lists, emphasis, an image and non-ASCII text. The same N gives the same
files, byte for byte. Hugo and Pelican read the same files (see shared/peers).
"""

from __future__ import annotations

import random
import sys
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

WORDS = (
    "council budget school library river bridge festival harvest market volunteer teacher "
    "student concert league season garden museum archive harbour station mayor election "
    "neighbour workshop theatre orchestra bakery cycling recycling planning district "
    "committee report survey weather storm repair highway playground clinic nurse choir "
    "robotics debate science history poetry journal photograph mural parade lantern"
).split()
ACCENTED = "café naïve façade São Paulo Zürich smörgåsbord Øresund Dvořák Łódź piñata".split()
TAGS = [f"{w}" for w in WORDS[:50]]
AUTHORS = [
    "Ana Ruiz",
    "Ben Okafor",
    "Chloé Martin",
    "Dmitri Volkov",
    "Eun-ji Park",
    "Farah Haddad",
    "Gustav Lind",
    "Hana Novák",
    "Ines Duarte",
    "Jonas Weber",
    "Kavya Rao",
    "Liam O'Brien",
]
CATEGORIES = ["news", "sports", "arts", "opinion", "community"]
ZONES = [
    UTC,
    timezone(timedelta(hours=1)),
    timezone(timedelta(hours=-5)),
    timezone(timedelta(hours=9, minutes=30)),
]


def sentence(rng: random.Random, words: int) -> str:
    chosen = [rng.choice(WORDS) for _ in range(words)]
    if rng.random() < 0.3:
        chosen[rng.randrange(words)] = rng.choice(ACCENTED)
    if rng.random() < 0.3:
        chosen[rng.randrange(words)] = f"*{rng.choice(WORDS)}*"
    if rng.random() < 0.2:
        word = rng.choice(WORDS)
        chosen[rng.randrange(words)] = f"[{word}](https://example.org/{word}/)"
    text = " ".join(chosen)
    return text[0].upper() + text[1:] + "."


def paragraph(rng: random.Random) -> str:
    return " ".join(sentence(rng, rng.randint(8, 18)) for _ in range(rng.randint(3, 6)))


def body(rng: random.Random, index: int) -> str:
    parts: list[str] = []
    count = rng.randint(5, 15)
    for n in range(count):
        if n and n % 4 == 0:
            parts.append(f"## {sentence(rng, 4)[:-1]}")
        if n == 2:
            parts.append("\n".join(f"- {sentence(rng, 5)}" for _ in range(rng.randint(2, 5))))
        if n == 3:
            parts.append(f"![A photograph for article {index}](images/photo-{index % 97}.jpg)")
        parts.append(paragraph(rng))
    return "\n\n".join(parts)


def yaml_text(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def article(index: int) -> tuple[str, str]:
    rng = random.Random(index)
    start = datetime(2016, 1, 1, tzinfo=UTC)
    date = (start + timedelta(minutes=rng.randrange(10 * 365 * 24 * 60))).astimezone(
        rng.choice(ZONES)
    )
    title = " ".join(rng.choice(WORDS + ACCENTED) for _ in range(rng.randint(4, 9))).capitalize()
    authors = rng.sample(AUTHORS, rng.randint(1, 3))
    tags = rng.sample(TAGS, rng.randint(1, 4))
    lines = [
        "---",
        f"title: {yaml_text(title)}",
        f"date: {date.isoformat()}",
        "authors: [" + ", ".join(yaml_text(a) for a in authors) + "]",
        "tags: [" + ", ".join(tags) + "]",
        f"categories: [{rng.choice(CATEGORIES)}]",
        f"summary: {yaml_text(sentence(rng, 14))}",
        "---",
        "",
        body(rng, index),
        "",
    ]
    name = f"{date:%Y-%m-%d}-article-{index:06d}.md"
    return name, "\n".join(lines)


def main() -> None:
    if len(sys.argv) != 3 or not sys.argv[1].isdigit():
        sys.exit("usage: python bench/corpus.py N DIR")
    count, folder = int(sys.argv[1]), Path(sys.argv[2])
    folder.mkdir(parents=True, exist_ok=True)
    for index in range(count):
        name, text = article(index)
        (folder / name).write_text(text, encoding="utf-8")


if __name__ == "__main__":
    main()
