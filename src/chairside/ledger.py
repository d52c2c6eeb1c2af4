"""The ledger: who has been sent which campaign, kept in `.chairside/state.db` (SQLite),
with a journal beside it so that its loss can never pass for "nothing sent yet".

One row per (campaign, patient), enforced by the primary key, so a patient can never be
recorded twice. The order of writes is what makes a crash safe:

    sending   committed *before* the message can be handed over: over SMTP once the server
              has accepted its envelope (354) and before its final "." leaves; before the
              request, for a provider
    sent      committed after the server accepted the message (with its reply)
    failed    the server refused this mailbox for good (5.1.1 unknown, 5.2.1 disabled…)
    deferred  not delivered for now (4xx after every retry, a mailbox the server cannot
              take today): tried again next run

A row left in `sending` means the process stopped mid-transaction: the message may or may
not have been delivered. It is reported as unknown and resent only when asked. A row that
is released (deleted) is pending again: nothing was transmitted.

The journal, the campaign's sent log (`campaigns/<campaign>/sent-log.jsonl`, see
`chairside.journal`), is append-only: every change to a campaign's rows is one JSON line,
written and fsync'd *before* the change is committed to state.db, numbered by a counter
that state.db keeps too. Replaying the journal gives the ledger back (`rebuild`); comparing
the two (`check`) finds a ledger that was deleted, replaced by an older copy, or copied
without its `-wal` file, before anyone is sent the campaign twice.

The sent log sits in the campaign's folder, so it travels with every copy of the practice
folder, even one that skips hidden folders (`.chairside/`). Before a delivery, `trust`
also compares it with this computer's witness (`chairside.witness`): a copy of the folder
older than what this computer sent, one with another history, or one from elsewhere (no
witness) that has already sent, is refused (`CopyDoubt`) until a person confirms it is the
latest copy. Once trusted, a ledger that lacks what the sent log says is rebuilt from it.

Concurrent SMTP connections share commits (`commit_group`): one journal record and one
transaction carry each connection's last outcome and its next `sending`, so at most one row
per connection is ever `sending`.

A campaign's rows are also counted by status (`status_counts`), by triggers in the
transaction of every change, so that a running send's progress, polled, reads four numbers
rather than every row. They are only shown; `check` leaves them equal to the rows.
"""

from __future__ import annotations

