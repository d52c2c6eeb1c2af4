"""Rules about what mail clients do to the message: Gmail's size limits, image and link
addresses that do not work in an email, image widths, and CSS the big clients ignore.

Every rule reads the final HTML (after premailer, filled for a 40-character first name), so it
measures what a patient's mail app receives. `where` names the post (file and title) when
the element sits in its part of the email (`Places.post_of`); elements outside any post
come from the theme or practice.toml. Findings stay per variant, not merged: each variant
is its own message, with its own size and HTML.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from urllib.parse import urlsplit

from lxml import html as lxml_html

from chairside.checks.base import ERROR, WARNING, CheckContext, Finding, VariantView, rule
from chairside.checks.email_css import Unsupported, unsupported
from chairside.checks.places import (
    Places,
    article_label,
    describe,
    short,
    short_url,
    where,
    without_utm,
)

GMAIL_CLIP_BYTES = 102 * 1024
"""Gmail shows "[Message clipped] View entire message" past this much HTML."""
GMAIL_STYLE_BYTES = 16 * 1024
"""Gmail drops a `<style>` block larger than this, with every rule in it."""
EMAIL_WIDTH = 600
"""The built-in theme's width; used when the HTML does not show its own."""


_CSS_RULE = re.compile(r"([^{}]*)\{([^{}]*)\}")
_CSS_COMMENT = re.compile(r"/\*.*?\*/", re.DOTALL)
_WIDTH_IN_STYLE = re.compile(r"(?:^|;)\s*width\s*:\s*([^;]+)", re.IGNORECASE)
_PIXELS = re.compile(r"\s*(\d+(?:\.\d+)?)\s*(?:px)?\s*", re.IGNORECASE)
_MAX_WIDTH = re.compile(r"max-width\s*:\s*(\d+)px", re.IGNORECASE)


def _kb(size: int) -> str:
    return f"{size / 1024:.1f} KB"


def _templates(context: CheckContext, *, in_post: bool = False) -> str:
    """The practice's theme files that can have made an element (posts carry no styles and
    keep no relative URLs): outside the posts only the newsletter template draws; inside
    them the post template first, then the newsletter's inlined styles."""
    folder = context.workspace.templates_dir
    mine = sorted(path.name for path in folder.glob("*.mjml")) if folder.is_dir() else []
    if not in_post and "newsletter.mjml" in mine:
        return "templates/newsletter.mjml"
    mine.sort(key=lambda name: name != "article.mjml")
    return " or ".join(f"templates/{name}" for name in mine) or "the theme"


def _source_of(context: CheckContext, places: Places, url: str, *, in_post: bool) -> str:
    """Where the user changes `url`: the post that carries it, practice.toml or the theme."""
    article = places.urls.get(url)
    if article is not None:
        in_body = any(url == image.src for image in article.images)
        if article.image and url == article.image.src and not in_body:
            return f"{article.source_name} (its lead image: image in the front matter)"
        return article.source_name
    practice = context.practice
    for value, place in (
        (practice.logo_url, "[brand] logo in practice.toml"),
        (practice.booking_url, "booking_url in practice.toml"),
        (practice.website, "website in practice.toml"),
    ):
        if value and url == value.strip():
            return place
    return _templates(context, in_post=in_post)


def _faulty(
    view: VariantView, tag: str, attribute: str, problem_of: Callable[[str], str | None]
) -> Iterator[tuple[lxml_html.HtmlElement, str, str]]:
    """Each `tag` whose address in `attribute` has a problem, once per address."""
    seen: set[str] = set()
    for element in view.doc.iter(tag):
        address = (element.get(attribute) or "").strip()
        problem = problem_of(address)
        if problem is not None and address not in seen:
            seen.add(address)
            yield element, address, problem


# --- gmail-clip -----------------------------------------------------------------------


