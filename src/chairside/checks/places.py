"""Where a finding is: which post an element of the built email belongs to, and how a
`where` names posts, elements, text and addresses, the same way in every rule module.

A `where` names the post first when the element sits in one (`file “Title”, <img src=…>`);
elements outside every post come from the theme or practice.toml.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from functools import cached_property
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from lxml import html as lxml_html

from chairside.checks.base import Finding, VariantView
from chairside.content import Article
from chairside.content.sanitize import squash

HEADINGS = ("h1", "h2", "h3", "h4", "h5", "h6")
_MJML_SECTION = re.compile(r"margin\s*:\s*0(?:px)?\s+auto", re.IGNORECASE)

Element = lxml_html.HtmlElement


def article_label(article: Article) -> str:
    """How a `where` names a post: file name and “title”."""
    return f"{article.source_name} “{article.title}”"


def where(article: Article | None, what: str) -> str:
    """`what`, after the post it belongs to (if any)."""
    return f"{article_label(article)}, {what}" if article else what


def short(text: str, limit: int = 60) -> str:
    """`text` on one line, cut to `limit` characters with an ellipsis."""
    text = squash(text)
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def without_utm(url: str) -> str:
    """`url` as its author wrote it: the utm_* parameters Chairside adds removed."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return url
    query = parse_qsl(parts.query, keep_blank_values=True)
    kept = [(k, v) for k, v in query if not k.startswith("utm_")]
    if len(kept) == len(query):
        return url
    return urlunsplit(parts._replace(query=urlencode(kept)))


def short_url(url: str, limit: int = 70) -> str:
    """`url`, or when long its site and last path part: the parts a person recognises."""
    url = url.strip()
    if len(url) <= limit:
        return url
    try:
        parts = urlsplit(url)
    except ValueError:
        return short(url, limit)
    last = parts.path.rstrip("/").rsplit("/", 1)[-1]
    if not parts.netloc or not last:
        return short(url, limit)
    return short(f"{parts.scheme}://{parts.netloc}/…/{last}", limit)


def describe(element: Element, attribute: str | None = None) -> str:
    """Enough of an element to find it in a post or a template: `<p> "its text…"`; with
    an address attribute, `<img src="https://…/a.jpg">` (a link without the UTM Chairside
    adds); with any other attribute, `<td class="footer" style>`."""
    if attribute is None:
        return f'<{element.tag}> "{short(element.text_content())}"'
    if attribute in ("src", "href"):
        address = (element.get(attribute) or "").strip()
        address = without_utm(address) if attribute == "href" else address
        return f'<{element.tag} {attribute}="{short_url(address)}">'
    classes = " ".join((element.get("class") or "").split())
    shown = f' class="{short(classes, 40)}"' if classes else ""
    return f"<{element.tag}{shown} {attribute}>"


def _section(element: Element) -> Element | None:
    """The MJML section (`<mj-section>`: a div with `margin: 0 auto`) around `element`."""
    for ancestor in element.iterancestors("div"):
        if _MJML_SECTION.search(ancestor.get("style") or ""):
            return ancestor
    return None


def _plain(fragment: str) -> str:
    if not fragment.strip():
        return ""
    return squash(lxml_html.fragment_fromstring(fragment, create_parent="div").text_content())


class Places:
    """Which post each element of a variant's HTML belongs to.

    The theme draws each post in an MJML section of its own (article.mjml), so an element
    in the section holding a post's title heading belongs to that post, template parts
    (lead image, byline, "Read the full post" link) included: `post_of`. Where a theme
    puts several titles in one section, or none in any, each post runs from its title
    heading to the next. `article_of` keeps only elements whose text the post itself
    says, so the byline and the links around it count as the template's.
    """

    def __init__(self, view: VariantView) -> None:
        self.view = view
        titles: dict[Element, Article] = {}  # each post's title heading, in document order
        pending = list(view.articles)
        for heading in view.doc.iter(*HEADINGS):
            title = squash(heading.text_content())
            match = next((a for a in pending if squash(a.title) == title), None)
            if match is not None:
                pending.remove(match)
                titles[heading] = match
        containers: dict[Element | None, list[Element]] = {}
        for heading in titles:
            containers.setdefault(_section(heading), []).append(heading)
        self.sections: dict[Element, Article] = {
            section: titles[headings[0]]
            for section, headings in containers.items()
            if section is not None and len(headings) == 1
        }
        """Each section that holds one post's title, and the post."""
        self._following: dict[Element, Article] = {}
        # Shared sections first: there, their own titles win over ones outside any section.
        for section, headings in sorted(containers.items(), key=lambda pair: pair[0] is None):
            if section in self.sections:
                continue
            current: Article | None = None
            for element in (view.doc if section is None else section).iter():
                if element in headings:
                    current = titles[element]
                if current is not None:
                    self._following.setdefault(element, current)
        self._text: dict[str, str] = {}

    @cached_property
    def urls(self) -> dict[str, Article]:
        """Every image and link address a post carries itself, as its author wrote it."""
        found: dict[str, Article] = {}
        for article in self.view.articles:
            for image in (article.image, *article.images):
                if image is not None:
                    found.setdefault(image.src, article)
            if article.url:
                found.setdefault(article.url, article)
            if "href" in article.body_html:
                fragment = lxml_html.fragment_fromstring(article.body_html, create_parent="div")
                for anchor in fragment.iter("a"):
                    found.setdefault((anchor.get("href") or "").strip(), article)
        return found

    def post_of(self, element: Element, url: str | None = None) -> Article | None:
        """The post whose part of the email holds `element`, or failing that the post that
        carries `url` (the element's address, without UTM)."""
        for ancestor in element.iterancestors():
            if ancestor in self.sections:
                return self.sections[ancestor]
        found = self._following.get(element)
        return found or (self.urls.get(url) if url else None)

    def article_of(self, element: Element) -> Article | None:
        """The post whose own words `element` shows (its title or body), if any."""
        article = self.post_of(element)
        if article is None:
            return None
        if article.source not in self._text:
            self._text[article.source] = f"{squash(article.title)} {_plain(article.body_html)}"
        text = squash(element.text_content())
        return article if text and text in self._text[article.source] else None

    def section_sizes(self) -> list[tuple[Article, int]]:
        """Each post's share of the HTML, in bytes, largest first."""
        sizes: dict[int, tuple[Article, int]] = {}
        for section, article in self.sections.items():
            html = lxml_html.tostring(section, encoding="unicode", with_tail=False)
            sizes[id(article)] = (article, len(html.encode("utf-8")))
        for article in self.view.articles:  # a theme without one section per post
            if id(article) not in sizes:
                sizes[id(article)] = (article, len(article.body_html.encode("utf-8")))
        return sorted(sizes.values(), key=lambda pair: -pair[1])


def merge_variants(findings: Iterable[Finding]) -> Iterator[Finding]:
    """Each problem once: identical findings of several variants become one, in the first
    variant, with the others named at the end of the message."""
    seen: dict[tuple[str, str, str, str], list[Finding]] = {}
    for finding in findings:
        key = (finding.rule, finding.severity, finding.where, finding.message)
        seen.setdefault(key, []).append(finding)
    for group in seen.values():
        first, others = group[0], [f.variant for f in group[1:] if f.variant != group[0].variant]
        if not others:
            yield first
            continue
        also = ", ".join(dict.fromkeys(others))
        yield Finding(
            first.rule,
            first.severity,
            first.variant,
            first.where,
            f"{first.message} (Also in the version{'s' * (len(others) > 1)} for: {also}.)",
        )
