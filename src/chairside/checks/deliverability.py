"""Rules about what mail clients do to the message: Gmail's size limits, image and link
addresses that do not work in an email, image widths, and CSS the big clients ignore.

Every rule reads the final HTML (after premailer, filled for the longest first name), so it
measures what a patient's mail app receives. `where` names the post (file and title) when
the element sits in one; elements outside any post come from the theme or practice.toml.

CSS support data: caniemail.com, the reference for email clients, is published only as a
website and as npm packages (`caniemail`, `@jsx-email/doiuse-email`); there is no PyPI
package to depend on, so `UNSUPPORTED_CSS` below is a short table taken from its data
(features css-display-flex, -grid, -position, -transform, -background-image, -variables,
-float and -box-shadow, as tested up to 2023), limited to what breaks the layout or the
meaning in Gmail, Outlook for Windows or Apple Mail. Left out on purpose, because losing
them leaves a readable email: `float` (Outlook stacks the blocks), `box-shadow`,
`border-radius`, `max-width` (MJML pairs it with Outlook-only tables), `mso-*` and other
vendor properties.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from lxml import html as lxml_html

from chairside.checks import ERROR, WARNING, CheckContext, Finding, VariantView, rule
from chairside.content import Article

GMAIL_CLIP_BYTES = 102 * 1024
"""Gmail shows "[Message clipped] View entire message" past this much HTML."""
GMAIL_STYLE_BYTES = 16 * 1024
"""Gmail drops a `<style>` block larger than this, with every rule in it."""
EMAIL_WIDTH = 600
"""The built-in theme's width; used when the HTML does not show its own."""


@dataclass(frozen=True)
class Unsupported:
    """A CSS declaration some major clients ignore, and what to do instead."""

    clients: str
    fix: str
    unless_background_color: bool = False
    """Harmless when the same rule also sets a background colour (the fallback)."""


_LAYOUT_FIX = (
    "Lay the pieces out as <mj-column>s in an <mj-section> (MJML turns them into "
    "tables every client shows side by side)"
)
# (property, value pattern) → the clients that ignore it and how to do without it. The
# value pattern must match the whole value (lower case, `!important` removed); "*" as the
# property means any property.
UNSUPPORTED_CSS: dict[tuple[str, str], Unsupported] = {
    ("display", r"(inline-)?flex"): Unsupported(
        "Outlook for Windows (and Gmail's apps with non-Gmail accounts)", _LAYOUT_FIX
    ),
    ("display", r"(inline-)?grid"): Unsupported("Gmail and Outlook for Windows", _LAYOUT_FIX),
    ("position", r"absolute|fixed|relative|sticky"): Unsupported(
        "Gmail and Outlook for Windows (Apple Mail ignores fixed and sticky)",
        "Remove the position and let the element follow the text; to put things side by "
        "side use <mj-column>s, to put text over a picture use <mj-section background-url> "
        "with a background-color",
    ),
    ("transform", r".*"): Unsupported(
        "Gmail and Outlook for Windows",
        "Remove the transform: use an image that is already rotated or sized, or move the "
        "element with padding",
    ),
    ("background-image", r".*url\(.*"): Unsupported(
        "Outlook for Windows and any mail app with images turned off",
        "Add a background-color close to the image's main colour to the same element "
        '(on an <mj-section>: background-color="#…"), so the text on it stays readable',
        unless_background_color=True,
    ),
    ("background", r".*url\(.*"): Unsupported(
        "Outlook for Windows and any mail app with images turned off",
        "Add a background colour to the same element (background-color, or a colour in "
        "the background shorthand), so the text on it stays readable",
        unless_background_color=True,
    ),
    ("*", r".*var\(\s*--.*"): Unsupported(
        "Gmail and Outlook for Windows",
        "Write the value itself instead of a CSS variable (var(--…))",
    ),
}
_UNSUPPORTED = [
    (prop, re.compile(pattern), unsupported)
    for (prop, pattern), unsupported in UNSUPPORTED_CSS.items()
]
_DECLARATION = re.compile(r"([-\w]+)\s*:\s*((?:url\([^)]*\)|\"[^\"]*\"|'[^']*'|[^;\"'])+)")
_CSS_RULE = re.compile(r"([^{}]*)\{([^{}]*)\}")
_CSS_COMMENT = re.compile(r"/\*.*?\*/", re.DOTALL)
_WIDTH_IN_STYLE = re.compile(r"(?:^|;)\s*width\s*:\s*([^;]+)", re.IGNORECASE)
_PIXELS = re.compile(r"\s*(\d+(?:\.\d+)?)\s*(?:px)?\s*", re.IGNORECASE)
_MJML_SECTION = re.compile(r"margin\s*:\s*0(?:px)?\s+auto", re.IGNORECASE)
_MAX_WIDTH = re.compile(r"max-width\s*:\s*(\d+)px", re.IGNORECASE)
_COLOR = re.compile(r"#[0-9a-f]{3,8}\b|\b(?:rgba?|hsla?)\(|\b[a-z]+\b", re.IGNORECASE)
_NOT_COLORS = frozenset(
    {"url", "none", "no", "repeat", "no-repeat", "repeat-x", "repeat-y", "center", "top"}
    | {"bottom", "left", "right", "cover", "contain", "auto", "fixed", "scroll", "local"}
    | {"transparent", "inherit", "initial", "unset", "padding", "border", "content", "box"}
    | {"space", "round", "x", "y"}
)


