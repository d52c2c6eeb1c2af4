"""Accessibility: what a patient with low vision or a screen reader gets from the email.

Most rules read the final HTML of each variant. premailer has inlined every style, so an
element's look is its own `style` attribute plus what it inherits from its ancestors; the
walk in `_looks` computes that (colour, background, font size, weight, hidden) once per
element. `brand-contrast` reads practice.toml and `image-alt` the posts.

The same problem at the same place (same rule, `where` and message) is reported once per
campaign, in the first variant that shows it, naming the other variants: a post or a
template fault shows in every variant that carries it, and one finding is enough.
"""

from __future__ import annotations

import colorsys
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from itertools import pairwise
from urllib.parse import urlsplit

from lxml import html as lxml_html

from chairside.checks import ERROR, WARNING, CheckContext, Finding, VariantView, rule
from chairside.content import Article
from chairside.content.sanitize import squash
from chairside.render.colors import AA_NORMAL, contrast_ratio, readable_on_white, text_on
from chairside.render.colors import WHITE as WHITE_HEX

AA_LARGE = 3.0
LARGE_PX, LARGE_BOLD_PX = 24.0, 18.66  # 18pt, and 14pt bold (WCAG "large text")
MIN_FONT_PX = 14.0
GENERIC_LINK_TEXT = frozenset(
    {"click here", "here", "read more", "more", "this link", "link", "learn more"}
)

RGBA = tuple[float, float, float, float]
WHITE: RGBA = (255, 255, 255, 1.0)
BLACK: RGBA = (0, 0, 0, 1.0)
LINK_BLUE: RGBA = (0, 0, 238, 1.0)  # what mail clients show for a link without a colour
# The common CSS colour names (the 16 HTML ones and the usual extras).
_NAMES = dict(
    re.findall(
        r"(\w+):(\w{6})",
        """black:000000 white:ffffff red:ff0000 green:008000 blue:0000ff
    yellow:ffff00 orange:ffa500 purple:800080 gray:808080 grey:808080 silver:c0c0c0
    maroon:800000 olive:808000 lime:00ff00 aqua:00ffff cyan:00ffff teal:008080 navy:000080
    fuchsia:ff00ff magenta:ff00ff pink:ffc0cb brown:a52a2a gold:ffd700 beige:f5f5dc
    ivory:fffff0 tan:d2b48c khaki:f0e68c coral:ff7f50 salmon:fa8072 tomato:ff6347
    crimson:dc143c indigo:4b0082 violet:ee82ee orchid:da70d6 skyblue:87ceeb
    steelblue:4682b4 royalblue:4169e1 lightblue:add8e6 darkblue:00008b darkred:8b0000
    darkgreen:006400 darkorange:ff8c00 lightgray:d3d3d3 lightgrey:d3d3d3 darkgray:a9a9a9
    darkgrey:a9a9a9 dimgray:696969 dimgrey:696969 slategray:708090 slategrey:708090
    gainsboro:dcdcdc whitesmoke:f5f5f5 lightyellow:ffffe0 lightgreen:90ee90
    darkslategray:2f4f4f darkslategrey:2f4f4f""",
    )
)
_HEX = re.compile(r"^#([0-9a-f]{3,4}|[0-9a-f]{6}|[0-9a-f]{8})$")
_FUNCTION = re.compile(r"^(rgba?|hsla?)\(([^)]*)\)$")
_FONT_KEYWORDS = {"xx-small": 9, "x-small": 10, "small": 13, "medium": 16, "large": 18}
_FONT_KEYWORDS |= {"x-large": 24, "xx-large": 32}
# Browser defaults, used when no inline font-size says otherwise (em of the parent).
_TAG_EM = {"h1": 2, "h2": 1.5, "h3": 1.17, "h4": 1, "h5": 0.83, "h6": 0.67, "small": 0.83}
_BOLD_TAGS = frozenset({"b", "strong", "th", "h1", "h2", "h3", "h4", "h5", "h6"})
_SKIPPED = frozenset({"head", "style", "script", "title", "template"})
_HEADING = re.compile(r"^h([1-6])$")


def parse_color(value: str | None) -> RGBA | None:
    """A CSS colour (#rgb, #rrggbb, rgb(), rgba(), hsl(), a common name) as RGBA, or None."""
    if not value:
        return None
    value = value.strip().lower()
    if value == "transparent":
        return (0, 0, 0, 0.0)
    if value in _NAMES:
        value = "#" + _NAMES[value]
    if match := _HEX.match(value):
        digits = match.group(1)
        if len(digits) in (3, 4):
            digits = "".join(ch * 2 for ch in digits)
        alpha = int(digits[6:8], 16) / 255 if len(digits) == 8 else 1.0
        return (int(digits[0:2], 16), int(digits[2:4], 16), int(digits[4:6], 16), alpha)
    if match := _FUNCTION.match(value):
        return _color_function(match.group(1), match.group(2))
    return None


