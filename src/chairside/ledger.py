"""The ledger: who has been sent which campaign, kept in `.chairside/state.db` (SQLite).

One row per (campaign, patient), enforced by the primary key, so a patient can never be
recorded twice. The order of writes is what makes a crash safe:

    sending   committed *before* the SMTP transaction starts
    sent      committed after the server accepted the message (with its reply)
    failed    the server refused it for good (5xx)
    deferred  the server refused it for now (4xx) after every retry: tried again next run

A row left in `sending` means the process stopped mid-transaction: the message may or may
not have been delivered. It is reported as unknown and resent only when asked.
"""

from __future__ import annotations

import os
import sqlite3
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from chairside.errors import ChairsideError

SCHEMA = """
CREATE TABLE IF NOT EXISTS deliveries (
    campaign   TEXT NOT NULL,
    patient    TEXT NOT NULL,           -- the address, lowercased
    email      TEXT NOT NULL,
    variant    TEXT NOT NULL,           -- opaque variant id, never a concern
    via        TEXT NOT NULL DEFAULT 'smtp',  -- smtp, or the provider it was handed to
    status     TEXT NOT NULL CHECK (status IN ('sending', 'sent', 'failed', 'deferred')),
    message_id TEXT,
    reply      TEXT,
    attempts   INTEGER NOT NULL DEFAULT 0,
    updated_at TEXT NOT NULL,
    PRIMARY KEY (campaign, patient)
);
CREATE TABLE IF NOT EXISTS steps (        -- provider objects made once per campaign
    campaign   TEXT NOT NULL,
    provider   TEXT NOT NULL,
    step       TEXT NOT NULL,           -- e.g. "campaign 2026-12-a"
    value      TEXT NOT NULL,           -- what the provider answered (e.g. its id)
    PRIMARY KEY (campaign, provider, step)
);
"""
SENDING, SENT, FAILED, DEFERRED = "sending", "sent", "failed", "deferred"


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


@dataclass(frozen=True)
class Row:
    patient: str
    email: str
    variant: str
    status: str
    reply: str | None
    attempts: int


