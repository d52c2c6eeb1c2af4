"""`chairside new`: a campaign folder from post files and saved feeds."""

from __future__ import annotations

import re
import shutil
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from chairside.audience.segments import Segment, load_segments
from chairside.campaign import CAMPAIGN_FILE, check_name
from chairside.content import POST_EXTENSIONS, Article, read_feed, read_post
from chairside.content.html import to_html_document
from chairside.content.topics import tag_article
from chairside.errors import WorkspaceError
from chairside.fsutil import replacing_dir
from chairside.tomlwrite import toml_list, toml_str, toml_text
from chairside.workspace import Workspace, load_practice

DEFAULT_PREHEADER = "A few short reads from our team, and news from the office."
DEFAULT_INTRO = """\
Here is this month's newsletter from our team: a few short reads on keeping you
comfortable and healthy, and news from the office.

Thank you for being part of our practice."""


@dataclass(frozen=True)
class NewPost:
    file: str
    tags: tuple[str, ...]


@dataclass(frozen=True)
class NewCampaign:
    folder: str
    posts: tuple[NewPost, ...]
    notes: tuple[str, ...] = field(default_factory=tuple)


def _slug(text: str) -> str:
    slug = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")
    return slug[:60].rstrip("-") or "post"


def _unique(name: str, taken: set[str]) -> str:
    stem, dot, ext = name.rpartition(".")
    if not dot:
        stem, ext = name, ""
    candidate, n = name, 2
    while candidate.lower() in taken:
        candidate = f"{stem}-{n}.{ext}" if ext else f"{stem}-{n}"
        n += 1
    taken.add(candidate.lower())
    return candidate


def default_subject(practice_name: str, name: str) -> str:
    """`Lakeside Dental news: January 2027` for a campaign named 2027-01."""
    if re.fullmatch(r"\d{4}-\d{2}", name):
        month = date(int(name[:4]), int(name[5:]), 1)
        return f"{practice_name} news: {month:%B %Y}"
    return f"{practice_name} newsletter"


def campaign_toml(subject: str, posts: tuple[NewPost, ...], segments: tuple[Segment, ...]) -> str:
    """The text of a new campaign.toml, with comments that explain each setting."""
    names = ", ".join(f"{s.id} ({s.name})" for s in segments if not s.is_general)
    lines = [
        "# Build it with `chairside build NAME`; see it with `chairside preview NAME --open`.",
        "# Subjects and previews leave the practice: never name a condition in them.",
        f"subject = {toml_str(subject)}",
        f"preheader = {toml_str(DEFAULT_PREHEADER)}",
        f"intro = {toml_text(DEFAULT_INTRO)}",
        '# "auto" shows the first posts in full and, in a long email, the rest as summaries',
        '# with a "Read more" link; "full" shows every post in full; "excerpt" only summaries.',
        'format = "auto"',
        "",
        "# The posts, in order. tags = the patient concerns a post is about; [] = office news",
        f"# for everyone. Concerns: {names}.",
        "# Chairside guessed the tags from each post's words: check them.",
    ]
    for post in posts:
        lines += [
            "",
            "[[posts]]",
            f"file = {toml_str(post.file)}",
            f"tags = {toml_list(post.tags)}",
        ]
    lines += [
        "",
        "# A different opening (or subject) for one concern's patients, for example:",
        "# [segments.tmj]",
        '# intro = "This month we start with two posts for anyone with a sore jaw."',
    ]
    return "\n".join(lines) + "\n"


def _read_sources(
    posts: tuple[Path, ...], feeds: tuple[Path, ...], since: date | None
) -> tuple[list[tuple[Path, Article]], list[Article], list[str]]:
    """Read everything first, so a bad file stops `new` before it writes anything."""
    files = []
    for path in posts:
        if not path.is_file():
            raise WorkspaceError(f"{path}: no such file. Check the path given to --post.")
        if path.suffix.lower() not in POST_EXTENSIONS:
            raise WorkspaceError(
                f"{path}: Chairside reads posts saved as {', '.join(POST_EXTENSIONS)}. "
                "Save the post in one of those formats, or pass a feed with --feed."
            )
        files.append((path, read_post(path)))
    entries: list[Article] = []
    notes = []
    for feed in feeds:
        if "://" in str(feed) or str(feed).startswith(("http:", "https:")):
            raise WorkspaceError(
                f"{feed}: Chairside does not download feeds. Open the address in your browser, "
                "save the page (File > Save As, e.g. feed.xml), and give that file to --feed."
            )
        if not feed.is_file():
            raise WorkspaceError(f"{feed}: no such file. Check the path given to --feed.")
        found = read_feed(feed, since=since)
        if not found:
            after = f" published on or after {since}" if since else ""
            notes.append(f"{feed.name}: no posts{after}")
        entries.extend(found)
    return files, entries, notes


def create_campaign(
    workspace: Workspace,
    name: str,
    *,
    posts: tuple[Path, ...] = (),
    feeds: tuple[Path, ...] = (),
    since: date | None = None,
) -> NewCampaign:
    """Create `campaigns/NAME/` with the posts and a campaign.toml to edit."""
    folder = workspace.campaign_dir(check_name(name))
    if folder.exists():
        raise WorkspaceError(
            f"{workspace.relative(folder)} already exists. Choose another name, or edit "
            f"its {CAMPAIGN_FILE} and posts/ directly."
        )
    practice = load_practice(workspace)
    segments = load_segments(workspace.segments_file)
    files, entries, notes = _read_sources(posts, feeds, since)

    taken: set[str] = set()
    written: list[NewPost] = []
    with replacing_dir(folder) as staging:
        (staging / "posts").mkdir()
        for path, article in files:
            target = _unique(path.name, taken)
            shutil.copyfile(path, staging / "posts" / target)
            written.append(NewPost(target, tag_article(article, segments)))
        for article in entries:
            target = _unique(_slug(article.title) + ".html", taken)
            (staging / "posts" / target).write_text(to_html_document(article), encoding="utf-8")
            written.append(NewPost(target, tag_article(article, segments)))
        subject = default_subject(practice.name, name)
        (staging / CAMPAIGN_FILE).write_text(
            campaign_toml(subject, tuple(written), segments), encoding="utf-8"
        )
    if not written:
        notes.append(f"no posts yet: put post files in {workspace.relative(folder)}/posts/")
    return NewCampaign(workspace.relative(folder), tuple(written), tuple(notes))
