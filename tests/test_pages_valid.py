"""Every page feedpub puts on the web is valid HTML and meets WCAG 2.2 AA, as the checkers see it.

The pages are those of the example site and of a hostile corpus (markup, ``]]>``, quotes,
right-to-left overrides, astral characters, words longer than any screen, an empty summary, an
image, issues with and without an editor's note), each one's issues list and issues' web
versions, and the unsubscribe page in every state the web app shows.

Two real checkers run over them: the Nu HTML checker (``vnu.jar``, run once over every page
with Java) and axe-core (in headless Chromium: one start loads every page in turn into a frame
of the same origin, runs axe in it and writes the results into the page for ``--dump-dom``).
Both come from npm (tests/browser/package.json); nothing is downloaded here. A page that each
checker must reject is checked with the rest, so a checker that silently checks nothing fails.
"""

from __future__ import annotations

import io
import json
import re
import shutil
import sqlite3
import subprocess
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from wsgiref.util import setup_testing_defaults

import pytest
from golden_site import example_issue
from helpers import (
    NOW,
    REPO,
    SETTINGS,
    SITE_URL,
    article,
    chromium_result,
    load,
    write_articles,
)

from feedpub.config import Site
from feedpub.delivery import tokens
from feedpub.delivery.messages import list_id
from feedpub.delivery.subscribers import Subscribers, normalize
from feedpub.delivery.tokens import load_secret, make_token
from feedpub.delivery.web import UnsubscribeApp, WebApp
from feedpub.newsletter import issues
from feedpub.site.build import build, load_catalog
from feedpub.site.form import snippet
from feedpub.store.state import State

BROWSER = REPO / "tests" / "browser"
VNU = BROWSER / "node_modules" / "vnu-jar" / "build" / "dist" / "vnu.jar"
AXE = BROWSER / "node_modules" / "axe-core" / "axe.min.js"
INSTALL = (
    "install the checkers as the README's test command does: "
    "sudo apt-get install -y default-jre-headless && "
    "npm ci --prefix tests/browser --ignore-scripts --no-audit --no-fund"
)
# axe-core's rules for WCAG 2.0, 2.1 and 2.2, levels A and AA.
WCAG_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"]

# What the Nu checker may say and why; anything else it says (error, warning or note) fails.
ACCEPTED_NU = {
    # cmarkgfm writes void elements XHTML-style (<img ... />) in article bodies. HTML allows
    # the slash; the checker notes it (a note, not a warning) because it would be misread
    # after an unquoted attribute value, which feedpub never writes.
    "Trailing slash on void elements has no effect and interacts badly with unquoted "
    "attribute values.": "article bodies",
}


# -- the sites -----------------------------------------------------------------------------------