import errno
import os
import sqlite3
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from chairside import clock
from chairside.errors import ChairsideError
from chairside.journal import (
    DEFERRED,
    LOG_NAME,
    SENDING,
    SENT,
    DamagedJournal,
    Journal,
    apply,
    group_record,
    line_hash,
    record_hash,
    replay,
    sending_keys,
    snapshot,
    state_of,
    status_record,
)
from chairside.journal import FAILED as FAILED  # the statuses, for the ledger's users
from chairside.tokens import KEY_FILE, practice_id
from chairside.witness import Seen, Witness

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
-- a campaign's rows of one status: a provider's batch in flight, the counts' check
CREATE INDEX IF NOT EXISTS deliveries_by_status ON deliveries (campaign, status);
CREATE TABLE IF NOT EXISTS steps (        -- provider objects made once per campaign
    campaign   TEXT NOT NULL,
    provider   TEXT NOT NULL,
    step       TEXT NOT NULL,           -- e.g. "campaign 2026-12-a"
    value      TEXT NOT NULL,           -- what the provider answered (e.g. its id)
    PRIMARY KEY (campaign, provider, step)
);
CREATE TABLE IF NOT EXISTS journal_seq (  -- the last journal line applied, per campaign
    campaign   TEXT PRIMARY KEY,
    seq        INTEGER NOT NULL
);
"""
COUNTS = (
    # deliveries counted by status, so a send's progress is read without reading its rows
    "CREATE TABLE status_counts (campaign TEXT NOT NULL, status TEXT NOT NULL, "
    "n INTEGER NOT NULL, PRIMARY KEY (campaign, status))",
    # kept in step by triggers, in the transaction of every change to a row, whoever
    # writes it; a REPLACE deletes through the DELETE trigger only with recursive_triggers
    """CREATE TRIGGER deliveries_counted_in AFTER INSERT ON deliveries BEGIN
        INSERT INTO status_counts (campaign, status, n) VALUES (new.campaign, new.status, 1)
        ON CONFLICT (campaign, status) DO UPDATE SET n = n + 1;
    END""",
    """CREATE TRIGGER deliveries_counted_out AFTER DELETE ON deliveries BEGIN
        UPDATE status_counts SET n = n - 1 WHERE campaign = old.campaign AND status = old.status;
        DELETE FROM status_counts WHERE campaign = old.campaign AND status = old.status AND n = 0;
    END""",
    """CREATE TRIGGER deliveries_counted_moved AFTER UPDATE OF campaign, status ON deliveries
    WHEN old.status != new.status OR old.campaign != new.campaign BEGIN
        UPDATE status_counts SET n = n - 1 WHERE campaign = old.campaign AND status = old.status;
        DELETE FROM status_counts WHERE campaign = old.campaign AND status = old.status AND n = 0;
        INSERT INTO status_counts (campaign, status, n) VALUES (new.campaign, new.status, 1)
        ON CONFLICT (campaign, status) DO UPDATE SET n = n + 1;
    END""",
    "INSERT INTO status_counts (campaign, status, n) "
    "SELECT campaign, status, count(*) FROM deliveries GROUP BY campaign, status",
)
"""What `Ledger` adds to a state.db without the counts by status (made before them, or
new), in one transaction with the rows they count."""
LOCK_TIMEOUT = 30.0
"""Seconds to wait for another program holding state.db before giving up."""
REBUILD = "chairside rebuild-ledger {campaign}"


class LedgerError(ChairsideError):
    """state.db or its journal cannot be used, or they disagree: nothing more is sent."""


class LedgerUnreadable(LedgerError):
    """state.db is empty or damaged: only a rebuild from the journals can replace it."""


CONTINUE = "--continue-from-copy"


class CopyDoubt(LedgerError):
    """This copy of the practice folder may not be the latest one (see `Ledger.trust`):
    nothing is sent until a person confirms it is (`send --continue-from-copy`, or the
    studio's confirmation box). `kind` says why: "new-computer" (this computer never sent
    the campaign, and the folder says it was sent), "older" (the sent log ends before what
    this computer wrote), "other-history" (its sent log is not the one this computer
    wrote), "log-missing" (the ledger has rows, the campaign folder no sent log)."""

    def __init__(self, message: str, *, kind: str, campaign: str, said: dict[str, int], plain: str):
        super().__init__(message)
        self.kind = kind
        self.campaign = campaign
        self.said = said
        """What the sent log in this folder says, by status (sent, sending…)."""
        self.plain = plain
        """The same for the studio: no file, option or command; it ends by saying what
        confirming does (the page offers it as a box to tick)."""


def _now() -> str:
    return clock.now().astimezone(UTC).isoformat(timespec="seconds")


@dataclass(frozen=True)
class Row:
    patient: str
    email: str
    variant: str
    status: str
    reply: str | None
    attempts: int


def storage_error(path: Path, exc: BaseException) -> LedgerError:
    """A disk, permission or lock problem with `path`, in words for the office."""
    text = str(exc)
    code = getattr(exc, "errno", None)
    if "locked" in text or "busy" in text:
        why = (
            f"{path} is locked by another program (another chairside command, a backup or "
            f"sync tool?) and stayed locked for more than {LOCK_TIMEOUT:g} s. Close it"
        )
    elif code == errno.ENOSPC or "full" in text:
        why = f"The disk holding {path} is full. Free some space"
    elif code in (errno.EEXIST, errno.ENOTDIR):
        why = (
            f"Chairside cannot use {path}: something in its way is a file where Chairside "
            "keeps a folder. Move it away"
        )
    elif code in (errno.EROFS, errno.EACCES, errno.EPERM) or "readonly" in text:
        why = f"Chairside cannot write {path} (read-only). Make the practice folder writable"
    else:
        why = f"Chairside cannot use {path} ({exc}). Fix that"
    return LedgerError(
        f"{why}, then run the same command again: what was recorded as sent is not sent "
        "again, and anything in flight is reported."
    )


@contextmanager
def _guard(path: Path) -> Iterator[None]:
    """Turn a storage failure while using `path` into a LedgerError (exit 1, no traceback)."""
    try:
        yield
    except (sqlite3.OperationalError, OSError) as exc:
        raise storage_error(path, exc) from None


class Ledger:
    """The deliveries table; every method commits before it returns, every change to a
    campaign is journalled first (see the module docstring)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.state_dir = path.parent
        self.notes: list[str] = []
        """What `trust` repaired on its own, in words for the summary."""
        self._journals: dict[str, Journal] = {}
        self._witness: Witness | None = None
        self._trusted: set[str] = set()
        self._last: dict[str, dict] = {}
        with _guard(path):
            path.parent.mkdir(parents=True, exist_ok=True)
            emptied = path.exists() and path.stat().st_size == 0
        if emptied:
            # Chairside writes its tables the moment it creates the file, so an empty file
            # was emptied by something else (a sync conflict, a failed copy). Reading it as
            # "nothing sent yet" would send everyone the campaign again.
            raise LedgerUnreadable(
                f"{path} is empty, but Chairside never leaves it so: it records who has been "
                "sent what, and nothing was sent. If a journal of the campaign exists in "
                f"{self.state_dir / 'journal'}, rebuild the ledger from it with "
                f"`{REBUILD.format(campaign='NAME')}`."
            )
        with _guard(path):
            # Used from each SMTP connection's thread; `_transaction` and the callers'
            # group commit keep it to one thread at a time.
            self.db = sqlite3.connect(
                path, timeout=LOCK_TIMEOUT, isolation_level=None, check_same_thread=False
            )
        try:
            with _guard(path):
                self.db.execute("PRAGMA journal_mode=WAL")
                # FULL: a committed "sending" must survive a power cut, not only a crash.
                self.db.execute("PRAGMA synchronous=FULL")
                # A row replaced by a conflict then leaves the counts through their trigger.
                self.db.execute("PRAGMA recursive_triggers=ON")
                self.db.executescript(SCHEMA)
                self._add_counts()
        except sqlite3.DatabaseError as exc:
            self.db.close()
            raise LedgerUnreadable(
                f"{path} is damaged ({exc}). It records who has been sent what, so Chairside "
                "stops rather than risk sending twice. If a journal of the campaign exists in "
                f"{self.state_dir / 'journal'}, rebuild the ledger from it with "
                f"`{REBUILD.format(campaign='NAME')}`."
            ) from None
        except LedgerError:
            self.db.close()
            raise

    def _add_counts(self) -> None:
        """Add the counts by status (`COUNTS`) if state.db lacks them: once, under the
        write lock, so no change to the rows falls between the count and its triggers."""
        query = "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'status_counts'"
        if self.db.execute(query).fetchone():
            return
        with self._transaction():
            if not self.db.execute(query).fetchone():  # another process may have been first
                for statement in COUNTS:
                    self.db.execute(statement)

    def close(self) -> None:
        """Checkpoint the WAL into state.db, so the file alone holds everything; make the
        witness durable."""
        with suppress(sqlite3.Error):
            self.db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        self.db.close()
        if self._witness is not None:
            with suppress(OSError):
                self._witness.close()

    # Reading

    def statuses(self, campaign: str) -> dict[str, str]:
        """Patient key → status, after checking the ledger against the journal (unless
        `trust` checked it already: then this process is the one changing it)."""
        if campaign not in self._trusted:
            self.check(campaign)
        query = "SELECT patient, status FROM deliveries WHERE campaign = ?"
        with _guard(self.path):
            return dict(self.db.execute(query, (campaign,)))

    def rows(self, campaign: str) -> list[Row]:
        query = (
            "SELECT patient, email, variant, status, reply, attempts FROM deliveries "
            "WHERE campaign = ? ORDER BY updated_at, patient"
        )
        with _guard(self.path):
            return [Row(*row) for row in self.db.execute(query, (campaign,))]

    def counts(self, campaign: str) -> dict[str, int]:
        """Status → how many of `campaign`'s rows have it (kept counts, not the rows)."""
        with _guard(self.path):
            return dict(self.db.execute(_COUNTS, (campaign,)))

    def routes(self, campaign: str) -> set[str]:
        """How `campaign`'s rows were handed over: "smtp" and/or provider names (empty if
        none). A provider among them means the campaign was pushed."""
        query = "SELECT DISTINCT via FROM deliveries WHERE campaign = ?"
        with _guard(self.path):
            return {via for (via,) in self.db.execute(query, (campaign,))}

    def emails(self) -> set[str]:
        """Every address any campaign was sent (or tried) to."""
        with _guard(self.path):
            query = "SELECT DISTINCT email FROM deliveries"
            return {email for (email,) in self.db.execute(query)}

    def step(self, campaign: str, provider: str, step: str) -> str | None:
        with _guard(self.path):
            row = self.db.execute(
                "SELECT value FROM steps WHERE campaign = ? AND provider = ? AND step = ?",
                (campaign, provider, step),
            ).fetchone()
        return row[0] if row else None

    def steps_like(self, campaign: str, provider: str, prefix: str) -> list[str]:
        query = "SELECT value FROM steps WHERE campaign = ? AND provider = ? AND step LIKE ?"
        with _guard(self.path):
            return [v for (v,) in self.db.execute(query, (campaign, provider, prefix + " %"))]

    # Changing: each is one journal record, then one transaction

    def mark_sending(self, campaign: str, patient: str, email: str, variant: str) -> None:
        """`patient` is about to be handed over (over SMTP)."""
        self._change(campaign, status_record(SENDING, rows=[[patient, email, variant]], via="smtp"))

    def mark_batch_sending(
        self, campaign: str, via: str, batch: str, members: list[tuple[str, str, str]]
    ) -> None:
        """Record (patient key, email, variant) as `sending` in one transaction, before the
        request that hands them to a provider; `batch` is kept as their message id."""
        record = status_record(SENDING, rows=[list(m) for m in members], via=via, message_id=batch)
        self._change(campaign, record)

    def finish(
        self, campaign: str, patient: str, status: str, *, reply: str, message_id: str | None = None
    ) -> None:
        self._change(
            campaign, status_record(status, keys=[patient], reply=reply, message_id=message_id)
        )

    def finish_batch(
        self, campaign: str, batch: str, *, reply: str, failed: dict[str, str] | None = None
    ) -> None:
        """The provider accepted the batch: `sent`, except `failed` (patient key → reason)."""
        failed = failed or {}
        keys = [k for k in self._in_batch(campaign, batch) if k not in failed]
        record = status_record(SENT, keys=keys, reply=reply, failed=failed or None)
        self._change(campaign, record)  # one record, one transaction: all or nothing

    def abandon_batch(self, campaign: str, batch: str, *, reply: str) -> None:
        """The request certainly failed: the batch goes back to be tried again (deferred)."""
        keys = self._in_batch(campaign, batch)
        self._change(campaign, status_record(DEFERRED, keys=keys, reply=reply))

    def commit_group(self, campaign: str, changes: list[dict]) -> None:
        """Several changes (`status_record`s, releases) as one journal record and one
        transaction: all or nothing, one fsync of each file for all of them."""
        if changes:
            self._change(campaign, group_record(changes))

    def release(self, campaign: str, patients: list[str]) -> None:
        """Nothing was transmitted to these patients: forget their rows (pending again)."""
        if patients:
            self._change(campaign, {"op": "release", "keys": patients})

    def record_step(self, campaign: str, provider: str, step: str, value: str) -> None:
        record = {"op": "step", "provider": provider, "step": step, "value": value}
        self._change(campaign, record)

    def _in_batch(self, campaign: str, batch: str) -> list[str]:
        query = (
            "SELECT patient FROM deliveries WHERE campaign = ? AND message_id = ? "
            "AND status = 'sending'"
        )
        with _guard(self.path):
            return [key for (key,) in self.db.execute(query, (campaign, batch))]

    def _seq(self, campaign: str) -> int:
        row = self.db.execute(
            "SELECT seq FROM journal_seq WHERE campaign = ?", (campaign,)
        ).fetchone()
        return row[0] if row else 0

    def _change(self, campaign: str, record: dict) -> None:
        """Journal `record` (fsync'd), then apply it and its number in one transaction."""
        with self._transaction():
            self._journal_and_apply(campaign, record)

    @contextmanager
    def _transaction(self) -> Iterator[None]:
        """A write transaction: while it is open no other process can be half-way through a
        change (they journal and commit under the same lock)."""
        with _guard(self.path):
            self.db.execute("BEGIN IMMEDIATE")
            try:
                yield
                self.db.execute("COMMIT")
            except BaseException:
                with suppress(sqlite3.Error):
                    self.db.execute("ROLLBACK")
                raise

    def _journal(self, campaign: str) -> Journal:
        """The campaign's sent log, moved forward from `.chairside/journal/` first (called
        inside a transaction, so two processes never move it at once)."""
        journal = self._journals.get(campaign)
        if journal is None:
            journal = Journal(self.state_dir, campaign)
            with _guard(journal.path):
                try:
                    journal.migrate()
                except DamagedJournal as exc:
                    raise LedgerError(str(exc)) from None
            self._journals[campaign] = journal
        return journal

    def _journal_and_apply(self, campaign: str, record: dict) -> None:
        self._practice()
        record = {"seq": self._seq(campaign) + 1, "at": _now(), "campaign": campaign, **record}
        journal = self._journal(campaign)
        with _guard(journal.path):
            line = journal.append(record)
        self._last[campaign] = record
        if campaign in self._trusted:
            self._witnessed(campaign, record, line_hash(line))
        apply(self.db, campaign, record)

    def _witnessed(
        self, campaign: str, record: dict, fingerprint: str | None = None, *, durable: bool = False
    ) -> None:
        """This computer's witness follows `record` (`fingerprint`: its `record_hash`, when
        the caller has it already)."""
        assert self._witness is not None
        fingerprint = fingerprint or record_hash(record)
        seen = Seen(record["seq"], fingerprint, record["at"], str(self.state_dir.parent))
        with _guard(self._witness.path(campaign)):
            self._witness.put(campaign, seen, durable=durable)

    # Before a delivery: is this copy of the practice folder the latest?

    def trust(self, campaign: str, *, confirmed: bool = False) -> list[str]:
        """Refuse (CopyDoubt) unless this copy of the practice folder can be sent from, then
        `check` it, rebuilding a ledger that lacks what the sent log says; returns what was
        repaired, in words. From here on this computer's witness follows the sent log.

        `confirmed`: a person said this folder is the latest copy (a new computer, a
        restored backup whose newer copy is lost): the witness is set to this sent log, and
        a missing sent log is started again from the ledger.
        """
        self.notes = []
        with self._transaction():
            journal, records, doubt = self._doubt(campaign)
            if doubt is not None and not confirmed:
                raise doubt
            self._last.pop(campaign, None)
            self._check(campaign, journal, records, repair=True, confirmed=confirmed)
            self._recount(campaign)
            last = self._last.get(campaign) or (records[-1] if records else None)
            self._trusted.add(campaign)
            if last is not None:
                self._witnessed(campaign, last, durable=True)
        return self.notes

    def doubt(self, campaign: str) -> CopyDoubt | None:
        """What `trust` would ask a person to confirm, or None; changes nothing. Problems
        no confirmation settles (a sync tool's second sent log, a sent log of another
        campaign, damage) raise LedgerError."""
        with self._transaction():
            return self._doubt(campaign)[2]

    def _practice(self) -> Witness:
        """This computer's witness for the practice; its key file is made first if the
        practice has none (a sent log never exists without the key its codes need)."""
        if self._witness is None:
            root = self.state_dir.parent
            with _guard(root / KEY_FILE):
                self._witness = Witness(practice_id(root))
        return self._witness

    def _doubt(self, campaign: str) -> tuple[Journal, list[dict], CopyDoubt | None]:
        witness = self._practice()
        journal = self._journal(campaign)
        with _guard(journal.path):
            others = journal.others()
        if others:
            raise LedgerError(_conflicted(journal, others))
        records = _read(journal)
        with _guard(witness.path(campaign)):
            seen = witness.get(campaign)
        return journal, records, _doubt(self, journal, records, seen, self._has_rows(campaign))

    def _has_rows(self, campaign: str) -> bool:
        query = "SELECT 1 FROM deliveries WHERE campaign = ? LIMIT 1"
        with _guard(self.path):
            return self.db.execute(query, (campaign,)).fetchone() is not None

    # The journal against the ledger

    def check(self, campaign: str) -> None:
        """Refuse (LedgerError) when state.db is missing `campaign`'s records, is older than
        its sent log, disagrees with it, or has rows the sent log lacks (the log was
        deleted, or the campaign folder replaced by an older copy).

        A last journal record that a crash kept from state.db is applied (it was written
        first); if it was `sending`, its patients are then released, as nothing is handed
        over before that commit returns. All of it happens under the write lock, so a
        change another process is making cannot pass for a crash. The counts by status are
        left equal to the rows (`_recount`).
        """
        with self._transaction():
            journal = self._journal(campaign)
            self._check(campaign, journal, _read(journal), repair=False, confirmed=False)
            self._recount(campaign)

    def _check(
        self,
        campaign: str,
        journal: Journal,
        records: list[dict],
        *,
        repair: bool,
        confirmed: bool,
    ) -> None:
        """`check`, inside the caller's transaction. `repair`: a ledger behind the sent log
        whose rows are all the sent log says up to there (nothing of its own, so nothing
        lost) is rebuilt from it. `confirmed`: a ledger ahead of its sent log starts the
        log again from a snapshot of itself."""
        seq = self._seq(campaign)
        last = records[-1]["seq"] if records else 0
        orphans = _orphans(records, seq)
        for orphan in orphans:
            apply(self.db, campaign, orphan)
            seq = orphan["seq"]
        keys = sending_keys(orphans[-1]) if orphans else []
        if keys:
            self._journal_and_apply(campaign, {"op": "release", "keys": keys})
            records = _read(journal)
            last = seq = records[-1]["seq"]
        if seq < last:
            if not (repair and self._is_prefix(campaign, records, seq)):
                raise LedgerError(_behind(self, journal, campaign, records, seq))
            self._replace(campaign, records)
            counts = _counts(replay(records)[0])
            what = "no record" if seq == 0 else "an older record"
            self.notes.append(
                f"The ledger ({self.path}) had {what} of {campaign}; it was rebuilt from the "
                f"campaign's sent log ({journal.path}: {counts})."
            )
            return
        has_rows = self._has_rows(campaign)
        if seq > last or (not records and has_rows):
            if not confirmed:
                raise LedgerError(_log_behind(self, journal, campaign, bool(records)))
            self._journal_and_apply(campaign, {"op": "snapshot", **snapshot(self.db, campaign)})
            self.notes.append(
                f"Started the sent log of {campaign} ({journal.path}) again from the ledger."
            )
            return
        if not records:
            return
        theirs = replay(records)
        ours = state_of(self.db, campaign)
        if theirs != ours:
            raise LedgerError(_disagree(self, journal, campaign, theirs, ours))

    def _recount(self, campaign: str) -> None:
        """Make `campaign`'s counts by status those of its rows where they differ (inside
        the caller's transaction). The triggers keep them in step, so only a state.db
        changed around them differs (a REPLACE without recursive_triggers, say); the counts
        are only shown, the rows decide who is sent what."""
        rows = dict(self.db.execute(_COUNT_ROWS, (campaign,)))
        if rows != dict(self.db.execute(_COUNTS, (campaign,))):
            self.db.execute("DELETE FROM status_counts WHERE campaign = ?", (campaign,))
            self.db.executemany(
                "INSERT INTO status_counts (campaign, status, n) VALUES (?, ?, ?)",
                [(campaign, status, n) for status, n in rows.items()],
            )

    def _is_prefix(self, campaign: str, records: list[dict], seq: int) -> bool:
        """Whether the ledger holds exactly what the first `seq` records say."""
        return replay([r for r in records if r["seq"] <= seq]) == state_of(self.db, campaign)

    def _replace(self, campaign: str, records: list[dict]) -> None:
        """Replace `campaign`'s rows and steps with what `records` say (in a transaction)."""
        for table in ("deliveries", "steps", "journal_seq"):
            self.db.execute(f"DELETE FROM {table} WHERE campaign = ?", (campaign,))
        for record in records:
            apply(self.db, campaign, record)

    def rebuild(self, campaign: str) -> dict[str, int]:
        """Replace `campaign`'s rows and steps with what its journal says; counts by status.
        Refused when the ledger has changes the sent log lacks (rebuilding would lose them)."""
        with self._transaction():
            journal = self._journal(campaign)
            records = _read(journal)
            if not records:
                raise LedgerError(
                    f"There is no sent log of {campaign} ({journal.path}), so no journal to "
                    "rebuild the ledger from."
                )
            if self._seq(campaign) > records[-1]["seq"]:
                raise LedgerError(_log_behind(self, journal, campaign, True))
            self._replace(campaign, records)
            self._recount(campaign)
        return self.counts(campaign)


