"""The built-in looks a practice chooses with `[brand] theme` in practice.toml.

One MJML theme draws every look: a look is only the values it reads (fonts, page tone,
corners, heading colour), so each keeps every rule the theme was built to (cards that
stand out from the page, the logo on white, 44 px buttons, no hidden text) and a practice's
templates/ override works with any of them.
"""

from __future__ import annotations

from dataclasses import dataclass

from chairside.errors import ChairsideError
from chairside.fsutil import write_text_atomic
from chairside.render.colors import contrast_ratio
from chairside.workspace import Workspace

CARD_ON_PAGE = 1.25
"""The least contrast between a card and the page around it: below this the email reads
as one white column (white on #f3f4f6 is 1.10:1)."""
SANS = "Helvetica, Arial, sans-serif"
SERIF = "Georgia, 'Times New Roman', Times, serif"


@dataclass(frozen=True)
class Look:
    id: str
    label: str
    description: str
    """What the office reads beside it when choosing."""
    font: str
    heading_font: str
    page: str
    """The page tone around the cards; "tint" is the brand colour lightened to a tone."""
    card: str
    radius: int
    """Corners of the cards, px (clients that cannot round them show square ones)."""
    button_radius: int
    heading_px: int
    brand_headings: bool
    """Article titles in the brand colour (when it reads on the card) instead of ink."""
    rule_px: int
    """A band of the brand colour across the top of the header card."""
    dark_page: str = "#0e1013"
    dark_card: str = "#262c33"


LOOKS = {
    look.id: look
    for look in (
        Look(
            id="clear",
            label="Clear",
            description="White cards on a cool grey page, rounded corners, plain type.",
            font=SANS,
            heading_font=SANS,
            page="#dde3e8",
            card="#ffffff",
            radius=12,
            button_radius=8,
            heading_px=26,
            brand_headings=False,
            rule_px=6,
        ),
        Look(
            id="letter",
            label="Classic letter",
            description="A letter on warm paper: serif type, nearly square corners.",
            font=SERIF,
            heading_font=SERIF,
            page="#e6ddcc",
            card="#fffdf9",
            radius=3,
            button_radius=3,
            heading_px=26,
            brand_headings=False,
            rule_px=2,
            dark_page="#12100d",
            dark_card="#2b2722",
        ),
        Look(
            id="bold",
            label="Bold",
            description="Your brand colour as the page tone, large titles in it, round buttons.",
            font=SANS,
            heading_font=SANS,
            page="tint",
            card="#ffffff",
            radius=18,
            button_radius=26,
            heading_px=29,
            brand_headings=True,
            rule_px=10,
        ),
    )
}
DEFAULT_LOOK = "clear"


def tint(brand: str, card: str = "#ffffff", target: float = CARD_ON_PAGE + 0.05) -> str:
    """`brand` mixed toward white, as light as it can be while a `card` still stands out
    from it by `target` (a page tone in the practice's own colour); a brand colour too pale
    for that gives the Clear look's grey."""
    digits = brand.lstrip("#")
    if len(digits) == 3:
        digits = "".join(ch * 2 for ch in digits)
    rgb = [int(digits[i : i + 2], 16) for i in (0, 2, 4)]
    for white in range(95, -1, -1):
        mixed = "#" + "".join(f"{round(c + (255 - c) * white / 100):02x}" for c in rgb)
        if contrast_ratio(mixed, card) >= target:
            return mixed
    return LOOKS[DEFAULT_LOOK].page


def page_tone(look: Look, brand: str) -> str:
    return tint(brand, look.card) if look.page == "tint" else look.page


def choose_look(workspace: Workspace, look: str) -> None:
    """Set `[brand] theme` in practice.toml to `look`, keeping the file's comments and
    layout (the studio's Look page; by hand it is one line under [brand])."""
    import tomlkit

    if look not in LOOKS:
        raise ChairsideError(
            f"There is no built-in look {look!r}; choose one of: " + ", ".join(LOOKS) + "."
        )
    path = workspace.practice_file
    document = tomlkit.parse(path.read_text(encoding="utf-8-sig"))
    brand = document.get("brand")
    if brand is None:
        document["brand"] = brand = tomlkit.table()
    brand["theme"] = look
    write_text_atomic(path, tomlkit.dumps(document))