RLO = "\u202e"  # RIGHT-TO-LEFT OVERRIDE, never closed
LONG = "Donaudampfschifffahrtsgesellschaftskapitän" * 6  # one word, 252 letters
HOSTILE: dict[str, str | bytes] = {
    "markup.md": article(
        'Use <details> & "quotes" for FAQs',
        "2026-11-02 09:00",
        body="Write `<details>` & <b>bold</b> text.",
        summary="\"'<script>alert(1)</script>' &amp; ]]> done\"",
        tags='["c++", "<b>", "a&b", "\\"quoted\\""]',
        author='"O\'Brien & <Sons>"',
        # A picture its body does not show: on its page as a figure, with this alt text.
        image="/images/square.png",
        image_alt="'A red \"<square>\" & more \u202e'",
    ),
    "cdata.md": article(
        "]]> ends CDATA",
        "2026-11-03 09:00",
        body="Text with ]]> inside.",
        tags=f'["t{RLO}ag", "]]>"]',
        author=f"Ann {RLO}Bee",
    ),
    "astral.md": article(
        "Unicorns \U0001f984 \U0001d54f \U0002070e",
        "2026-11-04 09:00",
        body="Emoji \U0001f984 and \U0001d54f math and \U0002070e in the body.",
        tags='["\U0001f984", "Zoë"]',
        author="Zoë \U0001d54f",
    ),
    "long.md": article(
        LONG,
        "2026-11-05 09:00",
        body=(
            f"{LONG} {LONG}\n\n<https://news.example.org/{LONG}/{LONG}>\n\n"
            f"```\n{'x = 1; ' * 60}\n```\n\n"  # a line of code wider than the page
            # A table of long words, wider than the column unless its cells wrap.
            + "| "
            + " | ".join(f"column {i}" for i in range(8))
            + " |\n"
            + "|---" * 8
            + "|\n"
            + "| "
            + " | ".join(LONG[:60] for i in range(8))
            + " |\n"
        ),
        summary=LONG,
        tags=f'["{LONG[:190]}"]',
    ),
    # No summary and nothing to make one of.
    "empty.md": article("Nothing to say", "2026-11-07 09:00", body=""),
    "rtl.md": article(
        f"Fix {RLO}this",
        "2026-11-06 09:00",
        body="שלום عربي mixed text.",
        tags='["עברית"]',
        authors='["Ann", "ana", "Ana"]',
    ),
    "image.md": article(
        "An image",
        "2026-11-24 09:00",
        body="Before.\n\n![A red square](/images/square.png)\n\nAfter.",
        image="/images/square.png",
        tags='["news"]',
    ),
    "slash.md": article("Ends in a backslash \\\\", "2026-11-25 09:00", body="Body `code`."),
}
NEWSLETTER = """
[newsletter]
name = "Letters & <Notes> \u202eweekly"
from = "Desk <desk@example.org>"
schedule = "manual"
"""
# The sign-up box on every page, with topics whose names markup and an override would break.
SIGNUP_BOX = """topics = { "News & <b>" = ["news"], "\u202eZoë \\"q\\"" = ["Zoë"] }

[web]
url = "https://web.example.org/"
"""
NOTE = (
    "A note from the **editor** &amp; friends: see [the archive](/archive/) and "
    "[an article](https://news.example.org/2026/11/an-image/). \U0001f984"
)
FEEDS = """
[feeds]
limit = 3
"""
# A 1x1 red PNG, for the article with an image.
PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010802000000907753de0000000c4944415408d7"
    "63f8cfc000000301010018dd8db00000000049454e44ae426082"
)
# The unsubscribe page's states, and how a request reaches each.
UNSUBSCRIBE = ("confirm", "done", "busy", "invalid", "missing")


def issue(site: Site, when: datetime, note: str = "") -> None:
    with State.open(site.state_dir) as state:
        assert issues.create(site, state, load_catalog(site, state, when), when, note)


def hostile_site(root: Path, url: str, language: str = "en") -> Site:
    """The hostile corpus, its two issues (the first with a note), built; in ``language``'s
    words (the translations' markup is checked too)."""
    (root / "content").mkdir(parents=True)
    (root / "static" / "images").mkdir(parents=True)
    (root / "static" / "images" / "square.png").write_bytes(PNG)
    settings = SETTINGS.replace(SITE_URL, url).replace('"Test Gazette"', f'"Gazette {RLO}evil"')
    settings = settings.replace('language = "en"', f'language = "{language}"')
    # Three cards to a page: the home page and Desk's list have a page/2/ and 3/.
    settings += "per_page = 3\n"
    (root / "feedpub.toml").write_text(settings + NEWSLETTER + SIGNUP_BOX + FEEDS, encoding="utf-8")
    early = {name: text for name, text in HOSTILE.items() if name not in ("image.md", "slash.md")}
    write_articles(root, early)
    site = load(root)
    issue(site, NOW.replace(day=20), NOTE)
    write_articles(root, HOSTILE)
    issue(site, NOW)
    build(site, NOW, False)
    return site