def _orphans(records: list[dict], seq: int) -> list[dict]:
    """The journal records a crash kept from state.db: the last one (one change is one
    record, one transaction), or the last two when a crash hit the release that follows
    an orphaned `sending`. Anything more means state.db is older: none."""
    trailing = [r for r in records[-2:] if r["seq"] > seq]
    if not trailing or trailing[0]["seq"] != seq + 1:
        return []
    if len(trailing) == 1:
        return trailing
    first, second = trailing
    keys = sending_keys(first)
    if keys and second["op"] == "release":
        return trailing if second["keys"] == keys else []
    return []


def _read(journal: Journal) -> list[dict]:
    with _guard(journal.path):
        try:
            records = journal.read()
        except DamagedJournal as exc:
            raise LedgerError(str(exc)) from None
    other = records[-1].get("campaign", journal.campaign) if records else journal.campaign
    if other != journal.campaign:
        raise LedgerError(
            f"{journal.path} is the sent log of {other}, not of {journal.campaign}: it came "
            f"with a copy of {other}'s folder. It says nothing about {journal.campaign}; if "
            f"{journal.campaign} was never sent, delete this copy of it, then run the same "
            "command again."
        )
    return records


def _when(at: str) -> str:
    """An ISO time from a record, as people write it, in this computer's time zone."""
    try:
        moment = datetime.fromisoformat(at).astimezone()
    except ValueError:
        return at
    return f"{moment.day} {moment:%B %Y} at {moment:%H:%M}"


