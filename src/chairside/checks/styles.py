"""How the built email looks: CSS declarations, colours, and each element's computed style.

premailer has inlined every style, so an element's look is its own `style` attribute plus
what it inherits from its ancestors; `looks(doc)` computes that (colour, background, font
size, weight, hidden) once per element. `declarations` parses both a `style` attribute and
the body of a rule in a `<style>` block. Contrast itself is `chairside.render.colors`
(the formula the theme uses to pick its text colours); this module turns CSS colours into
the hex it takes.
"""

from __future__ import annotations

import colorsys
import re
from collections.abc import Iterator
from dataclasses import dataclass

from lxml import html as lxml_html

LARGE_PX, LARGE_BOLD_PX = 24.0, 18.66  # 18pt, and 14pt bold (WCAG "large text")

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
# A value runs to the next `;` outside url(…) and quotes (`url(data:…;base64,…)`).
_DECLARATION = re.compile(r"([-\w]+)\s*:\s*((?:url\([^)]*\)|\"[^\"]*\"|'[^']*'|[^;\"'])+)")
_IMPORTANT = re.compile(r"\s*!\s*important\s*$", re.IGNORECASE)
_FONT_KEYWORDS = {"xx-small": 9, "x-small": 10, "small": 13, "medium": 16, "large": 18}
_FONT_KEYWORDS |= {"x-large": 24, "xx-large": 32}
# Browser defaults, used when no inline font-size says otherwise (em of the parent).
_TAG_EM = {"h1": 2, "h2": 1.5, "h3": 1.17, "h4": 1, "h5": 0.83, "h6": 0.67, "small": 0.83}
_BOLD_TAGS = frozenset({"b", "strong", "th", "h1", "h2", "h3", "h4", "h5", "h6"})
_SKIPPED = frozenset({"head", "style", "script", "title", "template"})


def declarations(css: str) -> list[tuple[str, str]]:
    """The `(property, value)` pairs of a `style` attribute or a rule's body, in order:
    property in lower case, value as written, stripped, `!important` removed."""
    found = []
    for match in _DECLARATION.finditer(css):
        value = _IMPORTANT.sub("", match.group(2).strip())
        found.append((match.group(1).lower(), value.strip()))
    return found


# --- colours ----------------------------------------------------------------------------


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


def over(color: RGBA, background: RGBA) -> RGBA:
    """`color` composited on an opaque `background`."""
    alpha = color[3]
    mixed = (alpha * c + (1 - alpha) * b for c, b in zip(color[:3], background[:3], strict=True))
    return (*mixed, 1.0)  # type: ignore[return-value]


def hex_of(color: RGBA) -> str:
    """`#rrggbb` (alpha dropped), as `chairside.render.colors` takes it."""
    return "#" + "".join(f"{round(c):02x}" for c in color[:3])


# --- the computed look of each element ------------------------------------------------------


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
    pairs = declarations(element.get("style") or "")
    style = dict(pairs)
    font_px = _font_px(style.get("font-size"), parent.font_px)
    if font_px is None:
        font_px = parent.font_px * _TAG_EM.get(element.tag, 1)
    bold = _is_bold(style.get("font-weight"), parent.bold or element.tag in _BOLD_TAGS)
    color = parse_color(style.get("color")) or parse_color(element.get("color"))
    if color is None:
        color = LINK_BLUE if element.tag == "a" and element.get("href") else parent.color
    background = _background(pairs, element)
    background = over(background, parent.background) if background else parent.background
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
