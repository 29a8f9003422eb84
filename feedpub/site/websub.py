"""WebSub (W3C Recommendation, 2018) publishing: ``[feeds] websub_hub``.

Every feed that carries the hub link (the main, tag, author and issues feeds; not the archive
documents, which do not change) and whose bytes a build changed is owed one publish ping: the
build records it in the state in the transaction that records the build (``owe``). After the
build, ``build`` and ``run`` send what is owed (``ping``): ``POST hub.mode=publish&hub.url=<the
feed's URL>``, form-encoded, one request per feed, as the hubs in use take it (WebSub leaves
the publisher's request to the hub; this is the one they share). A ping the hub took is
forgotten; a hub that is down, slow or answers an error keeps every ping still owed for the
next build or run, and is a warning, never a failed build. The first ping it does not take
ends the round: a hub that is down is not asked thirty times in a row, each waiting for the
timeout. Nothing of this is in what the build writes: the hub link is in the feeds' bytes, the
pinging is not.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from feedpub import __version__
from feedpub.config import FEED_FILES, Site
from feedpub.links import output_url
from feedpub.site.history import ARCHIVE_FOLDER
from feedpub.store.state import State

TIMEOUT = 10.0  # seconds for the hub to answer one ping
# A hub that refused a ping this many times running is told even under -q: a cron job's
# quiet run would otherwise never say that the hub is gone for good.
TELL_QUIET_AFTER = 3
MAX_REPLY = 200  # characters of a hub's answer that a warning shows


@dataclass(frozen=True)
class PingReport:
    """What a round of pings did: the feeds the hub took, how many pings still wait, and why
    the hub did not take the first of them (None: it took them all)."""

    hub: str
    sent: tuple[str, ...]
    waiting: int
    error: str | None = None
    tries: int = 0  # how many times the hub has now refused the first ping still owed

    @property
    def warning(self) -> str | None:
        if self.error is None:
            return None
        return (
            f"the WebSub hub {self.hub} was not told of the changed feeds: {self.error}; "
            f"{self.waiting} {'ping waits' if self.waiting == 1 else 'pings wait'} for the "
            "next build or run"
            + (f" (refused {self.tries} times running)" if self.tries > 1 else "")
            + "; check [feeds] websub_hub"
        )

    @property
    def urgent(self) -> bool:
        """Whether the warning is told even under -q."""
        return self.error is not None and self.tries >= TELL_QUIET_AFTER


def feed_urls(site: Site, paths: Iterable[str]) -> list[str]:
    """The URLs of the feed documents among ``paths`` (outputs) that carry the hub link."""
    return sorted(
        output_url(site.site.url, path)
        for path in paths
        if path.split("/")[-1] in FEED_FILES and not path.startswith(ARCHIVE_FOLDER + "/")
    )


def owe(site: Site, state: State, written: Iterable[str], now: datetime) -> None:
    """Record a ping for each feed among the outputs ``written`` (their bytes changed); call
    inside the build's transaction. Nothing without a hub."""
    if site.feeds.websub_hub:
        state.pings.add(feed_urls(site, written), now.isoformat())


def ping(site: Site, state: State, timeout: float = TIMEOUT) -> PingReport | None:
    """Send the hub the pings owed (None: no hub, or none owed). Without a hub, the pings a
    site owed one that was set before are forgotten."""
    hub = site.feeds.websub_hub
    if not hub:
        if state.pings.pending():
            with state.transaction():
                state.pings.clear()
        return None
    owed = state.pings.pending()
    if not owed:
        return None
    sent: list[str] = []
    for url in owed:
        error = publish(hub, url, timeout)
        with state.transaction():
            if error is None:
                state.pings.done(url)
            else:
                tries = state.pings.failed(url, error)
        if error is not None:
            return PingReport(hub, tuple(sent), len(owed) - len(sent), error, tries)
        sent.append(url)
    return PingReport(hub, tuple(sent), 0)


def publish(hub: str, url: str, timeout: float = TIMEOUT) -> str | None:
    """Tell ``hub`` that the feed at ``url`` changed; None if it took it (a 2xx answer), else
    why not, in a few words."""
    # Here, not at the top: urllib.request brings http.client, email and ssl, which a build
    # loads only when it has a hub to tell.
    import urllib.error
    import urllib.parse
    import urllib.request
    from http import HTTPStatus
    from http.client import HTTPException, HTTPResponse

    class NoRedirects(urllib.request.HTTPRedirectHandler):
        """A hub that redirects is told nothing more: urllib would follow a POST's redirect
        as a GET without the form, to wherever it points."""

        def redirect_request(self, *args: object, **kwargs: object) -> None:
            return None

    body = urllib.parse.urlencode({"hub.mode": "publish", "hub.url": url}).encode("ascii")
    request = urllib.request.Request(
        hub,
        data=body,
        method="POST",
        headers={
            "Content-Type": "application/x-www-form-urlencoded",
            "User-Agent": f"feedpub/{__version__} (WebSub publisher)",
        },
    )
    opener = urllib.request.build_opener(NoRedirects)
    try:
        # A 2xx is all there is to know: its body is not read (a hub that drips one would
        # hold the run for a timeout per byte).
        with opener.open(request, timeout=timeout):
            return None
    except urllib.error.HTTPError as exc:
        with exc:
            try:
                # One read of what arrived: at most one timeout's wait.
                answer = exc.fp
                said = _said(answer.read1(4096) if isinstance(answer, HTTPResponse) else b"")
            except (OSError, HTTPException):  # the answer's body cut short, or too slow
                said = ""
        # The status line's phrase is the hub's to write: the standard one is shown.
        try:
            phrase = HTTPStatus(exc.code).phrase
        except ValueError:
            phrase = ""
        answered = f"it answered {exc.code} {phrase}".rstrip()
        if 300 <= exc.code < 400:
            return f"{answered} to {_said(str(exc.headers.get('Location', '')).encode())!r}"
        return answered + (f": {said}" if said else "")
    except urllib.error.URLError as exc:
        if isinstance(exc.reason, TimeoutError):
            return f"it did not answer within {timeout:g} s"
        return f"it cannot be reached ({exc.reason})"
    except TimeoutError:
        return f"it did not answer within {timeout:g} s"
    except (OSError, HTTPException, ValueError) as exc:
        return f"it cannot be reached ({type(exc).__name__}: {exc})"


def _said(data: bytes) -> str:
    """The start of a hub's answer as one line of printable text."""
    text = data.decode("utf-8", "replace")
    text = " ".join("".join(c if c.isprintable() else " " for c in text).split())
    return text[:MAX_REPLY] + ("..." if len(text) > MAX_REPLY else "")
