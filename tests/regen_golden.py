"""Rewrite tests/golden/ from a fresh build of the example site.

Run from anywhere after an intended change to the feeds, the pages, the digest or the example
site:

    python tests/regen_golden.py

then review `git diff tests/golden/` before committing.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

from golden_site import GOLDEN, REPO, build_example


def main() -> int:
    with tempfile.TemporaryDirectory() as tmp:
        fresh = build_example(Path(tmp))
    for name in sorted(fresh):
        target = GOLDEN / name
        shown = target.relative_to(REPO)
        if target.is_file() and target.read_bytes() == fresh[name]:
            print(f"unchanged {shown}")
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(fresh[name])
        print(f"wrote     {shown}")
    wanted = {GOLDEN / name for name in fresh}
    for path in sorted(GOLDEN.rglob("*"), reverse=True):
        if path.is_file() and path not in wanted:
            path.unlink()
            print(f"removed   {path.relative_to(REPO)}")
        elif path.is_dir() and not any(path.iterdir()):
            path.rmdir()
    return 0


if __name__ == "__main__":
    sys.exit(main())
