"""What the office does to a campaign after `chairside new`: add, remove and reorder its
posts, copy it as next month's start, and delete a draft that was never sent.

Posts are read and tagged by the same readers and functions `chairside new` uses
(newcampaign.py); campaign.toml is edited in place with tomlkit, so its comments stay, and
read back with the CLI's own loader before it is kept.
"""

from __future__ import annotations

import re
import shutil
from datetime import date
from pathlib import Path

import tomlkit
from tomlkit.items import AoT

from chairside import clock
from chairside.audience.segments import load_segments
from chairside.campaign import CAMPAIGN_FILE, campaign_file, check_name, load_settings
from chairside.errors import ChairsideError, WorkspaceError
from chairside.fsutil import replacing_dir, write_text_atomic
from chairside.newcampaign import default_subject
from chairside.workspace import Workspace, load_practice


def _posts_dir(workspace: Workspace, name: str) -> Path:
    return workspace.campaign_dir(name) / "posts"


def _edit(workspace: Workspace, name: str, change) -> None:
    """Apply `change(doc)` to campaign.toml; a result the CLI would refuse is not kept."""
    path = campaign_file(workspace, name)
    before = path.read_text(encoding="utf-8-sig")
    doc = tomlkit.parse(before)
    change(doc)
    write_text_atomic(path, tomlkit.dumps(doc))
    try:
        load_settings(workspace, name, load_segments(workspace.segments_file))
    except ChairsideError:
        write_text_atomic(path, before)
        raise


def remove_post(workspace: Workspace, name: str, file: str) -> None:
    """Take `file` out of campaign NAME: its [[posts]] entry and its file in posts/."""
    campaign_file(workspace, name)

    def change(doc) -> None:
        existing = doc.get("posts")
        if not isinstance(existing, AoT) or not any(t.get("file") == file for t in existing):
            raise WorkspaceError(f"{name} has no post {file!r}: it was removed already.")
        kept = [t for t in existing if t.get("file") != file]
        del doc["posts"]
        if kept:
            ordered = tomlkit.aot()
            for table in kept:
                ordered.append(table)
            doc.append("posts", ordered)

    _edit(workspace, name, change)
    target = _posts_dir(workspace, name) / Path(file).name
    if target.parent == _posts_dir(workspace, name):
        target.unlink(missing_ok=True)


def copy_campaign(workspace: Workspace, source: str, name: str) -> str:
    """A new campaign NAME with `source`'s settings and posts, as a start: nothing of its
    send record comes along (that is kept by campaign name). A subject that was the
    default for `source` ("… news: December 2026") becomes NAME's default. Returns the new
    folder, relative."""
    source_file = campaign_file(workspace, source)
    folder = workspace.campaign_dir(check_name(name))
    if folder.exists():
        raise WorkspaceError(f"There is a campaign called {name} already. Choose another name.")
    practice = load_practice(workspace)
    doc = tomlkit.parse(source_file.read_text(encoding="utf-8-sig"))
    if str(doc.get("subject", "")) == default_subject(practice.name, source):
        doc["subject"] = default_subject(practice.name, name)
    with replacing_dir(folder) as staging:
        posts = source_file.parent / "posts"
        if posts.is_dir():
            shutil.copytree(posts, staging / "posts")
        else:
            (staging / "posts").mkdir()
        (staging / CAMPAIGN_FILE).write_text(tomlkit.dumps(doc), encoding="utf-8")
    return workspace.relative(folder)


def never_sent(workspace: Workspace, name: str) -> str | None:
    """None if nothing of campaign NAME was ever sent or handed to a provider, from here
    or the CLI; else why it must be kept (the ledger's words when it cannot be trusted)."""
    from chairside.delivery import state_dir
    from chairside.journal import Journal
    from chairside.ledger import LedgerError, is_locked, open_ledger

    state = state_dir(workspace)
    if is_locked(state, name):
        return f"{name} is being sent right now."
    journal = Journal(state, name).path
    if not (state / "state.db").exists() and not journal.exists():
        return None
    try:
        with open_ledger(state) as ledger:
            ledger.check(name)
            counts = ledger.counts(name)
    except LedgerError as exc:
        return exc.format_message()
    if counts:
        return (
            f"{name} has been sent to {sum(counts.values())} patient(s) (or handed to a "
            "provider): it is kept, so it is never sent to them again."
        )
    if journal.exists() and journal.stat().st_size:
        return f"{name} has a send journal: something of it was sent once, so it is kept."
    return None


def delete_draft(workspace: Workspace, name: str) -> None:
    """Delete campaign NAME (its folder and its built emails), only if it was never sent."""
    folder = campaign_file(workspace, name).parent
    refused = never_sent(workspace, name)
    if refused:
        raise WorkspaceError(f"{name} cannot be deleted: {refused}")
    shutil.rmtree(folder)
    shutil.rmtree(workspace.build_dir / name, ignore_errors=True)


def next_name(existing: list[str], today: date | None = None) -> str:
    """The month after the newest YYYY-MM campaign, else this month (2027-01)."""
    months = [n for n in existing if re.fullmatch(r"\d{4}-\d{2}", n)]
    if months:
        year, month = (int(part) for part in max(months).split("-"))
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
        return f"{year}-{month:02d}"
    today = today or clock.now().date()
    return f"{today:%Y-%m}"
