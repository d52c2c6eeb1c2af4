"""`chairside new`: a campaign folder from post files, and feeds saved or fetched."""

from __future__ import annotations

import re
import shutil
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from chairside.audience.segments import Segment, load_segments
from chairside.campaign import CAMPAIGN_FILE, check_name
from chairside.content import POST_EXTENSIONS, Article, read_feed, read_post
from chairside.content.feed import parse_feed
from chairside.content.fetch import fetch_feed, is_address
from chairside.content.html import to_html_document
from chairside.content.topics import Tagging, explain
from chairside.errors import WorkspaceError
from chairside.fsutil import replacing_dir, write_text_atomic
from chairside.tomlwrite import toml_list, toml_str, toml_text
from chairside.urls import WEB_SCHEMES, safe_url
from chairside.workspace import Workspace, load_practice

DEFAULT_PREHEADER = "A few short reads from our team, and news from the office."
DEFAULT_INTRO = """\
Here is this month's newsletter from our team: a few short reads on keeping you
comfortable and healthy, and news from the office.

Thank you for being part of our practice."""


class NothingNew(WorkspaceError):
    """No new post to start a campaign from: nothing was created (not a failure)."""

    exit_code = 0


@dataclass(frozen=True)
class NewPost:
    file: str
    tagging: Tagging
    """The concerns Chairside gave the post, and why."""

    @property
    def tags(self) -> tuple[str, ...]:
        return self.tagging.tags


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
        "# Above the Book a visit button after the first post (a version's own under [segments]):",
        '# call_to_action = "Due for a check-up? We would be glad to see you."',
        '# "auto" paces for a phone: the first post (cut with "Continue reading" when long),',
        '# then summaries with "Read the article"; "full" every post in full; "excerpt" summaries.',
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
        '# call_to_action = "Jaw sore in the morning? Ask us about a night guard."',
    ]
    return "\n".join(lines) + "\n"


@dataclass
class _Sources:
    """Everything `new` read, before it writes anything."""

    files: list[tuple[Path, Article, bool]] = field(default_factory=list)
    """(file, article, rewrite): rewrite = save as an .html page carrying the --base-url,
    so the offline build resolves its links the same way."""
    entries: list[Article] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def _read_sources(
    posts: tuple[Path, ...], feeds: tuple[str, ...], since: date | None, base_url: str | None
) -> _Sources:
    """Read everything first, so a bad file or address stops `new` before it writes."""
    found = _Sources()
    for path in posts:
        if not path.is_file():
            raise WorkspaceError(f"{path}: no such file. Check the path given to --post.")
        if path.suffix.lower() not in POST_EXTENSIONS:
            raise WorkspaceError(
                f"{path}: Chairside reads posts saved as {', '.join(POST_EXTENSIONS)}. "
                "Save the post in one of those formats, or pass a feed with --feed."
            )
        own = read_post(path)
        article = read_post(path, base_url=base_url) if base_url else own
        relative = [d for d in own.dropped_urls if d.relative]
        if relative and not base_url and path.suffix.lower() in (".html", ".htm"):
            raise WorkspaceError(
                f'{path}: this saved page has no canonical address (<link rel="canonical">), '
                f"so its {len(relative)} relative link(s) and image(s), such as "
                f"{relative[0].url!r}, cannot be resolved. Give the address the post was "
                f"published at: chairside new ... --post {path} --base-url "
                "https://your-blog.example.com/the-post/"
            )
        found.files.append((path, article, bool(base_url) and own.url is None))
        found.notes += _dropped_notes(path.name, article)
    for feed in feeds:
        if is_address(feed):
            fetched = fetch_feed(feed)
            items = parse_feed(fetched.data, label=feed, since=since, base_url=fetched.url)
            if fetched.url.split("#")[0] != feed.split("#")[0]:
                found.notes.append(f"{feed}: read the feed at {fetched.url}")
        else:
            path = Path(feed).expanduser()
            if not path.is_file():
                raise WorkspaceError(f"{feed}: no such file. Check the path given to --feed.")
            items = read_feed(path, since=since)
        if not items:
            after = f" published on or after {since}" if since else ""
            found.notes.append(f"{feed}: no posts{after}")
        for item in items:
            found.notes += _dropped_notes(f"{item.title!r} ({item.source})", item)
        found.entries.extend(items)
    return found


def _dropped_notes(name: str, article: Article) -> list[str]:
    """A warning for each address the readers left out of `article`."""
    notes = []
    for dropped in article.dropped_urls:
        if dropped.relative:
            notes.append(
                f"warning: {name}: the relative {dropped.where} {dropped.url!r} could not be "
                "resolved and was left out; give --base-url (the post's web address)"
            )
        else:
            notes.append(
                f"warning: {name}: the {dropped.where} {dropped.url!r} was left out (only "
                "http, https, mailto and tel addresses go into an email)"
            )
    return notes


