"""RSS 2.0, Atom and WordPress feeds, saved as files or fetched: one `Article` per entry.

The feed is parsed from the file's bytes, handed to feedparser as a stream: given a string
or bytes, feedparser would treat a URL as something to fetch and a path as a file to open.
Its own HTML sanitising and URL resolution are switched off because `clean_html` does both,
the same way for every format.
"""

from __future__ import annotations

import html
import io
import re
from datetime import date
from pathlib import Path
from typing import Any

from chairside.content.article import Article, DroppedUrl, Image
from chairside.content.dates import parse_date
from chairside.content.sanitize import (
    WEB_SCHEMES,
    clean_html,
    plain_text,
    read_bytes,
    safe_url,
    summarize,
    web_url,
)
from chairside.errors import ContentError, where

_QUOTE = "\"'“”″"
_CAPTION = re.compile(r"\[caption\b([^\]]*)\](.*?)\[/caption\]", re.S | re.I)
_CAPTION_ATTRIBUTE = re.compile(rf"\bcaption=[{_QUOTE}]([^{_QUOTE}]*)[{_QUOTE}]", re.I)
_CAPTIONED_IMAGE = re.compile(
    r"^\s*((?:<a\b[^>]*>\s*)?<img\b[^>]*>(?:\s*</a>)?)\s*(.*?)\s*$", re.S | re.I
)
_EMBED = re.compile(r"\[embed\b[^\]]*\]\s*(https?://[^\s\[<]+)\s*\[/embed\]", re.I)
_SHORTCODE = re.compile(r"\[(/?)([a-zA-Z][\w-]*)([^\[\]]*)\]")
_BARE_SHORTCODES = {"gallery", "embed", "audio", "video", "playlist", "caption"}
# Yoast and WordPress append this to every entry; it is about the blog, not the post.
_APPEARED_FIRST = re.compile(
    r"<p>\s*The post\s+<a\b[^>]*>.*?</a>\s+appeared first on\s+<a\b[^>]*>.*?</a>\.?\s*</p>\s*$",
    re.S | re.I,
)
_LEFTOVER_ENTITY = re.compile(r"&(?:#\d+|#x[0-9a-f]+|[a-z]+);", re.I)
_TRUNCATED = ("[…]", "[...]", "[&hellip;]", "…", "...")


def read_feed(path: Path, *, since: date | None = None) -> list[Article]:
    """The feed file's entries as Articles, in feed order.

    `since` keeps entries published on or after that day (entries without a date are
    kept). Each Article's `source` is `"<path>#<n>"`, n counting entries from 1 in the file.
    Raises `ContentError` for a missing or empty file, or one that is not an RSS/Atom feed.
    """
    return parse_feed(read_bytes(path), label=str(path), since=since)


def parse_feed(
    data: bytes, *, label: str, since: date | None = None, base_url: str | None = None
) -> list[Article]:
    """The entries of a feed given as bytes (`label`: its file or address, for messages and
    each Article's `source`). Relative links resolve against each entry's link, else the
    feed's own link, else `base_url` (the address the feed was fetched from)."""
    import feedparser  # ~30 ms with its HTTP client: only when a feed is read

    parsed = feedparser.parse(io.BytesIO(data), sanitize_html=False, resolve_relative_uris=False)
    fetched = "://" in label
    again = (
        "Check that the address is the blog's feed (often /feed or /rss), not a web page."
        if fetched
        else "Save the feed's address again (open it in a browser, then File → Save As)."
    )
    if not parsed.entries and parsed.get("bozo"):
        error = parsed.get("bozo_exception")
        line = error.getLineNumber() if hasattr(error, "getLineNumber") else None
        reason = error.getMessage() if hasattr(error, "getMessage") else str(error)
        raise ContentError(
            f"{where(label, line)}: is not a readable RSS or Atom feed ({reason}). {again}"
        )
    if not parsed.get("version"):
        raise ContentError(f"{label}: is not an RSS or Atom feed. {again}")
    feed_link = web_url(parsed.feed.get("link")) or web_url(base_url)
    articles = []
    for number, entry in enumerate(parsed.entries, start=1):
        published = _entry_date(entry)
        if since and published and published < since:
            continue
        articles.append(_article(entry, f"{label}#{number}", published, feed_link))
    return articles


