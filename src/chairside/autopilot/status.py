"""Where a campaign stands along the month: tested, approved, scheduled, held, sent.

Kept in `campaigns/NAME/status.toml`, inside the campaign's own folder, so it travels with
the campaign when the practice folder is copied. Chairside writes it (atomically); a person
reads it, and the studio and `chairside schedule` show it.

An approval is of *content*: the fingerprint of everything that decides what patients
receive (the campaign's text and posts, the practice's details and look, the concerns,
the templates). Any change to those voids it, whenever it happens; a change to the mail
server, the mailbox, a provider key or the schedule does not.
"""

from __future__ import annotations

import hashlib
import tomllib
from dataclasses import dataclass, field, fields
from pathlib import Path

from chairside.errors import ChairsideError
from chairside.fsutil import write_text_atomic
from chairside.tomlwrite import toml_str
from chairside.workspace import PRACTICE_FILE, Workspace

STATUS_FILE = "status.toml"
IGNORED_PRACTICE_TABLES = ("smtp", "imap", "providers", "feed", "schedule", "dkim")
"""practice.toml sections that say how mail travels, not what it says."""


@dataclass
class Status:
    """One campaign's `status.toml`; every time is ISO 8601 with its offset."""

    tested_at: str = ""
    tested_to: str = ""
    tested_fingerprint: str = ""
    approved_by: str = ""
    approved_at: str = ""
    approved_fingerprint: str = ""
    scheduled_at: str = ""
    """When it goes: the practice's local time, with its offset."""
    route: str = ""
    """smtp, mailchimp, sendgrid or mailgun."""
    window_hours: float = 24.0
    held_at: str = ""
    held_reason: str = ""
    """Why `due` did not send it (empty once it goes, or after a cancel)."""
    told: list[str] = field(default_factory=list)
    """What the office was already emailed about ("reminder:<fp>", "held:<reason>"), so a
    job running every 15 minutes tells each thing once."""
    started_at: str = ""
    done_at: str = ""


def status_path(workspace: Workspace, name: str) -> Path:
    return workspace.campaign_dir(name) / STATUS_FILE


def read_status(workspace: Workspace, name: str) -> Status:
    path = status_path(workspace, name)
    if not path.is_file():
        return Status()
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ChairsideError(
            f"{workspace.relative(path)} cannot be read ({exc}). Chairside writes this file; "
            "delete it to start the campaign's approval and schedule again."
        ) from None
    known = {f.name for f in fields(Status)}
    return Status(**{k: v for k, v in data.items() if k in known})


def write_status(workspace: Workspace, name: str, status: Status) -> None:
    lines = [
        "# Written by Chairside: this campaign's test, approval and schedule. Change them",
        "# with `chairside approve`, `chairside schedule` or in the studio.",
    ]
    for f in fields(Status):
        value = getattr(status, f.name)
        if value in ("", [], None) or (f.name == "window_hours" and value == 24.0):
            continue
        if isinstance(value, list):
            lines.append(f"{f.name} = [{', '.join(toml_str(v) for v in value)}]")
        elif isinstance(value, float):
            lines.append(f"{f.name} = {value}")
        else:
            lines.append(f"{f.name} = {toml_str(value)}")
    write_text_atomic(status_path(workspace, name), "\n".join(lines) + "\n")


def fingerprint(workspace: Workspace, name: str) -> str:
    """A hash of everything that decides what the campaign's patients receive."""
    folder = workspace.campaign_dir(name)
    digest = hashlib.sha256()

    def add(label: str, data: bytes) -> None:
        digest.update(f"{label}\0{len(data)}\0".encode())
        digest.update(data)

    add("campaign.toml", _read(folder / "campaign.toml"))
    for path in _files(folder / "posts"):
        add(f"posts/{path.relative_to(folder / 'posts').as_posix()}", path.read_bytes())
    add(PRACTICE_FILE, _practice_content(workspace.practice_file))
    add("segments.toml", _read(workspace.segments_file))
    for path in _files(workspace.templates_dir):
        add(f"templates/{path.relative_to(workspace.templates_dir).as_posix()}", path.read_bytes())
    return digest.hexdigest()[:16]


def _read(path: Path) -> bytes:
    return path.read_bytes() if path.is_file() else b""


def _files(folder: Path) -> list[Path]:
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.rglob("*") if p.is_file() and not p.name.startswith("."))


def _practice_content(path: Path) -> bytes:
    """practice.toml without the sections that only say how mail travels."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
        return _read(path)  # the commands themselves report a broken practice.toml
    kept = {k: v for k, v in data.items() if k not in IGNORED_PRACTICE_TABLES}
    return repr(sorted(kept.items())).encode()


def is_approved(status: Status, current: str) -> bool:
    return bool(status.approved_at) and status.approved_fingerprint == current


def is_tested(status: Status, current: str) -> bool:
    return bool(status.tested_at) and status.tested_fingerprint == current


@dataclass(frozen=True)
class Stage:
    """Where a campaign is along the month, for a person: one word and a sentence."""

    word: str
    detail: str