def create_campaign(
    workspace: Workspace,
    name: str,
    *,
    posts: tuple[Path, ...] = (),
    feeds: tuple[str, ...] = (),
    since: date | None = None,
    base_url: str | None = None,
    skip_urls: frozenset[str] = frozenset(),
    require_posts: bool = False,
) -> NewCampaign:
    """Create `campaigns/NAME/` with the posts and a campaign.toml to edit.

    `feeds` are feed files or http(s) addresses (fetched now, the only network use);
    `base_url` is the web address of `posts` that do not say where they were published.
    Feed entries whose address is in `skip_urls` (posts an earlier campaign carries) are
    left out; with `require_posts`, finding no post creates nothing (NothingNew).
    """
    folder = workspace.campaign_dir(check_name(name))
    if folder.exists():
        raise WorkspaceError(
            f"{workspace.relative(folder)} already exists. Add posts to it with "
            f"`chairside new {name} --add --post FILE` (or --feed), or choose another name."
        )
    practice = load_practice(workspace)
    segments = load_segments(workspace.segments_file)
    sources = _read_sources(posts, feeds, since, _checked_base_url(base_url))
    if skip_urls:
        sources.entries = [a for a in sources.entries if (a.url or "").rstrip("/") not in skip_urls]
    if require_posts and not (sources.files or sources.entries):
        after = f" since {since.day} {since:%B %Y}" if since else ""
        raise NothingNew(f"No new post on the blog{after}; nothing was created.")

    with replacing_dir(folder) as staging:
        (staging / "posts").mkdir()
        written = _write_posts(sources, staging / "posts", set(), segments)
        subject = default_subject(practice.name, name)
        (staging / CAMPAIGN_FILE).write_text(
            campaign_toml(subject, tuple(written), segments), encoding="utf-8"
        )
    notes = sources.notes
    if not written:
        notes.append(f"no posts yet: put post files in {workspace.relative(folder)}/posts/")
    return NewCampaign(workspace.relative(folder), tuple(written), tuple(notes))


def _checked_base_url(base_url: str | None) -> str | None:
    if base_url is not None and safe_url(base_url, schemes=WEB_SCHEMES) != base_url.strip():
        raise WorkspaceError(
            f"--base-url {base_url!r}: give the post's web address, like "
            "https://your-blog.example.com/the-post/"
        )
    return base_url and base_url.strip()


def _write_posts(
    sources: _Sources, folder: Path, taken: set[str], segments: tuple[Segment, ...]
) -> list[NewPost]:
    """Save what `_read_sources` read into `folder`, under names not in `taken`."""
    written: list[NewPost] = []
    for path, article, rewrite in sources.files:
        if rewrite:  # the address the post was given travels with it, as its canonical
            target = _unique(path.stem + ".html", taken)
            (folder / target).write_text(to_html_document(article), encoding="utf-8")
        else:
            target = _unique(path.name, taken)
            shutil.copyfile(path, folder / target)
        written.append(NewPost(target, explain(article, segments)))
    for article in sources.entries:
        target = _unique(_slug(article.title) + ".html", taken)
        (folder / target).write_text(to_html_document(article), encoding="utf-8")
        written.append(NewPost(target, explain(article, segments)))
    return written


def add_posts(
    workspace: Workspace,
    name: str,
    *,
    posts: tuple[Path, ...] = (),
    feeds: tuple[str, ...] = (),
    since: date | None = None,
    base_url: str | None = None,
) -> NewCampaign:
    """Add posts and feeds' posts to the existing campaign NAME (`chairside new --add`):
    copied into its posts/, appended to its campaign.toml after the posts it has, with
    their concerns guessed as `new` guesses them; the file's comments and the rest of it
    are kept. A result the campaign loader refuses is undone whole."""
    import tomlkit

    from chairside.campaign import campaign_file, load_settings

    path = campaign_file(workspace, name)  # an error naming the campaigns there are
    folder = path.parent
    if not (posts or feeds):
        raise WorkspaceError("Nothing to add: give a post file or a feed.")
    segments = load_segments(workspace.segments_file)
    sources = _read_sources(posts, feeds, since, _checked_base_url(base_url))
    post_dir = folder / "posts"
    post_dir.mkdir(exist_ok=True)
    taken = {p.name.lower() for p in post_dir.iterdir()}
    before = path.read_text(encoding="utf-8-sig")
    written = _write_posts(sources, post_dir, taken, segments)
    doc = tomlkit.parse(before)
    listed = doc.get("posts")
    if listed is None:
        listed = tomlkit.aot()
        doc.append("posts", listed)
    for post in written:
        table = tomlkit.table()
        table["file"] = post.file
        table["tags"] = list(post.tags)
        listed.append(table)
    try:
        write_text_atomic(path, tomlkit.dumps(doc))
        load_settings(workspace, name, segments)
    except BaseException:
        write_text_atomic(path, before)
        for post in written:
            (post_dir / post.file).unlink(missing_ok=True)
        raise
    notes = list(sources.notes)
    if not written:
        notes.append("nothing was added: the feed had no posts")
    return NewCampaign(workspace.relative(folder), tuple(written), tuple(notes))
