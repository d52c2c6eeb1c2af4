"""The ledger's journal, the campaign's *sent log*: one JSON line per change to a
campaign's rows, append-only, kept in the campaign's own folder
(`campaigns/<name>/sent-log.jsonl`) so that every copy of the practice folder carries it,
even one that skips hidden folders (where the ledger, `.chairside/state.db`, lives).

A record is the change itself (`apply` turns it into SQL), so the ledger applies the very
record it has just journalled, and a rebuild replays the same records through the same
code. `replay` reads what the records say without SQLite, for the check before each send.
See `chairside.ledger` for the order of writes, `chairside.witness` for how an older copy
of the folder is told from the latest."""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
from pathlib import Path

SENDING, SENT, FAILED, DEFERRED = "sending", "sent", "failed", "deferred"
LOG_NAME = "sent-log.jsonl"
"""The sent log's name in the campaign folder: plain, so that a person keeps it."""


class DamagedJournal(ValueError):
    """A journal line that is not a record (other than a last line cut short), or two
    journals of one campaign that disagree."""


def journal_path(state_dir: Path, campaign: str) -> Path:
    """Where `campaign`'s sent log is: in its folder, beside campaign.toml. `state_dir` is
    the practice's `.chairside` folder, so the practice folder is its parent."""
    return state_dir.parent / "campaigns" / campaign / LOG_NAME


def encode(record: dict) -> bytes:
    return (json.dumps(record, ensure_ascii=False, separators=(",", ":")) + "\n").encode("utf-8")


def record_hash(record: dict) -> str:
    """A fingerprint of one record (of its line, as `append` wrote it): two copies of a sent
    log that have the same record at the same number share their history up to there."""
    return line_hash(encode(record))


def line_hash(line: bytes) -> str:
    """`record_hash` of the record whose line (`encode`) is `line`."""
    return hashlib.sha256(line).hexdigest()[:32]


class Journal:
    """`campaigns/<campaign>/sent-log.jsonl`: the append-only record of a campaign's changes.

    Reading and writing raise OSError as they come (the ledger names the file for the user).
    """

    def __init__(self, state_dir: Path, campaign: str) -> None:
        self.campaign = campaign
        self.path = journal_path(state_dir, campaign)
        self.old_path = state_dir / "journal" / f"{campaign}.log"
        """Where Chairside kept it before it moved into the campaign folder."""

    def migrate(self) -> bool:
        """Move a journal kept in `.chairside/journal/` into the campaign folder (whole,
        fsync'd, then the old file removed); True if it moved. Two that disagree raise
        DamagedJournal: neither is thrown away."""
        if not self.old_path.is_file():
            return False
        old = self.old_path.read_bytes()
        if self.path.is_file():
            if not self.path.read_bytes().startswith(old[: old.rfind(b"\n") + 1]):
                raise DamagedJournal(
                    f"{self.path} and {self.old_path} are two different records of who was "
                    f"sent {self.campaign}; Chairside stops rather than guess. Ask for help "
                    "(keep both files)."
                )
            self.old_path.unlink()
            return False
        self.path.parent.mkdir(parents=True, exist_ok=True)
        moving = self.path.with_name(f".{LOG_NAME}.moving")
        with moving.open("wb") as handle:
            handle.write(old)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(moving, self.path)
        _fsync_dir(self.path.parent)
        self.old_path.unlink()
        return True

    def others(self) -> list[Path]:
        """Other copies of the sent log in the campaign folder, as sync tools make them
        ("sent-log (conflicted copy).jsonl", "sent-log.sync-conflict-….jsonl",
        "sent-log-LAPTOP.jsonl", "sent-log (1).jsonl")."""
        folder = self.path.parent
        if not folder.is_dir():
            return []
        stem = LOG_NAME.split(".")[0]
        return sorted(p for p in folder.iterdir() if p.name.startswith(stem) and p.name != LOG_NAME)

    def read(self) -> list[dict]:
        """Every complete record; a last line cut short by a crash was never applied, and
        is cut off so the next record starts on a line of its own."""
        return self.read_file(self.path, repair=True)

    def read_file(self, path: Path, *, repair: bool = False) -> list[dict]:
        """The records of `path` (this sent log, or another copy of it)."""
        if not path.is_file():
            return []
        data = path.read_bytes()
        complete = data[: data.rfind(b"\n") + 1]
        if len(complete) != len(data) and repair:
            with path.open("r+b") as handle:
                handle.truncate(len(complete))
        lines = complete.decode("utf-8", "replace").splitlines()
        try:  # one parse for the whole file: several times faster than one per line
            records = json.loads("[" + ",".join(lines) + "]")
        except ValueError:
            records = None
        if isinstance(records, list) and all(isinstance(r, dict) for r in records):
            return records
        for number, line in enumerate(lines, 1):
            try:
                if not isinstance(json.loads(line), dict):
                    raise ValueError(line)
            except ValueError:
                raise DamagedJournal(
                    f"{path}, line {number}: damaged. This journal is the second record "
                    "of who was sent what; Chairside stops rather than guess. Ask for help."
                ) from None
        raise AssertionError("unreachable: the whole file failed to parse")

    def append(self, record: dict) -> bytes:
        """Write one record and fsync it: it must outlive a power cut before state.db moves.
        Four system calls when the file is there: it is in every commit. Returns its line."""
        line = encode(record)
        created = False
        try:
            fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | _BINARY)
        except FileNotFoundError:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | _BINARY, 0o666)
            created = True
        try:
            written = 0
            while written < len(line):
                written += os.write(fd, line[written:])
            os.fsync(fd)
        finally:
            os.close(fd)
        if created:  # its name in the folder must outlive a power cut too
            _fsync_dir(self.path.parent)
        return line


