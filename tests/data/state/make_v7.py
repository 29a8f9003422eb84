"""Makes v7.db, the state of schema version 7 that tests/test_review_migration.py upgrades.

It was made once with feedpub at commit 23eb990 (the last version writing schema 7), by running
this file with that version installed: ``python tests/data/state/make_v7.py``. Issue 1 went to
four subscribers; issue 2 was composed and not sent. Run with a later feedpub it would write
that version's schema, so it is kept for the record only.
"""

from __future__ import annotations

import shutil
import sqlite3
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
FEEDPUB = [sys.executable, "-m", "feedpub"]
NOW = "2026-11-27T12:00:00+01:00"
LATER = "2026-12-04T12:00:00+01:00"
SETTINGS = """\
[site]
title = "Test Gazette"
url = "https://news.example.org/"
timezone = "Europe/Berlin"

[newsletter]
name = "Test Weekly"
from = "Test Gazette <news@news.example.org>"
schedule = "weekly"
day = "friday"
time = "08:00"
"""
ARTICLE = """---
title: {title}
date: {date}
tags: [{tags}]
---
{title}'s body.
"""


def run(root: Path, *args: str) -> None:
    subprocess.run([*FEEDPUB, "--site", str(root), *args], check=True)


def main() -> None:
    root = Path(tempfile.mkdtemp())
    try:
        (root / "feedpub.toml").write_text(SETTINGS)
        content = root / "content"
        content.mkdir()
        for name, title, date, tags in [
            ("alpha.md", "Alpha", "2026-11-20 09:00", "sports"),
            ("bravo.md", "Bravo", "2026-11-24 09:00", "arts"),
        ]:
            (content / name).write_text(ARTICLE.format(title=title, date=date, tags=tags))
        for address, name in [
            ("ann@example.org", "Ann Lee"),
            ("Bob@Example.org", ""),
            ("carla@bücher.example", "Carla"),
            ("dan@example.net", "Dan"),
        ]:
            run(root, "subscribers", "add", address, "--name", name)
        run(root, "subscribers", "remove", "dan@example.net")
        run(root, "subscribers", "add", "erin@example.com", "--name", "Erin")
        run(root, "issue", "new", "--now", NOW)
        run(root, "send", "--now", NOW)
        (content / "charlie.md").write_text(
            ARTICLE.format(title="Charlie", date="2026-12-01 09:00", tags="arts")
        )
        run(root, "issue", "new", "--now", LATER)
        db = sqlite3.connect(root / ".feedpub" / "state.db")
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        db.execute("VACUUM")
        db.close()
        shutil.copyfile(root / ".feedpub" / "state.db", HERE / "v7.db")
        shutil.copyfile(root / ".feedpub" / "secret", HERE / "v7.secret")
        shutil.copyfile(root / ".feedpub" / "list-id", HERE / "v7.list-id")
    finally:
        shutil.rmtree(root)


if __name__ == "__main__":
    main()
