"""What the return path remembers (`.chairside/returnpath.db`), and what it reads of the ledger.

Its own SQLite file, so the ledger that guards sending is only ever read here:

    messages  each mailbox message processed: (mailbox, UIDVALIDITY, UID) and its Message-ID
    events    each unsubscribe, bounce and complaint, under a key its source makes unique,
              so reading the same mail or API page twice records nothing twice
    syncs     when each source (the inbox, a provider) was last read completely
    held      what came back but could not be tied to mail Chairside sent that person: kept,
              with its reason, evidence and the message itself, until a person applies or
              dismisses it
    refusals  failures that are the practice's mail refused (spam-like, blocked, policy…),
              per campaign and receiving mail provider: never held against a patient
"""

from __future__ import annotations

import sqlite3
import sys
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC
from pathlib import Path

from chairside import clock
from chairside.errors import ChairsideError

DB_FILE = "returnpath.db"
UNSUBSCRIBE, BOUNCE, SOFT_BOUNCE, COMPLAINT = "unsubscribe", "bounce", "soft-bounce", "complaint"
KINDS = (UNSUBSCRIBE, BOUNCE, SOFT_BOUNCE, COMPLAINT)

SCHEMA = """
CREATE TABLE IF NOT EXISTS messages (
    mailbox      TEXT NOT NULL,
    uidvalidity  INTEGER NOT NULL,
    uid          INTEGER NOT NULL,
    message_key  TEXT NOT NULL,      -- Message-ID, or sha256 of the message without one
    outcome      TEXT NOT NULL,      -- what was done, for the record
    acted        INTEGER NOT NULL,   -- 1: ours, to be marked read or moved
    after_done   INTEGER NOT NULL,   -- 1: marked read or moved already
    processed_at TEXT NOT NULL,
    PRIMARY KEY (mailbox, uidvalidity, uid)
);
CREATE INDEX IF NOT EXISTS messages_key ON messages (message_key);
CREATE TABLE IF NOT EXISTS events (
    key      TEXT PRIMARY KEY,
    source   TEXT NOT NULL,          -- inbox, mailchimp, sendgrid, mailgun
    kind     TEXT NOT NULL,
    email    TEXT NOT NULL,          -- lowercased
    campaign TEXT,                   -- the campaign it answers, when known
    detail   TEXT NOT NULL,
    at       TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS events_email ON events (email);
CREATE TABLE IF NOT EXISTS syncs (
    source    TEXT PRIMARY KEY,
    synced_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS held (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    key        TEXT NOT NULL UNIQUE,   -- the event key it would record: held once
    kind       TEXT NOT NULL,          -- an event kind
    email      TEXT NOT NULL,
    campaign   TEXT,
    detail     TEXT NOT NULL,
    reason     TEXT NOT NULL,          -- why it was not applied
    evidence   TEXT NOT NULL,          -- what the message says of itself
    message    BLOB,                   -- the message, zlib-compressed (at most MAX_KEPT)
    status     TEXT NOT NULL DEFAULT 'held' CHECK (status IN ('held', 'applied', 'dismissed')),
    at         TEXT NOT NULL,
    decided_at TEXT
);
CREATE TABLE IF NOT EXISTS refusals (
    key      TEXT PRIMARY KEY,
    campaign TEXT,
    provider TEXT NOT NULL,            -- the receiving mail provider (Gmail, Microsoft…)
    email    TEXT NOT NULL,
    reason   TEXT NOT NULL,            -- spam-like, blocked, policy, authentication…
    detail   TEXT NOT NULL,
    at       TEXT NOT NULL
);
"""
MAX_KEPT = 1_000_000
"""Bytes of a held message kept (compressed): more is not needed to judge it."""


def now() -> str:
    return clock.now().astimezone(UTC).isoformat(timespec="seconds")


