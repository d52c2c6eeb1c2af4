"""`chairside new --next`: next month's campaign, drafted from the blog's new posts.

The name is the month after the latest monthly campaign (or this month, for the first);
the posts are the feed's entries published since the last campaign went out that no
campaign carries yet; the subject, preview text and intro are drafted from the posts' own
titles and openings, never naming a concern where it would leave the practice (subject and
preview text) and never the default copy `check` flags. Run twice, it creates nothing the
second time.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from chairside import clock
from chairside.errors import ChairsideError
from chairside.newcampaign import NothingNew
from chairside.workspace import Workspace

_MONTH = re.compile(r"^(\d{4})-(\d{2})$")
FIRST_LOOK_BACK = timedelta(days=31)
"""Where no campaign has gone out yet: the posts of the last month."""


@dataclass(frozen=True)
class Drafted:
    name: str
    since: date
    since_why: str
    created: object
    """The NewCampaign `create_campaign` returned."""


def next_name(workspace: Workspace, today: date) -> str:
    """The month after the latest campaign named by month, else `today`'s month."""
    from chairside.campaignops import next_name as after

    existing = (
        [p.name for p in workspace.campaigns_dir.iterdir() if p.is_dir()]
        if (workspace.campaigns_dir.is_dir())
        else []
    )
    return after(existing, today)


def last_went_out(workspace: Workspace) -> tuple[str, datetime] | None:
    """(campaign, when) of the latest delivery of any campaign, on any route."""
    from chairside.delivery import state_dir
    from chairside.returnpath.state import latest_sends

    latest = latest_sends(state_dir(workspace), excluding=None)
    if not latest:
        return None
    campaign, at = max(latest.values(), key=lambda found: found[1])
    return campaign, datetime.fromisoformat(at)


def carried_urls(workspace: Workspace) -> frozenset[str]:
    """The web address of every post some campaign already carries."""
    from chairside.content import POST_EXTENSIONS, read_post

    urls = set()
    if workspace.campaigns_dir.is_dir():
        for path in workspace.campaigns_dir.glob("*/posts/*"):
            if path.suffix.lower() not in POST_EXTENSIONS:
                continue
            try:
                url = read_post(path).url
            except ChairsideError:
                continue  # a broken old post is that campaign's problem, not this one's
            if url:
                urls.add(url.rstrip("/"))
    return frozenset(urls)


def feed_address(workspace: Workspace) -> str:
    from chairside.tomlfile import load_toml

    table = load_toml(workspace.practice_file).get("feed", {})
    url = table.get("url", "") if isinstance(table, dict) else ""
    if not url:
        raise ChairsideError(
            "No blog feed is set up: add your blog's feed address to practice.toml as\n\n"
            '  [feed]\n  url = "https://your-practice.com/feed/"\n\n'
            "(or in the studio's Settings), or pass --feed."
        )
    return str(url)


def draft_next(workspace: Workspace, *, feed: str | None = None) -> Drafted:
    """Create next month's campaign from the feed's new posts, with drafted copy."""
    from chairside.newcampaign import create_campaign

    now = clock.now()
    name = next_name(workspace, now.date())
    if workspace.campaign_dir(name).exists():
        raise NothingNew(
            f"{name} is already drafted; nothing was created. Open it to go on "
            "(a second campaign for the month needs a name of its own)."
        )
    address = feed or feed_address(workspace)
    last = last_went_out(workspace)
    if last:
        since, why = last[1].date(), f"when {last[0]} went out"
    else:
        since, why = (now - FIRST_LOOK_BACK).date(), "no campaign has gone out yet"
    created = create_campaign(
        workspace,
        name,
        feeds=(address,),
        since=since,
        skip_urls=carried_urls(workspace),
        require_posts=True,
    )
    write_copy(workspace, name)
    return Drafted(name, since, why, created)


def write_copy(workspace: Workspace, name: str) -> None:
    """Subject, preview text and intro from the posts' titles and openings."""
    import tomlkit

    from chairside.audience.segments import load_segments
    from chairside.campaign import campaign_file, load_campaign
    from chairside.checks.privacy import concern_words
    from chairside.fsutil import write_text_atomic
    from chairside.workspace import load_practice

    segments = load_segments(workspace.segments_file)
    campaign = load_campaign(workspace, name, segments)
    practice = load_practice(workspace)
    naming = concern_words(segments)
    articles = campaign.articles

    def safe(text: str) -> bool:
        return not naming.search(text.replace("_", " "))

    # Office news first, then any post whose title names no concern.
    shareable = [a for a in articles if not a.tags and safe(a.title)]
    shareable += [a for a in articles if a.tags and safe(a.title) and a not in shareable]
    month = _month_words(name)
    if shareable:
        subject = _clip(shareable[0].title, 70)
    else:
        subject = f"{practice.name}: {month} reads from our team"
    opening = next((_first_sentence(a.summary) for a in shareable if a.summary), "")
    preheader = _clip(opening, 110) if opening and safe(opening) else ""
    if not preheader:
        others = [a.title for a in shareable[1:3]]
        preheader = _clip("Also inside: " + "; ".join(others), 110) if others else ""
    if not preheader:
        count = len(articles)
        preheader = f"{count} new post{'s' * (count != 1)} from our blog for {month}."
    intro = _intro(month, [a for a in articles if not a.tags] or list(articles))

    path = campaign_file(workspace, name)
    document = tomlkit.parse(path.read_text(encoding="utf-8"))
    document["subject"] = subject
    document["preheader"] = preheader
    document["intro"] = tomlkit.string(intro, multiline=True)
    overrides = tomlkit.table(is_super_table=True)
    for variant in campaign.variants:
        if variant.segment.is_general:
            continue
        own = [a for a in articles if variant.segment.id in a.tags]
        section = tomlkit.table()
        section["intro"] = tomlkit.string(_intro(month, own), multiline=True)
        overrides[variant.segment.id] = section
    if overrides:
        document["segments"] = overrides
    write_text_atomic(path, tomlkit.dumps(document))


def _intro(month: str, articles) -> str:
    if not articles:
        return f"Here is our newsletter for {month}."
    lead = articles[0]
    lines = [f"This month we start with “{lead.title}”."]
    if opening := _first_sentence(lead.summary):
        lines.append(opening)
    rest = [a.title for a in articles[1:4]]
    if rest:
        lines.append("Also in this issue: " + "; ".join(f"“{t}”" for t in rest) + ".")
    return "\n".join(lines)


def _first_sentence(text: str) -> str:
    text = " ".join((text or "").split())
    match = re.match(r"(.{20,200}?[.!?])(\s|$)", text)
    return match.group(1) if match else _clip(text, 160)


def _clip(text: str, limit: int) -> str:
    text = " ".join(text.split())
    if len(text) <= limit:
        return text
    cut = text[: limit - 1].rsplit(" ", 1)[0].rstrip(",;:")
    return cut + "…"


def _month_words(name: str) -> str:
    match = _MONTH.match(name)
    if not match:
        return "this month"
    return f"{date(int(match[1]), int(match[2]), 1):%B %Y}"
