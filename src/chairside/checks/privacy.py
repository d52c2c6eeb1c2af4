"""`concern-named`: a patient's concern must not be readable where a message leaves the
practice — subject, preheader, link URLs' parameters (UTM included), tags, file names.

The words come from audiences/segments.toml (ids, names and patient tags of every concern
segment) plus a built-in list of condition words. Article text and the paths of the blog's
own pages are the newsletter's content and are not checked; what a URL *carries* (its query
and fragment: tracking values) is.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from urllib.parse import unquote, urlsplit

from chairside.audience.segments import Segment, phrase_pattern
from chairside.checks.base import ERROR, CheckContext, Finding, rule

CONDITION_WORDS = (
    "tmj",
    "tmd",
    "tmjd",
    "temporomandibular",
    "bruxism",
    "myofascial",
    "trigger point",
    "fibromyalgia",
    "migraine",
    "sleep apnea",
    "apnea",
    "periodontitis",
    "gum disease",
    "neuralgia",
    "whiplash",
    "arthritis",
    "diabetes",
    "botox",
)


def concern_pattern(context: CheckContext) -> re.Pattern[str]:
    return concern_words(context.segments)


def concern_words(segments: tuple[Segment, ...]) -> re.Pattern[str]:
    """Every word that names a concern: the built-in condition words, and each concern's
    id, name and patient tags from segments.toml."""
    words = list(CONDITION_WORDS)
    for segment in segments:
        if segment.is_general:
            continue
        words += [segment.id, segment.id.replace("_", " "), segment.name, *segment.patient_tags]
    pattern = phrase_pattern(words)
    assert pattern is not None
    return pattern


def _named(pattern: re.Pattern[str], text: str) -> str | None:
    match = pattern.search(text.replace("_", " "))
    return match.group(0) if match else None


@rule
def concern_named(context: CheckContext) -> Iterator[Finding]:
    pattern = concern_pattern(context)

    def finding(variant: str, where: str, word: str, fix: str) -> Finding:
        return Finding(
            "concern-named",
            ERROR,
            variant,
            where,
            f"{where} names a concern ({word!r}), which anyone who sees the inbox or the "
            f"provider's records can read. {fix}",
        )

    for view in context.variants:
        for where, text in (
            ("subject", view.variant.subject),
            ("preheader", view.variant.preheader),
        ):
            if word := _named(pattern, text):
                yield finding(
                    view.name,
                    where,
                    word,
                    f"Reword the {where} in campaign.toml (or its [segments.*] part).",
                )
        seen: set[str] = set()
        for anchor in view.doc.iter("a"):
            href = anchor.get("href") or ""
            parts = urlsplit(href)
            carried = unquote(f"{parts.query} {parts.fragment}")
            if href in seen or parts.scheme not in ("http", "https"):
                continue
            seen.add(href)
            if word := _named(pattern, carried):
                yield finding(
                    view.name,
                    f"link {href}",
                    word,
                    "Remove the tracking value from the link (or the post).",
                )
    for name in context.leaving_names:
        if word := _named(pattern, name):
            yield finding(
                "campaign",
                f"name {name!r}",
                word,
                "Leave tags as opaque ids: do not pass --concern-tags.",
            )
