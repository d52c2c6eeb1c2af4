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

from chairside.audience.segments import GENERAL, Segment, phrase_pattern
from chairside.checks.base import ERROR, WARNING, CheckContext, Finding, rule

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

    def finding(variant: str, where: str, word: str, fix: str, *, label: str = "") -> Finding:
        return Finding(
            "concern-named",
            ERROR,
            variant,
            where,
            f"{label or where} names a concern ({word!r}), which anyone who sees the inbox or the "
            f"provider's records can read. {fix}",
        )

    # A subject or preheader that every version shares goes to every patient alike: it says
    # nothing about any one of them ("Why morning headaches happen"). Only what some
    # versions' patients get and others don't can tell a reader who has a concern.
    shared = {
        field: texts.pop()
        if len(texts := {getattr(v.variant, field) for v in context.variants}) == 1
        else None
        for field in ("subject", "preheader")
    }
    general = next((v for v in context.variants if v.name == GENERAL), None)
    for view in context.variants:
        for field in ("subject", "preheader"):
            text = getattr(view.variant, field)
            if not (word := _named(pattern, text)):
                continue
            if text == shared[field]:
                if view is context.variants[0]:  # once, not once per version
                    yield Finding(
                        "concern-named",
                        WARNING,
                        view.name,
                        field,
                        f"The {field} names a concern ({word!r}) in every patient's inbox. "
                        "Every version has it, so it says nothing about any one patient; "
                        "make sure that is what you mean.",
                    )
                continue
            own = (
                general is not None
                and view is not general
                and (text != getattr(general.variant, field))
            )
            where = f"campaign.toml [segments.{view.name}] {field}" if own else field
            part = f" under [segments.{view.name}]" if own else ""
            yield finding(
                view.name,
                where,
                word,
                f"Only some versions' patients get this {field}, so it tells who has a "
                f"concern. Reword it in campaign.toml{part}, or give every version the same.",
                label=f"The {field}",
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
