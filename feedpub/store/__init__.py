"""The store: the site's state in one SQLite file, ``.feedpub/state.db``, and all its SQL.

- ``state``: ``State``, the open database: the file (made whole, checked, never taken for a new
  one when damaged), the connection, the schema and its migrations, transactions and the busy
  timeout, SQLite's errors said as StateErrors, ``create_file`` for the state folder's other
  files; and the build's tables: articles' feed ids, the outputs, the content cache, meta.
- ``issues``: the issues and the articles each carried (``Issues``, ``IssueRecord``,
  ``IssueItem``, ``UNSUBSCRIBE_PLACEHOLDER``); ``State.issues``.
- ``subscribers``: the subscribers table, each one's consent record, topics and pause, the
  forgotten ones' tombstones and the suppression list (``SubscriberRows``, ``Subscriber``);
  ``State.subscribers``. The rules for addresses and names are delivery's.
- ``limits``: rate-limit hits, counted over a sliding window across processes (``Limits``);
  ``State.limits``.
- ``outgoing``: the transactional mail queue, confirmations and welcomes (``Outgoing``,
  ``OutgoingRow``); ``State.outgoing``.
- ``variants``: an issue rendered once per set of its articles (``Variants``);
  ``State.variants``.
- ``pings``: the WebSub publish pings a build owes the hub (``Pings``); ``State.pings``.
- ``events``: what happened after the relay took a message (hard and soft bounces,
  complaints, unsubscribes), each issue's figures made of them, and the incoming messages and
  webhook events acted on, by key, so each is acted on once (``Events``, ``IssueFigures``);
  ``State.events``. The rules for what an event does are delivery's.
- ``deliveries``: one row per issue and recipient, and each step of a send on them as one
  transaction (``Deliveries``); ``State.deliveries``, which the send loop uses through its
  ``DeliveryStore`` Protocol.

- ``backup``: a backup of the state in one file (the database copied through SQLite's
  backup API, the secret, the List-Id, a manifest of checksums) and its checked restore
  (``backup``, ``restore``).

A new table group is a module here with its accessor on ``State``, and its migration appended
to ``state._MIGRATIONS``.

May import the basics only (errors, oserrors, config).
"""