@dataclass(frozen=True)
class Held:
    id: int
    key: str
    kind: str
    email: str
    campaign: str | None
    detail: str
    reason: str
    evidence: str
    status: str
    at: str

    def event(self, source: str = "inbox") -> Event:
        """The event applying it records (under the key it was held with)."""
        return Event(self.key, source, self.kind, self.email, self.campaign, self.detail, now())


@dataclass(frozen=True)
class Refusal:
    key: str
    campaign: str | None
    provider: str
    email: str
    reason: str
    detail: str
    at: str


@dataclass(frozen=True)
class Event:
    key: str
    source: str
    kind: str
    email: str
    campaign: str | None
    detail: str
    at: str


class ReturnState:
    """The return path's own tables; every write commits before it returns."""

    def __init__(self, state_dir: Path) -> None:
        path = state_dir / DB_FILE
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self.db = sqlite3.connect(path, timeout=30, isolation_level=None)
            self.db.execute("PRAGMA journal_mode=WAL")
            # NORMAL: a power cut may lose the last few records, which only means reading
            # those messages again (suppression and events are idempotent); FULL would cost
            # a disk flush per message (~20 ms each on a busy disk).
            self.db.execute("PRAGMA synchronous=NORMAL")
            self.db.executescript(SCHEMA)
        except sqlite3.DatabaseError as exc:
            raise ChairsideError(
                f"{path} is damaged ({exc}). It remembers which mail and provider records were "
                "already read; move it away and run again (already suppressed addresses stay "
                "suppressed, but the report loses what it counted)."
            ) from None

    def close(self) -> None:
        self.db.close()

    # -- messages ---------------------------------------------------------------------------
    def processed(self, mailbox: str, uidvalidity: int) -> dict[int, tuple[int, int]]:
        """UID → (acted, after_done) for the messages of this mailbox already processed."""
        rows = self.db.execute(
            "SELECT uid, acted, after_done FROM messages WHERE mailbox = ? AND uidvalidity = ?",
            (mailbox, uidvalidity),
        )
        return {uid: (acted, done) for uid, acted, done in rows}

    def known_message(self, message_key: str) -> bool:
        query = "SELECT 1 FROM messages WHERE message_key = ? LIMIT 1"
        return self.db.execute(query, (message_key,)).fetchone() is not None

    def record_message(
        self, mailbox: str, uidvalidity: int, uid: int, key: str, outcome: str, *, acted: bool
    ) -> None:
        self.db.execute(
            "INSERT OR REPLACE INTO messages VALUES (?, ?, ?, ?, ?, ?, 0, ?)",
            (mailbox, uidvalidity, uid, key, outcome, int(acted), now()),
        )

    def after_done(self, mailbox: str, uidvalidity: int, uid: int) -> None:
        self.db.execute(
            "UPDATE messages SET after_done = 1 WHERE mailbox = ? AND uidvalidity = ? AND uid = ?",
            (mailbox, uidvalidity, uid),
        )

    # -- events -----------------------------------------------------------------------------
    def add_event(self, event: Event) -> bool:
        """Record `event`; False when its key was recorded before (nothing changes)."""
        cursor = self.db.execute(
            "INSERT OR IGNORE INTO events VALUES (?, ?, ?, ?, ?, ?, ?)",
            (
                event.key,
                event.source,
                event.kind,
                event.email.lower(),
                event.campaign,
                event.detail,
                event.at,
            ),
        )
        return cursor.rowcount == 1

    def has_event(self, key: str) -> bool:
        return self.db.execute("SELECT 1 FROM events WHERE key = ?", (key,)).fetchone() is not None

    def events(self, *, campaign: str | None = None, email: str | None = None) -> list[Event]:
        query, args = "SELECT * FROM events WHERE 1", []
        if campaign is not None:
            query, args = query + " AND campaign = ?", [*args, campaign]
        if email is not None:
            query, args = query + " AND email = ?", [*args, email.lower()]
        return [Event(*row) for row in self.db.execute(query + " ORDER BY at, key", args)]

    # -- held for review --------------------------------------------------------------------
    def hold(self, event: Event, *, reason: str, evidence: str, message: bytes | None) -> bool:
        """Keep `event` for a person to decide; False when it was held (or decided) before."""
        blob = zlib.compress(message[:MAX_KEPT]) if message else None
        cursor = self.db.execute(
            "INSERT OR IGNORE INTO held (key, kind, email, campaign, detail, reason, evidence, "
            "message, at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                event.key,
                event.kind,
                event.email.lower(),
                event.campaign,
                event.detail,
                reason,
                evidence,
                blob,
                event.at,
            ),
        )
        return cursor.rowcount == 1

    def held(self, *, status: str | None = "held") -> list[Held]:
        query = (
            "SELECT id, key, kind, email, campaign, detail, reason, evidence, status, at "
            "FROM held" + (" WHERE status = ?" if status else "") + " ORDER BY id"
        )
        return [Held(*row) for row in self.db.execute(query, (status,) if status else ())]

    def held_one(self, held_id: int) -> Held | None:
        row = self.db.execute(
            "SELECT id, key, kind, email, campaign, detail, reason, evidence, status, at "
            "FROM held WHERE id = ?",
            (held_id,),
        ).fetchone()
        return Held(*row) if row else None

    def decide(self, held_id: int, status: str) -> bool:
        """Mark a held item applied or dismissed; False when it was decided already."""
        cursor = self.db.execute(
            "UPDATE held SET status = ?, decided_at = ? WHERE id = ? AND status = 'held'",
            (status, now(), held_id),
        )
        return cursor.rowcount == 1

    # -- refusals of the practice's mail -----------------------------------------------------
    def add_refusal(self, refusal: Refusal) -> bool:
        cursor = self.db.execute(
            "INSERT OR IGNORE INTO refusals VALUES (?, ?, ?, ?, ?, ?, ?)",
            (
                refusal.key,
                refusal.campaign,
                refusal.provider,
                refusal.email.lower(),
                refusal.reason,
                refusal.detail,
                refusal.at,
            ),
        )
        return cursor.rowcount == 1

    def refusals(self, *, campaign: str | None = None) -> list[Refusal]:
        query, args = "SELECT * FROM refusals", ()
        if campaign is not None:
            query, args = query + " WHERE campaign = ?", (campaign,)
        return [Refusal(*row) for row in self.db.execute(query + " ORDER BY at, key", args)]

    # -- syncs ------------------------------------------------------------------------------
    def synced(self, source: str, at: str | None = None) -> None:
        self.db.execute("INSERT OR REPLACE INTO syncs VALUES (?, ?)", (source, at or now()))

    def last_synced(self) -> dict[str, str]:
        return dict(self.db.execute("SELECT source, synced_at FROM syncs"))


