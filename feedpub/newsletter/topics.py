"""Topics: each reader's copy of an issue, cut to the topics they chose.

A topic (``[newsletter] topics``) is a group of article tags. A reader who chose topics gets
the issue's articles that carry a tag of one of them; a reader who chose none gets them all; a
reader whose topics have nothing in an issue gets no email for it (their delivery is recorded
``skipped``). A copy is named by the positions of the articles it carries (``issue_articles``'s
``position``, written "1,3,4"), ``WHOLE`` ("") for the issue as it was composed.

The issue as composed is rendered once, when it is; each other copy is rendered once for all
the readers who share it, from the articles as the issue stored them (``IssueItem``), never from
the content folder: the article may have changed or gone since, and the copy must be what the
issue was. Delivery may not import the newsletter: ``send_issue`` is handed a
``TopicEditions`` through its ``Editions`` protocol, and stores each rendering in the state
(``issue_variants``) so that a resumed send sends each reader the same bytes.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from feedpub.config import Site
from feedpub.content.bodies import Bodies
from feedpub.model import Article
from feedpub.newsletter.digest import Digest, IssueView, render, subject_line
from feedpub.store.issues import IssueItem, IssueRecord
from feedpub.text import name_key, plural

WHOLE = ""  # the copy that carries every article: the issue as it was composed


def positions(text: str) -> tuple[int, ...]:
    """The positions a copy's name lists ("1,3" -> (1, 3)); () for the whole issue. Only
    feedpub writes the names; a part that is no position (a state edited by hand) is none."""
    return tuple(int(p) for p in text.split(",") if p.isascii() and p.isdigit())


def copy_name(chosen: Iterable[int]) -> str:
    """The name of the copy carrying the articles at ``chosen`` positions."""
    return ",".join(str(p) for p in sorted(set(chosen)))


def choose(site: Site, items: Sequence[IssueItem], topics: Sequence[str]) -> str | None:
    """The copy of an issue of ``items`` that a reader of ``topics`` gets: ``WHOLE``, the
    positions of the articles in their topics, or None when none is.

    An issue none of whose articles carries a tag (one composed before feedpub kept tags, or
    of untagged articles) goes whole to everyone: topics could cut nothing out of it. Topic
    names the settings no longer have are left out; a reader none of whose topics is left
    gets the whole issue, as one who chose none does, rather than nothing from then on
    without a word (a renamed topic must not silence its readers).
    """
    return Cut(site, items).copy(topics)


class Cut:
    """``choose`` for one issue, its names and tags compared once (name_key), not again for
    each reader's choice: a list of 100,000 readers may make thousands of choices."""

    def __init__(self, site: Site, items: Sequence[IssueItem]) -> None:
        self.topics: dict[str, frozenset[str]] = {}
        for topic in site.newsletter.topics:
            key = name_key(topic.name)
            self.topics[key] = self.topics.get(key, frozenset()) | {
                name_key(tag) for tag in topic.tags
            }
        self.items = tuple(frozenset(name_key(tag) for tag in item.tags) for item in items)
        self.tagged = any(self.items)

    def copy(self, topics: Sequence[str]) -> str | None:
        if not topics or not self.tagged:
            return WHOLE
        tags = frozenset().union(*(self.topics.get(name_key(name), ()) for name in topics))
        if not tags:
            return WHOLE
        # Issues.add numbers the articles from 1, in the order the issue holds them.
        chosen = [place for place, own in enumerate(self.items, start=1) if own & tags]
        if not chosen:
            return None
        if len(chosen) == len(self.items):
            return WHOLE
        return copy_name(chosen)


class StoredBodies(Bodies):
    """The summaries as the issue stored them: a copy is made from the issue, not the files."""

    def summary(self, article: Article) -> str:
        return article.lead


def as_article(item: IssueItem) -> Article:
    """An article of an issue as the digest shows it, made again from what the issue kept."""
    return Article(
        source="",
        relpath="",
        title=item.title,
        date=datetime.fromisoformat(item.date),
        body=None,
        body_format="html",
        content_hash="",
        authors=item.authors,
        tags=item.tags,
        summary=item.summary,
        image=item.image or None,
        feed_id=item.article_id,
        link=item.link,
        lead=item.summary,
    )


def render_copy(site: Site, issue: IssueRecord, name: str) -> Digest:
    """The copy ``name`` of ``issue``: its own subject (the template may name its articles),
    HTML and text, with the editor's note, as the digest renders an issue."""
    chosen = set(positions(name))
    articles = tuple(
        as_article(item) for place, item in enumerate(issue.items, start=1) if place in chosen
    )
    created = datetime.fromisoformat(issue.created)
    view = IssueView(issue.number, created, articles)
    whole = IssueView(issue.number, created, tuple(map(as_article, issue.items)))
    # A subject the editor wrote (issue edit --subject) is every copy's; the one [newsletter]
    # subject made for the whole issue is made again for each copy's articles.
    own = None if issue.subject == subject_line(site, whole) else issue.subject
    return render(site, view, issue.note, StoredBodies(site), own)


@dataclass
class TopicEditions:
    """What ``send_issue`` asks of the newsletter (its ``Editions``): which copy a reader of
    some topics gets, and a copy rendered. ``renderer`` is ``render_copy`` but for a test that
    counts the renderings."""

    site: Site
    renderer: Callable[[Site, IssueRecord, str], Digest] = render_copy
    cuts: dict[int, Cut] = field(default_factory=dict, repr=False)

    def articles(self, issue: IssueRecord, topics: tuple[str, ...]) -> str | None:
        cut = self.cuts.get(issue.number)
        if cut is None:
            cut = self.cuts[issue.number] = Cut(self.site, issue.items)
        return cut.copy(topics)

    def render(self, issue: IssueRecord, articles: str) -> tuple[str, str, str]:
        digest = self.renderer(self.site, issue, articles)
        return digest.subject, digest.html, digest.text


def copies_lines(issue: IssueRecord, rows: Sequence[tuple[str, str, int]]) -> list[str]:
    """``issue show``'s lines about the copies sent: for each, the articles it carries and how
    many readers it went to, in each status; ``rows`` are (copy, status, count)."""
    total = len(issue.items)
    by_copy: dict[str, dict[str, int]] = {}
    skipped = 0
    for name, status, count in rows:
        if status == "skipped":
            skipped += count  # a skipped reader got no copy, whichever was meant for them
            continue
        by_copy.setdefault(name, {})[status] = by_copy.get(name, {}).get(status, 0) + count
    lines = []
    for name in sorted(by_copy, key=lambda n: (n != WHOLE, positions(n))):
        counts = by_copy[name]
        what = (
            f"all {plural(total, 'article')}"
            if name == WHOLE
            else f"articles {', '.join(map(str, positions(name)))}"
        )
        detail = ", ".join(f"{n} {status}" for status, n in sorted(counts.items()))
        lines.append(f"  {what}: {plural(sum(counts.values()), 'recipient')} ({detail})")
    if skipped:
        lines.append(
            f"  none: {plural(skipped, 'recipient')} skipped (paused, nothing of their topics, "
            "or gone while it was sending)"
        )
    return lines