# A site with colours of its own: a warm background the text is derived for, an accent that
# reads on it, the sans font, a logo; its dark mode derived from the accent.
THEME = """
[theme]
accent = "#a3336b"
background = "#fdf3e1"
font = "sans"
logo = "images/logo.png"
"""


def themed_site(root: Path, url: str) -> Site:
    """Two articles under [theme]'s colours and logo, with a generated favicon."""
    (root / "static" / "images").mkdir(parents=True)
    (root / "static" / "images" / "logo.png").write_bytes(PNG)
    (root / "content").mkdir(parents=True)
    settings = SETTINGS.replace(SITE_URL, url) + THEME
    (root / "feedpub.toml").write_text(settings, encoding="utf-8")
    write_articles(
        root,
        {
            "a.md": article("Colours", tags="[art]", body="A [link](https://example.org/) here."),
            "b.md": article("Second", date="2026-11-21 09:00", authors="[Ann]"),
        },
    )
    site = load(root)
    assert not site.warnings, site.warnings
    build(site, NOW, False)
    return site


def empty_site(root: Path, url: str) -> Site:
    """A site with nothing published: every list says so."""
    (root / "content").mkdir(parents=True)
    (root / "feedpub.toml").write_text(SETTINGS.replace(SITE_URL, url), encoding="utf-8")
    site = load(root)
    build(site, NOW, False)
    return site


def wsgi(app: UnsubscribeApp, method: str, path: str, query: str = "") -> tuple[int, bytes]:
    environ: dict[str, Any] = {
        "REQUEST_METHOD": method,
        "PATH_INFO": path,
        "QUERY_STRING": query,
        "wsgi.input": io.BytesIO(b""),
        "CONTENT_LENGTH": "0",
        "CONTENT_TYPE": "application/x-www-form-urlencoded",
    }
    setup_testing_defaults(environ)
    statuses: list[str] = []
    body = b"".join(app(environ, lambda status, headers, *rest: statuses.append(status)))
    return int(statuses[0].split()[0]), body


def unsubscribe_pages(site: Site) -> dict[str, bytes]:
    """The web app's page in each state, as the app serves it."""
    with State.open(site.state_dir) as state, state.transaction():
        Subscribers(state).add("ann@example.org", "Ann", NOW)
    token = make_token(load_secret(site.state_dir), list_id(site), normalize("ann@example.org")[1])
    query = f"t={token}"
    app = UnsubscribeApp(site, clock=lambda: NOW, busy_timeout=0.01)
    answers = {"confirm": wsgi(app, "GET", "/unsubscribe", query)}
    # Another process holds the state's write lock: the app answers 503 and shows the button.
    holder = sqlite3.connect(site.state_dir / "state.db", isolation_level=None)
    try:
        holder.execute("BEGIN IMMEDIATE")
        answers["busy"] = wsgi(app, "POST", "/unsubscribe", query)
    finally:
        holder.close()
    answers["done"] = wsgi(app, "POST", "/unsubscribe", query)
    answers["invalid"] = wsgi(app, "GET", "/unsubscribe", "t=forged")
    answers["missing"] = wsgi(app, "GET", "/elsewhere")
    expected = {"confirm": 200, "busy": 503, "done": 200, "invalid": 400, "missing": 404}
    assert {name: code for name, (code, _) in answers.items()} == expected
    return {name: body for name, (_, body) in answers.items()}


SIGNUP = """
[newsletter]
name = "Ledger Weekly"
from = "Desk <desk@example.org>"
schedule = "manual"
topics = { Sports = ["sports"], "Arts & <Letters>" = ["arts"] }

[web]
url = "https://news.example.org/"
"""