def read_last_synced(state_dir: Path) -> dict[str, str]:
    """Source → when it was last read; {} when nothing ever was (no file is created)."""
    path = state_dir / DB_FILE
    if not path.is_file():
        return {}
    try:
        with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as db:
            return dict(db.execute("SELECT source, synced_at FROM syncs"))
    except sqlite3.DatabaseError:
        return {}


def read_refusals(state_dir: Path) -> list[Refusal]:
    """The refusals of the practice's mail recorded so far; [] when none (no file made)."""
    path = state_dir / DB_FILE
    if not path.is_file():
        return []
    try:
        with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as db:
            return [Refusal(*row) for row in db.execute("SELECT * FROM refusals ORDER BY at")]
    except sqlite3.DatabaseError:
        return []  # no table yet, or damaged: the inbox reports that


def latest_sends(state_dir: Path, *, excluding: str | None) -> dict[str, tuple[str, str]]:
    """Route (smtp, mailgun, …) → (campaign, when) of the last message it sent, other
    campaigns than `excluding`; one query, so checking before a send stays instant."""
    path = state_dir / "state.db"
    if not path.is_file() or path.stat().st_size == 0:
        return {}
    try:
        with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as db:
            rows = db.execute(
                "SELECT via, campaign, max(updated_at) FROM deliveries "
                "WHERE status = 'sent' AND campaign IS NOT ? GROUP BY via",
                (excluding,),
            ).fetchall()
    except sqlite3.DatabaseError:
        return {}  # a damaged ledger is reported by the commands that use it
    return {via: (campaign, at) for via, campaign, at in rows}


