"""The example site's feeds, built with a fixed clock: what tests/golden/ holds.

tests/test_golden.py compares a fresh build with the golden files, and tests/regen_golden.py
rewrites them; both call build_example() so they cannot drift apart.
"""

from __future__ import annotations

import shutil
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from feedpub import config
from feedpub.build import build
from feedpub.feeds import FEED_FILES

REPO = Path(__file__).resolve().parent.parent
GOLDEN = Path(__file__).resolve().parent / "golden"
# The example site's own zone; a Friday, after every article but the one scheduled for 2031.
NOW = datetime(2026, 11, 27, 12, 0, tzinfo=ZoneInfo("America/Chicago"))
# What a site folder is made of. The top-level templates/ is the packaged default; copying it
# keeps the build identical to `feedpub build` run in the repository.
SITE_PARTS = ("feedpub.toml", "content", "templates")
# The main feeds, one tag's and one author's.
FOLDERS = ("", "tags/student-life", "authors/priya-raman")
GOLDEN_FILES = tuple(
    f"{folder}/{name}" if folder else name for folder in FOLDERS for name in FEED_FILES
)


def build_example(workdir: Path) -> dict[str, bytes]:
    """Copy the example site into ``workdir``, build it at NOW with a fresh state (no
    .feedpub/, so ids are derived as on a fresh clone), and return the golden files' bytes."""
    root = workdir / "example"
    root.mkdir(parents=True)
    for name in SITE_PARTS:
        source = REPO / name
        if source.is_dir():
            shutil.copytree(source, root / name)
        elif source.is_file():
            shutil.copyfile(source, root / name)
    site = config.load(root, env={})
    build(site, NOW)
    return {name: (site.output_dir / name).read_bytes() for name in GOLDEN_FILES}
