"""The WSGI entry point, ``feedpub.web:app``, for waitress, gunicorn or any WSGI server.

The app itself lives with the rest of delivery (``feedpub.delivery.web``); this name is the one
the README gives and deployments use, so it stays.
"""

from feedpub.delivery.web import app

__all__ = ["app"]