def _doubt(
    ledger: Ledger, journal: Journal, records: list[dict], seen: Seen | None, has_rows: bool
) -> CopyDoubt | None:
    """Why this copy of the practice folder may not be the latest (see `Ledger.trust`)."""
    campaign = journal.campaign
    said, _steps = replay(records)
    counts = {s: sum(1 for v in said.values() if v == s) for s in set(said.values())}
    told = _counts(said)
    how = (
        f"If this folder is the latest copy of the practice, run the same command with "
        f"{CONTINUE} to continue from it"
    )
    if seen is None:
        if not (records or has_rows):
            return None  # never started, anywhere this folder knows of
        where = (
            f"the sent log in this folder ({journal.path}) says {told}, last on "
            f"{_when(records[-1]['at'])}"
            if records
            else f"the ledger ({ledger.path}) has a record of it but the campaign folder has "
            f"no sent log ({journal.path})"
        )
        return CopyDoubt(
            f"This computer has not sent {campaign} of this practice before, but {where}: it "
            "was sent from another computer or another copy of the practice folder. "
            f"{how}: patients it lists as sent are not sent it again. If a newer copy of the "
            "folder exists elsewhere (the computer it was sent from), use that one instead.",
            kind="new-computer" if records else "log-missing",
            campaign=campaign,
            said=counts,
            plain=(
                f"This computer has not sent this campaign before, but this copy of the "
                f"practice folder says it was sent ({told}): from another computer, or from "
                "another copy of the folder. If a newer copy exists there, open that one "
                "instead. If this is the latest copy, confirm it to continue: nobody it "
                "lists as sent gets the campaign again."
                if records
                else "This campaign was sent, but this copy of the practice folder has lost "
                "its record of who was sent it. Put back the practice folder it was sent "
                "from (or a backup of it). Only if that record is lost for good, confirm to "
                "start it again from what Chairside noted here."
            ),
        )
    sent_here = f"this computer sent {campaign} until {_when(seen.at)} (from {seen.folder})"
    if not records:
        return CopyDoubt(
            f"The sent log of {campaign} ({journal.path}) is missing, but {sent_here}. It is "
            "the record of who was sent the campaign: put it back (from the folder this copy "
            "came from, or a backup) and run the same command again. Only if it is lost for "
            f"good: {CONTINUE} starts it again from what the ledger ({ledger.path}) records; "
            "patients it lacks may get the campaign twice.",
            kind="log-missing",
            campaign=campaign,
            said=counts,
            plain=f"This copy of the practice folder has lost its record of who was sent "
            f"this campaign, which this computer sent until {_when(seen.at)}. Put back the "
            "practice folder you sent it from (or a backup of it). Only if that record is "
            "lost for good, confirm to start it again from what Chairside noted here; "
            "patients it lacks may get the campaign twice.",
        )
    if records[-1]["seq"] < seen.seq:
        return CopyDoubt(
            f"This copy of the practice folder is older than what this computer sent: its "
            f"sent log of {campaign} ({journal.path}) ends on {_when(records[-1]['at'])} "
            f"({told}), but {sent_here}. Sending from it would give the patients sent since "
            "then the campaign a second time. Use the newer copy of the folder (and its "
            f"{LOG_NAME}). Only if it is lost for good: run the same command with {CONTINUE}; "
            f"the patients sent after {_when(records[-1]['at'])} may get it twice.",
            kind="older",
            campaign=campaign,
            said=counts,
            plain=f"This copy of the practice folder is older than what this computer sent: "
            f"its record of this campaign stops on {_when(records[-1]['at'])}, but this "
            f"computer went on sending it until {_when(seen.at)}. Open the newer copy "
            "instead. Only if it is lost for good, confirm to continue from this one: the "
            f"patients sent after {_when(records[-1]['at'])} may get the campaign twice.",
        )
    mine = next((r for r in reversed(records) if r["seq"] == seen.seq), None)
    if mine is None or record_hash(mine) != seen.hash:
        return CopyDoubt(
            f"The sent log of {campaign} in this folder ({journal.path}, {told}) is not the "
            f"one this computer wrote: {sent_here}, and this one tells another story from "
            "then on. Another computer has probably sent it from another copy of the "
            "folder, so some patients may already have it twice. Check which copy is the "
            f"latest; {how.lower()[3:]} (this computer then follows it).",
            kind="other-history",
            campaign=campaign,
            said=counts,
            plain="This copy of the practice folder has a different record of who was sent "
            "this campaign than the one this computer wrote: it has probably been sent from "
            "another computer too, so some patients may already have it twice. Check which "
            "copy of the folder is the latest; confirm only if it is this one.",
        )
    return None


