"""Blog posts saved as HTML pages (WordPress, Squarespace, Wix…), and writing them back.

A saved page is mostly not the post: menus, sidebars, share buttons, cookie banners,
comments. `HtmlReader` reads the metadata from the page head (Open Graph, JSON-LD, meta
tags), finds the post's own container, clears the clutter around and inside it, and hands
what is left to `clean_html`. `to_html_document` writes an `Article` as a minimal page that
`HtmlReader` reads back to the same article.
"""

from __future__ import annotations

import html
import json
import re
from collections.abc import Iterator
from pathlib import Path

import lxml.etree
import lxml.html
from lxml.html import HtmlElement

from chairside.content.article import Article, DroppedUrl, Image
from chairside.content.base import BaseReader
from chairside.content.dates import parse_date
from chairside.content.sanitize import (
    WEB_SCHEMES,
    clean_html,
    inner_html,
    plain_text,
    read_text,
    safe_url,
    squash,
    summarize,
    title_from_filename,
    web_url,
)
from chairside.errors import ContentError

# Where themes put the post, most specific first.
_CONTAINERS = (
    "//*[@itemprop='articleBody']",
    *(
        f"//*[contains(concat(' ', normalize-space(@class), ' '), ' {name} ')]"
        for name in ("entry-content", "post-content", "article-content", "post-body")
    ),
    "//*[contains(concat(' ', normalize-space(@class), ' '), ' blog-item-content ')]",
    "//*[@data-hook='post-description']",
    "//article",
    "//main",
    "//*[@role='main']",
)
_NEVER_CONTENT = ("script", "style", "noscript", "iframe", "form", "template", "svg", "button")
_PREFIX = r"(?:^|[\s_-])"
# Clutter wherever it is, even inside the post (share buttons, ads, related posts…).
_JUNK = re.compile(
    _PREFIX + r"(?:share|sharing|sharedaddy|addtoany|social|cookie|consent|gdpr|related|"
    r"comment|respond|breadcrumb|newsletter|subscribe|signup|sign-up|optin|opt-in|popup|"
    r"pop-up|modal|sponsor|advert|adsbygoogle|screen-reader|sr-only|ads?(?=$|[\s_-]))"
)
# Clutter only outside the post: page builders name their content blocks "…-widget".
_CHROME = re.compile(_PREFIX + r"(?:sidebar|widget|nav(?=$|[\s_-])|navigation|menu|pagination)")
_CHROME_ROLES = {"navigation", "complementary", "banner", "contentinfo", "dialog", "search"}
_AUTHOR_BOX = re.compile(
    _PREFIX + r"(?:author-?box|about-?(?:the-)?author|author-?bio|author-?info|author-?card|"
    r"saboxplugin|abh_box)"
)
_BYLINE = re.compile(
    _PREFIX + r"(?:byline|entry-meta|post-meta|blog-item-meta|article-meta|posted-on|"
    r"post-date|entry-date|dateline|author)(?=$|[\s_])"
)
_BYLINE_LINE = re.compile(r"^(?:by|posted|written|published)\b", re.I)
_BYLINE_END = re.compile(r"\s+(?:on|\||·|•|—|–)\s+.*$")
_TITLE_SEPARATOR = re.compile(r"\s+(\||–|—|-|·|::|»)\s+")
_XML_DECLARATION = re.compile(r"^\s*<\?xml[^>]*\?>")
_ARTICLE_TYPES = {"Article", "BlogPosting", "NewsArticle", "MedicalWebPage", "Report"}