def _color_function(name: str, arguments: str) -> RGBA | None:
    parts = [p for p in re.split(r"[\s,/]+", arguments.strip()) if p]
    if len(parts) not in (3, 4):
        return None
    try:
        numbers = [float(p.rstrip("%deg")) for p in parts]
    except ValueError:
        return None
    alpha = 1.0
    if len(parts) == 4:
        alpha = numbers[3] / 100 if parts[3].endswith("%") else numbers[3]
    if name.startswith("rgb"):
        channels = [n * 2.55 if p.endswith("%") else n for n, p in zip(numbers, parts, strict=True)]
        r, g, b = (max(0.0, min(255.0, c)) for c in channels[:3])
    else:
        rgb = colorsys.hls_to_rgb((numbers[0] % 360) / 360, numbers[2] / 100, numbers[1] / 100)
        r, g, b = (c * 255 for c in rgb)
    return (r, g, b, max(0.0, min(1.0, alpha)))


def _over(color: RGBA, background: RGBA) -> RGBA:
    """`color` composited on an opaque `background`."""
    alpha = color[3]
    mixed = (alpha * c + (1 - alpha) * b for c, b in zip(color[:3], background[:3], strict=True))
    return (*mixed, 1.0)  # type: ignore[return-value]


def hex_of(color: RGBA) -> str:
    return "#" + "".join(f"{round(c):02x}" for c in color[:3])


def _declarations(element: lxml_html.HtmlElement) -> list[tuple[str, str]]:
    pairs = []
    for part in (element.get("style") or "").split(";"):
        name, colon, value = part.partition(":")
        if colon:
            value = re.sub(r"\s*!important\s*$", "", value.strip(), flags=re.I)
            pairs.append((name.strip().lower(), value.strip()))
    return pairs


def _font_px(value: str | None, parent_px: float) -> float | None:
    if not value:
        return None
    value = value.strip().lower()
    if value in _FONT_KEYWORDS:
        return float(_FONT_KEYWORDS[value])
    if value in ("smaller", "larger"):
        return parent_px / 1.2 if value == "smaller" else parent_px * 1.2
    match = re.match(r"^(-?[\d.]+)\s*(px|pt|em|rem|%)?$", value)
    if not match:
        return None
    number, unit = float(match.group(1)), match.group(2) or "px"
    scale = {"px": 1, "pt": 4 / 3, "em": parent_px, "rem": 16, "%": parent_px / 100}[unit]
    return number * scale


def _is_bold(value: str | None, parent: bool) -> bool:
    if not value:
        return parent
    value = value.strip().lower()
    if value.isdigit():
        return int(value) >= 700
    return {"bold": True, "bolder": True, "normal": False, "lighter": False}.get(value, parent)


@dataclass(frozen=True)
class Look:
    """How one element shows: its text colour on its background, size, weight."""

    element: lxml_html.HtmlElement
    color: RGBA
    background: RGBA
    """Always opaque: semi-transparent backgrounds are composited on what is below."""
    font_px: float
    bold: bool
    hidden: bool

    @property
    def shows_text(self) -> bool:
        """The element has visible text of its own (not only inside its children)."""
        if self.hidden or self.font_px <= 0:
            return False
        return bool((self.element.text or "").strip()) or any(
            (child.tail or "").strip() for child in self.element
        )

    @property
    def large(self) -> bool:
        return self.font_px >= LARGE_PX or (self.bold and self.font_px >= LARGE_BOLD_PX)


def _hidden(element: lxml_html.HtmlElement, style: dict[str, str]) -> bool:
    if style.get("display", "").lower() == "none" or element.get("hidden") is not None:
        return True
    if style.get("visibility", "").lower() == "hidden" or style.get("opacity") in ("0", "0.0"):
        return True
    if style.get("mso-hide", "").lower() == "all":
        return True
    # The preheader trick: a box squeezed to nothing.
    return style.get("max-height", "").startswith("0") and style.get("overflow") == "hidden"


def _background(pairs: list[tuple[str, str]], element: lxml_html.HtmlElement) -> RGBA | None:
    found = None
    for name, value in pairs:  # the last declaration wins, as in CSS
        if name == "background-color":
            found = parse_color(value) or found
        elif name == "background":
            tokens = re.findall(r"[a-z-]+\([^)]*\)|\S+", value.lower())
            found = next((c for c in map(parse_color, tokens) if c), None) or found
    return found or parse_color(element.get("bgcolor"))


