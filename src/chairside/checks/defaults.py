"""`default-copy`: the preheader or intro is still what `chairside new` wrote, and promises
what this month's posts do not hold.

The defaults are written for a typical month: "a few short reads" (two posts or more) "and
news from the office" (a post tagged for no concern, which every version carries). A
campaign that kept them with one post, or without office news, tells every patient about
something that is not there; a preheader is also the first thing the inbox shows.
"""

from __future__ import annotations

from collections.abc import Iterator

from chairside.checks.base import WARNING, CheckContext, Finding, rule
from chairside.newcampaign import DEFAULT_INTRO, DEFAULT_PREHEADER

_FEW = 2


def _same(text: str, default: str) -> bool:
    return " ".join(text.split()) == " ".join(default.split())


def _broken_promises(articles) -> list[str]:
    missing = []
    if len(articles) < _FEW:
        missing.append(
            f"it promises a few reads, and there {'is' if articles else 'are'} "
            f"{len(articles) or 'no'} post{'' if len(articles) == 1 else 's'}"
        )
    if not any(not article.tags for article in articles):
        missing.append("it promises news from the office, and no post is office news (tags = [])")
    return missing


@rule
def default_copy(context: CheckContext) -> Iterator[Finding]:
    """`default-copy`: `new`'s preheader or intro kept, where it does not fit the posts."""
    settings = context.campaign.settings
    label = f"campaigns/{context.campaign.name}/campaign.toml"
    texts = [("preheader", settings.preheader, DEFAULT_PREHEADER, None)]
    texts += [
        ("intro", variant.intro, DEFAULT_INTRO, variant) for variant in context.campaign.variants
    ]
    reported: set[tuple[str, str]] = set()
    for key, text, default, variant in texts:
        if not _same(text, default):
            continue
        views = (
            context.variants
            if variant is None
            else [v for v in context.variants if v.variant is variant]
        )
        for view in views:
            missing = _broken_promises(view.articles)
            if not missing or (key, "; ".join(missing)) in reported:
                continue
            reported.add((key, "; ".join(missing)))
            where = (
                "[segments." + view.name + "] intro"
                if (key == "intro" and view.name in settings.segment_intros)
                else key
            )
            yield Finding(
                "default-copy",
                WARNING,
                view.name,
                f"{label} {where}",
                f"The {key} is still the one `chairside new` wrote, and does not fit this "
                f"month: {'; '.join(missing)}. Write your own {key} in {label} about what "
                "this newsletter holds.",
            )
