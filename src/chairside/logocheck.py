"""The practice's logo file: what email programs can show, and whether it stands out on the
header's brand colour (measured on the image's own pixels, as a reader's eye sees them).

Email programs load the logo from its web address (`[brand] logo`); the file kept here, in
the practice folder's `assets/`, is what the studio previews and measures.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path

from chairside.errors import ChairsideError
from chairside.render.colors import contrast_ratio

FORMATS = {"PNG": "png", "JPEG": "jpg"}
MAX_BYTES = 2_000_000
READABLE = 3.0
"""WCAG 2's minimum contrast for graphics (1.4.11, non-text contrast)."""


def logo_file(root: Path) -> Path | None:
    """The practice's logo file in `assets/`, if one was uploaded."""
    for extension in FORMATS.values():
        path = root / "assets" / f"logo.{extension}"
        if path.is_file():
            return path
    return None


def check_logo_bytes(data: bytes) -> str:
    """The extension to keep `data` under ("png" or "jpg"), or a ChairsideError saying why
    the file cannot be the logo."""
    from PIL import Image, UnidentifiedImageError

    if len(data) > MAX_BYTES:
        raise ChairsideError(
            f"The logo file is {len(data) / 1e6:.1f} MB; keep it under 2 MB (a logo about "
            "360 pixels wide is plenty for an email), then upload it again."
        )
    if data.lstrip()[:5] in (b"<?xml", b"<svg ") or b"<svg" in data[:1000]:
        raise ChairsideError(
            "This is an SVG drawing, which Gmail and Outlook do not show in email. Save the "
            "logo as PNG (or JPEG) about 360 pixels wide and upload that."
        )
    try:
        with Image.open(io.BytesIO(data)) as image:
            image.verify()
            kind = image.format
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError):
        raise ChairsideError(
            "This file is not a picture that can be read. Upload the logo as a PNG or JPEG."
        ) from None
    if kind not in FORMATS:
        raise ChairsideError(
            f"This picture is a {kind} file; email programs show PNG and JPEG reliably. Save "
            "the logo as PNG and upload that."
        )
    return FORMATS[kind]


def save_logo(root: Path, data: bytes) -> Path:
    """Keep `data` as `assets/logo.png` (or .jpg), replacing the previous logo; atomic."""
    from chairside.fsutil import write_bytes_atomic

    extension = check_logo_bytes(data)
    target = root / "assets" / f"logo.{extension}"
    target.parent.mkdir(parents=True, exist_ok=True)
    write_bytes_atomic(target, data)
    for other in FORMATS.values():
        if other != extension:
            (root / "assets" / f"logo.{other}").unlink(missing_ok=True)
    return target


@dataclass(frozen=True)
class LogoContrast:
    ratio: float
    """The typical (median) contrast of the logo's visible pixels against the background."""
    readable_share: float
    """How much of the visible logo reaches 3 : 1 against the background (0 to 1)."""
    background_is_dark: bool

    @property
    def readable(self) -> bool:
        return self.readable_share >= 0.5


def logo_contrast(path: Path, background: str) -> LogoContrast | None:
    """How well the logo at `path` stands out on `background` (#rrggbb): its pixels at least
    half opaque, each blended onto the background as an email shows it, compared with the
    background. None when nothing of the logo is visible."""
    from PIL import Image

    with Image.open(path) as image:
        image = image.convert("RGBA")
        image.thumbnail((160, 160))
        raw = image.tobytes()
    pixels = zip(raw[0::4], raw[1::4], raw[2::4], raw[3::4], strict=True)
    bg = _rgb(background)
    ratios = []
    for r, g, b, a in pixels:
        if a < 128:
            continue
        alpha = a / 255
        blended = tuple(
            round(c * alpha + k * (1 - alpha)) for c, k in zip((r, g, b), bg, strict=True)
        )
        ratios.append(contrast_ratio("#{:02x}{:02x}{:02x}".format(*blended), background))
    if not ratios:
        return None
    ratios.sort()
    readable = sum(1 for ratio in ratios if ratio >= READABLE) / len(ratios)
    dark = contrast_ratio(background, "#ffffff") >= contrast_ratio(background, "#000000")
    return LogoContrast(ratios[len(ratios) // 2], readable, dark)


def _rgb(color: str) -> tuple[int, int, int]:
    digits = color.lstrip("#")
    if len(digits) == 3:
        digits = "".join(ch * 2 for ch in digits)
    return int(digits[0:2], 16), int(digits[2:4], 16), int(digits[4:6], 16)
