"""Where each campaign stands: draft, checked, tested, approved, scheduled, sending, sent.

Sending and pushing are read from the ledger (the CLI's and the studio's alike); tests,
approvals and schedules from the campaign's status.toml (`chairside.autopilot.status`).
Checks leave nothing in the practice's files, so the studio remembers them in
`.chairside/studio.json`, keyed by the same fingerprint of everything that shapes the email:
an edit made anywhere (studio, editor, CLI) after a check makes the campaign a draft again.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass
from pathlib import Path

from chairside.autopilot.month import stage
from chairside.autopilot.status import fingerprint, is_tested, read_status
from chairside.campaign import CAMPAIGN_FILE
from chairside.delivery import state_dir
from chairside.fsutil import write_text_atomic
from chairside.journal import Journal
from chairside.ledger import SENT, LedgerError, is_locked, open_ledger
from chairside.workspace import Workspace

RECORD_FILE = "studio.json"
_record_lock = threading.Lock()


def _record_path(workspace: Workspace) -> Path:
    return state_dir(workspace) / RECORD_FILE


def read_records(workspace: Workspace) -> dict:
    try:
        data = json.loads(_record_path(workspace).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}  # missing or damaged: it only remembers checks; they can be run again
    return data if isinstance(data, dict) else {}


def remember(workspace: Workspace, name: str, **values) -> None:
    """Store `values` for campaign `name` (e.g. its check results, a test send)."""
    with _record_lock:
        records = read_records(workspace)
        entry = records.get(name) if isinstance(records.get(name), dict) else {}
        entry.update(values)
        records[name] = entry
        write_text_atomic(_record_path(workspace), json.dumps(records, indent=2) + "\n")


def record(workspace: Workspace, name: str) -> dict:
    found = read_records(workspace).get(name)
    return found if isinstance(found, dict) else {}


@dataclass(frozen=True)
class Delivery:
    """What the ledger says about a campaign."""

    sent: int
    other: int
    """Rows not (yet) sent: in flight, failed, deferred."""
    pushed: bool
    running: bool
    problem: str | None = None
    """Why the ledger cannot be trusted for this campaign (lost, older than its journal,
    damaged): then nothing is known to be sent, which is not the same as nothing sent."""


def delivery(workspace: Workspace, name: str) -> Delivery:
    state = state_dir(workspace)
    if not (state / "state.db").exists() and not Journal(state, name).path.exists():
        return Delivery(0, 0, False, False)  # never sent, from here or the CLI
    try:
        with open_ledger(state) as ledger:
            ledger.check(name)  # a deleted or older ledger must not read as "nothing sent"
            rows = ledger.rows(name)
            pushed = bool(ledger.routes(name) - {"smtp"})
    except LedgerError as exc:
        return Delivery(0, 0, False, is_locked(state, name), problem=exc.format_message())
    sent = sum(1 for row in rows if row.status == SENT)
    in_doubt = sum(1 for row in rows if row.status != SENT)
    return Delivery(sent, in_doubt, pushed, is_locked(state, name))


@dataclass(frozen=True)
class CampaignState:
    name: str
    state: str
    """draft, needs fixes, checked, tested, approved, scheduled, held, sending, partly sent,
    sent, pushed, or ledger lost (its `next_step` is then the ledger's own message)."""
    next_step: str
    errors: int | None
    warnings: int | None
    sent: int


def campaign_state(workspace: Workspace, name: str) -> CampaignState:
    remembered = record(workspace, name)
    current = remembered.get("fingerprint") == fingerprint(workspace, name)
    errors = remembered.get("errors") if current else None
    warnings = remembered.get("warnings") if current else None
    sent = delivery(workspace, name)
    if sent.problem:
        state, step = "ledger lost", sent.problem
    elif sent.running:
        state, step = "sending", "Watch its progress"
    elif sent.pushed:
        state, step = "pushed", "See its status"
    elif sent.sent and sent.other:
        state, step = "partly sent", "Resume the send, or see its status"
    elif sent.sent:
        month = stage(workspace, name)  # sent, or closed once read back and reported on
        state, step = (
            (month.word, month.detail) if month.word == "closed" else ("sent", "See its status")
        )
    elif errors:
        state, step = "needs fixes", f"Fix {errors} error{'s' * (errors != 1)}"
    elif (month := stage(workspace, name)).word in ("approved", "scheduled", "held"):
        state, step = month.word, month.detail
    elif is_tested(read_status(workspace, name), fingerprint(workspace, name)):
        state, step = "tested", "Approve it, then send it or schedule it"
    elif errors is None:
        state, step = "draft", "Edit it and check it"
    else:
        state, step = "checked", "Send yourself a test"
    return CampaignState(name, state, step, errors, warnings, sent.sent)


def campaign_names(workspace: Workspace) -> list[str]:
    """Every campaign in the practice, newest name first (2026-12 before 2026-11)."""
    found = [p.parent.name for p in workspace.campaigns_dir.glob(f"*/{CAMPAIGN_FILE}")]
    return sorted(found, reverse=True)