def _kb(size: int) -> str:
    return f"{size / 1024:.1f} KB"


def _short(value: str, limit: int = 70) -> str:
    value = " ".join(value.split())
    return value if len(value) <= limit else value[: limit - 1] + "…"


def _without_utm(url: str) -> str:
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


def _post(article: Article) -> str:
    return f"{article.source_name} “{article.title}”"


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


def _describe(element: lxml_html.HtmlElement, attribute: str) -> str:
    """`<td class="footer" style>`: enough of an element to find it in a template."""
    classes = " ".join((element.get("class") or "").split())
    shown = f' class="{_short(classes, 40)}"' if classes else ""
    return f"<{element.tag}{shown} {attribute}>"


class _Places:
    """Which post each element of a variant's HTML belongs to.

    An element belongs to a post when it sits in the MJML section that holds the post's
    title (the theme draws one section per post), or, failing that, when it is one of the
    post's own images or links.
    """

    def __init__(self, view: VariantView) -> None:
        self.view = view
        self.sections: dict[lxml_html.HtmlElement, Article] = {}
        titles = {" ".join(a.title.split()): a for a in view.articles}
        for heading in view.doc.iter("h1", "h2", "h3"):
            article = titles.get(" ".join(heading.text_content().split()))
            section = self._section(heading) if article else None
            if section is not None and section not in self.sections:
                self.sections[section] = article
        self.urls: dict[str, Article] = {}
        """Every image and link address a post carries itself, as its author wrote it."""
        for article in view.articles:
            for image in (article.image, *article.images):
                if image is not None:
                    self.urls.setdefault(image.src, article)
            if article.url:
                self.urls.setdefault(article.url, article)
            if "href" in article.body_html:
                fragment = lxml_html.fragment_fromstring(article.body_html, create_parent="div")
                for anchor in fragment.iter("a"):
                    self.urls.setdefault((anchor.get("href") or "").strip(), article)

    @staticmethod
    def _section(element: lxml_html.HtmlElement) -> lxml_html.HtmlElement | None:
        for ancestor in element.iterancestors("div"):
            if _MJML_SECTION.search(ancestor.get("style") or ""):
                return ancestor
        return None

    def article(self, element: lxml_html.HtmlElement, url: str | None = None) -> Article | None:
        """The post `element` belongs to, if any (`url`: its address, without UTM)."""
        for ancestor in element.iterancestors():
            if ancestor in self.sections:
                return self.sections[ancestor]
        return self.urls.get(url) if url else None

    def where(self, element: lxml_html.HtmlElement, what: str, url: str | None = None) -> str:
        article = self.article(element, url)
        return f"{_post(article)}, {what}" if article else what

    def source_of(self, context: CheckContext, url: str, *, in_post: bool = False) -> str:
        """Where the user changes `url`: the post that carries it, practice.toml or the theme."""
        article = self.urls.get(url)
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

    def section_sizes(self) -> list[tuple[Article, int]]:
        """Each post's share of the HTML, in bytes, largest first."""
        sizes: dict[int, tuple[Article, int]] = {}
        for section, article in self.sections.items():
            html = lxml_html.tostring(section, encoding="unicode", with_tail=False)
            size = len(html.encode("utf-8"))
            previous = sizes.get(id(article), (article, 0))[1]
            sizes[id(article)] = (article, previous + size)
        for article in self.view.articles:  # a theme without one section per post
            if id(article) not in sizes:
                sizes[id(article)] = (article, len(article.body_html.encode("utf-8")))
        return sorted(sizes.values(), key=lambda pair: -pair[1])


