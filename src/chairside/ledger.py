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

The journal (`.chairside/journal/<campaign>.log`) is append-only: every change to a
campaign's rows is one JSON line, written and fsync'd *before* the change is committed to
state.db, numbered by a counter that state.db keeps too. Replaying the journal gives the
ledger back (`rebuild`); comparing the two (`check`) finds a ledger that was deleted,
replaced by an older copy, or copied without its `-wal` file, before anyone is sent the
campaign twice.

Concurrent SMTP connections share commits (`commit_group`): one journal record and one
transaction carry each connection's last outcome and its next `sending`, so at most one row
per connection is ever `sending`.
"""

from __future__ import annotations

import errno
import os
import sqlite3
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from chairside import clock
from chairside.errors import ChairsideError
from chairside.journal import (
    DEFERRED,
    SENDING,
    SENT,
    DamagedJournal,
    Journal,
    apply,
    group_record,
    replay,
    sending_keys,
    snapshot,
    state_of,
    status_record,
)
from chairside.journal import FAILED as FAILED  # the statuses, for the ledger's users

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
-- counts by status without reading the rows: a running send's progress, polled
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
LOCK_TIMEOUT = 30.0
"""Seconds to wait for another program holding state.db before giving up."""
REBUILD = "chairside rebuild-ledger {campaign}"


class LedgerError(ChairsideError):
    """state.db or its journal cannot be used, or they disagree: nothing more is sent."""


class LedgerUnreadable(LedgerError):
    """state.db is empty or damaged: only a rebuild from the journals can replace it."""


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
                self.db.executescript(SCHEMA)
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

    def close(self) -> None:
        """Checkpoint the WAL into state.db, so the file alone holds everything."""
        with suppress(sqlite3.Error):
            self.db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        self.db.close()

    # Reading

    def statuses(self, campaign: str) -> dict[str, str]:
        """Patient key → status, after checking the ledger against the journal."""
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
        """Status → how many of `campaign`'s rows have it (one indexed query)."""
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

    def _journal_and_apply(self, campaign: str, record: dict) -> None:
        record = {"seq": self._seq(campaign) + 1, "at": _now(), **record}
        journal = Journal(self.state_dir, campaign)
        with _guard(journal.path):
            journal.append(record)
        apply(self.db, campaign, record)

    # The journal against the ledger

    def check(self, campaign: str) -> None:
        """Refuse (LedgerError) when state.db is missing `campaign`'s records, is older than
        its journal, or disagrees with it.

        A last journal record that a crash kept from state.db is applied (it was written
        first); if it was `sending`, its patients are then released, as nothing is handed
        over before that commit returns. A journal behind state.db (deleted, or from before
        journals) is brought level with a snapshot of state.db. All of it happens under the
        write lock, so a change another process is making cannot pass for a crash.
        """
        journal = Journal(self.state_dir, campaign)
        with self._transaction():
            records = _read(journal)
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
            if seq < last:
                raise LedgerError(_behind(self, journal, campaign, records, seq))
            has_rows = self.db.execute(
                "SELECT 1 FROM deliveries WHERE campaign = ? LIMIT 1", (campaign,)
            ).fetchone()
            if seq > last or (not records and has_rows):
                self._journal_and_apply(campaign, {"op": "snapshot", **snapshot(self.db, campaign)})
                return
            if not records:
                return
            theirs = replay(records)
            ours = state_of(self.db, campaign)
            if theirs != ours:
                raise LedgerError(_disagree(self, journal, campaign, theirs, ours))

    def rebuild(self, campaign: str) -> dict[str, int]:
        """Replace `campaign`'s rows and steps with what its journal says; counts by status."""
        records = _read(Journal(self.state_dir, campaign))
        if not records:
            raise LedgerError(
                f"There is no journal for {campaign} in {self.state_dir / 'journal'}: nothing "
                "to rebuild the ledger from."
            )
        with self._transaction():
            for table in ("deliveries", "steps", "journal_seq"):
                self.db.execute(f"DELETE FROM {table} WHERE campaign = ?", (campaign,))
            for record in records:
                apply(self.db, campaign, record)
        with _guard(self.path):
            query = "SELECT status, count(*) FROM deliveries WHERE campaign = ? GROUP BY status"
            return dict(self.db.execute(query, (campaign,)))


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
            return journal.read()
        except DamagedJournal as exc:
            raise LedgerError(str(exc)) from None


def _counts(statuses: dict[str, str]) -> str:
    sent = sum(1 for s in statuses.values() if s == SENT)
    doubt = sum(1 for s in statuses.values() if s == SENDING)
    return f"{sent} sent, {doubt} in doubt"


_WHY_STOP = (
    "Sending now could give patients the campaign a second time, so Chairside stops. The "
    "journal is written before every message is handed over, so it is the better record: "
    "rebuild the ledger from it with `{rebuild}`, then run the same command again."
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


_COUNTS = "SELECT status, count(*) FROM deliveries WHERE campaign = ? GROUP BY status"


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

    def commit(self, changes: list[dict]) -> None:
        if not changes:
            return
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
                    return
                if not self._busy:
                    left = self._opened + self.gather - time.monotonic()
                    if self._arrived >= self.members or left <= 0:
                        break
                    self._cond.wait(left)
                    continue
                self._cond.wait()
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