@rule
def gmail_clip(context: CheckContext) -> Iterator[Finding]:
    """`gmail-clip`: HTML over 102 KB, which Gmail cuts off behind "View entire message"."""
    campaign_file = f"campaigns/{context.campaign.name}/campaign.toml"
    for view in context.variants:
        size = len(view.html.encode("utf-8"))
        if size <= GMAIL_CLIP_BYTES:
            continue
        biggest = Places(view).section_sizes()[:3]
        listed = ", ".join(
            f"{article_label(article)} ({_kb(bytes_)})" for article, bytes_ in biggest
        )
        if context.campaign.format == "excerpt":
            fix = f"Carry fewer posts in {campaign_file}, or shorten the biggest."
        else:
            fix = (
                f'Set format = "excerpt" in {campaign_file} (each post becomes a summary '
                "and a link), or carry fewer posts."
            )
        yield Finding(
            "gmail-clip",
            ERROR,
            view.name,
            f"HTML; biggest post: {article_label(biggest[0][0])}" if biggest else "HTML",
            f"The HTML is {_kb(size)}; Gmail clips messages over {GMAIL_CLIP_BYTES // 1024} KB, "
            "hiding the rest, the unsubscribe link included, behind “View entire message”. "
            f"Biggest posts: {listed or 'none'}. {fix}",
        )


# --- style-block-size -------------------------------------------------------------------


@rule
def style_block_size(context: CheckContext) -> Iterator[Finding]:
    """`style-block-size`: a `<style>` block over 16 KB, which Gmail ignores whole."""
    for view in context.variants:
        blocks = list(view.doc.iter("style"))
        for number, block in enumerate(blocks, start=1):
            size = len((block.text or "").encode("utf-8"))
            if size <= GMAIL_STYLE_BYTES:
                continue
            yield Finding(
                "style-block-size",
                WARNING,
                view.name,
                f"<style> block {number} of {len(blocks)}",
                f"A <style> block is {_kb(size)}; Gmail ignores a <style> block over "
                f"{GMAIL_STYLE_BYTES // 1024} KB, with every rule in it (the phone layout's "
                f"media queries too). Shorten the <mj-style> in {_templates(context)}: mark "
                'rules for ordinary elements inline="inline" so they move into the elements, '
                "and keep only media queries in a plain <mj-style>.",
            )


# --- image-url, image-width ---------------------------------------------------------------


def _image_problem(src: str) -> str | None:
    lowered = src.strip().lower()
    if lowered.startswith("https://"):
        return None
    if not lowered:
        return "has no address"
    if lowered.startswith("http://"):
        return "is on an unencrypted http:// address, which mail apps block or flag as unsafe"
    if lowered.startswith("data:"):
        return "is embedded as a data: URL, which Gmail and Outlook do not show"
    if lowered.startswith("cid:"):
        return "refers to an attachment (cid:), and Chairside attaches no images"
    if lowered.startswith("//"):
        return "has no scheme (//…), which mail apps cannot load"
    return "has a relative address, which leads nowhere from inside an email"


@rule
def image_url(context: CheckContext) -> Iterator[Finding]:
    """`image-url`: an `<img>` whose src is not an absolute https:// URL."""
    for view in context.variants:
        places = Places(view)
        for img, src, problem in _faulty(view, "img", "src", _image_problem):
            article = places.post_of(img, src)
            yield Finding(
                "image-url",
                WARNING,
                view.name,
                where(article, describe(img, "src")),
                f"The image {short_url(src) or '(empty)'} {problem}. Put the image on the "
                "practice's website and use its full https:// address in "
                f"{_source_of(context, places, src, in_post=article is not None)}.",
            )


def _email_width(view: VariantView) -> int:
    """The email's width: MJML gives every section a `max-width` in pixels."""
    widths = [
        int(match.group(1))
        for div in view.doc.iter("div")
        if (match := _MAX_WIDTH.search(div.get("style") or ""))
    ]
    return max(widths, default=EMAIL_WIDTH)


def _width(img: lxml_html.HtmlElement) -> str | None:
    """The image's width as written (attribute, else inline style), or None."""
    attribute = (img.get("width") or "").strip()
    if attribute and attribute.lower() != "auto":
        return attribute
    match = _WIDTH_IN_STYLE.search(img.get("style") or "")
    value = match.group(1).strip() if match else ""
    return value if value and value.lower() != "auto" else None


