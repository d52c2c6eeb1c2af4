"""The URL policy: the one gate for every address that reaches an email.

Post links and images, front-matter `url` and `image`, `og:image`, feed links and
enclosures, and the practice's own links all pass `safe_url`; only http, https, mailto and
tel survive (images: http and https). Small and free of heavy imports, so reading
`practice.toml` can use it too.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from html import unescape
from urllib.parse import urljoin, urlsplit

LINK_SCHEMES = frozenset({"http", "https", "mailto", "tel"})
WEB_SCHEMES = frozenset({"http", "https"})


@dataclass(frozen=True)
class DroppedUrl:
    """An address a reader left out of the post, and why."""

    where: str
    """What held it: "link", "image", "front matter url", "og:image", "feed link"…"""
    url: str
    relative: bool
    """True: a relative address with no page address to resolve it against. False: a
    scheme other than http, https, mailto or tel (javascript:, data:, file:…)."""


def web_url(url: str | None) -> str | None:
    """`url` if it is an absolute http(s) URL, else None."""
    url = (url or "").strip()
    return url if url.lower().startswith(("http://", "https://")) else None


_URL_TABS = re.compile(r"[\t\n\r]")
_URL_EDGES = "".join(map(chr, range(0x21)))
_URL_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")


def _scheme(url: str) -> str:
    return urlsplit(url).scheme.lower()


def safe_url(
    url: str | None,
    *,
    base: str | None = None,
    schemes: frozenset[str] = LINK_SCHEMES,
    where: str = "link",
    dropped: list[DroppedUrl] | None = None,
) -> str | None:
    """The URL policy for every address that reaches an email: `url` as it may be used, or
    None (then recorded in `dropped`, when given).

    Only `schemes` (http, https, mailto, tel; images http and https) survive. The scheme is
    read as a browser would: tabs and line breaks anywhere and control characters or spaces
    at the ends are ignored ("java<tab>script:"), case does not count ("JaVaScRiPt:"), and
    HTML entities are decoded ("&#106;avascript:"). A relative address is made absolute
    against an http(s) `base`; without one it is dropped, since nothing relative works in
    an email.
    """
    value = _URL_TABS.sub("", url or "").strip(_URL_EDGES)
    if not value:
        return None
    forms = [value]
    for _ in range(3):  # entities within entities: "&amp;#106;avascript:"
        decoded = _URL_TABS.sub("", unescape(forms[-1])).strip(_URL_EDGES)
        if decoded == forms[-1]:
            break
        forms.append(decoded)
    relative = False
    try:
        found = {_scheme(form) for form in forms} - {""}
        unsafe = bool(found - schemes) or bool(_URL_CONTROL.search(forms[-1]))
        if not unsafe and not _scheme(value):
            relative = True
            base = web_url(base)
            if base:
                value = urljoin(base, value)
                relative = False
                unsafe = _scheme(value) not in schemes
    except ValueError:  # "http://[::1": not an address at all
        unsafe = True
    if unsafe or relative:
        if dropped is not None:
            dropped.append(DroppedUrl(where, url or "", relative=relative and not unsafe))
        return None
    return value