class HtmlReader(BaseReader):
    """Reads `.html` / `.htm` pages saved from a blog."""

    file_extensions = (".html", ".htm")

    def read(self, path: Path, *, base_url: str | None = None) -> Article:
        text = _XML_DECLARATION.sub("", read_text(path))  # lxml refuses it in a str
        try:
            doc = lxml.html.document_fromstring(text)
        except (lxml.etree.ParserError, ValueError) as error:
            raise ContentError(
                f"{path}: is not a readable HTML page ({error}). Save the post's page again."
            ) from None
        # Metadata first: the clean-up below removes the elements it is read from.
        meta, ld = _head(doc), _json_ld(doc)
        dropped: list[DroppedUrl] = []
        url = safe_url(
            meta.get("canonical"), schemes=WEB_SCHEMES, where="canonical link", dropped=dropped
        ) or safe_url(meta.get("og:url"), schemes=WEB_SCHEMES, where="og:url", dropped=dropped)
        url = url or web_url(base_url)
        base = url or web_url(meta.get("base"))
        author_bio = _take_author_box(doc)
        for element in doc.xpath("|".join(f"//{tag}" for tag in _NEVER_CONTENT)):
            element.drop_tree()
        byline_author = _byline_author(doc)
        stamp = next(
            (t.get("datetime") for t in doc.xpath("//time[@datetime]") if not _in_clutter(t)), None
        )
        h1_text, body_html, images = _body(doc, base, byline_author, dropped)
        if not plain_text(body_html) and not images:
            raise ContentError(
                f"{path}: no article found in this page. Save the post's own page "
                "(not the blog's home page), or paste the post into a .txt file."
            )
        sites = {s.casefold() for s in (meta.get("og:site_name"), ld.get("publisher")) if s}
        title = (
            _strip_site(meta.get("og:title"), sites, h1_text)
            or h1_text
            or squash(ld.get("headline") or "")
            or _strip_site(meta.get("title"), sites, None)
            or title_from_filename(path)
        )
        image_src = safe_url(
            meta.get("og:image"), base=base, schemes=WEB_SCHEMES, where="og:image", dropped=dropped
        )
        if image_src in {image.src for image in images}:
            image_src = None  # the share picture is already in the post: show it once
        tags = [meta.get("keywords", "").split(","), meta.get("article:tag", [])]
        return Article(
            title=title,
            body_html=body_html,
            source=str(path),
            url=url,
            date=parse_date(meta.get("article:published_time"))
            or parse_date(ld.get("datePublished"))
            or parse_date(stamp),
            author=ld.get("author") or meta.get("author") or byline_author,
            author_bio=author_bio,
            summary=meta.get("og:description") or meta.get("description") or summarize(body_html),
            image=Image(image_src, meta.get("og:image:alt", "")) if image_src else None,
            images=images,
            keywords=tuple(dict.fromkeys(t.strip() for group in tags for t in group if t.strip())),
            dropped_urls=tuple(dropped),
        )


def _body(
    doc: HtmlElement, base: str | None, author: str | None, dropped: list[DroppedUrl]
) -> tuple[str | None, str, tuple[Image, ...]]:
    """(title <h1> text, cleaned body, images): the container's content, else readability's."""
    container = _find_container(doc)
    _clear_clutter(doc, container)
    h1 = next(iter(doc.iter("h1")), None)
    h1_text = squash(h1.text_content()) if h1 is not None else None
    body_html, images = "", ()
    found: list[DroppedUrl] = []  # only what the body finally used is reported
    if container is not None:
        if h1 is not None and container in h1.iterancestors():
            h1.drop_tree()
        _drop_bylines(container, author)
        _tidy(container)
        body_html, images = clean_html(inner_html(container), base_url=base, dropped=found)
    if not plain_text(body_html) and not images:
        if h1 is not None and h1.getparent() is not None:
            h1.drop_tree()  # the title, not part of the body readability may find
        found.clear()
        body_html, images = clean_html(_readability(doc), base_url=base, dropped=found)
    dropped += found
    return h1_text, body_html, images


def _head(doc: HtmlElement) -> dict:
    """Meta tags by name/property, plus canonical, base and <title>; `article:tag` as list."""
    found: dict = {"article:tag": []}
    for tag in doc.iter("meta"):
        key = (tag.get("property") or tag.get("name") or "").strip().lower()
        value = squash(tag.get("content") or "")
        if key == "article:tag" and value:
            found[key].append(value)
        elif key and value:
            found.setdefault(key, value)
    for link in doc.xpath("//link[@href]"):
        if "canonical" in (link.get("rel") or "").lower().split():
            found.setdefault("canonical", link.get("href").strip())
    found["base"] = next(iter(doc.xpath("//base/@href")), None)
    title = next(iter(doc.iter("title")), None)
    if title is not None:
        found["title"] = squash(title.text_content())
    return found


def _json_ld(doc: HtmlElement) -> dict[str, str]:
    """headline, datePublished, author (name) and publisher (name) of the page's post."""
    nodes: list[dict] = []
    for script in doc.xpath("//script[@type='application/ld+json']"):
        try:
            nodes += _walk(json.loads(script.text or ""))
        except ValueError:
            continue  # broken structured data is common and never fatal
    by_id = {node["@id"]: node for node in nodes if isinstance(node.get("@id"), str)}
    posts = [n for n in nodes if _ARTICLE_TYPES.intersection(_as_list(n.get("@type")))]
    found: dict[str, str] = {}
    for node in posts or [n for n in nodes if "datePublished" in n]:
        for key in ("headline", "datePublished", "author", "publisher"):
            value = _as_list(node.get(key))[0] if node.get(key) else None
            if isinstance(value, dict):
                value = by_id.get(value.get("@id"), value).get("name")
            if isinstance(value, str) and value.strip():
                found.setdefault(key, squash(value))
    return found