def signup_pages(root: Path, language: str = "en") -> dict[str, bytes]:
    """The sign-up, confirmation and manage pages and the message pages, in their states."""
    from werkzeug.test import Client

    (root / "content").mkdir(parents=True)
    settings = SETTINGS.replace('language = "en"', f'language = "{language}"')
    (root / "feedpub.toml").write_text(settings + SIGNUP, encoding="utf-8")
    site = load(root)
    client = Client(WebApp(site, clock=lambda: NOW))
    form = {"email": "ann@example.org", "name": "Ann", "topics": "Sports"}
    pages = {
        "subscribe": client.get("/subscribe"),
        "subscribe-error": client.post("/subscribe", data={"email": "not an address"}),
        "subscribe-sent": client.post("/subscribe", data=form),
    }
    secret = load_secret(site.state_dir)
    with State.open(site.state_dir) as state:
        ann = state.subscribers.find("ann@example.org")
    assert ann is not None

    def token(purpose: str, expires: datetime | None = None) -> str:
        return tokens.make(secret, list_id(site), purpose, ann.token_key, expires)

    later = NOW + timedelta(days=3)
    pages["confirm"] = client.get("/confirm", query_string={"t": token("c", later)})
    pages["confirm-expired"] = client.get(
        "/confirm", query_string={"t": token("c", NOW - timedelta(days=1))}
    )
    pages["confirm-done"] = client.post("/confirm", data={"t": token("c", later)})
    pages["confirm-resent"] = client.post(
        "/confirm", data={"t": token("c", later), "action": "resend"}
    )
    manage = token("m")
    pages["manage"] = client.get("/manage", query_string={"t": manage})
    pages["manage-saved"] = client.post(
        "/manage", data={"t": manage, "action": "pause", "until": "2026-12-24"}
    )
    pages["manage-error"] = client.post(
        "/manage", data={"t": manage, "action": "pause", "until": "never"}
    )
    pages["manage-unsubscribed"] = client.post(
        "/manage", data={"t": manage, "action": "unsubscribe"}
    )
    pages["invalid"] = client.get("/manage", query_string={"t": "forged"})
    pages["missing"] = client.get("/elsewhere")
    pages["forgotten"] = client.post(
        "/manage", data={"t": manage, "action": "forget", "sure": "yes"}
    )
    assert {name: response.status_code for name, response in pages.items()} == {
        "subscribe": 200,
        "subscribe-error": 400,
        "subscribe-sent": 200,
        "confirm": 200,
        "confirm-expired": 400,
        "confirm-done": 200,
        "confirm-resent": 200,
        "manage": 200,
        "manage-saved": 200,
        "manage-error": 400,
        "manage-unsubscribed": 200,
        "invalid": 400,
        "missing": 404,
        "forgotten": 200,
    }
    return {name: response.get_data() for name, response in pages.items()}