def _conflicted(journal: Journal, others: list[Path]) -> str:
    """A sync tool's copies of the sent log beside it: what each holds, and what to do."""
    records = _read(journal)
    mine = [record_hash(r) for r in records]
    advice = []
    for other in others:
        try:
            theirs = [record_hash(r) for r in journal.read_file(other)]
        except (DamagedJournal, OSError):
            theirs = None
        if theirs is not None and mine[: len(theirs)] == theirs:
            advice.append(f"{other.name} holds nothing the sent log lacks: delete it")
        elif theirs is not None and theirs[: len(mine)] == mine:
            advice.append(
                f"{other.name} is newer than {LOG_NAME}: replace {LOG_NAME} with it (rename "
                f"it to {LOG_NAME})"
            )
        else:
            advice.append(
                f"{other.name} tells another story than {LOG_NAME} (the campaign was sent from "
                "two copies of the folder): keep both files and ask for help"
            )
    return (
        f"{journal.path.parent} holds more than one sent log of {journal.campaign}, as a "
        "sync tool leaves them when two computers changed the file; Chairside stops rather "
        f"than guess who was sent it. {'; '.join(advice)}; then run the same command again."
    )


def _log_behind(ledger: Ledger, journal: Journal, campaign: str, some: bool) -> str:
    what = "is older than the ledger" if some else "is missing"
    return (
        f"The sent log of {campaign} ({journal.path}) {what} ({ledger.path} records more): "
        "the campaign folder was replaced by an older copy, or the file deleted. Put the "
        "latest sent log back and run the same command again. Only if it is lost for good: "
        f"`chairside send {campaign} {CONTINUE}` starts it again from the ledger."
    )


