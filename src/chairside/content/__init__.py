"""Reading posts: one reader per format, all producing `Article`."""

from __future__ import annotations

from pathlib import Path

from chairside.content.article import Article, Image
from chairside.content.feed import read_feed
from chairside.content.html import HtmlReader
from chairside.content.markdown import MarkdownReader
from chairside.content.text import TextReader
from chairside.errors import ContentError

READERS = (TextReader(), MarkdownReader(), HtmlReader())
POST_EXTENSIONS = tuple(ext for reader in READERS for ext in reader.file_extensions)


def read_post(path: Path, *, base_url: str | None = None) -> Article:
    """Read one post file with the reader for its extension (`base_url`: see `BaseReader`)."""
    suffix = path.suffix.lower()
    for reader in READERS:
        if suffix in reader.file_extensions:
            return reader.read(path, base_url=base_url)
    raise ContentError(
        f"{path}: Chairside cannot read '{suffix or 'extension-less'}' files. "
        f"Save the post as one of: {', '.join(POST_EXTENSIONS)}."
    )


__all__ = ["POST_EXTENSIONS", "READERS", "Article", "Image", "read_feed", "read_post"]
