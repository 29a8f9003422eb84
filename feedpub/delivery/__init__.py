"""Delivery: each issue to every subscriber once, and what subscribers do from their mail.

Owns the messages (``messages``: MIME and headers), sending (``sending``: the send loop and its
bookkeeping), the transports (``transport``: an SMTP relay or the outbox), subscribers
(``subscribers``), tokens (``tokens``) and the web app (``web``).

May import the basics, ``templating``, ``content`` and ``store``; not ``site`` or
``newsletter``: an issue reaches delivery as the store's record of it.
"""
