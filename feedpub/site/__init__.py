"""The website build: the catalog turned into feeds, pages and static files in ``public/``.

Owns the build (``build``: one pipeline), every output and the work a build carries out
(``outputs``), the feed documents (``feeds``), the pages (``pages``), the one writer of all
output (``writer``), the archive of issues (``archive``) and the build cache (``cache``: the
record of the last build, and the quick rebuild); and what the web server's access logs say
of the site's readers (``stats``). The main feed's history by month (``history``, RFC 5005)
and the WebSub hub's publish pings (``websub``: owed in the state, sent after the build).

May import the basics, ``templating``, ``content`` and ``store``. Only ``archive``, the site's
pages about the newsletter, may import ``newsletter``; nothing here imports ``delivery``.
"""
