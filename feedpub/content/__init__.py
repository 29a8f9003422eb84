"""Content: the site's article files and what they mean.

Owns the input tree (``tree``: content/ and static/, walked without following a link out),
the readers (one per file suffix: front matter and body), articles' bodies as HTML
(``bodies``) and the catalog (every article, identified, sorted, grouped by tag and author).

May import the basics at the top of the package (config, model, errors, dates, text,
parallel, oserrors) and the store (for articles' ids and the content cache); nothing else.
"""