_BINARY = getattr(os, "O_BINARY", 0)


def _fsync_dir(folder: Path) -> None:
    if os.name == "nt":  # pragma: no cover - Windows cannot open a folder to fsync it
        return
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def status_record(status: str, **fields) -> dict:
    """A record that sets these patients' status: `rows` ([key, email, variant]) creates
    their rows (always for SENDING; also a refusal before anything was sent), `keys` updates
    existing ones; `failed`, key → reason, marks some of a batch failed in the same record."""
    return {"op": "status", "status": status, **{k: v for k, v in fields.items() if v is not None}}


def group_record(changes: list[dict]) -> dict:
    """Several changes (records without `seq` and `at`) journalled and committed as one:
    how concurrent SMTP connections share one fsync and one commit."""
    return changes[0] if len(changes) == 1 else {"op": "group", "changes": changes}


def sending_keys(record: dict) -> list[str]:
    """The patients a record marks `sending` (also inside a group)."""
    if record["op"] == "group":
        return [key for change in record["changes"] for key in sending_keys(change)]
    if record["op"] == "status" and record["status"] == SENDING:
        return [row[0] for row in record["rows"]]
    return []


def apply(db: sqlite3.Connection, campaign: str, record: dict) -> None:
    """Apply one journal record to `db` (inside the caller's transaction). The same code
    runs live, when rolling a crash forward, and when rebuilding, so they cannot differ.

    A group whose changes each name patients of their own (the connections' outcomes and
    next `sending`s) runs each statement once for all of them: in any order they leave the
    same rows, and the commit that every connection waits for is shorter."""
    changes = record["changes"] if record["op"] == "group" else [record]
    at = record["at"]
    statements = [
        statement for change in changes for statement in _statements(campaign, change, at)
    ]
    if len(changes) > 1 and _apart(changes):
        merged: dict[str, list[tuple]] = {}
        for sql, params in statements:
            merged.setdefault(sql, []).extend(params)
        statements = list(merged.items())
    for sql, params in statements:
        if params:
            db.executemany(sql, params)
    db.execute(
        "INSERT INTO journal_seq (campaign, seq) VALUES (?, ?) "
        "ON CONFLICT (campaign) DO UPDATE SET seq = excluded.seq",
        (campaign, record["seq"]),
    )


def _apart(changes: list[dict]) -> bool:
    """Each change is a status or a release of patients that no other change names."""
    keys: list[str] = []
    for change in changes:
        if change["op"] == "status":
            keys += [row[0] for row in change.get("rows", ())]
            keys += change.get("keys", ())
            keys += change.get("failed", {})
        elif change["op"] == "release":
            keys += change["keys"]
        else:
            return False
    return len(keys) == len(set(keys))


