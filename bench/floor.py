"""The least work any Python build of a corpus must do, measured piece by piece.

    python bench/floor.py DIR        # DIR: a corpus made by bench/corpus.py

Each step is the library call feedpub itself makes, on every article of the corpus, in one
process: reading the files, parsing their front matter with PyYAML's C loader, rendering their
bodies with cmark-gfm, filling a one-line Jinja2 template, and creating one folder with one
file per article in a new temporary folder. Nothing else: no ids, no feeds, no lists, no
checks. The sum is what one core needs at the least; divided by the cores, it is a lower
bound for a build's wall time that no Python implementation using these libraries beats.

A second part times what feedpub's outputs add to that: its packaged article template in place
of the one-line page, and its feeds and lists (tags, authors, archive, home), rendered by
feedpub itself with every body taken ready-made from a dictionary, since reading and rendering
the bodies are already counted above. It prints the lower bound with these outputs too.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

import jinja2
import yaml
from run import NOW, SITE_TOML  # the benchmark's site and moment (bench/ is the script's folder)

from feedpub.content.readers import markdown, markdown_to_html
from feedpub.content.readers.common import Findings

RUNS = 3  # each step is timed this many times; the least time counts (a floor)


def timed(label: str, step: Callable[[], object], results: dict[str, float]) -> object:
    times = []
    for _ in range(RUNS):
        started = time.perf_counter()
        value = step()
        times.append(time.perf_counter() - started)
    results[label] = min(times)
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
    # Each run writes into a new folder, all removed at the end: right after a large deletion
    # this machine's file system (ext4 with discard) creates files several times slower.
    folders: list[Path] = []

    def write() -> None:
        folder = Path(tempfile.mkdtemp(prefix="feedpub-floor-", dir=os.environ.get("TMPDIR")))
        folders.append(folder)
        for number, data in enumerate(pages):
            page = folder / f"{number:07d}"
            page.mkdir()
            (page / "index.html").write_bytes(data)

    try:
        timed("create a folder and a file each", write, results)
    finally:
        for folder in folders:
            shutil.rmtree(folder)
    total = sum(results.values())
    cores = os.cpu_count() or 1
    print(f"{len(files):,} articles, one process, least of {RUNS} runs:")
    for label, seconds in results.items():
        print(f"  {label:34s} {seconds:7.2f} s")
    print(f"  {'total':34s} {total:7.2f} s")
    print(f"lower bound on {cores} cores: {total / cores:.2f} s")
    own = feedpub_outputs(Path(argv[0]))
    print(f"feedpub's outputs, bodies ready-made, one process, least of {RUNS} runs:")
    for label, seconds in own.items():
        print(f"  {label:34s} {seconds:7.2f} s")
    with_own = total - results["Jinja2 one-line page"] + sum(own.values())
    print(
        f"lower bound with them, the one-line page left out, on {cores} cores: "
        f"{with_own / cores:.2f} s"
    )
    return 0


def feedpub_outputs(corpus: Path) -> dict[str, float]:
    """CPU seconds of feedpub's own renders of the corpus's outputs, by kind, one process.

    The catalog is made first (not timed) in a throwaway site; every body's HTML is made
    before the clock starts and handed to feedpub in place of reading and rendering it."""
    from feedpub import config
    from feedpub.content.catalog import load
    from feedpub.content.readers import load_body
    from feedpub.site import feeds, outputs
    from feedpub.store.state import State

    with tempfile.TemporaryDirectory(prefix="feedpub-floor-") as folder:
        root = Path(folder)
        (root / "feedpub.toml").write_text(SITE_TOML, encoding="utf-8")
        (root / "content").symlink_to(corpus.resolve(), target_is_directory=True)
        site = config.load(root)
        with State.open(site.state_dir) as state:
            catalog = load(site, state, datetime.fromisoformat(NOW))
        ready = {a.relpath: markdown_to_html(load_body(a, site)) for a in catalog.articles}
        # Pages and feeds both take their bodies through feeds.render_html.
        feeds.render_html = lambda article, _site: ready[article.relpath]
        least: dict[str, float] = {}
        for _ in range(RUNS):
            # outputs() anew each time: its bodies and cards are made once per build.
            kinds: dict[str, float] = {}
            for relpath, _, render in outputs.outputs(site, catalog, []):
                kind = _kind(relpath)
                started = time.process_time()
                render()
                kinds[kind] = kinds.get(kind, 0.0) + time.process_time() - started
            for kind, seconds in kinds.items():
                least[kind] = min(least.get(kind, seconds), seconds)
    return least


def _kind(relpath: str) -> str:
    name = relpath.rsplit("/", 1)[-1]
    if name in ("rss.xml", "atom.xml", "feed.json"):
        return "feeds (RSS, Atom, JSON)"
    if relpath[:1].isdigit():
        return "article pages, packaged template"
    return "lists and static files"


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
