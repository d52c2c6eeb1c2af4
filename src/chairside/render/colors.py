"""Colour contrast (WCAG 2): the theme picks readable text colours from the brand colour."""

from __future__ import annotations

WHITE = "#ffffff"
INK = "#1f2933"
AA_NORMAL = 4.5


def _channel(value: int) -> float:
    c = value / 255
    return c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4


def luminance(color: str) -> float:
    """Relative luminance of a `#rgb` or `#rrggbb` colour."""
    hex_digits = color.lstrip("#")
    if len(hex_digits) == 3:
        hex_digits = "".join(ch * 2 for ch in hex_digits)
    r, g, b = (int(hex_digits[i : i + 2], 16) for i in (0, 2, 4))
    return 0.2126 * _channel(r) + 0.7152 * _channel(g) + 0.0722 * _channel(b)


def contrast_ratio(first: str, second: str) -> float:
    """WCAG contrast ratio, from 1 (none) to 21 (black on white)."""
    light, dark = sorted((luminance(first), luminance(second)), reverse=True)
    return (light + 0.05) / (dark + 0.05)


def text_on(background: str) -> str:
    """White or near-black, whichever reads better on `background`."""
    return WHITE if contrast_ratio(background, WHITE) >= contrast_ratio(background, INK) else INK


def readable_on_white(color: str, fallback: str = "#0B5D6B") -> str:
    """`color` for links and headings on white if it meets WCAG AA, else a dark fallback."""
    return color if contrast_ratio(color, WHITE) >= AA_NORMAL else fallback


def readable_on(color: str, background: str, target: float = AA_NORMAL) -> str:
    """`color` mixed toward white just enough to reach `target` on a dark `background`
    (dark mode: a brand colour for links that keeps its hue and stays readable)."""
    hex_digits = color.lstrip("#")
    if len(hex_digits) == 3:
        hex_digits = "".join(ch * 2 for ch in hex_digits)
    rgb = [int(hex_digits[i : i + 2], 16) for i in (0, 2, 4)]
    for step in range(0, 101, 5):
        mixed = "#" + "".join(f"{round(c + (255 - c) * step / 100):02x}" for c in rgb)
        if contrast_ratio(mixed, background) >= target:
            return mixed
    return WHITE
