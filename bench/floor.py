"""The least work any Python build of a corpus must do, measured piece by piece.

    python bench/floor.py DIR        # DIR: a corpus made by bench/corpus.py

Each step is the library call feedpub itself makes, on every article of the corpus, in one
process: reading the files, parsing their front matter with PyYAML's C loader, rendering their
bodies with cmark-gfm, filling a one-line Jinja2 template, and creating one folder with one
file per article in a new temporary folder. Nothing else: no ids, no feeds, no lists, no
checks. The sum is what one core needs at the least; divided by the cores, it is a lower
bound for a build's wall time that no Python implementation using these libraries beats.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import jinja2
import yaml

from feedpub.readers import markdown, markdown_to_html  # the calls a build makes
from feedpub.readers.common import Findings


def timed(label: str, step: Callable[[], object], results: dict[str, float]) -> object:
    started = time.perf_counter()
    value = step()
    results[label] = time.perf_counter() - started
    return value


def main(argv: list[str]) -> int:
    if len(argv) != 1 or not Path(argv[0]).is_dir():
        print(__doc__.strip().splitlines()[2].strip(), file=sys.stderr)
        return 2
    files = sorted(Path(argv[0]).glob("*.md"))
    results: dict[str, float] = {}
    texts = timed("read files", lambda: [p.read_text("utf-8") for p in files], results)
    assert isinstance(texts, list)
    # Split as a build splits them (the front matter, the body, the body's first line).
    parts = [
        markdown.split_front_matter(text, Findings(str(path)))
        for text, path in zip(texts, files, strict=True)
    ]
    fronts = [part[0] if part else "" for part in parts]
    bodies = [part[1] if part else text for text, part in zip(texts, parts, strict=True)]
    # feedpub's loader: PyYAML's C loader, flat mappings built without the general machinery.
    loader = markdown._Loader
    metas = timed(
        "YAML front matter (C loader)", lambda: [yaml.load(f, loader) for f in fronts], results
    )
    assert isinstance(metas, list)
    html = timed("cmark-gfm bodies", lambda: [markdown_to_html(b) for b in bodies], results)
    assert isinstance(html, list)
    template = jinja2.Environment(autoescape=True).from_string(
        "<!DOCTYPE html><title>{{ m.title }}</title><h1>{{ m.title }}</h1>{{ body | safe }}"
    )
    pages = timed(
        "Jinja2 one-line page",
        lambda: [template.render(m=m, body=h).encode() for m, h in zip(metas, html, strict=True)],
        results,
    )
    assert isinstance(pages, list)
    folder = Path(tempfile.mkdtemp(prefix="feedpub-floor-", dir=os.environ.get("TMPDIR")))

    def write() -> None:
        for number, data in enumerate(pages):
            page = folder / f"{number:07d}"
            page.mkdir()
            (page / "index.html").write_bytes(data)

    try:
        timed("create a folder and a file each", write, results)
    finally:
        shutil.rmtree(folder)
    total = sum(results.values())
    cores = os.cpu_count() or 1
    print(f"{len(files):,} articles, one process:")
    for label, seconds in results.items():
        print(f"  {label:34s} {seconds:7.2f} s")
    print(f"  {'total':34s} {total:7.2f} s")
    print(f"lower bound on {cores} cores: {total / cores:.2f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