class Ledger:
    """The deliveries table; every method commits before it returns."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        if path.exists() and path.stat().st_size == 0:
            # Chairside writes its tables the moment it creates the file, so an empty file
            # was emptied by something else (a sync conflict, a failed copy). Reading it as
            # "nothing sent yet" would send everyone the campaign again.
            raise ChairsideError(
                f"{path} is empty, but Chairside never leaves it so: it records who has been "
                "sent what. Restore it from a backup (or from your sync service's history) "
                "before sending; nothing was sent."
            )
        self.db = sqlite3.connect(path, timeout=30, isolation_level=None)
        try:
            self.db.execute("PRAGMA journal_mode=WAL")
            # FULL: a committed "sending" must survive a power cut, not only a crash.
            self.db.execute("PRAGMA synchronous=FULL")
            self.db.executescript(SCHEMA)
        except sqlite3.DatabaseError as exc:
            self.db.close()
            raise ChairsideError(
                f"{path} is damaged ({exc}). It records who has been sent what, so Chairside "
                "stops rather than risk sending twice: restore it from a backup, or ask for help."
            ) from None

    def close(self) -> None:
        self.db.close()

    def statuses(self, campaign: str) -> dict[str, str]:
        query = "SELECT patient, status FROM deliveries WHERE campaign = ?"
        return dict(self.db.execute(query, (campaign,)))

    def rows(self, campaign: str) -> list[Row]:
        query = (
            "SELECT patient, email, variant, status, reply, attempts FROM deliveries "
            "WHERE campaign = ? ORDER BY updated_at, patient"
        )
        return [Row(*row) for row in self.db.execute(query, (campaign,))]

    def emails(self) -> set[str]:
        """Every address any campaign was sent (or tried) to."""
        return {email for (email,) in self.db.execute("SELECT DISTINCT email FROM deliveries")}

    def mark_sending(self, campaign: str, patient: str, email: str, variant: str) -> None:
        self.db.execute(
            "INSERT INTO deliveries (campaign, patient, email, variant, status, attempts, "
            "updated_at) VALUES (?, ?, ?, ?, 'sending', 1, ?) "
            "ON CONFLICT (campaign, patient) DO UPDATE SET status = 'sending', "
            "variant = excluded.variant, attempts = attempts + 1, updated_at = excluded.updated_at "
            "WHERE status != 'sent'",
            (campaign, patient, email, variant, _now()),
        )

    def mark_batch_sending(
        self, campaign: str, via: str, batch: str, members: list[tuple[str, str, str]]
    ) -> None:
        """Record (patient key, email, variant) as `sending` in one transaction, before the
        request that hands them to a provider; `batch` is kept as their message id."""
        now = _now()
        with self.db:
            self.db.execute("BEGIN")
            self.db.executemany(
                "INSERT INTO deliveries (campaign, patient, email, variant, via, status, "
                "message_id, attempts, updated_at) VALUES (?, ?, ?, ?, ?, 'sending', ?, 1, ?) "
                "ON CONFLICT (campaign, patient) DO UPDATE SET status = 'sending', "
                "via = excluded.via, message_id = excluded.message_id, "
                "attempts = attempts + 1, updated_at = excluded.updated_at WHERE status != 'sent'",
                [
                    (campaign, key, email, variant, via, batch, now)
                    for key, email, variant in members
                ],
            )

    def finish_batch(
        self, campaign: str, batch: str, *, reply: str, failed: dict[str, str] | None = None
    ) -> None:
        """The provider accepted the batch: `sent`, except `failed` (patient key → reason)."""
        now = _now()
        with self.db:
            self.db.execute("BEGIN")
            self.db.execute(
                "UPDATE deliveries SET status = 'sent', reply = ?, updated_at = ? "
                "WHERE campaign = ? AND message_id = ? AND status = 'sending'",
                (reply, now, campaign, batch),
            )
            self.db.executemany(
                "UPDATE deliveries SET status = 'failed', reply = ?, updated_at = ? "
                "WHERE campaign = ? AND patient = ?",
                [(reason, now, campaign, key) for key, reason in (failed or {}).items()],
            )

    def abandon_batch(self, campaign: str, batch: str, *, reply: str) -> None:
        """The request certainly failed: the batch goes back to be tried again (deferred)."""
        self.db.execute(
            "UPDATE deliveries SET status = 'deferred', reply = ?, updated_at = ? "
            "WHERE campaign = ? AND message_id = ? AND status = 'sending'",
            (reply, _now(), campaign, batch),
        )

    def step(self, campaign: str, provider: str, step: str) -> str | None:
        row = self.db.execute(
            "SELECT value FROM steps WHERE campaign = ? AND provider = ? AND step = ?",
            (campaign, provider, step),
        ).fetchone()
        return row[0] if row else None

    def steps_like(self, campaign: str, provider: str, prefix: str) -> list[str]:
        query = "SELECT value FROM steps WHERE campaign = ? AND provider = ? AND step LIKE ?"
        return [v for (v,) in self.db.execute(query, (campaign, provider, prefix + " %"))]

    def record_step(self, campaign: str, provider: str, step: str, value: str) -> None:
        self.db.execute(
            "INSERT OR REPLACE INTO steps (campaign, provider, step, value) VALUES (?, ?, ?, ?)",
            (campaign, provider, step, value),
        )

    def finish(
        self, campaign: str, patient: str, status: str, *, reply: str, message_id: str | None = None
    ) -> None:
        self.db.execute(
            "UPDATE deliveries SET status = ?, reply = ?, message_id = coalesce(?, message_id), "
            "updated_at = ? WHERE campaign = ? AND patient = ?",
            (status, reply, message_id, _now(), campaign, patient),
        )


@contextmanager
def open_ledger(state_dir: Path) -> Iterator[Ledger]:
    ledger = Ledger(state_dir / "state.db")
    try:
        yield ledger
    finally:
        ledger.close()


@contextmanager
def campaign_lock(state_dir: Path, campaign: str, *, holder: str = "send") -> Iterator[None]:
    """Only one delivery of a campaign at a time, on any route (SMTP or a provider push).

    `holder` says what took the lock ("send", "push to mailgun"), so a refused second run
    can name it. The OS releases the lock if the process dies.
    """
    state_dir.mkdir(parents=True, exist_ok=True)
    path = state_dir / f"send-{campaign}.lock"
    handle = path.open("a+")
    try:
        if not _try_lock(handle):
            handle.seek(0)
            running = handle.read().strip() or "another chairside command"
            raise ChairsideError(
                f"{campaign} is already being delivered by {running}. Wait for it to finish, "
                f"or check it with `chairside status {campaign}`."
            )
        handle.seek(0)
        handle.truncate()
        handle.write(f"`chairside {holder}` (process {os.getpid()})")
        handle.flush()
        yield
    finally:
        handle.close()


def is_locked(state_dir: Path, campaign: str) -> bool:
    """Whether a send of `campaign` is running now."""
    path = state_dir / f"send-{campaign}.lock"
    if not path.exists():
        return False
    with path.open("a+") as handle:
        return not _try_lock(handle)


def _try_lock(handle) -> bool:
    if sys.platform == "win32":  # pragma: no cover - exercised on Windows only
        import msvcrt

        try:
            msvcrt.locking(handle.fileno(), msvcrt.LK_NBLCK, 1)
        except OSError:
            return False
        return True
    import fcntl

    try:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        return False
    return True