def _counts(statuses: dict[str, str]) -> str:
    sent = sum(1 for s in statuses.values() if s == SENT)
    doubt = sum(1 for s in statuses.values() if s == SENDING)
    return f"{sent} sent, {doubt} in doubt"


_WHY_STOP = (
    "Sending now could give patients the campaign a second time, so Chairside stops. The "
    "journal (the campaign's sent log) is written before every message is handed over, so "
    "it is the better record: rebuild the ledger from it with `{rebuild}`, then run the "
    "same command again."
)


def _behind(ledger: Ledger, journal: Journal, campaign: str, records: list[dict], seq: int) -> str:
    said, _steps = replay(records)
    if seq == 0:
        what = f"{ledger.path} has no record of {campaign} (it was deleted or replaced)"
    else:
        what = (
            f"{ledger.path} is older than its journal: it holds {seq} of the {records[-1]['seq']} "
            f"changes to {campaign} (it was replaced by an older copy, or copied without its "
            "state.db-wal file)"
        )
    return f"{what}, but the journal {journal.path} says {_counts(said)}. " + _WHY_STOP.format(
        rebuild=REBUILD.format(campaign=campaign)
    )


def _disagree(ledger: Ledger, journal: Journal, campaign: str, theirs: tuple, ours: tuple) -> str:
    from chairside.audience.addresses import mask

    said, held = theirs[0], ours[0]
    differ = sorted(k for k in said.keys() | held.keys() if said.get(k) != held.get(k))
    example = ""
    if differ:
        key = differ[0]
        example = (
            f" (e.g. {mask(key)}: the ledger says {held.get(key, 'not sent')}, the journal "
            f"says {said.get(key, 'not sent')})"
        )
    return (
        f"{ledger.path} and its journal {journal.path} disagree about {len(differ)} patients "
        f"of {campaign}{example}. " + _WHY_STOP.format(rebuild=REBUILD.format(campaign=campaign))
    )


