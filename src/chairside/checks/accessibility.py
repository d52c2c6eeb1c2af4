"""Accessibility: what a patient with low vision or a screen reader gets from the email.

Most rules read the final HTML of each variant, through each element's computed look
(`styles.looks`: colour, background, font size, weight, hidden). `brand-contrast` reads
practice.toml and `image-alt` the posts. A `where` names the post only for what the post
itself says (`Places.article_of`); the rest is the theme's.

The same problem at the same place (same rule, `where` and message) is reported once per
campaign, in the first variant that shows it, naming the other variants: a post or a
template fault shows in every variant that carries it, and one finding is enough.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from itertools import pairwise
from urllib.parse import urlsplit

from lxml import html as lxml_html

from chairside.checks.base import ERROR, WARNING, CheckContext, Finding, VariantView, rule
from chairside.checks.places import (
    HEADINGS,
    Places,
    article_label,
    describe,
    merge_variants,
    short,
    where,
)
from chairside.checks.styles import BLACK, Look, hex_of, looks, over, parse_color
from chairside.content import Article
from chairside.content.sanitize import squash
from chairside.render.colors import AA_NORMAL, contrast_ratio, readable_on_white, text_on
from chairside.render.colors import WHITE as WHITE_HEX

AA_LARGE = 3.0
MIN_FONT_PX = 14.0
GENERIC_LINK_TEXT = frozenset(
    {"click here", "here", "read more", "more", "this link", "link", "learn more"}
)


# Posts cannot carry colours or sizes (the sanitiser drops styles): they come from the theme.
_IN_TEMPLATES = "in your override in templates/ (or delete the override to use the built-in theme)"


# --- rules ------------------------------------------------------------------------------


@rule
def contrast(context: CheckContext) -> Iterator[Finding]:
    """Text (and buttons) must stand out from their background: WCAG AA, 4.5:1 or 3:1."""
    return merge_variants(f for view in context.variants for f in _contrast(context, view))


def _contrast(context: CheckContext, view: VariantView) -> Iterator[Finding]:
    failing: dict[tuple[str, str], list[Look]] = {}
    for look in looks(view.doc):
        if not look.shows_text:
            continue
        foreground, background = hex_of(over(look.color, look.background)), hex_of(look.background)
        needed = AA_LARGE if look.large else AA_NORMAL
        if contrast_ratio(foreground, background) < needed:
            failing.setdefault((foreground, background), []).append(look)
    if not failing:
        return
    places = Places(view)
    brand = _hex_setting(context.practice.brand_color)
    brand_text = _hex_setting(context.practice.brand_text_color)
    for (foreground, background), found in failing.items():
        normal = [look for look in found if not look.large]
        example = (normal or found)[0]
        needed = AA_NORMAL if normal else AA_LARGE
        ratio = int(contrast_ratio(foreground, background) * 100) / 100
        if brand and brand_text == foreground and brand == background:
            fix = (
                "These are your brand colours: in practice.toml choose a darker [brand] color "
                "or another [brand] text_color (or leave text_color out, and Chairside picks "
                "white or dark text, whichever reads better)."
            )
        elif brand and brand in (foreground, background):
            hint = f" (e.g. {_darker(brand)})" if foreground == WHITE_HEX else ""
            fix = (
                f"This is your brand colour: in practice.toml choose a darker [brand] color{hint}."
            )
        else:
            fix = f"Darken the text or lighten the background {_IN_TEMPLATES}."
        kind = "large text" if not normal else "text"
        yield Finding(
            "contrast",
            ERROR,
            view.name,
            where(places.article_of(example.element), describe(example.element)),
            f"Text {foreground} on background {background} has a contrast of only {ratio}:1; "
            f"{kind} needs at least {needed:g}:1 (WCAG AA) to be readable for patients with "
            f'low vision (e.g. "{short(example.element.text_content())}"). {fix}',
        )


def _hex_setting(value: str) -> str | None:
    color = parse_color(value)
    return hex_of(color) if color else None


def _darker(color: str, target: float = AA_NORMAL) -> str:
    """`color` darkened just enough to carry white text."""
    rgba = parse_color(color) or BLACK
    for step in range(100, -1, -1):
        candidate = hex_of((*(c * step / 100 for c in rgba[:3]), 1.0))  # type: ignore[arg-type]
        if contrast_ratio(candidate, WHITE_HEX) >= target:
            return candidate
    return "#000000"


@rule
def brand_contrast(context: CheckContext) -> Iterator[Finding]:
    """The theme quietly works around a pale brand colour; the office should know."""
    practice = context.practice
    brand = practice.brand_color
    if parse_color(brand) is None:
        return
    on_white = int(contrast_ratio(brand, WHITE_HEX) * 100) / 100
    if on_white >= AA_NORMAL:
        return
    suggestion = _darker(brand)
    used = text_on(brand)
    # When white still reads better than dark text the theme keeps it, and `contrast`
    # reports the header and button as errors.
    if not practice.brand_text_color and used != WHITE_HEX:
        yield Finding(
            "brand-contrast",
            WARNING,
            "campaign",
            "practice.toml [brand] color",
            f"White text on your brand colour {brand} has a contrast of only {on_white}:1 "
            f"(4.5:1 is needed), so the header and the button use dark text ({used}) instead "
            f"of white. For white text choose a darker [brand] color (e.g. {suggestion}); "
            'or set [brand] text_color = "..." to say which text colour you want.',
        )
    fallback = readable_on_white(brand)
    if fallback.lower() != brand.lower():
        yield Finding(
            "brand-contrast",
            WARNING,
            "campaign",
            "practice.toml [brand] color (links)",
            f"Your brand colour {brand} is too pale for links on white ({on_white}:1, 4.5:1 is "
            f"needed), so links use {fallback} instead. For links in your own colour choose "
            f"a darker [brand] color (e.g. {suggestion}).",
        )


def _image_name(src: str) -> str:
    path = urlsplit(src).path.rstrip("/")
    return path.rsplit("/", 1)[-1] or src


@rule
def image_alt(context: CheckContext) -> Iterator[Finding]:
    """Every picture in a post should say what it shows."""
    return merge_variants(
        finding
        for view in context.variants
        for article in view.articles
        for finding in _image_alt(view, article)
    )


def _image_alt(view: VariantView, article: Article) -> Iterator[Finding]:
    lead = [article.image] if article.image else []
    described = {image.src: image.alt for image in article.images if image.alt.strip()}
    for image in (*lead, *article.images):
        if image.alt.strip():
            continue
        how = _how_to_describe(article, lead=image is article.image)
        if image.src in described:
            how += f' (the same picture further down is described as "{described[image.src]}")'
        yield Finding(
            "image-alt",
            WARNING,
            view.name,
            f"{article_label(article)}, image {_image_name(image.src)}",
            'This image has no description. The email still carries alt="", so screen '
            "readers skip it, and patients whose mail app hides images see nothing in its "
            f"place. Describe it in a few words: {how}. Leave it empty only if the image is "
            "pure decoration.",
        )


def _how_to_describe(article: Article, *, lead: bool) -> str:
    markdown = article.source_name.endswith((".md", ".markdown"))
    web_page = article.source_name.endswith((".html", ".htm"))
    if lead and markdown:
        return 'add image_alt: "what it shows" to the front matter of the post'
    if lead and web_page:
        return (
            'add <meta property="og:image:alt" content="what it shows"> to the <head> of the post'
        )
    if lead:
        return "give the post's lead image a description where the post is written"
    if markdown:
        return "write it between the brackets: ![what it shows](file.jpg)"
    return 'add alt="what it shows" to the <img> in the post'


@rule
def heading_order(context: CheckContext) -> Iterator[Finding]:
    """Headings go down one level at a time: screen-reader users navigate by them."""
    return merge_variants(f for view in context.variants for f in _heading_order(view))


def _heading_order(view: VariantView) -> Iterator[Finding]:
    headings = [
        (int(look.element.tag[1]), look.element)
        for look in looks(view.doc)
        if look.element.tag in HEADINGS and not look.hidden
    ]
    places: Places | None = None
    for (before, previous), (level, heading) in pairwise(headings):
        if level <= before + 1:
            continue
        places = places or Places(view)
        article = places.article_of(heading)
        in_body = article is not None and squash(heading.text_content()) != squash(article.title)
        fix = (
            "In the post, make it one level below the heading above it (a heading right under "
            "the title is ## in Markdown, <h2> in HTML)"
            if in_body
            else f"In your override in templates/, make it <h{before + 1}>"
        )
        yield Finding(
            "heading-order",
            WARNING,
            view.name,
            where(article, describe(heading)),
            f'The heading "{short(heading.text_content())}" is an <h{level}> right after the '
            f'<h{before}> "{short(previous.text_content())}", skipping <h{before + 1}>. '
            "Screen-reader users move through an email by its headings and will think "
            f"something is missing. {fix}.",
        )


def _link_words(anchor: lxml_html.HtmlElement) -> str:
    return re.sub(r"^\W+|\W+$", "", squash(anchor.text_content()).lower())


@rule
def link_text(context: CheckContext) -> Iterator[Finding]:
    """A link's words must say where it goes; screen readers list links by text alone."""
    return merge_variants(f for view in context.variants for f in _link_text(view))