def _article(entry: Any, source: str, published: date | None, feed_link: str | None) -> Article:
    dropped: list[DroppedUrl] = []
    link = safe_url(
        entry.get("link"), base=feed_link, schemes=WEB_SCHEMES, where="feed link", dropped=dropped
    )
    content = _entry_html(entry.get("content") or [])
    summary_html = _entry_html([entry["summary_detail"]] if entry.get("summary_detail") else [])
    body_html, images = clean_html(
        _unwrap(content or summary_html), base_url=link or feed_link, dropped=dropped
    )
    summary = summarize(body_html)
    excerpt = plain_text(_unwrap(summary_html)) if content and summary_html else ""
    if excerpt and not excerpt.endswith(_TRUNCATED) and excerpt not in plain_text(body_html):
        summary = summarize(excerpt)  # an excerpt its author wrote beats the first lines
    title = _title(entry) or summarize(body_html, limit=80) or "Untitled"
    author = (entry.get("author_detail") or {}).get("name") or entry.get("author")
    terms = (tag.get("term") or tag.get("label") or "" for tag in entry.get("tags") or [])
    return Article(
        title=title,
        body_html=body_html,
        source=source,
        url=link,
        date=published,
        author=author.strip() if author and author.strip() else None,
        summary=summary,
        image=_lead_image(entry, link or feed_link, dropped),
        images=images,
        keywords=tuple(dict.fromkeys(t.strip() for t in terms if t.strip())),
        dropped_urls=tuple(dropped),
    )


def _entry_date(entry: Any) -> date | None:
    # The written date first: feedparser's *_parsed values are in UTC and can move an
    # evening post to the next day.
    for key in ("published", "updated", "created"):
        found = parse_date(entry.get(key)) or parse_date(entry.get(f"{key}_parsed"))
        if found:
            return found
    return None


def _entry_html(details: list[Any]) -> str:
    """HTML of the best of an entry's content/summary parts ('' if none)."""
    if not details:
        return ""
    detail = next((d for d in details if "html" in (d.get("type") or "")), details[0])
    value = detail.get("value") or ""
    if "html" in (detail.get("type") or "text/html"):
        return value
    paragraphs = (p.strip() for p in re.split(r"\n\s*\n", value))
    return "".join(f"<p>{html.escape(p)}</p>" for p in paragraphs if p)


def _unwrap(text: str) -> str:
    """WordPress shortcodes: [caption] becomes a <figure>, the others go."""
    text = _CAPTION.sub(_figure, text)
    text = _EMBED.sub(r'<a href="\1">\1</a>', text)  # a video link beats a bare address

    def strip(match: re.Match[str]) -> str:
        closing, name, attributes = match.groups()
        named = name.lower() in _BARE_SHORTCODES or f"[/{name}]" in text
        return "" if closing or "=" in attributes or named else match.group()

    return _APPEARED_FIRST.sub("", _SHORTCODE.sub(strip, text))


def _figure(match: re.Match[str]) -> str:
    attributes, inner = match.groups()
    found = _CAPTIONED_IMAGE.match(inner)
    if not found:
        return inner
    image, caption = found.groups()
    if not caption:
        attribute = _CAPTION_ATTRIBUTE.search(attributes)
        caption = attribute.group(1) if attribute else ""
    caption_html = f"<figcaption>{caption}</figcaption>" if caption else ""
    return f"<figure>{image}{caption_html}</figure>"


def _title(entry: Any) -> str:
    title = entry.get("title") or ""
    if "html" in ((entry.get("title_detail") or {}).get("type") or ""):
        title = plain_text(title)
    if _LEFTOVER_ENTITY.search(title):
        title = html.unescape(title)  # double-escaped by the blog ("&amp;#8217;")
    return " ".join(title.split())


def _lead_image(entry: Any, base: str | None, dropped: list[DroppedUrl]) -> Image | None:
    """The first usable thumbnail, image media or image enclosure; unsafe ones reported."""
    candidates = [("media thumbnail", m.get("url")) for m in entry.get("media_thumbnail") or []]
    candidates += [
        ("media content", m.get("url"))
        for m in entry.get("media_content") or []
        if m.get("medium") == "image" or (m.get("type") or "").startswith("image/")
    ]
    candidates += [
        ("enclosure", e.get("href"))
        for e in entry.get("enclosures") or []
        if e.get("type", "").startswith("image/")
    ]
    found = None
    for holder, url in candidates:
        src = safe_url(url, base=base, schemes=WEB_SCHEMES, where=holder, dropped=dropped)
        found = found or src
    return Image(found) if found else None