def looks(doc: lxml_html.HtmlElement) -> Iterator[Look]:
    """Every element of the body in document order, with its computed look."""
    body = doc.find("body")
    if body is None:
        return
    yield from _walk(body, Look(body, BLACK, WHITE, 16.0, False, False))


def _walk(element: lxml_html.HtmlElement, parent: Look) -> Iterator[Look]:
    if not isinstance(element.tag, str) or element.tag in _SKIPPED:
        return
    pairs = _declarations(element)
    style = dict(pairs)
    font_px = _font_px(style.get("font-size"), parent.font_px)
    if font_px is None:
        font_px = parent.font_px * _TAG_EM.get(element.tag, 1)
    bold = _is_bold(style.get("font-weight"), parent.bold or element.tag in _BOLD_TAGS)
    color = parse_color(style.get("color")) or parse_color(element.get("color"))
    if color is None:
        color = LINK_BLUE if element.tag == "a" and element.get("href") else parent.color
    background = _background(pairs, element)
    background = _over(background, parent.background) if background else parent.background
    look = Look(
        element=element,
        color=color,
        background=background,
        font_px=font_px,
        bold=bold,
        hidden=parent.hidden or _hidden(element, style),
    )
    yield look
    for child in element:
        yield from _walk(child, look)


# --- where things are ---------------------------------------------------------------------


def article_label(article: Article) -> str:
    """How a `where` names a post (as deliverability.py does): file name and “title”."""
    return f"{article.source_name} “{article.title}”"


def _short(text: str, limit: int = 60) -> str:
    text = squash(text)
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def describe(element: lxml_html.HtmlElement) -> str:
    return f'<{element.tag}> "{_short(element.text_content())}"'


def _plain(fragment: str) -> str:
    if not fragment.strip():
        return ""
    return squash(lxml_html.fragment_fromstring(fragment, create_parent="div").text_content())


class Places:
    """Which post an element of a variant's HTML comes from.

    An element belongs to the article whose title heading last preceded it, if its text is
    part of that post (so the byline, "Read the full post" links, the button and the footer
    belong to the template, not to the post above them).
    """

    def __init__(self, view: VariantView) -> None:
        self._owner: dict[lxml_html.HtmlElement, Article] = {}
        self._text: dict[str, str] = {}
        pending = list(view.articles)
        current: Article | None = None
        for element in view.doc.iter():
            if not isinstance(element.tag, str):
                continue
            if _HEADING.match(element.tag):
                title = squash(element.text_content())
                match = next((a for a in pending if squash(a.title) == title), None)
                if match is not None:
                    pending.remove(match)
                    current = match
                    self._text[match.source] = f"{title} {_plain(match.body_html)}"
            if current is not None:
                self._owner[element] = current

    def article_of(self, element: lxml_html.HtmlElement) -> Article | None:
        article = self._owner.get(element)
        if article is None:
            return None
        text = squash(element.text_content())
        return article if text and text in self._text[article.source] else None

    def where(self, element: lxml_html.HtmlElement, detail: str | None = None) -> str:
        article = self.article_of(element)
        place = detail or describe(element)
        return f"{article_label(article)}, {place}" if article else place


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
            f"{first.message} (Also in the variant{'s' * (len(others) > 1)}: {also}.)",
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
        foreground, background = hex_of(_over(look.color, look.background)), hex_of(look.background)
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
            places.where(example.element),
            f"Text {foreground} on background {background} has a contrast of only {ratio}:1; "
            f"{kind} needs at least {needed:g}:1 (WCAG AA) to be readable for patients with "
            f'low vision (e.g. "{_short(example.element.text_content())}"). {fix}',
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
        if _HEADING.match(look.element.tag) and not look.hidden
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
            places.where(heading),
            f'The heading "{_short(heading.text_content())}" is an <h{level}> right after the '
            f'<h{before}> "{_short(previous.text_content())}", skipping <h{before + 1}>. '
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
        in_post = places.article_of(anchor) is not None
        yield Finding(
            "link-text",
            WARNING,
            view.name,
            places.where(anchor, f'link "{squash(anchor.text_content())}" to {target}'),
            f'The link text "{squash(anchor.text_content())}" does not say where it goes, and '
            "screen readers often read links out of context. Rewrite it so the linked words "
            'name the destination, e.g. "see our holiday hours" or "read about night guards"'
            + (" (in the post)." if in_post else " (in your override in templates/)."),
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
            places.where(example),
            f'Text at {size:g}px (e.g. "{_short(example.text_content())}") is smaller than '
            f"{MIN_FONT_PX:g}px: hard to read on a phone and for many older patients. Use at "
            f"least 14px (16-17px for body text) {_IN_TEMPLATES}.",
        )