# What `feedpub subscribe-form` prints, in a page of another site's.
EMBEDDED_FORM = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>Another site</title>
<meta name="viewport" content="width=device-width, initial-scale=1"></head>
<body><main><h1>Another site</h1>
{form}</main></body></html>
"""


# Pages each checker must reject: proof that it checked something.
BAD_HTML = (
    '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>bad</title></head>'
    '<body><p><time datetime="2026-11-20T09:00:00.123456+01:00">then</time></p></body></html>'
)
BAD_AXE = (
    '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>bad</title></head>'
    '<body><main><h1>Bad</h1><img src="/nothing.png">'
    '<p style="width:500px">Wider than a phone.</p></main></body></html>'
)


@dataclass(frozen=True)
class Served:
    base: str  # http://127.0.0.1:PORT/
    folder: Path
    pages: tuple[str, ...]  # every page, as paths under folder (canaries left out)


class QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """Both sites' pages and the unsubscribe pages, served from one origin on 127.0.0.1:
    example/ (issue 1 included), hostile/ (its own URL, so its image loads), empty/ (nothing
    published) and unsubscribe/."""
    folder = tmp_path_factory.mktemp("served")
    server = ThreadingHTTPServer(("127.0.0.1", 0), partial(QuietHandler, directory=str(folder)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{server.server_address[1]}/"
    try:
        work = tmp_path_factory.mktemp("sites")
        example, _ = example_issue(work / "example")
        shutil.copytree(example.output_dir, folder / "example")
        hostile = hostile_site(work / "hostile", base + "hostile/")
        shutil.copytree(hostile.output_dir, folder / "hostile")
        empty = empty_site(work / "empty", base + "empty/")
        shutil.copytree(empty.output_dir, folder / "empty")
        themed = themed_site(work / "themed", base + "themed/")
        shutil.copytree(themed.output_dir, folder / "themed")
        (folder / "unsubscribe").mkdir()
        for state, body in unsubscribe_pages(hostile).items():
            (folder / "unsubscribe" / f"{state}.html").write_bytes(body)
        (folder / "signup").mkdir()
        for state, body in signup_pages(work / "signup").items():
            (folder / "signup" / f"{state}.html").write_bytes(body)
        # The same pages in the other languages' words: French and Portuguese pages, German
        # and Spanish web app pages.
        for language, other in (("fr", "de"), ("pt", "es")):
            translated = hostile_site(
                work / f"hostile-{language}", base + f"hostile-{language}/", language
            )
            shutil.copytree(translated.output_dir, folder / f"hostile-{language}")
            (folder / f"signup-{other}").mkdir()
            for state, body in signup_pages(work / f"signup-{other}", other).items():
                (folder / f"signup-{other}" / f"{state}.html").write_bytes(body)
        (folder / "form").mkdir()
        (folder / "form" / "snippet.html").write_text(
            EMBEDDED_FORM.format(form=snippet(hostile)), encoding="utf-8"
        )
        pages = tuple(sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*.html")))
        # The lists' later pages and the 404 page are checked with the rest.
        assert {"hostile/page/3/index.html", "hostile/authors/desk/page/2/index.html"} <= set(pages)
        assert {"example/404.html", "hostile/404.html", "empty/404.html"} <= set(pages)
        (folder / "canary").mkdir()
        (folder / "canary" / "nu.html").write_text(BAD_HTML, encoding="utf-8")
        (folder / "canary" / "axe.html").write_text(BAD_AXE, encoding="utf-8")
        yield Served(base, folder, pages)
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def test_the_readme_test_command_installs_the_checkers_and_ci_runs_it() -> None:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    commands = re.findall(r"```sh\n(.*?)\n```", readme, re.S)
    [command] = [c for c in commands if "pytest" in c]
    assert "default-jre-headless" in command
    assert "npm ci --prefix tests/browser" in command
    assert command in (REPO / ".ci" / "run").read_text(encoding="utf-8").splitlines()


# -- the Nu HTML checker -----------------------------------------------------------------------


def installed(path: Path) -> Path:
    if not path.is_file():
        pytest.fail(f"{path.relative_to(REPO)} is missing: {INSTALL}", pytrace=False)
    return path


def java() -> str:
    found = shutil.which("java")
    if found is None:
        pytest.fail(f"java is not installed (the Nu checker runs on it): {INSTALL}", pytrace=False)
    return found


def test_every_page_passes_the_nu_html_checker(served: Served) -> None:
    files = [served.folder / page for page in (*served.pages, "canary/nu.html")]
    done = subprocess.run(
        [
            java(),
            "-jar",
            str(installed(VNU)),
            "--format",
            "json",
            "--stdout",
            "--exit-zero-always",
            *map(str, files),
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    found: dict[str, list[str]] = {}
    for message in json.loads(done.stdout)["messages"]:
        page = Path(message["url"].removeprefix("file:")).relative_to(served.folder).as_posix()
        kind = message.get("subType", message["type"])
        if page != "canary/nu.html" and message["message"] in ACCEPTED_NU:
            continue
        extract = message.get("extract", "").replace("\n", " ")
        found.setdefault(page, []).append(
            f"{kind} at line {message.get('lastLine')}: {message['message']}\n      {extract!r}"
        )
    canary = found.pop("canary/nu.html", [])
    assert any("datetime" in line for line in canary), "the Nu checker found nothing in a bad page"
    report = "\n".join(f"{page}:\n  " + "\n  ".join(lines) for page, lines in found.items())
    assert not found, f"the Nu HTML checker's findings:\n{report}"


# -- axe-core ------------------------------------------------------------------------------------

# The page that runs axe: it loads each page into a frame (same origin, so the script can reach
# into it), adds axe-core to that page, runs it on the page's document as a whole, and writes
# every result into <pre id="result"> when the last page is done.
HARNESS = """\
<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>axe</title></head>
<body>
<iframe id="page" title="page under test" style="width:1024px; height:800px; border:0"></iframe>
<pre id="result">not run</pre>
<script id="pages" type="application/json">{pages}</script>
<script>
var pages = JSON.parse(document.getElementById("pages").textContent), results = [], at = 0;
var frame = document.getElementById("page");
function slim(list) {{
  return list.map(function (rule) {{
    return {{id: rule.id, impact: rule.impact, help: rule.help, nodes: rule.nodes.map(
      function (node) {{
        return {{target: node.target.join(" "), html: node.html.slice(0, 160),
                summary: (node.failureSummary || "").replace(/\\s+/g, " ").slice(0, 300)}};
      }})}};
  }});
}}
// WCAG 1.4.10 (Reflow), which axe cannot judge: at 320 CSS pixels nothing sticks out of the
// page but a data table (which the criterion exempts: it needs both dimensions). What sticks
// out is named; the frame goes back to its width after.
function reflow(doc) {{
  frame.style.width = "320px";
  var width = doc.documentElement.clientWidth, out = [];
  doc.querySelectorAll("body *").forEach(function (el) {{
    var box = el.getBoundingClientRect();
    if (box.width > 0 && box.right > width + 0.5 && !el.closest("table") && out.length < 10) {{
      out.push("at 320 px, " + el.tagName.toLowerCase() + " reaches " + Math.round(box.right)
        + " px: " + el.outerHTML.slice(0, 100).replace(/\\s+/g, " "));
    }}
  }});
  frame.style.width = "1024px";
  return out;
}}
function next() {{
  if (at >= pages.length) {{
    document.getElementById("result").textContent = JSON.stringify(results);
  }} else {{
    frame.src = pages[at];
  }}
}}
frame.addEventListener("load", function () {{
  var doc = frame.contentDocument, script = doc.createElement("script");
  script.src = "/axe.min.js";
  script.onload = function () {{
    var options = {{runOnly: {{type: "tag", values: {tags}}},
                   resultTypes: ["violations", "incomplete"]}};
    frame.contentWindow.axe.run(doc, options).then(function (found) {{
      results.push({{page: pages[at], violations: slim(found.violations),
                    incomplete: slim(found.incomplete), overflow: reflow(doc)}});
    }}, function (error) {{
      results.push({{page: pages[at], error: String(error)}});
    }}).then(function () {{ at += 1; next(); }});
  }};
  doc.head.appendChild(script);
}});
next();
</script>
</body></html>
"""


def run_axe(served: Served, pages: list[str], dark: bool, profile: Path) -> list[dict[str, Any]]:
    shutil.copyfile(installed(AXE), served.folder / "axe.min.js")
    name = f"axe-{'dark' if dark else 'light'}.html"
    (served.folder / name).write_text(
        HARNESS.format(pages=json.dumps(["/" + p for p in pages]), tags=json.dumps(WCAG_TAGS)),
        encoding="utf-8",
    )
    # Virtual time runs on while pages load and axe works, and stops the run if it hangs.
    result = chromium_result(
        served.base + name, profile, window="1100,900", budget_ms=600000, dark=dark
    )
    assert result != "not run", "axe never finished"
    results: list[dict[str, Any]] = json.loads(result)
    assert [r["page"] for r in results] == ["/" + p for p in pages]
    return results


def findings(result: dict[str, Any]) -> list[str]:
    """What axe says of one page: each rule, and each element it names, and what sticks out."""
    if "error" in result:
        return [f"axe failed: {result['error']}"]
    lines = [f"reflow: {line}" for line in result["overflow"]]
    for kind in ("violations", "incomplete"):
        for rule in result[kind]:
            lines.append(
                f"{kind[:-1] if kind == 'violations' else 'needs review'}: "
                f"{rule['id']} ({rule['impact']}): {rule['help']}"
            )
            lines += [
                f"    {node['target']}: {node['html']!r}\n      {node['summary']}"
                for node in rule["nodes"]
            ]
    return lines


# The kinds of page, by path under the served folder: each template, and each state of the
# unsubscribe page.
KINDS = {
    "home": r"[^/]+/index\.html",
    "archive": r"[^/]+/archive/index\.html",
    "tags": r"[^/]+/tags/index\.html",
    "authors": r"[^/]+/authors/index\.html",
    "tag": r"[^/]+/tags/[^/]+/index\.html",
    "author": r"[^/]+/authors/[^/]+/index\.html",
    "article": r"[^/]+/\d{4}/\d\d/[^/]+/index\.html",
    "issues": r"[^/]+/issues/index\.html",
    "issue": r"[^/]+/issues/\d+/index\.html",
    **{f"unsubscribe {state}": rf"unsubscribe/{state}\.html" for state in UNSUBSCRIBE},
    "form snippet": r"form/snippet\.html",
}


def one_of_each_kind(pages: tuple[str, ...]) -> list[str]:
    """The first page of each kind, of each site."""
    chosen: dict[tuple[str, str], str] = {}
    for page in pages:
        for kind, pattern in KINDS.items():
            if re.fullmatch(pattern, page):
                chosen.setdefault((page.split("/")[0], kind), page)
    return sorted(chosen.values())


def test_every_kind_of_page_is_checked(served: Served) -> None:
    kinds = {
        (page.split("/")[0], kind)
        for page in served.pages
        for kind, pattern in KINDS.items()
        if re.fullmatch(pattern, page)
    }
    sites = {"example", "hostile"}
    assert kinds >= {(site, kind) for site in sites for kind in KINDS if " " not in kind}
    assert {(kind.split()[0], kind) for kind in KINDS if " " in kind} <= kinds
    # The hostile site's pages carry the sign-up box ([web] url is set), the others none.
    assert '<aside class="signup"' in (served.folder / "hostile" / "index.html").read_text()
    assert "signup" not in (served.folder / "example" / "index.html").read_text()
    assert "hostile/issues/2/index.html" in served.pages  # the issue without a note
    lists = ("index", "archive/index", "tags/index", "authors/index")
    assert {f"empty/{name}.html" for name in lists} <= set(served.pages)


# Every page in the light scheme; in the dark one, whose colours are the same everywhere, one
# page of each kind.
@pytest.mark.parametrize("dark", [False, True], ids=["light", "dark"])
def test_every_page_passes_axe_core(served: Served, tmp_path: Path, dark: bool) -> None:
    pages = one_of_each_kind(served.pages) if dark else list(served.pages)
    results = run_axe(served, [*pages, "canary/axe.html"], dark, tmp_path / "profile")
    canary = results.pop()
    assert "image-alt" in {r["id"] for r in canary["violations"]}, "axe found nothing"
    assert canary["overflow"], "the reflow check found nothing"
    found = {r["page"]: lines for r in results if (lines := findings(r))}
    report = "\n".join(f"{page}:\n  " + "\n  ".join(lines) for page, lines in found.items())
    assert not found, f"axe-core ({', '.join(WCAG_TAGS)}) found:\n{report}"
