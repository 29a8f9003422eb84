"""The store: the site's state in one SQLite file, ``.feedpub/state.db``, and all its SQL.

May import the basics only (errors, oserrors, config).
"""
