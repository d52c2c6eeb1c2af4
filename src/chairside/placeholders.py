"""Per-recipient placeholders: rendered once into every variant, filled per recipient.

A placeholder is a token of capital letters and underscores, so it survives MJML, premailer's
URL rewriting (which mangles `{{ }}` inside `href`) and HTML-to-text conversion unchanged.
Filling is one regex pass per message; each context gets its own escaping, so a recipient's
name is data, never markup or template code.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass
from urllib.parse import quote

FIRST_NAME = "CHAIRSIDE__FIRST_NAME__"
UNSUBSCRIBE_URL = "CHAIRSIDE__UNSUBSCRIBE_URL__"
TOKEN_PATTERN = re.compile(r"CHAIRSIDE__[A-Z_]+?__")


@dataclass(frozen=True)
class Recipient:
    """What a message needs to know about the person it is for."""

    first_name: str
    unsubscribe_token: str


# The build preview is filled with this made-up patient, never a real one.
SAMPLE = Recipient(first_name="Jordan", unsubscribe_token="preview")


_SPACES = re.compile(r"\s+")


def clean_name(value: str) -> str:
    """A name as data: no control characters or line breaks (never into a header), spaces
    collapsed."""
    if not value.isprintable():
        value = "".join(c if c.isprintable() else " " for c in value)
    return _SPACES.sub(" ", value).strip()


def unsubscribe_links(
    token: str, *, unsubscribe_url: str, unsubscribe_email: str
) -> tuple[str, str | None]:
    """(mailto, https or None): where a recipient unsubscribes; the token names nobody."""
    mailto = f"mailto:{unsubscribe_email}?subject=unsubscribe%20{quote(token, safe='')}"
    https = unsubscribe_url.replace("{token}", quote(token, safe="")) if unsubscribe_url else None
    return mailto, https


def values_for(
    recipient: Recipient, *, fallback_name: str, unsubscribe_url: str, unsubscribe_email: str
) -> dict[str, str]:
    """Raw (unescaped) placeholder values for one recipient.

    `unsubscribe_url` is the practice's template with `{token}`; without one, the visible
    link is a mailto: to the practice's unsubscribe address.
    """
    mailto, https = unsubscribe_links(
        recipient.unsubscribe_token,
        unsubscribe_url=unsubscribe_url,
        unsubscribe_email=unsubscribe_email,
    )
    return {
        FIRST_NAME: clean_name(recipient.first_name) or fallback_name,
        UNSUBSCRIBE_URL: https or mailto,
    }


def fill_html(document: str, values: dict[str, str]) -> str:
    """Fill placeholders in HTML: every value escaped for text and attribute contexts."""
    escaped = {token: html.escape(value, quote=True) for token, value in values.items()}
    return TOKEN_PATTERN.sub(lambda m: escaped.get(m.group(0), m.group(0)), document)


def fill_text(document: str, values: dict[str, str]) -> str:
    """Fill placeholders in the plain-text part: values as they are."""
    return TOKEN_PATTERN.sub(lambda m: values.get(m.group(0), m.group(0)), document)


def leftover_tokens(document: str) -> list[str]:
    """Placeholders that were not filled (a template used one Chairside does not know)."""
    return sorted(set(TOKEN_PATTERN.findall(document)))
