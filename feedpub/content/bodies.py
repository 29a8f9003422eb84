"""Articles' bodies as HTML, rendered at most once while in use, and their images' URLs."""

from __future__ import annotations

from collections import OrderedDict

from feedpub.config import Site
from feedpub.content.readers import lead_of, render_html
from feedpub.content.uris import written_image
from feedpub.links import absolutize, site_url
from feedpub.model import Article


class Bodies:
    """Each article's HTML with its links made absolute, rendered at most once while it is in
    use: feeds share their newest articles, and the cache is bounded so that a large site's
    bodies never sit in memory all at once."""

    LIMIT = 4096

    def __init__(self, site: Site) -> None:
        self.site = site
        self._html: OrderedDict[str, str] = OrderedDict()

    def html(self, article: Article) -> str:
        key = article.feed_id or article.relpath
        cached = self._html.get(key)
        if cached is None:
            cached = absolutize(render_html(article, self.site), article.link, self.site.site.url)
            self._html[key] = cached
            if len(self._html) > self.LIMIT:
                self._html.popitem(last=False)
        else:
            self._html.move_to_end(key)
        return cached

    def page_html(self, article: Article) -> str:
        """The body for the article's own page, which is served at its link: relative links
        resolve there as they would against the link, so they are left as written (the page's
        root-relative ones are read against the site's root when the page is written:
        links.page_links). The body, used once, is not kept."""
        return render_html(article, self.site)

    def summary(self, article: Article) -> str:
        # The readers set ``lead``; an article made otherwise (an issue in the issues feed)
        # gets it the same way.
        return article.lead or lead_of(article, self.site)


def image_url(article: Article, root: str) -> str | None:
    """The article's image as an absolute URL, percent-encoded, for every output that writes
    it (feeds, the digest and so the issue's web version, a template's ``image()``). The
    readers checked it; an article made otherwise (a plugin's own, a cached one read by an
    older feedpub) is checked here, and an image no reader would take is left out. A
    root-relative path is read against the site's root ``root`` ([site] url: links)."""
    if not article.image:
        return None
    image = written_image(article.image)
    return site_url(root, image, article.link) if image else None
