"""Markdown posts with YAML front matter (the Jekyll / Hugo / Pelican convention).

Front matter keys: `title`, `date`, `author`, `author_bio`, `url`, `image`, `image_alt`,
`tags` (or `categories`/`keywords`; a list or a comma-separated string) and `summary`.
The body is CommonMark with tables; raw HTML is allowed, then sanitised like any post.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import frontmatter
import yaml
from markdown_it import MarkdownIt
from markdown_it.token import Token

from chairside.content.article import Article, DroppedUrl, Image
from chairside.content.base import BaseReader
from chairside.content.dates import parse_date
from chairside.content.sanitize import (
    WEB_SCHEMES,
    clean_html,
    read_text,
    safe_url,
    summarize,
    title_from_filename,
)
from chairside.content.text import is_headline
from chairside.errors import ContentError, where

_MARKDOWN = MarkdownIt("commonmark", {"html": True}).enable("table")
# markdown-it leaves a javascript: link as its raw "[text](…)" source; let it through as a
# link instead, so the one URL policy (`clean_html`) drops it and `check` names the post.
_MARKDOWN.validateLink = lambda url: True


class MarkdownReader(BaseReader):
    """Reads `.md` / `.markdown` posts."""

    file_extensions = (".md", ".markdown")

    def read(self, path: Path, *, base_url: str | None = None) -> Article:
        meta, content = _front_matter(path, read_text(path))
        env: dict[str, Any] = {}
        tokens = _MARKDOWN.parse(content, env)
        title = _string(meta.get("title"))
        heading = _first_h1(tokens)
        if heading is not None:
            index, text = heading
            # Without a front-matter title the first `#` heading is the title; with one, a
            # leading `#` heading that repeats it would print the title twice.
            if not title or (index == 0 and text.casefold() == title.casefold()):
                title = title or text
                del tokens[index : index + 3]
        elif not title and (headline := _headline(tokens)):
            title = headline
            del tokens[:3]
        dropped: list[DroppedUrl] = []
        url = safe_url(
            _string(meta.get("url")) or base_url,
            schemes=WEB_SCHEMES,
            where="front matter url",
            dropped=dropped,
        )
        body_html, images = clean_html(
            _MARKDOWN.renderer.render(tokens, _MARKDOWN.options, env),
            base_url=url,
            dropped=dropped,
        )
        return Article(
            title=title or title_from_filename(path),
            body_html=body_html,
            source=str(path),
            url=url,
            date=_date(path, meta),
            author=_author(meta.get("author")),
            author_bio=_string(meta.get("author_bio")),
            summary=_string(meta.get("summary")) or summarize(body_html),
            image=_image(meta, url, dropped),
            images=images,
            keywords=_keywords(meta),
            dropped_urls=tuple(dropped),
        )


def _front_matter(path: Path, text: str) -> tuple[dict[str, Any], str]:
    try:
        post = frontmatter.loads(text)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        # frontmatter hands YAML the text after the opening `---`, starting on that line.
        line = mark.line + 1 if mark is not None else None
        problem = getattr(error, "problem", None) or str(error).splitlines()[0]
        raise ContentError(
            f"{where(path, line)}: the front matter is not valid YAML ({problem}). "
            "Check the lines between the two '---' lines; quote values that contain ':'."
        ) from None
    except Exception as error:  # any other parser failure is bad input too
        raise ContentError(
            f"{path}: the front matter cannot be read ({error}). "
            "Write it as 'key: value' lines between two '---' lines."
        ) from None
    if (
        not post.metadata
        and text.lstrip("\ufeff").startswith("---\n")
        and ("\n---" not in text[4:])
    ):
        raise ContentError(
            f"{where(path, 1)}: the front matter opens with '---' but never closes. Add a "
            "line with only '---' after the last 'key: value' line."
        )
    return dict(post.metadata), post.content


def _first_h1(tokens: list[Token]) -> tuple[int, str] | None:
    """(token index, plain text) of the first top-level `#` heading."""
    for index, token in enumerate(tokens):
        if token.type == "heading_open" and token.tag == "h1" and token.level == 0:
            inline = tokens[index + 1]
            parts = [
                " " if child.type in ("softbreak", "hardbreak") else child.content
                for child in inline.children or ()
                if child.type in ("text", "code_inline", "softbreak", "hardbreak")
            ]
            return index, " ".join("".join(parts).split())
    return None


def _headline(tokens: list[Token]) -> str | None:
    """A first paragraph of one line that reads as the post's headline (see
    `text.is_headline`), when the post has no title and no `#` heading."""
    if len(tokens) <= 3 or tokens[0].type != "paragraph_open" or tokens[0].level != 0:
        return None
    inline = tokens[1]
    children = inline.children or ()
    if any(
        child.type not in ("text", "strong_open", "strong_close", "em_open", "em_close")
        for child in children
    ):
        return None
    text = "".join(child.content for child in children if child.type == "text").strip()
    return text if text and is_headline([text]) else None


def _string(value: object) -> str | None:
    if value is None:
        return None
    text = str(value).strip()
    return text or None


def _date(path: Path, meta: dict[str, Any]) -> date | None:
    value = meta.get("date")
    if value is None or value == "":
        return None
    parsed = parse_date(value)
    if parsed is None:
        raise ContentError(
            f"{path}: front matter 'date: {value}' is not a date. Write it as 2026-12-03."
        )
    return parsed


def _author(value: object) -> str | None:
    if isinstance(value, dict):  # `author: {name: ..., url: ...}`
        value = value.get("name")
    return _string(value)


def _image(meta: dict[str, Any], url: str | None, dropped: list[DroppedUrl]) -> Image | None:
    src = safe_url(
        _string(meta.get("image")),
        base=url,
        schemes=WEB_SCHEMES,
        where="front matter image",
        dropped=dropped,
    )
    return Image(src, _string(meta.get("image_alt")) or "") if src else None


def _keywords(meta: dict[str, Any]) -> tuple[str, ...]:
    found: list[str] = []
    for key in ("tags", "categories", "keywords"):
        value = meta.get(key)
        values = value.split(",") if isinstance(value, str) else value or []
        found += values if isinstance(values, list | tuple) else [values]
    return tuple(dict.fromkeys(text for text in map(_string, found) if text))