def _walk(data: object) -> Iterator[dict]:
    if isinstance(data, list):
        for item in data:
            yield from _walk(item)
    elif isinstance(data, dict):
        yield data
        yield from _walk(data.get("@graph", []))


def _as_list(value: object) -> list:
    return value if isinstance(value, list) else [value]


def _class_id(element: HtmlElement) -> str:
    return f"{element.get('class', '')} {element.get('id', '')}".lower()


def _take_author_box(doc: HtmlElement) -> str | None:
    """Remove the page's author boxes; return the first one's text as the bio."""
    bio = None
    for box in [e for e in doc.iter() if _is_element(e) and _AUTHOR_BOX.search(_class_id(e))]:
        if bio is None and box.getparent() is not None:
            for heading in box.xpath(".//h1|.//h2|.//h3|.//h4|.//h5|.//h6"):
                heading.drop_tree()  # "About Dr. Ruiz": a label, not part of the bio
            paragraphs = plain_text(lxml.html.tostring(box, encoding="unicode")).split("\n\n")
            kept = [p for p in paragraphs if not re.match(r"(about the author|view all)", p, re.I)]
            bio = "\n\n".join(kept) or None
        if box.getparent() is not None:
            box.drop_tree()
    return bio


def _is_element(node: object) -> bool:
    return isinstance(node, HtmlElement) and isinstance(node.tag, str)


def _byline_author(doc: HtmlElement) -> str | None:
    """The name in the first `rel=author`, `.author` or `.byline` element that has one."""
    marked = [e for e in doc.iter() if _is_element(e) and _BYLINE.search(_class_id(e))]
    candidates = (
        doc.xpath("//*[contains(concat(' ', @rel, ' '), ' author ')]")
        + [e for e in marked if "author" in _class_id(e)]
        + [e for e in marked if "byline" in _class_id(e)]
    )
    for element in candidates:
        if _in_clutter(element):
            continue  # a commenter, a related post's author
        text = squash(element.text_content())
        by = re.search(r"\bby\s+(.*)", text, re.I)
        name = _BYLINE_END.sub("", by.group(1) if by else text)
        if 0 < len(name.split()) <= 6 and not parse_date(name):
            return name
    return None


def _find_container(doc: HtmlElement) -> HtmlElement | None:
    for xpath in _CONTAINERS:
        for candidate in doc.xpath(xpath):
            if not _in_clutter(candidate):
                return candidate
    return None


def _in_clutter(element: HtmlElement) -> bool:
    """Whether `element` or what holds it is page chrome or clutter."""
    lineage = (element, *element.iterancestors())
    # <body class="has-sidebar"> says nothing about the post inside it.
    return any(_is_clutter(e) for e in lineage if e.tag not in ("body", "html"))


def _is_clutter(element: HtmlElement) -> bool:
    names = _class_id(element)
    return (
        element.tag in ("nav", "aside", "footer")
        or (element.get("role") or "") in _CHROME_ROLES
        or bool(_JUNK.search(names) or _CHROME.search(names))
    )


def _clear_clutter(doc: HtmlElement, container: HtmlElement | None) -> None:
    """Drop page chrome and clutter, never the post's container or what holds it."""
    keep = {doc, doc.find("head"), doc.find("body")}
    if container is not None:
        keep |= {container, *container.iterancestors()}
    for element in list(doc.iter()):
        if not _is_element(element) or element in keep or element.getparent() is None:
            continue
        inside = container is not None and container in element.iterancestors()
        names = _class_id(element)
        page_chrome = element.tag in ("nav", "aside", "footer") or (
            element.tag == "header" and not inside
        )
        if (
            page_chrome
            or _JUNK.search(names)
            or (not inside and (_CHROME.search(names) or element.get("role") in _CHROME_ROLES))
        ):
            if inside and element.tag == "a" and _in_prose(element):
                # A link in a sentence ("try our <a class=popup-trigger>neck stretches</a>")
                # is the sentence's words: keep them, drop only the link.
                element.drop_tag()
            else:
                element.drop_tree()


