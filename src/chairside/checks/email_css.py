"""CSS that major email clients ignore, for deliverability's `css-support` rule.

CSS support data: caniemail.com, the reference for email clients, is published only as a
website and as npm packages (`caniemail`, `@jsx-email/doiuse-email`); there is no PyPI
package to depend on, so `UNSUPPORTED_CSS` is a short table taken from its data
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

from chairside.checks.places import short
from chairside.checks.styles import declarations


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

_COLOR = re.compile(r"#[0-9a-f]{3,8}\b|\b(?:rgba?|hsla?)\(|\b[a-z]+\b", re.IGNORECASE)
_NOT_COLORS = frozenset(
    {"url", "none", "no", "repeat", "no-repeat", "repeat-x", "repeat-y", "center", "top"}
    | {"bottom", "left", "right", "cover", "contain", "auto", "fixed", "scroll", "local"}
    | {"transparent", "inherit", "initial", "unset", "padding", "border", "content", "box"}
    | {"space", "round", "x", "y"}
)


def _has_background_color(found: list[tuple[str, str]]) -> bool:
    for prop, value in found:
        if prop == "background-color" and value not in {"transparent", "none", ""}:
            return True
        if prop == "background":
            words = _COLOR.findall(re.sub(r"url\([^)]*\)", " ", value))
            if any(word.lower() not in _NOT_COLORS for word in words):
                return True
    return False


def unsupported(css: str) -> Iterator[tuple[str, Unsupported]]:
    """Each declaration of `css` (a `style` attribute or a rule's body) that some major
    client ignores, as "property: value" (lower case), with its entry."""
    found = [(prop, value.lower()) for prop, value in declarations(css)]
    for prop, value in found:
        for wanted, pattern, entry in _UNSUPPORTED:
            if wanted not in (prop, "*") or not pattern.fullmatch(value):
                continue
            if entry.unless_background_color and _has_background_color(found):
                continue
            yield f"{prop}: {short(value, 50)}", entry
            break
