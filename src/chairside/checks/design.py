"""The look of the header and what pictures give away.

`logo-visible`: a logo is nearly always drawn in the practice's brand colour, so it must not
sit on a background of about that colour (a band of it in a template override): there it
vanishes (1.00:1). With images off, the alt text shows in its place, and must read on that
background (WCAG AA, 4.5:1). Both read the final HTML of each version.

`image-name`: a patient's mail app fetches the pictures of the version they got; a picture
whose address names a concern (…/tmj-splint.jpg) tells whoever hosts it which version that
was. The post's pictures are the practice's to rename.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from urllib.parse import unquote, urlsplit

from chairside.checks.base import ERROR, WARNING, CheckContext, Finding, VariantView, rule
from chairside.checks.places import Places, merge_variants, where
from chairside.checks.privacy import concern_pattern
from chairside.checks.styles import hex_of, looks, over
from chairside.render.colors import AA_NORMAL, contrast_ratio

LOGO_ON_BACKGROUND = 3.0
"""The least contrast between the brand colour (the logo's) and what the logo sits on:
WCAG's 3:1 for graphics that carry meaning."""
_WORD_BREAKS = re.compile(r"[-_./]+")


@rule
def logo_visible(context: CheckContext) -> Iterator[Finding]:
    """The logo, and its alt text with images off, can be seen where they sit."""
    return merge_variants(f for view in context.variants for f in _logo_visible(context, view))


def _logo_visible(context: CheckContext, view: VariantView) -> Iterator[Finding]:
    practice = context.practice
    if not practice.logo_url:
        return
    for look in looks(view.doc):
        element = look.element
        if element.tag != "img" or element.get("src") != practice.logo_url or look.hidden:
            continue
        background = hex_of(look.background)
        on_brand = int(contrast_ratio(practice.brand_color, background) * 100) / 100
        if on_brand < LOGO_ON_BACKGROUND:
            yield Finding(
                "logo-visible",
                ERROR,
                view.name,
                "the logo in the header",
                f"Your logo sits on {background}, which is only {on_brand}:1 from your brand "
                f"colour {practice.brand_color}: a logo drawn in that colour disappears "
                f"(at least {LOGO_ON_BACKGROUND:g}:1 is needed). Put the logo on white or a "
                "light tint in your override in templates/ (or delete the override to use "
                "the built-in theme, which does).",
            )
        ink = hex_of(over(look.color, look.background))
        alt = int(contrast_ratio(ink, background) * 100) / 100
        if alt < AA_NORMAL:
            yield Finding(
                "logo-visible",
                ERROR,
                view.name,
                "the logo's alt text",
                f"With images off, mail apps show your logo's alt text "
                f'("{element.get("alt", "")}") in {ink} on {background}: only {alt}:1 '
                f"(4.5:1 is needed), so the practice's name cannot be read. Give the image a "
                "text colour that reads on its background in your override in templates/.",
            )


@rule
def image_name(context: CheckContext) -> Iterator[Finding]:
    """A picture's address that names a concern tells its host which version was opened."""
    pattern = concern_pattern(context)
    return merge_variants(f for view in context.variants for f in _image_name(pattern, view))


def _image_name(pattern: re.Pattern[str], view: VariantView) -> Iterator[Finding]:
    places: Places | None = None
    seen: set[str] = set()
    for image in view.doc.iter("img"):
        src = image.get("src") or ""
        parts = urlsplit(src)
        if src in seen or parts.scheme not in ("http", "https"):
            continue
        seen.add(src)
        words = _WORD_BREAKS.sub(" ", unquote(parts.path))
        found = pattern.search(words)
        if not found:
            continue
        places = places or Places(view)
        article = places.article_of(image)
        yield Finding(
            "image-name",
            WARNING,
            view.name,
            where(article, f"image {src}"),
            f"The picture's address names a concern ({found.group(0)!r}). A patient's mail "
            "app fetches it when the email is opened, so whoever hosts it learns which "
            "version that patient got. Where your website keeps its pictures, give this one "
            "a name that says nothing about a condition (like 2026-12-guide.jpg) and use "
            "the new address in the post.",
        )
