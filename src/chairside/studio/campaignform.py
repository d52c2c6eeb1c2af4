"""Writing the Edit page's form back into campaign.toml, keeping the file's comments.

tomlkit edits the document in place, so the comments `chairside new` wrote (and the
office's own) survive; the result is read back with the CLI's own loader before it is
kept, so the studio can never leave a campaign.toml the CLI refuses.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import tomlkit
from tomlkit.items import AoT

from chairside.audience.segments import Segment
from chairside.campaign import campaign_file, load_settings
from chairside.errors import ChairsideError
from chairside.fsutil import write_text_atomic
from chairside.workspace import Workspace


@dataclass
class CampaignForm:
    subject: str
    preheader: str
    intro: str
    format: str
    posts: list[tuple[str, tuple[str, ...]]]
    """(file, tags) in the order the newsletter shows them."""
    segment_subjects: dict[str, str] = field(default_factory=dict)
    segment_intros: dict[str, str] = field(default_factory=dict)
    call_to_action: str = ""
    """The line after the lead post ("Jaw sore in the morning? Ask us about a night guard")."""
    segment_calls: dict[str, str] = field(default_factory=dict)


def one_line(value: str) -> str:
    return " ".join(value.split())


def prose(value: str):
    """Multi-line prose as a TOML multi-line string, like the demo's (blank lines kept)."""
    text = value.replace("\r\n", "\n").replace("\r", "\n").strip()
    return tomlkit.string(text + "\n", multiline=True) if "\n" in text else text


def save_campaign(
    workspace: Workspace, name: str, form: CampaignForm, segments: tuple[Segment, ...]
) -> None:
    """Write `form` into campaigns/NAME/campaign.toml; a result the CLI would refuse is
    not kept (the file stays as it was) and its error is raised."""
    path = campaign_file(workspace, name)
    before = path.read_text(encoding="utf-8-sig")
    doc = tomlkit.parse(before)
    doc["subject"] = one_line(form.subject)
    _set_or_drop(doc, "preheader", one_line(form.preheader))
    _set_or_drop(doc, "intro", prose(form.intro))
    _set_or_drop(doc, "call_to_action", one_line(form.call_to_action))
    doc["format"] = form.format
    if form.posts:  # a form without the post list leaves [[posts]] as it is
        _write_posts(doc, form.posts)
    _write_segments(doc, form, segments)
    write_text_atomic(path, tomlkit.dumps(doc))
    try:
        load_settings(workspace, name, segments)
    except ChairsideError:
        write_text_atomic(path, before)
        raise


def _set_or_drop(table, key: str, value) -> None:
    if value:
        table[key] = value
    elif key in table:
        del table[key]


def _write_posts(doc, posts: list[tuple[str, tuple[str, ...]]]) -> None:
    existing = doc.get("posts")
    if isinstance(existing, AoT) and len(existing) == len(posts):
        # Same posts, maybe reordered: rewrite each [[posts]] section where it stands, so
        # the file's layout and comments stay put.
        for table, (file, tags) in zip(existing, posts, strict=True):
            table["file"] = file
            table["tags"] = list(tags)
        return
    if "posts" in doc:
        del doc["posts"]
    ordered = tomlkit.aot()
    for file, tags in posts:
        table = tomlkit.table()
        table["file"] = file
        table["tags"] = list(tags)
        ordered.append(table)
    if posts:
        doc.append("posts", ordered)


def _write_segments(doc, form: CampaignForm, segments: tuple[Segment, ...]) -> None:
    section = doc.get("segments")
    for segment in segments:
        subject = one_line(form.segment_subjects.get(segment.id, ""))
        intro = prose(form.segment_intros.get(segment.id, ""))
        call = one_line(form.segment_calls.get(segment.id, ""))
        if not (subject or intro or call) and (section is None or segment.id not in section):
            continue
        if section is None:
            section = tomlkit.table(is_super_table=True)
            doc.append("segments", section)
        if segment.id not in section:
            section.append(segment.id, tomlkit.table())
        body = section[segment.id]
        _set_or_drop(body, "subject", subject)
        _set_or_drop(body, "intro", intro)
        _set_or_drop(body, "call_to_action", call)
        if not body:
            del section[segment.id]
    if section is not None and not section:
        del doc["segments"]
