"""The ledger's journal: one JSON line per change to a campaign's rows, append-only.

A record is the change itself (`apply` turns it into SQL), so the ledger applies the very
record it has just journalled, and a rebuild or a check replays the same records through the
same code: the two cannot drift apart. See `chairside.ledger` for the order of writes.
"""

from __future__ import annotations

import json
import os
import sqlite3
from pathlib import Path

SENDING, SENT, FAILED, DEFERRED = "sending", "sent", "failed", "deferred"


class DamagedJournal(ValueError):
    """A journal line that is not a record (other than a last line cut short)."""


class Journal:
    """`.chairside/journal/<campaign>.log`: the append-only record of a campaign's changes.

    Reading and writing raise OSError as they come (the ledger names the file for the user).
    """

    def __init__(self, state_dir: Path, campaign: str) -> None:
        self.path = state_dir / "journal" / f"{campaign}.log"

    def read(self) -> list[dict]:
        """Every complete record; a last line cut short by a crash was never applied, and
        is cut off so the next record starts on a line of its own."""
        if not self.path.is_file():
            return []
        data = self.path.read_bytes()
        complete = data[: data.rfind(b"\n") + 1]
        if len(complete) != len(data):
            with self.path.open("r+b") as handle:
                handle.truncate(len(complete))
        records = []
        for number, line in enumerate(complete.decode("utf-8", "replace").splitlines(), 1):
            try:
                records.append(json.loads(line))
            except ValueError:
                raise DamagedJournal(
                    f"{self.path}, line {number}: damaged. This journal is the second record "
                    "of who was sent what; Chairside stops rather than guess. Ask for help."
                ) from None
        return records

    def append(self, record: dict) -> None:
        """Write one record and fsync it: it must outlive a power cut before state.db moves."""
        line = json.dumps(record, ensure_ascii=False, separators=(",", ":")) + "\n"
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.path.open("ab") as handle:
            handle.write(line.encode("utf-8"))
            handle.flush()
            os.fsync(handle.fileno())


def status_record(status: str, **fields) -> dict:
    """A record that sets these patients' status (`rows` for SENDING, else `keys`; `failed`,
    key → reason, marks some of a batch failed in the same record)."""
    return {"op": "status", "status": status, **{k: v for k, v in fields.items() if v is not None}}


def apply(db: sqlite3.Connection, campaign: str, record: dict) -> None:
    """Apply one journal record to `db` (inside the caller's transaction). The same code
    runs live, when rolling a crash forward, and when rebuilding, so they cannot differ."""
    op, at = record["op"], record["at"]
    if op == "status" and record["status"] == SENDING:
        db.executemany(
            "INSERT INTO deliveries (campaign, patient, email, variant, via, status, "
            "message_id, attempts, updated_at) VALUES (?, ?, ?, ?, ?, 'sending', ?, 1, ?) "
            "ON CONFLICT (campaign, patient) DO UPDATE SET status = 'sending', "
            "variant = excluded.variant, via = excluded.via, message_id = excluded.message_id, "
            "attempts = attempts + 1, updated_at = excluded.updated_at WHERE status != 'sent'",
            [
                (campaign, key, email, variant, record["via"], record.get("message_id"), at)
                for key, email, variant in record["rows"]
            ],
        )
    elif op == "status":
        db.executemany(
            "UPDATE deliveries SET status = ?, reply = ?, message_id = coalesce(?, message_id), "
            "updated_at = ? WHERE campaign = ? AND patient = ?",
            [
                (record["status"], record.get("reply"), record.get("message_id"), at, campaign, k)
                for k in record["keys"]
            ],
        )
        db.executemany(  # a provider's batch: accepted, but these few refused
            "UPDATE deliveries SET status = 'failed', reply = ?, updated_at = ? "
            "WHERE campaign = ? AND patient = ?",
            [(reason, at, campaign, key) for key, reason in record.get("failed", {}).items()],
        )
    elif op == "release":
        db.executemany(
            "DELETE FROM deliveries WHERE campaign = ? AND patient = ? AND status != 'sent'",
            [(campaign, key) for key in record["keys"]],
        )
    elif op == "step":
        db.execute(
            "INSERT OR REPLACE INTO steps (campaign, provider, step, value) VALUES (?, ?, ?, ?)",
            (campaign, record["provider"], record["step"], record["value"]),
        )
    elif op == "snapshot":
        db.execute("DELETE FROM deliveries WHERE campaign = ?", (campaign,))
        db.execute("DELETE FROM steps WHERE campaign = ?", (campaign,))
        db.executemany(
            "INSERT INTO deliveries (campaign, patient, email, variant, via, status, "
            "message_id, reply, attempts, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [(campaign, *row) for row in record["rows"]],
        )
        db.executemany(
            "INSERT INTO steps (campaign, provider, step, value) VALUES (?, ?, ?, ?)",
            [(campaign, *step) for step in record["steps"]],
        )
    db.execute(
        "INSERT INTO journal_seq (campaign, seq) VALUES (?, ?) "
        "ON CONFLICT (campaign) DO UPDATE SET seq = excluded.seq",
        (campaign, record["seq"]),
    )


def snapshot(db: sqlite3.Connection, campaign: str) -> dict:
    """A record body that holds a campaign's whole state, to start a journal again."""
    rows = db.execute(
        "SELECT patient, email, variant, via, status, message_id, reply, attempts, updated_at "
        "FROM deliveries WHERE campaign = ? ORDER BY patient",
        (campaign,),
    ).fetchall()
    steps = db.execute(
        "SELECT provider, step, value FROM steps WHERE campaign = ? ORDER BY provider, step",
        (campaign,),
    ).fetchall()
    return {"rows": [list(r) for r in rows], "steps": [list(s) for s in steps]}


def replay(campaign: str, records: list[dict], schema: str) -> sqlite3.Connection:
    """The records applied to an empty in-memory ledger made with `schema`."""
    db = sqlite3.connect(":memory:", isolation_level=None)
    db.executescript(schema)
    for record in records:
        apply(db, campaign, record)
    return db


def state_of(db: sqlite3.Connection, campaign: str) -> tuple[dict[str, str], set]:
    """What must agree: each patient's status, and the provider steps."""
    rows = db.execute("SELECT patient, status FROM deliveries WHERE campaign = ?", (campaign,))
    steps = db.execute("SELECT provider, step, value FROM steps WHERE campaign = ?", (campaign,))
    return dict(rows), set(steps)
