"""Delivery: each issue to every subscriber once, and what subscribers do from their mail.

Owns the messages (``messages``: MIME, headers, the List-Id and unsubscribe links), sending
(``sending``: the send loop, which records through the store's ``DeliveryStore`` and holds no
SQL), the transports (``transport``: chosen by name from a registry, an SMTP relay or the outbox
built in, ``register`` for a plugin's), subscribers (``subscribers``: the rules for addresses
and names over the store's table), tokens (``tokens``), the web app (``web``), the mails
a reader's own action asks for, sent from the state's queue (``mailer``), the list's identity
(``identity``: host, List-Id, plain sender), the addresses that say who bounced (``verp``) and
what bounces, complaints and unsubscribes do (``events``).

May import the basics, ``templating``, ``content`` and ``store``; not ``site`` or
``newsletter``: an issue reaches delivery as the store's record of it.
"""
