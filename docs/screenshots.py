"""Screenshots of the example site's first issue, as a desktop mail client and a phone show it.

    python docs/screenshots.py

builds issue 1 of the example site in a temporary copy, with the clock the golden files use
(2026-11-27 08:00 Chicago time), and has headless Chromium (Debian's `chromium`) write
docs/issue-1-desktop.png (600 pixels wide) and docs/issue-1-phone.png (375 pixels wide), each
as tall as the whole digest.

The digest's image lives at https://ledger.millbrook.example/, which does not exist. The copy's
built public/ folder is served on 127.0.0.1, and in the copy of the digest used only for the
screenshots https://ledger.millbrook.example/ is rewritten to that server's http:// address:
mapping the host name to 127.0.0.1 with --host-resolver-rules does not do, because Chromium
then speaks TLS to a plain HTTP server. Every other host name resolves to nothing.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import tempfile
import threading
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar

DOCS = Path(__file__).resolve().parent
sys.path.insert(0, str(DOCS.parent / "tests"))

from golden_site import example_issue  # noqa: E402 - found through the path set just above

SHOTS = {"issue-1-desktop.png": 600, "issue-1-phone.png": 375}
# A page that measures how tall the digest is at a width. Headless Chromium's --dump-dom will
# not make its window narrower than 500 pixels; an iframe is a viewport of its own.
MEASURE = """\
<!DOCTYPE html>
<body style="margin:0">
<iframe id="digest" src="digest.html" style="width:{width}px; height:100px; border:0"></iframe>
<pre id="height"></pre>
<script>
document.getElementById("digest").addEventListener("load", function () {{
  var root = this.contentDocument.documentElement;
  document.getElementById("height").textContent = root.scrollHeight;
}});
</script>
</body>
"""


class Handler(SimpleHTTPRequestHandler):
    """Quiet, but remembers what it did not have (the image above all)."""

    missing: ClassVar[list[str]] = []

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        if self.path != "/favicon.ico":  # Chromium asks for one on its own
            self.missing.append(f"{code} {self.path}")
        super().send_error(code, message, explain)


def chromium(profile: Path, *args: str) -> str:
    binary = shutil.which("chromium")
    if binary is None:
        sys.exit("chromium is not installed; install Debian's chromium (apt-get install chromium)")
    command = [
        binary,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--hide-scrollbars",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
        f"--user-data-dir={profile}",
        "--virtual-time-budget=5000",
        *args,
    ]
    done = subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)
    if done.returncode != 0:
        sys.exit(f"chromium failed:\n{done.stderr[-2000:]}")
    return done.stdout


def main() -> int:
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        site, record = example_issue(work / "example")
        public = site.output_dir
        server = ThreadingHTTPServer(("127.0.0.1", 0), partial(Handler, directory=str(public)))
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        try:
            base = f"http://127.0.0.1:{server.server_address[1]}/"
            html = record.html.replace(site.site.url, base)
            (public / "digest.html").write_text(html, encoding="utf-8")
            for name, width in SHOTS.items():
                page = public / f"measure-{width}.html"
                page.write_text(MEASURE.format(width=width), encoding="utf-8")
                dom = chromium(work / "profile", "--dump-dom", base + page.name)
                found = re.search(r'<pre id="height">(\d+)</pre>', dom)
                if found is None:
                    sys.exit(f"could not measure the digest at {width} pixels")
                height = int(found.group(1))
                target = DOCS / name
                chromium(
                    work / "profile",
                    f"--screenshot={target}",
                    f"--window-size={width},{height}",
                    base + "digest.html",
                )
                print(f"wrote {target.relative_to(DOCS.parent)} ({width}x{height})")
        finally:
            server.shutdown()
            server.server_close()
            thread.join()
    for miss in Handler.missing:
        print(f"warning: the digest asked for what public/ does not have: {miss}", file=sys.stderr)
    return 1 if Handler.missing else 0


if __name__ == "__main__":
    sys.exit(main())