def copy_doubt(state_dir: Path, campaign: str) -> CopyDoubt | None:
    """For a face that asks before it sends (the studio's Send, Resume and Push): why this
    copy of the practice folder may not be the latest, or None. Show `.plain` with a box
    to tick; ticked, pass `continue_from_copy=True` to `send_campaign` or `push`."""
    with open_ledger(state_dir) as ledger:
        return ledger.doubt(campaign)


def rebuild_ledger(state_dir: Path, campaign: str) -> tuple[dict[str, int], Path | None]:
    """Rebuild `campaign`'s part of the ledger from its journal: (counts by status, where an
    unreadable state.db was moved aside, or None). Nothing is ever deleted."""
    path = state_dir / "state.db"
    moved = None
    try:
        ledger = Ledger(path)
    except LedgerUnreadable:
        moved = path.with_name(f"state.db.unusable-{datetime.now(UTC):%Y%m%dT%H%M%S}")
        with _guard(path):
            for suffix in ("", "-wal", "-shm"):
                old = path.with_name(path.name + suffix)
                if old.exists():
                    os.replace(old, moved.with_name(moved.name + suffix))
        ledger = Ledger(path)
    try:
        return ledger.rebuild(campaign), moved
    finally:
        ledger.close()


_COUNTS = "SELECT status, n FROM status_counts WHERE campaign = ?"
_COUNT_ROWS = "SELECT status, count(*) FROM deliveries WHERE campaign = ? GROUP BY status"


