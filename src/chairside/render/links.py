"""Preparing a post's body for the email: campaign tracking on links (UTM parameters that
never name a concern), images no wider than the email's text column and sized in pixels,
and table cells marked for the theme's borders."""

from __future__ import annotations

from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from lxml import html as lxml_html


def with_utm(url: str, campaign: str) -> str:
    """`url` with utm_source/medium/campaign added (existing utm_* values are kept).

    Only web links are tagged: mailto:, tel: and placeholder links stay as they are.
    """
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https"):
        return url
    query = parse_qsl(parts.query, keep_blank_values=True)
    present = {key for key, _ in query}
    for key, value in (
        ("utm_source", "newsletter"),
        ("utm_medium", "email"),
        ("utm_campaign", campaign),
    ):
        if key not in present:
            query.append((key, value))
    return urlunsplit(parts._replace(query=urlencode(query)))


def prepare_body(fragment: str, campaign: str, *, column: int = 544) -> str:
    """Every web link with UTM parameters; every image declared wider than `column` pixels
    narrowed to it, and a percentage width turned into pixels of the column (Outlook for
    Windows shows an image at its declared width, and a percentage at the file's own size,
    whatever the CSS says: an 800 px picture would push the email off the screen); every
    table and cell given the class `cs-table` / `cs-cell`, so the theme can draw its borders without
    touching the tables MJML lays the email out with."""
    if "href" not in fragment and "<img" not in fragment and "<td" not in fragment:
        return fragment
    root = lxml_html.fragment_fromstring(fragment, create_parent="div")
    for anchor in root.iter("a"):
        href = anchor.get("href")
        if href:
            anchor.set("href", with_utm(href, campaign))
    for image in root.iter("img"):
        width = image.get("width", "").strip()
        if width.endswith("%") and width[:-1].replace(".", "", 1).isdigit():
            width = str(min(column, round(column * float(width[:-1]) / 100)))
            image.set("width", width)
            image.attrib.pop("height", None)
        if width.isdigit() and int(width) > column:
            image.set("width", str(column))
            image.attrib.pop("height", None)  # the browser keeps the proportions
    for table in root.iter("table"):
        table.set("class", "cs-table")
    for cell in root.iter("td"):
        cell.set("class", "cs-cell")
    inner = [root.text or ""] if root.text else []
    inner += [lxml_html.tostring(child, encoding="unicode") for child in root]
    return "".join(inner)