_UPSERT = (
    "INSERT INTO deliveries (campaign, patient, email, variant, via, status, "
    "message_id, reply, attempts, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, 1, ?) "
    "ON CONFLICT (campaign, patient) DO UPDATE SET status = excluded.status, "
    "variant = excluded.variant, via = excluded.via, message_id = excluded.message_id, "
    "reply = coalesce(excluded.reply, reply), attempts = attempts + 1, "
    "updated_at = excluded.updated_at WHERE status != 'sent'"
)
_UPDATE = (
    "UPDATE deliveries SET status = ?, reply = ?, message_id = coalesce(?, message_id), "
    "updated_at = ? WHERE campaign = ? AND patient = ?"
)
_FAIL = (  # a provider's batch: accepted, but these few refused
    "UPDATE deliveries SET status = 'failed', reply = ?, updated_at = ? "
    "WHERE campaign = ? AND patient = ?"
)
_RELEASE = "DELETE FROM deliveries WHERE campaign = ? AND patient = ? AND status != 'sent'"
_STEP = "INSERT OR REPLACE INTO steps (campaign, provider, step, value) VALUES (?, ?, ?, ?)"
_RESTORE = (
    "INSERT INTO deliveries (campaign, patient, email, variant, via, status, "
    "message_id, reply, attempts, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)


def _statements(campaign: str, record: dict, at: str) -> list[tuple[str, list[tuple]]]:
    """What applying one change runs: (statement, the parameters of each run), in order."""
    op = record["op"]
    if op == "status" and "rows" in record:
        status, via = record["status"], record["via"]
        message_id, reply = record.get("message_id"), record.get("reply")
        rows = [
            (campaign, key, email, variant, via, status, message_id, reply, at)
            for key, email, variant in record["rows"]
        ]
        return [(_UPSERT, rows)]
    if op == "status":
        status, reply, message_id = record["status"], record.get("reply"), record.get("message_id")
        failed = record.get("failed", {}).items()
        return [
            (_UPDATE, [(status, reply, message_id, at, campaign, k) for k in record["keys"]]),
            (_FAIL, [(reason, at, campaign, key) for key, reason in failed]),
        ]
    if op == "release":
        return [(_RELEASE, [(campaign, key) for key in record["keys"]])]
    if op == "step":
        return [(_STEP, [(campaign, record["provider"], record["step"], record["value"])])]
    if op == "snapshot":
        return [
            ("DELETE FROM deliveries WHERE campaign = ?", [(campaign,)]),
            ("DELETE FROM steps WHERE campaign = ?", [(campaign,)]),
            (_RESTORE, [(campaign, *row) for row in record["rows"]]),
            (
                "INSERT INTO steps (campaign, provider, step, value) VALUES (?, ?, ?, ?)",
                [(campaign, *step) for step in record["steps"]],
            ),
        ]
    return []


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


def replay(records: list[dict]) -> tuple[dict[str, str], set]:
    """What the records say, as `state_of` reads it from a ledger: each patient's status
    and the provider steps. Plain Python, ~20x faster than applying them to SQLite, so the
    check before every send stays quick on a long list; every test that sends compares the
    two, as each send starts with a check."""
    statuses: dict[str, str] = {}
    steps: dict[tuple[str, str], str] = {}
    for record in _flat(records):
        op = record["op"]
        if op == "status" and "rows" in record:
            for key, _email, _variant in record["rows"]:
                if statuses.get(key) != SENT:
                    statuses[key] = record["status"]
        elif op == "status":
            for key in record["keys"]:
                if key in statuses:
                    statuses[key] = record["status"]
            for key in record.get("failed", {}):
                if key in statuses:
                    statuses[key] = FAILED
        elif op == "release":
            for key in record["keys"]:
                if statuses.get(key) != SENT:
                    statuses.pop(key, None)
        elif op == "step":
            steps[record["provider"], record["step"]] = record["value"]
        elif op == "snapshot":
            statuses = {row[0]: row[4] for row in record["rows"]}
            steps = {(provider, step): value for provider, step, value in record["steps"]}
    return statuses, {(provider, step, value) for (provider, step), value in steps.items()}


def _flat(records: list[dict]):
    for record in records:
        if record["op"] == "group":
            yield from record["changes"]
        else:
            yield record


def state_of(db: sqlite3.Connection, campaign: str) -> tuple[dict[str, str], set]:
    """What must agree: each patient's status, and the provider steps."""
    rows = db.execute("SELECT patient, status FROM deliveries WHERE campaign = ?", (campaign,))
    steps = db.execute("SELECT provider, step, value FROM steps WHERE campaign = ?", (campaign,))
    return dict(rows), set(steps)
