"""How the inbox shows the email: subject and preheader."""

from __future__ import annotations

import re
from collections.abc import Iterator

from chairside.checks.base import WARNING, CheckContext, Finding, rule

MAX_SUBJECT = 60


def _shouting(subject: str) -> bool:
    words = [w for w in re.findall(r"[A-Za-z]{2,}", subject)]
    letters = "".join(words)
    capitals = sum(1 for w in words if w.isupper() and len(w) > 3)
    return len(letters) >= 8 and (
        sum(c.isupper() for c in letters) / len(letters) > 0.6 or capitals >= 2
    )


@rule
def subject_rules(context: CheckContext) -> Iterator[Finding]:
    """`subject-length`, `subject-shouting`, `subject-exclamation`, `preheader-missing`."""
    for view in context.variants:
        subject = view.variant.subject
        where = "subject in campaign.toml"
        if not subject.strip() or len(subject) > MAX_SUBJECT:
            yield Finding(
                "subject-length",
                WARNING,
                view.name,
                where,
                f"The subject is {len(subject)} characters; phones show about {MAX_SUBJECT}. "
                "Keep it short and specific.",
            )
        if _shouting(subject):
            yield Finding(
                "subject-shouting",
                WARNING,
                view.name,
                where,
                f"{subject!r} is written in capitals, which reads as shouting and spam "
                "filters penalise. Use sentence case.",
            )
        if subject.count("!") > 1 or "!!" in subject:
            yield Finding(
                "subject-exclamation",
                WARNING,
                view.name,
                where,
                "More than one '!' in the subject looks like spam. Use one at most.",
            )
        if not view.variant.preheader.strip():
            yield Finding(
                "preheader-missing",
                WARNING,
                view.name,
                "preheader in campaign.toml",
                "No preheader: inboxes then show the first words of the email instead. Add "
                'preheader = "..." to campaign.toml.',
            )