@rule
def image_width(context: CheckContext) -> Iterator[Finding]:
    """`image-width`: an image without a width, with a percentage width, or one wider than
    the email.

    Outlook for Windows ignores `max-width` and shows such an image at its own size, which
    pushes the layout sideways. MJML's own images always carry a width, so in practice this
    finds images in posts.
    """
    for view in context.variants:
        places = Places(view)
        email_width = _email_width(view)
        seen: set[str] = set()
        for img in view.doc.iter("img"):
            src = (img.get("src") or "").strip()
            width = _width(img)
            pixels = _PIXELS.fullmatch(width or "")
            too_wide = pixels is not None and float(pixels.group(1)) > email_width
            percent = width is not None and width.endswith("%")
            if (width is not None and not too_wide and not percent) or src in seen:
                continue
            seen.add(src)
            article = places.post_of(img, src)
            if width is None:
                problem = "has no width"
                fix = 'write it as <img src="…" alt="…" width="544">'
            elif percent:
                problem = f'has width="{width}", which Outlook for Windows takes from the file'
                fix = 'give its <img> a width in pixels, such as width="544"'
            else:
                problem = f"is {pixels.group(1)} px wide, wider than the {email_width} px email"
                fix = 'give its <img> width="544"'
            yield Finding(
                "image-width",
                WARNING,
                view.name,
                where(article, describe(img, "src")),
                f"The image {short_url(src)} {problem}: Outlook for Windows shows it at its "
                "full size, and the email no longer fits the screen. In "
                f"{_source_of(context, places, src, in_post=article is not None)}, {fix} "
                f"(544 px fills the built-in theme's text column; {email_width} px at most).",
            )


# --- link-url ----------------------------------------------------------------------------


def _link_problem(href: str) -> str | None:
    lowered = href.strip().lower()
    if not lowered or lowered.startswith(("#", "mailto:", "tel:", "https://")):
        return None
    if lowered.startswith("http://"):
        return (
            "uses unencrypted http://: browsers warn patients that the page is not secure, "
            "and spam filters count it against the email"
        )
    if lowered.startswith("//"):
        return "has no scheme (//…), which mail apps cannot follow"
    try:
        scheme = urlsplit(lowered).scheme
    except ValueError:
        scheme = ""
    if len(scheme) > 1:
        return None  # sms:, webcal:… are deliberate; the sanitiser drops javascript:
    return "is relative, and leads nowhere from an email (there is no page it is relative to)"


@rule
def link_url(context: CheckContext) -> Iterator[Finding]:
    """`link-url`: http:// links, and relative links (`#`, mailto: and tel: are fine)."""
    for view in context.variants:
        places = Places(view)
        for anchor, href, problem in _faulty(view, "a", "href", _link_problem):
            url = without_utm(href)
            article = places.post_of(anchor, url)
            fix = (
                "Use its https:// address"
                if url.lower().startswith("http://")
                else "Write the full address, starting with https://,"
            )
            yield Finding(
                "link-url",
                WARNING,
                view.name,
                where(article, describe(anchor, "href")),
                f"The link {short_url(url)} {problem}. {fix} in "
                f"{_source_of(context, places, url, in_post=article is not None)}.",
            )


# --- css-support -------------------------------------------------------------------------


def _css_uses(view: VariantView, places: Places) -> Iterator[tuple[str, Unsupported, str, bool]]:
    """(declaration, entry, where, in a post?) for every unsupported declaration."""
    for number, block in enumerate(view.doc.iter("style"), start=1):
        css = _CSS_COMMENT.sub("", block.text or "")
        for match in _CSS_RULE.finditer(css):
            selector = short(match.group(1).split(";")[-1].strip(), 40)
            for declaration, entry in unsupported(match.group(2)):
                yield declaration, entry, f"<style> block {number}, {selector} {{…}}", False
    for element in view.doc.iter():
        style = element.get("style") if isinstance(element.tag, str) else None
        found = list(unsupported(style)) if style else []
        if found:
            article = places.post_of(element)
            at = where(article, describe(element, "style"))
            for declaration, entry in found:
                yield declaration, entry, at, article is not None


@rule
def css_support(context: CheckContext) -> Iterator[Finding]:
    """`css-support`: CSS that Gmail, Outlook for Windows or Apple Mail ignore, where
    losing it breaks the layout or hides text (see `email_css.UNSUPPORTED_CSS`)."""
    for view in context.variants:
        # One finding per declaration and variant: a template repeats it for every post.
        found: dict[str, tuple[Unsupported, bool, list[str]]] = {}
        for declaration, entry, at, in_post in _css_uses(view, Places(view)):
            found.setdefault(declaration, (entry, in_post, []))[2].append(at)
        for declaration, (entry, in_post, places) in found.items():
            more = len(places) - 1
            templates = _templates(context, in_post=in_post)
            yield Finding(
                "css-support",
                WARNING,
                view.name,
                places[0] + (f" and {more} more place{'s' * (more > 1)}" if more else ""),
                f"“{declaration}” is ignored by {entry.clients}, so the email looks "
                f"broken there. {entry.fix}. Look for it in {templates}.",
            )
