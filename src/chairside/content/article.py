"""The `Article`: what every reader produces and everything after reading consumes."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import date
from pathlib import Path

from chairside.urls import DroppedUrl


@dataclass(frozen=True)
class Image:
    """An image in a post. `alt` is "" for a decorative image or one nobody described."""

    src: str
    alt: str = ""


@dataclass(frozen=True)
class Article:
    """One blog post, read from any format.

    `body_html` is sanitised HTML (no scripts, styles, iframes, forms, event handlers or
    `javascript:` URLs; every `<img>` carries an `alt`; headings start at `<h3>` because the
    newsletter uses `<h1>`/`<h2>` itself). It never contains the title, nor the author's
    sign-off or bio, which have their own fields.
    """

    title: str
    body_html: str
    source: str
    """Where the post came from: a file path, or `feed.xml#3` for a feed entry."""
    url: str | None = None
    date: date | None = None
    author: str | None = None
    author_bio: str | None = None
    summary: str = ""
    """Plain text, a sentence or two, for excerpts and previews."""
    image: Image | None = None
    """The lead image (front matter `image`, `og:image`), shown above the body."""
    images: tuple[Image, ...] = field(default_factory=tuple)
    """Every image in `body_html`, in order."""
    keywords: tuple[str, ...] = ()
    """The post's own tags or categories, as written by its author; used for tagging."""
    tags: tuple[str, ...] = ()
    """The patient concerns (segment ids) the post is about; set by `content.topics`."""
    dropped_urls: tuple[DroppedUrl, ...] = ()
    """Addresses the URL policy (`sanitize.safe_url`) kept out of the email."""

    def with_tags(self, tags: tuple[str, ...]) -> Article:
        return replace(self, tags=tags)

    @property
    def source_name(self) -> str:
        return Path(self.source.split("#", 1)[0]).name
