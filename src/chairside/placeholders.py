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


def _clean_name(name: str) -> str:
    # CR/LF or control characters must never reach a header or break a line of text.
    return " ".join("".join(ch if ch.isprintable() else " " for ch in name).split())


def values_for(
    recipient: Recipient, *, fallback_name: str, unsubscribe_url: str, unsubscribe_email: str
) -> dict[str, str]:
    """Raw (unescaped) placeholder values for one recipient.

    `unsubscribe_url` is the practice's template with `{token}`; without one, the visible
    link is a mailto: to the practice's unsubscribe address.
    """
    if unsubscribe_url:
        link = unsubscribe_url.replace("{token}", quote(recipient.unsubscribe_token, safe=""))
    else:
        link = f"mailto:{unsubscribe_email}?subject=Unsubscribe"
    return {
        FIRST_NAME: _clean_name(recipient.first_name) or fallback_name,
        UNSUBSCRIBE_URL: link,
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