def _link_text(view: VariantView) -> Iterator[Finding]:
    places: Places | None = None
    for look in looks(view.doc):
        anchor = look.element
        if anchor.tag != "a" or look.hidden or _link_words(anchor) not in GENERIC_LINK_TEXT:
            continue
        places = places or Places(view)
        href = anchor.get("href") or ""
        target = urlsplit(href)._replace(query="", fragment="").geturl() or href
        article = places.article_of(anchor)
        yield Finding(
            "link-text",
            WARNING,
            view.name,
            where(article, f'link "{squash(anchor.text_content())}" to {target}'),
            f'The link text "{squash(anchor.text_content())}" does not say where it goes, and '
            "screen readers often read links out of context. Rewrite it so the linked words "
            'name the destination, e.g. "see our holiday hours" or "read about night guards"'
            + (" (in the post)." if article else " (in your override in templates/)."),
        )


@rule
def font_size(context: CheckContext) -> Iterator[Finding]:
    """Body text of at least 14px: small print is hard on phones and older eyes."""
    return merge_variants(f for view in context.variants for f in _font_size(view))


def _font_size(view: VariantView) -> Iterator[Finding]:
    small: dict[float, list[Look]] = {}
    for look in looks(view.doc):
        if look.shows_text and look.font_px < MIN_FONT_PX:
            small.setdefault(round(look.font_px, 1), []).append(look)
    if not small:
        return
    places = Places(view)
    for size, found in sorted(small.items()):
        example = found[0].element
        yield Finding(
            "font-size",
            WARNING,
            view.name,
            where(places.article_of(example), describe(example)),
            f'Text at {size:g}px (e.g. "{short(example.text_content())}") is smaller than '
            f"{MIN_FONT_PX:g}px: hard to read on a phone and for many older patients. Use at "
            f"least 14px (16-17px for body text) {_IN_TEMPLATES}.",
        )
