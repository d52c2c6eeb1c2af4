"""When a campaign goes: its schedule in the practice's time zone, and whether it went."""

from __future__ import annotations

import sqlite3
from datetime import datetime

from chairside import clock
from chairside.autopilot.status import Status, read_status, write_status
from chairside.errors import ChairsideError
from chairside.workspace import Workspace

ROUTES = ("smtp", "mailchimp", "sendgrid", "mailgun")
ROUTE_WORDS = {
    "smtp": "over your mail server",
    "mailchimp": "through Mailchimp",
    "sendgrid": "through SendGrid",
    "mailgun": "through Mailgun",
}


def practice_zone(workspace: Workspace):
    """The practice's zone: `[schedule] timezone` in practice.toml, else this computer's."""
    from chairside.tomlfile import load_toml

    table = load_toml(workspace.practice_file).get("schedule", {})
    name = table.get("timezone", "") if isinstance(table, dict) else ""
    return clock.zone(str(name or ""))


def describe_schedule(workspace: Workspace, status: Status) -> str:
    at = datetime.fromisoformat(status.scheduled_at)
    return f"on {clock.spoken(at, practice_zone(workspace))} {ROUTE_WORDS.get(status.route, '')}"


def schedule(
    workspace: Workspace, name: str, at_text: str, *, route: str, window_hours: float = 24.0
) -> Status:
    """Schedule `name` to go at `at_text` (the practice's local time) over `route`."""
    from chairside.campaign import campaign_file

    campaign_file(workspace, name)
    if route not in ROUTES:
        raise ChairsideError(f"route {route!r}: choose one of {', '.join(ROUTES)}.")
    tz = practice_zone(workspace)
    at = clock.parse_local(at_text, tz)
    now = clock.now()
    if at <= now:
        raise ChairsideError(
            f"{clock.spoken(at, tz)} has already passed (it is now {clock.spoken(now, tz)}). "
            "Choose a time to come."
        )
    status = read_status(workspace, name)
    if status.done_at or status.started_at or went_out(workspace, name):
        raise ChairsideError(f"{name} has already gone out; there is nothing to schedule.")
    status.scheduled_at = at.isoformat(timespec="minutes")
    status.route = route
    status.window_hours = float(window_hours)
    status.held_at = status.held_reason = ""
    write_status(workspace, name, status)
    return status


def cancel(workspace: Workspace, name: str) -> bool:
    """Take `name` off the schedule; False when it was not on it."""
    status = read_status(workspace, name)
    if not status.scheduled_at:
        return False
    status.scheduled_at = status.route = status.held_at = status.held_reason = ""
    write_status(workspace, name, status)
    return True


def scheduled(workspace: Workspace) -> list[tuple[str, Status]]:
    """Every campaign with a schedule that has not finished, in name order."""
    found = []
    if not workspace.campaigns_dir.is_dir():
        return found
    for folder in sorted(workspace.campaigns_dir.iterdir()):
        if not (folder / "status.toml").is_file():
            continue
        status = read_status(workspace, folder.name)
        if status.scheduled_at and not status.done_at:
            found.append((folder.name, status))
    return found


def went_out(workspace: Workspace, name: str) -> str | None:
    """When `name` was first delivered to anyone (any route), from the send record."""
    from chairside.delivery import state_dir

    path = state_dir(workspace) / "state.db"
    if not path.is_file() or path.stat().st_size == 0:
        return None
    try:
        with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as db:
            row = db.execute(
                "SELECT min(updated_at) FROM deliveries WHERE campaign = ? AND status = 'sent'",
                (name,),
            ).fetchone()
    except sqlite3.DatabaseError:
        return None
    return row[0] if row else None
