"""The URL policy, checked: what the readers left out of a post, and anything in the built
email (a template, a practice link) that is not http, https, mailto or tel."""

from __future__ import annotations

from collections.abc import Iterator

from chairside.checks.base import ERROR, WARNING, CheckContext, Finding, rule
from chairside.urls import LINK_SCHEMES, WEB_SCHEMES, safe_url

# Attributes through which an email can load or open an address.
_URL_ATTRIBUTES = ("href", "src", "background", "action", "poster", "xlink:href")


@rule
def dropped_urls(context: CheckContext) -> Iterator[Finding]:
    """`unsafe-url`: a post held a javascript:, data:, file:… address (left out);
    `relative-url`: a relative link or image nothing could resolve (left out)."""
    for article in context.campaign.articles:
        for dropped in article.dropped_urls:
            if dropped.relative:
                yield Finding(
                    "relative-url",
                    WARNING,
                    "campaign",
                    f"post {article.source_name}",
                    f"The {dropped.where} {dropped.url!r} is relative and was left out: "
                    "add the post's web address (url: in its front matter, or a canonical "
                    "link), or write the full https:// address.",
                )
            else:
                yield Finding(
                    "unsafe-url",
                    ERROR,
                    "campaign",
                    f"post {article.source_name}",
                    f"The {dropped.where} {dropped.url!r} was left out: only http, https, "
                    "mailto and tel addresses go into an email. Remove it from the post, or "
                    "replace it with the page's https:// address.",
                )


@rule
def rendered_urls(context: CheckContext) -> Iterator[Finding]:
    """`unsafe-url`: the built email itself links to or loads a disallowed address."""
    for view in context.variants:
        for element in view.doc.iter():
            for attribute in _URL_ATTRIBUTES:
                value = element.get(attribute)
                schemes = LINK_SCHEMES if attribute == "href" else WEB_SCHEMES
                # Relative addresses are a template's business; a bad scheme never is.
                if value and safe_url(value, base="https://x.invalid/", schemes=schemes) is None:
                    yield Finding(
                        "unsafe-url",
                        ERROR,
                        view.name,
                        f"<{element.tag} {attribute}>",
                        f"{value[:80]!r} is not an http, https, mailto or tel address. Check "
                        "templates/ and the links in practice.toml.",
                    )