def _in_prose(element: HtmlElement) -> bool:
    parent = element.getparent()
    return parent is not None and parent.tag in _PROSE


_PROSE = {"p", "li", "td", "blockquote", "figcaption", "em", "strong", "b", "i", "span"}


def _drop_bylines(container: HtmlElement, author: str | None) -> None:
    for element in list(container.iter()):
        if (
            _is_element(element)
            and element is not container
            and element.getparent() is not None
            and (
                _BYLINE.search(element.get("class", "").lower())
                or "author" in (element.get("rel") or "").split()
            )
        ):
            element.drop_tree()
    # A bare "By Dr. Ana Ruiz · December 3, 2026" line near the top, without classes.
    for paragraph in list(container.iter("p"))[:2]:
        text = squash(paragraph.text_content())
        named = (author and author in text) or parse_date(text)
        if len(text) < 100 and _BYLINE_LINE.match(text) and named:
            paragraph.drop_tree()


def _tidy(container: HtmlElement) -> None:
    """Undo lazy loading and give text-only <div>s paragraph breaks before sanitising."""
    for img in container.iter("img"):
        src = img.get("src") or ""
        lazy = img.get("data-src") or img.get("data-lazy-src") or img.get("data-original")
        if lazy and (not src or src.startswith("data:")):
            img.set("src", lazy)
    blocks = {"p", "div", "ul", "ol", "table", "blockquote", "figure", "section", "pre"}
    blocks |= {"h1", "h2", "h3", "h4", "h5", "h6", "article"}
    for div in container.iter("div"):
        if (div.text or "").strip() and not any(child.tag in blocks for child in div):
            div.tag = "p"


def _readability(doc: HtmlElement) -> str:
    """The article readability-lxml finds in what is left of the page ("" if none)."""
    from readability import Document  # heavy import, only for pages without a container

    try:
        # The body only: given the whole page, readability may settle for the <title>.
        page = lxml.html.tostring(doc.find("body"), encoding="unicode")
        return Document(page).summary(html_partial=True)
    except Exception:  # readability raises its own Unparseable, and lxml errors
        return ""


def _strip_site(title: str | None, sites: set[str], h1: str | None) -> str | None:
    """The title without a " | Site Name" / " – Site" suffix."""
    title = squash(title or "")
    for _ in range(2):
        matches = list(_TITLE_SEPARATOR.finditer(title))
        if not matches:
            break
        match = matches[-1]  # the site name comes last
        prefix, suffix = title[: match.start()], title[match.end() :]
        if (
            suffix.casefold() in sites
            or (h1 and prefix.casefold() == h1.casefold())
            or match.group(1) == "|"
            or (not h1 and not sites and len(suffix.split()) <= 5)
        ):
            title = prefix
        else:
            break
    return title or None


def to_html_document(article: Article) -> str:
    """A minimal standalone page for `article`, which `HtmlReader` reads back unchanged.

    Round-trips title, url, date, author, author_bio, summary, lead image, keywords, body
    and images (not `source` or `tags`). An article without a body gets its summary (or
    title) as its one paragraph, so that the page can still be read as a post.
    """
    e = html.escape
    head = ['<meta charset="utf-8">', f"<title>{e(article.title)}</title>"]
    if article.author:
        head.append(f'<meta name="author" content="{e(article.author)}">')
    if article.date:
        head.append(f'<meta property="article:published_time" content="{article.date}">')
    if article.url:
        head.append(f'<link rel="canonical" href="{e(article.url)}">')
    if article.summary:
        head.append(f'<meta property="og:description" content="{e(article.summary)}">')
    if article.image:
        head.append(f'<meta property="og:image" content="{e(article.image.src)}">')
        head.append(f'<meta property="og:image:alt" content="{e(article.image.alt)}">')
    head += [f'<meta property="article:tag" content="{e(k)}">' for k in article.keywords]
    body = article.body_html or f"<p>{e(article.summary or article.title)}</p>"
    bio = ""
    if article.author_bio:
        paragraphs = "".join(f"<p>{e(p)}</p>" for p in article.author_bio.split("\n\n"))
        bio = f'<aside class="author-box">{paragraphs}</aside>\n'
    return (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n'
        + "\n".join(head)
        + f"\n</head>\n<body>\n<article>\n<h1>{e(article.title)}</h1>\n"
        + f"{body}\n</article>\n{bio}</body>\n</html>\n"
    )