@dataclass(frozen=True, slots=True)
class Delivery:
    campaign: str
    email: str
    variant: str
    via: str
    status: str
    message_id: str | None
    at: str


class LedgerView:
    """The ledger (`.chairside/state.db`), read only: who was sent which campaign, and when.

    Never creates the file: a missing ledger reads as no deliveries.
    """

    def __init__(self, state_dir: Path) -> None:
        self.deliveries: list[Delivery] = []
        path = state_dir / "state.db"
        if not path.is_file() or path.stat().st_size == 0:
            return
        # Campaign, variant, route, status and each address repeat across rows: one copy
        # of each, rows read one at a time (a million-row ledger then takes ~200 MB).
        names = sys.intern
        try:
            db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
            try:
                rows = db.execute(
                    "SELECT campaign, email, variant, via, status, message_id, updated_at "
                    "FROM deliveries ORDER BY updated_at"
                )
                self.deliveries = [
                    Delivery(names(c), names(e), names(v), names(via), names(st), mid, at)
                    for c, e, v, via, st, mid, at in rows
                ]
            finally:
                db.close()
        except sqlite3.DatabaseError as exc:
            raise ChairsideError(
                f"{path} cannot be read ({exc}); nothing was changed. Do not put an old copy "
                "back: rebuild it from its journal with `chairside rebuild-ledger NAME`."
            ) from None
        self._by_id = {_mid(d.message_id): d for d in self.deliveries if d.message_id}
        self._by_email: dict[str, list[Delivery]] = {}
        for delivery in self.deliveries:
            if delivery.status == "sent":
                self._by_email.setdefault(delivery.email.lower(), []).append(delivery)

    def emails(self) -> set[str]:
        return {d.email for d in self.deliveries}

    def sent_to(self, email: str) -> list[Delivery]:
        """The campaigns sent to `email`, oldest first."""
        return self._by_email.get(email.lower(), []) if self.deliveries else []

    def by_message_id(self, message_id: str | None) -> Delivery | None:
        """The message Chairside sent with this Message-ID (over SMTP), if any."""
        if not message_id or not self.deliveries:
            return None
        return self._by_id.get(_mid(message_id))

    def campaign_for(
        self, email: str, *, at: str | None = None, message_id: str | None = None
    ) -> str | None:
        """The campaign a reply about `email` answers: the one whose message it names, else
        the latest sent to the address before `at`."""
        found = self.by_message_id(message_id)
        if found is not None:
            return found.campaign
        sent = [d for d in self.sent_to(email) if at is None or d.at <= at]
        return sent[-1].campaign if sent else None

    def routes(self) -> set[str]:
        return {d.via for d in self.deliveries if d.status == "sent"}


def _mid(message_id: str) -> str:
    """A Message-ID as compared: without brackets or spaces, lowercased."""
    return message_id.strip().strip("<>").strip().lower()


@contextmanager
def one_at_a_time(state_dir: Path, holder: str) -> Iterator[None]:
    """Only one `inbox` or `sync` at a time: two would rewrite suppressed.csv together and
    one could lose the other's additions. (The ledger's lock, under its own name.)"""
    from chairside.ledger import campaign_lock

    lock = campaign_lock(state_dir, "return-path", holder=holder)
    try:
        lock.__enter__()
    except ChairsideError:
        running = (state_dir / "send-return-path.lock").read_text().strip()
        raise ChairsideError(
            f"{running or 'Another chairside command'} is reading unsubscribes and bounces "
            "right now; wait for it to finish, then run this again."
        ) from None
    try:
        yield
    finally:
        lock.__exit__(None, None, None)
