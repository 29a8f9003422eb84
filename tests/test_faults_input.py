"""Hostile input trees: links out of the site, loops, odd names, deep folders, and inputs
built to make one file cost a lot of memory. Real symlinks, real pipes, real subprocesses."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import unicodedata
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from helpers import NOW, NOW_ARG, MakeSite, article, files_of, load
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from feedpub.cli import main
from feedpub.content import tree
from feedpub.content.catalog import content_files
from feedpub.content.catalog import load as load_catalog
from feedpub.errors import OutputError
from feedpub.site.outputs import static_files
from feedpub.store.state import State

SECRET = b"hmac-secret-0f9e8d7c6b5a"


def invoke(runner: CliRunner, root: Path, *args: str) -> Result:
    return runner.invoke(main, ["--site", str(root), *args, "--now", NOW_ARG], prog_name="feedpub")


def problem_lines(result: Result) -> list[str]:
    """The ``PATH[:LINE]: severity: message`` lines a command printed."""
    return sorted(
        line for line in result.stderr.splitlines() if ": error: " in line or ": warning: " in line
    )


def assert_check_and_build_agree(runner: CliRunner, root: Path, code: int) -> list[str]:
    """check and build exit ``code`` without a traceback and print the same problems."""
    checked = invoke(runner, root, "check")
    built = invoke(runner, root, "build")
    for result in (checked, built):
        assert result.exit_code == code, result.output
        assert "Traceback" not in result.output and "unexpected" not in result.output
    assert problem_lines(checked) == problem_lines(built)
    return problem_lines(checked)


@pytest.fixture
def site(make_site: MakeSite) -> Path:
    """A site with one good article, a static folder, and secrets where a site keeps them."""
    root = make_site({"2026-11-20-good.md": article("Good", body="A good article.")})
    (root / "static").mkdir()
    (root / "static" / "robots.txt").write_text("User-agent: *\n", encoding="utf-8")
    (root / ".feedpub").mkdir()
    (root / ".feedpub" / "secret").write_bytes(b"Title: s\n\n" + SECRET + b"\n")
    return root


# -- links out of the site -----------------------------------------------------------------

OUTSIDE = {
    "a system file": ("static/shadow", "{outside}"),
    "the state database": ("static/state.db", "../.feedpub/secret"),
    "the secret as an article": ("content/2026-01-01-s.txt", "../.feedpub/secret"),
    "the secret through a folder": ("static/x.txt", "../static/../.feedpub/secret"),
    "the settings": ("static/settings.txt", "../feedpub.toml"),
    "the output": ("static/old.html", "../public/index.html"),
    "a hidden folder inside content": ("static/config", "../content/.git/config"),
    "a chain of links": ("static/chain", "hop"),
}


@pytest.mark.parametrize(("link", "target"), OUTSIDE.values(), ids=OUTSIDE.keys())
def test_a_link_out_of_the_input_folders_is_refused_and_never_read(
    runner: CliRunner, site: Path, tmp_path: Path, link: str, target: str
) -> None:
    outside = tmp_path / "shadow"
    outside.write_bytes(b"Title: x\n\n" + SECRET + b"\n")
    (site / "content" / ".git").mkdir()
    (site / "content" / ".git" / "config").write_bytes(SECRET)
    (site / "static" / "hop").symlink_to(outside)  # itself refused: a link out as well
    (site / "public").mkdir()
    (site / "public" / "index.html").write_bytes(SECRET)
    path = site / link
    path.symlink_to(target.format(outside=outside))
    lines = assert_check_and_build_agree(runner, site, 1)
    assert any(line.startswith(f"{link}: error: is a link to ") for line in lines), lines
    assert all(": error: is a link to " in line and "outside the site's" in line for line in lines)
    # Even when the build goes on, nothing the link leads to is published.
    result = invoke(runner, site, "build", "--keep-going")
    assert result.exit_code == 1 and "Traceback" not in result.output
    published = files_of(site / "public")
    assert "index.html" in published
    assert not any(SECRET in data for data in published.values())
    assert Path(link).name not in published and "2026/01/s/index.html" not in published


def test_links_that_stay_inside_the_input_folders_are_followed(
    runner: CliRunner, site: Path
) -> None:
    """A file link into content/, static/ or templates/ is read as the file it leads to (an
    article under the link's own name and date)."""
    content = site / "content"
    (content / "_shared").mkdir()
    (content / "_shared" / "story.md").write_text(
        article("Shared", body="Shared body."), encoding="utf-8"
    )
    (content / "2026-11-21-linked.md").symlink_to("_shared/story.md")
    (site / "static" / "images").mkdir()
    (site / "static" / "images" / "logo.png").write_bytes(b"\x89PNG picture")
    (site / "static" / "favicon.ico").symlink_to("images/logo.png")
    (site / "templates").mkdir()
    (site / "templates" / "humans.txt").write_text("us\n", encoding="utf-8")
    (site / "static" / "humans.txt").symlink_to("../templates/humans.txt")
    assert assert_check_and_build_agree(runner, site, 0) == []
    public = site / "public"
    assert (public / "favicon.ico").read_bytes() == b"\x89PNG picture"
    assert not (public / "favicon.ico").is_symlink()
    assert (public / "humans.txt").read_bytes() == b"us\n"
    assert "Shared body." in (public / "2026" / "11" / "linked" / "index.html").read_text(
        encoding="utf-8"
    )


def test_folder_links_and_loops_are_reported_without_hanging(site: Path) -> None:
    """Folder links are never followed (a warning each), loops are errors; check and build say
    the same, quickly (two links to '.' used to make the build's snapshot walk 2**40 paths)."""
    for parent in ("content", "static"):
        (site / parent / "again").symlink_to(".")
        (site / parent / "up").symlink_to("..")
        (site / parent / "sub").mkdir()
        (site / parent / "sub" / "back").symlink_to("..", target_is_directory=True)
    (site / "content" / "loop.md").symlink_to("loop.md")
    (site / "static" / "loop").symlink_to("loop")
    (site / "static" / "ping").symlink_to("pong")
    (site / "static" / "pong").symlink_to("ping")
    outputs = {}
    for command in ("check", "build"):
        done = subprocess.run(
            [sys.executable, "-m", "feedpub", "--site", str(site), command, "--now", NOW_ARG],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert done.returncode == 1, done.stderr
        assert "Traceback" not in done.stderr and "unexpected" not in done.stderr
        outputs[command] = sorted(
            line
            for line in done.stderr.splitlines()
            if ": error: " in line or ": warning: " in line
        )
    assert outputs["check"] == outputs["build"]

    def paths(text: str) -> set[str]:
        return {line.split(":")[0] for line in outputs["check"] if text in line}

    # A folder link inside is not followed; one out of the input folders is refused.
    warned = paths(": warning: is a link to a folder, which is not followed")
    assert warned == {f"{p}/{n}" for p in ("content", "static") for n in ("again", "sub/back")}
    assert paths("outside the site's content/, static/ and templates/") == {
        "content/up",
        "static/up",
    }
    looped = paths(": error: is a link that loops")
    assert looped == {"content/loop.md", "static/loop", "static/ping", "static/pong"}


def test_a_pipe_is_refused_not_waited_for(site: Path) -> None:
    os.mkfifo(site / "static" / "pipe")
    os.mkfifo(site / "content" / "2026-11-22-pipe.md")
    done = subprocess.run(
        [sys.executable, "-m", "feedpub", "--site", str(site), "build", "--now", NOW_ARG],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 1
    assert "static/pipe: error: is not a file (a pipe, a socket or a device)" in done.stderr
    assert "content/2026-11-22-pipe.md: error: is not a file" in done.stderr


# -- files swapped for links after the walk -------------------------------------------------


def test_an_article_swapped_for_a_link_after_the_walk_is_not_read(site: Path) -> None:
    config = load(site)
    files = content_files(config)
    good = site / "content" / "2026-11-20-good.md"
    good.unlink()
    good.symlink_to("../.feedpub/secret")
    with State.open(config.state_dir) as state:
        catalog = load_catalog(config, state, NOW, files)
    assert catalog.articles == []
    assert [(p.path, p.severity) for p in catalog.problems] == [
        ("content/2026-11-20-good.md", "error")
    ]
    assert "is a link out of the site's" in catalog.problems[0].message


def test_a_folder_swapped_for_a_link_after_the_walk_is_not_read(site: Path, tmp_path: Path) -> None:
    """O_NOFOLLOW guards only a path's last part; the open file's real path guards the rest."""
    folder = site / "content" / "news"
    folder.mkdir()
    (folder / "2026-11-23-a.md").write_text(article("A"), encoding="utf-8")
    config = load(site)
    files = content_files(config)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "2026-11-23-a.md").write_bytes(b"---\ntitle: x\ndate: 2026-11-23\n---\n" + SECRET)
    (folder / "2026-11-23-a.md").unlink()
    folder.rmdir()
    folder.symlink_to(elsewhere)
    with State.open(config.state_dir) as state:
        catalog = load_catalog(config, state, NOW, files)
    assert [a.relpath for a in catalog.articles] == ["content/2026-11-20-good.md"]
    assert [p.path for p in catalog.problems] == ["content/news/2026-11-23-a.md"]


def test_a_static_file_swapped_for_a_link_after_the_walk_is_not_copied(site: Path) -> None:
    outputs = list(static_files(load(site)))
    robots = site / "static" / "robots.txt"
    robots.unlink()
    robots.symlink_to("../.feedpub/secret")
    [(name, _, render)] = outputs
    assert name == "robots.txt"
    with pytest.raises(
        OutputError, match=r"refusing to copy .*static/robots\.txt: it is a link out"
    ):
        render()


# -- odd names ------------------------------------------------------------------------------

FORGED = "a.md\nforged.md:1: error: forged"


@pytest.mark.parametrize("parent", ["content", "static"])
@pytest.mark.parametrize(
    ("name", "shown"),
    [
        (os.fsencode(FORGED + ".md"), "a.md\\nforged.md:1: error: forged.md"),
        (b"caf\xe9.md", "caf\\xe9.md"),
        (b"esc\x1b[31m.md", "esc\\x1b[31m.md"),
        ("line\u2028sep.md".encode(), "line\\u2028sep.md"),
    ],
    ids=["newline", "latin-1", "escape", "line separator"],
)
def test_an_odd_file_name_is_refused_on_one_line(
    runner: CliRunner, site: Path, parent: str, name: bytes, shown: str
) -> None:
    folder = os.fsencode(site / parent)
    with open(os.path.join(folder, name), "w", encoding="utf-8") as file:
        file.write(article("Odd"))
    lines = assert_check_and_build_agree(runner, site, 1)
    assert len(lines) == 1, lines
    assert lines[0].startswith(f"{parent}/{shown}: error: its name ")
    assert not any(line.startswith("forged.md") for line in lines)


def test_a_folder_with_an_odd_name_is_reported_not_entered(runner: CliRunner, site: Path) -> None:
    odd = os.path.join(os.fsencode(site / "content"), b"bad\nname\xff")
    os.mkdir(odd)
    with open(os.path.join(odd, b"a.md"), "w", encoding="utf-8") as file:
        file.write(article("Hidden inside"))
    lines = assert_check_and_build_agree(runner, site, 1)
    assert lines == [
        "content/bad\\nname\\xff: error: its name holds a line break or another control "
        "character; rename it; it is left out"
    ]


NAME_BYTES = st.binary(min_size=1, max_size=40).filter(lambda b: b"/" not in b and b"\0" not in b)


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(name=NAME_BYTES)
def test_any_file_name_is_read_or_refused_on_one_printable_line(
    tmp_path: Path, name: bytes
) -> None:
    top = tmp_path / "names"
    top.mkdir(exist_ok=True)
    for old in os.listdir(os.fsencode(top)):
        os.unlink(os.path.join(os.fsencode(top), old))
    path = os.path.join(os.fsencode(top), name)
    if name in (b".", b".."):
        return
    with open(path, "wb") as file:
        file.write(b"x")
    found = tree.walk(top, "static", tree.Roots.of([os.path.realpath(top)]))
    hidden = name.startswith(b".")
    assert len(found.files) + len(found.problems) == (0 if hidden else 1)
    for problem in found.problems:
        text = str(problem)
        text.encode("utf-8")  # printable as it is: no lone surrogate
        assert len(text.splitlines()) == 1
        assert not any(unicodedata.category(c) == "Cc" for c in text)
    for file_path, _ in found.files:
        assert os.fsencode(file_path) == path
        os.fsdecode(file_path).encode("utf-8")


# -- deep folders ---------------------------------------------------------------------------


def nest(top: Path, depth: int, name: bytes = b"2026-11-24-deep.md") -> None:
    """``depth`` folders inside each other under ``top``, an article at the bottom; made
    through folder descriptors, since the whole path can be longer than a path may be."""
    fd = os.open(top, os.O_RDONLY | os.O_DIRECTORY)
    try:
        for _ in range(depth):
            os.mkdir("d", dir_fd=fd)
            inner = os.open("d", os.O_RDONLY | os.O_DIRECTORY, dir_fd=fd)
            os.close(fd)
            fd = inner
        out = os.open(name, os.O_WRONLY | os.O_CREAT, 0o644, dir_fd=fd)
        os.write(out, article("Deep").encode())
        os.close(out)
    finally:
        os.close(fd)


@pytest.fixture
def deep(site: Path) -> Iterator[Path]:
    """The site's content/, emptied of nested folders afterwards (shutil.rmtree recurses, and
    5,000 levels are more than Python's recursion limit)."""
    top = site / "content"
    yield top
    while (top / "d").is_dir():
        if (top / "d" / "d").is_dir():
            os.rename(top / "d" / "d", top / "up")
        for name in os.listdir(top / "d"):
            os.unlink(top / "d" / name)
        os.rmdir(top / "d")
        if (top / "up").is_dir():
            os.rename(top / "up", top / "d")


@pytest.mark.parametrize("depth", [150, 5000])
def test_an_article_nested_thousands_deep_is_reported(
    runner: CliRunner, site: Path, deep: Path, depth: int
) -> None:
    nest(deep, depth)
    lines = assert_check_and_build_agree(runner, site, 1)
    shown = "content/" + "d/" * tree.MAX_DEPTH + "d"
    assert lines == [
        f"{shown}: error: is nested more than {tree.MAX_DEPTH} folders deep; its files are left "
        "out: move them into a shallower folder"
    ]


def test_an_article_nested_as_deep_as_allowed_is_read(
    runner: CliRunner, site: Path, deep: Path
) -> None:
    nest(deep, tree.MAX_DEPTH)
    assert assert_check_and_build_agree(runner, site, 0) == []
    assert (site / "public" / "2026" / "11" / "deep" / "index.html").is_file()


# -- what one input may cost ----------------------------------------------------------------

FRONT = "---\ntitle: Big\ndate: 2026-11-20\n---\n"
MB = 1024  # ru_maxrss is in KiB


# Linux keeps a process's peak resident size across exec, and a child forked (or vforked) from
# pytest starts with pytest's size, hundreds of megabytes late in a run: the build is started
# from this small process instead, so the peak wait4 reports is the build's own (as
# bench/child.py does for the benchmarks).
SPAWNER = """
import json, os, sys
out = [(os.POSIX_SPAWN_OPEN, 1, os.devnull, os.O_WRONLY, 0)]
pid = os.posix_spawn(sys.argv[1], sys.argv[1:], os.environ, file_actions=out)
_, status, usage = os.wait4(pid, 0)
print(json.dumps([os.waitstatus_to_exitcode(status), usage.ru_maxrss]))
"""


def build_peak(root: Path, tmp_path: Path) -> tuple[int, str, int]:
    """Build ``root`` in a child process: its exit code, stderr and peak RSS in KiB (of the
    child and of any worker it waited for, as wait4 reports them)."""
    err = tmp_path / "stderr.txt"
    command = [sys.executable, "-m", "feedpub", "--site", str(root), "build", "-q"]
    with open(err, "wb") as stderr:
        done = subprocess.run(
            [sys.executable, "-c", SPAWNER, *command, "--now", NOW_ARG],
            stdout=subprocess.PIPE,
            stderr=stderr,
            check=True,
        )
    code, peak = json.loads(done.stdout)
    return int(code), err.read_text(encoding="utf-8"), int(peak)


HOSTILE = {
    # 4.5 MB under the 5 MB size limit: 0.9, 1.6 and 1.1 GB before the budget of marks.
    "'<' repeated": ("big.md", FRONT + "<" * 4_500_000, 5),
    "'>' repeated": ("big.md", FRONT + ">" * 4_500_000, 5),
    "'[' repeated": ("big.md", FRONT + "[" * 4_500_000, 5),
    "one word a line": ("big.md", FRONT + "a\n" * 2_000_000, 200_001),
    "a table of 750,000 rows": ("big.md", FRONT + "|a|b|\n|-|-|\n" + "|a|b|\n" * 750_000, 50_004),
    "plain text, a line each": (
        "big.txt",
        "Title: Big\nDate: 2026-11-20\n\n" + "a\n\n" * 1_500_000,
        200_001,
    ),
    "2 million tags": (
        "big.md",
        "---\ntitle: Big\ndate: 2026-11-20\ntags: [" + "a," * 2_000_000 + "]\n---\nx",
        2,
    ),
}


@pytest.mark.parametrize(("name", "text", "line"), HOSTILE.values(), ids=HOSTILE.keys())
def test_an_article_built_to_cost_memory_is_refused_cheaply(
    make_site: MakeSite, tmp_path: Path, name: str, text: str, line: int
) -> None:
    root = make_site({name: text})
    code, stderr, peak = build_peak(root, tmp_path)
    assert code == 1
    assert f"content/{name}:{line}: error: " in stderr, stderr
    assert "Traceback" not in stderr and "unexpected" not in stderr
    assert peak < 150 * MB, f"peak {peak // MB} MB"


UNDER_BUDGET = {
    # The costliest shapes found just under the budget (185 MB for the list, measured).
    "a list of 199,000 items": "- a\n" * 199_000,
    "199,000 block quotes": "> " * 199_000,
    "199,000 emphases": "*a" * 199_000,
    "199,000 headings": "# a\n" * 199_000,
    "a table of 49,000 rows": "|a|b|\n|-|-|\n" + "|a|b|\n" * 49_000,
}
SLOW = pytest.mark.slow


@pytest.mark.parametrize(
    "body",
    [
        pytest.param(body, id=key, marks=() if key.startswith("a list") else SLOW)
        for key, body in UNDER_BUDGET.items()
    ],
)
def test_an_article_just_under_the_budget_builds_in_bounded_memory(
    make_site: MakeSite, tmp_path: Path, body: str
) -> None:
    root = make_site({"big.md": FRONT + body})
    code, stderr, peak = build_peak(root, tmp_path)
    assert code == 0, stderr
    assert peak < 400 * MB, f"peak {peak // MB} MB"


def test_five_megabytes_of_prose_are_within_the_budget(make_site: MakeSite, tmp_path: Path) -> None:
    """A real long article (lines wrapped at 72, a link and some emphasis in each paragraph)
    as big as the size limit allows is read and published."""
    paragraph = (
        "Words of an ordinary article, wrapped at seventy-two characters a line.\n" * 4
    ) + ("It has *emphasis*, a [link](https://example.org/) and `code` now and then.\n\n")
    body = paragraph * (4_900_000 // len(paragraph))
    root = make_site({"long.md": FRONT + body})
    code, stderr, peak = build_peak(root, tmp_path)
    assert code == 0, stderr
    assert peak < 400 * MB, f"peak {peak // MB} MB"


SETTINGS_TOO_LONG = {
    "title": ("site", "title", 300),
    "description": ("site", "description", 2000),
    "author": ("site", "author", 200),
    "url": ("site", "url", 2000),
    "language": ("site", "language", 35),
    "newsletter name": ("newsletter", "name", 300),
}


@pytest.mark.parametrize(
    ("section", "key", "limit"), SETTINGS_TOO_LONG.values(), ids=SETTINGS_TOO_LONG.keys()
)
def test_a_setting_repeated_in_every_page_has_a_small_limit(
    runner: CliRunner, make_site: MakeSite, section: str, key: str, limit: int
) -> None:
    """A 900 KB site title took 846 MB to build (327 MB with 300 articles, measured)."""
    values = {
        "url": "https://e.org/" + "a" * 900_000,
        "language": "en" + "-abc" * 225_000,
    }
    value = values.get(key, "T" * 900_000)
    settings = f'[site]\ntitle = "T"\nurl = "https://e.org/"\n[{section}]\n{key} = "{value}"\n'
    settings = settings.replace('[site]\ntitle = "T"\nurl = "https://e.org/"\n[site]\n', "[site]\n")
    if key == "title":
        settings = f'[site]\ntitle = "{value}"\nurl = "https://e.org/"\n'
    elif key == "url":
        settings = f'[site]\ntitle = "T"\nurl = "{value}"\n'
    root = make_site({"a.md": article("A")}, settings=settings)
    result = invoke(runner, root, "check")
    assert result.exit_code == 1
    assert f"[{section}] {key} is {len(value)} characters; keep it under {limit}" in result.stderr
    assert result.stderr.startswith("feedpub.toml:")


@pytest.mark.parametrize("count", [300, pytest.param(5000, marks=SLOW)])
def test_a_clean_build_is_unaffected(make_site: MakeSite, tmp_path: Path, count: int) -> None:
    """Ordinary articles: every one published, in the memory they took before (85 MB for
    5,000, measured before the budget)."""
    paragraph = "A paragraph of an ordinary article, with *some* emphasis and a [link](/x/).\n\n"
    articles = {
        f"2026-11-{1 + i % 20:02d}-story-{i}.md": article(
            f"Story {i}", body=paragraph * (5 + i % 10), tags=f"[t{i % 30}]"
        )
        for i in range(count)
    }
    root = make_site(articles)
    code, stderr, peak = build_peak(root, tmp_path)
    assert code == 0, stderr
    assert len(list((root / "public" / "2026" / "11").iterdir())) == count
    assert peak < 200 * MB, f"peak {peak // MB} MB"
