"""`chairside status`: where a campaign's sending stands, from the ledger and the list."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from chairside.audience.addresses import mask
from chairside.audience.patients import Audience
from chairside.ledger import (
    DEFERRED,
    FAILED,
    SENDING,
    SENT,
    LedgerError,
    Row,
    is_locked,
    open_ledger,
)

ADDRESS = re.compile(r"[^\s<>()\[\]\"',;:]+@[^\s<>()\[\]\"',;:]+\.[^\s<>()\[\]\"',;:]+")


def mask_reply(text: str) -> str:
    """A server reply with every address in it masked (`550 5.1.1 <ma***@example.com>`)."""
    return ADDRESS.sub(lambda found: mask(found.group(0)), text)


@dataclass
class Status:
    campaign: str
    running: bool
    sent: int = 0
    failed: list[dict[str, str]] = field(default_factory=list)
    deferred: list[dict[str, str]] = field(default_factory=list)
    unknown: list[str] = field(default_factory=list)
    pending: int = 0
    copy_doubt: str | None = None
    """Why this copy of the practice folder may not be the latest (its counts may be old),
    as `send` would say before refusing; None when it can be sent from."""

    def as_dict(self) -> dict:
        return {
            "campaign": self.campaign,
            "running": self.running,
            "sent": self.sent,
            "failed": self.failed,
            "deferred": self.deferred,
            "unknown": self.unknown,
            "pending": self.pending,
            "copy_doubt": self.copy_doubt,
        }


def campaign_status(name: str, audience: Audience, *, state: Path, show: bool = False) -> Status:
    """Counts from the ledger; `pending` = sendable patients it has no row for yet.

    `deferred` rows are tried again by the next send. Rows in `sending` are in flight while
    a send runs, and unknown otherwise (a crash left their delivery in doubt).
    """
    shown = (lambda a: a) if show else mask
    reason = (lambda r: r or "") if show else (lambda r: mask_reply(r or ""))
    with open_ledger(state) as ledger:
        ledger.check(name)  # a deleted or older ledger must not read as "nothing sent"
        rows: list[Row] = ledger.rows(name)
        said = None
        if rows:  # (nothing recorded, nothing to doubt: and no key file made by looking)
            try:
                doubt = ledger.doubt(name)
                said = doubt.message if doubt is not None else None
            except LedgerError as exc:  # what no confirmation settles: `send` says it too
                said = exc.message
    running = is_locked(state, name)
    status = Status(name, running, copy_doubt=said)
    recorded = set()
    for row in rows:
        recorded.add(row.patient)
        if row.status == SENT:
            status.sent += 1
        elif row.status == FAILED:
            status.failed.append({"email": shown(row.email), "reason": reason(row.reply)})
        elif row.status == DEFERRED:
            status.deferred.append({"email": shown(row.email), "reason": reason(row.reply)})
        elif row.status == SENDING:
            status.unknown.append(shown(row.email))
    status.pending = sum(1 for p in audience.patients if p.key not in recorded)
    return status
