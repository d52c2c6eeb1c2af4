"""A campaign: its settings, its posts, and one `Variant` per segment."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from chairside.audience.segments import GENERAL, Segment
from chairside.content import POST_EXTENSIONS, Article, read_post
from chairside.content.sanitize import plain_text
from chairside.content.topics import tag_article
from chairside.errors import WorkspaceError
from chairside.headers import header_problem
from chairside.tomlfile import (
    Problems,
    get_str,
    get_str_list,
    line_of,
    load_toml,
    unknown_keys,
)
from chairside.workspace import Workspace

CAMPAIGN_FILE = "campaign.toml"
FORMATS = ("auto", "full", "excerpt")
FORMAT_LABELS = {
    "auto": "the first posts in full, the rest as summaries (recommended)",
    "full": "each post in full",
    "excerpt": "each post as a summary with a link to it",
}
"""What each `format` does, in the words the studio shows beside it."""
CAMPAIGN_KEYS = ("subject", "preheader", "intro", "call_to_action", "format", "posts", "segments")
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")


@dataclass(frozen=True)
class PostEntry:
    """A post the campaign carries; `tags` None means "tag it from its words"."""

    file: str
    tags: tuple[str, ...] | None
    line: int | None = None


@dataclass(frozen=True)
class CampaignSettings:
    """What `campaign.toml` says."""

    subject: str
    preheader: str
    intro: str
    format: str
    posts: tuple[PostEntry, ...]
    segment_subjects: dict[str, str]
    segment_intros: dict[str, str]
    call_to_action: str = ""
    """The line above the booking button after the lead post ("Jaw sore in the morning?
    Ask us about a night guard"); per version in [segments.ID]."""
    segment_calls: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Variant:
    """The newsletter one segment's patients receive."""

    id: str
    """Opaque (`2026-12-a`): what leaves the machine instead of the segment's name."""
    segment: Segment
    subject: str
    preheader: str
    intro: str
    articles: tuple[Article, ...]
    call_to_action: str = ""


@dataclass(frozen=True)
class Campaign:
    name: str
    settings: CampaignSettings
    articles: tuple[Article, ...]
    variants: tuple[Variant, ...]
    """One per segment that has a post about its concern, and `general`."""
    fallbacks: tuple[Segment, ...] = ()
    """Concern segments with no post this month: their patients get the general version."""

    @property
    def format(self) -> str:
        return self.settings.format

    def segment_for(self, segment_id: str) -> str:
        """The segment whose version a patient of `segment_id` receives."""
        if any(segment.id == segment_id for segment in self.fallbacks):
            return GENERAL
        return segment_id


def check_name(name: str) -> str:
    """A campaign name is a folder name and a UTM value: letters, digits, `-`, `_`, `.`."""
    if not _NAME.match(name) or len(name) > 64:
        raise WorkspaceError(
            f"{name!r} cannot be a campaign name: use up to 64 letters, digits, '-', '_' "
            "or '.', like 2026-12."
        )
    return name


def campaign_file(workspace: Workspace, name: str) -> Path:
    path = workspace.campaign_dir(check_name(name)) / CAMPAIGN_FILE
    if not path.is_file():
        existing = sorted(p.parent.name for p in workspace.campaigns_dir.glob(f"*/{CAMPAIGN_FILE}"))
        known = f" Campaigns here: {', '.join(existing)}." if existing else ""
        raise WorkspaceError(
            f"No campaign {name!r}: {workspace.relative(path)} does not exist.{known} "
            f"Create it with `chairside new {name} --post FILE`."
        )
    return path


def load_settings(
    workspace: Workspace, name: str, segments: tuple[Segment, ...]
) -> CampaignSettings:
    """Read `campaigns/NAME/campaign.toml`, reporting every problem at once."""
    path = campaign_file(workspace, name)
    label = workspace.relative(path)
    data = load_toml(path, label=label)
    problems = Problems(label)
    known = {segment.id for segment in segments}

    unknown_keys(data, CAMPAIGN_KEYS, problems, where="", path=path)
    fmt = get_str(data, "format", problems, where="", default="auto")
    if fmt not in FORMATS:
        problems.add(
            f'format: must be "auto", "full" or "excerpt", not {fmt!r}',
            line=line_of(path, r"^\s*format\s*="),
        )
    posts = _post_entries(path, data.get("posts"), known, problems)

    subjects: dict[str, str] = {}
    intros: dict[str, str] = {}
    calls: dict[str, str] = {}
    overrides = data.get("segments", {})
    if not isinstance(overrides, dict):
        overrides = {}
        problems.add("segments: write each concern's settings as [segments.ID] sections")
    for seg_id, body in overrides.items():
        line = line_of(path, rf"^\s*\[segments\.{re.escape(seg_id)}\]")
        if seg_id not in known:
            problems.add(
                f"[segments.{seg_id}]: there is no concern {seg_id!r} in "
                f"audiences/segments.toml (known: {', '.join(sorted(known))})",
                line=line,
            )
            continue
        if not isinstance(body, dict):
            problems.add(f"[segments.{seg_id}] must be a section", line=line)
            continue
        where = f"[segments.{seg_id}] "
        if subject := get_str(body, "subject", problems, where=where):
            subjects[seg_id] = subject
        if intro := get_str(body, "intro", problems, where=where):
            intros[seg_id] = intro
        if call := get_str(body, "call_to_action", problems, where=where):
            calls[seg_id] = call

    settings = CampaignSettings(
        subject=get_str(data, "subject", problems, where=""),
        preheader=get_str(data, "preheader", problems, where=""),
        intro=get_str(data, "intro", problems, where=""),
        format=fmt,
        posts=posts,
        segment_subjects=subjects,
        segment_intros=intros,
        call_to_action=get_str(data, "call_to_action", problems, where=""),
        segment_calls=calls,
    )
    if not settings.subject:
        problems.add('subject: missing; add a line like subject = "December news"')
    # Each value with the regex of the line that sets it.
    one_line = [
        ("subject", settings.subject, r"^\s*subject\s*="),
        ("preheader", settings.preheader, r"^\s*preheader\s*="),
    ]
    one_line += [
        (f"[segments.{k}] subject", v, rf"^\s*\[segments\.{re.escape(k)}\]")
        for k, v in subjects.items()
    ]
    for key, value, pattern in one_line:
        if problem := header_problem(value):
            problems.add(
                f"{key}: {problem} (it becomes an email header)", line=line_of(path, pattern)
            )
    problems.raise_if_any()
    return settings


def _post_entries(
    path: Path, raw: Any, known: set[str], problems: Problems
) -> tuple[PostEntry, ...]:
    if raw is None:  # no [[posts]]: every post in the folder, tagged from its words
        folder = path.parent / "posts"
        files = sorted(
            p.name
            for p in folder.glob("*")
            if p.suffix.lower() in POST_EXTENSIONS and not p.name.startswith(".")
        )
        return tuple(PostEntry(file=name, tags=None) for name in files)
    if not isinstance(raw, list):
        problems.add('posts: write each post as a [[posts]] section with file = "..."')
        return ()
    lines = iter(_lines_of_posts(path))
    entries = []
    for number, item in enumerate(raw, 1):
        line = next(lines, None)
        if not isinstance(item, dict) or not isinstance(item.get("file"), str):
            problems.add(f'post #{number}: needs file = "name of the post in posts/"', line=line)
            continue
        tags = None
        if "tags" in item:
            tags = tuple(get_str_list(item, "tags", problems, where=f"post {item['file']}: "))
            for tag in tags:
                if tag not in known:
                    problems.add(
                        f"post {item['file']}: tags: there is no concern {tag!r} in "
                        f"audiences/segments.toml (known: {', '.join(sorted(known))})",
                        line=line,
                    )
        entries.append(PostEntry(file=item["file"], tags=tags, line=line))
    return tuple(entries)


def _lines_of_posts(path: Path) -> list[int]:
    text = path.read_text(encoding="utf-8-sig").splitlines()
    return [n for n, line in enumerate(text, 1) if re.match(r"^\s*\[\[posts\]\]", line)]


def read_articles(
    workspace: Workspace, name: str, settings: CampaignSettings, segments: tuple[Segment, ...]
) -> tuple[Article, ...]:
    """Read every post of the campaign, in order, and tag it with its concerns."""
    folder = workspace.campaign_dir(name) / "posts"
    label = workspace.relative(folder.parent / CAMPAIGN_FILE)
    if not settings.posts:
        raise WorkspaceError(
            f"{label}: the campaign has no posts. Put posts in {workspace.relative(folder)}/ "
            "or list them as [[posts]] sections."
        )
    articles = []
    for entry in settings.posts:
        path = folder / entry.file
        place = f"{label}, line {entry.line}" if entry.line else label
        if not _inside(path, folder.parent):
            raise WorkspaceError(
                f"{place}: the post {entry.file!r} is outside the campaign's folder "
                f"{workspace.relative(folder.parent)}/, and a campaign carries only its own "
                f"files. Copy the post to {workspace.relative(folder)}/ and give its file "
                "name alone."
            )
        if not path.is_file():
            raise WorkspaceError(
                f"{place}: the post {entry.file!r} is not in {workspace.relative(folder)}/. "
                "Check the file name, or remove its [[posts]] section."
            )
        article = read_post(path)
        if not (plain_text(article.body_html) or article.summary or article.images):
            raise WorkspaceError(
                f"{place}: the post {entry.file!r} has a title but no text: a version "
                "carrying it would have no article at all. Write the post, or remove its "
                "[[posts]] section."
            )
        tags = entry.tags if entry.tags is not None else tag_article(article, segments)
        articles.append(article.with_tags(tags))
    return tuple(articles)


def _inside(path: Path, folder: Path) -> bool:
    """`path` is within `folder` once `..` and symbolic links are followed."""
    try:
        return path.resolve().is_relative_to(folder.resolve())
    except (OSError, ValueError, RuntimeError):  # a NUL in the name, a symlink loop
        return False


def variant_id(campaign: str, index: int) -> str:
    """`2026-12-a`, `2026-12-b`, …: a variant's name that says nothing about a concern."""
    letters = ""
    index += 1
    while index:
        index, rest = divmod(index - 1, 26)
        letters = chr(ord("a") + rest) + letters
    return f"{campaign}-{letters}"


def plan_variants(
    name: str,
    settings: CampaignSettings,
    articles: tuple[Article, ...],
    segments: tuple[Segment, ...],
) -> tuple[tuple[Variant, ...], tuple[Segment, ...]]:
    """(variants, fallbacks): one variant per segment with a post about its concern.

    A concern segment leads with the posts tagged for it, and office news (posts tagged for
    no concern) follows. `general` never leads with a post about a concern its patients do
    not have: office news comes first, then the concern posts, broadest (most concerns)
    first. Within each
    group the campaign's order is kept. A concern with no post of its own this month gets
    no variant of its own: its patients receive the general version (office news alone is
    not a newsletter about their concern), and it is listed in `fallbacks`. Variant ids
    follow the segment's place in segments.toml, so they stay the same month to month.
    """
    office_news = [a for a in articles if not a.tags]
    variants = []
    fallbacks = []
    for index, segment in enumerate(segments):
        if segment.is_general:
            concern_posts = sorted((a for a in articles if a.tags), key=lambda a: -len(a.tags))
            lead, rest = office_news, concern_posts
        else:
            lead = [a for a in articles if segment.id in a.tags]
            if not lead:
                fallbacks.append(segment)
                continue
            rest = office_news
        variants.append(
            Variant(
                id=variant_id(name, index),
                segment=segment,
                subject=settings.segment_subjects.get(segment.id, settings.subject),
                preheader=settings.preheader,
                intro=settings.segment_intros.get(segment.id, settings.intro),
                articles=tuple(lead + rest),
                call_to_action=settings.segment_calls.get(segment.id, settings.call_to_action),
            )
        )
    return tuple(variants), tuple(fallbacks)


def load_campaign(workspace: Workspace, name: str, segments: tuple[Segment, ...]) -> Campaign:
    settings = load_settings(workspace, name, segments)
    articles = read_articles(workspace, name, settings, segments)
    variants, fallbacks = plan_variants(name, settings, articles, segments)
    return Campaign(name, settings, articles, variants, fallbacks)
