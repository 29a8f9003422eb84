"""``feedpub init`` and ``feedpub new``: starting a site and starting an article."""

from __future__ import annotations

import uuid
from dataclasses import fields
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from feedpub.config import CONFIG_NAME, PLACEHOLDER_URL, SECTIONS, STATE_DIR, Site, setting_key
from feedpub.errors import SiteError
from feedpub.text import slugify

WELCOME = """\
Welcome to your new site. This article lives in `content/`; edit it, or delete it once you
have written your own with `feedpub new "A title"`.

Run `feedpub build` to publish: the feeds and the web archive appear in `public/`.
"""


def _toml_value(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, tuple):
        return "[" + ", ".join(_toml_value(item) for item in value) + "]"
    text = str(value).replace("\\", "\\\\").replace('"', '\\"')
    return f'"{text}"'


# Above a setting's own comment, where its default needs more words than the settings table
# gives it: a new editor's first question about the generated file.
EXPLAINED = {
    ("smtp", "host"): [
        "# An empty host means no relay: no mail leaves the machine; every message (issues,",
        "# confirmations, test copies) is written to .feedpub/outbox/ instead, to look at.",
    ],
}


def checked_setting(section: str, key: str, value: str) -> str:
    """``value`` as feedpub.toml's [section] key takes it, or ValueError saying what is wrong
    (init's options are checked as the settings are)."""
    spec = next(f for f in fields(SECTIONS[section]) if setting_key(f) == key)
    check = spec.metadata.get("check")
    return str(check(value)) if check is not None else value


def settings_text(title: str, url: str | None = None, timezone: str | None = None) -> str:
    """A feedpub.toml with every setting present, each with a comment saying what it does;
    ``url`` and ``timezone`` (checked with checked_setting) for [site], if given."""
    chosen: dict[tuple[str, str], object] = {
        ("site", "title"): title,
        ("site", "url"): url or PLACEHOLDER_URL,
        # A new site sends nothing until its editor picks a schedule.
        ("newsletter", "schedule"): "manual",
    }
    if timezone:
        chosen["site", "timezone"] = timezone
    lines = [
        "# feedpub site settings. Every setting is shown with its default; values can also",
        "# come from environment variables named FEEDPUB_<SECTION>_<KEY>, e.g. FEEDPUB_SITE_URL.",
    ]
    for section, kind in SECTIONS.items():
        lines += ["", f"[{section}]"]
        for spec in fields(kind):
            key = setting_key(spec)
            lines.extend(EXPLAINED.get((section, key), []))
            lines.append(f"# {spec.metadata['doc']}")
            value = chosen.get((section, key), spec.default)
            # A table setting ([newsletter] topics) starts empty, as an inline table.
            shown = "{}" if spec.metadata.get("table") and not value else _toml_value(value)
            lines.append(f"{key} = {shown}")
    return "\n".join(lines) + "\n"


def front_matter(values: dict[str, object]) -> str:
    import yaml  # here: `feedpub build` never writes front matter

    dumped = yaml.safe_dump(values, allow_unicode=True, sort_keys=False, width=1000)
    return f"---\n{dumped}---\n"


def init(
    folder: Path, now: datetime, url: str | None = None, timezone: str | None = None
) -> list[Path]:
    """Create a new site in ``folder``; refuse if a site is already there. ``url`` and
    ``timezone``: [site] url and timezone, checked (checked_setting) by the caller.

    The welcome article is dated ``now`` in ``timezone`` (UTC when not given) with its offset
    written out, so that it stays published whatever timezone the editor sets afterwards: a
    date without one would take the new zone, and lie hours in the future west of UTC."""
    config = folder / CONFIG_NAME
    if config.exists():
        raise SiteError(f"{config} already exists; refusing to overwrite a site")
    if (folder / "content").exists() and any((folder / "content").iterdir()):
        raise SiteError(f"{folder / 'content'} already holds files; refusing to overwrite them")
    if folder.exists() and not folder.is_dir():
        raise SiteError(f"{folder} exists and is not a folder")
    try:
        (folder / "content").mkdir(parents=True, exist_ok=True)
        title = folder.resolve().name.replace("-", " ").replace("_", " ").title() or "My site"
        local = now.astimezone(ZoneInfo(timezone or "UTC")).replace(second=0, microsecond=0)
        welcome = folder / "content" / f"{local:%Y-%m-%d}-welcome.md"
        meta: dict[str, object] = {
            "title": "Welcome",
            "date": local.isoformat(sep=" ", timespec="minutes"),
            "id": str(uuid.uuid4()),
            "tags": ["news"],
        }
        written = [
            _create(config, settings_text(title, url, timezone)),
            _create(welcome, front_matter(meta) + "\n" + WELCOME),
            _create(folder / ".gitignore", f"/public/\n/{STATE_DIR}/\n"),
        ]
    except OSError as exc:
        raise SiteError(f"cannot create the site in {folder}: {exc.strerror}") from None
    return written


def _create(path: Path, text: str) -> Path:
    """Write a new file, never replacing one that exists."""
    with open(path, "x", encoding="utf-8") as handle:
        handle.write(text)
    return path


def new_article(
    site: Site, title: str, now: datetime, tags: tuple[str, ...] = (), author: str | None = None
) -> Path:
    """Write ``content/YYYY-MM-DD-<slug>.md`` as a draft with a fresh id; never overwrite."""
    clean = " ".join(title.split())
    if not clean:
        raise SiteError("the title is empty; give the article a title")
    if len(clean) > 500:
        raise SiteError("the title is over 500 characters; shorten it")
    slug = slugify(clean, site.site.ascii_urls) or "article"
    meta: dict[str, object] = {"title": clean, "date": now.strftime("%Y-%m-%d %H:%M")}
    if author:
        meta["author"] = author
    if tags:
        meta["tags"] = list(tags)
    meta["id"] = str(uuid.uuid4())
    # A new article waits as a draft: cron's `feedpub run` must not publish half a piece.
    meta["draft"] = True
    text = front_matter(meta) + "\nWrite here. Set `draft: false` (or remove it) to publish.\n"
    site.content_dir.mkdir(parents=True, exist_ok=True)
    for attempt in range(1, 1000):
        suffix = "" if attempt == 1 else f"-{attempt}"
        path = site.content_dir / f"{now:%Y-%m-%d}-{slug}{suffix}.md"
        try:
            return _create(path, text)
        except FileExistsError:
            continue
        except OSError as exc:
            raise SiteError(f"cannot write {path}: {exc.strerror}") from None
    raise SiteError(f"too many articles named {slug!r} today; choose another title")
