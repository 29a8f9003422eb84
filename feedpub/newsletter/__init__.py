"""The newsletter: issues composed from the articles no issue carried yet, when they are due.

Owns issues (``issues``), the digest (``digest``: the issue's HTML and text), the editor's note
(``note``: its safe HTML and its text), the schedule (``schedule``) and the status report
(``status``).

May import the basics, ``templating``, ``content`` and ``store``; not ``site`` or ``delivery``.
"""
