"""Fetching a blog's feed from its address, for `chairside new --feed URL` only.

The one place Chairside reads posts from the network, and only when asked: `build`,
`check` and everything after read the files `new` wrote. A fetch has timeouts, a size
limit (counted after decompression, so a small gzip bomb cannot fill the memory), a few
redirects at most, and an error in plain words for every way it fails.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

import httpx
import lxml.etree
import lxml.html

from chairside import __version__
from chairside.errors import ContentError
from chairside.urls import WEB_SCHEMES, safe_url

MAX_BYTES = 10 * 1024 * 1024
MAX_REDIRECTS = 5
TIMEOUT = httpx.Timeout(20.0, connect=10.0)
_ACCEPT = (
    "application/rss+xml, application/atom+xml, application/xml;q=0.9, text/xml;q=0.9, */*;q=0.5"
)
_FEED_TYPES = ("application/rss+xml", "application/atom+xml", "application/feed+xml")


@dataclass(frozen=True)
class Fetched:
    data: bytes
    url: str
    """Where the feed was found in the end (after redirects, or the page's feed link)."""


def is_address(value: str) -> bool:
    """`value` names something on the web rather than a file."""
    return "://" in value or value.lower().startswith(("http:", "https:"))


def fetch_feed(url: str) -> Fetched:
    """The feed at `url` (http or https). Given a blog page instead, the feed its
    `<link rel="alternate">` names is fetched (once). Raises `ContentError`."""
    checked = safe_url(url, schemes=WEB_SCHEMES)
    if checked is None or not urlsplit(checked).hostname:
        raise ContentError(
            f"{url}: Chairside fetches feeds from http:// or https:// addresses only. "
            "Give the blog's feed address, like https://example.com/feed/, or a saved file."
        )
    headers = {"User-Agent": f"Chairside/{__version__} (newsletter feed reader)", "Accept": _ACCEPT}
    with httpx.Client(
        headers=headers, timeout=TIMEOUT, follow_redirects=True, max_redirects=MAX_REDIRECTS
    ) as client:
        fetched = _get(client, url, MAX_BYTES)
        feed = _feed_link(fetched)
        if feed is not None:
            fetched = _get(client, feed, MAX_BYTES)
    return fetched


def _get(client: httpx.Client, url: str, max_bytes: int) -> Fetched:
    host = httpx.URL(url).host
    try:
        with client.stream("GET", url) as response:
            if response.status_code >= 400:
                raise ContentError(
                    f"{url}: the server answered {response.status_code} "
                    f"{response.reason_phrase}. Check the address: open it in a browser "
                    "and copy the feed's address from there."
                )
            declared = response.headers.get("Content-Length", "")
            if declared.isdigit() and int(declared) > max_bytes:
                raise _too_big(url, max_bytes)
            chunks, size = [], 0
            for chunk in response.iter_bytes():
                size += len(chunk)
                if size > max_bytes:
                    raise _too_big(url, max_bytes)
                chunks.append(chunk)
            return Fetched(b"".join(chunks), str(response.url))
    except httpx.TooManyRedirects:
        raise ContentError(
            f"{url}: redirected more than {MAX_REDIRECTS} times. Open it in a browser and "
            "give the address it ends up at."
        ) from None
    except httpx.ConnectTimeout:
        raise ContentError(
            f"{url}: {host} did not answer within {TIMEOUT.connect:.0f} seconds. Check "
            "that this computer is online, or try again later."
        ) from None
    except httpx.TimeoutException:
        raise ContentError(
            f"{url}: {host} stopped sending for {TIMEOUT.read:.0f} seconds. Try again "
            "later, or save the feed in a browser and give the file to --feed."
        ) from None
    except httpx.ConnectError as error:
        raise ContentError(
            f"{url}: cannot reach {host} ({_reason(error)}). Check the address and that "
            "this computer is online; or save the feed in a browser and give the file."
        ) from None
    except (httpx.HTTPError, httpx.InvalidURL) as error:
        raise ContentError(
            f"{url}: the feed could not be fetched ({_reason(error)}). Try again, or save "
            "the feed in a browser and give the file to --feed."
        ) from None


def _reason(error: Exception) -> str:
    text = str(error) or type(error).__name__
    if "Name or service not known" in text or "nodename nor servname" in text:
        return "no such address on the internet, or no internet connection"
    if "Connection refused" in text:
        return "the connection was refused"
    return text


def _too_big(url: str, max_bytes: int) -> ContentError:
    return ContentError(
        f"{url}: is larger than {max_bytes // (1024 * 1024)} MB, far more than a feed. "
        "Check that the address is the blog's feed (often /feed or /rss)."
    )


def _feed_link(fetched: Fetched) -> str | None:
    """The feed a web page names in `<link rel="alternate">`, when it is a page."""
    head = fetched.data[:4096].lstrip().lower()
    if not head.startswith((b"<!doctype html", b"<html")):
        return None
    try:
        doc = lxml.html.document_fromstring(fetched.data)
    except (lxml.etree.ParserError, ValueError):
        return None
    for link in doc.xpath("//link[@href]"):
        if "alternate" in (link.get("rel") or "").lower().split() and (
            (link.get("type") or "").lower() in _FEED_TYPES
        ):
            return safe_url(link.get("href"), base=fetched.url, schemes=WEB_SCHEMES)
    return None