def _short_url(url: str, limit: int = 70) -> str:
    """`url`, or when long its site and last path part: the parts a person recognises."""
    url = url.strip()
    if len(url) <= limit:
        return url
    try:
        parts = urlsplit(url)
    except ValueError:
        return _short(url, limit)
    last = parts.path.rstrip("/").rsplit("/", 1)[-1]
    if not parts.netloc or not last:
        return _short(url, limit)
    return _short(f"{parts.scheme}://{parts.netloc}/…/{last}", limit)


def _tag(element: lxml_html.HtmlElement, attribute: str) -> str:
    return f'<{element.tag} {attribute}="{_short_url(element.get(attribute) or "")}">'


# --- gmail-clip -----------------------------------------------------------------------


@rule
def gmail_clip(context: CheckContext) -> Iterator[Finding]:
    """`gmail-clip`: HTML over 102 KB, which Gmail cuts off behind "View entire message"."""
    campaign_file = f"campaigns/{context.campaign.name}/campaign.toml"
    for view in context.variants:
        size = len(view.html.encode("utf-8"))
        if size <= GMAIL_CLIP_BYTES:
            continue
        biggest = _Places(view).section_sizes()[:3]
        listed = ", ".join(f"{_post(article)} ({_kb(bytes_)})" for article, bytes_ in biggest)
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
            f"HTML; biggest post: {_post(biggest[0][0])}" if biggest else "HTML",
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
        places = _Places(view)
        seen: set[str] = set()
        for img in view.doc.iter("img"):
            src = (img.get("src") or "").strip()
            problem = _image_problem(src)
            if problem is None or src in seen:
                continue
            seen.add(src)
            in_post = places.article(img, src) is not None
            yield Finding(
                "image-url",
                WARNING,
                view.name,
                places.where(img, _tag(img, "src"), src),
                f"The image {_short_url(src) or '(empty)'} {problem}. Put the image on the "
                "practice's website and use its full https:// address in "
                f"{places.source_of(context, src, in_post=in_post)}.",
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
    """`image-width`: an image without a width, or one wider than the email.

    Outlook for Windows ignores `max-width` and shows such an image at its own size, which
    pushes the layout sideways. MJML's own images always carry a width, so in practice this
    finds images in posts.
    """
    for view in context.variants:
        places = _Places(view)
        email_width = _email_width(view)
        seen: set[str] = set()
        for img in view.doc.iter("img"):
            src = (img.get("src") or "").strip()
            width = _width(img)
            pixels = _PIXELS.fullmatch(width or "")
            too_wide = pixels is not None and float(pixels.group(1)) > email_width
            if (width is not None and not too_wide) or src in seen:
                continue
            seen.add(src)
            in_post = places.article(img, src) is not None
            if width is None:
                problem = "has no width"
                fix = 'write it as <img src="…" alt="…" width="544">'
            else:
                problem = f"is {pixels.group(1)} px wide, wider than the {email_width} px email"
                fix = 'give its <img> width="544"'
            yield Finding(
                "image-width",
                WARNING,
                view.name,
                places.where(img, _tag(img, "src"), src),
                f"The image {_short_url(src)} {problem}: Outlook for Windows shows it at its "
                "full size, and the email no longer fits the screen. In "
                f"{places.source_of(context, src, in_post=in_post)}, {fix} "
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
        places = _Places(view)
        seen: set[str] = set()
        for anchor in view.doc.iter("a"):
            href = (anchor.get("href") or "").strip()
            problem = _link_problem(href)
            if problem is None or href in seen:
                continue
            seen.add(href)
            url = _without_utm(href)
            in_post = places.article(anchor, url) is not None
            fix = (
                "Use its https:// address"
                if url.lower().startswith("http://")
                else "Write the full address, starting with https://,"
            )
            yield Finding(
                "link-url",
                WARNING,
                view.name,
                places.where(anchor, f'<a href="{_short_url(url)}">', url),
                f"The link {_short_url(url)} {problem}. {fix} in "
                f"{places.source_of(context, url, in_post=in_post)}.",
            )


# --- css-support -------------------------------------------------------------------------


def _declarations(block: str) -> list[tuple[str, str]]:
    """`(property, value)` pairs, lower case, `!important` removed."""
    found = []
    for match in _DECLARATION.finditer(block):
        value = re.sub(r"!\s*important\s*$", "", match.group(2).strip(), flags=re.IGNORECASE)
        found.append((match.group(1).lower(), value.strip().lower()))
    return found


def _has_background_color(declarations: list[tuple[str, str]]) -> bool:
    for prop, value in declarations:
        if prop == "background-color" and value not in {"transparent", "none", ""}:
            return True
        if prop == "background":
            words = _COLOR.findall(re.sub(r"url\([^)]*\)", " ", value))
            if any(word.lower() not in _NOT_COLORS for word in words):
                return True
    return False


def _unsupported(declarations: list[tuple[str, str]]) -> Iterator[tuple[str, Unsupported]]:
    """Each declaration some major client ignores, as "property: value", with its entry."""
    for prop, value in declarations:
        for wanted, pattern, unsupported in _UNSUPPORTED:
            if wanted not in (prop, "*") or not pattern.fullmatch(value):
                continue
            if unsupported.unless_background_color and _has_background_color(declarations):
                continue
            yield f"{prop}: {_short(value, 50)}", unsupported
            break


def _css_uses(view: VariantView, places: _Places) -> Iterator[tuple[str, Unsupported, str, bool]]:
    """(declaration, entry, where, in a post?) for every unsupported declaration."""
    for number, block in enumerate(view.doc.iter("style"), start=1):
        css = _CSS_COMMENT.sub("", block.text or "")
        for match in _CSS_RULE.finditer(css):
            selector = _short(match.group(1).split(";")[-1].strip(), 40)
            for declaration, unsupported in _unsupported(_declarations(match.group(2))):
                yield declaration, unsupported, f"<style> block {number}, {selector} {{…}}", False
    for element in view.doc.iter():
        style = element.get("style") if isinstance(element.tag, str) else None
        found = list(_unsupported(_declarations(style))) if style else []
        if found:
            article = places.article(element)
            what = _describe(element, "style")
            where = f"{_post(article)}, {what}" if article else what
            for declaration, unsupported in found:
                yield declaration, unsupported, where, article is not None


@rule
def css_support(context: CheckContext) -> Iterator[Finding]:
    """`css-support`: CSS that Gmail, Outlook for Windows or Apple Mail ignore, where
    losing it breaks the layout or hides text (see `UNSUPPORTED_CSS`)."""
    for view in context.variants:
        # One finding per declaration and variant: a template repeats it for every post.
        found: dict[str, tuple[Unsupported, bool, list[str]]] = {}
        for declaration, unsupported, where, in_post in _css_uses(view, _Places(view)):
            found.setdefault(declaration, (unsupported, in_post, []))[2].append(where)
        for declaration, (unsupported, in_post, places) in found.items():
            more = len(places) - 1
            templates = _templates(context, in_post=in_post)
            yield Finding(
                "css-support",
                WARNING,
                view.name,
                places[0] + (f" and {more} more place{'s' * (more > 1)}" if more else ""),
                f"“{declaration}” is ignored by {unsupported.clients}, so the email looks "
                f"broken there. {unsupported.fix}. Look for it in {templates}.",
            )