def peek_counts(state_dir: Path, campaign: str) -> dict[str, int]:
    """`Ledger.counts` read-only, without the journal check, the schema or a checkpoint:
    what a page polled while a send runs (in another process, too) can afford. Not for
    deciding who to send to: only `statuses`, after `check`, is."""
    path = state_dir / "state.db"
    if not path.exists():
        return {}
    with _guard(path):
        db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=LOCK_TIMEOUT)
        try:
            return dict(db.execute(_COUNTS, (campaign,)))
        except sqlite3.OperationalError as exc:
            if "no such table" not in str(exc):
                raise
            # made before the counts, and no ledger has opened it since to add them
            return dict(db.execute(_COUNT_ROWS, (campaign,)))
        finally:
            db.close()


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
    path = state_dir / f"send-{campaign}.lock"
    with _guard(path):
        state_dir.mkdir(parents=True, exist_ok=True)
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


class GroupCommit:
    """Commits shared by threads: each `commit` waits until its changes are durable. A
    thread that finds no commit running leads: it waits up to `gather` seconds for the
    other `members` to add theirs (they run in step, so they come within microseconds),
    then commits everything waiting as one group. After a failure every call raises the
    same LedgerError: a journal record may be on disk that state.db lacks, so nothing more
    may be written in this run (the next run's check rolls it forward)."""

    def __init__(self, ledger: Ledger, campaign: str, *, members: int = 1, gather: float = 0.002):
        self.ledger = ledger
        self.campaign = campaign
        self.members = members
        self.gather = gather
        self._cond = threading.Condition()
        self._waiting: list[dict] = []
        self._arrived = 0  # threads with changes in the group now collecting
        self._opened = 0.0  # when its first change came
        self._collecting = 0  # the number of the group now taking changes
        self._done = 0  # groups committed
        self._busy = False
        self.error: LedgerError | None = None
        self.commits = 0

    def leave(self) -> None:
        """A member has stopped: no group waits for it any more."""
        with self._cond:
            self.members -= 1
            self._cond.notify_all()

    def commit(self, changes: list[dict], meanwhile: Callable[[], None] | None = None) -> None:
        """Wait until `changes` are durable. `meanwhile`: this thread's work while its group
        gathers and commits (the next message's DKIM signature: RSA, done outside the
        interpreter lock, costs nothing while the thread would wait anyway). Done before
        waiting; by the thread that leads the commit, after it, so no group waits for it."""
        if changes:
            meanwhile = self._commit(changes, meanwhile)
        if meanwhile is not None:
            meanwhile()

    def _commit(
        self, changes: list[dict], meanwhile: Callable[[], None] | None
    ) -> Callable[[], None] | None:
        """`commit`; returns `meanwhile` if it is still to be done."""
        with self._cond:
            if not self._waiting:
                self._opened = time.monotonic()
            self._waiting.extend(changes)
            self._arrived += 1
            mine = self._collecting
            while True:
                if self.error is not None:
                    raise self.error
                if self._done > mine:
                    return meanwhile
                left = None
                if not self._busy:
                    left = self._opened + self.gather - time.monotonic()
                    if self._arrived >= self.members or left <= 0:
                        break
                if meanwhile is not None:  # about to wait: the work first, outside the lock
                    self._cond.release()
                    try:
                        meanwhile()
                    finally:
                        self._cond.acquire()
                    meanwhile = None
                    continue
                self._cond.wait(left)
            taken, self._waiting, self._arrived = self._waiting, [], 0
            self._collecting += 1
            self._busy = True
        try:
            self.ledger.commit_group(self.campaign, taken)
        except LedgerError as exc:
            with self._cond:
                self.error = exc
                self._busy = False
                self._cond.notify_all()
            raise
        with self._cond:
            self.commits += 1
            self._done = mine + 1
            self._busy = False
            self._cond.notify_all()
        return meanwhile
